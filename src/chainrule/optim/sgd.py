"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import blas
from ..engine import tick
from ..primitive import Batched, Dual, Traced
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, nonzero, scalar


def _leaf(p: Tensor) -> bool:
    """A leaf tensor of the user's (a Tensor or an nn.Parameter), not a transform's box (Dual, Batched, Traced)."""
    return p._node is None and not isinstance(p, (Dual, Batched, Traced))


def _descend(p: Tensor, step: Any) -> None:
    """``p -= step`` straight into p's array: one pass over p's memory, where the in-place operator makes the
    difference and then copies it in. A leaf's version is stamped as that operator does; anything else (a tensor
    with a node, a transform's box) takes the operator itself."""
    if not _leaf(p):
        p -= step
        return
    data = p.data
    data -= step
    p._share_version().clock = tick()


def _descend_scaled(p: Tensor, rate: Any, g: Any) -> None:
    """``p -= rate * g``: one BLAS axpy into p's array where ``blas.axpy`` takes it (a large float array on the
    host, SciPy installed: one pass, no temporary), else the product and ``_descend`` (and always under cr.compile,
    which reads the rate at run: its replay makes the same axpy of the product and the difference it records)."""
    if _leaf(p) and isinstance(rate, np.floating) and blas.axpy(-rate, g, p.data):
        p._share_version().clock = tick()
    else:
        _descend(p, rate * g)


class SGD(Optimizer):
    r"""Stochastic gradient descent (PyTorch's update, step by step).

    With gradient g_t (negated when ``maximize``), weight decay λ, momentum μ, dampening τ and learning rate γ:

        g_t <- g_t + λ θ_{t-1}                                        (when λ != 0)
        b_t  = g_t  (first step),   b_t = μ b_{t-1} + (1 - τ) g_t     (when μ != 0)
        g_t <- g_t + μ b_t  (nesterov),   g_t <- b_t  (otherwise)     (when μ != 0)
        θ_t  = θ_{t-1} - γ g_t

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0], requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    >>> w   # 1 - 0.1 * 2 = 0.8, then 0.8 - 0.1 * (0.9 * 2 + 1.6) = 0.46
    tensor([0.46], requires_grad=True)
    """

    _takes_complex = True

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)
        blas.load_for(p.data for group in self.param_groups for p in group["params"])

    def _validate(self, group: dict[str, Any]) -> None:
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if not 0.0 <= group["momentum"]:
            raise ValueError(f"Invalid momentum value: {group['momentum']}")
        if not 0.0 <= group["weight_decay"]:
            raise ValueError(f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update(self, group: dict[str, Any]) -> None:
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov = group["weight_decay"], group["nesterov"]
        rates: dict[Any, Any] = {}  # lr cast once per dtype: a compiled step then casts it once, not once a parameter
        momenta: dict[Any, Any] = {}
        for p, g in self._grads(group):
            if weight_decay != 0:
                g = g + weight_decay * p.data
            if nonzero(momentum):
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if g.dtype not in momenta:  # (NumPy's cast of a Python number: a box read at run gives the same)
                    momenta[g.dtype] = scalar(momentum, g.dtype)
                mu = momenta[g.dtype]
                if buf is None:
                    buf = state["momentum_buffer"] = self._buffer(p)
                    np.copyto(buf.data, g)
                else:
                    b = buf.data
                    b *= mu
                    b += (1 - dampening) * g
                g = g + mu * buf.data if nesterov else buf.data
            if g.dtype not in rates:
                rates[g.dtype] = scalar(lr, g.dtype)
            _descend_scaled(p, rates[g.dtype], g)
