"""Multi-head attention with PyTorch's parameters (``in_proj_weight``, ``in_proj_bias``, ``out_proj``), masks and
layouts (sequence-first by default, ``batch_first=True`` for (N, L, E)).

For each head, ``softmax(q k^T / sqrt(head_dim) + mask) v``, all heads at once as batched matmuls; the heads'
outputs are concatenated and projected by ``out_proj``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..ops.elementwise import astype, where
from ..ops.linalg import matmul
from ..ops.reduce import mean, softmax
from ..ops.shape import as_array, concatenate, expand_dims, pad, reshape, squeeze, swapaxes, tile
from ..tensor import Tensor
from . import functional as F
from . import init
from ._helpers import check_device, expect_size, float_dtype, layer_name, place
from .linear import Linear
from .module import Module, Parameter

__all__ = ["MultiheadAttention"]


def _additive(mask: Any, dtype: Any) -> Any:
    """A boolean mask (True = do not attend) as 0 / -inf, by a recorded ``where`` (a mask passed to a compiled
    step is traced); a float mask is added as it is."""
    mask = as_array(mask)
    if mask.dtype == np.bool_:
        return astype(where(mask, -np.inf, 0.0), dtype)
    if not np.issubdtype(mask.dtype, np.floating):
        raise TypeError(f"attention masks must be boolean or floating point, got dtype {mask.dtype}")
    return mask if isinstance(mask, Tensor) else mask.astype(dtype, copy=False)


class MultiheadAttention(Module):
    """Multi-head attention, ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False) -> (output, weights or None)``.

    Shapes: query (L, N, E), key (S, N, kdim), value (S, N, vdim), or (N, L, E) ... with ``batch_first``, or
    unbatched (L, E). Masks: ``key_padding_mask`` (N, S), ``attn_mask`` (L, S) or (N * num_heads, L, S); a
    boolean True means "do not attend", a float mask is added to the scores. ``is_causal`` without an
    ``attn_mask`` masks the future (position i attends to j <= i). The weights returned are averaged over the
    heads unless ``average_attn_weights=False``.

    >>> import chainrule as cr
    >>> mha = cr.nn.MultiheadAttention(8, 2, batch_first=True)
    >>> [name for name in mha.state_dict()]
    ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
    >>> x = cr.randn(3, 5, 8, dtype="float32")
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        dt = float_dtype(dtype)
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dtype=dt))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dtype=dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * embed_dim, dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dt)
        self.bias_k: Parameter | None
        self.bias_v: Parameter | None
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), dtype=dt))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), dtype=dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()
        place(self, device)

    def _reset_parameters(self) -> None:
        """PyTorch's default: xavier_uniform projections, zero biases, xavier_normal ``bias_k``/``bias_v``."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None and self.bias_v is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _project(self, query: Any, key: Any, value: Any) -> tuple[Any, Any, Any]:
        e = self.embed_dim
        b = self.in_proj_bias
        b_q, b_k, b_v = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            if query is key and key is value:  # self-attention: one matmul for all three projections
                qkv = F.linear(query, w, b)
                return qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
            w_q, w_k, w_v = w[:e], w[e:2 * e], w[2 * e:]
        else:
            w_q, w_k, w_v = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Any, Any]:
        who = layer_name(self)
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"{who}: query, key and value must all be 2-D (unbatched) or 3-D, got shapes "
                             f"{query.shape}, {key.shape}, {value.shape}")
        expect_size(who, "query", query.shape, -1, self.embed_dim, "last dimension (embed_dim)")
        expect_size(who, "key", key.shape, -1, self.kdim, "last dimension (kdim)")
        expect_size(who, "value", value.shape, -1, self.vdim, "last dimension (vdim)")
        if key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"{who}: key shape {key.shape} does not match value shape {value.shape} (they must "
                             "differ in the last dimension only)")
        batch_axis = 0 if self.batch_first else 1
        if batched and query.shape[batch_axis] != key.shape[batch_axis]:
            raise ValueError(f"{who}: query and key have different batch sizes ({query.shape[batch_axis]} and "
                             f"{key.shape[batch_axis]}, dimension {batch_axis} with batch_first={self.batch_first}); "
                             f"got query shape {query.shape}, key shape {key.shape}")
        same = query is key and key is value
        if not batched:  # everything below works on (N, L, E)
            query, key, value = (expand_dims(t, 0) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = expand_dims(key_padding_mask, 0)
        elif not self.batch_first:
            query, key, value = (swapaxes(t, 0, 1) for t in (query, key, value))
        if same:
            key = value = query
        n, tgt_len, e = query.shape
        heads, d = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)

        masks = []
        if attn_mask is None and is_causal:
            attn_mask = np.triu(np.ones((tgt_len, key.shape[1]), dtype=bool), 1)
        if attn_mask is not None:
            mask = _additive(attn_mask, q.dtype)
            src_len = key.shape[1]
            if tuple(mask.shape) not in ((tgt_len, src_len), (n * heads, tgt_len, src_len)):
                raise ValueError(f"{who}: attn_mask must have shape (L, S) = {(tgt_len, src_len)} or "
                                 f"(N * num_heads, L, S) = {(n * heads, tgt_len, src_len)}, got {mask.shape}")
            if mask.ndim == 3:
                mask = reshape(mask, (n, heads, *mask.shape[1:]))
            masks.append(mask)
        if key_padding_mask is not None:
            kpm = _additive(key_padding_mask, q.dtype)
            if tuple(kpm.shape) != (n, key.shape[1]):
                raise ValueError(f"{who}: key_padding_mask must have shape (N, S) = {(n, key.shape[1])}, got "
                                 f"{kpm.shape}")
            masks.append(reshape(kpm, (n, 1, 1, kpm.shape[-1])))
        if self.bias_k is not None:  # one more key and value, the learned biases, for every sample
            k = concatenate([k, tile(self.bias_k, (n, 1, 1))], axis=1)
            v = concatenate([v, tile(self.bias_v, (n, 1, 1))], axis=1)
            masks = [pad(m, [(0, 0)] * (m.ndim - 1) + [(0, 1)]) for m in masks]

        q = swapaxes(reshape(q, (n, tgt_len, heads, d)), 1, 2)          # (N, h, L, d)
        k = swapaxes(reshape(k, (n, k.shape[1], heads, d)), 1, 2)       # (N, h, S, d)
        v = swapaxes(reshape(v, (n, v.shape[1], heads, d)), 1, 2)
        if self.add_zero_attn:  # one more all-zero key and value
            k = pad(k, [(0, 0), (0, 0), (0, 1), (0, 0)])
            v = pad(v, [(0, 0), (0, 0), (0, 1), (0, 0)])
            masks = [pad(m, [(0, 0)] * (m.ndim - 1) + [(0, 1)]) for m in masks]

        scores = matmul(q * math.sqrt(1.0 / d), swapaxes(k, -1, -2))  # (N, h, L, S)
        for mask in masks:
            scores = scores + mask
        weights = softmax(scores, axis=-1)
        if self.dropout > 0.0 and self.training:
            weights = F.dropout(weights, self.dropout, True)
        out = reshape(swapaxes(matmul(weights, v), 1, 2), (n, tgt_len, e))
        out = self.out_proj(out)
        if not batched:
            out = squeeze(out, 0)
        elif not self.batch_first:
            out = swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = mean(weights, axis=1)
        return out, (weights if batched else squeeze(weights, 0))
