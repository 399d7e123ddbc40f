"""scikit-learn's bundled handwritten digits as a small classification set.

``sklearn.datasets.load_digits`` ships 1797 images of 8 x 8 pixels (gray
values 0..16, ten classes) inside the package: nothing is downloaded. We
scale them to [0, 1], add the channel axis (``(1, 8, 8)`` float32) and split
them into a training and a validation part with a seeded permutation.
"""
from __future__ import annotations

import numpy as np

from .dataset import Dataset

__all__ = ["load_digits", "DigitsDataset"]

INSTALL_HINT = ("the digits data set needs scikit-learn (it ships the images, no download): "
                "pip install scikit-learn, or pip install -e .[digits]")


def load_digits():
    """All 1797 digits: ``(images (N, 1, 8, 8) float32 in [0, 1], labels (N,) int64)``."""
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from None
    bunch = datasets.load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None, :, :]
    labels = bunch.target.astype(np.int64)
    return images, labels


class DigitsDataset(Dataset):
    """The training or validation part of the digits: samples ``(image[1,8,8] float32, label int64)``.

    Args:
        train: the training part (``True``) or the validation part (``False``).
        val_fraction: share of the images kept for validation.
        seed: seed of the permutation that splits the images (the same seed in both
            parts gives disjoint parts that together are the whole set).
        transform: optional ``transform(image) -> image`` applied on every access.
        limit: keep only the first ``limit`` samples of the part (for quick runs).
    """

    num_classes = 10

    def __init__(self, train=True, val_fraction=0.2, seed=0, transform=None, limit=None):
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"DigitsDataset: val_fraction must be in (0, 1), got {val_fraction}")
        images, labels = load_digits()
        order = np.random.default_rng(seed).permutation(len(images))
        n_val = int(round(val_fraction * len(images)))
        part = order[n_val:] if train else order[:n_val]
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValueError(f"DigitsDataset: limit must be a positive int (or None for all samples), "
                                 f"got {limit!r}")
            part = part[:limit]
        self.images = images[part]
        self.labels = labels[part]
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]
