"""``cr.nn.functional``: convolution, pooling, normalisation, attention, activations and losses, as PyTorch names them.

Signatures, defaults and semantics follow ``torch.nn.functional``: NCHW layouts, weights ``(out, in / groups, kh,
kw)``, ``reduction="mean"``, PyTorch's eps values and momentum convention. Convolution and pooling are primitives of
the table (``chainrule.ops.nn``, with their own VJP and JVP rules); everything else here is a composite of
primitives and carries no gradient code. Like every chainrule function these take Tensors or ndarrays: on plain
ndarrays they compute plain ndarrays.

Kinks and conventions, decided here: max pooling gives the whole gradient to the first maximum of each window
(row-major order within the window, as PyTorch; a NaN counts as the maximum). ``binary_cross_entropy`` clamps each
logarithm at -100 as PyTorch does; at an input of exactly 0 or 1 the clamped side has gradient 0 (PyTorch reports a
huge finite slope there). ``cosine_similarity`` and ``normalize`` clamp each norm at ``eps``, and compute it scaled,
so that vectors of 1e200 keep their direction (PyTorch's squares overflow there, to a similarity of 0); a zero
vector's norm has gradient 0, so what comes back is the clamp's gradient (1 / eps for normalize), as in PyTorch.
"""

from __future__ import annotations

import builtins
import functools
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend
from .. import random as _random
from ..engine import no_grad
from ..ops import nn as _nn
from ..ops.elementwise import abs as _abs
from ..ops.elementwise import astype, exp, gelu, isfinite, isinf, log, log_sigmoid, maximum, sigmoid, sqrt, tanh, where
from ..ops.elementwise import clip as _clip
from ..ops.elementwise import elu as _elu
from ..ops.elementwise import leaky_relu as _leaky_relu
from ..ops.elementwise import minimum as _minimum  # the ranking and CTC losses
from ..ops.elementwise import relu as _relu
from ..ops.elementwise import selu as _selu
from ..ops.elementwise import silu as _silu
from ..ops.elementwise import softplus as _softplus
from ..ops.elementwise import transfer as _transfer
from ..ops.linalg import einsum, matmul
from ..ops.reduce import log_softmax as _log_softmax
from ..ops.reduce import max as _max
from ..ops.reduce import mean as _mean
from ..ops.reduce import softmax as _softmax
from ..ops.reduce import softmax_cross_entropy as _softmax_cross_entropy
from ..ops.reduce import sum as _sum
from ..ops.shape import concatenate, getitem, repeat, reshape, stack, swapaxes, take, take_along_axis, transpose
from ..ops.shape import pad as _pad_constant
from ..primitive import (
    BatchValueError,
    CompileError,
    Example,
    Traced,
    as_array,
    check_values,
    device_of_values,
    holds_box,
    index_box,
    like,
)
from ..spelling import both_spellings
from ..tensor import Tensor, bottom, values
from ..transforms import stop_gradient
from ._helpers import check_pair, check_rows, expect_size, index_array

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "bilinear",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose2d",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "elu",
    "embedding",
    "gelu",
    "group_norm",
    "hardtanh",
    "huber_loss",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "mish",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "relu",
    "relu6",
    "scaled_dot_product_attention",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softmin",
    "softplus",
    "softsign",
    "tanh",
]

Pair = tuple[int, int]


# ---- helpers -------------------------------------------------------------------------------------------------------
def _class_weights(weight: Any, what: str, dtype: Any) -> np.ndarray[Any, Any]:
    """Per-class weights as constants: the losses have no rule for them (as PyTorch), so one being differentiated
    is refused rather than cut off its graph."""
    if holds_box((weight,)):
        raise TypeError(f"{what}: the class weights cannot be differentiated; pass constants (weight.detach())")
    return backend.to_host(_raw(weight)).astype(dtype, copy=False)


def _raw(x: Any) -> Any:
    """The values behind x (at the bottom of any transform's boxes, on x's device), for decisions that carry no
    gradient."""
    return values(x)


def _ntuple(v: Any, n: int, name: str) -> tuple[int, ...]:
    """An int, or a sequence of one or ``n`` ints, as an n-tuple (PyTorch's ``_pair``, ``_triple``)."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    t = tuple(int(a) for a in v)
    if len(t) == 1:
        return t * n
    if len(t) != n:
        raise ValueError(f"{name} must be an int or a sequence of {n} ints, got {v!r}")
    return t


def _pair(v: Any, name: str) -> Pair:
    """An int, or a sequence of one or two ints, as a pair (PyTorch's ``_pair``)."""
    a, b = _ntuple(v, 2, name)
    return (a, b)


def _single(v: Any, name: str) -> int:
    if isinstance(v, (int, np.integer)):
        return int(v)
    t = tuple(int(a) for a in v)
    if len(t) != 1:
        raise ValueError(f"{name} must be an int or a 1-tuple, got {v!r}")
    return t[0]


def _positive(p: tuple[int, ...], name: str, what: str) -> None:
    if any(v <= 0 for v in p):
        raise ValueError(f"{what}: {name} must be positive, got {p}")


def _broadcast_channels(v: Any, ndim: int) -> Any:
    """A per-channel vector (C,) shaped (1, C, 1, ...) to broadcast over an (N, C, *) input."""
    return reshape(v, (1, -1) + (1,) * (ndim - 2))


def _legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's deprecated ``size_average`` / ``reduce`` arguments, translated to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce are deprecated; use reduction='mean' | 'sum' | 'none' instead",
                  DeprecationWarning, stacklevel=3)
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def _reduce(loss: Any, reduction: str) -> Any:
    if reduction == "mean":
        return _mean(loss)
    if reduction == "sum":
        return _sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction!r} is not a valid value for reduction: use 'mean', 'sum' or 'none'")


def _check_reduction(reduction: str, allowed: tuple[str, ...] = ("mean", "sum", "none")) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use one of {', '.join(allowed)}")


def _unbatched(x: Any, ndim: int, what: str) -> tuple[Any, bool]:
    """An input of ``ndim`` dimensions (batched) as it is, or of ``ndim - 1`` with a batch axis of 1 added."""
    if x.ndim == ndim:
        return x, False
    if x.ndim == ndim - 1:
        return reshape(x, (1, *x.shape)), True
    raise ValueError(f"{what}: expected a {ndim - 1}-d (unbatched) or {ndim}-d (batched) input, got shape {x.shape}")


# ---- linear layers -------------------------------------------------------------------------------------------------
def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """``y = x W^T + b`` with ``weight`` of shape (out_features, in_features).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.linear(cr.ones((2, 3)), cr.ones((4, 3)), cr.zeros(4)).shape
    (2, 4)
    """
    x, w = as_array(input), as_array(weight)
    expect_size("linear", "input", x.shape, -1, w.shape[-1], "last dimension")
    if w.ndim == 2:
        return _nn.linear(x, w, bias if bias is None or np.isscalar(bias) else as_array(bias))
    y = matmul(x, w)
    return y if bias is None else y + bias


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> Any:
    """``y_o = x1^T W_o x2 + b_o`` with ``weight`` of shape (out, in1, in2).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.bilinear(cr.ones((5, 2)), cr.ones((5, 3)), cr.ones((4, 2, 3))).shape
    (5, 4)
    """
    x1, w, x2 = as_array(input1), as_array(weight), as_array(input2)
    if w.ndim != 3:
        raise ValueError(f"bilinear: weight must be 3-d (out_features, in1_features, in2_features), got shape "
                         f"{w.shape}")
    check_pair("bilinear", x1.shape, x2.shape, w.shape[1], w.shape[2])
    y = einsum("...i,oij,...j->...o", x1, w, x2)
    return y if bias is None else y + bias


# ---- convolution ---------------------------------------------------------------------------------------------------
def _conv_padding(padding: Any, kernel: tuple[int, ...], dilation: tuple[int, ...], stride: tuple[int, ...],
                  what: str) -> tuple[Pair, ...]:
    """PyTorch's padding argument (an int, a tuple, "valid" or "same") as one (before, after) pair per spatial axis."""
    if isinstance(padding, str):
        if padding == "valid":
            return tuple((0, 0) for _ in kernel)
        if padding != "same":
            raise ValueError(f"{what}: padding must be 'valid', 'same', an int or a tuple of ints, got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{what}: padding='same' is not supported for strided convolutions (stride={stride})")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)  # the extra one goes after, as PyTorch
    pads = _ntuple(padding, len(kernel), "padding")
    if any(p < 0 for p in pads):
        raise ValueError(f"{what}: padding must be non-negative, got {padding!r}")
    return tuple((p, p) for p in pads)


def _nonempty_kernel(w: Any, what: str) -> None:
    if 0 in w.shape[2:]:
        raise ValueError(f"{what}: the kernel's size {tuple(w.shape[2:])} has a zero (weight of shape {w.shape})")


def _conv_args(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: int, n: int,
               what: str) -> tuple[Any, Any, Any, tuple[int, ...], tuple[Pair, ...], tuple[int, ...], int, bool]:
    """An n-d convolution's arguments checked and normalised: (x batched, w, bias, stride, padding pairs,
    dilation, groups, whether x was unbatched)."""
    x, unbatched = _unbatched(as_array(input), n + 2, what)
    w = as_array(weight)
    if w.ndim != n + 2:
        kernel = ", ".join(("kd", "kh", "kw")[3 - n:]) if n > 1 else "k"
        raise ValueError(f"{what}: weight must be {n + 2}-d (out_channels, in_channels / groups, {kernel}), got shape "
                         f"{w.shape}")
    _nonempty_kernel(w, what)
    groups = int(groups)
    if groups < 1 or x.shape[1] != w.shape[1] * groups or w.shape[0] % groups:
        raise ValueError(f"{what}: input of shape {x.shape} with groups={groups} does not fit a weight of shape "
                         f"{w.shape} (expected {w.shape[1] * groups} input channels and out_channels divisible by "
                         f"groups)")
    stride_, dilation_ = _ntuple(stride, n, "stride"), _ntuple(dilation, n, "dilation")
    _positive(stride_, "stride", what)
    _positive(dilation_, "dilation", what)
    pads = _conv_padding(padding, tuple(w.shape[2:]), dilation_, stride_, what)
    if bias is not None:
        bias = as_array(bias)
        if bias.shape != (w.shape[0],):
            raise ValueError(f"{what}: bias must have shape ({w.shape[0]},), got {bias.shape}")
    return x, w, bias, stride_, pads, dilation_, groups, unbatched


def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """2-d cross-correlation of an (N, C, H, W) input with a (O, C / groups, kh, kw) weight, plus a bias (O,).

    ``y[n, o, i, j] = b[o] + sum_{c, p, q} x[n, c, i*sh + p*dh - pt, j*sw + q*dw - pl] * w[o, c, p, q]``; padding is
    an int, a pair, "valid" or "same" (stride 1 only). An unbatched (C, H, W) input gives a (O, Ho, Wo) output.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
    >>> F.conv2d(x, cr.ones((1, 1, 2, 2)))
    tensor([[[[10., 14., 18.],
              [26., 30., 34.],
              [42., 46., 50.]]]])
    >>> F.conv2d(x, cr.ones((2, 1, 3, 3)), padding="same", stride=1).shape
    (1, 2, 4, 4)
    """
    x, w, bias, stride, pads, dilation, groups, unbatched = _conv_args(input, weight, bias, stride, padding,
                                                                       dilation, groups, 2, "conv2d")
    y = _nn.conv2d(x, w, bias, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return reshape(y, y.shape[1:]) if unbatched else y


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """1-d cross-correlation of an (N, C, L) input with a (O, C / groups, k) weight: ``conv2d`` on a height of 1.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.conv1d(cr.arange(5.0).reshape(1, 1, 5), cr.ones((1, 1, 2)))
    tensor([[[1., 3., 5., 7.]]])
    """
    x, unbatched = _unbatched(as_array(input), 3, "conv1d")
    w = as_array(weight)
    if w.ndim != 3:
        raise ValueError(f"conv1d: weight must be 3-d (out_channels, in_channels / groups, k), got shape {w.shape}")
    pad2 = padding if isinstance(padding, str) else (0, _single(padding, "padding"))
    y = conv2d(reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])), reshape(w, (*w.shape[:2], 1, w.shape[2])), bias,
               (1, _single(stride, "stride")), pad2, (1, _single(dilation, "dilation")), groups)
    y = reshape(y, (y.shape[0], y.shape[1], y.shape[3]))
    return reshape(y, y.shape[1:]) if unbatched else y


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Any:
    """Transposed 2-d convolution (the gradient of ``conv2d`` with respect to its input), weight (C_in, O / groups, kh,
    kw); the output size is (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.conv_transpose2d(cr.ones((1, 1, 2, 2)), cr.ones((1, 1, 2, 2)), stride=2).shape
    (1, 1, 4, 4)
    """
    x, unbatched = _unbatched(as_array(input), 4, "conv_transpose2d")
    w = as_array(weight)
    if w.ndim != 4:
        raise ValueError(f"conv_transpose2d: weight must be 4-d (in_channels, out_channels / groups, kh, kw), got "
                         f"shape {w.shape}")
    _nonempty_kernel(w, "conv_transpose2d")
    groups = int(groups)
    if groups < 1 or x.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ValueError(f"conv_transpose2d: input of shape {x.shape} with groups={groups} does not fit a weight of "
                         f"shape {w.shape} (expected {w.shape[0]} input channels, divisible by groups)")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    _positive(stride, "stride", "conv_transpose2d")
    _positive(dilation, "dilation", "conv_transpose2d")
    (ph, pw), (oph, opw) = _pair(padding, "padding"), _pair(output_padding, "output_padding")
    if ph < 0 or pw < 0 or oph < 0 or opw < 0:
        raise ValueError("conv_transpose2d: padding and output_padding must be non-negative")
    for op, s, d in ((oph, stride[0], dilation[0]), (opw, stride[1], dilation[1])):
        if op >= s and op >= d:
            raise ValueError(f"conv_transpose2d: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    h, wd = x.shape[2], x.shape[3]
    kh, kw = w.shape[2], w.shape[3]
    size = ((h - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + oph + 1,
            (wd - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + opw + 1)
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"conv_transpose2d: output size {size} is too small")
    pads = ((ph, ph), (pw, pw))
    # the convolution of an image of this size has (h + oph // sh, w + opw // sw) outputs: output padding at least as
    # large as the stride (allowed when below the dilation) adds rows of the input that are zero
    extra_h = (size[0] + 2 * ph - dilation[0] * (kh - 1) - 1) // stride[0] + 1 - h
    extra_w = (size[1] + 2 * pw - dilation[1] * (kw - 1) - 1) // stride[1] + 1 - wd
    if extra_h or extra_w:
        x = pad(x, (0, extra_w, 0, extra_h))
    # PyTorch's transposed weight (C_in, O / g, kh, kw) is the weight of the convolution it is the adjoint of
    y = _nn.conv_transpose2d(x, w, stride=stride, padding=pads, dilation=dilation, groups=groups, in_size=size)
    if bias is not None:
        y = y + _broadcast_channels(bias, 4)
    return reshape(y, y.shape[1:]) if unbatched else y


# ---- pooling -------------------------------------------------------------------------------------------------------
def _pool_size(n: int, k: int, pad: int, s: int, d: int, ceil_mode: bool) -> tuple[int, int]:
    """PyTorch's pooled length along one axis, and the extra padding after the input that ``ceil_mode`` needs."""
    span = n + 2 * pad - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + pad:  # the last window must start inside the input or the left padding
        out -= 1
    extra = builtins.max(0, (out - 1) * s + d * (k - 1) + 1 - (n + 2 * pad))
    return out, extra


def _pool_args(x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
               what: str) -> dict[str, Any]:
    """The normalised arguments of a pooling over x's spatial axes (all after the first two), with ceil_mode's extra
    padding after the input."""
    n = x.ndim - 2
    kernel = _ntuple(kernel_size, n, "kernel_size")
    no_stride = stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0)
    stride_ = kernel if no_stride else _ntuple(stride, n, "stride")
    pad, dil = _ntuple(padding, n, "padding"), _ntuple(dilation, n, "dilation")
    _positive(kernel, "kernel_size", what)
    _positive(stride_, "stride", what)
    _positive(dil, "dilation", what)
    if any(p < 0 or p > k // 2 for p, k in zip(pad, kernel)):
        raise ValueError(f"{what}: padding should be non-negative and at most half of the kernel size, got "
                         f"padding={pad} for kernel_size={kernel}")
    sizes = [_pool_size(x.shape[2 + i], kernel[i], pad[i], stride_[i], dil[i], ceil_mode) for i in range(n)]
    if any(out <= 0 for out, _ in sizes):
        raise ValueError(f"{what}: input of shape {x.shape} is too small for kernel_size={kernel}, "
                         f"dilation={dil}, padding={pad}: output size {tuple(out for out, _ in sizes)}")
    return {"kernel_size": kernel, "stride": stride_,
            "padding": tuple((p, p + extra) for p, (_, extra) in zip(pad, sizes)), "dilation": dil}


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The maximum over each (dilated) ``kernel_size`` window; ``stride`` defaults to ``kernel_size``.

    The gradient goes to the first maximum of each window (row-major within the window), as PyTorch. With
    ``return_indices`` the flat index (into H * W) of that maximum comes back too, as an int64 array.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.max_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 5.,  7.],
              [13., 15.]]]])
    """
    x, unbatched = _unbatched(as_array(input), 4, "max_pool2d")
    out = _max_pool(x, _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d"),
                    return_indices)
    return _unbatch_all(out, unbatched)


def _max_pool(x: Any, kw: dict[str, Any], return_indices: bool) -> Any:
    """2-d max pooling of a batched (N, C, H, W) x with normalised arguments: y, or (y, flat indices into H * W)."""
    y = _nn.max_pool2d(x, **kw)
    if not return_indices:
        return y
    idx = _nn._window_argmax(x, y, **kw)
    kwid, (sh, sw), (dh, dw) = kw["kernel_size"][1], kw["stride"], kw["dilation"]
    p, q = np.divmod(idx, kwid)
    rows = like(np.arange(idx.shape[2])[:, None], idx) * sh + p * dh - kw["padding"][0][0]
    cols = like(np.arange(idx.shape[3])[None, :], idx) * sw + q * dw - kw["padding"][1][0]
    flat = (rows * x.shape[3] + cols).astype(np.int64)
    return y, (Tensor(flat) if isinstance(y, Tensor) else flat)


def _unbatch_all(out: Any, unbatched: bool) -> Any:
    """A result, or a (result, indices) pair, without its batch axis of 1 when the input had none."""
    if not unbatched:
        return out
    if isinstance(out, tuple):
        return tuple(v[0] for v in out)
    return reshape(out, out.shape[1:])


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Any:
    """The mean over each ``kernel_size`` window; the zero padding counts in the divisor with ``count_include_pad``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2)
    tensor([[[[ 2.5,  4.5],
              [10.5, 12.5]]]])
    """
    x, unbatched = _unbatched(as_array(input), 4, "avg_pool2d")
    kw = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    del kw["dilation"]
    if divisor_override is not None and int(divisor_override) <= 0:
        raise ValueError(f"avg_pool2d: divisor_override must be positive, got {divisor_override}")
    y = _nn.avg_pool2d(x, count_include_pad=bool(count_include_pad),
                       divisor_override=None if divisor_override is None else int(divisor_override), **kw)
    return reshape(y, y.shape[1:]) if unbatched else y


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """The mean over PyTorch's adaptive windows [floor(i H / Ho), ceil((i + 1) H / Ho)), whatever the input size;
    an entry of ``output_size`` that is None keeps that input size.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.adaptive_avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 1)
    tensor([[[[7.5]]]])
    """
    x = as_array(input)
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-d or 4-d input, got shape {x.shape}")
    size = (output_size, output_size) if isinstance(output_size, (int, np.integer)) or output_size is None \
        else tuple(output_size)
    if len(size) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}")
    out = (int(x.shape[-2]) if size[0] is None else int(size[0]), int(x.shape[-1]) if size[1] is None else int(size[1]))
    _positive(out, "output_size", "adaptive_avg_pool2d")
    return _nn.adaptive_avg_pool2d(x, output_size=out)


# ---- dropout and normalisation --------------------------------------------------------------------------------------
def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (identity when not training).

    The mask is drawn from ``cr.random.generator()``, so ``cr.random.seed(n)`` makes it repeat. ``inplace`` is
    accepted for PyTorch compatibility; the result is always a new tensor.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> cr.random.seed(0)
    >>> y = F.dropout(cr.ones(1000), 0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = as_array(input)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    mask = (_random.generator().random(x.shape, dtype=np.float32 if dtype == np.float32 else np.float64) >= p)
    scaled = mask.astype(dtype)
    scaled *= 1.0 / (1.0 - p)
    device = device_of_values(x)  # the mask is drawn on the host (one mask per seed on every device), and moved
    return x * (scaled if device == "cpu" else _transfer(scaled, device=device))


def _stopped(x: Any) -> Any:
    """``x``'s value, with no gradient: its array, or the box cr.compile traces it by (which has no values to read)."""
    while isinstance(x, Tensor) and type(x) is not Traced:
        x = x.data
    return x


def _update_running(stat: Any, batch_value: np.ndarray[Any, Any], momentum: float) -> None:
    """stat <- (1 - momentum) * stat + momentum * batch_value, in place (a Tensor buffer or an ndarray)."""
    with no_grad():
        raw = _stopped(stat)
        if batch_value.dtype != raw.dtype:
            batch_value = batch_value.astype(raw.dtype)
        new = (1.0 - momentum) * raw + momentum * batch_value
        stat[...] = new


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Any:
    """Normalise each channel of an (N, C, *) input by its batch statistics (training) or the running ones.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. In training the biased batch variance normalises, and the
    running statistics (when given) are updated in place: ``r <- (1 - momentum) r + momentum * batch``, with the
    unbiased variance for ``running_var``, as PyTorch.

    >>> import numpy as np, chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> rm, rv = np.zeros(2), np.ones(2)
    >>> y = F.batch_norm(cr.tensor([[1.0, 2.0], [3.0, 6.0]]), rm, rv, training=True)
    >>> y
    tensor([[-0.999995  , -0.99999875],
            [ 0.999995  ,  0.99999875]])
    >>> rm, rv
    (array([0.2, 0.4]), array([1.1, 1.7]))
    """
    x = as_array(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dimensions (N, C, *), got shape {x.shape}")
    axes = (0, *range(2, x.ndim))
    if training:
        count = x.size // x.shape[1]
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of shape "
                             f"{x.shape}")
        mu = _mean(x, axis=axes, keepdims=True)
        d = x - mu
        var = _mean(d * d, axis=axes, keepdims=True)
        if running_mean is not None:
            _update_running(running_mean, np.reshape(_stopped(mu), -1), momentum)
        if running_var is not None:
            _update_running(running_var, np.reshape(_stopped(var), -1) * (count / (count - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var must be given when training=False")
        d = x - _broadcast_channels(running_mean, x.ndim)
        var = _broadcast_channels(running_var, x.ndim)
    y = d / sqrt(var + eps)
    if weight is not None:
        y = y * _broadcast_channels(weight, x.ndim)
    if bias is not None:
        y = y + _broadcast_channels(bias, x.ndim)
    return y


def layer_norm(input: Any, normalized_shape: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """Normalise over the trailing ``normalized_shape`` axes (biased variance), then scale and shift elementwise.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.layer_norm(cr.tensor([[1.0, 3.0]]), (2,))
    tensor([[-0.999995,  0.999995]])
    """
    x = as_array(input)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} does not match the trailing axes of an input of "
                         f"shape {x.shape}")
    axes = tuple(range(x.ndim - k, x.ndim))
    d = x - _mean(x, axis=axes, keepdims=True)
    y = d / sqrt(_mean(d * d, axis=axes, keepdims=True) + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """Normalise each of ``num_groups`` groups of channels of an (N, C, *) input, then a per-channel affine.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.group_norm(cr.tensor([[1.0, 3.0, 5.0, 9.0]]), 2)
    tensor([[-0.999995  ,  0.999995  , -0.99999875,  0.99999875]])
    """
    x = as_array(input)
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of at least 2 dimensions (N, C, *), got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(f"group_norm: {c} channels do not divide into num_groups={num_groups} groups")
    g = reshape(x, (n, num_groups, -1))
    d = g - _mean(g, axis=2, keepdims=True)
    y = reshape(d / sqrt(_mean(d * d, axis=2, keepdims=True) + eps), x.shape)
    if weight is not None:
        y = y * _broadcast_channels(weight, x.ndim)
    if bias is not None:
        y = y + _broadcast_channels(bias, x.ndim)
    return y


@both_spellings
def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Any:
    """``x / max(||x||_p, eps)`` along ``dim``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.normalize(cr.tensor([[3.0, 4.0]]))
    tensor([[0.6, 0.8]])
    """
    x = as_array(input)
    return x / maximum(_norm(x, p, dim), eps)


def _norm(x: Any, p: float, dim: int) -> Any:
    """``||x||_p`` along ``dim`` (kept), for the norms that normalize and cosine_similarity clamp at eps.

    Computed on x / max|x|, a constant (so the gradient is the norm's own): the powers do not overflow where the
    norm itself is representable (entries of 1e200 in float64). A zero vector has norm 0 with gradient 0: the root's
    infinite slope at 0 is never taken, so the clamp's gradient comes through unspoilt.
    """
    magnitude = _abs(stop_gradient(x))  # recorded without a gradient (a step of cr.compile, batched by vmap)
    dtype = magnitude.dtype if magnitude.dtype.kind == "f" else np.dtype(np.float64)
    biggest = _max(magnitude, axis=dim, keepdims=True, initial=0)
    scale = astype(where(isfinite(biggest) & (biggest > 0), biggest, 1), dtype)
    y = _abs(x / scale)
    if p == 1.0:
        return _sum(y, axis=dim, keepdims=True) * scale
    total = _sum(y * y if p == 2.0 else y ** p, axis=dim, keepdims=True)
    positive = total > 0  # (a recorded comparison: vmap and cr.compile see it)
    safe = where(positive, total, 1.0)
    root = sqrt(safe) if p == 2.0 else safe ** (1.0 / p)
    return where(positive, root, 0.0) * scale


# ---- embedding, one-hot, padding -------------------------------------------------------------------------------------
def embedding(input: Any, weight: Any, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Any:
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input``; rows picked twice get both gradients.

    Indices must lie in [0, num_embeddings): as in PyTorch, a negative index raises IndexError (it does not count
    from the end).

    The row ``padding_idx`` receives no gradient. With ``max_norm``, the picked rows whose ``norm_type``-norm exceeds
    it are first rescaled in place (under no_grad) to that norm, as PyTorch.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.embedding([[0, 2]], cr.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
    tensor([[[0., 1.],
             [4., 5.]]])
    """
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse gradients are not supported")
    w = as_array(weight)
    n = w.shape[0]
    idx = index_box(input)  # ids computed inside vmap or cr.compile: checked by a recorded step
    if idx is None:
        idx = index_array(input, "embedding")
    idx = check_values(idx, functools.partial(check_rows, "embedding", n=n))
    if max_norm is not None:
        with no_grad():
            raw = _raw(w)
            rows = np.unique(idx)
            norms = np.linalg.norm(raw[rows], ord=norm_type, axis=1, keepdims=True)
            scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(raw.dtype)
            w[rows] = raw[rows] * scale
    out = getitem(w, idx)
    if padding_idx is not None:
        pad_row = padding_idx + n if padding_idx < 0 else padding_idx
        if not 0 <= pad_row < n:
            raise ValueError(f"embedding: padding_idx {padding_idx} is out of range for {n} embeddings")
        hit = idx == pad_row
        if isinstance(hit, Tensor) or hit.any():  # (a box's hits are not known here: always)
            out = where(hit[..., None], getitem(stop_gradient(w), idx), out)  # the padding row's value, no gradient
    return out


def one_hot(tensor: Any, num_classes: int = -1) -> Any:
    """Integer labels as int64 one-hot vectors along a new last axis (``num_classes=-1``: the largest label + 1).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.one_hot(cr.tensor([0, 2]), 3)
    tensor([[1, 0, 0],
            [0, 0, 1]])
    """
    idx = index_array(tensor, "one_hot")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor")
        num_classes = int(idx.max()) + 1
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got values from {idx.min()} to "
                         f"{idx.max()}")
    out = (idx[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor(out) if isinstance(tensor, Tensor) else out


def _pad_index(n: int, before: int, after: int, mode: str) -> np.ndarray[Any, Any]:
    """Source positions of a padded axis: reflect (without the edge), replicate (the edge), or circular."""
    i = np.arange(-before, n + after)
    if mode == "reflect":
        if before >= n or after >= n:
            raise ValueError(f"pad: reflect padding ({before}, {after}) must be smaller than the dimension ({n})")
        i = np.abs(i)
        return np.where(i >= n, 2 * (n - 1) - i, i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if before > n or after > n:
        raise ValueError(f"pad: circular padding ({before}, {after}) must not exceed the dimension ({n})")
    return np.mod(i, n)


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Any:
    """Pad the last ``len(pad) // 2`` axes: ``pad = (last_before, last_after, second_last_before, ...)``.

    ``mode`` is "constant" (``value``, default 0; negative widths crop), "reflect", "replicate" or "circular".

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.pad(cr.tensor([[1.0, 2.0, 3.0]]), (1, 2))
    tensor([[0., 1., 2., 3., 0., 0.]])
    >>> F.pad(cr.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    tensor([[3., 2., 1., 2., 3., 2.]])
    """
    x = as_array(input)
    widths = [int(p) for p in pad]
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ValueError(f"pad: the padding {tuple(pad)} must have an even length of at most 2 * ndim = {2 * x.ndim}")
    pairs = [(widths[2 * k], widths[2 * k + 1]) for k in range(len(widths) // 2)]  # last axis first
    if mode == "constant":
        crop = [slice(None)] * x.ndim
        grow = [(0, 0)] * x.ndim
        for k, (b, a) in enumerate(pairs):
            axis = x.ndim - 1 - k
            crop[axis] = slice(builtins.max(-b, 0), x.shape[axis] - builtins.max(-a, 0))
            grow[axis] = (builtins.max(b, 0), builtins.max(a, 0))
        if any(w < 0 for w in widths):
            x = getitem(x, tuple(crop))
        return _pad_constant(x, grow, constant_values=0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    if value:
        raise ValueError(f"pad: a padding value only applies to mode='constant', not {mode!r}")
    if any(w < 0 for w in widths):
        raise ValueError(f"pad: negative padding is only supported in mode='constant', got {tuple(pad)}")
    for k, (b, a) in enumerate(pairs):
        axis = x.ndim - 1 - k
        if b or a:
            x = take(x, _pad_index(x.shape[axis], b, a, mode), axis=axis)
    return x


# ---- attention ------------------------------------------------------------------------------------------------------
def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Any:
    """``softmax(Q K^T * scale + mask) V`` over (..., L, E) queries, (..., S, E) keys and (..., S, Ev) values.

    ``scale`` defaults to 1 / sqrt(E). A boolean ``attn_mask`` marks the pairs that may attend (False -> -inf); a
    float mask is added to the scores. ``is_causal`` lets query i attend to keys j <= i only. With ``enable_gqa``,
    key and value heads (axis -3) are repeated to match the query heads.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> q = k = v = cr.ones((2, 3, 4))
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
    (2, 3, 4)
    """
    q, k, v = as_array(query), as_array(key), as_array(value)
    if enable_gqa and q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        if q.shape[-3] % k.shape[-3]:
            raise ValueError(f"scaled_dot_product_attention: {q.shape[-3]} query heads are not a multiple of "
                             f"{k.shape[-3]} key heads")
        reps = q.shape[-3] // k.shape[-3]
        k, v = repeat(k, reps, axis=k.ndim - 3), repeat(v, reps, axis=v.ndim - 3)
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = matmul(q, swapaxes(k, -1, -2)) * factor
    big_l, big_s = q.shape[-2], k.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
        scores = where(np.tril(np.ones((big_l, big_s), dtype=bool)), scores, -math.inf)
    if attn_mask is not None:
        mask = as_array(attn_mask)
        if mask.dtype == np.bool_:
            scores = where(mask, scores, -math.inf)  # (a recorded where: a mask passed to a compiled step is traced)
        else:
            scores = scores + mask
    weights = _softmax(scores, axis=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return matmul(weights, v)


# ---- activations ----------------------------------------------------------------------------------------------------
def _softmax_dim(ndim: int, dim: int | None, what: str) -> int:
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {what} has been deprecated. Change the call to include dim=X as "
                  "an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


@both_spellings
def softmax(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed without overflow.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.softmax(cr.tensor([[0.0, 0.0]]), dim=1)
    tensor([[0.5, 0.5]])
    """
    x = as_array(input) if dtype is None else as_array(input).astype(dtype)
    return _softmax(x, axis=_softmax_dim(x.ndim, dim, "softmax"))


@both_spellings
def softmin(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    """``softmax(-x)`` along ``dim``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.softmin(cr.tensor([0.0, 0.0]), dim=0)
    tensor([0.5, 0.5])
    """
    x = as_array(input) if dtype is None else as_array(input).astype(dtype)
    return _softmax(-x, axis=_softmax_dim(x.ndim, dim, "softmin"))


@both_spellings
def log_softmax(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    """``x - logsumexp(x)`` along ``dim``, finite for every finite input.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.log_softmax(cr.tensor([0.0, 1000.0]), dim=0)
    tensor([-1000.,     0.])
    """
    x = as_array(input) if dtype is None else as_array(input).astype(dtype)
    return _log_softmax(x, axis=_softmax_dim(x.ndim, dim, "log_softmax"))


def relu(input: Any, inplace: bool = False) -> Any:
    """``max(x, 0)``, with relu'(0) = 0. ``inplace`` is accepted for PyTorch compatibility (never in place here).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.relu(cr.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    return _relu(as_array(input))


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Any:
    """``x`` where positive, ``negative_slope * x`` elsewhere.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.leaky_relu(cr.tensor([-1.0, 2.0]), 0.1)
    tensor([-0.1,  2. ])
    """
    return _leaky_relu(as_array(input), negative_slope=negative_slope)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Any:
    """``x`` where positive, ``alpha (exp(x) - 1)`` elsewhere.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> print(f"{float(F.elu(cr.tensor(-1.0))):.4f}")
    -0.6321
    """
    return _elu(as_array(input), alpha=alpha)


def selu(input: Any, inplace: bool = False) -> Any:
    """Scaled ELU with the self-normalising constants.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> print(f"{float(F.selu(cr.tensor(1.0))):.4f}")
    1.0507
    """
    return _selu(as_array(input))


def silu(input: Any, inplace: bool = False) -> Any:
    """``x * sigmoid(x)`` (swish).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> print(f"{float(F.silu(cr.tensor(1.0))):.4f}")
    0.7311
    """
    return _silu(as_array(input))


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """``log(1 + exp(beta x)) / beta``, and x itself where ``beta x > threshold`` (as PyTorch).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.softplus(cr.tensor([0.0, 100.0]))
    tensor([  0.69314718, 100.        ])
    """
    x = as_array(input)
    bx = x * beta if beta != 1.0 else x
    soft = _softplus(bx) if beta == 1.0 else _softplus(bx) / beta
    return where(bx > threshold, x, soft)


def logsigmoid(input: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, finite for every finite x.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.logsigmoid(cr.tensor([-1000.0]))
    tensor([-1000.])
    """
    return log_sigmoid(as_array(input))


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Any:
    """``x`` clipped to [min_val, max_val].

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.hardtanh(cr.tensor([-2.0, 0.5, 3.0]))
    tensor([-1. ,  0.5,  1. ])
    """
    return _clip(as_array(input), min_val, max_val)


def relu6(input: Any, inplace: bool = False) -> Any:
    """``min(max(x, 0), 6)``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.relu6(cr.tensor([-1.0, 3.0, 9.0]))
    tensor([0., 3., 6.])
    """
    return _clip(as_array(input), 0.0, 6.0)


def mish(input: Any, inplace: bool = False) -> Any:
    """``x * tanh(softplus(x))``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> print(f"{float(F.mish(cr.tensor(1.0))):.4f}")
    0.8651
    """
    x = as_array(input)
    return x * tanh(_softplus(x))


def softsign(input: Any) -> Any:
    """``x / (1 + |x|)``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.softsign(cr.tensor([1.0, -3.0]))
    tensor([ 0.5 , -0.75])
    """
    x = as_array(input)
    return x / (1 + _abs(x))


# ---- losses ---------------------------------------------------------------------------------------------------------
def _class_targets(logp: Any, target: Any, ignore_index: int, what: str) -> tuple[Any, Any]:
    """Integer class targets, checked against the logits or log-probabilities (N, C, ...): the mask of those that
    count (not ``ignore_index``) and the targets with the ignored ones set to class 0, as host arrays.

    The mask is None where every target counts, and where the targets are a box of vmap or cr.compile: those have
    no values to check here, and the check that every target counts and is in range is a recorded step, run on
    every batch and at every replay."""
    axis = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[axis]
    expected = logp.shape[:axis] + logp.shape[axis + 1:]
    box = index_box(target)
    if box is not None:
        if box.shape != expected:
            raise ValueError(f"{what}: a target of shape {box.shape} does not match an input of shape "
                             f"{logp.shape} (expected {expected})")
        check = functools.partial(_every_target_counts, n_classes=n_classes, ignore_index=ignore_index, what=what)
        return None, check_values(box, check)
    idx = index_array(target, what)
    if idx.shape != expected:
        raise ValueError(f"{what}: a target of shape {idx.shape} does not match an input of shape {logp.shape} "
                         f"(expected {expected})")
    if _in_range(idx, n_classes) and not 0 <= ignore_index < n_classes:
        return None, idx  # every target counts (the usual batch: one pass to know it)
    counted = idx != ignore_index
    picked = np.where(counted, idx, 0)
    if counted.any() and (picked.min() < 0 or picked.max() >= n_classes):
        bad = idx[counted & ((idx < 0) | (idx >= n_classes))]
        raise IndexError(f"{what}: target {int(bad.flat[0])} is out of bounds for {n_classes} classes")
    return counted, picked


_UNSIGNED = {n: np.dtype(f"u{n}") for n in (1, 2, 4, 8)}  # by item size (made once: 0.5 us a call otherwise)


def _in_range(idx: Any, n_classes: int) -> bool:
    """Whether every integer in ``idx`` is a class, 0 <= y < n_classes, in one pass: read as unsigned numbers, the
    negative ones are huge, so the largest alone says it."""
    return not idx.size or bool(idx.view(_UNSIGNED[idx.dtype.itemsize]).max() < n_classes)


def _every_target_counts(idx: Any, n_classes: int, ignore_index: int, what: str) -> None:
    """Refuse targets out of range, or equal to ``ignore_index`` (a batch of vmap, a compiled step's targets)."""
    if _in_range(idx, n_classes) and not 0 <= ignore_index < n_classes:  # (in range, none is ignore_index)
        return
    if (idx == ignore_index).any():
        raise ValueError(f"{what}: a target equal to ignore_index ({ignore_index}) computed inside cr.compile or "
                         "vmap, whose step picks every target's log-probability: pass the batch to the eager "
                         "function, or give ignored targets the weight 0 with probability targets")
    if idx.size and (idx.min() < 0 or idx.max() >= n_classes):
        bad = idx[(idx < 0) | (idx >= n_classes)]
        raise IndexError(f"{what}: target {int(bad.flat[0])} is out of bounds for {n_classes} classes")


def _class_coefficients(logp: Any, target: Any, weight: Any, ignore_index: int, smoothing: float,
                        what: str) -> tuple[np.ndarray[Any, Any], float]:
    """The constant array c with ``loss_i = -sum_c c[i, c] logp[i, c]`` for integer class targets, and the
    denominator of ``reduction="mean"`` (the summed weight of the targets that count).

    c[i, c] = w_c ((1 - s) [c == y_i] + s / C) for a counted target y_i, 0 for an ignored one (s: label smoothing).
    """
    axis = 0 if logp.ndim == 1 else 1
    n_classes = logp.shape[axis]
    counted, picked = _class_targets(logp, target, ignore_index, what)
    box = index_box(target)
    if box is not None:
        refusal = CompileError if type(box) is Traced else BatchValueError
        raise refusal(f"{what}: integer targets computed inside cr.compile or vmap take no class weights, label "
                      "smoothing or ignored targets (their coefficients are made from the targets' values): pass "
                      "probability (one-hot) targets instead")
    if counted is None:
        counted = np.ones(picked.shape, dtype=bool)
    dtype = logp.dtype
    w = np.ones(n_classes, dtype=dtype) if weight is None else _class_weights(weight, what, dtype)
    if w.shape != (n_classes,):
        raise ValueError(f"{what}: weight must have shape ({n_classes},), got {w.shape}")
    classes = np.arange(n_classes).reshape((n_classes,) + (1,) * (logp.ndim - axis - 1))
    hit = np.expand_dims(picked, axis) == classes
    w_class = w.reshape(classes.shape)
    keep = np.expand_dims(counted, axis)
    coef = np.where(keep & hit, w_class * (1.0 - smoothing), 0.0)
    if smoothing:
        coef = coef + np.where(keep, w_class * (smoothing / n_classes), 0.0)
    denominator = float(np.sum(np.where(counted, w[picked], 0.0)))
    return like(coef.astype(dtype, copy=False), logp), denominator  # built on the host, used on logp's device


def _times(c: Any, v: Any) -> Any:
    """``c * v``, except that ``0 * ±inf`` is 0: the convention ``0 log 0 = 0`` of every cross-entropy, so a class
    (or an outcome) that the target gives no weight costs nothing even where its log-probability is -inf; its
    gradient there is 0. A NaN in ``v`` still gives NaN."""
    if type(bottom(c)) is Example or type(bottom(v)) is Example:  # a box of vmap or cr.compile: no values to test
        return c * where((c == 0) & isinf(v), 0.0, v)
    skip = (_raw(c) == 0) & np.isinf(_raw(v))
    return c * where(skip, 0.0, v) if skip.any() else c * v


def _weighted_mean(loss: Any, denominator: float) -> Any:
    """``sum(loss) / denominator``, each term divided first so that the sum overflows only where the mean itself
    does (float16 holds a mean of 6e4, not the sum of two); NaN (as PyTorch) when nothing counted, without a
    division-by-zero warning."""
    if denominator == 0.0:
        return _sum(loss) * 0.0 + math.nan  # gradient 0, as PyTorch
    if loss.dtype == np.float16:  # float16 holds no count over 65504: the terms in float32, the mean back
        return astype(_sum(astype(loss, np.float32) / denominator), np.float16)
    return _sum(loss / denominator)


def _picked(logp: Any, classes: Any) -> Any:
    """``logp[..., y, ...]`` along the class axis for each example's class y (an array of the targets' shape)."""
    axis = 0 if logp.ndim == 1 else 1
    index = classes if isinstance(classes, Tensor) else like(classes, logp)
    shape = (*classes.shape[:axis], 1, *classes.shape[axis:])
    return reshape(take_along_axis(logp, reshape(index, shape), axis), classes.shape)


def nll_loss(input: Any, target: Any, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Any:
    """Negative log-likelihood of integer targets under log-probabilities ``input`` (N, C) or (N, C, d1, ...).

    ``loss_i = -w[y_i] input[i, y_i]``; targets equal to ``ignore_index`` count for nothing; "mean" divides the sum
    by the summed weights of the counted targets.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.nll_loss(cr.tensor([[-1.0, -2.0], [-3.0, -4.0]]), [1, 0])
    tensor(2.5)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    logp = as_array(input)
    if weight is None:
        counted, picked = _class_targets(logp, target, ignore_index, "nll_loss")
        if counted is None or counted.all():  # every target counts with weight 1: -log p_y picked out
            loss = -_picked(logp, picked)  # (the coefficients below give the same numbers, and need the values)
            return _weighted_mean(loss, float(loss.size)) if reduction == "mean" else _reduce(loss, reduction)
    coef, denominator = _class_coefficients(logp, target, weight, ignore_index, 0.0, "nll_loss")
    loss = -_sum(_times(coef, logp), axis=0 if logp.ndim == 1 else 1)
    if reduction == "mean":
        return _weighted_mean(loss, denominator)
    return _reduce(loss, reduction)


def cross_entropy(input: Any, target: Any, weight: Any = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Any:
    """Cross-entropy of logits (N, C) or (N, C, d1, ...) against integer classes or class probabilities.

    Stable at any logit size; a logit of -inf is a class of probability 0, which costs nothing unless the target
    puts weight on it (0 log 0 = 0). Integer targets without weights or smoothing are one primitive,
    ``logsumexp(x) - x[y]`` per example, whose gradient is ``softmax(x) - onehot(y)``; the other cases multiply
    ``log_softmax`` by the target's coefficients. For integer targets: ``-w[y] log p_y``, with
    ``ignore_index`` and "mean" over the summed weights of the counted targets; for probability targets (same shape
    as the input): ``-sum_c w_c t_c log p_c``, "mean" over the batch elements. ``label_smoothing`` s mixes the
    target with the uniform distribution: (1 - s) target + s / C.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.cross_entropy(cr.tensor([[0.0, 0.0], [1000.0, 0.0]]), [1, 0])
    tensor(0.34657359)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    x = as_array(input)
    if x.ndim == 0:
        raise ValueError("cross_entropy: the input must have a class axis (shape (C,), (N, C) or (N, C, d1, ...))")
    axis = 0 if x.ndim == 1 else 1
    t = as_array(target)
    if t.dtype.kind != "f":
        if weight is None and not label_smoothing:
            counted, picked = _class_targets(x, t, ignore_index, "cross_entropy")
            if counted is None or counted.all():
                # every target counts with weight 1: logsumexp(x) - x[y], reduced, in one primitive whose rule is
                # softmax(x) - onehot(y) (the coefficients below would multiply the whole (N, C) array by a one-hot
                # matrix; log_softmax, a pick and the mean's divide and sum are four nodes, one a scatter)
                return _softmax_cross_entropy(x, picked if isinstance(picked, Tensor) else like(picked, x),
                                              axis=axis, reduction=reduction)
        logp = _log_softmax(x, axis=axis)
        coef, denominator = _class_coefficients(logp, t, weight, ignore_index, label_smoothing, "cross_entropy")
        loss = -_sum(_times(coef, logp), axis=axis)
        if reduction == "mean":
            return _weighted_mean(loss, denominator)
        return _reduce(loss, reduction)
    if t.shape != x.shape:
        raise ValueError(f"cross_entropy: probability targets must have the input's shape {x.shape}, got {t.shape}")
    logp = _log_softmax(x, axis=axis)
    n_classes = x.shape[axis]
    if label_smoothing:
        t = t * (1.0 - label_smoothing) + label_smoothing / n_classes
    terms = _times(t, logp)
    if weight is not None:
        w = _class_weights(weight, "cross_entropy", x.dtype)
        terms = terms * w.reshape((n_classes,) + (1,) * (x.ndim - axis - 1))
    return _reduce(-_sum(terms, axis=axis), reduction)


def _input_and_target(input: Any, target: Any, what: str) -> tuple[Any, Any]:
    """The input and the target of an elementwise loss as arrays, after checking that they have the same shape.

    PyTorch only warns when they differ; broadcasting them would silently compare every input with every target
    (a (3, 1) input against a (3,) target gives nine terms), so a loss refuses it here.
    """
    x, y = as_array(input), as_array(target)
    if x.shape != y.shape:
        try:
            joint = f" (broadcasting would compute {np.broadcast_shapes(x.shape, y.shape)} terms)"
        except ValueError:
            joint = ""
        fix = f", e.g. target.reshape{x.shape}" if x.size == y.size else ""
        raise ValueError(f"{what}: input of shape {x.shape} and target of shape {y.shape} differ{joint}; give the "
                         f"target the input's shape{fix}")
    return x, y


def _check_broadcast(what: str, name: str, value: Any, shape: tuple[int, ...]) -> None:
    """A weight may broadcast against the loss, but not widen it (which would count terms several times)."""
    own = tuple(as_array(value).shape)
    try:
        fits = np.broadcast_shapes(own, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{what}: {name} of shape {own} does not broadcast to the input's shape {shape}")


def _elementwise_loss(loss: Any, weight: Any, reduction: str, mean_over_weight: bool, what: str) -> Any:
    _check_reduction(reduction)
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(as_array(weight).shape) != tuple(loss.shape):
        raise ValueError(f"{what}: weight of shape {tuple(as_array(weight).shape)} must have the input's shape "
                         f"{tuple(loss.shape)}")
    loss = loss * weight
    if reduction == "mean" and mean_over_weight:
        return _sum(loss) / _sum(weight)
    return _reduce(loss, reduction)


def mse_loss(input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean", weight: Any = None) -> Any:
    """Squared error ``(x - y)^2``; with an elementwise ``weight``, "mean" divides by the summed weight.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0]))
    tensor(2.5)
    """
    x, y = _input_and_target(input, target, "mse_loss")
    d = x - y
    return _elementwise_loss(d * d, weight, _legacy_reduction(size_average, reduce, reduction), True, "mse_loss")


def l1_loss(input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean", weight: Any = None) -> Any:
    """Absolute error ``|x - y|`` (gradient 0 where x == y); a ``weight`` as in ``mse_loss``.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.l1_loss(cr.tensor([1.0, -3.0]), cr.tensor([0.0, 0.0]))
    tensor(2.)
    """
    x, y = _input_and_target(input, target, "l1_loss")
    return _elementwise_loss(_abs(x - y), weight, _legacy_reduction(size_average, reduce, reduction), True,
                             "l1_loss")


def smooth_l1_loss(input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Any:
    """``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``beta = 0``: the L1 loss).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), reduction="none")
    tensor([0.125, 2.5  ])
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, y = _input_and_target(input, target, "smooth_l1_loss")
    d = x - y
    ad = _abs(d)
    loss = ad if beta == 0 else where(ad < beta, (0.5 / beta) * d * d, ad - 0.5 * beta)
    return _elementwise_loss(loss, None, _legacy_reduction(size_average, reduce, reduction), False, "smooth_l1_loss")


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0, weight: Any = None) -> Any:
    """``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``; a ``weight`` multiplies elementwise.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.huber_loss(cr.tensor([0.5, 3.0]), cr.tensor([0.0, 0.0]), reduction="none", delta=2.0)
    tensor([0.125, 4.   ])
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, y = _input_and_target(input, target, "huber_loss")
    d = x - y
    ad = _abs(d)
    loss = where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
    return _elementwise_loss(loss, weight, reduction, False, "huber_loss")


def _clamped_log(p: Any) -> Any:
    """``max(log p, -100)`` as PyTorch's BCE takes it, without evaluating log(0) (gradient 0 at p = 0)."""
    positive = p > 0
    return maximum(where(positive, log(where(positive, p, 1.0)), -100.0), -100.0)


def _probabilities(raw: Any) -> None:
    if raw.size and not bool(((raw >= 0) & (raw <= 1)).all()):
        raise ValueError("binary_cross_entropy: all elements of input should be between 0 and 1")


def binary_cross_entropy(input: Any, target: Any, weight: Any = None, size_average: bool | None = None,
                         reduce: bool | None = None, reduction: str = "mean") -> Any:
    """``-w (y log x + (1 - y) log(1 - x))`` for probabilities x in [0, 1], each log clamped at -100 (as PyTorch).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.binary_cross_entropy(cr.tensor([0.5, 0.0]), cr.tensor([1.0, 1.0]), reduction="none")
    tensor([  0.69314718, 100.        ])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, y = _input_and_target(input, target, "binary_cross_entropy")
    x = check_values(x, _probabilities)
    loss = -(y * _clamped_log(x) + (1 - y) * _clamped_log(1 - x))
    if weight is not None:
        _check_broadcast("binary_cross_entropy", "weight", weight, x.shape)
        loss = loss * weight
    return _elementwise_loss(loss, None, reduction, False, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Any, target: Any, weight: Any = None, size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Any:
    """BCE of ``sigmoid(x)``, computed stably: ``pw y softplus(-x) + (1 - y) softplus(x)``.

    ``pos_weight`` (broadcast along the last axis) weighs the positive term. The two terms are
    ``-log sigmoid(±x)`` as softplus gives them, finite at every finite x; at x = ±inf the term the target gives no
    weight counts 0, so ``x = inf, y = 1`` costs 0, not NaN.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.binary_cross_entropy_with_logits(cr.tensor([1000.0, -1000.0]), cr.tensor([0.0, 0.0]), reduction="none")
    tensor([1000.,    0.])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    what = "binary_cross_entropy_with_logits"
    x, y = _input_and_target(input, target, what)
    # -[pw y log s(x) + (1 - y) log(1 - s(x))] with -log s(x) = softplus(-x) and -log(1 - s(x)) = softplus(x)
    positive = y
    if pos_weight is not None:
        _check_broadcast(what, "pos_weight", pos_weight, x.shape)
        positive = pos_weight * y
    loss = _times(positive, _softplus(-x)) + _times(1 - y, _softplus(x))
    if weight is not None:
        _check_broadcast(what, "weight", weight, x.shape)
        loss = loss * weight
    return _elementwise_loss(loss, None, reduction, False, what)


def kl_div(input: Any, target: Any, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Any:
    """Kullback-Leibler divergence with ``input`` as log-probabilities: ``t (log t - input)`` pointwise (0 where t is
    0), or ``exp(t) (t - input)`` with ``log_target``.

    "mean" averages over every element (PyTorch's semantics); "batchmean" divides the sum by the batch size, which
    is the mathematical KL divergence per sample.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.kl_div(cr.log(cr.tensor([[0.5, 0.5]])), cr.tensor([[1.0, 0.0]]), reduction="batchmean")
    tensor(0.69314718)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, ("mean", "batchmean", "sum", "none"))
    x, t = _input_and_target(input, target, "kl_div")
    # p (log p - input) with p the target probability; 0 where p is 0, whatever the input (even -inf)
    if log_target:
        p = exp(t)
        loss = _times(p, t) - _times(p, x)
    else:
        positive = t > 0
        loss = where(positive, t * log(where(positive, t, 1.0)), 0.0) - _times(t, x)
    if reduction == "batchmean":
        total = _sum(loss)
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction)


@both_spellings
def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Any:
    """``sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps))`` along ``dim`` (the inputs broadcast against each other).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.cosine_similarity(cr.tensor([[1.0, 0.0], [1.0, 1.0]]), cr.tensor([[2.0, 0.0], [-1.0, -1.0]]))
    tensor([ 1., -1.])
    """
    a, b = as_array(x1), as_array(x2)
    return _sum((a / maximum(_norm(a, 2.0, dim), eps)) * (b / maximum(_norm(b, 2.0, dim), eps)), axis=dim)


# ---- convolution and pooling in 1 and 3 dimensions, adaptive max pooling, interpolation ------------------------------
# All on the 2-d primitives: a 1-d input is an image of height 1; a 3-d convolution is one 2-d convolution whose
# channels are the depth taps (each output depth slice sees kd input slices); 3-d max pooling is separable (the
# maximum over a box is the maximum over depth of the maxima over each slice's window), which also keeps PyTorch's
# rule of the first maximum in row-major order.
def _flat_spatial(x: Any, kw: dict[str, Any], what: str) -> tuple[Any, dict[str, Any]]:
    """A batched (N, C, L) input and 1-d pooling arguments as (N, C, 1, L) and their 2-d form."""
    return reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])), {
        "kernel_size": (1, *kw["kernel_size"]), "stride": (1, *kw["stride"]), "padding": ((0, 0), *kw["padding"]),
        "dilation": (1, *kw["dilation"])}


def _drop_height(out: Any) -> Any:
    """(N, C, 1, L) results (and their indices into 1 * L) back to (N, C, L)."""
    if isinstance(out, tuple):
        return tuple(reshape(v, (v.shape[0], v.shape[1], v.shape[3])) for v in out)
    return reshape(out, (out.shape[0], out.shape[1], out.shape[3]))


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The maximum over each (dilated) window of an (N, C, L) or (C, L) input; ``stride`` defaults to the kernel.
    The gradient goes to the first maximum of each window; ``return_indices`` also gives its position in L.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2)
    tensor([[[3., 5.]]])
    """
    x, unbatched = _unbatched(as_array(input), 3, "max_pool1d")
    x4, kw = _flat_spatial(x, _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool1d"),
                           "max_pool1d")
    return _unbatch_all(_drop_height(_max_pool(x4, kw, return_indices)), unbatched)


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Any:
    """The mean over each window of an (N, C, L) or (C, L) input (the zero padding counted with
    ``count_include_pad``).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.avg_pool1d(cr.tensor([[1.0, 3.0, 2.0, 6.0]]), 2)
    tensor([[2., 4.]])
    """
    x, unbatched = _unbatched(as_array(input), 3, "avg_pool1d")
    x4, kw = _flat_spatial(x, _pool_args(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool1d"), "avg_pool1d")
    del kw["dilation"]
    y = _nn.avg_pool2d(x4, count_include_pad=bool(count_include_pad), divisor_override=None, **kw)
    return _unbatch_all(_drop_height(y), unbatched)


def _adaptive_size(x: Any, output_size: Any, n: int, what: str) -> tuple[int, ...]:
    """``output_size`` (an int or an n-tuple, None keeping that input size) for x's last n axes."""
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{what}: expected a {n + 1}-d or {n + 2}-d input, got shape {x.shape}")
    sizes = (output_size,) * n if output_size is None or isinstance(output_size, (int, np.integer)) \
        else tuple(output_size)
    if len(sizes) != n:
        raise ValueError(f"{what}: output_size must be an int or a sequence of {n}, got {output_size!r}")
    out = tuple(int(x.shape[x.ndim - n + i]) if v is None else int(v) for i, v in enumerate(sizes))
    _positive(out, "output_size", what)
    return out


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """The mean over PyTorch's adaptive windows [floor(i L / out), ceil((i + 1) L / out)) of an (N, C, L) or (C, L)
    input.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.adaptive_avg_pool1d(cr.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]]), 2)
    tensor([[2., 4.]])
    """
    x = as_array(input)
    (out,) = _adaptive_size(x, output_size, 1, "adaptive_avg_pool1d")
    y = _nn.adaptive_avg_pool2d(reshape(x, (*x.shape[:-1], 1, x.shape[-1])), output_size=(1, out))
    return reshape(y, (*x.shape[:-1], out))


def _adaptive_max_axis(x: Any, out: int, axis: int) -> tuple[Any, Any]:
    """Adaptive max pooling along one axis: the maxima, and the position along ``axis`` of each window's first
    maximum (a NaN counts as the maximum), an int64 array on x's device."""
    n = int(x.shape[axis])
    i = np.arange(out)
    start, end = (i * n) // out, -((-(i + 1) * n) // out)
    window = start[:, None] + np.arange(int((end - start).max()))
    window = np.where(window < end[:, None], window, end[:, None] - 1)  # short windows repeat their last element
    raw = np.moveaxis(_raw(x), axis, -1)
    values_ = raw[..., window]  # (..., out, k): values only, for the choice
    chosen = np.moveaxis(like(window, raw)[np.arange(out), np.argmax(values_, axis=-1)], -1, axis).astype(np.int64)
    return take_along_axis(x, chosen, axis=axis), chosen


def adaptive_max_pool2d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """The maximum over PyTorch's adaptive windows of an (N, C, H, W) or (C, H, W) input; the gradient goes to the
    first maximum in row-major order, and ``return_indices`` gives its flat index into H * W.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.adaptive_max_pool2d(cr.arange(12.0).reshape(1, 3, 4), (2, 1))
    tensor([[[ 7.],
             [11.]]])
    """
    x = as_array(input)
    out_h, out_w = _adaptive_size(x, output_size, 2, "adaptive_max_pool2d")
    # separable: the maximum of each row's window first, then over the rows of the window
    rows_max, col = _adaptive_max_axis(x, out_w, -1)
    y, row = _adaptive_max_axis(rows_max, out_h, -2)
    if not return_indices:
        return y
    flat = row * int(x.shape[-1]) + np.take_along_axis(col, row, axis=-2)
    return y, (Tensor(flat) if isinstance(y, Tensor) else flat)


def adaptive_max_pool1d(input: Any, output_size: Any, return_indices: bool = False) -> Any:
    """The maximum over PyTorch's adaptive windows of an (N, C, L) or (C, L) input (``return_indices``: positions).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.adaptive_max_pool1d(cr.tensor([[1.0, 5.0, 2.0, 4.0, 3.0]]), 2)
    tensor([[5., 4.]])
    """
    x = as_array(input)
    (out,) = _adaptive_size(x, output_size, 1, "adaptive_max_pool1d")
    y, idx = _adaptive_max_axis(x, out, -1)
    if not return_indices:
        return y
    return y, (Tensor(idx) if isinstance(y, Tensor) else idx)


def conv3d(input: Any, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
           groups: int = 1) -> Any:
    """3-d cross-correlation of an (N, C, D, H, W) input with a (O, C / groups, kd, kh, kw) weight, plus a bias (O,);
    padding is an int, a triple, "valid" or "same" (stride 1 only). An unbatched (C, D, H, W) input gives (O, Do,
    Ho, Wo).

    Computed as one 2-d convolution over every output depth slice at once, whose input channels are the kd depth
    taps of each group's channels (so its derivatives, of any order and in both modes, are convolutions again).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.conv3d(cr.ones((1, 1, 3, 3, 3)), cr.ones((2, 1, 2, 2, 2)), padding=(1, 0, 0)).shape
    (1, 2, 4, 2, 2)
    """
    x, w, bias, stride, all_pads, dilation, groups, unbatched = _conv_args(input, weight, bias, stride, padding,
                                                                           dilation, groups, 3, "conv3d")
    (before, after), *pads = all_pads
    n, _, depth, h, wd = x.shape
    o, cg, kd = w.shape[0], w.shape[1], w.shape[2]
    sd, dd = stride[0], dilation[0]
    out_depth = (depth + before + after - dd * (kd - 1) - 1) // sd + 1
    if out_depth <= 0:
        raise ValueError(f"conv3d: input of depth {depth} (padded {depth + before + after}) is smaller than the "
                         f"dilated kernel ({dd * (kd - 1) + 1})")
    if before or after:
        x = _pad_constant(x, [(0, 0), (0, 0), (before, after), (0, 0), (0, 0)])
    span = sd * (out_depth - 1) + 1
    taps = [getitem(x, (slice(None), slice(None), slice(a * dd, a * dd + span, sd))) for a in range(kd)]
    # (N, kd, g, C/g, Do, H, W) -> (N * Do, g * kd * C/g, H, W): each group's channels are its kd taps of its C/g
    slabs = reshape(stack(taps, axis=1), (n, kd, groups, cg, out_depth, h, wd))
    slabs = reshape(transpose(slabs, (0, 4, 2, 1, 3, 5, 6)), (n * out_depth, groups * kd * cg, h, wd))
    w2 = reshape(transpose(w, (0, 2, 1, 3, 4)), (o, kd * cg, *w.shape[3:]))
    y = _nn.conv2d(slabs, w2, None, stride=stride[1:], padding=tuple(pads), dilation=dilation[1:], groups=groups)
    y = swapaxes(reshape(y, (n, out_depth, o, *y.shape[2:])), 1, 2)
    if bias is not None:
        y = y + _broadcast_channels(bias, 5)
    return reshape(y, y.shape[1:]) if unbatched else y


def max_pool3d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The maximum over each (dilated) ``kernel_size`` box of an (N, C, D, H, W) or (C, D, H, W) input; ``stride``
    defaults to the kernel. The gradient goes to the first maximum in row-major order, as PyTorch;
    ``return_indices`` also gives its flat index into D * H * W.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.max_pool3d(cr.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    tensor([[[[[7.]]]]])
    """
    x, unbatched = _unbatched(as_array(input), 5, "max_pool3d")
    kw = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool3d")
    n, c, depth, h, w = x.shape
    # each depth slice's (H, W) windows first, then over the depth window of those maxima
    plane = {k: v[1:] for k, v in kw.items()}
    first = _max_pool(reshape(x, (n, c * depth, h, w)), plane, return_indices)
    slices, plane_idx = first if return_indices else (first, None)
    ho, wo = slices.shape[2:]
    column = reshape(slices, (n, c, depth, ho * wo))
    line = {k: (v[0], (0, 0) if k == "padding" else 1) for k, v in kw.items()}
    second = _max_pool(column, line, return_indices)
    y = reshape(second[0] if return_indices else second, (n, c, -1, ho, wo))
    if not return_indices:
        return _unbatch_all(y, unbatched)
    d = _raw(second[1]) // (ho * wo)  # the chosen depth of each output, and that slice's position in H * W
    within = np.take_along_axis(_raw(plane_idx).reshape(n, c, depth, ho * wo), d, axis=2)
    flat = (d * (h * w) + within).reshape(y.shape)
    return _unbatch_all((y, Tensor(flat) if isinstance(y, Tensor) else flat), unbatched)


_INTERPOLATING = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_CUBIC_A = -0.75  # PyTorch's bicubic convolution coefficient


def _cubic_weights(t: np.ndarray[Any, Any]) -> list[np.ndarray[Any, Any]]:
    """Keys' cubic convolution weights of the samples at offsets -1, 0, 1, 2 for a fraction t in [0, 1)."""
    a = _CUBIC_A

    def near(d: Any) -> Any:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: Any) -> Any:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _resampling(n: int, out: int, scale: float | None, mode: str, align_corners: bool) -> np.ndarray[Any, Any]:
    """The (out, n) matrix of one axis's resampling (``mode`` linear or cubic, or "area"), by PyTorch's source-index
    rules: align_corners maps the end samples onto each other; otherwise sample centres are matched, with the given
    ``scale_factor`` (its inverse is the step) or n / out."""
    if mode == "area":
        return _nn._averaging(n, out)
    if align_corners:
        step = (n - 1) / (out - 1) if out > 1 else 0.0
        src = step * np.arange(out)
    else:
        step = 1.0 / scale if scale else n / out
        src = step * (np.arange(out) + 0.5) - 0.5
        if mode == "linear":
            src = np.maximum(src, 0.0)
    base = np.floor(src).astype(np.intp)
    t = src - base
    rows = np.arange(out)
    matrix = np.zeros((out, n))
    if mode == "linear":
        np.add.at(matrix, (rows, np.minimum(base, n - 1)), 1.0 - t)
        np.add.at(matrix, (rows, np.minimum(base + 1, n - 1)), t)
    else:  # samples outside the axis take the nearest edge's value
        for offset, weight in zip((-1, 0, 1, 2), _cubic_weights(t)):
            np.add.at(matrix, (rows, np.clip(base + offset, 0, n - 1)), weight)
    return matrix


def interpolate(input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Any:
    """Resample the spatial axes of an (N, C, *spatial) input to ``size`` (or ``scale_factor`` times it, rounded
    down), as PyTorch: ``mode`` "nearest", "nearest-exact", "linear" (3-d input), "bilinear" or "bicubic" (4-d),
    "trilinear" (5-d) or "area" (adaptive averaging). Every mode is separable: one constant resampling per axis
    (a gather for the nearest modes, a product with a matrix otherwise), so the gradient is its transpose.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.interpolate(cr.tensor([[[1.0, 2.0]]]), scale_factor=2)
    tensor([[[1., 1., 2., 2.]]])
    >>> F.interpolate(cr.tensor([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True)
    tensor([[[1. , 1.5, 2. ]]])
    """
    x = as_array(input)
    spatial = x.ndim - 2
    modes = ("nearest", "nearest-exact", "area", *_INTERPOLATING)
    if mode not in modes:
        raise ValueError(f"interpolate: mode must be one of {', '.join(modes)}, got {mode!r}")
    if not 1 <= spatial <= 3:
        raise ValueError(f"interpolate: expected a 3-d, 4-d or 5-d input (N, C, *spatial), got shape {x.shape}")
    if mode in _INTERPOLATING and _INTERPOLATING[mode] != spatial:
        raise ValueError(f"interpolate: got a {x.ndim}-d input, but {mode} mode needs a "
                         f"{_INTERPOLATING[mode] + 2}-d input")
    if align_corners is not None and mode not in _INTERPOLATING:
        raise ValueError("interpolate: align_corners can only be set with the interpolating modes: linear, bilinear, "
                         "bicubic and trilinear")
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported (resample without it, or blur first)")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    sizes_in = [int(v) for v in x.shape[2:]]
    if size is not None:
        sizes_out = list(_ntuple(size, spatial, "size"))
        scales: list[float | None] = [None] * spatial
    else:
        factors = ([float(scale_factor)] * spatial if np.ndim(scale_factor) == 0
                   else [float(f) for f in scale_factor])
        if len(factors) != spatial:
            raise ValueError(f"interpolate: scale_factor must be a number or a sequence of {spatial}, got "
                             f"{scale_factor!r}")
        sizes_out = [math.floor(n * f) for n, f in zip(sizes_in, factors)]
        scales = [None] * spatial if recompute_scale_factor else list(factors)
    _positive(tuple(sizes_out), "output size", "interpolate")
    for k, (n, out, scale) in enumerate(zip(sizes_in, sizes_out, scales)):
        axis = 2 + k
        if mode.startswith("nearest"):
            step = 1.0 / scale if scale else n / out
            shift = 0.5 if mode == "nearest-exact" else 0.0
            x = take(x, np.minimum(np.floor((np.arange(out) + shift) * step).astype(np.intp), n - 1), axis=axis)
            continue
        kind = "area" if mode == "area" else "cubic" if mode == "bicubic" else "linear"
        matrix = like(_resampling(n, out, scale, kind, bool(align_corners)).astype(x.dtype), _raw(x))
        x = swapaxes(matmul(swapaxes(x, axis, -1), matrix.T), axis, -1)
    return x
# ---- ranking, embedding, triplet and CTC losses ---------------------------------------------------------------------
__all__ += ["cosine_embedding_loss", "ctc_loss", "margin_ranking_loss", "pairwise_distance", "triplet_margin_loss"]


def _hinge(v: Any) -> Any:
    """``max(v, 0)`` with PyTorch's ``clamp_min`` gradient: 1 where v >= 0, so at the kink v = 0 it passes through."""
    return where(v >= 0, v, 0.0)


def _constant_target(target: Any, what: str) -> np.ndarray[Any, Any]:
    """A target the loss only compares (a sign, a label): refused when differentiated, since nothing flows to it."""
    if holds_box((target,)):
        raise TypeError(f"{what}: the target only selects terms and has no gradient; pass a constant "
                        "(target.detach())")
    return _raw(target)


def margin_ranking_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Any:
    """``max(0, -y (x1 - x2) + margin)`` for targets y = ±1 (1: x1 should rank higher).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.margin_ranking_loss(cr.tensor([1.0, 0.0]), cr.tensor([0.0, 1.0]), cr.tensor([1.0, 1.0]), margin=0.5,
    ...                       reduction="none")
    tensor([0. , 1.5])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    a, b, y = as_array(input1), as_array(input2), as_array(target)
    if not a.ndim == b.ndim == y.ndim:
        raise ValueError(f"margin_ranking_loss: input1, input2 and target must have the same number of dimensions, "
                         f"got shapes {a.shape}, {b.shape} and {y.shape}")
    return _elementwise_loss(_hinge(-y * (a - b) + margin), None, reduction, False, "margin_ranking_loss")


def cosine_embedding_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Any:
    """``1 - cos(x1, x2)`` where y = 1, ``max(0, cos(x1, x2) - margin)`` where y = -1; rows (N, D) or one (D,).

    The cosine is PyTorch's: ``x1·x2 / sqrt((|x1|² + 1e-12)(|x2|² + 1e-12))``, so a zero vector has cosine 0.

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.cosine_embedding_loss(cr.tensor([[1.0, 0.0], [1.0, 0.0]]), cr.tensor([[0.0, 1.0], [1.0, 0.0]]),
    ...                         cr.tensor([1, -1]), reduction="none")
    tensor([1., 1.])
    """
    what = "cosine_embedding_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    a, b = as_array(input1), as_array(input2)
    y = _constant_target(target, what)
    if a.shape != b.shape or a.ndim not in (1, 2) or tuple(y.shape) != a.shape[:-1]:
        raise ValueError(f"{what}: expected inputs of one shape, (N, D) with a target (N,) or (D,) with a 0-d "
                         f"target, got {a.shape}, {b.shape} and a target of shape {tuple(y.shape)}")
    eps = 1e-12  # PyTorch's EPSILON, added to each squared norm
    cos = _sum(a * b, axis=-1) / sqrt((_sum(a * a, axis=-1) + eps) * (_sum(b * b, axis=-1) + eps))
    loss = where(y == 1, 1 - cos, 0.0) + where(y == -1, _hinge(cos - margin), 0.0)
    return _elementwise_loss(loss, None, reduction, False, what)


@both_spellings
def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Any:
    """``||x1 - x2 + eps||_p`` over the last axis (PyTorch's: the eps keeps the norm away from its kink at 0).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> F.pairwise_distance(cr.tensor([[3.0, 0.0]]), cr.tensor([[0.0, 4.0]]), eps=0.0)
    tensor([5.])
    """
    if not (isinstance(p, (int, float)) and 0 < p < math.inf):
        raise ValueError(f"pairwise_distance: p must be a positive finite number, got {p!r}")
    d = _norm(as_array(x1) - as_array(x2) + eps, float(p), -1)
    return d if keepdim else reshape(d, d.shape[:-1])


def triplet_margin_loss(anchor: Any, positive: Any, negative: Any, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Any:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with d the ``pairwise_distance``; ``swap`` uses
    ``min(d(a, n), d(p, n))`` as the negative distance (the harder one). Inputs (N, D) or (D,).

    >>> import chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> a, pos, neg = cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), cr.tensor([[0.0, 1.0]])
    >>> F.triplet_margin_loss(a, pos, neg, eps=0.0)
    tensor(5.)
    """
    what = "triplet_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"{what}: margin must be greater than 0, got {margin}")
    a, pos, neg = as_array(anchor), as_array(positive), as_array(negative)
    if not a.ndim == pos.ndim == neg.ndim or a.ndim not in (1, 2):
        raise ValueError(f"{what}: anchor, positive and negative must all be 1-d (D,) or all 2-d (N, D), got "
                         f"shapes {a.shape}, {pos.shape} and {neg.shape}")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = _minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return _elementwise_loss(_hinge(margin + d_pos - d_neg), None, reduction, False, what)


def _log_add_exp(x: Any, axis: int) -> Any:
    """``log(sum(exp(x), axis))`` shifted by the maximum, and -inf with gradient 0 where every term is -inf (a CTC
    state no path reaches yet), where logsumexp's own gradient is 0/0."""
    raw = _raw(x)
    top = np.max(raw, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0).astype(raw.dtype)
    total = _sum(exp(x - top), axis=axis)
    reached = total > 0
    return where(reached, log(where(reached, total, 1.0)), -math.inf) + np.squeeze(top, axis)


def _ctc_targets(targets: Any, target_lengths: np.ndarray[Any, Any], n: int, blank: int, n_classes: int
                 ) -> np.ndarray[Any, Any]:
    """The targets as a padded (N, max length) host array of labels (padding: ``blank``), from either of PyTorch's
    layouts: padded (N, S), or all targets concatenated (sum(target_lengths),)."""
    what = "ctc_loss"
    labels = index_array(targets, what)
    longest = int(target_lengths.max(initial=0))
    padded = np.full((n, longest), blank, dtype=np.int64)
    if labels.ndim == 1:
        if labels.size != int(target_lengths.sum()):
            raise ValueError(f"{what}: concatenated targets hold {labels.size} labels, but target_lengths sum to "
                             f"{int(target_lengths.sum())}")
        starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]]).astype(np.int64)
        for i, (start, length) in enumerate(zip(starts, target_lengths)):
            padded[i, :length] = labels[start:start + length]
    elif labels.ndim == 2 and labels.shape[0] == n:
        if labels.shape[1] < longest:
            raise ValueError(f"{what}: padded targets of shape {labels.shape} are shorter than the longest target "
                             f"length {longest}")
        used = np.arange(longest) < target_lengths[:, None]
        padded[used] = labels[:, :longest][used]
    else:
        raise ValueError(f"{what}: targets must be (N, S) padded or 1-d concatenated, got shape {labels.shape} for "
                         f"a batch of {n}")
    used = np.arange(longest) < target_lengths[:, None]
    bad = padded[used & ((padded < 0) | (padded >= n_classes) | (padded == blank))]
    if bad.size:
        raise ValueError(f"{what}: target label {int(bad[0])} is the blank ({blank}) or outside the {n_classes} "
                         "classes")
    return padded


def ctc_loss(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Any:
    r"""Connectionist temporal classification: ``-log p(target | log_probs)`` summed over every alignment.

    ``log_probs`` (T, N, C) (or (T, C) unbatched) are log-probabilities over C classes, ``blank`` among them;
    ``targets`` are (N, S) padded or 1-d concatenated; lengths per sample. The forward variables of the extended
    target l' (blanks between and around the labels) follow, in log space,

        α_t(s) = log(e^{α_{t-1}(s)} + e^{α_{t-1}(s-1)} + [l'_s ≠ blank, l'_s ≠ l'_{s-2}] e^{α_{t-1}(s-2)}) + lp_t(l'_s)

    and the loss is ``-log(e^{α_{T-1}(S'-1)} + e^{α_{T-1}(S'-2)})``. A composite of those steps: its gradient (any
    order, either mode) is the chain rule through them, the exact derivative with respect to ``log_probs``
    (PyTorch's native one adds ``exp(log_probs)`` on the frames inside each input length, a term that log_softmax's
    gradient cancels, so the two agree through log_softmax). "mean" divides each
    loss by its target length, then averages; ``zero_infinity`` makes an impossible alignment cost 0 (gradient 0).

    >>> import numpy as np, chainrule as cr
    >>> from chainrule.nn import functional as F
    >>> lp = cr.log(cr.full((2, 1, 2), 0.5))   # two frames, classes {blank, a}: "a" is aa, a-, -a
    >>> F.ctc_loss(lp, np.array([[1]]), [2], [1], reduction="sum")   # -log(3/4)
    tensor(0.28768207)
    """
    what = "ctc_loss"
    _check_reduction(reduction)
    lp = as_array(log_probs)
    unbatched = lp.ndim == 2
    if unbatched:
        lp = reshape(lp, (lp.shape[0], 1, lp.shape[1]))
        targets = np.reshape(index_array(targets, what), (1, -1))
    if lp.ndim != 3:
        raise ValueError(f"{what}: log_probs must be (T, N, C) or (T, C), got shape {lp.shape}")
    steps, n, n_classes = lp.shape
    if not 0 <= blank < n_classes:
        raise ValueError(f"{what}: blank {blank} is not one of the {n_classes} classes")
    lengths = [np.reshape(index_array(v, what), -1).astype(np.int64) for v in (input_lengths, target_lengths)]
    in_len, tgt_len = lengths
    if in_len.shape != (n,) or tgt_len.shape != (n,):
        raise ValueError(f"{what}: input_lengths and target_lengths need one entry per sample ({n}), got "
                         f"{in_len.size} and {tgt_len.size}")
    if n and (in_len.min() < 1 or in_len.max() > steps or tgt_len.min() < 0):
        raise ValueError(f"{what}: input lengths must lie in [1, {steps}] and target lengths be non-negative, got "
                         f"{in_len.tolist()} and {tgt_len.tolist()}")
    labels = _ctc_targets(targets, tgt_len, n, blank, n_classes)
    states = 2 * labels.shape[1] + 1
    extended = np.full((n, states), blank, dtype=np.int64)
    extended[:, 1::2] = labels
    skip = np.zeros((n, states), dtype=bool)  # may a path jump from s - 2 to s (over a blank, between two labels)?
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    ref = _raw(lp)
    skip_d = like(skip, ref)
    emit = getitem(lp, (slice(None), np.arange(n)[:, None], extended))  # (T, N, S'): lp_t(l'_s)
    never = like(np.full((n, states), -math.inf, dtype=ref.dtype), ref)
    first = like(np.arange(states) < 2, ref)
    alpha = where(first, getitem(emit, 0), never)
    for t in range(1, int(in_len.max(initial=1))):
        one_back = concatenate([never[:, :1], alpha[:, :-1]], axis=1)
        two_back = where(skip_d, concatenate([never[:, :2], alpha[:, :-2]], axis=1), never)
        step = _log_add_exp(stack([alpha, one_back, two_back]), 0) + getitem(emit, t)
        alpha = where(like((t < in_len)[:, None], ref), step, alpha)  # a finished sample keeps its last α
    ends = np.stack([2 * tgt_len, np.maximum(2 * tgt_len - 1, 0)], axis=1)
    last = take_along_axis(alpha, ends, axis=1)
    last = where(like(np.stack([tgt_len >= 0, tgt_len > 0], axis=1), ref), last, -math.inf)
    loss = -_log_add_exp(last, 1)
    if zero_infinity:
        loss = where(np.isinf(_raw(loss)), 0.0, loss)
    if reduction == "mean":
        loss = _mean(loss / like(np.maximum(tgt_len, 1).astype(ref.dtype), ref))
    elif reduction == "sum":
        loss = _sum(loss)
    elif unbatched:
        loss = reshape(loss, ())
    return loss
