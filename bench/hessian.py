"""Dense Hessian of f(x) = sum(tanh(A @ x)), x in R^64: chainrule's hessian (forward over reverse) against the
closed form A^T diag(-2 tanh(z) (1 - tanh(z)^2)) A written in NumPy; and a JVP through the 200-layer chain of
bench/chain.py against its reverse-mode gradient. Single-threaded; medians of many runs.

    python bench/hessian.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import chainrule as cr

N = 64
RNG = np.random.default_rng(0)
A = RNG.standard_normal((N, N)) / np.sqrt(N)
X = RNG.standard_normal(N)


def f(x: Any) -> Any:
    return cr.tanh(A @ x).sum()


def closed_form(x: np.ndarray) -> np.ndarray:
    t = np.tanh(A @ x)
    return (A.T * (-2 * t * (1 - t * t))) @ A


def chain(x: Any) -> Any:
    for _ in range(200):
        x = cr.tanh(x * 0.9 + 0.1)
    return x


def median_seconds(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    hessian = cr.hessian(f)
    error = float(np.abs(hessian(X) - closed_form(X)).max())
    t_ad = median_seconds(lambda: hessian(X), repeats)
    t_closed = median_seconds(lambda: closed_form(X), repeats * 10)
    print(f"Hessian of sum(tanh(A @ x)), x in R^{N}, forward over reverse")
    print(f"  chainrule   : {t_ad * 1e3:8.3f} ms   (max |error| vs closed form {error:.2e})")
    print(f"  closed form : {t_closed * 1e3:8.3f} ms   (NumPy)")

    x16 = RNG.standard_normal(16)
    u = np.ones(16)
    grad = cr.grad(lambda x: chain(x).sum())
    t_jvp = median_seconds(lambda: cr.jvp(chain, (x16,), (u,)), repeats * 5)
    t_grad = median_seconds(lambda: grad(x16), repeats * 5)
    print("200-layer chain of tanh(x * 0.9 + 0.1) on 16 values")
    print(f"  jvp (forward mode)  : {t_jvp * 1e3:8.3f} ms")
    print(f"  grad (reverse mode) : {t_grad * 1e3:8.3f} ms   jvp / grad = {t_jvp / t_grad:.2f}")


if __name__ == "__main__":
    main()
