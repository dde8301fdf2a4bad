"""Gradient clipping (rescale gradients in place so their total norm, or each entry, stays within a bound), and
the parameters as one flat vector."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import backend
from ..engine import no_grad
from ..ops.shape import concatenate, reshape
from ..optim.optimizer import scalar
from ..tensor import Tensor
from .functional import _stopped

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]

TensorOrTensors = Tensor | Iterable[Tensor]


def _tensors(tensors: TensorOrTensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters: TensorOrTensors) -> list[Tensor]:
    return [p.grad for p in _tensors(parameters) if p.grad is not None]


def _vector_norm(x: Any, ord: float) -> Any:
    """The ``ord``-norm of all of x's entries, on x's device, computed as ``numpy.linalg.vector_norm`` computes it
    (so the same on the host), from x's own methods and namespace: CuPy has no ``vector_norm``."""
    xp = backend.namespace(x)
    x = x.ravel()
    if x.dtype.kind not in "fc":
        x = x.astype(np.float64)  # as NumPy: integers are measured as floats
    if ord == math.inf:  # of no entries: 0, as NumPy's max(initial=0), which CuPy lacks
        return abs(x).max() if x.size else xp.zeros((), x.real.dtype)
    if ord == -math.inf:
        return abs(x).min()
    if ord == 0:
        return (x != 0).astype(x.real.dtype).sum()
    if ord == 1:
        return abs(x).sum()
    if ord == 2:
        return xp.sqrt((x.conj() * x).real.sum())
    total = (abs(x) ** ord).sum()
    return total ** xp.reciprocal(ord, dtype=total.dtype)


def get_total_norm(tensors: TensorOrTensors, norm_type: float | str = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all the tensors together, as if concatenated into one vector: ‖(‖t₁‖, ‖t₂‖, …)‖.

    ``norm_type`` may be ``inf`` (the largest absolute entry). ``foreach`` is accepted for PyTorch compatibility.

    >>> import chainrule as cr
    >>> from chainrule.nn.utils import get_total_norm
    >>> get_total_norm([cr.tensor([3.0]), cr.tensor([4.0])])
    tensor(5.)
    """
    norm_type = float(norm_type)
    arrays = [_stopped(t) for t in _tensors(tensors)]
    if not arrays:
        return Tensor(np.array(0.0, dtype=np.float32))
    norms = [_vector_norm(a, norm_type) for a in arrays]
    total = _vector_norm(backend.namespace(arrays[0]).stack(norms), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    return Tensor(total)


def clip_grads_with_norm_(parameters: TensorOrTensors, max_norm: float, total_norm: Tensor | float,
                          foreach: bool | None = None) -> None:
    """Scale the parameters' gradients in place by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    total = _stopped(total_norm) if isinstance(total_norm, Tensor) else np.asarray(total_norm, dtype=np.float64)
    coef = np.minimum(max_norm / (total + 1e-6), 1.0)  # no decision on it: cr.compile records this too
    with no_grad():
        for g in grads:
            g *= scalar(coef, g.dtype)  # as a Python number would be cast


def clip_grad_norm_(parameters: TensorOrTensors, max_norm: float, norm_type: float | str = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients in place so that their total norm is at most ``max_norm``; returns the norm before.

    The gradients are multiplied by min(1, max_norm / (total_norm + 1e-6)), total_norm being the ``norm_type``-norm
    of all gradients concatenated (``inf``: the largest absolute entry). A non-finite norm raises a RuntimeError
    when ``error_if_nonfinite``.

    >>> import chainrule as cr
    >>> w = cr.tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()          # grad = (6, 8), norm 10
    >>> from chainrule.nn.utils import clip_grad_norm_
    >>> clip_grad_norm_([w], max_norm=1.0)
    tensor(10.)
    >>> [round(g, 6) for g in w.grad.tolist()]   # times 1 / (10 + 1e-6)
    [0.6, 0.8]
    """
    params = _tensors(parameters)  # a generator (model.parameters()) is read once
    grads = _grads(params)
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient entry in place to [-clip_value, clip_value].

    >>> import chainrule as cr
    >>> from chainrule.nn.utils import clip_grad_value_
    >>> w = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    >>> w.grad = cr.tensor([0.5, -4.0, 9.0])
    >>> clip_grad_value_([w], 1.0)
    >>> w.grad
    tensor([ 0.5, -1. ,  1. ])
    """
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g[...] = np.clip(g.data, -clip_value, clip_value)


def parameters_to_vector(parameters: TensorOrTensors) -> Tensor:
    """Every parameter flattened and concatenated, in order: one vector (recorded, so it is differentiable).

    >>> import chainrule as cr
    >>> from chainrule.nn.utils import parameters_to_vector
    >>> parameters_to_vector([cr.ones(2, 2), cr.zeros(1)])
    tensor([1., 1., 1., 1., 0.])
    """
    tensors = _tensors(parameters)
    devices = {str(p.device) for p in tensors}
    if len(devices) > 1:
        raise ValueError(f"parameters_to_vector: the parameters live on several devices ({', '.join(sorted(devices))})")
    return concatenate([reshape(p, (-1,)) for p in tensors])


def vector_to_parameters(vec: Tensor, parameters: TensorOrTensors) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in place (each keeps its identity, so an optimizer
    holding it sees the new values); the inverse of ``parameters_to_vector``.

    >>> import chainrule as cr
    >>> from chainrule.nn.utils import vector_to_parameters
    >>> w, b = cr.zeros(2, 2), cr.zeros(1)
    >>> vector_to_parameters(cr.arange(5.0), [w, b])
    >>> w.tolist(), b.tolist()
    ([[0.0, 1.0], [2.0, 3.0]], [4.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    tensors = _tensors(parameters)
    total = sum(p.data.size for p in tensors)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: the vector has {vec.data.size} entries, the parameters {total}")
    offset = 0
    with no_grad():
        for p in tensors:
            n = p.data.size
            p[...] = vec.data[offset:offset + n].reshape(p.data.shape)
            offset += n
