"""Primitives: forward, VJP and JVP side by side, and ``apply``, the one place that records a graph node.

A primitive called on raw arrays returns a raw array at NumPy speed and records nothing; called with at least one
Tensor it returns a Tensor, and records a node when grad mode is on and an input requires grad. Rules are written
with chainrule's own polymorphic functions, so the same rule serves a fast first-order backward (raw arrays) and a
differentiable one (Tensors, under ``create_graph=True``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .engine import Node, Version, is_grad_enabled, tick
from .tensor import Tensor

Rule = Callable[..., Any]
REGISTRY: dict[str, Primitive] = {}


@dataclass(frozen=True)
class Sample:
    """One sample input of a primitive for the generated tests: positional args and static keyword args."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


class _EveryInput(Sequence[Rule]):
    """The rules of a variadic primitive (concatenate, stack): one rule, told which input it is for."""

    __slots__ = ("rule",)

    def __init__(self, rule: Rule) -> None:
        self.rule = rule

    def __getitem__(self, i: int) -> Rule:  # type: ignore[override]
        return functools.partial(self.rule, i)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Rule]:
        return iter((self.rule,))


def _rules(rules: Rule | Sequence[Rule | None] | None, variadic: bool) -> Sequence[Rule | None]:
    if rules is None:
        return ()
    if variadic:
        assert callable(rules), "a variadic primitive takes one rule, rule(i, g_or_t, ans, *args)"
        return _EveryInput(rules)
    if callable(rules):
        return (rules,)
    return tuple(rules)


class Primitive:
    """An operation with a forward on raw arrays, one VJP and one JVP rule per input, and sample inputs.

    ``vjp[i](g, ans, *args, **kwargs)`` maps the output cotangent ``g`` to input i's cotangent (any shape that
    broadcasts to the output: the engine sums it down to the input's shape). ``jvp[i](t, ans, *args, **kwargs)``
    maps input i's tangent ``t`` to its share of the output tangent. ``None`` marks an input without a derivative
    (an index, a condition). A primitive with ``differentiable=False`` (comparisons, sign, argmax) never records.
    A ``variadic`` primitive (any number of array inputs, as concatenate) takes a single rule for each of VJP and
    JVP, called as ``rule(i, g, ans, *args, **kwargs)`` with the index ``i`` of the input.

    >>> import numpy as np
    >>> from chainrule.primitive import Primitive
    >>> cube = Primitive("cube", lambda x: x**3, vjp=lambda g, ans, x: g * 3 * x**2,
    ...                  jvp=lambda t, ans, x: t * 3 * x**2, reference=lambda x: x**3, register=False)
    >>> float(cube(np.array(2.0)))
    8.0
    """

    __slots__ = ("name", "forward", "vjps", "jvps", "samples", "reference", "differentiable", "__weakref__")

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        vjp: Rule | Sequence[Rule | None] | None = None,
        jvp: Rule | Sequence[Rule | None] | None = None,
        *,
        samples: Callable[[np.random.Generator], list[Sample]] | None = None,
        reference: Callable[..., Any] | None = None,
        differentiable: bool = True,
        variadic: bool = False,
        register: bool = True,
    ) -> None:
        self.name = name
        self.forward = forward
        self.vjps = _rules(vjp, variadic)
        self.jvps = _rules(jvp, variadic)
        self.samples = samples
        self.reference = reference if reference is not None else getattr(np, name, None)
        self.differentiable = differentiable
        if differentiable and len(self.vjps) != len(self.jvps):
            raise ValueError(f"primitive '{name}' needs one VJP and one JVP per input")
        if register:
            if name in REGISTRY:
                raise ValueError(f"a primitive named '{name}' is already registered")
            REGISTRY[name] = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run on ``args``; wrap the result in a Tensor, and record a node, when the arguments call for it."""
        if _dual_depth and any(type(a) is Dual for a in args):
            return _apply_dual(self, args, kwargs)
        raw: list[Any] | None = None
        requires = False
        i = 0
        for a in args:
            if isinstance(a, Tensor):
                if raw is None:
                    raw = list(args)
                raw[i] = a.data
                if a.requires_grad:
                    requires = True
            i += 1
        if raw is None:
            return self.forward(*args, **kwargs)
        ans = self.forward(*raw, **kwargs) if kwargs else self.forward(*raw)
        if type(ans) is not np.ndarray:
            ans = np.asarray(ans)
        out = _new(Tensor)
        out.data = ans
        out.grad = None
        out._hooks = None
        out._version = None if ans.base is None else _share_version(args)
        if requires and self.differentiable and is_grad_enabled():
            # the hot path: Node's fields set inline, without an __init__ frame
            node = _new(Node)
            node.prim = self
            node.args = args
            node.raw = raw
            node.kwargs = kwargs
            node.ans = ans
            node.clock = tick()
            node.hooks = None
            out._node = node
            out.requires_grad = True
        else:
            out._node = None
            out.requires_grad = False
        return out

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


_new = object.__new__


def apply(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``prim(*args, **kwargs)``: the one place a primitive runs and a node is recorded."""
    return prim(*args, **kwargs)


def _share_version(args: tuple[Any, ...]) -> Version:
    """A view shares its base's version stamp, so an in-place change through either is seen by both."""
    base = next(a for a in args if isinstance(a, Tensor))
    if base._version is None:
        base._version = Version()
    return base._version


# ---- forward mode ----------------------------------------------------------------------------------------------
_dual_depth = 0  # how many forward-mode levels are active; apply looks for Duals only when some are


class Dual(Tensor):
    """A value carrying a tangent at one forward-mode level: primal + tangent * epsilon, with epsilon^2 = 0.

    ``primal`` and ``tangent`` may themselves be Tensors (reverse mode records through them) or Duals of lower
    levels (forward over forward). Levels keep nested derivatives apart (no perturbation confusion).
    """

    __slots__ = ("primal", "tangent", "level")

    primal: Any
    tangent: Any
    level: int


def make_dual(primal: Any, tangent: Any, level: int) -> Dual:
    d = Dual._from_node(primal.data if isinstance(primal, Tensor) else primal, None)
    d.primal = primal
    d.tangent = tangent
    d.level = level
    return d


def _apply_dual(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Push tangents through ``prim`` with its JVP rules at the highest level present among the arguments."""
    level = max(a.level for a in args if type(a) is Dual)
    primals = list(args)
    tangents: list[Any] = [None] * len(args)
    for i, a in enumerate(args):
        if type(a) is Dual and a.level == level:
            primals[i] = a.primal
            tangents[i] = a.tangent
    out = prim(*primals, **kwargs)
    if not prim.differentiable:
        return out
    tangent = None
    for i, t in enumerate(tangents):
        rule = prim.jvps[i] if t is not None else None
        if rule is not None:
            c = rule(t, out, *primals, **kwargs)
            tangent = c if tangent is None else tangent + c
    if tangent is None:
        return out
    if tangent.shape != out.shape:
        from .ops.shape import broadcast_to

        tangent = broadcast_to(tangent, out.shape)  # the forward twin of the engine's unbroadcasting
    if tangent.dtype != out.dtype:
        tangent = tangent.astype(out.dtype)
    return make_dual(out, tangent, level)


def forward_jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """Evaluate ``f(*primals)`` and its directional derivative along ``tangents`` in one forward pass.

    Nothing is stored along the way: each tangent is computed from its inputs' tangents and then dropped.

    >>> import numpy as np
    >>> import chainrule as cr
    >>> from chainrule.primitive import forward_jvp
    >>> y, t = forward_jvp(cr.sin, [np.array(0.0)], [np.array(1.0)])
    >>> float(t)
    1.0
    """
    global _dual_depth
    level = _dual_depth + 1
    duals = [make_dual(p, t, level) for p, t in zip(primals, tangents)]
    _dual_depth += 1
    try:
        out = f(*duals)
    finally:
        _dual_depth -= 1
    if type(out) is Dual and out.level == level:
        return out.primal, out.tangent
    return out, np.zeros(np.shape(out), dtype=np.result_type(out))
