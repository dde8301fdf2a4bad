"""Convolution and pooling primitives on NCHW arrays: an im2col forward, and rules that are convolutions again; and
the linear layer's product ``x W^T + b``, whose weight gradient comes out in W's own layout.

The static arguments arrive normalised from ``chainrule.nn.functional`` (which holds the public API, with PyTorch's
signatures): ``stride=(sh, sw)``, ``padding=((top, bottom), (left, right))``, ``dilation=(dh, dw)``, ``groups=g``,
``kernel_size=(kh, kw)``. Weights are laid out as PyTorch's: ``(out_channels, in_channels / groups, kh, kw)``.

Convolution (a cross-correlation, as in every deep-learning library) is bilinear in the input x and the weight w:

    y[n, o, i, j] = sum_{c, p, q} xpad[n, c, i*sh + p*dh, j*sw + q*dw] * w[o, c, p, q]     (c in o's group)

Three primitives are closed under differentiation, each one's VJPs and JVPs being the others:

    conv2d(x, w)             y = x * w
    conv_transpose2d(y, w)   the adjoint of x -> x * w (the input gradient; PyTorch's transposed convolution)
    conv2d_weight(x, y)      the adjoint of w -> x * w (the weight gradient)

so gradients of gradients (and forward mode) run through the same fast kernels. Each kernel is one BLAS ``matmul``
per image against an im2col matrix (the strided windows of the padded input, copied into columns): the forward and
the weight gradient multiply by it; the input gradient multiplies into columns and adds them back onto their windows
(col2im), for stride 1 as a single strided sum over the kernel taps (see ``_Conv.fold_product``). When the output is
as wide as the input at stride 1 (``_Conv.same``: "same" padding), each tap's windows are one slice of the flattened
unpadded image, so im2col copies whole images and every product comes out in NCHW directly. With many input channels
and a narrower output, the weight gradient skips the im2col copy: one product per tap, on slices of the flattened
padded input. The forward's bias goes inside its product (a weight column against a row of ones). Python loops run
over kernel taps (kh * kw of them) and over runs of a few images (whose columns, about 2 MB, stay in cache from the
copy to the product that reads them), never over pixels; the large temporaries live in per-thread scratch buffers,
reused from call to call. The same kernels run on a GPU's arrays (each array's own library, ``backend.namespace``:
its matmul and stride tricks), with fresh temporaries there.

Pooling: ``max_pool2d`` (the whole gradient goes to the first maximum of each window in row-major order, as in
PyTorch; a NaN counts as the maximum), with its adjoint pair ``max_pool2d_scatter`` / ``max_pool2d_gather`` taking the
window argmax as an integer argument; ``avg_pool2d`` and its adjoint ``avg_pool2d_transpose``;
``adaptive_avg_pool2d`` (separable: two products with constant averaging matrices).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import backend
from ..primitive import Primitive, Sample, like
from ..tensor import bottom
from . import samples as S
from .linalg import matmul
from .reduce import sum
from .shape import reshape, transpose

# The primitives here take normalised static arguments; the public API is ``chainrule.nn.functional``.
__all__: list[str] = []

Pair = tuple[int, int]
Pads = tuple[Pair, Pair]
Array = Any  # a NumPy array, or a GPU library's (CuPy's): the kernels below run on either


# ---- scratch memory ------------------------------------------------------------------------------------------------
# The im2col matrices and other temporaries are large and short-lived: allocated fresh on every call, each costs the
# page faults of new memory (about a third of a convolution's time). They live in per-thread scratch buffers instead,
# reused from call to call; results handed back to the caller never alias them.
_SCRATCH_MAX = 1 << 27  # bytes: a larger temporary is allocated afresh each time rather than kept


class _Scratch(threading.local):
    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray[Any, Any]] = {}


_scratch_space = _Scratch()


def _settle_allocator() -> None:
    """Let the C allocator keep freed memory of up to ~30 MB for reuse, rather than unmapping it.

    glibc's malloc hands each block above its mmap threshold back to the operating system on free, so the next array
    of that size costs fresh page faults (a tenth of a millisecond per megabyte). The threshold adapts upwards to
    the largest block it has seen freed; a NumPy program gets there on its first large temporary. The scratch
    buffers above take those temporaries away, so one such block is freed here, once. Elsewhere this is a no-op.
    """
    block = np.empty(30_000_000, dtype=np.uint8)  # never touched: costs no page faults
    del block


_settle_allocator()


def _scratch(tag: str, shape: tuple[int, ...], dtype: Any, xp: Any = np) -> Array:
    """An uninitialised array of library ``xp`` for a temporary: on the host this thread's buffer ``tag``, grown as
    needed (at most one per tag is in use at a time); on a GPU a new array, as CuPy's memory pool already reuses
    freed device memory (which has no page faults to save)."""
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    if xp is not np or n * dtype.itemsize > _SCRATCH_MAX:
        return xp.empty(shape, dtype=dtype)
    buffers = _scratch_space.buffers
    buf = buffers.get(tag)
    if buf is None or buf.dtype != dtype or buf.size < n:
        buf = buffers[tag] = np.empty(n, dtype=dtype)
    return buf[:n].reshape(shape)


_BLOCK_BYTES = 1 << 21  # measured: im2col columns of ~2 MB at a time stay in cache for the product that reads them


def _blocks(n: int, per_image: int, xp: Any) -> list[slice]:
    """The batch in runs of images whose im2col columns (``per_image`` bytes each) fill about ``_BLOCK_BYTES``, so
    that the product reads the columns from cache rather than memory (5% of a convolution); one run on a GPU."""
    step = n if xp is not np else max(1, _BLOCK_BYTES // max(per_image, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


# ---- geometry ----------------------------------------------------------------------------------------------------
def _out_size(n: int, k: int, s: int, pad: Pair, d: int) -> int:
    """Output length along one axis: (n + pads - d (k - 1) - 1) // s + 1."""
    return (n + pad[0] + pad[1] - d * (k - 1) - 1) // s + 1


def _as_strided(a: Array, shape: tuple[int, ...], strides: tuple[int, ...]) -> Array:
    """A view of ``a`` with these shape and strides (in bytes), made by ``a``'s own library."""
    return backend.namespace(a).lib.stride_tricks.as_strided(a, shape, strides)


def _grid(buf: Array, hp: int, wp: int) -> Array:
    """The (N, C, Hp, Wp) image view of a flat (N, C, Hp * Wp + tail) buffer."""
    n, c = buf.shape[:2]
    s = buf.strides
    return _as_strided(buf, (n, c, hp, wp), (s[0], s[1], wp * s[2], s[2]))


def _padded(x: Array, padding: Pads, tail: int = 0, fill: float = 0.0, scratch: str | None = None) -> Array:
    """x (N, C, H, W) inside a flat (N, C, Hp * Wp + tail) buffer of ``fill`` (a scratch buffer when tagged)."""
    n, c, h, w = x.shape
    (pt, pb), (pl, pr) = padding
    hp, wp = h + pt + pb, w + pl + pr
    shape = (n, c, hp * wp + tail)
    xp = backend.namespace(x)
    buf = xp.empty(shape, dtype=x.dtype) if scratch is None else _scratch(scratch, shape, x.dtype, xp)
    image = _grid(buf, hp, wp)
    image[:, :, :pt] = fill  # the border only: the interior is written next
    image[:, :, hp - pb:] = fill
    image[:, :, pt:hp - pb, :pl] = fill
    image[:, :, pt:hp - pb, wp - pr:] = fill
    buf[:, :, hp * wp:] = fill
    image[:, :, pt:pt + h, pl:pl + w] = x
    return buf


def _image(x: Array, padding: Pads, fill: float = 0.0) -> Array:
    """x padded on the four sides with ``fill``, as an (N, C, Hp, Wp) array (x itself when there is no padding)."""
    (pt, pb), (pl, pr) = padding
    if not (pt or pb or pl or pr):
        return x
    h, w = x.shape[2:]
    return _grid(_padded(x, padding, 0, fill), h + pt + pb, w + pl + pr)


def _taps(image: Array, kernel: Pair, stride: Pair, dilation: Pair, ho: int, wo: int) -> list[Any]:
    """The kh * kw strided views (N, C, Ho, Wo) of a padded image, one per kernel position, in row-major order."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    return [image[:, :, p * dh:p * dh + sh * (ho - 1) + 1:sh, q * dw:q * dw + sw * (wo - 1) + 1:sw]
            for p in range(kh) for q in range(kw)]


class _Conv:
    """The geometry of one convolution: input (H, W), kernel, stride, padding, dilation, output (Ho, Wo).

    im2col columns come in three layouts, the last two for stride 1, where the window at kernel tap (p, q) of every
    output pixel is one contiguous slice of a flattened image. Narrow: Ho * Wo columns, one per output pixel, copied
    row by row of the windows. Same (the output as wide as the input, Wo = W, as with "same" padding): the same
    columns, read off the flattened *unpadded* image (pitch W, zero rows above and below) at the shift
    ``(p dh - pt) W + q dw - pl``; an entry whose tap falls left or right of the image wraps onto a neighbouring row
    there, so im2col zeroes those image columns for that tap column, and col2im zeroes those entries of its product
    (``clear_wraps``). Wide: Ho * Wp columns, column i * Wp + j for window (i, j), the columns j >= Wo being spare,
    read off the flattened padded image at ``p * dh * Wp + q * dw``. In both, im2col copies whole images at once and
    col2im is a single strided sum (see ``fold_product``); the same layout needs no padded copy, no spare columns in
    the product, and no copy of its result into NCHW.
    """

    __slots__ = ("h", "w", "kh", "kw", "sh", "sw", "pads", "dh", "dw", "hp", "wp", "ho", "wo", "wide", "same")

    def __init__(self, size: Sequence[int], kernel: Pair, stride: Pair, padding: Pads, dilation: Pair) -> None:
        self.h, self.w = int(size[0]), int(size[1])
        (self.kh, self.kw), (self.sh, self.sw), self.pads, (self.dh, self.dw) = kernel, stride, padding, dilation
        (pt, pb), (pl, pr) = padding
        self.hp, self.wp = self.h + pt + pb, self.w + pl + pr
        self.ho = _out_size(self.h, self.kh, self.sh, padding[0], self.dh)
        self.wo = _out_size(self.w, self.kw, self.sw, padding[1], self.dw)
        if self.ho <= 0 or self.wo <= 0:
            raise ValueError(f"convolution: input of size {(self.h, self.w)} (padded {(self.hp, self.wp)}) is "
                             f"smaller than the dilated kernel: output size {(self.ho, self.wo)} is too small")
        self.wide = stride == (1, 1)
        self.same = self.wide and self.wo == self.w

    def offset(self, p: int, q: int) -> int:
        return p * self.dh * self.wp + q * self.dw

    def flat(self, x: Array) -> Array:
        """x padded and flattened to (N, C, Hp * Wp + tail) (a scratch buffer), for wide windows."""
        return _padded(x, self.pads, (self.kw - 1) * self.dw, scratch="pad")

    def unfold(self, x: Array, ones: bool = False) -> Array:
        """Narrow im2col: (N, C, kh, kw, Ho * Wo), column l holding the input under tap (p, q) of window l; with
        ``ones``, (N, C kh kw + 1, Ho * Wo), the last row all ones (for a bias inside the product).

        The result is a scratch buffer (or x itself, for an unpadded 1x1 kernel of stride 1): valid until the next
        ``unfold`` in this thread.
        """
        n, c = x.shape[:2]
        (pt, pb), (pl, pr) = self.pads
        padded = pt or pb or pl or pr
        xp = backend.namespace(x)
        length = self.ho * self.wo
        if self.kh == self.kw == 1 and self.wide and not padded and not ones:
            return xp.ascontiguousarray(x).reshape(n, c, 1, 1, length)
        k = c * self.kh * self.kw
        buf = _scratch("cols", (n, k + int(ones), length), x.dtype, xp)
        if ones:
            buf[:, k] = 1
        # views made by splitting axes (never a copy), which costs less than as_strided (4 us a call, per run)
        cols = buf[:, :k].reshape(n, c, self.kh, self.kw, length)
        if self.same:
            # the image flattened between pt rows (and pl entries) of zeros before and pb rows (and pr) after: tap
            # (p, q) of column l is entry l + p dh W + q dw there, so the copy runs along whole images
            lead, size = pt * self.w + pl, self.h * self.w
            src = _scratch("pad", (n, c, lead + size + pb * self.w + pr), x.dtype, xp)
            src[..., :lead] = 0
            src[..., lead + size:] = 0
            image = src[..., lead:lead + size].reshape(n, c, self.h, self.w)
            image[...] = x
            s = src.strides
            view = _as_strided(src, cols.shape, (s[0], s[1], self.dh * self.w * s[2], self.dw * s[2], s[2]))
            # Tap column q reads the image shifted by q dw - pl along the flattened rows: the entries falling off
            # a row's end read the next row's first columns (or the last ones of the row before), which that tap
            # reads nowhere else, so they are zeroed in the image for it: the taps right of their pixel first, in
            # order of shift, then, the image restored, those left of it.
            first = -(-pl // self.dw)  # the first tap column not left of its pixel
            for q in range(first, self.kw):
                image[..., :q * self.dw - pl] = 0
                xp.copyto(cols[:, :, :, q], view[:, :, :, q])
            if first and pr:
                image[...] = x
            for q in reversed(range(first)):
                image[..., max(self.w + q * self.dw - pl, 0):] = 0
                xp.copyto(cols[:, :, :, q], view[:, :, :, q])
            return buf if ones else cols
        image = _grid(_padded(x, self.pads, scratch="pad"), self.hp, self.wp) if padded else x
        s = image.strides
        view = _as_strided(image, (n, c, self.kh, self.kw, self.ho, self.wo),
                           (s[0], s[1], self.dh * s[2], self.dw * s[3], self.sh * s[2], self.sw * s[3]))
        xp.copyto(cols.reshape(view.shape), view)
        return buf if ones else cols

    def clear_wraps(self, cols: Array) -> None:
        """Zero the entries of same-layout columns (..., kh * kw rows per channel, Ho * W) whose tap falls left or
        right of the image, which the flat shift would add onto a neighbouring row instead."""
        rows = cols.strides[-2]
        e = cols.itemsize
        planes = math.prod(cols.shape[:-1]) // (self.kh * self.kw)
        grid = _as_strided(cols, (planes, self.kh, self.kw, self.ho, self.w),
                           (self.kh * self.kw * rows, self.kw * rows, rows, self.w * e, e))
        pl = self.pads[1][0]
        for q in range(self.kw):
            left, right = pl - q * self.dw, max(self.w + pl - q * self.dw, 0)  # the columns of the image
            if left > 0:
                grid[:, :, q, :, :left] = 0
            if right < self.w:
                grid[:, :, q, :, right:] = 0

    def widen(self, y: Array) -> Array:
        """An output-shaped array (N, O, Ho, Wo) as wide columns (N, O, Ho * Wp), zero in the spare columns (a
        scratch buffer)."""
        n, o = y.shape[:2]
        xp = backend.namespace(y)
        if self.wp == self.wo:
            return xp.ascontiguousarray(y).reshape(n, o, self.ho * self.wp)
        out = _scratch("widen", (n, o, self.ho, self.wp), y.dtype, xp)
        out[..., :self.wo] = y
        out[..., self.wo:] = 0
        return out.reshape(n, o, self.ho * self.wp)

    def fold_product(self, a: Array, y: Array, groups: int) -> Array:
        """col2im of the columns ``a @ y`` (a: (g, Cg kh kw, Og), y: an (N, O, Ho, Wo) output-shaped array): each
        column added back onto its window, the adjoint of ``unfold``; a new (N, C, H, W) array."""
        n, o = y.shape[:2]
        k = a.shape[-2]
        c = groups * k // (self.kh * self.kw)
        dtype = np.result_type(a.dtype, y.dtype)
        xp = backend.namespace(y)
        (pt, _), (pl, _) = self.pads
        if not self.wide:
            length = self.ho * self.wo
            cols = xp.matmul(a, xp.ascontiguousarray(y).reshape(n, groups, o // groups, length),
                             out=_scratch("cols", (n, groups, k, length), dtype, xp))
            image = _scratch("fold", (n, c, self.hp, self.wp), dtype, xp)
            image.fill(0)
            taps = _taps(image, (self.kh, self.kw), (self.sh, self.sw), (self.dh, self.dw), self.ho, self.wo)
            parts = cols.reshape(n, c, self.kh * self.kw, self.ho, self.wo)
            for t, tap in enumerate(taps):
                tap += parts[:, :, t]
            return image[:, :, pt:pt + self.h, pl:pl + self.w].copy()
        # Each row of columns sits between zero margins (a row's right margin is the next row's left one), wide
        # enough that for every pixel m of the flattened image (padded; unpadded in the same layout) the column
        # entries that land on it are found at one strided offset per tap (m - shift(p, q), inside the row or in its
        # zeros), so col2im is a single sum over the kh * kw taps.
        same = self.same
        pitch = self.w if same else self.wp
        length = self.ho * pitch
        base = pt * self.w + pl if same else 0  # shift(p, q) = p dh pitch + q dw - base
        size = self.h * self.w if same else self.hp * self.wp + (self.kw - 1) * self.dw
        reach = (self.kh - 1) * self.dh * pitch + (self.kw - 1) * self.dw
        margin = max(reach - base, size - length + base, 0)
        stride = length + margin
        rows = n * groups * k
        buf = _scratch("fold", (margin + rows * stride,), dtype, xp)
        buf[:margin] = 0
        e = buf.itemsize
        _as_strided(buf[margin + length:], (rows, margin), (stride * e, e))[...] = 0
        middle = _as_strided(buf[margin:], (n, groups, k, length),
                             (groups * k * stride * e, k * stride * e, stride * e, e))
        spread = _as_strided(buf[margin + base:], (n, c, self.kh, self.kw, size),
                             (groups * k * stride * e, self.kh * self.kw * stride * e,
                              (self.kw * stride - self.dh * pitch) * e, (stride - self.dw) * e, e))
        image = xp.empty((n, c, size), dtype=dtype) if same else _scratch("image", (n, c, size), dtype, xp)
        for run in _blocks(n, groups * k * stride * e, xp):  # each run's columns summed while still in cache
            cols = xp.ascontiguousarray(y[run]) if same else self.widen(y[run])
            xp.matmul(a, cols.reshape(-1, groups, o // groups, length), out=middle[run])
            if same:
                self.clear_wraps(middle[run])
            elif self.wp > self.wo:  # the spare columns' products: zeros, or NaN where a holds an infinity
                part = middle[run]
                _as_strided(part[..., self.wo:], (*part.shape[:3], self.ho, self.wp - self.wo),
                            (*part.strides[:3], self.wp * e, e))[...] = 0
            xp.sum(spread[run], axis=(2, 3), out=image[run])
        if same:
            return image.reshape(n, c, self.h, self.w)
        return _grid(image, self.hp, self.wp)[:, :, pt:pt + self.h, pl:pl + self.w].copy()


# ---- convolution: three primitives, each differentiated by the others ----------------------------------------------
def _conv2d_forward(x: Any, w: Any, b: Any = None, stride: Pair = (1, 1), padding: Pads = ((0, 0), (0, 0)),
                    dilation: Pair = (1, 1), groups: int = 1) -> Any:
    o, cg, kh, kw = w.shape
    n = x.shape[0]
    geo = _Conv(x.shape[2:], (kh, kw), stride, padding, dilation)
    k, length = cg * kh * kw, geo.ho * geo.wo
    xp = backend.namespace(x)
    dtype = np.result_type(x.dtype, w.dtype)
    # a bias of the product's dtype goes inside the product, as a last weight column against a row of ones
    inside = groups == 1 and b is not None and hasattr(b, "dtype") and b.dtype == dtype
    wm = w.reshape(o, k) if groups == 1 else w.reshape(groups, o // groups, k)
    if inside:
        wm = xp.concatenate([wm, b.reshape(o, 1)], axis=1)
    out = xp.empty((n, o, length) if groups == 1 else (n, groups, o // groups, length), dtype=dtype)
    for run in _blocks(n, groups * k * length * x.itemsize, xp):
        part = out[run]
        xp.matmul(wm, geo.unfold(x[run], ones=inside).reshape((*part.shape[:-2], k + int(inside), length)), out=part)
    out = out.reshape(n, o, geo.ho, geo.wo)
    if b is not None and not inside:
        out += b.reshape(1, o, 1, 1)
    return out


def _conv_transpose2d_forward(y: Any, w: Any, stride: Pair = (1, 1), padding: Pads = ((0, 0), (0, 0)),
                              dilation: Pair = (1, 1), groups: int = 1, in_size: Pair = (1, 1)) -> Any:
    """The adjoint of x -> conv2d(x, w) for inputs x of spatial size ``in_size``, applied to y."""
    o, cg, kh, kw = w.shape
    geo = _Conv(in_size, (kh, kw), stride, padding, dilation)
    if y.shape[2:] != (geo.ho, geo.wo):
        raise ValueError(f"conv_transpose2d: an input of spatial size {tuple(y.shape[2:])} does not come from a "
                         f"convolution of an image of size {tuple(in_size)} (that gives {(geo.ho, geo.wo)})")
    # the transposed weight made contiguous (it is small): BLAS multiplies a plain matrix faster (4%, measured)
    a = backend.namespace(w).ascontiguousarray(w.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1))
    return geo.fold_product(a, y, groups)


# measured: below this the per-tap products are too thin to beat one im2col product; the same layout's im2col (one
# long-run copy) beats them at every width (4.4 against 5.0 ms for 16 -> 32 channels, 6.8 against 7.8 for 64 -> 64)
_TAPWISE_MIN_CHANNELS = 24


def _conv2d_weight_forward(x: Any, y: Any, stride: Pair = (1, 1), padding: Pads = ((0, 0), (0, 0)),
                           dilation: Pair = (1, 1), groups: int = 1, kernel_size: Pair = (1, 1)) -> Any:
    """The adjoint of w -> conv2d(x, w) for weights of spatial size ``kernel_size``, applied to y."""
    n, c = x.shape[:2]
    o = y.shape[1]
    kh, kw = kernel_size
    geo = _Conv(x.shape[2:], (kh, kw), stride, padding, dilation)
    if y.shape[2:] != (geo.ho, geo.wo):
        raise ValueError(f"conv2d_weight: y of spatial size {tuple(y.shape[2:])} does not match the convolution's "
                         f"output size {(geo.ho, geo.wo)}")
    cg, og = c // groups, o // groups
    xp = backend.namespace(x)
    if not geo.wide or geo.same or cg < _TAPWISE_MIN_CHANNELS:
        length, k = geo.ho * geo.wo, cg * kh * kw
        gy = xp.ascontiguousarray(y).reshape(n, groups, og, length)
        each = xp.empty((n, groups, og, k), dtype=np.result_type(x.dtype, y.dtype))  # one product per image
        for run in _blocks(n, groups * k * length * x.itemsize, xp):
            cols = geo.unfold(x[run]).reshape(-1, groups, k, length)
            xp.matmul(gy[run], cols.transpose(0, 1, 3, 2), out=each[run])
        return each.sum(axis=0).reshape(o, cg, kh, kw)
    # wide windows are slices of the flattened padded input: one product per kernel tap, without an im2col copy
    # (which pays once the products are wide enough, with many input channels per group)
    length = geo.ho * geo.wp
    gy = geo.widen(y).reshape(n, groups, og, length)
    buf = geo.flat(x)
    b = buf.strides
    image = _as_strided(buf, (n, groups, cg, buf.shape[2]), (b[0], cg * b[1], b[1], b[2]))
    out = xp.empty((groups, og, cg, kh, kw), dtype=np.result_type(x.dtype, y.dtype))
    for p in range(kh):
        for q in range(kw):
            off = geo.offset(p, q)
            window = image[..., off:off + length]
            out[..., p, q] = xp.matmul(gy, window.transpose(0, 1, 3, 2)).sum(axis=0)
    return out.reshape(o, cg, kh, kw)


def _conv_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    return {"stride": kw.get("stride", (1, 1)), "padding": kw.get("padding", ((0, 0), (0, 0))),
            "dilation": kw.get("dilation", (1, 1)), "groups": kw.get("groups", 1)}


def _spatial(a: Any) -> Pair:
    return (int(a.shape[2]), int(a.shape[3]))


def _channel_sums(g: Any) -> Any:
    """g (N, C, H, W) summed over all axes but C: a product with a vector of ones (BLAS: thrice np.sum's speed)."""
    n, c, h, w = g.shape
    return sum(matmul(reshape(g, (n, c, h * w)), like(np.ones(h * w, dtype=g.dtype), g)), axis=0)


# y = conv(x, w) + b:  dL/dx = conv_transpose(g, w),  dL/dw = conv_weight(x, g),  dL/db = g summed over all but
# the channel axis. Linear in each input: the JVPs are convolutions (and the bias broadcast).
conv2d = Primitive(
    "conv2d",
    _conv2d_forward,
    vjp=(lambda g, ans, x, w, b=None, **kw: conv_transpose2d(g, w, in_size=_spatial(x), **kw),
         lambda g, ans, x, w, b=None, **kw: conv2d_weight(x, g, kernel_size=_spatial(w), **kw),
         lambda g, ans, x, w, b=None, **kw: _channel_sums(g)),
    jvp=(lambda t, ans, x, w, b=None, **kw: conv2d(t, w, None, **kw),
         lambda t, ans, x, w, b=None, **kw: conv2d(x, t, None, **kw),
         lambda t, ans, x, w, b=None, **kw: reshape(t, (1, -1, 1, 1))),
    samples=lambda rng: _conv_samples(rng, "conv2d"),
    reference=lambda x, w, b=None, **kw: _reference_conv2d(x, w, b, **_conv_kwargs(kw)),
)
# z = conv_transpose(y, w) = A_w^T y:  dL/dy = conv(G, w),  dL/dw = conv_weight(G, y)  (<G, A_w^T y> = <A_w G, y>)
conv_transpose2d = Primitive(
    "conv_transpose2d",
    _conv_transpose2d_forward,
    vjp=(lambda g, ans, y, w, in_size, **kw: conv2d(g, w, None, **kw),
         lambda g, ans, y, w, in_size, **kw: conv2d_weight(g, y, kernel_size=_spatial(w), **kw)),
    jvp=(lambda t, ans, y, w, in_size, **kw: conv_transpose2d(t, w, in_size=in_size, **kw),
         lambda t, ans, y, w, in_size, **kw: conv_transpose2d(y, t, in_size=in_size, **kw)),
    samples=lambda rng: _conv_samples(rng, "conv_transpose2d"),
    reference=lambda y, w, in_size, **kw: _reference_conv_transpose2d(y, w, in_size=in_size, **_conv_kwargs(kw)),
)
# v = conv_weight(x, y):  <G, conv_weight(x, y)> = <conv(x, G), y> = <x, conv_transpose(y, G)>
conv2d_weight = Primitive(
    "conv2d_weight",
    _conv2d_weight_forward,
    vjp=(lambda g, ans, x, y, kernel_size, **kw: conv_transpose2d(y, g, in_size=_spatial(x), **kw),
         lambda g, ans, x, y, kernel_size, **kw: conv2d(x, g, None, **kw)),
    jvp=(lambda t, ans, x, y, kernel_size, **kw: conv2d_weight(t, y, kernel_size=kernel_size, **kw),
         lambda t, ans, x, y, kernel_size, **kw: conv2d_weight(x, t, kernel_size=kernel_size, **kw)),
    samples=lambda rng: _conv_samples(rng, "conv2d_weight"),
    reference=lambda x, y, kernel_size, **kw: _reference_conv2d_weight(x, y, kernel_size=kernel_size,
                                                                       **_conv_kwargs(kw)),
)


# ---- linear layers ---------------------------------------------------------------------------------------------------
def _linear_forward(x: Any, w: Any, b: Any = None) -> Any:
    """x W^T (+ b), the bias added in place into the product (no second output-sized array)."""
    out = x @ w.T
    if b is None:
        return out
    if out.dtype != np.result_type(out.dtype, getattr(b, "dtype", b)):  # b: an array or a Python scalar
        return out + b
    out += b
    return out


def _rows(a: Any) -> Any:
    """``a`` as a matrix: its leading axes flattened into one (a matrix as it is, a vector as one row)."""
    return a if a.ndim == 2 else reshape(a, (-1, a.shape[-1]))


def _linear_weight_vjp(g: Any, x: Any) -> Any:
    """dL/dW = g^T x summed over the leading axes, computed in W's own (out, in) layout: the transpose of x^T g would
    be a transposed view, which ``.grad`` then copies (a slow transposing copy; 5 ms for 1024 x 1024 float32)."""
    return matmul(transpose(_rows(g)), _rows(x))


def _linear_bias_vjp(g: Any) -> Any:
    """dL/db = g summed over the leading axes, as the product 1^T g: BLAS's matrix-vector product beats NumPy's sum
    down the columns (2.8 us against 5.6 for 128 x 256 float32)."""
    if g.ndim == 1:
        return g
    g2 = _rows(g)
    # on g's device (also where g is a box of cr.compile, whose device like() does not read)
    ones = backend.to_device(np.ones(g2.shape[0], dtype=g2.dtype), backend.device_of(bottom(g2)))
    return matmul(ones, g2)


# y = x W^T + b, W of shape (out, in), x of shape (..., in): dL/dx = g W, dL/dW = g^T x, dL/db = g summed over the
# leading axes. Bilinear in x and W: the JVPs are linear layers again.
linear = Primitive(
    "linear",
    _linear_forward,
    vjp=(lambda g, ans, x, w, b=None: matmul(g, w),
         lambda g, ans, x, w, b=None: _linear_weight_vjp(g, x),
         lambda g, ans, x, w, b=None: _linear_bias_vjp(g)),
    jvp=(lambda t, ans, x, w, b=None: linear(t, w),
         lambda t, ans, x, w, b=None: linear(x, t),
         lambda t, ans, x, w, b=None: t),
    samples=lambda rng: [Sample((S.draw(rng, (3, 4)), S.draw(rng, (2, 4)), S.draw(rng, (2,)))),
                         Sample((S.draw(rng, (4,)), S.draw(rng, (2, 4)), None)),
                         Sample((S.draw(rng, (2, 3, 4)), S.draw(rng, (5, 4)), S.draw(rng, (5,)))),
                         Sample((S.complex_draw(rng, (3, 2)), S.complex_draw(rng, (2, 2)), S.draw(rng, (2,))))],
    reference=lambda x, w, b=None: x @ w.T if b is None else x @ w.T + b,
)


# ---- max pooling: the first maximum of each window takes the gradient ----------------------------------------------
def _pool_geometry(x_shape: Sequence[int], kernel_size: Pair, stride: Pair, padding: Pads,
                   dilation: Pair) -> tuple[int, int]:
    ho = _out_size(x_shape[2], kernel_size[0], stride[0], padding[0], dilation[0])
    wo = _out_size(x_shape[3], kernel_size[1], stride[1], padding[1], dilation[1])
    if ho <= 0 or wo <= 0:
        raise ValueError(f"pooling: input of spatial size {tuple(x_shape[2:])} is too small for the window: output "
                         f"size {(ho, wo)}")
    return ho, wo


def _max_pool2d_forward(x: Any, kernel_size: Pair, stride: Pair, padding: Pads = ((0, 0), (0, 0)),
                        dilation: Pair = (1, 1)) -> Any:
    ho, wo = _pool_geometry(x.shape, kernel_size, stride, padding, dilation)
    taps = _taps(_image(x, padding, -math.inf), kernel_size, stride, dilation, ho, wo)
    out = taps[0].copy()
    for tap in taps[1:]:
        np.maximum(out, tap, out=out)  # propagates NaN, as PyTorch's max pooling does
    return out


def _window_argmax(x: Any, ans: Any, kernel_size: Pair, stride: Pair, padding: Pads = ((0, 0), (0, 0)),
                   dilation: Pair = (1, 1)) -> Array:
    """The tap index (row-major within the window) of the first maximum of each window, given the maxima ``ans``;
    a NaN counts as the maximum. Values only: the argmax carries no gradient."""
    x, ans = bottom(x), bottom(ans)  # the values at the bottom of any transform's boxes, on their device
    taps = _taps(_image(x, padding, -math.inf), kernel_size, stride, dilation, *ans.shape[2:])
    last = len(taps) - 1
    idx = backend.namespace(ans).full(ans.shape, last, dtype=np.int8 if last < 127 else np.intp)
    nan = np.isnan(ans)
    nan = nan if nan.any() else None
    for k in range(last - 1, -1, -1):  # backwards, so the first hit is written last
        hit = taps[k] == ans
        if nan is not None:
            hit |= nan & np.isnan(taps[k])
        idx -= (idx - k) * hit  # idx = k where hit, arithmetic rather than a branchy select
    return idx


def _max_pool2d_gather_forward(x: Any, idx: Any, kernel_size: Pair, stride: Pair,
                               padding: Pads = ((0, 0), (0, 0)), dilation: Pair = (1, 1)) -> Any:
    """out[n, c, i, j] = x at tap idx[n, c, i, j] of window (i, j) (0 where that tap falls on padding)."""
    taps = _taps(_image(x, padding), kernel_size, stride, dilation, *idx.shape[2:])
    finite = bool(np.isfinite(x).all())
    out = backend.namespace(x).zeros(idx.shape, dtype=x.dtype)
    for k, tap in enumerate(taps):
        out += tap * (idx == k) if finite else np.where(idx == k, tap, 0)
    return out


def _max_pool2d_scatter_forward(g: Any, idx: Any, kernel_size: Pair, stride: Pair,
                                padding: Pads = ((0, 0), (0, 0)), dilation: Pair = (1, 1),
                                in_size: Pair = (1, 1)) -> Any:
    """The adjoint of the gather: each g[n, c, i, j] added onto the input element at tap idx of window (i, j)."""
    (pt, pb), (pl, pr) = padding
    h, w = in_size
    n, c = g.shape[:2]
    xp = backend.namespace(g)
    image = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=g.dtype)
    taps = _taps(image, kernel_size, stride, dilation, *g.shape[2:])
    finite = bool(np.isfinite(g).all())
    for k, tap in enumerate(taps):
        tap += g * (idx == k) if finite else np.where(idx == k, g, 0)
    return xp.ascontiguousarray(image[:, :, pt:pt + h, pl:pl + w])


def _pool_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    return {"kernel_size": kw["kernel_size"], "stride": kw["stride"], "padding": kw.get("padding", ((0, 0), (0, 0))),
            "dilation": kw.get("dilation", (1, 1))}


# Max pooling is locally linear: y = gather(x, argmax(x)). Its VJP scatters g to the argmax, its JVP gathers the
# tangent there; gather and scatter are each other's adjoints (and linear in their array argument).
max_pool2d = Primitive(
    "max_pool2d",
    _max_pool2d_forward,
    vjp=lambda g, ans, x, **kw: max_pool2d_scatter(g, _window_argmax(x, ans, **kw), in_size=_spatial(x), **kw),
    jvp=lambda t, ans, x, **kw: max_pool2d_gather(t, _window_argmax(x, ans, **kw), **kw),
    samples=lambda rng: _pool_samples(rng, "max"),
    reference=lambda x, **kw: _reference_max_pool2d(x, **_pool_kwargs(kw)),
)
max_pool2d_gather = Primitive(
    "max_pool2d_gather",
    _max_pool2d_gather_forward,
    vjp=(lambda g, ans, x, idx, **kw: max_pool2d_scatter(g, idx, in_size=_spatial(x), **kw), None),
    jvp=(lambda t, ans, x, idx, **kw: max_pool2d_gather(t, idx, **kw), None),
    samples=lambda rng: _pool_samples(rng, "gather"),
    reference=lambda x, idx, **kw: _reference_gather(x, idx, **_pool_kwargs(kw)),
)
max_pool2d_scatter = Primitive(
    "max_pool2d_scatter",
    _max_pool2d_scatter_forward,
    vjp=(lambda g, ans, y, idx, in_size, **kw: max_pool2d_gather(g, idx, **kw), None),
    jvp=(lambda t, ans, y, idx, in_size, **kw: max_pool2d_scatter(t, idx, in_size=in_size, **kw), None),
    samples=lambda rng: _pool_samples(rng, "scatter"),
    reference=lambda y, idx, in_size, **kw: _reference_scatter(y, idx, in_size=in_size, **_pool_kwargs(kw)),
)


# ---- average pooling ---------------------------------------------------------------------------------------------
def _counts(n: int, k: int, s: int, pad: Pair, out: int, include_pad: bool) -> np.ndarray[Any, Any]:
    """How many elements each window covers along one axis: inside [-pad, n + pad) (``count_include_pad``, the
    right padding counting only up to the symmetric pad) or inside the input [0, n)."""
    start = np.arange(out) * s - pad[0]
    end = np.minimum(start + k, n + pad[0])
    if include_pad:
        return end - start
    return np.minimum(end, n) - np.maximum(start, 0)


def _avg_scale(x_shape: Sequence[int], kernel_size: Pair, stride: Pair, padding: Pads, out: Pair,
               count_include_pad: bool, divisor_override: int | None, ref: Array) -> Any:
    """1 / divisor for every output position: a (Ho, Wo) array of ``ref``'s dtype and device, the array it scales
    (a Python float with ``divisor_override``)."""
    if divisor_override is not None:
        return 1.0 / divisor_override
    ch = _counts(x_shape[2], kernel_size[0], stride[0], padding[0], out[0], count_include_pad)
    cw = _counts(x_shape[3], kernel_size[1], stride[1], padding[1], out[1], count_include_pad)
    scale = 1.0 / np.maximum(np.outer(ch, cw), 1)  # a count is >= 1 when pad <= kernel / 2
    return like(scale.astype(ref.dtype), ref)


def _avg_pool2d_forward(x: Any, kernel_size: Pair, stride: Pair, padding: Pads = ((0, 0), (0, 0)),
                        count_include_pad: bool = True, divisor_override: int | None = None) -> Any:
    ho, wo = _pool_geometry(x.shape, kernel_size, stride, padding, (1, 1))
    taps = _taps(_image(x, padding), kernel_size, stride, (1, 1), ho, wo)
    out = taps[0].copy()
    for tap in taps[1:]:
        out += tap
    out *= _avg_scale(x.shape, kernel_size, stride, padding, (ho, wo), count_include_pad, divisor_override, x)
    return out


def _avg_pool2d_transpose_forward(g: Any, kernel_size: Pair, stride: Pair, padding: Pads = ((0, 0), (0, 0)),
                                  count_include_pad: bool = True, divisor_override: int | None = None,
                                  in_size: Pair = (1, 1)) -> Any:
    """The adjoint of average pooling: each g / divisor spread evenly back over its window."""
    (pt, pb), (pl, pr) = padding
    h, w = in_size
    n, c, ho, wo = g.shape
    xp = backend.namespace(g)
    image = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=g.dtype)
    shape = (n, c, h, w)
    spread = g * _avg_scale(shape, kernel_size, stride, padding, (ho, wo), count_include_pad, divisor_override, g)
    for tap in _taps(image, kernel_size, stride, (1, 1), ho, wo):
        tap += spread
    return xp.ascontiguousarray(image[:, :, pt:pt + h, pl:pl + w])


def _avg_kwargs(kw: dict[str, Any]) -> dict[str, Any]:
    return {"kernel_size": kw["kernel_size"], "stride": kw["stride"], "padding": kw.get("padding", ((0, 0), (0, 0))),
            "count_include_pad": kw.get("count_include_pad", True), "divisor_override": kw.get("divisor_override")}


# average pooling is linear: its VJP is its adjoint, whose VJP is average pooling again
avg_pool2d = Primitive(
    "avg_pool2d",
    _avg_pool2d_forward,
    vjp=lambda g, ans, x, **kw: avg_pool2d_transpose(g, in_size=_spatial(x), **kw),
    jvp=lambda t, ans, x, **kw: avg_pool2d(t, **kw),
    samples=lambda rng: _pool_samples(rng, "avg"),
    reference=lambda x, **kw: _reference_avg_pool2d(x, **_avg_kwargs(kw)),
)
avg_pool2d_transpose = Primitive(
    "avg_pool2d_transpose",
    _avg_pool2d_transpose_forward,
    vjp=lambda g, ans, y, in_size, **kw: avg_pool2d(g, **kw),
    jvp=lambda t, ans, y, in_size, **kw: avg_pool2d_transpose(t, in_size=in_size, **kw),
    samples=lambda rng: _pool_samples(rng, "avg_transpose"),
    reference=lambda y, in_size, **kw: _reference_avg_pool2d_transpose(y, in_size=in_size, **_avg_kwargs(kw)),
)


# ---- adaptive average pooling ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _averaging(n: int, out: int) -> np.ndarray[Any, Any]:
    """A (out, n) matrix averaging the windows [floor(i n / out), ceil((i + 1) n / out)) of a length-n axis."""
    i = np.arange(out)
    start = (i * n) // out
    end = -((-(i + 1) * n) // out)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    a = inside / (end - start)[:, None]
    a.flags.writeable = False
    return a


def _adaptive_matrices(x: Any, output_size: Pair) -> tuple[Any, Any]:
    """The averaging matrices of x's height and width, of x's dtype and on x's device."""
    a_h = _averaging(int(x.shape[-2]), output_size[0]).astype(x.dtype, copy=False)
    a_w = _averaging(int(x.shape[-1]), output_size[1]).astype(x.dtype, copy=False)
    return like(a_h, x), like(a_w, x)


def _adaptive_avg_pool2d_forward(x: Any, output_size: Pair) -> Any:
    a_h, a_w = _adaptive_matrices(x, output_size)
    xp = backend.namespace(x)
    return xp.matmul(xp.matmul(a_h, x), a_w.T)


def _adaptive_vjp(g: Any, ans: Any, x: Any, output_size: Pair) -> Any:
    """y = A_h x A_w^T, so dL/dx = A_h^T g A_w (the matrices are constants)."""
    a_h, a_w = _adaptive_matrices(x, output_size)
    return matmul(matmul(a_h.T, g), a_w)


# each output is the mean of a rectangle, and a rectangle's mean is separable: y = A_h x A_w^T
adaptive_avg_pool2d = Primitive(
    "adaptive_avg_pool2d",
    _adaptive_avg_pool2d_forward,
    vjp=_adaptive_vjp,
    jvp=lambda t, ans, x, output_size: adaptive_avg_pool2d(t, output_size=output_size),
    samples=lambda rng: [Sample((S.draw(rng, (1, 1, 3, 4)),), {"output_size": (2, 3)}),
                         Sample((S.draw(rng, (2, 1, 2, 3)),), {"output_size": (1, 1)}),
                         Sample((S.draw(rng, (1, 2, 3, 2)),), {"output_size": (3, 2)}),
                         Sample((S.draw(rng, (1, 1, 5, 3)),), {"output_size": (3, 2)})],
    reference=lambda x, output_size: _reference_adaptive_avg_pool2d(x, output_size),
)


# ---- sample inputs for the generated tests: small, with every option exercised ---------------------------------------
def _conv_cases() -> list[tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]]:
    """(x shape, w shape, static kwargs): plain, padded (asymmetric), strided, dilated, grouped."""
    return [
        ((1, 1, 3, 3), (1, 1, 2, 2), {}),
        ((2, 1, 3, 3), (2, 1, 2, 2), {"padding": ((1, 0), (0, 1))}),
        ((1, 1, 4, 3), (1, 1, 2, 2), {"stride": (2, 1), "padding": ((1, 1), (0, 0))}),
        ((1, 1, 4, 4), (1, 1, 2, 2), {"dilation": (2, 1), "stride": (1, 2)}),
        ((1, 2, 3, 3), (2, 1, 2, 2), {"groups": 2, "padding": ((0, 1), (1, 0))}),
        ((1, 2, 3, 2), (1, 2, 2, 1), {"stride": (2, 2), "padding": ((1, 1), (1, 1)), "dilation": (2, 1)}),
    ]


def _conv_samples(rng: np.random.Generator, which: str) -> list[Sample]:
    out: list[Sample] = []
    for xs, ws, kw in _conv_cases():
        x, w = S.draw(rng, xs, "any"), S.draw(rng, ws, "any")
        if which == "conv2d":
            bias = S.draw(rng, (ws[0],), "any") if len(out) % 2 else None
            out.append(Sample((x, w, bias), dict(kw)))
            continue
        y = _conv2d_forward(x, w, None, **_conv_kwargs(kw))
        y = S.draw(rng, y.shape, "any")
        if which == "conv_transpose2d":
            out.append(Sample((y, w), {**kw, "in_size": xs[2:]}))
        else:
            out.append(Sample((x, y), {**kw, "kernel_size": ws[2:]}))
    return out


def _pool_cases(which: str) -> list[tuple[tuple[int, ...], dict[str, Any]]]:
    """(x shape, static kwargs): plain, overlapping, padded and strided, ceil-mode padding; dilated for max."""
    cases: list[tuple[tuple[int, ...], dict[str, Any]]] = [
        ((1, 1, 4, 4), {"kernel_size": (2, 2), "stride": (2, 2)}),
        ((2, 1, 3, 3), {"kernel_size": (2, 2), "stride": (1, 1)}),
        ((1, 1, 3, 4), {"kernel_size": (3, 2), "stride": (2, 1), "padding": ((1, 1), (1, 1))}),
        ((1, 2, 3, 3), {"kernel_size": (2, 2), "stride": (2, 2), "padding": ((0, 1), (0, 1))}),  # ceil_mode
    ]
    if which in ("max", "gather", "scatter"):
        cases.append(((1, 1, 4, 4), {"kernel_size": (2, 2), "stride": (1, 2), "dilation": (2, 1)}))
    return cases


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """Values at least 0.15 apart (no ties, so finite differences of a max see a smooth function), either sign."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n / 2) * 0.25 + rng.uniform(-0.05, 0.05, shape)


def _pool_samples(rng: np.random.Generator, which: str) -> list[Sample]:
    out = []
    for i, (xs, kw) in enumerate(_pool_cases(which)):
        x = _distinct(rng, xs)
        if which == "max":
            out.append(Sample((x,), dict(kw)))
        elif which in ("gather", "scatter"):
            ho, wo = _pool_geometry(xs, kw["kernel_size"], kw["stride"], kw.get("padding", ((0, 0), (0, 0))),
                                    kw.get("dilation", (1, 1)))
            idx = rng.integers(0, kw["kernel_size"][0] * kw["kernel_size"][1], size=(xs[0], xs[1], ho, wo))
            if which == "gather":
                out.append(Sample((x, idx), dict(kw)))
            else:
                out.append(Sample((S.draw(rng, idx.shape, "any"), idx), {**kw, "in_size": xs[2:]}))
        else:
            avg: dict[str, Any] = {**kw, "count_include_pad": i % 2 == 0}
            if i == 3:
                avg["divisor_override"] = 3
            if which == "avg":
                out.append(Sample((x,), avg))
            else:
                y = _avg_pool2d_forward(x, **avg)
                out.append(Sample((S.draw(rng, y.shape, "any"),), {**avg, "in_size": xs[2:]}))
    return out


# ---- references: direct loops over output positions (independent of the im2col kernels) -----------------------------
def _window(o: int, s: int, d: int, k: int) -> np.ndarray[Any, Any]:
    return o * s + d * np.arange(k)


def _pad_ref(x: Any, padding: Pads, fill: float = 0.0) -> Any:
    return np.pad(x, ((0, 0), (0, 0), padding[0], padding[1]), constant_values=fill)


def _reference_conv2d(x: Any, w: Any, b: Any, stride: Pair, padding: Pads, dilation: Pair, groups: int) -> Any:
    xp = _pad_ref(x, padding)
    o, cg, kh, kw = w.shape
    ho = _out_size(x.shape[2], kh, stride[0], padding[0], dilation[0])
    wo = _out_size(x.shape[3], kw, stride[1], padding[1], dilation[1])
    og = o // groups
    out = np.zeros((x.shape[0], o, ho, wo), dtype=np.result_type(x, w))
    for g in range(groups):
        xg, wg = xp[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og]
        for i in range(ho):
            for j in range(wo):
                rows = _window(i, stride[0], dilation[0], kh)
                cols = _window(j, stride[1], dilation[1], kw)
                patch = xg[:, :, rows][:, :, :, cols]
                out[:, g * og:(g + 1) * og, i, j] = np.einsum("nchw,ochw->no", patch, wg)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def _reference_conv_transpose2d(y: Any, w: Any, stride: Pair, padding: Pads, dilation: Pair, groups: int,
                                in_size: Pair) -> Any:
    o, cg, kh, kw = w.shape
    og = o // groups
    (pt, pb), (pl, pr) = padding
    xp = np.zeros((y.shape[0], cg * groups, in_size[0] + pt + pb, in_size[1] + pl + pr), dtype=np.result_type(y, w))
    for g in range(groups):
        for i in range(y.shape[2]):
            for j in range(y.shape[3]):
                rows = _window(i, stride[0], dilation[0], kh)
                cols = _window(j, stride[1], dilation[1], kw)
                contrib = np.einsum("no,ochw->nchw", y[:, g * og:(g + 1) * og, i, j], w[g * og:(g + 1) * og])
                xp[np.ix_(np.arange(y.shape[0]), np.arange(g * cg, (g + 1) * cg), rows, cols)] += contrib
    return xp[:, :, pt:pt + in_size[0], pl:pl + in_size[1]]


def _reference_conv2d_weight(x: Any, y: Any, stride: Pair, padding: Pads, dilation: Pair, groups: int,
                             kernel_size: Pair) -> Any:
    xp = _pad_ref(x, padding)
    kh, kw = kernel_size
    o = y.shape[1]
    cg = x.shape[1] // groups
    og = o // groups
    out = np.zeros((o, cg, kh, kw), dtype=np.result_type(x, y))
    for g in range(groups):
        for i in range(y.shape[2]):
            for j in range(y.shape[3]):
                rows = _window(i, stride[0], dilation[0], kh)
                cols = _window(j, stride[1], dilation[1], kw)
                patch = xp[:, g * cg:(g + 1) * cg][:, :, rows][:, :, :, cols]
                out[g * og:(g + 1) * og] += np.einsum("no,nchw->ochw", y[:, g * og:(g + 1) * og, i, j], patch)
    return out


def _pool_windows(x: Any, kernel_size: Pair, stride: Pair, padding: Pads, dilation: Pair, fill: float) -> Any:
    """Every window as (N, C, Ho, Wo, kh * kw), by loops."""
    xp = _pad_ref(x, padding, fill)
    ho, wo = _pool_geometry(x.shape, kernel_size, stride, padding, dilation)
    out = np.empty((*x.shape[:2], ho, wo, kernel_size[0] * kernel_size[1]), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            rows = _window(i, stride[0], dilation[0], kernel_size[0])
            cols = _window(j, stride[1], dilation[1], kernel_size[1])
            out[:, :, i, j] = xp[:, :, rows][:, :, :, cols].reshape(*x.shape[:2], -1)
    return out


def _reference_max_pool2d(x: Any, kernel_size: Pair, stride: Pair, padding: Pads, dilation: Pair) -> Any:
    return _pool_windows(x, kernel_size, stride, padding, dilation, -math.inf).max(axis=-1)


def _reference_gather(x: Any, idx: Any, kernel_size: Pair, stride: Pair, padding: Pads, dilation: Pair) -> Any:
    windows = _pool_windows(x, kernel_size, stride, padding, dilation, 0.0)
    return np.take_along_axis(windows, idx[..., None], axis=-1)[..., 0]


def _reference_scatter(y: Any, idx: Any, kernel_size: Pair, stride: Pair, padding: Pads, dilation: Pair,
                       in_size: Pair) -> Any:
    (pt, pb), (pl, pr) = padding
    n, c, ho, wo = y.shape
    xp = np.zeros((n, c, in_size[0] + pt + pb, in_size[1] + pl + pr), dtype=y.dtype)
    for a in range(n):
        for b in range(c):
            for i in range(ho):
                for j in range(wo):
                    p, q = divmod(int(idx[a, b, i, j]), kernel_size[1])
                    xp[a, b, i * stride[0] + p * dilation[0], j * stride[1] + q * dilation[1]] += y[a, b, i, j]
    return xp[:, :, pt:pt + in_size[0], pl:pl + in_size[1]]


def _reference_divisor(h: int, w: int, i: int, j: int, kernel_size: Pair, stride: Pair, padding: Pads,
                       count_include_pad: bool, divisor_override: int | None) -> int:
    """PyTorch's divisor for window (i, j): the window clipped to the symmetrically padded input, or to the input."""
    if divisor_override is not None:
        return divisor_override
    hs, ws = i * stride[0] - padding[0][0], j * stride[1] - padding[1][0]
    he, we = min(hs + kernel_size[0], h + padding[0][0]), min(ws + kernel_size[1], w + padding[1][0])
    if count_include_pad:
        return (he - hs) * (we - ws)
    return (min(he, h) - max(hs, 0)) * (min(we, w) - max(ws, 0))


def _reference_avg_pool2d(x: Any, kernel_size: Pair, stride: Pair, padding: Pads, count_include_pad: bool,
                          divisor_override: int | None) -> Any:
    sums = _pool_windows(x, kernel_size, stride, padding, (1, 1), 0.0).sum(axis=-1)
    for i in range(sums.shape[2]):
        for j in range(sums.shape[3]):
            sums[:, :, i, j] /= _reference_divisor(x.shape[2], x.shape[3], i, j, kernel_size, stride, padding,
                                                   count_include_pad, divisor_override)
    return sums


def _reference_avg_pool2d_transpose(y: Any, kernel_size: Pair, stride: Pair, padding: Pads,
                                    count_include_pad: bool, divisor_override: int | None, in_size: Pair) -> Any:
    (pt, pb), (pl, pr) = padding
    n, c, ho, wo = y.shape
    xp = np.zeros((n, c, in_size[0] + pt + pb, in_size[1] + pl + pr), dtype=y.dtype)
    for i in range(ho):
        for j in range(wo):
            d = _reference_divisor(in_size[0], in_size[1], i, j, kernel_size, stride, padding, count_include_pad,
                                   divisor_override)
            xp[:, :, i * stride[0]:i * stride[0] + kernel_size[0], j * stride[1]:j * stride[1] + kernel_size[1]] += \
                y[:, :, i:i + 1, j:j + 1] / d
    return xp[:, :, pt:pt + in_size[0], pl:pl + in_size[1]]


def _reference_adaptive_avg_pool2d(x: Any, output_size: Pair) -> Any:
    h, w = x.shape[-2:]
    out = np.empty((*x.shape[:-2], *output_size), dtype=x.dtype)
    for i in range(output_size[0]):
        for j in range(output_size[1]):
            hs, he = (i * h) // output_size[0], math.ceil((i + 1) * h / output_size[0])
            ws, we = (j * w) // output_size[1], math.ceil((j + 1) * w / output_size[1])
            out[..., i, j] = x[..., hs:he, ws:we].mean(axis=(-2, -1))
    return out
