"""The integrate and optimize examples run in a fresh interpreter (warnings as errors) and say what they claim: the
adjoint gradient matches finite differences, the fit recovers the parameters, and trust-ncg with exact derivatives
needs fewer evaluations than SciPy's finite differences."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(name: str) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-W", "error", str(ROOT / "examples" / name)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("ok"), done.stdout
    return done.stdout


def test_damped_oscillator():
    out = _run("damped_oscillator.py")
    error = float(re.search(r"largest relative error\s+(\S+)", out).group(1))
    assert error < 1e-5
    c, k = (float(v) for v in re.search(r"c = (\S+) .* k = (\S+) ", out).groups())
    assert abs(c - 0.4) < 0.02 and abs(k - 3.0) < 0.15


def test_trust_ncg_fit():
    out = _run("trust_ncg_fit.py")
    ours = int(re.search(r"trust-ncg:\s+(\d+) evaluations", out).group(1))
    theirs = [int(v) for v in re.findall(r"(\d+) evaluations of the loss,", out)]
    assert len(theirs) == 2 and all(ours < n for n in theirs)
