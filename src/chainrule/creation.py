"""Making tensors: from data, filled, ranges, identity, and random draws from one seedable generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backend
from .primitive import holds_box
from .tensor import Tensor, _check_differentiable_dtype, bottom, values

ShapeLike = int | tuple[int, ...]


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A new leaf tensor holding a copy of ``data``. Python floats become float64; ndarray dtypes are kept.

    A tensor given as ``data`` is copied into a new leaf, cut off its graph (PyTorch's ``torch.tensor(t)``). A list
    holding tensors that are being differentiated is refused rather than cut off theirs: ``cr.stack`` keeps the
    gradients, ``t.detach()`` cuts them on purpose.

    >>> import chainrule as cr
    >>> cr.tensor([0.5, -1.0], requires_grad=True)
    tensor([ 0.5, -1. ], requires_grad=True)
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)


def _leaf(array: np.ndarray[Any, Any], requires_grad: bool, device: Any = None) -> Tensor:
    """A new leaf of ``array`` (made on the host, which keeps random draws the same on every device), moved to
    ``device`` when one is given."""
    if requires_grad:
        _check_differentiable_dtype(array.dtype)
    t = Tensor._from_node(array if device is None else backend.to_device(array, device), None)
    t.requires_grad = requires_grad
    return t


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept both ``zeros(2, 3)`` and ``zeros((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of zeros: ``cr.zeros(2, 3)`` or ``cr.zeros((2, 3))``.

    >>> import chainrule as cr
    >>> cr.zeros(2).shape
    (2,)
    """
    _constant_arguments("zeros", *shape)
    return _leaf(np.zeros(_shape(shape), dtype=dtype), requires_grad, device)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones.

    >>> import chainrule as cr
    >>> cr.ones(2, 2).sum().item()
    4.0
    """
    _constant_arguments("ones", *shape)
    return _leaf(np.ones(_shape(shape), dtype=dtype), requires_grad, device)


def full(shape: ShapeLike, fill_value: Any, dtype: Any = None, requires_grad: bool = False,
         device: Any = None) -> Tensor:
    """A tensor filled with ``fill_value``.

    A ``fill_value`` that is being differentiated gives a recorded tensor, whose gradient flows back to it.

    >>> import chainrule as cr
    >>> cr.full((2,), 7.0)
    tensor([7., 7.])
    >>> cr.grad(lambda v: cr.full((3,), v).sum())(2.0)
    array(3.)
    """
    if holds_box((fill_value,)):
        _no_new_leaf("full", requires_grad)
        zeros = np.zeros(shape, dtype=dtype if dtype is not None else fill_value.dtype)
        on = backend.to_device(zeros, fill_value.device if device is None else device)
        return broadcast_to(fill_value, zeros.shape) + on
    return _leaf(np.full(shape, fill_value, dtype=dtype), requires_grad, device)


def _no_new_leaf(name: str, requires_grad: bool) -> None:
    if requires_grad:
        raise ValueError(f"{name}: requires_grad=True makes a new leaf, but a value given is being differentiated "
                         "(its gradient would be cut): leave requires_grad out, or pass value.detach()")


def _constant_arguments(name: str, *values: Any) -> None:
    if holds_box(values):
        raise TypeError(f"{name}: its arguments say the shape of the result and cannot be differentiated; pass "
                        "plain numbers (int(t) or t.detach())")


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Zeros with the shape (and dtype and device, unless given) of ``x``.

    >>> import chainrule as cr
    >>> cr.zeros_like(cr.ones(3)).tolist()
    [0.0, 0.0, 0.0]
    """
    values = bottom(x)
    return _leaf(np.zeros(np.shape(values), dtype=dtype or np.result_type(values)), requires_grad,
                 device or backend.device_of(values))


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Ones with the shape (and dtype and device, unless given) of ``x``.

    >>> import chainrule as cr
    >>> cr.ones_like(cr.zeros(2)).tolist()
    [1.0, 1.0]
    """
    values = bottom(x)
    return _leaf(np.ones(np.shape(values), dtype=dtype or np.result_type(values)), requires_grad,
                 device or backend.device_of(values))


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, as ``np.arange``.

    >>> import chainrule as cr
    >>> cr.arange(3).tolist()
    [0, 1, 2]
    """
    _constant_arguments("arange", *args)
    return _leaf(np.arange(*args, dtype=dtype), requires_grad, device)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
             requires_grad: bool = False, device: Any = None) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop``, as ``np.linspace``.

    Ends that are being differentiated give a recorded tensor: each value is ``start + (stop - start) * k / div``.

    >>> import chainrule as cr
    >>> cr.linspace(0, 1, 3).tolist()
    [0.0, 0.5, 1.0]
    >>> cr.grad(lambda a: cr.linspace(a, 3.4, 5).sum())(1.0)
    array(2.5)
    """
    if holds_box((start, stop)):
        _no_new_leaf("linspace", requires_grad)
        box = start if holds_box((start,)) else stop
        fractions = backend.to_device(np.linspace(0.0, 1.0, num, endpoint=endpoint, dtype=dtype),
                                      box.device if device is None else device)
        return start + (stop - start) * fractions
    return _leaf(np.linspace(values(start), values(stop), num, endpoint=endpoint, dtype=dtype), requires_grad, device)


def eye(n: int, m: int | None = None, k: int = 0, dtype: Any = np.float64, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """The identity matrix (ones on the k-th diagonal).

    >>> import chainrule as cr
    >>> cr.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    _constant_arguments("eye", n, m, k)
    return _leaf(np.eye(n, m, k, dtype=dtype), requires_grad, device)


from .ops.shape import broadcast_to  # noqa: E402  (the ops import Tensor, which this module's users import first)
