"""cr.scipy.optimize.minimize: SciPy's methods with chainrule's exact derivatives, against SciPy's own finite
differences (same minimum, fewer evaluations) and SciPy's analytic Rosenbrock derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

import chainrule as cr

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])  # SciPy tutorial's start


def rosen(x):
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


@pytest.mark.parametrize("method", ["BFGS", "CG", "L-BFGS-B", "SLSQP", "TNC", "Newton-CG", "trust-ncg",
                                    "trust-krylov", "trust-exact", "trust-constr"])
def test_same_minimum_as_scipy_fewer_evaluations(method):
    options = {"maxfun": 3000} if method == "TNC" else {"maxiter": 3000}
    ours = cr.scipy.optimize.minimize(rosen, X0, method=method, options=options)
    assert np.allclose(ours.x, np.ones(5), atol=2e-3), (method, ours.x)
    if method in ("Newton-CG", "trust-ncg", "trust-krylov", "trust-exact"):
        # SciPy's own exact Rosenbrock derivatives: the same iterates, so the same counts
        kw = {"hess": scipy.optimize.rosen_hess} if method == "trust-exact" else \
            {"hessp": scipy.optimize.rosen_hess_prod}
        exact = scipy.optimize.minimize(scipy.optimize.rosen, X0, jac=scipy.optimize.rosen_der, method=method, **kw)
        assert ours.nit == exact.nit and ours.nfev == exact.nfev, method
    else:
        # SciPy estimating the gradient by finite differences (each gradient costs len(x) more evaluations)
        fd = scipy.optimize.minimize(scipy.optimize.rosen, X0, method=method, options=options)
        assert np.allclose(fd.x, ours.x, atol=1e-3), method
        assert ours.nfev < fd.nfev, (method, ours.nfev, fd.nfev)


def test_gradient_is_exact():
    res = cr.scipy.optimize.minimize(rosen, X0, method="BFGS", options={"maxiter": 1})
    value, g = cr.value_and_grad(rosen)(X0)
    assert np.isclose(float(value), scipy.optimize.rosen(X0))
    assert np.allclose(g, scipy.optimize.rosen_der(X0), rtol=1e-12)
    assert np.asarray(res.jac).shape == X0.shape


def test_pytree_parameters_keep_their_structure():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 3))
    w_true, b_true = np.array([1.0, -2.0, 0.5]), 0.3
    y = a @ w_true + b_true

    def loss(p, a, y):
        return ((a @ p["w"] + p["b"][0] - y) ** 2).mean() + 0.0 * (p["scale"] ** 2).sum()

    x0 = {"w": np.zeros(3), "b": [0.0], "scale": np.ones((2, 2))}
    res = cr.scipy.optimize.minimize(loss, x0, args=(a, y), method="trust-ncg")
    assert res.success
    assert set(res.x) == {"w", "b", "scale"} and res.x["scale"].shape == (2, 2) and isinstance(res.x["b"], list)
    assert np.allclose(res.x["w"], w_true, atol=1e-6) and np.isclose(float(res.x["b"][0]), b_true, atol=1e-6)
    assert res.jac["w"].shape == (3,)
    seen = []
    cr.scipy.optimize.minimize(loss, x0, args=(a, y), method="BFGS", callback=lambda p: seen.append(p["w"].shape))
    assert seen and seen[0] == (3,)


def test_gradient_free_method_gets_no_gradient():
    res = cr.scipy.optimize.minimize(lambda x: ((x - 2.0) ** 2).sum(), np.zeros(2), method="Nelder-Mead")
    assert np.allclose(res.x, 2.0, atol=1e-3)
    assert res.get("njev", 0) == 0  # SciPy would warn (an error here) had it been handed a gradient


def test_hessian_modes():
    f = lambda x: (x ** 4).sum() + (x ** 2).sum()
    product = cr.scipy.optimize.minimize(f, np.ones(3), method="trust-ncg")
    matrix = cr.scipy.optimize.minimize(f, np.ones(3), method="trust-ncg", hessian_mode="matrix")
    assert np.allclose(product.x, 0.0, atol=1e-6) and np.allclose(matrix.x, product.x, atol=1e-6)
    assert product.nhev > 0 and matrix.nhev > 0
    dogleg = cr.scipy.optimize.minimize(f, np.ones(3), method="dogleg")  # needs a positive definite Hessian
    assert dogleg.success and np.allclose(dogleg.x, 0.0, atol=1e-6) and dogleg.nhev > 0
    bfgs_like = cr.scipy.optimize.minimize(f, np.ones(3), method="trust-constr", hessian_mode="none")
    assert np.allclose(bfgs_like.x, 0.0, atol=1e-4)


def test_bounds_see_the_flat_vector():
    res = cr.scipy.optimize.minimize(lambda p: ((p["x"] - 3.0) ** 2).sum(), {"x": np.zeros(2)}, method="L-BFGS-B",
                                     bounds=[(0.0, 1.0), (0.0, 5.0)])
    assert np.allclose(res.x["x"], [1.0, 3.0], atol=1e-6)


def test_refusals():
    f = lambda x: (x ** 2).sum()
    with pytest.raises(TypeError, match="computes jac= itself"):
        cr.scipy.optimize.minimize(f, np.ones(2), jac=True)
    with pytest.raises(TypeError, match="real parameters"):
        cr.scipy.optimize.minimize(f, np.ones(2, dtype=complex))
    with pytest.raises(ValueError, match="hessian_mode"):
        cr.scipy.optimize.minimize(f, np.ones(2), hessian_mode="exact")
    with pytest.raises(ValueError, match="no parameters"):
        cr.scipy.optimize.minimize(f, {})
