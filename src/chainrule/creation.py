"""Making tensors: from data, filled, ranges, identity, and random draws from one seedable generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from .tensor import Tensor, _check_differentiable_dtype

ShapeLike = int | tuple[int, ...]


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data``. Python floats become float64; ndarray dtypes are kept.

    >>> import chainrule as cr
    >>> cr.tensor([0.5, -1.0], requires_grad=True)
    tensor([ 0.5, -1. ], requires_grad=True)
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def _leaf(array: np.ndarray[Any, Any], requires_grad: bool) -> Tensor:
    if requires_grad:
        _check_differentiable_dtype(array.dtype)
    t = Tensor._from_node(array, None)
    t.requires_grad = requires_grad
    return t


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both ``zeros(2, 3)`` and ``zeros((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``cr.zeros(2, 3)`` or ``cr.zeros((2, 3))``.

    >>> import chainrule as cr
    >>> cr.zeros(2).shape
    (2,)
    """
    return _leaf(np.zeros(_shape(shape), dtype=dtype), requires_grad)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones.

    >>> import chainrule as cr
    >>> cr.ones(2, 2).sum().item()
    4.0
    """
    return _leaf(np.ones(_shape(shape), dtype=dtype), requires_grad)


def full(shape: ShapeLike, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``.

    >>> import chainrule as cr
    >>> cr.full((2,), 7.0)
    tensor([7., 7.])
    """
    return _leaf(np.full(shape, fill_value, dtype=dtype), requires_grad)


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``x``.

    >>> import chainrule as cr
    >>> cr.zeros_like(cr.ones(3)).tolist()
    [0.0, 0.0, 0.0]
    """
    return _leaf(np.zeros_like(np.asarray(x), dtype=dtype), requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``x``.

    >>> import chainrule as cr
    >>> cr.ones_like(cr.zeros(2)).tolist()
    [1.0, 1.0]
    """
    return _leaf(np.ones_like(np.asarray(x), dtype=dtype), requires_grad)


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, as ``np.arange``.

    >>> import chainrule as cr
    >>> cr.arange(3).tolist()
    [0, 1, 2]
    """
    return _leaf(np.arange(*args, dtype=dtype), requires_grad)


def linspace(start: float, stop: float, num: int = 50, endpoint: bool = True, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``, as ``np.linspace``.

    >>> import chainrule as cr
    >>> cr.linspace(0, 1, 3).tolist()
    [0.0, 0.5, 1.0]
    """
    return _leaf(np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, k: int = 0, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """The identity matrix (ones on the k-th diagonal).

    >>> import chainrule as cr
    >>> cr.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return _leaf(np.eye(n, m, k, dtype=dtype), requires_grad)
