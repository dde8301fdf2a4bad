"""Tensor behaviour: creation, properties, NumPy interop, operators, and in-place updates with their version checks."""

from __future__ import annotations

import operator
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr


def _grad(t: cr.Tensor) -> np.ndarray[Any, Any]:
    """``t.grad`` as an array, asserting that backward set it."""
    assert t.grad is not None, "backward() left .grad unset"
    return t.grad.data


# ---- creation ----------------------------------------------------------------------------------------------------


def test_python_floats_become_float64() -> None:
    assert cr.tensor(1.5).dtype == np.float64
    assert cr.tensor([0.5, -1.0]).dtype == np.float64
    assert cr.tensor([[1.0, 2.0], [3.0, 4.0]]).shape == (2, 2)


def test_python_ints_and_bools_keep_their_kind() -> None:
    assert cr.tensor([1, 2]).dtype.kind == "i"
    assert cr.tensor(True).dtype == np.bool_


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_])
def test_ndarray_dtypes_are_kept(dtype: Any) -> None:
    a = np.zeros(3, dtype=dtype)
    assert cr.tensor(a).dtype == dtype
    assert cr.tensor(np.float32(2.0)).dtype == np.float32


def test_dtype_argument_converts() -> None:
    t = cr.tensor([1, 2], dtype=np.float32)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, [1.0, 2.0])


def test_tensor_copies_its_data() -> None:
    a = np.array([1.0, 2.0])
    t = cr.tensor(a)
    a[0] = 100.0
    assert t.data[0] == 1.0


def test_tensor_of_a_tensor_is_a_new_leaf() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.tensor(x * 2)
    assert y.is_leaf and not y.requires_grad
    np.testing.assert_array_equal(y.data, [2.0, 4.0])


@pytest.mark.parametrize("data", [[1, 2], np.array([1, 2], dtype=np.int32), [True, False]])
def test_requires_grad_on_integer_or_bool_is_a_type_error_naming_the_dtype(data: Any) -> None:
    dtype = np.asarray(data).dtype
    with pytest.raises(TypeError, match=str(dtype)):
        cr.tensor(data, requires_grad=True)


def test_requires_grad_on_integer_creation_functions_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="int32"):
        cr.zeros(2, dtype=np.int32, requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        cr.arange(3, requires_grad=True)
    with pytest.raises(TypeError, match="int64"):
        cr.tensor([1, 2]).requires_grad_()


def test_zeros_ones_full() -> None:
    for z in (cr.zeros(2, 3), cr.zeros((2, 3))):
        assert z.shape == (2, 3) and z.dtype == np.float64 and not z.data.any()
    o = cr.ones(4, dtype=np.float32)
    assert o.dtype == np.float32 and o.data.sum() == 4
    f = cr.full((2,), 7.0)
    np.testing.assert_array_equal(f.data, [7.0, 7.0])
    assert cr.zeros(3, requires_grad=True).requires_grad
    assert cr.zeros(()).shape == ()


def test_like_functions_follow_shape_and_dtype() -> None:
    x = cr.tensor(np.ones((2, 3), dtype=np.float32))
    z = cr.zeros_like(x)
    o = cr.ones_like(x)
    assert z.shape == o.shape == (2, 3)
    assert z.dtype == o.dtype == np.float32
    assert not z.data.any() and o.data.all()
    assert cr.zeros_like(np.ones(2)).dtype == np.float64
    assert cr.ones_like(x, dtype=np.float64).dtype == np.float64


def test_ranges_and_identity() -> None:
    np.testing.assert_array_equal(cr.arange(3).data, [0, 1, 2])
    np.testing.assert_allclose(cr.arange(0.0, 1.0, 0.25).data, [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(cr.linspace(0, 1, 5).data, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(cr.eye(3).data, np.eye(3))
    np.testing.assert_array_equal(cr.eye(2, 3, k=1).data, np.eye(2, 3, k=1))
    assert cr.linspace(0, 1, 3, requires_grad=True).requires_grad


def test_created_tensors_are_leaves() -> None:
    for t in (cr.zeros(2), cr.ones(2), cr.full(2, 1.0), cr.arange(2.0), cr.eye(2), cr.randn(2), cr.rand(2)):
        assert t.is_leaf and t.grad is None and not t.requires_grad


def test_same_seed_same_numbers() -> None:
    cr.random.seed(123)
    a, b, c = cr.randn(2, 3), cr.rand(4), cr.randint(0, 10, size=(5,))
    cr.random.seed(123)
    a2, b2, c2 = cr.randn(2, 3), cr.rand(4), cr.randint(0, 10, size=(5,))
    np.testing.assert_array_equal(a.data, a2.data)
    np.testing.assert_array_equal(b.data, b2.data)
    np.testing.assert_array_equal(c.data, c2.data)
    cr.random.seed(124)
    assert not np.array_equal(cr.randn(2, 3).data, a.data)


def test_random_shapes_ranges_and_dtypes() -> None:
    cr.random.seed(0)
    assert cr.randn(2, 3).shape == (2, 3) and cr.randn((2, 3)).shape == (2, 3)
    assert cr.randn(3).dtype == np.float64
    assert cr.randn(3, dtype=np.float32).dtype == np.float32
    u = cr.rand(1000)
    assert u.data.min() >= 0.0 and u.data.max() < 1.0
    i = cr.randint(2, 5, size=(1000,))
    assert i.dtype.kind == "i" and i.data.min() >= 2 and i.data.max() < 5
    assert cr.randn(2, requires_grad=True).requires_grad


# ---- properties and interop --------------------------------------------------------------------------------------


def test_basic_properties() -> None:
    t = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(t.data, np.ndarray)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.dtype == np.float64
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.data, t.data.T)
    assert t.grad is None and not t.requires_grad and t.is_leaf
    assert len(t) == 2


def test_numpy_shares_memory_and_asarray_works() -> None:
    t = cr.tensor([1.0, 2.0])
    assert t.numpy() is t.data
    a = np.asarray(t)
    assert isinstance(a, np.ndarray)
    np.testing.assert_array_equal(a, [1.0, 2.0])
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert np.array(t).dtype == np.float64


def test_item_float_int() -> None:
    t = cr.tensor(2.5)
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert float(t) == 2.5
    assert int(cr.tensor(3)) == 3
    assert cr.tensor([4.0]).item() == 4.0
    assert cr.tensor([1, 2]).tolist() == [1, 2]


def test_len_and_iteration() -> None:
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, cr.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[1].data, [3.0, 4.0])
    # the rows stay in the graph
    (rows[0].sum() + 2 * rows[2].sum()).backward()
    np.testing.assert_array_equal(_grad(x), [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]])


def test_len_and_iteration_of_0d_are_type_errors() -> None:
    with pytest.raises(TypeError):
        len(cr.tensor(1.0))
    with pytest.raises(TypeError):
        iter(cr.tensor(1.0))


def test_repr_is_readable() -> None:
    assert repr(cr.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(cr.tensor(3.0)) == "tensor(3.)"
    assert "requires_grad=True" in repr(cr.tensor([1.0], requires_grad=True))
    assert "dtype=float32" in repr(cr.tensor([1.0], dtype=np.float32))
    y = cr.tensor([1.0], requires_grad=True) * 2
    assert repr(y).startswith("tensor([2.]") and "grad_fn=<multiply>" in repr(y)
    assert "requires_grad" not in repr(cr.tensor([1.0]))


def test_is_leaf() -> None:
    x = cr.tensor([1.0], requires_grad=True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf and y.requires_grad
    with cr.no_grad():
        z = x * 2
    assert z.is_leaf and not z.requires_grad
    c = cr.tensor([1.0]) * 2  # nothing requires grad: no graph
    assert c.is_leaf and not c.requires_grad


def test_T_is_differentiable() -> None:
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    w = cr.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
    (x.T * w).sum().backward()
    np.testing.assert_array_equal(_grad(x), w.data.T)


# ---- operators ---------------------------------------------------------------------------------------------------

A = np.array([[0.5, -1.5, 2.0], [1.25, 3.0, -0.75]])
B = np.array([1.5, 0.5, -2.5])

BINARY: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("+", operator.add),
    ("-", operator.sub),
    ("*", operator.mul),
    ("/", operator.truediv),
    ("//", operator.floordiv),
    ("%", operator.mod),
]


@pytest.mark.parametrize(("name", "op"), BINARY, ids=[n for n, _ in BINARY])
def test_binary_operators_match_numpy_in_every_combination(name: str, op: Callable[[Any, Any], Any]) -> None:
    expected = op(A, B)
    for left, right in ((cr.tensor(A), cr.tensor(B)), (cr.tensor(A), B), (A, cr.tensor(B))):
        got = op(left, right)
        assert isinstance(got, cr.Tensor), f"{type(left).__name__} {name} {type(right).__name__}"
        np.testing.assert_allclose(got.data, expected)
    # Python scalars on either side
    for got, want in ((op(cr.tensor(A), 2.0), op(A, 2.0)), (op(2.0, cr.tensor(B)), op(2.0, B))):
        assert isinstance(got, cr.Tensor)
        np.testing.assert_allclose(got.data, want)
    # a NumPy scalar on the left defers to the Tensor too
    got = op(np.float64(2.0), cr.tensor(B))
    assert isinstance(got, cr.Tensor)
    np.testing.assert_allclose(got.data, op(2.0, B))


def _outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call gives: its result (as an array) or its exception's type, and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value: Any = fn()
        except (OverflowError, TypeError, ValueError) as error:
            value = type(error)
    value = value.data if isinstance(value, cr.Tensor) else value
    return value, [(w.category, str(w.message)) for w in caught]


NUMBERS = [0.9, 3, -2, 0.0, -0.0, 1.0, float("nan"), float("inf"), -1e300, 1e-320, 10**30, 10**400, True]


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int64", "int8", "bool", "complex128"])
def test_python_numbers_in_arithmetic_give_numpys_bits_and_warnings(dtype: str) -> None:
    # the arithmetic operators take a Python number as a 0-d array of the tensor's dtype (faster in NumPy): the
    # same bits, dtype, warnings and errors as NumPy's own weak number, on either side, in the gradient too
    # a 0-d float tensor takes NumPy's scalar arithmetic instead (also its bits), whose warnings name the operation
    # as "scalar multiply" where the ufunc's say "multiply"
    values = np.array([1.5, -0.25, 0.0, 3.0]).astype(dtype)
    if dtype != "bool":  # and the largest number of the dtype, which overflows
        info = np.iinfo(dtype) if values.dtype.kind == "i" else np.finfo(dtype)
        values = np.append(values, values.dtype.type(info.max))
    for a in (values, *values):
        a = np.asarray(a)
        for name, op in BINARY[:4]:
            for number in NUMBERS:
                for left in (True, False):
                    def mine() -> Any:
                        return op(cr.tensor(a), number) if left else op(number, cr.tensor(a))

                    def numpys() -> Any:
                        return op(a, number) if left else op(number, a)

                    got, want = _outcome(mine), _outcome(numpys)
                    where = f"{dtype} {a!r} {name} {number!r} ({'left' if left else 'right'})"
                    assert [(c, m.replace("in scalar ", "in ")) for c, m in got[1]] == want[1], where
                    if isinstance(want[0], type):
                        assert got[0] is want[0], where
                    else:
                        assert type(got[0]) is np.ndarray, where
                        assert got[0].dtype == want[0].dtype and got[0].tobytes() == want[0].tobytes(), where
    if values.dtype.kind == "f":
        for a, g in ((values[:4], np.array([0.5, 2.0, -1.0, 3.0], dtype)), (values[0], np.array(-2.0, dtype))):
            x = cr.tensor(a, requires_grad=True)
            (x * 0.9 + 2.5 / (x + 0.1) - 0.3).backward(cr.tensor(g))
            np.testing.assert_array_equal(_grad(x), g * 0.9 - g * ((2.5 / (a + 0.1)) / (a + 0.1)))
            assert _grad(x).dtype == values.dtype


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_0d_chain_gives_the_bits_of_the_same_chain_on_one_value(dtype: str) -> None:
    # 0-d values take NumPy's scalar arithmetic forward: the same
    # numbers as an array of one value, to the second derivative, and every tensor still holds an array
    def chain(x: cr.Tensor) -> cr.Tensor:
        y = x
        for _ in range(5):
            y = cr.tanh(y * 0.9 + 0.1) / 1.5 - 0.2
            assert type(y.data) is np.ndarray
        return cr.sigmoid(0.5 - y) * 2.0

    grads = []
    for shape in ((), (1,)):
        x = cr.tensor(np.full(shape, 0.3, dtype), requires_grad=True)
        (g,) = cr.autograd.grad(chain(x).sum(), x, create_graph=True)
        (gg,) = cr.autograd.grad(g.sum(), x)
        assert type(g.data) is np.ndarray and type(gg.data) is np.ndarray and gg.dtype == dtype
        grads.append((g.data.tobytes(), gg.data.tobytes()))
    assert grads[0] == grads[1]


def test_a_0d_rule_is_given_the_output_array_itself() -> None:
    # a rule is promised the output's array, 0-d too (not the NumPy scalar a ufunc returned): it may write into a
    # copy of it, and an output written through .numpy() reaches the rule as a 1-d output's does
    def rule(g: Any, ans: Any, x: Any) -> Any:
        ones = ans.copy()
        ones[...] = 1.0
        return g * ones * x

    half_square = cr.Primitive("half_square", lambda x: x * x / 2, vjp=rule, jvp=rule, register=False)
    for shape in ((), (1,)):
        x = cr.tensor(np.full(shape, 3.0), requires_grad=True)
        half_square(x).sum().backward()
        assert _grad(x).tolist() == np.full(shape, 3.0).tolist()
        x = cr.tensor(np.full(shape, 0.5), requires_grad=True)
        y = cr.exp(x)
        assert y.grad_fn is not None and y.grad_fn.ans is y.data
        y.numpy()[...] = 100.0
        y.sum().backward()
        assert _grad(x).tolist() == np.full(shape, 100.0).tolist()


def test_a_number_saved_for_the_backward_cannot_be_changed() -> None:
    saved = (cr.tensor([1.0, 2.0], requires_grad=True) * 0.1).grad_fn.raw[1]
    with pytest.raises(ValueError, match="WRITEABLE"):
        saved.flags.writeable = True
    assert (cr.tensor([1.0, 2.0]) * 0.1).data.tolist() == [0.1, 0.2]


def test_a_hook_returning_another_dtype_keeps_the_gradients_dtype() -> None:
    # float32 stays float32: the hook's float64 tensor is cast, as a returned array is, before the rule sees it
    for create_graph in (False, True):
        x = cr.tensor(np.ones(3, np.float32), requires_grad=True)
        y = x / 0.1
        y.register_hook(lambda g: g * np.float64(0.7203244934421581))
        y.sum().backward(create_graph=create_graph)
        g = (np.ones(3, np.float32) * np.float64(0.7203244934421581)).astype(np.float32)
        assert _grad(x).dtype == np.float32
        assert _grad(x).tobytes() == (g / np.float32(0.1)).tobytes()


def test_many_different_numbers_in_arithmetic() -> None:
    a = np.arange(3.0)
    x = cr.tensor(a, requires_grad=True)
    total, expected = x, a
    for k in range(3000):  # more numbers than are kept as arrays at once
        total, expected = total + x * (k / 7), expected + a * (k / 7)
    total.sum().backward()
    assert total.data.tobytes() == expected.tobytes()
    np.testing.assert_allclose(_grad(x), 1 + sum(k / 7 for k in range(3000)), rtol=1e-13)


def test_power_operator() -> None:
    x = np.array([0.5, 1.5, 2.0])
    for got, want in (
        (cr.tensor(x) ** 2, x**2),
        (cr.tensor(x) ** cr.tensor(x), x**x),
        (2.0 ** cr.tensor(x), 2.0**x),
        (x ** cr.tensor(x), x**x),
        (cr.tensor(x) ** x, x**x),
    ):
        assert isinstance(got, cr.Tensor)
        np.testing.assert_allclose(got.data, want)


def test_matmul_operator_with_ndarrays_on_either_side() -> None:
    m = np.arange(6.0).reshape(2, 3)
    v = np.array([1.0, -1.0, 2.0])
    for got in (cr.tensor(m) @ cr.tensor(v), m @ cr.tensor(v), cr.tensor(m) @ v):
        assert isinstance(got, cr.Tensor)
        np.testing.assert_allclose(got.data, m @ v)
    got = v @ cr.tensor(m.T)
    assert isinstance(got, cr.Tensor)
    np.testing.assert_allclose(got.data, v @ m.T)


def test_unary_operators() -> None:
    x = cr.tensor([-1.5, 0.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal((-x).data, [1.5, -0.0, -2.0])
    np.testing.assert_array_equal(abs(x).data, [1.5, 0.0, 2.0])
    np.testing.assert_array_equal(x.abs().data, [1.5, 0.0, 2.0])
    assert (+x) is x or np.array_equal((+x).data, x.data)
    (-x).sum().backward()
    np.testing.assert_array_equal(_grad(x), [-1.0, -1.0, -1.0])


def test_operator_gradients() -> None:
    x = cr.tensor([1.5, -0.5], requires_grad=True)
    y = cr.tensor([2.0, 4.0], requires_grad=True)
    (x * y + x / y - y - x**2 + 3.0 / x + 2.0 ** y).sum().backward()
    xv, yv = x.data, y.data
    np.testing.assert_allclose(_grad(x), yv + 1 / yv - 2 * xv - 3.0 / xv**2)
    np.testing.assert_allclose(_grad(y), xv - xv / yv**2 - 1 + np.log(2.0) * 2.0**yv)


def test_reflected_operator_gradients_with_ndarrays() -> None:
    a = np.array([2.0, 3.0])
    x = cr.tensor([0.5, 4.0], requires_grad=True)
    ((a - x + a * x + a / x).sum() + a @ x).backward()
    np.testing.assert_allclose(_grad(x), -1 + a - a / x.data**2 + a)


def test_mod_passes_the_gradient_and_floordiv_has_none() -> None:
    x = cr.tensor([2.5, 7.25], requires_grad=True)
    (x % 2.0).sum().backward()
    np.testing.assert_array_equal(_grad(x), [1.0, 1.0])
    assert not (x // 2.0).requires_grad


COMPARISONS: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("<", operator.lt),
    ("<=", operator.le),
    (">", operator.gt),
    (">=", operator.ge),
    ("==", operator.eq),
    ("!=", operator.ne),
]


@pytest.mark.parametrize(("name", "op"), COMPARISONS, ids=[n for n, _ in COMPARISONS])
def test_comparisons_return_bool_tensors_without_gradient(name: str, op: Callable[[Any, Any], Any]) -> None:
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([2.0, 2.0, 2.0])
    x = cr.tensor(a, requires_grad=True)
    for got, want in ((op(x, cr.tensor(b)), op(a, b)), (op(x, b), op(a, b)), (op(x, 2.0), op(a, 2.0)),
                      (op(b, x), op(b, a)), (op(2.0, x), op(2.0, a))):
        assert isinstance(got, cr.Tensor)
        assert got.dtype == np.bool_
        assert not got.requires_grad and got.is_leaf
        np.testing.assert_array_equal(got.data, want)


def test_tensors_hash_by_identity() -> None:
    x, y = cr.tensor(1.0), cr.tensor(1.0)
    assert len({x, y}) == 2
    assert {x: 1}[x] == 1


# ---- in-place updates --------------------------------------------------------------------------------------------

INPLACE: list[tuple[str, Callable[[Any, Any], Any], Callable[[Any, Any], Any]]] = [
    ("+=", operator.iadd, operator.add),
    ("-=", operator.isub, operator.sub),
    ("*=", operator.imul, operator.mul),
    ("/=", operator.itruediv, operator.truediv),
]


@pytest.mark.parametrize(("name", "iop", "op"), INPLACE, ids=[n for n, _, _ in INPLACE])
def test_inplace_under_no_grad_keeps_the_object_and_updates_its_data(
    name: str, iop: Callable[[Any, Any], Any], op: Callable[[Any, Any], Any]
) -> None:
    start = np.array([1.0, 2.0, 4.0])
    for other in (2.0, np.array([0.5, 4.0, 2.0]), cr.tensor([0.5, 4.0, 2.0])):
        p = cr.tensor(start, requires_grad=True)
        data = p.data
        with cr.no_grad():
            q = iop(p, other)
        assert q is p
        assert p.data is data, "the update writes into the same array"
        np.testing.assert_allclose(p.data, op(start, np.asarray(other)))
        assert p.requires_grad and p.is_leaf and p.grad is None


def test_inplace_keeps_float32() -> None:
    p = cr.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with cr.no_grad():
        p -= 0.1 * np.ones(3)  # a float64 operand
        p *= 2.0
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.data, 1.8, rtol=1e-6)


def test_optimizer_step_pattern() -> None:
    p = cr.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(3):
        loss = (p * p).sum()
        loss.backward()
        with cr.no_grad():
            p -= 0.25 * _grad(p)
        p.grad = None
    np.testing.assert_allclose(p.data, np.array([1.0, -2.0]) * 0.5**3)
    assert p.is_leaf and p.requires_grad


@pytest.mark.parametrize(("name", "iop", "op"), INPLACE, ids=[n for n, _, _ in INPLACE])
def test_inplace_on_a_leaf_requiring_grad_in_grad_mode_raises(
    name: str, iop: Callable[[Any, Any], Any], op: Callable[[Any, Any], Any]
) -> None:
    p = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        iop(p, 1.0)
    np.testing.assert_array_equal(p.data, [1.0, 2.0])


def test_inplace_on_a_plain_tensor_in_grad_mode_is_allowed() -> None:
    t = cr.tensor([1.0, 2.0])
    t += 1.0
    t *= cr.tensor([2.0, 3.0])
    np.testing.assert_array_equal(t.data, [4.0, 9.0])


def test_inplace_update_writes_through_a_view_of_a_plain_tensor() -> None:
    t = cr.tensor([1.0, 2.0, 3.0])
    v = t[0:2]
    v += 10.0
    np.testing.assert_array_equal(t.data, [11.0, 12.0, 3.0])


def test_inplace_int_tensor_refuses_a_float_update() -> None:
    t = cr.tensor([1, 2])
    with pytest.raises(TypeError):
        t += 1.5


def test_inplace_add_of_a_tensor_requiring_grad_into_a_plain_tensor_records() -> None:
    x = cr.zeros(2)
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    x += w
    assert x.requires_grad
    (x * w).sum().backward()
    np.testing.assert_array_equal(_grad(w), [2.0, 4.0])


# ---- in-place changes to saved tensors: the version counter --------------------------------------------------------


def _saved_then_modified(modify: Callable[[cr.Tensor], None]) -> None:
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (w * w).sum()
    with cr.no_grad():
        modify(w)
    y.backward()


@pytest.mark.parametrize(("name", "iop", "op"), INPLACE, ids=[n for n, _, _ in INPLACE])
def test_modifying_a_saved_leaf_in_place_raises_at_backward(
    name: str, iop: Callable[[Any, Any], Any], op: Callable[[Any, Any], Any]
) -> None:
    with pytest.raises(RuntimeError, match="in place"):
        _saved_then_modified(lambda w: iop(w, 2.0))


def test_setitem_on_a_saved_leaf_raises_at_backward() -> None:
    def assign(w: cr.Tensor) -> None:
        w[0, 0] = 5.0

    with pytest.raises(RuntimeError, match="in place"):
        _saved_then_modified(assign)


def test_modifying_the_base_of_a_saved_getitem_view_raises() -> None:
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = w[0]
    y = (v * v).sum()
    with cr.no_grad():
        w += 1.0
    with pytest.raises(RuntimeError, match="in place"):
        y.backward()


def test_modifying_the_base_of_a_saved_reshape_view_raises() -> None:
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = w.reshape(4)
    y = (v * v).sum()
    with cr.no_grad():
        w *= 2.0
    with pytest.raises(RuntimeError, match="in place"):
        y.backward()


def test_modifying_the_base_of_a_saved_transpose_raises() -> None:
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = w.T
    y = (v * v).sum()
    with cr.no_grad():
        w[1, 0] = 0.0
    with pytest.raises(RuntimeError, match="in place"):
        y.backward()


def test_modifying_a_view_made_under_no_grad_raises() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.no_grad():
        v = w[0:1]
    y = (w * w).sum()
    v += 1.0
    with pytest.raises(RuntimeError, match="in place"):
        y.backward()


def test_modifying_a_detached_alias_raises() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    d = w.detach()
    y = (w * w).sum()
    d += 1.0
    with pytest.raises(RuntimeError, match="in place"):
        y.backward()


def test_modifying_a_saved_constant_operand_raises() -> None:
    """A tensor without requires_grad that the graph saved (multiply's other factor) is guarded as well."""
    c = cr.tensor([1.0, 2.0])
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    y = (w * c).sum()
    c += 1.0  # grad mode on: c does not require grad, so this is allowed, but w's gradient depended on it
    with pytest.raises(RuntimeError, match="in place"):
        y.backward()


def test_modification_after_backward_is_fine() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with cr.no_grad():
        w -= 0.5 * _grad(w)
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_allclose(_grad(w), [0.0, 0.0])


def test_gradient_is_never_silently_wrong_after_an_inplace_change_to_a_view() -> None:
    """Changing a recorded view itself must either raise or leave the recorded computation's gradient intact."""
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    v = w.reshape(4)
    y = (v * v).sum()
    with cr.no_grad():
        v *= 2.0
    try:
        y.backward()
    except RuntimeError as e:
        assert "in place" in str(e)
    else:
        np.testing.assert_array_equal(_grad(w), 2 * np.array([[1.0, 2.0], [3.0, 4.0]]))


# ---- gradients as tensors users can update -------------------------------------------------------------------------


def test_leaf_grads_do_not_share_memory() -> None:
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not None and b.grad is not None
    assert not np.shares_memory(_grad(a), _grad(b))


def test_leaf_grad_can_be_updated_in_place() -> None:
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert a.grad is not None and b.grad is not None
    with cr.no_grad():
        a.grad *= 0.5
    np.testing.assert_array_equal(_grad(a), [0.5, 0.5])
    np.testing.assert_array_equal(_grad(b), [1.0, 1.0])


def test_leaf_grad_does_not_alias_the_users_gradient_array() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0])
    (x + 1.0).backward(gradient=g)
    g[0] = 100.0
    assert x.grad is not None
    np.testing.assert_array_equal(_grad(x), [1.0, 1.0])


def test_assigning_into_a_recorded_output_keeps_its_node_intact() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.exp(x)
    s = y.sum()  # saved y before the assignment
    with cr.no_grad():
        y[0] = 100.0
    with pytest.raises(RuntimeError, match="modified in place"):
        s.backward(retain_graph=True)
    y.sum().backward()  # used after: exp's own saved answer was not overwritten
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]))


def test_inplace_on_a_non_leaf_under_no_grad_is_caught_by_its_consumers() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    z = (y * y).sum()
    with cr.no_grad():
        y += 1
    for create_graph in (False, True):
        with pytest.raises(RuntimeError, match="modified in place"):
            z.backward(retain_graph=True, create_graph=create_graph)


def test_create_graph_leaf_grads_are_separate_tensors() -> None:
    a = cr.tensor(1.0, requires_grad=True)
    b = cr.tensor(1.0, requires_grad=True)
    (a + b).backward(create_graph=True)
    assert a.grad is not b.grad
    with cr.no_grad():
        a.grad *= 10
    assert float(b.grad) == 1.0


def test_all_and_any() -> None:
    x = cr.tensor([1.0, -1.0])
    assert bool((x > 0).any()) and not bool((x > 0).all())
    assert (x > -2).all(axis=0).tolist() is True


# ---- .grad assignment, recorded assignment, lists of tensors ---------------------------------------------------------
def test_assigning_a_grad_of_another_shape_is_refused() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"gradient of shape \(2, 3\) to a tensor of shape \(3,\)"):
        x.grad = cr.zeros((2, 3))
    with pytest.raises(TypeError, match="floating point"):
        x.grad = np.array([1, 2, 3])
    x.grad = np.array([0.5, 0.5, 0.5])  # an ndarray of the right shape becomes a Tensor
    assert isinstance(x.grad, cr.Tensor)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.5, 2.5, 2.5])
    x.grad = None
    assert x.grad is None


def test_assignment_into_a_recorded_tensor_is_differentiated() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cr.tensor(5.0, requires_grad=True)
    y = x * 2
    y[1] = b * 3
    np.testing.assert_array_equal(y.numpy(), [2.0, 15.0, 6.0])
    (y * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 200.0])
    assert float(b.grad) == 30.0


def test_assignment_into_a_constant_from_a_recorded_value() -> None:
    b = cr.tensor(2.0, requires_grad=True)
    buffer = cr.zeros(3)
    buffer[0:2] = b
    buffer.sum().backward()
    assert float(b.grad) == 2.0


def test_recorded_assignment_refusals() -> None:
    leaf = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        leaf[0] = 3.0
    y = leaf * 1
    view = y[0:1]
    with pytest.raises(RuntimeError, match="assignment into a view of another tensor"):
        view[0] = 3.0
    z = leaf * 1
    with pytest.raises(IndexError, match="repeats an element"):
        z[[0, 0]] = cr.tensor([1.0, 2.0], requires_grad=True)


def test_a_list_holding_tensors_being_differentiated_is_not_made_a_leaf() -> None:
    x = cr.tensor(1.0, requires_grad=True)
    with pytest.raises(TypeError, match=r"cr\.stack"):
        cr.tensor([x, x + 2])
    assert cr.tensor([cr.tensor(1.0), 2.0]).tolist() == [1.0, 2.0]  # constants are fine


def test_full_and_linspace_keep_the_gradient_of_their_values() -> None:
    assert float(cr.grad(lambda v: cr.full((3,), v).sum())(1.0)) == 3.0
    assert float(cr.grad(lambda a: cr.linspace(a, 3.4, 5).sum())(1.0)) == pytest.approx(2.5)
    assert float(cr.grad(lambda b: cr.linspace(1.0, b, 5).sum())(3.4)) == pytest.approx(2.5)
    np.testing.assert_allclose(cr.linspace(cr.tensor(1.0, requires_grad=True), 3.4, 5).data, np.linspace(1, 3.4, 5))
    with pytest.raises(ValueError, match="requires_grad=True makes a new leaf"):
        cr.full((2,), cr.tensor(1.0, requires_grad=True), requires_grad=True)
    with pytest.raises(TypeError, match="arange: its arguments say the shape"):
        cr.grad(lambda n: cr.arange(n).sum())(3.0)


def test_assignment_after_the_tensor_was_used_refuses_the_backward() -> None:
    """Nodes recorded before an assignment hold the tensor object, which now is the assignment's result: a
    backward through them would route its gradient wrongly, so it refuses instead (retain_graph too: no loop)."""
    x = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = x * 1
    used = y * 3
    y[1] = 100.0
    with pytest.raises(RuntimeError, match="modified in place after it was used"):
        used.sum().backward()
    with pytest.raises(RuntimeError, match="modified in place after it was used"):
        cr.jacrev(lambda v: (lambda z: (z.__setitem__(0, z[0] + v[1]), z * z)[1])(v * 1))(np.ones(3))
    fresh = y * 3  # recorded after the assignment: fine
    fresh.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 3.0, 3.0])


def test_repeated_assignments_and_a_value_with_leading_unit_axes() -> None:
    x = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    row = cr.tensor([[3.0, 4.0, 5.0]], requires_grad=True)
    y = x * 1
    y[0] = row  # NumPy drops the value's leading axis of length 1
    y[1, 0] = 7.0
    (y * 10).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0, 0.0], [0.0, 10.0, 10.0]])
    np.testing.assert_array_equal(row.grad.numpy(), [[10.0, 10.0, 10.0]])


def test_linspace_of_constant_tensors() -> None:
    np.testing.assert_array_equal(cr.linspace(cr.tensor(0.0), cr.tensor(1.0), 3).numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(np.asarray(np.linspace(cr.tensor(0.0), 1.0, 3)), [0.0, 0.5, 1.0])


@pytest.mark.parametrize(("name", "hint"), [
    ("mm", "chainrule's is 'matmul'"), ("sigmiod", "did you mean 'sigmoid'"), ("narrow", "'getitem (x[a:b])'"),
])
def test_a_missing_name_says_what_it_is_called_here(name: str, hint: str) -> None:
    """On the module (its __getattr__); a tensor's missing attributes are in tests/test_torch_names.py."""
    with pytest.raises(AttributeError, match=re.escape(hint)):
        getattr(cr, name)
    with pytest.raises(AttributeError, match=r"no attribute 'xyzzy'$"):
        _ = cr.xyzzy


def test_a_scalar_tensor_formats_as_its_number() -> None:
    loss = cr.tensor(np.float32(2.0)) / 3
    assert f"{loss:.4f}" == f"{2.0 / 3:.4f}" and f"{cr.tensor(7):>3d}" == "  7" and f"{loss}" == str(loss)
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{cr.tensor([1.0, 2.0]):.2f}"  # as an ndarray: no spec for many numbers
