"""A generated microscopy-like segmentation set: touching, irregular cells.

The U-Net paper (Ronneberger et al., 2015) segments cells in light
microscopy, where cells touch each other and the thin gaps between them are
what a network most easily gets wrong. This module draws such images, with
no download and bit-identical results for a given seed:

* each cell is a star-shaped blob, radius ``r(theta) = R (1 + sum_k a_k cos(k theta + phi_k))``;
* cells are often placed next to an existing cell, so many of them touch;
  where two cells meet, the pixel belongs to the cell it is "deepest" in
  (smallest ``distance / r(theta)``), so touching cells share a boundary;
* the pixels along a shared boundary become a *separating border* (the
  paper: "separating background labels between touching cells"): background
  in the semantic mask, or class 2 with ``border_class=True``;
* the image: dim background with uneven illumination, brighter textured
  cells, a faint line in the gaps, then blur and Gaussian noise.

Besides images and semantic masks we return the instance labels and the
U-Net weight map (:func:`unet_weight_map`).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from .dataset import Dataset

__all__ = ["Cells", "make_cells", "unet_weight_map", "class_balance_weights", "CellsDataset"]

Cells = namedtuple("Cells", ["images", "masks", "instances", "weights"])
Cells.__doc__ = """The generated set: images (N, 1, H, W) float32 in [0, 1]; masks (N, H, W) int64
(0 background, 1 cell, 2 border if asked); instances (N, H, W) int64 (0 outside cells, 1..n per cell);
weights (N, H, W) float32, the U-Net weight map."""


# --------------------------------------------------------------------------- the weight map
def class_balance_weights(mask, num_classes):
    """``w_c``: one weight per class, ``N / (K * N_k)`` for the ``K`` classes present.

    ``N`` is the number of pixels and ``N_k`` the pixels of class ``k``, so
    each present class carries the same total weight (classes absent from the
    mask get weight 0). This is one common reading of the paper's "weight
    map to balance the class frequencies".
    """
    counts = np.bincount(mask.ravel(), minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_classes)
    weights[present] = mask.size / (present.sum() * counts[present])
    return weights


def unet_weight_map(mask, instances, num_classes=2, w0=10.0, sigma=5.0):
    """U-Net's pixel weights (Ronneberger et al., 2015, Eq. 2):

        w(x) = w_c(x) + w0 * exp( -(d1(x) + d2(x))^2 / (2 sigma^2) )

    ``w_c`` balances the class frequencies (:func:`class_balance_weights`);
    ``d1`` and ``d2`` are the distances to the nearest and the second-nearest
    cell. The paper uses ``w0 = 10`` and ``sigma ~ 5`` pixels.

    The distance to cell ``i`` is the Euclidean distance transform of "not in
    cell i" (scipy's ``distance_transform_edt``), measured from pixel centre to
    the nearest pixel centre of that cell. The exponential term is added on
    pixels outside every cell (background and border pixels): it is meant to
    make the network learn the narrow gaps between touching cells (the
    paper's Fig. 3d shows it there). With fewer than two cells there is no
    second-nearest cell and the term is 0.
    """
    from scipy import ndimage

    weight = class_balance_weights(mask, num_classes)[mask]
    ids = np.unique(instances)
    ids = ids[ids > 0]
    if len(ids) >= 2:
        distances = np.stack([ndimage.distance_transform_edt(instances != i) for i in ids])
        distances.sort(axis=0)
        d1, d2 = distances[0], distances[1]
        border_term = w0 * np.exp(-((d1 + d2) ** 2) / (2.0 * sigma ** 2))
        weight = weight + np.where(instances == 0, border_term, 0.0)
    return weight.astype(np.float32)


# --------------------------------------------------------------------------- drawing one image
def _draw_instances(rng, size, n_cells, radius):
    """Place ``n_cells`` irregular blobs; return the instance map (0 = background)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    centres, radii = [], []
    for _ in range(n_cells):
        R = rng.uniform(*radius)
        for _attempt in range(20):
            if centres and rng.random() < 0.7:
                # next to an existing cell: they will touch or overlap a little
                j = int(rng.integers(len(centres)))
                angle = rng.uniform(0, 2 * np.pi)
                gap = (radii[j] + R) * rng.uniform(0.8, 1.0)
                cy = centres[j][0] + gap * np.sin(angle)
                cx = centres[j][1] + gap * np.cos(angle)
            else:
                cy, cx = rng.uniform(0, size, size=2)
            too_close = any(np.hypot(cy - py, cx - px) < 0.75 * (R + pr)
                            for (py, px), pr in zip(centres, radii))
            if 0 <= cy < size and 0 <= cx < size and not too_close:
                centres.append((cy, cx))
                radii.append(R)
                break
    # rho_i(x) = |x - c_i| / r_i(theta): inside cell i where rho_i < 1
    rho = np.full((len(centres) + 1, size, size), 1.0)   # slot 0: background threshold
    for i, ((cy, cx), R) in enumerate(zip(centres, radii), start=1):
        theta = np.arctan2(yy - cy, xx - cx)
        wobble = np.ones_like(theta)
        for k in (2, 3, 4):
            wobble += rng.uniform(0.0, 0.25 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        rho[i] = np.hypot(yy - cy, xx - cx) / (R * wobble)
    return np.argmin(rho, axis=0).astype(np.int64)


def _shared_boundary(instances):
    """Pixels of a cell that have a 4-neighbour in a *different* cell (both sides of the contact)."""
    border = np.zeros(instances.shape, dtype=bool)
    # vertical neighbours: row r and row r + 1
    top, bottom = instances[:-1, :], instances[1:, :]
    contact = (top > 0) & (bottom > 0) & (top != bottom)
    border[:-1, :] |= contact
    border[1:, :] |= contact
    # horizontal neighbours: column c and column c + 1
    left, right = instances[:, :-1], instances[:, 1:]
    contact = (left > 0) & (right > 0) & (left != right)
    border[:, :-1] |= contact
    border[:, 1:] |= contact
    return border


def _render(rng, instances, border, noise, blur):
    """Intensities: background, textured cells, faint gaps; then blur and noise."""
    from scipy import ndimage

    size = instances.shape[0]
    yy, xx = np.mgrid[0:size, 0:size] / size
    background = rng.uniform(0.08, 0.2)
    tilt = rng.uniform(-0.08, 0.08, size=2)
    image = background + tilt[0] * (yy - 0.5) + tilt[1] * (xx - 0.5)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), 2.0)
    texture /= texture.std() + 1e-12
    for i in range(1, int(instances.max()) + 1):
        inside = instances == i
        if inside.any():
            image[inside] = rng.uniform(0.5, 0.85) + 0.05 * texture[inside]
    image[border] = background + 0.12          # the gap between touching cells: faintly visible
    image = ndimage.gaussian_filter(image, blur) if blur > 0 else image
    image = image + rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0.0, 1.0)


def make_cells(n_images, size=64, seed=0, cells_per_image=(5, 9), radius=(6.0, 11.0), noise=0.06,
               blur=1.0, border_class=False, w0=10.0, sigma=5.0):
    """Generate ``n_images`` microscopy-like images of touching cells.

    Args:
        n_images: how many images.
        size: height = width in pixels.
        seed: image ``i`` is drawn from ``numpy.random.default_rng((seed, i))``, so the
            same seed gives bit-identical data, and a smaller set is a prefix of a larger one.
        cells_per_image: (low, high) bounds of the number of cells (inclusive).
        radius: (low, high) bounds of a cell's mean radius in pixels.
        noise: standard deviation of the additive Gaussian noise.
        blur: standard deviation (pixels) of the Gaussian blur of the optics.
        border_class: label the separating borders between touching cells 2 instead of 0.
        w0, sigma: parameters of the U-Net weight map (:func:`unet_weight_map`).

    Returns:
        :class:`Cells` ``(images, masks, instances, weights)``.
    """
    if n_images < 1 or size < 8:
        raise ValueError(f"make_cells: need n_images >= 1 and size >= 8, got {n_images}, {size}")
    num_classes = 3 if border_class else 2
    images = np.empty((n_images, 1, size, size), np.float32)
    masks = np.empty((n_images, size, size), np.int64)
    instances = np.empty((n_images, size, size), np.int64)
    weights = np.empty((n_images, size, size), np.float32)
    for n in range(n_images):
        rng = np.random.default_rng((seed, n))
        n_cells = int(rng.integers(cells_per_image[0], cells_per_image[1] + 1))
        inst = _draw_instances(rng, size, n_cells, radius)
        border = _shared_boundary(inst)
        inst[border] = 0                      # the separating border belongs to no cell
        mask = (inst > 0).astype(np.int64)
        if border_class:
            mask[border] = 2
        images[n, 0] = _render(rng, inst, border, noise, blur)
        masks[n] = mask
        instances[n] = inst
        weights[n] = unet_weight_map(mask, inst, num_classes, w0, sigma)
    return Cells(images, masks, instances, weights)


class CellsDataset(Dataset):
    """The generated cells as a dataset of ``(image[1,H,W] float32, mask[H,W] int64, weight[H,W] float32)``.

    ``transform`` (see :mod:`minicnn.data.transforms`) is called as
    ``transform(image, mask, weight)`` on every access, so augmentations are
    drawn afresh each epoch. Other keyword arguments go to :func:`make_cells`.
    """

    def __init__(self, n_images=64, size=64, seed=0, transform=None, **kwargs):
        self.data = make_cells(n_images, size=size, seed=seed, **kwargs)
        self.num_classes = 3 if kwargs.get("border_class") else 2
        self.transform = transform

    def __len__(self):
        return len(self.data.images)

    def __getitem__(self, index):
        sample = (self.data.images[index], self.data.masks[index], self.data.weights[index])
        if self.transform is not None:
            sample = self.transform(*sample)
        return sample
