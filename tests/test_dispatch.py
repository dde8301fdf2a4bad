"""NumPy's own functions on tensors (chainrule.dispatch): every NumPy ufunc and function with a chainrule rule gives
the primitive's values and gradients; plain NumPy code differentiates at every transform level; functions without
a rule compute on data that is not being differentiated and are refused by name where it is."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.dispatch import _tables
from chainrule.primitive import Primitive
from test_ops import _float_inputs, _samples

UFUNCS, FUNCTIONS = _tables()
ROUTES = [pytest.param(theirs, ours, i, id=f"{getattr(theirs, '__name__', theirs)}-{i}")
          for theirs, ours in sorted({**UFUNCS, **FUNCTIONS}.items(), key=lambda kv: str(kv[0]))
          if isinstance(ours, Primitive) and ours.samples is not None for i in range(len(_samples(ours)))]


def test_the_tables_cover_numpys_names_of_the_library() -> None:
    for name in ("add", "sin", "exp", "maximum", "matmul", "power", "tanh"):
        assert getattr(np, name) in UFUNCS
    for name in ("sum", "mean", "concatenate", "reshape", "transpose", "clip", "einsum", "dot", "cumsum", "pad"):
        assert getattr(np, name) in FUNCTIONS
    assert np.linalg.solve in FUNCTIONS and np.linalg.norm in FUNCTIONS


@pytest.mark.parametrize(("theirs", "prim", "index"), ROUTES)
def test_numpy_routes_to_the_primitive(theirs: Any, prim: Primitive, index: int) -> None:
    sample = _samples(prim)[index]
    tensors = [cr.tensor(a) if isinstance(a, np.ndarray) else a for a in sample.args]
    got = theirs(*tensors, **sample.kwargs)
    assert isinstance(got, cr.Tensor)
    np.testing.assert_array_equal(got.data, np.asarray(prim(*sample.args, **sample.kwargs)))
    floats = _float_inputs(sample)
    if not prim.differentiable or not floats:
        return
    weights = np.random.default_rng(index).standard_normal(got.shape)

    def loss(call: Any) -> Any:
        def f(*xs: Any) -> Any:
            args = list(sample.args)
            for i, x in zip(floats, xs):
                args[i] = x
            return np.real(np.sum(call(*args, **sample.kwargs) * weights))  # np.sum, np.real: dispatched too
        return f

    argnums = tuple(range(len(floats)))
    inputs = [sample.args[i] for i in floats]
    for a, b in zip(cr.grad(loss(theirs), argnums=argnums)(*inputs), cr.grad(loss(prim), argnums=argnums)(*inputs)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _numpy_model(w: Any, x: np.ndarray) -> Any:
    """A user's function written with NumPy alone."""
    h = np.tanh(np.dot(x, w) + 0.5)
    z = np.concatenate([h, np.exp(-h)], axis=1)
    return np.mean(np.where(z > 0.2, z, 0.2) ** 2) + np.linalg.norm(w) + np.sum(np.linalg.solve(np.eye(2) * 3, w))


def _chainrule_model(w: Any, x: np.ndarray) -> Any:
    h = cr.tanh(cr.dot(x, w) + 0.5)
    z = cr.concatenate([h, cr.exp(-h)], axis=1)
    return cr.mean(cr.where(z > 0.2, z, 0.2) ** 2) + cr.linalg.norm(w) + cr.sum(cr.linalg.solve(np.eye(2) * 3, w))


@pytest.mark.parametrize("transform", ["grad", "jvp", "hessian", "backward"])
def test_plain_numpy_code_differentiates_at_every_level(transform: str) -> None:
    x = np.random.default_rng(0).standard_normal((3, 2))
    w = np.array([[0.3, -0.2], [0.1, 0.4]])
    if transform == "backward":
        a = cr.tensor(w, requires_grad=True)
        _numpy_model(a, x).backward()
        np.testing.assert_allclose(a.grad.numpy(), cr.grad(_chainrule_model)(w, x), rtol=1e-12)
        return
    if transform == "grad":
        got, expected = cr.grad(_numpy_model)(w, x), cr.grad(_chainrule_model)(w, x)
    elif transform == "jvp":
        t = np.ones_like(w)
        got, expected = cr.jvp(lambda v: _numpy_model(v, x), (w,), (t,))[1], cr.jvp(
            lambda v: _chainrule_model(v, x), (w,), (t,))[1]
    else:
        flat = w.reshape(-1)
        got = cr.hessian(lambda v: _numpy_model(v.reshape(2, 2), x))(flat)
        expected = cr.hessian(lambda v: _chainrule_model(cr.reshape(v, (2, 2)), x))(flat)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_ndarray_operators_and_ufunc_methods_record() -> None:
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    for y, expected in [(np.ones((2, 2)) @ x, [[2.0, 2.0], [2.0, 2.0]]), (np.full((2, 2), 2.0) * x, [[2.0] * 2] * 2),
                        (np.add.reduce(x), [[1.0] * 2] * 2), (np.add.reduce(x, axis=None), [[1.0] * 2] * 2),
                        (np.multiply.reduce(x, axis=1), [[2.0, 1.0], [4.0, 3.0]]),
                        (np.maximum.reduce(x, axis=0), [[0.0, 0.0], [1.0, 1.0]]),
                        (np.add.accumulate(x, axis=1), [[2.0, 1.0], [2.0, 1.0]])]:
        (g,) = cr.engine.grad(y.sum(), x)
        np.testing.assert_array_equal(g.numpy(), expected)


@pytest.mark.parametrize("call", [lambda v: np.i0(v), lambda v: np.maximum.accumulate(v),
                                  lambda v: np.spacing(v), lambda v: np.nextafter(v, 0.0)],
                         ids=["i0", "maximum.accumulate", "spacing", "nextafter"])
def test_a_numpy_function_without_a_rule_is_refused_by_name(call: Any) -> None:
    with pytest.raises(TypeError, match=r"^np\.\S+ has no chainrule rule"):
        cr.grad(lambda v: np.sum(call(v)))(np.array([2.0, 1.0, 3.0]))
    with pytest.raises(TypeError, match="has no chainrule rule"):
        call(cr.tensor([2.0, 1.0, 3.0], requires_grad=True))
    # nothing being differentiated: it computes on the data, and gives a tensor back
    got = call(cr.tensor([2.0, 1.0, 3.0]))
    np.testing.assert_array_equal(np.asarray(got), call(np.array([2.0, 1.0, 3.0])))


def test_functions_without_a_derivative_work_on_anything() -> None:
    x = cr.tensor([2.0, 1.0, 3.0], requires_grad=True)
    assert np.shape(x) == (3,) and np.ndim(x) == 1
    np.testing.assert_array_equal(np.asarray(np.argsort(x)), [1, 0, 2])
    assert cr.grad(lambda v: (v * np.count_nonzero(v > 1.5)).sum())(np.array([2.0, 1.0])) == pytest.approx([1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(np.where(x > 1.5)[0]), [0, 2])  # where's one-argument form


def test_out_is_refused_on_tensors() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.sin\(\.\.\., out=\)"):
        np.sin(x, out=np.empty(2))
    with pytest.raises(TypeError, match=r"np\.sum\(\.\.\., out=\)"):
        np.sum(x, out=np.empty(()))


def test_numpys_svd_default_and_einsums_options() -> None:
    square = cr.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    u, s, vh = np.linalg.svd(square)
    np.testing.assert_allclose((u * s) @ vh, square.numpy(), atol=1e-12)
    with pytest.raises(TypeError, match="full_matrices=False"):
        np.linalg.svd(cr.tensor(np.ones((3, 2)), requires_grad=True))
    assert np.linalg.svd(cr.tensor(np.ones((3, 2))), full_matrices=False)[0].shape == (3, 2)
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    np.testing.assert_array_equal(np.einsum("ij,jk->ik", x, x, optimize=True).numpy(), (x @ x).numpy())
    np.testing.assert_array_equal(np.einsum(x, [0, 1], x, [1, 2], [0, 2]).numpy(), (x @ x).numpy())  # sublists
