"""CTC loss: values and gradients against torch.nn.functional.ctc_loss (blank, reductions, zero_infinity, padded and
concatenated targets, input and target lengths, repeated labels, unbatched input), cr.gradcheck to order 2 in both
modes, stability over long inputs, float32, and refusals.

chainrule's gradient with respect to ``log_probs`` is the exact derivative of the loss. PyTorch's native kernel
returns that plus ``exp(log_probs)`` on the frames inside each input length (a shortcut that assumes log_softmax
comes next, whose VJP removes any term of the form ``p · const``), so gradients are compared through log_softmax
of logits, the way CTC is used, and the direct difference is pinned separately."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import backend
from chainrule.nn import functional as F
from stand_in_gpu import provider

Array = np.ndarray[Any, Any]


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def compare(logits: Array, targets: Array, input_lengths: Any, target_lengths: Any, rtol: float = 1e-10,
            **kw: Any) -> None:
    """Loss and gradient with respect to the logits, through log_softmax, chainrule against torch."""
    x = cr.tensor(logits, requires_grad=True)
    out = F.ctc_loss(F.log_softmax(x, dim=-1), targets, input_lengths, target_lengths, **kw)
    xt = torch.tensor(logits, requires_grad=True)
    ref = torch.nn.functional.ctc_loss(xt.log_softmax(-1), torch.as_tensor(targets), torch.as_tensor(input_lengths),
                                       torch.as_tensor(target_lengths), **kw)
    assert out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=1e-12)
    cot = _rng(99).standard_normal(tuple(ref.shape))
    out.backward(cot)
    ref.backward(torch.tensor(cot))
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=rtol, atol=1e-12)


T, N, C = 10, 4, 5
LOGITS = 2 * _rng(0).standard_normal((T, N, C))
INPUT_LENGTHS = np.array([10, 7, 9, 10])
TARGET_LENGTHS = np.array([3, 0, 4, 2])
PADDED = np.array([[1, 1, 2, 0, 0], [0, 0, 0, 0, 0], [4, 3, 3, 1, 0], [2, 4, 0, 0, 0]])  # repeats need a blank


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_padded_targets_match_torch(reduction: str, zero_infinity: bool) -> None:
    compare(LOGITS, PADDED, INPUT_LENGTHS, TARGET_LENGTHS, reduction=reduction, zero_infinity=zero_infinity)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_concatenated_targets_match_torch(reduction: str) -> None:
    concatenated = np.concatenate([row[:n] for row, n in zip(PADDED, TARGET_LENGTHS)])
    compare(LOGITS, concatenated, INPUT_LENGTHS, TARGET_LENGTHS, reduction=reduction)


@pytest.mark.parametrize("blank", [2, C - 1])
def test_another_blank_matches_torch(blank: int) -> None:
    targets = np.where(PADDED == blank, (blank + 1) % C, PADDED)
    compare(LOGITS, targets, INPUT_LENGTHS, TARGET_LENGTHS, blank=blank, reduction="sum")


def test_unbatched_input_matches_torch() -> None:
    for reduction in ("mean", "sum", "none"):
        compare(LOGITS[:, 0], PADDED[0, :3], 10, 3, reduction=reduction)


def test_an_impossible_alignment_is_infinite_or_zeroed_as_torch() -> None:
    # two targets of length 4 with repeats need more frames than the input has
    targets, inputs, lengths = np.array([[1, 1, 1, 1], [1, 2, 3, 4]]), np.array([5, 3]), np.array([4, 4])
    logits = _rng(1).standard_normal((6, 2, C))
    compare(logits, targets, inputs, lengths, reduction="none", zero_infinity=True)
    compare(logits, targets, inputs, lengths, reduction="sum", zero_infinity=True)
    out = F.ctc_loss(F.log_softmax(cr.tensor(logits), dim=-1), targets, inputs, lengths, reduction="none")
    theirs = torch.nn.functional.ctc_loss(torch.tensor(logits).log_softmax(-1), torch.tensor(targets),
                                          torch.tensor(inputs), torch.tensor(lengths), reduction="none")
    assert np.isinf(out.data).tolist() == np.isinf(theirs.numpy()).tolist() == [True, True]


def test_a_long_input_is_computed_stably_in_log_space() -> None:
    # probabilities of every path underflow float64 many times over; the log-space recursion does not
    n, t, c = 3, 300, 12
    logits = 8 * _rng(2).standard_normal((t, n, c))
    targets = _rng(3).integers(1, c, (n, 40))
    compare(logits, targets, np.array([300, 250, 120]), np.array([40, 25, 10]), rtol=1e-9)


def test_the_gradient_is_the_exact_derivative() -> None:
    lp = np.log(_rng(4).dirichlet(np.ones(C), size=(T, N)))
    assert cr.gradcheck(lambda x: F.ctc_loss(x, PADDED[2:], [6, 5], TARGET_LENGTHS[2:], reduction="sum"),
                        lp[:6, 2:], order=1, modes=("rev", "fwd"))
    # PyTorch's gradient is this one plus exp(log_probs) on the frames inside each input length
    x = cr.tensor(lp, requires_grad=True)
    F.ctc_loss(x, PADDED, INPUT_LENGTHS, TARGET_LENGTHS, reduction="sum").backward()
    xt = torch.tensor(lp, requires_grad=True)
    torch.nn.functional.ctc_loss(xt, torch.tensor(PADDED), torch.tensor(INPUT_LENGTHS), torch.tensor(TARGET_LENGTHS),
                                 reduction="sum").backward()
    inside = (np.arange(T)[:, None] < INPUT_LENGTHS)[:, :, None]
    np.testing.assert_allclose(x.grad.data + np.exp(lp) * inside, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gradcheck_to_second_order_in_both_modes() -> None:
    logits = _rng(5).standard_normal((4, 2, 3))

    def loss(z: Any) -> Any:
        return F.ctc_loss(F.log_softmax(z, dim=-1), np.array([[1, 2], [1, 0]]), [4, 3], [2, 1])

    assert cr.gradcheck(loss, logits, order=2, modes=("rev", "fwd"))


def test_ctc_loss_module_matches_torch() -> None:
    for kw in ({}, {"blank": 0, "reduction": "sum", "zero_infinity": True}, {"reduction": "none"}):
        x = cr.tensor(LOGITS, requires_grad=True)
        out = cr.nn.CTCLoss(**kw)(F.log_softmax(x, dim=-1), PADDED, INPUT_LENGTHS, TARGET_LENGTHS)
        ref = torch.nn.CTCLoss(**kw)(torch.tensor(LOGITS).log_softmax(-1), torch.tensor(PADDED),
                                     torch.tensor(INPUT_LENGTHS), torch.tensor(TARGET_LENGTHS))
        np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-10)


def test_float32_stays_float32() -> None:
    x = cr.tensor(LOGITS.astype(np.float32), requires_grad=True)
    out = F.ctc_loss(F.log_softmax(x, dim=-1), PADDED, INPUT_LENGTHS, TARGET_LENGTHS)
    out.backward()
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    ref = torch.nn.functional.ctc_loss(torch.tensor(LOGITS.astype(np.float32)).log_softmax(-1), torch.tensor(PADDED),
                                       torch.tensor(INPUT_LENGTHS), torch.tensor(TARGET_LENGTHS))
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-5)


@pytest.mark.parametrize("args,kw,error,match", [
    ((PADDED, INPUT_LENGTHS, TARGET_LENGTHS), {"blank": 5}, ValueError, "blank 5 is not one of the 5 classes"),
    ((PADDED, INPUT_LENGTHS, TARGET_LENGTHS), {"reduction": "avg"}, ValueError, "'avg' is not a valid value"),
    ((PADDED, INPUT_LENGTHS[:3], TARGET_LENGTHS), {}, ValueError, "one entry per sample"),
    ((PADDED, np.array([11, 7, 9, 10]), TARGET_LENGTHS), {}, ValueError, r"input lengths must lie in \[1, 10\]"),
    ((PADDED[:, :3], INPUT_LENGTHS, TARGET_LENGTHS), {}, ValueError, "shorter than the longest target length 4"),
    ((np.arange(8), INPUT_LENGTHS, TARGET_LENGTHS), {}, ValueError, "concatenated targets hold 8 labels"),
    ((np.where(PADDED == 4, 0, PADDED), INPUT_LENGTHS, TARGET_LENGTHS), {}, ValueError, "target label 0 is the blank"),
    ((PADDED.astype(float), INPUT_LENGTHS, TARGET_LENGTHS), {}, TypeError, "indices must be integers"),
])
def test_refusals_name_the_problem(args: tuple[Any, ...], kw: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        F.ctc_loss(cr.tensor(LOGITS), *args, **kw)


def test_on_a_device_as_on_the_host() -> None:
    host = cr.tensor(LOGITS, requires_grad=True)
    expected = F.ctc_loss(F.log_softmax(host, dim=-1), PADDED, INPUT_LENGTHS, TARGET_LENGTHS, zero_infinity=True)
    expected.backward()
    with backend.use_provider(provider):
        x = cr.tensor(LOGITS, device="cuda", requires_grad=True)
        out = F.ctc_loss(F.log_softmax(x, dim=-1), PADDED, INPUT_LENGTHS, TARGET_LENGTHS, zero_infinity=True)
        out.backward()
        assert out.device == x.grad.device == "cuda:0"
        np.testing.assert_allclose(out.cpu().numpy(), expected.numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.cpu().numpy(), host.grad.numpy(), rtol=1e-12, atol=1e-15)
