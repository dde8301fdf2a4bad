"""Sampled 1-d signals with NumPy's names and signatures: convolve, correlate, interp, trapezoid.

Composites of the primitives, so every input that carries values gets its gradient: both sequences of a
convolution, and interp's sample points ``x``, its knots ``xp`` and its values ``fp`` (the segment each point falls
in is chosen on the values, a constant, as any piecewise rule is).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..primitive import like
from ..spelling import both_spellings
from ..tensor import values
from .elementwise import remainder, where
from .linalg import matmul
from .reduce import _beside, sum
from .shape import as_array, broadcast_to, concatenate, flip, getitem, pad

__all__ = ["convolve", "correlate", "interp", "trapezoid"]

_MODES = ("full", "same", "valid")


def _sequence(v: Any, name: str, label: str, ref: Any = None) -> Any:
    """A 1-d, non-empty argument; a constant one is moved next to ``ref``'s values."""
    v = as_array(v) if ref is None else _beside(v, ref)
    if v.ndim != 1:
        raise ValueError(f"{name}: {label} must be 1-d, not of shape {v.shape}")
    if v.shape[0] == 0:
        raise ValueError(f"{name}: {label} cannot be empty")
    return v


def _convolution(name: str, a: Any, v: Any, mode: str, flipped_same: bool) -> Any:
    """The mode's part of the full convolution sum_j a[k - j] v[j] (length n + m - 1), as one gather of the
    windows of the longer sequence and a product with the shorter one reversed: O((n + m) min(n, m)) memory."""
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {', '.join(_MODES)}, not {mode!r}")
    a = _sequence(a, name, "a")
    v = _sequence(v, name, "v", a)
    n, m = a.shape[0], v.shape[0]
    long, short = (a, v) if n >= m else (v, a)
    big, small = max(n, m), min(n, m)
    if mode == "full":
        start, length = 0, n + m - 1
    elif mode == "valid":
        start, length = small - 1, big - small + 1
    else:  # np.correlate with a shorter first input centres the other way (it reverses a swapped result)
        start, length = (small - 1 - (small - 1) // 2) if flipped_same and n < m else (small - 1) // 2, big
    padded = pad(long, (small - 1, small - 1))
    windows = np.arange(start, start + length)[:, None] + np.arange(small)[None, :]
    return matmul(getitem(padded, like(windows, values(long))), flip(short, 0))


def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """The discrete convolution (a * v)[k] = sum_j a[j] v[k - j] of two 1-d sequences, as ``np.convolve``:
    ``mode`` "full" (length n + m - 1), "same" (max(n, m), centred) or "valid" (where they overlap fully).

    >>> import chainrule as cr
    >>> cr.convolve(cr.tensor([1.0, 2.0, 3.0]), [0.0, 1.0, 0.5])
    tensor([0. , 1. , 2.5, 4. , 1.5])
    """
    return _convolution("convolve", a, v, mode, False)


def correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """The cross-correlation c[k] = sum_n a[n + k] v[n] of two 1-d sequences, as ``np.correlate`` (default mode
    "valid"): the convolution of ``a`` with ``v`` reversed.

    >>> import chainrule as cr
    >>> cr.correlate(cr.tensor([1.0, 2.0, 3.0]), [0.0, 1.0, 0.5])
    tensor([3.5])
    """
    return _convolution("correlate", a, flip(_sequence(v, "correlate", "v"), 0), mode, True)


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None) -> Any:
    """Piecewise-linear interpolation of the points (xp, fp) at ``x``, as ``np.interp`` (``xp`` increasing; outside
    it ``left``/``right``, by default fp[0]/fp[-1]; ``period`` for periodic x). Differentiable in x, xp and fp (and
    left/right); at a knot the derivative in x is the slope of the segment to its right.

    >>> import chainrule as cr
    >>> cr.interp(cr.tensor([0.5, 1.5, 3.0]), [0.0, 1.0, 2.0], [0.0, 10.0, 0.0])
    tensor([5., 5., 0.])
    """
    x = as_array(x)
    xp, fp = _sequence(xp, "interp", "xp", x), _sequence(fp, "interp", "fp", x)
    if xp.shape != fp.shape:
        raise ValueError(f"interp: xp and fp must have the same length ({xp.shape[0]} and {fp.shape[0]})")
    if period is not None:
        if values(period) == 0:
            raise ValueError("interp: period must be a non-zero value")
        period = abs(period)
        x, xp = remainder(x, period), remainder(xp, period)
        knots = values(xp)
        order = backend.namespace(knots).argsort(knots, kind="stable")
        xp, fp = getitem(xp, order), getitem(fp, order)
        xp = concatenate([getitem(xp, slice(-1, None)) - period, xp, getitem(xp, slice(0, 1)) + period])
        fp = concatenate([getitem(fp, slice(-1, None)), fp, getitem(fp, slice(0, 1))])
    xv, knots = values(x), values(xp)
    n = knots.shape[0]
    first, last = getitem(fp, 0), getitem(fp, n - 1)
    if n == 1:
        y = broadcast_to(first, x.shape)  # one knot: fp[0] everywhere (left and right aside)
    else:
        i = backend.namespace(knots).clip(knots.searchsorted(xv, side="right") - 1, 0, n - 2)
        x0, x1, f0, f1 = getitem(xp, i), getitem(xp, i + 1), getitem(fp, i), getitem(fp, i + 1)
        y = f0 + (f1 - f0) / (x1 - x0) * (x - x0)
    below, above = xv < knots[0], xv > knots[n - 1]
    y = where(xv == knots[n - 1], last, y)  # the last knot exactly, as NumPy (not the end of a segment)
    if period is None:
        y = where(below, first if left is None else left, where(above, last if right is None else right, y))
    return y


@both_spellings
def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """The trapezoidal rule sum (x[i+1] - x[i]) (y[i] + y[i+1]) / 2 along ``axis``, as ``np.trapezoid`` (sample
    points ``x``, 1-d or of y's shape, or a spacing ``dx``); differentiable in y, x and dx.

    >>> import chainrule as cr
    >>> float(cr.trapezoid(cr.tensor([1.0, 2.0, 3.0]), x=[0.0, 1.0, 3.0]))
    6.5
    """
    y = as_array(y)
    axis = axis % y.ndim
    head = (slice(None),) * axis
    if x is None:
        d = dx
    else:
        x = _beside(x, y)
        if x.ndim == 1:
            d = getitem(x, slice(1, None)) - getitem(x, slice(None, -1))
            d = getitem(d, (slice(None),) + (None,) * (y.ndim - 1 - axis))
        else:
            d = getitem(x, (*head, slice(1, None))) - getitem(x, (*head, slice(None, -1)))
    pairs = getitem(y, (*head, slice(1, None))) + getitem(y, (*head, slice(None, -1)))
    return sum(d * pairs / 2.0, axis=axis)
