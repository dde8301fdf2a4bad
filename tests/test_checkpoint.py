"""Checkpoints: nested state (a model's, an optimizer's and a scheduler's state dicts, Python scalars, a generator's
state) saved as safetensors and loaded back exactly; a training run stopped and resumed from one continues bit for
bit; the structure in the header is checked strictly on load."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

import chainrule as cr
from chainrule.io import STRUCTURE_KEY, SerializationError, load, load_metadata, save

# ---- a training run, stopped and resumed --------------------------------------------------------------------------


def _model() -> cr.nn.Module:
    return cr.nn.Sequential(cr.nn.Linear(4, 16), cr.nn.ReLU(), cr.nn.Dropout(0.2), cr.nn.Linear(16, 3))


def _parts(seed: int) -> tuple[cr.nn.Module, cr.optim.Optimizer, Any]:
    cr.random.seed(seed)
    model = _model()
    opt = cr.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3, amsgrad=True)
    sched = cr.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=40)
    return model, opt, sched


DATA = np.random.default_rng(7).standard_normal((40, 4)).astype(np.float32)
LABELS = np.random.default_rng(8).integers(0, 3, 40)


def _train(model: cr.nn.Module, opt: cr.optim.Optimizer, sched: Any, steps: range) -> list[float]:
    losses = []
    for step in steps:
        batch = slice(4 * (step % 10), 4 * (step % 10) + 4)
        opt.zero_grad()
        loss = cr.nn.functional.cross_entropy(model(cr.tensor(DATA[batch])), LABELS[batch])
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def test_a_resumed_run_continues_bit_for_bit(tmp_path: Path) -> None:
    model, opt, sched = _parts(0)
    whole = _train(model, opt, sched, range(30))
    final = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    final_optim, final_sched = _plain(opt.state_dict()), sched.state_dict()

    model, opt, sched = _parts(0)
    first = _train(model, opt, sched, range(12))
    path = tmp_path / "ckpt.safetensors"
    save({"model": model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict(), "epoch": 3,
          "rng": cr.random.generator().bit_generator.state}, path)

    model2, opt2, sched2 = _parts(1)  # fresh objects, other weights, another stream
    ckpt = load(path)
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optim"])
    sched2.load_state_dict(ckpt["sched"])
    cr.random.generator().bit_generator.state = ckpt["rng"]
    assert ckpt["epoch"] == 3
    rest = _train(model2, opt2, sched2, range(12, 30))

    assert first + rest == whole  # exact float equality, step by step
    for name, value in model2.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), final[name], err_msg=name)
    assert _plain(opt2.state_dict()) == final_optim and sched2.state_dict() == final_sched
    assert isinstance(opt2.param_groups[0]["betas"], tuple)  # a tuple stays a tuple


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
                                     ("Adagrad", dict(lr=0.1)), ("AdamW", dict(lr=0.01))])
def test_every_optimizer_state_round_trips(tmp_path: Path, name: str, kw: dict[str, Any]) -> None:
    cr.random.seed(0)
    model = _model()
    opt = getattr(cr.optim, name)(model.parameters(), **kw)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=3)
    _train(model, opt, sched, range(5))
    save({"optim": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "o")
    back = load(tmp_path / "o")
    assert _plain(back["optim"]) == _plain(opt.state_dict())
    assert back["sched"] == sched.state_dict()


def _plain(tree: Any) -> Any:
    """A state with every Tensor replaced by its dtype, shape and bytes, for an exact comparison."""
    if isinstance(tree, cr.Tensor):
        return ("tensor", tree.dtype, tree.shape, tree.numpy().tobytes())
    if isinstance(tree, dict):
        return {k: _plain(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_plain(v) for v in tree)
    return tree


# ---- what nested state may hold -------------------------------------------------------------------------------------


def test_nested_values_come_back_with_their_types(tmp_path: Path) -> None:
    floats = [0.1, -0.0, math.inf, -math.inf, 5e-324, 1.7976931348623157e308, 1 / 3]
    state = {
        "floats": floats, "nan": math.nan, "ints": [0, -7, 2**130], "flags": (True, False), "none": None,
        "text": "héllo \"quoted\" \n", "empty": {"list": [], "tuple": (), "dict": {}},
        "by_index": {0: cr.tensor([1.0, 2.0]), 3: {"deep": np.arange(6, dtype=np.int16).reshape(2, 3)}},
        "scalars": [np.float32(1.5), np.int64(-3), np.bool_(True)], "t": cr.ones(2, 2, dtype=np.float32),
    }
    save(state, tmp_path / "c")
    back = load(tmp_path / "c")
    assert list(back) == list(state)
    assert [x.hex() for x in back["floats"]] == [x.hex() for x in floats]
    assert math.isnan(back["nan"]) and back["ints"] == [0, -7, 2**130] and type(back["ints"][2]) is int
    assert back["flags"] == (True, False) and back["none"] is None and back["text"] == state["text"]
    assert back["empty"] == {"list": [], "tuple": (), "dict": {}}
    assert list(back["by_index"]) == [0, 3] and isinstance(back["by_index"][0], cr.Tensor)
    deep = back["by_index"][3]["deep"]
    assert type(deep) is np.ndarray and deep.dtype == np.int16 and deep.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert [type(x) for x in back["scalars"]] == [np.float32, np.int64, np.bool_]
    assert back["scalars"][0] == 1.5 and back["t"].dtype == np.float32


def test_the_header_holds_strings_and_tensors_named_by_their_path(tmp_path: Path) -> None:
    model = cr.nn.Linear(2, 3)
    opt = cr.optim.Adam(model.parameters())
    (model(cr.ones(1, 2, dtype=np.float32)).sum()).backward()
    opt.step()
    save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, tmp_path / "c",
         metadata={"note": "run 1"})
    metadata = load_metadata(tmp_path / "c")
    assert set(metadata) == {"note", STRUCTURE_KEY} and all(isinstance(v, str) for v in metadata.values())
    structure = json.loads(metadata[STRUCTURE_KEY])
    assert list(structure) == ["dict"]
    # every tensor is a plain safetensors tensor, named by its path: other readers see them (flat)
    names = set(safetensors.numpy.load_file(tmp_path / "c"))
    assert names == {"model.weight", "model.bias", "optim.state.0.step", "optim.state.0.exp_avg",
                     "optim.state.0.exp_avg_sq", "optim.state.1.step", "optim.state.1.exp_avg",
                     "optim.state.1.exp_avg_sq"}  # the step counts are 0-d tensors, as PyTorch's


def test_a_flat_state_dict_is_written_as_before_and_loads_in_torch(tmp_path: Path) -> None:
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4))
    save(model.state_dict(), tmp_path / "m")
    assert load_metadata(tmp_path / "m") == {}
    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    twin.load_state_dict(safetensors.torch.load_file(tmp_path / "m"))
    np.testing.assert_array_equal(twin[0].weight.detach().numpy(), model[0].weight.numpy())
    assert set(load(tmp_path / "m")) == set(model.state_dict())


# ---- strict loading ----------------------------------------------------------------------------------------------


def _file(tmp_path: Path, structure: Any, tensors: dict[str, np.ndarray[Any, Any]] | None = None) -> Path:
    path = tmp_path / "bad.safetensors"
    text = structure if isinstance(structure, str) else json.dumps(structure)
    safetensors.numpy.save_file(tensors or {}, path, metadata={STRUCTURE_KEY: text})
    return path


def _d(*items: Any) -> dict[str, Any]:
    return {"dict": [[{"str": k}, v] for k, v in items]}


@pytest.mark.parametrize("structure,tensors,problem", [
    ("{not json", {}, "the checkpoint structure is not valid JSON"),
    ('{"dict": [], "dict": []}', {}, "repeats the key 'dict'"),
    ({"list": []}, {}, "does not describe a dict at the top"),
    (_d(("a", {"tensor": "a"})), {}, "checkpoint entry 'a': the tensor 'a' is not in the file"),
    (_d(("a", {"tensor": "b"})), {"b": np.ones(1)}, "checkpoint entry 'a': it names the tensor 'b', not its own"),
    (_d(), {"w": np.ones(1)}, "the tensor 'w' is in the file but not in the checkpoint structure"),
    (_d(("a", _d(("b", {"float": "zz"})))), {}, "checkpoint entry 'a.b': 'zz' is not a float in hex"),
    (_d(("a", {"int": "12x"})), {}, "checkpoint entry 'a': '12x' is not an integer"),
    (_d(("a", {"int": 12})), {}, "checkpoint entry 'a': int has the payload 12"),
    (_d(("a", {"pickle": "x"})), {}, "checkpoint entry 'a': unknown kind 'pickle'"),
    (_d(("a", {"str": "x", "int": "1"})), {}, "checkpoint entry 'a': its description .* is not an object with one"),
    (_d(("a", {"list": {"x": 1}})), {}, "checkpoint entry 'a': a list whose items are not a list"),
    (_d(("a", {"dict": [[{"float": "0x1p+0"}, {"none": None}]]})), {}, "checkpoint entry 'a': an item .* is not a"),
    (_d(("a", {"none": None}), ("a", {"none": None})), {}, "the key 'a' appears twice"),
    ({"dict": [[{"int": "1"}, {"none": None}]]}, {}, "the top-level key 1 is not a string"),
    (_d(("a", {"scalar": "a"})), {"a": np.ones(2)}, "checkpoint entry 'a': a NumPy scalar, but the tensor has shape"),
    ("[" * 100000 + "]" * 100000, {}, "not valid JSON|nested too deeply"),
])
def test_a_bad_structure_names_the_entry(tmp_path: Path, structure: Any, tensors: dict[str, Any],
                                         problem: str) -> None:
    with pytest.raises(SerializationError, match=problem):
        load(_file(tmp_path, structure, tensors))


def test_a_tensor_used_twice_is_refused(tmp_path: Path) -> None:
    # two entries naming one tensor: either one names a path other than its own, or two paths coincide
    bad = _d(("a", {"tensor": "a"}), ("b", {"tensor": "a"}))
    with pytest.raises(SerializationError, match="checkpoint entry 'b': it names the tensor 'a'"):
        load(_file(tmp_path, bad, {"a": np.ones(1)}))
    bad = _d(("a.b", {"tensor": "a.b"}), ("a", _d(("b", {"tensor": "a.b"}))))
    with pytest.raises(SerializationError, match=r"checkpoint entry 'a\.b': the tensor 'a\.b' is used twice"):
        load(_file(tmp_path, bad, {"a.b": np.ones(1)}))


def test_a_checkpoint_saved_from_a_device_loads_onto_one(tmp_path: Path) -> None:
    from chainrule import backend
    from stand_in_gpu import provider

    with backend.use_provider(provider):
        state = {"w": cr.ones(2, device="cuda"), "buffers": [np.arange(3)], "step": np.int64(4)}
        save(state, tmp_path / "c")
        back = load(tmp_path / "c", device="cuda")
        assert back["w"].device == "cuda:0" and type(back["buffers"][0]) is provider.array_type
        assert back["step"] == 4 and type(back["step"]) is np.int64
        assert load(tmp_path / "c")["w"].device == "cpu"
