"""cr.scipy.integrate: odeint and solve_ivp, their adjoint-method gradients against finite differences and against
differentiating a fixed-step RK4 written with chainrule's functions step by step. Tolerances are the solvers':
rtol = atol = 1e-10 for the adjoint solves, so gradients agree to about 1e-6."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
import scipy.integrate

import chainrule as cr
from chainrule import backend
from stand_in_gpu import provider

TOL = {"rtol": 1e-10, "atol": 1e-10}
T = np.array([0.0, 0.4, 1.0, 1.5])
Y0 = np.array([1.0, 0.2])
THETA = np.array([0.3, 1.7])  # damping, stiffness


def oscillator(y, t, theta):
    """A damped oscillator with a time-dependent force, so the t gradient sees an explicit time dependence."""
    return cr.stack([y[1], -theta[1] * y[0] - theta[0] * y[1] + 0.5 * cr.sin(2.0 * t)])


def rk4(func, y0, t, *args, steps=200):
    """A fixed-step RK4 written with chainrule's functions: differentiated through its steps, the reference."""
    out, y = [y0], y0
    for a, b in itertools.pairwise(t):
        h = (b - a) / steps
        s = a
        for _ in range(steps):
            k1 = func(y, s, *args)
            k2 = func(y + h / 2 * k1, s + h / 2, *args)
            k3 = func(y + h / 2 * k2, s + h / 2, *args)
            k4 = func(y + h * k3, s + h, *args)
            y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            s = s + h
        out.append(y)
    return cr.stack(out)


def loss_odeint(y0, t, theta):
    ys = cr.scipy.integrate.odeint(oscillator, y0, t, theta, **TOL)
    return (ys * np.arange(1.0, 9.0).reshape(4, 2)).sum()  # every output time and component weighed


def loss_rk4(y0, t, theta):
    return (rk4(oscillator, y0, t, theta) * np.arange(1.0, 9.0).reshape(4, 2)).sum()


def test_odeint_values_are_scipys():
    ys = cr.scipy.integrate.odeint(oscillator, Y0, T, THETA, **TOL)
    ref = scipy.integrate.odeint(lambda y, t: np.asarray(oscillator(y, t, THETA)), Y0, T, **TOL)
    assert ys.shape == (4, 2) and np.allclose(ys, ref, rtol=0, atol=1e-12)
    assert np.allclose(cr.scipy.integrate.odeint(oscillator, Y0, T, args=(THETA,), **TOL), ys, rtol=0, atol=0)


def test_odeint_gradient_matches_differentiating_rk4_steps():
    ours = cr.grad(loss_odeint, argnums=(0, 1, 2))(Y0, T, THETA)
    steps = cr.grad(loss_rk4, argnums=(0, 1, 2))(Y0, T, THETA)
    for a, b in zip(ours, steps):
        assert np.allclose(a, b, rtol=1e-6, atol=1e-7), (a, b)


def test_odeint_gradcheck_finite_differences():
    assert cr.gradcheck(loss_odeint, Y0, T, THETA, order=1, modes=("rev",), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_odeint_jacobian_and_pytree_args():
    def force(y, t, p):
        return -p["k"] * y + p["c"][0]

    t = np.array([0.0, 0.5, 2.0])
    jac = cr.jacobian(lambda k: cr.scipy.integrate.odeint(force, np.array([1.0]), t, {"k": k, "c": [0.2]},
                                                          **TOL)[:, 0])(0.7)
    # y = c/k + (1 - c/k) exp(-k t); dy/dk by hand
    k, c = 0.7, 0.2
    exact = -c / k ** 2 + c / k ** 2 * np.exp(-k * t) - (1 - c / k) * t * np.exp(-k * t)
    assert np.allclose(jac, exact, atol=1e-8)
    g = cr.grad(lambda p: cr.scipy.integrate.odeint(force, np.array([1.0]), t, p, **TOL)[-1, 0])(
        {"k": 0.7, "c": [0.2]})
    assert np.isclose(g["k"], exact[-1], atol=1e-8)
    assert np.isclose(g["c"][0], (1 - np.exp(-k * 2.0)) / k, atol=1e-8)


def test_odeint_backward_and_integer_args():
    y0 = cr.tensor(Y0, requires_grad=True)
    ys = cr.scipy.integrate.odeint(lambda y, t, theta, n: oscillator(y, t, theta) * n, y0, T, THETA, 1, **TOL)
    ys.sum().backward()
    ref = cr.grad(lambda y: rk4(oscillator, y, T, THETA).sum())(Y0)
    assert np.allclose(y0.grad, ref, rtol=1e-6)


def loss_ivp(y0, t_eval, theta, method):
    sol = cr.scipy.integrate.solve_ivp(lambda t, y, th: oscillator(y, t, th), (0.0, 2.0), y0, method=method,
                                       t_eval=t_eval, args=(theta,), **TOL)
    return (sol.y * np.array([[1.0], [-2.0]])).sum()


@pytest.mark.parametrize("method", ["RK45", "DOP853", "LSODA"])
def test_solve_ivp_gradient_matches_rk4_steps(method):
    t_eval = T[1:]
    ours = cr.grad(loss_ivp, argnums=(0, 1, 2))(Y0, t_eval, THETA, method)
    steps = cr.grad(lambda y0, te, th: (rk4(oscillator, y0, cr.concatenate([np.zeros(1), te]), th)[1:].T *
                                        np.array([[1.0], [-2.0]])).sum(), argnums=(0, 1, 2))(Y0, t_eval, THETA)
    for a, b in zip(ours, steps):
        assert np.allclose(a, b, rtol=1e-5, atol=1e-6), (method, a, b)


def test_solve_ivp_result_and_start_time():
    sol = cr.scipy.integrate.solve_ivp(lambda t, y, th: oscillator(y, t, th), (0.0, 2.0), Y0, t_eval=T[1:],
                                       args=(THETA,), **TOL)
    ref = scipy.integrate.solve_ivp(lambda t, y: np.asarray(oscillator(y, t, THETA)), (0.0, 2.0), Y0, t_eval=T[1:],
                                    **TOL)
    assert sol.success and sol.y.shape == (2, 3) and np.allclose(sol.t, T[1:]) and sol.nfev > 0
    assert np.allclose(sol.y, ref.y, atol=1e-9)
    # the start time: moving t0 shifts the whole solution
    final = lambda t0: cr.scipy.integrate.solve_ivp(
        lambda t, y: oscillator(y, t, THETA), (t0, 2.0), Y0, t_eval=[1.5], **TOL).y[0, 0]
    assert cr.gradcheck(final, 0.1, order=1, modes=("rev",), eps=1e-6, atol=1e-6, rtol=1e-5)
    # t_eval may start at t0 (its value there is y0)
    from_start = cr.grad(lambda y0: cr.scipy.integrate.solve_ivp(lambda t, y: oscillator(y, t, THETA), (0.0, 2.0),
                                                                 y0, t_eval=T, **TOL).y.sum())(Y0)
    assert np.allclose(from_start, cr.grad(lambda y0: rk4(oscillator, y0, T, THETA).sum())(Y0), rtol=1e-6)
    # without t_eval, the solver's own steps are the (fixed) output times
    steps = cr.scipy.integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), np.array([1.0]), rtol=1e-8, atol=1e-10)
    assert np.allclose(steps.y[0], np.exp(-steps.t), atol=1e-7)
    g = cr.grad(lambda y0: cr.scipy.integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), y0, rtol=1e-8,
                                                        atol=1e-10).y[0, -1])(np.array([2.0]))
    assert np.allclose(g, np.exp(-1.0), atol=1e-6)


def test_memory_does_not_grow_with_the_steps():
    def peak(max_step):
        def final(k):
            sol = cr.scipy.integrate.solve_ivp(lambda t, y, k: cr.stack([y[1], -k * y[0]]), (0.0, 5.0), Y0,
                                               t_eval=[5.0], args=(k,), max_step=max_step)
            return sol.y.sum()

        tracemalloc.start()
        try:
            cr.grad(final)(2.0)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    peak(0.05)  # warm caches first
    few, many = peak(0.05), peak(0.005)  # about 100 and 1000 forward steps
    assert many < 2 * few, (few, many)


def test_vmap_of_solutions_and_its_gradient():
    f = lambda y, t, k: -k * y
    t = np.array([0.0, 1.0])
    ys = cr.vmap(lambda y0: cr.scipy.integrate.odeint(f, y0, t, 0.5))(np.ones((3, 2)))
    assert ys.shape == (3, 2, 2) and np.allclose(ys[:, -1], np.exp(-0.5))
    g = cr.grad(lambda y: cr.vmap(lambda y0: cr.scipy.integrate.odeint(f, y0, t, 0.5))(y)[:, -1].sum())(
        np.ones((3, 2)))
    assert np.allclose(g, np.exp(-0.5), atol=1e-6)
    with pytest.raises(TypeError, match="under vmap"):
        cr.vmap(cr.grad(lambda y0: cr.scipy.integrate.odeint(f, y0, t, 0.5).sum()))(np.ones((3, 2)))


def test_refusals():
    f = lambda y, t: -y
    with pytest.raises(TypeError, match="forward mode"):
        cr.jvp(lambda y0: cr.scipy.integrate.odeint(f, y0, T), (Y0,), (Y0,))
    with pytest.raises(TypeError, match="adjoint method"):
        cr.hessian(lambda y0: cr.scipy.integrate.odeint(f, y0, T).sum())(Y0)
    with pytest.raises(TypeError, match="adjoint method"):
        cr.grad(cr.grad(lambda y0: cr.scipy.integrate.odeint(f, y0, T).sum()))(Y0[0])
    with pytest.raises(ValueError, match="1-D"):
        cr.scipy.integrate.odeint(f, np.ones((2, 2)), T)
    with pytest.raises(ValueError, match="monotonic"):
        cr.scipy.integrate.odeint(f, Y0, np.array([0.0, 1.0, 0.5]))
    with pytest.raises(ValueError, match="shape"):
        cr.scipy.integrate.odeint(lambda y, t: y[:1], Y0, T)
    with pytest.raises(TypeError, match="not both"):
        cr.scipy.integrate.odeint(oscillator, Y0, T, THETA, args=(THETA,))
    with pytest.raises(TypeError, match="does not take"):
        cr.scipy.integrate.odeint(f, Y0, T, tfirst=True)
    with pytest.raises(ValueError, match="within t_span"):
        cr.scipy.integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), Y0, t_eval=[0.5, 2.0])
    with pytest.raises(ValueError, match="dense_output"):
        cr.scipy.integrate.solve_ivp(lambda t, y: -y, (0.0, 1.0), Y0, dense_output=True)


def test_on_the_stand_in_gpu():
    """SciPy solves on the host; the solution and the gradients come back on the inputs' device."""
    expected = cr.grad(loss_odeint, argnums=(0, 2))(Y0, T, THETA)
    with backend.use_provider(provider):
        y0 = cr.tensor(Y0, device="cuda", requires_grad=True)
        theta = cr.tensor(THETA, device="cuda", requires_grad=True)
        ys = cr.scipy.integrate.odeint(oscillator, y0, cr.tensor(T, device="cuda"), theta, **TOL)
        (ys * cr.tensor(np.arange(1.0, 9.0).reshape(4, 2), device="cuda")).sum().backward()
        assert ys.device == "cuda:0" and y0.grad.device == "cuda:0" and theta.grad.device == "cuda:0"
        np.testing.assert_allclose(y0.grad.cpu().numpy(), expected[0], rtol=1e-10)
        np.testing.assert_allclose(theta.grad.cpu().numpy(), expected[1], rtol=1e-10)
