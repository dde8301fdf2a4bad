"""``cr.linalg``: inverses, solves, determinants, decompositions and norms, with their matrix derivatives.

All functions take stacks of matrices (leading batch axes) where NumPy does. The engine records one output array
per node, so a decomposition with several outputs (``eigh``, ``qr``, ``svd``, ``slogdet``) is a composite returning
single-output primitives; each part's VJP is the full rule restricted to that output's cotangent (the rules are
linear in the cotangents, so the engine's sum over the parts is the full rule). Every rule is written with
chainrule's own functions (matmul, solve, transposes, ``where``), so it is differentiable again.

References: M. Giles, "Collected matrix derivative results for forward and reverse mode AD" (2008) for inv, solve
and det; I. Murray, "Differentiation of the Cholesky decomposition" (2016); J. Townsend, "Differentiating the
singular value decomposition" (2016); Walter & Lehmann (2018) for QR; Golub & Pereyra (1973) for the pseudo-inverse.

Conventions. Notation below: ``A^-T`` is the transposed inverse, ``o`` the elementwise product, ``sym_L(A)`` the
symmetric matrix made of A's lower triangle.

* eigh and cholesky read only the lower triangle, as NumPy does: they are functions of ``sym_L(A)``, and their
  gradients are too (zero on the strict upper triangle, the lower triangle collecting both mirrored entries).
* Signs are fixed, so each output is a well-defined (and locally smooth) function of the input: eigenvectors and
  left singular vectors have their largest-magnitude entry positive (``vh``'s rows follow ``u``'s columns), and
  ``qr``'s R has a positive diagonal. NumPy leaves these signs to LAPACK, so they may differ from NumPy's.
* Where a derivative does not exist the code does not hide it: repeated eigenvalues or singular values make the
  terms ``1 / (w_j - w_i)`` infinite (NumPy warns "divide by zero") and the vector gradients inf/nan; a zero
  singular value makes ``1 / s`` infinite; singular matrices make the solves inside inv/solve/det/cholesky/qr
  rules raise ``LinAlgError``. The values' own gradients (``eigvalsh``, ``svdvals``, ``norm(x, 'nuc')``) stay
  finite at repeated values.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend
from ..primitive import Primitive, Sample, holds_box, like
from ..spelling import both_spellings
from ..tensor import Tensor, bottom, values
from ..transforms import decision_values
from .elementwise import absolute, conjugate, imag, isnan, logical_and, real, sqrt, where
from .linalg import _mT, _to_end
from .reduce import sum
from .shape import as_array, getitem, reshape, transpose

__all__ = [
    "cholesky",
    "det",
    "eig",
    "eigh",
    "eigvals",
    "eigvalsh",
    "inv",
    "matrix_norm",
    "norm",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "svd",
    "svdvals",
    "vector_norm",
]

Shape = tuple[int, ...]


# ---- helpers shared by the rules -----------------------------------------------------------------------------------
def _row(v: Any) -> Any:
    """(..., n) -> (..., 1, n): multiplying a matrix by it scales its columns (``X diag(v)``)."""
    return reshape(v, (*v.shape[:-1], 1, v.shape[-1]))


def _col(v: Any) -> Any:
    """(..., n) -> (..., n, 1): multiplying a matrix by it scales its rows (``diag(v) X``)."""
    return reshape(v, (*v.shape, 1))


def _scalar(v: Any) -> Any:
    """(...) -> (..., 1, 1): one scalar per matrix of a stack."""
    return reshape(v, (*v.shape, 1, 1))


# The masks below are made on the host (the shared ones read-only) and moved next to the matrices they mask, x's
# (the last two axes), by ``like``: a GPU's arrays do not mix with NumPy's.
@functools.lru_cache(maxsize=64)
def _tri(n: int, m: int, k: int) -> np.ndarray[Any, Any]:
    """The boolean mask ``j <= i + k`` of an n x m matrix, on the host (read-only: it is shared)."""
    mask = np.tri(n, m, k, dtype=bool)
    mask.flags.writeable = False
    return mask


def _lower(x: Any) -> Any:
    """``j <= i``: the lower triangle (diagonal included) of x's matrices."""
    return like(_tri(*x.shape[-2:], 0), x)


def _strict_lower(x: Any) -> Any:
    return like(_tri(*x.shape[-2:], -1), x)


def _upper(x: Any) -> Any:
    """``j >= i``: the upper triangle (diagonal included) of x's matrices."""
    return like(~_tri(*x.shape[-2:], -1), x)


@functools.lru_cache(maxsize=64)
def _identity(n: int) -> np.ndarray[Any, Any]:
    mask = np.eye(n, dtype=bool)
    mask.flags.writeable = False
    return mask


def _eye(x: Any) -> Any:
    """The diagonal of x's (square) matrices."""
    return like(_identity(x.shape[-1]), x)


def _sym_lower(t: Any) -> Any:
    """``sym_L(T)``: the lower triangle of T mirrored onto the upper one (what eigh and cholesky read)."""
    return where(_lower(t), t, _mT(t))


def _from_sym_lower(p: Any) -> Any:
    """The cotangent of A from the cotangent P of ``S = sym_L(A)``: ``<P, dS> = <result, dA>``.

    A strictly lower entry appears twice in S (at (i, j) and (j, i)), a diagonal entry once, an upper one never.
    """
    return where(_strict_lower(p), p + _mT(p), where(_eye(p), p, 0.0))


def _gap_inverse(w: Any) -> Any:
    """``F[i, j] = 1 / (w[j] - w[i])`` off the diagonal, 0 on it (inf where two values coincide)."""
    gaps = _row(w) - _col(w)
    eye = _eye(gaps)
    return where(eye, 0.0, 1 / (gaps + eye))


def _fix_signs(u: Any) -> Any:
    """+1 or -1 per column of u (shape (..., 1, k)) that makes each column's largest-magnitude entry positive."""
    big = np.argmax(np.abs(u), axis=-2)[..., None, :]
    return np.where(np.take_along_axis(u, big, axis=-2) < 0, -1, 1).astype(u.dtype)


def _real_only(name: str, a: Any) -> None:
    """Refuse complex input where the rule is written for real matrices (its Hermitian form is not implemented)."""
    if bottom(a).dtype.kind == "c":
        raise TypeError(f"linalg.{name} of complex matrices is not supported: its gradient needs the Hermitian "
                        "form of the rule; inv, solve, det, slogdet, eig, eigvals, matmul and the 'fro' and vector "
                        "norms take complex input")


def _square_magnitude(x: Any) -> Any:
    """|x|^2 entrywise: x * x for real x, Re(x conj(x)) for complex."""
    return x * x if bottom(x).dtype.kind != "c" else real(x * conjugate(x))


def _check_square(name: str, a: Any) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"linalg.{name} needs square matrices (..., n, n), got shape {a.shape}")


class _Memo:
    """The last input and result of one LAPACK (on a GPU: cuSOLVER) routine.

    A decomposition's outputs are separate primitives (the engine records one array per node), and each one's rule
    needs the other outputs: without this, ``svd`` plus its backward would run the SVD nine times. The input is
    compared by value, so an array changed in place is decomposed afresh: on the host by its bytes; on a device by
    a copy kept there and compared there (its bytes would be a copy to the host, and an id or a checksum could
    match a changed array). Inputs above ``_MEMO_MAX_BYTES`` are not kept. Callers get copies, never the remembered
    arrays.
    """

    __slots__ = ("fn", "entry")

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.entry: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None

    @staticmethod
    def _key(a: Any) -> tuple[Any, ...]:
        return (a.shape, a.dtype.str, backend.device_of(a), a.tobytes() if type(a) is np.ndarray else a.copy())

    def lookup(self, a: Any) -> tuple[Any, ...] | None:
        entry = self.entry  # one read: another thread may replace it, never half of it
        if entry is None:
            return None
        (shape, dtype, device, seen), out = entry
        if shape != a.shape or dtype != a.dtype.str or device != backend.device_of(a):
            return None
        same = seen == a.tobytes() if type(a) is np.ndarray else bool(backend.namespace(a).array_equal(seen, a))
        return out if same else None

    def __call__(self, a: Any) -> tuple[Any, ...]:
        a = values(a)
        found = self.lookup(a)
        if found is not None:
            return found
        out = tuple(self.fn(a))
        if a.nbytes <= _MEMO_MAX_BYTES:
            self.entry = (self._key(a), out)
        return out


_MEMO_MAX_BYTES = 1 << 26


# ---- sample inputs -------------------------------------------------------------------------------------------------
def _stack(rng: np.random.Generator, shape: Shape, make: Any) -> np.ndarray[Any, Any]:
    """A batch of matrices of the given shape, each made by ``make(rng, n, m)``."""
    batch = shape[:-2]
    out = np.stack([make(rng, *shape[-2:]) for _ in range(math.prod(batch))]) if batch else make(rng, *shape)
    return np.asarray(out.reshape(shape), dtype=np.float64)


def _orthonormal(rng: np.random.Generator, n: int, k: int) -> np.ndarray[Any, Any]:
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


def _well_conditioned(rng: np.random.Generator, n: int, m: int) -> np.ndarray[Any, Any]:
    """A perturbed identity, its first row's sign flipped at random (negative determinants too)."""
    a = 0.4 * rng.uniform(-1, 1, (n, m)) + 1.5 * np.eye(n, m)
    a[0] *= rng.choice([-1.0, 1.0])
    return a


def _distinct_symmetric(rng: np.random.Generator, n: int, m: int) -> np.ndarray[Any, Any]:
    """Q diag(w) Q^T with eigenvalues a unit apart (so 1 / (w_j - w_i) stays small)."""
    q = _orthonormal(rng, n, n)
    w = np.arange(n) + rng.uniform(-0.2, 0.2, n) - 0.7
    return (q * w) @ q.T


def _positive_definite(rng: np.random.Generator, n: int, m: int) -> np.ndarray[Any, Any]:
    b = rng.uniform(-1, 1, (n, n))
    return b @ b.T + n * np.eye(n)


def _distinct_singular(rng: np.random.Generator, n: int, m: int) -> np.ndarray[Any, Any]:
    """U diag(s) V^T with singular values about 1, 2, 3 (distinct, away from zero)."""
    k = min(n, m)
    s = np.arange(k, 0, -1) + rng.uniform(-0.2, 0.2, k)
    return (_orthonormal(rng, n, k) * s) @ _orthonormal(rng, m, k).T


def _complex_matrices(rng: np.random.Generator, shape: Shape) -> np.ndarray[Any, Any]:
    """Well-conditioned complex matrices: a perturbed identity plus i times another."""
    return _stack(rng, shape, _well_conditioned) + 0.3j * _stack(rng, shape, _well_conditioned)


def _samples(make: Any, shapes: Sequence[Shape]) -> Any:
    return lambda rng: [Sample((_stack(rng, s, make),)) for s in shapes]


_SQUARE = ((3, 3), (2, 2), (2, 2, 2), (1, 3, 3))
_RECTANGULAR = ((3, 3), (3, 2), (2, 3), (2, 3, 2))


# ---- inverse and solve ---------------------------------------------------------------------------------------------
# X = A^-1: dX = -X dA X, so Abar = -X^T Xbar X^T.
_inv = Primitive(
    "inv",
    np.linalg.inv,
    vjp=lambda g, ans, a: -(_mT(ans) @ g @ _mT(ans)),
    jvp=lambda t, ans, a: -(ans @ t @ ans),
    samples=_samples(_well_conditioned, _SQUARE),
    reference=np.linalg.inv,
)


def inv(a: Any) -> Any:
    """The matrix inverse ``A^-1`` (of each matrix of a stack); ``dA^-1 = -A^-1 dA A^-1``.

    >>> import chainrule as cr
    >>> cr.linalg.inv(cr.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5 , 0.  ],
            [0.  , 0.25]])
    """
    a = as_array(a)
    _check_square("inv", a)
    return _inv(a)


def _draw_any(rng: np.random.Generator, shape: Shape) -> np.ndarray[Any, Any]:
    return np.asarray(rng.uniform(-2, 2, shape))


def _solve_samples(rng: np.random.Generator) -> list[Sample]:
    pairs = (((3, 3), (3, 2)), ((2, 2, 2), (2, 1)), ((2, 2), (2, 2, 2)), ((1, 2, 2), (3, 2, 1)))
    return [Sample((_stack(rng, a, _well_conditioned), _draw_any(rng, b))) for a, b in pairs]


def _solve_forward(a: Any, b: Any) -> Any:
    """``np.linalg.solve`` for a stack of matrices b. On a GPU the batch axes are broadcast first: CuPy's solve
    takes b's to be a's (and would read a b of one axis less as a stack of vectors)."""
    if type(a) is not np.ndarray:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a, b = np.broadcast_to(a, (*batch, *a.shape[-2:])), np.broadcast_to(b, (*batch, *b.shape[-2:]))
    return np.linalg.solve(a, b)


# X = A^-1 B (B a stack of matrices): Bbar = A^-T Xbar, Abar = -Bbar X^T; dX = A^-1 (dB - dA X).
_solve = Primitive(
    "solve",
    _solve_forward,
    vjp=(lambda g, ans, a, b: -(_solve(_mT(a), g) @ _mT(ans)), lambda g, ans, a, b: _solve(_mT(a), g)),
    jvp=(lambda t, ans, a, b: -_solve(a, t @ ans), lambda t, ans, a, b: _solve(a, t)),
    samples=_solve_samples,
    reference=np.linalg.solve,
)


def solve(a: Any, b: Any) -> Any:
    """The solution x of ``a @ x = b``; b is a vector (shape (n,)) or a stack of matrices (..., n, k), as in
    NumPy 2. ``x = A^-1 b``, ``bbar = A^-T xbar``, ``Abar = -bbar x^T``.

    >>> import chainrule as cr
    >>> cr.linalg.solve(cr.tensor([[2.0, 0.0], [0.0, 4.0]]), cr.tensor([1.0, 1.0]))
    tensor([0.5 , 0.25])
    """
    a, b = as_array(a), as_array(b)
    _check_square("solve", a)
    if b.ndim == 1:
        x = _solve(a, reshape(b, (b.shape[0], 1)))
        return reshape(x, x.shape[:-1])
    return _solve(a, b)


# ---- determinants --------------------------------------------------------------------------------------------------
# d det(A) = det(A) tr(A^-1 dA), so Abar = gbar det(A) A^-T (Jacobi's formula). Singular A: inv raises LinAlgError.
_det = Primitive(
    "det",
    np.linalg.det,
    vjp=lambda g, ans, a: _scalar(g * ans) * _mT(_inv(a)),
    jvp=lambda t, ans, a: ans * sum(_mT(_inv(a)) * t, axis=(-2, -1)),
    samples=_samples(_well_conditioned, _SQUARE),
    reference=np.linalg.det,
)


def det(a: Any) -> Any:
    """The determinant of each matrix of a stack; its gradient is ``det(A) A^-T`` (undefined for singular A:
    the inverse in the rule raises ``LinAlgError``).

    >>> import chainrule as cr
    >>> a = cr.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    >>> cr.linalg.det(a).backward()
    >>> a.grad
    tensor([[ 3., -1.],
            [-1.,  2.]])
    """
    a = as_array(a)
    _check_square("det", a)
    return _det(a)


_slogdet_memo = _Memo(np.linalg.slogdet)
# A real determinant's sign is piecewise constant; a complex one's, s = det/|det|, moves: ds = i s Im(tr(A^-1 dA)),
# so Abar = i Im(gbar s) A^-T (the transpose under Re(sum(a * b)))
_slogdet_phase = Primitive(
    "slogdet_phase",
    lambda a: _slogdet_memo(a)[0].copy(),
    vjp=lambda g, ans, a: _scalar(imag(g * ans) * 1j) * _mT(_inv(a)),
    jvp=lambda t, ans, a: ans * imag(sum(_mT(_inv(a)) * t, axis=(-2, -1))) * 1j,
    samples=lambda rng: [Sample((_complex_matrices(rng, s),)) for s in _SQUARE[:3]],
    reference=lambda a: np.linalg.slogdet(a)[0],
)
_slogdet_sign = Primitive(
    "slogdet_sign",
    lambda a: _slogdet_memo(a)[0].copy(),
    samples=_samples(_well_conditioned, _SQUARE),
    reference=lambda a: np.linalg.slogdet(a)[0],
    differentiable=False,
)
# d log|det A| = tr(A^-1 dA): Abar = gbar A^-T
_slogdet_logabsdet = Primitive(
    "slogdet_logabsdet",
    lambda a: _slogdet_memo(a)[1].copy(),
    vjp=lambda g, ans, a: _scalar(g) * _mT(_inv(a)),
    jvp=lambda t, ans, a: sum(_mT(_inv(a)) * t, axis=(-2, -1)),
    samples=lambda rng: [*_samples(_well_conditioned, _SQUARE)(rng), Sample((_complex_matrices(rng, (3, 3)),))],
    reference=lambda a: np.linalg.slogdet(a)[1],
)


def slogdet(a: Any) -> tuple[Any, Any]:
    """``(sign, log|det A|)``, stable where det itself would over- or underflow. A real sign carries no gradient
    (a complex one, ``det/|det|``, does); ``log|det A|`` has gradient ``A^-T``.

    >>> import chainrule as cr
    >>> sign, logabsdet = cr.linalg.slogdet(cr.tensor([[-2.0, 0.0], [0.0, 3.0]]))
    >>> float(sign), round(float(logabsdet), 4)
    (-1.0, 1.7918)
    """
    a = as_array(a)
    _check_square("slogdet", a)
    return (_slogdet_phase if bottom(a).dtype.kind == "c" else _slogdet_sign)(a), _slogdet_logabsdet(a)


# ---- Cholesky ------------------------------------------------------------------------------------------------------
def _phi(x: Any) -> Any:
    """Murray's Phi: the lower triangle with the diagonal halved."""
    return where(_strict_lower(x), x, where(_eye(x), 0.5 * x, 0.0))


def _cholesky_vjp(g: Any, ans: Any, a: Any) -> Any:
    """Murray (2016): ``S̄ = L^-T Phi(L^T L̄) L^-1``, then folded onto the lower triangle that was read."""
    z = _solve(_mT(ans), _phi(_mT(ans) @ g))  # L^-T Phi(L^T Lbar)
    return _from_sym_lower(_mT(_solve(_mT(ans), _mT(z))))  # (L^-T Z^T)^T = Z L^-1


def _cholesky_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``dL = L Phi(L^-1 dS L^-T)`` with ``dS = sym_L(dA)``."""
    y = _solve(ans, _sym_lower(t))  # L^-1 dS
    return ans @ _phi(_solve(ans, _mT(y)))  # L^-1 (L^-1 dS)^T = L^-1 dS L^-T (dS is symmetric)


_cholesky = Primitive(
    "cholesky",
    np.linalg.cholesky,
    vjp=_cholesky_vjp,
    jvp=_cholesky_jvp,
    samples=_samples(_positive_definite, ((3, 3), (2, 2), (2, 2, 2))),
    reference=np.linalg.cholesky,
)


def cholesky(a: Any, upper: bool = False) -> Any:
    """The Cholesky factor: lower L with ``A = L L^T`` (or upper U with ``A = U^T U``), for symmetric
    positive-definite A. Like NumPy it reads only the lower (upper) triangle; so does its gradient.

    >>> import chainrule as cr
    >>> cr.linalg.cholesky(cr.tensor([[4.0, 2.0], [2.0, 5.0]]))
    tensor([[2., 0.],
            [1., 2.]])
    """
    a = as_array(a)
    _check_square("cholesky", a)
    _real_only("cholesky", a)
    if upper:
        return _mT(_cholesky(_mT(a)))
    return _cholesky(a)


# ---- QR ------------------------------------------------------------------------------------------------------------
def _qr_forward(a: Any) -> Any:
    """Q of the reduced QR of a tall or square matrix, with signs making R's diagonal positive."""
    q, r = np.linalg.qr(a)
    d = np.diagonal(r, axis1=-2, axis2=-1)
    return q * np.where(d < 0, -1, 1).astype(q.dtype)[..., None, :]


def _qr_r(q: Any, a: Any) -> Any:
    """R = Q^T A (upper triangular; the rounding below the diagonal is cleared)."""
    r = _mT(q) @ a
    return where(_upper(r), r, 0.0)


def _qr_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``Abar = (Qbar - Q copyltu(Q^T Qbar)) R^-T``, copyltu(M) mirroring M's upper triangle onto the lower.

    The full rule, with R's cotangent too, is ``(Qbar + Q copyltu(R Rbar^T - Q^T Qbar)) R^-T`` (Walter & Lehmann
    2018): the R part arrives through ``R = triu(Q^T A)``, a composite.
    """
    r = _qr_r(ans, a)
    m = _mT(ans) @ g
    k = where(_upper(m), m, _mT(m))
    return _mT(_solve(r, _mT(g - ans @ k)))  # X R^-T = (R^-1 X^T)^T


def _qr_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``C = Q^T dA R^-1``, ``Omega = tril(C, -1) - tril(C, -1)^T`` (= Q^T dQ), ``dQ = dA R^-1 - Q (C - Omega)``."""
    r = _qr_r(ans, a)
    t_rinv = _mT(_solve(_mT(r), _mT(t)))
    c = _mT(ans) @ t_rinv
    low = where(_strict_lower(c), c, 0.0)
    return t_rinv - ans @ (c - low + _mT(low))


_qr_q = Primitive(
    "qr_q",
    _qr_forward,
    vjp=_qr_vjp,
    jvp=_qr_jvp,
    samples=_samples(_well_conditioned, ((3, 3), (3, 2), (4, 2), (2, 3, 2))),
    reference=_qr_forward,
)


def qr(a: Any, mode: str = "reduced") -> Any:
    """The reduced QR decomposition ``A = Q R`` (Q with orthonormal columns, R upper triangular with a positive
    diagonal); ``mode="r"`` returns R alone. For an m x n matrix with m < n, Q comes from the first m columns.
    Gradients need full column rank (of those first min(m, n) columns); otherwise ``LinAlgError``.

    >>> import chainrule as cr
    >>> q, r = cr.linalg.qr(cr.tensor([[3.0, 1.0], [4.0, 2.0]]))
    >>> r
    tensor([[5. , 2.2],
            [0. , 0.4]])
    """
    if mode not in ("reduced", "r"):
        raise ValueError(f"linalg.qr: mode {mode!r} is not supported (differentiable modes: 'reduced', 'r')")
    a = as_array(a)
    if a.ndim < 2:
        raise ValueError(f"linalg.qr needs matrices (..., m, n), got shape {a.shape}")
    _real_only("qr", a)
    m, n = a.shape[-2:]
    q = _qr_q(a if m >= n else getitem(a, (Ellipsis, slice(None), slice(0, m))))
    r = _qr_r(q, a)
    return r if mode == "r" else (q, r)


# ---- symmetric eigendecomposition ----------------------------------------------------------------------------------
def _eigh_signed(a: Any) -> tuple[Any, Any]:
    w, v = np.linalg.eigh(a)
    return w, v * _fix_signs(v)


_eigh_memo = _Memo(_eigh_signed)


def _eigh_values_forward(a: Any) -> Any:
    """From a remembered eigh when there is one, else the cheaper eigvalsh (no vectors)."""
    a = values(a)
    found = _eigh_memo.lookup(a)
    return found[0].copy() if found is not None else np.linalg.eigvalsh(a)


def _eigh_vectors_forward(a: Any) -> Any:
    return _eigh_memo(a)[1].copy()


def _eigh_values_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``S̄ = V diag(wbar) V^T``."""
    v = _eigh_vectors(a)
    return _from_sym_lower((v * _row(g)) @ _mT(v))


def _eigh_values_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``dw = diag(V^T dS V)``."""
    v = _eigh_vectors(a)
    return sum(v * (_sym_lower(t) @ v), axis=-2)


def _eigh_vectors_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``S̄ = V (F o (V^T Vbar)) V^T`` with ``F[i, j] = 1 / (w_j - w_i)``: inf for repeated eigenvalues."""
    f = _gap_inverse(_eigh_values(a))
    return _from_sym_lower(ans @ (f * (_mT(ans) @ g)) @ _mT(ans))


def _eigh_vectors_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``dV = V (F o (V^T dS V))``."""
    f = _gap_inverse(_eigh_values(a))
    return ans @ (f * (_mT(ans) @ _sym_lower(t) @ ans))


_eigh_values = Primitive(
    "eigh_values",
    _eigh_values_forward,
    vjp=_eigh_values_vjp,
    jvp=_eigh_values_jvp,
    samples=_samples(_distinct_symmetric, ((3, 3), (2, 2), (2, 2, 2))),
    reference=np.linalg.eigvalsh,
)
_eigh_vectors = Primitive(
    "eigh_vectors",
    _eigh_vectors_forward,
    vjp=_eigh_vectors_vjp,
    jvp=_eigh_vectors_jvp,
    samples=_samples(_distinct_symmetric, ((3, 3), (2, 2), (2, 2, 2))),
    reference=lambda a: _eigh_signed(a)[1],
)


def _symmetric_input(name: str, a: Any, uplo: str) -> Any:
    a = as_array(a)
    _check_square(name, a)
    _real_only(name, a)
    if uplo not in ("L", "U"):
        raise ValueError(f"linalg.{name}: UPLO must be 'L' or 'U', got {uplo!r}")
    return a if uplo == "L" else _mT(a)  # the upper triangle of A is the lower one of A^T


def eigh(a: Any, UPLO: str = "L") -> tuple[Any, Any]:
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix, ``A = V diag(w) V^T``.

    Only the lower (``UPLO="U"``: upper) triangle is read. Each eigenvector's largest-magnitude entry is positive.
    ``dw = diag(V^T dA V)``; ``dV = V (F o (V^T dA V))``, ``F[i, j] = 1 / (w_j - w_i)`` (inf for repeated
    eigenvalues: there the eigenvectors are not unique and their gradient is inf/nan).

    >>> import chainrule as cr
    >>> w, v = cr.linalg.eigh(cr.tensor([[2.0, 1.0], [1.0, 2.0]]))
    >>> w
    tensor([1., 3.])
    """
    a = _symmetric_input("eigh", a, UPLO)
    v = _eigh_vectors(a)  # first: the values then come from the same decomposition
    return _eigh_values(a), v


def eigvalsh(a: Any, UPLO: str = "L") -> Any:
    """The eigenvalues of a symmetric matrix, ascending; gradient ``V diag(wbar) V^T``.

    >>> import chainrule as cr
    >>> cr.linalg.eigvalsh(cr.tensor([[2.0, 0.0], [0.0, 1.0]]))
    tensor([1., 2.])
    """
    return _eigh_values(_symmetric_input("eigvalsh", a, UPLO))


# ---- general eigendecomposition ------------------------------------------------------------------------------------
# A V = V diag(w), for any square A; w and V complex (for real A too: its eigenvalues come in conjugate pairs). With
# P = V^-1 dA V: dw = diag(P), and the raw dV = V (F o P) (F as for eigh), which leaves each vector's scale and phase
# free. NumPy's normalization (unit 2-norm columns) fixes the scale: subtract v_j Re(v_j^H dv_j). The phase is fixed
# here as for eigh's signs: each column's largest-magnitude entry real and positive (NumPy leaves it to LAPACK), so
# subtract i v_j Im(dv_kj) / v_kj at that entry k. Derivatives exist for distinct eigenvalues only, and a loss whose
# value does not depend on each eigenvector's phase has the same gradient under every phase convention.
def _largest_entries(v: Any) -> Any:
    """A 0/1 mask (..., n, k) of each column's largest-magnitude entry, on v's device (read from its values)."""
    vals = bottom(v)
    big = np.argmax(np.abs(vals), axis=-2)[..., None, :]
    rows = like(np.arange(vals.shape[-2]).reshape(-1, 1), vals)
    return (rows == big).astype(vals.real.dtype)


def _eig_phased(a: Any) -> tuple[Any, Any]:
    w, v = np.linalg.eig(a)
    dtype = np.result_type(a.dtype, np.complex64)
    w, v = w.astype(dtype), v.astype(dtype)
    top = (v * _largest_entries(v)).sum(axis=-2, keepdims=True)
    return w, v * (np.conj(top) / np.abs(top))


_eig_memo = _Memo(_eig_phased)


def _phase_fix(v: Any) -> tuple[Any, Any]:
    """The mask of each column's largest entry, and that entry (real and positive) as a row."""
    mask = _largest_entries(v)
    return mask, real(sum(mask * v, axis=-2, keepdims=True))


def _eig_values_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``Abar = V^-T diag(wbar) V^T``."""
    v = _eig_vectors(a)
    vt = _mT(v)
    return _solve(vt, _col(g) * vt)


def _eig_values_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``dw = diag(V^-1 dA V)``."""
    v = _eig_vectors(a)
    return sum(_mT(_solve(v, t)) * v, axis=-2)


def _eig_vectors_vjp(g: Any, ans: Any, a: Any) -> Any:
    """The JVP's steps transposed, last first: phase, scale, ``Pbar = F o (V^T Vbar)``, ``Abar = V^-T Pbar V^T``."""
    mask, top = _phase_fix(ans)
    g = g + mask * (imag(sum(g * ans, axis=-2, keepdims=True)) / top) * -1j
    g = g - conjugate(ans) * real(sum(g * ans, axis=-2, keepdims=True))
    vt = _mT(ans)
    return _solve(vt, (_gap_inverse(_eig_values(a)) * (vt @ g)) @ vt)


def _eig_vectors_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``dV = V (F o V^-1 dA V)``, less each column's change of scale and of phase."""
    dv = ans @ (_gap_inverse(_eig_values(a)) * _solve(ans, t @ ans))
    dv = dv - ans * real(sum(conjugate(ans) * dv, axis=-2, keepdims=True))
    mask, top = _phase_fix(ans)
    return dv - ans * (imag(sum(mask * dv, axis=-2, keepdims=True)) / top) * 1j


def _eig_samples(rng: np.random.Generator) -> list[Sample]:
    """Q diag(w) Q^-1 with eigenvalues well apart: real ones, a complex pair of a real matrix, complex ones."""
    def similar(w: Any, q: Any) -> Any:
        return np.asarray((q * w) @ np.linalg.inv(q))

    q3 = np.eye(3) + 0.3 * rng.standard_normal((3, 3))
    pair = np.array([[1.0, -2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, -1.5]])
    complex_q = np.eye(3) + 0.3 * (rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)))
    batch = np.stack([similar(np.array([-1.0, 1.2]), np.eye(2) + 0.3 * rng.standard_normal((2, 2))) for _ in range(2)])
    return [Sample((similar(np.array([-1.0, 0.5, 2.0]), q3),)), Sample((q3 @ pair @ np.linalg.inv(q3),)),
            Sample((similar(np.array([1.0, 2.0 + 0.5j, -1.3 - 0.4j]), complex_q),)), Sample((batch,))]


_eig_values = Primitive(
    "eig_values",
    lambda a: _eig_memo(a)[0].copy(),
    vjp=_eig_values_vjp,
    jvp=_eig_values_jvp,
    samples=_eig_samples,
    reference=lambda a: np.linalg.eig(a)[0].astype(np.result_type(a.dtype, np.complex64)),
)
_eig_vectors = Primitive(
    "eig_vectors",
    lambda a: _eig_memo(a)[1].copy(),
    vjp=_eig_vectors_vjp,
    jvp=_eig_vectors_jvp,
    samples=_eig_samples,
    reference=lambda a: _eig_phased(a)[1],
)


def eig(a: Any) -> tuple[Any, Any]:
    """Eigenvalues and right eigenvectors (unit columns) of square matrices, ``A V = V diag(w)``, as complex arrays
    (NumPy's are real when every eigenvalue is; chainrule's dtype does not depend on the values). Each column's
    largest-magnitude entry is made real and positive (NumPy leaves the phase to LAPACK). Gradients exist for distinct
    eigenvalues; for the eigenvectors, use losses that do not depend on each vector's phase (|v|, v v^H), whose
    gradient is then the same for any phase convention.

    >>> import chainrule as cr
    >>> w, v = cr.linalg.eig(cr.tensor([[0.0, -1.0], [1.0, 0.0]]))
    >>> w
    tensor([0.+1.j, 0.-1.j], dtype=complex128)
    """
    a = as_array(a)
    _check_square("eig", a)
    v = _eig_vectors(a)  # first: the values then come from the same decomposition
    return _eig_values(a), v


def eigvals(a: Any) -> Any:
    """The eigenvalues of square matrices, complex, in ``eig``'s order; gradient ``V^-T diag(wbar) V^T``.

    >>> import chainrule as cr
    >>> cr.linalg.eigvals(cr.tensor([[2.0, 1.0], [0.0, 3.0]]))
    tensor([2.+0.j, 3.+0.j], dtype=complex128)
    """
    a = as_array(a)
    _check_square("eigvals", a)
    return _eig_values(a)


# ---- singular value decomposition ----------------------------------------------------------------------------------
def _svd_signed(a: Any) -> tuple[Any, ...]:
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    signs = _fix_signs(u)
    return u * signs, s, vh * _mT(signs)


_svd_memo = _Memo(_svd_signed)


def _svd_s_forward(a: Any) -> Any:
    """From a remembered SVD when there is one, else the cheaper values-only SVD."""
    a = values(a)
    found = _svd_memo.lookup(a)
    return found[1].copy() if found is not None else np.linalg.svd(a, compute_uv=False)


def _svd_s_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``Abar = U diag(sbar) V^T``."""
    return (_svd_u(a) * _row(g)) @ _svd_vh(a)


def _svd_u_vjp(g: Any, ans: Any, a: Any) -> Any:
    """``Abar = [U (F o (U^T Ubar - Ubar^T U)) S + (I - U U^T) Ubar S^-1] V^T``, ``F[i, j] = 1 / (s_j^2 - s_i^2)``."""
    s, vh = _svd_s(a), _svd_vh(a)
    x = _mT(ans) @ g
    inner = ans @ (_gap_inverse(s * s) * (x - _mT(x)) * _row(s)) + (g - ans @ x) * _row(1 / s)
    return inner @ vh


def _svd_vh_vjp(g: Any, ans: Any, a: Any) -> Any:
    """With ``Vbar = vhbar^T``: ``Abar = U S (F o (V^T Vbar - Vbar^T V)) V^T + U S^-1 Vbar^T (I - V V^T)``."""
    u, s = _svd_u(a), _svd_s(a)
    y = ans @ _mT(g)
    return (u * _row(s)) @ (_gap_inverse(s * s) * (y - _mT(y))) @ ans + (u * _row(1 / s)) @ (g - (g @ _mT(ans)) @ ans)


def _svd_s_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``ds = diag(U^T dA V)``."""
    return sum(_svd_u(a) * (t @ _mT(_svd_vh(a))), axis=-2)


def _svd_u_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1`` with ``dP = U^T dA V``."""
    s, vh = _svd_s(a), _svd_vh(a)
    t_v = t @ _mT(vh)
    dp = _mT(ans) @ t_v
    return ans @ (_gap_inverse(s * s) * (dp * _row(s) + _col(s) * _mT(dp))) + (t_v - ans @ dp) * _row(1 / s)


def _svd_vh_jvp(t: Any, ans: Any, a: Any) -> Any:
    """``dV^T = -(F o (S dP + dP^T S)) V^T + S^-1 U^T dA (I - V V^T)`` (the bracket is symmetric, F antisymmetric)."""
    u, s = _svd_u(a), _svd_s(a)
    ut_t = _mT(u) @ t
    dp = ut_t @ _mT(ans)
    return -((_gap_inverse(s * s) * (_col(s) * dp + _mT(dp) * _row(s))) @ ans) + _col(1 / s) * (ut_t - dp @ ans)


_SVD_SHAPES = ((3, 3), (3, 2), (2, 3), (2, 3, 2))
_svd_s = Primitive(
    "svd_s",
    _svd_s_forward,
    vjp=_svd_s_vjp,
    jvp=_svd_s_jvp,
    samples=_samples(_distinct_singular, _SVD_SHAPES),
    reference=lambda a: np.linalg.svd(a, compute_uv=False),
)
_svd_u = Primitive(
    "svd_u",
    lambda a: _svd_memo(a)[0].copy(),
    vjp=_svd_u_vjp,
    jvp=_svd_u_jvp,
    samples=_samples(_distinct_singular, _SVD_SHAPES),
    reference=lambda a: _svd_signed(a)[0],
)
_svd_vh = Primitive(
    "svd_vh",
    lambda a: _svd_memo(a)[2].copy(),
    vjp=_svd_vh_vjp,
    jvp=_svd_vh_jvp,
    samples=_samples(_distinct_singular, _SVD_SHAPES),
    reference=lambda a: _svd_signed(a)[2],
)


def _check_matrix(name: str, a: Any) -> None:
    if a.ndim < 2:
        raise ValueError(f"linalg.{name} needs matrices (..., m, n), got shape {a.shape}")
    _real_only(name, a)


def svd(a: Any, full_matrices: bool = False, compute_uv: bool = True) -> Any:
    """The reduced singular value decomposition ``A = U diag(s) Vh``, s descending; ``compute_uv=False`` gives s.

    Each column of U has its largest-magnitude entry positive (Vh's rows follow). Gradients (Townsend 2016) use
    ``F[i, j] = 1 / (s_j^2 - s_i^2)`` and ``1 / s``: U and Vh have inf/nan gradients at repeated or zero singular
    values; s itself does not. ``full_matrices=True`` is not supported (the extra columns are not unique).

    >>> import chainrule as cr
    >>> u, s, vh = cr.linalg.svd(cr.tensor([[3.0, 0.0], [0.0, -2.0]]))
    >>> s
    tensor([3., 2.])
    """
    if full_matrices:
        raise ValueError("linalg.svd: full_matrices=True is not supported (its extra singular vectors are not "
                         "unique, so not differentiable); use full_matrices=False")
    a = as_array(a)
    _check_matrix("svd", a)
    if not compute_uv:
        return _svd_s(a)
    u = _svd_u(a)  # first: s and vh then come from the same decomposition
    return u, _svd_s(a), _svd_vh(a)


def svdvals(a: Any) -> Any:
    """The singular values, descending; gradient ``U diag(sbar) V^T``.

    >>> import chainrule as cr
    >>> cr.linalg.svdvals(cr.tensor([[0.0, 2.0], [1.0, 0.0]]))
    tensor([2., 1.])
    """
    a = as_array(a)
    _check_matrix("svdvals", a)
    return _svd_s(a)


# ---- pseudo-inverse ------------------------------------------------------------------------------------------------
def _pinv_vjp(g: Any, ans: Any, a: Any, rcond: Any = None) -> Any:
    """Golub & Pereyra, transposed: ``Abar = -P^T G P^T + (I - A P) G^T P P^T + P^T P G^T (I - P A)``."""
    gt = _mT(g)
    pt = _mT(ans)
    return -(pt @ g @ pt) + (gt - a @ (ans @ gt)) @ (ans @ pt) + (pt @ ans) @ (gt - (gt @ ans) @ a)


def _pinv_jvp(t: Any, ans: Any, a: Any, rcond: Any = None) -> Any:
    """``dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P`` (valid while the rank does not change)."""
    tt = _mT(t)
    pt = _mT(ans)
    return -(ans @ t @ ans) + (ans @ pt) @ (tt - (tt @ a) @ ans) + (tt - ans @ (a @ tt)) @ (pt @ ans)


_pinv = Primitive(
    "pinv",
    # rcond=None is NumPy's default, 1e-15: CuPy's pinv has the same default but takes no None
    lambda a, rcond=None: np.linalg.pinv(a, rcond=1e-15 if rcond is None else rcond),
    vjp=_pinv_vjp,
    jvp=_pinv_jvp,
    samples=_samples(_distinct_singular, _RECTANGULAR),
    reference=lambda a, rcond=None: np.linalg.pinv(a, rcond=rcond),
)


def pinv(a: Any, rcond: float | None = None) -> Any:
    """The Moore-Penrose pseudo-inverse (singular values below ``rcond * largest`` are treated as zero; NumPy's
    default). The gradient (Golub & Pereyra 1973) holds where the rank is locally constant.

    >>> import chainrule as cr
    >>> cr.linalg.pinv(cr.tensor([[1.0], [1.0]]))
    tensor([[0.5, 0.5]])
    """
    a = as_array(a)
    _check_matrix("pinv", a)
    return _pinv(a) if rcond is None else _pinv(a, rcond=rcond)


# ---- norms ---------------------------------------------------------------------------------------------------------
def _safe_root(s: Any, p: float) -> Any:
    """``s ** (1/p)`` for s >= 0, with gradient 0 (not inf * 0 = nan) where s = 0: a norm's subgradient at 0."""
    positive = s > 0
    inner = where(positive, s, 1.0)
    return where(positive, sqrt(inner) if p == 2 else inner ** (1.0 / p), 0.0)


def _extreme(x: Any, axis: int | tuple[int, ...], keepdims: bool, largest: bool) -> Any:
    """max (or min) over axis; ties share the gradient evenly, as ``cr.max`` does."""
    v = bottom(x)  # the values under any transform's boxes, on their device: weights carry no gradient
    m = (np.max if largest else np.min)(v, axis=axis, keepdims=True)
    hit = (v == m) | np.isnan(m)  # a NaN spreads to the result through every entry
    weights = (hit / hit.sum(axis=axis, keepdims=True)).astype(v.dtype)
    return sum(x * weights, axis=axis, keepdims=keepdims)


def _vector_norm(x: Any, ord: Any, axis: Any, keepdims: bool) -> Any:
    if ord is None or ord == 2:
        return _safe_root(sum(_square_magnitude(x), axis=axis, keepdims=keepdims), 2)
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if ord == math.inf or ord == -math.inf:
        return _extreme(absolute(x), axis, keepdims, ord > 0)
    if ord == 0:
        return sum(x != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
    if ord == 1:
        return sum(absolute(x), axis=axis, keepdims=keepdims)
    p = float(ord)
    return _safe_root(sum(absolute(x) ** p, axis=axis, keepdims=keepdims), p)


def _matrix_norm(x: Any, ord: Any, axes: tuple[int, int], keepdims: bool) -> Any:
    row, col = axes
    if row == col:
        raise ValueError("norm: duplicate axes given")
    if ord is None or ord == "fro":
        return _safe_root(sum(_square_magnitude(x), axis=axes, keepdims=keepdims), 2)
    if ord in ("nuc", 2, -2):
        _real_only(f"norm(ord={ord!r})", x)
        s = _svd_s(_to_end(x, row, col))
        out = sum(s, axis=-1) if ord == "nuc" else getitem(s, (Ellipsis, 0 if ord == 2 else -1))
        if keepdims:
            out = reshape(out, tuple(1 if i in (row, col) else n for i, n in enumerate(x.shape)))
        return out
    if ord in (1, -1):
        out = _extreme(sum(absolute(x), axis=row, keepdims=True), col, True, ord > 0)
    elif ord in (math.inf, -math.inf):
        out = _extreme(sum(absolute(x), axis=col, keepdims=True), row, True, ord > 0)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    return out if keepdims else reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in (row, col)))


@both_spellings
def norm(x: Any, ord: Any = None, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Any:
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    Vectors (1-d x, or an int ``axis``): ord None/2 (Euclidean), 1, inf, -inf, 0 (count of non-zeros, no
    gradient), other p: ``sum(|x|^p)^(1/p)``. Matrices (2-d x, or a 2-tuple ``axis``): None/'fro', 'nuc', 1, -1,
    2, -2 (largest/smallest singular value), inf, -inf. With ``axis=None`` and ``ord=None`` any x is flattened.

    Kinks: the gradient at x = 0 is 0 for the 2-norm and p-norms (a subgradient, as ``abs'(0) = 0``); max/min ties
    (inf norms, matrix 1/inf norms) share the gradient evenly. p < 1 norms have an infinite slope at zero entries.

    >>> import chainrule as cr
    >>> x = cr.tensor([3.0, -4.0], requires_grad=True)
    >>> n = cr.linalg.norm(x)
    >>> n.backward()
    >>> float(n), x.grad
    (5.0, tensor([ 0.6, -0.8]))
    """
    x = as_array(x)
    if not np.issubdtype(x.dtype, np.inexact):
        x = x.astype(np.float64)
    nd = x.ndim
    if axis is None:
        if ord is None:
            return _safe_root(sum(_square_magnitude(x), axis=None, keepdims=keepdims), 2)
        if nd not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} with axis=None needs a 1-d or 2-d array, got {nd} dimensions")
        axes = tuple(range(nd))
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(int(a) % nd for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, ord, (axes[0], axes[1]), keepdims)
    raise ValueError(f"norm: axis must name one or two axes, got {axis!r}")


@both_spellings
def vector_norm(x: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False, ord: Any = 2) -> Any:
    """The vector norm over ``axis`` (all axes by default, flattened), as ``numpy.linalg.vector_norm``.

    >>> import chainrule as cr
    >>> float(cr.linalg.vector_norm(cr.tensor([[1.0, -2.0], [2.0, 0.0]]), ord=1))
    5.0
    """
    x = as_array(x)
    if axis is None:
        flat = reshape(x, (-1,))
        out = _vector_norm(flat if np.issubdtype(x.dtype, np.inexact) else flat.astype(np.float64), ord, 0, False)
        return reshape(out, (1,) * x.ndim) if keepdims else out
    if isinstance(axis, tuple) and len(axis) > 1:
        nd = x.ndim
        axes = tuple(a % nd for a in axis)
        rest = [i for i in range(nd) if i not in axes]
        moved = reshape(_to_perm(x, (*rest, *axes)), (*(x.shape[i] for i in rest), -1))
        out = norm(moved, ord, axis=-1)
        return reshape(out, tuple(1 if i in axes else n for i, n in enumerate(x.shape))) if keepdims else out
    return norm(x, ord, axis=axis, keepdims=keepdims)


def _to_perm(x: Any, perm: tuple[int, ...]) -> Any:
    return transpose(x, perm) if perm != tuple(range(x.ndim)) else x


@both_spellings
def matrix_norm(x: Any, keepdims: bool = False, ord: Any = "fro") -> Any:
    """The matrix norm of each matrix of a stack (the last two axes), as ``numpy.linalg.matrix_norm``.

    >>> import chainrule as cr
    >>> float(cr.linalg.matrix_norm(cr.tensor([[3.0, 0.0], [0.0, 4.0]]), ord="nuc"))
    7.0
    """
    x = as_array(x)
    _check_matrix("matrix_norm", x)
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)



# ---- least squares, condition numbers, ranks, tensor solves (issue 10) ----------------------------------------------
__all__ += ["cond", "lstsq", "matrix_power", "matrix_rank", "tensorinv", "tensorsolve"]


def lstsq(a: Any, b: Any, rcond: float | None = None) -> tuple[Any, Any, int, Any]:
    """The least-squares solution x minimising ``||b - a x||``, as ``numpy.linalg.lstsq``: ``(x, residuals, rank,
    s)``. Singular values below ``rcond * s_max`` count as zero (NumPy's default ``eps * max(m, n)``, with float64's
    eps); x is then the minimum-norm solution, ``pinv(a) b``.

    Gradients: x and the residuals (``||b - a x||^2`` per column, given as NumPy does only for full column rank
    and m > n, otherwise empty) are differentiable in b for every a, and in a where a has full rank (full column
    rank m >= n: the least-squares solution; full row rank m < n: the minimum-norm solution), by the
    pseudo-inverse's rule; a rank-deficient a being differentiated is refused (the solution jumps there). ``s``
    (``svdvals(a)``) is differentiable too; the rank is an int.

    >>> import chainrule as cr
    >>> a = cr.tensor([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]], requires_grad=True)
    >>> x, residuals, rank, s = cr.linalg.lstsq(a, cr.tensor([1.0, 2.0, 2.0]))
    >>> x, rank
    (tensor([1.16666667, 0.5       ], grad_fn=<matmul>), 2)
    """
    a, b = as_array(a), as_array(b)
    if a.ndim != 2 or b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise np.linalg.LinAlgError(f"linalg.lstsq needs a matrix a (m, n) and b of shape (m,) or (m, k), got "
                                    f"{a.shape} and {b.shape}")
    m, n = a.shape
    if rcond is None:
        rcond = float(np.finfo(np.float64).eps) * max(m, n)
    s = _svd_s(a)
    sv = bottom(s)
    rank = int((sv > rcond * sv[0]).sum()) if sv.size else 0
    if rank < min(m, n) and holds_box((a,)):
        raise np.linalg.LinAlgError(f"linalg.lstsq: a {a.shape} has rank {rank} < {min(m, n)}, where the solution "
                                    "has no derivative in a (it jumps with the rank); differentiate in b alone "
                                    "(a.detach()), or regularise the problem")
    x = pinv(a, rcond=rcond) @ b
    r = b - a @ x
    residuals = sum(r * r, axis=0)
    residuals = reshape(residuals, (1,)) if b.ndim == 1 else residuals
    if rank != n or m <= n:
        residuals = getitem(residuals, slice(0, 0))  # none, as NumPy: empty, of the same type, dtype and device
    return x, residuals, rank, s


def matrix_power(a: Any, n: int) -> Any:
    """``a`` raised to the integer power n by repeated squaring (as ``numpy.linalg.matrix_power``); a negative n
    raises ``inv(a)`` to -n, and n = 0 gives the identity (a constant: its gradient is 0).

    >>> import chainrule as cr
    >>> a = cr.tensor([[2.0, 1.0], [0.0, 1.0]], requires_grad=True)
    >>> cr.linalg.matrix_power(a, 3)
    tensor([[8., 7.],
            [0., 1.]], grad_fn=<matmul>)
    >>> cr.linalg.matrix_power(a, -1)
    tensor([[ 0.5, -0.5],
            [ 0. ,  1. ]], grad_fn=<inv>)
    """
    a = as_array(a)
    _check_square("matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"linalg.matrix_power: the exponent must be an integer, got {n!r}") from None
    if n == 0:
        return where(_eye(a), np.ones_like(a), np.zeros_like(a))
    if n < 0:
        a, n = inv(a), -n
    if n <= 3:
        return a if n == 1 else a @ a if n == 2 else (a @ a) @ a
    result = square = None
    while n:  # the bits of n, from the lowest: square a, and multiply the squares whose bit is set
        square = a if square is None else square @ square
        n, bit = divmod(n, 2)
        if bit:
            result = square if result is None else result @ square
    return result


def cond(x: Any, p: Any = None) -> Any:
    """The condition number of each matrix of a stack, as ``numpy.linalg.cond``: ``s_max / s_min`` for p None or 2
    (``s_min / s_max`` for -2), else ``norm(x, p) * norm(inv(x), p)`` (square matrices; p 'fro', 'nuc', 1, -1, inf,
    -inf). Differentiable through the singular values or the inverse and norm. A singular matrix gives inf, as in
    NumPy; its gradient does not exist (for p None or +-2 it comes out inf/nan; the other p refuse it).

    >>> import chainrule as cr
    >>> float(cr.linalg.cond(cr.tensor([[3.0, 0.0], [0.0, 0.5]])))
    6.0
    """
    x = as_array(x)
    _check_matrix("cond", x)
    if x.size == 0:
        raise np.linalg.LinAlgError("linalg.cond is not defined on empty arrays")
    if p is None or (not isinstance(p, str) and p in (2, -2)):
        s = _svd_s(x)
        big, small = getitem(s, (Ellipsis, 0)), getitem(s, (Ellipsis, -1))
        with np.errstate(divide="ignore", invalid="ignore"):  # a singular matrix: inf (0 / 0 for the zero matrix)
            r = small / big if p == -2 else big / small
        # NaN (0 / 0) where x holds no NaN is inf, as NumPy has it
        # (decided on the values: plain calls eagerly, recorded steps inside vmap and cr.compile)
        infinite = logical_and(isnan(decision_values(r)), ~isnan(decision_values(x)).any(axis=(-2, -1)))
        return where(infinite, math.inf, r) if isinstance(infinite, Tensor) or infinite.any() else r
    _check_square("cond", x)
    try:
        inverse = inv(x)
    except np.linalg.LinAlgError:
        if holds_box((x,)):
            raise np.linalg.LinAlgError(f"linalg.cond(p={p!r}) of a singular matrix: its condition number is inf, "
                                        "which has no derivative") from None
        xv = values(x)  # NumPy's values (inf for the singular matrices of a stack), as a constant
        value = backend.namespace(xv).asarray(np.linalg.cond(xv, p))
        return Tensor._from_node(value, None) if isinstance(x, Tensor) else value
    return norm(x, p, axis=(-2, -1)) * norm(inverse, p, axis=(-2, -1))


def matrix_rank(a: Any, tol: Any = None, hermitian: bool = False, *, rtol: Any = None) -> Any:
    """The number of singular values above ``tol`` (by default ``s_max * max(m, n) * eps``), as
    ``numpy.linalg.matrix_rank``, computed on the values: an integer has no gradient, so it is NumPy's result (an
    int, or an integer array for a stack), never a tensor being differentiated.

    >>> import chainrule as cr
    >>> int(cr.linalg.matrix_rank(cr.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)))
    1
    """
    options = {key: values(v) for key, v in (("tol", tol), ("rtol", rtol)) if v is not None}
    if hermitian:
        options["hermitian"] = True
    return np.linalg.matrix_rank(values(a), **options)


def tensorsolve(a: Any, b: Any, axes: Sequence[int] | None = None) -> Any:
    """The x with ``tensordot(a, x, axes=x.ndim) == b``, as ``numpy.linalg.tensorsolve``: one ``solve`` of a
    reshaped to a square matrix (``axes`` first move those axes of a to the end), differentiable in both.

    >>> import numpy as np, chainrule as cr
    >>> a = cr.tensor(np.eye(6).reshape(2, 3, 6) * 2.0)
    >>> cr.linalg.tensorsolve(a, cr.ones((2, 3))).shape
    (6,)
    """
    a, b = as_array(a), as_array(b)
    if axes is not None:
        moved = [k % a.ndim for k in axes]
        a = transpose(a, (*(k for k in range(a.ndim) if k not in moved), *moved))
    shape = a.shape[b.ndim:]
    size = math.prod(shape)
    if a.size != size * size:
        raise np.linalg.LinAlgError(f"linalg.tensorsolve: a {a.shape} must hold prod(a.shape[b.ndim:]) ** 2 "
                                    f"entries for b {b.shape}")
    return reshape(solve(reshape(a, (size, size)), reshape(b, (-1,))), shape)


def tensorinv(a: Any, ind: int = 2) -> Any:
    """The inverse of a for ``tensordot(·, ·, ind)``, as ``numpy.linalg.tensorinv``: ``inv`` of a reshaped to a
    square matrix, shape ``a.shape[ind:] + a.shape[:ind]``.

    >>> import numpy as np, chainrule as cr
    >>> cr.linalg.tensorinv(cr.tensor(np.eye(4).reshape(4, 2, 2)), ind=1).shape
    (2, 2, 4)
    """
    a = as_array(a)
    if ind <= 0:
        raise ValueError(f"linalg.tensorinv: ind must be positive, got {ind}")
    size = math.prod(a.shape[ind:])
    if a.size != size * size:
        raise np.linalg.LinAlgError(f"linalg.tensorinv: a {a.shape} is not square for ind={ind}")
    return reshape(inv(reshape(a, (size, size))), a.shape[ind:] + a.shape[:ind])
