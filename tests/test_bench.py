"""The benchmark suite runs and prints a well-formed table (a smoke test at tiny sizes: no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_suite_prints_a_table() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "suite.py"), "--quick", "--tiny", "--rounds", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("|")]
    header, rule, *body = rows
    columns = header.count("|")
    assert "chainrule eager" in header and "NumPy by hand" in header
    assert rule == "|" + " --- |" * (columns - 1)
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from workloads import WORKLOADS
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert [row.split(" | ")[0][2:] for row in body] == [w.label for w in WORKLOADS]
    for row in body:
        assert row.count("|") == columns, row
    # chainrule has every workload but the BLAS floor, each cell in the workload's unit
    ending = {"us per op": " us", "ms": " ms", "MB resident": " MB", "MB traced": " MB"}
    for w, row in zip(WORKLOADS, body):
        cell = row.split(" | ")[1]
        assert cell == "-" if w.key == "mlp_big_blas" else cell.endswith(ending[w.unit]), (w.key, cell)
        assert (" / " in cell) == (w.unit == "MB resident"), (w.key, cell)
    assert "Python" in run.stdout and "1 thread" in run.stdout
