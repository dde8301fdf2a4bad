"""Data: the bundled digits (shapes, scaling, a stratified seeded split), DataLoader's batching, and the datasets,
random_split (sizes against torch's) and collation (against torch's DataLoader)."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import pytest
import sklearn.datasets
import torch
import torch.utils.data

import chainrule as cr
from chainrule.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, load_digits, random_split

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


# ---- datasets, random_split, collate_fn, generators ------------------------------------------------------------


def test_tensor_dataset_matches_torch() -> None:
    ds = TensorDataset(X, cr.tensor(Y))
    theirs = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
    assert len(ds) == len(theirs) == 10
    for i in (0, 7, -1):
        for ours, t in zip(ds[i], theirs[i]):
            assert isinstance(ours, cr.Tensor)
            np.testing.assert_array_equal(ours.numpy(), t.numpy())
    with pytest.raises(ValueError, match="Size mismatch between tensors"):
        TensorDataset(X, Y[:9])


@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.5, 0.5]), (10, [0.33, 0.33, 0.34]),
                                       (11, [0.3, 0.3, 0.4]), (7, [0.1, 0.2, 0.7]), (5, [1 / 3] * 3), (3, [1, 1, 1]),
                                       (4, [0.25, 0.75]), (9, [0.0, 1.0])], ids=str)
def test_random_split_sizes_follow_torch(n: int, lengths: list[Any]) -> None:
    ds = TensorDataset(np.arange(n))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn alike about empty splits (checked below)
        ours = random_split(ds, lengths, np.random.default_rng(0))
        theirs = torch.utils.data.random_split(torch.arange(n), lengths, torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    taken = [int(s[i][0]) for s in ours for i in range(len(s))]
    assert sorted(taken) == list(range(n))  # a partition of the data set


def test_random_split_is_seeded_and_checks_its_lengths() -> None:
    ds = TensorDataset(np.arange(20))
    first = [s.indices for s in random_split(ds, [5, 15], np.random.default_rng(3))]
    assert first == [s.indices for s in random_split(ds, [5, 15], np.random.default_rng(3))]
    assert first != [s.indices for s in random_split(ds, [5, 15], np.random.default_rng(4))]
    cr.random.seed(1)
    a = [s.indices for s in random_split(ds, [0.5, 0.5])]
    cr.random.seed(1)
    assert a == [s.indices for s in random_split(ds, [0.5, 0.5])]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal the length of the input dataset"):
        random_split(ds, [5, 10])
    with pytest.raises(ValueError, match="lengths must be non-negative integers or fractions summing to 1"):
        random_split(ds, [0.5, 19.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(TensorDataset(np.arange(2)), [0.9, 0.1])
    with pytest.raises(TypeError, match=r"generator must be a numpy\.random\.Generator"):
        random_split(ds, [10, 10], generator=0)  # type: ignore[arg-type]


class _Pairs(Dataset):
    def __len__(self) -> int:
        return 7

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"x": np.full(2, float(i)), "label": i % 3, "name": f"s{i}"}


def test_a_dataset_batches_through_default_collate_like_torch() -> None:
    ours = list(DataLoader(_Pairs(), batch_size=3))
    theirs = list(torch.utils.data.DataLoader(_Pairs(), batch_size=3))
    assert len(ours) == len(theirs) == 3
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o["x"].numpy(), t["x"].numpy())
        assert o["x"].dtype == np.float64 and o["label"].dtype == np.int64
        assert o["label"].tolist() == t["label"].tolist() and o["name"] == t["name"]
    assert len(DataLoader(_Pairs(), batch_size=3, drop_last=True)) == 2
    assert [len(b["name"]) for b in DataLoader(_Pairs(), batch_size=3, drop_last=True)] == [3, 3]


def test_collate_fn_receives_the_samples() -> None:
    seen: list[Any] = []

    def collate(samples: list[Any]) -> int:
        seen.append(samples)
        return len(samples)

    assert list(DataLoader((X, Y), batch_size=4, collate_fn=collate)) == [4, 4, 2]
    x0, y0 = seen[0][0]  # samples of TensorDataset(X, Y): tuples of Tensors
    assert x0.tolist() == X[0].tolist() and int(y0) == 0
    subset = Subset(TensorDataset(X, Y), [9, 8, 7])
    assert [b[1].tolist() for b in DataLoader(subset, batch_size=2)] == [[9, 8], [7]]


def test_a_seeded_generator_gives_the_same_order_every_run() -> None:
    def order(**kw: Any) -> list[list[int]]:
        loader = DataLoader(TensorDataset(X, Y), batch_size=3, shuffle=True, **kw)
        return [[int(i) for _ in range(2) for _, yb in loader for i in yb.tolist()]]

    first = order(generator=np.random.default_rng(5))
    assert first == order(generator=np.random.default_rng(5)) and first != order(generator=np.random.default_rng(6))
    assert sorted(first[0][:10]) == list(range(10))
    cr.random.seed(2)
    a = order()
    cr.random.seed(2)
    assert a == order()  # no seed or generator: chainrule's own stream, repeated by cr.random.seed
    with pytest.raises(ValueError, match="give a seed or a generator, not both"):
        DataLoader((X,), seed=0, generator=np.random.default_rng(0))


def test_default_collate_keeps_gradients_and_refuses_unknown_samples() -> None:
    a, b = cr.tensor([1.0], requires_grad=True), cr.tensor([2.0], requires_grad=True)
    batch = default_collate([a, b])
    (batch * cr.tensor([[3.0], [4.0]])).sum().backward()
    assert a.grad.tolist() == [3.0] and b.grad.tolist() == [4.0]
    with pytest.raises(TypeError, match="cannot batch samples of type object; pass a collate_fn"):
        default_collate([object()])
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([(1, 2), (1,)])
