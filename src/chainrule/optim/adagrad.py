"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al.), PyTorch's update step by step.

    With gradient g_t (negated when ``maximize``), learning rate γ, decay η, weight decay λ, ε, and the
    accumulator s_0 = ``initial_accumulator_value``:

        γ̃_t = γ / (1 + (t - 1) η)
        g_t <- g_t + λ θ_{t-1}                     (when λ != 0)
        s_t  = s_{t-1} + g_t²
        θ_t  = θ_{t-1} - γ̃_t g_t / (sqrt(s_t) + ε)

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.Adagrad([w], lr=0.1)
    >>> w.grad = cr.tensor([3.0])
    >>> opt.step()            # s = 9, so w moves by 0.1 * 3 / 3
    >>> w
    tensor([0.9], requires_grad=True)
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch makes Adagrad's state up front
            for p in group["params"]:
                self._init_state(p, group)

    def _validate(self, group: dict[str, Any]) -> None:
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["lr_decay"]:
            raise ValueError(f"Invalid lr_decay value: {group['lr_decay']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if not 0.0 <= group["initial_accumulator_value"]:
            raise ValueError(f"Invalid initial_accumulator_value value: {group['initial_accumulator_value']}")
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        if not state:
            state.update(step=self._counter(), sum=self._buffer(p, group["initial_accumulator_value"]))

    def _update(self, group: dict[str, Any]) -> None:
        lr, lr_decay, weight_decay, eps = group["lr"], group["lr_decay"], group["weight_decay"], group["eps"]
        for p, g in self._grads(group):
            self._init_state(p, group)  # a group added after construction
            state = self.state[p]
            step = self._count(state)
            if weight_decay != 0:
                g = g + weight_decay * p.data
            clr = (lr / (1 + (step - 1) * lr_decay)).astype(g.dtype)
            s = state["sum"].data
            s += g * g
            std = np.sqrt(s)
            std += eps
            update = g / std
            update *= clr
            p -= update
