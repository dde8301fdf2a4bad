"""Function transforms: grad, value_and_grad, vjp, jvp, linearize, jacobians, hessians, checkpointing, custom rules.

Each transform opens a level (``primitive.enter_level``) and differentiates what its function computes at that level
only, so transforms nest to any depth, in any order, without confusing one level's perturbation with another's.
Functions may take plain ndarrays, Python floats or Tensors, and pytrees of them (nested tuples, lists, dicts and
namedtuples: ``chainrule.tree_util``); results come in the same structure. Results are ndarrays for ndarray inputs
and Tensors for Tensor inputs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import backend, engine, random
from .primitive import (
    Batched,
    Dual,
    Example,
    Traced,
    enter_level,
    exit_level,
    level_of,
    lift,
    lower,
    make_batched,
    make_dual,
    stack_batch,
)
from .tensor import Tensor, _traced_in, bottom, values
from .tree_util import tree_flatten

Tree = Any
ArgNums = int | Sequence[int]

__all__ = [
    "checkpoint",
    "custom_jvp",
    "custom_vjp",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "linearize",
    "stop_gradient",
    "value_and_grad",
    "vjp",
]


# ---- pytrees: every transform takes and returns them, through tree_util ----------------------------------------------
def _flatten(tree: Tree) -> tuple[list[Any], Callable[[Any], Tree]]:
    """The leaves of ``tree`` in order, and a function that builds the same structure from new leaves."""
    leaves, treedef = tree_flatten(tree)
    return leaves, treedef.unflatten


def _argnums(argnums: ArgNums, n: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n <= i < n:
            raise ValueError(f"argnums {argnums} is out of range for a function called with {n} arguments")
    return tuple(i % n for i in nums)


def _check_float(leaf: Any, where: str) -> None:
    dtype = np.result_type(leaf.dtype if isinstance(leaf, Tensor) else values(leaf))
    if not np.issubdtype(dtype, np.inexact):
        raise TypeError(
            f"{where} has dtype {dtype}: only floating-point (or complex) inputs can be differentiated "
            "(convert it, e.g. x.astype(np.float64), or leave it out of argnums)"
        )


def _is_float(x: Any) -> bool:
    """A value that can be differentiated: floating point, or a box of an enclosing transform."""
    if level_of(x) >= 0 or isinstance(x, (float, complex)):
        return True
    return (isinstance(x, (np.generic, Tensor)) or type(x) in backend.array_types) and np.issubdtype(
        values(x).dtype, np.inexact)


def _float_array(x: Any) -> Any:
    """Python numbers become float64 (complex: complex128) arrays; arrays, Tensors and boxes stay as they are."""
    if isinstance(x, complex):
        return np.asarray(x, dtype=np.complex128)
    return np.asarray(x, dtype=np.float64) if isinstance(x, (int, float)) else x


def _meta(x: Any) -> Any:
    """What shapes, dtypes and zeros are read from: ``x``'s values, or under vmap the Example standing for them."""
    b = bottom(x)
    return b if type(b) is Example else values(b)


def _device(v: Any) -> str:
    return v.device if type(v) is Example else backend.device_of(v)


def _array_like(c: Any, ref: Any) -> Any:
    """A constant (a number, a list, an array) as an array of ``ref``'s dtype on ``ref``'s device."""
    m = _meta(ref)
    if type(m) is Example:
        return backend.to_device(np.asarray(values(c), dtype=m.dtype), m.device)
    return backend.namespace(m).asarray(values(c), dtype=m.dtype)


def _as_user(value: Any, like: Any) -> Any:
    """A result in the user's terms: a Tensor when the input was one, a plain array otherwise; boxes of outer
    levels pass through untouched (the enclosing transform differentiates them)."""
    if level_of(value) >= 0:
        return value
    user_tensor = isinstance(like, Tensor) and level_of(like) < 0
    if isinstance(value, Tensor) and type(value.data) is Traced:  # cr.compile's box, in a tensor: kept, traced
        return value if user_tensor else value.data
    value = values(value)
    return Tensor(value) if user_tensor else value


# ---- reverse mode ------------------------------------------------------------------------------------------------
class _Traced:
    """The arguments of one transform call with the differentiated leaves lifted to the transform's level."""

    def __init__(self, args: tuple[Any, ...], argnums: tuple[int, ...], level: int, check: bool = True) -> None:
        self.args = list(args)
        self.originals: list[list[Any]] = []
        self.inputs: list[list[Tensor]] = []
        self.builds: list[Callable[[list[Any]], Tree]] = []
        for i in argnums:
            leaves, build = _flatten(args[i])
            if check:
                for leaf in leaves:
                    _check_float(leaf, f"argument {i}")
            lifted = [lift(_float_array(leaf), level) for leaf in leaves]
            self.originals.append(leaves)
            self.inputs.append(lifted)
            self.builds.append(build)
            self.args[i] = build(lifted)

    def flat_inputs(self) -> list[Tensor]:
        return [x for xs in self.inputs for x in xs]

    def unflatten(self, flat: list[Any]) -> list[Tree]:
        out, k = [], 0
        for originals, build in zip(self.originals, self.builds):
            n = len(originals)
            out.append(build([_as_user(g, x) for g, x in zip(flat[k:k + n], originals)]))
            k += n
        return out


def _backward(outputs: list[Any], cotangents: list[Any], inputs: list[Tensor], level: int,
              retain_graph: bool) -> list[Any]:
    """Cotangents of ``inputs`` (one level's lifted variables) for the given output cotangents. Only outputs of
    this level take part: an output that does not depend on the inputs belongs to another level's graph, which is
    left alone."""
    roots = [(o, c) for o, c in zip(outputs, cotangents) if type(o) is not Dual and level_of(o) == level]
    found = engine.run(roots, create_graph=True, retain_graph=retain_graph, targets=inputs) if roots else {}
    return [found[id(x)][1] if id(x) in found else _zeros_like(lower(x)) for x in inputs]


def _strip(tree: Tree, level: int) -> Tree:
    """``tree`` with this level's boxes replaced by their values one level down (auxiliary outputs leave the
    transform as plain values, like its primal output)."""
    leaves, build = _flatten(tree)
    return build([x.primal if type(x) is Dual and x.level == level else lower(x) if level_of(x) == level else x
                  for x in leaves])


def _zeros_like(x: Any) -> Any:
    return np.zeros_like(_meta(x))  # on x's device: zeros_like dispatches to its array library


def _scalar_output(out: Any, name: str) -> None:
    shape = np.shape(_meta(out))
    if shape != ():
        raise TypeError(
            f"{name} needs a function with a scalar output, got shape {shape}: use cr.jacobian (or cr.vjp) for "
            "vector outputs, or reduce the output first (e.g. .sum())"
        )


def _complex_check(name: str, inputs: Sequence[Any], outs: Sequence[Any], holomorphic: bool, real: str) -> None:
    """JAX's rule for complex values: ``name`` needs real outputs (``real="output"``: grad, jacobian) or real
    inputs (``real="input"``: jacfwd), unless ``holomorphic``, which needs complex inputs and complex outputs.
    Reads dtypes only (``_meta``), so it holds under vmap too."""
    ins = [_meta(x).dtype.kind == "c" for x in inputs]
    kinds = [_meta(o).dtype for o in outs]
    dtype = next((d for d in kinds if d.kind == "c"), kinds[0] if kinds else np.dtype(float))
    if holomorphic:
        if not (all(ins) and kinds and all(d.kind == "c" for d in kinds)):
            raise TypeError(f"{name}(holomorphic=True) needs complex inputs and a complex output; convert the "
                            "inputs (x.astype(np.complex128)) or drop holomorphic=True")
    elif real == "output" and dtype.kind == "c":
        raise TypeError(f"{name} needs a real-valued output, got dtype {dtype}: differentiate a real function of it "
                        "(cr.real(y), cr.abs(y) ** 2), use cr.vjp, or pass holomorphic=True when the function is "
                        "holomorphic (its derivative is then f'(z))")
    elif real == "input" and any(ins):
        raise TypeError(f"{name} needs real inputs, got a complex one: pass holomorphic=True when the function is "
                        "holomorphic; otherwise take derivatives along the real and imaginary parts (cr.jvp)")


def value_and_grad(f: Callable[..., Any], argnums: ArgNums = 0, has_aux: bool = False,
                   holomorphic: bool = False) -> Callable[..., Any]:
    """``f`` and its gradient with respect to the arguments ``argnums``, in one call: ``(value, grad)``.

    With ``has_aux``, ``f`` returns ``(value, aux)`` and the result is ``((value, aux), grad)``. For complex inputs
    and a real output the gradient is dL/dx - i dL/dy (HIPS autograd's and JAX's convention: step with
    ``z - lr * conj(g)``); ``holomorphic=True`` takes a complex output of a holomorphic f and gives f'(z).

    >>> import numpy as np, chainrule as cr
    >>> value, g = cr.value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    >>> float(value), g.tolist()
    (5.0, [2.0, 4.0])
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args))
        level = enter_level()
        try:
            traced = _Traced(args, nums, level)
            with engine.enable_grad():  # a transform differentiates whatever the ambient grad mode
                result = f(*traced.args, **kwargs)
        finally:
            exit_level()
        out, aux = result if has_aux else (result, None)
        _scalar_output(out, "grad")
        _complex_check("grad", traced.flat_inputs(), [out], holomorphic, "output")
        seed = np.ones_like(_meta(out))
        grads = traced.unflatten(_backward([out], [seed], traced.flat_inputs(), level, retain_graph=False))
        value = _as_user(lower(out), args[nums[0]])
        g = grads[0] if isinstance(argnums, int) else tuple(grads)
        return ((value, _strip(aux, level)) if has_aux else value), g

    return wrapper


def grad(f: Callable[..., Any], argnums: ArgNums = 0, has_aux: bool = False,
         holomorphic: bool = False) -> Callable[..., Any]:
    """The gradient of a scalar function: ``grad(f)(x)`` is df/dx, with x's shape (and structure).

    ``argnums`` picks the arguments (an int, or a tuple for a tuple of gradients). Nests freely:
    ``grad(grad(f))`` is the second derivative. On complex inputs z = x + iy of a real f, the gradient is
    df/dx - i df/dy (the conjugate of PyTorch's ``.grad``; descend with ``z - lr * conj(g)``). A complex output is
    refused unless ``holomorphic=True``, which gives f'(z).

    >>> import chainrule as cr
    >>> d2 = cr.grad(cr.grad(lambda x: x ** 3))
    >>> float(d2(2.0))
    12.0
    >>> complex(cr.grad(lambda z: z ** 3, holomorphic=True)(1j))  # 3 z^2
    (-3+0j)
    >>> complex(cr.grad(lambda z: cr.abs(z) ** 2)(1 + 2j))  # d/dx - i d/dy of x^2 + y^2
    (2-4j)
    """
    value_grad = value_and_grad(f, argnums, has_aux, holomorphic)

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        value, g = value_grad(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> Any:
    """``(f(*primals), vjp_fn)``: ``vjp_fn(cotangent)`` maps an output cotangent to the primals' cotangents.

    ``vjp_fn`` may be called many times (the graph is kept until ``vjp_fn`` is dropped).

    >>> import numpy as np, chainrule as cr
    >>> y, vjp_fn = cr.vjp(lambda x: x * x, np.array([1.0, 3.0]))
    >>> vjp_fn(np.array([1.0, 1.0]))[0].tolist()
    [2.0, 6.0]
    """
    level = enter_level()
    try:
        traced = _Traced(primals, tuple(range(len(primals))), level)
        with engine.enable_grad():
            result = f(*traced.args)
    finally:
        exit_level()
    out, aux = result if has_aux else (result, None)
    outs, build_out = _flatten(out)
    inputs = traced.flat_inputs()

    def vjp_fn(cotangent: Tree) -> tuple[Any, ...]:
        cots, _ = _flatten(cotangent)
        if len(cots) != len(outs):
            raise ValueError(f"vjp_fn got {len(cots)} cotangents for {len(outs)} outputs")
        for o, c in zip(outs, cots):
            if np.shape(_meta(c)) != np.shape(_meta(o)):
                raise ValueError(f"vjp_fn: cotangent of shape {np.shape(_meta(c))} for an output of shape "
                                 f"{np.shape(_meta(o))}")
        # plain numbers and lists become arrays of the output's dtype, as the engine's rules expect
        cots = [c if level_of(c) >= 0 else _array_like(c, o) for o, c in zip(outs, cots)]
        return tuple(traced.unflatten(_backward(outs, cots, inputs, level, retain_graph=True)))

    primal_out = build_out([_as_user(lower(o), primals[0] if primals else None) for o in outs])
    return (primal_out, vjp_fn, _strip(aux, level)) if has_aux else (primal_out, vjp_fn)


def _arguments_tree(args: tuple[Any, ...], nums: tuple[int, ...], argnums: ArgNums) -> Tree:
    """The arguments differentiated, as one pytree: the argument itself for an int ``argnums``, else a tuple."""
    return args[nums[0]] if isinstance(argnums, int) else tuple(args[i] for i in nums)


def _with_arguments(args: tuple[Any, ...], nums: tuple[int, ...], argnums: ArgNums, tree: Tree) -> list[Any]:
    """``args`` with the differentiated arguments replaced by those of ``tree`` (as ``_arguments_tree`` made it)."""
    new = list(args)
    for i, part in zip(nums, (tree,) if isinstance(argnums, int) else tree):
        new[i] = part
    return new


def _jacobian_tree(out_leaves: list[Any], out_build: Callable[[Any], Tree], in_leaves: list[Any],
                   in_build: Callable[[Any], Tree], block: Callable[[int, int], Any]) -> Tree:
    """The Jacobian as JAX lays it out: the output's structure, each output leaf holding the inputs' structure,
    with blocks ``block(k, j)`` of shape ``out_leaves[k].shape + in_leaves[j].shape``."""
    return out_build([in_build([_as_user(block(k, j), x) for j, x in enumerate(in_leaves)])
                      for k in range(len(out_leaves))])


def jacobian(f: Callable[..., Any], argnums: ArgNums = 0, holomorphic: bool = False) -> Callable[..., Any]:
    """The Jacobian by reverse mode, one VJP per output entry (alias ``jacrev``). For an array in and an array
    out its shape is ``out.shape + x.shape``; for pytrees it is the output's structure holding, at each output leaf,
    the inputs' structure of blocks ``out_leaf.shape + in_leaf.shape`` (a tuple over ``argnums`` when it is one).
    A complex output needs ``holomorphic=True`` (entries f_k'(z)), as for ``grad``.

    >>> import numpy as np, chainrule as cr
    >>> cr.jacobian(lambda x: x ** 2)(np.array([1.0, 2.0])).tolist()
    [[2.0, 0.0], [0.0, 4.0]]
    >>> j = cr.jacobian(lambda p: {"y": p["a"] * p["b"]})({"a": np.array(2.0), "b": np.array(3.0)})
    >>> float(j["y"]["a"]), float(j["y"]["b"])
    (3.0, 2.0)
    """

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        nums = _argnums(argnums, len(args))
        in_leaves, in_build = _flatten(_arguments_tree(args, nums, argnums))
        structure: list[Callable[[Any], Tree]] = []

        def flat(*leaves: Any) -> list[Any]:
            outs, build = _flatten(f(*_with_arguments(args, nums, argnums, in_build(list(leaves)))))
            structure.append(build)
            return outs

        outs, vjp_fn = vjp(flat, *in_leaves)
        _complex_check("jacobian", in_leaves, outs, holomorphic, "output")
        out_values = [_meta(o) for o in outs]
        zeros = [np.zeros_like(v) for v in out_values]  # on v's device: zeros_like dispatches
        rows: list[list[list[Any]]] = []  # rows[k][entry of output k] = the cotangents of every input leaf
        for k, v in enumerate(out_values):
            rows.append([])
            for e in range(v.size):
                seed = np.zeros(v.shape, dtype=v.dtype)
                seed.flat[e] = 1.0
                cots = list(zeros)
                cots[k] = backend.to_device(seed, _device(v))
                rows[k].append(vjp_fn(cots))

        def block(k: int, j: int) -> Any:
            shape = tuple(out_values[k].shape) + tuple(np.shape(_meta(in_leaves[j])))
            if not rows[k]:
                return np.zeros(shape, dtype=out_values[k].dtype)
            from .ops.shape import reshape, stack

            return reshape(stack([reshape(r[j], (-1,)) for r in rows[k]], axis=0), shape)

        return _jacobian_tree(outs, structure[0], in_leaves, in_build, block)

    return wrapper


jacrev = jacobian


# ---- forward mode ------------------------------------------------------------------------------------------------
def jvp(f: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> Any:
    """``(f(*primals), J @ tangents)`` in one forward pass, by each primitive's JVP rule (true forward mode: memory
    does not grow with the length of the computation).

    >>> import numpy as np, chainrule as cr
    >>> y, t = cr.jvp(cr.sin, (np.array(0.0),), (np.array(1.0),))
    >>> float(y), float(t)
    (0.0, 1.0)
    """
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals but {len(tangents)} tangents")
    level = enter_level()
    try:
        args = []
        for i, (p, t) in enumerate(zip(primals, tangents)):
            leaves, build = _flatten(p)
            tleaves, _ = _flatten(t)
            if len(leaves) != len(tleaves):
                raise ValueError(f"jvp: primal {i} and its tangent have different structures")
            duals = []
            for leaf, tl in zip(leaves, tleaves):
                _check_float(leaf, f"primal {i}")
                if np.shape(_meta(leaf)) != np.shape(_meta(tl)):
                    raise ValueError(f"jvp: tangent of shape {np.shape(_meta(tl))} for a primal of shape "
                                     f"{np.shape(_meta(leaf))}")
                duals.append(make_dual(_float_array(leaf), _float_array(tl), level))
            args.append(build(duals))
        result = f(*args)
    finally:
        exit_level()
    out, aux = result if has_aux else (result, None)
    outs, build_out = _flatten(out)
    like = primals[0] if primals else None
    values, slopes = [], []
    for o in outs:
        if type(o) is Dual and o.level == level:
            values.append(_as_user(o.primal, like))
            slopes.append(_as_user(o.tangent, like))
        else:
            values.append(_as_user(o, like))
            slopes.append(_as_user(_zeros_like(o), like))
    pair = (build_out(values), build_out(slopes))
    return (*pair, _strip(aux, level)) if has_aux else pair


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``(f(*primals), jvp_fn)`` where ``jvp_fn(*tangents)`` is the derivative at ``primals`` applied to tangents.

    >>> import numpy as np, chainrule as cr
    >>> y, df = cr.linearize(cr.exp, np.array(0.0))
    >>> float(df(np.array(2.0)))
    2.0
    """
    out = f(*primals)
    return out, lambda *tangents: jvp(f, primals, tangents)[1]


def jacfwd(f: Callable[..., Any], argnums: ArgNums = 0, holomorphic: bool = False) -> Callable[..., Any]:
    """The Jacobian by forward mode, laid out as ``jacobian``'s: one pass that pushes every basis tangent of the
    inputs at once (a batched forward level: each tangent carries a leading axis, one entry per input entry).
    A complex input needs ``holomorphic=True`` (the real basis then gives f'(z)).

    >>> import numpy as np, chainrule as cr
    >>> cr.jacfwd(lambda x: x[0] * x[1])(np.array([2.0, 3.0])).tolist()
    [3.0, 2.0]
    >>> cr.jacfwd(lambda x, y: x * y, argnums=(0, 1))(np.array(2.0), np.array(3.0))
    (array(3.), array(2.))
    """

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        nums = _argnums(argnums, len(args))
        in_leaves, in_build = _flatten(_arguments_tree(args, nums, argnums))
        in_leaves = [_float_array(x) for x in in_leaves]
        starts = [0]
        for x in in_leaves:
            _check_float(x, f"argument {nums[0] if isinstance(argnums, int) else argnums}")
            starts.append(starts[-1] + int(np.prod(np.shape(_meta(x)), dtype=np.int64)))
        n = starts[-1]
        level = enter_level()
        try:
            duals = []
            for j, x in enumerate(in_leaves):
                v = _meta(x)
                basis = np.eye(n, dtype=v.dtype)[:, starts[j]:starts[j + 1]].reshape((n, *v.shape))
                duals.append(make_dual(x, backend.to_device(basis, _device(v)), level, batched=True)
                             if n else x)
            outs, out_build = _flatten(f(*_with_arguments(args, nums, argnums, in_build(duals))))
        finally:
            exit_level()
        _complex_check("jacfwd", in_leaves, outs, holomorphic, "input")
        # each output's tangents, (n,) + out.shape, turned to out.shape + (n,): its Jacobian against all inputs
        columns: list[Any] = []
        for k, o in enumerate(outs):
            if type(o) is Dual and o.level == level:
                from .ops.shape import transpose

                outs[k], t = o.primal, o.tangent
                columns.append(transpose(t, (*range(1, t.ndim), 0)))
            else:
                columns.append(None)

        def block(k: int, j: int) -> Any:
            out_shape = tuple(np.shape(_meta(outs[k])))
            shape = out_shape + tuple(np.shape(_meta(in_leaves[j])))
            if columns[k] is None:
                return np.zeros_like(_meta(outs[k]), shape=shape)
            from .ops.shape import reshape

            return reshape(columns[k][..., starts[j]:starts[j + 1]], shape)

        return _jacobian_tree(outs, out_build, in_leaves, in_build, block)

    return wrapper


def hessian(f: Callable[..., Any], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function, forward over reverse: ``jacfwd(grad(f))``, shape ``x.shape + x.shape``
    (for pytrees, the inputs' structure nested in itself, as JAX's).

    >>> import numpy as np, chainrule as cr
    >>> cr.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0])).tolist()
    [[4.0, 2.0], [2.0, 0.0]]
    """
    return jacfwd(grad(f, argnums), argnums)


def hvp(f: Callable[..., Any], x: Any, v: Any) -> Any:
    """The Hessian-vector product H(x) @ v without forming H: the forward derivative of the gradient along v.

    >>> import numpy as np, chainrule as cr
    >>> cr.hvp(lambda x: (x ** 3).sum(), np.array([1.0, 2.0]), np.array([1.0, 0.0])).tolist()
    [6.0, 0.0]
    """
    return jvp(grad(f), (x,), (v,))[1]


# ---- stopping, checkpointing, custom rules -------------------------------------------------------------------------
def stop_gradient(x: Tree) -> Tree:
    """``x``'s value as a constant at every level: no gradient flows through it. Nested tuples, lists and dicts
    come back in the same structure, each tensor in them a constant.

    >>> import chainrule as cr
    >>> float(cr.grad(lambda x: x * cr.stop_gradient(x))(3.0))
    3.0
    """
    leaves, build = _flatten(x)
    return build([_stopped(leaf) for leaf in leaves])


def _stopped(x: Any) -> Any:
    if type(x) is Batched:  # a batch under vmap: its examples stopped, still a batch
        return make_batched(stop_gradient(x.value), x.level)
    if type(x) is Dual:  # its primal stopped (which may be a batch, or a box of a lower level)
        return _stopped(x.primal)
    if not isinstance(x, Tensor):
        return x
    traced = _traced_in(x)  # cr.compile's box: no gradient of its own, and no values to take (a replay computes them)
    if traced is not None:
        return traced
    if isinstance(x.data, Tensor):  # a box over a lower level's: that one stopped (it may be vmap's batch)
        return _stopped(x.data)
    return Tensor._from_node(x.data, None)


def decision_values(x: Any) -> Any:
    """What a decision on ``x``'s values (a permutation, a mask, a count) computes with: the values themselves, the
    array at the bottom of any boxes, where there are some, so that it is a plain call on them; else (a box of vmap
    or cr.compile, whose values come with the batch or the replay) the box stopped, so that it records.

    >>> import chainrule as cr
    >>> decision_values(cr.tensor([2.0, 1.0], requires_grad=True) * 3)
    array([6., 3.])
    """
    v = bottom(x)
    return v if type(v) is not Example else _stopped(x)


class custom_vjp:
    """A function with a reverse-mode rule of your own (JAX's convention).

    ``f.defvjp(fwd, bwd)``: ``fwd(*args) -> (out, residuals)``; ``bwd(residuals, g) -> tuple`` of one cotangent per
    argument (None for no gradient). Arguments, outputs and cotangents may be pytrees (``g`` has the output's
    structure, each cotangent its argument's). ``bwd`` written with chainrule functions is itself differentiable.
    Forward mode differentiates ``f``'s own body; under vmap the rule runs once per example.

    >>> import numpy as np, chainrule as cr
    >>> @cr.custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (cr.clip(g, -1.0, 1.0),))
    >>> cr.grad(lambda x: (5.0 * clip_gradient(x)).sum())(np.array([1.0])).tolist()
    [1.0]
    """

    def __init__(self, f: Callable[..., Any]) -> None:
        functools.update_wrapper(self, f)
        self.f = f
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any]) -> None:
        self.fwd, self.bwd = fwd, bwd

    def __call__(self, *args: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise TypeError(f"custom_vjp function {self.f.__name__!r} has no rule yet: call .defvjp(fwd, bwd) first")
        leaves, build = _flatten(args)
        top = max((level_of(a) for a in leaves), default=-1)
        if top < 0 or any(type(a) is Dual and a.level == top for a in leaves):
            return self.f(*args)  # nothing to differentiate here, or forward mode: through f's own primitives
        if any(type(a) is Batched and a.level == top for a in leaves):
            return _each_example(self, leaves, build)
        return _record_custom(self.fwd, self.bwd, args, top, self.f.__name__)


def _each_example(f: Callable[..., Any], leaves: list[Any], build: Callable[[Any], Tree]) -> Any:
    """A custom rule under vmap: once per example, so the rule (user code, which may read values) sees one."""
    from .batching import per_example

    layout: list[Any] = []

    def one(*xs: Any) -> Any:
        out_leaves, out_build = _flatten(f(*build(list(xs))))
        packed, places = _packed(out_leaves)
        layout[:] = [out_build, places]
        return packed

    flat = per_example(one, tuple(leaves), {})
    return layout[0](_unpacked(flat, layout[1]))


def _packed(leaves: list[Any]) -> tuple[Any, list[tuple[int, tuple[int, ...]]]]:
    """Array leaves of one dtype as one flat array (so one node can carry several outputs), and where each lies."""
    from .ops.shape import concatenate, reshape

    if len(leaves) == 1:
        return leaves[0], []
    dtypes = {np.result_type(_meta(x)) for x in leaves}
    if len(dtypes) > 1:
        raise TypeError(f"a custom rule (and checkpoint) with several outputs needs them of one dtype, got "
                        f"{sorted(map(str, dtypes))}: cast them to one")
    places, start = [], 0
    for x in leaves:
        shape = tuple(np.shape(_meta(x)))
        places.append((start, shape))
        start += int(np.prod(shape, dtype=np.int64))
    return concatenate([reshape(x, (-1,)) for x in leaves]), places


def _unpacked(flat: Any, places: list[tuple[int, tuple[int, ...]]]) -> list[Any]:
    from .ops.shape import reshape

    if not places:
        return [flat]
    return [reshape(flat[a:a + int(np.prod(shape, dtype=np.int64))], shape) for a, shape in places]


def _record_custom(fwd: Callable[..., Any], bwd: Callable[..., Any], args: tuple[Any, ...], level: int,
                   name: str) -> Any:
    """Run ``fwd`` one level down and record a node at ``level`` whose VJP is ``bwd`` (run once per backward).
    Arguments and outputs may be pytrees: the node takes the arguments' leaves, and the outputs' leaves packed
    into one array (split again at ``level``, so each output's cotangent comes back in place)."""
    from .primitive import Primitive, constant_data, record, unwrap

    leaves, build = _flatten(args)
    counts = [len(_flatten(a)[0]) for a in args]
    raw = unwrap(leaves, level)[0]
    out, residuals = fwd(*build(raw))  # one level down: lower levels record fwd's own operations
    out_leaves, out_build = _flatten(out)
    if not out_leaves:
        raise TypeError(f"custom_vjp {name!r} returned no array: a custom rule needs at least one output")
    packed, places = _packed([constant_data(o) for o in out_leaves])
    packed = constant_data(packed)
    last: list[Any] = [None, None, -1]  # the cotangent bwd last ran for, its answer, the last input served

    def cotangent(i: int, g: Any, ans: Any, *saved: Any) -> Any:
        # the engine asks for the inputs' cotangents one after another, in increasing i: bwd runs once per pass
        if last[0] is not g or i <= last[2]:
            # under create_graph the engine hands back level-0 tensors: residuals must then depend on them too
            res = fwd(*build(list(saved)))[1] if any(level_of(a) >= 0 for a in saved) and level == 0 else residuals
            cots = bwd(res, out_build(_unpacked(g, places)))
            if not isinstance(cots, tuple) or len(cots) != len(args):
                raise TypeError(f"custom_vjp {name!r}: bwd must return a tuple of {len(args)} cotangents")
            flat: list[Any] = []
            for c, n in zip(cots, counts):
                parts = [None] * n if c is None else _flatten(c)[0]
                if len(parts) != n:
                    raise TypeError(f"custom_vjp {name!r}: bwd returned a cotangent of another structure than its "
                                    "argument")
                flat.extend(parts)
            last[:] = [g, flat, i]
        last[2] = i
        c = last[1][i]
        if c is None:  # no gradient: a zero of the input's shape and the cotangent's dtype
            return np.zeros_like(_meta(leaves[i]), dtype=_meta(g).dtype)
        if not hasattr(c, "shape"):
            c = _array_like(c, g)  # a Python number
        if tuple(c.shape) != tuple(np.shape(_meta(leaves[i]))):
            raise ValueError(f"custom_vjp {name!r}: bwd returned a cotangent of shape {tuple(c.shape)} for an "
                             f"argument of shape {np.shape(_meta(leaves[i]))}")
        return c

    def no_jvp(i: int, t: Any, ans: Any, *_: Any) -> Any:
        raise TypeError(f"custom_vjp {name!r}: forward mode goes through the function itself, not its VJP")

    prim = Primitive(f"custom_vjp:{name}", lambda *a: packed, vjp=cotangent, jvp=no_jvp, variadic=True,
                     register=False, reference=lambda *a: packed)
    node = record(prim, tuple(leaves), raw, {}, packed, level)
    return out_build(_unpacked(node, places))


class custom_jvp:
    """A function with a forward-mode rule of your own (JAX's convention).

    ``f.defjvp(rule)`` with ``rule(primals, tangents) -> (out, tangent_out)``. Reverse mode uses the same rule: the
    tangent map is linear, and its transpose (the VJP) is found by differentiating it in reverse.

    >>> import numpy as np, chainrule as cr
    >>> @cr.custom_jvp
    ... def log1pexp(x):
    ...     return cr.log(1 + cr.exp(x))
    >>> log1pexp.defjvp(lambda p, t: (log1pexp(p[0]), t[0] * cr.sigmoid(p[0])))
    >>> print(f"{float(cr.grad(log1pexp)(2.0)):.6f}")
    0.880797
    """

    def __init__(self, f: Callable[..., Any]) -> None:
        functools.update_wrapper(self, f)
        self.f = f
        self.rule: Callable[..., Any] | None = None

    def defjvp(self, rule: Callable[..., Any]) -> None:
        self.rule = rule

    def __call__(self, *args: Any) -> Any:
        rule = self.rule
        if rule is None:
            raise TypeError(f"custom_jvp function {self.f.__name__!r} has no rule yet: call .defjvp(rule) first")
        top = max((level_of(a) for a in args), default=-1)
        if top < 0:
            return self.f(*args)
        if any(type(a) is Batched and a.level == top for a in args):
            return _each_example(self, list(args), tuple)
        duals = [type(a) is Dual and a.level == top for a in args]
        if any(duals):
            primals = [a.primal if d else a for a, d in zip(args, duals)]
            tangents = [a.tangent if d else _zeros_like(a) for a, d in zip(args, duals)]
            first = next(a for a, d in zip(args, duals) if d)
            if not first.batched:
                out, t_out = rule(primals, tangents)
                return make_dual(out, t_out, top)
            # a batch of tangents: the user's rule takes one at a time
            pairs = [rule(primals, [t[b] if d else t for t, d in zip(tangents, duals)])
                     for b in range(first.tangent.shape[0])]
            out = pairs[0][0]
            t_out = stack_batch([p[1] for p in pairs], out)
            return make_dual(out, t_out, top, batched=True)

        def fwd(*raw: Any) -> tuple[Any, Any]:
            return rule(list(raw), [_zeros_like(r) for r in raw])[0], raw

        def bwd(raw: tuple[Any, ...], g: Any) -> tuple[Any, ...]:
            # the VJP is the transpose of the (linear) tangent map: differentiate the map in reverse along g
            _, transpose_fn = vjp(lambda *ts: rule(list(raw), list(ts))[1], *[_zeros_like(r) for r in raw])
            return transpose_fn(g)

        return _record_custom(fwd, bwd, args, top, self.f.__name__)


def _differentiable(tree: Tree) -> bool:
    """Whether checkpoint differentiates an argument: every leaf floating point (or a box); an argument mixing
    them with other leaves is refused, since its floating leaves would otherwise get no gradient."""
    leaves = _flatten(tree)[0]
    floats = [_is_float(x) for x in leaves]
    if any(floats) and not all(floats):
        raise TypeError("checkpoint: an argument mixes floating-point leaves with others (integers, flags); pass "
                        "those as separate arguments (or close over them) so the floating ones get their gradient")
    return bool(leaves) and all(floats)


def checkpoint(f: Callable[..., Any]) -> Callable[..., Any]:
    """``f`` whose intermediate values are not kept for backward but recomputed then: memory for time.

    >>> import numpy as np, chainrule as cr
    >>> block = cr.checkpoint(lambda x: cr.tanh(cr.tanh(x)))
    >>> cr.grad(lambda x: block(x).sum())(np.array([0.0])).tolist()
    [1.0]
    """

    @custom_vjp
    def checkpointed(*args: Any) -> Any:
        return f(*args)

    def fwd(*args: Any) -> tuple[Any, Any]:
        # the random state f starts from, so that the recomputation draws what f drew (dropout's masks)
        saved = (args, random.generator().bit_generator.state)
        if any(level_of(a) >= 0 for a in _flatten(args)[0]):
            return f(*args), saved  # enclosing transforms must see f's inside: their levels record it
        with engine.no_grad():  # run f without recording, keeping only its inputs
            return f(*args), saved

    def bwd(saved: tuple[tuple[Any, ...], dict[str, Any]], g: Any) -> tuple[Any, ...]:
        # run f again, this time recording, and take its VJP with respect to the floating-point arguments
        args, state = saved
        diff = [i for i, a in enumerate(args) if _differentiable(a)]

        def along(*xs: Any) -> Any:
            full = list(args)
            for i, x in zip(diff, xs):
                full[i] = x
            return f(*full)

        with random.replayed(state):  # and afterwards the draws go on as if nothing had been recomputed
            cots = iter(vjp(along, *[args[i] for i in diff])[1](g))
        return tuple(next(cots) if i in diff else None for i in range(len(args)))

    checkpointed.defvjp(fwd, bwd)
    return functools.wraps(f)(checkpointed)
