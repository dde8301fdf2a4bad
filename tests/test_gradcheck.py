"""gradcheck itself: it passes correct derivatives and catches wrong ones (VJP, JVP, second order); the
VJP/JVP transpose identity on composites; and hypothesis property tests over broadcasting shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import chainrule as cr
from chainrule.primitive import Primitive

X = np.array([0.3, -1.2, 0.8])


def _sin_with(vjp: Callable[..., Any] | None = None, jvp: Callable[..., Any] | None = None) -> Primitive:
    """sin, with a replaceable VJP or JVP rule (not registered, so the generated op tests never see it)."""
    return Primitive("sin_under_test", np.sin,
                     vjp=vjp or (lambda g, ans, x: g * cr.cos(x)),
                     jvp=jvp or (lambda t, ans, x: t * cr.cos(x)),
                     register=False)


# ---- passes on correct functions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("f", "inputs"),
    [
        (lambda x: cr.sigmoid(x) * x, (X,)),
        (lambda x, y: cr.sin(x) * y + cr.exp(x / y), (X, np.array([1.5, 0.7, -2.0]))),
        (lambda x, y: (x @ y).sum(), (np.arange(6.0).reshape(2, 3) / 5, np.array([[0.5], [-1.0], [2.0]]))),
        (lambda x: x.reshape(3, 1) * x, (X,)),
        (lambda x: x.T @ x, (np.array([[0.5, 1.0], [-0.3, 2.0], [1.1, 0.2]]),)),
        (lambda x: cr.mean(x * x, axis=0), (np.array([[0.5, 1.0], [-0.3, 2.0]]),)),
        (lambda x: x[1:] * x[:-1], (X,)),
        (_sin_with(), (X,)),
    ],
    ids=["sigmoid-times-x", "two-inputs", "matmul", "reshape-broadcast", "gram", "mean", "slices", "sin-primitive"],
)
def test_gradcheck_passes_correct_functions(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    assert cr.gradcheck(f, *inputs) is True
    assert cr.gradcheck(f, *[cr.tensor(a) for a in inputs], order=1, modes=("rev",)) is True
    assert cr.gradcheck(f, *inputs, order=1, modes=("fwd",)) is True


def test_gradcheck_passes_non_float_inputs_through() -> None:
    idx = np.array([2, 0])
    assert cr.gradcheck(lambda x, i: x[i] * 2.0, X, idx)
    assert cr.gradcheck(lambda x, n: x**n, np.array([0.5, 1.5]), 3)


def test_gradcheck_accepts_float32_inputs() -> None:
    assert cr.gradcheck(lambda x: cr.tanh(x) * x, cr.tensor(X.astype(np.float32)))


def test_gradcheck_on_large_inputs_uses_random_directions() -> None:
    x = np.linspace(-1.0, 1.0, 30)  # 30 x 30 Jacobian: beyond the full-Jacobian limit
    assert cr.gradcheck(lambda t: cr.sin(t) * t, x)
    bad = _sin_with(vjp=lambda g, ans, x: g * cr.cos(x) * 1.01)
    with pytest.raises(cr.GradcheckError):
        cr.gradcheck(bad, x, order=1)
    bad = _sin_with(jvp=lambda t, ans, x: t * cr.cos(x) * 1.01)
    with pytest.raises(cr.GradcheckError):
        cr.gradcheck(bad, x, order=1)


def test_gradcheck_argument_errors() -> None:
    with pytest.raises(ValueError, match="floating"):
        cr.gradcheck(lambda i: i * 2, np.array([1, 2]))
    with pytest.raises(ValueError, match="mode"):
        cr.gradcheck(cr.sin, X, modes=("sideways",))


# ---- catches wrong derivatives -----------------------------------------------------------------------------------


def test_wrong_vjp_is_caught_with_input_entry_expected_and_got() -> None:
    # wrong only at the entry where x > 0.5, i.e. entry [2] of X
    bad = _sin_with(vjp=lambda g, ans, x: g * cr.cos(x) * cr.where(x > 0.5, 2.0, 1.0))
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(bad, X)
    msg = str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "reverse" in msg and "input 0" in msg and "[2]" in msg
    assert "expected" in msg and "got" in msg
    assert f"{np.cos(0.8):.6f}"[:6] in msg  # the expected value
    assert f"{2 * np.cos(0.8):.6f}"[:6] in msg  # the value it got
    # forward mode is right, so a forward-only check passes
    assert cr.gradcheck(bad, X, modes=("fwd",))


def test_wrong_jvp_is_caught_and_named_as_forward_mode() -> None:
    bad = _sin_with(jvp=lambda t, ans, x: -t * cr.cos(x))
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(bad, X)
    msg = str(info.value)
    assert "forward" in msg and "input 0" in msg and "expected" in msg and "got" in msg
    assert cr.gradcheck(bad, X, modes=("rev",))


def test_wrong_rule_for_the_second_input_names_that_input() -> None:
    bad_mul = Primitive("mul_under_test", np.multiply,
                        vjp=(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x * 1.5),
                        jvp=(lambda t, ans, x, y: t * y, lambda t, ans, x, y: t * x),
                        register=False)
    with pytest.raises(cr.GradcheckError, match="input 1"):
        cr.gradcheck(bad_mul, X, np.array([1.0, 2.0, 3.0]), modes=("rev",))


def test_rule_that_leaves_the_graph_via_numpy_is_refused_at_order_2() -> None:
    # np.cos on np.asarray(x): right values at first order, where the rule sees arrays; a second differentiation
    # hands it a value being differentiated, whose conversion to NumPy is refused rather than frozen
    leaky = _sin_with(vjp=lambda g, ans, x: g * np.cos(np.asarray(x)),
                      jvp=lambda t, ans, x: t * np.cos(np.asarray(x)))
    assert cr.gradcheck(leaky, X, order=1)
    for mode in ("rev", "fwd"):
        with pytest.raises(TypeError, match="would freeze it into a constant and drop its derivative"):
            cr.gradcheck(leaky, X, order=2, modes=(mode,))


def test_wrong_constant_in_the_second_derivative_is_caught_at_order_2() -> None:
    # cos's own rules carry a wrong constant: sin's first derivative is right, its second is not
    bad_cos = Primitive("cos_under_test", np.cos,
                        vjp=lambda g, ans, x: -g * cr.sin(x) * 3.0,
                        jvp=lambda t, ans, x: -t * cr.sin(x) * 3.0,
                        register=False)
    sin = _sin_with(vjp=lambda g, ans, x: g * bad_cos(x), jvp=lambda t, ans, x: t * bad_cos(x))
    assert cr.gradcheck(sin, X, order=1)
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(sin, X, order=2)
    assert "of f" in str(info.value)  # the label says it is a derivative of f's derivative


def test_correct_second_order_rules_pass() -> None:
    good_cos = Primitive("cos_ok", np.cos, vjp=lambda g, ans, x: -g * cr.sin(x),
                         jvp=lambda t, ans, x: -t * cr.sin(x), register=False)
    sin = _sin_with(vjp=lambda g, ans, x: g * good_cos(x), jvp=lambda t, ans, x: t * good_cos(x))
    assert cr.gradcheck(sin, X, order=3)


# ---- <u, vjp(v)> = <jvp(u), v> -----------------------------------------------------------------------------------

COMPOSITES: list[tuple[str, Callable[..., Any], list[tuple[int, ...]]]] = [
    ("sin-times-y-plus-exp-ratio", lambda x, y: cr.sin(x) * y + cr.exp(x / (y * y + 1.0)), [(2, 3), (3,)]),
    ("matmul-tanh", lambda a, b: cr.tanh(a @ b) * 2.0 - a.sum(), [(2, 3), (3, 4)]),
    ("softplus-mean", lambda x: cr.softplus(x) - cr.mean(x * x, axis=1, keepdims=True), [(3, 4)]),
    ("reshape-transpose-getitem", lambda x: (x.reshape(3, 2).T * x[0, 0])[1:] ** 2, [(2, 3)]),
    ("maximum-where-sigmoid", lambda x, y: cr.where(x > 0, cr.maximum(x, y), cr.sigmoid(y)), [(3, 1), (1, 4)]),
]


@pytest.mark.parametrize(("name", "f", "shapes"), COMPOSITES, ids=[c[0] for c in COMPOSITES])
def test_vjp_and_jvp_are_transposes(name: str, f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    rng = np.random.default_rng(7)
    primals = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    for _ in range(3):
        us = [rng.standard_normal(s) for s in shapes]
        out, jvp_u = cr.jvp(f, primals, us)
        v = rng.standard_normal(np.shape(out))
        xs = [cr.tensor(p, requires_grad=True) for p in primals]
        vjp_v = cr.engine.grad(f(*xs), xs, grad_outputs=v)
        assert [g.shape for g in vjp_v] == [x.shape for x in xs]
        lhs = sum(float(np.sum(u * g.data)) for u, g in zip(us, vjp_v))
        rhs = float(np.sum(np.asarray(jvp_u) * v))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-12)


# ---- property tests over broadcasting shapes ---------------------------------------------------------------------

BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": cr.add,
    "multiply": cr.multiply,
    "divide": cr.divide,
    "maximum": cr.maximum,
}
REFERENCE: dict[str, Callable[[Any, Any], Any]] = {
    "add": np.add,
    "multiply": np.multiply,
    "divide": np.divide,
    "maximum": np.maximum,
}
SHAPES = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=3)
PROPERTY = settings(max_examples=30, deadline=None, database=None)


def _values(seed: int, shape: tuple[int, ...], offset: float = 0.0) -> np.ndarray[Any, Any]:
    """Values with |x| in [0.3, 2]: away from 0 (a divisor) and, with distinct offsets, from each other (ties)."""
    rng = np.random.default_rng(seed)
    return np.asarray(rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape) + offset)


def _check_gradient_shapes(f: Callable[..., Any], *values: np.ndarray[Any, Any]) -> None:
    xs = [cr.tensor(v, requires_grad=True) for v in values]
    f(*xs).sum().backward()
    for x in xs:
        assert x.grad is not None and x.grad.shape == x.shape and x.grad.dtype == x.dtype


@pytest.mark.parametrize("name", sorted(BINARY))
@PROPERTY
@given(shapes=SHAPES, seed=st.integers(0, 2**32 - 1))
def test_broadcasting_binary_ops(name: str, shapes: Any, seed: int) -> None:
    a_shape, b_shape = shapes.input_shapes
    a = _values(seed, a_shape)
    b = _values(seed + 1, b_shape)
    if name == "maximum":
        b = np.where(np.abs(a - b) < 0.05, b + 0.1, b)  # stay away from ties (a kink)
    f = BINARY[name]
    out = f(cr.tensor(a), cr.tensor(b))
    expected = REFERENCE[name](a, b)
    assert out.shape == np.shape(expected) == shapes.result_shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-15)
    _check_gradient_shapes(f, a, b)
    assert cr.gradcheck(f, a, b, order=1)


@PROPERTY
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, min_side=1, max_side=3),
       seed=st.integers(0, 2**32 - 1))
def test_broadcasting_where(shapes: Any, seed: int) -> None:
    c_shape, a_shape, b_shape = shapes.input_shapes
    cond = _values(seed, c_shape) > 0
    a = _values(seed + 1, a_shape)
    b = _values(seed + 2, b_shape)
    out = cr.where(cr.tensor(cond), cr.tensor(a), cr.tensor(b))
    expected = np.where(cond, a, b)
    assert out.shape == expected.shape == shapes.result_shape
    np.testing.assert_array_equal(out.data, expected)

    def f(x: Any, y: Any) -> Any:
        return cr.where(cond, x, y)

    _check_gradient_shapes(f, a, b)
    assert cr.gradcheck(f, a, b, order=1)


def test_an_overflowing_difference_quotient_does_not_hide_a_wrong_derivative() -> None:
    wrong_exp = Primitive("wrong_exp", np.exp, vjp=lambda g, ans, x: g * 0.0, jvp=lambda t, ans, x: t * 0.0,
                          register=False)
    with np.errstate(over="ignore"), pytest.raises(cr.GradcheckError):
        cr.gradcheck(wrong_exp, np.array(709.7827125), order=1, modes=("rev",))
