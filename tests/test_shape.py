"""Shape and indexing: forward against NumPy, gradients of the composites, indexing semantics, round trips.

The primitives of this family (reshape, transpose, broadcast_to, concatenate, getitem, scatter_add) are checked by
the generated tests of test_ops.py; here are the composites built on them and the indexing forms NumPy accepts.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.engine import grad
from chainrule.testing import check_device
from stand_in_gpu import Named

RNG = np.random.default_rng(0)


def _x(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.uniform(-2.0, 2.0, shape)


def _grad(t: cr.Tensor) -> np.ndarray[Any, Any]:
    assert t.grad is not None
    return t.grad.data


def _raw(y: Any) -> Any:
    return [_raw(p) for p in y] if isinstance(y, list) else np.asarray(y.data if isinstance(y, cr.Tensor) else y)


# ---- forward against NumPy, on raw arrays and on Tensors -----------------------------------------------------
A, B, C = _x(2, 3), _x(2, 3), _x(4, 3)
V, W, S0 = _x(3), _x(2), _x()
X4 = _x(2, 1, 3, 1)

FORWARD: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    ("permute", cr.permute, np.transpose, (_x(2, 3, 4), (2, 0, 1)), {}),
    ("swapaxes", cr.swapaxes, np.swapaxes, (_x(2, 3, 4), 0, -1), {}),
    ("swapaxes-same", cr.swapaxes, np.swapaxes, (A, 1, 1), {}),
    ("moveaxis", cr.moveaxis, np.moveaxis, (_x(2, 3, 4), 0, -1), {}),
    ("moveaxis-many", cr.moveaxis, np.moveaxis, (_x(2, 3, 4, 1), (0, 1), (-1, 0)), {}),
    ("expand_dims", cr.expand_dims, np.expand_dims, (A, 1), {}),
    ("expand_dims-neg", cr.expand_dims, np.expand_dims, (A, -1), {}),
    ("expand_dims-tuple", cr.expand_dims, np.expand_dims, (A, (0, 3)), {}),
    ("expand_dims-0d", cr.expand_dims, np.expand_dims, (S0, 0), {}),
    ("squeeze", cr.squeeze, np.squeeze, (X4,), {}),
    ("squeeze-axis", cr.squeeze, np.squeeze, (X4,), {"axis": 1}),
    ("squeeze-axes", cr.squeeze, np.squeeze, (X4,), {"axis": (1, -1)}),
    ("squeeze-0d", cr.squeeze, np.squeeze, (S0,), {}),
    ("flatten", cr.flatten, lambda x: x.flatten(), (_x(2, 3, 2),), {}),
    ("ravel", cr.ravel, np.ravel, (A,), {}),
    ("ravel-0d", cr.ravel, np.ravel, (S0,), {}),
    ("concatenate", cr.concatenate, np.concatenate, ([A, C],), {}),
    ("concatenate-axis1", cr.concatenate, np.concatenate, ([A, _x(2, 1), B],), {"axis": 1}),
    ("concatenate-neg", cr.concatenate, np.concatenate, ([A, B],), {"axis": -1}),
    ("concatenate-none", cr.concatenate, np.concatenate, ([A, V],), {"axis": None}),
    ("concatenate-tuple", cr.concatenate, np.concatenate, ((V, W, V),), {}),
    ("stack", cr.stack, np.stack, ([A, B],), {}),
    ("stack-axis", cr.stack, np.stack, ([A, B, A],), {"axis": 1}),
    ("stack-last", cr.stack, np.stack, ([A, B],), {"axis": -1}),
    ("stack-0d", cr.stack, np.stack, ([S0, S0],), {}),
    ("hstack", cr.hstack, np.hstack, ([A, _x(2, 1)],), {}),
    ("hstack-1d", cr.hstack, np.hstack, ([V, W, S0],), {}),
    ("vstack", cr.vstack, np.vstack, ([A, C],), {}),
    ("vstack-1d", cr.vstack, np.vstack, ([V, V],), {}),
    ("vstack-mixed", cr.vstack, np.vstack, ([A, V],), {}),
    ("split-sections", cr.split, np.split, (_x(6, 2), 3), {}),
    ("split-indices", cr.split, np.split, (_x(6, 2), [1, 4]), {}),
    ("split-axis", cr.split, np.split, (_x(2, 6), [2, 2, 5]), {"axis": 1}),
    ("split-negative", cr.split, np.split, (_x(2, 6), [-2]), {"axis": -1}),
    ("split-beyond", cr.split, np.split, (_x(5,), [2, 9]), {}),
    ("pad-int", cr.pad, np.pad, (A, 1), {}),
    ("pad-pair", cr.pad, np.pad, (A, (1, 2)), {}),
    ("pad-per-axis", cr.pad, np.pad, (A, ((0, 1), (2, 0))), {}),
    ("pad-constant", cr.pad, np.pad, (V, (2, 1)), {"constant_values": 3.5}),
    ("pad-constants", cr.pad, np.pad, (A, 1), {"constant_values": ((1, 2), (3, 4))}),
    ("pad-mode", cr.pad, np.pad, (V, 1), {"mode": "constant"}),
    ("flip", cr.flip, np.flip, (A,), {}),
    ("flip-axis", cr.flip, np.flip, (A,), {"axis": 0}),
    ("flip-neg", cr.flip, np.flip, (_x(2, 3, 2),), {"axis": (0, -1)}),
    ("flip-0d", cr.flip, np.flip, (S0,), {}),
    ("roll", cr.roll, np.roll, (A, 2), {}),
    ("roll-axis", cr.roll, np.roll, (A, 1), {"axis": 1}),
    ("roll-negative", cr.roll, np.roll, (A, -4), {"axis": -1}),
    ("roll-multi", cr.roll, np.roll, (A, (1, 2)), {"axis": (0, 1)}),
    ("roll-same-axis", cr.roll, np.roll, (A, (1, 1)), {"axis": (1, 1)}),
    ("roll-zero", cr.roll, np.roll, (A, 3), {"axis": 1}),
    ("tile", cr.tile, np.tile, (V, 2), {}),
    ("tile-2d", cr.tile, np.tile, (V, (2, 2)), {}),
    ("tile-fewer", cr.tile, np.tile, (_x(2, 1, 3), (2, 1)), {}),
    ("tile-0d", cr.tile, np.tile, (S0, 3), {}),
    ("tile-zero", cr.tile, np.tile, (A, (0, 2)), {}),
    ("repeat", cr.repeat, np.repeat, (A, 2), {}),
    ("repeat-axis", cr.repeat, np.repeat, (A, 2), {"axis": 1}),
    ("repeat-counts", cr.repeat, np.repeat, (A, [1, 0, 2]), {"axis": -1}),
    ("repeat-one-count", cr.repeat, np.repeat, (A, [3]), {"axis": 0}),
    ("repeat-0d", cr.repeat, np.repeat, (S0, 3), {}),
    ("take", cr.take, np.take, (A, [5, 0, 5]), {}),
    ("take-2d-indices", cr.take, np.take, (A, [[0, -1], [1, 1]]), {"axis": 1}),
    ("take-scalar", cr.take, np.take, (A, 1), {"axis": 0}),
    ("take-flat-scalar", cr.take, np.take, (A, -2), {}),
    ("take-wrap", cr.take, np.take, (V, [3, -5, 7]), {"mode": "wrap"}),
    ("take-clip", cr.take, np.take, (V, [3, -5, 1]), {"mode": "clip"}),
    ("take_along_axis", cr.take_along_axis, np.take_along_axis, (A, np.array([[2, 0], [1, 1]])), {"axis": 1}),
    ("take_along_axis-0", cr.take_along_axis, np.take_along_axis, (A, np.array([[1, 0, 1]])), {"axis": 0}),
    ("take_along_axis-bcast", cr.take_along_axis, np.take_along_axis, (A, np.array([[0], [2]])), {"axis": 1}),
    ("take_along_axis-none", cr.take_along_axis, np.take_along_axis, (A, np.array([5, 0, 0])), {"axis": None}),
    ("take_along_axis-argsort", cr.take_along_axis, np.take_along_axis, (A, np.argsort(A, axis=-1)), {"axis": -1}),
]


def _wrap(a: Any) -> Any:
    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return cr.tensor(a)
    if isinstance(a, (list, tuple)) and a and all(isinstance(e, np.ndarray) for e in a):
        return type(a)(cr.tensor(e) for e in a)
    return a


@pytest.mark.parametrize(("fn", "ref", "args", "kwargs"), [pytest.param(*c[1:], id=c[0]) for c in FORWARD])
def test_forward_matches_numpy(fn: Callable[..., Any], ref: Callable[..., Any], args: tuple[Any, ...],
                               kwargs: dict[str, Any]) -> None:
    expected = ref(*args, **kwargs)
    for got in (fn(*args, **kwargs), fn(*[_wrap(a) for a in args], **kwargs)):
        if isinstance(expected, list):
            assert isinstance(got, list) and len(got) == len(expected)
            for p, e in zip(_raw(got), expected):
                np.testing.assert_array_equal(p, e)
        else:
            np.testing.assert_array_equal(_raw(got), expected)
            assert _raw(got).shape == np.shape(expected)


def test_tensor_methods_match_numpy() -> None:
    x = _x(2, 1, 3)
    t = cr.tensor(x)
    np.testing.assert_array_equal(t.swapaxes(0, 2).data, x.swapaxes(0, 2))
    np.testing.assert_array_equal(t.squeeze().data, x.squeeze())
    np.testing.assert_array_equal(t.squeeze(1).data, x.squeeze(1))
    np.testing.assert_array_equal(t.flatten().data, x.flatten())
    np.testing.assert_array_equal(t.ravel().data, x.ravel())
    # ndarray.repeat is Tensor.repeat_interleave; Tensor.repeat is PyTorch's, np.tile (issue 12)
    np.testing.assert_array_equal(t.repeat_interleave(2).data, x.repeat(2))
    np.testing.assert_array_equal(t.repeat_interleave(2, axis=2).data, x.repeat(2, axis=2))
    np.testing.assert_array_equal(t.repeat(1, 2, 1).data, np.tile(x, (1, 2, 1)))
    np.testing.assert_array_equal(t.take([0, 4]).data, x.take([0, 4]))
    np.testing.assert_array_equal(t.take([2, 0], axis=2).data, x.take([2, 0], axis=2))
    np.testing.assert_array_equal(t.permute(2, 0, 1).data, x.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.reshape(3, 2).data, x.reshape(3, 2))


# ---- gradients of the composites -----------------------------------------------------------------------------
def _gradcheck(f: Callable[..., Any], *inputs: Any) -> None:
    assert cr.gradcheck(f, *inputs, order=2, modes=("rev", "fwd"))


GRADS: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    ("permute", lambda x: cr.permute(x, (1, 2, 0)), (_x(2, 1, 3),)),
    ("swapaxes", lambda x: cr.swapaxes(x, 0, 2), (_x(2, 1, 3),)),
    ("moveaxis", lambda x: cr.moveaxis(x, 0, -1), (_x(2, 1, 3),)),
    ("expand_dims", lambda x: cr.expand_dims(x, (0, 2)), (_x(2, 3),)),
    ("squeeze", lambda x: cr.squeeze(x, 0), (_x(1, 3, 1),)),
    ("flatten", cr.flatten, (_x(2, 3),)),
    ("ravel", cr.ravel, (_x(2, 3),)),
    ("stack", lambda a, b: cr.stack([a, b], axis=1), (_x(2, 2), _x(2, 2))),
    ("stack-0d", lambda a, b: cr.stack([a, b]), (_x(), _x())),
    ("hstack", lambda a, b: cr.hstack([a, b]), (_x(2, 1), _x(2, 2))),
    ("vstack", lambda a, b: cr.vstack([a, b]), (_x(3), _x(2, 3))),
    ("concatenate-none", lambda a, b: cr.concatenate([a, b], axis=None), (_x(2, 2), _x(3))),
    ("split", lambda x: cr.split(x, [1, 3], axis=1)[1] * cr.split(x, 2)[0].sum(), (_x(2, 4),)),
    ("pad", lambda x: cr.pad(x, ((1, 0), (0, 2)), constant_values=0.5), (_x(2, 2),)),
    ("flip", lambda x: cr.flip(x, 1), (_x(2, 3),)),
    ("flip-all", cr.flip, (_x(2, 3),)),
    ("roll", lambda x: cr.roll(x, (1, -1), axis=(0, 1)), (_x(2, 3),)),
    ("roll-flat", lambda x: cr.roll(x, 4), (_x(2, 3),)),
    ("tile", lambda x: cr.tile(x, (2, 2)), (_x(3),)),
    ("repeat", lambda x: cr.repeat(x, 2, axis=1), (_x(2, 2),)),
    ("repeat-counts", lambda x: cr.repeat(x, [2, 0, 1]), (_x(3),)),
    ("take", lambda x: cr.take(x, [[0, 5], [5, 2]]), (_x(2, 3),)),
    ("take-axis", lambda x: cr.take(x, [2, 2, 0], axis=1), (_x(2, 3),)),
    ("take_along_axis", lambda x: cr.take_along_axis(x, np.array([[2, 2], [0, 1]]), axis=1), (_x(2, 3),)),
    ("getitem-mask", lambda x: x[np.array([[True, False, True], [False, False, True]])], (_x(2, 3),)),
    ("getitem-mixed", lambda x: x[1:, [0, 0, 2]], (_x(3, 3),)),
]


@pytest.mark.parametrize(("f", "inputs"), [pytest.param(*c[1:], id=c[0]) for c in GRADS])
def test_composite_gradients(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    _gradcheck(f, *inputs)


def keeps_float32(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    """``f`` of float32 inputs is float32, and so are their gradients."""
    args = [cr.tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in inputs]
    out = f(*args)
    assert out.dtype == np.float32
    out.sum().backward()
    for a in args:
        assert a.grad is not None and a.grad.dtype == np.float32 and a.grad.shape == a.shape


@pytest.mark.parametrize(("f", "inputs"), [pytest.param(*c[1:], id=c[0]) for c in GRADS])
def test_composites_keep_float32(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    keeps_float32(f, inputs)


# ---- indexing ------------------------------------------------------------------------------------------------
M23 = np.array([[True, False, True], [False, True, True]])
INDICES: list[tuple[str, Any]] = [
    ("int", 1),
    ("negative-int", -1),
    ("slice", slice(1, None)),
    ("negative-step", slice(None, None, -2)),
    ("ints", (1, -1, 2)),
    ("ellipsis", (Ellipsis, 1)),
    ("none", (None, 0, Ellipsis, None)),
    ("empty-tuple", ()),
    ("int-array", np.array([0, 0, 1])),
    ("int-list", [1, 0, 1]),
    ("nested-list", [[0, 1], [1, 1]]),
    ("empty-list", []),
    ("two-arrays", ([0, 1, 1], [2, 2, 0])),
    ("arrays-broadcast", (np.array([[0], [1]]), slice(None), np.array([0, 3, 3]))),
    ("mixed", (slice(None), [2, 0, 2], 1)),
    ("mixed-separated", ([0, 1], slice(None), [3, 3])),
    ("mixed-none", (None, [1, 1], Ellipsis, slice(None, None, -1))),
    ("tuple-inside", ((0, 1, 1), 0)),
    ("bool-1d", np.array([False, True])),
    ("bool-2d-leading", M23),
    ("bool-2d-list", M23.tolist()),
    ("bool-then-int", (M23, 2)),
    ("bool-after-slice", (slice(None), np.array([True, False, True]), slice(1, 3))),
    ("bool-all-false", np.zeros((2, 3), dtype=bool)),
    ("bool-scalar", np.array(True)),
    ("bool-python", (True, 0)),
    ("int-0d-array", np.array(1)),
    ("np-int", (np.int64(1), np.int32(-2))),
]


def _expected_grad(x: np.ndarray[Any, Any], index: Any, g: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """d/dx sum(g * x[index]) by NumPy alone: count how often each element is picked, weighted by g."""
    picked = np.arange(x.size).reshape(x.shape)[index]
    return np.bincount(np.ravel(picked), weights=np.ravel(g), minlength=x.size).reshape(x.shape)


@pytest.mark.parametrize("index", [pytest.param(c[1], id=c[0]) for c in INDICES])
def test_indexing_forward_and_gradient(index: Any) -> None:
    x = _x(2, 3, 4)
    expected = x[index]
    t = cr.tensor(x, requires_grad=True)
    y = t[index]
    np.testing.assert_array_equal(y.data, expected)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(_raw(cr.getitem(x, index)), expected)  # raw arrays in, raw array out
    g = RNG.standard_normal(expected.shape)
    y.backward(g)
    assert t.grad is not None
    np.testing.assert_allclose(_grad(t), _expected_grad(x, index, g), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("index", [pytest.param(c[1], id=c[0]) for c in INDICES if c[0] in (
    "negative-step", "none", "int-array", "two-arrays", "mixed-separated", "bool-2d-leading", "bool-then-int")])
def test_indexing_gradcheck(index: Any) -> None:
    _gradcheck(lambda x: x[index], _x(2, 3, 4))


def test_repeated_indices_accumulate() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(_grad(x), [2.0, 0.0, 1.0])
    for index in (np.array([0, 0, 2]), cr.tensor([0, 0, 2]), (np.array([0, 0, 2]),), [[0], [0], [2]]):
        x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x[index].sum().backward()
        np.testing.assert_array_equal(_grad(x), [2.0, 0.0, 1.0])


def test_repeated_indices_accumulate_in_composites() -> None:
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (cr.take(x, [1, 1, 1], axis=1).sum() + cr.take_along_axis(x, np.array([[0, 0], [0, 0]]), axis=0).sum()).backward()
    np.testing.assert_array_equal(_grad(x), [[2.0, 5.0], [0.0, 3.0]])


def test_tensor_indices_and_masks() -> None:
    x = _x(2, 3)
    t = cr.tensor(x, requires_grad=True)
    mask = cr.tensor(x > 0)
    assert mask.dtype == np.bool_
    np.testing.assert_array_equal(t[mask].data, x[x > 0])
    np.testing.assert_array_equal(t[cr.tensor([1, 0])].data, x[[1, 0]])
    np.testing.assert_array_equal(t[:, cr.tensor([2, 2])].data, x[:, [2, 2]])
    np.testing.assert_array_equal(t[t > 0].data, x[x > 0])  # a comparison Tensor as the mask
    t[t > 0].sum().backward()
    np.testing.assert_array_equal(_grad(t), (x > 0).astype(float))


def test_mask_over_leading_dims_and_values_from_mask() -> None:
    x = _x(2, 3, 4)
    mask = np.array([[True, False, True], [False, False, True]])
    t = cr.tensor(x, requires_grad=True)
    y = t[mask]
    assert y.shape == (3, 4)
    np.testing.assert_array_equal(y.data, x[mask])
    y.sum().backward()
    np.testing.assert_array_equal(_grad(t), np.broadcast_to(mask[..., None], x.shape).astype(float))


def test_indexing_in_forward_mode_and_second_order() -> None:
    x = np.array([0.5, -1.0, 2.0])
    _, t = cr.jvp(lambda v: (v[[0, 0, 2]] ** 2).sum(), [x], [np.ones(3)])
    np.testing.assert_allclose(np.asarray(t), 4 * x[0] + 2 * x[2])
    v = cr.tensor(x, requires_grad=True)
    (g,) = grad((v[[0, 0, 2]] ** 3).sum(), v, create_graph=True)
    np.testing.assert_allclose(g.data, [6 * x[0] ** 2, 0.0, 3 * x[2] ** 2])
    g.sum().backward()
    np.testing.assert_allclose(_grad(v), [12 * x[0], 0.0, 6 * x[2]])


def test_indexing_errors_are_numpy_errors() -> None:
    t = cr.tensor(_x(2, 3))
    with pytest.raises(IndexError):
        t[5]
    with pytest.raises(IndexError):
        t[[0.5]]
    with pytest.raises(IndexError):
        t[np.array([True, False, True])]  # mask of the wrong length


# ---- errors --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "error", "match"), [
    pytest.param(lambda: cr.pad(V, 1, mode="reflect"), ValueError, "mode='constant'", id="pad-mode"),
    pytest.param(lambda: cr.pad(V, -1), ValueError, "negative", id="pad-negative"),
    pytest.param(lambda: cr.pad(V, 1.5), TypeError, "integers", id="pad-float"),
    pytest.param(lambda: cr.pad(A, ((1, 1), (1, 1), (1, 1))), ValueError, "does not fit", id="pad-shape"),
    pytest.param(lambda: cr.squeeze(A, 0), ValueError, "length 2, not 1", id="squeeze"),
    pytest.param(lambda: cr.split(V, 2), ValueError, "equal sections", id="split-uneven"),
    pytest.param(lambda: cr.split(V, 0), ValueError, "positive", id="split-zero"),
    pytest.param(lambda: cr.stack([A, C]), ValueError, r"\(2, 3\) and \(4, 3\)", id="stack-shapes"),
    pytest.param(lambda: cr.stack([]), ValueError, "at least one", id="stack-empty"),
    pytest.param(lambda: cr.concatenate([A, C], axis=1), ValueError, r"\(2, 3\) and \(4, 3\)", id="concat-shapes"),
    pytest.param(lambda: cr.concatenate([A, V]), ValueError, "do not match", id="concat-ndim"),
    pytest.param(lambda: cr.concatenate([S0, S0]), ValueError, "zero-dimensional", id="concat-0d"),
    pytest.param(lambda: cr.concatenate([]), ValueError, "at least one", id="concat-empty"),
    pytest.param(lambda: cr.repeat(V, [1, 2]), ValueError, "do not match", id="repeat-counts"),
    pytest.param(lambda: cr.repeat(V, -1), ValueError, "negative", id="repeat-negative"),
    pytest.param(lambda: cr.take(V, [0.5]), IndexError, "integers", id="take-float"),
    pytest.param(lambda: cr.take(V, [0], mode="bad"), ValueError, "mode", id="take-mode"),
    pytest.param(lambda: cr.take_along_axis(A, np.array([0]), axis=1), ValueError, "same number", id="tal-ndim"),
    pytest.param(lambda: cr.take_along_axis(A, np.array([[0]]), axis=None), ValueError, "1-d", id="tal-none"),
    pytest.param(lambda: cr.moveaxis(A, (0, 1), 0), ValueError, "same number", id="moveaxis"),
    pytest.param(lambda: cr.swapaxes(A, 0, 2), np.exceptions.AxisError, "axis 2", id="swapaxes-axis"),
    pytest.param(lambda: cr.expand_dims(A, (0, 0)), ValueError, "repeated axis", id="expand-repeated"),
])
def test_errors_name_the_problem(call: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# ---- properties over random shapes ----------------------------------------------------------------------------
shapes = st.lists(st.integers(1, 3), min_size=0, max_size=4).map(tuple)


@settings(max_examples=25, deadline=None)
@given(shape=shapes, data=st.data())
def test_shape_round_trips_and_gradient_shapes(shape: tuple[int, ...], data: st.DataObject) -> None:
    x = cr.tensor(np.random.default_rng(len(shape)).standard_normal(shape), requires_grad=True)
    ndim = len(shape)
    perm = tuple(data.draw(st.permutations(range(ndim))))
    new_axis = data.draw(st.integers(-ndim - 1, ndim))
    flat = (-1,) if ndim else ()
    ys = [
        cr.reshape(cr.reshape(x, flat), shape),
        cr.transpose(cr.transpose(x, perm), tuple(np.argsort(perm))) if ndim else cr.transpose(x),
        cr.squeeze(cr.expand_dims(x, new_axis), new_axis),
        cr.reshape(cr.squeeze(x), shape),
        cr.moveaxis(cr.moveaxis(x, 0, -1), -1, 0) if ndim else x * 1.0,
    ]
    for y in ys:
        assert y.shape == shape
        np.testing.assert_array_equal(y.data, x.data)
    weights = [np.random.default_rng(k).standard_normal(shape) for k in range(len(ys))]
    total = ys[0] * weights[0]
    for y, w in zip(ys[1:], weights[1:]):
        total = total + y * w
    total.sum().backward()
    assert x.grad is not None and x.grad.shape == shape
    np.testing.assert_allclose(_grad(x), sum(weights), rtol=1e-12, atol=1e-12)
    # each op alone gives its input's shape back as the gradient's
    for op in (lambda v: cr.transpose(v, perm), lambda v: cr.expand_dims(v, new_axis), cr.squeeze, cr.ravel):
        v = cr.tensor(x.data, requires_grad=True)
        out = op(v)
        out.backward(np.ones(out.shape))
        assert v.grad is not None and v.grad.shape == shape


def test_pad_with_a_differentiated_constant_keeps_its_gradient() -> None:
    g = cr.grad(lambda c: cr.pad(np.ones(2), (1, 2), constant_values=c).sum())(0.5)
    assert float(g) == 3.0
    with pytest.raises(ValueError, match="single value"):
        cr.grad(lambda c: cr.pad(np.ones(2), 1, constant_values=[c, c]).sum())(0.5)


# ---- NumPy's shape functions (issue 10): values against NumPy, by chainrule's name and by NumPy's -------------------
X3 = _x(2, 3, 4)
V5, V4 = np.array([0.3, -1.2, 2.5, 0.7, -0.4]), np.array([1.5, -0.5, 2.0, 0.25])
COORDS3, COORDS4 = np.array([0.0, 0.5, 2.0]), np.array([-1.0, 0.0, 0.5, 2.5])
NUMPY: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = [
    ("diag-vector", "diag", (V,), {}),
    ("diag-vector-above", "diag", (V,), {"k": 1}),
    ("diag-vector-below", "diag", (V,), {"k": -2}),
    ("diag-vector-empty", "diag", (np.zeros(0),), {}),
    ("diag-matrix", "diag", (A,), {}),
    ("diag-matrix-above", "diag", (C,), {"k": 1}),
    ("diag-matrix-below", "diag", (C,), {"k": -2}),
    ("diag-matrix-beyond", "diag", (A,), {"k": 5}),
    ("diagflat", "diagflat", (A,), {"k": -1}),
    ("tril", "tril", (C,), {}),
    ("tril-k", "tril", (X3,), {"k": -1}),
    ("tril-above", "tril", (A,), {"k": 1}),
    ("tril-1d", "tril", (V,), {}),
    ("tril-empty", "tril", (np.zeros((0, 3)),), {}),
    ("triu", "triu", (C,), {}),
    ("triu-k", "triu", (X3,), {"k": 2}),
    ("triu-below", "triu", (A,), {"k": -1}),
    ("kron", "kron", (A, V), {}),
    ("kron-fewer-axes", "kron", (W, C), {}),
    ("kron-0d", "kron", (S0, A), {}),
    ("kron-3d", "kron", (_x(1, 2, 2), A), {}),
    ("cross", "cross", (C, _x(4, 3)), {}),
    ("cross-broadcast", "cross", (_x(2, 1, 3), C), {}),
    ("cross-axes", "cross", (_x(3, 2), _x(2, 3)), {"axisa": 0, "axisb": 1, "axisc": 0}),
    ("cross-axis", "cross", (_x(3, 2), _x(3, 2)), {"axis": 0}),
    ("cross-2-and-3", "cross", (_x(4, 2), C), {}),
    ("cross-3-and-2", "cross", (C, _x(2,)), {}),
    ("cross-2-and-2", "cross", (_x(4, 2), _x(4, 2)), {}),
    ("diff", "diff", (A,), {}),
    ("diff-n2-axis0", "diff", (C,), {"n": 2, "axis": 0}),
    ("diff-prepend-append", "diff", (A,), {"prepend": 0.5, "append": _x(2, 2)}),
    ("diff-prepend-array", "diff", (A,), {"axis": 0, "prepend": _x(1, 3)}),
    ("diff-n0", "diff", (A,), {"n": 0}),
    ("diff-too-many", "diff", (V,), {"n": 4}),
    ("diff-empty", "diff", (np.zeros(0),), {}),
    ("diff-bool", "diff", (np.array([True, False, False, True]),), {}),
    ("ediff1d", "ediff1d", (A,), {}),
    ("ediff1d-ends", "ediff1d", (V,), {"to_begin": [1.0, 2.0], "to_end": 3.0}),
    ("ediff1d-empty", "ediff1d", (np.zeros(0),), {"to_end": 1.0}),
    ("ediff1d-float32", "ediff1d", (V.astype(np.float32),), {"to_begin": 0.5}),
    ("gradient", "gradient", (V5,), {}),
    ("gradient-2d", "gradient", (C,), {}),
    ("gradient-step", "gradient", (C, 0.5), {}),
    ("gradient-steps", "gradient", (C, 0.5, 2.0), {"edge_order": 2}),
    ("gradient-coords", "gradient", (C, COORDS4, COORDS3), {}),
    ("gradient-coords-edge2", "gradient", (C, COORDS4, COORDS3), {"edge_order": 2}),
    ("gradient-uniform-coords", "gradient", (C, np.array([0.0, 2.0, 4.0, 6.0]), 1.0), {"edge_order": 2}),
    ("gradient-axis", "gradient", (X3, COORDS3), {"axis": 1, "edge_order": 2}),
    ("gradient-axes", "gradient", (X3, 2.0, COORDS4), {"axis": (0, -1)}),
    ("gradient-int", "gradient", (np.array([1, 4, 9, 16]),), {}),
    ("gradient-int-coords", "gradient", (V4, np.array([0, 1, 3, 4])), {}),
    ("gradient-two-points", "gradient", (W,), {}),
    ("select", "select", ([A > 0.5, A < -0.5], [A, B]), {}),
    ("select-default", "select", ([A > 0], [A * 3]), {"default": B}),
    ("select-scalar-default", "select", ([A > 0, A > 1], [A, A + 1]), {"default": -1.5}),
    ("select-broadcast", "select", ([V > 0], [A]), {"default": V}),
    ("rot90", "rot90", (A,), {}),
    ("rot90-twice", "rot90", (A, 2), {}),
    ("rot90-thrice", "rot90", (A, 3), {}),
    ("rot90-back", "rot90", (A, -1), {}),
    ("rot90-none", "rot90", (A, 4), {}),
    ("rot90-axes", "rot90", (X3, 1, (2, 0)), {}),
    ("rot90-axes-neg", "rot90", (X3, 3, (-1, 1)), {}),
    ("flipud", "flipud", (A,), {}),
    ("flipud-1d", "flipud", (V,), {}),
    ("fliplr", "fliplr", (X3,), {}),
    ("append", "append", (A, V), {}),
    ("append-axis", "append", (A, B), {"axis": 0}),
    ("append-columns", "append", (A, _x(2, 1)), {"axis": 1}),
    ("append-0d", "append", (V, S0), {}),
    ("append-empty", "append", (np.zeros(0), V), {}),
    ("column_stack", "column_stack", ((V, V * 2, _x(3, 2)),), {}),
    ("column_stack-0d", "column_stack", ((S0, S0),), {}),
    ("atleast_1d", "atleast_1d", (S0,), {}),
    ("atleast_1d-many", "atleast_1d", (S0, V, A), {}),
    ("atleast_2d", "atleast_2d", (V,), {}),
    ("atleast_2d-many", "atleast_2d", (S0, V, X3), {}),
    ("atleast_3d", "atleast_3d", (A,), {}),
    ("atleast_3d-many", "atleast_3d", (S0, V, A, X3), {}),
    ("meshgrid", "meshgrid", (V, W), {}),
    ("meshgrid-ij", "meshgrid", (V, W), {"indexing": "ij"}),
    ("meshgrid-sparse", "meshgrid", (V, W, V5), {"sparse": True}),
    ("meshgrid-three", "meshgrid", (V, W, V5), {}),
    ("meshgrid-matrix", "meshgrid", (A, V), {"indexing": "ij", "copy": False}),
    ("meshgrid-one", "meshgrid", (V,), {}),
    ("meshgrid-none", "meshgrid", (), {}),
    ("atleast_1d-none", "atleast_1d", (), {}),
]


def _tensors(a: Any) -> Any:
    """Every array as a tensor, inside lists and tuples too."""
    if isinstance(a, np.ndarray):
        return cr.tensor(a)
    return type(a)(_tensors(e) for e in a) if isinstance(a, (list, tuple)) else a


def _as_tuple(y: Any) -> Any:
    return tuple(y) if isinstance(y, (list, tuple)) else y


def _same(got: Any, expected: Any) -> None:
    """Values (to rounding), dtype and shape, through tuples."""
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _same(g, e)
        return
    raw = got.data if isinstance(got, cr.Tensor) else got
    assert raw.dtype == expected.dtype and raw.shape == expected.shape
    np.testing.assert_allclose(raw, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("name", "args", "kwargs"), [pytest.param(*c[1:], id=c[0]) for c in NUMPY])
def test_numpy_shape_functions_match_numpy(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # NumPy 2 deprecates cross products of 2-vectors
        expected = _as_tuple(getattr(np, name)(*args, **kwargs))
    ours, theirs = getattr(cr, name), getattr(np, name)
    tensors = _tensors(args)
    _same(_as_tuple(ours(*args, **kwargs)), expected)
    for got in (ours(*tensors, **kwargs), theirs(*tensors, **kwargs)):  # NumPy's name routes to chainrule's
        got = _as_tuple(got)
        for part in got if isinstance(got, tuple) else (got,):
            assert isinstance(part, cr.Tensor)
        _same(got, expected)


def test_row_stack_is_vstack_and_outer_exists() -> None:
    assert cr.row_stack is cr.vstack
    np.testing.assert_array_equal(cr.row_stack([cr.tensor(V), V]).data, np.vstack([V, V]))
    np.testing.assert_allclose(cr.outer(cr.tensor(V), W).data, np.outer(V, W))


# ---- their gradients --------------------------------------------------------------------------------------------
NEW_GRADS: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    ("diag-vector", lambda v: cr.diag(v, k=-1), (_x(3),)),
    ("diag-matrix", lambda m: cr.diag(m, 1), (_x(3, 4),)),
    ("diagflat", cr.diagflat, (_x(2, 2),)),
    ("tril", lambda m: cr.tril(m, -1) * m, (_x(2, 3, 3),)),
    ("triu", lambda m: cr.triu(m * m, 1), (_x(3, 4),)),
    ("kron", cr.kron, (_x(2, 2), _x(3, 1))),
    ("cross", cr.cross, (_x(2, 3), _x(2, 3))),
    ("cross-axes", lambda a, b: cr.cross(a, b, axisa=0, axisc=0), (_x(3, 2), _x(2, 3))),
    ("cross-2-and-3", cr.cross, (_x(2), _x(4, 3))),
    ("cross-2-and-2", cr.cross, (_x(3, 2), _x(3, 2))),
    ("diff", lambda x: cr.diff(x * x, n=2), (_x(2, 4),)),
    ("diff-ends", lambda x, p: cr.diff(x, axis=0, prepend=p, append=x[:1]), (_x(3, 2), _x(1, 2))),
    ("ediff1d", lambda x, b: cr.ediff1d(x, to_begin=b, to_end=[1.0, 2.0]), (_x(2, 3), _x(2))),
    ("gradient", lambda f: cr.gradient(f * f), (_x(5),)),
    ("gradient-edge2", lambda f: cr.gradient(f, 0.5, edge_order=2, axis=0), (_x(4, 2),)),
    ("gradient-step", lambda f, h: cr.gradient(f, h, edge_order=2), (_x(4), np.array(0.7))),
    ("gradient-coords", lambda f, c: cr.gradient(f, c, axis=1), (_x(2, 4), COORDS4)),
    ("gradient-coords-edge2", lambda f, c: cr.gradient(f, c, edge_order=2), (_x(4), COORDS4)),
    ("gradient-uniform-coords", lambda f, c: cr.gradient(f, c, edge_order=2), (_x(4), np.arange(4.0))),
    ("gradient-axes", lambda f: cr.gradient(f, 1.0, COORDS3)[1], (_x(2, 3),)),
    ("select", lambda x, y: cr.select([x > 0.3, y > 0], [x * y, y], default=x), (_x(2, 3), _x(2, 3))),
    ("rot90", lambda x: cr.rot90(x, 1, (2, 0)), (_x(2, 3, 2),)),
    ("rot90-thrice", lambda x: cr.rot90(x, 3), (_x(2, 3),)),
    ("flipud", cr.flipud, (_x(3, 2),)),
    ("fliplr", cr.fliplr, (_x(2, 3),)),
    ("append", cr.append, (_x(2, 2), _x(3))),
    ("append-axis", lambda a, b: cr.append(a, b, axis=1), (_x(2, 2), _x(2, 1))),
    ("column_stack", lambda a, b: cr.column_stack([a, b]), (_x(3), _x(3, 2))),
    ("atleast_3d", lambda a: cr.atleast_3d(a) * 2, (_x(3),)),
    ("atleast_2d-many", lambda a, b: cr.atleast_2d(a, b)[0] * cr.atleast_2d(a, b)[1], (_x(), _x(3))),
    ("meshgrid", lambda a, b: cr.meshgrid(a, b)[0] * cr.meshgrid(a, b)[1], (_x(3), _x(2))),
    ("meshgrid-ij-sparse", lambda a, b: cr.meshgrid(a, b, indexing="ij", sparse=True)[1] * a[:, None], (_x(3), _x(2))),
    ("array", lambda x, y: cr.array([[x, y], [x * y, 1.0]]), (_x(), _x())),
    ("array-of-vectors", lambda x: cr.array([x, x * x, [1.0, 2.0, 3.0]]), (_x(3),)),
    ("array-float32", lambda x, y: cr.array([[x, y], (y, x * y)]), (_x(), _x())),
    ("array-copy-ndmin", lambda x: cr.array(x, ndmin=3) * x, (_x(2),)),
    ("asarray-tuple", lambda x, y: cr.asarray((x, y)) ** 2, (_x(2), _x(2))),
    ("r_", lambda x, y: cr.r_[x, 0:2, y, 3.0], (_x(3), _x(2))),
    ("c_", lambda x, y: cr.c_[x, y * x], (_x(3), _x(3))),
]


@pytest.mark.parametrize(("f", "inputs"), [pytest.param(*c[1:], id=c[0]) for c in NEW_GRADS])
def test_numpy_shape_function_gradients(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    _gradcheck(f, *inputs)


# NumPy's dtypes: np.r_ of float32 pieces and integer ranges, and np.array of float32 values and Python floats, are
# float64 (the Python numbers in a list count as float64)
FLOAT32_SKIP = {"r_", "array", "array-of-vectors"}


@pytest.mark.parametrize(("f", "inputs"), [pytest.param(*c[1:], id=c[0]) for c in NEW_GRADS
                                           if c[0] not in FLOAT32_SKIP])
def test_numpy_shape_functions_keep_float32(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    keeps_float32(f, inputs)


# NumPy's function names inside cr.grad route to chainrule's and record: the same gradient either way
ROUTED: list[tuple[str, Callable[[Any], Callable[[Any], Any]]]] = [
    ("diag", lambda m: lambda x: m.diag(m.diag(x, 1))),
    ("diagflat", lambda m: lambda x: m.diagflat(x)),
    ("tril-triu", lambda m: lambda x: m.tril(x) * m.triu(x, -1)),
    ("kron", lambda m: lambda x: m.kron(x, x)),
    ("cross", lambda m: lambda x: m.cross(x, x * x, axis=0)),
    ("diff", lambda m: lambda x: m.diff(x, n=2, axis=1, prepend=x[:, :1])),
    ("ediff1d", lambda m: lambda x: m.ediff1d(x, to_begin=x[0, 0])),
    ("gradient", lambda m: lambda x: m.gradient(x * x, 0.5)[0]),
    ("select", lambda m: lambda x: m.select([x > 0, x < -1], [x, x * x], default=1.0)),
    ("rot90", lambda m: lambda x: m.rot90(x, 3)),
    ("flipud-fliplr", lambda m: lambda x: m.flipud(x) * m.fliplr(x)),
    ("append", lambda m: lambda x: m.append(x, x * x, axis=0)),
    ("column_stack", lambda m: lambda x: m.column_stack([x[0], x[1]])),
    ("atleast_3d", lambda m: lambda x: m.atleast_3d(x)),
    ("meshgrid", lambda m: lambda x: m.meshgrid(x[0], x[1])[1]),
    ("sort", lambda m: lambda x: m.sort(x, axis=0) * x),
    ("array-like", lambda m: lambda x: m.array([x, x * 2], like=x)),
]


@pytest.mark.parametrize("make", [pytest.param(c[1], id=c[0]) for c in ROUTED])
def test_numpy_names_record_inside_transforms(make: Callable[[Any], Callable[[Any], Any]]) -> None:
    x = _x(3, 3)
    ours, theirs = make(cr), make(np)
    w = {}

    def loss(f: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def total(v: Any) -> Any:
            y = f(v)
            if "w" not in w:
                w["w"] = np.cos(np.arange(y.size)).reshape(y.shape)
            return (y * w["w"]).sum()
        return total

    expected = cr.grad(loss(ours))(x)
    np.testing.assert_allclose(cr.grad(loss(theirs))(x), expected, rtol=1e-13, atol=1e-15)
    _, tangent = cr.jvp(loss(theirs), (x,), (np.ones_like(x),))
    np.testing.assert_allclose(np.asarray(tangent), expected.sum(), rtol=1e-12, atol=1e-12)


def test_a_differentiated_spacing_of_gradient_gets_its_gradient() -> None:
    """d/dh of np.gradient(f, h) is -gradient / h; coordinates that happen to be uniform differentiate as
    coordinates."""
    f = _x(5)
    np.testing.assert_allclose(cr.grad(lambda h: cr.gradient(f, h).sum())(0.5), -np.gradient(f, 0.5).sum() / 0.5)
    coords = np.arange(5.0)
    g = cr.grad(lambda c: cr.gradient(f, c, edge_order=2).sum())(coords)
    h = 1e-6
    numeric = [(np.gradient(f, coords + h * e, edge_order=2).sum() - np.gradient(f, coords - h * e, edge_order=2).sum())
               / (2 * h) for e in np.eye(5)]
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


# ---- cr.array and cr.asarray: NumPy's conversion, with tensors stacked -------------------------------------------
def test_array_of_nested_tensors_stacks_and_records() -> None:
    x, y = cr.tensor(2.0, requires_grad=True), cr.tensor([1.0, -1.0], requires_grad=True)
    out = cr.array([[x, x * x], y * 3, (0.5, x)])
    np.testing.assert_array_equal(out.data, [[2.0, 4.0], [3.0, -3.0], [0.5, 2.0]])
    (out * np.arange(6.0).reshape(3, 2)).sum().backward()
    assert float(x.grad) == 0 * 1 + 1 * 4 + 5 and y.grad.tolist() == [6.0, 9.0]
    _, t = cr.jvp(lambda v: cr.array([[v, v], [v, 1.0]]), (np.array(2.0),), (np.array(1.0),))
    np.testing.assert_array_equal(np.asarray(t), [[1.0, 1.0], [1.0, 0.0]])


def test_array_dtypes_as_numpy() -> None:
    f32 = cr.tensor(np.float32(1.5), requires_grad=True)
    assert cr.array([f32, f32]).dtype == np.float32
    assert cr.array([f32, 2.0]).dtype == np.array([np.float32(1.5), 2.0]).dtype
    assert cr.array([cr.tensor(1), 2]).dtype == np.int64
    cast = cr.array([f32, f32], dtype=np.float64)
    assert cast.dtype == np.float64 and cast.requires_grad
    cast.sum().backward()
    assert f32.grad.dtype == np.float32 and float(f32.grad) == 2.0
    assert not cr.array([f32], dtype=np.int32).requires_grad  # an integer result has no gradient


def test_array_copy_semantics() -> None:
    base = np.array([1.0, 2.0])
    t = cr.tensor(base, requires_grad=True)
    copied = cr.array(t)
    assert copied is not t and copied.requires_grad and not np.shares_memory(copied.data, t.data)
    assert cr.array(t, copy=None) is t and cr.asarray(t) is t and cr.array(t, copy=False) is t
    assert cr.asarray(t, dtype=np.float32).dtype == np.float32
    constant = cr.array(base)
    assert isinstance(constant, cr.Tensor) and not constant.requires_grad and not np.shares_memory(constant.data, base)
    assert np.shares_memory(cr.asarray(base).data, base)
    assert cr.array([1, 2]).dtype == np.int64 and cr.array(3.0).shape == () and cr.array(t, ndmin=3).shape == (1, 1, 2)
    with pytest.raises(ValueError, match="copy"):
        cr.array(t, dtype=np.float32, copy=False)
    with pytest.raises(ValueError, match="stacked into a new array"):
        cr.array([t, t], copy=False)
    with pytest.raises(ValueError):  # NumPy's own refusal
        cr.array([1.0, 2.0], copy=False)
    with pytest.raises(ValueError, match="memory layout"):
        cr.array(t, order="F")
    with pytest.raises(ValueError, match="same shape"):
        cr.array([t, cr.tensor([1.0, 2.0, 3.0])])


def test_np_array_of_tensors_never_keeps_a_gradient_silently() -> None:
    """NumPy does not dispatch np.array: inside a transform converting a differentiated tensor is refused; outside
    one the result is a plain ndarray, as np.asarray(t); like=t makes NumPy dispatch, and then it records."""
    with pytest.raises(TypeError, match="drop its derivative"):
        cr.grad(lambda x: np.array([x, x * 2]).sum())(np.array([1.0, 2.0]))
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    assert type(np.array([t, t])) is np.ndarray
    g = cr.grad(lambda x: np.array([x, x * 2], like=x).sum())(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [3.0, 3.0])


# ---- r_ and c_ ------------------------------------------------------------------------------------------------------
def _joins(m: Any) -> list[Any]:
    v, a = (cr.tensor(V), cr.tensor(A)) if m is cr else (V, A)
    return [m.r_[v, V], m.r_[v, 0:3], m.r_[0:1:5j], m.r_[v, 7, [5.0, 6.0], -1:2], m.r_[2.5], m.r_[a, A],
            m.r_["0,2", v, V], m.r_["1,2,0", v, V], m.r_["0,3,1", v, V], m.r_["-1", a, A], m.r_["1", a, A],
            m.c_[v, V], m.c_[a, A], m.c_[v, A.T], m.c_[0:3, v], m.r_[np.float32(1.0), np.zeros(2, np.float32)]]


def test_r_and_c_match_numpy() -> None:
    for got, expected in zip(_joins(cr), _joins(np)):
        raw = got.data if isinstance(got, cr.Tensor) else got
        assert raw.dtype == expected.dtype and raw.shape == expected.shape
        np.testing.assert_array_equal(raw, expected)


@pytest.mark.parametrize(("key", "match"), [(("r", V), "matrix"), ((V, "0"), "first entry"), (("x", V), "unknown"),
                                            (("0,1,2,3", V), "at most three"), ((), "nothing to join")])
def test_r_refuses_what_it_cannot_do(key: tuple[Any, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cr.r_[key]


# ---- errors of the NumPy shape functions ---------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "error", "match"), [
    pytest.param(lambda: cr.diag(X3), ValueError, "1-d or 2-d", id="diag-3d"),
    pytest.param(lambda: cr.tril(S0), ValueError, "at least 1-d", id="tril-0d"),
    pytest.param(lambda: cr.cross(_x(4), _x(4)), ValueError, "length 2 or 3", id="cross-length"),
    pytest.param(lambda: cr.cross(S0, V), ValueError, "at least one dimension", id="cross-0d"),
    pytest.param(lambda: cr.diff(V, n=-1), ValueError, "non-negative", id="diff-negative"),
    pytest.param(lambda: cr.diff(S0), ValueError, "at least 1-d", id="diff-0d"),
    pytest.param(lambda: cr.ediff1d(np.arange(3), to_begin=0.5), TypeError, "same_kind", id="ediff1d-cast"),
    pytest.param(lambda: cr.gradient(V, edge_order=3), ValueError, "1 or 2", id="gradient-edge"),
    pytest.param(lambda: cr.gradient(W, edge_order=2), ValueError, "at least 3", id="gradient-short"),
    pytest.param(lambda: cr.gradient(A, 1.0, 2.0, 3.0), TypeError, "3 spacings for 2 axes", id="gradient-spacings"),
    pytest.param(lambda: cr.gradient(V, np.ones((3, 1))), ValueError, "scalar or 1-d", id="gradient-2d-spacing"),
    pytest.param(lambda: cr.gradient(V, np.arange(4.0)), ValueError, "do not match", id="gradient-coords"),
    pytest.param(lambda: cr.select([A > 0], [A, B]), ValueError, "pair up", id="select-lengths"),
    pytest.param(lambda: cr.select([], []), ValueError, "at least one", id="select-empty"),
    pytest.param(lambda: cr.select([A], [B]), TypeError, "boolean", id="select-bool"),
    pytest.param(lambda: cr.rot90(A, 1, (0, 0)), ValueError, "different", id="rot90-same"),
    pytest.param(lambda: cr.rot90(A, 1, (0,)), ValueError, "two axes", id="rot90-one"),
    pytest.param(lambda: cr.rot90(A, 1, (0, 2)), np.exceptions.AxisError, "axis 2", id="rot90-range"),
    pytest.param(lambda: cr.flipud(S0), ValueError, "at least 1-d", id="flipud"),
    pytest.param(lambda: cr.fliplr(V), ValueError, "at least 2-d", id="fliplr"),
    pytest.param(lambda: cr.meshgrid(V, indexing="xx"), ValueError, "'xy' or 'ij'", id="meshgrid"),
])
def test_numpy_shape_function_errors_name_the_problem(call: Callable[[], Any], error: type[Exception],
                                                      match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# ---- on the CuPy stand-in ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "fn", "args"), NEW_GRADS, ids=[c[0] for c in NEW_GRADS])
def test_numpy_shape_functions_on_the_gpu_match_the_cpu(name: str, fn: Callable[..., Any], args: tuple[Any, ...],
                                                        gpu: None) -> None:
    assert check_device(Named(name, fn), args, {}, "cuda")


def test_arrays_of_gpu_tensors_stay_on_the_gpu(gpu: None) -> None:
    x = cr.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    out = cr.array([x, [3.0, 4.0]])
    assert out.device == "cuda:0"
    out.sum().backward()
    assert x.grad.device == "cuda:0"
    assert cr.asarray(np.ones(2), device="cuda").device == "cuda:0"
    assert cr.r_[x, 0:2].device == "cuda:0" and cr.select([x > 1], [x], 0.0).device == "cuda:0"
    moved = cr.tensor([1.0, 2.0], requires_grad=True)
    cr.asarray(moved, device="cuda").sum().backward()
    assert moved.grad.device == "cpu"
