"""Shape and indexing: forward against NumPy, gradients of the composites, indexing semantics, round trips.

The primitives of this family (reshape, transpose, broadcast_to, concatenate, getitem, scatter_add) are checked by
the generated tests of test_ops.py; here are the composites built on them and the indexing forms NumPy accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.engine import grad

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


@pytest.mark.parametrize(("f", "inputs"), [pytest.param(*c[1:], id=c[0]) for c in GRADS])
def test_composites_keep_float32(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    args = [cr.tensor(np.asarray(a, dtype=np.float32), requires_grad=True) for a in inputs]
    out = f(*args)
    assert out.dtype == np.float32
    out.sum().backward()
    for a in args:
        assert a.grad is not None and a.grad.dtype == np.float32 and a.grad.shape == a.shape


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
