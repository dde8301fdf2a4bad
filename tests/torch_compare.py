"""Comparing a chainrule module with its PyTorch twin: the state dict loaded both ways, then the same outputs and the
same gradients (of every floating input and every parameter) for one random cotangent. Shared by the layer tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

import chainrule as cr
from chainrule import nn

RNG = np.random.default_rng(0)


def randn(*shape: int, dtype: Any = np.float64) -> np.ndarray[Any, Any]:
    return RNG.standard_normal(shape).astype(dtype)


def _flat(out: Any) -> list[Any]:
    """Nested tuples and lists of outputs (LSTM's (output, (h_n, c_n))) as one flat list."""
    if isinstance(out, (tuple, list)):
        return [leaf for part in out for leaf in _flat(part)]
    return [out]


def _convert(x: Any, make: Any, grads: bool) -> Any:
    if isinstance(x, np.ndarray):
        return make(x.copy(), grads and x.dtype.kind == "f")
    if isinstance(x, (tuple, list)):
        return type(x)(_convert(v, make, grads) for v in x)
    return x


def load_both_ways(ours: nn.Module, theirs: torch.nn.Module) -> None:
    """The same keys, shapes and dtypes; ours loads into PyTorch and PyTorch's back into ours (strictly)."""
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for key, value in theirs_sd.items():
        assert ours_sd[key].shape == tuple(value.shape), key
        assert ours_sd[key].dtype == value.numpy().dtype, key
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours_sd.items()})
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), ours_sd[key].numpy(), err_msg=key)
    with torch.no_grad():  # new values on PyTorch's side, which ours must take over
        for p in theirs.parameters():
            p.uniform_(-0.6, 0.6)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key].numpy(), value.numpy(), err_msg=key)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def compare(ours: nn.Module, theirs: torch.nn.Module, inputs: Sequence[Any], kwargs: dict[str, Any] | None = None,
            rtol: float = 1e-9, atol: float = 1e-11, grads: bool = True, load: bool = True) -> None:
    """Load the state both ways (``load``), then check that forward and backward agree.

    ``inputs`` are ndarrays (floating ones are differentiated), tuples of them, or anything else (passed as it is);
    ``kwargs`` go to both forwards converted the same way. The defaults suit float64.
    """
    kwargs = kwargs or {}
    if load:
        load_both_ways(ours, theirs)
    ours_in = [_convert(x, lambda a, g: cr.tensor(a, requires_grad=g), grads) for x in inputs]
    theirs_in = [_convert(x, lambda a, g: torch.tensor(a, requires_grad=g), grads) for x in inputs]
    ours_kw = {k: _convert(v, lambda a, g: cr.tensor(a), False) for k, v in kwargs.items()}
    theirs_kw = {k: _convert(v, lambda a, g: torch.tensor(a), False) for k, v in kwargs.items()}
    out = _flat(ours(*ours_in, **ours_kw))
    expected = _flat(theirs(*theirs_in, **theirs_kw))
    assert len(out) == len(expected)
    for o, e in zip(out, expected):
        if e is None:
            assert o is None
            continue
        assert o.shape == tuple(e.shape) and o.dtype == e.detach().numpy().dtype
        np.testing.assert_allclose(o.numpy(), e.detach().numpy(), rtol=rtol, atol=atol)
    if not grads:
        return
    loss_ours: Any = 0.0
    loss_theirs: Any = 0.0
    for o, e in zip(out, expected):
        if e is None or not e.requires_grad:
            continue
        g = randn(*o.shape, dtype=o.dtype)
        loss_ours = loss_ours + (o * g).sum()
        loss_theirs = loss_theirs + (e * torch.from_numpy(g)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    for a, b in zip(_flat(ours_in), _flat(theirs_in)):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            assert a.grad is not None
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected_grad = theirs_params[name].grad
        if expected_grad is None:
            assert p.grad is None or not p.grad.numpy().any(), name
            continue
        assert p.grad is not None, name
        assert p.grad.dtype == p.dtype, name
        np.testing.assert_allclose(p.grad.numpy(), expected_grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


def pair(make: Any, dtype: Any = np.float64) -> tuple[Any, Any]:
    """The same constructor on both libraries, both moved to ``dtype``."""
    torch.manual_seed(0)
    ours, theirs = make(nn), make(torch.nn)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    return ours, theirs
