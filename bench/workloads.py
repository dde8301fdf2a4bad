"""The workloads of the suite (bench/suite.py) and each library's version of them.

A workload's ``versions`` maps a library's key to a function of the workload's sizes that sets the work up (data,
parameters, compiled functions) and returns a zero-argument step; a library without a version gets "-" in the table,
and a compiler without one of its own compiles the version of the library it compiles.
The versions reuse the single-library scripts beside this file (chain.py, conv.py, hessian.py, mlp.py), and import
their library only when called, so that a worker process holds only its own library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import mlp

Step = Callable[[], Any]


def _from(module: str, name: str) -> Callable[..., Step]:
    """A version defined in another script of bench/, imported when the work is set up (conv.py imports chainrule)."""
    return lambda **sizes: getattr(importlib.import_module(module), name)(**sizes)


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    # "us per op", "ms", or a memory workload's "MB resident" (the step's rise of the resident size / the process's
    # peak: every library) or "MB traced" (tracemalloc's peak of the step's allocations: NumPy's arrays, not torch's)
    unit: str
    versions: dict[str, Callable[..., Step] | None]  # None: that library has no version (a compiler skips it)
    sizes: dict[str, Any]
    tiny: dict[str, Any]  # sizes for a smoke test of the suite
    ops: Callable[..., int] | None = None  # operations per step, for a per-op time


def _chain_ops(layers: int, **_: Any) -> int:
    return 3 * layers + 1


def _chainrule_chain(layers: int, shape: tuple[int, ...] = (16,)) -> Step:
    from chain import by_chainrule

    x0 = np.random.default_rng(0).standard_normal(shape)
    return lambda: by_chainrule(x0, layers)


def _compiled_chain(layers: int, shape: tuple[int, ...] = (16,)) -> Step:
    """The chain through cr.compile, its input an argument (a closure's array would be a constant of the program)."""
    import chainrule as cr
    from chain import by_chainrule

    x0 = np.random.default_rng(0).standard_normal(shape)
    step = cr.compile(lambda x: by_chainrule(x, layers))
    return lambda: step(x0)


def _numpy_chain(layers: int, shape: tuple[int, ...] = (16,)) -> Step:
    from chain import by_hand

    x0 = np.random.default_rng(0).standard_normal(shape)
    return lambda: by_hand(x0, layers)


def _torch_chain(layers: int, shape: tuple[int, ...] = (16,)) -> Step:
    import torch

    x0 = torch.from_numpy(np.random.default_rng(0).standard_normal(shape))

    def step() -> Any:
        x = x0.clone().requires_grad_()
        y = x
        for _ in range(layers):
            y = torch.tanh(y * 0.9 + 0.1)
        y.sum().backward()
        return x.grad

    return step


def _jax_chain(layers: int, shape: tuple[int, ...] = (16,)) -> Step:
    import jax
    import jax.numpy as jnp

    def f(x: Any) -> Any:
        for _ in range(layers):
            x = jnp.tanh(x * 0.9 + 0.1)
        return x.sum()

    grad = jax.jit(jax.grad(f))
    x0 = jnp.asarray(np.random.default_rng(0).standard_normal(shape))
    return lambda: grad(x0).block_until_ready()


def _jax_conv(batch: int, size: int) -> Step:
    import jax
    import jax.numpy as jnp

    from conv import _data

    x, *params = (jnp.asarray(a) for a in _data(batch, size))

    def layer(h: Any, w: Any, b: Any) -> Any:
        z = jax.lax.conv_general_dilated(h, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return jax.nn.relu(z + b[None, :, None, None])

    def loss(params: Any) -> Any:
        w1, b1, w2, b2 = params
        return layer(layer(x, w1, b1), w2, b2).mean()

    grad = jax.jit(jax.grad(loss))
    return lambda: jax.block_until_ready(grad(params))


def _chainrule_hessian() -> Step:
    import chainrule as cr
    import hessian

    h, x = cr.hessian(hessian.f), cr.tensor(hessian.X)  # a tensor: cr.compile reads it at every replay
    return lambda: h(x)


def _numpy_hessian() -> Step:
    import hessian

    return lambda: hessian.closed_form(hessian.X)


def _torch_hessian() -> Step:
    import torch
    import torch.func

    import hessian

    a, x = torch.from_numpy(hessian.A), torch.from_numpy(hessian.X)
    h = torch.func.hessian(lambda v: torch.tanh(a @ v).sum())
    return lambda: h(x)


def _jax_hessian() -> Step:
    import jax
    import jax.numpy as jnp

    import hessian

    a, x = jnp.asarray(hessian.A), jnp.asarray(hessian.X)
    h = jax.jit(jax.hessian(lambda v: jnp.tanh(a @ v).sum()))
    return lambda: h(x).block_until_ready()


_CHAIN = {"chainrule": _chainrule_chain, "compiled": _compiled_chain, "numpy": _numpy_chain, "torch": _torch_chain}
_MLP = {"chainrule": mlp.chainrule_step, "numpy": mlp.by_hand, "torch": mlp.torch_step, "jax": mlp.jax_step}
_SMALL = {"batch": 128, "sizes": (64, 256, 256, 10)}
_BIG = {"batch": 256, "sizes": (784, 1024, 1024, 10)}
_TINY = {"batch": 16, "sizes": (8, 16, 16, 4)}

WORKLOADS = (
    Workload("chain", "chain: 200 x tanh(x*0.9+0.1) on 16 floats, fwd+bwd, per op", "us per op",
             {**_CHAIN, "jax": _jax_chain}, {"layers": 200}, {"layers": 20}, ops=_chain_ops),
    # a 0-d value: the engine's per-op cost with nothing to compute; JAX would trace 100,000 ops, so it has none
    Workload("deep", "deep: 100,000-op scalar chain, fwd+bwd, per op (imports excluded)", "us per op",
             _CHAIN, {"layers": 33_333, "shape": ()}, {"layers": 300, "shape": ()}, ops=_chain_ops),
    # the same ten times longer: the time per op should stay flat (no recursion, memory linear in the ops)
    # (not compiled: a trace of a million ops costs minutes and holds every value, for nothing a replay would add)
    Workload("deep_1m", "deep_1m: the same with 1,000,000 ops, per op", "us per op",
             {**_CHAIN, "compiled": None}, {"layers": 333_333, "shape": ()}, {"layers": 300, "shape": ()},
             ops=_chain_ops),
    Workload("mlp", "mlp step 128x64->256->256->10, SGD, float32", "ms", _MLP, _SMALL, _TINY),
    Workload("mlp_big", "mlp_big step 256x784->1024->1024->10", "ms", _MLP, _BIG, _TINY),
    Workload("mlp_big_blas", "its matrix products alone (the BLAS floor)", "ms",
             {"numpy": mlp.matmuls_by_hand, "torch": mlp.torch_matmuls}, _BIG, _TINY),
    Workload("conv", "conv: two 3x3 convs 1->16->32 + relu + mean, batch 32 of 28x28, fwd+bwd", "ms",
             {"chainrule": _from("conv", "chainrule_step"), "torch": _from("conv", "torch_step"), "jax": _jax_conv},
             {"batch": 32, "size": 28}, {"batch": 2, "size": 8}),
    Workload("hessian", "dense Hessian 64x64 of sum(tanh(Ax))", "ms",
             {"chainrule": _chainrule_hessian, "numpy": _numpy_hessian, "torch": _torch_hessian,
              "jax": _jax_hessian}, {}, {}),
    Workload("memory", "mlp_big training: resident-size rise of a step / process peak", "MB resident", _MLP, _BIG,
             _TINY),
    Workload("memory_traced", "mlp_big training: a step's arrays at their peak (tracemalloc)", "MB traced",
             {"chainrule": mlp.chainrule_step, "numpy": mlp.by_hand}, _BIG, _TINY),
)
