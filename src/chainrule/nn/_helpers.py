"""Small shared helpers of the layer modules: dtypes and PyTorch's int-or-tuple arguments."""

from __future__ import annotations

from typing import Any

import numpy as np


def float_dtype(dtype: Any) -> np.dtype[Any]:
    """A layer's parameter dtype: float32 unless given (PyTorch's default), and floating point."""
    result = np.dtype(np.float32 if dtype is None else dtype)
    if not np.issubdtype(result, np.floating):
        raise TypeError(f"layer parameters must have a floating-point dtype, got {result}")
    return result


def ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    """``3 -> (3, 3)``; a sequence of length ``n`` is kept (as a tuple of ints)."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    result = tuple(int(v) for v in value)
    if len(result) != n:
        raise ValueError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")
    return result


def check_device(device: Any) -> None:
    """Layers accept PyTorch's ``device=`` argument; chainrule's arrays live in host memory."""
    if device is not None and str(device).split(":")[0] != "cpu":
        raise ValueError(f"device {device!r} is not supported here: chainrule layers live on the CPU (device='cpu')")
