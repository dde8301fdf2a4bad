"""cr.nn's loss modules against torch.nn's (same inputs, same options, float64): forward values and the gradients of
every floating input, for every reduction and each module's options; the new functional losses by gradcheck; buffers,
legacy arguments and refusals."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import backend
from chainrule.nn import functional as F
from stand_in_gpu import provider

RTOL, ATOL = 1e-10, 1e-12
REDUCTIONS = ("mean", "sum", "none")


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _torch_value(v: Any) -> Any:
    return torch.from_numpy(v) if isinstance(v, np.ndarray) else v


def compare_modules(name: str, kwargs: dict[str, Any], *arrays: np.ndarray[Any, Any], seed: int = 0) -> None:
    """cr.nn.<name>(**kwargs) and torch.nn.<name>(**kwargs) on the same arrays: values and every float gradient."""
    ours = getattr(cr.nn, name)(**{k: cr.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    theirs = getattr(torch.nn, name)(**{k: _torch_value(v) for k, v in kwargs.items()})
    floats = [a.dtype.kind == "f" for a in arrays]
    cr_args = [cr.tensor(a, requires_grad=f) for a, f in zip(arrays, floats)]
    th_args = [torch.tensor(a, requires_grad=f) for a, f in zip(arrays, floats)]
    out, ref = ours(*cr_args), theirs(*th_args)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    cot = _rng(seed + 99).standard_normal(tuple(ref.shape))
    out.backward(cot)
    ref.backward(torch.tensor(cot))
    for i, (a, t, f) in enumerate(zip(cr_args, th_args, floats)):
        if f:
            expected = np.zeros(a.shape) if t.grad is None else t.grad.numpy()
            np.testing.assert_allclose(a.grad.data, expected, rtol=RTOL, atol=ATOL, err_msg=f"gradient of input {i}")


def _classes(n: int, c: int, seed: int = 1, extra: tuple[int, ...] = ()) -> np.ndarray[Any, Any]:
    return _rng(seed).integers(0, c, size=(n, *extra))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"ignore_index": 2}, {"label_smoothing": 0.2},
                                  {"weight": True, "ignore_index": 0, "label_smoothing": 0.1}], ids=str)
@pytest.mark.parametrize("extra", [(), (3,)], ids=["NC", "NCd"])
def test_cross_entropy_loss_with_classes(reduction: str, opts: dict[str, Any], extra: tuple[int, ...]) -> None:
    kw = dict(opts, reduction=reduction)
    if kw.pop("weight", False):
        kw["weight"] = _rng(5).uniform(0.5, 2.0, 4)
    x = _rng(0).standard_normal((5, 4, *extra))
    compare_modules("CrossEntropyLoss", kw, x, _classes(5, 4, extra=extra))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"label_smoothing": 0.3}], ids=str)
def test_cross_entropy_loss_with_probabilities(reduction: str, opts: dict[str, Any]) -> None:
    kw = dict(opts, reduction=reduction)
    if kw.pop("weight", False):
        kw["weight"] = _rng(5).uniform(0.5, 2.0, 3)
    p = _rng(2).dirichlet(np.ones(3), size=4)
    compare_modules("CrossEntropyLoss", kw, _rng(0).standard_normal((4, 3)), p)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"ignore_index": 1}, {"weight": True, "ignore_index": 3}],
                         ids=str)
def test_nll_loss(reduction: str, opts: dict[str, Any]) -> None:
    kw = dict(opts, reduction=reduction)
    if kw.pop("weight", False):
        kw["weight"] = _rng(5).uniform(0.5, 2.0, 4)
    logp = np.log(_rng(0).dirichlet(np.ones(4), size=6))
    compare_modules("NLLLoss", kw, logp, _classes(6, 4))
    spatial = np.log(_rng(1).dirichlet(np.ones(4), size=(3, 2))).transpose(0, 2, 1)  # (N, C, d)
    compare_modules("NLLLoss", kw, np.ascontiguousarray(spatial), _classes(3, 4, extra=(2,)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name,kw", [("MSELoss", {}), ("L1Loss", {}), ("SmoothL1Loss", {}),
                                     ("SmoothL1Loss", {"beta": 0.3}), ("SmoothL1Loss", {"beta": 0.0}),
                                     ("HuberLoss", {}), ("HuberLoss", {"delta": 0.4})], ids=str)
def test_regression_losses(name: str, kw: dict[str, Any], reduction: str) -> None:
    x, y = _rng(0).standard_normal((3, 4)), _rng(1).standard_normal((3, 4))
    compare_modules(name, dict(kw, reduction=reduction), x, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight_shape", [None, (3, 4), (4,)], ids=str)
def test_bce_loss(reduction: str, weight_shape: tuple[int, ...] | None) -> None:
    kw: dict[str, Any] = {"reduction": reduction}
    if weight_shape is not None:
        kw["weight"] = _rng(3).uniform(0.5, 2.0, weight_shape)
    p, y = _rng(0).uniform(0.05, 0.95, (3, 4)), _rng(1).uniform(0, 1, (3, 4))
    compare_modules("BCELoss", kw, p, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted,pos_weighted", list(itertools.product([False, True], repeat=2)))
def test_bce_with_logits_loss(reduction: str, weighted: bool, pos_weighted: bool) -> None:
    kw: dict[str, Any] = {"reduction": reduction}
    if weighted:
        kw["weight"] = _rng(3).uniform(0.5, 2.0, (1, 4))
    if pos_weighted:
        kw["pos_weight"] = _rng(4).uniform(0.5, 3.0, 4)
    x, y = 3 * _rng(0).standard_normal((3, 4)), _rng(1).uniform(0, 1, (3, 4))
    compare_modules("BCEWithLogitsLoss", kw, x, y)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")  # torch's own note
@pytest.mark.parametrize("reduction", (*REDUCTIONS, "batchmean"))
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_loss(reduction: str, log_target: bool) -> None:
    logp = np.log(_rng(0).dirichlet(np.ones(5), size=3))
    t = _rng(1).dirichlet(np.ones(5), size=3)
    compare_modules("KLDivLoss", {"reduction": reduction, "log_target": log_target}, logp,
                    np.log(t) if log_target else t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
@pytest.mark.parametrize("rows", [True, False], ids=["ND", "D"])
def test_cosine_embedding_loss(reduction: str, margin: float, rows: bool) -> None:
    shape = (6, 4) if rows else (4,)
    a, b = _rng(0).standard_normal(shape), _rng(1).standard_normal(shape)
    y = np.array([1, -1, -1, 1, -1, 1]) if rows else np.array(-1)
    compare_modules("CosineEmbeddingLoss", {"margin": margin, "reduction": reduction}, a, b, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_loss(reduction: str, margin: float) -> None:
    a, b = _rng(0).standard_normal(7), _rng(1).standard_normal(7)
    y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0, 1.0])
    compare_modules("MarginRankingLoss", {"margin": margin, "reduction": reduction}, a, b, y)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"margin": 2.0}, {"p": 1.0}, {"p": 3.0}, {"swap": True},
                                  {"margin": 0.5, "p": 1.5, "eps": 1e-3, "swap": True}], ids=str)
@pytest.mark.parametrize("rows", [True, False], ids=["ND", "D"])
def test_triplet_margin_loss(reduction: str, opts: dict[str, Any], rows: bool) -> None:
    shape = (5, 3) if rows else (3,)
    a, p, n = (_rng(s).standard_normal(shape) for s in range(3))
    compare_modules("TripletMarginLoss", dict(opts, reduction=reduction), a, p, n)


def test_margin_ranking_gradient_at_its_kink_is_torch_s() -> None:
    # -y (x1 - x2) + margin = 0 exactly: clamp_min passes the gradient there, and so does chainrule's hinge
    compare_modules("MarginRankingLoss", {"margin": 0.0}, np.array([1.0, 2.0]), np.array([1.0, 2.0]),
                    np.array([1.0, -1.0]))


@pytest.mark.parametrize("fn,arrays", [
    (lambda a, b: F.cosine_embedding_loss(a, b, np.array([1, -1, 1]), margin=-0.5), (3, 4)),
    (lambda a, b: F.margin_ranking_loss(a, b, np.array([1.0, -1.0, 1.0]), margin=0.1), (3,)),
    (lambda a, b: F.triplet_margin_loss(a, b, b[::-1] * 0.5, swap=True), (3, 4)),
    (lambda a, b: F.pairwise_distance(a, b, p=3.0), (3, 4)),
], ids=["cosine_embedding", "margin_ranking", "triplet", "pairwise_distance"])
def test_new_functional_losses_gradcheck(fn: Any, arrays: tuple[int, ...]) -> None:
    a, b = _rng(0).standard_normal(arrays), _rng(1).standard_normal(arrays)
    assert cr.gradcheck(fn, a, b, order=2, modes=("rev", "fwd"))


def test_pairwise_distance_matches_torch() -> None:
    a, b = _rng(0).standard_normal((4, 3)), _rng(1).standard_normal((4, 3))
    for p, keepdim in [(2.0, False), (1.0, True), (2.5, False)]:
        ours = F.pairwise_distance(a, b, p=p, keepdim=keepdim)
        theirs = torch.nn.functional.pairwise_distance(torch.tensor(a), torch.tensor(b), p=p, keepdim=keepdim)
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-12)


def test_weights_are_buffers_that_follow_the_module() -> None:
    w = np.array([1.0, 2.0, 0.5])
    loss = cr.nn.CrossEntropyLoss(weight=w)
    assert list(loss.state_dict()) == list(torch.nn.CrossEntropyLoss(weight=torch.tensor(w)).state_dict()) == [
        "weight"]
    assert list(cr.nn.BCEWithLogitsLoss(pos_weight=np.ones(3)).state_dict()) == ["pos_weight"]
    assert cr.nn.MSELoss().state_dict() == {} and list(cr.nn.NLLLoss().buffers()) == []
    assert loss.to(np.float32).weight.dtype == np.float32


def test_float32_stays_float32() -> None:
    x = cr.tensor(_rng(0).standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    out = cr.nn.CrossEntropyLoss(label_smoothing=0.1)(x, cr.tensor([0, 1, 2, 0]))
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


def test_legacy_arguments_set_the_reduction_once() -> None:
    with pytest.warns(DeprecationWarning, match="size_average and reduce are deprecated"):
        loss = cr.nn.MSELoss(size_average=False)
    assert loss.reduction == "sum" and repr(loss) == "MSELoss(reduction='sum')"
    with pytest.warns(DeprecationWarning):
        assert cr.nn.L1Loss(reduce=False).reduction == "none"


def test_refusals_name_the_loss() -> None:
    a = cr.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="triplet_margin_loss: margin must be greater than 0"):
        cr.nn.TripletMarginLoss(margin=0.0)(a, a, a)
    with pytest.raises(ValueError, match=r"cosine_embedding_loss: expected inputs of one shape"):
        cr.nn.CosineEmbeddingLoss()(a, a, cr.tensor([1, 1, 1]))
    with pytest.raises(TypeError, match="cosine_embedding_loss: the target only selects terms"):
        cr.nn.CosineEmbeddingLoss()(a, a, cr.tensor([1.0, -1.0], requires_grad=True))
    with pytest.raises(ValueError, match="margin_ranking_loss: input1, input2 and target must have the same number"):
        cr.nn.MarginRankingLoss()(cr.ones(3), cr.ones(3), cr.ones((3, 1)))
    with pytest.raises(ValueError, match="pairwise_distance: p must be a positive finite number"):
        F.pairwise_distance(a, a, p=0)
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        cr.nn.HuberLoss(reduction="avg")(a, a)


@pytest.mark.parametrize("name,kw,arrays", [
    ("CosineEmbeddingLoss", {"margin": 0.2}, ((4, 3), (4, 3), np.array([1, -1, 1, -1]))),
    ("MarginRankingLoss", {"margin": 0.1}, ((5,), (5,), np.array([1.0, -1.0, 1.0, 1.0, -1.0]))),
    ("TripletMarginLoss", {"swap": True, "p": 1.5}, ((4, 3), (4, 3), (4, 3))),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "weight": np.array([1.0, 2.0, 0.5])},
     ((4, 3), np.array([0, 2, 1, 0]))),
], ids=lambda v: v if isinstance(v, str) else "")
def test_on_a_device_as_on_the_host(name: str, kw: dict[str, Any], arrays: tuple[Any, ...]) -> None:
    values = [_rng(i).standard_normal(a) if isinstance(a, tuple) else a for i, a in enumerate(arrays)]
    host = [cr.tensor(v, requires_grad=v.dtype.kind == "f") for v in values]
    module = getattr(cr.nn, name)(**{k: cr.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()})
    expected = module(*host)
    expected.backward()
    with backend.use_provider(provider):
        on = [cr.tensor(v, device="cuda", requires_grad=h.requires_grad) for v, h in zip(values, host)]
        out = module.to("cuda")(*on)
        out.backward()
        assert out.device == "cuda:0"
        np.testing.assert_allclose(out.cpu().numpy(), expected.numpy(), rtol=1e-12)
        for h, d in zip(host, on):
            if h.requires_grad:
                np.testing.assert_allclose(d.grad.cpu().numpy(), h.grad.numpy(), rtol=1e-12, atol=1e-15)



@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_cross_entropy_checks_every_target_eager_and_at_every_compiled_run(dtype: Any) -> None:
    """Targets are checked in range (negative ones too), eagerly and at each replay of a compiled step, which also
    refuses one equal to ignore_index (eager ignores it); where they are fine, the loss is eager's."""
    x = cr.tensor(_rng(4).standard_normal((3, 4)))
    loss = cr.compile(lambda t, ignore: F.cross_entropy(x, t, ignore_index=ignore), static_argnums=1)
    good = np.array([0, 3, 1], dtype=dtype)
    for ignore in (-100, 2, 7):  # not a class, a class no target names, past the classes
        assert float(loss(good, ignore)) == float(F.cross_entropy(x, good, ignore_index=ignore))
    bad: list[tuple[list[int], int, Any, str]] = [([0, 4, 1], -100, IndexError, "target 4 is out of bounds"),
                                                 ([0, 3, 1], 3, ValueError, r"equal to ignore_index \(3\)")]
    if np.dtype(dtype).kind == "i":
        bad += [([0, -1, 1], -100, IndexError, "target -1 is out of bounds"),
                ([0, -100, 1], -100, ValueError, r"equal to ignore_index \(-100\)")]
    for targets, ignore, error, message in bad:
        with pytest.raises(error, match=message):
            loss(np.array(targets, dtype=dtype), ignore)
        if error is IndexError:
            with pytest.raises(error, match=message):
                F.cross_entropy(x, np.array(targets, dtype=dtype), ignore_index=ignore)
    np.testing.assert_allclose(float(F.cross_entropy(x, good, ignore_index=3)),
                               float(F.cross_entropy(x[[0, 2]], good[[0, 2]])), rtol=1e-15)
