"""Pytrees: nested tuples, lists, dicts and namedtuples (``None`` an empty node), with arrays at the leaves.

Every transform (grad, vjp, jvp, the Jacobians, vmap) takes and returns pytrees through these functions, as JAX's
do. A dict's children are in sorted key order (insertion order where keys do not sort), so two dicts with the same
keys flatten alike. A Tensor, an ndarray or a number is a leaf.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["PyTreeDef", "tree_flatten", "tree_leaves", "tree_map", "tree_structure", "tree_unflatten"]

Tree = Any


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _dict_keys(d: dict[Any, Any]) -> list[Any]:
    if type(d) is OrderedDict:
        return list(d)
    try:
        return sorted(d)
    except TypeError:  # keys of mixed types: their insertion order
        return list(d)


def _children(tree: Tree) -> tuple[Any, Any, list[Any]] | None:
    """``(kind, aux, children)`` of a node, None for a leaf. ``aux`` is what rebuilding needs besides the children."""
    if tree is None:
        return type(None), None, []
    kind = type(tree)
    if kind is tuple or kind is list:
        return kind, None, list(tree)
    if isinstance(tree, dict):
        keys = _dict_keys(tree)
        return kind, tuple(keys), [tree[k] for k in keys]
    if _is_namedtuple(tree):
        return kind, None, list(tree)
    return None


class PyTreeDef:
    """The structure of a pytree without its leaves: what ``tree_unflatten`` rebuilds from a list of leaves.

    >>> import chainrule as cr
    >>> cr.tree_util.tree_structure({"b": [1, 2], "a": None})
    PyTreeDef({'a': None, 'b': [*, *]})
    """

    __slots__ = ("kind", "aux", "children", "num_leaves")

    def __init__(self, kind: Any, aux: Any, children: tuple[PyTreeDef, ...]) -> None:
        self.kind, self.aux, self.children = kind, aux, children
        self.num_leaves = 1 if kind is None else sum(c.num_leaves for c in children)

    def unflatten(self, leaves: Iterable[Any]) -> Tree:
        it = iter(leaves)
        tree = self._build(it)
        if next(it, _END) is not _END:
            raise ValueError(f"tree_unflatten: too many leaves for a structure of {self.num_leaves}")
        return tree

    def _build(self, it: Any) -> Tree:
        if self.kind is None:
            leaf = next(it, _END)
            if leaf is _END:
                raise ValueError(f"tree_unflatten: too few leaves for a structure of {self.num_leaves}")
            return leaf
        parts = [c._build(it) for c in self.children]
        kind = self.kind
        if kind is type(None):
            return None
        if kind is tuple or kind is list:
            return kind(parts)
        if issubclass(kind, dict):
            built = dict(zip(self.aux, parts))
            return built if kind is dict else kind(built)
        return kind(*parts)  # a namedtuple

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, PyTreeDef) and self.kind is other.kind and self.aux == other.aux
                and self.children == other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.aux, self.children))

    def __repr__(self) -> str:
        return f"PyTreeDef({self._text()})"

    def _text(self) -> str:
        kind, parts = self.kind, [c._text() for c in self.children]
        if kind is None:
            return "*"
        if kind is type(None):
            return "None"
        if kind is tuple:
            return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        if kind is list:
            return "[" + ", ".join(parts) + "]"
        if issubclass(kind, dict):
            return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(self.aux, parts)) + "}"
        return f"{kind.__name__}(" + ", ".join(parts) + ")"


_END = object()
_LEAF = PyTreeDef(None, None, ())


def _flatten(tree: Tree, leaves: list[Any], is_leaf: Callable[[Any], bool] | None) -> PyTreeDef:
    node = None if is_leaf is not None and is_leaf(tree) else _children(tree)
    if node is None:
        leaves.append(tree)
        return _LEAF
    kind, aux, children = node
    return PyTreeDef(kind, aux, tuple(_flatten(c, leaves, is_leaf) for c in children))


def tree_flatten(tree: Tree, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list[Any], PyTreeDef]:
    """The leaves of ``tree`` in order, and its structure. ``is_leaf(x)`` true stops the descent at ``x``.

    >>> import chainrule as cr
    >>> leaves, treedef = cr.tree_util.tree_flatten({"w": 1.0, "b": (2.0, None)})
    >>> leaves
    [2.0, 1.0]
    >>> cr.tree_util.tree_unflatten(treedef, [3.0, 4.0])
    {'b': (3.0, None), 'w': 4.0}
    """
    leaves: list[Any] = []
    return leaves, _flatten(tree, leaves, is_leaf)


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Tree:
    """The pytree of structure ``treedef`` holding ``leaves`` (in ``tree_flatten``'s order).

    >>> import chainrule as cr
    >>> cr.tree_util.tree_unflatten(cr.tree_util.tree_structure([0, (0, 0)]), "abc")
    ['a', ('b', 'c')]
    """
    return treedef.unflatten(leaves)


def tree_leaves(tree: Tree, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """The leaves of ``tree``, in order.

    >>> import chainrule as cr
    >>> cr.tree_util.tree_leaves([1, {"a": 2, "b": None}, (3,)])
    [1, 2, 3]
    """
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Tree, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """The structure of ``tree`` without its leaves.

    >>> import chainrule as cr
    >>> cr.tree_util.tree_structure((1, [2, 3])).num_leaves
    3
    """
    return tree_flatten(tree, is_leaf)[1]


def tree_map(f: Callable[..., Any], tree: Tree, *rest: Tree, is_leaf: Callable[[Any], bool] | None = None) -> Tree:
    """``f`` applied leaf by leaf: ``f(leaf, *matching leaves of rest)``, in ``tree``'s structure. Each tree in
    ``rest`` must have ``tree``'s structure (or a finer one: ``tree``'s leaf may match a subtree there).

    >>> import chainrule as cr
    >>> cr.tree_util.tree_map(lambda x, y: x + y, {"a": 1, "b": (2, 3)}, {"a": 10, "b": (20, 30)})
    {'a': 11, 'b': (22, 33)}
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    others = [flatten_up_to(treedef, r) for r in rest]
    return treedef.unflatten(f(*xs) for xs in zip(leaves, *others))


def flatten_up_to(treedef: PyTreeDef, tree: Tree) -> list[Any]:
    """The subtrees of ``tree`` at the leaves of ``treedef`` (a prefix of ``tree``'s structure), in order; a
    structure that does not match is a ValueError naming both."""
    out: list[Any] = []
    _up_to(treedef, tree, out, treedef, tree)
    return out


def _up_to(treedef: PyTreeDef, tree: Tree, out: list[Any], whole: PyTreeDef, full: Tree) -> None:
    if treedef.kind is None:
        out.append(tree)
        return
    node = _children(tree)
    if node is None or node[0] is not treedef.kind or node[1] != treedef.aux or len(node[2]) != len(treedef.children):
        raise ValueError(f"pytree structures do not match: {whole} against {tree_structure(full)}")
    for sub, child in zip(treedef.children, node[2]):
        _up_to(sub, child, out, whole, full)
