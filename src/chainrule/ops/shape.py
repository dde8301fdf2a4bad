"""Shape primitives and composites: reshape, transpose, broadcasting, joining, splitting, and indexing."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import Primitive, Sample
from . import samples as S

__all__ = ["reshape", "transpose", "broadcast_to", "getitem", "scatter_add"]


def _inverse_axes(axes: Any, ndim: int) -> Any:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))


reshape = Primitive(
    "reshape",
    np.reshape,
    vjp=lambda g, ans, x, shape: reshape(g, x.shape),
    jvp=lambda t, ans, x, shape: reshape(t, ans.shape),
    samples=lambda rng: [Sample((S.draw(rng, (2, 3)), (3, 2))), Sample((S.draw(rng, (2, 3)), (-1,))),
                         Sample((S.draw(rng, ()), (1, 1))), Sample((S.draw(rng, (4,)), (2, 1, 2)))],
)
transpose = Primitive(
    "transpose",
    lambda x, axes=None: np.transpose(x, axes),
    vjp=lambda g, ans, x, axes=None: transpose(g, _inverse_axes(axes, x.ndim)),
    jvp=lambda t, ans, x, axes=None: transpose(t, axes),
    samples=lambda rng: [Sample((S.draw(rng, (2, 3)),)), Sample((S.draw(rng, (2, 3, 4)), (1, 2, 0))),
                         Sample((S.draw(rng, (3,)),)), Sample((S.draw(rng, (2, 3, 4)), (-1, 0, 1)))],
)
# the engine sums a cotangent down to its input's shape, so broadcasting's VJP is the identity
broadcast_to = Primitive(
    "broadcast_to",
    np.broadcast_to,
    vjp=lambda g, ans, x, shape: g,
    jvp=lambda t, ans, x, shape: broadcast_to(t, ans.shape),
    samples=lambda rng: [Sample((S.draw(rng, (3,)), (2, 3))), Sample((S.draw(rng, ()), (2, 2))),
                         Sample((S.draw(rng, (2, 1)), (4, 2, 3)))],
)


def _normalize_index(index: Any) -> Any:
    """Tensors to arrays, lists to arrays, and boolean masks to the integer arrays they select."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    for item in items:
        item = getattr(item, "data", item)
        if isinstance(item, list):
            item = np.asarray(item)
        if isinstance(item, np.ndarray) and item.dtype == np.bool_:
            out.extend(item.nonzero())
        else:
            out.append(item)
    return tuple(out)


def _is_basic(index: tuple[Any, ...]) -> bool:
    """Basic indexing (ints, slices, None, Ellipsis) never repeats an element, so plain assignment scatters."""
    return not any(isinstance(i, np.ndarray) for i in index)


def _scatter_add_forward(g: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    out = np.zeros(shape, dtype=np.result_type(g))
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)  # repeated indices accumulate
    return out


# scatter_add(g, index, shape) is the adjoint of x[index]: each is the other's VJP
scatter_add = Primitive(
    "scatter_add",
    _scatter_add_forward,
    vjp=lambda g, ans, u, index, shape: _getitem(g, index),
    jvp=lambda t, ans, u, index, shape: scatter_add(t, index, shape),
    samples=lambda rng: [Sample((S.draw(rng, (2,)), (np.array([0, 2]),), (3,))),
                         Sample((S.draw(rng, (3,)), (np.array([1, 1, 0]),), (2,))),
                         Sample((S.draw(rng, (2, 2)), (slice(0, 2), slice(1, 3)), (3, 3)))],
    reference=_scatter_add_forward,
)
_getitem = Primitive(
    "getitem",
    lambda x, index: x[index],
    vjp=lambda g, ans, x, index: scatter_add(g, index, x.shape),
    jvp=lambda t, ans, x, index: _getitem(t, index),
    samples=lambda rng: [
        Sample((S.draw(rng, (4, 3)), (slice(1, None, 2),))),
        Sample((S.draw(rng, (4, 3)), (Ellipsis, None, slice(None, None, -1)))),
        Sample((S.draw(rng, (4, 3)), (1, -1))),
        Sample((S.draw(rng, (4, 3)), (np.array([0, 2, 0, 3]),))),
        Sample((S.draw(rng, (4, 3)), (np.array([0, 0]), np.array([1, 1])))),
        Sample((S.draw(rng, (2, 3)), (np.array([[True, False, True], [False, True, True]]).nonzero()))),
    ],
    reference=lambda x, index: x[index],
)


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` with NumPy's rules: slices, ellipsis, None, negative steps, integer arrays, boolean masks.

    Its gradient scatters back and adds up, so an element picked twice receives both cotangents.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x[[0, 0, 2]].sum().backward()
    >>> x.grad
    tensor([2., 0., 1.])
    """
    return _getitem(x, _normalize_index(index))
