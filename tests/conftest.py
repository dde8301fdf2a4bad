"""Shared by the tests: SciPy's primitives registered before the generated tables walk the registry, and the CuPy
stand-in as a fixture."""

from collections.abc import Iterator

import pytest

import chainrule.scipy  # noqa: F401  (the generated tables walk every registered primitive: SciPy's too)
from chainrule import backend
from stand_in_gpu import provider


@pytest.fixture
def gpu() -> Iterator[None]:
    """The "cuda" device served by the CuPy stand-in (tests/stand_in_gpu.py), for the test's duration."""
    with backend.use_provider(provider):
        yield
