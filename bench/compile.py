"""cr.compile against eager execution: chain.py's workload (200 layers of tanh(x * 0.9 + 0.1) on 16 float64 values,
forward and backward by cr.grad, and by loss.backward() as chain.py runs it, and by PyTorch), a functional MLP
loss-and-gradient step (128x64 -> 256 -> 10, float32), hessian.py's dense Hessian (64x64 of sum(tanh(A x))),
mlp.py's SGD step (128x64 -> 256 -> 256 -> 10, against PyTorch's eager step), mlp_big's loss and gradient
(256x784 -> 1024 -> 1024 -> 10, against its matrix products alone, the BLAS floor), and an elementwise gradient on
64 MB arrays (past the allocator's reuse: each fresh array costs page faults, which the memory plan saves). "raw" is
cr.compile with its passes (chainrule/compile_passes.py) switched off while tracing.

Eager, compiled and the references, interleaved in one process, single-threaded; medians. PyTorch's rows need torch.

    python bench/compile.py [--repeats 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
import hessian
import mlp
from chain import LAYERS, OPS, by_chainrule, by_hand
from chainrule import compile_passes


def chain_loss(x: Any) -> Any:
    for _ in range(LAYERS):
        x = cr.tanh(x * 0.9 + 0.1)
    return cr.sum(x)


def mlp_loss(params: dict[str, Any], x: Any, onehot: Any) -> Any:
    h = F.relu(x @ params["w1"] + params["b1"])
    return -cr.mean(cr.sum(onehot * F.log_softmax(h @ params["w2"] + params["b2"], dim=-1), axis=-1))


def layers_loss(layers: list[tuple[Any, Any]], x: Any, onehot: Any) -> Any:
    """bench/mlp.py's network (PyTorch's layout, relu between layers), with one-hot targets (a trace refuses integer
    labels: cross_entropy reads them on the host)."""
    for i, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if i < len(layers) - 1:
            x = F.relu(x)
    return -cr.mean(cr.sum(onehot * F.log_softmax(x, dim=-1), axis=-1))


def sgd_step(layers: list[tuple[Any, Any]], x: Any, onehot: Any) -> Any:
    """mlp.py's training step, functional: the loss and the layers after one SGD update."""
    loss, grads = cr.value_and_grad(layers_loss)(layers, x, onehot)
    return loss, [(w - mlp.LR * gw, b - mlp.LR * gb) for (w, b), (gw, gb) in zip(layers, grads)]


def torch_chain(x0: np.ndarray) -> Any:
    import torch

    x = torch.tensor(x0, requires_grad=True)
    y = x
    for _ in range(LAYERS):
        y = torch.tanh(y * 0.9 + 0.1)
    y.sum().backward()
    return x.grad


def raw(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn`` compiled and traced on ``args`` with the passes off: the program as recorded."""
    compiled, optimize = cr.compile(fn), compile_passes.optimize
    compile_passes.optimize = lambda program, values: None
    try:
        compiled(*args)
    finally:
        compile_passes.optimize = optimize
    return compiled


def median_seconds(step: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(steps: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Medians over 5 rounds, each running every step ``repeats // 5`` times, so background load hits all alike."""
    for step in steps.values():
        median_seconds(step, 10)  # warm up (and trace)
    rounds: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(5):
        for name, step in steps.items():
            rounds[name].append(median_seconds(step, max(repeats // 5, 1)))
    return {name: statistics.median(times) for name, times in rounds.items()}


def report(title: str, t: dict[str, float], base: str, unit: str) -> None:
    print(title)
    for name in t:
        print(f"  {name:9}: {t[name] * 1e3:8.3f} ms   {t[name] / t[base]:5.2f}x {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None

    x0 = np.random.default_rng(0).standard_normal(16)
    eager, compiled = cr.grad(chain_loss), cr.compile(cr.grad(chain_loss))
    assert np.array_equal(eager(x0), compiled(x0))  # bit for bit
    np.testing.assert_allclose(compiled(x0), by_hand(x0), rtol=1e-12)
    unoptimized = raw(cr.grad(chain_loss), x0)
    steps = {"eager": lambda: eager(x0), "backward": lambda: by_chainrule(x0), "compiled": lambda: compiled(x0),
             "raw": lambda: unoptimized(x0), "hand": lambda: by_hand(x0)}
    if torch is not None:
        steps["torch"] = lambda: torch_chain(x0)
    t = interleaved(steps, args.repeats)
    print(f"chain of {LAYERS} layers x 3 ops on 16 float64 values, forward + backward ({OPS} ops): by cr.grad "
          "(eager, compiled), by loss.backward() (chain.py's eager), by PyTorch")
    for name in t:
        print(f"  {name:9}: {t[name] * 1e3:8.3f} ms   {t[name] / OPS * 1e6:6.2f} us per op   "
              f"{t[name] / t['hand']:5.2f}x hand-written NumPy")
    if torch is not None:
        print(f"  compiled is {t['torch'] / t['compiled']:.2f}x faster than PyTorch eager")

    rng = np.random.default_rng(1)
    params = {"w1": (rng.standard_normal((64, 256)) * 0.1).astype(np.float32), "b1": np.zeros(256, np.float32),
              "w2": (rng.standard_normal((256, 10)) * 0.1).astype(np.float32), "b2": np.zeros(10, np.float32)}
    x = rng.standard_normal((128, 64)).astype(np.float32)
    onehot = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    eager_mlp, compiled_mlp = cr.value_and_grad(mlp_loss), cr.compile(cr.value_and_grad(mlp_loss))
    raw_mlp = raw(eager_mlp, params, x, onehot)
    t = interleaved({"eager": lambda: eager_mlp(params, x, onehot), "compiled": lambda: compiled_mlp(params, x, onehot),
                     "raw": lambda: raw_mlp(params, x, onehot)}, max(args.repeats // 3, 5))
    report("mlp loss and gradient 128x64 -> 256 -> 10, float32 (functional: params in, grads out)", t, "eager",
           "eager")

    eager_h, compiled_h = cr.hessian(hessian.f), cr.compile(cr.hessian(hessian.f))
    assert np.array_equal(eager_h(hessian.X), compiled_h(hessian.X))
    raw_h = raw(eager_h, hessian.X)
    t = interleaved({"eager": lambda: eager_h(hessian.X), "compiled": lambda: compiled_h(hessian.X),
                     "raw": lambda: raw_h(hessian.X), "closed": lambda: hessian.closed_form(hessian.X)}, args.repeats)
    report(f"dense Hessian {hessian.N}x{hessian.N} of sum(tanh(A @ x)) (closed: A^T diag(...) A in NumPy)", t,
           "closed", "the closed form")

    mlp_rows("mlp", 128, [64, 256, 256, 10], max(args.repeats // 3, 5), torch is not None)
    mlp_rows("mlp_big", 256, [784, 1024, 1024, 10], max(args.repeats // 30, 5), torch is not None)

    big = np.random.default_rng(2).standard_normal(1 << 24).astype(np.float32)
    eager_big = cr.grad(lambda x: cr.sum(cr.tanh(x * 0.9 + 0.1) ** 2))
    compiled_big, raw_big = cr.compile(eager_big), raw(eager_big, big)
    assert np.array_equal(compiled_big(big), eager_big(big))
    t = interleaved({"eager": lambda: eager_big(big), "compiled": lambda: compiled_big(big),
                     "raw": lambda: raw_big(big)}, max(args.repeats // 30, 5))
    report("gradient of sum(tanh(x * 0.9 + 0.1) ** 2) on 2^24 float32 values (64 MB arrays)", t, "raw",
           "without the passes")


def mlp_rows(name: str, batch: int, sizes: list[int], repeats: int, with_torch: bool) -> None:
    """mlp.py's workload: SGD steps (eager, compiled, PyTorch's), the loss and gradient alone, the BLAS floor."""
    layers, x, labels = mlp.data(batch, sizes)
    onehot = np.eye(sizes[-1], dtype=np.float32)[labels]
    compiled_step = cr.compile(sgd_step)
    eager_out, compiled_out = sgd_step(layers, x, onehot), compiled_step(layers, x, onehot)
    assert all(np.array_equal(a, b) for a, b in zip(cr.tree_util.tree_flatten(eager_out)[0],
                                                    cr.tree_util.tree_flatten(compiled_out)[0]))
    state = {"eager": layers, "compiled": layers}  # each training on from its own last step

    def training(which: str, step: Callable[..., Any]) -> Callable[[], None]:
        def run() -> None:
            state[which] = step(state[which], x, onehot)[1]
        return run

    grad, compiled_grad = cr.value_and_grad(layers_loss), cr.compile(cr.value_and_grad(layers_loss))
    steps = {"eager": training("eager", sgd_step), "compiled": training("compiled", compiled_step),
             "grad": lambda: grad(layers, x, onehot), "cgrad": lambda: compiled_grad(layers, x, onehot),
             "blas": mlp.matmuls_by_hand(batch, sizes)}
    if with_torch:
        steps["torch"] = mlp.torch_step(batch, sizes)
    t = interleaved(steps, repeats)
    print(f"{name} {batch}x{' -> '.join(map(str, sizes))}, float32: an SGD step (eager, compiled, torch), loss and "
          "gradient alone (grad, cgrad: compiled), the step's matrix products alone (blas)")
    for row in t:
        vs = f"{t[row] / t['torch']:5.2f}x PyTorch eager's step" if with_torch else ""
        print(f"  {row:9}: {t[row] * 1e3:8.3f} ms   {t[row] / t['blas']:5.2f}x the BLAS floor   {vs}")

if __name__ == "__main__":
    main()
