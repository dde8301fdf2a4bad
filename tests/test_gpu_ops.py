"""The generated op tests once more on the "cuda" device, served by a CuPy stand-in (tests/stand_in_gpu.py): an array
type that, like CuPy's, refuses implicit conversion to NumPy and mixing with NumPy arrays. Every primitive and
sample: the forward, a VJP and a JVP, and a second-order term, each against the same computation on the CPU (which
test_ops.py checks against finite differences). Every place that would break on a GPU breaks here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from stand_in_gpu import provider
from test_ops import CASES, _float_inputs, _samples

import chainrule as cr
from chainrule import backend
from chainrule.primitive import Primitive


@pytest.fixture
def gpu() -> Iterator[None]:
    with backend.use_provider(provider):
        yield


def _on(device: str, args: tuple[Any, ...]) -> list[Any]:
    return [backend.to_device(a, device) if isinstance(a, np.ndarray) else a for a in args]


def _host(x: Any) -> np.ndarray:
    return backend.to_host(cr.tensor(x).data if not isinstance(x, cr.Tensor) else x.data)


def _derivatives(prim: Primitive, args: list[Any], kwargs: dict[str, Any], floats: list[int],
                 device: str) -> list[np.ndarray]:
    """Reverse, forward and reverse-over-forward derivatives of ``prim`` at ``args``, with fixed random directions
    (made on the host, moved to ``device``), as host arrays."""
    rng = np.random.default_rng(0)

    def f(*xs: Any) -> Any:
        full = list(args)
        for i, x in zip(floats, xs):
            full[i] = x
        return prim(*full, **kwargs)

    primals = [args[i] for i in floats]
    out = f(*primals)
    v = backend.to_device(rng.standard_normal(np.shape(backend.to_host(out))), backend.device_of(out))
    us = [backend.to_device(rng.standard_normal(p.shape), device) for p in primals]
    _, vjp_fn = cr.vjp(f, *primals)
    results = [backend.to_host(c) for c in vjp_fn(v)]
    _, t = cr.jvp(f, tuple(primals), tuple(us))
    results.append(backend.to_host(t))
    # second order: the gradient of <v, jvp(u)> with respect to the primals
    second = cr.grad(lambda *xs: (cr.jvp(f, xs, tuple(us))[1] * v).sum(), argnums=tuple(range(len(primals))))
    results.extend(backend.to_host(cr.tensor(g).data) for g in second(*primals))
    return results


@pytest.mark.parametrize(("prim", "index"), CASES)
def test_every_primitive_on_the_gpu_matches_the_cpu(prim: Primitive, index: int, gpu: None) -> None:
    sample = _samples(prim)[index]
    expected = prim(*sample.args, **sample.kwargs)
    got = prim(*[cr.tensor(a, device="cuda") if isinstance(a, np.ndarray) else a for a in _on("cpu", sample.args)],
               **sample.kwargs)
    assert got.device == ("cpu" if sample.kwargs.get("device") == "cpu" else "cuda:0")  # to_device goes back
    np.testing.assert_allclose(_host(got), np.asarray(expected), rtol=1e-12, atol=1e-12)
    assert _host(got).dtype == np.asarray(expected).dtype
    floats = _float_inputs(sample)
    if not prim.differentiable or not floats:
        return
    on_cpu = _derivatives(prim, list(sample.args), sample.kwargs, floats, "cpu")
    on_gpu = _derivatives(prim, _on("cuda", sample.args), sample.kwargs, floats, "cuda")
    for k, (a, b) in enumerate(zip(on_gpu, on_cpu)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"derivative {k}")
