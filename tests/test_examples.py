"""The realistic examples in examples/ run as scripts in a fresh interpreter (warnings as errors), check themselves
(each asserts its values against SciPy and finite differences) and say what they claim. examples/demo.py has its
own tests (test_demo.py); every other example has one here."""

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
    assert done.returncode == 0, f"examples/{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in:\n{text}"
    return float(found.group(1))


def test_every_example_has_a_test() -> None:
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    untested = [p.name for p in (ROOT / "examples").glob("*.py") if p.name != "demo.py" and p.stem not in tested]
    assert not untested, f"examples without a test here: {untested}"


def test_bayesian_regression() -> None:
    out = _run("bayesian_regression.py")
    assert "value as SciPy's; gradient as central differences" in out
    w = [float(v) for v in re.search(r"w = \[(.*?)\]", out).group(1).split(",")]
    assert max(abs(a - b) for a, b in zip(w, [1.5, -2.0, 0.5])) < 0.2


def test_damped_oscillator() -> None:
    out = _run("damped_oscillator.py")
    assert out.rstrip().endswith("ok"), out
    error = float(re.search(r"largest relative error\s+(\S+)", out).group(1))
    assert error < 1e-5
    c, k = (float(v) for v in re.search(r"c = (\S+) .* k = (\S+) ", out).groups())
    assert abs(c - 0.4) < 0.02 and abs(k - 3.0) < 0.15


def test_trust_ncg_fit() -> None:
    out = _run("trust_ncg_fit.py")
    assert out.rstrip().endswith("ok"), out
    ours = int(re.search(r"trust-ncg:\s+(\d+) evaluations", out).group(1))
    theirs = [int(v) for v in re.findall(r"(\d+) evaluations of the loss,", out)]
    assert len(theirs) == 2 and all(ours < n for n in theirs)


def test_gaussian_process() -> None:
    out = _run("gaussian_process.py")
    assert out.rstrip().endswith("OK"), out
    assert _number(r"vs finite differences ([0-9.e+-]+)", out) < 1e-6
    assert _number(r"vs the closed form ([0-9.e+-]+)", out) < 1e-10
    before = _number(r"log marginal likelihood (-?[0-9.]+) ->", out)
    after = _number(r"-> (-?[0-9.]+), \|gradient\|", out)
    assert after > before
    assert 0.05 < _number(r"sigma = ([0-9.]+)", out) < 0.2


def test_deconvolution() -> None:
    out = _run("deconvolution.py")
    assert out.rstrip().endswith("OK"), out
    assert _number(r"scipy.signal.convolve: max difference ([0-9.e+-]+)", out) < 1e-12
    assert _number(r"max relative difference ([0-9.e+-]+)", out) < 1e-6
    blurred = _number(r"blurred ([0-9.]+)", out)
    assert _number(r"recovered ([0-9.]+)", out) < 0.75 * blurred
