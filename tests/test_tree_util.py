"""Pytrees: flatten, unflatten, map and leaves over tuples, lists, dicts, namedtuples and None, against
torch.utils._pytree where the two agree on what a pytree is."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.tree_util import tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten

Point = namedtuple("Point", ["x", "y"])
TREES = [
    1.0,
    None,
    (),
    [1, 2, (3, 4)],
    {"b": 1, "a": [2, 3]},
    Point(1, (2, None)),
    OrderedDict([("z", 1), ("a", 2)]),
    {"w": np.ones(2), "layers": [{"b": cr.tensor([1.0])}, None], "t": (Point(2, 3),)},
]


@pytest.mark.parametrize("tree", TREES, ids=[f"tree{i}" for i in range(len(TREES))])
def test_flatten_then_unflatten_is_the_identity(tree: Any) -> None:
    leaves, treedef = tree_flatten(tree)
    assert treedef.num_leaves == len(leaves)
    rebuilt = tree_unflatten(treedef, leaves)
    assert tree_structure(rebuilt) == treedef
    assert all(a is b for a, b in zip(tree_leaves(rebuilt), leaves))
    assert type(rebuilt) is type(tree)


def test_leaves_come_in_sorted_key_order_and_none_is_empty() -> None:
    assert tree_leaves({"b": 1, "a": 2, "c": None}) == [2, 1]
    assert tree_leaves(OrderedDict([("b", 1), ("a", 2)])) == [1, 2]  # an OrderedDict keeps its own order
    assert tree_leaves([None, (None,)]) == []
    assert tree_map(lambda x: x + 1, [None, 1]) == [None, 2]


TORCH_ALIKE = [[1, 2, (3, 4)], {"b": 1, "a": [2, 3]}, Point(1, (2, 3)), OrderedDict([("z", 1), ("a", 2)])]


@pytest.mark.parametrize("tree", TORCH_ALIKE, ids=[f"tree{i}" for i in range(len(TORCH_ALIKE))])
def test_leaves_and_map_agree_with_torch_pytree(tree: Any) -> None:
    import torch.utils._pytree as pytree  # None is a leaf there, an empty node here (as in JAX): left out

    if isinstance(tree, dict) and type(tree) is dict:
        assert sorted(tree_leaves(tree)) == sorted(pytree.tree_leaves(tree))  # torch keeps insertion order
    else:
        assert tree_leaves(tree) == pytree.tree_leaves(tree)
    assert tree_map(lambda v: v * 10, tree) == pytree.tree_map(lambda v: v * 10, tree)


def test_map_over_several_trees_and_prefixes() -> None:
    assert tree_map(lambda a, b: a * b, (1, [2, 3]), (4, [5, 6])) == (4, [10, 18])
    assert tree_map(lambda a, b: (a, b), [1, 2], [(3, 4), {"k": 5}]) == [(1, (3, 4)), (2, {"k": 5})]
    with pytest.raises(ValueError, match="do not match"):
        tree_map(lambda a, b: a, (1, 2), [1, 2])
    with pytest.raises(ValueError, match="do not match"):
        tree_map(lambda a, b: a, {"a": 1}, {"b": 1})


def test_is_leaf_stops_the_descent() -> None:
    assert tree_leaves([(1, 2), (3,)], is_leaf=lambda x: isinstance(x, tuple)) == [(1, 2), (3,)]


def test_unflatten_checks_the_number_of_leaves() -> None:
    treedef = tree_structure((1, 2))
    with pytest.raises(ValueError, match="too few"):
        tree_unflatten(treedef, [1])
    with pytest.raises(ValueError, match="too many"):
        tree_unflatten(treedef, [1, 2, 3])


def test_structures_print_and_compare() -> None:
    assert repr(tree_structure(Point(1, [2]))) == "PyTreeDef(Point(*, [*]))"
    assert tree_structure((1,)) != tree_structure([1])
    assert hash(tree_structure({"a": 1})) == hash(tree_structure({"a": 2}))
