"""``to_dot``: the recorded graph as Graphviz DOT, with values, gradients and local derivatives; long graphs cut."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.graph import Graph, to_dot

NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"', re.MULTILINE)
EDGE = re.compile(r"^  (\w+) -> (\w+)(?: \[(.*)\])?;$", re.MULTILINE)


def _parse(dot: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """A small structural check of our own DOT: node ids with labels, edges between declared nodes."""
    assert dot.startswith("digraph chainrule {\n") and dot.endswith("}\n")
    nodes = {m.group(1): m.group(2).replace("\\n", "\n") for m in NODE.finditer(dot)}
    edges = [(m.group(1), m.group(2), m.group(3) or "") for m in EDGE.finditer(dot)]
    for src, dst, _ in edges:
        assert src in nodes and dst in nodes, (src, dst)
    body = [ln for ln in dot.splitlines()[1:-1] if not ln.startswith(("  graph [", "  node [", "  edge ["))]
    assert len(body) == len(nodes) + len(edges), "every line is a node or an edge"
    return nodes, edges


def _render(dot: str, tmp_path: Path) -> None:
    """Where Graphviz is installed, it must accept the source (the tests pass without it too)."""
    exe = shutil.which("dot")
    if exe is None:
        return
    source = tmp_path / "g.dot"
    source.write_text(dot, encoding="utf-8")
    done = subprocess.run([exe, "-Tsvg", str(source)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "<svg" in done.stdout


def test_sigmoid_chain_values_gradients_and_local_derivatives(tmp_path: Path) -> None:
    x = cr.tensor(0.5, requires_grad=True)
    y = 1 / (1 + cr.exp(-x))
    dot = to_dot(y, {"x": x})
    nodes, edges = _parse(dot)
    labels = sorted(nodes.values())
    s = 1 / (1 + math.exp(-0.5))
    t = 1 + math.exp(-0.5)
    assert f"x\nvalue 0.5\ngrad {s * (1 - s):.6g}" in labels
    assert f"t4 = 1 / t3\nvalue {s:.6g}\ngrad 1" in labels
    assert f"t3 = 1 + t2\nvalue {t:.6g}\ngrad {-1 / t**2:.6g}" in labels
    assert [e[2] for e in edges] == ['label="dt1/dx = -1"', f'label="dt2/dt1 = {math.exp(-0.5):.6g}"',
                                     'label="dt3/dt2 = 1"', f'label="dt4/dt3 = {-1 / t**2:.6g}"']
    assert "peripheries=2" in dot.splitlines()[-2 - len(edges)]  # the output is marked
    _render(dot, tmp_path)


def test_gradients_on_nodes_are_the_engines_and_nothing_is_accumulated() -> None:
    x = cr.tensor(0.7, requires_grad=True)
    w = cr.tensor(-1.3, requires_grad=True)
    h = cr.tanh(w * x)
    y = h * h + cr.sin(x)
    h.retain_grad()
    dot = to_dot(y, {"x": x, "w": w})
    assert x.grad is None and w.grad is None and h.grad is None  # no hooks ran, nothing accumulated
    y.backward()  # and the graph is intact afterwards
    nodes, _ = _parse(dot)
    by_name = {label.split("\n")[0].split(" = ")[0]: label for label in nodes.values()}
    assert by_name["x"].endswith(f"grad {float(x.grad):.6g}")
    assert by_name["w"].endswith(f"grad {float(w.grad):.6g}")
    assert by_name["t2"].endswith(f"grad {float(h.grad):.6g}")


def test_the_same_input_twice_draws_two_edges() -> None:
    x = cr.tensor(3.0, requires_grad=True)
    _, edges = _parse(to_dot(x * x, {"x": x}))
    assert [e[2] for e in edges] == ['label="dt1/dx = 3"', 'label="dt1/dx = 3"']


def test_array_graphs_show_shapes_and_summaries(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = cr.tensor(rng.standard_normal((6, 4)))
    labels = rng.integers(0, 3, 6)
    W = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = cr.zeros(3).requires_grad_()
    logits = X @ W + b
    loss = -cr.log_softmax(logits, axis=1)[np.arange(6), labels].mean()
    dot = to_dot(loss, [("W", W), ("b", b)])  # named_parameters()-style pairs work too
    nodes, edges = _parse(dot)
    text = "\n".join(nodes.values())
    assert "t1 = matmul(array(6x4), W)" in text
    assert "value 4x3 float64, mean" in text and "grad 4x3 float64, mean" in text
    assert "b\nvalue 3 float64: [0, 0, 0]" in text
    assert "t3 = log_softmax(t2, axis=1)" in text
    assert "t4 = getitem(t3, (array(6), array(6)))" in text
    edge_labels = [e[2] for e in edges]
    assert 'label="4x3"' in edge_labels and 'label="6x3"' in edge_labels
    loss.backward(retain_graph=True)
    w_label = next(v for v in nodes.values() if v.startswith("W\n"))
    assert f"mean {np.mean(W.grad.data):.4g}" in w_label
    _render(dot, tmp_path)


def test_float32_graphs() -> None:
    x = cr.tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    dot = to_dot((cr.exp(x) * 2).sum(), {"x": x})
    assert "2x2 float32" in dot


def test_a_long_chain_collapses_into_one_node_carrying_the_product(tmp_path: Path) -> None:
    x = cr.tensor(0.3, requires_grad=True)
    y = x
    for _ in range(3000):
        y = cr.sin(y)
    dot = to_dot(y, {"x": x})
    nodes, edges = _parse(dot)
    assert len(nodes) == 2 and len(edges) == 1
    assert any(label.startswith("t1 ... t3000: sin x3000") for label in nodes.values())
    y.backward(retain_graph=True)
    # the chain rule along the chain: one edge, the product of 3000 local derivatives
    assert edges[0][2] == f'label="dt3000/dx = {float(x.grad):.6g}\\n(product of 3000)"'
    assert "3000 operations drawn as chains" in dot
    _render(dot, tmp_path)


def test_short_graphs_are_never_collapsed() -> None:
    x = cr.tensor(0.3, requires_grad=True)
    y = cr.exp(cr.sin(cr.cos(cr.tanh(x))))
    nodes, _ = _parse(to_dot(y, {"x": x}))
    assert len(nodes) == 5


def test_a_wide_graph_is_elided_beyond_max_nodes(tmp_path: Path) -> None:
    x = cr.tensor(0.5, requires_grad=True)
    total: Any = 0.0
    for i in range(1500):
        total = total + x * float(i)  # 3000 operations, none in a chain
    dot = to_dot(total, {"x": x}, max_nodes=60)
    nodes, edges = _parse(dot)
    assert len(nodes) <= 60
    elided = nodes["elided"]
    count = int(re.search(r"\.\.\. (\d+) more operations", elided).group(1))  # type: ignore[union-attr]
    drawn_ops = sum(1 for k, v in nodes.items() if k != "elided" and " = " in v.split("\n")[0])
    assert count + drawn_ops == 3000
    assert f"{count} operations far from the output elided" in dot
    assert any(e[0] == "elided" and "dashed" in e[2] for e in edges)
    _render(dot, tmp_path)


def test_a_freed_graph_still_draws_with_the_leaves_grads() -> None:
    x = cr.tensor(0.5, requires_grad=True)
    y = x * cr.sin(x)
    y.backward()
    dot = to_dot(y, {"x": x})
    nodes, edges = _parse(dot)
    assert f"x\nvalue 0.5\ngrad {float(x.grad):.6g}" in nodes.values()
    assert all(e[2] == "" for e in edges)
    assert "retain_graph=True" in dot


def test_leaves_constants_and_unnamed_leaves() -> None:
    x = cr.tensor(2.0, requires_grad=True)
    assert 'label="x\\nvalue 2\\ngrad 1"' in to_dot(x, {"x": x})
    assert 'label="constant\\nvalue 3' in to_dot(cr.tensor(3.0))
    a, b = cr.tensor(1.0, requires_grad=True), cr.tensor(2.0, requires_grad=True)
    nodes, _ = _parse(to_dot(a * b))
    assert {v.split("\n")[0] for v in nodes.values()} == {"leaf1", "leaf2", "t1 = leaf1 * leaf2"}


def test_names_are_quoted_safely(tmp_path: Path) -> None:
    x = cr.tensor(1.0, requires_grad=True)
    dot = to_dot(cr.exp(x), {'we"ird\\name': x})
    assert 'label="we\\"ird\\\\name\\nvalue 1' in dot
    _parse(dot)
    _render(dot, tmp_path)


def test_errors() -> None:
    with pytest.raises(TypeError, match="takes a Tensor"):
        to_dot(np.ones(2))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_nodes"):
        to_dot(cr.tensor(1.0), max_nodes=1)


def test_graph_walk_orders_nodes_by_evaluation() -> None:
    x = cr.tensor(0.5, requires_grad=True)
    y = cr.sin(x) * cr.cos(x)
    g = Graph(y, {id(x): "x"})
    assert [g.names[n] for n in g.nodes] == ["t1", "t2", "t3"]
    assert [g.formula(n) for n in g.nodes] == ["sin(x)", "cos(x)", "t1 * t2"]
    grads = g.gradients()
    assert grads is not None
    assert float(grads[id(x)]) == pytest.approx(math.cos(1.0))  # d(sin x cos x)/dx = cos 2x
