"""SciPy's distributions, differentiable in the data and in every parameter: ``cr.scipy.stats.norm.logpdf(x, loc,
scale)`` and its kin, with SciPy's names, argument order and ``loc``/``scale`` conventions.

Each method is a composite of chainrule's functions and the special functions of ``cr.scipy.special``: no rules of
its own, so its derivatives of every order come from theirs. A density is ``f((x - loc) / scale) / scale``; the
distribution functions of discrete ones shift by ``loc``. Outside the support a log-density is -inf with no gradient
to give (masks keep NaN out of the other side), where SciPy's is. Parameters outside their range (a scale <= 0, a
probability outside [0, 1]) are refused with a ValueError naming them, where SciPy would return NaN. Cumulative
functions whose shape-parameter derivative has no closed form (``t.cdf`` in ``df``, ``gamma.cdf`` in ``a``, ...) are
refused by name when differentiated there, by the special function they call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..linalg import cholesky, diagonal, solve
from ..ops.elementwise import abs, arctan, cos, exp, expm1, log, log1p, log_sigmoid, sigmoid, sin, where
from ..ops.reduce import sum
from ..ops.shape import expand_dims, moveaxis
from ..primitive import as_array, like
from ..tensor import Tensor, bottom
from . import special as sp

__all__ = ["beta", "binom", "cauchy", "chi2", "dirichlet", "expon", "gamma", "laplace", "logistic", "lognorm",
           "multivariate_normal", "norm", "poisson", "t", "uniform", "vonmises"]

_LOG_2PI = math.log(2 * math.pi)
_LOG2 = math.log(2.0)


def _log(v: Any) -> Any:
    """log of a parameter: a Python float for a number (so float32 data stays float32), else recorded."""
    return math.log(v) if isinstance(v, (int, float)) else log(v)


def _const(fn: Callable[..., Any], *params: Any) -> Any:
    """A special function of parameters; a Python float when they are all numbers (NumPy's float64 scalar would
    turn float32 data into float64), else recorded."""
    if all(isinstance(p, (int, float)) for p in params):
        return float(fn(*params))
    return fn(*params)


def _inside(mask: Any, z: Any, safe: float, formula: Callable[[Any], Any], outside: float) -> Any:
    """``formula(z)`` where ``mask`` holds and ``outside`` elsewhere; z is replaced by ``safe`` outside first, so
    the unused side computes (and differentiates) nothing infinite."""
    if np.all(bottom(mask)):
        return formula(z)
    return where(mask, formula(where(mask, z, safe)), outside)


def _log_either(p: Any, q: Any) -> Any:
    """log p, from its complement q = 1 - p where p > 1/2 (log1p(-q) keeps the digits that 1 - q would lose), and
    -inf where p = 0, without NumPy's warning."""
    v = bottom(p)
    big, zero = v > 0.5, v == 0
    if not np.any(big | zero):
        return log(p)
    return where(big, log1p(-where(big, q, 0.0)), where(zero, -math.inf, log(where(big | zero, 1.0, p))))


def _positive(dist: str, name: str, v: Any) -> None:
    if np.any(bottom(as_array(v) if not isinstance(v, Tensor) else v) <= 0):
        raise ValueError(f"{dist}: {name} must be positive")


class _Frozen:
    """A distribution with its parameters fixed, as SciPy's ``norm(loc=1.0, scale=2.0)``: its methods take the data
    alone (``entropy`` nothing), and differentiate in the fixed parameters as well."""

    # made below, one per method of the distributions (a discrete one has no logpdf, a continuous one no pmf)
    logpdf: Callable[[Any], Any]
    pdf: Callable[[Any], Any]
    cdf: Callable[[Any], Any]
    logcdf: Callable[[Any], Any]
    sf: Callable[[Any], Any]
    logsf: Callable[[Any], Any]
    logpmf: Callable[[Any], Any]
    pmf: Callable[[Any], Any]

    def __init__(self, dist: Any, args: tuple[Any, ...], kwds: dict[str, Any]) -> None:
        self.dist, self.args, self.kwds = dist, args, kwds

    def __repr__(self) -> str:
        return f"{self.dist!r} frozen"

    def entropy(self) -> Any:
        """The distribution's entropy."""
        return self.dist.entropy(*self.args, **self.kwds)


def _frozen_method(method: str) -> Callable[..., Any]:
    def call(self: _Frozen, x: Any) -> Any:
        return getattr(self.dist, method)(x, *self.args, **self.kwds)

    call.__name__ = method
    call.__doc__ = f"The distribution's ``{method}`` at ``x``."
    return call


for _method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "logpmf", "pmf"):
    setattr(_Frozen, _method, _frozen_method(_method))
del _method


class _Freezable:
    """What every distribution here shares: calling it with parameters freezes them, as in SciPy."""

    def __call__(self, *args: Any, **kwds: Any) -> _Frozen:
        """The distribution with these parameters fixed: ``norm(0.0, 2.0).logpdf(x)``.

        >>> import chainrule as cr
        >>> print(f"{float(cr.scipy.stats.norm(loc=1.0, scale=2.0).cdf(1.0)):.2f}")
        0.50
        """
        return _Frozen(self, args, kwds)


class _Distribution(_Freezable):
    """A family with SciPy's calling conventions: shape parameters, then ``loc`` (and ``scale``), positionally or by
    keyword. Subclasses give the standardized functions of ``z`` and the shapes."""

    shapes: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()  # the shape parameters that must be positive
    params: tuple[str, ...] = ("loc", "scale")

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<cr.scipy.stats.{self.name}>"

    def _bind(self, method: str, args: tuple[Any, ...], kwds: dict[str, Any]) -> dict[str, Any]:
        """The parameters by name, from SciPy's positional order and keywords; checked against their ranges."""
        names = self.shapes + self.params
        if len(args) > len(names):
            raise TypeError(f"{self.name}.{method}() takes at most {len(names) + 1} arguments ({len(args) + 1} given)")
        bound: dict[str, Any] = {"loc": 0.0, "scale": 1.0}
        bound.update(zip(names, args))
        for key, value in kwds.items():
            if key not in names:
                raise TypeError(f"{self.name}.{method}() got an unexpected keyword argument {key!r} (it takes "
                                f"{', '.join(names)})")
            if key in dict(zip(names, args)):
                raise TypeError(f"{self.name}.{method}() got multiple values for argument {key!r}")
            bound[key] = value
        missing = [s for s in self.shapes if s not in bound]
        if missing:
            raise TypeError(f"{self.name}.{method}() missing the shape parameter {missing[0]!r}")
        for name in self.positive + ("scale",) * ("scale" in self.params):
            _positive(self.name, name, bound[name])
        self._check(bound)
        return bound

    def _check(self, bound: dict[str, Any]) -> None:
        """Further range checks of a family's parameters."""


class _Continuous(_Distribution):
    """A continuous family: ``pdf(x) = f((x - loc) / scale) / scale``."""

    def _logpdf(self, z: Any, **s: Any) -> Any:
        raise NotImplementedError

    def _cdf(self, z: Any, **s: Any) -> Any:
        raise NotImplementedError

    def _sf(self, z: Any, **s: Any) -> Any:
        return 1 - self._cdf(z, **s)

    def _logcdf(self, z: Any, **s: Any) -> Any:
        return _log_either(self._cdf(z, **s), self._sf(z, **s))

    def _logsf(self, z: Any, **s: Any) -> Any:
        return _log_either(self._sf(z, **s), self._cdf(z, **s))

    def _entropy(self, **s: Any) -> Any:
        raise NotImplementedError

    def _standard(self, method: str, x: Any, args: tuple[Any, ...], kwds: dict[str, Any]) -> tuple[Any, Any, dict]:
        bound = self._bind(method, args, kwds)
        loc, scale = bound.pop("loc"), bound.pop("scale")
        return (as_array(x) - loc) / scale, scale, bound

    def _log_density(self, method: str, x: Any, args: tuple[Any, ...], kwds: dict[str, Any]) -> Any:
        z, scale, s = self._standard(method, x, args, kwds)
        return self._logpdf(z, **s) - _log(scale)

    def logpdf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """The log of the density at ``x``."""
        return self._log_density("logpdf", x, args, kwds)

    def pdf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """The density at ``x``."""
        return exp(self._log_density("pdf", x, args, kwds))

    def cdf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """P(X <= x)."""
        z, _, s = self._standard("cdf", x, args, kwds)
        return self._cdf(z, **s)

    def logcdf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """log P(X <= x)."""
        z, _, s = self._standard("logcdf", x, args, kwds)
        return self._logcdf(z, **s)

    def sf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """P(X > x), the survival function."""
        z, _, s = self._standard("sf", x, args, kwds)
        return self._sf(z, **s)

    def logsf(self, x: Any, *args: Any, **kwds: Any) -> Any:
        """log P(X > x)."""
        z, _, s = self._standard("logsf", x, args, kwds)
        return self._logsf(z, **s)

    def entropy(self, *args: Any, **kwds: Any) -> Any:
        """The differential entropy, ``-E[log pdf(X)]``."""
        bound = self._bind("entropy", args, kwds)
        bound.pop("loc")
        return self._entropy(**{k: v for k, v in bound.items() if k != "scale"}) + _log(bound["scale"])


class _Norm(_Continuous):
    """The normal distribution.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.norm.logpdf(1.0, loc=0.5, scale=2.0)):.6f}")
    -1.643336
    """

    def _logpdf(self, z: Any, **s: Any) -> Any:
        return -0.5 * z * z - 0.5 * _LOG_2PI

    def _cdf(self, z: Any, **s: Any) -> Any:
        return sp.ndtr(z)

    def _sf(self, z: Any, **s: Any) -> Any:
        return sp.ndtr(-z)

    def _logcdf(self, z: Any, **s: Any) -> Any:
        return sp.log_ndtr(z)

    def _logsf(self, z: Any, **s: Any) -> Any:
        return sp.log_ndtr(-z)

    def _entropy(self, **s: Any) -> Any:
        return 0.5 * (1 + _LOG_2PI)


class _T(_Continuous):
    """Student's t distribution with ``df`` degrees of freedom; its cdf is ``stdtr``, not differentiable in df.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.t.logpdf(0.5, 3.0)):.6f}")
    -1.160974
    """

    shapes = ("df",)
    positive = ("df",)

    def _logpdf(self, z: Any, **s: Any) -> Any:
        df = s["df"]
        norm = _const(sp.gammaln, (df + 1) / 2) - _const(sp.gammaln, df / 2) - 0.5 * _log(df * math.pi)
        return norm - (df + 1) / 2 * log1p(z * z / df)

    def _cdf(self, z: Any, **s: Any) -> Any:
        df = s["df"]
        return sp.stdtr(df, z)

    def _sf(self, z: Any, **s: Any) -> Any:
        df = s["df"]
        return sp.stdtr(df, -z)

    def _entropy(self, **s: Any) -> Any:
        df = s["df"]
        half = (df + 1) / 2
        return half * (_const(sp.digamma, half) - _const(sp.digamma, df / 2)) + 0.5 * _log(df) \
            + _const(sp.betaln, df / 2, 0.5)


class _Gamma(_Continuous):
    """The gamma distribution with shape ``a`` (support x >= loc); its cdf is ``gammainc``, not differentiable in a.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.gamma.logpdf(1.5, 2.0, scale=0.5)):.6f}")
    -1.208241
    """

    shapes = ("a",)
    positive = ("a",)

    def _logpdf(self, z: Any, **s: Any) -> Any:
        a = s["a"]
        return _inside(bottom(z) >= 0, z, 1.0, lambda v: sp.xlogy(a - 1, v) - v - _const(sp.gammaln, a), -math.inf)

    def _cdf(self, z: Any, **s: Any) -> Any:
        a = s["a"]
        return _inside(bottom(z) > 0, z, 1.0, lambda v: sp.gammainc(a, v), 0.0)

    def _sf(self, z: Any, **s: Any) -> Any:
        a = s["a"]
        return _inside(bottom(z) > 0, z, 1.0, lambda v: sp.gammaincc(a, v), 1.0)

    def _entropy(self, **s: Any) -> Any:
        a = s["a"]
        return a + _const(sp.gammaln, a) + (1 - a) * _const(sp.digamma, a)


class _Chi2(_Gamma):
    """The chi-squared distribution with ``df`` degrees of freedom: gamma with shape df/2 and scale 2.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.chi2.cdf(2.0, 2.0)):.6f}")
    0.632121
    """

    shapes = ("df",)
    positive = ("df",)

    def _standard(self, method: str, x: Any, args: tuple[Any, ...], kwds: dict[str, Any]) -> tuple[Any, Any, dict]:
        z, scale, s = super()._standard(method, x, args, kwds)
        return z / 2, scale * 2, {"a": s["df"] / 2}

    def entropy(self, *args: Any, **kwds: Any) -> Any:
        """The differential entropy, ``-E[log pdf(X)]``."""
        bound = self._bind("entropy", args, kwds)
        return self._entropy(a=bound["df"] / 2) + _log(bound["scale"] * 2)


class _Beta(_Continuous):
    """The beta distribution with shapes ``a`` and ``b`` on [loc, loc + scale].

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.beta.logpdf(0.3, 2.0, 3.0)):.6f}")
    0.567584
    """

    shapes = ("a", "b")
    positive = ("a", "b")

    def _logpdf(self, z: Any, **s: Any) -> Any:
        a, b = s["a"], s["b"]
        return _inside((bottom(z) >= 0) & (bottom(z) <= 1), z, 0.5,
                       lambda v: sp.xlogy(a - 1, v) + sp.xlog1py(b - 1, -v) - _const(sp.betaln, a, b), -math.inf)

    def _cdf(self, z: Any, **s: Any) -> Any:
        a, b = s["a"], s["b"]
        inside = _inside((bottom(z) > 0) & (bottom(z) < 1), z, 0.5, lambda v: sp.betainc(a, b, v), 0.0)
        return where(bottom(z) >= 1, 1.0, inside)

    def _sf(self, z: Any, **s: Any) -> Any:
        a, b = s["a"], s["b"]
        inside = _inside((bottom(z) > 0) & (bottom(z) < 1), z, 0.5, lambda v: sp.betainc(b, a, 1 - v), 0.0)
        return where(bottom(z) <= 0, 1.0, inside)

    def _entropy(self, **s: Any) -> Any:
        a, b = s["a"], s["b"]
        return _const(sp.betaln, a, b) - (a - 1) * _const(sp.digamma, a) - (b - 1) * _const(sp.digamma, b) \
            + (a + b - 2) * _const(sp.digamma, a + b)


class _Expon(_Continuous):
    """The exponential distribution (support x >= loc, rate 1/scale).

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.expon.logsf(3.0, scale=2.0)):.6f}")
    -1.500000
    """

    def _logpdf(self, z: Any, **s: Any) -> Any:
        return _inside(bottom(z) >= 0, z, 1.0, lambda v: -v, -math.inf)

    def _cdf(self, z: Any, **s: Any) -> Any:
        return _inside(bottom(z) > 0, z, 1.0, lambda v: -expm1(-v), 0.0)

    def _sf(self, z: Any, **s: Any) -> Any:
        return _inside(bottom(z) > 0, z, 1.0, lambda v: exp(-v), 1.0)

    def _logsf(self, z: Any, **s: Any) -> Any:
        return _inside(bottom(z) > 0, z, 1.0, lambda v: -v, 0.0)

    def _entropy(self, **s: Any) -> Any:
        return 1.0


class _Laplace(_Continuous):
    """The Laplace distribution, ``exp(-|z|) / 2``.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.laplace.cdf(0.0)):.6f}")
    0.500000
    """

    def _logpdf(self, z: Any, **s: Any) -> Any:
        return -abs(z) - _LOG2

    def _cdf(self, z: Any, **s: Any) -> Any:
        return self._sf(-z)

    def _sf(self, z: Any, **s: Any) -> Any:
        positive = bottom(z) > 0
        return where(positive, 0.5 * exp(-where(positive, z, 0.0)), 1 - 0.5 * exp(where(positive, 0.0, z)))

    def _logcdf(self, z: Any, **s: Any) -> Any:
        return self._logsf(-z)

    def _logsf(self, z: Any, **s: Any) -> Any:
        positive = bottom(z) > 0
        return where(positive, -where(positive, z, 0.0) - _LOG2, log1p(-0.5 * exp(where(positive, 0.0, z))))

    def _entropy(self, **s: Any) -> Any:
        return 1 + _LOG2


class _Cauchy(_Continuous):
    """The Cauchy distribution, ``1 / (pi (1 + z^2))``.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.cauchy.cdf(1.0)):.6f}")
    0.750000
    """

    def _logpdf(self, z: Any, **s: Any) -> Any:
        return -math.log(math.pi) - log1p(z * z)

    def _cdf(self, z: Any, **s: Any) -> Any:
        return 0.5 + arctan(z) / math.pi

    def _sf(self, z: Any, **s: Any) -> Any:
        return 0.5 - arctan(z) / math.pi

    def _entropy(self, **s: Any) -> Any:
        return math.log(4 * math.pi)


class _Logistic(_Continuous):
    """The logistic distribution, whose cdf is the sigmoid.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.logistic.logcdf(-1000.0)):.1f}")
    -1000.0
    """

    def _logpdf(self, z: Any, **s: Any) -> Any:
        return log_sigmoid(z) + log_sigmoid(-z)

    def _cdf(self, z: Any, **s: Any) -> Any:
        return sigmoid(z)

    def _sf(self, z: Any, **s: Any) -> Any:
        return sigmoid(-z)

    def _logcdf(self, z: Any, **s: Any) -> Any:
        return log_sigmoid(z)

    def _logsf(self, z: Any, **s: Any) -> Any:
        return log_sigmoid(-z)

    def _entropy(self, **s: Any) -> Any:
        return 2.0


class _Uniform(_Continuous):
    """The uniform distribution on [loc, loc + scale].

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.uniform.logpdf(0.5, loc=0.0, scale=4.0)):.6f}")
    -1.386294
    """

    def _logpdf(self, z: Any, **s: Any) -> Any:
        return _inside((bottom(z) >= 0) & (bottom(z) <= 1), z, 0.5, lambda v: 0.0 * v, -math.inf)

    def _cdf(self, z: Any, **s: Any) -> Any:
        v = bottom(z)
        return where(v <= 0, 0.0, where(v >= 1, 1.0, z))

    def _sf(self, z: Any, **s: Any) -> Any:
        v = bottom(z)
        return where(v <= 0, 1.0, where(v >= 1, 0.0, 1 - z))

    def _entropy(self, **s: Any) -> Any:
        return 0.0


class _Lognorm(_Continuous):
    """The log-normal distribution with shape ``s`` (the sd of log X; the scale is e^mean).

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.lognorm.cdf(1.0, 0.5)):.6f}")
    0.500000
    """

    shapes = ("s",)
    positive = ("s",)

    def _logpdf(self, z: Any, **s: Any) -> Any:
        sd = s["s"]

        def inside(v: Any) -> Any:
            u = log(v) / sd
            return -0.5 * u * u - _log(sd) - log(v) - 0.5 * _LOG_2PI

        return _inside(bottom(z) > 0, z, 1.0, inside, -math.inf)

    def _cdf(self, z: Any, **s: Any) -> Any:
        sd = s["s"]
        return _inside(bottom(z) > 0, z, 1.0, lambda v: sp.ndtr(log(v) / sd), 0.0)

    def _sf(self, z: Any, **s: Any) -> Any:
        sd = s["s"]
        return _inside(bottom(z) > 0, z, 1.0, lambda v: sp.ndtr(-log(v) / sd), 1.0)

    def _logcdf(self, z: Any, **s: Any) -> Any:
        sd = s["s"]
        return _inside(bottom(z) > 0, z, 1.0, lambda v: sp.log_ndtr(log(v) / sd), -math.inf)

    def _logsf(self, z: Any, **s: Any) -> Any:
        sd = s["s"]
        return _inside(bottom(z) > 0, z, 1.0, lambda v: sp.log_ndtr(-log(v) / sd), 0.0)

    def _entropy(self, **s: Any) -> Any:
        sd = s["s"]
        return 0.5 + 0.5 * _LOG_2PI + _log(sd)


class _Vonmises(_Continuous):
    """The von Mises distribution on the circle, concentration ``kappa``.

    Its cdf is the density's Fourier series integrated term by term,
    F(z) = 1/2 + z / (2 pi) + sum_n I_n(kappa) / I_0(kappa) sin(n z) / (n pi), summed over 10 sqrt(kappa) + 20 terms
    (I_n / I_0 falls as exp(-n^2 / (2 kappa))), so it is exact to rounding and differentiable in z and kappa. SciPy
    switches to a normal approximation above kappa = 50, whose values are off by up to about 1e-6 there.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.vonmises.logpdf(0.5, 2.0)):.6f}")
    -0.906705
    >>> print(f"{float(cr.scipy.stats.vonmises.cdf(0.5, 2.0)):.6f}")
    0.738192
    """

    shapes = ("kappa",)
    positive = ("kappa",)

    def _logpdf(self, z: Any, **s: Any) -> Any:
        kappa = s["kappa"]
        # kappa cos z - log(2 pi I0(kappa)), with the exponentially scaled i0e: finite for any kappa
        return kappa * (cos(z) - 1) - _LOG_2PI - _log_i0e(kappa)

    def _cdf(self, z: Any, **s: Any) -> Any:
        kappa = as_array(s["kappa"])
        terms = math.ceil(10 * math.sqrt(float(np.max(bottom(kappa))))) + 20
        dtype = np.result_type(bottom(z).dtype, bottom(kappa).dtype, np.float32)
        n = like(np.arange(1, terms + 1, dtype=dtype), z)
        series = sum(sp.ive(n, expand_dims(kappa, -1)) / expand_dims(sp.i0e(kappa), -1)
                     * sin(n * expand_dims(z, -1)) / n, axis=-1)
        return 0.5 + z / (2 * math.pi) + series / math.pi

    def _entropy(self, **s: Any) -> Any:
        kappa = s["kappa"]
        return _LOG_2PI + _log_i0e(kappa) + kappa * (1 - _const(sp.i1e, kappa) / _const(sp.i0e, kappa))


def _log_i0e(kappa: Any) -> Any:
    return math.log(float(sp.i0e(kappa))) if isinstance(kappa, (int, float)) else log(sp.i0e(kappa))


class _Discrete(_Distribution):
    """A discrete family on the integers: ``pmf(k) = f(k - loc)``; a k that is no integer of the support has
    probability 0 (log -inf), and the distribution functions step at the integers."""

    params = ("loc",)

    def _logpmf(self, k: Any, **s: Any) -> Any:
        raise NotImplementedError

    def _cdf(self, k: Any, **s: Any) -> Any:
        raise NotImplementedError

    def _sf(self, k: Any, **s: Any) -> Any:
        raise NotImplementedError

    def _support(self, k: Any, **s: Any) -> Any:
        v = bottom(k)
        return (v >= 0) & (v == np.floor(v))

    def _shift(self, method: str, k: Any, args: tuple[Any, ...], kwds: dict[str, Any]) -> tuple[Any, dict]:
        bound = self._bind(method, args, kwds)
        bound.pop("scale", None)
        return as_array(k) - bound.pop("loc"), bound

    def _log_mass(self, method: str, k: Any, args: tuple[Any, ...], kwds: dict[str, Any]) -> Any:
        k, s = self._shift(method, k, args, kwds)
        return _inside(self._support(k, **s), k, 0.0, lambda v: self._logpmf(v, **s), -math.inf)

    def logpmf(self, k: Any, *args: Any, **kwds: Any) -> Any:
        """The log of the probability of ``k``."""
        return self._log_mass("logpmf", k, args, kwds)

    def pmf(self, k: Any, *args: Any, **kwds: Any) -> Any:
        """The probability of ``k``."""
        return exp(self._log_mass("pmf", k, args, kwds))

    def cdf(self, k: Any, *args: Any, **kwds: Any) -> Any:
        """P(K <= k)."""
        k, s = self._shift("cdf", k, args, kwds)
        return self._cdf(np.floor(bottom(k)), **s)

    def sf(self, k: Any, *args: Any, **kwds: Any) -> Any:
        """P(K > k)."""
        k, s = self._shift("sf", k, args, kwds)
        return self._sf(np.floor(bottom(k)), **s)

    def logcdf(self, k: Any, *args: Any, **kwds: Any) -> Any:
        """log P(K <= k)."""
        k, s = self._shift("logcdf", k, args, kwds)
        k = np.floor(bottom(k))
        return _log_either(self._cdf(k, **s), self._sf(k, **s))

    def logsf(self, k: Any, *args: Any, **kwds: Any) -> Any:
        """log P(K > k)."""
        k, s = self._shift("logsf", k, args, kwds)
        k = np.floor(bottom(k))
        return _log_either(self._sf(k, **s), self._cdf(k, **s))

    def _entropy_range(self, **s: Any) -> int:
        """How many k from 0 on carry all the probability above rounding (for every parameter given)."""
        raise NotImplementedError

    def entropy(self, *args: Any, **kwds: Any) -> Any:
        """The entropy ``-sum_k pmf(k) log pmf(k)``, summed over every k whose term is above rounding (as SciPy
        sums it), differentiable in the parameters."""
        bound = self._bind("entropy", args, kwds)
        bound.pop("loc")
        bound.pop("scale", None)
        s = {name: expand_dims(as_array(v), -1) for name, v in bound.items()}
        ref = bottom(next(iter(s.values())))
        k = like(np.arange(self._entropy_range(**bound), dtype=np.result_type(ref.dtype, np.float32)), ref)
        inside = self._support(k, **s)
        log_mass = self._logpmf(np.where(inside, k, 0), **s)  # finite: far terms underflow to 0, not their logs
        return -sum(where(inside, exp(log_mass) * log_mass, 0.0), axis=-1)  # a k past n is no term


class _Poisson(_Discrete):
    """The Poisson distribution with mean ``mu``.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.poisson.logpmf(2, 3.0)):.6f}")
    -1.495923
    """

    shapes = ("mu",)
    positive = ("mu",)

    def _logpmf(self, k: Any, **s: Any) -> Any:
        mu = s["mu"]
        return sp.xlogy(k, mu) - sp.gammaln(k + 1) - mu

    def _cdf(self, k: Any, **s: Any) -> Any:
        mu = s["mu"]
        inside = k >= 0
        return where(inside, sp.gammaincc(np.where(inside, k, 0) + 1, mu), 0.0)

    def _sf(self, k: Any, **s: Any) -> Any:
        mu = s["mu"]
        inside = k >= 0
        return where(inside, sp.gammainc(np.where(inside, k, 0) + 1, mu), 1.0)

    def _entropy_range(self, **s: Any) -> int:
        mu = float(np.max(bottom(as_array(s["mu"]))))
        return math.ceil(mu + 40 * math.sqrt(mu) + 40)  # past 40 standard deviations the terms are below 1e-300


class _Binom(_Discrete):
    """The binomial distribution: ``n`` trials (a constant) with success probability ``p``.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.binom.pmf(2, 5, 0.3)):.5f}")
    0.30870
    """

    shapes = ("n", "p")

    def _check(self, bound: dict[str, Any]) -> None:
        p = bottom(as_array(bound["p"]))
        if np.any((p < 0) | (p > 1)):
            raise ValueError("binom: p must lie in [0, 1]")

    def _support(self, k: Any, **s: Any) -> Any:
        n = s["n"]
        return super()._support(k) & (bottom(k) <= bottom(as_array(n)))

    def _logpmf(self, k: Any, **s: Any) -> Any:
        n, p = s["n"], s["p"]
        return (sp.gammaln(n + 1) - sp.gammaln(k + 1) - sp.gammaln(n - k + 1) + sp.xlogy(k, p)
                + sp.xlog1py(n - k, -p))

    def _cdf(self, k: Any, **s: Any) -> Any:
        n, p = s["n"], s["p"]
        # P(K <= k) = I_{1-p}(n - k, k + 1) for 0 <= k < n; the shape parameters are kept inside their range
        n = bottom(as_array(n))
        inside = (k >= 0) & (k < n)
        safe = np.where(inside, k, 0)
        body = sp.betainc(np.where(inside, n - safe, 1), safe + 1, 1 - p)
        return where(inside, body, where(k >= n, 1.0, 0.0))

    def _sf(self, k: Any, **s: Any) -> Any:
        n, p = s["n"], s["p"]
        n = bottom(as_array(n))
        inside = (k >= 0) & (k < n)
        safe = np.where(inside, k, 0)
        body = sp.betainc(safe + 1, np.where(inside, n - safe, 1), p)
        return where(inside, body, where(k >= n, 0.0, 1.0))

    def _entropy_range(self, **s: Any) -> int:
        return int(np.max(bottom(as_array(s["n"])))) + 1


class _Dirichlet(_Freezable):
    """The Dirichlet distribution with concentrations ``alpha`` (K of them); as SciPy's, the K components of ``x``
    run along its first axis.

    >>> import chainrule as cr
    >>> print(f"{float(cr.scipy.stats.dirichlet.logpdf([0.2, 0.3, 0.5], [1.5, 2.0, 3.0])):.6f}")
    1.695211
    """

    def __repr__(self) -> str:
        return "<cr.scipy.stats.dirichlet>"

    def _norm(self, alpha: Any) -> Any:
        alpha = as_array(alpha)
        _positive("dirichlet", "alpha", alpha)
        return sp.gammaln(sum(alpha)) - sum(sp.gammaln(alpha))

    def logpdf(self, x: Any, alpha: Any) -> Any:
        """``sum((alpha - 1) log x) + log Gamma(sum alpha) - sum log Gamma(alpha)``."""
        x, alpha = as_array(x), as_array(alpha)
        if bottom(x).shape[0] != bottom(alpha).shape[-1]:
            raise ValueError(f"dirichlet: x has {bottom(x).shape[0]} components along its first axis, alpha "
                             f"{bottom(alpha).shape[-1]}")
        a = alpha.reshape(alpha.shape + (1,) * (x.ndim - 1))
        return sum(sp.xlogy(a - 1, x), axis=0) + self._norm(alpha)

    def pdf(self, x: Any, alpha: Any) -> Any:
        """The density at ``x``."""
        return exp(self.logpdf(x, alpha))

    def entropy(self, alpha: Any) -> Any:
        """``log B(alpha) + (a0 - K) digamma(a0) - sum (alpha - 1) digamma(alpha)``."""
        alpha = as_array(alpha)
        a0, k = sum(alpha), bottom(alpha).shape[-1]
        return -self._norm(alpha) + (a0 - k) * sp.digamma(a0) - sum((alpha - 1) * sp.digamma(alpha))


class _MultivariateNormal(_Freezable):
    """The multivariate normal distribution, through the Cholesky factor of ``cov``: differentiable in ``x``,
    ``mean`` and ``cov``. The last axis of ``x`` holds the d coordinates (SciPy's convention).

    >>> import chainrule as cr
    >>> mvn = cr.scipy.stats.multivariate_normal
    >>> print(f"{float(mvn.logpdf([0.0, 0.0], [0.0, 0.0], [[1.0, 0.0], [0.0, 1.0]])):.6f}")
    -1.837877
    """

    def __repr__(self) -> str:
        return "<cr.scipy.stats.multivariate_normal>"

    def logpdf(self, x: Any, mean: Any = None, cov: Any = 1.0) -> Any:
        """``-(d log 2 pi + log det cov + (x - mean)^T cov^-1 (x - mean)) / 2``."""
        x = as_array(x)
        d = bottom(x).shape[-1] if bottom(x).ndim else 1
        cov = as_array(cov)
        if cov.ndim == 0:
            cov = cov * np.eye(d)
        elif cov.ndim == 1:
            cov = cov * np.eye(d)  # a vector is the diagonal
        diff = x if mean is None else x - mean
        factor = cholesky(cov)
        # L z = (x - mean)^T for every point at once: the points are the columns
        flat = diff.reshape((-1, d))
        z = solve(factor, moveaxis(flat, 0, -1))
        quad = sum(z * z, axis=0).reshape(diff.shape[:-1])
        logdet = 2 * sum(log(diagonal(factor)))
        return -0.5 * (d * _LOG_2PI + logdet + quad)

    def pdf(self, x: Any, mean: Any = None, cov: Any = 1.0) -> Any:
        """The density at ``x``."""
        return exp(self.logpdf(x, mean, cov))

    def entropy(self, mean: Any = None, cov: Any = 1.0) -> Any:
        """``(d (1 + log 2 pi) + log det cov) / 2``."""
        cov = as_array(cov)
        d = bottom(cov).shape[-1]
        return 0.5 * (d * (1 + _LOG_2PI) + 2 * sum(log(diagonal(cholesky(cov)))))


norm = _Norm("norm")
t = _T("t")
gamma = _Gamma("gamma")
chi2 = _Chi2("chi2")
beta = _Beta("beta")
expon = _Expon("expon")
laplace = _Laplace("laplace")
cauchy = _Cauchy("cauchy")
logistic = _Logistic("logistic")
uniform = _Uniform("uniform")
lognorm = _Lognorm("lognorm")
vonmises = _Vonmises("vonmises")
poisson = _Poisson("poisson")
binom = _Binom("binom")
dirichlet = _Dirichlet()
multivariate_normal = _MultivariateNormal()
