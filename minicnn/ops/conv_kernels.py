"""The fast convolution kernels: im2col + one matrix product (the readable version, whole batch at once).

With G = dL/d(out) arranged as (C_out, N*H_out*W_out) and W_mat =
W.reshape(C_out, C_in/groups * kH * kW), one matrix per group (so one
*batched* matmul over the groups), the forward and the backward of a
convolution are (Chellapilla, Puri & Simard, "High Performance Convolutional
Neural Networks for Document Processing", 2006):

    forward          out          = W_mat @ cols                       cols = im2col(x_pad)
    weight gradient  dL/dW_mat    = G @ cols^T = (cols @ G^T)^T        (a matmul)
    input gradient   dL/dx        = a transposed convolution of G, two ways:
                                    "full": conv2d(G padded, rot180(W)^T)   (stride 1: im2col + a matmul)
                                    "col2im": col2im(W_mat^T @ G)          (a matmul + col2im)
    bias gradient    dL/db[f]     = sum over n, i, j of G[f, (n, i, j)]

and ``col2im`` is the adjoint of ``im2col`` (``im2col.py``).
``conv_transpose.py`` reuses the same kernels with their roles swapped.

What this file does *not* hold is the performance machinery (running the
forward and the weight gradient over chunks of images, choosing between the
two input-gradient algorithms): that is ``conv_performance.py``. The
loop-by-loop definition of all of it is ``conv2d_naive`` and
``conv2d_backward_naive`` in ``conv.py``.
"""
from ..backend import get_array_module
from .im2col import col2im, crop2d, im2col, pad2d

__all__ = []  # kernels for conv.py, conv_performance.py and conv_transpose.py, not user functions


def channels_first(a, groups):
    """(N, C, H, W) -> (groups, C/groups, N*H*W): the layout of the matmuls (one contiguous copy)."""
    xp = get_array_module(a)
    n, c, h, w = a.shape
    return xp.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(groups, c // groups, n * h * w)


def conv2d_columns(x_pad, kernel_size, stride, dilation, groups, out_size):
    """im2col(x_pad) as (groups, C_in/groups * kH * kW, N * H_out * W_out): each group's rows together."""
    cols = im2col(x_pad, kernel_size, stride, dilation, out_size)          # (C_in*kH*kW, N*H_out*W_out)
    return cols.reshape(groups, cols.shape[0] // groups, cols.shape[-1])   # explicit: -1 fails on 0 images


def conv2d_forward_kernel(x_pad, weight, stride, dilation, groups, out_size, out=None):
    """out = W_mat @ im2col(x_pad), one matrix per group, for all the images of ``x_pad`` at once.

    Returns ``out`` (N, C_out, H_out, W_out) and the columns
    (groups, C_in/groups * kH * kW, N * H_out * W_out). With ``out`` given
    (an (N, C_out, H_out, W_out) array, e.g. a slice of a larger output) the
    result is written into it.
    """
    xp = get_array_module(x_pad)
    n = x_pad.shape[0]
    c_out, c_per_group, k_h, k_w = weight.shape
    h_out, w_out = out_size
    cols = conv2d_columns(x_pad, (k_h, k_w), stride, dilation, groups, out_size)
    w_mat = weight.reshape(groups, c_out // groups, c_per_group * k_h * k_w)
    result = w_mat @ cols                                # (groups, C_out/groups, N*H_out*W_out): ONE matmul
    result = result.reshape(c_out, n, h_out, w_out).transpose(1, 0, 2, 3)
    if out is None:
        return xp.ascontiguousarray(result), cols
    out[...] = result
    return out, cols


def conv2d_grad_weight_kernel(grad_mat, cols, weight_shape):
    """dL/dW_mat = G @ cols^T per group (the sum over images and pixels is inside the matmul).

    Computed as (cols @ G^T)^T, the same sums: that product has the
    C_in/groups * kH * kW rows of ``cols`` as its rows and the long axis
    (images and pixels) as its inner dimension, which OpenBLAS shares
    between its threads well; G @ cols^T, with only C_out/groups rows, was
    measured to stall on a loaded 2-core machine
    (``benchmarks/bench_unet_step.py --prototype gradw``).
    """
    return (cols @ grad_mat.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(weight_shape)


def flip_weight(weight, groups):
    """rot180(W)^T: the kernel rotated by 180 degrees with C_in and C_out swapped (within each group).

    (C_out, C_in/groups, kH, kW) -> (C_in, C_out/groups, kH, kW)
    """
    xp = get_array_module(weight)
    c_out, c_per_group, k_h, k_w = weight.shape
    w = weight.reshape(groups, c_out // groups, c_per_group, k_h, k_w).transpose(0, 2, 1, 3, 4)
    w = w[:, :, :, ::-1, ::-1]
    return xp.ascontiguousarray(w).reshape(groups * c_per_group, c_out // groups, k_h, k_w)


def conv2d_input_grad_full(grad, weight, input_size, padding, dilation, groups):
    """dL/dx of a stride-1 conv2d as a "full" convolution: conv2d(grad padded, rot180(W)^T).

    grad is padded by d (k - 1) - p on each side, so that the result has the
    input's size; im2col + one matmul, with columns of C_out * kH * kW rows.
    """
    grad_pad = pad2d(grad, full_padding(grad.shape[2:], weight.shape[2:], input_size, padding, dilation))
    grad_x, _ = conv2d_forward_kernel(grad_pad, flip_weight(weight, groups), (1, 1), dilation, groups,
                                      tuple(input_size))
    return grad_x


def full_padding(out_size, kernel_size, input_size, padding, dilation):
    """The (top, bottom, left, right) padding of grad for the "full" convolution: grad then has
    height + d_h (k_h - 1) rows, the first d_h (k_h - 1) - top of them zeros (and so for columns)."""
    (h_out, w_out), (k_h, k_w), (height, width), (d_h, d_w) = out_size, kernel_size, input_size, dilation
    top, _, left, _ = padding
    full_top, full_left = d_h * (k_h - 1) - top, d_w * (k_w - 1) - left
    return (full_top, height + d_h * (k_h - 1) - h_out - full_top,
            full_left, width + d_w * (k_w - 1) - w_out - full_left)


def conv2d_input_grad_col2im(grad, weight, input_size, stride, padding, dilation, groups, grad_mat=None):
    """dL/dx of a conv2d as col2im(W_mat^T @ G): one matmul, then each column entry added back onto
    the pixel it was read from (:func:`col2im`, a loop over the kH * kW kernel offsets).

    ``grad_mat``: ``channels_first(grad, groups)`` if the caller has it already.
    """
    xp = get_array_module(grad)
    n, c_out, h_out, w_out = grad.shape
    c_in = weight.shape[1] * groups
    height, width = input_size
    top, bottom, left, right = padding
    if grad_mat is None:
        grad_mat = channels_first(grad, groups)
    w_mat = weight.reshape(groups, c_out // groups, -1)
    grad_cols = w_mat.transpose(0, 2, 1) @ grad_mat       # (groups, C_in/groups*kH*kW, N*H_out*W_out)
    padded_shape = (n, c_in, height + top + bottom, width + left + right)
    grad_x_pad = col2im(grad_cols, padded_shape, weight.shape[2:], stride, dilation, (h_out, w_out))
    return xp.ascontiguousarray(crop2d(grad_x_pad, padding))
