"""Acceptance: an MLP and a small CNN trained on the digits with Adam reach the issue's test accuracies in well
under a minute each, with seeds pinned; a trained model saved, loaded into a fresh module and evaluated gives
bit-identical outputs; and the file loads into the same architecture in PyTorch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, load_digits
from chainrule.io import load, save
from chainrule.nn import functional as F

Array = np.ndarray[Any, Any]


@pytest.fixture(scope="module")
def digits() -> tuple[Array, Array, Array, Array]:
    """The digits split, standardised per pixel with the training set's statistics."""
    (x_train, y_train), (x_test, y_test) = load_digits()
    mean, scale = x_train.mean(axis=0), x_train.std(axis=0) + 0.1
    return (x_train - mean) / scale, y_train, (x_test - mean) / scale, y_test


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 2 * 2, 10),
    )


def torch_cnn() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Dropout(0.3), torch.nn.Linear(64 * 2 * 2, 10),
    )


def train(model: nn.Module, data: tuple[Array, Array, Array, Array], epochs: int, lr: float,
          seed: int = 0) -> tuple[float, float]:
    """Adam with a cosine learning-rate schedule, batches of 32; returns (test accuracy, seconds)."""
    x_train, y_train, x_test, y_test = data
    optimizer = optim.Adam(model.parameters(), lr=lr)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loader = DataLoader((x_train, y_train), batch_size=32, shuffle=True, seed=seed)
    start = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        schedule.step()
    seconds = time.perf_counter() - start
    model.eval()
    with cr.no_grad():
        predicted = model(cr.tensor(x_test)).numpy().argmax(axis=1)
    assert loss.dtype == np.float32
    return float((predicted == y_test).mean()), seconds


@pytest.fixture(scope="module")
def trained_cnn(digits: tuple[Array, Array, Array, Array]) -> tuple[nn.Module, float, float]:
    cr.random.seed(0)
    model = cnn()
    accuracy, seconds = train(model, digits, epochs=20, lr=2e-3)
    return model, accuracy, seconds


def test_mlp_reaches_97_percent(digits: tuple[Array, Array, Array, Array]) -> None:
    cr.random.seed(0)
    model = mlp()
    accuracy, _seconds = train(model, digits, epochs=30, lr=2e-3)  # a few seconds (timed in the lead's note)
    assert accuracy >= 0.97, accuracy
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_cnn_reaches_98_percent(trained_cnn: tuple[nn.Module, float, float]) -> None:
    _, accuracy, _seconds = trained_cnn
    assert accuracy >= 0.98, accuracy


def test_saved_model_loads_into_a_fresh_module_bit_identically(
        trained_cnn: tuple[nn.Module, float, float], digits: tuple[Array, Array, Array, Array],
        tmp_path: Path) -> None:
    model = trained_cnn[0].eval()
    path = tmp_path / "cnn.safetensors"
    save(model.state_dict(), path)
    cr.random.seed(123)
    fresh = cnn()
    x_test = cr.tensor(digits[2])
    with cr.no_grad():
        assert not np.array_equal(fresh.eval()(x_test).numpy(), model(x_test).numpy())
        fresh.load_state_dict(load(path))
        np.testing.assert_array_equal(fresh(x_test).numpy(), model(x_test).numpy())


def test_saved_batchnorm_model_round_trips_with_its_buffers(tmp_path: Path) -> None:
    cr.random.seed(1)
    model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))
    x = cr.tensor(np.random.default_rng(0).standard_normal((16, 64)).astype(np.float32))
    for _ in range(3):
        model(x)  # training mode: the running statistics move
    model.eval()
    path = tmp_path / "bn.safetensors"
    save(model.state_dict(), path)
    loaded = load(path)
    assert set(loaded) == set(model.state_dict())
    assert loaded["1.num_batches_tracked"].dtype == np.int64 and int(loaded["1.num_batches_tracked"]) == 3
    fresh = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)).eval()
    fresh.load_state_dict(loaded)
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


def test_saved_model_loads_in_pytorch(trained_cnn: tuple[nn.Module, float, float],
                                      digits: tuple[Array, Array, Array, Array], tmp_path: Path) -> None:
    model = trained_cnn[0].eval()
    path = tmp_path / "cnn.safetensors"
    save(model.state_dict(), path)
    theirs = torch_cnn().eval()
    theirs.load_state_dict(load_file(str(path)))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(digits[2])).numpy()
    with cr.no_grad():
        np.testing.assert_allclose(model(cr.tensor(digits[2])).numpy(), expected, rtol=1e-4, atol=1e-4)
