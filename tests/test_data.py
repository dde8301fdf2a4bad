"""Data: the bundled digits (shapes, scaling, a stratified seeded split) and DataLoader's batching."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest
import sklearn.datasets

import chainrule as cr
from chainrule.data import DataLoader, load_digits

# ---- load_digits -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    return load_digits()


def test_digits_shapes_dtypes_and_scaling(digits: Any) -> None:
    (x_train, y_train), (x_test, y_test) = digits
    assert x_train.shape == (1437, 1, 8, 8) and x_test.shape == (360, 1, 8, 8)
    assert y_train.shape == (1437,) and y_test.shape == (360,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    for x in (x_train, x_test):
        assert x.flags.c_contiguous and x.min() == 0.0 and x.max() == 1.0
        np.testing.assert_array_equal(x * 16, np.round(x * 16))  # 0..16 scaled by 1/16, exactly
    assert set(np.unique(y_train)) == set(range(10)) == set(np.unique(y_test))


def test_digits_split_is_a_partition_of_the_bundled_data(digits: Any) -> None:
    (x_train, y_train), (x_test, y_test) = digits
    bundled = sklearn.datasets.load_digits()

    def rows(pixels: Any, labels: Any) -> list[bytes]:  # (image at 0..16, label) of each sample, as sortable bytes
        flat = np.asarray(pixels, dtype=np.float64).reshape(len(pixels), -1)
        return sorted(row.tobytes() + bytes([label]) for row, label in zip(flat, labels.tolist()))

    ours = rows(np.concatenate([x_train, x_test]) * 16, np.concatenate([y_train, y_test]))
    assert ours == rows(bundled.data, bundled.target)


def test_digits_split_is_stratified(digits: Any) -> None:
    (_, y_train), (_, y_test) = digits
    counts = np.bincount(np.concatenate([y_train, y_test]))
    test_counts = np.bincount(y_test)
    assert np.all(np.abs(test_counts - 0.2 * counts) <= 1), test_counts


def test_digits_split_is_seeded(digits: Any) -> None:
    (x_train, _), (_, y_test) = digits
    (x_train2, _), (_, y_test2) = load_digits(seed=0)
    np.testing.assert_array_equal(x_train, x_train2)
    np.testing.assert_array_equal(y_test, y_test2)
    (x_train3, _), _ = load_digits(seed=1)
    assert not np.array_equal(x_train, x_train3)


def test_digits_options() -> None:
    (x_train, _), (x_test, _) = load_digits(test_size=0.5, dtype=np.float64)
    assert x_train.dtype == np.float64 and len(x_test) == 899 and len(x_train) == 898
    with pytest.raises(ValueError, match="test_size"):
        load_digits(test_size=1.0)
    with pytest.raises(ValueError, match="test_size"):
        load_digits(test_size=0)
    with pytest.raises(ValueError, match="floating-point dtype"):
        load_digits(dtype=np.int64)


def test_digits_without_scikit_learn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("sklearn", "sklearn.datasets", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[demo\]'"):
        load_digits()


# ---- DataLoader --------------------------------------------------------------------------------------------------

X = np.arange(20, dtype=np.float32).reshape(10, 2)
Y = np.arange(10)


def test_batches_in_order() -> None:
    loader = DataLoader((X, Y), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    for xb, yb in batches:
        assert isinstance(xb, cr.Tensor) and isinstance(yb, cr.Tensor)
        assert not xb.requires_grad and xb.dtype == np.float32 and yb.dtype == Y.dtype
        np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])  # rows stay paired
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_drop_last_and_lengths() -> None:
    assert [len(yb) for _, yb in DataLoader((X, Y), batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader((X, Y), batch_size=4, drop_last=True)) == 2
    assert len(DataLoader((X, Y), batch_size=5)) == 2 == len(DataLoader((X, Y), batch_size=5, drop_last=True))
    assert len(DataLoader((X, Y), batch_size=32)) == 1
    assert len(DataLoader((X, Y), batch_size=32, drop_last=True)) == 0
    assert list(DataLoader((X, Y), batch_size=32, drop_last=True)) == []
    empty = DataLoader((np.zeros((0, 3)), np.zeros(0)), batch_size=2)
    assert len(empty) == 0 and list(empty) == []


def test_shuffle_is_a_new_permutation_each_epoch_and_reproducible() -> None:
    def epochs(seed: int, n: int = 3, drop_last: bool = False) -> list[list[int]]:
        loader = DataLoader((X, Y), batch_size=3, shuffle=True, seed=seed, drop_last=drop_last)
        out = []
        for _ in range(n):
            order = []
            for xb, yb in loader:
                np.testing.assert_array_equal(xb.numpy(), X[yb.numpy()])
                order += yb.tolist()
            out.append(order)
        return out

    first = epochs(seed=7)
    for order in first:
        assert sorted(order) == list(range(10))  # every sample exactly once per epoch
    assert first[0] != first[1] != first[2]
    assert first == epochs(seed=7)
    assert first != epochs(seed=8)
    for order in epochs(seed=7, drop_last=True):
        assert len(order) == 9 and len(set(order)) == 9


def test_shuffle_without_a_seed_still_covers_everything() -> None:
    order = [i for _, yb in DataLoader((X, Y), batch_size=4, shuffle=True) for i in yb.tolist()]
    assert sorted(order) == list(range(10))


def test_tensors_lists_and_a_single_array() -> None:
    xt = cr.tensor(X, requires_grad=True)
    batches = list(DataLoader((xt, Y.tolist()), batch_size=6))
    assert not batches[0][0].requires_grad and batches[0][0].dtype == np.float32
    assert batches[1][1].tolist() == [6, 7, 8, 9]
    single = list(DataLoader(X, batch_size=6))
    assert len(single) == 2 and len(single[0]) == 1 and single[0][0].shape == (6, 2)
    assert len(next(iter(DataLoader([X, Y, X], batch_size=5)))) == 3


def test_batches_are_copies() -> None:
    data = X.copy()
    for shuffle in (False, True):
        (xb,) = next(iter(DataLoader(data, batch_size=2, shuffle=shuffle, seed=0)))
        xb.numpy()[...] = -1
        np.testing.assert_array_equal(data, X)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (((X, Y[:9]),), {}, ValueError, r"same length .*\[10, 9\]"),
        (((X, Y),), {"batch_size": 0}, ValueError, "batch_size must be at least 1, got 0"),
        (((X, Y),), {"batch_size": -3}, ValueError, "at least 1"),
        (((X, Y),), {"batch_size": 2.0}, TypeError, "batch_size must be an integer"),
        (((X, Y),), {"batch_size": True}, TypeError, "batch_size must be an integer"),
        (((),), {}, TypeError, "non-empty tuple"),
        ((5,), {}, TypeError, "non-empty tuple"),
        (((X, np.float32(1.0)),), {}, ValueError, "array 1 is 0-d"),
    ],
)
def test_clear_errors(args: tuple[Any, ...], kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        DataLoader(*args, **kwargs)


def test_repr() -> None:
    assert repr(DataLoader((X, Y), batch_size=4, shuffle=True, seed=3)) == (
        "DataLoader(samples=10, arrays=2, batch_size=4, shuffle=True, seed=3, drop_last=False)")


def test_public_names() -> None:
    assert cr.data.load_digits is load_digits and cr.data.DataLoader is DataLoader
