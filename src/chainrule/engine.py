"""The reverse sweep: grad mode, graph nodes, and the chain rule applied backwards.

A node records which primitive produced an array, from which arguments, and the output *array* (never the output
Tensor, so no reference cycle exists and a graph is freed the moment the user drops its last tensor). ``run`` walks the
nodes once in reverse topological order and multiplies each incoming cotangent by the primitive's local derivative:
that walk is dy/dx = dy/du * du/dv * dv/dx, one factor per node. Nothing here recurses.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import heapq
import inspect
import itertools
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from . import backend

_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("chainrule_grad_enabled", default=True)
is_grad_enabled = _grad_enabled.get
_grad_enabled_before: contextvars.ContextVar[tuple[bool, ...]] = contextvars.ContextVar("chainrule_grad_before",
                                                                                        default=())

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    """A context manager and decorator that sets grad mode for its block, restoring the old mode afterwards."""

    __slots__ = ("_mode",)

    def __init__(self, mode: bool) -> None:
        self._mode = mode

    def __enter__(self) -> None:
        # the modes to restore are kept per context (thread, asyncio task), so one instance can serve them all
        _grad_enabled_before.set((*_grad_enabled_before.get(), _grad_enabled.get()))
        _grad_enabled.set(self._mode)

    def __exit__(self, *exc: object) -> None:
        *before, mode = _grad_enabled_before.get()
        _grad_enabled_before.set(tuple(before))
        _grad_enabled.set(mode)

    def __call__(self, fn: F) -> F:
        mode = self._mode
        if inspect.isasyncgenfunction(fn):
            name = "cr.enable_grad" if mode else "cr.no_grad"
            raise TypeError(f"{name} cannot hold across an async generator's awaits and yields: use `with {name}():` "
                            "inside its body")
        if inspect.isgeneratorfunction(fn):
            return _generator_in_mode(fn, mode)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def coroutine(*args: Any, **kwargs: Any) -> Any:
                token = _grad_enabled.set(mode)  # a task's own context: other tasks keep their modes
                try:
                    return await fn(*args, **kwargs)
                finally:
                    _grad_enabled.reset(token)

            return coroutine  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _grad_enabled.set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _grad_enabled.reset(token)

        return wrapper  # type: ignore[return-value]


def _generator_in_mode(fn: Callable[..., Any], mode: bool) -> Callable[..., Any]:
    """A generator function whose body runs in ``mode`` at every step, while the caller keeps its own mode between
    steps (setting the mode once would end at the first ``yield``)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _grad_mode(mode):
            gen = fn(*args, **kwargs)
        resume: Callable[[Any], Any] = gen.send
        value: Any = None
        while True:
            try:
                with _grad_mode(mode):
                    response = resume(value)
            except StopIteration as stop:
                return stop.value
            try:
                value, resume = (yield response), gen.send
            except GeneratorExit:
                with _grad_mode(mode):
                    gen.close()
                raise
            except BaseException as error:  # thrown in by the caller: the body handles it, in its mode
                value, resume = error, gen.throw

    return wrapper


def no_grad(fn: F | None = None) -> Any:
    """Stop recording graphs inside a ``with`` block or a decorated function (``@no_grad`` or ``@no_grad()``).

    >>> import chainrule as cr
    >>> x = cr.tensor(1.0, requires_grad=True)
    >>> with cr.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """
    return _GradMode(False) if fn is None else _GradMode(False)(fn)


def enable_grad(fn: F | None = None) -> Any:
    """Record graphs again inside a ``no_grad`` block (a context manager and a decorator, with or without ``()``).

    >>> import chainrule as cr
    >>> x = cr.tensor(1.0, requires_grad=True)
    >>> with cr.no_grad(), cr.enable_grad():
    ...     (x * 2).requires_grad
    True
    """
    return _GradMode(True) if fn is None else _GradMode(True)(fn)


class _SetGradEnabled:
    """The mode ``set_grad_enabled`` set, and the one before it, restored at the end of a ``with`` block."""

    __slots__ = ("_before", "_mode")

    def __init__(self, mode: bool) -> None:
        self._before, self._mode = _grad_enabled.get(), bool(mode)
        _grad_enabled.set(self._mode)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        _grad_enabled.set(self._before)

    def __call__(self, fn: F) -> F:
        _grad_enabled.set(self._before)  # decorating sets nothing now: the mode holds while fn runs
        return _GradMode(self._mode)(fn)


def set_grad_enabled(mode: bool) -> Any:
    """Turn recording on or off (PyTorch's ``set_grad_enabled``): called alone, from then on in this context (thread,
    asyncio task); as a ``with`` block or a decorator, for that block or function only.

    >>> import chainrule as cr
    >>> x = cr.tensor(1.0, requires_grad=True)
    >>> with cr.set_grad_enabled(False):
    ...     (x * 2).requires_grad
    False
    >>> (x * 2).requires_grad
    True
    """
    return _SetGradEnabled(mode)


class _Unchanged(contextlib.ContextDecorator):
    """A block (or decorated function) that leaves the grad mode as it finds it."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def inference_mode(mode: bool | F = True) -> Any:
    """PyTorch's ``inference_mode``: ``no_grad`` (chainrule has no separate kind of tensor for it, so tensors made
    inside are ordinary ones, usable in recorded computations afterwards). ``inference_mode(False)`` changes nothing.
    A context manager and a decorator, with or without ``()``.

    >>> import chainrule as cr
    >>> with cr.inference_mode():
    ...     cr.is_grad_enabled()
    False
    """
    if callable(mode):
        return _GradMode(False)(mode)
    return _GradMode(False) if mode else _Unchanged()


@contextmanager
def _grad_mode(mode: bool) -> Iterator[None]:
    token = _grad_enabled.set(mode)
    try:
        yield
    finally:
        _grad_enabled.reset(token)


class Version:
    """The in-place modification stamp shared by a tensor and every view of its memory."""

    __slots__ = ("clock",)

    def __init__(self) -> None:
        self.clock = 0


# One counter orders everything: each recorded node and each in-place modification takes the next number. A node's
# inputs are always older than the node (so the reverse sweep can go by descending number), and a saved tensor
# whose version stamp is newer than the node that saved it was modified after being saved.
tick = itertools.count(1).__next__


class Node:
    """One application of a primitive in a recorded graph.

    ``args`` are the arguments as given (Tensors and constants), ``raw`` the same with Tensors replaced by their
    arrays, ``ans`` the output array, ``clock`` the node's number from ``tick`` (its place in evaluation order).
    ``raw`` and ``ans`` are dropped once a backward pass without ``retain_graph`` has used them.
    """

    __slots__ = ("prim", "args", "raw", "kwargs", "ans", "clock", "hooks", "__weakref__")
    level = 0  # the transform level it was recorded at; nodes of nested transforms override it (LevelNode)

    prim: Any
    args: tuple[Any, ...]
    raw: Sequence[Any] | None
    kwargs: Mapping[str, Any]
    ans: Any
    clock: int
    hooks: list[Callable[[Any], Any]] | None

    def name(self) -> str:
        """The primitive's name (PyTorch's ``grad_fn.name()``)."""
        return str(self.prim.name)

    def __repr__(self) -> str:
        return f"<{self.prim.name} node>"


_HALF = np.dtype(np.float16)


def _sum_to(c: Any, shape: tuple[int, ...]) -> Any:
    """Undo broadcasting: sum a cotangent down to the shape of the input it belongs to (the one place this happens).

    Raises ValueError when ``shape`` does not broadcast to the cotangent's shape (a rule that got it wrong)."""
    extra = len(c.shape) - len(shape)
    if extra < 0 or any(n != 1 and n != m for n, m in zip(shape, c.shape[extra:])):
        raise ValueError(f"a cotangent of shape {c.shape} does not sum down to shape {shape}")
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and c.shape[i + extra] != 1)
    if axes:
        if c.dtype == _HALF and type(c) in backend.array_types:  # float16 sums in float32, as the sum primitive
            c = c.sum(axis=axes, keepdims=True, dtype=np.float32).astype(_HALF)
        else:
            c = c.sum(axis=axes, keepdims=True)
    if extra or c.shape != shape:
        c = c.reshape(shape)
    return c


def in_dtype(c: Any, dtype: np.dtype[Any]) -> Any:
    """A cotangent (or tangent) in its input's dtype; a complex one for a real input keeps its real part, as in JAX:
    with the pairing Re(sum(a * b)) the imaginary part pairs with nothing a real input can move."""
    if c.dtype.kind == "c" and dtype.kind != "c":
        from .ops.elementwise import real

        c = real(c)
    return c if c.dtype == dtype else c.astype(dtype)


def _accumulate(out: dict[int, tuple[Any, Any]], tensor: Any, c: Any) -> None:
    key = id(tensor)
    out[key] = (tensor, out[key][1] + c) if key in out else (tensor, c)


def _freed_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time (at '{node.prim.name}'): its saved values were freed "
        "by the first backward(). Pass retain_graph=True to the first backward() to keep them."
    )


def _modified_error(node: Node, a: Any) -> RuntimeError:
    return RuntimeError(
        f"A tensor of shape {a.shape} that '{node.prim.name}' saved for backward was modified in place after it was "
        "used; its gradient would be wrong. Update it after backward(), or modify a copy (t.detach() * 1) instead."
    )


def unchanged(g: Any, ans: Any, *args: Any) -> Any:
    """The VJP or JVP rule that passes its cotangent (tangent) on as it is (d(x + y)/dx = 1): the sweep skips the
    call."""
    return g


def _rule_shape_error(node: Node, i: int, c: Any, data: Any) -> RuntimeError:
    return RuntimeError(
        f"the VJP rule of '{node.prim.name}' for input {i} returned a cotangent of shape {c.shape}, which does not "
        f"fit that input's shape {data.shape} (the output's shape is {np.shape(node.ans)}): a rule must return an "
        "array the input's shape broadcasts to"
    )


def run(
    roots: Sequence[tuple[Any, Any]],
    create_graph: bool = False,
    retain_graph: bool = False,
    targets: Sequence[Any] | None = None,
    on_leaf: Callable[[Any, Any], None] | None = None,
) -> dict[int, tuple[Any, Any]]:
    """Propagate cotangents from ``roots`` (pairs of tensor and seed) back to the leaves.

    Returns ``{id(tensor): (tensor, cotangent)}`` for every leaf tensor that requires grad and, when ``targets`` is
    given, for those tensors too (leaves or not). Cotangents are raw arrays unless ``create_graph``, when they are
    Tensors whose own graph can be differentiated again. Without ``retain_graph`` each node's saved arrays are
    dropped as soon as its rule has run. ``on_leaf(tensor, cotangent)`` (backward's accumulation) takes each leaf
    that has post-accumulate hooks as soon as its last contribution is summed, in the sweep, instead of the result.
    """
    from .tensor import Tensor

    wrap = Tensor._from_node
    out: dict[int, tuple[Any, Any]] = {}
    grads: dict[Node, Any] = {}
    # a max-heap on the node number: every consumer of a node is newer than it, so when a node comes off the heap
    # all the cotangents it will receive have arrived (the chain rule needs the whole dy/du before going on to du/dv)
    heap: list[tuple[int, Node]] = []
    for tensor, seed in roots:
        node = tensor._node
        if node is None:
            _accumulate(out, tensor, seed)
        elif node in grads:
            grads[node] = grads[node] + seed
        else:
            grads[node] = seed
            heapq.heappush(heap, (-node.clock, node))
    target_nodes = None
    reach = None
    if targets is not None:
        target_nodes = {t._node: t for t in targets if t._node is not None}
        if not all(t._node is not None and t._node.level for t in targets):
            reach = _leading_to(heap, targets)  # a transform's sweep keeps to its own level: no search needed
    # the contributions each leaf with a post-accumulate hook still awaits: at none, it is complete
    pending = _uses_of_hooked_leaves(heap) if on_leaf is not None and targets is None and _post_hooks else None
    push = heapq.heappush
    pop = heapq.heappop
    # create_graph: rules record their own graph. Otherwise they see plain arrays and record nothing anyway, and
    # grad mode stays as it is, so a rule that runs a transform inside (checkpoint, custom rules) still can.
    with _grad_mode(True) if create_graph else contextlib.nullcontext():
        # ``held``: a parent whose first cotangent arrived while the heap was empty, kept out of the heap and the
        # dict. When the heap is still empty after its consumer, every other consumer of it has run (each lies on
        # a path from a root, and an unfinished path keeps a node in the heap), so it goes next: a chain of ops,
        # the commonest graph, is walked without the heap.
        held: Node | None = None
        held_g: Any = None
        while True:
            if held is not None and not heap:
                node, g, held, held_g = held, held_g, None, None
            else:
                if held is not None:
                    grads[held] = held_g
                    push(heap, (-held.clock, held))
                    held = held_g = None
                if not heap:
                    break
                node = pop(heap)[1]
                g = grads.pop(node)
            if node.raw is None:
                raise _freed_error(node)
            if node.hooks is not None:
                g = run_hooks(node.hooks, g, create_graph)
            if target_nodes and node in target_nodes:
                t = target_nodes[node]
                out[id(t)] = (t, g)
            if reach is not None and not any(id(a) in reach for a in node.args):
                continue  # nothing below this node was asked for: leave it (and its saved values) alone
            vjps = node.prim.vjps
            kw = node.kwargs
            if create_graph and not node.level:
                # level 0 saved plain arrays: re-box them so the rules record a graph of their own
                ans: Any = wrap(node.ans, node)
                args: Sequence[Any] = node.args
            else:
                ans = node.ans
                args = node.raw
            i = -1
            for a in node.args:
                i += 1
                if not isinstance(a, Tensor):
                    continue
                if a._version is not None and a._version.clock > node.clock:
                    raise _modified_error(node, a)
                if not a.requires_grad or vjps[i] is None or (reach is not None and id(a) not in reach):
                    continue
                if node.level and (a._node.level if a._node is not None else 0) != node.level:
                    continue  # a box of a lower level: a constant at this node's level
                rule = vjps[i]
                if rule is unchanged:
                    c = g
                elif kw:
                    c = rule(g, ans, *args, **kw)
                elif len(args) == 1:  # a plain call for the common arities: cheaper than unpacking *args
                    c = rule(g, ans, args[0])
                elif len(args) == 2:
                    c = rule(g, ans, args[0], args[1])
                else:
                    c = rule(g, ans, *args)
                data = a.data
                if c.shape != data.shape:
                    try:
                        c = _sum_to(c, data.shape)
                    except ValueError:
                        raise _rule_shape_error(node, i, c, data) from None
                if c.dtype is not data.dtype and c.dtype != data.dtype:
                    c = in_dtype(c, data.dtype)
                parent = a._node
                if parent is None:
                    if pending and id(a) in pending:
                        _last_use(out, pending, a, c is g and not create_graph, c, on_leaf)  # type: ignore[arg-type]
                    else:
                        _accumulate(out, a, c)
                elif parent is held:
                    held_g = held_g + c
                elif parent in grads:
                    grads[parent] = grads[parent] + c
                elif held is None and not heap:
                    held, held_g = parent, c
                else:
                    grads[parent] = c
                    push(heap, (-parent.clock, parent))
            if not retain_graph:
                node.raw = None
                node.ans = None
    return out


def _last_use(out: dict[int, tuple[Any, Any]], pending: dict[int, int], leaf: Any, shared: bool, c: Any,
              on_leaf: Callable[[Any, Any], None]) -> None:
    """Add one contribution to a hooked leaf, and hand the leaf to ``on_leaf`` if it was the last. A cotangent
    passed on as it is (``shared``) may also be on its way to other nodes: the leaf gets a copy, so that a hook
    writing into ``.grad`` cannot change them."""
    key = id(leaf)
    _accumulate(out, leaf, c.copy() if shared and key not in out else c)
    pending[key] -= 1
    if not pending[key]:
        del pending[key]
        on_leaf(*out.pop(key))


def _uses_of_hooked_leaves(heap: list[tuple[int, Node]]) -> dict[int, int]:
    """For each leaf with a post-accumulate hook, the number of contributions the sweep from ``heap`` will send
    it (the edges ``run`` follows, counted the way it follows them)."""
    from .tensor import Tensor

    uses: dict[int, int] = {}
    seen: set[Node] = set()
    stack = [n for _, n in heap]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        vjps = node.prim.vjps
        for i, a in enumerate(node.args):
            if not isinstance(a, Tensor) or not a.requires_grad or vjps[i] is None:
                continue
            parent = a._node
            if node.level and (parent.level if parent is not None else 0) != node.level:
                continue
            if parent is not None:
                stack.append(parent)
            elif id(a) in _post_hooks:
                uses[id(a)] = uses.get(id(a), 0) + 1
    return uses


class RemovableHandle:
    """What registering a hook returns (PyTorch's ``torch.utils.hooks.RemovableHandle``): ``remove()`` unregisters
    it; removing twice does nothing.
    """

    __slots__ = ("_hooks", "_hook", "_on_remove")

    def __init__(self, hooks: list[Any], hook: Any, on_remove: Callable[[], None] | None = None) -> None:
        self._hooks, self._hook, self._on_remove = hooks, hook, on_remove

    def remove(self) -> None:
        """Unregister the hook."""
        for i, h in enumerate(self._hooks):
            if h is self._hook:
                del self._hooks[i]
                if self._on_remove is not None:
                    self._on_remove()
                return

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class PostAccumulateHook:
    """A post-accumulate hook, as kept in its leaf's list of hooks (beside the hooks that see the gradient, which
    skip it): the leaf owns its hooks, so a hook that refers to the leaf keeps nothing alive for ever."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], None]) -> None:
        self.fn = fn


# the live leaves that hold post-accumulate hooks, by id, weakly. Empty, which is the common case, the sweep does no
# more than before.
_post_hooks: dict[int, weakref.ref[Any]] = {}


def _holds_post_hooks(hooks: list[Any]) -> bool:
    return any(type(h) is PostAccumulateHook for h in hooks)


def add_post_accumulate_hook(leaf: Any, hook: Callable[[Any], None]) -> RemovableHandle:
    """Register ``hook(leaf)`` to run each time ``backward()`` has accumulated the leaf's gradient."""
    if leaf._hooks is None:
        leaf._hooks = []
    hooks = leaf._hooks
    entry = PostAccumulateHook(hook)
    hooks.append(entry)
    key = id(leaf)
    ref = _post_hooks.get(key)
    if ref is None or ref() is not leaf:
        def forget(dead: weakref.ref[Any]) -> None:
            if _post_hooks.get(key) is dead:
                del _post_hooks[key]

        ref = _post_hooks[key] = weakref.ref(leaf, forget)

    def forget_if_none_left() -> None:
        if _post_hooks.get(key) is ref and not _holds_post_hooks(hooks):
            del _post_hooks[key]

    return RemovableHandle(hooks, entry, forget_if_none_left)


# one list per backward() in progress (innermost last): what queue_callback adds, run once it has finished
_callbacks: list[list[Callable[[], None]]] = []


def queue_callback(callback: Callable[[], None]) -> None:
    """From a hook during ``backward()``: call ``callback()`` once that backward has finished, every leaf's
    ``.grad`` accumulated (PyTorch's ``Variable._execution_engine.queue_callback``).

    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> _ = x.register_hook(lambda g: cr.engine.queue_callback(lambda: print("done:", float(x.grad))))
    >>> (x * 3).backward()
    done: 3.0
    """
    if not _callbacks:
        raise RuntimeError("cr.engine.queue_callback is for hooks running inside backward(): no backward is running")
    _callbacks[-1].append(callback)


def run_post_accumulate_hooks(leaf: Any) -> None:
    """Call ``leaf``'s post-accumulate hooks (after its ``.grad`` has been updated), in registration order."""
    for h in list(leaf._hooks or ()):
        if type(h) is PostAccumulateHook:
            result = h.fn(leaf)
            if result is not None:
                raise RuntimeError(f"a post-accumulate-grad hook must return None, got {type(result).__name__}: it "
                                   "may set tensor.grad instead")


def _leading_to(heap: list[tuple[int, Node]], targets: Sequence[Any]) -> set[int]:
    """The ids of the tensors on some path from the roots down to a target, so a sweep for ``engine.grad``
    visits only what it needs and leaves the rest of the graph (and its saved values) alone."""
    from .tensor import Tensor

    wanted = {id(t) for t in targets}
    nodes: dict[Node, None] = {}
    stack = [n for _, n in heap]
    while stack:
        node = stack.pop()
        if node in nodes:
            continue
        nodes[node] = None
        stack.extend(a._node for a in node.args if isinstance(a, Tensor) and a._node is not None)
    # older nodes first: a node leads to a target when one of its inputs is a target or leads to one
    leads: set[Node] = set()
    through: set[int] = set()
    for node in sorted(nodes, key=lambda n: n.clock):
        for a in node.args:
            if isinstance(a, Tensor) and a.requires_grad and (id(a) in wanted or a._node in leads):
                through.add(id(a))
                leads.add(node)
    return through


def run_hooks(hooks: list[Callable[[Any], Any]], g: Any, create_graph: bool) -> Any:
    """Tensor hooks see a Tensor; one that returns a value (a Tensor or an array of the same shape) replaces the
    gradient. ``retain_grad`` runs last. ``g`` and the result are Tensors when ``create_graph``, arrays otherwise.
    A complex gradient is shown in PyTorch's convention, as ``.grad`` holds it (the engine's conjugate)."""
    if g.dtype.kind == "c":
        from .ops.elementwise import conjugate

        return conjugate(_run_hooks(hooks, conjugate(g), create_graph))
    return _run_hooks(hooks, g, create_graph)


def _run_hooks(hooks: list[Callable[[Any], Any]], g: Any, create_graph: bool) -> Any:
    from .tensor import Tensor

    for hook in sorted(hooks, key=lambda h: getattr(h, "retains_grad", False)):
        if type(hook) is PostAccumulateHook:
            continue  # runs once .grad is stored
        result = hook(g if create_graph else Tensor._from_node(g, None))
        if result is None:
            continue
        if np.shape(result) != g.shape:
            raise RuntimeError(f"a hook returned a gradient of shape {np.shape(result)} for a tensor of shape "
                               f"{g.shape}")
        xp = backend.namespace(g.data if create_graph else g)
        dtype = g.dtype
        if create_graph:
            g = result if isinstance(result, Tensor) else Tensor._from_node(xp.asarray(result, dtype=dtype), None)
        else:
            g = result.data if isinstance(result, Tensor) else xp.asarray(result, dtype=dtype)
        g = in_dtype(g, dtype)  # a hook's tensor of another dtype: the gradient keeps its own, as an array would
    return g


def grad(
    outputs: Any | Sequence[Any],
    inputs: Any | Sequence[Any],
    grad_outputs: Any | Sequence[Any] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> tuple[Any, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated into ``.grad``.

    Inputs that the outputs do not depend on get zeros. With ``create_graph`` the results are differentiable.
    Complex gradients (and ``grad_outputs``) are in PyTorch's convention, as ``Tensor.grad``: the conjugate of
    ``cr.grad``'s.

    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> (g,) = cr.engine.grad(x ** 3, x)
    >>> float(g)
    12.0
    """
    from .tensor import Tensor, _as_torch_grad, _seed

    outs: list[Any] = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    ins: list[Any] = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if grad_outputs is None:
        seeds: list[Any] = [None] * len(outs)
    else:
        seeds = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    roots = [(o, _seed(o, s, create_graph)) for o, s in zip(outs, seeds) if o.requires_grad]
    found = run(roots, create_graph=create_graph, retain_graph=create_graph if retain_graph is None else retain_graph,
                targets=ins)
    result = []
    for x in ins:
        g = found[id(x)][1] if id(x) in found else np.zeros_like(x.data)  # (on x's device: zeros_like dispatches)
        g = g if isinstance(g, Tensor) else Tensor._from_node(g, None)
        result.append(_as_torch_grad(g))
    return tuple(result)
