"""Sorting: sort, partition, msort and topk, composites that pick elements by a permutation; argsort and argpartition.

The permutation is read off the values (``tensor.bottom``, on their device) and applied with ``take_along_axis``,
so the gradient of each output position goes back to the element the permutation put there: no rules of their own.
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
from ..primitive import as_array
from ..spelling import both_spellings
from ..tensor import Tensor, bottom
from .elementwise import ordered
from .shape import _along, flip, ravel, reshape, take_along_axis

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


def _stable_order(v: Any, axis: int) -> Any:
    """The stable permutation that sorts the array ``v`` along ``axis``, on its device (NaNs last, as NumPy)."""
    if type(v) is np.ndarray:
        return np.argsort(v, axis=axis, kind="stable")
    return backend.namespace(v).argsort(v, axis=axis)  # CuPy's sort is stable, and takes no other kind


def _real(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` refusing complex values by its name: NumPy orders them lexicographically, which no gradient follows."""
    return ordered(fn.__name__, fn)


def _like_input(indices: Any, a: Any) -> Any:
    """Integer results as a constant Tensor for a Tensor input, and as the plain array for an array input."""
    return Tensor._from_node(indices, None) if isinstance(a, Tensor) else indices


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
    return take_along_axis(x, _stable_order(bottom(x), axis), axis)


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
    v = bottom(x)
    if type(v) is np.ndarray:
        found = np.argsort(v, axis=axis, kind=kind, stable=stable)  # type: ignore[arg-type]
    else:
        found = backend.namespace(v).argsort(v, axis=axis)
    return _like_input(found, a)


def _partition_order(v: Any, kth: Any, axis: int) -> Any:
    kth = np.asarray(kth)
    if kth.dtype.kind not in "iu":
        raise TypeError(f"partition: kth must be integers, got {kth!r}")
    return backend.namespace(v).argpartition(v, kth.tolist(), axis=axis)


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
    return take_along_axis(x, _partition_order(bottom(x), kth, axis), axis)


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
    return _like_input(_partition_order(bottom(x), kth, axis), a)


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
    v = bottom(x)
    if largest:  # stable descending: sort the reversed values, reverse back (ties keep input order, NaNs first)
        order = (n - 1) - flip(_stable_order(flip(v, dim), dim), dim)
    else:
        order = _stable_order(v, dim)
    indices = order[_along(dim, slice(0, k))].astype(np.int64, copy=False)
    return TopK(take_along_axis(x, indices, dim), _like_input(indices, input))

