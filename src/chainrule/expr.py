"""The expression language of ``chainrule explain`` and ``chainrule graph``: parsed, never evaluated.

An expression is a subset of Python's expression syntax: numbers (``2``, ``0.5``, ``1e-3``), variable names, the
constants ``pi`` and ``e``, the operators ``+ - * / **``, unary ``-`` and ``+``, parentheses, and calls of
chainrule's elementwise functions by name with positional arguments (``exp(-x)``, ``maximum(x, y)``; see
``FUNCTIONS``). Python's parser builds the tree; every node of it is checked against that whitelist, and a small
interpreter walks the checked tree calling chainrule's functions. The text never reaches ``eval`` or ``compile``.

Anything else -- attribute access, subscripts, lambdas, comparisons, keyword arguments, strings, unknown names,
syntax errors, input longer than ``MAX_LENGTH`` characters -- raises ``ExpressionError``, a ``ValueError`` that
carries the offending column, and nothing else does.
"""

from __future__ import annotations

import ast
import difflib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .ops import elementwise as _ew

__all__ = ["CONSTANTS", "FUNCTIONS", "MAX_LENGTH", "Expression", "ExpressionError", "parse"]

MAX_LENGTH = 1000
"""The longest expression accepted, in characters."""

_UNARY = (
    "abs", "absolute", "arccos", "arcsin", "arctan", "cos", "cosh", "elu", "erf", "exp", "exp2", "expm1", "gelu",
    "leaky_relu", "log", "log10", "log1p", "log2", "log_sigmoid", "negative", "reciprocal", "relu", "selu", "sigmoid",
    "silu", "sin", "sinh", "softplus", "sqrt", "square", "tan", "tanh",
)
_BINARY = ("add", "arctan2", "divide", "maximum", "minimum", "multiply", "power", "subtract")

FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    **{name: (getattr(_ew, name), 1) for name in _UNARY},
    **{name: (getattr(_ew, name), 2) for name in _BINARY},
}
"""The callable functions: name -> (chainrule function, number of arguments)."""

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_OPERATORS: dict[type[ast.operator], tuple[str, Callable[..., Any]]] = {
    ast.Add: ("+", _ew.add),
    ast.Sub: ("-", _ew.subtract),
    ast.Mult: ("*", _ew.multiply),
    ast.Div: ("/", _ew.divide),
    ast.Pow: ("**", _ew.power),
}

_FORBIDDEN = {
    ast.Attribute: "attribute access (a.b) is not allowed",
    ast.Subscript: "subscripts (a[i]) are not allowed",
    ast.Lambda: "lambdas are not allowed",
    ast.Compare: "comparisons are not allowed",
    ast.BoolOp: "'and' and 'or' are not allowed",
    ast.IfExp: "conditional expressions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.List: "lists are not allowed",
    ast.Tuple: "tuples are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Starred: "starred arguments (*a) are not allowed",
    ast.NamedExpr: "assignments (:=) are not allowed",
    ast.JoinedStr: "strings are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
    ast.Slice: "slices are not allowed",
}


class ExpressionError(ValueError):
    """An expression outside the language, with the 0-based ``column`` where the problem is.

    ``str(error)`` is one line; ``error.pointer()`` shows the expression with a caret under the column.

    >>> from chainrule.expr import parse, ExpressionError
    >>> try:
    ...     parse("exp(x).real")
    ... except ExpressionError as error:
    ...     print(error)
    ...     print(error.pointer())
    attribute access (a.b) is not allowed (column 7)
      exp(x).real
            ^
    """

    def __init__(self, message: str, expression: str, column: int) -> None:
        self.message = message
        self.expression = expression
        self.column = max(0, min(column, len(expression)))
        super().__init__(f"{message} (column {self.column + 1})")

    def pointer(self, width: int = 72) -> str:
        """Two lines: the expression (a window of it when it is long) and a caret under the offending column."""
        text = "".join(c if c.isprintable() else " " for c in self.expression)
        start = 0
        if len(text) > width:
            start = max(0, min(self.column - width // 2, len(text) - width))
            text = text[start:start + width]
            if start > 0:
                text = "..." + text[3:]
            if start + width < len(self.expression):
                text = text[:-3] + "..."
        return f"  {text}\n  {' ' * (self.column - start)}^"


def _char_column(line: str, byte_offset: int) -> int:
    """Python's parse tree counts columns in UTF-8 bytes; people count characters."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


class Expression:
    """A checked expression: ``variables`` in order of first appearance, evaluable with ``evaluate``.

    >>> from chainrule.expr import parse
    >>> e = parse("x * sin(y) + 1")
    >>> e.variables
    ('x', 'y')
    >>> float(e.evaluate({"x": 2.0, "y": 0.0}))
    1.0
    """

    def __init__(self, text: str, program: list[tuple[str, Any]], columns: dict[str, int]) -> None:
        self.text = text
        self._program = program
        self.columns = columns  # variable -> column of its first appearance
        self.variables = tuple(sorted(columns, key=columns.__getitem__))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The expression's value with chainrule's functions: Tensors in, a Tensor (recording a graph) out.

        Floating-point problems (log of a negative number, overflow) give nan or inf silently, as in the math.
        """
        missing = [v for v in self.variables if v not in values]
        if missing:
            name = missing[0]
            raise ExpressionError(f"no value for '{name}'", self.text, self.columns[name])
        stack: list[Any] = []
        with np.errstate(all="ignore"):
            for op, arg in self._program:  # postfix: each instruction pops its operands and pushes its result
                if op == "const":
                    stack.append(arg)
                elif op == "var":
                    stack.append(values[arg])
                elif op == "pos":
                    pass
                else:
                    fn, n = arg
                    operands = stack[len(stack) - n:]
                    del stack[len(stack) - n:]
                    stack.append(fn(*operands))
        return stack[0]

    def function(self, names: Sequence[str] | None = None) -> Callable[..., Any]:
        """The expression as a Python function of ``names`` (default: ``variables``), for ``explain``."""
        order = tuple(self.variables if names is None else names)

        def f(*args: Any) -> Any:
            return self.evaluate(dict(zip(order, args)))

        f.__name__ = "f"
        return f


def parse(text: str, variables: Sequence[str] | None = None) -> Expression:
    """Check ``text`` against the expression language and return it as an ``Expression``; never evaluates it.

    ``variables``, when given, are the only names allowed besides the constants and functions.

    >>> from chainrule.expr import parse
    >>> parse("1/(1+exp(-x))").variables
    ('x',)
    >>> parse("__import__('os')")
    Traceback (most recent call last):
    ...
    chainrule.expr.ExpressionError: unknown function '__import__' (column 1)
    """
    if not isinstance(text, str):
        raise TypeError(f"an expression is a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression too long ({len(text)} characters, at most {MAX_LENGTH})", text,
                              MAX_LENGTH)
    for column, c in enumerate(text):
        if not c.isprintable():
            raise ExpressionError(f"unexpected character {c!r}", text, column)
    lead = len(text) - len(text.lstrip(" "))
    body = text[lead:]
    if not body.strip():
        raise ExpressionError("empty expression", text, len(text))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Python warns about odd literals ("1if"); the checks below decide
            tree = ast.parse(body, mode="eval")
    except SyntaxError as error:
        column = len(text)
        if error.offset is not None and 1 <= error.offset <= len(body) and (error.lineno or 1) == 1:
            column = lead + error.offset - 1
        message = (error.msg or "invalid syntax").replace("'(' was never closed", "unclosed '('")
        raise ExpressionError(f"syntax error: {message}", text, column) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError("expression nested too deeply", text, 0) from None
    return _check(text, body, lead, tree, None if variables is None else set(variables))


def _check(text: str, body: str, lead: int, tree: ast.Expression, allowed: set[str] | None) -> Expression:
    """Walk the tree (iteratively, left to right), reject what is not whitelisted, emit a postfix program."""

    def col(node: ast.AST) -> int:
        if isinstance(node, (ast.Attribute, ast.Subscript)):  # point at the '.' or '[', after the value
            return lead + _operator_column(body, node.value)
        return lead + _char_column(body, getattr(node, "col_offset", 0))

    def fail(message: str, node: ast.AST | int) -> ExpressionError:
        return ExpressionError(message, text, node if isinstance(node, int) else col(node))

    program: list[tuple[str, Any]] = []
    columns: dict[str, int] = {}
    # (node, expanded): a node is first expanded into its operands, then emitted after them
    stack: list[tuple[ast.AST, bool]] = [(tree.body, False)]
    while stack:
        node, expanded = stack.pop()
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                kind = {complex: "complex numbers are", str: "strings are", bytes: "bytes are"}.get(
                    type(value), f"{value!r} is")
                raise fail(f"{kind} not allowed: only real numbers", node)
            try:
                number = float(value)
            except OverflowError:
                raise fail("number too large", node) from None
            if not math.isfinite(number):
                raise fail("number too large", node)
            program.append(("const", number))
        elif isinstance(node, ast.Name):
            name = node.id
            if name in CONSTANTS:
                program.append(("const", CONSTANTS[name]))
            elif name in FUNCTIONS:
                raise fail(f"'{name}' is a function: call it, as {name}(x)", node)
            elif allowed is not None and name not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise fail(f"unknown name '{name}' (the variables are: {known})", node)
            else:
                columns.setdefault(name, col(node))
                program.append(("var", name))
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _OPERATORS:
                raise fail(f"operator '{_operator_text(body, node)}' is not allowed: use + - * / **",
                           lead + _operator_column(body, node.left))
            if expanded:
                program.append(("call", (_OPERATORS[type(node.op)][1], 2)))
            else:
                stack.extend([(node, True), (node.right, False), (node.left, False)])
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise fail("only unary - and + are allowed", node)
            if expanded:
                program.append(("call", (_ew.negative, 1)) if isinstance(node.op, ast.USub) else ("pos", None))
            else:
                stack.extend([(node, True), (node.operand, False)])
        elif isinstance(node, ast.Call):
            if expanded:
                assert isinstance(node.func, ast.Name)
                program.append(("call", FUNCTIONS[node.func.id]))
                continue
            _check_call(node, allowed, fail)
            stack.append((node, True))
            stack.extend((arg, False) for arg in reversed(node.args))
        else:
            raise fail(_FORBIDDEN.get(type(node), f"'{type(node).__name__}' is not allowed"), node)
    return Expression(text, program, columns)


def _check_call(node: ast.Call, allowed: set[str] | None, fail: Callable[[str, ast.AST], ExpressionError]) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        raise fail(_FORBIDDEN.get(type(func), "only functions called by name are allowed"), func)
    name = func.id
    if name not in FUNCTIONS:
        if name in CONSTANTS or (allowed is not None and name in allowed):
            raise fail(f"'{name}' is not a function", func)
        close = difflib.get_close_matches(name, FUNCTIONS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise fail(f"unknown function '{name}'{hint}", func)
    if node.keywords:
        raise fail("keyword arguments are not allowed", node.keywords[0])
    for arg in node.args:
        if isinstance(arg, ast.Starred):
            raise fail("starred arguments (*a) are not allowed", arg)
    n = FUNCTIONS[name][1]
    if len(node.args) != n:
        raise fail(f"{name}() takes {n} argument{'s' if n > 1 else ''}, got {len(node.args)}", node)


def _operator_column(body: str, left: ast.AST) -> int:
    """Where the symbol after an operand starts: the first character after it (and its closing ')')."""
    end = getattr(left, "end_col_offset", None)
    if end is None:
        return _char_column(body, getattr(left, "col_offset", 0))
    i = _char_column(body, end)
    while i < len(body) and body[i] in " )":
        i += 1
    return i


def _operator_text(body: str, node: ast.BinOp) -> str:
    i = _operator_column(body, node.left)
    j = i
    while j < len(body) and body[j] in "/%@&|^<>*":
        j += 1
    return body[i:j] or type(node.op).__name__
