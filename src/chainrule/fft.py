"""``cr.fft``: NumPy's ``numpy.fft`` names and signatures, differentiable in both modes (on CuPy too: each
transform runs in the namespace of its array). ``np.fft.fft(t)`` on a tensor comes here.

Gradients follow chainrule's complex convention (``cr.grad`` of a real loss is dL/dx - i dL/dy): the transpose
of a DFT is a DFT, and a real input keeps the real part of its cotangent. ``n=`` and ``s=`` crop or zero-pad the
input first, as NumPy does; the rules are in ``ops/fft.py``.

>>> import numpy as np, chainrule as cr
>>> x = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
>>> (cr.abs(cr.fft.fft(x)) ** 2).sum().backward()  # Parseval: sum |X_k|^2 = n sum x^2, so the gradient is 2 n x
>>> x.grad
tensor([ 8., 16., 24., 32.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .creation import tensor
from .ops.elementwise import conjugate
from .ops.fft import NORMS, fftn_c2c, irfftn_c2r, rfftn_r2c
from .ops.shape import as_array, getitem, pad, roll
from .primitive import is_complex
from .spelling import both_spellings
from .tensor import Tensor

__all__ = [
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]

Shape = Sequence[int] | None
Axes = Sequence[int] | None


def _check_norm(norm: str | None) -> None:
    if norm not in NORMS:
        raise ValueError(f'Invalid norm value {norm!r}; should be "backward", "ortho" or "forward".')


def _plan(name: str, x: Any, s: Shape, axes: Axes) -> tuple[list[int], tuple[int, ...]]:
    """The lengths and the (negative, distinct) axes to transform, as NumPy reads ``s`` and ``axes``: all axes by
    default, the last len(s) when only ``s`` is given; an entry -1 of ``s`` keeps that axis's length."""
    nd = x.ndim
    if axes is None:
        axes = range(nd) if s is None else range(nd - len(s), nd)
    axes = [int(a) for a in axes]
    if any(not -nd <= a < nd for a in axes):
        raise ValueError(f"fft.{name}: axes {tuple(axes)} out of range for an input of {nd} dimensions")
    negative = tuple(a % nd - nd for a in axes)
    if len(set(negative)) != len(negative):
        raise ValueError(f"fft.{name}: repeated axes {tuple(axes)}: each axis is transformed once")
    if s is None:
        lengths = [x.shape[a] for a in negative]
    else:
        if len(s) != len(negative):
            raise ValueError(f"fft.{name}: s {tuple(s)} and axes {tuple(axes)} have different lengths")
        lengths = [x.shape[a] if int(k) == -1 else int(k) for k, a in zip(s, negative)]
    for k in lengths:
        if k < 1:
            raise ValueError(f"fft.{name}: invalid number of data points ({k}) specified")
    return lengths, negative


def _fit(x: Any, lengths: Sequence[int], axes: Sequence[int]) -> Any:
    """``x`` cropped or zero-padded along each axis to its length (NumPy's ``n=``/``s=``)."""
    crop = [slice(None)] * x.ndim
    widths = [(0, 0)] * x.ndim
    for k, a in zip(lengths, axes):
        if k < x.shape[a]:
            crop[a] = slice(0, k)
        elif k > x.shape[a]:
            widths[a] = (0, k - x.shape[a])
    if any(c != slice(None) for c in crop):
        x = getitem(x, tuple(crop))
    if any(w != (0, 0) for w in widths):
        x = pad(x, widths)
    return x


def _inexact(x: Any) -> Any:
    """Integer and boolean inputs transform as float64 (NumPy's promotion), others keep their dtype."""
    x = as_array(x)
    return x if np.issubdtype(x.dtype, np.inexact) else x.astype(np.float64)


def _c2c(name: str, a: Any, s: Shape, axes: Axes, norm: str | None, inverse: bool) -> Any:
    _check_norm(norm)
    x = _inexact(a)
    lengths, negative = _plan(name, x, s, axes)
    return fftn_c2c(_fit(x, lengths, negative), axes=negative, norm=norm, inverse=inverse)


def _r2c(name: str, a: Any, s: Shape, axes: Axes, norm: str | None) -> Any:
    _check_norm(norm)
    x = _inexact(a)
    if is_complex(x):
        raise TypeError(f"fft.{name}: the input is complex; {name} transforms real input (its imaginary part would "
                        f"be dropped): use fft.{name[1:]} for complex input, or take cr.real(x) first")
    lengths, negative = _plan(name, x, s, axes)
    return rfftn_r2c(_fit(x, lengths, negative), axes=negative, norm=norm)


def _c2r(name: str, a: Any, s: Shape, axes: Axes, norm: str | None) -> Any:
    _check_norm(norm)
    x = _inexact(a)
    lengths, negative = _plan(name, x, s, axes)
    if s is None or int(s[-1]) == -1:
        lengths[-1] = 2 * (x.shape[negative[-1]] - 1)  # NumPy's default: an even length
        if lengths[-1] < 1:
            raise ValueError(f"fft.{name}: invalid number of data points ({lengths[-1]}) specified")
    n = lengths[-1]
    half = [*lengths[:-1], n // 2 + 1]
    return irfftn_c2r(_fit(x, half, negative), n=n, axes=negative, norm=norm)


def _one(n: int | None) -> Shape:
    return None if n is None else (n,)


# ---- complex transforms -----------------------------------------------------------------------------------------
@both_spellings
def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The one-dimensional DFT, ``X_k = sum_j x_j e^(-2 pi i jk / n)``, along ``axis`` (``n``: crop or zero-pad).

    >>> import chainrule as cr
    >>> cr.fft.fft(cr.tensor([1.0, 0.0, -1.0, 0.0]))
    tensor([0.+0.j, 2.+0.j, 0.+0.j, 2.+0.j], dtype=complex128)
    """
    return _c2c("fft", a, _one(n), (axis,), norm, False)


@both_spellings
def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The inverse one-dimensional DFT, ``x_j = (1/n) sum_k X_k e^(2 pi i jk / n)``.

    >>> import chainrule as cr
    >>> cr.fft.ifft(cr.fft.fft(cr.tensor([1.0, 2.0]))).real
    tensor([1., 2.])
    """
    return _c2c("ifft", a, _one(n), (axis,), norm, True)


def fftn(a: Any, s: Shape = None, axes: Axes = None, norm: str | None = None) -> Any:
    """The DFT over ``axes`` (all by default), each cropped or zero-padded to ``s``.

    >>> import chainrule as cr
    >>> cr.fft.fftn(cr.ones((2, 2)))
    tensor([[4.+0.j, 0.+0.j],
            [0.+0.j, 0.+0.j]], dtype=complex128)
    """
    return _c2c("fftn", a, s, axes, norm, False)


def ifftn(a: Any, s: Shape = None, axes: Axes = None, norm: str | None = None) -> Any:
    """The inverse DFT over ``axes`` (all by default).

    >>> import chainrule as cr
    >>> cr.fft.ifftn(cr.tensor([[4.0, 0.0], [0.0, 0.0]])).real
    tensor([[1., 1.],
            [1., 1.]])
    """
    return _c2c("ifftn", a, s, axes, norm, True)


def fft2(a: Any, s: Shape = None, axes: Axes = (-2, -1), norm: str | None = None) -> Any:
    """The two-dimensional DFT over the last two axes (``fftn`` with ``axes=(-2, -1)``).

    >>> import chainrule as cr
    >>> cr.fft.fft2(cr.ones((1, 2, 2)))[0, 0, 0]
    tensor(4.+0.j, dtype=complex128)
    """
    return _c2c("fft2", a, s, axes, norm, False)


def ifft2(a: Any, s: Shape = None, axes: Axes = (-2, -1), norm: str | None = None) -> Any:
    """The inverse two-dimensional DFT over the last two axes.

    >>> import chainrule as cr
    >>> cr.fft.ifft2(cr.fft.fft2(cr.ones((2, 2)))).real
    tensor([[1., 1.],
            [1., 1.]])
    """
    return _c2c("ifft2", a, s, axes, norm, True)


# ---- real input, half spectra -------------------------------------------------------------------------------------
@both_spellings
def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The DFT of real input, its first ``n // 2 + 1`` entries (the rest mirror them, conjugated).

    >>> import chainrule as cr
    >>> cr.fft.rfft(cr.tensor([1.0, 0.0, -1.0, 0.0]))
    tensor([0.+0.j, 2.+0.j, 0.+0.j], dtype=complex128)
    """
    return _r2c("rfft", a, _one(n), (axis,), norm)


@both_spellings
def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The real signal of length ``n`` (default ``2 (m - 1)``) whose half spectrum is ``a`` (read as Hermitian:
    the imaginary parts of entries 0 and n/2 are dropped).

    >>> import chainrule as cr
    >>> cr.fft.irfft(cr.fft.rfft(cr.tensor([1.0, 2.0, 3.0])), n=3)
    tensor([1., 2., 3.])
    """
    return _c2r("irfft", a, _one(n), (axis,), norm)


# The Hermitian transforms are the real ones run the other way: hfft(a) = irfft(conj(a)) with the scaling of the
# opposite direction, ihfft(x) = conj(rfft(x)), likewise (NumPy's definitions)
_OPPOSITE = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


@both_spellings
def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The real spectrum of length ``n`` (default ``2 (m - 1)``) of a signal with Hermitian symmetry whose first
    half is ``a``, as ``np.fft.hfft``.

    >>> import chainrule as cr
    >>> cr.fft.hfft(cr.tensor([1.0, 2.0, 3.0]))
    tensor([ 8., -2.,  0., -2.])
    """
    _check_norm(norm)
    return _c2r("hfft", conjugate(as_array(a)), _one(n), (axis,), _OPPOSITE[norm])


@both_spellings
def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """The first half of the Hermitian spectrum of the real signal ``a`` (the inverse of ``hfft``), as
    ``np.fft.ihfft``.

    >>> import chainrule as cr
    >>> cr.fft.ihfft(cr.tensor([8.0, -2.0, 0.0, -2.0]))
    tensor([1.-0.j, 2.-0.j, 3.-0.j], dtype=complex128)
    """
    _check_norm(norm)
    return conjugate(_r2c("ihfft", a, _one(n), (axis,), _OPPOSITE[norm]))


def rfftn(a: Any, s: Shape = None, axes: Axes = None, norm: str | None = None) -> Any:
    """The DFT of real input over ``axes``, halved along the last of them.

    >>> import chainrule as cr
    >>> cr.fft.rfftn(cr.ones((2, 4))).shape
    (2, 3)
    """
    return _r2c("rfftn", a, s, axes, norm)


def irfftn(a: Any, s: Shape = None, axes: Axes = None, norm: str | None = None) -> Any:
    """The inverse of ``rfftn``: a real array with lengths ``s`` along ``axes`` (the last by default ``2 (m - 1)``).

    >>> import chainrule as cr
    >>> cr.fft.irfftn(cr.fft.rfftn(cr.ones((2, 4)))).shape
    (2, 4)
    """
    return _c2r("irfftn", a, s, axes, norm)


def rfft2(a: Any, s: Shape = None, axes: Axes = (-2, -1), norm: str | None = None) -> Any:
    """``rfftn`` over the last two axes.

    >>> import chainrule as cr
    >>> cr.fft.rfft2(cr.ones((3, 4))).shape
    (3, 3)
    """
    return _r2c("rfft2", a, s, axes, norm)


def irfft2(a: Any, s: Shape = None, axes: Axes = (-2, -1), norm: str | None = None) -> Any:
    """``irfftn`` over the last two axes.

    >>> import chainrule as cr
    >>> cr.fft.irfft2(cr.fft.rfft2(cr.ones((3, 4)))).shape
    (3, 4)
    """
    return _c2r("irfft2", a, s, axes, norm)


# ---- shifts and frequencies ---------------------------------------------------------------------------------------
def _shift(x: Any, axes: int | Sequence[int] | None, sign: int) -> Any:
    x = as_array(x)
    if axes is None:
        axes = tuple(range(x.ndim))
    elif isinstance(axes, (int, np.integer)):
        axes = (int(axes),)
    axes = tuple(axes)
    if not axes:
        return x
    return roll(x, [sign * (x.shape[a] // 2) for a in axes], axis=axes)


def fftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """The zero frequency moved to the middle: each axis (all by default) rolled by half its length.

    >>> import chainrule as cr
    >>> cr.fft.fftshift(cr.tensor([0.0, 1.0, 2.0, -2.0, -1.0]))
    tensor([-2., -1.,  0.,  1.,  2.])
    """
    return _shift(x, axes, 1)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """The inverse of ``fftshift`` (they differ for odd lengths).

    >>> import chainrule as cr
    >>> cr.fft.ifftshift(cr.tensor([-2.0, -1.0, 0.0, 1.0, 2.0]))
    tensor([ 0.,  1.,  2., -2., -1.])
    """
    return _shift(x, axes, -1)


def _frequencies(k: np.ndarray[Any, Any], n: int, d: Any, device: Any) -> Any:
    if isinstance(d, Tensor):
        return tensor(k, dtype=d.dtype, device=d.device) / (n * d)  # d being differentiated keeps its gradient
    return tensor(k / (n * d), device=device)


def fftfreq(n: int, d: Any = 1.0, device: Any = None) -> Any:
    """The sample frequencies of an ``fft`` of length ``n``, spacing ``d``: ``[0, 1, ..., -1] / (n d)``.

    >>> import chainrule as cr
    >>> cr.fft.fftfreq(4, d=0.5)
    tensor([ 0. ,  0.5, -1. , -0.5])
    """
    n = int(n)
    return _frequencies(np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)]).astype(float),
                        n, d, device)


def rfftfreq(n: int, d: Any = 1.0, device: Any = None) -> Any:
    """The sample frequencies of an ``rfft`` of length ``n``: ``[0, 1, ..., n // 2] / (n d)``.

    >>> import chainrule as cr
    >>> cr.fft.rfftfreq(4)
    tensor([0.  , 0.25, 0.5 ])
    """
    n = int(n)
    return _frequencies(np.arange(0, n // 2 + 1, dtype=float), n, d, device)
