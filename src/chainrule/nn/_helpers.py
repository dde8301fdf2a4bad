"""Small shared helpers of the layer modules: dtypes, devices, PyTorch's int-or-tuple arguments, and the checks that
let a layer's error name the layer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import backend

if TYPE_CHECKING:
    from .module import Module


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


# PyTorch's device strings: a device type, optionally with an index ("cuda:0")
_DEVICE = re.compile(r"(cpu|cuda|mps|xpu|xla|hip|hpu|ipu|mtia|meta|vulkan|lazy|privateuseone)(:\d+)?")


def is_device(value: Any) -> bool:
    """Whether ``value`` reads as a PyTorch device ("cpu", "cuda", "cuda:0", ...; a ``torch.device`` prints so)."""
    return isinstance(value, str) and _DEVICE.fullmatch(value) is not None


def check_device(device: Any, who: str) -> None:
    """Accept ``device=None``, "cpu", and "cuda" (or "cuda:N") where a GPU can be used; refuse anything else,
    naming ``who`` and what is missing."""
    if device is None:
        return
    text = str(device)
    if not is_device(text):
        raise ValueError(f"{who}: {device!r} is not a device: chainrule computes on 'cpu' and, with the gpu extra, "
                         "'cuda' (or 'cuda:N')")
    kind = text.split(":")[0]
    if kind == "cpu":
        return
    if kind != "cuda":
        raise ValueError(f"{who}: device {text!r} is not available: chainrule computes on 'cpu' and, with the gpu "
                         "extra, 'cuda'")
    try:
        backend.to_device(np.zeros(0), text)  # CuPy imported, the GPU found, the index checked
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"{who}: device {text!r} is not available: {error}") from None


def place(module: Module, device: Any) -> None:
    """A new layer's parameters and buffers moved to the ``device=`` it was made with (made on the host first, so
    that its initialisation draws the same numbers on every device)."""
    if device is not None:
        module.to(device)


# ---- input checks that name the layer --------------------------------------------------------------------------------
def layer_name(module: Module) -> str:
    """The layer as its ``repr`` shows it (``Linear(in_features=3, out_features=2, bias=True)``), or its class name
    where that ``repr`` lists submodules or takes several lines."""
    extra = module.extra_repr()
    if not extra or "\n" in extra:
        return module._get_name()
    return f"{module._get_name()}({extra})"


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of a Tensor, an ndarray or anything NumPy reads as an array."""
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def expect_ndim(who: str, what: str, x: Any, allowed: Sequence[int], layout: str) -> tuple[int, ...]:
    """``x``'s shape, after checking that it has one of the ``allowed`` numbers of dimensions (``layout`` says
    what they are, e.g. "(N, C, H, W) or unbatched (C, H, W)")."""
    shape = shape_of(x)
    if len(shape) not in allowed:
        raise ValueError(f"{who}: expected a {' or '.join(f'{d}-d' for d in allowed)} {what} {layout}, got "
                         f"{what} shape {shape}")
    return shape


def expect_size(who: str, what: str, shape: tuple[int, ...], axis: int, expected: int, meaning: str) -> None:
    """Refuse a ``shape`` whose ``axis`` is not ``expected`` long, saying which dimension (``meaning``) it is."""
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"{who}: {what} needs a {meaning} of size {expected}, got {what} shape {shape}")
    if shape[axis] != expected:
        raise ValueError(f"{who}: {what}'s {meaning} is {shape[axis]}, expected {expected} ({what} shape {shape})")


def check_pair(who: str, shape1: tuple[int, ...], shape2: tuple[int, ...], in1: int, in2: int) -> None:
    """Bilinear's two inputs: ``in1`` and ``in2`` features last, and the same leading (batch) dimensions."""
    expect_size(who, "input1", shape1, -1, in1, "last dimension")
    expect_size(who, "input2", shape2, -1, in2, "last dimension")
    if shape1[:-1] != shape2[:-1]:
        raise ValueError(f"{who}: input1 and input2 must have the same leading (batch) dimensions, got shapes "
                         f"{shape1} and {shape2}")


def index_array(x: Any, who: str) -> np.ndarray[Any, Any]:
    """The integer indices in ``x`` (a Tensor, an ndarray or a list) as a host array (a GPU's copied over: indices
    are small, and checked and turned into masks on the host)."""
    from ..tensor import values

    idx = backend.to_host(values(x))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{who}: indices must be integers, got an array of dtype {idx.dtype}")
    return idx


def check_rows(who: str, idx: np.ndarray[Any, Any], n: int) -> None:
    """Refuse an index outside [0, n): as PyTorch, a negative index is an error, not a count from the end."""
    idx = backend.to_host(idx)  # (a recorded check sees the indices on their device)
    bad = idx[(idx < 0) | (idx >= n)]
    if bad.size:
        raise IndexError(f"{who}: index {int(bad.flat[0])} is out of range for {n} embeddings: indices must lie in "
                         f"[0, {n - 1}]" + (" (a negative index does not count from the end)" if bad.min() < 0 else ""))
