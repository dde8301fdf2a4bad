"""Sorting (ops/sorting.py): sort, argsort, partition, argpartition, msort, topk. Values against NumPy (and topk,
sort against PyTorch), gradients by finite differences to second order in both modes, which element of a tie gets
the gradient, NumPy's own functions on tensors, float32, and the CuPy stand-in device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import backend
from chainrule.testing import check_device
from same_bits import replays_as_eager
from stand_in_gpu import Named
from test_shape import keeps_float32

RNG = np.random.default_rng(3)


def _x(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.standard_normal(shape)


A, B3 = _x(3, 4), _x(2, 3, 4)
TIES = np.array([[2.0, 1.0, 2.0, 1.0, 0.0], [3.0, 3.0, 3.0, -1.0, 3.0]])

FORWARD: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    ("sort", cr.sort, np.sort, (A,), {}),
    ("sort-axis0", cr.sort, np.sort, (A,), {"axis": 0}),
    ("sort-none", cr.sort, np.sort, (A,), {"axis": None}),
    ("sort-3d", cr.sort, np.sort, (B3,), {"axis": 1}),
    ("sort-0d-none", cr.sort, np.sort, (np.array(1.5),), {"axis": None}),
    ("sort-empty", cr.sort, np.sort, (np.zeros((0, 3)),), {}),
    ("sort-nan-inf", cr.sort, np.sort, (np.array([2.0, np.nan, -np.inf, -1.0, np.inf]),), {}),
    ("sort-kind", cr.sort, np.sort, (A,), {"kind": "mergesort"}),
    ("sort-stable", cr.sort, np.sort, (TIES,), {"stable": True}),
    ("sort-ints", cr.sort, np.sort, (np.array([3, -1, 2]),), {}),
    ("argsort", cr.argsort, np.argsort, (A,), {}),
    ("argsort-axis0", cr.argsort, np.argsort, (B3,), {"axis": 0}),
    ("argsort-none", cr.argsort, np.argsort, (A,), {"axis": None}),
    ("argsort-ties", cr.argsort, np.argsort, (TIES,), {}),
    ("argsort-ties-stable", cr.argsort, np.argsort, (TIES,), {"kind": "stable"}),
    ("argsort-empty", cr.argsort, np.argsort, (np.zeros(0),), {}),
    ("partition", cr.partition, np.partition, (A, 2), {}),
    ("partition-kths", cr.partition, np.partition, (A, [0, 3]), {}),
    ("partition-axis0", cr.partition, np.partition, (B3, 1), {"axis": 0}),
    ("partition-negative", cr.partition, np.partition, (A, -1), {}),
    ("partition-none", cr.partition, np.partition, (A, 5), {"axis": None}),
    ("partition-ties", cr.partition, np.partition, (TIES, 2), {}),
    ("argpartition", cr.argpartition, np.argpartition, (A, 1), {}),
    ("argpartition-axis0", cr.argpartition, np.argpartition, (B3, (0, 1)), {"axis": 1}),
]


def _wrap(a: Any) -> Any:
    return cr.tensor(a) if isinstance(a, np.ndarray) else a


@pytest.mark.parametrize(("fn", "ref", "args", "kwargs"), [pytest.param(*c[1:], id=c[0]) for c in FORWARD])
def test_forward_matches_numpy(fn: Callable[..., Any], ref: Callable[..., Any], args: tuple[Any, ...],
                               kwargs: dict[str, Any]) -> None:
    expected = ref(*args, **kwargs)
    tensors = [_wrap(a) for a in args]
    # raw arrays in, arrays out; tensors in (by chainrule's name or NumPy's), tensors out
    for got, tensor in ((fn(*args, **kwargs), False), (fn(*tensors, **kwargs), True), (ref(*tensors, **kwargs), True)):
        assert isinstance(got, cr.Tensor) == tensor
        raw = got.data if tensor else got
        np.testing.assert_array_equal(raw, expected)
        assert raw.dtype == expected.dtype and raw.shape == expected.shape


def test_msort_is_sort_along_the_first_axis() -> None:
    np.testing.assert_array_equal(cr.msort(cr.tensor(B3)).data, np.sort(B3, axis=0))
    assert cr.gradcheck(cr.msort, _x(3, 2), order=2, modes=("rev", "fwd"))


def test_the_indices_have_no_gradient() -> None:
    x = cr.tensor(A, requires_grad=True)
    for idx in (cr.argsort(x), cr.argpartition(x, 1), cr.topk(x, 2).indices, np.argsort(x)):
        assert isinstance(idx, cr.Tensor) and not idx.requires_grad and idx.dtype.kind == "i"
    assert cr.topk(x, 2).indices.dtype == np.int64  # PyTorch's LongTensor
    g = cr.grad(lambda v: cr.take_along_axis(v, cr.argsort(v, axis=0), axis=0)[-1].sum())(A)
    np.testing.assert_array_equal(g, (A == A.max(axis=0)).astype(float))


# ---- gradients -------------------------------------------------------------------------------------------------
GRADS: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    ("sort", cr.sort, (_x(3, 4),)),
    ("sort-axis0", lambda x: cr.sort(x, axis=0), (_x(3, 4),)),
    ("sort-none", lambda x: cr.sort(x, axis=None), (_x(2, 3),)),
    ("sort-of-both-signs", lambda x: cr.sort(x)[1:] * cr.sort(-x)[:-1], (_x(5),)),
    ("sort-of-a-product", lambda x, y: cr.sort(x * y, axis=-1), (_x(2, 3), _x(2, 3))),
    ("partition", lambda x: cr.partition(x, 1), (_x(3, 4),)),
    ("partition-kths", lambda x: cr.partition(x, [0, 2], axis=0), (_x(4, 2),)),
    ("topk", lambda x: cr.topk(x, 2).values, (_x(3, 4),)),
    ("topk-smallest-dim0", lambda x: cr.topk(x, 3, dim=0, largest=False).values, (_x(4, 2),)),
    ("topk-squared", lambda x: cr.topk(x * x, 1, dim=-1).values, (_x(2, 5),)),
]


@pytest.mark.parametrize(("f", "inputs"), [pytest.param(*c[1:], id=c[0]) for c in GRADS])
def test_gradients(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    assert cr.gradcheck(f, *inputs, order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize(("f", "inputs"), [pytest.param(*c[1:], id=c[0]) for c in GRADS])
def test_float32_is_kept(f: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    keeps_float32(f, inputs)


def test_ties_give_the_gradient_to_the_element_the_stable_permutation_picks() -> None:
    x = cr.tensor([1.0, 1.0, 0.0], requires_grad=True)
    (cr.sort(x) * cr.tensor([1.0, 10.0, 100.0])).sum().backward()  # sorted: [x2, x0, x1]
    np.testing.assert_array_equal(x.grad.data, [10.0, 100.0, 1.0])
    x = cr.tensor([2.0, 5.0, 5.0, 1.0], requires_grad=True)
    values, indices = cr.topk(x, 2)
    np.testing.assert_array_equal(indices.data, [1, 2])  # the earliest of equal ones first
    (values * cr.tensor([1.0, 10.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 10.0, 0.0])
    x = cr.tensor([3.0, 3.0, 3.0], requires_grad=True)
    values, indices = cr.topk(x, 2, largest=False)
    np.testing.assert_array_equal(indices.data, [0, 1])


def test_numpy_functions_record_inside_transforms() -> None:
    w = np.cos(np.arange(A.size)).reshape(A.shape)
    ours = cr.grad(lambda x: (cr.sort(x, axis=0) * w).sum() + cr.partition(x, 2).sum())(A)
    theirs = cr.grad(lambda x: (np.sort(x, axis=0) * w).sum() + np.partition(x, 2).sum())(A)
    np.testing.assert_allclose(theirs, ours, rtol=1e-14)
    _, tangent = cr.jvp(lambda x: np.sort(x, axis=None), (A,), (w,))
    np.testing.assert_array_equal(np.asarray(tangent), w.ravel()[np.argsort(A, axis=None, kind="stable")])


# ---- against PyTorch -------------------------------------------------------------------------------------------
TOPK = [((3, 5), 2, -1, True), ((3, 5), 5, 1, False), ((4, 3), 1, 0, True), ((4, 3), 0, 0, True),
        ((2, 3, 4), 3, 1, False), ((6,), 4, 0, True)]


@pytest.mark.parametrize(("shape", "k", "dim", "largest"), TOPK)
def test_topk_matches_pytorch(shape: tuple[int, ...], k: int, dim: int, largest: bool) -> None:
    x = _x(*shape)
    t, ref = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    values, indices = cr.topk(t, k, dim=dim, largest=largest)
    expected = torch.topk(ref, k, dim=dim, largest=largest)
    np.testing.assert_array_equal(values.data, expected.values.detach().numpy())
    np.testing.assert_array_equal(indices.data, expected.indices.numpy())
    cot = np.cos(np.arange(values.size)).reshape(values.shape)
    values.backward(cot)
    expected.values.backward(torch.tensor(cot))
    np.testing.assert_array_equal(t.grad.data, ref.grad.numpy())


def test_topk_takes_nan_as_the_largest_and_a_0d_input_as_pytorch() -> None:
    x = np.array([1.0, np.nan, 3.0, -2.0])
    for largest in (True, False):
        values, indices = cr.topk(cr.tensor(x), 2, largest=largest)
        expected = torch.topk(torch.tensor(x), 2, largest=largest)
        np.testing.assert_array_equal(values.data, expected.values.numpy())
        np.testing.assert_array_equal(indices.data, expected.indices.numpy())
    values, indices = cr.topk(cr.tensor(2.5), 1)
    assert values.shape == indices.shape == () and float(values) == 2.5 and int(indices) == 0
    named = cr.topk(cr.tensor([1.0, 2.0]), 1, sorted=False)
    assert named.values.shape == (1,) and named.indices.tolist() == [1]


def test_sort_matches_pytorch_with_its_gradient() -> None:
    x = _x(3, 4)
    t, ref = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = cr.sort(t, dim=0), torch.sort(ref, dim=0).values
    np.testing.assert_array_equal(out.data, expected.detach().numpy())
    cot = np.cos(np.arange(x.size)).reshape(x.shape)
    out.backward(cot)
    expected.backward(torch.tensor(cot))
    np.testing.assert_array_equal(t.grad.data, ref.grad.numpy())


# ---- errors ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "error", "match"), [
    pytest.param(lambda: cr.sort(A, order="f"), ValueError, "structured", id="sort-order"),
    pytest.param(lambda: cr.argsort(A, order=["f"]), ValueError, "structured", id="argsort-order"),
    pytest.param(lambda: cr.topk(A, 5), ValueError, "k=5 is out of range", id="topk-k"),
    pytest.param(lambda: cr.topk(A, -1), ValueError, "out of range", id="topk-negative"),
    pytest.param(lambda: cr.topk(A, 1.5), TypeError, "integer", id="topk-float"),
    pytest.param(lambda: cr.partition(A, 1.5), TypeError, "kth must be integers", id="partition-kth"),
    pytest.param(lambda: cr.sort(A, axis=2), np.exceptions.AxisError, "axis 2", id="sort-axis"),
    pytest.param(lambda: cr.sort(np.array(1.0)), np.exceptions.AxisError, "axis -1", id="sort-0d"),
])
def test_errors_name_the_problem(call: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


# ---- on the CuPy stand-in (the fixture and the naming wrapper are test_shape's) ----------------------------------
DEVICE = [(name, f, inputs) for name, f, inputs in GRADS] + [("msort", cr.msort, (_x(3, 2),))]


@pytest.mark.usefixtures("gpu")
@pytest.mark.parametrize(("name", "fn", "args"), DEVICE, ids=[c[0] for c in DEVICE])
def test_on_the_gpu_matches_the_cpu(name: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    assert check_device(Named(name, fn), args, {}, "cuda")


@pytest.mark.usefixtures("gpu")
def test_indices_on_the_gpu() -> None:
    t = cr.tensor(A, device="cuda")
    for got, want in ((cr.argsort(t, axis=0), np.argsort(A, axis=0, kind="stable")),
                      (cr.topk(t, 2, dim=1).indices, np.argsort(-A, axis=1, kind="stable")[:, :2]),
                      (np.argsort(t), np.argsort(A, kind="stable"))):
        assert got.device == "cuda:0"
        np.testing.assert_array_equal(backend.to_host(got.data), want)
    kth = cr.argpartition(t, [0, 3])
    np.testing.assert_array_equal(np.take_along_axis(A, backend.to_host(kth.data), -1)[:, [0, 3]],
                                  np.sort(A)[:, [0, 3]])


# ---- under vmap and cr.compile: the permutation is a recorded primitive, batched and replayed ----------------------
TRANSFORMED: list[tuple[str, Callable[..., Any]]] = [
    ("sort", lambda t: (cr.sort(t, axis=1) * cr.arange(5.0)).sum()),
    ("topk", lambda t: (cr.topk(t, 3).values * cr.arange(3.0)).sum() + cr.topk(t, 2, largest=False).indices.sum()),
    ("partition", lambda t: cr.partition(t, (1, 3), axis=1)[:, 1].sum()),
    ("argsort", lambda t: cr.take_along_axis(t, cr.argsort(t, axis=0), axis=0)[-1].sum()),
]


@pytest.mark.parametrize("f", [pytest.param(f, id=name) for name, f in TRANSFORMED])
def test_compiled_replays_the_permutation_of_new_values(f: Callable[..., Any]) -> None:
    replays_as_eager(f, [_x(4, 5), _x(4, 5), _x(4, 5)])  # each call orders different values


@pytest.mark.parametrize("f", [pytest.param(f, id=name) for name, f in TRANSFORMED])
def test_vmap_orders_each_example(f: Callable[..., Any]) -> None:
    xs = _x(3, 4, 5)
    np.testing.assert_array_equal(cr.vmap(cr.grad(f))(xs).data, np.stack([cr.grad(f)(x).data for x in xs]))
    np.testing.assert_array_equal(cr.vmap(f)(xs).data, [f(cr.tensor(x)).data for x in xs])
