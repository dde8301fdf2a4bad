"""The generated op tests once more on the "cuda" device, served by a CuPy stand-in (tests/stand_in_gpu.py): an array
type that, like CuPy's, refuses implicit conversion to NumPy and mixing with NumPy arrays. Every primitive and
sample: the forward, a VJP and a JVP, and a second-order term, each against the same computation on the CPU (which
test_ops.py checks against finite differences). Every place that would break on a GPU breaks here."""

from __future__ import annotations

import pytest

from chainrule.primitive import Primitive
from chainrule.testing import check_device
from test_ops import CASES, _samples


@pytest.mark.parametrize(("prim", "index"), CASES)
def test_every_primitive_on_the_gpu_matches_the_cpu(prim: Primitive, index: int, gpu: None) -> None:
    sample = _samples(prim)[index]
    assert check_device(prim, sample.args, sample.kwargs, "cuda")
