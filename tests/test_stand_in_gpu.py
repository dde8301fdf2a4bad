"""The CuPy stand-in refuses what CuPy refuses (implicit host copies, mixing with NumPy arrays, what cupy.ndarray
lacks) and otherwise computes NumPy's values, on stand-in arrays."""

import copy
import operator

import numpy as np
import pytest

from stand_in_gpu import DeviceArray, provider, xp

HOST = np.arange(6.0).reshape(2, 3)


@pytest.fixture
def a() -> DeviceArray:
    return xp.asarray(HOST)


def same(got: object, want: np.ndarray) -> None:
    """``got`` is a stand-in array with NumPy's value, dtype and shape."""
    assert isinstance(got, DeviceArray)
    host = got.get()
    assert host.dtype == want.dtype and host.shape == want.shape
    np.testing.assert_allclose(host, want)


# --- what CuPy refuses ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("convert", [np.asarray, np.array, np.ascontiguousarray, lambda x: np.array([x, x])])
def test_no_implicit_conversion_to_numpy(a, convert):
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        convert(a)


@pytest.mark.parametrize("host", [np.ones(3), np.ones((2, 3)), np.array(1.0), np.array([True])],
                         ids=["1-d", "2-d", "0-d", "bool"])
@pytest.mark.parametrize("mix", [
    lambda d, h: d + h, lambda d, h: h + d, lambda d, h: d * h, lambda d, h: np.add(d, h), lambda d, h: np.add(h, d),
    lambda d, h: np.maximum(d, h), lambda d, h: np.concatenate([d.reshape(-1), h.reshape(-1)]),
    lambda d, h: np.where(d > 0, d, h), lambda d, h: np.dot(d.reshape(-1)[:1], h.reshape(-1)[:1]),
    lambda d, h: np.add(d, 1, out=h) if h.shape == d.shape else np.exp(d, out=np.empty_like(h)),
], ids=["radd", "ladd", "mul", "ufunc", "ufunc-left", "maximum", "concatenate", "where", "dot", "out"])
def test_numpy_arrays_do_not_mix(a, host, mix):
    with pytest.raises(TypeError, match=r"Unsupported type <class 'numpy\.ndarray'>|operand type"):
        mix(a, host)


def test_scalars_mix_python_and_numpy(a):
    for scalar in (2, 2.5, True, np.float32(2), np.float64(1.5), np.int64(3)):
        same(a * scalar, HOST * scalar)
        same(scalar * a, scalar * HOST)
        same(np.add(a, scalar), HOST + scalar)
    same((a > 1) & np.bool_(True), (HOST > 1) & np.bool_(True))
    same(a + 1j, HOST + 1j)


def test_comparisons_take_a_zero_d_numpy_array(a):
    # CuPy turns a 0-d NumPy array into a scalar for comparisons only (its workaround of numpy/numpy#12142)
    same(a < np.array(2.0), HOST < 2.0)
    same(np.greater_equal(np.array(2.0), a), 2.0 >= HOST)
    with pytest.raises(TypeError, match="Unsupported type"):
        a < np.ones(3)  # noqa: B015


def test_lists_and_objects_are_not_operands(a):
    for bad in ([1, 2, 3], (1, 2, 3), "x", object()):
        with pytest.raises(TypeError):
            a + bad
        with pytest.raises(TypeError):
            xp.exp(bad)
    with pytest.raises(TypeError, match="Unsupported type"):
        xp.exp(HOST)


def test_equality_with_none_is_false_everywhere(a):
    same(a == None, np.zeros((2, 3), bool))  # noqa: E711
    same(a != None, np.ones((2, 3), bool))  # noqa: E711


def test_what_cupy_ndarray_lacks(a):
    with pytest.raises(AttributeError):
        a.flags.writeable  # noqa: B018
    with pytest.raises(AttributeError):
        a.flags.writeable = False
    with pytest.raises(TypeError):
        operator.index(xp.asarray(1))  # no __index__: CuPy would sync silently otherwise
    with pytest.raises(TypeError, match="unhashable"):
        hash(a)
    with pytest.raises(TypeError):
        a.sum(initial=0)
    with pytest.raises(TypeError):
        a.max(where=a > 0)
    with pytest.raises(TypeError, match="casting"):
        a.astype(np.float32, casting="same_kind")
    with pytest.raises(TypeError):
        a.dot(2.0)
    with pytest.raises(ValueError, match="Unsupported dtype"):
        xp.asarray(np.array(["x"]))
    with pytest.raises(ValueError, match="Unsupported dtype"):
        xp.asarray([object()])


def test_ufunc_keywords_cupy_lacks(a):
    with pytest.raises(TypeError, match="Wrong arguments"):
        np.add(a, 1, where=a > 2)
    with pytest.raises(TypeError, match="Wrong arguments"):
        np.add.reduce(a, initial=0)


# --- ufuncs, reductions, ufunc methods ----------------------------------------------------------------------------
@pytest.mark.parametrize("ufunc", [np.exp, np.negative, np.sqrt, np.tanh, np.isfinite, np.signbit])
def test_unary_ufuncs(a, ufunc):
    same(ufunc(a), ufunc(HOST))
    same(getattr(xp, ufunc.__name__)(a), ufunc(HOST))


def test_ufunc_of_scalars_is_a_zero_d_array():
    same(xp.exp(1.0), np.asarray(np.exp(1.0)))


def test_reductions_are_zero_d_arrays(a):
    for method in ("sum", "prod", "mean", "var", "std", "max", "min", "argmax", "argmin", "all", "any"):
        got, want = getattr(a, method)(), np.asarray(getattr(HOST, method)())
        same(got, want)
        assert got.shape == ()
    same(np.sum(a), np.asarray(HOST.sum()))
    same(np.linalg.det(a[:, :2]), np.asarray(np.linalg.det(HOST[:, :2])))
    same(a.sum(axis=0, keepdims=True), HOST.sum(axis=0, keepdims=True))
    same(a.var(axis=1, ddof=1), HOST.var(axis=1, ddof=1))
    same(a.cumsum(axis=1), HOST.cumsum(axis=1))


def test_float32_stays_float32():
    d = xp.asarray(HOST, dtype=np.float32)
    for got in (d.sum(), d.mean(), d * 2, 2.5 - d, d / 3, np.exp(d), d @ d.T, np.maximum(d, 0), d ** 2, -d):
        assert got.dtype == np.float32
    assert (d + np.float64(1)).dtype == np.float64  # a NumPy float64 is not weak (NEP 50), as on CuPy


def test_ufunc_methods_cupy_has(a):
    same(np.add.reduce(a, axis=0), np.add.reduce(HOST, axis=0))
    same(np.multiply.reduce(a, axis=None), np.asarray(np.multiply.reduce(HOST, axis=None)))
    same(np.add.accumulate(a, axis=1), np.add.accumulate(HOST, axis=1))
    same(np.maximum.outer(a[0], a[1]), np.maximum.outer(HOST[0], HOST[1]))
    same(np.add.reduceat(a[0], xp.asarray([0, 2])), np.add.reduceat(HOST[0], [0, 2]))


@pytest.mark.parametrize("ufunc", [np.add, np.subtract, np.maximum, np.minimum])
def test_ufunc_at(ufunc):
    index = [0, 0, 2]
    host = np.zeros(4)
    device = xp.zeros(4)
    ufunc.at(host, index, np.array([1.0, 2.0, 3.0]))
    assert ufunc.at(device, xp.asarray(index), xp.asarray([1.0, 2.0, 3.0])) is None
    same(device, host)
    ufunc.at(device, np.array(index), 1.0)  # a NumPy index array is copied over, as in indexing
    ufunc.at(host, index, 1.0)
    same(device, host)


def test_ufunc_methods_cupy_lacks(a):
    with pytest.raises(NotImplementedError, match=r"`cupy_maximum\.reduce` is not supported"):
        np.maximum.reduce(a)
    with pytest.raises(NotImplementedError, match=r"cupy_logaddexp\.accumulate"):
        np.logaddexp.accumulate(a)
    with pytest.raises(NotImplementedError, match=r"cupy_multiply\.at"):
        np.multiply.at(a, xp.asarray([0]), 2.0)
    with pytest.raises(TypeError):
        np.add.at(a, (0, 1), 1.0)  # a tuple index is no operand there
    with pytest.raises(TypeError, match="atomics"):
        np.add.at(xp.zeros(3, dtype=np.int64), xp.asarray([0, 0]), 1)


# --- NumPy functions ------------------------------------------------------------------------------------------------
def test_numpy_functions_dispatch(a):
    b = xp.asarray(HOST + 1)
    same(np.concatenate([a, b], axis=0), np.concatenate([HOST, HOST + 1], axis=0))
    same(np.stack((a, b)), np.stack((HOST, HOST + 1)))
    same(np.where(a > 2, a, 0.0), np.where(HOST > 2, HOST, 0.0))
    same(np.einsum("ij,kj->ik", a, b), np.einsum("ij,kj->ik", HOST, HOST + 1))
    same(np.clip(a, 1, 4), np.clip(HOST, 1, 4))
    same(np.pad(a, ((1, 0), (0, 2))), np.pad(HOST, ((1, 0), (0, 2))))
    same(np.zeros_like(a), np.zeros_like(HOST))
    same(np.broadcast_to(a[0], (4, 3)), np.broadcast_to(HOST[0], (4, 3)))
    rows = np.nonzero(a > 2)
    assert isinstance(rows, tuple) and len(rows) == 2
    for got, want in zip(rows, np.nonzero(HOST > 2)):
        same(got, want)
    assert np.shape(a) == (2, 3) and np.ndim(a) == 2 and np.result_type(a, np.float32) == np.float64


def test_linalg(a):
    m = a @ a.T + 2 * xp.eye(2)
    host = HOST @ HOST.T + 2 * np.eye(2)
    same(np.linalg.solve(m, xp.ones(2)), np.linalg.solve(host, np.ones(2)))
    same(xp.linalg.inv(m), np.linalg.inv(host))
    same(np.linalg.norm(a), np.asarray(np.linalg.norm(HOST)))
    w, _ = np.linalg.eigh(m)
    same(w, np.linalg.eigh(host)[0])
    assert type(np.linalg.eigh(m)) is tuple  # CuPy's are plain tuples, no .eigenvalues
    with pytest.raises(TypeError, match="no implementation found"):
        np.linalg.vector_norm(a)  # NumPy 2's, not in cupy.linalg
    with pytest.raises(AttributeError):
        xp.linalg.matrix_norm  # noqa: B018


# --- indexing, views -----------------------------------------------------------------------------------------------
def test_getitem(a):
    mask = a > 2
    for key in (0, -1, (1, 2), slice(None, None, -1), (Ellipsis, 1), (None, 0), [1, 0], (slice(None), [2, 0]),
                np.array([1]), xp.asarray([1, 1]), (0, xp.asarray([True, False, True]))):
        host_key = tuple(k.get() if isinstance(k, DeviceArray) else k for k in key) if isinstance(key, tuple) \
            else key.get() if isinstance(key, DeviceArray) else key
        same(a[key], np.asarray(HOST[host_key]))
    same(a[mask], HOST[HOST > 2])
    same(a[[]], HOST[np.array([], np.intp)])


def test_integer_index_is_a_zero_d_view(a):
    x = a[1, 2]
    assert x.shape == () and x.base is a
    x[...] = 50.0
    assert float(a[1, 2]) == 50.0


def test_views_have_the_root_as_base(a):
    for view in (a[0], a[:, 1:], a.T, a.reshape(3, 2), a.transpose(1, 0), a.swapaxes(0, 1), a.ravel(), a.view(),
                 a[0][1:], a.reshape(6)[::2], a.mT):
        assert view.base is a
    for fresh in (a.copy(), a + 1, a[[0]], a.flatten(), np.exp(a), a.astype(np.float32), xp.asarray(HOST)):
        assert fresh.base is None and fresh.flags.owndata
    assert a.astype(a.dtype, copy=False) is a and xp.asarray(a) is a and a.real is a
    assert a.flags.c_contiguous and a.T.flags.f_contiguous and a.flags["C_CONTIGUOUS"]


def test_setitem(a):
    host = HOST.copy()
    writes = [(0, 9.0), ((1, 2), np.float32(7)), (slice(0, 1), xp.asarray([1.0, 2.0, 3.0])), (Ellipsis, a + 1),
              (a > 3, 0.0), (xp.asarray([1]), xp.asarray([[4.0, 5.0, 6.0]])), (np.array([0]), np.array([1.0, 2, 3])),
              ([1], [0.5, 0.5, 0.5]), ((0, 0), np.array(8.0))]
    for key, value in writes:
        a[key] = value
        host_value = value.get() if isinstance(value, DeviceArray) else value
        host[key.get() if isinstance(key, DeviceArray) else key] = host_value
        same(a, host)


def test_setitem_refuses_host_arrays_in_a_basic_index(a):
    with pytest.raises(ValueError, match=r"non-scalar numpy\.ndarray"):
        a[0] = np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        a[0] = [1.0, 2.0, 3.0]


def test_in_place_operators_keep_the_array(a):
    b, view = a, a[0]
    b += 1
    b *= 2
    assert b is a
    same(a, (HOST + 1) * 2)
    same(view, (HOST[0] + 1) * 2)


# --- operators, conversions, the Python protocols -------------------------------------------------------------------
def test_operators_both_orders(a):
    b = xp.asarray(HOST.T)
    pairs = [(2 * a, 2 * HOST), (a * 2, HOST * 2), (a @ b, HOST @ HOST.T), (1 - a, 1 - HOST), (a / 4, HOST / 4),
             (2 ** a, 2**HOST), (a**2, HOST**2), (a // 2, HOST // 2), (a % 4, HOST % 4), (-a, -HOST), (abs(-a), HOST),
             (a == a, HOST == HOST), (a >= 3, HOST >= 3), (3 > a, HOST < 3), (a != 1, HOST != 1),
             (a.dot(b), HOST @ HOST.T), (~(a > 2), ~(HOST > 2))]
    for got, want in pairs:
        same(got, want)


def test_size_one_conversions(a):
    x = a[1, 2]
    assert float(x) == 5.0 and int(x) == 5 and complex(x) == 5 and bool(x) and x.item() == 5.0
    assert isinstance(x.item(), float) and a.tolist() == HOST.tolist()
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a)
    with pytest.raises(DeprecationWarning, match="empty"):
        bool(xp.zeros(0))
    assert f"{x:.1f}" == "5.0" and repr(a) == repr(HOST) and str(a) == str(HOST)


def test_len_and_iteration(a):
    assert len(a) == 2
    rows = list(a)
    assert len(rows) == 2 and all(r.base is a for r in rows)
    same(rows[1], HOST[1])
    assert [float(x) for x in a[0]] == [0.0, 1.0, 2.0]
    with pytest.raises(TypeError):
        len(xp.asarray(1.0))
    with pytest.raises(TypeError):
        iter(xp.asarray(1.0))


def test_attributes(a):
    assert (a.shape, a.dtype, a.ndim, a.size, a.nbytes, a.itemsize, a.strides) == (
        HOST.shape, HOST.dtype, HOST.ndim, HOST.size, HOST.nbytes, HOST.itemsize, HOST.strides)
    assert a.device.id == 0 and repr(a.device) == "<CUDA Device 0>" and a.device == a[0].device
    c = xp.asarray(HOST + 2j * HOST)
    same(c.real, HOST)
    same(c.imag, 2 * HOST)
    same(c.conj(), HOST - 2j * HOST)
    v = xp.asarray(HOST[0])
    assert v.T is v
    with pytest.raises(ValueError):
        v.mT  # noqa: B018


def test_copies(a):
    for c in (copy.copy(a), copy.deepcopy(a), a.copy()):
        assert c is not a and c.base is None
        same(c, HOST)


def test_methods_match_numpy(a):
    calls = [("clip", (1, 4)), ("round", (1,)), ("take", ([2, 0],)), ("repeat", (2,)), ("squeeze", ()),
             ("diagonal", ()), ("trace", ()), ("argsort", ()), ("cumprod", (1,)), ("flatten", ()), ("ravel", ())]
    for name, args in calls:
        same(getattr(a, name)(*args), np.asarray(getattr(HOST, name)(*args)))
    same(a.take(xp.asarray([1]), axis=1), HOST.take([1], axis=1))
    b = a.copy()
    b.fill(3.0)
    same(b, np.full((2, 3), 3.0))
    b.fill(xp.asarray(2.0))
    same(b, np.full((2, 3), 2.0))
    with pytest.raises(ValueError):
        b.fill(a)


# --- host <-> device, the namespace, the provider -------------------------------------------------------------------
def test_round_trips_copy():
    host = HOST.copy()
    d = xp.asarray(host)
    host[0, 0] = 100.0
    assert float(d[0, 0]) == 0.0  # the device holds its own copy
    back = d.get()
    assert type(back) is np.ndarray
    back[0, 0] = -1.0
    assert float(d[0, 0]) == 0.0
    for out in (xp.asnumpy(d), provider.to_host(d)):
        assert type(out) is np.ndarray
        np.testing.assert_array_equal(out, HOST)
    assert type(xp.asnumpy(HOST)) is np.ndarray
    into = np.empty((2, 3))
    assert d.get(out=into) is into


def test_asarray_takes_anything_on_the_host():
    for value, want in ((HOST, HOST), ([[1, 2], [3, 4]], np.array([[1, 2], [3, 4]])), (2.5, np.asarray(2.5)),
                        (np.float32(1), np.asarray(np.float32(1))), ([xp.asarray(1.0), 2.0], np.array([1.0, 2.0]))):
        same(xp.asarray(value), want)
    same(xp.asarray([1, 2], dtype=np.float32), np.array([1, 2], np.float32))
    same(xp.array(HOST), HOST)
    d = xp.asarray(HOST)
    assert xp.array(d) is not d and xp.asarray(d, dtype=np.float32).dtype == np.float32


def test_namespace():
    same(xp.zeros((2, 3), dtype=np.float32), np.zeros((2, 3), np.float32))
    same(xp.ones(3), np.ones(3))
    same(xp.full((2,), 7), np.full((2,), 7))
    same(xp.arange(5), np.arange(5))
    same(xp.linspace(0, 1, 5), np.linspace(0, 1, 5))
    same(xp.eye(3), np.eye(3))
    same(xp.empty((2, 2)) * 0, np.zeros((2, 2)))
    d = xp.asarray(HOST)
    for like in ("zeros_like", "ones_like", "empty_like"):
        assert getattr(xp, like)(d).shape == (2, 3)
    same(xp.full_like(d, 2.0), np.full_like(HOST, 2.0))
    same(xp.where(d > 2, d, 0.0), np.where(HOST > 2, HOST, 0.0))
    same(xp.concatenate([d, d]), np.concatenate([HOST, HOST]))
    same(xp.add.reduce(d, axis=1), HOST.sum(axis=1))
    assert xp.float32 is np.float32 and xp.dtype is np.dtype and xp.newaxis is None and xp.pi == np.pi
    assert xp.ndarray is DeviceArray and isinstance(xp.ndarray((2,), np.float32), DeviceArray)
    assert xp.exp is xp.exp and xp.exp.nin == 1
    assert xp.get_array_module(d, HOST) is xp and xp.get_array_module(HOST, 1.0) is np
    assert xp.cuda.runtime.getDeviceCount() == 1 and repr(xp.cuda.Device(0)) == "<CUDA Device 0>"
    with pytest.raises(TypeError, match="Unsupported type"):
        xp.sum(HOST)
    with pytest.raises(RuntimeError, match="invalid device"), xp.cuda.Device(1):
        pass


def test_provider():
    assert provider.name == provider.kind == "cuda" and provider.xp is xp and provider.array_type is DeviceArray
    assert provider.is_available() and provider.device_count() == 1
    host = HOST.copy()
    d = provider.from_host(host, 0)
    host[...] = 0
    same(d, HOST)
    assert provider.device_index(d) == 0
    with pytest.raises(RuntimeError):
        provider.from_host(HOST, 1)
