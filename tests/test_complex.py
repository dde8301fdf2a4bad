"""Complex numbers: the gradient convention against both of its definitions, holomorphic gradients, refusals,
dtypes, and gradcheck on complex inputs and outputs.

The convention (HIPS autograd's and JAX's): for a real loss L of z = x + iy, ``cr.grad`` gives dL/dx - i dL/dy.
``Tensor.grad`` holds PyTorch's, its conjugate dL/dx + i dL/dy, so the optimizers' ``p -= lr * p.grad`` descends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.primitive import Primitive

RNG = np.random.default_rng(7)
Z = np.array([1.2 + 0.7j, -0.4 + 1.1j, 0.8 - 0.9j])
W = RNG.standard_normal(3)
A = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3)) + 2 * np.eye(3)
B = RNG.standard_normal((3, 2)) + 1j * RNG.standard_normal((3, 2))


def _by_definition(loss: Callable[[np.ndarray], Any], z: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """dL/dx - i dL/dy by central differences along the real and the imaginary direction of each entry."""
    out = np.zeros(z.shape, dtype=np.complex128)
    for k in np.ndindex(z.shape):
        e = np.zeros(z.shape)
        e[k] = h
        d_dx = (float(loss(z + e)) - float(loss(z - e))) / (2 * h)
        d_dy = (float(loss(z + 1j * e)) - float(loss(z - 1j * e))) / (2 * h)
        out[k] = d_dx - 1j * d_dy
    return out


# real losses of a complex vector, each through the functions the issue names
LOSSES: dict[str, Callable[[Any], Any]] = {
    "real": lambda z: (cr.real(z) * W).sum(),
    "imag": lambda z: (cr.imag(z) * W).sum(),
    "conj": lambda z: cr.real(cr.conj(z) * cr.exp(z)).sum(),
    "conjugate": lambda z: cr.imag(cr.conjugate(z) ** 2 * W).sum(),
    "angle": lambda z: (cr.angle(z) * W).sum(),
    "abs": lambda z: (cr.abs(z) * W).sum(),
    "abs_squared": lambda z: (cr.abs(z) ** 2).sum(),
    "exp": lambda z: cr.real(cr.exp(z) * W).sum(),
    "log": lambda z: cr.imag(cr.log(z)).sum() + cr.real(cr.log(z) * W).sum(),
    "sqrt": lambda z: cr.abs(cr.sqrt(z) + 1.0).sum(),
    "power": lambda z: cr.real(cr.power(z, 2.5) + cr.power(1.5 + 0.5j, z)).sum(),
    "sin_cos_tanh": lambda z: cr.real(cr.sin(z) * cr.cos(z) + cr.tanh(z / 3)).sum(),
    "matmul": lambda z: cr.abs(cr.matmul(A, z)).sum(),
    "solve": lambda z: cr.abs(cr.linalg.solve(A, z)).sum(),
    "inv": lambda z: cr.real(cr.linalg.inv(A + cr.outer(z, z) / 4)).sum(),
    "det": lambda z: cr.abs(cr.linalg.det(A + cr.outer(z, z) / 4)),
    "slogdet": lambda z: cr.linalg.slogdet(A + cr.outer(z, z) / 4)[1]
    + cr.angle(cr.linalg.slogdet(A + cr.outer(z, z) / 4)[0]),
    "norm": lambda z: cr.linalg.norm(z) + cr.linalg.norm(cr.outer(z, W)),
    "np_functions": lambda z: np.real(np.conjugate(z) * np.exp(z)).sum() + np.abs(np.angle(z)).sum(),
    "var_std": lambda z: cr.var(z) + cr.std(z * W, ddof=1),
    "vdot": lambda z: cr.imag(cr.vdot(z, cr.exp(z))),
    "sign": lambda z: cr.real(cr.sign(z) * W).sum() + cr.imag(np.sign(z)).sum(),
}


@pytest.mark.parametrize("name", LOSSES)
def test_grad_is_dl_dx_minus_i_dl_dy(name: str) -> None:
    loss = LOSSES[name]
    np.testing.assert_allclose(cr.grad(loss)(Z), _by_definition(loss, Z), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", LOSSES)
def test_tensor_grad_is_pytorch_grad_the_conjugate(name: str) -> None:
    z = cr.tensor(Z, requires_grad=True)
    LOSSES[name](z).backward()
    np.testing.assert_allclose(z.grad.numpy(), np.conj(cr.grad(LOSSES[name])(Z)), rtol=1e-12, atol=1e-12)


TORCH_LOSSES: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "abs_exp_angle": (lambda z: (cr.abs(z * z) ** 1.5 + cr.real(cr.exp(z)) + cr.angle(z) * W).sum(),
                      lambda z: ((z * z).abs() ** 1.5 + torch.exp(z).real + torch.angle(z) * torch.tensor(W)).sum()),
    "conj_imag_log": (lambda z: cr.imag(cr.conj(z) * cr.log(z)).sum(),
                      lambda z: (torch.conj(z) * torch.log(z)).imag.sum()),
    "matmul_solve": (lambda z: cr.abs(cr.linalg.solve(A, cr.matmul(A, z) + 1j)).sum(),
                     lambda z: torch.linalg.solve(torch.tensor(A), torch.tensor(A) @ z + 1j).abs().sum()),
    "sqrt_power_det": (lambda z: cr.abs(cr.linalg.det(A + cr.outer(cr.sqrt(z), z ** 2))),
                       lambda z: torch.linalg.det(torch.tensor(A) + torch.outer(torch.sqrt(z), z ** 2)).abs()),
}


@pytest.mark.parametrize("name", TORCH_LOSSES)
def test_tensor_grad_matches_pytorch(name: str) -> None:
    ours, theirs = TORCH_LOSSES[name]
    z = cr.tensor(Z, requires_grad=True)
    ours(z).backward()
    zt = torch.tensor(Z, requires_grad=True)
    theirs(zt).backward()
    np.testing.assert_allclose(z.grad.numpy(), zt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cr.grad(ours)(Z), np.conj(zt.grad.numpy()), rtol=1e-10, atol=1e-12)


def test_backward_with_a_complex_gradient_and_autograd_grad_follow_pytorch() -> None:
    """backward(gradient=v) and cr.engine.grad (torch.autograd.grad) take and give PyTorch's convention too."""
    v = np.array([1j, 2.0 - 1j, -0.5 + 0.3j])
    z = cr.tensor(Z, requires_grad=True)
    (cr.exp(z) * cr.conj(z)).backward(gradient=v)
    zt = torch.tensor(Z, requires_grad=True)
    (torch.exp(zt) * torch.conj(zt)).backward(gradient=torch.tensor(v))
    np.testing.assert_allclose(z.grad.numpy(), zt.grad.numpy(), rtol=1e-12)
    z2 = cr.tensor(Z, requires_grad=True)
    (g,) = cr.engine.grad(cr.exp(z2) * cr.conj(z2), z2, grad_outputs=v)
    np.testing.assert_allclose(g.numpy(), zt.grad.numpy(), rtol=1e-12)
    (gt,) = torch.autograd.grad((zt.abs() ** 2).sum(), zt)
    (g,) = cr.engine.grad((cr.abs(z2) ** 2).sum(), z2)
    np.testing.assert_allclose(g.numpy(), gt.numpy(), rtol=1e-12)


def test_hooks_and_retain_grad_see_pytorch_convention() -> None:
    seen: dict[str, np.ndarray] = {}

    def keep(name: str) -> Callable[[Any], None]:
        def hook(g: Any) -> None:
            seen[name] = np.array(g.detach().numpy())

        return hook

    z = cr.tensor(Z, requires_grad=True)
    y = cr.exp(z)
    y.retain_grad()
    y.register_hook(keep("ours"))
    z.register_hook(lambda g: g * 2)  # a hook's result replaces the gradient, in the same convention
    cr.abs(y * z).sum().backward()
    zt = torch.tensor(Z, requires_grad=True)
    yt = torch.exp(zt)
    yt.retain_grad()
    yt.register_hook(keep("torch"))
    zt.register_hook(lambda g: g * 2)
    (yt * zt).abs().sum().backward()
    np.testing.assert_allclose(seen["ours"], seen["torch"], rtol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), yt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), zt.grad.numpy(), rtol=1e-12)


def test_gradient_descent_on_a_complex_parameter() -> None:
    """SGD steps along .grad (PyTorch's convention) and descends; so does z - lr * conj(cr.grad)."""
    target = np.array([0.5 - 1.0j, 2.0 + 0.5j])
    z = cr.tensor(np.zeros(2, dtype=np.complex128), requires_grad=True)
    opt = cr.optim.SGD([z], lr=0.1)
    zt = torch.zeros(2, dtype=torch.complex128, requires_grad=True)
    opt_t = torch.optim.SGD([zt], lr=0.1)
    for _ in range(50):
        opt.zero_grad()
        (cr.abs(z - target) ** 2).sum().backward()
        opt.step()
        opt_t.zero_grad()
        ((zt - torch.tensor(target)).abs() ** 2).sum().backward()
        opt_t.step()
    np.testing.assert_allclose(z.numpy(), zt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(z.numpy(), target, atol=1e-4)
    w = np.zeros(2, dtype=np.complex128)
    for _ in range(50):
        w = w - 0.1 * np.conj(cr.grad(lambda v: (cr.abs(v - target) ** 2).sum())(w))
    np.testing.assert_allclose(w, z.numpy(), rtol=1e-12)


# ---- holomorphic functions: grad(holomorphic=True) is f'(z) ---------------------------------------------------
@pytest.mark.parametrize(("f", "derivative"), [
    (cr.exp, np.exp),
    (lambda z: z ** 3, lambda z: 3 * z ** 2),
    (lambda z: cr.sin(z) / (z + 2.0), lambda z: np.cos(z) / (z + 2) - np.sin(z) / (z + 2) ** 2),
], ids=["exp", "cube", "sin_over"])
def test_holomorphic_grad_is_the_complex_derivative(f: Any, derivative: Any) -> None:
    for z in Z:
        assert complex(cr.grad(f, holomorphic=True)(complex(z))) == pytest.approx(complex(derivative(z)), rel=1e-12)
    np.testing.assert_allclose(cr.grad(lambda v: f(v).sum(), holomorphic=True)(Z), derivative(Z), rtol=1e-12)


def test_holomorphic_grad_of_a_matrix_product() -> None:
    """d/dz sum(A @ z) = the column sums of A; d/dB sum(A @ B) likewise, with the complex A unconjugated."""
    np.testing.assert_allclose(cr.grad(lambda z: cr.matmul(A, z).sum(), holomorphic=True)(Z), A.sum(axis=0))
    np.testing.assert_allclose(cr.grad(lambda b: cr.matmul(A, b).sum(), holomorphic=True)(B),
                               np.broadcast_to(A.sum(axis=0)[:, None], B.shape))


def test_holomorphic_jacobians_in_both_modes() -> None:
    def f(z: Any) -> Any:
        return cr.matmul(A, cr.exp(z))

    expected = A * np.exp(Z)  # d(A e^z)_i / dz_j = A_ij e^(z_j)
    np.testing.assert_allclose(cr.jacobian(f, holomorphic=True)(Z), expected, rtol=1e-12)
    np.testing.assert_allclose(cr.jacfwd(f, holomorphic=True)(Z), expected, rtol=1e-12)
    with pytest.raises(TypeError, match="jacobian needs a real-valued output"):
        cr.jacobian(f)(Z)
    with pytest.raises(TypeError, match="jacfwd needs real inputs"):
        cr.jacfwd(f)(Z)
    with pytest.raises(TypeError, match="jacfwd needs real inputs"):
        cr.hessian(lambda z: cr.abs(z).sum())(Z)
    # a real input with a complex output: forward mode gives the columns d f / d x
    np.testing.assert_allclose(cr.jacfwd(lambda x: cr.exp(1j * x))(W), np.diag(1j * np.exp(1j * W)), rtol=1e-12)


def test_holomorphic_jvp_is_the_derivative_times_the_tangent() -> None:
    t = np.array([1.0, 1j, -0.5 + 2j])
    _, tangent = cr.jvp(lambda z: z ** 3, (Z,), (t,))
    np.testing.assert_allclose(tangent, 3 * Z ** 2 * t, rtol=1e-12)


# ---- refusals ------------------------------------------------------------------------------------------------
def test_grad_of_a_complex_output_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"grad needs a real-valued output, got dtype complex128.*holomorphic=True"):
        cr.grad(lambda z: cr.exp(z).sum())(Z)
    with pytest.raises(TypeError, match="holomorphic=True\\) needs complex inputs"):
        cr.grad(lambda x: x.sum(), holomorphic=True)(np.ones(2))
    with pytest.raises(TypeError, match="needs complex inputs and a complex output"):
        cr.grad(lambda z: cr.abs(z).sum(), holomorphic=True)(Z)


def test_backward_of_a_complex_output_is_refused() -> None:
    z = cr.tensor(Z, requires_grad=True)
    with pytest.raises(RuntimeError, match="backward\\(\\) needs a real output, got dtype complex128"):
        (z * 2).sum().backward()
    (z * 2).backward(gradient=np.ones(3, dtype=np.complex128))  # an explicit cotangent is a VJP: allowed
    np.testing.assert_allclose(z.grad.numpy(), np.full(3, 2.0))


@pytest.mark.parametrize("op", [
    lambda z: z < 1.0, lambda z: z >= z, cr.max, cr.min, lambda z: cr.maximum(z, 0.0), lambda z: cr.minimum(z, z),
    lambda z: cr.clip(z, 0.0, 1.0), lambda z: np.less(z, 1.0),
], ids=["less", "greater_equal", "max", "min", "maximum", "minimum", "clip", "np.less"])
def test_orderings_refuse_complex_numbers(op: Any) -> None:
    with pytest.raises(TypeError, match="complex numbers have no order; compare their real parts"):
        op(cr.tensor(Z))


def test_a_complex_gradient_for_a_real_tensor_is_refused() -> None:
    x = cr.tensor(W, requires_grad=True)
    with pytest.raises(TypeError, match="complex only for a complex tensor"):
        x.grad = W + 1j
    z = cr.tensor(Z, requires_grad=True)
    z.grad = Z
    np.testing.assert_array_equal(z.grad.numpy(), Z)


def test_casting_complex_to_real_is_refused() -> None:
    with pytest.raises(TypeError, match="astype: casting complex values to float64 would drop"):
        cr.tensor(Z).astype(np.float64)


@pytest.mark.parametrize("f", [cr.linalg.cholesky, cr.linalg.eigh, cr.linalg.eigvalsh, cr.linalg.svd,
                               cr.linalg.svdvals, cr.linalg.qr, cr.linalg.pinv, lambda a: cr.linalg.norm(a, 2)],
                         ids=["cholesky", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv", "norm2"])
def test_linalg_without_complex_rules_refuses_by_name(f: Any) -> None:
    with pytest.raises(TypeError, match="of complex matrices is not supported"):
        f(cr.tensor(A @ A.conj().T))


# ---- dtypes, values, dispatch ----------------------------------------------------------------------------------
def test_complex64_and_float32_stay_single_precision() -> None:
    x = cr.tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    z = cr.tensor(Z[:2].astype(np.complex64), requires_grad=True)
    y = x * z + cr.exp(z)
    assert y.dtype == np.complex64
    cr.abs(y).sum().backward()
    assert x.grad.dtype == np.float32 and z.grad.dtype == np.complex64
    assert cr.real(z).dtype == np.float32 and cr.abs(z).dtype == np.float32
    assert cr.grad(lambda v: cr.abs(v).sum())(z.detach()).dtype == np.complex64


def test_a_real_input_takes_the_real_part_of_its_cotangent() -> None:
    """d/dx |x z|^2 for real x: the engine keeps the real part, once, where it meets the real input."""
    x = np.array([0.5, -1.5, 2.0])
    g = cr.grad(lambda v: (cr.abs(v * Z) ** 2).sum())(x)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, 2 * x * np.abs(Z) ** 2)
    x_t = cr.tensor(x, requires_grad=True)
    (cr.abs(x_t.astype(np.complex128) * 1j) ** 2).sum().backward()
    np.testing.assert_allclose(x_t.grad.numpy(), 2 * x)


def test_tensor_real_imag_conj_and_real_if_close() -> None:
    t = cr.tensor(Z, requires_grad=True)
    np.testing.assert_array_equal(t.real.numpy(), Z.real)
    np.testing.assert_array_equal(t.imag.numpy(), Z.imag)
    np.testing.assert_array_equal(t.conj().numpy(), Z.conj())
    np.testing.assert_array_equal(cr.tensor(W).imag.numpy(), np.zeros(3))
    for a in (np.array([1.0 + 1e-15j, 2.0]), np.array([1.0 + 1e-10j, 2.0]), np.array([1.0 + 1e-10j]), W):
        for tol in (100, 1e-9):
            expected = np.real_if_close(a, tol=tol)
            got = cr.real_if_close(cr.tensor(a), tol=tol)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got.numpy(), expected)
    g = cr.grad(lambda v: (cr.real_if_close(v * 1) * W).sum())(np.array([1.0 + 0j, 2.0, 3.0]))
    np.testing.assert_array_equal(g, W.astype(np.complex128))


def test_complex_values_of_var_std_vdot_and_sign_match_numpy() -> None:
    t = cr.tensor(Z)
    for ours, theirs in ((cr.var(t), np.var(Z)), (cr.std(t, ddof=1), np.std(Z, ddof=1)),
                         (cr.vdot(t, Z[::-1]), np.vdot(Z, Z[::-1])), (cr.sign(t), np.sign(Z))):
        assert ours.dtype == np.asarray(theirs).dtype
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-14)


def test_numpy_conjugate_on_a_tensor_is_the_conjugate() -> None:
    t = cr.tensor(Z, requires_grad=True)
    for f in (np.conjugate, np.conj):
        assert f(t)._node.prim is cr.conjugate  # no longer the identity it was for real tensors alone
        np.testing.assert_array_equal(f(t).numpy(), np.conj(Z))
    np.testing.assert_allclose(cr.grad(lambda v: np.imag(np.conjugate(v) * W).sum())(Z), 1j * W)


# ---- gradcheck on complex values ---------------------------------------------------------------------------------
def test_gradcheck_on_complex_inputs_and_outputs() -> None:
    assert cr.gradcheck(lambda z, b: cr.matmul(cr.exp(z), b), A[:2], B)
    assert cr.gradcheck(lambda x, z: cr.abs(x * z) + cr.angle(z), W, Z)
    assert cr.gradcheck(lambda z: cr.linalg.solve(A, z), Z, order=2)
    assert cr.gradcheck(lambda z, x: z.conj() * x.exp(), Z, W)  # inputs arrive as tensors: methods work


def test_gradcheck_catches_a_conjugated_rule() -> None:
    """A VJP written as the Hermitian adjoint (g * conj(f'(z))) is the classic complex bug: gradcheck sees it."""
    wrong = Primitive("wrong_exp", np.exp, vjp=lambda g, ans, x: g * np.conj(ans), jvp=lambda t, ans, x: t * ans,
                      register=False)
    assert cr.gradcheck(wrong, Z, order=1, modes=("fwd",))
    with pytest.raises(cr.GradcheckError, match=r"f \(complex values as \(real, imaginary\) pairs.*reverse mode"):
        cr.gradcheck(wrong, Z, order=1, modes=("rev",))


# ---- eig and eigvals ---------------------------------------------------------------------------------------------
REAL_SPREAD = np.array([[2.0, 0.3, -0.5], [0.1, -1.0, 0.4], [0.6, 0.2, 0.5]])
ROTATION = np.array([[0.5, -2.0, 0.1], [2.0, 0.7, 0.0], [0.3, 0.0, -1.5]])  # a complex pair and a real eigenvalue
EIG_INPUTS = {"real eigenvalues": REAL_SPREAD, "a complex pair": ROTATION, "complex": A}
WV = RNG.standard_normal((3, 3))


def _phase_free_loss(w: Any, v: Any) -> Any:
    """A real loss of eigenvalues and eigenvectors that no eigenvector's phase changes."""
    return (cr.real(w * np.array([0.3, -0.7, 1.1])) + cr.imag(w) ** 2).sum() + (cr.abs(v) ** 2 * WV).sum()


@pytest.mark.parametrize("name", EIG_INPUTS)
def test_eig_values_and_vectors(name: str) -> None:
    a = EIG_INPUTS[name]
    w, v = cr.linalg.eig(cr.tensor(a))
    assert w.dtype == np.complex128 and v.dtype == np.complex128
    np.testing.assert_allclose(a @ v.numpy(), v.numpy() * w.numpy(), atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(v.numpy(), axis=0), 1.0)
    np.testing.assert_allclose(np.sort_complex(w.numpy()), np.sort_complex(np.linalg.eigvals(a).astype(complex)))
    np.testing.assert_array_equal(cr.linalg.eigvals(cr.tensor(a)).numpy(), w.numpy())
    big = np.abs(v.numpy()).argmax(axis=0)
    top = v.numpy()[big, range(3)]
    np.testing.assert_allclose(top.imag, 0.0, atol=1e-15)
    assert (top.real > 0).all()
    # NumPy's vectors are the same up to each column's phase
    w_np, v_np = np.linalg.eig(a)
    order = [int(np.argmin(np.abs(w_np - x))) for x in w.numpy()]
    np.testing.assert_allclose(np.abs(np.sum(np.conj(v_np[:, order]) * v.numpy(), axis=0)), 1.0)
    w_t, v_t = np.linalg.eig(cr.tensor(a))  # NumPy's name on a tensor: chainrule's eig
    np.testing.assert_array_equal(w_t.numpy(), w.numpy())
    np.testing.assert_array_equal(v_t.numpy(), v.numpy())


@pytest.mark.parametrize("name", EIG_INPUTS)
def test_eig_gradients(name: str) -> None:
    a = EIG_INPUTS[name]
    assert cr.gradcheck(lambda x: _phase_free_loss(*cr.linalg.eig(x)), a, order=2)
    assert cr.gradcheck(lambda x: cr.linalg.eig(x)[1], a, order=1)  # the phase fixed: a function of A
    assert cr.gradcheck(cr.linalg.eigvals, a, order=1)


@pytest.mark.parametrize("name", EIG_INPUTS)
def test_eig_gradients_match_pytorch(name: str) -> None:
    a = EIG_INPUTS[name]
    x = cr.tensor(a, requires_grad=True)
    _phase_free_loss(*cr.linalg.eig(x)).backward()
    xt = torch.tensor(a, requires_grad=True)
    w_t, v_t = torch.linalg.eig(xt)
    w_ours = np.asarray(cr.linalg.eigvals(a))
    order = [int(np.argmin(np.abs(w_t.detach().numpy() - x_))) for x_ in w_ours]  # torch's order may differ
    w_t, v_t = w_t[order], v_t[:, order]
    loss = ((w_t * torch.tensor([0.3, -0.7, 1.1])).real + w_t.imag ** 2).sum()
    loss = loss + (v_t.abs() ** 2 * torch.tensor(WV)).sum()
    loss.backward()
    # PyTorch's gradient is 2e-8 off central differences here (chainrule's 1e-10): the tolerance is PyTorch's
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_eig_batches_and_single_precision() -> None:
    a = np.stack([REAL_SPREAD, ROTATION]).astype(np.float32)
    w, v = cr.linalg.eig(cr.tensor(a))
    assert w.dtype == np.complex64 and v.shape == (2, 3, 3)
    np.testing.assert_allclose(a @ v.numpy(), v.numpy() * w.numpy()[:, None, :], atol=1e-5)
    assert cr.grad(lambda x: _phase_free_loss(*cr.linalg.eig(x[0])))(a).dtype == np.float32


def test_orderings_and_squaring_optimizers_refuse_complex_by_name() -> None:
    z = cr.tensor(np.array([1 + 2j, 3 - 1j]), requires_grad=True)
    for call, name in ((lambda: cr.sort(z), "sort"), (lambda: cr.topk(z, 1), "topk"), (lambda: z.sort(), "topk"),
                       (lambda: cr.argsort(z), "argsort"), (lambda: cr.partition(z, 0), "partition")):
        with pytest.raises(TypeError, match=rf"^{name}: complex numbers have no order"):
            call()
    for optimizer in (cr.optim.Adam, cr.optim.AdamW, cr.optim.RMSprop, cr.optim.Adagrad, cr.optim.LBFGS):
        with pytest.raises(TypeError, match=rf"^{optimizer.__name__} on a complex parameter"):
            optimizer([z])
    cr.optim.SGD([z], lr=0.1)  # linear in the gradient: right as it is
