"""Shape primitives and composites: reshape, transpose, broadcasting, joining, splitting, and indexing.

Five primitives carry all the gradient code of this family: ``reshape``, ``transpose``, ``broadcast_to``,
``concatenate``, and indexing with its adjoint (``getitem`` / ``scatter_add``, each the other's VJP). Everything
else (squeeze, stack, split, pad, flip, roll, tile, repeat, take, ...) is a composite of these and has no rules.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from .. import backend
from ..primitive import Primitive, Sample, as_array, fit_batch, holds_box, like
from ..spelling import both_spellings
from ..tensor import Tensor, values
from . import samples as S
from .elementwise import astype, where

__all__ = [
    "assign",
    "broadcast_to",
    "concatenate",
    "expand_dims",
    "flatten",
    "flip",
    "getitem",
    "hstack",
    "moveaxis",
    "pad",
    "permute",
    "ravel",
    "repeat",
    "reshape",
    "roll",
    "scatter_add",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "take",
    "take_along_axis",
    "tile",
    "transpose",
    "vstack",
]

Axis = int | Sequence[int] | None


def _inverse_axes(axes: Any, ndim: int) -> Any:
    return None if axes is None else tuple(np.argsort([a % ndim for a in axes]))


def _along(axis: int, index: Any) -> tuple[Any, ...]:
    """The index tuple that applies ``index`` to axis ``axis`` (a non-negative int) and takes every other axis whole."""
    return (slice(None),) * axis + (index,)


def _batch_order(axes: Any, ndim: int) -> tuple[int, ...]:
    """transpose's axes for a batch of tangents, shape (B,) + x.shape: the batch axis stays first."""
    order = range(ndim - 1, -1, -1) if axes is None else axes
    return (0, *(a % ndim + 1 for a in order))


reshape = Primitive(
    "reshape",
    np.reshape,
    vjp=lambda g, ans, x, shape: reshape(g, x.shape),
    jvp=lambda t, ans, x, shape: reshape(t, ans.shape),
    batching=lambda t, ans, x, shape: t.reshape(t.shape[:1] + ans.shape),
    samples=lambda rng: [Sample((S.draw(rng, (2, 3)), (3, 2))), Sample((S.draw(rng, (2, 3)), (-1,))),
                         Sample((S.draw(rng, ()), (1, 1))), Sample((S.draw(rng, (4,)), (2, 1, 2)))],
)
transpose = Primitive(
    "transpose",
    lambda x, axes=None: np.transpose(x, axes),
    vjp=lambda g, ans, x, axes=None: transpose(g, _inverse_axes(axes, x.ndim)),
    jvp=lambda t, ans, x, axes=None: transpose(t, axes),
    batching=lambda t, ans, x, axes=None: t.transpose(_batch_order(axes, x.ndim)),
    samples=lambda rng: [Sample((S.draw(rng, (2, 3)),)), Sample((S.draw(rng, (2, 3, 4)), (1, 2, 0))),
                         Sample((S.draw(rng, (3,)),)), Sample((S.draw(rng, (2, 3, 4)), (-1, 0, 1)))],
)
# the engine sums a cotangent down to its input's shape, so broadcasting's VJP is the identity
broadcast_to = Primitive(
    "broadcast_to",
    np.broadcast_to,
    vjp=lambda g, ans, x, shape: g,
    jvp=lambda t, ans, x, shape: broadcast_to(t, ans.shape),
    batching=lambda t, ans, x, shape: fit_batch(t, ans),
    samples=lambda rng: [Sample((S.draw(rng, (3,)), (2, 3))), Sample((S.draw(rng, ()), (2, 2))),
                         Sample((S.draw(rng, (2, 1)), (4, 2, 3)))],
)


# ---- indexing ------------------------------------------------------------------------------------------------
_BASIC = (int, np.integer, slice, type(None), type(Ellipsis), bool, np.bool_)


def _normalize_index(index: Any) -> tuple[Any, ...]:
    """A NumPy index as a tuple of ints, slices, None, Ellipsis and integer arrays.

    Tensors become their arrays, sequences become arrays (an empty one of integer dtype), and a boolean mask of
    k >= 1 dimensions becomes the k integer arrays of its ``nonzero()`` -- which is how NumPy itself reads a mask,
    so ``x[mask]`` and a mask over several leading axes select the same elements either way.
    """
    items = index if type(index) is tuple else (index,)
    out: list[Any] = []
    for item in items:
        if isinstance(item, _BASIC):
            out.append(item)
            continue
        if isinstance(item, Tensor):
            item = item if holds_box((item,)) else item.data  # a vmap batch of index arrays stays whole
        elif type(item) not in backend.array_types:
            item = np.asarray(item)
            if item.size == 0 and item.dtype.kind == "f":  # x[[]] selects nothing, as in NumPy
                item = item.astype(np.intp)
        if item.dtype == np.bool_ and item.ndim > 0:
            out.extend(item.nonzero())
        else:
            out.append(item)
    return tuple(out)


def _is_basic(index: tuple[Any, ...]) -> bool:
    """Basic indexing (ints, slices, None, Ellipsis) never repeats an element, so plain assignment scatters."""
    return not any(type(i) in backend.array_types for i in index)


def _scatter_add_forward(g: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    xp = backend.namespace(g)
    out = xp.zeros(shape, dtype=np.result_type(g))
    if _is_basic(index):
        out[index] = g
    elif xp is np:
        np.add.at(out, index, g)  # repeated indices accumulate
    else:  # a GPU's ufunc.at takes a single index array: the flat positions that the index names
        host = tuple(backend.to_host(i) if type(i) in backend.array_types else i for i in index)
        positions = np.arange(out.size).reshape(shape)[host]
        xp.add.at(out.reshape(-1), like(positions.reshape(-1), g), xp.broadcast_to(g, positions.shape).reshape(-1))
    return out


def _batch_position(index: tuple[Any, ...]) -> int:
    """Where ``t[(slice(None),) + index]`` puts the batch axis of t: first, unless index arrays stand apart (a slice,
    Ellipsis or None between them), when NumPy puts their broadcast axes first and the batch axis after them."""
    advanced = [k for k, i in enumerate(index) if isinstance(i, (np.ndarray, int, np.integer)) and type(i) is not bool]
    if not any(isinstance(index[k], np.ndarray) for k in advanced) or advanced[-1] - advanced[0] < len(advanced):
        return 0
    return len(np.broadcast_shapes(*(np.shape(index[k]) for k in advanced)))


def _getitem_batched(t: Any, ans: Any, x: Any, index: tuple[Any, ...]) -> Any:
    k = _batch_position(index)
    out = _getitem(t, (slice(None), *index))
    return moveaxis(out, k, 0) if k else out


def _scatter_add_batched(t: Any, ans: Any, u: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    k = _batch_position(index)
    return scatter_add(moveaxis(t, 0, k) if k else t, (slice(None), *index), t.shape[:1] + tuple(shape))


# scatter_add(g, index, shape) is the adjoint of x[index]: each is the other's VJP
scatter_add = Primitive(
    "scatter_add",
    _scatter_add_forward,
    vjp=lambda g, ans, u, index, shape: _getitem(g, index),
    jvp=lambda t, ans, u, index, shape: scatter_add(t, index, shape),
    batching=_scatter_add_batched,
    samples=lambda rng: [Sample((S.draw(rng, (2,)), (np.array([0, 2]),), (3,))),
                         Sample((S.draw(rng, (3,)), (np.array([1, 1, 0]),), (2,))),
                         Sample((S.draw(rng, (2, 2)), (slice(0, 2), slice(1, 3)), (3, 3))),
                         Sample((S.draw(rng, (2, 2)), (np.array([2, 2]), slice(None, None, -1)), (3, 2)))],
    reference=_scatter_add_forward,
)
_getitem = Primitive(
    "getitem",
    lambda x, index: x[index],
    vjp=lambda g, ans, x, index: scatter_add(g, index, x.shape),
    jvp=lambda t, ans, x, index: _getitem(t, index),
    batching=_getitem_batched,
    samples=lambda rng: [
        Sample((S.draw(rng, (4, 3)), (slice(1, None, 2),))),
        Sample((S.draw(rng, (4, 3)), (Ellipsis, None, slice(None, None, -1)))),
        Sample((S.draw(rng, (4, 3)), (1, -1))),
        Sample((S.draw(rng, (4, 3)), (np.array([0, 2, 0, 3]),))),
        Sample((S.draw(rng, (4, 3)), (np.array([0, 0]), np.array([1, 1])))),
        Sample((S.draw(rng, (2, 3)), (np.array([[True, False, True], [False, True, True]]).nonzero()))),
        Sample((S.draw(rng, (2, 3, 2)), (slice(None), np.array([[2, 0], [2, 2]]), 1))),
    ],
    reference=lambda x, index: x[index],
)


def assign(x: Any, index: Any, value: Any) -> Any:
    """A copy of ``x`` with ``x[index] = value``, differentiable in both: ``Tensor.__setitem__`` on values being
    differentiated (JAX's ``x.at[index].set(value)``). An index that names an element twice is refused: NumPy keeps
    the last write, which has no gradient to share out.

    >>> import chainrule as cr
    >>> cr.grad(lambda b: cr.assign(cr.zeros(3), 1, b).sum())(2.0)
    array(1.)
    """
    x = as_array(x)
    index = _normalize_index(index)
    hits = np.zeros(x.shape, dtype=np.intp)  # counted on the host
    np.add.at(hits, tuple(backend.to_host(i) if type(i) in backend.array_types else i for i in index), 1)
    if hits.max(initial=0) > 1:
        raise IndexError("assignment through an index that repeats an element cannot be differentiated")
    written = like(hits.astype(bool), x)
    target = written[index].shape
    value = as_array(value)
    extra = value.ndim - len(target)
    if extra > 0 and all(n == 1 for n in value.shape[:extra]):  # NumPy drops them too (y[0] = row[None])
        value = reshape(value, value.shape[extra:])
    update = scatter_add(broadcast_to(value, target), index, x.shape)
    out = where(written, update, x)
    return out if out.dtype == x.dtype else astype(out, x.dtype)


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


def _index_array(indices: Any) -> np.ndarray[Any, Any]:
    """Indices (an int, a list, an ndarray or an int Tensor) as an integer ndarray."""
    raw = values(indices)
    if raw.size == 0 and raw.dtype.kind == "f":
        raw = raw.astype(np.intp)
    if raw.dtype.kind not in "iu":
        raise IndexError(f"indices must be integers, got an array of dtype {raw.dtype}")
    return raw


@both_spellings
def take(x: Any, indices: Any, axis: int | None = None, *, mode: str = "raise") -> Any:
    """Elements of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` when ``axis`` is None).

    ``mode`` is NumPy's: "raise" (negative indices count from the end), "wrap" or "clip". Repeated indices
    accumulate their gradients.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> cr.take(x, [3, 0, 3]).sum().backward()
    >>> x.grad
    tensor([[1., 0.],
            [0., 2.]])
    """
    x = as_array(x)
    if axis is None:
        x, axis = ravel(x), 0
    axis = normalize_axis_index(axis, x.ndim)
    idx = _index_array(indices)
    n = x.shape[axis]
    if mode == "wrap":
        idx = np.mod(idx, n)
    elif mode == "clip":
        idx = np.clip(idx, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return _getitem(x, _along(axis, idx if idx.ndim else int(idx)))


@both_spellings
def take_along_axis(x: Any, indices: Any, axis: int | None) -> Any:
    """Pick from ``x`` along ``axis`` with ``indices`` of the same number of dimensions (as ``np.take_along_axis``).

    ``indices`` broadcasts against ``x`` on every other axis; ``axis=None`` works on the flattened ``x``.

    >>> import numpy as np, chainrule as cr
    >>> x = cr.tensor([[10.0, 30.0, 20.0], [60.0, 40.0, 50.0]])
    >>> cr.take_along_axis(x, np.array([[1], [0]]), axis=1)
    tensor([[30.],
            [60.]])
    """
    x = as_array(x)
    idx = _index_array(indices)
    if axis is None:
        if idx.ndim != 1:
            raise ValueError(f"take_along_axis: with axis=None, indices must be 1-d, got shape {idx.shape}")
        return _getitem(ravel(x), (idx,))
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_axis: indices and x must have the same number of dimensions, got shapes "
                         f"{idx.shape} and {x.shape}")
    axis = normalize_axis_index(axis, x.ndim)
    grid = [np.arange(n).reshape((1,) * d + (n,) + (1,) * (x.ndim - d - 1)) for d, n in enumerate(x.shape)]
    grid[axis] = idx
    return _getitem(x, tuple(grid))


# ---- reshaping and reordering axes: composites of reshape and transpose ----------------------------------------
def permute(x: Any, axes: Sequence[int]) -> Any:
    """The axes of ``x`` in the order ``axes`` (PyTorch's name for ``transpose(x, axes)``).

    >>> import chainrule as cr
    >>> cr.permute(cr.zeros((2, 3, 4)), (2, 0, 1)).shape
    (4, 2, 3)
    """
    return transpose(x, tuple(axes))


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    """``x`` with two axes interchanged.

    >>> import chainrule as cr
    >>> cr.swapaxes(cr.zeros((2, 3, 4)), 0, -1).shape
    (4, 3, 2)
    """
    x = as_array(x)
    a, b = normalize_axis_index(axis1, x.ndim), normalize_axis_index(axis2, x.ndim)
    axes = list(range(x.ndim))
    axes[a], axes[b] = b, a
    return transpose(x, tuple(axes))


def moveaxis(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Any:
    """``x`` with the axes ``source`` moved to positions ``destination``; the other axes keep their order.

    >>> import chainrule as cr
    >>> cr.moveaxis(cr.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    x = as_array(x)
    src = normalize_axis_tuple(source, x.ndim, "source")
    dst = normalize_axis_tuple(destination, x.ndim, "destination")
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: source {source} and destination {destination} must have the same number of axes")
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, tuple(order))


@both_spellings
def expand_dims(x: Any, axis: int | Sequence[int]) -> Any:
    """``x`` with new axes of length one at the positions ``axis`` (positions in the result).

    >>> import chainrule as cr
    >>> cr.expand_dims(cr.zeros((2, 3)), (0, -1)).shape
    (1, 2, 3, 1)
    """
    x = as_array(x)
    ndim = x.ndim + (len(axis) if isinstance(axis, Sequence) else 1)
    new = normalize_axis_tuple(axis, ndim)
    sizes = iter(x.shape)
    return reshape(x, tuple(1 if d in new else next(sizes) for d in range(ndim)))


@both_spellings
def squeeze(x: Any, axis: Axis = None) -> Any:
    """``x`` without its axes of length one (only those in ``axis`` when given; each must have length one).

    >>> import chainrule as cr
    >>> cr.squeeze(cr.zeros((1, 3, 1))).shape
    (3,)
    >>> cr.squeeze(cr.zeros((1, 3, 1)), axis=0).shape
    (3, 1)
    """
    x = as_array(x)
    shape = x.shape
    if axis is None:
        drop: tuple[int, ...] = tuple(d for d, n in enumerate(shape) if n == 1)
    else:
        drop = normalize_axis_tuple(axis, x.ndim)
        for d in drop:
            if shape[d] != 1:
                raise ValueError(f"squeeze: axis {d} of an array of shape {shape} has length {shape[d]}, not 1")
    return reshape(x, tuple(n for d, n in enumerate(shape) if d not in drop))


def ravel(x: Any) -> Any:
    """``x`` as a 1-d array, in row-major order.

    >>> import chainrule as cr
    >>> cr.ravel(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([1., 2., 3., 4.])
    """
    return reshape(x, (-1,))


def flatten(x: Any) -> Any:
    """``x`` as a 1-d array, in row-major order (``ndarray.flatten``).

    >>> import chainrule as cr
    >>> cr.flatten(cr.zeros((2, 3, 4))).shape
    (24,)
    """
    return reshape(x, (-1,))


def _atleast(x: Any, ndim: int) -> Any:
    """``x`` with leading axes of length one added until it has ``ndim`` dimensions (as ``np.atleast_2d``)."""
    x = as_array(x)
    return x if x.ndim >= ndim else reshape(x, (1,) * (ndim - x.ndim) + x.shape)


# ---- joining and splitting -----------------------------------------------------------------------------------
def _block(i: int, xs: Sequence[Any], axis: int) -> tuple[Any, ...]:
    """The index of input ``i``'s block in the output of ``concatenate(xs, axis)``."""
    axis = normalize_axis_index(axis, xs[0].ndim)
    start = builtins.sum(x.shape[axis] for x in xs[:i])
    return _along(axis, slice(start, start + xs[i].shape[axis]))


def _concatenate_forward(*xs: Any, axis: int = 0) -> Any:
    return np.concatenate(xs, axis=axis)


# input i owns one block of the output: its cotangent is that block of g, its tangent fills that block with zeros around
_concatenate = Primitive(
    "concatenate",
    _concatenate_forward,
    vjp=lambda i, g, ans, *xs, axis=0: _getitem(g, _block(i, xs, axis)),
    jvp=lambda i, t, ans, *xs, axis=0: scatter_add(t, _block(i, xs, axis), ans.shape),
    batching=lambda i, t, ans, *xs, axis=0: scatter_add(t, (slice(None), *_block(i, xs, axis)), t.shape[:1] + ans.shape),
    variadic=True,
    samples=lambda rng: [
        Sample((S.draw(rng, (3,)), S.draw(rng, (2,)))),
        Sample((S.draw(rng, (2, 3)), S.draw(rng, (2, 1)), S.draw(rng, (2, 2))), {"axis": 1}),
        Sample((S.draw(rng, (2, 2)), S.draw(rng, (1, 2))), {"axis": -2}),
        Sample((S.draw(rng, (2, 2)),), {"axis": -1}),
    ],
    reference=_concatenate_forward,
)


@both_spellings
def concatenate(arrays: Sequence[Any], axis: int | None = 0) -> Any:
    """Join arrays along an existing axis (all axes flattened first when ``axis`` is None).

    >>> import chainrule as cr
    >>> cr.concatenate([cr.tensor([[1.0, 2.0]]), cr.tensor([[3.0, 4.0]])], axis=0)
    tensor([[1., 2.],
            [3., 4.]])
    """
    xs = [as_array(a) for a in arrays]
    if not xs:
        raise ValueError("concatenate: need at least one array to concatenate")
    if axis is None:
        xs, axis = [ravel(x) for x in xs], 0
    ndim = xs[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated (use stack)")
    axis = normalize_axis_index(axis, ndim)
    first = xs[0].shape
    for x in xs[1:]:
        if x.ndim != ndim or x.shape[:axis] + x.shape[axis + 1:] != first[:axis] + first[axis + 1:]:
            raise ValueError(f"concatenate: shapes {first} and {x.shape} do not match except along axis {axis}")
    return _concatenate(*xs, axis=axis)


@both_spellings
def stack(arrays: Sequence[Any], axis: int = 0) -> Any:
    """Join arrays of one shape along a new axis ``axis``.

    >>> import chainrule as cr
    >>> cr.stack([cr.zeros((2, 3)), cr.ones((2, 3))], axis=1).shape
    (2, 2, 3)
    """
    xs = [as_array(a) for a in arrays]
    if not xs:
        raise ValueError("stack: need at least one array to stack")
    for x in xs[1:]:
        if x.shape != xs[0].shape:
            raise ValueError(f"stack: all input arrays must have the same shape, got {xs[0].shape} and {x.shape}")
    axis = normalize_axis_index(axis, xs[0].ndim + 1)
    return _concatenate(*[expand_dims(x, axis) for x in xs], axis=axis)


def hstack(arrays: Sequence[Any]) -> Any:
    """Join arrays column-wise: along axis 1, or axis 0 for 1-d arrays (0-d ones become 1-d).

    >>> import chainrule as cr
    >>> cr.hstack([cr.tensor([1.0, 2.0]), cr.tensor(3.0)])
    tensor([1., 2., 3.])
    """
    xs = [_atleast(a, 1) for a in arrays]
    return concatenate(xs, axis=0 if xs and xs[0].ndim == 1 else 1)


def vstack(arrays: Sequence[Any]) -> Any:
    """Join arrays row-wise, along axis 0 (1-d arrays of length n become rows of shape (1, n)).

    >>> import chainrule as cr
    >>> cr.vstack([cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])]).shape
    (2, 2)
    """
    return concatenate([_atleast(a, 2) for a in arrays], axis=0)


@both_spellings
def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """``x`` cut along ``axis`` into equal sections (an int), or at the given indices (a sequence).

    >>> import chainrule as cr
    >>> [p.shape for p in cr.split(cr.zeros((6, 2)), 3)]
    [(2, 2), (2, 2), (2, 2)]
    >>> [p.shape for p in cr.split(cr.zeros((6, 2)), [1, 4])]
    [(1, 2), (3, 2), (2, 2)]
    """
    x = as_array(x)
    axis = normalize_axis_index(axis, x.ndim)
    n = x.shape[axis]
    cuts = indices_or_sections.data if isinstance(indices_or_sections, Tensor) else indices_or_sections
    if np.ndim(cuts) == 0:
        sections = int(cuts)
        if sections <= 0:
            raise ValueError(f"split: the number of sections must be positive, got {sections}")
        if n % sections:
            raise ValueError(f"split: an axis of length {n} does not divide into {sections} equal sections")
        bounds = [k * (n // sections) for k in range(sections + 1)]
    else:
        bounds = [0, *(int(c) for c in np.ravel(cuts)), n]
    return [_getitem(x, _along(axis, slice(a, b))) for a, b in itertools.pairwise(bounds)]


# ---- padding, flipping, rolling, tiling, repeating: composites of indexing and joining -----------------------
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Any:
    """``x`` padded with ``constant_values``: ``pad_width`` as in NumPy (an int, (before, after), or one per axis).

    Only ``mode="constant"`` is supported. The gradient is the cotangent's interior, the part over ``x``.

    >>> import chainrule as cr
    >>> cr.pad(cr.tensor([1.0, 2.0]), (1, 2), constant_values=-1)
    tensor([-1.,  1.,  2., -1., -1.])
    """
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got mode={mode!r}")
    x = as_array(x)
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r}")
    try:
        pairs = np.broadcast_to(widths, (x.ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an array of shape {x.shape}") from None
    if (pairs < 0).any():
        raise ValueError(f"pad: pad_width cannot be negative, got {pad_width!r}")
    shape = tuple(int(b + n + a) for (b, a), n in zip(pairs, x.shape))
    interior = tuple(slice(int(b), int(b) + n) for (b, _), n in zip(pairs, x.shape))
    out = scatter_add(x, interior, shape)
    if holds_box((constant_values,)):  # a differentiated fill: it lands on the border, where x is not
        fill_box = as_array(constant_values)
        if fill_box.ndim != 0:
            raise ValueError("pad: a constant_values that is being differentiated must be a single value")
        border = like(np.pad(np.zeros(x.shape, dtype=bool), pairs, constant_values=True), x)
        return out + where(border, fill_box, 0.0)
    fill = backend.to_host(values(constant_values))
    if fill.any():
        out = out + like(np.pad(np.zeros(x.shape, dtype=x.dtype), pairs, constant_values=fill), x)
    return out


@both_spellings
def flip(x: Any, axis: Axis = None) -> Any:
    """``x`` with the order of its elements reversed along ``axis`` (all axes when None).

    >>> import chainrule as cr
    >>> cr.flip(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=1)
    tensor([[2., 1.],
            [4., 3.]])
    """
    x = as_array(x)
    axes = range(x.ndim) if axis is None else normalize_axis_tuple(axis, x.ndim)
    reverse = slice(None, None, -1)
    return _getitem(x, tuple(reverse if d in axes else slice(None) for d in range(x.ndim)))


@both_spellings
def roll(x: Any, shift: int | Sequence[int], axis: Axis = None) -> Any:
    """``x`` with its elements shifted by ``shift`` along ``axis``; those pushed off one end come back at the other.

    With ``axis=None`` the flattened ``x`` is rolled and the shape restored.

    >>> import chainrule as cr
    >>> cr.roll(cr.tensor([1.0, 2.0, 3.0, 4.0]), 1)
    tensor([4., 1., 2., 3.])
    """
    x = as_array(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts, axes = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
    total: dict[int, int] = {}
    for s, a in zip(shifts.ravel(), axes.ravel()):
        a = normalize_axis_index(int(a), x.ndim)
        total[a] = total.get(a, 0) + int(s)
    for a, s in total.items():
        n = x.shape[a]
        s = s % n if n else 0
        if s:  # out[i] = x[(i - s) mod n]: the last s elements first
            x = _concatenate(_getitem(x, _along(a, slice(n - s, None))), _getitem(x, _along(a, slice(0, n - s))),
                             axis=a)
    return x


def tile(x: Any, reps: int | Sequence[int]) -> Any:
    """``x`` repeated ``reps`` times along each axis, as whole blocks (``np.tile``).

    >>> import chainrule as cr
    >>> cr.tile(cr.tensor([1.0, 2.0]), 2)
    tensor([1., 2., 1., 2.])
    >>> cr.tile(cr.tensor([1.0, 2.0]), (2, 1)).shape
    (2, 2)
    """
    x = as_array(x)
    r = tuple(int(k) for k in np.atleast_1d(np.asarray(reps)))
    ndim = builtins.max(len(r), x.ndim)
    r = (1,) * (ndim - len(r)) + r
    shape = (1,) * (ndim - x.ndim) + x.shape
    # (s0, s1, ...) -> (1, s0, 1, s1, ...) -> broadcast (r0, s0, r1, s1, ...) -> (r0*s0, r1*s1, ...)
    spread = tuple(k for n in shape for k in (1, n))
    blocks = tuple(k for rn in zip(r, shape) for k in rn)
    out = broadcast_to(reshape(x, spread), blocks)
    return reshape(out, tuple(k * n for k, n in zip(r, shape)))


@both_spellings
def repeat(x: Any, repeats: Any, axis: int | None = None) -> Any:
    """Each element of ``x`` repeated ``repeats`` times along ``axis`` (of the flattened ``x`` when None).

    ``repeats`` is an int or one count per element along ``axis`` (``np.repeat``); ``tile`` repeats whole blocks.

    >>> import chainrule as cr
    >>> cr.repeat(cr.tensor([1.0, 2.0]), 2)
    tensor([1., 1., 2., 2.])
    >>> cr.repeat(cr.tensor([1.0, 2.0]), [1, 3])
    tensor([1., 2., 2., 2.])
    """
    x = as_array(x)
    if axis is None:
        x, axis = ravel(x), 0
    axis = normalize_axis_index(axis, x.ndim)
    counts = _index_array(repeats)
    if (counts < 0).any():
        raise ValueError(f"repeat: repeats cannot be negative, got {repeats!r}")
    n = x.shape[axis]
    if counts.size == 1 and counts.ndim <= 1:
        k = int(counts.reshape(()))
        shape = x.shape
        wide = broadcast_to(reshape(x, (*shape[:axis + 1], 1, *shape[axis + 1:])), (*shape[:axis + 1], k, *shape[axis + 1:]))
        return reshape(wide, (*shape[:axis], n * k, *shape[axis + 1:]))
    if counts.shape != (n,):
        raise ValueError(f"repeat: repeats of shape {counts.shape} do not match axis {axis} of length {n}")
    return _getitem(x, _along(axis, np.repeat(np.arange(n), counts)))
