"""Tensor.register_post_accumulate_grad_hook, register_hook's handle and engine.queue_callback, compared event by
event with PyTorch: the order of hooks in the sweep, what .grad holds when each runs, across backwards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import engine


def events(lib: Any, backwards: Callable[[Any], None]) -> list[tuple[Any, ...]]:
    """Hooks of every kind on a small graph (x used twice, w once, through recorded intermediates), with the
    gradient or .grad each one sees; ``backwards(loss)`` runs the backward passes."""
    log: list[tuple[Any, ...]] = []

    def values(t: Any) -> list[float]:
        return [float(v) for v in np.ravel(t.detach().numpy() if lib is torch else t.data)]

    x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([3.0, -4.0], dtype=lib.float64, requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: log.append(("post x", values(t.grad))))
    x.register_hook(lambda g: log.append(("pre x", values(g))))
    w.register_post_accumulate_grad_hook(lambda t: log.append(("post w", values(t.grad))))
    a = x * 2
    a.register_hook(lambda g: log.append(("a", values(g))))
    b = a * w
    b.register_hook(lambda g: log.append(("b", values(g))))
    backwards((b * x).sum())
    return log


def both(backwards: Callable[[Any], None]) -> None:
    assert events(cr, backwards) == events(torch, backwards)


def test_post_accumulate_hooks_run_in_the_sweep_as_pytorch_s() -> None:
    # w's hook runs as soon as b's rule has given w its gradient, before the sweep reaches a; x's after its last use
    log = events(cr, lambda loss: loss.backward())
    assert [e[0] for e in log] == ["b", "post w", "a", "pre x", "post x"]
    both(lambda loss: loss.backward())


def test_retain_graph_runs_them_at_each_backward_on_the_accumulated_grad() -> None:
    def twice(loss: Any) -> None:
        loss.backward(retain_graph=True)
        loss.backward()

    both(twice)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True:UserWarning")
def test_create_graph_gives_the_hooks_a_differentiable_grad() -> None:
    seen: dict[str, Any] = {}
    for lib in (cr, torch):
        x = lib.tensor(3.0, dtype=lib.float64, requires_grad=True)
        x.register_post_accumulate_grad_hook(lambda t, lib=lib: seen.__setitem__(lib.__name__, t.grad))
        (x ** 3).backward(create_graph=True)
        g = seen[lib.__name__]
        assert g.requires_grad
        (gg,) = (cr.engine.grad if lib is cr else torch.autograd.grad)(g, x)
        assert float(g.detach()) == 27.0 and float(gg) == 18.0
        x.grad = None


def test_a_root_leaf_gets_its_hook_too_and_grad_does_not_run_it() -> None:
    for lib in (cr, torch):
        log: list[str] = []
        r = lib.tensor(2.0, requires_grad=True)
        r.register_post_accumulate_grad_hook(lambda t, log=log: log.append("r"))
        r.backward()
        (lib.autograd.grad if lib is torch else cr.engine.grad)(r * 3, r)  # returns gradients: nothing accumulated
        assert log == ["r"] and float(r.grad) == 1.0


def test_a_hook_may_replace_grad_and_must_return_none() -> None:
    for lib in (cr, torch):
        s = lib.tensor(2.0, requires_grad=True)

        def scale(t: Any) -> None:
            t.grad = t.grad * 10

        s.register_post_accumulate_grad_hook(scale)
        (s * s).backward()
        assert float(s.grad) == 40.0
    s = cr.tensor(2.0, requires_grad=True)
    s.register_post_accumulate_grad_hook(lambda t: 5)  # type: ignore[arg-type, return-value]
    with pytest.raises(RuntimeError, match="must return None"):
        (s * 2).backward()


def test_a_hook_writing_into_grad_leaves_the_other_cotangents_alone() -> None:
    # add's rule passes one array to both inputs: x's hook doubling x.grad in place must not reach y's path
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor([3.0, 4.0], requires_grad=True)

    def double(t: cr.Tensor) -> None:
        t.grad.data *= 2

    x.register_post_accumulate_grad_hook(double)
    ((x + y * 1) * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    np.testing.assert_array_equal(y.grad.data, [3.0, 3.0])


def test_handles_remove_hooks() -> None:
    log: list[str] = []
    x = cr.tensor(1.0, requires_grad=True)
    first = x.register_post_accumulate_grad_hook(lambda t: log.append("first"))
    with x.register_post_accumulate_grad_hook(lambda t: log.append("second")):
        (x * 2).backward()
    pre = x.register_hook(lambda g: log.append("pre"))
    (x * 2).backward()
    first.remove()
    first.remove()  # a second time: nothing
    pre.remove()
    (x * 2).backward()
    assert log == ["first", "second", "pre", "first"]
    assert id(x) not in engine._post_hooks  # no hooks left: the sweep is back to its plain form


def test_hooks_are_forgotten_with_their_tensor() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: None)
    key = id(x)
    del x
    assert key not in engine._post_hooks


def test_refused_on_computed_tensors_and_constants() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor(1.0).register_post_accumulate_grad_hook(lambda t: None)


def test_queue_callback_runs_after_every_leaf_is_stored() -> None:
    seen: list[float] = []
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.tensor(5.0, requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t: engine.queue_callback(lambda: seen.append(float(y.grad))))
    (x * y).backward()
    assert seen == [2.0]
    with pytest.raises(RuntimeError, match="no backward is running"):
        engine.queue_callback(lambda: None)


def test_a_hook_that_refers_to_its_tensor_keeps_nothing_alive() -> None:
    import gc
    import weakref

    x = cr.tensor(1.0, requires_grad=True)
    x.register_post_accumulate_grad_hook(lambda t, keep=x: None)  # a cycle: x -> its hooks -> the lambda -> x
    ref, key = weakref.ref(x), id(x)
    del x
    gc.collect()
    assert ref() is None and key not in engine._post_hooks


def test_pre_hooks_on_a_leaf_with_post_hooks_still_replace_the_gradient() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    seen: list[float] = []
    x.register_post_accumulate_grad_hook(lambda t: seen.append(float(t.grad)))
    x.register_hook(lambda g: g * 5)
    (x * 2).backward()
    assert seen == [10.0] and float(x.grad) == 10.0
