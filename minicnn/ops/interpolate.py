"""Resizing (N, C, H, W) images: nearest-neighbour and bilinear interpolation, as ``F.interpolate``.

Resizing is the upsampling path of segmentation networks (FCN's and DeepLab's
bilinear upsampling of the score maps [Long et al., 2015; Chen et al., 2018a], the
U-Net decoder [Ronneberger et al., 2015]; see docs/bibliography.md). Every
output pixel (i, j) reads a *source position* (u, v) in the input, computed
per axis (torch's ``area_pixel_compute_source_index``):

    align_corners=False:  u = (i + 0.5) * scale - 0.5, clamped at 0   (pixel *areas* line up)
    align_corners=True:   u = i * (H_in - 1) / (H_out - 1)            (the corner *pixels* line up)
    nearest (legacy):     u = min(floor(i * scale), H_in - 1)
    nearest-exact:        u = min(floor((i + 0.5) * scale), H_in - 1)

with scale = H_in / H_out, or 1 / scale_factor when a scale factor is given
(torch then keeps the factor the user asked for, not the rounded size ratio).

Bilinear interpolation mixes the two neighbouring rows (and columns) of u:

    y = (1 - t) x[floor(u)] + t x[floor(u) + 1],   t = u - floor(u)

Along one axis that is multiplication by a fixed sparse matrix A (H_out x H_in,
two entries per row; one entry 1 for nearest). Rows and columns are
independent, so a 2-D resize of every plane is two matrix products, and its
gradient is the transposed products:

    Y = A_h X A_w^T          dL/dX = A_h^T (dL/dY) A_w

(the backward *scatters* each output gradient back to the inputs it read,
weighted; A^T does exactly that). ``interpolate_naive`` spells out the same
computation pixel by pixel.
"""
import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from .adaptive_pooling import adaptive_avg_pool2d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

MODES = ("nearest", "nearest-exact", "bilinear", "area")


# =========================================================================== one axis
def _scale(in_size, out_size, align_corners, scale_factor, dtype):
    """torch's ``area_pixel_compute_scale``, in ``dtype`` (float32 for float32 images, as torch)."""
    if align_corners:
        return dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype(1.0 / scale_factor)
    return dtype(in_size) / dtype(out_size)


def nearest_indices(in_size, out_size, scale_factor=None, exact=False):
    """Source row of every output row for 'nearest' (legacy) or 'nearest-exact' (int64 array).

    As torch: an unchanged size copies, an exactly doubled size (legacy mode
    only) halves the index, else floor(i * scale) computed in float32.
    """
    i = np.arange(out_size)
    if not exact and out_size == in_size:
        return i
    if not exact and out_size == 2 * in_size:
        return i >> 1
    scale = _scale(in_size, out_size, False, scale_factor, np.float32)
    position = (i.astype(np.float32) + np.float32(0.5 if exact else 0.0)) * scale
    return np.minimum(np.floor(position).astype(np.int64), in_size - 1)


def linear_weights(in_size, out_size, align_corners, scale_factor=None, dtype=np.float64):
    """(i0, i1, w0, w1): output row i = w0[i] * input row i0[i] + w1[i] * input row i1[i]."""
    i = np.arange(out_size)
    if out_size == in_size:
        return i, i, np.ones(out_size, dtype), np.zeros(out_size, dtype)
    scale = _scale(in_size, out_size, align_corners, scale_factor, dtype)
    if align_corners:
        u = scale * i.astype(dtype)
    else:
        u = np.maximum(scale * (i.astype(dtype) + dtype(0.5)) - dtype(0.5), dtype(0))
    i0 = np.minimum(np.floor(u).astype(np.int64), in_size - 1)
    w1 = np.clip(u - i0.astype(dtype), dtype(0), dtype(1)).astype(dtype)
    i1 = np.where(i0 < in_size - 1, i0 + 1, i0)
    return i0, i1, (dtype(1) - w1).astype(dtype), w1


def interpolation_matrix(in_size, out_size, mode, align_corners=None, scale_factor=None, dtype=np.float64):
    """The (out_size, in_size) matrix A of one axis: y = A x along that axis."""
    A = np.zeros((out_size, in_size), dtype=dtype)
    rows = np.arange(out_size)
    if mode in ("nearest", "nearest-exact"):
        A[rows, nearest_indices(in_size, out_size, scale_factor, exact=mode == "nearest-exact")] = 1
    else:
        i0, i1, w0, w1 = linear_weights(in_size, out_size, bool(align_corners), scale_factor, dtype)
        np.add.at(A, (rows, i0), w0)  # i0 == i1 at the last row: both weights add up there
        np.add.at(A, (rows, i1), w1)
    return A


# =========================================================================== the definition, as loops
def _source_position(i, in_size, out_size, mode, align_corners, scale_factor):
    """Where output index i reads from, in float64 (the loops below; the fast path follows torch's
    float32 arithmetic for float32 images)."""
    if align_corners:
        return i * (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    scale = 1.0 / scale_factor if scale_factor else in_size / out_size
    if mode == "nearest":
        return i * scale
    if mode == "nearest-exact":
        return (i + 0.5) * scale
    return max((i + 0.5) * scale - 0.5, 0.0)


def _taps(i, in_size, out_size, mode, align_corners, scale_factor):
    """The (input index, weight) pairs that output index i mixes along one axis."""
    if mode in ("nearest", "nearest-exact"):
        if mode == "nearest" and out_size in (in_size, 2 * in_size):
            return [(i * in_size // out_size, 1.0)]  # torch copies or halves the index exactly
        u = _source_position(i, in_size, out_size, mode, align_corners, scale_factor)
        return [(min(int(math.floor(u)), in_size - 1), 1.0)]
    if out_size == in_size:
        return [(i, 1.0)]
    u = _source_position(i, in_size, out_size, mode, align_corners, scale_factor)
    i0 = min(int(math.floor(u)), in_size - 1)
    t = min(max(u - i0, 0.0), 1.0)
    return [(i0, 1.0 - t), (min(i0 + 1, in_size - 1), t)]


def interpolate_naive(x, size, mode="nearest", align_corners=False, scale_factor=None):
    """Resize with loops over every output pixel (NumPy arrays): y[i, j] = sum of w_a w_b x[a, b] over
    the taps a of row i and b of column j. ``size`` is the output (H_out, W_out); ``scale_factor``
    (optional) the user's factor, which sets the scale as in torch."""
    N, C, H, W = x.shape
    oH, oW = size
    fH, fW = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    y = np.zeros((N, C, oH, oW), dtype=x.dtype)
    for i in range(oH):
        for j in range(oW):
            for a, wa in _taps(i, H, oH, mode, align_corners, fH):
                for b, wb in _taps(j, W, oW, mode, align_corners, fW):
                    y[:, :, i, j] += wa * wb * x[:, :, a, b]
    return y


def interpolate_backward_naive(grad_output, input_shape, mode="nearest", align_corners=False,
                               scale_factor=None):
    """dL/dx of ``interpolate_naive``: each output gradient, times the weight, back to every tap."""
    N, C, H, W = input_shape
    oH, oW = grad_output.shape[2:]
    fH, fW = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor, scale_factor)
    grad_input = np.zeros(input_shape, dtype=grad_output.dtype)
    for i in range(oH):
        for j in range(oW):
            for a, wa in _taps(i, H, oH, mode, align_corners, fH):
                for b, wb in _taps(j, W, oW, mode, align_corners, fW):
                    grad_input[:, :, a, b] += wa * wb * grad_output[:, :, i, j]
    return grad_input


# =========================================================================== the Function
class Resample2d(Function):
    """Y = A_h X A_w^T for every (n, c) plane.   dL/dX = A_h^T (dL/dY) A_w.

    Nearest-neighbour matrices hold a single 1 per row: the forward then simply
    gathers rows ``rows`` and columns ``cols`` (same result, and no 0 * inf).
    """

    def forward(self, x, A_h, A_w, rows=None, cols=None):
        self.A_h, self.A_w = A_h, A_w
        if rows is not None:
            return x[:, :, rows][:, :, :, cols]
        return A_h @ (x @ A_w.T)

    def backward(self, grad):
        return self.A_h.T @ (grad @ self.A_w)


# =========================================================================== user functions
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize an (N, C, H, W) tensor to ``size`` or by ``scale_factor``, as
    ``torch.nn.functional.interpolate``. Modes: 'nearest' (torch's legacy rule), 'nearest-exact',
    'bilinear' (with ``align_corners`` False, the default, or True) and 'area' (adaptive average
    pooling)."""
    if input.ndim != 4:
        hint = " (for a single (C, H, W) image add the batch axis: x.unsqueeze(0))" if input.ndim == 3 else ""
        raise ValueError(f"interpolate: expected a 4-D input (N, C, H, W), got a {input.ndim}-D input of "
                         f"shape {tuple(input.shape)}{hint}")
    if mode not in MODES:
        raise ValueError(f"interpolate: mode {mode!r} is not supported for 4-D input; expected one of "
                         f"{', '.join(repr(m) for m in MODES)}")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError("interpolate: align_corners option can only be set with the interpolating "
                             f"modes: linear | bilinear | bicubic | trilinear (got mode={mode!r})")
    elif align_corners is None:
        align_corners = False
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported by minicnn")
    if mode == "area" and size is None:
        recompute_scale_factor = True
    (oH, oW), (fH, fW) = _output_size(input, size, scale_factor, recompute_scale_factor)
    H, W = input.shape[2:]
    if min(H, W, oH, oW) <= 0:
        raise ValueError(f"interpolate: input and output sizes should be greater than 0, but got input "
                         f"(H: {H}, W: {W}) and output (H: {oH}, W: {oW})")
    if mode == "area":
        return adaptive_avg_pool2d(input, (oH, oW))

    xp = get_array_module(input)
    dtype = np.float64 if input.dtype == np.float64 else np.float32  # torch's opmath type
    A_h = interpolation_matrix(H, oH, mode, align_corners, fH, dtype)
    A_w = interpolation_matrix(W, oW, mode, align_corners, fW, dtype)
    rows = cols = None
    if mode != "bilinear":
        rows, cols = xp.asarray(A_h.argmax(axis=1)), xp.asarray(A_w.argmax(axis=1))
    return Resample2d.apply(input, A_h=xp.asarray(A_h, dtype=input.dtype),
                            A_w=xp.asarray(A_w, dtype=input.dtype), rows=rows, cols=cols)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated torch alias of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(mode='nearest')`` (torch's deprecated alias)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(mode='bilinear', align_corners=True)`` (torch's deprecated alias)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# =========================================================================== argument checks
def _output_size(input, size, scale_factor, recompute_scale_factor):
    """(H_out, W_out) and the per-axis scale factors torch hands its kernels (None when recomputed)."""
    spatial = tuple(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("interpolate: recompute_scale_factor is not meaningful with an explicit size")
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
        if len(sizes) != 2:
            raise ValueError(f"interpolate: the output size must have 2 entries (H_out, W_out) for an input "
                             f"with spatial dimensions {list(spatial)}, got size={size!r}")
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
                raise TypeError(f"interpolate: size must be an int or a pair of ints, got {size!r}")
        return tuple(int(s) for s in sizes), (None, None)
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    factors = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) else (scale_factor,) * 2
    if len(factors) != 2:
        raise ValueError(f"interpolate: scale_factor must have 2 entries for an input with spatial "
                         f"dimensions {list(spatial)}, got scale_factor={scale_factor!r}")
    factors = tuple(float(f) for f in factors)
    out = tuple(int(math.floor(n * f)) for n, f in zip(spatial, factors))
    return out, ((None, None) if recompute_scale_factor else factors)
