"""The Transformer of "Attention Is All You Need" with PyTorch's modules, arguments and state-dict names:
TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder, TransformerDecoder and Transformer.

A layer is attention and a feed-forward block ``linear2(dropout(activation(linear1(x))))``, each wrapped in a
residual connection with a LayerNorm: after the residual sum by default (post-norm, ``norm1(x + block(x))``), or
before the block with ``norm_first=True`` (pre-norm, ``x + block(norm1(x))``). Attention is ``MultiheadAttention``
(so masks mean what they mean there: a boolean True, or a float -inf, blocks a pair); ``is_causal`` without a mask
masks the future, and with a mask the mask is what counts (PyTorch takes the flag as a hint about the mask).
Encoders and decoders stack deep copies of one layer under ``layers.{i}``, as PyTorch's ``_get_clones``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from ..creation import tensor
from . import functional as F
from . import init
from .attention import MultiheadAttention
from .linear import Dropout, Linear
from .module import Module, ModuleList
from .norm import LayerNorm

__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]


def _activation(activation: str | Callable[[Any], Any]) -> Callable[[Any], Any]:
    """PyTorch's legacy strings "relu" and "gelu" as functions; any callable (a module too) as it is."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise ValueError(f"activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


class _Layer(Module):
    """What both layers share: the feed-forward block, the norms and dropouts, and the attention blocks."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float, activation: Any,
                 layer_norm_eps: float, batch_first: bool, norm_first: bool, bias: bool, device: Any, dtype: Any,
                 attentions: tuple[str, ...]) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        for name in attentions:
            setattr(self, name, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                   batch_first=batch_first, **factory))
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        blocks = len(attentions) + 1
        for i in range(1, blocks + 1):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        for i in range(1, blocks + 1):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)

    def _attend(self, attention: Any, x: Any, memory: Any, mask: Any, key_padding_mask: Any, is_causal: bool,
                dropout: Any) -> Any:
        out = attention(x, memory, memory, attn_mask=mask, key_padding_mask=key_padding_mask, need_weights=False,
                        is_causal=bool(is_causal))[0]
        return dropout(out)

    def _ff_block(self, x: Any) -> Any:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))

    def _residual(self, x: Any, norm: Any, block: Callable[[Any], Any]) -> Any:
        """Pre-norm ``x + block(norm(x))`` or post-norm ``norm(x + block(x))``."""
        return x + block(norm(x)) if self.norm_first else norm(x + block(x))


class TransformerEncoderLayer(_Layer):
    """Self-attention then a feed-forward block, each with a residual connection and a LayerNorm;
    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``.

    Shapes: src (S, N, d_model), (N, S, d_model) with ``batch_first``, or unbatched (S, d_model); ``src_mask`` (S, S)
    or (N * nhead, S, S); ``src_key_padding_mask`` (N, S).

    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    >>> list(layer.state_dict())[:4]
    ['self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight', 'self_attn.out_proj.bias']
    >>> layer(cr.zeros(2, 5, 8, dtype="float32"), is_causal=True).shape
    (2, 5, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Any], Any] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                         norm_first, bias, device, dtype, ("self_attn",))

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Any:
        x = self._residual(src, self.norm1, lambda v: self._attend(self.self_attn, v, v, src_mask,
                                                                   src_key_padding_mask, is_causal, self.dropout1))
        return self._residual(x, self.norm2, lambda v: self.dropout2(self._ff_block(v)))


class TransformerDecoderLayer(_Layer):
    """Self-attention, attention over the encoder's output (``memory``), then a feed-forward block, each with a
    residual connection and a LayerNorm; ``forward(tgt, memory, tgt_mask=None, memory_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``.

    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    >>> [name for name, _ in layer.named_children()][:3]
    ['self_attn', 'multihead_attn', 'linear1']
    >>> layer(cr.zeros(4, 2, 8, dtype="float32"), cr.zeros(6, 2, 8, dtype="float32")).shape
    (4, 2, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Any], Any] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first,
                         norm_first, bias, device, dtype, ("self_attn", "multihead_attn"))

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Any:
        x = self._residual(tgt, self.norm1, lambda v: self._attend(self.self_attn, v, v, tgt_mask,
                                                                   tgt_key_padding_mask, tgt_is_causal,
                                                                   self.dropout1))
        x = self._residual(x, self.norm2, lambda v: self._attend(self.multihead_attn, v, memory, memory_mask,
                                                                 memory_key_padding_mask, memory_is_causal,
                                                                 self.dropout2))
        return self._residual(x, self.norm3, lambda v: self.dropout3(self._ff_block(v)))


def _clones(layer: Module, num_layers: int) -> ModuleList:
    if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) or num_layers < 0:
        raise ValueError(f"num_layers must be a non-negative int, got {num_layers!r}")
    return ModuleList([copy.deepcopy(layer) for _ in range(int(num_layers))])


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then ``norm`` if given;
    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``. (``enable_nested_tensor`` and
    ``mask_check`` concern PyTorch's inference fast path; they are accepted and have no effect.)

    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerEncoderLayer(4, 1, dim_feedforward=8)
    >>> encoder = cr.nn.TransformerEncoder(layer, num_layers=2)
    >>> list(encoder.state_dict())[-2:]
    ['layers.1.norm2.weight', 'layers.1.norm2.bias']
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Any, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Any:
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        return output if self.norm is None else self.norm(output)


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` applied in turn (each attending to ``memory``), then ``norm`` if
    given; ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``.

    >>> import chainrule as cr
    >>> decoder = cr.nn.TransformerDecoder(cr.nn.TransformerDecoderLayer(4, 2, dim_feedforward=8), num_layers=3)
    >>> len(decoder.layers)
    3
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Any:
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=bool(tgt_is_causal),
                           memory_is_causal=memory_is_causal)
        return output if self.norm is None else self.norm(output)


class Transformer(Module):
    """An encoder-decoder Transformer: ``num_encoder_layers`` encoder layers and ``num_decoder_layers`` decoder
    layers, each stack followed by a LayerNorm; every parameter of two or more dimensions starts xavier_uniform.
    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)`` gives (T, N, d_model) (batch first: (N, T, d_model)).

    >>> import chainrule as cr
    >>> model = cr.nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
    ...                           dim_feedforward=16, dropout=0.0)
    >>> mask = cr.nn.Transformer.generate_square_subsequent_mask(3)
    >>> model(cr.zeros(5, 2, 8, dtype="float32"), cr.zeros(3, 2, 8, dtype="float32"), tgt_mask=mask).shape
    (3, 2, 8)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: str | Callable[[Any], Any] = "relu",
                 custom_encoder: Any = None, custom_decoder: Any = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        options = (dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, *options, **factory),
                                              num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, *options, **factory),
                                              num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        """PyTorch's default: xavier_uniform for every parameter of two or more dimensions."""
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Any:
        """The (sz, sz) causal mask: -inf above the diagonal (the future), 0 elsewhere (float32 by default).

        >>> import chainrule as cr
        >>> cr.nn.Transformer.generate_square_subsequent_mask(3)
        tensor([[  0., -inf, -inf],
                [  0.,   0., -inf],
                [  0.,   0.,   0.]], dtype=float32)
        """
        mask = np.where(np.triu(np.ones((sz, sz), dtype=bool), 1), -np.inf, 0.0)
        return tensor(mask.astype(np.float32 if dtype is None else dtype), device=device)

    def forward(self, src: Any, tgt: Any, src_mask: Any = None, tgt_mask: Any = None, memory_mask: Any = None,
                src_key_padding_mask: Any = None, tgt_key_padding_mask: Any = None,
                memory_key_padding_mask: Any = None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Any:
        batch_axis = 0 if self.batch_first else 1
        if src.ndim == 3 and (tgt.ndim != 3 or src.shape[batch_axis] != tgt.shape[batch_axis]):
            raise ValueError(f"Transformer: the batch number of src and tgt must be equal, got shapes {src.shape} and "
                             f"{tgt.shape} (batch dimension {batch_axis} with batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError(f"Transformer: the feature number of src and tgt must be equal to d_model "
                             f"({self.d_model}), got shapes {src.shape} and {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)
