"""PyTorch's ``torch.autograd.functional``: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp`` of
functions, by chainrule's transforms with PyTorch's signatures: ``inputs`` is a tensor or a tuple of them, the results
follow that shape, and they are tensors outside any graph (PyTorch's ``create_graph=False``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import transforms
from ..tensor import Tensor, values

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]

def _inputs(inputs: Any) -> tuple[tuple[Any, ...], bool]:
    return (inputs, True) if isinstance(inputs, tuple) else ((inputs,), False)


def _result(x: Any) -> Tensor:
    """A result as PyTorch gives it with ``create_graph=False``: a tensor outside any graph."""
    return Tensor._from_node(values(x), None)


def _shaped(results: Sequence[Any], as_tuple: bool) -> Any:
    out = tuple(_result(r) for r in results)
    return out if as_tuple else out[0]


def _first_order(who: str, create_graph: bool, strict: bool) -> None:
    if create_graph or strict:
        raise NotImplementedError(f"{who}: create_graph= and strict= are not offered; for derivatives of derivatives, "
                                  "nest chainrule's transforms (cr.jacobian(cr.grad(f)), ...)")


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False) -> Any:
    """The Jacobian of ``func`` (one tensor out) at ``inputs``: shape ``out.shape + x.shape``, one per input when
    ``inputs`` is a tuple.

    >>> import chainrule as cr
    >>> cr.autograd.functional.jacobian(lambda x: x ** 2, cr.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
    """
    _first_order("jacobian", create_graph, strict)
    xs, as_tuple = _inputs(inputs)
    return _shaped([transforms.jacobian(func, argnums=i)(*xs) for i in range(len(xs))], as_tuple)


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False, strict: bool = False) -> Any:
    """The Hessian of a scalar ``func`` at ``inputs``: shape ``x.shape + x.shape``, or for a tuple of inputs a tuple
    of tuples, ``[i][j]`` the block of inputs i and j.

    >>> import chainrule as cr
    >>> cr.autograd.functional.hessian(lambda x: (x ** 3).sum(), cr.tensor([1.0, 2.0]))
    tensor([[ 6.,  0.],
            [ 0., 12.]])
    """
    _first_order("hessian", create_graph, strict)
    xs, as_tuple = _inputs(inputs)
    blocks = tuple(_shaped([transforms.jacfwd(transforms.grad(func, i), j)(*xs) for j in range(len(xs))], True)
                   for i in range(len(xs)))
    return blocks if as_tuple else blocks[0][0]


def _ones_for(who: str, what: str, xs: Sequence[Any]) -> tuple[Any, ...]:
    """The implicit ``v`` of PyTorch: 1, allowed only where each ``xs`` holds a single number."""
    if any(np.size(values(x)) != 1 for x in xs):
        raise ValueError(f"{who}: v= is needed unless the {what} is a single number")
    return tuple(np.ones_like(values(x)) for x in xs)


def vjp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v @ J)``: the output and the cotangent ``v`` pulled back to each input.

    >>> import chainrule as cr
    >>> cr.autograd.functional.vjp(lambda x: x * x, cr.tensor([1.0, 3.0]), cr.tensor([1.0, 1.0]))[1]
    tensor([2., 6.])
    """
    _first_order("vjp", create_graph, strict)
    xs, as_tuple = _inputs(inputs)
    out, pull = transforms.vjp(func, *xs)
    cot = _ones_for("vjp", "output", (out,))[0] if v is None else v
    return _result(out), _shaped(pull(cot), as_tuple)


def jvp(func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), J @ v)``: the output and its derivative along the tangents ``v`` (one per input).

    >>> import chainrule as cr
    >>> cr.autograd.functional.jvp(cr.sin, cr.tensor(0.0), cr.tensor(2.0))[1]
    tensor(2.)
    """
    _first_order("jvp", create_graph, strict)
    xs = _inputs(inputs)[0]
    vs = _ones_for("jvp", "input", xs) if v is None else _inputs(v)[0]
    out, t = transforms.jvp(func, xs, vs)
    return _result(out), _result(t)


def hvp(func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), H @ v)`` for a scalar ``func``, without forming H (forward over reverse).

    >>> import chainrule as cr
    >>> cr.autograd.functional.hvp(lambda x: (x ** 3).sum(), cr.tensor([1.0, 2.0]), cr.tensor([1.0, 0.0]))[1]
    tensor([6., 0.])
    """
    _first_order("hvp", create_graph, strict)
    xs, as_tuple = _inputs(inputs)
    argnums = tuple(range(len(xs)))
    gradient = transforms.grad(func, argnums)
    products = transforms.jvp(gradient, xs, _inputs(v)[0])[1]
    return _result(func(*xs)), _shaped(products, as_tuple)


def vhp(func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool = False,
        strict: bool = False) -> tuple[Any, Any]:
    """``(func(inputs), v @ H)``: the same as ``hvp``, the Hessian being symmetric."""
    return hvp(func, inputs, v, create_graph, strict)

