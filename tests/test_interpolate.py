"""Resizing: F.interpolate ('nearest', 'nearest-exact', 'bilinear' with align_corners False/True,
'area'), by size or by scale factor, and the Upsample modules.

The source-index rules are pinned against torch exhaustively on small sizes (torch computes
them in float32 for float32 images, with special cases for unchanged and doubled sizes); the
gradients (two transposed matrix products) by float64 gradient checks on every backend and torch
parity in float64 and float32; the fast kernel against the pixel-by-pixel loops.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn import nn
from minicnn.ops import interpolate as I
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

TF = torch.nn.functional


@st.composite
def resize_cases(draw):
    """An input (N >= 2) and the keyword arguments of one resize (by size or by scale factor)."""
    shape = (draw(st.integers(2, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "bilinear", "bilinear-corners", "area"]))
    options = {"mode": "bilinear" if mode.startswith("bilinear") else mode}
    if mode == "bilinear-corners":
        options["align_corners"] = True
    if draw(st.booleans(), label="by size"):
        options["size"] = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    else:
        factor = st.sampled_from([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])
        options["scale_factor"] = (draw(factor), draw(factor))
        if min(int(n * f) for n, f in zip(shape[2:], options["scale_factor"])) < 1:
            options["scale_factor"] = (2.0, 3.0)
    return draw(arrays(shape), label="x"), options


def _t(x, requires_grad=True):
    return minicnn.tensor(x, requires_grad=requires_grad)


# --------------------------------------------------------------------------- gradients and parity
@settings(max_examples=12)
@given(resize_cases())
def test_interpolate_gradcheck(backend, case):
    x, options = case
    gradcheck(lambda t: F.interpolate(t, **options), _t(x))


@settings(max_examples=20)
@given(resize_cases())
def test_interpolate_matches_torch(backend, case):
    x, options = case
    for dtype in (np.float64, np.float32):
        assert_parity(lambda t: F.interpolate(t, **options), lambda t: TF.interpolate(t, **options), [x],
                      dtype=dtype)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearest_source_indices_match_torch_for_all_small_sizes(mode, dtype):
    """Forward only, on a ramp whose values are the input indices, so every chosen index is visible."""
    for in_size in range(1, 13):
        ramp = np.arange(in_size, dtype=dtype).reshape(1, 1, 1, in_size)
        for out_size in range(1, 31):
            ours = F.interpolate(_t(ramp, False), size=(1, out_size), mode=mode).numpy()
            theirs = TF.interpolate(torch.tensor(ramp), size=(1, out_size), mode=mode).numpy()
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{mode} {in_size} -> {out_size}")
        for factor in (0.3, 0.5, 0.7, 1.3, 1.5, 2.0, 2.2, 2.5, 3.0, 3.3):
            if int(in_size * factor) < 1:
                continue
            ours = F.interpolate(_t(ramp, False), scale_factor=(1.0, factor), mode=mode).numpy()
            theirs = TF.interpolate(torch.tensor(ramp), scale_factor=(1.0, factor), mode=mode).numpy()
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{mode} {in_size} x {factor}")


@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_weights_match_torch_for_many_sizes(align_corners):
    rng = np.random.default_rng(0)
    for in_size in (1, 2, 3, 5, 8):
        x = rng.standard_normal((2, 1, in_size, in_size + 1))
        for out in ((1, 1), (2, 7), (9, 4), (16, 17), (in_size, in_size + 1)):
            for dtype in (np.float64, np.float32):
                assert_parity(lambda t: F.interpolate(t, size=out, mode="bilinear", align_corners=align_corners),
                              lambda t: TF.interpolate(t, size=out, mode="bilinear", align_corners=align_corners),
                              [x], dtype=dtype)
        for factor in (0.5, 1.7, 2.0, 3.0):
            if int(in_size * factor) < 1:
                continue
            for recompute in (None, True):
                options = dict(scale_factor=factor, mode="bilinear", align_corners=align_corners,
                               recompute_scale_factor=recompute)
                assert_parity(lambda t: F.interpolate(t, **options), lambda t: TF.interpolate(t, **options), [x])


def test_segmentation_sized_upsampling_matches_torch():
    """A score map upsampled 8x as in FCN/DeepLab, float32."""
    x = np.random.default_rng(0).standard_normal((2, 4, 7, 9))
    for mode, align in (("bilinear", False), ("bilinear", True), ("nearest", None)):
        assert_parity(lambda t: F.interpolate(t, scale_factor=8, mode=mode, align_corners=align),
                      lambda t: TF.interpolate(t, scale_factor=8, mode=mode, align_corners=align),
                      [x], dtype=np.float32)


# --------------------------------------------------------------------------- naive loops == fast kernel
@settings(max_examples=15)
@given(resize_cases())
def test_interpolate_naive_equals_fast(case):
    x, options = case
    if options["mode"] == "area":
        return
    t = _t(x)
    y = F.interpolate(t, **options)
    naive = dict(mode=options["mode"], align_corners=options.get("align_corners", False),
                 scale_factor=options.get("scale_factor"))
    np.testing.assert_allclose(y.numpy(), I.interpolate_naive(x, y.shape[2:], **naive), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(t.grad.numpy(), I.interpolate_backward_naive(g, x.shape, **naive),
                               rtol=1e-12, atol=1e-12)


def test_interpolation_matrices_are_the_textbook_ones():
    # x2 bilinear, align_corners=True, 3 -> 5: the midpoints average their neighbours
    A = I.interpolation_matrix(3, 5, "bilinear", align_corners=True)
    np.testing.assert_allclose(A, [[1, 0, 0], [.5, .5, 0], [0, 1, 0], [0, .5, .5], [0, 0, 1]])
    # x2 bilinear, align_corners=False, 2 -> 4: sources at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped)
    A = I.interpolation_matrix(2, 4, "bilinear", align_corners=False)
    np.testing.assert_allclose(A, [[1, 0], [.75, .25], [.25, .75], [0, 1]])
    # rows of every interpolation matrix sum to 1 (a constant image stays constant)
    for mode in ("nearest", "nearest-exact", "bilinear"):
        np.testing.assert_allclose(I.interpolation_matrix(5, 12, mode, False).sum(axis=1), 1.0)


# --------------------------------------------------------------------------- modules
def test_upsample_modules_match_torch(backend):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    pairs = [
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
        (nn.Upsample(size=(7, 3), mode="bilinear"), torch.nn.Upsample(size=(7, 3), mode="bilinear")),
        (nn.Upsample(scale_factor=(1.5, 2), mode="bilinear", align_corners=True),
         torch.nn.Upsample(scale_factor=(1.5, 2), mode="bilinear", align_corners=True)),
        (nn.UpsamplingBilinear2d(scale_factor=3), torch.nn.UpsamplingBilinear2d(scale_factor=3)),
        (nn.UpsamplingNearest2d(size=9), torch.nn.UpsamplingNearest2d(size=9)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        for dtype in (np.float64, np.float32):
            assert_parity(ours, theirs, [x], dtype=dtype)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("kwargs, error, message", [
    (dict(size=4, scale_factor=2), ValueError, "only one of size or scale_factor"),
    (dict(), ValueError, "either size or scale_factor should be defined"),
    (dict(size=4, align_corners=True), ValueError, "align_corners option can only be set with the interpolating"),
    (dict(size=4, mode="bicubic"), ValueError, "mode 'bicubic' is not supported"),
    (dict(size=(4, 4, 4)), ValueError, "the output size must have 2 entries"),
    (dict(size=(4.0, 4)), TypeError, "size must be an int or a pair of ints"),
    (dict(scale_factor=(2, 2, 2)), ValueError, "scale_factor must have 2 entries"),
    (dict(scale_factor=0.1), ValueError, "input and output sizes should be greater than 0"),
    (dict(size=4, recompute_scale_factor=True), ValueError, "recompute_scale_factor is not meaningful"),
])
def test_bad_arguments_raise_clear_errors(kwargs, error, message):
    x = _t(np.zeros((2, 3, 5, 5)), False)
    with pytest.raises(error, match="interpolate: " + message):
        F.interpolate(x, **kwargs)


def test_non_4d_input_is_refused():
    with pytest.raises(ValueError, match=r"interpolate: expected a 4-D input \(N, C, H, W\), got a 3-D input"):
        F.interpolate(_t(np.zeros((3, 5, 5)), False), scale_factor=2)
