"""cr.compile: run a function once under a tracer, record its primitive calls, and replay them on new arrays.

The tracer is a level like vmap's: ``compile`` hands the function Traced boxes (primitive.py), whose ``.data`` is an
Example (shape and dtype, no values), so a decision on values raises instead of being frozen into the program.
A primitive applied to a box of the trace's level lands in ``apply`` here: it computes the forward on the values
and appends a step (the forward with its options bound, its input slots, its output slot) to a flat program.
Transforms inside the function (grad, value_and_grad, jvp, hessian, vmap) open levels above the trace's and call
primitives on its boxes, so their forward and backward sweeps are recorded too; so are a rule that reads values
(recorded whole, rerun on the arrays) and draws from chainrule's generator (drawn afresh). Tensors from outside
(parameters, gradients, optimizer state, buffers) are taken over when first touched (``_Trace.capture``), so that
``backward()``, optimizer steps and in-place updates record too, and what the function leaves in them is written
back by every run (its effects). A replay is a loop over the program on plain arrays: no Tensors, nodes, or per-op
dispatch, and the same operations in the same order, so the same numbers bit for bit (the one exception, a large
parameter's update as one BLAS axpy, is compile_passes' 3b).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import os
import random
import sys
import threading
import traceback
import warnings
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import backend, compile_passes, engine, primitive
from . import random as _random
from .engine import is_grad_enabled, tick
from .ops.elementwise import ordered
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
_DATA = Tensor.__dict__["data"]  # the slot holding a tensor's array, read and written past the trace's patches
_OTHER_BOXES = (primitive.Dual, primitive.Batched, Traced)  # tensors that are boxes of a level, never captured
# a comparison's forward (elementwise.ordered): its ufunc after a check that refuses complex inputs. A trace records
# the ufunc itself: a plain ufunc step costs a call less, takes a typed scalar and a buffer, and is known to give a
# fresh array, never a view (a 128 x 256 float32 ``x > 0.0``: 2.5 us against 7.7 through the wrapper)
_CHECKED = ordered("", np.add).__code__


class _Abandon(BaseException):  # not an Exception: a user's `except Exception` around a step must not catch it
    """Raised while tracing where the call creates state that a program cannot (an optimizer's first step)."""


def compile(fn: Callable[..., Any] | None = None, static_argnums: int | tuple[int, ...] = ()) -> Any:
    """``fn`` traced once per signature and replayed as a flat program of array-library calls afterwards.

    The signature is the pytree structure of the arguments, the shape, dtype and device of each array (or Tensor) leaf,
    and the value of every other leaf and of the arguments at ``static_argnums``: a new one traces again. Replays give
    eager's numbers bit for bit, but for the update ``w -= lr * g`` of a parameter of 64 KB or more, which is one BLAS
    axpy where SciPy is installed (one rounding, not two: within an ulp). Random draws (dropout's masks, ``cr.randn``)
    are recorded and drawn afresh at every replay, as eager draws them. A whole training step compiles: tensors captured
    from outside (a module's parameters and buffers, their ``.grad``, an optimizer's state) are read at every replay,
    and what the step does to them (``loss.backward()``, ``optimizer.step()``, ``zero_grad()``, ``p -= lr * p.grad``
    under ``no_grad``, running statistics) is written back, as eager does it; learning rates and betas are read at every
    replay, so a scheduler stepped between calls needs no new trace. Other captured values (arrays, Python numbers) are
    constants of the program. A change to what the trace relied on (an optimizer's other settings or state, a module's
    training mode, which gradients are None) traces again; the call that makes an optimizer's state (its first step)
    runs as written. Refused while tracing, by ``CompileError``: a decision on traced values (``bool``, ``float``,
    ``.item()``, ``np.asarray``), reseeding, a scheduler's ``step()``, ``backward(create_graph=True)``, and an output
    whose graph no backward used. Called on values being differentiated (inside a transform, or tensors that require
    grad), it runs ``fn`` as written, so their graph records as usual.

    >>> import numpy as np, chainrule as cr
    >>> f = cr.compile(cr.grad(lambda x: cr.sum(cr.tanh(x) ** 2)))
    >>> x = np.array([0.5, -1.0])
    >>> bool(np.array_equal(f(x), cr.grad(lambda x: cr.sum(cr.tanh(x) ** 2))(x)))
    True
    >>> f(np.array([1.0, 2.0])).shape  # same signature: replayed
    (2,)
    >>> model = cr.nn.Linear(2, 1)
    >>> opt = cr.optim.SGD(model.parameters(), lr=0.1)
    >>> @cr.compile
    ... def step(x, y):
    ...     opt.zero_grad()
    ...     loss = cr.mean((model(x) - y) ** 2)
    ...     loss.backward()
    ...     opt.step()
    ...     return loss.detach()
    >>> x, y = np.ones((4, 2), dtype=np.float32), np.zeros((4, 1), dtype=np.float32)
    >>> losses = [float(step(x, y)) for _ in range(20)]
    >>> losses[-1] < losses[0], step.traces  # traced on the second call, once gradients exist
    (True, 2)
    """
    statics = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    if fn is None:
        return lambda f: Compiled(f, statics)
    return Compiled(fn, statics)


_written = 0  # compiled functions running as written (an abandoned trace): the compiled ones they call do too


def _as_written(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn`` run as written, and every compiled function it calls too, as they would run inside its trace (a
    compiled loss called by a compiled step returns a graph there, which no program of its own could)."""
    global _written
    _written += 1
    try:
        return fn(*args, **kwargs)
    finally:
        _written -= 1


def _late_bound(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A bound method (``cr.compile(opt.step)``) looked up again on its object when traced, so that the tracer's
    patches of its class apply to it: an optimizer's step then reads its learning rate at every run and guards its
    settings, where the method bound before tracing would bake today's rate into the program."""
    if not inspect.ismethod(fn):
        return fn
    obj, name = fn.__self__, fn.__func__.__name__
    return lambda *args, **kwargs: getattr(obj, name)(*args, **kwargs)


class Compiled:
    """A compiled function: its programs by signature; calling it traces a new signature or replays a known one."""

    def __init__(self, fn: Callable[..., Any], static_argnums: tuple[int, ...]) -> None:
        self.fn = fn
        self.static_argnums = static_argnums
        # the programs of each signature (several where what they relied on alternates: train and eval modes)
        self.programs: dict[Any, list[Program]] = {}
        self.flat: dict[Any, Program] = {}  # the last one run, by the signature of a call with host arrays alone
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
        if kwargs or self.static_argnums or primitive._depth or _written:
            return None
        key = tuple((a.shape, a.dtype) if type(a) is np.ndarray else None for a in args)
        return None if None in key else (is_grad_enabled(), key)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any], flat: Any) -> Any:
        statics = tuple(i % len(args) for i in self.static_argnums if -len(args) <= i < len(args))
        if len(statics) != len(self.static_argnums):
            raise TypeError(f"cr.compile: static_argnums {self.static_argnums} out of range for {len(args)} arguments")
        dynamic = tuple(a for i, a in enumerate(args) if i not in statics)
        leaves, treedef = tree_flatten((dynamic, kwargs))
        if primitive._depth or _written or any(level_of(x) >= 0 for x in leaves):
            # inside a trace or a transform (fn may close over its boxes), or on tensors that require grad: run as
            # written, so that the enclosing levels (or the graph) record what fn does
            return self.fn(*args, **kwargs)
        key = (treedef, is_grad_enabled(), tuple(_static_key(args[i], f"argument {i}") for i in statics),
               tuple(_leaf_key(x) for x in leaves))
        known = self.programs.setdefault(key, [])
        program = next((p for p in known if p.current()), None)
        if program is not None and program is not known[0]:  # the last one run is tried first next time
            known.remove(program)
            known.insert(0, program)
        if program is None:  # a new signature, or something the programs relied on changed (a guard failed)
            self.traces += 1
            if self.traces == RETRACE_WARNING + 1:
                warnings.warn(f"cr.compile: {getattr(self.fn, '__name__', 'the function')} has been traced "
                              f"{RETRACE_WARNING} times and traces again, once per new signature (shapes, dtypes, "
                              "static values, Python numbers): keep shapes fixed, or pass changing numbers as arrays",
                              RuntimeWarning, stacklevel=3)
            try:
                program, values = _trace(_late_bound(self.fn), args, statics, leaves, treedef)
            except _Abandon:  # it creates an optimizer's state: run as written, and trace the next call
                return _as_written(self.fn, args, kwargs)
            known.insert(0, program)
            if len(known) > RETRACE_WARNING:  # guards that never hold twice (a setting that changes at every call)
                del known[-1]
            if flat is not None:
                self.flat[flat] = program
            return program.result(values)  # the traced call's own answers: running it again would draw anew
        if flat is not None:
            self.flat[flat] = program
        return program.run([x.data if isinstance(x, Tensor) else x for x in leaves])


def _leaf_key(x: Any) -> Any:
    if isinstance(x, Tensor):
        data = _DATA.__get__(x)  # past a trace's patches: reading it there would take the tensor over
        return ("tensor", data.shape, data.dtype, backend.device_of(data))
    if type(x) in _ARRAYS:
        return ("array", x.shape, x.dtype, backend.device_of(x))
    return _static_key(x, "a non-array leaf")


def _static_key(x: Any, what: str) -> Any:
    try:
        hash(x)
    except TypeError:
        raise TypeError(f"cr.compile: {what} ({type(x).__name__}) is part of the signature, so it must be "
                        "hashable") from None
    if isinstance(x, (float, complex, np.inexact)) and x != x:  # a NaN, unequal to itself: a new key at every call
        return (type(x), "nan")
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
        self.captured_grads: list[tuple[int, Tensor]] = []  # ... and their gradients' arrays, read through them
        # optimizers' learning rates and betas (which schedulers change at every step), read at every run as
        # float64: (slot, parameter group, key, index in a tuple or None, the dtype it is then cast to or None)
        self.captured_settings: list[tuple[int, dict[str, Any], str, int | None, np.dtype | None]] = []
        # what the trace took as given, checked before each run (a new program is traced where one differs): the
        # shape, dtype and device of each captured array, which gradients were None, optimizers' settings...
        self.guards: list[tuple[Callable[[], Any], Any]] = []
        # state outside the function that a run sets: (tensor, what, slot), what being "data" (its array),
        # "grad" (a new .grad, or None where slot is None) or "grad data" (its .grad's array)
        self.effects: list[tuple[Tensor, str, int | None]] = []
        # tensors whose gradient a run replaces without reading it (zero_grad, then backward): let go at the start,
        # as eager's zero_grad lets go of it, so that old and new gradients are never held at once
        self.released: list[Tensor] = []
        # the results of checks of values (primitive.checked): kept even where nothing reads them, since the check
        # is what they are for (an unused BCE, asarray_chkfinite)
        self.checks: list[int] = []
        self._handed: list[int] | None = None  # the slots of the arrays a run is handed (``_outside``)
        # the settings whose array a run may reuse while their number is the same float (``_reusable_settings``)
        self._settings: dict[int, tuple[Any, Any]] | None = None
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
        """Whether what the trace took as given (captured tensors' shapes, dtypes and devices, ...) still holds."""
        for guard, expected in self.guards:
            if guard() != expected:
                return False
        return True

    def run(self, leaves: list[Any]) -> Any:
        env = self.env.copy()
        for k, t in self.captured:
            env[k] = t.data
        for k, t in self.captured_grads:
            env[k] = t._grad.data  # type: ignore[union-attr]  # a guard checked it is there
        for t in self.released:
            t._grad = None
        if self._settings is None:
            self._settings = _reusable_settings(self)
        for k, group, key, index, dtype in self.captured_settings:
            number = group[key] if index is None else group[key][index]
            made = self._settings.get(k)
            if made is None or made[0] is not number:
                value = np.array(number, dtype=np.float64)
                value = value if dtype is None else value.astype(dtype)
                if made is not None and type(number) is float:
                    self._settings[k] = (number, value)
            else:
                value = made[1]
            env[k] = value
        for slot, x in zip(self.inputs, leaves):
            if slot is not None:
                env[slot] = x
        for forward, n, a, b, ins, out in self.ops:  # the replay: one array-library call per step
            if n == 2:
                env[out] = forward(env[a], env[b])
            elif n == 1:
                env[out] = forward(env[a])
            elif n == 0:  # a draw, or a slot let go
                env[out] = forward()
            elif n == 3:  # a binary ufunc writing into a buffer, a linear layer
                env[out] = forward(env[a], env[b], env[ins[2]])
            else:
                env[out] = forward(*[env[i] for i in ins])
        if self.effects:
            _apply_effects(self, env)
        return self.result(env)

    def _outside(self, env: list[Any], written: list[int]) -> set[int]:
        """The ids of the arrays a run was handed (arguments, captured tensors' and gradients' arrays), and of those
        ``written`` already: a tensor given one of them as its new values gets a copy, as ``copy_`` and swaps copy
        eagerly."""
        if self._handed is None:  # (the slots are known once the trace is done)
            self._handed = [*(k for k in self.inputs if k is not None), *(k for k, _ in self.captured),
                            *(k for k, _ in self.captured_grads)]
        return {*(id(env[k]) for k in self._handed), *written}

    def result(self, env: list[Any]) -> Any:
        """The outputs in the function's pytree structure, read from ``env`` (a run's, or the trace's values)."""
        assert self.treedef is not None
        return self.treedef.unflatten([
            (Tensor._from_node(env[k], None) if tensor else env[k]) if k is not None else tensor
            for k, tensor in self.outputs])


def _reusable_settings(program: Program) -> dict[int, tuple[Any, Any]]:
    """The slots of settings whose array no run writes into (kept_slots) and none hands out (no result or effect
    may be a view of it), each with a placeholder for its last (number, array): a float is immutable, so while the
    number is the same object its array is the same numbers (0.7 us a setting, at every run)."""
    aliases = compile_passes._Aliases(program.ops)
    escaping = {aliases.find(k) for k, _ in program.outputs if k is not None} | {
        aliases.find(k) for _, _, k in program.effects if k is not None}
    return {k: (None, None) for k, *_ in program.captured_settings if aliases.find(k) not in escaping}


def _apply_effects(program: Program, env: list[Any]) -> None:
    """The writes of a run to state outside the function, as eager leaves it: updated tensors get their new values
    (``_write``), with their version stamped as an in-place update stamps it; rebound ones (``t.data = new``) the
    new array itself; gradients are set, replaced or cleared. The arrays a run was handed are gathered only where a
    write needs them (none, where the program wrote every update into the tensors' own arrays)."""
    outside: set[int] | None = None
    written: list[int] = []  # the new values given so far (a second tensor given the same ones gets a copy: t.copy_(p))
    for t, what, k in program.effects:
        if what == "data":
            new = env[k]  # type: ignore[index]
            if new is not t.data:  # (the call spared where the program wrote into the tensor's own array)
                outside = outside if outside is not None else program._outside(env, written)
                _write(t, new, outside)
            written.append(id(new))
            if outside is not None:
                outside.add(id(new))
            t._share_version().clock = tick()
        elif what == "grad":
            t._grad = None if k is None else Tensor._from_node(env[k], None)
        elif what == "rebound":
            t.data = env[k]  # type: ignore[index]
        else:
            outside = outside if outside is not None else program._outside(env, written)
            _write(t._grad, env[k], outside)  # type: ignore[arg-type, index]


_HELD = 4  # the references to a captured array during a run's write-back: the tensor, the run's env, _write's two


def _write(t: Tensor, new: Any, outside: set[int]) -> None:
    """``t``'s new values: the new array itself, taken without a copy, unless anything else holds the old one (a
    view of it, a detached tensor, a name), which eager's in-place update would have shown the new values: then
    they are written into it. An array the run was handed (``t.copy_(x)``, a swap of two tensors' arrays) is
    copied, so that no two tensors come to share one."""
    old = t.data
    if new is old:  # written into it by the program itself (compile_passes: a captured tensor's own array)
        return
    if id(new) in outside:
        new = new.copy()
    if (sys.getrefcount(old) > _HELD or old.base is not None) and old.shape == new.shape and \
            old.dtype == new.dtype and _writeable(old):  # (a view: its base sees the new values, as eagerly)
        old[...] = new
    else:
        t.data = new


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
        self.views: dict[int, list[int]] = {}  # the slots holding views of each slot's array
        self.stale: set[int] = set()  # views of arrays updated since: eager would read the new values through them
        self.captures: dict[int, _Capture] = {}  # tensors from outside, taken over for the trace, by id
        self.sharing: set[int] = set()  # captured tensors whose arrays share memory with another captured one
        self.born: dict[int, weakref.ref[Tensor]] = {}  # the tensors made while tracing (fresh at every call), by id
        self.made: list[tuple[weakref.ref[Tensor], Any]] = []  # those of constants given boxes, with their arrays
        self.guarded: set[Any] = set()  # what a guard already checks (an optimizer's settings, a module's mode)
        self.keys: list[Any] = []  # each captured tensor's ``_tensor_key`` when it was taken over

    def capture(self, t: Tensor) -> None:
        """Take over ``t``, a tensor from outside whose array the function reads, writes or differentiates: its
        array (and its gradient's) swapped for boxes read from it at every run, so everything done with them is
        recorded, and what the trace leaves in them is written back (``_settle``)."""
        if id(t) in self.captures or type(t) in _OTHER_BOXES:
            return
        data = _DATA.__get__(t)
        if type(data) not in _ARRAYS:  # made inside the trace, of its boxes
            return
        if id(t) in self.born:  # made inside the trace, of constants: every run starts from the same array
            box, k = self.box(data, True)
            self.program.env[k] = data
            self.made.append((weakref.ref(t), data))
            _DATA.__set__(t, box)
            return
        if type(data) is np.ndarray and any(type(c.data) is np.ndarray and np.may_share_memory(c.data, data)
                                            for c in self.captures.values()):
            self.sharing.add(id(t))  # an alias (t.detach(), a view) of a tensor already taken over
        capture = self.captures[id(t)] = _Capture(t, data)
        self.alive.append(t)
        self.keys.append(_tensor_key(t))
        capture.box = self.captured_box(data, capture, "data")
        _DATA.__set__(t, capture.box)
        grad = capture.grad
        if grad is not None and type(_DATA.__get__(grad)) in _ARRAYS:
            capture.grad_data = _DATA.__get__(grad)
            _DATA.__set__(grad, self.captured_box(capture.grad_data, capture, "grad"))

    def captured_box(self, value: Any, capture: _Capture, what: str) -> Traced:
        box, k = self.box(value, True)
        (self.program.captured if what == "data" else self.program.captured_grads).append((k, capture.tensor))
        setattr(capture, f"{what}_slot", k)
        return box

    def setting(self, group: dict[str, Any], key: str) -> Any:
        """An optimizer's setting ``group[key]`` (a number, or a tuple of numbers) as boxes read from the group at
        every run, so a scheduler's new rate needs no new trace; anything else as it is (a guard checks it)."""
        value = group[key]
        if not _readable(value) or (key == "momentum" and value == 0):
            return value
        sequence = isinstance(value, (tuple, list))
        boxes = []
        for index, v in enumerate(value if sequence else (value,)):
            box, k = self.box(np.array(v, dtype=np.float64), False)
            self.program.captured_settings.append((k, group, key, index if sequence else None, None))
            boxes.append(box)
        return type(value)(boxes) if sequence else boxes[0]

    def outside(self, t: Tensor) -> bool:
        """Whether ``t`` is a tensor from outside the function (taken over, or to be), not one it made or a box."""
        return id(t) in self.captures or (id(t) not in self.born and type(t) not in _OTHER_BOXES
                                          and type(_DATA.__get__(t)) in _ARRAYS)

    def guard(self, key: Any, check: Callable[[], Any]) -> None:
        """Check ``check()`` before every run against its value now (once per ``key``): a Python value the trace
        relied on, such as an optimizer's learning rate or a module's training mode."""
        if key not in self.guarded:
            self.guarded.add(key)
            self.program.guards.append((check, check()))

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
        box, out = self.box(ans, any(k in self.tensors for k in ins))
        if ans.base is not None:
            for k, v in pairs:
                if type(v) in _ARRAYS and np.may_share_memory(ans, v):
                    self.views.setdefault(k, []).append(out)
        self.program.add(step, ins, out)
        return box

    def input(self, a: Any) -> tuple[int, Any]:
        """The slot of argument ``a`` and its value now."""
        if type(a) is Traced:
            if a.level != self.level:
                raise CompileError("cr.compile: a value traced by another cr.compile call reached this one (kept "
                                   "from an earlier trace, in an attribute or a list, say?)")
            k = self.slots.get(id(a))
            if k is None:
                raise CompileError("cr.compile: a traced value was computed outside chainrule's primitives (a "
                                   "custom rule run per example, or a value read and rebuilt): it cannot be replayed")
            if k in self.stale:
                raise CompileError("cr.compile: a view of a tensor was used after the tensor was updated in place: "
                                   "eager execution would read the new values through it, a replay the old ones. "
                                   "Take the view after the update")
            return k, a.value
        if (type(a) is tuple or type(a) is list) and any(_boxed(i) for i in a):
            pairs = [self.input(i) for i in a]
            out = self.program.slot()
            self.program.add(_PACKS[type(a)], tuple(k for k, _ in pairs), out)
            if any(k in self.tensors for k, _ in pairs):
                self.tensors.add(out)
            return out, type(a)(v for _, v in pairs)
        if isinstance(a, Tensor):
            data = _DATA.__get__(a)
            if type(data) in _ARRAYS:  # a tensor from outside the function (or a constant made inside it)
                self.capture(a)
                data = _DATA.__get__(a)
            if type(data) is not Traced or type(a) in _OTHER_BOXES:
                raise CompileError("cr.compile: a value of a transform outside the compiled function reached it")
            k, value = self.input(data)
            self.tensors.add(k)
            return k, value
        k = self.seen.get(id(a))
        if k is None:
            k = self.seen[id(a)] = self.program.slot(a)
            self.alive.append(a)
        return k, a


class _Capture:
    """A tensor from outside taken over by a trace: the array and gradient it had, and the slots reading them."""

    __slots__ = ("tensor", "data", "grad", "grad_data", "data_slot", "grad_slot", "box")

    def __init__(self, tensor: Tensor, data: Any) -> None:
        self.tensor, self.data, self.grad = tensor, data, tensor._grad
        self.grad_data: Any = None
        self.data_slot = self.grad_slot = -1
        self.box: Any = None  # the box standing for its array: updated in place, or replaced (``t.data = new``)


_GET = _DATA.__get__
_POST_HOOKS = engine._post_hooks  # (a dict changed in place, never rebound)


def _tensor_key(t: Tensor, grad_array: bool = True) -> Any:
    """What a trace relies on in a captured tensor: ``requires_grad`` (frozen or not: another graph), the hooks run
    on its gradient (its own and post-accumulate ones, by identity), its array's shape, dtype and device, and its
    gradient's (or None); whether it has a gradient alone where not ``grad_array`` (a gradient the program replaces
    without reading it). (Checked for every captured tensor before every run: written for speed, and reading as
    few objects as it can, which the products of a step have evicted from the caches.)"""
    data, grad, hooks = _GET(t), t._grad, t._hooks
    key = (t.requires_grad, tuple(map(id, hooks)) if hooks else (), id(t) in _POST_HOOKS,
           data.shape, data.dtype, "cpu" if type(data) is np.ndarray else backend.device_of(data))
    if grad is None:
        return key
    if not grad_array:
        return (*key, True)
    data = _GET(grad)
    return (*key, data.shape, data.dtype, "cpu" if type(data) is np.ndarray else backend.device_of(data))


def _sharing(tensors: list[Tensor]) -> tuple[int, ...]:
    """For each tensor, the first of ``tensors`` whose array has the same memory owner: a tensor made a view of
    another between calls (``b.data = w.data[0]``) changes it, and a trace relied on their being apart."""
    first: dict[int, int] = {}
    owners = []
    for i, t in enumerate(tensors):
        data = _GET(t)
        owner = data.base if getattr(data, "base", None) is not None else data
        owners.append(first.setdefault(id(owner), i))
    return tuple(owners)


def _captured_key(tensors: list[Tensor], grad_arrays: list[bool]) -> Any:
    """The captured tensors' keys and which of them share memory, in one guard (the first checked)."""
    return [*map(_tensor_key, tensors, grad_arrays), _sharing(tensors) if len(tensors) > 1 else ()]


def _guard_captured(program: Program, tensors: list[Tensor], keys: list[Any], sharing: tuple[int, ...]) -> None:
    """The guard of the captured tensors, from their keys when taken over (and the sharing at the trace's end):
    the gradients the program lets go of unread (``released``) are checked for being there alone."""
    unread = {id(t) for t in program.released}
    grad_arrays = [id(t) not in unread for t in tensors]
    expected = [key if full or len(key) == 6 else (*key[:6], True) for key, full in zip(keys, grad_arrays)]
    program.guards.insert(0, (functools.partial(_captured_key, tensors, grad_arrays), [*expected, sharing]))


def _boxed(x: Any) -> bool:
    return type(x) is Traced or ((type(x) is tuple or type(x) is list) and any(_boxed(i) for i in x))


def apply(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any], level: int) -> Any:
    """``prim`` on ``args`` (some of them Traced boxes of ``level``): computed on the values and recorded. Where
    tensors that require grad take part with grad mode on (a module's parameters), the eager graph records it
    too, over the boxes, for the ``backward()`` the function calls: eager's graph nests inside the trace."""
    if prim.differentiable and is_grad_enabled() and any(
            isinstance(a, Tensor) and a.requires_grad and type(a) not in _OTHER_BOXES and level_of(a) == 0
            for a in args):
        return primitive._apply_reverse(prim, args, kwargs, 0)
    trace = _traces[level]
    pairs = [trace.input(a) for a in args]
    values = [v for _, v in pairs]
    forward = prim.forward
    if any(type(v) in _ARRAYS and type(v) is not np.ndarray for v in values):
        scalars = tuple(i for i, v in enumerate(values) if type(v) is np.ndarray and not v.ndim)
        if scalars:  # host 0-d values (a step count, a learning rate) next to a GPU's arrays: as eager's scalars
            forward = functools.partial(_host_scalars, forward, scalars)
    try:
        ans = forward(*values, **kwargs)
    except (ValueError, TypeError) as error:
        raise _named(prim, values, error) from None
    if getattr(forward, "__code__", None) is _CHECKED:  # its check passed, on the dtypes every replay sees
        forward = forward.__wrapped__  # type: ignore[attr-defined]
    step = functools.partial(forward, **kwargs) if kwargs else forward
    quiet = np.geterr()
    if quiet != _WARNS:  # computed under np.errstate (a 0 / 0 the function expects): so is the step at every replay
        step = functools.partial(_in_errstate, step, quiet)
    box = trace.result(step, pairs, ans)
    if prim is primitive.checked:
        trace.program.checks.append(trace.slots[id(box)])
    return box


_WARNS = {"divide": "warn", "over": "warn", "under": "ignore", "invalid": "warn"}  # NumPy's default


def _in_errstate(step: Callable[..., Any], state: Any, *args: Any) -> Any:
    with np.errstate(**state):
        return step(*args)


def _host_scalars(forward: Callable[..., Any], at: tuple[int, ...], *args: Any, **kwargs: Any) -> Any:
    """``forward`` with the host 0-d arrays at positions ``at`` given as NumPy scalars, which a GPU's arrays mix
    with (eager computes them as scalars: NumPy gives scalars for 0-d results; a trace keeps arrays)."""
    args = tuple(a[()] if i in at else a for i, a in enumerate(args))
    return forward(*args, **kwargs)


def opaque(rule: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Traced | None:
    """A rule that reads values (power's at the origin, a kink's side) recorded as one step of the program, run on
    the arrays at every replay, as eager runs it; None where it also sees boxes of a transform above the trace
    (their derivatives would be lost), so the refusal stands."""
    level = _level_in(args)
    if any(isinstance(a, Tensor) and type(a) is not Traced and level_of(a) >= 0 for a in args) or any(
            type(a) is Traced and a.level != level for a in args):
        return None
    trace = _traces[level]
    pairs = [trace.input(a) for a in args]
    step = functools.partial(rule, **kwargs) if kwargs else rule
    return trace.result(step, pairs, step(*[v for _, v in pairs]))


def own_array(box: Traced, shared: bool) -> Traced:
    """A leaf's cotangent as ``.grad`` keeps it (``_accumulate_leaf_grad``): copied, by a recorded step, where
    eager copies its array (one passed on to other leaves too, a view, a read-only broadcast)."""
    value = box.value
    if not shared and value.base is None and _writeable(value):
        return box
    return opaque(_copy, (box,), {})  # type: ignore[return-value]


def _level_in(args: Any) -> int:
    """The level of the trace whose boxes ``args`` hold (directly, in tensors, or in tuples and lists)."""
    for a in args:
        if isinstance(a, Tensor) and type(a.data) is Traced:
            a = a.data
        if type(a) is Traced:
            return a.level
        if isinstance(a, (tuple, list)) and _boxed(a):
            return _level_in(a)
    raise CompileError("cr.compile: no traced value among the arguments")


def update(box: Traced, compute: Callable[[Traced], Any]) -> Traced:
    """``box`` updated in place (``+=``, ``t[i] = v``): ``compute(box)`` recorded, and the box pointed at its slot,
    so every name for the box sees the write, as for an ordinary tensor. Refused where a replay could not give
    eager's answer: an argument (the caller's array would change) or a view (its base would). Views taken of the
    value before become stale: using one afterwards is refused (``_Trace.input``)."""
    trace = _traces[box.level]
    k = trace.slots[id(box)]
    program = trace.program
    captured = any(k == j for j, _ in (*program.captured, *program.captured_grads))  # (its write-back writes in)
    if k in program.inputs or (box.value.base is not None and not captured):
        what = ("an argument of the compiled function (the caller's array)" if k in trace.program.inputs
                else "a view of another value (its base would see the write)")
        raise CompileError(f"cr.compile: an in-place update (t += v, t[i] = v) of {what} cannot be replayed: write "
                           "it out of place (t = t + v, t = cr.assign(t, i, v))")
    stale = trace.views.pop(k, [])
    while stale:
        view = stale.pop()
        trace.stale.add(view)
        stale += trace.views.pop(view, [])
    new = compute(box)
    if isinstance(new, Tensor) and type(new) is not Traced and type(new.data) is Traced:  # a tensor holding one
        new = new.data
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
    others = _other_streams()
    recording = _Recording(generator, level)
    _random._generator = recording  # type: ignore[assignment]
    try:
        yield recording
    finally:
        reseeded = _random._generator is not recording
        _random._generator = generator
    if _other_streams() != others:
        raise CompileError("cr.compile: the function drew from NumPy's global generator (np.random.*) or Python's "
                           "random module, whose numbers a replay would repeat: draw from chainrule's "
                           "(cr.randn, cr.rand, cr.random.generator()), which a replay draws afresh, or pass the "
                           "numbers in as arguments")
    expected = np.random.Generator(type(generator.bit_generator)())
    expected.bit_generator.state = state
    for name, args, kwargs in recording.draws:
        getattr(expected, name)(*args, **kwargs)
    if reseeded or expected.bit_generator.state != generator.bit_generator.state:
        raise CompileError("cr.compile: the function moved the random stream other than by drawing from "
                           "cr.random.generator() (cr.random.seed, or a generator object taken before): a replay "
                           "would repeat the traced numbers. Draw outside and pass the numbers in as arguments")


def _other_streams() -> tuple[Any, ...]:
    """Where NumPy's global generator and Python's random module stand (their draws cannot be recorded)."""
    state: Any = np.random.get_state()  # noqa: NPY002 (the legacy stream is what is watched)
    return state[0], state[1].tobytes(), *state[2:], random.getstate()


# ---- tracing -------------------------------------------------------------------------------------------------
_one_trace = threading.Lock()  # a trace patches classes (Tensor.data, optimizers) process-wide: one at a time


def _trace(fn: Callable[..., Any], args: tuple[Any, ...], statics: tuple[int, ...], leaves: list[Any],
           treedef: PyTreeDef) -> tuple[Program, list[Any]]:
    with _one_trace:
        return _trace_alone(fn, args, statics, leaves, treedef)


def _trace_alone(fn: Callable[..., Any], args: tuple[Any, ...], statics: tuple[int, ...], leaves: list[Any],
                 treedef: PyTreeDef) -> tuple[Program, list[Any]]:
    level = enter_level()
    trace = _traces[level] = _Trace(level)
    program = trace.program
    stream = _random.generator().bit_generator.state
    settled = False
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
            with _state_captured(trace), _recorded_draws(level):
                out = fn(*call, **kwargs)
        except _Abandon:
            _random.generator().bit_generator.state = stream  # the call runs again, as written: the same draws
            raise
        except (CompileError, BatchValueError) as error:
            raise CompileError(_located(error)) from error
        out_leaves, program.treedef = tree_flatten(out)
        resolved = []
        for o in out_leaves:
            if type(o) is Traced or isinstance(o, Tensor) or type(o) in _ARRAYS:
                if isinstance(o, Tensor) and o._node is not None and o._node.raw is not None:
                    raise CompileError(
                        "cr.compile: an output of the compiled function has a graph to differentiate (it requires "
                        "grad, and no backward() has used it), which a replay cannot give: call backward() inside "
                        "the function, return cr.grad's gradients, or return t.detach() to keep the value alone")
                k, value = trace.input(o)
                tensor = k in trace.tensors
                if _of_constant(program, k):  # (cr.zeros(3) returned, or a view of it): fresh at every call
                    k, value = _fresh(trace, k, value) if program.env[k] is not None else _copied(trace, k, value)
                program.outputs.append((k, tensor))
                resolved.append((k, value))
            else:
                program.outputs.append((None, o))
        _escaped(trace, out_leaves)
        tensors = [c.tensor for c in trace.captures.values()]
        sharing = _sharing(tensors) if len(tensors) > 1 else ()  # an alias made between calls needs a new trace
        _settle(trace, done=True)
        values = program.env.copy()  # after the outputs and effects, which may have added slots
        for k, value in resolved:
            values[k] = value
        settled = True
    finally:
        if not settled:
            _settle(trace, done=False)
        exit_level()
        del _traces[level]
    _prune(program)
    used = {k for op in program.ops for k in op[4]} | {k for k, _ in program.outputs} | {
        k for _, _, k in program.effects}
    program.captured_grads = [(k, t) for k, t in program.captured_grads if k in used]  # (zero_grad reads none)
    program.released = _released(program)
    if tensors:
        _guard_captured(program, tensors, trace.keys, sharing)
    arrays = {k: trace.alive[i].value for i, k in trace.boxes}
    compile_passes.optimize(program, arrays)
    _free_after_last_use(program, {k: v.nbytes for k, v in arrays.items()})
    return program, values


def _settle(trace: _Trace, done: bool) -> None:
    """End the takeover of the captured tensors. When the trace is ``done``: what the function left in each (its
    array, its gradient) becomes an effect of the program where it changed, and the tensor takes the trace's values;
    otherwise everything is put back as it was."""
    effects = trace.program.effects
    for ref, data in trace.made:  # tensors the function made, which it may have kept: the trace's values, or none
        t = ref()
        if t is not None:
            _DATA.__set__(t, trace.input(_DATA.__get__(t))[1] if done else data)
    # every tensor's new values first, then the writes: one tensor's new values may be another's old array (a swap)
    new_data = {}
    for c in trace.captures.values():
        box = _DATA.__get__(c.tensor)
        k, value = trace.input(box)
        if done and k != c.data_slot:
            if box is c.box:  # updated in place: the new values go into its array, as eager's update writes them
                k, value = _fresh(trace, k, value)
                effects.append((c.tensor, "data", k))
            else:  # ``t.data = new``: rebound to the new array, which may be another tensor's (eager aliases them)
                if _of_constant(trace.program, k):
                    k, value = _copied(trace, k, value)
                effects.append((c.tensor, "rebound", k))
        new_data[id(c)] = (k, value, box is c.box)
    for c in trace.captures.values():
        t = c.tensor
        if not done:
            _DATA.__set__(t, c.data)
            t._grad = c.grad
            if c.grad_data is not None:
                _DATA.__set__(c.grad, c.grad_data)
            continue
        k, value, in_place = new_data[id(c)]
        if k != c.data_slot and in_place:
            value = _into_own(c.data, value)
        _DATA.__set__(t, value)
        grad = t._grad
        if grad is not c.grad and c.grad_data is not None:  # the gradient it had, replaced: as it was
            _DATA.__set__(c.grad, c.grad_data)
        if grad is None:
            if c.grad is not None:
                effects.append((t, "grad", None))
        elif grad is c.grad and c.grad_data is None:
            continue  # a gradient of the tensor's own, never read or written by the function
        else:
            k, value = trace.input(_DATA.__get__(grad))
            if grad is not c.grad:
                k, value = _fresh(trace, k, value)
                effects.append((t, "grad", k))
            elif k != c.grad_slot:
                k, value = _fresh(trace, k, value)
                effects.append((t, "grad data", k))
                value = _into_own(c.grad_data, value)
            _DATA.__set__(grad, value)


def _into_own(own: Any, value: Any) -> Any:
    """The traced call's new values for a captured array, written into it as eager writes (views of it see them),
    where they fit it."""
    if value.shape != own.shape or value.dtype != own.dtype or not _writeable(own):
        return value
    own[...] = value
    return own


def _released(program: Program) -> list[Tensor]:
    """The tensors whose gradient ``program``'s effects replace or clear and which it never reads."""
    read = {id(t) for _, t in program.captured_grads}
    return [t for t, what, _ in program.effects if what == "grad" and id(t) not in read]


def _fresh(trace: _Trace, k: int, value: Any) -> tuple[int, Any]:
    """The slot and the traced call's value of what a run writes into a tensor (or returns): a constant of the
    program (an array the function assigned) copied, by a step of its own, so that each call hands out an array of
    its own, as eager would. An array from outside (an argument, another captured tensor's) is copied when the run
    writes it back (``_write``)."""
    program = trace.program
    if program.env[k] is None:
        outside = k in program.inputs or any(k == j for j, _ in (*program.captured, *program.captured_grads))
        return k, value.copy() if outside else value
    return _copied(trace, k, value)


def _of_constant(program: Program, k: int) -> bool:
    """Whether slot ``k`` holds a constant of the program, or may be a view of one (through steps other than plain
    ufuncs: getitem, reshape...)."""
    producers = {op[5]: op for op in program.ops}
    todo, seen = [k], set()
    while todo:
        j = todo.pop()
        if j in seen:
            continue
        seen.add(j)
        if program.env[j] is not None:
            return True
        op = producers.get(j)
        if op is not None and compile_passes.ufunc_of(op) is None:
            todo.extend(op[4])
    return False


def _copied(trace: _Trace, k: int, value: Any) -> tuple[int, Any]:
    """Slot ``k`` copied by a step of its own, and the traced call's value copied too."""
    out = trace.program.slot()
    trace.program.add(_copy, (k,), out)
    return out, value.copy()


def _writeable(a: Any) -> bool:
    return getattr(a.flags, "writeable", True)  # a GPU's arrays have no such flag: always writable


def _copy(a: Any) -> Any:
    return a.copy()


def _escaped(trace: _Trace, outputs: list[Any]) -> None:
    """Refuse a trace whose function kept, outside it, a tensor it made of traced values (appended to a list, set
    as an attribute): a replay would neither keep it again nor update it. Such tensors are given their values. And
    one that updates a tensor another tensor it read aliases."""
    if trace.sharing and any(trace.input(_DATA.__get__(c.tensor))[0] != c.data_slot for c in trace.captures.values()):
        raise CompileError("cr.compile: the function updates a tensor whose memory another tensor it reads shares (a "
                           "t.detach() or a view taken outside): eager would read the new values through it, a replay "
                           "the old ones. Take the alias inside the function")
    handled = {id(c.tensor._grad) for c in trace.captures.values()}
    todo = [o for o in outputs if isinstance(o, Tensor)]
    while todo:  # the outputs, and what their graphs (used by a backward) still hold
        t = todo.pop()
        if id(t) not in handled:
            handled.add(id(t))
            if t._node is not None:
                todo.extend(a for a in t._node.args if isinstance(a, Tensor))

    def kept() -> list[Tensor]:
        return [t for t in (ref() for ref in trace.born.values()) if t is not None and id(t) not in handled
                and type(t) not in _OTHER_BOXES and type(_DATA.__get__(t)) is Traced]

    if kept() and (gc.collect() or True) and kept():  # what only a reference cycle holds is not kept
        for t in kept():
            _DATA.__set__(t, _DATA.__get__(t).value)
        raise CompileError("cr.compile: the function kept a tensor it computed somewhere outside it (appended to a "
                           "list, set as an attribute, stored in a dict): a replay runs no Python, so it would not "
                           "keep it again. Return it from the function instead, and store it outside")


def _prune(program: Program) -> None:
    """Drop the steps no output depends on (a rule that recorded a few steps before reading values, say)."""
    live = compile_passes.kept_slots(program)
    kept = []
    for op in reversed(program.ops):
        if op[-1] in live:
            kept.append(op)
            live.update(op[4])
    program.ops = kept[::-1]


def _free_after_last_use(program: Program, sizes: dict[int, int]) -> None:
    """A step that drops each large intermediate (``FREE_BYTES`` or more) after its last use, so a replay holds
    about what eager execution holds (whose backward frees the saved values as it goes), not every value at once.
    The step is an ordinary one (``compile_passes.let_go``)."""
    last: dict[int, int] = {}
    for i, op in enumerate(program.ops):
        for k in op[4]:
            last[k] = i
    keep = compile_passes.kept_slots(program)
    frees: dict[int, list[int]] = {}
    for k, i in last.items():
        if k not in keep and sizes.get(k, 0) >= FREE_BYTES:
            frees.setdefault(i, []).append(k)
    ops = []
    for i, op in enumerate(program.ops):
        ops.append(op)
        ops.extend((compile_passes.let_go, 0, 0, 0, (), k) for k in frees.get(i, ()))
    program.ops = ops


_PLAIN = (bool, int, float, complex, str, type(None))


def _settings(m: Any) -> tuple[Any, ...]:
    """A module's plain settings (its mode, a dropout's p, a norm's eps and momentum...), which a trace bakes in."""
    return tuple((k, v) for k, v in vars(m).items()
                 if isinstance(v, _PLAIN) or (type(v) is tuple and all(isinstance(e, _PLAIN) for e in v)))


def _subclasses(cls: type) -> list[type]:
    found, todo = [], [cls]
    while todo:
        c = todo.pop()
        found.append(c)
        todo.extend(c.__subclasses__())
    return found


@contextlib.contextmanager
def _state_captured(trace: _Trace) -> Iterator[None]:
    """While tracing: a tensor from outside is taken over (``_Trace.capture``) the moment the function reads or
    writes its array or gradient, so that in-place updates, ``backward()`` and optimizer steps are recorded like
    the rest. What a replay could not repeat is refused by name (a scheduler's step, a graph kept for later) or
    run as written (an optimizer's first step, which makes its state); what the trace relies on is guarded (an
    optimizer's settings and state, a module's training mode)."""
    from .nn.module import Module
    from .optim.lr_scheduler import LRScheduler
    from .optim.optimizer import Optimizer

    def get_data(t: Tensor) -> Any:
        data = _DATA.__get__(t)
        if type(data) in _ARRAYS and type(t) not in _OTHER_BOXES:
            trace.capture(t)
            data = _DATA.__get__(t)
        return data

    def set_data(t: Tensor, value: Any) -> None:
        try:
            _DATA.__get__(t)
        except AttributeError:  # a tensor being made: its own, fresh at every call (no state to take over)
            trace.born[id(t)] = weakref.ref(t)
        else:
            trace.capture(t)
        _DATA.__set__(t, value)

    grad = Tensor.__dict__["grad"]

    def get_grad(t: Tensor) -> Any:
        trace.capture(t)
        return grad.fget(t)

    def set_grad(t: Tensor, value: Any) -> None:
        trace.capture(t)
        grad.fset(t, value)

    def backward(t: Tensor, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        if create_graph:
            raise CompileError("cr.compile: backward(create_graph=True) records gradients with graphs of their own, "
                               "which a replay cannot give: take higher derivatives with cr.grad or cr.hessian")
        return tensor_backward(t, gradient, retain_graph)

    def creates_state(*_: Any, **__: Any) -> Any:
        raise _Abandon

    def stepped(original: Callable[..., Any]) -> Callable[..., Any]:
        def step(opt: Optimizer, *args: Any, **kwargs: Any) -> Any:
            trace.guard(("optimizer", id(opt)), lambda: _optimizer_key(opt))
            settings = [(group, key, group[key]) for group in opt.param_groups for key in _READ_AT_RUN if key in group]
            for group, key, _ in settings:
                group[key] = trace.setting(group, key)
            try:
                return original(opt, *args, **kwargs)
            finally:
                for group, key, value in settings:
                    group[key] = value
        return step

    def scheduler_step(*_: Any, **__: Any) -> Any:
        raise CompileError("cr.compile: a learning-rate scheduler's step() inside the compiled function would be "
                           "frozen into it (its rates are Python numbers): call it outside, between calls (a new "
                           "rate traces the step again)")

    def called(m: Module, *args: Any, **kwargs: Any) -> Any:
        # its mode, and which tensors from outside it holds as parameters and buffers (one replaced is another
        # tensor to read; those cr.func.functional_call puts in for the call are the function's own) and submodules
        tensors = [(table, name) for table in (m._parameters, m._buffers) for name, v in table.items()
                   if isinstance(v, Tensor) and trace.outside(v)]
        trace.guard(("module", id(m)), lambda: (type(m), _settings(m), [id(table.get(name)) for table, name in tensors],
                                                [id(v) for v in m._modules.values()]))
        return module_call(m, *args, **kwargs)

    tensor_backward, module_call = Tensor.backward, Module.__call__
    patches: list[tuple[type, str, Any]] = [
        (Tensor, "data", property(get_data, set_data)), (Tensor, "grad", property(get_grad, set_grad)),
        (Tensor, "backward", backward), (Module, "__call__", called),
        (Optimizer, "_buffer", creates_state), (Optimizer, "_counter", creates_state)]
    patches += [(cls, "step", stepped(cls.__dict__["step"])) for cls in _subclasses(Optimizer)
                if "step" in cls.__dict__]
    patches += [(cls, "step", scheduler_step) for cls in _subclasses(LRScheduler) if "step" in cls.__dict__]
    saved = [(cls, name, cls.__dict__[name]) for cls, name, _ in patches]
    try:
        for cls, name, patch in patches:
            setattr(cls, name, patch)
        yield
    finally:
        for cls, name, original in saved:
            setattr(cls, name, original)


# the settings schedulers change, read at every run (OneCycleLR cycles betas[0], or momentum); a momentum of 0 stays
# a number (it decides that the update has none: optimizer.nonzero), and the guard tells 0 from the rest
_READ_AT_RUN = ("lr", "betas", "momentum")


def _readable(value: Any) -> bool:
    """Whether a setting is read at every run: a real number (of Python or NumPy, or a 0-d array), or a tuple or
    list of them."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    return all((isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)))
               or (type(v) is np.ndarray and v.shape == () and v.dtype.kind in "iuf") for v in values)


def _optimizer_key(opt: Any) -> Any:
    """What an optimizer's traced step relied on: its parameter groups (their keys, parameters and settings: those a
    replay reads by their kind alone) and the state tensors it read (``load_state_dict`` makes new ones). Checked
    before every run, so one flat list (a list of dicts cost 9 us a run of the small MLP, this one 4): each group's
    id and keys, then by key its parameters' count and ids, or its setting."""
    key: list[Any] = []
    for group in opt.param_groups:
        key += (id(group), tuple(group))
        for k, v in group.items():
            if k == "params":
                key.append(len(v))
                key += map(id, v)
            elif k in _READ_AT_RUN and (type(v) is float or _readable(v)):
                key.append((type(v), len(v)) if isinstance(v, (tuple, list)) else
                           "a number" if k != "momentum" or v != 0 else 0)
            else:
                key.append(v)
    key.append(len(opt.state))
    key += (id(v) for state in opt.state.values() for v in state.values())
    return key


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

