"""Fit a damped oscillator's damping and stiffness to noisy positions, through ``cr.scipy.integrate.odeint``.

x'' + c x' + k x = 0 as the first-order system y = (x, v): dy/dt = (v, -k x - c v). The loss is the mean squared
error of the solved positions against the data; its gradient in (c, k) comes from the adjoint method (one backward
ODE solve, memory independent of the solver's steps), is checked against central finite differences, and is handed
to SciPy's BFGS by ``cr.scipy.optimize.minimize``.

Run it with ``python examples/damped_oscillator.py`` (chainrule and SciPy installed).
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

TRUE = np.array([0.4, 3.0])  # damping c, stiffness k
Y0 = np.array([1.0, 0.0])
T = np.linspace(0.0, 6.0, 31)
TOL = {"rtol": 1e-9, "atol": 1e-9}


def oscillator(y, t, theta):
    return cr.stack([y[1], -theta[1] * y[0] - theta[0] * y[1]])


def data(seed: int = 0) -> np.ndarray:
    positions = cr.scipy.integrate.odeint(oscillator, Y0, T, TRUE, **TOL)[:, 0]
    return positions + 0.02 * np.random.default_rng(seed).normal(size=T.shape)


def main() -> None:
    observed = data()

    def loss(theta):
        positions = cr.scipy.integrate.odeint(oscillator, Y0, T, theta, **TOL)[:, 0]
        return ((positions - observed) ** 2).mean()

    start = np.array([1.0, 2.0])
    g = cr.grad(loss)(start)
    h = 1e-6
    fd = np.array([(loss(start + h * e) - loss(start - h * e)) / (2 * h) for e in np.eye(2)])
    error = float(np.max(np.abs(g - fd) / np.abs(fd)))
    print("gradient at (c, k) = (1, 2):")
    print(f"  adjoint (cr.grad)         {g[0]: .8f} {g[1]: .8f}")
    print(f"  central differences       {fd[0]: .8f} {fd[1]: .8f}")
    print(f"  largest relative error    {error:.1e}")
    assert error < 1e-5, "the adjoint gradient disagrees with finite differences"

    res = cr.scipy.optimize.minimize(loss, start, method="BFGS")
    c, k = res.x
    print(f"fit: c = {c:.4f} (true {TRUE[0]}), k = {k:.4f} (true {TRUE[1]}), loss {res.fun:.2e}, "
          f"{res.nfev} evaluations of the loss and its gradient")
    assert res.success and np.allclose(res.x, TRUE, rtol=0.05), "the fit did not recover the parameters"
    print("ok")


if __name__ == "__main__":
    main()
