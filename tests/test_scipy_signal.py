"""cr.scipy.signal: convolve, correlate and fftconvolve against SciPy in every mode, method and dimension (1 to 3,
real and complex, inputs of either size first), gradients in both inputs against finite differences (cr.gradcheck,
order 2, reverse and forward), float32 kept, the refusals, and the stand-in GPU."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.signal as ss

import chainrule as cr
from chainrule import backend
from chainrule.scipy import signal as S
from stand_in_gpu import provider

RNG = np.random.default_rng(7)
SHAPES = [((7,), (3,)), ((3,), (6,)), ((5, 4), (2, 3)), ((2, 3), (4, 5)), ((4, 3, 3), (2, 2, 3)), ((4,), (4,))]


@pytest.mark.parametrize(("s1", "s2"), SHAPES)
@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_against_scipy(name: str, s1: tuple[int, ...], s2: tuple[int, ...], mode: str, method: str) -> None:
    a, b = RNG.uniform(-1, 1, s1), RNG.uniform(-1, 1, s2)
    expected = getattr(ss, name)(a, b, mode=mode, method=method)
    np.testing.assert_allclose(getattr(S, name)(a, b, mode=mode, method=method), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(("s1", "s2"), SHAPES)
@pytest.mark.parametrize("mode", ["full", "valid", "same"])
def test_fftconvolve_against_scipy(s1: tuple[int, ...], s2: tuple[int, ...], mode: str) -> None:
    a, b = RNG.uniform(-1, 1, s1), RNG.uniform(-1, 1, s2)
    np.testing.assert_allclose(S.fftconvolve(a, b, mode=mode), ss.fftconvolve(a, b, mode=mode), rtol=1e-12,
                               atol=1e-13)


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
def test_fftconvolve_over_some_axes_broadcasts_the_others(mode: str) -> None:
    a, b = RNG.uniform(-1, 1, (3, 8, 2)), RNG.uniform(-1, 1, (1, 3, 2))
    np.testing.assert_allclose(S.fftconvolve(a, b, mode=mode, axes=1), ss.fftconvolve(a, b, mode=mode, axes=1),
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(S.fftconvolve(a, b, mode=mode, axes=[0, -2]),
                               ss.fftconvolve(a, b, mode=mode, axes=[0, -2]), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_complex_inputs(name: str, method: str) -> None:
    a = RNG.uniform(-1, 1, (5, 3)) + 1j * RNG.uniform(-1, 1, (5, 3))
    b = RNG.uniform(-1, 1, (2, 2)) - 0.5j
    for mode in ("full", "valid", "same"):
        np.testing.assert_allclose(getattr(S, name)(a, b, mode=mode, method=method),
                                   getattr(ss, name)(a, b, mode=mode, method=method), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("name", ["convolve", "correlate"])
def test_gradients_in_both_inputs(name: str, mode: str, method: str) -> None:
    fn = getattr(S, name)
    a, b = RNG.uniform(-1, 1, (5, 4)), RNG.uniform(-1, 1, (2, 3))
    # squared, so the second order is not zero
    assert cr.gradcheck(lambda x, y: fn(x, y, mode=mode, method=method) ** 2, a, b, order=2, modes=("rev", "fwd"))
    assert cr.gradcheck(lambda x, y: fn(x, y, mode=mode, method=method) ** 2, b, a, order=2, modes=("rev", "fwd"))


def test_fftconvolve_gradients() -> None:
    a, b = RNG.uniform(-1, 1, (6, 2)), RNG.uniform(-1, 1, (3, 2))
    for kw in ({"mode": "same"}, {"mode": "valid", "axes": 0}):
        assert cr.gradcheck(lambda x, y, kw=kw: S.fftconvolve(x, y, **kw) ** 2, a, b, order=2, modes=("rev", "fwd"))


def test_the_gradient_of_a_convolution_is_a_correlation() -> None:
    a, b, g = RNG.uniform(-1, 1, 9), RNG.uniform(-1, 1, 4), RNG.uniform(-1, 1, 12)
    x = cr.tensor(a, requires_grad=True)
    (S.convolve(x, b) * g).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad, ss.correlate(g, b, mode="valid"), rtol=1e-12)


def test_zero_dimensional_inputs_multiply() -> None:
    assert float(S.convolve(np.array(2.0), np.array(3.0))) == float(ss.convolve(np.array(2.0), np.array(3.0)))


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_float32_stays_float32(method: str) -> None:
    a, b = RNG.uniform(-1, 1, (6, 3)).astype(np.float32), RNG.uniform(-1, 1, (2, 2)).astype(np.float32)
    out = S.convolve(cr.tensor(a), cr.tensor(b), mode="same", method=method)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ss.convolve(a, b, mode="same"), rtol=1e-5, atol=1e-6)
    assert S.fftconvolve(cr.tensor(a), cr.tensor(b)).dtype == np.float32


def test_refusals() -> None:
    with pytest.raises(ValueError, match="mode must be 'full', 'valid' or 'same'"):
        S.convolve(np.ones(3), np.ones(2), mode="circular")
    with pytest.raises(ValueError, match="method must be 'auto', 'direct' or 'fft'"):
        S.convolve(np.ones(3), np.ones(2), method="winograd")
    with pytest.raises(ValueError, match="same dimensionality"):
        S.correlate(np.ones(3), np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least as large as the other in every dimension"):
        S.convolve(np.ones((3, 2)), np.ones((2, 3)), mode="valid")
    with pytest.raises(ValueError, match="must not be empty"):
        S.fftconvolve(np.ones(0), np.ones(2))
    with pytest.raises(ValueError, match="equal sizes or 1 along axis 0"):
        S.fftconvolve(np.ones((2, 3)), np.ones((3, 3)), axes=1)


def test_on_the_stand_in_gpu() -> None:
    a, b = RNG.uniform(-1, 1, (6, 3)), RNG.uniform(-1, 1, (2, 2))
    with backend.use_provider(provider):
        x = cr.tensor(a, device="cuda", requires_grad=True)
        y = cr.tensor(b, device="cuda", requires_grad=True)
        for fn, ref in ((lambda p, q: S.convolve(p, q, method="direct"), ss.convolve),
                        (lambda p, q: S.correlate(p, q, mode="same", method="fft"),
                         lambda p, q: ss.correlate(p, q, mode="same")),
                        (S.fftconvolve, ss.fftconvolve)):
            out: Any = fn(x, y)
            assert out.device == "cuda:0"
            np.testing.assert_allclose(out.cpu(), ref(a, b), rtol=1e-12, atol=1e-13)
            gx, gy = cr.autograd.grad((out ** 2).sum(), (x, y))
            assert gx.device == gy.device == "cuda:0"


def test_direct_convolution_under_vmap() -> None:
    a, b = RNG.uniform(-1, 1, (3, 6, 2)), RNG.uniform(-1, 1, (3, 2, 2))
    out = cr.vmap(lambda x, y: S.correlate(x, y, mode="same", method="direct"))(a, b)
    np.testing.assert_allclose(out, np.stack([ss.correlate(x, y, mode="same") for x, y in zip(a, b)]), rtol=1e-12)
