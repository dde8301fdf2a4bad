"""vmap: every primitive in the table batched against a Python loop over the examples, its rules under vmap
(per-example gradients and Jacobians), in_axes/out_axes as pytrees, nesting with every transform, and torch.func.

Each sample of each registered primitive is drawn three times (three examples of the same shapes); the array
inputs are stacked into a batch, and vmap of the primitive is compared with the primitive run on each example.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.primitive import REGISTRY, Primitive, Sample

PRIMITIVES = sorted(REGISTRY.values(), key=lambda p: p.name)
B = 3


def _draws(prim: Primitive) -> list[list[Sample]]:
    """Per sample, its three draws (from three seeds)."""
    assert prim.samples is not None
    per_seed = [prim.samples(np.random.default_rng(seed)) for seed in range(B)]
    return [[per_seed[b][i] for b in range(B)] for i in range(len(per_seed[0]))]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.shape(a) == np.shape(b) and np.array_equal(a, b))
    if isinstance(a, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _batchable(draws: list[Sample]) -> tuple[list[int], list[Sample]]:
    """The positions of array inputs that can be batched, and the draws (the first one three times where the
    draws disagree on anything but those arrays' values, e.g. on an index or a shape)."""
    first = draws[0]
    arrays = [i for i, a in enumerate(first.args) if isinstance(a, (np.ndarray, np.generic))
              and all(isinstance(d.args[i], (np.ndarray, np.generic)) and np.shape(d.args[i]) == np.shape(a)
                      and np.result_type(d.args[i]) == np.result_type(a) for d in draws)]
    fixed = all(_same(d.args[i], first.args[i]) for d in draws for i in range(len(first.args)) if i not in arrays)
    fixed = fixed and all(_same(d.kwargs, first.kwargs) for d in draws)
    return arrays, draws if fixed else [first] * B


CASES = [pytest.param(p, i, id=f"{p.name}-{i}") for p in PRIMITIVES for i, draws in enumerate(_draws(p))
         if _batchable(draws)[0]]  # a sample of shape arguments alone has nothing to batch


def _loop(prim: Primitive, draws: list[Sample]) -> np.ndarray:
    return np.stack([np.asarray(prim(*d.args, **d.kwargs)) for d in draws])


@pytest.mark.parametrize(("prim", "index"), CASES)
def test_vmap_of_each_primitive_matches_a_loop(prim: Primitive, index: int) -> None:
    arrays, draws = _batchable(_draws(prim)[index])
    first = draws[0]
    expected = _loop(prim, draws)
    variants = [(arrays, 0)] + [([i], 0) for i in arrays if len(arrays) > 1] + [(arrays[:1], -1)]
    for batched, axis in variants:
        def f(*xs: Any) -> Any:
            args = list(first.args)
            for i, x in zip(batched, xs):
                args[i] = x
            return prim(*args, **first.kwargs)

        stacks = [np.moveaxis(np.stack([np.asarray(d.args[i]) for d in draws]), 0, axis) for i in batched]
        want = expected if len(batched) == len(arrays) else _loop(prim, [
            Sample(tuple(d.args[i] if i in batched else first.args[i] for i in range(len(first.args))), first.kwargs)
            for d in draws])
        got = cr.vmap(f, in_axes=axis)(*stacks)
        assert type(got) is np.ndarray
        assert got.dtype == want.dtype, (batched, axis)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=f"batched {batched} at axis {axis}")


# ---- the rules under vmap: per-example gradients and Jacobians of every primitive ---------------------------------
DIFFERENTIABLE = [pytest.param(p, i, id=f"{p.name}-{i}") for p in PRIMITIVES if p.differentiable
                  for i, draws in enumerate(_draws(p)) if any(
                      isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in _batchable(draws)[1][0].args)]


def _packed(prim: Primitive, sample: Sample) -> tuple[Any, list[int]]:
    """``prim`` on a sample as a function of one vector holding all its float inputs."""
    floats = [i for i, a in enumerate(sample.args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    shapes = [sample.args[i].shape for i in floats]

    def f(z: Any) -> Any:
        args, k = list(sample.args), 0
        for i, shape in zip(floats, shapes):
            n = int(np.prod(shape, dtype=np.int64))
            args[i] = cr.reshape(z[k:k + n], shape)
            k += n
        return prim(*args, **sample.kwargs)

    return f, floats


@pytest.mark.parametrize(("prim", "index"), DIFFERENTIABLE)
def test_per_example_derivatives_of_each_primitive_match_a_loop(prim: Primitive, index: int) -> None:
    draws = _batchable(_draws(prim)[index])[1]
    f, floats = _packed(prim, draws[0])
    zs = np.stack([np.concatenate([np.ravel(d.args[i]) for i in floats]) for d in draws])
    weights = np.random.default_rng(9).standard_normal(np.shape(f(zs[0])))
    loss = lambda z: cr.sum(f(z) * weights)
    np.testing.assert_allclose(cr.vmap(cr.grad(loss))(zs), np.stack([cr.grad(loss)(z) for z in zs]),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cr.vmap(cr.jacfwd(f))(zs), np.stack([cr.jacfwd(f)(z) for z in zs]),
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cr.grad(lambda zs: cr.sum(cr.vmap(loss)(zs)))(zs),
                               np.stack([cr.grad(loss)(z) for z in zs]), rtol=1e-10, atol=1e-12)
