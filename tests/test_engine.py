"""The engine: backward and its errors, accumulation, hooks, higher order, engine.grad, grad mode, and the
non-negotiables (no recursion, no reference cycles, numerical stability, decided kinks, dtype preservation)."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import chainrule as cr


def _grad(t: cr.Tensor) -> np.ndarray[Any, Any]:
    """``t.grad`` as an array, asserting that backward set it."""
    assert t.grad is not None, "backward() left .grad unset"
    return t.grad.data


def _sigmoid(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


# ---- backward: seeds, accumulation, errors -------------------------------------------------------------------------


def test_backward_of_a_scalar() -> None:
    x = cr.tensor([0.5, -1.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(_grad(x), [1.0, -2.0])
    assert isinstance(x.grad, cr.Tensor) and not x.grad.requires_grad and x.grad.is_leaf


def test_backward_of_a_leaf_itself() -> None:
    x = cr.tensor(3.0, requires_grad=True)
    x.backward()
    assert float(_grad(x)) == 1.0


def test_grad_accumulates_until_set_to_none() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(_grad(x), [5.0, 7.0])
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_array_equal(_grad(x), [3.0, 3.0])


def test_a_leaf_used_twice_gets_both_contributions() -> None:
    x = cr.tensor(2.0, requires_grad=True)
    (x * x + x).backward()
    assert float(_grad(x)) == 5.0


def test_diamond_graph() -> None:
    x = cr.tensor(0.5, requires_grad=True)
    u = cr.sin(x)
    y = u * u + cr.exp(u)  # u has two consumers
    y.backward()
    u0 = np.sin(0.5)
    np.testing.assert_allclose(float(_grad(x)), (2 * u0 + np.exp(u0)) * np.cos(0.5))


def test_branches_of_unequal_length_meet_before_the_sweep_goes_on() -> None:
    # the sweep walks a chain without its heap: a node held back for the next step must still wait for the
    # consumers on a longer branch, and a node with two parents (or one parent twice) must pass both on
    x = cr.tensor(0.3, requires_grad=True)
    u = cr.sin(x)
    short = u * 3.0
    long = cr.exp(cr.tanh(cr.cos(u)))
    w = short * long + u * u  # u: three consumers, reached at different depths
    w.backward()
    x0 = 0.3
    u0, du = np.sin(x0), np.cos(x0)
    c = np.cos(u0)
    t = np.tanh(c)
    long0 = np.exp(t)
    dlong = long0 * (1 - t * t) * -np.sin(u0)
    expected = (3.0 * long0 + 3.0 * u0 * dlong + 2 * u0) * du
    assert np.isclose(float(_grad(x)), expected, rtol=1e-14)


@pytest.mark.parametrize("seed", range(5))
def test_random_graphs_against_finite_differences(seed: int) -> None:
    # random wirings of shared intermediate values: every order in which the sweep meets them
    rng = np.random.default_rng(seed)
    unary = [cr.sin, cr.tanh, lambda v: v * 0.5, lambda v: 1.5 - v]
    wiring = [(rng.integers(n), rng.integers(n), rng.integers(4), rng.random() < 0.5) for n in range(2, 14)]

    def f(x: Any, y: Any) -> Any:
        values = [x, y]
        for i, j, op, product in wiring:
            values.append(unary[op](values[i]) * values[j] if product else values[i] + values[j])
        return sum(values[2:])

    x0, y0 = rng.standard_normal(3), rng.standard_normal(3)
    assert cr.gradcheck(f, x0, y0, order=2, modes=("rev", "fwd"))
    x, y = cr.tensor(x0, requires_grad=True), cr.tensor(y0, requires_grad=True)  # and outside any transform
    f(x, y).sum().backward()
    gx, gy = cr.grad(lambda x, y: f(x, y).sum(), argnums=(0, 1))(x0, y0)
    np.testing.assert_allclose(_grad(x), gx.data, rtol=1e-13)
    np.testing.assert_allclose(_grad(y), gy.data, rtol=1e-13)


def test_backward_through_a_freed_graph_mentions_retain_graph() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_through_a_partly_freed_graph_raises() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = cr.exp(x)
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (h * 2).sum().backward()


def test_retain_graph_allows_a_second_backward() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(_grad(x), [4.0, 8.0])


def test_non_scalar_backward_explains_sum_and_gradient() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        (x * 2).backward()
    assert ".sum()" in str(info.value) and "gradient=" in str(info.value)


def test_backward_with_a_gradient() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(gradient=np.array([1.0, 0.5, -1.0]))
    np.testing.assert_array_equal(_grad(x), [2.0, 2.0, -6.0])
    x.grad = None
    (x * x).backward(gradient=cr.tensor([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(_grad(x), [2.0, 4.0, 6.0])


def test_gradient_of_the_wrong_shape_names_both_shapes() -> None:
    x = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        (x * 2).backward(gradient=np.ones(4))
    assert "(4,)" in str(info.value) and "(1, 3)" in str(info.value)


def test_backward_without_requires_grad_raises() -> None:
    with pytest.raises(RuntimeError, match="requires_grad"):
        (cr.tensor([1.0]) * 2).sum().backward()


def test_unused_leaf_keeps_grad_none() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    z = cr.tensor(1.0, requires_grad=True)
    (x * 2).backward()
    assert z.grad is None


def test_gradients_flow_only_where_requested() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    (x * c).sum().backward()
    np.testing.assert_array_equal(_grad(x), [3.0, 4.0])
    assert c.grad is None


def test_broadcast_gradients_are_summed_to_the_input_shapes() -> None:
    a = cr.tensor(np.ones((2, 3)), requires_grad=True)
    b = cr.tensor(np.ones((3,)), requires_grad=True)
    c = cr.tensor(np.ones((2, 1)), requires_grad=True)
    s = cr.tensor(2.0, requires_grad=True)
    (a * b * c * s).sum().backward()
    assert [_grad(t).shape for t in (a, b, c, s)] == [(2, 3), (3,), (2, 1), ()]
    np.testing.assert_array_equal(_grad(b), [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(_grad(c), [[6.0], [6.0]])
    assert float(_grad(s)) == 6.0


def test_matmul_reshape_getitem_chain() -> None:
    w = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x = np.array([1.0, -1.0, 2.0])
    y = (w @ x).reshape(2, 1)[1, 0]
    y.backward()
    np.testing.assert_array_equal(_grad(w), [[0.0, 0.0, 0.0], [1.0, -1.0, 2.0]])


# ---- retain_grad and hooks -------------------------------------------------------------------------------------------


def test_retain_grad_keeps_a_non_leaf_gradient() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    u = x * 2
    (h * h + u).sum().backward()
    np.testing.assert_array_equal(_grad(h), 2 * h.data)
    assert u.grad is None  # not retained
    np.testing.assert_array_equal(_grad(x), 6 * h.data + 2)


def test_retain_grad_accumulates_and_on_a_leaf_is_harmless() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    x.retain_grad()
    h = x * 3
    h.retain_grad()
    y = h * h
    y.backward(retain_graph=True)
    y.backward()
    assert float(_grad(h)) == 12.0
    assert float(_grad(x)) == 36.0


def test_hook_on_a_non_leaf_sees_and_replaces_the_gradient() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    seen: list[Any] = []

    def hook(g: cr.Tensor) -> cr.Tensor:
        seen.append(g)
        return g * 10

    h.register_hook(hook)
    (h * h).sum().backward()
    assert len(seen) == 1 and isinstance(seen[0], cr.Tensor)
    np.testing.assert_array_equal(seen[0].data, 2 * h.data)
    np.testing.assert_array_equal(_grad(x), 3 * 10 * 2 * h.data)


def test_hook_returning_none_keeps_the_gradient() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    calls = []
    h.register_hook(lambda g: calls.append(1))
    h.sum().backward()
    assert calls == [1]
    np.testing.assert_array_equal(_grad(x), [3.0, 3.0])


def test_hook_on_a_leaf_replaces_its_gradient() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    seen: list[Any] = []

    def hook(g: cr.Tensor) -> cr.Tensor:
        seen.append(g.data.copy())
        return g * 0 + 7

    x.register_hook(hook)
    (x * x).sum().backward()
    np.testing.assert_array_equal(seen[0], [2.0, 4.0])
    np.testing.assert_array_equal(_grad(x), [7.0, 7.0])


def test_hooks_run_in_order() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    h = x * 1
    h.register_hook(lambda g: g + 1)
    h.register_hook(lambda g: g * 10)
    h.backward()
    assert float(_grad(x)) == 20.0


def test_hook_returning_the_wrong_shape_is_named() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match=r"hook.*\(2,\)"):
        (h * h).sum().backward()


def test_hook_on_a_tensor_without_grad_raises() -> None:
    with pytest.raises(RuntimeError):
        cr.tensor(1.0).register_hook(lambda g: g)


# ---- higher order: create_graph ------------------------------------------------------------------------------------


def _second_derivative(f: Callable[[Any], Any], x0: float) -> tuple[float, float]:
    x = cr.tensor(x0, requires_grad=True)
    f(x).backward(create_graph=True)
    g = x.grad
    assert g is not None and g.requires_grad
    x.grad = None
    g.backward()
    assert x.grad is not None
    return float(g), float(_grad(x))


@pytest.mark.parametrize(
    ("f", "d1", "d2"),
    [
        (lambda x: x**3, lambda v: 3 * v**2, lambda v: 6 * v),
        (lambda x: x * x * x, lambda v: 3 * v**2, lambda v: 6 * v),
        (cr.sin, np.cos, lambda v: -np.sin(v)),
        (cr.exp, np.exp, np.exp),
        (cr.sigmoid, lambda v: _sigmoid(v) * (1 - _sigmoid(v)),
         lambda v: _sigmoid(v) * (1 - _sigmoid(v)) * (1 - 2 * _sigmoid(v))),
        (cr.tanh, lambda v: 1 - np.tanh(v) ** 2, lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
        (lambda x: cr.log(x) / x, lambda v: (1 - np.log(v)) / v**2, lambda v: (2 * np.log(v) - 3) / v**3),
    ],
    ids=["pow3", "cube-by-mul", "sin", "exp", "sigmoid", "tanh", "log-over-x"],
)
def test_second_derivatives(f: Callable[[Any], Any], d1: Callable[[float], float],
                            d2: Callable[[float], float]) -> None:
    for x0 in (0.7, 1.3):
        g, gg = _second_derivative(f, x0)
        np.testing.assert_allclose(g, d1(x0), rtol=1e-12)
        np.testing.assert_allclose(gg, d2(x0), rtol=1e-12)


def test_mixed_second_derivative() -> None:
    x = cr.tensor(1.5, requires_grad=True)
    y = cr.tensor(-0.5, requires_grad=True)
    f = x**2 * y**3 + cr.sin(x * y)
    (fx,) = cr.engine.grad(f, x, create_graph=True)
    (fxy,) = cr.engine.grad(fx, y)
    xv, yv = 1.5, -0.5
    np.testing.assert_allclose(float(fx), 2 * xv * yv**3 + yv * np.cos(xv * yv), rtol=1e-12)
    np.testing.assert_allclose(float(fxy), 6 * xv * yv**2 + np.cos(xv * yv) - xv * yv * np.sin(xv * yv), rtol=1e-12)


def test_third_derivative() -> None:
    x = cr.tensor(0.4, requires_grad=True)
    (g1,) = cr.engine.grad(cr.sin(x), x, create_graph=True)
    (g2,) = cr.engine.grad(g1, x, create_graph=True)
    (g3,) = cr.engine.grad(g2, x)
    np.testing.assert_allclose(float(g3), -np.cos(0.4), rtol=1e-12)


def test_hessian_vector_product_on_vectors() -> None:
    x = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    v = np.array([1.0, 2.0, -1.0])
    f = (x * x * x).sum() + (x[0] * x[1])
    (g,) = cr.engine.grad(f, x, create_graph=True)
    (hv,) = cr.engine.grad((g * v).sum(), x)
    hess = np.diag(6 * x.data)
    hess[0, 1] = hess[1, 0] = 1.0
    np.testing.assert_allclose(hv.data, hess @ v, rtol=1e-12)


def test_without_create_graph_gradients_are_constants() -> None:
    x = cr.tensor(2.0, requires_grad=True)
    (x**3).backward()
    assert x.grad is not None and not x.grad.requires_grad


# ---- engine.grad -----------------------------------------------------------------------------------------------------


def test_engine_grad_does_not_touch_dot_grad() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor(3.0, requires_grad=True)
    gx, gy = cr.engine.grad((x * y).sum(), [x, y])
    np.testing.assert_array_equal(gx.data, [3.0, 3.0])
    assert float(gy) == 3.0
    assert x.grad is None and y.grad is None
    assert isinstance(gx, cr.Tensor) and not gx.requires_grad


def test_engine_grad_single_input_returns_a_tuple() -> None:
    x = cr.tensor(2.0, requires_grad=True)
    result = cr.engine.grad(x * x, x)
    assert isinstance(result, tuple) and len(result) == 1
    assert float(result[0]) == 4.0


def test_engine_grad_with_grad_outputs_and_several_outputs() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (g,) = cr.engine.grad(x * x, x, grad_outputs=np.array([1.0, -1.0]))
    np.testing.assert_array_equal(g.data, [2.0, -4.0])
    (g,) = cr.engine.grad([x.sum(), (x * x).sum()], [x])
    np.testing.assert_array_equal(g.data, [3.0, 5.0])


def test_engine_grad_of_a_non_leaf_and_an_unused_input() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    unused = cr.tensor([5.0], requires_grad=True)
    h = x * 3
    gh, gu = cr.engine.grad((h * h).sum(), [h, unused])
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    np.testing.assert_array_equal(gu.data, [0.0])
    assert gu.shape == unused.shape


def test_engine_grad_create_graph() -> None:
    x = cr.tensor(2.0, requires_grad=True)
    (g,) = cr.engine.grad(x**3, x, create_graph=True)
    assert g.requires_grad
    (gg,) = cr.engine.grad(g, x)
    assert float(gg) == 12.0
    assert x.grad is None


def test_engine_grad_stops_at_the_requested_inputs() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = cr.exp(x)
    (gh,) = cr.engine.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.data, 2 * np.exp(x.data))
    (h * 3).sum().backward()  # the graph from x to h was not part of that request: it is still intact
    np.testing.assert_allclose(_grad(x), 3 * np.exp(x.data))


# ---- grad mode ------------------------------------------------------------------------------------------------------


def test_no_grad_context_manager() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = x * 2
        with cr.enable_grad():
            assert cr.is_grad_enabled()
            z = x * 2
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad


def test_grad_mode_is_restored_after_an_exception() -> None:
    with pytest.raises(ValueError), cr.no_grad():
        raise ValueError("boom")
    assert cr.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators() -> None:
    x = cr.tensor(1.0, requires_grad=True)

    @cr.no_grad()
    def frozen(t: cr.Tensor) -> cr.Tensor:
        """Doubles t."""
        assert not cr.is_grad_enabled()
        return t * 2

    @cr.enable_grad()
    def recorded(t: cr.Tensor) -> cr.Tensor:
        return t * 2

    assert not frozen(x).requires_grad
    assert frozen.__name__ == "frozen" and frozen.__doc__ == "Doubles t."
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert recorded(x).requires_grad
        assert not cr.is_grad_enabled()


def test_a_no_grad_object_can_be_reused_and_nested() -> None:
    ng = cr.no_grad()
    with ng:
        with ng:
            assert not cr.is_grad_enabled()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_another_thread_does_not_see_no_grad() -> None:
    seen: list[bool] = []
    x = cr.tensor(1.0, requires_grad=True)

    def worker() -> None:
        seen.append(cr.is_grad_enabled())
        seen.append((x * 2).requires_grad)

    with cr.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen == [True, True]


def test_no_grad_in_a_thread_does_not_leak_to_the_main_thread() -> None:
    entered, release = threading.Event(), threading.Event()

    def worker() -> None:
        with cr.no_grad():
            entered.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert entered.wait(5)
        assert cr.is_grad_enabled()
        assert (cr.tensor(1.0, requires_grad=True) * 2).requires_grad
    finally:
        release.set()
        t.join()


def test_asyncio_tasks_have_their_own_grad_mode() -> None:
    async def frozen(started: asyncio.Event, done: asyncio.Event) -> bool:
        with cr.no_grad():
            started.set()
            await done.wait()
            return cr.is_grad_enabled()

    async def main() -> tuple[bool, bool]:
        started, done = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(frozen(started, done))
        await started.wait()
        mine = cr.is_grad_enabled()
        done.set()
        return mine, await task

    assert asyncio.run(main()) == (True, False)


def test_detach() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad is None
    assert np.shares_memory(d.data, y.data)
    (d * x).sum().backward()
    np.testing.assert_array_equal(_grad(x), [2.0, 4.0])  # d is a constant


def test_requires_grad_() -> None:
    x = cr.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    (x * x).sum().backward()
    np.testing.assert_array_equal(_grad(x), [2.0, 4.0])
    x.requires_grad_(False)
    assert not x.requires_grad and not (x * 2).requires_grad
    with pytest.raises(RuntimeError, match="detach"):
        (cr.tensor(1.0, requires_grad=True) * 2).requires_grad_(False)


@pytest.fixture
def gc_disabled() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# ---- non-negotiable: no recursion ----------------------------------------------------------------------------------


def test_million_op_chain_no_recursion__takes_seconds(gc_disabled: None) -> None:
    """1,000,000 scalar ops forward and backward: recursion anywhere (toposort, sweep, freeing) would overflow.

    Deliberately slow (several seconds): this is the scale the design promises. The cycle collector is off, which
    also shows the chain is freed by reference counting alone (and spares gc passes over a million live objects)."""
    n = 1_000_000
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0000001
    node = weakref.ref(y._node)
    y.backward()
    expected = 1.0000001**n
    np.testing.assert_allclose(float(_grad(x)), expected, rtol=1e-9)
    np.testing.assert_allclose(float(y), expected, rtol=1e-9)
    del y
    assert node() is None  # freed by reference counting, without a recursive teardown crashing


def test_long_chain_of_adds_to_one_leaf() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y + x
    y.backward()
    assert float(_grad(x)) == 20_001.0


# ---- non-negotiable: no reference cycles ---------------------------------------------------------------------------


def _graph(x: cr.Tensor) -> tuple[cr.Tensor, weakref.ref[Any], weakref.ref[Any]]:
    a = x * 2
    b = cr.sin(a) + cr.exp(a)
    y = (b * b).sum()
    assert a._node is not None
    return y, weakref.ref(a), weakref.ref(a._node)


def test_graph_is_freed_at_once_without_backward(gc_disabled: None) -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y, a, node = _graph(x)
    assert a() is not None and node() is not None
    del y
    assert a() is None and node() is None


def test_graph_is_freed_at_once_after_backward(gc_disabled: None) -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y, a, node = _graph(x)
    y.backward()
    del y
    assert a() is None and node() is None
    assert x.grad is not None


def test_graph_with_retain_grad_and_hooks_is_freed(gc_disabled: None) -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.register_hook(lambda g: g * 1)
    y = (h * h).sum()
    node = weakref.ref(y._node)
    ref_h = weakref.ref(h)
    y.backward(retain_graph=True)
    del y, h
    assert node() is None and ref_h() is None


def test_create_graph_gradients_are_freed(gc_disabled: None) -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y, a, node = _graph(x)
    (g,) = cr.engine.grad(y, x, create_graph=True)
    gnode = weakref.ref(g._node)
    del y
    assert a() is not None  # g's graph still uses y's saved values
    del g
    assert a() is None and node() is None and gnode() is None


def test_nodes_do_not_hold_their_output_tensor(gc_disabled: None) -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.exp(x)
    node = y._node
    ref = weakref.ref(y)
    del y
    assert ref() is None and node is not None
    assert all(a is x or not isinstance(a, cr.Tensor) for a in node.args)


# ---- non-negotiable: numerical stability ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "softplus", "log_sigmoid"])
def test_stable_at_1000(name: str, dtype: Any) -> None:
    f = getattr(cr, name)
    x = cr.tensor(np.array([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            y = f(x)
            y.sum().backward()
    assert y.dtype == dtype and x.grad is not None and x.grad.dtype == dtype
    assert np.isfinite(y.data).all() and np.isfinite(_grad(x)).all()
    sig = np.array([0.0, _sigmoid(-30.0), 0.5, _sigmoid(30.0), 1.0])
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    g = _grad(x)
    if name == "sigmoid":
        np.testing.assert_allclose(y.data, sig, rtol=rtol)
        # sigma' = sigma (1 - sigma) reuses the answer: where sigma rounds to 1 the gradient is 0 (absolute error tiny)
        atol = 1e-7 if dtype == np.float32 else 1e-15
        np.testing.assert_allclose(g, sig * sig[::-1], rtol=rtol, atol=atol)
    elif name == "softplus":
        np.testing.assert_allclose(y.data[[0, 4]], [0.0, 1000.0], rtol=rtol)
        np.testing.assert_allclose(y.data[2], np.log(2.0), rtol=rtol)
        np.testing.assert_allclose(g, sig, rtol=rtol)
    else:
        np.testing.assert_allclose(y.data[[0, 4]], [-1000.0, 0.0], rtol=rtol)
        np.testing.assert_allclose(y.data[2], -np.log(2.0), rtol=rtol)
        np.testing.assert_allclose(g, sig[::-1], rtol=rtol)  # sigmoid(-x), computed without cancellation


# ---- non-negotiable: kinks ---------------------------------------------------------------------------------------


def _grad_of(f: Callable[..., Any], *values: Any) -> list[np.ndarray[Any, Any]]:
    xs = [cr.tensor(v, requires_grad=True) for v in values]
    f(*xs).sum().backward()
    return [_grad(x) for x in xs]


def test_relu_derivative_at_zero_is_zero() -> None:
    (g,) = _grad_of(cr.relu, np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])


def test_abs_derivative_at_zero_is_zero() -> None:
    (g,) = _grad_of(cr.abs, np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])
    (g,) = _grad_of(abs, np.array([0.0]))
    np.testing.assert_array_equal(g, [0.0])


def test_maximum_and_minimum_ties_give_half_to_each() -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 1.0, 4.0])
    ga, gb = _grad_of(cr.maximum, a, b)
    np.testing.assert_array_equal(ga, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(gb, [0.5, 0.0, 1.0])
    ga, gb = _grad_of(cr.minimum, a, b)
    np.testing.assert_array_equal(ga, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(gb, [0.5, 1.0, 0.0])


def test_maximum_tie_in_forward_mode() -> None:

    _, t = cr.jvp(cr.maximum, [np.array(1.0), np.array(1.0)], [np.array(1.0), np.array(0.0)])
    assert float(t) == 0.5


def test_clip_at_a_bound_passes_the_gradient() -> None:
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    (g,) = _grad_of(lambda t: cr.clip(t, -1.0, 1.0), x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_sqrt_derivative_at_zero_is_inf() -> None:
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        cr.sqrt(x).sum().backward()
    assert x.grad is not None
    assert _grad(x)[0] == np.inf
    assert _grad(x)[1] == 0.25


# ---- non-negotiable: dtype preservation --------------------------------------------------------------------------


def test_float32_in_float32_values_and_grads_out() -> None:
    x = cr.tensor(np.array([0.5, -1.0, 2.0], dtype=np.float32), requires_grad=True)
    w = cr.tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    h = cr.tanh(w @ x * 2.0 + 1.0) + cr.sigmoid(x).sum() / 3 + x.mean() ** 2
    h.retain_grad()
    y = (h * 0.5).sum()
    assert h.dtype == np.float32 and y.dtype == np.float32
    seeds: list[Any] = []
    y.register_hook(lambda g: seeds.append(g.dtype))
    y.backward()
    assert seeds == [np.float32], "the seed of backward is float32 too"
    assert x.grad is not None and w.grad is not None and h.grad is not None
    assert x.grad.dtype == w.grad.dtype == h.grad.dtype == np.float32


def test_float32_output_with_a_float64_gradient_keeps_float32() -> None:
    x = cr.tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    (x * x).backward(gradient=np.ones(2))
    assert x.grad is not None and x.grad.dtype == np.float32


def test_float32_second_derivative() -> None:
    x = cr.tensor(np.float32(0.5), requires_grad=True)
    (g,) = cr.engine.grad(cr.sin(x) * x, x, create_graph=True)
    (gg,) = cr.engine.grad(g, x)
    assert g.dtype == gg.dtype == np.float32
    np.testing.assert_allclose(float(gg), 2 * np.cos(0.5) - 0.5 * np.sin(0.5), rtol=1e-6)


def test_mixed_float32_and_float64_promote_like_numpy() -> None:
    a = cr.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = cr.tensor(np.ones(2, dtype=np.float64), requires_grad=True)
    y = (a * b).sum()
    assert y.dtype == np.float64
    y.backward()
    assert a.grad is not None and b.grad is not None
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_leaf_hook_may_return_an_array_and_is_shape_checked() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: np.asarray(g) * 3)
    (x * 1.0).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    y = cr.tensor([1.0, 2.0], requires_grad=True)
    y.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="shape"):
        (y * 1.0).sum().backward()


def test_a_shape_mismatch_names_the_op() -> None:
    with pytest.raises(ValueError, match=r"^add: .*\(3,\), \(4,\)"):
        cr.tensor(np.ones(3)) + np.ones(4)


def test_one_no_grad_instance_serves_several_threads() -> None:
    import threading

    shared = cr.no_grad()
    errors: list[BaseException] = []
    seen: list[bool] = []

    def work() -> None:
        try:
            for _ in range(200):
                with shared:
                    seen.append(cr.is_grad_enabled())
        except BaseException as error:  # any failure counts
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and not any(seen) and cr.is_grad_enabled()


# ---- grad mode on generators and coroutines; errors that name the rule ----------------------------------------------
def test_no_grad_on_a_generator_function_holds_between_yields() -> None:
    x = cr.tensor(1.0, requires_grad=True)

    @cr.no_grad
    def steps(n: int) -> Iterator[Any]:
        for k in range(n):
            yield x * k
        return "done"

    gen = steps(3)
    first = next(gen)
    outside = x * 2  # the caller's own mode between steps
    assert not first.requires_grad and outside.requires_grad
    assert [y.requires_grad for y in gen] == [False, False]
    assert cr.is_grad_enabled()


def test_no_grad_generator_sees_sent_and_thrown_values_in_its_mode() -> None:
    x = cr.tensor(1.0, requires_grad=True)

    @cr.no_grad()
    def echo() -> Any:
        got = yield None
        try:
            yield (got * x).requires_grad
        except KeyError:
            yield ("caught", cr.is_grad_enabled())

    gen = echo()
    next(gen)
    assert gen.send(2.0) is False
    assert gen.throw(KeyError("k")) == ("caught", False)
    gen.close()
    assert cr.is_grad_enabled()


def test_enable_grad_on_a_coroutine_function() -> None:
    x = cr.tensor(1.0, requires_grad=True)

    @cr.no_grad
    async def body() -> bool:
        await asyncio.sleep(0)
        return (x * 2).requires_grad

    assert asyncio.run(body()) is False
    assert cr.is_grad_enabled()


def test_a_vjp_rule_of_the_wrong_shape_is_named() -> None:
    bad = cr.Primitive("bad_rule", lambda x: x * 2, vjp=lambda g, ans, x: g[:1], jvp=lambda t, ans, x: t * 2,
                       register=False)
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"VJP rule of 'bad_rule' for input 0 .* shape \(1,\).* shape \(3,\)"):
        bad(x).sum().backward()


def test_forward_errors_name_the_primitive_once() -> None:
    with pytest.raises(ValueError) as info:
        cr.matmul(cr.ones(4, 5), cr.ones(3, 2))
    assert str(info.value).startswith("matmul: ") and "matmul: matmul" not in str(info.value)
    with pytest.raises(TypeError, match=r"^softmax\(\) got an unexpected keyword argument 'axes' \(it takes axis"):
        cr.softmax(cr.tensor([1.0, 2.0]), axes=-1)
    with pytest.raises(TypeError, match=r"^sum\(\) got an unexpected keyword argument 'dims'"):
        cr.sum(np.ones(3), dims=0)  # on raw arrays too


def test_float16_broadcasting_is_undone_in_float32() -> None:
    """A float16 bias broadcast over 4000 rows: its gradient is 4000, past what float16 partial sums can reach."""
    bias = cr.tensor(np.zeros(3, dtype=np.float16), requires_grad=True)
    (cr.tensor(np.ones((4000, 3), dtype=np.float16)) + bias).sum().backward()
    np.testing.assert_array_equal(bias.grad.numpy(), [4000.0] * 3)
    np.testing.assert_array_equal(cr.jacfwd(lambda b: (np.ones((4000, 3), np.float16) + b).sum())(
        np.zeros(3, np.float16)), [4000.0] * 3)


def test_no_grad_refuses_an_async_generator_function() -> None:
    with pytest.raises(TypeError, match=r"cr\.no_grad cannot hold across an async generator"):
        @cr.no_grad
        async def stream() -> Any:
            yield 1
