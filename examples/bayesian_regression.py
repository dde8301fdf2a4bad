"""A Bayesian robust regression's log-posterior, written with cr.scipy.stats and cr.scipy.special, and its mode
found with the exact gradient and Hessian (checked here against SciPy's own densities and central differences).

The model: y_i ~ Student-t(4, loc = x_i . w, scale = sigma), w ~ N(0, 1), sigma ~ Gamma(2, scale=1). The parameters
are one vector theta = (w, log sigma), so the search is unconstrained (the log-Jacobian of sigma = exp(log sigma) is
added to the log-posterior).

Run: python examples/bayesian_regression.py
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats

import chainrule as cr

stats, special = cr.scipy.stats, cr.scipy.special
DF = 4.0  # the likelihood's degrees of freedom

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 3))
W_TRUE = np.array([1.5, -2.0, 0.5])
Y = X @ W_TRUE + 0.3 * rng.standard_t(DF, size=60)


def log_posterior(theta: Any) -> Any:
    w, sigma = theta[:3], cr.exp(theta[3])
    log_likelihood = cr.sum(stats.t.logpdf(Y, DF, loc=X @ w, scale=sigma))
    log_prior = cr.sum(stats.norm.logpdf(w)) + stats.gamma.logpdf(sigma, 2.0)
    return log_likelihood + log_prior + theta[3]


def t_log_likelihood_by_hand(theta: Any) -> Any:
    """The same likelihood written out with special.gammaln: values and gradients must agree with stats.t's."""
    r, sigma = Y - X @ theta[:3], cr.exp(theta[3])
    norm = special.gammaln((DF + 1) / 2) - special.gammaln(DF / 2) - 0.5 * np.log(DF * np.pi) - cr.log(sigma)
    return cr.sum(norm - (DF + 1) / 2 * cr.log1p((r / sigma) ** 2 / DF))


def central_gradient(f: Any, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    return np.array([(float(f(x + h * e)) - float(f(x - h * e))) / (2 * h) for e in np.eye(x.size)])


theta = np.zeros(4)
sigma = np.exp(theta[3])
scipy_value = (scipy.stats.t.logpdf(Y, DF, loc=X @ theta[:3], scale=sigma).sum()
               + scipy.stats.norm.logpdf(theta[:3]).sum() + scipy.stats.gamma.logpdf(sigma, 2.0) + theta[3])
assert abs(float(log_posterior(theta)) - scipy_value) < 1e-9
likelihood = lambda theta: cr.sum(stats.t.logpdf(Y, DF, loc=X @ theta[:3], scale=cr.exp(theta[3])))
assert np.allclose(cr.grad(t_log_likelihood_by_hand)(theta), cr.grad(likelihood)(theta), rtol=1e-10)
error = float(np.max(np.abs(cr.grad(log_posterior)(theta) - central_gradient(log_posterior, theta))))
assert error < 1e-5
print(f"value as SciPy's; gradient as central differences (max error {error:.0e})")

# gradient ascent (steps of at most 0.5, halved until they climb) until the Hessian is negative definite, then Newton
value_and_grad, hessian = cr.value_and_grad(log_posterior), cr.hessian(log_posterior)
steps = newton = 0
value, g = value_and_grad(theta)
while np.max(np.abs(g)) > 1e-10 and steps < 200:
    h = hessian(theta)
    if np.all(np.linalg.eigvalsh(h) < 0):
        theta, newton = theta - np.linalg.solve(h, g), newton + 1
    else:
        t = min(1.0, 0.5 / float(np.max(np.abs(g))))
        while float(log_posterior(theta + t * g)) < float(value):
            t /= 2
        theta = theta + t * g
    steps += 1
    value, g = value_and_grad(theta)
assert np.max(np.abs(g)) <= 1e-10 and np.max(np.abs(theta[:3] - W_TRUE)) < 0.2
print(f"posterior mode in {steps} steps ({newton} Newton): w = {np.round(theta[:3], 3).tolist()}, "
      f"sigma = {float(np.exp(theta[3])):.3f}")
