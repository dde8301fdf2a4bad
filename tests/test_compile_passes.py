"""cr.compile's passes (compile_passes.py): replays stay bit for bit equal to eager execution, over several replays
with new inputs, for chains, MLPs, Hessians, views and in-place updates; and each pass, on a program written by hand,
does what it says and leaves what it must leave (arguments, results, views still alive, random draws)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import backend, blas, compile_passes, fused
from chainrule.compile import _CHECKED, Program
from chainrule.ops import shape as shape_ops
from same_bits import same as _same
from stand_in_gpu import fused_calls, provider

RNG = np.random.default_rng(7)


def _replays(fn: Any, make: Any, times: int = 4) -> cr.compile:
    """``fn`` compiled and compared with eager on ``times`` fresh inputs (the first call traces, the others replay)."""
    step = cr.compile(fn)
    for _ in range(times):
        args = make()
        _same(step(*args), fn(*args))
    assert step.traces == 1
    return step


def _program(step: Any) -> Program:
    (program,) = [p for programs in step.programs.values() for p in programs]
    return program


# ---- replays against eager -------------------------------------------------------------------------------------
def _chain(x: Any) -> Any:
    for _ in range(20):
        x = cr.tanh(x * 0.9 + 0.1)
    return cr.sum(x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_chain_replays_are_eager_bit_for_bit(dtype: Any) -> None:
    step = _replays(cr.grad(_chain), lambda: (RNG.standard_normal(16).astype(dtype),))
    ops = _program(step).ops
    # every Python number became a 0-d array of the loop's dtype, and the tanhs write into the dying sums
    assert not [k for op in ops for k in op[4] if type(_program(step).env[k]) is float]
    assert sum(op[0] is np.tanh and op[1] == 2 for op in ops) == 20


def _layers_loss(layers: list[tuple[Any, Any]], x: Any, onehot: Any) -> Any:
    for i, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if i < len(layers) - 1:
            x = F.relu(x)
    return -cr.mean(cr.sum(onehot * F.log_softmax(x, dim=-1), axis=-1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_loss_and_gradient_with_reused_buffers(dtype: Any) -> None:
    sizes = [(160, 32), (160, 160), (5, 160)]  # 128x160 activations: large enough for the memory plan's 2-d buffers
    layers = [((RNG.standard_normal(s) * 0.2).astype(dtype), np.zeros(s[0], dtype)) for s in sizes]

    def make() -> tuple[Any, ...]:
        return layers, RNG.standard_normal((128, 32)).astype(dtype), np.eye(5, dtype=dtype)[RNG.integers(0, 5, 128)]

    step = _replays(cr.value_and_grad(_layers_loss), make)
    assert sum(len(op[4]) == 3 for op in _program(step).ops) >= 4  # steps writing into a dead intermediate

    def sgd(layers: list[tuple[Any, Any]], x: Any, onehot: Any) -> Any:  # results take dead buffers too
        loss, grads = cr.value_and_grad(_layers_loss)(layers, x, onehot)
        return loss, [(w - 0.1 * gw, b - 0.1 * gb) for (w, b), (gw, gb) in zip(layers, grads)]

    compiled, state_e = cr.compile(sgd), layers
    state_c = layers
    for _ in range(4):  # training: each replay's results are the next one's arguments
        _, x, onehot = make()
        (loss_e, state_e), (loss_c, state_c) = sgd(state_e, x, onehot), compiled(state_c, x, onehot)
        _same((loss_c, state_c), (loss_e, state_e))


def test_hessian_replays() -> None:
    a = RNG.standard_normal((64, 64)) / 8
    f = lambda x: cr.sum(cr.tanh(a @ x))
    _replays(cr.hessian(f), lambda: (RNG.standard_normal(64),))
    _replays(cr.hessian(lambda x: cr.sum(cr.sin(x) * x * cr.exp(x))), lambda: (RNG.standard_normal(6),))


def test_views_are_not_overwritten_while_alive() -> None:
    def f(x: Any) -> Any:
        a = cr.exp(x * 2.0)  # a fresh array ...
        v = cr.reshape(a, (8, 32)).T[1:]  # ... seen through views that outlive it
        b = cr.tanh(x) + 1.0  # same shape and dtype as a: a buffer the plan must not take from a
        c = cr.sin(b) * 3.0
        w = c[::2]  # a result that is a view of an intermediate
        return v + 1.0, w, cr.sum(cr.reshape(c, (32, 8)).T, axis=0), x[3:] * 1.0

    _replays(f, lambda: (RNG.standard_normal(256),))
    _replays(f, lambda: (RNG.standard_normal(256).astype(np.float32),))
    _replays(cr.grad(lambda x: cr.sum(f(x)[0] ** 2) + cr.sum(f(x)[2])), lambda: (RNG.standard_normal(256),))


def test_in_place_updates_of_traced_values() -> None:
    def f(x: Any, y: Any) -> Any:
        t = x * 2.0
        u = t
        t += 1
        t *= y
        t[0] = -1.0
        s = cr.exp(y)
        s -= t
        return u, s, cr.sum(s * s)

    _replays(f, lambda: (RNG.standard_normal(300), RNG.standard_normal(300)))
    _replays(f, lambda: (RNG.standard_normal(5).astype(np.float32), RNG.standard_normal(5).astype(np.float32)))


def test_numbers_of_every_kind_keep_numpy_dtypes() -> None:
    def f(x: Any) -> Any:
        return x * 3, x + 0.5, 2 - x, x * (1 + 2j), x ** 2, cr.maximum(x, 1)

    for dtype in (np.float32, np.float64, np.int32, np.int64, np.float16):
        _replays(f, lambda: ((RNG.standard_normal(7) * 10).astype(dtype),), times=2)


def test_comparisons_replay_as_their_ufuncs() -> None:
    """A comparison's check for complex inputs ran at the trace: the replay calls the ufunc itself, with its scalar
    typed, and maximum (whose positional ``out`` NumPy 2.4 deprecates: warnings are errors here) writes into a
    dead buffer by keyword; complex inputs are still refused, at the trace of their signature."""

    def f(x: Any, y: Any) -> Any:
        m = cr.maximum(x * 2.0, y)  # 72 KB or more, as the product it may write into
        return cr.where(x > 0.25, m + 1.0, -m), cr.minimum(m, 0.5) * y

    for dtype in (np.float64, np.float32):
        step = _replays(f, lambda: (RNG.standard_normal((192, 96)).astype(dtype),
                                    RNG.standard_normal((192, 96)).astype(dtype)))
        program = _program(step)
        (greater,) = [op for op in program.ops if op[0] is np.greater]
        assert type(program.env[greater[3]]) is np.ndarray and program.env[greater[3]].dtype == dtype
        assert not [op for op in program.ops if getattr(op[0], "__code__", None) is _CHECKED]
        into = [op for op in program.ops if getattr(op[0], "__qualname__", "").startswith("_into_c.")]
        assert len(into) == 3  # maximum, minimum and the last product write into dead buffers
    _replays(f, lambda: (RNG.standard_normal(20000), RNG.standard_normal(20000)))  # 1-d: NumPy's 3-argument call

    def masks(x: Any) -> Any:  # a returned mask is never a buffer, a dead one is (bool, 80 KB)
        kept, dead = x > 0.25, x < -0.5
        return kept, (x * 2.0) * dead, ~(x > 1.0)

    step = _replays(masks, lambda: (RNG.standard_normal((160, 500)),))
    first = step(np.ones((160, 500)))
    second = step(-np.ones((160, 500)))
    assert first[0].all() and not second[0].any() and not np.shares_memory(first[0], second[0])
    with pytest.raises(TypeError, match="complex numbers have no order"):
        cr.compile(lambda z: z > 0)(np.ones(3, complex))


def test_a_learning_rate_is_cast_where_a_run_reads_it() -> None:
    """SGD's cast of its learning rate to the parameters' float32: made where a run reads the rate, with no step of
    its own, so the rates set between calls reach the updates, as eager's."""
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    start = RNG.standard_normal((3, 2)).astype(np.float32)
    runs = []
    for compiled in (False, True):
        w = cr.tensor(start.copy(), requires_grad=True)
        opt = cr.optim.SGD([w], lr=0.1)

        def step(w: Any = w, opt: Any = opt) -> Any:
            opt.zero_grad()
            cr.sum(cr.tanh(x @ w)).backward()
            opt.step()

        run = cr.compile(step) if compiled else step
        values = []
        for lr in (0.1, 0.1, 0.3, 0.05, 0.2):
            opt.param_groups[0]["lr"] = lr
            run()
            values.append(w.data.copy())
        runs.append(values)
    _same(runs[0], runs[1])
    (program,) = run.flat.values()  # the program of the last call (the first traces with no gradient yet)
    assert [entry[4] for entry in program.captured_settings] == [np.dtype(np.float32)]
    assert not [op for op in program.ops if getattr(op[0], "func", None) is compile_passes._cast_forward]


def test_the_arguments_and_results_are_not_written_into() -> None:
    x = RNG.standard_normal(100)
    kept = x.copy()
    step = cr.compile(lambda x: (cr.tanh(x), cr.exp(cr.tanh(x) * 2.0)))
    first = step(x)
    held = [a.copy() for a in first]
    second = step(x + 1)
    for a, b in zip(first, held):  # a replay's results are fresh arrays, never a later replay's buffers
        assert a.tobytes() == b.tobytes()
    assert x.tobytes() == kept.tobytes()
    assert all(a is not b for a in first for b in second)


# ---- each pass on a program written by hand ------------------------------------------------------------------
def _hand_program(ops: list[tuple[Any, tuple[int, ...], int]], env: list[Any], inputs: list[int],
                  outputs: list[int]) -> Program:
    program = Program()
    program.env = list(env)
    for forward, ins, out in ops:
        program.add(forward, ins, out)
    program.inputs = list(inputs)
    program.outputs = [(k, False) for k in outputs]
    program.treedef = cr.tree_util.tree_flatten(tuple(range(len(outputs))))[1]
    return program


def test_constant_steps_are_folded_at_trace_end() -> None:
    c1, c2 = np.arange(3.0), np.full(3, 2.0)
    draw = lambda: np.ones(3)  # no inputs, as a random draw: never folded
    # slots: 0 the argument, 1 and 2 constants, 3 = c1 * c2, 4 = exp(3), 5 = x + 4, 6 = a draw, 7 = 6 + 3, 8 = c1 + c2
    program = _hand_program([(np.multiply, (1, 2), 3), (np.exp, (3,), 4), (np.add, (0, 4), 5), (draw, (), 6),
                             (np.add, (6, 3), 7), (np.add, (1, 2), 8)],
                            [None, c1, c2, None, None, None, None, None, None], [0], [5, 7, 8])
    compile_passes._fold_constants(program)
    assert [op[0] for op in program.ops] == [np.add, draw, np.add, np.add]  # 8 is a result: computed at every run
    assert program.env[4].tobytes() == np.exp(c1 * c2).tobytes()
    x = RNG.standard_normal(3)
    _same(program.run([x]), (x + np.exp(c1 * c2), np.ones(3) + c1 * c2, c1 + c2))


def test_a_constant_view_into_a_result_is_not_folded() -> None:
    c = np.arange(6.0)
    program = _hand_program([(np.negative, (1,), 2), (np.reshape, (2, 3), 4), (np.add, (0, 2), 5)],
                            [None, c, None, (2, 3), None, None], [0], [4, 5])
    compile_passes._fold_constants(program)  # 4 may be a view of 2: folding 2 would hand every run the same array
    assert len(program.ops) == 3
    first, _ = program.run([np.zeros(6)])
    second, _ = program.run([np.zeros(6)])
    assert first is not second and not np.shares_memory(first, second)


def test_reuse_takes_only_dead_unviewed_intermediates() -> None:
    x = RNG.standard_normal(4)
    # 1 = exp(x), 2 = a view of 1 (reshape), 3 = sin(x), 4 = tanh(3) [3 dies: in place], 5 = cos(2) [2 and 1 die],
    # 6 = 4 + 5 [may take 1's buffer now, or 4's / 5's (dying inputs)]
    ops = [(np.exp, (0,), 1), (np.reshape, (1, 7), 2), (np.sin, (0,), 3), (np.tanh, (3,), 4), (np.cos, (2,), 5),
           (np.add, (4, 5), 6)]
    env = [None] * 7 + [(4,)]
    values = {0: x, 1: np.exp(x), 2: np.exp(x), 3: np.sin(x), 4: np.tanh(np.sin(x)), 5: np.cos(np.exp(x)),
              6: np.tanh(np.sin(x)) + np.cos(np.exp(x))}
    program = _hand_program(ops, env, [0], [6, 2])
    compile_passes._reuse_buffers(program, values)
    steps = {op[5]: op[4] for op in program.ops}
    assert steps[4] == (3, 3)  # tanh written into the dying sin
    assert steps[5] == (2,)  # cos of the view: the view's base (1) is a result's too (2 is kept), so never a buffer
    assert steps[1] == (0,) and steps[3] == (0,)  # the argument is never written into
    _same(program.run([x]), (values[6], values[2]))


def testkept_slots_cover_arguments_results_and_captured_tensors() -> None:
    w = cr.tensor(RNG.standard_normal(3))
    with cr.no_grad():
        step = cr.compile(lambda x: (x * w, cr.exp(x)))
        _same(step(np.ones(3)), (np.ones(3) * w.data, np.exp(np.ones(3))))
    program = _program(step)
    kept = compile_passes.kept_slots(program)
    assert {k for k in program.inputs if k is not None} <= kept
    assert {k for k, _ in program.outputs} <= kept and {k for k, _ in program.captured} <= kept


def test_arguments_of_another_layout_at_replay() -> None:
    """Traced on C-ordered arrays, replayed on Fortran-ordered ones and transposed views: results (and so the
    layouts later steps reduce over) as eager's, since a replay writes into a 2-d buffer only where eager's result
    would be C-contiguous too."""

    def f(a: Any, b: Any) -> Any:
        h = cr.tanh(a * 2.0 + b)
        g = cr.exp(h) * b - h
        return cr.sum(g * g, axis=0), cr.sum(cr.tanh(g), axis=1), h @ b.T

    step = cr.compile(f)
    a, b = RNG.standard_normal((128, 96)), RNG.standard_normal((128, 96))  # 96 KB: buffers taken
    _same(step(a, b), f(a, b))
    for x, y in ((np.asfortranarray(a), b), (a, np.asfortranarray(b)), (a.T.copy().T, b.T.copy().T),
                 (np.asfortranarray(a), np.asfortranarray(b))):
        _same(step(x, y), f(x, y))
    assert sum(len(op[4]) == 3 for op in _program(step).ops) >= 2


def test_a_matmul_writes_into_a_dead_buffer() -> None:
    def f(a: Any, w: Any) -> Any:
        s = cr.exp(a @ w)  # dies with its sum, so its array is free for the next product of its shape
        t = cr.tanh(cr.sum(s, axis=0))
        return t, a @ w.T

    step = _replays(f, lambda: (RNG.standard_normal((96, 96)), RNG.standard_normal((96, 96))))  # 72 KB
    assert sum(op[0] is np.matmul for op in _program(step).ops) == 1  # the second product takes exp's buffer
    a, w = RNG.standard_normal((96, 96)), RNG.standard_normal((96, 96))
    for x, y in ((np.asfortranarray(a), w), (a, np.asfortranarray(w)), (a.T, w.T)):
        _same(step(x, y), f(x, y))


def test_results_of_products_write_into_buffers_without_a_check() -> None:
    """A product's result is C-contiguous at every run whatever its inputs' layouts, and so is an elementwise result
    of such arrays: a step on them writes into a dead buffer without checking layouts at every run; a step reading
    an argument checks it (eager's bits for arguments of other layouts)."""

    def f(a: Any, w: Any) -> Any:
        p = a @ w
        return cr.sum((cr.tanh(p) * p) * a)

    step = _replays(f, lambda: (RNG.standard_normal((96, 96)), RNG.standard_normal((96, 96))))  # 72 KB
    names = [getattr(op[0], "__qualname__", "") for op in _program(step).ops]
    assert "_into_c.<locals>.<lambda>" in names and "_into_c.<locals>.into" in names
    a, w = RNG.standard_normal((96, 96)), RNG.standard_normal((96, 96))
    for x, y in ((np.asfortranarray(a), w), (a, np.asfortranarray(w)), (a.T, w.T)):
        _same(step(x, y), f(x, y))


# ---- fused runs, on a (stand-in) GPU ----------------------------------------------------------------------------
def _grad_of_chain(x: Any) -> Any:
    x = x.detach().requires_grad_()
    y = x
    for _ in range(20):
        y = cr.tanh(y * 0.9 + 0.1)
    (y * y).sum().backward()
    return x.grad


def _kernels(step: Any) -> list[Any]:
    return [op[0] for op in _program(step).ops if isinstance(op[0], fused.Kernel)]


def test_elementwise_runs_fuse_into_kernels_on_the_device(gpu: None) -> None:
    """The chain's forward and backward are runs of elementwise steps: each becomes one kernel (at most FUSED_RUN
    steps), the replays give eager's numbers (the stand-in runs a kernel's body as written), and the host's program
    of the same function has none."""
    step = cr.compile(_grad_of_chain)
    for values in (np.linspace(-1.0, 1.0, 16), RNG.standard_normal(16)):
        x = cr.tensor(values, device="cuda")
        _same(step(x).cpu(), _grad_of_chain(x).cpu())
    kernels = _kernels(step)
    assert len(kernels) == 5 and sum(int(k.name.split("_")[2]) for k in kernels) == 143  # of 145 steps
    before = sum(fused_calls.values())
    step(cr.tensor(np.ones(16), device="cuda"))
    assert sum(fused_calls.values()) - before == len(kernels)  # one launch per kernel, no rule fused besides
    host = cr.compile(_grad_of_chain)
    _same(host(cr.tensor(np.ones(16))), _grad_of_chain(cr.tensor(np.ones(16))))
    assert not _kernels(host) and len(_program(step).ops) < len(_program(host).ops) / 3  # unpacking included


def test_comparisons_fuse_on_the_device_except_with_python_ints(gpu: None) -> None:
    """A comparison is a ufunc step (its complex check ran at the trace), so it joins a fused run, except with a
    Python int, which cupy.fuse's first implementation mis-types in some releases (cupy#10003)."""

    def f(x: Any) -> Any:
        return (x * 2.0 + 1.0) * (x > 0.5), (x * 3.0) * (x >= 1)

    step = cr.compile(f)
    for values in (np.linspace(-1.0, 2.0, 16), RNG.standard_normal(16)):
        x = cr.tensor(values, device="cuda")
        _same([r.cpu() for r in step(x)], [r.cpu() for r in f(x)])
    assert [int(k.name.split("_")[2]) for k in _kernels(step)] == [5]  # up to x * 3.0; then x >= 1 ends the run
    assert sum(op[0] is np.greater_equal for op in _program(step).ops) == 1


def test_a_kernel_that_does_not_give_its_steps_numbers_keeps_to_them() -> None:
    """A provider whose fusion computes something else (off by a little, here): each kernel says so at its first
    call and runs its steps one by one from then on, so the replays still give eager's numbers."""
    off = dataclasses.replace(provider, fuse=lambda body, name: lambda *args: _scaled(body(*args), 1.0001))
    with backend.use_provider(off):
        step = cr.compile(_grad_of_chain)
        x = cr.tensor(np.linspace(-1.0, 1.0, 16), device="cuda")
        with fused.unfused():  # the eager rules on their unfused path, which this provider would get wrong
            expected = _grad_of_chain(x).cpu()
        _same(step(x).cpu(), expected)  # the trace
        with pytest.warns(RuntimeWarning, match="chainrule_compiled_.* other than its body"):
            _same(step(x).cpu(), expected)  # the first replay: each kernel's first call
        assert len(_kernels(step)) == 5
        for _ in range(2):  # no warning again: the signature keeps to the steps
            _same(step(x).cpu(), expected)


def _scaled(results: Any, factor: float) -> Any:
    return tuple(r * factor for r in results) if isinstance(results, tuple) else results * factor


def test_fused_results_are_checked_up_to_rounding(gpu: None) -> None:
    xp = provider.xp
    traced = xp.asarray(np.array([1.0, -2.0, np.inf, np.nan], dtype=np.float32))
    nudged = xp.asarray(np.array([1.0 + 2**-22, -2.0, np.inf, np.nan], dtype=np.float32))
    assert fused.agrees(nudged, traced)
    for wrong in ([1.001, -2.0, np.inf, np.nan], [1.0, -2.0, -np.inf, np.nan], [1.0, -2.0, np.inf, 0.0]):
        assert not fused.agrees(xp.asarray(np.array(wrong, dtype=np.float32)), traced)
    assert not fused.agrees(xp.asarray(np.array([1.0, -2.0, np.inf, np.nan])), traced)  # float64
    assert not fused.agrees(traced[:2], traced[2:])  # a value off, at the same shape
    assert fused.agrees(xp.asarray(np.arange(3)), xp.asarray(np.arange(3)))
    z = xp.asarray(np.array([complex(np.inf, np.nan), 1 + 1j]))  # both NaN and infinite: a NaN
    assert fused.agrees(z.copy(), z)
    # a multiply-add contracted into one rounding, on an answer that cancels: rounding of the product, not an error
    a = np.float32([3.1, 2.9])
    product = a * a
    assert fused.agrees(xp.asarray(np.float32([2**-20, 0.0])), xp.asarray(a * a - product), scale=float(product.max()))


def test_a_fused_run_lets_go_of_its_values_after_their_last_use(gpu: None) -> None:
    """Where a kernel's body runs as written (its first call; the stand-in always), each value is let go after its
    last use, as the unfused steps were: no more held at once than eager holds."""
    import tracemalloc

    def chain(x: Any) -> Any:
        for _ in range(30):
            x = x * 0.99 + 0.01
        return x

    x = cr.tensor(np.ones(1 << 18), device="cuda")  # 2 MB
    step = cr.compile(chain)
    step(x)
    step(x)
    peaks = []
    for f in (chain, step):
        tracemalloc.start()
        f(x)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0]


def test_unfused_reaches_the_kernels_of_compiled_programs(gpu: None) -> None:
    step = cr.compile(lambda x: cr.tanh(x * 2.0 + 1.0))
    x = cr.tensor(np.ones(4), device="cuda")
    step(x)
    step(x)
    with fused.unfused():
        _, calls = _calls_in(lambda: step(x))
    assert not calls
    _, calls = _calls_in(lambda: step(x))
    assert calls


def _calls_in(during: Any) -> tuple[Any, dict[str, int]]:
    before = fused_calls.copy()
    out = during()
    return out, dict(fused_calls - before)


# ---- a parameter's update as one BLAS axpy ----------------------------------------------------------------------
def _sgd_run(shape: tuple[int, ...], dtype: Any, calls: int = 4, relayout: bool = False) -> tuple[Any, list[Any]]:
    """A compiled SGD step on a weight of ``shape``; each call's weight before it, its gradient and the weight after."""
    x = RNG.standard_normal((8, shape[1])).astype(dtype)
    w = cr.tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)
    opt = cr.optim.SGD([w], lr=0.1)

    @cr.compile
    def step() -> None:
        opt.zero_grad()
        cr.sum(cr.tanh(x @ w.T)).backward()
        opt.step()

    seen = []
    for i in range(calls):
        if relayout and i == calls - 1:  # another layout, set between calls: the same signature, no new trace
            w.data = np.asfortranarray(w.data)
        before = w.data.copy()
        step()
        seen.append((before, w.grad.data.copy(), w.data.copy(), w.data))
    return step, seen


def _axpy_steps(step: Any) -> int:
    return sum(type(op[0]) is compile_passes._Axpy for op in _program_of(step).ops)


def _program_of(step: Any) -> Program:
    return list(step.flat.values())[-1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_update_is_one_axpy_within_an_ulp_of_the_exact_step(dtype: Any) -> None:
    """w - lr * g of a weight of AXPY_BYTES or more is one BLAS axpy written into w's own array: one rounding
    (a fused multiply-add), so within an ulp of the exact update where eager's two roundings may differ by one more."""
    shape = (blas.AXPY_BYTES // np.dtype(dtype).itemsize // 64, 64)
    step, seen = _sgd_run(shape, dtype)
    assert _axpy_steps(step) == 1 and step.traces == 2
    lr = np.array(0.1, dtype)
    for before, g, after, _ in seen[2:]:  # (the first call runs as written, the second traces: eager's numbers)
        exact = before.astype(np.longdouble) - lr.astype(np.longdouble) * g  # (64 bits of mantissa)
        ulp = np.spacing(np.maximum(np.abs(before), np.abs(lr * g))).astype(np.longdouble)
        assert np.all(np.abs(after - exact) <= ulp)
        assert np.all(np.abs(after - (before - lr * g)) <= 2 * ulp)
    assert seen[-1][3] is seen[1][3]  # the same array, updated in place


def test_small_updates_and_layouts_blas_cannot_take_keep_eager_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below AXPY_BYTES, without SciPy, and for a weight of another layout at replay: eager's two ufuncs, bit for
    bit."""
    lr = np.float32(0.1)

    def exact_eager(seen: list[Any]) -> None:
        for before, g, after, _ in seen:
            _same(after, before - lr * g)

    step, seen = _sgd_run((4, 64), np.float32)
    assert _axpy_steps(step) == 0
    exact_eager(seen)
    step, seen = _sgd_run((64, 256), np.float32, relayout=True)
    assert _axpy_steps(step) == 1 and step.traces == 2
    exact_eager(seen[-1:])
    monkeypatch.setattr(blas, "_blas", lambda: None)
    step, seen = _sgd_run((64, 256), np.float32)
    assert _axpy_steps(step) == 0
    exact_eager(seen)


def test_an_update_by_a_computed_step_size_keeps_eager_bits() -> None:
    """Adam's update of a large weight is by its bias-corrected rate, which the program computes: no axpy, so the
    compiled training gives eager's bits."""
    x = RNG.standard_normal((8, 256)).astype(np.float32)
    start = RNG.standard_normal((64, 256)).astype(np.float32)
    weights = []
    for compiled in (False, True):
        w = cr.tensor(start.copy(), requires_grad=True)
        opt = cr.optim.Adam([w], lr=0.01)

        def step(w: Any = w, opt: Any = opt) -> None:
            opt.zero_grad()
            cr.sum(cr.tanh(x @ w.T)).backward()
            opt.step()

        run = cr.compile(step) if compiled else step
        for _ in range(4):
            run()
        weights.append(w.data.copy())
    _same(weights[1], weights[0])
    assert _axpy_steps(run) == 0


def test_an_update_whose_parts_are_read_elsewhere_or_come_from_outside_is_left() -> None:
    """No axpy where the scaled step escapes (returned), or where the update is not into the tensor's own array
    (a second update of w in one call: the first one's result is a new array)."""
    w0 = RNG.standard_normal((64, 256)).astype(np.float32)
    x = RNG.standard_normal((64, 256)).astype(np.float32)

    def returned(w: Any, x: Any) -> Any:
        with cr.no_grad():
            u = 0.5 * (x * 2.0)
            w -= u
        return u

    def from_outside(w: Any, x: Any) -> Any:
        with cr.no_grad():
            w -= 0.5 * w.detach()
            w -= 0.25 * x

    for fn in (returned, from_outside):
        results = []
        for compiled in (False, True):
            w = cr.tensor(w0.copy(), requires_grad=True)
            run = cr.compile(lambda x, w=w: fn(w, x)) if compiled else (lambda x, w=w: fn(w, x))
            out = [run(x + i) for i in range(3)]
            results.append((out, w.data.copy()))
        _same(results[1], results[0])
        assert _axpy_steps(run) == 0


# ---- cross-entropy's exponentials kept for its rule; forwards as the calls they make ----------------------------
def _bound(f: Any) -> Any:
    while type(f) is functools.partial:
        f = f.func
    return f


def _names(step: Any) -> list[str]:
    return [getattr(_bound(op[0]), "__name__", type(op[0]).__name__) for op in _program_of(step).ops]


@pytest.mark.parametrize("shape,axis,reduction,target_dtype", [
    ((16, 5), 1, "mean", np.intp), ((16, 5), -1, "sum", np.intp), ((16, 5), 1, "none", np.uint8),
    ((4, 3, 6), 1, "none", np.intp), ((5,), 0, "mean", np.intp)])
def test_cross_entropy_keeps_its_exponentials_for_its_rule(shape: tuple[int, ...], axis: int, reduction: str,
                                                           target_dtype: Any) -> None:
    """softmax_cross_entropy's forward keeps its exponentials, sums and target positions for its rule, which scales
    them in place: eager's loss and gradient bit for bit, over replays (one of them overflowing, shifted by the max),
    and no replay's gradient is another's array."""
    from chainrule.ops.reduce import softmax_cross_entropy

    classes = shape[axis]
    target_shape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    weights = RNG.standard_normal(target_shape) if reduction == "none" else None

    def f(x: Any, y: Any) -> Any:
        loss = softmax_cross_entropy(x, y, axis=axis, reduction=reduction)
        return cr.sum(loss * weights) if weights is not None else loss * 1.5

    def make() -> tuple[Any, Any]:
        return RNG.standard_normal(shape) * 3, RNG.integers(0, classes, target_shape).astype(target_dtype)

    step = cr.compile(cr.value_and_grad(f))
    held = []
    for i in range(4):
        x, y = make()
        if i == 3:
            x[(0,) * len(shape)] = 900.0  # exp(x - x_y) overflows: the max is the shift, in both forms
        got = step(x, y)
        _same(got, cr.value_and_grad(f)(x, y))
        held.append((got[1], got[1].copy()))
    assert step.traces == 1
    names = _names(step)
    if len(shape) > 1:  # (one example's loss is a NumPy scalar, made an array by a wrapper step: left as it is)
        # a batch (N, C): the step made for its shapes; others: the general forward, keeping
        specialized = len(shape) == 2 and target_dtype is np.intp
        assert ("rule" if reduction != "none" else "_rule_from_kept") in names
        assert ("keeping" if specialized else "_losses_keeping") in names
        assert "_softmax_cross_entropy" not in names and "_array_rule" not in names
    for a, copy in held:  # each gradient its own array, untouched by later replays
        assert a.tobytes() == copy.tobytes()
    assert len({id(a) for a, _ in held}) == len(held)


def test_a_cross_entropy_read_by_two_rules_keeps_nothing() -> None:
    """Two backward sweeps through one loss (retain_graph): two rule steps, each recomputing (a kept array is
    written into by the rule that takes it)."""
    from chainrule.ops.reduce import softmax_cross_entropy

    w0 = RNG.standard_normal((6, 4))
    x = RNG.standard_normal((8, 6))
    y = RNG.integers(0, 4, 8)

    def step(w: Any) -> Any:
        w = cr.tensor(w, requires_grad=True)
        loss = softmax_cross_entropy(x @ w, y, reduction="mean")
        loss.backward(retain_graph=True)
        first = w.grad.detach() * 1.0
        (loss * 2.0).backward()
        return first, w.grad.detach()

    compiled = cr.compile(step)
    for i in range(3):
        _same(compiled(w0 + i), step(w0 + i))
    assert "_losses_keeping" not in _names(compiled) and _names(compiled).count("_array_rule") == 2


def test_transposes_small_relus_and_linear_layers_replay_as_the_calls_they_make() -> None:
    """A transpose as the array's own view, relu of an array below its rows of 8192 as a maximum against a row of
    zeros (a constant), a linear layer adding its bias in place without its check: eager's bits; a larger relu
    keeps its own forward, and a bias of a wider dtype than the product (added out of place) the layer's."""
    for n, relu_steps in ((64, 0), (512, 1)):  # 64 x 64 floats: a maximum step; 512 x 512: relu's rows
        a = RNG.standard_normal((n, n)) / n

        def f(x: Any, a: Any = a) -> Any:
            return cr.sum(F.relu(x @ a.T) ** 2)

        step = _replays(cr.grad(f), lambda n=n: (RNG.standard_normal((n, n)),))
        names = _names(step)
        assert names.count("_relu") == relu_steps
        assert not [op for op in _program_of(step).ops if _bound(op[0]) is shape_ops.transpose.forward]
        assert (names.count("maximum") == 1) == (relu_steps == 0)
    w = RNG.standard_normal((3, 4)).astype(np.float32)
    for bias, in_place in ((np.ones(3, np.float32), True), (np.ones(3), False)):
        step = _replays(lambda x, bias=bias: F.linear(x, w, bias),
                        lambda: (RNG.standard_normal((5, 4)).astype(np.float32),))
        assert ("_biased_product" in _names(step)) == in_place
