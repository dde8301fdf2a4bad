"""Data: scikit-learn's bundled 8x8 digits, split for training, and a DataLoader that batches arrays."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["DataLoader", "load_digits"]

Array = np.ndarray[Any, Any]


def load_digits(test_size: float = 0.2, seed: int = 0, dtype: Any = np.float32) -> tuple[tuple[Array, Array],
                                                                                          tuple[Array, Array]]:
    """The 1797 8x8 handwritten digits bundled with scikit-learn, as ``(x_train, y_train), (x_test, y_test)``.

    ``x`` has shape ``(N, 1, 8, 8)`` (images with one channel, ready for a Conv2d; ``x.reshape(len(x), -1)`` gives
    the 64 features an MLP wants), pixel values scaled from 0..16 to [0, 1], in ``dtype`` (float32 by default).
    ``y`` holds the labels 0..9 as int64. The split is stratified (each digit keeps its share in both parts) and
    reproducible given ``seed``; ``test_size`` is the fraction held out. No download: the data ship inside
    scikit-learn, which comes with the ``demo`` extra (``pip install 'chainrule[demo]'``).

    >>> from chainrule.data import load_digits
    >>> (x_train, y_train), (x_test, y_test) = load_digits()
    >>> x_train.shape, x_test.shape, x_train.dtype, y_train.dtype
    ((1437, 1, 8, 8), (360, 1, 8, 8), dtype('float32'), dtype('int64'))
    >>> float(x_train.min()), float(x_train.max())
    (0.0, 1.0)
    """
    if not isinstance(test_size, numbers.Real) or not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"load_digits: test_size must be a fraction strictly between 0 and 1, got {test_size!r}")
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"load_digits: dtype must be a floating-point dtype, got {dtype}")
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as e:
        raise ImportError(
            "cr.data.load_digits reads the digits bundled with scikit-learn, which is not installed: "
            "pip install 'chainrule[demo]'"
        ) from e
    digits = sklearn_load_digits()
    x = (np.asarray(digits.images, dtype=np.float64) / 16.0).astype(dtype)[:, None, :, :]
    y = np.asarray(digits.target, dtype=np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=float(test_size), random_state=seed,
                                                        stratify=y)
    return (np.ascontiguousarray(x_train), np.ascontiguousarray(y_train)), (
        np.ascontiguousarray(x_test), np.ascontiguousarray(y_test))


class DataLoader:
    """Batches of equal-length arrays, optionally shuffled: iterating yields one tuple of Tensors per batch.

    ``arrays`` is a tuple (or list) of arrays or Tensors sharing their first (sample) axis, e.g. ``(x, y)``; a single
    array is taken as a 1-tuple. Row ``i`` of every array stays together in each batch. ``len(loader)`` is the
    number of batches: ``ceil(N / batch_size)``, or ``N // batch_size`` with ``drop_last=True`` (which drops a
    final smaller batch). With ``shuffle=True`` every pass draws a new permutation from the loader's own
    ``numpy.random.Generator`` seeded with ``seed``, so a run is reproducible given the seed. Batches are fresh
    arrays (never views of the data) with the data's dtype, wrapped as Tensors that do not require gradients.

    >>> import numpy as np
    >>> from chainrule.data import DataLoader
    >>> x, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> loader = DataLoader((x, y), batch_size=2)
    >>> len(loader)
    3
    >>> [yb.tolist() for _, yb in loader]
    [[0, 1], [2, 3], [4]]
    >>> [yb.tolist() for _, yb in DataLoader((x, y), batch_size=2, shuffle=True, seed=0, drop_last=True)]
    [[2, 4], [3, 0]]
    """

    def __init__(self, arrays: Sequence[Any] | Array | Tensor, batch_size: int = 32, shuffle: bool = False,
                 seed: int | None = None, drop_last: bool = False) -> None:
        if isinstance(arrays, (np.ndarray, Tensor)):
            arrays = (arrays,)
        if not isinstance(arrays, (tuple, list)) or not arrays:
            raise TypeError("DataLoader: arrays must be a non-empty tuple of equal-length arrays, e.g. (x, y)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader: batch_size must be an integer, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        data = tuple(a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
        for i, a in enumerate(data):
            if a.ndim == 0:
                raise ValueError(f"DataLoader: array {i} is 0-d; every array needs a first (sample) axis")
        lengths = [len(a) for a in data]
        if len(set(lengths)) > 1:
            raise ValueError(f"DataLoader: the arrays must have the same length (first axis), got lengths {lengths}")
        self.arrays = data
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._n = lengths[0]

    def __len__(self) -> int:
        if self.drop_last:
            return self._n // self.batch_size
        return math.ceil(self._n / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        # the permutation is drawn here, when a pass begins, not at the first next()
        order = self._rng.permutation(self._n) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: Array | None) -> Iterator[tuple[Tensor, ...]]:
        bs = self.batch_size
        for start in range(0, len(self) * bs, bs):
            stop = min(start + bs, self._n)
            if order is None:
                batch = tuple(a[start:stop].copy() for a in self.arrays)
            else:
                index = order[start:stop]
                batch = tuple(a[index] for a in self.arrays)
            yield tuple(Tensor._from_node(b, None) for b in batch)

    def __repr__(self) -> str:
        return (f"DataLoader(samples={self._n}, arrays={len(self.arrays)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")
