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
    """The inputs to differentiate: floating point and complex."""
    return [i for i, a in enumerate(sample.args) if isinstance(a, np.ndarray) and a.dtype.kind in "fc"]


def _single(dtype: np.dtype) -> np.dtype:
    """float64 -> float32, complex128 -> complex64."""
    return np.dtype(np.complex64 if dtype.kind == "c" else np.float32)


def _direction(rng: np.random.Generator, like: Any) -> np.ndarray:
    """A random direction for ``like``: complex for complex values."""
    u = rng.standard_normal(np.shape(like))
    return u + 1j * rng.standard_normal(np.shape(like)) if np.asarray(like).dtype.kind == "c" else u


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
    args = [cr.tensor(a.astype(_single(a.dtype)), requires_grad=True) if i in floats else a
            for i, a in enumerate(sample.args)]
    out = prim(*args, **sample.kwargs)
    assert out.dtype == np.dtype(sample.kwargs.get("dtype", _single(np.asarray(prim(*sample.args,
                                                                                    **sample.kwargs)).dtype)))
    out.backward(np.ones(out.shape, dtype=out.dtype))
    for i in floats:
        assert args[i].grad is not None and args[i].grad.dtype == args[i].dtype, f"input {i}"


@pytest.mark.parametrize(("prim", "index"), DIFFERENTIABLE)
def test_vjp_and_jvp_are_adjoint(prim: Primitive, index: int) -> None:
    """<u, vjp(v)> = <jvp(u), v>: each primitive's two rules describe the same derivative (on complex values with
    the pairing <a, b> = Re(sum(a * b)), under which a VJP is the JVP's transpose)."""
    sample = _samples(prim)[index]
    floats = _float_inputs(sample)
    rng = np.random.default_rng(index)

    def f(*xs: Any) -> Any:
        args = list(sample.args)
        for i, x in zip(floats, xs):
            args[i] = x
        return prim(*args, **sample.kwargs)

    primals = [sample.args[i] for i in floats]
    us = [_direction(rng, p) for p in primals]
    out, ju = cr.jvp(f, primals, us)
    v = _direction(rng, out)
    _, vjp_fn = cr.vjp(f, *primals)
    cotangents = vjp_fn(v)
    lhs = sum(float(np.real(np.sum(u * np.asarray(c)))) for u, c in zip(us, cotangents))
    assert np.isclose(lhs, float(np.real(np.sum(np.asarray(ju) * v))), rtol=1e-9, atol=1e-12)


# ---- the classes behind issue 8: arguments as lists, inputs by keyword, options refused by name ----------------------
def _as_rows(x: np.ndarray) -> list[Any]:
    """x as a Python list of tensors (its rows), which NumPy alone would freeze into a constant."""
    return [cr.tensor(row) for row in x]


def _loss(out: Any, weights: np.ndarray) -> Any:
    return cr.real((out * weights).sum())  # a real loss, complex outputs included


@pytest.mark.parametrize(("prim", "index"), DIFFERENTIABLE)
def test_a_list_of_tensors_keeps_its_gradient(prim: Primitive, index: int) -> None:
    """Any array argument may be a (nested) list holding tensors: it is stacked, recorded, never detached."""
    sample = _samples(prim)[index]
    listable = [i for i in _float_inputs(sample) if sample.args[i].ndim >= 1 and prim.vjps[min(i, len(prim.vjps) - 1)]]
    if not listable:
        return  # only 0-d inputs: nothing to pass as a list
    i = listable[0]
    x = sample.args[i]
    weights = np.random.default_rng(index).standard_normal(np.shape(prim(*sample.args, **sample.kwargs)))

    def with_input(value: Any) -> Any:
        args = list(sample.args)
        args[i] = value
        return prim(*args, **sample.kwargs)

    expected = cr.grad(lambda v: _loss(with_input(v), weights))(x)
    rows = [cr.tensor(row, requires_grad=True) for row in x]
    _loss(with_input(rows), weights).backward()
    # .grad is PyTorch's, the conjugate of cr.grad's on complex values
    got = np.stack([np.conj(r.grad.numpy()) if r.grad is not None else np.zeros(r.shape) for r in rows])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # inside a transform, in both modes, the same
    np.testing.assert_allclose(cr.grad(lambda v: _loss(with_input(list(v)), weights))(x), expected, atol=1e-12)
    tangent = np.ones_like(x)
    _, t_list = cr.jvp(lambda v: with_input(list(v)), (x,), (tangent,))
    _, t_array = cr.jvp(with_input, (x,), (tangent,))
    np.testing.assert_allclose(t_list, t_array, atol=1e-12)


KEYWORD_CASES = [c for c in DIFFERENTIABLE if len(c.values[0].inputs) >= 2]


@pytest.mark.parametrize(("prim", "index"), KEYWORD_CASES)
def test_inputs_by_keyword_reach_the_rules(prim: Primitive, index: int) -> None:
    """What the forward takes by keyword, the rules take too: the inputs are bound to their places first."""
    sample = _samples(prim)[index]
    n = len(sample.args)
    names = [name for name, _ in prim.inputs]
    by_keyword = dict(zip(names[1:n], sample.args[1:]))

    def f(*xs: Any) -> Any:
        return prim(xs[0], **dict(zip(names[1:n], xs[1:])), **sample.kwargs)

    np.testing.assert_array_equal(np.asarray(prim(sample.args[0], **by_keyword, **sample.kwargs)),
                                  np.asarray(prim(*sample.args, **sample.kwargs)))
    assert cr.gradcheck(f, *sample.args, order=1, modes=("rev", "fwd"))


OPTION_CASES = [pytest.param(p, id=p.name) for p in PRIMITIVES if p.options is not None]


@pytest.mark.parametrize("prim", OPTION_CASES)
def test_an_unknown_keyword_is_refused_by_the_primitive_name(prim: Primitive) -> None:
    sample = _samples(prim)[0]
    with pytest.raises(TypeError, match=rf"^{prim.name}\(\) got an unexpected keyword argument 'no_such_option'"):
        prim(*sample.args, no_such_option=1, **sample.kwargs)


def test_an_option_being_differentiated_is_refused() -> None:
    slope = cr.tensor(0.2, requires_grad=True)
    with pytest.raises(TypeError, match="leaky_relu: the option negative_slope= cannot be differentiated"):
        cr.leaky_relu(cr.tensor([-1.0, 1.0]), negative_slope=slope)


@pytest.mark.parametrize("fn", [
    cr.sum, cr.max, cr.prod, lambda v: cr.sin(v).sum(), lambda v: cr.dot(v, [1.0, 1.0]), cr.linalg.norm, cr.mean,
    cr.logsumexp, lambda v: cr.concatenate([v, v]).sum(), lambda v: cr.stack([v]).sum(), cr.var,
    lambda v: cr.outer(v, v).sum(), lambda v: cr.vdot(v, v), lambda v: cr.where([True, False], v, 0.0).sum(),
], ids=["sum", "max", "prod", "sin", "dot", "norm", "mean", "logsumexp", "concatenate", "stack", "var", "outer",
        "vdot", "where"])
def test_issue_samples_of_list_arguments(fn: Any) -> None:
    """The reported cases, ``cr.sum([x, x + 2])`` and its kin, against the same functions on a stacked array."""
    x = 0.7
    expected = cr.grad(lambda v: fn(cr.stack([v, v + 2])))(x)
    got = cr.grad(lambda v: fn([v, v + 2]))(x)
    assert float(got) == pytest.approx(float(expected), abs=1e-12)
    assert float(expected) != 0.0 or fn is cr.var


PUBLIC_ONE_ARRAY = ["gelu", "silu", "selu", "log_sigmoid", "softplus", "sigmoid", "relu", "exp", "mean", "var", "std",
                    "cumsum", "flatten", "ravel", "squeeze", "transpose", "trace", "diagonal"]


@pytest.mark.parametrize("name", PUBLIC_ONE_ARRAY)
def test_public_functions_take_nested_lists_of_tensors(name: str) -> None:
    """Composites as well as primitives: a nested list of tensors being differentiated keeps its gradient."""
    fn = getattr(cr, name)

    def rows(v: Any) -> list[list[Any]]:
        return [[v, v + 2.0], [v * 3.0, v - 1.0]]

    expected = cr.grad(lambda v: cr.sum(fn(cr.stack([cr.stack(r) for r in rows(v)]))))(0.7)
    got = cr.grad(lambda v: cr.sum(fn(rows(v))))(0.7)
    assert float(got) == pytest.approx(float(expected), abs=1e-12)


def test_stop_gradient_of_a_structure_stops_every_leaf() -> None:
    assert float(cr.grad(lambda v: cr.sum(cr.stack(cr.stop_gradient([v, v * 2]))) + v)(0.7)) == 1.0
    out = cr.stop_gradient({"a": cr.tensor(1.0, requires_grad=True), "b": (2.0,)})
    assert not out["a"].requires_grad and out["b"] == (2.0,)
    assert float(cr.grad(lambda v: cr.linalg.matrix_transpose([[v, 0.0], [1.0, v]])[0, 1])(0.7)) == 0.0
