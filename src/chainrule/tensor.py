"""Tensor: an array, and (when it was computed from tensors that require grad) the node that made it."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple

from . import backend, engine
from .engine import Node, Version, tick
from .spelling import as_dtype, both_spellings, missing

ArrayLike = Any  # anything np.asarray accepts, or a Tensor
_ARRAYS = backend.array_types  # the array types a Tensor holds as they are (NumPy's, and each GPU provider's)
T = TypeVar("T", bound="Tensor")
Axis = int | tuple[int, ...] | None


def _check_differentiable_dtype(dtype: np.dtype[Any]) -> None:
    if not np.issubdtype(dtype, np.inexact):
        raise TypeError(
            f"only floating-point (or complex) tensors can require gradients, got dtype {dtype}; "
            "convert first, e.g. cr.tensor(data, dtype=np.float64, requires_grad=True)"
        )


def _raw(x: Any) -> Any:
    """A tensor's array (cr.compile's boxes as they are: their ``.data`` holds no values)."""
    return x.data if isinstance(x, Tensor) and type(x) is not Traced else x


def _traced_in(x: Any) -> Any:
    """The box of cr.compile that ``x`` is or holds, or None."""
    while isinstance(x, Tensor) and type(x) is not Traced:
        x = x.data
    return x if type(x) is Traced else None


def values(x: Any) -> Any:
    """``x``'s values as an array of its own device: the array at the bottom of any boxes, and anything else (a
    number, a list) as a NumPy array."""
    v = bottom(x)
    return v if type(v) in _ARRAYS else np.asarray(v)


def bottom(x: Any) -> Any:
    """The array at the bottom of any transform's boxes: a Tensor's values, on its device (anything else as it is).
    What value-based decisions read (a mask, whether an entry is zero), never recorded."""
    while isinstance(x, Tensor):
        x = x.data
    return x


class Size(int):
    """A tensor's ``size``: its number of elements (NumPy's meaning, an int), and called, PyTorch's ``size()``: the
    shape, or with an axis, that axis' length.

    >>> import chainrule as cr
    >>> x = cr.zeros(2, 3)
    >>> x.size, x.size(), x.size(-1)
    (6, (2, 3), 3)
    """

    shape: tuple[int, ...]

    def __new__(cls, shape: tuple[int, ...]) -> Size:
        n = super().__new__(cls, math.prod(shape))
        n.shape = shape
        return n

    def __call__(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[normalize_axis_index(dim, len(self.shape))]

    def __reduce__(self) -> tuple[Any, ...]:  # copies are made from the shape, as __new__ takes
        return Size, (self.shape,)


class _PyTorchName:
    """A PyTorch Tensor attribute that chainrule spells another way: reading it raises an AttributeError that says
    how (``spelling.TORCH_NAMES``); ``hasattr`` is False."""

    name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        raise missing("Tensor", self.name, ())


def _ddof(who: str, ddof: int, correction: int | None, unbiased: bool | None) -> int:
    """The ``ddof`` that NumPy's ``ddof=``, or PyTorch's ``correction=`` or ``unbiased=``, says (one of them)."""
    if (correction is not None) + (unbiased is not None) + (ddof != 0) > 1:
        raise TypeError(f"Tensor.{who}() got more than one of ddof=, correction=, unbiased= (pass one)")
    if correction is not None:
        return int(correction)
    return int(unbiased) if unbiased is not None else ddof


def _dispatch_ufunc(self: Tensor, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    return dispatch.array_ufunc(self, ufunc, method, *inputs, **kwargs)


def _dispatch_function(self: Tensor, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
    return dispatch.array_function(self, func, types, args, kwargs)


class Tensor:
    """An n-dimensional array that can record how it was computed, so gradients can flow back through it.

    >>> import chainrule as cr
    >>> x = cr.tensor([0.5, -1.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([ 1., -2.])
    """

    __slots__ = ("data", "requires_grad", "_grad", "_node", "_version", "_hooks", "__weakref__")
    # NumPy's functions on tensors (np.sin(t), ndarray @ t, np.sum(t)) route to chainrule's: chainrule.dispatch
    __array_ufunc__ = _dispatch_ufunc
    __array_function__ = _dispatch_function
    __hash__ = object.__hash__  # == is elementwise, identity hashing still lets tensors key a dict

    data: np.ndarray[Any, Any]
    requires_grad: bool
    _grad: Tensor | None
    _node: Node | None
    _version: Version | None
    _hooks: list[Callable[[Tensor], Tensor | None]] | None

    def __init__(self, data: ArrayLike, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> None:
        if type(data) in (list, tuple) and holds_box(data):
            raise TypeError(
                "a new tensor from a list holding tensors that are being differentiated would cut their gradients: "
                "use cr.stack([...]) to keep them, or t.detach() on each to cut them on purpose"
            )
        dtype = None if dtype is None else as_dtype(dtype)
        traced = _traced_in(data)
        if traced is not None:  # cr.compile's box (of an argument, say): the copy is recorded, the new tensor traced
            if device is not None and backend.parse_device(device) != backend.parse_device(traced.device):
                raise CompileError("cr.compile: a new tensor of a traced value on another device: move it with .to()")
            array: Any = traced.astype(traced.dtype if dtype is None else dtype)
        else:
            raw = bottom(data)
            array = backend.namespace(raw).array(raw, dtype=dtype)  # a copy, on the device the data is on
            if device is not None:
                array = backend.to_device(array, device)
        if requires_grad:
            _check_differentiable_dtype(array.dtype)
        self.data = array
        self.requires_grad = requires_grad
        self._grad = None
        self._node = None
        self._version = None
        self._hooks = None

    @classmethod
    def _from_node(cls: type[T], data: Any, node: Node | None) -> T:
        t = cls.__new__(cls)
        t.data = data if type(data) in _ARRAYS or isinstance(data, Tensor) else np.asarray(data)  # (or a box)
        t.requires_grad = node is not None
        t._grad = None
        t._node = node
        t._version = None
        t._hooks = None
        return t

    # ---- properties and interop ------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> Size:
        """The number of elements (NumPy's ``size``), which is also PyTorch's ``size()``: ``t.size()`` is the shape,
        ``t.size(d)`` the length of axis ``d``."""
        return Size(self.data.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        return self.data.dtype

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward()`` (None until then); assign None to clear it."""
        return self._grad

    @grad.setter
    def grad(self, value: ArrayLike | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                value = Tensor(value)
            if value.shape != self.shape:  # the next backward would silently broadcast into it
                raise ValueError(f"cannot assign a gradient of shape {value.shape} to a tensor of shape {self.shape}")
            if value.dtype.kind not in "fc" or (value.dtype.kind == "c" and self.dtype.kind != "c"):
                raise TypeError(f"a gradient must be floating point (complex only for a complex tensor), got dtype "
                                f"{value.dtype} for a tensor of dtype {self.dtype}")
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (and any computed without recording a graph)."""
        return self._node is None

    @property
    def device(self) -> str:
        """Where the values live: ``"cpu"``, or ``"cuda:N"`` for GPU N."""
        return backend.device_of(bottom(self))

    @property
    def T(self) -> Tensor:
        return transpose(self)

    def numpy(self) -> np.ndarray[Any, Any]:
        """The underlying ndarray (shared, not copied); a tensor on a GPU must be copied first, with ``.cpu()``.
        Inside a transform, a value it differentiates has none: converting it would drop its derivative."""
        self._refuse_if_traced("converting to a NumPy array")
        data = bottom(self)
        if type(data) is np.ndarray:
            return data
        if backend.device_of(data) != "cpu":
            raise TypeError(f"a tensor on {self.device} has no NumPy array: copy it to the host first, t.cpu().numpy()")
        return np.asarray(data)

    def to(self, *args: Any, device: Any = None, dtype: Any = None, non_blocking: bool = False,
           copy: bool = False) -> Tensor:
        """This tensor on another device and/or in another dtype (PyTorch's ``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(other_tensor)``); itself when nothing changes, unless ``copy``. Differentiable:
        the gradient comes back to this tensor's device and dtype. A dtype is anything ``cr.as_dtype`` reads
        (``np.float32``, ``"float32"``, ``"torch.float32"``); ``non_blocking`` is accepted and ignored.

        >>> import numpy as np, chainrule as cr
        >>> cr.tensor([1.0]).to("cpu", np.float32).dtype
        dtype('float32')
        """
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, str) and backend.is_device_string(arg):
                device = arg
            else:
                dtype = arg
        out: Tensor = self
        if dtype is not None and as_dtype(dtype) != self.dtype:
            out = astype(out, as_dtype(dtype))
        if device is not None and backend.parse_device(device) != backend.parse_device(self.device):
            out = transfer(out, device=str(device))
        return out.clone() if copy and out is self else out

    def cuda(self, device: int | None = None) -> Tensor:
        """This tensor on GPU ``device`` (the first by default)."""
        return self.to("cuda" if device is None else f"cuda:{device}")

    def cpu(self) -> Tensor:
        """This tensor in host memory."""
        return self.to("cpu")

    def item(self) -> Any:
        self._refuse_if_traced("item()")
        return self.data.item()

    def tolist(self) -> Any:
        self._refuse_if_traced("tolist()")
        return self.data.tolist()

    def _refuse_if_traced(self, what: str) -> None:
        """Raise where a Python number or a NumPy array is asked of a value that a transform is differentiating:
        it would be a constant from then on, and its derivative silently lost (JAX refuses this too)."""
        x: Any = self
        while isinstance(x, Tensor):
            if type(x) is Dual or (x._node is not None and x._node.level):
                raise TypeError(
                    f"{what} of a value that a transform (cr.grad, cr.jvp, ...) is differentiating would freeze it "
                    "into a constant and drop its derivative: compute with chainrule's functions (cr.sin, cr.where, "
                    "...) instead, or take cr.stop_gradient(x) to use its value on purpose"
                )
            x = x.data

    def _scalar(self, kind: str) -> Any:
        self._refuse_if_traced(f"{kind}()")
        if self.data.size != 1:
            raise TypeError(f"only a tensor with one element converts to {kind}, got shape {self.shape}")
        return self.data.item()

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous: use (t).all() or (t).any()"
            )
        return bool(self.data.item())

    def __index__(self) -> int:
        return self.data.__index__()

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self.data)))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray[Any, Any]:
        data = self.numpy()  # inside a transform, the values at the bottom of its boxes
        if copy:
            return np.array(data, dtype=dtype)
        return data if dtype is None else data.astype(dtype, copy=False)

    def __format__(self, spec: str) -> str:
        """A 0-d tensor in a format string is its number (``f"{loss:.4f}"``, as PyTorch); any other tensor takes no
        format spec, as an ndarray.

        >>> import chainrule as cr
        >>> f"{cr.tensor(2.0) / 3:.3f}"
        '0.667'
        """
        if spec and self.ndim == 0:
            return format(self.item(), spec)
        return super().__format__(spec)

    def __repr__(self) -> str:
        values = backend.to_host(bottom(self))  # inside a transform: the values; on a GPU: a copy
        body = np.array2string(values, separator=", ", prefix="tensor(")
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if values.dtype not in (np.float64, np.int64, np.bool_):
            extras.append(f"dtype={values.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.prim.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{''.join(', ' + e for e in extras)})"

    # ---- autograd --------------------------------------------------------------------------------------------
    def backward(self, gradient: ArrayLike | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (the chain rule, applied backwards).

        ``gradient`` is the cotangent to start from (required when ``self`` is not a scalar). The graph's saved
        values are freed afterwards unless ``retain_graph``; ``create_graph`` makes the gradients differentiable
        (a leaf's ``.grad`` then refers to a graph that refers to the leaf: set ``.grad = None`` when done, or the
        cycle waits for Python's garbage collector).

        >>> import chainrule as cr
        >>> x = cr.tensor(3.0, requires_grad=True)
        >>> (x ** 2).backward()
        >>> float(x.grad)
        6.0
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() on a tensor that does not require grad: no input of its computation had "
                "requires_grad=True (or it was computed under cr.no_grad())"
            )
        seed = _seed(self, gradient, create_graph)
        if retain_graph is None:
            retain_graph = create_graph
        _backward([(self, seed)], create_graph, retain_graph)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (leaves always keep theirs)."""
        if self._node is None:
            return
        import weakref

        ref = weakref.ref(self)

        def keep(g: Tensor) -> None:
            t = ref()
            if t is not None:
                t.grad = g.detach() if t.grad is None else t.grad + g.detach()

        keep.retains_grad = True  # type: ignore[attr-defined]  # runs after the other hooks, seeing their result
        self.register_hook(keep)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> engine.RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces the gradient.
        Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        hooks.append(hook)
        return engine.RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> engine.RemovableHandle:
        """Call ``hook(self)`` in each ``backward()`` as soon as this leaf's ``.grad`` holds the accumulated
        gradient: during the sweep, right after the leaf's last contribution (PyTorch's hook of that name). The hook
        returns None; it may read or replace ``self.grad``. Returns a handle whose ``remove()`` unregisters it.

        >>> import chainrule as cr
        >>> w = cr.tensor(2.0, requires_grad=True)
        >>> handle = w.register_post_accumulate_grad_hook(lambda t: print("ready:", float(t.grad)))
        >>> (w * w).backward()
        ready: 4.0
        >>> handle.remove()
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._node is not None:
            raise RuntimeError("post-accumulate-grad hooks are for leaf tensors (only leaves accumulate .grad); use "
                               "register_hook on a computed tensor")
        return engine.add_post_accumulate_hook(self, hook)

    def detach(self) -> Tensor:
        """The same values (shared memory) cut off from the graph."""
        t = Tensor._from_node(self.data, None)
        t._version = self._share_version()
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf, in place; returns self."""
        if self._node is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use t.detach() instead")
        if requires_grad:
            _check_differentiable_dtype(self.data.dtype)
        self.requires_grad = requires_grad
        return self

    def _share_version(self) -> Version:
        if self._version is None:
            self._version = Version()
        return self._version

    # ---- in-place updates (optimizers) -------------------------------------------------------------------------
    def _inplace(self, op: Any, other: Any) -> Tensor:
        if (_is_box(self) or _is_box(other)) and (engine.is_grad_enabled() or type(self) is Dual
                                                  or type(other) is Dual):
            if type(self) is not Dual and self._node is None and self.requires_grad:
                raise RuntimeError(
                    "a leaf tensor that requires grad cannot be modified in place while gradients are recorded; "
                    "wrap the update in `with cr.no_grad():`"
                )
            return op(self, other)  # recorded (or pushed forward): out of place, the name is rebound to the result
        result = op.forward(self.data, _raw(other))
        if self._node is not None:
            # its node saved the old array: keep that intact, and tell the nodes that used this tensor
            self.data = np.asarray(result, dtype=self.data.dtype)
            self._share_version().clock = tick()
            return self
        if not np.can_cast(result.dtype, self.data.dtype, casting="same_kind"):
            raise TypeError(f"in-place update would cast {result.dtype} to {self.data.dtype}")
        self.data[...] = result
        self._share_version().clock = tick()
        return self

    def __iadd__(self, other: ArrayLike) -> Tensor:
        return self._inplace(add, other)

    def __isub__(self, other: ArrayLike) -> Tensor:
        return self._inplace(subtract, other)

    def __imul__(self, other: ArrayLike) -> Tensor:
        return self._inplace(multiply, other)

    def __itruediv__(self, other: ArrayLike) -> Tensor:
        return self._inplace(divide, other)

    def __setitem__(self, index: Any, value: ArrayLike) -> None:
        if _is_box(self) or _is_box(value):
            if engine.is_grad_enabled() or type(self) is Dual or type(value) is Dual:
                self._assign_recorded(index, value)
                return
        if self._node is not None:
            self.data = self.data.copy()  # its node saved the array as it was: write into a copy
        self.data[_raw_index(index)] = _raw(value)
        self._share_version().clock = tick()

    def _assign_recorded(self, index: Any, value: ArrayLike) -> None:
        """``self[index] = value`` as a recorded operation: self becomes ``assign(old self, index, value)``, so
        gradients (and tangents) reach both, and the array the old self held (perhaps the caller's) is untouched."""
        if type(self) is not Dual and self._node is None and self.requires_grad:
            raise RuntimeError(
                "a leaf tensor that requires grad cannot be assigned into while gradients are recorded; assign under "
                "`with cr.no_grad():`, or into a copy (y = x * 1; y[i] = v)"
            )
        if type(self) is not Dual and self._node is not None and self._node.level and self._node.prim is identity:
            raise RuntimeError(
                "assignment into an argument that a transform differentiates: it would stop being the argument. "
                "Assign into a copy instead (a = a * 1; a[i] = v), or build one with cr.assign(a, index, value)"
            )
        if type(self) is not Dual and getattr(bottom(self), "base", None) is not None:
            raise RuntimeError(
                "assignment into a view of another tensor cannot be recorded: the other would not see it. Build the "
                "new tensor instead: cr.assign(t, index, value)"
            )
        if type(value) is Dual and type(self) is not Dual:
            raise RuntimeError(
                "assigning a value that carries a tangent into a tensor that does not: build the new tensor instead, "
                "cr.assign(t, index, value)"
            )
        before = _new_like(self)
        before._version = None  # the old values as the assign node saw them (earlier holders keep the old stamp)
        new = _shape.assign(before, index, value)
        if type(new) is not type(self):  # a box of another kind won the level race: self cannot become it
            raise RuntimeError("assignment of a value differentiated by an inner transform into an outer transform's "
                               "tensor: build the new tensor instead, cr.assign(t, index, value)")
        earlier = self._version
        for slot in _slots(type(self)):
            setattr(self, slot, getattr(new, slot))
        if type(self) is not Dual:
            # Nodes recorded before this point hold this very object and would now route their gradient into the
            # assignment: stamp it (and any views of the old array) as modified, so such a backward refuses by name
            # instead of going wrong. Nodes recorded afterwards see the new values and are fine.
            self._version = Version()
            self._version.clock = tick()
            if earlier is not None:
                earlier.clock = self._version.clock

    # ---- operators -------------------------------------------------------------------------------------------
    # binary ones go through primitive.operate, which skips the packing of arguments a call of the instance does;
    # unary ones call Primitive.__call__ as a plain function (_apply), which Python enters more directly
    def __add__(self, other: ArrayLike) -> Tensor:
        return _operate(add, self, other)

    def __radd__(self, other: ArrayLike) -> Tensor:
        return _operate(add, other, self)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return _operate(subtract, self, other)

    def __rsub__(self, other: ArrayLike) -> Tensor:
        return _operate(subtract, other, self)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return _operate(multiply, self, other)

    def __rmul__(self, other: ArrayLike) -> Tensor:
        return _operate(multiply, other, self)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return _operate(divide, self, other)

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        return _operate(divide, other, self)

    def __floordiv__(self, other: ArrayLike) -> Tensor:
        return _operate(floor_divide, self, other)

    def __rfloordiv__(self, other: ArrayLike) -> Tensor:
        return _operate(floor_divide, other, self)

    def __mod__(self, other: ArrayLike) -> Tensor:
        return _operate(remainder, self, other)

    def __rmod__(self, other: ArrayLike) -> Tensor:
        return _operate(remainder, other, self)

    def __pow__(self, other: ArrayLike) -> Tensor:
        return _operate(power, self, other)

    def __rpow__(self, other: ArrayLike) -> Tensor:
        return _operate(power, other, self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return _operate(matmul, self, other)

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        return _operate(matmul, other, self)

    def __neg__(self) -> Tensor:
        return _apply(negative, self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _apply(absolute, self)

    def __lt__(self, other: ArrayLike) -> Tensor:
        return _operate(less, self, other)

    def __le__(self, other: ArrayLike) -> Tensor:
        return _operate(less_equal, self, other)

    def __gt__(self, other: ArrayLike) -> Tensor:
        return _operate(greater, self, other)

    def __ge__(self, other: ArrayLike) -> Tensor:
        return _operate(greater_equal, self, other)

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _operate(equal, self, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _operate(not_equal, self, other)

    def __getitem__(self, index: Any) -> Tensor:
        return getitem(self, index)

    # ---- methods mirroring ndarray's, so rules read the same on arrays and tensors ----------------------------
    def astype(self, dtype: Any) -> Tensor:
        return astype(self, as_dtype(dtype))

    # methods taking an axis also take PyTorch's spelling (dim=, keepdim=): chainrule.spelling
    @both_spellings
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _reduce.sum(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _reduce.mean(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def prod(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _reduce.prod(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def var(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False, *, correction: int | None = None,
            unbiased: bool | None = None) -> Tensor:
        """The variance over ``axis``, dividing by ``n - ddof``: NumPy's default, ``ddof=0``, unless PyTorch's
        ``correction=`` (the same number) or ``unbiased=`` (``True`` is ``ddof=1``) is given. PyTorch's own default
        is ``correction=1``; ``x.var(dim, True)`` reads as ``ddof=1``, as PyTorch's ``unbiased=True``.

        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 6.0])
        >>> float(x.var()), float(x.var(correction=1)), float(x.var(unbiased=True))
        (4.666666666666667, 7.0, 7.0)
        """
        return _reduce.var(self, axis=axis, ddof=_ddof("var", ddof, correction, unbiased), keepdims=keepdims)

    @both_spellings
    def std(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False, *, correction: int | None = None,
            unbiased: bool | None = None) -> Tensor:
        """The standard deviation over ``axis``, dividing by ``n - ddof`` as ``var`` does (NumPy's ``ddof=0`` unless
        PyTorch's ``correction=`` or ``unbiased=`` is given)."""
        return _reduce.std(self, axis=axis, ddof=_ddof("std", ddof, correction, unbiased), keepdims=keepdims)

    @both_spellings
    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The maximum over ``axis``, as NumPy's ``max`` (PyTorch's ``amax``): the values only, also with ``dim=``,
        where PyTorch's ``x.max(dim=d)`` returns (values, indices); the indices are ``x.argmax(dim=d)``."""
        return _reduce.max(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """The minimum over ``axis``, as NumPy's ``min`` (PyTorch's ``amin``): the values only, also with ``dim=``,
        where PyTorch's ``x.min(dim=d)`` returns (values, indices); the indices are ``x.argmin(dim=d)``."""
        return _reduce.min(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _reduce.argmax(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        return _reduce.argmin(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def all(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Whether every element is true (no gradient)."""
        return _reduce.all(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def any(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Whether some element is true (no gradient)."""
        return _reduce.any(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def cumsum(self, axis: int | None = None) -> Tensor:
        return _reduce.cumsum(self, axis=axis)

    @both_spellings
    def cumprod(self, axis: int | None = None) -> Tensor:
        return _reduce.cumprod(self, axis=axis)

    def reshape(self, *shape: Any) -> Tensor:
        return _shape.reshape(self, shape[0] if len(shape) == 1 else shape)

    def permute(self, *axes: Any) -> Tensor:
        return transpose(self, axes[0] if len(axes) == 1 else axes)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return _shape.swapaxes(self, axis1, axis2)

    @both_spellings
    def squeeze(self, axis: Axis = None) -> Tensor:
        return _shape.squeeze(self, axis)

    def ravel(self) -> Tensor:
        return _shape.ravel(self)

    @both_spellings
    def take(self, indices: ArrayLike, axis: int | None = None) -> Tensor:
        return _shape.take(self, indices, axis=axis)

    @both_spellings
    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        return _linalg.diagonal(self, offset, axis1, axis2)

    @both_spellings
    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
        return _linalg.trace(self, offset, axis1, axis2)

    def dot(self, other: ArrayLike) -> Tensor:
        return _linalg.dot(self, other)

    def clip(self, a_min: ArrayLike = None, a_max: ArrayLike = None) -> Tensor:
        return clip(self, a_min, a_max)

    def round(self, decimals: int = 0) -> Tensor:
        return round(self, decimals)

    def conj(self) -> Tensor:
        return _elementwise.conjugate(self)

    @property
    def real(self) -> Tensor:
        """The real part (the tensor's values themselves when they are real), differentiable."""
        return _elementwise.real(self)

    @property
    def imag(self) -> Tensor:
        """The imaginary part (zeros when the values are real), differentiable."""
        return _elementwise.imag(self)

    def exp(self) -> Tensor:
        return exp(self)

    def log(self) -> Tensor:
        return log(self)

    def sqrt(self) -> Tensor:
        return sqrt(self)

    def tanh(self) -> Tensor:
        return tanh(self)

    def sigmoid(self) -> Tensor:
        return sigmoid(self)

    def relu(self) -> Tensor:
        return relu(self)

    def abs(self) -> Tensor:
        return absolute(self)

    # ==== PyTorch's Tensor methods (issue 12) ==================================================================
    # The names PyTorch users type, with PyTorch's signatures, all composed of chainrule's functions (no rules of
    # their own). Where PyTorch and NumPy give one name two meanings, the method takes PyTorch's and says so:
    # repeat tiles (np.tile; NumPy's element repeat is repeat_interleave, or cr.repeat), transpose(a, b) swaps two
    # axes (a full permutation stays NumPy's), flatten takes start_dim/end_dim, split takes piece sizes (np.split's
    # cut points are cr.split). max/min keep NumPy's meaning, the values, as cr.max does: PyTorch's (values, indices)
    # pair from x.max(dim=d) is (x.max(dim=d), x.argmax(dim=d)). size is NumPy's number of elements and, called,
    # PyTorch's shape (``Size``). std/var divide by n - ddof (NumPy's ddof=0) unless correction=/unbiased= is given.
    # squeeze(d) of an axis longer than 1 is refused (NumPy's), where PyTorch returns the tensor unchanged.
    def view(self, *shape: Any) -> Tensor:
        """PyTorch's name for ``reshape``: a view of the same memory where NumPy can make one, else a copy.

        >>> import chainrule as cr
        >>> cr.zeros(6).view(2, -1).shape
        (2, 3)
        """
        return self.reshape(*shape)

    def view_as(self, other: Tensor) -> Tensor:
        """This tensor reshaped to ``other``'s shape."""
        return _shape.reshape(self, other.shape)

    reshape_as = view_as

    @both_spellings
    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of length one at ``dim`` (``np.expand_dims``)."""
        return _shape.expand_dims(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        """This tensor broadcast to ``sizes`` without copying: -1 keeps an axis' length, new axes go in front.

        >>> import chainrule as cr
        >>> cr.ones(3, 1).expand(2, -1, 4).shape
        (2, 3, 4)
        """
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {len(sizes)} sizes for a tensor of shape {self.shape}: one per axis at least")
        return _shape.broadcast_to(self, tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                                               for i, n in enumerate(sizes)))

    def expand_as(self, other: Tensor) -> Tensor:
        """This tensor broadcast to ``other``'s shape."""
        return _shape.broadcast_to(self, other.shape)

    def repeat(self, *sizes: Any) -> Tensor:
        """PyTorch's ``repeat``: whole copies of the tensor, ``sizes[i]`` along axis i (``np.tile``; more sizes than
        axes add leading axes). Not ``ndarray.repeat``, which repeats each element: that is ``repeat_interleave``.

        >>> import chainrule as cr
        >>> cr.tensor([1.0, 2.0]).repeat(2)
        tensor([1., 2., 1., 2.])
        """
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes for a tensor of shape {self.shape}: give one per axis at "
                             "least (each element repeated along one axis is repeat_interleave)")
        return _shape.tile(self, sizes)

    @both_spellings
    def repeat_interleave(self, repeats: Any, dim: int | None = None) -> Tensor:
        """Each element repeated ``repeats`` times along ``dim`` (of the flattened tensor when None): NumPy's
        ``repeat``.

        >>> import chainrule as cr
        >>> cr.tensor([1.0, 2.0]).repeat_interleave(2)
        tensor([1., 1., 2., 2.])
        """
        return _shape.repeat(self, repeats, axis=dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """The axes ``start_dim`` to ``end_dim`` (both included) merged into one; all of them by default.

        >>> import chainrule as cr
        >>> cr.zeros(2, 3, 4).flatten(1).shape
        (2, 12)
        """
        if self.ndim == 0:
            return _shape.reshape(self, (1,))
        a, b = normalize_axis_index(start_dim, self.ndim), normalize_axis_index(end_dim, self.ndim)
        if a > b:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        return _shape.reshape(self, (*self.shape[:a], math.prod(self.shape[a:b + 1]), *self.shape[b + 1:]))

    def transpose(self, *axes: Any) -> Tensor:
        """Two axes swapped (PyTorch's ``transpose(dim0, dim1)``), or NumPy's forms: all axes reversed (no
        argument), or permuted (a permutation, as one tuple or as three or more numbers).

        >>> import chainrule as cr
        >>> cr.zeros(2, 3, 4).transpose(0, 2).shape
        (4, 3, 2)
        """
        if len(axes) == 2:
            return _shape.swapaxes(self, *axes)
        return transpose(self, (axes[0] if len(axes) == 1 else axes) if axes else None)

    def t(self) -> Tensor:
        """The transpose of a matrix (a tensor of at most 2 axes, as PyTorch's ``t()``)."""
        if self.ndim > 2:
            raise ValueError(f"t() transposes at most 2 axes, got shape {self.shape}: use transpose(a, b) or mT")
        return transpose(self)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped: the transpose of each matrix of a stack."""
        if self.ndim < 2:
            raise ValueError(f"mT needs at least 2 axes, got shape {self.shape}")
        return _shape.swapaxes(self, -2, -1)

    def clone(self) -> Tensor:
        """A copy of the values, in the graph: the gradient flows back through it (unlike ``detach``)."""
        return astype(self, self.dtype)

    def contiguous(self) -> Tensor:
        """Itself: NumPy and CuPy compute on any memory layout."""
        return self

    def float(self) -> Tensor:
        """In float32 (PyTorch's ``float``; NumPy's ``float`` is float64, which is ``double``)."""
        return self.to(np.float32)

    def double(self) -> Tensor:
        """In float64."""
        return self.to(np.float64)

    def half(self) -> Tensor:
        """In float16."""
        return self.to(np.float16)

    def type_as(self, other: Tensor) -> Tensor:
        """In ``other``'s dtype, on ``other``'s device."""
        return self.to(other)

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def dim(self) -> int:
        """The number of axes (``ndim``)."""
        return int(self.data.ndim)

    def clamp(self, min: ArrayLike = None, max: ArrayLike = None) -> Tensor:
        """Limited to ``[min, max]`` (``clip``): ``cr.clamp``."""
        return _torch.clamp(self, min, max)

    def clamp_min(self, min: ArrayLike) -> Tensor:
        return clip(self, min, None)

    def clamp_max(self, max: ArrayLike) -> Tensor:
        return clip(self, None, max)

    def pow(self, exponent: ArrayLike) -> Tensor:
        return power(self, exponent)

    def matmul(self, other: ArrayLike) -> Tensor:
        return matmul(self, other)

    def mm(self, other: Tensor) -> Tensor:
        """The product of two matrices (2-d only, as PyTorch's ``mm``)."""
        if self.ndim != 2 or np.ndim(other) != 2:
            raise ValueError(f"mm multiplies two matrices, got shapes {self.shape} and {np.shape(other)}: use matmul")
        return matmul(self, other)

    def bmm(self, other: Tensor) -> Tensor:
        """The products of two stacks of matrices, (b, n, m) @ (b, m, p) (3-d only, as PyTorch's ``bmm``)."""
        if self.ndim != 3 or np.ndim(other) != 3 or self.shape[0] != np.shape(other)[0]:
            raise ValueError(f"bmm multiplies two stacks of as many matrices, got shapes {self.shape} and "
                             f"{np.shape(other)}: use matmul to broadcast")
        return matmul(self, other)

    @both_spellings
    def softmax(self, dim: int) -> Tensor:
        return _reduce.softmax(self, axis=dim)

    @both_spellings
    def log_softmax(self, dim: int) -> Tensor:
        return _reduce.log_softmax(self, axis=dim)

    def sin(self) -> Tensor:
        return sin(self)

    def cos(self) -> Tensor:
        return cos(self)

    def square(self) -> Tensor:
        return square(self)

    @both_spellings
    def amax(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _reduce.amax(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def amin(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        return _reduce.amin(self, axis=axis, keepdims=keepdims)

    @both_spellings
    def norm(self, p: Any = "fro", dim: Axis = None, keepdim: bool = False) -> Tensor:
        """The ``p``-norm over ``dim`` (all axes by default, flattened; "fro" is p = 2 there), or the nuclear norm
        (``p="nuc"``) of the matrices in the last two axes.

        >>> import chainrule as cr
        >>> float(cr.tensor([[3.0, 0.0], [0.0, 4.0]]).norm())
        5.0
        """
        if p == "nuc":
            if dim is not None and tuple(normalize_axis_tuple(dim, self.ndim)) != (self.ndim - 2, self.ndim - 1):
                raise ValueError("norm(p='nuc') is taken over the last two axes: move them there first")
            return _linalg_norms.matrix_norm(self, keepdims=keepdim, ord="nuc")
        return _linalg_norms.vector_norm(self, axis=dim, keepdims=keepdim, ord=2 if p == "fro" else p)

    @both_spellings
    def gather(self, dim: int, index: ArrayLike) -> Tensor:
        """Entries picked along ``dim`` by ``index``: ``cr.gather``."""
        return _torch.gather(self, dim, index)

    @both_spellings
    def scatter(self, dim: int, index: ArrayLike, src: ArrayLike = None, *, value: Any = None) -> Tensor:
        """A copy with ``src`` (or ``value``) written where ``index`` points along ``dim``: ``cr.scatter``."""
        return _torch.scatter(self, dim, index, src, value=value)

    @both_spellings
    def scatter_add(self, dim: int, index: ArrayLike, src: ArrayLike) -> Tensor:
        """A copy with ``src`` added where ``index`` points along ``dim`` (entries named twice get both).

        >>> import chainrule as cr
        >>> cr.zeros(3).scatter_add(0, [0, 2, 0], cr.ones(3))
        tensor([2., 0., 1.])
        """
        return _torch.scatter_add(self, dim, index, src)

    @both_spellings
    def index_select(self, dim: int, index: ArrayLike) -> Tensor:
        """The slices along ``dim`` at the positions ``index``: ``cr.index_select``."""
        return _torch.index_select(self, dim, index)

    def masked_fill(self, mask: ArrayLike, value: ArrayLike) -> Tensor:
        """``value`` where the boolean ``mask`` (broadcast to this shape) holds, this tensor elsewhere, in this
        tensor's dtype; a ``value`` being differentiated gets the gradient of the filled entries.

        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, 3.0])
        >>> x.masked_fill(x > 1.5, 0.0)
        tensor([1., 0., 0.])
        """
        if values(mask).dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be boolean, got dtype {values(mask).dtype}")
        out = where(mask, value, self)
        return out if out.shape == self.shape and out.dtype == self.dtype else _shape.broadcast_to(
            astype(out, self.dtype), self.shape)

    def where(self, condition: ArrayLike, other: ArrayLike) -> Tensor:
        """This tensor where ``condition`` holds, ``other`` elsewhere (``cr.where(condition, self, other)``)."""
        return where(condition, self, other)

    @both_spellings
    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """Cut along ``dim`` into ``chunks`` pieces of equal length (the last shorter; fewer when too short).

        >>> import chainrule as cr
        >>> [c.shape for c in cr.zeros(5).chunk(3)]
        [(2,), (2,), (1,)]
        """
        if chunks < 1:
            raise ValueError(f"chunk: chunks must be at least 1, got {chunks}")
        return self.split(max(-(-self.shape[dim] // chunks), 1), dim)

    @both_spellings
    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
        """Cut along ``dim`` into pieces of ``split_size`` (the last shorter), or of the lengths given (PyTorch's;
        ``cr.split`` is NumPy's, which takes a number of pieces or the cut points).

        >>> import chainrule as cr
        >>> [p.shape for p in cr.zeros(5).split([1, 4])]
        [(1,), (4,)]
        """
        n = self.shape[dim]
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections < 1:
                raise ValueError(f"split: split_size must be at least 1, got {split_size_or_sections}")
            cuts = list(range(split_size_or_sections, n, split_size_or_sections))
        else:
            lengths = list(split_size_or_sections)
            if sum(lengths) != n:
                raise ValueError(f"split: lengths {lengths} do not add up to {n}, the length of axis {dim}")
            cuts = list(itertools.accumulate(lengths))[:-1]
        return tuple(_shape.split(self, cuts, axis=dim))

    # in place (PyTorch's trailing underscore): the object keeps its identity. Under no_grad, or with nothing being
    # differentiated, the values are written into its array; otherwise the update is recorded as ``t[...] = new``
    # (chainrule's recorded assignment, with its refusals: a leaf that requires grad, a view of another tensor).
    def _update(self, new: Callable[[Tensor], Any], check_cast: bool = True) -> Tensor:
        old = _new_like(self)  # computed from a twin, so the new value's nodes do not hold this (reassigned) object
        old._version = None
        value = new(old)
        if not isinstance(value, Tensor) and type(value) not in _ARRAYS:  # a number: next to the values it meets
            value = like(np.asarray(value), bottom(self))
        if check_cast and not np.can_cast(np.result_type(bottom(value)), self.dtype, casting="same_kind"):
            raise TypeError(f"in-place update would cast {np.result_type(bottom(value))} to {self.dtype}")
        self[...] = value
        return self

    def zero_(self) -> Tensor:
        return self._update(lambda t: 0, check_cast=False)

    def fill_(self, value: ArrayLike) -> Tensor:
        return self._update(lambda t: value, check_cast=False)

    def copy_(self, src: ArrayLike) -> Tensor:
        """Copy ``src``'s values in (broadcast to this shape, cast to this dtype, moved to this device)."""
        return self._update(lambda t: src.to(self.device) if isinstance(src, Tensor) else src, check_cast=False)

    def add_(self, other: ArrayLike, alpha: Any = 1) -> Tensor:
        return self._update(lambda t: t + (other if alpha == 1 else multiply(other, alpha)))

    def sub_(self, other: ArrayLike, alpha: Any = 1) -> Tensor:
        return self._update(lambda t: t - (other if alpha == 1 else multiply(other, alpha)))

    def mul_(self, other: ArrayLike) -> Tensor:
        return self._update(lambda t: t * other)

    def div_(self, other: ArrayLike) -> Tensor:
        return self._update(lambda t: t / other)

    def clamp_(self, min: ArrayLike = None, max: ArrayLike = None) -> Tensor:
        return self._update(lambda t: _torch.clamp(t, min, max))

    def exp_(self) -> Tensor:
        return self._update(exp)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """Zeros of ``size``, in this tensor's dtype and on its device unless given."""
        return self.new_full(_creation._shape(size), 0, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """Ones of ``size``, in this tensor's dtype and on its device unless given."""
        return self.new_full(_creation._shape(size), 1, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        """``fill_value`` in every entry of ``size``, in this tensor's dtype and on its device unless given.

        >>> import numpy as np, chainrule as cr
        >>> cr.zeros(2, dtype=np.float32).new_full((3,), 7).dtype
        dtype('float32')
        """
        return _creation.full(size, fill_value, dtype=self.dtype if dtype is None else as_dtype(dtype),
                              device=self.device if device is None else device, requires_grad=requires_grad)

    def new_tensor(self, data: ArrayLike, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf holding a copy of ``data``, in this tensor's dtype and on its device unless given."""
        return Tensor(data, dtype=self.dtype if dtype is None else dtype,
                      device=self.device if device is None else device, requires_grad=requires_grad)

    # the logical operators of boolean (and integer) tensors, as NumPy's and PyTorch's: primitives without a
    # gradient, so that vmap batches them and cr.compile records them
    def __and__(self, other: ArrayLike) -> Tensor:
        return _operate(bitwise_and, self, other)

    def __rand__(self, other: ArrayLike) -> Tensor:
        return _operate(bitwise_and, other, self)

    def __or__(self, other: ArrayLike) -> Tensor:
        return _operate(bitwise_or, self, other)

    def __ror__(self, other: ArrayLike) -> Tensor:
        return _operate(bitwise_or, other, self)

    def __xor__(self, other: ArrayLike) -> Tensor:
        return _operate(bitwise_xor, self, other)

    def __rxor__(self, other: ArrayLike) -> Tensor:
        return _operate(bitwise_xor, other, self)

    def __invert__(self) -> Tensor:
        return _apply(invert, self)

    @property
    def grad_fn(self) -> Node | None:
        """The node that computed this tensor (None for a leaf): its ``name()`` is the primitive's."""
        return self._node

    @both_spellings
    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        """PyTorch's ``t.sort``: the pair (values, indices) along ``dim``, ascending (NaNs last) unless
        ``descending``; the gradient goes back through the values. Always stable (``stable`` is accepted). NumPy's
        ``ndarray.sort`` sorts in place, which a recorded tensor cannot do: ``cr.sort`` gives the values alone.

        >>> import chainrule as cr
        >>> cr.tensor([3.0, 1.0, 2.0]).sort(descending=True)
        TopK(values=tensor([3., 2., 1.]), indices=tensor([0, 2, 1]))
        """
        return _sorting.topk(self, self.shape[dim] if self.ndim else 1, dim=dim, largest=descending)

    @both_spellings
    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        """The indices that sort along ``dim`` (``t.sort(...).indices``): integers, with no gradient.

        >>> import chainrule as cr
        >>> cr.tensor([3.0, 1.0, 2.0]).argsort()
        tensor([1, 2, 0])
        """
        return self.sort(dim, descending).indices

    @both_spellings
    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        """The ``k`` largest (``largest=False``: smallest) along ``dim`` and their indices: ``cr.topk``.

        >>> import chainrule as cr
        >>> cr.tensor([3.0, 1.0, 2.0]).topk(2).values
        tensor([3., 2.])
        """
        return _sorting.topk(self, k, dim=dim, largest=largest, sorted=sorted)

    # PyTorch's methods that chainrule spells another way: reading one raises an AttributeError saying how. (Class
    # attributes cost other lookups nothing, where a Tensor.__getattr__ would slow them all. A misspelt name gets
    # Python's own "Did you mean" from the interpreter, which reads the AttributeError's name and object.)
    narrow = _PyTorchName()
    masked_select = _PyTorchName()
    nonzero = _PyTorchName()
    unbind = _PyTorchName()
    # ==== end of PyTorch's Tensor methods ======================================================================


def _is_box(x: Any) -> bool:
    """A value being differentiated: a Tensor that requires grad, or a Dual (forward mode)."""
    return isinstance(x, Tensor) and (x.requires_grad or type(x) is Dual)


def _slots(cls: type) -> list[str]:
    return [slot for c in cls.__mro__ for slot in getattr(c, "__slots__", ()) if slot != "__weakref__"]


def _new_like(t: T) -> T:
    """A second object with the same fields as ``t`` (the same array, node, tangent): ``t`` before it changes."""
    twin = type(t).__new__(type(t))
    for slot in _slots(type(t)):
        setattr(twin, slot, getattr(t, slot))
    return twin


def _raw_index(index: Any) -> Any:
    if isinstance(index, tuple):
        return tuple(_raw(i) for i in index)
    return _raw(index)


def _seed(out: Tensor, gradient: ArrayLike | None, create_graph: bool) -> Any:
    if gradient is None:
        if out.data.dtype.kind == "c":
            raise RuntimeError(
                f"backward() needs a real output, got dtype {out.dtype}: a complex output has no gradient of its own; "
                "differentiate a real function of it (y.real, y.abs() ** 2), or pass backward(gradient=...)"
            )
        if out.data.size != 1:
            raise RuntimeError(
                f"backward() needs a scalar output, got shape {out.shape}: reduce it first (e.g. y.sum().backward()) "
                "or pass the output's cotangent, y.backward(gradient=...)"
            )
        seed: Any = np.ones_like(out.data)
    else:
        seed = _raw(gradient) if not (create_graph and isinstance(gradient, Tensor)) else gradient
        if not isinstance(seed, Tensor):
            if type(seed) in _ARRAYS and backend.device_of(seed) != out.device:
                raise RuntimeError(f"backward(gradient=...) got a gradient on {backend.device_of(seed)} for an output "
                                   f"on {out.device}: move it first (gradient.to('{out.device}'))")
            # a copy, on the output's device: a leaf's .grad must never alias the caller's array
            seed = backend.namespace(out.data).array(seed, dtype=out.data.dtype)
        if seed.shape != out.shape:
            raise RuntimeError(
                f"backward(gradient=...) got a gradient of shape {seed.shape} for an output of shape {out.shape}: "
                "they must match"
            )
        if seed.dtype.kind == "c":  # given in PyTorch's convention, as .grad holds it: the engine's is its conjugate
            seed = _elementwise.conjugate(seed)
    if create_graph and not isinstance(seed, Tensor):
        seed = Tensor._from_node(seed, None)
    return seed


def _backward(roots: Sequence[tuple[Tensor, Any]], create_graph: bool, retain_graph: bool) -> None:
    """The sweep from ``roots`` (pairs of output and seed), each leaf's cotangent added into its ``.grad``, then
    what hooks queued with ``engine.queue_callback``."""
    stored: set[int] = set()
    on_leaf = None
    if engine._post_hooks:  # leaves with post-accumulate hooks are stored during the sweep, as they complete
        def on_leaf(leaf: Tensor, g: Any) -> None:
            _accumulate_leaf_grad(leaf, g, create_graph, stored)
    callbacks: list[Callable[[], None]] = []
    engine._callbacks.append(callbacks)
    try:
        grads = engine.run(roots, create_graph=create_graph, retain_graph=retain_graph, on_leaf=on_leaf)
        _accumulate_leaf_grads(grads, create_graph, stored)
    finally:
        engine._callbacks.pop()
    for callback in callbacks:
        callback()


def _accumulate_leaf_grads(grads: dict[int, tuple[Tensor, Any]], create_graph: bool,
                           stored: set[int] | None = None) -> None:
    """``_accumulate_leaf_grad`` for each leaf in ``grads`` (what ``engine.run`` returned)."""
    stored = set() if stored is None else stored
    for leaf, g in grads.values():
        _accumulate_leaf_grad(leaf, g, create_graph, stored)


def _accumulate_leaf_grad(leaf: Tensor, g: Any, create_graph: bool, stored: set[int]) -> None:
    """Add a leaf's cotangent into its ``.grad`` (PyTorch semantics: accumulate until set to None), then run its
    post-accumulate hooks. ``stored`` holds the ids of the arrays already given to leaves in this backward.

    A cotangent may be a broadcast view, or one array that a rule passed on to several inputs (add's VJP is
    ``g``): each ``.grad`` gets an array of its own, writable, so in-place updates of one never touch another.
    """
    if not isinstance(g, Tensor):
        if id(g) in stored or g.base is not None or not getattr(g.flags, "writeable", True):
            g = g.copy()
        stored.add(id(g))
        g = Tensor._from_node(g, None)
    elif _traced_in(g) is not None:  # cr.compile's box (or a tensor holding one): copied, recorded, where eager's
        from .compile import own_array  # array would be

        g = own_array(_traced_in(g), id(g) in stored)
        stored.add(id(g))
    elif id(g) in stored:
        g = g * 1  # one cotangent passed on to several leaves (add's VJP is g): each .grad its own tensor
    stored.add(id(g))
    if leaf._hooks is not None:
        g = engine.run_hooks(leaf._hooks, g, create_graph=True)  # sees and returns Tensors
    g = _as_torch_grad(g)
    grad = g if leaf.grad is None else leaf.grad + g
    leaf.grad = grad if create_graph else grad.detach()
    if engine._post_hooks and id(leaf) in engine._post_hooks:
        engine.run_post_accumulate_hooks(leaf)


def _as_torch_grad(g: Tensor) -> Tensor:
    """What ``.grad`` holds: PyTorch's convention, the conjugate of ``cr.grad``'s dL/dx - i dL/dy on complex values
    (dL/dx + i dL/dy, the steepest ascent, so that the optimizers' ``p -= lr * p.grad`` descends, as in PyTorch)."""
    return _elementwise.conjugate(g) if g.dtype.kind == "c" else g


# Bound last: the ops modules import Tensor from here.
from . import creation as _creation  # noqa: E402
from . import dispatch  # noqa: E402
from . import torch_names as _torch  # noqa: E402
from .ops import decompositions as _linalg_norms  # noqa: E402
from .ops import elementwise as _elementwise  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .ops import reduce as _reduce  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import sorting as _sorting  # noqa: E402
from .ops.elementwise import (  # noqa: E402
    absolute,
    add,
    astype,
    bitwise_and,
    bitwise_or,
    bitwise_xor,
    clip,
    cos,
    divide,
    equal,
    exp,
    floor_divide,
    greater,
    greater_equal,
    invert,
    less,
    less_equal,
    log,
    multiply,
    negative,
    not_equal,
    power,
    relu,
    remainder,
    round,
    sigmoid,
    sin,
    sqrt,
    square,
    subtract,
    tanh,
    transfer,
    where,
)
from .ops.linalg import matmul  # noqa: E402
from .ops.shape import getitem, transpose  # noqa: E402
from .primitive import CompileError, Dual, Primitive, Traced, holds_box, identity, like  # noqa: E402
from .primitive import operate as _operate  # noqa: E402

_apply = Primitive.__call__
