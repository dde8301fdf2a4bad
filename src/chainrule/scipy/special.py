"""SciPy's special functions as primitives: ``cr.scipy.special.gammaln(x)`` and its kin, with SciPy's names and
broadcasting, differentiable to any order.

Forwards are SciPy's own (``cupyx.scipy.special``'s on a GPU). Each rule is written with the functions of this
module, so derivatives of every order come from the rules themselves: gammaln' = digamma, digamma' = polygamma(1),
polygamma(n)' = polygamma(n + 1); the Bessel functions differentiate into their neighbours of order n - 1 and n + 1.
Arguments without a closed-form derivative (the shape parameters of betainc and gammainc, the order of the Bessel
functions and of polygamma, the exponent of zeta) are refused by name when differentiated, never given a zero.
SciPy's ufuncs called on tensors (``scipy.special.gammaln(t)``) come here through NumPy's protocol, and record.
The functions chainrule already has are the same objects here: ``expit`` is ``cr.sigmoid``, ``erf`` is ``cr.erf``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as _sp  # SciPy's package: absolute imports never find this one

from .. import backend, dispatch
from ..ops import samples as S
from ..ops.elementwise import erf, exp, log, log1p, log_sigmoid, sigmoid, sign, sinc, where
from ..ops.reduce import log_softmax as _log_softmax
from ..ops.reduce import logsumexp as _logsumexp
from ..ops.reduce import softmax as _softmax
from ..ops.reduce import sum as _sum
from ..primitive import Dual, Primitive, Sample, as_array, like
from ..spelling import both_spellings
from ..tensor import Tensor, bottom

__all__ = [
    "beta", "betainc", "betaln", "digamma", "entr", "erf", "erfc", "erfcinv", "erfcx", "erfinv", "expit", "gamma",
    "gammainc", "gammaincc", "gammaln", "gammasgn", "i0", "i0e", "i1", "i1e", "iv", "ive", "j0", "j1", "jn",
    "kl_div", "log_expit", "log_ndtr", "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri",
    "polygamma", "psi", "rel_entr", "rgamma", "sinc", "softmax", "stdtr", "xlog1py", "xlogy", "y0", "y1", "yn",
    "zeta",
]

Deriv = Callable[..., Any]  # deriv(ans, *inputs): d ans / d one input
_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_LOG_PI = math.log(math.pi)
_FLOAT64 = np.dtype(np.float64)


# ---- forwards: SciPy's on the host, the device library's on a GPU -------------------------------------------
@functools.cache
def _device_library() -> Any:
    """``cupyx.scipy.special`` where CuPy is installed, else None."""
    try:
        import cupyx.scipy.special as library
    except ImportError:
        return None
    return library


def _result_dtype(args: tuple[Any, ...]) -> np.dtype[Any]:
    """NumPy's promotion of the inputs (numbers are weak: float32 with an order 2 stays float32), floating: SciPy's
    loops would give float64 for ``gammainc(2, x32)``, and chainrule keeps float32."""
    numbers = [a for a in args if isinstance(a, (int, float))]
    dtypes = [a.dtype if hasattr(a, "dtype") else np.asarray(a).dtype for a in args if not isinstance(a, (int, float))]
    dtype = np.result_type(*dtypes, *numbers) if dtypes else np.dtype(float)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _device_function(name: str, device_name: str | None, ufunc: Any, device: str) -> Callable[..., Any]:
    """``name`` for arrays on ``device``: cupyx.scipy.special's ``device_name``, else SciPy's ``ufunc``, which NumPy's
    protocol hands to the array type (CuPy serves SciPy's ufuncs that it has so); refused by name otherwise."""
    found = getattr(_device_library(), device_name, None) if device_name else None
    if found is not None:
        return found
    if isinstance(ufunc, np.ufunc):
        return ufunc
    raise TypeError(f"scipy.special.{name} has no version for arrays on {device} (cupyx.scipy.special lacks it): "
                    "compute it on the host (t.cpu())")


def _scipy(name: str, ufunc: Any = None, device_name: str | None = "") -> Callable[..., Any]:
    """The forward of ``name``: SciPy's function on host arrays, the device's (``device_name`` in cupyx.scipy.special,
    or SciPy's ``ufunc``, by default both ``name``) on device arrays; in the inputs' floating dtype."""
    host = getattr(_sp, name)
    ufunc = host if ufunc is None else ufunc
    device_name = name if device_name == "" else device_name

    def forward(*args: Any) -> Any:
        if all(type(a) is np.ndarray and a.dtype == _FLOAT64 for a in args):
            return host(*args)  # the common case, float64 arrays on the host: SciPy's answer as it is
        device = next((a for a in args if type(a) in backend.array_types and type(a) is not np.ndarray), None)
        if device is None:
            out = host(*args)
        else:
            where_ = backend.device_of(device)
            try:
                out = _device_function(name, device_name, ufunc, where_)(*args)
            except TypeError as error:
                raise TypeError(f"scipy.special.{name} on {where_}: {error}") from None
        dtype = _result_dtype(args)
        return out if out.dtype == dtype else out.astype(dtype)

    forward.__name__ = forward.__qualname__ = name
    return forward


# ---- rules ------------------------------------------------------------------------------------------------------
def _rules(deriv: Deriv) -> tuple[Deriv, Deriv]:
    """The VJP ``g * deriv`` and JVP ``t * deriv`` of one input from its local derivative ``deriv(ans, *inputs)``."""
    return (lambda g, ans, *args: g * deriv(ans, *args)), (lambda t, ans, *args: t * deriv(ans, *args))


def _no_derivative(name: str, argument: str) -> Deriv:
    """The rule of an argument without a closed-form derivative: differentiating it is refused by name."""

    def refuse(ans: Any, *args: Any) -> Any:
        raise TypeError(f"scipy.special.{name} has no closed-form derivative with respect to {argument}: pass it as a "
                        "constant (a number, an array, or t.detach()), or differentiate it by finite differences")

    return refuse


def _special(name: str, *derivs: Deriv, samples: S.SamplesFn, forward: Callable[..., Any] | None = None,
             reference: Callable[..., Any] | None = None) -> Primitive:
    """A SciPy function as a primitive, from the local derivative of each input."""
    rules = [_rules(d) for d in derivs]
    return Primitive(name, forward or _scipy(name), vjp=[r[0] for r in rules], jvp=[r[1] for r in rules],
                     batching=True, samples=samples, reference=reference or getattr(_sp, name))


def _constant(prim: Primitive, x: Any, *params: Any) -> Any:
    """``prim`` of parameters that are never differentiated (plain numbers or arrays), as a constant in x's dtype on
    x's device: recorded, as any call, where a parameter is a tensor."""
    if any(isinstance(p, Tensor) for p in params):
        return prim(*params)
    c = prim.forward(*params)
    return like(np.asarray(c, dtype=bottom(x).dtype), x) if isinstance(c, (np.ndarray, np.generic)) else c


def _log0(z: Any) -> Any:
    """log(z), -inf at z = 0 and NaN below, without NumPy's warnings (nor a NaN computed where z > 0)."""
    if not np.any(bottom(z) <= 0):
        return log(z)
    v = bottom(z)
    positive = v > 0
    return where(positive, log(where(positive, z, 1.0)), where(v == 0, -math.inf, math.nan))


def _ratio(x: Any, y: Any) -> Any:
    """x / y, taken as 0 where x = y = 0: there the function (x log y, x log(x/y)) is 0 along y, for every y."""
    both = np.logical_and(bottom(x) == 0, bottom(y) == 0)
    if not np.any(both):
        return x / y
    return where(both, 0.0, x / where(both, 1.0, y))


# ---- gamma and beta functions -----------------------------------------------------------------------------------
def _gamma_samples(rng: np.random.Generator) -> list[Sample]:
    return [*S.unary("positive")(rng), Sample((np.array([-2.5, -0.5, 3.7, 12.0]),))]


def _with_orders(orders: tuple[int, ...], domain: str) -> S.SamplesFn:
    """An integer order (a number: never differentiated) before each shape of input."""
    return lambda rng: [Sample((n, S.draw(rng, s, domain))) for n in orders for s in ((), (2, 3))]


def _polygamma(n: Any, x: Any) -> Any:
    """polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x), and digamma for n = 0 (SciPy's formula), of ufuncs alone, so
    that it runs on any device that has them."""
    higher = (-1.0) ** (n + 1) * gamma.forward(n + 1.0) * _hurwitz.forward(n + 1, x)
    return np.where(n == 0, digamma.forward(x), higher).astype(_result_dtype((n, x)), copy=False)


gammaln = _special("gammaln", lambda ans, x: digamma(x), samples=_gamma_samples)
gamma = _special("gamma", lambda ans, x: ans * digamma(x), samples=_gamma_samples)
# 1/Gamma is entire, but -rgamma * digamma reads 0 * inf at the poles of Gamma (x = 0, -1, ...): NaN there
rgamma = _special("rgamma", lambda ans, x: -ans * digamma(x), samples=_gamma_samples)
digamma = _special("digamma", lambda ans, x: polygamma(1, x),
                   samples=lambda rng: [*S.unary("positive")(rng), Sample((np.array([-1.5, 0.3, 7.0, 80.0]),))])
psi = digamma
polygamma = _special("polygamma", _no_derivative("polygamma", "the order n"), lambda ans, n, x: polygamma(n + 1, x),
                     forward=_polygamma, samples=_with_orders((0, 1, 3), "positive"))
gammasgn = Primitive("gammasgn", _scipy("gammasgn"), differentiable=False, reference=_sp.gammasgn,
                     samples=lambda rng: [Sample((np.array(v),)) for v in (-2.5, [-0.5, 0.7], [[-1.5, 3.0]])])


def _beta_share(ans: Any, a: Any, b: Any) -> Any:
    """d/da log B(a, b) = digamma(a) - digamma(a + b)."""
    return digamma(a) - digamma(a + b)


beta = _special("beta", lambda ans, a, b: ans * _beta_share(ans, a, b), lambda ans, a, b: ans * _beta_share(ans, b, a),
                samples=S.binary(("positive", "positive")))
betaln = _special("betaln", _beta_share, lambda ans, a, b: _beta_share(ans, b, a),
                  samples=S.binary(("positive", "positive")))


def _unit_with_shapes(shapes: tuple[tuple[int, int], ...]) -> S.SamplesFn:
    """Shape parameters (integers: never differentiated) and x inside (0.05, 0.95)."""
    return lambda rng: [Sample((a, b, rng.uniform(0.05, 0.95, s))) for (a, b), s in zip(shapes, S.SHAPES)]


# d/dx I_x(a, b) = x^(a-1) (1-x)^(b-1) / B(a, b), in logarithms (xlogy: exact at x = 0 for a = 1)
betainc = _special(
    "betainc", _no_derivative("betainc", "the shape parameter a"), _no_derivative("betainc", "the shape parameter b"),
    lambda ans, a, b, x: exp(xlogy(a - 1.0, x) + xlog1py(b - 1.0, -x) - _constant(betaln, x, a, b)),
    samples=_unit_with_shapes(((1, 1), (2, 3), (5, 2))))


def _gamma_density(ans: Any, a: Any, x: Any) -> Any:
    """d/dx P(a, x) = x^(a-1) e^-x / Gamma(a), in logarithms."""
    return exp(xlogy(a - 1.0, x) - x - _constant(gammaln, x, a))


gammainc = _special("gammainc", _no_derivative("gammainc", "the shape parameter a"), _gamma_density,
                    samples=_with_orders((1, 2, 5), "positive"))
gammaincc = _special("gammaincc", _no_derivative("gammaincc", "the shape parameter a"),
                     lambda ans, a, x: -_gamma_density(ans, a, x), samples=_with_orders((1, 2, 5), "positive"))


def _t_density(ans: Any, df: Any, t: Any) -> Any:
    """d/dt stdtr(df, t): Student's t density, in logarithms."""
    norm = _constant(gammaln, t, (df + 1) / 2) - _constant(gammaln, t, df / 2) - 0.5 * _constant(log, t, df * math.pi)
    return exp(norm - (df + 1) / 2 * log1p(t * t / df))


# Student's t distribution function (what cr.scipy.stats.t.cdf calls): its derivative in df has no closed form
stdtr = _special("stdtr", _no_derivative("stdtr", "the degrees of freedom df"), _t_density,
                 samples=_with_orders((1, 3, 30), "any"))


def multigammaln(a: Any, d: int) -> Any:
    """The log of the multivariate gamma function, ``d(d-1)/4 log(pi) + sum_j gammaln(a - j/2)`` over j < d.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.special.multigammaln(3.0, 2)):.6f}")
    1.550195
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"multigammaln: d must be a positive integer (the dimension), got {d!r}")
    a = as_array(a)
    if (bottom(a) <= 0.5 * (d - 1)).any():
        raise ValueError(f"multigammaln: every a must exceed (d - 1)/2 = {0.5 * (d - 1)}")
    total = gammaln(a)
    for j in range(1, d):
        total = total + gammaln(a - 0.5 * j)
    return total + d * (d - 1) * 0.25 * _LOG_PI


# ---- error functions and the normal distribution ----------------------------------------------------------------
def _tails(rng: np.random.Generator) -> list[Sample]:
    return [*S.unary("any")(rng), Sample((np.array([-4.0, -1.3, 3.5, 6.0]),))]


_ERFCX_SERIES = 30.0
# erfcx(x) ~ sum_k c_k x^-(2k+1) / sqrt(pi) for large x, with c_k = (-1)^k (2k-1)!! / 2^k; its derivative's terms
_ERFCX_COEFFS = [-(2 * k + 1) * (-1) ** k * math.prod(range(1, 2 * k, 2)) / 2**k / _SQRT_PI for k in range(7)]


def _erfcx_deriv(ans: Any, x: Any) -> Any:
    """erfcx' = 2x erfcx(x) - 2/sqrt(pi), which cancels to -1/(sqrt(pi) x^2) for large x (losing eps * x^2 of it):
    above 30 it is the asymptotic series, whose first omitted term there is below 1e-14 of the sum."""
    large = bottom(x) > _ERFCX_SERIES
    direct = 2 * x * ans - 2 / _SQRT_PI
    if not np.any(large):
        return direct
    safe = where(large, x, _ERFCX_SERIES)  # the series never meets x = 0
    inv2 = 1 / (safe * safe)
    series = _ERFCX_COEFFS[-1]
    for c in reversed(_ERFCX_COEFFS[:-1]):
        series = series * inv2 + c
    return where(large, series * inv2, direct)


def _log_ndtr_deriv(ans: Any, x: Any) -> Any:
    """d/dx log Phi(x) = phi(x) / Phi(x): for x <= 0 the Mills ratio sqrt(2/pi) / erfcx(-x/sqrt 2), finite down to
    -1e308; for x > 0 exp(-x^2/2 - log Phi(x)) / sqrt(2 pi), where Phi(x) >= 1/2. Each side is kept away from the
    other's range, so higher derivatives never meet inf/inf."""
    positive = bottom(x) > 0
    if not np.any(positive):
        return _SQRT_2_OVER_PI / erfcx(x * -math.sqrt(0.5))
    high, low = where(positive, x, 0.0), where(positive, 0.0, x)
    return where(positive, exp(-0.5 * high * high - log_ndtr(high)) / _SQRT_2PI,
                 _SQRT_2_OVER_PI / erfcx(low * -math.sqrt(0.5)))


def _probabilities(rng: np.random.Generator) -> list[Sample]:
    return [Sample((rng.uniform(0.05, 0.95, s),)) for s in S.SHAPES]


erfc = _special("erfc", lambda ans, x: (-2 / _SQRT_PI) * exp(-x * x), samples=_tails)
erfinv = _special("erfinv", lambda ans, x: (_SQRT_PI / 2) * exp(ans * ans), samples=S.unary("unit"))
erfcinv = _special("erfcinv", lambda ans, x: (-_SQRT_PI / 2) * exp(ans * ans),
                   samples=lambda rng: [Sample((rng.uniform(0.1, 1.9, s),)) for s in S.SHAPES])
erfcx = _special("erfcx", _erfcx_deriv,
                 samples=lambda rng: [*S.unary("any")(rng), Sample((np.array([-1.5, 12.0, 29.0, 31.0, 200.0]),))])
ndtr = _special("ndtr", lambda ans, x: exp(-0.5 * x * x) / _SQRT_2PI, samples=_tails)
ndtri = _special("ndtri", lambda ans, x: _SQRT_2PI * exp(0.5 * ans * ans), samples=_probabilities)
log_ndtr = _special("log_ndtr", _log_ndtr_deriv,
                    samples=lambda rng: [*S.unary("any")(rng), Sample((np.array([-40.0, -8.0, 0.0, 6.0, 40.0]),))])
logit = _special("logit", lambda ans, x: 1 / (x * (1 - x)), samples=_probabilities)
expit = sigmoid  # 1/(1 + e^-x), stable at +-1000
log_expit = log_sigmoid

# ---- x log y and the entropies: 0 log 0 = 0 ---------------------------------------------------------------------
# d/dx xlogy = log y (-inf at y = 0, as the function is -inf there for x != 0); d/dy = x / y, 0 at x = y = 0
xlogy = _special("xlogy", lambda ans, x, y: _log0(y), lambda ans, x, y: _ratio(x, y),
                 samples=lambda rng: [*S.binary(("real", "positive"))(rng),
                                      Sample((np.array([0.0, 0.0, 1.5]), np.array([0.3, 2.0, 0.7])))])
xlog1py = _special("xlog1py", lambda ans, x, y: _log0(1 + y), lambda ans, x, y: _ratio(x, 1 + y),
                   samples=lambda rng: [*S.binary(("real", "unit"))(rng),
                                        Sample((np.array([0.0, 2.0]), np.array([-0.5, 1e-9])))])
# entr = -x log x: entr' = -(1 + log x), +inf at x = 0
entr = _special("entr", lambda ans, x: -1 - _log0(x), samples=S.unary("positive"))
# rel_entr = x log(x/y); kl_div = rel_entr - x + y
rel_entr = _special("rel_entr", lambda ans, x, y: 1 + _log0(x / y), lambda ans, x, y: -_ratio(x, y),
                    samples=S.binary(("positive", "positive")))
kl_div = _special("kl_div", lambda ans, x, y: _log0(x / y), lambda ans, x, y: 1 - _ratio(x, y),
                  samples=S.binary(("positive", "positive")))


# ---- Bessel functions: derivatives from the recurrences with the neighbouring orders ----------------------------
def _bessel_samples(rng: np.random.Generator) -> list[Sample]:
    return [*S.unary("real")(rng), Sample((np.array([-9.0, 4.5, 16.0, 40.0]),))]


def _growing_bessel_samples(rng: np.random.Generator) -> list[Sample]:
    """I_n grows as e^x / sqrt(x): beyond a few units one entry's rounding swamps the others' differences."""
    return [*S.unary("real")(rng), Sample((np.array([-4.0, 2.5, 6.0]),))]


def _positive_bessel_samples(rng: np.random.Generator) -> list[Sample]:
    return [*S.unary("positive")(rng), Sample((np.array([3.2, 9.0, 40.0]),))]


# I_n' = (I_{n-1} + I_{n+1}) / 2, J_n' = (J_{n-1} - J_{n+1}) / 2, Y_n' likewise; I_0' = I_1, J_0' = -J_1, Y_0' = -Y_1.
# The scaled ive(v, x) = iv(v, x) e^-|x| gains -sign(x) ive(v, x) (its kink at x = 0 is sign's: 0).
i0 = _special("i0", lambda ans, x: i1(x), samples=_growing_bessel_samples)
i1 = _special("i1", lambda ans, x: (i0(x) + iv(2, x)) / 2, samples=_growing_bessel_samples)
i0e = _special("i0e", lambda ans, x: i1e(x) - sign(x) * ans, samples=_bessel_samples)
i1e = _special("i1e", lambda ans, x: (i0e(x) + ive(2, x)) / 2 - sign(x) * ans, samples=_bessel_samples)
iv = _special("iv", _no_derivative("iv", "the order v"), lambda ans, v, x: (iv(v - 1, x) + iv(v + 1, x)) / 2,
              samples=_with_orders((0, 1, 3), "positive"))
ive = _special("ive", _no_derivative("ive", "the order v"),
               lambda ans, v, x: (ive(v - 1, x) + ive(v + 1, x)) / 2 - sign(x) * ans,
               samples=_with_orders((0, 2, -1), "real"))
j0 = _special("j0", lambda ans, x: -j1(x), samples=_bessel_samples)
j1 = _special("j1", lambda ans, x: (j0(x) - jn(2, x)) / 2, samples=_bessel_samples)
jn = _special("jn", _no_derivative("jn", "the order n"), lambda ans, n, x: (jn(n - 1, x) - jn(n + 1, x)) / 2,
              samples=_with_orders((0, 1, 4), "real"))
y0 = _special("y0", lambda ans, x: -y1(x), samples=_positive_bessel_samples)
y1 = _special("y1", lambda ans, x: (y0(x) - yn(2, x)) / 2, samples=_positive_bessel_samples)
yn = _special("yn", _no_derivative("yn", "the order n"), lambda ans, n, x: (yn(n - 1, x) - yn(n + 1, x)) / 2,
              samples=_with_orders((0, 1, 3), "positive"))

# ---- zeta ---------------------------------------------------------------------------------------------------------
# Hurwitz's zeta(x, q) = sum_k (k + q)^-x: d/dq = -x zeta(x + 1, q); the exponent x has no closed form
_hurwitz = _special("zeta", _no_derivative("zeta", "the exponent x"), lambda ans, x, q: -x * _hurwitz(x + 1, q),
                    forward=_scipy("zeta", _sp._ufuncs._zeta), samples=_with_orders((2, 3, 5), "positive"))
# cupyx.scipy.special.zeta is Hurwitz's: Riemann's runs where the array type serves SciPy's ufunc
_riemann = Primitive("riemann_zeta", _scipy("zeta", _sp._ufuncs._riemann_zeta, device_name=None),
                     differentiable=False, reference=_sp.zeta,
                     samples=lambda rng: [Sample((np.array(v),)) for v in (2.0, [0.5, -3.5], [[1.5, 7.0]])])


def zeta(x: Any, q: Any = None) -> Any:
    """Hurwitz's zeta function ``sum_k (k + q)^-x``, Riemann's for ``q=None``; differentiable in ``q``.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.special.zeta(2.0, cr.tensor(1.0))):.6f}")  # pi^2 / 6
    1.644934
    """
    if q is not None:
        return _hurwitz(x, q)
    if isinstance(x, Tensor) and (x.requires_grad or type(x) is Dual):  # differentiated (vmap's batches are fine)
        _no_derivative("zeta", "the exponent x")(None)
    return _riemann(x)


# ---- reductions: SciPy's signatures (softmax over every axis by default) ----------------------------------------
@both_spellings
def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Any:
    """``log(sum(b * exp(a)))`` over ``axis``, without overflow; with ``return_sign=True``, ``(log|s|, sign(s))``
    (the sign has no gradient), else NaN where the weighted sum s is negative, as SciPy.

    >>> import numpy as np, chainrule as cr
    >>> out, s = cr.scipy.special.logsumexp([1000.0, 1000.0], b=[1.0, -3.0], return_sign=True)
    >>> print(f"{float(out):.6f}", float(s))
    1000.693147 -1.0
    """
    if b is None and not return_sign:
        return _logsumexp(a, axis=axis, keepdims=keepdims)
    a = as_array(a)
    b = as_array(1.0 if b is None else b)
    # shift by the largest a with a weight (a constant: the result does not depend on it)
    va, vb = bottom(a), bottom(b)
    shift = np.max(np.where(vb != 0, va, -np.inf), axis=axis, keepdims=True)
    shift = np.where(np.isfinite(shift), shift, 0.0)
    s = _sum(b * exp(a - shift), axis=axis, keepdims=keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf and, without return_sign, log(s < 0) = NaN
        out = (log(s * sign(s)) if return_sign else log(s)) + (shift if keepdims else _squeeze(shift, axis))
    return (out, sign(s)) if return_sign else out


def _squeeze(x: Any, axis: Any) -> Any:
    from ..ops.shape import squeeze

    return squeeze(x, axis=axis)


@both_spellings
def softmax(x: Any, axis: Any = None) -> Any:
    """``exp(x) / sum(exp(x))`` over ``axis`` (every axis by default, as SciPy; ``cr.softmax``'s is the last).

    >>> import chainrule as cr
    >>> cr.scipy.special.softmax([[0.0, 0.0], [0.0, 0.0]]).tolist()
    [[0.25, 0.25], [0.25, 0.25]]
    """
    return _softmax(x, axis=axis)


@both_spellings
def log_softmax(x: Any, axis: Any = None) -> Any:
    """``x - logsumexp(x)`` over ``axis`` (every axis by default, as SciPy).

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.special.log_softmax([0.0, 0.0])[0]):.6f}")
    -0.693147
    """
    return _log_softmax(x, axis=axis)


# ---- SciPy's own ufuncs on tensors ----------------------------------------------------------------------------
for _name in __all__:
    _theirs = getattr(_sp, _name, None)
    if isinstance(_theirs, np.ufunc):
        dispatch.register_ufunc(_theirs, globals()[_name])
dispatch.register_ufunc(_sp.jv, jn)  # SciPy's jn is jv, whose order may be any real number
dispatch.register_ufunc(_sp._ufuncs._zeta, _hurwitz)  # what scipy.special.zeta(x, q) calls
del _name, _theirs
