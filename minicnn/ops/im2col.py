"""Sliding windows, shared by convolution and pooling: pad2d, windows, im2col and its adjoint col2im.

A convolution or a pooling reads, for every output pixel, a small window of
the padded input. :func:`windows` is that set of windows as one strided *view*
(no copy), made by the backend's ``sliding_windows`` (NumPy's
``sliding_window_view``, the tool of the pooling exercise) over the dilated
span of the kernel, keeping every s-th window and every d-th tap:

    windows[n, c, i, j, u, v] = x_pad[n, c, i*s_h + u*d_h, j*s_w + v*d_w]

Pooling reduces each window (a loop over the kernel offsets (u, v), each one a
strided (N, C, H_out, W_out) view). ``im2col`` copies all the windows into the
columns of one matrix, so that the whole convolution becomes ONE matrix
product (Chellapilla, Puri & Simard, "High Performance Convolutional Neural
Networks for Document Processing", 2006, and Caffe's ``im2col``):

    cols[(c, u, v), (n, i, j)] = x_pad[n, c, i*s_h + u*d_h, j*s_w + v*d_w]

    rows:    (c, u, v)  an input channel and a kernel offset   C * kH * kW rows
    columns: (n, i, j)  an image and an output pixel            N * H_out * W_out columns

``col2im`` is the adjoint (the transpose) of ``im2col``: it sends every
entry of a column matrix back to the input pixel it was read from and *adds*
it there (the backward of a convolution, and of average pooling). Windows
overlap (kernel larger than stride), so one pixel receives several
contributions. The loop runs over the kH * kW kernel offsets, never over
pixels: for a fixed offset (u, v) the pixels touched are the strided slice
``x_pad[:, :, u*d_h :: s_h, v*d_w :: s_w]``, which holds no pixel twice, so a
plain ``+=`` on the slice is exact on NumPy and CuPy alike.

:func:`pad2d` is the one padding helper of convolution and pooling (zeros, or
-inf for max pooling). Every function works on raw arrays of any backend
(``xp`` of the input); ``im2col_naive`` and ``col2im_naive`` are the loops.
"""
from ..backend import get_array_module, sliding_windows
from ..utils import conv_output_size  # noqa: F401  (re-exported: the size of the column matrix)

__all__ = []  # helpers of the convolutions and poolings, not user functions


# ============================================================================ the definition, as loops
def im2col_naive(x_pad, kernel_size, stride, dilation, out_size):
    """:func:`im2col` with one loop per entry (read this first):

        cols[(c, u, v), (n, i, j)] = x_pad[n, c, i*s_h + u*d_h, j*s_w + v*d_w]
    """
    xp = get_array_module(x_pad)
    n_batch, channels = x_pad.shape[:2]
    (k_h, k_w), (s_h, s_w), (d_h, d_w), (h_out, w_out) = kernel_size, stride, dilation, out_size
    cols = xp.zeros((channels * k_h * k_w, n_batch * h_out * w_out), dtype=x_pad.dtype)
    for c in range(channels):
        for u in range(k_h):
            for v in range(k_w):
                row = (c * k_h + u) * k_w + v
                for n in range(n_batch):
                    for i in range(h_out):
                        for j in range(w_out):
                            cols[row, (n * h_out + i) * w_out + j] = x_pad[n, c, i * s_h + u * d_h, j * s_w + v * d_w]
    return cols


def col2im_naive(cols, padded_shape, kernel_size, stride, dilation, out_size):
    """:func:`col2im` with one loop per entry (read this first):

        x_pad[n, c, i*s_h + u*d_h, j*s_w + v*d_w] += cols[(c, u, v), (n, i, j)]
    """
    xp = get_array_module(cols)
    n_batch, channels = padded_shape[:2]
    (k_h, k_w), (s_h, s_w), (d_h, d_w), (h_out, w_out) = kernel_size, stride, dilation, out_size
    cols = cols.reshape(channels * k_h * k_w, n_batch * h_out * w_out)
    x_pad = xp.zeros(padded_shape, dtype=cols.dtype)
    for c in range(channels):
        for u in range(k_h):
            for v in range(k_w):
                row = (c * k_h + u) * k_w + v
                for n in range(n_batch):
                    for i in range(h_out):
                        for j in range(w_out):
                            x_pad[n, c, i * s_h + u * d_h, j * s_w + v * d_w] += cols[row, (n * h_out + i) * w_out + j]
    return x_pad


# ============================================================================ the fast kernels
def pad2d(x, padding, value=0):
    """Pad the last two axes of ``x`` with ``value``: padding = (top, bottom, left, right).

    A negative amount crops instead (as ``torch.nn.functional.pad``). Returns a
    new array, or ``x`` itself when there is nothing to do. Convolutions pad
    with zeros, max pooling with -inf (a padded entry never wins).
    """
    top, bottom, left, right = padding
    if min(padding) < 0:  # crop first, then pad what is positive
        height, width = x.shape[-2:]
        x = x[..., max(-top, 0):height - max(-bottom, 0), max(-left, 0):width - max(-right, 0)]
        top, bottom, left, right = (max(p, 0) for p in padding)
    if not (top or bottom or left or right):
        return x
    xp = get_array_module(x)
    *lead, height, width = x.shape
    shape = (*lead, height + top + bottom, width + left + right)
    out = xp.zeros(shape, dtype=x.dtype) if value == 0 else xp.full(shape, value, dtype=x.dtype)
    out[..., top:top + height, left:left + width] = x
    return out


def crop2d(x, padding):
    """The inverse of :func:`pad2d` (a view): drop ``padding`` = (top, bottom, left, right)."""
    top, bottom, left, right = padding
    height, width = x.shape[-2:]
    return x[..., top:height - bottom, left:width - right]


def windows(x_pad, kernel_size, stride, dilation, out_size):
    """A strided *view* of every window: shape (N, C, H_out, W_out, kH, kW), no copy.

        windows[n, c, i, j, u, v] = x_pad[n, c, i*s_h + u*d_h, j*s_w + v*d_w]

    ``sliding_windows`` gives every window of the dilated span d (k - 1) + 1
    at every position; slicing keeps the first ``out_size`` positions with a
    step of s, and every d-th tap inside each window. Moving one step along
    an axis of the view moves a fixed number of bytes in ``x_pad``, which is
    what strides express. Read-only: its entries alias each other.
    """
    (k_h, k_w), (s_h, s_w), (d_h, d_w), (h_out, w_out) = kernel_size, stride, dilation, out_size
    span_h, span_w = d_h * (k_h - 1) + 1, d_w * (k_w - 1) + 1
    every = sliding_windows(x_pad, (span_h, span_w), axis=(2, 3))   # (N, C, H_p - span_h + 1, ..., span_h, span_w)
    return every[:, :, :(h_out - 1) * s_h + 1:s_h, :(w_out - 1) * s_w + 1:s_w, ::d_h, ::d_w]


def im2col(x_pad, kernel_size, stride, dilation, out_size):
    """The column matrix (C * kH * kW, N * H_out * W_out) of a padded input (N, C, H_p, W_p).

    One contiguous copy of the :func:`windows` view, its axes ordered (c, u, v)
    for the rows, like a flattened weight ``W[f].reshape(-1)``, and (n, i, j)
    for the columns, so that

        out[f, (n, i, j)] = sum over rows r of  W.reshape(F, -1)[f, r] * cols[r, (n, i, j)].
    """
    xp = get_array_module(x_pad)
    view = windows(x_pad, kernel_size, stride, dilation, out_size)
    n, c, h_out, w_out, k_h, k_w = view.shape
    return xp.ascontiguousarray(view.transpose(1, 4, 5, 0, 2, 3)).reshape(c * k_h * k_w, n * h_out * w_out)


def col2im(cols, padded_shape, kernel_size, stride, dilation, out_size):
    """The adjoint of :func:`im2col`: scatter-add columns back onto zeros of shape (N, C, H_p, W_p).

        x_pad[n, c, i*s_h + u*d_h, j*s_w + v*d_w] += cols[(c, u, v), (n, i, j)]   for every entry

    ``cols`` may be (C * kH * kW, N * H_out * W_out) or any reshape of it,
    e.g. (groups, C/groups * kH * kW, N * H_out * W_out). The sums are made
    in a (C, N, H_p, W_p) array, the order of the columns (faster: both sides
    of each ``+=`` are read in memory order); the result is returned as an
    (N, C, H_p, W_p) *view* of it.
    """
    xp = get_array_module(cols)
    n, c, h_pad, w_pad = padded_shape
    (k_h, k_w), (s_h, s_w), (d_h, d_w), (h_out, w_out) = kernel_size, stride, dilation, out_size
    cols = cols.reshape(c, k_h, k_w, n, h_out, w_out)
    if (s_h, s_w) == (k_h, k_w) and (d_h, d_w) == (1, 1) and (h_pad, w_pad) == (h_out * k_h, w_out * k_w):
        # The windows tile the image exactly, without overlap or gaps (stride = kernel, e.g. the
        # 2x2 stride-2 up-conv of U-Net): nothing is added twice, col2im only rearranges.
        #   x_pad[n, c, i*k_h + u, j*k_w + v] = cols[c, u, v, n, i, j]
        return cols.transpose(3, 0, 4, 1, 5, 2).reshape(n, c, h_pad, w_pad)
    out = xp.zeros((c, n, h_pad, w_pad), dtype=cols.dtype)
    for u in range(k_h):
        for v in range(k_w):
            top, left = u * d_h, v * d_w
            rows = slice(top, top + s_h * (h_out - 1) + 1, s_h)      # i*s_h + u*d_h for every i
            columns = slice(left, left + s_w * (w_out - 1) + 1, s_w)  # j*s_w + v*d_w for every j
            out[:, :, rows, columns] += cols[:, u, v]
    return out.transpose(1, 0, 2, 3)
