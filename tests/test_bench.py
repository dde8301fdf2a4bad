"""The benchmark suite runs and prints a well-formed table (a smoke test at tiny sizes: no timing is asserted)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def suite():
    """bench/suite.py as a module (bench/ is not a package: its scripts import each other by name), with the
    environment (its thread variables) as it was, and bench's scripts out of the module table, afterwards."""
    environ = dict(os.environ)
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import suite

        yield suite
    finally:
        sys.path.remove(str(ROOT / "bench"))
        os.environ.clear()
        os.environ.update(environ)
        for name, module in list(sys.modules.items()):
            if Path(getattr(module, "__file__", None) or "/").parent == ROOT / "bench":
                del sys.modules[name]


def test_suite_prints_a_table(suite) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "suite.py"), "--quick", "--tiny", "--rounds", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("|")]
    header, rule, *body = rows
    columns = header.count("|")
    assert "chainrule eager" in header and "chainrule compiled" in header and "NumPy by hand" in header
    assert rule == "|" + " --- |" * (columns - 1)
    assert "failed:" not in run.stdout
    assert [row.split(" | ")[0][2:] for row in body] == [w.label for w in suite.WORKLOADS]
    for row in body:
        assert row.count("|") == columns, row
    # chainrule has every workload but the BLAS floor, each cell in the workload's unit
    ending = {"us per op": " us", "ms": " ms", "MB resident": " MB", "MB traced": " MB"}
    for w, row in zip(suite.WORKLOADS, body):
        cell = row.split(" | ")[1]
        assert cell == "-" if w.key == "mlp_big_blas" else cell.endswith(ending[w.unit]), (w.key, cell)
        assert (" / " in cell) == (w.unit == "MB resident"), (w.key, cell)
    assert "Python" in run.stdout and "1 thread" in run.stdout


def test_table_marks_failures_and_missing_versions(suite) -> None:
    chain, conv = suite.WORKLOAD["chain"], suite.WORKLOAD["conv"]
    libs = [suite.BY_KEY[k] for k in ("chainrule", "numpy", "torch")]
    results = {("chain", "chainrule"): [{"seconds": 2e-3}, {"seconds": 4e-3}, {"seconds": 3e-3}],
               ("chain", "numpy"): [{"seconds": 1e-3}], ("chain", "torch"): [{"error": "ValueError: x"}],
               ("conv", "chainrule"): [{"seconds": 0.02}], ("conv", "numpy"): [{}],  # numpy has no conv version
               ("conv", "torch"): [{"seconds": 0.01}]}
    header, rule, chain_row, conv_row = suite.table([chain, conv], libs, results, tiny=False)
    assert header.endswith("| chainrule / numpy | chainrule / torch |") and rule == "|" + " --- |" * 6
    ops = chain.ops(**chain.sizes)
    assert chain_row.split(" | ")[1:] == [f"{3e-3 / ops * 1e6:.2f} us", f"{1e-3 / ops * 1e6:.2f} us", "failed", "3.00x",
                                          "- |"]
    assert conv_row.split(" | ")[1:] == ["20.0 ms", "-", "10.0 ms", "-", "2.00x |"]


def test_a_library_is_one_entry(suite, monkeypatch) -> None:
    """An entry that runs another library's versions through a wrapper (as a compiler would) answers the parent's
    requests, one JSON line each: a library's version first, then a time, a memory figure, and "-" where none."""
    wrapped = []

    def wrap(step):
        wrapped.append(step)
        return step

    lib = suite.Library("wrapped", "NumPy wrapped", "numpy", compared=True, versions_of="numpy", wrap=wrap)
    monkeypatch.setitem(suite.BY_KEY, "wrapped", lib)
    requests = [{"workload": key, "budget": 0.001, "tiny": True} for key in ("chain", "memory_traced", "conv")]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(json.dumps(r) + "\n" for r in requests)))
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    suite.worker("wrapped", suite.CLOCKS["cpu"])
    hello, chain, memory, conv = map(json.loads, sys.stdout.getvalue().splitlines())
    assert set(hello) == {"version"} and set(chain) == {"seconds"} and set(memory) == {"working_set"} and conv == {}
    assert len(wrapped) == 2
