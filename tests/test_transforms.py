"""Function transforms: grad, vjp, jvp, jacobians, hessians, nesting, checkpointing and custom rules."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import pytest

import chainrule as cr

RNG = np.random.default_rng(0)
A = RNG.standard_normal((4, 4))
X = RNG.standard_normal(4)


def tanh_sum(x: Any) -> Any:
    return cr.tanh(A @ x).sum()


def tanh_sum_hessian(x: np.ndarray) -> np.ndarray:
    t = np.tanh(A @ x)
    return A.T @ np.diag(-2 * t * (1 - t * t)) @ A


# ---- grad and value_and_grad ---------------------------------------------------------------------------------------
def test_grad_on_ndarrays_returns_ndarrays() -> None:
    g = cr.grad(lambda x: (x * x).sum())(np.array([1.0, -2.0]))
    assert type(g) is np.ndarray
    np.testing.assert_array_equal(g, [2.0, -4.0])


def test_grad_on_tensors_returns_tensors() -> None:
    g = cr.grad(lambda x: (x * x).sum())(cr.tensor([1.0, -2.0]))
    assert isinstance(g, cr.Tensor)
    np.testing.assert_array_equal(g.data, [2.0, -4.0])


def test_grad_of_python_float() -> None:
    assert float(cr.grad(cr.sin)(0.0)) == 1.0


def test_value_and_grad_and_argnums() -> None:
    f = lambda x, y: (x * y).sum()
    value, (gx, gy) = cr.value_and_grad(f, argnums=(0, 1))(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    assert float(value) == 11.0
    np.testing.assert_array_equal(gx, [3.0, 4.0])
    np.testing.assert_array_equal(gy, [1.0, 2.0])
    np.testing.assert_array_equal(cr.grad(f, argnums=1)(np.array([1.0, 2.0]), np.array([3.0, 4.0])), [1.0, 2.0])
    np.testing.assert_array_equal(cr.grad(f, argnums=-1)(np.array([1.0, 2.0]), np.array([3.0, 4.0])), [1.0, 2.0])


def test_has_aux() -> None:
    g, aux = cr.grad(lambda x: ((x * x).sum(), "note"), has_aux=True)(np.array([3.0]))
    assert aux == "note" and g.tolist() == [6.0]
    (value, aux), g = cr.value_and_grad(lambda x: ((x * x).sum(), x * 2), has_aux=True)(np.array([3.0]))
    assert float(value) == 9.0 and g.tolist() == [6.0]
    np.testing.assert_array_equal(np.asarray(aux), [6.0])


def test_grad_of_non_scalar_output_is_a_type_error_naming_the_shape() -> None:
    with pytest.raises(TypeError, match=r"shape \(3,\).*cr\.jacobian"):
        cr.grad(lambda x: x * 2)(np.ones(3))


def test_grad_of_integer_input_is_a_type_error_naming_the_argument() -> None:
    with pytest.raises(TypeError, match="argument 1 has dtype int64"):
        cr.grad(lambda x, n: (x * n).sum(), argnums=(0, 1))(np.ones(2), np.arange(2))


def test_integer_argument_outside_argnums_is_fine() -> None:
    g = cr.grad(lambda x, n: (x * n).sum())(np.ones(2), np.arange(2))
    np.testing.assert_array_equal(g, [0.0, 1.0])


def test_pytree_arguments_give_gradients_of_the_same_structure() -> None:
    params = {"w": np.array([1.0, 2.0]), "layers": [(np.array(3.0), np.array([4.0]))]}

    def loss(p: Any) -> Any:
        b, c = p["layers"][0]
        return (p["w"] ** 2).sum() + b * c.sum()

    g = cr.grad(loss)(params)
    assert set(g) == {"w", "layers"} and isinstance(g["layers"], list) and isinstance(g["layers"][0], tuple)
    np.testing.assert_array_equal(g["w"], [2.0, 4.0])
    assert float(g["layers"][0][0]) == 4.0
    np.testing.assert_array_equal(g["layers"][0][1], [3.0])


def test_unused_input_gets_zeros() -> None:
    g = cr.grad(lambda x, y: (x * 2).sum(), argnums=1)(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g, np.zeros(3))


def test_float32_stays_float32() -> None:
    g = cr.grad(lambda x: cr.tanh(x).sum())(np.ones(3, dtype=np.float32))
    assert g.dtype == np.float32


def test_grad_works_inside_no_grad() -> None:
    with cr.no_grad():
        g = cr.grad(lambda x: (x * x).sum())(np.array([2.0]))
    assert g.tolist() == [4.0]


# ---- vjp, jvp, linearize ---------------------------------------------------------------------------------------------
def test_vjp_can_be_called_many_times() -> None:
    y, vjp_fn = cr.vjp(lambda x: cr.sin(x) * 2, np.array([0.0, 1.0]))
    np.testing.assert_allclose(y, 2 * np.sin([0.0, 1.0]))
    for v in (np.array([1.0, 0.0]), np.array([0.0, 1.0])):
        (g,) = vjp_fn(v)
        np.testing.assert_allclose(g, 2 * np.cos([0.0, 1.0]) * v)


def test_vjp_rejects_a_cotangent_of_the_wrong_shape() -> None:
    _, vjp_fn = cr.vjp(lambda x: x * 2, np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        vjp_fn(np.ones(2))


def test_jvp_matches_finite_differences() -> None:
    f = lambda x, y: cr.sin(x) * cr.exp(y)
    x, y, u, v = (RNG.standard_normal(3) for _ in range(4))
    out, t = cr.jvp(f, (x, y), (u, v))
    eps = 1e-6
    numeric = (np.sin(x + eps * u) * np.exp(y + eps * v) - np.sin(x - eps * u) * np.exp(y - eps * v)) / (2 * eps)
    np.testing.assert_allclose(out, np.sin(x) * np.exp(y))
    np.testing.assert_allclose(t, numeric, rtol=1e-6)


def test_jvp_of_a_constant_function_is_zero() -> None:
    _out, t = cr.jvp(lambda x: np.ones(2), (np.ones(3),), (np.ones(3),))
    np.testing.assert_array_equal(t, np.zeros(2))


def test_linearize() -> None:
    y, df = cr.linearize(lambda x: x ** 3, np.array(2.0))
    assert float(y) == 8.0 and float(df(np.array(1.0))) == 12.0


@pytest.mark.parametrize("f", [tanh_sum, lambda x: cr.logsumexp(x * x) + (cr.sigmoid(x) * x).prod(),
                               lambda x: (cr.linalg.norm(A @ x) * cr.softmax(x)).sum()])
def test_vjp_and_jvp_are_adjoint(f: Any) -> None:
    def vector(x: Any) -> Any:
        return f(x) * cr.cos(x)  # a vector output

    for seed in range(3):
        rng = np.random.default_rng(seed)
        u, v = rng.standard_normal(4), rng.standard_normal(4)
        _, ju = cr.jvp(vector, (X,), (u,))
        _, vjp_fn = cr.vjp(vector, X)
        (vj,) = vjp_fn(v)
        assert np.isclose(np.dot(u, vj), np.dot(ju, v), rtol=1e-10)


def test_jvp_does_not_store_the_chain() -> None:
    def chain(x: Any) -> Any:
        for _ in range(100_000):
            x = x * 0.99999 + 0.00001
        return x

    x0 = np.ones(8)
    tracemalloc.start()
    try:
        cr.jvp(chain, (x0,), (np.ones(8),))
        _, forward_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        x = cr.tensor(x0, requires_grad=True)
        y = chain(x)
        _, recorded_peak = tracemalloc.get_traced_memory()
        del y, x
    finally:
        tracemalloc.stop()
    assert forward_peak < 1_000_000, f"forward mode peaked at {forward_peak} bytes"
    assert recorded_peak > 50 * forward_peak  # the recorded graph grows with the chain, forward mode does not


# ---- jacobians and hessians ----------------------------------------------------------------------------------------
def test_jacobian_and_jacfwd_agree_with_the_closed_form() -> None:
    f = lambda x: cr.tanh(A @ x)
    expected = (1 - np.tanh(A @ X) ** 2)[:, None] * A
    np.testing.assert_allclose(cr.jacobian(f)(X), expected, atol=1e-12)
    np.testing.assert_allclose(cr.jacrev(f)(X), expected, atol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(f)(X), expected, atol=1e-12)


def test_jacobian_shapes_are_output_then_input() -> None:
    x = RNG.standard_normal((2, 3))
    f = lambda x: (x * x).sum(axis=0)
    assert cr.jacobian(f)(x).shape == (3, 2, 3)
    assert cr.jacfwd(f)(x).shape == (3, 2, 3)
    np.testing.assert_allclose(cr.jacobian(f)(x), cr.jacfwd(f)(x))


@pytest.mark.parametrize("make", [
    lambda f: cr.hessian(f),
    lambda f: cr.jacfwd(cr.jacrev(f)),
    lambda f: cr.jacrev(cr.jacrev(f)),
    lambda f: cr.jacrev(cr.jacfwd(f)),
    lambda f: cr.jacfwd(cr.jacfwd(f)),
    lambda f: cr.jacobian(cr.grad(f)),
], ids=["hessian", "fwd-rev", "rev-rev", "rev-fwd", "fwd-fwd", "rev-grad"])
def test_every_composition_gives_the_hessian(make: Any) -> None:
    np.testing.assert_allclose(make(tanh_sum)(X), tanh_sum_hessian(X), atol=1e-12)


def test_hvp_without_forming_the_hessian() -> None:
    v = RNG.standard_normal(4)
    np.testing.assert_allclose(cr.hvp(tanh_sum, X, v), tanh_sum_hessian(X) @ v, atol=1e-12)


# ---- nesting -------------------------------------------------------------------------------------------------------
def test_no_perturbation_confusion() -> None:
    # d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1, not 2
    assert float(cr.grad(lambda x: x * cr.grad(lambda y: x + y)(x))(1.0)) == 1.0
    inner = lambda x: cr.jvp(lambda y: x + y, (x,), (1.0,))[1]
    assert float(cr.jvp(lambda x: x * inner(x), (1.0,), (1.0,))[1]) == 1.0
    assert float(cr.grad(lambda x: x * cr.jvp(lambda y: x * y, (x,), (1.0,))[1])(3.0)) == 6.0


def test_third_derivative_by_nested_grad() -> None:
    f = lambda x: cr.sin(x) * x ** 2
    x = 0.7
    expected = -np.cos(x) * x**2 - 6 * x * np.sin(x) + 6 * np.cos(x)
    assert np.isclose(float(cr.grad(cr.grad(cr.grad(f)))(x)), expected, rtol=1e-12)
    assert np.isclose(float(cr.jacfwd(cr.grad(cr.jacfwd(f)))(x)), expected, rtol=1e-12)


def test_transforms_nest_with_backward_create_graph() -> None:
    x = cr.tensor(X, requires_grad=True)
    g = cr.grad(tanh_sum)(x)  # a Tensor in x's graph
    assert isinstance(g, cr.Tensor) and g.requires_grad
    v = RNG.standard_normal(4)
    (g * v).sum().backward()
    np.testing.assert_allclose(x.grad.data, tanh_sum_hessian(X) @ v, atol=1e-12)

    y = cr.tensor(0.5, requires_grad=True)
    (cr.tanh(y) ** 2).backward(create_graph=True)
    dy = y.grad
    y.grad = None
    h = cr.grad(lambda t: dy * t)(2.0)  # a transform over a tensor that carries a create_graph graph
    h.backward()
    assert np.isclose(float(h), float(dy))
    assert y.grad is not None


def test_gradcheck_through_transforms() -> None:
    assert cr.gradcheck(lambda x: cr.grad(tanh_sum)(x), X, order=2)


# ---- stop_gradient, checkpoint --------------------------------------------------------------------------------------
def test_stop_gradient() -> None:
    assert float(cr.grad(lambda x: x * cr.stop_gradient(x))(3.0)) == 3.0
    x = cr.tensor(2.0, requires_grad=True)
    (x * cr.stop_gradient(x * x)).backward()
    assert float(x.grad) == 4.0


def _mlp(block: Any, weights: list[cr.Tensor], x: np.ndarray) -> Any:
    h = cr.tensor(x)
    for w in weights:
        h = block(h, w)
    return (h * h).mean()


def _block(h: Any, w: Any) -> Any:
    for _ in range(4):
        h = cr.tanh(h @ w) * 0.5 + h * 0.5
    return h


def test_checkpoint_gives_the_same_gradients_and_saves_memory() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((256, 128))
    ws = [rng.standard_normal((128, 128)) / 12 for _ in range(6)]
    peaks, grads = [], []
    for block in (_block, cr.checkpoint(_block)):
        weights = [cr.tensor(w, requires_grad=True) for w in ws]
        tracemalloc.start()
        try:
            _mlp(block, weights, x).backward()
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        grads.append([w.grad.data for w in weights])
    for plain, checkpointed in zip(*grads):
        np.testing.assert_allclose(checkpointed, plain, rtol=1e-12)
    assert peaks[1] < 0.5 * peaks[0], f"peak with checkpoint {peaks[1]} vs without {peaks[0]}"


def test_checkpoint_under_grad_and_second_order() -> None:
    block = cr.checkpoint(lambda x: cr.sin(x) * x)
    x = np.array([0.3, -1.1])
    np.testing.assert_allclose(cr.grad(lambda x: block(x).sum())(x), np.cos(x) * x + np.sin(x))
    assert cr.gradcheck(lambda x: block(x), x, order=2)


# ---- custom rules ----------------------------------------------------------------------------------------------------
@cr.custom_vjp
def _clip_gradient(x: Any, bound: Any) -> Any:
    return x


_clip_gradient.defvjp(lambda x, bound: (x, bound), lambda bound, g: (cr.clip(g, -bound, bound), None))


def test_custom_vjp_is_used_in_reverse_mode() -> None:
    g = cr.grad(lambda x: (5.0 * _clip_gradient(x, 1.0)).sum())(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [1.0, 1.0])
    x = cr.tensor([1.0], requires_grad=True)
    (3.0 * _clip_gradient(x, 2.0)).sum().backward()
    assert x.grad.tolist() == [2.0]


@cr.custom_vjp
def _my_sin(x: Any) -> Any:
    return cr.sin(x)


_my_sin.defvjp(lambda x: (cr.sin(x), x), lambda x, g: (g * cr.cos(x),))


@cr.custom_jvp
def _my_cos(x: Any) -> Any:
    return cr.cos(x)


_my_cos.defjvp(lambda primals, tangents: (_my_cos(primals[0]), -tangents[0] * cr.sin(primals[0])))


@pytest.mark.parametrize("f", [_my_sin, _my_cos, lambda x: _my_sin(x) * _my_cos(x)], ids=["vjp", "jvp", "both"])
def test_custom_rules_work_under_every_transform(f: Any) -> None:
    x = np.array([0.3, 1.2])
    assert cr.gradcheck(f, x, order=2)
    expected = cr.hessian(lambda x: (cr.sin(x) * cr.cos(x)).sum())(x)
    if f not in (_my_sin, _my_cos):
        np.testing.assert_allclose(cr.hessian(lambda x: f(x).sum())(x), expected, atol=1e-12)
        np.testing.assert_allclose(cr.jacrev(cr.jacrev(lambda x: f(x).sum()))(x), expected, atol=1e-12)


def test_custom_jvp_rule_is_used_in_both_modes() -> None:
    calls = []

    @cr.custom_jvp
    def double(x: Any) -> Any:
        return x * 2

    def rule(primals: Any, tangents: Any) -> Any:
        calls.append(1)
        return double(primals[0]), tangents[0] * 3.0  # a deliberately different derivative

    double.defjvp(rule)
    assert float(cr.jvp(double, (1.0,), (1.0,))[1]) == 3.0
    assert float(cr.grad(double)(1.0)) == 3.0
    assert calls


def test_custom_function_without_a_rule_says_so() -> None:
    @cr.custom_vjp
    def f(x: Any) -> Any:
        return x

    with pytest.raises(TypeError, match="defvjp"):
        cr.grad(f)(1.0)


# ---- defects found in review ----------------------------------------------------------------------------------------
def test_transforms_in_several_threads_at_once() -> None:
    import threading

    results: list[float] = []

    def work() -> None:
        for _ in range(100):
            results.append(float(cr.grad(lambda x: x * cr.grad(lambda y: x * y)(1.0))(3.0)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [6.0] * 400


def test_custom_vjp_sees_a_reused_cotangent_buffer_afresh() -> None:
    @cr.custom_vjp
    def double(x: Any) -> Any:
        return x * 2

    double.defvjp(lambda x: (x * 2, None), lambda res, g: (g * 2,))
    _, vjp_fn = cr.vjp(double, np.ones(3))
    ct = np.ones(3)
    vjp_fn(ct)
    ct *= 5
    np.testing.assert_array_equal(vjp_fn(ct)[0], [10.0, 10.0, 10.0])


def test_checkpoint_keeps_second_order_terms_and_takes_integer_arguments() -> None:
    s = cr.checkpoint(cr.sin)
    value = float(cr.grad(lambda x: cr.grad(lambda y: y * s(x * y))(1.0))(0.7))
    assert np.isclose(value, 2 * np.cos(0.7) - 0.7 * np.sin(0.7))
    power = cr.checkpoint(lambda x, n: x ** n)
    np.testing.assert_allclose(cr.grad(lambda x: power(x, 3).sum())(np.array([1.0, 2.0])), [3.0, 12.0])


def test_custom_vjp_none_cotangent_is_a_zero_of_the_inputs_shape() -> None:
    @cr.custom_vjp
    def dot(x: Any, w: Any) -> Any:
        return (x * w).sum()

    dot.defvjp(lambda x, w: ((x * w).sum(), w), lambda w, g: (g * w, None))
    gx, gw = cr.grad(dot, argnums=(0, 1))(np.ones(3), np.full(3, 2.0))
    np.testing.assert_array_equal(gx, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(gw, np.zeros(3))


def test_aux_leaves_the_transform_as_a_plain_value() -> None:
    _, aux = cr.grad(lambda x: ((x ** 3).sum(), x ** 3), has_aux=True)(np.array([1.0, 2.0]))
    assert type(aux) is np.ndarray and aux.tolist() == [1.0, 8.0]
    _, _, aux = cr.jvp(lambda x: (x * 2, x * 3), (np.array(1.0),), (np.array(1.0),), has_aux=True)
    assert type(aux) is np.ndarray and float(aux) == 3.0


def test_a_transform_leaves_other_graphs_alone() -> None:
    w = cr.tensor(2.0, requires_grad=True)
    y = w * w
    assert float(cr.grad(lambda x: y * 1.0)(1.0)) == 0.0  # y does not depend on x
    y.backward()  # y's own graph was not swept, nor freed
    assert float(w.grad) == 4.0


# torch.func's forward mode loads its decompositions through torch.jit.script the first time, which warns
TORCH_JIT = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _torch_tree(tree: Any) -> Any:
    import torch

    return cr.tree_util.tree_map(lambda x: torch.tensor(np.asarray(x)), tree)


def _assert_trees_close(ours: Any, theirs: Any) -> None:
    ours_leaves, ours_def = cr.tree_util.tree_flatten(ours)
    theirs_leaves, theirs_def = cr.tree_util.tree_flatten(theirs, is_leaf=lambda x: hasattr(x, "detach"))
    assert ours_def == theirs_def
    for a, b in zip(ours_leaves, theirs_leaves):
        assert np.shape(a) == tuple(b.shape)
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12, atol=1e-12)


def _pytree_loss(lib: Any) -> Any:
    def f(params: Any, x: Any) -> Any:
        h = lib.tanh(x @ params["w"] + params["b"][0])
        return {"out": (h * params["b"][1]).sum(), "h": h}
    return f


@TORCH_JIT
@pytest.mark.parametrize("name", ["jacrev", "jacfwd"])
def test_jacobians_of_pytrees_match_torch_func(name: str) -> None:
    import torch
    import torch.func

    rng = np.random.default_rng(5)
    params = {"w": rng.standard_normal((3, 2)), "b": (rng.standard_normal(2), rng.standard_normal(()))}
    x = rng.standard_normal((4, 3))
    ours = getattr(cr, name)(_pytree_loss(cr), argnums=(0, 1))(params, x)
    theirs = getattr(torch.func, name)(_pytree_loss(torch), argnums=(0, 1))(_torch_tree(params), torch.tensor(x))
    _assert_trees_close(ours, theirs)
    assert set(ours) == {"out", "h"} and ours["h"][0]["w"].shape == (4, 2, 3, 2)


@TORCH_JIT
def test_hessian_of_a_pytree_matches_torch_func() -> None:
    import torch
    import torch.func

    rng = np.random.default_rng(6)
    params = {"w": rng.standard_normal((3, 2)), "b": (rng.standard_normal(2), rng.standard_normal(()))}
    x = rng.standard_normal((4, 3))
    loss = lambda lib: (lambda p, x: _pytree_loss(lib)(p, x)["out"])
    ours = cr.hessian(loss(cr))(params, x)
    theirs = torch.func.hessian(loss(torch))(_torch_tree(params), torch.tensor(x))
    _assert_trees_close(ours, theirs)
    both = cr.hessian(lambda a, b: (a * a * b).sum(), argnums=(0, 1))(np.array([1.0, 2.0]), np.array(3.0))
    np.testing.assert_allclose(both[0][1], [2.0, 4.0])  # d2/da db of a*a*b, summed: 2a
    np.testing.assert_allclose(both[1][1], 0.0)


def test_jacobians_of_constant_outputs_and_tensor_leaves() -> None:
    j = cr.jacfwd(lambda p: (p["a"] * 0.0 + 1.0, np.ones(2)))({"a": cr.tensor([1.0, 2.0])})
    assert isinstance(j[0]["a"], cr.Tensor) and j[1]["a"].shape == (2, 2)
    np.testing.assert_array_equal(j[1]["a"].data, 0.0)
    r = cr.jacrev(lambda p: (p["a"] * 2.0, np.ones(2)))({"a": cr.tensor([1.0, 2.0])})
    np.testing.assert_array_equal(r[0]["a"].data, 2 * np.eye(2))
    np.testing.assert_array_equal(r[1]["a"].data, 0.0)


# ---- checkpoint and randomness, assignment under jvp, plain cotangents ---------------------------------------------
def _dropout_block(x: Any) -> Any:
    return cr.nn.functional.dropout(cr.tanh(x), 0.5, training=True) * x


@pytest.mark.parametrize("through", ["grad", "backward"])
def test_checkpoint_recomputes_with_the_same_random_draws(through: str) -> None:
    x0 = np.linspace(-1.0, 1.0, 64)

    def gradient(block: Any) -> np.ndarray:
        cr.random.seed(7)
        if through == "grad":
            return np.asarray(cr.grad(lambda x: block(x).sum())(x0))
        x = cr.tensor(x0, requires_grad=True)
        block(x).sum().backward()
        return x.grad.numpy()

    plain = gradient(_dropout_block)
    assert 0 < np.count_nonzero(plain) < 64
    np.testing.assert_array_equal(gradient(cr.checkpoint(_dropout_block)), plain)


def test_checkpoint_leaves_the_random_stream_where_the_forward_left_it() -> None:
    cr.random.seed(3)
    cr.grad(lambda x: cr.checkpoint(_dropout_block)(x).sum())(np.ones(8))
    after_checkpoint = cr.randn(3).numpy()
    cr.random.seed(3)
    cr.grad(lambda x: _dropout_block(x).sum())(np.ones(8))
    np.testing.assert_array_equal(cr.randn(3).numpy(), after_checkpoint)


def _assign_one(a: Any, b: Any) -> Any:
    a[1] = b
    return a


def _add_then_scale(a: Any, b: Any) -> Any:
    a += b
    a *= 2.0
    return a


@pytest.mark.parametrize(("f", "out", "tangent"), [(_assign_one, [0.0, 2.0, 0.0], [1.0, 5.0, 1.0]),
                                                   (_add_then_scale, [4.0, 4.0, 4.0], [12.0, 12.0, 12.0])])
def test_jvp_through_in_place_updates_keeps_tangents_and_the_callers_array(f: Any, out: Any, tangent: Any) -> None:
    caller = np.zeros(3)
    got_out, got_tangent = cr.jvp(f, (caller, 2.0), (np.ones(3), 5.0))
    np.testing.assert_array_equal(got_out, out)
    np.testing.assert_array_equal(got_tangent, tangent)
    np.testing.assert_array_equal(caller, [0.0, 0.0, 0.0])


def test_assignment_under_reverse_mode_and_its_refusals() -> None:
    caller = np.zeros(3)
    weights = np.array([1.0, 10.0, 100.0])
    # into a copy of the argument (the argument itself is refused: it would stop being the argument)
    g = cr.grad(lambda a, b: (_assign_one(a * 1, b) * weights).sum(), argnums=(0, 1))(caller, 2.0)
    np.testing.assert_array_equal(g[0], [1.0, 0.0, 100.0])
    assert float(g[1]) == 10.0
    with pytest.raises(RuntimeError, match="assignment into an argument that a transform differentiates"):
        cr.grad(lambda a, b: (_assign_one(a, b) * weights).sum())(caller, 2.0)
    np.testing.assert_array_equal(cr.jacfwd(lambda b: cr.assign(np.zeros(3), 1, b))(np.array(2.0)), [0.0, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="carries a tangent into a tensor that does not"):
        cr.jvp(lambda b: _assign_one(cr.zeros(3), b), (2.0,), (1.0,))
    np.testing.assert_array_equal(caller, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%"])
def test_vjp_takes_a_python_float_cotangent(op: str) -> None:
    ops = {"+": lambda x: x + 1.8, "-": lambda x: x - 1.8, "*": lambda x: x * 1.8, "/": lambda x: x / 1.8,
           "%": lambda x: x % 1.8}
    expected = {"+": 1.0, "-": 1.0, "*": 1.8, "/": 1 / 1.8, "%": 1.0}[op]
    (g,) = cr.vjp(ops[op], 0.7)[1](1.0)
    assert float(g) == pytest.approx(expected)
    (g32,) = cr.vjp(ops[op], np.float32(0.7) * np.ones(2, dtype=np.float32))[1](np.array([1.0, 2.0]))
    assert g32.dtype == np.float32


def _write_into_ndarray(v: Any) -> None:
    np.zeros(3)[1] = v


@pytest.mark.parametrize("convert", [np.asarray, float, lambda v: v.item(), lambda v: v.tolist(),
                                     _write_into_ndarray, lambda v: np.sin(np.asarray(v))],
                         ids=["asarray", "float", "item", "tolist", "ndarray-setitem", "numpy-function"])
@pytest.mark.parametrize("transform", ["grad", "jvp", "jacfwd", "hessian"])
def test_a_value_being_differentiated_never_becomes_a_silent_constant(convert: Any, transform: str) -> None:
    """Inside a transform, asking NumPy (or Python) for the number behind a traced value is refused, naming why."""

    def f(x: Any) -> Any:
        convert(x)
        return x * x

    run = {"grad": lambda: cr.grad(f)(1.5), "jvp": lambda: cr.jvp(f, (1.5,), (1.0,)),
           "jacfwd": lambda: cr.jacfwd(f)(np.array(1.5)), "hessian": lambda: cr.hessian(f)(np.array(1.5))}[transform]
    if convert is _write_into_ndarray:  # NumPy's own setitem swallows our error and says this instead
        with pytest.raises(ValueError, match="setting an array element with a sequence"):
            run()
        return
    with pytest.raises(TypeError, match="would freeze it into a constant and drop its derivative"):
        run()


def test_stop_gradient_and_values_outside_transforms_still_convert() -> None:
    assert float(cr.grad(lambda x: x * float(cr.stop_gradient(x)))(3.0)) == 3.0
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal(np.asarray(x * 2), [2.0, 4.0])  # NumPy interop at level 0, as before
    assert float((x * x).sum()) == 5.0


def test_checkpoint_with_a_seed_inside_leaves_the_callers_stream_alone() -> None:
    def block(x: Any) -> Any:
        cr.random.seed(11)
        return _dropout_block(x)

    def draws_after(wrap: Any) -> np.ndarray:
        cr.random.seed(5)
        cr.grad(lambda x: wrap(block)(x).sum())(np.ones(8))
        return cr.randn(3).numpy()

    np.testing.assert_array_equal(draws_after(cr.checkpoint), draws_after(lambda f: f))


def test_hvp_linearize_and_vjp_over_pytrees() -> None:
    f = lambda p: (p["a"] ** 2 * p["b"]).sum()
    p = {"a": np.array([1.0, 2.0]), "b": np.array(3.0)}
    v = {"a": np.array([1.0, 0.0]), "b": np.array(1.0)}
    hv = cr.hvp(f, p, v)
    h = cr.hessian(f)(p)
    np.testing.assert_allclose(hv["a"], h["a"]["a"] @ v["a"] + h["a"]["b"] * v["b"])
    np.testing.assert_allclose(hv["b"], h["b"]["a"] @ v["a"] + h["b"]["b"] * v["b"])
    out, df = cr.linearize(lambda p: {"y": p["a"] * p["b"]}, p)
    np.testing.assert_allclose(out["y"], p["a"] * 3.0)
    np.testing.assert_allclose(df(v)["y"], v["a"] * 3.0 + p["a"] * 1.0)
    assert cr.grad(lambda p: p["a"].sum())({"a": np.ones(2), "skip": None})["skip"] is None


def test_custom_vjp_and_checkpoint_over_pytrees() -> None:
    @cr.custom_vjp
    def scaled(p: Any, x: Any) -> Any:
        return {"y": p["w"] * x, "z": (p["w"] + x, x * 2.0)}

    def fwd(p: Any, x: Any) -> Any:
        return scaled(p, x), (p["w"], x)

    def bwd(res: Any, g: Any) -> Any:
        w, x = res
        gx = g["y"] * w + g["z"][0] + 2.0 * g["z"][1]
        return {"w": 10.0 * (g["y"] * x + g["z"][0])}, gx  # a custom factor of 10 on w's gradient

    scaled.defvjp(fwd, bwd)
    p, x = {"w": np.array([1.0, 2.0])}, np.array([3.0, 4.0])
    loss = lambda f: (lambda p, x: (f(p, x)["y"] + f(p, x)["z"][0] * f(p, x)["z"][1]).sum())
    plain = lambda p, x: {"y": p["w"] * x, "z": (p["w"] + x, x * 2.0)}
    g_p, g_x = cr.grad(loss(scaled), argnums=(0, 1))(p, x)
    t_p, t_x = cr.grad(loss(plain), argnums=(0, 1))(p, x)
    np.testing.assert_allclose(g_p["w"], 10.0 * t_p["w"])
    np.testing.assert_allclose(g_x, t_x)
    per = cr.vmap(cr.grad(loss(scaled)), in_axes=(None, 0))(p, np.stack([x, 2 * x]))
    np.testing.assert_allclose(per["w"][0], g_p["w"])

    block = cr.checkpoint(lambda p, x: (cr.tanh(x @ p["w"]), cr.sin(x).sum()))
    w = np.random.default_rng(8).standard_normal((2, 3))
    f = lambda blk: (lambda p, x: (blk(p, x)[0] * blk(p, x)[1]).sum())
    np.testing.assert_allclose(cr.grad(f(block))({"w": w}, x)["w"],
                               cr.grad(f(lambda p, x: (cr.tanh(x @ p["w"]), cr.sin(x).sum())))({"w": w}, x)["w"],
                               rtol=1e-12)
    with pytest.raises(TypeError, match="mixes floating-point leaves"):
        cr.grad(lambda w: cr.checkpoint(lambda q: q["w"] * q["n"])({"w": w, "n": 3}).sum())(np.ones(2))


def test_stop_gradient_inside_nested_transforms_keeps_vmaps_batch() -> None:
    # inside vmap(grad) and vmap(jacfwd) the stopped value is a box over vmap's batch, which it must stay (it was
    # read as values, which a batch has not: refused)
    xs = np.random.default_rng(2).standard_normal((3, 4))
    f = lambda r: (r * cr.stop_gradient(r) ** 2).sum()
    for got in (cr.vmap(cr.grad(f))(xs), cr.vmap(cr.jacfwd(f))(xs), cr.grad(lambda w: cr.vmap(f)(w).sum())(xs)):
        np.testing.assert_allclose(got, xs**2, rtol=1e-15)
    np.testing.assert_array_equal(cr.hessian(f)(xs[0]), np.zeros((4, 4)))  # a constant at every level
