"""Fused kernels (chainrule.fused) on the CuPy stand-in: each is taken on device arrays (counted through the
stand-in's fuse), gives the unfused path's numbers bit for bit (the same operations in the same order), and is never
taken on the host, on recording Tensors or on cr.compile's boxes."""

from __future__ import annotations

import collections
import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend, fused
from chainrule.nn import functional as F
from stand_in_gpu import DeviceArray, fused_calls, provider

DTYPES = (np.float32, np.float64)


def _calls(during: Callable[[], Any]) -> tuple[Any, collections.Counter[str]]:
    """``during()``'s result and the fused calls it made, by kernel name."""
    before = fused_calls.copy()
    out = during()
    return out, fused_calls - before


def _host(t: Any) -> np.ndarray[Any, Any]:
    return backend.to_host(t.data if isinstance(t, cr.Tensor) else t)


def _value_and_grad(fn: Callable[..., Any], x0: np.ndarray[Any, Any], device: str,
                    kwargs: dict[str, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    x = cr.tensor(x0, device=device, requires_grad=True)
    y = fn(x, **kwargs)
    (y * y).sum().backward()
    assert x.grad is not None and x.grad.dtype == x0.dtype and y.dtype == x0.dtype
    return _host(y), _host(x.grad)


ACTIVATIONS = [
    (cr.tanh, {}, {"chainrule_tanh_rule"}),
    (cr.sigmoid, {}, {"chainrule_sigmoid", "chainrule_sigmoid_rule"}),
    (cr.relu, {}, {"chainrule_relu_rule"}),
    (cr.elu, {"alpha": 0.5}, {"chainrule_elu", "chainrule_elu_rule"}),
    (cr.leaky_relu, {"negative_slope": 0.2}, {"chainrule_leaky_relu", "chainrule_leaky_relu_rule"}),
    (cr.selu, {}, {"chainrule_elu", "chainrule_elu_rule"}),
    (cr.silu, {}, {"chainrule_sigmoid", "chainrule_sigmoid_rule"}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fn,kwargs,kernels", ACTIVATIONS, ids=lambda a: getattr(a, "__name__", None))
def test_activations_take_their_kernels_on_the_device(gpu: None, fn: Any, kwargs: dict[str, Any], kernels: set[str],
                                                      dtype: Any) -> None:
    x0 = np.array([[-3.0, -1.0, -0.0, 0.0], [0.5, 1.0, 2.0, 40.0]], dtype=dtype)
    on_device, calls = _calls(lambda: _value_and_grad(fn, x0, "cuda", kwargs))
    assert set(calls) == kernels and all(n == 1 for n in calls.values())
    with fused.unfused():
        unfused, none = _calls(lambda: _value_and_grad(fn, x0, "cuda", kwargs))
    assert not none
    on_host = _value_and_grad(fn, x0, "cpu", kwargs)
    for a, b, c in zip(on_device, unfused, on_host):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_forward_mode_and_second_order_on_the_device(gpu: None) -> None:
    def f(x: Any) -> Any:
        return cr.sum(cr.tanh(x) * cr.sigmoid(x) + cr.elu(x))

    x0 = np.linspace(-2.0, 2.0, 5)
    v0 = np.linspace(1.0, 2.0, 5)
    on_host = [cr.jvp(f, (x0,), (v0,))[1], cr.hessian(f)(x0)]
    x, v = (backend.to_device(a, "cuda") for a in (x0, v0))
    on_device = [cr.jvp(f, (x,), (v,))[1], cr.hessian(f)(x)]  # rules on Duals and recording Tensors: unfused
    for a, b in zip(on_device, on_host):
        np.testing.assert_allclose(_host(a), _host(b), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_forward_and_backward_are_fused(gpu: None, dtype: Any) -> None:
    rng = np.random.default_rng(0)
    logits, labels = rng.standard_normal((6, 5)).astype(dtype) * 3, rng.integers(0, 5, 6)
    logits[0, 1] = 1000.0  # the shift keeps it finite, fused or not

    def run(device: str) -> list[np.ndarray[Any, Any]]:
        x = cr.tensor(logits, device=device, requires_grad=True)
        loss = F.cross_entropy(x, cr.tensor(labels, device=device))
        loss.backward()
        assert x.grad is not None
        return [_host(loss), _host(x.grad)]

    on_device, calls = _calls(lambda: run("cuda"))
    # the forward's exponentials, and the rule's: the sum of the exponentials once more, then one kernel
    assert calls == {"chainrule_log_softmax_exp": 2, "chainrule_softmax_cross_entropy_rule": 1}
    with fused.unfused():
        unfused = run("cuda")
    for a, b, c in zip(on_device, unfused, run("cpu")):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, b)
        # the host's rule reads the log-sum-exp back from the loss, a GPU's recomputes it (no test of the values)
        np.testing.assert_allclose(a, c, rtol=4 * np.finfo(dtype).eps, atol=4 * np.finfo(dtype).eps)


ADAM_CASES = [
    ("Adam", {}), ("Adam", {"weight_decay": 0.1}), ("Adam", {"maximize": True, "betas": (0.8, 0.99)}),
    ("AdamW", {}), ("AdamW", {"weight_decay": 0.3, "eps": 1e-6}), ("Adam", {"amsgrad": True}),
    ("AdamW", {"amsgrad": True, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,settings", ADAM_CASES)
def test_adam_steps_on_the_device_equal_the_hosts(gpu: None, name: str, settings: dict[str, Any], dtype: Any) -> None:
    steps = 4

    def train(device: str) -> list[np.ndarray[Any, Any]]:
        rng = np.random.default_rng(1)
        w = cr.tensor(rng.standard_normal((3, 4)).astype(dtype), device=device, requires_grad=True)
        b = cr.nn.Parameter(cr.tensor(rng.standard_normal(4).astype(dtype), device=device))  # a Parameter too
        opt = getattr(cr.optim, name)([w, b], lr=0.05, **settings)
        for _ in range(steps):
            opt.zero_grad()
            cr.sum(cr.tanh(w * 2.0 + b) ** 2).backward()
            before = w._share_version().clock
            opt.step()
            assert w._share_version().clock > before  # stamped as updated in place
        state = [t for p in (w, b) for key, t in opt.state[p].items() if key != "step"]
        return [_host(t) for t in (w, b, *state)]

    on_device, calls = _calls(lambda: train("cuda"))
    assert calls == {"chainrule_amsgrad_update" if settings.get("amsgrad") else "chainrule_adam_update": 2 * steps,
                     "chainrule_tanh_rule": steps}
    on_host = train("cpu")
    for a, c in zip(on_device, on_host):
        assert a.dtype == dtype
        np.testing.assert_array_equal(a, c)


def test_the_host_never_fuses(gpu: None) -> None:
    def step() -> Any:
        x = cr.tensor(np.linspace(-1.0, 1.0, 6).reshape(2, 3), requires_grad=True)
        opt = cr.optim.Adam([x], lr=0.1)
        F.cross_entropy(cr.elu(cr.sigmoid(cr.tanh(x))), [0, 2]).backward()
        opt.step()
        return x

    _, calls = _calls(step)
    assert not calls
    assert not fused.fusing(np.ones(2)) and fused.fusing(provider.xp.ones(2))


def test_a_compiled_training_step_fuses_only_its_forwards(gpu: None) -> None:
    """A primitive's forward is one step of a compiled program, and fuses when it replays on device arrays; rules
    and the optimizer ran on the trace's boxes, so the program holds their unfused operations (which the compiler's
    own pass may then fuse into runs: compile_passes, chainrule_compiled_* kernels). Softmax cross-entropy's rule is
    one step of the program too (run on the arrays, as eager runs it), so it fuses as eager's does."""
    def training() -> tuple[Any, Any]:
        w = cr.tensor(np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(4, 3), device="cuda", requires_grad=True)
        opt = cr.optim.Adam([w], lr=0.1)

        def step(x: Any, y: Any) -> Any:
            opt.zero_grad()
            loss = F.cross_entropy(cr.tanh(x @ w), y)
            loss.backward()
            opt.step()
            return loss.detach()

        return step, w

    (eager, w_eager), (traced, w_traced) = training(), training()
    compiled, rng = cr.compile(traced), np.random.default_rng(0)
    forwards = {"chainrule_log_softmax_exp": 2, "chainrule_softmax_cross_entropy_rule": 1}
    for i in range(4):  # makes Adam's state (as written), traces, then replays
        x = cr.tensor(rng.standard_normal((5, 4)).astype(np.float32), device="cuda")
        y = cr.tensor(rng.integers(0, 3, 5), device="cuda")
        expected = _host(eager(x, y))
        loss, calls = _calls(lambda: compiled(x, y))
        np.testing.assert_array_equal(_host(loss), expected)
        np.testing.assert_array_equal(_host(w_traced), _host(w_eager))
        assert i < 2 or {k: n for k, n in calls.items() if not k.startswith("chainrule_compiled_")} == forwards


def test_the_stand_ins_fuse_checks_arguments_as_cupy_does(gpu: None) -> None:
    kernel = provider.fuse(lambda a, b: a * b, "product")
    a = provider.xp.ones(3)
    assert type(kernel(a, np.float32(2.0))) is DeviceArray
    with pytest.raises(TypeError, match="Invalid argument type for 'product'"):
        kernel(a, np.ones(3))  # a host array: CuPy's fuse refuses it too


def test_unfused_restores_the_fusing_types_after_an_error(gpu: None) -> None:
    taken = set(backend.fused_types)
    with pytest.raises(ZeroDivisionError), fused.unfused():
        assert not backend.fused_types
        1 / 0  # noqa: B018
    assert backend.fused_types == taken and DeviceArray in taken


def _script() -> Any:
    path = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_gpu_scripts_fused_section_runs_on_the_stand_in(gpu: None, capsys: pytest.CaptureFixture[str]) -> None:
    script = _script()
    assert script.check_fused(2, rows=6, cols=5)
    out = capsys.readouterr().out
    for dtype in ("float32", "float64"):  # a row per kernel and dtype
        rows = [line.split(f" {dtype} ")[0].strip() for line in out.splitlines() if f" {dtype} " in line]
        assert len(rows) == 13 and "AMSGrad update" in rows and "cross-entropy rule" in rows


def test_the_gpu_script_runs_to_its_end_on_the_stand_in(gpu: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main(["--repeats", "1", "--fused-shape", "6", "5"]) == 0
    out = capsys.readouterr().out
    assert "1. primitives on cuda" in out and "digits CNN" in out and "4. fused kernels" in out
    assert "FAILED" not in out and "failed" not in out


def test_the_gpu_script_runs_the_sections_asked_for_in_their_order(gpu: None,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main(["--repeats", "1", "--fused-shape", "6", "5", "--sections", "4", "2"]) == 0
    out = capsys.readouterr().out
    assert "1. primitives" not in out and "3. " not in out
    assert 0 <= out.index("4. fused kernels") < out.index("digits CNN")


def _fusing_wrongly(body: Callable[..., Any], name: str) -> Callable[..., Any]:
    """A fusion that miscompiles: its kernel's results, and what it writes into its arguments, are off."""
    def kernel(*args: Any) -> Any:
        result = body(*args)
        for a in args:
            if isinstance(a, DeviceArray):
                a += 1e-3
        return tuple(r * 2 for r in result) if isinstance(result, tuple) else None if result is None else result * 2

    return kernel


def test_a_kernel_that_differs_from_its_body_warns_once_and_keeps_to_the_body() -> None:
    """Each signature's first call checks the kernel against the body's operations one by one (which give that call's
    answer and updates); a kernel that differs, in its results or in what it writes in place (Adam), is said so and
    dropped, so every number is still the unfused path's."""
    def train() -> list[np.ndarray[Any, Any]]:
        w = cr.tensor(np.linspace(-1.0, 1.0, 6, dtype=np.float32), device="cuda", requires_grad=True)
        opt = cr.optim.Adam([w], lr=0.05)
        for _ in range(3):
            opt.zero_grad()
            cr.sum(cr.tanh(w * 2.0) ** 2).backward()
            opt.step()
        return [_host(w), *(_host(t) for key, t in opt.state[w].items() if key != "step")]

    with backend.use_provider(provider):
        with fused.unfused():
            expected = train()
    wrong = dataclasses.replace(provider, fuse=_fusing_wrongly)
    with backend.use_provider(wrong):
        with pytest.warns(RuntimeWarning) as caught:
            got = train()
    assert sorted(str(w.message).split()[2] for w in caught) == ["chainrule_adam_update", "chainrule_tanh_rule"]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def test_the_gpu_scripts_adam_rows_compare_the_updated_arrays(gpu: None) -> None:
    """Section 4's Adam case returns what the step updated (the parameter and its moments), not its inputs."""
    rng = np.random.default_rng(0)
    p, g = rng.standard_normal(5), rng.standard_normal(5)
    m, v = np.abs(g) * 0.1, g * g * 0.01
    inputs = [backend.to_device(a, "cuda") for a in (p, g, m, v)]
    for before, after in zip((p, m, v), _script()._adam_step(*inputs)):
        assert not np.allclose(_host(after), before)
