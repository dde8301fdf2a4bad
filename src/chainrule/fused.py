"""Fused kernels: a rule's elementwise passes as one GPU kernel, from one body that serves every device.

A *body* is a plain function ``body(xp, *arrays_and_scalars)`` written with operators and the array namespace
``xp``'s ufuncs only (no chainrule functions, no Python ``if`` on values, no reductions): what ``cupy.fuse`` can
compile. Its call site takes the fused path (``Kernel(body, name)(...)``) only when all its arrays are raw arrays of
a provider that fuses (``type(a) in backend.fused_types``: one failed set lookup on the host), and otherwise calls
the body itself with NumPy (a forward) or chainrule's functions (a rule, which then records under
``create_graph``). So NumPy arrays and the boxes of transforms (recording Tensors, Duals, vmap's and cr.compile's
boxes) compute what they computed before, bit for bit; a compiled program holds a rule's unfused operations, and a
primitive's forward, one step of it, fuses when the program replays on device arrays. On CuPy the body runs under
``cupy.fuse``, compiled once per argument dtypes and ranks (CuPy's cache); on the test suite's stand-in it runs as
written on the stand-in's arrays, as ``cupy.fuse`` runs a body handed host arrays.

What ``cupy.fuse`` takes (cupy/_core/fusion.pyx): device arrays (any rank, 0-d too: they broadcast), NumPy scalars
and Python numbers (a Python float next to a float32 array keeps the float32 loop, as NumPy's weak scalars do; pass
other scalars in the arrays' dtype, since CuPy treats every scalar argument as weak); a tuple of arrays returned is
several outputs; an augmented assignment to an argument (``m *= beta1``) writes into that argument's memory.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

from . import backend

__all__ = ["Kernel", "fusing", "unfused"]

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

    >>> import numpy as np
    >>> scaled_sum = Kernel(lambda xp, a, b, c: a * c + b, "scaled_sum")
    >>> a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    >>> scaled_sum(a, b, 0.5) if fusing(a, b) else scaled_sum.body(np, a, b, 0.5)   # on the host: the body
    array([3.5, 5. ])
    """

    __slots__ = ("_compiled", "body", "name")

    def __init__(self, body: Callable[..., Any], name: str) -> None:
        self.body, self.name = body, name
        self._compiled: dict[type, Callable[..., Any]] = {}

    def __call__(self, *args: Any) -> Any:
        """The kernel on ``args``: the arrays among them GPU arrays of one provider that fuses, the rest numbers."""
        kind = type(args[0])
        compiled = self._compiled.get(kind)
        if compiled is None:
            provider = backend.provider_of(args[0])
            assert provider is not None and provider.fuse is not None, f"{self.name}: called on a host array"
            compiled = self._compiled[kind] = provider.fuse(functools.partial(self.body, provider.xp), self.name)
        return compiled(*args)

    def __repr__(self) -> str:
        return f"<fused kernel {self.name}>"


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
