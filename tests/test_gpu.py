"""The "cuda" device from a user's side, on the CuPy stand-in (tests/stand_in_gpu.py): creation on a device,
moving tensors and modules, mixing devices refused by name, a whole training step (forward, backward, Adam),
files, transforms; and, without CuPy, the errors that name the gpu extra."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import backend
from chainrule.nn import functional as F
from stand_in_gpu import provider


def test_creation_on_the_device(gpu: None) -> None:
    for t in (cr.tensor([1.0, 2.0], device="cuda"), cr.zeros(2, 3, device="cuda:0"), cr.ones(2, device="cuda"),
              cr.full((2,), 3.0, device="cuda"), cr.arange(3, device="cuda"), cr.linspace(0, 1, 3, device="cuda"),
              cr.eye(2, device="cuda"), cr.randn(2, device="cuda"), cr.rand(2, device="cuda"),
              cr.randint(0, 3, size=(2,), device="cuda")):
        assert t.device == "cuda:0" and type(t.data) is provider.array_type
    x = cr.tensor([1.0, 2.0], device="cuda")
    assert cr.zeros_like(x).device == "cuda:0" and cr.ones_like(x, device="cpu").device == "cpu"
    cr.random.seed(3)
    on_gpu = cr.randn(4, device="cuda").cpu().numpy()
    cr.random.seed(3)
    np.testing.assert_array_equal(on_gpu, cr.randn(4).numpy())  # one seed, the same draws on every device


def test_moving_tensors_is_differentiable(gpu: None) -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.cuda()
    assert y.device == "cuda:0" and x.to("cpu") is x and y.to("cuda:0") is y
    (y * y).sum().backward()
    assert x.grad is not None and x.grad.device == "cpu"
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    z = cr.tensor([3.0], device="cuda", requires_grad=True)
    (z.cpu() * 2).sum().backward()
    assert z.grad is not None and z.grad.device == "cuda:0"
    assert z.to(np.float32).dtype == np.float32 and z.to(cr.tensor([1.0])).device == "cpu"


def test_a_gpu_tensor_has_no_numpy_array_but_prints(gpu: None) -> None:
    x = cr.tensor([1.5, 2.0], device="cuda")
    with pytest.raises(TypeError, match=r"on cuda:0 has no NumPy array: copy it to the host first"):
        x.numpy()
    with pytest.raises(TypeError, match="on cuda:0"):
        np.asarray(x)
    assert repr(x) == "tensor([1.5, 2. ], device='cuda:0')"
    assert float(x.sum()) == 3.5 and x.tolist() == [1.5, 2.0] and x[0].item() == 1.5


def test_mixing_devices_is_refused_naming_both(gpu: None) -> None:
    x = cr.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(RuntimeError, match=r"^add: its inputs are on different devices, cpu and cuda:0"):
        x + cr.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="different devices"):
        cr.matmul(np.ones((2, 2)), x)
    assert float((x * 2.0).sum()) == 6.0  # Python numbers go anywhere


def test_a_training_step_on_the_device(gpu: None) -> None:
    cr.random.seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 3))
    reference = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 3))
    reference.load_state_dict(model.state_dict())
    model.to("cuda")
    assert all(p.device == "cuda:0" for p in model.parameters())
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    ref_opt = cr.optim.Adam(reference.parameters(), lr=0.01)
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    labels = np.array([0, 2, 1, 1, 0])
    for _ in range(3):
        for m, o, inputs, targets in ((model, opt, cr.tensor(x, device="cuda"), cr.tensor(labels, device="cuda")),
                                      (reference, ref_opt, cr.tensor(x), labels)):
            o.zero_grad()
            loss = cr.nn.functional.cross_entropy(m(inputs), targets)
            loss.backward()
            cr.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            o.step()
    for p, q in zip(model.parameters(), reference.parameters()):
        assert p.device == "cuda:0"
        np.testing.assert_allclose(p.cpu().numpy(), q.numpy(), rtol=1e-5, atol=1e-6)
    # files: saved from the host copy, loaded onto either device
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.safetensors")
        cr.save(model.state_dict(), path)
        back = cr.load(path, device="cuda")
        assert all(t.device == "cuda:0" for t in back.values())
        np.testing.assert_array_equal(cr.load(path)["0.weight"].numpy(), model[0].weight.cpu().numpy())
    model.to("cpu")
    assert all(p.device == "cpu" for p in model.parameters())


def test_dropout_on_the_device_draws_the_hosts_mask(gpu: None) -> None:
    """The mask is drawn on the host (one seed, one mask on every device) and moved: eagerly, in its gradient, and
    inside cr.compile, where each replay draws afresh."""
    x = cr.tensor(np.arange(1.0, 9.0), device="cuda", requires_grad=True)
    cr.random.seed(4)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    cr.random.seed(4)
    on_host = F.dropout(cr.tensor(np.arange(1.0, 9.0)), 0.5).numpy()
    assert y.device == "cuda:0" and x.grad is not None
    np.testing.assert_array_equal(y.cpu().numpy(), on_host)
    np.testing.assert_array_equal(x.grad.cpu().numpy(), (on_host != 0) * 2.0)
    step = cr.compile(lambda a: F.dropout(a, 0.5))
    for seed in range(3):
        cr.random.seed(seed)
        compiled = step(x.detach()).cpu().numpy()
        cr.random.seed(seed)
        np.testing.assert_array_equal(compiled, F.dropout(x.detach(), 0.5).cpu().numpy())
    assert step.traces == 1


def test_softmax_family_of_empty_slices_on_the_device(gpu: None) -> None:
    for shape, axis in (((4, 0), -1), ((0, 3), -1), ((2, 0, 3), 0)):
        host = F.log_softmax(cr.tensor(np.zeros(shape)), axis=axis)
        on_device = F.log_softmax(cr.tensor(np.zeros(shape), device="cuda"), axis=axis)
        assert on_device.device == "cuda:0" and on_device.shape == host.shape and on_device.dtype == host.dtype


def test_a_state_dict_loads_across_devices(gpu: None) -> None:
    host, device = cr.nn.Linear(3, 2), cr.nn.Linear(3, 2).to("cuda")
    device.load_state_dict(host.state_dict())  # host arrays into a module on the device
    assert device.weight.device == "cuda:0"
    np.testing.assert_array_equal(device.weight.cpu().numpy(), host.weight.numpy())
    other = cr.nn.Linear(3, 2)
    other.load_state_dict(device.state_dict())  # and back
    np.testing.assert_array_equal(other.bias.numpy(), host.bias.numpy())


def test_assigning_a_number_into_a_recorded_tensor_on_the_device(gpu: None) -> None:
    x = cr.tensor([1.0, 2.0, 3.0], device="cuda", requires_grad=True)
    y = x * 2.0
    y[0] = 0.0  # the number is made on the host and must go where y lives
    y.sum().backward()
    assert x.grad.device == "cuda:0" and x.grad.tolist() == [0.0, 2.0, 2.0]


def test_complex_gradients_scatter_through_an_index_array_on_the_device(gpu: None) -> None:
    """CUDA has no complex atomic add (the stand-in refuses one as CuPy does): the parts are scattered apart."""
    z, index = np.array([1 + 2j, 3 - 1j, 0.5j]), np.array([0, 2, 0])
    weights = np.array([1.0, 2j, 3.0])
    x = cr.tensor(z, device="cuda", requires_grad=True)
    cr.sum(cr.real(x[index] * cr.tensor(weights, device="cuda"))).backward()
    host = cr.tensor(z, requires_grad=True)
    cr.sum(cr.real(host[index] * weights)).backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), host.grad.numpy())


def test_transforms_on_the_device(gpu: None) -> None:
    x = backend.to_device(np.array([0.5, -1.0, 2.0]), "cuda")
    f = lambda v: (cr.tanh(v) * v).sum()
    on_gpu = cr.grad(f)(x)
    assert backend.device_of(on_gpu) == "cuda:0"
    np.testing.assert_allclose(backend.to_host(on_gpu), cr.grad(f)(backend.to_host(x)), rtol=1e-12)
    np.testing.assert_allclose(backend.to_host(cr.hessian(f)(x)), cr.hessian(f)(backend.to_host(x)), rtol=1e-12)
    jac = cr.jacobian(lambda v: cr.sin(v) * 2)(x)
    np.testing.assert_allclose(backend.to_host(jac), np.diag(2 * np.cos([0.5, -1.0, 2.0])), rtol=1e-12)


def test_without_cupy_the_error_names_the_gpu_extra() -> None:
    assert cr.cuda.is_available() is False and cr.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match=r"needs CuPy: pip install 'chainrule\[gpu\]'"):
        cr.tensor([1.0], device="cuda")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        cr.zeros(2, device="tpu")


def test_import_chainrule_never_imports_cupy() -> None:
    code = "import sys, chainrule as cr; cr.tensor([1.0]).sum(); print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_demo_trains_on_the_device_as_on_the_host(gpu: None, tmp_path: os.PathLike[str]) -> None:
    from chainrule import demo

    _, on_gpu = demo.train("mlp", epochs=1, quiet=True, out=os.path.join(tmp_path, "gpu"), device="cuda")
    _, on_cpu = demo.train("mlp", epochs=1, quiet=True, out=os.path.join(tmp_path, "cpu"))
    assert on_gpu.loss == pytest.approx(on_cpu.loss, rel=1e-4)
    assert on_gpu.test_accuracy == on_cpu.test_accuracy


def test_the_gpu_script_runs_its_chainrule_side_on_the_stand_in(gpu: None, capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/gpu_check.py must be ready to run on a GPU machine: its workloads run here on the stand-in."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.train_digits()
    assert "digits CNN, one epoch on cuda" in capsys.readouterr().out
    for step in (script._mlp_chainrule(8), script.conv.chainrule_step("cuda"), script._chain_chainrule(),
                 cr.compile(script._mlp_chainrule(8)), cr.compile(script._chain_chainrule())):
        for _ in range(3):  # compiled: made Adam's state, traced, replayed
            step()
    assert script.check_device(cr.tanh, (np.array([0.5]),), {}, "cuda")


def test_the_readmes_gpu_example_runs_on_the_stand_in(gpu: None, capsys: pytest.CaptureFixture[str]) -> None:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"^```python gpu\n(.*?)^```$", readme, flags=re.MULTILINE | re.DOTALL)
    exec(compile(example, "README.md (gpu)", "exec"), {})
    assert capsys.readouterr().out.split() == ["cuda:0", "True", "1"]
