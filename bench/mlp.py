"""One SGD training step of a relu MLP with a softmax cross-entropy loss, float32, in each library of the suite.

Every version starts from the same weights (PyTorch's layout: a layer's weight is ``(out, in)``) and does the same
work: forward, loss, backward, ``p -= lr * grad``. ``matmuls_by_hand`` does only the step's matrix products (three
forward, five backward: the first layer needs no input gradient), the floor no library can go under on one thread.
Each ``*_step`` returns a zero-argument step (which returns the loss); the library is imported only when asked for.

    python bench/mlp.py [--batch 128] [--sizes 64 256 256 10]    # checks that the versions agree
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

LR = 0.01


def data(batch: int, sizes: Sequence[int]) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """Weights and biases of each layer (float32), a batch of inputs and integer labels."""
    rng = np.random.default_rng(0)
    layers = [((rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(np.float32), np.zeros(n_out, np.float32))
              for n_in, n_out in itertools.pairwise(sizes)]
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    return layers, x, rng.integers(0, sizes[-1], batch)


def by_hand(batch: int, sizes: Sequence[int]) -> Callable[[], float]:
    """The step written out in NumPy: the forward keeps each layer's output, the backward walks them in reverse."""
    layers, x, y = data(batch, sizes)
    rows = np.arange(batch)

    def step() -> float:
        outs = [x]
        for i, (w, b) in enumerate(layers):
            z = outs[-1] @ w.T + b
            outs.append(np.maximum(z, 0) if i < len(layers) - 1 else z)
        logits = outs[-1]
        top = logits.max(1, keepdims=True)
        e = np.exp(logits - top)
        total = e.sum(1, keepdims=True)
        loss = float((np.log(total) + top - logits[rows, y, None]).mean())
        g = e / total
        g[rows, y] -= 1
        g /= batch
        for i in reversed(range(len(layers))):
            w, b = layers[i]
            gw, gb = g.T @ outs[i], g.sum(0)
            if i:
                g = (g @ w) * (outs[i] > 0)  # relu's derivative, read off its output
            w -= LR * gw
            b -= LR * gb
        return loss

    return step


def _matmuls(weights: Sequence[Any], x: Any) -> Callable[[], float]:
    """The step's matrix products alone, on NumPy arrays or on PyTorch tensors that need no gradient."""

    def step() -> float:
        outs = [x]
        for w in weights:
            outs.append(outs[-1] @ w.T)
        g = outs[-1]
        for i in reversed(range(len(weights))):
            g.T @ outs[i]
            if i:
                g = g @ weights[i]
        return 0.0

    return step


def matmuls_by_hand(batch: int, sizes: Sequence[int]) -> Callable[[], float]:
    """The step's matrix products with NumPy's BLAS."""
    layers, x, _ = data(batch, sizes)
    return _matmuls([w for w, _ in layers], x)


def _autograd_step(lib: Any, tensor: Callable[..., Any], batch: int, sizes: Sequence[int]) -> Callable[[], Any]:
    """The step in an eager library with PyTorch's names (chainrule or PyTorch)."""
    layers, x0, y0 = data(batch, sizes)
    params = [tensor(a, requires_grad=True) for layer in layers for a in layer]
    x, y = tensor(x0), tensor(y0)
    functional = lib.nn.functional
    opt = lib.optim.SGD(params, lr=LR)

    def step() -> float:
        opt.zero_grad()
        h = x
        for i in range(0, len(params), 2):
            h = functional.linear(h, params[i], params[i + 1])
            if i < len(params) - 2:
                h = functional.relu(h)
        loss = functional.cross_entropy(h, y)
        loss.backward()
        opt.step()
        return loss.detach()  # not float(): a value of the step, which cr.compile can return

    return step


def chainrule_step(batch: int, sizes: Sequence[int]) -> Callable[[], Any]:
    import chainrule as cr

    return _autograd_step(cr, cr.tensor, batch, sizes)


def torch_step(batch: int, sizes: Sequence[int]) -> Callable[[], Any]:
    import torch

    return _autograd_step(torch, lambda a, **kw: torch.tensor(a, **kw), batch, sizes)


def torch_matmuls(batch: int, sizes: Sequence[int]) -> Callable[[], float]:
    """The step's matrix products with PyTorch's BLAS (which is not NumPy's)."""
    import torch

    layers, x, _ = data(batch, sizes)
    return _matmuls([torch.from_numpy(w) for w, _ in layers], torch.from_numpy(x))


def jax_step(batch: int, sizes: Sequence[int]) -> Callable[[], float]:
    """The step as one ``jax.jit`` function (parameters in, updated parameters out)."""
    import jax
    import jax.numpy as jnp

    layers, x0, y0 = data(batch, sizes)
    x, y = jnp.asarray(x0), jnp.asarray(y0)

    def loss(params: Any) -> Any:
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w.T + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return -jnp.take_along_axis(jax.nn.log_softmax(h), y[:, None], 1).mean()

    @jax.jit
    def update(params: Any) -> Any:
        value, grads = jax.value_and_grad(loss)(params)
        return value, jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads)

    state = [[(jnp.asarray(w), jnp.asarray(b)) for w, b in layers]]

    def step() -> float:
        value, state[0] = update(state[0])
        return float(value)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 256, 10])
    args = parser.parse_args()
    steps = {"NumPy by hand": by_hand, "chainrule": chainrule_step, "torch": torch_step}
    losses = {}
    # three steps each: the losses agree only if the gradients and the updates do
    for name, make in steps.items():
        step = make(args.batch, args.sizes)
        losses[name] = [step() for _ in range(3)]
        print(f"  {name:14s} losses {' '.join(f'{v:.6f}' for v in losses[name])}")
    reference = losses["NumPy by hand"]
    for name, values in losses.items():
        np.testing.assert_allclose(values, reference, rtol=1e-4, err_msg=name)


if __name__ == "__main__":
    main()
