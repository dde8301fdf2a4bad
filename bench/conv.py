"""Convolution benchmark: two 3x3 conv layers (1 -> 16 -> 32 channels, padding 1) + relu + mean, forward and
backward, on a batch of 32 28x28 float32 images, single-threaded; chainrule against torch.nn.functional.conv2d.

    python bench/conv.py [--steps 200]

Each step computes the loss and the gradients of the four parameters. The two libraries alternate step by step (so
background load hits both alike) and each reports its median and best wall-clock step time, and its median CPU time
(the thread's own time, which another process on a shared machine does not inflate); the ratio is of the medians.
torch is optional (the ``bench`` extra: ``pip install 'chainrule[bench]'``).
"""

from __future__ import annotations

import os

# single-threaded BLAS, for both libraries; set before NumPy (and torch) load their BLAS
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402

BATCH, SIZE = 32, 28


def _data(batch: int = BATCH, size: int = SIZE) -> list[np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal((batch, 1, size, size)).astype(np.float32),
            (rng.standard_normal((16, 1, 3, 3)) / 3).astype(np.float32), np.zeros(16, np.float32),
            (rng.standard_normal((32, 16, 3, 3)) / 12).astype(np.float32), np.zeros(32, np.float32)]


def chainrule_step(device: str = "cpu", batch: int = BATCH, size: int = SIZE) -> Callable[[], Any]:
    x, *weights = (cr.tensor(a, device=device) for a in _data(batch, size))
    params = [w.requires_grad_() for w in weights]
    w1, b1, w2, b2 = params

    def step() -> float:
        h = cr.relu(F.conv2d(x, w1, b1, padding=1))
        loss = cr.relu(F.conv2d(h, w2, b2, padding=1)).mean()
        for p in params:
            p.grad = None
        loss.backward()
        return loss.detach()  # not float(): a value of the step, which cr.compile can return

    return step


def torch_step(device: str = "cpu", batch: int = BATCH, size: int = SIZE) -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    x, *weights = (torch.from_numpy(a).to(device) for a in _data(batch, size))
    params = [w.requires_grad_() for w in weights]
    w1, b1, w2, b2 = params
    tf = torch.nn.functional

    def step() -> float:
        h = tf.relu(tf.conv2d(x, w1, b1, padding=1))
        loss = tf.relu(tf.conv2d(h, w2, b2, padding=1)).mean()
        for p in params:
            p.grad = None
        loss.backward()
        return float(loss.detach()) if hasattr(loss, "detach") else float(loss)

    return step


def _timed(step: Callable[[], Any], times: list[float], cpu: list[float]) -> float:
    start, start_cpu = time.perf_counter(), time.thread_time()
    value = step()
    times.append(time.perf_counter() - start)
    cpu.append(time.thread_time() - start_cpu)
    return float(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per library (default 200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (default 10)")
    args = parser.parse_args()
    ours, theirs = chainrule_step(), torch_step()
    steps = {"chainrule": ours} if theirs is None else {"chainrule": ours, "torch": theirs}
    times: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.warmup):
        for step in steps.values():
            step()
    losses = {}
    for _ in range(args.steps):
        for name, step in steps.items():
            losses[name] = _timed(step, times[name], cpu[name])
    print(f"conv 1->16->32 (3x3, padding 1) + relu + mean, forward + backward, batch {BATCH} of {SIZE}x{SIZE} "
          f"float32, 1 thread, {args.steps} steps")
    for name, ts in times.items():
        print(f"  {name:10s} median {statistics.median(ts) * 1e3:7.2f} ms/step   best {min(ts) * 1e3:7.2f} ms   "
              f"cpu {statistics.median(cpu[name]) * 1e3:7.2f} ms   (loss {losses[name]:.6f})")
    if theirs is None:
        print("  torch is not installed (pip install 'chainrule[bench]'): no ratio")
        return
    ratio = statistics.median(times["chainrule"]) / statistics.median(times["torch"])
    best = min(times["chainrule"]) / min(times["torch"])
    ratio_cpu = statistics.median(cpu["chainrule"]) / statistics.median(cpu["torch"])
    print(f"  ratio chainrule / torch: {ratio:.2f}x (median), {best:.2f}x (best), {ratio_cpu:.2f}x (cpu); "
          "target <= 1.3x, ideally 1.0x (issue 13)")


if __name__ == "__main__":
    main()
