"""The convolution's performance machinery: chunks of images laid out image by image, columns kept
when they are small, and the choice of input-gradient algorithm.

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

Layout: ``conv_kernels.py`` orders the columns (channel, offset) x (image,
pixel), so its products come out as (C_out, N, H_out, W_out) and need a
transposing copy into NCHW, and G needs one into (C_out, N * H_out * W_out).
Here the columns are ordered image first, (n, (c, u, v), (i, j)): one *batched*
product per chunk,

    out[n] = W_mat @ cols[n]                (C_out, H_out * W_out) = out[n, :, :, :] as it lies in memory

is written straight into the NCHW output (``matmul(..., out=)``), and the
weight gradient reads G[n] = grad[n] where it lies:

    dL/dW_mat^T = sum over n of  cols[n] @ G[n]^T          (the (cols @ G^T)^T form, see conv_kernels)

Measured (``benchmarks/bench_floor.py``, RESULTS.md): 0.76-0.97x the time of
the channel-major chunks, whose two transposing copies (output, G) it removes.

Input gradient: :func:`conv2d_input_grad` chooses between the "full
convolution" and the "col2im" algorithms (``conv_kernels.py``); both run here
image by image, in chunks.
"""
from ..backend import get_array_module
from .conv_kernels import flip_weight
from .im2col import crop2d, pad2d, windows

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
    return max(1, chunk_bytes // (rows * pixels * itemsize))


def image_columns(x_pad, kernel_size, stride, dilation, groups, out_size):
    """im2col, images first: (n, groups, C/groups * kH * kW, H_out * W_out), one contiguous copy.

        cols[n, g, (c, u, v), (i, j)] = x_pad[n, g * C/groups + c, i*s_h + u*d_h, j*s_w + v*d_w]
    """
    xp = get_array_module(x_pad)
    view = windows(x_pad, kernel_size, stride, dilation, out_size)      # (C, kH, kW, n, H_out, W_out)
    c, k_h, k_w, n, h_out, w_out = view.shape
    cols = xp.ascontiguousarray(view.transpose(3, 0, 1, 2, 4, 5))
    return cols.reshape(n, groups, c // groups * k_h * k_w, h_out * w_out)


def conv2d_forward_chunked(x_pad, weight, stride, dilation, groups, out_size, chunk_bytes=None,
                           keep_columns=False):
    """out[chunk] = W_mat @ im2col(x_pad[chunk]) image by image, written into the NCHW output.

    Returns ``out`` (N, C_out, H_out, W_out), or with ``keep_columns`` the
    pair (out, cols), cols being the columns when the batch made one chunk
    (else None): the backward can use them instead of building them again.
    """
    xp = get_array_module(x_pad)
    n = x_pad.shape[0]
    c_out, c_per_group, k_h, k_w = weight.shape
    pixels = out_size[0] * out_size[1]
    out = xp.empty((n, c_out) + tuple(out_size), dtype=x_pad.dtype)
    out4 = out.reshape(n, groups, c_out // groups, pixels)
    w_mat = weight.reshape(groups, c_out // groups, c_per_group * k_h * k_w)
    step = images_per_chunk(c_per_group * groups * k_h * k_w, pixels, x_pad.dtype.itemsize, chunk_bytes)
    cols = None
    for start in range(0, n, step):
        cols = image_columns(x_pad[start:start + step], (k_h, k_w), stride, dilation, groups, out_size)
        xp.matmul(w_mat, cols, out=out4[start:start + step])            # (n, groups, C_out/groups, pixels)
    if keep_columns:
        return out, (cols if step >= n else None)
    return out


def conv2d_grad_weight(grad, x_pad, weight_shape, stride, dilation, groups, out_size, chunk_bytes=None,
                       cols=None):
    """dL/dW = sum over images n of (cols[n] @ G[n]^T)^T, a chunk of images at a time.

    ``grad`` is dL/d(out) (N, C_out, H_out, W_out) as it is; ``cols``: the
    forward's columns of the whole batch, if it kept them.
    """
    xp = get_array_module(x_pad)
    n = x_pad.shape[0]
    c_out, c_per_group, k_h, k_w = weight_shape
    pixels = out_size[0] * out_size[1]
    g_t = grad.reshape(n, groups, c_out // groups, pixels).transpose(0, 1, 3, 2)   # G[n]^T, a view
    step = n if cols is not None else \
        images_per_chunk(c_per_group * groups * k_h * k_w, pixels, x_pad.dtype.itemsize, chunk_bytes)
    total = None
    for start in range(0, n, step):
        chunk_cols = cols if cols is not None else \
            image_columns(x_pad[start:start + step], (k_h, k_w), stride, dilation, groups, out_size)
        part = (chunk_cols @ g_t[start:start + step]).sum(axis=0)    # (groups, C_in/groups*kH*kW, C_out/groups)
        total = part if total is None else xp.add(total, part, out=total)
    return total.transpose(0, 2, 1).reshape(weight_shape)


# ============================================================================ the input gradient
def input_grad_method(stride, c_out, c_in):
    """"full" for stride 1 and C_out <= C_in, "col2im" otherwise (see :func:`conv2d_input_grad`)."""
    return "full" if tuple(stride) == (1, 1) and c_out <= c_in else "col2im"


def input_grad_full(grad, weight, input_size, padding, dilation, groups, chunk_bytes=None):
    """conv_kernels.conv2d_input_grad_full, image by image: conv2d(grad padded, rot180(W)^T)."""
    h_out, w_out = grad.shape[2:]
    k_h, k_w = weight.shape[2:]
    (height, width), (d_h, d_w) = input_size, dilation
    top, _, left, _ = padding
    full_top, full_left = d_h * (k_h - 1) - top, d_w * (k_w - 1) - left
    grad_pad = pad2d(grad, (full_top, height + d_h * (k_h - 1) - h_out - full_top,
                            full_left, width + d_w * (k_w - 1) - w_out - full_left))
    return conv2d_forward_chunked(grad_pad, flip_weight(weight, groups), (1, 1), dilation, groups,
                                  (height, width), chunk_bytes)


def input_grad_col2im(grad, weight, input_size, stride, padding, dilation, groups, chunk_bytes=None):
    """conv_kernels.conv2d_input_grad_col2im, image by image: cols[n] = W_mat^T @ G[n], then col2im.

    The columns of a chunk are added onto the padded gradient of the chunk's
    images, one kernel offset at a time (as ``im2col.col2im``).
    """
    xp = get_array_module(grad)
    n, c_out, h_out, w_out = grad.shape
    c_per_group, k_h, k_w = weight.shape[1:]
    c_in = c_per_group * groups
    (height, width), (s_h, s_w), (d_h, d_w) = input_size, stride, dilation
    top, bottom, left, right = padding
    g4 = grad.reshape(n, groups, c_out // groups, h_out * w_out)
    w_t = weight.reshape(groups, c_out // groups, -1).transpose(0, 2, 1)   # (groups, C_in/groups*kH*kW, C_out/groups)
    padded_size = (height + top + bottom, width + left + right)
    # The windows tile the padded image exactly, without overlap or gaps (stride = kernel, e.g. the 2x2
    # stride-2 up-conv of U-Net): nothing is added twice, col2im only rearranges, into an empty array.
    tiles = (s_h, s_w) == (k_h, k_w) and (d_h, d_w) == (1, 1) and padded_size == (h_out * k_h, w_out * k_w)
    grad_x_pad = (xp.empty if tiles else xp.zeros)((n, c_in) + padded_size, dtype=grad.dtype)
    step = images_per_chunk(c_in * k_h * k_w, h_out * w_out, grad.dtype.itemsize, chunk_bytes)
    for start in range(0, n, step):
        cols = (w_t @ g4[start:start + step]).reshape(-1, c_in, k_h, k_w, h_out, w_out)
        target = grad_x_pad[start:start + step]
        if tiles:   # target[n, c, i*k_h + u, j*k_w + v] = cols[n, c, u, v, i, j]
            target.reshape(-1, c_in, h_out, k_h, w_out, k_w)[...] = cols.transpose(0, 1, 4, 2, 5, 3)
            continue
        for u in range(k_h):
            for v in range(k_w):
                rows = slice(u * d_h, u * d_h + s_h * (h_out - 1) + 1, s_h)      # i*s_h + u*d_h for every i
                columns = slice(v * d_w, v * d_w + s_w * (w_out - 1) + 1, s_w)
                target[:, :, rows, columns] += cols[:, :, u, v]
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
    image by image in chunks (module docstring). ``grad_mat`` is accepted for
    the callers that have ``channels_first(grad)`` and unused: the chunks
    read ``grad`` where it lies.
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
