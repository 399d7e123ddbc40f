"""The convolution's performance machinery: chunks of images, and the choice of input-gradient algorithm.

Nothing here changes a result; it only decides how much memory and time the
kernels of ``conv_kernels.py`` take. Read ``conv.py`` (the definition and the
Function) and ``conv_kernels.py`` (im2col + matmul) first.

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

(G_k: the columns of G of the chunk's images). One more im2col per
convolution buys a memory cost of one small chunk instead of kH * kW inputs.
The input gradient needs only W and G, not the columns, and is unchanged.

Input gradient: :func:`conv2d_input_grad` explains the choice between the
"full convolution" and the "col2im" algorithms.
"""
from ..backend import get_array_module
from .conv_kernels import (channels_first, conv2d_columns, conv2d_forward_kernel, conv2d_grad_weight_kernel,
                           conv2d_input_grad_col2im, conv2d_input_grad_full)

__all__ = []  # machinery for conv.py and conv_transpose.py, not user functions

#: about how many bytes of im2col columns the forward and the weight gradient build at once
CHUNK_BYTES = 8 * 2 ** 20


# ============================================================================ chunks of images
def images_per_chunk(x_pad, kernel_size, out_size, chunk_bytes=None):
    """How many images make about ``chunk_bytes`` (default ``CHUNK_BYTES``) of columns (at least 1).

    One image has C_in * kH * kW rows of H_out * W_out columns.
    """
    if chunk_bytes is None:            # read at call time, so that a test can lower it (monkeypatch)
        chunk_bytes = CHUNK_BYTES
    c_in, (k_h, k_w) = x_pad.shape[1], kernel_size
    per_image = c_in * k_h * k_w * out_size[0] * out_size[1] * x_pad.dtype.itemsize
    return max(1, chunk_bytes // per_image)


def conv2d_forward_chunked(x_pad, weight, stride, dilation, groups, out_size, chunk_bytes=None):
    """The forward, a chunk of images at a time: out[chunk] = W_mat @ im2col(x_pad[chunk]).

    The images are independent, so this is the same result as one big
    product; only one chunk's columns (about ``chunk_bytes``) exist at a
    time, instead of kH * kW times the whole input (module docstring, "Memory").
    """
    xp = get_array_module(x_pad)
    n, step = x_pad.shape[0], images_per_chunk(x_pad, weight.shape[2:], out_size, chunk_bytes)
    out = xp.empty((n, weight.shape[0]) + tuple(out_size), dtype=x_pad.dtype)
    for start in range(0, n, step):
        conv2d_forward_kernel(x_pad[start:start + step], weight, stride, dilation, groups, out_size,
                              out=out[start:start + step])
    return out


def conv2d_grad_weight(grad_mat, x_pad, weight_shape, stride, dilation, groups, out_size,
                       chunk_bytes=None):
    """dL/dW = sum over chunks of images of G_chunk @ im2col(x_pad[chunk])^T.

    ``grad_mat`` is G = ``channels_first(grad, groups)``, (groups,
    C_out/groups, N*H_out*W_out); its columns are ordered (n, i, j), image
    first, so a chunk of images is a slice of consecutive columns. The
    columns are rebuilt here chunk by chunk (the forward did not keep them).
    """
    xp = get_array_module(x_pad)
    n, pixels = x_pad.shape[0], out_size[0] * out_size[1]
    step = images_per_chunk(x_pad, weight_shape[2:], out_size, chunk_bytes)
    grad_w = None
    for start in range(0, n, step):
        stop = min(start + step, n)
        cols = conv2d_columns(x_pad[start:stop], weight_shape[2:], stride, dilation, groups, out_size)
        part = conv2d_grad_weight_kernel(grad_mat[:, :, start * pixels:stop * pixels], cols, weight_shape)
        grad_w = part if grad_w is None else xp.add(grad_w, part, out=grad_w)
    return grad_w


# ============================================================================ the input-gradient algorithm
def input_grad_method(stride, c_out, c_in):
    """"full" for stride 1 and C_out <= C_in, "col2im" otherwise (see :func:`conv2d_input_grad`)."""
    return "full" if tuple(stride) == (1, 1) and c_out <= c_in else "col2im"


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
    ``"col2im"`` forces one (the full convolution needs stride 1).
    ``grad_mat``: ``channels_first(grad, groups)`` if the caller has it already.
    """
    if method is None:
        method = input_grad_method(stride, grad.shape[1], weight.shape[1] * groups)
    if method == "full":
        if tuple(stride) != (1, 1):
            raise ValueError(f"conv2d_input_grad: method='full' needs stride 1, got stride={stride}")
        return conv2d_input_grad_full(grad, weight, input_size, padding, dilation, groups)
    if method != "col2im":
        raise ValueError(f"conv2d_input_grad: method must be None, 'full' or 'col2im', got {method!r}")
    if grad_mat is None:
        grad_mat = channels_first(grad, groups)
    return conv2d_input_grad_col2im(grad, weight, input_size, stride, padding, dilation, groups, grad_mat)
