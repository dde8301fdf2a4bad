"""chainrule's demo: the seed's sigmoid derivative checked several ways, then a logistic regression.

Run it with ``make demo`` (or ``python examples/demo.py`` where chainrule is installed).

1. The project grew from a blog post that derives the chain rule from the limit definition
   f'(x) = lim (f(x + h) - f(x)) / h and applies it to sigmoid: with t = 1 + e^(-x) and sigma = 1 / t,
   dsigma/dx = dsigma/dt * dt/dx = (-1 / t^2) * (-e^(-x)) = sigma (1 - sigma).
   The table puts chainrule's gradients next to that formula and next to a central finite difference.
2. Two Gaussian blobs in the plane, a linear classifier p = sigmoid(X @ w + b), and plain gradient descent on the
   mean binary cross-entropy, written with chainrule's own (overflow-free) ``log_sigmoid``.
"""

from __future__ import annotations

import numpy as np

import chainrule as cr

POINTS = (-4.0, -1.0, 0.0, 0.5, 2.0, 4.0)


def sigmoid_table(points: tuple[float, ...] = POINTS, h: float = 1e-5) -> float:
    """Print sigma and its derivative at ``points``, four ways; return max |engine - sigma (1 - sigma)|."""
    print("1. The seed's example: sigma(x) = 1 / t with t = 1 + e^(-x)")
    print("   dsigma/dx = dsigma/dt * dt/dx = (-1/t^2) * (-e^(-x)) = sigma(x) * (1 - sigma(x))")
    print()

    # the engine, through the sigmoid primitive (its VJP is the seed's result, g * ans * (1 - ans))
    x = cr.tensor(points, requires_grad=True)
    sigma = cr.sigmoid(x)
    sigma.sum().backward()
    engine = np.asarray(x.grad)

    # the engine again, through the seed's decomposition: four primitives (negate, exp, add, divide), whose
    # local derivatives the reverse sweep multiplies together -- the chain rule, one factor per node
    x2 = cr.tensor(points, requires_grad=True)
    t = 1.0 + cr.exp(-x2)
    (1.0 / t).sum().backward()
    chain = np.asarray(x2.grad)

    s = sigma.numpy()
    formula = s * (1.0 - s)

    # the limit definition, with a small finite h (central, so the error is O(h^2))
    xs = np.asarray(points)
    finite = (cr.sigmoid(xs + h) - cr.sigmoid(xs - h)) / (2 * h)

    header = f"{'x':>6} {'sigma(x)':>13} {'engine':>13} {'engine 1/t':>13} {'s(1-s)':>13} {'central diff':>13}"
    print("   " + header)
    print("   " + "-" * len(header))
    for row in zip(xs, s, engine, chain, formula, finite):
        print("   " + f"{row[0]:>6.1f}" + "".join(f" {v:>13.10f}" for v in row[1:]))
    print("   engine: cr.sigmoid(x).sum().backward();  engine 1/t: the same through 1 / (1 + cr.exp(-x))")
    print()
    err_formula = float(np.max(np.abs(engine - formula)))
    err_chain = float(np.max(np.abs(chain - formula)))
    err_finite = float(np.max(np.abs(engine - finite)))
    print(f"   max |engine - sigma(1 - sigma)|     = {err_formula:.3e}")
    print(f"   max |engine 1/t - sigma(1 - sigma)| = {err_chain:.3e}")
    print(f"   max |engine - central difference|   = {err_finite:.3e}   (h = {h:g})")
    print()
    return max(err_formula, err_chain)


def bce_with_logits(z: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
    """Mean binary cross-entropy of labels y in {0, 1} under p = sigmoid(z).

    -mean(y log p + (1 - y) log(1 - p)), with log p = log_sigmoid(z) and log(1 - p) = log_sigmoid(-z), which stay
    finite however large |z| grows.
    """
    return -cr.mean(y * cr.log_sigmoid(z) + (1.0 - y) * cr.log_sigmoid(-z))


def logistic_regression(n: int = 200, steps: int = 200, lr: float = 0.5, every: int = 20, seed: int = 0) -> float:
    """Fit p = sigmoid(X @ w + b) to two Gaussian blobs by gradient descent; print progress; return the accuracy."""
    print(f"2. Logistic regression: two Gaussian blobs of {n} points each, {steps} steps of gradient descent")
    print()
    cr.random.seed(seed)
    centres = np.repeat([[-1.0, -1.0], [1.5, 1.0]], n, axis=0)
    X = cr.randn(2 * n, 2) + centres  # unit-variance noise around each blob's centre
    y = cr.tensor(np.repeat([0.0, 1.0], n))

    w = cr.zeros(2, requires_grad=True)
    b = cr.zeros((), requires_grad=True)
    for step in range(steps + 1):
        loss = bce_with_logits(X @ w + b, y)
        if step % every == 0:
            print(f"   step {step:4d}  loss {loss.item():.6f}")
        if step == steps:
            break
        loss.backward()
        with cr.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None

    with cr.no_grad():
        accuracy = cr.mean((X @ w + b > 0) == (y > 0.5)).item()
    print()
    print(f"   w = [{w[0].item():.4f}, {w[1].item():.4f}], b = {b.item():.4f}")
    print(f"   final loss {loss.item():.6f}, training accuracy {accuracy:.1%}")
    # the same loss, differentiated by the engine and by finite differences, to second order, both modes
    ok = cr.gradcheck(lambda w_, b_: bce_with_logits(X @ w_ + b_, y), w.detach(), b.detach())
    print(f"   cr.gradcheck(loss, w, b) -> {ok}  (reverse and forward mode, to second order)")
    return float(accuracy)


def main() -> None:
    sigmoid_table()
    logistic_regression()


if __name__ == "__main__":
    main()
