"""Adam and AdamW: adaptive moment estimation, with L2 or decoupled weight decay, and the AMSGrad variant."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import tick
from ..fused import Kernel, fusing
from ..primitive import Dual
from .optimizer import Optimizer, ParamsT, scalar
from .sgd import _descend


def _moments(g: Any, m: Any, v: Any, beta1: Any, one_minus_beta1: Any, beta2: Any, one_minus_beta2: Any) -> None:
    m *= beta1
    m += g * one_minus_beta1
    v *= beta2
    v += g * g * one_minus_beta2


def _descent(xp: Any, p: Any, m: Any, v_hat: Any, step_size: Any, bias2_sqrt: Any, eps: Any) -> None:
    p -= m / (xp.sqrt(v_hat) / bias2_sqrt + eps) * step_size


def _adam_body(xp: Any, p: Any, g: Any, m: Any, v: Any, *settings: Any) -> None:
    """Adam's update of p, m and v in place: the operations of the eager path below, in its order."""
    _moments(g, m, v, *settings[:4])
    _descent(xp, p, m, v, *settings[4:])


def _amsgrad_body(xp: Any, p: Any, g: Any, m: Any, v: Any, v_max: Any, *settings: Any) -> None:
    """AMSGrad's update of p, m, v and the running maximum of v in place, in the eager path's order."""
    _moments(g, m, v, *settings[:4])
    xp.maximum(v_max, v, out=v_max)
    _descent(xp, p, m, v_max, *settings[4:])


# On a GPU the whole update is one kernel that reads p, g, m, v once and writes p, m, v (eager: eleven passes)
_adam_kernel = Kernel(_adam_body, "chainrule_adam_update")
_amsgrad_kernel = Kernel(_amsgrad_body, "chainrule_amsgrad_update")


class Adam(Optimizer):
    r"""Adam (Kingma & Ba), PyTorch's update step by step.

    With gradient g_t (negated when ``maximize``), betas (β1, β2), learning rate γ, weight decay λ, ε:

        g_t <- g_t + λ θ_{t-1}                                   (when λ != 0; AdamW decays θ instead)
        m_t  = β1 m_{t-1} + (1 - β1) g_t
        v_t  = β2 v_{t-1} + (1 - β2) g_t²
        v̂_t  = max(v̂_{t-1}, v_t)  (amsgrad),   v̂_t = v_t  (otherwise)
        θ_t  = θ_{t-1} - γ / (1 - β1^t) · m_t / (sqrt(v̂_t) / sqrt(1 - β2^t) + ε)

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = cr.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward()
    >>> opt.step()            # the first step moves each weight by about lr against the gradient's sign
    >>> w
    tensor([ 0.9, -0.9], requires_grad=True)
    """

    _decoupled = False

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["eps"]:
            raise ValueError(f"Invalid epsilon value: {group['eps']}")
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")

    def _update(self, group: dict[str, Any]) -> None:
        lr, eps, weight_decay, amsgrad = group["lr"], group["eps"], group["weight_decay"], group["amsgrad"]
        beta1, beta2 = group["betas"]
        for p, g in self._grads(group):
            state = self.state[p]
            if not state:
                state.update(step=self._counter(), exp_avg=self._buffer(p), exp_avg_sq=self._buffer(p))
                if amsgrad:
                    state["max_exp_avg_sq"] = self._buffer(p)
            step = self._count(state)
            if weight_decay != 0:
                if self._decoupled:
                    p *= scalar(1 - lr * weight_decay, g.dtype)
                else:
                    g = g + weight_decay * p.data
            m, v = state["exp_avg"].data, state["exp_avg_sq"].data
            if amsgrad and "max_exp_avg_sq" not in state:  # amsgrad switched on after the first step
                state["max_exp_avg_sq"] = self._buffer(p)
            v_max = state["max_exp_avg_sq"].data if amsgrad else None
            arrays = (p.data, g, m, v) if v_max is None else (p.data, g, m, v, v_max)
            if type(p) is not Dual and p._node is None and fusing(*arrays):
                kernel = _adam_kernel if v_max is None else _amsgrad_kernel
                kernel(*arrays, scalar(beta1, g.dtype), scalar(1 - beta1, g.dtype), scalar(beta2, g.dtype),
                       scalar(1 - beta2, g.dtype), (lr / (1 - beta1**step)).astype(g.dtype),
                       np.sqrt(1 - beta2**step).astype(g.dtype), scalar(eps, g.dtype))
                p._share_version().clock = tick()  # as an update in place is stamped
                continue
            # one temporary, reused for every term below: the same operations in the same order, written in place
            work = np.multiply(g, scalar(1 - beta1, g.dtype), out=np.empty_like(g))  # an array even for a 0-d p
            m *= scalar(beta1, g.dtype)
            m += work
            np.multiply(g, g, out=work)
            work *= scalar(1 - beta2, g.dtype)
            v *= scalar(beta2, g.dtype)
            v += work
            if v_max is not None:
                np.maximum(v_max, v, out=v_max)
            v_hat = v if v_max is None else v_max
            # the bias corrections in float64, then rounded to the parameter's dtype, as a Python number would be
            step_size = (lr / (1 - beta1**step)).astype(g.dtype)
            denom = np.sqrt(v_hat, out=work)
            denom /= np.sqrt(1 - beta2**step).astype(g.dtype)
            denom += eps
            update = np.divide(m, denom, out=work)
            update *= step_size
            _descend(p, update)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): θ is shrunk by γλ before the Adam step.

        θ_{t-1} <- θ_{t-1} (1 - γ λ),   then Adam's update without the L2 term

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = cr.tensor([0.0])          # no gradient signal: only the decay acts
    >>> opt.step()
    >>> w
    tensor([0.95], requires_grad=True)
    """

    _decoupled = True

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)
