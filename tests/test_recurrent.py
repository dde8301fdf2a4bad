"""nn.RNN, nn.LSTM, nn.GRU against PyTorch in float64: state dicts loaded both ways, outputs, final states and the
gradients of inputs, initial states and every parameter; every option (layers, directions, bias, batch_first,
proj_size, initial states, unbatched inputs); dropout; second derivatives; the errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from torch_compare import compare, pair, randn

OPTIONS: list[dict[str, Any]] = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"bias": False, "num_layers": 2},
    {"batch_first": True},
]


def _layout(kwargs: dict[str, Any], steps: int, batch: int, features: int) -> np.ndarray[Any, Any]:
    return randn(batch, steps, features) if kwargs.get("batch_first") else randn(steps, batch, features)


def _states(kwargs: dict[str, Any], batch: int | None, features: int) -> np.ndarray[Any, Any]:
    rows = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    return randn(rows, features) if batch is None else randn(rows, batch, features)


@pytest.mark.parametrize("kwargs", [*OPTIONS, {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}],
                         ids=str)
def test_rnn(kwargs: dict[str, Any]) -> None:
    ours, theirs = pair(lambda m: m.RNN(3, 4, **kwargs))
    x = _layout(kwargs, 5, 2, 3)
    compare(ours, theirs, [x])
    compare(ours, theirs, [x, _states(kwargs, 2, 4)], load=False)


@pytest.mark.parametrize("kwargs", OPTIONS, ids=str)
def test_gru(kwargs: dict[str, Any]) -> None:
    ours, theirs = pair(lambda m: m.GRU(3, 4, **kwargs))
    x = _layout(kwargs, 4, 2, 3)
    compare(ours, theirs, [x])
    compare(ours, theirs, [x, _states(kwargs, 2, 4)], load=False)


LSTM_OPTIONS = [*OPTIONS, {"proj_size": 2}, {"proj_size": 3, "num_layers": 2, "bidirectional": True},
                {"proj_size": 2, "bias": False, "batch_first": True}]


@pytest.mark.parametrize("kwargs", LSTM_OPTIONS, ids=str)
def test_lstm(kwargs: dict[str, Any]) -> None:
    ours, theirs = pair(lambda m: m.LSTM(3, 5, **kwargs))
    x = _layout(kwargs, 4, 2, 3)
    compare(ours, theirs, [x])
    out = kwargs.get("proj_size") or 5
    compare(ours, theirs, [x, (_states(kwargs, 2, out), _states(kwargs, 2, 5))], load=False)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_unbatched_inputs(kind: str) -> None:
    kwargs: dict[str, Any] = {"num_layers": 2, "bidirectional": True, "batch_first": True}  # ignored unbatched
    ours, theirs = pair(lambda m: getattr(m, kind)(3, 4, **kwargs))
    x = randn(5, 3)
    compare(ours, theirs, [x])
    state = _states(kwargs, None, 4)
    compare(ours, theirs, [x, (state, _states(kwargs, None, 4)) if kind == "LSTM" else state], load=False)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")  # PyTorch's own note
def test_float32_parameters_and_state_dict_names() -> None:
    ours, theirs = pair(lambda m: m.LSTM(2, 4, num_layers=2, bidirectional=True, proj_size=1), dtype=np.float32)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "weight_hr_l1_reverse" in ours.state_dict()
    compare(ours, theirs, [randn(3, 2, 2, dtype=np.float32)], rtol=1e-5, atol=1e-6)
    assert [len(w) for w in ours.all_weights] == [len(w) for w in theirs.all_weights]
    assert repr(ours) == repr(theirs)
    ours.flatten_parameters()


def test_dropout_between_layers_only_in_training() -> None:
    ours, theirs = pair(lambda m: m.GRU(3, 4, num_layers=3, dropout=0.5))
    x = randn(4, 2, 3)
    compare(ours.eval(), theirs.eval(), [x])  # eval: no dropout, as PyTorch
    ours.train()
    cr.random.seed(0)
    a, h_a = ours(cr.tensor(x))
    b, _ = ours(cr.tensor(x))
    assert not np.allclose(a.numpy(), b.numpy())
    # dropout never touches the last layer's output: it is the same function of the previous layer's
    np.testing.assert_array_equal(a.numpy()[-1], h_a.numpy()[-1])
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_second_derivatives_in_both_modes(kind: str) -> None:
    cr.random.seed(0)
    layer = getattr(nn, kind)(2, 2, num_layers=2, bidirectional=True, dtype=np.float64)
    x = cr.tensor(randn(3, 1, 2))
    assert cr.gradcheck(lambda a: layer(a)[0], x)


def test_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.RNNBase("GRU", 3, 4, proj_size=2)
    with pytest.raises(ValueError, match="smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(TypeError, match="bias should be of type bool"):
        nn.RNN(3, 4, bias=1)  # type: ignore[arg-type]
    rnn = nn.RNN(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input_size"):
        rnn(cr.zeros(5, 2, 2, dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected h_0 of shape .* = \(2, 2, 4\)"):
        rnn(cr.zeros(5, 2, 3, dtype=np.float32), cr.zeros(1, 2, 4, dtype=np.float32))
    with pytest.raises(ValueError, match="expected a 2-d or 3-d input"):
        rnn(cr.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="at least one step"):
        rnn(cr.zeros(0, 2, 3, dtype=np.float32))
    with pytest.raises(TypeError, match=r"pair \(h_0, c_0\)"):
        nn.LSTM(3, 4)(cr.zeros(5, 3, dtype=np.float32), cr.zeros(1, 4, dtype=np.float32))
    with pytest.raises(TypeError, match="float64 input"):
        rnn(cr.zeros(5, 2, 3))


def test_cells_still_match_pytorch() -> None:
    for kind in ("RNNCell", "LSTMCell", "GRUCell"):
        ours, theirs = pair(lambda m, k=kind: getattr(m, k)(3, 4))
        compare(ours, theirs, [randn(2, 3)])
        compare(ours, theirs, [randn(3)], load=False)


def test_torch_is_the_reference() -> None:
    # the comparisons above run against this library: a failure to import it would skip nothing silently
    assert torch.__version__
