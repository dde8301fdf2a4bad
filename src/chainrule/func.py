"""torch.func's spellings: ``functional_call`` runs a Module with parameters given as arguments, so grad, vmap and
hessian apply to models; the transforms under torch.func's names (``grad_and_value`` returns the gradient first).

>>> import numpy as np, chainrule as cr
>>> model = cr.nn.Linear(3, 1)
>>> params = dict(model.named_parameters())
>>> loss = lambda p, x: cr.func.functional_call(model, p, (x,)).sum()
>>> grads = cr.func.grad(loss)(params, np.ones((2, 3), dtype=np.float32))
>>> sorted(grads), grads["weight"].shape
(['bias', 'weight'], (1, 3))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from . import batching
from .nn.module import Module
from .transforms import ArgNums, grad, hessian, jacfwd, jacrev, jvp, linearize, value_and_grad, vjp

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "linearize",
           "stack_module_state", "vjp", "vmap"]


def vmap(func: Callable[..., Any], in_dims: Any = 0, out_dims: Any = 0) -> Callable[..., Any]:
    """``cr.vmap`` under torch.func's names: ``in_dims`` and ``out_dims`` are ``in_axes`` and ``out_axes``.

    >>> import numpy as np, chainrule as cr
    >>> cr.func.vmap(lambda x, w: x @ w, in_dims=(0, None))(np.ones((4, 3)), np.ones((3, 2))).shape
    (4, 2)
    """
    return batching.vmap(func, in_axes=in_dims, out_axes=out_dims)


def grad_and_value(f: Callable[..., Any], argnums: ArgNums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """``(gradient, value)`` of ``f`` in one call (torch.func's order; ``value_and_grad`` gives the other).

    >>> import numpy as np, chainrule as cr
    >>> g, v = cr.func.grad_and_value(lambda x: (x * x).sum())(np.array([3.0]))
    >>> g.tolist(), float(v)
    ([6.0], 9.0)
    """
    value_grad = value_and_grad(f, argnums, has_aux)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value, g = value_grad(*args, **kwargs)
        return g, value

    return wrapper


def _places(module: Module) -> dict[str, tuple[Module, str, str]]:
    """Every name a parameter or buffer is reachable by (shared ones under each of their names): its module, which
    dictionary holds it, and its key there."""
    places: dict[str, tuple[Module, str, str]] = {}
    for prefix, sub in module.named_modules(remove_duplicate=False):
        for registry in ("_parameters", "_buffers"):
            for key, value in getattr(sub, registry).items():
                if value is not None:
                    places[prefix + ("." if prefix else "") + key] = (sub, registry, key)
    return places


@contextmanager
def _swapped(module: Module, values: Mapping[str, Any], tie_weights: bool, strict: bool) -> Iterator[None]:
    places = _places(module)
    unknown = sorted(set(values) - set(places))
    if unknown:
        raise ValueError(f"functional_call: {type(module).__name__} has no parameter or buffer named "
                         f"{', '.join(map(repr, unknown))}")
    if strict and set(values) != set(places):
        raise ValueError("functional_call(strict=True): missing values for "
                         + ", ".join(repr(n) for n in sorted(set(places) - set(values))))
    targets: dict[str, Any] = {}
    for name, value in values.items():
        sub, registry, key = places[name]
        original = getattr(sub, registry)[key]
        for other, (o_sub, o_registry, o_key) in places.items():
            tied = tie_weights and getattr(o_sub, o_registry)[o_key] is original
            if other == name or (tied and other not in values):
                targets[other] = value
    saved = [(places[n], getattr(places[n][0], places[n][1])[places[n][2]]) for n in targets]
    try:
        for name, value in targets.items():
            sub, registry, key = places[name]
            getattr(sub, registry)[key] = value
        yield
    finally:
        for (sub, registry, key), original in saved:
            getattr(sub, registry)[key] = original


def functional_call(module: Module, parameters_and_buffers: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                    args: Any = (), kwargs: Mapping[str, Any] | None = None, *, tie_weights: bool = True,
                    strict: bool = False) -> Any:
    """``module(*args, **kwargs)`` with the parameters and buffers named in ``parameters_and_buffers`` (one dict,
    or a sequence of dicts, by the dotted names of ``named_parameters``) in place of its own, which are put back
    afterwards. With ``tie_weights`` a shared parameter given under one name is replaced under all of its names;
    ``strict`` asks for a value for every one. ``args`` that is not a tuple is the single positional argument.

    >>> import numpy as np, chainrule as cr
    >>> model = cr.nn.Linear(2, 1)
    >>> p = {"weight": np.array([[1.0, 2.0]], dtype=np.float32), "bias": np.zeros(1, dtype=np.float32)}
    >>> cr.func.functional_call(model, p, np.ones((1, 2), dtype=np.float32)).tolist()
    [[3.0]]
    """
    if isinstance(parameters_and_buffers, Mapping):
        values = dict(parameters_and_buffers)
    else:
        values = {}
        for part in parameters_and_buffers:
            repeated = sorted(set(values) & set(part))
            if repeated:
                raise ValueError(f"functional_call: {', '.join(map(repr, repeated))} given in more than one dict")
            values.update(part)
    with _swapped(module, values, tie_weights, strict):
        return module(*(args if isinstance(args, tuple) else (args,)), **(kwargs or {}))


def stack_module_state(models: Sequence[Module]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters and the buffers of several models of one architecture, each stacked along a new axis 0:
    what ``vmap`` over ``functional_call`` takes to run an ensemble at once (the parameters require grad, as
    torch.func's do).

    >>> import chainrule as cr
    >>> params, buffers = cr.func.stack_module_state([cr.nn.Linear(3, 2) for _ in range(4)])
    >>> params["weight"].shape
    (4, 2, 3)
    """
    from .ops.shape import stack
    from .tensor import Tensor

    if not models:
        raise ValueError("stack_module_state needs at least one model")

    def stacked(named: Callable[[Module], Iterator[tuple[str, Tensor]]], requires_grad: bool) -> dict[str, Any]:
        per_model = [dict(named(m)) for m in models]
        return {name: Tensor(stack([p[name].detach() for p in per_model]), requires_grad=requires_grad)
                for name in per_model[0]}

    return stacked(Module.named_parameters, True), stacked(Module.named_buffers, False)
