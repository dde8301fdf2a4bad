"""Making tensors: from data, filled, ranges, identity, and random draws from one seedable generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backend
from .primitive import holds_box
from .spelling import as_dtype
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


def _dtype(dtype: Any) -> Any:
    """A dtype as NumPy's (PyTorch's names included: ``spelling.as_dtype``); None stays None."""
    return None if dtype is None else as_dtype(dtype)


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
    return _leaf(np.zeros(_shape(shape), dtype=_dtype(dtype)), requires_grad, device)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False, device: Any = None) -> Tensor:
    """A tensor of ones.

    >>> import chainrule as cr
    >>> cr.ones(2, 2).sum().item()
    4.0
    """
    _constant_arguments("ones", *shape)
    return _leaf(np.ones(_shape(shape), dtype=_dtype(dtype)), requires_grad, device)


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
        zeros = np.zeros(shape, dtype=_dtype(dtype) if dtype is not None else fill_value.dtype)
        on = backend.to_device(zeros, fill_value.device if device is None else device)
        return broadcast_to(fill_value, zeros.shape) + on
    return _leaf(np.full(shape, fill_value, dtype=_dtype(dtype)), requires_grad, device)


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
    return _leaf(np.zeros(np.shape(values), dtype=_dtype(dtype) or np.result_type(values)), requires_grad,
                 device or backend.device_of(values))


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Ones with the shape (and dtype and device, unless given) of ``x``.

    >>> import chainrule as cr
    >>> cr.ones_like(cr.zeros(2)).tolist()
    [1.0, 1.0]
    """
    values = bottom(x)
    return _leaf(np.ones(np.shape(values), dtype=_dtype(dtype) or np.result_type(values)), requires_grad,
                 device or backend.device_of(values))


def full_like(x: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """``fill_value`` everywhere, with the shape (and dtype and device, unless given) of ``x``.

    >>> import chainrule as cr
    >>> cr.full_like(cr.zeros(2), 3.5).tolist()
    [3.5, 3.5]
    """
    values = bottom(x)
    return full(np.shape(values), fill_value, dtype=_dtype(dtype) or np.result_type(values),
                requires_grad=requires_grad, device=device or backend.device_of(values))


def from_numpy(array: np.ndarray[Any, Any]) -> Tensor:
    """A tensor sharing ``array``'s memory (PyTorch's ``from_numpy``): writes to either show in the other.

    >>> import numpy as np, chainrule as cr
    >>> a = np.zeros(2)
    >>> t = cr.from_numpy(a)
    >>> a[0] = 5.0
    >>> t
    tensor([5., 0.])
    """
    if type(array) is not np.ndarray:
        raise TypeError(f"from_numpy takes a NumPy array, got {type(array).__name__}: use cr.tensor (a copy) or "
                        "cr.as_tensor")
    return Tensor._from_node(array, None)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, copying only when needed (PyTorch's ``as_tensor``): a tensor of that dtype and device
    is returned as it is (graph and all, converted otherwise, differentiably), an array of them shares its memory,
    and anything else is copied as ``cr.tensor`` does.

    >>> import numpy as np, chainrule as cr
    >>> a = np.ones(2)
    >>> np.shares_memory(cr.as_tensor(a).numpy(), a)
    True
    """
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    target = _dtype(dtype)
    if type(data) in backend.array_types and target in (None, data.dtype) and (
            device is None or backend.parse_device(device) == backend.parse_device(backend.device_of(data))):
        return Tensor._from_node(data, None)
    return Tensor(data, dtype=target, device=device)


def arange(*args: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, stop)``, as ``np.arange``.

    >>> import chainrule as cr
    >>> cr.arange(3).tolist()
    [0, 1, 2]
    """
    _constant_arguments("arange", *args)
    return _leaf(np.arange(*args, dtype=_dtype(dtype)), requires_grad, device)


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
        fractions = backend.to_device(np.linspace(0.0, 1.0, num, endpoint=endpoint, dtype=_dtype(dtype)),
                                      box.device if device is None else device)
        return start + (stop - start) * fractions
    return _leaf(np.linspace(values(start), values(stop), num, endpoint=endpoint, dtype=_dtype(dtype)), requires_grad,
                 device)


def eye(n: int, m: int | None = None, k: int = 0, dtype: Any = np.float64, requires_grad: bool = False,
        device: Any = None) -> Tensor:
    """The identity matrix (ones on the k-th diagonal).

    >>> import chainrule as cr
    >>> cr.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    _constant_arguments("eye", n, m, k)
    return _leaf(np.eye(n, m, k, dtype=_dtype(dtype)), requires_grad, device)


from .ops.shape import broadcast_to  # noqa: E402  (the ops import Tensor, which this module's users import first)
