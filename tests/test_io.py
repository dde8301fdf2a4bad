"""Model files: cr.save / cr.load round trips, atomic saving, PyTorch interop, and every malformed file refused."""

from __future__ import annotations

import json
import os
import pickle
import stat
import struct
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy as st_numpy
import safetensors.torch as st_torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.io
from chainrule.io import MAX_HEADER_BYTES, SerializationError, load, load_metadata, save

ALL_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.float16, np.uint32, np.int32, np.float32,
              np.uint64, np.int64, np.float64, np.complex64]


def _state(rng: np.random.Generator) -> dict[str, np.ndarray[Any, Any]]:
    out = {}
    for i, dtype in enumerate(ALL_DTYPES):
        shape = [(), (3,), (2, 3), (0, 4), (2, 1, 2)][i % 5]
        values = rng.normal(size=shape) * 50
        if np.dtype(dtype).kind == "c":
            values = values + 1j * rng.normal(size=shape)
        out[f"t{i}.{np.dtype(dtype).name}"] = (values > 0 if dtype is np.bool_ else values).astype(dtype)
    return out


def _raw_file(header: Any, buffer: bytes = b"") -> bytes:
    """A safetensors file from a header (dict, str or bytes) and a data buffer, exactly as given."""
    if isinstance(header, dict):
        header = json.dumps(header)
    if isinstance(header, str):
        header = header.encode()
    return struct.pack("<Q", len(header)) + header + buffer


def _u8(offsets: list[int], shape: list[int] | None = None, dtype: str = "U8") -> dict[str, Any]:
    return {"dtype": dtype, "shape": [offsets[1] - offsets[0]] if shape is None else shape, "data_offsets": offsets}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---- round trips ---------------------------------------------------------------------------------------------


def test_round_trip_every_dtype_and_shape(tmp_path: Path) -> None:
    state = _state(np.random.default_rng(0))
    path = tmp_path / "m.safetensors"
    save(state, path)
    loaded = load(path)
    assert set(loaded) == set(state)
    for name, array in state.items():
        t = loaded[name]
        assert isinstance(t, cr.Tensor) and not t.requires_grad and t.grad is None
        assert t.dtype == array.dtype and t.shape == array.shape, name
        np.testing.assert_array_equal(t.numpy(), array)


def test_loaded_arrays_are_writable_and_independent(tmp_path: Path) -> None:
    save({"a": np.zeros(3), "b": np.zeros(3), "c": np.zeros((), np.float32)}, tmp_path / "m.safetensors")
    sd = load(tmp_path / "m.safetensors")
    for t in sd.values():
        assert t.numpy().flags.writeable and t.numpy().flags.c_contiguous and t.numpy().flags.aligned
    with cr.no_grad():
        sd["a"] += 1.0
    sd["c"].numpy()[...] = 5
    np.testing.assert_array_equal(sd["b"].numpy(), np.zeros(3))
    assert float(sd["c"]) == 5 and sd["a"].tolist() == [1.0, 1.0, 1.0]


def test_save_accepts_tensors_views_and_any_byte_order(tmp_path: Path) -> None:
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    state = {
        "param": cr.tensor(base, requires_grad=True),          # a Tensor that requires grad
        "transposed": base.T,                                    # not C-contiguous
        "strided": base[::2, 1::3],                              # a strided view
        "fortran": np.asfortranarray(base),
        "big_endian": base.astype(">f8"),
        "scalar": np.int64(7),                                   # a NumPy scalar
        "int_tensor": cr.tensor(np.array([1, 2, 3], dtype=np.int32)),
    }
    save(state, tmp_path / "m.safetensors")
    loaded = load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(loaded["param"].numpy(), base)
    np.testing.assert_array_equal(loaded["transposed"].numpy(), base.T)
    np.testing.assert_array_equal(loaded["strided"].numpy(), base[::2, 1::3])
    np.testing.assert_array_equal(loaded["fortran"].numpy(), base)
    assert loaded["big_endian"].dtype == np.float64 and loaded["big_endian"].dtype.isnative
    np.testing.assert_array_equal(loaded["big_endian"].numpy(), base)
    assert loaded["scalar"].shape == () and int(loaded["scalar"]) == 7
    assert loaded["int_tensor"].dtype == np.int32


def test_bit_identical_floats(tmp_path: Path) -> None:
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1 / 3]
    arrays = {
        "x": np.array([*special, 5e-324, np.finfo(np.float64).max]),
        "y": np.array([*special, 1e-45, np.finfo(np.float32).max], dtype=np.float32),
        "z": np.array([*special, 6e-8, np.finfo(np.float16).max], dtype=np.float16),
    }
    save(arrays, tmp_path / "m")
    loaded = load(tmp_path / "m")
    for name, ref in arrays.items():
        assert loaded[name].numpy().tobytes() == ref.tobytes()


def test_load_keeps_the_header_order(tmp_path: Path) -> None:
    header = {"zeta": _u8([2, 3]), "alpha": _u8([0, 2]), "mid": _u8([3, 3])}
    loaded = load(_write(tmp_path / "m", _raw_file(header, b"\x01\x02\x03")))
    assert list(loaded) == ["zeta", "alpha", "mid"]
    assert loaded["zeta"].tolist() == [3] and loaded["alpha"].tolist() == [1, 2] and loaded["mid"].shape == (0,)


def test_metadata_and_empty_state_dict(tmp_path: Path) -> None:
    save({}, tmp_path / "empty")
    assert load(tmp_path / "empty") == {} and load_metadata(tmp_path / "empty") == {}
    save({"w": np.ones(2)}, tmp_path / "m", metadata={"format": "pt", "note": "ünïcode"})
    assert load_metadata(tmp_path / "m") == {"format": "pt", "note": "ünïcode"}
    assert list(load(tmp_path / "m")) == ["w"]
    null_meta = _raw_file({"__metadata__": None, "a": _u8([0, 1])}, b"\x07")
    assert load_metadata(_write(tmp_path / "n", null_meta)) == {}
    assert load(tmp_path / "n")["a"].tolist() == [7]


def test_stray_bool_bytes_read_as_true(tmp_path: Path) -> None:
    loaded = load(_write(tmp_path / "b", _raw_file({"b": _u8([0, 3], dtype="BOOL")}, b"\x00\x01\x02")))
    assert loaded["b"].dtype == np.bool_ and loaded["b"].tolist() == [False, True, True]


def test_unaligned_data_is_read_into_aligned_arrays(tmp_path: Path) -> None:
    # a 3-byte header puts the data at offset 11, which no float64 array would like
    payload = np.arange(3, dtype="<f8").tobytes()
    header = json.dumps({"x": {"dtype": "F64", "shape": [3], "data_offsets": [0, 24]}}) + " "
    t = load(_write(tmp_path / "u", _raw_file(header, payload)))["x"]
    assert t.numpy().flags.aligned and t.tolist() == [0.0, 1.0, 2.0]


# ---- save's checks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "metadata", "error", "match"),
    [
        ({1: np.ones(1)}, None, TypeError, "keys must be strings"),
        ({"__metadata__": np.ones(1)}, None, ValueError, "reserved"),
        ({"w": [1.0, object()]}, None, TypeError, "'w.1' must be a Tensor or an ndarray, or in nested state"),
        ({"w": {1.5: 2}}, None, TypeError, "'w' has the key 1.5 \\(float\\); nested keys must be strings or"),
        ({"w": {"a": 1}}, {"chainrule.structure": "{}"}, ValueError, "reserved for the checkpoint structure"),
        ({"a.b": np.ones(1), "a": {"b": np.ones(1)}}, None, ValueError, "both named 'a.b'"),
        ({"w": np.array(["a"], dtype=object)}, None, TypeError, "'w' has dtype object"),
        ({"w": np.ones(2, np.complex128)}, None, TypeError, "'w' has dtype complex128"),
        ({"w": np.array(["ab"])}, None, TypeError, "cannot store"),
        ({"w": np.ones(1)}, {"epoch": 3}, TypeError, "metadata must be a mapping of strings"),
        ([("w", np.ones(1))], None, TypeError, "takes a state dict"),
    ],
)
def test_save_rejects_what_safetensors_cannot_hold(tmp_path: Path, state: Any, metadata: Any, error: type,
                                                   match: str) -> None:
    with pytest.raises(error, match=match):
        save(state, tmp_path / "m", metadata=metadata)
    assert os.listdir(tmp_path) == []


def test_save_names_the_module_mistake(tmp_path: Path) -> None:
    class FakeModule:
        def state_dict(self) -> dict[str, Any]:
            return {}

    with pytest.raises(TypeError, match=r"pass module\.state_dict\(\)"):
        save(FakeModule(), tmp_path / "m")  # type: ignore[arg-type]


def test_save_to_a_missing_directory_or_onto_a_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"w": np.ones(1)}, tmp_path / "nowhere" / "m.safetensors")
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        save({"w": np.ones(1)}, tmp_path / "d")
    assert sorted(os.listdir(tmp_path)) == ["d"] and os.listdir(tmp_path / "d") == []


def test_save_needs_the_io_extra_but_load_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save({"w": np.ones(2)}, tmp_path / "m")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[io\]'"):
        save({"w": np.ones(2)}, tmp_path / "other")
    assert load(tmp_path / "m")["w"].tolist() == [1.0, 1.0]
    assert sorted(os.listdir(tmp_path)) == ["m"]


# ---- atomic saving -------------------------------------------------------------------------------------------


@pytest.fixture
def old_model(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "model.safetensors"
    save({"w": np.arange(1000.0)}, path)
    yield path


def _assert_old_model_intact(path: Path) -> None:
    assert os.listdir(path.parent) == [path.name], "a temporary file was left behind"
    np.testing.assert_array_equal(load(path)["w"].numpy(), np.arange(1000.0))


def test_a_write_failing_midway_leaves_the_old_file(old_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def half_then_fail(f: Any, data: bytes) -> None:
        f.write(data[: len(data) // 2])
        f.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chainrule.io, "_write_all", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        save({"w": np.zeros(5000)}, old_model)
    _assert_old_model_intact(old_model)


def test_an_interrupt_midway_leaves_the_old_file(old_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(f: Any, data: bytes) -> None:
        f.write(data[:10])
        raise KeyboardInterrupt

    monkeypatch.setattr(chainrule.io, "_write_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save({"w": np.zeros(5000)}, old_model)
    _assert_old_model_intact(old_model)


def test_a_failing_rename_leaves_the_old_file(old_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(src: Any, dst: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(PermissionError):
        save({"w": np.zeros(5000)}, old_model)
    monkeypatch.undo()
    _assert_old_model_intact(old_model)


def test_a_failing_fsync_leaves_the_old_file(old_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="Input/output"):
        save({"w": np.zeros(5000)}, old_model)
    monkeypatch.undo()
    _assert_old_model_intact(old_model)


def test_a_library_error_is_a_value_error_and_leaves_the_old_file(old_model: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(tensors: Any, metadata: Any = None) -> bytes:
        raise RuntimeError("library says no")

    monkeypatch.setattr(st_numpy, "save", refuse)
    with pytest.raises(ValueError, match="library says no"):
        save({"w": np.zeros(5)}, old_model)
    _assert_old_model_intact(old_model)


def test_replacing_keeps_permissions_and_new_files_follow_the_umask(old_model: Path) -> None:
    os.chmod(old_model, 0o640)
    save({"w": np.ones(3)}, old_model)
    assert stat.S_IMODE(os.stat(old_model).st_mode) == 0o640
    assert load(old_model)["w"].tolist() == [1.0, 1.0, 1.0]
    umask = os.umask(0o022)
    os.umask(umask)
    fresh = old_model.parent / "fresh.safetensors"
    save({"w": np.ones(3)}, fresh)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~umask
    assert sorted(os.listdir(old_model.parent)) == ["fresh.safetensors", "model.safetensors"]


def test_saving_through_a_symlink_updates_its_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "m.safetensors"
    save({"w": np.zeros(2)}, target)
    link = tmp_path / "link.safetensors"
    link.symlink_to(target)
    save({"w": np.ones(2)}, link)
    assert link.is_symlink()
    assert load(target)["w"].tolist() == [1.0, 1.0]
    assert sorted(os.listdir(tmp_path / "real")) == ["m.safetensors"]


# ---- malformed files -------------------------------------------------------------------------------------------

_GOOD_BUFFER = b"\x01\x02\x03\x04"
MALFORMED: list[tuple[str, bytes, str]] = [
    ("empty", b"", "file is empty"),
    ("shorter than the length field", b"\x05\x00\x00", "truncated: 3 bytes"),
    ("header length past the end", struct.pack("<Q", 64) + b"{}", "header length 64 is larger than the rest"),
    ("header length over the limit", struct.pack("<Q", MAX_HEADER_BYTES + 1) + b"{}", "over the 100000000-byte limit"),
    ("header not UTF-8", _raw_file(b'{"\xff": 1}'), "not UTF-8"),
    ("header not JSON", _raw_file("{'a': 1}"), "not valid JSON"),
    ("header truncated JSON", _raw_file('{"a": {"dtype": "U8"'), "not valid JSON"),
    ("header padded with NULs", _raw_file("{}\x00\x00"), "not valid JSON"),
    ("header with trailing text", _raw_file("{} x"), "not valid JSON"),
    ("header NaN", _raw_file('{"a": NaN}'), "NaN is not a JSON value"),
    ("header nested too deeply", _raw_file("[" * 100_000 + "]" * 100_000), "not valid JSON"),
    ("integer with 5000 digits", _raw_file('{"a": {"dtype": "U8", "shape": [' + "1" * 5000 + '], '
                                           '"data_offsets": [0, 1]}}', b"\x01"), "integer 1{24}... is too large"),
    ("header a list", _raw_file("[]"), "not an object but list"),
    ("header a string", _raw_file('"weights"'), "not an object but str"),
    ("repeated name", _raw_file('{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, '
                                '"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', b"\x01"),
     "repeats the key 'a'"),
    ("metadata not strings", _raw_file({"__metadata__": {"epoch": 3}}), "__metadata__ is not a map"),
    ("metadata a list", _raw_file({"__metadata__": ["a"]}), "__metadata__ is not a map"),
    ("entry not an object", _raw_file({"a": [0, 1]}), "tensor 'a': header entry is not an object"),
    ("entry lacks fields", _raw_file({"a": {"dtype": "U8"}}), "lacks shape, data_offsets"),
    ("dtype not a string", _raw_file({"a": _u8([0, 4], [4], 4)}, _GOOD_BUFFER), "dtype 4 is not a string"),
    ("unknown dtype", _raw_file({"a": _u8([0, 4], [1], "F128")}, _GOOD_BUFFER), "unknown dtype 'F128'"),
    ("lowercase dtype", _raw_file({"a": _u8([0, 4], [1], "f32")}, _GOOD_BUFFER), "unknown dtype 'f32'"),
    ("bfloat16", _raw_file({"a": _u8([0, 4], [2], "BF16")}, _GOOD_BUFFER), "BF16 has no NumPy equivalent"),
    ("float8", _raw_file({"a": _u8([0, 4], [4], "F8_E4M3")}, _GOOD_BUFFER), "F8_E4M3 has no NumPy"),
    ("negative shape", _raw_file({"a": _u8([0, 4], [-4])}, _GOOD_BUFFER), "shape \\[-4\\] is not a list"),
    ("float shape", _raw_file({"a": _u8([0, 4], [4.0])}, _GOOD_BUFFER), "shape \\[4.0\\] is not a list"),
    ("bool shape", _raw_file({"a": _u8([0, 1], [True])}, b"\x01"), "shape \\[True\\] is not a list"),
    ("shape not a list", _raw_file({"a": _u8([0, 4], 4)}, _GOOD_BUFFER), "shape 4 is not a list"),  # type: ignore
    ("three offsets", _raw_file({"a": _u8([0, 4, 4], [4])}, _GOOD_BUFFER), "not a pair"),
    ("negative offset", _raw_file({"a": _u8([-1, 3], [4])}, _GOOD_BUFFER), "not a pair"),
    ("offsets reversed", _raw_file({"a": _u8([4, 0], [4])}, _GOOD_BUFFER), "lie outside the data buffer"),
    ("offsets past the end", _raw_file({"a": _u8([0, 8], [8])}, _GOOD_BUFFER), "lie outside the data buffer of 4"),
    ("header lies about the size", _raw_file({"a": _u8([0, 4], [2], "F32")}, _GOOD_BUFFER),
     "shape \\[2\\] of F32 needs 8 bytes, but data_offsets \\[0, 4\\] hold 4"),
    ("huge shape", _raw_file({"a": _u8([0, 4], [2**40, 2**40], "F64")}, _GOOD_BUFFER), "needs 9671406556917033397"),
    ("overlapping tensors", _raw_file({"a": _u8([0, 3]), "b": _u8([2, 4])}, _GOOD_BUFFER), "'b' .* overlaps .*'a'"),
    ("same bytes twice", _raw_file({"a": _u8([0, 4]), "b": _u8([0, 4])}, _GOOD_BUFFER), "overlaps"),
    ("hole at the start", _raw_file({"a": _u8([1, 4])}, _GOOD_BUFFER), "bytes 0..1 of the data buffer belong to no"),
    ("hole in the middle", _raw_file({"a": _u8([0, 1]), "b": _u8([2, 4])}, _GOOD_BUFFER), "bytes 1..2"),
    ("trailing bytes", _raw_file({"a": _u8([0, 2])}, _GOOD_BUFFER), "bytes 2..4 at the end"),
    ("data but no tensors", _raw_file({}, _GOOD_BUFFER), "bytes 0..4 at the end"),
    # shapes whose byte count is right (zero) but that no NumPy array can have
    ("empty but too large", _raw_file({"a": _u8([0, 0], [0, 2**62], "F64")}),
     r"shape \[0, 4611686018427387904\] of F64 is too large for a NumPy array: its nonzero dimensions make "
     r"36893488147419103232 bytes, over the limit of 9223372036854775807"),
    ("empty, zero last", _raw_file({"a": _u8([0, 0], [2**61, 0], "F32")}), "F32 is too large for a NumPy array"),
    ("dimension past 2**63", _raw_file({"a": _u8([0, 0], [0, 2**63])}), "too large for a NumPy array"),
    ("dimension of 20 digits", _raw_file({"a": _u8([0, 0], [0, 10**19 * 9])}), "too large for a NumPy array"),
    ("empty dimensions overflowing together", _raw_file({"a": _u8([0, 0], [2**32, 0, 2**32])}),
     "too large for a NumPy array"),
    ("65 dimensions", _raw_file({"a": _u8([0, 0], [0] * 65)}), "shape has 65 dimensions; a NumPy array has at most 64"),
    ("65 dimensions of 1", _raw_file({"a": _u8([0, 1], [1] * 65)}, b"\x01"), "shape has 65 dimensions"),
]


@pytest.mark.parametrize(("data", "problem"), [(d, p) for _, d, p in MALFORMED], ids=[i for i, _, _ in MALFORMED])
def test_malformed_files_raise_serialization_error(tmp_path: Path, data: bytes, problem: str) -> None:
    path = _write(tmp_path / "bad.safetensors", data)
    with pytest.raises(SerializationError, match=problem) as info:
        load(path)
    assert isinstance(info.value, ValueError)
    assert str(path) in str(info.value) and str(info.value).startswith(f"cannot load {str(path)!r}: ")
    assert info.value.path == str(path)
    with pytest.raises(SerializationError):
        load_metadata(path)


@pytest.mark.parametrize(("shape", "dtype"), [([0] * 64, "F64"), ([1] * 64, "U8"), ([0, 2**63 - 1], "U8"),
                                              ([2**59, 0], "F64")])
def test_shapes_at_numpys_limits_load(tmp_path: Path, shape: list[int], dtype: str) -> None:
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(chainrule.io._DTYPES[dtype]).itemsize
    path = _write(tmp_path / "edge.safetensors", _raw_file({"a": _u8([0, nbytes], shape, dtype)}, b"\x00" * nbytes))
    assert load(path)["a"].shape == tuple(shape)


def test_the_error_pickles(tmp_path: Path) -> None:
    with pytest.raises(SerializationError) as info:
        load(_write(tmp_path / "e", b""))
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == str(info.value) and again.problem == "file is empty"


def test_every_truncation_of_a_valid_file_is_refused(tmp_path: Path) -> None:
    save({"a": np.arange(5, dtype=np.float32), "b": np.array([True, False]), "c": np.zeros((2, 2), np.int16)},
         tmp_path / "full", metadata={"k": "v"})
    data = (tmp_path / "full").read_bytes()
    for cut in range(len(data)):
        with pytest.raises(SerializationError):
            load(_write(tmp_path / "cut", data[:cut]))
    with pytest.raises(SerializationError, match="belong to no tensor"):
        load(_write(tmp_path / "long", data + b"\x00"))


_PWNED: list[str] = []


def _pwned() -> None:
    _PWNED.append("unpickled!")


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (_pwned, ())


def test_foreign_files_are_named_and_never_executed(tmp_path: Path) -> None:
    cases = {
        "pickle.pkl": (pickle.dumps({"w": _Evil()}), "looks like a Python pickle"),
        "protocol0.pkl": (pickle.dumps({"w": 1}, protocol=0), "not a safetensors file"),
        "image.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "looks like a PNG image"),
        "text.txt": (b"hello, this is not a model at all\n", "not a safetensors file"),
    }
    np.save(tmp_path / "array.npy", np.ones(3))
    torch.save({"w": torch.ones(3)}, tmp_path / "model.pt")
    for name, (data, _) in cases.items():
        _write(tmp_path / name, data)
    cases["array.npy"] = (b"", "looks like a NumPy .npy file")
    cases["model.pt"] = (b"", "looks like a zip archive \\(torch.save")
    for name, (_, problem) in cases.items():
        with pytest.raises(SerializationError, match=problem):
            load(tmp_path / name)
    assert _PWNED == []


def test_a_directory_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SerializationError, match="is a directory"):
        load(tmp_path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.safetensors")


# ---- PyTorch interop -----------------------------------------------------------------------------------------


def test_chainrule_files_load_in_pytorch(tmp_path: Path) -> None:
    state = _state(np.random.default_rng(1))
    state["layer.weight"] = cr.tensor(np.random.default_rng(2).normal(size=(4, 3)).astype(np.float32))
    save(state, tmp_path / "m.safetensors")
    loaded = st_torch.load_file(str(tmp_path / "m.safetensors"))
    assert set(loaded) == set(state)
    for name, value in state.items():
        expected = np.asarray(value)
        got = loaded[name]
        assert isinstance(got, torch.Tensor) and tuple(got.shape) == expected.shape
        assert got.numpy().dtype == expected.dtype, name
        np.testing.assert_array_equal(got.numpy(), expected)


def test_pytorch_files_load_in_chainrule(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                                torch.nn.Conv2d(2, 3, 3, bias=False).to(torch.float64))
    model[:2](torch.randn(5, 3))  # a training step moves BatchNorm's running stats
    sd = {**model.state_dict(), "extra.half": torch.ones(2, dtype=torch.float16),
          "extra.mask": torch.tensor([True, False]), "extra.i8": torch.tensor([-1, 2], dtype=torch.int8)}
    st_torch.save_file(sd, str(tmp_path / "torch.safetensors"), metadata={"format": "pt"})
    loaded = load(tmp_path / "torch.safetensors")
    assert set(loaded) == set(sd)
    assert loaded["1.num_batches_tracked"].dtype == np.int64 and int(loaded["1.num_batches_tracked"]) == 1
    assert loaded["0.weight"].shape == (4, 3) and loaded["3.weight"].shape == (3, 2, 3, 3)
    for name, value in sd.items():
        assert loaded[name].dtype == value.numpy().dtype, name
        np.testing.assert_array_equal(loaded[name].numpy(), value.numpy())
    assert load_metadata(tmp_path / "torch.safetensors") == {"format": "pt"}


def test_pytorch_bfloat16_is_refused_by_name(tmp_path: Path) -> None:
    st_torch.save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(tmp_path / "bf16.safetensors"))
    with pytest.raises(SerializationError, match="tensor 'w': dtype BF16 has no NumPy equivalent"):
        load(tmp_path / "bf16.safetensors")


# ---- fuzzing: load only ever returns a dict or raises SerializationError, and agrees with the library ----------


@pytest.fixture(scope="module")
def fuzz_path() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d) / "fuzz.safetensors"


def _library_load(data: bytes) -> dict[str, np.ndarray[Any, Any]] | None:
    try:
        return dict(st_numpy.load(data))
    except Exception:
        return None


def _load_and_compare(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        ours = load(path)
    except SerializationError as e:
        # the library is laxer in one place only: it lets a later repeated name win (the format forbids repeats)
        if _library_load(data) is not None:
            assert "repeats the key" in e.problem, e.problem
        return
    theirs = _library_load(data)
    assert theirs is not None, "chainrule accepted a file the reference implementation refuses"
    assert set(ours) == set(theirs)
    for name, t in ours.items():
        ref = theirs[name]
        if ref.dtype == np.bool_:
            ref = ref.view(np.uint8) != 0
        assert t.dtype == ref.dtype and t.shape == ref.shape
        assert t.numpy().tobytes() == ref.tobytes()


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes(fuzz_path: Path, data: bytes) -> None:
    _load_and_compare(fuzz_path, data)


@FUZZ
@given(body=st.binary(max_size=200))
def test_fuzz_plausible_header_length(fuzz_path: Path, body: bytes) -> None:
    _load_and_compare(fuzz_path, struct.pack("<Q", len(body) // 2) + body)


def _valid_file() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "v")
        save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -1], np.int8),
              "m": np.array([True, False, True]), "s": np.float64(2.5), "e": np.zeros((0, 2))}, path,
             metadata={"k": "v"})
        with open(path, "rb") as f:
            return f.read()


VALID = _valid_file()


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=4),
       cut=st.one_of(st.none(), st.integers(0, len(VALID))))
def test_fuzz_byte_flips_and_truncations_of_a_valid_file(fuzz_path: Path, edits: list[tuple[int, int]],
                                                         cut: int | None) -> None:
    data = bytearray(VALID)
    for position, value in edits:
        data[position] = value
    _load_and_compare(fuzz_path, bytes(data[:cut]))


@FUZZ
@given(data=st.data())
def test_fuzz_header_json_edits(fuzz_path: Path, data: st.DataObject) -> None:
    # edit the header's text where it matters: digits of shapes and offsets, dtype names, punctuation
    n = struct.unpack("<Q", VALID[:8])[0]
    header = bytearray(VALID[8:8 + n])
    for _ in range(data.draw(st.integers(1, 3))):
        position = data.draw(st.integers(0, len(header) - 1))
        header[position:position + 1] = data.draw(st.sampled_from(
            [b"0", b"1", b"9", b"12", b"", b"-", b",", b"]", b"[", b'"', b"F", b"B", b"I", b"U", b" ", b"{", b"}"]))
    _load_and_compare(fuzz_path, _raw_file(bytes(header), VALID[8 + n:]))


# ---- the package's public names --------------------------------------------------------------------------------


def test_public_names() -> None:
    assert cr.save is save and cr.load is load and cr.SerializationError is SerializationError
