"""A Gaussian process's log marginal likelihood through ``cr.scipy.linalg.cho_factor``/``cho_solve``, its gradient
in the kernel's hyper-parameters, and a fit of them by gradient ascent.

Run it with ``python examples/gaussian_process.py`` (chainrule and SciPy installed, or ``PYTHONPATH=src``).

The model: y = f(x) + noise, f ~ GP(0, k), k(x, x') = s^2 exp(-(x - x')^2 / (2 l^2)), noise ~ N(0, sigma^2). With
K = k(X, X) + sigma^2 I = L L^T and alpha = K^-1 y,

    log p(y | theta) = -y^T alpha / 2 - sum(log diag L) - n log(2 pi) / 2,

over theta = (log l, log s, log sigma). The gradient chainrule computes through the Cholesky factor and the two
triangular solves is checked against central finite differences and against the closed form
d log p / d theta_j = tr((alpha alpha^T - K^-1) dK/dtheta_j) / 2 (Rasmussen & Williams 2006, eq. 5.9).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

import chainrule as cr
from chainrule.scipy import linalg

RNG = np.random.default_rng(0)
X = np.sort(RNG.uniform(-4, 4, 40))
Y = np.sin(X) + 0.5 * np.sin(3 * X) + 0.1 * RNG.standard_normal(X.size)
D2 = (X[:, None] - X[None, :]) ** 2  # squared distances, fixed by the data


def kernel(theta: cr.Tensor | np.ndarray) -> cr.Tensor:
    """K(theta) = s^2 exp(-D^2 / (2 l^2)) + sigma^2 I for theta = (log l, log s, log sigma)."""
    length, scale, noise = cr.exp(theta[0]), cr.exp(theta[1]), cr.exp(theta[2])
    return scale**2 * cr.exp(-D2 / (2 * length**2)) + noise**2 * np.eye(X.size)


def log_marginal_likelihood(theta: cr.Tensor | np.ndarray) -> cr.Tensor:
    c, lower = linalg.cho_factor(kernel(theta), lower=True)
    alpha = linalg.cho_solve((c, lower), Y)
    return -0.5 * (Y @ alpha) - cr.sum(cr.log(cr.diagonal(c))) - 0.5 * X.size * math.log(2 * math.pi)


def scipy_value(theta: np.ndarray) -> float:
    """The same number with SciPy alone, for comparison."""
    k = np.asarray(kernel(theta))
    c, lower = scipy.linalg.cho_factor(k, lower=True)
    alpha = scipy.linalg.cho_solve((c, lower), Y)
    return float(-0.5 * Y @ alpha - np.log(np.diag(c)).sum() - 0.5 * X.size * math.log(2 * math.pi))


def closed_form_gradient(theta: np.ndarray) -> np.ndarray:
    """Rasmussen & Williams' eq. 5.9, with dK/dtheta written out by hand."""
    length, scale, noise = np.exp(theta)
    rbf = scale**2 * np.exp(-D2 / (2 * length**2))
    k = rbf + noise**2 * np.eye(X.size)
    k_inv = np.linalg.inv(k)
    alpha = k_inv @ Y
    inner = np.outer(alpha, alpha) - k_inv
    dk = (rbf * D2 / length**2, 2 * rbf, 2 * noise**2 * np.eye(X.size))
    return np.array([0.5 * np.sum(inner * d) for d in dk])


def finite_difference_gradient(theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    steps = np.eye(theta.size) * h
    return np.array([(scipy_value(theta + e) - scipy_value(theta - e)) / (2 * h) for e in steps])


def main() -> None:
    theta = np.log(np.array([0.5, 2.0, 0.5]))
    value = float(log_marginal_likelihood(theta))
    grad = np.asarray(cr.grad(log_marginal_likelihood)(theta))
    print(f"log marginal likelihood at theta0: chainrule {value:.10f}, SciPy {scipy_value(theta):.10f}")
    fd, closed = finite_difference_gradient(theta), closed_form_gradient(theta)
    print("gradient (d/d log l, d/d log s, d/d log sigma):")
    print(f"  chainrule          {np.array2string(grad, precision=8)}")
    print(f"  finite differences {np.array2string(fd, precision=8)}")
    print(f"  closed form (5.9)  {np.array2string(closed, precision=8)}")
    fd_error = float(np.max(np.abs(grad - fd) / np.maximum(np.abs(fd), 1e-8)))
    closed_error = float(np.max(np.abs(grad - closed) / np.abs(closed)))
    print(f"max relative difference: vs finite differences {fd_error:.1e}, vs the closed form {closed_error:.1e}")
    assert abs(value - scipy_value(theta)) < 1e-9 * abs(value)
    assert fd_error < 1e-6 and closed_error < 1e-10

    # fit the hyper-parameters: Adam on the negative log marginal likelihood
    params = cr.tensor(theta, requires_grad=True)
    optimizer = cr.optim.Adam([params], lr=0.05)
    start = value
    for _ in range(300):
        optimizer.zero_grad()
        loss = -log_marginal_likelihood(params)
        loss.backward()
        optimizer.step()
    final = float(log_marginal_likelihood(params.detach()))
    length, scale, noise = np.exp(params.detach().numpy())
    grad_norm = float(np.linalg.norm(np.asarray(cr.grad(log_marginal_likelihood)(params.detach()))))
    print(f"after 300 Adam steps: log marginal likelihood {start:.4f} -> {final:.4f}, |gradient| {grad_norm:.1e}")
    print(f"fitted l = {length:.3f}, s = {scale:.3f}, sigma = {noise:.3f} (data made with noise 0.1)")
    assert final > start and 0.05 < noise < 0.2
    print("OK")


if __name__ == "__main__":
    main()
