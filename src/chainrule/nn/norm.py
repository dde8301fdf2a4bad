"""Normalisation layers: BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm (PyTorch's parameters, buffers, defaults).

BatchNorm keeps ``weight`` (ones), ``bias`` (zeros) and the buffers ``running_mean`` (zeros), ``running_var``
(ones) and ``num_batches_tracked`` (int64). In training mode it normalises with the batch statistics and updates
the running ones, ``running = (1 - momentum) * running + momentum * batch`` (the unbiased batch variance), or a
cumulative average when ``momentum=None``; in eval mode it normalises with the running statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine import no_grad
from ..tensor import Tensor
from . import functional as F
from . import init
from ._helpers import check_device, expect_ndim, expect_size, float_dtype, layer_name, place, shape_of
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm"]


def _affine(module: Module, shape: int | tuple[int, ...], affine: bool, bias: bool, dtype: Any) -> None:
    """A normalisation layer's optional per-feature scale ``weight`` (ones) and shift ``bias`` (zeros)."""
    module.register_parameter("weight", Parameter(np.ones(shape, dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dtype=dtype)) if affine and bias else None)


def _reset_affine(module: Module) -> None:
    """Weight 1, bias 0 (where the layer has them)."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        dt = float_dtype(dtype)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        _affine(self, num_features, affine, bias, dt)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()
        place(self, device)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches counted."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1, bias 0."""
        self.reset_running_stats()
        _reset_affine(self)

    _layout = ""

    def forward(self, input: Any) -> Any:
        who = layer_name(self)
        shape = expect_ndim(who, "input", input, self._dims, self._layout)
        expect_size(who, "input", shape, 1, self.num_features, "channel dimension (dim 1)")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked += 1
            factor = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs, per channel C.

    >>> import chainrule as cr
    >>> bn = cr.nn.BatchNorm1d(3)
    >>> bn
    BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> y = bn(cr.randn(8, 3, dtype="float32"))
    >>> int(bn.num_batches_tracked), y.shape
    (1, (8, 3))
    """

    _dims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) inputs, per channel C.

    >>> import chainrule as cr
    >>> bn = cr.nn.BatchNorm2d(4).eval()
    >>> bn(cr.ones(2, 4, 3, 3, dtype="float32")).shape
    (2, 4, 3, 3)
    """

    _dims = (4,)
    _layout = "(N, C, H, W)"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dimensions, then scale by ``weight`` (ones) and shift by
    ``bias`` (zeros), elementwise.

    >>> import chainrule as cr
    >>> ln = cr.nn.LayerNorm(4)
    >>> ln
    LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
    >>> ln(cr.randn(2, 4, dtype="float32")).shape
    (2, 4)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        dt = float_dtype(dtype)
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine(self, self.normalized_shape, elementwise_affine, bias, dt)
        place(self, device)

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        _reset_affine(self)

    def forward(self, input: Any) -> Any:
        shape, k = shape_of(input), len(self.normalized_shape)
        if shape[len(shape) - k:] != self.normalized_shape:
            raise ValueError(f"{layer_name(self)}: input's trailing dimensions {shape[len(shape) - k:]} do not match "
                             f"normalized_shape={self.normalized_shape} (input shape {shape})")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Split the channels of (N, C, ...) into ``num_groups`` groups, normalise each group of each sample, then
    scale and shift per channel.

    >>> import chainrule as cr
    >>> gn = cr.nn.GroupNorm(2, 4)
    >>> gn
    GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)
    >>> gn(cr.randn(3, 4, 5, dtype="float32")).shape
    (3, 4, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: Any = None, dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        dt = float_dtype(dtype)
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine(self, num_channels, affine, bias, dt)
        place(self, device)

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        _reset_affine(self)

    def forward(self, input: Any) -> Any:
        expect_size(layer_name(self), "input", shape_of(input), 1, self.num_channels, "channel dimension (dim 1)")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")
