"""cr.func: functional_call against torch.func.functional_call, and the transforms applied to models through it
(per-example gradients by vmap(grad), Hessians of a loss in the parameters), against torch.func."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
import torch.func

import chainrule as cr
from chainrule.func import functional_call, grad_and_value, stack_module_state

TORCH_JIT = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def _models() -> tuple[cr.nn.Module, torch.nn.Module]:
    ours = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    ours.to(np.float64)
    with torch.no_grad():
        for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            q.copy_(torch.tensor(p.data))
    return ours, theirs


def _params(rng: np.random.Generator, model: cr.nn.Module) -> dict[str, np.ndarray]:
    return {name: rng.standard_normal(p.shape) for name, p in model.named_parameters()}


def _torch(tree: Any) -> Any:
    return cr.tree_util.tree_map(lambda x: torch.tensor(np.asarray(x)), tree)


def test_functional_call_matches_torch_and_restores_the_parameters() -> None:
    ours, theirs = _models()
    rng = np.random.default_rng(0)
    params, x = _params(rng, ours), rng.standard_normal((5, 4))
    before = {n: p.data.copy() for n, p in ours.named_parameters()}
    got = functional_call(ours, params, (x,))
    want = torch.func.functional_call(theirs, _torch(params), (torch.tensor(x),))
    np.testing.assert_allclose(got.data, want.detach().numpy(), rtol=1e-12)
    for n, p in ours.named_parameters():
        np.testing.assert_array_equal(p.data, before[n])
    partial = functional_call(ours, {"0.bias": params["0.bias"]}, x)  # the rest: the module's own
    theirs_partial = torch.func.functional_call(theirs, {"0.bias": torch.tensor(params["0.bias"])}, torch.tensor(x))
    np.testing.assert_allclose(partial.data, theirs_partial.detach().numpy(), rtol=1e-12)


def test_gradients_and_per_example_gradients_of_a_model_match_torch_func() -> None:
    ours, theirs = _models()
    rng = np.random.default_rng(1)
    params, x, y = _params(rng, ours), rng.standard_normal((6, 4)), rng.standard_normal((6, 3))

    def loss(lib: Any, model: Any, call: Any) -> Any:
        return lambda p, x, y: ((call(model, p, (x,)) - y) ** 2).mean()

    ours_loss, theirs_loss = loss(cr, ours, functional_call), loss(torch, theirs, torch.func.functional_call)
    g = cr.grad(ours_loss)(params, x, y)
    tg = torch.func.grad(theirs_loss)(_torch(params), torch.tensor(x), torch.tensor(y))
    per = cr.vmap(cr.grad(ours_loss), in_axes=(None, 0, 0))(params, x, y)
    tper = torch.func.vmap(torch.func.grad(theirs_loss), in_dims=(None, 0, 0))(
        _torch(params), torch.tensor(x), torch.tensor(y))
    for name in params:
        np.testing.assert_allclose(g[name], tg[name].detach().numpy(), rtol=1e-10, atol=1e-12)
        assert per[name].shape == (6, *params[name].shape)
        np.testing.assert_allclose(per[name], tper[name].detach().numpy(), rtol=1e-10, atol=1e-12)
    grads, value = grad_and_value(ours_loss)(params, x, y)
    np.testing.assert_allclose(value, ours_loss(params, x, y).data)
    np.testing.assert_allclose(grads["2.weight"], g["2.weight"])


@TORCH_JIT
def test_hessian_of_a_model_loss_matches_torch_func() -> None:
    ours, theirs = _models()
    rng = np.random.default_rng(2)
    params, x = _params(rng, ours), rng.standard_normal((3, 4))
    keep = ["2.bias", "0.weight"]
    sub = {k: params[k] for k in keep}
    h = cr.hessian(lambda p: (functional_call(ours, p, x) ** 2).sum())(sub)
    th = torch.func.hessian(lambda p: (torch.func.functional_call(theirs, p, torch.tensor(x)) ** 2).sum())(_torch(sub))
    for a in keep:
        for b in keep:
            np.testing.assert_allclose(h[a][b], th[a][b].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_tied_weights_buffers_and_errors() -> None:
    first, second = cr.nn.Linear(2, 2, bias=False), cr.nn.Linear(2, 2, bias=False)
    second.weight = first.weight  # one Parameter under two names
    model = cr.nn.Sequential(first, second)
    w = np.eye(2, dtype=np.float32) * 2
    x = np.ones((1, 2), dtype=np.float32)
    np.testing.assert_allclose(functional_call(model, {"0.weight": w}, x).data, [[4.0, 4.0]])
    untied = functional_call(model, {"0.weight": w}, x, tie_weights=False).data
    np.testing.assert_allclose(untied, (2 * x) @ first.weight.data.T, rtol=1e-6)
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 2, bias=False))
    theirs[1].weight = theirs[0].weight
    want = torch.func.functional_call(theirs, {"0.weight": torch.tensor(w)}, torch.tensor(x))
    np.testing.assert_allclose(want.detach().numpy(), [[4.0, 4.0]])
    norm = cr.nn.BatchNorm1d(2)
    norm.eval()
    out = functional_call(norm, {"running_mean": np.ones(2, dtype=np.float32)}, x)
    np.testing.assert_allclose(out.data, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="no parameter or buffer named 'nope'"):
        functional_call(model, {"nope": w}, x)
    with pytest.raises(ValueError, match="missing values"):
        functional_call(model, {"0.weight": w}, x, strict=True)
    with pytest.raises(ValueError, match="more than one dict"):
        functional_call(model, ({"0.weight": w}, {"0.weight": w}), x)


def test_an_ensemble_by_vmap_over_stacked_states() -> None:
    models = [cr.nn.Linear(3, 2) for _ in range(4)]
    params, buffers = stack_module_state(models)
    assert params["weight"].requires_grad and params["weight"].shape == (4, 2, 3)
    x = np.ones((5, 3), dtype=np.float32)
    out = cr.vmap(lambda p: functional_call(models[0], p, x))(params)
    for k, m in enumerate(models):
        np.testing.assert_allclose(out.data[k], m(x).data, rtol=1e-6)
    assert buffers == {}


def test_torch_func_spellings() -> None:
    x = np.arange(6.0).reshape(2, 3)
    theirs = torch.func.vmap(lambda r, s: r * s, in_dims=(1, None), out_dims=1)(torch.tensor(x), torch.tensor(2.0))
    ours = cr.func.vmap(lambda r, s: r * s, in_dims=(1, None), out_dims=1)(x, 2.0)
    np.testing.assert_allclose(ours, theirs.numpy())
    assert cr.func.vmap(lambda r, scale=1.0: r * scale)(x, scale=3.0).tolist() == (3 * x).tolist()
    for name in ("grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "linearize"):
        assert getattr(cr.func, name) is getattr(cr, name)
