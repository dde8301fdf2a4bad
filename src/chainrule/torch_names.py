"""PyTorch's functions that chainrule's NumPy vocabulary spells otherwise (``cat``, ``unsqueeze``, ``clamp``), and
those only PyTorch has (``gather``, ``scatter``, ``index_select``, ``cdist``), with PyTorch's signatures.

All are composites of the primitives (``concatenate``, ``take_along_axis``, ``assign``, ``scatter_add``, ``take``),
so their gradients need no code of their own. Like every axis-taking function they accept ``dim=`` and ``axis=``.

>>> import chainrule as cr
>>> cr.gather(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, [[0, 0], [1, 0]])
tensor([[1., 1.],
        [4., 3.]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from . import backend
from .ops import shape as _shape
from .ops.elementwise import absolute, clip, square, where
from .ops.reduce import amax, sum
from .ops.shape import as_array, assign, broadcast_to, concatenate, expand_dims, getitem, take, take_along_axis
from .primitive import like
from .spelling import both_spellings
from .tensor import Tensor, bottom, values

__all__ = ["cat", "cdist", "clamp", "gather", "index_select", "scatter", "unsqueeze"]


@both_spellings
def cat(tensors: Sequence[Any], dim: int = 0) -> Any:
    """PyTorch's name for ``concatenate``: join ``tensors`` along the existing axis ``dim``.

    >>> import chainrule as cr
    >>> cr.cat([cr.ones(1, 2), cr.zeros(1, 2)], dim=0).shape
    (2, 2)
    """
    return concatenate(tensors, axis=dim)


@both_spellings
def unsqueeze(x: Any, dim: int) -> Any:
    """PyTorch's name for ``expand_dims``: ``x`` with a new axis of length one at position ``dim``.

    >>> import chainrule as cr
    >>> cr.unsqueeze(cr.zeros(3), -1).shape
    (3, 1)
    """
    return expand_dims(x, dim)


def clamp(x: Any, min: Any = None, max: Any = None) -> Any:
    """PyTorch's name for ``clip``: ``x`` limited to ``[min, max]`` (either bound may be left out, not both). The
    gradient passes to ``x`` inside the interval, bounds included; where ``min > max`` the result is ``max``.

    >>> import chainrule as cr
    >>> cr.clamp(cr.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0)
    tensor([0. , 0.5, 1. ])
    """
    if min is None and max is None:
        raise ValueError("clamp: give min=, max= or both")
    return clip(x, min, max)


def _indices(who: str, index: Any, x: Any, dim: int) -> tuple[np.ndarray[Any, Any], int]:
    """``index`` as a host integer array with as many axes as ``x``, each in range along ``dim``; ``dim`` as 0..n-1.
    The other axes of ``index`` may be shorter than ``x``'s (PyTorch's rule: the leading part is used)."""
    idx = backend.to_host(values(index))  # decided on and scattered from the host (a GPU library copies it over)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{who}: index must hold integers, got dtype {idx.dtype}")
    if idx.ndim != x.ndim:
        raise ValueError(f"{who}: index must have as many axes as the input, got shapes {idx.shape} and {x.shape}")
    dim = normalize_axis_index(dim, x.ndim)
    if any(i > n for d, (i, n) in enumerate(zip(idx.shape, x.shape)) if d != dim):
        raise ValueError(f"{who}: index of shape {idx.shape} is longer than the input's {x.shape} off axis {dim}")
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[dim]):
        raise IndexError(f"{who}: index out of range for axis {dim} of length {x.shape[dim]}")
    return idx, dim


def _positions(idx: np.ndarray[Any, Any], dim: int) -> tuple[np.ndarray[Any, Any], ...]:
    """The full NumPy index of the elements ``idx`` names along ``dim``: its own position on every other axis."""
    grid = list(np.ix_(*(np.arange(n) for n in idx.shape)))
    grid[dim] = idx
    return tuple(grid)


def _leading(x: Any, shape: tuple[int, ...]) -> Any:
    """The leading block of ``x`` of the given shape (all of ``x`` when it has that shape)."""
    return x if x.shape == shape else getitem(x, tuple(slice(0, n) for n in shape))


@both_spellings
def gather(x: Any, dim: int, index: Any) -> Any:
    """Entries of ``x`` picked along ``dim`` by ``index`` (PyTorch's ``gather``): ``out[i][j] = x[index[i][j]][j]``
    for ``dim=0``. ``index`` has as many axes as ``x`` (each no longer than ``x``'s); the result has its shape.
    Entries picked twice get both gradients.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    >>> cr.gather(x, 1, [[2, 2, 0]]).sum().backward()
    >>> x.grad
    tensor([[1., 0., 2.]])
    """
    x = as_array(x)
    idx, dim = _indices("gather", index, x, dim)
    picked = tuple(n if d != dim else x.shape[dim] for d, n in enumerate(idx.shape))
    return take_along_axis(_leading(x, picked), idx, axis=dim)


def _source(who: str, src: Any, value: Any, shape: tuple[int, ...], x: Any) -> Any:
    """What scatter writes into ``x``: ``src``'s leading block of the index's shape, or the number ``value``."""
    if (src is None) == (value is None):
        raise TypeError(f"{who}() takes src or value (one of them)")
    if src is None:
        src = value
    if not isinstance(src, Tensor) and type(src) not in backend.array_types:  # a number or a list: on x's device
        src = like(np.asarray(src), bottom(x))
    src = as_array(src)
    if src.ndim == 0:
        return src
    if src.ndim != len(shape) or any(s < n for s, n in zip(src.shape, shape)):
        raise ValueError(f"{who}: src of shape {src.shape} is smaller than the index, of shape {shape}")
    return _leading(src, shape)


@both_spellings
def scatter(x: Any, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Any:
    """A copy of ``x`` with ``src`` written where ``index`` points along ``dim`` (PyTorch's ``scatter``):
    ``out[index[i][j]][j] = src[i][j]`` for ``dim=0``; ``value=`` (or a number as ``src``) writes one number.
    Differentiable in ``x`` (0 where written) and ``src``. An index naming one element twice is refused: the last
    write would win, which has no gradient to share out (``scatter_add`` sums them instead).

    >>> import chainrule as cr
    >>> cr.scatter(cr.zeros(2, 3), 1, [[2], [0]], cr.tensor([[5.0], [7.0]]))
    tensor([[0., 0., 5.],
            [7., 0., 0.]])
    """
    x = as_array(x)
    idx, dim = _indices("scatter", index, x, dim)
    written = _source("scatter", src, value, idx.shape, x)
    positions = _positions(idx, dim)
    hits = np.zeros(x.shape, dtype=np.intp)
    np.add.at(hits, positions, 1)
    if hits.max(initial=0) > 1:
        raise IndexError(f"scatter: index names an element twice along axis {dim}; the last write would win, with no "
                         "gradient to share out: make the index unique, or add the values with Tensor.scatter_add")
    return assign(x, positions, written)


@both_spellings
def scatter_add(x: Any, dim: int, index: Any, src: Any) -> Any:
    """``x`` plus ``src`` added where ``index`` points along ``dim`` (PyTorch's ``scatter_add``; chainrule's own
    ``cr.scatter_add`` is the adjoint of indexing). Elements named twice get both."""
    x = as_array(x)
    idx, dim = _indices("scatter_add", index, x, dim)
    added = _source("scatter_add", src, None, idx.shape, x)
    if added.ndim == 0:
        added = broadcast_to(added, idx.shape)
    return x + _shape.scatter_add(added, _positions(idx, dim), x.shape)


@both_spellings
def index_select(x: Any, dim: int, index: Any) -> Any:
    """The slices of ``x`` along ``dim`` at the positions ``index`` (a 1-d integer sequence), in that order, as
    PyTorch's ``index_select`` (NumPy's ``take`` with an axis).

    >>> import chainrule as cr
    >>> cr.index_select(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), 0, [1, 1]).tolist()
    [[3.0, 4.0], [3.0, 4.0]]
    """
    idx = values(index)
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-d, got shape {idx.shape}")
    return take(x, idx.reshape(-1), axis=dim)


def cdist(x1: Any, x2: Any, p: float = 2.0) -> Any:
    """The p-norm distances between the rows of ``x1`` (..., P, M) and of ``x2`` (..., R, M): shape (..., P, R),
    ``d[i, j] = (sum_k |x1[i, k] - x2[j, k]|**p) ** (1/p)`` (``p=inf``: the largest difference), as PyTorch's.

    Where a distance is 0 its gradient is 0, as PyTorch's (the norm has no derivative there; its square does, and
    0 is a subgradient). With ``p=inf``, coordinates tied for the largest difference share its gradient evenly
    (chainrule's rule for max), where PyTorch gives each the whole. Computed from the differences (..., P, R, M),
    which is exact but takes that much memory.

    >>> import chainrule as cr
    >>> cr.cdist(cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0], [0.0, 0.0]]))
    tensor([[5., 0.]])
    """
    x1, x2 = as_array(x1), as_array(x2)
    if x1.ndim < 2 or x2.ndim < 2 or x1.shape[-1] != x2.shape[-1]:
        raise ValueError(f"cdist: x1 and x2 must be (..., P, M) and (..., R, M), got shapes {x1.shape} and {x2.shape}")
    if not p > 0:
        raise ValueError(f"cdist: p must be positive, got {p} (p=0 counts differing coordinates, which has no "
                         "gradient: (x1[..., :, None, :] != x2[..., None, :, :]).sum(-1))")
    diff = expand_dims(x1, -2) - expand_dims(x2, -3)
    if p == np.inf:
        return amax(absolute(diff), axis=-1)
    if p == 1:
        return sum(absolute(diff), axis=-1)
    s = sum(square(diff) if p == 2 else absolute(diff) ** p, axis=-1)
    positive = bottom(s) > 0  # keep the root away from 0, where its derivative is infinite (the double where)
    return where(positive, where(positive, s, 1.0) ** (1.0 / p), 0.0)
