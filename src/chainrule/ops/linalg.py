"""Linear algebra: products, contractions, traces, and the decompositions of ``cr.linalg``."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..primitive import Primitive, Sample
from . import samples as S
from .shape import reshape, transpose

__all__ = ["matmul"]


def _mT(x: Any) -> Any:
    """Swap the last two axes (the matrix transpose of a batch)."""
    n = x.ndim
    return transpose(x, (*range(n - 2), n - 1, n - 2))


def _matmul_vjp(g: Any, a: Any, b: Any, wrt_a: bool) -> Any:
    """Promote 1-d operands to matrices as matmul does, take the matrix rule, then drop the added axis again."""
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    a2 = reshape(a, (1, a.shape[0])) if a_vec else a
    b2 = reshape(b, (b.shape[0], 1)) if b_vec else b
    g2 = g
    if a_vec:
        g2 = reshape(g2, (*g2.shape[:-1], 1, g2.shape[-1]) if not b_vec else (1, 1))
    if b_vec:
        g2 = reshape(g2, (*g2.shape, 1)) if not a_vec else g2
    if wrt_a:
        c = matmul(g2, _mT(b2))
        return reshape(c, (*c.shape[:-2], c.shape[-1])) if a_vec else c
    c = matmul(_mT(a2), g2)
    return reshape(c, c.shape[:-1]) if b_vec else c


matmul = Primitive(
    "matmul",
    np.matmul,
    vjp=(lambda g, ans, a, b: _matmul_vjp(g, a, b, True), lambda g, ans, a, b: _matmul_vjp(g, a, b, False)),
    jvp=(lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t)),
    samples=lambda rng: [Sample((S.draw(rng, a), S.draw(rng, b))) for a, b in (
        ((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)), ((2, 2, 3), (3, 2)), ((1, 2, 3), (2, 3, 2)))],
)
