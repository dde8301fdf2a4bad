"""cr.distributed: real two-rank runs under mpiexec (tests/distributed_checks.py holds the checks, compared with
one-process references), the single-process path, and the lazy import of mpi4py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import distributed as dist
from chainrule.data import DataLoader, DistributedSampler

HERE = Path(__file__).parent
SRC = HERE.parent / "src"


def mpiexec(mode: str, *args: str, timeout: float = 120, script: list[str] | None = None) -> tuple[int, str, float]:
    """Run tests/distributed_checks.py MODE ARGS (or ``script``) on 2 ranks; the return code, everything printed,
    and the seconds taken."""
    launcher = shutil.which("mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    assert launcher, "mpiexec not found: install the distributed extra (pip install -e '.[distributed]')"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])]))
    command = [launcher, "-n", "2", "--oversubscribe"]  # more ranks than free cores is fine for tests
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-run-as-root")  # Open MPI refuses root otherwise (containers run as root)
    command += [sys.executable, *(script or [str(HERE / "distributed_checks.py"), mode, *args])]
    start = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


def test_two_ranks_pass_every_check(tmp_path: Path) -> None:
    code, out, _ = mpiexec("checks", str(tmp_path))
    assert code == 0, out
    passed = [line.removeprefix("passed ") for line in out.splitlines() if line.startswith("passed ")]
    assert passed == [
        "collectives", "mlp 20 steps equal one process", "cnn with batchnorm 20 steps equal one process",
        "cnn with SyncBatchNorm 20 steps equal one process on the global batch", "no_sync accumulation",
        "a parameter used twice, one unused on a rank", "device tensors through host buffers",
        "mismatched parameters refused at wrap time", "sampler shards partition the data",
        "checkpoint written by rank 0, resumed bit for bit"], out


def test_a_failing_rank_ends_the_job_with_its_error() -> None:
    code, out, seconds = mpiexec("raise")
    assert code != 0
    assert "RuntimeError: rank 1 broke on purpose" in out and "rank 1 of 2 failed" in out, out
    assert seconds < 30, seconds  # rank 0 was waiting in a barrier: the abort ended it


def test_a_rank_that_never_comes_times_out_the_job() -> None:
    code, out, seconds = mpiexec("timeout")
    assert code != 0
    assert "TimeoutError: cr.distributed.barrier: rank 0 waited more than 1.0 s" in out, out
    assert seconds < 30, seconds  # rank 1 sleeps 120 s: the abort ended it too


def test_demo_on_two_processes_gives_one_process_numbers(tmp_path: Path) -> None:
    options = ["-m", "chainrule", "demo", "--model", "mlp", "--epochs", "2", "--batch-size", "31"]  # odd batches
    code, out, _ = mpiexec("", script=[*options, "--distributed", "--out", str(tmp_path / "two")])
    assert code == 0, out
    one = subprocess.run([sys.executable, *options, "--out", str(tmp_path / "one")], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, PYTHONPATH=str(SRC)))
    assert one.returncode == 0, one.stderr
    lines = [line for line in out.splitlines() if line.startswith(("epoch", "test accuracy"))]
    assert len(lines) == 3, out  # rank 0 alone prints
    # the epoch lines (but the speed) and the final accuracy are the same
    assert [line.split("(")[0] for line in lines] == [line.split("(")[0] for line in one.stdout.splitlines()[1:]]
    two, single = cr.load(tmp_path / "two" / "model.safetensors"), cr.load(tmp_path / "one" / "model.safetensors")
    for k in single:  # float32, summed in another order: rounding apart
        np.testing.assert_allclose(two[k], single[k], rtol=0, atol=1e-5)


def test_one_process_is_world_size_one() -> None:
    dist.init()
    assert (dist.rank(), dist.world_size()) == (0, 1)
    x = np.arange(3.0)
    out = dist.all_reduce(x, op="mean")
    assert out is not x and out.tolist() == [0.0, 1.0, 2.0]
    assert dist.broadcast(cr.tensor(2.0)).item() == 2.0
    assert dist.all_gather(cr.tensor([1, 2])).tolist() == [[1, 2]]
    with pytest.raises(ValueError, match="op must be one of"):
        dist.all_reduce(x, op="avg")
    with pytest.raises(ValueError, match=r"root must be a rank in \[0, 1\)"):
        dist.broadcast(x, root=1)
    with pytest.raises(TypeError, match="requires grad"):
        dist.broadcast(cr.tensor([1.0], requires_grad=True))


def test_sync_batchnorm_on_one_process_is_batchnorm() -> None:
    cr.manual_seed(0)
    plain = cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3), cr.nn.BatchNorm2d(2))
    sync = dist.SyncBatchNorm.convert_sync_batchnorm(cr.nn.Sequential(cr.nn.Conv2d(1, 2, 3), cr.nn.BatchNorm2d(2)))
    sync.load_state_dict(plain.state_dict())
    assert isinstance(sync[1], dist.SyncBatchNorm) and sync[1].weight is not plain[1].weight
    x = cr.randn(4, 1, 5, 5, dtype="float32")
    np.testing.assert_array_equal(sync(x).data, plain(x).data)
    np.testing.assert_array_equal(sync[1].running_var.data, plain[1].running_var.data)
    with pytest.raises(ValueError, match="channel"):
        sync[1](cr.randn(4, 3, 2, 2, dtype="float32"))  # 3 channels for a layer of 2
    bn = cr.nn.BatchNorm1d(3)
    converted = dist.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert converted.weight is bn.weight and converted.running_mean is bn.running_mean  # the same objects


def test_ddp_on_one_process_is_the_module() -> None:
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.ReLU(), cr.nn.Linear(4, 2))
    ddp = dist.DistributedDataParallel(model)
    assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]  # PyTorch's layout
    x = cr.randn(5, 3, dtype="float32")
    ddp(x).sum().backward()
    grads = [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for g, p in zip(grads, model.parameters()):
        np.testing.assert_array_equal(g, p.grad.data)
    with pytest.raises(ValueError, match="device_ids"):
        dist.DistributedDataParallel(model, device_ids=[0])
    with pytest.raises(TypeError, match=r"wraps a cr\.nn\.Module"):
        dist.DistributedDataParallel(lambda x: x)


def test_import_chainrule_never_imports_mpi4py() -> None:
    code = "import sys, chainrule; chainrule.distributed.init(); assert 'mpi4py' not in sys.modules"
    env = dict(os.environ, PYTHONPATH=str(SRC))
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"):
        env.pop(name, None)
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)


def test_a_launch_without_mpi4py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dist, "_state", dist._State())
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # an import of it fails
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[distributed\]'"):
        dist.init()


def test_sampler_shards_and_loader() -> None:
    shards = [list(DistributedSampler(range(10), num_replicas=3, rank=r, seed=1)) for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]
    assert {i for s in shards for i in s} == set(range(10))
    sampler = DistributedSampler(range(10), num_replicas=3, rank=0, seed=1)
    sampler.set_epoch(1)
    assert list(sampler) != shards[0]
    assert len(DistributedSampler(range(10), num_replicas=3, rank=0, drop_last=True)) == 3
    assert list(DistributedSampler(range(4), shuffle=False)) == [0, 1, 2, 3]  # world size 1: everything
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\)"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    x = np.arange(10.0)
    loader = DataLoader((x,), batch_size=3, sampler=DistributedSampler(x, num_replicas=2, rank=1, shuffle=False))
    assert len(loader) == 2
    assert [b.tolist() for (b,) in loader] == [[1.0, 3.0, 5.0], [7.0, 9.0]]
    with pytest.raises(ValueError, match="shuffle=True cannot be used"):
        DataLoader((x,), shuffle=True, sampler=range(10))
    with pytest.raises(TypeError, match="iterable of indices"):
        DataLoader((x,), sampler=3)
    with pytest.raises(IndexError, match="outside the 10 samples"):
        list(DataLoader((x,), sampler=[0, 10]))
