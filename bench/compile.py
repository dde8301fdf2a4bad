"""cr.compile against eager execution: chain.py's workload (200 layers of tanh(x * 0.9 + 0.1) on 16 float64 values,
forward and backward by cr.grad, and by loss.backward() as chain.py runs it), and a functional MLP
loss-and-gradient step (128x64 -> 256 -> 10, float32).

Eager, compiled and (for the chain) hand-written NumPy, interleaved in one process, single-threaded; medians.

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
from chain import LAYERS, OPS, by_chainrule, by_hand


def chain_loss(x: Any) -> Any:
    for _ in range(LAYERS):
        x = cr.tanh(x * 0.9 + 0.1)
    return cr.sum(x)


def mlp_loss(params: dict[str, Any], x: Any, onehot: Any) -> Any:
    h = F.relu(x @ params["w1"] + params["b1"])
    return -cr.mean(cr.sum(onehot * F.log_softmax(h @ params["w2"] + params["b2"], dim=-1), axis=-1))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()

    x0 = np.random.default_rng(0).standard_normal(16)
    eager, compiled = cr.grad(chain_loss), cr.compile(cr.grad(chain_loss))
    assert np.array_equal(eager(x0), compiled(x0))  # bit for bit
    np.testing.assert_allclose(compiled(x0), by_hand(x0), rtol=1e-12)
    t = interleaved({"eager": lambda: eager(x0), "backward": lambda: by_chainrule(x0),
                     "compiled": lambda: compiled(x0), "hand": lambda: by_hand(x0)}, args.repeats)
    print(f"chain of {LAYERS} layers x 3 ops on 16 float64 values, forward + backward ({OPS} ops): by cr.grad "
          "(eager, compiled), by loss.backward() (chain.py's eager)")
    for name in t:
        print(f"  {name:9}: {t[name] * 1e3:8.3f} ms   {t[name] / OPS * 1e6:6.2f} us per op   "
              f"{t[name] / t['hand']:5.2f}x hand-written NumPy")

    rng = np.random.default_rng(1)
    params = {"w1": (rng.standard_normal((64, 256)) * 0.1).astype(np.float32), "b1": np.zeros(256, np.float32),
              "w2": (rng.standard_normal((256, 10)) * 0.1).astype(np.float32), "b2": np.zeros(10, np.float32)}
    x = rng.standard_normal((128, 64)).astype(np.float32)
    onehot = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    eager_mlp, compiled_mlp = cr.value_and_grad(mlp_loss), cr.compile(cr.value_and_grad(mlp_loss))
    t = interleaved({"eager": lambda: eager_mlp(params, x, onehot),
                     "compiled": lambda: compiled_mlp(params, x, onehot)}, max(args.repeats // 3, 5))
    print("mlp loss and gradient 128x64 -> 256 -> 10, float32 (functional: params in, grads out)")
    for name in t:
        print(f"  {name:9}: {t[name] * 1e3:8.3f} ms   {t[name] / t['eager']:5.2f}x eager")


if __name__ == "__main__":
    main()
