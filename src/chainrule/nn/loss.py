"""Loss modules: thin wrappers over ``cr.nn.functional``'s losses, with PyTorch's names, arguments and buffers.

Each module stores its options and calls the functional loss in ``forward``. As in PyTorch, the class weights of
``CrossEntropyLoss``, ``NLLLoss``, ``BCELoss`` and ``BCEWithLogitsLoss`` (and its ``pos_weight``) are buffers: they
follow ``module.to(...)`` and appear in ``state_dict()`` when given. The deprecated ``size_average`` / ``reduce``
arguments are translated into ``reduction`` once, at construction (with a DeprecationWarning).
"""

from __future__ import annotations

from typing import Any

from ..creation import tensor as _tensor
from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CTCLoss", "CosineEmbeddingLoss", "CrossEntropyLoss", "HuberLoss",
           "KLDivLoss", "L1Loss", "MSELoss", "MarginRankingLoss", "NLLLoss", "SmoothL1Loss", "TripletMarginLoss"]


class _Loss(Module):
    """The reduction every loss takes ("mean", "sum" or "none"), resolved from the legacy arguments."""

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = F._legacy_reduction(size_average, reduce, reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}" if self.reduction != "mean" else ""


def _buffer(value: Any) -> Tensor | None:
    """A weight as a constant buffer tensor (None stays None: PyTorch registers it so, and saves nothing)."""
    if value is None or isinstance(value, Tensor):
        return value
    return _tensor(value)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))


class CrossEntropyLoss(_WeightedLoss):
    """``F.cross_entropy``: logits (N, C) or (N, C, d1, ...) against integer classes or class probabilities.

    >>> import chainrule as cr
    >>> cr.nn.CrossEntropyLoss(label_smoothing=0.1)(cr.tensor([[2.0, 0.0]]), cr.tensor([0]))
    tensor(0.22692801)
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Any:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """``F.nll_loss``: negative log-likelihood of integer classes under log-probabilities.

    >>> import chainrule as cr
    >>> cr.nn.NLLLoss()(cr.tensor([[-1.0, -2.0], [-3.0, -4.0]]), cr.tensor([1, 0]))
    tensor(2.5)
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, ignore_index: int = -100,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Any:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class MSELoss(_Loss):
    """``F.mse_loss``: the squared error ``(x - y)^2``.

    >>> import chainrule as cr
    >>> cr.nn.MSELoss(reduction="sum")(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0]))
    tensor(5.)
    """

    def forward(self, input: Any, target: Any) -> Any:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """``F.l1_loss``: the absolute error ``|x - y|``.

    >>> import chainrule as cr
    >>> cr.nn.L1Loss()(cr.tensor([1.0, -3.0]), cr.tensor([0.0, 0.0]))
    tensor(2.)
    """

    def forward(self, input: Any, target: Any) -> Any:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """``F.smooth_l1_loss``: quadratic below ``beta``, linear above.

    >>> import chainrule as cr
    >>> cr.nn.SmoothL1Loss(beta=2.0)(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0]))
    tensor(1.125)
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Any, target: Any) -> Any:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """``F.huber_loss``: quadratic below ``delta``, then linear with slope ``delta``.

    >>> import chainrule as cr
    >>> cr.nn.HuberLoss(delta=2.0)(cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0]))
    tensor(2.25)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Any:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class BCELoss(_WeightedLoss):
    """``F.binary_cross_entropy``: probabilities in [0, 1] against targets, each log clamped at -100.

    >>> import chainrule as cr
    >>> cr.nn.BCELoss()(cr.tensor([0.5, 0.5]), cr.tensor([1.0, 0.0]))
    tensor(0.69314718)
    """

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """``F.binary_cross_entropy_with_logits``: BCE of ``sigmoid(x)``, computed stably; ``pos_weight`` weighs the
    positive term (one entry per class, along the last axis).

    >>> import chainrule as cr
    >>> cr.nn.BCEWithLogitsLoss(pos_weight=cr.tensor([2.0]))(cr.tensor([0.0]), cr.tensor([1.0]))
    tensor(1.38629436)
    """

    def __init__(self, weight: Any = None, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight))
        self.register_buffer("pos_weight", _buffer(pos_weight))

    def forward(self, input: Any, target: Any) -> Any:
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """``F.kl_div``: ``input`` log-probabilities against target probabilities (log-probabilities with
    ``log_target``); "batchmean" gives the divergence per sample.

    >>> import chainrule as cr
    >>> cr.nn.KLDivLoss(reduction="batchmean")(cr.log(cr.tensor([[0.5, 0.5]])), cr.tensor([[1.0, 0.0]]))
    tensor(0.69314718)
    """

    def __init__(self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Any, target: Any) -> Any:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class _MarginLoss(_Loss):
    def __init__(self, margin: float = 0.0, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin


class CosineEmbeddingLoss(_MarginLoss):
    """``F.cosine_embedding_loss``: pull pairs together (y = 1) or push them below ``margin`` (y = -1).

    >>> import chainrule as cr
    >>> cr.nn.CosineEmbeddingLoss()(cr.tensor([[1.0, 0.0]]), cr.tensor([[0.0, 1.0]]), cr.tensor([1]))
    tensor(1.)
    """

    def forward(self, input1: Any, input2: Any, target: Any) -> Any:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class MarginRankingLoss(_MarginLoss):
    """``F.margin_ranking_loss``: ``max(0, -y (x1 - x2) + margin)``.

    >>> import chainrule as cr
    >>> cr.nn.MarginRankingLoss(margin=1.0)(cr.tensor([2.0]), cr.tensor([1.5]), cr.tensor([1.0]))
    tensor(0.5)
    """

    def forward(self, input1: Any, input2: Any, target: Any) -> Any:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """``F.triplet_margin_loss``: the anchor nearer the positive than the negative by ``margin`` (p-norm distance).

    >>> import chainrule as cr
    >>> a, pos, neg = cr.tensor([[0.0, 0.0]]), cr.tensor([[3.0, 4.0]]), cr.tensor([[0.0, 1.0]])
    >>> cr.nn.TripletMarginLoss(eps=0.0)(a, pos, neg)
    tensor(5.)
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Any:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p, eps=self.eps,
                                     swap=self.swap, reduction=self.reduction)


class CTCLoss(_Loss):
    """``F.ctc_loss``: connectionist temporal classification over (T, N, C) log-probabilities.

    >>> import numpy as np, chainrule as cr
    >>> lp = cr.log(cr.full((2, 1, 2), 0.5))
    >>> cr.nn.CTCLoss(reduction="sum")(lp, np.array([[1]]), [2], [1])
    tensor(0.28768207)
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> None:
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any) -> Any:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                          reduction=self.reduction, zero_infinity=self.zero_infinity)
