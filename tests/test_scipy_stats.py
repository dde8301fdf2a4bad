"""cr.scipy.stats: every method of every distribution against scipy.stats on grids that cross the support's ends,
derivatives in the data and in every parameter against finite differences (order 2, both modes), the refusals of
shape parameters without a closed-form derivative, and parameters out of range."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pytest
import scipy.stats as st

import chainrule as cr
from chainrule import backend
from stand_in_gpu import provider

C = cr.scipy.stats
X = np.array([-3.0, -0.5, 0.0, 0.2, 0.7, 1.0, 2.5, 40.0])
CONTINUOUS: list[tuple[str, tuple[float, ...], dict[str, float]]] = [
    ("norm", (), {"loc": 0.3, "scale": 1.7}), ("t", (3.5,), {"loc": 0.1, "scale": 2.0}),
    ("gamma", (2.5,), {"loc": -0.2, "scale": 1.3}), ("beta", (2.0, 3.0), {"loc": -0.1, "scale": 1.5}),
    ("chi2", (3.0,), {"loc": 0.1, "scale": 0.8}), ("expon", (), {"loc": 0.1, "scale": 2.0}),
    ("laplace", (), {"loc": 0.1, "scale": 2.0}), ("cauchy", (), {"loc": 0.1, "scale": 2.0}),
    ("logistic", (), {"loc": 0.1, "scale": 2.0}), ("uniform", (), {"loc": -0.5, "scale": 2.0}),
    ("lognorm", (0.7,), {"loc": -0.1, "scale": 1.5}), ("vonmises", (2.0,), {"loc": 0.1, "scale": 1.0}),
]
METHODS = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]
CASES = [pytest.param(n, s, kw, m, id=f"{n}-{m}") for n, s, kw in CONTINUOUS for m in METHODS]


@pytest.mark.parametrize(("name", "shapes", "kwargs", "method"), CASES)
def test_values_match_scipy(name: str, shapes: tuple[float, ...], kwargs: dict[str, float], method: str) -> None:
    with np.errstate(all="ignore"):
        expected = getattr(getattr(st, name), method)(X, *shapes, **kwargs)
    # past a full turn the von Mises cdf exceeds 1 (SciPy's, and so chainrule's): the log of its sf is NaN there
    with np.errstate(invalid="ignore") if name == "vonmises" else contextlib.nullcontext():
        got = getattr(getattr(C, name), method)(X, *shapes, **kwargs)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=1e-300)
    # SciPy's positional order: shapes, then loc and scale
    with np.errstate(invalid="ignore") if name == "vonmises" else contextlib.nullcontext():
        positional = getattr(getattr(C, name), method)(X, *shapes, kwargs["loc"], kwargs["scale"])
    np.testing.assert_array_equal(np.asarray(positional), np.asarray(got))


@pytest.mark.parametrize(("name", "shapes", "kwargs"), CONTINUOUS, ids=[c[0] for c in CONTINUOUS])
def test_entropy_matches_scipy(name: str, shapes: tuple[float, ...], kwargs: dict[str, float]) -> None:
    expected = getattr(st, name).entropy(*shapes, **kwargs)
    assert float(getattr(C, name).entropy(*shapes, **kwargs)) == pytest.approx(float(expected), rel=1e-12)


# points inside each support, for the derivatives: (x, shapes, loc, scale)
INSIDE = {
    "norm": (np.array([-0.4, 1.3]), ()), "t": (np.array([-0.4, 1.3]), (3.5,)),
    "gamma": (np.array([0.4, 2.3]), (2.5,)), "beta": (np.array([0.15, 0.7]), (2.0, 3.0)),
    "chi2": (np.array([0.4, 2.3]), (3.0,)), "expon": (np.array([0.4, 2.3]), ()),
    "laplace": (np.array([-0.4, 1.3]), ()), "cauchy": (np.array([-0.4, 1.3]), ()),
    "logistic": (np.array([-0.4, 1.3]), ()), "uniform": (np.array([0.15, 0.7]), ()),
    "lognorm": (np.array([0.4, 2.3]), (0.7,)), "vonmises": (np.array([-0.4, 1.3]), (2.0,)),
}
# the shape parameters whose cumulative functions have no closed-form derivative (they call betainc, gammainc, stdtr)
NO_CDF_SHAPE_DERIVATIVE = {"t", "gamma", "chi2", "beta"}
GRAD_CASES = [pytest.param(n, m, id=f"{n}-{m}") for n in INSIDE for m in [*METHODS, "entropy"]]


@pytest.mark.parametrize(("name", "method"), GRAD_CASES)
def test_derivatives_in_the_data_and_every_parameter(name: str, method: str) -> None:
    x, shapes = INSIDE[name]
    dist = getattr(C, name)
    loc, scale = np.array(0.05), np.array(1.1)
    with_shapes = method in ("logpdf", "pdf", "entropy") or name not in NO_CDF_SHAPE_DERIVATIVE
    params = tuple(np.array(s) for s in shapes) if with_shapes else ()
    fixed = () if with_shapes else shapes
    if method == "entropy":
        assert cr.gradcheck(lambda *p: dist.entropy(*p[:-1], scale=p[-1]), *params, scale, order=2)
        return

    def f(v: Any, lo: Any, sc: Any, *p: Any) -> Any:
        return getattr(dist, method)(v, *fixed, *p, loc=lo, scale=sc)

    assert cr.gradcheck(f, x, loc, scale, *params, order=2)


@pytest.mark.parametrize(("name", "call"), [
    ("stdtr", lambda df: C.t.cdf(0.3, df)), ("gammainc", lambda a: C.gamma.cdf(0.3, a)),
    ("gammaincc", lambda a: C.gamma.sf(0.3, a)), ("betainc", lambda a: C.beta.cdf(0.3, a, 2.0)),
    ("gammainc", lambda df: C.chi2.cdf(0.3, df)),
], ids=["t", "gamma-cdf", "gamma-sf", "beta", "chi2"])
def test_cdf_shape_derivatives_without_closed_form_are_refused(name: str, call: Any) -> None:
    with pytest.raises(TypeError, match=f"scipy.special.{name} has no closed-form derivative"):
        cr.grad(call)(2.5)


def test_the_tails_keep_their_digits() -> None:
    np.testing.assert_allclose(C.norm.logcdf(-40.0), st.norm.logcdf(-40.0), rtol=1e-14)
    np.testing.assert_allclose(C.norm.logsf(40.0), st.norm.logsf(40.0), rtol=1e-14)
    np.testing.assert_allclose(C.expon.logcdf(40.0), st.expon.logcdf(40.0), rtol=1e-12)
    np.testing.assert_allclose(C.logistic.logsf(1000.0), st.logistic.logsf(1000.0), rtol=1e-14)
    assert float(cr.grad(lambda v: C.norm.logcdf(v))(-40.0)) == pytest.approx(40.0 + 1 / 40, rel=1e-4)
    with np.errstate(all="raise"):  # no warning at the ends of the supports
        assert float(C.gamma.logcdf(-1.0, 2.0)) == -np.inf
        assert float(C.beta.logsf(2.0, 2.0, 3.0)) == -np.inf
        assert float(cr.grad(lambda v: C.gamma.logpdf(v, 2.0))(-1.0)) == 0.0


# ---- discrete ---------------------------------------------------------------------------------------------------
K = np.array([-1.0, 0.0, 0.5, 2.0, 3.0, 5.0, 7.0])
DISCRETE = [("poisson", (3.0,)), ("binom", (5, 0.3))]


@pytest.mark.parametrize(("name", "shapes"), DISCRETE, ids=[d[0] for d in DISCRETE])
@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"])
def test_discrete_values_match_scipy(name: str, shapes: tuple[Any, ...], method: str) -> None:
    with np.errstate(all="ignore"):
        expected = getattr(getattr(st, name), method)(K, *shapes, loc=1.0)
    got = getattr(getattr(C, name), method)(K, *shapes, loc=1.0)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("method", ["logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"])
def test_discrete_derivatives_in_the_rate_and_the_probability(method: str) -> None:
    k = np.array([0.0, 2.0, 4.0])
    assert cr.gradcheck(lambda mu: getattr(C.poisson, method)(k, mu), np.array(2.7), order=2)
    assert cr.gradcheck(lambda p: getattr(C.binom, method)(k, 6, p), np.array(0.35), order=2)


# ---- multivariate -----------------------------------------------------------------------------------------------
def test_dirichlet_against_scipy() -> None:
    alpha = np.array([1.5, 2.0, 3.0])
    x = np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]]).T  # components along the first axis, as SciPy
    np.testing.assert_allclose(C.dirichlet.logpdf(x, alpha), st.dirichlet.logpdf(x, alpha), rtol=1e-13)
    np.testing.assert_allclose(C.dirichlet.pdf(x[:, 0], alpha), st.dirichlet.pdf(x[:, 0], alpha), rtol=1e-13)
    assert float(C.dirichlet.entropy(alpha)) == pytest.approx(st.dirichlet.entropy(alpha), rel=1e-12)
    assert cr.gradcheck(C.dirichlet.logpdf, x, alpha, order=2)
    assert cr.gradcheck(C.dirichlet.entropy, alpha, order=2)
    with pytest.raises(ValueError, match="dirichlet: x has 2 components along its first axis, alpha 3"):
        C.dirichlet.logpdf(x.T, alpha)


def test_multivariate_normal_against_scipy_and_its_derivatives() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    cov = a @ a.T + np.eye(3)
    mean, x = rng.standard_normal(3), rng.standard_normal((4, 3))
    np.testing.assert_allclose(C.multivariate_normal.logpdf(x, mean, cov),
                               st.multivariate_normal.logpdf(x, mean, cov), rtol=1e-12)
    np.testing.assert_allclose(C.multivariate_normal.logpdf(x[0], mean, cov),
                               st.multivariate_normal.logpdf(x[0], mean, cov), rtol=1e-12)
    np.testing.assert_allclose(C.multivariate_normal.pdf(x, None, np.array([1.0, 2.0, 0.5])),
                               st.multivariate_normal.pdf(x, np.zeros(3), np.array([1.0, 2.0, 0.5])), rtol=1e-12)
    np.testing.assert_allclose(C.multivariate_normal.logpdf(x, mean, 2.0),
                               st.multivariate_normal.logpdf(x, mean, 2.0), rtol=1e-12)
    assert float(C.multivariate_normal.entropy(mean, cov)) == pytest.approx(
        st.multivariate_normal.entropy(mean, cov), rel=1e-12)
    # in the data, the mean and the covariance (through a factor, so every perturbation stays symmetric)
    assert cr.gradcheck(lambda v, m, f: C.multivariate_normal.logpdf(v, m, f @ f.T + np.eye(3)), x, mean, a,
                        order=2)
    # d/dmean of sum logpdf = sum cov^-1 (x - mean)
    grad = cr.grad(lambda m: C.multivariate_normal.logpdf(x, m, cov).sum())(mean)
    np.testing.assert_allclose(grad, np.linalg.solve(cov, (x - mean).sum(0)), rtol=1e-12)


# ---- calls and parameters ---------------------------------------------------------------------------------------
def test_calls_are_checked_as_scipy_would_call_them() -> None:
    with pytest.raises(TypeError, match=r"gamma\.logpdf\(\) missing the shape parameter 'a'"):
        C.gamma.logpdf(1.0)
    with pytest.raises(TypeError, match=r"norm\.cdf\(\) got an unexpected keyword argument 'mu'"):
        C.norm.cdf(1.0, mu=0.0)
    with pytest.raises(TypeError, match=r"norm\.pdf\(\) got multiple values for argument 'loc'"):
        C.norm.pdf(1.0, 0.0, loc=1.0)
    with pytest.raises(TypeError, match=r"norm\.pdf\(\) takes at most 3 arguments"):
        C.norm.pdf(1.0, 0.0, 1.0, 2.0)
    assert float(C.t.logpdf(0.5, df=3.0)) == pytest.approx(st.t.logpdf(0.5, df=3.0), rel=1e-14)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: C.norm.logpdf(0.0, scale=0.0), "norm: scale must be positive"),
    (lambda: C.gamma.logpdf(1.0, -2.0), "gamma: a must be positive"),
    (lambda: C.binom.pmf(1, 3, 1.5), r"binom: p must lie in \[0, 1\]"),
    (lambda: C.dirichlet.logpdf([0.5, 0.5], [1.0, 0.0]), "dirichlet: alpha must be positive"),
])
def test_parameters_out_of_range_are_refused(call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_vonmises_cdf_is_its_density_integrated_at_any_concentration() -> None:
    from scipy.integrate import quad

    for kappa in (0.01, 0.5, 2.0, 30.0, 80.0, 500.0):  # SciPy's normal approximation above 50 is off by ~1e-6
        for x in (-2.5, 0.05, 0.2, 1.0, 3.0):
            exact = 0.5 + quad(lambda t: st.vonmises.pdf(t, kappa), 0.0, x, epsabs=1e-14, epsrel=1e-12, limit=200)[0]
            assert float(C.vonmises.cdf(x, kappa)) == pytest.approx(exact, abs=1e-12)
    # a full turn further is one more whole probability, as SciPy's
    np.testing.assert_allclose(C.vonmises.cdf(np.array([0.3 + 2 * np.pi, 0.3 - 2 * np.pi]), 2.0),
                               st.vonmises.cdf([0.3 + 2 * np.pi, 0.3 - 2 * np.pi], 2.0), rtol=1e-12)
    assert cr.gradcheck(lambda x, k: C.vonmises.cdf(x, k), np.array([0.3, -1.0]), np.array([2.0, 60.0]), order=2)


def test_float32_data_stays_float32() -> None:
    x = cr.tensor(np.array([0.3, 1.2], dtype=np.float32), requires_grad=True)
    for value in (C.norm.logpdf(x, 0.1, 2.0), C.gamma.logpdf(x, 2.0), C.t.logpdf(x, 3.0), C.beta.logpdf(x / 2, 2, 3),
                  C.logistic.logcdf(x), C.lognorm.logsf(x, 0.5), C.vonmises.logpdf(x, 2.0)):
        assert value.dtype == np.float32
        value.sum().backward()
        assert x.grad is not None and x.grad.dtype == np.float32


def test_a_bayesian_regression_log_posterior() -> None:
    """Student-t likelihood, normal and gamma priors: the gradient of the whole against finite differences."""
    rng = np.random.default_rng(1)
    features, targets = rng.standard_normal((20, 3)), rng.standard_normal(20)

    def log_posterior(w: Any, log_sigma: Any) -> Any:
        sigma = cr.exp(log_sigma)
        likelihood = C.t.logpdf(targets, 4.0, loc=features @ w, scale=sigma).sum()
        return likelihood + C.norm.logpdf(w, 0.0, 2.0).sum() + C.gamma.logpdf(sigma, 2.0, scale=0.5) + log_sigma

    w, log_sigma = rng.standard_normal(3), np.array(-0.3)
    expected = (st.t.logpdf(targets, 4.0, loc=features @ w, scale=np.exp(log_sigma)).sum()
                + st.norm.logpdf(w, 0.0, 2.0).sum() + st.gamma.logpdf(np.exp(log_sigma), 2.0, scale=0.5) + log_sigma)
    assert float(log_posterior(w, log_sigma)) == pytest.approx(float(expected), rel=1e-12)
    assert cr.gradcheck(log_posterior, w, log_sigma, order=2)


@pytest.mark.parametrize("call", [
    lambda v: C.norm.logcdf(v, 0.1, 2.0), lambda v: C.t.cdf(v, 3.0), lambda v: C.gamma.logpdf(v, 2.0),
    lambda v: C.beta.sf(v, 2.0, 3.0), lambda v: C.laplace.cdf(v), lambda v: C.vonmises.logpdf(v, 2.0),
    lambda v: C.multivariate_normal.logpdf(v, v * 0.5, cr.eye(3, device=v.device)),
], ids=["norm", "t", "gamma", "beta", "laplace", "vonmises", "multivariate_normal"])
def test_on_the_stand_in_gpu(call: Any) -> None:
    host = np.array([0.3, 1.2, -0.5])
    expected = cr.grad(lambda v: call(v).sum())(host)
    with backend.use_provider(provider):
        x = cr.tensor(host, device="cuda", requires_grad=True)
        y = call(x)
        y.sum().backward()
        assert y.device == "cuda:0" and x.grad is not None
        np.testing.assert_allclose(x.grad.cpu().numpy(), expected, rtol=1e-12)


def test_frozen_distributions_as_scipy() -> None:
    x = np.array([0.3, 1.7])
    frozen = C.gamma(2.5, loc=0.1, scale=1.3)
    for method in METHODS:
        np.testing.assert_allclose(getattr(frozen, method)(x), getattr(st.gamma(2.5, loc=0.1, scale=1.3), method)(x),
                                   rtol=1e-12)
    assert float(frozen.entropy()) == pytest.approx(st.gamma(2.5, loc=0.1, scale=1.3).entropy(), rel=1e-12)
    np.testing.assert_allclose(C.poisson(3.0).pmf([1, 2]), st.poisson(3.0).pmf([1, 2]), rtol=1e-13)
    np.testing.assert_allclose(C.multivariate_normal([0.0, 1.0], np.eye(2)).logpdf(x),
                               st.multivariate_normal([0.0, 1.0], np.eye(2)).logpdf(x), rtol=1e-13)
    # differentiable in the frozen parameters
    assert cr.gradcheck(lambda lo, sc, v: C.norm(lo, sc).logpdf(v), np.array(0.2), np.array(1.5), x, order=2)


@pytest.mark.parametrize(("name", "params"), [
    ("poisson", (0.5,)), ("poisson", (3.0,)), ("poisson", (250.0,)), ("binom", (5, 0.3)), ("binom", (20, 0.9)),
    ("binom", (1, 0.5)),
], ids=lambda v: str(v))
def test_discrete_entropy_matches_scipy_and_differentiates(name: str, params: tuple[float, ...]) -> None:
    dist = getattr(C, name)
    assert float(dist.entropy(*params)) == pytest.approx(float(getattr(st, name).entropy(*params)), rel=1e-12)
    *constant, rate = params
    assert cr.gradcheck(lambda r: dist.entropy(*constant, r), np.array([rate]), order=2)


def test_discrete_entropy_broadcasts_over_parameters() -> None:
    n, p = np.array([5, 10]), np.array([0.3, 0.6])
    np.testing.assert_allclose(C.binom.entropy(n, p), st.binom.entropy(n, p), rtol=1e-12)
    np.testing.assert_allclose(C.poisson(np.array([1.0, 7.0])).entropy(), st.poisson.entropy([1.0, 7.0]), rtol=1e-12)
