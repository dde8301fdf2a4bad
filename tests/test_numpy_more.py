"""NumPy's functions added for issue 10 ("NumPy-native"): those without a derivative compute on values being
differentiated and give NumPy's answers; the composites give NumPy's values through both ``cr.NAME`` and
``np.NAME(t)``, and their gradients pass gradcheck to order 2 in both modes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
V = RNG.standard_normal(5)
IDX = np.array([2, 0, 1, 2, 4])

# (name, NumPy's function, its arguments: X and V become tensors that require grad)
NO_DERIVATIVE: list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    ("all", np.all, (X,), {"axis": 1}),
    ("any", np.any, (X,), {}),
    ("logical_and", np.logical_and, (X, V[:4]), {}),
    ("logical_or", np.logical_or, (X, 0.0), {}),
    ("logical_not", np.logical_not, (X,), {}),
    ("logical_xor", np.logical_xor, (X, X > 0), {}),
    ("isin", np.isin, (X, X[0]), {}),
    ("signbit", np.signbit, (X,), {}),
    ("isreal", np.isreal, (X,), {}),
    ("iscomplex", np.iscomplex, (X,), {}),
    ("isneginf", np.isneginf, (X,), {}),
    ("isposinf", np.isposinf, (X,), {}),
    ("lexsort", np.lexsort, ((V, -V),), {}),
    ("digitize", np.digitize, (V, [-1.0, 0.0, 1.0]), {}),
    ("unravel_index", np.unravel_index, (IDX, (3, 2)), {}),
    ("ravel_multi_index", np.ravel_multi_index, ((IDX % 2, IDX), (2, 5)), {}),
    ("bincount", np.bincount, (IDX,), {"minlength": 7}),
    ("tril_indices_from", np.tril_indices_from, (X,), {"k": 1}),
    ("triu_indices_from", np.triu_indices_from, (X,), {}),
    ("diag_indices_from", np.diag_indices_from, (X[:, :3],), {}),
    ("ix_", np.ix_, (IDX, IDX[:2]), {}),
    ("bitwise_and", np.bitwise_and, (IDX, 3), {}),
    ("gcd", np.gcd, (IDX, 4), {}),
    ("einsum_path", np.einsum_path, ("ij,jk->ik", X, X.T), {"optimize": "greedy"}),
]


def _as_tensors(value: Any, *, requires_grad: bool) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
        return cr.tensor(value, requires_grad=requires_grad)
    if isinstance(value, (tuple, list)):
        return type(value)(_as_tensors(v, requires_grad=requires_grad) for v in value)
    return value


def _same(ours: Any, theirs: Any) -> None:
    if isinstance(theirs, (list, str)):  # einsum_path's path and its description
        assert ours == theirs
        return
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
        return
    ours = ours.data if isinstance(ours, cr.Tensor) else np.asarray(ours)
    assert ours.dtype == np.asarray(theirs).dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name, func, args, kwargs", NO_DERIVATIVE, ids=[c[0] for c in NO_DERIVATIVE])
def test_no_derivative_computes_inside_grad(name: str, func: Callable[..., Any], args: tuple[Any, ...],
                                            kwargs: dict[str, Any]) -> None:
    expected = func(*args, **kwargs)
    seen: list[Any] = []

    def loss(x: Any) -> Any:
        inputs = tuple(x if a is X else _as_tensors(a, requires_grad=True) for a in args)
        seen.append(func(*inputs, **kwargs))
        return cr.sum(x * x)

    cr.grad(loss)(cr.tensor(X))
    _same(seen[0], expected)


def test_empty_like_reads_the_shape_only() -> None:
    out = cr.grad(lambda x: cr.sum(x) + 0 * float(np.empty_like(x).shape[0]))(cr.tensor(X))
    np.testing.assert_array_equal(out.data, np.ones_like(X))
    empty = np.empty_like(cr.tensor(X, requires_grad=True))
    assert empty.shape == X.shape and empty.dtype == X.dtype and not empty.requires_grad


def test_no_derivative_keeps_float32() -> None:
    x = cr.tensor(X.astype(np.float32), requires_grad=True)
    _same(np.signbit(x), np.signbit(X.astype(np.float32)))


A, B = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((3, 4))
P, Q = RNG.standard_normal(4), RNG.standard_normal(3)
VEC3 = RNG.standard_normal((2, 3))
POS = RNG.uniform(0.5, 2.0, (3, 4))
# (name, chainrule's function, NumPy's, arguments (the floating ones are differentiated), keyword arguments)
COMPOSITES: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    ("cbrt", cr.cbrt, np.cbrt, (B,), {}),
    ("float_power", cr.float_power, np.float_power, (POS, B), {}),
    ("fmod", cr.fmod, np.fmod, (B * 3 + 0.25, POS + 0.25), {}),
    ("broadcast_arrays", cr.broadcast_arrays, np.broadcast_arrays, (A, B[0]), {}),
    ("array_split", cr.array_split, np.array_split, (A, 3), {"axis": 2}),
    ("array_split_at", cr.array_split, np.array_split, (A, [1]), {"axis": 1}),
    ("hsplit", cr.hsplit, np.hsplit, (A, 3), {}),
    ("vsplit", cr.vsplit, np.vsplit, (B, [1, 2]), {}),
    ("dsplit", cr.dsplit, np.dsplit, (A, 2), {}),
    ("dstack", cr.dstack, np.dstack, ([B, B * 2],), {}),
    ("block", cr.block, np.block, ([[B, B[:, :1]], [B[:1], P[:1]]],), {}),
    ("unstack", cr.unstack, np.unstack, (A,), {"axis": 1}),
    ("rollaxis", cr.rollaxis, np.rollaxis, (A, 2, 1), {}),
    ("matrix_transpose", cr.matrix_transpose, np.matrix_transpose, (A,), {}),
    ("copy", cr.copy, np.copy, (B,), {}),
    ("ascontiguousarray", cr.ascontiguousarray, np.ascontiguousarray, (B,), {}),
    ("asfortranarray", cr.asfortranarray, np.asfortranarray, (B,), {}),
    ("asanyarray", cr.asanyarray, np.asanyarray, (B,), {}),
    ("delete", cr.delete, np.delete, (B, [0, 2]), {"axis": 1}),
    ("delete_flat", cr.delete, np.delete, (B, slice(1, 7, 2)), {}),
    ("insert", cr.insert, np.insert, (B, 1, P[:3]), {"axis": 1}),
    ("insert_flat", cr.insert, np.insert, (B, [0, 5, 5], Q), {}),
    ("vecdot", cr.vecdot, np.vecdot, (A, B), {"axis": -1}),
    ("vecdot_complex", cr.vecdot, np.vecdot, (A + 1j * A[::-1], B - 0.5j), {}),
    ("matvec", cr.matvec, np.matvec, (A, P), {}),
    ("vecmat_complex", cr.vecmat, np.vecmat, (Q + 1j, A), {}),
    ("vecmat", cr.vecmat, np.vecmat, (Q, A), {}),
    ("linalg.vecdot", cr.linalg.vecdot, np.linalg.vecdot, (A[..., :3], B[:, :3]), {"axis": -2}),
    ("linalg.cross", cr.linalg.cross, np.linalg.cross, (VEC3, VEC3[::-1]), {}),
    ("vander", cr.vander, np.vander, (P,), {}),
    ("vander_increasing", cr.vander, np.vander, (Q, 4), {"increasing": True}),
    ("polyder", cr.polyder, np.polyder, (P, 2), {}),
    ("polyint", cr.polyint, np.polyint, (P, 2, np.array([0.5, -1.0])), {}),
    ("polyint_one_constant", cr.polyint, np.polyint, (P, 3, 2.0), {}),
    ("polyadd", cr.polyadd, np.polyadd, (P, Q), {}),
    ("polysub", cr.polysub, np.polysub, (Q, P), {}),
    ("polymul", cr.polymul, np.polymul, (P, Q), {}),
    ("poly", cr.poly, np.poly, (V,), {}),
    ("poly_matrix", cr.poly, np.poly, (B[:, :3] + 3 * np.eye(3),), {}),
    ("polydiv", cr.polydiv, np.polydiv, (V, Q), {}),
    ("polydiv_short", cr.polydiv, np.polydiv, (Q[:2], P), {}),
    ("roots", cr.roots, np.roots, (np.array([1.0, -6.0, 11.0, -6.0]) + 0.01 * P,), {}),  # real ones
    ("roots_complex", cr.roots, np.roots, (P,), {}),
    ("sort_complex", cr.sort_complex, np.sort_complex, (B,), {}),
    ("modf", cr.modf, np.modf, (B * 3,), {}),
    ("divmod", cr.divmod, np.divmod, (B * 3, POS), {}),
    ("ldexp", cr.ldexp, np.ldexp, (B, IDX[:4] - 2), {}),
    ("frexp", cr.frexp, np.frexp, (B * 5,), {}),
    ("compress", cr.compress, np.compress, ([True, False, True], B), {"axis": 0}),
    ("compress_flat", cr.compress, np.compress, (IDX % 2, B), {}),
    ("extract", cr.extract, np.extract, (B > 0, A[0]), {}),
    ("choose", cr.choose, np.choose, (IDX[:4] % 3, [B, POS, B[0]]), {}),
    ("choose_wrap", cr.choose, np.choose, (IDX[:4], [B, POS]), {"mode": "wrap"}),
    ("resize", cr.resize, np.resize, (P, (3, 5)), {}),
    ("asarray_chkfinite", cr.asarray_chkfinite, np.asarray_chkfinite, (B,), {}),
    ("bincount", cr.bincount, np.bincount, (IDX, V), {"minlength": 7}),
    ("logspace", cr.logspace, np.logspace, (B[0], 2.0 + B[1], 5), {"axis": 1}),
    ("logspace_base", cr.logspace, np.logspace, (0.5, B[0], 4), {"base": POS[0], "endpoint": False}),
    ("geomspace", cr.geomspace, np.geomspace, (POS[0], POS[1] * 10, 5), {"axis": -1}),
    ("geomspace_negative", cr.geomspace, np.geomspace, (-POS[0], -POS[1], 3), {"endpoint": False}),
    ("unwrap", cr.unwrap, np.unwrap, (np.cumsum(B * 2, axis=1),), {"axis": 1}),
    ("unwrap_period", cr.unwrap, np.unwrap, (V * 4,), {"period": 3.0}),
    ("fft.hfft", cr.fft.hfft, np.fft.hfft, (V + 1j * P[:1],), {"n": 7}),
    ("fft.ihfft", cr.fft.ihfft, np.fft.ihfft, (A,), {"axis": 1, "norm": "ortho"}),
]
IDS = [c[0] for c in COMPOSITES]
# NumPy's own converters, which (as np.array) never ask a tensor argument to dispatch: cr.NAME records
NOT_DISPATCHED = {"ascontiguousarray", "asfortranarray", "asanyarray", "asarray_chkfinite"}


def _joined(out: Any) -> Any:
    """A function's outputs as one tensor, for gradcheck: lists and tuples raveled and joined."""
    if isinstance(out, (list, tuple)):
        return cr.concatenate([cr.ravel(o) for o in out])
    return out


def _check_values(ours: Any, theirs: Any) -> None:
    if isinstance(theirs, (list, tuple)):
        assert isinstance(ours, (list, tuple)) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _check_values(a, b)
        return
    ours = ours.data if isinstance(ours, cr.Tensor) else ours  # primitives on arrays give arrays
    assert ours.shape == np.shape(theirs) and ours.dtype == np.asarray(theirs).dtype
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, ours, theirs, args, kwargs", COMPOSITES, ids=IDS)
def test_values_match_numpy(name: str, ours: Callable[..., Any], theirs: Callable[..., Any], args: tuple[Any, ...],
                            kwargs: dict[str, Any]) -> None:
    expected = theirs(*args, **kwargs)
    _check_values(ours(*args, **kwargs), expected)
    tensors = [_as_tensors(a, requires_grad=True) for a in args]
    if name in NOT_DISPATCHED:
        return
    routed = theirs(*tensors, **kwargs)  # np.NAME(t): chainrule's, recorded
    _check_values(routed, expected)
    assert _joined(routed).requires_grad


@pytest.mark.parametrize("name, ours, theirs, args, kwargs", COMPOSITES, ids=IDS)
def test_gradients(name: str, ours: Callable[..., Any], theirs: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> None:
    given = (args, tuple(kwargs.values()))  # floating keyword arguments (logspace's base) are differentiated too

    def f(*xs: Any) -> Any:
        positional, keywords = _refilled(given, iter(xs))
        return _joined(ours(*positional, **dict(zip(kwargs, keywords))))

    assert cr.gradcheck(f, *_floats(given), order=2, modes=("rev", "fwd"))


def _floats(obj: Any) -> list[Any]:
    """The floating arrays in ``obj`` (through lists and tuples), which gradcheck differentiates."""
    if isinstance(obj, (list, tuple)):
        return [leaf for o in obj for leaf in _floats(o)]
    return [obj] if isinstance(obj, np.ndarray) and obj.dtype.kind in "fc" else []


def _refilled(obj: Any, xs: Any) -> Any:
    """``obj`` with its floating arrays replaced, in order, by the next of ``xs``."""
    if isinstance(obj, (list, tuple)):
        return type(obj)(_refilled(o, xs) for o in obj)
    return next(xs) if isinstance(obj, np.ndarray) and obj.dtype.kind in "fc" else obj


@pytest.mark.parametrize("name, ours, theirs, args, kwargs", COMPOSITES, ids=IDS)
def test_float32_kept(name: str, ours: Callable[..., Any], theirs: Callable[..., Any], args: tuple[Any, ...],
                      kwargs: dict[str, Any]) -> None:
    def narrow(obj: Any) -> Any:
        return _refilled(obj, iter([a.astype(np.float32 if a.dtype.kind == "f" else np.complex64)
                                    for a in _floats(obj)]))

    single, kwargs = narrow(args), dict(zip(kwargs, narrow(tuple(kwargs.values()))))
    # float32 stays float32 (NumPy's vander and polyder widen it through their integer powers), but float_power
    # computes in float64 by definition, and sort_complex gives complex128
    wide = name in ("float_power", "sort_complex")
    _check_float32(ours(*single, **kwargs), theirs(*single, **kwargs), (np.float64, np.complex128) if wide else
                   (np.float32, np.complex64))


def _check_float32(ours: Any, theirs: Any, dtypes: tuple[Any, ...]) -> None:
    if isinstance(theirs, (list, tuple)):
        for a, b in zip(ours, theirs):
            _check_float32(a, b, dtypes)
        return
    integers = np.asarray(theirs).dtype.kind in "iu"  # frexp's exponents, in NumPy's integer dtype
    assert ours.dtype == np.asarray(theirs).dtype if integers else ours.dtype in dtypes
    np.testing.assert_allclose(cr.Tensor(ours).data if isinstance(ours, cr.Tensor) else ours, theirs, rtol=1e-5,
                               atol=1e-6)


def test_trim_zeros() -> None:
    padded = np.concatenate([[0.0], P, [0.0, 0.0]])
    _check_values(cr.trim_zeros(padded, "b"), np.trim_zeros(padded, "b"))
    _check_values(np.trim_zeros(cr.tensor(padded, requires_grad=True)), np.trim_zeros(padded))
    grid = np.pad(B, ((1, 0), (0, 2)))
    _check_values(cr.trim_zeros(grid), np.trim_zeros(grid))
    _check_values(cr.trim_zeros(grid, axis=1), np.trim_zeros(grid, axis=1))
    # the zeros trimmed are fixed (a perturbed zero is no longer trimmed): the values kept are differentiated
    assert cr.gradcheck(lambda p: cr.trim_zeros(cr.concatenate([cr.zeros(1), p, cr.zeros(2)])), P, order=2,
                        modes=("rev", "fwd"))


@pytest.mark.parametrize("ours, theirs, args", [(cr.identity, np.identity, (3,)), (cr.tri, np.tri, (3, 4, -1)),
                                               (cr.tri, np.tri, (2,))])
def test_constants(ours: Callable[..., Any], theirs: Callable[..., Any], args: tuple[Any, ...]) -> None:
    out = ours(*args)
    assert not out.requires_grad
    _check_values(out, theirs(*args))


def test_refusals() -> None:
    with pytest.raises(ValueError, match="cannot include zero"):
        cr.geomspace(cr.tensor(0.0), 1.0, 3)
    with pytest.raises(ValueError, match="same sign"):
        cr.geomspace(cr.tensor(-1.0), 1.0, 3)
    with pytest.raises(ValueError, match="3-vectors"):
        cr.linalg.cross(cr.tensor(VEC3[:, :2]), VEC3[:, :2])
    with pytest.raises(ValueError, match="2 or more dimensions"):
        cr.vsplit(cr.tensor(V), 5)
    with pytest.raises(ValueError, match="nested to different depths"):
        cr.block([[B], B])


@pytest.mark.parametrize("name, ours, theirs, args, kwargs", COMPOSITES, ids=IDS)
def test_on_the_device(name: str, ours: Callable[..., Any], theirs: Callable[..., Any], args: tuple[Any, ...],
                       kwargs: dict[str, Any]) -> None:
    """Each composite on the CuPy stand-in: the values and the gradients of the host, and the results stay there."""
    from chainrule import backend
    from stand_in_gpu import provider

    def run(device: str) -> tuple[Any, list[Any]]:
        given = (args, tuple(kwargs.values()))
        leaves = [cr.tensor(a, requires_grad=True, device=device) for a in _floats(given)]
        refilled = _refilled(given, iter(leaves))
        out = _joined(ours(*refilled[0], **dict(zip(kwargs, refilled[1]))))
        assert out.device == leaves[0].device
        cr.sum(cr.real(out) * cr.real(out)).backward()
        return out.cpu().numpy(), [None if leaf.grad is None else leaf.grad.cpu().numpy() for leaf in leaves]

    host = run("cpu")
    with backend.use_provider(provider):
        device = run("cuda")
    np.testing.assert_allclose(device[0], host[0], rtol=1e-12, atol=1e-12)
    for g_device, g_host in zip(device[1], host[1]):
        assert (g_device is None) == (g_host is None)  # polydiv's divisor, when it does not divide: no gradient
        if g_host is not None:
            np.testing.assert_allclose(g_device, g_host, rtol=1e-12, atol=1e-12)


def test_poly_of_conjugate_pairs_is_real() -> None:
    roots = np.array([1 + 2j, 0.5, 1 - 2j])
    _check_values(cr.poly(cr.tensor(roots)), np.poly(roots))

    def f(a: Any, b: Any, c: Any) -> Any:  # the roots a +- ib and c: perturbations that keep the pairs
        z = cr.tensor(1j) * b
        return cr.poly(cr.stack([a + z, c + z * 0, a - z]))

    assert cr.gradcheck(f, np.array(1.0), np.array(2.0), np.array(0.5), order=2, modes=("rev", "fwd"))


def test_roots_drop_leading_zeros_and_give_trailing_ones() -> None:
    padded = np.concatenate([[0.0, 0.0], P, [0.0]])  # the zeros are fixed: a perturbed zero would be a coefficient
    _check_values(cr.roots(cr.tensor(padded)), np.roots(padded))
    assert cr.gradcheck(lambda p: cr.roots(cr.concatenate([cr.zeros(2), p, cr.zeros(1)])), P, order=2,
                        modes=("rev", "fwd"))


REPEATS = np.array([[3.0, 1.0, 2.0], [1.0, 3.0, 0.5]])
OTHER = np.array([1.0, 5.0, 2.0, 5.0])
SETS: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = [
    ("unique", cr.unique, np.unique, (REPEATS,), {}),
    ("unique_axis", cr.unique, np.unique, (np.concatenate([REPEATS, REPEATS[:1]]),), {"axis": 0}),
    ("unique_values", cr.unique_values, np.unique_values, (REPEATS,), {}),
    ("union1d", cr.union1d, np.union1d, (REPEATS, OTHER), {}),
    ("intersect1d", cr.intersect1d, np.intersect1d, (REPEATS, OTHER), {}),
    ("setdiff1d", cr.setdiff1d, np.setdiff1d, (REPEATS, OTHER), {}),
    ("setdiff1d_unique", cr.setdiff1d, np.setdiff1d, (REPEATS[0], OTHER[:3]), {"assume_unique": True}),
    ("setxor1d", cr.setxor1d, np.setxor1d, (REPEATS, OTHER), {}),
]


@pytest.mark.parametrize("name, ours, theirs, args, kwargs", SETS, ids=[c[0] for c in SETS])
def test_sets_pick_first_occurrences(name: str, ours: Callable[..., Any], theirs: Callable[..., Any],
                                     args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    expected = theirs(*args, **kwargs)
    _check_values(ours(*args, **kwargs), expected)
    tensors = [cr.tensor(a, requires_grad=True) for a in args]
    out = theirs(*tensors, **kwargs)  # np.NAME(t): chainrule's
    _check_values(out, expected)
    # a repeated value is not differentiable; its gradient goes to its first occurrence (in the inputs' order)
    w = np.arange(1.0, out.size + 1).reshape(out.shape)
    cr.sum(out * w).backward()
    joined = np.concatenate([a.ravel() for a in args])
    want = np.zeros(joined.size)
    if kwargs.get("axis") == 0:  # unique rows: each row's gradient to the first row equal to it
        for j, row in enumerate(expected):
            first = next(i for i in range(args[0].shape[0]) if (args[0][i] == row).all())
            want.reshape(args[0].shape)[first] += w[j]
    else:
        for j, value in enumerate(expected):
            want[np.flatnonzero(joined == value)[0]] += w[j]
    got = np.concatenate([np.zeros(a.size) if t.grad is None else t.grad.numpy().ravel()
                          for a, t in zip(args, tensors)])
    np.testing.assert_array_equal(got, want)


def test_sets_on_the_device() -> None:
    from chainrule import backend
    from stand_in_gpu import provider

    with backend.use_provider(provider):
        x = cr.tensor(REPEATS, requires_grad=True, device="cuda")
        values, counts = cr.unique(x, return_counts=True)
        xor = cr.setxor1d(x, cr.tensor(OTHER, device="cuda"))
        assert values.device == counts.device == xor.device == "cuda:0"
        cr.sum(values * values).backward()
        _check_values(values.cpu(), np.unique(REPEATS))
        _check_values(x.grad.cpu(), np.where([[1, 1, 1], [0, 0, 1]], 2 * REPEATS, 0.0))


def test_unique_results() -> None:
    x = cr.tensor(REPEATS, requires_grad=True)
    values, index, inverse, counts = cr.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for ours, theirs in zip((values, index, inverse, counts), np.unique(REPEATS, True, True, True)):
        _check_values(ours, theirs)
    for ours_, theirs_ in ((cr.unique_all(x), np.unique_all(REPEATS)), (cr.unique_counts(x), np.unique_counts(REPEATS)),
                           (cr.unique_inverse(x), np.unique_inverse(REPEATS))):
        assert ours_._fields == theirs_._fields
        for a, b in zip(ours_, theirs_):
            _check_values(a, b)
    assert cr.gradcheck(lambda v: cr.unique(v), REPEATS[0], order=2, modes=("rev", "fwd"))  # distinct: a sort
    with pytest.raises(TypeError, match="complex numbers have no order"):
        cr.unique(cr.tensor(REPEATS + 1j, requires_grad=True))
    _check_values(cr.unique(REPEATS + 1j), np.unique(REPEATS + 1j))  # constants: NumPy's order
    with pytest.raises(TypeError, match="sort_complex: complex numbers have no order"):
        np.sort_complex(cr.tensor(REPEATS + 1j, requires_grad=True))
    _check_values(np.sort_complex(cr.tensor(REPEATS[::-1] - 1j)), np.sort_complex(REPEATS[::-1] - 1j))


def test_unwrap_and_asarray_chkfinite_under_vmap_and_compile() -> None:
    phases = np.cumsum(np.random.default_rng(8).standard_normal((3, 6)) * 3, axis=1)
    np.testing.assert_array_equal(cr.vmap(cr.unwrap)(phases), np.unwrap(phases, axis=1))
    compiled = cr.compile(lambda p: cr.unwrap(cr.tensor(p), axis=0))
    for p in (phases.T, -phases.T, 2 * phases.T):  # the multiples of 2 pi recomputed at every replay
        np.testing.assert_array_equal(compiled(p).data, np.unwrap(p, axis=0))
    checked = cr.compile(lambda a: cr.asarray_chkfinite(cr.tensor(a)) * 2)
    np.testing.assert_array_equal(checked(phases).data, phases * 2)
    for bad in (np.inf, np.nan):
        with pytest.raises(ValueError, match="must not contain infs or NaNs"):
            checked(np.where(phases > 2, bad, phases))
        with pytest.raises(ValueError, match="must not contain infs or NaNs"):
            cr.vmap(cr.asarray_chkfinite)(np.where(phases > 2, bad, phases))
