"""Polynomials with NumPy's names and signatures (highest power first): polyval, polyfit.

Composites: ``polyval`` is Horner's rule, differentiable in the coefficients and the points; ``polyfit`` solves the
least-squares problem through a QR decomposition of the (weighted, column-scaled) Vandermonde matrix, so its
gradient flows to x, y and the weights through the solution.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import backend
from ..primitive import like
from ..tensor import Tensor, bottom, values
from .decompositions import eigvals, inv, qr, solve
from .elementwise import astype, real, sqrt
from .linalg import matmul
from .reduce import _beside, sum
from .shape import as_array, broadcast_to, concatenate, getitem, pad, reshape, stack, transpose
from .signal import convolve

__all__ = ["polyfit", "polyval"]


def polyval(p: Any, x: Any) -> Any:
    """p[0] x^(N-1) + ... + p[N-1] at ``x`` (any shape), as ``np.polyval``, by Horner's rule.

    >>> import chainrule as cr
    >>> cr.polyval([3.0, 0.0, 1.0], cr.tensor([1.0, 2.0]))
    tensor([ 4., 13.])
    """
    x = as_array(x)
    p = _beside(p, x)
    shape = np.broadcast_shapes(x.shape, p.shape[1:])
    if p.shape[0] == 0:
        return broadcast_to(x * 0, shape)
    y = getitem(p, 0)
    for i in range(1, p.shape[0]):
        y = y * x + getitem(p, i)
    return y if y.shape == shape else broadcast_to(y, shape)


def polyfit(x: Any, y: Any, deg: int, rcond: float | None = None, full: bool = False, w: Any = None,
            cov: bool | str = False) -> Any:
    """The coefficients (highest power first) of the degree-``deg`` polynomial nearest to the points (x, y) in
    least squares, as ``np.polyfit``; ``y`` may hold several columns, ``w`` weights each point (w_i multiplies the
    residual, as NumPy's). ``cov=True`` also gives the coefficients' covariance, scaled by the residuals'
    variance (``cov="unscaled"``: not), as NumPy's. Refused: ``full=True``, and a rank-deficient fit (NumPy warns
    and returns the minimum-norm solution, whose gradient is not smooth).

    >>> import chainrule as cr
    >>> cr.polyfit(cr.tensor([0.0, 1.0, 2.0, 3.0]), [1.0, 3.0, 5.0, 7.0], 1)
    tensor([2., 1.])
    """
    if full:
        raise TypeError("polyfit: full=True (residuals, rank, singular values) is not supported; the coefficients "
                        "are, with cov=")
    deg = int(deg)
    if deg < 0:
        raise ValueError(f"polyfit: deg must be at least 0, not {deg}")
    x = as_array(x)
    y = _beside(y, x)
    if x.ndim != 1 or x.shape[0] == 0:
        raise TypeError(f"polyfit: x must be a non-empty 1-d sequence, not of shape {x.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != x.shape[0]:
        raise TypeError(f"polyfit: y must be 1-d or 2-d with one row per x ({x.shape[0]}), not of shape {y.shape}")
    if deg + 1 > x.shape[0]:
        raise ValueError(f"polyfit: {x.shape[0]} points cannot determine a polynomial of degree {deg}")
    lhs = vander(x, deg + 1)
    rhs = y
    if w is not None:
        w = _beside(w, x)
        if w.shape != x.shape:
            raise TypeError(f"polyfit: w must be one weight per point ({x.shape[0]}), not of shape {w.shape}")
        lhs = lhs * reshape(w, (-1, 1))
        rhs = rhs * (w if y.ndim == 1 else reshape(w, (-1, 1)))
    scale = sqrt(sum(lhs * lhs, axis=0))  # unit columns, as NumPy scales them, for the conditioning
    q, r = qr(lhs / scale)
    diag = abs(np.diagonal(values(r)))
    cutoff = (x.shape[0] * np.finfo(values(r).dtype).eps) if rcond is None else rcond
    if not bool((diag > cutoff * diag.max()).all()):
        raise ValueError(f"polyfit: the fit of degree {deg} is rank deficient (too few distinct x values, or rcond "
                         f"{cutoff:g} too large): lower the degree")
    scaled = solve(r, matmul(transpose(q, (1, 0)), rhs))
    coefficients = scaled / (scale if y.ndim == 1 else reshape(scale, (-1, 1)))
    if not cov:
        return coefficients
    # (A^T A)^-1 = R^-1 R^-T for the scaled A = Q R, unscaled by the column scales, as NumPy's
    r_inv = inv(r)
    base = matmul(r_inv, transpose(r_inv, (1, 0))) / (reshape(scale, (-1, 1)) * reshape(scale, (1, -1)))
    if cov == "unscaled":
        factor: Any = 1.0
    else:
        points = x.shape[0]
        if points <= deg + 1:
            raise ValueError(f"polyfit: cov=True needs more points than coefficients ({points} <= {deg + 1}) to "
                             f"scale the covariance; pass cov='unscaled'")
        residual = rhs - matmul(lhs / scale, scaled)
        factor = sum(residual * residual, axis=0) / (points - deg - 1)
    return coefficients, base * factor if y.ndim == 1 else reshape(base, (*base.shape, 1)) * factor


# ---- NumPy's other polynomial functions (issue 10): coefficients highest power first ---------------------------
__all__ += ["polyadd", "polyder", "polyint", "polymul", "polysub", "vander"]


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:
    """The Vandermonde matrix of the 1-d ``x``: columns x^(N-1), ..., x, 1 (``increasing``: 1, x, ...), as
    ``np.vander``; built by repeated products, so its derivative is exact everywhere.

    >>> import chainrule as cr
    >>> cr.vander(cr.tensor([2.0, 3.0]), 3)
    tensor([[4., 2., 1.],
            [9., 3., 1.]])
    """
    x = as_array(x)
    if x.ndim != 1:
        raise ValueError(f"vander: x must be 1-d, not of shape {x.shape}")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise ValueError(f"vander: N must be at least 0, not {n}")
    if n == 0:
        return reshape(getitem(x, slice(0, 0)), (x.shape[0], 0))
    powers = [x**0]  # ones (a tensor when x is one: its derivative, 0, is exact everywhere)
    for _ in range(n - 1):
        powers.append(powers[-1] * x)
    return stack(powers if increasing else powers[::-1], axis=1)


def _constant(host: np.ndarray[Any, Any], ref: Any) -> Any:
    """A host constant beside ``ref``: on its device, and a (constant) tensor when ``ref`` is one."""
    return Tensor._from_node(like(host, ref), None) if isinstance(ref, Tensor) else like(host, ref)


def _coefficients(name: str, p: Any) -> Any:
    p = as_array(p)
    if p.ndim != 1:
        raise ValueError(f"{name}: the coefficients must be 1-d, not of shape {p.shape}")
    return p


def _descending(n: int, ref: Any) -> Any:
    """n, n - 1, ..., 1 in ``ref``'s dtype, on its device."""
    return like(np.arange(n, 0, -1).astype(bottom(ref).dtype), ref)


def polyder(p: Any, m: int = 1) -> Any:
    """The coefficients of the ``m``-th derivative of the polynomial ``p``, as ``np.polyder``.

    >>> import chainrule as cr
    >>> cr.polyder(cr.tensor([1.0, 2.0, 3.0]))
    tensor([2., 2.])
    """
    if int(m) < 0:
        raise ValueError(f"polyder: the order of the derivative must be at least 0, not {m}")
    p = _coefficients("polyder", p)
    for _ in range(int(m)):
        n = p.shape[0] - 1
        p = getitem(p, slice(0, 1)) * 0 if n <= 0 else getitem(p, slice(0, n)) * _descending(n, p)
    return p


def polyint(p: Any, m: int = 1, k: Any = None) -> Any:
    """The coefficients of the ``m``-th antiderivative of ``p``, with integration constants ``k`` (one, or one
    per integration, the first used first; 0 by default), as ``np.polyint``; differentiable in ``p`` and ``k``.

    >>> import chainrule as cr
    >>> cr.polyint(cr.tensor([3.0, 2.0]), k=1.0)
    tensor([1.5, 2. , 1. ])
    """
    m = int(m)
    if m < 0:
        raise ValueError(f"polyint: the order of the antiderivative must be at least 0, not {m}")
    p = _coefficients("polyint", p)
    if not isinstance(k, Tensor):  # plain numbers take p's precision, as Python's floats do in NumPy
        k = np.asarray(0.0 if k is None else k)
        k = k.astype(bottom(p).dtype) if k.dtype.kind in "biuf" and bottom(p).dtype.kind in "fc" else k
    k = _beside(k, p)
    k = reshape(k, (-1,))
    if k.shape[0] == 1 and m > 1:
        k = broadcast_to(k, (m,))
    if m and k.shape[0] != m:
        raise ValueError(f"polyint: k must hold one constant or {m} (one per integration), not {k.shape[0]}")
    for i in range(m):
        p = concatenate([p / _descending(p.shape[0], p), getitem(k, slice(i, i + 1))])
    return p


def _aligned(name: str, a1: Any, a2: Any) -> tuple[Any, Any]:
    """Both coefficient vectors at the same length, the shorter padded with leading zeros."""
    a1, a2 = _coefficients(name, a1), _coefficients(name, a2)
    n = builtins.max(a1.shape[0], a2.shape[0])
    return pad(a1, (n - a1.shape[0], 0)), pad(a2, (n - a2.shape[0], 0))


def polyadd(a1: Any, a2: Any) -> Any:
    """The coefficients of the sum of two polynomials, as ``np.polyadd``.

    >>> import chainrule as cr
    >>> cr.polyadd(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 1.0, 1.0]))
    tensor([1., 2., 3.])
    """
    a1, a2 = _aligned("polyadd", a1, a2)
    return a1 + a2


def polysub(a1: Any, a2: Any) -> Any:
    """The coefficients of the difference of two polynomials, as ``np.polysub``.

    >>> import chainrule as cr
    >>> cr.polysub(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 1.0, 1.0]))
    tensor([-1.,  0.,  1.])
    """
    a1, a2 = _aligned("polysub", a1, a2)
    return a1 - a2


def polymul(a1: Any, a2: Any) -> Any:
    """The coefficients of the product of two polynomials (their convolution), as ``np.polymul``.

    >>> import chainrule as cr
    >>> cr.polymul(cr.tensor([1.0, 1.0]), cr.tensor([1.0, -1.0]))
    tensor([ 1.,  0., -1.])
    """
    return convolve(_coefficients("polymul", a1), _coefficients("polymul", a2))


__all__ += ["poly", "polydiv"]


def poly(seq_of_zeros: Any) -> Any:
    """The coefficients (leading 1) of the polynomial with the given roots, or of a square matrix's characteristic
    polynomial, as ``np.poly``: the product of the factors (x - r), real when complex roots come in conjugate
    pairs. Differentiable in the roots (a matrix's: through its eigenvalues, where they are distinct).

    >>> import chainrule as cr
    >>> cr.poly(cr.tensor([1.0, 2.0]))
    tensor([ 1., -3.,  2.])
    """
    roots = as_array(seq_of_zeros)
    if roots.ndim == 2 and roots.shape[0] == roots.shape[1] and roots.shape[0]:
        roots = eigvals(roots)
    elif roots.ndim > 1 or (roots.ndim == 2 and roots.shape[0] != roots.shape[1]):
        raise ValueError(f"poly: the input must be 1-d or a non-empty square matrix, not of shape {roots.shape}")
    roots = reshape(roots, (-1,))
    one = _constant(np.ones(1, bottom(roots).dtype), roots)
    if roots.shape[0] == 0:
        return reshape(one, ())
    out = concatenate([one, -roots[:1]])
    for i in range(1, roots.shape[0]):
        out = convolve(out, concatenate([one, -roots[i:i + 1]]))
    data = bottom(roots)
    if np.iscomplexobj(data) and bool((np.sort(data) == np.sort(data.conjugate())).all()):
        return real(out)  # conjugate pairs: the imaginary parts cancel, as NumPy's
    return out


_NEGLIGIBLE = 1e-8  # np.polydiv drops leading remainder coefficients this small (np.allclose's atol)


def polydiv(u: Any, v: Any) -> tuple[Any, Any]:
    """The quotient and the remainder of dividing the polynomial ``u`` by ``v``, by long division, as
    ``np.polydiv``. As NumPy's, the remainder's leading coefficients within 1e-8 of zero are dropped (but one),
    and with them their gradient; the leading ones the division cancels are zero by construction.

    >>> import chainrule as cr
    >>> cr.polydiv(cr.tensor([1.0, 3.0, 2.0]), cr.tensor([1.0, 1.0]))
    (tensor([1., 2.]), tensor([0.]))
    """
    u, v = _coefficients("polydiv", u), _coefficients("polydiv", v)
    m, n = u.shape[0] - 1, v.shape[0] - 1
    if n < 0 or bool(bottom(v)[0] == 0):
        raise ZeroDivisionError("polydiv: the divisor's leading coefficient must not be zero")
    dtype = np.result_type(bottom(u).dtype, bottom(v).dtype, 1.0)
    r = astype(u, dtype)
    quotient = []
    for k in range(m - n + 1):
        d = r[k:k + 1] / v[:1]
        quotient.append(d)
        r = r - d * pad(v, (k, m - n - k))
    q = concatenate(quotient) if quotient else _constant(np.zeros(1, dtype), u)
    r = r[builtins.min(builtins.max(m - n + 1, 0), r.shape[0] - 1):]
    data = bottom(r)
    start = 0
    while start < r.shape[0] - 1 and abs(complex(data[start])) <= _NEGLIGIBLE:
        start += 1
    return q, r[start:]


__all__ += ["roots"]


def roots(p: Any) -> Any:
    """The roots of the polynomial ``p`` (highest power first), as ``np.roots``: the eigenvalues of its companion
    matrix, real when all of them are; leading zeros are dropped and trailing ones give roots at 0. Differentiable
    in the coefficients where the roots are distinct.

    >>> import chainrule as cr
    >>> cr.roots(cr.tensor([1.0, -3.0, 2.0]))
    tensor([2., 1.])
    """
    p = _coefficients("roots", p)
    nonzero = np.flatnonzero(backend.to_host(bottom(p)) != 0)
    if nonzero.size == 0:
        return _constant(np.zeros(0), p)
    trailing = p.shape[0] - 1 - int(nonzero[-1])
    p = p[int(nonzero[0]):int(nonzero[-1]) + 1]
    if bottom(p).dtype.kind not in "fc":
        p = astype(p, np.float64)
    at_zero = _constant(np.zeros(trailing, bottom(p).dtype), p)
    n = p.shape[0]
    if n < 2:
        return at_zero
    shift = _constant(np.eye(n - 2, n - 1, dtype=bottom(p).dtype), p)  # ones below the diagonal
    found = eigvals(concatenate([reshape(-p[1:] / p[:1], (1, n - 1)), shift]))
    if not bool((bottom(found).imag == 0).all()):
        return concatenate([found, astype(at_zero, found.dtype)])
    return concatenate([real(found), at_zero])
