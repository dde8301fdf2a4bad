"""Model files: state dicts saved and loaded in the safetensors format (no pickle, ever).

A safetensors file is an 8-byte little-endian header length ``N``, ``N`` bytes of UTF-8 JSON naming each tensor's
``dtype``, ``shape`` and ``data_offsets`` (plus an optional ``"__metadata__"`` map of strings), then the raw
little-endian, row-major bytes of every tensor, with no holes. Files written here load with
``safetensors.torch.load_file`` into a PyTorch model of the same architecture, and the other way round.

``save`` writes through the ``safetensors`` package (the ``io`` extra) and is atomic. ``load`` is a strict reader of
its own, in plain Python and NumPy: it parses the header with ``json``, checks every entry against the file before
reading a byte of tensor data, and reads each tensor straight into a fresh array. It never unpickles, imports or
evaluates anything, and every malformed file raises :class:`SerializationError`.
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


def _as_saveable(name: Any, value: Any) -> np.ndarray[Any, Any]:
    if not isinstance(name, str):
        raise TypeError(f"cr.save: state dict keys must be strings, got {name!r} ({type(name).__name__})")
    if name == "__metadata__":
        raise ValueError("cr.save: '__metadata__' is reserved by the safetensors format; pass metadata= instead")
    if isinstance(value, Tensor):
        array = backend.to_host(value.data)  # a tensor on a GPU is copied to the host
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    elif type(value) in backend.array_types:
        array = backend.to_host(value)
    else:
        raise TypeError(f"cr.save: {name!r} must be a Tensor or an ndarray, got {type(value).__name__}")
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
    """Write ``state_dict`` (names -> Tensors or ndarrays) to ``path`` as a safetensors file, atomically.

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
    >>> tmp.cleanup()
    """
    if not isinstance(state_dict, Mapping):
        hint = " (for a module, pass module.state_dict())" if hasattr(state_dict, "state_dict") else ""
        raise TypeError(
            f"cr.save takes a state dict, a mapping of names to tensors{hint}, got {type(state_dict).__name__}"
        )
    arrays = {name: _as_saveable(name, value) for name, value in state_dict.items()}
    if metadata is not None:
        if not isinstance(metadata, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise TypeError("cr.save: metadata must be a mapping of strings to strings")
        metadata = dict(metadata)
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


def load(path: PathLike, device: Any = None) -> dict[str, Tensor]:
    """Read a safetensors file into a dict of names -> Tensors, in the order of the file's header; on ``device``
    ("cuda", ...) when one is given, else in host memory.

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
            entries, _, start = _read_header(f, size)
            tensors: dict[str, Tensor] = {}
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
            for tname, *_ in entries:
                array = arrays[tname] if device is None else backend.to_device(arrays[tname], device)
                tensors[tname] = Tensor._from_node(array, None)
            return tensors
        except _Problem as e:
            raise SerializationError(name, str(e)) from None


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
