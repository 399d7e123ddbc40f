"""Datasets and the DataLoader (after ``torch.utils.data``).

A *dataset* is anything with ``__len__`` and ``__getitem__``: ``dataset[i]``
returns one sample, here a tuple of NumPy arrays such as
``(image[1, H, W] float32, mask[H, W] int64, weight[H, W] float32)``.

A :class:`DataLoader` cuts the indices ``0 .. len(dataset)-1`` into batches
(optionally shuffled once per pass), fetches the samples of each batch and
glues them together with ``collate_fn``::

    for images, masks, weights in DataLoader(ds, batch_size=8, shuffle=True, seed=0):
        ...   # images: (8, 1, H, W), masks: (8, H, W), weights: (8, H, W)

Batches stay NumPy arrays on the host; the training loop turns them into
tensors on the chosen device. Data loading runs in the main process (no
workers): the arrays are small and the time goes into the network.
"""
from __future__ import annotations

import math

import numpy as np

from .. import random as mc_random

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "default_collate", "DataLoader"]


class Dataset:
    """Base class of map-style datasets: override ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Samples are the ``index``-th rows of equally long arrays: ``(a[i], b[i], ...)``."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array")
        arrays = tuple(np.asarray(a) for a in arrays)
        lengths = {len(a) for a in arrays}
        if len(lengths) != 1:
            raise ValueError(f"TensorDataset: all arrays must have the same first dimension, "
                             f"got lengths {[len(a) for a in arrays]}")
        self.arrays = arrays

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __len__(self):
        return len(self.arrays[0])


class Subset(Dataset):
    """The samples of ``dataset`` at the positions ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths, seed=0):
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given lengths (seeded)."""
    if sum(lengths) != len(dataset):
        raise ValueError(f"random_split: lengths {list(lengths)} do not sum to the dataset's "
                         f"length {len(dataset)}")
    order = np.random.default_rng(seed).permutation(len(dataset))
    subsets, start = [], 0
    for n in lengths:
        subsets.append(Subset(dataset, order[start:start + n]))
        start += n
    return subsets


def default_collate(samples):
    """Stack a list of samples into one batch.

    * arrays (or NumPy scalars / Python numbers) -> one array with a new first axis;
    * tuples/lists of those -> a tuple of batched arrays, position by position;
    * dicts -> a dict of batched arrays, key by key.
    """
    first = samples[0]
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("default_collate: every sample must have the same number of fields")
        return tuple(default_collate(list(field)) for field in zip(*samples))
    if hasattr(first, "_is_minicnn_tensor"):
        samples = [s.numpy() for s in samples]
    arrays = [np.asarray(s) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: cannot stack samples of different shapes {sorted(shapes)}; "
                         f"crop or resize them to one size (e.g. transforms.RandomCrop)")
    return np.stack(arrays)


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: any object with ``__len__`` and ``__getitem__``.
        batch_size: samples per batch (default 1).
        shuffle: draw a new random order at the start of every pass.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        seed: seed of the loader's own generator (repeatable order, independent of
            everything else). With neither ``seed`` nor ``generator`` the order is drawn
            from ``minicnn.random.generator()``, the generator ``minicnn.manual_seed`` seeds.
        generator: a ``numpy.random.Generator`` to draw the order from.
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`).

    ``state_dict()`` / ``load_state_dict()`` save and restore the generator, so a
    resumed run sees the same shuffles as an uninterrupted one.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 generator=None, collate_fn=None):
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if seed is not None and generator is not None:
            raise ValueError("DataLoader: pass either seed or generator, not both")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = np.random.default_rng(seed) if seed is not None else generator
        self.collate_fn = collate_fn or default_collate

    def _rng(self):
        return self.generator if self.generator is not None else mc_random.generator(np)

    def __len__(self):
        """The number of batches per pass."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = self._rng().permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield self.collate_fn([self.dataset[int(i)] for i in indices])

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self):
        """The state of the loader's own generator (empty when it uses the global one)."""
        if self.generator is None:
            return {}
        return {"generator": self.generator.bit_generator.state}

    def load_state_dict(self, state):
        if "generator" in state:
            if self.generator is None:
                raise ValueError("DataLoader.load_state_dict: this loader has no generator of its own "
                                 "(pass seed= or generator=) but the state has one")
            self.generator.bit_generator.state = state["generator"]
