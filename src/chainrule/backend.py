"""Where arrays live: NumPy's on the host ("cpu"), CuPy's on a GPU ("cuda:N"), through one handle per array.

Only primitive forwards touch an array library, and they ask this module which one an array belongs to
(``namespace(x)``: ``numpy`` or ``cupy``), so no rule is written twice. CuPy is imported the first time a "cuda"
device is asked for, never by ``import chainrule``; without it (or without a GPU) that request raises an error naming
the ``gpu`` extra. A *provider* is what a device kind needs: its array type and namespace, and the copies between
host and device. Tests put a stand-in provider in place of CuPy's (``use_provider``), so every place that would break
on a GPU breaks on a machine without one.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

__all__ = ["Provider", "array_types", "device_of", "fused_types", "is_available", "namespace", "parse_device",
           "provider_of", "to_device", "to_host", "use_provider"]


@dataclass(frozen=True)
class Provider:
    """What a device kind needs: its array type and NumPy-like namespace, and copies to and from the host."""

    kind: str
    xp: Any
    array_type: type
    device_count: Callable[[], int]
    from_host: Callable[[np.ndarray[Any, Any], int], Any]  # (host array, device index) -> device array
    to_host: Callable[[Any], np.ndarray[Any, Any]]
    device_index: Callable[[Any], int]
    # (body, kernel name) -> the body compiled into one kernel (CuPy's: cupy.fuse); None: the body's calls run one
    # by one. See chainrule.fused.
    fuse: Callable[[Callable[..., Any], str], Callable[..., Any]] | None = None


# The array types the call path takes as they are (a set, so a provider's type joins it in place: the hot path holds
# a reference to this very object). The namespace of each, and the provider behind each device type.
array_types: set[type] = {np.ndarray}
# The device array types whose provider fuses kernels: what a fused rule checks its arrays' types against (a set of
# its own, so the host's check is one lookup that fails; chainrule.fused.unfused() empties it for a while).
fused_types: set[type] = set()
_by_type: dict[type, Provider] = {}
_providers: dict[str, Provider] = {}

_DEVICE = re.compile(r"(cpu|cuda)(?::(\d+))?")


def parse_device(device: Any) -> tuple[str, int]:
    """``"cpu"``, ``"cuda"``, ``"cuda:1"`` (or anything that prints so, as a ``torch.device``) as (kind, index).

    >>> parse_device("cuda:1")
    ('cuda', 1)
    """
    match = _DEVICE.fullmatch(str(device))
    if match is None:
        raise ValueError(f"unknown device {device!r}: chainrule knows 'cpu' and 'cuda' (or 'cuda:N')")
    return match.group(1), int(match.group(2) or 0)


def is_device_string(text: str) -> bool:
    """Whether ``text`` names a device (as opposed to, say, a dtype such as "float32")."""
    return _DEVICE.fullmatch(text) is not None


def _cupy_provider() -> Provider:
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "device 'cuda' needs CuPy: pip install 'chainrule[gpu]' (CUDA 13; for CUDA 12 install cupy-cuda12x)"
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as error:  # CuPy raises its own CUDARuntimeError when there is no driver or device
        raise RuntimeError(f"device 'cuda': CuPy is installed but finds no GPU ({error}); "
                           "chainrule[gpu] needs an NVIDIA GPU and its driver") from None
    if count == 0:
        raise RuntimeError("device 'cuda': CuPy is installed but finds no GPU")

    def from_host(array: np.ndarray[Any, Any], index: int) -> Any:
        with cupy.cuda.Device(index):
            return cupy.asarray(array)

    def fuse(body: Callable[..., Any], name: str) -> Callable[..., Any]:
        return cupy.fuse(kernel_name=name)(body)  # a kernel name, since CUDA takes no "<lambda>"

    return Provider("cuda", cupy, cupy.ndarray, lambda: count, from_host, cupy.asnumpy, lambda a: a.device.id, fuse)


def provider(kind: str) -> Provider:
    """The provider of a device kind other than "cpu", made (and CuPy imported) the first time it is asked for."""
    found = _providers.get(kind)
    if found is None:
        found = _cupy_provider()
        _register(found)
    return found


def _register(p: Provider) -> None:
    _providers[p.kind] = p
    _by_type[p.array_type] = p
    array_types.add(p.array_type)
    if p.fuse is not None:
        fused_types.add(p.array_type)


@contextlib.contextmanager
def use_provider(p: Provider) -> Iterator[None]:
    """Serve ``p.kind`` devices with ``p`` inside the block (tests use a CuPy stand-in so)."""
    before = _providers.get(p.kind)
    _register(p)
    try:
        yield
    finally:
        del _by_type[p.array_type]
        array_types.discard(p.array_type)
        fused_types.discard(p.array_type)
        if before is None:
            del _providers[p.kind]
        else:
            _providers[p.kind] = before


def is_available(kind: str = "cuda") -> bool:
    """Whether devices of ``kind`` can be used here (CuPy installed and a GPU found, for "cuda")."""
    try:
        provider(kind)
    except RuntimeError:
        return False
    return True


def provider_of(x: Any) -> Provider | None:
    """The provider behind a device array (None for host arrays and anything else)."""
    return _by_type.get(type(x))


def namespace(x: Any) -> ModuleType:
    """The array library ``x`` belongs to: ``numpy`` for host arrays (and numbers), ``cupy`` for CuPy's."""
    p = _by_type.get(type(x))
    return np if p is None else p.xp


def namespace_of(*xs: Any) -> ModuleType:
    """The array library of the first device array among ``xs`` (NumPy when there is none)."""
    for x in xs:
        p = _by_type.get(type(x))
        if p is not None:
            return p.xp
    return np


def device_of(x: Any) -> str:
    """``"cpu"`` for host arrays and numbers, ``"cuda:N"`` for an array on GPU N."""
    p = _by_type.get(type(x))
    if p is None:  # a stand-in that knows its device (vmap's per-example view of a batch), else the host
        device = getattr(x, "device", "cpu")
        return device if isinstance(device, str) else "cpu"
    return f"{p.kind}:{p.device_index(x)}"


def to_device(x: Any, device: Any) -> Any:
    """``x`` (an array of any device, or anything NumPy reads) as an array on ``device``; itself if it is there."""
    kind, index = parse_device(device)
    here = _by_type.get(type(x))
    if kind == "cpu":
        return x if here is None and isinstance(x, np.ndarray) else (np.asarray(x) if here is None else here.to_host(x))
    target = provider(kind)
    if here is target and target.device_index(x) == index:
        return x
    host = np.asarray(x) if here is None else here.to_host(x)
    if index >= target.device_count():
        raise ValueError(f"device '{kind}:{index}' does not exist: {target.device_count()} found")
    return target.from_host(host, index)


def to_host(x: Any) -> np.ndarray[Any, Any]:
    """A host (NumPy) array of ``x``'s values: ``x`` itself when it is one, else a copy."""
    p = _by_type.get(type(x))
    return np.asarray(x) if p is None else p.to_host(x)
