"""SciPy's ``scipy.linalg`` functions, differentiable: triangular, Cholesky, LU and banded solves, Sylvester
equations, the matrix exponential, square root and logarithm, block diagonals and the (generalized) symmetric
eigenproblem.

Most are composites of chainrule's differentiable linear algebra (``cr.linalg.solve``, ``cholesky``, ``eigh``,
``matmul``), so their derivatives, of every order and on either device, are those ops' rules. Five are primitives
with rules from the literature: ``solve_triangular`` (solve's rule on the triangle read), ``solve_sylvester`` (the
equation differentiated is another Sylvester equation), ``sqrtm`` (its Fréchet derivative solves
``S dS + dS S = dA``), ``logm`` (the block-triangular formula ``f([[A, E], [0, A]]) = [[f(A), L_f(A, E)], [0, f(A)]]``,
Mathias 1996) and the unpivoted LU under ``lu_factor``. Their forwards are SciPy's on the host and CuPy's dense
operations (short loops of them) on a GPU. Inputs are real; ``overwrite_*`` options are accepted and never overwrite;
``check_finite`` checks as SciPy does. The LU, banded, Sylvester, square root and logarithm functions take one matrix
(SciPy's batching is not followed there); the solves, expm and eigh take stacks.

>>> import chainrule as cr
>>> c = cr.scipy.linalg.cho_factor(cr.tensor([[4.0, 2.0], [2.0, 5.0]]))
>>> cr.scipy.linalg.cho_solve(c, cr.tensor([2.0, 1.0]))
tensor([0.5, 0. ])
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import scipy.linalg as _sl  # SciPy's package: absolute imports never find this one

from .. import backend
from ..linalg import cholesky, matrix_transpose, solve
from ..linalg import eigh as _eigh
from ..ops.elementwise import where
from ..ops.shape import concatenate, getitem, pad, reshape, tril, triu
from ..primitive import Example, Primitive, Sample, as_array, like
from ..tensor import bottom, values

__all__ = [
    "block_diag", "cho_factor", "cho_solve", "eigh", "expm", "logm", "lu_factor", "lu_solve", "solve_banded",
    "solve_sylvester", "solve_triangular", "sqrtm",
]

_T = matrix_transpose


# ---- checks --------------------------------------------------------------------------------------------------------
def _real(name: str, *xs: Any) -> None:
    for x in xs:
        if bottom(x).dtype.kind == "c":
            raise TypeError(f"scipy.linalg.{name}: complex matrices are not supported (only real ones)")


def _finite(name: str, check: bool, *xs: Any) -> None:
    """SciPy's ``check_finite``: a ValueError for infinities or NaNs in the inputs (not under ``cr.vmap``, where an
    example has no values to read)."""
    for x in xs:
        v = bottom(x)
        if check and not isinstance(v, Example) and not bool(backend.namespace(v).isfinite(v).all()):
            raise ValueError(f"scipy.linalg.{name}: array must not contain infs or NaNs")


def _square(name: str, a: Any, ndim: int | None = None) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2] or (ndim is not None and a.ndim != ndim):
        want = "a square matrix (n, n)" if ndim == 2 else "square matrices (..., n, n)"
        raise ValueError(f"scipy.linalg.{name} needs {want}, got shape {a.shape}")


def _prepare(name: str, check_finite: bool, *xs: Any) -> list[Any]:
    out = [as_array(x) for x in xs]
    _real(name, *out)
    _finite(name, check_finite, *out)
    return out


# ---- triangular, Cholesky and banded solves -----------------------------------------------------------------------
def _triangle(a: Any, lower: bool) -> Any:
    return tril(a) if lower else triu(a)


@functools.cache
def _device_solve_triangular() -> Any:
    """``cupyx.scipy.linalg.solve_triangular`` where CuPy is installed, else None."""
    try:
        from cupyx.scipy.linalg import solve_triangular as found
    except ImportError:
        return None
    return found


def _triangular_forward(a: Any, b: Any, lower: bool = False) -> Any:
    """LAPACK's triangular solve (SciPy's, batched and broadcast); on a GPU cuBLAS's, else a dense solve."""
    if type(a) is np.ndarray and type(b) is np.ndarray:
        # SciPy copies a C-ordered matrix to Fortran order (O(n^2) but slow); its transpose already is, so solve that
        if a.ndim == 2 and not a.flags.f_contiguous:
            return _sl.solve_triangular(a.T, b, trans=1, lower=not lower, check_finite=False)
        return _sl.solve_triangular(a, b, lower=lower, check_finite=False)
    xp = backend.namespace(a)
    t = xp.tril(a) if lower else xp.triu(a)
    found = _device_solve_triangular()
    if found is not None and a.ndim == b.ndim == 2:
        return found(t, b, lower=lower)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return xp.linalg.solve(xp.broadcast_to(t, (*batch, *a.shape[-2:])), xp.broadcast_to(b, (*batch, *b.shape[-2:])))


def _triangular_adjoint(g: Any, a: Any, lower: bool) -> Any:
    """``T^-T G``: the cotangent of b (T^T is triangular the other way)."""
    return _solve_triangular(_T(a), g, lower=not lower)


def _triangular_samples(rng: np.random.Generator) -> list[Sample]:
    pairs = (((3, 3), (3, 2), True), ((3, 3), (3, 1), False), ((2, 2, 2), (2, 3), True), ((2, 2), (2, 2, 1), False))
    return [Sample((np.eye(a[-1]) * 2 + 0.5 * rng.uniform(-1, 1, a), rng.uniform(-1, 1, b)), {"lower": lower})
            for a, b, lower in pairs]


# X = T^-1 B, T the triangle of A read: Bbar = T^-T Xbar, Abar = -(Bbar X^T) on that triangle; dX = T^-1 (dB - dT X)
_solve_triangular = Primitive(
    "solve_triangular",
    _triangular_forward,
    vjp=(lambda g, ans, a, b, lower=False: -_triangle(_triangular_adjoint(g, a, lower) @ _T(ans), lower),
         lambda g, ans, a, b, lower=False: _triangular_adjoint(g, a, lower)),
    jvp=(lambda t, ans, a, b, lower=False: _solve_triangular(a, -(_triangle(t, lower) @ ans), lower=lower),
         lambda t, ans, a, b, lower=False: _solve_triangular(a, t, lower=lower)),
    samples=_triangular_samples,
    reference=lambda a, b, lower=False: np.linalg.solve(np.tril(a) if lower else np.triu(a), b),
)


def solve_triangular(a: Any, b: Any, trans: int | str = 0, lower: bool = False, unit_diagonal: bool = False,
                     overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """The solution x of ``T x = b`` (``trans=1``/``'T'``/``2``/``'C'``: ``T^T x = b``), T the lower (upper)
    triangle of ``a``, its diagonal taken as ones when ``unit_diagonal``, as ``scipy.linalg.solve_triangular``.

    A primitive (LAPACK's O(n^2) substitution) whose rules are solve's restricted to the triangle read:
    ``bbar = T^-T xbar``, ``Tbar = -triangle(bbar x^T)``, ``dx = T^-1 (db - dT x)``. b is a vector (n,) or a stack of
    matrices (..., n, k); a may be a stack too.

    >>> import chainrule as cr
    >>> cr.scipy.linalg.solve_triangular(cr.tensor([[2.0, 0.0], [1.0, 1.0]]), cr.tensor([2.0, 3.0]), lower=True)
    tensor([1., 2.])
    """
    a, b = _prepare("solve_triangular", check_finite, a, b)
    _square("solve_triangular", a)
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise ValueError(f"scipy.linalg.solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    if b.ndim == 0 or b.shape[-1 if b.ndim == 1 else -2] != a.shape[-1]:
        raise ValueError(f"scipy.linalg.solve_triangular: b of shape {b.shape} does not fit a of shape {a.shape}")
    if unit_diagonal:
        a = where(like(np.eye(a.shape[-1], dtype=bool), a), like(np.ones((), a.dtype), a), a)
    if trans not in (0, "N"):
        a, lower = _T(a), not lower
    if b.ndim == 1:
        return reshape(_solve_triangular(a, reshape(b, (b.shape[0], 1)), lower=bool(lower)), b.shape)
    return _solve_triangular(a, b, lower=bool(lower))


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> tuple[Any, bool]:
    """``(c, lower)``: the Cholesky factor of a symmetric positive-definite matrix (upper U with ``A = U^T U``, or
    lower L with ``A = L L^T``), for ``cho_solve``, as ``scipy.linalg.cho_factor``.

    Only that triangle of ``a`` is read. Unlike SciPy, the other triangle of ``c`` holds zeros (SciPy leaves
    arbitrary entries there). The gradient is Murray's (2016) Cholesky rule, ``cr.linalg.cholesky``'s.

    >>> import chainrule as cr
    >>> cr.scipy.linalg.cho_factor(cr.tensor([[4.0, 2.0], [2.0, 5.0]]), lower=True)
    (tensor([[2., 0.],
            [1., 2.]]), True)
    """
    (a,) = _prepare("cho_factor", check_finite, a)
    _square("cho_factor", a)
    return cholesky(a, upper=not lower), bool(lower)


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False, check_finite: bool = True) -> Any:
    """The solution x of ``A x = b`` from ``cho_factor(A)``'s ``(c, lower)``, as ``scipy.linalg.cho_solve``: two
    triangular solves, ``L y = b`` and ``L^T x = y``, each differentiated by solve's rule through the factor (whose
    own gradient flows on through Cholesky's rule when c came from ``cho_factor``).

    >>> import chainrule as cr
    >>> c = cr.scipy.linalg.cho_factor(cr.tensor([[4.0, 2.0], [2.0, 5.0]]))
    >>> cr.scipy.linalg.cho_solve(c, cr.tensor([[4.0], [2.0]]))
    tensor([[1.],
            [0.]])
    """
    c, lower = c_and_lower
    c, b = _prepare("cho_solve", check_finite, c, b)
    y = solve_triangular(c, b, trans=0 if lower else 1, lower=lower, check_finite=False)
    return solve_triangular(c, y, trans=1 if lower else 0, lower=lower, check_finite=False)


# ---- LU ----------------------------------------------------------------------------------------------------------
def _eliminate(a: Any, pivot: bool) -> tuple[Any, np.ndarray[Any, Any]]:
    """Gaussian elimination in place of a copy (the packed L - I + U), with partial pivoting or without, and
    LAPACK's pivot indices: CuPy's dense operations, one rank-1 update a column, where SciPy's LAPACK is not used."""
    xp = backend.namespace(a)
    lu, n = a.copy(), a.shape[0]
    piv = np.arange(n, dtype=np.int32)
    for k in range(n):
        if pivot:
            piv[k] = p = k + int(backend.to_host(xp.argmax(xp.abs(lu[k:, k]))))
            if p != k:
                lu[[k, p]] = lu[[p, k]]
        lu[k + 1:, k] /= lu[k, k]
        lu[k + 1:, k + 1:] -= lu[k + 1:, k:k + 1] * lu[k:k + 1, k + 1:]
    return lu, piv


def _pivots(a: Any) -> np.ndarray[Any, Any]:
    """LAPACK's pivot indices of ``a``'s LU with partial pivoting (row k swapped with row piv[k], in turn)."""
    return _sl.lu_factor(a, check_finite=False)[1] if type(a) is np.ndarray else _eliminate(a, pivot=True)[1]


def _unpivoted_forward(a: Any) -> Any:
    """The packed LU of rows already in pivoting order: LAPACK's, whose own pivoting then swaps nothing."""
    if type(a) is np.ndarray:
        lu, piv = _sl.lu_factor(a, check_finite=False)
        if (piv == np.arange(len(piv))).all():
            return lu
    return _eliminate(a, pivot=False)[0]


def _factors(lu: Any) -> tuple[Any, Any]:
    """Unit lower L and upper U from the packed ``L - I + U``."""
    return tril(lu, -1) + like(np.eye(lu.shape[-1], dtype=bottom(lu).dtype), lu), triu(lu)


def _unpivoted_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``Abar = L^-T (tril(L^T Lbar, -1) + triu(Ubar U^T)) U^-T`` with ``Lbar, Ubar`` the two triangles of the
    cotangent (the adjoint of the JVP below)."""
    lower, upper = _factors(ans)
    m = tril(_T(lower) @ g, -1) + triu(g @ _T(upper))
    return _T(solve(upper, _T(solve(_T(lower), m))))


def _unpivoted_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``F = L^-1 dA U^-1``; ``dL = L tril(F, -1)``, ``dU = triu(F) U`` (from ``dA = dL U + L dU``)."""
    lower, upper = _factors(ans)
    f = _T(solve(_T(upper), _T(solve(lower, t))))
    return lower @ tril(f, -1) + triu(f) @ upper


_lu_unpivoted = Primitive(
    "lu_unpivoted",
    _unpivoted_forward,
    vjp=_unpivoted_vjp,
    jvp=_unpivoted_jvp,
    # columns diagonally dominant, so partial pivoting keeps the order and SciPy's lu_factor is the reference
    samples=lambda rng: [Sample((4 * np.eye(n) + rng.uniform(-1, 1, (n, n)),)) for n in (3, 2, 1)],
    reference=lambda a: _sl.lu_factor(a)[0],
)


def _permutation(piv: Any) -> np.ndarray[Any, Any]:
    """The rows of ``P^T A`` (``A = P L U``) from LAPACK's sequential swaps."""
    perm = np.arange(len(piv))
    for k, p in enumerate(backend.to_host(piv).tolist()):
        perm[[k, p]] = perm[[p, k]]
    return perm


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> tuple[Any, np.ndarray[Any, Any]]:
    """``(lu, piv)``: the LU decomposition with partial pivoting ``A = P L U`` packed as SciPy's (``L - I + U``,
    LAPACK's pivot indices, a host int32 array), for ``lu_solve``, as ``scipy.linalg.lu_factor``.

    The pivots are read off the values (piecewise constant: no gradient); the rows of A so ordered are factored
    without pivoting, whose derivative is ``dL = L tril(F, -1)``, ``dU = triu(F) U`` with ``F = L^-1 dA U^-1``
    (e.g. de Hoog, Anderssen & Lukas 2011), and its adjoint ``L^-T (tril(L^T Lbar, -1) + triu(Ubar U^T)) U^-T``.

    >>> import chainrule as cr
    >>> lu, piv = cr.scipy.linalg.lu_factor(cr.tensor([[1.0, 2.0], [2.0, 2.0]]))
    >>> lu, piv
    (tensor([[2. , 2. ],
            [0.5, 1. ]]), array([1, 1], dtype=int32))
    """
    (a,) = _prepare("lu_factor", check_finite, a)
    _square("lu_factor", a, 2)
    piv = _pivots(values(a))  # (inside vmap or cr.compile, which have no values yet for the pivots: refused by name)
    return _lu_unpivoted(getitem(a, _permutation(piv))), piv


def lu_solve(lu_and_piv: tuple[Any, Any], b: Any, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Any:
    """The solution x of ``A x = b`` (``trans=1`` or ``2``: ``A^T x = b``) from ``lu_factor(A)``'s ``(lu, piv)``, as
    ``scipy.linalg.lu_solve``: the rows of b permuted, then two triangular solves, each differentiated by solve's rule
    through the factors (and on through lu_factor's rule when lu came from it).

    >>> import chainrule as cr
    >>> lu_piv = cr.scipy.linalg.lu_factor(cr.tensor([[1.0, 2.0], [2.0, 2.0]]))
    >>> cr.scipy.linalg.lu_solve(lu_piv, cr.tensor([3.0, 4.0]))
    tensor([1., 1.])
    """
    lu, piv = lu_and_piv
    lu, b = _prepare("lu_solve", check_finite, lu, b)
    _square("lu_solve", lu, 2)
    if trans not in (0, 1, 2):
        raise ValueError(f"scipy.linalg.lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    if b.shape[0] != lu.shape[0]:
        raise ValueError(f"scipy.linalg.lu_solve: b's first axis must have length {lu.shape[0]}, got shape {b.shape}")
    perm = _permutation(piv)
    if trans == 0:
        y = solve_triangular(lu, getitem(b, perm), lower=True, unit_diagonal=True, check_finite=False)
        return solve_triangular(lu, y, check_finite=False)
    y = solve_triangular(lu, b, trans=1, check_finite=False)
    x = solve_triangular(lu, y, trans=1, lower=True, unit_diagonal=True, check_finite=False)
    return getitem(x, np.argsort(perm))


def solve_banded(l_and_u: tuple[int, int], ab: Any, b: Any, overwrite_ab: bool = False, overwrite_b: bool = False,
                 check_finite: bool = True) -> Any:
    """The solution x of ``A x = b`` for a banded A given in LAPACK's diagonal-ordered form ``ab[u + i - j, j] =
    A[i, j]`` (l diagonals below, u above), as ``scipy.linalg.solve_banded``.

    A is gathered into a dense matrix and solved (O(n^3), where SciPy's banded LU is O(n (l + u)^2)), so the gradient
    is solve's, gathered back onto the band (the entries of ``ab`` outside the band get zero, as they are not read).

    >>> import chainrule as cr
    >>> ab = cr.tensor([[0.0, 1.0, 1.0], [2.0, 2.0, 2.0], [1.0, 1.0, 0.0]])  # tridiagonal: 1, 2, 1
    >>> cr.scipy.linalg.solve_banded((1, 1), ab, cr.tensor([3.0, 4.0, 3.0]))
    tensor([1., 1., 1.])
    """
    nlower, nupper = (int(k) for k in l_and_u)
    ab, b = _prepare("solve_banded", check_finite, ab, b)
    if ab.ndim != 2 or ab.shape[0] != nlower + nupper + 1 or nlower < 0 or nupper < 0:
        raise ValueError(f"scipy.linalg.solve_banded: ab must have shape (l + u + 1, n) = ({nlower + nupper + 1}, n) "
                         f"for (l, u) = {l_and_u}, got {ab.shape}")
    n = ab.shape[1]
    i, j = np.indices((n, n))
    k = nupper + i - j
    band = (k >= 0) & (k <= nlower + nupper)
    dense = where(like(band, ab), getitem(ab, (np.clip(k, 0, nlower + nupper), j)), like(np.zeros((), ab.dtype), ab))
    return solve(dense, b)


# ---- Sylvester equations -------------------------------------------------------------------------------------------
def _sylvester_forward(a: Any, b: Any, q: Any) -> Any:
    """SciPy's Bartels-Stewart on the host. On a GPU (no Schur decomposition there) the equation's Kronecker form
    ``(A (x) I + I (x) B^T) vec(X) = vec(Q)``, one dense solve of order n m: for the small systems it suits."""
    if type(a) is np.ndarray:
        return _sl.solve_sylvester(a, b, q)
    xp = backend.namespace(a)
    n, m = q.shape
    k = xp.kron(a, xp.eye(m, dtype=a.dtype)) + xp.kron(xp.eye(n, dtype=a.dtype), b.T)
    return xp.linalg.solve(k, q.reshape(n * m, 1)).reshape(n, m)


def _sylvester_samples(rng: np.random.Generator) -> list[Sample]:
    """A's eigenvalues near 2, -B's near -1: the equation stays well-conditioned."""
    out = []
    for n, m in ((3, 3), (2, 3), (3, 1)):
        a = 2 * np.eye(n) + 0.3 * rng.uniform(-1, 1, (n, n))
        b = np.eye(m) + 0.3 * rng.uniform(-1, 1, (m, m))
        out.append(Sample((a, b, rng.uniform(-1, 1, (n, m)))))
    return out


def _sylvester_adjoint(g: Any, a: Any, b: Any) -> Any:
    """Y with ``A^T Y + Y B^T = G``: the cotangent of Q, from which A's and B's follow."""
    return _solve_sylvester(_T(a), _T(b), g)


# A X + X B = Q, differentiated: A dX + dX B = dQ - dA X - X dB. Its adjoint: Qbar = Y (A^T Y + Y B^T = Xbar),
# Abar = -Y X^T, Bbar = -X^T Y (Bartels & Stewart 1972 for the solve; the rules are the equation's own).
_solve_sylvester = Primitive(
    "solve_sylvester",
    _sylvester_forward,
    vjp=(lambda g, ans, a, b, q: -(_sylvester_adjoint(g, a, b) @ _T(ans)),
         lambda g, ans, a, b, q: -(_T(ans) @ _sylvester_adjoint(g, a, b)),
         lambda g, ans, a, b, q: _sylvester_adjoint(g, a, b)),
    jvp=(lambda t, ans, a, b, q: _solve_sylvester(a, b, -(t @ ans)),
         lambda t, ans, a, b, q: _solve_sylvester(a, b, -(ans @ t)),
         lambda t, ans, a, b, q: _solve_sylvester(a, b, t)),
    samples=_sylvester_samples,
    reference=_sl.solve_sylvester,
)


def solve_sylvester(a: Any, b: Any, q: Any) -> Any:
    """The solution X of the Sylvester equation ``A X + X B = Q``, as ``scipy.linalg.solve_sylvester``.

    Differentiating the equation gives another one, ``A dX + dX B = dQ - dA X - X dB``; its adjoint gives
    ``Qbar = Y`` with ``A^T Y + Y B^T = Xbar``, ``Abar = -Y X^T``, ``Bbar = -X^T Y``. Unique when A and -B share no
    eigenvalue.

    >>> import chainrule as cr
    >>> cr.scipy.linalg.solve_sylvester(cr.tensor([[2.0]]), cr.tensor([[3.0]]), cr.tensor([[10.0]]))
    tensor([[2.]])
    """
    a, b, q = _prepare("solve_sylvester", True, a, b, q)
    _square("solve_sylvester", a, 2)
    _square("solve_sylvester", b, 2)
    if q.shape != (a.shape[0], b.shape[0]):
        raise ValueError(f"scipy.linalg.solve_sylvester: q must have shape {(a.shape[0], b.shape[0])} for a of shape "
                         f"{a.shape} and b of shape {b.shape}, got {q.shape}")
    return _solve_sylvester(a, b, q)


# ---- matrix functions ----------------------------------------------------------------------------------------------
# Higham (2005): the [13/13] Pade approximant's coefficients and the 1-norm up to which it is exact in float64
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0, 129060195264000.0,
           10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0, 40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def expm(A: Any) -> Any:
    """The matrix exponential ``e^A`` (of each matrix of a stack), as ``scipy.linalg.expm``.

    Higham's (2005) scaling and squaring with the [13/13] Padé approximant, written with chainrule's ops, so its
    derivative is the approximant's, which is how Al-Mohy & Higham (2009) compute the Fréchet derivative
    ``L(A, E)``: exact to rounding, of every order, on either device. (The scaling is chosen from the values and held
    constant, as there.)

    >>> import chainrule as cr
    >>> cr.scipy.linalg.expm(cr.tensor([[0.0, 1.0], [0.0, 0.0]]))
    tensor([[1., 1.],
            [0., 1.]])
    """
    (a,) = _prepare("expm", True, A)
    _square("expm", a)
    n = a.shape[-1]
    values = bottom(a)
    norm = float(backend.namespace(values).abs(values).sum(axis=-2).max()) if values.size else 0.0
    squarings = max(0, math.ceil(math.log2(norm / _THETA13))) if norm > 0 else 0
    a = a * (0.5 ** squarings)
    eye = like(np.eye(n, dtype=values.dtype), a)
    b = _PADE13
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2 + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 + b[0] * eye
    r = solve(v - u, v + u)
    for _ in range(squarings):
        r = r @ r
    return r


def _near_identity_samples(rng: np.random.Generator) -> list[Sample]:
    """Matrices with eigenvalues near 2: far from the negative real axis, where the root and logarithm branch."""
    return [Sample((2 * np.eye(n) + 0.4 * rng.uniform(-1, 1, (n, n)),)) for n in (3, 2, 1)]


def _real_result(name: str, a: Any, out: Any) -> Any:
    """SciPy's answer for a real matrix, refused where it is complex (a real matrix with no real ``name``)."""
    if out.dtype.kind == "c":
        raise ValueError(f"scipy.linalg.{name}: this real matrix has no real {name[:-1]} (an eigenvalue on the "
                         "closed negative real axis); complex matrices are not supported")
    return out.astype(a.dtype, copy=False)


def _denman_beavers(a: Any) -> Any:
    """The principal square root by the Denman-Beavers iteration (Y -> (Y + Z^-1)/2, Z -> (Z + Y^-1)/2, from
    Y = A, Z = I), with CuPy's dense operations: where SciPy's Schur method is not available."""
    xp = backend.namespace(a)
    y, z = a, xp.eye(a.shape[-1], dtype=a.dtype)
    for _ in range(100):
        y, z = 0.5 * (y + xp.linalg.inv(z)), 0.5 * (z + xp.linalg.inv(y))
        if float(xp.abs(y @ y - a).max()) <= 64 * np.finfo(a.dtype).eps * max(float(xp.abs(a).max()), 1.0):
            return y
    raise ValueError("scipy.linalg.sqrtm: the square-root iteration did not converge (an eigenvalue on or near "
                     "the closed negative real axis?)")


def _sqrtm_forward(a: Any) -> Any:
    if type(a) is np.ndarray:
        return _real_result("sqrtm", a, _sl.sqrtm(a.astype(np.float64)))  # float32: SciPy's accuracy, not its warning
    return _denman_beavers(a)


# S^2 = A, so S dS + dS S = dA: dS = sylvester(S, S, dA), and its adjoint Abar = sylvester(S^T, S^T, Sbar)
_sqrtm = Primitive(
    "sqrtm",
    _sqrtm_forward,
    vjp=lambda g, ans, a: _solve_sylvester(_T(ans), _T(ans), g),
    jvp=lambda t, ans, a: _solve_sylvester(ans, ans, t),
    samples=_near_identity_samples,
    reference=_sl.sqrtm,
)


def sqrtm(A: Any) -> Any:
    """The principal square root S of a real matrix (``S @ S = A``), as ``scipy.linalg.sqrtm``.

    Its Fréchet derivative solves the Sylvester equation ``S dS + dS S = dA`` (Higham 2008, *Functions of
    Matrices*, §6.1), and the adjoint ``S^T Abar + Abar S^T = Sbar``: both through ``solve_sylvester``, so every order
    follows. A real matrix with an eigenvalue on the closed negative real axis (no real root) is refused.

    >>> import chainrule as cr
    >>> cr.scipy.linalg.sqrtm(cr.tensor([[4.0, 0.0], [0.0, 9.0]]))
    tensor([[2., 0.],
            [0., 3.]])
    """
    (a,) = _prepare("sqrtm", True, A)
    _square("sqrtm", a, 2)
    return _sqrtm(a)


def _log_by_square_roots(a: Any) -> Any:
    """Inverse scaling and squaring (Kenney & Laub 1989) with CuPy's dense operations: square roots until
    ``|A - I| < 1/4``, then ``log(A) = 2 atanh((A - I)(A + I)^-1)`` as its series, times ``2^k``."""
    xp = backend.namespace(a)
    eye = xp.eye(a.shape[-1], dtype=a.dtype)
    roots = 0
    while float(xp.abs(a - eye).sum(axis=0).max()) >= 0.25:
        if roots == 60:
            raise ValueError("scipy.linalg.logm: the square roots did not approach I (a singular matrix?)")
        a, roots = _denman_beavers(a), roots + 1
    z = xp.linalg.solve(a + eye, a - eye)
    z2, term, out = z @ z, z, z
    for j in range(1, 40):
        term = term @ z2
        out = out + term / (2 * j + 1)
    return 2.0 ** (roots + 1) * out


def _logm_forward(a: Any) -> Any:
    if type(a) is np.ndarray:
        return _real_result("logm", a, _sl.logm(a.astype(np.float64)))
    return _log_by_square_roots(a)


def _norm1(x: Any) -> float:
    """The 1-norm of x's values (1 under ``cr.vmap``, where an example has none to read)."""
    v = bottom(x)
    return 1.0 if isinstance(v, Example) else float(backend.namespace(v).abs(v).sum(axis=-2).max())


def _upper_right(a: Any, e: Any) -> Any:
    """``logm([[A, E], [0, A]])``'s upper-right block: the Fréchet derivative ``L(A, E)`` of the logarithm. L is
    linear in E, so E is scaled to A's size first: a far larger E would swamp the block's logarithm."""
    n = a.shape[-1]
    size = _norm1(e)
    scale = _norm1(a) / size if size > 0 else 1.0
    block = concatenate([concatenate([a, e * scale], axis=-1), concatenate([a * 0.0, a], axis=-1)], axis=-2)
    return getitem(_logm(block), (slice(0, n), slice(n, 2 * n))) * (1.0 / scale)


# Mathias (1996): f([[A, E], [0, A]]) = [[f(A), L_f(A, E)], [0, f(A)]]; for a real function L_f(A, .)'s adjoint is
# L_f(A^T, .) (Higham 2008, §3.6)
_logm = Primitive(
    "logm",
    _logm_forward,
    vjp=lambda g, ans, a: _upper_right(_T(a), g),
    jvp=lambda t, ans, a: _upper_right(a, t),
    samples=_near_identity_samples,
    reference=_sl.logm,
)


def logm(A: Any) -> Any:
    """The principal logarithm of a real matrix (``expm(logm(A)) = A``), as ``scipy.linalg.logm``.

    Its Fréchet derivative is the upper-right block of ``logm([[A, E], [0, A]])`` (Mathias 1996; Higham 2008,
    *Functions of Matrices*, Thm 3.6 and §11.8), and the adjoint ``L(A^T, Xbar)``: each a logm of twice the size,
    so every order follows. A real matrix with no real logarithm is refused.

    >>> import chainrule as cr
    >>> cr.scipy.linalg.logm(cr.tensor([[1.0, 1.0], [0.0, 1.0]]))
    tensor([[0., 1.],
            [0., 0.]])
    """
    (a,) = _prepare("logm", True, A)
    _square("logm", a, 2)
    return _logm(a)


# ---- block diagonals and the symmetric eigenproblem ----------------------------------------------------------------
def block_diag(*arrs: Any) -> Any:
    """The block-diagonal matrix with ``arrs`` on its diagonal (1-d arrays as rows, numbers as 1 x 1), zeros
    elsewhere, as ``scipy.linalg.block_diag``; the gradient of each block is its part of the cotangent.

    >>> import chainrule as cr
    >>> cr.scipy.linalg.block_diag(cr.tensor([[1.0, 2.0]]), 3.0)
    tensor([[1., 2., 0.],
            [0., 0., 3.]])
    """
    if not arrs:
        return np.empty((1, 0))
    blocks = []
    for x in arrs:
        x = as_array(x)
        if x.ndim > 2:
            raise ValueError(f"scipy.linalg.block_diag: arguments must have two or fewer dimensions, got {x.shape}")
        blocks.append(reshape(x, (1, -1)) if x.ndim < 2 else x)
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        rows.append(pad(b, ((0, 0), (left, width - left - b.shape[1]))))
        left += b.shape[1]
    return concatenate(rows, axis=0)


_DRIVERS = {None, "ev", "evd", "evr", "evx", "gv", "gvd", "gvx"}


def eigh(a: Any, b: Any = None, *, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, type: int = 1, check_finite: bool = True, subset_by_index: Any = None,
         subset_by_value: Any = None, driver: str | None = None) -> Any:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, or of the generalized problem with a symmetric
    positive-definite ``b`` (``type`` 1: ``A v = w B v``; 2: ``A B v = w v``; 3: ``B A v = w v``), as
    ``scipy.linalg.eigh``. Only the lower (``lower=False``: upper) triangles are read.

    The generalized problem is reduced through ``B = L L^T`` to ``C = L^-1 A L^-T`` (types 2, 3: ``L^T A L``), whose
    eigenvectors u give ``v = L^-T u`` (type 3: ``L u``), B-normalized as SciPy's; the gradients are those of
    cholesky, solve and the symmetric eigendecomposition (``dw = diag(V^T dA V)``, ``dV = V (F o V^T dA V)``;
    inf for repeated eigenvalues). ``subset_by_index=(lo, hi)`` and ``subset_by_value=(lo, hi)`` (eigenvalues in
    ``(lo, hi]``) select from the full decomposition, so the selection carries the same gradient; ``driver`` names
    LAPACK's algorithm, which does not change the answer here.

    >>> import chainrule as cr
    >>> cr.scipy.linalg.eigh(cr.tensor([[2.0, 1.0], [1.0, 2.0]]), eigvals_only=True)
    tensor([1., 3.])
    """
    if driver not in _DRIVERS:
        raise ValueError(f"scipy.linalg.eigh: driver must be one of {sorted(d for d in _DRIVERS if d)}, got {driver!r}")
    if type not in (1, 2, 3):
        raise ValueError(f"scipy.linalg.eigh: type must be 1, 2 or 3, got {type!r}")
    if subset_by_index is not None and subset_by_value is not None:
        raise ValueError("scipy.linalg.eigh: subset_by_index and subset_by_value cannot be given together")
    (a,) = _prepare("eigh", check_finite, a)
    _square("eigh", a)
    if b is None:
        w, v = _eigh(a, UPLO="L" if lower else "U")
    else:
        (b,) = _prepare("eigh", check_finite, b)
        if b.shape != a.shape:
            raise ValueError(f"scipy.linalg.eigh: b must have a's shape {a.shape}, got {b.shape}")
        factor = cholesky(b if lower else _T(b))  # lower L of the triangle read
        sym = tril(a) + _T(tril(a, -1)) if lower else triu(a) + _T(triu(a, 1))
        if type == 1:
            c = solve(factor, _T(solve(factor, sym)))  # L^-1 (L^-1 A)^T = L^-1 A L^-T (A symmetric)
        else:
            c = _T(factor) @ sym @ factor
        w, u = _eigh(c)
        v = factor @ u if type == 3 else solve(_T(factor), u)
    picked = _subset(w, subset_by_index, subset_by_value)
    if picked is not None:
        w, v = getitem(w, (Ellipsis, picked)), getitem(v, (Ellipsis, slice(None), picked))
    return w if eigvals_only else (w, v)


def _subset(w: Any, by_index: Any, by_value: Any) -> Any:
    """The positions of the eigenvalues asked for (a slice, or an index array read off the values), or None."""
    n = w.shape[-1]
    if by_index is not None:
        lo, hi = (int(k) for k in by_index)
        if not 0 <= lo <= hi < n:
            raise ValueError(f"scipy.linalg.eigh: subset_by_index must satisfy 0 <= lo <= hi < {n}, got {by_index}")
        return slice(lo, hi + 1)
    if by_value is not None:
        if w.ndim != 1:
            raise ValueError("scipy.linalg.eigh: subset_by_value needs one matrix (the count differs across a stack)")
        low, high = (float(x) for x in by_value)
        found = backend.to_host(bottom(w))
        return np.flatnonzero((found > low) & (found <= high))
    return None
