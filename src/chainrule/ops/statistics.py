"""Order statistics, NaN-skipping reductions and moments, with NumPy's names and signatures: median, percentile,
quantile (all thirteen of NumPy's methods) and their nan* forms, nansum ... nanstd, average, ptp, cov, corrcoef.

Every function is a composite of the primitives (no gradient code of its own). A quantile gathers the two sorted
neighbours of its virtual index from the input (the sort order is a constant: it does not move under a small
change of the values) and interpolates between them, so the gradient reaches those two entries, weighted by the
interpolation, and ``q`` itself for the interpolating methods. Ties: the sort is stable, so of several equal
entries the one earlier in the input takes the sorted position first: ``median([3, 1, 3])`` sends its gradient to
the first 3 alone, ``median([1, 3, 3, 5])`` gives each 3 half. The nan* forms give NaN entries a gradient of 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..primitive import like
from ..spelling import both_spellings
from ..tensor import Tensor, bottom, values
from ..transforms import decision_values
from .elementwise import around, astype, ceil, clip, floor, isnan, maximum, minimum, sqrt, where
from .linalg import diagonal, matmul
from .reduce import (
    Axis,
    _axes,
    _beside,
    _constant,
    _count,
    _keepdims_shape,
    _mask,
    _no_out,
    _to_last,
    cumprod,
    cumsum,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from .shape import as_array, broadcast_to, concatenate, getitem, reshape, squeeze, transpose
from .sorting import _ordering

__all__ = [
    "average",
    "corrcoef",
    "cov",
    "median",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmedian",
    "nanmin",
    "nanpercentile",
    "nanprod",
    "nanquantile",
    "nanstd",
    "nansum",
    "nanvar",
    "percentile",
    "ptp",
    "quantile",
]

_pick = where  # the nan* functions take a where= argument, as NumPy's do

# NumPy's interpolating methods: the virtual index n q + alpha + q (1 - alpha - beta) - 1 (Hyndman and Fan)
_CONTINUOUS = {"linear": (1.0, 1.0), "weibull": (0.0, 0.0), "hazen": (0.5, 0.5), "median_unbiased": (1 / 3, 1 / 3),
               "normal_unbiased": (3 / 8, 3 / 8), "interpolated_inverted_cdf": (0.0, 1.0)}
_DISCRETE = ("lower", "higher", "nearest", "midpoint", "inverted_cdf", "averaged_inverted_cdf", "closest_observation")


def _positions(method: str, n: Any, q: Any) -> tuple[Any, Any]:
    """The sorted position below a quantile (a float array, perhaps outside [0, n - 1]) and the weight of the one
    above it, as NumPy's method computes them from the slice sizes ``n`` and ``q``, with recorded operations (``n``
    may be a box of vmap or cr.compile). The weight is recorded through ``q`` for the interpolating methods; the
    other methods' results are piecewise constant in ``q``."""
    if method in _CONTINUOUS:
        alpha, beta = _CONTINUOUS[method]
        # NumPy's own form for "linear", (n - 1) q, rounds the same way as NumPy's
        virtual = (n - 1) * q if method == "linear" else n * q + (alpha + q * (1 - alpha - beta)) - 1
        below = floor(virtual)  # no gradient: the weight carries q's
        return below, virtual - below
    qv = values(q)
    h = (n - 1) * qv
    if method == "lower":
        return floor(h), 0.0
    if method == "higher":
        return ceil(h), 0.0
    if method == "nearest":
        return around(h), 0.0  # half to even, as NumPy
    if method == "midpoint":
        below = floor(h)
        return below, where(ceil(h) > below, 0.5, 0.0)
    v = n * qv - (1.5 if method == "closest_observation" else 1.0)
    below = floor(v)
    if method == "averaged_inverted_cdf":
        return below, where(v == below, 0.5, 1.0)
    if method == "inverted_cdf":
        return where(v == below, below, below + 1), 0.0
    if method == "closest_observation":  # the nearest even order statistic (1-based) at a tie
        return where((v == below) & (below % 2 == 1), below, below + 1), 0.0
    raise ValueError(f"quantile: method={method!r} is not one of NumPy's ({', '.join([*_CONTINUOUS, *_DISCRETE])})")


def _lerp(a: Any, b: Any, t: Any) -> Any:
    """a + t (b - a), written from b's side for t >= 0.5 as NumPy's, so t = 1 gives b exactly; ``a`` alone for the
    methods that pick an entry (t the number 0)."""
    if type(t) is float:
        return a
    d = b - a
    return where(t >= 0.5, b - d * (1 - t), a + d * t)


def _quantile(name: str, a: Any, q: Any, scale: float, axis: Axis, keepdims: bool, method: str, skip_nan: bool,
              extra: dict[str, Any]) -> Any:
    """The quantiles ``q / scale`` of ``a`` over ``axis``: shape q.shape + the reduced shape, as NumPy's."""
    _no_out(name, extra.get("out"))
    if extra.get("weights") is not None or extra.get("interpolation") is not None:
        raise TypeError(f"{name}: weights= and interpolation= (NumPy's deprecated name for method=) are not "
                        f"supported; pass method=")
    x = as_array(a)
    q = _beside(q, x)
    qv = values(q)
    if not bool(((qv >= 0) & (qv <= scale)).all()):
        raise ValueError(f"{name}: q must be in [0, {scale:g}]")
    axes = _axes(axis, x.ndim)
    n = _count(x, axis)
    if n == 0:
        raise ValueError(f"{name} of an empty slice (input shape {x.shape}, axis={axis})")
    xt, _ = _to_last(x, axes)
    rows = xt.shape[: xt.ndim - len(axes)]
    flat = reshape(xt, (-1,))
    # the order, NaN counts and positions are computed on the values: plain calls eagerly, recorded steps without a
    # gradient on the boxes of vmap and cr.compile (which batch them and replay them on new values)
    slices = decision_values(reshape(xt, (*rows, n)))
    order = reshape(_ordering(slices, -1, "stable"), (-1,))  # NaNs sort last
    floating = x.dtype.kind == "f"
    nans = sum(isnan(slices), axis=-1) if floating else like(np.zeros(rows, dtype=np.int64), x)
    count = astype(n - nans, np.float64) if skip_nan else like(np.full(rows, float(n)), x)
    q = reshape(q / scale if scale != 1 else q, (*q.shape, *(1,) * len(rows)))
    below, gamma = _positions(method, count, q)
    last = count - 1
    # the neighbours in each slice, within [0, count - 1]; a slice holding a NaN picks it (its last entry), so the
    # result is NaN as in NumPy (and the NaN takes the gradient, as max's does)
    lo, hi = (astype(maximum(minimum(i, last), 0), np.int64) for i in (below, below + 1))
    if not skip_nan:
        lo, hi = (where(nans > 0, n - 1, i) for i in (lo, hi))
    start = like(np.arange(int(np.prod(rows, dtype=np.int64))).reshape(rows) * n, x)
    if type(gamma) is not float and floating and not (isinstance(gamma, Tensor) and gamma.requires_grad):
        gamma = astype(gamma, x.dtype)  # a constant weight keeps float32 float32
    value = _lerp(getitem(flat, start + getitem(order, start + lo)), getitem(flat, start + getitem(order, start + hi)),
                  gamma)
    if skip_nan:
        value = where(count == 0, math.nan, value)  # an all-NaN slice: NaN, with no gradient
    if keepdims:
        value = reshape(value, (*qv.shape, *_keepdims_shape(x.shape, axis)))
    return value


@both_spellings
def quantile(a: Any, q: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
             method: str = "linear", keepdims: bool = False, *, weights: None = None,
             interpolation: None = None) -> Any:
    """The ``q``-th quantiles (q in [0, 1], a number or an array) over ``axis``, as ``np.quantile``, by any of NumPy's
    methods ("linear", its default, interpolates between the two sorted neighbours). The gradient goes to those
    neighbours (and to ``q`` for the interpolating methods); ties as the module says.

    >>> import chainrule as cr
    >>> cr.quantile(cr.tensor([4.0, 1.0, 3.0, 2.0]), [0.25, 0.5])
    tensor([1.75, 2.5 ])
    >>> cr.grad(lambda x: cr.quantile(x, 0.25))(cr.tensor([4.0, 1.0, 3.0, 2.0]))
    tensor([0.  , 0.25, 0.  , 0.75])
    """
    return _quantile("quantile", a, q, 1.0, axis, keepdims, method, False,
                     {"out": out, "weights": weights, "interpolation": interpolation})


@both_spellings
def percentile(a: Any, q: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
               method: str = "linear", keepdims: bool = False, *, weights: None = None,
               interpolation: None = None) -> Any:
    """The ``q``-th percentiles (q in [0, 100]) over ``axis``, as ``np.percentile``: ``quantile(a, q / 100)``.

    >>> import chainrule as cr
    >>> float(cr.percentile(cr.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), 75))
    4.0
    """
    return _quantile("percentile", a, q, 100.0, axis, keepdims, method, False,
                     {"out": out, "weights": weights, "interpolation": interpolation})


@both_spellings
def median(a: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False, keepdims: bool = False) -> Any:
    """The median over ``axis``, as ``np.median``: the middle entry, or the mean of the two middle ones. Ties: the
    gradient goes to the entry a stable sort puts in the middle (see the module).

    >>> import chainrule as cr
    >>> cr.median(cr.tensor([[1.0, 9.0, 3.0], [4.0, 2.0, 8.0]]), axis=1)
    tensor([3., 4.])
    """
    return _quantile("median", a, 0.5, 1.0, axis, keepdims, "linear", False, {"out": out})


@both_spellings
def nanquantile(a: Any, q: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
                method: str = "linear", keepdims: bool = False, *, weights: None = None,
                interpolation: None = None) -> Any:
    """``quantile`` over the entries that are not NaN (NaN for a slice of NaNs alone), as ``np.nanquantile``.

    >>> import chainrule as cr
    >>> float(cr.nanquantile(cr.tensor([1.0, float("nan"), 3.0]), 0.5))
    2.0
    """
    return _quantile("nanquantile", a, q, 1.0, axis, keepdims, method, True,
                     {"out": out, "weights": weights, "interpolation": interpolation})


@both_spellings
def nanpercentile(a: Any, q: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
                  method: str = "linear", keepdims: bool = False, *, weights: None = None,
                  interpolation: None = None) -> Any:
    """``percentile`` over the entries that are not NaN, as ``np.nanpercentile``.

    >>> import chainrule as cr
    >>> float(cr.nanpercentile(cr.tensor([1.0, float("nan"), 3.0]), 100))
    3.0
    """
    return _quantile("nanpercentile", a, q, 100.0, axis, keepdims, method, True,
                     {"out": out, "weights": weights, "interpolation": interpolation})


@both_spellings
def nanmedian(a: Any, axis: Axis = None, out: None = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Any:
    """``median`` over the entries that are not NaN, as ``np.nanmedian``.

    >>> import chainrule as cr
    >>> cr.nanmedian(cr.tensor([[1.0, float("nan"), 4.0], [2.0, 5.0, 3.0]]), axis=1)
    tensor([2.5, 3. ])
    """
    return _quantile("nanmedian", a, 0.5, 1.0, axis, keepdims, "linear", True, {"out": out})


# ---- NaN-skipping reductions: NaN entries are left out (masked), so their gradient is 0 --------------------------
def _valid(a: Any, where: Any, name: str) -> tuple[Any, Any]:
    """``a`` as an array, and the mask of its entries that are not NaN (and that ``where=`` selects)."""
    x = as_array(a)
    ok = ~isnan(x)  # recorded, without a gradient: a step of cr.compile, batched by vmap
    return x, ok if where is True else ok & _mask(where, x, name)


def _zeroed(a: Any, fill: int) -> Any:
    """``a`` with its NaNs replaced by ``fill`` (gradient 0 there)."""
    x = as_array(a)
    return _pick(isnan(x), fill, x) if x.dtype.kind == "f" else x


@both_spellings
def nansum(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = True) -> Any:
    """``sum`` with NaNs counted as 0, as ``np.nansum``.

    >>> import chainrule as cr
    >>> float(cr.nansum(cr.tensor([1.0, float("nan"), 2.0])))
    3.0
    """
    return sum(_zeroed(a, 0), axis, dtype, out, keepdims, initial, where)


@both_spellings
def nanprod(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, keepdims: bool = False,
            initial: Any = None, where: Any = True) -> Any:
    """``prod`` with NaNs counted as 1, as ``np.nanprod``.

    >>> import chainrule as cr
    >>> float(cr.nanprod(cr.tensor([2.0, float("nan"), 3.0])))
    6.0
    """
    return prod(_zeroed(a, 1), axis, dtype, out, keepdims, initial, where)


@both_spellings
def nancumsum(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """``cumsum`` with NaNs counted as 0, as ``np.nancumsum``.

    >>> import chainrule as cr
    >>> cr.nancumsum(cr.tensor([1.0, float("nan"), 2.0]))
    tensor([1., 1., 3.])
    """
    _no_out("nancumsum", out)
    return cumsum(_zeroed(a, 0), axis, dtype)


@both_spellings
def nancumprod(a: Any, axis: int | None = None, dtype: Any = None, out: None = None) -> Any:
    """``cumprod`` with NaNs counted as 1, as ``np.nancumprod``.

    >>> import chainrule as cr
    >>> cr.nancumprod(cr.tensor([2.0, float("nan"), 3.0]))
    tensor([2., 2., 6.])
    """
    _no_out("nancumprod", out)
    return cumprod(_zeroed(a, 1), axis, dtype)


@both_spellings
def nanmean(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, keepdims: bool = False, *,
            where: Any = True) -> Any:
    """``mean`` over the entries that are not NaN (NaN for a slice of NaNs alone), as ``np.nanmean``.

    >>> import chainrule as cr
    >>> float(cr.nanmean(cr.tensor([1.0, float("nan"), 2.0])))
    1.5
    """
    x, ok = _valid(a, where, "nanmean")
    return mean(x, axis, dtype, out, keepdims, where=ok)


@both_spellings
def nanvar(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: Any = 0, keepdims: bool = False, *,
           where: Any = True, mean: Any = None, correction: Any = None) -> Any:
    """``var`` over the entries that are not NaN, as ``np.nanvar``.

    >>> import chainrule as cr
    >>> float(cr.nanvar(cr.tensor([1.0, float("nan"), 3.0])))
    1.0
    """
    x, ok = _valid(a, where, "nanvar")
    return var(x, axis, dtype, out, ddof, keepdims, where=ok, mean=mean, correction=correction)


@both_spellings
def nanstd(a: Any, axis: Axis = None, dtype: Any = None, out: None = None, ddof: Any = 0, keepdims: bool = False, *,
           where: Any = True, mean: Any = None, correction: Any = None) -> Any:
    """``std`` over the entries that are not NaN, as ``np.nanstd``.

    >>> import chainrule as cr
    >>> float(cr.nanstd(cr.tensor([1.0, float("nan"), 3.0])))
    1.0
    """
    x, ok = _valid(a, where, "nanstd")
    return std(x, axis, dtype, out, ddof, keepdims, where=ok, mean=mean, correction=correction)


def _nan_extremum(fn: Any, fill: float, a: Any, axis: Axis, out: None, keepdims: bool, initial: Any,
                  where: Any, name: str) -> Any:
    """max/min over the entries that are not NaN; NaN for a slice of NaNs alone (unless ``initial`` is given)."""
    x, ok = _valid(a, where, name)
    if x.dtype.kind != "f":
        return fn(x, axis, out, keepdims, initial, where)
    if initial is not None:
        return fn(x, axis, out, keepdims, initial, ok)
    if where is not True:
        return fn(x, axis, out, keepdims, where=ok)  # refused by name: where= needs initial=, as NumPy
    best = fn(_pick(ok, x, fill), axis, out, keepdims)
    return _pick(~ok.any(axis=axis, keepdims=keepdims), math.nan, best)


@both_spellings
def nanmax(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, initial: Any = None,
           where: Any = True) -> Any:
    """``max`` over the entries that are not NaN (NaN for a slice of NaNs alone), as ``np.nanmax``.

    >>> import chainrule as cr
    >>> float(cr.nanmax(cr.tensor([1.0, float("nan"), 2.0])))
    2.0
    """
    return _nan_extremum(max, -math.inf, a, axis, out, keepdims, initial, where, "nanmax")


@both_spellings
def nanmin(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False, initial: Any = None,
           where: Any = True) -> Any:
    """``min`` over the entries that are not NaN (NaN for a slice of NaNs alone), as ``np.nanmin``.

    >>> import chainrule as cr
    >>> float(cr.nanmin(cr.tensor([1.0, float("nan"), 2.0])))
    1.0
    """
    return _nan_extremum(min, math.inf, a, axis, out, keepdims, initial, where, "nanmin")


# ---- weighted means, ranges, covariances -----------------------------------------------------------------------
def _along(w: Any, x: Any, axis: Axis) -> Any:
    """Weights given along ``axis`` only (NumPy's 1-d, or one per reduced axis) laid out to broadcast against x."""
    if w.shape == x.shape:
        return w
    if axis is None:
        raise TypeError("average: axis= must be given when the shapes of a and weights differ")
    axes = _axes(axis, x.ndim)
    if w.shape != tuple(x.shape[i] for i in axes):
        raise ValueError(f"average: weights of shape {w.shape} do not match a's shape {x.shape} along axis {axis}")
    w = transpose(w, tuple(int(i) for i in np.argsort(axes)))  # in the order of the axes in a
    return reshape(w, tuple(n if i in axes else 1 for i, n in enumerate(x.shape)))


@both_spellings
def average(a: Any, axis: Axis = None, weights: Any = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """The weighted mean sum(w x) / sum(w) over ``axis``, as ``np.average`` (differentiable in the weights too);
    ``returned=True`` also gives sum(w), broadcast to the result's shape.

    >>> import chainrule as cr
    >>> float(cr.average(cr.tensor([1.0, 2.0, 4.0]), weights=[1.0, 1.0, 2.0]))
    2.75
    """
    x = as_array(a)
    if weights is None:
        avg = mean(x, axis, keepdims=keepdims)
        scale = like(np.full(avg.shape, _count(x, axis), dtype=bottom(avg).dtype), x)
    else:
        w = _along(_beside(weights, x), x, axis)
        scale = sum(broadcast_to(w, np.broadcast_shapes(w.shape, x.shape)), axis, keepdims=keepdims)
        if bool((values(scale) == 0).any()):
            raise ZeroDivisionError("average: the weights sum to zero, so they cannot be normalized")
        avg = sum(x * w, axis, keepdims=keepdims) / scale
    if returned:
        if not isinstance(scale, Tensor):  # constant weights: the sum is a constant, a tensor beside a tensor
            scale = _constant(scale, avg)
        return avg, broadcast_to(scale, avg.shape)
    return avg


@both_spellings
def ptp(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False) -> Any:
    """The range max - min over ``axis``, as ``np.ptp`` (ties at either end split the gradient, as max's).

    >>> import chainrule as cr
    >>> float(cr.ptp(cr.tensor([3.0, -1.0, 2.0])))
    4.0
    """
    _no_out("ptp", out)
    x = as_array(a)
    return max(x, axis, keepdims=keepdims) - min(x, axis, keepdims=keepdims)


def _observations(v: Any, rowvar: bool, dtype: Any, keep_one_row: bool) -> Any:
    """A cov argument as (variables, observations); integers become float64, float32 stays float32. With
    ``rowvar=False`` a matrix is transposed (for ``y``, one of a single row is not: NumPy's rule)."""
    v = as_array(v)
    if v.ndim > 2:
        raise ValueError(f"cov: an input of {v.ndim} dimensions (at most 2: variables by observations)")
    kind = bottom(v).dtype.kind
    if dtype is not None or kind != "f":
        v = astype(v, np.float64 if dtype is None else dtype)
    if v.ndim < 2:
        return reshape(v, (1, -1))
    return v if rowvar or (keep_one_row and v.shape[0] == 1) else transpose(v, (1, 0))


def _weights(fweights: Any, aweights: Any, x: Any) -> tuple[Any, Any]:
    """The product of frequency and reliability weights (or None), checked as NumPy checks them; and aweights."""
    n = x.shape[1]
    w = None
    for label, given in (("fweights", fweights), ("aweights", aweights)):
        if given is None:
            continue
        g = _beside(given, x)
        gv = values(g)
        if g.ndim != 1 or g.shape[0] != n:
            raise ValueError(f"cov: {label} must be one weight per observation ({n}), not of shape {g.shape}")
        if bool((gv < 0).any()):
            raise ValueError(f"cov: {label} cannot be negative")
        if label == "fweights" and not bool((gv == np.floor(gv)).all()):
            raise TypeError("cov: fweights must be integers (frequencies)")
        w = g if w is None else w * g
    return w, None if aweights is None else _beside(aweights, x)


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Any = None, aweights: Any = None, *, dtype: Any = None) -> Any:
    """The covariance matrix of the rows of ``m`` (of its columns with ``rowvar=False``; ``y`` adds variables), as
    ``np.cov``: sum_k w_k (x_ik - mean_i)(x_jk - mean_j) / (sum w - ddof), with NumPy's ``bias``, ``ddof``,
    ``fweights`` and ``aweights`` rules. float32 stays float32 (NumPy computes in float64); NaN where the degrees of
    freedom are <= 0.

    >>> import chainrule as cr
    >>> cr.cov(cr.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    tensor([[ 1., -1.],
            [-1.,  1.]])
    """
    x = _observations(m, rowvar, dtype, False)
    if y is not None:
        x = concatenate([x, _observations(_beside(y, x), rowvar, dtype, True)], axis=0)
    n = x.shape[1]
    ddof = (0 if bias else 1) if ddof is None else ddof
    w, a = _weights(fweights, aweights, x)
    if w is None:
        center = mean(x, axis=1, keepdims=True)
        fact: Any = n - ddof
        spread = x - center
        weighted = spread
    else:
        w = astype(w, bottom(x).dtype)
        total = sum(w)
        center = reshape(sum(x * w, axis=1) / total, (-1, 1))
        fact = total if ddof == 0 else total - ddof if a is None else total - ddof * sum(w * a) / total
        spread = x - center
        weighted = spread * w
    if bool(values(fact) <= 0):
        fact = math.nan
    return squeeze(matmul(spread, transpose(weighted, (1, 0))) / fact)


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """Pearson correlation coefficients cov_ij / sqrt(cov_ii cov_jj), as ``np.corrcoef`` (clipped to [-1, 1] as
    NumPy's; a clipped entry, which rounding put past 1, passes no gradient).

    >>> import chainrule as cr
    >>> cr.corrcoef(cr.tensor([[0.0, 1.0, 2.0], [0.0, 2.0, 3.0]]))
    tensor([[1.        , 0.98198051],
            [0.98198051, 1.        ]])
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if c.ndim == 0:
        return c / c
    s = sqrt(diagonal(c))
    return clip(c / reshape(s, (-1, 1)) / reshape(s, (1, -1)), -1.0, 1.0)
