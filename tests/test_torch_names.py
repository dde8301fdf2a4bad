"""PyTorch's names in chainrule (issue 12): Tensor methods, functions, grad modes, dtypes, cr.autograd, each compared
with PyTorch itself on the same inputs (values, and the gradients of a fixed weighted sum of the outputs), and the
composites (gather, scatter, cdist, ...) also checked by finite differences to second order, in both modes."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import backend
from chainrule.spelling import as_dtype
from stand_in_gpu import provider


def _draw(*shape: int, seed: int = 0) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).standard_normal(shape)


X, Y = _draw(2, 3, 4), _draw(2, 3, 4, seed=1)
M, N = _draw(3, 4, seed=2), _draw(4, 5, seed=3)
IDX = np.argsort(_draw(2, 3, 4, seed=4), axis=2)  # rows of permutations: scatter refuses a repeated element
REVERSED = np.broadcast_to(np.arange(3)[::-1, None], (2, 3, 4)).copy()  # along axis 1: a permutation


def _cr(a: Any) -> Any:
    """An argument as chainrule takes it: arrays and lists as they are (chainrule reads them)."""
    return a


def _th(a: Any) -> Any:
    """The same argument as PyTorch takes it: arrays become tensors (integer ones are its indices)."""
    if isinstance(a, np.ndarray):
        return torch.from_numpy(a)
    if isinstance(a, list) and a and isinstance(a[0], int):
        return torch.tensor(a)
    return a


def same(method: str, *args: Any, **kwargs: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The one method call, spelt alike in both libraries, on the first input (further inputs passed after args)."""
    return (lambda x, *more: getattr(x, method)(*map(_cr, args), *more, **{k: _cr(v) for k, v in kwargs.items()}),
            lambda t, *more: getattr(t, method)(*map(_th, args), *more, **{k: _th(v) for k, v in kwargs.items()}))


def fn(name: str, *args: Any, **kwargs: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The one function call, ``cr.name`` and ``torch.name``, on the inputs then ``args``."""
    return (lambda *xs: getattr(cr, name)(*xs, *map(_cr, args), **{k: _cr(v) for k, v in kwargs.items()}),
            lambda *ts: getattr(torch, name)(*ts, *map(_th, args), **{k: _th(v) for k, v in kwargs.items()}))


def _inplace(method: str, *args: Any, **kwargs: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """An in-place method on a computed copy (a leaf that requires grad refuses it in both libraries): the result
    is the updated tensor itself, and its gradient reaches the leaf through the update."""
    ours, theirs = same(method, *args, **kwargs)
    return (lambda x, *more: _returns_self(ours, x * 1, *more), lambda t, *more: _returns_self(theirs, t * 1, *more))


def _returns_self(call: Callable[..., Any], y: Any, *more: Any) -> Any:
    out = call(y, *more)
    assert out is y, "an in-place method returns the tensor itself"
    return y


# (id, chainrule's call, PyTorch's call, the floating inputs: the first is the tensor whose method is called)
CASES: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[np.ndarray[Any, Any], ...]]] = [
    ("view", *same("view", 4, 6), (X,)),
    ("view tuple", *same("view", (-1, 3)), (X,)),
    ("view_as", (lambda x: x.view_as(cr.zeros(6, 4))), (lambda t: t.view_as(torch.zeros(6, 4))), (X,)),
    ("reshape_as", (lambda x, m: x[0].reshape_as(m)), (lambda t, m: t[0].reshape_as(m)), (X, M)),
    ("reshape", *same("reshape", 3, 8), (X,)),
    ("unsqueeze", *same("unsqueeze", 1), (X,)),
    ("unsqueeze -1", *same("unsqueeze", -1), (X,)),
    ("squeeze dim", (lambda x: x[:, :1].squeeze(1)), (lambda t: t[:, :1].squeeze(1)), (X,)),
    ("squeeze", (lambda x: x[:1, :, :1].squeeze()), (lambda t: t[:1, :, :1].squeeze()), (X,)),
    ("expand", (lambda x: x[:, :1].expand(2, 5, 4)), (lambda t: t[:, :1].expand(2, 5, 4)), (X,)),
    ("expand -1 and a new axis", (lambda x: x[:, :1].expand(3, -1, 2, -1)),
     (lambda t: t[:, :1].expand(3, -1, 2, -1)), (X,)),
    ("expand_as", (lambda x, y: x[:1].expand_as(y)), (lambda t, u: t[:1].expand_as(u)), (X, Y)),
    ("repeat", *same("repeat", 2, 1, 3), (X,)),
    ("repeat more axes", *same("repeat", (2, 1, 1, 2)), (X,)),
    ("repeat_interleave", *same("repeat_interleave", 2, dim=1), (X,)),
    ("repeat_interleave flat", *same("repeat_interleave", 3), (X,)),
    ("repeat_interleave counts", *same("repeat_interleave", np.array([1, 0, 2]), dim=1), (X,)),
    ("flatten", *same("flatten"), (X,)),
    ("flatten 1", *same("flatten", 1), (X,)),
    ("flatten 0 1", *same("flatten", 0, 1), (X,)),
    ("flatten 0-d", (lambda x: x.sum().flatten()), (lambda t: t.sum().flatten()), (X,)),
    ("permute", *same("permute", 2, 0, 1), (X,)),
    ("permute tuple", *same("permute", (1, 2, 0)), (X,)),
    ("transpose", *same("transpose", 0, 2), (X,)),
    ("transpose -2 -1", *same("transpose", -2, -1), (M,)),
    ("transpose 0 -1", *same("transpose", 0, -1), (M,)),
    ("t", *same("t"), (M,)),
    ("t 1-d", (lambda x: x[0].t()), (lambda t: t[0].t()), (M,)),
    ("mT", (lambda x: x.mT), (lambda t: t.mT), (X,)),
    ("T", (lambda x: x.T), (lambda t: t.T), (M,)),
    ("clone", *same("clone"), (X,)),
    ("contiguous", (lambda x: (x * 1).contiguous()), (lambda t: (t * 1).contiguous()), (X,)),
    ("to dtype", (lambda x: x.to(np.float32)), (lambda t: t.to(torch.float32)), (X,)),
    ("to name", (lambda x: x.to("float32")), (lambda t: t.to(torch.float32)), (X,)),
    ("to torch name", (lambda x: x.to("torch.float16")), (lambda t: t.to(torch.float16)), (X,)),
    ("to device and dtype", (lambda x: x.to("cpu", cr.float32)), (lambda t: t.to("cpu", torch.float32)), (X,)),
    ("to other", (lambda x: x.to(cr.zeros(1, dtype=cr.float32))),
     (lambda t: t.to(torch.zeros(1, dtype=torch.float32))), (X,)),
    ("cpu", *same("cpu"), (X,)),
    ("float", *same("float"), (X,)),
    ("double", (lambda x: x.float().double()), (lambda t: t.float().double()), (X,)),
    ("half", *same("half"), (X,)),
    ("type_as", (lambda x: x.type_as(cr.zeros(1, dtype=np.float32))),
     (lambda t: t.type_as(torch.zeros(1, dtype=torch.float32))), (X,)),
    ("clamp", *same("clamp", -0.5, 0.7), (X,)),
    ("clamp min", *same("clamp", min=-0.2), (X,)),
    ("clamp max keyword", *same("clamp", max=0.1), (X,)),
    ("clamp min > max", *same("clamp", 0.5, -0.5), (X,)),
    ("clamp tensors", (lambda x, y: x.clamp(y, y + 1)), (lambda t, u: t.clamp(u, u + 1)), (X, Y)),
    ("clamp_min", *same("clamp_min", 0.1), (X,)),
    ("clamp_max", *same("clamp_max", -0.1), (X,)),
    ("pow", *same("pow", 3), (X,)),
    ("pow tensor", (lambda x, y: abs(x).pow(y)), (lambda t, u: abs(t).pow(u)), (X, Y)),
    ("matmul", (lambda x, m: x.matmul(m.T)), (lambda t, m: t.matmul(m.T)), (X, M)),
    ("mm", *same("mm"), (M, N)),
    ("bmm", (lambda x, y: x.bmm(y.transpose(1, 2))), (lambda t, u: t.bmm(u.transpose(1, 2))), (X, Y)),
    ("softmax", *same("softmax", 1), (X,)),
    ("softmax dim", *same("softmax", dim=-1), (X,)),
    ("log_softmax", *same("log_softmax", 0), (X,)),
    *[(name, *same(name), (X,)) for name in ("exp", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "square")],
    ("log", (lambda x: abs(x).log()), (lambda t: abs(t).log()), (X,)),
    ("sqrt", (lambda x: abs(x).sqrt()), (lambda t: abs(t).sqrt()), (X,)),
    ("sum", *same("sum"), (X,)),
    ("sum dim", *same("sum", 1, keepdim=True), (X,)),
    ("sum dims", *same("sum", dim=(0, 2)), (X,)),
    ("mean", *same("mean", -1), (X,)),
    ("mean dims keepdim", *same("mean", (0, 1), keepdim=True), (X,)),
    ("std correction", *same("std", 1, correction=0), (X,)),
    ("std unbiased", *same("std", dim=2, unbiased=True, keepdim=True), (X,)),
    ("var correction", *same("var", correction=2), (X,)),
    ("var unbiased positional", *same("var", 0, True), (X,)),
    ("var biased positional", *same("var", 1, False), (X,)),
    ("amax", *same("amax", 1), (X,)),
    ("amax dims", *same("amax", (0, 2), keepdim=True), (X,)),
    ("amin", *same("amin", dim=-1), (X,)),
    ("max all", *same("max"), (X,)),
    ("min all", *same("min"), (X,)),
    ("max dim is the values", (lambda x: x.max(dim=1)), (lambda t: t.max(dim=1).values), (X,)),
    ("min dim is the values", (lambda x: x.min(dim=2, keepdim=True)),
     (lambda t: t.min(dim=2, keepdim=True).values), (X,)),
    ("argmax", *same("argmax", 1), (X,)),
    ("argmax flat", *same("argmax"), (X,)),
    ("argmin", *same("argmin", dim=2, keepdim=True), (X,)),
    ("argmax is max's indices", (lambda x: x.argmax(dim=1)), (lambda t: t.max(dim=1).indices), (X,)),
    ("norm", *same("norm"), (X,)),
    ("norm p dim", *same("norm", 3, 1), (X,)),
    ("norm 1 keepdim", *same("norm", p=1, dim=(0, 2), keepdim=True), (X,)),
    ("norm fro dims", *same("norm", "fro", (1, 2)), (X,)),
    ("norm inf", *same("norm", float("inf"), 2), (X,)),
    ("norm nuc", *same("norm", "nuc"), (M,)),
    ("cumsum", *same("cumsum", 1), (X,)),
    ("cumsum dim", *same("cumsum", dim=-1), (X,)),
    ("gather", *same("gather", 2, IDX[:, :, :3]), (X,)),
    ("gather repeats", *same("gather", 1, IDX[:, :2] % 2), (X,)),
    ("gather a shorter index", *same("gather", 0, IDX[:1, :2, :3] % 2), (X,)),
    ("scatter", (lambda x, y: x.scatter(2, IDX[:, :, :2], y[..., :2])),
     (lambda t, u: t.scatter(2, _th(IDX[:, :, :2]), u[..., :2])), (X, Y)),
    ("scatter dim 0", (lambda x, y: x.scatter(0, np.array([[1, 0, 1, 0], [0, 1, 0, 1]]), y[0, :2])),
     (lambda t, u: t.scatter(0, torch.tensor([[1, 0, 1, 0], [0, 1, 0, 1]]), u[0, :2])), (M[:2], X)),
    ("scatter value", *same("scatter", 1, IDX[:, :1] % 3, value=2.5), (X,)),
    ("scatter_add", (lambda x, y: x.scatter_add(1, IDX[:, :2] % 2, y[:, :2])),
     (lambda t, u: t.scatter_add(1, _th(IDX[:, :2] % 2), u[:, :2])), (X, Y)),
    ("sort", *same("sort"), (X,)),
    ("sort dim descending", *same("sort", dim=1, descending=True), (X,)),
    ("argsort", *same("argsort", dim=0), (X,)),
    ("topk", *same("topk", 2, dim=1), (X,)),
    ("topk smallest", *same("topk", 3, largest=False), (X,)),
    ("index_select", *same("index_select", 1, [2, 0, 2]), (X,)),
    ("index_select 0", *same("index_select", 0, np.array([1, 1, 0])), (X,)),
    ("masked_fill", (lambda x: x.masked_fill(x > 0.3, -1.0)), (lambda t: t.masked_fill(t > 0.3, -1.0)), (X,)),
    ("masked_fill broadcast mask", (lambda x: x.masked_fill(np.array([True, False, True, False]), 0.0)),
     (lambda t: t.masked_fill(torch.tensor([True, False, True, False]), 0.0)), (X,)),
    ("masked_fill a tensor value", (lambda x, v: x.masked_fill(x < 0, v.sum())),
     (lambda t, u: t.masked_fill(t < 0, u.sum())), (X, M)),
    ("where", (lambda x, y: x.where(x > y, y)), (lambda t, u: t.where(t > u, u)), (X, Y)),
    ("chunk", *same("chunk", 3, 2), (X,)),
    ("chunk uneven", *same("chunk", 2, dim=1), (X,)),
    ("chunk more than there are", *same("chunk", 4, 1), (X,)),
    ("split size", *same("split", 3, 2), (X,)),
    ("split sizes", *same("split", (1, 2), dim=1), (X,)),
    ("zero_", *_inplace("zero_"), (X,)),
    ("fill_", *_inplace("fill_", 1.5), (X,)),
    ("copy_", *_inplace("copy_"), (X, Y)),
    ("copy_ broadcast", (lambda x, m: _returns_self(lambda y: y.copy_(m), x * 1)),
     (lambda t, m: _returns_self(lambda y: y.copy_(m), t * 1)), (X, M)),
    ("add_", *_inplace("add_"), (X, Y)),
    ("add_ alpha", *_inplace("add_", alpha=-0.5), (X, Y)),
    ("sub_", *_inplace("sub_", alpha=2.0), (X, Y)),
    ("mul_", *_inplace("mul_"), (X, Y)),
    ("mul_ number", *_inplace("mul_", 3.0), (X,)),
    ("div_", (lambda x, y: _returns_self(lambda z: z.div_(y * y + 1), x * 1)),
     (lambda t, u: _returns_self(lambda z: z.div_(u * u + 1), t * 1)), (X, Y)),
    ("clamp_", *_inplace("clamp_", -0.3, 0.4), (X,)),
    ("exp_", *_inplace("exp_"), (X,)),
    ("in place twice, then used", (lambda x: (x * 1).mul_(2).add_(x).exp_() * x),
     (lambda t: (t * 1).mul_(2).add_(t).exp_() * t), (X,)),
    ("in place into a constant", (lambda x: cr.zeros(2, 3, 4).add_(x)),
     (lambda t: torch.zeros(2, 3, 4, dtype=t.dtype).add_(t)), (X,)),
    # functions
    ("cr.cat", (lambda x, y: cr.cat([x, y], dim=1)), (lambda t, u: torch.cat([t, u], dim=1)), (X, Y)),
    ("cr.cat axis", (lambda x, y: cr.cat((x, y), axis=-1)), (lambda t, u: torch.cat((t, u), axis=-1)), (X, Y)),
    ("cr.unsqueeze", *fn("unsqueeze", 0), (X,)),
    ("cr.clamp", *fn("clamp", -0.1, 0.2), (X,)),
    ("cr.clamp max", *fn("clamp", max=0.2), (X,)),
    ("cr.gather", *fn("gather", 1, IDX[:, :3] % 3), (X,)),
    ("cr.scatter", (lambda x, y: cr.scatter(x, 1, REVERSED, y)), (lambda t, u: torch.scatter(t, 1, _th(REVERSED), u)),
     (X, Y)),
    ("cr.index_select", *fn("index_select", -1, [3, 1]), (X,)),
    ("cr.cdist", *fn("cdist"), (X, Y[:, :2])),
    ("cr.cdist p=1", *fn("cdist", p=1.0), (M, N.T)),
    ("cr.cdist p=3", *fn("cdist", p=3.0), (X, Y)),
    ("cr.cdist p=0.5", *fn("cdist", p=0.5), (M, N.T)),
    ("cr.cdist p=inf", *fn("cdist", p=float("inf")), (M, N.T)),
    ("cr.cdist broadcast batch", *fn("cdist"), (X, M)),
]


def _leaves(arrays: tuple[np.ndarray[Any, Any], ...]) -> tuple[list[cr.Tensor], list[torch.Tensor]]:
    return ([cr.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True) for a in arrays])


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize(("name", "ours", "theirs", "inputs"), CASES, ids=[c[0] for c in CASES])
def test_against_pytorch(name: str, ours: Callable[..., Any], theirs: Callable[..., Any],
                         inputs: tuple[np.ndarray[Any, Any], ...]) -> None:
    xs, ts = _leaves(inputs)
    outs, refs = _outputs(ours(*xs)), _outputs(theirs(*ts))
    assert len(outs) == len(refs)
    loss: Any = 0.0
    ref_loss: Any = 0.0
    for o, r in zip(outs, refs):
        assert o.shape == tuple(r.shape), name
        expected = r.detach().numpy()
        assert o.dtype == expected.dtype, name
        tol = 1e-3 if expected.dtype == np.float16 else 1e-12
        np.testing.assert_allclose(o.data, expected, rtol=tol, atol=tol)
        if r.requires_grad:
            assert o.requires_grad, f"{name}: PyTorch's result is differentiable, chainrule's is not"
            w = np.cos(np.arange(r.numel())).reshape(tuple(r.shape))  # a weight per entry: a misplaced gradient shows
            loss = loss + (o * w.astype(expected.dtype)).sum()
            ref_loss = ref_loss + (r * torch.tensor(w, dtype=r.dtype)).sum()
    if isinstance(ref_loss, torch.Tensor):
        loss.backward()
        ref_loss.backward()
    for x, t in zip(xs, ts):
        if t.grad is None:
            assert x.grad is None or not x.grad.data.any(), f"{name}: a gradient where PyTorch has none"
        else:
            assert x.grad is not None, f"{name}: no gradient where PyTorch has one"
            np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-11, atol=1e-12)


# ---- composites: finite differences, second order, reverse and forward ------------------------------------------
GRADCHECKS: list[tuple[str, Callable[..., Any], tuple[np.ndarray[Any, Any], ...]]] = [
    ("gather", lambda x: cr.gather(x, 1, IDX[:, :2] % 3), (X,)),
    ("scatter", lambda x, y: cr.scatter(x, 2, IDX[:, :, :3], y), (X, Y[..., :3])),
    ("scatter value", lambda x: cr.scatter(x, 0, IDX[:1] % 2, value=0.5), (X,)),
    ("scatter_add", lambda x, y: x.scatter_add(2, IDX % 3, y), (X, Y)),
    ("index_select", lambda x: cr.index_select(x, 2, [0, 3, 0]), (X,)),
    ("masked_fill", lambda x, v: x.masked_fill(X > 0, v.sum()), (X, M)),
    ("cdist", lambda x, y: cr.cdist(x, y), (X, Y[:, :2])),
    ("cdist p=3", lambda x, y: cr.cdist(x, y, p=3.0), (M, N.T)),
    ("cdist p=inf", lambda x, y: cr.cdist(x, y, p=np.inf), (M, N.T)),
    ("in-place updates", lambda x, y: (x * 1).mul_(y).add_(x, alpha=2.0).exp_(), (X, Y)),
    ("split and chunk", lambda x: x.split([1, 2], dim=1)[1] * x.chunk(2, dim=-1)[0].sum(), (X,)),
]


@pytest.mark.parametrize(("name", "f", "inputs"), GRADCHECKS, ids=[g[0] for g in GRADCHECKS])
def test_composites_gradcheck(name: str, f: Callable[..., Any], inputs: tuple[np.ndarray[Any, Any], ...]) -> None:
    assert cr.gradcheck(f, *inputs, order=2, modes=("rev", "fwd"))


def test_cdist_gradient_is_zero_at_zero_distance_as_pytorch() -> None:
    a = np.array([[0.0, 1.0], [2.0, -0.5]])
    b = np.array([[0.0, 1.0], [1.0, 1.0]])  # b[0] is a[0]: distance 0 (and no two differences tie, for p=inf)
    for p in (2.0, 3.0, 1.0, np.inf):
        x, y = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
        t, u = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        cr.cdist(x, y, p=p).sum().backward()
        torch.cdist(t, u, p=p).sum().backward()
        assert x.grad is not None and y.grad is not None and t.grad is not None and u.grad is not None
        assert np.isfinite(x.grad.data).all()
        np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(y.grad.data, u.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert np.isfinite(cr.hessian(lambda v: cr.cdist(v, b).sum())(a)).all()


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: cr.cdist(M, N), ValueError, r"cdist: x1 and x2 must be \(\.\.\., P, M\) and \(\.\.\., R, M\)"),
    (lambda: cr.cdist(M, M, p=0), ValueError, r"cdist: p must be positive"),
    (lambda: cr.gather(M, 1, [[4]]), IndexError, r"gather: index out of range for axis 1 of length 4"),
    (lambda: cr.gather(M, 1, [[-1]]), IndexError, r"gather: index out of range"),
    (lambda: cr.gather(M, 1, [1, 2]), ValueError, r"gather: index must have as many axes as the input"),
    (lambda: cr.gather(M, 1, np.zeros((4, 1), dtype=int)), ValueError, r"gather: index of shape \(4, 1\) is longer"),
    (lambda: cr.gather(M, 0, [[0.5]]), TypeError, r"gather: index must hold integers, got dtype float64"),
    (lambda: cr.scatter(M, 1, [[0, 0]], M), IndexError, r"scatter: index names an element twice along axis 1"),
    (lambda: cr.scatter(M, 1, [[0]]), TypeError, r"scatter\(\) takes src or value"),
    (lambda: cr.scatter(M, 1, [[0]], M, value=1.0), TypeError, r"scatter\(\) takes src or value"),
    (lambda: cr.scatter(M, 1, [[0, 1]], M[:, :1]), ValueError, r"scatter: src of shape \(3, 1\) is smaller"),
    (lambda: cr.index_select(M, 0, [[0]]), ValueError, r"index_select: index must be 1-d"),
    (lambda: cr.clamp(M), ValueError, r"clamp: give min=, max= or both"),
    (lambda: cr.tensor(M).mm(cr.tensor(X)), ValueError, r"mm multiplies two matrices"),
    (lambda: cr.tensor(X).bmm(cr.tensor(X[:1])), ValueError, r"bmm multiplies two stacks of as many matrices"),
    (lambda: cr.tensor(X).t(), ValueError, r"t\(\) transposes at most 2 axes"),
    (lambda: cr.tensor(X).squeeze(1), ValueError, r"squeeze: axis 1 of an array of shape \(2, 3, 4\) has length 3"),
    (lambda: cr.tensor(M[0]).mT, ValueError, r"mT needs at least 2 axes"),
    (lambda: cr.tensor(X).repeat(2, 2), ValueError, r"repeat: 2 sizes for a tensor of shape \(2, 3, 4\)"),
    (lambda: cr.tensor(X).expand(3, 4), ValueError, r"expand: 2 sizes for a tensor of shape \(2, 3, 4\)"),
    (lambda: cr.tensor(X).flatten(2, 1), ValueError, r"flatten: start_dim 2 comes after end_dim 1"),
    (lambda: cr.tensor(X).split([1, 1], dim=1), ValueError, r"split: lengths \[1, 1\] do not add up to 3"),
    (lambda: cr.tensor(X).split(0), ValueError, r"split: split_size must be at least 1, got 0"),
    (lambda: cr.tensor(X).chunk(0), ValueError, r"chunk: chunks must be at least 1, got 0"),
    (lambda: cr.tensor(X).masked_fill(X, 0.0), TypeError, r"masked_fill: mask must be boolean"),
    (lambda: cr.tensor(M).var(correction=1, unbiased=True), TypeError, r"Tensor.var\(\) got more than one of ddof="),
    (lambda: cr.tensor(M).std(ddof=1, correction=1), TypeError, r"Tensor.std\(\) got more than one of ddof="),
    (lambda: cr.tensor(X).norm("nuc", dim=(0, 1)), ValueError, r"norm\(p='nuc'\) is taken over the last two axes"),
    (lambda: cr.tensor(M).size(2), IndexError, r"axis 2 is out of bounds"),
    (lambda: cr.randn_like(cr.zeros(2, dtype=np.int64)), TypeError, r"randn_like draws floating-point numbers"),
    (lambda: cr.from_numpy([1.0]), TypeError, r"from_numpy takes a NumPy array, got list"),
    (lambda: cr.zeros(2, dtype="torch.bfloat16"), TypeError, r"'torch.bfloat16' names no dtype chainrule has"),
])
def test_bad_input_is_refused_by_name(call: Callable[[], Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


# ---- in place ------------------------------------------------------------------------------------------------------
def test_in_place_under_no_grad_updates_a_leaf_as_pytorch() -> None:
    p, q = cr.tensor(M, requires_grad=True), torch.tensor(M, requires_grad=True)
    g = np.cos(M)
    data = p.data
    with cr.no_grad(), torch.no_grad():
        assert p.add_(g, alpha=-0.1) is p and p.mul_(2.0) is p and p.clamp_(max=0.5) is p
        q.add_(torch.tensor(g), alpha=-0.1).mul_(2.0).clamp_(max=0.5)
    assert p.data is data and p.is_leaf and p.requires_grad  # written into its own array
    np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-15)
    with cr.no_grad():
        p.zero_()
    assert not p.data.any()


def test_in_place_refusals_and_their_messages() -> None:
    x = cr.tensor(M, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf tensor that requires grad cannot be assigned into"):
        x.add_(1.0)
    with pytest.raises(TypeError, match="in-place update would cast float64 to int64"):
        cr.zeros(3, dtype=np.int64).add_(0.5)
    y = x * 1
    z = y * y
    y.add_(1.0)  # z's node saved y as it was: its backward refuses by name, as PyTorch's does
    with pytest.raises(RuntimeError, match="modified"):
        z.sum().backward()


def test_in_place_methods_inside_transforms() -> None:
    f = lambda x: ((x * 1).mul_(x).add_(x, alpha=3.0)).sum()
    np.testing.assert_allclose(cr.grad(f)(M), 2 * M + 3, rtol=1e-15)
    _, tangent = cr.jvp(f, (M,), (np.ones_like(M),))
    np.testing.assert_allclose(float(tangent), (2 * M + 3).sum(), rtol=1e-14)


# ---- queries and autograd attributes ---------------------------------------------------------------------------------
def test_size_numel_dim_item_tolist_device_as_pytorch() -> None:
    x, t = cr.tensor(X), torch.tensor(X)
    assert x.size() == tuple(t.size()) and x.size(1) == t.size(1) and x.size(-1) == t.size(-1)
    assert x.size(dim=0) == t.size(dim=0)
    assert x.size == t.numel() == x.numel() and isinstance(x.size, int)  # NumPy's size, still an int
    assert x.size + 1 == 25 and np.zeros(x.size).shape == (24,)
    assert copy.deepcopy(x.size)() == (2, 3, 4) and copy.copy(x.size) == 24
    assert x.dim() == t.dim() == x.ndim
    assert x[0, 0, 0].item() == t[0, 0, 0].item() and x.tolist() == t.tolist()
    assert x.device == str(t.device) == "cpu"


def test_grad_fn_requires_grad_hooks_and_retain_grad_as_pytorch() -> None:
    x, t = cr.tensor(M), torch.tensor(M)
    assert x.requires_grad_() is x and t.requires_grad_() is t and x.requires_grad
    assert x.grad_fn is None and t.grad_fn is None
    y, u = x.exp(), t.exp()
    assert y.grad_fn is not None and y.grad_fn.name() == "exp" and u.grad_fn is not None
    assert repr(y.grad_fn) == "<exp node>"
    x.register_hook(lambda g: g * 2)
    t.register_hook(lambda g: g * 2)
    y.retain_grad()
    u.retain_grad()
    (y * y).sum().backward()
    (u * u).sum().backward()
    assert x.grad is not None and y.grad is not None and t.grad is not None and u.grad is not None
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(y.grad.data, u.grad.numpy(), rtol=1e-14)


def test_clone_detach_contiguous() -> None:
    x = cr.tensor(M, requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data) and c.requires_grad and not c.is_leaf
    assert x.detach().requires_grad is False and np.shares_memory(x.detach().data, x.data)
    assert x.contiguous() is x
    assert x.to("cpu") is x and x.to("cpu", copy=True) is not x
    n = cr.zeros(2, 3, dtype=np.int64)
    assert n.clone().dtype == np.int64 and not n.clone().requires_grad


def test_new_tensors_follow_dtype_and_device_as_pytorch() -> None:
    x, t = cr.zeros(2, dtype=np.float32), torch.zeros(2, dtype=torch.float32)
    pairs = [(x.new_zeros(2, 3), t.new_zeros(2, 3)), (x.new_ones((3,)), t.new_ones((3,))),
             (x.new_full((2,), 7), t.new_full((2,), 7)), (x.new_tensor([1, 2]), t.new_tensor([1, 2])),
             (x.new_zeros(2, dtype="torch.int64"), t.new_zeros(2, dtype=torch.int64)),
             (x.new_ones(1, dtype=cr.float64), t.new_ones(1, dtype=torch.float64))]
    for ours, theirs in pairs:
        assert ours.dtype == theirs.numpy().dtype and ours.device == "cpu"
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert x.new_zeros(2, requires_grad=True).requires_grad and x.new_zeros(2).is_leaf


# ---- functions: creation, seeds, grad modes ----------------------------------------------------------------------
def test_from_numpy_and_as_tensor_share_memory_as_pytorch() -> None:
    a = np.arange(3.0)
    x, t = cr.from_numpy(a), torch.from_numpy(a)
    a[0] = 9.0
    assert float(x[0]) == float(t[0]) == 9.0 and x.is_leaf and not x.requires_grad
    assert np.shares_memory(cr.as_tensor(a).data, a) and np.shares_memory(torch.as_tensor(a).numpy(), a)
    assert not np.shares_memory(cr.as_tensor(a, dtype=np.float32).data, a)
    assert cr.as_tensor(a, dtype="float32").dtype == torch.as_tensor(a, dtype=torch.float32).numpy().dtype
    y = cr.tensor([1.0], requires_grad=True)
    assert cr.as_tensor(y) is y and cr.as_tensor([1, 2]).tolist() == torch.as_tensor([1, 2]).tolist()
    z = cr.as_tensor(y, dtype=np.float32)  # converted differentiably, as PyTorch's
    assert z.dtype == np.float32 and z.requires_grad


def test_like_functions_as_pytorch() -> None:
    x, t = cr.zeros(2, 3, dtype=np.float32), torch.zeros(2, 3, dtype=torch.float32)
    for ours, theirs in [(cr.zeros_like(x), torch.zeros_like(t)), (cr.ones_like(x), torch.ones_like(t)),
                         (cr.full_like(x, 2.5), torch.full_like(t, 2.5)),
                         (cr.full_like(x, 2, dtype="int64"), torch.full_like(t, 2, dtype=torch.int64))]:
        assert ours.dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    for draw, theirs in [(cr.randn_like, torch.randn_like), (cr.rand_like, torch.rand_like)]:
        d = draw(x)
        assert d.shape == tuple(theirs(t).shape) and d.dtype == np.float32 and not d.requires_grad
        assert draw(x, dtype=np.float64, requires_grad=True).requires_grad
    assert ((cr.rand_like(x) >= 0) & (cr.rand_like(x) < 1)).all()


def test_manual_seed_is_seed() -> None:
    cr.manual_seed(3)
    a = cr.randn(4)
    cr.random.seed(3)
    np.testing.assert_array_equal(a.data, cr.randn(4).data)


def test_set_grad_enabled_as_pytorch() -> None:
    x, t = cr.tensor(1.0, requires_grad=True), torch.tensor(1.0, requires_grad=True)
    with cr.set_grad_enabled(False), torch.set_grad_enabled(False):
        assert (x * 2).requires_grad == (t * 2).requires_grad is False
        with cr.set_grad_enabled(True), torch.set_grad_enabled(True):
            assert (x * 2).requires_grad == (t * 2).requires_grad is True
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled() and torch.is_grad_enabled()
    cr.set_grad_enabled(False)  # called alone: from then on (in this context)
    try:
        assert not (x * 2).requires_grad
    finally:
        cr.set_grad_enabled(True)
    assert (x * 2).requires_grad

    @cr.set_grad_enabled(False)
    def f(v: cr.Tensor) -> bool:
        return bool((v * 2).requires_grad)

    assert cr.is_grad_enabled() and f(x) is False and cr.is_grad_enabled()


def test_inference_mode_is_no_grad() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    with cr.inference_mode():
        y = x * 2
    assert not y.requires_grad and cr.is_grad_enabled()
    assert (y * x).requires_grad  # an ordinary tensor: usable in recording afterwards (PyTorch's would refuse)
    with cr.no_grad(), cr.inference_mode(False):
        assert not cr.is_grad_enabled()  # inference_mode(False) changes nothing

    @cr.inference_mode
    def f() -> bool:
        return cr.is_grad_enabled()

    @cr.inference_mode()
    def g() -> bool:
        return cr.is_grad_enabled()

    assert f() is False and g() is False and cr.is_grad_enabled()


# ---- cr.autograd ---------------------------------------------------------------------------------------------------
def test_autograd_grad_and_backward_as_pytorch() -> None:
    assert cr.autograd.grad is cr.engine.grad
    x, t = cr.tensor(M, requires_grad=True), torch.tensor(M, requires_grad=True)
    (g,) = cr.autograd.grad((x ** 3).sum(), x, create_graph=True)
    (h,) = torch.autograd.grad((t ** 3).sum(), t, create_graph=True)
    np.testing.assert_allclose(g.data, h.detach().numpy(), rtol=1e-14)
    (g2,) = cr.autograd.grad(g.sum(), x)
    (h2,) = torch.autograd.grad(h.sum(), t)
    np.testing.assert_allclose(g2.data, h2.numpy(), rtol=1e-14)
    w = np.cos(M)
    cr.autograd.backward([x.exp(), x.sin().sum()], [w, None])
    torch.autograd.backward([t.exp(), t.sin().sum()], [torch.tensor(w), None])
    assert x.grad is not None and t.grad is not None
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-14)
    with pytest.raises(ValueError, match="backward got 1 grad_tensors for 2 tensors"):
        cr.autograd.backward([x.exp(), x.sin()], [w])


def _f(x: Any) -> Any:
    return (x.sin() * x).sum()


def _g(x: Any, y: Any) -> Any:
    return (x.exp() * y).sum() + (x * x * y).sum()


FUNCTIONAL: list[tuple[str, Callable[[Any, Any], Any], Callable[[Any], Any]]] = [
    ("jacobian", lambda F, x: F.jacobian(lambda v: v.sin() * v[0], x), lambda a: a(M[0])),
    ("jacobian tuple", lambda F, xy: F.jacobian(lambda x, y: x * y.sum(), xy), lambda a: (a(M[0]), a(M[1]))),
    ("hessian", lambda F, x: F.hessian(_f, x), lambda a: a(M[0])),
    ("hessian tuple", lambda F, xy: F.hessian(_g, xy), lambda a: (a(M[0]), a(M[1]))),
    ("vjp", lambda F, x: F.vjp(lambda v: v.exp(), x, x.cos()), lambda a: a(M)),
    ("vjp scalar", lambda F, x: F.vjp(_f, x), lambda a: a(M)),
    ("vjp tuple", lambda F, xy: F.vjp(_g, xy), lambda a: (a(M[0]), a(M[1]))),
    ("jvp", lambda F, x: F.jvp(lambda v: v.exp() * v.sum(), x, x.cos()), lambda a: a(M)),
    ("jvp scalar", lambda F, x: F.jvp(lambda v: v * v.sin(), x), lambda a: a(M[0, 0])),
    ("jvp tuple", lambda F, xy: F.jvp(lambda x, y: x * y, xy, (xy[1], xy[0])), lambda a: (a(M[0]), a(M[1]))),
    ("hvp", lambda F, x: F.hvp(_f, x, x.cos()), lambda a: a(M[0])),
    ("hvp tuple", lambda F, xy: F.hvp(_g, xy, xy), lambda a: (a(M[0]), a(M[1]))),
    ("vhp", lambda F, x: F.vhp(_f, x, x * 2), lambda a: a(M[0])),
]


def _flat(out: Any) -> list[Any]:
    return [leaf for o in out for leaf in _flat(o)] if isinstance(out, tuple) else [out]


@pytest.mark.parametrize(("name", "call", "inputs"), FUNCTIONAL, ids=[f[0] for f in FUNCTIONAL])
def test_autograd_functional_as_pytorch(name: str, call: Callable[[Any, Any], Any],
                                        inputs: Callable[[Any], Any]) -> None:
    ours = call(cr.autograd.functional, inputs(cr.tensor))
    theirs = call(torch.autograd.functional, inputs(torch.tensor))
    assert isinstance(ours, tuple) == isinstance(theirs, tuple)
    mine, ref = _flat(ours), _flat(theirs)
    assert len(mine) == len(ref)
    for o, r in zip(mine, ref):
        assert isinstance(o, cr.Tensor) and not o.requires_grad
        np.testing.assert_allclose(o.data, r.detach().numpy(), rtol=1e-13, atol=1e-14)


def test_autograd_functional_refuses_what_it_does_not_offer() -> None:
    with pytest.raises(NotImplementedError, match="jacobian: create_graph= and strict= are not offered"):
        cr.autograd.functional.jacobian(cr.sin, cr.tensor(M), create_graph=True)
    with pytest.raises(ValueError, match="vjp: v= is needed unless the output is a single number"):
        cr.autograd.functional.vjp(cr.sin, cr.tensor(M))
    with pytest.raises(ValueError, match="jvp: v= is needed unless the input is a single number"):
        cr.autograd.functional.jvp(cr.sin, cr.tensor(M))


# ---- dtypes ----------------------------------------------------------------------------------------------------------
def test_dtype_names_are_numpy_dtypes() -> None:
    assert (cr.float16, cr.float32, cr.float64) == (np.float16, np.float32, np.float64)
    assert (cr.int8, cr.int16, cr.int32, cr.int64, cr.uint8, cr.bool) == (
        np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_)


@pytest.mark.parametrize(("spec", "expected"), [
    ("float32", np.float32), ("float64", np.float64), ("float16", np.float16), ("int32", np.int32),
    ("int64", np.int64), ("bool", np.bool_), ("double", np.float64), ("half", np.float16), ("f4", np.float32),
    ("float", np.float64),  # a bare name is NumPy's: float64
    ("torch.float", np.float32), ("torch.float32", np.float32), ("torch.double", np.float64),
    ("torch.half", np.float16), ("torch.long", np.int64), ("torch.int", np.int32), ("torch.short", np.int16),
    ("torch.bool", np.bool_), ("torch.uint8", np.uint8), (torch.float32, np.float32), (torch.long, np.int64),
    (torch.bool, np.bool_), (cr.float16, np.float16), (np.dtype("int8"), np.int8),
])
def test_a_dtype_is_taken_in_every_spelling_everywhere(spec: Any, expected: Any) -> None:
    want = np.dtype(expected)
    assert as_dtype(spec) == want
    made = [cr.tensor([1, 0], dtype=spec), cr.zeros(2, dtype=spec), cr.ones(2, dtype=spec),
            cr.full((2,), 1, dtype=spec), cr.arange(2, dtype=spec), cr.eye(2, dtype=spec),
            cr.linspace(0, 1, 2, dtype=spec), cr.zeros_like(cr.zeros(2), dtype=spec),
            cr.ones_like(cr.zeros(2), dtype=spec), cr.full_like(cr.zeros(2), 1, dtype=spec),
            cr.tensor([1.0]).astype(spec), cr.tensor([1.0]).to(spec), cr.tensor([1.0]).to(dtype=spec),
            cr.tensor([1.0]).new_zeros(2, dtype=spec), cr.as_tensor(np.zeros(2), dtype=spec)]
    if want.kind == "f":
        made += [cr.randn(2, dtype=spec), cr.rand(2, dtype=spec), cr.randn_like(cr.zeros(2), dtype=spec)]
    if want.kind in "iu":
        made += [cr.randint(0, 2, size=(2,), dtype=spec)]
    for t in made:
        assert t.dtype == want, (spec, t)


# ---- missing names -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "hint"), [("narrow", "getitem (x[a:b])"), ("masked_select", "getitem (x[mask])"),
                                            ("nonzero", "np.nonzero"), ("unbind", "list(x)")])
def test_a_pytorch_name_chainrule_spells_otherwise_says_how(name: str, hint: str) -> None:
    x = cr.zeros(3)
    with pytest.raises(AttributeError, match="^" + re.escape(f"'Tensor' object has no attribute '{name}' (PyTorch's "
                                                             f"name; chainrule's is '{hint}')")):
        getattr(x, name)
    assert not hasattr(x, name) and not hasattr(cr.Tensor, name)


def test_a_misspelt_attribute_gets_python_s_own_suggestion() -> None:
    """Python (3.10 and later) suggests the closest attribute when it prints an AttributeError, from the error's
    name and object: no Tensor.__getattr__ is needed, which would slow every attribute access."""
    assert "__getattr__" not in vars(cr.Tensor)
    done = subprocess.run([sys.executable, "-c", "import chainrule as cr; cr.zeros(2).sumn"], capture_output=True,
                          text=True, env={"PYTHONPATH": cr.__path__[0].rsplit("/", 1)[0]}, check=False)
    assert "'Tensor' object has no attribute 'sumn'. Did you mean: 'sum'?" in done.stderr


def test_logical_operators_as_pytorch() -> None:
    a, b = X > 0, Y > 0.5
    x, y, t, u = cr.tensor(a), cr.tensor(b), torch.tensor(a), torch.tensor(b)
    for ours, theirs in [(x & y, t & u), (x | y, t | u), (x ^ y, t ^ u), (~x, ~t), (a & y, t & u), (x | b, t | u)]:
        assert ours.dtype == np.bool_ and not ours.requires_grad
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    np.testing.assert_array_equal((cr.arange(4) & 1).data, (torch.arange(4) & 1).numpy())


# ---- on a device: the CuPy stand-in (tests/stand_in_gpu.py) gives what the host gives -----------------------------
# each builds a host tensor (or mask) to meet, or moves the result to the host
HOST_ONLY = {"view_as", "to other", "type_as", "in place into a constant", "masked_fill broadcast mask", "cpu",
             "to device and dtype"}


@pytest.mark.parametrize(("name", "ours", "inputs"), [(c[0], c[1], c[3]) for c in CASES if c[0] not in HOST_ONLY],
                         ids=[c[0] for c in CASES if c[0] not in HOST_ONLY])
def test_on_a_device_as_on_the_host(name: str, ours: Callable[..., Any],
                                    inputs: tuple[np.ndarray[Any, Any], ...]) -> None:
    found = []
    for device in ("cpu", "cuda"):
        with backend.use_provider(provider):
            xs = [cr.tensor(a, requires_grad=True, device=device) for a in inputs]
            outs = _outputs(ours(*xs))
            loss: Any = 0.0
            for o in outs:
                assert o.device == xs[0].device, name
                if o.requires_grad:
                    loss = loss + (o * cr.tensor(np.cos(np.arange(o.size)).reshape(o.shape), device=device)).sum()
            if isinstance(loss, cr.Tensor):
                loss.backward()
            found.append([o.cpu().numpy() for o in outs] + [x.grad.cpu().numpy() for x in xs if x.grad is not None])
    assert len(found[0]) == len(found[1])
    for host, device_values in zip(*found):
        np.testing.assert_allclose(device_values, host, rtol=1e-13, atol=1e-14)
