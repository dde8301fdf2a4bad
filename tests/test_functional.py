"""cr.nn.functional against torch.nn.functional on the same inputs (forward and gradients, float64), gradcheck of the
composites, stability of the logits losses at |x| = 1000, float32 preservation, and the decided kinks."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
from chainrule.nn import functional as F


@pytest.fixture(autouse=True)
def _torch_float64() -> Any:
    """torch builds float64 tensors by default in this module only (other modules compare float32 layers)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


RTOL, ATOL = 1e-10, 1e-12


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _is_float(a: Any) -> bool:
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def compare(cr_fn: Callable[..., Any], torch_fn: Callable[..., Any], *arrays: Any, grad: bool = True,
            rtol: float = RTOL, atol: float = ATOL, seed: int = 1) -> None:
    """Forward values and the gradients of every float array input, chainrule against torch."""
    cr_args = [cr.tensor(a, requires_grad=grad) if _is_float(a) else a for a in arrays]
    th_args = [torch.tensor(a, requires_grad=grad) if _is_float(a)
               else torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in arrays]
    out, ref = cr_fn(*cr_args), torch_fn(*th_args)
    np.testing.assert_allclose(np.asarray(out.data), ref.detach().numpy(), rtol=rtol, atol=atol)
    assert out.shape == tuple(ref.shape)
    if not grad:
        return
    cot = _rng(seed).standard_normal(tuple(ref.shape))
    out.backward(cot)
    ref.backward(torch.tensor(cot))
    for i, (a, t) in enumerate(zip(cr_args, th_args)):
        if isinstance(a, cr.Tensor) and a.requires_grad:
            expected = np.zeros(a.shape) if t.grad is None else t.grad.numpy()
            got = np.zeros(a.shape) if a.grad is None else a.grad.data
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def randn(*shape: int, seed: int = 0) -> np.ndarray[Any, Any]:
    return _rng(seed).standard_normal(shape)


# ---- convolution ---------------------------------------------------------------------------------------------------
CONV2D = [
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), {"padding": 1}),
    ((2, 3, 7, 6), (4, 3, 3, 2), {"padding": (2, 1), "stride": (2, 3)}),
    ((1, 2, 8, 9), (2, 2, 3, 3), {"dilation": (2, 1), "padding": 2}),
    ((2, 4, 6, 6), (6, 2, 3, 3), {"groups": 2, "stride": 2, "padding": 1}),
    ((2, 4, 5, 5), (4, 1, 3, 3), {"groups": 4, "padding": "same"}),                # depthwise
    ((1, 2, 6, 7), (3, 2, 4, 2), {"padding": "same", "dilation": (1, 2)}),         # even kernel: extra pad after
    ((1, 2, 6, 7), (3, 2, 2, 3), {"padding": "valid", "stride": (1, 2)}),
    ((2, 3, 5, 5), (2, 3, 1, 1), {"stride": 2}),
    ((3, 7, 7), (2, 3, 3, 3), {"padding": 1}),                                     # unbatched
    ((2, 24, 5, 4), (3, 24, 3, 3), {"padding": (1, 0)}),             # many channels: weight gradient tap by tap
    ((1, 48, 4, 5), (4, 24, 2, 3), {"groups": 2, "dilation": (1, 2), "padding": (1, 1)}),
]


@pytest.mark.parametrize(("xs", "ws", "kw"), CONV2D)
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # torch's note about its own zero-padded copy
def test_conv2d_matches_torch(xs: tuple[int, ...], ws: tuple[int, ...], kw: dict[str, Any], bias: bool) -> None:
    x, w = randn(*xs), randn(*ws, seed=1)
    if bias:
        compare(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw), x, w,
                randn(ws[0], seed=2))
    else:
        compare(lambda x, w: F.conv2d(x, w, **kw), lambda x, w: TF.conv2d(x, w, **kw), x, w)


@pytest.mark.parametrize(("xs", "ws", "kw"), [
    ((2, 3, 10), (4, 3, 3), {}),
    ((2, 3, 10), (4, 3, 4), {"padding": "same", "dilation": 2}),
    ((2, 4, 11), (2, 2, 3), {"stride": 2, "padding": 1, "groups": 2}),
    ((3, 9), (2, 3, 2), {"padding": (1,)}),
])
def test_conv1d_matches_torch(xs: tuple[int, ...], ws: tuple[int, ...], kw: dict[str, Any]) -> None:
    compare(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw),
            randn(*xs), randn(*ws, seed=1), randn(ws[0], seed=2))


@pytest.mark.parametrize(("xs", "ws", "kw"), [
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 3, 4, 5), (3, 2, 3, 2), {"stride": 2, "padding": 1}),
    ((2, 3, 4, 5), (3, 2, 3, 3), {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2)}),
    ((1, 4, 3, 3), (4, 1, 2, 2), {"stride": 2, "groups": 2}),
    ((1, 2, 3, 4), (2, 3, 3, 3), {"dilation": 2, "padding": 1}),
    ((1, 2, 3, 4), (2, 3, 2, 2), {"dilation": 3, "output_padding": 2}),  # output_padding >= stride, < dilation
    ((2, 3, 3), (2, 3, 2, 2), {"stride": 2}),                               # unbatched
])
def test_conv_transpose2d_matches_torch(xs: tuple[int, ...], ws: tuple[int, ...], kw: dict[str, Any]) -> None:
    compare(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
            randn(*xs), randn(*ws, seed=1), randn(ws[1] * kw.get("groups", 1), seed=2))


def test_conv2d_errors_name_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"groups=1 does not fit a weight of shape \(4, 2, 3, 3\)"):
        F.conv2d(cr.zeros((1, 3, 5, 5)), cr.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="not supported for strided"):
        F.conv2d(cr.zeros((1, 2, 5, 5)), cr.zeros((4, 2, 3, 3)), stride=2, padding="same")
    with pytest.raises(ValueError, match="too small"):
        F.conv2d(cr.zeros((1, 2, 2, 2)), cr.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="4-d"):
        F.conv2d(cr.zeros((1, 2, 5, 5)), cr.zeros((4, 2, 3)))
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        F.conv_transpose2d(cr.zeros((1, 2, 3, 3)), cr.zeros((2, 2, 3, 3)), stride=2, output_padding=2)


def test_conv2d_second_derivatives() -> None:
    x, w, b = randn(1, 2, 4, 4) * 0.5, randn(2, 2, 2, 2, seed=1) * 0.5, randn(2, seed=2)
    assert cr.gradcheck(lambda x, w, b: cr.tanh(F.conv2d(x, w, b, stride=(1, 2), padding=1)), x, w, b)
    assert cr.gradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1), x, w)


def test_conv_net_matches_torch_end_to_end() -> None:
    """conv -> relu -> max pool -> conv -> avg pool -> linear -> cross entropy, gradients of every weight."""
    rng = _rng(3)
    arrays = [rng.standard_normal((4, 1, 12, 12)), rng.standard_normal((6, 1, 3, 3)) * 0.5, rng.standard_normal(6),
              rng.standard_normal((8, 6, 3, 3)) * 0.3, rng.standard_normal(8),
              rng.standard_normal((5, 8 * 3 * 3)) * 0.2]
    labels = np.array([0, 3, 4, 1])

    def net(fn: Any, x: Any, w1: Any, b1: Any, w2: Any, b2: Any, w3: Any, target: Any) -> Any:
        h = fn.max_pool2d(fn.relu(fn.conv2d(x, w1, b1, padding=1)), 2)
        h = fn.avg_pool2d(fn.relu(fn.conv2d(h, w2, b2, padding=1)), 2)
        return fn.cross_entropy(fn.linear(h.reshape(4, -1), w3), target)

    compare(lambda *a: net(F, *a), lambda *a: net(TF, *a), *arrays, labels)


# ---- pooling -------------------------------------------------------------------------------------------------------
MAXPOOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2},
    {"kernel_size": (3, 2), "stride": (1, 2), "padding": (1, 1)},
    {"kernel_size": 2, "stride": 1, "dilation": 2},
    {"kernel_size": 3, "stride": 2, "ceil_mode": True},
    {"kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 3, "padding": 1, "dilation": (1, 2), "ceil_mode": True},
]


@pytest.mark.parametrize("kw", MAXPOOL)
def test_max_pool2d_matches_torch(kw: dict[str, Any]) -> None:
    x = _rng(0).permutation(2 * 3 * 8 * 7).reshape(2, 3, 8, 7) / 10.0  # no ties
    compare(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), x)
    _, idx = F.max_pool2d(cr.tensor(x), return_indices=True, **kw)
    _, tidx = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(idx.data, tidx.numpy())
    assert idx.dtype == np.int64


def test_max_pool2d_ties_give_the_gradient_to_the_first_maximum_as_torch() -> None:
    """After a ReLU many windows are all zeros: the first element of each window takes the whole gradient."""
    x = np.maximum(randn(2, 2, 6, 6), 0.0)
    x[0, 0, :2, :2] = 1.5  # a window of four equal maxima
    for kw in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}):
        compare(lambda x: F.max_pool2d(x, **kw), lambda x: TF.max_pool2d(x, **kw), x)
    x = cr.tensor([[[[1.0, 1.0], [1.0, 1.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[1.0, 0.0], [0.0, 0.0]]]])


def test_max_pool2d_sends_an_infinite_gradient_to_the_maximum_only() -> None:
    x = cr.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).backward(np.array([[[[np.inf]]]]))
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 0.0], [0.0, np.inf]]]])


def test_max_pool2d_propagates_nan_and_sends_its_gradient_there() -> None:
    x = cr.tensor([[[[1.0, np.nan], [3.0, 2.0]]]], requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert np.isnan(y.item())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[[[0.0, 1.0], [0.0, 0.0]]]])


AVGPOOL = [
    {"kernel_size": 2},
    {"kernel_size": 3, "stride": 2, "padding": 1},
    {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
    {"kernel_size": (3, 2), "stride": (2, 1), "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
    {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
    {"kernel_size": 2, "stride": 1, "divisor_override": 3},
]


@pytest.mark.parametrize("kw", AVGPOOL)
def test_avg_pool2d_matches_torch(kw: dict[str, Any]) -> None:
    compare(lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), randn(2, 3, 8, 7))


@pytest.mark.parametrize("size", [1, (3, 2), (5, 4), (None, 3), (8, 7), (7, 9)])
def test_adaptive_avg_pool2d_matches_torch(size: Any) -> None:
    compare(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), randn(2, 3, 8, 7))
    compare(lambda x: F.adaptive_avg_pool2d(x, size), lambda x: TF.adaptive_avg_pool2d(x, size), randn(3, 8, 7))


def test_pooling_unbatched_and_errors() -> None:
    x = randn(3, 6, 6)
    compare(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), x)
    compare(lambda x: F.avg_pool2d(x, 3, 1, 1), lambda x: TF.avg_pool2d(x, 3, 1, 1), x)
    with pytest.raises(ValueError, match="at most half of the kernel size"):
        F.max_pool2d(cr.zeros((1, 1, 4, 4)), 2, padding=2)
    with pytest.raises(ValueError, match="too small"):
        F.avg_pool2d(cr.zeros((1, 1, 2, 2)), 3)


# ---- linear layers, dropout, normalisation --------------------------------------------------------------------------
def test_linear_and_bilinear_match_torch() -> None:
    compare(F.linear, TF.linear, randn(5, 3), randn(4, 3, seed=1), randn(4, seed=2))
    compare(F.linear, TF.linear, randn(2, 5, 3), randn(4, 3, seed=1))
    compare(F.linear, TF.linear, randn(3), randn(4, 3, seed=1), randn(4, seed=2))
    compare(F.bilinear, TF.bilinear, randn(5, 2), randn(5, 3, seed=1), randn(4, 2, 3, seed=2), randn(4, seed=3))


def test_linear_weight_gradient_comes_in_the_weight_layout() -> None:
    """F.linear is one primitive whose weight gradient is g^T x: .grad is a C-ordered array of its own (a transposed
    view would cost a transposing copy every step) and equals the product computed directly."""
    x, w, b = cr.tensor(randn(6, 3)), cr.tensor(randn(4, 3, seed=1), requires_grad=True), cr.tensor(randn(4, seed=2))
    g = randn(6, 4, seed=3)
    F.linear(x, w, b).backward(cr.tensor(g))
    assert w.grad.data.flags.c_contiguous and w.grad.data.base is None
    np.testing.assert_allclose(w.grad.data, g.T @ x.data, rtol=1e-12)
    assert cr.gradcheck(lambda x, w, b: F.linear(x, w, b), randn(2, 5, 3), randn(4, 3, seed=1), randn(4, seed=2),
                        order=2, modes=("rev", "fwd"))
    assert F.linear(randn(2, 3).astype(np.float32), randn(4, 3, seed=1).astype(np.float32), 0.5).dtype == np.float32


def test_a_training_step_graph_is_freed_by_reference_counting() -> None:
    """linear, relu, cross_entropy, backward and an SGD step leave no reference cycle: with the cycle collector off,
    the graph is gone as soon as the loss is dropped (so the collector's passes never find work in it)."""
    w = cr.tensor(randn(4, 3), requires_grad=True)
    b = cr.tensor(randn(4, seed=1), requires_grad=True)
    opt = cr.optim.SGD([w, b], lr=0.1)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        h = F.relu(F.linear(cr.tensor(randn(5, 3, seed=2)), w, b))
        loss = F.cross_entropy(h, np.array([0, 1, 2, 3, 0]))
        node, hidden = weakref.ref(loss._node), weakref.ref(h)
        loss.backward()
        opt.step()
        del h, loss
        assert node() is None and hidden() is None
    finally:
        if was_enabled:
            gc.enable()


def test_dropout_scales_keeps_and_repeats() -> None:
    x = cr.ones((200, 100), requires_grad=True)
    cr.random.seed(7)
    y = F.dropout(x, 0.3)
    kept = y.data != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / 0.7)
    cr.random.seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.3).data, y.data)
    assert F.dropout(x, 0.3, training=False) is x
    assert (F.dropout(x, 1.0).data == 0).all()
    assert F.dropout(cr.ones(4, dtype=np.float32), 0.5).dtype == np.float32
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(shape: tuple[int, ...], training: bool) -> None:
    rng = _rng(4)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
    buffers = (cr.tensor(rm.copy()), cr.tensor(rv.copy()))  # Tensor buffers, as a Module keeps them
    compare(lambda x, w, b: F.batch_norm(x, *buffers, w, b, training, 0.2, 1e-3),
            lambda x, w, b: TF.batch_norm(x, rm_t, rv_t, w, b, training, 0.2, 1e-3),
            rng.standard_normal(shape) * 2 + 1, rng.standard_normal(3), rng.standard_normal(3))
    np.testing.assert_allclose(buffers[0].data, rm_t.numpy(), rtol=RTOL)
    np.testing.assert_allclose(buffers[1].data, rv_t.numpy(), rtol=RTOL)


def test_batch_norm_updates_ndarray_stats_and_checks_its_input() -> None:
    rm, rv = np.zeros(2, dtype=np.float32), np.ones(2, dtype=np.float32)
    x = cr.tensor(randn(5, 2).astype(np.float32), requires_grad=True)
    y = F.batch_norm(x, rm, rv, training=True)
    assert y.dtype == np.float32 and rm.dtype == np.float32
    assert rm.any() and not np.allclose(rv, 1.0)
    F.batch_norm(x, None, None, training=True)  # no running statistics at all
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(cr.zeros((1, 2)), rm, rv, training=True)
    with pytest.raises(ValueError, match="must be given"):
        F.batch_norm(x, None, None, training=False)


def test_layer_norm_and_group_norm_match_torch() -> None:
    x = randn(3, 4, 5) * 3 + 1
    compare(lambda x, w, b: F.layer_norm(x, (5,), w, b), lambda x, w, b: TF.layer_norm(x, (5,), w, b),
            x, randn(5, seed=1), randn(5, seed=2))
    compare(lambda x, w, b: F.layer_norm(x, (4, 5), w, b, 1e-3), lambda x, w, b: TF.layer_norm(x, (4, 5), w, b, 1e-3),
            x, randn(4, 5, seed=1), randn(4, 5, seed=2))
    compare(lambda x: F.layer_norm(x, 5), lambda x: TF.layer_norm(x, (5,)), x)
    x = randn(2, 6, 3, 2) * 2
    compare(lambda x, w, b: F.group_norm(x, 3, w, b), lambda x, w, b: TF.group_norm(x, 3, w, b),
            x, randn(6, seed=1), randn(6, seed=2))
    compare(lambda x: F.group_norm(x, 2, eps=1e-2), lambda x: TF.group_norm(x, 2, eps=1e-2), randn(4, 6))
    with pytest.raises(ValueError, match="do not divide"):
        F.group_norm(cr.zeros((2, 6)), 4)
    with pytest.raises(ValueError, match="normalized_shape"):
        F.layer_norm(cr.zeros((2, 6)), (5,))


def test_normalize_matches_torch() -> None:
    for p, dim in ((2.0, 1), (1.0, 0), (3.0, -1)):
        compare(lambda x: F.normalize(x, p, dim), lambda x: TF.normalize(x, p, dim), randn(3, 4))


# ---- embedding, one-hot, pad, attention -----------------------------------------------------------------------------
def test_embedding_matches_torch() -> None:
    idx = np.array([[0, 2, 4], [2, 2, 1]])
    compare(lambda w: F.embedding(idx, w), lambda w: TF.embedding(torch.from_numpy(idx), w), randn(5, 3))
    compare(lambda w: F.embedding(idx, w, padding_idx=2), lambda w: TF.embedding(torch.from_numpy(idx), w, 2),
            randn(5, 3))
    compare(lambda w: F.embedding(idx, w, padding_idx=-1), lambda w: TF.embedding(torch.from_numpy(idx), w, -1),
            randn(5, 3))
    w = randn(5, 3) * 3
    cw, tw = cr.tensor(w.copy()), torch.tensor(w.copy())
    out, ref = F.embedding(idx, cw, max_norm=1.0), TF.embedding(torch.from_numpy(idx), tw, max_norm=1.0)
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-7)
    np.testing.assert_allclose(cw.data, tw.numpy(), rtol=1e-7)  # rows renormalised in place
    with pytest.raises(IndexError, match="out of range"):
        F.embedding([5], cr.zeros((5, 2)))


def test_one_hot_matches_torch() -> None:
    labels = np.array([[0, 3], [1, 1]])
    np.testing.assert_array_equal(F.one_hot(labels), TF.one_hot(torch.from_numpy(labels)).numpy())
    out = F.one_hot(cr.tensor(labels), 5)
    assert isinstance(out, cr.Tensor) and out.dtype == np.int64 and out.shape == (2, 2, 5)
    with pytest.raises(ValueError, match="class values"):
        F.one_hot(labels, 3)


@pytest.mark.parametrize(("pad", "mode", "value"), [
    ((1, 2), "constant", None),
    ((1, 2, 0, 3), "constant", 1.5),
    ((-1, 2, 1, -2), "constant", 0.0),
    ((2, 1), "reflect", None),
    ((2, 1, 1, 3), "reflect", None),
    ((2, 3, 1, 0), "replicate", None),
    ((2, 3, 1, 4), "circular", None),
])
def test_pad_matches_torch(pad: tuple[int, ...], mode: str, value: Any) -> None:
    x = randn(2, 3, 4, 5) if mode == "constant" or len(pad) == 4 else randn(2, 3, 5)
    compare(lambda x: F.pad(x, pad, mode, value), lambda x: TF.pad(x, pad, mode, value), x)


@pytest.mark.parametrize("case", ["plain", "bool_mask", "float_mask", "causal", "scale", "gqa"])
def test_scaled_dot_product_attention_matches_torch(case: str) -> None:
    q, k, v = randn(2, 3, 4, 5), randn(2, 3, 6, 5, seed=1), randn(2, 3, 6, 2, seed=2)
    kw: dict[str, Any] = {}
    extra: list[Any] = []
    if case == "bool_mask":
        mask = _rng(5).random((4, 6)) > 0.3
        mask[:, 0] = True  # every query sees at least one key
        kw = {"attn_mask": mask}
    elif case == "float_mask":
        extra = [randn(4, 6, seed=5)]
    elif case == "causal":
        q = randn(2, 3, 6, 5)
        kw = {"is_causal": True}
    elif case == "scale":
        kw = {"scale": 0.3}
    elif case == "gqa":
        k, v = randn(2, 1, 6, 5, seed=1), randn(2, 1, 6, 2, seed=2)
        kw = {"enable_gqa": True}

    def ours(q: Any, k: Any, v: Any, *m: Any) -> Any:
        return F.scaled_dot_product_attention(q, k, v, *m, **kw)

    def theirs(q: Any, k: Any, v: Any, *m: Any) -> Any:
        kw_t = {**kw, "attn_mask": torch.from_numpy(kw["attn_mask"])} if "attn_mask" in kw else kw
        return TF.scaled_dot_product_attention(q, k, v, *m, **kw_t)

    compare(ours, theirs, q, k, v, *extra)


# ---- activations ----------------------------------------------------------------------------------------------------
ACTIVATIONS: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("relu", F.relu, TF.relu),
    ("relu6", F.relu6, TF.relu6),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("elu", lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
    ("selu", F.selu, TF.selu),
    ("gelu", F.gelu, TF.gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
    ("silu", F.silu, TF.silu),
    ("mish", F.mish, TF.mish),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("softplus", F.softplus, TF.softplus),
    ("softplus_beta", lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0)),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 1.2), lambda x: TF.hardtanh(x, -0.5, 1.2)),
    ("softsign", F.softsign, TF.softsign),
    ("softmax", lambda x: F.softmax(x, dim=1), lambda x: TF.softmax(x, dim=1)),
    ("softmin", lambda x: F.softmin(x, dim=0), lambda x: TF.softmin(x, dim=0)),
    ("log_softmax", lambda x: F.log_softmax(x, dim=-1), lambda x: TF.log_softmax(x, dim=-1)),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activations_match_torch(name: str, ours: Callable[..., Any], theirs: Callable[..., Any]) -> None:
    x = randn(3, 4) * 3
    x[np.abs(x) < 0.05] = 0.3  # away from the kinks
    compare(ours, theirs, x)


def test_softmax_without_dim_follows_torchs_implicit_choice_and_warns() -> None:
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(cr.tensor(randn(2, 3)))
    np.testing.assert_allclose(y.data.sum(axis=1), 1.0)


# ---- losses ---------------------------------------------------------------------------------------------------------
CROSS_ENTROPY = [
    {},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"weight": True},
    {"weight": True, "reduction": "none"},
    {"ignore_index": 2},
    {"ignore_index": 2, "weight": True},
    {"label_smoothing": 0.2},
    {"label_smoothing": 0.2, "weight": True, "ignore_index": 1},
    {"label_smoothing": 0.1, "reduction": "sum", "ignore_index": 1},
    {"label_smoothing": 0.3, "weight": True, "reduction": "none"},
]


def _with_weight(kw: dict[str, Any], n_classes: int, torch_side: bool) -> dict[str, Any]:
    out = dict(kw)
    if out.pop("weight", False):
        w = _rng(9).uniform(0.5, 2.0, n_classes)
        out["weight"] = torch.tensor(w) if torch_side else w
    return out


@pytest.mark.parametrize("kw", CROSS_ENTROPY)
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2, 3), (4,)])
def test_cross_entropy_with_class_targets_matches_torch(kw: dict[str, Any], shape: tuple[int, ...]) -> None:
    rng = _rng(2)
    x = rng.standard_normal(shape) * 2
    target_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    target = rng.integers(0, shape[0 if len(shape) == 1 else 1], size=target_shape)
    ours, theirs = _with_weight(kw, x.shape[0 if len(shape) == 1 else 1], False), _with_weight(kw, 4, True)
    compare(lambda x, t: F.cross_entropy(x, t, **ours), lambda x, t: TF.cross_entropy(x, t, **theirs), x,
            np.asarray(target))
    compare(lambda x, t: F.nll_loss(F.log_softmax(x, dim=0 if len(shape) == 1 else 1), t,
                                    **{k: v for k, v in ours.items() if k != "label_smoothing"}),
            lambda x, t: TF.nll_loss(TF.log_softmax(x, dim=0 if len(shape) == 1 else 1), t,
                                     **{k: v for k, v in theirs.items() if k != "label_smoothing"}),
            x, np.asarray(target))


@pytest.mark.parametrize("kw", [{}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": True},
                                {"label_smoothing": 0.25}, {"label_smoothing": 0.25, "weight": True}])
@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2)])
def test_cross_entropy_with_probability_targets_matches_torch(kw: dict[str, Any], shape: tuple[int, ...]) -> None:
    rng = _rng(3)
    x = rng.standard_normal(shape)
    p = rng.random(shape)
    p /= p.sum(axis=1, keepdims=True)
    ours, theirs = _with_weight(kw, 4, False), _with_weight(kw, 4, True)
    compare(lambda x, t: F.cross_entropy(x, t, **ours), lambda x, t: TF.cross_entropy(x, t, **theirs), x, p)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2), (4,)])
def test_cross_entropy_of_classes_equals_the_coefficient_form(reduction: str, shape: tuple[int, ...]) -> None:
    """Without class weights or smoothing, cross_entropy is one primitive, logsumexp(x) - x[y]; the general form
    (here forced by weights of ones) multiplies log_softmax by one-hot coefficients: the same numbers, to an ulp."""
    rng = _rng(5)
    x = rng.standard_normal(shape).astype(np.float32)
    axis = 0 if len(shape) == 1 else 1
    target = rng.integers(0, shape[axis], size=shape[:axis] + shape[axis + 1:])
    picked = _loss_and_grad(F.cross_entropy, x, target, reduction=reduction)
    general = _loss_and_grad(F.cross_entropy, x, target, reduction=reduction, weight=np.ones(shape[axis], np.float32))
    for a, b in zip(picked, general):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=3e-7, atol=3e-8)
    assert cr.gradcheck(lambda z: F.cross_entropy(z, target, reduction=reduction), x.astype(np.float64), order=2,
                        modes=("rev", "fwd"))


def _class_logits(shape: tuple[int, ...], dtype: Any, seed: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Random logits (some large, some -inf, never a whole slice) and integer targets for cross_entropy."""
    rng = _rng(seed)
    axis = 0 if len(shape) == 1 else 1
    x = rng.standard_normal(shape) * 3
    x[rng.random(shape) < 0.15] *= 300.0  # logits hundreds apart: exp(x - x_y) overflows in float32
    x[rng.random(shape) < 0.15] = -np.inf  # classes of probability 0
    np.moveaxis(x, axis, 0)[0] = rng.standard_normal(np.moveaxis(x, axis, 0)[0].shape)  # class 0 finite everywhere
    target = rng.integers(0, shape[axis], size=shape[:axis] + shape[axis + 1:])
    target[np.isinf(np.take_along_axis(x, np.expand_dims(target, axis), axis).squeeze(axis))] = 0  # a finite loss
    return x.astype(dtype), target


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(7,), (6, 5), (4, 5, 3), (3, 4, 2, 2)])
def test_cross_entropy_of_classes_matches_torch_with_large_and_minus_inf_logits(dtype: Any, reduction: str,
                                                                               shape: tuple[int, ...]) -> None:
    """The one-primitive path (integer targets, no weights, no smoothing): value and eager gradient against torch,
    where logits hundreds apart overflow the exponentials the host shifts by the target's logit, and -inf logits
    are classes of probability 0."""
    x, target = _class_logits(shape, dtype, seed=len(shape) + 10 * (dtype == np.float32))
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-6, "atol": 1e-6}
    value, grad = _loss_and_grad(F.cross_entropy, x, target, reduction=reduction)
    xt = torch.tensor(x, requires_grad=True)
    ref = TF.cross_entropy(xt, torch.tensor(target), reduction=reduction)
    ref.sum().backward()
    assert value.dtype == grad.dtype == dtype
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(value, ref.detach().numpy(), **tol)
    np.testing.assert_allclose(grad, xt.grad.numpy(), **tol)


@pytest.mark.parametrize("shape", [(5,), (4, 3), (3, 4, 2)])
def test_cross_entropy_of_classes_the_eager_rule_equals_the_differentiable_one_and_order_two(
        shape: tuple[int, ...]) -> None:
    """An eager backward computes the rule on the arrays (softmax read back from the loss); cr.grad and
    create_graph run it with primitives: the same gradient, and derivatives of second order (finite differences)."""
    x, target = _class_logits(shape, np.float64, seed=3)
    x = np.where(np.isinf(x), -40.0, x)  # finite differences need finite logits
    x = np.clip(x, -40.0, 40.0)
    _, eager = _loss_and_grad(F.cross_entropy, x, target, reduction="sum")
    np.testing.assert_allclose(cr.grad(lambda z: F.cross_entropy(z, target, reduction="sum"))(x), eager,
                               rtol=1e-12, atol=1e-14)
    xt = cr.tensor(x, requires_grad=True)
    (g,) = cr.autograd.grad(F.cross_entropy(xt, target), xt, create_graph=True)
    np.testing.assert_allclose(g.data * target.size, eager, rtol=1e-12, atol=1e-14)
    for reduction in ("mean", "none"):
        assert cr.gradcheck(lambda z, r=reduction: F.cross_entropy(z, target, reduction=r), x, order=2,
                            modes=("rev", "fwd"))


def test_cross_entropy_of_classes_propagates_nan_and_handles_extreme_logits() -> None:
    """NaN logits give a NaN loss and gradient in their slice only; an infinite loss (-inf at the target, logits
    further apart than the float range) keeps the gradient softmax - onehot, finite, as torch's."""
    x = np.array([[np.nan, 0.0, 1.0], [0.0, 1.0, 2.0], [0.0, -np.inf, 1.0], [-1e308, 0.0, 1e308]])
    target = np.array([1, 2, 1, 0])
    value, grad = _loss_and_grad(F.cross_entropy, x, target, reduction="none")
    assert np.isnan(value[0]) and np.isnan(grad[0]).all()
    np.testing.assert_allclose(value[1], -np.log(np.exp(2.0) / np.exp([0.0, 1.0, 2.0]).sum()), rtol=1e-15)
    assert value[2] == value[3] == np.inf
    softmax = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
    np.testing.assert_allclose(grad[2], [softmax[0], -1.0, softmax[1]], rtol=1e-15)
    np.testing.assert_array_equal(grad[3], [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad[1:], cr.grad(lambda z: F.cross_entropy(z, target[1:], reduction="sum"))(x[1:]))


def test_cross_entropy_of_classes_under_vmap_jacfwd_and_hessian() -> None:
    """vmap over batches of logits (the primitive's loop over examples), forward-mode Jacobians (batched tangents)
    and Hessians agree with a loop, reverse mode and torch."""
    rng = _rng(8)
    xs, target = rng.standard_normal((3, 4, 5)), rng.integers(0, 5, 4)
    mapped = cr.vmap(lambda x: F.cross_entropy(x, target))(xs)
    np.testing.assert_allclose(mapped, [float(F.cross_entropy(x, target)) for x in xs], rtol=1e-15)
    for reduction in ("none", "mean"):
        def loss(x: Any, r: str = reduction) -> Any:
            return F.cross_entropy(x, target, reduction=r)

        np.testing.assert_allclose(cr.jacfwd(loss)(xs[0]), cr.jacrev(loss)(xs[0]), rtol=1e-12, atol=1e-15)
    hessian = torch.autograd.functional.hessian(lambda x: TF.cross_entropy(x, torch.tensor(target)),
                                                torch.tensor(xs[0]))
    np.testing.assert_allclose(cr.hessian(lambda x: F.cross_entropy(x, target))(xs[0]), hessian.numpy(),
                               rtol=1e-12, atol=1e-15)


def test_cross_entropy_of_classes_compiled_traces_its_targets() -> None:
    """Under cr.compile the targets stay an input of the program (each call's own), the rule is one step run on the
    arrays as eager runs it: loss and gradient are eager's, bit for bit."""
    rng = _rng(6)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)

    def step(w: Any, x: Any, y: Any) -> Any:
        loss = F.cross_entropy(x @ w, y)
        loss.backward()
        return loss.detach()

    w_eager, w_traced = cr.tensor(w0, requires_grad=True), cr.tensor(w0, requires_grad=True)
    compiled = cr.compile(lambda x, y: step(w_traced, x, y))
    for i in range(4):
        x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)
        w_eager.grad = w_traced.grad = None
        expected = step(w_eager, cr.tensor(x), cr.tensor(y))
        got = compiled(cr.tensor(x), cr.tensor(y))
        np.testing.assert_array_equal(got.data, expected.data, err_msg=f"call {i}")
        np.testing.assert_array_equal(w_traced.grad.data, w_eager.grad.data, err_msg=f"call {i}")


def test_cross_entropy_all_ignored_is_nan_as_torch_and_errors_are_clear() -> None:
    x = cr.tensor(randn(2, 3))
    out = F.cross_entropy(x, np.array([-100, -100]))
    assert np.isnan(out.item())
    assert np.isnan(TF.cross_entropy(torch.tensor(x.data), torch.tensor([-100, -100])).item())
    with pytest.raises(IndexError, match="target 3 is out of bounds"):
        F.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match="does not match"):
        F.cross_entropy(x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(x, np.array([0, 1]), reduction="avg")
    with pytest.warns(DeprecationWarning):
        total = F.cross_entropy(x, np.array([0, 1]), size_average=False)
    np.testing.assert_allclose(total.data, F.cross_entropy(x, np.array([0, 1]), reduction="sum").data)


ELEMENTWISE_LOSSES = [
    ("mse", F.mse_loss, TF.mse_loss, {}),
    ("mse_sum", F.mse_loss, TF.mse_loss, {"reduction": "sum"}),
    ("mse_weight", F.mse_loss, TF.mse_loss, {"weight": True}),
    ("l1", F.l1_loss, TF.l1_loss, {"reduction": "none"}),
    ("l1_weight", F.l1_loss, TF.l1_loss, {"weight": True}),
    ("smooth_l1", F.smooth_l1_loss, TF.smooth_l1_loss, {}),
    ("smooth_l1_beta", F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.5, "reduction": "sum"}),
    ("smooth_l1_beta0", F.smooth_l1_loss, TF.smooth_l1_loss, {"beta": 0.0}),
    ("huber", F.huber_loss, TF.huber_loss, {}),
    ("huber_delta", F.huber_loss, TF.huber_loss, {"delta": 0.4, "reduction": "none"}),
    ("huber_weight", F.huber_loss, TF.huber_loss, {"delta": 0.4, "weight": True}),
]


@pytest.mark.parametrize(("name", "ours", "theirs", "kw"), ELEMENTWISE_LOSSES, ids=[c[0] for c in ELEMENTWISE_LOSSES])
def test_regression_losses_match_torch(name: str, ours: Any, theirs: Any, kw: dict[str, Any]) -> None:
    x, y = randn(3, 4) * 2, randn(3, 4, seed=1)
    if kw.get("weight"):
        w = _rng(8).uniform(0.1, 2.0, (3, 4))
        kw_o, kw_t = {**kw, "weight": w}, {**kw, "weight": torch.tensor(w)}
    else:
        kw_o = kw_t = kw
    compare(lambda x, y: ours(x, y, **kw_o), lambda x, y: theirs(x, y, **kw_t), x, y)


@pytest.mark.parametrize("kw", [{}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": True}])
def test_binary_cross_entropy_matches_torch(kw: dict[str, Any]) -> None:
    rng = _rng(4)
    p, y = rng.uniform(0.05, 0.95, (3, 4)), rng.random((3, 4))
    w = rng.uniform(0.5, 2.0, (3, 4))
    ko = {**kw, "weight": w} if kw.get("weight") else kw
    kt = {**kw, "weight": torch.tensor(w)} if kw.get("weight") else kw
    compare(lambda p, y: F.binary_cross_entropy(p, y, **ko), lambda p, y: TF.binary_cross_entropy(p, y, **kt), p, y)


def test_binary_cross_entropy_clamps_the_log_at_minus_100_as_torch() -> None:
    p, y = np.array([0.0, 1.0, 1e-50, 0.5]), np.array([1.0, 0.0, 1.0, 0.0])
    out = F.binary_cross_entropy(cr.tensor(p), cr.tensor(y), reduction="none")
    np.testing.assert_allclose(out.data, TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y),
                                                                 reduction="none").numpy())
    np.testing.assert_allclose(out.data[:3], 100.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input of shape \(1,\) and target of shape \(2,\)"):
        F.binary_cross_entropy(cr.tensor([0.5]), cr.tensor([1.0, 0.0]))


@pytest.mark.parametrize("kw", [{}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": True},
                                {"pos_weight": True}, {"pos_weight": True, "weight": True, "reduction": "sum"}])
def test_binary_cross_entropy_with_logits_matches_torch(kw: dict[str, Any]) -> None:
    rng = _rng(5)
    x, y = rng.standard_normal((3, 4)) * 3, rng.random((3, 4))
    w, pw = rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 3.0, 4)
    ko, kt = dict(kw), dict(kw)
    for name, value in (("weight", w), ("pos_weight", pw)):
        if kw.get(name):
            ko[name], kt[name] = value, torch.tensor(value)
    compare(lambda x, y: F.binary_cross_entropy_with_logits(x, y, **ko),
            lambda x, y: TF.binary_cross_entropy_with_logits(x, y, **kt), x, y)


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's note on 'mean' vs 'batchmean'
def test_kl_div_matches_torch(reduction: str, log_target: bool) -> None:
    rng = _rng(6)
    logp = np.log(rng.dirichlet(np.ones(4), size=3))
    t = rng.dirichlet(np.ones(4), size=3)
    if log_target:
        t = np.log(t)
    compare(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
            lambda x, t: TF.kl_div(x, t, reduction=reduction, log_target=log_target), logp, t)


def test_kl_div_zero_targets_contribute_nothing() -> None:
    """t log t is taken as 0 at t = 0 (torch's xlogy); its gradient in the input is -t, so 0 there too."""
    logp = np.log(np.array([[0.2, 0.3, 0.5]]))
    t = np.array([[0.0, 0.4, 0.6]])
    x = cr.tensor(logp, requires_grad=True)
    out = F.kl_div(x, t, reduction="sum")
    ref = TF.kl_div(torch.tensor(logp), torch.tensor(t), reduction="sum")
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=RTOL)
    out.backward()
    np.testing.assert_allclose(x.grad.data, -t)


@pytest.mark.parametrize(("s1", "s2", "dim"), [((4, 3), (4, 3), 1), ((4, 3), (4, 3), 0), ((2, 4, 3), (4, 3), -1),
                                               ((5,), (5,), 0)])
def test_cosine_similarity_matches_torch(s1: tuple[int, ...], s2: tuple[int, ...], dim: int) -> None:
    compare(lambda a, b: F.cosine_similarity(a, b, dim), lambda a, b: TF.cosine_similarity(a, b, dim),
            randn(*s1), randn(*s2, seed=1))


def test_normalize_and_cosine_similarity_at_zero_and_huge_vectors() -> None:
    """A zero vector: finite gradients, torch's (the clamp's 1 / eps); entries of 1e200: the true direction."""
    for ours, theirs in ((lambda a: F.normalize(a), lambda a: TF.normalize(a)),
                         (lambda a: F.normalize(a, p=3.0), lambda a: TF.normalize(a, p=3.0)),
                         (lambda a: F.cosine_similarity(a, a * 2), lambda a: TF.cosine_similarity(a, a * 2))):
        compare(ours, theirs, np.array([[0.0, 0.0], [3.0, -4.0]]), rtol=1e-12)
    huge = np.array([[3e200, -4e200]])
    np.testing.assert_allclose(F.normalize(huge), [[0.6, -0.8]], rtol=1e-15)
    np.testing.assert_allclose(F.normalize(huge, p=1.0), [[3 / 7, -4 / 7]], rtol=1e-15)
    np.testing.assert_allclose(F.cosine_similarity(huge, huge * -0.5), [-1.0], rtol=1e-15)
    x = cr.tensor(huge, requires_grad=True)
    F.cosine_similarity(x, cr.tensor([[1e200, 0.0]])).backward()
    assert np.isfinite(x.grad.data).all()


# ---- stability, dtype, gradcheck ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logit_losses_are_stable_at_1000(dtype: Any) -> None:
    """No overflow, no warning (warnings are errors here), finite values and gradients, torch's values."""
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 3.0]], dtype=dtype)
    y = np.array([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]], dtype=dtype)
    labels = np.array([1, 1])
    cases: list[tuple[Callable[..., Any], Callable[..., Any], tuple[Any, ...]]] = [
        (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, (y,)),
        (lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=np.full(3, 2.0, dtype=dtype)),
         lambda a, b: TF.binary_cross_entropy_with_logits(a, b, pos_weight=torch.full((3,), 2.0, dtype=b.dtype)),
         (y,)),
        (F.cross_entropy, TF.cross_entropy, (labels,)),
        (lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), lambda a, b: TF.cross_entropy(a, b,
                                                                                              label_smoothing=0.1),
         (labels,)),
        (lambda a: F.log_softmax(a, dim=1), lambda a: TF.log_softmax(a, dim=1), ()),
        (lambda a: F.softmax(a, dim=1), lambda a: TF.softmax(a, dim=1), ()),
        (F.logsigmoid, TF.logsigmoid, ()),
        (F.softplus, TF.softplus, ()),
    ]
    for ours, theirs, rest in cases:
        xt = cr.tensor(x, requires_grad=True)
        out = ours(xt, *rest)
        ref = theirs(torch.tensor(x), *[torch.from_numpy(r) for r in rest])
        assert out.dtype == dtype
        assert np.isfinite(out.data).all()
        np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-6)
        out.sum().backward()
        assert xt.grad.dtype == dtype and np.isfinite(xt.grad.data).all()


def _loss_and_grad(fn: Callable[..., Any], x: np.ndarray[Any, Any], *rest: Any, **kw: Any) -> tuple[Any, Any]:
    xt = cr.tensor(x, requires_grad=True)
    out = fn(xt, *rest, **kw)
    out.sum().backward()
    return out.data, xt.grad.data


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_and_nll_loss_with_minus_inf_logits(reduction: str) -> None:
    """A -inf logit is a class of probability 0: unless the target weighs it, the loss and its gradient are those of
    the other classes (0 log 0 = 0), not NaN (0 * -inf)."""
    x = np.array([[0.0, -np.inf, 1.0], [2.0, -1.0, -np.inf]])
    value, grad = _loss_and_grad(F.cross_entropy, x, np.array([0, 1]), reduction=reduction)
    finite = np.array([[0.0, -30.0, 1.0], [2.0, -1.0, -30.0]])  # exp(-30) is below float64's resolution here
    ref = TF.cross_entropy(torch.tensor(finite, requires_grad=True), torch.tensor([0, 1]), reduction=reduction)
    np.testing.assert_allclose(value, ref.detach().numpy(), rtol=1e-12)
    ref_x = torch.tensor(finite, requires_grad=True)
    TF.cross_entropy(ref_x, torch.tensor([0, 1]), reduction=reduction).sum().backward()
    np.testing.assert_allclose(grad, ref_x.grad.numpy(), rtol=1e-12, atol=1e-12)
    first, _ = _loss_and_grad(F.cross_entropy, x[:1], np.array([0]), reduction=reduction)
    np.testing.assert_allclose(first, 1.3132616875182228)  # log(1 + e), the example
    # probability targets that give the -inf class no weight, and nll_loss on log-probabilities with -inf
    probs = np.array([[0.5, 0.0, 0.5], [0.25, 0.75, 0.0]])
    value, grad = _loss_and_grad(F.cross_entropy, x, probs, reduction=reduction)
    ref = TF.cross_entropy(torch.tensor(finite), torch.tensor(probs), reduction=reduction)
    np.testing.assert_allclose(value, ref.numpy(), rtol=1e-12)
    assert np.isfinite(grad).all()
    value, grad = _loss_and_grad(F.nll_loss, np.array([[np.log(0.25), -np.inf, np.log(0.75)]]), np.array([2]),
                                 reduction=reduction)
    np.testing.assert_allclose(value, -np.log(0.75))
    np.testing.assert_array_equal(grad, [[0.0, 0.0, -1.0]])


@pytest.mark.parametrize(("logits", "dtype", "target", "loss"), [
    ([[0.0, -1e308, 1e308]], np.float64, 0, 1e308), ([[0.0, -1e308, 1e308]], np.float64, 2, 0.0),
    ([[1e308, 0.0, -1e308]], np.float64, 1, 1e308),
    ([[0.0, 6e4, -6e4]], np.float16, 0, 6e4), ([[0.0, 6e4, -6e4]], np.float16, 1, 0.0),
])
def test_cross_entropy_with_logits_at_the_ends_of_the_float_range(logits: Any, dtype: Any, target: int,
                                                                  loss: float) -> None:
    """Logits further apart than the largest float: the unpicked class's log-probability rounds to -inf, and
    costs nothing; value and gradient are exact (softmax minus the one-hot target) and nothing warns."""
    x = np.array(logits, dtype=dtype)
    value, grad = _loss_and_grad(F.cross_entropy, x, np.array([target]))
    assert value.dtype == dtype and float(value) == loss
    expected = np.zeros_like(x)
    expected[0, int(np.argmax(x))] += 1.0
    expected[0, target] -= 1.0
    np.testing.assert_array_equal(grad, expected)


def test_cross_entropy_with_minus_inf_on_the_target_is_infinite_with_a_finite_gradient() -> None:
    value, grad = _loss_and_grad(F.cross_entropy, np.array([[0.0, -np.inf, 1.0]]), np.array([1]))
    assert value == np.inf  # log p = -inf: the math says infinite
    value, grad = _loss_and_grad(F.cross_entropy, np.array([[0.0, -np.inf, 1.0]]), np.array([0]),
                                 label_smoothing=0.1)
    assert value == np.inf and np.isfinite(grad).all()


def test_float16_cross_entropy_mean_does_not_overflow_where_the_mean_is_finite() -> None:
    # each loss is 6e4, below float16's largest 65504; their sum is not, their mean is
    x = np.array([[0.0, 6e4], [0.0, 6e4]], dtype=np.float16)
    value, grad = _loss_and_grad(F.cross_entropy, x, np.array([0, 0]))
    assert value.dtype == np.float16 and float(value) == 6e4
    np.testing.assert_array_equal(grad, [[-0.5, 0.5], [-0.5, 0.5]])
    value, _ = _loss_and_grad(F.nll_loss, -x, np.array([1, 1]))
    assert float(value) == 6e4


def test_logit_losses_at_infinity_are_exact() -> None:
    """Where the math is finite (the target gives no weight to the infinite term), so are value and gradient."""
    inf = np.inf
    x = np.array([inf, -inf, 1e308, -1e308, inf, -inf])
    y = np.array([1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    value, grad = _loss_and_grad(F.binary_cross_entropy_with_logits, x, y, reduction="none")
    np.testing.assert_array_equal(value, [0.0, 0.0, 0.0, 0.0, inf, inf])
    np.testing.assert_array_equal(grad, [0.0, 0.0, 0.0, 0.0, 1.0, -1.0])  # sigmoid(x) - y
    value, grad = _loss_and_grad(F.binary_cross_entropy_with_logits, x[:2], y[:2], reduction="none",
                                 pos_weight=np.array([3.0]))
    np.testing.assert_array_equal(value, [0.0, 0.0])
    value, grad = _loss_and_grad(F.binary_cross_entropy_with_logits, np.array([6e4, -6e4], dtype=np.float16),
                                 np.array([1.0, 0.0], dtype=np.float16), reduction="none")
    np.testing.assert_array_equal(value, [0.0, 0.0])
    # kl_div: a target of 0 costs nothing even where the input log-probability is -inf
    value, grad = _loss_and_grad(F.kl_div, np.array([-inf, np.log(0.5), np.log(0.5)]), np.array([0.0, 0.5, 0.5]),
                                 reduction="sum")
    np.testing.assert_allclose(value, 0.0, atol=1e-15)
    np.testing.assert_array_equal(grad, [0.0, -0.5, -0.5])
    value, grad = _loss_and_grad(F.kl_div, np.array([-inf, 0.0, -1.0]), np.array([-inf, -inf, 0.0]),
                                 reduction="none", log_target=True)
    np.testing.assert_array_equal(value, [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad, [0.0, 0.0, -1.0])


LOSSES_OF_INPUT_AND_TARGET: list[tuple[str, Callable[..., Any]]] = [
    ("mse_loss", F.mse_loss), ("l1_loss", F.l1_loss), ("smooth_l1_loss", F.smooth_l1_loss),
    ("huber_loss", F.huber_loss), ("binary_cross_entropy", F.binary_cross_entropy),
    ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits), ("kl_div", F.kl_div),
]


@pytest.mark.parametrize(("name", "loss"), LOSSES_OF_INPUT_AND_TARGET)
def test_losses_refuse_an_input_and_target_of_different_shapes(name: str, loss: Callable[..., Any]) -> None:
    """(3, 1) against (3,) would broadcast to nine terms: refused, naming the loss and both shapes."""
    x, y = np.full((3, 1), 0.5), np.full(3, 0.5)
    with pytest.raises(ValueError, match=rf"^{name}: input of shape \(3, 1\) and target of shape \(3,\) differ "
                                         r"\(broadcasting would compute \(3, 3\) terms\); .*target.reshape\(3, 1\)"):
        loss(cr.tensor(x), cr.tensor(y))
    with pytest.raises(ValueError, match=rf"^{name}: input of shape \(3,\) and target of shape \(\) differ"):
        loss(y, 0.5)
    assert np.shape(loss(x, y.reshape(3, 1))) == ()


def test_loss_weights_may_broadcast_but_not_widen_the_loss() -> None:
    p, y = np.full(3, 0.5), np.ones(3)
    np.testing.assert_allclose(F.binary_cross_entropy(p, y, weight=np.array([2.0]), reduction="sum"),
                               6 * np.log(2))
    for fn, kw in ((F.binary_cross_entropy, {"weight": np.ones((3, 1))}),
                   (F.binary_cross_entropy_with_logits, {"weight": np.ones((3, 1))}),
                   (F.binary_cross_entropy_with_logits, {"pos_weight": np.ones((2, 3))})):
        name = next(iter(kw))
        with pytest.raises(ValueError, match=rf"{fn.__name__}: {name} of shape .* does not broadcast to the "
                                             r"input's shape \(3,\)"):
            fn(p, y, **kw)


def test_embedding_refuses_negative_and_out_of_range_indices() -> None:
    w = randn(4, 2)
    for idx, extra in (([-1], "a negative index does not count from the end"), ([[0, 4]], r"\[0, 3\]")):
        with pytest.raises(IndexError, match=rf"^embedding: index {np.ravel(idx)[-1]} is out of range for 4 "
                                             rf"embeddings.*{extra}"):
            F.embedding(np.array(idx), w)
    assert F.embedding(np.zeros((2, 0), dtype=np.int64), w).shape == (2, 0, 2)


def test_linear_and_bilinear_errors_name_the_function_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"^linear: input's last dimension is 5, expected 3 \(input shape \(4, 5\)\)"):
        F.linear(np.ones((4, 5)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^bilinear: input2's last dimension is 5, expected 4"):
        F.bilinear(np.ones((5, 3)), np.ones((5, 5)), np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"^bilinear: input1 and input2 must have the same leading"):
        F.bilinear(np.ones((5, 3)), np.ones((6, 4)), np.ones((2, 3, 4)))


def _f32(*shape: int, seed: int = 0) -> Any:
    return cr.tensor(randn(*shape, seed=seed).astype(np.float32), requires_grad=True)


FLOAT32_CASES: list[tuple[str, Callable[[], tuple[Any, list[Any]]]]] = [
    ("conv2d", lambda: (lambda x, w, b: (F.conv2d(x, w, b, padding=1), [x, w, b]))(_f32(2, 3, 5, 5), _f32(4, 3, 3, 3),
                                                                                    _f32(4))),
    ("conv2d_strided", lambda: (lambda x, w: (F.conv2d(x, w, stride=2, groups=3), [x, w]))(_f32(1, 3, 6, 6),
                                                                                           _f32(3, 1, 2, 2))),
    ("conv1d", lambda: (lambda x, w: (F.conv1d(x, w, padding="same"), [x, w]))(_f32(2, 3, 7), _f32(2, 3, 3))),
    ("conv_transpose2d", lambda: (lambda x, w: (F.conv_transpose2d(x, w, stride=2), [x, w]))(_f32(1, 2, 3, 3),
                                                                                             _f32(2, 3, 2, 2))),
    ("max_pool2d", lambda: (lambda x: (F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [x]))(_f32(2, 2, 7, 7))),
    ("avg_pool2d", lambda: (lambda x: (F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [x]))(_f32(2, 2, 7, 7))),
    ("adaptive_avg_pool2d", lambda: (lambda x: (F.adaptive_avg_pool2d(x, (3, 2)), [x]))(_f32(2, 2, 7, 5))),
    ("linear", lambda: (lambda x, w, b: (F.linear(x, w, b), [x, w, b]))(_f32(3, 4), _f32(2, 4), _f32(2))),
    ("bilinear", lambda: (lambda a, b, w: (F.bilinear(a, b, w), [a, b, w]))(_f32(3, 2), _f32(3, 4), _f32(5, 2, 4))),
    ("batch_norm", lambda: (lambda x, w, b: (F.batch_norm(x, None, None, w, b, True), [x, w, b]))(_f32(4, 3, 2),
                                                                                                 _f32(3), _f32(3))),
    ("layer_norm", lambda: (lambda x, w, b: (F.layer_norm(x, (4,), w, b), [x, w, b]))(_f32(3, 4), _f32(4), _f32(4))),
    ("group_norm", lambda: (lambda x, w, b: (F.group_norm(x, 2, w, b), [x, w, b]))(_f32(3, 4, 2), _f32(4), _f32(4))),
    ("embedding", lambda: (lambda w: (F.embedding(np.array([1, 0, 1]), w, padding_idx=0), [w]))(_f32(3, 2))),
    ("attention", lambda: (lambda q, k, v: (F.scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v]))(
        _f32(2, 3, 4), _f32(2, 3, 4), _f32(2, 3, 2))),
    ("pad_reflect", lambda: (lambda x: (F.pad(x, (1, 1, 2, 0), mode="reflect"), [x]))(_f32(2, 3, 4))),
    ("pad_constant", lambda: (lambda x: (F.pad(x, (1, -1), value=2.0), [x]))(_f32(2, 3))),
    ("cross_entropy", lambda: (lambda x: (F.cross_entropy(x, np.array([0, 2]), label_smoothing=0.1), [x]))(
        _f32(2, 3))),
    ("cross_entropy_probs", lambda: (lambda x: (F.cross_entropy(x, np.full((2, 3), 1 / 3, np.float32)), [x]))(
        _f32(2, 3))),
    ("nll_loss", lambda: (lambda x: (F.nll_loss(x, np.array([0, 2]), weight=np.ones(3)), [x]))(_f32(2, 3))),
    ("mse_loss", lambda: (lambda x, y: (F.mse_loss(x, y), [x, y]))(_f32(3), _f32(3, seed=1))),
    ("l1_loss", lambda: (lambda x, y: (F.l1_loss(x, y), [x, y]))(_f32(3), _f32(3, seed=1))),
    ("smooth_l1_loss", lambda: (lambda x, y: (F.smooth_l1_loss(x, y, beta=0.5), [x, y]))(_f32(3), _f32(3, seed=1))),
    ("huber_loss", lambda: (lambda x, y: (F.huber_loss(x, y, delta=0.5), [x, y]))(_f32(3), _f32(3, seed=1))),
    ("bce", lambda: (lambda x: (F.binary_cross_entropy(F.sigmoid(x), np.ones(3, np.float32)), [x]))(_f32(3))),
    ("bce_logits", lambda: (lambda x: (F.binary_cross_entropy_with_logits(x, np.ones(3, np.float32),
                                                                          pos_weight=np.float32(2.0)), [x]))(_f32(3))),
    ("kl_div", lambda: (lambda x: (F.kl_div(x, np.full((2, 3), 1 / 3, np.float32), reduction="batchmean"), [x]))(
        _f32(2, 3))),
    ("cosine_similarity", lambda: (lambda a, b: (F.cosine_similarity(a, b), [a, b]))(_f32(2, 3), _f32(2, 3, seed=1))),
    ("normalize", lambda: (lambda x: (F.normalize(x), [x]))(_f32(2, 3))),
    ("dropout", lambda: (lambda x: (F.dropout(x, 0.2), [x]))(_f32(4, 5))),
    ("softplus", lambda: (lambda x: (F.softplus(x, 2.0), [x]))(_f32(4))),
    ("mish", lambda: (lambda x: (F.mish(x), [x]))(_f32(4))),
]


@pytest.mark.parametrize(("name", "case"), FLOAT32_CASES, ids=[c[0] for c in FLOAT32_CASES])
def test_float32_in_float32_out(name: str, case: Callable[[], tuple[Any, list[Any]]]) -> None:
    out, inputs = case()
    assert out.dtype == np.float32, name
    out.sum().backward()
    for i, x in enumerate(inputs):
        assert x.grad is not None and x.grad.dtype == np.float32, f"{name}: gradient of input {i}"


GRADCHECK: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
    ("linear", F.linear, (randn(2, 3), randn(2, 3, seed=1), randn(2, seed=2))),
    ("bilinear", F.bilinear, (randn(2, 2), randn(2, 2, seed=1), randn(2, 2, 2, seed=2))),
    ("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, True), (randn(3, 2), randn(2, seed=1),
                                                                                   randn(2, seed=2))),
    ("batch_norm_eval", lambda x, m, v: F.batch_norm(x, m, v, training=False),
     (randn(3, 2), randn(2, seed=1), np.array([0.7, 1.3]))),
    ("layer_norm", lambda x, w: F.layer_norm(x, (3,), w), (randn(2, 3), randn(3, seed=1))),
    ("group_norm", lambda x: F.group_norm(x, 2), (randn(2, 4),)),
    ("attention", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     (randn(2, 2) * 0.5, randn(2, 2, seed=1) * 0.5, randn(2, 1, seed=2))),
    ("cross_entropy", lambda x: F.cross_entropy(x, np.array([0, 2]), label_smoothing=0.1), (randn(2, 3),)),
    ("cross_entropy_probs", lambda x, t: F.cross_entropy(x, t), (randn(2, 3), np.array([[0.2, 0.3, 0.5]] * 2))),
    ("bce_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, y, pos_weight=np.array([1.5, 0.5])),
     (randn(2, 2), np.array([[0.3, 0.9], [0.5, 0.1]]))),
    ("bce", lambda p: F.binary_cross_entropy(p, np.array([0.3, 0.8])), (np.array([0.4, 0.6]),)),
    ("kl_div", lambda x, t: F.kl_div(x, t, reduction="batchmean"), (randn(2, 2), np.array([[0.3, 0.7], [0.4, 0.6]]))),
    ("smooth_l1", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5), (np.array([0.1, -1.3, 0.7]), np.zeros(3))),
    ("huber", lambda x: F.huber_loss(x, np.zeros(3), delta=0.5), (np.array([0.1, -1.3, 0.7]),)),
    ("cosine_similarity", F.cosine_similarity, (randn(2, 3), randn(2, 3, seed=1))),
    ("normalize", lambda x: F.normalize(x, p=3.0), (randn(2, 3) + 3,)),
    ("pad_reflect", lambda x: F.pad(x, (2, 1), mode="reflect"), (randn(1, 4),)),
    ("pad_circular", lambda x: F.pad(x, (1, 2), mode="circular"), (randn(1, 3),)),
    ("embedding", lambda w: F.embedding(np.array([[0, 1], [1, 1]]), w), (randn(2, 2),)),  # repeated rows add up
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, padding="same"), (randn(1, 2, 3), randn(1, 2, 2, seed=1),
                                                                   randn(1, seed=2))),
    ("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, 2), (randn(1, 1, 3, 3),)),
    ("mish", F.mish, (randn(3),)),
    ("softplus_beta", lambda x: F.softplus(x, 2.0, 3.0), (np.array([0.3, -1.2, 2.5]),)),
]


@pytest.mark.parametrize(("name", "fn", "inputs"), GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_composites_pass_gradcheck_to_order_2(name: str, fn: Callable[..., Any], inputs: tuple[Any, ...]) -> None:
    assert cr.gradcheck(fn, *inputs, order=2)


def test_functions_take_plain_ndarrays_and_return_ndarrays() -> None:
    x, w = randn(1, 2, 5, 5), randn(3, 2, 3, 3)
    y = F.conv2d(x, w, padding=1)
    assert isinstance(y, np.ndarray)
    np.testing.assert_allclose(y, TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy(), rtol=RTOL)
    assert isinstance(F.max_pool2d(x, 2), np.ndarray)
    assert not isinstance(F.cross_entropy(randn(2, 3), np.array([0, 1])), cr.Tensor)


UNARY_FUNCTIONAL = ["elu", "hardtanh", "leaky_relu", "log_softmax", "logsigmoid", "mish", "normalize", "relu", "relu6",
                    "selu", "silu", "softplus", "softsign", "softmax", "gelu", "tanh", "sigmoid"]


@pytest.mark.parametrize("name", [n for n in UNARY_FUNCTIONAL if hasattr(F, n)])
def test_functional_takes_nested_lists_of_tensors(name: str) -> None:
    """A nested list of tensors being differentiated keeps its gradient (it used to be frozen into zeros)."""
    kwargs = {"dim": -1} if name in ("softmax", "log_softmax") else {}
    fn = lambda x: getattr(F, name)(x, **kwargs)
    weights = np.array([[1.0, -2.0], [0.5, 3.0]])

    def rows(v: Any) -> list[list[Any]]:
        return [[v, v + 2.0], [v * 3.0, v - 1.0]]

    expected = cr.grad(lambda v: (fn(cr.stack([cr.stack(r) for r in rows(v)])) * weights).sum())(0.7)
    got = cr.grad(lambda v: (fn(rows(v)) * weights).sum())(0.7)
    assert float(got) == pytest.approx(float(expected), abs=1e-12)
    assert float(expected) != 0.0


def test_class_weights_being_differentiated_are_refused() -> None:
    w = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    logits = cr.tensor([[0.1, 0.2, 0.3]])
    with pytest.raises(TypeError, match="class weights cannot be differentiated"):
        F.cross_entropy(logits, np.array([1]), weight=w)
    with pytest.raises(TypeError, match="class weights cannot be differentiated"):
        F.cross_entropy(logits, np.array([[0.2, 0.3, 0.5]]), weight=w)
    assert np.isfinite(float(F.cross_entropy(logits, np.array([1]), weight=w.detach())))


# ---- value checks and value-derived constants as recorded steps: under vmap and cr.compile -------------------------
def test_per_example_gradients_of_cross_entropy_under_vmap() -> None:
    rng = np.random.default_rng(4)
    w, xs, ys = rng.standard_normal((4, 3)), rng.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])

    def loss(w: Any, x: Any, y: Any) -> Any:
        return F.cross_entropy((x @ w)[None], y[None])

    got = cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(w, xs, ys)
    np.testing.assert_allclose(got, np.stack([cr.grad(loss)(w, x, y) for x, y in zip(xs, ys)]), rtol=1e-13)
    with pytest.raises(IndexError, match="target 3 is out of bounds for 3 classes"):  # the check runs on the batch
        cr.vmap(cr.grad(loss), in_axes=(None, 0, 0))(w, xs, np.array([0, 2, 1, 3, 0]))


def test_a_compiled_embedding_step_checks_each_batch_of_ids() -> None:
    rng = np.random.default_rng(5)
    ours, theirs = cr.nn.Embedding(10, 4, padding_idx=0), cr.nn.Embedding(10, 4, padding_idx=0)
    theirs.weight.data[...] = ours.weight.data

    def trainer(emb: Any) -> Callable[[Any], Any]:
        opt = cr.optim.SGD(emb.parameters(), lr=0.1)

        def step(ids: Any) -> Any:
            opt.zero_grad()
            loss = (emb(ids) ** 2).sum()
            loss.backward()
            opt.step()
            return loss.detach()

        return step

    compiled, eager = cr.compile(trainer(ours)), trainer(theirs)
    for _ in range(4):
        ids = rng.integers(0, 10, (3, 5))  # the padding row (0) among them: no gradient there
        np.testing.assert_array_equal(compiled(ids).data, eager(ids).data)
        np.testing.assert_array_equal(ours.weight.data, theirs.weight.data)
    assert compiled.traces == 2  # the first call makes the optimizer's state (run as written), the second traces
    for bad, match in ((12, "index 12 is out of range"), (-1, "a negative index does not count from the end")):
        with pytest.raises(IndexError, match=match):
            compiled(np.array([[1, bad, 3, 4, 5]] * 3))


@pytest.mark.parametrize("f", [
    pytest.param(lambda r: F.normalize(r, dim=1), id="normalize"),
    pytest.param(lambda r: F.cosine_similarity(r, r * 2 + 1, dim=1), id="cosine_similarity"),
    pytest.param(lambda r: F.binary_cross_entropy(cr.sigmoid(r), cr.ones_like(r) * 0.25, reduction="none"),
                 id="binary_cross_entropy"),
])
def test_losses_that_read_values_run_under_vmap_and_compile(f: Callable[..., Any]) -> None:
    xs = np.random.default_rng(6).standard_normal((3, 2, 4)) * 10.0 ** np.arange(-2, 2)  # magnitudes apart
    total = lambda r: f(r).sum()
    np.testing.assert_allclose(cr.vmap(f)(xs), np.stack([f(cr.tensor(x)).data for x in xs]), rtol=1e-14)
    np.testing.assert_allclose(cr.vmap(cr.grad(total))(xs), np.stack([cr.grad(total)(x) for x in xs]), rtol=1e-13)
    compiled = cr.compile(lambda x: f(cr.tensor(x)))
    for x in xs:
        np.testing.assert_array_equal(compiled(x).data, f(cr.tensor(x)).data)
    assert compiled.traces == 1


def test_binary_cross_entropy_checks_its_probabilities_at_every_replay_and_batch() -> None:
    compiled = cr.compile(lambda p: F.binary_cross_entropy(cr.tensor(p), cr.tensor(np.ones(3))))
    compiled(np.array([0.2, 0.5, 0.9]))
    for outside in (np.array([0.2, 1.5, 0.9]), np.array([-0.1, 0.5, 0.9])):
        with pytest.raises(ValueError, match="between 0 and 1"):
            compiled(outside)
        with pytest.raises(ValueError, match="between 0 and 1"):
            cr.vmap(lambda p: F.binary_cross_entropy(p, cr.ones_like(p)))(np.stack([outside, outside]))


def test_nll_loss_of_labels_runs_under_vmap_and_compile() -> None:
    rng = np.random.default_rng(7)
    logps = np.log(rng.dirichlet(np.ones(4), size=(3, 5)))  # 3 batches of 5 examples, 4 classes
    labels = rng.integers(0, 4, (3, 5))
    loss = lambda lp, y: F.nll_loss(lp, y)
    each = [loss(cr.tensor(a), b).data for a, b in zip(logps, labels)]
    np.testing.assert_allclose(cr.vmap(loss)(logps, labels), each, rtol=1e-15)
    np.testing.assert_allclose(cr.vmap(cr.grad(loss))(logps, labels),
                               np.stack([cr.grad(loss)(a, b) for a, b in zip(logps, labels)]), rtol=1e-15)
    compiled = cr.compile(lambda lp, y: loss(cr.tensor(lp), y))
    for a, b in zip(logps, labels):
        np.testing.assert_array_equal(compiled(a, b).data, loss(cr.tensor(a), b).data)
    with pytest.raises(IndexError, match="out of bounds"):
        compiled(logps[0], np.full(5, 4))


def test_cross_entropy_of_small_integer_targets_with_spatial_axes_matches_pytorch() -> None:
    # a uint8 segmentation mask: the target's flat positions are computed wide, never in the target's own dtype
    rng = np.random.default_rng(10)
    for shape, dtype in (((2, 10, 30), np.uint8), ((1, 10, 5, 5), np.int8), ((1, 3, 16, 16), np.uint8)):
        x = rng.standard_normal(shape).astype(np.float32)
        t = rng.integers(0, shape[1], (shape[0], *shape[2:])).astype(dtype)
        want = TF.cross_entropy(torch.tensor(x), torch.tensor(t.astype(np.int64)))
        np.testing.assert_allclose(F.cross_entropy(cr.tensor(x), t).item(), float(want), rtol=1e-6)


def test_float16_means_over_more_examples_than_float16_counts() -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 3, 200, 200)).astype(np.float16)  # 80,000 examples: over float16's 65,504
    t = rng.integers(0, 3, (2, 200, 200))
    ours = cr.tensor(x, requires_grad=True)
    loss = F.cross_entropy(ours, t)
    loss.backward()
    theirs = torch.tensor(x.astype(np.float32), requires_grad=True)
    TF.cross_entropy(theirs, torch.tensor(t)).backward()
    assert loss.dtype == np.float16
    np.testing.assert_allclose(loss.item(), TF.cross_entropy(theirs.detach(), torch.tensor(t)).item(), rtol=1e-3)
    np.testing.assert_allclose(ours.grad.data.astype(np.float32), theirs.grad.numpy(), rtol=2e-2, atol=1e-7)
    half = np.log(np.full((70000, 2), 0.5, np.float16))
    np.testing.assert_allclose(F.nll_loss(cr.tensor(half), np.zeros(70000, int)).item(), np.log(2), rtol=1e-3)


def test_a_scaled_cross_entropy_compiles_to_eagers_bits() -> None:
    # loss / 2 hands the rule a NumPy scalar: the same arrays' rule as an unscaled loss, eager and compiled
    rng = np.random.default_rng(12)
    grad = lambda a, b: cr.grad(lambda z: F.cross_entropy(z, b) / 2)(a)
    compiled = cr.compile(grad)
    for _ in range(3):
        a, b = rng.standard_normal((3, 4)).astype(np.float32), rng.integers(0, 4, 3)
        assert np.asarray(compiled(a, b)).tobytes() == np.asarray(grad(a, b)).tobytes()


def test_cross_entropy_of_an_empty_batch_of_no_classes() -> None:
    for reduction, want in (("none", []), ("mean", np.nan), ("sum", 0.0)):
        np.testing.assert_array_equal(F.cross_entropy(cr.tensor(np.zeros((0, 0))), np.zeros(0, int),
                                                      reduction=reduction).data, want)


def test_embedding_mapped_over_its_weights_keeps_the_padding_row_out_of_the_gradient() -> None:
    weights, ids = np.random.default_rng(13).standard_normal((3, 5, 2)), np.array([0, 1, 0, 4])
    pick = lambda w: F.embedding(ids, w, padding_idx=0)
    np.testing.assert_array_equal(cr.vmap(pick)(weights), np.stack([pick(cr.tensor(w)).data for w in weights]))
    g = cr.vmap(cr.grad(lambda w: pick(w).sum()))(weights)
    np.testing.assert_array_equal(g[:, 0], 0.0)
    np.testing.assert_array_equal(g[:, 1], 1.0)
