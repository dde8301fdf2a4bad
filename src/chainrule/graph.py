"""The recorded graph behind a tensor, written out: ``to_dot`` draws it for Graphviz.

Each node of the drawing is one recorded primitive application (``t3 = 1 + t2``) with its value and the gradient of
the output with respect to it; each edge carries the local derivative d(consumer)/d(input), the factor the chain rule
multiplies in along it. Array-valued graphs show shapes and summary values instead. A graph with more than
``max_nodes`` nodes (a model's loss, a long loop) is collapsed: chains of single-input operations become one node
each, and what is still too far from the output is elided into one node that says how much it stands for.

``Graph`` is the walk that ``to_dot`` and ``explain`` share: nodes oldest first, their names, their inputs.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .engine import Node, _sum_to
from .tensor import Tensor

__all__ = ["to_dot"]

Key = Any  # a Node for an operation, the id() of a leaf tensor for a leaf

_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**"}


def fmt(value: float, digits: int = 10) -> str:
    """A number as people write it: ``0.6224593312``, ``1``, ``-3e-07``, ``inf``."""
    text = format(value, f".{digits}g")
    return "0" if text == "-0" else text


def _size1_float(value: Any) -> float | None:
    """The value of a one-element number (array or Python scalar), else None."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.number)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "fiu":
        return float(value.reshape(-1)[0])
    return None


def constant_text(value: Any) -> str:
    """How a constant argument reads inside a node's formula: ``1``, ``(-0.5)``, ``array(3x4)``."""
    number = _size1_float(value)
    if number is not None:
        text = fmt(number, 6)
        return f"({text})" if text.startswith("-") else text
    shape = getattr(value, "shape", None)
    if shape is not None:
        return "array(" + "x".join(str(n) for n in shape) + ")"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(constant_text(v) for v in value)
        return f"({inner}{',' if len(value) == 1 else ''})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, slice):
        parts = ["" if p is None else constant_text(p) for p in (value.start, value.stop, value.step)]
        return ":".join(parts[:2] if value.step is None else parts)
    if value is Ellipsis:
        return "..."
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


class Graph:
    """The nodes that a tensor was computed from, oldest first, named ``t1, t2, ...`` in evaluation order.

    ``inputs[node]`` lists ``(argument index, source)`` for each input that requires grad and has a VJP rule: the
    edges along which a derivative flows. A source is a node, or the ``id`` of a leaf tensor (``leaves`` maps it
    to the tensor). Other arguments are constants and appear inside the node's ``formula``.
    """

    def __init__(self, root: Tensor, names: Mapping[int, str] | None = None, prefix: str = "t") -> None:
        self.root = root
        self.outputs: dict[Node, Tensor] = {}
        self.leaves: dict[int, Tensor] = {}
        self.inputs: dict[Node, list[tuple[int, Key]]] = {}
        self.nodes: list[Node] = []
        if root._node is not None:
            self.outputs[root._node] = root
            stack = [root._node]
            while stack:
                node = stack.pop()
                edges: list[tuple[int, Key]] = []
                for i, a in enumerate(node.args):
                    if not (isinstance(a, Tensor) and a.requires_grad and self._has_rule(node, i)):
                        continue
                    parent = a._node
                    if parent is None:
                        self.leaves.setdefault(id(a), a)
                        edges.append((i, id(a)))
                        continue
                    if parent not in self.outputs:
                        self.outputs[parent] = a
                        stack.append(parent)
                    edges.append((i, parent))
                self.inputs[node] = edges
            self.nodes = sorted(self.outputs, key=lambda n: n.clock)
        else:  # nothing recorded: the output is a leaf (or a constant) and the whole graph
            self.leaves[id(root)] = root
        self.names: dict[Key, str] = {node: f"{prefix}{k}" for k, node in enumerate(self.nodes, 1)}
        given = names or {}
        unnamed = 0
        for key in self._leaf_order():
            if key in given:
                self.names[key] = given[key]
            elif not self.leaves[key].requires_grad:
                self.names[key] = "constant"
            else:
                unnamed += 1
                self.names[key] = f"leaf{unnamed}"

    @staticmethod
    def _has_rule(node: Node, i: int) -> bool:
        vjps = node.prim.vjps
        if len(vjps) == 1 and not isinstance(vjps, tuple):  # a variadic primitive: one rule serves every input
            return True
        return i < len(vjps) and vjps[i] is not None

    def _leaf_order(self) -> list[int]:
        """Leaves in the order the computation first used them."""
        order: dict[int, None] = {}
        if self.root._node is None and id(self.root) in self.leaves:
            order[id(self.root)] = None
        for node in self.nodes:
            for _, src in self.inputs[node]:
                if not isinstance(src, Node):
                    order.setdefault(src, None)
        return list(order)

    @property
    def intact(self) -> bool:
        """False once a backward pass without ``retain_graph`` has freed the saved values."""
        return all(node.raw is not None for node in self.nodes)

    def value(self, key: Key) -> np.ndarray[Any, Any]:
        if isinstance(key, Node):
            return self.outputs[key].data
        return self.leaves[key].data

    def sources(self) -> Iterable[Key]:
        """Every vertex: leaves first, then the nodes oldest first."""
        yield from self._leaf_order()
        yield from self.nodes

    def formula(self, node: Node) -> str:
        """One step of the computation in its inputs' names: ``1 + t2``, ``exp(t1)``, ``sum(t4, axis=0)``."""
        tensor_names = {i: self.names[src] for i, src in self.inputs[node]}
        parts = [tensor_names[i] if i in tensor_names else constant_text(a) for i, a in enumerate(node.args)]
        name = node.prim.name
        if name in _INFIX and len(parts) == 2 and not node.kwargs:
            return f"{parts[0]} {_INFIX[name]} {parts[1]}"
        if name == "negative" and len(parts) == 1:
            return f"-{parts[0]}"
        for k, v in node.kwargs.items():
            if v is None or v is False:  # the usual defaults (axis=None, keepdims=False) say nothing
                continue
            text = constant_text(v) if isinstance(v, (tuple, list)) else repr(v)
            parts.append(f"{k}={text if len(text) <= 30 else text[:27] + '...'}")
        return f"{name}({', '.join(parts)})"

    def local_derivative(self, node: Node, i: int) -> np.ndarray[Any, Any]:
        """d(node)/d(input i) for one-element values: the VJP rule applied to a unit cotangent (saved values kept)."""
        assert node.raw is not None and node.ans is not None, "the graph was freed by backward()"
        g = np.ones_like(node.ans)
        with np.errstate(all="ignore"):
            return np.asarray(node.prim.vjps[i](g, node.ans, *node.raw, **node.kwargs))

    def gradients(self) -> dict[Key, np.ndarray[Any, Any]] | None:
        """d(root)/d(vertex) for every vertex by one reverse sweep of the VJP rules on raw arrays (no hooks run,
        nothing is freed or accumulated). None when the root is not a one-element tensor or the graph was freed."""
        if self.root.data.size != 1 or not self.intact:
            return None
        grads: dict[Key, Any] = {}
        root_key: Key = self.root._node if self.root._node is not None else id(self.root)
        grads[root_key] = np.ones_like(self.root.data)
        with np.errstate(all="ignore"):
            for node in reversed(self.nodes):
                g = grads.get(node)
                if g is None:
                    continue
                assert node.raw is not None
                for i, src in self.inputs[node]:
                    a = node.args[i]
                    c = np.asarray(node.prim.vjps[i](g, node.ans, *node.raw, **node.kwargs))
                    if c.shape != a.data.shape:
                        c = _sum_to(c, a.data.shape)
                    grads[src] = grads[src] + c if src in grads else c
        return grads


# ---- DOT ---------------------------------------------------------------------------------------------------------
def _quote(text: str) -> str:
    """A DOT string literal; newlines become DOT's centred line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _summary(array: np.ndarray[Any, Any]) -> str:
    """One line about an array: its single value, or its shape, dtype and range."""
    number = _size1_float(array)
    if number is not None:
        return fmt(number, 6)
    shape = "x".join(str(n) for n in array.shape)
    if array.size == 0 or array.dtype.kind not in "fiu":
        return f"{shape} {array.dtype}"
    if array.size <= 4:
        return f"{shape} {array.dtype}: [" + ", ".join(fmt(float(v), 4) for v in array.reshape(-1)) + "]"
    with np.errstate(all="ignore"):
        lo, hi, mean = float(np.min(array)), float(np.max(array)), float(np.mean(array))
    return f"{shape} {array.dtype}, mean {fmt(mean, 4)}, range [{fmt(lo, 4)}, {fmt(hi, 4)}]"


class _Vertex:
    """What one DOT node shows: a leaf, a node, a collapsed chain of nodes, or the elided rest."""

    __slots__ = ("vid", "label", "kind", "members")

    def __init__(self, vid: str, label: str, kind: str, members: list[Key]) -> None:
        self.vid = vid
        self.label = label
        self.kind = kind
        self.members = members


_STYLE = {
    "leaf": 'shape=ellipse, style=filled, fillcolor="#dbeafe"',
    "node": 'shape=box, style="rounded,filled", fillcolor="#f3f4f6"',
    "chain": 'shape=box, style="rounded,filled,dashed", fillcolor="#fef3c7"',
    "elided": 'shape=note, style=filled, fillcolor="#e5e7eb"',
}


def to_dot(
    tensor: Tensor,
    names: Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None = None,
    *,
    max_nodes: int = 200,
    rankdir: str = "TB",
) -> str:
    """Graphviz DOT source of the graph that computed ``tensor``: values and gradients on the nodes, local
    derivatives on the edges.

    Each node shows one recorded operation in its inputs' names (``t3 = 1 + t2``), its value and, when ``tensor``
    has one element, the gradient d(tensor)/d(node) from one reverse sweep (nothing is accumulated into ``.grad``).
    An edge from u to v carries the local derivative dv/du where both are one-element values, and the shape that
    flows along it otherwise. ``names`` labels leaf tensors (``dict(model.named_parameters())`` works). Beyond
    ``max_nodes`` nodes the drawing is collapsed: chains of single-input operations become one node each, and the
    nodes farthest from the output are elided into one node that says how many operations it stands for. Render
    with ``dot -Tsvg graph.dot -o graph.svg`` (Graphviz), or ``chainrule graph`` from the shell.

    >>> import chainrule as cr
    >>> x = cr.tensor(0.5, requires_grad=True)
    >>> y = x * cr.sin(x)
    >>> from chainrule.graph import to_dot  # also cr.to_dot
    >>> dot = to_dot(y, {"x": x})
    >>> print(dot.splitlines()[0])
    digraph chainrule {
    >>> 'label="dt2/dt1 = 0.5"' in dot  # the local derivative d(x * t1)/d(t1) = x
    True
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot takes a Tensor, got {type(tensor).__name__}")
    if max_nodes < 2:
        raise ValueError(f"to_dot: max_nodes must be at least 2, got {max_nodes}")
    pairs = names.items() if isinstance(names, Mapping) else (names or ())
    graph = Graph(tensor, {id(t): str(name) for name, t in pairs})
    grads = graph.gradients()
    if grads is None and not graph.intact:  # freed by backward(): the leaves' .grad are what is left to show
        grads = {key: t.grad.data for key, t in graph.leaves.items() if t.grad is not None}

    def label(key: Key) -> str:
        name = graph.names[key]
        head = f"{name} = {graph.formula(key)}" if isinstance(key, Node) else name
        lines = [head, "value " + _summary(graph.value(key))]
        if grads is not None and key in grads:
            lines.append("grad " + _summary(np.asarray(grads[key])))
        return "\n".join(lines)

    vertices: dict[Key, _Vertex] = {}
    for key in graph.sources():
        kind = "node" if isinstance(key, Node) else "leaf"
        vertices[key] = _Vertex(f"n{len(vertices)}", label(key), kind, [key])
    notes = []
    if not graph.intact:
        notes.append("saved values freed by backward(): no local derivatives (keep them with retain_graph=True)")
    count = len(vertices)
    if count > max_nodes:
        chained = _collapse_chains(graph, vertices, label)
        if chained:
            notes.append(f"{chained} operations drawn as chains")
    if len({id(v) for v in vertices.values()}) > max_nodes:
        elided = _elide(graph, vertices, max_nodes)
        notes.append(f"{elided} operations far from the output elided")

    lines = [
        "digraph chainrule {",
        f"  graph [rankdir={rankdir}, fontname=Helvetica, fontsize=10, labelloc=b, "
        f"label={_quote(_caption(graph, notes))}];",
        "  node [fontname=Helvetica, fontsize=11];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    drawn: set[int] = set()
    for vertex in vertices.values():
        if id(vertex) in drawn:
            continue
        drawn.add(id(vertex))
        extra = ", peripheries=2" if _root_key(graph) in vertex.members else ""
        lines.append(f"  {vertex.vid} [label={_quote(vertex.label)}, {_STYLE[vertex.kind]}{extra}];")
    lines.extend(_edges(graph, vertices))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _root_key(graph: Graph) -> Key:
    """The output's vertex: its node, or the id of a leaf when nothing was recorded."""
    return graph.root._node if graph.root._node is not None else id(graph.root)


def _caption(graph: Graph, notes: list[str]) -> str:
    n, m = len(graph.nodes), len(graph.leaves)
    text = f"{n} operation{'' if n == 1 else 's'}, {m} lea{'f' if m == 1 else 'ves'}"
    return text + "".join("; " + n for n in notes)


def _consumers(graph: Graph) -> dict[Key, int]:
    count: dict[Key, int] = {}
    for node in graph.nodes:
        for _, src in graph.inputs[node]:
            count[src] = count.get(src, 0) + 1
    return count


def _collapse_chains(graph: Graph, vertices: dict[Key, _Vertex], label: Any) -> int:
    """Merge each run of three or more nodes, each with one input edge and one consumer, into one vertex."""
    consumers = _consumers(graph)
    root = _root_key(graph)

    def link(node: Node) -> bool:  # one input edge, and (unless it is the output) exactly one consumer
        return len(graph.inputs[node]) == 1 and (node is root or consumers.get(node, 0) == 1)

    merged = 0
    seen: set[Node] = set()
    for node in reversed(graph.nodes):  # newest first: each run is found from its last node
        if node in seen or not link(node):
            continue
        run = [node]
        while True:
            src = graph.inputs[run[-1]][0][1]
            if not (isinstance(src, Node) and link(src) and consumers.get(src, 0) == 1):
                break
            run.append(src)
        seen.update(run)
        if len(run) < 3:
            continue
        run.reverse()  # oldest first
        ops = [n.prim.name for n in run]
        what = f"{ops[0]} x{len(run)}" if len(set(ops)) == 1 else f"{len(run)} ops: " + ", ".join(ops[:3]) + ", ..."
        first, last = graph.names[run[0]], graph.names[run[-1]]
        _, *rest = label(run[-1]).split("\n")
        vertex = _Vertex(vertices[run[-1]].vid, "\n".join([f"{first} ... {last}: {what}", *rest]), "chain",
                         list(run))
        for n in run:
            vertices[n] = vertex
        merged += len(run)
    return merged


def _elide(graph: Graph, vertices: dict[Key, _Vertex], max_nodes: int) -> int:
    """Keep the ``max_nodes - 1`` vertices nearest the output (breadth first); one vertex stands for the rest."""
    root = vertices[_root_key(graph)]
    incoming: dict[int, list[_Vertex]] = {}
    for node in graph.nodes:
        for _, src in graph.inputs[node]:
            incoming.setdefault(id(vertices[node]), []).append(vertices[src])
    kept = {id(root)}
    queue = deque([root])
    while queue and len(kept) < max_nodes - 1:
        v = queue.popleft()
        for u in incoming.get(id(v), ()):
            if id(u) not in kept and len(kept) < max_nodes - 1:
                kept.add(id(u))
                queue.append(u)
    rest = [k for k, v in vertices.items() if id(v) not in kept]
    operations = sum(1 for k in rest if isinstance(k, Node))
    leaves = len(rest) - operations
    text = f"... {operations} more operations"
    if leaves:
        text += f" and {leaves} leaves"
    elided = _Vertex("elided", text + " elided\n(raise max_nodes to draw them)", "elided", rest)
    for k in rest:
        vertices[k] = elided
    return operations


def _edges(graph: Graph, vertices: dict[Key, _Vertex]) -> list[str]:
    """One DOT edge per derivative-carrying argument between different vertices; duplicates into the elided vertex
    are merged, and a chain's incoming edge carries the product of the chain's local derivatives."""
    lines: list[str] = []
    done: set[tuple[str, str]] = set()
    for node in graph.nodes:
        dst = vertices[node]
        for i, src_key in graph.inputs[node]:
            src = vertices[src_key]
            if src is dst:
                continue
            if src.kind == "elided" or dst.kind == "elided":
                if (src.vid, dst.vid) not in done:
                    done.add((src.vid, dst.vid))
                    lines.append(f"  {src.vid} -> {dst.vid} [style=dashed];")
                continue
            text = _edge_label(graph, dst, node, i, src_key)
            lines.append(f"  {src.vid} -> {dst.vid}" + (f" [label={_quote(text)}];" if text else ";"))
    return lines


def _edge_label(graph: Graph, dst: _Vertex, node: Node, i: int, src_key: Key) -> str:
    arg = node.args[i]
    scalar = arg.data.size == 1 and graph.value(node).size == 1
    if not scalar or not graph.intact:  # a shape; nothing for one number whose saved values were freed
        return "x".join(str(n) for n in arg.data.shape)
    src_name = graph.names[src_key]
    if dst.kind != "chain":
        value = float(graph.local_derivative(node, i).reshape(-1)[0])
        return f"d{graph.names[node]}/d{src_name} = {fmt(value, 6)}"
    # a chain: the chain rule along it, the product of its local derivatives
    members = dst.members
    product = 1.0
    for n in members:
        (j, _), = graph.inputs[n]
        product *= float(graph.local_derivative(n, j).reshape(-1)[0])
    last = graph.names[members[-1]]
    return f"d{last}/d{src_name} = {fmt(product, 6)}\n(product of {len(members)})" if math.isfinite(product) \
        else f"d{last}/d{src_name} = {product}"
