"""L-BFGS with an optional strong-Wolfe line search, following PyTorch's ``torch.optim.LBFGS`` step by step.

The parameters are treated as one flat vector. Each ``step(closure)`` runs up to ``max_iter`` iterations: the
two-loop recursion over the last ``history_size`` curvature pairs (s, y) gives a direction, scaled by
γ = sᵀy / yᵀy; the step along it is ``lr`` (on the very first iteration ``min(1, 1 / |g|₁) · lr``), or the one a
strong-Wolfe line search finds (cubic interpolation, then zoom: Nocedal and Wright, Algorithms 3.5 and 3.6, with
c1 = 1e-4, c2 = 0.9 and 25 evaluations at most). A pair is kept only when sᵀy > 1e-10 (the curvature condition).
Iterations stop at ``max_iter``, after ``max_eval`` closure calls, when the largest gradient entry is at most
``tolerance_grad``, or when the step or the change in loss falls under ``tolerance_change``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from ..engine import enable_grad, no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, ParamsT, StateDict

Array = Any  # a flat array on the parameters' device
Evaluate = Callable[[float, Array], tuple[float, Array]]


def _dot(a: Array, b: Array) -> float:
    return float(a.dot(b))


def _cubic_minimum(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                   bounds: tuple[float, float] | None = None) -> float:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to ``bounds`` (default:
    the interval between the points); the bounds' midpoint when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1 * d1 - g1 * g2
    if square < 0:
        return (lo + hi) / 2.0
    d2 = float(np.sqrt(square))
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate: Evaluate, t: float, d: Array, f: float, g: Array, gtd: float, c1: float = 1e-4,
                  c2: float = 0.9, tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple[float, Array, float, int]:
    """A step t along d meeting the strong Wolfe conditions: ``f(t) <= f + c1 t gᵀd`` and ``|f'(t)| <= -c2 gᵀd``.

    ``evaluate(t, d)`` gives the loss and flat gradient at ``x + t d``. Returns (loss, gradient, t, evaluations).
    """
    d_norm = float(abs(d).max())
    f_new, g_new = evaluate(t, d)
    evals, ls_iter = 1, 0
    gtd_new = _dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    # bracketing: grow the step until an interval certainly holds an acceptable one
    while ls_iter < max_ls:
        sufficient_decrease = not (f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev))
        if sufficient_decrease and abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g, bracket_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if not sufficient_decrease or gtd_new >= 0:  # an acceptable step lies between t_prev and t
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        step = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                              bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = step
        f_new, g_new = evaluate(t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g, bracket_gtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]

    # zoom: shrink the bracket, keeping its low end the best point found so far
    progress_stalled = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        top, bottom = max(bracket), min(bracket)
        margin = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < margin:  # too close to an end: move it in, unless that is the first time
            if progress_stalled or t >= top or t <= bottom:
                t = top - margin if abs(t - top) < abs(t - bottom) else bottom + margin
                progress_stalled = False
            else:
                progress_stalled = True
        else:
            progress_stalled = False
        f_new, g_new = evaluate(t, d)
        evals += 1
        gtd_new = _dot(g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """Limited-memory BFGS (PyTorch's algorithm and defaults); ``step`` needs a closure that re-evaluates the loss.

    One parameter group only (the parameters are one vector); ``line_search_fn`` is None (fixed step ``lr``) or
    ``"strong_wolfe"``. ``max_eval`` defaults to ``max_iter * 5 // 4``.

    >>> import chainrule as cr
    >>> x = cr.tensor([-1.5, 2.0], requires_grad=True)
    >>> opt = cr.optim.LBFGS([x], line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2   # Rosenbrock
    ...     loss.backward()
    ...     return loss
    >>> for _ in range(3):
    ...     _ = opt.step(closure)
    >>> [round(v, 4) for v in x.tolist()]
    [1.0, 1.0]
    """

    def __init__(self, params: ParamsT, lr: float = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def _validate(self, group: dict[str, Any]) -> None:
        if not 0.0 <= group["lr"]:
            raise ValueError(f"Invalid learning rate: {group['lr']}")
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {group['line_search_fn']!r}")
        if group["history_size"] < 1 or group["max_iter"] < 1:
            raise ValueError("LBFGS: history_size and max_iter must be at least 1")

    # ---- the parameters as one vector ----------------------------------------------------------------------------
    def _flat_grad(self) -> Array:
        xp = backend.namespace(self._params[0].data)
        parts = [xp.zeros(p.data.size, dtype=p.data.dtype) if p.grad is None
                 else p.grad.data.reshape(-1).astype(p.data.dtype, copy=False) for p in self._params]
        return xp.concatenate(parts)

    def _add(self, t: float, d: Array) -> None:
        """``x <- x + t d``, in place."""
        offset = 0
        with no_grad():
            for p in self._params:
                n = p.data.size
                p += t * d[offset:offset + n].reshape(p.data.shape)
                offset += n

    def _set(self, values: list[Array]) -> None:
        with no_grad():
            for p, v in zip(self._params, values):
                p[...] = v

    def _evaluate(self, closure: Callable[[], Any], start: list[Array]) -> Evaluate:
        """The loss and flat gradient at ``start + t d``, leaving the parameters at ``start`` afterwards."""
        def evaluate(t: float, d: Array) -> tuple[float, Array]:
            self._add(t, d)
            with enable_grad():
                loss = float(closure())
            grad = self._flat_grad()
            self._set(start)
            return loss, grad
        return evaluate

    # ---- the step ----------------------------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Run up to ``max_iter`` iterations; returns the loss the closure gave at the start."""
        if closure is None:
            raise TypeError("LBFGS.step needs a closure that clears the gradients, computes the loss, calls "
                            "backward() and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if float(abs(g).max()) <= tolerance_grad:
            return first_loss

        d = _data(state.get("d"))
        t = state.get("t")
        dirs = [_data(v) for v in state.get("old_dirs", [])]  # the y's
        steps = [_data(v) for v in state.get("old_stps", [])]  # the s's
        ro: list[float] = list(state.get("ro", []))
        h_diag = state.get("H_diag", 1.0)
        prev_g = _data(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                dirs, steps, ro, h_diag = [], [], [], 1.0
            else:
                y = g - prev_g
                s = d * t
                ys = _dot(y, s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(dirs) == history_size:
                        del dirs[0], steps[0], ro[0]
                    dirs.append(y)
                    steps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / _dot(y, y)
                al = [0.0] * len(dirs)
                q = -g
                for i in range(len(dirs) - 1, -1, -1):
                    al[i] = _dot(steps[i], q) * ro[i]
                    q = q - al[i] * dirs[i]
                r = q * h_diag
                for i in range(len(dirs)):
                    r = r + (al[i] - _dot(dirs[i], r) * ro[i]) * steps[i]
                d = r
            prev_g = g.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / float(abs(g).sum())) * lr if state["n_iter"] == 1 else lr
            gtd = _dot(g, d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            ls_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                start = [p.data.copy() for p in self._params]
                loss, g, t, ls_evals = _strong_wolfe(self._evaluate(closure, start), t, d, loss, g, gtd)
                self._add(t, d)
                converged = float(abs(g).max()) <= tolerance_grad
            else:
                self._add(t, d)
                converged = False
                if n_iter != max_iter:  # the loss at the new point, except after the last iteration
                    with enable_grad():
                        loss = float(closure())
                    g = self._flat_grad()
                    converged = float(abs(g).max()) <= tolerance_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals
            if (n_iter == max_iter or evals >= max_eval or converged
                    or float(abs(d * t).max()) <= tolerance_change or abs(loss - prev_loss) < tolerance_change):
                break

        state.update(d=_box(d), t=t, old_dirs=[_box(v) for v in dirs], old_stps=[_box(v) for v in steps], ro=ro,
                     H_diag=h_diag, prev_flat_grad=_box(prev_g), prev_loss=prev_loss)
        return first_loss

    # ---- state dicts ------------------------------------------------------------------------------------------
    def load_state_dict(self, state_dict: StateDict) -> None:
        """Restore a snapshot from ``state_dict()``: the iteration counts, the history and the last direction.

        The flat vectors are copied onto the parameters' device and dtype (they are not shaped like any one
        parameter, so the base class's per-parameter checks do not apply).
        """
        super().load_state_dict({"state": {}, "param_groups": state_dict["param_groups"]})
        saved = state_dict["state"].get(0)
        if saved is not None:
            like = self._params[0]
            self.state[like] = {key: _restored(value, like) for key, value in saved.items()}


def _data(value: Tensor | None) -> Array:
    return None if value is None else value.data


def _box(value: Array) -> Tensor | None:
    return None if value is None else Tensor(value)


def _restored(value: Any, like: Tensor) -> Any:
    if isinstance(value, list):
        return [_restored(v, like) for v in value]
    if isinstance(value, Tensor) or hasattr(value, "__array__"):
        array = backend.to_host(value.data) if isinstance(value, Tensor) else np.asarray(value)
        return Tensor(backend.to_device(np.array(array, dtype=like.data.dtype), like.device))
    return copy.deepcopy(value)
