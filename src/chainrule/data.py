"""Data: scikit-learn's bundled 8x8 digits, split for training; datasets (``Dataset``, ``TensorDataset``,
``Subset``, ``random_split``) and a DataLoader that batches arrays or datasets, with PyTorch's names.

Randomness (shuffling, splits) comes from a ``numpy.random.Generator``: the one passed as ``generator=`` (or made
from ``seed=``), else chainrule's own (``cr.random``), so ``cr.random.seed(n)`` makes a run repeat as
``torch.manual_seed`` does. The permutations are NumPy's, so they differ from PyTorch's for the same seed; the
sizes, the batching and the semantics of lengths and fractions are PyTorch's.
"""

from __future__ import annotations

import itertools
import math
import numbers
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from . import backend
from . import random as _random
from .ops.shape import stack
from .tensor import Tensor, values

__all__ = ["DataLoader", "Dataset", "DistributedSampler", "Subset", "TensorDataset", "default_collate", "load_digits",
           "random_split"]

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


class Dataset:
    """A map-style data set: ``dataset[i]`` is sample i, ``len(dataset)`` their number (subclasses define both).

    >>> from chainrule.data import Dataset
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 4
    ...     def __getitem__(self, i):
    ...         return i * i
    >>> [Squares()[i] for i in range(4)]
    [0, 1, 4, 9]
    """

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class TensorDataset(Dataset):
    """Samples are rows: ``dataset[i]`` is ``(t[i] for t in tensors)``, a tuple of Tensors (arrays are wrapped).

    >>> import numpy as np
    >>> from chainrule.data import TensorDataset
    >>> ds = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([0, 1, 0]))
    >>> len(ds), ds[1]
    (3, (tensor([2., 3.]), tensor(1)))
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor._from_node(np.asarray(t), None) for t in tensors)
        lengths = [t.shape[0] if t.ndim else None for t in self.tensors]
        if None in lengths or len(set(lengths)) != 1:
            raise ValueError(f"Size mismatch between tensors: TensorDataset needs one first (sample) axis shared by "
                             f"all, got shapes {[t.shape for t in self.tensors]}")

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    >>> from chainrule.data import Subset, TensorDataset
    >>> sub = Subset(TensorDataset([10, 11, 12, 13]), [3, 0])
    >>> len(sub), sub[0]
    (2, (tensor(13),))
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (list, tuple)):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def _generator(generator: np.random.Generator | None, what: str) -> np.random.Generator:
    if generator is None:
        return _random.generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{what}: generator must be a numpy.random.Generator (np.random.default_rng(seed)), got "
                        f"{type(generator).__name__}")
    return generator


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: np.random.Generator | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets of the given ``lengths``: counts summing to
    ``len(dataset)``, or fractions summing to 1 (PyTorch's rule: each gets ``floor(n · f)``, and the remainder is
    dealt one by one from the first subset on).

    The permutation is drawn from ``generator`` (default: chainrule's, ``cr.random``); it is NumPy's, not PyTorch's.

    >>> import numpy as np
    >>> from chainrule.data import TensorDataset, random_split
    >>> train, test = random_split(TensorDataset(np.arange(10)), [0.75, 0.25], np.random.default_rng(0))
    >>> len(train), len(test), sorted(train.indices + test.indices) == list(range(10))
    (8, 2, True)
    """
    n = len(dataset)
    sizes = list(lengths)
    if math.isclose(sum(sizes), 1) and sum(sizes) <= 1:  # fractions
        for i, frac in enumerate(sizes):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1: {frac}")
        counts = [math.floor(n * frac) for frac in sizes]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=2)
    else:
        if any(isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 0 for c in sizes):
            raise ValueError(f"random_split: lengths must be non-negative integers or fractions summing to 1, got "
                             f"{sizes}")
        counts = [int(c) for c in sizes]
    if sum(counts) != n:
        raise ValueError(f"Sum of input lengths does not equal the length of the input dataset! ({sum(counts)} "
                         f"against {n})")
    order = _generator(generator, "random_split").permutation(n).tolist()
    ends = list(itertools.accumulate(counts))
    return [Subset(dataset, order[end - count:end]) for end, count in zip(ends, counts)]


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, as PyTorch's ``default_collate``: Tensors and arrays into one Tensor
    (recorded when they require grad), numbers into a Tensor (float64, int64, bool), and tuples, lists and dicts of
    these element by element; strings stay a list.

    >>> import chainrule as cr
    >>> from chainrule.data import default_collate
    >>> default_collate([(cr.tensor([1.0, 2.0]), 0), (cr.tensor([3.0, 4.0]), 1)])
    (tensor([[1., 2.],
            [3., 4.]]), tensor([0, 1]))
    """
    first = batch[0]
    if isinstance(first, Tensor):
        if any(t.requires_grad for t in batch):
            return stack(list(batch))
        return Tensor._from_node(backend.namespace(first.data).stack([values(t) for t in batch]), None)
    if isinstance(first, (np.ndarray, np.generic)) or type(first) in backend.array_types:
        return Tensor._from_node(backend.namespace(first).stack(list(batch)), None)
    if isinstance(first, (bool, int, float)):
        return Tensor._from_node(np.array(batch), None)
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, (tuple, list)):
        if len({len(sample) for sample in batch}) != 1:
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        return fields if isinstance(first, list) else tuple(fields)
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; pass a collate_fn")


class DataLoader:
    """Batches of a data set, optionally shuffled: a tuple of equal-length arrays (fast slicing) or a ``Dataset``.

    ``data`` is a tuple (or list) of arrays or Tensors sharing their first (sample) axis, e.g. ``(x, y)`` (a single
    array is taken as a 1-tuple; each batch is then a tuple of Tensors, row ``i`` of every array kept together), or
    a map-style data set (``len`` and integer indexing: a ``Dataset``, ``TensorDataset``, ``Subset``), whose samples
    ``collate_fn`` (default: ``default_collate``) turns into batches; a ``collate_fn`` given with arrays receives
    the samples of ``TensorDataset(*arrays)``. ``len(loader)`` is the number of batches: ``ceil(N / batch_size)``,
    or ``N // batch_size`` with ``drop_last=True`` (which drops a final smaller batch). With ``shuffle=True`` every
    pass draws a new permutation from ``generator`` (a ``numpy.random.Generator``), or from one seeded with
    ``seed``, or else from chainrule's (``cr.random.seed`` repeats it): the same generator state gives the same
    order every run. A ``sampler`` (an iterable of sample indices with ``len``, such as ``DistributedSampler``)
    gives the order instead, and the number of samples: ``len(sampler)``. Array batches are fresh arrays (never
    views of the data) with the data's dtype, wrapped as Tensors that do not require gradients. (``batch_size``
    defaults to 32, not PyTorch's 1.)

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
    >>> [b for b in DataLoader((x, y), batch_size=2, collate_fn=lambda samples: len(samples))]
    [2, 2, 1]
    """

    def __init__(self, arrays: Any, batch_size: int = 32, shuffle: bool = False, seed: int | None = None,
                 drop_last: bool = False, *, collate_fn: Callable[[list[Any]], Any] | None = None,
                 generator: np.random.Generator | None = None, sampler: Any = None) -> None:
        if isinstance(arrays, (np.ndarray, Tensor)):
            arrays = (arrays,)
        is_arrays = isinstance(arrays, (tuple, list))
        is_dataset = not is_arrays and hasattr(arrays, "__len__") and hasattr(arrays, "__getitem__")
        if not is_dataset and not (is_arrays and arrays):
            raise TypeError("DataLoader: data must be a non-empty tuple of equal-length arrays, e.g. (x, y), or a "
                            "data set (a Dataset: len() and integer indexing)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader: batch_size must be an integer, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: give a seed or a generator, not both")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler gives the order, so shuffle=True cannot be used with it (the "
                             "sampler shuffles: DistributedSampler(shuffle=True))")
        if sampler is not None and not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")):
            raise TypeError(f"DataLoader: sampler must be an iterable of indices with len(), got "
                            f"{type(sampler).__name__}")
        self.sampler = sampler
        self.dataset: Any = None
        self.arrays: tuple[Array, ...] = ()
        if is_arrays:
            data = tuple(a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
            for i, a in enumerate(data):
                if a.ndim == 0:
                    raise ValueError(f"DataLoader: array {i} is 0-d; every array needs a first (sample) axis")
            lengths = [len(a) for a in data]
            if len(set(lengths)) > 1:
                raise ValueError(f"DataLoader: the arrays must have the same length (first axis), got lengths "
                                 f"{lengths}")
            self.arrays = data
            if collate_fn is not None:
                self.dataset = TensorDataset(*data)
            self._n = lengths[0]
        else:
            self.dataset = arrays
            self._n = len(arrays)
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.generator = np.random.default_rng(seed) if seed is not None else generator
        if generator is not None:
            _generator(generator, "DataLoader")

    def _samples(self) -> int:
        return self._n if self.sampler is None else len(self.sampler)

    def __len__(self) -> int:
        if self.drop_last:
            return self._samples() // self.batch_size
        return math.ceil(self._samples() / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        # the permutation is drawn here, when a pass begins, not at the first next()
        if self.sampler is not None:
            drawn = np.fromiter(self.sampler, dtype=np.int64)
            if len(drawn) and not (drawn.min() >= -self._n and drawn.max() < self._n):
                raise IndexError(f"DataLoader: the sampler gave an index outside the {self._n} samples")
            return self._batches(drawn)
        order = _generator(self.generator, "DataLoader").permutation(self._n) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: Array | None) -> Iterator[Any]:
        bs = self.batch_size
        n = self._samples()
        for start in range(0, len(self) * bs, bs):
            stop = min(start + bs, n)
            if self.dataset is not None:
                index = range(start, stop) if order is None else order[start:stop].tolist()
                yield self.collate_fn([self.dataset[i] for i in index])
                continue
            if order is None:
                batch = tuple(a[start:stop].copy() for a in self.arrays)
            else:
                batch = tuple(a[order[start:stop]] for a in self.arrays)
            yield tuple(Tensor._from_node(b, None) for b in batch)

    def __repr__(self) -> str:
        what = f"arrays={len(self.arrays)}" if self.arrays else f"dataset={type(self.dataset).__name__}"
        return (f"DataLoader(samples={self._n}, {what}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")


class DistributedSampler:
    """The indices of this rank's shard of ``dataset``: each rank gets every ``num_replicas``-th index of one
    order, so together the ranks cover the data set once per epoch (PyTorch's ``DistributedSampler``).

    With ``shuffle`` the order is a permutation drawn from ``seed + epoch`` (call ``set_epoch(e)`` at the start of
    each epoch to reshuffle; every rank draws the same one). When the length does not divide evenly, the order is
    padded with its own first indices so that every shard has ``ceil(N / num_replicas)`` samples, or, with
    ``drop_last``, cut to ``floor(N / num_replicas)`` each. ``num_replicas`` and ``rank`` default to
    ``cr.distributed``'s world size and rank.

    >>> from chainrule.data import DistributedSampler
    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False)) for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    >>> [list(DistributedSampler(range(5), num_replicas=2, rank=r, shuffle=False, drop_last=True)) for r in (0, 1)]
    [[0, 2], [1, 3]]
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from . import distributed

            num_replicas = distributed.world_size() if num_replicas is None else num_replicas
            rank = distributed.rank() if rank is None else rank
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in [0, {num_replicas}), got {rank}")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        self.num_samples = n // self.num_replicas if drop_last else math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n:
            order = np.resize(order, self.total_size)  # repeats the order from its start
        order = order[:self.total_size]
        return iter(order[self.rank::self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` from now on (the same on every rank)."""
        self.epoch = int(epoch)
