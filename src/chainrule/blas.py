"""SciPy's BLAS, where SciPy is installed, for the one update NumPy has no single call for: ``w += a * g`` written
into w in one pass (axpy), with no temporary. The optimizers' steps and cr.compile's replay of them both use it, so
eager and compiled updates round alike.

Without SciPy (core needs NumPy alone) the callers keep NumPy's two passes: ``a * g`` rounded, then the sum. BLAS
rounds once (a fused multiply-add on current machines), so the two differ in the last bit of some entries.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, SupportsFloat

import numpy as np

AXPY_BYTES = 1 << 16  # below this an array sits in cache and NumPy's two passes cost no more than BLAS's call


@functools.cache
def _blas() -> Any:
    """scipy.linalg.blas, or None without SciPy."""
    try:
        from scipy.linalg import blas
    except ImportError:
        return None
    return blas


def routine(dtype: np.dtype[Any]) -> Callable[..., Any] | None:
    """SciPy's axpy for ``dtype`` (saxpy for float32, daxpy for float64), or None: another dtype, or no SciPy."""
    lib = _blas()
    if lib is None or dtype.char not in "fd":
        return None
    return lib.saxpy if dtype.char == "f" else lib.daxpy


def takes(w: Any) -> bool:
    """Whether ``axpy`` can update ``w``: a writable, aligned, C-contiguous float32 or float64 host array in the
    machine's byte order, of AXPY_BYTES or more, with SciPy installed (SciPy would work on a copy of any other)."""
    if type(w) is not np.ndarray or w.dtype.char not in "fd" or w.nbytes < AXPY_BYTES or not w.dtype.isnative:
        return False
    flags = w.flags
    return flags.c_contiguous and flags.writeable and flags.aligned and _blas() is not None


def load_for(arrays: Iterable[Any]) -> None:
    """Import SciPy's BLAS now if one of ``arrays`` is one ``axpy`` will update: the import (some 12 MB resident)
    belongs with an optimizer's set-up, not with its first step."""
    any(takes(w) for w in arrays)


def axpy(a: SupportsFloat, g: Any, w: Any) -> bool:
    """``w += a * g`` into w's own memory by BLAS when ``takes(w)`` and g is a C-contiguous array of w's shape and
    dtype that does not overlap it; returns whether it did (False: nothing was done, the caller computes it).

    >>> w, g = np.zeros(1 << 14), np.ones(1 << 14)
    >>> done = axpy(-0.5, g, w)  # False without SciPy, w unchanged
    >>> float(w[0]) if done else -0.5
    -0.5
    """
    update = routine(w.dtype) if takes(w) else None
    if update is None or not (type(g) is np.ndarray and g.shape == w.shape and g.dtype == w.dtype
                              and g.flags.c_contiguous and g.flags.aligned and not np.may_share_memory(g, w)):
        return False
    a = float(a)
    if a == 0:  # BLAS returns at once for a 0 (w + 0 * nan would stay w): NumPy's product and sum say NaN
        return False
    y = w.reshape(-1)
    result = update(g.reshape(-1), y, a=a)
    if result is not y:  # SciPy worked on a copy (a layout the checks above did not foresee): its result into w
        y[...] = result
    return True
