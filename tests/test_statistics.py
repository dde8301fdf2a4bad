"""Order statistics, NaN-skipping reductions, average, ptp, cov and corrcoef (ops/statistics.py): values against
NumPy over many shapes, axes, methods and NaN patterns; gradients by finite differences (order 2, both modes) and
against PyTorch; the decided ties with exact values; NaN entries with gradient 0; NumPy code differentiated as it
is written."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from same_bits import replays_as_eager

METHODS = ["linear", "weibull", "hazen", "median_unbiased", "normal_unbiased", "interpolated_inverted_cdf", "lower",
           "higher", "nearest", "midpoint", "inverted_cdf", "averaged_inverted_cdf", "closest_observation"]
CONTINUOUS = METHODS[:6]
AXES: list[Any] = [None, 0, 1, -1, (0, 2), (2, 0)]
QS: list[Any] = [0.0, 0.37, 0.5, 1.0, [0.1, 0.9], [[0.05, 0.5], [0.71, 1.0]]]


def _x(seed: int = 0, shape: tuple[int, ...] = (3, 4, 5)) -> np.ndarray[Any, Any]:
    """Distinct values (no ties, gaps of at least 0.05), no zeros."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    return ((rng.permutation(n) - n / 2 + 0.5) * (3.0 / n) + rng.uniform(-0.004, 0.004, n)).reshape(shape)


def _with_nans(seed: int = 0, shape: tuple[int, ...] = (3, 4, 5)) -> np.ndarray[Any, Any]:
    x = _x(seed, shape)
    x.reshape(-1)[::7] = np.nan
    return x


def _quietly(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """NumPy's result without its warnings (all-NaN slices, empty means): ours must give the values silently."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def _grad(f: Callable[[Any], Any], x0: Any) -> np.ndarray[Any, Any]:
    return np.asarray(cr.grad(lambda t: cr.sum(f(t)))(np.asarray(x0, dtype=np.float64)))


# ---- quantile, percentile, median: every method, axis, q shape -----------------------------------------------------
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("method", METHODS)
def test_quantile_matches_numpy(method: str, axis: Any, keepdims: bool) -> None:
    x = _x()
    for q in QS:
        expected = np.quantile(x, q, axis=axis, method=method, keepdims=keepdims)
        got = cr.quantile(cr.tensor(x), q, axis=axis, method=method, keepdims=keepdims)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13, atol=1e-15)
        pq = np.multiply(q, 100.0)
        np.testing.assert_allclose(cr.percentile(x, pq, axis=axis, method=method, keepdims=keepdims),
                                   np.percentile(x, pq, axis=axis, method=method, keepdims=keepdims), rtol=1e-13)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
def test_median_matches_numpy(axis: Any, keepdims: bool) -> None:
    for shape in [(3, 4, 5), (2, 1, 6), (1, 3, 2)]:
        x = _x(1, shape)
        got = cr.median(cr.tensor(x), axis=axis, keepdims=keepdims)
        expected = np.median(x, axis=axis, keepdims=keepdims)
        assert got.shape == expected.shape  # NumPy averages the middle two, chainrule interpolates: an ulp apart
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-14, atol=1e-16)
    assert float(cr.median(np.array(2.5))) == 2.5
    np.testing.assert_array_equal(cr.median([4, 1, 3, 2]), 2.5)  # integers: the mean of the middle two, as NumPy


@st.composite
def _quantile_case(draw: st.DrawFn) -> tuple[np.ndarray[Any, Any], Any, np.ndarray[Any, Any], str, bool]:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    ndim = len(shape)
    axis = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), min_size=1, unique=True).map(tuple)))
    x = np.asarray(draw(st.lists(st.integers(-6, 6), min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                   dtype=np.float64).reshape(shape) / 2  # small integers: ties everywhere
    q = np.asarray(draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=3)))
    return x, axis, q, draw(st.sampled_from(METHODS)), draw(st.booleans())


@settings(max_examples=60, deadline=None)
@given(_quantile_case())
def test_quantile_property_against_numpy(case: tuple[np.ndarray[Any, Any], Any, np.ndarray[Any, Any], str,
                                                     bool]) -> None:
    """Random shapes, axes, q and methods, with ties: NumPy's values, and a gradient that sums to the weights'
    total (each output's weights (1 - gamma, gamma) add up to 1, however the ties fall)."""
    x, axis, q, method, keepdims = case
    expected = np.quantile(x, q, axis=axis, method=method, keepdims=keepdims)
    got = cr.quantile(cr.tensor(x), q, axis=axis, method=method, keepdims=keepdims)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    g = cr.grad(lambda t: cr.sum(cr.quantile(t, q, axis=axis, method=method)))(x)
    assert g.shape == x.shape and np.all(g >= 0)
    assert float(np.sum(g)) == pytest.approx(expected.size, rel=1e-12)


@pytest.mark.parametrize("axis", [None, 0, 2, (0, 1)], ids=str)
@pytest.mark.parametrize("method", ["linear", "hazen", "lower", "nearest", "midpoint", "averaged_inverted_cdf"])
def test_quantile_gradients_by_finite_differences(method: str, axis: Any) -> None:
    x = _x(2)
    for q in (0.3, [0.15, 0.62]):
        assert cr.gradcheck(lambda t: cr.quantile(t, q, axis=axis, method=method), x, order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize("method", CONTINUOUS)
def test_quantile_is_differentiable_in_q(method: str) -> None:
    x = _x(3, (2, 7))
    q = np.array([0.13, 0.48, 0.86])  # no virtual index on an integer
    assert cr.gradcheck(lambda t, p: cr.quantile(t, p, axis=1, method=method), x, q, order=2, modes=("rev", "fwd"))
    assert cr.gradcheck(lambda t, p: cr.percentile(t, p, axis=0, method=method), x, q * 100, order=2,
                        modes=("rev", "fwd"))


def test_quantile_gradients_match_pytorch() -> None:
    x = _x(4, (4, 6))
    q = np.array([0.1, 0.5, 0.77])
    weights = np.cos(np.arange(12.0)).reshape(3, 4)
    for interpolation in ("linear", "lower", "higher", "nearest", "midpoint"):
        got_x, got_q = cr.grad(lambda t, p: cr.sum(cr.quantile(t, p, axis=1, method=interpolation) * weights),
                               argnums=(0, 1))(x, q)
        tx = torch.tensor(x, requires_grad=True)
        tq = torch.tensor(q, requires_grad=True)
        (torch.quantile(tx, tq, dim=1, interpolation=interpolation) * torch.tensor(weights)).sum().backward()
        assert tx.grad is not None
        np.testing.assert_allclose(got_x, tx.grad.numpy(), rtol=1e-12, atol=1e-15)
        # PyTorch differentiates q for linear interpolation alone; the other methods are flat in q
        np.testing.assert_allclose(got_q, 0.0 if tq.grad is None else tq.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_median_ties_follow_the_stable_sort() -> None:
    """The decided ties: the entry a stable sort puts in the middle takes the gradient (exact values)."""
    np.testing.assert_array_equal(_grad(cr.median, [3.0, 1.0, 3.0]), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(_grad(cr.median, [1.0, 3.0, 3.0, 5.0]), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(_grad(cr.median, [2.0, 2.0, 2.0, 2.0]), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(_grad(lambda t: cr.median(t, axis=1), [[5.0, 5.0, 1.0], [0.0, 2.0, 2.0]]),
                                  [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(_grad(lambda t: cr.quantile(t, 1.0), [4.0, 4.0, 1.0]), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(_grad(lambda t: cr.quantile(t, 0.25), [4.0, 1.0, 3.0, 2.0]), [0, 0.25, 0, 0.75])
    # the second derivative of a piecewise-linear function is 0
    np.testing.assert_array_equal(cr.hessian(lambda t: cr.median(t))(np.array([1.0, 4.0, 2.0, 3.0])),
                                  np.zeros((4, 4)))


def test_a_nan_makes_the_quantile_nan_and_takes_the_gradient_as_in_max() -> None:
    x = np.array([[1.0, np.nan, 2.0], [3.0, 1.0, 2.0]])
    np.testing.assert_array_equal(cr.median(x, axis=1), [np.nan, 2.0])
    np.testing.assert_array_equal(cr.quantile(x, [0.2, 0.9], axis=1), _quietly(np.quantile, x, [0.2, 0.9], axis=1))
    np.testing.assert_array_equal(_grad(lambda t: cr.median(t, axis=1), x), [[0, 1, 0], [0, 0, 1]])


def test_quantile_keeps_float32_and_refuses_by_name() -> None:
    x = _x(5, (4, 5)).astype(np.float32)
    for fn in (lambda t: cr.median(t, axis=0), lambda t: cr.quantile(t, [0.2, 0.8], axis=1),
               lambda t: cr.percentile(t, 40.0, method="hazen"), lambda t: cr.nanmedian(t, axis=1)):
        y = fn(cr.tensor(x))
        assert y.dtype == np.float32
        assert cr.grad(lambda t: cr.sum(fn(t)))(x).dtype == np.float32
    t = cr.tensor(x, requires_grad=True)
    with pytest.raises(ValueError, match=r"^quantile: q must be in \[0, 1\]"):
        cr.quantile(t, 1.5)
    with pytest.raises(ValueError, match=r"^percentile: q must be in \[0, 100\]"):
        np.percentile(t, [-1.0, 50.0])
    with pytest.raises(ValueError, match="method='cubic' is not one of NumPy's"):
        cr.quantile(t, 0.5, method="cubic")
    with pytest.raises(TypeError, match=r"^median\(\.\.\., out=\)"):
        cr.median(t, out=np.empty(()))
    with pytest.raises(TypeError, match="weights= and interpolation="):
        cr.quantile(t, 0.5, weights=np.ones((4, 5)))
    with pytest.raises(ValueError, match="median of an empty slice"):
        cr.median(np.zeros((0, 3)), axis=0)


# ---- nan* functions: NaNs left out, with gradient 0 -----------------------------------------------------------------
NAN_REDUCTIONS = ["nansum", "nanprod", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanmedian"]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, 2, (0, 2)], ids=str)
@pytest.mark.parametrize("name", NAN_REDUCTIONS)
def test_nan_reductions_match_numpy(name: str, axis: Any, keepdims: bool) -> None:
    x = _with_nans()
    x[1, :, 3] = np.nan  # whole slices of NaNs for some axes
    expected = _quietly(getattr(np, name), x, axis=axis, keepdims=keepdims)
    got = getattr(cr, name)(cr.tensor(x), axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13, atol=1e-15, equal_nan=True)


@pytest.mark.parametrize("axis", [None, 0, 1, (1, 2)], ids=str)
@pytest.mark.parametrize("method", ["linear", "weibull", "lower", "higher", "midpoint", "inverted_cdf"])
def test_nanquantile_and_nanpercentile_match_numpy(method: str, axis: Any) -> None:
    x = _with_nans(1)
    x[0, 2, :] = np.nan
    for q in (0.0, 0.42, 1.0, [0.25, 0.75]):
        expected = _quietly(np.nanquantile, x, q, axis=axis, method=method)
        np.testing.assert_allclose(cr.nanquantile(cr.tensor(x), q, axis=axis, method=method).numpy(), expected,
                                   rtol=1e-13, equal_nan=True)
        np.testing.assert_allclose(cr.nanpercentile(x, np.multiply(q, 100), axis=axis, method=method),
                                   _quietly(np.nanpercentile, x, np.multiply(q, 100), axis=axis, method=method),
                                   rtol=1e-13, equal_nan=True)


@pytest.mark.parametrize("axis", [None, 0, 1, 2], ids=str)
@pytest.mark.parametrize("name", ["nancumsum", "nancumprod"])
def test_nan_cumulative_match_numpy(name: str, axis: Any) -> None:
    x = _with_nans(2)
    np.testing.assert_allclose(getattr(cr, name)(cr.tensor(x), axis=axis).numpy(), getattr(np, name)(x, axis=axis),
                               rtol=1e-13)
    assert cr.gradcheck(lambda t: getattr(cr, name)(t, axis=axis), x, order=2, modes=("rev", "fwd"))


NAN_GRADIENTS: list[tuple[str, Callable[..., Any]]] = [
    ("nansum", lambda t: cr.nansum(t, axis=1)), ("nanprod", lambda t: cr.nanprod(t, axis=2)),
    ("nanmean", lambda t: cr.nanmean(t, axis=(0, 2))), ("nanvar", lambda t: cr.nanvar(t, axis=1, ddof=1)),
    ("nanstd", lambda t: cr.nanstd(t, axis=0)), ("nanmax", lambda t: cr.nanmax(t, axis=2)),
    ("nanmin", lambda t: cr.nanmin(t, axis=1, keepdims=True)), ("nanmedian", lambda t: cr.nanmedian(t, axis=2)),
    ("nanquantile", lambda t: cr.nanquantile(t, [0.3, 0.6], axis=1)),
    ("nanpercentile", lambda t: cr.nanpercentile(t, 70)),
    ("nancumsum", lambda t: cr.nancumsum(t, axis=0)), ("nancumprod", lambda t: cr.nancumprod(t)),
]


@pytest.mark.parametrize(("name", "fn"), NAN_GRADIENTS, ids=[c[0] for c in NAN_GRADIENTS])
def test_nan_entries_get_gradient_zero_and_the_rest_is_exact(name: str, fn: Callable[..., Any]) -> None:
    x = _with_nans(3)
    g = _grad(fn, x)
    assert np.all(g[np.isnan(x)] == 0.0) and np.all(np.isfinite(g))
    # finite differences see the same: the NaN entries do not change the result
    assert cr.gradcheck(fn, x, order=2, modes=("rev", "fwd"))


def test_all_nan_slices_are_nan_silently_with_gradient_zero() -> None:
    x = np.array([[np.nan, np.nan], [1.0, np.nan], [2.0, 4.0]])
    for name in ("nanmean", "nanmax", "nanmin", "nanmedian", "nanvar", "nanstd", "nansum", "nanprod"):
        np.testing.assert_allclose(getattr(cr, name)(cr.tensor(x), axis=1).numpy(),
                                   _quietly(getattr(np, name), x, axis=1), equal_nan=True)
    last_row = {"nanmean": [0.5, 0.5], "nanmax": [0.0, 1.0], "nanmin": [1.0, 0.0], "nanmedian": [0.5, 0.5]}
    for name, row in last_row.items():
        g = _grad(lambda t, name=name: getattr(cr, name)(t, axis=1), x)  # the loss is NaN; the gradient is not
        np.testing.assert_array_equal(g, [[0.0, 0.0], [1.0, 0.0], row])
    # nanmax with initial: a slice of NaNs is initial, as NumPy's
    np.testing.assert_array_equal(cr.nanmax(x, axis=1, initial=-3.0), np.nanmax(x, axis=1, initial=-3.0))


def test_nan_functions_take_numpy_s_other_arguments() -> None:
    x = _with_nans(4)
    mask = _x(5) > -0.5
    np.testing.assert_allclose(cr.nansum(x, axis=1, where=mask, initial=1.0), np.nansum(x, axis=1, where=mask,
                                                                                         initial=1.0), rtol=1e-13)
    np.testing.assert_allclose(cr.nanmean(x, axis=2, where=mask), _quietly(np.nanmean, x, axis=2, where=mask),
                               rtol=1e-13, equal_nan=True)
    np.testing.assert_allclose(cr.nanvar(x, axis=0, correction=1), np.nanvar(x, axis=0, correction=1), rtol=1e-13)
    np.testing.assert_allclose(cr.nanmin(x, axis=0, where=mask, initial=9.0),
                               np.nanmin(x, axis=0, where=mask, initial=9.0))
    assert cr.nansum(x.astype(np.float32), dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(cr.nanmax(np.array([[3, 1], [2, 5]]), axis=0), [3, 5])  # integers: no NaNs
    with pytest.raises(ValueError, match=r"^max\(\.\.\., where=\) needs initial="):
        cr.nanmax(x, where=mask)
    with pytest.raises(TypeError, match=r"^nancumsum\(\.\.\., out=\)"):
        cr.nancumsum(x, out=np.empty(x.shape))


# ---- average, ptp ------------------------------------------------------------------------------------------------
AVERAGES: list[tuple[Any, Any, bool]] = [
    (None, None, False), (1, None, True), (None, _x(6) + 2.0, False), (2, np.arange(1.0, 6.0), True),
    ((0, 2), np.abs(_x(7, (3, 5))) + 0.1, False), ((2, 0), np.abs(_x(7, (5, 3))) + 0.1, True),
    (-1, np.abs(_x(8)) + 0.2, False),
]


@pytest.mark.parametrize(("axis", "weights", "keepdims"), AVERAGES, ids=range(len(AVERAGES)))
def test_average_matches_numpy_and_differentiates_in_the_weights(axis: Any, weights: Any, keepdims: bool) -> None:
    x = _x()
    avg, total = cr.average(cr.tensor(x), axis=axis, weights=weights, returned=True, keepdims=keepdims)
    e_avg, e_total = np.average(x, axis=axis, weights=weights, returned=True, keepdims=keepdims)
    np.testing.assert_allclose(avg.numpy(), e_avg, rtol=1e-13)
    np.testing.assert_allclose(total.numpy(), e_total, rtol=1e-13)
    assert avg.shape == np.shape(e_avg) and total.shape == np.shape(e_total)
    if weights is None:
        assert cr.gradcheck(lambda t: cr.average(t, axis=axis, keepdims=keepdims), x, order=2, modes=("rev", "fwd"))
    else:
        assert cr.gradcheck(lambda t, w: cr.average(t, axis=axis, weights=w, keepdims=keepdims), x, weights,
                            order=2, modes=("rev", "fwd"))


def test_average_refuses_what_numpy_refuses() -> None:
    x = _x()
    with pytest.raises(ZeroDivisionError, match="weights sum to zero"):
        cr.average(x, axis=1, weights=np.array([1.0, -1.0, 0.0, 0.0]))
    with pytest.raises(TypeError, match="axis= must be given"):
        cr.average(x, weights=np.ones(5))
    with pytest.raises(ValueError, match=r"weights of shape \(4,\) do not match"):
        cr.average(x, axis=2, weights=np.ones(4))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, (0, 2)], ids=str)
def test_ptp_matches_numpy(axis: Any, keepdims: bool) -> None:
    x = _x(9)
    np.testing.assert_allclose(cr.ptp(cr.tensor(x), axis=axis, keepdims=keepdims).numpy(),
                               np.ptp(x, axis=axis, keepdims=keepdims), rtol=1e-14)
    assert cr.gradcheck(lambda t: cr.ptp(t, axis=axis, keepdims=keepdims), x, order=2, modes=("rev", "fwd"))
    np.testing.assert_array_equal(_grad(cr.ptp, [1.0, 4.0, 4.0, -2.0]), [0.0, 0.5, 0.5, -1.0])  # ties split


# ---- cov, corrcoef ------------------------------------------------------------------------------------------------
FW = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 2.0])
AW = np.array([0.5, 1.5, 1.0, 2.0, 0.7, 1.1])
COVS: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
    ("rows", (_x(1, (3, 6)),), {}),
    ("columns", (_x(2, (6, 3)),), {"rowvar": False}),
    ("one variable", (_x(3, (6,)),), {}),
    ("one column, rowvar=False", (_x(3, (6, 1)),), {"rowvar": False}),
    ("with y", (_x(4, (2, 6)), _x(5, (6,))), {}),
    ("with y, columns", (_x(4, (6, 2)), _x(5, (6, 2))), {"rowvar": False}),
    ("bias", (_x(1, (3, 6)),), {"bias": True}),
    ("ddof", (_x(1, (3, 6)),), {"ddof": 2}),
    ("fweights", (_x(1, (3, 6)),), {"fweights": FW}),
    ("aweights", (_x(1, (3, 6)),), {"aweights": AW}),
    ("both weights", (_x(1, (3, 6)),), {"fweights": FW, "aweights": AW}),
    ("both weights, bias", (_x(1, (3, 6)),), {"fweights": FW, "aweights": AW, "bias": True}),
    ("both weights, ddof", (_x(1, (3, 6)),), {"fweights": FW, "aweights": AW, "ddof": 2}),
]


@pytest.mark.parametrize(("name", "args", "kwargs"), COVS, ids=[c[0] for c in COVS])
def test_cov_matches_numpy(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # NumPy's cov multiplies a float fweights array by aweights in place: it gets copies
    expected = np.cov(*args, **{k: v.copy() if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    got = cr.cov(*(cr.tensor(a) for a in args), **kwargs)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13, atol=1e-15)
    assert cr.gradcheck(lambda *t: cr.cov(*t, **kwargs), *args, order=2, modes=("rev", "fwd"))
    np.testing.assert_allclose(np.cov(*(cr.tensor(a) for a in args), **kwargs).numpy(), expected, rtol=1e-13)
    assert np.array_equal(FW, [1.0, 2.0, 1.0, 3.0, 1.0, 2.0])  # and chainrule's writes into nothing


def test_cov_is_differentiable_in_the_reliability_weights() -> None:
    x = _x(1, (3, 6))
    assert cr.gradcheck(lambda t, a: cr.cov(t, aweights=a, fweights=FW), x, AW, order=2, modes=("rev", "fwd"))


def test_cov_matches_pytorch_with_weights() -> None:
    x = _x(6, (3, 7))
    fw = np.array([1, 2, 1, 1, 3, 1, 2])
    aw = np.linspace(0.5, 2.0, 7)
    got = cr.grad(lambda t: cr.sum(cr.cov(t, fweights=fw, aweights=aw) * np.arange(9.0).reshape(3, 3)))(x)
    tx = torch.tensor(x, requires_grad=True)
    c = torch.cov(tx, fweights=torch.tensor(fw), aweights=torch.tensor(aw))
    (c * torch.arange(9.0, dtype=torch.float64).reshape(3, 3)).sum().backward()
    assert tx.grad is not None
    np.testing.assert_allclose(got, tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(cr.cov(x, fweights=fw, aweights=aw), c.detach().numpy(), rtol=1e-13)


@pytest.mark.parametrize(("name", "args", "kwargs"), COVS[:6], ids=[c[0] for c in COVS[:6]])
def test_corrcoef_matches_numpy_and_pytorch(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    expected = np.corrcoef(*args, **kwargs)
    got = cr.corrcoef(*(cr.tensor(a) for a in args), **kwargs)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13, atol=1e-15)
    if got.ndim == 2:  # off the diagonal (1 there, and its derivative 0) finite differences are smooth
        off = ~np.eye(got.shape[0], dtype=bool)
        assert cr.gradcheck(lambda *t: cr.corrcoef(*t, **kwargs)[off], *args, order=2, modes=("rev", "fwd"))
    if name == "rows":
        tx = torch.tensor(args[0], requires_grad=True)
        weights = np.cos(np.arange(9.0)).reshape(3, 3)
        (torch.corrcoef(tx) * torch.tensor(weights)).sum().backward()
        assert tx.grad is not None
        np.testing.assert_allclose(cr.grad(lambda t: cr.sum(cr.corrcoef(t) * weights))(args[0]), tx.grad.numpy(),
                                   rtol=1e-10, atol=1e-13)


def test_cov_dtypes_and_refusals() -> None:
    x = _x(1, (3, 6)).astype(np.float32)
    assert cr.cov(x).dtype == np.float32 and cr.corrcoef(x).dtype == np.float32  # NumPy would give float64
    assert cr.grad(lambda t: cr.sum(cr.cov(t)))(x).dtype == np.float32
    np.testing.assert_allclose(cr.cov(np.array([[1, 2, 4], [0, 3, 1]])), np.cov(np.array([[1, 2, 4], [0, 3, 1]])))
    assert cr.cov(x, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="at most 2"):
        cr.cov(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="fweights must be integers"):
        cr.cov(x, fweights=np.full(6, 1.5))
    with pytest.raises(ValueError, match="aweights cannot be negative"):
        cr.cov(x, aweights=-np.ones(6))
    with pytest.raises(ValueError, match=r"one weight per observation \(6\)"):
        cr.cov(x, fweights=np.ones(5))
    np.testing.assert_array_equal(cr.cov(np.array([1.0])), np.nan)  # one observation: no degrees of freedom


# ---- NumPy code, differentiated as it is written -------------------------------------------------------------------
def _robust_loss(x: Any) -> Any:
    """A median absolute deviation, a trimmed range and a NaN-aware z-score, in plain NumPy."""
    med = np.median(x, axis=1, keepdims=True)
    mad = np.median(np.abs(x - med), axis=1)
    lo, hi = np.percentile(x, [10, 90], axis=1)
    z = (x - np.nanmean(x, axis=1, keepdims=True)) / np.nanstd(x, axis=1, keepdims=True)
    return np.sum(mad * (hi - lo)) + np.nansum(z**3) + np.average(np.ptp(x, axis=0), weights=np.arange(1.0, 6.0))


def _correlation_loss(x: Any) -> Any:
    c = np.corrcoef(x)
    return np.sum(np.triu(np.ones((3, 3)), 1) * c**2) + np.trace(np.cov(x, bias=True))


def test_numpy_code_records_and_matches_finite_differences() -> None:
    x = _x(7, (3, 5))
    g = cr.grad(_robust_loss)(x)
    assert g.shape == x.shape and np.all(np.isfinite(g))
    assert cr.gradcheck(_robust_loss, x, order=2, modes=("rev", "fwd"))
    assert cr.gradcheck(_correlation_loss, x, order=2, modes=("rev", "fwd"))
    assert float(_robust_loss(cr.tensor(x))) == pytest.approx(float(_robust_loss(x)), rel=1e-12)


def test_nan_aware_numpy_code_ignores_the_nans() -> None:
    x = _with_nans(8, (4, 6))

    def loss(v: Any) -> Any:
        spread = np.nanvar(v - np.nanmedian(v, axis=0), axis=0)  # NaN entries stay NaN, and are left out
        return np.nansum(spread) + np.nanmax(v) - np.nanmin(v) + np.nanmean(v) ** 2

    g = cr.grad(loss)(x)
    assert np.all(g[np.isnan(x)] == 0.0) and np.all(np.isfinite(g))
    assert cr.gradcheck(loss, x, order=2, modes=("rev", "fwd"))
    assert float(loss(cr.tensor(x))) == pytest.approx(float(loss(x)), rel=1e-12)


def test_a_nan_computed_on_before_a_nan_function_has_a_nan_gradient_as_in_pytorch() -> None:
    """nansum(x**2) leaves the NaN of x**2 out, but the square's own rule still meets the NaN (0 * NaN): the
    double-where remedy of ``where``'s docstring applies (``cr.where(cr.isnan(x), 0, x)`` first)."""
    x = np.array([1.0, np.nan, 2.0])
    g = cr.grad(lambda v: np.nansum(v**2))(x)
    t = torch.tensor(x, requires_grad=True)
    torch.nansum(t**2).backward()
    assert t.grad is not None
    np.testing.assert_array_equal(g, t.grad.numpy())
    np.testing.assert_array_equal(cr.grad(lambda v: np.nansum(cr.where(np.isnan(v), 0.0, v) ** 2))(x), [2, 0, 4])


def test_nan_arg_reductions_compute_inside_transforms() -> None:
    """np.nanargmax / np.nanargmin have no derivative (indices): they compute on the values, as np.argmax does."""
    x = np.array([1.0, np.nan, 3.0, -2.0])
    g = cr.grad(lambda v: v[np.nanargmax(v)] * 2 + v[np.nanargmin(v)])(x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 2.0, 1.0])


# ---- under vmap and cr.compile: sort orders, NaN masks and counts are recorded steps, not reads of the values -----
RECORDED: list[tuple[str, Callable[..., Any]]] = [
    ("nansum", lambda t: cr.nansum(t, axis=1)),
    ("nanmean", lambda t: cr.nanmean(t, axis=0)),
    ("nanmax", lambda t: cr.nanmax(t, axis=1)),
    ("nanstd", lambda t: cr.nanstd(t, axis=1, ddof=1)),
    ("nancumsum", lambda t: cr.nancumsum(t, axis=1)),
    ("mean-where", lambda t: cr.mean(t, axis=1, where=t > 0)),
    ("average", lambda t: cr.average(t, axis=1, weights=np.arange(1.0, 6.0))),
    ("cov", lambda t: cr.cov(t)),
    ("corrcoef", lambda t: cr.corrcoef(t)),
    ("median", lambda t: cr.median(t, axis=1)),
    ("quantile-linear", lambda t: cr.quantile(t, [0.1, 0.75], axis=-1)),
    ("quantile-nearest", lambda t: cr.quantile(t, 0.4, axis=1, method="nearest")),
    ("quantile-averaged-inverted-cdf", lambda t: cr.quantile(t, 0.5, axis=1, method="averaged_inverted_cdf")),
    ("nanquantile", lambda t: cr.nanquantile(t, 0.3, axis=1)),
    ("percentile-all", lambda t: cr.percentile(t, 60)),
]


def _two_nans(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    x = x.copy()
    x[0, 1] = x[2, 3] = np.nan
    return x


@pytest.mark.parametrize("f", [pytest.param(f, id=name) for name, f in RECORDED])
def test_compiled_statistics_follow_new_values(f: Callable[..., Any]) -> None:
    a, b, c = np.random.default_rng(5).standard_normal((3, 3, 5))
    replays_as_eager(f, [a, _two_nans(b), c])


@pytest.mark.parametrize("f", [pytest.param(f, id=name) for name, f in RECORDED])
def test_vmapped_statistics_match_the_loop(f: Callable[..., Any]) -> None:
    xs = np.random.default_rng(6).standard_normal((4, 3, 5))
    xs[1] = _two_nans(xs[1])
    np.testing.assert_array_equal(cr.vmap(f)(xs).data, np.stack([f(cr.tensor(x)).data for x in xs]))
    total = lambda t: f(t).sum()
    np.testing.assert_array_equal(cr.vmap(cr.grad(total))(xs).data, np.stack([cr.grad(total)(x).data for x in xs]))
