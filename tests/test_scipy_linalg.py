"""cr.scipy.linalg: values against SciPy, gradients against finite differences (cr.gradcheck, order 2, reverse and
forward) for the composites, float32 kept, the refusals, and the stand-in GPU. The primitives (solve_triangular,
solve_sylvester, sqrtm, logm, lu_unpivoted) are also in the generated tables (test_ops.py,
test_batching.py, test_gpu_ops.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.linalg as sl

import chainrule as cr
from chainrule import backend
from chainrule.scipy import linalg as L
from stand_in_gpu import provider

RNG = np.random.default_rng(11)


def _spd(n: int) -> np.ndarray[Any, Any]:
    b = RNG.uniform(-1, 1, (n, n))
    return b @ b.T + n * np.eye(n)


def _near_identity(n: int, scale: float = 0.4) -> np.ndarray[Any, Any]:
    return 2 * np.eye(n) + scale * RNG.uniform(-1, 1, (n, n))


def _check(f: Any, *inputs: Any) -> None:
    assert cr.gradcheck(f, *inputs, order=2, modes=("rev", "fwd"))


# ---- solves -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T"])
@pytest.mark.parametrize("unit_diagonal", [False, True])
def test_solve_triangular_against_scipy(lower: bool, trans: Any, unit_diagonal: bool) -> None:
    a, b = _near_identity(4), RNG.uniform(-1, 1, (4, 2))
    kw = {"lower": lower, "trans": trans, "unit_diagonal": unit_diagonal}
    np.testing.assert_allclose(L.solve_triangular(a, b, **kw), sl.solve_triangular(a, b, **kw), rtol=1e-12)
    np.testing.assert_allclose(L.solve_triangular(a, b[:, 0], **kw), sl.solve_triangular(a, b[:, 0], **kw),
                               rtol=1e-12)


def test_solve_triangular_gradients_reach_only_the_triangle_read() -> None:
    a, b = _near_identity(3), RNG.uniform(-1, 1, (3, 2))
    _check(lambda x, y: L.solve_triangular(x, y, lower=True, trans=1), a, b)
    _check(lambda x, y: L.solve_triangular(x, y, unit_diagonal=True), a, b)
    g = cr.grad(lambda x: L.solve_triangular(x, b, lower=True, unit_diagonal=True).sum())(a)
    assert np.all(np.triu(np.asarray(g)) == 0)


@pytest.mark.parametrize("lower", [False, True])
def test_cho_factor_and_cho_solve(lower: bool) -> None:
    a, b = _spd(4), RNG.uniform(-1, 1, (4, 3))
    c, low = L.cho_factor(a, lower=lower)
    ours = np.tril(c) if lower else np.triu(c)
    theirs = sl.cho_factor(a, lower=lower)[0]
    np.testing.assert_allclose(ours, np.tril(theirs) if lower else np.triu(theirs), rtol=1e-12)
    assert low is lower
    np.testing.assert_allclose(L.cho_solve((c, low), b), sl.cho_solve(sl.cho_factor(a, lower=lower), b),
                               rtol=1e-12)
    _check(lambda x, y: L.cho_solve(L.cho_factor(x, lower=lower), y), a, b)


def test_solve_banded_against_scipy_and_its_gradients() -> None:
    n, nl, nu = 5, 1, 2
    ab = RNG.uniform(-1, 1, (nl + nu + 1, n))
    ab[nu] += 4.0  # a dominant main diagonal
    b = RNG.uniform(-1, 1, (n, 2))
    np.testing.assert_allclose(L.solve_banded((nl, nu), ab, b), sl.solve_banded((nl, nu), ab, b), rtol=1e-12)
    np.testing.assert_allclose(L.solve_banded((nl, nu), ab, b[:, 0]), sl.solve_banded((nl, nu), ab, b[:, 0]),
                               rtol=1e-12)
    _check(lambda x, y: L.solve_banded((nl, nu), x, y), ab, b)
    g = np.asarray(cr.grad(lambda x: L.solve_banded((nl, nu), x, b).sum())(ab))
    assert g[0, :nu].tolist() == [0.0, 0.0] and g[-1, -nl:].tolist() == [0.0]  # outside the band: not read


def test_lu_factor_and_lu_solve_against_scipy() -> None:
    a, b = RNG.uniform(-1, 1, (4, 4)), RNG.uniform(-1, 1, (4, 2))
    lu, piv = L.lu_factor(a)
    lu0, piv0 = sl.lu_factor(a)
    np.testing.assert_allclose(lu, lu0, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(piv, piv0)
    assert piv.dtype == piv0.dtype and not (piv0 == np.arange(4)).all()  # this one pivots
    for trans in (0, 1, 2):
        np.testing.assert_allclose(L.lu_solve((lu, piv), b, trans=trans), sl.lu_solve((lu0, piv0), b, trans=trans),
                                   rtol=1e-11)
        np.testing.assert_allclose(L.lu_solve((lu, piv), b[:, 0], trans=trans),
                                   sl.lu_solve((lu0, piv0), b[:, 0], trans=trans), rtol=1e-11)
    _check(lambda x: L.lu_factor(x)[0], a)
    _check(lambda x, y: L.lu_solve(L.lu_factor(x), y, trans=1), a, b)
    _check(lambda x, y: L.lu_solve(L.lu_factor(x), y), a, b)
    with pytest.raises(ValueError, match="trans must be 0, 1 or 2"):
        L.lu_solve((lu, piv), b, trans=3)


def test_solve_sylvester_against_scipy() -> None:
    a, b, q = _near_identity(3), _near_identity(2) - np.eye(2), RNG.uniform(-1, 1, (3, 2))
    np.testing.assert_allclose(L.solve_sylvester(a, b, q), sl.solve_sylvester(a, b, q), rtol=1e-12)
    _check(L.solve_sylvester, a, b, q)


# ---- matrix functions ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [0.1, 1.0, 30.0])
def test_expm_against_scipy_at_every_scaling(scale: float) -> None:
    a = scale * RNG.uniform(-1, 1, (4, 4))
    np.testing.assert_allclose(L.expm(a), sl.expm(a), rtol=1e-11, atol=1e-13 * np.abs(sl.expm(a)).max())
    stack = RNG.uniform(-1, 1, (2, 3, 3))
    np.testing.assert_allclose(L.expm(stack), sl.expm(stack), rtol=1e-12)


def test_expm_gradient_is_the_frechet_derivative() -> None:
    a, e = RNG.uniform(-1, 1, (3, 3)), RNG.uniform(-1, 1, (3, 3))
    _check(L.expm, 2.0 * a)
    _, tangent = cr.jvp(L.expm, (a,), (e,))
    np.testing.assert_allclose(tangent, sl.expm_frechet(a, e, compute_expm=False), rtol=1e-11)


def test_sqrtm_and_logm_against_scipy_and_their_frechet_derivatives() -> None:
    a, e = _near_identity(3), RNG.uniform(-1, 1, (3, 3))
    for ours, theirs in ((L.sqrtm, sl.sqrtm), (L.logm, sl.logm)):
        np.testing.assert_allclose(ours(a), theirs(a), rtol=1e-12)
        _check(ours, a)
        h = 1e-6  # the Fréchet derivative, by central differences of SciPy's function
        frechet = (theirs(a + h * e) - theirs(a - h * e)) / (2 * h)
        np.testing.assert_allclose(cr.jvp(ours, (a,), (e,))[1], frechet, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(L.expm(L.logm(a)), a, rtol=1e-12)
    for size in (1e-12, 1e12):  # the derivative is linear in E, however large or small E is
        np.testing.assert_allclose(cr.jvp(L.logm, (a,), (size * e,))[1], size * cr.jvp(L.logm, (a,), (e,))[1],
                                   rtol=1e-12)


def test_a_real_matrix_without_a_real_root_or_logarithm_is_refused() -> None:
    a = np.diag([-1.0, 2.0])
    for fn, name in ((L.sqrtm, "sqrt"), (L.logm, "log")):
        with pytest.raises(ValueError, match=f"no real {name}"):
            fn(a)


# ---- block_diag and eigh ------------------------------------------------------------------------------------------
def test_block_diag_against_scipy() -> None:
    blocks = (RNG.uniform(size=(2, 3)), RNG.uniform(size=3), 2.5, RNG.uniform(size=(1, 1)))
    np.testing.assert_array_equal(L.block_diag(*blocks), sl.block_diag(*blocks))
    assert L.block_diag().shape == sl.block_diag().shape
    _check(lambda x, y: L.block_diag(x, y), blocks[0], blocks[1])
    with pytest.raises(ValueError, match="two or fewer dimensions"):
        L.block_diag(np.ones((1, 1, 1)))


def _signs(v: np.ndarray[Any, Any], ref: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return v * np.sign(np.sum(v * ref, axis=0))


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("kind", [None, 1, 2, 3])
def test_eigh_against_scipy(lower: bool, kind: int | None) -> None:
    a = RNG.uniform(-1, 1, (4, 4))
    b = _spd(4) + RNG.uniform(-0.1, 0.1, (4, 4))  # not symmetric: only one triangle is read
    args = (a,) if kind is None else (a, b)
    kw: dict[str, Any] = {"lower": lower} if kind is None else {"lower": lower, "type": kind}
    w, v = L.eigh(*args, **kw)
    w0, v0 = sl.eigh(*args, **kw)
    np.testing.assert_allclose(w, w0, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(_signs(v, v0), v0, rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(L.eigh(*args, eigvals_only=True, **kw), w0, rtol=1e-12, atol=1e-13)


def test_eigh_subsets_and_gradients() -> None:
    a, b = RNG.uniform(-1, 1, (4, 4)), _spd(4)
    a = a + a.T
    w0 = sl.eigh(a, b, eigvals_only=True)
    w = L.eigh(a, b, eigvals_only=True, subset_by_index=[1, 2])
    np.testing.assert_allclose(w, sl.eigh(a, b, eigvals_only=True, subset_by_index=[1, 2]), rtol=1e-12)
    cut = (w0[0] + w0[1]) / 2, w0[3]
    np.testing.assert_allclose(L.eigh(a, b, eigvals_only=True, subset_by_value=cut),
                               sl.eigh(a, b, eigvals_only=True, subset_by_value=cut), rtol=1e-12)
    _check(lambda x, y: L.eigh(x, y, eigvals_only=True), a, b)
    _check(lambda x, y: L.eigh(x, y, subset_by_index=(0, 1))[1], a, b)
    _check(lambda x: L.eigh(x, lower=False)[1], a)


def test_eigh_refusals() -> None:
    a = np.eye(2)
    with pytest.raises(ValueError, match="type must be 1, 2 or 3"):
        L.eigh(a, a, type=4)
    with pytest.raises(ValueError, match="driver must be one of"):
        L.eigh(a, driver="nope")
    with pytest.raises(ValueError, match="cannot be given together"):
        L.eigh(a, subset_by_index=(0, 0), subset_by_value=(0, 1))
    with pytest.raises(ValueError, match=r"0 <= lo <= hi < 2"):
        L.eigh(a, subset_by_index=(1, 2))


# ---- refusals, dtypes, devices ------------------------------------------------------------------------------------
def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="infs or NaNs"):
        L.solve_triangular(np.array([[np.nan]]), np.ones(1))
    with pytest.raises(ValueError, match="square"):
        L.expm(np.ones((2, 3)))
    with pytest.raises(TypeError, match="complex matrices are not supported"):
        L.sqrtm(np.eye(2) * (1 + 1j))
    with pytest.raises(ValueError, match="trans must be"):
        L.solve_triangular(np.eye(2), np.ones(2), trans=3)
    with pytest.raises(ValueError, match=r"= \(3, n\) for \(l, u\) = \(1, 1\)"):
        L.solve_banded((1, 1), np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match="q must have shape"):
        L.solve_sylvester(np.eye(2), np.eye(3), np.ones((3, 2)))


def test_float32_stays_float32() -> None:
    a32 = _near_identity(3).astype(np.float32)
    for fn in (L.expm, L.sqrtm, L.logm, lambda x: L.solve_triangular(x, x[0]),
               lambda x: L.cho_solve(L.cho_factor(x @ x.T), x[0]), lambda x: L.eigh(x + x.T)[0],
               lambda x: L.lu_solve(L.lu_factor(x), x), lambda x: L.solve_sylvester(x, x, x)):
        out = fn(cr.tensor(a32))
        assert out.dtype == np.float32


def test_on_the_stand_in_gpu() -> None:
    a, e = _near_identity(3), _spd(3)
    with backend.use_provider(provider):
        x = cr.tensor(a, device="cuda", requires_grad=True)
        for ours, theirs in ((L.expm, sl.expm), (L.sqrtm, sl.sqrtm), (L.logm, sl.logm),
                             (lambda m: L.solve_sylvester(m, m, m), lambda m: sl.solve_sylvester(m, m, m)),
                             (lambda m: L.cho_solve(L.cho_factor(m @ m.T), m), lambda m: sl.cho_solve(
                                 sl.cho_factor(m @ m.T), m))):
            out = ours(x)
            assert out.device == "cuda:0"
            np.testing.assert_allclose(out.cpu(), theirs(a), rtol=1e-10, atol=1e-12)
            (g,) = cr.autograd.grad(out.sum(), x)
            assert g.device == "cuda:0"
        lu, piv = L.lu_factor(x)
        assert lu.device == "cuda:0"
        np.testing.assert_allclose(lu.cpu(), sl.lu_factor(a)[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_array_equal(piv, sl.lu_factor(a)[1])
        np.testing.assert_allclose(L.lu_solve((lu, piv), x).cpu(), np.eye(3), atol=1e-13)
        np.testing.assert_allclose(L.solve_banded((1, 1), x, x).cpu(), sl.solve_banded((1, 1), a, a), rtol=1e-12)
        w = L.eigh(cr.tensor(e, device="cuda"), eigvals_only=True, subset_by_value=(0.0, 1e9))
        np.testing.assert_allclose(w.cpu(), sl.eigh(e, eigvals_only=True), rtol=1e-12)


def test_under_vmap_as_a_loop_over_the_examples() -> None:
    a, b = RNG.uniform(-1, 1, (3, 3, 3)), RNG.uniform(-1, 1, (3, 3, 2))
    spd = a @ np.swapaxes(a, -1, -2) + 3 * np.eye(3)
    cases = [(lambda x, y: L.solve_triangular(x, y, lower=True), (spd, b)),
             (lambda x, y: L.cho_solve(L.cho_factor(x), y), (spd, b)),
             (lambda x, y: L.sqrtm(x) @ y, (spd, b)),
             (lambda x, y: L.eigh(x, subset_by_index=(1, 2))[1] * y[0, 0], (spd, b))]
    for fn, args in cases:
        expected = np.stack([np.asarray(fn(*example)) for example in zip(*args)])
        np.testing.assert_allclose(cr.vmap(fn)(*args), expected, rtol=1e-12, atol=1e-14)
