"""Per-example gradients of a 2-layer MLP (784 -> 128 -> 10 by default, relu, cross-entropy; batch 64, float32) by
``vmap(grad(loss))``, against one ordinary batched gradient of the summed loss; torch.func's two side by side.

One process, single-threaded; medians of many runs, interleaved so background load hits both alike. The
per-example gradients are checked against a loop of single-example gradients, and their sum against the batched one.

    python bench/per_example.py [--repeats 200] [--sizes 784 128 10] [--batch 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np

import chainrule as cr
from hessian import median_seconds  # (bench/ is the script's folder)


def loss(lib: Any) -> Callable[..., Any]:
    """The summed cross-entropy of an MLP over the rows of ``x`` (one row: one example's loss)."""
    log_softmax = lib.nn.functional.log_softmax if lib is not cr else cr.log_softmax

    def f(p: dict[str, Any], x: Any, y: Any) -> Any:
        h = lib.relu(x @ p["w1"] + p["b1"])
        return -(log_softmax(h @ p["w2"] + p["b2"], -1) * y).sum()

    return f


def data(batch: int, n_in: int, hidden: int, n_out: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    params = {"w1": rng.standard_normal((n_in, hidden)) / np.sqrt(n_in), "b1": np.zeros(hidden),
              "w2": rng.standard_normal((hidden, n_out)) / np.sqrt(hidden), "b2": np.zeros(n_out)}
    x = rng.standard_normal((batch, n_in))
    y = np.eye(n_out)[rng.integers(0, n_out, batch)]
    as32 = lambda a: a.astype(np.float32)
    return {k: as32(v) for k, v in params.items()}, as32(x), as32(y)


def compare(per_example: Callable[[], Any], batched: Callable[[], Any], repeats: int) -> tuple[float, float]:
    for fn in (per_example, batched):  # warm up
        median_seconds(fn, 5)
    a, b = [], []
    for _ in range(5):
        a.append(median_seconds(per_example, max(repeats // 5, 1)))
        b.append(median_seconds(batched, max(repeats // 5, 1)))
    return statistics.median(a), statistics.median(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--sizes", type=int, nargs=3, default=[784, 128, 10], metavar=("IN", "HIDDEN", "OUT"))
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    batch = args.batch
    params, x, y = data(batch, *args.sizes)
    f = loss(cr)
    per_example = cr.vmap(cr.grad(f), in_axes=(None, 0, 0))
    batched = cr.grad(f)
    got = per_example(params, x, y)
    assert all(g.dtype == np.float32 and g.shape == (batch, *params[k].shape) for k, g in got.items())
    one = [cr.grad(f)(params, x[i:i + 1], y[i:i + 1]) for i in range(4)]
    total = batched(params, x, y)
    for k in params:
        np.testing.assert_allclose(got[k][:4], np.stack([o[k] for o in one]), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(got[k].sum(0), total[k], rtol=1e-3, atol=1e-4)
    ours = compare(lambda: per_example(params, x, y), lambda: batched(params, x, y), args.repeats)

    rows = [("chainrule", ours)]
    try:
        import torch
        import torch.func
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
        tp = {k: torch.tensor(v) for k, v in params.items()}
        tx, ty = torch.tensor(x), torch.tensor(y)
        tf = loss(torch)
        t_per = torch.func.vmap(torch.func.grad(tf), in_dims=(None, 0, 0))
        t_batched = torch.func.grad(tf)
        np.testing.assert_allclose(t_per(tp, tx, ty)["w1"].numpy(), got["w1"], rtol=1e-3, atol=1e-4)
        rows.append(("torch.func", compare(lambda: t_per(tp, tx, ty), lambda: t_batched(tp, tx, ty), args.repeats)))

    print(f"per-example gradients, MLP {' -> '.join(map(str, args.sizes))}, batch {batch}, float32, single-threaded")
    print(f"  {'':12} {'vmap(grad)':>12} {'batched grad':>13} {'ratio':>7}")
    for name, (t_per_example, t_batch) in rows:
        print(f"  {name:12} {t_per_example * 1e3:9.3f} ms {t_batch * 1e3:10.3f} ms {t_per_example / t_batch:6.2f}x")


if __name__ == "__main__":
    main()
