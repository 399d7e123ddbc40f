"""Data: generated cells, the U-Net weight map, augmentations, the DataLoader, the digits."""
import sys

import numpy as np
import pytest

from minicnn.data import (CellsDataset, DataLoader, DigitsDataset, TensorDataset, default_collate,
                          make_cells, transforms as T, unet_weight_map)
from minicnn.data.cells import class_balance_weights


# --------------------------------------------------------------------------- generated cells
def test_make_cells_shapes_dtypes_and_values():
    cells = make_cells(6, size=32, seed=3)
    assert cells.images.shape == (6, 1, 32, 32) and cells.images.dtype == np.float32
    assert cells.masks.shape == (6, 32, 32) and cells.masks.dtype == np.int64
    assert cells.instances.shape == (6, 32, 32) and cells.instances.dtype == np.int64
    assert cells.weights.shape == (6, 32, 32) and cells.weights.dtype == np.float32
    assert cells.images.min() >= 0 and cells.images.max() <= 1
    assert set(np.unique(cells.masks)) == {0, 1}
    # the semantic mask is "inside some cell"
    np.testing.assert_array_equal(cells.masks == 1, cells.instances > 0)
    # cells are brighter than the background
    assert cells.images[:, 0][cells.masks == 1].mean() > cells.images[:, 0][cells.masks == 0].mean() + 0.2
    assert (cells.weights > 0).all()


def test_make_cells_is_bit_identical_for_a_seed_and_differs_across_seeds():
    a, b = make_cells(4, size=32, seed=7), make_cells(4, size=32, seed=7)
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()
    prefix = make_cells(2, size=32, seed=7)           # image i depends on (seed, i) only
    assert prefix.images.tobytes() == a.images[:2].tobytes()
    assert not np.array_equal(make_cells(4, size=32, seed=8).images, a.images)


def test_cells_touch_and_are_separated_by_a_border_class():
    cells = make_cells(8, size=48, seed=0, border_class=True)
    assert set(np.unique(cells.masks)) == {0, 1, 2}
    border = cells.masks == 2
    assert border.sum() > 0, "some generated cells should touch"
    assert (cells.instances[border] == 0).all()
    # no two different cells are 4-neighbours any more: the border separates them
    inst = cells.instances
    for a, b in ((inst[:, :-1, :], inst[:, 1:, :]), (inst[:, :, :-1], inst[:, :, 1:])):
        assert not ((a > 0) & (b > 0) & (a != b)).any()
    # the exponential term makes the gaps heavier than the open background
    assert cells.weights[border].mean() > 2 * cells.weights[cells.masks == 0].mean()


def test_cells_dataset_sample_types():
    ds = CellsDataset(3, size=16, seed=1)
    image, mask, weight = ds[2]
    assert len(ds) == 3 and ds.num_classes == 2
    assert image.shape == (1, 16, 16) and image.dtype == np.float32
    assert mask.shape == (16, 16) and mask.dtype == np.int64
    assert weight.shape == (16, 16) and weight.dtype == np.float32


# --------------------------------------------------------------------------- the weight map
def _brute_force_weight_map(mask, instances, w0, sigma):
    """Eq. 2 of the U-Net paper, written with explicit loops over pixels."""
    H, W = mask.shape
    n = mask.size
    counts = {k: int((mask == k).sum()) for k in (0, 1)}
    wc = {k: n / (2 * counts[k]) for k in (0, 1)}
    cells = {i: [(y, x) for y in range(H) for x in range(W) if instances[y, x] == i] for i in (1, 2)}
    out = np.zeros((H, W))
    for y in range(H):
        for x in range(W):
            out[y, x] = wc[mask[y, x]]
            if instances[y, x] == 0:       # the border term is added outside the cells
                d = sorted(min(np.hypot(y - py, x - px) for py, px in cells[i]) for i in (1, 2))
                out[y, x] += w0 * np.exp(-(d[0] + d[1]) ** 2 / (2 * sigma ** 2))
    return out


def test_weight_map_matches_the_formula_on_two_hand_made_cells():
    instances = np.zeros((10, 12), np.int64)
    instances[2:6, 1:5] = 1            # a 4 x 4 cell
    instances[3:8, 7:10] = 2           # a 5 x 3 cell, two columns of gap away
    mask = (instances > 0).astype(np.int64)
    got = unet_weight_map(mask, instances, num_classes=2, w0=10.0, sigma=5.0)
    want = _brute_force_weight_map(mask, instances, 10.0, 5.0)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # a gap pixel between the cells: column 5 is 1 px from cell 1 (columns 1-4), 2 px from cell 2 (7-9)
    wc0 = mask.size / (2 * (mask == 0).sum())
    np.testing.assert_allclose(got[4, 5], wc0 + 10 * np.exp(-(1 + 2) ** 2 / 50), rtol=1e-6)


def test_weight_map_class_balance_and_single_cell():
    mask = np.zeros((6, 6), np.int64)
    mask[:3, :2] = 1                   # 6 cell pixels, 30 background
    np.testing.assert_allclose(class_balance_weights(mask, 2), [36 / 60, 36 / 12])
    w = unet_weight_map(mask, mask, num_classes=2)   # one cell only: no second-nearest cell
    np.testing.assert_allclose(w, np.where(mask == 1, 3.0, 0.6), rtol=1e-6)
    assert np.isclose((w * 1.0).sum(), 36)           # each class carries half of the total


# --------------------------------------------------------------------------- augmentations
def _label_image():
    rng = np.random.default_rng(0)
    mask = np.zeros((20, 24), np.int64)
    mask[3:9, 4:15] = 1
    mask[12:18, 2:7] = 2
    mask[rng.random(mask.shape) < 0.05] = 3         # isolated pixels catch any misalignment
    return mask


@pytest.mark.parametrize("transform", [
    T.RandomHorizontalFlip(p=1.0), T.RandomVerticalFlip(p=1.0), T.RandomRotation90(), T.RandomCrop((11, 13)),
    T.ElasticDeformation(sigma=4.0, order=0),
    T.Compose([T.RandomRotation90(), T.RandomHorizontalFlip(), T.ElasticDeformation(sigma=3.0, order=0),
               T.RandomCrop(10), T.RandomBrightnessContrast(brightness=0.0, contrast=0.0)]),
])
def test_geometric_transforms_keep_image_and_mask_aligned(transform):
    mask = _label_image()
    image = mask.astype(np.float32)[None]           # an image that *is* its mask
    weight = mask.astype(np.float32) * 0.5 + 1.0
    for seed in range(4):
        transform_rng = np.random.default_rng(seed)
        for t in getattr(transform, "transforms", [transform]):
            t.generator = transform_rng
        out_image, out_mask, out_weight = transform(image, mask, weight)
        assert out_image.shape[0] == 1 and out_image.shape[1:] == out_mask.shape == out_weight.shape
        assert out_mask.dtype == np.int64 and out_image.dtype == np.float32
        np.testing.assert_array_equal(out_image[0], out_mask)
        assert set(np.unique(out_mask)) <= {0, 1, 2, 3}


def test_elastic_deformation_moves_bicubic_image_with_nearest_mask():
    mask = np.zeros((32, 32), np.int64)
    mask[8:24, 10:22] = 1
    image = mask.astype(np.float32)[None]
    t = T.ElasticDeformation(sigma=3.0, generator=np.random.default_rng(1))
    out_image, out_mask = t(image, mask)
    assert not np.array_equal(out_mask, mask)        # it did deform
    assert set(np.unique(out_mask)) == {0, 1}         # labels stay labels
    agree = ((out_image[0] > 0.5) == (out_mask == 1)).mean()
    assert agree > 0.97


def test_elastic_displacement_is_smooth_and_interpolates_the_coarse_grid():
    field = T.elastic_displacement((40, 40), sigma=10.0, grid=3, rng=np.random.default_rng(5))
    coarse = np.random.default_rng(5).normal(0.0, 10.0, size=(2, 3, 3))
    assert field.shape == (2, 40, 40)
    np.testing.assert_allclose(field[:, 0, 0], coarse[:, 0, 0], atol=1e-6)
    np.testing.assert_allclose(field[:, -1, -1], coarse[:, -1, -1], atol=1e-6)
    # smooth: neighbouring pixels move almost alike
    assert np.abs(np.diff(field, axis=1)).max() < 5 and np.abs(np.diff(field, axis=2)).max() < 5


def test_transforms_are_seeded_and_brightness_touches_the_image_only():
    image = np.random.default_rng(0).random((1, 16, 16)).astype(np.float32)
    mask = (image[0] > 0.5).astype(np.int64)
    pipeline = lambda: T.Compose([T.RandomRotation90(generator=np.random.default_rng(3)),
                                  T.ElasticDeformation(sigma=2.0, generator=np.random.default_rng(4))])
    a, b = pipeline()(image, mask), pipeline()(image, mask)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    out_image, out_mask = T.RandomBrightnessContrast(0.2, 0.3, generator=np.random.default_rng(0))(image, mask)
    assert out_mask is mask or np.array_equal(out_mask, mask)
    assert not np.allclose(out_image, image) and out_image.dtype == np.float32
    assert T.RandomHorizontalFlip(p=1.0)(image).shape == image.shape   # image alone in, image alone out


def test_transform_errors():
    with pytest.raises(ValueError, match="RandomCrop"):
        T.RandomCrop(40)(np.zeros((1, 16, 16)), np.zeros((16, 16), np.int64))
    with pytest.raises(ValueError, match="height and width"):
        T.RandomRotation90()(np.zeros((1, 16, 16)), np.zeros((15, 16), np.int64))


# --------------------------------------------------------------------------- DataLoader
def test_default_collate_stacks_fields():
    samples = [(np.full((1, 2, 2), i, np.float32), np.int64(i)) for i in range(3)]
    images, labels = default_collate(samples)
    assert images.shape == (3, 1, 2, 2) and labels.tolist() == [0, 1, 2]
    assert default_collate([{"a": np.zeros(2)}, {"a": np.ones(2)}])["a"].shape == (2, 2)
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])


def test_dataloader_batches_shuffle_and_drop_last():
    ds = TensorDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    batches = list(DataLoader(ds, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 1) and batches[2][1].tolist() == [8, 9]
    assert len(DataLoader(ds, batch_size=4)) == 3 and len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert [len(b[1]) for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]

    loader = DataLoader(ds, batch_size=3, shuffle=True, seed=0)
    first = np.concatenate([b[1] for b in loader])
    second = np.concatenate([b[1] for b in loader])
    assert sorted(first.tolist()) == list(range(10)) and sorted(second.tolist()) == list(range(10))
    assert first.tolist() != second.tolist()                  # a new order every pass
    again = DataLoader(ds, batch_size=3, shuffle=True, seed=0)
    assert np.concatenate([b[1] for b in again]).tolist() == first.tolist()   # same seed, same order


def test_dataloader_state_dict_restores_the_shuffle():
    ds = TensorDataset(np.arange(12))
    loader = DataLoader(ds, batch_size=5, shuffle=True, seed=1)
    list(loader)
    state = loader.state_dict()
    expected = np.concatenate([b[0] for b in loader])
    other = DataLoader(ds, batch_size=5, shuffle=True, seed=99)
    other.load_state_dict(state)
    assert np.concatenate([b[0] for b in other]).tolist() == expected.tolist()


def test_dataloader_errors():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.zeros(3)), batch_size=0)


# --------------------------------------------------------------------------- digits
def test_digits_split_shapes_and_range():
    train, val = DigitsDataset(train=True, seed=0), DigitsDataset(train=False, seed=0)
    assert len(train) + len(val) == 1797 and len(val) == round(0.2 * 1797)
    image, label = train[0]
    assert image.shape == (1, 8, 8) and image.dtype == np.float32 and 0 <= image.min() <= image.max() <= 1
    assert train.labels.dtype == np.int64 and set(np.unique(train.labels)) == set(range(10))
    # disjoint parts: no validation image appears in the training part
    train_rows = {im.tobytes() + bytes([int(lb)]) for im, lb in zip(train.images, train.labels)}
    assert sum(im.tobytes() + bytes([int(lb)]) in train_rows for im, lb in zip(val.images, val.labels)) < 5
    assert len(DigitsDataset(train=True, limit=50)) == 50


def test_digits_without_scikit_learn_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)     # "import sklearn" now raises ImportError
    with pytest.raises(ImportError, match=r"pip install -e \.\[digits\]"):
        DigitsDataset()
