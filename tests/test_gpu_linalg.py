"""``cr.linalg`` as users call it, and gradient clipping, on the "cuda" device (the CuPy stand-in,
tests/stand_in_gpu.py) against the host: the composites (norms, traces, diagonals, products, the decompositions'
parts) through ``testing.check_device`` (value and dtype, VJP, JVP, second order), which test_gpu_ops.py runs on
the primitives only. The stand-in is made as strict as CuPy where CuPy is stricter than NumPy: its solve does not
broadcast batch axes, its pinv takes no ``rcond=None``."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend
from chainrule import linalg as LA
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm
from chainrule.ops import decompositions
from chainrule.testing import check_device
from stand_in_gpu import DeviceArray, Named, provider

RNG = np.random.default_rng(7)


def _cupy_solve(solve: Callable[..., Any]) -> Callable[..., Any]:
    def run(a: Any, b: Any) -> Any:
        # CuPy's rule; a b of one axis less it would read as a stack of vectors, which NumPy 2 does not
        if a.ndim != b.ndim or a.shape[:-1] != b.shape[:-1]:
            raise ValueError("a must have (..., M, M) shape and b must have (..., M) or (..., M, K)")
        return solve(a, b)
    return run


def _cupy_pinv(pinv: Callable[..., Any]) -> Callable[..., Any]:
    def run(a: Any, rcond: float = 1e-15) -> Any:
        if rcond is None:
            raise TypeError("unsupported operand type(s) for *: 'NoneType' and 'ndarray'")  # as rcond * amax(s)
        return pinv(a, rcond=rcond)
    return run


@pytest.fixture
def gpu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    linalg = provider.xp.linalg
    monkeypatch.setattr(linalg, "solve", _cupy_solve(linalg.solve))
    monkeypatch.setattr(linalg, "pinv", _cupy_pinv(linalg.pinv))
    dispatch = DeviceArray.__array_function__

    def as_cupy(self: DeviceArray, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """``np.linalg.solve(device_array, ...)`` runs the namespace's solve, as CuPy runs its own."""
        if func.__module__ == "numpy.linalg" and func.__name__ in ("solve", "pinv"):
            return getattr(linalg, func.__name__)(*args, **kwargs)
        return dispatch(self, func, types, args, kwargs)

    monkeypatch.setattr(DeviceArray, "__array_function__", as_cupy)
    with backend.use_provider(provider):
        yield


def rand(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.uniform(-1.0, 1.0, shape)


def square(*shape: int) -> np.ndarray[Any, Any]:
    return 0.4 * rand(*shape) + 1.5 * np.eye(shape[-1])


def symmetric(n: int) -> np.ndarray[Any, Any]:
    q = np.linalg.qr(RNG.standard_normal((n, n)))[0]
    return (q * (np.arange(n) - 0.8)) @ q.T


def singular_values_apart(n: int, m: int) -> np.ndarray[Any, Any]:
    k = min(n, m)
    u, v = np.linalg.qr(RNG.standard_normal((n, k)))[0], np.linalg.qr(RNG.standard_normal((m, k)))[0]
    return (u * (np.arange(k, 0, -1) + 0.1)) @ v.T


def positive_definite(n: int) -> np.ndarray[Any, Any]:
    b = rand(n, n)
    return b @ b.T + n * np.eye(n)


VECTOR_ORDS = (None, 2, 1, math.inf, -math.inf, 3, 0.5)
MATRIX_ORDS = (None, "fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf)
CASES: list[tuple[str, Callable[..., Any], tuple[np.ndarray[Any, Any], ...]]] = [
    *((f"norm ord={o}", lambda x, o=o: LA.norm(x, ord=o), (rand(5),)) for o in VECTOR_ORDS),
    *((f"norm ord={o} axis=(2, 0) keepdims", lambda x, o=o: LA.norm(x, ord=o, axis=(2, 0), keepdims=True),
       (rand(3, 2, 4),)) for o in MATRIX_ORDS),
    ("norm of a 3-d array", LA.norm, (rand(2, 3, 2),)),
    ("norm axis=1", lambda x: LA.norm(x, ord=3, axis=1), (rand(2, 3),)),
    ("vector_norm", lambda x: LA.vector_norm(x, keepdims=True), (rand(2, 3),)),
    ("vector_norm axis=(0, 2) ord=1", lambda x: LA.vector_norm(x, axis=(0, 2), ord=1), (rand(2, 3, 2),)),
    ("matrix_norm", LA.matrix_norm, (rand(2, 3, 2),)),
    ("matrix_norm nuc", lambda x: LA.matrix_norm(x, ord="nuc", keepdims=True), (rand(2, 3, 2),)),
    ("trace offset=1", lambda x: cr.trace(x, offset=1), (rand(3, 4),)),
    ("linalg.trace", LA.trace, (rand(2, 3, 3),)),
    ("diagonal offset=-1", lambda x: cr.diagonal(x, offset=-1), (rand(3, 3),)),
    ("linalg.diagonal", LA.diagonal, (rand(2, 3, 3),)),
    ("matrix_transpose", LA.matrix_transpose, (rand(2, 3, 4),)),
    ("tensordot", lambda a, b: cr.tensordot(a, b, axes=([0, 2], [1, 0])), (rand(2, 3, 4), rand(4, 2, 2))),
    ("dot", cr.dot, (rand(2, 3, 4), rand(2, 4, 2))),
    ("inner", cr.inner, (rand(2, 3), rand(4, 3))),
    ("outer", cr.outer, (rand(3), rand(2, 2))),
    ("vdot", cr.vdot, (rand(2, 3), rand(2, 3))),
    ("einsum with '...'", lambda a, b: cr.einsum("...ij,jk->...ik", a, b), (rand(2, 2, 3), rand(3, 2))),
    ("einsum implicit", lambda a, b: cr.einsum("ij,jk", a, b), (rand(2, 3), rand(3, 2))),
    ("einsum of diagonals", lambda a: cr.einsum("bii->b", a), (rand(2, 3, 3),)),
    ("inv", LA.inv, (square(2, 3, 3),)),
    ("det", LA.det, (square(3, 3),)),
    ("slogdet", lambda a: LA.slogdet(a)[1], (square(2, 3, 3),)),
    ("solve, b a vector", LA.solve, (square(3, 3), rand(3))),
    ("solve, a's batch broadcast", LA.solve, (square(2, 2), rand(3, 2, 2))),
    ("solve, b's batch broadcast", LA.solve, (square(3, 2, 2), rand(2, 1))),
    ("solve, both broadcast", LA.solve, (square(1, 2, 2), rand(3, 2, 1))),
    ("cholesky upper", lambda a: LA.cholesky(a, upper=True), (positive_definite(3),)),
    ("qr q", lambda a: LA.qr(a)[0], (square(3, 3),)),
    ("qr r", lambda a: LA.qr(a, mode="r"), (square(3, 3)[:, :2],)),
    ("qr of a wide matrix", lambda a: LA.qr(a)[1], (square(3, 3)[:2],)),
    ("eigh values", lambda a: LA.eigh(a)[0], (symmetric(3),)),
    ("eigh vectors", lambda a: LA.eigh(a, UPLO="U")[1], (symmetric(3),)),
    ("eigvalsh", LA.eigvalsh, (symmetric(3),)),
    *((f"svd part {i}", lambda a, i=i: LA.svd(a)[i], (singular_values_apart(3, 2),)) for i in range(3)),
    ("svdvals", LA.svdvals, (singular_values_apart(2, 3),)),
    ("pinv", LA.pinv, (singular_values_apart(3, 2),)),
    ("pinv rcond", lambda a: LA.pinv(a, rcond=1e-10), (singular_values_apart(2, 3),)),
    ("einsum sublists", lambda a, b: cr.einsum(a, [Ellipsis, 0, 1], b, [1, 2], [Ellipsis, 0, 2]),
     (rand(2, 2, 3), rand(3, 2))),
    ("lstsq x", lambda a, b: LA.lstsq(a, b)[0], (singular_values_apart(4, 2), rand(4, 3))),
    ("lstsq residuals", lambda a, b: LA.lstsq(a, b)[1], (singular_values_apart(4, 2), rand(4))),
    ("lstsq of a wide matrix", lambda a, b: LA.lstsq(a, b)[0], (singular_values_apart(2, 3), rand(2))),
    *((f"matrix_power {n}", lambda a, n=n: LA.matrix_power(a, n), (square(2, 3, 3),)) for n in (-2, 0, 5)),
    ("multi_dot", lambda a, b, c, d: LA.multi_dot([a, b, c, d]), (rand(3), rand(3, 4), rand(4, 2), rand(2, 3))),
    *((f"cond p={p}", lambda a, p=p: LA.cond(a, p), (square(2, 3, 3),)) for p in (None, -2, 1, "fro")),
    ("tensorsolve", LA.tensorsolve, (square(6, 6).reshape(2, 3, 6), rand(2, 3))),
    ("tensorinv", lambda a: LA.tensorinv(a, ind=1), (square(4, 4).reshape(4, 2, 2),)),
]


@pytest.mark.parametrize(("name", "fn", "args"), CASES, ids=[c[0] for c in CASES])
def test_linalg_on_the_gpu_matches_the_cpu(name: str, fn: Callable[..., Any], args: tuple[Any, ...],
                                           gpu: None) -> None:
    assert check_device(Named(name, fn), args, {}, "cuda")


def test_ranks_and_singular_condition_numbers_on_the_gpu(gpu: None) -> None:
    a = np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 4.0]])])
    x = cr.tensor(a, device="cuda")
    np.testing.assert_array_equal(backend.to_host(LA.matrix_rank(x)), [2, 1])
    got = LA.cond(x, 1)
    assert got.device == "cuda:0"
    np.testing.assert_array_equal(backend.to_host(got.data), np.linalg.cond(a, 1))
    assert LA.lstsq(x[1], cr.tensor([1.0, 2.0], device="cuda"))[2] == 1


def test_the_count_of_non_zeros_on_the_gpu(gpu: None) -> None:
    x = np.array([[0.0, 2.0], [-1.0, 0.0]])
    got = LA.norm(cr.tensor(x, device="cuda"), ord=0, axis=1)
    assert got.device == "cuda:0"
    np.testing.assert_array_equal(backend.to_host(got.data), [1.0, 1.0])


def test_a_decomposition_runs_once_per_input_on_the_gpu(gpu: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts of svd share one SVD on a device too (the input compared there), and an input changed in place is
    decomposed afresh."""
    calls: list[str] = []
    memo = decompositions._svd_memo
    run = memo.fn
    monkeypatch.setattr(memo, "fn", lambda a: calls.append(backend.device_of(a)) or run(a))
    a = singular_values_apart(3, 3)
    x = cr.tensor(a, device="cuda", requires_grad=True)
    u, s, vh = LA.svd(x)
    (u.sum() + s.sum() + vh.sum()).backward()
    assert calls == ["cuda:0"]
    with cr.no_grad():
        x *= 2.0
    np.testing.assert_allclose(backend.to_host(LA.svd(x)[1].data), 2 * np.linalg.svd(a, compute_uv=False),
                               rtol=1e-12)
    assert calls == ["cuda:0", "cuda:0"]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_gradient_clipping_on_the_gpu_matches_the_cpu(norm_type: float, gpu: None) -> None:
    grads = [rand(3, 4).astype(np.float32), rand(5).astype(np.float32)]
    results = {}
    for device in ("cpu", "cuda"):
        params = [cr.tensor(np.zeros_like(g), device=device, requires_grad=True) for g in grads]
        for p, g in zip(params, grads):
            p.grad = cr.tensor(g, device=device)
        total = clip_grad_norm_(params, 0.5, norm_type=norm_type)
        assert total.device == params[0].device and all(p.grad.device == total.device for p in params)
        results[device] = [backend.to_host(total.data), *(backend.to_host(p.grad.data) for p in params)]
    for got, want in zip(results["cuda"], results["cpu"]):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_gradient_norms_and_values_on_the_gpu(gpu: None) -> None:
    bad = cr.tensor([1.0, math.inf], device="cuda")
    with pytest.raises(RuntimeError, match="non-finite"):
        get_total_norm([bad], error_if_nonfinite=True)
    w = cr.tensor([1.0, -2.0, 3.0], device="cuda", requires_grad=True)
    w.grad = cr.tensor([0.5, -4.0, 9.0], device="cuda")
    clip_grad_value_([w], 1.0)
    assert w.grad.device == "cuda:0"
    np.testing.assert_array_equal(backend.to_host(w.grad.data), [0.5, -1.0, 1.0])
