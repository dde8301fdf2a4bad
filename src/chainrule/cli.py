"""The ``chainrule`` command: ``chainrule demo``, ``chainrule explain`` and ``chainrule graph``.

Each subcommand is one ``add_<name>_command(subparsers)`` function that adds its parser and sets ``handler``, a
function from the parsed arguments to an exit status; ``main`` dispatches. Adding a command (``demo``) means
writing one such function and listing it in ``COMMANDS``.

Exit statuses: 0 done; 1 a run-time failure (a file that could not be written, Graphviz missing or failing);
2 a usage error (a bad option, an expression outside the language), with a one-line message on stderr -- for an
expression, followed by the expression and a caret under the offending column; 141 (128 + SIGPIPE, as a shell
reports for other tools) when the reader of the output went away (``chainrule explain ... | head -1``), without a
traceback.
"""

from __future__ import annotations

import argparse
import keyword
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .demo import add_demo_command
from .explain import explain
from .expr import CONSTANTS, FUNCTIONS, Expression, ExpressionError, parse
from .graph import to_dot
from .tensor import Tensor

__all__ = ["COMMANDS", "add_explain_command", "add_graph_command", "build_parser", "main"]

_RENDERED = (".svg", ".png", ".pdf")
_INSTALL_GRAPHVIZ = (
    "install Graphviz to draw it (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz; "
    "conda: conda install graphviz; Windows: winget install graphviz)"
)


class UsageError(Exception):
    """A mistake in the command line that is not in the expression itself: exit status 2, message on stderr."""


# ---- option types: argparse refuses a bad value with a usage error (exit status 2) before anything runs --------------
def positive_float(text: str) -> float:
    """An argparse type: a finite number greater than 0 (a learning rate, a step)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text.strip()!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text.strip()}")
    return value


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number no smaller than ``minimum``."""

    def parse_int(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text.strip()!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse_int


def _split_pairs(item: str) -> list[str]:
    """``x=1,y=maximum(1, 2)`` -> ["x=1", "y=maximum(1, 2)"]: split at the commas outside any brackets, so that a
    value with commas inside (a two-argument function, or a list someone tried) stays whole."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(item):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            parts.append(item[start:i])
            start = i + 1
    return [*parts, item[start:]]


def _at(items: Sequence[str] | None) -> dict[str, float]:
    """``--at x=0.5,y=2`` (repeatable) as {name: value}; a value may be a constant expression (``pi/4``, ``-1e-3``).

    Every error quotes the whole ``--at`` argument as the user typed it."""
    values: dict[str, float] = {}
    for item in items or ():
        given = f"--at {item.strip()!r}"
        for part in _split_pairs(item):
            name, eq, text = part.partition("=")
            name, text = name.strip(), text.strip()
            if not eq or not name or not text:
                raise UsageError(f"{given}: --at takes NAME=VALUE pairs separated by commas (e.g. --at x=0.5,y=2), "
                                 f"got {part.strip()!r}")
            if not name.isidentifier() or keyword.iskeyword(name):
                raise UsageError(f"{given}: {name!r} is not a variable name")
            if name in FUNCTIONS or name in CONSTANTS:
                kind = "function" if name in FUNCTIONS else "constant"
                raise UsageError(f"{given}: {name!r} is a {kind}, not a variable; choose another name")
            if name in values:
                raise UsageError(f"{given}: gives {name!r} twice")
            try:
                value = float(np.asarray(parse(text, variables=()).evaluate({})))
            except ExpressionError:
                raise UsageError(f"{given}: the value of {name}, {text!r}, is not a number: expected a number "
                                 "(one per variable), such as 0.5, -2, 1e-3 or pi/4") from None
            if not np.isfinite(value):
                raise UsageError(f"{given}: the value of {name}, {text!r}, is not finite")
            values[name] = value
    return values


def _expression_and_point(args: argparse.Namespace) -> tuple[Expression, dict[str, float]]:
    expression = parse(args.expression.strip())
    values = _at(args.at)
    missing = [v for v in expression.variables if v not in values]
    if missing:
        name = missing[0]
        given = ",".join([*(f"{v}={values[v]:g}" for v in values), *(f"{v}=..." for v in missing)])
        raise ExpressionError(f"no value for '{name}': give it with --at {given}", expression.text,
                              expression.columns[name])
    return expression, values


# ---- chainrule explain --------------------------------------------------------------------------------------------
def add_explain_command(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "explain",
        help="write out the chain rule for an expression at a point",
        description="Evaluate EXPRESSION at a point and write out its derivative the way the chain rule builds it: "
        "each intermediate node with its value, each local derivative along an edge, their product along each "
        "path from a variable to the output and the sum over paths; then check it against a central finite "
        "difference.",
        epilog="examples:\n"
        '  chainrule explain "1/(1+exp(-x))" --at x=0.5       the seed: sigmoid\'s derivative\n'
        '  chainrule explain "x*sin(x)" --at x=0.5            two paths, summed\n'
        '  chainrule explain "x*y + tanh(x)/y" --at x=1,y=2   a gradient\n'
        '  chainrule explain "-x**2" --at x=pi/4              constants and expressions as values\n\n'
        "the language: numbers, variables, pi, e, + - * / ** and unary -, parentheses, and the functions\n"
        + _wrap(", ".join(sorted(FUNCTIONS)), "  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("expression", metavar="EXPRESSION", help='the expression, e.g. "1/(1+exp(-x))"')
    p.add_argument("--at", action="append", metavar="NAME=VALUE,...",
                   help="the point: a value for each variable, e.g. x=0.5,y=2 (repeatable)")
    p.add_argument("--format", choices=("text", "markdown", "json"), default="text", help="output format")
    p.add_argument("--h", type=positive_float, default=None, metavar="STEP",
                   help="finite-difference step (default 1e-5 * max(1, |x|))")
    p.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    expression, values = _expression_and_point(args)
    names = list(values)
    try:
        result = explain(expression.function(names), *values.values(), names=names, label=expression.text, h=args.h)
    except ValueError as error:  # the one a command line can cause: a --h too small to move the point
        raise UsageError(f"--h {args.h:g}: {str(error).removeprefix('explain: ')}") from None
    if args.format == "json":
        print(result.to_json())
    elif args.format == "markdown":
        print(result.to_markdown())
    else:
        print(result)
    return 0


# ---- chainrule graph ----------------------------------------------------------------------------------------------
def add_graph_command(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "graph",
        help="draw the computation graph of an expression (Graphviz DOT, SVG, PNG)",
        description="Evaluate EXPRESSION at a point and write its computation graph, with values and gradients on "
        "the nodes and local derivatives on the edges, as Graphviz DOT. Without -o the DOT source goes to "
        "stdout. With -o FILE.svg (or .png, .pdf) the DOT source is written beside it as FILE.dot and drawn "
        "with Graphviz's dot program when it is installed.",
        epilog="examples:\n"
        '  chainrule graph "x*sin(x)" --at x=0.5 -o graph.svg\n'
        '  chainrule graph "1/(1+exp(-x))" --at x=0.5 | dot -Tpng -o sigmoid.png',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("expression", metavar="EXPRESSION", help='the expression, e.g. "x*sin(x)"')
    p.add_argument("--at", action="append", metavar="NAME=VALUE,...",
                   help="the point: a value for each variable, e.g. x=0.5,y=2 (repeatable)")
    p.add_argument("-o", "--output", metavar="FILE", default=None,
                   help="FILE.dot, or FILE.svg / .png / .pdf (DOT written beside it); default: DOT to stdout")
    p.add_argument("--max-nodes", type=int_at_least(2), default=200, metavar="N",
                   help="collapse the drawing beyond N nodes (default 200)")
    p.set_defaults(handler=_run_graph)


def _run_graph(args: argparse.Namespace) -> int:
    expression, values = _expression_and_point(args)
    out_path = Path(args.output) if args.output else None
    if out_path is not None and out_path.suffix.lower() not in (".dot", ".gv", *_RENDERED):
        raise UsageError(f"-o {args.output}: unknown file type {out_path.suffix!r}; use .dot, .svg, .png or .pdf")
    tensors = {name: Tensor(np.float64(v), requires_grad=True) for name, v in values.items()}
    out = expression.evaluate(tensors)
    if not isinstance(out, Tensor):
        out = Tensor(np.asarray(out, dtype=np.float64))
    source = to_dot(out, tensors, max_nodes=args.max_nodes)
    if out_path is None:
        sys.stdout.write(source)
        return 0
    suffix = out_path.suffix.lower()
    dot_path = out_path if suffix in (".dot", ".gv") else out_path.with_suffix(".dot")
    try:
        dot_path.write_text(source, encoding="utf-8")
    except OSError as error:
        print(f"chainrule graph: error: cannot write {dot_path}: {error.strerror or error}", file=sys.stderr)
        return 1
    if dot_path == out_path:
        print(f"wrote {dot_path}")
        return 0
    dot = shutil.which("dot")
    if dot is None:
        print(f"wrote {dot_path}", file=sys.stderr)
        print(f"chainrule graph: {out_path} not drawn: Graphviz's 'dot' program was not found; {_INSTALL_GRAPHVIZ}, "
              f"then rerun, or draw it yourself: dot -T{suffix[1:]} {dot_path} -o {out_path}", file=sys.stderr)
        return 1
    try:
        done = subprocess.run([dot, f"-T{suffix[1:]}", str(dot_path), "-o", str(out_path)], capture_output=True,
                              text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"chainrule graph: error: running {dot} failed: {error}", file=sys.stderr)
        return 1
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        print(f"chainrule graph: error: dot failed on {dot_path}" + (f": {detail[-1]}" if detail else ""),
              file=sys.stderr)
        return 1
    print(f"wrote {dot_path} and {out_path}")
    return 0


# ---- the command ----------------------------------------------------------------------------------------------------
COMMANDS: list[Callable[[Any], None]] = [add_demo_command, add_explain_command, add_graph_command]
"""The subcommands, in the order ``chainrule --help`` lists them."""

_EXPRESSION_COMMANDS = {"explain", "graph"}  # their first positional argument may start with "-"


def _wrap(text: str, indent: str, width: int = 78) -> str:
    lines, line = [], indent
    for word in text.split(" "):
        if len(line) + len(word) > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += word + " "
    lines.append(line.rstrip())
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule", description="chainrule: backpropagation as a machine applies the chain rule."
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def _protect_expression(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Let an expression start with "-" (``chainrule explain -x**2 --at x=1``): argparse would take it for an
    option. Any token after an expression command that starts with "-" and is not one of its options gets a
    leading space, which argparse treats as a positional and the expression parser strips."""
    if not argv or argv[0] not in _EXPRESSION_COMMANDS:
        return argv
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[argv[0]]
    options = {s for action in sub._actions for s in action.option_strings}
    result = argv[:1]
    for k, token in enumerate(argv[1:], 1):
        if token == "--":
            return result + argv[k:]
        if token.startswith("-") and token.split("=", 1)[0] not in options:
            token = " " + token
        result.append(token)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``chainrule`` command with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        status = _dispatch(argv)
        sys.stdout.flush()  # a reader that went away shows here, inside the try, rather than at exit
        return status
    except BrokenPipeError:
        # stop quietly, as Unix tools do; stdout goes to devnull so that Python's own flush at exit does not fail
        # again (the recipe of the signal module's documentation, "Note on SIGPIPE")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    tokens = _protect_expression(parser, list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser.parse_args(tokens)
    except SystemExit as exit_:  # argparse's usage errors (2), --help and --version (0)
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except ExpressionError as error:
        print(f"chainrule {args.command}: error: {error}", file=sys.stderr)
        print(error.pointer(), file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"chainrule {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
