"""examples/gaussian_process.py and examples/deconvolution.py run (in a subprocess, warnings as errors), pass
their own checks against SciPy and finite differences, and print what they claim."""

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
    result = subprocess.run([sys.executable, "-W", "error", str(ROOT / "examples" / name)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"examples/{name} failed:\n{result.stdout}\n{result.stderr}"
    assert result.stdout.rstrip().endswith("OK")
    return result.stdout


def _number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in:\n{text}"
    return float(found.group(1))


def test_gaussian_process_gradient_matches_finite_differences_and_the_closed_form() -> None:
    out = _run("gaussian_process.py")
    assert _number(r"vs finite differences ([0-9.e+-]+)", out) < 1e-6
    assert _number(r"vs the closed form ([0-9.e+-]+)", out) < 1e-10
    before = _number(r"log marginal likelihood (-?[0-9.]+) ->", out)
    after = _number(r"-> (-?[0-9.]+), \|gradient\|", out)
    assert after > before
    assert 0.05 < _number(r"sigma = ([0-9.]+)", out) < 0.2


def test_deconvolution_recovers_the_image_better_than_the_blurred_copy() -> None:
    out = _run("deconvolution.py")
    assert _number(r"scipy.signal.convolve: max difference ([0-9.e+-]+)", out) < 1e-12
    assert _number(r"max relative difference ([0-9.e+-]+)", out) < 1e-6
    blurred = _number(r"blurred ([0-9.]+)", out)
    assert _number(r"recovered ([0-9.]+)", out) < 0.75 * blurred
