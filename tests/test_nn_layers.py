"""Every layer against PyTorch: the same state-dict keys, shapes and dtypes; PyTorch's weights copied across; the
same outputs and the same gradients (inputs and parameters). Then default initialisation against PyTorch's formulas,
``cr.nn.init``, and train/eval behaviour (dropout, batch norm)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
import torch_compare
from chainrule import nn

RNG = np.random.default_rng(0)
# PyTorch's own note about its implementation of padding="same" with even kernels (not about our results)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


def _randn(*shape: int, dtype: Any = np.float32) -> np.ndarray[Any, Any]:
    return RNG.standard_normal(shape).astype(dtype)


def compare(ours: nn.Module, theirs: torch.nn.Module, inputs: Sequence[Any], kwargs: dict[str, Any] | None = None,
            rtol: float = 1e-4, atol: float = 1e-5, grads: bool = True) -> None:
    """``torch_compare.compare`` at float32's tolerances."""
    torch_compare.compare(ours, theirs, inputs, kwargs, rtol=rtol, atol=atol, grads=grads)


def _pair(make: Callable[[Any], Any]) -> tuple[Any, Any]:
    torch.manual_seed(0)
    return make(nn), make(torch.nn)


# ---- dense layers ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)])
def test_linear(bias: bool, shape: tuple[int, ...]) -> None:
    ours, theirs = _pair(lambda m: m.Linear(5, 3, bias=bias))
    compare(ours, theirs, [_randn(*shape)])


def test_linear_float64() -> None:
    ours = nn.Linear(5, 3, dtype=np.float64)
    theirs = torch.nn.Linear(5, 3, dtype=torch.float64)
    assert ours.weight.dtype == np.float64
    compare(ours, theirs, [_randn(4, 5, dtype=np.float64)], rtol=1e-12, atol=1e-12)


def test_bilinear() -> None:
    ours, theirs = _pair(lambda m: m.Bilinear(3, 4, 2))
    compare(ours, theirs, [_randn(5, 3), _randn(5, 4)])
    ours, theirs = _pair(lambda m: m.Bilinear(3, 4, 2, bias=False))
    compare(ours, theirs, [_randn(2, 5, 3), _randn(2, 5, 4)])


def test_flatten_unflatten_identity() -> None:
    x = _randn(2, 3, 4, 5)
    for args in [(), (0, -1), (1, 2), (2,)]:
        compare(nn.Flatten(*args), torch.nn.Flatten(*args), [x])
    compare(nn.Unflatten(1, (2, 6)), torch.nn.Unflatten(1, (2, 6)), [_randn(3, 12, 2)])
    compare(nn.Unflatten(-1, (2, -1)), torch.nn.Unflatten(-1, (2, -1)), [_randn(3, 12)])
    compare(nn.Identity(3, k=1), torch.nn.Identity(3, k=1), [x])


def test_embedding() -> None:
    idx = np.array([[1, 2, 4], [4, 3, 9]])
    ours, theirs = _pair(lambda m: m.Embedding(10, 3))
    compare(ours, theirs, [idx])
    ours, theirs = _pair(lambda m: m.Embedding(10, 3, padding_idx=4))
    compare(ours, theirs, [idx])
    assert not ours.weight.grad.numpy()[4].any()  # the padding row gets no gradient
    assert nn.Embedding(10, 3, padding_idx=-1).padding_idx == 9
    assert repr(nn.Embedding(10, 3, padding_idx=4)) == repr(torch.nn.Embedding(10, 3, padding_idx=4))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(10, 3, padding_idx=10)


def test_embedding_from_pretrained() -> None:
    table = _randn(4, 2)
    emb = nn.Embedding.from_pretrained(table, freeze=False)
    assert emb.weight.requires_grad and emb.weight.data is not table
    np.testing.assert_array_equal(emb(cr.tensor([3, 0])).numpy(), table[[3, 0]])


# ---- convolutions ------------------------------------------------------------------------------------------------
CONV2D = [
    dict(in_channels=1, out_channels=3, kernel_size=3, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=(1, 2), dilation=(1, 2), groups=2),
    dict(in_channels=2, out_channels=3, kernel_size=(2, 4), padding="same"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding="same", dilation=2, bias=False),
    dict(in_channels=2, out_channels=2, kernel_size=(3, 2), padding="valid", stride=(2, 1)),
    dict(in_channels=2, out_channels=4, kernel_size=3, padding=2, padding_mode="reflect"),
    dict(in_channels=2, out_channels=4, kernel_size=3, padding=(1, 2), padding_mode="replicate"),
    dict(in_channels=2, out_channels=4, kernel_size=3, padding="same", padding_mode="circular"),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding=1, groups=4),
]


@pytest.mark.parametrize("kwargs", CONV2D, ids=[str(i) for i in range(len(CONV2D))])
def test_conv2d(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(lambda m: m.Conv2d(**kwargs))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(2, kwargs["in_channels"], 7, 6)])


def test_conv2d_unbatched() -> None:
    ours, theirs = _pair(lambda m: m.Conv2d(2, 3, 3, padding=1))
    compare(ours, theirs, [_randn(2, 5, 5)])


def test_conv_argument_errors() -> None:
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="padding string"):
        nn.Conv2d(1, 1, 3, padding="full")
    with pytest.raises(ValueError, match="device"):
        nn.Conv2d(1, 1, 3, device="cuda")


CONV1D = [
    dict(in_channels=2, out_channels=4, kernel_size=3, stride=2, padding=1),
    dict(in_channels=4, out_channels=4, kernel_size=3, padding="same", dilation=2, groups=2),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same", padding_mode="reflect"),
]


@pytest.mark.parametrize("kwargs", CONV1D, ids=[str(i) for i in range(len(CONV1D))])
def test_conv1d(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(lambda m: m.Conv1d(**kwargs))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(2, kwargs["in_channels"], 9)])


CONV_T = [
    dict(in_channels=4, out_channels=2, kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(2, 3), stride=(1, 2), groups=2, dilation=2),
    dict(in_channels=3, out_channels=2, kernel_size=3, bias=False),
]


@pytest.mark.parametrize("kwargs", CONV_T, ids=[str(i) for i in range(len(CONV_T))])
def test_conv_transpose2d(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(lambda m: m.ConvTranspose2d(**kwargs))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(2, kwargs["in_channels"], 4, 5)])


def test_conv_transpose2d_output_size() -> None:
    ours, theirs = _pair(lambda m: m.ConvTranspose2d(3, 2, 3, stride=2, padding=1))
    compare(ours, theirs, [_randn(1, 3, 4, 4)], kwargs={"output_size": (8, 8)})
    compare(ours, theirs, [_randn(1, 3, 4, 4)], kwargs={"output_size": [1, 2, 7, 8]})
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        ours(cr.tensor(_randn(1, 3, 4, 4)), output_size=(9, 9))
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose2d(1, 1, 3, stride=2, output_padding=2)


# ---- pooling -----------------------------------------------------------------------------------------------------
POOLS = [
    ("MaxPool2d", dict(kernel_size=2)),
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1)),
    ("MaxPool2d", dict(kernel_size=(2, 3), stride=(1, 2))),
    ("AvgPool2d", dict(kernel_size=2)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1)),
    ("AdaptiveAvgPool2d", dict(output_size=1)),
    ("AdaptiveAvgPool2d", dict(output_size=(3, 2))),
    ("AdaptiveAvgPool2d", dict(output_size=(None, 4))),
    ("AdaptiveAvgPool2d", dict(output_size=(4, 3))),
]


@pytest.mark.parametrize(("name", "kwargs"), POOLS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(POOLS)])
def test_pooling(name: str, kwargs: dict[str, Any]) -> None:
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(2, 3, 8, 6)])
    compare(ours, theirs, [_randn(3, 7, 5)])


# ---- normalisation -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batchnorm1d_train_then_eval(shape: tuple[int, ...]) -> None:
    ours, theirs = _pair(lambda m: m.BatchNorm1d(3))
    assert repr(ours) == repr(theirs)
    for _ in range(3):
        x = _randn(*shape) * 2 + 1
        compare(ours, theirs, [x])
    for key, value in theirs.state_dict().items():  # running statistics after three steps
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)
    assert int(ours.num_batches_tracked) == 3
    ours.eval()
    theirs.eval()
    compare(ours, theirs, [_randn(*shape)])


@pytest.mark.parametrize("kwargs", [dict(momentum=None), dict(affine=False), dict(track_running_stats=False),
                                    dict(momentum=0.3, eps=1e-3), dict(bias=False)])
def test_batchnorm2d_options(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(lambda m: m.BatchNorm2d(4, **kwargs))
    assert repr(ours) == repr(theirs)
    for _ in range(2):
        ours.train()
        theirs.train()
        compare(ours, theirs, [_randn(3, 4, 5, 5) * 3 - 1])
        ours.eval()
        theirs.eval()
        compare(ours, theirs, [_randn(3, 4, 5, 5)])
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), value.numpy(), rtol=1e-5, atol=1e-6)


def test_batchnorm_checks_input_rank() -> None:
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3, .*\): expected a 4-d input"):
        nn.BatchNorm2d(3)(cr.zeros(2, 3, dtype=np.float32))
    with pytest.raises(ValueError, match="expected a 2-d or 3-d input"):
        nn.BatchNorm1d(3)(cr.zeros(2, 3, 4, 5, dtype=np.float32))


@pytest.mark.parametrize("kwargs", [dict(normalized_shape=5), dict(normalized_shape=(4, 5), eps=1e-3),
                                    dict(normalized_shape=5, bias=False),
                                    dict(normalized_shape=5, elementwise_affine=False)])
def test_layer_norm(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(lambda m: m.LayerNorm(**kwargs))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(3, 4, 5) * 2 + 1])


@pytest.mark.parametrize("kwargs", [dict(num_groups=2, num_channels=4), dict(num_groups=4, num_channels=4),
                                    dict(num_groups=1, num_channels=4, affine=False),
                                    dict(num_groups=2, num_channels=4, bias=False)])
def test_group_norm(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(lambda m: m.GroupNorm(**kwargs))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(3, 4, 5, 2) * 2 + 1])
    compare(ours, theirs, [_randn(3, 4, 6)])
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(3, 4)


# ---- recurrent cells ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(), dict(nonlinearity="relu"), dict(bias=False)])
def test_rnn_cell(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(lambda m: m.RNNCell(3, 4, **kwargs))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(5, 3), _randn(5, 4)])
    compare(ours, theirs, [_randn(5, 3)])
    compare(ours, theirs, [_randn(3), _randn(4)])


@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell(bias: bool) -> None:
    ours, theirs = _pair(lambda m: m.LSTMCell(3, 4, bias=bias))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(5, 3), (_randn(5, 4), _randn(5, 4))])
    compare(ours, theirs, [_randn(5, 3)])
    compare(ours, theirs, [_randn(3), (_randn(4), _randn(4))])


@pytest.mark.parametrize("bias", [True, False])
def test_gru_cell(bias: bool) -> None:
    ours, theirs = _pair(lambda m: m.GRUCell(3, 4, bias=bias))
    assert repr(ours) == repr(theirs)
    compare(ours, theirs, [_randn(5, 3), _randn(5, 4)])
    compare(ours, theirs, [_randn(5, 3)])
    compare(ours, theirs, [_randn(3), _randn(4)])


def test_cell_over_a_sequence_backpropagates_through_time() -> None:
    ours, theirs = _pair(lambda m: m.LSTMCell(2, 3))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    xs = _randn(6, 4, 2)
    h, c = None, None
    th, tc = None, None
    for t in range(6):
        h, c = ours(cr.tensor(xs[t]), None if h is None else (h, c))
        th, tc = theirs(torch.from_numpy(xs[t]), None if th is None else (th, tc))
    h.sum().backward()
    th.sum().backward()
    np.testing.assert_allclose(ours.weight_hh.grad.numpy(), theirs.weight_hh.grad.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="expected a 1-d or 2-d input"):
        ours(cr.zeros(1, 2, 2, dtype=np.float32))


# ---- attention ---------------------------------------------------------------------------------------------------
MHA = [
    (dict(), {}),
    (dict(batch_first=True), {}),
    (dict(bias=False), {"need_weights": False}),
    (dict(batch_first=True), {"average_attn_weights": False}),
    (dict(kdim=3, vdim=5), {}),
    (dict(add_bias_kv=True), {}),
    (dict(add_zero_attn=True), {}),
    (dict(add_bias_kv=True, add_zero_attn=True, batch_first=True), {}),
]


@pytest.mark.parametrize(("kwargs", "call"), MHA, ids=[str(i) for i in range(len(MHA))])
def test_multihead_attention(kwargs: dict[str, Any], call: dict[str, Any]) -> None:
    ours, theirs = _pair(lambda m: m.MultiheadAttention(8, 2, **kwargs))
    batch_first = kwargs.get("batch_first", False)
    n, tgt, src = 3, 4, 5

    def shaped(length: int, features: int) -> np.ndarray[Any, Any]:
        return _randn(n, length, features) if batch_first else _randn(length, n, features)

    q = shaped(tgt, 8)
    k = shaped(src, kwargs.get("kdim", 8))
    v = shaped(src, kwargs.get("vdim", 8))
    compare(ours, theirs, [q, k, v], call)
    # masks: boolean attention mask, key padding mask, float mask
    attn_mask = RNG.random((tgt, src)) < 0.3
    attn_mask[:, 0] = False
    padding = np.zeros((n, src), dtype=bool)
    padding[0, -2:] = True
    compare(ours, theirs, [q, k, v], {**call, "attn_mask": attn_mask, "key_padding_mask": padding})
    compare(ours, theirs, [q, k, v], {**call, "attn_mask": _randn(n * 2, tgt, src)})


def test_multihead_self_attention_unbatched_and_causal() -> None:
    ours, theirs = _pair(lambda m: m.MultiheadAttention(6, 3))
    x = _randn(5, 6)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    out, w = ours(cr.tensor(x), cr.tensor(x), cr.tensor(x))
    t_out, t_w = theirs(*(torch.from_numpy(x),) * 3)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), t_w.detach().numpy(), rtol=1e-4, atol=1e-5)
    # one tensor for query, key and value (the fused projection), causal
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    xt = cr.tensor(_randn(5, 2, 6), requires_grad=True)
    out, w = ours(xt, xt, xt, is_causal=True)
    t_xt = torch.tensor(xt.numpy(), requires_grad=True)
    t_out, t_w = theirs(t_xt, t_xt, t_xt, attn_mask=torch.from_numpy(causal), is_causal=True)
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert not np.triu(w.numpy()[0], 1).any()
    out.sum().backward()
    t_out.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), t_xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(5, 2)


def test_multihead_attention_dropout_only_in_training() -> None:
    mha = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = cr.tensor(_randn(3, 2, 4))
    cr.random.seed(0)
    a, _ = mha(x, x, x)
    b, _ = mha(x, x, x)
    assert not np.allclose(a.numpy(), b.numpy())
    mha.eval()
    c, _ = mha(x, x, x)
    d, _ = mha(x, x, x)
    np.testing.assert_array_equal(c.numpy(), d.numpy())


# ---- activations -------------------------------------------------------------------------------------------------
ACTIVATIONS = [
    ("ReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.5}),
    ("SELU", {}), ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}), ("Sigmoid", {}), ("Tanh", {}),
    ("Softmax", {"dim": 1}), ("LogSoftmax", {"dim": -1}), ("Softplus", {}),
    ("Softplus", {"beta": 2.0, "threshold": 3.0}), ("Identity", {}),
]


@pytest.mark.parametrize(("name", "kwargs"), ACTIVATIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ACTIVATIONS)])
def test_activation(name: str, kwargs: dict[str, Any]) -> None:
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    x = _randn(4, 5) * 3
    x[np.abs(x) < 0.05] = 0.5  # away from the kinks
    compare(ours, theirs, [x])


def test_inplace_flags_are_accepted_and_shown() -> None:
    for name in ["ReLU", "LeakyReLU", "ELU", "SELU", "SiLU"]:
        ours = getattr(nn, name)(inplace=True)
        assert repr(ours) == repr(getattr(torch.nn, name)(inplace=True))
        x = cr.tensor([-1.0, 2.0])
        assert ours(x) is not x and x.tolist() == [-1.0, 2.0]  # chainrule never modifies the input


def test_softmax_without_dim_follows_pytorchs_legacy_choice() -> None:
    x = _randn(2, 3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(cr.tensor(x))
    np.testing.assert_allclose(y.numpy().sum(axis=0), 1.0, rtol=1e-6)


# ---- dropout: train and eval -------------------------------------------------------------------------------------
def test_dropout_train_and_eval() -> None:
    drop = nn.Dropout(0.25)
    x = cr.tensor(np.ones((200, 50), dtype=np.float32), requires_grad=True)
    y = drop(x)
    values = y.numpy()
    assert y.dtype == np.float32
    assert set(np.unique(values)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((values == 0).mean() - 0.25) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # the gradient is the same mask and scale
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).numpy(), x.numpy())
    assert repr(drop) == repr(torch.nn.Dropout(0.25))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# ---- initialisation ----------------------------------------------------------------------------------------------
def test_calculate_gain_matches_torch() -> None:
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu", "conv_transpose2d"]:
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    for slope in [None, 0.2, math.sqrt(5)]:
        assert nn.init.calculate_gain("leaky_relu", slope) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", slope))
    with pytest.raises(ValueError, match="unsupported"):
        nn.init.calculate_gain("swish")


def _uniform_ok(values: np.ndarray[Any, Any], bound: float) -> None:
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert np.abs(values).max() > 0.95 * bound  # the draws fill the interval
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound


def _normal_ok(values: np.ndarray[Any, Any], std: float) -> None:
    assert abs(values.mean()) < 0.05 * std
    assert abs(values.std() - std) < 0.05 * std


@pytest.mark.parametrize("shape", [(64, 100), (32, 16, 3, 3), (40, 8, 5)])
def test_init_formulas(shape: tuple[int, ...]) -> None:
    t = torch.empty(shape)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(t)
    w = cr.zeros(shape, dtype=np.float32)
    _uniform_ok(nn.init.xavier_uniform_(w, gain=2.0).numpy(), 2.0 * math.sqrt(6 / (fan_in + fan_out)))
    _normal_ok(nn.init.xavier_normal_(w).numpy(), math.sqrt(2 / (fan_in + fan_out)))
    _uniform_ok(nn.init.kaiming_uniform_(w, a=math.sqrt(5)).numpy(), 1 / math.sqrt(fan_in))
    _uniform_ok(nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu").numpy(),
                math.sqrt(2) * math.sqrt(3 / fan_out))
    _normal_ok(nn.init.kaiming_normal_(w, nonlinearity="relu").numpy(), math.sqrt(2 / fan_in))
    _normal_ok(nn.init.kaiming_normal_(w, a=0.1, mode="fan_out").numpy(),
               math.sqrt(2 / (1 + 0.01)) / math.sqrt(fan_out))
    assert w.dtype == np.float32


def test_init_simple_fills_and_errors() -> None:
    w = nn.Parameter(np.empty((3, 4), dtype=np.float32))
    assert nn.init.constant_(w, 0.5) is w and (w.numpy() == 0.5).all()
    assert not nn.init.zeros_(w).numpy().any()
    assert (nn.init.ones_(w).numpy() == 1).all()
    u = nn.init.uniform_(cr.zeros(5000), -2.0, 3.0).numpy()
    assert u.min() >= -2 and u.max() < 3 and abs(u.mean() - 0.5) < 0.1
    _normal_ok(nn.init.normal_(cr.zeros(5000), 1.0, 2.0).numpy() - 1.0, 2.0)
    t = nn.init.trunc_normal_(cr.zeros(5000), 0.0, 1.0, -0.5, 0.5).numpy()
    assert t.min() >= -0.5 and t.max() <= 0.5
    assert np.array_equal(nn.init.eye_(cr.zeros(2, 3)).numpy(), np.eye(2, 3))
    d = nn.init.dirac_(cr.zeros(4, 2, 3, 3), groups=2).numpy()
    assert np.array_equal(d, torch.nn.init.dirac_(torch.zeros(4, 2, 3, 3), groups=2).numpy())
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(cr.zeros(3))
    with pytest.raises(ValueError, match="mode"):
        nn.init.kaiming_uniform_(cr.zeros(3, 3), mode="fan_avg")
    with pytest.raises(TypeError, match="in place"):
        nn.init.zeros_(np.zeros(3))  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(3, 5), (6, 2), (4, 2, 3)])
def test_orthogonal(shape: tuple[int, ...]) -> None:
    q = nn.init.orthogonal_(cr.zeros(shape), gain=2.0).numpy().reshape(shape[0], -1)
    rows, cols = q.shape
    if rows <= cols:
        np.testing.assert_allclose(q @ q.T, 4 * np.eye(rows), atol=1e-10)
    else:
        np.testing.assert_allclose(q.T @ q, 4 * np.eye(cols), atol=1e-10)


def test_init_in_place_under_no_grad_and_seeded() -> None:
    w = nn.Parameter(np.zeros((4, 4), dtype=np.float32))
    data = w.data
    nn.init.xavier_uniform_(w)  # a leaf that requires grad may be filled: init runs under no_grad
    assert w.data is data and w.requires_grad and w.is_leaf
    cr.random.seed(7)
    a = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(1, 2, 3), nn.Embedding(5, 2))
    cr.random.seed(7)
    b = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(1, 2, 3), nn.Embedding(5, 2))
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.numpy(), y.numpy(), err_msg=k)


def test_default_layer_initialisation_follows_pytorch() -> None:
    lin = nn.Linear(200, 300)
    _uniform_ok(lin.weight.numpy(), 1 / math.sqrt(200))
    _uniform_ok(lin.bias.numpy(), 1 / math.sqrt(200))
    conv = nn.Conv2d(8, 64, 3, groups=2)
    _uniform_ok(conv.weight.numpy(), 1 / math.sqrt(4 * 9))
    assert np.abs(conv.bias.numpy()).max() <= 1 / math.sqrt(4 * 9)
    convt = nn.ConvTranspose2d(16, 32, 3, groups=2)
    assert convt.weight.shape == (16, 16, 3, 3)
    _uniform_ok(convt.weight.numpy(), 1 / math.sqrt(16 * 9))
    bil = nn.Bilinear(50, 20, 30)
    _uniform_ok(bil.weight.numpy(), 1 / math.sqrt(50))
    emb = nn.Embedding(300, 100)
    _normal_ok(emb.weight.numpy(), 1.0)
    for cell in (nn.RNNCell(30, 64), nn.LSTMCell(30, 64), nn.GRUCell(30, 64)):
        for p in cell.parameters():
            assert np.abs(p.numpy()).max() <= 1 / 8
        _uniform_ok(cell.weight_hh.numpy(), 1 / 8)
    mha = nn.MultiheadAttention(64, 4)
    _uniform_ok(mha.in_proj_weight.numpy(), math.sqrt(6 / (64 + 192)))
    assert not mha.in_proj_bias.numpy().any() and not mha.out_proj.bias.numpy().any()
    _uniform_ok(mha.out_proj.weight.numpy(), 1 / 8)
    bn = nn.BatchNorm2d(5)
    assert (bn.weight.numpy() == 1).all() and not bn.bias.numpy().any()
    assert (bn.running_var.numpy() == 1).all() and not bn.running_mean.numpy().any()
    for layer in (lin, conv, convt, bil, emb, bn, nn.LayerNorm(3), nn.GroupNorm(1, 2), mha, nn.LSTMCell(2, 2)):
        assert all(p.dtype == np.float32 for p in layer.parameters()), type(layer).__name__


# ---- higher order: the layers are composites of differentiable primitives ------------------------------------
SECOND_ORDER: list[tuple[Callable[[], nn.Module], tuple[int, ...]]] = [
    (lambda: nn.Linear(3, 2, dtype=np.float64), (2, 3)),
    (lambda: nn.Bilinear(2, 2, 2, dtype=np.float64), (2, 2)),
    (lambda: nn.Sequential(nn.Linear(3, 3, dtype=np.float64), nn.GELU(), nn.LayerNorm(3, dtype=np.float64)), (2, 3)),
    (lambda: nn.RNNCell(2, 3, dtype=np.float64), (2, 2)),
    (lambda: nn.GRUCell(2, 2, dtype=np.float64), (2, 2)),
    (lambda: nn.Conv2d(1, 2, 2, padding=1, padding_mode="reflect", dtype=np.float64), (1, 1, 3, 3)),
]


@pytest.mark.parametrize(("make", "shape"), SECOND_ORDER, ids=[str(i) for i in range(len(SECOND_ORDER))])
def test_layers_differentiate_twice_in_both_modes(make: Callable[[], nn.Module], shape: tuple[int, ...]) -> None:
    cr.random.seed(0)
    layer = make()
    x = cr.tensor(RNG.standard_normal(shape))
    if isinstance(layer, nn.Bilinear):
        assert cr.gradcheck(lambda a: layer(a, a), x)
    else:
        assert cr.gradcheck(layer, x)


def test_lstm_and_attention_differentiate_twice() -> None:
    cr.random.seed(0)
    lstm = nn.LSTMCell(2, 2, dtype=np.float64)
    x = cr.tensor(RNG.standard_normal((1, 2)))
    assert cr.gradcheck(lambda a: lstm(a)[1], x)
    mha = nn.MultiheadAttention(2, 1, batch_first=True, dtype=np.float64)
    q = cr.tensor(RNG.standard_normal((1, 2, 2)))
    assert cr.gradcheck(lambda a: mha(a, a, a)[0], q)


# ---- errors name the layer ---------------------------------------------------------------------------------------
def _f32(*shape: int) -> cr.Tensor:
    return cr.ones(*shape, dtype=np.float32)


LAYER_ERRORS: list[tuple[Callable[[], Any], str]] = [
    (lambda: nn.Linear(3, 2)(_f32(4, 5)),
     r"Linear(in_features=3, out_features=2, bias=True): input's last dimension is 5, expected 3 (input shape (4, 5))"),
    (lambda: nn.Linear(3, 2)(cr.tensor(np.float32(1.0))),
     "Linear(in_features=3, out_features=2, bias=True): input needs a last dimension of size 3, got input shape ()"),
    (lambda: nn.Bilinear(3, 4, 2)(_f32(5, 3), _f32(5, 5)),
     "Bilinear(in1_features=3, in2_features=4, out_features=2, bias=True): input2's last dimension is 5, expected 4"),
    (lambda: nn.Bilinear(3, 4, 2)(_f32(5, 3), _f32(6, 4)),
     "Bilinear(in1_features=3, in2_features=4, out_features=2, bias=True): input1 and input2 must have the same "
     "leading (batch) dimensions, got shapes (5, 3) and (6, 4)"),
    (lambda: nn.Conv1d(2, 4, 3)(_f32(1, 3, 7)),
     "Conv1d(2, 4, kernel_size=(3,), stride=(1,)): input's channel dimension (dim 1) is 3, expected 2"),
    (lambda: nn.Conv2d(2, 4, 3)(_f32(3, 7, 7)),
     "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1)): input's channel dimension (dim 0) is 3, expected 2 "
     "(input shape (3, 7, 7))"),
    (lambda: nn.Conv2d(2, 4, 3, padding_mode="reflect", padding=1)(_f32(1, 3, 7, 7)),
     "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), padding_mode=reflect): input's channel "
     "dimension (dim 1) is 3, expected 2"),
    (lambda: nn.Conv2d(2, 4, 3)(_f32(1, 1, 2, 7, 7)),
     "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1)): expected a 3-d or 4-d input (N, C, H, W) or unbatched "
     "(C, H, W), got input shape (1, 1, 2, 7, 7)"),
    (lambda: nn.ConvTranspose2d(2, 4, 3)(_f32(1, 3, 7, 7)),
     "ConvTranspose2d(2, 4, kernel_size=(3, 3), stride=(1, 1)): input's channel dimension (dim 1) is 3, expected 2"),
    (lambda: nn.LayerNorm(4)(_f32(2, 5)),
     "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True): input's trailing dimensions (5,) do not match "
     "normalized_shape=(4,) (input shape (2, 5))"),
    (lambda: nn.LayerNorm((2, 4))(_f32(4,)), "LayerNorm((2, 4), .*): input's trailing dimensions (4,) do not match"),
    (lambda: nn.BatchNorm1d(3)(_f32(4, 5)),
     "BatchNorm1d(3, .*): input's channel dimension (dim 1) is 5, expected 3 (input shape (4, 5))"),
    (lambda: nn.BatchNorm1d(3).eval()(_f32(4, 5, 2)), "BatchNorm1d(3, .*): input's channel dimension (dim 1) is 5"),
    (lambda: nn.BatchNorm2d(3)(_f32(4, 5, 2, 2)), "BatchNorm2d(3, .*): input's channel dimension (dim 1) is 5"),
    (lambda: nn.GroupNorm(2, 4)(_f32(3, 6, 5)), "GroupNorm(2, 4, .*): input's channel dimension (dim 1) is 6"),
    (lambda: nn.RNNCell(3, 5)(_f32(4, 2)),
     "RNNCell(3, 5): input's last dimension (input_size) is 2, expected 3 (input shape (4, 2))"),
    (lambda: nn.RNNCell(3, 5)(_f32(4, 3), _f32(4, 6)),
     "RNNCell(3, 5): hx must have shape (batch, hidden_size) = (4, 5) for an input of shape (4, 3), got hx shape "
     "(4, 6)"),
    (lambda: nn.GRUCell(3, 5)(_f32(3), _f32(2, 5)),
     "GRUCell(3, 5): hx must have shape (hidden_size,) = (5,) for an input of shape (3,), got hx shape (2, 5)"),
    (lambda: nn.LSTMCell(3, 5)(_f32(4, 3), (_f32(4, 5), _f32(2, 5))), "LSTMCell(3, 5): c_0 must have shape"),
    (lambda: nn.MultiheadAttention(8, 2)(_f32(3, 5, 6), _f32(3, 5, 6), _f32(3, 5, 6)),
     "MultiheadAttention: query's last dimension (embed_dim) is 6, expected 8 (query shape (3, 5, 6))"),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=True)(_f32(3, 5, 8), _f32(4, 5, 8), _f32(4, 5, 8)),
     "MultiheadAttention: query and key have different batch sizes (3 and 4"),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=True)(_f32(3, 5, 8), _f32(3, 4, 8), _f32(3, 4, 8),
                                                           attn_mask=np.zeros((5, 5), dtype=bool)),
     "MultiheadAttention: attn_mask must have shape (L, S) = (5, 4) or (N * num_heads, L, S) = (6, 5, 4)"),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=True)(_f32(3, 5, 8), _f32(3, 4, 8), _f32(3, 4, 8),
                                                           key_padding_mask=np.zeros((3, 5), dtype=bool)),
     r"MultiheadAttention: key_padding_mask must have shape (N, S) = (3, 4), got (3, 5)"),
]


@pytest.mark.parametrize(("call", "message"), LAYER_ERRORS, ids=[str(i) for i in range(len(LAYER_ERRORS))])
def test_shape_errors_name_the_layer(call: Callable[[], Any], message: str) -> None:
    """A mismatched input says which layer, which dimension, what it got and what it expected (not "matmul: ...")."""
    pattern = "^" + ".*".join(re.escape(part) for part in message.split(".*"))
    with pytest.raises(ValueError, match=pattern):
        call()


@pytest.mark.parametrize("indices", [[-1], [0, 4], [[1, 2], [3, -4]]])
def test_embedding_refuses_indices_outside_the_table(indices: Any) -> None:
    emb = nn.Embedding(4, 2)
    bad = next(i for i in np.ravel(indices) if not 0 <= i < 4)
    with pytest.raises(IndexError, match=rf"^Embedding\(4, 2\): index {bad} is out of range for 4 embeddings: "
                                         r"indices must lie in \[0, 3\]"):
        emb(np.array(indices))
    with pytest.raises(IndexError):
        torch.nn.Embedding(4, 2)(torch.tensor(indices))  # as PyTorch
    np.testing.assert_array_equal(emb(np.array([3, 0])).numpy(), emb.weight.numpy()[[3, 0]])


def test_device_arguments_say_what_is_available() -> None:
    with pytest.raises(ValueError, match=r"^Linear: device 'cuda:0' is not available: .*needs CuPy"):
        nn.Linear(2, 2, device="cuda:0")
    with pytest.raises(ValueError, match=r"^LayerNorm: 'gpu0' is not a device"):
        nn.LayerNorm(2, device="gpu0")
    assert nn.Conv2d(1, 1, 3, device="cpu").weight.shape == (1, 1, 3, 3)


# ---- more layers (issue 12), in float64 ------------------------------------------------------------------------------
def _compare64(make: Callable[[Any], Any], inputs: Sequence[Any], kwargs: dict[str, Any] | None = None) -> None:
    ours, theirs = torch_compare.pair(make)
    assert repr(ours) == repr(theirs)
    torch_compare.compare(ours, theirs, inputs, kwargs)


@pytest.mark.parametrize(("num", "shape"), [(1, (2, 3, 4)), (3, (2, 3, 4)), (3, (2, 3)), (1, (4,)), (1, ())])
def test_prelu(num: int, shape: tuple[int, ...]) -> None:
    x = RNG.standard_normal(shape)
    x.flat[: x.size // 2] *= -1
    if x.size > 2:
        x.flat[1] = 0.0  # the kink: PyTorch's derivative there is the slope for x, 0 for the slope
    _compare64(lambda m: m.PReLU(num, init=0.3), [x])
    with pytest.raises(ValueError, match="expected 3 channels"):
        nn.PReLU(3)(cr.zeros(2, 4, dtype=np.float32))
    with pytest.raises(ValueError, match="expected 3 channels in dimension 1"):
        nn.PReLU(3)(cr.zeros(3, dtype=np.float32))  # a 1-d input has one channel, as in PyTorch


CONV3D = [
    dict(),
    dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(1, 2, 1)),
    dict(groups=2, bias=False),
    dict(padding="same", dilation=(2, 1, 1)),
    dict(padding=1, padding_mode="reflect"),
    dict(padding=(1, 0, 1), padding_mode="circular", stride=2),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@pytest.mark.parametrize("kwargs", CONV3D, ids=str)
def test_conv3d(kwargs: dict[str, Any]) -> None:
    _compare64(lambda m: m.Conv3d(4, 2, (3, 2, 2), **kwargs), [RNG.standard_normal((2, 4, 5, 4, 5))])
    _compare64(lambda m: m.Conv3d(4, 2, (3, 2, 2), **kwargs), [RNG.standard_normal((4, 5, 4, 5))])


POOLS = [
    ("MaxPool1d", dict(kernel_size=2), (2, 3, 7)),
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True), (3, 8)),
    ("MaxPool1d", dict(kernel_size=2, dilation=2, stride=1, return_indices=True), (2, 2, 7)),
    ("AvgPool1d", dict(kernel_size=3), (2, 3, 7)),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 8)),
    ("AdaptiveAvgPool1d", dict(output_size=3), (2, 3, 7)),
    ("AdaptiveAvgPool1d", dict(output_size=5), (3, 4)),
    ("AdaptiveMaxPool1d", dict(output_size=3, return_indices=True), (2, 3, 7)),
    ("AdaptiveMaxPool2d", dict(output_size=(3, 2)), (2, 3, 7, 5)),
    ("AdaptiveMaxPool2d", dict(output_size=(4, None), return_indices=True), (3, 7, 5)),
    ("AdaptiveMaxPool2d", dict(output_size=6, return_indices=True), (1, 2, 4, 9)),
    ("MaxPool3d", dict(kernel_size=2), (2, 2, 4, 5, 4)),
    ("MaxPool3d", dict(kernel_size=(2, 3, 2), stride=(1, 2, 1), padding=(1, 1, 0), return_indices=True),
     (2, 2, 4, 5, 4)),
    ("MaxPool3d", dict(kernel_size=3, stride=2, dilation=(1, 1, 2), ceil_mode=True, return_indices=True),
     (2, 5, 6, 7)),
    ("ZeroPad2d", dict(padding=1), (2, 3, 4)),
    ("ZeroPad2d", dict(padding=(1, 0, -1, 2)), (2, 2, 3, 4)),
]


@pytest.mark.parametrize(("name", "kwargs", "shape"), POOLS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(POOLS)])
def test_pools_and_padding(name: str, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    _compare64(lambda m: getattr(m, name)(**kwargs), [RNG.standard_normal(shape)])


UPSAMPLE = [
    (dict(scale_factor=2), (1, 2, 3)),
    (dict(size=7, mode="nearest-exact"), (1, 2, 3)),
    (dict(scale_factor=0.6), (2, 1, 5, 7)),
    (dict(size=6, mode="linear"), (2, 2, 4)),
    (dict(scale_factor=1.7, mode="linear", align_corners=True), (2, 2, 4)),
    (dict(size=(5, 3), mode="bilinear"), (1, 2, 3, 4)),
    (dict(scale_factor=(1.5, 2.5), mode="bilinear"), (1, 2, 3, 4)),
    (dict(scale_factor=2.5, mode="bilinear", recompute_scale_factor=True), (1, 1, 3, 4)),
    (dict(size=(6, 7), mode="bicubic"), (1, 2, 3, 4)),
    (dict(size=(5, 2), mode="bicubic", align_corners=True), (1, 2, 3, 4)),
    (dict(size=(3, 4, 2), mode="trilinear"), (1, 2, 2, 3, 4)),
    (dict(scale_factor=2, mode="nearest"), (1, 1, 2, 2, 3)),
]


@pytest.mark.parametrize(("kwargs", "shape"), UPSAMPLE, ids=str)
def test_upsample(kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    _compare64(lambda m: m.Upsample(**kwargs), [RNG.standard_normal(shape)])


def test_interpolate_area_and_errors() -> None:
    x = RNG.standard_normal((1, 2, 5, 7))
    np.testing.assert_allclose(nn.functional.interpolate(x, size=(3, 4), mode="area"),
                               torch.nn.functional.interpolate(torch.tensor(x), size=(3, 4), mode="area").numpy(),
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="bilinear mode needs a 4-d input"):
        nn.functional.interpolate(x[0], size=3, mode="bilinear")
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.functional.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners can only be set"):
        nn.functional.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match="antialias=True is not supported"):
        nn.functional.interpolate(x, size=3, mode="bilinear", antialias=True)
    with pytest.raises(ValueError, match="conv3d: weight must be 5-d"):
        nn.functional.conv3d(x[None], x)


def test_3d_max_pooling_gives_ties_to_the_first_maximum() -> None:
    """All equal: PyTorch's gradient goes to the first element of each window in row-major order."""
    x = cr.tensor(np.ones((1, 1, 2, 2, 4)), requires_grad=True)
    nn.functional.max_pool3d(x, 2).sum().backward()
    t = torch.ones((1, 1, 2, 2, 4), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.max_pool3d(t, 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
    y = cr.tensor(np.ones((1, 3, 5)), requires_grad=True)
    nn.functional.adaptive_max_pool2d(y, (2, 2)).sum().backward()
    u = torch.ones((1, 3, 5), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.adaptive_max_pool2d(u, (2, 2)).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), u.grad.numpy())


NEW_SECOND_ORDER: list[tuple[Callable[[], nn.Module], tuple[int, ...]]] = [
    (lambda: nn.Conv3d(2, 2, 2, padding=(1, 0, 0), groups=2, dtype=np.float64), (1, 2, 3, 2, 3)),
    (lambda: nn.MaxPool3d(2, stride=1), (1, 1, 3, 2, 3)),
    (lambda: nn.AdaptiveMaxPool2d((2, 3)), (1, 3, 4)),
    (lambda: nn.Upsample(size=(3, 4), mode="bicubic"), (1, 1, 2, 3)),
    (lambda: nn.Upsample(scale_factor=2, mode="nearest"), (1, 1, 2, 3)),
    (lambda: nn.PReLU(2, dtype=np.float64), (2, 2, 3)),
    (lambda: nn.AvgPool1d(2, padding=1), (1, 2, 5)),
]


@pytest.mark.parametrize(("make", "shape"), NEW_SECOND_ORDER, ids=[str(i) for i in range(len(NEW_SECOND_ORDER))])
def test_new_layers_differentiate_twice_in_both_modes(make: Callable[[], nn.Module], shape: tuple[int, ...]) -> None:
    cr.random.seed(0)
    x = cr.tensor(np.random.default_rng(1).permutation(math.prod(shape)).reshape(shape) * 0.3 + 0.1)
    assert cr.gradcheck(make(), x)


DEVICE_LAYERS: list[tuple[Callable[[], nn.Module], tuple[Any, ...]]] = [
    (lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2), ((5, 2, 3),)),
    (lambda: nn.GRU(3, 4, batch_first=True), ((2, 5, 3),)),
    (lambda: nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0), ((3, 2, 4), (5, 2, 4))),
    (lambda: nn.Conv3d(2, 2, 2, padding=1, padding_mode="reflect"), ((1, 2, 3, 3, 3),)),
    (lambda: nn.MaxPool3d(2, return_indices=True), ((1, 2, 4, 4, 4),)),
    (lambda: nn.AdaptiveMaxPool2d((2, 3), return_indices=True), ((1, 2, 5, 7),)),
    (lambda: nn.Upsample(size=(4, 5), mode="bicubic"), ((1, 2, 3, 3),)),
    (lambda: nn.Upsample(scale_factor=2), ((1, 2, 3),)),
    (lambda: nn.AvgPool1d(2), ((1, 2, 5),)),
    (lambda: nn.PReLU(2), ((3, 2, 2),)),
]


@pytest.mark.parametrize(("make", "shapes"), DEVICE_LAYERS, ids=[str(i) for i in range(len(DEVICE_LAYERS))])
def test_new_layers_on_the_device(make: Callable[[], nn.Module], shapes: tuple[Any, ...]) -> None:
    """On the CuPy stand-in (its arrays refuse NumPy's conversions): the host's values and gradients."""
    from chainrule import backend
    from stand_in_gpu import provider

    cr.random.seed(0)
    host = make()
    inputs = [_randn(*s) for s in shapes]
    with backend.use_provider(provider):
        device = make()
        device.load_state_dict(host.state_dict())
        device.to("cuda")
        results = []
        for layer, place in ((host, "cpu"), (device, "cuda")):
            xs = [cr.tensor(x, requires_grad=True, device=place) for x in inputs]
            out = [o for o in torch_compare._flat(layer(*xs)) if o.dtype.kind == "f"]
            sum(o.sum() for o in out).backward()
            grads = [x.grad for x in xs] + [p.grad for p in layer.parameters()]
            results.append([t.cpu().numpy() for t in out + grads])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
