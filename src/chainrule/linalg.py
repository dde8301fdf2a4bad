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
from .ops.linalg import _mT, einsum, matmul, multi_dot, outer, tensordot
from .ops.linalg import diagonal as _diagonal
from .ops.linalg import trace as _trace
from .primitive import as_array

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


def matrix_transpose(x: Any) -> Any:
    """Swap the last two axes, as ``numpy.linalg.matrix_transpose``.

    >>> import chainrule as cr
    >>> cr.linalg.matrix_transpose(cr.ones((2, 3, 4))).shape
    (2, 4, 3)
    """
    return _mT(as_array(x))
