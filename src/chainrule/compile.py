"""cr.compile: run a function once under a tracer, record its primitive calls, and replay them on new arrays.

The tracer is a level like vmap's: ``compile`` hands the function Traced boxes (primitive.py), whose ``.data`` is an
Example (shape and dtype, no values), so a decision on values raises instead of being frozen into the program.
A primitive applied to a box of the trace's level lands in ``apply`` here: it computes the forward on the values
and appends a step (the forward with its options bound, its input slots, its output slot) to a flat program.
Transforms inside the function (grad, value_and_grad, jvp, hessian, vmap) open levels above the trace's and call
primitives on its boxes, so their forward and backward sweeps are recorded too; so are a rule that reads values
(recorded whole, rerun on the arrays) and draws from chainrule's generator (drawn afresh). A replay is a loop over
the program on plain arrays: no Tensors, nodes, or per-op dispatch, and the same operations in the same order, so
the same numbers bit for bit.
"""

from __future__ import annotations

import contextlib
import functools
import os
import traceback
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import backend, compile_passes, primitive
from . import random as _random
from .engine import is_grad_enabled
from .primitive import (
    BatchValueError,
    CompileError,
    Primitive,
    Traced,
    _named,
    enter_level,
    exit_level,
    level_of,
    make_traced,
)
from .tensor import Tensor
from .tree_util import PyTreeDef, tree_flatten

__all__ = ["CompileError", "compile"]

FREE_BYTES = 1 << 16  # intermediates of this size or more are dropped from a replay after their last use
RETRACE_WARNING = 8  # traces of one function after which a retrace warns (once): its signature keeps changing
_ARRAYS = backend.array_types
_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_STDLIB = os.path.dirname(os.path.abspath(contextlib.__file__))
_traces: dict[int, _Trace] = {}  # the trace recording at each level


def compile(fn: Callable[..., Any] | None = None, static_argnums: int | tuple[int, ...] = ()) -> Any:
    """``fn`` traced once per signature and replayed as a flat program of array-library calls afterwards.

    The signature is the pytree structure of the arguments, the shape, dtype and device of each array (or Tensor)
    leaf, and the value of every other leaf and of the arguments at ``static_argnums``: a new one traces again.
    Replays give eager's numbers bit for bit. Draws from ``cr.random.generator()`` (dropout's masks) are recorded
    and drawn afresh at every replay, as eager draws them. Tensors captured from outside are read at every replay;
    other captured values (arrays, Python numbers) are constants of the program. Refused while tracing, by
    ``CompileError``: a decision on traced values (``bool``, ``float``, ``.item()``, ``np.asarray``), ``cr.randn``
    and the other leaf-making draws, reseeding, writes to state outside the function (in-place updates of captured
    tensors, ``.grad``, ``optimizer.step()``, ``loss.backward()``), and tensors that require grad captured while grad
    mode is on. Called on values being differentiated (inside a transform, or tensors that require grad), it runs
    ``fn`` as written, so their graph records as usual.

    >>> import numpy as np, chainrule as cr
    >>> f = cr.compile(cr.grad(lambda x: cr.sum(cr.tanh(x) ** 2)))
    >>> x = np.array([0.5, -1.0])
    >>> bool(np.array_equal(f(x), cr.grad(lambda x: cr.sum(cr.tanh(x) ** 2))(x)))
    True
    >>> f(np.array([1.0, 2.0])).shape  # same signature: replayed
    (2,)
    """
    statics = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    if fn is None:
        return lambda f: Compiled(f, statics)
    return Compiled(fn, statics)


class Compiled:
    """A compiled function: its programs by signature; calling it traces a new signature or replays a known one."""

    def __init__(self, fn: Callable[..., Any], static_argnums: tuple[int, ...]) -> None:
        self.fn = fn
        self.static_argnums = static_argnums
        self.programs: dict[Any, Program] = {}
        self.flat: dict[Any, Program] = {}  # the same programs, by the signature of a call with host arrays alone
        self.traces = 0
        functools.update_wrapper(self, fn)

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        """A compiled method: the instance is its first argument, a static one (one program per instance)."""
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat = self._flat_key(args, kwargs)
        if flat is not None:  # the common call, host arrays alone: its program found without flattening a tree
            program = self.flat.get(flat)
            if program is not None and program.current():
                return program.run(list(args))
        return self._call(args, kwargs, flat)

    def _flat_key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if kwargs or self.static_argnums or primitive._depth:
            return None
        key = tuple((a.shape, a.dtype) if type(a) is np.ndarray else None for a in args)
        return None if None in key else (is_grad_enabled(), key)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], flat: Any) -> Any:
        statics = tuple(i % len(args) for i in self.static_argnums if -len(args) <= i < len(args))
        if len(statics) != len(self.static_argnums):
            raise TypeError(f"cr.compile: static_argnums {self.static_argnums} out of range for {len(args)} arguments")
        dynamic = tuple(a for i, a in enumerate(args) if i not in statics)
        leaves, treedef = tree_flatten((dynamic, kwargs))
        if primitive._depth or any(level_of(x) >= 0 for x in leaves):
            # inside a trace or a transform (fn may close over its boxes), or on tensors that require grad: run as
            # written, so that the enclosing levels (or the graph) record what fn does
            return self.fn(*args, **kwargs)
        key = (treedef, is_grad_enabled(), tuple(_static_key(args[i], f"argument {i}") for i in statics),
               tuple(_leaf_key(x) for x in leaves))
        program = self.programs.get(key)
        if program is None or not program.current():  # new, or a captured tensor changed shape, dtype or device
            self.traces += 1
            if self.traces == RETRACE_WARNING + 1:
                warnings.warn(f"cr.compile: {getattr(self.fn, '__name__', 'the function')} has been traced "
                              f"{RETRACE_WARNING} times and traces again, once per new signature (shapes, dtypes, "
                              "static values, Python numbers): keep shapes fixed, or pass changing numbers as arrays",
                              RuntimeWarning, stacklevel=3)
            program, values = _trace(self.fn, args, statics, leaves, treedef)
            self.programs[key] = program
            if flat is not None:
                self.flat[flat] = program
            return program.result(values)  # the traced call's own answers: running it again would draw anew
        if flat is not None:
            self.flat[flat] = program
        return program.run([x.data if isinstance(x, Tensor) else x for x in leaves])


def _leaf_key(x: Any) -> Any:
    if isinstance(x, Tensor):
        return ("tensor", x.shape, x.dtype, backend.device_of(x.data))
    if type(x) in _ARRAYS:
        return ("array", x.shape, x.dtype, backend.device_of(x))
    return _static_key(x, "a non-array leaf")


def _static_key(x: Any, what: str) -> Any:
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"cr.compile: {what} ({type(x).__name__}) is part of the signature, so it must be "
                        "hashable") from None
    return (type(x), x)


# ---- the program ---------------------------------------------------------------------------------------------
class Program:
    """A flat program: ``env`` slots (constants filled in, inputs and results empty), and ``ops``, each a forward
    with its options bound, its input slots and its output slot, run in order; ``outputs`` read into the result."""

    def __init__(self) -> None:
        self.env: list[Any] = []
        self.ops: list[tuple[Callable[..., Any], int, int, int, tuple[int, ...], int]] = []
        self.inputs: list[int | None] = []  # the slot of each leaf of the arguments; None for a static leaf
        self.captured: list[tuple[int, Tensor]] = []  # tensors from outside: their .data read at every run
        self.captured_keys: list[Any] = []  # ... and the shape, dtype and device the program was traced for
        self.outputs: list[tuple[int, bool] | tuple[None, Any]] = []
        self.treedef: PyTreeDef | None = None

    def slot(self, value: Any = None) -> int:
        self.env.append(value)
        return len(self.env) - 1

    def add(self, forward: Callable[..., Any], ins: tuple[int, ...], out: int) -> None:
        """Append a step (its options bound into ``forward``), with the inputs laid out by arity so the replay's loop
        indexes its slots directly."""
        self.ops.append((forward, len(ins), ins[0] if ins else 0, ins[1] if len(ins) > 1 else 0, ins, out))

    def current(self) -> bool:
        """Whether the captured tensors still have the shapes, dtypes and devices the program was traced for."""
        return all(_leaf_key(t) == key for (_, t), key in zip(self.captured, self.captured_keys))

    def run(self, leaves: list[Any]) -> Any:
        env = self.env.copy()
        for k, t in self.captured:
            env[k] = t.data
        for slot, x in zip(self.inputs, leaves):
            if slot is not None:
                env[slot] = x
        for forward, n, a, b, ins, out in self.ops:  # the replay: one array-library call per step
            if n == 2:
                env[out] = forward(env[a], env[b])
            elif n == 1:
                env[out] = forward(env[a])
            else:
                env[out] = forward(*[env[i] for i in ins])
        return self.result(env)

    def result(self, env: list[Any]) -> Any:
        """The outputs in the function's pytree structure, read from ``env`` (a run's, or the trace's values)."""
        assert self.treedef is not None
        return self.treedef.unflatten([
            (Tensor._from_node(env[k], None) if tensor else env[k]) if k is not None else tensor
            for k, tensor in self.outputs])


def _pack(kind: type) -> Callable[..., Any]:
    """A tuple (or list) of inputs built at run time: an index holding traced index arrays."""
    return lambda *items: kind(items)


_PACKS = {tuple: _pack(tuple), list: _pack(list)}


def _as_array(forward: Callable[..., Any]) -> Callable[..., Any]:
    """A forward whose answer the call path turns into an array (NumPy gives scalars for 0-d results)."""
    return lambda *args, **kwargs: np.asarray(forward(*args, **kwargs))


class _Trace:
    """What one trace records: the program being built, and the slot of each box it made (by identity: the same
    array passed twice is two inputs, which a replay may give different arrays)."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.program = Program()
        self.slots: dict[int, int] = {}
        self.alive: list[Any] = []  # every box and constant with a slot stays alive, so no id is reused meanwhile
        self.seen: dict[int, int] = {}  # constants and captured tensors by id: one slot each
        self.tensors: set[int] = set()  # the slots that eager execution would hold as Tensors, not arrays
        self.boxes: list[tuple[int, int]] = []  # each box made: its place in ``alive``, and its first slot
        self.viewed: set[int] = set()  # slots whose array a later result is a view of: no in-place update there

    def box(self, value: Any, tensor: bool) -> tuple[Traced, int]:
        """A box for ``value``, a traced input or result, and its new slot (a Tensor in eager execution when
        ``tensor``)."""
        box = make_traced(value, self.level)
        k = self.slots[id(box)] = self.program.slot()
        self.boxes.append((len(self.alive), k))
        self.alive.append(box)
        if tensor:
            self.tensors.add(k)
        return box, k

    def result(self, step: Callable[..., Any], pairs: list[tuple[int, Any]], ans: Any) -> Traced:
        """``ans``, computed by ``step`` from ``pairs`` (slots and values), recorded and boxed. Eager execution
        gives a Tensor where an input was one (primitives return what they are given)."""
        if type(ans) not in _ARRAYS:
            ans = np.asarray(ans)
            step = _as_array(step)
        ins = tuple(k for k, _ in pairs)
        if ans.base is not None:
            self.viewed.update(k for k, v in pairs if type(v) in _ARRAYS and np.may_share_memory(ans, v))
        box, out = self.box(ans, any(k in self.tensors for k in ins))
        self.program.add(step, ins, out)
        return box

    def input(self, a: Any) -> tuple[int, Any]:
        """The slot of argument ``a`` and its value now."""
        if type(a) is Traced:
            if a.level != self.level:
                raise CompileError("cr.compile: a value traced by another cr.compile call reached this one")
            k = self.slots.get(id(a))
            if k is None:
                raise CompileError("cr.compile: a traced value was computed outside chainrule's primitives (a "
                                   "custom rule run per example, or a value read and rebuilt): it cannot be replayed")
            return k, a.value
        if (type(a) is tuple or type(a) is list) and any(_boxed(i) for i in a):
            pairs = [self.input(i) for i in a]
            out = self.program.slot()
            self.program.add(_PACKS[type(a)], tuple(k for k, _ in pairs), out)
            if any(k in self.tensors for k, _ in pairs):
                self.tensors.add(out)
            return out, type(a)(v for _, v in pairs)
        if isinstance(a, Tensor):
            if level_of(a) >= 0:
                if level_of(a) > 0 or not a.requires_grad or is_grad_enabled():  # a box of a level below
                    raise CompileError(
                        "cr.compile: a tensor that requires grad, captured from outside the function (a module's "
                        "parameter?), was used while grad mode is on: compiled programs record no graph, so its "
                        "gradient would be lost. Pass the parameters as arguments (cr.func.functional_call) and "
                        "take cr.grad inside, or run under cr.no_grad()")
            k = self.seen.get(id(a))
            if k is None:
                k = self.seen[id(a)] = self.program.slot(a.data)
                self.program.captured.append((k, a))  # read afresh at every run: its data may be replaced
                self.program.captured_keys.append(_leaf_key(a))
                self.tensors.add(k)
                self.alive.append(a)
            return k, a.data
        k = self.seen.get(id(a))
        if k is None:
            k = self.seen[id(a)] = self.program.slot(a)
            self.alive.append(a)
        return k, a


def _boxed(x: Any) -> bool:
    return type(x) is Traced or ((type(x) is tuple or type(x) is list) and any(_boxed(i) for i in x))


def apply(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any], level: int) -> Any:
    """``prim`` on ``args`` (some of them Traced boxes of ``level``): computed on the values and recorded."""
    trace = _traces[level]
    pairs = [trace.input(a) for a in args]
    values = [v for _, v in pairs]
    forward = prim.forward
    try:
        ans = forward(*values, **kwargs)
    except (ValueError, TypeError) as error:
        raise _named(prim, values, error) from None
    return trace.result(functools.partial(forward, **kwargs) if kwargs else forward, pairs, ans)


def opaque(rule: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Traced | None:
    """A rule that reads values (power's at the origin, a kink's side) recorded as one step of the program, run on
    the arrays at every replay, as eager runs it; None where it also sees boxes of a transform above the trace
    (their derivatives would be lost), so the refusal stands."""
    level = next(a.level for a in args if type(a) is Traced)
    if any(isinstance(a, Tensor) and type(a) is not Traced and level_of(a) >= 0 for a in args) or any(
            type(a) is Traced and a.level != level for a in args):
        return None
    trace = _traces[level]
    pairs = [trace.input(a) for a in args]
    step = functools.partial(rule, **kwargs) if kwargs else rule
    return trace.result(step, pairs, step(*[v for _, v in pairs]))


def update(box: Traced, compute: Callable[[Traced], Any]) -> Traced:
    """``box`` updated in place (``+=``, ``t[i] = v``): ``compute(box)`` recorded, and the box pointed at its slot,
    so every name for the box sees the write, as for an ordinary tensor. Refused where a replay could not give
    eager's answer: an argument (the caller's array would change), a view, or a value a view was taken of."""
    trace = _traces[box.level]
    k = trace.slots[id(box)]
    if k in trace.program.inputs or box.value.base is not None or k in trace.viewed:
        what = ("an argument of the compiled function (the caller's array)" if k in trace.program.inputs
                else "a view of another value, or a value a view was taken of (the other would see the write)")
        raise CompileError(f"cr.compile: an in-place update (t += v, t[i] = v) of {what} cannot be replayed: write "
                           "it out of place (t = t + v, t = cr.assign(t, i, v))")
    new = compute(box)
    if type(new) is not Traced or new.level != box.level:
        raise CompileError("cr.compile: an in-place update whose result is not traced (a constant?) cannot be "
                           "replayed: write it out of place")
    if new.dtype != box.dtype:
        if not np.can_cast(new.dtype, box.dtype, casting="same_kind"):
            raise TypeError(f"in-place update would cast {new.dtype} to {box.dtype}")
        new = new.astype(box.dtype)
    box.value, box.data = new.value, new.data
    trace.slots[id(box)] = trace.slots[id(new)]
    return box


# ---- random draws: made while tracing, and recorded to draw afresh at every replay ---------------------------
# the Generator methods that return new arrays of draws (in place ones, as shuffle, and state access are refused)
_DRAWS = frozenset({"random", "standard_normal", "normal", "uniform", "integers", "standard_exponential",
                    "exponential", "standard_gamma", "gamma", "beta", "binomial", "poisson", "permutation", "choice"})


class _Recording:
    """chainrule's generator while tracing: each draw is made from it (the trace sees the numbers eager would) and
    recorded as a step that draws from the generator in use at replay, so every replay draws fresh numbers."""

    def __init__(self, generator: np.random.Generator, level: int) -> None:
        self.generator = generator
        self.level = level
        self.draws: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        if name not in _DRAWS:
            raise CompileError(f"cr.compile: the random generator's {name!r} (its state, or an in-place shuffle) "
                               "cannot be replayed: draw outside the compiled function and pass the numbers in")

        def draw(*args: Any, **kwargs: Any) -> Traced:
            if any(isinstance(a, Tensor) for a in (*args, *kwargs.values())):
                raise CompileError(f"cr.compile: a random draw ({name}) with tensor parameters cannot be recorded "
                                   "yet: draw standard numbers and scale them (mean + std * standard_normal)")
            self.draws.append((name, args, kwargs))
            step = lambda: getattr(_random.generator(), name)(*args, **kwargs)
            return _traces[self.level].result(step, [], getattr(self.generator, name)(*args, **kwargs))

        return draw


@contextlib.contextmanager
def _recorded_draws(level: int) -> Iterator[_Recording]:
    """Draws from chainrule's generator recorded while tracing; anything else that moved its stream (a seed, a
    draw from a copy of the generator taken earlier) is refused, since a replay would repeat the traced numbers."""
    generator = _random.generator()
    state = generator.bit_generator.state
    recording = _Recording(generator, level)
    _random._generator = recording  # type: ignore[assignment]
    try:
        yield recording
    finally:
        reseeded = _random._generator is not recording
        _random._generator = generator
    expected = np.random.Generator(type(generator.bit_generator)())
    expected.bit_generator.state = state
    for name, args, kwargs in recording.draws:
        getattr(expected, name)(*args, **kwargs)
    if reseeded or expected.bit_generator.state != generator.bit_generator.state:
        raise CompileError("cr.compile: the function moved the random stream other than by drawing from "
                           "cr.random.generator() (cr.random.seed, or a generator object taken before): a replay "
                           "would repeat the traced numbers. Draw outside and pass the numbers in as arguments")


# ---- tracing -------------------------------------------------------------------------------------------------
def _trace(fn: Callable[..., Any], args: tuple[Any, ...], statics: tuple[int, ...], leaves: list[Any],
           treedef: PyTreeDef) -> tuple[Program, list[Any]]:
    level = enter_level()
    trace = _traces[level] = _Trace(level)
    program = trace.program
    try:
        boxes = []
        for x in leaves:
            value = x.data if isinstance(x, Tensor) else x
            if type(value) in _ARRAYS:
                box, k = trace.box(value, isinstance(x, Tensor))
                program.inputs.append(k)
                boxes.append(box)
            else:
                program.inputs.append(None)
                boxes.append(x)
        dynamic, kwargs = treedef.unflatten(boxes)
        it = iter(dynamic)
        call = [a if i in statics else next(it) for i, a in enumerate(args)]
        try:
            with _state_guarded(), _recorded_draws(level):
                out = fn(*call, **kwargs)
        except (CompileError, BatchValueError) as error:
            raise CompileError(_located(error)) from error
        except (TypeError, ValueError) as error:
            if not any(f.filename == _random.__file__ for f in traceback.extract_tb(error.__traceback__)):
                raise
            raise CompileError(_located(CompileError(
                "cr.compile: cr.randn, cr.rand, cr.randint and their *_like forms make new leaf tensors, which a "
                "trace cannot record yet: draw from cr.random.generator() (recorded, so every replay draws afresh), "
                "or draw outside and pass the numbers in").with_traceback(error.__traceback__))) from error
    finally:
        exit_level()
        del _traces[level]
    out_leaves, program.treedef = tree_flatten(out)
    values = program.env.copy()
    for o in out_leaves:
        if type(o) is Traced or isinstance(o, Tensor) or type(o) in _ARRAYS:
            k, value = trace.input(o)
            program.outputs.append((k, k in trace.tensors))
            values[k] = value
        else:
            program.outputs.append((None, o))
    _prune(program)
    arrays = {k: trace.alive[i].value for i, k in trace.boxes}
    compile_passes.optimize(program, arrays)
    _free_after_last_use(program, {k: v.nbytes for k, v in arrays.items()})
    return program, values


def _prune(program: Program) -> None:
    """Drop the steps no output depends on (a rule that recorded a few steps before reading values, say)."""
    live = {k for k, _ in program.outputs if k is not None}
    kept = []
    for op in reversed(program.ops):
        if op[-1] in live:
            kept.append(op)
            live.update(op[4])
    program.ops = kept[::-1]


def _free_after_last_use(program: Program, sizes: dict[int, int]) -> None:
    """A step that drops each large intermediate (``FREE_BYTES`` or more) after its last use, so a replay holds
    about what eager execution holds (whose backward frees the saved values as it goes), not every value at once.
    The step is an ordinary one (``env[k] = _nothing()``): the loop pays nothing for it elsewhere."""
    last: dict[int, int] = {}
    for i, op in enumerate(program.ops):
        for k in op[4]:
            last[k] = i
    keep = {k for k, _ in program.outputs} | set(program.inputs)
    frees: dict[int, list[int]] = {}
    for k, i in last.items():
        if k not in keep and sizes.get(k, 0) >= FREE_BYTES:
            frees.setdefault(i, []).append(k)
    ops = []
    for i, op in enumerate(program.ops):
        ops.append(op)
        ops.extend((_nothing, 0, 0, 0, (), k) for k in frees.get(i, ()))
    program.ops = ops


def _nothing() -> None:
    return None


@contextlib.contextmanager
def _state_guarded() -> Iterator[None]:
    """While tracing: writes to tensors from outside the trace (in place, ``.grad``) and optimizer steps raise, since
    a replay would not repeat them (captured state is not compiled yet)."""
    from .optim.optimizer import Optimizer

    def refusal(what: str) -> Callable[..., Any]:
        def refuse(*_: Any, **__: Any) -> Any:
            raise CompileError(
                f"cr.compile: {what} inside the compiled function changes state outside it, which a replay would "
                "not repeat (compiling optimizer steps and in-place updates of captured tensors is not supported "
                "yet): return the new values (a functional update, params in and out), or move it out")
        return refuse

    grad = Tensor.__dict__["grad"]

    def set_grad(t: Tensor, value: Any) -> None:
        if value is not None or getattr(t, "_grad", None) is not None:  # clearing an unset one changes nothing
            refusal("setting .grad")()
    patches: list[tuple[type, str, Any]] = [
        (Tensor, "_inplace", refusal("an in-place update of a tensor (t += v, p -= lr * g)")),
        (Tensor, "__setitem__", refusal("an assignment into a tensor (t[i] = v)")),
        (Tensor, "grad", property(grad.fget, set_grad)),
    ]
    optimizers: list[type] = []
    todo: list[type] = [Optimizer]
    while todo:
        cls = todo.pop()
        optimizers.append(cls)
        todo.extend(cls.__subclasses__())
    patches += [(cls, name, refusal(f"{cls.__name__}.{name}()")) for cls in optimizers
                for name in ("step", "zero_grad") if name in cls.__dict__]
    saved = [(cls, name, cls.__dict__[name]) for cls, name, _ in patches]
    try:
        for cls, name, patch in patches:
            setattr(cls, name, patch)
        yield
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)


def _located(error: Exception) -> str:
    """``error``'s message with the line of the traced function that caused it (the innermost outside chainrule)."""
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if not os.path.abspath(f.filename).startswith((_PACKAGE, _STDLIB))]
    message = str(error)
    if isinstance(error, BatchValueError):
        message = ("a value traced by cr.compile has no values to decide on (a comparison used in `if`, a mask, "
                   "np.asarray, float(), an in-place update of traced values or of a tensor outside the function): "
                   "pass what the decision depends on as a static argument (static_argnums), compute it with "
                   "chainrule's functions (cr.where, ...), or move it out of the compiled function")
    if frames:
        f = frames[-1]
        message += f"\n  at {f.filename}:{f.lineno}: {f.line}"
    return message

