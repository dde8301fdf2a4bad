"""Batched forward mode: ``jacfwd`` (and so ``hessian``) pushes every basis tangent through in one pass.

Every registered primitive is checked by the table, as in test_ops.py: the Jacobian of each sample with respect to
all its float inputs at once, by batched forward mode, against reverse mode and against central differences. The
entries without batching rules run their JVP once per tangent (the fallback), so both paths are exercised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.shape import _normalize_index
from chainrule.primitive import REGISTRY, Primitive, Sample
from chainrule.testing import real_view

PRIMITIVES = sorted((p for p in REGISTRY.values() if p.differentiable), key=lambda p: p.name)


def _samples(prim: Primitive) -> list[Sample]:
    assert prim.samples is not None
    return [Sample(tuple(np.asarray(a) if isinstance(a, np.generic) else a for a in s.args), s.kwargs)
            for s in prim.samples(np.random.default_rng(0))]


CASES = [pytest.param(p, i, id=f"{p.name}-{i}") for p in PRIMITIVES for i in range(len(_samples(p)))]


def _packed(prim: Primitive, sample: Sample) -> tuple[Any, np.ndarray]:
    """``prim`` on a sample as a function of one vector holding all its float inputs, and that vector (complex
    inputs and outputs as pairs of reals: ``real_view``)."""
    floats = [i for i, a in enumerate(sample.args) if isinstance(a, np.ndarray) and a.dtype.kind in "fc"]
    on_reals, reals = real_view(lambda *args: prim(*args, **sample.kwargs), sample.args, floats)
    shapes = [reals[i].shape for i in floats]

    def f(z: Any) -> Any:
        args, k = list(reals), 0
        for i, shape in zip(floats, shapes):
            n = int(np.prod(shape, dtype=np.int64))
            args[i] = cr.reshape(z[k:k + n], shape)
            k += n
        return on_reals(*args)

    return f, np.concatenate([reals[i].ravel() for i in floats])


def _central_differences(f: Any, z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    columns = []
    for k in range(z.size):
        e = np.zeros_like(z)
        e[k] = h
        columns.append((np.asarray(f(z + e)) - np.asarray(f(z - e))) / (2 * h))
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize(("prim", "index"), CASES)
def test_jacfwd_matches_jacrev_and_finite_differences(prim: Primitive, index: int) -> None:
    f, z = _packed(prim, _samples(prim)[index])
    forward = cr.jacfwd(f)(z)
    assert type(forward) is np.ndarray
    np.testing.assert_allclose(forward, cr.jacrev(f)(z), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(forward, _central_differences(f, z), rtol=1e-5, atol=1e-6)


def test_both_paths_are_in_the_table() -> None:
    assert any(p.batching for p in PRIMITIVES) and any(not p.batching for p in PRIMITIVES)


def test_the_fallback_agrees_with_a_batching_rule() -> None:
    def cube(batching: bool) -> Primitive:
        return Primitive("cube", lambda x: x**3, vjp=lambda g, ans, x: g * 3 * x**2,
                         jvp=lambda t, ans, x: t * 3 * x**2, batching=batching, register=False)

    x = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.2]])
    f, g = (lambda x: cr.sin(cube(True)(x))), (lambda x: cr.sin(cube(False)(x)))
    np.testing.assert_allclose(cr.jacfwd(f)(x), cr.jacfwd(g)(x), rtol=1e-14)
    np.testing.assert_allclose(cr.hessian(lambda x: f(x).sum())(x), cr.hessian(lambda x: g(x).sum())(x), rtol=1e-14)


def test_jacfwd_runs_the_function_once() -> None:
    calls = []

    def f(x: Any) -> Any:
        calls.append(1)
        return cr.tanh(x) * x.sum()

    cr.jacfwd(f)(np.arange(6.0).reshape(2, 3) / 6)
    assert len(calls) == 1


# ---- shapes and broadcasting --------------------------------------------------------------------------------------
@pytest.mark.parametrize("x_shape", [(), (3,), (2, 3)])
@pytest.mark.parametrize("y_shape", [(), (3,), (2, 3), (4, 1, 1)])
def test_shapes_and_broadcasting(x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    f = lambda x: cr.exp(x) * y + cr.sin(y - x) / (2.0 + y * y)
    out_shape = np.broadcast_shapes(x_shape, y_shape)
    jac = cr.jacfwd(f)(x)
    assert jac.shape == out_shape + x_shape
    np.testing.assert_allclose(jac, cr.jacrev(f)(x), rtol=1e-12, atol=1e-12)
    h = cr.hessian(lambda x: f(x).sum())(x)
    assert h.shape == x_shape + x_shape
    np.testing.assert_allclose(h, cr.jacrev(cr.jacrev(lambda x: f(x).sum()))(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("a_shape", "b_shape"), [
    ((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)), ((3,), (2, 3, 2)), ((2, 3), (4, 3, 2)),
    ((4, 2, 3), (3,)), ((1, 2, 3), (2, 3, 2)),
])
def test_matmul_every_kind_of_operand(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    for f, x in [(lambda a: cr.tanh(a) @ b, a), (lambda b: a @ cr.tanh(b), b)]:
        np.testing.assert_allclose(cr.jacfwd(f)(x), cr.jacrev(f)(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("index", [
    (np.array([0, 1, 1]), slice(None), 1),          # index arrays apart: NumPy puts their axes first
    (Ellipsis, np.array([1, 0])),
    (np.array([[0], [1]]), None, np.array([0, 2])),
    (1, slice(None), np.array([1, 0])),
])
def test_indexing_with_index_arrays_apart(index: tuple[Any, ...]) -> None:
    x = np.random.default_rng(3).standard_normal((2, 3, 2))
    f = lambda x: cr.sin(x)[index]
    np.testing.assert_allclose(cr.jacfwd(f)(x), cr.jacrev(f)(x), rtol=1e-12, atol=1e-12)
    g = lambda x: cr.scatter_add(cr.sin(x)[index], _normalize_index(index), (2, 3, 2))
    np.testing.assert_allclose(cr.jacfwd(g)(x), cr.jacrev(g)(x), rtol=1e-12, atol=1e-12)


# ---- nesting -------------------------------------------------------------------------------------------------------
A = np.random.default_rng(4).standard_normal((3, 3))
X = np.array([0.3, -0.8, 1.1])


def tanh_sum(x: Any) -> Any:
    return cr.tanh(A @ x).sum()


def tanh_sum_hessian(x: np.ndarray) -> np.ndarray:
    t = np.tanh(A @ x)
    return A.T @ np.diag(-2 * t * (1 - t * t)) @ A


def test_hessian_compositions() -> None:
    expected = tanh_sum_hessian(X)
    for make in (cr.hessian, lambda f: cr.jacfwd(cr.jacfwd(f)), lambda f: cr.jacfwd(cr.jacrev(f)),
                 lambda f: cr.jacfwd(cr.grad(f))):
        np.testing.assert_allclose(make(tanh_sum)(X), expected, atol=1e-12)


def test_third_derivatives_nest() -> None:
    f = lambda x: (cr.sin(x) * x**2).sum()
    x = np.array([0.7, -0.4])
    third = np.diag(-np.cos(x) * x**2 - 6 * x * np.sin(x) + 6 * np.cos(x))
    t3 = cr.jacfwd(cr.jacfwd(cr.grad(f)))(x)
    assert t3.shape == (2, 2, 2)
    np.testing.assert_allclose(np.einsum("iii->i", t3), np.diag(third), rtol=1e-12)
    np.testing.assert_allclose(t3, cr.jacrev(cr.jacrev(cr.jacrev(f)))(x), atol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(cr.hessian(f))(x), t3, atol=1e-12)


def test_jacfwd_inside_grad() -> None:
    # d/dx sum(J(x)) for J the Jacobian of tanh(A x): sum_ij (1 - tanh^2(z_i)) A_ij, z = A x
    f = lambda x: cr.jacfwd(lambda y: cr.tanh(A @ y))(x).sum()
    expected = cr.jacrev(lambda x: cr.jacrev(lambda y: cr.tanh(A @ y))(x).sum())(X)
    np.testing.assert_allclose(cr.grad(f)(X), expected, atol=1e-12)


def test_jacfwd_and_unbatched_jvp_nest_both_ways() -> None:
    v = np.array([0.5, -1.0, 2.0])
    third = cr.jacrev(cr.jacrev(cr.jacrev(tanh_sum)))(X)
    np.testing.assert_allclose(cr.jacfwd(lambda x: cr.hvp(tanh_sum, x, v))(X), third @ v, atol=1e-12)
    np.testing.assert_allclose(cr.jvp(cr.hessian(tanh_sum), (X,), (v,))[1], third @ v, atol=1e-12)


def test_jacfwd_with_backward_create_graph() -> None:
    x = cr.tensor(X, requires_grad=True)
    h = cr.hessian(tanh_sum)(x)
    assert isinstance(h, cr.Tensor) and h.requires_grad
    h.sum().backward()
    expected = cr.jacrev(lambda x: cr.hessian(tanh_sum)(x).sum())(X)
    np.testing.assert_allclose(x.grad.data, expected, atol=1e-12)

    y = cr.tensor(X, requires_grad=True)
    (g,) = cr.engine.grad(tanh_sum(y), y, create_graph=True)
    np.testing.assert_allclose(cr.jacfwd(lambda v: (g * v).sum())(np.ones(3)), g.data, atol=1e-12)


@cr.custom_vjp
def _my_sin(x: Any) -> Any:
    return cr.sin(x)


_my_sin.defvjp(lambda x: (cr.sin(x), x), lambda x, g: (g * cr.cos(x),))


@cr.custom_jvp
def _my_cos(x: Any) -> Any:
    return cr.cos(x)


_my_cos.defjvp(lambda primals, tangents: (_my_cos(primals[0]), -tangents[0] * cr.sin(primals[0])))


def test_custom_rules_under_batched_forward_mode() -> None:
    x = np.array([0.3, 1.2, -0.5])
    f = lambda x: (_my_sin(x) * _my_cos(x)).sum()
    expected = cr.jacrev(cr.jacrev(lambda x: (cr.sin(x) * cr.cos(x)).sum()))(x)
    np.testing.assert_allclose(cr.hessian(f)(x), expected, atol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(cr.jacfwd(f))(x), expected, atol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(_my_cos)(x), np.diag(-np.sin(x)), atol=1e-12)


def test_float32_stays_float32() -> None:
    x = X.astype(np.float32)
    a = A.astype(np.float32)
    f = lambda x: cr.tanh(a @ x).sum()
    assert cr.jacfwd(lambda x: cr.tanh(a @ x))(x).dtype == np.float32
    h = cr.hessian(f)(x)
    assert h.dtype == np.float32
    np.testing.assert_allclose(h, tanh_sum_hessian(X), atol=1e-5)


def test_constant_function_and_empty_input() -> None:
    assert cr.jacfwd(lambda x: np.ones(2))(np.zeros(3)).shape == (2, 3)
    assert cr.jacfwd(lambda x: x * 2.0)(np.zeros((0,))).shape == (0, 0)
