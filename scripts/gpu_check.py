"""GPU check, for a machine with an NVIDIA GPU, CuPy (the ``gpu`` extra) and, for the comparisons, PyTorch with CUDA.

    PYTHONPATH=src python -u scripts/gpu_check.py [--repeats 30] [--unfused] [--fused-shape 4096 1024]
                                                 [--sections 3 4 1 2]

1. Every primitive and sample of the table on "cuda" against the host (value, VJP, JVP, second order), as the test
   suite does on its CuPy stand-in.
2. The digits CNN of ``chainrule demo``, one epoch on the GPU (needs scikit-learn for the data).
3. Side by side with PyTorch CUDA, in one process: an MLP training step 784 -> 1024 -> 1024 -> 10 (float32, Adam) at
   batch 256 and 4096, the two-conv workload of bench/conv.py, and a 200-layer elementwise chain (per-op overhead);
   the MLP step and the chain also through ``cr.compile``.
   Medians of ``--repeats`` timed runs after warm-up, each ended by a device synchronize; a table of ratios.
4. Each fused kernel (chainrule.fused: cupy.fuse) against its unfused path on the same inputs, float32 and float64:
   the largest absolute and relative differences, and the time of each path (a row per kernel and dtype).
   ``--unfused`` runs sections 1-3 with every rule on its unfused path, to compare. A section that fails is
   reported with its traceback and the run goes on. ``--sections`` picks the sections and their order: the first
   call of each CuPy kernel compiles it (NVRTC), so section 1, which meets hundreds of them, takes the longest on a
   fresh machine; with little device time, run the measurements (3 and 4) first.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import backend, fused
from chainrule.nn import functional as F
from chainrule.ops import elementwise as E
from chainrule.ops import reduce as R
from chainrule.primitive import REGISTRY
from chainrule.testing import check_device

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import conv

DEVICE = "cuda"


def check_primitives() -> bool:
    failures, count = [], 0
    for prim in sorted(REGISTRY.values(), key=lambda p: p.name):
        for i, sample in enumerate(prim.samples(np.random.default_rng(0)) if prim.samples else []):
            args = tuple(np.asarray(a) if isinstance(a, np.generic) else a for a in sample.args)
            count += 1
            try:
                check_device(prim, args, sample.kwargs, DEVICE, rtol=1e-8, atol=1e-10)
            except Exception as error:  # report every failure, then go on
                failures.append(f"  {prim.name}[{i}]: {type(error).__name__}: {str(error)[:200]}")
    print(f"1. primitives on {DEVICE}: {count - len(failures)} of {count} samples agree with the host")
    print("\n".join(failures))
    return not failures


def train_digits() -> bool:
    try:
        (x_train, y_train), (x_test, y_test) = cr.data.load_digits(seed=0)
    except ImportError as error:
        print(f"2. digits CNN: skipped ({error})")
        return True
    from chainrule.demo import build_model

    cr.random.seed(0)
    model = build_model("cnn").to(DEVICE)
    opt = cr.optim.Adam(model.parameters(), lr=0.003)
    start = time.perf_counter()
    for xb, yb in cr.data.DataLoader((x_train, y_train), batch_size=32, shuffle=True, seed=0):
        loss = F.cross_entropy(model(xb.to(DEVICE)), yb.to(DEVICE))
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - start
    with cr.no_grad():
        predicted = model(cr.tensor(x_test, device=DEVICE)).argmax(axis=1).cpu().numpy()
    accuracy = float(np.mean(predicted == y_test))
    print(f"2. digits CNN, one epoch on {DEVICE}: {seconds:.1f} s, test accuracy {accuracy:.3f}")
    return accuracy > 0.5


# ---- side by side with PyTorch ------------------------------------------------------------------------------------
def _median_ms(step: Callable[[], Any], sync: Callable[[], None], repeats: int) -> float:
    for _ in range(3):
        step()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def _mlp_chainrule(batch: int) -> Callable[[], Any]:
    cr.random.seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(784, 1024), cr.nn.ReLU(), cr.nn.Linear(1024, 1024), cr.nn.ReLU(),
                             cr.nn.Linear(1024, 10)).to(DEVICE)
    opt = cr.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((batch, 784)).astype(np.float32), device=DEVICE)
    y = cr.tensor(rng.integers(0, 10, batch), device=DEVICE)

    def step() -> Any:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def _mlp_torch(torch: Any, batch: int) -> Callable[[], Any]:
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    model = model.cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 784, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")

    def step() -> Any:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


LAYERS = 200
CHAIN_OPS = 3 * LAYERS + 1  # multiply, add, tanh per layer, then the sum


def _chain(tanh: Callable[[Any], Any], x0: Any) -> Callable[[], Any]:
    """The chain of bench/chain.py, for either library: its ``tanh`` and a starting tensor on the GPU."""

    def step() -> Any:
        x = x0.detach().requires_grad_()
        y = x
        for _ in range(LAYERS):
            y = tanh(y * 0.9 + 0.1)
        y.sum().backward()

    return step


def _chain_chainrule() -> Callable[[], Any]:
    return _chain(cr.tanh, cr.tensor(np.linspace(-1.0, 1.0, 16, dtype=np.float32), device=DEVICE))


def compare_with_torch(repeats: int) -> None:
    try:
        import torch
    except ImportError:
        print("3. comparisons: skipped (PyTorch is not installed)")
        return
    if not torch.cuda.is_available():
        print("3. comparisons: skipped (PyTorch finds no CUDA device)")
        return
    xp = backend.provider("cuda").xp
    sync_cr = xp.cuda.Device().synchronize
    sync_torch = torch.cuda.synchronize
    rows = []
    for batch in (256, 4096):
        theirs = _median_ms(_mlp_torch(torch, batch), sync_torch, repeats)
        for how, wrap in (("", lambda step: step), (", compiled", cr.compile)):
            ours = _median_ms(wrap(_mlp_chainrule(batch)), sync_cr, repeats)
            rows.append((f"MLP step 784-1024-1024-10, batch {batch}{how} (throughput)",
                         f"{batch / ours * 1e3:,.0f} ex/s", f"{batch / theirs * 1e3:,.0f} ex/s", theirs / ours,
                         ">= 0.8x" if batch == 4096 else ""))
    conv_torch = conv.torch_step("cuda")
    assert conv_torch is not None
    ours, theirs = _median_ms(conv.chainrule_step(DEVICE), sync_cr, repeats), _median_ms(conv_torch, sync_torch,
                                                                                          repeats)
    rows.append(("two 3x3 convs, batch 32 of 28x28 (time per step)", f"{ours:.2f} ms", f"{theirs:.2f} ms",
                 ours / theirs, "<= 2x"))
    torch_chain = _chain(torch.tanh, torch.linspace(-1.0, 1.0, 16, device="cuda"))
    theirs = _median_ms(torch_chain, sync_torch, repeats)
    for how, wrap in (("", lambda step: step), (", compiled", cr.compile)):
        ours = _median_ms(wrap(_chain_chainrule()), sync_cr, repeats)
        rows.append((f"elementwise chain, {CHAIN_OPS} ops{how} (per op)", f"{ours / CHAIN_OPS * 1e3:.1f} us",
                     f"{theirs / CHAIN_OPS * 1e3:.1f} us", ours / theirs, "<= 2x"))
    print(f"3. side by side with PyTorch {torch.__version__} on {torch.cuda.get_device_name()}, medians of {repeats}:")
    print(f"  {'workload':55} {'chainrule':>14} {'PyTorch':>14} {'ratio':>7}  target")
    for name, a, b, ratio, target in rows:
        print(f"  {name:55} {a:>14} {b:>14} {ratio:6.2f}x  {target}")
    print("  (ratio: for the MLP our throughput over PyTorch's, higher is better; otherwise our time over PyTorch's, "
          "lower is better)")


# ---- fused kernels against their unfused paths ----------------------------------------------------------------------
def _adam_step(p: Any, g: Any, m: Any, v: Any, *v_max: Any) -> Any:
    """One Adam step (t = 3) of a parameter p with gradient g and moments m, v (device arrays, updated in place);
    AMSGrad's when the running maximum ``v_max`` is given."""
    w = cr.Tensor(p, requires_grad=True)
    opt = cr.optim.Adam([w], lr=1e-3, amsgrad=bool(v_max))
    w.grad = cr.Tensor(g)
    opt.state[w].update(step=opt._counter(2), exp_avg=cr.Tensor(m), exp_avg_sq=cr.Tensor(v))
    if v_max:
        opt.state[w]["max_exp_avg_sq"] = cr.Tensor(v_max[0])
    opt.step()
    state = opt.state[w]  # (the tensors hold copies of the arrays given: compare what the step updated)
    return (w.data, state["exp_avg"].data, state["exp_avg_sq"].data,
            *((state["max_exp_avg_sq"].data,) if v_max else ()))


def _fused_cases(dtype: Any, rows: int, cols: int) -> list[tuple[str, Callable[..., Any], tuple[Any, ...]]]:
    """(name, function of device arrays, host inputs) for every fused kernel, on inputs of ``dtype``."""
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal((rows, cols)).astype(dtype) for _ in range(2))
    cases: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = []
    for prim in (E.tanh, E.sigmoid, E.relu, E.elu, E.leaky_relu):
        cases.append((f"{prim.name} rule", prim.vjps[0], (g, prim.forward(x), x)))
    for prim in (E.sigmoid, E.elu, E.leaky_relu):
        cases.append((f"{prim.name} forward", prim.forward, (x,)))
    logp = R.log_softmax.forward(x, axis=1)
    cases.append(("log_softmax forward", lambda a: R.log_softmax.forward(a, axis=1), (x,)))
    cases.append(("log_softmax rule", lambda *a: R.log_softmax.vjps[0](*a, axis=1), (g, logp, x)))
    target = rng.integers(0, cols, rows)
    loss = R.softmax_cross_entropy.forward(x, target, axis=1, reduction="mean")
    cases.append(("cross-entropy rule", lambda *a: R.softmax_cross_entropy.vjps[0](*a, axis=1, reduction="mean"),
                  (np.ones((), dtype), loss, x, target)))
    cases.append(("Adam update (p, m, v)", _adam_step, (x, g, np.abs(g) * 0.1, g * g * 0.01)))
    cases.append(("AMSGrad update", _adam_step, (x, g, np.abs(g) * 0.1, g * g * 0.01, g * g * 0.011)))
    return cases


def check_fused(repeats: int, rows: int = 4096, cols: int = 1024) -> bool:
    """Every fused kernel against its unfused path on the device: the numbers and the times."""
    sync = backend.provider("cuda").xp.cuda.Device().synchronize
    ok, lines = True, []
    for dtype in (np.float32, np.float64):
        tolerance = 1e-5 if dtype == np.float32 else 1e-12
        for name, fn, inputs in _fused_cases(dtype, rows, cols):
            outs, times = [], []
            try:
                with warnings.catch_warnings(record=True) as fell_back:  # a kernel that differs keeps to its body
                    warnings.simplefilter("always", RuntimeWarning)
                    for context in (contextlib.nullcontext, fused.unfused):
                        with context():
                            args = [backend.to_device(a, DEVICE) for a in inputs]
                            out = fn(*args)
                            outs.append([backend.to_host(o) for o in (out if isinstance(out, tuple) else (out,))])
                            times.append(_median_ms(lambda: fn(*args), sync, repeats))
            except Exception as error:  # report it, then go on with the other kernels
                ok = False
                lines.append(f"  {name:24} {np.dtype(dtype).name:8} FAILED: {type(error).__name__}: {error}"[:300])
                continue
            if fell_back:
                ok = False
                lines.append(f"  {name:24} {np.dtype(dtype).name:8} FELL BACK: {fell_back[0].message!s}"[:300])
                continue
            if any(a.dtype != b.dtype or a.shape != b.shape for a, b in zip(*outs)):
                ok = False
                lines.append(f"  {name:24} {np.dtype(dtype).name:8} FAILED: dtypes or shapes differ: "
                             f"{[(a.dtype, a.shape) for a in outs[0]]} against {[(b.dtype, b.shape) for b in outs[1]]}")
                continue
            gap, rel = 0.0, 0.0
            for a, b in zip(*outs):
                scale = max(float(np.max(np.abs(b))), float(np.finfo(dtype).tiny))  # gaps below eps * scale: rounding
                gap = max(gap, float(np.max(np.abs(a - b))))
                rel = max(rel, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), np.finfo(dtype).eps * scale))))
                ok = ok and np.allclose(a, b, rtol=tolerance, atol=tolerance * scale)
            lines.append(f"  {name:24} {np.dtype(dtype).name:8} {gap:10.2e} {rel:10.2e} {times[0]:9.3f} {times[1]:9.3f}"
                         f" {times[1] / times[0]:7.2f}x")
    print(f"4. fused kernels against their unfused paths, ({rows}, {cols}) inputs, medians of {repeats}:")
    print(f"  {'kernel':24} {'dtype':8} {'max abs':>10} {'max rel':>10} {'fused ms':>9} {'unfused':>9} {'speedup':>8}")
    print("\n".join(lines))
    return ok


def _section(check: Callable[..., Any], *args: Any) -> bool:
    """``check(*args)``, an exception reported (with its traceback) rather than ending the run: False then."""
    try:
        return check(*args) is not False
    except Exception:
        print(f"{check.__name__} failed:")
        traceback.print_exc(file=sys.stdout)
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--unfused", action="store_true", help="sections 1-3 without the fused kernels")
    parser.add_argument("--fused-shape", type=int, nargs=2, default=(4096, 1024), metavar=("ROWS", "COLS"),
                        help="the inputs' shape in section 4")
    parser.add_argument("--sections", type=int, nargs="+", choices=(1, 2, 3, 4), default=(1, 2, 3, 4),
                        help="the sections to run, in this order (default 1 2 3 4)")
    args = parser.parse_args(argv)
    if not cr.cuda.is_available():
        print("gpu_check: no usable GPU here (CuPy and an NVIDIA GPU are needed: pip install 'chainrule[gpu]')")
        return 2
    sections: dict[int, tuple[Callable[..., Any], tuple[Any, ...]]] = {
        1: (check_primitives, ()), 2: (train_digits, ()), 3: (compare_with_torch, (args.repeats,)),
        4: (check_fused, (args.repeats, *args.fused_shape))}
    ok = True
    for number in args.sections:
        check, check_args = sections[number]
        # --unfused is for sections 1-3; section 4 compares the two paths itself
        with fused.unfused() if args.unfused and number != 4 else contextlib.nullcontext():
            passed = _section(check, *check_args)
        ok = (passed or number == 3) and ok  # section 3 measures: its figures are reported, not judged
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
