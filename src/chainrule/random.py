"""Random tensors from one module-level ``numpy.random.Generator``; ``seed(n)`` makes runs repeat exactly.

Draws are made on the host and moved to the device asked for, so a seed gives the same numbers on every device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import backend
from .creation import _dtype, _leaf, _shape
from .primitive import CompileError
from .tensor import Tensor, bottom

_generator = np.random.default_rng()


def seed(n: int) -> None:
    """Reset the generator behind ``randn``, ``rand`` and ``randint`` (and the library's initialisers).

    >>> import chainrule as cr
    >>> cr.random.seed(0); a = cr.randn(2)
    >>> cr.random.seed(0); b = cr.randn(2)
    >>> bool((a == b).data.all())
    True
    """
    global _generator
    _generator = np.random.default_rng(n)


def manual_seed(n: int) -> None:
    """PyTorch's name for ``seed``: reset the generator behind ``randn``, ``rand``, ``randint`` and the initialisers
    (it returns None, where PyTorch returns its generator: ``cr.random.generator()`` is chainrule's).

    >>> import chainrule as cr
    >>> cr.manual_seed(0); a = cr.randn(2)
    >>> cr.manual_seed(0); bool((a == cr.randn(2)).all())
    True
    """
    seed(n)


@contextlib.contextmanager
def replayed(state: dict[str, Any]) -> Iterator[None]:
    """Draw from a generator in ``state`` (a ``bit_generator.state`` saved earlier) inside the block, and put the
    generator in use back afterwards, untouched, even if the block called ``seed``: a recomputation replays the
    same draws (``checkpoint``) without moving the stream on."""
    global _generator
    current = _generator
    replay = np.random.Generator(type(current.bit_generator)())
    replay.bit_generator.state = state
    _generator = replay
    try:
        yield
    finally:
        _generator = current


def generator() -> np.random.Generator:
    """The generator in use (for code that needs draws NumPy offers but chainrule does not wrap)."""
    return _generator


def randn(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal draws: ``cr.randn(2, 3)``.

    >>> import chainrule as cr
    >>> cr.randn(2, 3).shape
    (2, 3)
    """
    return _drawn(_generator.standard_normal(_shape(shape)), dtype, requires_grad, device)


def rand(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform draws on [0, 1).

    >>> import chainrule as cr
    >>> x = cr.rand(5)
    >>> bool((x >= 0).data.all() and (x < 1).data.all())
    True
    """
    return _drawn(_generator.random(_shape(shape)), dtype, requires_grad, device)


def randint(low: int, high: int | None = None, size: Any = None, dtype: Any = np.int64, device: Any = None) -> Tensor:
    """Integers in ``[low, high)`` (or ``[0, low)``), as ``Generator.integers``.

    >>> import chainrule as cr
    >>> int(cr.randint(1, 2, size=()))
    1
    """
    return _drawn(_generator.integers(low, high, size=size, dtype=_dtype(dtype)), dtype, False, device)


def _drawn(draws: Any, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    """A new leaf of ``draws`` in ``dtype``. Inside cr.compile the draws are a traced box (drawn afresh at every
    replay), which the leaf holds; it cannot require grad there, since its gradient would stay inside the program."""
    dtype = _dtype(dtype)
    if isinstance(draws, Tensor):
        if requires_grad or (device is not None and backend.parse_device(device) != backend.parse_device("cpu")):
            raise CompileError("cr.compile: a random leaf made inside the compiled function is drawn on the host and "
                               "takes no requires_grad= (its gradient would stay inside the program): draw it "
                               "outside and pass it in")
        return Tensor._from_node(draws if draws.dtype == dtype else draws.astype(dtype), None)
    return _leaf(np.asarray(draws).astype(dtype, copy=False), requires_grad, device)


def _like(draw: Any, x: Any, dtype: Any, requires_grad: bool, device: Any) -> Tensor:
    """``draw(*shape, ...)`` with the shape, dtype and device of ``x`` unless given."""
    values = bottom(x)
    target = _dtype(dtype) or np.result_type(values)
    if target.kind != "f":
        raise TypeError(f"{draw.__name__}_like draws floating-point numbers, and x has dtype {target}: pass dtype=")
    return draw(*np.shape(values), dtype=target, requires_grad=requires_grad,
                device=device or backend.device_of(values))


def randn_like(x: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Standard normal draws with the shape (and dtype and device, unless given) of ``x``.

    >>> import numpy as np, chainrule as cr
    >>> cr.randn_like(cr.zeros(2, dtype=np.float32)).dtype
    dtype('float32')
    """
    return _like(randn, x, dtype, requires_grad, device)


def rand_like(x: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uniform draws on [0, 1) with the shape (and dtype and device, unless given) of ``x``."""
    return _like(rand, x, dtype, requires_grad, device)
