"""cr.optim.lr_scheduler: every schedule's learning rates against its closed form and against
torch.optim.lr_scheduler over 30+ steps (several parameter groups, momentum cycling included), composition of two
schedulers, state dicts, and validation errors."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler

STEPS = 30
LRS = [0.1, 0.03]  # two parameter groups with different base rates


def _optimizers(name: str = "SGD", **kw: Any) -> tuple[optim.Optimizer, torch.optim.Optimizer]:
    ours = getattr(optim, name)(
        [{"params": [cr.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS], **kw)
    theirs = getattr(torch.optim, name)(
        [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in LRS], **kw)
    return ours, theirs


def _run(sched: Any, opt: Any, steps: int = STEPS, key: str | None = None) -> list[list[Any]]:
    """The learning rates (or ``key`` of each group) in force at each step, training as users do."""
    seen = []
    for _ in range(steps):
        seen.append(list(sched.get_last_lr()) if key is None else [g[key] for g in opt.param_groups])
        opt.step()
        sched.step()
    return seen


# (scheduler name, kwargs, closed form lr(base_lr, epoch))
CASES: list[tuple[str, dict[str, Any], Callable[[float, int], float]]] = [
    ("StepLR", dict(step_size=7), lambda base, t: base * 0.1 ** (t // 7)),
    ("StepLR", dict(step_size=3, gamma=0.5), lambda base, t: base * 0.5 ** (t // 3)),
    ("MultiStepLR", dict(milestones=[5, 12, 12, 20], gamma=0.3),
     lambda base, t: base * 0.3 ** bisect.bisect_right([5, 12, 12, 20], t)),
    ("ExponentialLR", dict(gamma=0.9), lambda base, t: base * 0.9**t),
    ("CosineAnnealingLR", dict(T_max=10), lambda base, t: base * (1 + math.cos(math.pi * t / 10)) / 2),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01),
     lambda base, t: 0.01 + (base - 0.01) * (1 + math.cos(math.pi * t / 7)) / 2),
    ("CosineAnnealingLR", dict(T_max=1), lambda base, t: base * (1 + math.cos(math.pi * t)) / 2),
    ("LinearLR", dict(), lambda base, t: base * (1 / 3 + (1 - 1 / 3) * min(t, 5) / 5)),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.1, total_iters=12),
     lambda base, t: base * (1.0 + (0.1 - 1.0) * min(t, 12) / 12)),
    ("LinearLR", dict(start_factor=0.25, end_factor=0.0, total_iters=20),
     lambda base, t: base * (0.25 - 0.25 * min(t, 20) / 20)),
    ("LambdaLR", dict(lr_lambda=lambda t: 1 / (1 + 0.5 * t)), lambda base, t: base / (1 + 0.5 * t)),
]


def _id(case: tuple[str, dict[str, Any], Any]) -> str:
    name, kw, _ = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items() if k != "lr_lambda")


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_schedule_follows_its_closed_form(case: tuple[str, dict[str, Any], Callable[[float, int], float]]) -> None:
    name, kw, closed_form = case
    opt, _ = _optimizers()
    seen = _run(getattr(lr_scheduler, name)(opt, **kw), opt)
    expected = [[closed_form(base, t) for base in LRS] for t in range(STEPS)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_schedule_matches_torch(case: tuple[str, dict[str, Any], Any]) -> None:
    name, kw, _ = case
    opt, topt = _optimizers()
    ours = _run(getattr(lr_scheduler, name)(opt, **kw), opt)
    theirs = _run(getattr(torch.optim.lr_scheduler, name)(topt, **kw), topt)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups], rel=1e-14)


def test_lambda_lr_with_one_function_per_group() -> None:
    fns = [lambda t: 0.95**t, lambda t: 1.0 if t < 4 else 0.1]
    opt, topt = _optimizers()
    ours = _run(lr_scheduler.LambdaLR(opt, fns), opt)
    theirs = _run(torch.optim.lr_scheduler.LambdaLR(topt, fns), topt)
    assert ours == theirs
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
        lr_scheduler.LambdaLR(opt, [fns[0]])
    with pytest.raises(TypeError, match="callable"):
        lr_scheduler.LambdaLR(opt, 0.5)  # type: ignore[arg-type]


# ---- OneCycleLR ----------------------------------------------------------------------------------------------------

ONE_CYCLE_CASES = [
    dict(max_lr=1.0, total_steps=STEPS),
    dict(max_lr=[1.0, 0.5], total_steps=STEPS, anneal_strategy="linear"),
    dict(max_lr=0.8, epochs=5, steps_per_epoch=6, pct_start=0.25, div_factor=10.0, final_div_factor=100.0),
    dict(max_lr=1.0, total_steps=STEPS, three_phase=True),
    dict(max_lr=1.0, total_steps=STEPS, three_phase=True, anneal_strategy="linear", pct_start=0.4),
    dict(max_lr=1.0, total_steps=STEPS, base_momentum=[0.8, 0.7], max_momentum=0.9),
    dict(max_lr=1.0, total_steps=STEPS, cycle_momentum=False),
]


@pytest.mark.parametrize("kw", ONE_CYCLE_CASES)
@pytest.mark.parametrize("opt_name,opt_kw", [("SGD", dict(momentum=0.9)), ("SGD", dict()), ("Adam", dict()),
                                             ("RMSprop", dict(momentum=0.5))])
def test_one_cycle_matches_torch(kw: dict[str, Any], opt_name: str, opt_kw: dict[str, Any]) -> None:
    momentum_key = "betas" if opt_name == "Adam" else "momentum"
    for key in [None, momentum_key]:  # the learning rates, then the momenta it cycles
        opt, topt = _optimizers(opt_name, **opt_kw)
        ours = _run(lr_scheduler.OneCycleLR(opt, **kw), opt, key=key)
        theirs = _run(torch.optim.lr_scheduler.OneCycleLR(topt, **kw), topt, key=key)
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)


def _cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) * (1 + math.cos(math.pi * pct)) / 2


def test_one_cycle_closed_form() -> None:
    opt, _ = _optimizers("SGD", momentum=0.9)
    n, top, pct_start = 40, 2.0, 0.3
    seen_lr = _run(lr_scheduler.OneCycleLR(opt, max_lr=top, total_steps=n), opt, steps=n)
    opt2, _ = _optimizers("SGD", momentum=0.9)
    seen_mom = _run(lr_scheduler.OneCycleLR(opt2, max_lr=top, total_steps=n), opt2, steps=n, key="momentum")
    initial, low = top / 25, top / 25 / 1e4
    peak = pct_start * n - 1
    for t in range(n):
        if t <= peak:
            lr, mom = _cos(initial, top, t / peak), _cos(0.95, 0.85, t / peak)
        else:
            f = (t - peak) / (n - 1 - peak)
            lr, mom = _cos(top, low, f), _cos(0.85, 0.95, f)
        assert seen_lr[t][0] == pytest.approx(lr, rel=1e-13)
        assert seen_mom[t][0] == pytest.approx(mom, rel=1e-13)
    assert seen_lr[0][0] == pytest.approx(initial) and seen_lr[-1][0] == pytest.approx(low)
    assert max(s[0] for s in seen_lr) == pytest.approx(top, rel=1e-3)


def test_one_cycle_sets_adam_beta1_only() -> None:
    opt, _ = _optimizers("Adam", betas=(0.9, 0.99))
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.99)
    for _ in range(5):
        opt.step()
        sched.step()
    beta1, beta2 = opt.param_groups[0]["betas"]
    assert 0.85 < beta1 < 0.95 and beta2 == 0.99


def test_one_cycle_cycled_momentum_drives_the_update() -> None:
    """Momentum cycled by the scheduler is what the SGD update uses, as in torch (same parameters after a cycle)."""
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(12, 3))
    p = cr.zeros(3, requires_grad=True)
    tp = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt, topt = optim.SGD([p], lr=0.1), torch.optim.SGD([tp], lr=0.1)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=12)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.5, total_steps=12)
    for g in grads:
        p.grad, tp.grad = cr.tensor(g), torch.tensor(g)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)


def test_one_cycle_errors() -> None:
    opt, _ = _optimizers()
    with pytest.raises(ValueError, match="either total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="Expected positive integer total_steps, but got 0"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=0)
    with pytest.raises(ValueError, match="Expected positive integer epochs"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, epochs=-1, steps_per_epoch=3)
    with pytest.raises(ValueError, match="pct_start"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got exp"):
        lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match=r"max_lr must have the same length as optimizer\.param_groups"):
        lr_scheduler.OneCycleLR(opt, max_lr=[1.0, 2.0, 3.0], total_steps=10)
    adagrad = optim.Adagrad([cr.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        lr_scheduler.OneCycleLR(adagrad, max_lr=1.0, total_steps=10)
    lr_scheduler.OneCycleLR(adagrad, max_lr=1.0, total_steps=10, cycle_momentum=False)  # fine without cycling
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match=r"Tried to step 4 times\. The specified number of total steps is 3"):
        sched.step()


def test_one_cycle_with_an_instant_warm_up() -> None:
    opt, _ = _optimizers()
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.1)  # warm-up ends at step 0
    seen = _run(sched, opt, steps=10)
    assert seen[0][0] == 1.0 and all(np.isfinite(s[0]) for s in seen)
    assert seen[-1][0] == pytest.approx(1.0 / 25 / 1e4)


# ---- composition, state dicts, resuming ---------------------------------------------------------------------------


def test_two_schedulers_compose_as_in_torch() -> None:
    opt, topt = _optimizers()
    ours = [lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=6), lr_scheduler.ExponentialLR(opt, 0.9)]
    theirs = [torch.optim.lr_scheduler.LinearLR(topt, start_factor=0.1, total_iters=6),
              torch.optim.lr_scheduler.ExponentialLR(topt, 0.9)]
    seen, tseen = [], []
    for _ in range(STEPS):
        opt.step()
        topt.step()
        for s, ts in zip(ours, theirs):
            s.step()
            ts.step()
        seen.append([g["lr"] for g in opt.param_groups])
        tseen.append([g["lr"] for g in topt.param_groups])
    np.testing.assert_allclose(seen, tseen, rtol=1e-14)


def test_an_outside_change_of_lr_is_kept() -> None:
    opt, topt = _optimizers()
    sched = lr_scheduler.StepLR(opt, step_size=3)
    tsched = torch.optim.lr_scheduler.StepLR(topt, step_size=3)
    for _ in range(2):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    opt.param_groups[0]["lr"] = topt.param_groups[0]["lr"] = 1.0
    sched.step()
    tsched.step()
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr()) and sched.get_last_lr()[0] == pytest.approx(0.1)


@pytest.mark.parametrize("name,kw", [
    ("StepLR", dict(step_size=4)), ("MultiStepLR", dict(milestones=[3, 9])), ("ExponentialLR", dict(gamma=0.8)),
    ("CosineAnnealingLR", dict(T_max=8)), ("LinearLR", dict(total_iters=10)),
    ("OneCycleLR", dict(max_lr=1.0, total_steps=STEPS)),
])
def test_state_dict_resumes_the_schedule(name: str, kw: dict[str, Any]) -> None:
    opt, _ = _optimizers("SGD", momentum=0.9)
    sched = getattr(lr_scheduler, name)(opt, **kw)
    _run(sched, opt, steps=12)
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved
    rest = _run(sched, opt, steps=STEPS - 12)

    opt2, _ = _optimizers("SGD", momentum=0.9)
    sched2 = getattr(lr_scheduler, name)(opt2, **kw)  # construct first, then load (PyTorch's order)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    assert sched2.last_epoch == 12 and sched2.get_last_lr() == saved["_last_lr"]
    assert _run(sched2, opt2, steps=STEPS - 12) == rest
    assert opt2.param_groups[0]["momentum"] == opt.param_groups[0]["momentum"]


def test_lambda_lr_state_dict_keeps_callable_objects_state() -> None:
    class Warmup:
        def __init__(self, steps: int) -> None:
            self.steps = steps

        def __call__(self, t: int) -> float:
            return min(1.0, (t + 1) / self.steps)

    opt, _ = _optimizers()
    sched = lr_scheduler.LambdaLR(opt, [Warmup(4), lambda t: 1.0])
    saved = sched.state_dict()
    assert saved["lr_lambdas"] == [{"steps": 4}, None]
    other = Warmup(100)
    opt2, _ = _optimizers()
    sched2 = lr_scheduler.LambdaLR(opt2, [other, lambda t: 1.0])
    sched2.load_state_dict(saved)
    assert other.steps == 4 and "lr_lambdas" in saved


def test_resuming_with_last_epoch() -> None:
    opt, topt = _optimizers()
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=5)
    for group, tgroup in zip(opt.param_groups, topt.param_groups):
        group["initial_lr"] = tgroup["initial_lr"] = group["lr"]
    ours = _run(lr_scheduler.ExponentialLR(opt, 0.5, last_epoch=3), opt, steps=5)
    theirs = _run(torch.optim.lr_scheduler.ExponentialLR(topt, 0.5, last_epoch=3), topt, steps=5)
    assert ours == theirs


def test_float32_parameters_are_unaffected_by_a_schedule() -> None:
    p = cr.zeros(2, dtype=np.float32, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=5)
    for _ in range(5):
        p.grad = cr.ones(2, dtype=np.float32)
        opt.step()
        sched.step()
    assert p.dtype == np.float32 and opt.state[p]["exp_avg"].dtype == np.float32


@pytest.mark.parametrize("make,message", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), "Expected positive integer step_size, but got 0"),
    (lambda o: lr_scheduler.StepLR(o, step_size=2.5), "step_size"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "Expected positive integer T_max"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), "Starting multiplicative factor"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=1.5), "Starting multiplicative factor"),
    (lambda o: lr_scheduler.LinearLR(o, end_factor=-0.5), "Ending multiplicative factor"),
    (lambda o: lr_scheduler.LinearLR(o, total_iters=0), "Expected positive integer total_iters"),
])
def test_invalid_schedules(make: Callable[[optim.Optimizer], Any], message: str) -> None:
    opt, _ = _optimizers()
    with pytest.raises(ValueError, match=message):
        make(opt)


def test_a_scheduler_needs_an_optimizer() -> None:
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.OneCycleLR(None, max_lr=1.0, total_steps=3)  # type: ignore[arg-type]


# ---- CosineAnnealingWarmRestarts and ReduceLROnPlateau, step by step against torch ---------------------------------


@pytest.mark.parametrize("kw", [dict(T_0=5), dict(T_0=3, T_mult=2), dict(T_0=4, T_mult=3, eta_min=0.005),
                                dict(T_0=1)], ids=str)
def test_warm_restarts_match_torch(kw: dict[str, Any]) -> None:
    opt, topt = _optimizers()
    ours = _run(lr_scheduler.CosineAnnealingWarmRestarts(opt, **kw), opt)
    theirs = _run(torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, **kw), topt)
    np.testing.assert_allclose(ours, theirs, rtol=1e-14, atol=0)


@pytest.mark.parametrize("kw", [dict(T_0=5), dict(T_0=3, T_mult=2), dict(T_0=2, T_mult=3, eta_min=0.01)], ids=str)
def test_warm_restarts_with_fractional_epochs_match_torch(kw: dict[str, Any]) -> None:
    opt, topt = _optimizers()
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, **kw)
    tsched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, **kw)
    for epoch in range(12):
        for i in range(4):  # PyTorch's documented idiom: step(epoch + i / iters) once per batch
            opt.step(), topt.step()
            sched.step(epoch + i / 4)
            tsched.step(epoch + i / 4)
            assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13)
    assert (sched.T_i, sched.last_epoch) == (tsched.T_i, tsched.last_epoch)
    with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
        sched.step(-1)


def test_warm_restarts_closed_form_and_errors() -> None:
    opt, _ = _optimizers()
    seen = _run(lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2), opt, steps=14)
    # cycles of 2, 4, 8 epochs start at epochs 0, 2, 6
    t_cur = [0, 1, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7]
    t_i = [2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8]
    expected = [[base * (1 + math.cos(math.pi * c / i)) / 2 for base in LRS] for c, i in zip(t_cur, t_i)]
    np.testing.assert_allclose(seen, expected, rtol=1e-13)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="Expected integer T_mult >= 1, but got 0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)


METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.9, 2.9, 2.9, 2.9, 2.9, 2.9, 2.9, 1.0, 1.0,
           1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("kw", [
    dict(patience=1), dict(patience=2, factor=0.5, cooldown=2), dict(mode="max", patience=0, factor=0.3),
    dict(threshold_mode="abs", threshold=0.05, patience=1), dict(mode="max", threshold_mode="abs", threshold=0.5),
    dict(patience=0, min_lr=0.01), dict(patience=0, min_lr=[0.02, 0.001], factor=0.2),
    dict(patience=0, factor=0.9, eps=0.005),
], ids=str)
def test_reduce_on_plateau_matches_torch(kw: dict[str, Any]) -> None:
    opt, topt = _optimizers("SGD", momentum=0.9)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kw)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    metrics = METRICS if kw.get("mode") != "max" else [-m for m in METRICS]
    for m in metrics:
        opt.step(), topt.step()
        sched.step(m)
        tsched.step(m)
        assert sched.get_last_lr() == tsched.get_last_lr()  # products of the same floats: exactly equal
        assert (sched.best, sched.num_bad_epochs, sched.cooldown_counter, sched.last_epoch) == (
            tsched.best, tsched.num_bad_epochs, tsched.cooldown_counter, tsched.last_epoch)


def test_reduce_on_plateau_resumes_from_its_state_dict() -> None:
    opt, _ = _optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1)
    for m in METRICS[:9]:
        sched.step(m)
    saved, saved_opt = sched.state_dict(), opt.state_dict()
    rest = []
    for m in METRICS[9:]:
        sched.step(m)
        rest.append(sched.get_last_lr())
    opt2, _ = _optimizers()
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2, patience=1, cooldown=1)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    again = []
    for m in METRICS[9:]:
        sched2.step(m)
        again.append(sched2.get_last_lr())
    assert again == rest and "optimizer" not in saved


def test_reduce_on_plateau_errors() -> None:
    opt, _ = _optimizers()
    for kw, message in [(dict(factor=1.0), "Factor should be < 1.0."), (dict(mode="median"), "mode median is unknown"),
                        (dict(threshold_mode="pct"), "threshold mode pct is unknown"),
                        (dict(min_lr=[0.1]), "expected 2 min_lrs, got 1")]:
        with pytest.raises(ValueError, match=message):
            lr_scheduler.ReduceLROnPlateau(opt, **kw)
    with pytest.raises(TypeError, match=r"needs the epoch's metric"):
        lr_scheduler.ReduceLROnPlateau(opt).step()
