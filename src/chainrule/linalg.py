"""``cr.linalg``: NumPy's ``numpy.linalg`` names, differentiable.

>>> import chainrule as cr
>>> a = cr.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
>>> cr.linalg.slogdet(a)[1].backward()
>>> a.grad  # d log|det A| / dA = A^-T
tensor([[ 0.6, -0.2],
        [-0.2,  0.4]])
"""

from __future__ import annotations

from typing import Any

from .ops.decompositions import (
    cholesky,
    cond,
    det,
    eig,
    eigh,
    eigvals,
    eigvalsh,
    inv,
    lstsq,
    matrix_norm,
    matrix_power,
    matrix_rank,
    norm,
    pinv,
    qr,
    slogdet,
    solve,
    svd,
    svdvals,
    tensorinv,
    tensorsolve,
    vector_norm,
)
from .ops.linalg import diagonal as _diagonal
from .ops.linalg import einsum, matmul, matrix_transpose, multi_dot, outer, tensordot
from .ops.linalg import trace as _trace
from .ops.linalg import vecdot as _vecdot
from .ops.shape import cross as _cross
from .primitive import as_array
from .spelling import both_spellings

__all__ = [
    "cholesky",
    "det",
    "diagonal",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "einsum",
    "inv",
    "matmul",
    "matrix_norm",
    "matrix_transpose",
    "norm",
    "outer",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "tensordot",
    "trace",
    "vector_norm",
]
__all__ += ["cond", "lstsq", "matrix_power", "matrix_rank", "multi_dot", "tensorinv", "tensorsolve"]
__all__ += ["cross", "vecdot"]


def diagonal(x: Any, offset: int = 0) -> Any:
    """The diagonals of a stack of matrices (the last two axes), as ``numpy.linalg.diagonal``.

    >>> import chainrule as cr
    >>> cr.linalg.diagonal(cr.tensor([[[1.0, 2.0], [3.0, 4.0]]]))
    tensor([[1., 4.]])
    """
    return _diagonal(x, offset, -2, -1)


def trace(x: Any, offset: int = 0) -> Any:
    """The traces of a stack of matrices (the last two axes), as ``numpy.linalg.trace``.

    >>> import chainrule as cr
    >>> cr.linalg.trace(cr.tensor([[[1.0, 2.0], [3.0, 4.0]]]))
    tensor([5.])
    """
    return _trace(x, offset, -2, -1)


@both_spellings
def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The dot products sum_i conj(x1_i) x2_i along ``axis``, as ``numpy.linalg.vecdot`` (``cr.vecdot``).

    >>> import chainrule as cr
    >>> cr.linalg.vecdot(cr.tensor([1.0j, 2.0]), cr.tensor([1.0j, 1.0]))
    tensor(3.+0.j, dtype=complex128)
    """
    return _vecdot(x1, x2, axis=axis)


@both_spellings
def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The cross products of the 3-vectors along ``axis``, as ``numpy.linalg.cross`` (``np.cross`` also takes
    2-vectors).

    >>> import chainrule as cr
    >>> cr.linalg.cross(cr.tensor([1.0, 0.0, 0.0]), cr.tensor([0.0, 1.0, 0.0]))
    tensor([0., 0., 1.])
    """
    x1, x2 = as_array(x1), as_array(x2)
    if x1.shape[axis] != 3 or x2.shape[axis] != 3:
        raise ValueError(f"linalg.cross: both inputs must hold 3-vectors along axis {axis}, not {x1.shape[axis]} "
                         f"and {x2.shape[axis]} entries")
    return _cross(x1, x2, axis=axis)
