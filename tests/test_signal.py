"""1-d signals (ops/signal.py): convolve and correlate in every mode and length order, interp (left/right, period,
NaN, one knot, points on the knots) and trapezoid (dx, 1-d and n-d x, every axis) against NumPy; gradients in every
input by finite differences (order 2, both modes) and the decided kink of interp at a knot."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

RNG = np.random.default_rng(3)
LENGTHS = [(5, 3), (3, 5), (4, 4), (6, 2), (2, 7), (1, 4), (4, 1), (1, 1), (7, 6)]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize(("n", "m"), LENGTHS, ids=str)
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_convolution_matches_numpy_and_differentiates_in_both(name: str, n: int, m: int, mode: str) -> None:
    a, v = RNG.standard_normal(n), RNG.standard_normal(m)
    expected = getattr(np, name)(a, v, mode)
    got = getattr(cr, name)(cr.tensor(a), v, mode)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(getattr(np, name)(cr.tensor(a), cr.tensor(v), mode).numpy(), expected, rtol=1e-13,
                               atol=1e-15)
    assert cr.gradcheck(lambda x, k: getattr(cr, name)(x, k, mode), a, v, order=2, modes=("rev", "fwd"))


def test_convolution_defaults_dtypes_and_refusals() -> None:
    a, v = RNG.standard_normal(6), RNG.standard_normal(3)
    assert cr.convolve(a, v).shape == (8,) and cr.correlate(a, v).shape == (4,)  # full and valid, as NumPy's
    assert cr.convolve(a.astype(np.float32), v.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="convolve: mode must be one of full, same, valid"):
        cr.convolve(a, v, "circular")
    with pytest.raises(ValueError, match="correlate: v cannot be empty"):
        cr.correlate(a, [])
    with pytest.raises(ValueError, match=r"convolve: a must be 1-d"):
        cr.convolve(np.ones((2, 2)), v)


def test_correlate_matches_pytorch_conv1d() -> None:
    """PyTorch's conv1d is a cross-correlation: the gradients of both inputs agree with chainrule's."""
    a, v = RNG.standard_normal(9), RNG.standard_normal(4)
    w = np.cos(np.arange(6.0))
    ga, gv = cr.grad(lambda x, k: cr.sum(cr.correlate(x, k) * w), argnums=(0, 1))(a, v)
    ta, tv = torch.tensor(a, requires_grad=True), torch.tensor(v, requires_grad=True)
    (torch.nn.functional.conv1d(ta.view(1, 1, -1), tv.view(1, 1, -1)).view(-1) * torch.tensor(w)).sum().backward()
    assert ta.grad is not None and tv.grad is not None
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gv, tv.grad.numpy(), rtol=1e-12)


XP = np.array([-1.0, 0.0, 0.5, 2.0, 3.5])
FP = np.array([1.0, -0.5, 2.0, 0.0, 1.5])
X = np.concatenate([RNG.uniform(-2.0, 4.5, 25), XP, [np.nan, -np.inf, np.inf]])


@pytest.mark.parametrize("kwargs", [{}, {"left": -3.0}, {"right": 7.0}, {"left": 0.25, "right": -0.25},
                                    {"period": 2.5}, {"period": -5.0}], ids=str)
def test_interp_matches_numpy(kwargs: dict[str, Any]) -> None:
    points = X[np.isfinite(X) | ("period" not in kwargs)]  # inf % period is invalid (NumPy warns, as chainrule)
    expected = np.interp(points, XP, FP, **kwargs)
    np.testing.assert_allclose(cr.interp(cr.tensor(points), XP, FP, **kwargs).numpy(), expected, rtol=1e-14,
                               equal_nan=True)
    np.testing.assert_allclose(np.interp(cr.tensor(points), XP, cr.tensor(FP), **kwargs).numpy(), expected,
                               rtol=1e-14, equal_nan=True)
    x = X[:25]  # off the knots: smooth in x, xp and fp
    assert cr.gradcheck(lambda t, k, f: cr.interp(t, k, f, **kwargs), x, XP, FP, order=2, modes=("rev", "fwd"))


def test_interp_edges() -> None:
    np.testing.assert_array_equal(cr.interp([0.0, 1.0, 2.0], [1.0], [5.0]), np.interp([0.0, 1.0, 2.0], [1.0], [5.0]))
    np.testing.assert_array_equal(cr.interp(3.5, XP, FP, right=9.0), 1.5)  # the last knot itself, as NumPy
    assert cr.interp(np.float32([0.25]), XP.astype(np.float32), FP.astype(np.float32)).dtype == np.float32
    with pytest.raises(ValueError, match="xp and fp must have the same length"):
        cr.interp(0.0, XP, FP[:3])
    with pytest.raises(ValueError, match="period must be a non-zero value"):
        cr.interp(0.0, XP, FP, period=0.0)
    assert cr.interp(cr.tensor(np.zeros((2, 3))), XP, FP).shape == (2, 3)


def test_interp_derivatives_by_hand() -> None:
    """In x: the slope of the segment (to the right at a knot; 0 outside); in fp: the hat functions."""
    gx = cr.grad(lambda t: cr.sum(cr.interp(t, XP, FP)))(np.array([-0.5, 0.0, 1.0, 2.0, 5.0, -3.0]))
    np.testing.assert_allclose(gx, [-1.5, 5.0, -4 / 3, 1.0, 0.0, 0.0])
    gf = cr.grad(lambda f: cr.interp(1.25, XP, f))(FP)
    np.testing.assert_allclose(gf, [0.0, 0.0, 0.5, 0.5, 0.0])
    gl = cr.grad(lambda lo: cr.sum(cr.interp(np.array([-5.0, 0.0]), XP, FP, left=lo)))(1.0)
    assert float(gl) == 1.0


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_trapezoid_matches_numpy(axis: int) -> None:
    y = RNG.standard_normal((3, 4, 5))
    n = y.shape[axis]
    x1 = np.cumsum(RNG.uniform(0.1, 1.0, n))
    xn = np.cumsum(RNG.uniform(0.1, 1.0, y.shape), axis=axis)
    for kwargs in ({}, {"dx": 0.3}, {"x": x1}, {"x": xn}):
        np.testing.assert_allclose(cr.trapezoid(cr.tensor(y), axis=axis, **kwargs).numpy(),
                                   np.trapezoid(y, axis=axis, **kwargs), rtol=1e-13)
    assert cr.gradcheck(lambda t, s: cr.trapezoid(t, s, axis=axis), y, x1, order=2, modes=("rev", "fwd"))
    assert cr.gradcheck(lambda t, s: cr.trapezoid(t, s, axis=axis), y, xn, order=2, modes=("rev", "fwd"))
    assert cr.gradcheck(lambda t, d: cr.trapezoid(t, dx=d, axis=axis), y, np.array(0.7), order=2, modes=("rev", "fwd"))


def test_trapezoid_integrates_and_routes() -> None:
    x = np.linspace(0.0, np.pi, 201)
    area = np.trapezoid(cr.sin(cr.tensor(x)), x)  # NumPy's own function on a tensor
    assert float(area) == pytest.approx(2.0, abs=1e-4)
    # d/dw of the integral of sin(w x) over [0, pi], at w = 1: integral of x cos(x) = -2
    g = cr.grad(lambda w: np.trapezoid(np.sin(w * x), x))(1.0)
    assert float(g) == pytest.approx(-2.0, abs=1e-3)
    assert float(cr.trapezoid([1.0])) == 0.0
    assert cr.trapezoid(np.ones(4, np.float32)).dtype == np.float32
