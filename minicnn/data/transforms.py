"""Data augmentation that moves an image and its per-pixel targets together.

A segmentation sample is an image ``(C, H, W)`` (or ``(H, W)``) plus maps of
the same height and width: the label mask ``(H, W)`` and, for U-Net, the
weight map ``(H, W)``. A geometric augmentation must move all of them the
same way, otherwise the labels no longer sit on the pixels they describe.
Every transform here is called as::

    image = t(image)                                  # image only
    image, mask, weight = t(image, mask, weight)      # image and any number of targets

and applies one random draw to all arrays (always on the last two axes).
Intensity changes (brightness, contrast) touch the image only.

The U-Net paper (Ronneberger et al., 2015, Sec. 3.1) names the augmentations
that matter for microscopy with few training images: shifts and rotations,
gray-value variations and, above all, smooth elastic deformations.

Randomness: each transform draws from ``generator`` if one is given, else
from ``minicnn.random.generator()``, which ``minicnn.manual_seed`` seeds (and
whose state the Trainer's checkpoints save). The same seed gives the same
augmentations.
"""
from __future__ import annotations

import numpy as np

from .. import random as mc_random

__all__ = ["Transform", "Compose", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation90",
           "RandomCrop", "RandomBrightnessContrast", "ElasticDeformation", "elastic_displacement",
           "warp"]


def _check_same_size(name, arrays):
    size = arrays[0].shape[-2:]
    for a in arrays[1:]:
        if a.shape[-2:] != size:
            raise ValueError(f"{name}: every array must have the image's height and width {tuple(size)} "
                             f"in its last two axes, got shape {a.shape}")


class Transform:
    """Base class: subclasses implement ``apply(arrays)`` on a list of arrays."""

    def __init__(self, generator=None):
        self.generator = generator

    def rng(self):
        """The generator to draw from (our own, or the global minicnn one)."""
        return self.generator if self.generator is not None else mc_random.generator(np)

    def __call__(self, image, *targets):
        arrays = [np.asarray(image)] + [np.asarray(t) for t in targets]
        _check_same_size(type(self).__name__, arrays)
        out = self.apply(arrays)
        return out[0] if not targets else tuple(out)

    def apply(self, arrays):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class Compose(Transform):
    """Apply transforms one after another: ``Compose([RandomRotation90(), ElasticDeformation()])``."""

    def __init__(self, transforms):
        super().__init__()
        self.transforms = list(transforms)

    def apply(self, arrays):
        for t in self.transforms:
            arrays = t.apply(arrays)
        return arrays

    def __repr__(self):
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


class RandomHorizontalFlip(Transform):
    """Mirror left-right (the last axis) with probability ``p``."""

    def __init__(self, p=0.5, generator=None):
        super().__init__(generator)
        self.p = p

    def apply(self, arrays):
        if self.rng().random() < self.p:
            return [np.ascontiguousarray(a[..., ::-1]) for a in arrays]
        return arrays

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip(Transform):
    """Mirror top-bottom (the second-to-last axis) with probability ``p``."""

    def __init__(self, p=0.5, generator=None):
        super().__init__(generator)
        self.p = p

    def apply(self, arrays):
        if self.rng().random() < self.p:
            return [np.ascontiguousarray(a[..., ::-1, :]) for a in arrays]
        return arrays

    def __repr__(self):
        return f"RandomVerticalFlip(p={self.p})"


class RandomRotation90(Transform):
    """Rotate by ``k`` * 90 degrees, ``k`` uniform in {0, 1, 2, 3} (exact: no interpolation)."""

    def apply(self, arrays):
        k = int(self.rng().integers(4))
        return [np.ascontiguousarray(np.rot90(a, k, axes=(-2, -1))) for a in arrays]


class RandomCrop(Transform):
    """Cut the same random ``size`` window (an int or ``(h, w)``) out of every array."""

    def __init__(self, size, generator=None):
        super().__init__(generator)
        self.size = (size, size) if isinstance(size, int) else tuple(size)

    def apply(self, arrays):
        H, W = arrays[0].shape[-2:]
        h, w = self.size
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop size {(h, w)} is larger than the image {(H, W)}")
        rng = self.rng()
        top = int(rng.integers(H - h + 1))
        left = int(rng.integers(W - w + 1))
        return [np.ascontiguousarray(a[..., top:top + h, left:left + w]) for a in arrays]

    def __repr__(self):
        return f"RandomCrop(size={self.size})"


class RandomBrightnessContrast(Transform):
    """Gray-value variation, image only: ``x' = c (x - mean(x)) + mean(x) + b``.

    The contrast factor is ``c ~ U[1 - contrast, 1 + contrast]`` and the
    brightness shift ``b ~ U[-brightness, brightness]`` (in the image's units,
    [0, 1] for the generated cells). The targets pass through unchanged.
    """

    def __init__(self, brightness=0.1, contrast=0.2, generator=None):
        super().__init__(generator)
        self.brightness = brightness
        self.contrast = contrast

    def apply(self, arrays):
        rng = self.rng()
        c = rng.uniform(1 - self.contrast, 1 + self.contrast)
        b = rng.uniform(-self.brightness, self.brightness)
        image = arrays[0]
        mean = image.mean()
        out = (c * (image - mean) + mean + b).astype(image.dtype)
        return [out] + list(arrays[1:])

    def __repr__(self):
        return f"RandomBrightnessContrast(brightness={self.brightness}, contrast={self.contrast})"


# --------------------------------------------------------------------------- elastic deformation
def elastic_displacement(shape, sigma=10.0, grid=3, rng=None):
    """A smooth random displacement field ``(2, H, W)`` as in U-Net (Sec. 3.1).

    "random displacement vectors on a coarse 3 by 3 grid ... sampled from a
    Gaussian distribution with 10 pixels standard deviation. Per-pixel
    displacements are then computed using bicubic interpolation."

    The ``grid`` x ``grid`` control points sit evenly from corner to corner;
    the field between them is the cubic-spline interpolation of their vectors.
    """
    from scipy import ndimage

    rng = rng if rng is not None else mc_random.generator(np)
    H, W = shape
    coarse = rng.normal(0.0, sigma, size=(2, grid, grid))
    # Where each output pixel falls on the coarse grid: corners map to corners.
    ys = np.linspace(0, grid - 1, H)
    xs = np.linspace(0, grid - 1, W)
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    return np.stack([ndimage.map_coordinates(coarse[c], [yy, xx], order=3, mode="nearest")
                     for c in range(2)])


def warp(array, displacement, order, mode="reflect"):
    """Sample ``array`` (``(H, W)`` or ``(..., H, W)``) at ``(y + dy, x + dx)``.

    ``order`` is the spline order: 3 (bicubic) for images, 1 (bilinear) for
    smooth maps, 0 (nearest) for labels, which must stay integers of the
    original classes. Outside the image the content is mirrored ("reflect"),
    like U-Net's overlap-tile strategy.
    """
    from scipy import ndimage

    H, W = array.shape[-2:]
    yy, xx = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    coords = [yy + displacement[0], xx + displacement[1]]
    flat = array.reshape(-1, H, W)
    out = np.stack([ndimage.map_coordinates(plane, coords, order=order, mode=mode) for plane in flat])
    return out.reshape(array.shape).astype(array.dtype, copy=False)


class ElasticDeformation(Transform):
    """U-Net's elastic deformation (Ronneberger et al., 2015, Sec. 3.1).

    A displacement field from :func:`elastic_displacement` (3 x 3 grid, std
    ``sigma`` = 10 px in the paper) warps every array the same way: the image
    with cubic splines (``order=3``), integer arrays (label masks) with
    nearest-neighbour sampling, other float maps (weight maps) bilinearly.
    Applied with probability ``p``. For small images use a smaller ``sigma``:
    10 px was chosen for 572 x 572 tiles.
    """

    def __init__(self, sigma=10.0, grid=3, order=3, p=1.0, generator=None):
        super().__init__(generator)
        self.sigma = sigma
        self.grid = grid
        self.order = order
        self.p = p

    def apply(self, arrays):
        rng = self.rng()
        if rng.random() >= self.p:
            return arrays
        displacement = elastic_displacement(arrays[0].shape[-2:], self.sigma, self.grid, rng)
        out = [warp(arrays[0], displacement, self.order)]
        for a in arrays[1:]:
            order = 0 if a.dtype.kind in "iub" else 1
            out.append(warp(a, displacement, order))
        return out

    def __repr__(self):
        return f"ElasticDeformation(sigma={self.sigma}, grid={self.grid}, order={self.order}, p={self.p})"
