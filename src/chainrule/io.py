"""Model files: state dicts saved and loaded in the safetensors format (no pickle, ever).

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes of UTF-8 JSON naming each tensor's
``dtype``, ``shape`` and ``data_offsets`` (plus an optional ``"__metadata__"`` map of strings), then the raw
little-endian, row-major bytes of every tensor, with no holes. Files written here load with
``safetensors.torch.load_file`` into a PyTorch model of the same architecture, and the other way round.

``save`` writes through the ``safetensors`` package (the ``io`` extra) and is atomic. ``load`` is a strict reader of
its own, in plain Python and NumPy: it parses the header with ``json``, checks every entry against the file before
reading a byte of tensor data, and reads each tensor straight into a fresh array. It never unpickles, imports or
evaluates anything, and every malformed file raises :class:`SerializationError`.

Checkpoints: ``save`` also takes nested state, a dict holding dicts, lists and tuples of tensors, arrays and Python
scalars (an optimizer's or a scheduler's ``state_dict()``, a model's beside it, an epoch number, a generator's
state). Every array is stored as a tensor named by its path (``"optim.state.0.exp_avg"``); the rest of the structure
(container kinds, key types, scalars: floats in hex, so bit for bit) is a JSON description kept, as a string, in
the header's ``__metadata__`` under ``"chainrule.structure"``. ``load`` rebuilds it after checking every entry
against the file. A flat state dict of arrays is written without that entry, exactly as before, so that
``safetensors.torch.load_file`` reads it into a PyTorch model; a nested file's tensors load there too, flat.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import stat
import struct
from collections.abc import Mapping
from typing import Any, BinaryIO

import numpy as np

from . import backend
from .tensor import Tensor

__all__ = ["SerializationError", "load", "load_metadata", "save"]

STRUCTURE_KEY = "chainrule.structure"  # the __metadata__ entry that describes a nested checkpoint

PathLike = str | os.PathLike[str]

MAX_HEADER_BYTES = 100_000_000  # the limit the reference implementation enforces

# what a NumPy array can be (NumPy 2): at most 64 dimensions, and its size in bytes, counting only its nonzero
# dimensions (NumPy checks even an empty array so), must fit in a signed 64-bit index
_MAX_NDIM = 64
_MAX_ARRAY_BYTES = int(np.iinfo(np.intp).max)

# safetensors dtype name -> NumPy dtype (little-endian, as the format stores it)
_DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F64": np.dtype("<f8"),
    "C64": np.dtype("<c8"),
}
# dtypes the format defines but NumPy cannot hold
_NO_NUMPY_DTYPE = frozenset(
    {"BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F6_E2M3", "F6_E3M2", "F4"}
)
# NumPy dtypes that save accepts (by kind and size): exactly those with a safetensors name above
_SAVE_DTYPES = frozenset(dt.newbyteorder("=") for dt in _DTYPES.values())

# what a file whose header length is implausible may be instead, for the error message
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PK\x03\x04", "a zip archive (torch.save writes these; load it with torch, save it with safetensors)"),
    (b"\x80", "a Python pickle (never loaded by chainrule)"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"GGUF", "a GGUF model file"),
)


class SerializationError(ValueError):
    """A model file that is not a well-formed safetensors file; the message names the file and the problem.

    >>> from chainrule.io import SerializationError
    >>> issubclass(SerializationError, ValueError)
    True
    """

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"cannot load {path!r}: {problem}")
        self.path = path
        self.problem = problem

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (multiprocessing), though built from two arguments
        return (type(self), (self.path, self.problem))


# ---- save --------------------------------------------------------------------------------------------------------


def _safetensors_numpy() -> Any:
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(
            "cr.save writes safetensors files through the safetensors package, which is not installed: "
            "pip install 'chainrule[io]'"
        ) from e
    return safetensors.numpy


def _check_name(name: Any) -> None:
    if not isinstance(name, str):
        raise TypeError(f"cr.save: state dict keys must be strings, got {name!r} ({type(name).__name__})")
    if name == "__metadata__":
        raise ValueError("cr.save: '__metadata__' is reserved by the safetensors format; pass metadata= instead")


def _is_array(value: Any) -> bool:
    return isinstance(value, (Tensor, np.ndarray, np.generic)) or type(value) in backend.array_types


def _describe(value: Any, path: str, arrays: dict[str, np.ndarray[Any, Any]]) -> dict[str, Any]:
    """The JSON description of ``value`` (one kind, one payload), its arrays added to ``arrays`` by path."""
    if _is_array(value):
        kind = "tensor" if isinstance(value, Tensor) else "scalar" if isinstance(value, np.generic) else "ndarray"
        if path in arrays:
            raise ValueError(f"cr.save: two entries of the state are both named {path!r} (a key holding a '.' "
                             "repeats another path); rename one")
        arrays[path] = _as_saveable(path, value)
        return {kind: path}
    if value is None:
        return {"none": None}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(int(value))}  # a string: JSON readers need not keep integers past 2**53 (generator states)
    if isinstance(value, float):
        return {"float": float(value).hex()}  # exact, and inf / nan too
    if isinstance(value, str):
        return {"str": value}
    prefix = f"{path}." if path else ""
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"cr.save: {path or 'the state'!r} has the key {key!r} ({type(key).__name__}); "
                                "nested keys must be strings or integers")
            items.append([_describe(key, "", arrays), _describe(item, f"{prefix}{key}", arrays)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_describe(item, f"{prefix}{i}", arrays) for i, item in enumerate(value)]}
    raise TypeError(f"cr.save: {path!r} must be a Tensor or an ndarray, or in nested state a number, a string, None, "
                    f"or a dict, list or tuple of these, got {type(value).__name__}")


def _as_saveable(name: str, value: Any) -> np.ndarray[Any, Any]:
    _check_name(name)
    if isinstance(value, Tensor):
        array = backend.to_host(value.data)  # a tensor on a GPU is copied to the host
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:  # a device array
        array = backend.to_host(value)
    if array.dtype.newbyteorder("=") not in _SAVE_DTYPES:
        raise TypeError(
            f"cr.save: {name!r} has dtype {array.dtype}, which safetensors cannot store; supported: "
            "bool, int8..int64, uint8..uint64, float16, float32, float64, complex64"
        )
    if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and not _LITTLE_ENDIAN_HOST):
        array = array.astype(array.dtype.newbyteorder("<"))
    # the library reads array.nbytes from the array's data pointer: it must be one dense C-ordered block
    return array if array.flags.c_contiguous else np.array(array, order="C")


_LITTLE_ENDIAN_HOST = np.dtype("=i4").str == "<i4"


def save(state_dict: Mapping[str, Any], path: PathLike, metadata: Mapping[str, str] | None = None) -> None:
    """Write ``state_dict`` (names -> Tensors or ndarrays, or nested state) to ``path`` as a safetensors file,
    atomically.

    Nested state (a checkpoint) is a dict with string keys whose values may also be Python scalars (bool, int,
    float, str, None) and dicts (string or integer keys), lists and tuples of all these: ``{"model":
    model.state_dict(), "optim": opt.state_dict(), "sched": sched.state_dict(), "epoch": 3}``. Its arrays are stored
    as tensors named by their path, its structure as JSON in the header metadata (see the module's docstring);
    ``load`` gives it back, Tensors as Tensors, ndarrays as ndarrays, NumPy scalars as NumPy scalars, the same
    containers and keys, floats bit for bit. Anything else (an object, a function) is a TypeError naming its path.

    The safetensors package serializes the tensors; the bytes go to a temporary file in the same directory, which is
    flushed to disk (fsync) and then renamed over ``path``:
    a crash or an error midway leaves the previous file (if any) untouched and no temporary file behind. An existing
    file's permission bits are kept. ``metadata`` is an optional map of strings stored in the header. Supported
    dtypes: bool, int8..int64, uint8..uint64, float16, float32, float64, complex64. Needs the ``io`` extra
    (``pip install 'chainrule[io]'``).

    >>> import os, tempfile
    >>> import numpy as np, chainrule as cr
    >>> from chainrule.io import load, save
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "model.safetensors")
    >>> save({"weight": cr.ones(2, 3, dtype=np.float32), "step": np.array(7)}, path)
    >>> sd = load(path)
    >>> sd["weight"].shape, sd["weight"].dtype, int(sd["step"])
    ((2, 3), dtype('float32'), 7)
    >>> opt = cr.optim.SGD([cr.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    >>> save({"optim": opt.state_dict(), "epoch": 3}, path)
    >>> ckpt = load(path)
    >>> ckpt["epoch"], ckpt["optim"]["param_groups"][0]["lr"]
    (3, 0.1)
    >>> tmp.cleanup()
    """
    if not isinstance(state_dict, Mapping):
        hint = " (for a module, pass module.state_dict())" if hasattr(state_dict, "state_dict") else ""
        raise TypeError(
            f"cr.save takes a state dict, a mapping of names to tensors{hint}, got {type(state_dict).__name__}"
        )
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise TypeError("cr.save: metadata must be a mapping of strings to strings")
        if STRUCTURE_KEY in metadata:
            raise ValueError(f"cr.save: the metadata key {STRUCTURE_KEY!r} is reserved for the checkpoint structure")
        metadata = dict(metadata)
    if all(_is_array(value) for value in state_dict.values()):
        arrays = {name: _as_saveable(name, value) for name, value in state_dict.items()}
    else:
        arrays = {}
        for name in state_dict:
            _check_name(name)
        structure = _describe(state_dict, "", arrays)
        metadata = {**(metadata or {}), STRUCTURE_KEY: json.dumps(structure, separators=(",", ":"))}
    st = _safetensors_numpy()

    target = os.path.realpath(os.fspath(path))  # through a symlink: replace its target, keep the link
    directory, base = os.path.split(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cr.save: cannot write {os.fspath(path)!r}: directory {directory!r} does not exist")
    if os.path.isdir(target):
        raise IsADirectoryError(f"cr.save: cannot write {os.fspath(path)!r}: it is a directory")
    mode = None
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.stat(target).st_mode)

    try:
        data = st.save(arrays, metadata=metadata)
    except Exception as e:  # the library's own error type: say what failed, in our words
        raise ValueError(f"cr.save: safetensors could not serialize the state dict for {os.fspath(path)!r}: {e}") \
            from e

    tmp = ""
    for _ in range(100):  # O_EXCL: never reuse a name another writer holds (the odds of a clash are ~2**-64)
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.tmp")
        try:  # 0o666: the umask applies, as for any new file
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:  # pragma: no cover
            continue
    else:  # pragma: no cover
        raise FileExistsError(f"cr.save: could not create a temporary file in {directory!r}")
    try:
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _write_all(f: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    for start in range(0, len(view), _CHUNK):
        f.write(view[start:start + _CHUNK])


_CHUNK = 1 << 24


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    if os.name != "posix":  # pragma: no cover
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---- load --------------------------------------------------------------------------------------------------------


class _Problem(Exception):
    """Raised inside the reader; ``load`` turns it into a SerializationError naming the file."""


def _reject_constant(name: str) -> Any:
    raise _Problem(f"header is not valid JSON: {name} is not a JSON value")


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > 20:  # past any 64-bit offset or size (and past int()'s digit limit)
        raise _Problem(f"header is not valid JSON for safetensors: the integer {digits[:24]}... is too large")
    return int(digits)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _Problem(f"header JSON repeats the key {key!r}")
        obj[key] = value
    return obj


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0  # not bool, not float


def _read_exactly(f: BinaryIO, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Problem(f"file is truncated: {what} needs {n} bytes, only {len(data)} are there")
    return data


def _parse_header(raw: bytes, buffer_len: int) -> tuple[list[tuple[str, np.dtype[Any], tuple[int, ...], int, int]],
                                                         dict[str, str]]:
    """Check every entry of the header against the data buffer; return (name, dtype, shape, begin, end) in
    header order, and the metadata."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _Problem(f"header is not UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        header = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant,
                            parse_int=_parse_int)
    except json.JSONDecodeError as e:
        raise _Problem(f"header is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except ValueError as e:  # json's other complaints
        raise _Problem(f"header is not valid JSON ({e})") from None
    except RecursionError:
        raise _Problem("header is not valid JSON (nested too deeply)") from None
    if not isinstance(header, dict):
        raise _Problem(f"header JSON is not an object but {type(header).__name__}")

    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    elif not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise _Problem("header's __metadata__ is not a map of strings to strings")

    entries = []
    for name, info in header.items():
        where = f"tensor {name!r}"
        if not isinstance(info, dict):
            raise _Problem(f"{where}: header entry is not an object")
        missing = [k for k in ("dtype", "shape", "data_offsets") if k not in info]
        if missing:
            raise _Problem(f"{where}: header entry lacks {', '.join(missing)}")
        dtype_name, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype_name, str):
            raise _Problem(f"{where}: dtype {dtype_name!r} is not a string")
        if dtype_name not in _DTYPES:
            if dtype_name in _NO_NUMPY_DTYPE:
                raise _Problem(f"{where}: dtype {dtype_name} has no NumPy equivalent, so chainrule cannot load it")
            raise _Problem(f"{where}: unknown dtype {dtype_name!r}")
        if not (isinstance(shape, list) and all(_is_count(d) for d in shape)):
            raise _Problem(f"{where}: shape {shape!r} is not a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(o) for o in offsets)):
            raise _Problem(f"{where}: data_offsets {offsets!r} is not a pair of non-negative integers")
        begin, end = offsets
        if not begin <= end <= buffer_len:
            raise _Problem(
                f"{where}: data_offsets [{begin}, {end}] lie outside the data buffer of {buffer_len} bytes"
            )
        dtype = _DTYPES[dtype_name]
        nbytes = math.prod(shape) * dtype.itemsize
        if end - begin != nbytes:
            raise _Problem(
                f"{where}: shape {shape} of {dtype_name} needs {nbytes} bytes, but data_offsets [{begin}, {end}] "
                f"hold {end - begin}"
            )
        if len(shape) > _MAX_NDIM:
            raise _Problem(f"{where}: shape has {len(shape)} dimensions; a NumPy array has at most {_MAX_NDIM}")
        extent = math.prod(d for d in shape if d) * dtype.itemsize
        if extent > _MAX_ARRAY_BYTES:
            raise _Problem(f"{where}: shape {shape} of {dtype_name} is too large for a NumPy array: its nonzero "
                           f"dimensions make {extent} bytes, over the limit of {_MAX_ARRAY_BYTES}")
        entries.append((name, dtype, tuple(shape), begin, end))

    # the buffer must be covered exactly, without holes or overlaps (the format forbids both)
    position, previous = 0, None
    for name, _, _, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
        if begin != position:
            if begin < position:
                raise _Problem(f"tensor {name!r} (bytes {begin}..{end}) overlaps tensor {previous!r}")
            raise _Problem(f"bytes {position}..{begin} of the data buffer belong to no tensor")
        position, previous = end, name
    if position != buffer_len:
        raise _Problem(f"bytes {position}..{buffer_len} at the end of the data buffer belong to no tensor")
    return entries, metadata


def _open_checked(path: PathLike) -> tuple[str, BinaryIO, int]:
    name = os.fspath(path)
    if isinstance(name, bytes):  # pragma: no cover
        name = os.fsdecode(name)
    info = os.stat(name)  # a missing file raises FileNotFoundError, as open() does
    if stat.S_ISDIR(info.st_mode):
        raise SerializationError(name, "it is a directory, not a safetensors file")
    if not stat.S_ISREG(info.st_mode):
        raise SerializationError(name, "it is not a regular file")
    f = open(name, "rb")  # closed by the caller
    return name, f, os.fstat(f.fileno()).st_size


def _read_header(f: BinaryIO, size: int) -> tuple[list[tuple[str, np.dtype[Any], tuple[int, ...], int, int]],
                                                  dict[str, str], int]:
    if size == 0:
        raise _Problem("file is empty")
    if size < 8:
        raise _Problem(f"file is truncated: {size} bytes, but a safetensors file starts with an 8-byte header length")
    head = _read_exactly(f, 8, "the header length")
    (n,) = struct.unpack("<Q", head)
    if n > MAX_HEADER_BYTES:  # no safetensors file, even a truncated one, starts like this
        guess = next((f"; it looks like {what}" for magic, what in _MAGIC if head.startswith(magic)), "")
        raise _Problem(f"not a safetensors file: its first 8 bytes give a header length of {n}, over the "
                       f"{MAX_HEADER_BYTES}-byte limit{guess}")
    if n > size - 8:
        raise _Problem(f"header length {n} is larger than the rest of the file ({size - 8} bytes): the file is "
                       "truncated or not a safetensors file")
    raw = _read_exactly(f, n, "the header")
    entries, metadata = _parse_header(raw, size - 8 - n)
    return entries, metadata, 8 + n


def load(path: PathLike, device: Any = None) -> dict[str, Any]:
    """Read a safetensors file into a dict of names -> Tensors, in the order of the file's header; on ``device``
    ("cuda", ...) when one is given, else in host memory. A checkpoint of nested state saved by ``save`` comes back
    as it was saved, its structure checked strictly against the tensors (see ``_rebuild``).

    The whole header is checked before any tensor is read; each tensor is read into a fresh, writable array of its
    own. Nothing is ever unpickled or evaluated. Raises :class:`SerializationError` (a ValueError naming the file
    and the problem) for anything that is not a well-formed safetensors file: empty or truncated, a header length
    larger than the file, a header that is not JSON or not an object, repeated names, an unknown dtype (or one
    NumPy cannot hold, such as BF16), offsets out of range, overlapping or leaving holes, a byte count that does not
    match shape and dtype, a shape no NumPy array can have (over 64 dimensions, or too large even when empty, such as
    [0, 2**62] of F64), a directory. A missing file raises FileNotFoundError, as ``open`` does. Needs only
    NumPy. (Writers, this one included, sort tensors by dtype and name, so the order need not be the one saved.)

    >>> import os, tempfile
    >>> import numpy as np
    >>> from chainrule.io import SerializationError, load, save
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "m.safetensors")
    >>> save({"b": np.arange(3.0), "a": np.zeros((2, 2), np.float32)}, path)
    >>> {name: t.shape for name, t in load(path).items()}
    {'b': (3,), 'a': (2, 2)}
    >>> with open(path, "wb") as f:
    ...     _ = f.write((32).to_bytes(8, "little") + b"{}")  # says 32 header bytes follow; 2 do
    >>> try:
    ...     load(path)
    ... except SerializationError as e:
    ...     print(e.problem)
    header length 32 is larger than the rest of the file (2 bytes): the file is truncated or not a safetensors file
    >>> tmp.cleanup()
    """
    name, f, size = _open_checked(path)
    with f:
        try:
            entries, metadata, start = _read_header(f, size)
            # read in file order (the buffer is one contiguous run), then hand back in header order
            arrays: dict[str, np.ndarray[Any, Any]] = {}
            for tname, dtype, shape, begin, end in sorted(entries, key=lambda e: (e[3], e[4])):
                array = np.empty(shape, dtype=dtype)
                if end > begin:
                    f.seek(start + begin)
                    view = array.reshape(-1).view(np.uint8)
                    got = f.readinto(view)  # type: ignore[attr-defined]
                    while got is not None and 0 < got < view.size:
                        more = f.readinto(view[got:])  # type: ignore[attr-defined]
                        if not more:
                            break
                        got += more
                    if got != view.size:
                        raise _Problem(f"file is truncated: tensor {tname!r} needs {view.size} bytes")
                if dtype.kind == "b" and array.size and array.view(np.uint8).max() > 1:
                    array = array.view(np.uint8) != 0  # stray byte values are still true
                if not dtype.isnative:  # pragma: no cover (big-endian hosts)
                    array = array.astype(dtype.newbyteorder("="))
                arrays[tname] = array
            if STRUCTURE_KEY in metadata:
                return _rebuild(metadata[STRUCTURE_KEY], arrays, device)
            return {tname: _tensor(arrays[tname], device) for tname, *_ in entries}
        except _Problem as e:
            raise SerializationError(name, str(e)) from None


def _tensor(array: np.ndarray[Any, Any], device: Any) -> Tensor:
    return Tensor._from_node(array if device is None else backend.to_device(array, device), None)


_SCALARS: dict[str, Any] = {"none": type(None), "bool": bool, "str": str, "int": str, "float": str}
_MAX_INT_DIGITS = 4000  # under Python's int() limit; a generator's state has 39 digits


def _rebuild(text: str, arrays: dict[str, np.ndarray[Any, Any]], device: Any) -> dict[str, Any]:
    """The nested state a structure description gives, every entry checked: one known kind each, payloads of the
    right type, keys unique, every tensor it names in the file and every tensor of the file named once. Problems
    name the entry's path."""
    try:
        structure = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise _Problem(f"the checkpoint structure is not valid JSON ({e.msg} at column {e.colno})") from None
    except (ValueError, RecursionError) as e:
        raise _Problem(f"the checkpoint structure is not valid JSON ({e})") from None
    unused = set(arrays)

    def build(node: Any, path: str) -> Any:
        where = f"checkpoint entry {path or '(the top)'!r}"
        if not (isinstance(node, dict) and len(node) == 1):
            raise _Problem(f"{where}: its description {str(node)[:60]} is not an object with one kind")
        ((kind, payload),) = node.items()
        if kind in ("tensor", "ndarray", "scalar"):
            if payload != path:
                raise _Problem(f"{where}: it names the tensor {payload!r}, not its own path")
            if payload not in arrays:
                raise _Problem(f"{where}: the tensor {payload!r} is not in the file")
            if payload not in unused:
                raise _Problem(f"{where}: the tensor {payload!r} is used twice")
            unused.discard(payload)
            array = arrays[payload]
            if kind == "tensor":
                return _tensor(array, device)
            if kind == "scalar":
                if array.ndim:
                    raise _Problem(f"{where}: a NumPy scalar, but the tensor has shape {list(array.shape)}")
                return array[()]
            return array if device is None else backend.to_device(array, device)
        if kind in _SCALARS:
            if type(payload) is not _SCALARS[kind]:
                raise _Problem(f"{where}: {kind} has the payload {payload!r}")
            if kind == "int":
                digits = payload[1:] if payload.startswith("-") else payload
                if not (digits.isascii() and digits.isdigit() and len(digits) <= _MAX_INT_DIGITS):
                    raise _Problem(f"{where}: {payload[:40]!r} is not an integer")
                return int(payload)
            if kind == "float":
                try:
                    return float.fromhex(payload)
                except ValueError:
                    raise _Problem(f"{where}: {payload[:40]!r} is not a float in hex") from None
            return payload
        if kind in ("list", "tuple"):
            if not isinstance(payload, list):
                raise _Problem(f"{where}: a {kind} whose items are not a list")
            prefix = f"{path}." if path else ""
            items = [build(item, f"{prefix}{i}") for i, item in enumerate(payload)]
            return items if kind == "list" else tuple(items)
        if kind == "dict":
            if not isinstance(payload, list):
                raise _Problem(f"{where}: a dict whose items are not a list")
            out: dict[Any, Any] = {}
            for item in payload:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], dict)
                        and len(item[0]) == 1 and next(iter(item[0])) in ("str", "int")):
                    raise _Problem(f"{where}: an item {str(item)[:60]} is not a [key, value] pair with a string or "
                                   "integer key")
                key = build(item[0], path)
                if path == "" and not isinstance(key, str):
                    raise _Problem(f"{where}: the top-level key {key!r} is not a string")
                if key in out:
                    raise _Problem(f"{where}: the key {key!r} appears twice")
                out[key] = build(item[1], f"{path}.{key}" if path else str(key))
            return out
        raise _Problem(f"{where}: unknown kind {kind!r}")

    try:
        if not (isinstance(structure, dict) and list(structure) == ["dict"]):
            raise _Problem("the checkpoint structure does not describe a dict at the top")
        state = build(structure, "")
    except RecursionError:
        raise _Problem("the checkpoint structure is nested too deeply") from None
    if unused:
        raise _Problem(f"the tensor {sorted(unused)[0]!r} is in the file but not in the checkpoint structure")
    return state


def load_metadata(path: PathLike) -> dict[str, str]:
    """The ``__metadata__`` strings of a safetensors file (``{}`` when it has none), after checking its header.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from chainrule.io import load_metadata, save
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "m.safetensors")
    >>> save({"w": np.ones(2)}, path, metadata={"epoch": "3"})
    >>> load_metadata(path)
    {'epoch': '3'}
    >>> tmp.cleanup()
    """
    name, f, size = _open_checked(path)
    with f:
        try:
            return _read_header(f, size)[1]
        except _Problem as e:
            raise SerializationError(name, str(e)) from None
