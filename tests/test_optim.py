"""cr.optim: each update rule pinned to its published equations step by step (a NumPy reference written from the
documented algorithm) and to torch.optim on identical parameters and gradients; parameter groups, zero_grad, state
dicts (a resumed run continues bit for bit), validation errors, dtype; and cr.nn.utils gradient clipping."""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import backend, optim
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm
from chainrule.optim import lr_scheduler
from stand_in_gpu import provider

Array = np.ndarray[Any, Any]
SHAPES = [(3,), (2, 3)]
STEPS = 8


def _initial(dtype: Any = np.float64) -> list[Array]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=s).astype(dtype) for s in SHAPES]


def _noise(dtype: Any = np.float64) -> list[list[Array]]:
    rng = np.random.default_rng(1)
    return [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]


def _grad(p: Array, noise: Array) -> Array:
    """A gradient that depends on the parameter (so trajectories diverge if an update is wrong) plus noise."""
    return 0.5 * p + 0.1 * p**3 + noise


# ---- the documented equations, one NumPy reference per optimizer ---------------------------------------------------


def ref_sgd(params: list[Array], noise: list[list[Array]], lr: float = 1e-3, momentum: float = 0.0,
            dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
            maximize: bool = False) -> list[Array]:
    params = [p.copy() for p in params]
    bufs: list[Array | None] = [None] * len(params)
    for step_noise in noise:
        for i, (p, n) in enumerate(zip(params, step_noise)):
            g = _grad(p, n)
            if maximize:
                g = -g
            if weight_decay:
                g = g + weight_decay * p
            if momentum:
                prev = bufs[i]
                b = g.copy() if prev is None else momentum * prev + (1 - dampening) * g
                bufs[i] = b
                g = g + momentum * b if nesterov else b
            params[i] = p - lr * g
    return params


def ref_adam(params: list[Array], noise: list[list[Array]], lr: float = 1e-3,
             betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
             amsgrad: bool = False, maximize: bool = False, decoupled: bool = False) -> list[Array]:
    b1, b2 = betas
    params = [p.copy() for p in params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    v_max = [np.zeros_like(p) for p in params]
    for t, step_noise in enumerate(noise, start=1):
        for i, (p, n) in enumerate(zip(params, step_noise)):
            g = _grad(p, n)
            if maximize:
                g = -g
            if weight_decay:
                if decoupled:
                    p = p * (1 - lr * weight_decay)
                else:
                    g = g + weight_decay * p
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g**2
            m_hat = m[i] / (1 - b1**t)
            if amsgrad:
                v_max[i] = np.maximum(v_max[i], v[i])
                v_hat = v_max[i] / (1 - b2**t)
            else:
                v_hat = v[i] / (1 - b2**t)
            params[i] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


def ref_adamw(params: list[Array], noise: list[list[Array]], weight_decay: float = 1e-2,
              **kw: Any) -> list[Array]:
    return ref_adam(params, noise, weight_decay=weight_decay, decoupled=True, **kw)


def ref_rmsprop(params: list[Array], noise: list[list[Array]], lr: float = 1e-2, alpha: float = 0.99,
                eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                maximize: bool = False) -> list[Array]:
    params = [p.copy() for p in params]
    v = [np.zeros_like(p) for p in params]
    g_avg = [np.zeros_like(p) for p in params]
    buf = [np.zeros_like(p) for p in params]
    for step_noise in noise:
        for i, (p, n) in enumerate(zip(params, step_noise)):
            g = _grad(p, n)
            if maximize:
                g = -g
            if weight_decay:
                g = g + weight_decay * p
            v[i] = alpha * v[i] + (1 - alpha) * g**2
            v_tilde = v[i]
            if centered:
                g_avg[i] = alpha * g_avg[i] + (1 - alpha) * g
                v_tilde = v_tilde - g_avg[i] ** 2
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / (np.sqrt(v_tilde) + eps)
                params[i] = p - lr * buf[i]
            else:
                params[i] = p - lr * g / (np.sqrt(v_tilde) + eps)
    return params


def ref_adagrad(params: list[Array], noise: list[list[Array]], lr: float = 1e-2, lr_decay: float = 0.0,
                weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                maximize: bool = False) -> list[Array]:
    params = [p.copy() for p in params]
    s = [np.full_like(p, initial_accumulator_value) for p in params]
    for t, step_noise in enumerate(noise, start=1):
        for i, (p, n) in enumerate(zip(params, step_noise)):
            g = _grad(p, n)
            if maximize:
                g = -g
            if weight_decay:
                g = g + weight_decay * p
            clr = lr / (1 + (t - 1) * lr_decay)
            s[i] = s[i] + g**2
            params[i] = p - clr * g / (np.sqrt(s[i]) + eps)
    return params


# ---- option grids --------------------------------------------------------------------------------------------------


def _grid(**axes: list[Any]) -> list[dict[str, Any]]:
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


SGD_CASES = [
    kw for kw in _grid(lr=[0.1], momentum=[0.0, 0.9], dampening=[0.0, 0.3], weight_decay=[0.0, 0.05],
                       nesterov=[False, True], maximize=[False, True])
    if not (kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0))
]
ADAM_CASES = _grid(lr=[0.05], betas=[(0.9, 0.999), (0.5, 0.8)], weight_decay=[0.0, 0.1], amsgrad=[False, True],
                   maximize=[False, True])
RMSPROP_CASES = _grid(lr=[0.01], alpha=[0.9], weight_decay=[0.0, 0.1], momentum=[0.0, 0.8],
                      centered=[False, True], maximize=[False, True])
ADAGRAD_CASES = _grid(lr=[0.1], lr_decay=[0.0, 0.2], weight_decay=[0.0, 0.1],
                      initial_accumulator_value=[0.0, 0.5], maximize=[False, True])

CASES: list[tuple[str, Callable[..., list[Array]], dict[str, Any]]] = [
    *(("SGD", ref_sgd, kw) for kw in SGD_CASES),
    *(("Adam", ref_adam, kw) for kw in ADAM_CASES),
    *(("AdamW", ref_adamw, kw) for kw in ADAM_CASES),
    *(("RMSprop", ref_rmsprop, kw) for kw in RMSPROP_CASES),
    *(("Adagrad", ref_adagrad, kw) for kw in ADAGRAD_CASES),
    ("SGD", ref_sgd, {}),  # the defaults
    ("Adam", ref_adam, {}),
    ("AdamW", ref_adamw, {}),
    ("RMSprop", ref_rmsprop, {}),
    ("Adagrad", ref_adagrad, {}),
]


def _case_id(case: tuple[str, Any, dict[str, Any]]) -> str:
    name, _, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items() if k != "lr") if kw else name + "-defaults"


def run_chainrule(name: str, kw: dict[str, Any], params: list[Array], noise: list[list[Array]]) -> list[Array]:
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    opt = getattr(optim, name)(ps, **kw)
    for step_noise in noise:
        opt.zero_grad()
        for p, n in zip(ps, step_noise):
            p.grad = cr.tensor(_grad(p.data, n))
        opt.step()
    return [p.data for p in ps]


def run_torch(name: str, kw: dict[str, Any], params: list[Array], noise: list[list[Array]]) -> list[Array]:
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    opt = getattr(torch.optim, name)(ps, foreach=False, **kw)
    for step_noise in noise:
        opt.zero_grad()
        for p, n in zip(ps, step_noise):
            p.grad = torch.tensor(_grad(p.detach().numpy(), n))
        opt.step()
    return [p.detach().numpy() for p in ps]


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_update_follows_the_published_equations(case: tuple[str, Any, dict[str, Any]]) -> None:
    name, reference, kw = case
    params, noise = _initial(), _noise()
    got = run_chainrule(name, kw, params, noise)
    for g, r in zip(got, reference(params, noise, **kw)):
        np.testing.assert_allclose(g, r, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_update_matches_torch(case: tuple[str, Any, dict[str, Any]]) -> None:
    name, _, kw = case
    params, noise = _initial(), _noise()
    got = run_chainrule(name, kw, params, noise)
    for g, t in zip(got, run_torch(name, kw, params, noise)):
        np.testing.assert_allclose(g, t, rtol=1e-12, atol=1e-14)


def test_the_parameters_really_move() -> None:
    # guards the tests above against a degenerate setup where nothing changes
    params, noise = _initial(), _noise()
    for name, _, kw in CASES:
        got = run_chainrule(name, kw, params, noise)
        assert all(np.abs(g - p).max() > 1e-4 for g, p in zip(got, params)), (name, kw)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_float32_stays_float32_and_matches_torch(name: str) -> None:
    kw = {"SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
          "Adam": dict(lr=0.01, amsgrad=True, weight_decay=0.01), "AdamW": dict(lr=0.01),
          "RMSprop": dict(lr=0.01, centered=True, momentum=0.5), "Adagrad": dict(lr=0.1, lr_decay=0.01)}[name]
    params, noise = _initial(np.float32), _noise(np.float32)
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    opt = getattr(optim, name)(ps, **kw)
    for step_noise in noise:
        for p, n in zip(ps, step_noise):
            p.grad = cr.tensor(_grad(p.data, n))
        opt.step()
    for p in ps:
        assert p.dtype == np.float32
        for key, value in opt.state[p].items():
            if isinstance(value, cr.Tensor):  # the step count is float64, as a Python number would be
                assert value.dtype == (np.float64 if key == "step" else np.float32)
    for g, t in zip([p.data for p in ps], run_torch(name, kw, params, noise)):
        assert t.dtype == np.float32
        np.testing.assert_allclose(g, t, rtol=2e-5, atol=2e-6)


# ---- with the engine: a real loss, backward, step -------------------------------------------------------------------


def _regression(dtype: Any = np.float64) -> tuple[Array, Array]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 4)).astype(dtype)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.25).astype(dtype)
    return x, y


def _loss(w: cr.Tensor, b: cr.Tensor, x: Array, y: Array) -> cr.Tensor:
    r = x @ w + b - y
    return (r * r).mean()


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.05, momentum=0.9)), ("Adam", dict(lr=0.1)),
                                     ("RMSprop", dict(lr=0.02)), ("Adagrad", dict(lr=0.5)),
                                     ("AdamW", dict(lr=0.1, weight_decay=1e-4))])
def test_training_a_linear_regression_converges(name: str, kw: dict[str, Any]) -> None:
    x, y = _regression(np.float32)
    w = cr.zeros(4, dtype=np.float32, requires_grad=True)
    b = cr.zeros((), dtype=np.float32, requires_grad=True)
    opt = getattr(optim, name)([w, b], **kw)
    first = float(_loss(w, b, x, y))
    for _ in range(300):
        opt.zero_grad()
        loss = _loss(w, b, x, y)
        loss.backward()
        opt.step()
    assert float(loss) < 1e-3 * first
    assert w.dtype == np.float32 and b.dtype == np.float32 and w.is_leaf


@pytest.mark.parametrize("name,kw", [("SGD", {}), ("SGD", dict(momentum=0.9, nesterov=True, weight_decay=0.01)),
                                     ("RMSprop", {}), ("RMSprop", dict(momentum=0.5)), ("Adam", {}),
                                     ("Adagrad", {})], ids=["sgd", "sgd-nesterov", "rmsprop", "rmsprop-momentum",
                                                            "adam", "adagrad"])
def test_large_parameters_step_alike_eager_and_replayed_and_as_torch(name: str, kw: dict[str, Any]) -> None:
    # 128 KB of float32: SGD's and RMSprop's p -= lr * step is one BLAS axpy where SciPy is installed (one rounding),
    # and cr.compile's replay of it makes the same call: from one state, a replayed step and an eager one give the
    # same bits (the trace's own calls compute the update as recorded, in two roundings)
    rng = np.random.default_rng(5)
    w0 = rng.standard_normal((128, 256)).astype(np.float32)
    xs = rng.standard_normal((6, 16, 128)).astype(np.float32)

    def trainer() -> tuple[cr.Tensor, Any, Callable[[Any], Any]]:
        w = cr.tensor(w0.copy(), requires_grad=True)
        opt = getattr(optim, name)([w], lr=0.01, **kw)

        def step(x: Any) -> Any:
            opt.zero_grad()
            loss = ((x @ w) ** 2).mean()
            loss.backward()
            opt.step()
            return loss.detach()

        return w, opt, step

    w, opt, step = trainer()
    compiled = cr.compile(step)
    twin_w, twin_opt, twin_step = trainer()
    for i, x in enumerate(xs):
        if i >= 3:  # traced by now: set the eager twin to the compiled one's state, then one step of each
            twin_w.data[...] = w.data
            twin_opt.load_state_dict(opt.state_dict())
            twin_step(cr.tensor(x))
        compiled(cr.tensor(x))
        if i >= 3:
            assert w.data.tobytes() == twin_w.data.tobytes(), i
    assert compiled.traces <= 2
    wt = torch.tensor(w0.copy(), requires_grad=True)
    opt_t = getattr(torch.optim, name)([wt], lr=0.01, **kw)
    for x in xs:
        opt_t.zero_grad()
        ((torch.from_numpy(x) @ wt) ** 2).mean().backward()
        opt_t.step()
    np.testing.assert_allclose(w.data, wt.detach().numpy(), rtol=1e-4, atol=1e-4)


def test_large_parameters_of_every_layout_and_kind_move() -> None:
    # the BLAS update takes only what it can write in place; everything else takes NumPy's two passes, exactly
    n = 1 << 15
    raw = bytearray(n * 4 + 3)
    misaligned = np.frombuffer(raw, np.float32, offset=3, count=n)
    for data in (np.ones(n, ">f4"), np.ones(n, ">f8"), misaligned, np.ones((n, 2), np.float32)[:, 0]):
        data[...] = 1.0
        w = cr.from_numpy(data)
        w.requires_grad = True
        g = np.full(n, 2.0, data.dtype)
        w.grad = cr.tensor(g)
        optim.SGD([w], lr=0.25).step()
        np.testing.assert_array_equal(w.data, np.ones(n, data.dtype) - data.dtype.type(0.25) * g, str(data.dtype))
    # a learning rate of 0 with a NaN gradient gives NaN, as NumPy's product and torch do (BLAS skips a 0 step)
    w = cr.tensor(np.ones(n, np.float32), requires_grad=True)
    w.grad = cr.tensor(np.full(n, np.nan, np.float32))
    with np.errstate(invalid="ignore"):
        optim.SGD([w], lr=0.0).step()
    assert np.isnan(w.data).all()


def test_a_parameter_steps_as_a_tensor_does() -> None:
    # nn.Parameter (a Tensor subclass) takes the same update as a plain leaf: the BLAS one for a large weight
    rng = np.random.default_rng(2)
    start, g = (rng.standard_normal((128, 256)).astype(np.float32) for _ in range(2))
    steps = []
    for make in (lambda a: cr.tensor(a, requires_grad=True), cr.nn.Parameter):
        w = make(start.copy())
        w.grad = cr.tensor(g)
        for name, kw in (("SGD", dict(momentum=0.9)), ("RMSprop", {})):
            w.data[...] = start
            getattr(optim, name)([w], lr=0.01, **kw).step()
            steps.append(w.data.tobytes())
    assert steps[:2] == steps[2:]


@pytest.mark.parametrize("name", ["SGD", "RMSprop"])
def test_a_compiled_step_of_gradients_set_outside_gives_eagers_bits(name: str) -> None:
    # the gradients come from outside the compiled function (they might be the weight itself: blas.axpy checks
    # the overlap at every run); the replay's axpy is still eager's
    rng = np.random.default_rng(4)
    start = rng.standard_normal((128, 256)).astype(np.float32)
    grads = rng.standard_normal((5, 128, 256)).astype(np.float32)
    w, twin = (cr.tensor(start.copy(), requires_grad=True) for _ in range(2))
    opt, twin_opt = getattr(optim, name)([w], lr=0.01), getattr(optim, name)([twin], lr=0.01)
    step = cr.compile(lambda: opt.step())
    before, state = start.copy(), copy.deepcopy(opt.state_dict())
    for i, g in enumerate(grads):
        w.grad = cr.tensor(g)
        step()
        if i >= 2:  # traced by now (a trace's own call rounds twice): from the compiled one's state, one eager step
            twin.data[...] = before
            twin_opt.load_state_dict(state)
            twin.grad = cr.tensor(g)
            twin_opt.step()
            assert twin.data.tobytes() == w.data.tobytes(), i
        before, state = w.data.copy(), copy.deepcopy(opt.state_dict())
    w = cr.tensor(start.copy(), requires_grad=True)  # a gradient that is the weight itself
    opt = optim.SGD([w], lr=0.5)
    step = cr.compile(lambda: opt.step())
    for _ in range(3):
        w.grad = w.detach()
        step()
    np.testing.assert_array_equal(w.data, start * np.float32(0.5) ** 3)


def test_compiling_an_optimizers_step_itself_reads_its_learning_rate_at_every_call() -> None:
    # cr.compile(opt.step): the bound method is looked up again when traced, so a scheduler's rate reaches the run
    # and the settings the trace relied on are guarded
    w = cr.tensor(np.ones((128, 256), np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.01)
    step = cr.compile(opt.step)
    g = np.ones((128, 256), np.float32)
    for lr in (0.01, 0.005, 0.0025, 0.00125):
        opt.param_groups[0]["lr"] = lr
        w.grad = cr.tensor(g)
        before = w.data.copy()
        step()
        np.testing.assert_allclose(before - w.data, lr, rtol=1e-3)  # (float32 steps from 1.0)
    assert step.traces <= 2
    opt.param_groups[0]["weight_decay"] = 1.0  # a setting the trace relied on: guarded, so the step traces again
    w.grad = cr.tensor(g)
    before = w.data.copy()
    step()
    np.testing.assert_allclose(before - w.data, 0.00125 * (1 + before), rtol=1e-3)


def test_step_updates_in_place_and_bumps_the_version() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    array = w.data
    opt = optim.SGD([w], lr=0.1)
    y = (w * w).sum()  # saves w for its backward
    y.backward(retain_graph=True)
    opt.step()
    assert w.data is array  # the same memory, updated in place
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    with pytest.raises(RuntimeError):
        y.backward()  # w changed since y saved it: the engine notices


def test_parameters_without_grad_are_left_alone() -> None:
    a, b = cr.tensor([1.0], requires_grad=True), cr.tensor([2.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = cr.tensor([1.0])
    opt.step()
    assert b.data[0] == 2.0 and b not in opt.state
    assert a.data[0] != 1.0 and opt.state[a]["step"] == 1


def test_the_gradient_is_not_modified() -> None:
    w = cr.tensor([1.0, -1.0], requires_grad=True)
    g = np.array([0.5, 0.25])
    opt = optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1, maximize=True)
    w.grad = cr.tensor(g)
    opt.step()
    opt.step()
    np.testing.assert_array_equal(w.grad.data, g)
    assert opt.state[w]["momentum_buffer"].data is not w.grad.data


def test_step_with_closure() -> None:
    w = cr.tensor([3.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure() -> cr.Tensor:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with cr.no_grad():  # the closure still records: step turns grad mode on for it
        loss = opt.step(closure)
    assert float(loss) == 9.0
    assert w.data[0] == 1.5


# ---- parameter groups, zero_grad ----------------------------------------------------------------------------------


def test_parameter_groups_have_their_own_options() -> None:
    a, b = cr.tensor([1.0], requires_grad=True), cr.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5, "momentum": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.5
    a.grad, b.grad = cr.tensor([1.0]), cr.tensor([1.0])
    opt.step()
    assert a.data[0] == pytest.approx(0.9) and b.data[0] == pytest.approx(0.5)


def test_groups_match_torch() -> None:
    params, noise = _initial(), _noise()
    groups_kw = [dict(lr=0.01), dict(lr=0.1, betas=(0.8, 0.9), amsgrad=True)]
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    tps = [torch.tensor(p, requires_grad=True) for p in params]
    opt = optim.Adam([{"params": [p], **kw} for p, kw in zip(ps, groups_kw)], weight_decay=0.1)
    topt = torch.optim.Adam([{"params": [p], **kw} for p, kw in zip(tps, groups_kw)], weight_decay=0.1,
                            foreach=False)
    for step_noise in noise:
        for p, tp, n in zip(ps, tps, step_noise):
            p.grad = cr.tensor(_grad(p.data, n))
            tp.grad = torch.tensor(_grad(tp.detach().numpy(), n))
        opt.step()
        topt.step()
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)


def test_add_param_group() -> None:
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": b, "betas": (0.5, 0.6)})  # a single tensor is accepted as a group's params
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["lr"] == 0.1
    assert opt.param_groups[1]["betas"] == (0.5, 0.6)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        opt.add_param_group({"params": [cr.zeros(1, requires_grad=True)], "lr": -1})


def test_named_parameters_are_accepted() -> None:
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["params"] == [a, b]
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


@pytest.mark.parametrize("params,error,message", [
    (cr.zeros(2, requires_grad=True), TypeError, "iterable of Tensors or dicts"),
    ([], ValueError, "empty parameter list"),
    ({cr.zeros(2, requires_grad=True)}, TypeError, "ordered collections"),
    ([np.zeros(2)], TypeError, "can only optimize Tensors"),
    ([cr.zeros(2, requires_grad=True) * 2], ValueError, "non-leaf"),
])
def test_bad_params(params: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        if isinstance(params, set):
            optim.SGD([{"params": params}], lr=0.1)
        else:
            optim.SGD(params, lr=0.1)


def test_duplicate_parameters_in_a_group() -> None:
    a = cr.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="duplicate parameters"):
        optim.SGD([a, a], lr=0.1)


def test_zero_grad() -> None:
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    (a * a).sum().backward()
    grad = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is grad and np.all(grad.data == 0)  # zeroed in place
    (a * a).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [2.0, 4.0])
    opt.zero_grad()
    assert a.grad is None
    opt.zero_grad()  # nothing to clear: fine


def test_zero_grad_cuts_a_recorded_gradient_from_its_graph() -> None:
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    (a * a * a).sum().backward(create_graph=True)
    assert a.grad is not None and a.grad.requires_grad
    optim.SGD([a], lr=0.1).zero_grad(set_to_none=False)
    assert not a.grad.requires_grad and np.all(a.grad.data == 0)


# ---- validation -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,kw,message", [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(lr=float("nan")), "Invalid learning rate: nan"),
    ("SGD", dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    ("SGD", dict(weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    ("Adam", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(betas=(0.9,)), "betas must be a pair"),
    ("Adam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("AdamW", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("AdamW", dict(lr=-1), "Invalid learning rate: -1"),
    ("RMSprop", dict(lr=-1), "Invalid learning rate: -1"),
    ("RMSprop", dict(alpha=-0.1), "Invalid alpha value: -0.1"),
    ("RMSprop", dict(eps=-1), "Invalid epsilon value: -1"),
    ("RMSprop", dict(momentum=-1), "Invalid momentum value: -1"),
    ("RMSprop", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("Adagrad", dict(lr=-1), "Invalid learning rate: -1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("Adagrad", dict(eps=-1), "Invalid epsilon value: -1"),
])
def test_invalid_hyper_parameters(name: str, kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        getattr(optim, name)([cr.zeros(2, requires_grad=True)], **kw)


def test_defaults_match_torch() -> None:
    t = torch.zeros(2, requires_grad=True)
    p = cr.zeros(2, requires_grad=True)
    for name in ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]:
        ours = getattr(optim, name)([p]).defaults
        theirs = getattr(torch.optim, name)([t]).defaults
        for key, value in ours.items():
            assert theirs[key] == value, (name, key)


# ---- state dicts: a resumed run continues identically ---------------------------------------------------------------

RESUME_CASES = [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
]


def _train(opt: optim.Optimizer, w: cr.Tensor, b: cr.Tensor, steps: int, sched: Any = None) -> None:
    x, y = _regression(np.float32)
    for _ in range(steps):
        opt.zero_grad()
        _loss(w, b, x, y).backward()
        opt.step()
        if sched is not None:
            sched.step()


def _model() -> tuple[cr.Tensor, cr.Tensor]:
    return (cr.tensor(np.linspace(-1, 1, 4, dtype=np.float32), requires_grad=True),
            cr.tensor(np.float32(0.5), requires_grad=True))


@pytest.mark.parametrize("name,kw", RESUME_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(RESUME_CASES)])
def test_a_resumed_run_continues_bit_for_bit(name: str, kw: dict[str, Any]) -> None:
    w, b = _model()
    opt = getattr(optim, name)([{"params": [w]}, {"params": [b], "lr": kw["lr"] / 2}], **kw)
    sched = lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    _train(opt, w, b, 10, sched)
    saved_opt = opt.state_dict()
    saved_sched = sched.state_dict()
    saved_params = (w.data.copy(), b.data.copy())
    frozen = copy.deepcopy(saved_opt)
    _train(opt, w, b, 10, sched)  # the uninterrupted run

    w2 = cr.tensor(saved_params[0], requires_grad=True)
    b2 = cr.tensor(saved_params[1], requires_grad=True)
    opt2 = getattr(optim, name)([{"params": [w2]}, {"params": [b2]}], lr=123.0)  # options come from the state
    sched2 = lr_scheduler.StepLR(opt2, step_size=4, gamma=0.5)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    _train(opt2, w2, b2, 10, sched2)

    np.testing.assert_array_equal(w2.data, w.data)
    np.testing.assert_array_equal(b2.data, b.data)
    assert w2.dtype == np.float32
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    # the snapshot did not change as training went on, and loading it did not alias it
    for index, values in frozen["state"].items():
        for key, value in values.items():
            if isinstance(value, cr.Tensor):
                np.testing.assert_array_equal(saved_opt["state"][index][key].data, value.data)
            else:
                assert saved_opt["state"][index][key] == value


def test_state_dict_layout_follows_torch() -> None:
    params, noise = _initial(), _noise()
    ps = [cr.tensor(p, requires_grad=True) for p in params]
    tps = [torch.tensor(p, requires_grad=True) for p in params]
    opt = optim.Adam([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.1}], amsgrad=True)
    topt = torch.optim.Adam([{"params": [tps[0]]}, {"params": [tps[1]], "lr": 0.1}], amsgrad=True)
    for p, tp, n in zip(ps, tps, noise[0]):
        p.grad = cr.tensor(n)
        tp.grad = torch.tensor(n)
    opt.step()
    topt.step()
    ours, theirs = opt.state_dict(), topt.state_dict()
    assert ours["state"].keys() == theirs["state"].keys() == {0, 1}
    for index in ours["state"]:
        assert ours["state"][index].keys() == theirs["state"][index].keys()
        for key, value in ours["state"][index].items():
            np.testing.assert_allclose(np.asarray(value if key == "step" else value.data),
                                       theirs["state"][index][key].numpy(), rtol=1e-15)
    for group, tgroup in zip(ours["param_groups"], theirs["param_groups"]):
        assert group["params"] == tgroup["params"]
        for key, value in group.items():
            assert tgroup[key] == value


@pytest.mark.parametrize("name,kw", RESUME_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(RESUME_CASES)])
def test_a_torch_state_dict_loads_and_continues_as_torch_does(name: str, kw: dict[str, Any]) -> None:
    params, noise = _initial(), _noise()
    tps = [torch.tensor(p, requires_grad=True) for p in params]
    topt = getattr(torch.optim, name)(tps, foreach=False, **kw)
    for step_noise in noise[:4]:
        for tp, n in zip(tps, step_noise):
            tp.grad = torch.tensor(_grad(tp.detach().numpy(), n))
        topt.step()
    ps = [cr.tensor(tp.detach().numpy(), requires_grad=True) for tp in tps]
    opt = getattr(optim, name)(ps, **kw)
    opt.load_state_dict(topt.state_dict())
    for step_noise in noise[4:]:
        for p, tp, n in zip(ps, tps, step_noise):
            p.grad = cr.tensor(_grad(p.data, n))
            tp.grad = torch.tensor(_grad(tp.detach().numpy(), n))
        opt.step()
        topt.step()
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_load_state_dict_errors() -> None:
    a, b = cr.zeros(2, requires_grad=True), cr.zeros(3, requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = cr.ones(2), cr.ones(3)
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"'momentum_buffer' of shape \(2,\) for parameter 0, whose shape is \(3,\)"):
        optim.SGD([b, a], lr=0.1).load_state_dict(saved)


def test_loading_casts_buffers_to_the_parameter_dtype() -> None:
    a = cr.zeros(2, requires_grad=True)
    opt = optim.Adam([a])
    a.grad = cr.ones(2)
    opt.step()
    a32 = cr.zeros(2, dtype=np.float32, requires_grad=True)
    opt32 = optim.Adam([a32])
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[a32]["exp_avg"].dtype == np.float32
    a32.grad = cr.ones(2, dtype=np.float32)
    opt32.step()
    assert a32.dtype == np.float32 and opt32.state[a32]["step"] == 2


def test_repr() -> None:
    text = repr(optim.SGD([cr.zeros(1, requires_grad=True)], lr=0.1))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text and text.endswith(")")


# ---- gradient clipping ----------------------------------------------------------------------------------------------


def _grads_pair(dtype: Any = np.float64) -> tuple[list[cr.Tensor], list[torch.Tensor]]:
    rng = np.random.default_rng(5)
    grads = [rng.normal(size=s).astype(dtype) * 3 for s in [(4,), (2, 3), ()]]
    ps, tps = [], []
    for g in grads:
        p = cr.zeros(g.shape, dtype=dtype, requires_grad=True)
        p.grad = cr.tensor(g)
        tp = torch.zeros(g.shape, dtype=torch.float64 if dtype == np.float64 else torch.float32, requires_grad=True)
        tp.grad = torch.tensor(g)
        ps.append(p)
        tps.append(tp)
    no_grad = cr.zeros(2, requires_grad=True)  # a parameter without a gradient is skipped
    return [*ps, no_grad], tps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type: float | str, max_norm: float) -> None:
    ps, tps = _grads_pair()
    total = clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    assert isinstance(total, cr.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.data, ttotal.numpy(), rtol=1e-13)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-13)


def test_clip_grad_norm_takes_a_generator() -> None:
    ps, tps = _grads_pair()
    clip_grad_norm_((p for p in ps), 0.5)
    torch.nn.utils.clip_grad_norm_((p for p in tps), 0.5)
    for p, tp in zip(ps, tps):
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-13)


def test_clip_grad_norm_is_the_norm_of_all_gradients_concatenated() -> None:
    ps, _ = _grads_pair()
    flat = np.concatenate([p.grad.data.ravel() for p in ps if p.grad is not None])
    total = clip_grad_norm_(ps, max_norm=1.0)
    assert float(total) == pytest.approx(np.linalg.norm(flat), rel=1e-14)
    clipped = np.concatenate([p.grad.data.ravel() for p in ps if p.grad is not None])
    assert np.linalg.norm(clipped) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(clipped, flat / (np.linalg.norm(flat) + 1e-6), rtol=1e-14)


def test_clip_grad_norm_float32() -> None:
    ps, tps = _grads_pair(np.float32)
    total = clip_grad_norm_(ps, 0.5)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, 0.5)
    assert total.dtype == np.float32
    np.testing.assert_allclose(total.data, ttotal.numpy(), rtol=1e-6)
    for p, tp in zip(ps, tps):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad.data, tp.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_below_the_bound_leaves_gradients_unchanged() -> None:
    w = cr.tensor([0.3, 0.4], requires_grad=True)
    w.grad = cr.tensor([0.3, 0.4])
    grad = w.grad
    total = clip_grad_norm_(w, max_norm=1.0)  # a single tensor is accepted too
    assert float(total) == pytest.approx(0.5)
    assert w.grad is grad  # in place
    np.testing.assert_array_equal(w.grad.data, [0.3, 0.4])


def test_clip_grad_norm_nonfinite() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    w.grad = cr.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(w.grad.data, [np.inf, 1.0])  # untouched after the error
    with np.errstate(invalid="ignore"):
        total = clip_grad_norm_([w], 1.0)  # scaled by the non-finite norm anyway, as torch
    assert math.isinf(float(total))


def test_clip_grad_norm_without_gradients() -> None:
    total = clip_grad_norm_([cr.zeros(2, requires_grad=True)], 1.0)
    assert float(total) == 0.0
    assert float(get_total_norm([])) == 0.0


def test_clip_grad_value_matches_torch() -> None:
    ps, tps = _grads_pair()
    assert clip_grad_value_(ps, 1.5) is None
    torch.nn.utils.clip_grad_value_(tps, 1.5)
    for p, tp in zip(ps, tps):
        np.testing.assert_array_equal(p.grad.data, tp.grad.numpy())
        assert np.abs(p.grad.data).max() <= 1.5


def test_clip_then_step() -> None:
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    (w * w).sum().backward()  # grad (6, 8), norm 10
    clip_grad_norm_([w], max_norm=1.0)
    opt.step()
    np.testing.assert_allclose(w.data, [3.0 - 0.6, 4.0 - 0.8], rtol=1e-6)


# ---- LBFGS against torch.optim.LBFGS ---------------------------------------------------------------------------


def _rosenbrock(x: Any) -> Any:
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def _lbfgs_pair(params: list[Array], loss: Callable[..., Any], **kw: Any) -> tuple[Any, Any, list[Any], list[Any]]:
    """Both optimizers on copies of ``params``, with their closures."""
    ours = [cr.tensor(p, requires_grad=True) for p in params]
    theirs = [torch.tensor(p, requires_grad=True) for p in params]
    opt, topt = optim.LBFGS(ours, **kw), torch.optim.LBFGS(theirs, **kw)

    def closure() -> Any:
        opt.zero_grad()
        value = loss(*ours)
        value.backward()
        return value

    def tclosure() -> Any:
        topt.zero_grad()
        value = loss(*theirs)
        value.backward()
        return value

    return (opt, closure), (topt, tclosure), ours, theirs


def _compare_lbfgs(params: list[Array], loss: Callable[..., Any], steps: int, rtol: float, **kw: Any) -> None:
    (opt, closure), (topt, tclosure), ours, theirs = _lbfgs_pair(params, loss, **kw)
    for step in range(steps):
        got, expected = opt.step(closure), topt.step(tclosure)
        assert float(got) == pytest.approx(float(expected.detach()), rel=rtol, abs=1e-12), f"loss at step {step}"
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=rtol, atol=rtol, err_msg=f"step {step}")
    state, tstate = opt.state[ours[0]], topt.state[theirs[0]]
    assert (state["func_evals"], state["n_iter"]) == (tstate["func_evals"], tstate["n_iter"])
    assert len(state["old_dirs"]) == len(tstate["old_dirs"]) <= kw.get("history_size", 100)


@pytest.mark.parametrize("kw", [
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=2, max_iter=50, tolerance_grad=1e-12, tolerance_change=1e-12),
    dict(line_search_fn="strong_wolfe", lr=0.5, max_iter=4, max_eval=6),
    dict(line_search_fn="strong_wolfe", tolerance_grad=1e-3),
], ids=str)
def test_lbfgs_with_strong_wolfe_follows_torch_on_rosenbrock(kw: dict[str, Any]) -> None:
    _compare_lbfgs([np.array([-1.5, 2.0])], _rosenbrock, 8, 1e-9, **kw)


@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.05, history_size=4), dict(lr=1.0, max_iter=3),
                                dict(lr=0.1, max_iter=5, tolerance_change=1e-3)], ids=str)
def test_lbfgs_with_a_fixed_step_follows_torch_on_rosenbrock(kw: dict[str, Any]) -> None:
    # a fixed step on Rosenbrock amplifies rounding (a 1-ulp difference in a dot product): few steps, looser rtol
    _compare_lbfgs([np.array([-1.5, 2.0])], _rosenbrock, 6, 1e-6, **kw)


def _mlp_loss(x: Array, y: Array) -> Callable[..., Any]:
    def loss(w1: Any, b1: Any, w2: Any) -> Any:
        if isinstance(w1, torch.Tensor):
            h = (torch.from_numpy(x) @ w1 + b1).tanh()
            return (((h @ w2) - torch.from_numpy(y)) ** 2).mean()
        return (((cr.tanh(x @ w1 + b1) @ w2) - y) ** 2).mean()
    return loss


@pytest.mark.parametrize("kw", [dict(line_search_fn="strong_wolfe", history_size=5),
                                dict(lr=0.2, max_iter=10, history_size=3)], ids=str)
def test_lbfgs_follows_torch_on_a_small_mlp(kw: dict[str, Any]) -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    params = [rng.normal(size=(3, 5)) * 0.5, np.zeros(5), rng.normal(size=(5, 1)) * 0.5]
    _compare_lbfgs(params, _mlp_loss(x, y), 3, 1e-8, **kw)


def test_lbfgs_stops_at_once_at_a_stationary_point_and_needs_a_closure() -> None:
    x = cr.tensor([1.0, 1.0], requires_grad=True)
    opt = optim.LBFGS([x])

    def closure() -> Any:
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    assert float(opt.step(closure)) == 0.0 and opt.state[x]["func_evals"] == 1 and x.tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match=r"LBFGS\.step needs a closure"):
        opt.step()
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [cr.zeros(1, requires_grad=True)]}, {"params": [cr.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([x], line_search_fn="backtracking")


def test_lbfgs_defaults_match_torch() -> None:
    ours = optim.LBFGS([cr.zeros(2, requires_grad=True)], max_iter=8).defaults
    theirs = torch.optim.LBFGS([torch.zeros(2, requires_grad=True)], max_iter=8).defaults
    assert ours == theirs


def test_lbfgs_resumes_bit_for_bit_through_a_checkpoint(tmp_path: Any) -> None:
    start = [np.array([-1.2, 1.0]), np.array([0.3])]

    def loss(x: Any, z: Any) -> Any:
        return _rosenbrock(x) + (z[0] - x[0]) ** 2

    def run(params: list[Any], opt: Any, steps: int) -> list[float]:
        def closure() -> Any:
            opt.zero_grad()
            value = loss(*params)
            value.backward()
            return value
        return [float(opt.step(closure)) for _ in range(steps)]

    kw = dict(line_search_fn="strong_wolfe", history_size=3, max_iter=4)
    whole_params = [cr.tensor(p, requires_grad=True) for p in start]
    whole = run(whole_params, optim.LBFGS(whole_params, **kw), 6)
    params = [cr.tensor(p, requires_grad=True) for p in start]
    opt = optim.LBFGS(params, **kw)
    first = run(params, opt, 3)
    cr.save({"params": [p.detach() for p in params], "optim": opt.state_dict()}, tmp_path / "ckpt")
    ckpt = cr.load(tmp_path / "ckpt")
    params2 = [cr.tensor(p.numpy(), requires_grad=True) for p in ckpt["params"]]
    opt2 = optim.LBFGS(params2, **kw)
    opt2.load_state_dict(ckpt["optim"])
    assert first + run(params2, opt2, 3) == whole
    assert [p.tolist() for p in params2] == [p.tolist() for p in whole_params]


# ---- parameters as one vector ------------------------------------------------------------------------------------


def test_parameters_to_vector_and_back_match_torch() -> None:
    from chainrule.nn.utils import parameters_to_vector, vector_to_parameters

    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Linear(4, 2))
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    vec = parameters_to_vector(model.parameters())
    np.testing.assert_array_equal(vec.numpy(), torch.nn.utils.parameters_to_vector(twin.parameters()).detach())
    assert vec.dtype == np.float32 and vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    new = np.arange(vec.shape[0], dtype=np.float32)
    vector_to_parameters(cr.tensor(new), model.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), twin.parameters())
    for (name, ours), theirs in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)
    # the vector is differentiable: its gradient reaches each parameter in its shape
    w = [cr.tensor(np.ones((2, 2)), requires_grad=True), cr.tensor(np.ones(3), requires_grad=True)]
    (parameters_to_vector(w) * cr.arange(7.0)).sum().backward()
    assert w[0].grad.tolist() == [[0.0, 1.0], [2.0, 3.0]] and w[1].grad.tolist() == [4.0, 5.0, 6.0]
    with pytest.raises(ValueError, match="vector_to_parameters: the vector has 6 entries, the parameters 7"):
        vector_to_parameters(cr.zeros(6), w)
    with pytest.raises(TypeError, match="expected a Tensor, got list"):
        vector_to_parameters([1.0], w)


def test_lbfgs_on_a_device_and_in_float32_as_on_the_host() -> None:
    def run(device: str) -> Array:
        cr.random.seed(0)
        model = cr.nn.Linear(3, 1).to(device)
        x = cr.tensor(np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32), device=device)
        y = cr.tensor(np.random.default_rng(1).standard_normal((8, 1)).astype(np.float32), device=device)
        opt = optim.LBFGS(model.parameters(), line_search_fn="strong_wolfe")

        def closure() -> Any:
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            return loss

        for _ in range(3):
            opt.step(closure)
        assert model.weight.dtype == np.float32 and opt.state[model.weight]["d"].dtype == np.float32
        return model.weight.cpu().numpy()

    host = run("cpu")
    with backend.use_provider(provider):
        np.testing.assert_array_equal(run("cuda"), host)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_a_learning_rate_given_as_a_tensor(name: str) -> None:
    # PyTorch takes lr=torch.tensor(0.05); each update computed with it crashed here (an out= on a tensor)
    runs = []
    for lr in (0.05, cr.tensor(np.array(0.05))):
        p = cr.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
        opt = getattr(cr.optim, name)([p], lr=lr)
        for _ in range(3):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        runs.append(p.data.copy())
    np.testing.assert_array_equal(*runs)
    with pytest.raises(TypeError, match="lr must be a number or a 0-d tensor that needs no gradient"):
        getattr(cr.optim, name)([cr.tensor([1.0], requires_grad=True)], lr=cr.tensor(0.1, requires_grad=True))
