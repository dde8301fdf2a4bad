"""Deconvolution: recovering an image from a blurred, noisy copy through ``cr.scipy.signal.convolve`` by gradient
descent, with the gradient checked against finite differences.

Run it with ``python examples/deconvolution.py`` (chainrule and SciPy installed, or ``PYTHONPATH=src``).

A 32 x 32 image of a few bright squares is blurred by a known 7 x 7 Gaussian point-spread function k and noise is
added: y = k * x + n. The estimate minimizes the data misfit plus a small smoothness penalty,

    loss(x) = |k * x - y|^2 / 2 + lam |grad x|^2 / 2,

by plain gradient descent; the gradient of the misfit is the correlation of the residual with k, which chainrule
derives from the convolution on its own. The forward is checked against SciPy's, the gradient against central
differences, and the recovered image must be closer to the truth than the blurred one.
"""

from __future__ import annotations

import numpy as np
import scipy.signal

import chainrule as cr
from chainrule.scipy import signal

RNG = np.random.default_rng(3)
LAM = 2e-3


def point_spread(size: int = 7, width: float = 1.5) -> np.ndarray:
    r = np.arange(size) - size // 2
    k = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * width**2))
    return k / k.sum()


def truth(n: int = 32) -> np.ndarray:
    x = np.zeros((n, n))
    x[5:11, 6:12] = 1.0
    x[18:22, 4:9] = 0.6
    x[14:27, 20:24] = 0.8
    return x


K = point_spread()
X_TRUE = truth()
Y = scipy.signal.convolve(X_TRUE, K, mode="same") + 0.01 * RNG.standard_normal(X_TRUE.shape)


def loss(x: cr.Tensor | np.ndarray) -> cr.Tensor:
    residual = signal.convolve(x, K, mode="same") - Y
    smooth = cr.sum(cr.diff(x, axis=0) ** 2) + cr.sum(cr.diff(x, axis=1) ** 2)
    return 0.5 * cr.sum(residual**2) + 0.5 * LAM * smooth


def finite_difference_check(x: np.ndarray, probes: int = 5, h: float = 1e-6) -> float:
    """The largest relative difference between the gradient and central differences along random directions."""
    grad = np.asarray(cr.grad(loss)(x))
    worst = 0.0
    for _ in range(probes):
        v = RNG.standard_normal(x.shape)
        fd = (float(loss(x + h * v)) - float(loss(x - h * v))) / (2 * h)
        worst = max(worst, abs(float(np.sum(grad * v)) - fd) / abs(fd))
    return worst


def main() -> None:
    ours = np.asarray(signal.convolve(X_TRUE, K, mode="same"))
    forward_error = float(np.max(np.abs(ours - scipy.signal.convolve(X_TRUE, K, mode="same"))))
    print(f"convolve vs scipy.signal.convolve: max difference {forward_error:.1e}")
    check = finite_difference_check(Y)
    print(f"gradient vs central differences along 5 random directions: max relative difference {check:.1e}")
    assert forward_error < 1e-12 and check < 1e-6

    # gradient descent from the blurred image; the step is 1 / (the Lipschitz bound 1 + 8 lam)
    x = cr.tensor(Y.copy(), requires_grad=True)
    step = 1.0 / (1.0 + 8 * LAM)
    start = float(loss(x))
    for _ in range(500):
        value = loss(x)
        (g,) = cr.autograd.grad(value, x)
        x = (x - step * g).detach().requires_grad_()
    recovered = x.detach().numpy()
    blurred_error = float(np.linalg.norm(Y - X_TRUE) / np.linalg.norm(X_TRUE))
    recovered_error = float(np.linalg.norm(recovered - X_TRUE) / np.linalg.norm(X_TRUE))
    print(f"500 gradient steps: loss {start:.4f} -> {float(loss(recovered)):.4f}")
    print(f"relative error vs the true image: blurred {blurred_error:.3f}, recovered {recovered_error:.3f}")
    assert recovered_error < 0.75 * blurred_error
    print("OK")


if __name__ == "__main__":
    main()
