"""Elementwise kinks decided by the library, with exact values (finite differences cannot see a kink): power at
zero, clip with crossed bounds, and clip's NumPy keyword names."""

from __future__ import annotations

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
