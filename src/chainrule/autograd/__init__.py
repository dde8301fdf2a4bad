"""PyTorch's ``torch.autograd``: ``grad`` (``cr.engine.grad``) and ``backward`` on recorded graphs, and
``functional`` (jacobian, hessian, vjp, jvp, hvp, vhp of functions).

>>> import chainrule as cr
>>> x = cr.tensor(3.0, requires_grad=True)
>>> cr.autograd.grad(x ** 2, x)
(tensor(6.),)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..engine import grad
from ..tensor import _backward, _seed
from . import functional

__all__ = ["backward", "functional", "grad"]


def backward(tensors: Any | Sequence[Any], grad_tensors: Any | Sequence[Any] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False) -> None:
    """Accumulate the gradients of several outputs into the leaves' ``.grad`` in one reverse sweep (each output as
    ``t.backward(g)`` would, with shared parts of the graph walked once).

    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> cr.autograd.backward([x * 3, x ** 2])
    >>> float(x.grad)
    7.0
    """
    outs: list[Any] = list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]
    if grad_tensors is None:
        seeds: list[Any] = [None] * len(outs)
    else:
        seeds = list(grad_tensors) if isinstance(grad_tensors, (list, tuple)) else [grad_tensors]
    if len(seeds) != len(outs):
        raise ValueError(f"backward got {len(seeds)} grad_tensors for {len(outs)} tensors")
    for o in outs:
        if not o.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input of its computation had "
                               "requires_grad=True (or it was computed under cr.no_grad())")
    roots = [(o, _seed(o, s, create_graph)) for o, s in zip(outs, seeds)]
    _backward(roots, create_graph, create_graph if retain_graph is None else retain_graph)
