"""The hot path: 200 layers of tanh(x * 0.9 + 0.1) on 16 float64 values, forward then backward of the sum.

chainrule's engine against the same computation written by hand in NumPy (a forward loop keeping each layer's
output, then a backward loop), in one process, single-threaded; medians of many runs, and their ratio.

    python bench/chain.py [--repeats 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import chainrule as cr

LAYERS = 200
OPS = 3 * LAYERS + 1  # multiply, add, tanh per layer, then the sum


def by_chainrule(x0: np.ndarray, layers: int = LAYERS) -> np.ndarray:
    x = cr.tensor(x0, requires_grad=True)
    y = x
    for _ in range(layers):
        y = cr.tanh(y * 0.9 + 0.1)
    y.sum().backward()
    return x.grad.data


def by_hand(x0: np.ndarray, layers: int = LAYERS) -> np.ndarray:
    ys = []
    y = x0
    for _ in range(layers):
        y = np.tanh(y * 0.9 + 0.1)
        ys.append(y)
    g = np.ones_like(x0)
    for y in reversed(ys):
        g = g * (1 - y * y) * 0.9
    return g


def median_seconds(fn, x0: np.ndarray, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    x0 = np.random.default_rng(0).standard_normal(16)
    np.testing.assert_allclose(by_chainrule(x0), by_hand(x0), rtol=1e-12)
    for fn in (by_chainrule, by_hand):  # warm up
        median_seconds(fn, x0, 10)
    # interleave the two so background load hits both alike
    engine, hand = [], []
    for _ in range(5):
        engine.append(median_seconds(by_chainrule, x0, args.repeats // 5))
        hand.append(median_seconds(by_hand, x0, args.repeats // 5))
    t_engine, t_hand = statistics.median(engine), statistics.median(hand)
    print(f"chain of {LAYERS} layers x 3 ops on 16 float64 values, forward + backward ({OPS} ops)")
    print(f"  chainrule   : {t_engine * 1e3:8.3f} ms   {t_engine / OPS * 1e6:6.2f} us per op")
    print(f"  NumPy, hand : {t_hand * 1e3:8.3f} ms   {t_hand / OPS * 1e6:6.2f} us per op")
    print(f"  ratio       : {t_engine / t_hand:6.2f}x")


if __name__ == "__main__":
    main()
