"""A stand-in for CuPy on machines without a GPU: an array type and a namespace that refuse what CuPy refuses.

The data lives in a NumPy array, but it behaves as device memory: NumPy cannot read it implicitly (``np.asarray``
raises, as on CuPy), NumPy arrays do not mix with it in ufuncs, operators or NumPy functions (CuPy's "Unsupported
type"), while Python and NumPy scalars do; ``.get()`` / ``xp.asnumpy`` copy to the host and ``xp.asarray`` copies
from it. Results are stand-in arrays, reductions give 0-d arrays (never NumPy scalars), integer indexing gives 0-d
views, views keep their root array as ``.base``. Only what ``cupy.ndarray`` has is here: no ``flags.writeable``, no
``__index__``, no ``where=``/``initial=``, ufunc methods only where CuPy implements them, ``cupy.linalg`` without
NumPy 2's ``vector_norm``/``matrix_norm``. The values are NumPy's. ``provider.fuse`` stands for ``cupy.fuse``: it
checks the arguments as CuPy does, counts the call in ``fused_calls`` and runs the body as written.

Use ``xp`` for ``cupy``, ``DeviceArray`` for ``cupy.ndarray`` and ``provider`` for the library's backend.
"""

from __future__ import annotations

import collections
import functools
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

__all__ = ["DeviceArray", "Named", "fused_calls", "provider", "xp"]

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")
_SCALARS = (int, float, complex, np.number, np.bool_)  # what CuPy takes besides its arrays (bool is an int)
# CuPy turns a 0-d NumPy array into a Python scalar for these ufuncs only (its workaround of numpy/numpy#12142)
_COMPARISONS = frozenset({"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"})
# The ufunc methods CuPy implements, each for some ufuncs (others raise NotImplementedError); 'outer' is for all
_METHOD_UFUNCS = {"reduce": {"add", "multiply"}, "accumulate": {"add", "multiply"}, "reduceat": {"add"},
                  "at": {"add", "subtract", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"}}
# The keywords cupy.ufunc and its methods take: any other (where=, initial=, order=...) is a TypeError there
_METHOD_KWARGS = {"__call__": {"out", "dtype", "casting"}, "outer": {"out", "dtype", "casting"}, "at": set(),
                  "reduce": {"axis", "dtype", "out", "keepdims"}, "accumulate": {"axis", "dtype", "out"},
                  "reduceat": {"axis", "dtype", "out"}}
# ufunc.at with an integer index array runs CUDA atomics, which exist for these dtypes only
_ATOMIC = {np.dtype(t) for t in ("int32", "uint32", "uint64", "float32", "float64")}
_AT_DTYPES = {"add": _ATOMIC | {np.dtype("float16")}, "maximum": _ATOMIC, "minimum": _ATOMIC}
_LINALG = frozenset({  # what cupy.linalg has
    "cholesky", "cond", "cross", "det", "eig", "eigh", "eigvals", "eigvalsh", "inv", "lstsq", "matmul",
    "matrix_power", "matrix_rank", "matrix_transpose", "norm", "pinv", "qr", "slogdet", "solve", "svd", "tensordot",
    "tensorinv", "tensorsolve", "vecdot", "LinAlgError"})


def _unwrap(obj: Any, seen: list[DeviceArray], host_ok: bool = False) -> Any:
    """``obj`` with stand-in arrays replaced by their data, through tuples, lists and dicts; NumPy arrays are refused
    (unless ``host_ok``: where CuPy copies them to the device). The stand-ins met are appended to ``seen``."""
    if isinstance(obj, DeviceArray):
        seen.append(obj)
        return obj._data
    if isinstance(obj, np.ndarray):
        if host_ok:
            return obj
        raise TypeError(f"Unsupported type {type(obj)}")
    if isinstance(obj, (tuple, list)):
        items = [_unwrap(o, seen, host_ok) for o in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {k: _unwrap(v, seen, host_ok) for k, v in obj.items()}
    return obj


def _wrap(result: Any, seen: list[DeviceArray]) -> Any:
    """``result`` with NumPy arrays and scalars as stand-in arrays (tuples stay tuples, named ones become plain as
    CuPy's are). An input's own data comes back as that input; a view of it has the input's root as its base."""
    if isinstance(result, np.generic):
        return DeviceArray._of(np.asarray(result))
    if isinstance(result, np.ndarray):
        for s in seen:
            if result is s._data:
                return s
        for s in seen:
            if np.may_share_memory(result, s._data):
                return DeviceArray._of(result, s if s._base is None else s._base)
        return DeviceArray._of(result)
    if isinstance(result, (tuple, list)):
        items = [_wrap(r, seen) for r in result]
        return tuple(items) if isinstance(result, tuple) else items
    return result


def _method(name: str, *params: str, host_ok: bool = False) -> Callable[..., Any]:
    """A method running NumPy's of the same name on the data, taking only the parameters CuPy's takes."""
    def method(self: DeviceArray, *args: Any, **kwargs: Any) -> Any:
        unknown = set(kwargs) - set(params)
        if len(args) > len(params) or unknown:
            raise TypeError(f"{name}() takes only {params} here (as on CuPy), got {len(args)} positional, {unknown}")
        seen = [self]
        args, kwargs = _unwrap((args, kwargs), seen, host_ok)
        return _wrap(getattr(self._data, name)(*args, **kwargs), seen)
    method.__name__ = name
    method.__doc__ = f"Like ``numpy.ndarray.{name}``, on the device."
    return method


@dataclass(frozen=True)
class _Flags:
    """CuPy's flags: these three, read-only (setting ``writeable`` is an AttributeError there)."""

    c_contiguous: bool
    f_contiguous: bool
    owndata: bool

    def __getitem__(self, key: str) -> bool:
        return bool(getattr(self, key.lower()))


class _Device:
    """``cupy.cuda.Device``: a context manager making device ``id`` current; there is one device, 0."""

    def __init__(self, id: int = 0) -> None:
        self.id = int(id)

    def __repr__(self) -> str:
        return f"<CUDA Device {self.id}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self) -> int:
        return self.id

    def synchronize(self) -> None:
        """Wait for the device's work: the stand-in's is done when its call returns."""

    def use(self) -> None:
        if self.id != 0:
            raise RuntimeError("cudaErrorInvalidDevice: invalid device ordinal")

    def __enter__(self) -> _Device:
        self.use()
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class DeviceArray(NDArrayOperatorsMixin):
    """Stands in for ``cupy.ndarray``: ``DeviceArray(shape, dtype)`` is uninitialized, as CuPy's constructor."""

    __slots__ = ("_base", "_data")
    __array_priority__ = 100

    def __init__(self, shape: Any, dtype: Any = float, order: str = "C") -> None:
        self._data: np.ndarray[Any, Any] = np.empty(shape, dtype, order=order)
        self._base: DeviceArray | None = None

    @classmethod
    def _of(cls, data: np.ndarray[Any, Any], base: DeviceArray | None = None) -> DeviceArray:
        if data.dtype.kind not in "biufc" or data.dtype.itemsize > (16 if data.dtype.kind == "c" else 8):
            raise ValueError(f"Unsupported dtype {data.dtype}")  # CuPy has no object, string or long double arrays
        a = object.__new__(cls)
        a._data, a._base = data, base
        return a

    # --- what NumPy sees: no buffer, no implicit conversion; ufuncs and functions come here --------------------
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray[Any, Any]:
        raise TypeError(_IMPLICIT)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        name = ufunc.__name__
        if method not in _METHOD_KWARGS:
            return NotImplemented
        if name not in _METHOD_UFUNCS.get(method, {name}):
            raise NotImplementedError(f"`cupy_{name}.{method}` is not supported yet")
        if not all(isinstance(x, (DeviceArray, np.ndarray, *_SCALARS)) for x in inputs + kwargs.get("out", ())):
            return NotImplemented  # lists, tuples, other objects: NumPy raises TypeError (a NumPy array: below)
        if set(kwargs) - _METHOD_KWARGS[method]:
            raise TypeError(f"Wrong arguments {set(kwargs) - _METHOD_KWARGS[method]}")
        if name in _COMPARISONS:
            inputs = tuple(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x for x in inputs)
        seen: list[DeviceArray] = []
        if method == "at":  # the index may be a NumPy array: CuPy copies it over, as in indexing
            a, index, *rest = inputs
            index = _unwrap(index, seen, host_ok=True)
            if isinstance(index, np.ndarray) and index.dtype.kind in "iu" and name in _AT_DTYPES \
                    and a.dtype not in _AT_DTYPES[name]:
                raise TypeError(f"{name}.at with an index array does not support {a.dtype} (CUDA atomics)")
            ufunc.at(_unwrap(a, seen), index, *_unwrap(rest, seen))
            return None
        args, kwargs = _unwrap((inputs, kwargs), seen)
        return _wrap(getattr(ufunc, method)(*args, **kwargs), seen)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if not all(issubclass(t, (DeviceArray, np.ndarray)) for t in types):
            return NotImplemented
        if func.__module__ == "numpy.linalg" and func.__name__ not in _LINALG:
            return NotImplemented  # not in cupy.linalg: NumPy raises TypeError
        seen: list[DeviceArray] = []
        args, kwargs = _unwrap((args, kwargs), seen)
        return _wrap(func(*args, **kwargs), seen)

    # --- attributes ---------------------------------------------------------------------------------------------
    shape = property(lambda self: self._data.shape, doc="The lengths of the axes.")
    dtype = property(lambda self: self._data.dtype, doc="The data type.")
    ndim = property(lambda self: self._data.ndim, doc="The number of axes.")
    size = property(lambda self: self._data.size, doc="The number of elements.")
    nbytes = property(lambda self: self._data.nbytes, doc="The size of the data in bytes.")
    itemsize = property(lambda self: self._data.itemsize, doc="The size of an element in bytes.")
    strides = property(lambda self: self._data.strides, doc="The strides in bytes.")
    base = property(lambda self: self._base, doc="The array this one is a view of (the root one), or None.")
    device = property(lambda self: _DEVICE, doc="The device the data is on: ``<CUDA Device 0>``.")
    real = property(lambda self: _wrap(self._data.real, [self]), doc="The real part (the array itself if real).")
    imag = property(lambda self: _wrap(self._data.imag, [self]), doc="The imaginary part.")

    @property
    def flags(self) -> _Flags:
        """c_contiguous, f_contiguous and owndata, as on CuPy."""
        f = self._data.flags
        return _Flags(bool(f.c_contiguous), bool(f.f_contiguous), self._base is None)

    @property
    def T(self) -> DeviceArray:
        """The axes reversed: the array itself below 2-d (as on CuPy)."""
        return self if self.ndim < 2 else _wrap(self._data.T, [self])

    @property
    def mT(self) -> DeviceArray:
        """The last two axes swapped."""
        if self.ndim < 2:
            raise ValueError("matrix transpose with ndim < 2 is undefined")
        return _wrap(self._data.swapaxes(-1, -2), [self])

    # --- methods (CuPy's signatures: no where=, initial=, ...) --------------------------------------------------
    sum = _method("sum", "axis", "dtype", "out", "keepdims")
    prod = _method("prod", "axis", "dtype", "out", "keepdims")
    mean = _method("mean", "axis", "dtype", "out", "keepdims")
    var = _method("var", "axis", "dtype", "out", "ddof", "keepdims")
    std = _method("std", "axis", "dtype", "out", "ddof", "keepdims")
    max = _method("max", "axis", "out", "keepdims")
    min = _method("min", "axis", "out", "keepdims")
    argmax = _method("argmax", "axis", "out", "keepdims")
    argmin = _method("argmin", "axis", "out", "keepdims")
    all = _method("all", "axis", "out", "keepdims")
    any = _method("any", "axis", "out", "keepdims")
    cumsum = _method("cumsum", "axis", "dtype", "out")
    cumprod = _method("cumprod", "axis", "dtype", "out")
    clip = _method("clip", "min", "max", "out")
    round = _method("round", "decimals", "out")
    trace = _method("trace", "offset", "axis1", "axis2", "dtype", "out")
    diagonal = _method("diagonal", "offset", "axis1", "axis2")
    take = _method("take", "indices", "axis", "out", host_ok=True)
    repeat = _method("repeat", "repeats", "axis")
    squeeze = _method("squeeze", "axis")
    ravel = _method("ravel", "order")
    flatten = _method("flatten", "order")
    swapaxes = _method("swapaxes", "axis1", "axis2")
    nonzero = _method("nonzero")
    sort = _method("sort", "axis", "kind")
    argsort = _method("argsort", "axis", "kind")
    searchsorted = _method("searchsorted", "v", "side", "sorter")
    conj = _method("conj")
    conjugate = _method("conjugate")
    copy = _method("copy", "order")
    view = _method("view", "dtype")
    item = _method("item")
    tolist = _method("tolist")
    tobytes = _method("tobytes", "order")

    def reshape(self, *shape: Any, order: str = "C") -> DeviceArray:
        """A view (or, where the layout needs one, a copy) of another shape."""
        return _wrap(self._data.reshape(*shape, order=order), [self])

    def transpose(self, *axes: Any) -> DeviceArray:
        """A view with the axes permuted."""
        return _wrap(self._data.transpose(*axes), [self])

    def astype(self, dtype: Any, order: str = "K", casting: Any = None, subok: Any = None,
               copy: bool = True) -> DeviceArray:
        """Cast to ``dtype``; ``copy=False`` gives the array itself when nothing changes. CuPy takes no casting."""
        if casting is not None or subok is not None:
            raise TypeError("casting and subok are not supported yet")
        return _wrap(self._data.astype(dtype, order=order, copy=bool(copy)), [self])

    def dot(self, b: DeviceArray, out: DeviceArray | None = None) -> DeviceArray:
        """The dot product with another device array (CuPy's takes nothing else, not even a scalar)."""
        if not isinstance(b, DeviceArray) or not (out is None or isinstance(out, DeviceArray)):
            raise TypeError(f"Argument 'b' has incorrect type (expected cupy.ndarray, got {type(b).__name__})")
        seen = [self, b]
        return _wrap(np.dot(self._data, b._data, out=_unwrap(out, seen)), seen)

    def fill(self, value: Any) -> None:
        """Set every element to a scalar (a 0-d array, NumPy's or a device one, is one)."""
        if isinstance(value, (DeviceArray, np.ndarray)) and value.ndim != 0:
            raise ValueError(f"non-scalar {type(value).__name__} cannot be used for fill")
        self._data.fill(value._data if isinstance(value, DeviceArray) else value)

    def get(self, stream: Any = None, order: str = "C", out: np.ndarray[Any, Any] | None = None,
            blocking: bool = True) -> np.ndarray[Any, Any]:
        """A copy on the host, as a NumPy array (into ``out`` if given)."""
        if out is None:
            return np.array(self._data, order=order, copy=True)
        np.copyto(out, self._data, casting="no")
        return out

    def set(self, arr: np.ndarray[Any, Any], stream: Any = None) -> None:
        """Copy a host array of the same shape and dtype in."""
        if not isinstance(arr, np.ndarray) or arr.dtype != self.dtype or arr.shape != self.shape:
            raise TypeError("only a numpy.ndarray of the same dtype and shape can be set")
        self._data[...] = arr

    # --- indexing: lists and NumPy arrays are indices CuPy copies over; an integer index gives a 0-d view --------
    def _index(self, key: Any, seen: list[DeviceArray]) -> tuple[Any, ...]:
        out = []
        for k in key if isinstance(key, tuple) else (key,):
            if isinstance(k, (DeviceArray, list, tuple, np.ndarray, bool, np.bool_)):
                k = np.asarray(_unwrap(k, seen, host_ok=True))
                if k.size == 0 and k.dtype.kind == "f":
                    k = k.astype(np.intp)  # an empty list means no indices, not an empty mask
            out.append(k)
        if not any(k is Ellipsis for k in out):
            out.append(Ellipsis)  # as CuPy: a[0] of a 1-d array is a 0-d view, not a scalar
        return tuple(out)

    def __getitem__(self, key: Any) -> DeviceArray:
        seen = [self]
        return _wrap(self._data[self._index(key, seen)], seen)

    def __setitem__(self, key: Any, value: Any) -> None:
        seen = [self]
        index = self._index(key, seen)
        advanced = any(isinstance(k, np.ndarray) for k in index)
        if isinstance(value, DeviceArray):
            value = value._data
        elif advanced and isinstance(value, (np.ndarray, list, tuple)):
            value = np.asarray(_unwrap(value, seen, host_ok=True))  # CuPy copies the values over here ...
        elif isinstance(value, np.ndarray):  # ... but fills a basic index with a scalar only
            if value.ndim != 0:
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
            value = value.item()
        elif not isinstance(value, _SCALARS):
            raise TypeError(f"Unsupported type {type(value)}")
        self._data[index] = value

    # --- Python protocols: size-1 conversions sync with the device, as on CuPy; no __index__, unhashable --------
    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None or type(other).__eq__ is object.__eq__:
            return DeviceArray._of(np.zeros(self.shape, bool))
        return super().__eq__(other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None or type(other).__eq__ is object.__eq__:
            return DeviceArray._of(np.ones(self.shape, bool))
        return super().__ne__(other)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        if self.size == 0:
            warnings.warn("The truth value of an empty array is ambiguous. Returning False, but in future this will "
                          "result in an error. Use `array.size > 0` to check that an array is not empty.",
                          DeprecationWarning, stacklevel=2)
            return False
        if self.size > 1:
            raise ValueError("The truth value of an array with more than one element is ambiguous. "
                             "Use a.any() or a.all()")
        return bool(self._data)

    def __int__(self) -> int:
        return int(self._data)

    def __float__(self) -> float:
        return float(self._data)

    def __complex__(self) -> complex:
        return complex(self._data)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self) -> Iterator[DeviceArray]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self) -> str:
        return repr(self._data)  # CuPy prints as NumPy does

    def __str__(self) -> str:
        return str(self._data)

    def __format__(self, spec: str) -> str:
        return format(self._data, spec)

    def __copy__(self) -> DeviceArray:
        return self.copy()

    def __deepcopy__(self, memo: Any) -> DeviceArray:
        return self.copy()


_DEVICE = _Device(0)


class _UFunc:
    """``cupy.exp`` and the like: takes device arrays and scalars (a 0-d array back), not lists nor NumPy arrays."""

    def __init__(self, ufunc: np.ufunc) -> None:
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for x in args:
            if not isinstance(x, (DeviceArray, *_SCALARS)):
                raise TypeError(f"Unsupported type {type(x)}")
        return _wrap(self._ufunc(*args, **kwargs), [])

    def __getattr__(self, name: str) -> Any:  # nin, nout, reduce, at, ...: through NumPy's dispatch to ours
        found = getattr(self._ufunc, name)
        return (lambda *a, **k: _wrap(found(*a, **k), [])) if callable(found) else found


def _function(func: Callable[..., Any]) -> Callable[..., Any]:
    """A NumPy function on device arrays: NumPy arrays refused, results on the device."""
    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        seen: list[DeviceArray] = []
        args, kwargs = _unwrap((args, kwargs), seen)
        return _wrap(func(*args, **kwargs), seen)
    return run


class _Namespace(types.ModuleType):
    """A CuPy module: NumPy's names, functions taking and giving device arrays; types and constants as they are."""

    def __init__(self, name: str, module: types.ModuleType, names: frozenset[str] | None = None) -> None:
        super().__init__(name)
        self._module, self._names = module, names

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or (self._names is not None and name not in self._names):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        found = getattr(self._module, name)
        if isinstance(found, np.ufunc):
            found = _UFunc(found)
        elif isinstance(found, types.ModuleType):
            found = _Namespace(f"{self.__name__}.{name}", found)
        elif callable(found) and not isinstance(found, type):
            found = _function(found)
        setattr(self, name, found)  # made once: xp.exp is xp.exp
        return found

    def __repr__(self) -> str:
        return f"<module {self.__name__!r} (stand-in)>"


def _asarray(a: Any, dtype: Any = None, order: Any = None) -> DeviceArray:
    """Host to device (a copy); a device array of that dtype comes back as it is."""
    if isinstance(a, DeviceArray):
        return a.astype(a.dtype if dtype is None else dtype, copy=False)
    return DeviceArray._of(np.array(_unwrap(a, [], host_ok=True), dtype=dtype, order=order or "K", copy=True))


def _array(obj: Any, dtype: Any = None, copy: bool = True, order: str = "K", subok: bool = False,
           ndmin: int = 0) -> DeviceArray:
    """A new device array (a copy of ``obj``, which may be on the host or the device)."""
    data = np.array(_unwrap(obj, [], host_ok=True), dtype=dtype, order=order, ndmin=ndmin, copy=True)
    return obj if not copy and isinstance(obj, DeviceArray) and data.dtype == obj.dtype else DeviceArray._of(data)


def _asnumpy(a: Any, stream: Any = None, order: str = "C", out: Any = None, blocking: bool = True) -> Any:
    """Device to host (a copy); anything else through ``numpy.asarray``."""
    return a.get(order=order, out=out) if isinstance(a, DeviceArray) else np.asarray(a, order=order)


xp = _Namespace("cupy", np)
xp.ndarray = DeviceArray
xp.asarray, xp.array, xp.asnumpy = _asarray, _array, _asnumpy
xp.get_array_module = lambda *args: xp if any(isinstance(a, DeviceArray) for a in args) else np
xp.is_available = lambda: True
xp.linalg = _Namespace("cupy.linalg", np.linalg, _LINALG)
xp.cuda = types.SimpleNamespace(Device=_Device, is_available=lambda: True,
                                runtime=types.SimpleNamespace(getDeviceCount=lambda: 1))


def _from_host(array: np.ndarray[Any, Any], index: int) -> DeviceArray:
    with _Device(index):
        return _asarray(array)


fused_calls: collections.Counter[str] = collections.Counter()  # kernel name -> calls through the stand-in's fuse
_FUSE_ARGUMENTS = (DeviceArray, int, float, complex, np.generic)  # what a cupy.fuse kernel takes (and None)


def _fuse(body: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``cupy.fuse(kernel_name=name)(body)``: CuPy compiles the body into one kernel; here it runs as written on the
    stand-in's arrays, as cupy.fuse runs a body handed host arrays. Arguments are checked as CuPy checks them (a
    NumPy array, a list, a Tensor is refused), and every call is counted in ``fused_calls[name]``."""
    def kernel(*args: Any) -> Any:
        if not any(isinstance(a, DeviceArray) for a in args) or not all(isinstance(a, _FUSE_ARGUMENTS) for a in args):
            raise TypeError(f"Invalid argument type for '{name}': ({', '.join(repr(type(a)) for a in args)})")
        fused_calls[name] += 1
        return body(*args)
    return kernel


@dataclass(frozen=True)
class StandInProvider:
    """The library's view of a device kind: the stand-in's array type and namespace, copies to and from the host."""

    name: str = "cuda"
    kind: str = "cuda"
    xp: Any = xp
    array_type: type = DeviceArray
    is_available: Callable[[], bool] = lambda: True
    device_count: Callable[[], int] = lambda: 1
    from_host: Callable[[np.ndarray[Any, Any], int], DeviceArray] = _from_host  # a copy, on device ``index``
    to_host: Callable[[Any], np.ndarray[Any, Any]] = _asnumpy  # a copy
    device_index: Callable[[Any], int] = lambda a: a.device.id
    fuse: Callable[[Callable[..., Any], str], Callable[..., Any]] = _fuse  # one kernel of a body, as cupy.fuse


provider = StandInProvider()


class Named:
    """A composite under a name, as ``chainrule.testing.check_device`` reports a primitive by its name. A constant
    tensor it returns is given back as its array, as the primitives give arrays for arrays."""

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name, self.fn = name, fn

    def __call__(self, *args: Any) -> Any:
        from chainrule import Tensor

        out = self.fn(*args)
        return out.data if type(out) is Tensor and out.is_leaf and not out.requires_grad else out
