"""``cr.cuda``: whether a GPU can be used, and how many there are (CuPy is imported only when these are asked)."""

from __future__ import annotations

from . import backend


def is_available() -> bool:
    """Whether tensors can be put on a GPU here: CuPy (the ``gpu`` extra) is installed and finds one.

    >>> import chainrule as cr
    >>> isinstance(cr.cuda.is_available(), bool)
    True
    """
    return backend.is_available("cuda")


def device_count() -> int:
    """The number of GPUs CuPy finds (0 without CuPy or without a GPU).

    >>> import chainrule as cr
    >>> cr.cuda.device_count() >= 0
    True
    """
    return backend.provider("cuda").device_count() if is_available() else 0
