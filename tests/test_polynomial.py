"""Polynomials (ops/polynomial.py): polyval and polyfit against NumPy over shapes, degrees, weights and columns;
gradients through Horner's rule and through the least-squares solution by finite differences (order 2, both
modes); refusals; a fit inside a loss written with NumPy's functions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr

RNG = np.random.default_rng(5)


@pytest.mark.parametrize(("p", "x"), [
    (RNG.standard_normal(4), RNG.standard_normal((2, 3))),
    (RNG.standard_normal(1), RNG.standard_normal(5)),
    (RNG.standard_normal(3), np.array(0.7)),
    (RNG.standard_normal((3, 2)), RNG.standard_normal(2)),  # columns of coefficients, as NumPy broadcasts them
], ids=range(4))
def test_polyval_matches_numpy(p: Any, x: Any) -> None:
    expected = np.polyval(p, x)
    got = cr.polyval(cr.tensor(p), cr.tensor(x))
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13)
    np.testing.assert_allclose(np.polyval(cr.tensor(p), x).numpy(), expected, rtol=1e-13)
    assert cr.gradcheck(cr.polyval, p, x, order=2, modes=("rev", "fwd"))


def test_polyval_by_hand() -> None:
    # p(x) = 3x^2 + 1: p'(2) = 12; dp/dp_i = x^(2 - i)
    np.testing.assert_allclose(cr.grad(lambda x: cr.polyval([3.0, 0.0, 1.0], x))(2.0), 12.0)
    np.testing.assert_allclose(cr.grad(lambda c: cr.polyval(c, 2.0))(np.array([3.0, 0.0, 1.0])), [4.0, 2.0, 1.0])
    assert cr.polyval(np.ones(3, np.float32), np.float32(2.0)).dtype == np.float32
    np.testing.assert_array_equal(cr.polyval(np.zeros(0), np.ones(3)), np.polyval(np.zeros(0), np.ones(3)))


X = np.linspace(-1.5, 2.0, 11) + RNG.uniform(-0.05, 0.05, 11)
Y = RNG.standard_normal(11)
Y2 = RNG.standard_normal((11, 3))
W = RNG.uniform(0.5, 2.0, 11)


@pytest.mark.parametrize("deg", [0, 1, 2, 4])
@pytest.mark.parametrize(("y", "w"), [(Y, None), (Y2, None), (Y, W), (Y2, W)], ids=["1d", "columns", "w", "both"])
def test_polyfit_matches_numpy_and_differentiates_through_the_solution(deg: int, y: Any, w: Any) -> None:
    expected = np.polyfit(X, y, deg, w=w)
    got = cr.polyfit(cr.tensor(X), cr.tensor(y), deg, w=w)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.polyfit(cr.tensor(X), y, deg, w=w).numpy(), expected, rtol=1e-10, atol=1e-12)
    if w is None:
        assert cr.gradcheck(lambda a, b: cr.polyfit(a, b, deg), X, y, order=2, modes=("rev", "fwd"))
    else:
        assert cr.gradcheck(lambda a, b, c: cr.polyfit(a, b, deg, w=c), X, y, w, order=2, modes=("rev", "fwd"))


def test_polyfit_gradient_in_y_is_the_pseudoinverse() -> None:
    """The fit is linear in y: its Jacobian is pinv of the Vandermonde matrix."""
    jac = cr.jacobian(lambda b: cr.polyfit(X, b, 2))(Y)
    np.testing.assert_allclose(jac, np.linalg.pinv(np.vander(X, 3)), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cov", [True, "unscaled"])
@pytest.mark.parametrize(("y", "w"), [(Y, None), (Y2, W)], ids=["1d", "columns and w"])
def test_polyfit_covariance_matches_numpy(y: Any, w: Any, cov: Any) -> None:
    e_c, e_v = np.polyfit(X, y, 2, w=w, cov=cov)
    c, v = cr.polyfit(cr.tensor(X), cr.tensor(y), 2, w=w, cov=cov)
    np.testing.assert_allclose(c.numpy(), e_c, rtol=1e-10, atol=1e-12)
    assert v.shape == e_v.shape
    np.testing.assert_allclose(v.numpy(), e_v, rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(lambda a, b: cr.polyfit(a, b, 2, w=w, cov=cov)[1], X, y, order=2, modes=("rev", "fwd"))


def test_polyfit_refusals() -> None:
    with pytest.raises(TypeError, match=r"full=True .* is not supported"):
        cr.polyfit(X, Y, 2, full=True)
    with pytest.raises(ValueError, match="cov=True needs more points than coefficients"):
        cr.polyfit(X[:3], Y[:3], 2, cov=True)
    with pytest.raises(ValueError, match="rank deficient"):
        cr.polyfit(np.ones(5), np.arange(5.0), 1)
    with pytest.raises(ValueError, match="3 points cannot determine a polynomial of degree 3"):
        cr.polyfit(X[:3], Y[:3], 3)
    with pytest.raises(TypeError, match="y must be 1-d or 2-d with one row per x"):
        cr.polyfit(X, Y[:4], 1)
    with pytest.raises(TypeError, match="w must be one weight per point"):
        cr.polyfit(X, Y, 1, w=W[:3])
    with pytest.raises(ValueError, match="deg must be at least 0"):
        cr.polyfit(X, Y, -1)
    assert cr.polyfit(X.astype(np.float32), Y.astype(np.float32), 2).dtype == np.float32


def test_a_fit_inside_a_numpy_loss() -> None:
    """Fit a quadratic to noisy samples of a curve whose shape parameter is learned, in plain NumPy."""
    def loss(s: Any) -> Any:
        ys = np.tanh(s * X) + 0.1 * np.cos(7 * X)
        coefficients = np.polyfit(X, ys, 2)
        residual = ys - np.polyval(coefficients, X)
        return np.sum(residual**2) + np.sum(coefficients**2)

    assert cr.gradcheck(loss, np.array(0.8), order=2, modes=("rev", "fwd"))
    assert float(loss(cr.tensor(0.8))) == pytest.approx(float(loss(np.array(0.8))), rel=1e-12)
