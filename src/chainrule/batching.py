"""vmap: a function of one example mapped over a batch, by batching rules on the primitive table.

``vmap`` opens a level and hands the function Batched boxes (primitive.py): each holds the whole batch, stacked
along axis 0, and looks like one example. A primitive applied to a box of that level runs its batching rule here,
found by name or by kind (elementwise primitives broadcast; reductions shift their axes; matmul and einsum add a
batch axis; reshape-like and indexing primitives carry it), on the stacked values: one call for the whole batch.
A primitive without a rule runs once per example and the answers are stacked (the loop fallback: slower, always
right). Rules call primitives, so lower levels record what they do: vmap nests inside and around every transform.
"""

from __future__ import annotations

import functools
import inspect
import string
from collections.abc import Callable
from typing import Any

import numpy as np

from . import backend
from .primitive import (
    REGISTRY,
    Batched,
    Example,
    Primitive,
    below_constants,
    constant_data,
    enter_level,
    exit_level,
    like,
    make_batched,
)
from .tensor import Tensor, bottom
from .tree_util import flatten_up_to, tree_flatten, tree_structure

__all__ = ["vmap"]

Rule = Callable[[Primitive, list[Any], list[bool], dict[str, Any], int], Any]
RULES: dict[str, Rule] = {}  # batching rules by primitive name; each returns the batch, or None for the loop


def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[..., Any]:
    """``f`` mapped over an axis of its arguments: ``vmap(f)(xs)[i] == f(xs[i])``, computed for the whole batch.

    ``in_axes`` says which axis of each argument is the batch: an int (negative counts from the end) or None (not
    batched) for all arguments, or a tuple with one entry per argument, each a pytree prefix of that argument
    (an int or None for a whole subtree); keyword arguments are passed as they are, unbatched (as torch.func's
    vmap does). ``out_axes`` places the batch axis in the outputs the same way. Nests
    with itself and every transform: ``vmap(grad(loss), in_axes=(None, 0, 0))`` gives per-example gradients.

    >>> import numpy as np, chainrule as cr
    >>> cr.vmap(lambda x, w: x @ w, in_axes=(0, None))(np.ones((4, 3)), np.ones((3, 2))).shape
    (4, 2)
    >>> cr.vmap(cr.grad(lambda w, x: (x * w).sum() ** 2), in_axes=(None, 0))(np.ones(2), np.eye(2)).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        axes = _in_axes(in_axes, args)
        leaves, treedef = tree_flatten(args)
        flat_axes = _leaf_axes(axes, args)
        size = _batch_size(leaves, flat_axes)
        level = enter_level()
        try:
            boxed = [x if a is None else make_batched(constant_data(_move(_array(x), a, 0)), level)
                     for x, a in zip(leaves, flat_axes)]
            out = f(*treedef.unflatten(boxed), **kwargs)
        finally:
            exit_level()
        like = next((x for x, a in zip(leaves, flat_axes) if a is not None), None)
        out_leaves, out_def = tree_flatten(out)
        axes_out = _leaf_axes(out_axes, out)
        return out_def.unflatten([_unbatch(o, a, level, size, like) for o, a in zip(out_leaves, axes_out)])

    return wrapper


# ---- in and out ----------------------------------------------------------------------------------------------
def _in_axes(in_axes: Any, args: tuple[Any, ...]) -> Any:
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if isinstance(in_axes, tuple):
        if len(in_axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(in_axes)} entries for a call with {len(args)} arguments")
        return in_axes
    return tuple(in_axes for _ in args)


def _leaf_axes(axes: Any, tree: Any) -> list[Any]:
    """One axis (or None) per leaf of ``tree``, from ``axes``, a pytree prefix of it whose leaves are ints or None."""
    prefix = tree_structure(axes, is_leaf=lambda a: a is None)
    out: list[Any] = []
    for a, sub in zip(tree_flatten(axes, is_leaf=lambda a: a is None)[0], flatten_up_to(prefix, tree)):
        if a is not None and not isinstance(a, (int, np.integer)):
            raise TypeError(f"vmap: an axis must be an int or None, got {a!r}")
        out.extend([a] * tree_structure(sub).num_leaves)
    return out


def _array(x: Any) -> Any:
    return x if isinstance(x, Tensor) or type(x) in backend.array_types else np.asarray(x)


def _batch_size(leaves: list[Any], axes: list[Any]) -> int:
    sizes: dict[int, tuple[int, ...]] = {}
    for x, a in zip(leaves, axes):
        if a is None:
            continue
        shape = _shape(_array(x))
        if not -len(shape) <= a < len(shape):
            raise ValueError(f"vmap: in_axes {a} is out of range for an argument of shape {shape}")
        sizes.setdefault(shape[a], shape)
    if not sizes:
        raise ValueError("vmap needs at least one argument with a batch axis (every in_axes entry is None)")
    if len(sizes) > 1:
        raise ValueError("vmap: the batched arguments have different batch sizes: "
                         + ", ".join(f"{n} (shape {s})" for n, s in sizes.items()))
    return next(iter(sizes))


def _move(x: Any, source: int, destination: int) -> Any:
    if source % max(len(_shape(x)), 1) == destination % max(len(_shape(x)), 1):
        return x
    if type(x) in backend.array_types:
        return backend.namespace(x).moveaxis(x, source, destination)
    from .ops.shape import moveaxis

    return moveaxis(x, source, destination)


def _unbatch(o: Any, axis: Any, level: int, size: int, like: Any) -> Any:
    """An output of the mapped function as the caller's value: the batch axis at ``axis``."""
    if type(o) is Batched and o.level == level:
        if axis is None:
            raise ValueError("vmap: out_axes is None for an output that depends on the batched inputs")
        value = o.value
    else:
        if axis is None:
            return o
        o = _array(o)
        from .ops.shape import broadcast_to

        value = broadcast_to(o, (size, *_shape(o)))
    nd = len(_shape(value))
    if not -nd <= axis < nd:
        raise ValueError(f"vmap: out_axes {axis} is out of range for an output with {nd - 1} axes per example")
    value = _move(value, 0, axis)
    if isinstance(like, Tensor) and not isinstance(value, Tensor):
        return Tensor._from_node(value, None)
    return value


# ---- applying a primitive to a batch ---------------------------------------------------------------------------
def apply(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any], level: int) -> Any:
    """``prim`` on ``args``, some of them Batched boxes of ``level``: by its batching rule, or by the loop."""
    # constants of higher reverse levels stand for the batch they hold (here when an index's batch chose this level)
    args = tuple(below_constants(a) for a in args)
    vals = list(args)
    batched = [False] * len(args)
    size, indexed = 0, False
    for i, a in enumerate(args):
        if type(a) is Batched:
            if a.level == level:
                vals[i], batched[i] = a.value, True
                size = a.data.batch.shape[0]  # type: ignore[attr-defined]
        elif type(a) is tuple:
            indexed = indexed or any(type(e) is Batched for e in a)
    rule: Rule | None = None
    if indexed:
        rule = _by_index_arrays if prim.name in ("getitem", "scatter_add") else None
    elif size or any(batched):
        rule = RULES.get(prim.name)
        # a ufunc broadcasts: also one wrapped to refuse complex values (elementwise.ordered)
        if rule is None and (prim.batching is True or isinstance(inspect.unwrap(prim.forward), np.ufunc)):
            rule = _elementwise
    if rule is not None:
        out = rule(prim, vals, batched, kwargs, size) if rule is not _by_index_arrays else _by_index_arrays(
            prim, vals, batched, kwargs, level)
        if out is not None:
            return make_batched(constant_data(out), level)
    return make_batched(constant_data(_loop(prim, args, kwargs, level)), level)


def call(prim: Primitive, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """``prim`` on arguments without boxes of this level: its forward on plain arrays, the call path otherwise (for
    tensors, and for an index holding them: cr.compile's traced index arrays record there)."""
    for a in args:
        if isinstance(a, Tensor) or (type(a) is tuple and any(isinstance(i, Tensor) for i in a)):
            return prim(*args, **kwargs)
    try:
        out = prim.forward(*args, **kwargs)
    except (ValueError, TypeError):
        return prim(*args, **kwargs)  # the call path names the primitive and the shapes
    return out if type(out) in backend.array_types else np.asarray(out)


def _example(x: Any, b: int, level: int) -> Any:
    if type(x) is Batched and x.level == level:
        return x.value[b, ...]
    if type(x) is tuple:
        return tuple(_example(i, b, level) for i in x)
    return x


def _loop(prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any], level: int) -> Any:
    """The fallback: ``prim`` once per example, the answers stacked along a new axis 0."""
    size = next(_shape(i.value)[0] for a in args for i in (a if type(a) is tuple else (a,))
                if type(i) is Batched and i.level == level)
    if size == 0:  # no example to run: the answer's shape, from a stand-in example of zeros
        stand_in = [_zero_example(a, level) for a in args]
        out = _array(call(prim, stand_in, kwargs))
        return np.zeros((0, *_shape(out)), dtype=np.result_type(bottom(out)))
    outs = [_array(call(prim, [_example(a, b, level) for a in args], kwargs)) for b in range(size)]
    if all(type(o) in backend.array_types for o in outs):
        return backend.namespace(outs[0]).stack(outs)
    from .ops.shape import stack

    return stack(outs)


def per_example(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``fn`` run once per example of the highest vmap level among ``args`` (their batches, and those inside
    tuples), the answers stacked into a batch of that level: for what cannot take the batch at once. None when
    no argument is a batch."""
    levels = [i.level for a in args for i in (a if type(a) is tuple else (a,)) if type(i) is Batched]
    if not levels:
        return None
    level = max(levels)
    size = next(_shape(i.value)[0] for a in args for i in (a if type(a) is tuple else (a,))
                if type(i) is Batched and i.level == level)
    outs = [_array(fn(*[_example(a, b, level) for a in args], **kwargs)) for b in range(size)]
    if not outs:
        raise ValueError("vmap: a batch of no examples cannot run a rule that reads values")
    if all(type(o) in backend.array_types for o in outs):
        return make_batched(backend.namespace(outs[0]).stack(outs), level)
    from .ops.shape import stack

    return make_batched(constant_data(stack(outs)), level)


def _zero_example(x: Any, level: int) -> Any:
    if type(x) is Batched and x.level == level:
        return np.zeros(x.shape, dtype=x.dtype)
    if type(x) is tuple:
        return tuple(_zero_example(i, level) for i in x)
    return x


# ---- rules -----------------------------------------------------------------------------------------------------
def _shape(x: Any) -> tuple[int, ...]:
    """The shape of the values under any boxes (``np.shape`` costs a dispatch on arrays)."""
    b = bottom(x)
    return b.shape if type(b) in backend.array_types or type(b) is Example else np.shape(b)


def _ndim(x: Any, batched: bool) -> int:
    return len(_shape(x)) - batched


def _lift(x: Any, ndim: int) -> Any:
    """A batch ``(B,) + shape`` with size-1 axes after the batch axis, so it has ``ndim`` axes per example."""
    shape = _shape(x)
    missing = ndim + 1 - len(shape)
    return x if missing <= 0 else x.reshape(shape[:1] + (1,) * missing + shape[1:])


def _elementwise(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    """Broadcasting primitives: each batch lifted to the others' number of axes, then one call."""
    nd = max(_ndim(v, b) for v, b in zip(vals, batched))
    return call(prim, [_lift(v, nd) if b else v for v, b in zip(vals, batched)], kwargs)


@functools.cache
def _default(prim: Primitive, name: str) -> Any:
    """The default of the forward's option ``name`` (``inspect.Parameter.empty`` when it has none)."""
    try:
        parameter = inspect.signature(prim.forward).parameters.get(name)
    except (TypeError, ValueError):
        return inspect.Parameter.empty
    return inspect.Parameter.empty if parameter is None else parameter.default


def _shifted(axis: Any, nd: int) -> Any:
    """Per-example axes as axes of the batch (one further right), or None when one is out of range."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    if not all(isinstance(a, (int, np.integer)) and -nd <= a < nd for a in axes):
        return None
    shifted = tuple(int(a) % nd + 1 for a in axes)
    return shifted if isinstance(axis, tuple) else shifted[0]


def _over_axis(flatten: bool) -> Rule:
    """Reductions, softmaxes and cumulative ops of one array over ``axis``. Over every axis (``axis=None``):
    the per-example axes at once, or, for those that flatten first (``flatten``), the flattened example."""

    def rule(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
        if any(batched[1:]):
            return None
        if len(vals) > 1:  # options given by position: by name from here on
            names = list(inspect.signature(prim.forward).parameters)[1:len(vals)]
            kwargs, vals = {**kwargs, **dict(zip(names, vals[1:]))}, vals[:1]
        axis = kwargs.get("axis", _default(prim, "axis"))
        v, nd = vals[0], _ndim(vals[0], True)
        if axis is inspect.Parameter.empty:
            return None
        if axis is None:
            if flatten:
                if kwargs.get("keepdims"):
                    return None
                return call(prim, [v.reshape((size, -1))], {**kwargs, "axis": 1})
            if nd == 0:
                return call(prim, [v], {**kwargs, "axis": ()}) if "keepdims" in (prim.options or ()) else None
            axis = tuple(range(nd))
        shifted = _shifted(axis, nd)
        return None if shifted is None else call(prim, [v], {**kwargs, "axis": shifted})

    return rule


for _name in ("sum", "prod", "max", "min", "logsumexp", "softmax", "log_softmax", "all", "any"):
    RULES[_name] = _over_axis(flatten=False)
for _name in ("cumsum", "cumprod", "argmax", "argmin", "argsort", "argpartition", "unwrap_offsets"):
    RULES[_name] = _over_axis(flatten=True)


def _matmul(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    """``a @ b`` over a batch: a vector operand made a matrix (a row for a, a column for b), batches lifted to a
    common number of stacked axes, one matmul, and the vector's axis dropped again."""
    a, b = vals
    na, nb = _ndim(a, batched[0]), _ndim(b, batched[1])
    if na == 0 or nb == 0:
        return None
    drop = []
    if na == 1:
        a = a.reshape((*_shape(a)[:-1], 1, _shape(a)[-1]))
        drop.append(-2)
    if nb == 1:
        b = b.reshape((*_shape(b), 1))
        drop.append(-1)
    stack = max(max(na, 2), max(nb, 2)) - 2
    a = _lift(a, stack + 2) if batched[0] else a
    b = _lift(b, stack + 2) if batched[1] else b
    # an outer product (a per-example weight gradient): NumPy's matmul over an inner axis of one is far slower
    outer = _shape(a)[-1] == 1 and _shape(b)[-2] == 1
    out = call(REGISTRY["multiply"], [a, b], {}) if outer and not kwargs else call(prim, [a, b], kwargs)
    if drop:
        shape = _shape(out)
        keep = [k for k in range(len(shape)) if k - len(shape) not in drop]
        out = out.reshape(tuple(shape[k] for k in keep))
    return out


RULES["matmul"] = _matmul


def _einsum(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    """A new label for the batch, in front of the batched operands' and the output's labels."""
    subscripts = kwargs.get("subscripts")
    if not isinstance(subscripts, str) or "->" not in subscripts:
        return None
    label = next(c for c in string.ascii_letters if c not in subscripts)
    inputs, output = subscripts.replace(" ", "").split("->")
    terms = [label + t if b else t for t, b in zip(inputs.split(","), batched)]
    return call(prim, vals, {**kwargs, "subscripts": ",".join(terms) + "->" + label + output})


RULES["einsum"] = _einsum


def _option(prim: Primitive, vals: list[Any], kwargs: dict[str, Any], position: int, name: str) -> Any:
    if len(vals) > position:
        return vals[position]
    return kwargs.get(name, _default(prim, name))


def _reshape(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    shape = _option(prim, vals, kwargs, 1, "shape")
    if (batched[1:] and any(batched[1:])) or shape is inspect.Parameter.empty:
        return None
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return vals[0].reshape((size, *shape))


def _transpose(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    axes, nd = _option(prim, vals, kwargs, 1, "axes"), _ndim(vals[0], True)
    if axes is inspect.Parameter.empty:
        return None
    order = tuple(range(nd))[::-1] if axes is None else axes
    shifted = _shifted(tuple(order), nd) if nd else ()
    return None if shifted is None else call(prim, [vals[0]], {"axes": (0, *shifted)})


def _broadcast_to(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    shape = _option(prim, vals, kwargs, 1, "shape")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return call(prim, [_lift(vals[0], len(shape)), (size, *shape)], {})


def _getitem(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    """``x[index]`` for every example: a full slice in front of the index, and the batch axis put back first where
    NumPy moves index arrays standing apart ahead of it."""
    from .ops.shape import _batch_position, moveaxis

    if len(vals) != 2 or not batched[0] or batched[1] or type(vals[1]) is not tuple:
        return None
    index = vals[1]
    out = call(prim, [vals[0], (slice(None), *index)], kwargs)
    k = _batch_position(index)
    return moveaxis(out, k, 0) if k else out


def _scatter_add(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    from .ops.shape import _batch_position, moveaxis

    if len(vals) != 3 or not batched[0] or any(batched[1:]) or type(vals[1]) is not tuple:
        return None
    g, index, shape = vals
    k = _batch_position(index)
    return call(prim, [moveaxis(g, 0, k) if k else g, (slice(None), *index), (size, *shape)], kwargs)


def _concatenate(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
    from .ops.shape import broadcast_to

    axis = kwargs.get("axis", 0)
    nd = max(_ndim(v, b) for v, b in zip(vals, batched))
    shifted = _shifted(axis, nd) if isinstance(axis, (int, np.integer)) else None
    if shifted is None:
        return None
    full = [v if b else broadcast_to(v, (size, *_shape(v))) for v, b in zip(vals, batched)]
    return call(prim, full, {**kwargs, "axis": shifted})


def _by_index_arrays(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], level: int) -> Any:
    """``x[index]`` (and its adjoint, scatter_add) where the index holds batches of index arrays (labels): for an
    index of integer arrays alone, one advanced index with ``arange(B)`` in front picks every example's entries."""
    index = vals[1]
    if any(batched[1:]) or not all(type(i) is Batched or type(i) in backend.array_types for i in index):
        return None
    arrays = [(i.value, True) if type(i) is Batched and i.level == level else (i, False) for i in index]
    if any(type(i) is Batched or bottom(i).dtype.kind not in "iu" for i, _ in arrays):
        return None  # a batch of another level, or a mask
    size = next(_shape(i)[0] for i, b in arrays if b)
    nd = max(len(_shape(i)) - b for i, b in arrays)
    examples = like(np.arange(size).reshape((size,) + (1,) * nd), arrays[0][0])
    lifted = tuple(_lift(i, nd) if b else i for i, b in arrays)
    x = vals[0]
    if prim.name == "getitem":
        return call(prim, [x, (examples, *lifted) if batched[0] else lifted], kwargs)
    from .ops.shape import broadcast_to

    g = x if batched[0] else broadcast_to(x, (size, *_shape(x)))
    return call(prim, [g, (examples, *lifted), (size, *vals[2])], kwargs)


def _over_images(positions: tuple[int, ...]) -> Rule:
    """Convolutions and pools, whose inputs at ``positions`` lead with an axis of images each computed alone:
    the batch merged into that axis, one call, and split out again. Weights must not be batched (the loop)."""

    def rule(prim: Primitive, vals: list[Any], batched: list[bool], kwargs: dict[str, Any], size: int) -> Any:
        if any(b for i, b in enumerate(batched) if i not in positions) or any(
                _ndim(vals[i], batched[i]) != 4 for i in positions if i < len(vals)):
            return None
        from .ops.shape import broadcast_to

        merged = list(vals)
        for i in positions:
            v = vals[i] if batched[i] else broadcast_to(vals[i], (size, *_shape(vals[i])))
            merged[i] = v.reshape((-1, *_shape(v)[2:]))
        out = call(prim, merged, kwargs)
        return out.reshape((size, -1, *_shape(out)[1:]))

    return rule


for _name, _positions in (("conv2d", (0,)), ("conv_transpose2d", (0,)), ("max_pool2d", (0,)), ("avg_pool2d", (0,)),
                          ("adaptive_avg_pool2d", (0,)), ("avg_pool2d_transpose", (0,)),
                          ("max_pool2d_gather", (0, 1)), ("max_pool2d_scatter", (0, 1))):
    RULES[_name] = _over_images(_positions)

RULES.update(reshape=_reshape, transpose=_transpose, broadcast_to=_broadcast_to, getitem=_getitem,
             scatter_add=_scatter_add, concatenate=_concatenate)
