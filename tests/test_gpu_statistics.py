"""Reductions with NumPy's arguments, statistics, polynomials and 1-d signals on the "cuda" device (the CuPy
stand-in, tests/stand_in_gpu.py) against the host, through ``testing.check_device`` (value and dtype, VJP, JVP,
second order): the composites test_gpu_ops.py does not reach, since it runs the primitives only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.testing import check_device
from stand_in_gpu import Named

RNG = np.random.default_rng(11)


def rand(*shape: int) -> np.ndarray[Any, Any]:
    return RNG.uniform(-1.0, 1.0, shape)


def with_nans(*shape: int) -> np.ndarray[Any, Any]:
    x = rand(*shape)
    x.reshape(-1)[::4] = np.nan
    return x


MASK = rand(3, 4) > -0.3
CASES: list[tuple[str, Callable[..., Any], tuple[np.ndarray[Any, Any], ...]]] = [
    ("sum where initial", lambda x: cr.sum(x, axis=1, where=MASK, initial=0.5), (rand(3, 4),)),
    ("sum dtype", lambda x: cr.sum(x, axis=0, dtype=np.float32), (rand(3, 4),)),
    ("prod where", lambda x: cr.prod(x, axis=(0, 1), where=MASK, keepdims=True), (rand(3, 4),)),
    ("max where initial", lambda x: cr.max(x, axis=1, where=MASK, initial=-2.0), (rand(3, 4),)),
    ("min initial", lambda x: cr.min(x, initial=0.0), (rand(3, 4),)),
    ("mean where", lambda x: cr.mean(x, axis=0, where=MASK), (rand(3, 4),)),
    ("var where correction", lambda x: cr.var(x, axis=1, where=MASK, correction=1), (rand(3, 4),)),
    ("std mean=", lambda x: cr.std(x, axis=0, mean=cr.mean(x, axis=0, keepdims=True)), (rand(3, 4),)),
    ("logsumexp b", lambda x, b: cr.logsumexp(x, axis=1, b=b), (rand(3, 4), RNG.uniform(0.5, 2.0, (4,)))),
    ("logsumexp b return_sign", lambda x, b: cr.logsumexp(x, b=b, return_sign=True)[0], (rand(3, 4), rand(3, 4))),
    ("cumulative_sum", lambda x: cr.cumulative_sum(x, axis=1, include_initial=True), (rand(3, 4),)),
    ("cumulative_prod", lambda x: cr.cumulative_prod(x, axis=0), (rand(3, 4),)),
    ("quantile", lambda x: cr.quantile(x, [0.1, 0.5, 0.95], axis=1), (rand(3, 5),)),
    ("quantile in q", lambda x, q: cr.quantile(x, q, axis=(0, 1), method="hazen"), (rand(3, 5), np.array([0.3, 0.8]))),
    ("percentile nearest", lambda x: cr.percentile(x, 40, axis=0, method="nearest", keepdims=True), (rand(4, 3),)),
    ("median", lambda x: cr.median(x, axis=-1), (rand(2, 3, 4),)),
    ("nanmedian", lambda x: cr.nanmedian(x, axis=1), (with_nans(3, 5),)),
    ("nanquantile", lambda x: cr.nanquantile(x, [0.2, 0.7]), (with_nans(3, 5),)),
    ("nansum", lambda x: cr.nansum(x, axis=0), (with_nans(3, 5),)),
    ("nanprod", lambda x: cr.nanprod(x, axis=1), (with_nans(3, 5),)),
    ("nanmean", lambda x: cr.nanmean(x, axis=1), (with_nans(3, 5),)),
    ("nanvar", lambda x: cr.nanvar(x, axis=0, ddof=1), (with_nans(4, 3),)),
    ("nanstd", lambda x: cr.nanstd(x), (with_nans(3, 5),)),
    ("nanmax", lambda x: cr.nanmax(x, axis=1), (with_nans(3, 5),)),
    ("nanmin", lambda x: cr.nanmin(x, axis=0, keepdims=True), (with_nans(3, 5),)),
    ("nancumsum", lambda x: cr.nancumsum(x, axis=1), (with_nans(3, 5),)),
    ("average weights", lambda x, w: cr.average(x, axis=1, weights=w), (rand(3, 4), RNG.uniform(0.5, 2.0, (4,)))),
    ("average returned", lambda x: cr.average(x, axis=0, returned=True)[0], (rand(3, 4),)),
    ("ptp", lambda x: cr.ptp(x, axis=1), (rand(3, 4),)),
    ("cov", lambda x: cr.cov(x), (rand(3, 6),)),
    ("cov weights", lambda x, f, a: cr.cov(x, rowvar=False, fweights=f, aweights=a),
     (rand(6, 2), np.array([1.0, 2.0, 1.0, 3.0, 1.0, 2.0]), RNG.uniform(0.5, 2.0, (6,)))),
    ("corrcoef", lambda x, y: cr.corrcoef(x, y), (rand(2, 6), rand(6))),
    ("trapezoid", lambda y, x: cr.trapezoid(y, x, axis=0), (rand(4, 3), np.array([0.0, 0.4, 1.1, 2.0]))),
    ("interp", lambda x, xp, fp: cr.interp(x, xp, fp), (RNG.uniform(-0.5, 3.5, 9), np.array([0.0, 1.0, 1.5, 3.0]),
                                                         rand(4))),
    ("interp period", lambda x, fp: cr.interp(x, np.array([0.1, 0.9, 1.6]), fp, period=2.0),
     (RNG.uniform(-3.0, 3.0, 7), rand(3))),
    ("polyval", cr.polyval, (rand(4), rand(2, 3))),
    ("polyfit", lambda x, y, w: cr.polyfit(x, y, 2, w=w), (np.linspace(-1.0, 1.0, 7), rand(7, 2),
                                                          RNG.uniform(0.5, 2.0, (7,)))),
    ("polyfit cov", lambda x, y: cr.polyfit(x, y, 1, cov=True)[1], (np.linspace(-1.0, 1.0, 6), rand(6))),
    *((f"convolve {mode}", lambda a, v, mode=mode: cr.convolve(a, v, mode), (rand(6), rand(3))) for mode in
      ("full", "same", "valid")),
    ("correlate same", lambda a, v: cr.correlate(a, v, "same"), (rand(2), rand(5))),
]


@pytest.mark.parametrize(("name", "fn", "args"), CASES, ids=[c[0] for c in CASES])
def test_statistics_on_the_gpu_match_the_cpu(name: str, fn: Callable[..., Any], args: tuple[Any, ...],
                                             gpu: None) -> None:
    assert check_device(Named(name, fn), args, {}, "cuda")


def test_results_stay_on_the_device(gpu: None) -> None:
    x = cr.tensor(with_nans(3, 5), device="cuda", requires_grad=True)
    for y in (cr.nanmedian(x, axis=1), np.nanpercentile(x, [10, 90]), np.nanmean(x), cr.quantile(x, 0.5)):
        assert y.device == "cuda:0"
    cr.nanmedian(x).backward()
    assert x.grad is not None and x.grad.device == "cuda:0"
