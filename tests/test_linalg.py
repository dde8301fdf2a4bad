"""Linear algebra: products and contractions against NumPy, decompositions through gauge-invariant functions of their
outputs, gradients against finite differences (reverse and forward, order 2), batches, kinks and dtype.

The primitives themselves (einsum, inv, solve, det, cholesky, qr_q, eigh_*, svd_*, pinv, ...) are also checked by
the generated tests in test_ops.py; here the public composites are checked as users call them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import linalg as LA

RNG = np.random.default_rng(1234)


def rand(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.uniform(-1.0, 1.0, shape)


def well_conditioned(*shape: int) -> np.ndarray[Any, Any]:
    n = shape[-1]
    return 0.4 * rand(*shape) + 1.5 * np.eye(n)


def orthonormal(n: int, k: int) -> np.ndarray[Any, Any]:
    return np.linalg.qr(RNG.standard_normal((n, k)))[0]


def distinct_symmetric(*shape: int) -> np.ndarray[Any, Any]:
    """Symmetric with eigenvalues about a unit apart (batched over leading axes)."""
    n = shape[-1]
    mats = [(q * (np.arange(n) - 0.8 + 0.1 * rand(n))) @ q.T for q in (orthonormal(n, n) for _ in
                                                                       range(int(np.prod(shape[:-2], dtype=int))))]
    return np.array(mats).reshape(shape)


def distinct_singular(*shape: int) -> np.ndarray[Any, Any]:
    m, n = shape[-2:]
    k = min(m, n)
    mats = [(orthonormal(m, k) * (np.arange(k, 0, -1) + 0.1 * rand(k))) @ orthonormal(n, k).T
            for _ in range(int(np.prod(shape[:-2], dtype=int)))]
    return np.array(mats).reshape(shape)


def spd(*shape: int) -> np.ndarray[Any, Any]:
    b = rand(*shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


def mT(x: Any) -> Any:
    return LA.matrix_transpose(x)


def diag_embed_cols(m: Any, v: Any) -> Any:
    """m @ diag(v) for stacks: scale the columns of m by v."""
    return m * cr.reshape(v, (*v.shape[:-1], 1, v.shape[-1]))


def check(f: Callable[..., Any], *args: Any) -> None:
    assert cr.gradcheck(f, *args, order=2, modes=("rev", "fwd"))


def close(got: Any, expected: Any, tol: float = 1e-10) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=tol, atol=tol)


# ---- products and contractions ------------------------------------------------------------------------------------
PRODUCT_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 2)), ((2, 2, 3), (3, 2)),
                  ((2, 3), (2, 3, 2)), ((), (2, 3)), ((3,), ())]


@pytest.mark.parametrize(("sa", "sb"), PRODUCT_SHAPES)
def test_dot_matches_numpy_and_gradchecks(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    a, b = rand(*sa), rand(*sb)
    close(cr.dot(a, b), np.dot(a, b))
    close(cr.tensor(a).dot(b), np.dot(a, b))
    check(cr.dot, a, b)


@pytest.mark.parametrize(("sa", "sb"), [((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)), ((2, 1, 3), (2, 3)),
                                        ((), (2,)), ((2,), ())])
def test_inner_matches_numpy_and_gradchecks(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    a, b = rand(*sa), rand(*sb)
    close(cr.inner(a, b), np.inner(a, b))
    check(cr.inner, a, b)


def test_vdot_and_outer() -> None:
    a, b = rand(2, 3), rand(3, 2)
    close(cr.vdot(a, b), np.vdot(a, b))
    check(cr.vdot, a, b)
    x, y = rand(3), rand(2, 2)
    close(cr.outer(x, y), np.outer(x, y))
    check(cr.outer, x, y)


@pytest.mark.parametrize(("sa", "sb", "axes"), [
    ((2, 3, 2), (3, 2, 2), 2), ((2, 3), (3, 2), 1), ((2,), (3,), 0), ((2, 3, 2), (2, 3), ([0, 1], [0, 1])),
    ((3, 2), (2, 3), ([1], [0])), ((2, 3), (3, 2), (0, 1)), ((2, 3, 2), (2, 2), ([-1], [-2])),
])
def test_tensordot_matches_numpy_and_gradchecks(sa: tuple[int, ...], sb: tuple[int, ...], axes: Any) -> None:
    a, b = rand(*sa), rand(*sb)
    close(cr.tensordot(a, b, axes), np.tensordot(a, b, axes))
    check(lambda x, y: cr.tensordot(x, y, axes), a, b)


def test_tensordot_shape_mismatch_names_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"tensordot.*\(2, 3\)"):
        cr.tensordot(rand(2, 3), rand(2, 3), axes=1)


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("ij,jk", [(2, 3), (3, 2)]),            # implicit: output "ik"
    ("ba", [(2, 3)]),                        # implicit: alphabetical, so a transpose
    ("ij,ij", [(2, 3), (2, 3)]),              # implicit: a full contraction
    ("i,i", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),                          # trace
    ("iji->j", [(2, 3, 2)]),
    ("ij->", [(2, 3)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 2)]),
    ("...ij,...jk", [(1, 2, 3), (2, 3, 2)]),  # implicit with '...' and a broadcast size-1 axis
    ("i...,i...->...", [(2, 3), (2, 1)]),
    ("bi,bj,ij->b", [(2, 2), (2, 3), (2, 3)]),
    ("a...b,b->...a", [(2, 3, 2), (2,)]),
    (" ij , jk -> ik ", [(2, 2), (2, 2)]),
]


@pytest.mark.parametrize(("subscripts", "shapes"), EINSUM_CASES)
def test_einsum_matches_numpy_and_gradchecks(subscripts: str, shapes: list[tuple[int, ...]]) -> None:
    ops = [rand(*s) for s in shapes]
    out = cr.einsum(subscripts, *[cr.tensor(o) for o in ops])
    expected = np.einsum(subscripts.replace(" ", ""), *ops)
    assert out.shape == expected.shape
    close(out, expected)
    check(lambda *xs: cr.einsum(subscripts, *xs), *ops)


@pytest.mark.parametrize(("subscripts", "n"), [("ij,jk->ik", 1), ("ij->k", 1), ("ii->ii", 1), ("i.j", 1),
                                               ("...i->i", 1), ("ij", 1)])
def test_einsum_rejects_invalid_subscripts(subscripts: str, n: int) -> None:
    with pytest.raises(ValueError, match="einsum"):
        cr.einsum(subscripts, *[rand(2, 2, 2)] * n)


def test_einsum_large_operands_take_the_optimized_path() -> None:
    a, b = rand(70, 70), rand(70, 70)
    close(cr.einsum("ij,jk->ik", a, b), a @ b, 1e-9)


@pytest.mark.parametrize(("shape", "offset", "axis1", "axis2"), [
    ((3, 3), 0, 0, 1), ((3, 4), 1, 0, 1), ((4, 3), -1, 0, 1), ((3, 3), 5, 0, 1), ((2, 3, 3), 0, 1, 2),
    ((3, 2, 3), 1, 2, 0), ((2, 3, 4), -1, -1, 0),
])
def test_diagonal_and_trace_match_numpy_and_gradcheck(shape: tuple[int, ...], offset: int, axis1: int,
                                                     axis2: int) -> None:
    x = rand(*shape)
    close(cr.diagonal(x, offset, axis1, axis2), np.diagonal(x, offset, axis1, axis2))
    close(cr.trace(x, offset, axis1, axis2), np.trace(x, offset, axis1, axis2))
    t = cr.tensor(x)
    close(t.diagonal(offset, axis1, axis2), np.diagonal(x, offset, axis1, axis2))
    close(t.trace(offset, axis1, axis2), np.trace(x, offset, axis1, axis2))
    check(lambda y: cr.diagonal(y, offset, axis1, axis2), x)
    check(lambda y: cr.trace(y, offset, axis1, axis2), x)


def test_linalg_namespace_diagonal_and_trace_use_the_last_two_axes() -> None:
    x = rand(2, 3, 3)
    close(LA.diagonal(x), np.linalg.diagonal(x))
    close(LA.trace(x, offset=1), np.linalg.trace(x, offset=1))
    close(LA.matrix_transpose(x), np.linalg.matrix_transpose(x))
    close(LA.outer(rand(2), rand(3)).shape, (2, 3))


def test_ndarray_matmul_tensor_records_a_graph() -> None:
    a, b = rand(2, 3), cr.tensor(rand(3, 2), requires_grad=True)
    y = a @ b
    assert isinstance(y, cr.Tensor) and y.requires_grad
    y.sum().backward()
    assert b.grad is not None
    close(b.grad, a.T @ np.ones((2, 2)))
    close(b @ a, b.numpy() @ a)


# ---- inverse, solve, determinants ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3), (2, 1, 2, 2)])
def test_inv_det_slogdet_match_numpy_batched(shape: tuple[int, ...]) -> None:
    a = well_conditioned(*shape)
    a[..., 0, :] *= -1  # negative determinants too
    close(LA.inv(a), np.linalg.inv(a))
    close(LA.det(a), np.linalg.det(a))
    sign, logabsdet = LA.slogdet(cr.tensor(a))
    np.testing.assert_array_equal(sign.numpy(), np.linalg.slogdet(a)[0])
    close(logabsdet, np.linalg.slogdet(a)[1])
    check(LA.inv, a)
    check(LA.det, a)
    check(lambda x: LA.slogdet(x)[1], a)


def test_det_equals_sign_times_exp_logabsdet_values_and_gradients() -> None:
    a = well_conditioned(2, 3, 3)
    a[0, 0] *= -1
    x = cr.tensor(a, requires_grad=True)
    LA.det(x).sum().backward()
    grad_det = x.grad.numpy().copy()
    x.grad = None
    sign, logabsdet = LA.slogdet(x)
    y = sign * cr.exp(logabsdet)
    close(y, np.linalg.det(a))
    y.sum().backward()
    close(x.grad, grad_det)
    # Jacobi's formula: d det / dA = det(A) A^-T
    close(grad_det, np.linalg.det(a)[:, None, None] * np.swapaxes(np.linalg.inv(a), -1, -2))
    assert not sign.requires_grad


def test_solve_matrix_vector_and_batched() -> None:
    a, b = well_conditioned(3, 3), rand(3)
    close(LA.solve(a, b), np.linalg.solve(a, b))
    check(LA.solve, a, b)
    ab, bb = well_conditioned(2, 3, 3), rand(3)  # a vector b against a stack of matrices (NumPy 2 rule)
    close(LA.solve(ab, bb), np.linalg.solve(ab, bb))
    check(LA.solve, ab, bb)
    bm = rand(2, 3, 2)  # a stack of right-hand sides against one matrix: broadcasting
    close(LA.solve(a, bm), np.linalg.solve(a, bm))
    check(LA.solve, a, bm)


def test_inv_gradient_of_a_scalar_function() -> None:
    a = well_conditioned(3, 3)
    check(lambda x: (LA.inv(x) @ x.T).sum(), a)


def test_square_functions_reject_non_square_input() -> None:
    for fn in (LA.inv, LA.det, LA.slogdet, LA.cholesky, LA.eigh):
        with pytest.raises(ValueError, match="square"):
            fn(rand(2, 3))
    with pytest.raises(ValueError, match="square"):
        LA.solve(rand(2, 3), rand(2))


def test_singular_matrix_raises_linalg_error() -> None:
    with pytest.raises(np.linalg.LinAlgError):
        LA.inv(np.ones((2, 2)))


# ---- Cholesky -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_cholesky_matches_numpy_and_gradchecks(shape: tuple[int, ...]) -> None:
    a = spd(*shape)
    close(LA.cholesky(a), np.linalg.cholesky(a))
    close(LA.cholesky(a, upper=True), np.linalg.cholesky(a, upper=True))
    check(LA.cholesky, a)
    check(lambda x: LA.cholesky(x, upper=True), a)
    # half the log-determinant: sum(log(diag(L))) = log det(A) / 2
    check(lambda x: cr.log(LA.diagonal(LA.cholesky(x))).sum(), a)


def test_cholesky_reads_only_the_lower_triangle() -> None:
    a = spd(3, 3)
    messed = a + np.triu(rand(3, 3), 1)
    close(LA.cholesky(messed), np.linalg.cholesky(a))
    x = cr.tensor(messed, requires_grad=True)
    LA.cholesky(x).sum().backward()
    assert np.all(np.triu(x.grad.numpy(), 1) == 0)
    # the lower triangle's gradient is that of the symmetric function: both mirrored entries land on it
    s = cr.tensor(a, requires_grad=True)
    y = LA.cholesky((s + s.T) * 0.5)
    y.sum().backward()
    sym_grad = s.grad.numpy()
    close(np.tril(x.grad.numpy(), -1), np.tril(sym_grad + sym_grad.T, -1))


# ---- QR -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 3), (2, 3, 2), (2, 2, 3)])
def test_qr_reconstructs_and_matches_numpy_up_to_signs(shape: tuple[int, ...]) -> None:
    a = well_conditioned(*shape) if shape[-1] == shape[-2] else rand(*shape) + 0.5
    q, r = LA.qr(a)
    q_np, r_np = np.linalg.qr(a)
    assert q.shape == q_np.shape and r.shape == r_np.shape
    close(q @ r, a)
    k = min(shape[-2:])
    close(mT(q) @ q, np.broadcast_to(np.eye(k), (*shape[:-2], k, k)))
    assert np.all(np.tril(np.asarray(r), -1) == 0)
    assert np.all(np.diagonal(np.asarray(r), axis1=-2, axis2=-1) > 0)
    signs = np.sign(np.diagonal(r_np, axis1=-2, axis2=-1))
    close(q, q_np * signs[..., None, :])
    close(r, r_np * signs[..., :, None])
    close(LA.qr(a, mode="r"), r)


@pytest.mark.parametrize("shape", [(3, 3), (3, 2), (2, 3), (2, 3, 2)])
def test_qr_gradients(shape: tuple[int, ...]) -> None:
    a = well_conditioned(*shape) if shape[-1] == shape[-2] else rand(*shape) + 0.5
    check(lambda x: LA.qr(x)[0], a)
    check(lambda x: LA.qr(x)[1], a)
    check(lambda x: LA.qr(x)[0] @ LA.qr(x)[1], a)


def test_qr_unsupported_mode() -> None:
    with pytest.raises(ValueError, match="complete"):
        LA.qr(rand(3, 3), mode="complete")


# ---- symmetric eigendecomposition ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_eigh_matches_numpy_and_reconstructs(shape: tuple[int, ...]) -> None:
    a = distinct_symmetric(*shape)
    w, v = LA.eigh(a)
    w_np, v_np = np.linalg.eigh(a)
    close(w, w_np)
    close(v * v, v_np * v_np)  # the same eigenvectors up to sign
    close(diag_embed_cols(v, w) @ mT(v), a)
    close(LA.eigvalsh(a), w_np)
    # signs: each eigenvector's largest-magnitude entry is positive
    vv = np.asarray(v)
    big = np.take_along_axis(vv, np.argmax(np.abs(vv), axis=-2)[..., None, :], axis=-2)
    assert np.all(big > 0)


def test_eigh_upper_triangle() -> None:
    a = distinct_symmetric(3, 3)
    messed = a + np.tril(rand(3, 3), -1)
    w, v = LA.eigh(messed, UPLO="U")
    close(w, np.linalg.eigh(messed, UPLO="U")[0])
    close(diag_embed_cols(v, w) @ mT(v), a)
    check(lambda x: LA.eigh(x, UPLO="U")[1], messed)
    with pytest.raises(ValueError, match="UPLO"):
        LA.eigh(a, UPLO="X")


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_eigh_gradients_of_gauge_invariant_functions(shape: tuple[int, ...]) -> None:
    a = distinct_symmetric(*shape)
    check(lambda x: LA.eigh(x)[0].sum(), a)
    check(lambda x: LA.eigh(x)[0], a)
    check(lambda x: LA.eigh(x)[1] * LA.eigh(x)[1], a)
    check(lambda x: diag_embed_cols(LA.eigh(x)[1], LA.eigh(x)[0]) @ mT(LA.eigh(x)[1]), a)


def test_eigh_gradient_is_symmetric_function_gradient_folded_onto_lower_triangle() -> None:
    a = distinct_symmetric(3, 3)
    x = cr.tensor(a, requires_grad=True)
    (LA.eigh(x)[0] * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    v = np.linalg.eigh(a)[1]
    s_bar = (v * [1.0, 2.0, 3.0]) @ v.T  # d(sum_i c_i w_i)/dS = V diag(c) V^T
    close(x.grad, np.tril(s_bar + s_bar.T, -1) + np.diag(np.diag(s_bar)))


def test_eigh_repeated_eigenvalues() -> None:
    """Eigenvalues stay differentiable at a repeated eigenvalue; the eigenvectors' gradient is inf/nan there."""
    x = cr.tensor(np.eye(3), requires_grad=True)
    LA.eigvalsh(x).sum().backward()  # sum of eigenvalues = trace: gradient I
    close(x.grad, np.eye(3))
    y = cr.tensor(np.eye(3), requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        (LA.eigh(y)[1] * cr.tensor(rand(3, 3))).sum().backward()
    assert not np.all(np.isfinite(y.grad.numpy()))


# ---- singular value decomposition ---------------------------------------------------------------------------------
SVD_SHAPES = [(3, 3), (3, 2), (2, 3), (2, 3, 2), (2, 2, 3)]


@pytest.mark.parametrize("shape", SVD_SHAPES)
def test_svd_matches_numpy_and_reconstructs(shape: tuple[int, ...]) -> None:
    a = distinct_singular(*shape)
    u, s, vh = LA.svd(a)
    u_np, s_np, vh_np = np.linalg.svd(a, full_matrices=False)
    assert u.shape == u_np.shape and s.shape == s_np.shape and vh.shape == vh_np.shape
    close(s, s_np)
    close(u * u, u_np * u_np)
    close(vh * vh, vh_np * vh_np)
    close(diag_embed_cols(u, s) @ vh, a)
    close(LA.svd(a, compute_uv=False), s_np)
    close(LA.svdvals(a), s_np)


@pytest.mark.parametrize("shape", SVD_SHAPES)
def test_svd_gradients(shape: tuple[int, ...]) -> None:
    a = distinct_singular(*shape)
    check(lambda x: LA.svd(x)[1].sum(), a)
    check(lambda x: diag_embed_cols(LA.svd(x)[0], LA.svd(x)[1]) @ LA.svd(x)[2], a)
    check(lambda x: LA.svd(x)[0] * LA.svd(x)[0], a)
    check(lambda x: LA.svd(x)[2] * LA.svd(x)[2], a)
    # u_i v_i^T is sign-invariant: the rank-1 pieces
    check(lambda x: LA.svd(x)[0] @ LA.svd(x)[2], a)


def test_svd_full_matrices_is_rejected() -> None:
    with pytest.raises(ValueError, match="full_matrices"):
        LA.svd(rand(3, 2), full_matrices=True)


# ---- pseudo-inverse -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 3), (3, 2), (2, 3), (2, 3, 2)])
def test_pinv_matches_numpy_and_gradchecks(shape: tuple[int, ...]) -> None:
    a = distinct_singular(*shape)
    close(LA.pinv(a), np.linalg.pinv(a))
    close(LA.pinv(a, rcond=1e-10), np.linalg.pinv(a, rcond=1e-10))
    check(LA.pinv, a)


def test_pinv_of_full_column_rank_is_left_inverse_gradient() -> None:
    a = distinct_singular(3, 2)
    # for full column rank, pinv(A) = (A^T A)^-1 A^T: both compositions have the same gradient
    check(lambda x: LA.pinv(x) - LA.solve(mT(x) @ x, mT(x)), a)


# ---- norms --------------------------------------------------------------------------------------------------------
VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 3, 0.5, -1]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


@pytest.mark.parametrize("ord", VECTOR_ORDS)
def test_vector_norms_match_numpy_and_gradcheck(ord: Any) -> None:
    x = rand(4) + np.array([0.0, 2.5, -1.5, 0.7])  # distinct magnitudes, no zeros: no kinks
    close(LA.norm(x, ord), np.linalg.norm(x, ord))
    check(lambda y: LA.norm(y, ord), x)
    m = rand(2, 3) + 0.5 * np.arange(6).reshape(2, 3) + 0.3
    for axis in (0, 1, -1):
        for keepdims in (False, True):
            close(LA.norm(m, ord, axis=axis, keepdims=keepdims), np.linalg.norm(m, ord, axis=axis, keepdims=keepdims))
    check(lambda y: LA.norm(y, ord, axis=1, keepdims=True), m)


@pytest.mark.parametrize("ord", MATRIX_ORDS)
def test_matrix_norms_match_numpy_and_gradcheck(ord: Any) -> None:
    a = distinct_singular(3, 2) + 0.05 * np.arange(6).reshape(3, 2)
    close(LA.norm(a, ord), np.linalg.norm(a, ord))
    check(lambda y: LA.norm(y, ord), a)
    b = distinct_singular(2, 3, 2) + 0.05 * np.arange(12).reshape(2, 3, 2)
    for axis in ((1, 2), (2, 0), (-1, -2)):
        for keepdims in (False, True):
            close(LA.norm(b, ord, axis=axis, keepdims=keepdims), np.linalg.norm(b, ord, axis=axis, keepdims=keepdims))
    check(lambda y: LA.norm(y, ord, axis=(2, 0)), b)
    close(LA.matrix_norm(b, ord="fro" if ord is None else ord), np.linalg.matrix_norm(b, ord="fro" if ord is None
                                                                                           else ord))


def test_norm_defaults_and_other_forms() -> None:
    x = rand(2, 3, 2)
    close(LA.norm(x), np.linalg.norm(x))
    close(LA.norm(x, keepdims=True), np.linalg.norm(x, keepdims=True))
    close(LA.norm(np.array([3, 4])), 5.0)  # integers become floats
    close(LA.norm(x, 0, axis=0), np.linalg.norm(x, 0, axis=0))
    close(LA.vector_norm(x), np.linalg.vector_norm(x))
    close(LA.vector_norm(x, ord=1, keepdims=True), np.linalg.vector_norm(x, ord=1, keepdims=True))
    close(LA.vector_norm(x, axis=(0, 2), ord=3), np.linalg.vector_norm(x, axis=(0, 2), ord=3))
    close(LA.vector_norm(x, axis=(0, 2), keepdims=True), np.linalg.vector_norm(x, axis=(0, 2), keepdims=True))
    close(LA.vector_norm(x, axis=1), np.linalg.vector_norm(x, axis=1))
    with pytest.raises(ValueError):
        LA.norm(x, 1)
    with pytest.raises(ValueError):
        LA.norm(rand(3), "fro")
    with pytest.raises(ValueError):
        LA.norm(rand(3, 3), 3)


def test_norm_kinks() -> None:
    """At x = 0 the 2-norm's and p-norms' gradient is 0 (a subgradient); inf-norm ties split evenly."""
    for ord in (None, 2, 3):
        z = cr.tensor(np.zeros(3), requires_grad=True)
        LA.norm(z, ord).backward()
        np.testing.assert_array_equal(z.grad.numpy(), np.zeros(3))
    z = cr.tensor(np.zeros((2, 2)), requires_grad=True)
    LA.norm(z).backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.zeros((2, 2)))
    t = cr.tensor([2.0, -2.0, 1.0], requires_grad=True)
    LA.norm(t, np.inf).backward()
    np.testing.assert_array_equal(t.grad.numpy(), [0.5, -0.5, 0.0])
    m = cr.tensor([[1.0, -3.0], [2.0, 0.0]], requires_grad=True)  # both columns sum to 3: a tie
    LA.norm(m, 1).backward()
    np.testing.assert_array_equal(m.grad.numpy(), [[0.5, -0.5], [0.5, 0.0]])
    nan = LA.norm(cr.tensor([1.0, np.nan]), np.inf)
    assert np.isnan(float(nan))


# ---- dtype --------------------------------------------------------------------------------------------------------
FLOAT32_FUNCTIONS: list[tuple[str, Callable[..., Any], Callable[..., np.ndarray[Any, Any]]]] = [
    ("inv", LA.inv, well_conditioned), ("det", LA.det, well_conditioned),
    ("slogdet", lambda x: LA.slogdet(x)[1], well_conditioned), ("solve", lambda x: LA.solve(x, x[0]), well_conditioned),
    ("cholesky", LA.cholesky, spd), ("qr", lambda x: LA.qr(x)[0] + LA.qr(x)[1], well_conditioned),
    ("eigh", lambda x: LA.eigh(x)[0].sum() + LA.eigh(x)[1], distinct_symmetric),
    ("svd", lambda x: LA.svd(x)[0] + LA.svd(x)[1] + LA.svd(x)[2], distinct_singular),
    ("pinv", LA.pinv, distinct_singular), ("norm", lambda x: LA.norm(x, "nuc") + LA.norm(x, 1) + LA.norm(x), rand),
    ("einsum", lambda x: cr.einsum("ii,ij->j", x, x), rand), ("trace", cr.trace, rand),
    ("tensordot", lambda x: cr.tensordot(x, x), rand), ("outer", lambda x: cr.outer(x, x), rand),
]


@pytest.mark.parametrize(("name", "fn", "make"), FLOAT32_FUNCTIONS, ids=[f[0] for f in FLOAT32_FUNCTIONS])
def test_float32_in_float32_values_and_gradients_out(name: str, fn: Callable[..., Any],
                                                       make: Callable[..., np.ndarray[Any, Any]]) -> None:
    x = cr.tensor(make(3, 3).astype(np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32, name
    y.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32, name


def test_second_derivative_through_create_graph() -> None:
    """A Hessian-vector product of log det: d/dA <A^-T, V> = -A^-T V^T A^-T."""
    a = well_conditioned(3, 3)
    v = rand(3, 3)
    x = cr.tensor(a, requires_grad=True)
    (g,) = cr.engine.grad(LA.slogdet(x)[1], x, create_graph=True)
    (g * cr.tensor(v)).sum().backward()
    inv_t = np.linalg.inv(a).T
    close(x.grad, -inv_t @ v.T @ inv_t)


def test_decompositions_are_recomputed_after_an_in_place_change() -> None:
    """eigh/svd/slogdet remember their last decomposition (their parts are separate primitives); a change of the
    input's values, or of a returned array, must never leak into a later result."""
    a = distinct_symmetric(3, 3)
    x = cr.tensor(a.copy())
    w1 = LA.eigh(x)[0]
    w1.numpy()[:] = 0.0  # scribbling on a result does not touch what was remembered
    close(LA.eigh(x)[0], np.linalg.eigvalsh(a))
    with cr.no_grad():
        x += cr.tensor(np.eye(3))
    close(LA.eigh(x)[0], np.linalg.eigvalsh(a) + 1)
    b = distinct_singular(3, 2)
    s1 = LA.svd(b)[1]
    b *= 2.0
    close(LA.svd(b)[1], 2 * np.asarray(s1))
    c = well_conditioned(3, 3)
    LA.slogdet(c)
    c[0] *= -1
    assert float(LA.slogdet(c)[0]) == np.linalg.slogdet(c)[0]
