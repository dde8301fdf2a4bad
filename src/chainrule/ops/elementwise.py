"""Elementwise primitives and composites: arithmetic, exponentials, trigonometry, activations, comparisons.

Each entry reads as "forward, then how its gradient flows". Most unary entries give only the local derivative
d(ans)/dx as a function of (ans, x); ``elementwise`` turns it into the VJP ``g * d`` and the JVP ``t * d``.
Constants are Python floats (``math.pi``, never ``np.pi``'s float64 scalar) so float32 stays float32.
"""

from __future__ import annotations

import functools
import math
import operator
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from ..engine import unchanged
from ..fused import Kernel
from ..primitive import ARITHMETIC, Primitive, Sample, as_array, is_complex, like, number
from ..spelling import as_dtype
from ..tensor import Tensor, bottom, values
from . import samples as S

__all__ = [
    "abs",
    "absolute",
    "add",
    "angle",
    "arccos",
    "arcsin",
    "arctan",
    "arctan2",
    "astype",
    "ceil",
    "clip",
    "conj",
    "conjugate",
    "cos",
    "cosh",
    "divide",
    "elu",
    "equal",
    "erf",
    "exp",
    "exp2",
    "expm1",
    "floor",
    "floor_divide",
    "gelu",
    "greater",
    "greater_equal",
    "imag",
    "isfinite",
    "isinf",
    "isnan",
    "leaky_relu",
    "less",
    "less_equal",
    "log",
    "log1p",
    "log2",
    "log10",
    "log_sigmoid",
    "maximum",
    "minimum",
    "multiply",
    "negative",
    "not_equal",
    "power",
    "real",
    "real_if_close",
    "reciprocal",
    "relu",
    "remainder",
    "round",
    "selu",
    "sigmoid",
    "sign",
    "silu",
    "sin",
    "sinh",
    "softplus",
    "sqrt",
    "square",
    "subtract",
    "tan",
    "tanh",
    "where",
]

Deriv = Callable[[Any, Any], Any]
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_FUSING = backend.fused_types
# The activations whose derivative is written with operators alone: on a GPU their rule ``g * deriv(ans, x)`` runs
# as one fused kernel (chainrule.fused) instead of one kernel and one temporary per operator.
_FUSED = frozenset({"relu", "sigmoid", "tanh"})
_RULES = sys.modules[__name__]  # chainrule's functions under NumPy's names: a rule body's namespace off the GPU


def _fused_rule(name: str, deriv: Deriv) -> Callable[[Any, Any, Any], Any]:
    """``g * deriv(ans, x)`` (g a cotangent or a tangent), as one kernel when g, ans and x are raw GPU arrays."""
    kernel = Kernel(lambda xp, g, ans, x: g * deriv(ans, x), f"chainrule_{name}_rule")

    def rule(g: Any, ans: Any, x: Any) -> Any:
        if type(g) in _FUSING and type(ans) in _FUSING and type(x) in _FUSING:
            return kernel(g, ans, x)
        return g * deriv(ans, x)

    return rule


def elementwise(
    name: str,
    forward: Callable[..., Any],
    deriv: Deriv,
    samples: S.SamplesFn | None = None,
    reference: Callable[..., Any] | None = None,
) -> Primitive:
    """A unary primitive from its local derivative ``deriv(ans, x)``: VJP ``g * deriv``, JVP ``t * deriv``."""
    fused = _fused_rule(name, deriv) if name in _FUSED else None
    return Primitive(
        name,
        forward,
        vjp=fused or (lambda g, ans, x: g * deriv(ans, x)),
        jvp=fused or (lambda t, ans, x: t * deriv(ans, x)),
        batching=True,
        samples=samples or S.unary(),
        reference=reference,
    )


def nondifferentiable(name: str, forward: Callable[..., Any], samples: S.SamplesFn) -> Primitive:
    """A primitive whose output never requires grad (comparisons, sign, rounding)."""
    return Primitive(name, forward, samples=samples, differentiable=False)


def ordered(name: str, forward: Callable[..., Any]) -> Callable[..., Any]:
    """``forward`` refusing complex inputs: NumPy orders complex numbers lexicographically, which no gradient (and
    few users) would expect."""

    @functools.wraps(forward)  # its signature too: inputs may still be given by keyword
    def on_real(*args: Any, **kwargs: Any) -> Any:
        for a in args:
            if getattr(a, "dtype", None) is not None and a.dtype.kind == "c":
                raise TypeError(f"{name}: complex numbers have no order; compare their real parts (cr.real(z)) or "
                                "their magnitudes (cr.abs(z))")
        return forward(*args, **kwargs)

    return on_real


# ---- arithmetic ----------------------------------------------------------------------------------------------
add = Primitive("add", np.add, vjp=(unchanged, unchanged), jvp=(unchanged, unchanged), batching=True,
                samples=S.with_complex(S.binary(), S.complex_binary()))
subtract = Primitive("subtract", np.subtract, vjp=(unchanged, lambda g, ans, x, y: -g),
                     jvp=(unchanged, lambda t, ans, x, y: -t), batching=True, samples=S.binary())
multiply = Primitive("multiply", np.multiply, vjp=(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x),
                     jvp=(lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t), batching=True,
                     samples=S.with_complex(S.binary(), S.complex_binary()))
# d(x/y)/dy = -x/y^2 = -ans/y
divide = Primitive("divide", np.divide, vjp=(lambda g, ans, x, y: g / y, lambda g, ans, x, y: -g * ans / y),
                   jvp=(lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * ans / y), batching=True,
                   samples=S.with_complex(S.binary(), S.complex_binary()))
ARITHMETIC.update({add: operator.add, subtract: operator.sub, multiply: operator.mul, divide: operator.truediv})
negative = Primitive("negative", np.negative, vjp=lambda g, ans, x: -g, jvp=lambda t, ans, x: -t,
                     batching=True, samples=S.unary("any"))


def _log_base(x: Any) -> Any:
    """log(x) where x > 0, and 0 elsewhere: d(x**y)/dy is taken as 0 where the real logarithm does not exist. A
    complex x has the principal logarithm everywhere but at 0."""
    if is_complex(x):
        return log(where(x == 0, 1.0, x))
    return log(where(x > 0, x, 1.0))


def _power_dx(x: Any, y: Any) -> Any:
    """d(x**y)/dx = y * x**(y - 1), taken as 0 where x = y = 0 (PyTorch's choice: d/dx x**0 = 0 everywhere), where
    the formula reads 0 * inf. The exponent there is replaced too, so no inf is computed, nor differentiated."""
    exponent = bottom(y)
    if isinstance(exponent, (int, float, complex, np.ndarray, np.generic)) and not np.any(exponent == 0):
        return y * x ** (y - 1)  # an exponent with no zero (x ** 2): no origin, whatever x's values (never read)
    origin = np.logical_and(bottom(x) == 0, exponent == 0)  # the values, under any transform's boxes
    if not origin.any():
        return y * x ** (y - 1)
    return where(origin, 0.0, y * x ** where(origin, 1.0, y - 1))


# d(x**y)/dy = x**y log x, taken as 0 where x <= 0 (so 0 at x = 0 for y >= 0, as PyTorch)
power = Primitive(
    "power",
    np.power,
    vjp=(lambda g, ans, x, y: g * _power_dx(x, y), lambda g, ans, x, y: g * ans * _log_base(x)),
    jvp=(lambda t, ans, x, y: t * _power_dx(x, y), lambda t, ans, x, y: t * ans * _log_base(x)),
    batching=True,
    # x = 0 is a kink for finite differences: tests/test_kinks.py. Complex x off the branch cut (Re x > 0)
    samples=S.with_complex(S.binary(("positive", "real")), S.complex_binary(("positive", "real"))),
)


def _remainder_of(name: str, forward: Callable[..., Any], rounded: Callable[[Any], Any],
                  samples: S.SamplesFn) -> Primitive:
    """x - rounded(x / y) * y: the gradient is 1 for x and -rounded(x / y) for y (away from the jumps)."""
    return Primitive(
        name,
        forward,
        vjp=(lambda g, ans, x, y: g, lambda g, ans, x, y: -g * rounded(x / y)),
        jvp=(lambda t, ans, x, y: t, lambda t, ans, x, y: -t * rounded(x / y)),
        batching=True,
        samples=samples,
    )


# x mod y = x - floor(x / y) * y (the sign of y)
remainder = _remainder_of("remainder", np.remainder, lambda q: floor(q), lambda rng: [
    Sample((S.draw(rng, a, "positive") * 3 + 0.25, S.draw(rng, b, "positive"))) for a, b in S.PAIRS])

# ---- exponentials and logarithms -----------------------------------------------------------------------------
exp = elementwise("exp", np.exp, lambda ans, x: ans, S.with_complex(S.unary(), S.complex_unary()))
exp2 = elementwise("exp2", np.exp2, lambda ans, x: ans * _LN2)
expm1 = elementwise("expm1", np.expm1, lambda ans, x: ans + 1)
log = elementwise("log", np.log, lambda ans, x: 1 / x,
                  S.with_complex(S.unary("positive"), S.complex_unary("positive")))  # off the branch cut
log2 = elementwise("log2", np.log2, lambda ans, x: 1 / (x * _LN2), S.unary("positive"))
log10 = elementwise("log10", np.log10, lambda ans, x: 1 / (x * _LN10), S.unary("positive"))
log1p = elementwise("log1p", np.log1p, lambda ans, x: 1 / (1 + x), S.unary("positive"))
# sqrt'(0) = 1/0 = inf, as IEEE arithmetic says; never a silent 0
sqrt = elementwise("sqrt", np.sqrt, lambda ans, x: 0.5 / ans,
                   S.with_complex(S.unary("positive"), S.complex_unary("positive")))
square = elementwise("square", np.square, lambda ans, x: 2 * x)
reciprocal = elementwise("reciprocal", np.reciprocal, lambda ans, x: -ans * ans)


def _unit_conj(ans: Any, x: Any) -> Any:
    """conj(x) / |x|, and 0 at x = 0 (abs'(0) = 0 on complex numbers too)."""
    return conjugate(x) / where(ans == 0, 1.0, ans)


# sign(0) = 0, so abs'(0) = 0. On complex numbers |z| is not holomorphic: its JVP is Re(conj(z) t) / |z|, and the
# VJP (the transpose under Re(sum(a * b)), see "complex numbers" below) g conj(z) / |z|
absolute = Primitive(
    "absolute",
    np.absolute,
    vjp=lambda g, ans, x: g * (_sign(x) if x.dtype.kind != "c" else _unit_conj(ans, x)),
    jvp=lambda t, ans, x: t * _sign(x) if x.dtype.kind != "c" else real(t * _unit_conj(ans, x)),
    batching=True,
    samples=lambda rng: S.unary()(rng) + S.complex_unary()(rng),
)
abs = absolute

# ---- trigonometric and hyperbolic ----------------------------------------------------------------------------
sin = elementwise("sin", np.sin, lambda ans, x: cos(x), S.with_complex(S.unary("any"), S.complex_unary("any")))
cos = elementwise("cos", np.cos, lambda ans, x: -sin(x), S.with_complex(S.unary("any"), S.complex_unary("any")))
tan = elementwise("tan", np.tan, lambda ans, x: 1 + ans * ans, S.unary("unit"))
arcsin = elementwise("arcsin", np.arcsin, lambda ans, x: 1 / sqrt(1 - x * x), S.unary("unit"))
arccos = elementwise("arccos", np.arccos, lambda ans, x: -1 / sqrt(1 - x * x), S.unary("unit"))
arctan = elementwise("arctan", np.arctan, lambda ans, x: 1 / (1 + x * x), S.unary("any"))
sinh = elementwise("sinh", np.sinh, lambda ans, x: cosh(x), S.unary("any"))
cosh = elementwise("cosh", np.cosh, lambda ans, x: sinh(x), S.unary("any"))
tanh = elementwise("tanh", np.tanh, lambda ans, x: number(1, ans) - ans * ans,
                   S.with_complex(S.unary("any"), S.complex_unary("unit")))  # |z| < 1: away from tanh's poles
arctan2 = Primitive(
    "arctan2",
    np.arctan2,
    vjp=(lambda g, ans, y, x: g * x / (x * x + y * y), lambda g, ans, y, x: -g * y / (x * x + y * y)),
    jvp=(lambda t, ans, y, x: t * x / (x * x + y * y), lambda t, ans, y, x: -t * y / (x * x + y * y)),
    batching=True,
    samples=S.binary(),
)


# ---- complex numbers -----------------------------------------------------------------------------------------
# The convention (HIPS autograd's and JAX's): a VJP is the transpose of the JVP under the real pairing
# <a, b> = Re(sum(a * b)), with no conjugate. So for a real loss L of z = x + iy the gradient is dL/dx - i dL/dy, the
# rules of holomorphic functions (g * f'(z), matmul's g @ b.T) hold unchanged, and a map that is not holomorphic,
# t -> A t + B conj(t), has the VJP g -> A g + conj(B g). A real input takes the real part of a complex cotangent
# (the engine does it, where cotangents meet their input's dtype). Tensor.grad holds the conjugate (PyTorch's).
real = Primitive("real", np.real, vjp=lambda g, ans, x: g, jvp=lambda t, ans, x: real(t), batching=True,
                 samples=lambda rng: S.complex_unary()(rng) + S.unary(shapes=((3,),))(rng))
# Im(z) = Re(-i z): the cotangent -i g (whose real part, 0, is what a real input keeps)
imag = Primitive("imag", np.imag, vjp=lambda g, ans, x: g * -1j, jvp=lambda t, ans, x: imag(t), batching=True,
                 samples=lambda rng: S.complex_unary()(rng) + S.unary(shapes=((3,),))(rng))
conjugate = Primitive("conjugate", np.conjugate, vjp=lambda g, ans, x: conjugate(g),
                      jvp=lambda t, ans, x: conjugate(t), batching=True,
                      samples=lambda rng: S.complex_unary()(rng) + S.unary(shapes=((3,),))(rng))
conj = conjugate


def _angle_scale(deg: bool) -> float:
    return 180.0 / math.pi if deg else 1.0


# angle(z) = Im(log z): the JVP Im(t / z), the VJP -i g / z (0 for a real z away from 0: its real part)
angle = Primitive(
    "angle",
    np.angle,
    vjp=lambda g, ans, x, deg=False: g * -1j * _angle_scale(deg) / x,
    jvp=lambda t, ans, x, deg=False: imag(t / x) * _angle_scale(deg),
    batching=True,
    samples=lambda rng: S.complex_unary()(rng) + S.unary(shapes=((3,),))(rng) + S.complex_unary(
        shapes=((3,),), deg=True)(rng),
)


def real_if_close(a: Any, tol: float = 100) -> Any:
    """``a``'s real part when every imaginary part is within ``tol`` machine epsilons of 0 (``tol`` <= 1: an
    absolute bound), else ``a`` itself, as ``np.real_if_close``.

    >>> import chainrule as cr
    >>> cr.real_if_close(cr.tensor([1.0 + 1e-18j, 2.0]))
    tensor([1., 2.])
    """
    a = as_array(a)
    v = values(a)
    if v.dtype.kind != "c":
        return a
    bound = tol * np.finfo(v.dtype).eps if tol > 1 else tol
    return real(a) if bool((np.abs(v.imag) < bound).all()) else a


# ---- activations ---------------------------------------------------------------------------------------------
def _sigmoid_body(xp: Any, x: Any) -> Any:
    """1 / (1 + e^-x) without overflow: e^-|x| never exceeds 1."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0.0, 1 / (1 + e), e / (1 + e))


_sigmoid = Kernel(_sigmoid_body, "chainrule_sigmoid")


def _stable_sigmoid(x: Any) -> Any:
    """The sigmoid's forward: its six elementwise passes as one kernel on a GPU."""
    return _sigmoid(x) if type(x) in _FUSING else _sigmoid_body(np, x)


def _erf(x: Any) -> Any:
    """The error function: the C library's erf on the host (NumPy has none), CuPy's on a GPU (or, where the array
    library has none, the host's, on a copy)."""
    x = values(x)
    dtype = x.dtype if x.dtype.kind == "f" else np.float64
    if type(x) is np.ndarray:
        return np.asarray(_erf_ufunc(x), dtype=dtype)
    try:
        from cupyx.scipy.special import erf as device_erf
    except ImportError:
        return like(_erf(backend.to_host(x)), x)
    return device_erf(x).astype(dtype, copy=False)


_erf_ufunc = np.frompyfunc(math.erf, 1, 1)


def _reference_sigmoid(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


def _reference_erf(x: Any) -> Any:
    return np.vectorize(math.erf, otypes=[float])(x)


# the seed's result: sigma' = sigma (1 - sigma), reusing the forward's answer
sigmoid = elementwise("sigmoid", _stable_sigmoid, lambda ans, x: ans * (number(1, ans) - ans),
                      reference=_reference_sigmoid)
# log(1 + e^x) = logaddexp(0, x) never overflows; its derivative is sigmoid(x)
softplus = elementwise("softplus", lambda x: np.logaddexp(0, x), lambda ans, x: sigmoid(x),
                       S.unary("any"), reference=lambda x: np.log1p(np.exp(x)))
erf = elementwise("erf", _erf, lambda ans, x: _TWO_OVER_SQRT_PI * exp(-x * x), S.unary("any"),
                  reference=_reference_erf)


_RELU_ROW = 8192  # NumPy's buffer length: a binary loop over rows this long runs fastest (measured)
_RELU_ROWS_MIN = 16 * _RELU_ROW  # below this the two calls and the output cost more than they save (measured)


def _relu(x: Any) -> Any:
    """max(x, 0) against a row of zeros: NumPy's loop of an array against a scalar is not vectorized where its loop
    of two arrays is (17 us against 10 for 128 x 256 float32); the same numbers, and the dtype the scalar 0 gives.
    A large contiguous array on the host is taken as rows of ``_RELU_ROW`` (and a tail): short rows (an image's 28
    pixels) pay the loop's start per row (0.15 ms against 0.37 for 32 x 32 x 28 x 28 float32)."""
    xp = backend.namespace(x)
    dtype = np.result_type(getattr(x, "dtype", x), 0)
    if xp is not np or getattr(x, "size", 0) < _RELU_ROWS_MIN or not x.flags.c_contiguous:
        return np.maximum(x, xp.zeros(np.shape(x)[-1:], dtype=dtype))
    zeros = np.zeros(_RELU_ROW, dtype=dtype)
    out = np.empty(x.shape, dtype=dtype)
    flat, dest = x.reshape(-1), out.reshape(-1)
    bulk = x.size - x.size % _RELU_ROW
    np.maximum(flat[:bulk].reshape(-1, _RELU_ROW), zeros, out=dest[:bulk].reshape(-1, _RELU_ROW))
    np.maximum(flat[bulk:], zeros[:x.size - bulk], out=dest[bulk:])
    return out


# relu'(0) = 0: the mask is x > 0, not x >= 0 (and no maximum(x, 0), which would split a tie). The fused bodies
# compare with 0.0: cupy.fuse's first implementation has mis-typed comparisons with a Python int (cupy#10003)
relu = elementwise("relu", _relu, lambda ans, x: x > 0.0, reference=lambda x: x * (x > 0))


def _leaky_body(xp: Any, t: Any, x: Any, slope: Any) -> Any:
    """leaky_relu's forward (t = x) and its rule (t = g or a tangent)."""
    return xp.where(x > 0.0, t, t * slope)


def _elu_body(xp: Any, x: Any, alpha: Any) -> Any:
    return xp.where(x > 0.0, x, alpha * xp.expm1(xp.minimum(x, 0.0)))


def _elu_rule_body(xp: Any, g: Any, ans: Any, x: Any, alpha: Any) -> Any:
    """For x <= 0, d/dx alpha (e^x - 1) = alpha e^x = ans + alpha."""
    return xp.where(x > 0.0, g, g * (ans + alpha))


# one kernel each on a GPU, where NumPy's way takes three or four passes and their temporaries
_leaky, _leaky_rule = Kernel(_leaky_body, "chainrule_leaky_relu"), Kernel(_leaky_body, "chainrule_leaky_relu_rule")
_elu, _elu_rule = Kernel(_elu_body, "chainrule_elu"), Kernel(_elu_rule_body, "chainrule_elu_rule")


def _leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    return _leaky(x, x, negative_slope) if type(x) in _FUSING else _leaky_body(np, x, x, negative_slope)


def _leaky_relu_grad(g: Any, ans: Any, x: Any, negative_slope: float = 0.01) -> Any:
    if type(g) in _FUSING and type(x) in _FUSING:
        return _leaky_rule(g, x, negative_slope)
    return _leaky_body(_RULES, g, x, negative_slope)


leaky_relu = Primitive(
    "leaky_relu",
    _leaky_relu,
    vjp=_leaky_relu_grad,
    jvp=_leaky_relu_grad,
    batching=True,
    samples=lambda rng: S.unary()(rng) + S.unary(negative_slope=0.2)(rng),
    reference=lambda x, negative_slope=0.01: np.maximum(x, 0) + negative_slope * np.minimum(x, 0),
)


def _elu_forward(x: Any, alpha: float = 1.0) -> Any:
    return _elu(x, alpha) if type(x) in _FUSING else _elu_body(np, x, alpha)


def _elu_grad(g: Any, ans: Any, x: Any, alpha: float = 1.0) -> Any:
    if type(g) in _FUSING and type(ans) in _FUSING and type(x) in _FUSING:
        return _elu_rule(g, ans, x, alpha)
    return _elu_rule_body(_RULES, g, ans, x, alpha)


elu = Primitive(
    "elu",
    _elu_forward,
    vjp=_elu_grad,
    jvp=_elu_grad,
    batching=True,
    samples=lambda rng: S.unary()(rng) + S.unary(alpha=0.5)(rng),
    reference=lambda x, alpha=1.0: np.maximum(x, 0) + alpha * (np.exp(np.minimum(x, 0)) - 1),
)

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x: Any) -> Any:
    """Scaled ELU with the self-normalising constants: ``scale * elu(x, alpha)``.

    >>> import chainrule as cr
    >>> print(f"{float(cr.selu(cr.tensor(1.0))):.4f}")
    1.0507
    """
    return _SELU_SCALE * elu(x, alpha=_SELU_ALPHA)


def gelu(x: Any, approximate: str = "none") -> Any:
    """Gaussian error linear unit, ``x * Phi(x)``; ``approximate="tanh"`` uses the tanh form.

    >>> import chainrule as cr
    >>> print(f"{float(cr.gelu(cr.tensor(1.0))):.4f}")
    0.8413
    """
    x = as_array(x)
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(x * math.sqrt(0.5)))


def silu(x: Any) -> Any:
    """Sigmoid-weighted linear unit (swish), ``x * sigmoid(x)``.

    >>> import chainrule as cr
    >>> print(f"{float(cr.silu(cr.tensor(1.0))):.4f}")
    0.7311
    """
    x = as_array(x)
    return x * sigmoid(x)


def log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, finite for every finite x.

    >>> import chainrule as cr
    >>> float(cr.log_sigmoid(cr.tensor(-1000.0)))
    -1000.0
    """
    return -softplus(negative(x))


# ---- selection: kinks split evenly ----------------------------------------------------------------------------
def _share(g: Any, win: Any, tie: Any) -> Any:
    """The winner takes g; a tie gives each side half."""
    return g * win + (g * 0.5) * tie


maximum = Primitive(
    "maximum",
    ordered("maximum", np.maximum),
    vjp=(lambda g, ans, x, y: _share(g, x > y, x == y), lambda g, ans, x, y: _share(g, y > x, x == y)),
    jvp=(lambda t, ans, x, y: _share(t, x > y, x == y), lambda t, ans, x, y: _share(t, y > x, x == y)),
    batching=True,
    samples=S.binary(),
)
minimum = Primitive(
    "minimum",
    ordered("minimum", np.minimum),
    vjp=(lambda g, ans, x, y: _share(g, x < y, x == y), lambda g, ans, x, y: _share(g, y < x, x == y)),
    jvp=(lambda t, ans, x, y: _share(t, x < y, x == y), lambda t, ans, x, y: _share(t, y < x, x == y)),
    batching=True,
    samples=S.binary(),
)


def _clip(x: Any, a_min: Any = None, a_max: Any = None) -> Any:
    return _clip_real(x, a_min, a_max)


_clip_real = ordered("clip", np.clip)


def _pass_inside(g: Any, ans: Any, x: Any, lo: Any = None, hi: Any = None) -> Any:
    """Clip passes the gradient to x wherever x lies within the bounds, the bounds themselves included."""
    if lo is not None:
        g = where(x >= lo, g, 0.0)
    if hi is not None:
        g = where(x <= hi, g, 0.0)
    return g


# clip(x, lo, hi) = minimum(maximum(x, lo), hi): below lo the result is lo, unless lo > hi, where it is hi throughout
def _to_lo(g: Any, ans: Any, x: Any, lo: Any = None, hi: Any = None) -> Any:
    g = where(x < lo, g, 0.0)
    return g if hi is None else where(lo <= hi, g, 0.0)


def _to_hi(g: Any, ans: Any, x: Any, lo: Any = None, hi: Any = None) -> Any:
    return where(x > hi, g, 0.0 if lo is None else where(hi < lo, g, 0.0))


clip = Primitive(
    "clip",
    _clip,
    vjp=(_pass_inside, _to_lo, _to_hi),
    jvp=(_pass_inside, _to_lo, _to_hi),
    batching=True,
    samples=lambda rng: [Sample((S.draw(rng, s, "any"), -0.5, 0.7)) for s in S.SHAPES]
    + [Sample((S.draw(rng, (2, 3), "any"), None, 0.3)), Sample((S.draw(rng, (2, 3), "any"), -0.3, None)),
       Sample((S.draw(rng, (2, 3), "any") * 2, S.draw(rng, (3,), "any") - 3.0, S.draw(rng, (2, 1), "any") + 3.0)),
       Sample((S.draw(rng, (4,), "any"), np.array([0.5, 0.5, -2.0, 0.2]), np.array([-0.5, 1.0, -3.0, 0.1])))],
    reference=np.clip,
)

_where = Primitive(
    "where",
    np.where,
    vjp=(None, lambda g, ans, c, x, y: _where(c, g, 0.0), lambda g, ans, c, x, y: _where(c, 0.0, g)),
    jvp=(None, lambda t, ans, c, x, y: _where(c, t, 0.0), lambda t, ans, c, x, y: _where(c, 0.0, t)),
    batching=True,
    samples=lambda rng: [Sample((S.draw(rng, a, "any") > 0, S.draw(rng, a), S.draw(rng, b))) for a, b in S.PAIRS]
    + [Sample((S.draw(rng, (3, 1), "any") > 0, S.draw(rng, (1, 4)), S.draw(rng, ())))],
)


def where(condition: Any, x: Any, y: Any) -> Any:
    """``x`` where ``condition`` holds, ``y`` elsewhere (``np.where`` with three arguments); the gradient goes to the
    side that was chosen, and the condition has none.

    The trap (as in PyTorch and JAX): the side *not* chosen is still computed and differentiated, and its zero
    cotangent times an infinite local derivative is NaN. ``where(x > 0, log(x), 0)`` has the value 0 at x = 0, but
    the gradient NaN, from log'(0) = inf. The remedy is a second ``where`` that keeps the unsafe input away from its
    singularity: ``where(x > 0, log(where(x > 0, x, 1)), 0)`` has gradient 0 there.

    >>> import numpy as np, chainrule as cr
    >>> with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf, then 0 * inf
    ...     cr.grad(lambda x: cr.where(x > 0, cr.log(x), 0.0).sum())(np.array([0.0, 2.0])).tolist()
    [nan, 0.5]
    >>> cr.grad(lambda x: cr.where(x > 0, cr.log(cr.where(x > 0, x, 1.0)), 0.0).sum())(np.array([0.0, 2.0])).tolist()
    [0.0, 0.5]
    """
    return _where(condition, x, y)


# ---- casts ---------------------------------------------------------------------------------------------------
def _cast_forward(x: Any, dtype: Any) -> Any:
    return values(x).astype(dtype)


_cast = Primitive("astype", _cast_forward, vjp=lambda g, ans, x, dtype: g,  # the engine casts g to x's dtype
                  jvp=lambda t, ans, x, dtype: t.astype(ans.dtype),
                  batching=True,
                  samples=lambda rng: [Sample((S.draw(rng, s),), {"dtype": np.float64}) for s in S.SHAPES],
                  reference=_cast_forward)
_cast_nondifferentiable = nondifferentiable("astype_nondifferentiable", _cast_forward, samples=lambda rng: [
    Sample((S.draw(rng, s) * 3,), {"dtype": np.int64}) for s in S.SHAPES])
_cast_nondifferentiable.reference = _cast_forward


def astype(x: Any, dtype: Any) -> Any:
    """``x`` converted to ``dtype``; differentiable between floating and complex dtypes (the gradient is cast back).
    Complex to real is refused: it would drop the imaginary part (take ``real(x)`` for that).

    >>> import numpy as np, chainrule as cr
    >>> cr.tensor([1.5]).astype(np.float32).dtype
    dtype('float32')
    """
    dtype = as_dtype(dtype)
    if bottom(x).dtype.kind == "c" and dtype.kind != "c":
        raise TypeError(f"astype: casting complex values to {dtype} would drop their imaginary parts; "
                        "take cr.real(x) (or cr.abs(x)) first")
    if np.issubdtype(dtype, np.inexact):
        return _cast(x, dtype=dtype)
    return _cast_nondifferentiable(x, dtype=dtype)


def _device_of_values(x: Any) -> str:
    while isinstance(x, Tensor):
        x = x.data
    return backend.device_of(x)


# a copy to another device; the gradient (and a tangent's way back) is the same copy in the other direction
transfer = Primitive(
    "to_device",
    lambda x, device: backend.to_device(x, device),
    vjp=lambda g, ans, x, device: transfer(g, device=_device_of_values(x)),
    jvp=lambda t, ans, x, device: transfer(t, device=device),
    batching=True,
    samples=lambda rng: [Sample((S.draw(rng, s),), {"device": "cpu"}) for s in S.SHAPES],
    reference=lambda x, device: x,
)


# ---- no gradient: comparisons, signs, rounding, classification ------------------------------------------------
less = nondifferentiable("less", ordered("less", np.less), S.binary())
less_equal = nondifferentiable("less_equal", ordered("less_equal", np.less_equal), S.binary())
greater = nondifferentiable("greater", ordered("greater", np.greater), S.binary())
greater_equal = nondifferentiable("greater_equal", ordered("greater_equal", np.greater_equal), S.binary())
equal = nondifferentiable("equal", np.equal, S.binary())
not_equal = nondifferentiable("not_equal", np.not_equal, S.binary())
_sign = nondifferentiable("sign", np.sign, S.unary())


def sign(x: Any) -> Any:
    """-1, 0 or 1 by the sign of each entry (no gradient: piecewise constant); for complex entries z / |z| (0 at 0),
    which moves with z, so it is differentiated.

    >>> import chainrule as cr
    >>> cr.sign(cr.tensor([-2.0, 0.0, 3.0])), cr.sign(cr.tensor([3.0 + 4.0j]))
    (tensor([-1.,  0.,  1.]), tensor([0.6+0.8j], dtype=complex128))
    """
    if not is_complex(x):
        return _sign(x)
    x = as_array(x)
    return x / where(x == 0, 1.0, absolute(x))
floor = nondifferentiable("floor", np.floor, S.unary())
ceil = nondifferentiable("ceil", np.ceil, S.unary())
round = nondifferentiable("round", np.round, lambda rng: S.unary()(rng) + S.unary(decimals=1)(rng))
floor_divide = nondifferentiable("floor_divide", np.floor_divide, S.binary())


def _with_special_values(rng: np.random.Generator) -> list[Sample]:
    x = S.draw(rng, (2, 4))
    x[0, :3] = [np.nan, np.inf, -np.inf]
    return [Sample((x,)), Sample((np.array(np.nan),)), Sample((np.array([1.0, -np.inf]),))]


isnan = nondifferentiable("isnan", np.isnan, _with_special_values)
isinf = nondifferentiable("isinf", np.isinf, _with_special_values)
isfinite = nondifferentiable("isfinite", np.isfinite, _with_special_values)


# ---- logic and bits: masks combined (``(x > 0) & (x < 1)``), recorded as steps of vmap and cr.compile ---------
def _masks(count: int) -> S.SamplesFn:
    """``count`` boolean masks, ``count`` integer arrays, and broadcasting masks."""
    def samples(rng: np.random.Generator) -> list[Sample]:
        return [Sample(tuple(rng.random((2, 3)) > 0.5 for _ in range(count))),
                Sample(tuple(rng.integers(-8, 8, (4,)) for _ in range(count))),
                Sample(tuple(rng.random(shape) > 0.5 for shape in ((3, 1), (4,))[:count]))]
    return samples


bitwise_and = nondifferentiable("bitwise_and", np.bitwise_and, _masks(2))
bitwise_or = nondifferentiable("bitwise_or", np.bitwise_or, _masks(2))
bitwise_xor = nondifferentiable("bitwise_xor", np.bitwise_xor, _masks(2))
invert = nondifferentiable("invert", np.invert, _masks(1))
bitwise_invert = bitwise_not = invert  # NumPy's aliases of invert
logical_and = nondifferentiable("logical_and", np.logical_and, _masks(2))
logical_or = nondifferentiable("logical_or", np.logical_or, _masks(2))
logical_xor = nondifferentiable("logical_xor", np.logical_xor, _masks(2))
logical_not = nondifferentiable("logical_not", np.logical_not, _masks(1))
__all__ += ["bitwise_and", "bitwise_invert", "bitwise_not", "bitwise_or", "bitwise_xor", "invert", "logical_and",
            "logical_not", "logical_or", "logical_xor"]


# ---- NumPy's other elementwise functions (issue 10) ------------------------------------------------------------
__all__ += ["arccosh", "arcsinh", "arctanh", "copysign", "deg2rad", "degrees", "fabs", "fmax", "fmin", "heaviside",
            "hypot", "logaddexp", "logaddexp2", "mod", "nan_to_num", "rad2deg", "radians", "sinc", "true_divide"]

# NumPy's aliases: the same ufuncs (np.mod is np.remainder), so the same entries
mod = remainder
true_divide = divide


def _quotient_or_zero(x: Any, r: Any) -> Any:
    """``x / r`` where r > 0, and 0 where r = 0: a norm's subgradient at the origin, as for abs'(0) = 0. The divisor
    is kept away from 0 too, so no inf is computed (nor differentiated)."""
    if not (bottom(r) == 0).any():
        return x / r
    positive = r > 0
    return where(positive, x / where(positive, r, 1.0), 0.0)


# hypot = sqrt(x^2 + y^2) without overflow; d/dx = x / hypot, taken as 0 at x = y = 0 (the cone's tip)
hypot = Primitive(
    "hypot",
    np.hypot,
    vjp=(lambda g, ans, x, y: g * _quotient_or_zero(x, ans), lambda g, ans, x, y: g * _quotient_or_zero(y, ans)),
    jvp=(lambda t, ans, x, y: t * _quotient_or_zero(x, ans), lambda t, ans, x, y: t * _quotient_or_zero(y, ans)),
    batching=True,
    samples=S.binary(),
)

# the inverse hyperbolic functions, written so that no square overflows: 1 / sqrt(x^2 + 1) = 1 / hypot(x, 1)
arcsinh = elementwise("arcsinh", np.arcsinh, lambda ans, x: 1 / hypot(x, 1.0), S.unary("any"))
# 1 / sqrt(x^2 - 1): inf at x = 1 (IEEE, as sqrt'(0))
arccosh = elementwise("arccosh", np.arccosh, lambda ans, x: 1 / (sqrt(x - 1) * sqrt(x + 1)), S.unary("above1"))
arctanh = elementwise("arctanh", np.arctanh, lambda ans, x: 1 / ((1 - x) * (1 + x)), S.unary("unit"))
# |x| for real x (NumPy's fabs refuses complex numbers); fabs'(0) = 0, as abs'(0)
fabs = elementwise("fabs", np.fabs, lambda ans, x: sign(x))


def _log_share(x: Any, y: Any, scale: float = 1.0) -> Any:
    """d/dx log(e^x + e^y) = sigmoid(x - y) (``scale`` = ln 2 for base 2), never overflowing, and 1 or 0 where one
    side is infinite. Equal infinite arguments (where x - y is NaN) share evenly, as equal finite ones do; that mask
    is constant, so it leaves every finite point's higher derivatives alone."""
    bx, by = bottom(x), bottom(y)
    tie = np.logical_and(bx == by, np.isinf(bx))
    if not tie.any():
        return sigmoid(scale * (x - y))
    return where(tie, 0.5, sigmoid(scale * (where(tie, 0.0, x) - where(tie, 0.0, y))))


def _log_add(name: str, forward: Any, scale: float) -> Primitive:
    """log(b^x + b^y) in base e or 2: the gradient is each side's share of the sum, by ``_log_share``."""
    return Primitive(
        name,
        forward,
        vjp=(lambda g, ans, x, y: g * _log_share(x, y, scale), lambda g, ans, x, y: g * _log_share(y, x, scale)),
        jvp=(lambda t, ans, x, y: t * _log_share(x, y, scale), lambda t, ans, x, y: t * _log_share(y, x, scale)),
        batching=True,
        samples=lambda rng: [*S.binary(("any", "any"))(rng),  # and where e^x would overflow or underflow
                             Sample((np.array([1000.0, -1000.0, 3.0]), np.array([999.0, -1000.5, -1000.0])))],
    )


logaddexp = _log_add("logaddexp", np.logaddexp, 1.0)
logaddexp2 = _log_add("logaddexp2", np.logaddexp2, _LN2)

# sinc(x) = sin(pi x) / (pi x), sinc(0) = 1. Its derivative (cos(pi x) - sinc(x)) / x cancels catastrophically near 0
# (and reads 0/0 at 0), so below _SINC_SERIES it is the Taylor series, sum_k (-1)^k 2k pi^2k x^(2k-1) / (2k+1)!,
# whose first omitted term there is below 1e-19 of the sum. sinc'(0) = 0.
_SINC_SERIES = 0.1
_SINC_COEFFS = [(-1) ** k * 2 * k * math.pi ** (2 * k) / math.factorial(2 * k + 1) for k in range(1, 8)]


def _sinc_series_deriv(x: Any) -> Any:
    x2 = x * x
    acc = _SINC_COEFFS[-1]
    for c in reversed(_SINC_COEFFS[:-1]):
        acc = acc * x2 + c
    return acc * x


def _sinc_deriv(ans: Any, x: Any) -> Any:
    small = np.abs(bottom(x)) < _SINC_SERIES
    if not small.any():
        return (cos(math.pi * x) - ans) / x
    far = where(small, 1.0, x)  # where the series is used, the other branch is kept away from 0/0
    return where(small, _sinc_series_deriv(where(small, x, 0.0)), (cos(math.pi * far) - sinc(far)) / far)


sinc = elementwise(
    "sinc",
    np.sinc,
    _sinc_deriv,
    lambda rng: [*S.unary("any")(rng), Sample((np.array([0.0, 1e-9, -0.03, 0.0999, 0.1, -0.5, 1.0]),))],
)


# ---- selection ignoring NaN: fmax and fmin ----------------------------------------------------------------------
def _nan_loses(wins: Any, x: Any, y: Any) -> Any:
    """``wins`` (x beats y) or y is NaN while x is not: fmax and fmin pass over a NaN to the other argument."""
    bx, by = bottom(x), bottom(y)
    return np.logical_or(wins, np.logical_and(np.isnan(by), ~np.isnan(bx)))


def _select_ignoring_nan(name: str, forward: Any, beats: Any) -> Primitive:
    """fmax/fmin: maximum/minimum where neither is NaN (ties split evenly), the other argument where one is, and NaN
    without gradient to either where both are."""

    def share(g: Any, x: Any, y: Any) -> Any:
        bx, by = bottom(x), bottom(y)
        return _share(g, _nan_loses(beats(bx, by), bx, by), bx == by)

    return Primitive(
        name,
        forward,
        vjp=(lambda g, ans, x, y: share(g, x, y), lambda g, ans, x, y: share(g, y, x)),
        jvp=(lambda t, ans, x, y: share(t, x, y), lambda t, ans, x, y: share(t, y, x)),
        batching=True,
        # both NaN (no gradient to either) is tested with exact values: a difference quotient there is NaN
        samples=lambda rng: [*S.binary()(rng), Sample((np.array([np.nan, 1.0, 0.5]), np.array([2.0, np.nan, -0.5])))],
    )


fmax = _select_ignoring_nan("fmax", np.fmax, np.greater)
fmin = _select_ignoring_nan("fmin", np.fmin, np.less)


# ---- piecewise constant in one argument: heaviside, copysign -----------------------------------------------------
def _flat(g: Any, ans: Any, x: Any, y: Any) -> Any:
    """The derivative in an argument the result is piecewise constant in: 0 (a constant: the gradient is 0, not
    missing, and g's NaNs do not leak into it)."""
    return np.zeros_like(bottom(g))


# heaviside(x, h0) is 0 for x < 0, h0 at x = 0, 1 for x > 0. Its derivative in x is 0 wherever it exists, and taken
# as 0 at x = 0 too (no Dirac delta); in h0 it is 1 exactly where x = 0, since the result there is h0.
heaviside = Primitive(
    "heaviside",
    np.heaviside,
    vjp=(_flat, lambda g, ans, x, h0: where(bottom(x) == 0, g, 0.0)),
    jvp=(_flat, lambda t, ans, x, h0: where(bottom(x) == 0, t, 0.0)),
    batching=True,
    samples=S.binary(("real", "any")),
)


def _copysign_deriv(x: Any, y: Any) -> Any:
    """d/dx |x| * (+-1 by y's sign bit): abs'(x) times that sign, so +1 where the signs agree, -1 where they differ,
    0 at x = 0 (abs'(0) = 0). A constant: its own derivative is 0."""
    bx = bottom(x)
    return np.sign(bx) * np.copysign(np.ones_like(bx), bottom(y))


# copysign(x, y) = |x| with y's sign; no gradient to y (the result only reads y's sign bit)
copysign = Primitive(
    "copysign",
    np.copysign,
    vjp=(lambda g, ans, x, y: g * _copysign_deriv(x, y), _flat),
    jvp=(lambda t, ans, x, y: t * _copysign_deriv(x, y), _flat),
    batching=True,
    samples=S.binary(),
)


# ---- NaN and infinities replaced -----------------------------------------------------------------------------------
def _keep_finite(g: Any, ans: Any, x: Any, nan: Any = 0.0, posinf: Any = None, neginf: Any = None) -> Any:
    """The gradient passes where x was kept (finite), and is 0 where it was replaced by a constant."""
    return where(np.isfinite(bottom(x)), g, 0.0)


def _nan_to_num_samples(rng: np.random.Generator) -> list[Sample]:
    special = S.draw(rng, (2, 4))
    special[0, :3] = [np.nan, np.inf, -np.inf]
    # the default replacements of +-inf (the dtype's largest values) would overflow the tests' weighted sums
    return [*S.unary()(rng), Sample((special,), {"posinf": 5.0, "neginf": -5.0}),
            Sample((special,), {"nan": 1.5, "posinf": 9.0, "neginf": -9.0})]


_nan_to_num = Primitive(
    "nan_to_num",
    lambda x, nan=0.0, posinf=None, neginf=None: np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf),
    vjp=_keep_finite,
    jvp=_keep_finite,
    batching=True,
    samples=_nan_to_num_samples,
    reference=lambda x, nan=0.0, posinf=None, neginf=None: np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf),
)


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Any:
    """NaN replaced by ``nan``, +-inf by ``posinf``/``neginf`` (by default the dtype's largest finite values), as
    ``numpy.nan_to_num``. The gradient is 1 where the value was kept and 0 where it was replaced.

    ``copy=False`` (NumPy's replacement in place) is refused: chainrule never writes into an array a graph may hold.

    >>> import numpy as np, chainrule as cr
    >>> cr.grad(lambda x: cr.nan_to_num(x * 2).sum())(np.array([1.0, np.nan, np.inf])).tolist()
    [2.0, 0.0, 0.0]
    """
    if not copy:
        raise TypeError("nan_to_num(copy=False) replaces in place, which chainrule never does to an array a graph "
                        "may hold; take the result instead (y = nan_to_num(x))")
    return _nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


# ---- angles: a constant factor, so composites ----------------------------------------------------------------------
_RADIANS_PER_DEGREE = math.pi / 180.0  # NumPy's own factors, so the values agree to the last bit
_DEGREES_PER_RADIAN = 180.0 / math.pi


def deg2rad(x: Any) -> Any:
    """Degrees to radians, ``x * pi / 180`` (``radians`` is the same function, as in NumPy).

    >>> import chainrule as cr
    >>> float(cr.deg2rad(cr.tensor(180.0)))
    3.141592653589793
    """
    return as_array(x) * _RADIANS_PER_DEGREE


def rad2deg(x: Any) -> Any:
    """Radians to degrees, ``x * 180 / pi`` (``degrees`` is the same function, as in NumPy).

    >>> import math, chainrule as cr
    >>> float(cr.rad2deg(cr.tensor(math.pi / 2)))
    90.0
    """
    return as_array(x) * _DEGREES_PER_RADIAN


radians = deg2rad
degrees = rad2deg


# ---- more of NumPy's elementwise functions (issue 10) -------------------------------------------------------------
__all__ += ["around", "cbrt", "fix", "float_power", "fmod", "rint", "trunc"]

# cbrt'(0) = 1/0 = inf, as for sqrt: IEEE arithmetic's answer, never a silent 0
cbrt = elementwise("cbrt", np.cbrt, lambda ans, x: 1 / (3 * ans * ans))
# rounding is piecewise constant: no gradient, as floor, ceil and round
trunc = nondifferentiable("trunc", np.trunc, S.unary())
rint = nondifferentiable("rint", np.rint, S.unary())
fix = trunc  # np.fix rounds towards zero, as trunc does
around = round  # NumPy's other name of round
# C's fmod(x, y) = x - trunc(x / y) * y (the sign of x)
fmod = _remainder_of("fmod", np.fmod, trunc, lambda rng: [
    Sample((S.draw(rng, a) * 3 + 0.25, S.draw(rng, b, "positive") + 0.25)) for a, b in S.PAIRS])


def float_power(x: Any, y: Any) -> Any:
    """``x ** y`` computed in double precision (float64, or complex128 for complex inputs), as ``np.float_power``:
    power's gradient, cast back to each input's dtype.

    >>> import chainrule as cr
    >>> cr.float_power(cr.tensor([2.0, 3.0], dtype=cr.float32), 2.0)
    tensor([4., 9.])
    """
    x, y = as_array(x), as_array(y)
    wide = np.complex128 if is_complex(x) or is_complex(y) else np.float64
    return power(astype(x, wide), astype(y, wide))


# ---- NumPy's ufuncs with two outputs, and scaling by powers of two (issue 10) -------------------------------------
__all__ += ["divmod", "frexp", "ldexp", "modf"]


def modf(x: Any) -> tuple[Any, Any]:
    """The fractional and the integral parts of each entry (both with x's sign), as ``np.modf``; the fractional
    part x - trunc(x) has gradient 1, the integral part none.

    >>> import chainrule as cr
    >>> cr.modf(cr.tensor([2.5, -1.25]))
    (tensor([ 0.5 , -0.25]), tensor([ 2., -1.]))
    """
    x = as_array(x)
    finite = where(isinf(x), 0.0, x)  # an infinity's fraction is 0 (never inf - inf)
    # with x's sign on a zero fraction (modf(-3.0) has -0.0), as C's modf
    return copysign(finite - trunc(finite), x), trunc(x)


def divmod(x: Any, y: Any) -> tuple[Any, Any]:
    """``(floor_divide(x, y), remainder(x, y))``, as ``np.divmod``: the quotient has no gradient, the remainder
    remainder's.

    >>> import chainrule as cr
    >>> cr.divmod(cr.tensor([7.0, -7.0]), 2.0)
    (tensor([ 3., -4.]), tensor([1., 1.]))
    """
    return floor_divide(x, y), remainder(x, y)


def _is_integer(name: str, i: Any) -> np.ndarray[Any, Any]:
    """Integer exponents as a host array (constants: they have no gradient)."""
    i = bottom(i) if isinstance(i, Tensor) else i
    i = backend.to_host(i) if type(i) in backend.array_types else np.asarray(i)
    if i.dtype.kind not in "iub":
        raise TypeError(f"{name}: the exponents must be integers, not {i.dtype}")
    return i


def ldexp(x: Any, i: Any) -> Any:
    """``x * 2**i`` for integer exponents ``i`` (constants), as ``np.ldexp``; differentiable in x.

    >>> import chainrule as cr
    >>> cr.ldexp(cr.tensor([1.5, 3.0]), [2, -1])
    tensor([6. , 1.5])
    """
    x = as_array(x)
    i = _is_integer("ldexp", i).astype(np.int64)
    one = np.ones((), bottom(x).dtype)
    # in two halves, so that 2**i itself never overflows where x 2**i does not (a subnormal x, a large i)
    return x * like(np.ldexp(one, i // 2), x) * like(np.ldexp(one, i - i // 2), x)


def frexp(x: Any) -> tuple[Any, Any]:
    """Mantissas in [0.5, 1) (with x's sign; 0 at 0) and integer exponents, x = m 2**e, as ``np.frexp``; the
    mantissa m = x 2**-e is differentiable (the exponents are piecewise constant).

    >>> import chainrule as cr
    >>> cr.frexp(cr.tensor([3.0, -0.25]))
    (tensor([ 0.75, -0.5 ]), tensor([ 2, -1], dtype=int32))
    """
    x = as_array(x)
    _, exponent = np.frexp(bottom(x))
    return ldexp(x, -exponent), Tensor._from_node(exponent, None) if isinstance(x, Tensor) else exponent
