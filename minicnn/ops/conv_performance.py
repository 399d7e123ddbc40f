"""The convolution's performance machinery: chunks of images, columns kept when they are small,
and the choice of input-gradient algorithm.

Nothing here changes a result; it only decides how much memory and time the
convolution takes. Read ``conv.py`` (the definition and the Function) and
``conv_kernels.py`` (im2col + one matrix product over the whole batch) first:
the functions here compute the same sums, and ``tests/test_conv_performance.py``
checks them against those kernels.

Memory: the columns hold C_in * kH * kW * N * H_out * W_out numbers, kH * kW
times the input for stride 1 (9x for a 3x3 kernel). Building them for the
whole batch and keeping them until the backward (for the weight gradient)
made them most of the memory of a training step, and allocating such a large
array afresh at every step is slow too: the operating system hands out its
pages one page fault at a time. So the forward builds the columns for a few
images at a time (a chunk of about ``CHUNK_BYTES`` = 8 MiB of columns, at least
one image), writes that chunk's matrix product into the output and drops the
columns; the Function keeps only the padded input. The backward builds the
columns again, chunk by chunk, and adds up the weight gradient over the
chunks: every column belongs to exactly one image, so

    dL/dW_mat = sum over chunks k of  G_k @ cols_k^T

(G_k: the columns of G of the chunk's images). When the whole batch fits in
one chunk (small feature maps, deep in a network), the forward's columns are
kept for the backward instead of being built again: they cost no more memory
than the chunk the backward would build.

Layout: one matrix product per chunk, the columns of ``conv_kernels.py``
((channel, offset) x (image, pixel)); the chunk's product comes out as
(C_out, n, H_out, W_out) and is copied into the NCHW output while it is still
in the cache. One product per image instead (image-major columns, written
straight into NCHW) cost the same on one thread but 1.2-5x more at 2 threads
on a busy machine: every product is a rendezvous of OpenBLAS's threads
(benchmarks/RESULTS.md).

Input gradient: :func:`conv2d_input_grad` chooses between the "full
convolution" and the "col2im" algorithms (``conv_kernels.py``); both run here
in chunks of images.
"""
from ..backend import get_array_module
from .conv_kernels import (channels_first, conv2d_columns, conv2d_forward_kernel, conv2d_grad_weight_kernel,
                           flip_weight, full_padding)
from .im2col import col2im, crop2d, pad2d

__all__ = []  # machinery for conv.py and conv_transpose.py, not user functions

#: about how many bytes of im2col columns the forward and the weight gradient build at once
CHUNK_BYTES = 8 * 2 ** 20


# ============================================================================ chunks of images
def images_per_chunk(rows, pixels, itemsize, chunk_bytes=None):
    """How many images make about ``chunk_bytes`` (default ``CHUNK_BYTES``) of columns (at least 1).

    One image has ``rows`` = C * kH * kW rows of ``pixels`` = H_out * W_out columns.
    """
    if chunk_bytes is None:            # read at call time, so that a test can lower it (monkeypatch)
        chunk_bytes = CHUNK_BYTES
    return max(1, chunk_bytes // max(rows * pixels * itemsize, 1))   # no channel or no pixel: one chunk


def conv2d_forward_chunked(x_pad, weight, stride, dilation, groups, out_size, chunk_bytes=None,
                           keep_columns=False):
    """out[chunk] = W_mat @ im2col(x_pad[chunk]), a chunk of images at a time, written into the output.

    The images are independent, so this is the same result as one big
    product; only one chunk's columns (about ``chunk_bytes``) exist at a
    time. Returns ``out`` (N, C_out, H_out, W_out), or with ``keep_columns``
    the pair (out, cols), cols (groups, C_in/groups * kH * kW, N * H_out * W_out)
    being the columns when the batch made one chunk (else None): the
    backward can use them instead of building them again.
    """
    xp = get_array_module(x_pad)
    n = x_pad.shape[0]
    c_out, c_per_group, k_h, k_w = weight.shape
    out = xp.empty((n, c_out) + tuple(out_size), dtype=x_pad.dtype)
    step = images_per_chunk(c_per_group * groups * k_h * k_w, out_size[0] * out_size[1], x_pad.dtype.itemsize,
                            chunk_bytes)
    cols = None
    for start in range(0, n, step):
        _, cols = conv2d_forward_kernel(x_pad[start:start + step], weight, stride, dilation, groups, out_size,
                                        out=out[start:start + step])
    if keep_columns:
        return out, (cols if step >= n else None)
    return out


def conv2d_grad_weight(grad, x_pad, weight_shape, stride, dilation, groups, out_size, chunk_bytes=None,
                       cols=None):
    """dL/dW = sum over chunks of images of G_chunk @ im2col(x_pad[chunk])^T.

    ``grad`` is dL/d(out) (N, C_out, H_out, W_out); each chunk's G_chunk =
    ``channels_first(grad[chunk])`` is a small copy. ``cols``: the forward's
    columns of the whole batch, if it kept them.
    """
    xp = get_array_module(x_pad)
    n = x_pad.shape[0]
    c_out, c_per_group, k_h, k_w = weight_shape
    step = n if cols is not None else \
        images_per_chunk(c_per_group * groups * k_h * k_w, out_size[0] * out_size[1], x_pad.dtype.itemsize,
                         chunk_bytes)
    grad_w = xp.zeros(weight_shape, dtype=x_pad.dtype) if n == 0 else None   # an empty batch: zeros, as torch
    for start in range(0, n, step):
        chunk_cols = cols if cols is not None else \
            conv2d_columns(x_pad[start:start + step], (k_h, k_w), stride, dilation, groups, out_size)
        part = conv2d_grad_weight_kernel(channels_first(grad[start:start + step], groups), chunk_cols,
                                         weight_shape)
        grad_w = part if grad_w is None else xp.add(grad_w, part, out=grad_w)
    return grad_w


# ============================================================================ the input gradient
def input_grad_method(stride, c_out, c_in):
    """"full" for stride 1 and C_out <= C_in, "col2im" otherwise (see :func:`conv2d_input_grad`)."""
    return "full" if tuple(stride) == (1, 1) and c_out <= c_in else "col2im"


def input_grad_full(grad, weight, input_size, padding, dilation, groups, chunk_bytes=None):
    """conv_kernels.conv2d_input_grad_full in chunks of images: conv2d(grad padded, rot180(W)^T)."""
    grad_pad = pad2d(grad, full_padding(grad.shape[2:], weight.shape[2:], input_size, padding, dilation))
    return conv2d_forward_chunked(grad_pad, flip_weight(weight, groups), (1, 1), dilation, groups,
                                  tuple(input_size), chunk_bytes)


def input_grad_col2im(grad, weight, input_size, stride, padding, dilation, groups, chunk_bytes=None):
    """conv_kernels.conv2d_input_grad_col2im, a chunk of images at a time: col2im(W_mat^T @ G_chunk)."""
    xp = get_array_module(grad)
    n, c_out, h_out, w_out = grad.shape
    c_per_group, k_h, k_w = weight.shape[1:]
    c_in = c_per_group * groups
    (height, width), (top, bottom, left, right) = input_size, padding
    padded_size = (height + top + bottom, width + left + right)
    w_t = weight.reshape(groups, c_out // groups, -1).transpose(0, 2, 1)   # (groups, C_in/groups*kH*kW, C_out/groups)
    grad_x_pad = xp.empty((n, c_in) + padded_size, dtype=grad.dtype)
    step = images_per_chunk(c_in * k_h * k_w, h_out * w_out, grad.dtype.itemsize, chunk_bytes)
    for start in range(0, n, step):
        chunk = grad[start:start + step]
        grad_cols = w_t @ channels_first(chunk, groups)              # (groups, C_in/groups*kH*kW, n*H_out*W_out)
        grad_x_pad[start:start + step] = col2im(grad_cols, (chunk.shape[0], c_in) + padded_size, (k_h, k_w),
                                                stride, dilation, (h_out, w_out))
    return xp.ascontiguousarray(crop2d(grad_x_pad, padding))


def conv2d_input_grad(grad, weight, input_size, stride, padding, dilation, groups, method=None,
                      grad_mat=None):
    """dL/dx (N, C_in, H, W) of a conv2d, given grad = dL/d(out) (N, C_out, H_out, W_out).

    Every input pixel x[n, c, y, z] was read by the output pixels (i, j) with
    i*s + u*d - p_top = y, so

        dL/dx[n, c, y, z] = sum over f, u, v of W[f, c, u, v] * grad[n, f, (y + p_top - u*d) / s, ...]

    (terms with a non-integer or out-of-range index are absent): a
    *transposed convolution* of grad. Two ways to compute it fast
    (``conv_kernels.py``):

    * "full convolution": for stride 1 it is an ordinary convolution of
      grad, padded by d (k - 1) - p, with rot180(W)^T (``flip_weight``);
      so im2col + one matmul again, with columns of C_out * kH * kW rows;
    * "col2im": columns = W_mat^T @ G (one matmul, C_in * kH * kW rows),
      then ``col2im`` adds each column entry back onto the pixel it was
      read from (a loop over the kH * kW kernel offsets).

    We take the full convolution when the stride is 1 and C_out <= C_in
    (measured faster: im2col + matmul beats matmul + col2im at equal
    sizes), col2im otherwise: with C_out >> C_in (an RGB first layer) the
    full convolution's columns would be C_out / C_in times larger, and for
    stride s > 1 it would first insert s - 1 zeros between grad pixels and
    waste (s^2 - 1) / s^2 of its products. ``method="full"`` or
    ``"col2im"`` forces one (the full convolution needs stride 1). Both run
    a chunk of images at a time. ``grad_mat`` is accepted for the callers
    that have ``channels_first(grad)`` and unused: each chunk copies its own.
    """
    if method is None:
        method = input_grad_method(stride, grad.shape[1], weight.shape[1] * groups)
    if method == "full":
        if tuple(stride) != (1, 1):
            raise ValueError(f"conv2d_input_grad: method='full' needs stride 1, got stride={stride}")
        return input_grad_full(grad, weight, input_size, padding, dilation, groups)
    if method != "col2im":
        raise ValueError(f"conv2d_input_grad: method must be None, 'full' or 'col2im', got {method!r}")
    return input_grad_col2im(grad, weight, input_size, stride, padding, dilation, groups)
