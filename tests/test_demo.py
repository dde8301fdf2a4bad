"""``make demo``'s script and the README's examples run, and say what they claim.

Both run in a fresh interpreter (``sys.executable -W error``), so they see the package as a user does and cannot
leave anything behind (a README example registers its own primitive).
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "demo.py"
README = ROOT / "README.md"


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-W", "error", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def demo_output() -> str:
    result = _run([str(DEMO)])
    assert result.returncode == 0, f"examples/demo.py failed:\n{result.stdout}\n{result.stderr}"
    assert result.stderr == "", result.stderr
    return result.stdout


def _number(output: str, label: str) -> float:
    match = re.search(re.escape(label) + r"\s*=\s*(\S+)", output)
    assert match, f"the demo no longer prints {label!r}:\n{output}"
    return float(match.group(1))


def test_demo_sigmoid_gradient_matches_the_seeds_formula(demo_output: str) -> None:
    assert _number(demo_output, "max |engine - sigma(1 - sigma)|") < 1e-12
    assert _number(demo_output, "max |engine 1/t - sigma(1 - sigma)|") < 1e-12
    assert _number(demo_output, "max |engine - central difference|") < 1e-8
    rows = re.findall(r"^\s+(-?\d+\.\d)(?:\s+\d\.\d{10}){5}$", demo_output, flags=re.MULTILINE)
    assert [float(r) for r in rows] == [-4.0, -1.0, 0.0, 0.5, 2.0, 4.0]


def test_demo_logistic_regression_learns(demo_output: str) -> None:
    losses = [float(v) for v in re.findall(r"step\s+\d+\s+loss\s+(\S+)", demo_output)]
    assert len(losses) >= 5, demo_output
    assert losses[-1] < losses[0]
    assert all(b <= a for a, b in itertools.pairwise(losses)), f"the loss should fall at every report: {losses}"
    accuracy = re.search(r"training accuracy\s+([\d.]+)%", demo_output)
    assert accuracy and float(accuracy.group(1)) > 85.0, demo_output
    assert "cr.gradcheck(loss, w, b) -> True" in demo_output


def _python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), flags=re.MULTILINE | re.DOTALL)


def test_readme_has_python_examples() -> None:
    assert len(_python_blocks()) >= 3


@pytest.mark.parametrize("index", range(len(_python_blocks())), ids=lambda i: f"block{i}")
def test_readme_python_block_runs(index: int) -> None:
    """Each ```python block runs on its own; ``print(...)  # text`` lines must print the start of ``text``."""
    code = _python_blocks()[index]
    result = _run(["-c", code])
    assert result.returncode == 0, f"README python block {index} failed:\n{code}\n{result.stderr}"
    claims = re.findall(r"^print\(.*\)\s+# (.*)$", code, flags=re.MULTILINE)
    if claims:
        printed = result.stdout.splitlines()
        assert len(printed) == len(claims), "keep each commented print() in the README to one line of output"
        for line, claim in zip(printed, claims):
            assert claim.startswith(line), f"README block {index} claims {claim!r} but prints {line!r}"
