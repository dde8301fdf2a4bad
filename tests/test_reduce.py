"""Reductions beyond the generated op tests: NumPy agreement over every axis/keepdims combination, the decided kinks
(max/min ties, prod/cumprod at zeros) with exact values, stability at |x| = 1000, dtypes, and a property test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr

SHAPE = (2, 3, 4)
AXES: list[Any] = [None, 0, 1, 2, -1, -2, -3, (0, 1), (0, 2), (1, 2), (2, 0), (0, 1, 2), (-1, -3)]
INT_AXES: list[Any] = [None, 0, 1, 2, -1]


def _x(seed: int = 0, shape: tuple[int, ...] = SHAPE) -> np.ndarray[Any, Any]:
    """Distinct values (no ties, gaps of at least 0.09), in [-1.2, 1.2], no zeros."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    values = (rng.permutation(n) - n / 2 + 0.5) * (2.4 / n) + rng.uniform(-0.004, 0.004, n)
    return values.reshape(shape)


def _grad(f: Callable[[Any], Any], x0: Any, dtype: Any = np.float64) -> np.ndarray[Any, Any]:
    x = cr.tensor(np.asarray(x0, dtype=dtype), requires_grad=True)
    y = f(x)
    y.backward(np.ones(y.shape, dtype=y.dtype))
    assert x.grad is not None
    return x.grad.numpy()


def _hessian(f: Callable[[Any], Any], x0: list[float]) -> np.ndarray[Any, Any]:
    """The Hessian of a scalar f, row by row, through create_graph (reverse over reverse)."""
    x = cr.tensor(np.asarray(x0, dtype=np.float64), requires_grad=True)
    (g,) = cr.engine.grad(f(x), x, create_graph=True)
    rows = []
    for i in range(len(x0)):
        (h,) = cr.engine.grad(g[i], x, retain_graph=True)
        rows.append(h.numpy())
    return np.array(rows)


# ---- forward against NumPy on a (2, 3, 4) input, every axis and keepdims ---------------------------------------
REDUCTIONS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("sum", cr.sum, np.sum),
    ("mean", cr.mean, np.mean),
    ("prod", cr.prod, np.prod),
    ("var", cr.var, np.var),
    ("var_ddof1", lambda x, **kw: cr.var(x, ddof=1, **kw), lambda x, **kw: np.var(x, ddof=1, **kw)),
    ("std", cr.std, np.std),
    ("std_ddof1", lambda x, **kw: cr.std(x, ddof=1, **kw), lambda x, **kw: np.std(x, ddof=1, **kw)),
    ("max", cr.max, np.max),
    ("min", cr.min, np.min),
    ("amax", cr.amax, np.amax),
    ("amin", cr.amin, np.amin),
    ("logsumexp", cr.logsumexp, scipy.special.logsumexp),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize(("name", "fn", "ref"), REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reduction_forward_and_gradient_every_axis(name: str, fn: Callable[..., Any], ref: Callable[..., Any],
                                                   axis: Any, keepdims: bool) -> None:
    x = _x()
    got = fn(cr.tensor(x), axis=axis, keepdims=keepdims)
    expected = ref(x, axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(fn(x, axis=axis, keepdims=keepdims)), expected, rtol=1e-12, atol=1e-12)
    assert cr.gradcheck(lambda t: fn(t, axis=axis, keepdims=keepdims), x, order=1)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", INT_AXES, ids=str)
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions_match_numpy(name: str, axis: Any, keepdims: bool) -> None:
    x = _x()
    got = getattr(cr, name)(cr.tensor(x, requires_grad=True), axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    np.testing.assert_array_equal(got.numpy(), expected)
    assert got.dtype == expected.dtype and not got.requires_grad


@pytest.mark.parametrize("axis", INT_AXES, ids=str)
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative_match_numpy(name: str, axis: Any) -> None:
    x = _x()
    got = getattr(cr, name)(cr.tensor(x), axis=axis)
    np.testing.assert_allclose(got.numpy(), getattr(np, name)(x, axis=axis), rtol=1e-12, atol=1e-14)
    assert cr.gradcheck(lambda t: getattr(cr, name)(t, axis=axis), x, order=1)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_matches_scipy(name: str, axis: Any) -> None:
    x = _x() * 3
    got = getattr(cr, name)(cr.tensor(x), axis=axis)
    np.testing.assert_allclose(got.numpy(), getattr(scipy.special, name)(x, axis=axis), rtol=1e-12, atol=1e-14)
    assert cr.gradcheck(lambda t: getattr(cr, name)(t, axis=axis), x, order=1)


def test_defaults_and_tensor_methods() -> None:
    x = _x()
    t = cr.tensor(x)
    np.testing.assert_allclose(cr.softmax(t).numpy(), scipy.special.softmax(x, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(cr.cumsum(t).numpy(), np.cumsum(x), rtol=1e-12)  # axis=None flattens
    checks = [
        (t.sum(axis=1), x.sum(axis=1)), (t.mean(axis=(0, 2), keepdims=True), x.mean(axis=(0, 2), keepdims=True)),
        (t.prod(axis=-1), x.prod(axis=-1)), (t.var(axis=0, ddof=1), x.var(axis=0, ddof=1)),
        (t.std(keepdims=True), x.std(keepdims=True)), (t.max(axis=2), x.max(axis=2)), (t.min(), x.min()),
        (t.argmax(axis=1), x.argmax(axis=1)), (t.argmin(keepdims=True), x.argmin(keepdims=True)),
        (t.cumsum(axis=1), x.cumsum(axis=1)), (t.cumprod(), x.cumprod()),
    ]
    for got, expected in checks:
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
        assert got.shape == np.shape(expected)


# ---- max / min: ties split the gradient evenly (exact values) --------------------------------------------------
def test_max_tie_splits_gradient_evenly() -> None:
    np.testing.assert_array_equal(_grad(cr.max, [1.0, 3.0, 3.0]), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(_grad(cr.amax, [1.0, 3.0, 3.0]), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(_grad(cr.max, [1.0, 3.0, 2.0]), [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(_grad(cr.max, [2.0, 2.0, 2.0, 2.0]), [0.25] * 4)
    np.testing.assert_array_equal(_grad(lambda x: x.max(), [[4.0, 1.0], [4.0, 4.0]]), [[1 / 3, 0], [1 / 3, 1 / 3]])


def test_min_tie_splits_gradient_evenly() -> None:
    np.testing.assert_array_equal(_grad(cr.min, [2.0, -1.0, -1.0, -1.0]), [0.0, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_array_equal(_grad(cr.amin, [0.0, 0.0]), [0.5, 0.5])


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_ties_along_an_axis_weight_the_incoming_gradient(keepdims: bool) -> None:
    x = cr.tensor([[1.0, 3.0, 3.0], [5.0, 5.0, 5.0]], requires_grad=True)
    y = cr.max(x, axis=1, keepdims=keepdims)
    g = np.array([[2.0], [3.0]]) if keepdims else np.array([2.0, 3.0])
    y.backward(g)
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]], rtol=1e-15)
    x.grad = None
    cr.min(x, axis=0).backward(np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 2.0, 4.0], [0.0, 0.0, 0.0]])


def test_max_ties_in_forward_mode_and_second_order() -> None:
    y, t = cr.jvp(cr.max, [np.array([1.0, 3.0, 3.0])], [np.array([1.0, 2.0, 4.0])])
    assert float(y) == 3.0 and float(t) == 3.0  # (2 + 4) / 2
    np.testing.assert_array_equal(_hessian(cr.max, [1.0, 3.0, 3.0]), np.zeros((3, 3)))


def test_max_with_nan_propagates_without_warning() -> None:
    g = _grad(cr.max, [1.0, np.nan, 2.0])
    np.testing.assert_array_equal(g, [0.0, 1.0, 0.0])


# ---- prod and cumprod with zeros: exact gradients ----------------------------------------------------------------
def test_prod_gradient_with_one_zero() -> None:
    np.testing.assert_array_equal(_grad(cr.prod, [2.0, 0.0, 3.0]), [0.0, 6.0, 0.0])
    np.testing.assert_array_equal(_grad(cr.prod, [0.0, -1.5, 4.0]), [-6.0, 0.0, 0.0])


def test_prod_gradient_with_several_zeros() -> None:
    np.testing.assert_array_equal(_grad(cr.prod, [0.0, 2.0, 0.0]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(_grad(cr.prod, [0.0, 0.0]), [0.0, 0.0])
    np.testing.assert_array_equal(_grad(cr.prod, [0.0]), [1.0])
    np.testing.assert_array_equal(_grad(cr.prod, 0.0), 1.0)


def test_prod_gradient_with_zeros_along_axes() -> None:
    x = [[0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 4.0]]
    np.testing.assert_array_equal(_grad(lambda t: cr.prod(t, axis=1), x), [[6, 0, 0], [0, 0, 0], [8, 4, 2]])
    np.testing.assert_array_equal(_grad(lambda t: cr.prod(t, axis=0, keepdims=True), x),
                                  [[0, 0, 20], [0, 4, 12], [0, 0, 15]])


def test_prod_hessian_at_zeros_by_hand() -> None:
    # prod = x0 x1 x2: d2/dxi dxj = x_k for the third index k
    np.testing.assert_array_equal(_hessian(cr.prod, [2.0, 0.0, 3.0]), [[0, 3, 0], [3, 0, 2], [0, 2, 0]])
    np.testing.assert_array_equal(_hessian(cr.prod, [0.0, 2.0, 0.0]), [[0, 0, 2], [0, 0, 0], [2, 0, 0]])
    np.testing.assert_array_equal(_hessian(cr.prod, [0.0, 0.0, 0.0]), np.zeros((3, 3)))


@pytest.mark.parametrize(("x", "kwargs"), [
    (np.array([0.0, 1.3, -0.8, 0.0]), {}),
    (np.array([[[0.5, 0.0], [1.2, -0.7], [0.0, 0.9]], [[0.0, 1.1], [0.0, 0.0], [0.8, -1.4]]]), {"axis": (0, 2)}),
    (np.array([[[0.5, 0.0], [1.2, -0.7], [0.0, 0.9]], [[0.0, 1.1], [0.0, 0.0], [0.8, -1.4]]]),
     {"axis": (-1, 1), "keepdims": True}),
    (np.array([[0.0, 0.0, 0.0], [0.0, 1.5, 0.0]]), {"axis": None}),
])
def test_prod_with_zeros_matches_finite_differences_to_order_2(x: Any, kwargs: dict[str, Any]) -> None:
    assert cr.gradcheck(lambda t: cr.prod(t, **kwargs), x, order=2)


def test_cumprod_gradient_with_zeros_by_hand() -> None:
    # sum(cumprod(x)) = x0 + x0 x1 + x0 x1 x2 + x0 x1 x2 x3
    np.testing.assert_array_equal(_grad(cr.cumprod, [2.0, 0.0, 3.0, 4.0]), [1.0, 32.0, 0.0, 0.0])
    np.testing.assert_array_equal(_grad(cr.cumprod, [0.0, 2.0, 3.0]), [9.0, 0.0, 0.0])
    np.testing.assert_array_equal(_grad(cr.cumprod, [2.0, 0.0, 0.0]), [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(_hessian(lambda t: cr.cumprod(t).sum(), [2.0, 0.0, 3.0]),
                                  [[0, 4, 0], [4, 0, 2], [0, 2, 0]])


@pytest.mark.parametrize(("x", "axis"), [
    (np.array([1.5, 0.0, -0.7, 1.2]), None),
    (np.array([[0.0, 1.2, 0.0], [0.7, 0.0, -1.1]]), None),
    (np.array([[0.0, 1.2, 0.0], [0.7, 0.0, -1.1]]), -1),
    (np.array([[[0.5, 0.0], [1.2, -0.7], [0.0, 0.9]], [[0.0, 1.1], [0.0, 0.0], [0.8, -1.4]]]), 1),
])
def test_cumprod_with_zeros_matches_finite_differences_to_order_2(x: Any, axis: Any) -> None:
    assert cr.gradcheck(lambda t: cr.cumprod(t, axis=axis), x, order=2)


def test_zeros_keep_float32() -> None:
    for fn in (cr.prod, cr.cumprod):
        g = _grad(fn, [2.0, 0.0, 3.0], np.float32)
        assert g.dtype == np.float32


# ---- stability at |x| = 1000 -------------------------------------------------------------------------------------
STABLE = [("logsumexp", cr.logsumexp), ("softmax", cr.softmax), ("log_softmax", cr.log_softmax)]
EXTREME = [[1000.0, -1000.0, 0.0], [1000.0, 1000.0], [-1000.0, -1000.0], [-1000.0, 1000.0, 1000.0]]


@pytest.mark.parametrize("values", EXTREME, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize(("name", "fn"), STABLE, ids=[s[0] for s in STABLE])
def test_stable_at_large_magnitudes(name: str, fn: Callable[..., Any], dtype: Any, values: list[float]) -> None:
    x = cr.tensor(np.array(values, dtype=dtype), requires_grad=True)
    y = fn(x)
    assert y.dtype == dtype and np.all(np.isfinite(y.numpy()))
    (y * cr.tensor(np.arange(1, y.size + 1, dtype=dtype).reshape(y.shape))).sum().backward()
    assert x.grad is not None and x.grad.dtype == dtype and np.all(np.isfinite(x.grad.numpy()))
    # second order stays finite too
    x64 = cr.tensor(np.array(values, dtype=dtype), requires_grad=True)
    (g,) = cr.engine.grad((fn(x64) ** 2).sum(), x64, create_graph=True)
    (h,) = cr.engine.grad(g.sum(), x64)
    assert np.all(np.isfinite(h.numpy()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_stable_values(dtype: Any) -> None:
    x = np.array([1000.0, -1000.0, 0.0], dtype=dtype)
    tie = np.array([1000.0, 1000.0], dtype=dtype)
    np.testing.assert_allclose(cr.logsumexp(x), 1000.0, rtol=1e-7)
    np.testing.assert_allclose(cr.logsumexp(tie), 1000.0 + np.log(2.0), rtol=1e-7)
    np.testing.assert_allclose(cr.softmax(x), [1.0, 0.0, 0.0], atol=1e-30)
    np.testing.assert_allclose(cr.softmax(tie), [0.5, 0.5], rtol=1e-7)
    np.testing.assert_allclose(cr.log_softmax(x), [0.0, -2000.0, -1000.0], rtol=1e-7)
    np.testing.assert_allclose(cr.log_softmax(tie), [-np.log(2.0)] * 2, rtol=1e-6)
    np.testing.assert_allclose(_grad(cr.logsumexp, x, dtype), [1.0, 0.0, 0.0], atol=1e-30)
    # the VJP reuses ans = 1000.69..., whose float32 rounding (half an ulp of 1000, 3e-5) shows in exp(x - ans)
    np.testing.assert_allclose(_grad(cr.logsumexp, tie, dtype), [0.5, 0.5], rtol=1e-4 if dtype == np.float32 else 1e-12)


def test_logsumexp_of_infinities() -> None:
    assert float(cr.logsumexp(np.array([-np.inf, -np.inf]))) == -np.inf
    assert float(cr.logsumexp(np.array([-np.inf, 0.0]))) == 0.0
    assert float(cr.logsumexp(np.array([np.inf, 1.0]))) == np.inf
    np.testing.assert_array_equal(cr.softmax(np.array([0.0, -np.inf])), [1.0, 0.0])


# ---- dtype: float32 in, float32 values and gradients out ---------------------------------------------------------
FLOAT32_FNS: list[Callable[[Any], Any]] = [
    cr.sum, cr.mean, cr.prod, cr.var, lambda x: cr.var(x, axis=0, ddof=1), cr.std, cr.max, cr.min,
    lambda x: cr.max(x, axis=1), cr.logsumexp, lambda x: cr.logsumexp(x, axis=0), cr.softmax, cr.log_softmax,
    cr.cumsum, cr.cumprod, lambda x: cr.cumprod(x, axis=1),
]


@pytest.mark.parametrize("fn", FLOAT32_FNS)
def test_float32_in_float32_out(fn: Callable[[Any], Any]) -> None:
    x = cr.tensor(_x(1, (2, 3)).astype(np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    (g,) = cr.engine.grad(y, x, np.ones(y.shape, dtype=np.float32), create_graph=True)
    assert g.dtype == np.float32
    (h,) = cr.engine.grad(g.sum(), x)
    assert h.dtype == np.float32


def test_arg_reductions_are_not_differentiable() -> None:
    x = cr.tensor([1.0, 3.0, 3.0, -2.0, -2.0], requires_grad=True)
    assert int(cr.argmax(x)) == 1 and int(cr.argmin(x)) == 3  # first occurrence, as NumPy
    assert not cr.argmax(x).requires_grad and cr.argmax(x).dtype.kind == "i"


# ---- property: the gradient has the input's shape and matches finite differences --------------------------------
@st.composite
def _shape_and_axis(draw: st.DrawFn) -> tuple[tuple[int, ...], Any, bool, int]:
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    ndim = len(shape)
    if ndim == 0:
        axis: Any = draw(st.sampled_from([None, 0, -1, ()]))
    else:
        axis = draw(st.one_of(
            st.none(),
            st.integers(-ndim, ndim - 1),
            st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim).map(
                lambda axes: tuple(a - ndim if a % 2 else a for a in axes)),
        ))
    return shape, axis, draw(st.booleans()), draw(st.integers(0, 2**16))


@settings(max_examples=25, deadline=None)
@given(_shape_and_axis(), st.sampled_from(["sum", "mean", "max", "min", "prod", "logsumexp"]))
def test_reduction_gradients_property(case: tuple[tuple[int, ...], Any, bool, int], name: str) -> None:
    shape, axis, keepdims, seed = case
    fn = getattr(cr, name)
    x0 = _x(seed, shape)
    x = cr.tensor(x0, requires_grad=True)
    y = fn(x, axis=axis, keepdims=keepdims)
    assert y.shape == np.sum(x0, axis=axis, keepdims=keepdims).shape
    y.backward(np.ones(y.shape))
    assert x.grad is not None and x.grad.shape == shape
    assert cr.gradcheck(lambda t: fn(t, axis=axis, keepdims=keepdims), x0, order=1)


# ---- every reduction at the edges: empty, 0-d, float16, extreme magnitudes (no warning, ever) ----------------------
EVERY_REDUCTION: list[tuple[str, Callable[..., Any]]] = [
    ("sum", cr.sum), ("mean", cr.mean), ("prod", cr.prod), ("var", cr.var), ("std", cr.std),
    ("logsumexp", cr.logsumexp), ("softmax", cr.softmax), ("log_softmax", cr.log_softmax),
    ("cumsum", cr.cumsum), ("cumprod", cr.cumprod),
]
TORCH_EMPTY = {"sum": 0.0, "mean": np.nan, "prod": 1.0, "var": np.nan, "std": np.nan, "logsumexp": -np.inf}


@pytest.mark.parametrize("axis", [0, None], ids=["axis0", "all"])
@pytest.mark.parametrize(("name", "fn"), EVERY_REDUCTION, ids=[r[0] for r in EVERY_REDUCTION])
def test_empty_input(name: str, fn: Callable[..., Any], axis: Any) -> None:
    """Over no elements, PyTorch's values: sum 0, prod 1, logsumexp -inf, mean/var/std NaN; empty outputs stay empty."""
    x = cr.tensor(np.zeros((0, 3)), requires_grad=True)
    y = fn(x, axis=axis)
    if name in TORCH_EMPTY:
        expected_shape = (3,) if axis == 0 else ()
        np.testing.assert_array_equal(y.numpy(), np.full(expected_shape, TORCH_EMPTY[name]))
    else:
        assert y.size == 0
    y.backward(np.ones(y.shape))
    assert x.grad is not None and x.grad.shape == (0, 3)


@pytest.mark.parametrize(("name", "fn"), EVERY_REDUCTION, ids=[r[0] for r in EVERY_REDUCTION])
def test_zero_dimensional_input(name: str, fn: Callable[..., Any]) -> None:
    expected = {"var": 0.0, "std": 0.0, "logsumexp": 3.5, "softmax": 1.0, "log_softmax": 0.0}.get(name, 3.5)
    assert np.asarray(fn(3.5)).reshape(-1).tolist() == [expected]  # a Python number, as NumPy takes it
    if name != "std":  # std'(x) at a single point is 0/0
        assert cr.gradcheck(fn, np.array(0.3), order=2)


@pytest.mark.parametrize(("name", "fn"), EVERY_REDUCTION, ids=[r[0] for r in EVERY_REDUCTION])
def test_float16_accumulates_wider_and_stays_float16(name: str, fn: Callable[..., Any]) -> None:
    """10,000 float16 values: their sum would pass float16's 65504 long before a mean, a variance or a softmax does."""
    values = np.random.default_rng(0).uniform(9.0, 11.0, 10_000).astype(np.float16)
    if name in ("prod", "cumprod"):
        values = np.float16(1.0) + (values - np.float16(10.0)) * np.float16(1e-4)
    x = cr.tensor(values, requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float16
    with np.errstate(over="ignore"):  # the float32 result in float16's range (past it: inf, as y must be too)
        expected = np.asarray(fn(values.astype(np.float32))).astype(np.float16)
    np.testing.assert_array_equal(np.isinf(y.numpy()), np.isinf(expected))
    finite = np.isfinite(expected)
    np.testing.assert_allclose(y.numpy()[finite], expected[finite], rtol=2e-3)
    if name in ("mean", "var", "std", "logsumexp"):
        assert np.isfinite(y.numpy()).all()
    y.backward(np.ones(y.shape, dtype=np.float16))
    assert x.grad is not None and x.grad.dtype == np.float16


def test_mean_of_ten_thousand_float16_tens() -> None:
    assert float(cr.mean(cr.tensor(np.full(10_000, 10.0, dtype=np.float16)))) == 10.0


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=["float16", "float32", "float64"])
@pytest.mark.parametrize(("name", "fn"), [r for r in EVERY_REDUCTION if r[0] in ("logsumexp", "softmax", "log_softmax")]
                         + [("max", cr.max), ("min", cr.min)], ids=str)
def test_extreme_magnitudes_without_warnings(name: str, fn: Callable[..., Any], dtype: Any) -> None:
    """The largest finite values of the dtype, both signs, and -inf: right values, finite gradients, no warning."""
    big = float(np.finfo(dtype).max) * 0.99
    for values in ([big, -big], [-big, -big, 0.0], [0.0, -np.inf, 1.0]):
        x = cr.tensor(np.array(values, dtype=dtype), requires_grad=True)
        y = fn(x)
        with np.errstate(over="ignore"):  # what float64 computes, in the dtype's range (past it: inf)
            expected = np.asarray(fn(np.array(values, dtype=np.float64))).astype(dtype)
        np.testing.assert_allclose(y.numpy(), expected, rtol=2e-3)
        y.backward(np.ones(y.shape, dtype=dtype))
        assert x.grad is not None and np.isfinite(x.grad.numpy()).all()


def test_logsumexp_of_the_extremes_of_float64() -> None:
    assert float(cr.logsumexp(np.array([1e308, -1e308]))) == 1e308
    np.testing.assert_array_equal(cr.softmax(np.array([1e308, -1e308])), [1.0, 0.0])
    np.testing.assert_array_equal(cr.log_softmax(np.array([-1e308, 1e308])), [-np.inf, 0.0])


def test_a_slice_of_only_minus_infinity_is_nan_without_a_warning() -> None:
    """softmax over nothing but -inf is 0/0 (a fully masked attention row): NaN, as PyTorch, and silent."""
    x = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    np.testing.assert_array_equal(cr.softmax(x), [[np.nan, np.nan], [1.0, 0.0]])
    np.testing.assert_array_equal(cr.log_softmax(x), [[np.nan, np.nan], [0.0, -np.inf]])
    np.testing.assert_array_equal(cr.logsumexp(x, axis=1), [-np.inf, 0.0])


# ---- NumPy's calling conventions: dtype=, initial=, where=, ddof=/correction=, mean=, out= --------------------------
MASK = _x(5) > -0.4  # (2, 3, 4), some slices partly masked
ROW_MASK = np.array([True, False, True, True])  # broadcasts along the last axis
CONVENTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("sum", "sum", {"axis": 1, "where": MASK}),
    ("sum", "sum", {"axis": (0, 2), "where": ROW_MASK, "keepdims": True}),
    ("sum", "sum", {"initial": 1.5}),
    ("sum", "sum", {"axis": -1, "initial": -2.0, "where": MASK}),
    ("prod", "prod", {"axis": 2, "where": MASK}),
    ("prod", "prod", {"axis": 0, "initial": 2.0, "keepdims": True}),
    ("max", "max", {"axis": 1, "initial": 0.3}),
    ("max", "max", {"axis": (0, 2), "where": MASK, "initial": -5.0}),
    ("max", "max", {"where": ROW_MASK, "initial": -5.0, "keepdims": True}),
    ("min", "min", {"axis": 2, "where": MASK, "initial": 5.0}),
    ("amax", "amax", {"axis": 0, "initial": 0.0}),
    ("amin", "amin", {"axis": -1, "initial": -0.2, "keepdims": True}),
    ("mean", "mean", {"axis": 1, "where": MASK}),
    ("mean", "mean", {"axis": (1, 2), "where": ROW_MASK, "keepdims": True}),
    ("var", "var", {"axis": 2, "where": MASK}),
    ("var", "var", {"axis": 0, "correction": 1}),
    ("var", "var", {"axis": (0, 2), "ddof": 1, "where": ROW_MASK, "keepdims": True}),
    ("std", "std", {"axis": 1, "where": MASK, "correction": 1}),
    ("std", "std", {"axis": -1, "ddof": 1}),
]


@pytest.mark.parametrize(("name", "ref", "kwargs"), CONVENTIONS, ids=[f"{c[0]}-{i}" for i, c in enumerate(CONVENTIONS)])
def test_numpy_calling_conventions_match_numpy_and_differentiate(name: str, ref: str, kwargs: dict[str, Any]) -> None:
    x = _x()
    expected = getattr(np, ref)(x, **kwargs)
    got = getattr(cr, name)(cr.tensor(x), **kwargs)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)
    assert cr.gradcheck(lambda t: getattr(cr, name)(t, **kwargs), x, order=2, modes=("rev", "fwd"))
    # and as NumPy's own function on a tensor, which records
    via_numpy = cr.grad(lambda t: getattr(np, ref)(t, **kwargs).sum())(x)
    np.testing.assert_allclose(via_numpy, cr.grad(lambda t: getattr(cr, name)(t, **kwargs).sum())(x), rtol=1e-15)


def test_masked_entries_get_no_gradient() -> None:
    x = _x()
    for fn in (lambda t: cr.sum(t, axis=1, where=MASK), lambda t: cr.mean(t, axis=2, where=MASK),
               lambda t: cr.var(t, axis=0, where=MASK), lambda t: cr.prod(t, where=MASK),
               lambda t: cr.max(t, axis=1, where=MASK, initial=-9.0)):
        g = cr.grad(lambda t: fn(t).sum())(x)
        assert np.all(g[~MASK] == 0.0)


def test_dtype_casts_first_and_float32_is_kept() -> None:
    x = _x().astype(np.float32)
    assert cr.sum(x, dtype=np.float64).dtype == np.float64
    np.testing.assert_allclose(cr.sum(x, axis=1, dtype=np.float64), np.sum(x, axis=1, dtype=np.float64), rtol=1e-15)
    assert cr.mean(x, dtype=np.float64).dtype == np.float64
    g = cr.grad(lambda t: cr.sum(t, dtype=np.float64))(x)
    assert g.dtype == np.float32 and np.all(g == 1.0)
    for fn in (lambda t: cr.sum(t, where=MASK), lambda t: cr.mean(t, axis=1, where=MASK),
               lambda t: cr.var(t, axis=0, where=MASK, ddof=1), lambda t: cr.max(t, where=MASK, initial=-1.0),
               lambda t: cr.prod(t, axis=2, initial=2.0), lambda t: cr.logsumexp(t, b=np.float32(0.5))):
        y = fn(cr.tensor(x))
        assert y.dtype == np.float32
        assert cr.grad(lambda t: fn(t).sum())(x).dtype == np.float32
    assert cr.prod(np.array([2, 3]), dtype=np.int64).dtype == np.int64  # integer results compute, without gradient


def test_ints_with_where_stay_ints() -> None:
    a = np.arange(6).reshape(2, 3)
    m = np.array([True, False, True])
    for name, kw in [("sum", {}), ("prod", {}), ("max", {"initial": -1}), ("min", {"initial": 99})]:
        got = getattr(cr, name)(a, axis=1, where=m, **kw)
        expected = getattr(np, name)(a, axis=1, where=m, **kw)
        np.testing.assert_array_equal(got, expected)
        assert np.asarray(got).dtype == expected.dtype


def test_initial_on_empty_input_and_ties_with_initial() -> None:
    empty = cr.tensor(np.zeros((0, 3)), requires_grad=True)
    np.testing.assert_array_equal(cr.max(empty, axis=0, initial=-1.0).numpy(), [-1.0] * 3)
    np.testing.assert_array_equal(cr.sum(empty, initial=2.0).numpy(), 2.0)
    cr.max(empty, initial=-1.0).backward()
    assert empty.grad is not None and empty.grad.shape == (0, 3)
    # a tie with initial splits as maximum's ties do: half to the entry
    np.testing.assert_array_equal(_grad(lambda t: cr.max(t, initial=3.0), [1.0, 3.0]), [0.0, 0.5])
    np.testing.assert_array_equal(_grad(lambda t: cr.max(t, initial=5.0), [1.0, 3.0]), [0.0, 0.0])
    # a slice with nothing selected is initial, and passes nothing back
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, False], [False, False]])
    np.testing.assert_array_equal(cr.max(x, axis=1, where=mask, initial=-7.0), [1.0, -7.0])
    np.testing.assert_array_equal(_grad(lambda t: cr.max(t, axis=1, where=mask, initial=-7.0), x), [[1, 0], [0, 0]])


def test_mean_and_var_over_nothing_selected_are_nan_without_a_warning() -> None:
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    mask = np.array([[True, True], [False, False]])
    np.testing.assert_array_equal(cr.mean(x, axis=1, where=mask), [1.5, np.nan])
    np.testing.assert_array_equal(cr.var(x, axis=1, where=mask, ddof=2), [np.nan, np.nan])
    g = cr.grad(lambda t: cr.mean(t, axis=1, where=mask)[0])(x)
    np.testing.assert_array_equal(g, [[0.5, 0.5], [0.0, 0.0]])


def test_var_with_a_given_mean() -> None:
    x = _x()
    m = np.mean(x, axis=1, keepdims=True)
    np.testing.assert_allclose(cr.var(x, axis=1, mean=m), np.var(x, axis=1, mean=m), rtol=1e-13)
    np.testing.assert_allclose(cr.std(x, axis=1, mean=m + 0.1), np.std(x, axis=1, mean=m + 0.1), rtol=1e-13)
    # the mean may be a function of x: the gradient flows through it (here it is the true mean: the same gradient)
    assert cr.gradcheck(lambda t: cr.var(t, axis=1, mean=cr.mean(t, axis=1, keepdims=True)), x, order=2,
                        modes=("rev", "fwd"))


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std", "amax", "amin"])
def test_out_is_refused_by_name(name: str) -> None:
    said = name.replace("amax", "max").replace("amin", "min")  # the aliases are max and min themselves
    with pytest.raises(TypeError, match=rf"^{said}\(\.\.\., out=\): chainrule never writes"):
        getattr(cr, name)(cr.tensor([1.0, 2.0]), out=np.empty(()))


def test_bad_arguments_are_refused_by_name() -> None:
    x = cr.tensor(_x(), requires_grad=True)
    with pytest.raises(ValueError, match=r"^max\(\.\.\., where=\) needs initial="):
        cr.max(x, where=MASK)
    with pytest.raises(ValueError, match=r"^min\(\.\.\., where=\) needs initial="):
        np.min(x, axis=0, where=MASK)
    with pytest.raises(ValueError, match="ddof and correction"):
        cr.var(x, ddof=1, correction=1)
    with pytest.raises(TypeError, match=r"^sum\(\.\.\., where=\) takes a boolean mask"):
        cr.sum(x, where=np.ones(4))
    with pytest.raises(ValueError, match=r"^mean\(\.\.\., where=\): a mask of shape \(5,\) does not broadcast"):
        cr.mean(x, where=np.ones(5, bool))


def test_cumsum_and_cumprod_take_dtype_and_refuse_out() -> None:
    x = _x().astype(np.float32)
    for name in ("cumsum", "cumprod"):
        got = getattr(cr, name)(cr.tensor(x), 1, np.float64)
        np.testing.assert_allclose(got.numpy(), getattr(np, name)(x, 1, np.float64), rtol=1e-15)
        assert got.dtype == np.float64
        assert cr.grad(lambda t, name=name: cr.sum(getattr(cr, name)(t, dtype=np.float64)))(x).dtype == np.float32
        np.testing.assert_allclose(getattr(np, name)(cr.tensor(x), axis=2, dtype=np.float64).numpy(),
                                   getattr(np, name)(x, axis=2, dtype=np.float64), rtol=1e-15)
        with pytest.raises(TypeError, match=rf"^{name}\(\.\.\., out=\)"):
            getattr(cr, name)(x, out=np.empty(x.size))


def test_ufunc_reduce_methods_take_numpy_s_arguments() -> None:
    x = _x()
    for ufunc, kwargs in [(np.add, {"axis": 1, "where": MASK, "initial": 1.0}), (np.multiply, {"dtype": np.float32}),
                          (np.maximum, {"axis": (0, 2), "where": ROW_MASK, "initial": -3.0, "keepdims": True}),
                          (np.minimum, {"axis": None, "initial": -0.5})]:
        got = ufunc.reduce(cr.tensor(x), **kwargs)
        np.testing.assert_allclose(got.numpy(), ufunc.reduce(x, **kwargs), rtol=1e-6)
        assert got.dtype == ufunc.reduce(x, **kwargs).dtype
        plain = {k: v for k, v in kwargs.items() if k != "dtype"}
        assert cr.gradcheck(lambda t, u=ufunc, kw=plain: u.reduce(t, **kw), x, order=1)
    np.testing.assert_allclose(np.add.accumulate(cr.tensor(x), axis=2, dtype=np.float32).numpy(),
                               np.add.accumulate(x, axis=2, dtype=np.float32))


def test_positional_arguments_are_numpy_s() -> None:
    x = _x()
    np.testing.assert_allclose(cr.sum(x, 1, np.float32, None, True), np.sum(x, 1, np.float32, None, True))
    np.testing.assert_allclose(cr.var(x, 0, None, None, 1), np.var(x, 0, None, None, 1), rtol=1e-13)
    np.testing.assert_allclose(cr.max(x, 2, None, True, 0.2), np.max(x, 2, None, True, 0.2))
    np.testing.assert_allclose(np.prod(cr.tensor(x), 1, None, None, False, 2.0).numpy(), np.prod(x, 1, initial=2.0))


# ---- logsumexp with weights b (scipy.special.logsumexp) --------------------------------------------------------
LSE_CASES: list[tuple[Any, Any, dict[str, Any]]] = [
    (_x(2), np.abs(_x(3)) + 0.1, {}),
    (_x(2), np.abs(_x(3)) + 0.1, {"axis": 1, "keepdims": True}),
    (_x(2), np.array([0.5, 1.0, 2.0, 0.25]), {"axis": (0, 2)}),      # b broadcast along the last axis
    (_x(2)[:, :1], np.abs(_x(3)) + 0.1, {"axis": -1}),                # a broadcast against b
    (_x(2), np.where(_x(4) > 0, 1.0, 0.0), {"axis": 2}),              # zero weights: those entries do not count
]


@pytest.mark.parametrize(("a", "b", "kwargs"), LSE_CASES, ids=range(len(LSE_CASES)))
def test_logsumexp_with_weights_matches_scipy(a: Any, b: Any, kwargs: dict[str, Any]) -> None:
    np.testing.assert_allclose(cr.logsumexp(cr.tensor(a), b=b, **kwargs).numpy(),
                               scipy.special.logsumexp(a, b=b, **kwargs), rtol=1e-13)
    assert cr.gradcheck(lambda x, w: cr.logsumexp(x, b=w, **kwargs), a, b, order=2, modes=("rev", "fwd"))


def test_logsumexp_with_negative_weights_and_signs() -> None:
    a, b = _x(6, (3, 4)), _x(7, (3, 4))
    out, sign = cr.logsumexp(cr.tensor(a), axis=1, b=b, return_sign=True)
    e_out, e_sign = scipy.special.logsumexp(a, axis=1, b=b, return_sign=True)
    np.testing.assert_allclose(out.numpy(), e_out, rtol=1e-13)
    np.testing.assert_array_equal(sign.numpy(), e_sign)
    assert not sign.requires_grad
    assert cr.gradcheck(lambda x, w: cr.logsumexp(x, axis=1, b=w, return_sign=True)[0], a, b, order=2,
                        modes=("rev", "fwd"))
    # without return_sign a negative sum has no logarithm: NaN, as scipy's (and no warning)
    np.testing.assert_array_equal(cr.logsumexp([0.0, 1.0], b=[1.0, -1.0]), np.nan)
    out0, sign0 = cr.logsumexp(np.array([-np.inf, -np.inf]), return_sign=True)
    assert float(out0) == -np.inf and float(sign0) == 0.0
    _, sign1 = cr.logsumexp(np.array([1.0, 2.0], dtype=np.float32), return_sign=True)
    assert float(sign1) == 1.0 and sign1.dtype == np.float32


def test_logsumexp_with_weights_is_stable() -> None:
    for dtype in (np.float32, np.float64):
        a = np.array([1000.0, -1000.0, 999.0], dtype=dtype)
        b = np.array([0.5, 2.0, 0.0], dtype=dtype)
        out = cr.logsumexp(cr.tensor(a, requires_grad=True), b=b)
        assert out.dtype == dtype
        np.testing.assert_allclose(out.numpy(), 1000.0 + np.log(0.5), rtol=1e-6)
        g = cr.grad(lambda t: cr.logsumexp(t, b=b))(a)
        np.testing.assert_allclose(g, [1.0, 0.0, 0.0], atol=1e-6)
        gb = cr.grad(lambda w: cr.logsumexp(a, b=w))(b)  # d/db_i = exp(a_i - result)
        assert np.all(np.isfinite(gb)) and gb[0] == pytest.approx(2.0, rel=1e-5)
    assert float(cr.logsumexp(np.zeros(3), b=np.zeros(3))) == -np.inf  # all weights 0: log 0, silently


# ---- NumPy 2.1's cumulative_sum / cumulative_prod -----------------------------------------------------------------
@pytest.mark.parametrize("include_initial", [False, True])
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
def test_cumulative_functions_match_numpy(name: str, axis: int, include_initial: bool) -> None:
    x = _x()
    got = getattr(cr, name)(cr.tensor(x), axis=axis, include_initial=include_initial)
    expected = getattr(np, name)(x, axis=axis, include_initial=include_initial)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13)
    assert cr.gradcheck(lambda t: getattr(cr, name)(t, axis=axis, include_initial=include_initial), x, order=2,
                        modes=("rev", "fwd"))
    via_numpy = getattr(np, name)(cr.tensor(x), axis=axis, include_initial=include_initial)
    np.testing.assert_allclose(via_numpy.numpy(), expected, rtol=1e-13)


def test_cumulative_functions_on_1d_and_their_rules() -> None:
    v = np.array([1.5, -2.0, 0.5])
    np.testing.assert_allclose(cr.cumulative_sum(v), np.cumulative_sum(v))
    np.testing.assert_allclose(cr.cumulative_prod(v, include_initial=True), np.cumulative_prod(v, include_initial=True))
    assert cr.cumulative_sum(v.astype(np.float32), include_initial=True).dtype == np.float32
    assert cr.cumulative_sum(np.arange(3), dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="axis= must be given"):
        cr.cumulative_sum(_x())


def test_a_masked_numpy_loss_records_every_convention() -> None:
    """A loss written with NumPy's functions alone, each with NumPy's extra arguments, against finite differences."""
    x = _x(9, (4, 5))
    keep = np.ones((4, 5), dtype=bool)
    keep[0, 1] = keep[2, 3] = keep[3, 0] = keep[1, 1] = False
    w = np.linspace(0.5, 1.5, 5)

    def loss(v: Any) -> Any:
        centred = v - np.mean(v, axis=1, keepdims=True, where=keep)
        spread = np.std(v, axis=0, where=keep, correction=1)
        peak = np.max(v, axis=1, where=keep, initial=-1.0)
        soft = scipy.special.logsumexp(np.zeros(3)) + cr.logsumexp(v, axis=1, b=w)  # scipy's has no rule: cr's
        return np.sum(centred**2, where=keep) + np.sum(spread) + np.prod(peak, initial=0.5) + np.sum(soft)

    assert cr.gradcheck(loss, x, order=2, modes=("rev", "fwd"))
    assert float(loss(cr.tensor(x))) == pytest.approx(float(loss(x)), rel=1e-12)


def test_all_and_any_are_recorded_tests_of_a_mask() -> None:
    x = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, 6.0]])
    t = cr.tensor(x)
    for got, want in (((t > 0).all(axis=1), [False, True]), (np.any(t < 0, axis=0), [False, True, False]),
                      (cr.all(t > -3), True), (cr.any(t > 9, keepdims=True, dim=1), [[False], [False]])):
        assert isinstance(got, cr.Tensor) and got.dtype == np.bool_
        np.testing.assert_array_equal(got.data, want)
    # inside vmap and cr.compile a mask's test is a step (it was read off the values, which neither has)
    np.testing.assert_array_equal(cr.vmap(lambda r: (r > 0).all())(x), [False, True])
    masked = cr.compile(lambda a: cr.where((a > 0).any(axis=1, keepdims=True), a, 0.0))
    for a in (x, -x, x - 4.5):
        np.testing.assert_array_equal(masked(a).data, np.where((a > 0).any(axis=1, keepdims=True), a, 0.0))


def test_all_and_any_take_numpys_signature() -> None:
    u = cr.tensor([[1.0, -2.0], [3.0, 4.0]])
    mask = np.array([[True, False], [True, True]])
    for ours, theirs in ((np.all(u > 0, where=mask), np.all(u.data > 0, where=mask)),
                         (np.any(u < 0, where=cr.tensor(~mask)), np.any(u.data < 0, where=~mask)),
                         (np.all(u > 0, 1, None, True), np.all(u.data > 0, 1, None, True)),
                         (cr.any(u > 3, dim=0, keepdim=True), np.any(u.data > 3, axis=0, keepdims=True))):
        np.testing.assert_array_equal(ours.data, theirs)
    with pytest.raises(TypeError, match="never writes into an array"):
        np.all(u > 0, axis=0, out=np.empty(2, dtype=bool))
