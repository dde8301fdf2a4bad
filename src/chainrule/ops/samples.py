"""Sample inputs that primitive entries bring for the generated tests: shapes, broadcasting pairs and domains.

Values keep a distance from kinks and singularities (finite differences cannot see a kink; kinks have their own
exact tests), so every sample is a point where the derivative exists.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..primitive import Sample

Shape = tuple[int, ...]
SamplesFn = Callable[[np.random.Generator], list[Sample]]

SHAPES: tuple[Shape, ...] = ((), (3,), (2, 3))
PAIRS: tuple[tuple[Shape, Shape], ...] = (
    ((), ()),
    ((3,), (3,)),
    ((2, 3), (2, 3)),
    ((3, 1), (1, 4)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((2, 3), (3,)),
)
AXES: tuple[dict[str, Any], ...] = (
    {},
    {"axis": 0},
    {"axis": 1},
    {"axis": -1, "keepdims": True},
    {"axis": (0, 1)},
    {"axis": None, "keepdims": True},
)


def draw(rng: np.random.Generator, shape: Shape, domain: str = "real") -> np.ndarray[Any, Any]:
    """Random float64 values (always an ndarray, 0-d included) in a named domain; see ``_draw``."""
    return np.asarray(_draw(rng, shape, domain), dtype=np.float64)


def _draw(rng: np.random.Generator, shape: Shape, domain: str) -> Any:
    """Random float64 values in a named domain.

    real: |x| in [0.2, 2], either sign; positive: [0.5, 2]; unit: (-0.9, 0.9); above1: [1.2, 3];
    any: uniform on [-2, 2] (for ops without kinks).
    """
    if domain == "real":
        return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "unit":
        return rng.uniform(-0.9, 0.9, shape)
    if domain == "above1":
        return rng.uniform(1.2, 3.0, shape)
    if domain == "any":
        return rng.uniform(-2.0, 2.0, shape)
    raise ValueError(f"unknown sample domain {domain!r}")


def unary(domain: str = "real", shapes: Sequence[Shape] = SHAPES, **kwargs: Any) -> SamplesFn:
    """One sample per shape, with the same static keyword arguments."""
    return lambda rng: [Sample((draw(rng, s, domain),), dict(kwargs)) for s in shapes]


def binary(domains: tuple[str, str] = ("real", "real"), pairs: Sequence[tuple[Shape, Shape]] = PAIRS) -> SamplesFn:
    """One sample per broadcasting pair of shapes."""
    return lambda rng: [Sample((draw(rng, a, domains[0]), draw(rng, b, domains[1]))) for a, b in pairs]


def reductions(domain: str = "real", shape: Shape = (2, 3), axes: Sequence[dict[str, Any]] = AXES) -> SamplesFn:
    """A 0-d and a 1-d sample, then one (2, 3) sample per axis/keepdims variant."""

    def samples(rng: np.random.Generator) -> list[Sample]:
        out = [Sample((draw(rng, (), domain),)), Sample((draw(rng, (4,), domain),))]
        out += [Sample((draw(rng, shape, domain),), dict(kw)) for kw in axes]
        return out

    return samples


def complex_draw(rng: np.random.Generator, shape: Shape, domain: str = "real") -> np.ndarray[Any, Any]:
    """Random complex128 values whose real part is drawn in ``domain`` and imaginary part in "real"."""
    return draw(rng, shape, domain) + 1j * draw(rng, shape)


def complex_unary(domain: str = "real", shapes: Sequence[Shape] = ((), (2, 3)), **kwargs: Any) -> SamplesFn:
    """A few complex samples (they add to the real ones: the generated tests multiply by samples)."""
    return lambda rng: [Sample((complex_draw(rng, s, domain),), dict(kwargs)) for s in shapes]


COMPLEX_PAIRS: tuple[tuple[Shape, Shape, str], ...] = (((2, 3), (2, 3), "cc"), ((2, 3), (3,), "cr"), ((), (3,), "rc"))


def complex_binary(domains: tuple[str, str] = ("real", "real")) -> SamplesFn:
    """Complex with complex, complex with real and real with complex (a real input takes its cotangent's real
    part), broadcasting too."""

    def one(rng: np.random.Generator, shape: Shape, kind: str, domain: str) -> np.ndarray[Any, Any]:
        return complex_draw(rng, shape, domain) if kind == "c" else draw(rng, shape, domain)

    return lambda rng: [Sample((one(rng, a, kinds[0], domains[0]), one(rng, b, kinds[1], domains[1])))
                        for a, b, kinds in COMPLEX_PAIRS]


def with_complex(real: SamplesFn, complex_: SamplesFn) -> SamplesFn:
    """The real samples, then the complex ones."""
    return lambda rng: real(rng) + complex_(rng)
