"""ODE solutions differentiable by the adjoint method: ``cr.scipy.integrate.odeint`` and ``solve_ivp``.

The forward solve is SciPy's own (``scipy.integrate.odeint``'s LSODA, or ``solve_ivp``'s method), on the host. The
backward pass integrates the adjoint system backwards in time, again with SciPy, from each output time to the one
before it (Pontryagin; Chen et al., "Neural Ordinary Differential Equations", 2018):

    dy/dt = f(y, t, theta),   da/dt = -a^T df/dy,   d(theta_bar)/dt = -a^T df/dtheta,

with ``a`` jumping by the output's cotangent at each output time, and each right-hand side one ``cr.vjp`` of ``f``.
y restarts from the stored output at each output time, so memory grows with the number of output times, never
with the solver's steps. Then y0_bar = a(t0), theta_bar is its integral, t_bar_i = g_i . f(y_i, t_i), and t0 also
gets -a(t0) . f(y0, t0) (moving the start shifts the whole solution). The rule is a ``cr.custom_vjp``, so it
composes with ``cr.grad``, ``cr.vjp`` and ``cr.jacobian``; its gradient is first order and reverse mode only
(forward mode and derivatives of the gradient are refused by name). Its accuracy is the solver's: ``rtol`` and
``atol`` govern the adjoint solve as they govern the forward one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.integrate
import scipy.optimize

from .. import backend
from ..ops.shape import concatenate, reshape, transpose
from ..primitive import Batched, as_array, level_of, like
from ..tensor import bottom
from ..transforms import custom_vjp, vjp
from ..tree_util import tree_flatten, tree_unflatten

__all__ = ["odeint", "solve_ivp"]

Array = np.ndarray[Any, Any]
# a forward solver: (rhs(y, t) on host float64 vectors, y0, times) -> the values at the times, (len(t), n)
Solver = Callable[[Callable[[Array, float], Array], Array, Array], Array]


def _host(x: Any) -> Array:
    return np.asarray(backend.to_host(bottom(x)), dtype=np.float64)


def _refuse_traced(name: str, leaves: list[Any]) -> None:
    """SciPy solves on plain values: a value still boxed here belongs to a transform the adjoint rule cannot serve."""
    if any(type(x) is Batched for x in leaves):
        raise TypeError(f"{name} under vmap with a gradient taken inside it is not supported (the adjoint rule "
                        "solves one example at a time): take the gradient of the batch's summed loss, or loop")
    if any(level_of(x) >= 0 for x in leaves):
        raise TypeError(f"{name}'s derivatives come from the adjoint method, in reverse mode and to first order: "
                        "forward mode (jvp, jacfwd, hessian) and derivatives of its gradient are not supported; "
                        "differentiate a fixed-step solver written with chainrule's functions for those")


def _is_float(x: Any) -> bool:
    return np.result_type(bottom(x)).kind == "f"


def _on_host(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with their floating-point leaves as host float64 arrays, where SciPy's solvers run ``func``."""
    leaves, treedef = tree_flatten(args)
    return tuple(tree_unflatten(treedef, [_host(x) if _is_float(x) else x for x in leaves]))


class _Adjoint:
    """``func(y, t, *args)`` solved at ``t`` by ``solver`` and differentiated by the adjoint method: ``self.solve``
    is a custom_vjp of (y0, t, *args)."""

    def __init__(self, name: str, func: Callable[..., Any], solver: Solver, backward_method: str, rtol: float,
                 atol: float) -> None:
        self.name, self.func, self.solver = name, func, solver
        self.backward_method, self.rtol, self.atol = backward_method, rtol, atol
        self.solve = custom_vjp(self._forward)
        self.solve.defvjp(self._fwd, self._bwd)

    def _f(self, y: Any, t: Any, args: tuple[Any, ...]) -> Array:
        out = _host(self.func(y, t, *args))
        if out.shape != np.shape(y):
            raise ValueError(f"{self.name}: func returned shape {out.shape} for a state of shape {np.shape(y)}")
        return out

    def _forward(self, y0: Any, t: Any, *args: Any) -> Array:
        _refuse_traced(self.name, tree_flatten((y0, t, args))[0])
        times = _host(t)
        if times.ndim != 1 or times.size < 1:
            raise ValueError(f"{self.name}: t must be a 1-D sequence of times, got shape {times.shape}")
        if np.any(np.diff(times) < 0) and np.any(np.diff(times) > 0):
            raise ValueError(f"{self.name}: t must be monotonic (increasing or decreasing)")
        host_args = _on_host(args)
        ys = self.solver(lambda y, s: self._f(y, s, host_args), _host(y0), times)
        return like(ys, y0)

    def _fwd(self, y0: Any, t: Any, *args: Any) -> tuple[Array, Any]:
        ys = self._forward(y0, t, *args)
        return ys, (ys, y0, t, args)

    def _bwd(self, residuals: Any, g: Any) -> tuple[Any, ...]:
        _refuse_traced(self.name, [g])
        ys, y0, t, args = residuals
        ys, times, g = _host(ys), _host(t), _host(g)
        leaves, treedef = tree_flatten(args)
        floats = [i for i, x in enumerate(leaves) if _is_float(x)]
        host_leaves = [_host(x) if i in floats else x for i, x in enumerate(leaves)]
        args = tuple(tree_unflatten(treedef, host_leaves))
        shapes = [np.shape(bottom(leaves[i])) for i in floats]
        sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
        n, p = ys.shape[1], int(sum(sizes))

        def with_params(params: list[Any]) -> tuple[Any, ...]:
            new = list(host_leaves)
            for i, v in zip(floats, params):
                new[i] = v
            return tuple(tree_unflatten(treedef, new))

        def adjoint_rhs(s: float, z: Array) -> Array:
            y, a = z[:n], z[n:2 * n]
            params = [host_leaves[i] for i in floats]
            out, vjp_fn = vjp(lambda y_, *ps: self.func(y_, s, *with_params(list(ps))), y, *params)
            cots = vjp_fn(a)
            return np.concatenate([_host(out), -_host(cots[0])] + [-_host(c).ravel() for c in cots[1:]])

        a = np.zeros(n)
        theta_bar = np.zeros(p)
        t_bar = np.zeros_like(times)
        for i in range(len(times) - 1, 0, -1):
            t_bar[i] = g[i] @ self._f(ys[i], times[i], args)
            a = a + g[i]
            if times[i] == times[i - 1]:
                continue
            z = np.concatenate([ys[i], a, theta_bar])
            sol = scipy.integrate.solve_ivp(adjoint_rhs, (times[i], times[i - 1]), z, method=self.backward_method,
                                            rtol=self.rtol, atol=self.atol)
            if not sol.success:
                raise RuntimeError(f"{self.name}: the adjoint solve failed between t={times[i]} and "
                                   f"t={times[i - 1]}: {sol.message}")
            a, theta_bar = sol.y[n:2 * n, -1], sol.y[2 * n:, -1]
        a = a + g[0]
        t_bar[0] = (g[0] - a) @ self._f(ys[0], times[0], args)
        # float leaves get theta_bar's pieces; other leaves (integers, flags) a zero the engine will not read
        cots = [like(np.zeros(np.shape(bottom(x))), x) for x in leaves]
        start = 0
        for i, shape, size in zip(floats, shapes, sizes):
            cots[i] = like(theta_bar[start:start + size].reshape(shape), leaves[i])
            start += size
        return (like(a, y0), like(t_bar, t), *tree_unflatten(treedef, cots))


def _as_vector(y0: Any, name: str) -> Any:
    y0 = as_array(y0)
    shape = np.shape(bottom(y0))
    if len(shape) > 1:
        raise ValueError(f"{name}: y0 must be a scalar or a 1-D array (SciPy's convention), got shape {shape}")
    if np.result_type(bottom(y0)).kind == "c":
        raise TypeError(f"{name} integrates real systems: split a complex state into its real and imaginary parts")
    return reshape(y0, (1,)) if not shape else y0


def odeint(func: Callable[..., Any], y0: Any, t: Any, *args: Any, rtol: float = 1.49012e-8, atol: float = 1.49012e-8,
           mxstep: int = 0, **scipy_args: Any) -> Any:
    """Solve dy/dt = func(y, t, *args) at the times ``t`` (SciPy's ``odeint``, LSODA), differentiable in y0, t and
    args by the adjoint method.

    ``func`` is written with chainrule's (or NumPy's) functions and gets a 1-D float64 state; the result has shape
    ``(len(t), len(y0))``, its first row y0. ``args`` may be arrays or pytrees of them; their floating-point leaves
    get gradients; SciPy's spelling ``args=(...)`` is taken too. The adjoint system is solved backwards with
    ``solve_ivp``'s LSODA at the same ``rtol``/``atol``.

    >>> import numpy as np, chainrule as cr
    >>> decay = lambda y, t, k: -k * y
    >>> t = np.array([0.0, 1.0])
    >>> dk = cr.grad(lambda k: cr.scipy.integrate.odeint(decay, np.array([1.0]), t, k)[1, 0])(0.5)
    >>> round(float(dk), 6)  # d/dk exp(-k) = -exp(-k) at k = 0.5
    -0.606531
    """

    if set(scipy_args) - {"args"}:
        raise TypeError(f"odeint got options it does not take: {sorted(set(scipy_args) - {'args'})} (it takes "
                        "rtol, atol, mxstep and args)")
    if "args" in scipy_args:
        if args:
            raise TypeError("odeint: pass the extra arguments either after t or as args=(...), not both")
        args = tuple(scipy_args["args"])

    def solver(rhs: Callable[[Array, float], Array], y: Array, times: Array) -> Array:
        ys, info = scipy.integrate.odeint(rhs, y, times, rtol=rtol, atol=atol, mxstep=mxstep, full_output=True)
        if info["message"] != "Integration successful.":
            raise RuntimeError(f"odeint: the forward solve failed: {info['message']}")
        return ys

    problem = _Adjoint("odeint", func, solver, "LSODA", rtol, atol)
    return problem.solve(_as_vector(y0, "odeint"), as_array(t), *args)


def solve_ivp(fun: Callable[..., Any], t_span: Any, y0: Any, method: str = "RK45", t_eval: Any = None,
              args: tuple[Any, ...] | None = None, rtol: float = 1e-3, atol: float = 1e-6,
              **options: Any) -> scipy.optimize.OptimizeResult:
    """Solve dy/dt = fun(t, y, *args) from ``t_span[0]`` (SciPy's ``solve_ivp``), its ``y`` differentiable in y0,
    ``t_span[0]``, ``t_eval`` and args by the adjoint method.

    Returns SciPy's result object: ``t`` (the output times: ``t_eval``, or when it is None the steps of a first solve,
    then taken as fixed times), ``y`` of shape ``(len(y0), len(t))`` (differentiable), and ``nfev``, ``status``,
    ``message``, ``success`` of the forward solve. The adjoint system is solved backwards with the same ``method``,
    ``rtol`` and ``atol``; ``options`` (``max_step``, ``first_step``) go to the forward solve. ``dense_output`` and
    ``events`` are refused: their results would carry no gradient.

    >>> import numpy as np, chainrule as cr
    >>> decay = lambda t, y, k: -k * y
    >>> final = lambda k: cr.scipy.integrate.solve_ivp(decay, (0.0, 1.0), np.array([1.0]), t_eval=[1.0], args=(k,),
    ...                                                rtol=1e-10, atol=1e-12).y[0, -1]
    >>> round(float(cr.grad(final)(0.5)), 6)  # d/dk exp(-k) = -exp(-k) at k = 0.5
    -0.606531
    """
    for name in ("dense_output", "events", "vectorized"):
        if options.get(name):
            raise ValueError(f"solve_ivp: {name}= is not supported here (its results would carry no gradient); "
                             "call scipy.integrate.solve_ivp for it")
    args = () if args is None else tuple(args)
    if len(t_span) != 2:
        raise ValueError(f"solve_ivp: t_span must be (t0, t_end), got {len(t_span)} values")
    t0, t_end = t_span
    if t_eval is None:
        first = scipy.integrate.solve_ivp(lambda s, y: _host(fun(s, y, *args)), (float(bottom(t0)),
                                          float(bottom(t_end))), _host(_as_vector(y0, "solve_ivp")), method=method,
                                          rtol=rtol, atol=atol, **options)
        t_eval = first.t[1:]
    t_out = reshape(as_array(t_eval), (-1,))
    lo, hi = sorted((float(bottom(t0)), float(bottom(t_end))))
    if np.any(_host(t_out) < lo) or np.any(_host(t_out) > hi):
        raise ValueError(f"solve_ivp: the values of t_eval must lie within t_span {tuple(t_span)}")
    times = concatenate([reshape(as_array(t0), (1,)), t_out])
    stats: dict[str, Any] = {}

    def solver(rhs: Callable[[Array, float], Array], y: Array, ts: Array) -> Array:
        if len(ts) == 1:
            return y[None]
        # ts[0] is the start, whose value is y0 itself: SciPy's t_eval must not repeat it (t_eval may start there)
        sol = scipy.integrate.solve_ivp(lambda s, v: rhs(v, s), (ts[0], ts[-1]), y, method=method, t_eval=ts[1:],
                                        rtol=rtol, atol=atol, **options)
        if not sol.success:
            raise RuntimeError(f"solve_ivp: the forward solve failed: {sol.message}")
        stats.update(nfev=sol.nfev, njev=sol.njev, nlu=sol.nlu, status=sol.status, message=sol.message)
        return np.concatenate([y[None], sol.y.T])

    problem = _Adjoint("solve_ivp", lambda y, s, *a: fun(s, y, *a), solver, method, rtol, atol)
    ys = problem.solve(_as_vector(y0, "solve_ivp"), times, *args)
    return scipy.optimize.OptimizeResult(t=_host(t_out), y=transpose(ys[1:]), success=True, **stats)
