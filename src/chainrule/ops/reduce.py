"""Reductions: sum, mean, prod, var, std, max/min, arg-reductions, logsumexp, softmax, cumulative sums."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import Primitive
from . import samples as S
from .shape import broadcast_to, reshape

__all__ = ["sum", "mean"]

Axis = int | tuple[int, ...] | None


def _axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """The reduced axes as non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim if ndim else 0 for a in axes)


def _keepdims_shape(shape: tuple[int, ...], axis: Axis) -> tuple[int, ...]:
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _unreduce(g: Any, x: Any, axis: Axis, keepdims: bool) -> Any:
    """Spread a reduction's cotangent back over the input's shape."""
    if not keepdims:
        g = reshape(g, _keepdims_shape(x.shape, axis))
    return broadcast_to(g, x.shape)


def _count(x: Any, axis: Axis) -> int:
    shape = x.shape
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))], dtype=np.int64))


sum = Primitive(
    "sum",
    lambda x, axis=None, keepdims=False: np.sum(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, ans, x, axis=None, keepdims=False: _unreduce(g, x, axis, keepdims),
    jvp=lambda t, ans, x, axis=None, keepdims=False: sum(t, axis=axis, keepdims=keepdims),
    samples=S.reductions(),
)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    """Arithmetic mean over ``axis`` (all axes by default).

    >>> import chainrule as cr
    >>> float(cr.mean(cr.tensor([1.0, 2.0, 6.0])))
    3.0
    """
    return sum(x, axis=axis, keepdims=keepdims) / _count(x, axis)
