"""PyTorch's spellings of axis arguments (issue 12): ``dim=``/``keepdim=`` (and ``dim1=``/``dim2=``) wherever NumPy's
``axis=``/``keepdims=`` (``axis1=``/``axis2=``) are taken, and the NumPy spelling in ``cr.nn.functional``, which spells
them PyTorch's way. Generated from one table of calls: the other spelling gives the same values and gradients, both
spellings of one argument are refused in the function's name, and every public function taking an axis is in the
table. A few calls are compared with PyTorch itself."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import chainrule as cr
from chainrule.nn import functional as F
from chainrule.primitive import REGISTRY, Primitive
from chainrule.spelling import SPELLINGS, both_spellings

OTHER = {a: b for pair in SPELLINGS for a, b in (pair, pair[::-1])}  # each spelling to the other
WRAPPER = both_spellings(lambda axis=None: axis).__code__  # what every decorated function runs first
# swapaxes(x, axis1, axis2) keeps NumPy's names alone: PyTorch's swapaxes names them axis0, axis1, and its
# transpose dim0, dim1, so neither of its spellings is a rename of NumPy's
NOT_RESPELLED = {"swapaxes", "Tensor.swapaxes"}


def _draw(*shape: int, seed: int = 0) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).standard_normal(shape)


A, B = _draw(2, 3, 4), _draw(2, 3, 4, seed=1)
IDX = np.argsort(_draw(2, 3, 4, seed=2), axis=2)  # each row a permutation (scatter refuses repeats)

# (name in error messages, function, positional arguments, keyword arguments in the function's own spelling)
Case = tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]
FUNCTIONS: list[Case] = [
    ("mean", cr.mean, (A,), {"axis": 1, "keepdims": True}),
    ("var", cr.var, (A,), {"axis": (0, 2), "ddof": 1, "keepdims": True}),
    ("std", cr.std, (A,), {"axis": -1}),
    ("take", cr.take, (A, [2, 0, 2]), {"axis": 1}),
    ("take_along_axis", cr.take_along_axis, (A, np.array([[[1, 0, 3]]])), {"axis": 2}),
    ("expand_dims", cr.expand_dims, (A,), {"axis": (0, -1)}),
    ("squeeze", cr.squeeze, (_draw(2, 1, 3),), {"axis": 1}),
    ("concatenate", cr.concatenate, ([A, B[:, :1]],), {"axis": 1}),
    ("stack", cr.stack, ([A, B],), {"axis": -1}),
    ("split", cr.split, (A, [1, 3]), {"axis": 2}),
    ("flip", cr.flip, (A,), {"axis": (0, 2)}),
    ("roll", cr.roll, (A, 1), {"axis": 2}),
    ("repeat", cr.repeat, (A, 2), {"axis": 0}),
    ("diagonal", cr.diagonal, (A,), {"offset": 1, "axis1": 2, "axis2": 1}),
    ("trace", cr.trace, (A,), {"axis1": 0, "axis2": 2}),
    ("norm", cr.linalg.norm, (A,), {"axis": (1, 2), "keepdims": True}),
    ("vector_norm", cr.linalg.vector_norm, (A,), {"axis": (0, 2), "keepdims": True, "ord": 3}),
    ("matrix_norm", cr.linalg.matrix_norm, (A,), {"keepdims": True, "ord": "nuc"}),
    ("normalize", F.normalize, (A,), {"dim": 2}),
    ("softmax", F.softmax, (A,), {"dim": 0}),
    ("softmin", F.softmin, (A,), {"dim": 1}),
    ("log_softmax", F.log_softmax, (A,), {"dim": -1}),
    ("cosine_similarity", F.cosine_similarity, (A, B), {"dim": 1}),
    ("append", cr.append, (A, B), {"axis": 2}),
    ("cross", cr.cross, (A[..., :3], B[:, :, 1:]), {"axis": 1}),
    ("diff", cr.diff, (A,), {"n": 2, "axis": 0}),
    ("gradient", cr.gradient, (A,), {"axis": 2}),
    ("sort", cr.sort, (A,), {"axis": 1}),
    ("argsort", cr.argsort, (A,), {"axis": 0}),
    ("partition", cr.partition, (A, 1), {"axis": 2}),
    ("argpartition", cr.argpartition, (A, 2), {"axis": 1}),
    ("topk", cr.topk, (A, 2), {"dim": 0}),
    ("pairwise_distance", F.pairwise_distance, (A, B), {"keepdim": True}),
    # reductions with NumPy's calling conventions (ops/reduce.py) and statistics (ops/statistics.py)
    ("sum", cr.sum, (A,), {"axis": (0, 2), "keepdims": True, "where": A > 0}),
    ("prod", cr.prod, (A,), {"axis": 1, "keepdims": True}),
    ("max", cr.max, (A,), {"axis": 1, "initial": 0.5}),
    ("min", cr.min, (A,), {"axis": -1, "keepdims": True}),
    ("logsumexp", cr.logsumexp, (A,), {"axis": 1, "b": np.abs(B), "keepdims": True}),
    ("cumsum", cr.cumsum, (A,), {"axis": 1}),
    ("cumprod", cr.cumprod, (A,), {"axis": -1}),
    ("cumulative_sum", cr.cumulative_sum, (A,), {"axis": 1}),
    ("cumulative_prod", cr.cumulative_prod, (A,), {"axis": 2}),
    ("quantile", cr.quantile, (A, [0.2, 0.7]), {"axis": (0, 2), "keepdims": True}),
    ("percentile", cr.percentile, (A, 30.0), {"axis": 1}),
    ("median", cr.median, (A,), {"axis": -1, "keepdims": True}),
    ("nanquantile", cr.nanquantile, (A, 0.4), {"axis": 0}),
    ("nanpercentile", cr.nanpercentile, (A, 90.0), {"axis": 2, "keepdims": True}),
    ("nanmedian", cr.nanmedian, (A,), {"axis": (1, 2)}),
    ("nansum", cr.nansum, (A,), {"axis": 1, "keepdims": True}),
    ("nanprod", cr.nanprod, (A,), {"axis": 0}),
    ("nancumsum", cr.nancumsum, (A,), {"axis": 2}),
    ("nancumprod", cr.nancumprod, (A,), {"axis": 1}),
    ("nanmean", cr.nanmean, (A,), {"axis": (0, 1), "keepdims": True}),
    ("nanvar", cr.nanvar, (A,), {"axis": 2, "ddof": 1}),
    ("nanstd", cr.nanstd, (A,), {"axis": 0, "keepdims": True}),
    ("nanmax", cr.nanmax, (A,), {"axis": 1}),
    ("all", cr.all, (A > 0,), {"axis": 1, "keepdims": True}),
    ("any", cr.any, (A > 0.5,), {"axis": (0, 2)}),
    ("nanmin", cr.nanmin, (A,), {"axis": -1, "keepdims": True}),
    ("average", cr.average, (A,), {"axis": 1, "weights": np.arange(1.0, 4.0), "keepdims": True}),
    ("ptp", cr.ptp, (A,), {"axis": 2, "keepdims": True}),
    ("trapezoid", cr.trapezoid, (A,), {"axis": 1, "dx": 0.5}),
    # more of NumPy's functions (issue 10)
    ("array_split", cr.array_split, (A, 3), {"axis": 2}),
    ("unstack", cr.unstack, (A,), {"axis": 1}),
    ("rollaxis", cr.rollaxis, (A, 2), {"start": 1}),
    ("delete", cr.delete, (A, [0, 2]), {"axis": 1}),
    ("insert", cr.insert, (A, 1, B[:, :, 0]), {"axis": 2}),
    ("trim_zeros", cr.trim_zeros, (np.pad(A, 1),), {"axis": (0, 2)}),
    ("logspace", cr.logspace, (A[0], B[0], 3), {"axis": 1}),
    ("geomspace", cr.geomspace, (np.abs(A[0]) + 1, np.abs(B[0]) + 2, 3), {"axis": -1}),
    ("unwrap", cr.unwrap, (A * 3,), {"axis": 1}),
    ("compress", cr.compress, ([True, False, True], A), {"axis": 1}),
    ("unique", cr.unique, (np.concatenate([A, A[:1]]),), {"axis": 0, "return_counts": True}),
    ("vecdot", cr.vecdot, (A, B), {"axis": 0}),
    ("vecdot", cr.linalg.vecdot, (A, B), {"axis": 1}),
    ("cross", cr.linalg.cross, (A[:, :3], B[:, :3]), {"axis": 1}),
]
# Tensor methods, called unbound (cr.Tensor.sum(x, ...)): name -> (input, further arguments, keyword arguments)
METHODS: dict[str, tuple[np.ndarray[Any, Any], tuple[Any, ...], dict[str, Any]]] = {
    "sort": (A, (), {"dim": 1, "descending": True}),
    "argsort": (A, (), {"dim": 0}),
    "topk": (A, (2,), {"dim": 2}),
    "sum": (A, (), {"axis": 1, "keepdims": True}),
    "mean": (A, (), {"axis": (0, 2)}),
    "prod": (A, (), {"axis": -1, "keepdims": True}),
    "var": (A, (), {"axis": 0, "ddof": 1}),
    "std": (A, (), {"axis": 2, "keepdims": True}),
    "max": (A, (), {"axis": 1, "keepdims": True}),
    "min": (A, (), {"axis": (0, 1)}),
    "argmax": (A, (), {"axis": 2, "keepdims": True}),
    "argmin": (A, (), {"axis": 0}),
    "all": (A > 0, (), {"axis": 1, "keepdims": True}),
    "any": (A > 1, (), {"axis": 0}),
    "cumsum": (A, (), {"axis": 1}),
    "cumprod": (A, (), {"axis": -1}),
    "squeeze": (_draw(2, 1, 3), (), {"axis": 1}),
    "repeat_interleave": (A, ([1, 2, 3],), {"dim": 1}),
    "unsqueeze": (A, (), {"dim": 1}),
    "softmax": (A, (), {"dim": 0}),
    "log_softmax": (A, (), {"dim": 2}),
    "amax": (A, (), {"axis": (0, 2), "keepdims": True}),
    "amin": (A, (), {"axis": 1}),
    "norm": (A, (3,), {"dim": (1, 2), "keepdim": True}),
    "gather": (A, (), {"dim": 1, "index": IDX[:, :2] % 3}),
    "scatter": (A, (), {"dim": 2, "index": IDX[:, :, 1:], "src": B}),
    "scatter_add": (A, (), {"dim": 0, "index": IDX[:1] % 2, "src": B}),
    "index_select": (A, (), {"dim": 2, "index": [3, 3, 0]}),
    "chunk": (A, (2,), {"dim": 2}),
    "split": (A, ([1, 2],), {"dim": 1}),
    "take": (A, ([0, 2],), {"axis": 2}),
    "diagonal": (A, (), {"axis1": 0, "axis2": 2}),
    "trace": (A, (), {"offset": -1, "axis1": 1, "axis2": 2}),
}
# PyTorch's functions (chainrule.torch_names), spelt PyTorch's way
TORCH_FUNCTIONS: list[Case] = [
    ("cat", cr.cat, ([A, B[:1]],), {"dim": 0}),
    ("unsqueeze", cr.unsqueeze, (A,), {"dim": -2}),
    ("gather", cr.gather, (A,), {"dim": 2, "index": IDX}),
    ("scatter", cr.scatter, (A,), {"dim": 2, "index": IDX[:, :, :2], "src": B}),
    ("index_select", cr.index_select, (A,), {"dim": 1, "index": [2, 0, 2]}),
]
METHOD_CASES: list[Case] = [(f"Tensor.{name}", getattr(cr.Tensor, name), (x, *rest), kw)
                            for name, (x, rest, kw) in METHODS.items()]


def _primitive_cases() -> Iterator[Case]:
    """Every primitive that takes an axis, on each of its own samples that passes one (the registry's table)."""
    rng = np.random.default_rng(0)
    for prim in REGISTRY.values():
        if prim.renames:
            for sample in prim.samples(rng) if prim.samples else ():
                if prim.renames.values() & sample.kwargs.keys():
                    yield prim.name, prim, sample.args, sample.kwargs


PRIMITIVE_CASES = list(_primitive_cases())
CASES = FUNCTIONS + TORCH_FUNCTIONS + METHOD_CASES + PRIMITIVE_CASES
IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(CASES)]


def respelled(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with every argument that has two spellings in the other one."""
    return {OTHER.get(k, k): v for k, v in kwargs.items()}


def _leaves(a: Any) -> Any:
    """Arrays as tensors (floating ones requiring grad), inside lists too; anything else as it is."""
    if isinstance(a, list):
        return [_leaves(e) for e in a]
    if isinstance(a, np.ndarray):
        return cr.tensor(a, requires_grad=a.dtype.kind == "f")
    return a


def _tensors(a: Any) -> list[Any]:
    return [t for e in a for t in _tensors(e)] if isinstance(a, (list, tuple)) else [a] * isinstance(a, cr.Tensor)


def run(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[np.ndarray[Any, Any]]:
    """The values of ``fn(*args, **kwargs)``, then the gradient of a fixed weighted sum of them with respect to
    every floating input."""
    leaves = [_leaves(a) for a in args]
    out = fn(*leaves, **kwargs)
    outs = out if isinstance(out, (list, tuple)) else [out]  # topk gives a pair
    found = [np.asarray(o.data) for o in outs]
    loss: Any = 0.0
    for o in outs:
        if o.requires_grad:  # weights that differ entry by entry, so a gradient in the wrong place shows
            loss = loss + (o * np.cos(np.arange(o.size)).reshape(o.shape)).sum()
    if isinstance(loss, cr.Tensor):
        loss.backward()
    return found + [np.asarray(t.grad.data) for t in _tensors(leaves) if t.requires_grad and t.grad is not None]


@pytest.mark.parametrize(("name", "fn", "args", "kwargs"), CASES, ids=IDS)
def test_other_spelling_gives_the_same_values_and_gradients(name: str, fn: Callable[..., Any], args: tuple[Any, ...],
                                                            kwargs: dict[str, Any]) -> None:
    expected, got = run(fn, args, kwargs), run(fn, args, respelled(kwargs))
    assert len(got) == len(expected) > 0
    for e, g in zip(expected, got):  # one computation either way; LAPACK (matrix_norm's SVD) may differ by an ulp
        np.testing.assert_allclose(g, e, rtol=1e-14, atol=0)


@pytest.mark.parametrize(("name", "fn", "args", "kwargs"), CASES, ids=IDS)
def test_both_spellings_are_refused_by_name(name: str, fn: Callable[..., Any], args: tuple[Any, ...],
                                            kwargs: dict[str, Any]) -> None:
    for key in kwargs.keys() & OTHER.keys():
        both = {**kwargs, OTHER[key]: kwargs[key]}
        with pytest.raises(TypeError, match=rf"^{re.escape(name)}\(\) got both {key}= and {OTHER[key]}= |"
                                            rf"^{re.escape(name)}\(\) got both {OTHER[key]}= and {key}= "):
            fn(*[_leaves(a) for a in args], **both)


@pytest.mark.parametrize(("name", "fn", "other"), [("sum", cr.sum, "dim"), ("mean", cr.mean, "dim"),
                                                   ("softmax", F.softmax, "axis"),
                                                   ("Tensor.cumsum", cr.Tensor.cumsum, "dim")])
def test_one_axis_given_by_position_and_by_keyword_is_refused_by_name(name: str, fn: Callable[..., Any],
                                                                      other: str) -> None:
    with pytest.raises(TypeError, match=rf"^{re.escape(name)}\(\) got multiple values for argument"):
        fn(cr.tensor(A), 0, **{other: 1})


def _public() -> Iterator[tuple[str, Any]]:
    """The public functions and Tensor methods, by the name their errors use."""
    for namespace in (cr, cr.linalg, F):
        for name in getattr(namespace, "__all__", dir(namespace)):
            obj = getattr(namespace, name)
            if inspect.isfunction(obj) or isinstance(obj, Primitive):
                yield name, obj
    for name, obj in vars(cr.Tensor).items():
        if inspect.isfunction(obj) and not name.startswith("_"):
            yield f"Tensor.{name}", obj


def test_every_public_function_taking_an_axis_takes_both_spellings_and_is_tested() -> None:
    tested = {id(fn) for _, fn, _, _ in CASES}
    spelt = set(OTHER)
    for name, obj in _public():
        if isinstance(obj, Primitive):
            takes = bool(obj.renames)
        else:
            takes = bool(spelt & inspect.signature(obj).parameters.keys()) and name not in NOT_RESPELLED
            assert (obj.__code__ is WRAPPER) == takes, f"{name}: takes an axis but not both spellings, or the reverse"
        assert id(obj) in tested or not takes, f"{name} takes both spellings but is not in this module's table"


@pytest.mark.parametrize(("name", "fn"), [(n, f) for n, f in _public() if getattr(f, "__code__", None) is WRAPPER])
def test_the_signature_and_docstring_stay_the_function_own(name: str, fn: Any) -> None:
    assert inspect.signature(fn) == inspect.signature(fn.__wrapped__)
    assert fn.__doc__ == fn.__wrapped__.__doc__ and fn.__name__ == fn.__wrapped__.__name__


def test_max_with_dim_returns_the_values_only_and_says_so() -> None:
    x = cr.tensor(A)
    np.testing.assert_array_equal(x.max(dim=1).data, A.max(axis=1))
    assert "values only" in (cr.Tensor.max.__doc__ or "") and "values only" in (cr.Tensor.min.__doc__ or "")


def test_a_function_without_an_axis_cannot_be_decorated() -> None:
    with pytest.raises(TypeError, match=r"^both_spellings: .* takes none of axis, dim"):
        both_spellings(lambda x, shape: x)


def test_primitives_respell_inside_transforms() -> None:
    """Under cr.grad and cr.jvp a primitive takes the nested path, after the same keyword check."""
    w = np.cos(np.arange(4.0))

    def f(spell: dict[str, Any]) -> Callable[[Any], Any]:
        return lambda x: cr.sum(cr.logsumexp(x, **spell) * w)

    for transform in (lambda g: cr.grad(g)(A), lambda g: cr.jvp(g, (A,), (B,))[1]):
        np.testing.assert_array_equal(np.asarray(transform(f({"dim": 0}))), np.asarray(transform(f({"axis": 0}))))
    with pytest.raises(TypeError, match=r"^logsumexp\(\) got both axis= and dim="):
        cr.grad(lambda x: cr.sum(cr.logsumexp(x, axis=0, dim=0)))(A)


# ---- against PyTorch: its spelling in chainrule, the values and gradients PyTorch gives ---------------------------
TORCH: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = [
    ("sum dim keepdim", lambda x: cr.sum(x, dim=1, keepdim=True), lambda t: torch.sum(t, dim=1, keepdim=True)),
    ("sum axis (PyTorch's alias)", lambda x: cr.sum(x, axis=(0, 2)), lambda t: torch.sum(t, axis=(0, 2))),
    ("softmax", lambda x: cr.softmax(x, dim=0), lambda t: torch.softmax(t, dim=0)),
    ("logsumexp", lambda x: cr.logsumexp(x, dim=-1), lambda t: torch.logsumexp(t, dim=-1)),
    ("Tensor.mean", lambda x: x.mean(dim=(0, 2), keepdim=True), lambda t: t.mean(dim=(0, 2), keepdim=True)),
    ("Tensor.var", lambda x: x.var(dim=1, ddof=1), lambda t: t.var(dim=1)),
    ("Tensor.max is amax", lambda x: x.max(dim=2, keepdim=True), lambda t: t.amax(dim=2, keepdim=True)),
    ("Tensor.cumsum", lambda x: x.cumsum(dim=1), lambda t: t.cumsum(dim=1)),
    ("Tensor.squeeze", lambda x: x[:, :1].squeeze(dim=1), lambda t: t[:, :1].squeeze(dim=1)),
    ("Tensor.diagonal", lambda x: x.diagonal(dim1=0, dim2=2), lambda t: t.diagonal(dim1=0, dim2=2)),
    ("vector_norm", lambda x: cr.linalg.vector_norm(x, dim=(1, 2), keepdim=True),
     lambda t: torch.linalg.vector_norm(t, dim=(1, 2), keepdim=True)),
    ("F.log_softmax axis", lambda x: F.log_softmax(x, axis=1), lambda t: TF.log_softmax(t, dim=1)),
    ("F.normalize axis", lambda x: F.normalize(x, axis=0), lambda t: TF.normalize(t, dim=0)),
    ("F.cosine_similarity axis", lambda x: F.cosine_similarity(x, x * x, axis=2),
     lambda t: TF.cosine_similarity(t, t * t, dim=2)),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), TORCH, ids=[row[0] for row in TORCH])
def test_pytorch_spelling_against_pytorch(name: str, ours: Callable[[Any], Any], theirs: Callable[[Any], Any]) -> None:
    x, t = cr.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    out, ref = ours(x), theirs(t)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    cot = np.cos(np.arange(ref.numel())).reshape(tuple(ref.shape))
    out.backward(cot)
    ref.backward(torch.tensor(cot))
    assert x.grad is not None and t.grad is not None
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-14)
