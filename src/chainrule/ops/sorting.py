"""Sorting: sort, partition, msort and topk, composites that pick elements by a permutation; argsort and argpartition.

The permutation comes from a primitive without a gradient (``_ordering``, ``_partitioning``: NumPy's or the device's
argsort and argpartition) applied to the values (``transforms.decision_values``): a plain call on them eagerly, a
recorded step on the boxes of vmap and cr.compile (which batches and replays it). It is applied with
``take_along_axis``: the gradient of each output position goes back to the element the permutation put there.
Ties: ``sort`` and ``topk`` use a stable permutation (CuPy's sort is stable too), so among equal elements the k-th
in input order receives the cotangent of the k-th position they occupy (``topk(largest=True)``: the earliest
first). ``argsort`` and ``argpartition`` give integer indices, which have no gradient.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.array_utils import normalize_axis_index

from .. import backend
from ..primitive import Primitive, Sample, as_array
from ..spelling import both_spellings
from ..tensor import Tensor
from ..transforms import decision_values
from . import samples as S
from .elementwise import ordered
from .shape import _along, flip, getitem, ravel, reshape, take_along_axis

__all__ = ["argpartition", "argsort", "msort", "partition", "sort", "topk"]


def _flat(a: Any, axis: int | None) -> tuple[Any, int]:
    """``a`` (as an array) and the axis to sort along, as a non-negative int: the flattened ``a`` when None."""
    a = as_array(a)
    if axis is None:
        return ravel(a), 0
    return a, normalize_axis_index(axis, a.ndim)


def _no_order(name: str, order: Any) -> None:
    if order is not None:
        raise ValueError(f"{name}: order= sorts structured arrays by field, which tensors are not")


def _order(v: Any, axis: int = -1, kind: str | None = None, stable: bool | None = None) -> Any:
    """The permutation that sorts the array ``v`` along ``axis``: NumPy's by ``kind`` on the host; on a device its
    library's sort, which is stable (CuPy's takes no kind)."""
    if type(v) is np.ndarray:
        return np.argsort(v, axis=axis, kind=kind, stable=stable)  # type: ignore[arg-type]
    return backend.namespace(v).argsort(v, axis=axis)


def _order_samples(rng: np.random.Generator) -> list[Sample]:
    ties = np.array([[2.0, 1.0, 2.0, 1.0], [3.0, 3.0, -1.0, 3.0]])
    return [Sample((S.draw(rng, (5,)),)), Sample((S.draw(rng, (3, 4)),), {"axis": 0}),
            Sample((ties,), {"axis": 1, "kind": "stable"}), Sample((np.zeros(0),))]


def _partition_order(v: Any, kth: tuple[int, ...], axis: int = -1) -> Any:
    return backend.namespace(v).argpartition(v, list(kth), axis=axis)


def _partition_samples(rng: np.random.Generator) -> list[Sample]:
    return [Sample((S.draw(rng, (5,)),), {"kth": (2,)}), Sample((S.draw(rng, (4, 3)),), {"kth": (0, 2), "axis": 0}),
            Sample((np.array([3.0, 1.0, 3.0, 1.0, 2.0]),), {"kth": (-1,)})]


# integer results, no gradient: recorded, so that cr.compile replays them and vmap batches them
_ordering = Primitive("argsort", _order, samples=_order_samples, differentiable=False)
_partitioning = Primitive("argpartition", _partition_order, samples=_partition_samples, differentiable=False)


def _like_input(indices: Any, a: Any) -> Any:
    """Integer results computed on the values as a constant Tensor for a Tensor input (a box, computed on one, is
    one already), and as the plain array for an array input."""
    return Tensor._from_node(indices, None) if isinstance(a, Tensor) and not isinstance(indices, Tensor) else indices


def _kth(kth: Any) -> tuple[int, ...]:
    """``kth`` (an int or a sequence of them) as a tuple of ints: an option a primitive can carry."""
    k = np.asarray(kth)
    if k.dtype.kind not in "iu":
        raise TypeError(f"partition: kth must be integers, got {kth!r}")
    return tuple(int(i) for i in k.reshape(-1))


def _real(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` refusing complex values by its name: NumPy orders them lexicographically, which no gradient follows."""
    return ordered(fn.__name__, fn)


@both_spellings
@_real
def sort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, *,
         stable: bool | None = None) -> Any:
    """A sorted copy of ``a`` along ``axis`` (of the flattened ``a`` when None), NaNs last (``np.sort``).

    The values are NumPy's whatever ``kind``; the permutation the gradient follows is the stable one, so of equal
    elements, the first in input order gets the cotangent of the first of their positions.

    >>> import chainrule as cr
    >>> x = cr.tensor([3.0, 1.0, 2.0], requires_grad=True)
    >>> y = cr.sort(x)
    >>> y
    tensor([1., 2., 3.], grad_fn=<getitem>)
    >>> (y * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
    >>> x.grad
    tensor([100.,   1.,  10.])
    """
    _no_order("sort", order)
    x, axis = _flat(a, axis)
    return take_along_axis(x, _ordering(decision_values(x), axis, "stable"), axis)


@_real
def msort(a: Any) -> Any:
    """``a`` sorted along its first axis: ``sort(a, axis=0)`` (NumPy 2 removed ``np.msort``).

    >>> import chainrule as cr
    >>> cr.msort(cr.tensor([[3.0, 1.0], [2.0, 4.0]]))
    tensor([[2., 1.],
            [3., 4.]])
    """
    return sort(a, axis=0)


@both_spellings
@_real
def argsort(a: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, *,
            stable: bool | None = None) -> Any:
    """The indices that sort ``a`` along ``axis`` (``np.argsort``; on a device, its library's stable sort). Integers:
    no gradient; ``take_along_axis(a, argsort(a), axis)`` differentiates.

    >>> import chainrule as cr
    >>> cr.argsort(cr.tensor([3.0, 1.0, 2.0]))
    tensor([1, 2, 0])
    """
    _no_order("argsort", order)
    x, axis = _flat(a, axis)
    return _like_input(_ordering(decision_values(x), axis, kind, stable), a)


@both_spellings
@_real
def partition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect", order: Any = None) -> Any:
    """A copy of ``a`` with the element at each position ``kth`` where a sort would put it, smaller or equal ones
    before it and larger or equal ones after, along ``axis`` (``np.partition``: NumPy's arrangement on the host;
    on a GPU, CuPy's, which sorts fully). The gradient follows the arrangement.

    >>> import chainrule as cr
    >>> cr.partition(cr.tensor([5.0, 1.0, 4.0, 2.0, 3.0]), 2)[2]
    tensor(3.)
    """
    _no_order("partition", order)
    x, axis = _flat(a, axis)
    return take_along_axis(x, _partitioning(decision_values(x), _kth(kth), axis), axis)


@both_spellings
@_real
def argpartition(a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect", order: Any = None) -> Any:
    """The indices that partition ``a`` at ``kth`` along ``axis`` (``np.argpartition``). Integers: no gradient.

    >>> import chainrule as cr
    >>> int(cr.argpartition(cr.tensor([5.0, 1.0, 4.0, 2.0, 3.0]), 0)[0])
    1
    """
    _no_order("argpartition", order)
    x, axis = _flat(a, axis)
    return _like_input(_partitioning(decision_values(x), _kth(kth), axis), a)


class TopK(NamedTuple):
    """What ``topk`` returns: ``values`` (differentiable) and their ``indices`` along the axis (int64)."""

    values: Any
    indices: Any


@both_spellings
@_real
def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> TopK:
    """The ``k`` largest elements of ``input`` along ``dim`` (the smallest when ``largest=False``) and their
    indices, as ``torch.topk``: a pair (values, indices), in order from the largest (smallest). NaN counts as the
    largest value, as in PyTorch. ``sorted=False`` is accepted and still gives them in order. Of equal elements the
    earliest is taken first, and it gets the gradient of its position.

    >>> import chainrule as cr
    >>> values, indices = cr.topk(cr.tensor([1.0, 5.0, 3.0, 4.0]), 2)
    >>> values, indices
    (tensor([5., 4.]), tensor([1, 3]))
    """
    x, k = as_array(input), operator.index(k)
    if x.ndim == 0:
        values, indices = topk(reshape(x, (1,)), k, 0, largest, sorted)
        return TopK(reshape(values, ()), reshape(indices, ()))
    dim = normalize_axis_index(dim, x.ndim)
    n = x.shape[dim]
    if not 0 <= k <= n:
        raise ValueError(f"topk: k={k} is out of range for a dimension of length {n}")
    v = decision_values(x)
    if largest:  # stable descending: sort the reversed values, reverse back (ties keep input order, NaNs first)
        ranks = (n - 1) - flip(_ordering(flip(v, dim), dim, "stable"), dim)
    else:
        ranks = _ordering(v, dim, "stable")
    indices = getitem(ranks, _along(dim, slice(0, k)))
    return TopK(take_along_axis(x, indices, dim), _like_input(indices, input))

