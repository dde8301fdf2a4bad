"""``gradcheck``: the engine's derivatives against central finite differences, the limit definition itself.

f'(x) = lim (f(x + h) - f(x - h)) / 2h. For small inputs the whole Jacobian is compared entry by entry; for larger
ones, random directions: <v, J u> from finite differences against <vjp(v), u> (reverse) and J u (forward). Higher
orders check the derivative of a random projection of the first derivative, recursively, so order 2 covers
reverse-over-reverse, forward-over-reverse, reverse-over-forward and forward-over-forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import backend, engine, transforms
from .tensor import Tensor, values

_FULL_JACOBIAN_MAX = 400  # compare every entry when inputs x outputs is at most this


class GradcheckError(AssertionError):
    """A derivative disagreed with finite differences; the message says which input, entry and order."""


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    order: int = 2,
    modes: Sequence[str] = ("rev", "fwd"),
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check ``f``'s derivatives up to ``order`` in reverse ("rev") and forward ("fwd") mode; True or raise.

    Floating-point and complex inputs are differentiated (in float64, complex128); other inputs (indices, masks,
    ints) are passed as they are. Complex inputs and outputs are checked as pairs of reals (see ``real_view``): the
    finite differences run along the real and the imaginary direction of each entry, the Wirtinger derivatives.

    >>> import chainrule as cr
    >>> cr.gradcheck(lambda x: cr.sigmoid(x) * x, cr.tensor([0.3, -1.2]))
    True
    """
    values = [_as_input(x) for x in inputs]
    diff = [i for i, v in enumerate(values) if isinstance(v, np.ndarray) and v.dtype.kind in "fc"]
    if not diff:
        raise ValueError("gradcheck needs at least one floating-point (or complex) input to differentiate")
    bad = set(modes) - {"rev", "fwd"}
    if bad:
        raise ValueError(f"gradcheck: unknown modes {sorted(bad)}; use 'rev' and/or 'fwd'")
    tol = _Tolerance(eps, atol, rtol)
    on_reals, values = real_view(f, values, diff)
    label = "f" if on_reals is f else "f (complex values as (real, imaginary) pairs on a last axis)"
    _check(on_reals, values, diff, order, tuple(modes), tol, np.random.default_rng(seed), label)
    return True


def real_view(f: Callable[..., Any], args: Sequence[Any], diff: Sequence[int]) -> tuple[Callable[..., Any], list[Any]]:
    """``f`` as a map between real arrays, and ``args`` to match: each complex input ``diff`` names becomes a real
    array with a last axis of 2 (real, imaginary part), and a complex output becomes one the same way. The library's
    own ``real``, ``imag`` and ``x + 1j * y`` build the pairs, so the derivatives of the view are chainrule's, and
    its finite differences move each complex entry along the real and the imaginary direction.

    >>> import numpy as np, chainrule as cr
    >>> g, args = real_view(cr.exp, [np.array([1j])], [0])
    >>> args[0].tolist(), np.round(g(args[0]), 3).tolist()
    ([[0.0, 1.0]], [[0.54, 0.841]])
    """
    from .ops.elementwise import imag, real
    from .ops.shape import stack

    values = list(args)
    complex_inputs = [i for i in diff if values[i].dtype.kind == "c"]
    for i in complex_inputs:
        values[i] = np.stack([values[i].real, values[i].imag], axis=-1)
    with engine.no_grad():  # the inputs as gradcheck passes them: tensors (f may call their methods)
        complex_output = _values_of(f(*[Tensor(v) if i in diff else v for i, v in enumerate(args)])).dtype.kind == "c"
    if not complex_inputs and not complex_output:
        return f, values

    def on_reals(*xs: Any) -> Any:
        full = list(xs)
        for i in complex_inputs:
            full[i] = full[i][..., 0] + 1j * full[i][..., 1]
        out = f(*full)
        return stack([real(out), imag(out)], axis=-1) if complex_output else out

    return on_reals, values


def _values_of(out: Any) -> Any:
    return values(out) if isinstance(out, Tensor) else np.asarray(out)


class _Tolerance:
    def __init__(self, eps: float, atol: float, rtol: float) -> None:
        self.eps, self.atol, self.rtol = eps, atol, rtol

    def worst(self, got: np.ndarray[Any, Any], expected: np.ndarray[Any, Any]) -> int | None:
        """The flat index of the entry that misses the tolerance by most, or None when all agree."""
        with np.errstate(invalid="ignore"):
            err = np.abs(got - expected) - (self.atol + self.rtol * np.abs(expected))
        # where either side is not finite (a difference quotient that overflowed), only exact agreement passes
        finite = np.isfinite(got) & np.isfinite(expected)
        same = (got == expected) | (np.isnan(got) & np.isnan(expected))
        err = np.where(finite, err, np.where(same, 0.0, np.inf))
        if err.size == 0 or err.max() <= 0:
            return None
        return int(np.argmax(err))


def _as_input(x: Any) -> Any:
    raw = x.data if isinstance(x, Tensor) else x
    if isinstance(raw, (float, np.floating)) or (isinstance(raw, np.ndarray) and raw.dtype.kind == "f"):
        return np.array(raw, dtype=np.float64)
    if isinstance(raw, (complex, np.complexfloating)) or (isinstance(raw, np.ndarray) and raw.dtype.kind == "c"):
        return np.array(raw, dtype=np.complex128)
    return raw


def _evaluate(fn: Callable[..., Any], values: list[Any], diff: list[int]) -> np.ndarray[Any, Any]:
    args = [Tensor(v) if i in diff else v for i, v in enumerate(values)]
    with engine.no_grad():
        out = fn(*args)
    return np.array(np.asarray(out.data if isinstance(out, Tensor) else out), dtype=np.float64)


def _shifted(values: list[Any], diff: list[int], direction: list[np.ndarray[Any, Any]], h: float) -> list[Any]:
    out = list(values)
    for i, d in zip(diff, direction):
        out[i] = values[i] + h * d
    return out


def _numeric_directional(fn: Callable[..., Any], values: list[Any], diff: list[int],
                         direction: list[np.ndarray[Any, Any]], eps: float) -> np.ndarray[Any, Any]:
    plus = _evaluate(fn, _shifted(values, diff, direction, eps), diff)
    minus = _evaluate(fn, _shifted(values, diff, direction, -eps), diff)
    return (plus - minus) / (2 * eps)


def _with(values: list[Any], diff: list[int], fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as a function of its differentiated inputs alone, the others fixed at ``values``."""

    def along(*xs: Any) -> Any:
        args = list(values)
        for i, x in zip(diff, xs):
            args[i] = x
        return fn(*args)

    return along


def _vjp(fn: Callable[..., Any], values: list[Any], diff: list[int], cotangent: Any) -> list[Any]:
    """Cotangents of ``fn``'s diff inputs (by ``cr.vjp``, so checks nest inside each other's transforms)."""
    return list(transforms.vjp(_with(values, diff, fn), *[values[i] for i in diff])[1](cotangent))


def _jvp(fn: Callable[..., Any], values: list[Any], diff: list[int], tangents: list[Any]) -> Any:
    return transforms.jvp(_with(values, diff, fn), [values[i] for i in diff], tangents)[1]


def _raw(x: Any) -> np.ndarray[Any, Any]:
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.float64)


def _locate(flat: int, shapes: list[tuple[int, ...]]) -> tuple[int, tuple[int, ...]]:
    """Which differentiated input, and which entry of it, a flat index over all of them points at."""
    for k, shape in enumerate(shapes):
        n = int(np.prod(shape, dtype=np.int64))
        if flat < n:
            return k, tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()
        flat -= n
    raise IndexError(flat)


def _fail(label: str, mode: str, what: str, got: float, expected: float, tol: _Tolerance) -> None:
    name = {"rev": "reverse mode (VJP)", "fwd": "forward mode (JVP)"}[mode]
    raise GradcheckError(
        f"gradcheck failed for {label}: {name}, {what}: expected {expected:.10g} (central differences, "
        f"eps={tol.eps:g}), got {got:.10g}; |difference| = {abs(got - expected):.3g} exceeds "
        f"atol + rtol*|expected| = {tol.atol + tol.rtol * abs(expected):.3g}"
    )


def _check(fn: Callable[..., Any], values: list[Any], diff: list[int], order: int, modes: tuple[str, ...],
           tol: _Tolerance, rng: np.random.Generator, label: str) -> None:
    y = _evaluate(fn, values, diff)
    shapes = [np.shape(values[i]) for i in diff]
    n_in = int(sum(np.prod(s, dtype=np.int64) for s in shapes))
    if n_in * max(y.size, 1) <= _FULL_JACOBIAN_MAX:
        _check_full_jacobian(fn, values, diff, y, shapes, n_in, modes, tol, label)
    else:
        _check_directions(fn, values, diff, y, modes, tol, rng, label)
    if order <= 1:
        return
    for mode in modes:
        projected, name = _projected_derivative(fn, values, diff, y, mode, rng)
        _check(projected, values, diff, order - 1, modes, tol, rng, f"{name} of {label}")


def _check_full_jacobian(fn: Callable[..., Any], values: list[Any], diff: list[int], y: np.ndarray[Any, Any],
                         shapes: list[tuple[int, ...]], n_in: int, modes: tuple[str, ...], tol: _Tolerance,
                         label: str) -> None:
    numeric = np.empty((y.size, n_in))
    columns = []
    for j in range(n_in):
        k, entry = _locate(j, shapes)
        direction = [np.zeros(s) for s in shapes]
        direction[k][entry] = 1.0
        columns.append(direction)
        numeric[:, j] = _numeric_directional(fn, values, diff, direction, tol.eps).ravel()
    for mode in modes:
        got: np.ndarray[Any, Any]
        if mode == "rev":
            got = np.empty_like(numeric)
            for r in range(y.size):
                seed = np.zeros(y.shape)
                seed.flat[r] = 1.0
                got[r] = np.concatenate([_raw(c).ravel() for c in _vjp(fn, values, diff, seed)])
        else:
            got = np.stack([_raw(_jvp(fn, values, diff, d)).ravel() for d in columns], axis=1)
            got = got.reshape(numeric.shape)
        bad = tol.worst(got, numeric)
        if bad is not None:
            r, j = (int(i) for i in np.unravel_index(bad, numeric.shape))
            k, entry = _locate(j, shapes)
            out_entry = tuple(int(i) for i in np.unravel_index(r, y.shape)) if y.shape else ()
            _fail(label, mode, f"d output{list(out_entry)} / d input {diff[k]}{list(entry)}",
                  float(got[r, j]), float(numeric[r, j]), tol)


def _check_directions(fn: Callable[..., Any], values: list[Any], diff: list[int], y: np.ndarray[Any, Any],
                      modes: tuple[str, ...], tol: _Tolerance, rng: np.random.Generator, label: str) -> None:
    for trial in range(3):
        u = [rng.standard_normal(np.shape(values[i])) for i in diff]
        v = rng.standard_normal(y.shape)
        numeric = _numeric_directional(fn, values, diff, u, tol.eps)
        for mode in modes:
            if mode == "rev":
                cot = _vjp(fn, values, diff, v)
                got = sum(float(np.sum(_raw(c) * ui)) for c, ui in zip(cot, u))
                expected = float(np.sum(v * numeric))
                if tol.worst(np.array(got), np.array(expected)) is not None:
                    _fail(label, mode, f"<vjp(v), u> along random direction {trial}", got, expected, tol)
            else:
                t = _raw(_jvp(fn, values, diff, u)).reshape(numeric.shape)
                bad = tol.worst(t, numeric)
                if bad is not None:
                    _fail(label, mode, f"(J u)[{bad}] along random direction {trial}", float(t.flat[bad]),
                          float(numeric.flat[bad]), tol)


def _projected_derivative(fn: Callable[..., Any], values: list[Any], diff: list[int], y: np.ndarray[Any, Any],
                          mode: str, rng: np.random.Generator) -> tuple[Callable[..., Any], str]:
    """A scalar function of the same inputs: a fixed random projection of fn's first derivative."""
    v = rng.standard_normal(y.shape)
    w = [rng.standard_normal(np.shape(values[i])) for i in diff]
    if mode == "rev":
        def projected(*args: Any) -> Any:
            cot = _vjp(fn, list(args), diff, v)
            return _total([c * wk for c, wk in zip(cot, w)])

        return projected, "<vjp(v), w>"

    def projected_fwd(*args: Any) -> Any:
        return _total([_jvp(fn, list(args), diff, w) * v])

    return projected_fwd, "<jvp(w), v>"


def _total(terms: list[Any]) -> Any:
    total = terms[0].sum()
    for term in terms[1:]:
        total = total + term.sum()
    return total


# ---- one primitive on two devices -------------------------------------------------------------------------------
def _derivatives_on(prim: Any, args: list[Any], kwargs: dict[str, Any],
                    floats: list[int]) -> list[np.ndarray[Any, Any]]:
    """Reverse, forward and reverse-over-forward derivatives of ``prim`` at ``args``, along fixed random directions
    (drawn on the host, moved to the arrays' device), as host arrays."""
    from .ops.elementwise import real

    rng = np.random.default_rng(0)

    def f(*xs: Any) -> Any:
        full = list(args)
        for i, x in zip(floats, xs):
            full[i] = x
        return prim(*full, **kwargs)

    primals = [args[i] for i in floats]
    out = f(*primals)
    v = backend.to_device(rng.standard_normal(np.shape(backend.to_host(out))), backend.device_of(out))
    us = tuple(backend.to_device(rng.standard_normal(p.shape), backend.device_of(p)) for p in primals)
    results = [backend.to_host(c) for c in transforms.vjp(f, *primals)[1](v)]
    results.append(backend.to_host(transforms.jvp(f, tuple(primals), us)[1]))
    # second order: the gradient of <v, jvp(u)> with respect to the primals
    second = transforms.grad(lambda *xs: real((transforms.jvp(f, xs, us)[1] * v).sum()),
                             argnums=tuple(range(len(primals))))
    results.extend(backend.to_host(values(g)) for g in second(*primals))
    return results


def check_device(prim: Any, args: Sequence[Any], kwargs: dict[str, Any], device: str, rtol: float = 1e-10,
                 atol: float = 1e-12) -> bool:
    """Run the primitive ``prim`` on ``device`` and on the host with the same host-array arguments, and compare the
    value (and its dtype), a VJP, a JVP and a second-order term. True, or raise GradcheckError naming the part.

    >>> import numpy as np, chainrule as cr
    >>> from chainrule.testing import check_device
    >>> check_device(cr.tanh, (np.array([0.5, -1.0]),), {}, "cpu")
    True
    """
    moved = [backend.to_device(a, device) if isinstance(a, np.ndarray) else a for a in args]
    expected = np.asarray(prim(*args, **kwargs))
    out = values(prim(*[Tensor._from_node(a, None) if type(a) in backend.array_types else a for a in moved],
                      **kwargs))
    wanted = backend.parse_device(kwargs.get("device", device))  # where it ran, unless it moves its input
    if backend.parse_device(backend.device_of(out)) != wanted:
        raise GradcheckError(f"{prim.name} on {device}: the result is on {backend.device_of(out)}")
    got = backend.to_host(out)
    if got.dtype != expected.dtype or not np.allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True):
        raise GradcheckError(f"{prim.name} on {device}: the value differs from the host's ({got!r} vs {expected!r})")
    floats = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind in "fc"]
    if not getattr(prim, "differentiable", True) or not floats:
        return True
    on_host = _derivatives_on(prim, list(args), kwargs, floats)
    on_device = _derivatives_on(prim, moved, kwargs, floats)
    names = ["VJP of input " + str(i) for i in floats] + ["JVP"] + ["second order, input " + str(i) for i in floats]
    for name, a, b in zip(names, on_device, on_host):
        if not np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            raise GradcheckError(f"{prim.name} on {device}: the {name} differs from the host's (largest gap "
                                 f"{float(np.max(np.abs(a - b))):.3g})")
    return True
