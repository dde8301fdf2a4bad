"""Reductions: sum, mean, prod, var, std, max/min, arg-reductions, logsumexp, softmax, softmax cross-entropy against
integer classes, cumulative sums.

A reduction's VJP spreads the output cotangent back over the reduced axes (``_unreduce``); its JVP reduces the
input tangent the same way the forward reduces the input. Every rule reuses the forward's answer where it can.
Kinks are decided here: max/min ties split the gradient evenly among the tied entries, and prod/cumprod give the
exact gradient (the product of all the other factors) when entries are zero.

The primitives take (x, axis, keepdims). The public functions (end of the file) add NumPy's other arguments as
composites over them: ``dtype=`` casts first, ``where=`` replaces the entries it leaves out by the identity (so their
gradient is 0), ``initial=`` is one more term or candidate, ``ddof=``/``correction=``/``mean=`` as NumPy 2; ``out=``
is refused by name. ``logsumexp`` takes scipy's ``b=`` and ``return_sign=``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from ..fused import Kernel
from ..primitive import Example, Primitive, Sample, Traced, is_complex, like
from ..spelling import both_spellings
from ..tensor import Tensor, bottom, values
from . import elementwise as E
from . import samples as S
from .elementwise import (
    absolute,
    astype,
    conjugate,
    equal,
    exp,
    isnan,
    log,
    maximum,
    minimum,
    ordered,
    real,
    sqrt,
    where,
)
from .shape import as_array, broadcast_to, concatenate, getitem, reshape, scatter_add, transpose

__all__ = [
    "all",
    "amax",
    "amin",
    "any",
    "argmax",
    "argmin",
    "cumprod",
    "cumsum",
    "cumulative_prod",
    "cumulative_sum",
    "log_softmax",
    "logsumexp",
    "max",
    "mean",
    "min",
    "prod",
    "softmax",
    "std",
    "sum",
    "var",
]

Axis = int | tuple[int, ...] | None


# ---- helpers -------------------------------------------------------------------------------------------------
def _axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """The reduced axes as non-negative ints (none for a 0-d input, which NumPy lets axis=0 or -1 reduce)."""
    if axis is None or ndim == 0:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(a % ndim for a in axes)


def _keepdims_shape(shape: tuple[int, ...], axis: Axis) -> tuple[int, ...]:
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _keep(y: Any, x: Any, axis: Axis, keepdims: bool) -> Any:
    """A reduction's output (or cotangent) with the reduced axes kept as size 1, so it broadcasts against x."""
    return y if keepdims else reshape(y, _keepdims_shape(x.shape, axis))


def _unreduce(g: Any, x: Any, axis: Axis, keepdims: bool) -> Any:
    """Spread a reduction's cotangent back over the input's shape."""
    return broadcast_to(_keep(g, x, axis, keepdims), x.shape)


def _batch_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """The reduced axes of a batch of tangents, shape (B,) + x.shape: x's reduced axes, one further along."""
    return tuple(a + 1 for a in _axes(axis, ndim))


def _count(x: Any, axis: Axis) -> int:
    shape = x.shape
    return int(np.prod([shape[a] for a in _axes(axis, len(shape))], dtype=np.int64))


def _has_zero(x: Any) -> bool:
    """Whether any entry of x is exactly zero: a choice between two exact formulas, made on the values, not recorded."""
    return not bool(bottom(x).all())  # a Tensor's values, at the bottom of any transform's boxes


def _to_last(x: Any, axes: tuple[int, ...]) -> tuple[Any, tuple[int, ...]]:
    """x with ``axes`` moved to the end (in order), and the permutation used."""
    perm = tuple(i for i in range(x.ndim) if i not in axes) + axes
    return transpose(x, perm), perm


def _from_last(y: Any, perm: tuple[int, ...]) -> Any:
    return transpose(y, tuple(int(i) for i in np.argsort(perm)))


def _flip(x: Any, axis: int) -> Any:
    """x reversed along ``axis`` (a view)."""
    return getitem(x, (slice(None),) * (axis % x.ndim) + (slice(None, None, -1),))


def _reverse_cumsum(g: Any, axis: int) -> Any:
    """r_i = sum_{k >= i} g_k along ``axis``: cumsum's VJP."""
    return _flip(_running_sum(_flip(g, axis), axis=axis), axis)


_HALF = np.dtype(np.float16)


def _accumulating(method: str) -> Callable[..., Any]:
    """An array reduction (the method: lighter than NumPy's function wrappers, and the device's own on a GPU) that
    accumulates float16 in float32 and returns float16: float16 ends at 65504 and keeps three digits, so its partial
    sums would overflow or round away long before the result does."""

    def forward(x: Any, **kwargs: Any) -> Any:
        if type(x) not in backend.array_types:
            x = np.asarray(x)
        reduce = getattr(x, method)
        if x.dtype == _HALF:
            with np.errstate(over="ignore"):  # a result past 65504 is inf in float16, as it should be
                return reduce(dtype=np.float32, **kwargs).astype(_HALF)
        return reduce(**kwargs)

    return forward


_sum, _prod, _cumsum, _cumprod = (_accumulating(m) for m in ("sum", "prod", "cumsum", "cumprod"))


def _widened(composite: Callable[..., Any]) -> Callable[..., Any]:
    """A composite reduction (mean, var, std) computed in float32 for float16 input, and returned as float16."""

    @functools.wraps(composite)
    def wrapper(x: Any, *args: Any, **kwargs: Any) -> Any:
        x = as_array(x)
        if x.dtype == _HALF:
            return astype(composite(astype(x, np.float32), *args, **kwargs), _HALF)
        return composite(x, *args, **kwargs)

    return wrapper


def _per(total: Any, n: Any) -> Any:
    """``total / n``, NaN where there are no elements (as PyTorch, and without NumPy's warning for 0 / 0); ``n`` is
    a count, or an array of counts (one per slice, under ``where=``)."""
    if isinstance(n, int):
        return total / n if n > 0 else total * math.nan
    dtype = total.dtype
    counts = np.where(n > 0, n, math.nan)  # (recorded, where n is a box: counts under a mask computed inside vmap)
    return total / (counts.astype(dtype) if dtype.kind == "f" else counts)  # float32 stays float32


# ---- sum -----------------------------------------------------------------------------------------------------
_total = Primitive(
    "sum",
    lambda x, axis=None, keepdims=False: _sum(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, ans, x, axis=None, keepdims=False: _unreduce(g, x, axis, keepdims),
    jvp=lambda t, ans, x, axis=None, keepdims=False: _total(t, axis=axis, keepdims=keepdims),
    batching=lambda t, ans, x, axis=None, keepdims=False: _total(t, axis=_batch_axes(axis, x.ndim), keepdims=keepdims),
    samples=S.reductions(),
)


# ---- prod ----------------------------------------------------------------------------------------------------
def _exclusive_cumprod(v: Any) -> Any:
    """e_i = prod_{j < i} v_j along the last axis (e_0 = 1): cumprod shifted right by one, with a 1 in front."""
    n = v.shape[-1]
    shifted = scatter_add(getitem(_running_product(v, axis=-1), (Ellipsis, slice(None, n - 1))),
                          (Ellipsis, slice(1, None)), v.shape)
    first = np.zeros(n, dtype=v.dtype)
    first[0] = 1
    return shifted + like(first, v)


def _others_product(ans: Any, x: Any, axis: Axis, keepdims: bool) -> Any:
    """d prod / dx_i = prod_{j != i} x_j over the reduced axes, for every entry i.

    Without zeros that is ans / x_i. With zeros ans / x_i is 0/0, so the product of the others is taken directly
    as (product of those before i) * (product of those after i), from exclusive cumulative products along the
    flattened reduced axes: exact for one zero (the others' product at the zero, 0 elsewhere) and for several
    (0 everywhere), and itself differentiable, so second derivatives at zeros are right too.
    """
    if not _has_zero(x):
        return _keep(ans, x, axis, keepdims) / x
    axes = _axes(axis, x.ndim)
    if not axes:  # nothing reduced (a 0-d input, or axis=()): prod(x) = x
        return np.ones_like(values(x))
    xt, perm = _to_last(x, axes)
    n = _count(x, axis)
    flat = reshape(xt, (*xt.shape[: xt.ndim - len(axes)], n))
    before = _exclusive_cumprod(flat)
    after = _flip(_exclusive_cumprod(_flip(flat, -1)), -1)
    return _from_last(reshape(before * after, xt.shape), perm)


_product = Primitive(
    "prod",
    lambda x, axis=None, keepdims=False: _prod(x, axis=axis, keepdims=keepdims),
    vjp=lambda g, ans, x, axis=None, keepdims=False: _keep(g, x, axis, keepdims) * _others_product(ans, x, axis, keepdims),
    jvp=lambda t, ans, x, axis=None, keepdims=False: _total(t * _others_product(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),
    samples=lambda rng: [
        *S.reductions()(rng),
        Sample((np.array([1.5, 0.0, -0.7, 1.2]),)),                                  # one zero
        Sample((np.array([0.0, 1.3, 0.0, -0.8]),)),                                  # two zeros
        Sample((np.array([[0.0, 1.1, -0.6], [0.0, 0.0, 1.4]]),), {"axis": 1}),       # one and two zeros per row
        Sample((np.array([[0.9, 0.0, -1.3], [0.7, 1.2, 0.0]]),), {"axis": 0, "keepdims": True}),
    ],
)


# ---- max and min: ties split the gradient evenly ---------------------------------------------------------------
def _tie_weights(ans: Any, x: Any, axis: Axis, keepdims: bool) -> Any:
    """1/k on each of the k entries equal to their slice's extremum, 0 elsewhere (a NaN extremum picks the NaNs)."""
    best = _keep(ans, x, axis, keepdims)
    hit = astype(equal(x, best), x.dtype) + astype(isnan(x), x.dtype)
    return hit / _total(hit, axis=axis, keepdims=True)


def _select_vjp(g: Any, ans: Any, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    return _keep(g, x, axis, keepdims) * _tie_weights(ans, x, axis, keepdims)


def _select_jvp(t: Any, ans: Any, x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    return _total(t * _tie_weights(ans, x, axis, keepdims), axis=axis, keepdims=keepdims)


# max([1, 3, 3]) has gradient [0, 0.5, 0.5]: the tied maxima share it evenly (DESIGN principle 9)
_largest = Primitive(
    "max",
    ordered("max", lambda x, axis=None, keepdims=False: np.max(x, axis=axis, keepdims=keepdims)),
    vjp=_select_vjp,
    jvp=_select_jvp,
    samples=S.reductions(),
)
_smallest = Primitive(
    "min",
    ordered("min", lambda x, axis=None, keepdims=False: np.min(x, axis=axis, keepdims=keepdims)),
    vjp=_select_vjp,
    jvp=_select_jvp,
    samples=S.reductions(),
)


def _arg_samples(rng: np.random.Generator) -> list[Sample]:
    return [Sample((S.draw(rng, ()),)), Sample((S.draw(rng, (4,)),)),
            Sample((S.draw(rng, (2, 3)),), {"axis": 0}), Sample((S.draw(rng, (2, 3)),), {"axis": -1, "keepdims": True}),
            Sample((S.draw(rng, (2, 3)),), {"axis": None, "keepdims": True}),
            Sample((np.array([1.0, 3.0, 3.0, -3.0, -3.0]),))]  # ties: the first occurrence, as NumPy


argmax = Primitive(
    "argmax",
    lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis, keepdims=keepdims),
    samples=_arg_samples,
    differentiable=False,
)
argmin = Primitive(
    "argmin",
    lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis, keepdims=keepdims),
    samples=_arg_samples,
    differentiable=False,
)


def _truth_samples(rng: np.random.Generator) -> list[Sample]:
    mixed = rng.standard_normal((3, 4)) > 0
    return [Sample((mixed,)), Sample((mixed,), {"axis": 1}), Sample((mixed,), {"axis": 0, "keepdims": True}),
            Sample((S.draw(rng, (2, 3)),), {"axis": -1}), Sample((np.zeros((2, 0), dtype=bool),), {"axis": 1})]


# whether every (some) entry is true: recorded, without a gradient, so a mask's test is a step of cr.compile and
# vmap batches it (Tensor.all, np.all on tensors)
_all = Primitive("all", lambda x, axis=None, keepdims=False: x.all(axis=axis, keepdims=keepdims),
                 samples=_truth_samples, differentiable=False)
_any = Primitive("any", lambda x, axis=None, keepdims=False: x.any(axis=axis, keepdims=keepdims),
                 samples=_truth_samples, differentiable=False)


def _truth(test: Primitive, a: Any, axis: Axis, out: None, keepdims: bool, where: Any) -> Any:
    """``test`` over the entries ``where=`` selects: the others count as true for all, as false for any."""
    _no_out(test.name, out)
    x = as_array(a)
    if where is not True:
        mask = _mask(where, x, test.name)
        x = E.logical_or(x, E.logical_not(mask)) if test is _all else E.logical_and(x, mask)
    return test(x, axis=axis, keepdims=keepdims)


@both_spellings
def all(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, *, where: Any = True) -> Any:
    """Whether every entry along ``axis`` (all axes by default) is true, as ``np.all``; those ``where=`` leaves out
    count as true. No gradient.

    >>> import chainrule as cr
    >>> cr.all(cr.tensor([[1.0, 0.0], [2.0, 3.0]]) > 0, axis=1)
    tensor([False,  True])
    """
    return _truth(_all, a, axis, out, keepdims, where)


@both_spellings
def any(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, *, where: Any = True) -> Any:
    """Whether some entry along ``axis`` (all axes by default) is true, as ``np.any``; those ``where=`` leaves out
    count as false. No gradient.

    >>> import chainrule as cr
    >>> cr.any(cr.tensor([[1.0, 0.0], [2.0, 3.0]]) > 2, dim=0)
    tensor([False,  True])
    """
    return _truth(_any, a, axis, out, keepdims, where)


# ---- logsumexp, softmax, log_softmax: shifted by the max, so nothing overflows ----------------------------------
def _shift(x: Any, axis: Axis) -> Any:
    """The max over ``axis`` (kept), or 0 where it is infinite (an all -inf slice then stays -inf, not NaN) or
    where the slice is empty."""
    x = values(x)  # the array's own max (lighter than np.max's wrapper)
    if x.size == 0:  # no slice has a max: the shift is 0, the shape an empty sum's (CuPy's max takes no initial=)
        return x.sum(axis=axis, keepdims=True)
    m = x.max(axis=axis, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


# x - shift may overflow to -inf (x = -1e308 against a max of 1e308), which is right: its exponential is 0. A slice
# that is all -inf has no softmax (0/0) and a log_softmax of NaN, as PyTorch says, without NumPy's warning.
_quiet = functools.partial(np.errstate, over="ignore", divide="ignore", invalid="ignore")


def _softmax(x: Any, axis: Axis = -1) -> Any:
    with _quiet():
        e = np.exp(x - _shift(x, axis))
        return e / e.sum(axis=axis, keepdims=True)


# log_softmax's elementwise passes, each one kernel on a GPU: the exponentials summed in the forward (logsumexp's and
# softmax_cross_entropy's too), the forward's result (x - shift recomputed, the same numbers), and the backward
_FUSING = backend.fused_types
_shifted_exp = Kernel(lambda xp, x, shift: xp.exp(x - shift), "chainrule_log_softmax_exp")
_shifted_log = Kernel(lambda xp, x, shift, total: x - shift - xp.log(total), "chainrule_log_softmax")


def _logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    x = values(x)
    m = _shift(x, axis)
    with _quiet():  # and log(0) = -inf for an all -inf (or empty) slice, as the math says
        e = _shifted_exp(x, m) if type(x) in _FUSING else np.exp(x - m)
        out = np.log(e.sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def _log_softmax_rule_body(xp: Any, g: Any, ans: Any, total: Any) -> Any:
    return g - xp.exp(ans) * total


_log_softmax_rule = Kernel(_log_softmax_rule_body, "chainrule_log_softmax_rule")


def _log_softmax(x: Any, axis: Axis = -1) -> Any:
    with _quiet():
        if type(x) in _FUSING:
            shift = _shift(x, axis)
            return _shifted_log(x, shift, _shifted_exp(x, shift).sum(axis=axis, keepdims=True))
        shifted = x - _shift(x, axis)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _log_softmax_vjp(g: Any, ans: Any, x: Any, axis: Axis = -1) -> Any:
    total = g.sum(axis=axis, keepdims=True)  # a method: no call on arrays
    if type(g) in _FUSING and type(ans) in _FUSING:
        return _log_softmax_rule(g, ans, total)
    return _log_softmax_rule_body(E, g, ans, total)


def _lse_weights(ans: Any, x: Any, axis: Axis, keepdims: bool) -> Any:
    """d logsumexp / dx = exp(x - logsumexp(x)) = softmax(x); x - ans <= 0, and its overflow to -inf is right."""
    with _quiet():
        return exp(x - _keep(ans, x, axis, keepdims))


def _reference_logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Any:
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


def _reference_softmax(x: Any, axis: Axis = -1) -> Any:
    return np.exp(x) / np.sum(np.exp(x), axis=axis, keepdims=True)


def _reference_log_softmax(x: Any, axis: Axis = -1) -> Any:
    return x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True))


def _softmax_samples(rng: np.random.Generator) -> list[Sample]:
    return [Sample((S.draw(rng, (3,), "any"),)), Sample((S.draw(rng, (2, 3), "any"),)),
            Sample((S.draw(rng, (2, 3), "any"),), {"axis": 0}), Sample((S.draw(rng, (2, 2, 3), "any"),), {"axis": 1}),
            Sample((S.draw(rng, (2, 3), "any"),), {"axis": (0, 1)})]


# d logsumexp / dx = exp(x - logsumexp(x)) = softmax(x): the answer is reused
_lse = Primitive(
    "logsumexp",
    _logsumexp,
    vjp=lambda g, ans, x, axis=None, keepdims=False: _keep(g, x, axis, keepdims) * _lse_weights(ans, x, axis, keepdims),
    jvp=lambda t, ans, x, axis=None, keepdims=False: _total(t * _lse_weights(ans, x, axis, keepdims), axis=axis, keepdims=keepdims),
    samples=S.reductions("any"),
    reference=_reference_logsumexp,
)
# with s = softmax(x): ds = s * (dx - sum(s * dx)); its VJP has the same form (the Jacobian is symmetric)
softmax = Primitive(
    "softmax",
    _softmax,
    vjp=lambda g, ans, x, axis=-1: ans * (g - _total(g * ans, axis=axis, keepdims=True)),
    jvp=lambda t, ans, x, axis=-1: ans * (t - _total(t * ans, axis=axis, keepdims=True)),
    samples=_softmax_samples,
    reference=_reference_softmax,
)
# with l = log_softmax(x), softmax = exp(l): dl = dx - sum(exp(l) * dx); the VJP is g - exp(l) * sum(g)
log_softmax = Primitive(
    "log_softmax",
    _log_softmax,
    vjp=_log_softmax_vjp,
    jvp=lambda t, ans, x, axis=-1: t - _total(exp(ans) * t, axis=axis, keepdims=True),
    samples=_softmax_samples,
    reference=_reference_log_softmax,
)


# ---- softmax cross-entropy against integer classes: cross_entropy's common case in one forward ------------------
_REDUCTIONS = ("none", "mean", "sum")


def _with_class_axis(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """A per-example shape (the targets') with the class axis put back as size 1, so it broadcasts against x."""
    return (*shape[:axis], 1, *shape[axis:])


def _read_only(a: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    a.flags.writeable = False
    return a


# host constants of the hot path, made once per shape (a NumPy call costs as much as the work here)
@functools.lru_cache(maxsize=64)
def _row_starts(count: int, n: int) -> np.ndarray[Any, Any]:
    """0, n, 2n, ...: where each of ``count`` rows of n classes starts in the flattened array."""
    return _read_only(np.arange(count) * n)


@functools.lru_cache(maxsize=64)
def _ones(n: int, dtype: str) -> np.ndarray[Any, Any]:
    return _read_only(np.ones(n, dtype))


def _target_positions(x: Any, target: Any, axis: int) -> Any:
    """The flat (row-major) position in x of each example's target class, an array of target's shape: x.take reads
    the target logits in one gather, np.put writes there, whatever x's rank and layout."""
    n, inner = x.shape[axis], math.prod(x.shape[axis + 1:])
    xp = backend.namespace(target)
    target = target.astype(np.intp, copy=False)  # positions of any size: a uint8 target's arithmetic would wrap
    if inner == 1:  # (C,) or (N, C): example k's row starts at k * n
        start = _row_starts(target.size, n) if xp is np else xp.arange(target.size) * n
        return (start if target.ndim == 1 else start.reshape(target.shape)) + target
    k = xp.arange(target.size).reshape(target.shape)  # example k = (outer, inner), flattened
    return k // inner * (n * inner) + k % inner + target * inner


def _class_total(e: Any, axis: int) -> Any:
    """The sum of a host array over its class axis (kept): for (N, C) in float32/64 a product with a vector of ones
    (NumPy's reduction along a short last axis costs several times more)."""
    if e.ndim == 2 and axis == 1 and e.dtype.char in "fd":
        return (e @ _ones(e.shape[1], e.dtype.char)).reshape(-1, 1)
    return e.sum(axis=axis, keepdims=True)


def _exponentials(x: Any, picked: Any, axis: int) -> tuple[Any, Any, Any]:
    """exp(x - s), its sum over the class axis (kept) and the shift s, computed under ``_quiet``.

    On the host s is each example's target logit (``picked``), which needs no max (a slow reduction along a short
    axis) and puts an exact 1 in every sum. Where an exponential overflows (a logit far above the target's, -inf or
    NaN at the target) s is the max instead, as on a GPU straight away (where testing the sums would wait for the
    device at every step)."""
    if type(x) is np.ndarray:
        e = x - picked
        total = _class_total(np.exp(e, out=e), axis)
        if math.isfinite(total.sum()):
            return e, total, picked
    shift = _shift(x, axis)
    e = _shifted_exp(x, shift) if type(x) in _FUSING else np.exp(x - shift)
    return e, e.sum(axis=axis, keepdims=True), shift


def _reduced_losses(loss: Any, reduction: str) -> Any:
    """The per-example losses as they are, summed, or averaged: each divided by the count first, so that a float16
    sum overflows only where the mean does; NaN over no examples (as PyTorch)."""
    if reduction == "none":
        return loss
    n = loss.size
    wide = loss.astype(np.float32) if loss.dtype == _HALF else loss  # float16 sums in float32 (n may exceed 65504)
    total = (wide / n if reduction == "mean" and n else wide).sum(keepdims=True).reshape(())  # (the array's own sum)
    if reduction == "mean" and not n:
        total = total * math.nan
    return total if total.dtype == loss.dtype else total.astype(loss.dtype)


def _softmax_cross_entropy(x: Any, target: Any, axis: int = 1, reduction: str = "none") -> Any:
    """logsumexp(x) - x[target] along ``axis`` for each example (reduced as ``reduction`` says); see
    ``_exponentials`` for the shift. The targets are classes in range (cross_entropy checks them).

    >>> import numpy as np
    >>> from chainrule.ops.reduce import softmax_cross_entropy
    >>> softmax_cross_entropy(np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([1, 1])).tolist()
    [0.6931471805599453, 1000.0]
    """
    return _losses_keeping(x, target, axis, reduction)[0]


def _losses_keeping(x: Any, target: Any, axis: int = 1, reduction: str = "none") -> tuple[Any, tuple[Any, Any, Any]]:
    """The forward's losses, and what its rule on the host recomputes from x (the exponentials, their sums over the
    class axis and the targets' positions): cr.compile's form of the pair keeps them for the rule
    (``_rule_from_kept``), which then takes no second pass of exponentials."""
    if x.dtype.kind != "f":
        raise TypeError(f"softmax_cross_entropy: the logits must be floating point, got {x.dtype}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"softmax_cross_entropy: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    axis %= x.ndim
    at = _target_positions(x, target, axis)
    picked = x.take(at).reshape(_with_class_axis(target.shape, axis))
    with _quiet():
        e, total, shift = _exponentials(x, picked, axis)
        loss = np.log(total) if shift is picked else np.log(total) + (shift - picked)
    return _reduced_losses(loss.reshape(target.shape), reduction), (e, total, at)


def _keeping_step(x: Any, target: Any, axis: int = 1, reduction: str = "none") -> Callable[..., Any]:
    """cr.compile's step for ``_losses_keeping`` on arrays of the shapes and dtypes of ``x`` and ``target``: for a
    host batch (N, C) of float32/64 against intp classes, what the general function decides at every call (the
    axis, the positions' layout, the sum's form) decided once, with its constants made once; the same operations,
    so the same bits (a replay of the small MLP: 10 us less). The general function elsewhere, and where an
    exponential overflows (its shift is then the max)."""
    general = functools.partial(_losses_keeping, axis=axis, reduction=reduction)
    if type(x) is not np.ndarray or x.ndim != 2 or axis % 2 != 1 or x.dtype.char not in "fd" or \
            type(target) is not np.ndarray or target.dtype != np.intp or target.shape != x.shape[:1] or \
            reduction not in _REDUCTIONS:
        return general
    n, c = x.shape
    starts, ones = _row_starts(n, c), _ones(c, x.dtype.char)

    def keeping(x: Any, target: Any) -> tuple[Any, tuple[Any, Any, Any]]:
        at = starts + target
        with _quiet():
            e = x - x.take(at).reshape(n, 1)
            total = (np.exp(e, out=e) @ ones).reshape(n, 1)
            if not math.isfinite(total.sum()):
                return general(x, target)
            loss = np.log(total)
        return _reduced_losses(loss.reshape(n), reduction), (e, total, at)

    return keeping


def _onehot(x: Any, target: Any, axis: int) -> Any:
    """[c == target] along x's class axis (booleans, no derivative), made on x's device."""
    n = x.shape[axis]
    classes = np.arange(n).reshape((n,) + (1,) * (x.ndim - axis - 1))
    return equal(reshape(target, _with_class_axis(target.shape, axis)), like(classes, x))


def _softmax_minus_onehot(x: Any, target: Any, axis: int) -> Any:
    """softmax(x) - onehot(target) along the class axis, the loss's gradient, written with primitives: it
    differentiates again, and runs on every transform's boxes."""
    return softmax(x, axis=axis) - _onehot(x, target, axis)


def _per_example(g: Any, target: Any, axis: int, reduction: str) -> Any:
    """The cotangent of each example's loss, shaped to broadcast against x: g itself (class axis put back), or for
    a reduced loss the 0-d g (divided by the count for the mean)."""
    if reduction == "none":
        return g.reshape(_with_class_axis(target.shape, axis))
    if reduction == "sum":
        return g
    count = np.float32(target.size) if g.dtype == _HALF else target.size  # (float16 holds no count over 65504)
    return g / count if target.size else g * math.nan


def _host_rule(g: Any, x: Any, target: Any, axis: int) -> Any:
    """The VJP on host arrays: the forward's exponentials recomputed, scaled in place by g / sum, and g taken off
    at each target (a gather and a scatter of one entry per example): three passes over x."""
    at = _target_positions(x, target, axis)
    with _quiet():
        e, total, _ = _exponentials(x, x.take(at).reshape(_with_class_axis(target.shape, axis)), axis)
    return _scaled(g, e, total, at)


def _scaled(g: Any, e: Any, total: Any, at: Any) -> Any:
    """exp(x - s) / sum * g - onehot * g, written into the exponentials ``e`` (which it takes over)."""
    with _quiet():
        e *= g / total
    g = g.reshape(at.shape) if g.ndim else g
    if e.flags.c_contiguous:  # its flat view, indexed: np.put's dispatch costs more than the gather and the scatter
        flat = e.reshape(-1)
        flat[at] = flat[at] - g
    else:
        np.put(e, at, e.take(at) - g)
    return e


def _rule_from_kept(g: Any, losses_kept: tuple[Any, Any], target: Any, axis: int = 1, reduction: str = "none") -> Any:
    """The host VJP from what ``_losses_keeping`` kept (whose exponentials it writes into): eager's numbers, bit for
    bit, without their second computation."""
    return _scaled(_per_example(g, target, axis % (target.ndim + 1), reduction), *losses_kept[1])


def _rule_step(g: Any, target: Any, axis: int = 1, reduction: str = "none") -> Callable[..., Any]:
    """cr.compile's step for ``_rule_from_kept`` with a cotangent of g's kind: for a reduced loss's 0-d g (not
    float16) over examples, each example's share (the mean's division by their count) taken without deciding it
    again; the general rule elsewhere. The same operations: eager's bits."""
    general = functools.partial(_rule_from_kept, axis=axis, reduction=reduction)
    if reduction == "none" or type(g) is not np.ndarray or g.dtype == _HALF or not target.size:
        return general
    count = target.size

    def rule(g: Any, losses_kept: tuple[Any, Any], target: Any) -> Any:
        return _scaled(g / count if reduction == "mean" else g, *losses_kept[1])

    return rule


def _ce_rule_body(xp: Any, x: Any, shift: Any, total: Any, hit: Any, g: Any) -> Any:
    return (xp.exp(x - shift) / total - hit) * g


_ce_rule = Kernel(_ce_rule_body, "chainrule_softmax_cross_entropy_rule")


def _array_rule(g: Any, ans: Any, x: Any, target: Any, axis: int, reduction: str) -> Any:
    """The VJP on raw arrays: on the host ``_host_rule``; on a GPU one kernel, shifted by the max (no test of the
    values, which would wait for the device); elsewhere (a device that does not fuse) the body's operations."""
    g = _per_example(g, target, axis, reduction)
    if type(x) is np.ndarray:
        return _host_rule(g, x, target, axis)
    shift = _shift(x, axis)
    total = (_shifted_exp(x, shift) if type(x) in _FUSING else np.exp(x - shift)).sum(axis=axis, keepdims=True)
    args = (x, shift, total, _onehot(x, target, axis), g)
    return _ce_rule(*args) if type(x) in _FUSING else _ce_rule_body(np, *args)


def _softmax_cross_entropy_vjp(g: Any, ans: Any, x: Any, target: Any, axis: int = 1,
                               reduction: str = "none") -> Any:
    """(softmax(x) - onehot(target)) g, with g broadcast along the class axis: on raw arrays (an eager backward)
    and in cr.compile (one step of the program, run on the arrays) computed from the arrays; with primitives
    otherwise, so that it differentiates again."""
    axis %= x.ndim
    if isinstance(g, np.generic):  # a NumPy scalar: a 0-d result of the loss's scaling (loss / 2)
        g = np.asarray(g)
    if type(x) in backend.array_types:
        if type(g) is type(x) and type(target) is type(x):
            return _array_rule(g, ans, x, target, axis, reduction)
    elif type(x) is Traced:
        from ..compile import opaque

        out = opaque(_array_rule, (g, ans, x, target), {"axis": axis, "reduction": reduction})
        if out is not None:  # None where a transform above the trace differentiates the rule too
            return out
    return _softmax_minus_onehot(x, target, axis) * _per_example(g, target, axis, reduction)


def _softmax_cross_entropy_jvp(t: Any, ans: Any, x: Any, target: Any, axis: int = 1, reduction: str = "none",
                               batched: bool = False) -> Any:
    """sum_c softmax(x)_c t_c - t[target] along the class axis for each example, reduced as the forward (one axis
    further right, and the leading one kept, for a batch of tangents)."""
    axis %= x.ndim
    per = _total(_softmax_minus_onehot(x, target, axis) * t, axis=axis + batched)
    if reduction == "none":
        return per
    total = _total(per, axis=tuple(range(batched, per.ndim)))
    if reduction != "mean":
        return total
    return total / np.float32(target.size) if total.dtype == _HALF else total / target.size


def _reference_softmax_cross_entropy(x: Any, target: Any, axis: int = 1, reduction: str = "none") -> Any:
    m = np.max(x, axis=axis, keepdims=True)
    logp = x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
    loss = -np.squeeze(np.take_along_axis(logp, np.expand_dims(target, axis), axis), axis)
    return {"none": loss, "sum": np.sum(loss), "mean": np.mean(loss)}[reduction]


def _cross_entropy_samples(rng: np.random.Generator) -> list[Sample]:
    def classes(n: int, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
        return rng.integers(0, n, shape)

    far = S.draw(rng, (2, 3), "any")
    far[0, 2] += 800.0  # exp(x - x_y) overflows in float64: the sums are shifted by the max
    return [Sample((S.draw(rng, (4,), "any"), classes(4, ())), {"axis": 0}),
            Sample((S.draw(rng, (3, 4), "any"), classes(4, (3,)))),
            Sample((S.draw(rng, (2, 3, 2), "any"), classes(3, (2, 2)))),
            Sample((S.draw(rng, (3, 2), "any"), classes(3, (2,))), {"axis": 0}),
            Sample((S.draw(rng, (3, 4), "any"), classes(4, (3,)).astype(np.uint8)), {"axis": -1}),
            Sample((far, np.array([1, 2]))),
            Sample((S.draw(rng, (3, 4), "any"), classes(4, (3,))), {"reduction": "mean"}),
            Sample((S.draw(rng, (2, 3, 2), "any"), classes(3, (2, 2))), {"reduction": "sum"}),
            Sample((far, np.array([1, 0])), {"reduction": "mean"})]


# loss_i = logsumexp(x_i) - x_i[y_i] along the class axis; d/dx = softmax(x) - onehot(y); the targets (integers)
# have no derivative. ``reduction`` (PyTorch's) sums or averages the losses in the same step, so that
# cross_entropy's usual call records one node. On the host the target's logit is the shift (no max).
softmax_cross_entropy = Primitive(
    "softmax_cross_entropy",
    _softmax_cross_entropy,
    vjp=(_softmax_cross_entropy_vjp, None),
    jvp=(_softmax_cross_entropy_jvp, None),
    batching=(functools.partial(_softmax_cross_entropy_jvp, batched=True), None),
    samples=_cross_entropy_samples,
    reference=_reference_softmax_cross_entropy,
)


# ---- cumulative sum and product (axis=None flattens, as NumPy) -------------------------------------------------
def _flat(x: Any, axis: int | None) -> bool:
    """Whether the cumulative op runs over the flattened input (axis=None, or a 0-d input)."""
    return axis is None or x.ndim == 0


def _cumsum_vjp(g: Any, ans: Any, x: Any, axis: int | None = None) -> Any:
    if _flat(x, axis):
        return reshape(_reverse_cumsum(g, 0), x.shape)
    return _reverse_cumsum(g, axis)  # type: ignore[arg-type]


_running_sum = Primitive(
    "cumsum",
    lambda x, axis=None: _cumsum(x, axis=axis),
    vjp=_cumsum_vjp,
    jvp=lambda t, ans, x, axis=None: _running_sum(t, axis=axis),
    samples=lambda rng: [Sample((S.draw(rng, ()),)), Sample((S.draw(rng, (4,)),)),
                         Sample((S.draw(rng, (2, 3)),), {"axis": 0}), Sample((S.draw(rng, (2, 3)),), {"axis": 1}),
                         Sample((S.draw(rng, (2, 3)),), {"axis": -1}), Sample((S.draw(rng, (2, 3)),), {"axis": None})],
)


def _as_rows(v: Any, axis: int) -> tuple[Any, tuple[int, ...], tuple[int, ...]]:
    """v with ``axis`` moved last and the rest flattened: shape (B, n); plus what ``_from_rows`` needs."""
    vl, perm = _to_last(v, (axis % v.ndim,))
    n = vl.shape[-1]
    return reshape(vl, (vl.size // n, n)), vl.shape, perm


def _from_rows(v2: Any, shape: tuple[int, ...], perm: tuple[int, ...]) -> Any:
    return _from_last(reshape(v2, shape), perm)


def _zero_partials(x2: Any, rows: Any, cols: Any) -> Any:
    """D[r, k] = dy_k / dx[rows[r], cols[r]] for y = cumprod(x2, axis=1), at each zero entry (rows[r], cols[r]).

    That is prod_{j <= k, j != i} x_j for k >= i (i = cols[r]), else 0: the cumprod of the entry's row with the
    entry itself replaced by 1. An identity for every x, so exact and differentiable; O(zeros * n) memory.
    """
    n = x2.shape[1]
    position = like(np.arange(n), x2)
    others = _running_product(where(position == cols[:, None], 1.0, getitem(x2, (rows,))), axis=1)
    return where(position >= cols[:, None], others, 0.0)


def _cumprod_vjp(g: Any, ans: Any, x: Any, axis: int | None = None) -> Any:
    """grad_i = sum_{k >= i} g_k dy_k/dx_i = reverse_cumsum(g * ans)_i / x_i wherever x_i != 0.

    At a zero x_i that quotient is 0/0: there the partials are taken directly (``_zero_partials``). Both formulas
    are identities of the true gradient (the first wherever x_i != 0), so higher derivatives are right as well.
    """
    if _flat(x, axis):
        return reshape(_cumprod_vjp(g, ans, reshape(x, (-1,)), 0), x.shape)
    assert axis is not None
    if not _has_zero(x):
        return _reverse_cumsum(g * ans, axis) / x
    x2, shape, perm = _as_rows(x, axis)
    g2, ans2 = _as_rows(g, axis)[0], _as_rows(ans, axis)[0]
    zero = bottom(x2) == 0
    rows, cols = zero.nonzero()
    at_zeros = _total(_zero_partials(x2, rows, cols) * getitem(g2, (rows,)), axis=1)
    elsewhere = _reverse_cumsum(g2 * ans2, 1) / where(zero, 1.0, x2)
    return _from_rows(where(zero, scatter_add(at_zeros, (rows, cols), zero.shape), elsewhere), shape, perm)


def _cumprod_jvp(t: Any, ans: Any, x: Any, axis: int | None = None) -> Any:
    """t_out_k = sum_{i <= k} t_i dy_k/dx_i = ans_k * cumsum(t / x)_k when no x_i is zero; zeros as in the VJP."""
    if _flat(x, axis):
        return _cumprod_jvp(reshape(t, (-1,)), ans, reshape(x, (-1,)), 0)
    assert axis is not None
    if not _has_zero(x):
        return ans * _running_sum(t / x, axis=axis)
    x2, shape, perm = _as_rows(x, axis)
    t2, ans2 = _as_rows(t, axis)[0], _as_rows(ans, axis)[0]
    zero = bottom(x2) == 0
    rows, cols = zero.nonzero()
    from_zeros = reshape(getitem(t2, (rows, cols)), (len(rows), 1)) * _zero_partials(x2, rows, cols)
    elsewhere = ans2 * _running_sum(where(zero, 0.0, t2 / where(zero, 1.0, x2)), axis=1)
    return _from_rows(elsewhere + scatter_add(from_zeros, (rows,), zero.shape), shape, perm)


# exact at zeros too (values and higher derivatives); each zero costs O(n) extra work along the axis
_running_product = Primitive(
    "cumprod",
    lambda x, axis=None: _cumprod(x, axis=axis),
    vjp=_cumprod_vjp,
    jvp=_cumprod_jvp,
    samples=lambda rng: [
        *_running_sum.samples(rng),  # type: ignore[misc]
        Sample((np.array([1.5, 0.0, -0.7, 1.2]),)),                                  # one zero
        Sample((np.array([0.0, 1.3, 0.0, -0.8]),)),                                  # two zeros
        Sample((np.array([[1.1, 0.0, -0.6], [0.0, 0.0, 1.4]]),), {"axis": 1}),
        Sample((np.array([[0.9, 0.0, -1.3], [0.7, 1.2, 0.0]]),), {"axis": 0}),
    ],
)


# ---- NumPy's calling conventions: dtype=, initial=, where=, ddof=/correction=, out= refused ---------------------
# The primitives above take (x, axis, keepdims); the public functions below add NumPy's other arguments as
# composites of them, so a call without those arguments costs one Python frame more and nothing else.
_pick = where  # the functions below take a where= argument, as NumPy's do


def _reduced(prim: Primitive, x: Any, axis: Axis, keepdims: bool) -> Any:
    """``prim(x, axis=, keepdims=)``, without the keywords when they are the defaults: a call without keywords
    takes the primitive's fastest path."""
    return prim(x) if axis is None and not keepdims else prim(x, axis=axis, keepdims=keepdims)


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"{name}(..., out=): chainrule never writes into an array that a graph may hold; take the "
                        f"result instead (y = {name}(...))")


def _constant(v: Any, like_: Any) -> Any:
    """An array without a derivative (a sign), as a constant Tensor when ``like_`` is one: tensors in, tensors out."""
    return Tensor._from_node(v, None) if isinstance(like_, Tensor) else v


def _beside(v: Any, ref: Any) -> Any:
    """A second argument (weights, knots, a kernel) as an array; a constant one (a list, a host array) is moved to
    the device of ``ref``'s values, as CuPy's functions would take it. Tensors stay where they are."""
    v = as_array(v)
    return v if isinstance(v, Tensor) else like(v, ref)


def _cast(a: Any, dtype: Any) -> Any:
    """``a`` converted to ``dtype`` first, as NumPy reduces in ``dtype=`` (differentiable between floating dtypes)."""
    return a if dtype is None else astype(as_array(a), dtype)


def _mask(where: Any, x: Any, name: str) -> Any:
    """A ``where=`` argument as a boolean array next to x's values, checked to broadcast to x's shape; a mask that
    is a box of vmap or cr.compile (computed from the values: ``~isnan(x)``) as it is."""
    w = bottom(where)
    boxed = type(w) is Example
    if boxed:
        w = where
    elif type(w) not in backend.array_types:
        w = np.asarray(w)
    if w.dtype != np.bool_:
        raise TypeError(f"{name}(..., where=) takes a boolean mask, not an array of {w.dtype}")
    try:
        fits = np.broadcast_shapes(w.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{name}(..., where=): a mask of shape {w.shape} does not broadcast to the input's shape "
                         f"{x.shape}")
    return w if boxed else like(w, x)


def _masked(a: Any, dtype: Any, where: Any, fill: Any, name: str) -> Any:
    """``a`` cast to ``dtype``, with the entries ``where=`` leaves out replaced by ``fill`` (the reduction's identity,
    so they add nothing; their gradient is 0)."""
    if dtype is None and where is True:  # the common call: nothing to do
        return a
    x = as_array(_cast(a, dtype))
    return x if where is True else _pick(_mask(where, x, name), x, fill)


def _counts(x: Any, axis: Axis, keepdims: bool, where: Any, name: str) -> Any:
    """How many entries each slice reduces: an int, or under ``where=`` an array of counts (one per slice)."""
    if where is True:
        return _count(x, axis)
    mask = _mask(where, x, name)
    if isinstance(mask, Tensor):  # a box: the count recorded too
        return sum(broadcast_to(mask, x.shape), axis=axis, keepdims=keepdims)
    return backend.namespace(mask).broadcast_to(mask, x.shape).sum(axis=axis, keepdims=keepdims)


@both_spellings
def sum(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, keepdims: bool = False, initial: Any = None,
        where: Any = True) -> Any:
    """Sum over ``axis`` (all axes by default), as ``np.sum``: ``dtype=`` casts first, ``initial=`` is added, and the
    entries ``where=`` leaves out count as 0 (their gradient is 0).

    >>> import chainrule as cr
    >>> cr.sum(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0)
    tensor([4., 6.])
    >>> float(cr.sum(cr.tensor([1.0, 2.0, 4.0]), where=[True, False, True], initial=10.0))
    15.0
    """
    _no_out("sum", out)
    total = _reduced(_total, _masked(a, dtype, where, 0, "sum"), axis, keepdims)
    return total if initial is None else total + initial


@both_spellings
def prod(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, keepdims: bool = False, initial: Any = None,
         where: Any = True) -> Any:
    """Product over ``axis``, as ``np.prod``: ``dtype=`` casts first, ``initial=`` multiplies, entries that
    ``where=`` leaves out count as 1. At zeros the gradient is the exact product of the others.

    >>> import chainrule as cr
    >>> float(cr.prod(cr.tensor([2.0, 3.0, 4.0]), where=[True, False, True]))
    8.0
    """
    _no_out("prod", out)
    total = _reduced(_product, _masked(a, dtype, where, 1, "prod"), axis, keepdims)
    return total if initial is None else total * initial


def _extremum(name: str, prim: Primitive, pair: Primitive, fill: float, a: Any, axis: Axis, keepdims: bool,
              initial: Any, where: Any) -> Any:
    """max or min with NumPy's ``initial=`` (one more candidate) and ``where=`` (which needs ``initial=``, as in
    NumPy: a slice with nothing selected has no extremum). Masked floating entries become ``fill`` (-inf for max),
    so they never tie with a selected one; a tie with ``initial`` splits the gradient evenly, as maximum's does."""
    if initial is None:
        if where is not True:
            raise ValueError(f"{name}(..., where=) needs initial= too: a slice with nothing selected has no {name} "
                             f"(NumPy's rule)")
        return _reduced(prim, a, axis, keepdims)
    x = as_array(a)
    if where is not True:
        x = _pick(_mask(where, x, name), x, fill if x.dtype.kind == "f" else initial)
    if _count(x, axis) == 0:  # nothing to compare: initial in every slice
        return _reduced(_total, x, axis, keepdims) + initial
    return pair(_reduced(prim, x, axis, keepdims), initial)


@both_spellings
def max(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, initial: Any = None,
        where: Any = True) -> Any:
    """The largest entry over ``axis``, as ``np.max`` (``initial=``, and ``where=`` with ``initial=``). Tied maxima
    share the gradient evenly; a NaN is the maximum of its slice.

    >>> import chainrule as cr
    >>> cr.max(cr.tensor([[1.0, 5.0], [3.0, 2.0]]), axis=1)
    tensor([5., 3.])
    >>> float(cr.max(cr.tensor([1.0, 5.0, 3.0]), where=[True, False, True], initial=0.0))
    3.0
    """
    _no_out("max", out)
    return _extremum("max", _largest, maximum, -math.inf, a, axis, keepdims, initial, where)


@both_spellings
def min(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, initial: Any = None,
        where: Any = True) -> Any:
    """The smallest entry over ``axis``, as ``np.min``; see ``max``.

    >>> import chainrule as cr
    >>> float(cr.min(cr.tensor([4.0, 2.0]), initial=1.0))
    1.0
    """
    _no_out("min", out)
    return _extremum("min", _smallest, minimum, math.inf, a, axis, keepdims, initial, where)


amax = max
amin = min


@_widened
def _mean(x: Any, axis: Axis, keepdims: bool, where: Any) -> Any:
    return _per(_reduced(_total, _masked(x, None, where, 0, "mean"), axis, keepdims),
                _counts(x, axis, keepdims, where, "mean"))


@both_spellings
def mean(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, keepdims: bool = False, *,
         where: Any = True) -> Any:
    """Arithmetic mean over ``axis`` (all axes by default), over the entries ``where=`` selects; NaN for none.

    >>> import chainrule as cr
    >>> float(cr.mean(cr.tensor([1.0, 2.0, 6.0])))
    3.0
    >>> float(cr.mean(cr.tensor([1.0, 2.0, 6.0]), where=[True, True, False]))
    1.5
    """
    _no_out("mean", out)
    return _mean(_cast(a, dtype), axis, keepdims, where)


def _ddof(ddof: Any, correction: Any) -> Any:
    if correction is None:
        return ddof
    if ddof != 0:
        raise ValueError("var/std: ddof and correction can't be provided simultaneously (correction is NumPy 2's "
                         "name for ddof)")
    return correction


@_widened
def _var(x: Any, axis: Axis, ddof: Any, keepdims: bool, where: Any, center: Any) -> Any:
    d = x - (_mean(x, axis, True, where) if center is None else center)
    if where is not True:
        d = _pick(_mask(where, x, "var"), d, 0)
    squares = d * d if not is_complex(d) else real(d * conjugate(d))  # |d|^2: a real variance
    return _per(_reduced(_total, squares, axis, keepdims), _counts(x, axis, keepdims, where, "var") - ddof)


@both_spellings
def var(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: Any = 0, keepdims: bool = False, *,
        where: Any = True, mean: Any = None, correction: Any = None) -> Any:
    """Variance over ``axis``: sum((x - mean)^2) / (N - ddof), as ``np.var`` (``mean=`` a precomputed mean with
    kept axes, ``correction=`` NumPy 2's name for ``ddof``); NaN where N - ddof <= 0.

    >>> import chainrule as cr
    >>> float(cr.var(cr.tensor([1.0, 2.0, 6.0])))
    4.666666666666667
    >>> float(cr.var(cr.tensor([1.0, 2.0, 6.0]), ddof=1))
    7.0
    """
    _no_out("var", out)
    return _var(_cast(a, dtype), axis, _ddof(ddof, correction), keepdims, where, mean)


@both_spellings
def std(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: Any = 0, keepdims: bool = False, *,
        where: Any = True, mean: Any = None, correction: Any = None) -> Any:
    """Standard deviation over ``axis``, ``sqrt(var(...))`` with ``var``'s arguments; its gradient is inf/nan
    where it is 0.

    >>> import chainrule as cr
    >>> float(cr.std(cr.tensor([1.0, 3.0])))
    1.0
    """
    _no_out("std", out)
    return sqrt(_var(_cast(a, dtype), axis, _ddof(ddof, correction), keepdims, where, mean))


@both_spellings
def logsumexp(a: Any, axis: Axis = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Any:
    """log(sum(b * exp(a))) over ``axis``, as ``scipy.special.logsumexp``: ``b`` (weights, broadcast against ``a``,
    differentiable too) may be negative, and ``return_sign=True`` then gives (log|sum|, sign); without it a
    negative sum is NaN. Shifted by the maximum, so nothing overflows.

    >>> import chainrule as cr
    >>> round(float(cr.logsumexp(cr.tensor([0.0, 0.0]), b=[0.5, 1.5])), 12)
    0.69314718056
    >>> [float(v) for v in cr.logsumexp(cr.tensor([0.0, 1.0]), b=[2.0, -1.0], return_sign=True)]
    [-0.3308932682040546, -1.0]
    """
    if b is None:
        out = _reduced(_lse, a, axis, keepdims)
        if not return_sign:
            return out
        v = values(out)
        return out, _constant(np.where(v == -math.inf, 0.0, 1.0).astype(v.dtype), out)
    x = as_array(a)
    w = _beside(b, x)
    shape = np.broadcast_shapes(x.shape, w.shape)
    x, w = broadcast_to(x, shape), broadcast_to(w, shape)
    xv = values(x)
    shift = _shift(np.where(values(w) != 0, xv, -math.inf), axis)  # a constant: the result does not depend on it
    with _quiet():
        total = _total(w * exp(x - shift), axis=axis, keepdims=keepdims)
        sign = np.sign(values(total))
        out = log(absolute(total)) + shift.reshape(total.shape)
    if return_sign:
        return out, _constant(sign, out)
    return _pick(sign < 0, math.nan, out)


@both_spellings
def cumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Running sums along ``axis`` (over the flattened input for None), as ``np.cumsum``; ``dtype=`` casts first.

    >>> import chainrule as cr
    >>> cr.cumsum(cr.tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0)
    tensor([[1., 2.],
            [4., 6.]])
    """
    _no_out("cumsum", out)
    x = _cast(a, dtype)
    return _running_sum(x) if axis is None else _running_sum(x, axis=axis)


@both_spellings
def cumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """Running products along ``axis`` (over the flattened input for None), as ``np.cumprod``; exact gradients at
    zeros (the product of the others, also at second order).

    >>> import chainrule as cr
    >>> cr.cumprod(cr.tensor([2.0, 0.0, 3.0]))
    tensor([2., 0., 0.])
    """
    _no_out("cumprod", out)
    x = _cast(a, dtype)
    return _running_product(x) if axis is None else _running_product(x, axis=axis)


def _cumulative(name: str, op: Callable[..., Any], identity: int, x: Any, axis: int | None, dtype: Any,
                include_initial: bool) -> Any:
    """NumPy 2.1's cumulative_sum / cumulative_prod: axis= required past 1-d, ``include_initial`` prepends the
    identity (so the result is one longer along ``axis``)."""
    x = as_array(_cast(x, dtype))
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{name}: axis= must be given for an input of {x.ndim} dimensions (NumPy's rule)")
        axis = 0
    if x.ndim == 0:
        x = reshape(x, (1,))
    out = op(x, axis=axis)
    if not include_initial:
        return out
    shape = list(x.shape)
    shape[axis] = 1
    start = np.full(shape, identity, dtype=bottom(out).dtype)
    return concatenate([like(start, out), out], axis=axis)


@both_spellings
def cumulative_sum(x: Any, /, *, axis: int | None = None, dtype: Any = None, include_initial: bool = False) -> Any:
    """Running sums along ``axis``, as NumPy 2.1's ``np.cumulative_sum`` (``include_initial=True`` starts with 0).

    >>> import chainrule as cr
    >>> cr.cumulative_sum(cr.tensor([1.0, 2.0, 3.0]), include_initial=True)
    tensor([0., 1., 3., 6.])
    """
    return _cumulative("cumulative_sum", _running_sum, 0, x, axis, dtype, include_initial)


@both_spellings
def cumulative_prod(x: Any, /, *, axis: int | None = None, dtype: Any = None, include_initial: bool = False) -> Any:
    """Running products along ``axis``, as NumPy 2.1's ``np.cumulative_prod`` (``include_initial=True`` starts with
    1); exact gradients at zeros, as ``cumprod``.

    >>> import chainrule as cr
    >>> cr.cumulative_prod(cr.tensor([2.0, 3.0, 4.0]))
    tensor([ 2.,  6., 24.])
    """
    return _cumulative("cumulative_prod", _running_product, 1, x, axis, dtype, include_initial)
