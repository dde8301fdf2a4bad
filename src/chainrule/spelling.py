"""Both spellings of an axis argument: NumPy's ``axis=``/``keepdims=`` and PyTorch's ``dim=``/``keepdim=``.

Every function and method that takes an axis accepts either spelling (and ``dim1=``/``dim2=`` for ``axis1=``/
``axis2=``); passing both is a TypeError naming the function. Primitives respell where they already check their
keywords (``primitive._bind``, off the hot path); Python-level functions and Tensor methods through
``both_spellings``. Only the names are aliased, never PyTorch's semantics: ``x.max(dim=0)`` is NumPy's max (the
values), not PyTorch's (values, indices) pair. Also here: dtypes in both spellings (``as_dtype``), and the PyTorch
names chainrule spells otherwise, for the hints of a missing attribute (``missing``, ``TORCH_NAMES``).

>>> import chainrule as cr
>>> cr.mean(cr.tensor([[1.0, 2.0], [3.0, 5.0]]), dim=1, keepdim=True)
tensor([[1.5],
        [4. ]])
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Any, ParamSpec, TypeVar

import numpy as np

P = ParamSpec("P")
R = TypeVar("R")

# (NumPy's name, PyTorch's name) of each argument spelt both ways
SPELLINGS = (("axis", "dim"), ("keepdims", "keepdim"), ("axis1", "dim1"), ("axis2", "dim2"))


def renames(names: Collection[str]) -> dict[str, str]:
    """For a function taking the parameters ``names``: each other spelling, mapped to the one it takes."""
    out: dict[str, str] = {}
    for numpy_name, torch_name in SPELLINGS:
        if numpy_name in names and torch_name not in names:
            out[torch_name] = numpy_name
        elif torch_name in names and numpy_name not in names:
            out[numpy_name] = torch_name
    return out


def respell(who: str, kwargs: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """``kwargs`` with each other spelling (a key of ``names``) renamed to the function's own; both spellings of one
    argument is a TypeError in the name ``who``."""
    out = dict(kwargs)
    for other, own in names.items():
        if other in out:
            if own in out:
                raise TypeError(f"{who}() got both {own}= and {other}= (they are the same: pass one)")
            out[own] = out.pop(other)
    return out


def both_spellings(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` (which takes ``axis``/``keepdims``, or ``dim``/``keepdim``) also accepting the other spelling by keyword.

    The signature and docstring stay ``fn``'s own (``functools.wraps``), so static type checkers know ``fn``'s
    spelling alone. A call costs one more Python frame and, with keywords, one set test.
    """
    names = renames(inspect.signature(fn).parameters)
    if not names:
        raise TypeError(f"both_spellings: {fn.__qualname__} takes none of {', '.join(n for p in SPELLINGS for n in p)}")
    others = frozenset(names)
    who = fn.__qualname__  # Tensor.sum, mean

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if kwargs and not others.isdisjoint(kwargs):
            return fn(*args, **respell(who, kwargs, names))
        return fn(*args, **kwargs)

    return wrapper


# PyTorch's dtype names that NumPy reads otherwise (np.dtype("float") is float64, torch.float is float32)
_TORCH_DTYPES = {"float": "float32", "double": "float64", "half": "float16", "short": "int16", "int": "int32",
                 "long": "int64", "cfloat": "complex64", "cdouble": "complex128"}


def as_dtype(spec: Any) -> np.dtype[Any]:
    """The NumPy dtype that ``spec`` names: anything ``np.dtype`` reads (``np.float32``, ``"float32"``, ``"f4"``,
    ``"double"``), or PyTorch's names, prefixed (``"torch.float32"``, ``"torch.long"``) or as torch's own dtype
    objects, read by their name (torch itself is never imported). Unprefixed strings are NumPy's: ``"float"`` is
    float64 there, ``"torch.float"`` float32.

    >>> as_dtype("torch.long"), as_dtype("float32"), as_dtype(np.float16)
    (dtype('int64'), dtype('float32'), dtype('float16'))
    """
    name = str(spec) if type(spec).__module__ == "torch" else spec
    if isinstance(name, str) and name.startswith("torch."):
        name = _TORCH_DTYPES.get(name[6:], name[6:])
    try:
        return np.dtype(name)
    except TypeError:
        raise TypeError(f"{spec!r} names no dtype chainrule has: it takes NumPy's dtypes and names ('float32', "
                        "np.int64), and PyTorch's ('torch.float32', torch.long) where NumPy has the type") from None


# PyTorch's names that chainrule spells NumPy's way (the other habit), for the "did you mean" of a missing attribute
TORCH_NAMES = {"narrow": "getitem (x[a:b])", "masked_select": "getitem (x[mask])", "nonzero": "np.nonzero",
               "mm": "matmul", "bmm": "matmul", "masked_fill": "where", "numel": "size", "unbind": "list(x)"}


def missing(owner: str, name: str, names: Collection[str]) -> AttributeError:
    """The AttributeError for ``owner.name``, with a hint: chainrule's spelling of a PyTorch name, or the closest
    existing name (as the ``explain`` command suggests function names).

    >>> str(missing("Tensor", "sumn", ["sum", "mean"]))
    "'Tensor' object has no attribute 'sumn' (did you mean 'sum'?)"
    """
    import difflib

    if name in TORCH_NAMES:
        hint = f" (PyTorch's name; chainrule's is {TORCH_NAMES[name]!r})"
    else:
        close = difflib.get_close_matches(name, [n for n in names if not n.startswith("_")], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    return AttributeError(f"{owner!r} object has no attribute {name!r}{hint}")
