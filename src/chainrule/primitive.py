"""Primitives: forward, VJP and JVP side by side, and ``apply``, the one place that records a graph node.

A primitive called on raw arrays returns a raw array at NumPy speed and records nothing; called with at least one
Tensor it returns a Tensor, and records a node when grad mode is on and an input requires grad. Rules are written
with chainrule's own polymorphic functions, so the same rule serves a fast first-order backward (raw arrays) and a
differentiable one (Tensors, under ``create_graph=True``).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from . import backend, spelling
from .engine import Node, Version, in_dtype, is_grad_enabled, tick
from .tensor import Tensor, bottom

_ARRAYS = backend.array_types  # NumPy's array type and each GPU provider's, taken as they are
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


def _input_names(forward: Callable[..., Any], n: int) -> tuple[tuple[str, Any], ...]:
    """The names (and defaults) of the forward's first ``n`` parameters, the array inputs, where they can be given
    by keyword (``clip(x, a_min=0.1)``); empty for a forward without a signature (ufuncs take inputs by position)."""
    try:
        params = list(inspect.signature(forward).parameters.values())[:n]
    except (TypeError, ValueError):
        return ()
    if any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in params):
        return ()
    return tuple((p.name, p.default) for p in params)


def _parameters(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The parameter names of ``fn``; none when it has no signature (a ufunc's are its own business)."""
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return ()


def _keywords(fn: Callable[..., Any], skip: int) -> frozenset[str] | None:
    """The names ``fn`` takes by keyword after its first ``skip`` parameters; None when it takes any (``**kwargs``)
    or has no signature (a ufunc)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return frozenset(p.name for p in params[skip:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def _options(rules: Sequence[Rule | None], n: int) -> frozenset[str] | None:
    """The keyword options the rules take (``axis``, ``keepdims``...), read from the first rule's signature (after
    g, ans and the ``n`` inputs)."""
    rule = next((r for r in rules if r is not None), None)
    if isinstance(rule, functools.partial):  # a variadic primitive's rule, told its input
        rule = rule.func
    return None if rule is None else _keywords(rule, 2 + n)


class Primitive:
    """An operation with a forward on raw arrays, one VJP and one JVP rule per input, and sample inputs.

    ``vjp[i](g, ans, *args, **kwargs)`` maps the output cotangent ``g`` to input i's cotangent (any shape that
    broadcasts to the output: the engine sums it down to the input's shape). ``jvp[i](t, ans, *args, **kwargs)``
    maps input i's tangent ``t`` to its share of the output tangent. ``None`` marks an input without a derivative
    (an index, a condition). A primitive with ``differentiable=False`` (comparisons, sign, argmax) never records.
    A ``variadic`` primitive (any number of array inputs, as concatenate) takes a single rule for each of VJP and
    JVP, called as ``rule(i, g, ans, *args, **kwargs)`` with the index ``i`` of the input.

    ``batching`` says how the JVP pushes a batch of tangents (a leading axis of size B, as ``jacfwd`` sends) in one
    call: ``True`` when the JVP rules broadcast over it (elementwise rules: each tangent arrives with size-1 axes
    inserted after the batch axis, so it lines up with the output); or batched JVP rules of their own, in the shape
    of ``jvp``, taking a tangent of shape ``(B,) + input.shape`` and returning one that broadcasts to
    ``(B,) + output.shape``. Without it, the JVP runs once per tangent (always correct, slower).

    >>> import numpy as np
    >>> from chainrule.primitive import Primitive
    >>> cube = Primitive("cube", lambda x: x**3, vjp=lambda g, ans, x: g * 3 * x**2,
    ...                  jvp=lambda t, ans, x: t * 3 * x**2, reference=lambda x: x**3, register=False)
    >>> float(cube(np.array(2.0)))
    8.0
    """

    __slots__ = ("name", "forward", "vjps", "jvps", "batching", "samples", "reference", "differentiable",
                 "inputs", "options", "renames", "__weakref__")

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
        batching: bool | Rule | Sequence[Rule | None] = False,
        register: bool = True,
    ) -> None:
        self.name = name
        self.forward = forward
        self.vjps = _rules(vjp, variadic)
        self.jvps = _rules(jvp, variadic)
        self.batching: bool | Sequence[Rule | None] = (
            batching if isinstance(batching, bool) else _rules(batching, variadic))
        self.samples = samples
        self.reference = reference if reference is not None else getattr(np, name, None)
        self.differentiable = differentiable
        if differentiable and len(self.vjps) != len(self.jvps):
            raise ValueError(f"primitive '{name}' needs one VJP and one JVP per input")
        # what a call may pass by keyword: the inputs by their forward's names, and the options the rules take
        self.inputs = () if variadic else _input_names(forward, len(self.vjps))
        n = 0 if variadic else len(self.vjps)
        # (a primitive without rules: its forward's parameters after the array, axis= or kth=)
        rule_options = _options(self.vjps, n) if differentiable else _keywords(forward, 1)
        self.options = None if rule_options is None else rule_options - {name for name, _ in self.inputs}
        # PyTorch's spelling of the axis options it takes (dim=, keepdim=), renamed to NumPy's in _bind
        self.renames = spelling.renames(
            {*self.options, *(name for name, _ in self.inputs)} if self.options is not None else _parameters(forward))
        if register:
            if name in REGISTRY:
                raise ValueError(f"a primitive named '{name}' is already registered")
            REGISTRY[name] = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run on ``args``; wrap the result in a Tensor, and record a node, when the arguments call for it."""
        if kwargs and not (self.options is not None and kwargs.keys() <= self.options and _constants(kwargs)):
            args, kwargs = _bind(self, args, kwargs)
        if _depth:
            return _apply_nested(self, args, kwargs)
        # the hot path: no transform is active, so every Tensor is an ordinary (level 0) one
        if len(args) == 1 and not kwargs and isinstance(args[0], Tensor):  # the commonest call: one tensor alone
            data = args[0].data
            try:
                ans = self.forward(data)
            except (ValueError, TypeError) as error:
                raise _named(self, (data,), error) from None
            return _output(self, args, (data,), _NO_OPTIONS, ans, args[0].requires_grad)
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
            elif (type(a) is list or type(a) is tuple) and holds_box(a):
                return self(*stacked(args), **kwargs)
            i += 1
        if raw is None:
            try:
                return self.forward(*args, **kwargs)
            except (ValueError, TypeError) as error:
                raise _named(self, args, error) from None
        try:
            ans = self.forward(*raw, **kwargs) if kwargs else self.forward(*raw)
        except (ValueError, TypeError) as error:  # NumPy's words, without the op: say which op and which shapes
            raise _named(self, raw, error) from None
        return _output(self, args, tuple(raw), kwargs, ans, requires)

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


_new = object.__new__
_NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


def _output(prim: Primitive, args: tuple[Any, ...], raw: tuple[Any, ...], kwargs: Mapping[str, Any], ans: Any,
            requires: bool) -> Tensor:
    """The Tensor of a level-0 application, and its node when an input requires grad and grad mode is on.
    ``raw`` is a tuple of arrays and constants: the collector stops tracking it."""
    if type(ans) not in _ARRAYS:
        ans = np.asarray(ans)
    out = _new(Tensor)
    out.data = ans
    out._grad = None
    out._hooks = None
    out._version = None if ans.base is None else _share_version(args)
    if requires and prim.differentiable and is_grad_enabled():
        node = _new(Node)  # fields set inline, without an __init__ frame
        node.prim = prim
        node.args = args
        node.raw = raw
        node.kwargs = kwargs or _NO_OPTIONS  # one shared empty mapping: 64 bytes less per node
        node.ans = ans
        node.clock = tick()
        node.hooks = None
        out._node = node
        out.requires_grad = True
    else:
        out._node = None
        out.requires_grad = False
    return out


# Primitives whose forward and rules give the same bits for a Python number and for a 0-d array of the other
# input's floating dtype holding it (+, -, *, /: NumPy converts the number to that dtype first), each with its
# Python operator: on a NumPy float scalar and a Python number it gives the ufunc's bits and warnings, at an eighth
# of its cost on a 0-d array (0.09 us against 0.7, with the scalar taken out of the array). elementwise.py adds them.
ARITHMETIC: dict[Primitive, Callable[[Any, Any], Any]] = {}
# Python numbers as 0-d read-only arrays of float64 or float32, by number: NumPy takes a 0-d array of the right
# dtype about 0.2 us faster than a Python number, whose weak type it resolves at every call (in the backward too:
# multiply's rule multiplies by it again). Not for 0-d inputs, which take the scalar arithmetic of ARITHMETIC.
# Keyed by dtype identity (NumPy's native dtypes are single objects).
_FLOAT64, _FLOAT32 = np.dtype(np.float64), np.dtype(np.float32)
_AS_FLOAT64: dict[float, Any] = {}
_AS_FLOAT32: dict[float, Any] = {}


def _typed_scalar(number: float, dtype: np.dtype[Any]) -> Any:
    """``number`` as a 0-d array of ``dtype`` when that is float64 or float32 and the number converts to a finite
    value there (else the number itself, so NumPy decides, and warns, as always). Zeros and NaNs are left alone:
    0.0 and -0.0 are one key, and no NaN finds itself."""
    if dtype is _FLOAT64:
        table = _AS_FLOAT64
    elif dtype is _FLOAT32:
        table = _AS_FLOAT32
    else:
        return number
    typed = table.get(number)
    if typed is not None:
        return typed
    if number == 0 or number != number:
        return number
    with np.errstate(over="ignore"):
        try:
            typed = np.asarray(number, dtype)
        except OverflowError:  # an int too large for a float: NumPy's own call says so
            return number
    if not np.isfinite(typed) and math.isfinite(number):
        return number
    if len(table) >= 1024:  # a program with many different numbers: start again rather than grow without end
        table.clear()
    typed.flags.writeable = False
    typed = typed.view()  # a view of a read-only array cannot be made writeable again: no one can change the number
    table[number] = typed
    return typed


def number(value: float, like: Any) -> Any:
    """``value`` for arithmetic with ``like`` inside a rule: a cached 0-d array of its dtype when ``like`` is a NumPy
    float64 or float32 array of one axis or more (the same bits as the Python number, taken faster: 0.15-0.3 us a
    call on small arrays), else the number itself (a 0-d value's arithmetic gives NumPy scalars, whose own
    arithmetic with a Python number is faster still).

    >>> import numpy as np
    >>> number(1, np.zeros(2)).dtype, number(1, np.zeros(2, np.float32)).dtype, number(1, np.zeros(2, int))
    (dtype('float64'), dtype('float32'), 1)
    """
    return _typed_scalar(value, like.dtype) if type(like) is np.ndarray and like.ndim else value


def operate(prim: Primitive, x: Any, y: Any) -> Any:
    """``prim(x, y)`` for a Tensor operator (x or y is the Tensor): the call of the instance without packing the
    arguments into a tuple and a dict, and without the generic loop over them (the commonest call there is)."""
    if _depth:
        return _apply_nested(prim, (x, y), {})
    a: Any
    b: Any
    if isinstance(x, Tensor):
        a = x.data
        requires = x.requires_grad
        if isinstance(y, Tensor):
            b = y.data
            requires = requires or y.requires_grad
        elif type(y) is list or type(y) is tuple:
            return prim(x, y)  # a sequence may hold tensors: the general path stacks them
        elif (type(y) is float or type(y) is int) and prim in ARITHMETIC and type(a) is np.ndarray:
            if a.ndim:
                b = _typed_scalar(y, a.dtype)
            elif a.dtype is _FLOAT64 or a.dtype is _FLOAT32:
                return _output(prim, (x, y), (a, y), _NO_OPTIONS, ARITHMETIC[prim](a[()], y), requires)
            else:
                b = y
        else:
            b = y
    elif type(x) is list or type(x) is tuple:
        return prim(x, y)
    else:
        b = y.data
        requires = y.requires_grad
        a = x
        if (type(x) is float or type(x) is int) and prim in ARITHMETIC and type(b) is np.ndarray:
            if b.ndim:
                a = _typed_scalar(x, b.dtype)
            elif b.dtype is _FLOAT64 or b.dtype is _FLOAT32:
                return _output(prim, (x, y), (x, b), _NO_OPTIONS, ARITHMETIC[prim](x, b[()]), requires)
    try:
        ans = prim.forward(a, b)
    except (ValueError, TypeError) as error:
        raise _named(prim, (a, b), error) from None
    return _output(prim, (x, y), (a, b), _NO_OPTIONS, ans, requires)


def _named(prim: Primitive, raw: Sequence[Any], error: Exception) -> Exception:
    """The forward's error, said in the primitive's name (never a private helper's) with the input shapes; arrays on
    different devices (which the GPU's library refuses to mix) are named as such."""
    if prim is checked:
        return error  # a check's own error, in the words and the name of the function that asked for it
    message = str(error)
    devices = sorted({backend.device_of(r) for r in raw if type(r) in _ARRAYS})
    if len(devices) > 1:
        return RuntimeError(f"{prim.name}: its inputs are on different devices, {' and '.join(devices)}: move them "
                            "to one first (t.to(device)); chainrule never copies between devices on its own")
    if isinstance(error, TypeError):
        # the call's own mistakes (an unknown keyword; an axis given twice, as sum(x, 0, dim=1)) in the primitive's name
        if "keyword argument" not in message and "multiple values for argument" not in message:
            return error  # not about the call's arguments: seen as it is
        message = message.split(" got ", 1)[-1]
        return TypeError(f"{prim.name}() got {message}")
    shapes = ", ".join(str(r.shape) for r in raw if type(r) in _ARRAYS)
    prefix = "" if message.startswith(f"{prim.name}:") else f"{prim.name}: "
    return type(error)(f"{prefix}{message} (input shapes {shapes})")


# ---- arguments: keyword inputs, options, sequences holding boxes --------------------------------------------------
def _constants(kwargs: dict[str, Any]) -> bool:
    """Whether no keyword value is a Tensor (options are static: a Tensor there needs a closer look)."""
    for v in kwargs.values():
        if isinstance(v, Tensor) or type(v) is list:
            return False
    return True


def _bind(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Inputs given by keyword moved to their places among ``args``, so the rules see every input by position;
    PyTorch's spellings (dim=, keepdim=) renamed to NumPy's; unknown keywords, both spellings of one option, and
    boxes passed as options are refused by name."""
    if prim.renames and not prim.renames.keys().isdisjoint(kwargs):
        kwargs = spelling.respell(prim.name, kwargs, prim.renames)
    names = [name for name, _ in prim.inputs]
    options = prim.options
    for key in kwargs:
        if key not in names and options is not None and key not in options:
            takes = ", ".join(sorted({*names[len(args):], *options})) or "no keyword arguments"
            raise TypeError(f"{prim.name}() got an unexpected keyword argument {key!r} (it takes {takes})")
    if any(name in kwargs for name in names):
        bound, kwargs = list(args), dict(kwargs)
        for k, (name, _) in enumerate(prim.inputs):
            if name not in kwargs:
                continue
            if k < len(args):
                raise TypeError(f"{prim.name}() got multiple values for argument {name!r}")
            for missing, value in prim.inputs[len(bound):k]:  # inputs skipped over take their defaults
                if value is inspect.Parameter.empty:
                    raise TypeError(f"{prim.name}() missing required argument {missing!r}")
                bound.append(value)
            bound.append(kwargs.pop(name))
        args = tuple(bound)
    for key, value in kwargs.items():
        if holds_box(value if type(value) in (list, tuple) else (value,)):
            raise TypeError(f"{prim.name}: the option {key}= cannot be differentiated; pass a constant "
                            "(or t.detach() to use a tensor's value)")
    return args, kwargs


def holds_box(seq: Sequence[Any]) -> bool:
    """Whether a (nested) list or tuple holds a value being differentiated, which NumPy would freeze into a constant."""
    for x in seq:
        if isinstance(x, Tensor):
            if x.requires_grad or type(x) is Dual or type(x) is Batched or type(x) is Traced:
                return True
        elif (type(x) is list or type(x) is tuple) and holds_box(x):
            return True
    return False


def stacked(args: Sequence[Any]) -> list[Any]:
    """``args`` with each list or tuple that holds boxes stacked into one array, as a recorded operation."""
    return [as_array(a) if (type(a) is list or type(a) is tuple) and holds_box(a) else a for a in args]


def like(host: Any, ref: Any) -> Any:
    """A constant made on the host (a mask, an index grid, a basis) on the device of ``ref``'s values, so that it
    mixes with them: a GPU's arrays refuse NumPy's. On the host it is ``host`` itself."""
    values = _values_of(ref)
    return host if type(values) is np.ndarray or type(values) not in _ARRAYS else backend.to_device(
        host, backend.device_of(values))


def is_complex(x: Any) -> bool:
    """Whether ``x``'s values are complex, through the boxes of every transform (vmap's and cr.compile's have a
    dtype, and no values for NumPy's functions to read).

    >>> import chainrule as cr
    >>> is_complex(cr.tensor([1j])), is_complex([1.0, 2.0])
    (True, False)
    """
    dtype = getattr(bottom(x), "dtype", None)
    return bool(np.iscomplexobj(x)) if dtype is None else np.dtype(dtype).kind == "c"


def device_of_values(ref: Any) -> str:
    """The device of ``ref``'s values (``"cpu"``, ``"cuda:0"``...), through the boxes of every transform.

    >>> import numpy as np, chainrule as cr
    >>> device_of_values(cr.tensor(np.zeros(2), requires_grad=True) * 2)
    'cpu'
    """
    return backend.device_of(_values_of(ref))


def _values_of(ref: Any) -> Any:
    """The array at the bottom of ``ref``'s boxes; for a box of vmap or cr.compile, its batch's (which has the
    device)."""
    values = bottom(ref)
    return values.batch if type(values) is Example else values


def as_array(x: Any) -> Any:
    """Tensors and ndarrays as they are; anything else (lists, scalars) as an ndarray, so it has a shape. A (nested)
    list or tuple that holds values being differentiated is stacked, recorded, so their gradients flow back: what
    composites call on their inputs first."""
    if isinstance(x, Tensor) or type(x) in _ARRAYS:
        return x
    if (type(x) is list or type(x) is tuple) and holds_box(x):
        from .ops.shape import stack

        return stack([as_array(e) for e in x])
    return np.asarray(x)


def _share_version(args: tuple[Any, ...]) -> Version:
    """A view shares its base's version stamp, so an in-place change through either is seen by both."""
    base = next(a for a in args if isinstance(a, Tensor))
    if base._version is None:
        base._version = Version()
    return base._version


# ---- nesting: levels ------------------------------------------------------------------------------------------
# Each transform (grad, vjp, jvp, ...) opens a level. A *box* is a value being differentiated at some level: a Dual
# (forward mode) or a Tensor that requires grad (reverse mode; its node says its level, and tensors made outside
# any transform are level 0). A primitive applied to boxes handles the highest level first and treats lower-level
# boxes as constants, whose own arithmetic is recorded at their own level: that keeps nested derivatives apart
# (no perturbation confusion). A reverse-mode tensor above level 0 holds the value one level down in ``.data``.
_depth = 0  # transforms running now, in any thread: apply takes the slower nested path only while some are
_depth_lock = threading.Lock()
_next_level = itertools.count(1).__next__  # level numbers are never reused, so threads never share one


class LevelNode(Node):
    """A node recorded at a transform's level (plain Nodes are level 0)."""

    __slots__ = ("level",)


def _level_node(level: int) -> LevelNode:
    node = LevelNode.__new__(LevelNode)
    node.level = level
    return node


def enter_level() -> int:
    """Open a new level, numbered above every level opened before it (so inside any enclosing one)."""
    global _depth
    with _depth_lock:
        _depth += 1
        return _next_level()


def exit_level() -> None:
    global _depth
    with _depth_lock:
        _depth -= 1


def level_of(x: Any) -> int:
    """The level at which ``x`` is being differentiated (or mapped over, by vmap), or -1 for a constant."""
    if type(x) is Dual or type(x) is Batched or type(x) is Traced:
        return x.level
    if isinstance(x, Tensor) and x.requires_grad:
        return x._node.level if x._node is not None else 0
    return -1


def _apply_nested(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    top, kind = -1, None
    if any((type(a) is list or type(a) is tuple) and holds_box(a) for a in args):
        args = _stacked_inputs(prim, args)
    for a in args:
        if type(a) is tuple:  # an option (an index): vmap may batch the index arrays in it, cr.compile trace them
            for i in a:
                if (type(i) is Batched or type(i) is Traced) and i.level > top:
                    top, kind = i.level, type(i)
            continue
        level = level_of(a)
        if level > top:
            top, kind = level, type(a)
    if kind is Dual:
        return _apply_dual(prim, args, kwargs, top)
    if kind is Batched:
        return _apply_batched(prim, args, kwargs, top)
    if kind is Traced:
        return _apply_traced(prim, args, kwargs, top)
    return _apply_reverse(prim, args, kwargs, top)


def _stacked_inputs(prim: Primitive, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``stacked(args)``, leaving alone the tuples that are options (an index of getitem, which may hold a batch of
    index arrays under vmap), not inputs."""
    inputs = len(prim.vjps) if prim.differentiable and not isinstance(prim.vjps, _EveryInput) else len(args)
    return tuple(stacked(args[:inputs])) + args[inputs:]


def _batched_index(args: tuple[Any, ...]) -> bool:
    """Whether an option tuple (an index) holds index arrays batched by vmap or traced by cr.compile."""
    return any(type(a) is tuple and any(type(i) is Batched or type(i) is Traced for i in a) for a in args)


def _apply_batched(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any], level: int) -> Any:
    """``prim`` mapped over vmap's ``level``: its batching rule, or a loop over the examples (batching.py)."""
    from .batching import apply

    return apply(prim, args, kwargs, level)


def _apply_reverse(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any], level: int) -> Any:
    """``prim`` recorded at reverse-mode ``level`` (-1: no box at all), computing on the values one level down.

    The same steps as the hot path in ``Primitive.__call__``, which handles level 0 alone, for speed.
    """
    raw, wrapped, requires, boxed = unwrap(args, level)
    if boxed or _batched_index(args):
        ans = constant_data(prim(*raw, **kwargs))  # lower-level boxes: their own levels record this
    else:
        ans = prim.forward(*raw, **kwargs)
        if type(ans) not in _ARRAYS:
            ans = np.asarray(ans)
    if not wrapped:
        return ans
    if boxed and any(type(bottom(r)) is Example for r in raw):
        prim = _per_example_rules(prim)  # its rules may run on vmap's batches: per example where they read values
    return record(prim, args, raw, kwargs, ans, level, requires)


def unwrap(args: Sequence[Any], level: int) -> tuple[list[Any], bool, bool, bool]:
    """``args`` one level below reverse-mode ``level``: that level's tensors (and constant tensors) replaced by their
    data. Also: whether any tensor was unwrapped, whether any of them requires grad, and whether what is left holds
    boxes of lower levels (whose levels must then record the computation)."""
    raw = list(args)
    wrapped = requires = boxed = False
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            continue
        if type(a) is Dual or type(a) is Batched or type(a) is Traced or (a.requires_grad and level_of(a) != level):
            boxed = True
            continue
        data = raw[i] = a.data
        wrapped = True
        if a.requires_grad:
            requires = True
        if type(data) not in _ARRAYS and level_of(data) >= 0:
            boxed = True
    return raw, wrapped, requires, boxed


def constant_data(x: Any) -> Any:
    """A Tensor that is no box (it requires no grad) stands for its data; anything else for itself."""
    return x.data if isinstance(x, Tensor) and level_of(x) < 0 else x


def record(prim: Primitive, args: tuple[Any, ...], raw: list[Any], kwargs: dict[str, Any], ans: Any, level: int,
           requires: bool = True) -> Tensor:
    """Wrap ``ans`` (computed from ``raw``) in a Tensor of reverse-mode ``level``, with a node when it requires grad."""
    array = type(ans) in _ARRAYS
    out = Tensor._from_node(ans, None) if array else _box(ans)
    if array and ans.base is not None:
        out._version = _share_version(args)
    if requires and prim.differentiable and is_grad_enabled():
        node = _new(Node) if not level else _level_node(level)
        node.prim, node.args, node.raw, node.kwargs, node.ans = prim, args, raw, kwargs, ans
        node.clock, node.hooks = tick(), None
        out._node = node
        out.requires_grad = True
    return out


def _box(value: Any) -> Tensor:
    """A Tensor holding a lower-level value (a Dual, or a Tensor of a lower level) as its data."""
    t = _new(Tensor)
    t.data, t.requires_grad, t._grad, t._node, t._version, t._hooks = value, False, None, None, None, None
    return t


def lift(x: Any, level: int) -> Tensor:
    """``x`` as a fresh variable of reverse-mode ``level``: a new node, so it is told apart from ``x`` itself."""
    value = constant_data(x)
    node = _level_node(level)
    node.prim, node.args, node.raw, node.kwargs, node.ans = identity, (x,), [value], {}, value
    node.clock, node.hooks = tick(), None
    out = Tensor._from_node(value, None) if type(value) in _ARRAYS else _box(value)
    out._node = node
    out.requires_grad = True
    return out


def lower(x: Any) -> Any:
    """The value one level down of a reverse-mode box (its ``.data``); anything else as it is."""
    return x.data if isinstance(x, Tensor) and type(x) is not Dual and x._node is not None else x


identity = Primitive("identity", lambda x: x, vjp=lambda g, ans, x: g, jvp=lambda t, ans, x: t, batching=True,
                     samples=lambda rng: [Sample((rng.standard_normal(s),)) for s in ((), (3,), (2, 3))],
                     reference=lambda x: x)


def _checked(x: Any, check: Callable[[Any], None]) -> Any:
    check(x)
    return x


def _finite_check(x: Any) -> None:
    if not bool(np.isfinite(x).all()):
        raise ValueError("a value is not finite")


# ``x`` after ``check(values)`` has passed (it raises otherwise): a function's test of its input's values (a range)
# as a recorded step, so that cr.compile runs it at every replay and vmap on the whole batch (a test of every
# element); the identity otherwise
checked = Primitive("checked", _checked, vjp=lambda g, ans, x, check: g, jvp=lambda t, ans, x, check: t,
                    batching=True, reference=lambda x, check: x,
                    samples=lambda rng: [Sample((rng.standard_normal(s),), {"check": _finite_check})
                                         for s in ((), (3,), (2, 3))])


def below_constants(x: Any) -> Any:
    """``x`` without the constant tensors of reverse-mode levels around it (what a function without a gradient
    gives inside grad: an argsort's result, a mask), which stand for the box or array they hold."""
    while type(x) is Tensor and not x.requires_grad and isinstance(x.data, Tensor):
        x = x.data
    return x


def index_box(x: Any) -> Any:
    """Where ``x``'s values are a box of vmap or cr.compile (integers computed inside the transform: labels, an
    argsort), that box without the constant tensors of reverse-mode levels around it, for the indexing primitives
    to batch or record; None where ``x`` has values (an array, a list, a tensor of them)."""
    if type(bottom(x)) is not Example:
        return None
    x = below_constants(x)
    if bottom(x).dtype.kind not in "iu":
        raise IndexError(f"indices must be integers, got an array of dtype {bottom(x).dtype}")
    return x


def check_values(x: Any, check: Callable[[Any], None]) -> Any:
    """``check`` run on ``x``'s values (it raises where they are wrong), and ``x``: at once where the values are
    there, or as the step ``checked`` where ``x`` is a box of vmap or cr.compile (whose values come later, for every
    replay and batch).

    >>> import numpy as np
    >>> check_values(np.array([0.5]), lambda v: None)
    array([0.5])
    """
    values = bottom(x)
    if type(values) is Example:
        return checked(x, check=check)
    check(values if type(values) in _ARRAYS else np.asarray(values))
    return x


# ---- forward mode ----------------------------------------------------------------------------------------------
class Dual(Tensor):
    """A value carrying a tangent at one forward-mode level: primal + tangent * epsilon, with epsilon^2 = 0.

    ``primal`` and ``tangent`` may themselves be Tensors (reverse mode records through them) or Duals of lower
    levels (forward over forward). Levels keep nested derivatives apart (no perturbation confusion). A *batched*
    Dual carries B tangents at once, stacked along a leading axis: ``tangent.shape == (B,) + primal.shape``
    (``jacfwd`` pushes a whole basis through in one pass). All Duals of one level are batched or none is.
    """

    __slots__ = ("primal", "tangent", "level", "batched")

    primal: Any
    tangent: Any
    level: int
    batched: bool


def make_dual(primal: Any, tangent: Any, level: int, batched: bool = False) -> Dual:
    d = _new(Dual)
    d.data = bottom(primal)  # the plain array at the bottom (an Example under vmap), for shape and dtype
    if type(d.data) not in _ARRAYS and type(d.data) is not Example:
        d.data = np.asarray(d.data)
    d.requires_grad, d._grad, d._node, d._version, d._hooks = False, None, None, None, None
    d.primal = primal
    d.tangent = tangent
    d.level = level
    d.batched = batched
    return d


def _apply_dual(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any], level: int) -> Any:
    """Push tangents through ``prim`` with its JVP rules at forward-mode ``level``."""
    primals = list(args)
    tangents: list[Any] = [None] * len(args)
    batched = boxed = False
    for i, a in enumerate(args):
        if type(a) is Dual and a.level == level:
            p = primals[i] = a.primal
            tangents[i] = a.tangent
            batched = a.batched
            boxed = boxed or isinstance(p, Tensor)
        elif isinstance(a, Tensor):
            boxed = True
    if boxed or _batched_index(args):
        out = prim(*primals, **kwargs)  # lower levels record it
    else:
        out = prim.forward(*primals, **kwargs)
        if type(out) not in _ARRAYS:
            out = np.asarray(out)
    if not prim.differentiable:
        return out
    tangent = None
    for i, t in enumerate(tangents):
        rule = prim.jvps[i] if t is not None else None
        if rule is not None:
            c = guarded(rule, t, out, *primals, **kwargs) if not batched else guarded(
                lambda t, out, *ps: _batched_jvp(prim, i, t, out, list(ps), kwargs), t, out, *primals)
            tangent = c if tangent is None else tangent + c
    if tangent is None:
        return out
    if batched:
        tangent = fit_batch(tangent, out)
    elif tangent.shape != out.shape:
        from .ops.shape import broadcast_to

        tangent = broadcast_to(tangent, out.shape)  # the forward twin of the engine's unbroadcasting
    if tangent.dtype != out.dtype:
        tangent = in_dtype(tangent, out.dtype)
    return make_dual(out, tangent, level, batched)


def align(t: Any, out: Any) -> Any:
    """A batch of tangents ``(B,) + shape`` with size-1 axes after the batch axis, so that the rest broadcasts
    against ``out`` as the unbatched tangents would."""
    missing = out.ndim + 1 - t.ndim
    return t if missing <= 0 else t.reshape(t.shape[:1] + (1,) * missing + t.shape[1:])


def fit_batch(t: Any, out: Any) -> Any:
    """A batch of tangents that broadcasts to ``(B,) + out.shape``, broadcast to it."""
    shape = t.shape[:1] + out.shape
    if t.shape == shape:
        return t
    from .ops.shape import broadcast_to

    return broadcast_to(align(t, out), shape)


def _batched_jvp(prim: Primitive, i: int, t: Any, out: Any, primals: list[Any], kwargs: dict[str, Any]) -> Any:
    """Input i's share of the output tangents for a batch of tangents ``t``, by the entry's ``batching``."""
    batching = prim.batching
    if batching is True:
        return prim.jvps[i](align(t, out), out, *primals, **kwargs)  # type: ignore[misc]
    if batching:
        return batching[i](t, out, *primals, **kwargs)  # type: ignore[misc]
    rule = prim.jvps[i]
    return stack_batch([rule(t[b], out, *primals, **kwargs) for b in range(t.shape[0])], out)  # type: ignore[misc]


def stack_batch(tangents: list[Any], out: Any) -> Any:
    """Tangents computed one at a time, stacked into a batch ``(B,) + out.shape``."""
    from .ops.shape import stack

    return fit_batch(stack(tangents), out)


# ---- vmap: a batch of examples at one level ------------------------------------------------------------------------
class Batched(Tensor):
    """A value that vmap maps over at one level: ``value`` holds every example, stacked along its axis 0.

    To the function being mapped it is one example: its ``.data`` is an ``Example`` (that example's shape and dtype,
    no values), so shapes read as per example, and reading values (a mask, ``np.asarray``) is refused by name.
    A primitive applied to it runs the primitive's batching rule on ``value`` (batching.py), or a loop over the
    examples. ``value`` may itself be a box of a lower level (vmap inside grad, vmap of vmap).
    """

    __slots__ = ("value", "level")

    value: Any
    level: int

    def __repr__(self) -> str:
        return f"Batched(shape={self.shape}, batch={np.shape(bottom(self.value))[0]}, level={self.level})"


_SHAPE_FUNCTIONS = frozenset({np.shape, np.ndim, np.size, np.result_type, np.zeros_like, np.ones_like, np.empty_like,
                              np.full_like})


class BatchValueError(TypeError):
    """Raised where the values of a vmap batch are asked for as if they were one example's."""


def guarded(rule: Rule, *args: Any, **kwargs: Any) -> Any:
    """``rule(*args, **kwargs)``; where it reads the values of a vmap batch (a mask, a test for zeros), run once per
    example instead, and the answers stacked (batching.py)."""
    try:
        return rule(*args, **kwargs)
    except BatchValueError:
        from .batching import per_example

        out = per_example(functools.partial(guarded, rule), args, kwargs)
        if out is None and any(type(a) is Traced for a in args):  # cr.compile records the rule whole (compile.py)
            from .compile import opaque

            out = opaque(rule, args, kwargs)
        if out is None:  # no batch among the arguments: the values belong to a box this cannot open
            raise
        return out


_twins: weakref.WeakKeyDictionary[Primitive, Primitive] = weakref.WeakKeyDictionary()


def _per_example_rules(prim: Primitive) -> Primitive:
    """``prim`` with rules that fall back to running once per example where they read the values of a vmap batch."""
    twin = _twins.get(prim)
    if twin is None:
        twin = _twins[prim] = _twin(prim)
    return twin


def _twin(prim: Primitive) -> Primitive:
    def rules(rs: Sequence[Rule | None]) -> Any:
        if isinstance(rs, _EveryInput):
            return functools.partial(guarded, rs.rule)
        return [None if r is None else functools.partial(guarded, r) for r in rs]

    twin = Primitive(prim.name, prim.forward, vjp=rules(prim.vjps), jvp=rules(prim.jvps), reference=prim.reference,
                     differentiable=prim.differentiable, variadic=isinstance(prim.vjps, _EveryInput), register=False)
    twin.options, twin.renames, twin.batching = prim.options, prim.renames, prim.batching
    return twin


class Example:
    """One example of a vmap batch, as a transform sees it: a shape and a dtype, and no values to decide on."""

    __slots__ = ("shape", "dtype", "batch")

    def __init__(self, batch: Any) -> None:
        self.batch = batch  # the whole batch's array: for its device, never its values
        self.shape, self.dtype = batch.shape[1:], batch.dtype

    @property
    def device(self) -> str:
        return backend.device_of(self.batch)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def _refuse(self, *_: Any, **__: Any) -> Any:
        raise BatchValueError(
            "a value inside cr.vmap stands for a whole batch of examples: deciding on its values (a comparison, a "
            "mask, np.asarray, float(), .item()) cannot be done once for all of them; compute with chainrule's "
            "functions (cr.where, cr.maximum, ...), which vmap batches, or map with a Python loop")

    __array__ = __bool__ = __float__ = __int__ = __index__ = __getitem__ = __iter__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __array_ufunc__ = _refuse
    __hash__ = None  # type: ignore[assignment]

    def all(self, *_: Any, **__: Any) -> Any:
        return self._refuse()

    any = tolist = item = astype = all

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if func not in _SHAPE_FUNCTIONS:
            return self._refuse()
        if func is np.shape or func is np.ndim or func is np.size:
            return getattr(self, func.__name__ if func is not np.shape else "shape")
        if func is np.result_type:
            return np.result_type(*(a.dtype if type(a) is Example else a for a in args))
        host = func(np.empty(self.shape, dtype=self.dtype), *args[1:], **kwargs)  # the *_like creations
        return host if type(self.batch) is np.ndarray else backend.to_device(host, self.device)


def make_batched(value: Any, level: int) -> Batched:
    """``value`` (examples stacked along axis 0) as a Batched box of vmap's ``level``."""
    b = _new(Batched)
    array = bottom(value)
    b.data = Example(array)  # type: ignore[assignment]
    b.value = value
    b.level = level
    b.requires_grad, b._grad, b._node, b._version, b._hooks = False, None, None, None, None
    return b


# ---- cr.compile: a value being traced at one level (compile.py records; here only what the call path must know) ----
class CompileError(RuntimeError):
    """Raised where cr.compile cannot record a function faithfully: a decision on traced values, a random draw,
    or state outside the function changed while tracing."""


class Traced(Tensor):
    """A value that cr.compile is tracing, at the trace's level: ``value`` holds the array it has now, ``.data`` an
    Example (its shape, dtype and device, no values), so reading values to decide on them (``bool``, ``float``,
    ``.item()``, ``np.asarray``, a mask in a rule) raises instead of baking today's numbers into the program.
    A primitive applied to it is recorded by the tracer (compile.py) and computed on ``value``."""

    __slots__ = ("value", "level")

    value: Any
    level: int

    def _refuse(self, what: str) -> Any:
        raise CompileError(
            f"{what} of a value traced by cr.compile: the compiled program cannot depend on the values it computes. "
            "Pass what the branch depends on as a static argument (cr.compile(fn, static_argnums=...)), compute it "
            "with chainrule's functions (cr.where, cr.maximum, ...), or move the branch out of the compiled function")

    def __bool__(self) -> bool:
        return self._refuse("bool() (an `if`, `while`, `and`/`or` on a tensor)")

    def __float__(self) -> float:
        return self._refuse("float()")

    def __int__(self) -> int:
        return self._refuse("int()")

    def __index__(self) -> int:
        return self._refuse("using as an index (__index__)")

    def item(self) -> Any:
        return self._refuse(".item()")

    def tolist(self) -> Any:
        return self._refuse(".tolist()")

    def numpy(self) -> Any:
        return self._refuse(".numpy() / np.asarray")

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        return self._refuse("np.asarray (__array__)")

    def nonzero(self) -> Any:
        return self._refuse("nonzero() (a boolean mask as an index: its shape depends on the values)")

    # in place, as on an ordinary tensor: the box takes the recorded result (compile.update), so every name for it
    # sees the write
    def __iadd__(self, other: Any) -> Traced:
        return _update(self, lambda t: t + other)

    def __isub__(self, other: Any) -> Traced:
        return _update(self, lambda t: t - other)

    def __imul__(self, other: Any) -> Traced:
        return _update(self, lambda t: t * other)

    def __itruediv__(self, other: Any) -> Traced:
        return _update(self, lambda t: t / other)

    def __setitem__(self, index: Any, value: Any) -> None:
        from .ops.shape import assign

        if index is Ellipsis and isinstance(value, Tensor) and value.shape == self.shape:  # t[...] = a whole value
            _update(self, lambda t: value)
        else:
            _update(self, lambda t: assign(t, index, value))

    def detach(self) -> Tensor:
        """A tensor holding this box: the same traced value, outside any graph (what ``.grad`` keeps)."""
        return _box(self)

    def backward(self, *args: Any, **kwargs: Any) -> None:
        raise CompileError(
            "backward() on a value computed from the compiled function's arguments alone: nothing in it requires "
            "grad (eager would refuse it too). Take gradients of the arguments with cr.grad, or compute the loss from "
            "tensors that require grad (a module's parameters)")

    def __repr__(self) -> str:
        return f"Traced(shape={self.shape}, dtype={self.dtype}, level={self.level})"


def make_traced(value: Any, level: int) -> Traced:
    """``value`` (an array) as a Traced box of the trace's ``level``."""
    b = _new(Traced)
    b.data = Example(value[None])  # type: ignore[assignment]  # Example drops axis 0: one "example", the whole array
    b.value = value
    b.level = level
    b.requires_grad, b._grad, b._node, b._version, b._hooks = False, None, None, None, None
    return b


def _update(box: Traced, compute: Callable[[Traced], Any]) -> Traced:
    from .compile import update

    return update(box, compute)


def _apply_traced(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any], level: int) -> Any:
    """``prim`` recorded by the tracer of ``level`` (compile.py)."""
    from .compile import apply

    return apply(prim, args, kwargs, level)
