"""Plain NumPy programs, differentiated as they are written.

Every function below uses ``import numpy as np`` alone: no ``cr.`` call inside. chainrule differentiates them
through NumPy's dispatch protocols, and each is checked against central differences of the same function run on
ndarrays: the gradient (``cr.grad``), a directional derivative (``cr.jvp``) and the Hessian (``cr.hessian``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

RNG = np.random.default_rng(0)
DATA = RNG.normal(size=12)
LABELS = (RNG.random(12) > 0.5).astype(np.float64)
FEATURES = RNG.normal(size=(12, 3))
SIGNAL = np.sin(np.linspace(0.0, 6.0, 16)) + 0.1 * RNG.normal(size=16)


def gaussian_log_likelihood(theta: Any) -> Any:
    """log N(DATA | mu, sigma^2), with sigma = exp(log_sigma)."""
    mu, log_sigma = theta[0], theta[1]
    z = (DATA - mu) / np.exp(log_sigma)
    return -0.5 * np.sum(z ** 2) - DATA.size * (log_sigma + 0.5 * np.log(2 * np.pi))


def logistic_regression_loss(w: Any) -> Any:
    """Mean binary cross-entropy of a linear model, written with logaddexp for stability."""
    logits = FEATURES @ w
    return np.mean(np.logaddexp(0.0, logits) - LABELS * logits)


def softmax_cross_entropy(logits: Any) -> Any:
    """Cross-entropy of a 4 x 3 logit matrix against fixed classes, with the max subtracted by hand."""
    logits = np.reshape(logits, (4, 3))
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(4), np.array([0, 2, 1, 2])])


def lennard_jones_energy(flat: Any) -> Any:
    """Potential energy of four particles in the plane: the sum over pairs of 4 (r^-12 - r^-6)."""
    positions = np.reshape(flat, (4, 2))
    difference = positions[:, None, :] - positions[None, :, :]
    i, j = np.triu_indices(4, k=1)
    r2 = np.sum(difference[i, j] ** 2, axis=-1)
    inverse6 = 1.0 / r2 ** 3
    return np.sum(4.0 * (inverse6 ** 2 - inverse6))


def spring_chain_energy(x: Any) -> Any:
    """Springs of rest length 1 between neighbours on a line, plus a quartic confinement."""
    stretch = np.diff(x) - 1.0
    return 0.5 * np.sum(stretch ** 2) + 0.01 * np.sum(x ** 4)


def rosenbrock(x: Any) -> Any:
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def least_squares_residual(w: Any) -> Any:
    """Squared residual of the weighted least-squares fit of DATA on FEATURES scaled by w."""
    design = FEATURES * w
    coefficients = np.linalg.solve(design.T @ design, design.T @ DATA)
    residual = DATA - design @ coefficients
    return np.dot(residual, residual)


def lstsq_fit(w: Any) -> Any:
    """The same fit through np.linalg.lstsq: the size of its solution."""
    solution = np.linalg.lstsq(FEATURES * w, DATA, rcond=None)[0]
    return np.sum(solution ** 2)


def kernel_log_determinant(length_scale: Any) -> Any:
    """log det of a squared-exponential kernel matrix on 5 points, plus a jitter."""
    points = np.linspace(0.0, 2.0, 5)
    distance2 = (points[:, None] - points[None, :]) ** 2
    kernel = np.exp(-distance2 / (2.0 * length_scale[0] ** 2)) + 0.1 * np.eye(5)
    sign, logdet = np.linalg.slogdet(kernel)
    return sign * logdet


def mlp_loss(flat: Any) -> Any:
    """A 3 -> 4 -> 1 tanh network's squared error on FEATURES, weights unpacked from one vector."""
    w1 = np.reshape(flat[:12], (3, 4))
    b1 = flat[12:16]
    w2 = flat[16:20]
    prediction = np.tanh(np.dot(FEATURES, w1) + b1) @ w2
    return np.mean((prediction - DATA) ** 2)


def bilinear_form(x: Any) -> Any:
    """x^T A x + trace(outer(x, x) @ A) through einsum and the linalg helpers."""
    a = np.arange(9.0).reshape(3, 3) / 10.0
    return np.einsum("i,ij,j->", x, a, x) + np.trace(np.outer(x, x) @ a) + np.linalg.norm(x)


def spectral_smoothness_loss(x: Any) -> Any:
    """A signal-processing loss: misfit to SIGNAL plus the power of the high-frequency half of the spectrum."""
    spectrum = np.fft.rfft(x)
    high = spectrum[len(spectrum) // 2:]
    return np.sum((x - SIGNAL) ** 2) + 0.1 * np.sum(np.abs(high) ** 2)


def polynomial_misfit(coefficients: Any) -> Any:
    """Squared misfit of a cubic's values at six points, with a log-sum-exp soft maximum of the residuals."""
    points = np.linspace(-1.0, 1.0, 6)
    residual = np.polyval(coefficients, points) - np.cos(points)
    return np.sum(residual ** 2) + 0.1 * np.log(np.sum(np.exp(residual)))


PROGRAMS: list[tuple[Callable[[Any], Any], np.ndarray]] = [
    (gaussian_log_likelihood, np.array([0.3, -0.2])),
    (logistic_regression_loss, np.array([0.5, -1.0, 0.25])),
    (softmax_cross_entropy, RNG.normal(size=12)),
    (lennard_jones_energy, np.array([0.0, 0.0, 1.1, 0.1, 0.2, 1.2, 1.3, 1.1])),
    (spring_chain_energy, np.array([0.0, 1.2, 1.9, 3.3, 4.1])),
    (rosenbrock, np.array([0.5, -0.3, 1.2, 0.8])),
    (least_squares_residual, np.array([1.0, 0.5, 2.0])),
    (lstsq_fit, np.array([1.0, 0.5, 2.0])),
    (kernel_log_determinant, np.array([0.7])),
    (mlp_loss, RNG.normal(size=20) * 0.5),
    (bilinear_form, np.array([0.3, -0.6, 0.9])),
    (spectral_smoothness_loss, SIGNAL + 0.05),
    (polynomial_misfit, np.array([0.2, -0.1, 0.5, 0.9])),
]
IDS = [f.__name__ for f, _ in PROGRAMS]


def _central_gradient(f: Callable[[Any], Any], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    gradient = np.empty_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        gradient[k] = (float(f(x + e)) - float(f(x - e))) / (2 * h)
    return gradient


@pytest.mark.parametrize(("f", "x"), PROGRAMS, ids=IDS)
def test_grad_of_a_plain_numpy_function(f: Callable[[Any], Any], x: np.ndarray) -> None:
    gradient = cr.grad(f)(x)
    assert isinstance(gradient, np.ndarray)
    np.testing.assert_allclose(gradient, _central_gradient(f, x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("f", "x"), PROGRAMS, ids=IDS)
def test_jvp_of_a_plain_numpy_function(f: Callable[[Any], Any], x: np.ndarray) -> None:
    v = np.linspace(-1.0, 1.0, x.size)
    value, tangent = cr.jvp(f, (x,), (v,))
    h = 1e-6
    np.testing.assert_allclose(value, f(x), rtol=1e-12)
    np.testing.assert_allclose(tangent, (float(f(x + h * v)) - float(f(x - h * v))) / (2 * h), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(("f", "x"), PROGRAMS, ids=IDS)
def test_hessian_of_a_plain_numpy_function(f: Callable[[Any], Any], x: np.ndarray) -> None:
    hessian = cr.hessian(f)(x)
    gradient = cr.grad(f)
    h = 1e-5
    expected = np.stack([(gradient(x + h * e) - gradient(x - h * e)) / (2 * h) for e in np.eye(x.size)])
    np.testing.assert_allclose(hessian, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-9, atol=1e-9)
