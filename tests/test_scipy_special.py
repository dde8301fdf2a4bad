"""cr.scipy.special: values against SciPy on grids that reach the ends of each domain, stable derivatives there, the
refusals of arguments without a closed-form derivative, the composites (logsumexp with weights and signs,
multigammaln, softmax over every axis), SciPy's own ufuncs on tensors, and SciPy as an optional import. The
primitives' derivatives against finite differences, to order 2 in both modes, and on the stand-in GPU, come from the
generated tables (test_ops.py, test_batching.py, test_gpu_ops.py)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.special as sp

import chainrule as cr
from chainrule import backend
from chainrule.scipy import special as S
from stand_in_gpu import provider

ROOT = Path(__file__).resolve().parent.parent
X = np.array([-1e300, -40.0, -5.5, -1.0, -1e-300, 0.0, 1e-300, 0.3, 1.0, 7.5, 40.0, 1e5, 1e300, np.inf, -np.inf])
P = np.array([0.0, 1e-300, 1e-12, 0.2, 0.5, 0.999999, 1.0])
POS = np.array([1e-300, 1e-10, 0.5, 1.0, 2.5, 171.5, 1e10, 1e300, np.inf])
GRIDS: dict[str, tuple[Any, ...]] = {
    "gammaln": (X,), "gamma": (X,), "rgamma": (X,), "gammasgn": (X,), "digamma": (X,), "psi": (X,),
    "erf": (X,), "erfc": (X,), "erfcx": (X,), "ndtr": (X,), "log_ndtr": (X,), "expit": (X,), "log_expit": (X,),
    "erfinv": (2 * P - 1,), "erfcinv": (2 * P,), "ndtri": (P,), "logit": (P,), "entr": (X,),
    "i0": (X,), "i1": (X,), "i0e": (X,), "i1e": (X,), "j0": (X,), "j1": (X,), "y0": (POS,), "y1": (POS,),
    "beta": (POS[:, None], POS), "betaln": (POS[:, None], POS),
    "xlogy": (X[:, None], np.concatenate([POS, [0.0]])), "xlog1py": (X[:, None], np.array([-1.0, -0.5, 0.0, 3.0])),
    "rel_entr": (X[:, None], np.concatenate([POS, [0.0]])), "kl_div": (X[:, None], np.concatenate([POS, [0.0]])),
    "betainc": (np.array([0.5, 1.0, 3.0])[:, None, None], np.array([1.0, 2.5])[:, None], P),
    "gammainc": (np.array([0.5, 1.0, 30.0])[:, None], POS), "gammaincc": (np.array([0.5, 1.0, 30.0])[:, None], POS),
    "iv": (np.array([-1.5, 0.0, 2.0])[:, None], POS), "ive": (np.array([-1.5, 0.0, 2.0])[:, None], X),
    "jn": (np.array([-1.5, 0.0, 3.0])[:, None], X), "yn": (np.array([-1, 0, 3])[:, None], POS),
    "polygamma": (np.array([0, 1, 4])[:, None], POS),
    "stdtr": (np.array([1.0, 3.5, 30.0])[:, None], X), "zeta": (np.array([1.5, 2.0, 7.0])[:, None], POS),
}


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_values_match_scipy_on_grids_to_the_ends_of_the_domain(name: str) -> None:
    args = GRIDS[name]
    with np.errstate(all="ignore"):  # SciPy's reference is allowed NumPy's own warnings (inf - inf on a grid's ends)
        expected = getattr(sp, name)(*args)
    got = getattr(S, name)(*[cr.tensor(a) for a in args])
    assert got.dtype == expected.dtype
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-14, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", ["gammaln", "digamma", "erfc", "erfcx", "log_ndtr", "ndtr", "i0e", "j1", "entr"])
def test_float32_stays_float32(name: str) -> None:
    x = cr.tensor(np.array([0.25, 1.5, 3.0], dtype=np.float32), requires_grad=True)
    y = getattr(S, name)(x)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad is not None and x.grad.dtype == np.float32
    for fn, args in [(S.betainc, (2, 3, x / 4)), (S.gammainc, (2, x)), (S.yn, (2, x)), (S.polygamma, (1, x)),
                     (S.zeta, (2, x))]:
        assert fn(*args).dtype == np.float32, fn


# ---- reused, not duplicated -------------------------------------------------------------------------------------
def test_the_functions_chainrule_has_are_the_same_objects() -> None:
    assert S.expit is cr.sigmoid and S.log_expit is cr.log_sigmoid and S.erf is cr.erf and S.sinc is cr.sinc
    assert S.psi is S.digamma


# ---- stable derivatives at the ends of the domains --------------------------------------------------------------
def test_log_ndtr_deep_in_the_lower_tail() -> None:
    x = np.array([-1e5, -40.0, -8.0, 0.0, 8.0, 40.0])
    grad = cr.grad(lambda v: S.log_ndtr(v).sum())(x)
    # d/dx log Phi(x) = phi(x) / Phi(x): -x (1 + 1/x^2 - 2/x^4 + ...)^-1... at -1e5; scipy's own values elsewhere
    mills = np.exp(-0.5 * x[1:5] ** 2 - sp.log_ndtr(x[1:5])) / math.sqrt(2 * math.pi)
    assert grad[0] == pytest.approx(1e5 + 1e-5, rel=1e-12)
    np.testing.assert_allclose(grad[1:5], mills, rtol=1e-12)
    assert grad[5] == pytest.approx(0.0, abs=1e-300)
    hess = cr.grad(cr.grad(lambda v: S.log_ndtr(v)))
    assert float(hess(-40.0)) == pytest.approx(-1.0, rel=1e-3)  # d/dx (-x - 1/x) = -1 + 1/x^2
    assert float(hess(40.0)) == 0.0  # phi(40) underflows: no inf/inf at second order either


def test_erfcx_for_large_arguments() -> None:
    x = np.array([29.0, 31.0, 1e3, 1e8, 1e150])
    grad = cr.grad(lambda v: S.erfcx(v).sum())(x)
    u = 1 / x**2  # the asymptotic series, written out term by term: -(1/sqrt(pi)) sum_k (2k+1) c_k x^-(2k+2)
    asymptotic = -u / math.sqrt(math.pi) * (1 - 1.5 * u + 3.75 * u**2 - 13.125 * u**3 + 59.0625 * u**4)
    np.testing.assert_allclose(grad[1:], asymptotic[1:], rtol=1e-12)
    direct = 2 * x[:2] * sp.erfcx(x[:2]) - 2 / math.sqrt(math.pi)  # where the direct formula is still exact
    np.testing.assert_allclose(grad[:2], direct, rtol=1e-10)
    # and both sides of the switch continue each other at second order
    second = cr.grad(cr.grad(S.erfcx))
    assert float(second(30.0 - 1e-9)) == pytest.approx(float(second(30.0 + 1e-9)), rel=1e-9)


def test_expit_and_log_expit_at_plus_minus_1000() -> None:
    x = np.array([-1000.0, 1000.0])
    np.testing.assert_array_equal(S.expit(x), [0.0, 1.0])
    np.testing.assert_array_equal(cr.grad(lambda v: S.expit(v).sum())(x), [0.0, 0.0])
    np.testing.assert_array_equal(S.log_expit(x), [-1000.0, 0.0])
    np.testing.assert_array_equal(cr.grad(lambda v: S.log_expit(v).sum())(x), [1.0, 0.0])


def test_xlogy_at_x_zero() -> None:
    dy = cr.grad(lambda y: S.xlogy(np.zeros(3), y).sum())(np.array([0.0, 2.0, 0.5]))
    np.testing.assert_array_equal(dy, [0.0, 0.0, 0.0])  # 0 log y = 0 along y, y = 0 included
    dx = cr.grad(lambda x: S.xlogy(x, np.array([2.0, 0.0])).sum())(np.zeros(2))
    np.testing.assert_array_equal(dx, [math.log(2.0), -np.inf])  # x log 0 = -inf for any x != 0
    dy1 = cr.grad(lambda y: S.xlog1py(np.zeros(2), y).sum())(np.array([-1.0, 1.0]))
    np.testing.assert_array_equal(dy1, [0.0, 0.0])
    # the mixed derivative at x = 0 is 1/y: the zero mask covers x = y = 0 alone
    assert float(cr.grad(lambda x: cr.grad(lambda y: S.xlogy(x, y))(2.0))(0.0)) == 0.5


def test_entropies_at_zero() -> None:
    assert float(S.entr(cr.tensor(0.0))) == 0.0
    assert float(cr.grad(S.entr)(0.0)) == np.inf  # -(1 + log x) at 0
    assert float(cr.grad(lambda y: S.rel_entr(0.0, y))(0.0)) == 0.0
    assert float(cr.grad(lambda y: S.kl_div(0.0, y))(2.0)) == 1.0
    assert float(cr.grad(lambda x: S.kl_div(x, 2.0))(0.0)) == -np.inf


def test_gammaln_far_out() -> None:
    x = np.array([1e-300, 1e10, 1e300, -2.5])
    np.testing.assert_allclose(cr.grad(lambda v: S.gammaln(v).sum())(x), sp.digamma(x), rtol=1e-15)


# ---- higher orders come from the rules ---------------------------------------------------------------------------
def test_the_digamma_chain_to_third_order() -> None:
    x = np.array([0.3, 2.0, 11.0])
    f = lambda v: S.gammaln(v).sum()
    np.testing.assert_allclose(cr.grad(f)(x), sp.digamma(x), rtol=1e-14)
    np.testing.assert_allclose(np.diag(cr.hessian(f)(x)), sp.polygamma(1, x), rtol=1e-14)
    third = cr.grad(lambda v: cr.grad(lambda w: cr.grad(f)(w).sum())(v).sum())(x)
    np.testing.assert_allclose(third, sp.polygamma(2, x), rtol=1e-13)
    assert cr.gradcheck(lambda v: S.polygamma(2, v), np.array([0.7, 3.0]), order=3)


@pytest.mark.parametrize("fn", [S.j0, S.y1, S.i1e, lambda x: S.jn(2, x), lambda x: S.iv(1.5, x),
                                lambda x: S.ive(-0.5, x), lambda x: S.yn(3, x)], ids=["j0", "y1", "i1e", "jn", "iv",
                                                                                   "ive", "yn"])
def test_bessel_functions_to_third_order(fn: Any) -> None:
    assert cr.gradcheck(fn, np.array([0.6, 2.2, 7.5]), order=3)


def test_orders_and_shape_parameters_as_arrays() -> None:
    n, x = np.array([[0], [1], [3]]), np.array([0.5, 2.0])
    np.testing.assert_allclose(S.polygamma(n, x), sp.polygamma(n, x), rtol=1e-14)
    np.testing.assert_allclose(cr.grad(lambda v: S.polygamma(n, v).sum())(x), sp.polygamma(n + 1, x).sum(0),
                               rtol=1e-13)
    a, b = np.array([0.5, 2.0, 7.0])[:, None], np.array([0.3, 4.0])
    grad = cr.grad(lambda v: S.betainc(a, b, v).sum())(np.array([0.4, 0.9]))
    expected = (0.4, 0.9) ** (a - 1) * (1 - np.array([0.4, 0.9])) ** (b - 1) / sp.beta(a, b)
    np.testing.assert_allclose(grad, expected.sum(0), rtol=1e-13)
    assert cr.gradcheck(lambda v: S.gammainc(np.array([0.5, 3.0]), v), np.array([0.2, 4.0]), order=2)


def test_derivatives_in_every_argument_that_has_one() -> None:
    a, b = np.array([0.7, 3.0]), np.array([1.4, 0.2])
    assert cr.gradcheck(S.beta, a, b, order=2)
    assert cr.gradcheck(S.betaln, a, b, order=2)
    assert cr.gradcheck(S.kl_div, a, b, order=2)
    assert cr.gradcheck(S.rel_entr, a, b, order=2)
    assert cr.gradcheck(S.xlogy, a - 1, b, order=2)
    assert cr.gradcheck(lambda q: S.zeta(3, q), b, order=2)


# ---- arguments without a closed-form derivative: refused by name, in both modes -----------------------------------
REFUSED = [
    ("betainc", "the shape parameter a", lambda a: S.betainc(a, 2.0, 0.3)),
    ("betainc", "the shape parameter b", lambda b: S.betainc(2.0, b, 0.3)),
    ("gammainc", "the shape parameter a", lambda a: S.gammainc(a, 0.3)),
    ("gammaincc", "the shape parameter a", lambda a: S.gammaincc(a, 0.3)),
    ("polygamma", "the order n", lambda n: S.polygamma(n, 0.3)),
    ("jn", "the order n", lambda n: S.jn(n, 0.3)),
    ("yn", "the order n", lambda n: S.yn(n, 0.3)),
    ("iv", "the order v", lambda v: S.iv(v, 0.3)),
    ("ive", "the order v", lambda v: S.ive(v, 0.3)),
    ("zeta", "the exponent x", lambda x: S.zeta(x, 0.3)),
    ("zeta", "the exponent x", lambda x: S.zeta(x)),
]


@pytest.mark.parametrize(("name", "argument", "fn"), REFUSED, ids=[f"{n}-{a.split()[-1]}" for n, a, _ in REFUSED])
def test_arguments_without_a_closed_form_derivative_are_refused(name: str, argument: str, fn: Any) -> None:
    message = f"scipy.special.{name} has no closed-form derivative with respect to {argument}"
    with pytest.raises(TypeError, match=message):
        cr.grad(fn)(2.0)
    with pytest.raises(TypeError, match=message):
        cr.jvp(fn, (2.0,), (1.0,))
    with pytest.raises(TypeError, match=message):
        fn(cr.tensor(2.0, requires_grad=True)).backward()
    assert np.isfinite(float(fn(cr.tensor(2.0))))  # as a constant, it computes


def test_multigammaln_refuses_what_scipy_refuses() -> None:
    with pytest.raises(ValueError, match="d must be a positive integer"):
        S.multigammaln(3.0, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"every a must exceed \(d - 1\)/2 = 1.0"):
        S.multigammaln(np.array([0.9, 3.0]), 3)


def test_an_unknown_keyword_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match=r"^gammaln\(\) got an unexpected keyword argument 'out'"):
        S.gammaln(cr.tensor(1.0), out=None)


# ---- composites -------------------------------------------------------------------------------------------------
def test_multigammaln_values_and_derivatives() -> None:
    a = np.array([[2.1, 3.5], [10.0, 1.6]])
    for d in (1, 2, 3):
        np.testing.assert_allclose(S.multigammaln(a, d), sp.multigammaln(a, d), rtol=1e-14)
        assert cr.gradcheck(lambda v, d=d: S.multigammaln(v, d), a, order=2)


LSE_CASES = [
    ({}, None), ({"axis": 0}, None), ({"axis": 1, "keepdims": True}, None), ({"axis": (0, 1)}, None),
    ({}, "b"), ({"axis": 1}, "b"), ({"axis": 0, "keepdims": True}, "b"),
    ({"return_sign": True}, "b"), ({"axis": 1, "return_sign": True}, "b"), ({"axis": 1, "return_sign": True}, None),
]


@pytest.mark.parametrize(("kwargs", "weights"), LSE_CASES)
def test_logsumexp_against_scipy(kwargs: dict[str, Any], weights: str | None) -> None:
    a = np.array([[0.3, -1.2, 2.0], [1000.0, 999.0, -1000.0]])
    b = np.array([[0.5, 2.0, 1.5], [1.0, -0.5, 3.0]]) if weights else None
    if kwargs.get("return_sign"):
        b = None if b is None else b * np.array([[1.0, -1.0, -1.0]])  # a negative sum in the first row
    elif b is not None:
        b = np.abs(b)  # without return_sign, a negative sum is NaN (as SciPy)
    expected = sp.logsumexp(a, b=b, **kwargs)
    got = S.logsumexp(a, b=b, **kwargs)
    if kwargs.get("return_sign"):
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-14)
        np.testing.assert_array_equal(got[1], expected[1])
        out = lambda *v: S.logsumexp(v[0], b=v[1] if len(v) > 1 else None, **kwargs)[0]
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-14)
        out = lambda *v: S.logsumexp(v[0], b=v[1] if len(v) > 1 else None, **kwargs)
    small = a[:, :2] / 500  # derivatives at values where finite differences are well conditioned
    inputs = (small,) if b is None else (small, b[:, :2])
    assert cr.gradcheck(out, *inputs, order=2)


def test_logsumexp_spelling_and_weights_of_zero() -> None:
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(S.logsumexp(a, dim=1, keepdim=True), sp.logsumexp(a, axis=1, keepdims=True))
    b = np.array([[1.0, 0.0], [0.0, 0.0]])
    with np.errstate(divide="ignore"):
        expected = sp.logsumexp(a, axis=1, b=b)
    np.testing.assert_allclose(S.logsumexp(a, axis=1, b=b), expected)  # -inf where every weight is 0
    grad = cr.grad(lambda w: S.logsumexp(a[0], b=w))(b[0])  # d/db log(sum b e^a) = e^a / sum: finite at b = 0
    np.testing.assert_allclose(grad, np.exp(a[0]) / np.exp(1.0))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_over_every_axis_by_default_as_scipy(name: str) -> None:
    x = np.array([[0.3, -1.2, 2.0], [1.0, 0.5, -0.1]])
    ours, theirs = getattr(S, name), getattr(sp, name)
    np.testing.assert_allclose(ours(x), theirs(x), rtol=1e-14)
    np.testing.assert_allclose(ours(x, axis=0), theirs(x, axis=0), rtol=1e-14)
    np.testing.assert_allclose(ours(x, dim=1), theirs(x, axis=1), rtol=1e-14)
    assert cr.gradcheck(ours, x, order=2)


# ---- SciPy's own ufuncs on tensors --------------------------------------------------------------------------------
UFUNC_CALLS = [(name, args) for name, args in sorted(GRIDS.items()) if isinstance(getattr(sp, name), np.ufunc)]


def _inside(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """A point where every function is smooth and finite: parameters (orders, shapes, x of xlogy) 2, the
    differentiated input last."""
    return (*(2 for _ in args[:-1]), np.array([0.35, 0.6]))


@pytest.mark.parametrize(("name", "args"), UFUNC_CALLS, ids=[n for n, _ in UFUNC_CALLS])
def test_scipy_ufuncs_on_tensors_record(name: str, args: tuple[Any, ...]) -> None:
    *params, x = _inside(args)
    theirs, ours = getattr(sp, name), getattr(S, name)
    differentiable = name != "gammasgn"
    if differentiable:
        got = cr.grad(lambda v: theirs(*params, v).sum())(x)
        np.testing.assert_array_equal(got, cr.grad(lambda v: ours(*params, v).sum())(x))
    out = theirs(*params, cr.tensor(x, requires_grad=True))
    assert isinstance(out, cr.Tensor) and out.requires_grad == differentiable


def test_scipy_functions_that_call_ufuncs_on_tensors() -> None:
    q = np.array([0.5, 2.0])
    np.testing.assert_allclose(cr.grad(lambda v: sp.zeta(3.0, v).sum())(q), -3 * sp.zeta(4.0, q), rtol=1e-14)
    np.testing.assert_allclose(cr.grad(lambda v: sp.jv(1.5, v).sum())(q), sp.jvp(1.5, q), rtol=1e-13)


# ---- devices ------------------------------------------------------------------------------------------------------
def test_on_the_stand_in_gpu_and_a_clear_refusal_where_there_is_no_device_version() -> None:
    with backend.use_provider(provider):
        x = cr.tensor([0.4, 2.5], device="cuda", requires_grad=True)
        S.gammaln(x).sum().backward()
        assert x.grad is not None and x.grad.device == "cuda:0"
        np.testing.assert_allclose(x.grad.cpu().numpy(), sp.digamma([0.4, 2.5]), rtol=1e-14)
        with pytest.raises(TypeError, match=r"scipy\.special\.multigammaln has no version for arrays on cuda:0"):
            S._scipy("multigammaln")(x.data, 2)
        with pytest.raises(RuntimeError, match="different devices"):
            S.jn(np.array([1, 2]), x)


# ---- SciPy is optional --------------------------------------------------------------------------------------------
def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-W", "error", "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


def test_import_chainrule_never_imports_scipy_and_cr_scipy_does() -> None:
    run = _python("import sys, chainrule as cr\n"
                  "assert not any(m == 'scipy' or m.startswith('scipy.') for m in sys.modules), 'scipy imported'\n"
                  "print(float(cr.scipy.special.gammaln(4.0)), 'scipy.special' in sys.modules)\n"
                  "import chainrule.scipy.special as ours, scipy.special\n"
                  "print(ours._sp is scipy.special, 'site-packages' in scipy.special.__file__)")
    assert run.returncode == 0, run.stderr
    # the absolute import inside chainrule/scipy/ is SciPy's own package, not this one
    assert run.stdout.split() == [repr(math.log(6.0)), "True", "True", "True"]


def test_without_scipy_cr_scipy_names_the_extra() -> None:
    run = _python("import sys\nsys.modules['scipy'] = None  # as if SciPy were not installed\n"
                  "import chainrule as cr\nprint(float(cr.tanh(0.0)))\ncr.scipy")
    assert run.returncode != 0 and run.stdout.strip() == "0.0"
    assert "ImportError: cr.scipy needs SciPy, an optional extra of chainrule: pip install 'chainrule[scipy]'" \
        in run.stderr


def test_riemann_zeta_maps_over_a_batch_and_still_refuses_its_derivative() -> None:
    s = np.array([2.0, 3.0, 4.5])
    np.testing.assert_allclose(cr.vmap(cr.scipy.special.zeta)(s), sp.zeta(s), rtol=1e-14)
    with pytest.raises(TypeError, match="no closed-form derivative with respect to the exponent"):
        cr.grad(lambda x: cr.scipy.special.zeta(x))(2.0)
