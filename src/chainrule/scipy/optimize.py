"""SciPy's ``minimize`` handed exact derivatives: ``cr.scipy.optimize.minimize(fun, x0, method="trust-ncg")``.

The optimizer is SciPy's own; chainrule supplies what it would otherwise estimate by finite differences: the value
and gradient from one evaluation (``cr.value_and_grad``, SciPy's ``jac=True``), Hessian-vector products
(``cr.hvp``, forward over reverse, no matrix formed) for the methods that take them, and the whole Hessian
(``cr.hessian``) for those that need a matrix. Parameters may be a pytree (nested tuples, lists, dicts of arrays):
SciPy sees one float64 vector, ``fun`` sees the pytree, and the result's ``x`` and ``jac`` come back in x0's
structure. SciPy runs on the host, so parameters on a GPU are copied to NumPy first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.optimize

from .. import backend
from ..tensor import bottom
from ..transforms import hessian, hvp, value_and_grad
from ..tree_util import tree_flatten, tree_unflatten

__all__ = ["minimize"]

# SciPy's methods by the derivatives they read (a method missing here takes none, and SciPy warns if given one)
_GRADIENT = {"cg", "bfgs", "newton-cg", "l-bfgs-b", "tnc", "slsqp", "dogleg", "trust-ncg", "trust-krylov",
             "trust-exact", "trust-constr"}
_PRODUCT = {"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"}  # take hessp= (or hess=)
_MATRIX = {"dogleg", "trust-exact"}  # need hess=, a matrix


class _Raveled:
    """A pytree of floating-point arrays as one float64 vector, and back (``unravel`` also takes a traced vector,
    so derivatives of the flat function are those of the pytree one)."""

    def __init__(self, tree: Any) -> None:
        leaves, self.treedef = tree_flatten(tree)
        if not leaves:
            raise ValueError("minimize: x0 has no parameters (an empty pytree)")
        hosts = [backend.to_host(bottom(leaf)) for leaf in leaves]
        for h in hosts:
            if h.dtype.kind not in "biuf":
                raise TypeError(f"minimize optimizes real parameters, got a leaf of dtype {h.dtype}: split a complex "
                                "parameter into its real and imaginary parts")
        self.shapes = [h.shape for h in hosts]
        self.bounds = np.cumsum([0] + [h.size for h in hosts])
        self.x0 = np.concatenate([h.astype(np.float64).ravel() for h in hosts])

    def unravel(self, v: Any) -> Any:
        parts = [v[a:b].reshape(shape) for a, b, shape in zip(self.bounds[:-1], self.bounds[1:], self.shapes)]
        return tree_unflatten(self.treedef, parts)


def minimize(fun: Callable[..., Any], x0: Any, args: tuple[Any, ...] = (), method: str | None = None,
             bounds: Any = None, constraints: Any = (), tol: float | None = None,
             callback: Callable[[Any], Any] | None = None, options: dict[str, Any] | None = None,
             hessian_mode: str = "auto", jac: Any = None, hess: Any = None,
             hessp: Any = None) -> scipy.optimize.OptimizeResult:
    """Minimize ``fun(x, *args)`` with ``scipy.optimize.minimize(method=...)``, its derivatives exact.

    ``fun`` returns a scalar and is written with chainrule's (or NumPy's) functions; ``x0`` is an array or a
    pytree of arrays. SciPy gets ``jac=True`` (value and gradient from one reverse pass) for every method that reads
    a gradient, ``hessp=`` from ``cr.hvp`` for Newton-CG, trust-ncg, trust-krylov and trust-constr, and ``hess=``
    from ``cr.hessian`` for dogleg and trust-exact (``hessian_mode="matrix"`` hands the matrix to the others too;
    ``"none"`` hands no second derivative). ``bounds``, ``constraints`` and ``callback`` follow SciPy's; bounds and
    constraints see the flat float64 vector of the parameters (leaves in ``cr.tree_util`` order), ``callback`` the
    pytree. The result is SciPy's ``OptimizeResult`` (``nfev``, ``njev``, ``nhev`` counted by SciPy) with ``x`` and
    ``jac`` in x0's structure; ``hess``, where SciPy gives one, stays a flat matrix.

    >>> import numpy as np, chainrule as cr
    >>> rosen = lambda p: (1 - p["a"]) ** 2 + 100 * (p["b"] - p["a"] ** 2) ** 2
    >>> res = cr.scipy.optimize.minimize(rosen, {"a": -1.2, "b": 1.0}, method="trust-ncg")
    >>> bool(res.success), round(float(res.x["a"]), 4), round(float(res.x["b"]), 4)
    (True, 1.0, 1.0)
    """
    for name, given in (("jac", jac), ("hess", hess), ("hessp", hessp)):
        if given is not None:
            raise TypeError(f"minimize computes {name}= itself (exactly, with chainrule): drop it, or call "
                            "scipy.optimize.minimize directly to use your own")
    if hessian_mode not in ("auto", "matrix", "none"):
        raise ValueError(f"minimize: hessian_mode must be 'auto', 'matrix' or 'none', got {hessian_mode!r}")
    if method is not None and not isinstance(method, str):
        raise TypeError("minimize: method must be the name of one of SciPy's methods (a string)")
    chosen = None if method is None else method.lower()
    flat = _Raveled(x0)

    def f(v: Any) -> Any:
        return fun(flat.unravel(v), *args)

    value_grad = value_and_grad(f)

    def fun_and_jac(v: np.ndarray[Any, Any]) -> tuple[float, np.ndarray[Any, Any]]:
        value, g = value_grad(v)
        return float(bottom(value)), np.asarray(backend.to_host(bottom(g)), dtype=np.float64)

    kwargs: dict[str, Any] = {}
    if chosen is None or chosen in _GRADIENT:
        objective: Callable[..., Any] = fun_and_jac
        kwargs["jac"] = True
    else:
        def objective(v: np.ndarray[Any, Any]) -> float:
            return float(bottom(f(v)))
    wants_matrix = chosen in _MATRIX or (hessian_mode == "matrix" and chosen in _PRODUCT)
    if hessian_mode != "none" and wants_matrix:
        kwargs["hess"] = lambda v: np.asarray(backend.to_host(bottom(hessian(f)(v))), dtype=np.float64)
    elif hessian_mode != "none" and chosen in _PRODUCT:
        kwargs["hessp"] = lambda v, p: np.asarray(backend.to_host(bottom(hvp(f, v, p))), dtype=np.float64)
    if callback is not None:
        user_callback = callback

        def on_step(xk: np.ndarray[Any, Any], *state: Any) -> Any:  # trust-constr also passes its state
            return user_callback(flat.unravel(xk))

        kwargs["callback"] = on_step
    res = scipy.optimize.minimize(objective, flat.x0, method=method, bounds=bounds, constraints=constraints,
                                  tol=tol, options=options, **kwargs)
    res.x = flat.unravel(np.asarray(res.x, dtype=np.float64))
    if "jac" in res and np.shape(res.jac) == flat.x0.shape:
        res.jac = flat.unravel(np.asarray(res.jac, dtype=np.float64))
    return res
