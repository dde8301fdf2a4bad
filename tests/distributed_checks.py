"""Checks run on every rank of ``mpiexec -n 2 python tests/distributed_checks.py MODE [DIR]`` (tests/test_distributed.py
launches it). Mode ``checks`` runs them all and prints ``passed NAME`` on rank 0 for each; ``raise`` and ``timeout``
make rank 1 fail (an exception; a rank that never comes) to show that the job ends with the error shown.

Every rank computes the single-process reference itself (the same global batch on one model) and compares.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

import numpy as np

import chainrule as cr
from chainrule import backend
from chainrule import distributed as dist
from chainrule.data import DataLoader, DistributedSampler

RTOL = 1e-10


def report(name: str) -> None:
    dist.barrier()
    if dist.rank() == 0:
        print(f"passed {name}", flush=True)


def check_collectives() -> None:
    r, n = dist.rank(), dist.world_size()
    assert n == 2, n
    x = np.array([1.0, 2.0, 3.0]) * (r + 1)
    np.testing.assert_array_equal(dist.all_reduce(x), [3.0, 6.0, 9.0])
    np.testing.assert_array_equal(dist.all_reduce(x, op="mean"), [1.5, 3.0, 4.5])
    np.testing.assert_array_equal(dist.all_reduce(x, op="max"), [2.0, 4.0, 6.0])
    np.testing.assert_array_equal(dist.all_reduce(x, op="min"), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(dist.all_reduce(x, op="prod"), [2.0, 8.0, 18.0])
    np.testing.assert_array_equal(x, np.array([1.0, 2.0, 3.0]) * (r + 1))  # never written into
    ints = dist.all_reduce(np.arange(3) + r, op="mean")
    assert ints.dtype == np.float64 and ints.tolist() == [0.5, 1.5, 2.5], ints
    t = dist.all_reduce(cr.tensor([float(r), 1.0], dtype="float32"))
    assert isinstance(t, cr.Tensor) and t.dtype == np.float32 and t.tolist() == [1.0, 2.0], t
    # broadcast: the other ranks' shapes and dtypes do not matter
    b = dist.broadcast(np.arange(4).reshape(2, 2) if r == 1 else np.zeros(1), root=1)
    assert b.shape == (2, 2) and b.dtype == np.arange(1).dtype and b.tolist() == [[0, 1], [2, 3]], b
    bt = dist.broadcast(cr.full((3,), float(r + 7)))
    assert isinstance(bt, cr.Tensor) and bt.tolist() == [7.0, 7.0, 7.0], bt
    g = dist.all_gather(np.array([r, 10 * r]))
    assert g.tolist() == [[0, 0], [1, 10]], g
    gt = dist.all_gather(cr.tensor(float(r)))
    assert isinstance(gt, cr.Tensor) and gt.tolist() == [0.0, 1.0], gt
    try:
        dist.all_gather(np.zeros(r + 1))
    except ValueError as error:
        assert "rank 0: (1,)" in str(error) and "rank 1: (2,)" in str(error), error
    else:
        raise AssertionError("all_gather of different shapes was accepted")
    try:
        dist.all_reduce(cr.tensor([1.0], requires_grad=True))
    except TypeError as error:
        assert "detach" in str(error), error
    else:
        raise AssertionError("all_reduce of a tensor that requires grad was accepted")
    dist.barrier(timeout=30.0)
    report("collectives")


def shards(x: np.ndarray, r: int) -> np.ndarray:
    """Rank r's half of a global batch: its contiguous half."""
    half = len(x) // 2
    return x[r * half:(r + 1) * half]


def mlp() -> cr.nn.Module:
    return cr.nn.Sequential(cr.nn.Linear(5, 16), cr.nn.Tanh(), cr.nn.Linear(16, 16), cr.nn.Tanh(),
                            cr.nn.Linear(16, 3)).to(np.float64)


def params_close(a: cr.nn.Module, b: cr.nn.Module, what: str) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        np.testing.assert_allclose(np.asarray(sa[k]), np.asarray(sb[k]), rtol=RTOL, atol=1e-14, err_msg=f"{what}: {k}")


def check_mlp() -> None:
    r = dist.rank()
    cr.manual_seed(0)
    reference = mlp()
    cr.manual_seed(100 + r)  # each rank starts elsewhere: the wrap broadcasts rank 0's parameters
    local = mlp()
    if r == 0:
        local.load_state_dict(reference.state_dict())
    ddp = dist.DistributedDataParallel(local, bucket_cap_mb=600 / 2 ** 20)  # ~600 bytes: several buckets
    assert len(ddp._buckets) >= 3, len(ddp._buckets)
    params_close(ddp.module, reference, "after the wrap")
    started_in_sweep = []
    finish = ddp._finish

    def counting_finish() -> None:
        started_in_sweep.append(sum(b.request is not None for b in ddp._buckets))
        finish()

    ddp._finish = counting_finish
    opt = cr.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    opt_ref = cr.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    for _ in range(20):
        x, y = rng.normal(size=(16, 5)), rng.normal(size=(16, 3))
        opt.zero_grad()
        cr.nn.functional.mse_loss(ddp(cr.tensor(shards(x, r))), cr.tensor(shards(y, r))).backward()
        opt.step()
        opt_ref.zero_grad()
        cr.nn.functional.mse_loss(reference(cr.tensor(x)), cr.tensor(y)).backward()
        opt_ref.step()
    params_close(ddp.module, reference, "after 20 steps")
    # the buckets of the last layers were sent while the sweep went on through the first ones
    assert min(started_in_sweep) >= 1, started_in_sweep
    report("mlp 20 steps equal one process")


def cnn() -> cr.nn.Module:
    return cr.nn.Sequential(cr.nn.Conv2d(1, 4, 3), cr.nn.BatchNorm2d(4), cr.nn.ReLU(), cr.nn.Flatten(),
                            cr.nn.Linear(4 * 6 * 6, 3)).to(np.float64)


def check_cnn() -> None:
    """BatchNorm's batch statistics are per rank (as PyTorch's DDP without SyncBatchNorm), and its running
    statistics are rank 0's (broadcast at each forward): so the one-process reference computes each half of the
    global batch on its own, summing the halves' gradients, and keeps the running statistics of the first half."""
    r = dist.rank()
    cr.manual_seed(200 + r)
    ddp = dist.DistributedDataParallel(cnn())
    reference = cnn()
    reference.load_state_dict(ddp.module.state_dict())  # rank 0's, after the wrap's broadcast
    opt = cr.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    opt_ref = cr.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(2)
    for _ in range(20):
        x, y = rng.normal(size=(16, 1, 8, 8)), rng.integers(0, 3, size=16)
        opt.zero_grad()
        cr.nn.functional.cross_entropy(ddp(cr.tensor(shards(x, r))), cr.tensor(shards(y, r))).backward()
        opt.step()
        opt_ref.zero_grad()
        first_half: dict[str, np.ndarray] = {}
        for s in (0, 1):
            loss = cr.nn.functional.cross_entropy(reference(cr.tensor(shards(x, s))), cr.tensor(shards(y, s)))
            (loss / 2).backward()
            if s == 0:
                first_half = {k: b.data.copy() for k, b in reference.named_buffers()}
        with cr.no_grad():
            for k, b in reference.named_buffers():
                b.data[...] = first_half[k]
        opt_ref.step()
    if r == 0:
        params_close(ddp.module, reference, "cnn after 20 steps")
    else:  # rank 1's running statistics are its own until the next forward broadcasts rank 0's
        for (k, p), (_, q) in zip(ddp.module.named_parameters(), reference.named_parameters()):
            np.testing.assert_allclose(p.data, q.data, rtol=RTOL, atol=1e-14, err_msg=k)
    ddp.eval()
    x = cr.tensor(rng.normal(size=(4, 1, 8, 8)))
    with cr.no_grad():
        np.testing.assert_allclose(ddp(x).data, reference.eval()(x).data, rtol=RTOL, atol=1e-13)
    report("cnn with batchnorm 20 steps equal one process")


def check_sync_batchnorm() -> None:
    """With SyncBatchNorm the statistics are the global batch's: DDP equals one process on the global batch."""
    r = dist.rank()
    cr.manual_seed(0)
    reference = cnn()
    ddp = dist.DistributedDataParallel(dist.SyncBatchNorm.convert_sync_batchnorm(cnn()))
    assert type(ddp.module[1]).__name__ == "SyncBatchNorm"
    reference.load_state_dict(ddp.module.state_dict())
    opt = cr.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    opt_ref = cr.optim.SGD(reference.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(7)
    for _ in range(20):
        x, y = rng.normal(size=(16, 1, 8, 8)), rng.integers(0, 3, size=16)
        for model, optimizer, xs, ys in ((ddp, opt, shards(x, r), shards(y, r)), (reference, opt_ref, x, y)):
            optimizer.zero_grad()
            cr.nn.functional.cross_entropy(model(cr.tensor(xs)), cr.tensor(ys)).backward()
            optimizer.step()
    params_close(ddp.module, reference, "sync batchnorm after 20 steps")  # running statistics too, on both ranks
    report("cnn with SyncBatchNorm 20 steps equal one process on the global batch")


def check_no_sync() -> None:
    for view in (False, True):  # gradients in fresh buffers each step, or always in the same ones
        no_sync_then_sync(view)
    report("no_sync accumulation")


def no_sync_then_sync(view: bool) -> None:
    r = dist.rank()
    cr.manual_seed(0)
    reference = mlp()
    ddp = dist.DistributedDataParallel(mlp(), gradient_as_bucket_view=view)  # same seed on both ranks
    reference.load_state_dict(ddp.module.state_dict())
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 4, 3))  # [rank, micro-batch]
    with ddp.no_sync():
        cr.nn.functional.mse_loss(ddp(cr.tensor(x[r, 0])), cr.tensor(y[r, 0])).backward()
    local = [p.grad.data.copy() for p in ddp.parameters()]
    ref_local = cr.engine.grad(cr.nn.functional.mse_loss(reference(cr.tensor(x[r, 0])), cr.tensor(y[r, 0])),
                               list(reference.parameters()))
    for a, b in zip(local, ref_local):
        np.testing.assert_allclose(a, b.data, rtol=RTOL, atol=1e-14)  # no communication: this rank's own
    for k in (1, 2):  # two synchronised backwards, the second adding into the first one's averaged .grad
        cr.nn.functional.mse_loss(ddp(cr.tensor(x[r, k])), cr.tensor(y[r, k])).backward()
        steps = (0, 1) if k == 1 else (2,)
        total = sum(cr.nn.functional.mse_loss(reference(cr.tensor(x[s, j])), cr.tensor(y[s, j]))
                    for s in (0, 1) for j in steps) / 2
        total.backward()
        for p, q in zip(ddp.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.grad.data, q.grad.data, rtol=RTOL, atol=1e-14)


class Twice(cr.nn.Module):
    """``a`` used twice in one forward; ``b`` used on rank 0 only."""

    def __init__(self) -> None:
        super().__init__()
        self.a = cr.nn.Linear(4, 4).to(np.float64)
        self.b = cr.nn.Linear(4, 4).to(np.float64)

    def forward(self, x: cr.Tensor, use_b: bool) -> cr.Tensor:
        y = self.a(cr.tanh(self.a(x)))
        return self.b(y) if use_b else y


def check_shared_and_unused() -> None:
    r = dist.rank()
    xs = np.random.default_rng(5).normal(size=(2, 3, 4))
    for find_unused in (False, True):
        cr.manual_seed(0)
        ddp = dist.DistributedDataParallel(Twice(), find_unused_parameters=find_unused)
        reference = Twice()
        reference.load_state_dict(ddp.module.state_dict())
        started_in_sweep = []
        finish = ddp._finish

        def counting_finish(ddp: dist.DistributedDataParallel = ddp, finish: Callable[[], None] = finish,
                            started: list[int] = started_in_sweep) -> None:
            started.append(sum(b.request is not None for b in ddp._buckets))
            finish()

        ddp._finish = counting_finish
        ddp(cr.tensor(xs[r]), use_b=r == 0).sum().backward()
        per_rank = [cr.engine.grad(reference(cr.tensor(xs[s]), use_b=s == 0).sum(), list(reference.parameters()))
                    for s in (0, 1)]  # zeros for b on rank 1
        for p, g0, g1 in zip(ddp.parameters(), *per_rank):
            np.testing.assert_allclose(p.grad.data, (g0.data + g1.data) / 2, rtol=RTOL, atol=1e-14)
        # one bucket: rank 1 waits for b until the sweep ends, unless it looked for unused parameters
        assert started_in_sweep == [1 if find_unused or r == 0 else 0], (find_unused, started_in_sweep)
    report("a parameter used twice, one unused on a rank")


def check_gpu_stand_in() -> None:
    """Device tensors (the CuPy stand-in of tests/stand_in_gpu.py) go through host buffers and come back."""
    from stand_in_gpu import provider  # beside this script

    r = dist.rank()
    with backend.use_provider(provider):
        t = dist.all_reduce(cr.tensor([1.0, 2.0], device="cuda") * (r + 1))
        assert t.device == cr.tensor(0.0, device="cuda").device and t.cpu().tolist() == [3.0, 6.0], t
        cr.manual_seed(0)
        reference = mlp()
        ddp = dist.DistributedDataParallel(mlp().to("cuda"))
        reference.load_state_dict({k: v.cpu() for k, v in ddp.module.state_dict().items()})
        opt, opt_ref = (cr.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ddp, reference))
        rng = np.random.default_rng(6)
        for _ in range(5):
            x, y = rng.normal(size=(8, 5)), rng.normal(size=(8, 3))
            for model, optimizer, xs, ys in ((ddp, opt, shards(x, r), shards(y, r)), (reference, opt_ref, x, y)):
                device = "cuda" if model is ddp else "cpu"
                optimizer.zero_grad()
                cr.nn.functional.mse_loss(model(cr.tensor(xs, device=device)), cr.tensor(ys, device=device)).backward()
                optimizer.step()
        for (k, p), (_, q) in zip(ddp.module.named_parameters(), reference.named_parameters()):
            assert p.device == t.device, (k, p.device)
            np.testing.assert_allclose(p.cpu().numpy(), q.data, rtol=RTOL, atol=1e-14, err_msg=k)
    report("device tensors through host buffers")


def check_mismatch() -> None:
    r = dist.rank()
    try:
        dist.DistributedDataParallel(cr.nn.Linear(3, 2 + r))
    except ValueError as error:
        assert "rank 0: weight (2, 3) float32" in str(error) and "rank 1: weight (3, 3) float32" in str(error), error
    else:
        raise AssertionError("different parameter shapes were accepted")
    report("mismatched parameters refused at wrap time")


def check_sampler() -> None:
    r, n = dist.rank(), dist.world_size()
    data = np.arange(11)
    for drop_last in (False, True):
        sampler = DistributedSampler(data, shuffle=True, seed=5, drop_last=drop_last)
        for epoch in (0, 1):
            sampler.set_epoch(epoch)
            mine = np.array(list(sampler))
            everyone = dist.all_gather(mine)
            flat = everyone.reshape(-1)
            if drop_last:  # disjoint, all but the remainder
                assert len(set(flat.tolist())) == len(flat) == 10, everyone
            else:  # every index, and one repeated to even the shards out
                assert set(flat.tolist()) == set(range(11)) and len(flat) == 12, everyone
            if epoch == 0:
                first = everyone
        assert not np.array_equal(first, everyone), "set_epoch did not reshuffle"
    loader = DataLoader((data.astype(np.float64), data), batch_size=4, sampler=DistributedSampler(data, shuffle=False))
    seen = np.concatenate([yb.data for _, yb in loader])
    assert seen.tolist() == list(range(r, 11, n)) + ([0] if r == 1 else []), seen
    report("sampler shards partition the data")


def check_checkpoint(folder: str) -> None:
    """Rank 0 writes, every rank reads; the resumed run continues bit for bit."""
    r = dist.rank()
    path = os.path.join(folder, "ckpt.safetensors")
    cr.manual_seed(0)
    ddp = dist.DistributedDataParallel(mlp())
    opt = cr.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(4)
    batches = [(rng.normal(size=(16, 5)), rng.normal(size=(16, 3))) for _ in range(6)]

    def train(model: cr.nn.Module, optimizer: cr.optim.SGD, part: list) -> None:
        for x, y in part:
            optimizer.zero_grad()
            cr.nn.functional.mse_loss(model(cr.tensor(shards(x, r))), cr.tensor(shards(y, r))).backward()
            optimizer.step()

    train(ddp, opt, batches[:3])
    dist.save({"model": ddp.module.state_dict(), "optim": opt.state_dict()}, path)
    train(ddp, opt, batches[3:])
    state = cr.load(path)
    cr.manual_seed(300 + r)
    resumed = mlp()
    resumed.load_state_dict(state["model"])
    again = dist.DistributedDataParallel(resumed)
    opt2 = cr.optim.SGD(again.parameters(), lr=0.1, momentum=0.9)
    opt2.load_state_dict(state["optim"])
    train(again, opt2, batches[3:])
    for (k, p), (_, q) in zip(ddp.module.named_parameters(), again.module.named_parameters()):
        assert np.array_equal(p.data, q.data), k
    report("checkpoint written by rank 0, resumed bit for bit")


def main() -> None:
    mode = sys.argv[1]
    dist.init()
    if mode == "checks":
        check_collectives()
        check_mlp()
        check_cnn()
        check_sync_batchnorm()
        check_no_sync()
        check_shared_and_unused()
        check_gpu_stand_in()
        check_mismatch()
        check_sampler()
        check_checkpoint(sys.argv[2])
    elif mode == "raise":
        if dist.rank() == 1:
            raise RuntimeError("rank 1 broke on purpose")
        dist.barrier()  # rank 0 waits for a rank that is gone: the abort must end it
    elif mode == "timeout":
        if dist.rank() == 1:
            time.sleep(120)  # never arrives in time
        dist.barrier(timeout=1.0)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
