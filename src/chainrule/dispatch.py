"""NumPy's own functions on tensors: ``np.sin(t)``, ``np.sum(t, axis=0)``, ``np.linalg.solve(A, t)``, ``ndarray @ t``.

Tensor implements NumPy's dispatch protocols (``__array_ufunc__``, ``__array_function__``) by routing each NumPy
function to the chainrule function of the same name, so a user's plain NumPy code records gradients at every
transform level. A NumPy function without a chainrule rule computes on the data when nothing in its arguments is
being differentiated, and is refused, by name, when something is: it never drops a gradient silently. Tensor's own
operators (``t + u``) call the primitives directly and never come through here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .primitive import BatchValueError, Primitive, Traced, holds_box, operate
from .tensor import Tensor, bottom, values

Impl = Callable[..., Any]

# NumPy functions that read only shapes and dtypes, or have no derivative anywhere: fine on any value
_NO_DERIVATIVE = {np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj, np.may_share_memory,
                  np.shares_memory, np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero, np.isclose,
                  np.allclose, np.array_equal, np.array_equiv, np.searchsorted,
                  np.nanargmax, np.nanargmin, np.einsum_path, np.empty_like,
                  # truth values and tests of each entry: booleans
                  np.isin, np.signbit,
                  np.isreal, np.iscomplex, np.isneginf, np.isposinf, np.isnat,
                  # indices: integers read off the values or the shapes
                  np.lexsort, np.digitize, np.unravel_index, np.ravel_multi_index, np.ix_,
                  np.tril_indices_from, np.triu_indices_from, np.diag_indices_from, np.diag_indices, np.tril_indices,
                  np.triu_indices, np.indices, np.broadcast_shapes, np.mask_indices,
                  # windows of a given length
                  np.bartlett, np.blackman, np.hamming, np.hanning,
                  # integer and bit arithmetic: integers in, integers out (and, or, xor, invert are primitives)
                  np.bitwise_left_shift, np.bitwise_right_shift, np.bitwise_count, np.gcd, np.lcm, np.packbits,
                  np.unpackbits}
_SUBMODULES = ("numpy.linalg", "numpy.fft")  # named as linalg.solve, fft.fft in errors
_UFUNC_REDUCE = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}
_UFUNC_ACCUMULATE = {"add": "cumsum", "multiply": "cumprod"}


@functools.cache
def _tables() -> tuple[dict[np.ufunc, Impl], dict[Any, Impl]]:
    """NumPy's ufuncs and functions -> chainrule's functions of the same name (made on first use: the ops modules
    import Tensor, so they cannot be imported when this module is)."""
    from . import creation
    from . import fft as cr_fft
    from . import linalg as cr_linalg
    from .ops import elementwise, linalg, polynomial, reduce, shape, signal, sorting, statistics

    ufuncs: dict[np.ufunc, Impl] = {np.positive: lambda x: x}
    functions: dict[Any, Impl] = {}
    for module in (elementwise, reduce, statistics, polynomial, signal, shape, sorting, linalg, creation):
        for name in getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")]):
            ours, theirs = getattr(module, name), getattr(np, name, None)
            if isinstance(theirs, np.ufunc):
                ufuncs[theirs] = ours
            elif callable(theirs) and not isinstance(theirs, type):
                functions[theirs] = ours
    for namespace, ours_ in ((np.linalg, cr_linalg), (np.fft, cr_fft)):
        for name in ours_.__all__:
            theirs = getattr(namespace, name, None)
            if callable(theirs):
                functions[theirs] = getattr(ours_, name)
    functions[np.where] = _where
    functions[np.einsum] = _einsum
    functions[np.linalg.svd] = _svd
    return ufuncs, functions


def register_ufunc(ufunc: np.ufunc, impl: Impl) -> None:
    """Route another library's ufunc on tensors to ``impl`` (``chainrule.scipy.special`` routes SciPy's so)."""
    _tables()[0][ufunc] = impl


def _einsum(*operands: Any, optimize: Any = False, **kwargs: Any) -> Any:
    """``np.einsum``: ``optimize=`` only chooses an order of contraction, which the values do not depend on."""
    from .ops.linalg import einsum

    return einsum(*operands, **kwargs)


def _svd(a: Any, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """``np.linalg.svd`` with NumPy's default ``full_matrices=True``, which chainrule's reduced SVD cannot give for
    a matrix that is not square (its extra singular vectors have no gradient)."""
    from . import linalg

    shape = values(a).shape
    if compute_uv and full_matrices and shape[-1] != shape[-2]:
        raise TypeError("np.linalg.svd of a non-square tensor: chainrule differentiates the reduced SVD only; pass "
                        "full_matrices=False (or use cr.linalg.svd, whose default it is)")
    if hermitian:
        raise TypeError("np.linalg.svd(hermitian=True) on tensors is not supported: use cr.linalg.eigh")
    return linalg.svd(a, full_matrices=False, compute_uv=compute_uv)


def _where(condition: Any, *xy: Any) -> Any:
    """``np.where(c, x, y)`` picks (differentiably); ``np.where(c)`` is ``nonzero``, which has no derivative."""
    from .ops.elementwise import where

    return where(condition, *xy) if xy else _on_data(np.where, (condition,), {})


def _unwrapped(value: Any) -> Any:
    """``value`` with every Tensor replaced by its array (on its device), through tuples, lists and dicts. Only
    functions without a derivative, or called on nothing being differentiated, see these arrays."""
    if isinstance(value, Tensor):
        return values(value)
    if isinstance(value, (tuple, list)):
        return type(value)(_unwrapped(v) for v in value)
    if isinstance(value, dict):
        return {k: _unwrapped(v) for k, v in value.items()}
    return value


def _wrapped(value: Any) -> Any:
    """Array results as (constant) Tensors, through tuples and lists: tensors in, tensors out."""
    if isinstance(value, np.ndarray):
        return Tensor._from_node(value, None)
    if isinstance(value, (tuple, list)):
        return type(value)(_wrapped(v) for v in value)
    return value


def _on_data(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if func in _SHAPE_QUERIES:  # what any box answers without values (vmap's and cr.compile's hold none)
        return func(*(bottom(a) if isinstance(a, Tensor) else a for a in args), **kwargs)
    if func not in _VALUE_SHAPED and _traced(args):  # cr.compile: one step
        from .compile import opaque

        out = opaque(functools.partial(_one_array, func), args, kwargs)
        if out is not None:
            return out
    return _wrapped(func(*_unwrapped(args), **_unwrapped(kwargs)))


_SHAPE_QUERIES = frozenset({np.shape, np.ndim, np.size, np.result_type})  # answered by the box as it is
# functions whose results' shapes depend on the values: a compiled program could not rely on the traced ones
_VALUE_SHAPED = frozenset({np.nonzero, np.argwhere, np.flatnonzero, np.extract, np.compress, np.unique, np.bincount,
                           np.trim_zeros, np.unique_values, np.unique_counts, np.unique_inverse, np.unique_all})


def _one_array(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``func``'s single array, which cr.compile records (a tuple of results, or none, is left to be refused)."""
    out = func(*args, **kwargs)
    if isinstance(out, (tuple, list)) or out is None:
        raise BatchValueError(f"np.{func.__name__} gives several results (or none): its values decide")
    return out


def _traced(args: Any) -> bool:
    """Whether ``args`` hold a value cr.compile traces (a box, or a tensor holding one), through tuples and lists."""
    for a in args:
        if type(a) is Traced or (isinstance(a, Tensor) and type(a.data) is Traced):
            return True
        if isinstance(a, (tuple, list)) and _traced(a):
            return True
    return False


def _into(out: Any, ufunc: np.ufunc, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``ufunc(*inputs, out=out)`` where ``out`` is a box cr.compile traces: the result computed, recorded, and
    taken by the box (every name for it sees it), as a NumPy array takes what is written into it."""
    from .compile import update

    box = out if type(out) is Traced else out.data
    update(box, lambda _: ufunc(*inputs, **kwargs))
    return out


def _refuse(name: str) -> TypeError:
    import chainrule

    ours = name.split(".")[-1]
    instead = f"cr.{ours}" if hasattr(chainrule, ours) else "chainrule's functions (the README's API overview)"
    return TypeError(f"np.{name} has no chainrule rule, so its result cannot carry the gradient of a tensor being "
                     f"differentiated: use {instead}, or apply it to t.detach() to drop the gradient on purpose")


def _no_out(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs.get("out") is not None:
        raise TypeError(f"np.{name}(..., out=) on tensors: chainrule never writes into an array that a graph may "
                        f"hold; take the result instead (y = np.{name}(...))")


def array_ufunc(self: Tensor, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """``Tensor.__array_ufunc__``: ``np.sin(t)``, ``ndarray + t``, ``np.add.reduce(t)``, ... through chainrule."""
    ufuncs, _ = _tables()
    if not kwargs and method == "__call__":  # the commonest call (np.tanh(t), np.multiply(t, 0.9)): straight in
        primitive = ufuncs.get(ufunc)
        if type(primitive) is Primitive:
            return operate(primitive, *inputs) if len(inputs) == 2 else primitive(*inputs)
    name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
    out = kwargs.get("out")
    if out is not None and method == "__call__" and len(out) == 1 and _traced(out):
        return _into(out[0], ufunc, inputs, {k: v for k, v in kwargs.items() if k != "out"})
    _no_out(name, kwargs)
    impl: Impl | None = None
    if method == "__call__" and (not kwargs or (ufunc is np.vecdot and set(kwargs) <= {"axis"})):
        impl = ufuncs.get(ufunc)  # the gufunc vecdot's axis= is cr.vecdot's too
    elif method in ("reduce", "accumulate"):
        table = _UFUNC_REDUCE if method == "reduce" else _UFUNC_ACCUMULATE
        reduction = table.get(ufunc.__name__)
        if reduction is not None and set(kwargs) <= {"axis", "keepdims", "out", "initial", "where", "dtype"} and \
                len(inputs) == 1:
            from .ops import reduce as reductions

            axis = kwargs.get("axis", 0)  # a ufunc method reduces axis 0 unless told otherwise
            extra = {k: v for k, v in kwargs.items() if k not in ("axis", "out")}  # NumPy's names are ours
            return getattr(reductions, reduction)(inputs[0], axis=axis, **extra)
    if impl is not None:
        return impl(*inputs, **kwargs)
    no_derivative = method == "__call__" and ufunc in _NO_DERIVATIVE  # signbit, gcd...
    if not no_derivative and (holds_box(inputs) or holds_box(tuple(kwargs.values()))):
        raise _refuse(name)
    return _on_data(getattr(ufunc, method), inputs, kwargs)


def array_function(self: Tensor, func: Any, types: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``Tensor.__array_function__``: ``np.sum(t)``, ``np.concatenate([t, u])``, ``np.linalg.solve(A, t)``, ..."""
    _, functions = _tables()
    name = f"{func.__module__[6:]}.{func.__name__}" if func.__module__ in _SUBMODULES else func.__name__
    impl = functions.get(func)
    if impl is not None:
        _no_out(name, kwargs)
        return impl(*args, **kwargs)
    if func in _NO_DERIVATIVE or not (holds_box(args) or holds_box(tuple(kwargs.values()))):
        return _on_data(func, args, kwargs)
    raise _refuse(name)
