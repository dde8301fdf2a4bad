"""``cr.fft``: values against NumPy over n=/s=/axes=/norm=, gradients by finite differences (both modes, order 2)
and against torch.fft's, NumPy's own ``np.fft`` on tensors, refusals, dtypes, and the CuPy stand-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.testing import check_device
from stand_in_gpu import Named

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 4))
Z = X + 1j * RNG.standard_normal((3, 4))
X3 = RNG.standard_normal((2, 3, 5))
Z3 = X3 + 1j * RNG.standard_normal((2, 3, 5))

# (name, keyword arguments, input): every function, with cropping, padding, axes and each norm
CASES: list[tuple[str, dict[str, Any], np.ndarray]] = [
    ("fft", {}, Z), ("fft", {"n": 6, "norm": "ortho"}, Z), ("fft", {"n": 2, "axis": 0}, X),
    ("ifft", {}, Z), ("ifft", {"n": 5, "axis": -2, "norm": "forward"}, Z),
    ("fft2", {}, Z3), ("fft2", {"s": (2, 6), "norm": "ortho"}, Z), ("ifft2", {"axes": (0, 2)}, Z3),
    ("fftn", {}, Z3), ("fftn", {"s": (4, 3), "axes": (2, 0), "norm": "forward"}, Z3),
    ("ifftn", {"s": (2, 7), "axes": (0, 1)}, Z),
    ("rfft", {}, X), ("rfft", {"n": 7, "axis": 0, "norm": "ortho"}, X), ("rfft", {"n": 3}, X3),
    ("irfft", {}, Z), ("irfft", {"n": 7, "norm": "forward"}, Z), ("irfft", {"n": 4, "axis": 0}, Z),
    ("irfft", {"n": 3}, X),
    ("rfft2", {}, X3), ("rfft2", {"s": (5, 5), "norm": "ortho"}, X), ("irfft2", {}, Z3),
    ("irfft2", {"s": (4, 5), "axes": (0, 2)}, Z3),
    ("rfftn", {}, X3), ("rfftn", {"axes": (0, 2), "norm": "forward"}, X3), ("irfftn", {}, Z),
    ("irfftn", {"s": (3, 4, 8), "axes": (0, 1, 2), "norm": "ortho"}, Z3),
    ("fftshift", {}, X), ("fftshift", {"axes": 1}, Z3), ("ifftshift", {}, X3), ("ifftshift", {"axes": (0,)}, Z),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]


@pytest.mark.parametrize(("name", "kwargs", "a"), CASES, ids=IDS)
def test_values_match_numpy_and_np_fft_dispatches(name: str, kwargs: dict[str, Any], a: np.ndarray) -> None:
    expected = getattr(np.fft, name)(a, **kwargs)
    got = getattr(cr.fft, name)(cr.tensor(a), **kwargs)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-12)
    through_numpy = getattr(np.fft, name)(cr.tensor(a), **kwargs)
    assert isinstance(through_numpy, cr.Tensor)
    np.testing.assert_array_equal(through_numpy.numpy(), got.numpy())


@pytest.mark.parametrize(("name", "kwargs", "a"), CASES, ids=IDS)
def test_derivatives_match_finite_differences(name: str, kwargs: dict[str, Any], a: np.ndarray) -> None:
    fn = getattr(cr.fft, name)
    small = a[..., :3] if a.ndim == 3 else a  # fewer entries: the full Jacobian, to order 2
    assert cr.gradcheck(lambda v: fn(v, **kwargs), small, order=2, modes=("rev", "fwd"))


TORCH_NAMES = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2", "rfftn", "irfftn",
               "fftshift", "ifftshift"]


def _to_torch(kwargs: dict[str, Any]) -> dict[str, Any]:
    """NumPy's keywords in PyTorch's spelling."""
    names = {"axis": "dim", "axes": "dim"}
    return {names.get(k, k): v for k, v in kwargs.items()}


@pytest.mark.parametrize(("name", "kwargs", "a"), CASES, ids=IDS)
def test_gradients_match_torch_fft(name: str, kwargs: dict[str, Any], a: np.ndarray) -> None:
    """A real loss weighting every output entry (real and imaginary parts apart): .grad against PyTorch's."""
    out_shape = getattr(np.fft, name)(a, **kwargs).shape
    w_re, w_im = RNG.standard_normal(out_shape), RNG.standard_normal(out_shape)
    x = cr.tensor(a, requires_grad=True)
    y = getattr(cr.fft, name)(x, **kwargs)
    (cr.real(y) * w_re + cr.imag(y) * w_im).sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    yt = getattr(torch.fft, name)(xt, **_to_torch(kwargs))
    if not yt.is_complex():
        yt = torch.complex(yt, torch.zeros_like(yt))
    (yt.real * torch.tensor(w_re) + yt.imag * torch.tensor(w_im)).sum().backward()
    # torch's irfft reads all of the half spectrum's imaginary parts at 0 and n/2 as zero too: the same gradient
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft"])
def test_pytorch_spelling_of_the_axis(name: str) -> None:
    a = Z if name in ("ifft", "irfft") else X
    fn = getattr(cr.fft, name)
    np.testing.assert_array_equal(fn(cr.tensor(a), n=5, dim=0).numpy(), fn(cr.tensor(a), n=5, axis=0).numpy())
    theirs = getattr(torch.fft, name)(torch.tensor(a), dim=0).numpy()
    np.testing.assert_allclose(fn(cr.tensor(a), dim=0).numpy(), theirs, rtol=1e-12, atol=1e-12)
    with pytest.raises(TypeError, match=rf"^{name}\(\) got both axis= and dim="):
        fn(cr.tensor(a), axis=0, dim=0)


def test_rfft_gradient_carries_the_hermitian_weights() -> None:
    """d/dx sum |rfft(x)_k|^2 = 2 x * (the weights 1, 2, ..., 2, 1 spread back): Parseval, by hand."""
    x = RNG.standard_normal(6)
    g = cr.grad(lambda v: (cr.abs(cr.fft.rfft(v)) ** 2).sum())(x)
    full = np.fft.fft(x)
    w = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])  # the half spectrum: entries 0..3 of 6
    expected = 2 * np.real(np.fft.ifft(w * full)) * 6  # d/dx sum_k w_k |X_k|^2 = 2 n Re(ifft(w X))
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    # irfft's transpose: <irfft(y), g> = Re(sum(vjp(g) * y)) for every half spectrum y
    y = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)
    r = RNG.standard_normal(6)
    _, vjp_fn = cr.vjp(lambda v: cr.fft.irfft(v, n=6), y)
    (c,) = vjp_fn(r)
    for k in range(4):
        for direction in (1.0, 1j):
            e = np.zeros(4, dtype=complex)
            e[k] = direction
            assert np.real(np.sum(c * e)) == pytest.approx(float(np.dot(np.fft.irfft(e, n=6), r)), abs=1e-12)


def test_holomorphic_grad_of_a_transform() -> None:
    """fft is linear: the holomorphic gradient of sum(fft(z) * c) is fft's transpose applied to c."""
    c = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)
    got = cr.grad(lambda z: (cr.fft.fft(z) * c).sum(), holomorphic=True)(Z[0])
    np.testing.assert_allclose(got, np.fft.fft(c), rtol=1e-12)


def test_jacfwd_and_hessian_through_transforms() -> None:
    def f(x: Any) -> Any:
        return cr.real(cr.fft.ifft(cr.fft.rfft(x, n=6) ** 2, n=5))

    np.testing.assert_allclose(cr.jacfwd(f)(X[0]), cr.jacobian(f)(X[0]), rtol=1e-10, atol=1e-12)
    assert cr.gradcheck(lambda x: cr.fft.irfft(cr.fft.rfft(x) * cr.fft.rfft(x[::-1])), X[0], order=2)


def test_single_precision_stays_single() -> None:
    x = cr.tensor(X.astype(np.float32), requires_grad=True)
    y = cr.fft.rfft(x)
    assert y.dtype == np.complex64
    back = cr.fft.irfft(y, n=4)
    assert back.dtype == np.float32
    (cr.abs(y).sum() + back.sum()).backward()
    assert x.grad.dtype == np.float32
    assert cr.fft.fft(cr.tensor(Z.astype(np.complex64))).dtype == np.complex64


def test_integer_input_transforms_as_float64() -> None:
    np.testing.assert_allclose(cr.fft.fft(cr.tensor([1, 2, 3])).numpy(), np.fft.fft([1, 2, 3]))


def test_frequencies_match_numpy_and_d_is_differentiable() -> None:
    for n in (1, 4, 5):
        for d in (1.0, 0.1):
            np.testing.assert_allclose(cr.fft.fftfreq(n, d).numpy(), np.fft.fftfreq(n, d), rtol=1e-15)
            np.testing.assert_allclose(cr.fft.rfftfreq(n, d=d).numpy(), np.fft.rfftfreq(n, d), rtol=1e-15)
    g = cr.grad(lambda d: cr.fft.fftfreq(4, d).sum() + cr.fft.rfftfreq(5, d).sum())(0.5)
    np.testing.assert_allclose(g, -(np.fft.fftfreq(4).sum() + np.fft.rfftfreq(5).sum()) / 0.25)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: cr.fft.fft(cr.tensor(Z), norm="unitary"), ValueError, "Invalid norm value 'unitary'"),
    (lambda: cr.fft.rfft(cr.tensor(Z)), TypeError, "fft.rfft: the input is complex"),
    (lambda: cr.fft.fft(cr.tensor(Z), n=0), ValueError, r"fft.fft: invalid number of data points \(0\)"),
    (lambda: cr.fft.fftn(cr.tensor(Z), axes=(1, -1)), ValueError, "fft.fftn: repeated axes"),
    (lambda: cr.fft.fft(cr.tensor(Z), axis=2), ValueError, "fft.fft: axes .* out of range"),
    (lambda: cr.fft.fftn(cr.tensor(Z), s=(2,), axes=(0, 1)), ValueError, "have different lengths"),
    (lambda: np.i0(cr.tensor(Z.real, requires_grad=True)), TypeError, "np.i0 has no chainrule rule"),
], ids=["norm", "rfft of complex", "n=0", "repeated axes", "axis out of range", "s and axes", "no rule"])
def test_refusals_name_the_function(call: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(("name", "kwargs", "a"), CASES[::3], ids=IDS[::3])
def test_transforms_on_the_gpu_match_the_cpu(name: str, kwargs: dict[str, Any], a: np.ndarray, gpu: None) -> None:
    fn = getattr(cr.fft, name)
    assert check_device(Named(f"fft.{name}", lambda v: fn(v, **kwargs)), (a,), {}, "cuda")


def test_frequencies_on_the_gpu(gpu: None) -> None:
    f = cr.fft.fftfreq(4, device="cuda")
    assert f.device == "cuda:0" or f.device == "cuda"
    np.testing.assert_allclose(f.cpu().numpy(), np.fft.fftfreq(4))
