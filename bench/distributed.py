"""Data-parallel benchmark: mlp_big (784 -> 1024 -> 1024 -> 10, float32, 1.86 M parameters) trained with SGD on a
global batch of 256, on 1 process against 2 ranks under ``mpiexec`` (each rank 128 samples), single-threaded BLAS per
rank.

    python bench/distributed.py [--steps 20] [--ranks 2] [--bucket-mb 0,25,4] [--repeats 3] [--timeout S]
                                [--bucket-view]

It launches itself: as a plain process (world size 1) and with ``mpiexec -n RANKS`` for each bucket size (0: a
control without DDP, each rank training alone on its half, no communication), the configurations taking turns
``--repeats`` times so that background load hits them alike; each figure is the median over the repeats of the
median over the steps. Each run measures: the step's wall time (forward, backward with the
bucketed all-reduces, optimizer step); the time a rank waits for communication after the backward sweep (what the
overlap did not hide: packing the last buckets and waiting for every all-reduce); the process CPU time per step
(MPI's waits spin, so it counts them); then a plain all-reduce of the whole gradient (7.1 MiB) and of one float,
timed alone: the bandwidth and latency that docs/distributed.md's cost model starts from. ``--bucket-view``
passes ``gradient_as_bucket_view=True`` (the bucket buffers reused from step to step).

    python bench/distributed.py --project [--seconds-per-sample S] [--alpha A --beta B]

prints that page's projections instead: the ring all-reduce cost model with DDP's buckets, simulated over the
backward sweep (see ``project``), for 2 to 512 ranks on a few networks. Needs the ``distributed`` extra.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import distributed as dist  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402

GLOBAL_BATCH = 256


def mlp_big() -> cr.nn.Module:
    return cr.nn.Sequential(cr.nn.Linear(784, 1024), cr.nn.ReLU(), cr.nn.Linear(1024, 1024), cr.nn.ReLU(),
                            cr.nn.Linear(1024, 10))


def worker(steps: int, bucket_mb: float, timeout: float | None, bucket_view: bool = False) -> dict[str, Any]:
    """One rank's measurements (run on every rank; rank 0 prints them as JSON)."""
    dist.init(timeout=timeout)
    rank, ranks = dist.rank(), dist.world_size()
    cr.manual_seed(0)
    # bucket_mb 0: the control, each rank training alone on its half (no communication at all)
    options = {"gradient_as_bucket_view": True} if bucket_view else {}
    model = dist.DistributedDataParallel(mlp_big(), bucket_cap_mb=bucket_mb, **options) if bucket_mb else mlp_big()
    waits: list[float] = []
    if bucket_mb:
        finish = model._finish

        def timed_finish() -> None:  # the wait after the sweep: communication that the backward did not hide
            start = time.perf_counter()
            finish()
            waits.append(time.perf_counter() - start)

        model._finish = timed_finish
    opt = cr.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    local = GLOBAL_BATCH // ranks
    x = rng.standard_normal((local, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=local)
    wall, cpu = [], []
    for step in range(steps + 3):  # 3 to warm up
        start, start_cpu = time.perf_counter(), time.process_time()
        opt.zero_grad()
        F.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).backward()
        opt.step()
        if step >= 3:
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    gradient = np.ones(sum(p.size for p in model.parameters()), dtype=np.float32)
    alone, latency = [], []
    for _ in range(10):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(gradient)
        alone.append(time.perf_counter() - start)
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(np.ones(1, dtype=np.float32))
        latency.append(time.perf_counter() - start)
    return {"ranks": ranks, "bucket_mb": bucket_mb, "step_ms": 1e3 * statistics.median(wall),
            "cpu_ms": 1e3 * statistics.median(cpu),
            "wait_ms": 1e3 * statistics.median(waits[3:]) if waits else 0.0,
            "buckets": len(model._buckets) if bucket_mb else 0, "allreduce_ms": 1e3 * statistics.median(alone),
            "latency_us": 1e6 * statistics.median(latency), "gradient_mb": gradient.nbytes / 2 ** 20}


# mlp_big's parameters in the order backward produces their gradients (the last layer first), with the share of the
# backward sweep spent before each is ready: a dense layer's backward costs in proportion to its weights
MLP_BIG = [("2.bias", 10), ("2.weight", 10 * 1024), ("1.bias", 1024), ("1.weight", 1024 * 1024), ("0.bias", 1024),
           ("0.weight", 784 * 1024)]
# latency (s) and bandwidth (bytes/s) per link: the first measured here (median of quiet runs), the others typical
NETWORKS = {"shared memory (as measured here)": (45e-6, 1.9e9), "10 Gb/s Ethernet, TCP": (30e-6, 1.1e9),
            "100 Gb/s InfiniBand": (3e-6, 12e9)}


def ring(nbytes: float, ranks: int, alpha: float, beta: float) -> float:
    """Seconds of a ring all-reduce of ``nbytes`` on ``ranks``: a reduce-scatter then an all-gather, each
    ``ranks - 1`` steps that send ``nbytes / ranks`` to the next rank."""
    return 0.0 if ranks == 1 else 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * nbytes / beta


def project(ranks: int, per_rank_batch: float, alpha: float, beta: float, seconds_per_sample: float,
            bucket_cap_mb: float = 25.0, itemsize: int = 4) -> dict[str, float]:
    """One simulated DDP step of mlp_big: forward and backward take ``seconds_per_sample`` per sample (1/3 and 2/3);
    the buckets (as DistributedDataParallel makes them) become ready along the sweep and are all-reduced one after
    the other on one channel, each as soon as it is ready and the previous one is done. What ends after the sweep
    is exposed."""
    compute = seconds_per_sample * per_rank_batch
    backward = compute * 2 / 3
    total = sum(n for _, n in MLP_BIG)
    buckets: list[tuple[float, float]] = []  # (ready at, bytes)
    done = 0
    size = 0.0
    caps = [min(2 ** 20, bucket_cap_mb * 2 ** 20), bucket_cap_mb * 2 ** 20]
    for _, n in MLP_BIG:
        done += n
        ready = compute / 3 + backward * done / total
        nbytes = n * itemsize
        if not buckets or (size and size + nbytes > caps[len(buckets) > 1]):
            buckets.append((ready, 0.0))
            size = 0.0
        size += nbytes
        buckets[-1] = (ready, size)
    end = 0.0
    communication = 0.0
    for ready, nbytes in buckets:
        t = ring(nbytes, ranks, alpha, beta)
        end = max(end, ready) + t
        communication += t
    exposed = max(0.0, end - compute)
    return {"step": compute + exposed, "compute": compute, "communication": communication, "exposed": exposed,
            "buckets": len(buckets)}


def print_projections(seconds_per_sample: float, networks: dict[str, tuple[float, float]]) -> None:
    print(f"mlp_big (7.1 MiB of float32 gradients), {seconds_per_sample * 1e3:.3f} ms of compute per sample; "
          "exposed communication and step time with bucket_cap_mb 25 (2 buckets) / 4 (3 buckets)")
    print("| network | ranks | batch per rank | compute ms | all-reduce ms | exposed ms | step ms | efficiency |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, (alpha, beta) in networks.items():
        for ranks, batch in ((2, 128), (8, 32), (8, 128), (64, 128), (512, 128)):
            big, small = (project(ranks, batch, alpha, beta, seconds_per_sample, cap) for cap in (25.0, 4.0))
            print(f"| {name} | {ranks} | {batch} | {big['compute'] * 1e3:.1f} | {big['communication'] * 1e3:.2f} | "
                  f"{big['exposed'] * 1e3:.2f} / {small['exposed'] * 1e3:.2f} | "
                  f"{big['step'] * 1e3:.1f} / {small['step'] * 1e3:.1f} | "
                  f"{big['compute'] / big['step']:.0%} / {big['compute'] / small['step']:.0%} |")


def launch(ranks: int, steps: int, bucket_mb: float, timeout: float | None, bucket_view: bool) -> dict[str, Any]:
    me = [sys.executable, os.path.abspath(__file__), "--worker", "--steps", str(steps), "--bucket-mb", str(bucket_mb)]
    if timeout:
        me += ["--timeout", str(timeout)]
    if bucket_view:
        me.append("--bucket-view")
    env = {k: v for k, v in os.environ.items() if k not in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK")}
    if ranks > 1:
        launcher = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
        if launcher is None:
            raise SystemExit("mpiexec not found: pip install 'chainrule[distributed]'")
        root = ["--allow-run-as-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        me = [launcher, "-n", str(ranks), "--oversubscribe", *root, *me]
    done = subprocess.run(me, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--bucket-mb", default="0,25,4",
                        help="bucket_cap_mb values for the runs on RANKS ranks; 0: without DDP, no communication")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, help="init(timeout=...): waits poll and sleep instead of spinning")
    parser.add_argument("--bucket-view", action="store_true", help="DDP with gradient_as_bucket_view=True")
    parser.add_argument("--project", action="store_true", help="print the cost model's projections")
    parser.add_argument("--seconds-per-sample", type=float, default=41.4e-3 / GLOBAL_BATCH,
                        help="compute per sample for --project (default: the 1-rank step measured here / 256)")
    parser.add_argument("--alpha", type=float, help="--project on one network of this latency (s)")
    parser.add_argument("--beta", type=float, help="... and this bandwidth (bytes/s)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.project:
        chosen = {"given": (args.alpha, args.beta)} if args.alpha and args.beta else NETWORKS
        print_projections(args.seconds_per_sample, chosen)
        return
    if args.worker:
        result = worker(args.steps, float(args.bucket_mb), args.timeout, args.bucket_view)
        if dist.rank() == 0:
            print(json.dumps(result), flush=True)
        return
    configs = [(1, 25.0)] + [(args.ranks, float(b)) for b in args.bucket_mb.split(",")]
    runs: dict[tuple[int, float], list[dict[str, Any]]] = {c: [] for c in configs}
    for _ in range(args.repeats):
        for c in configs:
            runs[c].append(launch(c[0], args.steps, c[1], args.timeout, args.bucket_view))
    med = {c: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for c, rs in runs.items()}
    print(f"mlp_big, global batch {GLOBAL_BATCH}, float32, {os.cpu_count()} cores, OMP_NUM_THREADS=1 per rank; "
          f"medians of {args.repeats} runs of {args.steps} steps")
    print("| ranks | bucket_cap_mb | buckets | step ms | samples/s | speed-up | CPU ms/step/rank | comm wait ms/step |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    base = med[configs[0]]["step_ms"]
    for c in configs:
        r = med[c]
        print(f"| {c[0]} | {c[1] or 'none (no DDP)'} | {r['buckets']:.0f} | {r['step_ms']:.1f} | "
              f"{GLOBAL_BATCH / r['step_ms'] * 1e3:.0f} | {base / r['step_ms']:.2f}x | {r['cpu_ms']:.1f} | "
              f"{r['wait_ms']:.2f} |")
    control = med.get((args.ranks, 0.0))
    if control is not None:  # DDP's own work: what a DDP rank spends per step beyond a rank training alone
        print("DDP CPU ms/step/rank beyond the control: " + ", ".join(
            f"{c[1]:g} MiB buckets {med[c]['cpu_ms'] - control['cpu_ms']:.1f}" for c in configs[1:] if c[1]))
    r = med[configs[-1]]
    print(f"all-reduce alone on {args.ranks} ranks: {r['gradient_mb']:.2f} MiB in {r['allreduce_ms']:.2f} ms "
          f"({r['gradient_mb'] / r['allreduce_ms'] * 1e3:.0f} MiB/s); one float in {r['latency_us']:.0f} us")


if __name__ == "__main__":
    main()
