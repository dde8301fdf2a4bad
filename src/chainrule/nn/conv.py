"""Convolution, pooling and resampling layers: Conv1d, Conv2d, Conv3d, ConvTranspose2d; MaxPool1d/2d/3d, AvgPool1d/2d,
AdaptiveAvgPool1d/2d, AdaptiveMaxPool1d/2d; ZeroPad2d and Upsample.

Weights follow PyTorch's layouts: a convolution's ``weight`` is (out_channels, in_channels / groups, *kernel_size),
a transposed convolution's (in_channels, out_channels / groups, *kernel_size); both start from kaiming_uniform
with a = sqrt(5) (U(-1/sqrt(fan_in), 1/sqrt(fan_in))), and so does the bias. The arithmetic itself is in
``cr.nn.functional`` (conv and pool are primitives with their own VJP and JVP rules).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import functional as F
from . import init
from ._helpers import check_device, expect_ndim, expect_size, float_dtype, layer_name, ntuple, place
from .module import Module, Parameter

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "AvgPool2d",
           "Conv1d", "Conv2d", "Conv3d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "Upsample",
           "ZeroPad2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv1d and Conv2d share: arguments, parameters, initialisation, padding modes, repr."""

    _n = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, groups: int, bias: bool, padding_mode: str, output_padding: Any = 0,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        check_device(device, type(self).__name__)
        n = self._n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = ntuple(kernel_size, n, "kernel_size")
        self.stride = ntuple(stride, n, "stride")
        self.dilation = ntuple(dilation, n, "dilation")
        self.output_padding = ntuple(output_padding, n, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        self.padding: str | tuple[int, ...]
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
            totals = [0 if padding == "valid" else d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
            pads = [(t // 2, t - t // 2) for t in totals]  # an odd total puts the extra one after
        else:
            self.padding = ntuple(padding, n, "padding")
            pads = [(p, p) for p in self.padding]
        # F.pad's layout (last dimension first), for the padding modes other than zeros
        self._reversed_padding_repeated_twice = tuple(v for before, after in reversed(pads) for v in (before, after))
        dt = float_dtype(dtype)
        if self.transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        place(self, device)

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform(a=sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
        the bias, fan_in = weight.shape[1] * prod(kernel_size)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input: Any) -> None:
        """An (N, C, *spatial) or unbatched (C, *spatial) input with ``in_channels`` channels, or an error naming
        the layer."""
        spatial = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}[self._n]
        layout = f"({', '.join(('N', 'C', *spatial))}) or unbatched ({', '.join(('C', *spatial))})"
        who = layer_name(self)
        shape = expect_ndim(who, "input", input, (self._n + 1, self._n + 2), layout)
        axis = len(shape) - self._n - 1
        expect_size(who, "input", shape, axis, self.in_channels, f"channel dimension (dim {axis})")

    def _padded_input(self, input: Any) -> tuple[Any, Any]:
        """The input to convolve and the ``padding`` argument for the functional convolution."""
        self._check_input(input)
        if self.padding_mode != "zeros":
            return F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode), 0
        return input, self.padding

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation, as PyTorch) over (N, C_in, L) or (C_in, L) inputs.

    >>> import chainrule as cr
    >>> conv = cr.nn.Conv1d(2, 4, 3, padding="same")
    >>> conv.weight.shape, conv(cr.zeros(5, 2, 7, dtype="float32")).shape
    ((4, 2, 3), (5, 4, 7))
    """

    _n = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input: Any) -> Any:
        x, padding = self._padded_input(input)
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as PyTorch) over (N, C_in, H, W) or (C_in, H, W) inputs.

    ``padding`` is an int, a pair, ``"valid"`` (none) or ``"same"`` (output size = input size; stride 1 only);
    ``padding_mode`` is ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.

    >>> import chainrule as cr
    >>> conv = cr.nn.Conv2d(1, 16, 3, padding=1)
    >>> conv
    Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    >>> conv.weight.shape, conv(cr.zeros(2, 1, 8, 8, dtype="float32")).shape
    ((16, 1, 3, 3), (2, 16, 8, 8))
    """

    _n = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input: Any) -> Any:
        x, padding = self._padded_input(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-d convolution (cross-correlation, as PyTorch) over (N, C_in, D, H, W) or (C_in, D, H, W) inputs; options as
    Conv2d's.

    >>> import chainrule as cr
    >>> conv = cr.nn.Conv3d(2, 4, (3, 2, 2), padding=(1, 0, 0))
    >>> conv.weight.shape, conv(cr.zeros(1, 2, 5, 6, 6, dtype="float32")).shape
    ((4, 2, 3, 2, 2), (1, 4, 5, 5, 5))
    """

    _n = 3

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device=device, dtype=dtype)

    def forward(self, input: Any) -> Any:
        x, padding = self._padded_input(input)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution (the gradient of Conv2d with respect to its input), ``weight`` of shape
    (in_channels, out_channels / groups, kh, kw).

    Output size per dimension: (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1;
    ``forward(input, output_size=...)`` picks the ``output_padding`` that gives a requested size.

    >>> import chainrule as cr
    >>> up = cr.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1)
    >>> up.weight.shape, up(cr.zeros(1, 4, 5, 5, dtype="float32"), output_size=(10, 10)).shape
    ((4, 2, 3, 3), (1, 2, 10, 10))
    """

    _n = 2
    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True, dilation: Any = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        if isinstance(padding, str):
            raise ValueError("ConvTranspose2d takes an int or a pair as padding, not a string")
        if padding_mode != "zeros":
            raise ValueError(f"only 'zeros' padding mode is supported for ConvTranspose2d, got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, device=device, dtype=dtype)
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if op >= max(s, d):
                raise ValueError(f"output_padding {self.output_padding} must be smaller than either stride "
                                 f"{self.stride} or dilation {self.dilation}")

    def _output_padding(self, input: Any, output_size: Any) -> tuple[int, ...]:
        if output_size is None:
            return self.output_padding
        sizes = tuple(int(s) for s in output_size)[-2:]
        if len(sizes) != 2:
            raise ValueError(f"output_size must have 2 or more elements (got {len(sizes)})")
        result = []
        for d in range(2):
            n = input.shape[input.ndim - 2 + d]
            smallest = ((n - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            largest = smallest + self.stride[d] - 1
            if not smallest <= sizes[d] <= largest:
                raise ValueError(f"requested an output size of {sizes}, but valid sizes range from "
                                 f"{smallest} to {largest} (for an input of {input.shape[-2:]})")
            result.append(sizes[d] - smallest)
        return tuple(result)

    def forward(self, input: Any, output_size: Any = None) -> Any:
        self._check_input(input)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups, self.dilation)


class _MaxPoolNd(Module):
    """The max pooling layers: PyTorch's arguments, one functional each."""

    _pool: Any = staticmethod(F.max_pool2d)

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Any) -> Any:
        return self._pool(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """The maximum over each ``kernel_size`` window of an (N, C, L) or (C, L) input (stride defaults to the kernel).

    >>> import chainrule as cr
    >>> cr.nn.MaxPool1d(2)(cr.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[3., 2.]])
    """

    _pool = staticmethod(F.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """The maximum over each ``kernel_size`` window (stride defaults to the kernel size).

    >>> import chainrule as cr
    >>> cr.nn.MaxPool2d(2)(cr.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """


class MaxPool3d(_MaxPoolNd):
    """The maximum over each ``kernel_size`` box of an (N, C, D, H, W) or (C, D, H, W) input.

    >>> import chainrule as cr
    >>> cr.nn.MaxPool3d(2)(cr.arange(16.0).reshape(1, 2, 2, 4)).shape
    (1, 1, 1, 2)
    """

    _pool = staticmethod(F.max_pool3d)


class AvgPool2d(Module):
    """The mean over each ``kernel_size`` window (stride defaults to the kernel size).

    >>> import chainrule as cr
    >>> cr.nn.AvgPool2d(2)(cr.arange(16.0).reshape(1, 1, 4, 4))
    tensor([[[[ 2.5,  4.5],
              [10.5, 12.5]]]])
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Any) -> Any:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """The mean over each ``kernel_size`` window of an (N, C, L) or (C, L) input (stride defaults to the kernel).

    >>> import chainrule as cr
    >>> cr.nn.AvgPool1d(2)(cr.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[2., 1.]])
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = ntuple(kernel_size, 1, "kernel_size")  # PyTorch keeps 1-tuples here
        self.stride = ntuple(stride if stride is not None else kernel_size, 1, "stride")
        self.padding = ntuple(padding, 1, "padding")
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Any) -> Any:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(Module):
    """The adaptive pooling layers: an ``output_size`` (entries None keep that input size), one functional each."""

    _pool: Any = staticmethod(F.adaptive_avg_pool2d)

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Any:
        return self._pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average pooling of an (N, C, L) or (C, L) input to ``output_size`` steps, over PyTorch's windows.

    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool1d(2)(cr.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[2., 1.]])
    """

    _pool = staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average pooling to a fixed ``output_size`` (an int, a pair, ``None`` keeping that dimension), with
    PyTorch's windows floor(i * H / out) to ceil((i + 1) * H / out).

    >>> import chainrule as cr
    >>> cr.nn.AdaptiveAvgPool2d(1)(cr.ones(2, 3, 5, 7)).shape
    (2, 3, 1, 1)
    >>> cr.nn.AdaptiveAvgPool2d((2, 3))(cr.arange(20.0).reshape(1, 4, 5))
    tensor([[[ 3. ,  4.5,  6. ],
             [13. , 14.5, 16. ]]])
    """


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Any) -> Any:
        return self._pool(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Max pooling of an (N, C, L) or (C, L) input to ``output_size`` steps, over PyTorch's adaptive windows.

    >>> import chainrule as cr
    >>> cr.nn.AdaptiveMaxPool1d(2)(cr.tensor([[1.0, 3.0, 2.0, 0.0]]))
    tensor([[3., 2.]])
    """

    _pool = staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Max pooling to a fixed ``output_size`` over PyTorch's adaptive windows; the gradient goes to the first
    maximum of each window (row-major), and ``return_indices`` also gives its flat index into H * W.

    >>> import chainrule as cr
    >>> cr.nn.AdaptiveMaxPool2d((1, 2))(cr.arange(12.0).reshape(1, 3, 4))
    tensor([[[ 9., 11.]]])
    """

    _pool = staticmethod(F.adaptive_max_pool2d)


class ZeroPad2d(Module):
    """Zeros around the last two dimensions: ``padding`` is an int or (left, right, top, bottom) (negative crops).

    >>> import chainrule as cr
    >>> cr.nn.ZeroPad2d((1, 0, 0, 1))(cr.ones(1, 1, 2))
    tensor([[[0., 1., 1.],
             [0., 0., 0.]]])
    """

    def __init__(self, padding: Any) -> None:
        super().__init__()
        self.padding = ntuple(padding, 4, "padding")

    def forward(self, input: Any) -> Any:
        return F.pad(input, self.padding)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class Upsample(Module):
    """Resample to ``size`` or by ``scale_factor`` with ``F.interpolate``'s modes ("nearest", "nearest-exact",
    "linear", "bilinear", "bicubic", "trilinear"; ``align_corners`` for the interpolating ones).

    >>> import chainrule as cr
    >>> cr.nn.Upsample(scale_factor=2, mode="nearest")(cr.tensor([[[1.0, 2.0]]]))
    tensor([[[1., 1., 2., 2.]]])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None, recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor: Any = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Any) -> Any:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"
