"""Data-parallel training over MPI: collectives, ``DistributedDataParallel`` and rank-0 checkpoints.

Launched with ``mpiexec -n N python train.py``, every process runs the same script; ``init()`` reads the MPI
environment (through mpi4py, the ``distributed`` extra: ``pip install chainrule[distributed]``). A process started
without a launcher is world size 1 and imports no MPI at all, so the same script runs unchanged on one process.
``import chainrule`` never imports mpi4py.

Collectives take ndarrays or Tensors (on any device: GPU values are reduced through host buffers, since no
CUDA-aware MPI is assumed) and return new values of the same kind, device and shape; they never write into their
argument. Each takes ``timeout=`` seconds (default: ``init``'s): MPI has no timeouts of its own, so a rank waiting
longer raises ``TimeoutError`` instead of hanging, and, as any uncaught exception after ``init``, that aborts the
whole job (``MPI.COMM_WORLD.Abort``) with the error shown.

>>> import numpy as np
>>> import chainrule as cr
>>> cr.distributed.init()
>>> cr.distributed.rank(), cr.distributed.world_size()
(0, 1)
>>> cr.distributed.all_reduce(np.array([1.0, 2.0]), op="mean")
array([1., 2.])
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from types import ModuleType, TracebackType
from typing import Any

import numpy as np

from . import backend
from .engine import Node, is_grad_enabled, no_grad, queue_callback
from .nn._helpers import expect_ndim, expect_size, layer_name
from .nn.module import Module
from .nn.norm import _BatchNorm
from .ops.elementwise import sqrt
from .ops.reduce import sum as _sum
from .primitive import Primitive, as_array
from .tensor import Tensor

__all__ = [
    "DistributedDataParallel", "SyncBatchNorm", "all_gather", "all_reduce", "barrier", "broadcast", "init",
    "is_initialized", "rank", "save", "world_size",
]

# what MPI launchers put in each rank's environment (Open MPI, MPICH's Hydra and PMI, PMIx, Slurm's srun)
_LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")

_OPS = ("sum", "mean", "max", "min", "prod")


class _State:
    comm: Any = None  # MPI.COMM_WORLD, or None for a single process without a launcher
    initialized = False
    timeout: float | None = None


_state = _State()


def _mpi() -> ModuleType:
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError("cr.distributed needs mpi4py and an MPI library: pip install 'chainrule[distributed]' "
                          f"(mpi4py could not be imported: {error})") from error
    return MPI


def init(timeout: float | None = None) -> None:
    """Join the job started by ``mpiexec`` (world size 1 without a launcher); ``timeout`` is the default, in
    seconds, for every collective (``None``: wait for ever). Calling it again changes only the timeout, if given.

    Under a launcher it also installs an excepthook: an uncaught exception on any rank prints its traceback and
    calls ``MPI.COMM_WORLD.Abort``, so the other ranks, perhaps waiting in a collective, end too.

    >>> import chainrule as cr
    >>> cr.distributed.init(timeout=60.0)
    >>> cr.distributed.is_initialized()
    True
    """
    if timeout is not None and not timeout > 0:
        raise ValueError(f"cr.distributed.init: timeout must be a positive number of seconds or None, got {timeout!r}")
    if timeout is not None or not _state.initialized:
        _state.timeout = timeout
    if _state.initialized:
        return
    if any(v in os.environ for v in _LAUNCHER_VARIABLES):
        MPI = _mpi()
        _state.comm = MPI.COMM_WORLD
        if _state.comm.Get_size() > 1:
            sys.excepthook = _abort_on_error
    _state.initialized = True


def _abort_on_error(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
    """Show the error, then end every rank: the others may be waiting for this one in a collective."""
    text = "".join(traceback.format_exception(kind, error, tb))
    sys.stderr.write(f"[chainrule.distributed] rank {rank()} of {world_size()} failed; aborting the job\n{text}")
    sys.stderr.flush()
    _state.comm.Abort(1)


def is_initialized() -> bool:
    """Whether ``init()`` has run in this process."""
    return _state.initialized


def _comm() -> Any:
    if not _state.initialized:
        init()
    return _state.comm


def rank() -> int:
    """This process's number in the job, from 0 (0 for a single process).

    >>> import chainrule as cr
    >>> cr.distributed.rank()
    0
    """
    comm = _comm()
    return 0 if comm is None else int(comm.Get_rank())


def world_size() -> int:
    """The number of processes in the job (1 without a launcher).

    >>> import chainrule as cr
    >>> cr.distributed.world_size()
    1
    """
    comm = _comm()
    return 1 if comm is None else int(comm.Get_size())


def _wait(requests: list[Any], what: str, timeout: float | None) -> None:
    """Wait for non-blocking MPI requests: blocking when there is no timeout, else polling until the deadline."""
    timeout = _state.timeout if timeout is None else timeout
    MPI = _mpi()
    if timeout is None:
        MPI.Request.Waitall(requests)
        return
    deadline = time.monotonic() + timeout
    pause = 1e-5
    while not MPI.Request.Testall(requests):
        if time.monotonic() > deadline:
            raise TimeoutError(f"cr.distributed.{what}: rank {rank()} waited more than {timeout} s for the other "
                               "ranks (one of them failed, hangs, or did not call the same collective)")
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


def barrier(timeout: float | None = None) -> None:
    """Wait until every rank has called ``barrier``.

    >>> import chainrule as cr
    >>> cr.distributed.barrier()
    """
    comm = _comm()
    if comm is not None:
        _wait([comm.Ibarrier()], "barrier", timeout)


def _host(x: Any, what: str) -> tuple[np.ndarray[Any, Any], Any]:
    """``x``'s values in a contiguous host array, and what ``_back`` needs to return a result of x's kind."""
    if isinstance(x, Tensor):
        if x.requires_grad:
            raise TypeError(f"cr.distributed.{what}: the tensor requires grad, and a collective has no derivative "
                            "here (its gradient would be dropped): pass x.detach()")
        data = x.data
    else:
        data = x
    device = backend.device_of(data)
    host = np.asarray(backend.to_host(data), order="C")  # (ascontiguousarray would make 0-d 1-d)
    return host, (isinstance(x, Tensor), device)


def _back(host: np.ndarray[Any, Any], kind: Any) -> Any:
    is_tensor, device = kind
    data = host if device == "cpu" else backend.to_device(host, device)
    return Tensor._from_node(data, None) if is_tensor else data


def all_reduce(x: Any, op: str = "sum", timeout: float | None = None) -> Any:
    """The elementwise ``op`` ("sum", "mean", "max", "min", "prod") of ``x`` over all ranks, on every rank.

    ``mean`` is the sum divided by the world size (a float result for integer input, as ``np.mean``).

    >>> import numpy as np
    >>> import chainrule as cr
    >>> cr.distributed.all_reduce(cr.tensor([1.0, 3.0]), op="max")
    tensor([1., 3.])
    """
    if op not in _OPS:
        raise ValueError(f"cr.distributed.all_reduce: op must be one of {', '.join(map(repr, _OPS))}, got {op!r}")
    host, kind = _host(x, "all_reduce")
    comm = _comm()
    out = host.copy()
    if comm is not None:
        MPI = _mpi()
        mpi_op = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}[op]
        _wait([comm.Iallreduce(MPI.IN_PLACE, out, op=mpi_op)], "all_reduce", timeout)
    if op == "mean":
        out = out / world_size() if out.dtype.kind in "fc" else np.true_divide(out, world_size())
    return _back(out, kind)


def _shapes(host: np.ndarray[Any, Any], what: str, timeout: float | None) -> list[tuple[tuple[int, ...], str]]:
    """Every rank's (shape, dtype) of its argument: gathered as text in uint8 buffers (no pickle)."""
    text = f"{','.join(map(str, host.shape))};{host.dtype.str}"
    lines = _gather_text(text, what, timeout)
    out = []
    for line in lines:
        shape, dtype = line.split(";")
        out.append((tuple(int(n) for n in shape.split(",") if n), dtype))
    return out


def _gather_text(text: str, what: str, timeout: float | None) -> list[str]:
    comm = _comm()
    if comm is None:
        return [text]
    data = np.frombuffer(text.encode(), dtype=np.uint8)
    sizes = np.zeros(world_size(), dtype=np.int64)
    _wait([comm.Iallgather(np.array([data.size], dtype=np.int64), sizes)], what, timeout)
    MPI = _mpi()
    everything = np.empty(int(sizes.sum()), dtype=np.uint8)
    _wait([comm.Iallgatherv(data, [everything, sizes.tolist(), MPI.BYTE])], what, timeout)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    return [everything[a:b].tobytes().decode() for a, b in itertools.pairwise(offsets)]


def broadcast(x: Any, root: int = 0, timeout: float | None = None) -> Any:
    """Rank ``root``'s ``x`` on every rank (the other ranks' ``x`` give only the kind of value to return: their
    shapes and dtypes may differ).

    >>> import chainrule as cr
    >>> cr.distributed.broadcast(cr.tensor([1.0, 2.0]))
    tensor([1., 2.])
    """
    n = world_size()
    if not 0 <= root < n:
        raise ValueError(f"cr.distributed.broadcast: root must be a rank in [0, {n}), got {root}")
    host, kind = _host(x, "broadcast")
    comm = _comm()
    if comm is None:
        return _back(host.copy(), kind)
    shape, dtype = _shapes(host, "broadcast", timeout)[root]
    out = host.copy() if comm.Get_rank() == root else np.empty(shape, dtype=np.dtype(dtype))
    _wait([comm.Ibcast(out, root=root)], "broadcast", timeout)
    return _back(out, kind)


def all_gather(x: Any, timeout: float | None = None) -> Any:
    """Every rank's ``x``, stacked along a new first axis in rank order (shape ``(world_size, *x.shape)``).

    >>> import numpy as np
    >>> import chainrule as cr
    >>> cr.distributed.all_gather(np.array([1, 2]))
    array([[1, 2]])
    """
    host, kind = _host(x, "all_gather")
    comm = _comm()
    if comm is None:
        return _back(host[None].copy(), kind)
    shapes = _shapes(host, "all_gather", timeout)
    if len(set(shapes)) > 1:
        listed = ", ".join(f"rank {r}: {s} {np.dtype(d)}" for r, (s, d) in enumerate(shapes))
        raise ValueError(f"cr.distributed.all_gather: every rank must pass the same shape and dtype, got {listed}")
    out = np.empty((world_size(), *host.shape), dtype=host.dtype)
    _wait([comm.Iallgather(host, out)], "all_gather", timeout)
    return _back(out, kind)


def save(state: Any, path: Any, metadata: dict[str, str] | None = None) -> None:
    """``cr.save`` on rank 0 alone, then a barrier, so that every rank can ``cr.load`` the file afterwards.

    >>> import os, tempfile
    >>> import chainrule as cr
    >>> path = os.path.join(tempfile.mkdtemp(), "m.safetensors")
    >>> cr.distributed.save(cr.nn.Linear(2, 1).state_dict(), path)
    >>> sorted(cr.load(path))
    ['bias', 'weight']
    """
    from .io import save as write

    if rank() == 0:
        write(state, path, metadata)
    barrier()


class _Bucket:
    """Parameters whose gradients travel in one message: one dtype and device, in the order they become ready."""

    __slots__ = ("device", "dtype", "expected", "arrived", "flat", "request", "indices", "offsets")

    def __init__(self, indices: list[int], dtype: np.dtype[Any], device: str) -> None:
        self.indices = indices
        self.dtype = dtype
        self.device = device
        self.offsets: dict[int, int] = {}  # where each parameter's gradient starts in ``flat``
        self.expected = 0  # gradients awaited in this backward (one per parameter the loss may depend on)
        self.arrived: set[int] = set()
        self.flat: np.ndarray[Any, Any] | None = None  # the gradients, contiguous: the message itself
        self.request: Any = None


class DistributedDataParallel(Module):
    """``module`` trained on every rank on its own shard of each batch, with gradients averaged over the ranks
    during ``backward()`` (PyTorch's ``DistributedDataParallel``, over MPI).

    At wrap time every parameter and buffer is broadcast from rank 0, after checking that all ranks hold the same
    parameter names, shapes and dtypes. Gradients are grouped into buckets of about ``bucket_cap_mb`` MiB (in
    reverse order of registration: roughly the order backward produces them). Each parameter's post-accumulate
    hook copies its gradient into its bucket's buffer as soon as the sweep has summed it; once a bucket is full a
    non-blocking all-reduce of the buffer starts, so communication overlaps the rest of the backward sweep. After
    the sweep each parameter's ``.grad`` is the average over ranks: a view into its bucket's averaged buffer (a new
    buffer each step, or with ``gradient_as_bucket_view`` the same one, which saves allocating it). Inside
    ``no_sync()``, forward and backward accumulate local gradients only; the next synchronised backward averages
    the accumulated sums. With ``broadcast_buffers`` (the default) buffers such as BatchNorm's running statistics
    are broadcast from rank 0 at each forward; batch statistics stay per rank, as in PyTorch (``SyncBatchNorm``
    makes them the global batch's).

    A bucket waits for all its parameters; one that gets no gradient in this backward (unused on this rank) holds
    its bucket and the later ones back until the sweep ends, when they are sent anyway, with zeros for it. With
    ``find_unused_parameters`` each forward looks through the output's graph for the parameters it cannot reach,
    so that their buckets need not wait. Gradients are averaged in ``backward()``, for one forward per backward (a
    parameter used several times in that forward is fine). Without a launcher (world size 1) it is the module
    itself.

    >>> import chainrule as cr
    >>> model = cr.distributed.DistributedDataParallel(cr.nn.Linear(3, 1))
    >>> model(cr.ones(2, 3, dtype="float32")).sum().backward()
    >>> model.module.bias.grad
    tensor([2.], dtype=float32)
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 broadcast_buffers: bool = True, bucket_cap_mb: float = 25.0,
                 find_unused_parameters: bool = False, gradient_as_bucket_view: bool = False) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a cr.nn.Module, got {type(module).__name__}")
        if device_ids is not None or output_device is not None:
            raise ValueError("DistributedDataParallel: device_ids and output_device are not used here: move the "
                             "module to its device first (module.to('cuda')); inputs and outputs stay where they are")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self._sync = True
        self._armed = False  # a synchronised forward ran: its backward averages
        self._queued = False  # this backward's _finish is queued
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._check_same_parameters()
        with no_grad():
            for p in self._params:
                p.data[...] = broadcast(p.data)
        self._broadcast_buffers()
        self._buckets = self._make_buckets()
        self._bucket_of = {i: b for b in self._buckets for i in b.indices}
        if world_size() > 1:
            self._handles = [p.register_post_accumulate_grad_hook(self._ready_hook(i))
                             for i, p in enumerate(self._params)]

    # ---- wrap time -------------------------------------------------------------------------------------------
    def _check_same_parameters(self) -> None:
        mine = [f"{n} {tuple(p.shape)} {p.dtype}" for n, p in zip(self._names, self._params)]
        mine += [f"buffer {n} {tuple(b.shape)} {b.dtype}" for n, b in self.module.named_buffers()]
        everyone = _gather_text("\n".join(mine), "DistributedDataParallel", None)
        reference = everyone[0].split("\n") if everyone[0] else []
        for r, text in enumerate(everyone[1:], start=1):
            theirs = text.split("\n") if text else []
            if theirs == reference:
                continue
            for ours, other in zip(reference, theirs):
                if ours != other:
                    break
            else:
                ours, other = f"{len(reference)} entries", f"{len(theirs)} entries"
            raise ValueError(f"DistributedDataParallel: the ranks hold different parameters or buffers (rank 0: "
                             f"{ours}; rank {r}: {other}): every rank must build the same model")

    def _make_buckets(self) -> list[_Bucket]:
        # the first bucket is small (1 MiB at most, as PyTorch's), so that its all-reduce starts early in the sweep
        caps = (min(2 ** 20, self.bucket_cap_mb * 2 ** 20), self.bucket_cap_mb * 2 ** 20)
        buckets: list[_Bucket] = []
        open_: dict[tuple[str, str], tuple[_Bucket, int]] = {}
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            key = (str(p.dtype), p.device)
            bucket, size = open_.get(key, (None, 0))
            if bucket is None or (size and size + p.data.nbytes > caps[bucket is not buckets[0]]):
                bucket, size = _Bucket([], p.dtype, p.device), 0
                buckets.append(bucket)
            bucket.offsets[i] = sum(self._params[j].data.size for j in bucket.indices)
            bucket.indices.append(i)
            open_[key] = (bucket, size + p.data.nbytes)
        return buckets

    def _broadcast_buffers(self) -> None:
        """Rank 0's buffers on every rank, written in place (their shapes were checked at wrap time)."""
        if world_size() == 1:
            return
        buffers = list(self.module.buffers())
        hosts = [np.array(backend.to_host(b.data), order="C") for b in buffers]  # copies: MPI writes into them
        _wait([_state.comm.Ibcast(h, root=0) for h in hosts], "DistributedDataParallel buffers", None)
        with no_grad():
            for b, h in zip(buffers, hosts):
                b.data[...] = h if backend.device_of(b.data) == "cpu" else backend.to_device(h, b.device)

    # ---- forward ---------------------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self.broadcast_buffers:
            self._broadcast_buffers()
        if not (self._sync and is_grad_enabled() and world_size() > 1 and self._params):
            self._armed = False
            return self.module(*args, **kwargs)
        self._arm()
        output = self.module(*args, **kwargs)
        if self.find_unused_parameters:  # (the search passes every edge the sweep may take: a superset)
            reached = _reached(output, {id(p): i for i, p in enumerate(self._params)})
            for b in self._buckets:
                b.expected = len(reached.intersection(b.indices))
        return output

    # ---- backward --------------------------------------------------------------------------------------------
    def _arm(self) -> None:
        for b in self._buckets:
            if b.request is not None:
                raise RuntimeError("DistributedDataParallel: a forward ran before the previous one's backward "
                                   "finished averaging; call backward() once per forward")
            b.expected = len(b.indices)
            b.arrived.clear()
            if b.flat is None or not self.gradient_as_bucket_view:
                b.flat = np.empty(sum(self._params[i].data.size for i in b.indices), dtype=b.dtype)
        self._armed = True
        self._queued = False

    def _part(self, b: _Bucket, i: int) -> np.ndarray[Any, Any]:
        """Parameter ``i``'s place in its bucket's buffer, in its shape."""
        assert b.flat is not None
        p = self._params[i]
        start = b.offsets[i]
        return b.flat[start:start + p.data.size].reshape(p.shape)

    def _ready_hook(self, i: int) -> Callable[[Tensor], None]:
        def ready(p: Tensor) -> None:
            if not self._armed:
                return  # no_sync, or a second backward: plain accumulation
            if not self._queued:
                queue_callback(self._finish)
                self._queued = True
            bucket = self._bucket_of[i]
            assert p.grad is not None
            self._part(bucket, i)[...] = backend.to_host(p.grad.data)  # the one copy, whatever the strides
            bucket.arrived.add(i)
            if len(bucket.arrived) == bucket.expected:
                self._launch_ready()
            in_flight = [b.request for b in self._buckets if b.request is not None]
            if in_flight:  # MPI moves a non-blocking collective on only inside MPI calls: give it one
                _mpi().Request.Testall(in_flight)
        return ready

    def _launch_ready(self) -> None:
        """Start the all-reduces of complete buckets, in bucket order: every rank must start them in one order."""
        for b in self._buckets:
            if b.request is not None:
                continue
            if len(b.arrived) < b.expected:
                return
            self._launch(b)

    def _launch(self, b: _Bucket) -> None:
        for i in b.indices:
            if i not in b.arrived:  # no gradient in this backward: what .grad holds (from no_sync), or zeros
                grad = self._params[i].grad
                self._part(b, i)[...] = 0 if grad is None else backend.to_host(grad.data)
        MPI = _mpi()
        b.request = _state.comm.Iallreduce(MPI.IN_PLACE, b.flat, op=MPI.SUM)

    def _finish(self) -> None:
        """After the sweep: send what is left, wait for every bucket, and give each parameter its average."""
        if not self._armed:
            return
        for b in self._buckets:
            if b.request is None:
                self._launch(b)
        _wait([b.request for b in self._buckets], "DistributedDataParallel backward", None)
        n = world_size()
        for b in self._buckets:
            assert b.flat is not None
            b.flat /= n
            for i in b.indices:
                p = self._params[i]
                average = self._part(b, i)
                if b.device != "cpu":
                    average = backend.to_device(average, b.device)
                if i in b.arrived or p.grad is not None or average.any():
                    p.grad = Tensor._from_node(average, None)
            b.request = None
        self._armed = False

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forward and backward in this block accumulate local gradients without communication; the next
        synchronised backward averages the accumulated sums.

        >>> import chainrule as cr
        >>> model = cr.distributed.DistributedDataParallel(cr.nn.Linear(2, 1))
        >>> with model.no_sync():
        ...     model(cr.ones(1, 2, dtype="float32")).sum().backward()
        >>> model(cr.ones(1, 2, dtype="float32")).sum().backward()
        >>> model.module.bias.grad
        tensor([2.], dtype=float32)
        """
        before = self._sync
        self._sync = False
        try:
            yield
        finally:
            self._sync = before


def _reached(output: Any, params: dict[int, int]) -> set[int]:
    """The indices (``params``: id -> index) of the parameters that ``output``'s graph leads to, through tensors,
    lists, tuples and dict values."""
    found: set[int] = set()
    seen: set[Node] = set()
    stack: list[Any] = [output]
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            if x._node is None:
                if id(x) in params:
                    found.add(params[id(x)])
            elif x._node not in seen:
                seen.add(x._node)
                stack.extend(a for a in x._node.args if isinstance(a, Tensor) and a.requires_grad)
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, dict):
            stack.extend(x.values())
    return found


# the sum over ranks as a recorded operation: y = sum_r x_r on every rank. Every rank's loss depends on y, so the
# cotangent of x_q is the sum over ranks of y's cotangents (and a tangent sums the same way)
_sum_over_ranks = Primitive("sum_over_ranks", lambda x: all_reduce(x), vjp=lambda g, ans, x: _sum_over_ranks(g),
                            jvp=lambda t, ans, x: _sum_over_ranks(t), register=False)


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose batch statistics are those of the whole global batch, over every rank (PyTorch's
    ``SyncBatchNorm``): with it, ``DistributedDataParallel`` computes what one process computes on the global batch.

    Training on several ranks costs two small all-reduces per layer in the forward (sums, then squared deviations:
    the variance is computed in two passes, as ``batch_norm``'s) and two in the backward. On one rank, or in eval
    mode, it is ``BatchNorm``. Inputs are (N, C, *). ``convert_sync_batchnorm(model)`` swaps a model's BatchNorm
    layers for it, keeping their parameters and buffers.

    >>> import chainrule as cr
    >>> model = cr.distributed.SyncBatchNorm.convert_sync_batchnorm(cr.nn.Sequential(cr.nn.BatchNorm1d(3)))
    >>> model
    Sequential(
      (0): SyncBatchNorm(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    )
    """

    _dims = (2, 3, 4, 5, 6)
    _layout = "(N, C, *)"

    def forward(self, input: Any) -> Any:
        if not self.training or world_size() == 1:
            return super().forward(input)
        who = layer_name(self)
        expect_size(who, "input", expect_ndim(who, "input", input, self._dims, self._layout), 1, self.num_features,
                    "channel dimension (dim 1)")
        x = as_array(input)
        axes = (0, *range(2, x.ndim))
        count = int(all_reduce(np.array(x.size // x.shape[1])))
        if count <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all ranks when training, "
                             f"got {count}")
        mu = _sum_over_ranks(_sum(x, axis=axes, keepdims=True)) / count
        d = x - mu
        var = _sum_over_ranks(_sum(d * d, axis=axes, keepdims=True)) / count
        if self.track_running_stats:
            with no_grad():
                self.num_batches_tracked += 1
                factor = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
                for stat, batch in ((self.running_mean, mu), (self.running_var, var * (count / (count - 1)))):
                    stat[...] = (1.0 - factor) * stat.data + factor * batch.data.reshape(-1).astype(stat.dtype)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = d / sqrt(var + self.eps)
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """``module`` with every BatchNorm layer in it (or itself) replaced by a SyncBatchNorm that holds the same
        parameters and buffers."""
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            for registry in ("_parameters", "_buffers"):
                getattr(sync, registry).update(getattr(module, registry))
            sync._non_persistent_buffers = set(module._non_persistent_buffers)
            sync.train(module.training)
            return sync
        for name, child in module._modules.items():
            if child is not None:
                module._modules[name] = cls.convert_sync_batchnorm(child)
        return module
