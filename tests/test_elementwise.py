"""Elementwise kinks decided by the library, with exact values (finite differences cannot see a kink): power at
zero, clip with crossed bounds, and clip's NumPy keyword names."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr


# ---- power at 0: d/dx x**y = 0 where y == 0, d/dy x**y = 0 where x == 0 and y >= 0 (PyTorch's rule) ---------------
def test_power_zero_exponent_at_zero_has_zero_gradient() -> None:
    assert float(cr.grad(lambda x: x ** 0)(0.0)) == 0.0
    assert float(cr.grad(lambda x: (x ** np.arange(3.0)).sum())(0.0)) == 1.0


def test_power_second_order_at_zero() -> None:
    assert float(cr.grad(cr.grad(lambda x: x ** 1))(0.0)) == 0.0
    assert float(cr.grad(cr.grad(lambda x: x ** 2))(0.0)) == 2.0
    assert float(cr.hessian(lambda x: (x ** np.arange(4.0)).sum())(np.array(0.0))) == 2.0


def test_power_forward_mode_at_zero() -> None:
    _, t = cr.jvp(lambda x: x ** np.arange(3.0), (np.array(0.0),), (np.array(1.0),))
    np.testing.assert_array_equal(t, [0.0, 1.0, 0.0])
    assert float(cr.jacfwd(cr.grad(lambda x: x ** 1))(np.array(0.0))) == 0.0


def test_power_exponent_gradient_at_zero_base() -> None:
    dy = cr.grad(lambda y: (np.zeros(3) ** y).sum())(np.array([0.0, 1.0, 2.5]))
    np.testing.assert_array_equal(dy, [0.0, 0.0, 0.0])
    _, t = cr.jvp(lambda y: np.zeros(2) ** y, (np.array([0.0, 2.0]),), (np.ones(2),))
    np.testing.assert_array_equal(t, [0.0, 0.0])


def test_power_away_from_zero_keeps_the_mixed_derivative() -> None:
    # d/dy (d/dx x**y) = x**(y-1) (1 + y log x): at y = 0, x = 2 that is 1/2 (the mask only covers x = y = 0)
    mixed = cr.grad(lambda y: cr.grad(lambda x: x ** y)(2.0))(0.0)
    assert float(mixed) == pytest.approx(0.5)


# ---- clip -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x", [0.5, 1.5, 2.5])
def test_clip_with_crossed_bounds_sends_the_gradient_to_the_upper_bound(x: float) -> None:
    """lo > hi gives hi everywhere (NumPy's minimum(maximum(x, lo), hi)), so hi takes the gradient (PyTorch's rule)."""
    lo, hi = 2.0, 1.0
    assert float(cr.clip(x, lo, hi)) == hi
    grads = cr.grad(lambda x, lo, hi: cr.clip(x, lo, hi), argnums=(0, 1, 2))(x, lo, hi)
    assert [float(g) for g in grads] == [0.0, 0.0, 1.0]
    _, t = cr.jvp(lambda x, lo, hi: cr.clip(x, lo, hi), (x, lo, hi), (1.0, 10.0, 100.0))
    assert float(t) == 100.0


@pytest.mark.parametrize(("x", "expected"), [(-1.0, [0.0, 1.0, 0.0]), (0.5, [1.0, 0.0, 0.0]), (3.0, [0.0, 0.0, 1.0]),
                                             (0.0, [1.0, 0.0, 0.0]), (1.0, [1.0, 0.0, 0.0])])
def test_clip_sends_the_gradient_to_exactly_one_of_its_inputs(x: float, expected: list[float]) -> None:
    grads = cr.grad(lambda x, lo, hi: cr.clip(x, lo, hi), argnums=(0, 1, 2))(x, 0.0, 1.0)
    assert [float(g) for g in grads] == expected


def test_clip_takes_numpy_keyword_names() -> None:
    g = cr.grad(lambda x: cr.sum(cr.clip(x, a_min=0.1, a_max=1.1)))(np.array([0.0, 1.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0])
    g_hi = cr.grad(lambda hi: cr.sum(cr.clip(np.array([0.0, 2.0]), a_max=hi)))(1.0)
    assert float(g_hi) == 1.0
    with pytest.raises(TypeError, match="clip\\(\\) got multiple values for argument 'a_min'"):
        cr.clip(np.ones(2), 0.0, a_min=0.1)


# ---- NumPy's other elementwise functions (issue 10) ------------------------------------------------------------------
UNARY_NEW = {"arcsinh": "any", "arccosh": "above1", "arctanh": "unit", "sinc": "any", "fabs": "real",
             "deg2rad": "any", "rad2deg": "any", "degrees": "any", "radians": "any"}
BINARY_NEW = ["hypot", "logaddexp", "logaddexp2", "fmax", "fmin", "mod", "true_divide", "heaviside", "copysign"]


def _draw(shape: tuple[int, ...], domain: str, seed: int = 0) -> np.ndarray:
    from chainrule.ops.samples import draw

    return draw(np.random.default_rng(seed), shape, domain)


def _binary_inputs(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "mod":
        return _draw((2, 3), "positive") * 3 + 0.25, _draw((3,), "positive", 1)
    return _draw((2, 3), "real"), _draw((3,), "real", 1)


@pytest.mark.parametrize("name", list(UNARY_NEW))
def test_new_unary_functions_through_numpy(name: str) -> None:
    """np.NAME(tensor) is chainrule's NAME: the same values as NumPy, recorded, and differentiated by cr.grad."""
    x = _draw((2, 3), UNARY_NEW[name])
    t = cr.tensor(x, requires_grad=True)
    y = getattr(np, name)(t)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    np.testing.assert_array_equal(y.data, getattr(np, name)(x))
    mine = cr.grad(lambda v: getattr(cr, name)(v).sum())(x)
    np.testing.assert_array_equal(cr.grad(lambda v: getattr(np, name)(v).sum())(x), mine)
    assert cr.gradcheck(lambda v: getattr(np, name)(v), x, order=2, modes=("rev", "fwd"))
    assert getattr(cr, name)(x.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("name", BINARY_NEW)
def test_new_binary_functions_through_numpy(name: str) -> None:
    x, y = _binary_inputs(name)
    out = getattr(np, name)(cr.tensor(x, requires_grad=True), y)
    assert isinstance(out, cr.Tensor) and out.requires_grad
    np.testing.assert_array_equal(out.data, getattr(np, name)(x, y))
    both = (0, 1)
    expected = cr.grad(lambda a, b: getattr(cr, name)(a, b).sum(), argnums=both)(x, y)
    got = cr.grad(lambda a, b: getattr(np, name)(a, b).sum(), argnums=both)(x, y)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g, e)
    # an ndarray on the left comes through __array_ufunc__ too
    assert getattr(np, name)(x, cr.tensor(y, requires_grad=True)).requires_grad


def test_aliases_are_the_same_entries() -> None:
    assert cr.mod is cr.remainder and cr.true_divide is cr.divide
    assert cr.degrees is cr.rad2deg and cr.radians is cr.deg2rad


def test_angle_conversions_agree_with_numpy_to_the_last_bit() -> None:
    x = np.array([0.0, 1.0, -45.0, 180.0, 1e300, np.inf, np.nan])
    np.testing.assert_array_equal(cr.deg2rad(x), np.deg2rad(x))
    np.testing.assert_array_equal(cr.rad2deg(x), np.rad2deg(x))
    assert float(cr.grad(cr.deg2rad)(2.0)) == np.pi / 180
    assert float(cr.grad(cr.rad2deg)(2.0)) == 180 / np.pi


SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, 2.0, np.inf, -np.inf, np.nan, 1e300, -1e-300])


@pytest.mark.parametrize("name", [*UNARY_NEW, "nan_to_num"])
def test_new_unary_functions_agree_with_numpy_at_special_values(name: str) -> None:
    with np.errstate(all="ignore"):  # arccosh(0.5) is NaN, with NumPy's warning
        np.testing.assert_array_equal(getattr(cr, name)(SPECIAL), getattr(np, name)(SPECIAL))


@pytest.mark.parametrize("name", BINARY_NEW)
def test_new_binary_functions_agree_with_numpy_at_special_values(name: str) -> None:
    x, y = SPECIAL[:, None], SPECIAL[None, :]
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(getattr(cr, name)(x, y), getattr(np, name)(x, y))


def _grads(f: Any, *args: Any) -> list[float]:
    return [float(g) for g in cr.grad(f, argnums=tuple(range(len(args))))(*args)]


def _tangent(f: Any, args: tuple[float, ...], tangents: tuple[float, ...]) -> float:
    return float(cr.jvp(f, args, tangents)[1])


# ---- kinks, with exact values ----------------------------------------------------------------------------------------
def test_fabs_at_zero_has_zero_gradient_as_abs() -> None:
    assert float(cr.grad(cr.fabs)(0.0)) == 0.0 == float(cr.grad(cr.abs)(0.0))
    assert _tangent(cr.fabs, (0.0,), (1.0,)) == 0.0
    np.testing.assert_array_equal(cr.grad(lambda x: np.fabs(x).sum())(np.array([-2.0, 3.0])), [-1.0, 1.0])


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_and_fmin_split_ties_and_pass_over_nan(name: str) -> None:
    f = getattr(cr, name)
    assert _grads(f, 1.5, 1.5) == [0.5, 0.5]  # a tie splits, as maximum's
    assert _grads(f, np.nan, 2.0) == [0.0, 1.0]  # the argument that is not NaN is the result, and has the gradient
    assert _grads(f, 2.0, np.nan) == [1.0, 0.0]
    assert _grads(f, np.nan, np.nan) == [0.0, 0.0]  # NaN either way, from neither
    assert _tangent(f, (np.nan, 2.0), (10.0, 1.0)) == 1.0
    big, small = (3.0, 1.0) if name == "fmax" else (1.0, 3.0)
    assert _grads(f, big, small) == [1.0, 0.0]


def test_heaviside_has_zero_derivative_in_x_and_passes_h0_where_x_is_zero() -> None:
    x = np.array([-1.0, 0.0, 2.0])
    gx, gh = cr.grad(lambda x, h: cr.heaviside(x, h).sum(), argnums=(0, 1))(x, np.full(3, 0.5))
    np.testing.assert_array_equal(gx, [0.0, 0.0, 0.0])  # no Dirac delta at 0
    np.testing.assert_array_equal(gh, [0.0, 1.0, 0.0])  # the result at x = 0 is h0 itself
    assert float(cr.grad(lambda h: cr.heaviside(x, h).sum())(0.5)) == 1.0  # a scalar h0 collects it
    _, t = cr.jvp(lambda x, h: cr.heaviside(x, h), (x, np.full(3, 0.5)), (np.ones(3), np.full(3, 7.0)))
    np.testing.assert_array_equal(t, [0.0, 7.0, 0.0])
    assert not np.isnan(cr.grad(lambda x: cr.heaviside(x, 0.5) * np.nan)(1.0))  # 0, not NaN, even then


def test_copysign_derivative_is_the_sign_agreement() -> None:
    assert _grads(cr.copysign, 2.0, 3.0) == [1.0, 0.0]
    assert _grads(cr.copysign, 2.0, -3.0) == [-1.0, 0.0]
    assert _grads(cr.copysign, -2.0, 3.0) == [-1.0, 0.0]
    assert _grads(cr.copysign, -2.0, -0.0) == [1.0, 0.0]  # -0.0's sign bit is set
    assert _grads(cr.copysign, 0.0, -3.0) == [0.0, 0.0]  # |x| at 0: abs'(0) = 0
    assert _tangent(cr.copysign, (2.0, -3.0), (1.0, 5.0)) == -1.0


def test_nan_to_num_passes_the_gradient_where_the_value_was_kept() -> None:
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    g = cr.grad(lambda v: cr.nan_to_num(v * 3.0, posinf=1.0, neginf=1.0).sum())(x)
    np.testing.assert_array_equal(g, [3.0, 0.0, 0.0, 0.0, 3.0])
    _, t = cr.jvp(lambda v: cr.nan_to_num(v, nan=1.0, posinf=2.0, neginf=-2.0), (x,), (np.full(5, 4.0),))
    np.testing.assert_array_equal(t, [4.0, 0.0, 0.0, 0.0, 4.0])
    big = np.finfo(np.float32).max
    np.testing.assert_array_equal(np.nan_to_num(cr.tensor(x.astype(np.float32))).data, [1, 0, big, -big, -2])
    with pytest.raises(TypeError, match="copy=False"):
        np.nan_to_num(cr.tensor(x), copy=False)


def test_hypot_at_the_origin_has_gradient_zero() -> None:
    assert _grads(cr.hypot, 0.0, 0.0) == [0.0, 0.0]
    assert _grads(cr.hypot, 3.0, -4.0) == [0.6, -0.8]
    np.testing.assert_array_equal(cr.hessian(lambda v: cr.hypot(v[0], v[1]))(np.zeros(2)), np.zeros((2, 2)))
    assert _grads(cr.hypot, 3e300, 4e300) == [0.6, 0.8]  # no square overflows


def test_sinc_at_and_near_zero() -> None:
    assert float(cr.grad(cr.sinc)(0.0)) == 0.0
    assert float(cr.grad(cr.grad(cr.sinc))(0.0)) == pytest.approx(-np.pi**2 / 3, rel=1e-15)
    # near 0 the formula (cos(pi x) - sinc x) / x cancels; against the derivative in 40 digits (mpmath)
    import mpmath

    x = np.array([1e-12, -1e-6, 1e-3, 0.05, 0.0999999, 0.1, -0.3, 2.5])
    with mpmath.workdps(40):
        exact = [float(mpmath.diff(lambda t: mpmath.sinc(mpmath.pi * t), mpmath.mpf(v))) for v in x]
    np.testing.assert_allclose(cr.grad(lambda v: cr.sinc(v).sum())(x), exact, rtol=1e-13)
    assert cr.gradcheck(cr.sinc, np.array([0.0, 1e-4, -0.0999, 0.1001]), order=2, modes=("rev", "fwd"))
    assert cr.grad(lambda v: cr.sinc(v).sum())(np.zeros(2, dtype=np.float32)).dtype == np.float32


def test_inverse_hyperbolic_derivatives_do_not_overflow() -> None:
    assert float(cr.grad(cr.arcsinh)(1e200)) == 1e-200
    assert float(cr.grad(cr.arccosh)(1e200)) == 1e-200
    assert float(cr.grad(cr.arctanh)(0.5)) == pytest.approx(4 / 3, rel=1e-15)
    with np.errstate(divide="ignore"):
        assert float(cr.grad(cr.arccosh)(1.0)) == np.inf  # as sqrt'(0): IEEE, never a silent 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2"])
def test_logaddexp_is_stable_at_a_thousand(name: str, dtype: type) -> None:
    f = getattr(cr, name)
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, np.inf, -np.inf, np.inf, -np.inf], dtype)
    y = np.array([1000.0, -1000.0, -1000.0, 1000.0, 1.0, -np.inf, np.inf, 2.0], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is the right value
        out, vjp_fn = cr.vjp(f, x, y)
        gx, gy = vjp_fn(np.ones_like(x))
        _, t = cr.jvp(f, (x, y), (np.ones_like(x), np.zeros_like(y)))
    np.testing.assert_array_equal(out, getattr(np, name)(x, y))
    np.testing.assert_array_equal(gx, [0.5, 0.5, 1.0, 0.0, 1.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(gy, [0.5, 0.5, 0.0, 1.0, 0.0, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(t, gx)
    assert gx.dtype == dtype
    # the second derivative at a finite tie is sigma'(0) * scale^2 (no mask there)
    scale = 1.0 if name == "logaddexp" else np.log(2.0)
    assert float(cr.grad(cr.grad(lambda a: f(a, 1000.0)))(1000.0)) == pytest.approx(0.25 * scale, rel=1e-12)


# ---- clip with crossed bounds: NumPy's values, gradients consistent with them ----------------------------------------
def test_clip_with_crossed_bounds_agrees_with_numpy() -> None:
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(cr.clip(x, 3.0, 1.0), np.clip(x, 3.0, 1.0))
    np.testing.assert_array_equal(np.clip(cr.tensor(x, requires_grad=True), 3.0, 1.0).data, np.ones(5))
    lo, hi = np.array([3.0, 0.0, 3.0, 0.0, 5.0]), np.array([1.0, 2.0, 1.0, 2.0, 4.5])
    np.testing.assert_array_equal(cr.clip(x, lo, hi), np.clip(x, lo, hi))
    gx, glo, ghi = cr.grad(lambda x, lo, hi: np.clip(x, lo, hi).sum(), argnums=(0, 1, 2))(x, lo, hi)
    np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(glo, [0.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [1.0, 0.0, 1.0, 1.0, 1.0])
    _, t = cr.jvp(lambda x, lo, hi: cr.clip(x, lo, hi), (x, lo, hi), (np.ones(5), np.full(5, 10.0), np.full(5, 100.0)))
    np.testing.assert_array_equal(t, [100.0, 1.0, 100.0, 100.0, 100.0])


# ---- under every transform, written with NumPy's functions only ----------------------------------------------------
def check_transforms(f: Any, x: np.ndarray) -> None:
    """``f`` (NumPy's functions only) under cr.jacfwd against cr.jacrev, and cr.hessian of its sum against central
    differences of cr.grad: forward over reverse, reverse over reverse, forward over forward all agree."""
    jac = cr.jacfwd(f)(x)
    np.testing.assert_allclose(jac, cr.jacrev(f)(x), rtol=1e-10, atol=1e-10)
    total = lambda v: np.sum(f(v))
    hess = cr.hessian(total)(x)
    grad = cr.grad(total)
    h = 1e-6
    columns = [(np.asarray(grad(x + h * e)) - np.asarray(grad(x - h * e))) / (2 * h) for e in np.eye(x.size)]
    np.testing.assert_allclose(hess, np.stack(columns, axis=-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cr.jacfwd(cr.jacfwd(total))(x), hess, rtol=1e-10, atol=1e-10)


X = np.array([0.3, -0.7, 1.4])
NUMPY_ONLY: dict[str, Any] = {
    "arcsinh": lambda x: np.arcsinh(x * x),
    "arccosh": lambda x: np.arccosh(1.5 + x * x),
    "arctanh": lambda x: np.arctanh(np.sin(x) * 0.5),
    "sinc": lambda x: np.sinc(x * x) * np.sinc(x - 0.3),  # through 0
    "fabs": lambda x: np.fabs(x) * x,
    "deg2rad": lambda x: np.sin(np.deg2rad(x * 90)),
    "rad2deg": lambda x: np.rad2deg(x) ** 2,
    "radians": lambda x: np.radians(np.degrees(x)) ** 3,
    "hypot": lambda x: np.hypot(x, x[::-1] + 1),
    "logaddexp": lambda x: np.logaddexp(x, x * x),
    "logaddexp2": lambda x: np.logaddexp2(x * 3, 1.0),
    "fmax": lambda x: np.fmax(x, np.array([0.0, np.nan, 2.0])) ** 2,
    "fmin": lambda x: np.fmin(x * x, np.array([np.nan, 0.1, 3.0])) * x,
    "mod": lambda x: np.mod(x * x + 3, 1.5) ** 2,
    "true_divide": lambda x: np.true_divide(x, x * x + 1),
    "heaviside": lambda x: np.heaviside(x, 0.5) * x * x + np.heaviside(x - 0.3, x),
    "copysign": lambda x: np.copysign(x * x, x[::-1]) * x,
    "nan_to_num": lambda x: np.nan_to_num(np.log(x * x) * x) ** 2,
    "clip": lambda x: np.clip(x * x, 0.2, 1.0) * x,
    "clip crossed": lambda x: np.clip(x, 1.0, x * 0.5) ** 2,
}


@pytest.mark.parametrize("name", list(NUMPY_ONLY))
def test_new_functions_under_jacfwd_hessian_and_grad(name: str) -> None:
    check_transforms(NUMPY_ONLY[name], X)


TORCH_NAMES = {"arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "sinc": "sinc", "fabs": "abs",
               "deg2rad": "deg2rad", "rad2deg": "rad2deg", "hypot": "hypot", "logaddexp": "logaddexp",
               "logaddexp2": "logaddexp2", "copysign": "copysign", "fmax": "fmax", "fmin": "fmin"}


@pytest.mark.parametrize("name", list(TORCH_NAMES))
def test_values_and_gradients_agree_with_pytorch(name: str) -> None:
    """Away from ties (where fmax/fmin split and PyTorch gives all to the first) and hypot's origin (0 here, NaN
    there), the same values and gradients as PyTorch, with sinc through 0."""
    import torch

    x = _draw((2, 3), UNARY_NEW.get(name, "real"))
    if name == "sinc":
        x[0, 0] = 0.0
    args = [x] if name in UNARY_NEW else [x, _draw((2, 3), "real", 1)]
    ours = cr.grad(lambda *a: getattr(cr, name)(*a).sum(), argnums=tuple(range(len(args))))(*args)
    theirs = [torch.tensor(a, requires_grad=True) for a in args]
    out = getattr(torch, TORCH_NAMES[name])(*theirs)
    out.sum().backward()
    np.testing.assert_allclose(getattr(cr, name)(*args), out.detach().numpy(), rtol=1e-13, atol=1e-15)
    for g, t in zip(ours, theirs):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-15)
