"""NumPy's other linear algebra (issue 10): einsum's sublist form, lstsq, matrix_power, multi_dot, cond,
matrix_rank, tensorsolve and tensorinv. Values against NumPy, gradients against finite differences (reverse and
forward, order 2), NumPy's own functions on tensors, and the refusals."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import linalg as LA
from chainrule.ops.linalg import _chain_order

RNG = np.random.default_rng(2026)


def rand(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.uniform(-1.0, 1.0, shape)


def well_conditioned(*shape: int) -> np.ndarray[Any, Any]:
    return 0.4 * rand(*shape) + 1.5 * np.eye(shape[-1])


def check(f: Callable[..., Any], *args: Any) -> None:
    assert cr.gradcheck(f, *args, order=2, modes=("rev", "fwd"))


def close(got: Any, expected: Any, tol: float = 1e-10) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=tol, atol=tol)


# ---- einsum's sublist form ------------------------------------------------------------------------------------------
E = Ellipsis
SUBLIST_CASES: list[tuple[str, list[Any]]] = [
    ("matmul", [(2, 3), [0, 1], (3, 4), [1, 2], [0, 2]]),
    ("implicit", [(2, 3), [0, 1], (3, 4), [1, 2]]),
    ("transpose", [(2, 3), [1, 0]]),
    ("implicit transpose", [(2, 3), [30, 2]]),  # 30 sorts after 2, as NumPy orders the integers
    ("trace", [(3, 3), [0, 0]]),
    ("diagonal", [(3, 3), [4, 4], [4]]),
    ("broadcast", [(2, 2, 3), [E, 0, 1], (3, 2), [1, 2], [E, 0, 2]]),
    ("broadcast implicit", [(2, 2, 3), [E, 0, 1], (3, 2), [1, 2]]),
    ("three operands", [(2,), [0], (3,), [1], (2, 3), [0, 1], []]),
    ("numpy integers", [(2, 3), [np.int64(0), np.int8(51)], [np.int64(51)]]),
    ("an array of labels", [(2, 3), np.array([3, 1]), (3,), (1,), np.array([3])]),
]


def _operands(spec: list[Any]) -> list[Any]:
    return [rand(*s) if k % 2 == 0 and k < len(spec) - (len(spec) % 2) else s for k, s in enumerate(spec)]


@pytest.mark.parametrize(("name", "spec"), SUBLIST_CASES, ids=[c[0] for c in SUBLIST_CASES])
def test_einsum_sublist_form_matches_numpy_and_gradchecks(name: str, spec: list[Any]) -> None:
    args = _operands(spec)
    places = list(range(0, len(args) - (len(args) % 2), 2))  # the operands' positions

    def f(*ops: Any) -> Any:
        full = list(args)
        for k, op in zip(places, ops):
            full[k] = op
        return cr.einsum(*full)

    expected = np.einsum(*args)
    close(f(*[args[k] for k in places]), expected)
    check(f, *[args[k] for k in places])
    # np.einsum on tensors, differentiated
    tensors = list(args)
    for k in places:
        tensors[k] = cr.tensor(args[k], requires_grad=True)
    out = np.einsum(*tensors)
    assert isinstance(out, cr.Tensor) and out.requires_grad
    close(out, expected)
    cr.sum(out * np.ones(np.shape(expected))).backward()
    for k in places:
        close(tensors[k].grad, cr.grad(lambda v, k=k: cr.sum(f(*[v if j == k else args[j] for j in places])))(args[k]))


@pytest.mark.parametrize(("args", "error"), [
    ((np.ones(2), [52]), ValueError), ((np.ones(2), [-1]), ValueError), ((np.ones(2), [0.5]), ValueError),
    ((np.ones(2), "i"), TypeError), ((np.ones(2), [True]), ValueError), ((np.ones(2), 0), TypeError),
])
def test_einsum_sublist_form_refuses_bad_labels(args: tuple[Any, ...], error: type) -> None:
    with pytest.raises(error, match="einsum"):
        cr.einsum(*args)


# ---- lstsq -----------------------------------------------------------------------------------------------------------
def _compare_lstsq(a: np.ndarray, b: np.ndarray, rcond: float | None = None) -> None:
    x, residuals, rank, s = LA.lstsq(cr.tensor(a), cr.tensor(b), rcond=rcond)
    ex, eres, erank, es = np.linalg.lstsq(a, b, rcond=rcond)
    close(x, ex)
    assert residuals.shape == eres.shape and residuals.dtype == eres.dtype
    close(residuals, eres)
    assert rank == erank and isinstance(rank, int)
    close(s, es)


@pytest.mark.parametrize(("sa", "sb"), [((4, 2), (4,)), ((4, 2), (4, 3)), ((3, 3), (3,)), ((2, 4), (2,)),
                                        ((2, 4), (2, 2)), ((5, 1), (5, 2))])
def test_lstsq_full_rank_matches_numpy_and_gradchecks(sa: tuple[int, int], sb: tuple[int, ...]) -> None:
    a = rand(*sa) + np.eye(*sa)
    b = rand(*sb)
    _compare_lstsq(a, b)
    check(lambda a, b: LA.lstsq(a, b)[0], a, b)
    check(lambda a: LA.lstsq(a, b)[3], a)
    if sa[0] > sa[1]:
        check(lambda a, b: LA.lstsq(a, b)[1], a, b)


def test_lstsq_gradient_of_the_solution_against_the_normal_equations() -> None:
    a, b, w = rand(5, 3) + np.eye(5, 3), rand(5), rand(3)
    ga, gb = cr.grad(lambda a, b: (LA.lstsq(a, b)[0] * w).sum(), argnums=(0, 1))(a, b)
    ea, eb = cr.grad(lambda a, b: (LA.solve(a.T @ a, a.T @ b) * w).sum(), argnums=(0, 1))(a, b)
    close(ga, ea, 1e-9)
    close(gb, eb, 1e-9)


def test_lstsq_rank_deficient_matches_numpy_and_refuses_a_gradient_in_a() -> None:
    a = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0]])
    b = np.array([1.0, 0.0, 2.0])
    _compare_lstsq(a, b)
    _compare_lstsq(a, b, rcond=1e-3)
    assert LA.lstsq(a, b)[2] == 1 and LA.lstsq(a, b)[1].shape == (0,)
    # in b alone the minimum-norm solution is linear, pinv(a) b, at any rank
    w = rand(2)
    close(cr.grad(lambda b: (LA.lstsq(a, b)[0] * w).sum())(b), np.linalg.pinv(a).T @ w)
    with pytest.raises(np.linalg.LinAlgError, match="rank 1"):
        cr.grad(lambda a: LA.lstsq(a, b)[0].sum())(a)


def test_lstsq_keeps_float32_and_refuses_stacks() -> None:
    a, b = (rand(4, 2) + np.eye(4, 2)).astype(np.float32), rand(4).astype(np.float32)
    x, residuals, _, s = LA.lstsq(cr.tensor(a, requires_grad=True), b)
    ex, eres, _, es = np.linalg.lstsq(a, b)
    assert x.dtype == ex.dtype == np.float32 and residuals.dtype == eres.dtype and s.dtype == es.dtype
    close(x, ex, 1e-5)
    with pytest.raises(np.linalg.LinAlgError, match="lstsq"):
        LA.lstsq(rand(2, 3, 2), rand(2, 3))
    with pytest.raises(np.linalg.LinAlgError, match="lstsq"):
        LA.lstsq(rand(3, 2), rand(4))


# ---- matrix_power, multi_dot -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [-3, -2, -1, 0, 1, 2, 3, 5, 6])
def test_matrix_power_matches_numpy_and_gradchecks(n: int) -> None:
    a = well_conditioned(2, 3, 3) * 0.8
    close(LA.matrix_power(a, n), np.linalg.matrix_power(a, n))
    close(np.linalg.matrix_power(cr.tensor(a, requires_grad=True), n), np.linalg.matrix_power(a, n))
    check(lambda a: LA.matrix_power(a, n), a)


def test_matrix_power_zero_and_integers() -> None:
    a = cr.tensor(well_conditioned(3, 3), requires_grad=True)
    np.testing.assert_array_equal(LA.matrix_power(a, 0).data, np.eye(3))
    np.testing.assert_array_equal(cr.grad(lambda a: LA.matrix_power(a, 0).sum())(a.data), np.zeros((3, 3)))
    ints = np.array([[1, 2], [3, 4]])
    got = LA.matrix_power(ints, 4)
    assert got.dtype == ints.dtype
    np.testing.assert_array_equal(got, np.linalg.matrix_power(ints, 4))
    assert LA.matrix_power(np.float32(2) * np.eye(2, dtype=np.float32), -2).dtype == np.float32
    with pytest.raises(TypeError, match="integer"):
        LA.matrix_power(a, 1.5)
    with pytest.raises(ValueError, match="square"):
        LA.matrix_power(rand(2, 3), 2)


@pytest.mark.parametrize("shapes", [
    [(2, 3), (3, 4)], [(3,), (3, 4)], [(2, 3), (3, 4), (4, 2)], [(3,), (3, 4), (4,)], [(4,), (4, 2), (2, 3)],
    [(2, 3), (3, 4), (4, 5), (5, 2)], [(2, 3), (3, 1), (1, 4), (4, 3), (3,)], [(3,), (3, 2), (2, 2), (2, 3), (3,)],
])
def test_multi_dot_matches_numpy_and_gradchecks(shapes: list[tuple[int, ...]]) -> None:
    arrays = [rand(*s) for s in shapes]
    close(LA.multi_dot(arrays), np.linalg.multi_dot(arrays))
    close(np.linalg.multi_dot([cr.tensor(x, requires_grad=True) for x in arrays]), np.linalg.multi_dot(arrays))
    check(lambda *xs: LA.multi_dot(list(xs)), *arrays)


def test_multi_dot_chooses_the_cheapest_order_and_refuses_bad_input() -> None:
    # (10 x 100)(100 x 5)(5 x 50): (AB)C costs 7500 multiplications, A(BC) 75000
    assert _chain_order([10, 100, 5, 50])[0][2] == 1
    assert _chain_order([50, 5, 100, 10])[0][2] == 0
    with pytest.raises(ValueError, match="at least two"):
        LA.multi_dot([rand(2, 2)])
    with pytest.raises(ValueError, match="matrices"):
        LA.multi_dot([rand(2, 2), rand(2, 2, 2), rand(2, 2)])
    with pytest.raises(TypeError, match="out="):
        LA.multi_dot([rand(2, 2), rand(2, 2)], out=np.empty((2, 2)))  # type: ignore[arg-type]


# ---- cond, matrix_rank -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf])
def test_cond_matches_numpy_and_gradchecks(p: Any) -> None:
    a = well_conditioned(2, 3, 3)
    close(LA.cond(a, p), np.linalg.cond(a, p))
    close(np.linalg.cond(cr.tensor(a, requires_grad=True), p), np.linalg.cond(a, p))
    check(lambda a: LA.cond(a, p), a)
    if p in (None, 2, -2):
        wide = rand(2, 4) + np.eye(2, 4)
        close(LA.cond(wide, p), np.linalg.cond(wide, p))
        check(lambda a: LA.cond(a, p), wide)


def test_cond_of_singular_matrices_is_inf_as_numpy() -> None:
    stack = np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), np.eye(2)])
    for p in (1, math.inf, "fro"):
        np.testing.assert_array_equal(LA.cond(cr.tensor(stack), p).data, np.linalg.cond(stack, p))
        with pytest.raises(np.linalg.LinAlgError, match="singular"):
            cr.grad(lambda a, p=p: LA.cond(a, p).sum())(stack)
    zero = np.zeros((2, 2))
    assert float(LA.cond(zero)) == np.linalg.cond(zero) == math.inf
    with pytest.raises(np.linalg.LinAlgError, match="empty"):
        LA.cond(np.zeros((0, 0)))


def test_matrix_rank_computes_on_the_values() -> None:
    cases = [well_conditioned(3, 3), np.array([[1.0, 2.0], [2.0, 4.0]]), np.zeros((2, 3)),
             np.stack([np.eye(3), np.diag([1.0, 1.0, 0.0])])]
    for a in cases:
        np.testing.assert_array_equal(LA.matrix_rank(cr.tensor(a, requires_grad=True)), np.linalg.matrix_rank(a))
    a = np.diag([1.0, 1e-3, 1e-9])
    for options in ({"tol": 1e-2}, {"rtol": 1e-6}, {"hermitian": True}, {}):
        assert LA.matrix_rank(a, **options) == np.linalg.matrix_rank(a, **options)
    # an int: fine inside a transform, and from NumPy's own function on a tensor
    assert int(cr.grad(lambda x: x.sum() * float(np.linalg.matrix_rank(x)))(np.eye(2))[0, 0]) == 2


# ---- tensorsolve, tensorinv ------------------------------------------------------------------------------------------
def test_tensorsolve_matches_numpy_and_gradchecks() -> None:
    a = well_conditioned(6, 6).reshape(2, 3, 6)
    b = rand(2, 3)
    close(LA.tensorsolve(a, b), np.linalg.tensorsolve(a, b))
    close(np.linalg.tensorsolve(cr.tensor(a, requires_grad=True), b), np.linalg.tensorsolve(a, b))
    check(LA.tensorsolve, a, b)
    moved = np.moveaxis(a, 2, 0)  # axes=(0,) moves it back to the end
    close(LA.tensorsolve(moved, b, axes=(0,)), np.linalg.tensorsolve(moved, b, axes=(0,)))
    close(LA.tensorsolve(moved, b, axes=(0,)), np.linalg.tensorsolve(a, b))
    check(lambda a, b: LA.tensorsolve(a, b, axes=(0,)), moved, b)
    with pytest.raises(np.linalg.LinAlgError, match="tensorsolve"):
        LA.tensorsolve(rand(2, 3, 4), rand(2, 3))


@pytest.mark.parametrize(("shape", "ind"), [((4, 2, 2), 1), ((2, 3, 6), 2), ((2, 2, 2, 2), 2)])
def test_tensorinv_matches_numpy_and_gradchecks(shape: tuple[int, ...], ind: int) -> None:
    n = math.prod(shape[ind:])
    a = well_conditioned(n, n).reshape(shape)
    close(LA.tensorinv(a, ind), np.linalg.tensorinv(a, ind))
    close(np.linalg.tensorinv(cr.tensor(a, requires_grad=True), ind=ind), np.linalg.tensorinv(a, ind))
    check(lambda a: LA.tensorinv(a, ind), a)


def test_tensorinv_refuses_bad_shapes() -> None:
    with pytest.raises(ValueError, match="ind"):
        LA.tensorinv(rand(2, 2), 0)
    with pytest.raises(np.linalg.LinAlgError, match="square"):
        LA.tensorinv(rand(2, 3, 4), 1)


# ---- under every transform, written with NumPy's functions only ------------------------------------------------------
A = well_conditioned(3, 3)
LINALG_NUMPY_ONLY: dict[str, Any] = {
    "einsum sublists": lambda x: np.einsum(np.outer(x, x) + A, [0, 1], x, [1], [0]),
    "lstsq": lambda x: np.linalg.lstsq(A[:, :2] + np.outer(x, x[:2]) * 0.1, x, rcond=None)[0],
    "lstsq residuals": lambda x: np.linalg.lstsq(A[:, :2] * x[:, None], np.ones(3), rcond=None)[1],
    "matrix_power": lambda x: np.linalg.matrix_power(A + np.eye(3) * x * 0.2, -3) @ x,
    "multi_dot": lambda x: np.linalg.multi_dot([x, A, np.outer(x, x), A, x]),
    "cond": lambda x: np.linalg.cond(A + np.eye(3) * x * 0.2) * np.linalg.cond(A * x, 1),
    "matrix_rank": lambda x: x * np.linalg.matrix_rank(A * x),
    "tensorsolve": lambda x: np.linalg.tensorsolve((A + np.eye(3) * x * 0.2).reshape(3, 3), x),
    "tensorinv": lambda x: np.linalg.tensorinv((A + np.outer(x, x) * 0.1).reshape(3, 3), ind=1) @ x,
}


@pytest.mark.parametrize("name", list(LINALG_NUMPY_ONLY))
def test_new_linalg_under_jacfwd_hessian_and_grad(name: str) -> None:
    from test_elementwise import check_transforms

    check_transforms(LINALG_NUMPY_ONLY[name], np.array([0.3, -0.7, 1.4]))


def test_cond_under_vmap_and_compile_decides_infinite_per_matrix() -> None:
    x = np.stack([np.zeros((2, 2)), np.eye(2), np.array([[1.0, 0.0], [0.0, 0.0]]), np.array([[2.0, 1.0], [0.0, 1.0]])])
    with np.errstate(divide="ignore", invalid="ignore"):
        want = np.linalg.cond(x)
        np.testing.assert_allclose(cr.vmap(cr.linalg.cond)(x), want, rtol=1e-14)
        compiled = cr.compile(lambda v: cr.linalg.cond(cr.tensor(v)))
        for v, w in zip(x, want):
            np.testing.assert_allclose(compiled(v).data, w, rtol=1e-14)
