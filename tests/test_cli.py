"""The ``chainrule`` command: ``explain`` and ``graph`` run for real in a subprocess (``python -m chainrule.cli``, what
the ``chainrule`` entry point calls), plus in-process checks of every error path."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule import cli
from chainrule.expr import MAX_LENGTH

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path = ROOT, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-W", "error", "-m", "chainrule.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def sigma(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# ---- chainrule explain ----------------------------------------------------------------------------------------------
def test_explain_sigmoid_prints_the_seeds_derivation() -> None:
    result = _run("explain", "1/(1+exp(-x))", "--at", "x=0.5")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    lines = [ln.strip() for ln in out.splitlines()]
    assert lines[0] == "f(x) = 1/(1+exp(-x))   at x = 0.5"
    for row in ["t1 = -x        negative   = -0.5", "t2 = exp(t1)   exp        = 0.6065306597",
                "t3 = 1 + t2    add        = 1.60653066", "t4 = 1 / t3    divide     = 0.6224593312   = f",
                "dt4/dt3 = -1/t3**2   = -0.387455619", "x -> t1 -> t2 -> t3 -> t4",
                "df/dx = dt4/dt3 * dt3/dt2 * dt2/dt1 * dt1/dx", "= (-0.387455619) * 1 * 0.6065306597 * (-1)",
                "= 0.2350037122"]:
        assert row in lines, row
    check = next(ln for ln in lines if ln.startswith("df/dx: chain rule"))
    assert "central difference 0.2350037122" in check and "difference" in check


def test_explain_two_paths_and_their_sum() -> None:
    result = _run("explain", "x*sin(x)", "--at", "x=0.5")
    assert result.returncode == 0, result.stderr
    assert "x reaches f along 2 paths" in result.stdout
    assert "path 1: x -> t2" in result.stdout and "path 2: x -> t1 -> t2" in result.stdout
    assert "df/dx = 0.4794255386 + 0.4387912809 = 0.9182168195" in result.stdout


def test_explain_several_variables_json() -> None:
    result = _run("explain", "x*y + tanh(x)/y", "--at", "x=1,y=2", "--format", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["at"] == {"x": 1.0, "y": 2.0}
    assert data["gradient"]["x"] == pytest.approx(2 + (1 - math.tanh(1) ** 2) / 2, rel=1e-14)
    assert data["gradient"]["y"] == pytest.approx(1 - math.tanh(1) / 4, rel=1e-14)
    assert data["path_counts"] == {"x": 2, "y": 2}
    assert all(d < 1e-8 for d in data["difference"].values())


def test_explain_gradient_text_markdown_and_leading_minus() -> None:
    text = _run("explain", "x*y + tanh(x)/y", "--at", "x=1", "--at", "y=2")
    assert text.returncode == 0, text.stderr
    assert "Gradient: (df/dx, df/dy) = (2.209987171, 0.809601461)" in text.stdout
    md = _run("explain", "-x**2", "--at", "x=pi/4", "--format", "markdown")  # an expression starting with "-"
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("**f(x) = `-x**2`** at x = 0.7853981634")
    assert "| t2 | `-t1` | negative |" in md.stdout


def test_explain_errors_point_at_the_column() -> None:
    result = _run("explain", "exp(x) + x.real", "--at", "x=1")
    assert result.returncode == 2
    assert result.stdout == ""
    first, expression, caret = result.stderr.rstrip("\n").split("\n")
    assert first == "chainrule explain: error: attribute access (a.b) is not allowed (column 11)"
    assert expression == "  exp(x) + x.real"
    assert caret == "  " + " " * 10 + "^"


@pytest.mark.parametrize(("expression", "message"), [
    ("__import__('os').system('echo hi')", "attribute access"),
    ("__import__('os')", "unknown function '__import__'"),
    ("lambda: x", "lambdas"),
    ("x[0]", "subscripts"),
    ("exp(x, x)", "takes 1 argument"),
    ("exp(x=x)", "keyword arguments"),
    ("[x for x in y]", "comprehensions"),
    ("(x", "syntax error"),
    ("x @ x", "operator '@'"),
    ("x + y", "no value for 'y': give it with --at x=1,y=..."),
    ("x" * (MAX_LENGTH + 1), "expression too long"),
])
def test_bad_expressions_exit_2_with_one_line_and_a_caret(expression: str, message: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("explain", "graph"):
        assert cli.main([command, expression, "--at", "x=1"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.rstrip("\n").split("\n")
        assert len(lines) == 3, lines
        assert lines[0].startswith(f"chainrule {command}: error: ") and message in lines[0]
        column = int(lines[0].rsplit("(column ", 1)[1].rstrip(")"))
        assert lines[2].endswith("^") and len(lines[2]) <= 2 + 72
        if len(expression) <= 72:
            assert lines[2] == "  " + " " * (column - 1) + "^"


@pytest.mark.parametrize(("argv", "message"), [
    (["explain", "x"], "no value for 'x'"),
    (["explain", "x", "--at", "x"], "NAME=VALUE"),
    (["explain", "x", "--at", "x=abc"], "expected a number"),
    (["explain", "x", "--at", "x=1,x=2"], "gives 'x' twice"),
    (["explain", "x", "--at", "x=1e999"], "expected a number"),
    (["explain", "exp(1)", "--at", "exp=1"], "is a function"),
    (["explain", "x", "--at", "e=1,x=2"], "is a constant"),
    (["explain", "x", "--at", "1x=2"], "not a variable name"),
    (["explain", "x", "--at", "x=1", "--h", "-1"], "argument --h: must be a positive number, got -1"),
    (["explain", "x", "--at", "x=1", "--h", "0"], "argument --h: must be a positive number, got 0"),
    (["explain", "x", "--at", "x=1", "--h", "nan"], "argument --h: must be a positive number, got nan"),
    (["explain", "x", "--at", "x=1", "--h", "1e-300"], "--h 1e-300: the step h = 1e-300 is too small to move x = 1"),
    (["graph", "x", "--at", "x=1", "-o", "g.jpg"], "unknown file type '.jpg'"),
    (["graph", "x", "--at", "x=1", "--max-nodes", "1"], "argument --max-nodes: must be at least 2, got 1"),
    (["graph", "x", "--at", "x=1", "--max-nodes", "2.5"], "argument --max-nodes: expected a whole number, got '2.5'"),
    (["demo", "--lr", "-1"], "argument --lr: must be a positive number, got -1"),
    (["demo", "--lr", "inf"], "argument --lr: must be a positive number, got inf"),
    (["demo", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["demo", "--batch-size", "-3"], "argument --batch-size: must be at least 1, got -3"),
    (["demo", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
])
def test_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err, err


@pytest.mark.parametrize(("at", "quoted"), [("x=[1,2]", "--at 'x=[1,2]': the value of x, '[1,2]', is not a number"),
                                             ("y=2,x=(1,2)", "--at 'y=2,x=(1,2)': the value of x, '(1,2)', is not"),
                                             ("x=1,,y=2", "--at 'x=1,,y=2': --at takes NAME=VALUE pairs"),
                                             ("x=1;y=2", "--at 'x=1;y=2': the value of x, '1;y=2', is not")])
def test_at_errors_quote_the_whole_argument(at: str, quoted: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "x*y", "--at", at]) == 2
    assert f"chainrule explain: error: {quoted}" in capsys.readouterr().err


def test_at_values_may_call_two_argument_functions(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "x*y", "--at", "x=maximum(1, 2),y=arctan2(0, 1)", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["at"] == {"x": 2.0, "y": 0.0}


def test_help_texts_are_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    """--help shows no reStructuredText markup (``literal``, :role:`x`); ** is the language's power operator."""
    for argv in ([], ["demo"], ["explain"], ["graph"]):
        assert cli.main([*argv, "--help"]) == 0
        out = capsys.readouterr().out
        assert "usage: chainrule" in out
        for markup in ("`", ":class:", ":func:", ":meth:"):
            assert markup not in out, (argv, markup)


def _broken_pipe_run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command with stdout a pipe whose reader has already gone (as ``| head -1`` leaves it)."""
    read, write = os.pipe()
    os.close(read)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    try:
        return subprocess.run([sys.executable, "-W", "error", "-m", "chainrule", *args], stdout=write,
                              stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    finally:
        os.close(write)


@pytest.mark.parametrize(("args", "status"), [
    (("explain", "x*x", "--at", "x=1"), 141), (("graph", "x*sin(x)", "--at", "x=0.5"), 141),
    (("explain", "x*x", "--at", "x=1", "--format", "json"), 141),
    (("--help",), 0), (("demo", "--help"), 0),  # argparse itself ignores a failed write of its help
])
def test_a_closed_pipe_ends_quietly(args: tuple[str, ...], status: int) -> None:
    result = _broken_pipe_run(*args)
    assert result.returncode == status
    assert result.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored" at exit


def test_a_pipe_read_to_its_end_is_status_0() -> None:
    head = subprocess.run(f"{sys.executable} -m chainrule explain 'x*x' --at x=1 | head -1", shell=True,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert head.stdout == "f(x) = x*x   at x = 1\n" and head.stderr == ""


def test_explain_says_when_the_point_is_a_kink(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "relu(x)", "--at", "x=0"]) == 0
    check = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("df/dx:"))
    assert check.strip() == (
        "df/dx: chain rule 0, central difference 0.5 (h = 1e-05), difference 0.5 -- x = 0 is a kink of f: the "
        "one-sided differences disagree (0 from the left, 1 from the right), so the chain rule (the value the "
        "primitives take there by convention) and the central difference (the average of the two sides) must differ")
    assert cli.main(["explain", "relu(x)", "--at", "x=0.5"]) == 0
    assert "kink" not in capsys.readouterr().out


def test_no_command_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "explain" in capsys.readouterr().err
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("chainrule ")
    assert cli.main(["explain", "--help"]) == 0
    assert "1/(1+exp(-x))" in capsys.readouterr().out
    assert cli.main(["explain", "--bogus", "x"]) == 2


def test_explain_values_may_be_constant_expressions(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explain", "sin(x)", "--at", "x=-pi/2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["at"]["x"] == -math.pi / 2 and data["value"] == -1.0


# ---- chainrule graph ------------------------------------------------------------------------------------------------
def test_graph_prints_dot_to_stdout() -> None:
    result = _run("graph", "1/(1+exp(-x))", "--at", "x=0.5")
    assert result.returncode == 0, result.stderr
    dot = result.stdout
    assert dot.startswith("digraph chainrule {")
    s = sigma(0.5)
    assert f'label="x\\nvalue 0.5\\ngrad {s * (1 - s):.6g}"' in dot
    assert 'label="dt1/dx = -1"' in dot and "t4 = 1 / t3" in dot


def test_graph_writes_dot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.dot"
    assert cli.main(["graph", "x*sin(x)", "--at", "x=0.5", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("digraph chainrule {")
    assert capsys.readouterr().out == f"wrote {out}\n"


def test_graph_without_graphviz_writes_dot_and_says_how_to_install(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: None)
    out = tmp_path / "graph.svg"
    assert cli.main(["graph", "x*sin(x)", "--at", "x=0.5", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Graphviz's 'dot' program was not found" in err
    assert "apt-get install graphviz" in err and "brew install graphviz" in err
    assert not out.exists()
    assert (tmp_path / "graph.dot").read_text(encoding="utf-8").startswith("digraph chainrule {")


def test_graph_without_graphviz_in_a_subprocess(tmp_path: Path) -> None:
    result = _run("graph", "x*sin(x)", "--at", "x=0.5", "-o", "graph.png", cwd=tmp_path, path=str(tmp_path))
    assert result.returncode == 1
    assert "apt-get install graphviz" in result.stderr
    assert (tmp_path / "graph.dot").exists() and not (tmp_path / "graph.png").exists()


def test_graph_draws_svg_with_graphviz(tmp_path: Path) -> None:
    result = _run("graph", "x*sin(x)", "--at", "x=0.5", "-o", "graph.svg", cwd=tmp_path)
    if shutil.which("dot") is None:  # the machine has no Graphviz: the missing-dot path, tested above, ran
        assert result.returncode == 1 and (tmp_path / "graph.dot").exists()
        return
    assert result.returncode == 0, result.stderr
    assert result.stdout == "wrote graph.dot and graph.svg\n"
    svg = (tmp_path / "graph.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "dt2/dt1 = 0.5" in svg


def test_graph_reports_a_failing_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: something broke' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda name, *args, **kwargs: str(fake))
    assert cli.main(["graph", "x", "--at", "x=1", "-o", str(tmp_path / "g.png")]) == 1
    err = capsys.readouterr().err
    assert "dot failed" in err and "something broke" in err


def test_graph_of_a_constant(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["graph", "2*3"]) == 0
    assert 'label="constant\\nvalue 6' in capsys.readouterr().out


def test_the_parser_accepts_one_more_subcommand() -> None:
    """How ``demo`` will be added: one function in COMMANDS."""

    def add_hello(subparsers: object) -> None:
        p = subparsers.add_parser("hello")  # type: ignore[attr-defined]
        p.set_defaults(handler=lambda args: 7)

    cli.COMMANDS.append(add_hello)
    try:
        assert cli.main(["hello"]) == 7
    finally:
        cli.COMMANDS.remove(add_hello)
