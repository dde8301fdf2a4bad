"""``explain``: the chain rule written out for one evaluation of a function, as the seed derives sigmoid's derivative.

The seed writes sigma(x) = 1/t with t = 1 + e^(-x) and multiplies dsigma/dt by dt/dx. ``explain`` does the same for any
function written with chainrule's functions: it runs the function once on Tensors, names each recorded node
``t1, t2, ...`` in evaluation order, computes each local derivative along an edge (the primitive's own VJP rule,
applied to a unit cotangent), and writes the derivative as the product of the local derivatives along each path from
an input to the output -- and, where an input reaches the output along several paths (``x * sin(x)``), as the sum of
those products: the multivariable chain rule. The sum is checked against the engine's reverse sweep, and the result
against a central finite difference (f(x + h) - f(x - h)) / 2h, the limit definition the seed starts from.

Scope: inputs, output and every intermediate value must have one element (the chain of numbers people write by
hand). For array-valued computations, ``explain`` raises a ``ValueError`` saying which input or node is an array:
explain one element by closing over the rest (for an elementwise ``f``, ``cr.explain(f, x[i])``), or draw the whole
graph with ``cr.to_dot``, which handles arrays. Inputs are converted to float64, so the finite-difference check is
meaningful.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import engine
from .engine import Node
from .graph import Graph, constant_text, fmt
from .tensor import Tensor

__all__ = ["Edge", "Explanation", "Path", "Row", "explain"]

MAX_PATHS = 64
"""The most paths listed per variable; beyond this many, they are counted, and summed by the reverse sweep."""

# d(node)/d(input i) as a formula in the inputs' names: {0}, {1} are the arguments, {out} the node itself
_LOCAL: dict[str, tuple[str, ...]] = {
    "add": ("1", "1"),
    "subtract": ("1", "-1"),
    "multiply": ("{1}", "{0}"),
    "divide": ("1/{1}", "-{0}/{1}**2"),
    "power": ("{1}*{0}**({1} - 1)", "{out}*log({0})"),
    "negative": ("-1",),
    "exp": ("exp({0})",),
    "exp2": ("log(2)*exp2({0})",),
    "expm1": ("exp({0})",),
    "log": ("1/{0}",),
    "log2": ("1/({0}*log(2))",),
    "log10": ("1/({0}*log(10))",),
    "log1p": ("1/(1 + {0})",),
    "sqrt": ("1/(2*sqrt({0}))",),
    "square": ("2*{0}",),
    "reciprocal": ("-1/{0}**2",),
    "absolute": ("sign({0})",),
    "sin": ("cos({0})",),
    "cos": ("-sin({0})",),
    "tan": ("1 + tan({0})**2",),
    "arcsin": ("1/sqrt(1 - {0}**2)",),
    "arccos": ("-1/sqrt(1 - {0}**2)",),
    "arctan": ("1/(1 + {0}**2)",),
    "sinh": ("cosh({0})",),
    "cosh": ("sinh({0})",),
    "tanh": ("1 - tanh({0})**2",),
    "sigmoid": ("sigmoid({0})*(1 - sigmoid({0}))",),
    "softplus": ("sigmoid({0})",),
    "erf": ("2/sqrt(pi)*exp(-{0}**2)",),
    "relu": ("1 if {0} > 0 else 0",),
    "arctan2": ("{1}/({0}**2 + {1}**2)", "-{0}/({0}**2 + {1}**2)"),
}


@dataclass(frozen=True)
class Row:
    """One recorded node: ``name = formula`` (``t3 = 1 + t2``), the primitive, its value, whether it is the output."""

    name: str
    formula: str
    operation: str
    value: float
    output: bool = False


@dataclass(frozen=True)
class Edge:
    """A local derivative d(output)/d(input) along one edge of the graph: ``label`` is ``dt4/dt3``, with ``[k]``
    added when the same input enters a node as several arguments (``x * x``)."""

    output: str
    input: str
    argument: int
    label: str
    formula: str | None
    value: float


@dataclass(frozen=True)
class Path:
    """One path from ``variable`` to the output: ``nodes`` from the variable on, ``edges`` in the chain rule's order
    (the output's end first, as in dsigma/dt * dt/dx), and ``product``, the product of their values."""

    variable: str
    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]
    product: float


@dataclass(frozen=True)
class Explanation:
    """The chain rule written out for ``f`` at one point; ``str()`` for text, ``_repr_markdown_`` for notebooks,
    ``to_dict()`` / ``to_json()`` for programs.

    ``rows``: the recorded nodes in evaluation order. ``edges``: every local derivative. ``paths[v]``: the paths from
    variable ``v`` to the output (at most ``MAX_PATHS`` listed; ``path_counts[v]`` says how many there are).
    ``gradient[v]``: df/dv, the sum over all paths, equal to the engine's reverse sweep. ``finite_difference[v]``:
    the central difference with step ``h[v]``. ``kinks[v]``: where f is not differentiable in ``v`` at the point
    (the one-sided differences disagree, as at relu's 0), the (left, right) one-sided differences; there the chain
    rule gives the value the primitives take by convention and the central difference the average of the two
    sides, so the two must differ.
    """

    label: str | None
    variables: dict[str, float]
    value: float
    output: str
    rows: tuple[Row, ...]
    edges: tuple[Edge, ...]
    paths: dict[str, tuple[Path, ...]]
    path_counts: dict[str, int]
    gradient: dict[str, float]
    finite_difference: dict[str, float]
    h: dict[str, float]
    constants: dict[str, float]
    kinks: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def difference(self) -> dict[str, float]:
        """|chain rule - central difference| for each variable."""
        return {v: abs(self.gradient[v] - self.finite_difference[v]) for v in self.gradient}

    def __repr__(self) -> str:
        grads = ", ".join(f"df/d{v} = {fmt(g)}" for v, g in self.gradient.items())
        return f"<Explanation of {self._signature()} at {self._point()}: {grads}>"

    def _signature(self) -> str:
        return f"f({', '.join(self.variables)})"

    def _header(self, code: str = "") -> str:
        return f"{self._signature()} = {code}{self.label}{code}" if self.label else self._signature()

    def _point(self) -> str:
        return ", ".join(f"{v} = {fmt(x)}" for v, x in self.variables.items()) or "no variables"

    # ---- text ----------------------------------------------------------------------------------------------------
    def __str__(self) -> str:
        lines = [f"{self._header()}   at {self._point()}", ""]
        lines.append("The computation, one primitive per node, in evaluation order:")
        table = [[v, str(fmt(x)), "", "input"] for v, x in self.variables.items()]
        table += [[c, fmt(x), "", "constant leaf"] for c, x in self.constants.items()]
        table += [[r.name, f"{r.formula}", r.operation, fmt(r.value) + ("   = f" if r.output else "")]
                  for r in self.rows]
        widths = [max((len(row[k]) for row in table), default=0) for k in range(3)]
        for name, formula, op, value in table:
            if op:
                lines.append(f"  {name:<{widths[0]}} = {formula:<{widths[1]}}   {op:<{widths[2]}}   = {value}")
            else:
                lines.append(f"  {name:<{widths[0]}} = {formula:<{widths[1]}}   {'':<{widths[2]}}   ({value})")
        if not self.rows:
            lines.append(f"  (nothing recorded: f does not compute with its inputs; f = {fmt(self.value)})"
                         if self.output == "f" else f"  (nothing recorded: f returns {self.output} itself)")
        if self.edges:
            lines += ["", "Local derivatives, one per edge (input -> node):"]
            width = max(len(e.label) for e in self.edges)
            fwidth = max(len(e.formula or "") for e in self.edges)
            for e in self.edges:
                formula = f"{e.formula or '':<{fwidth}}   = " if fwidth else ""
                lines.append(f"  {e.label:<{width}} = {formula}{fmt(e.value)}")
        for v in self.variables:
            lines += ["", *self._chain_text(v)]
        if self.variables:
            lines += ["", "Check against the limit definition, the central difference (f(x + h) - f(x - h)) / 2h:"]
        for v in self.variables:
            lines.append(f"  df/d{v}: chain rule {fmt(self.gradient[v])}, central difference "
                         f"{fmt(self.finite_difference[v])} (h = {fmt(self.h[v], 3)}), "
                         f"difference {fmt(self.difference[v], 2)}"
                         + (f" -- {self._kink_text(v)}" if v in self.kinks else ""))
        if len(self.variables) > 1:
            names = ", ".join(f"df/d{v}" for v in self.variables)
            values = ", ".join(fmt(g) for g in self.gradient.values())
            lines += ["", f"Gradient: ({names}) = ({values})"]
        numbers = [self.value, *self.gradient.values(), *self.finite_difference.values()]
        if not all(math.isfinite(x) for x in numbers):
            lines += ["", "Note: some values are not finite: is the point outside the function's domain?"]
        return "\n".join(lines)

    def _kink_text(self, v: str) -> str:
        left, right = self.kinks[v]
        return (f"{v} = {fmt(self.variables[v])} is a kink of f: the one-sided differences disagree "
                f"({fmt(left, 6)} from the left, {fmt(right, 6)} from the right), so the chain rule (the value the "
                "primitives take there by convention) and the central difference (the average of the two sides) "
                "must differ")

    def _chain_text(self, v: str) -> list[str]:
        paths, count = self.paths[v], self.path_counts[v]
        if count == 0:
            return [f"df/d{v} = 0: {v} does not reach the output."]
        if count == 1:
            p = paths[0]
            lines = [f"The chain rule: df/d{v} is the product of the local derivatives along the path from {v} to f:",
                     "  " + " -> ".join(p.nodes)]
            if not p.edges:
                return [*lines, f"  df/d{v} = 1 (f is {v} itself)"]
            lines.append(f"  df/d{v} = " + " * ".join(e.label for e in p.edges))
            if len(p.edges) > 1:
                lines.append(" " * (len(v) + 7) + "= " + " * ".join(_factor(e.value) for e in p.edges))
            lines.append(" " * (len(v) + 7) + f"= {fmt(p.product)}")
            return lines
        lines = [f"The chain rule: {v} reaches f along {count} paths; df/d{v} is the sum over the paths of the "
                 "product of the local derivatives along each:"]
        for k, p in enumerate(paths, 1):
            lines.append(f"  path {k}: " + " -> ".join(p.nodes))
            product = " * ".join(e.label for e in p.edges)
            if len(p.edges) > 1:
                product += " = " + " * ".join(_factor(e.value) for e in p.edges)
            lines.append(f"    {product} = {fmt(p.product)}")
        if len(paths) < count:
            lines.append(f"  ... and {count - len(paths)} more paths, not listed; the reverse sweep sums all "
                         f"{count} without listing them")
            lines.append(f"  df/d{v} = {fmt(self.gradient[v])}")
        else:
            lines.append(f"  df/d{v} = " + " + ".join(_factor(p.product) for p in paths) +
                         f" = {fmt(self.gradient[v])}")
        return lines

    # ---- markdown ------------------------------------------------------------------------------------------------
    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def to_markdown(self) -> str:
        """The explanation as Markdown tables and lists (what a notebook shows)."""
        out = [f"**{self._header('`')}** at {self._point()}", "",
               "| node | formula | operation | value |", "|---|---|---|---|"]
        out += [f"| {v} | input | | {fmt(x)} |" for v, x in self.variables.items()]
        out += [f"| {c} | constant leaf | | {fmt(x)} |" for c, x in self.constants.items()]
        out += [f"| {r.name} | `{r.formula}` | {r.operation} | {fmt(r.value)}{' (= f)' if r.output else ''} |"
                for r in self.rows]
        if self.edges:
            out += ["", "| local derivative | formula | value |", "|---|---|---|"]
            out += [f"| {e.label} | {'`' + e.formula + '`' if e.formula else ''} | {fmt(e.value)} |"
                    for e in self.edges]
        for v in self.variables:
            out += ["", f"**Chain rule for df/d{v}** ({self.path_counts[v]} path"
                    f"{'' if self.path_counts[v] == 1 else 's'}):", ""]
            for p in self.paths[v]:
                factors = " * ".join(e.label for e in p.edges) or "1"
                out.append(f"- {' -> '.join(p.nodes)}: `{factors}` = {fmt(p.product)}")
            if len(self.paths[v]) < self.path_counts[v]:
                out.append(f"- ... {self.path_counts[v] - len(self.paths[v])} more paths")
            out += ["", f"df/d{v} = **{fmt(self.gradient[v])}**"]
        if self.variables:
            out += ["", "| variable | chain rule | central difference | h | difference |", "|---|---|---|---|---|"]
        out += [f"| {v} | {fmt(self.gradient[v])} | {fmt(self.finite_difference[v])} | {fmt(self.h[v], 3)} | "
                f"{fmt(self.difference[v], 2)} |" for v in self.variables]
        out += [f"\n{self._kink_text(v)}." for v in self.kinks]
        return "\n".join(out)

    # ---- data ----------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data (non-finite numbers as the strings "nan", "inf", "-inf", so it is strict JSON)."""

        def edge(e: Edge) -> dict[str, Any]:
            return {"output": e.output, "input": e.input, "argument": e.argument, "label": e.label,
                    "formula": e.formula, "value": _num(e.value)}

        return {
            "function": self.label,
            "at": {v: _num(x) for v, x in self.variables.items()},
            "constants": {c: _num(x) for c, x in self.constants.items()},
            "value": _num(self.value),
            "output": self.output,
            "rows": [{"name": r.name, "formula": r.formula, "operation": r.operation, "value": _num(r.value),
                      "output": r.output} for r in self.rows],
            "edges": [edge(e) for e in self.edges],
            "paths": {v: [{"nodes": list(p.nodes), "edges": [e.label for e in p.edges],
                           "factors": [_num(e.value) for e in p.edges], "product": _num(p.product)}
                          for p in ps] for v, ps in self.paths.items()},
            "path_counts": dict(self.path_counts),
            "gradient": {v: _num(g) for v, g in self.gradient.items()},
            "finite_difference": {v: _num(g) for v, g in self.finite_difference.items()},
            "h": {v: _num(g) for v, g in self.h.items()},
            "difference": {v: _num(g) for v, g in self.difference.items()},
            "kinks": {v: {"left": _num(left), "right": _num(right)} for v, (left, right) in self.kinks.items()},
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)


def _num(x: float) -> float | str:
    return x if math.isfinite(x) else str(x)


def _factor(x: float) -> str:
    text = fmt(x)
    return f"({text})" if text.startswith("-") else text


# ---- building an explanation ---------------------------------------------------------------------------------------
def explain(
    f: Callable[..., Any],
    *args: Any,
    names: Sequence[str] | None = None,
    label: str | None = None,
    h: float | None = None,
) -> Explanation:
    """The chain rule written out for ``f`` at ``args``: nodes, local derivatives, paths, gradient, and a check.

    ``f`` is any function written with chainrule's functions and operators; ``args`` are one-element numbers (see
    the module docstring for arrays). ``names`` names the variables (default: ``f``'s parameter names);
    ``label`` is what ``f`` computes, shown as ``f(x) = label`` (default: ``name(x)`` for a named function);
    ``h`` is the finite-difference step (default 1e-5 * max(1, |x|)).

    >>> import chainrule as cr
    >>> from chainrule.explain import explain  # also cr.explain
    >>> e = explain(lambda x: 1 / (1 + cr.exp(-x)), 0.5)
    >>> [(r.name, r.formula) for r in e.rows]
    [('t1', '-x'), ('t2', 'exp(t1)'), ('t3', '1 + t2'), ('t4', '1 / t3')]
    >>> [edge.label for edge in e.paths["x"][0].edges]
    ['dt4/dt3', 'dt3/dt2', 'dt2/dt1', 'dt1/dx']
    >>> round(e.gradient["x"], 10)  # sigma(0.5) (1 - sigma(0.5))
    0.2350037122
    >>> len(explain(lambda x: x * cr.sin(x), 0.5).paths["x"])  # the multivariable chain rule: two paths
    2
    """
    if h is not None and not (math.isfinite(h) and h > 0):
        raise ValueError(f"explain: h, the finite-difference step, must be a positive number, got {h!r}")
    variables = _variable_names(f, len(args), names)
    values = [_scalar_input(a, v) for a, v in zip(args, variables)]
    inputs = [Tensor(x, requires_grad=True) for x in values]
    with engine.enable_grad(), np.errstate(all="ignore"):
        out = f(*inputs)
    out = _as_output(out)
    prefix = next(p for p in ("t", "u", "v", "w", "n", "_t")
                  if not any(re.fullmatch(re.escape(p) + r"\d+", v) for v in variables))
    graph = Graph(out, {id(t): v for t, v in zip(inputs, variables)}, prefix=prefix)
    for node in graph.nodes:
        if graph.value(node).size != 1:
            raise ValueError(
                f"explain writes the chain out for one-element values, but {graph.names[node]} = "
                f"{graph.formula(node)} has shape {graph.value(node).shape}: explain one element of it (close "
                "over the rest), or draw the whole graph with cr.to_dot"
            )
    rows = tuple(Row(graph.names[n], graph.formula(n), n.prim.name, _item(graph.value(n)), n is out._node)
                 for n in graph.nodes)
    edges = _edges(graph)
    var_keys = {v: id(t) for v, t in zip(variables, inputs)}
    root: Any = out._node if out._node is not None else id(out)
    gradient: dict[str, float] = {}
    paths: dict[str, tuple[Path, ...]] = {}
    counts: dict[str, int] = {}
    for v, key in var_keys.items():
        paths[v], counts[v], chain_sum, magnitude = _paths(graph, edges, root, key, v)
        with np.errstate(all="ignore"):
            (g,) = engine.grad(out, [inputs[variables.index(v)]], retain_graph=True) if out.requires_grad else (0.0,)
        gradient_v = _item(g)
        # the sum over paths and the reverse sweep add the same products in different orders
        tolerance = 1e-9 * magnitude + 1e-300
        if math.isfinite(gradient_v + chain_sum + magnitude) and abs(gradient_v - chain_sum) > tolerance:
            raise RuntimeError(f"explain: the sum over paths ({chain_sum!r}) disagrees with the reverse sweep "
                               f"({gradient_v!r}) for d/d{v}; please report this")
        gradient[v] = gradient_v
    fd, steps, kinks = _differences(f, values, variables, h)
    foreign = [k for k, t in graph.leaves.items() if k not in var_keys.values() and t.requires_grad]
    constants = {graph.names[k]: _item(graph.leaves[k].data) for k in foreign}
    output = graph.names[root] if isinstance(root, Node) or root in var_keys.values() or root in foreign else "f"
    return Explanation(
        label=label if label is not None else _function_label(f, variables),
        variables={v: _item(x) for v, x in zip(variables, values)},
        value=_item(out.data),
        output=output,
        rows=rows,
        edges=tuple(e for es in edges.values() for e in es),
        paths=paths,
        path_counts=counts,
        gradient=gradient,
        finite_difference=dict(zip(variables, fd)),
        h=dict(zip(variables, steps)),
        constants=constants,
        kinks={v: k for v, k in zip(variables, kinks) if k is not None},
    )


def _item(x: Any) -> float:
    return float(np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64).reshape(-1)[0])


def _function_label(f: Callable[..., Any], variables: list[str]) -> str | None:
    """``sigmoid(x)`` for a named function; nothing for a lambda (the rows say what it computes)."""
    name = getattr(f, "__name__", None) or getattr(f, "name", None) or type(f).__name__
    return None if name in ("<lambda>", "f") else f"{name}({', '.join(variables)})"


def _variable_names(f: Callable[..., Any], n: int, names: Sequence[str] | None) -> list[str]:
    if names is not None:
        result = [str(v) for v in names]
        if len(result) != n:
            raise ValueError(f"explain: {len(result)} names for {n} arguments")
    else:
        result = []
        try:
            params = list(inspect.signature(f).parameters.values())
        except (TypeError, ValueError):
            params = []
        for p in params:
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and len(result) < n:
                result.append(p.name)
        if len(result) < n:
            result = ["x"] if n == 1 else [f"x{k}" for k in range(1, n + 1)]
    if len(set(result)) != len(result):
        raise ValueError(f"explain: variable names must differ, got {result}")
    return result


def _scalar_input(a: Any, name: str) -> np.ndarray[Any, Any]:
    x = np.array(a.data if isinstance(a, Tensor) else a, dtype=np.float64)
    if x.size != 1:
        raise ValueError(
            f"explain writes the chain out for one-element inputs, but {name} has shape {x.shape}: explain one "
            "element (e.g. cr.explain(lambda xi: f(xi), x[i]) for an elementwise f), or draw the whole graph of "
            "an array computation with cr.to_dot"
        )
    return x


def _as_output(out: Any) -> Tensor:
    if not isinstance(out, Tensor):
        try:
            out = Tensor(np.asarray(out, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"explain: f must return a number or a Tensor, got {type(out).__name__}") from None
    if out.data.size != 1:
        raise ValueError(f"explain: f must return one number, got shape {out.shape} (reduce it, e.g. with .sum())")
    return out


def _edges(graph: Graph) -> dict[Node, list[Edge]]:
    """Every node's local derivatives with respect to its inputs, in argument order."""
    edges: dict[Node, list[Edge]] = {}
    for node in graph.nodes:
        name = graph.names[node]
        inputs = graph.inputs[node]
        repeated = {src for _, src in inputs if sum(1 for _, s in inputs if s == src) > 1}
        args = [graph.names[src] for _, src in inputs]
        texts = {i: graph.names[src] for i, src in inputs}
        arg_text = [texts.get(i, constant_text(a)) for i, a in enumerate(node.args)]
        items = []
        for k, (i, src) in enumerate(inputs):
            label = f"d{name}/d{args[k]}" + (f" [{i + 1}]" if src in repeated else "")
            items.append(Edge(name, args[k], i, label, _formula(node, i, arg_text, name),
                              _item(graph.local_derivative(node, i))))
        edges[node] = items
    return edges


def _formula(node: Node, i: int, args: list[str], out: str) -> str | None:
    name = node.prim.name
    if node.kwargs or name not in _LOCAL or i >= len(_LOCAL[name]) or len(args) != len(_LOCAL[name]):
        return None
    if name == "power" and i == 0:
        exponent = node.args[1]
        if not isinstance(exponent, Tensor) or not exponent.requires_grad:
            c = _item(exponent)
            if c - 1 == 0:
                return "1"
            if c - 1 == 1:
                return f"{fmt(c, 6)}*{args[0]}"
            return f"{fmt(c, 6)}*{args[0]}**{constant_text(c - 1)}"
    return _LOCAL[name][i].format(*args, out=out)


def _paths(graph: Graph, edges: dict[Node, list[Edge]], root: Any, key: int,
           v: str) -> tuple[tuple[Path, ...], int, float, float]:
    """The paths from the leaf ``key`` to ``root`` (at most MAX_PATHS, depth first from the output, arguments in
    order), how many there are in all, the chain rule's sum over all of them and the sum of their magnitudes
    (both by forward accumulation, one pass over the nodes, however many paths there are)."""
    count: dict[Any, int] = {key: 1}
    total: dict[Any, float] = {key: 1.0}
    magnitude: dict[Any, float] = {key: 1.0}
    for node in graph.nodes:  # oldest first: a node's inputs are done before it
        n, s, m = 0, 0.0, 0.0
        for (_, src), e in zip(graph.inputs[node], edges[node]):
            if src in count:
                n += count[src]
                s += e.value * total[src]
                m += abs(e.value) * magnitude[src]
        if n:
            count[node], total[node], magnitude[node] = n, s, m
    if root not in count:
        return (), 0, 0.0, 0.0
    found: list[Path] = []
    stack: list[tuple[Any, tuple[Edge, ...], tuple[str, ...]]] = [(root, (), (graph.names.get(root, v),))]
    while stack and len(found) < MAX_PATHS:
        at, chain, nodes = stack.pop()
        if at == key:
            product = 1.0
            for e in chain:
                product *= e.value
            found.append(Path(v, tuple(reversed(nodes)), chain, product))
            continue
        for (_, src), e in reversed(list(zip(graph.inputs[at], edges[at]))):
            if src in count:
                stack.append((src, (*chain, e), (*nodes, graph.names[src])))
    return tuple(found), count[root], total[root], magnitude[root]


def _differences(f: Callable[..., Any], values: list[np.ndarray[Any, Any]], variables: list[str],
                 h: float | None) -> tuple[list[float], list[float], list[tuple[float, float] | None]]:
    """In each variable, the others held: the central difference (f(x + h) - f(x - h)) / 2h (divided by the step
    actually taken), that step, and the (left, right) one-sided differences where f has a kink there (else None).

    A kink is where the one-sided differences disagree by an amount that does not shrink with the step: for a
    smooth f their gap is about h |f''| and falls 16-fold from step h to h / 16; at a kink (relu or abs at 0, a
    maximum at a tie) it stays the jump in slope. Any primitive's kink is found so, with no list of them.
    """

    def at(vs: list[np.ndarray[Any, Any]]) -> float:
        with engine.no_grad(), np.errstate(all="ignore"):
            return _item(_as_output(f(*[Tensor(v) for v in vs])))

    def around(k: int, step: float) -> tuple[float, float, float, float]:
        """f after moving variable k by +step and by -step, and the two moves as they landed in float64."""
        ends = []
        for move in (step, -step):
            vs = [v.copy() for v in values]
            vs[k] = values[k] + move
            ends.append((at(vs), _item(vs[k]) - _item(values[k])))
        (hi, up), (lo, down) = ends
        return hi, lo, up, down

    f0 = at(values)
    results, steps, kinks = [], [], []
    for k, x in enumerate(values):
        step = h if h is not None else 1e-5 * max(1.0, abs(_item(x)))
        hi, lo, up, down = around(k, step)
        if up == 0 or down == 0:
            raise ValueError(f"explain: the step h = {step:g} is too small to move {variables[k]} = "
                             f"{_item(x):g} in float64; choose a larger h")
        results.append((hi - lo) / (up - down))
        steps.append((up - down) / 2)
        kinks.append(_kink(f0, (hi, lo, up, down), around(k, step / 16)))
    return results, steps, kinks


def _kink(f0: float, wide: tuple[float, float, float, float],
          narrow: tuple[float, float, float, float]) -> tuple[float, float] | None:
    """The (left, right) one-sided differences at the narrow step when they disagree as at a kink, else None."""

    def sides(hi: float, lo: float, up: float, down: float) -> tuple[float, float]:
        return (f0 - lo) / -down, (hi - f0) / up

    if narrow[2] == 0 or narrow[3] == 0:
        return None  # the narrow step is below float64's resolution at x
    (left1, right1), (left2, right2) = sides(*wide), sides(*narrow)
    gap1, gap2 = abs(right1 - left1), abs(right2 - left2)
    # what rounding alone can make of the narrow differences, plus a margin relative to the slopes
    scale = (abs(narrow[0]) + abs(narrow[1]) + abs(f0)) / narrow[2]
    noise = 64 * np.finfo(np.float64).eps * scale + 1e-6 * (abs(left2) + abs(right2))
    if math.isfinite(gap1 + gap2 + scale) and gap2 > noise and gap2 > 0.5 * gap1:
        return left2, right2
    return None
