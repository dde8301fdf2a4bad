"""Fused kernels: a rule's elementwise passes as one GPU kernel, from one body that serves every device.

A *body* is a plain function ``body(xp, *arrays_and_scalars)`` written with operators and the array namespace
``xp``'s ufuncs only (no chainrule functions, no Python ``if`` on values, no reductions): what ``cupy.fuse`` can
compile. Its call site takes the fused path (``Kernel(body, name)(...)``) only when all its arrays are raw arrays of
a provider that fuses (``type(a) in backend.fused_types``: one failed set lookup on the host), and otherwise calls
the body itself with NumPy (a forward) or chainrule's functions (a rule, which then records under
``create_graph``). So NumPy arrays and the boxes of transforms (recording Tensors, Duals, vmap's and cr.compile's
boxes) compute what they computed before, bit for bit; a compiled program holds a rule's unfused operations (which
compile_passes fuses into runs of its own on a GPU), and a primitive's forward, one step of it, fuses when the program
replays on device arrays. On CuPy the body runs under ``cupy.fuse``, compiled once per argument dtypes and ranks
(CuPy's cache); on the test suite's stand-in it runs as written on the stand-in's arrays, as ``cupy.fuse`` runs a
body handed host arrays. Each signature's first call checks the kernel against the body's operations one by one
(``Kernel``), since cupy.fuse falls back, silently and for good, to its experimental second implementation when
its first one fails to trace a body, and that one types Python numbers strictly (float32 data would come back
float64).

What ``cupy.fuse`` takes (cupy/_core/fusion.pyx): device arrays (any rank, 0-d too: they broadcast), NumPy scalars
and Python numbers (a Python float next to a float32 array keeps the float32 loop, as NumPy's weak scalars do; a
NumPy scalar acts as a strong one, so pass it in the arrays' dtype); a tuple of arrays returned is several outputs;
an augmented assignment to an argument (``m *= beta1``) writes into that argument's memory, with or without a
result. On a GPU a kernel's numbers differ from the operations one by one by a few units in the last place (its
compiler contracts a multiply and an add into one rounding); on the stand-in they are the same bits.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import backend

__all__ = ["Kernel", "agrees", "fusing", "unfused"]

_FUSING = backend.fused_types


def fusing(*arrays: Any) -> bool:
    """Whether every one of ``arrays`` is a raw array of a provider that fuses kernels (False on the host)."""
    for a in arrays:
        if type(a) not in _FUSING:
            return False
    return True


class Kernel:
    """A body compiled, per provider, into one kernel the first time it is called on that provider's arrays.

    A call site checks the types itself and calls the body on the host (``body(np, ...)`` in a forward; in a rule
    ``body(chainrule's functions, ...)``, so that it records under ``create_graph``): written out, a check costs a
    type lookup where a generic dispatcher's ``*args`` would cost several times that on every host call.

    The first call of each signature (the arrays' dtypes and ranks, the numbers' types: what the compiled kernel is
    specialised to) runs the body's operations one by one, which give its answer, and the kernel on copies of the
    arguments, checked against them (``agrees``: the same dtypes and shapes, NaN and infinities where they are,
    values up to rounding, the arguments it updates in place too). Where they differ, or the kernel fails, a
    RuntimeWarning says so and that signature keeps to the body's operations one by one: a fusion library's own
    dtype rule (CuPy's fallback fusion types Python numbers strictly) or bug changes speed, never numbers.

    >>> import numpy as np
    >>> scaled_sum = Kernel(lambda xp, a, b, c: a * c + b, "scaled_sum")
    >>> a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    >>> scaled_sum(a, b, 0.5) if fusing(a, b) else scaled_sum.body(np, a, b, 0.5)   # on the host: the body
    array([3.5, 5. ])
    """

    __slots__ = ("_compiled", "body", "name")

    def __init__(self, body: Callable[..., Any], name: str) -> None:
        self.body, self.name = body, name
        self._compiled: dict[tuple[Any, ...], Callable[..., Any]] = {}

    def __call__(self, *args: Any) -> Any:
        """The kernel on ``args``: the arrays among them GPU arrays of one provider that fuses, the rest numbers
        (inside ``unfused()``, the body's operations one by one)."""
        provider = backend.provider_of(args[0])
        assert provider is not None and provider.fuse is not None, f"{self.name}: called on a host array"
        if type(args[0]) not in _FUSING:  # unfused(): a compiled program's kernel steps too
            return self.body(provider.xp, *args)
        # the provider's fuse in the key (alive as long as the entry): a stand-in in place of CuPy gets its own
        key = (provider.fuse, *((a.dtype, a.ndim) if type(a) in _FUSING else type(a) for a in args))
        compiled = self._compiled.get(key)
        if compiled is None:
            return self._first(provider, key, args)
        return compiled(*args)

    def _first(self, provider: backend.Provider, key: tuple[Any, ...], args: tuple[Any, ...]) -> Any:
        """The first call of a signature: the kernel compiled, and kept only where it gives its body's numbers."""
        assert provider.fuse is not None
        one_by_one = functools.partial(self.body, provider.xp)
        arrays = [i for i, a in enumerate(args) if type(a) in _FUSING]
        copies = list(args)
        copied: dict[int, Any] = {}  # (an array given twice stays one array)
        for i in arrays:
            copies[i] = copied.setdefault(id(args[i]), args[i].copy())
        # the values' scale: a contracted multiply-add differs by a fraction of an ulp of the product, which an
        # answer that cancels may not show
        scale = max((_largest(args[i]) for i in arrays), default=0.0)
        expected = one_by_one(*args)  # this call's answer (and its updates of the arguments), whatever comes next
        try:
            compiled = provider.fuse(one_by_one, self.name)
            why = _differs(_outputs(compiled(*copies)), _outputs(expected), scale) or _differs(
                [copies[i] for i in arrays], [args[i] for i in arrays], scale)
        except Exception as error:  # the fusion library could not compile or run it
            why = f"fails ({type(error).__name__}: {error})"
        if why is None:
            self._compiled[key] = compiled
        else:
            warnings.warn(f"chainrule.fused: kernel {self.name} on {provider.kind} {why} for arguments {key[1:]}; they "
                          "take its operations one by one from now on", RuntimeWarning, stacklevel=3)
            self._compiled[key] = one_by_one
        return expected

    def __repr__(self) -> str:
        return f"<fused kernel {self.name}>"


def _outputs(result: Any) -> list[Any]:
    return [] if result is None else list(result) if isinstance(result, tuple) else [result]


def _differs(got: list[Any], expected: list[Any], scale: float) -> str | None:
    """Why the kernel's arrays are not its body's (None where they agree)."""
    if len(got) != len(expected):
        return f"gives {len(got)} results where its body gives {len(expected)}"
    for i, (a, b) in enumerate(zip(got, expected)):
        if not agrees(a, b, scale):
            return (f"gives result {i} ({getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}) other than its "
                    f"body's ({b.dtype} {b.shape}): dtype, shape, NaN or infinities, or values beyond rounding")
    return None


def _largest(a: Any) -> float:
    """The largest finite magnitude in ``a`` (0 where there is none)."""
    if a.dtype.kind not in "fc" or not a.size:
        return 0.0
    xp = backend.namespace(a)
    return float(xp.abs(xp.where(xp.isfinite(a), a, 0)).max().item())


def agrees(got: Any, expected: Any, scale: float = 0.0) -> bool:
    """Whether ``got`` is ``expected`` up to rounding: the same dtype and shape, NaN and infinities where they are,
    and values within the square root of the dtype's epsilon times their scale (the largest of ``scale`` and the
    expected values' magnitudes: a GPU compiler contracts a multiply and an add into one rounding, whose difference
    a cancelling answer does not bound); exact for integers and booleans. What it is for is a kernel that computes
    something else (another dtype, a broadcast, an operation), not a few ulps.

    >>> import numpy as np
    >>> agrees(np.float32([1.0001, np.inf]), np.float32([1.0, np.inf])), agrees(np.ones(2), np.ones(2, "f"))
    (True, False)
    """
    if getattr(got, "dtype", None) != expected.dtype or got.shape != expected.shape:
        return False
    xp = backend.namespace(expected)
    if expected.dtype.kind not in "fc":
        return bool((got == expected).all().item())
    nan = xp.isnan(expected)
    inf = xp.isinf(expected) & ~nan  # (a complex inf + nan*j counts as NaN)
    if bool((nan != xp.isnan(got)).any().item()) or not bool((got[inf] == expected[inf]).all().item()):
        return False
    finite = ~(nan | inf)
    eps = float(np.finfo(expected.dtype).eps)
    tolerance = eps**0.5 * max(scale, _largest(expected), float(np.finfo(expected.dtype).tiny))
    gap = xp.where(finite, got, 0) - xp.where(finite, expected, 0)
    return bool((xp.abs(gap) <= tolerance).all().item())


@contextlib.contextmanager
def unfused() -> Iterator[None]:
    """Inside the block every rule takes its unfused path, also on a GPU (to compare the two, or time them).

    >>> import numpy as np
    >>> with unfused():
    ...     fusing(np.zeros(2))
    False
    """
    taken = set(_FUSING)
    _FUSING.clear()
    try:
        yield
    finally:
        _FUSING.clear()
        _FUSING.update(taken)
