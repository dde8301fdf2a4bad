"""Linear algebra: products, contractions, traces and diagonals (the decompositions live in ``decompositions.py``).

``matmul`` and ``einsum`` are the primitives; ``dot``, ``vdot``, ``inner``, ``outer``, ``tensordot``, ``trace`` and
``diagonal`` are composites of them and of the shape primitives, so they carry no gradient code of their own.
"""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..primitive import Primitive, Sample, is_complex, like
from ..spelling import both_spellings
from . import samples as S
from .elementwise import conjugate, where
from .reduce import sum
from .shape import as_array, broadcast_to, getitem, reshape, transpose

__all__ = ["diagonal", "dot", "einsum", "inner", "matmul", "outer", "tensordot", "trace", "vdot"]


def _mT(x: Any) -> Any:
    """Swap the last two axes (the matrix transpose of a batch)."""
    n = x.ndim
    return transpose(x, (*range(n - 2), n - 1, n - 2))


def _matmul_vjp(g: Any, a: Any, b: Any, wrt_a: bool) -> Any:
    """Promote 1-d operands to matrices as matmul does, take the matrix rule, then drop the added axis again."""
    a_vec, b_vec = a.ndim == 1, b.ndim == 1
    a2 = reshape(a, (1, a.shape[0])) if a_vec else a
    b2 = reshape(b, (b.shape[0], 1)) if b_vec else b
    g2 = g
    if a_vec:
        g2 = reshape(g2, (*g2.shape[:-1], 1, g2.shape[-1]) if not b_vec else (1, 1))
    if b_vec:
        g2 = reshape(g2, (*g2.shape, 1)) if not a_vec else g2
    if wrt_a:
        c = matmul(g2, _mT(b2))
        return reshape(c, (*c.shape[:-2], c.shape[-1])) if a_vec else c
    c = matmul(_mT(a2), g2)
    return reshape(c, c.shape[:-1]) if b_vec else c


def _matmul_batched(t: Any, ans: Any, a: Any, b: Any, wrt_a: bool) -> Any:
    """matmul's JVP for a batch of tangents of a (or b): 1-d operands promoted to matrices as matmul does, the
    tangents' batch axis put in front of every other batch axis, and the promoted axes dropped again."""
    a2 = a.reshape((1, a.shape[0])) if a.ndim == 1 else a
    b2 = b.reshape((b.shape[0], 1)) if b.ndim == 1 else b
    batch = t.shape[:1] + ans.shape
    # the common cases as one matrix product: the tangents' rows times a matrix b, or a matrix a times columns
    if wrt_a and b2.ndim == 2:
        return (t.reshape((-1, b2.shape[0])) @ b2).reshape(batch)
    if not wrt_a and a2.ndim == 2 and b2.shape[-1] == 1:
        return (t.reshape((-1, a2.shape[1])) @ a2.T).reshape(batch)
    ndim = max(a2.ndim, b2.ndim)
    own = a2 if wrt_a else b2
    t2 = t.reshape(t.shape[:1] + (1,) * (ndim - own.ndim) + own.shape)
    return (t2 @ b2 if wrt_a else a2 @ t2).reshape(batch)


matmul = Primitive(
    "matmul",
    np.matmul,
    vjp=(lambda g, ans, a, b: _matmul_vjp(g, a, b, True), lambda g, ans, a, b: _matmul_vjp(g, a, b, False)),
    jvp=(lambda t, ans, a, b: matmul(t, b), lambda t, ans, a, b: matmul(a, t)),
    batching=(lambda t, ans, a, b: _matmul_batched(t, ans, a, b, True),
              lambda t, ans, a, b: _matmul_batched(t, ans, a, b, False)),
    samples=lambda rng: [Sample((S.draw(rng, a), S.draw(rng, b))) for a, b in (
        ((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)), ((2, 2, 3), (3, 2)), ((1, 2, 3), (2, 3, 2)))]
    + [Sample((S.complex_draw(rng, (2, 3)), S.complex_draw(rng, (3, 2)))),
       Sample((S.complex_draw(rng, (2, 3)), S.draw(rng, (3,))))],  # complex, and complex with real
)


# ---- einsum ------------------------------------------------------------------------------------------------------
# The primitive takes explicit subscripts made of letters only ("ABij,Bjk->ABik"): the public ``einsum`` turns
# implicit mode into explicit mode and each operand's '...' into letters of its own (aligned on the right, as
# broadcasting aligns axes), so the rules never see an ellipsis. NumPy's einsum broadcasts a label of size 1
# against the same label of size n, which is what '...' broadcasting needs.
_LETTERS = string.ascii_letters
_OPTIMIZE_ABOVE = 4096  # operands this large go to BLAS through einsum's contraction path (its planning costs ~50 us)


def _einsum_forward(*operands: Any, subscripts: str) -> Any:
    optimize = len(operands) > 2 or any(np.size(op) > _OPTIMIZE_ABOVE for op in operands)
    return np.einsum(subscripts, *operands, optimize="greedy" if optimize else False)


@functools.lru_cache(maxsize=512)
def _parse(subscripts: str) -> tuple[tuple[str, ...], str]:
    """``"ij,jk->ik"`` as ``(("ij", "jk"), "ik")`` (explicit, letters-only subscripts)."""
    inputs, output = subscripts.split("->")
    return tuple(inputs.split(",")), output


@functools.lru_cache(maxsize=512)
def _einsum_vjp_plan(subscripts: str, i: int, shape: tuple[int, ...]) -> tuple[str, tuple[tuple[str, int], ...],
                                                                            tuple[int, ...] | None]:
    """How operand i's cotangent is computed: ``einsum(plan, g, *others, *eyes)``, then expanded.

    A label repeated in operand i (``"ii->i"``) gets a fresh letter and an identity matrix tying it to the first
    occurrence (the cotangent of a diagonal lives on the diagonal). A label found in operand i only (summed there
    and nowhere else) cannot be an einsum output: the cotangent is computed without it and broadcast along it.
    Returns the subscripts, the (letter pair, size) of each identity, and the shape to broadcast to (or None).
    """
    inputs, output = _parse(subscripts)
    own = inputs[i]
    others = [s for k, s in enumerate(inputs) if k != i]
    fresh = iter(c for c in _LETTERS if c not in subscripts)
    target = []
    eyes: list[tuple[str, int]] = []
    seen: set[str] = set()
    for c, n in zip(own, shape):
        if c in seen:
            d = next(fresh)
            eyes.append((c + d, n))
            target.append(d)
        else:
            seen.add(c)
            target.append(c)
    available = set(output).union(*others, *(pair for pair, _ in eyes))
    kept = "".join(c for c in target if c in available)
    plan = ",".join([output, *others, *(pair for pair, _ in eyes)]) + "->" + kept
    expand = None if len(kept) == len(target) else tuple(n if c not in available else -1
                                                          for c, n in zip(target, shape))
    return plan, tuple(eyes), expand


def _einsum_vjp(i: int, g: Any, ans: Any, *operands: Any, subscripts: str) -> Any:
    """Operand i's cotangent is itself an einsum: g contracted with every other operand, into operand i's labels.

    For ``C = einsum("ij,jk->ik", A, B)``: ``dA = einsum("ik,jk->ij", g, B)``. The result may keep the broadcast
    size of a label where operand i had size 1; the engine sums it down.
    """
    plan, eyes, expand = _einsum_vjp_plan(subscripts, i, tuple(operands[i].shape))
    others = [op for k, op in enumerate(operands) if k != i]
    c = _einsum(g, *others, *(like(np.eye(n, dtype=bool), g) for _, n in eyes), subscripts=plan)
    if expand is None:
        return c
    sizes = iter(c.shape)
    full = [next(sizes) if n == -1 else n for n in expand]
    return broadcast_to(reshape(c, tuple(1 if n != -1 else m for n, m in zip(expand, full))), tuple(full))


def _einsum_jvp(i: int, t: Any, ans: Any, *operands: Any, subscripts: str) -> Any:
    """Linear in each operand: replace operand i by its tangent."""
    args = list(operands)
    args[i] = t
    return _einsum(*args, subscripts=subscripts)


def _einsum_batched(i: int, t: Any, ans: Any, *operands: Any, subscripts: str) -> Any:
    """The JVP for a batch of tangents of operand i: the batch axis is one more label, kept in the output."""
    inputs, output = _parse(subscripts)
    batch = next(c for c in _LETTERS if c not in subscripts)
    args = list(operands)
    args[i] = t
    labels = [batch + s if k == i else s for k, s in enumerate(inputs)]
    return _einsum(*args, subscripts=",".join(labels) + "->" + batch + output)


def _einsum_samples(rng: np.random.Generator) -> list[Sample]:
    cases: list[tuple[str, tuple[tuple[int, ...], ...]]] = [
        ("ij,jk->ik", ((2, 3), (3, 2))),
        ("i,i->", ((3,), (3,))),
        ("ij->ji", ((2, 3),)),
        ("ii->i", ((3, 3),)),
        ("ii->", ((3, 3),)),
        ("ij->i", ((2, 3),)),
        ("Aij,Ajk->Aik", ((2, 2, 3), (2, 3, 2))),
        ("Aij,jk->Aik", ((1, 2, 3), (3, 2))),  # '...ij,jk' after normalisation, with a broadcast size-1 axis
        ("Bij,ABjk->ABik", ((2, 2, 2), (1, 2, 2, 2))),
        ("i,j,ij->", ((2,), (3,), (2, 3))),
        ("iij->j", ((2, 2, 3),)),
    ]
    return [Sample(tuple(S.draw(rng, s) for s in shapes), {"subscripts": sub}) for sub, shapes in cases]


_einsum = Primitive(
    "einsum",
    _einsum_forward,
    vjp=_einsum_vjp,
    jvp=_einsum_jvp,
    batching=_einsum_batched,
    samples=_einsum_samples,
    reference=lambda *operands, subscripts: np.einsum(subscripts, *operands),
    variadic=True,
)


@functools.lru_cache(maxsize=512)
def _normalize_subscripts(subscripts: str, ndims: tuple[int, ...]) -> str:
    """Explicit, letters-only subscripts: implicit mode made explicit, each '...' replaced by letters."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        inputs_part, output = subscripts.split("->")
    else:
        inputs_part, output = subscripts, None
    inputs = inputs_part.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(inputs)} operands, got {len(ndims)}")
    for s in [*inputs, output or ""]:
        bad = set(s.replace("...", "")) - set(_LETTERS)
        if bad or s.count("...") > 1 or "." in s.replace("...", ""):
            raise ValueError(f"einsum: invalid subscripts {subscripts!r}; use letters and at most one '...' per "
                             "operand")
    used = set(subscripts)
    spare = [c for c in _LETTERS if c not in used]
    widths = []
    for s, nd in zip(inputs, ndims):
        n_labels = len(s.replace("...", ""))
        width = nd - n_labels if "..." in s else 0
        if width < 0 or ("..." not in s and n_labels != nd):
            raise ValueError(f"einsum: subscripts {s!r} do not fit an operand with {nd} dimensions")
        widths.append(width)
    width = max(widths, default=0)
    if width > len(spare):
        raise ValueError("einsum: too many broadcast dimensions")
    ell = "".join(spare[:width])
    explicit_inputs = [s.replace("...", ell[width - w:]) for s, w in zip(inputs, widths)]
    if output is None:
        counts: dict[str, int] = {}
        for s in inputs:
            for c in s.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        output = ell + "".join(sorted(c for c, k in counts.items() if k == 1))
    else:
        if width and "..." not in output:
            raise ValueError(f"einsum: {subscripts!r} has broadcast dimensions ('...') but its output does not")
        output = output.replace("...", ell)
        for c in output:
            if output.count(c) > 1 or not any(c in s for s in explicit_inputs):
                raise ValueError(f"einsum: output label {c!r} of {subscripts!r} is repeated or in no operand")
    return ",".join(explicit_inputs) + "->" + output


# sublist labels 0..51 as NumPy reads them: upper case first, so alphabetical order is the order of the integers
_SUBLIST_LETTERS = string.ascii_uppercase + string.ascii_lowercase


def _sublist(labels: Any) -> str:
    """One operand's sublist (``[0, 1]``, ``[Ellipsis, 1]``) as subscript letters."""
    if isinstance(labels, str) or not isinstance(labels, (Sequence, np.ndarray)):
        raise TypeError(f"einsum: in the sublist form einsum(a, [0, 1], b, [1, 2], [0, 2]) each operand is followed "
                        f"by a list of integer labels, got {labels!r}")
    out = []
    for label in labels:
        if label is Ellipsis:
            out.append("...")
        elif isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < 52:
            out.append(_SUBLIST_LETTERS[int(label)])
        else:
            raise ValueError(f"einsum: sublist labels are integers in [0, 52) or Ellipsis, got {label!r}")
    return "".join(out)


def _interleaved(args: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """``(a, [0, 1], b, [1, 2], [0, 2])`` as ``("AB,BC->AC", (a, b))``: NumPy's sublist form as subscripts."""
    operands, sublists = args[0::2], args[1::2]
    output = None
    if len(args) % 2:  # an odd count: the last entry is the output's sublist
        operands, output = operands[:-1], args[-1]
    subscripts = ",".join(_sublist(s) for s in sublists)
    return subscripts + ("" if output is None else "->" + _sublist(output)), operands


def einsum(subscripts: Any, *operands: Any) -> Any:
    """Einstein summation, as ``numpy.einsum``: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``.

    Explicit (``"ij,jk->ik"``) and implicit (``"ij,jk"``, output labels in alphabetical order) modes, '...'
    broadcasting, repeated labels within an operand (``"ii->i"`` is the diagonal, ``"ii"`` the trace), and NumPy's
    interleaved sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (integer labels; the output's sublist last,
    optional) are supported; ``out=``/``dtype=`` are not. The gradient with respect to each operand is another
    einsum (of the output's cotangent with the other operands), so it is differentiable again.

    >>> import chainrule as cr
    >>> a = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> cr.einsum("ii", a)
    tensor(5., grad_fn=<einsum>)
    >>> cr.einsum("ij,j->i", a, cr.tensor([1.0, 1.0]))
    tensor([3., 7.], grad_fn=<einsum>)
    >>> cr.einsum(a, [0, 1], [1, 0])  # the sublist form: a transpose
    tensor([[1., 3.],
            [2., 4.]], grad_fn=<einsum>)
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved((subscripts, *operands))
    operands = tuple(as_array(op) for op in operands)
    return _einsum(*operands, subscripts=_normalize_subscripts(subscripts, tuple(op.ndim for op in operands)))


# ---- products as composites --------------------------------------------------------------------------------------
def _axes_list(axes: Any, ndim: int) -> list[int]:
    items = [axes] if isinstance(axes, (int, np.integer)) else list(axes)
    return [int(a) % ndim if ndim else 0 for a in items]


def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2) -> Any:
    """Sum products over the given axes, as ``numpy.tensordot``: ``axes=N`` contracts a's last N axes with b's
    first N; ``axes=(a_axes, b_axes)`` names them. Computed as one matmul of two reshaped operands.

    >>> import chainrule as cr
    >>> a, b = cr.ones((2, 3, 4)), cr.ones((3, 4, 5))
    >>> cr.tensordot(a, b).shape, cr.tensordot(a, b, axes=([1], [0])).shape
    ((2, 5), (2, 4, 4, 5))
    """
    a, b = as_array(a), as_array(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        a_axes, b_axes = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        a_axes, b_axes = _axes_list(axes[0], a.ndim), _axes_list(axes[1], b.ndim)
    if len(a_axes) != len(b_axes) or any(a.shape[i] != b.shape[j] for i, j in zip(a_axes, b_axes)):
        raise ValueError(f"tensordot: shape mismatch for sum, a {a.shape} axes {a_axes}, b {b.shape} axes {b_axes}")
    a_free = [i for i in range(a.ndim) if i not in a_axes]
    b_free = [j for j in range(b.ndim) if j not in b_axes]
    k = math.prod(a.shape[i] for i in a_axes)
    a_perm, b_perm = a_free + a_axes, b_axes + b_free
    a2 = transpose(a, tuple(a_perm)) if a_perm != list(range(a.ndim)) else a
    b2 = transpose(b, tuple(b_perm)) if b_perm != list(range(b.ndim)) else b
    out_shape = tuple(a.shape[i] for i in a_free) + tuple(b.shape[j] for j in b_free)
    c = matmul(reshape(a2, (math.prod(a.shape[i] for i in a_free), k)),
               reshape(b2, (k, math.prod(b.shape[j] for j in b_free))))
    return reshape(c, out_shape)


def dot(a: Any, b: Any) -> Any:
    """``numpy.dot``: a product for 0-d operands, matmul up to a 2-d ``b``, and otherwise a sum over a's last
    axis and b's second-to-last (``dot(a, b)[i, j, k, m] = sum(a[i, j, :] * b[k, :, m])``).

    >>> import chainrule as cr
    >>> float(cr.dot(cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])))
    11.0
    """
    a, b = as_array(a), as_array(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2 or a.ndim == 1:
        return matmul(a, b)
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


def vdot(a: Any, b: Any) -> Any:
    """The dot product of the flattened operands, the first one conjugated (as ``np.vdot``), a 0-d result.

    >>> import chainrule as cr
    >>> float(cr.vdot(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([[1.0, 1.0], [1.0, 1.0]])))
    10.0
    """
    a = as_array(a)
    if is_complex(a):
        a = conjugate(a)
    return matmul(reshape(a, (-1,)), reshape(as_array(b), (-1,)))


def inner(a: Any, b: Any) -> Any:
    """``numpy.inner``: a sum over the last axes of both, ``inner(a, b)[i, j] = sum(a[i, :] * b[j, :])``.

    >>> import chainrule as cr
    >>> cr.inner(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    a, b = as_array(a), as_array(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 1]))


def outer(a: Any, b: Any) -> Any:
    """``outer(a, b)[i, j] = a[i] * b[j]`` over the flattened operands.

    >>> import chainrule as cr
    >>> cr.outer(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 10.0, 100.0]))
    tensor([[  1.,  10., 100.],
            [  2.,  20., 200.]])
    """
    return reshape(as_array(a), (-1, 1)) * reshape(as_array(b), (1, -1))


# ---- diagonals and traces ---------------------------------------------------------------------------------------
def _to_end(x: Any, axis1: int, axis2: int) -> Any:
    """x with axis1 and axis2 moved to the last two places (the other axes keep their order)."""
    nd = x.ndim
    axis1, axis2 = axis1 % nd, axis2 % nd
    if axis1 == axis2:
        raise ValueError(f"axis1 and axis2 cannot be the same, got {axis1} for an array of {nd} dimensions")
    perm = (*(i for i in range(nd) if i not in (axis1, axis2)), axis1, axis2)
    return transpose(x, perm) if perm != tuple(range(nd)) else x


@both_spellings
def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal ``x[..., i, i + offset]`` of the (axis1, axis2) planes, as the last axis (``numpy.diagonal``).

    Its gradient scatters the cotangent back onto the diagonal (zeros elsewhere).

    >>> import chainrule as cr
    >>> cr.diagonal(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), offset=1)
    tensor([2.])
    """
    x = _to_end(as_array(x), axis1, axis2)
    n1, n2 = x.shape[-2], x.shape[-1]
    k = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    rows = np.arange(k) + max(-offset, 0)
    return getitem(x, (Ellipsis, rows, rows + offset))


@both_spellings
def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The sum along a diagonal, ``sum_i x[..., i, i + offset]`` (``numpy.trace``); the gradient is the identity
    pattern ``g * eye(n, m, offset)``.

    >>> import chainrule as cr
    >>> x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> cr.trace(x).backward()
    >>> x.grad
    tensor([[1., 0.],
            [0., 1.]])
    """
    x = _to_end(as_array(x), axis1, axis2)
    mask = like(np.eye(x.shape[-2], x.shape[-1], k=offset, dtype=bool), x)
    return sum(where(mask, x, 0), axis=(-2, -1))


# ---- a chain of products in the cheapest order ------------------------------------------------------------------
def _chain_order(dims: Sequence[int]) -> list[list[int]]:
    """Where to split each sub-chain ``i..j`` of matrices ``dims[k] x dims[k + 1]`` so the number of scalar
    multiplications is least (the textbook dynamic programme, ties to the leftmost split as NumPy's)."""
    n = len(dims) - 1
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(arrays: Sequence[Any], split: list[list[int]], i: int, j: int) -> Any:
    if i == j:
        return arrays[i]
    k = split[i][j]
    return matmul(_chain(arrays, split, i, k), _chain(arrays, split, k + 1, j))


def multi_dot(arrays: Sequence[Any], *, out: None = None) -> Any:
    """The product of two or more matrices, multiplied in the cheapest order (as ``numpy.linalg.multi_dot``); the
    first may be a row vector and the last a column vector (1-d). The gradient flows through each matmul.

    >>> import chainrule as cr
    >>> cr.linalg.multi_dot([cr.ones(3), cr.ones((3, 4)), cr.ones((4, 2)), cr.ones(2)])
    tensor(24.)
    """
    if out is not None:
        raise TypeError("linalg.multi_dot(..., out=): chainrule never writes into an array that a graph may hold; "
                        "take the result instead")
    arrays = [as_array(a) for a in arrays]
    if len(arrays) < 2:
        raise ValueError("linalg.multi_dot needs at least two arrays")
    if len(arrays) == 2:
        return dot(arrays[0], arrays[1])
    row, column = arrays[0].ndim == 1, arrays[-1].ndim == 1
    if row:
        arrays[0] = reshape(arrays[0], (1, -1))
    if column:
        arrays[-1] = reshape(arrays[-1], (-1, 1))
    bad = [a.shape for a in arrays if a.ndim != 2]
    if bad:
        raise ValueError(f"linalg.multi_dot needs matrices (1-d only first and last), got shapes {bad}")
    out_ = _chain(arrays, _chain_order([arrays[0].shape[0], *(a.shape[1] for a in arrays)]), 0, len(arrays) - 1)
    if row and column:
        return reshape(out_, ())
    return reshape(out_, (-1,)) if row or column else out_


# ---- NumPy 2's vector and matrix products (issue 10) ------------------------------------------------------------
__all__ += ["matrix_transpose", "matvec", "vecdot", "vecmat"]


def matrix_transpose(x: Any) -> Any:
    """Swap the last two axes of a stack of matrices, as ``np.matrix_transpose``.

    >>> import chainrule as cr
    >>> cr.matrix_transpose(cr.ones((2, 3, 4))).shape
    (2, 4, 3)
    """
    x = as_array(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: the input must be at least 2-d, not {x.ndim}-d")
    return _mT(x)


@both_spellings
def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """The dot products sum_i conj(x1_i) x2_i along ``axis``, broadcasting the other axes, as ``np.vecdot``.

    >>> import chainrule as cr
    >>> cr.vecdot(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    x1, x2 = as_array(x1), as_array(x2)
    if x1.shape[axis] != x2.shape[axis]:
        raise ValueError(f"vecdot: the vectors have lengths {x1.shape[axis]} and {x2.shape[axis]} along axis {axis}")
    return sum(conjugate(x1) * x2, axis=axis)


def matvec(x1: Any, x2: Any, /) -> Any:
    """Each matrix of ``x1`` (..., m, n) times each vector of ``x2`` (..., n), broadcasting the stacks, as
    ``np.matvec``.

    >>> import chainrule as cr
    >>> cr.matvec(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), cr.tensor([1.0, 1.0]))
    tensor([3., 7.])
    """
    x1, x2 = as_array(x1), as_array(x2)
    if x1.ndim < 2 or x2.ndim < 1:
        raise ValueError(f"matvec: needs matrices and vectors, not shapes {x1.shape} and {x2.shape}")
    product = matmul(x1, reshape(x2, (*x2.shape, 1)))
    return reshape(product, product.shape[:-1])


def vecmat(x1: Any, x2: Any, /) -> Any:
    """Each conjugated vector of ``x1`` (..., n) times each matrix of ``x2`` (..., n, m), broadcasting the
    stacks, as ``np.vecmat``.

    >>> import chainrule as cr
    >>> cr.vecmat(cr.tensor([1.0, 1.0]), cr.tensor([[1.0, 2.0], [3.0, 4.0]]))
    tensor([4., 6.])
    """
    x1, x2 = as_array(x1), as_array(x2)
    if x1.ndim < 1 or x2.ndim < 2:
        raise ValueError(f"vecmat: needs vectors and matrices, not shapes {x1.shape} and {x2.shape}")
    product = matmul(reshape(conjugate(x1), (*x1.shape[:-1], 1, x1.shape[-1])), x2)
    return reshape(product, (*product.shape[:-2], product.shape[-1]))
