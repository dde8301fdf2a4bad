"""A regularized logistic regression fitted with SciPy's trust-ncg, handed exact derivatives by chainrule.

``cr.scipy.optimize.minimize(..., method="trust-ncg")`` gives SciPy the loss and its gradient from one reverse pass
and Hessian-vector products (forward over reverse) for its conjugate-gradient steps; the parameters are a pytree
({"w": weights, "b": bias}). SciPy without derivatives must estimate the gradient by finite differences (trust-ncg
refuses to run that way), so it is compared with SciPy's default BFGS and with trust-constr, each on
finite-difference gradients: the counts below are evaluations of the loss.

Run it with ``python examples/trust_ncg_fit.py`` (chainrule and SciPy installed).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

import chainrule as cr

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 5))
W_TRUE = np.array([1.5, -2.0, 0.5, 0.0, 1.0])
Y = (rng.random(200) < 1 / (1 + np.exp(-(X @ W_TRUE - 0.3)))).astype(float)
L2 = 0.01


def loss(p):
    """Mean negative log-likelihood, log(1 + e^z) - y z with z = X w + b, plus an L2 penalty on w."""
    z = X @ p["w"] + p["b"]
    return (cr.logaddexp(0.0, z) - Y * z).mean() + L2 * (p["w"] ** 2).sum()


def loss_flat(v: np.ndarray) -> float:
    return float(loss({"w": v[:5], "b": v[5]}))


def main() -> None:
    ours = cr.scipy.optimize.minimize(loss, {"w": np.zeros(5), "b": 0.0}, method="trust-ncg")
    bfgs = scipy.optimize.minimize(loss_flat, np.zeros(6), method="BFGS")
    constr = scipy.optimize.minimize(loss_flat, np.zeros(6), method="trust-constr", jac="2-point",
                                     hess=scipy.optimize.BFGS())
    mine = np.append(ours.x["w"], ours.x["b"])
    print(f"chainrule + trust-ncg:          {ours.nfev:4d} evaluations of loss and gradient, {ours.nhev} "
          f"Hessian-vector products, {ours.nit} iterations")
    print(f"SciPy BFGS, finite differences: {bfgs.nfev:4d} evaluations of the loss, {bfgs.nit} iterations")
    print(f"SciPy trust-constr, 2-point:    {constr.nfev:4d} evaluations of the loss, {constr.nit} iterations")
    print("weights", np.round(ours.x["w"], 4), "bias", round(float(ours.x["b"]), 4))
    assert ours.success and np.allclose(mine, bfgs.x, atol=1e-3) and np.allclose(mine, constr.x, atol=1e-3)
    assert ours.nfev < bfgs.nfev and ours.nfev < constr.nfev
    print("ok")


if __name__ == "__main__":
    main()
