"""Tests generated from the primitive table: every entry, every sample, forward against NumPy, derivatives against
finite differences in float64 (reverse and forward, to order 2). Adding an entry adds its tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.primitive import REGISTRY, Primitive, Sample

PRIMITIVES = sorted(REGISTRY.values(), key=lambda p: p.name)


def _samples(prim: Primitive) -> list[Sample]:
    assert prim.samples is not None, f"primitive '{prim.name}' has no sample inputs"
    samples = prim.samples(np.random.default_rng(0))
    assert samples, f"primitive '{prim.name}' has no sample inputs"
    # arithmetic on 0-d arrays yields NumPy scalars: give every sample ndarray arguments
    return [Sample(tuple(np.asarray(a) if isinstance(a, np.generic) else a for a in s.args), s.kwargs)
            for s in samples]


CASES = [pytest.param(p, i, id=f"{p.name}-{i}") for p in PRIMITIVES for i in range(len(_samples(p)))]
DIFFERENTIABLE = [c for c in CASES if c.values[0].differentiable]


def _float_inputs(sample: Sample) -> list[int]:
    return [i for i, a in enumerate(sample.args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]


@pytest.mark.parametrize("prim", PRIMITIVES, ids=lambda p: p.name)
def test_every_primitive_has_rules_samples_and_reference(prim: Primitive) -> None:
    assert prim.reference is not None, f"primitive '{prim.name}' has no NumPy reference for its forward"
    if prim.differentiable:
        assert prim.vjps and prim.jvps, f"primitive '{prim.name}' lacks VJP or JVP rules"
        assert any(r is not None for r in prim.vjps), f"primitive '{prim.name}' has no VJP for any input"
        assert [r is None for r in prim.vjps] == [r is None for r in prim.jvps]
    assert len(_samples(prim)) >= 3, f"primitive '{prim.name}' needs at least three sample inputs"


@pytest.mark.parametrize(("prim", "index"), CASES)
def test_forward_matches_numpy(prim: Primitive, index: int) -> None:
    sample = _samples(prim)[index]
    got = prim(*sample.args, **sample.kwargs)
    expected = prim.reference(*sample.args, **sample.kwargs)  # type: ignore[misc]
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-12, atol=1e-12)
    # through Tensors too, with the same values and dtype
    wrapped = prim(*[cr.tensor(a) if isinstance(a, np.ndarray) else a for a in sample.args], **sample.kwargs)
    assert isinstance(wrapped, cr.Tensor)
    np.testing.assert_array_equal(wrapped.data, np.asarray(got))
    assert wrapped.dtype == np.asarray(got).dtype


@pytest.mark.parametrize(("prim", "index"), DIFFERENTIABLE)
def test_derivatives_match_finite_differences(prim: Primitive, index: int) -> None:
    sample = _samples(prim)[index]
    floats = _float_inputs(sample)
    if not floats:
        pytest.fail(f"sample {index} of '{prim.name}' has no floating input to differentiate")

    def f(*args: Any) -> Any:
        return prim(*args, **sample.kwargs)

    assert cr.gradcheck(f, *sample.args, order=2, modes=("rev", "fwd"))


@pytest.mark.parametrize(("prim", "index"), DIFFERENTIABLE)
def test_float32_in_float32_out(prim: Primitive, index: int) -> None:
    sample = _samples(prim)[index]
    floats = _float_inputs(sample)
    args = [cr.tensor(a.astype(np.float32), requires_grad=True) if i in floats else a
            for i, a in enumerate(sample.args)]
    out = prim(*args, **sample.kwargs)
    assert out.dtype == np.dtype(sample.kwargs.get("dtype", np.float32))
    out.backward(np.ones(out.shape, dtype=out.dtype))
    for i in floats:
        assert args[i].grad is not None and args[i].grad.dtype == np.float32, f"input {i}"


@pytest.mark.parametrize(("prim", "index"), DIFFERENTIABLE)
def test_vjp_and_jvp_are_adjoint(prim: Primitive, index: int) -> None:
    """<u, vjp(v)> = <jvp(u), v>: each primitive's two rules describe the same derivative."""
    sample = _samples(prim)[index]
    floats = _float_inputs(sample)
    rng = np.random.default_rng(index)

    def f(*xs: Any) -> Any:
        args = list(sample.args)
        for i, x in zip(floats, xs):
            args[i] = x
        return prim(*args, **sample.kwargs)

    primals = [sample.args[i] for i in floats]
    us = [rng.standard_normal(np.shape(p)) for p in primals]
    out, ju = cr.jvp(f, primals, us)
    v = rng.standard_normal(np.shape(out))
    _, vjp_fn = cr.vjp(f, *primals)
    cotangents = vjp_fn(v)
    lhs = sum(float(np.sum(u * np.asarray(c))) for u, c in zip(us, cotangents))
    assert np.isclose(lhs, float(np.sum(np.asarray(ju) * v)), rtol=1e-9, atol=1e-12)
