"""``explain`` writes the chain rule out and gets the numbers right; the expression language is parsed, never evaluated,
and its parser only ever raises ``ExpressionError`` (fuzzed with hypothesis over random strings and random trees)."""

from __future__ import annotations

import ast
import builtins
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.explain import MAX_PATHS, Explanation, explain
from chainrule.expr import FUNCTIONS, MAX_LENGTH, Expression, ExpressionError, parse
from chainrule.graph import fmt


def sigma(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# ---- the seed: sigmoid as 1 / (1 + exp(-x)) ----------------------------------------------------------------------
@pytest.fixture
def seed() -> Explanation:
    return explain(lambda x: 1 / (1 + cr.exp(-x)), 0.5, label="1/(1+exp(-x))")


def test_rows_are_the_nodes_in_evaluation_order(seed: Explanation) -> None:
    assert [(r.name, r.formula, r.operation) for r in seed.rows] == [
        ("t1", "-x", "negative"), ("t2", "exp(t1)", "exp"), ("t3", "1 + t2", "add"), ("t4", "1 / t3", "divide")]
    t = 1 + math.exp(-0.5)
    assert [r.value for r in seed.rows] == pytest.approx([-0.5, math.exp(-0.5), t, 1 / t], rel=1e-15)
    assert [r.output for r in seed.rows] == [False, False, False, True]
    assert seed.value == pytest.approx(sigma(0.5), rel=1e-15)


def test_local_derivatives_are_the_seeds(seed: Explanation) -> None:
    t = 1 + math.exp(-0.5)
    edges = {e.label: e for e in seed.edges}
    assert list(edges) == ["dt1/dx", "dt2/dt1", "dt3/dt2", "dt4/dt3"]
    assert edges["dt1/dx"].value == -1.0
    assert edges["dt2/dt1"].value == pytest.approx(math.exp(-0.5), rel=1e-15)
    assert edges["dt3/dt2"].value == 1.0
    assert edges["dt4/dt3"].value == pytest.approx(-1 / t**2, rel=1e-15)  # the seed's dsigma/dt = -1/t^2
    assert edges["dt4/dt3"].formula == "-1/t3**2"
    assert edges["dt2/dt1"].formula == "exp(t1)"


def test_the_derivative_is_the_product_along_the_path(seed: Explanation) -> None:
    (path,) = seed.paths["x"]
    assert path.nodes == ("x", "t1", "t2", "t3", "t4")
    assert [e.label for e in path.edges] == ["dt4/dt3", "dt3/dt2", "dt2/dt1", "dt1/dx"]  # dsigma/dt * dt/dx order
    assert path.product == pytest.approx(math.prod(e.value for e in path.edges), rel=1e-15)
    expected = sigma(0.5) * (1 - sigma(0.5))
    assert seed.gradient["x"] == pytest.approx(expected, rel=1e-14)
    assert path.product == pytest.approx(expected, rel=1e-14)
    assert seed.path_counts == {"x": 1}


def test_finite_difference_check(seed: Explanation) -> None:
    assert seed.finite_difference["x"] == pytest.approx(seed.gradient["x"], abs=1e-9)
    assert seed.difference["x"] < 1e-9
    assert 0 < seed.h["x"] < 1e-4


def test_text_shows_the_chain(seed: Explanation) -> None:
    text = str(seed)
    assert text.splitlines()[0] == "f(x) = 1/(1+exp(-x))   at x = 0.5"
    for piece in ["t4 = 1 / t3", "divide", "0.6224593312", "dt4/dt3 = -1/t3**2", "-0.387455619",
                  "x -> t1 -> t2 -> t3 -> t4", "df/dx = dt4/dt3 * dt3/dt2 * dt2/dt1 * dt1/dx",
                  "= (-0.387455619) * 1 * 0.6065306597 * (-1)", "= 0.2350037122", "central difference"]:
        assert piece in text, piece
    assert repr(seed) == "<Explanation of f(x) at x = 0.5: df/dx = 0.2350037122>"


def test_markdown_and_json(seed: Explanation) -> None:
    md = seed._repr_markdown_()
    assert md == seed.to_markdown()
    assert "| t4 | `1 / t3` | divide | 0.6224593312 (= f) |" in md
    assert "| dt4/dt3 | `-1/t3**2` | -0.387455619 |" in md
    data = json.loads(seed.to_json())
    assert data["gradient"]["x"] == seed.gradient["x"]
    assert [r["name"] for r in data["rows"]] == ["t1", "t2", "t3", "t4"]
    assert data["paths"]["x"][0]["edges"] == ["dt4/dt3", "dt3/dt2", "dt2/dt1", "dt1/dx"]
    assert data["function"] == "1/(1+exp(-x))"


# ---- several paths, several variables ----------------------------------------------------------------------------
def test_two_paths_are_summed() -> None:
    e = explain(lambda x: x * cr.sin(x), 0.5)
    direct, through_sin = e.paths["x"]
    assert direct.nodes == ("x", "t2") and direct.product == pytest.approx(math.sin(0.5), rel=1e-15)
    assert through_sin.nodes == ("x", "t1", "t2")
    assert through_sin.product == pytest.approx(0.5 * math.cos(0.5), rel=1e-15)
    assert e.gradient["x"] == pytest.approx(math.sin(0.5) + 0.5 * math.cos(0.5), rel=1e-14)
    text = str(e)
    assert "x reaches f along 2 paths" in text
    assert "path 1: x -> t2" in text and "path 2: x -> t1 -> t2" in text
    assert "df/dx = 0.4794255386 + 0.4387912809 = 0.9182168195" in text


def test_the_same_input_twice_is_two_edges() -> None:
    e = explain(lambda x: x * x, 3.0)
    assert [ed.label for ed in e.edges] == ["dt1/dx [1]", "dt1/dx [2]"]
    assert e.path_counts["x"] == 2
    assert e.gradient["x"] == 6.0


def test_several_variables_give_a_gradient() -> None:
    def g(x: Any, y: Any) -> Any:
        return x * y + cr.tanh(x) / y

    f = g
    e = explain(g, 1.0, 2.0)
    assert list(e.variables) == ["x", "y"]
    x, y = cr.tensor(1.0, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    gx, gy = cr.engine.grad(f(x, y), [x, y])
    assert e.gradient == {"x": pytest.approx(float(gx), rel=1e-14), "y": pytest.approx(float(gy), rel=1e-14)}
    assert e.gradient["x"] == pytest.approx(2 + (1 - math.tanh(1) ** 2) / 2, rel=1e-14)
    assert e.path_counts == {"x": 2, "y": 2}
    assert "Gradient: (df/dx, df/dy) = (" in str(e)
    assert all(d < 1e-8 for d in e.difference.values())
    assert e.label == "g(x, y)"  # a named function is shown by its name
    assert str(e).startswith("f(x, y) = g(x, y)   at x = 1, y = 2")


def test_exponentially_many_paths_are_counted_not_listed() -> None:
    def f(x: Any) -> Any:
        for _ in range(20):
            x = x * x  # each squaring doubles the paths: 2**20 in all
        return x

    e = explain(f, 1.0)
    assert e.path_counts["x"] == 2**20
    assert len(e.paths["x"]) == MAX_PATHS
    assert e.gradient["x"] == 2.0**20  # d(x^(2^20))/dx at 1
    assert f"{2**20 - MAX_PATHS} more paths" in str(e)


def test_variables_that_do_not_reach_the_output() -> None:
    e = explain(lambda x, y: cr.exp(x), 0.0, 5.0)
    assert e.gradient == {"x": 1.0, "y": 0.0}
    assert e.paths["y"] == () and e.path_counts["y"] == 0
    assert "df/dy = 0: y does not reach the output." in str(e)


def test_identity_and_constant_functions() -> None:
    identity = explain(lambda x: x, 2.0)
    assert identity.rows == () and identity.gradient == {"x": 1.0}
    assert identity.paths["x"][0].nodes == ("x",)
    constant = explain(lambda x: 3.0, 2.0)
    assert constant.rows == () and constant.gradient == {"x": 0.0} and constant.value == 3.0


def test_names_and_defaults() -> None:
    assert list(explain(cr.sigmoid, 0.5).variables) == ["x"]
    assert list(explain(cr.arctan2, 0.5, 1.0).variables) == ["x1", "x2"]
    assert list(explain(lambda a, b: a * b, 1.0, 2.0, names=["u", "v"]).variables) == ["u", "v"]
    # a variable named like a node: nodes take another letter
    e = explain(lambda t1: cr.sin(t1) * 2, 0.3)
    assert [r.name for r in e.rows] == ["u1", "u2"]
    with pytest.raises(ValueError, match="2 names for 1 arguments"):
        explain(cr.sin, 1.0, names=["a", "b"])
    with pytest.raises(ValueError, match="must differ"):
        explain(lambda a, b: a * b, 1.0, 2.0, names=["a", "a"])


def test_the_sigmoid_primitive_uses_the_seeds_result() -> None:
    e = explain(cr.sigmoid, 0.5)
    (edge,) = e.edges
    assert edge.formula == "sigmoid(x)*(1 - sigmoid(x))"
    assert edge.value == pytest.approx(sigma(0.5) * (1 - sigma(0.5)), rel=1e-15)


def test_inputs_are_float64_and_leaves_of_f_are_constants() -> None:
    w = cr.tensor(np.float32(2.0), requires_grad=True)
    e = explain(lambda x: w * x, np.float32(0.1))
    assert e.variables == {"x": pytest.approx(0.1, rel=1e-7)}
    assert e.constants == {"leaf1": 2.0}
    assert e.rows[0].formula == "leaf1 * x"
    assert w.grad is None  # explain accumulates nothing into .grad


def test_arrays_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match=r"one-element inputs, but x has shape \(3,\)"):
        explain(cr.sin, np.ones(3))
    with pytest.raises(ValueError, match=r"must return one number, got shape \(3,\)"):
        explain(lambda x: x * cr.ones(3), 1.0)
    with pytest.raises(ValueError, match=r"t1 = .* has shape \(2,\).*cr.to_dot"):
        explain(lambda x: (x * cr.ones(2)).sum(), 1.0)
    # one-element arrays of any shape are fine, and kwargs show in the formula
    e = explain(lambda x: cr.sum(cr.exp(x), axis=0), np.array([0.0]))
    assert [r.formula for r in e.rows] == ["exp(x)", "sum(t1, axis=0)"]
    assert e.gradient["x"] == 1.0


def test_points_outside_the_domain_give_nan_not_warnings() -> None:
    e = explain(lambda x: cr.log(x), -1.0)  # pytest turns warnings into errors
    assert math.isnan(e.value) and math.isnan(e.finite_difference["x"])
    assert "not finite" in str(e)
    data = json.loads(e.to_json())  # strict JSON: non-finite numbers as strings
    assert data["value"] == "nan"


def test_kinks_show_the_decided_value_and_the_disagreement() -> None:
    e = explain(cr.relu, 0.0)  # relu'(0) = 0 by decision; a central difference sees the average slope 1/2
    assert e.gradient == {"x": 0.0}
    assert e.finite_difference["x"] == pytest.approx(0.5)
    assert "difference 0.5" in str(e)
    e = explain(cr.sqrt, 0.0)  # sqrt'(0) = inf (IEEE), f(0 - h) is nan
    assert e.gradient == {"x": math.inf} and math.isnan(e.finite_difference["x"])


@pytest.mark.parametrize(("text", "x", "left", "right"), [
    ("relu(x)", 0.0, 0.0, 1.0), ("abs(x)", 0.0, -1.0, 1.0), ("maximum(x, 0.5)", 0.5, 0.0, 1.0),
    ("leaky_relu(x)", 0.0, 0.01, 1.0), ("2 + 3*relu(x - 1)", 1.0, 0.0, 3.0), ("minimum(x, y)", 2.0, 1.0, 0.0),
    ("relu(x)*1e-200", 0.0, 0.0, 1e-200),
])
def test_kinks_are_found_by_the_one_sided_differences(text: str, x: float, left: float, right: float) -> None:
    """Any primitive's kink: the one-sided differences disagree, by an amount that does not shrink with h."""
    expression = parse(text)
    e = explain(expression.function(), x, *[2.0] * (len(expression.variables) - 1), names=expression.variables)
    (got_left, got_right) = e.kinks["x"]
    assert got_left == pytest.approx(left, rel=1e-6, abs=1e-9) and got_right == pytest.approx(right, rel=1e-6)
    check = next(line for line in str(e).splitlines() if line.strip().startswith("df/dx:"))
    assert f"x = {fmt(x)} is a kink of f: the one-sided differences disagree" in check
    assert e.to_dict()["kinks"]["x"] == {"left": e.kinks["x"][0], "right": e.kinks["x"][1]}
    assert "is a kink of f" in e.to_markdown()


@pytest.mark.parametrize("h", [0.0, -1e-3, math.nan, math.inf])
def test_the_step_must_be_positive(h: float) -> None:
    with pytest.raises(ValueError, match="explain: h, the finite-difference step, must be a positive number"):
        explain(lambda x: x * x, 1.0, h=h)


def test_a_step_too_small_to_move_the_point_is_refused() -> None:
    with pytest.raises(ValueError, match=r"explain: the step h = 1e-300 is too small to move y = 1 in float64"):
        explain(lambda x, y: x * y, 0.0, 1.0, h=1e-300)  # x = 0 moves by 1e-300; y = 1 cannot


@pytest.mark.parametrize(("text", "x"), [("relu(x)", 0.5), ("abs(x)", -2.0), ("x**2", 0.0), ("exp(100*x)", 0.0),
                                         ("1/x", 1e-3), ("x**3", 1e6), ("sin(1000*x)", 0.3), ("x*1e200", 1.0),
                                         ("tanh(x)*1e-200", 0.2), ("elu(x)", 0.0), ("cos(x)", 0.0), ("2 + 0*x", 1.0),
                                         ("sqrt(x)", 0.0), ("log(x)", -1.0)])
def test_smooth_points_are_not_kinks(text: str, x: float) -> None:
    e = explain(parse(text).function(), x)
    assert e.kinks == {}
    assert "kink" not in str(e) and e.to_dict()["kinks"] == {}


@pytest.mark.parametrize("text", ["1/(1+exp(-x))", "x*sin(x)", "x**3 - 2*x", "tanh(x)/sqrt(x)", "x**x",
                                  "log(1 + x**2) * cos(x)", "maximum(x, 0.5) + relu(x)", "gelu(x)", "silu(x)*e",
                                  "softplus(-x) + log_sigmoid(x)", "arctan2(x, 2)", "erf(x) + x**0.5"])
def test_gradients_agree_with_the_engine_and_finite_differences(text: str) -> None:
    f = parse(text).function()
    e = explain(f, 0.7)
    x = cr.tensor(0.7, requires_grad=True)
    f(x).backward()
    assert e.gradient["x"] == pytest.approx(float(x.grad), rel=1e-13, abs=1e-15)
    assert e.difference["x"] < 1e-7
    if e.path_counts["x"] <= MAX_PATHS:
        assert sum(p.product for p in e.paths["x"]) == pytest.approx(e.gradient["x"], rel=1e-12)


# ---- the expression language ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "values", "expected"), [
    ("1/(1+exp(-x))", {"x": 0.5}, sigma(0.5)),
    ("x*sin(x)", {"x": 0.5}, 0.5 * math.sin(0.5)),
    ("-x**2", {"x": 3.0}, -9.0),  # ** binds tighter than unary minus, as in Python
    ("2**-1", {}, 0.5),
    ("+x - -y", {"x": 1.0, "y": 2.0}, 3.0),
    ("pi * e", {}, math.pi * math.e),
    ("maximum(x, y) / minimum(x, y)", {"x": 1.0, "y": 4.0}, 4.0),
    ("1e-3 * 2_000 + 0x10", {}, 18.0),
    ("  x  ", {"x": 7.0}, 7.0),
])
def test_expressions_evaluate(text: str, values: dict[str, float], expected: float) -> None:
    assert float(parse(text).evaluate(values)) == pytest.approx(expected, rel=1e-15)


def test_variables_in_order_of_appearance() -> None:
    e = parse("y * exp(x) + y + z")
    assert e.variables == ("y", "x", "z")
    assert e.columns == {"y": 0, "x": 8, "z": 17}
    assert isinstance(e, Expression) and repr(e) == "Expression('y * exp(x) + y + z')"


@pytest.mark.parametrize(("text", "message", "column"), [
    ("exp(x).real", "attribute access", 6),
    ("np.exp(x)", "attribute access", 2),
    ("x[0]", "subscripts", 1),
    ("lambda: 1", "lambdas", 0),
    ("__import__('os').system('ls')", "attribute access", 16),
    ("__import__('os')", "unknown function '__import__'", 0),
    ("open('f')", "unknown function 'open'", 0),
    ("sni(x)", "did you mean 'sin'", 0),
    ("sum(x)", "unknown function 'sum'", 0),
    ("exp(x, y)", "exp() takes 1 argument, got 2", 0),
    ("maximum(x)", "maximum() takes 2 arguments, got 1", 0),
    ("exp(x=1)", "keyword arguments", 4),
    ("exp(*x)", "starred", 4),
    ("x if y else z", "conditional", 0),
    ("x < y", "comparisons", 0),
    ("x and y", "'and' and 'or'", 0),
    ("[x for x in y]", "comprehensions", 0),
    ("(x, y)", "tuples", 0),
    ("'text'", "strings are not allowed", 0),
    ("f'{x}'", "strings", 0),
    ("1j", "complex numbers", 0),
    ("True", "True is not allowed", 0),
    ("None", "None is not allowed", 0),
    ("x // 2", "operator '//' is not allowed", 2),
    ("x % 2", "operator '%'", 2),
    ("(x) @ y", "operator '@'", 4),
    ("~x", "unary", 0),
    ("not x", "unary", 0),
    ("(y := 2)", "assignments", 1),
    ("exp", "'exp' is a function", 0),
    ("pi(2)", "'pi' is not a function", 0),
    ("1e999", "number too large", 0),
    ("(x", "syntax error", 0),
    ("x +", "syntax error", 3),
    ("x + )", "syntax error: unmatched ')'", 4),
    ("import os", "syntax error", 0),
    ("x = 1", "syntax error", 2),
    ("", "empty expression", 0),
    ("x\ny", "unexpected character '\\n'", 1),
    ("x\x00", "unexpected character", 1),
    ("(" * 300 + "x" + ")" * 300, "syntax error: too many nested parentheses", 200),
    ("-" * 5000 + "x", "expression too long", MAX_LENGTH),
])
def test_everything_else_is_an_expression_error(text: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    error = info.value
    assert isinstance(error, ValueError)
    assert message in error.message, error.message
    assert error.column == column, (error.column, error.message)
    assert str(error) == f"{error.message} (column {column + 1})"
    assert "\n" not in str(error)
    _, caret_line = error.pointer().split("\n")
    assert caret_line.endswith("^") and len(caret_line) <= 2 + 72


def test_unknown_names_when_the_variables_are_given() -> None:
    with pytest.raises(ExpressionError, match="unknown name 'y'") as info:
        parse("x * y", variables=["x"])
    assert info.value.column == 4
    with pytest.raises(ExpressionError, match="no value for 'y'"):
        parse("x * y").evaluate({"x": 1.0})


def test_columns_count_characters_not_bytes() -> None:
    with pytest.raises(ExpressionError) as info:
        parse("θ + φ.real")
    assert info.value.column == 5
    assert info.value.pointer() == "  θ + φ.real\n       ^"


def test_parsing_and_evaluating_never_use_eval_or_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    real_compile = builtins.compile
    calls: list[int] = []

    def forbidden(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eval/exec called")

    def parse_only(source: Any, filename: Any, mode: str, flags: int = 0, *args: Any, **kwargs: Any) -> Any:
        # ast.parse is compile(..., flags=PyCF_ONLY_AST): a parse tree, no code object
        assert flags & ast.PyCF_ONLY_AST, "compile called to make code"
        calls.append(flags)
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    x = cr.tensor(0.5, requires_grad=True)
    with monkeypatch.context() as m:
        m.setattr(builtins, "eval", forbidden)
        m.setattr(builtins, "exec", forbidden)
        m.setattr(builtins, "compile", parse_only)
        y = parse("1/(1+exp(-x))").evaluate({"x": x})
        y.backward()
    assert calls  # the parse went through the patched compile, as a parse
    assert float(x.grad) == pytest.approx(sigma(0.5) * (1 - sigma(0.5)))


def test_overflow_and_domain_errors_are_values_not_exceptions() -> None:
    assert math.isinf(float(parse("2**10000").evaluate({})))
    assert math.isnan(float(parse("log(-1)").evaluate({})))
    assert math.isinf(float(parse("1/x").evaluate({"x": 0.0})))
    assert float(parse("-" * 900 + "x").evaluate({"x": 2.0})) == 2.0  # deep but short: no recursion anywhere


# ---- fuzzing: the parser raises ExpressionError and nothing else ----------------------------------------------------
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
_PIECES = ["x", "y", "e", "pi", "exp", "sin", "maximum", "__import__", "lambda", "os", "(", ")", "[", "]", "{", "}",
           "+", "-", "*", "/", "**", "//", "%", "@", ".", ",", ":", "=", "==", "'", '"', "\\", "#", "!", "~", " ",
           "0", "1", "2.5", "1e9", "1e999", "0x1f", "_", "if", "else", "for", "in", "not", "and", "await", "yield",
           "θ", "\n", "\t", "\x00", "j", "real", "f'", "b'", "...", ";", "$", "`", "?"]


def _parse_or_error(text: str) -> None:
    try:
        expression = parse(text)
    except ExpressionError as error:
        assert 0 <= error.column <= len(text)
        assert "\n" not in str(error)
        error.pointer()
        return
    values = {v: cr.tensor(0.5, requires_grad=True) for v in expression.variables}
    expression.evaluate(values)  # a parsed expression always evaluates (nan or inf at worst)


@FUZZ
@given(st.text(max_size=60))
def test_fuzz_random_text(text: str) -> None:
    _parse_or_error(text)


@FUZZ
@given(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join))
def test_fuzz_random_token_soup(text: str) -> None:
    _parse_or_error(text)


@FUZZ
@given(st.text(min_size=MAX_LENGTH - 5, max_size=MAX_LENGTH + 5, alphabet="x+-*/()1 "))
def test_fuzz_long_inputs(text: str) -> None:
    _parse_or_error(text)


_NAMES = st.sampled_from(["x", "y", "pi", "e", "exp", "sin", "maximum", "sum", "os", "__import__", "lambda_"])
_OPS = st.sampled_from([ast.Add(), ast.Sub(), ast.Mult(), ast.Div(), ast.Pow(), ast.FloorDiv(), ast.Mod(),
                        ast.MatMult(), ast.BitAnd(), ast.LShift()])
_CONSTANTS = st.one_of(st.integers(-10**30, 10**30), st.floats(allow_nan=False), st.text(max_size=3),
                       st.booleans(), st.none(), st.complex_numbers(allow_nan=False, allow_infinity=False),
                       st.just(...), st.binary(max_size=2))


def _random_trees(allowed_only: bool) -> st.SearchStrategy[ast.expr]:
    leaves = st.one_of(
        _NAMES.filter(lambda n: n in ("x", "y", "pi", "e")).map(lambda n: ast.Name(n, ast.Load())) if allowed_only
        else _NAMES.map(lambda n: ast.Name(n, ast.Load())),
        (st.floats(0, 1e6) if allowed_only else _CONSTANTS).map(lambda v: ast.Constant(v)),
    )

    def extend(children: st.SearchStrategy[ast.expr]) -> st.SearchStrategy[ast.expr]:
        ops = st.sampled_from([ast.Add(), ast.Sub(), ast.Mult(), ast.Div()]) if allowed_only else _OPS
        unary = st.sampled_from([ast.USub(), ast.UAdd()] if allowed_only else [ast.USub(), ast.Not(), ast.Invert()])
        one_arg = st.sampled_from(["exp", "sin", "tanh", "sigmoid", "softplus"])
        calls = st.builds(lambda f, a: ast.Call(ast.Name(f, ast.Load()), [a], []), one_arg, children)
        allowed = [
            st.builds(lambda a, op, b: ast.BinOp(a, op, b), children, ops, children),
            st.builds(lambda op, a: ast.UnaryOp(op, a), unary, children),
            calls,
            st.builds(lambda a, b: ast.Call(ast.Name("maximum", ast.Load()), [a, b], []), children, children),
        ]
        if allowed_only:
            return st.one_of(allowed)
        return st.one_of(
            *allowed,
            st.builds(lambda f, args: ast.Call(f, args, []), children, st.lists(children, max_size=3)),
            st.builds(lambda a: ast.Call(ast.Name("exp", ast.Load()), [], [ast.keyword("x", a)]), children),
            st.builds(lambda a: ast.Call(ast.Name("exp", ast.Load()), [ast.Starred(a, ast.Load())], []), children),
            st.builds(lambda a: ast.Attribute(a, "real", ast.Load()), children),
            st.builds(lambda a, b: ast.Subscript(a, b, ast.Load()), children, children),
            st.builds(lambda a, b: ast.Compare(a, [ast.Lt()], [b]), children, children),
            st.builds(lambda a, b: ast.BoolOp(ast.And(), [a, b]), children, children),
            st.builds(lambda a, b, c: ast.IfExp(a, b, c), children, children, children),
            st.builds(lambda a: ast.Lambda(ast.arguments([], [], None, [], [], None, []), a), children),
            st.builds(lambda xs: ast.Tuple(xs, ast.Load()), st.lists(children, max_size=3)),
            st.builds(lambda xs: ast.List(xs, ast.Load()), st.lists(children, max_size=3)),
            st.builds(lambda a: ast.ListComp(a, [ast.comprehension(ast.Name("i", ast.Store()), a, [], 0)]),
                      children),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def _unparse(tree: ast.expr) -> str:
    return ast.unparse(ast.fix_missing_locations(ast.Expression(tree)))


@FUZZ
@given(_random_trees(allowed_only=False))
def test_fuzz_random_trees(tree: ast.expr) -> None:
    _parse_or_error(_unparse(tree))


def _reference(node: ast.expr, values: dict[str, float]) -> Any:
    """An independent evaluation of a whitelisted tree with NumPy float64 arithmetic."""
    if isinstance(node, ast.Constant):
        return np.float64(node.value)
    if isinstance(node, ast.Name):
        return np.float64(values.get(node.id, {"pi": math.pi, "e": math.e}.get(node.id)))
    if isinstance(node, ast.UnaryOp):
        value = _reference(node.operand, values)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        a, b = _reference(node.left, values), _reference(node.right, values)
        return {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}[type(node.op)](a, b)
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    args = [_reference(a, values) for a in node.args]
    return {"exp": np.exp, "sin": np.sin, "tanh": np.tanh, "maximum": np.maximum,
            "sigmoid": lambda v: np.exp(-np.logaddexp(0, -v)), "softplus": lambda v: np.logaddexp(0, v)
            }[node.func.id](*args)


@FUZZ
@given(_random_trees(allowed_only=True))
def test_fuzz_the_language_is_accepted_and_means_what_it_says(tree: ast.expr) -> None:
    text = _unparse(tree)
    if len(text) > MAX_LENGTH:
        return
    expression = parse(text)
    values = {"x": 0.5, "y": -1.25}
    got = float(expression.evaluate(values))
    with np.errstate(all="ignore"):
        expected = float(_reference(tree, values))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300, equal_nan=True)


def test_every_function_of_the_language_is_elementwise_and_differentiable() -> None:
    for name, (fn, n) in FUNCTIONS.items():
        args = [cr.tensor(0.3 + 0.2 * k, requires_grad=True) for k in range(n)]
        out = fn(*args)
        assert out.shape == (), name
        out.backward()
        assert all(a.grad is not None for a in args), name
