"""SciPy's N-dimensional convolutions, differentiable in both inputs: ``convolve``, ``correlate`` and
``fftconvolve``, with SciPy's modes (``full``, ``valid``, ``same``) and methods.

Both methods are composites of chainrule's primitives, so their gradients (and higher derivatives) are those
primitives' rules, on either device. ``method="direct"`` gathers each output's window of the zero-padded larger input
(one indexed read) and contracts it with the flipped smaller one (one matmul): exact, O(output x kernel) memory.
``method="fft"`` multiplies the inputs' spectra (``cr.fft.rfftn``/``fftn`` at the full length) and transforms back.
``method="auto"`` takes the direct sum while that product is small, else the FFT.

>>> import chainrule as cr
>>> cr.scipy.signal.convolve(cr.tensor([1.0, 2.0, 3.0]), cr.tensor([0.0, 1.0, 0.5]))
tensor([0. , 1. , 2.5, 4. , 1.5])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import fft as _fft
from ..ops.elementwise import conj
from ..ops.shape import flip, getitem, pad, ravel, reshape
from ..primitive import as_array
from ..tensor import bottom

__all__ = ["convolve", "correlate", "fftconvolve"]

_MODES = ("full", "valid", "same")
_DIRECT_MAX = 1 << 20  # output entries x kernel entries up to which "auto" sums directly


def _inputs(name: str, in1: Any, in2: Any, mode: str) -> tuple[Any, Any]:
    if mode not in _MODES:
        raise ValueError(f"scipy.signal.{name}: mode must be 'full', 'valid' or 'same', got {mode!r}")
    in1, in2 = as_array(in1), as_array(in2)
    if in1.ndim != in2.ndim:
        raise ValueError(f"scipy.signal.{name}: in1 and in2 should have the same dimensionality, got shapes "
                         f"{in1.shape} and {in2.shape}")
    if in1.size == 0 or in2.size == 0:
        raise ValueError(f"scipy.signal.{name}: in1 and in2 must not be empty")
    return in1, in2


def _window(name: str, mode: str, n1: Sequence[int], n2: Sequence[int]) -> tuple[list[int], list[int]]:
    """The mode's part of the full convolution, per axis: its start and its length."""
    full = [a + b - 1 for a, b in zip(n1, n2)]
    if mode == "full":
        return [0] * len(full), full
    if mode == "same":
        return [(f - a) // 2 for f, a in zip(full, n1)], list(n1)
    if not (all(a >= b for a, b in zip(n1, n2)) or all(b >= a for a, b in zip(n1, n2))):
        raise ValueError(f"scipy.signal.{name}: for 'valid' mode, one input must be at least as large as the other "
                         f"in every dimension, got shapes {tuple(n1)} and {tuple(n2)}")
    return [min(a, b) - 1 for a, b in zip(n1, n2)], [abs(a - b) + 1 for a, b in zip(n1, n2)]


def _direct(big: Any, kernel: Any, start: Sequence[int], length: Sequence[int]) -> Any:
    """``out[n] = sum_j kernel[K - 1 - j] P[start + n + j]`` over P, ``big`` zero-padded by K - 1 on each side: one
    gather of every output's window, ``(outputs, K)``, and one product with the flipped kernel."""
    k = kernel.shape
    padded = pad(big, [(d - 1, d - 1) for d in k])
    strides = np.cumprod((*padded.shape[1:], 1)[::-1])[::-1]
    outputs = sum(s * (b + g) for s, b, g in zip(strides, start, np.indices(length).reshape(len(k), -1)))
    offsets = sum(s * g for s, g in zip(strides, np.indices(k).reshape(len(k), -1)))
    windows = getitem(ravel(padded), np.asarray(outputs)[:, None] + np.asarray(offsets)[None, :])
    return reshape(windows @ ravel(flip(kernel)), tuple(length))


def _fft_full(in1: Any, in2: Any, axes: Sequence[int]) -> Any:
    """The full convolution along ``axes`` (the others broadcast) as the product of the spectra."""
    s = [in1.shape[a] + in2.shape[a] - 1 for a in axes]
    if bottom(in1).dtype.kind == "c" or bottom(in2).dtype.kind == "c":
        return _fft.ifftn(_fft.fftn(in1, s, axes) * _fft.fftn(in2, s, axes), s, axes)
    return _fft.irfftn(_fft.rfftn(in1, s, axes) * _fft.rfftn(in2, s, axes), s, axes)


def _crop(x: Any, start: Sequence[int], length: Sequence[int], axes: Sequence[int]) -> Any:
    index: list[Any] = [slice(None)] * x.ndim
    for a, b, n in zip(axes, start, length):
        index[a] = slice(b, b + n)
    return getitem(x, tuple(index))


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """The N-dimensional convolution ``(in1 * in2)[n] = sum_k in1[k] in2[n - k]``, as ``scipy.signal.convolve``:
    ``mode`` full (every overlap), valid (no zero padding: the larger input must be at least as large in every
    axis) or same (in1's shape, centred); ``method`` direct, fft or auto. Differentiable in both inputs.

    >>> import chainrule as cr
    >>> cr.scipy.signal.convolve(cr.tensor([1.0, 2.0, 3.0]), cr.tensor([1.0, 1.0]), mode="valid")
    tensor([3., 5.])
    """
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"scipy.signal.convolve: method must be 'auto', 'direct' or 'fft', got {method!r}")
    in1, in2 = _inputs("convolve", in1, in2, mode)
    if in1.ndim == 0:
        return in1 * in2
    start, length = _window("convolve", mode, in1.shape, in2.shape)
    big, kernel = (in1, in2) if in1.size >= in2.size else (in2, in1)
    if method == "auto":
        method = "direct" if int(np.prod(length)) * kernel.size <= _DIRECT_MAX else "fft"
    if method == "direct":
        return _direct(big, kernel, start, length)
    axes = list(range(in1.ndim))
    return _crop(_fft_full(in1, in2, axes), start, length, axes)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """The N-dimensional cross-correlation ``z[k] = sum_n in1[n + k] conj(in2[n])``, as ``scipy.signal.correlate``:
    the convolution of in1 with in2 reversed (and conjugated), with the same modes and methods.

    >>> import chainrule as cr
    >>> cr.scipy.signal.correlate(cr.tensor([1.0, 2.0, 3.0]), cr.tensor([1.0, 0.0]), mode="valid")
    tensor([1., 2.])
    """
    in1, in2 = _inputs("correlate", in1, in2, mode)
    reversed_ = flip(in2)
    return convolve(in1, conj(reversed_) if bottom(in2).dtype.kind == "c" else reversed_, mode, method)


def fftconvolve(in1: Any, in2: Any, mode: str = "full", axes: int | Sequence[int] | None = None) -> Any:
    """The convolution of in1 and in2 through FFTs (``cr.fft``), over ``axes`` (default all; the other axes
    broadcast), as ``scipy.signal.fftconvolve``. Its gradient is the correlation of the cotangent with the other
    input, computed by the transforms' own rules.

    >>> import chainrule as cr
    >>> cr.scipy.signal.fftconvolve(cr.tensor([1.0, 2.0]), cr.tensor([1.0, -1.0]))
    tensor([ 1.,  1., -2.])
    """
    in1, in2 = _inputs("fftconvolve", in1, in2, mode)
    chosen = list(range(in1.ndim)) if axes is None else [int(a) for a in np.atleast_1d(axes)]
    chosen = sorted({a % in1.ndim for a in chosen}) if in1.ndim else []
    for a in range(in1.ndim):
        if a not in chosen and in1.shape[a] != in2.shape[a] and 1 not in (in1.shape[a], in2.shape[a]):
            raise ValueError(f"scipy.signal.fftconvolve: in1 and in2 should have equal sizes or 1 along axis {a} "
                             f"(not convolved), got shapes {in1.shape} and {in2.shape}")
    start, length = _window("fftconvolve", mode, [in1.shape[a] for a in chosen], [in2.shape[a] for a in chosen])
    if not chosen:
        return in1 * in2
    return _crop(_fft_full(in1, in2, chosen), start, length, chosen)
