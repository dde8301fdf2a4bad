"""RMSprop: gradients scaled by a running root-mean-square, optionally centred and with momentum."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import blas
from .optimizer import Optimizer, ParamsT, nonzero, scalar
from .sgd import _descend_scaled


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), PyTorch's update step by step.

    With gradient g_t (negated when ``maximize``), smoothing α, momentum μ, learning rate γ, weight decay λ, ε:

        g_t <- g_t + λ θ_{t-1}                                  (when λ != 0)
        v_t  = α v_{t-1} + (1 - α) g_t²
        ḡ_t  = α ḡ_{t-1} + (1 - α) g_t,   ṽ_t = v_t - ḡ_t²      (centered),   ṽ_t = v_t  (otherwise)
        b_t  = μ b_{t-1} + g_t / (sqrt(ṽ_t) + ε),   θ_t = θ_{t-1} - γ b_t       (when μ > 0)
        θ_t  = θ_{t-1} - γ g_t / (sqrt(ṽ_t) + ε)                                   (otherwise)

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.RMSprop([w], lr=0.01, alpha=0.75)
    >>> w.grad = cr.tensor([2.0])
    >>> opt.step()            # v = 0.25 * 4 = 1, so w moves by lr * 2 / 1
    >>> w
    tensor([0.98], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)
        blas.load_for(p.data for group in self.param_groups for p in group["params"])

    def _validate(self, group: dict[str, Any]) -> None:
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        if not 0.0 <= group["momentum"]:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if not 0.0 <= group["alpha"]:
            raise ValueError(f"Invalid alpha value: {group['alpha']}")

    def _update(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        for p, g in self._grads(group):
            state = self.state[p]
            if not state:
                state.update(step=self._counter(), square_avg=self._buffer(p))
            # buffers an option needs are made when first needed (a scheduler may switch momentum on later)
            if nonzero(momentum) and "momentum_buffer" not in state:
                state["momentum_buffer"] = self._buffer(p)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = self._buffer(p)
            self._count(state)
            if weight_decay != 0:
                g = g + weight_decay * p.data
            v = state["square_avg"].data
            v *= alpha
            v += (1 - alpha) * (g * g)
            if centered:
                g_avg = state["grad_avg"].data
                g_avg *= alpha
                g_avg += (1 - alpha) * g
                avg = np.sqrt(v - g_avg * g_avg)
            else:
                avg = np.sqrt(v)
            avg += eps
            if nonzero(momentum):
                buf = state["momentum_buffer"].data
                buf *= scalar(momentum, g.dtype)  # (NumPy's cast of a Python number: a box read at run gives the same)
                buf += g / avg
                _descend_scaled(p, scalar(lr, g.dtype), buf)
            else:
                _descend_scaled(p, scalar(lr, g.dtype), g / avg)
