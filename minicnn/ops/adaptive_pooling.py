"""Adaptive pooling: the output size is fixed, the windows ("bins") adapt to the input size.

Adaptive pooling (torch's ``AdaptiveAvgPool2d``; the spatial pyramid pooling
of He et al., "Spatial pyramid pooling in deep convolutional networks for
visual recognition", 2015, the pyramid pooling module of PSPNet, Zhao et al.
2017, and the "image pooling" branch of DeepLab's ASPP, Chen et al. 2017)
fixes the *output* size instead of the window: output row i pools input rows

    start_i = floor(i H / H_out)   to   end_i = ceil((i + 1) H / H_out)   (exclusive),

so bins may overlap and differ in size by one.

    adaptive average  y[n,c,i,j] = mean of x[n, c, start_i:end_i, start_j:end_j]
                      = (P_h x P_w^T)[n, c, i, j]   with P the bin-averaging matrices;   dL/dx = P_h^T (dL/dy) P_w
    adaptive max      y[n,c,i,j] = max of the same bin;   dL/dx[argmax] += dL/dy[n,c,i,j]

(1, 1) is global average (or max) pooling, the "squeeze" of SE (Hu et al., 2018).
"""
import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..utils import check_4d
from .pooling import scatter_to_planes

__all__ = ["adaptive_avg_pool2d", "adaptive_max_pool2d"]


# =========================================================================== the bins
def adaptive_bins(in_size, out_size):
    """(start, end) of every adaptive bin: start = floor(i * in / out), end = ceil((i + 1) * in / out)."""
    i = np.arange(out_size)
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)
    return start, end


# =========================================================================== the definition, as loops
def adaptive_avg_pool2d_naive(x, output_size):
    """Adaptive average pooling with loops over every output entry (NumPy arrays)."""
    N, C, H, W = x.shape
    oH, oW = _adaptive_output_size("adaptive_avg_pool2d_naive", x, output_size)
    h0, h1 = adaptive_bins(H, oH)
    w0, w1 = adaptive_bins(W, oW)
    y = np.zeros((N, C, oH, oW), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    y[n, c, i, j] = x[n, c, h0[i]:h1[i], w0[j]:w1[j]].mean()
    return y


def adaptive_avg_pool2d_backward_naive(grad_output, input_shape):
    """dL/dx of adaptive average pooling with loops: each bin's gradient, / bin size, to its entries."""
    N, C, H, W = input_shape
    oH, oW = grad_output.shape[2:]
    h0, h1 = adaptive_bins(H, oH)
    w0, w1 = adaptive_bins(W, oW)
    grad_input = np.zeros(input_shape, dtype=grad_output.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    size = (h1[i] - h0[i]) * (w1[j] - w0[j])
                    grad_input[n, c, h0[i]:h1[i], w0[j]:w1[j]] += grad_output[n, c, i, j] / size
    return grad_input


def adaptive_max_pool2d_naive(x, output_size):
    """Adaptive max pooling with loops; returns ``(y, indices)``. Its backward is
    ``max_pool2d_backward_naive`` (the gradient goes to the argmax)."""
    N, C, H, W = x.shape
    oH, oW = _adaptive_output_size("adaptive_max_pool2d_naive", x, output_size)
    h0, h1 = adaptive_bins(H, oH)
    w0, w1 = adaptive_bins(W, oW)
    y = np.zeros((N, C, oH, oW), dtype=x.dtype)
    indices = np.zeros((N, C, oH, oW), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    best, best_index = -math.inf, -1
                    for h in range(h0[i], h1[i]):
                        for w in range(w0[j], w1[j]):
                            if x[n, c, h, w] > best:
                                best, best_index = x[n, c, h, w], h * W + w
                    y[n, c, i, j], indices[n, c, i, j] = best, best_index
    return y, indices


# =========================================================================== the Functions
def adaptive_avg_matrix(in_size, out_size, dtype=np.float64):
    """P (out_size, in_size) with P[i, start_i:end_i] = 1 / (end_i - start_i): one bin's mean per row."""
    start, end = adaptive_bins(in_size, out_size)
    position = np.arange(in_size)[None, :]
    in_bin = (start[:, None] <= position) & (position < end[:, None])
    return (in_bin / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Function):
    """y = P_h x P_w^T per plane (P: bin averaging matrices).   dL/dx = P_h^T (dL/dy) P_w.

    Averaging over rectangles is separable: average the rows of each row bin,
    then the columns of each column bin; each is a product with a fixed matrix.
    """

    def forward(self, x, out):
        xp = get_array_module(x)
        H, W = x.shape[2:]
        self.P_h = xp.asarray(adaptive_avg_matrix(H, out[0]), dtype=x.dtype)
        self.P_w = xp.asarray(adaptive_avg_matrix(W, out[1]), dtype=x.dtype)
        return self.P_h @ (x @ self.P_w.T)

    def backward(self, grad):
        return self.P_h.T @ (grad @ self.P_w)


def _bin_members(in_size, out_size):
    """(out_size, longest bin) matrix of the input positions of each bin; shorter bins repeat their last
    position, which changes neither a maximum nor (argmax takes the first) its position."""
    start, end = adaptive_bins(in_size, out_size)
    longest = int((end - start).max()) if out_size else 1
    return np.minimum(start[:, None] + np.arange(longest)[None, :], end[:, None] - 1)


class AdaptiveMaxPool2d(Function):
    """y[n,c,i,j] = max over bin (i, j);  dL/dx[argmax] += dL/dy[n,c,i,j].

    A maximum over a rectangle is a maximum over its rows of the maxima over its
    columns, so the kernel reduces the columns of every column bin first, then
    the rows: two gathers and two argmaxes, no loop over pixels. argmax takes the
    first maximum, so ties go to the first entry in row-major order, as in torch.
    """

    def forward(self, x, out):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        oH, oW = out
        cols = xp.asarray(_bin_members(W, oW))                      # (oW, kW)
        rows = xp.asarray(_bin_members(H, oH))                      # (oH, kH)
        # 1) the maximum of every row over the columns of each column bin: (N, C, H, oW)
        x_cols = x[:, :, :, cols]                                   # (N, C, H, oW, kW)
        best_b = x_cols.argmax(axis=4)
        row_max = xp.take_along_axis(x_cols, best_b[..., None], axis=4)[..., 0]
        col_of_row_max = xp.take(cols.reshape(-1), xp.arange(oW) * cols.shape[1] + best_b)
        # 2) the maximum over the rows of each row bin: (N, C, oH, oW)
        x_rows = row_max[:, :, rows, :]                             # (N, C, oH, kH, oW)
        best_a = x_rows.argmax(axis=3)
        y = xp.take_along_axis(x_rows, best_a[:, :, :, None, :], axis=3)[:, :, :, 0, :]
        h = xp.take(rows.reshape(-1), (xp.arange(oH) * rows.shape[1])[:, None] + best_a)
        w = xp.take_along_axis(col_of_row_max, h, axis=2)
        self.indices = h * W + w
        self.input_shape = x.shape
        return y, self.indices

    def backward(self, grad):
        return scatter_to_planes(grad, self.indices, self.input_shape)


# =========================================================================== user functions
def adaptive_avg_pool2d(input, output_size):
    """Average over adaptive bins so that the output is ``output_size`` (an int, or a pair with None
    keeping that input size), as ``torch.nn.functional.adaptive_avg_pool2d``. (1, 1) is global
    average pooling."""
    out = _adaptive_output_size("adaptive_avg_pool2d", input, output_size)
    return AdaptiveAvgPool2d.apply(input, out=out)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over adaptive bins, as ``torch.nn.functional.adaptive_max_pool2d`` (indices as in
    ``max_pool2d``)."""
    out = _adaptive_output_size("adaptive_max_pool2d", input, output_size)
    y, indices = AdaptiveMaxPool2d.apply(input, out=out)
    return (y, indices) if return_indices else y


# =========================================================================== argument checks
def _adaptive_output_size(op, x, output_size):
    check_4d(op, x)
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != 2:
            raise ValueError(f"{op}: output_size must be an int or a pair (H_out, W_out), got {output_size!r}")
        sizes = tuple(x.shape[2 + d] if s is None else s for d, s in enumerate(output_size))
    else:
        sizes = (output_size, output_size)
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{op}: output_size must contain ints (or None), got {output_size!r}")
    if min(sizes) < 0:
        raise ValueError(f"{op}: output_size must be non-negative, got {output_size!r}")
    if min(x.shape[2:]) < 1 and max(sizes) > 0:
        raise ValueError(f"{op}: expected non-empty spatial dimensions, got input of shape {tuple(x.shape)}")
    return int(sizes[0]), int(sizes[1])
