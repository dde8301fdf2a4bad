"""Discrete Fourier transforms: three linear primitives, c2c (``fftn``/``ifftn``), r2c (``rfftn``) and c2r
(``irfftn``), over given axes with NumPy's ``norm``; the public functions (``cr.fft``) crop and pad to ``s``/``n``
with the shape primitives first, so the primitives always transform the whole axes.

The rules are transposes under the pairing Re(sum(a * b)) (see elementwise.py, "complex numbers"). The DFT matrix is
symmetric, so the transpose of a c2c transform is the same transform (with the same ``norm``). rfftn is a c2c
transform cropped to the first n//2 + 1 entries of the last axis: its transpose zero-pads back to n, then
transforms (the real part, which a real input keeps, is the engine's). irfftn reads a half spectrum as Hermitian:
entry k of the last axis stands for itself and its mirror n - k, so x = Re(sum_k w_k t_k e^(2 pi i jk / n)) / n
with w_k = 2, except w_0 = 1 and, for even n, w_(n/2) = 1 (whose imaginary parts are dropped); its transpose is
w * (the inverse c2c transform of g, cropped to the half spectrum).

Axes are kept as negative numbers, so the rules (and a batch of tangents in front, for ``jacfwd``) line up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..primitive import Primitive, Sample, like
from . import samples as S
from .shape import getitem, pad

Axes = tuple[int, ...]
NORMS = (None, "backward", "ortho", "forward")


def _xp_fft(x: Any) -> Any:
    return backend.namespace(x).fft  # numpy.fft or cupy.fft: the same API


def _c2c(x: Any, axes: Axes, norm: str | None = None, inverse: bool = False) -> Any:
    fft = _xp_fft(x)
    return (fft.ifftn if inverse else fft.fftn)(x, axes=axes, norm=norm)


def _r2c(x: Any, axes: Axes, norm: str | None = None) -> Any:
    return _xp_fft(x).rfftn(x, axes=axes, norm=norm)


def _c2r(x: Any, n: int, axes: Axes, norm: str | None = None) -> Any:
    s = [x.shape[a] for a in axes[:-1]] + [n]
    return _xp_fft(x).irfftn(x, s=s, axes=axes, norm=norm)


def _pad_last(g: Any, axis: int, n: int) -> Any:
    """``g`` zero-padded along ``axis`` (negative) to length ``n``."""
    widths = [(0, 0)] * g.ndim
    widths[axis] = (0, n - g.shape[axis])
    return pad(g, widths)


def _crop(g: Any, axis: int, m: int) -> Any:
    """The first ``m`` entries of ``g`` along ``axis`` (negative)."""
    return getitem(g, (Ellipsis, slice(0, m)) + (slice(None),) * (-axis - 1))


def _hermitian_weights(n: int, m: int, axis: int, ref: Any) -> Any:
    """w_k of a half spectrum of m entries standing for n: 2 for the entries with a mirror image, 1 for 0 and n/2,
    shaped to broadcast along ``axis``, on ``ref``'s device."""
    w = np.full(m, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return like(w.reshape((m,) + (1,) * (-axis - 1)), ref)


def _c2c_samples(rng: np.random.Generator) -> list[Sample]:
    return [Sample((S.complex_draw(rng, (5,)),), {"axes": (-1,)}),
            Sample((S.draw(rng, (3, 4)),), {"axes": (-2, -1), "norm": "ortho"}),
            Sample((S.complex_draw(rng, (2, 3, 2)),), {"axes": (-3, -1), "norm": "forward", "inverse": True}),
            Sample((S.complex_draw(rng, (4, 3)),), {"axes": (-2,), "inverse": True})]


fftn_c2c = Primitive(
    "fft_c2c",
    _c2c,
    vjp=lambda g, ans, x, axes, norm=None, inverse=False: fftn_c2c(g, axes=axes, norm=norm, inverse=inverse),
    jvp=lambda t, ans, x, axes, norm=None, inverse=False: fftn_c2c(t, axes=axes, norm=norm, inverse=inverse),
    batching=True,
    samples=_c2c_samples,
    reference=lambda x, axes, norm=None, inverse=False: (np.fft.ifftn if inverse else np.fft.fftn)(
        x, axes=axes, norm=norm),
)


def _r2c_vjp(g: Any, ans: Any, x: Any, axes: Axes, norm: str | None = None) -> Any:
    return fftn_c2c(_pad_last(g, axes[-1], x.shape[axes[-1]]), axes=axes, norm=norm)


rfftn_r2c = Primitive(
    "fft_r2c",
    _r2c,
    vjp=_r2c_vjp,
    jvp=lambda t, ans, x, axes, norm=None: rfftn_r2c(t, axes=axes, norm=norm),
    batching=True,
    samples=lambda rng: [Sample((S.draw(rng, (6,)),), {"axes": (-1,)}),
                         Sample((S.draw(rng, (5,)),), {"axes": (-1,), "norm": "ortho"}),
                         Sample((S.draw(rng, (3, 4)),), {"axes": (-2, -1), "norm": "forward"}),
                         Sample((S.draw(rng, (3, 2)),), {"axes": (-2,)})],
    reference=lambda x, axes, norm=None: np.fft.rfftn(x, axes=axes, norm=norm),
)


def _c2r_vjp(g: Any, ans: Any, x: Any, n: int, axes: Axes, norm: str | None = None) -> Any:
    axis = axes[-1]
    m = x.shape[axis]
    return _hermitian_weights(n, m, axis, g) * _crop(fftn_c2c(g, axes=axes, norm=norm, inverse=True), axis, m)


def _c2r_samples(rng: np.random.Generator) -> list[Sample]:
    return [Sample((S.complex_draw(rng, (4,)),), {"n": 6, "axes": (-1,)}),
            Sample((S.complex_draw(rng, (3,)),), {"n": 5, "axes": (-1,), "norm": "ortho"}),
            Sample((S.complex_draw(rng, (3, 3)),), {"n": 4, "axes": (-2, -1), "norm": "forward"}),
            Sample((S.complex_draw(rng, (1, 3)),), {"n": 1, "axes": (-2,)})]


irfftn_c2r = Primitive(
    "fft_c2r",
    _c2r,
    vjp=_c2r_vjp,
    jvp=lambda t, ans, x, n, axes, norm=None: irfftn_c2r(t, n=n, axes=axes, norm=norm),
    batching=True,
    samples=_c2r_samples,
    reference=_c2r,
)
