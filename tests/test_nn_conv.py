"""The convolution kernels' layouts over many geometries (against the loop references and PyTorch), their blocks over
a batch, and relu's row-wise path on image-sized arrays. The generated tables (tests/test_ops.py and friends) cover
every primitive on small samples; these cover what only larger or more varied inputs reach."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.ops import nn as ops_nn
from chainrule.ops.elementwise import _RELU_ROW, _RELU_ROWS_MIN
from chainrule.testing import check_device

RNG = np.random.default_rng(0)

# (x shape, w shape, stride, padding, dilation, groups): stride 1 with the output as wide as the input (the same
# layout: symmetric, asymmetric and one-sided padding, dilation, rows padded more than the kernel reaches, a tap
# entirely off the image), then the wide (stride 1, narrower output) and narrow (strided) layouts
GEOMETRIES = [
    ((2, 3, 6, 7), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ((1, 2, 5, 4), (2, 2, 2, 3), (1, 1), ((0, 1), (2, 0)), (1, 1), 1),
    ((2, 4, 5, 6), (4, 2, 3, 3), (1, 1), ((2, 2), (2, 2)), (2, 2), 2),
    ((1, 1, 3, 3), (1, 1, 1, 3), (1, 1), ((0, 2), (0, 4)), (2, 2), 1),
    ((1, 2, 4, 5), (3, 2, 2, 2), (1, 1), ((3, 0), (1, 0)), (1, 1), 1),
    ((1, 2, 4, 5), (3, 2, 3, 1), (1, 1), ((1, 1), (0, 0)), (1, 1), 1),
    ((2, 3, 6, 7), (4, 3, 3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ((1, 2, 6, 5), (2, 2, 3, 2), (2, 1), ((1, 1), (1, 0)), (1, 1), 1),
    ((1, 24, 5, 6), (2, 24, 3, 3), (1, 1), ((1, 1), (0, 0)), (1, 1), 1),  # wide, 24 channels: weight gradient by taps
    ((1, 48, 4, 5), (4, 24, 2, 2), (1, 1), ((0, 1), (0, 0)), (1, 1), 2),
]


def _kwargs(stride: Any, padding: Any, dilation: Any, groups: int) -> dict[str, Any]:
    return {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


@pytest.mark.parametrize(("xs", "ws", "stride", "padding", "dilation", "groups"), GEOMETRIES)
def test_the_three_kernels_match_the_loop_references(xs: tuple[int, ...], ws: tuple[int, ...], stride: Any,
                                                    padding: Any, dilation: Any, groups: int) -> None:
    kw = _kwargs(stride, padding, dilation, groups)
    x, w = RNG.standard_normal(xs), RNG.standard_normal(ws)
    y = ops_nn._conv2d_forward(x, w, None, **kw)
    np.testing.assert_allclose(y, ops_nn._reference_conv2d(x, w, None, **kw), rtol=1e-12, atol=1e-12)
    g = RNG.standard_normal(y.shape)
    np.testing.assert_allclose(ops_nn._conv_transpose2d_forward(g, w, in_size=xs[2:], **kw),
                               ops_nn._reference_conv_transpose2d(g, w, in_size=xs[2:], **kw), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ops_nn._conv2d_weight_forward(x, g, kernel_size=ws[2:], **kw),
                               ops_nn._reference_conv2d_weight(x, g, kernel_size=ws[2:], **kw), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize(("groups", "dtype"), [(1, np.float64), (2, np.float64), (1, np.float32)])
def test_the_bias_inside_the_product_or_added_after(groups: int, dtype: Any) -> None:
    """A bias of the product's dtype is a last weight column against a row of ones; grouped, or of another dtype,
    it is added to the product."""
    kw = _kwargs((1, 1), ((1, 1), (1, 1)), (1, 1), groups)
    x, w = RNG.standard_normal((2, 4, 5, 6)).astype(dtype), RNG.standard_normal((6, 4 // groups, 3, 3)).astype(dtype)
    b = RNG.standard_normal(6)
    y = ops_nn._conv2d_forward(x, w, b, **kw)
    assert y.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(y, ops_nn._reference_conv2d(x, w, b, **kw), rtol=tol, atol=tol)


@pytest.mark.parametrize(("xs", "ws", "stride", "padding", "dilation", "groups"), GEOMETRIES[:5])
def test_the_same_layout_differentiates_to_second_order(xs: tuple[int, ...], ws: tuple[int, ...], stride: Any,
                                                       padding: Any, dilation: Any, groups: int) -> None:
    kw = _kwargs(stride, padding, dilation, groups)
    x, w = RNG.standard_normal(xs) * 0.5, RNG.standard_normal(ws) * 0.5
    assert cr.gradcheck(lambda x, w: cr.tanh(ops_nn.conv2d(x, w, None, **kw)), x, w, order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize(("xs", "ws", "stride", "padding", "dilation", "groups"), GEOMETRIES[:5])
def test_the_same_layout_on_the_stand_in_gpu(xs: tuple[int, ...], ws: tuple[int, ...], stride: Any, padding: Any,
                                             dilation: Any, groups: int, gpu: None) -> None:
    kw = _kwargs(stride, padding, dilation, groups)
    x, w = RNG.standard_normal(xs), RNG.standard_normal(ws)
    y = ops_nn._conv2d_forward(x, w, None, **kw)
    assert check_device(ops_nn.conv2d, (x, w, None), kw, "cuda")
    assert check_device(ops_nn.conv_transpose2d, (RNG.standard_normal(y.shape), w), {**kw, "in_size": xs[2:]},
                        "cuda")
    assert check_device(ops_nn.conv2d_weight, (x, RNG.standard_normal(y.shape)), {**kw, "kernel_size": ws[2:]},
                        "cuda")


def test_a_batch_of_many_blocks_matches_torch() -> None:
    """The benchmark's two layers (32 images: several runs of ~2 MB of columns), values and all four gradients."""
    arrays = [RNG.standard_normal((32, 1, 28, 28)), RNG.standard_normal((16, 1, 3, 3)) / 3,
              RNG.standard_normal(16), RNG.standard_normal((32, 16, 3, 3)) / 12, RNG.standard_normal(32)]

    def loss(fn: Any, x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        h = fn.relu(fn.conv2d(x, w1, b1, padding=1))
        return fn.relu(fn.conv2d(h, w2, b2, padding=1)).mean()

    ours = [cr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    value, expected = loss(F, *ours), loss(torch.nn.functional, *theirs)
    value.backward()
    expected.backward()
    np.testing.assert_allclose(float(value), expected.item(), rtol=1e-12)
    for a, b in zip(ours, theirs, strict=True):
        assert b.grad is not None
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.bool_])
@pytest.mark.parametrize("size", [_RELU_ROWS_MIN, 3 * _RELU_ROWS_MIN + 5])
def test_relu_of_large_arrays_goes_by_rows_with_the_same_bits(dtype: Any, size: int) -> None:
    x = (RNG.standard_normal(size) * 4).astype(dtype)
    x[:3] = 0
    for a in (x, x[:size - size % 64].reshape(-1, 64), x[::2]):
        got = np.asarray(cr.relu(a))
        expected = np.maximum(a, np.zeros(a.shape[-1:], dtype=np.result_type(a.dtype, 0)))
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    assert _RELU_ROWS_MIN % _RELU_ROW == 0


def test_relu_of_an_image_batch_keeps_nan_and_its_gradient() -> None:
    x = RNG.standard_normal((8, 16, 32, 32)).astype(np.float32)
    x[0, 0, 0, :3] = [np.nan, 0.0, -0.0]
    t = cr.tensor(x, requires_grad=True)
    y = cr.relu(t)
    assert y.dtype == np.float32
    assert np.isnan(y.numpy()[0, 0, 0, 0]) and y.numpy()[0, 0, 0, 1] == 0
    np.testing.assert_array_equal(y.numpy()[~np.isnan(x)], np.maximum(x, 0)[~np.isnan(x)])
    y.sum().backward()
    assert t.grad is not None
    np.testing.assert_array_equal(t.grad.numpy(), (x > 0).astype(np.float32))


@pytest.mark.parametrize("conv,x,w", [
    (F.conv2d, (2, 3, 4, 5), (2, 3, 0, 3)), (F.conv2d, (2, 3, 4, 5), (2, 3, 3, 0)),
    (F.conv1d, (2, 3, 5), (2, 3, 0)), (F.conv3d, (1, 3, 4, 4, 4), (2, 3, 2, 0, 2)),
    (F.conv_transpose2d, (2, 3, 4, 5), (3, 2, 0, 3))])
def test_a_kernel_of_size_zero_is_refused(conv: Any, x: tuple[int, ...], w: tuple[int, ...]) -> None:
    for padding in (0, 1, "same") if conv is not F.conv_transpose2d else (0,):
        with pytest.raises(ValueError, match=r"kernel's size .* has a zero"):
            conv(cr.ones(x), cr.ones(w), padding=padding)


def test_an_infinite_weight_reaches_only_the_pixels_it_touches() -> None:
    """The wide layout's spare columns (a stride-1 output narrower than its input) stand for zeros: their products
    with an infinite weight (inf * 0, NaN) are cleared rather than added onto real pixels, as PyTorch computes."""
    x, w = np.ones((1, 1, 3, 3)), np.array([[[[np.inf, 1.0]]]])
    g = np.ones((1, 1, 3, 2))
    g[0, 0, 0, 0] = -1
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.conv2d(tx, torch.tensor(w)).backward(torch.tensor(g))
    cx = cr.tensor(x, requires_grad=True)
    with np.errstate(invalid="ignore"):  # NumPy's product says inf * 0, which PyTorch computes silently
        F.conv2d(cx, cr.tensor(w)).backward(cr.tensor(g))
        transposed = F.conv_transpose2d(cr.tensor(g), cr.tensor(w)).numpy()
    assert cx.grad is not None
    np.testing.assert_array_equal(cx.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(transposed, torch.nn.functional.conv_transpose2d(torch.tensor(g), torch.tensor(w)))
