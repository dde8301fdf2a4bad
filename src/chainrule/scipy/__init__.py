"""SciPy's functions, differentiable: ``cr.scipy.special`` (and the modules after it), on NumPy or CuPy arrays.

SciPy is an optional extra (``pip install 'chainrule[scipy]'``): ``import chainrule`` never imports it, and the
first use of ``cr.scipy`` does. The absolute ``import scipy`` below is SciPy's own package: Python 3 has no
implicit relative imports, so this package's name does not shadow it.

>>> import chainrule as cr
>>> print(f"{float(cr.grad(cr.scipy.special.gammaln)(3.0)):.6f}")  # digamma(3) = 3/2 - Euler's gamma
0.922784
"""

try:
    import scipy.special  # noqa: F401  (SciPy itself, not this package)
except ImportError:
    raise ImportError("cr.scipy needs SciPy, an optional extra of chainrule: pip install 'chainrule[scipy]'") from None

from . import integrate, linalg, optimize, signal, special, stats

__all__ = ["integrate", "linalg", "optimize", "signal", "special", "stats"]
