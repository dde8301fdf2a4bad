"""The Transformer family against PyTorch in float64: state dicts loaded both ways, outputs, and the gradients of
inputs and every parameter, with dropout 0 (and in eval mode), post- and pre-norm, relu, gelu and callable
activations, batch_first, unbatched inputs, and every mask (boolean and float attention masks, key padding masks,
causal masks and ``generate_square_subsequent_mask``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from torch_compare import RNG, compare, pair, randn

# PyTorch's note about its own inference fast path (nested tensors), which post-norm sequence-first stacks skip
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")
D, HEADS, FF = 6, 2, 10
N, S, T = 2, 5, 4


def _seq(length: int, batch_first: bool, batched: bool = True) -> np.ndarray[Any, Any]:
    if not batched:
        return randn(length, D)
    return randn(N, length, D) if batch_first else randn(length, N, D)


def _padding(length: int) -> np.ndarray[Any, Any]:
    mask = np.zeros((N, length), dtype=bool)
    mask[0, -2:] = True
    return mask


def _float_padding(length: int) -> np.ndarray[Any, Any]:
    return np.where(_padding(length), -np.inf, 0.0)


def _causal(length: int) -> np.ndarray[Any, Any]:
    return np.triu(np.ones((length, length), dtype=bool), 1)


def _float_mask(rows: int, cols: int) -> np.ndarray[Any, Any]:
    mask = RNG.standard_normal((rows, cols))
    mask[RNG.random((rows, cols)) < 0.3] = -np.inf
    mask[:, 0] = 0.0  # every query attends to something
    return mask


LAYER_OPTIONS: list[dict[str, Any]] = [
    {},
    {"norm_first": True},
    {"batch_first": True, "activation": "gelu"},
    {"bias": False, "norm_first": True, "layer_norm_eps": 1e-3},
]


def _layer(kind: str, kwargs: dict[str, Any]) -> Any:
    return lambda m: getattr(m, kind)(D, HEADS, dim_feedforward=FF, dropout=0.0, **kwargs)


@pytest.mark.parametrize("kwargs", LAYER_OPTIONS, ids=str)
def test_encoder_layer(kwargs: dict[str, Any]) -> None:
    ours, theirs = pair(_layer("TransformerEncoderLayer", kwargs))
    bf = kwargs.get("batch_first", False)
    src = _seq(S, bf)
    compare(ours, theirs, [src])
    compare(ours, theirs, [src], {"src_mask": _causal(S), "is_causal": True}, load=False)
    compare(ours, theirs, [src], {"src_mask": _float_mask(S, S), "src_key_padding_mask": _float_padding(S)}, load=False)
    compare(ours, theirs, [src], {"src_mask": RNG.standard_normal((N * HEADS, S, S))}, load=False)


@pytest.mark.parametrize("kwargs", LAYER_OPTIONS, ids=str)
def test_decoder_layer(kwargs: dict[str, Any]) -> None:
    ours, theirs = pair(_layer("TransformerDecoderLayer", kwargs))
    bf = kwargs.get("batch_first", False)
    tgt, memory = _seq(T, bf), _seq(S, bf)
    compare(ours, theirs, [tgt, memory])
    compare(ours, theirs, [tgt, memory], {"tgt_mask": _causal(T), "tgt_is_causal": True,
                                          "memory_key_padding_mask": _padding(S)}, load=False)
    compare(ours, theirs, [tgt, memory], {"tgt_mask": _float_mask(T, T), "memory_mask": _float_mask(T, S),
                                          "tgt_key_padding_mask": _float_padding(T)}, load=False)


def test_unbatched_layers() -> None:
    ours, theirs = pair(_layer("TransformerEncoderLayer", {}))
    compare(ours, theirs, [_seq(S, False, batched=False)], {"src_mask": _causal(S)})
    ours, theirs = pair(_layer("TransformerDecoderLayer", {"norm_first": True}))
    compare(ours, theirs, [_seq(T, False, batched=False), _seq(S, False, batched=False)])


def test_callable_activations() -> None:
    ours, theirs = pair(_layer("TransformerEncoderLayer", {"activation": nn.functional.silu}))
    theirs.activation = torch.nn.functional.silu
    compare(ours, theirs, [_seq(S, False)])
    # a module as activation is a child module, with its parameters in the state dict (as PyTorch)
    ours, theirs = pair(lambda m: m.TransformerDecoderLayer(D, HEADS, FF, 0.0, activation=m.PReLU()))
    assert list(ours.state_dict())[-1] == "activation.weight"
    compare(ours, theirs, [_seq(T, False), _seq(S, False)])


@pytest.mark.parametrize("norm", [False, True])
def test_encoder_and_decoder_stacks(norm: bool) -> None:
    def encoder(m: Any) -> Any:
        layer = m.TransformerEncoderLayer(D, HEADS, FF, 0.0, batch_first=True)
        return m.TransformerEncoder(layer, 2, norm=m.LayerNorm(D) if norm else None, enable_nested_tensor=False)

    ours, theirs = pair(encoder)
    src = _seq(S, True)
    compare(ours, theirs, [src], {"mask": _causal(S), "src_key_padding_mask": _padding(S)})

    def decoder(m: Any) -> Any:
        layer = m.TransformerDecoderLayer(D, HEADS, FF, 0.0, norm_first=True)
        return m.TransformerDecoder(layer, 2, norm=m.LayerNorm(D) if norm else None)

    ours, theirs = pair(decoder)
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=np.float64).numpy()
    compare(ours, theirs, [_seq(T, False), _seq(S, False)], {"tgt_mask": mask, "memory_key_padding_mask": _padding(S)})


@pytest.mark.parametrize("kwargs", [{}, {"batch_first": True, "norm_first": True, "activation": "gelu"}], ids=str)
def test_transformer(kwargs: dict[str, Any]) -> None:
    ours, theirs = pair(lambda m: m.Transformer(D, HEADS, 2, 1, FF, 0.0, **kwargs))
    bf = kwargs.get("batch_first", False)
    src, tgt = _seq(S, bf), _seq(T, bf)
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=np.float64).numpy()
    compare(ours, theirs, [src, tgt], {"tgt_mask": mask, "src_key_padding_mask": _padding(S),
                                       "memory_key_padding_mask": _padding(S), "tgt_is_causal": True})
    compare(ours, theirs, [src, tgt], {"src_mask": _float_mask(S, S), "memory_mask": _float_mask(T, S),
                                       "tgt_key_padding_mask": _padding(T)}, load=False)


def test_square_subsequent_mask_and_initialisation() -> None:
    for size in (1, 4):
        np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(size).numpy(),
                                      torch.nn.Transformer.generate_square_subsequent_mask(size).numpy())
    assert nn.Transformer.generate_square_subsequent_mask(2).dtype == np.float32
    cr.random.seed(0)
    model = nn.Transformer(8, 2, 1, 1, 16)
    # xavier_uniform over every matrix: bound sqrt(6 / (fan_in + fan_out))
    w = model.encoder.layers[0].linear1.weight.numpy()
    bound = np.sqrt(6 / (8 + 16))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert not model.encoder.layers[0].self_attn.in_proj_bias.numpy().any()  # vectors keep their own init (zeros)
    theirs = torch.nn.Transformer(8, 2, 1, 1, 16)
    assert list(model.state_dict()) == list(theirs.state_dict())


def test_dropout_only_in_training() -> None:
    ours, theirs = pair(lambda m: m.TransformerEncoderLayer(D, HEADS, FF, dropout=0.3))
    src = _seq(S, False)
    compare(ours.eval(), theirs.eval(), [src])
    ours.train()
    cr.random.seed(0)
    a = ours(cr.tensor(src))
    b = ours(cr.tensor(src))
    assert not np.allclose(a.numpy(), b.numpy())


def test_second_derivatives() -> None:
    cr.random.seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, 6, 0.0, activation="gelu", dtype=np.float64)
    src = cr.tensor(randn(3, 1, 4))
    assert cr.gradcheck(lambda x: layer(x, is_causal=True), src)


def test_errors() -> None:
    with pytest.raises(ValueError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    model = nn.Transformer(4, 2, 1, 1, 8)
    with pytest.raises(ValueError, match="batch number of src and tgt"):
        model(cr.zeros(3, 2, 4, dtype=np.float32), cr.zeros(3, 1, 4, dtype=np.float32))
    with pytest.raises(ValueError, match="equal to d_model"):
        model(cr.zeros(3, 2, 5, dtype=np.float32), cr.zeros(3, 2, 5, dtype=np.float32))
    with pytest.raises(ValueError, match="num_layers"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2), -1)
