"""The benchmark suite (``make bench``): every workload of bench/workloads.py in every library, side by side.

One worker process per library (so that no library's imports, threads or allocator touch another's numbers), all
single-threaded (the thread variables are set before any import). The parent asks the workers in turn, workload by
workload, for the median of one round of steps, rotating which library goes first, and reports the median of the
rounds, so background load on a shared machine hits every library alike. Memory comes first, in the fresh workers:
a training step's working set (how far the resident size rises above the set-up state over the first steps, at its
peak; Linux only) and the process's peak resident size (ru_maxrss, imports included). Prints a markdown table with
the ratio of each compared library to each reference library, and the machine. ``--clock cpu`` times the process's
CPU time instead of the wall clock: on a loaded machine it is less inflated by the other processes.

    python bench/suite.py [--quick] [--tiny] [--clock cpu] [--only chain conv ...] [--libraries chainrule numpy ...]

A library is one entry of LIBRARIES; one that is not importable is left out of the table, with a note. A compiler
is an entry that uses another library's versions of the workloads, each passed through it: "chainrule compiled"
is chainrule's versions through ``cr.compile`` (their data are tensors, read at every replay, so nothing folds into
a constant).
"""

from __future__ import annotations

import os

THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
           "NUMEXPR_NUM_THREADS")
for _var in THREADS:
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TextIO  # noqa: E402

from workloads import WORKLOADS, Step, Workload  # noqa: E402


@dataclass(frozen=True)
class Library:
    key: str
    column: str
    module: str  # imported by the worker; not importable: the library is left out
    reference: bool = False  # the compared libraries get a ratio column to each reference library
    compared: bool = False
    versions_of: str | None = None  # use another library's versions of the workloads ...
    wrap: Callable[[Step], Step] | None = None  # ... each passed through this (a compiler), unless it has its own


def _compiled(step: Step) -> Step:
    import chainrule as cr

    return cr.compile(step)  # type: ignore[no-any-return]


LIBRARIES = (
    Library("chainrule", "chainrule eager", "chainrule", compared=True),
    Library("compiled", "chainrule compiled", "chainrule", compared=True, versions_of="chainrule", wrap=_compiled),
    Library("numpy", "NumPy by hand", "numpy", reference=True),
    Library("torch", "PyTorch eager", "torch", reference=True),
    Library("jax", "JAX (jit)", "jax"),
)
BY_KEY = {lib.key: lib for lib in LIBRARIES}
WORKLOAD = {w.key: w for w in WORKLOADS}


# ---- the worker: one library, answering one request per line of stdin with one line of JSON ----

def _rss(field: str) -> int:
    """A size from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _traced(step: Step) -> dict[str, Any]:
    """The peak of what the first training steps allocate through Python's allocator hooks (NumPy reports its
    arrays' buffers to tracemalloc; PyTorch and JAX do not)."""
    import tracemalloc

    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(3):
        step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"working_set": peak - before}


def _resident(step: Step) -> dict[str, Any]:
    """How far the resident size rises above the set-up state (parameters, data) over the first training steps, at
    its peak (activations, gradients, optimizer state, and what the library sets up on its first step: JAX compiles
    there), and the process's peak resident size."""
    import ctypes
    import resource

    gc.collect()
    try:  # give freed heap back to the system, so that the set-up state is what is resident
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak, to the current resident size
        before = _rss("VmRSS")
    except OSError:  # not Linux: the process peak only
        before = None
    for _ in range(3):
        step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)  # bytes, KiB
    if before is None:
        return {"peak": peak}
    return {"working_set": _rss("VmHWM") - before, "peak": peak}


def _median_step(step: Step, repeats: int, clock: Callable[[], float]) -> float:
    times = []
    for _ in range(repeats):
        start = clock()
        step()
        times.append(clock() - start)
    return statistics.median(times)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def worker(key: str, clock: Callable[[], float]) -> None:
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # nothing but answers on the pipe
        _serve(BY_KEY[key], clock, out)


def _serve(lib: Library, clock: Callable[[], float], out: TextIO) -> None:
    if lib.module == "jax" and hasattr(os, "sched_setaffinity"):
        # XLA has no thread-count setting that holds everywhere (intra_op_parallelism_threads crashes some
        # versions): one core for the whole process is what keeps it to one thread's worth of work
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    try:
        module = importlib.import_module(lib.module)
    except ImportError as e:
        print(json.dumps({"error": str(e)}), file=out, flush=True)
        return
    if lib.module == "torch":
        module.set_num_threads(1)
    print(json.dumps({"version": getattr(module, "__version__", "?")}), file=out, flush=True)
    steps: dict[str, Step] = {}
    last: dict[str, float] = {}
    failed: dict[str, str] = {}

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        workload = WORKLOAD[request["workload"]]
        own = workload.versions.get(lib.key)  # a compiler's own version, or None for none
        make = own if lib.key in workload.versions else workload.versions.get(lib.versions_of or lib.key)
        if make is None:
            return {}
        if workload.key not in steps:
            step = make(**(workload.tiny if request["tiny"] else workload.sizes))
            if lib.wrap:
                if own is None:
                    step = lib.wrap(step)
                for _ in range(3):  # the compiler's traces (after an optimizer's first step) precede every figure
                    step()
            steps[workload.key] = step
            if not workload.unit.startswith("MB"):
                steps[workload.key]()  # warm up (and compile)
                last[workload.key] = _median_step(steps[workload.key], 1, clock)
        step = steps[workload.key]
        if workload.unit.startswith("MB"):
            return (_traced if workload.unit == "MB traced" else _resident)(step)
        # as many steps as fill the round's time budget
        repeats = max(1, min(1000, int(request["budget"] / max(last[workload.key], 1e-9))))
        last[workload.key] = _median_step(step, repeats, clock)
        return {"seconds": last[workload.key]}

    for line in sys.stdin:
        request = json.loads(line)
        key = request["workload"]
        if key not in failed:
            try:
                reply = answer(request)
            except Exception as e:  # one library's failing version is reported in the table, not fatal to the suite
                traceback.print_exc()
                failed[key] = f"{type(e).__name__}: {e}"
        print(json.dumps({"error": failed[key]} if key in failed else reply), file=out, flush=True)


# ---- the parent: starts the workers, interleaves the rounds, prints the table ----

class Worker:
    def __init__(self, lib: Library, clock: str) -> None:
        self.lib = lib
        self.process = subprocess.Popen([sys.executable, __file__, "--worker", lib.key, "--clock", clock],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env=os.environ.copy())
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.lib.key} worker stopped (exit code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, workload: Workload, budget: float, tiny: bool) -> dict[str, Any]:
        assert self.process.stdin is not None
        request = {"workload": workload.key, "budget": budget, "tiny": tiny}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait()


def _number(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def _value(workload: Workload, answers: list[dict[str, Any]], tiny: bool) -> float | None:
    """The figure a ratio is of: the median time (per op where the unit says so), or the working set."""
    if workload.unit.startswith("MB"):
        return answers[0].get("working_set") if answers else None
    times = [a["seconds"] for a in answers if "seconds" in a]
    if not times:
        return None
    t = statistics.median(times)
    ops = workload.ops(**(workload.tiny if tiny else workload.sizes)) if workload.ops else 1
    return t / ops


def _cell(workload: Workload, answers: list[dict[str, Any]], tiny: bool) -> str:
    if any("error" in a for a in answers):
        return "failed"
    if workload.unit.startswith("MB"):
        if not answers or not answers[0]:
            return "-"
        ws = answers[0].get("working_set")
        figures = [_number(ws / 1e6) if ws is not None else "?"]
        if "peak" in answers[0]:
            figures.append(_number(answers[0]["peak"] / 1e6))
        return " / ".join(figures) + " MB"
    v = _value(workload, answers, tiny)
    if v is None:
        return "-"
    return f"{_number(v * 1e6)} us" if workload.unit == "us per op" else f"{_number(v * 1e3)} ms"


def machine(versions: dict[str, str]) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import numpy  # the parent's, the same as the workers'

    libs = "".join(f", {BY_KEY[k].module} {v}" for k, v in versions.items() if BY_KEY[k].module != "numpy")
    python = platform.python_version()
    return f"{cpu}, {os.cpu_count()} cores; Python {python}, numpy {numpy.__version__}{libs}; 1 thread"


def table(workloads: list[Workload], libs: list[Library], results: dict[tuple[str, str], list[dict[str, Any]]],
          tiny: bool) -> list[str]:
    refs = [lib for lib in libs if lib.reference]
    pairs = [(lib, ref) for lib in libs if lib.compared for ref in refs]
    header = ["workload", *(lib.column for lib in libs), *(f"{lib.key} / {ref.key}" for lib, ref in pairs)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for w in workloads:
        cells = [w.label, *(_cell(w, results[w.key, lib.key], tiny) for lib in libs)]
        for lib, ref in pairs:
            a, b = _value(w, results[w.key, lib.key], tiny), _value(w, results[w.key, ref.key], tiny)
            cells.append(f"{a / b:.2f}x" if a is not None and b else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few short rounds (a smoke run, not a measurement)")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes (with --quick: the suite's own test)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7, quick 2)")
    parser.add_argument("--budget", type=float, help="seconds of steps per library per round (default 0.4)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="time the wall clock (default) or the process's CPU time")
    parser.add_argument("--only", nargs="+", choices=list(WORKLOAD), help="these workloads only")
    parser.add_argument("--libraries", nargs="+", choices=list(BY_KEY), help="these libraries only")
    parser.add_argument("--worker", choices=list(BY_KEY), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, CLOCKS[args.clock])
        return
    rounds = args.rounds or (2 if args.quick else 7)
    budget = args.budget or (0.01 if args.quick else 0.4)
    workloads = [w for w in WORKLOADS if not args.only or w.key in args.only]
    workers, missing = [], []
    for lib in LIBRARIES:
        if args.libraries and lib.key not in args.libraries:
            continue
        proc = Worker(lib, args.clock)
        if "error" in proc.hello:
            missing.append(f"{lib.column}: {proc.hello['error']}")
            proc.close()
        else:
            workers.append(proc)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {(w.key, x.lib.key): [] for w in workloads for x in workers}
    try:
        # memory first, in the fresh processes (WORKLOADS has the resident size before tracemalloc, which allocates)
        for w in (w for w in workloads if w.unit.startswith("MB")):
            for x in workers:
                results[w.key, x.lib.key].append(x.ask(w, budget, args.tiny))
        for r in range(rounds):
            for w in (w for w in workloads if not w.unit.startswith("MB")):
                for x in workers[r % len(workers):] + workers[:r % len(workers)]:
                    results[w.key, x.lib.key].append(x.ask(w, budget, args.tiny))
    finally:
        for x in workers:
            x.close()
    libs = [x.lib for x in workers]
    print("\n".join(table(workloads, libs, results, args.tiny)))
    print()
    print(f"{machine({x.lib.key: x.hello['version'] for x in workers})}; {args.clock} clock, medians of {rounds} "
          "interleaved rounds"
          f"{' (--quick: not a measurement)' if args.quick else ''}{' at tiny sizes' if args.tiny else ''}")
    for note in missing:
        print(f"left out: {note}")
    for (workload, key), answers in results.items():
        for error in {a["error"] for a in answers if "error" in a}:
            print(f"failed: {BY_KEY[key].column} on {workload}: {error}")


if __name__ == "__main__":
    main()
