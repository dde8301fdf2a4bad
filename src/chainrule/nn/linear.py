"""Dense layers and friends: Identity, Linear, Bilinear, Flatten, Unflatten, Dropout, Embedding.

Parameter names, shapes and default initialisation follow PyTorch: ``Linear.weight`` is (out_features, in_features)
drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)) (kaiming_uniform with a = sqrt(5)), and so is its bias.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import no_grad
from ..ops.shape import reshape
from ..primitive import index_box
from ..tensor import Tensor
from . import functional as F
from . import init
from ._helpers import (
    check_device,
    check_pair,
    check_rows,
    expect_size,
    float_dtype,
    index_array,
    layer_name,
    place,
    shape_of,
)
from .module import Module, Parameter

__all__ = ["Bilinear", "Dropout", "Embedding", "Flatten", "Identity", "Linear", "Unflatten"]


class Identity(Module):
    """Returns its input unchanged (a placeholder; any constructor arguments are ignored).

    >>> import chainrule as cr
    >>> cr.nn.Identity(54, unused="x")(cr.tensor([1.0]))
    tensor([1.])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input


class Linear(Module):
    """``y = x W^T + b``, with ``weight`` of shape (out_features, in_features) and ``bias`` (out_features,).

    >>> import chainrule as cr
    >>> fc = cr.nn.Linear(3, 2)
    >>> fc.weight.shape, fc.bias.shape, fc.weight.dtype
    ((2, 3), (2,), dtype('float32'))
    >>> fc(cr.ones(5, 3, dtype="float32")).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        dt = float_dtype(dtype)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        place(self, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Any) -> Any:
        expect_size(layer_name(self), "input", shape_of(input), -1, self.in_features, "last dimension")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """``y_k = x1^T A_k x2 + b_k``, with ``weight`` of shape (out_features, in1_features, in2_features).

    >>> import chainrule as cr
    >>> layer = cr.nn.Bilinear(3, 4, 2)
    >>> layer(cr.ones(5, 3, dtype="float32"), cr.ones(5, 4, dtype="float32")).shape
    (5, 2)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        dt = float_dtype(dtype)
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        place(self, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: weight and bias from U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] > 0 else 0.0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Any, input2: Any) -> Any:
        check_pair(layer_name(self), shape_of(input1), shape_of(input2), self.in1_features, self.in2_features)
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flatten dimensions ``start_dim`` to ``end_dim`` into one (by default all but the batch dimension).

    >>> import chainrule as cr
    >>> cr.nn.Flatten()(cr.zeros(2, 3, 4, 5)).shape
    (2, 60)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Any) -> Any:
        shape = input.shape
        ndim = max(len(shape), 1)
        start = self.start_dim % ndim
        end = self.end_dim % ndim
        if start > end:
            raise ValueError(f"Flatten: start_dim {self.start_dim} comes after end_dim {self.end_dim} for an input "
                             f"of shape {shape}")
        return reshape(input, (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:]))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dimension ``dim`` into ``unflattened_size`` (the inverse of Flatten; one entry may be -1).

    >>> import chainrule as cr
    >>> cr.nn.Unflatten(1, (3, 4))(cr.zeros(2, 12)).shape
    (2, 3, 4)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Any) -> Any:
        shape = input.shape
        dim = self.dim % len(shape)
        sizes = self.unflattened_size
        if -1 in sizes:
            known = math.prod(s for s in sizes if s != -1)
            sizes = tuple(shape[dim] // known if s == -1 else s for s in sizes)
        if math.prod(sizes) != shape[dim]:
            raise ValueError(f"Unflatten: unflattened_size {self.unflattened_size} does not fill dimension {dim} "
                             f"of size {shape[dim]} (input shape {shape})")
        return reshape(input, (*shape[:dim], *sizes, *shape[dim + 1:]))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the rest by 1 / (1 - p); in eval mode,
    the identity.

    >>> import chainrule as cr
    >>> drop = cr.nn.Dropout(0.5).eval()
    >>> drop(cr.ones(3))
    tensor([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace  # accepted for PyTorch compatibility; the result is always a new tensor

    def forward(self, input: Any) -> Any:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of ``weight`` (num_embeddings, embedding_dim).

    ``weight`` starts as N(0, 1) draws; the row ``padding_idx`` (if given) starts at zero and receives no gradient.

    >>> import chainrule as cr
    >>> emb = cr.nn.Embedding(10, 3, padding_idx=0)
    >>> emb(cr.tensor([[0, 2], [4, 0]])).shape
    (2, 2, 3)
    >>> emb.weight[0].tolist()
    [0.0, 0.0, 0.0]
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=float_dtype(dtype)),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            array = np.array(_weight.data if isinstance(_weight, Tensor) else _weight,
                             dtype=None if dtype is None else float_dtype(dtype))
            if array.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {array.shape}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(array, requires_grad=not _freeze)
        place(self, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: N(0, 1), with the padding row set to zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose table is a copy of the 2-D ``embeddings`` (frozen unless ``freeze=False``).

        >>> import numpy as np
        >>> import chainrule as cr
        >>> emb = cr.nn.Embedding.from_pretrained(np.eye(3, dtype=np.float32))
        >>> emb(cr.tensor([2])).tolist(), emb.weight.requires_grad
        ([[0.0, 0.0, 1.0]], False)
        """
        rows, cols = np.shape(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)

    _checks_input_dtype = False  # the input holds indices, not values

    def forward(self, input: Any) -> Any:
        who = layer_name(self)
        if index_box(input) is None:  # (ids computed inside vmap or cr.compile: F.embedding records their check)
            check_rows(who, index_array(input, who), self.num_embeddings)
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        if self.sparse:
            s += ", sparse=True"
        return s
