"""Shape primitives and composites: reshape, transpose, broadcasting, joining, splitting, and indexing.

Five primitives carry all the gradient code of this family: ``reshape``, ``transpose``, ``broadcast_to``,
``concatenate``, and indexing with its adjoint (``getitem`` / ``scatter_add``, each the other's VJP). Everything
else (squeeze, stack, split, pad, flip, roll, tile, repeat, take, array, diag, tril, kron, cross, diff, gradient,
meshgrid, ``r_``, ...) is a composite of these and of elementwise arithmetic, and has no rules.
"""

from __future__ import annotations

import builtins
import itertools
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from .. import backend
from ..primitive import Primitive, Sample, as_array, check_values, fit_batch, holds_box, index_box, is_complex, like
from ..spelling import both_spellings
from ..tensor import Tensor, bottom, values
from . import samples as S
from .elementwise import astype, exp, log, multiply, not_equal, where

__all__ = [
    "append",
    "array",
    "asarray",
    "assign",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_to",
    "c_",
    "column_stack",
    "concatenate",
    "cross",
    "diag",
    "diagflat",
    "diff",
    "ediff1d",
    "expand_dims",
    "flatten",
    "flip",
    "fliplr",
    "flipud",
    "getitem",
    "gradient",
    "hstack",
    "kron",
    "meshgrid",
    "moveaxis",
    "pad",
    "permute",
    "r_",
    "ravel",
    "repeat",
    "reshape",
    "roll",
    "rot90",
    "row_stack",
    "scatter_add",
    "select",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "take",
    "take_along_axis",
    "tile",
    "transpose",
    "tril",
    "triu",
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
        named = np.arange(out.size).reshape(shape)[host]
        positions, values_ = like(named.reshape(-1), g), xp.broadcast_to(g, named.shape).reshape(-1)
        if out.dtype.kind == "c":  # CUDA has no complex atomic add: the real and imaginary parts go separately
            parts = out.reshape(-1).view(np.result_type(out.real))  # (re, im) pairs, interleaved
            xp.add.at(parts, 2 * positions, values_.real)
            xp.add.at(parts, 2 * positions + 1, values_.imag)
        else:
            xp.add.at(out.reshape(-1), positions, values_)
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
    if type(value) is np.ndarray:  # a number or list written into a tensor on the GPU goes there, as in CuPy
        value = like(value, x)
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


def _index_array(indices: Any) -> Any:
    """Indices (an int, a list, an ndarray or an int Tensor) as an integer ndarray; a box of vmap or cr.compile
    (indices with a dtype and no values: computed from the batch, or traced) as it is, for the indexing primitives
    to batch or record."""
    box = index_box(indices)
    if box is not None:
        return box
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


# ---- arrays from (nested) sequences of tensors ----------------------------------------------------------------
def _is_value(x: Any) -> bool:
    """A Tensor, or an array on a device (which NumPy cannot convert)."""
    return isinstance(x, Tensor) or (type(x) in backend.array_types and type(x) is not np.ndarray)


def _first_value(obj: Any) -> Any:
    """The first tensor or device array in a (nested) list or tuple, or None."""
    for item in obj:
        if _is_value(item):
            return item
        if type(item) is list or type(item) is tuple:
            found = _first_value(item)
            if found is not None:
                return found
    return None


def _near(obj: Any, ref: Any) -> Any:
    """``obj`` as an array next to ``ref``'s values: tensors and device arrays as they are, a (nested) list or tuple
    holding them stacked (recorded) level by level, and a constant (a number, a list, an ndarray) made on ``ref``'s
    device (the host when ``ref`` is None), so constants mixed with GPU tensors stay on the GPU."""
    if _is_value(obj):
        return obj
    if (type(obj) is list or type(obj) is tuple) and _first_value(obj) is not None:
        return stack([_near(item, ref) for item in obj])
    return like(np.asarray(obj), ref)


def array(object: Any, dtype: Any = None, *, copy: bool | None = True, order: str | None = "K", ndmin: int = 0,
          like: Any = None) -> Tensor:
    """A tensor from ``object``, as ``np.array``: a (nested) list or tuple of tensors is stacked, recorded, so their
    gradients flow back; an ndarray, a number or a list of numbers gives a constant tensor.

    ``copy`` is NumPy's: True always copies (a tensor's copy is recorded, so it differentiates), None copies only
    where needed (a tensor of the right dtype comes back as itself), False never copies and refuses where it would
    have to. ``dtype`` casts (recorded between floating dtypes), ``ndmin`` adds leading axes of length one;
    ``like`` only chooses NumPy's dispatch. Python numbers in the list count as float64, as in NumPy.

    ``cr.tensor(data)`` differs on purpose: it makes a new leaf, cut off any graph (as ``torch.tensor``).
    ``np.array([t, u])`` cannot do this: NumPy does not dispatch ``np.array``, it converts each tensor to a constant.
    Inside a transform that conversion is refused (it would drop the derivative); outside one it gives a plain
    ndarray, as any ``np.asarray(t)`` does. ``np.array([t, u], like=t)`` is dispatched, so it comes here and records.

    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> y = cr.array([[x, 1.0], [x * x, 0.0]])
    >>> y
    tensor([[2., 1.],
            [4., 0.]], grad_fn=<concatenate>)
    >>> y.sum().backward()
    >>> x.grad
    tensor(5.)
    """
    if order not in ("K", "A", "C", None):
        raise ValueError(f"array: order={order!r}: chainrule's arrays have no memory layout to choose; pass 'K' or 'C'")
    if _is_value(object):
        x, made = object, False
    else:
        ref = _first_value(object) if type(object) is list or type(object) is tuple else None
        if ref is None:  # no tensor anywhere: NumPy's own conversion, copy= and all
            made_here = np.array(object, dtype=dtype, copy=copy, order=order, ndmin=ndmin)  # type: ignore[arg-type]
            return Tensor._from_node(made_here, None)
        if copy is False:
            raise ValueError("array(copy=False): a list of tensors is stacked into a new array, which is a copy; "
                             "pass copy=None or copy=True")
        x, made = _near(object, ref), True
    if not isinstance(x, Tensor):  # a device array: a constant tensor
        x = Tensor._from_node(x, None)
    if dtype is not None and np.dtype(dtype) != x.dtype:
        if copy is False:
            raise ValueError(f"array(copy=False): converting {x.dtype} to {np.dtype(dtype)} needs a copy; pass "
                             f"copy=None or copy=True")
        x, made = astype(x, dtype), True
    if copy and not made:
        x = astype(x, x.dtype)  # a recorded copy: a new array, the same gradient
    return _atleast(x, ndmin)


def asarray(a: Any, dtype: Any = None, order: str | None = None, *, device: Any = None, copy: bool | None = None,
            like: Any = None) -> Tensor:
    """``a`` as a tensor, copied only where needed (``np.asarray``: ``array(a, dtype, copy=None)``); ``device=``
    moves it (differentiably) to a chainrule device.

    >>> import chainrule as cr
    >>> t = cr.tensor([1.0, 2.0])
    >>> cr.asarray(t) is t
    True
    >>> cr.asarray([t, t]).shape
    (2, 2)
    """
    out = array(a, dtype, copy=copy, order=order)
    return out if device is None else out.to(device)


# ---- diagonals and triangles ---------------------------------------------------------------------------------
def _diagonal_index(rows: int, cols: int, k: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The (row, column) positions of diagonal ``k`` of a rows x cols matrix (k > 0 above the main one)."""
    n = builtins.max(0, builtins.min(rows, cols - k) if k >= 0 else builtins.min(rows + k, cols))
    i = np.arange(n)
    return (i, i + k) if k >= 0 else (i - k, i)


def diag(v: Any, k: int = 0) -> Any:
    """The diagonal ``k`` of a matrix, or a square matrix with the vector ``v`` on its diagonal ``k`` (``np.diag``).

    >>> import chainrule as cr
    >>> cr.diag(cr.tensor([1.0, 2.0]), k=1)
    tensor([[0., 1., 0.],
            [0., 0., 2.],
            [0., 0., 0.]])
    >>> cr.diag(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([1., 4.])
    """
    v = as_array(v)
    k = int(k)
    if v.ndim == 1:
        n = v.shape[0] + builtins.abs(k)
        return scatter_add(v, _diagonal_index(n, n, k), (n, n))
    if v.ndim == 2:
        return _getitem(v, _diagonal_index(v.shape[0], v.shape[1], k))
    raise ValueError(f"diag: input must be 1-d or 2-d, got shape {v.shape}")


def diagflat(v: Any, k: int = 0) -> Any:
    """A square matrix with the flattened ``v`` on its diagonal ``k``.

    >>> import chainrule as cr
    >>> cr.diagflat(cr.tensor([[1.0, 2.0]])).shape
    (2, 2)
    """
    return diag(ravel(v), k)


def _triangle(m: Any, k: int, lower: bool) -> Any:
    """``m`` with the entries outside a triangle of its last two axes zeroed (1-d: the rows of a square matrix)."""
    m = as_array(m)
    if m.ndim == 0:
        raise ValueError(f"{'tril' if lower else 'triu'}: input must be at least 1-d")
    rows, cols = m.shape[-2:] if m.ndim > 1 else (m.shape[-1],) * 2
    keep = np.tri(rows, cols, k, dtype=bool) if lower else ~np.tri(rows, cols, k - 1, dtype=bool)
    return where(like(keep, m), m, like(np.zeros((), dtype=m.dtype), m))


def tril(m: Any, k: int = 0) -> Any:
    """``m`` with the entries above diagonal ``k`` zeroed, on its last two axes (``np.tril``).

    >>> import chainrule as cr
    >>> cr.tril(cr.ones((2, 3)))
    tensor([[1., 0., 0.],
            [1., 1., 0.]])
    """
    return _triangle(m, k, lower=True)


def triu(m: Any, k: int = 0) -> Any:
    """``m`` with the entries below diagonal ``k`` zeroed, on its last two axes (``np.triu``).

    >>> import chainrule as cr
    >>> cr.triu(cr.ones((2, 3)), k=1)
    tensor([[0., 1., 1.],
            [0., 0., 1.]])
    """
    return _triangle(m, k, lower=False)


# ---- products over an axis: kron, cross ----------------------------------------------------------------------
def kron(a: Any, b: Any) -> Any:
    """The Kronecker product: blocks ``a[i, j] * b`` (``np.kron``; the operand with fewer axes gets leading ones).

    >>> import chainrule as cr
    >>> cr.kron(cr.tensor([1.0, 10.0]), cr.tensor([1.0, 2.0, 3.0]))
    tensor([ 1.,  2.,  3., 10., 20., 30.])
    """
    a, b = as_array(a), as_array(b)
    ndim = builtins.max(a.ndim, b.ndim)
    sa, sb = (1,) * (ndim - a.ndim) + a.shape, (1,) * (ndim - b.ndim) + b.shape
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0, b0, a1, b1, ...) -> (a0 * b0, a1 * b1, ...)
    blocks = multiply(reshape(a, tuple(n for p in sa for n in (p, 1))), reshape(b, tuple(n for q in sb for n in (1, q))))
    return reshape(blocks, tuple(p * q for p, q in zip(sa, sb)))


def _product(p: Any, q: Any) -> Any:
    """p * q, where None is a zero component (a 2-vector's third one)."""
    return None if p is None or q is None else multiply(p, q)


def _difference(p: Any, q: Any) -> Any:
    return -q if p is None else p if q is None else p - q


@both_spellings
def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Any:
    """The cross product of vectors of length 3 (or 2, whose third component is 0) along ``axisa`` of ``a`` and
    ``axisb`` of ``b``, the result's vectors along ``axisc`` (``axis`` sets all three), batches broadcast
    (``np.cross``). Two 2-vectors give the scalar z component.

    >>> import chainrule as cr
    >>> cr.cross(cr.tensor([1.0, 0.0, 0.0]), cr.tensor([0.0, 1.0, 0.0]))
    tensor([0., 0., 1.])
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = as_array(a), as_array(b)
    if a.ndim < 1 or b.ndim < 1:
        raise ValueError("cross: both inputs must have at least one dimension")
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ValueError(f"cross: vectors must have length 2 or 3, got {a.shape[-1]} and {b.shape[-1]}")
    shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    ac = [_getitem(a, (Ellipsis, i)) for i in range(a.shape[-1])] + [None] * (3 - a.shape[-1])
    bc = [_getitem(b, (Ellipsis, i)) for i in range(b.shape[-1])] + [None] * (3 - b.shape[-1])
    z = _difference(_product(ac[0], bc[1]), _product(ac[1], bc[0]))
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return broadcast_to(z, shape)
    x = _difference(_product(ac[1], bc[2]), _product(ac[2], bc[1]))
    y = _difference(_product(ac[2], bc[0]), _product(ac[0], bc[2]))
    out = stack([broadcast_to(c, shape) for c in (x, y, z)], axis=-1)
    return moveaxis(out, -1, normalize_axis_index(axisc, out.ndim))


# ---- differences ---------------------------------------------------------------------------------------------
def _differences(x: Any, axis: int) -> Any:
    """x[1:] - x[:-1] along ``axis`` (for booleans, where they differ, as NumPy)."""
    hi, lo = _getitem(x, _along(axis, slice(1, None))), _getitem(x, _along(axis, slice(None, -1)))
    return not_equal(hi, lo) if x.dtype == np.bool_ else hi - lo


@both_spellings
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """The ``n``-th differences along ``axis``, ``out[i] = a[i + 1] - a[i]`` applied ``n`` times, after joining
    ``prepend`` and ``append`` (a scalar is broadcast to one slice) to ``a`` along ``axis`` (``np.diff``).

    >>> import chainrule as cr
    >>> cr.diff(cr.tensor([1.0, 4.0, 9.0, 16.0]))
    tensor([3., 5., 7.])
    >>> cr.diff(cr.tensor([1.0, 4.0, 9.0]), n=2, prepend=0.0)
    tensor([2., 2.])
    """
    a = as_array(a)
    if n < 0:
        raise ValueError(f"diff: order must be non-negative, got n={n}")
    if n == 0:
        return a
    if a.ndim == 0:
        raise ValueError("diff: input must be at least 1-d")
    axis = normalize_axis_index(axis, a.ndim)
    parts = []
    for extra in (prepend, a, append):
        if extra is None:
            continue
        extra = _near(extra, a)
        parts.append(broadcast_to(extra, (*a.shape[:axis], 1, *a.shape[axis + 1:])) if extra.ndim == 0 else extra)
    x = concatenate(parts, axis=axis) if len(parts) > 1 else a
    for _ in range(n):
        x = _differences(x, axis)
    return x


def _cast_like(x: Any, ref: Any, what: str) -> Any:
    """``x`` flattened, next to ``ref`` and in its dtype, refused where NumPy's same-kind casting would refuse it."""
    x, dtype = ravel(_near(x, ref)), ref.dtype
    if not np.can_cast(x.dtype, dtype, casting="same_kind"):
        raise TypeError(f"ediff1d: {what} of dtype {x.dtype} cannot be cast to the input's {dtype} (same_kind rule)")
    return x if x.dtype == dtype else astype(x, dtype)


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """The differences between consecutive elements of the flattened ``ary``, with ``to_begin`` before them and
    ``to_end`` after (``np.ediff1d``; both cast to ``ary``'s dtype).

    >>> import chainrule as cr
    >>> cr.ediff1d(cr.tensor([[1.0, 2.0], [4.0, 8.0]]), to_begin=0.0)
    tensor([0., 1., 2., 4.])
    """
    x = ravel(as_array(ary))
    parts = [_differences(x, 0) if x.shape[0] else x]
    if to_begin is not None:
        parts.insert(0, _cast_like(to_begin, x, "to_begin"))
    if to_end is not None:
        parts.append(_cast_like(to_end, x, "to_end"))
    return concatenate(parts) if len(parts) > 1 else parts[0]


def _spacing(d: Any, f: Any, axis: int) -> tuple[Any, bool]:
    """One axis's spacing for ``gradient`` of ``f``: a scalar step, or the 1-d coordinates' differences (uniform:
    (step, True); not uniform: (differences, False)), next to ``f``'s values."""
    d, n = _near(d, f), f.shape[axis]
    if d.ndim == 0:
        return d, True
    if d.ndim != 1:
        raise ValueError(f"gradient: a spacing must be a scalar or 1-d coordinates, got shape {d.shape}")
    if d.shape[0] != n:
        raise ValueError(f"gradient: coordinates of length {d.shape[0]} do not match axis {axis} of length {n}")
    if d.dtype.kind in "iub":
        d = astype(d, np.float64)
    steps = _differences(d, 0)
    first = _getitem(steps, (0,))
    # uniform coordinates take the uniform formulas, as NumPy does; not when differentiated: the gradient with
    # respect to every coordinate is the non-uniform formula's
    if not holds_box((d,)) and bool((values(steps) == values(first)).all()):
        return first, True
    return steps, False


def _gradient_along(f: Any, axis: int, dx: Any, uniform: bool, edge_order: int) -> Any:
    """np.gradient along one axis: central differences inside, one-sided ones of ``edge_order`` at both ends."""
    n = f.shape[axis]

    def at(start: int | None, stop: int | None) -> Any:
        return _getitem(f, _along(axis, slice(start, stop)))

    def along(c: Any) -> Any:  # per-position coefficients, shaped to broadcast along ``axis``
        return reshape(c, (-1,) + (1,) * (f.ndim - axis - 1))

    if uniform:
        inner = (at(2, None) - at(None, -2)) / (2.0 * dx)
    else:
        dx1, dx2 = _getitem(dx, (slice(None, -1),)), _getitem(dx, (slice(1, None),))
        a, b, c = -dx2 / (dx1 * (dx1 + dx2)), (dx2 - dx1) / (dx1 * dx2), dx1 / (dx2 * (dx1 + dx2))
        inner = along(a) * at(None, -2) + along(b) * at(1, -1) + along(c) * at(2, None)
    if edge_order == 1:
        d0, d1 = (dx, dx) if uniform else (_getitem(dx, (slice(0, 1),)), _getitem(dx, (slice(-1, None),)))
        first = (at(1, 2) - at(0, 1)) / (d0 if uniform else along(d0))
        last = (at(n - 1, n) - at(n - 2, n - 1)) / (d1 if uniform else along(d1))
    else:
        if uniform:
            c0, c1, c2 = -1.5 / dx, 2.0 / dx, -0.5 / dx
            e0, e1, e2 = 0.5 / dx, -2.0 / dx, 1.5 / dx
        else:
            p, q = _getitem(dx, (slice(0, 1),)), _getitem(dx, (slice(1, 2),))
            c0, c1, c2 = -(2.0 * p + q) / (p * (p + q)), (p + q) / (p * q), -p / (q * (p + q))
            p, q = _getitem(dx, (slice(-2, -1),)), _getitem(dx, (slice(-1, None),))
            e0, e1, e2 = q / (p * (p + q)), -(q + p) / (p * q), (2.0 * q + p) / (q * (p + q))
            c0, c1, c2, e0, e1, e2 = (along(c) for c in (c0, c1, c2, e0, e1, e2))
        first = c0 * at(0, 1) + c1 * at(1, 2) + c2 * at(2, 3)
        last = e0 * at(n - 3, n - 2) + e1 * at(n - 2, n - 1) + e2 * at(n - 1, n)
    return concatenate([first, inner, last], axis=axis)


@both_spellings
def gradient(f: Any, *varargs: Any, axis: Axis = None, edge_order: int = 1) -> Any:
    """The gradient of sampled values ``f`` by finite differences (``np.gradient``): second-order central
    differences inside, one-sided differences of order ``edge_order`` (1 or 2) at the ends, along each of ``axis``
    (all axes when None). ``varargs`` are the spacings: none (1), one scalar for every axis, or one per axis, each a
    scalar step or the 1-d coordinates of the samples (not necessarily uniform). One axis gives one array, several
    a tuple. Differentiable in ``f`` and in the spacings.

    >>> import chainrule as cr
    >>> cr.gradient(cr.tensor([1.0, 4.0, 9.0, 16.0]))
    tensor([3., 4., 6., 7.])
    >>> cr.gradient(cr.tensor([1.0, 4.0, 9.0, 16.0]), 2.0, edge_order=2)
    tensor([1., 2., 3., 4.])
    """
    f = as_array(f)
    axes = tuple(range(f.ndim)) if axis is None else normalize_axis_tuple(axis, f.ndim)
    if len(varargs) == 0:
        steps: list[Any] = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(values(varargs[0])) == 0:
        steps = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        steps = list(varargs)
    else:
        raise TypeError(f"gradient: {len(varargs)} spacings for {len(axes)} axes: give none, one, or one per axis")
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    if f.dtype.kind in "iub":
        f = astype(f, np.float64)
    out = []
    for ax, step in zip(axes, steps):
        if f.shape[ax] < edge_order + 1:
            raise ValueError(f"gradient: axis {ax} has {f.shape[ax]} samples; edge_order={edge_order} needs at least "
                             f"{edge_order + 1}")
        dx, uniform = (step, True) if isinstance(step, float) else _spacing(step, f, ax)
        g = _gradient_along(f, ax, dx, uniform, edge_order)
        out.append(g if g.dtype == f.dtype else astype(g, f.dtype))
    return out[0] if len(out) == 1 else tuple(out)


# ---- choosing, rotating, appending, stacking --------------------------------------------------------------------
def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """``choicelist[i]`` where ``condlist[i]`` is the first condition that holds, ``default`` where none does
    (``np.select``); the gradient goes to the choice taken.

    >>> import chainrule as cr
    >>> x = cr.tensor([-2.0, 0.5, 3.0])
    >>> cr.select([x < 0, x > 1], [-x, x * 10], default=x)
    tensor([ 2. ,  0.5, 30. ])
    """
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: {len(condlist)} conditions for {len(choicelist)} choices: they must pair up")
    if not condlist:
        raise ValueError("select: needs at least one condition")
    ref = _first_value([*choicelist, default])
    choices = [_near(c, ref) for c in choicelist]
    weak = type(default) in (int, float, complex, bool)  # a Python number takes the choices' dtype, as in NumPy
    out = default if weak else _near(default, ref)
    dtype = np.result_type(*(c.dtype for c in choices), default if weak else out.dtype)
    out = like(np.asarray(default, dtype=dtype), ref) if weak else out
    for i in range(len(condlist) - 1, -1, -1):
        cond = _near(condlist[i], ref)
        if cond.dtype != np.bool_:
            raise TypeError(f"select: condition {i} must be boolean, got dtype {cond.dtype}")
        out = where(cond, choices[i], out)
    return out if out.dtype == dtype else astype(out, dtype)


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """``m`` rotated by 90 degrees ``k`` times in the plane of ``axes``, from the first axis towards the second
    (``np.rot90``).

    >>> import chainrule as cr
    >>> cr.rot90(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[2., 4.],
            [1., 3.]])
    """
    m = as_array(m)
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError(f"rot90: axes must name two axes, got {axes}")
    first, second = (normalize_axis_index(a, m.ndim) for a in axes)
    if first == second:
        raise ValueError(f"rot90: axes must be different, got {axes}")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(m, (first, second))
    order = list(range(m.ndim))
    order[first], order[second] = second, first
    return transpose(flip(m, second), tuple(order)) if k == 1 else flip(transpose(m, tuple(order)), second)


def flipud(m: Any) -> Any:
    """``m`` with its rows in reverse order: flipped along axis 0 (``np.flipud``).

    >>> import chainrule as cr
    >>> cr.flipud(cr.tensor([1.0, 2.0, 3.0]))
    tensor([3., 2., 1.])
    """
    m = as_array(m)
    if m.ndim < 1:
        raise ValueError("flipud: input must be at least 1-d")
    return flip(m, 0)


def fliplr(m: Any) -> Any:
    """``m`` with its columns in reverse order: flipped along axis 1 (``np.fliplr``).

    >>> import chainrule as cr
    >>> cr.fliplr(cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([[2., 1.],
            [4., 3.]])
    """
    m = as_array(m)
    if m.ndim < 2:
        raise ValueError("fliplr: input must be at least 2-d")
    return flip(m, 1)


@both_spellings
def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """``values`` joined after ``arr`` along ``axis``; with ``axis=None`` both are flattened first (``np.append``).

    >>> import chainrule as cr
    >>> cr.append(cr.tensor([[1.0, 2.0]]), [[3.0, 4.0]], axis=0).shape
    (2, 2)
    >>> cr.append(cr.tensor([[1.0, 2.0]]), 3.0)
    tensor([1., 2., 3.])
    """
    arr = as_array(arr)
    more = _near(values, arr)
    if axis is None:
        return concatenate([ravel(arr), ravel(more)])
    return concatenate([arr, more], axis=axis)


def column_stack(tup: Sequence[Any]) -> Any:
    """1-d arrays as the columns of a matrix, 2-d ones joined along axis 1 (``np.column_stack``).

    >>> import chainrule as cr
    >>> cr.column_stack([cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])])
    tensor([[1., 3.],
            [2., 4.]])
    """
    return concatenate([reshape(x, (-1, 1)) if x.ndim < 2 else x for x in map(as_array, tup)], axis=1)


row_stack = vstack  # NumPy 2 deprecates np.row_stack, its old name of vstack


def _leading(arys: tuple[Any, ...], shape: Any) -> Any:
    """Each of ``arys`` reshaped by ``shape(x.shape)``; one array alone, several as a tuple (as NumPy 2)."""
    out = [reshape(x, shape(x.shape)) for x in map(as_array, arys)]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*arys: Any) -> Any:
    """Each input with at least one axis (a scalar becomes shape (1,)); one array alone, several as a tuple.

    >>> import chainrule as cr
    >>> cr.atleast_1d(cr.tensor(2.0))
    tensor([2.])
    """
    return _leading(arys, lambda s: s or (1,))


def atleast_2d(*arys: Any) -> Any:
    """Each input with at least two axes (shape (n,) becomes (1, n)); one array alone, several as a tuple.

    >>> import chainrule as cr
    >>> [a.shape for a in cr.atleast_2d(cr.tensor(2.0), cr.ones(3))]
    [(1, 1), (1, 3)]
    """
    return _leading(arys, lambda s: (1,) * (2 - len(s)) + s)


def atleast_3d(*arys: Any) -> Any:
    """Each input with at least three axes: (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1) (``np.atleast_3d``);
    one array alone, several as a tuple.

    >>> import chainrule as cr
    >>> cr.atleast_3d(cr.ones((2, 3))).shape
    (2, 3, 1)
    """
    return _leading(arys, lambda s: {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}.get(len(s), s))


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> tuple[Any, ...]:
    """Coordinate arrays from coordinate vectors (``np.meshgrid``): with ``indexing="xy"`` (Cartesian) the first two
    axes of the outputs are swapped, ``"ij"`` keeps matrix order; ``sparse`` leaves them unbroadcast. The gradient
    of each output sums back into its vector.

    >>> import chainrule as cr
    >>> X, Y = cr.meshgrid(cr.tensor([1.0, 2.0, 3.0]), cr.tensor([10.0, 20.0]))
    >>> X.shape, Y.shape
    ((2, 3), (2, 3))
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ndim = len(xi)
    ones = (1,) * ndim
    out = [reshape(as_array(x), (*ones[:i], -1, *ones[i + 1:])) for i, x in enumerate(xi)]
    if indexing == "xy" and ndim > 1:
        out[0], out[1] = reshape(out[0], (1, -1, *ones[2:])), reshape(out[1], (-1, 1, *ones[2:]))
    if not sparse:
        shape = np.broadcast_shapes(*(x.shape for x in out))
        out = [broadcast_to(x, shape) for x in out]
    # NumPy's copy=True gives writable arrays of their own; broadcasts and reshapes are views
    return tuple(astype(x, x.dtype) for x in out) if copy else tuple(out)


class _Joiner:
    """NumPy's index tricks ``r_`` and ``c_``: ``cr.r_[t, 0:3, [5, 6]]`` joins tensors, slices (ranges; a complex
    step ``a:b:5j`` is a linspace of 5 points), lists and numbers along an axis, recorded like ``concatenate``.

    A first string entry is NumPy's directive ``"axis"``, ``"axis,ndmin"`` or ``"axis,ndmin,trans1d"`` (the axis to
    join along, the least number of axes each piece gets, and where a piece's own axes go when it gets more). The
    matrix directives ``"r"`` and ``"c"`` are refused: chainrule has no matrix type. ``c_`` is ``r_["-1,2,0"]``:
    1-d pieces become columns.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
    >>> cr.r_[x, 0:2, 9.0]
    tensor([1., 2., 0., 1., 9.], grad_fn=<concatenate>)
    >>> cr.c_[x, x * 10]
    tensor([[ 1., 10.],
            [ 2., 20.]], grad_fn=<concatenate>)
    >>> cr.r_["0,2", x, [3.0, 4.0]].shape
    (2, 2)
    """

    def __init__(self, axis: int, ndmin: int, trans1d: int) -> None:
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key: Any) -> Any:
        items = key if type(key) is tuple else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        if items and isinstance(items[0], str):
            axis, ndmin, trans1d = self._directive(items[0], axis, ndmin, trans1d)
            items = items[1:]
        ref = _first_value(items)
        pieces: list[Any] = []
        kinds: list[Any] = []
        piece: Any
        for item in items:
            if isinstance(item, str):
                raise ValueError(f"r_/c_: a directive ({item!r}) can only be the first entry")
            if isinstance(item, slice):
                piece = self._range(item)
                piece = _atleast(piece, ndmin) if ndmin < 2 or trans1d == -1 else swapaxes(_atleast(piece, ndmin), -1, trans1d)
                kinds.append(piece.dtype)
            elif isinstance(item, (int, float, complex, np.generic)):
                piece = _atleast(np.asarray(item), ndmin)
                kinds.append(item)  # a scalar does not up-cast the others, as in NumPy
            else:
                piece = _near(item, ref)
                own = piece.ndim
                piece = _atleast(piece, ndmin)
                if trans1d != -1 and own < ndmin:  # the piece's own axes start at trans1d, as NumPy moves them
                    k1 = trans1d + (ndmin - own + 1 if trans1d < 0 else 0)
                    order = list(range(ndmin))
                    piece = transpose(piece, tuple(order[:k1] + order[ndmin - own:] + order[k1:ndmin - own]))
                kinds.append(piece.dtype)
            pieces.append(piece)
        if not pieces:
            raise ValueError("r_/c_: nothing to join")
        dtype = np.result_type(*kinds)
        pieces = [_near(p, ref) for p in pieces]
        return concatenate([p if p.dtype == dtype else astype(p, dtype) for p in pieces], axis=axis)

    @staticmethod
    def _directive(text: str, axis: int, ndmin: int, trans1d: int) -> tuple[int, int, int]:
        if text in ("r", "c"):
            raise ValueError(f"r_/c_: the matrix directive {text!r} makes an np.matrix, which chainrule has no "
                             "counterpart of")
        try:
            numbers = [int(p) for p in text.split(",")]
        except ValueError:
            raise ValueError(f"r_/c_: unknown directive {text!r} (expected 'axis', 'axis,ndmin' or "
                             "'axis,ndmin,trans1d')") from None
        if len(numbers) > 3:
            raise ValueError(f"r_/c_: unknown directive {text!r} (at most three numbers)")
        return tuple(numbers + [ndmin, trans1d][len(numbers) - 1:])  # type: ignore[return-value]

    @staticmethod
    def _range(item: slice) -> np.ndarray[Any, Any]:
        start = 0 if item.start is None else item.start
        step = 1 if item.step is None else item.step
        if isinstance(step, complex):
            return np.linspace(start, item.stop, num=int(builtins.abs(step)))
        return np.arange(start, item.stop, step)


r_ = _Joiner(0, 1, -1)  # along the first axis
c_ = _Joiner(-1, 2, 0)  # along the last axis, each piece at least 2-d with its own axes first: 1-d ones as columns


# ---- more of NumPy's shape functions (issue 10): composites of the above ---------------------------------------
__all__ += ["array_split", "asanyarray", "ascontiguousarray", "asfortranarray", "block", "broadcast_arrays", "copy",
            "delete", "dsplit", "dstack", "hsplit", "identity", "insert", "rollaxis", "tri", "trim_zeros", "unstack",
            "vsplit"]


def broadcast_arrays(*args: Any, subok: bool = False) -> tuple[Any, ...]:
    """The inputs broadcast to their common shape, as ``np.broadcast_arrays`` (each a ``broadcast_to``).

    >>> import chainrule as cr
    >>> [a.shape for a in cr.broadcast_arrays(cr.zeros((2, 1)), cr.zeros(3))]
    [(2, 3), (2, 3)]
    """
    arrays = [as_array(a) for a in args]
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    return tuple(a if a.shape == shape else broadcast_to(a, shape) for a in arrays)


@both_spellings
def array_split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """``split`` that allows sections of unequal length: an axis of length n in k sections gives n % k sections of
    n // k + 1 first, then sections of n // k, as ``np.array_split``.

    >>> import chainrule as cr
    >>> [p.shape for p in cr.array_split(cr.zeros(5), 3)]
    [(2,), (2,), (1,)]
    """
    x = as_array(x)
    cuts = indices_or_sections.data if isinstance(indices_or_sections, Tensor) else indices_or_sections
    if np.ndim(cuts) != 0:
        return split(x, cuts, axis=axis)
    sections = int(cuts)
    if sections <= 0:
        raise ValueError(f"array_split: the number of sections must be positive, got {sections}")
    size, extra = divmod(x.shape[normalize_axis_index(axis, x.ndim)], sections)
    bounds = np.cumsum([size + 1] * extra + [size] * (sections - extra))[:-1]
    return split(x, bounds, axis=axis)


def _split_at_least(name: str, x: Any, indices_or_sections: Any, axis: int, least: int) -> list[Any]:
    x = as_array(x)
    if x.ndim < least:
        raise ValueError(f"{name} only works on arrays of {least} or more dimensions, not {x.ndim}")
    return split(x, indices_or_sections, axis=axis)


def hsplit(x: Any, indices_or_sections: Any) -> list[Any]:
    """``split`` along the second axis (a 1-d array: along its only one), as ``np.hsplit``.

    >>> import chainrule as cr
    >>> [p.shape for p in cr.hsplit(cr.zeros((4, 4)), 2)]
    [(4, 2), (4, 2)]
    """
    return _split_at_least("hsplit", x, indices_or_sections, 1 if as_array(x).ndim > 1 else 0, 1)


def vsplit(x: Any, indices_or_sections: Any) -> list[Any]:
    """``split`` along the first axis of an array of two or more dimensions, as ``np.vsplit``.

    >>> import chainrule as cr
    >>> [p.shape for p in cr.vsplit(cr.zeros((4, 4)), [1])]
    [(1, 4), (3, 4)]
    """
    return _split_at_least("vsplit", x, indices_or_sections, 0, 2)


def dsplit(x: Any, indices_or_sections: Any) -> list[Any]:
    """``split`` along the third axis of an array of three or more dimensions, as ``np.dsplit``.

    >>> import chainrule as cr
    >>> [p.shape for p in cr.dsplit(cr.zeros((1, 2, 4)), 2)]
    [(1, 2, 2), (1, 2, 2)]
    """
    return _split_at_least("dsplit", x, indices_or_sections, 2, 3)


def dstack(tup: Sequence[Any]) -> Any:
    """The arrays joined along the third axis, each made at least 3-d first, as ``np.dstack``.

    >>> import chainrule as cr
    >>> cr.dstack([cr.zeros(3), cr.ones(3)]).shape
    (1, 3, 2)
    """
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def _depth(obj: Any) -> int:
    return 1 + _depth(obj[0]) if isinstance(obj, list) and obj else 0


def block(arrays: Any) -> Any:
    """One array assembled from nested lists of blocks, as ``np.block``: the innermost lists are joined along the
    last axis, the next ones out along the one before, each block made at least as deep as the nesting first.

    >>> import chainrule as cr
    >>> cr.block([[cr.eye(2), cr.zeros((2, 1))], [cr.ones((1, 2)), cr.ones((1, 1))]]).shape
    (3, 3)
    """
    depth = _depth(arrays)

    def leaves(obj: Any, level: int) -> list[Any]:
        if isinstance(obj, list):
            if _depth(obj) != depth - level:
                raise ValueError("block: the lists are nested to different depths")
            return [leaf for o in obj for leaf in leaves(o, level + 1)]
        if isinstance(obj, tuple):
            raise TypeError("block: blocks are given in lists, not tuples (as np.block)")
        if level != depth:
            raise ValueError("block: the lists are nested to different depths")
        return [as_array(obj)]

    ndim = builtins.max(depth, *(leaf.ndim for leaf in leaves(arrays, 0)))

    def join(obj: Any, level: int) -> Any:
        if not isinstance(obj, list):
            return _atleast(obj, ndim)
        if not obj:
            raise ValueError("block: a list of blocks is empty")
        return concatenate([join(o, level + 1) for o in obj], axis=level - depth)

    return join(arrays, 0)


@both_spellings
def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """The slices of ``x`` along ``axis``, as ``np.unstack`` (the inverse of ``stack``).

    >>> import chainrule as cr
    >>> [p.shape for p in cr.unstack(cr.zeros((2, 3)), axis=1)]
    [(2,), (2,), (2,)]
    """
    x = as_array(x)
    axis = normalize_axis_index(axis, x.ndim)
    return tuple(_getitem(x, _along(axis, i)) for i in range(x.shape[axis]))


@both_spellings
def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """``axis`` moved to before position ``start``, as ``np.rollaxis`` (``moveaxis`` is clearer).

    >>> import chainrule as cr
    >>> cr.rollaxis(cr.zeros((2, 3, 4)), 2).shape
    (4, 2, 3)
    """
    a = as_array(a)
    n = a.ndim
    axis = normalize_axis_index(axis, n)
    if not -n <= start <= n:
        raise ValueError(f"rollaxis: start {start} is out of range for an array of {n} dimensions")
    start = start + n if start < 0 else start
    start = start - 1 if axis < start else start
    return a if axis == start else moveaxis(a, axis, start)


def copy(a: Any, order: str = "K", subok: bool = False) -> Any:
    """A copy of ``a``, as ``np.copy``: recorded as the identity, so the gradient passes through.

    >>> import chainrule as cr
    >>> t = cr.tensor([1.0, 2.0])
    >>> cr.copy(t) is t
    False
    """
    a = as_array(a)
    return astype(a, a.dtype)


def ascontiguousarray(a: Any, dtype: Any = None, *, like: Any = None) -> Any:
    """``a`` as a tensor of at least one dimension (``np.ascontiguousarray``; the memory order is NumPy's concern).

    >>> import chainrule as cr
    >>> cr.ascontiguousarray(cr.tensor(2.0)).shape
    (1,)
    """
    return _atleast(asarray(a, dtype), 1)


asfortranarray = ascontiguousarray  # the values are the same in either memory order


def asanyarray(a: Any, dtype: Any = None, order: str | None = None, *, device: Any = None, copy: bool | None = None,
               like: Any = None) -> Tensor:
    """``asarray`` (a Tensor has no subclasses to keep), as ``np.asanyarray``.

    >>> import chainrule as cr
    >>> t = cr.tensor([1.0])
    >>> cr.asanyarray(t) is t
    True
    """
    return asarray(a, dtype, order, device=device, copy=copy)


def _picked(x: Any, labels: np.ndarray[Any, Any]) -> Any:
    """The entries of the flattened ``x`` that ``labels`` (integer positions) name, in their shape."""
    return _getitem(ravel(x), (labels,))


@both_spellings
def delete(arr: Any, obj: Any, axis: int | None = None) -> Any:
    """``arr`` without the entries (``axis=None``: of its flattened copy) or slices along ``axis`` that ``obj``
    names (an index, a slice, a list or a mask), as ``np.delete``; the gradient reaches the entries kept.

    >>> import chainrule as cr
    >>> cr.delete(cr.tensor([1.0, 2.0, 3.0]), 1)
    tensor([1., 3.])
    """
    arr = as_array(arr)
    obj = obj.data if isinstance(obj, Tensor) else obj
    return _picked(arr, np.delete(np.arange(arr.size).reshape(arr.shape), obj, axis))


@both_spellings
def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """``values`` inserted into ``arr`` (``axis=None``: into its flattened copy) before the positions ``obj``,
    as ``np.insert``, cast to ``arr``'s dtype; the gradient reaches ``arr`` and the values inserted.

    >>> import chainrule as cr
    >>> cr.insert(cr.tensor([1.0, 2.0]), 1, cr.tensor(5.0))
    tensor([1., 5., 2.])
    """
    arr = as_array(arr)
    values = astype(_near(values, arr), arr.dtype)
    obj = obj.data if isinstance(obj, Tensor) else obj
    # NumPy's insert on positions: arr's entries are 0 ... arr.size - 1, the values' follow, so the result names
    # which entry (or which broadcast copy of a value) lands where
    labels = np.insert(np.arange(arr.size).reshape(arr.shape), obj,
                       np.arange(arr.size, arr.size + values.size).reshape(values.shape), axis)
    return _picked(concatenate([ravel(arr), ravel(values)]), labels)


@both_spellings
def trim_zeros(filt: Any, trim: str = "fb", axis: Axis = None) -> Any:
    """``filt`` without its leading (``"f"`` in ``trim``) and trailing (``"b"``) zeros along each axis of ``axis``
    (all by default), as ``np.trim_zeros``; the gradient reaches the entries kept.

    >>> import chainrule as cr
    >>> cr.trim_zeros(cr.tensor([0.0, 1.0, 0.0, 2.0, 0.0]))
    tensor([1., 0., 2.])
    """
    filt = as_array(filt)
    if not set(trim.lower()) <= {"f", "b"}:
        raise ValueError(f"trim_zeros: trim must hold only 'f' and 'b', not {trim!r}")
    nonzero = backend.to_host(bottom(filt) != 0)
    axes = normalize_axis_tuple(range(filt.ndim) if axis is None else axis, filt.ndim)
    index: list[Any] = [slice(None)] * filt.ndim
    for a in axes:
        kept = np.flatnonzero(nonzero.any(axis=tuple(b for b in range(filt.ndim) if b != a)))
        if kept.size == 0:
            index[a] = slice(0, 0)
            continue
        index[a] = slice(kept[0] if "f" in trim.lower() else 0, kept[-1] + 1 if "b" in trim.lower() else None)
    return _getitem(filt, tuple(index))


def identity(n: int, dtype: Any = None, *, like: Any = None) -> Tensor:
    """The n x n identity matrix (a constant), as ``np.identity``.

    >>> import chainrule as cr
    >>> cr.identity(2)
    tensor([[1., 0.],
            [0., 1.]])
    """
    return Tensor._from_node(np.identity(n, dtype), None)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = float, *, like: Any = None) -> Tensor:
    """Ones at and below the k-th diagonal of an N x M matrix, zeros above (a constant), as ``np.tri``.

    >>> import chainrule as cr
    >>> cr.tri(2, 3)
    tensor([[1., 0., 0.],
            [1., 1., 0.]])
    """
    return Tensor._from_node(np.tri(N, M, k, dtype), None)


# ---- ranges on a logarithmic scale, and phase unwrapping (issue 10) ---------------------------------------------
__all__ += ["geomspace", "logspace", "unwrap"]


def _ends(*ends: Any) -> tuple[Any, ...]:
    """The ends of a range broadcast together, Python numbers taking the arrays' precision (as NumPy's weak
    scalars do): ``logspace(0.5, t)`` keeps t's float32."""
    arrays = [as_array(e) for e in ends if not isinstance(e, (int, float, complex))]
    if not arrays:
        return broadcast_arrays(*ends)
    dtype = np.result_type(*(bottom(a).dtype for a in arrays))
    return broadcast_arrays(*(_near(np.asarray(e, np.result_type(dtype, e)), arrays[0])
                              if isinstance(e, (int, float, complex)) else e for e in ends))


def _spaced(start: Any, stop: Any, num: int, endpoint: bool, axis: int) -> Any:
    """``num`` evenly spaced points from ``start`` to ``stop`` (arrays broadcast together), stacked along ``axis``
    of the result: start + (stop - start) k / div, differentiable in both ends."""
    start, stop = _ends(start, stop)
    if num < 0:
        raise ValueError(f"the number of samples must be at least 0, not {num}")
    fractions = np.linspace(0.0, 1.0, num, endpoint=endpoint).astype(np.result_type(bottom(start).dtype, 1.0))
    fractions = like(fractions.reshape((num,) + (1,) * start.ndim), start)
    points = start + (stop - start) * fractions
    return moveaxis(points, 0, normalize_axis_index(axis, points.ndim))


@both_spellings
def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: Any = 10.0, dtype: Any = None,
             axis: int = 0) -> Any:
    """``base ** linspace(start, stop, num)``, as ``np.logspace``; differentiable in ``start``, ``stop`` and
    ``base``.

    >>> import chainrule as cr
    >>> cr.logspace(0.0, cr.tensor(2.0), 3)
    tensor([  1.,  10., 100.])
    """
    exponents = _spaced(start, stop, num, endpoint, axis)
    if np.ndim(base):  # NumPy's: an array of bases spans the axes beside the new one
        base = expand_dims(as_array(base), axis)
    out = base**exponents
    return out if dtype is None else astype(out, dtype)


@both_spellings
def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, axis: int = 0) -> Any:
    """``num`` points from ``start`` to ``stop`` in a geometric progression (ends of one sign, real, not zero),
    exactly ``start`` and ``stop`` at the ends, as ``np.geomspace``; differentiable in both ends.

    >>> import chainrule as cr
    >>> cr.geomspace(cr.tensor(1.0), 1000.0, 4)
    tensor([   1.,   10.,  100., 1000.])
    """
    start, stop = _ends(start, stop)
    ends = (bottom(start), bottom(stop))
    if any(np.iscomplexobj(e) for e in ends):
        raise TypeError("geomspace: complex ends are not supported; space their magnitudes and angles apart")
    if any(bool((e == 0).any()) for e in ends):
        raise ValueError("geomspace: a geometric sequence cannot include zero")
    if bool((np.sign(ends[0]) != np.sign(ends[1])).any()):
        raise ValueError("geomspace: the ends must have the same sign (a geometric sequence of reals cannot cross "
                         "zero)")
    sign = like(np.where(ends[0] < 0, -1, 1).astype(ends[0].dtype), start)
    inner = sign * exp(_spaced(log(start * sign), log(stop * sign), num, endpoint, 0))
    pieces = [expand_dims(start, 0)] if num else []  # the ends exactly, as NumPy's
    if num > 2 or (num == 2 and not endpoint):
        pieces.append(_getitem(inner, (slice(1, num - 1 if endpoint else num),)))
    if num > 1 and endpoint:
        pieces.append(expand_dims(stop, 0))
    out = concatenate(pieces, axis=0) if pieces else inner
    out = moveaxis(out, 0, normalize_axis_index(axis, out.ndim))
    return out if dtype is None else astype(out, dtype)


@both_spellings
def unwrap(p: Any, discont: float | None = None, axis: int = -1, *, period: float = 2 * np.pi) -> Any:
    """``p`` with jumps larger than ``discont`` (default ``period / 2``) along ``axis`` taken out by adding
    multiples of ``period``, as ``np.unwrap``. The multiples added are piecewise constant, so the gradient passes
    through unchanged.

    >>> import chainrule as cr
    >>> cr.unwrap(cr.tensor([0.0, 3.0, 6.5]))
    tensor([0.        , 3.        , 0.21681469])
    """
    p = as_array(p)
    return p + _unwrap_offsets(p, discont=discont, axis=axis, period=period)


def _offsets_forward(p: Any, discont: float | None = None, axis: int = -1, period: float = 2 * np.pi) -> Any:
    return backend.namespace(p).unwrap(p, discont, axis, period=period) - p


# the multiples of the period that unwrap adds: piecewise constant, no gradient; recorded, so vmap batches them
# and cr.compile replays them
_unwrap_offsets = Primitive(
    "unwrap_offsets", _offsets_forward, differentiable=False,
    samples=lambda rng: [Sample((np.array([0.0, 3.0, 6.5, -1.0]),)),
                         Sample((np.cumsum(rng.standard_normal((3, 5)) * 3, axis=1),), {"axis": 1}),
                         Sample((np.cumsum(rng.standard_normal((4, 2)) * 3, axis=0),), {"axis": 0, "discont": 4.0}),
                         Sample((np.array([0.0, 100.0, 200.0]),), {"period": 90.0})],
    reference=lambda p, discont=None, axis=-1, period=2 * np.pi: np.unwrap(p, discont, axis, period=period) - p)


# ---- selecting by conditions and indices, counting (issue 10) ----------------------------------------------------
__all__ += ["asarray_chkfinite", "bincount", "choose", "compress", "extract", "resize"]


def _host_indices(name: str, x: Any, what: str) -> np.ndarray[Any, Any]:
    """A constant integer (or boolean) array on the host, refusing floating values: indices have no gradient."""
    data = bottom(x) if isinstance(x, Tensor) else x
    data = backend.to_host(data) if type(data) in backend.array_types else np.asarray(data)
    if data.dtype.kind not in "iub":
        raise TypeError(f"{name}: {what} must be integers or booleans, not {data.dtype}")
    return data


@both_spellings
def compress(condition: Any, a: Any, axis: int | None = None) -> Any:
    """The slices of ``a`` along ``axis`` (the flattened ``a``: ``None``) where the 1-d ``condition`` holds, as
    ``np.compress``; the gradient reaches the slices kept.

    >>> import chainrule as cr
    >>> cr.compress([True, False, True], cr.tensor([1.0, 2.0, 3.0]))
    tensor([1., 3.])
    """
    kept = np.flatnonzero(_host_indices("compress", condition, "the condition").astype(bool))
    return take(a, kept, axis=axis)


def extract(condition: Any, arr: Any) -> Any:
    """The entries of the flattened ``arr`` where the flattened ``condition`` is true, as ``np.extract``.

    >>> import chainrule as cr
    >>> cr.extract(cr.tensor([[1.0, -2.0], [3.0, -4.0]]) > 0, cr.tensor([[1.0, -2.0], [3.0, -4.0]]))
    tensor([1., 3.])
    """
    return take(arr, np.flatnonzero(_host_indices("extract", condition, "the condition")))


def choose(a: Any, choices: Sequence[Any], mode: str = "raise") -> Any:
    """Each entry from the choice that ``a`` (integers, broadcast with the choices) names, as ``np.choose``;
    ``mode`` "wrap" or "clip" treat indices out of range as NumPy does. The gradient reaches the entries picked.

    >>> import chainrule as cr
    >>> cr.choose([0, 1, 0], [cr.tensor([1.0, 2.0, 3.0]), cr.tensor([10.0, 20.0, 30.0])])
    tensor([ 1., 20.,  3.])
    """
    index = _host_indices("choose", a, "the indices").astype(np.intp)
    n = len(choices)
    if mode == "wrap":
        index = index % n
    elif mode == "clip":
        index = np.clip(index, 0, n - 1)
    elif mode != "raise":
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', not {mode!r}")
    elif index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"choose: the indices must be in [0, {n}) (or pass mode='wrap' or 'clip')")
    arrays = [as_array(c) for c in choices]
    shape = np.broadcast_shapes(index.shape, *(c.shape for c in arrays))
    options = stack([c if c.shape == shape else broadcast_to(c, shape) for c in arrays])
    return _getitem(take_along_axis(options, np.broadcast_to(index, shape)[None], axis=0), (0,))


def resize(a: Any, new_shape: int | Sequence[int]) -> Any:
    """``a``'s entries, repeated in order as often as needed, in the shape ``new_shape``, as ``np.resize``.

    >>> import chainrule as cr
    >>> cr.resize(cr.tensor([1.0, 2.0, 3.0]), (2, 2))
    tensor([[1., 2.],
            [3., 1.]])
    """
    a = as_array(a)
    shape = tuple(int(n) for n in np.atleast_1d(new_shape))
    if any(n < 0 for n in shape):
        raise ValueError(f"resize: all the lengths of the new shape must be at least 0, not {shape}")
    size = int(np.prod(shape))
    if size == 0:
        return reshape(_getitem(ravel(a), (slice(0, 0),)), shape)
    if a.size == 0:  # nothing to repeat: zeros, as NumPy's
        return Tensor._from_node(like(np.zeros(shape, bottom(a).dtype), a), None)
    return _picked(a, np.arange(size).reshape(shape) % a.size)


def asarray_chkfinite(a: Any, dtype: Any = None, order: str | None = None) -> Any:
    """``asarray``, refusing infinities and NaNs, as ``np.asarray_chkfinite``.

    >>> import chainrule as cr
    >>> cr.asarray_chkfinite(cr.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """
    out = asarray(a, dtype, order)
    return check_values(out, _finite) if bottom(out).dtype.kind in "fc" else out


def _finite(data: Any) -> None:
    if not bool(np.isfinite(data).all()):
        raise ValueError("array must not contain infs or NaNs")


def bincount(x: Any, weights: Any = None, minlength: int = 0) -> Any:
    """How often each of 0 ... max(x) occurs in the non-negative integers ``x`` (at least ``minlength`` counts),
    or, with ``weights``, the sum of the weights of each value's occurrences, as ``np.bincount``: differentiable
    in the weights (kept in their dtype, where NumPy gives float64).

    >>> import chainrule as cr
    >>> cr.bincount([0, 2, 2]), cr.bincount([0, 2, 2], weights=cr.tensor([1.0, 0.5, 0.25]))
    (tensor([1, 0, 2]), tensor([1.  , 0.  , 0.75]))
    """
    index = _host_indices("bincount", x, "the values counted").ravel()
    if index.size and index.min() < 0:
        raise ValueError("bincount: the values counted must be non-negative")
    n = builtins.max(int(index.max()) + 1 if index.size else 0, int(minlength))
    if weights is None:
        return Tensor._from_node(like(np.bincount(index, minlength=n), x), None)  # on x's device
    weights = as_array(weights)
    if weights.shape != index.shape:
        raise ValueError(f"bincount: one weight per value ({index.shape[0]}), not weights of shape {weights.shape}")
    return scatter_add(weights, (index,), (n,))


# ---- unique values and sets: entries picked by an order read off the values (issue 10) -------------------------
# At values that repeat, the unique value is not differentiable (a perturbation splits it in two); its gradient
# goes to its first occurrence, as NumPy's return_index names it. The counts, indices and inverses are constants.
__all__ += ["UniqueAllResult", "UniqueCountsResult", "UniqueInverseResult", "intersect1d", "setdiff1d", "setxor1d",
            "union1d", "unique", "unique_all", "unique_counts", "unique_inverse", "unique_values"]


class UniqueAllResult(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class UniqueCountsResult(NamedTuple):
    values: Any
    counts: Any


class UniqueInverseResult(NamedTuple):
    values: Any
    inverse_indices: Any


def _ordered_host(name: str, *arrays: Any) -> list[np.ndarray[Any, Any]]:
    """The arrays' values on the host, to order; complex values being differentiated are refused (NumPy orders
    them lexicographically, which no gradient follows), as ``sort`` does."""
    for a in arrays:
        if is_complex(a) and holds_box((a,)):
            raise TypeError(f"{name}: complex numbers have no order; take their real parts (cr.real(z)) or their "
                            "magnitudes (cr.abs(z)) first")
    return [backend.to_host(bottom(a)) for a in arrays]


def _index_constant(host: np.ndarray[Any, Any], ref: Any) -> Tensor:
    return Tensor._from_node(like(host, ref), None)


@both_spellings
def unique(ar: Any, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False,
           axis: int | None = None, *, equal_nan: bool = True, sorted: bool = True) -> Any:
    """The sorted unique entries of ``ar`` (``axis``: its unique slices along that axis), as ``np.unique``, with
    the first occurrences, the inverse and the counts on request (integer constants). Each value is its first
    occurrence, which its gradient reaches (``sorted=False`` still sorts: NumPy's order then "may vary").

    >>> import chainrule as cr
    >>> cr.unique(cr.tensor([3.0, 1.0, 3.0]), return_counts=True)
    (tensor([1., 3.]), tensor([1, 2]))
    """
    a = as_array(ar)
    (data,) = _ordered_host("unique", a)
    _, index, inverse, counts = np.unique(data, True, True, True, axis=axis, equal_nan=equal_nan)
    values = take(a, index, axis=axis)
    wanted = [v for v, want in ((index, return_index), (inverse, return_inverse), (counts, return_counts)) if want]
    return (values, *(_index_constant(v, a) for v in wanted)) if wanted else values


def unique_all(x: Any) -> UniqueAllResult:
    """The unique entries of the flattened ``x`` (NaNs each their own), their first indices, the inverse (in x's
    shape) and the counts, as ``np.unique_all``.

    >>> import chainrule as cr
    >>> cr.unique_all(cr.tensor([2.0, 2.0, 1.0])).counts
    tensor([1, 2])
    """
    return UniqueAllResult(*unique(x, True, True, True, equal_nan=False))


def unique_counts(x: Any) -> UniqueCountsResult:
    """The unique entries of the flattened ``x`` and how often each occurs, as ``np.unique_counts``.

    >>> import chainrule as cr
    >>> cr.unique_counts(cr.tensor([2.0, 2.0, 1.0])).values
    tensor([1., 2.])
    """
    return UniqueCountsResult(*unique(x, return_counts=True, equal_nan=False))


def unique_inverse(x: Any) -> UniqueInverseResult:
    """The unique entries of the flattened ``x`` and, in x's shape, which of them each entry is, as
    ``np.unique_inverse``.

    >>> import chainrule as cr
    >>> cr.unique_inverse(cr.tensor([2.0, 2.0, 1.0])).inverse_indices
    tensor([1, 1, 0])
    """
    return UniqueInverseResult(*unique(x, return_inverse=True, equal_nan=False))


def unique_values(x: Any) -> Any:
    """The unique entries of the flattened ``x``, as ``np.unique_values`` (sorted here).

    >>> import chainrule as cr
    >>> cr.unique_values(cr.tensor([2.0, 2.0, 1.0]))
    tensor([1., 2.])
    """
    return unique(x, equal_nan=False)


def union1d(ar1: Any, ar2: Any) -> Any:
    """The sorted unique entries found in either input, as ``np.union1d``; each is its first occurrence in
    ``ar1`` then ``ar2``.

    >>> import chainrule as cr
    >>> cr.union1d(cr.tensor([3.0, 1.0]), [2.0, 1.0])
    tensor([1., 2., 3.])
    """
    return unique(concatenate([ravel(ar1), ravel(ar2)]))


def intersect1d(ar1: Any, ar2: Any, assume_unique: bool = False, return_indices: bool = False) -> Any:
    """The sorted unique entries found in both inputs (taken from ``ar1``, which their gradient reaches), with
    their first positions in each on request, as ``np.intersect1d``.

    >>> import chainrule as cr
    >>> cr.intersect1d(cr.tensor([3.0, 1.0, 2.0]), [1.0, 3.0, 5.0])
    tensor([1., 3.])
    """
    a1, a2 = as_array(ar1), as_array(ar2)
    h1, h2 = _ordered_host("intersect1d", a1, a2)
    _, i1, i2 = np.intersect1d(h1, h2, assume_unique=assume_unique, return_indices=True)
    values = take(a1, i1)
    return (values, _index_constant(i1, a1), _index_constant(i2, a1)) if return_indices else values


def _first_each(h: np.ndarray[Any, Any], assume_unique: bool) -> np.ndarray[Any, Any]:
    """The flat positions of ``h``'s unique entries, sorted by value (all of them when assumed unique)."""
    return np.arange(h.size) if assume_unique else np.unique(h, return_index=True)[1]


def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """The unique entries of ``ar1`` not in ``ar2`` (sorted; in ar1's order when ``assume_unique``), as
    ``np.setdiff1d``; the gradient reaches them in ``ar1``.

    >>> import chainrule as cr
    >>> cr.setdiff1d(cr.tensor([3.0, 1.0, 2.0, 1.0]), [1.0])
    tensor([2., 3.])
    """
    a1, a2 = as_array(ar1), as_array(ar2)
    h1, h2 = (h.ravel() for h in _ordered_host("setdiff1d", a1, a2))
    first = _first_each(h1, assume_unique)
    return take(a1, first[~np.isin(h1[first], h2, assume_unique=assume_unique)])


def setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """The sorted unique entries found in exactly one of the inputs, as ``np.setxor1d``; the gradient reaches
    each where it occurs first.

    >>> import chainrule as cr
    >>> cr.setxor1d(cr.tensor([3.0, 1.0, 2.0]), [1.0, 5.0])
    tensor([2., 3., 5.])
    """
    a1, a2 = as_array(ar1), as_array(ar2)
    h1, h2 = (h.ravel() for h in _ordered_host("setxor1d", a1, a2))
    candidates = np.concatenate([_first_each(h1, assume_unique), h1.size + _first_each(h2, assume_unique)])
    both = np.concatenate([h1, h2])[candidates]
    order = np.argsort(both, kind="stable")
    ranked = both[order]
    differs = np.concatenate([[True], ranked[1:] != ranked[:-1], [True]])
    return take(concatenate([ravel(a1), ravel(a2)]), candidates[order][differs[1:] & differs[:-1]])


__all__ += ["sort_complex"]


def sort_complex(a: Any) -> Any:
    """``a`` sorted along its last axis and made complex, as ``np.sort_complex`` (complex128, or complex64 for
    small integers). Real values sort differentiably (``sort``); complex ones are ordered lexicographically, which
    no gradient follows, so complex values being differentiated are refused.

    >>> import chainrule as cr
    >>> cr.sort_complex(cr.tensor([3.0, 1.0, 2.0]))
    tensor([1.+0.j, 2.+0.j, 3.+0.j], dtype=complex128)
    """
    from .sorting import sort  # sorting builds on this module

    a = as_array(a)
    (data,) = _ordered_host("sort_complex", a)
    if data.dtype.kind == "c":
        return Tensor._from_node(np.sort_complex(bottom(a)), None)
    return astype(sort(a), np.complex64 if data.dtype.char in "bhBH" else np.complex128)
