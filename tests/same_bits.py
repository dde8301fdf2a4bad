"""One check for the compile tests: two results with the same structure, every array of the same dtype and shape
and the same bits (-0.0 is not 0.0; a NaN's payload counts), Tensors and arrays alike."""

from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr


def same(a: Any, b: Any) -> None:
    la, ta = cr.tree_util.tree_flatten(a)
    lb, tb = cr.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        x, y = (v.data if isinstance(v, cr.Tensor) else np.asarray(v) for v in (x, y))
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


def replays_as_eager(f: Any, inputs: Any) -> None:
    """``f`` of a tensor (any shape of output) compiled, with the gradient of a weighted sum of its output, gives
    eager's bits on every input in turn from one trace: what it read off the values is replayed on new ones."""

    def step(x: Any) -> Any:
        t = cr.tensor(x, requires_grad=True)
        value = f(t)
        (value * cr.tensor(np.cos(np.arange(value.size)).reshape(value.shape))).sum().backward()
        return value.detach(), t.grad

    compiled = cr.compile(step)
    for x in inputs:
        same(compiled(x), step(x))
    assert compiled.traces == 1
