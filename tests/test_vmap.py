"""vmap: every primitive in the table batched against a Python loop over the examples, its rules under vmap
(per-example gradients and Jacobians), in_axes/out_axes as pytrees, nesting with every transform, and torch.func.

Each sample of each registered primitive is drawn three times (three examples of the same shapes); the array
inputs are stacked into a batch, and vmap of the primitive is compared with the primitive run on each example.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import batching
from chainrule.primitive import REGISTRY, Primitive, Sample
from test_batching import _packed  # prim on a sample, as a function of one vector of its float inputs

PRIMITIVES = sorted(REGISTRY.values(), key=lambda p: p.name)
B = 3


def _draws(prim: Primitive) -> list[list[Sample]]:
    """Per sample, its three draws (from three seeds)."""
    assert prim.samples is not None
    per_seed = [prim.samples(np.random.default_rng(seed)) for seed in range(B)]
    return [[per_seed[b][i] for b in range(B)] for i in range(len(per_seed[0]))]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.shape(a) == np.shape(b) and np.array_equal(a, b))
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _batchable(draws: list[Sample]) -> tuple[list[int], list[Sample]]:
    """The positions of array inputs that can be batched, and the draws (the first one three times where the
    draws disagree on anything but those arrays' values, e.g. on an index or a shape)."""
    first = draws[0]
    arrays = [i for i, a in enumerate(first.args) if isinstance(a, (np.ndarray, np.generic))
              and all(isinstance(d.args[i], (np.ndarray, np.generic)) and np.shape(d.args[i]) == np.shape(a)
                      and np.result_type(d.args[i]) == np.result_type(a) for d in draws)]
    fixed = all(_same(d.args[i], first.args[i]) for d in draws for i in range(len(first.args)) if i not in arrays)
    fixed = fixed and all(_same(d.kwargs, first.kwargs) for d in draws)
    return arrays, draws if fixed else [first] * B


CASES = [pytest.param(p, i, id=f"{p.name}-{i}") for p in PRIMITIVES for i, draws in enumerate(_draws(p))
         if _batchable(draws)[0]]  # a sample of shape arguments alone has nothing to batch


def _loop(prim: Primitive, draws: list[Sample]) -> np.ndarray:
    return np.stack([np.asarray(prim(*d.args, **d.kwargs)) for d in draws])


@pytest.mark.parametrize(("prim", "index"), CASES)
def test_vmap_of_each_primitive_matches_a_loop(prim: Primitive, index: int) -> None:
    arrays, draws = _batchable(_draws(prim)[index])
    first = draws[0]
    expected = _loop(prim, draws)
    variants = [(arrays, 0)] + [([i], 0) for i in arrays if len(arrays) > 1] + [(arrays[:1], -1)]
    for batched, axis in variants:
        def f(*xs: Any) -> Any:
            args = list(first.args)
            for i, x in zip(batched, xs):
                args[i] = x
            return prim(*args, **first.kwargs)

        stacks = [np.moveaxis(np.stack([np.asarray(d.args[i]) for d in draws]), 0, axis) for i in batched]
        want = expected if len(batched) == len(arrays) else _loop(prim, [
            Sample(tuple(d.args[i] if i in batched else first.args[i] for i in range(len(first.args))), first.kwargs)
            for d in draws])
        got = cr.vmap(f, in_axes=axis)(*stacks)
        assert type(got) is np.ndarray
        assert got.dtype == want.dtype, (batched, axis)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"batched {batched} at axis {axis}")


# ---- the rules under vmap: per-example gradients and Jacobians of every primitive ---------------------------------
DIFFERENTIABLE = [pytest.param(p, i, id=f"{p.name}-{i}") for p in PRIMITIVES if p.differentiable
                  for i, draws in enumerate(_draws(p)) if any(
                      isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in _batchable(draws)[1][0].args)]


@pytest.mark.parametrize(("prim", "index"), DIFFERENTIABLE)
def test_per_example_derivatives_of_each_primitive_match_a_loop(prim: Primitive, index: int) -> None:
    draws = _batchable(_draws(prim)[index])[1]
    f = _packed(prim, draws[0])[0]
    zs = np.stack([_packed(prim, d)[1] for d in draws])
    weights = np.random.default_rng(9).standard_normal(np.shape(f(zs[0])))
    loss = lambda z: cr.sum(f(z) * weights)
    np.testing.assert_allclose(cr.vmap(cr.grad(loss))(zs), np.stack([cr.grad(loss)(z) for z in zs]),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cr.vmap(cr.jacfwd(f))(zs), np.stack([cr.jacfwd(f)(z) for z in zs]),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cr.grad(lambda zs: cr.sum(cr.vmap(loss)(zs)))(zs),
                               np.stack([cr.grad(loss)(z) for z in zs]), rtol=1e-10, atol=1e-12)


# ---- in_axes, out_axes, pytrees ----------------------------------------------------------------------------------
RNG = np.random.default_rng(11)
X = RNG.standard_normal((4, 3))
W = RNG.standard_normal((3, 2))


def test_in_axes_none_negative_and_per_argument() -> None:
    got = cr.vmap(lambda x, w: cr.tanh(x @ w), in_axes=(0, None))(X, W)
    np.testing.assert_allclose(got, np.tanh(X @ W), rtol=1e-14)
    np.testing.assert_allclose(cr.vmap(lambda c: c * 2.0, in_axes=-1)(X), (X * 2).T)
    np.testing.assert_allclose(cr.vmap(lambda c: c.sum(), in_axes=1)(X), X.sum(0))
    np.testing.assert_allclose(cr.vmap(lambda x, w: x @ w, in_axes=[0, None])(X, W), X @ W)
    ws = RNG.standard_normal((4, 3, 2))
    np.testing.assert_allclose(cr.vmap(lambda x, w: x @ w)(X, ws), np.einsum("bi,bij->bj", X, ws), rtol=1e-14)


def test_out_axes_and_unbatched_outputs() -> None:
    got = cr.vmap(lambda x: (x * 2.0, cr.sum(x)), out_axes=(1, 0))(X)
    np.testing.assert_allclose(got[0], (X * 2).T)
    np.testing.assert_allclose(got[1], X.sum(1))
    const = cr.vmap(lambda x: np.ones(2))(X)  # an output that ignores the batch is broadcast along it
    assert const.shape == (4, 2)
    same = cr.vmap(lambda x, w: (x @ w, w * 1.0), in_axes=(0, None), out_axes=(0, None))(X, W)
    np.testing.assert_allclose(same[1], W)
    np.testing.assert_allclose(cr.vmap(lambda x: x[None] * 1.0, out_axes=-1)(X), X.T[None])


Pair = namedtuple("Pair", ["a", "b"])


def test_pytrees_in_and_out_with_prefix_axes() -> None:
    tree = {"x": X, "pair": Pair(X * 2, W)}
    f = lambda t: {"s": t["x"] + t["pair"].a, "m": t["x"] @ t["pair"].b}
    got = cr.vmap(f, in_axes=({"x": 0, "pair": Pair(0, None)},))(tree)
    np.testing.assert_allclose(got["s"], 3 * X)
    np.testing.assert_allclose(got["m"], X @ W)
    got = cr.vmap(lambda t: [t[0] * t[1][0]], in_axes=((0, (1,)),), out_axes=[1])((X, (X.T,)))
    assert isinstance(got, list)
    np.testing.assert_allclose(got[0], (X * X).T)


def test_tensors_in_tensors_out_and_gradients_through_vmap() -> None:
    x = cr.tensor(X, requires_grad=True)
    y = cr.vmap(lambda r: cr.sin(r).sum())(x)
    assert isinstance(y, cr.Tensor) and y.shape == (4,)
    (y * cr.arange(4.0)).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.cos(X) * np.arange(4.0)[:, None], rtol=1e-14)


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="different batch sizes"):
        cr.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="at least one"):
        cr.vmap(lambda a: a, in_axes=None)(np.ones(3))
    with pytest.raises(ValueError, match="out of range"):
        cr.vmap(lambda a: a, in_axes=2)(np.ones((3, 2)))
    with pytest.raises(ValueError, match="2 entries"):
        cr.vmap(lambda a: a, in_axes=(0, 0))(np.ones(3))
    with pytest.raises(ValueError, match="out_axes is None"):
        cr.vmap(lambda a: a * 2, out_axes=None)(np.ones(3))
    with pytest.raises(TypeError, match="stands for a whole batch"):
        cr.vmap(lambda a: float(a.sum()) if np.asarray(a).any() else a)(np.ones(3))
    with pytest.raises(TypeError, match="stands for a whole batch"):
        cr.vmap(lambda a: a if a > 0 else -a)(np.ones(3))


# ---- nesting -----------------------------------------------------------------------------------------------------
def _loss(w: Any, x: Any, y: Any) -> Any:
    return ((cr.tanh(x @ w) - y) ** 2).sum()


Y = RNG.standard_normal((4, 2))


def test_per_example_gradients_and_their_sum() -> None:
    per = cr.vmap(cr.grad(_loss), in_axes=(None, 0, 0))(W, X, Y)
    loop = np.stack([cr.grad(_loss)(W, x, y) for x, y in zip(X, Y)])
    np.testing.assert_allclose(per, loop, rtol=1e-12)
    np.testing.assert_allclose(per.sum(0), cr.grad(_loss)(W, X, Y), rtol=1e-12)


def test_vmap_of_vmap_and_the_other_transforms() -> None:
    xs = RNG.standard_normal((2, 4, 3))
    f = lambda x: cr.tanh(x @ W).sum()
    np.testing.assert_allclose(cr.vmap(cr.vmap(f))(xs), np.tanh(xs @ W).sum(-1), rtol=1e-14)
    np.testing.assert_allclose(cr.vmap(cr.vmap(f, in_axes=1), in_axes=2)(xs.T), np.tanh(xs @ W).sum(-1),
                               rtol=1e-14)
    per = cr.vmap(cr.vmap(cr.grad(f)))(xs)
    np.testing.assert_allclose(per, (1 - np.tanh(xs @ W) ** 2) @ W.T, rtol=1e-12)
    g_x = (1 - np.tanh(X @ W) ** 2) @ W.T  # the gradient of f at each row of X
    jac = cr.vmap(cr.jacfwd(lambda x: cr.tanh(x @ W)))(X)
    np.testing.assert_allclose(jac, np.stack([cr.jacrev(lambda x: cr.tanh(x @ W))(x) for x in X]), rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(cr.vmap(f))(X), cr.jacrev(cr.vmap(f))(X), rtol=1e-12)
    np.testing.assert_allclose(cr.vmap(cr.jacrev(lambda x: cr.tanh(x @ W)))(X), jac, rtol=1e-12)
    hess = cr.vmap(cr.hessian(f))(X)
    np.testing.assert_allclose(hess, np.stack([cr.hessian(f)(x) for x in X]), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cr.grad(lambda x: cr.vmap(f)(x).sum())(X), g_x, rtol=1e-12)
    np.testing.assert_allclose(cr.grad(lambda w: cr.vmap(lambda x: cr.tanh(x @ w).sum())(X).sum())(W),
                               cr.grad(lambda w: cr.tanh(X @ w).sum())(W), rtol=1e-12)
    v = RNG.standard_normal(3)
    np.testing.assert_allclose(cr.vmap(lambda x: cr.jvp(f, (x,), (v,))[1])(X), g_x @ v, rtol=1e-12)
    np.testing.assert_allclose(cr.vmap(lambda x: cr.vjp(f, x)[1](1.0)[0])(X), g_x, rtol=1e-12)


def test_vmap_inside_no_grad_and_with_checkpoint() -> None:
    with cr.no_grad():
        per = cr.vmap(cr.grad(_loss), in_axes=(None, 0, 0))(W, X, Y)
        assert type(cr.vmap(lambda x: x * 2)(cr.tensor(X, requires_grad=True))) is cr.Tensor
    np.testing.assert_allclose(per, np.stack([cr.grad(_loss)(W, x, y) for x, y in zip(X, Y)]), rtol=1e-12)
    block = cr.checkpoint(lambda x: cr.tanh(cr.tanh(x)))
    np.testing.assert_allclose(cr.vmap(cr.grad(lambda x: block(x).sum()))(X),
                               cr.grad(lambda x: block(x).sum())(X), rtol=1e-12)


def test_a_batch_of_index_arrays_and_of_labels() -> None:
    labels = np.array([2, 0, 1, 1])
    np.testing.assert_allclose(cr.vmap(lambda x, y: x[y])(X, labels), X[np.arange(4), labels])
    nll = lambda x, y: -cr.log_softmax(x)[y]
    per = cr.vmap(cr.grad(nll))(X, labels)
    np.testing.assert_allclose(per, np.stack([cr.grad(nll)(x, y) for x, y in zip(X, labels)]), rtol=1e-12)


def test_the_fallback_loop_agrees_with_a_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    f = lambda w, x, y: cr.vmap(cr.grad(_loss), in_axes=(None, 0, 0))(w, x, y)
    fast = f(W, X, Y)
    monkeypatch.setattr(batching, "RULES", {})
    monkeypatch.setattr(batching, "_elementwise", lambda *args: None)
    np.testing.assert_allclose(f(W, X, Y), fast, rtol=1e-12)


def test_an_mlp_batches_without_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(prim: Primitive, *args: Any) -> Any:
        raise AssertionError(f"{prim.name} fell back to the loop")

    monkeypatch.setattr(batching, "_loop", refuse)
    p = {"w1": RNG.standard_normal((3, 5)), "b1": RNG.standard_normal(5), "w2": RNG.standard_normal((5, 2))}

    def loss(p: Any, x: Any, y: Any) -> Any:
        h = cr.relu(x @ p["w1"] + p["b1"]).reshape((1, -1))
        logits = cr.broadcast_to(h @ p["w2"], (2, 2))[0]
        return -(cr.log_softmax(logits, -1) * y).sum() + cr.mean(h.T ** 2) + cr.max(h)

    per = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(p, X, np.eye(2)[[0, 1, 1, 0]])
    assert per["w1"].shape == (4, 3, 5)
    monkeypatch.undo()
    loop = [cr.grad(loss)(p, x, y) for x, y in zip(X, np.eye(2)[[0, 1, 1, 0]])]
    np.testing.assert_allclose(per["w2"], np.stack([g["w2"] for g in loop]), rtol=1e-12)


# ---- torch.func --------------------------------------------------------------------------------------------------
def test_matches_torch_func_vmap() -> None:
    import torch
    import torch.func

    def loss(lib: Any) -> Any:
        return lambda w, x, y: ((lib.tanh(x @ w) - y) ** 2).sum()

    tw, tx, ty = torch.tensor(W), torch.tensor(X), torch.tensor(Y)
    theirs = torch.func.vmap(torch.func.grad(loss(torch)), in_dims=(None, 0, 0))(tw, tx, ty)
    np.testing.assert_allclose(cr.vmap(cr.grad(loss(cr)), in_axes=(None, 0, 0))(W, X, Y), theirs.numpy(),
                               rtol=1e-12)
    theirs = torch.func.vmap(lambda x: torch.outer(x, x).sum(0), in_dims=1, out_dims=1)(tx)
    np.testing.assert_allclose(cr.vmap(lambda x: cr.outer(x, x).sum(0), in_axes=1, out_axes=1)(X), theirs.numpy(),
                               rtol=1e-12)


def test_batches_of_labels_take_one_advanced_index(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(prim: Primitive, *args: Any) -> Any:
        raise AssertionError(f"{prim.name} fell back to the loop")

    monkeypatch.setattr(batching, "_loop", refuse)
    labels = np.array([2, 0, 1, 1])
    nll = lambda x, y: -cr.log_softmax(x)[y]
    per = cr.vmap(cr.grad(nll))(X, labels)
    xt = cr.tensor(X)  # (an ndarray indexed by a batch cannot be intercepted: NumPy converts the index itself)
    pairs = cr.vmap(lambda y, z: xt[0][y] * xt[1][z])(labels, labels[::-1].copy())
    monkeypatch.undo()
    np.testing.assert_allclose(per, np.stack([cr.grad(nll)(x, y) for x, y in zip(X, labels)]), rtol=1e-12)
    np.testing.assert_allclose(pairs, X[0][labels] * X[1][labels[::-1]])
    rows = cr.vmap(lambda y: xt[y])(np.array([[0, 1], [3, 3], [2, 0], [1, 1]]))
    np.testing.assert_allclose(rows, X[np.array([[0, 1], [3, 3], [2, 0], [1, 1]])])


def test_a_small_cnn_forward_batches_without_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    F = cr.nn.functional
    rng = np.random.default_rng(12)
    images, w = rng.standard_normal((3, 1, 2, 6, 6)), rng.standard_normal((4, 2, 3, 3))

    def net(x: Any) -> Any:
        h = F.max_pool2d(cr.relu(F.conv2d(x, w, padding=1)), 2)
        return F.avg_pool2d(h, 3) + F.adaptive_avg_pool2d(h, (1, 1))

    def refuse(prim: Primitive, *args: Any) -> Any:
        raise AssertionError(f"{prim.name} fell back to the loop")

    monkeypatch.setattr(batching, "_loop", refuse)
    got = cr.vmap(net)(images)
    monkeypatch.undo()
    np.testing.assert_allclose(got, np.stack([net(x) for x in images]), rtol=1e-12)
    per = cr.vmap(cr.grad(lambda x: net(x).sum()))(images)  # the weight-free gradient: through the rules
    np.testing.assert_allclose(per, np.stack([cr.grad(lambda x: net(x).sum())(x) for x in images]), rtol=1e-12)


def test_on_a_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from chainrule import backend
    from stand_in_gpu import provider

    p = {"w": RNG.standard_normal((3, 2)), "b": RNG.standard_normal(2)}
    loss = lambda p, x, y: -(cr.log_softmax(cr.tanh(x @ p["w"] + p["b"])) * y).sum() + cr.prod(x) ** 2
    ys = np.eye(2)[[0, 1, 1, 0]]
    host = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(p, X, ys)
    with backend.use_provider(provider):
        on = lambda a: cr.tensor(a, device="cuda")
        got = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))({k: on(v) for k, v in p.items()}, on(X), on(ys))
        jac = cr.vmap(cr.jacfwd(lambda x: cr.tanh(x) * 0.0 + x))(on(X))
        assert got["w"].device == "cuda:0" and jac.device == "cuda:0"
        made = cr.vmap(lambda x: cr.zeros_like(x) + cr.ones_like(x) * x)(on(X))  # made per example, on the device
        assert made.device == "cuda:0"
        np.testing.assert_array_equal(made.cpu().numpy(), X)
        got = {k: v.cpu().numpy() for k, v in got.items()}
        np.testing.assert_allclose(jac.cpu().numpy(), np.broadcast_to(np.eye(3), (4, 3, 3)))
    for k in p:
        np.testing.assert_allclose(got[k], host[k], rtol=1e-12)


def test_a_batch_of_indices_into_a_constant_of_a_gradient() -> None:
    # inside grad, argsort's result is a constant of grad's level around vmap's batch; an index batched by vmap into
    # it was applied as if the constant were one example's (and the gradient came back with the batch twice)
    xs = np.random.default_rng(0).standard_normal((4, 5))
    f = lambda t: t[cr.argsort(t)[cr.argmax(t)]] * 2
    np.testing.assert_array_equal(cr.vmap(cr.grad(f))(xs), np.stack([cr.grad(f)(x) for x in xs]))
