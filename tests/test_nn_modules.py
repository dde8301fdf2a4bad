"""Module machinery: registration, traversal, state dicts (against PyTorch's key lists), train/eval, dtypes, repr,
containers, and Parameter."""

from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.register_buffer("scale", cr.tensor(np.ones(4, dtype=np.float32)))
        self.register_buffer("cache", cr.tensor(np.zeros(2, dtype=np.float32)), persistent=False)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 5 * 5, 3))

    def forward(self, x: Any) -> Any:
        return self.head(cr.relu(self.bn(self.conv(x))) * cr.reshape(self.scale, (1, 4, 1, 1)))


class TorchBlock(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.register_buffer("scale", torch.ones(4))
        self.register_buffer("cache", torch.zeros(2), persistent=False)
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 5 * 5, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.bn(self.conv(x))) * self.scale.reshape(1, 4, 1, 1))


def _state_arrays(module: torch.nn.Module) -> dict[str, np.ndarray[Any, Any]]:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


# ---- Parameter ---------------------------------------------------------------------------------------------------
def test_parameter_is_a_leaf_that_requires_grad_and_shares_memory() -> None:
    array = np.zeros(3, dtype=np.float32)
    p = nn.Parameter(array)
    assert isinstance(p, cr.Tensor) and p.requires_grad and p.is_leaf and p.dtype == np.float32
    array[0] = 5.0
    assert p.data[0] == 5.0  # shares, as torch.nn.Parameter(tensor) does
    assert not nn.Parameter(array, requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="int64"):
        nn.Parameter(np.arange(3))
    assert repr(nn.Parameter(np.array([1.0]))).startswith("Parameter containing:\ntensor([1.]")
    assert type(p * 2) is cr.Tensor  # results of operations are plain tensors


# ---- registration ------------------------------------------------------------------------------------------------
def test_registration_by_assignment_in_order() -> None:
    block = Block()
    assert list(block._parameters) == []
    assert list(block._buffers) == ["scale", "cache"]
    assert list(block._modules) == ["conv", "bn", "head"]
    assert [n for n, _ in block.named_parameters()] == [
        "conv.weight", "conv.bias", "bn.weight", "bn.bias", "head.1.weight", "head.1.bias"]
    assert [n for n, _ in block.named_buffers()] == [
        "scale", "cache", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]
    assert len(list(block.parameters())) == 6
    assert len(list(block.buffers())) == 5
    assert [n for n, _ in block.named_modules()] == ["", "conv", "bn", "head", "head.0", "head.1"]
    assert [type(m).__name__ for m in block.modules()] == ["Block", "Conv2d", "BatchNorm2d", "Sequential",
                                                          "Flatten", "Linear"]
    assert [n for n, _ in block.named_children()] == ["conv", "bn", "head"]
    assert list(block.children()) == [block.conv, block.bn, block.head]
    assert [n for n, _ in block.named_parameters(recurse=False)] == []
    assert [n for n, _ in block.head.named_parameters(prefix="head")] == ["head.1.weight", "head.1.bias"]
    assert block.get_submodule("head.1") is block.head[1]
    with pytest.raises(AttributeError, match="nope"):
        block.get_submodule("head.nope")


def test_parameters_and_modules_match_torch_names() -> None:
    ours, theirs = Block(), TorchBlock()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_assignment_rules() -> None:
    m = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="Parameter or None"):
        m.weight = cr.zeros(3, 2)  # a plain tensor cannot replace a parameter
    m.bias = None
    assert m.bias is None and "bias" not in m.state_dict()
    m.bias = nn.Parameter(np.zeros(3, dtype=np.float32))
    assert list(m.state_dict()) == ["weight", "bias"]
    m.extra = nn.Parameter(np.ones(1, dtype=np.float32))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias", "extra"]
    del m.extra
    assert not hasattr(m, "extra")
    m.note = "plain attribute"
    assert m.note == "plain attribute" and "note" not in m.state_dict()
    # a submodule replaced by a plain value is an error; by None it is removed from traversal
    seq = nn.Sequential(nn.Linear(1, 1))
    holder = nn.Module()
    holder.inner = seq
    with pytest.raises(TypeError, match="Module or None"):
        holder.inner = 3
    holder.inner = None
    assert list(holder.named_modules()) == [("", holder)]
    # buffers: a tensor replaces the buffer, anything else is refused
    bn = nn.BatchNorm1d(2)
    bn.running_mean = cr.tensor(np.full(2, 3.0, dtype=np.float32))
    assert bn.state_dict()["running_mean"].tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match="buffer"):
        bn.running_mean = [1.0, 2.0]
    with pytest.raises(KeyError, match="already exists"):
        bn.register_buffer("weight", cr.zeros(2))
    with pytest.raises(KeyError, match=r"'\.'"):
        bn.register_buffer("a.b", cr.zeros(2))
    with pytest.raises(AttributeError, match="has no attribute 'missing'"):
        _ = bn.missing


def test_assigning_before_init_is_a_clear_error() -> None:
    class Forgot(nn.Module):
        def __init__(self) -> None:
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgot()


def test_shared_parameters_are_listed_once() -> None:
    enc, dec = nn.Linear(4, 3), nn.Linear(3, 4)
    tied = nn.Sequential(enc, nn.Tanh(), enc)
    assert len(list(tied.parameters())) == 2
    assert len(list(tied.modules())) == 3
    assert list(tied.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # torch keeps both keys
    dec.weight = enc.weight
    both = nn.Sequential(enc, dec)
    assert [n for n, _ in both.named_parameters()] == ["0.weight", "0.bias", "1.bias"]


def test_call_runs_forward_and_backward_fills_parameter_grads() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    x = cr.tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    y = model(x)
    assert y.shape == (5, 1) and y.dtype == np.float32
    y.sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and p.grad.dtype == np.float32, name
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(x)


# ---- state dicts ------------------------------------------------------------------------------------------------
def test_state_dict_matches_torch_keys_shapes_dtypes() -> None:
    ours, theirs = Block(), TorchBlock()
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for key in sd:
        assert sd[key].shape == tuple(tsd[key].shape), key
        assert sd[key].dtype == tsd[key].numpy().dtype, key
    assert sd["bn.num_batches_tracked"].dtype == np.int64 and sd["bn.num_batches_tracked"].shape == ()
    assert "cache" not in sd  # non-persistent buffer


def test_state_dict_values_share_memory_and_keep_vars() -> None:
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["weight"].requires_grad and sd["weight"].data is m.weight.data
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    assert list(m.state_dict(prefix="fc.")) == ["fc.weight", "fc.bias"]


def test_load_state_dict_from_torch_and_back_gives_the_same_outputs() -> None:
    torch.manual_seed(0)
    ours, theirs = Block(), TorchBlock()
    x = np.random.default_rng(1).standard_normal((2, 1, 5, 5)).astype(np.float32)
    theirs.train()
    theirs(torch.from_numpy(x))  # move the running statistics away from their initial values
    weight = ours.conv.weight
    ours.load_state_dict(_state_arrays(theirs))
    assert ours.conv.weight is weight  # copied in place
    assert int(ours.bn.num_batches_tracked) == 1
    ours.eval()
    theirs.eval()
    np.testing.assert_allclose(ours(cr.tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    # and the other way round: torch loads our state dict (as safetensors would hand it over)
    fresh = TorchBlock().eval()
    fresh.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()})
    np.testing.assert_array_equal(fresh(torch.from_numpy(x)).detach().numpy(),
                                  theirs(torch.from_numpy(x)).detach().numpy())


def test_load_state_dict_errors_list_every_problem_and_copy_nothing() -> None:
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    before = {k: v.numpy().copy() for k, v in m.state_dict().items()}
    sd = {k: np.array(v) + 1 for k, v in m.state_dict().items()}
    del sd["0.bias"]
    sd["extra.weight"] = np.zeros(1)
    sd["0.weight"] = np.zeros((2, 2), dtype=np.float32)
    sd["1.running_var"] = np.ones(3, dtype=np.float64)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert 'Missing key(s) in state_dict: "0.bias"' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in message
    assert "0.weight: the module has shape (3, 2) and dtype float32, the state_dict has shape (2, 2)" in message
    assert "1.running_var" in message and "float64" in message
    for key, value in m.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])  # nothing was copied
    # wrong shapes are errors even with strict=False; missing and unexpected ones are reported
    with pytest.raises(RuntimeError, match=r"0\.weight"):
        m.load_state_dict(sd, strict=False)
    ok = {k: v for k, v in sd.items() if k not in ("0.weight", "1.running_var")}
    result = m.load_state_dict(ok, strict=False)
    assert result.missing_keys == ["0.weight", "0.bias", "1.running_var"]
    assert result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(m[1].running_mean.numpy(), before["1.running_mean"] + 1)
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([("0.weight", np.zeros((3, 2)))])  # type: ignore[arg-type]


def test_load_state_dict_accepts_tensors() -> None:
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert a.weight.data is not b.weight.data


# ---- modes, gradients, dtypes ------------------------------------------------------------------------------------
def test_train_and_eval_are_recursive() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model[1].train()
    assert [m.training for m in model.modules()] == [False, False, True, True, True]
    with pytest.raises(ValueError, match="boolean"):
        model.train("yes")  # type: ignore[arg-type]


def test_zero_grad() -> None:
    model = nn.Linear(3, 2)
    model(cr.ones(1, 3, dtype=np.float32)).sum().backward()
    grad = model.weight.grad
    model.zero_grad(set_to_none=False)
    assert model.weight.grad is grad and grad is not None and not grad.numpy().any()  # in place, as PyTorch
    model.zero_grad()
    assert model.weight.grad is None and model.bias.grad is None


def test_requires_grad_and_apply() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    model[0].requires_grad_(False)
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    seen: list[str] = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "ReLU", "Linear", "Sequential"]  # children first, as PyTorch


def test_to_dtype_converts_floating_state_in_place() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    weight = model[0].weight
    model(cr.ones(4, 2, dtype=np.float32)).sum().backward()
    assert model.to(np.float64) is model
    assert model[0].weight is weight and weight.dtype == np.float64 and weight.grad.dtype == np.float64
    assert model[1].running_var.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    assert model(cr.ones(4, 2)).dtype == np.float64
    model.to("cpu").float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.double()[0].bias.dtype == np.float64
    with pytest.raises(TypeError, match="floating"):
        model.to(np.int32)


@pytest.mark.parametrize(("args", "kwargs"), [(("cpu",), {}), (("cpu:0", np.float64), {}),
                                              ((), {"device": "cpu", "dtype": "float64"}), ((np.float64,), {}),
                                              ((), {"dtype": np.float64})])
def test_to_takes_pytorchs_forms(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    model = nn.Linear(2, 2)
    assert model.to(*args, **kwargs) is model
    wants64 = any(a is np.float64 or a == "float64" for a in (*args, *kwargs.values()))
    assert model.weight.dtype == (np.float64 if wants64 else np.float32)


@pytest.mark.parametrize(("device", "says"), [("cuda", "needs CuPy: pip install 'chainrule\\[gpu\\]'"),
                                            ("cuda:0", "needs CuPy"), ("mps", "computes on 'cpu' and")])
def test_to_a_device_that_is_missing_says_what_is_missing(device: str, says: str) -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match=rf"^Linear.to: device '{device}' is not available: .*{says}"):
        model.to(device)
    with pytest.raises(ValueError, match="is not available"):
        model.to(device, np.float64)
    with pytest.raises(ValueError, match="is not available"):
        model.to(dtype=np.float64, device=device)
    assert model.weight.dtype == np.float32  # nothing converted


def test_to_an_unknown_string_is_neither_a_dtype_nor_a_device() -> None:
    with pytest.raises(ValueError, match=r"^Linear.to: 'cdua' is neither a dtype \(such as np.float32 or "
                                         r"'float64'\) nor a device \(such as 'cpu'\)"):
        nn.Linear(2, 2).to("cdua")
    with pytest.raises(TypeError, match="got two dtypes"):
        nn.Linear(2, 2).to(np.float32, np.float64)
    with pytest.raises(TypeError, match="got two devices"):
        nn.Linear(2, 2).to("cpu", device="cpu")


# ---- dtypes at the module boundary -------------------------------------------------------------------------------
def test_a_float32_module_refuses_float64_inputs_naming_both_dtypes_and_the_fixes() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    for x in (cr.ones(4, 2), np.ones((4, 2)), cr.ones(4, 2, dtype=np.float16)):
        with pytest.raises(TypeError, match=rf"^Linear\(in_features=2, out_features=3, bias=True\): got a "
                                            rf"{x.dtype} input, but the parameters are float32; convert the input "
                                            rf"\(x.astype\(np.float32\)\) or the module "
                                            rf"\(model.to\(np.{x.dtype}\)\)"):
            model(x)
    assert model(cr.ones(4, 2, dtype=np.float32)).dtype == np.float32
    assert model.to(np.float64)(cr.ones(4, 2)).dtype == np.float64
    with pytest.raises(TypeError, match="got a float32 input, but the parameters are float64"):
        model(np.ones((4, 2), dtype=np.float32))


def test_the_dtype_check_sees_nested_and_keyword_inputs_and_lets_numbers_and_indices_through() -> None:
    lstm = nn.LSTMCell(2, 3)
    x = cr.ones(4, 2, dtype=np.float32)
    with pytest.raises(TypeError, match=r"LSTMCell.*got a float64 input"):
        lstm(x, (cr.zeros(4, 3, dtype=np.float32), cr.zeros(4, 3)))
    with pytest.raises(TypeError, match=r"LSTMCell.*got a float64 input"):
        lstm(x, hx=[cr.zeros(4, 3), cr.zeros(4, 3)])
    assert lstm(x)[0].dtype == np.float32
    assert nn.Linear(1, 1)(np.ones((2, 1), dtype=np.float32) * 2.0).dtype == np.float32
    emb = nn.Embedding(5, 2)
    assert emb(np.array([1, 4])).dtype == np.float32  # int64 indices into float32 rows
    assert nn.ReLU()(cr.ones(2)).dtype == np.float64  # no parameters, nothing to match


def test_deepcopy_gives_an_independent_module() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    clone = copy.deepcopy(model)
    assert isinstance(clone[0].weight, nn.Parameter)
    with cr.no_grad():
        clone[0].weight += 1.0
    assert not np.array_equal(clone[0].weight.numpy(), model[0].weight.numpy())
    assert list(clone.state_dict()) == list(model.state_dict())


# ---- repr --------------------------------------------------------------------------------------------------------
def test_repr_matches_torch() -> None:
    ours = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, (3, 5), stride=2, padding=0, dilation=2, groups=4, bias=False),
        nn.BatchNorm2d(32, momentum=None), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.Sequential(OrderedDict(fc=nn.Linear(32, 10), act=nn.LeakyReLU(0.2), drop=nn.Dropout(0.25))),
        nn.LayerNorm(10), nn.LogSoftmax(dim=1),
    )
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, (3, 5), stride=2, padding=0, dilation=2, groups=4, bias=False),
        torch.nn.BatchNorm2d(32, momentum=None), torch.nn.AdaptiveAvgPool2d((1, 1)), torch.nn.Flatten(),
        torch.nn.Sequential(OrderedDict(fc=torch.nn.Linear(32, 10), act=torch.nn.LeakyReLU(0.2),
                                        drop=torch.nn.Dropout(0.25))),
        torch.nn.LayerNorm(10), torch.nn.LogSoftmax(dim=1),
    )
    assert repr(ours) == repr(theirs)


# ---- containers --------------------------------------------------------------------------------------------------
def test_sequential_indexing_and_editing() -> None:
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and list(seq) == [a, b, c] and seq[-1] is c
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    with pytest.raises(IndexError):
        seq[3]
    seq[1] = nn.Tanh()
    assert type(seq[1]).__name__ == "Tanh"
    del seq[0]
    assert list(seq._modules) == ["0", "1"] and seq[1] is c  # renumbered, as PyTorch
    seq.insert(0, a)
    seq.append(nn.Sigmoid())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear", "Sigmoid"]
    assert type(seq.pop()).__name__ == "Sigmoid" and len(seq) == 3
    assert seq(cr.ones(4, 2, dtype=np.float32)).shape == (4, 1)
    named = nn.Sequential(OrderedDict(enc=nn.Linear(2, 2), dec=nn.Linear(2, 2)))
    assert list(named.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(named[0], nn.Linear)


def test_module_list() -> None:
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    layers += [nn.ReLU()]
    layers.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in layers] == ["Tanh", "Linear", "Linear", "ReLU"]
    assert list(layers.state_dict()) == ["1.weight", "1.bias", "2.weight", "2.bias"]
    del layers[0]
    assert list(layers.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert isinstance(layers[:2], nn.ModuleList) and len(layers[:2]) == 2
    assert isinstance(layers[-1], nn.ReLU)
    assert len(layers + nn.ModuleList([nn.Tanh()])) == 4
    assert isinstance(layers.pop(0), nn.Linear) and len(layers) == 2
    with pytest.raises(TypeError, match="iterable"):
        layers.extend(nn.Linear(1, 1))  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        layers(cr.ones(1))
    tl = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.ReLU()])
    assert list(nn.ModuleList([nn.Linear(2, 2), nn.ReLU()]).state_dict()) == list(tl.state_dict())


def test_module_dict() -> None:
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 3)
    heads.update([("c", nn.ReLU())])
    assert list(heads) == ["a", "b", "c"] and len(heads) == 3 and "b" in heads
    assert [k for k, _ in heads.items()] == list(heads.keys())
    assert isinstance(heads.pop("c"), nn.ReLU) and "c" not in heads
    assert list(heads.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]
    del heads["a"]
    assert list(heads.values()) == [heads["b"]]
    heads.clear()
    assert len(heads) == 0
    with pytest.raises(TypeError, match="pairs"):
        heads.update([1, 2])  # type: ignore[list-item]
