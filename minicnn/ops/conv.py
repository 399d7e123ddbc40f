"""Convolution (cross-correlation, as in every deep-learning library): conv2d and conv1d.

For an input x of shape (N, C_in, H, W), a weight W of shape
(C_out, C_in / groups, kH, kW) and a bias b of shape (C_out,):

    out[n, f, i, j] = b[f] + sum_{c, u, v} W[f, c, u, v] * x_pad[n, g*C_g + c, i*s_h + u*d_h, j*s_w + v*d_w]

where x_pad is x with zeros around it (``padding``), s is the ``stride``, d the
``dilation`` (gaps between kernel taps), g = f // (C_out / groups) the group of
output channel f and C_g = C_in / groups its number of input channels
(Dumoulin & Visin, "A guide to convolution arithmetic for deep learning",
2016, for the sizes; Krizhevsky et al. 2012 for groups; Yu & Koltun 2016 for
dilation). Output size per axis (torch's formula):

    H_out = floor((H + pad_top + pad_bottom - d_h (kH - 1) - 1) / s_h) + 1

This file holds, side by side:

* :func:`conv2d_naive`: the definition as nested loops over output pixels
  (slow, to read first);
* the fast kernels: im2col + ONE matrix product for the forward, and for the
  backward (L the loss, G = dL/d(out) arranged as (C_out, N*H_out*W_out)):

      forward          out          = W_mat @ cols                       cols = im2col(x_pad)
      weight gradient  dL/dW_mat    = G @ cols^T = (cols @ G^T)^T        (a matmul)
      input gradient   dL/dx        = a transposed convolution of G:
                                      stride 1:  conv2d(G padded, rot180(W)^T)   (im2col + a matmul)
                                      otherwise: col2im(W_mat^T @ G)            (a matmul + col2im)
      bias gradient    dL/db[f]     = sum over n, i, j of G[f, (n, i, j)]

  with W_mat = W.reshape(C_out, C_in/groups * kH * kW), one matrix per group
  (so one *batched* matmul over the groups), and col2im the adjoint of
  im2col (a loop over the kH * kW kernel offsets, never over pixels; see
  ``im2col.py``). :func:`conv2d_input_grad` explains the choice between the
  two input-gradient algorithms. The forward and the weight gradient run
  over chunks of a few images at a time (:func:`conv2d_forward_chunked`,
  :func:`conv2d_grad_weight`; see "Memory" below);
* :class:`Conv2d` (the autograd Function) and the user functions
  :func:`conv2d` and :func:`conv1d` (a conv2d over a height-1 image).

Because the input gradient is a transposed convolution,
``conv_transpose.py`` reuses these same kernels with their roles swapped.

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
"""
import operator

from ..autograd import Function
from ..backend import get_array_module
from .im2col import col2im, conv_output_size, crop2d, im2col, pad2d

__all__ = ["conv1d", "conv2d"]

#: about how many bytes of im2col columns the forward and the weight gradient build at once
CHUNK_BYTES = 8 * 2 ** 20


# ============================================================================ argument checks
def _tuple(value, dims, name, op):
    """An int or a tuple of ``dims`` ints -> a tuple of ``dims`` ints (as torch's ``_pair``)."""
    try:
        return (operator.index(value),) * dims
    except TypeError:
        pass
    try:
        values = tuple(operator.index(v) for v in value)
    except TypeError:
        values = None
    if values is None or len(values) != dims:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {dims} ints, got {value!r}")
    return values


def _positive(value, dims, name, op):
    values = _tuple(value, dims, name, op)
    if any(v <= 0 for v in values):
        raise ValueError(f"{op}: {name} must be positive, got {name}={value!r}")
    return values


def _padding_pairs(padding, kernel_size, stride, dilation, dims, op):
    """``padding`` (int, tuple, "same" or "valid") -> ((before, after) per spatial axis).

    "same" keeps the size for stride 1: the total padding d (k - 1) is split
    with the extra pixel (when it is odd) at the end, as torch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(got stride={stride}); use an explicit padding")
            pairs = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(f"{op}: padding must be an int, a tuple of {dims} ints, 'same' or 'valid'; "
                         f"got {padding!r}")
    values = _tuple(padding, dims, "padding", op)
    if any(p < 0 for p in values):
        raise ValueError(f"{op}: padding must be non-negative, got padding={padding!r}")
    return tuple((p, p) for p in values)


def _check_shapes(op, input_shape, weight_shape, bias_shape, groups, dims, transposed=False):
    """Check ranks, channel counts and groups; raise ValueError naming ``op``, expected and received."""
    axes = {1: "L", 2: "H, W"}[dims]
    kernel_axes = {1: "k", 2: "kH, kW"}[dims]
    if len(input_shape) != dims + 2:
        raise ValueError(f"{op}: expected a {dims + 2}-D input (N, C_in, {axes}), got a "
                         f"{len(input_shape)}-D input of shape {tuple(input_shape)}")
    layout = f"(C_in, C_out/groups, {kernel_axes})" if transposed else f"(C_out, C_in/groups, {kernel_axes})"
    if len(weight_shape) != dims + 2:
        raise ValueError(f"{op}: expected a {dims + 2}-D weight {layout}, got shape {tuple(weight_shape)}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    c_in = input_shape[1]
    if c_in % groups:
        raise ValueError(f"{op}: the input's {c_in} channels (input shape {tuple(input_shape)}) are not "
                         f"divisible by groups={groups}")
    if transposed:
        if weight_shape[0] != c_in:
            raise ValueError(f"{op}: weight of shape {tuple(weight_shape)} {layout} expects "
                             f"{weight_shape[0]} input channels, got an input of shape {tuple(input_shape)} "
                             f"with {c_in}")
        c_out = weight_shape[1] * groups
    else:
        if weight_shape[1] * groups != c_in:
            raise ValueError(f"{op}: weight of shape {tuple(weight_shape)} {layout} with groups={groups} "
                             f"expects {weight_shape[1]} * {groups} = {weight_shape[1] * groups} input "
                             f"channels, got an input of shape {tuple(input_shape)} with {c_in}")
        c_out = weight_shape[0]
        if c_out % groups:
            raise ValueError(f"{op}: the weight's {c_out} output channels (weight shape "
                             f"{tuple(weight_shape)}) are not divisible by groups={groups}")
    if bias_shape is not None and tuple(bias_shape) != (c_out,):
        raise ValueError(f"{op}: expected a bias of shape ({c_out},) (one per output channel), got "
                         f"shape {tuple(bias_shape)}")


def _check_kernel_fits(op, input_shape, pairs, kernel_size, dilation):
    """The dilated kernel must fit in the padded input (else there is no output pixel)."""
    padded = tuple(n + a + b for n, (a, b) in zip(input_shape[2:], pairs))
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    if any(s > p for s, p in zip(spans, padded)):
        raise ValueError(f"{op}: the kernel {tuple(kernel_size)} with dilation {tuple(dilation)} spans "
                         f"{spans} but the padded input is only {padded} (input shape {tuple(input_shape)}, "
                         f"padding {pairs}); expected a padded input at least as large as the kernel")


def _conv2d_options(op, input_shape, weight_shape, bias_shape, stride, padding, dilation, groups):
    """Validate the arguments of a 2-D convolution and put them in the form the Function takes."""
    _check_shapes(op, input_shape, weight_shape, bias_shape, groups, dims=2)
    kernel_size = tuple(weight_shape[2:])
    stride = _positive(stride, 2, "stride", op)
    dilation = _positive(dilation, 2, "dilation", op)
    pairs = _padding_pairs(padding, kernel_size, stride, dilation, 2, op)
    _check_kernel_fits(op, input_shape, pairs, kernel_size, dilation)
    return dict(stride=stride, padding=pairs[0] + pairs[1], dilation=dilation, groups=groups)


def _raw(a):
    return getattr(a, "data", a) if hasattr(a, "_is_minicnn_tensor") else a


# ============================================================================ the definition, as loops
def conv2d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d written straight from its definition: one loop per output pixel (forward only).

    Slow (four Python loops) but easy to check by hand; the tests compare the
    fast :func:`conv2d` with it. Takes and returns raw arrays (Tensors are
    unwrapped).
    """
    x, w, b = _raw(input), _raw(weight), _raw(bias)
    opts = _conv2d_options("conv2d_naive", x.shape, w.shape, None if b is None else b.shape,
                           stride, padding, dilation, groups)
    (s_h, s_w), (d_h, d_w) = opts["stride"], opts["dilation"]
    xp = get_array_module(x)
    x_pad = pad2d(x, opts["padding"])
    n_batch = x.shape[0]
    c_out, c_per_group, k_h, k_w = w.shape
    f_per_group = c_out // groups
    h_out = conv_output_size(x_pad.shape[2], k_h, s_h, 0, d_h)
    w_out = conv_output_size(x_pad.shape[3], k_w, s_w, 0, d_w)
    out = xp.zeros((n_batch, c_out, h_out, w_out), dtype=x.dtype)
    for n in range(n_batch):
        for f in range(c_out):
            g = f // f_per_group                                     # the group of output channel f
            channels = slice(g * c_per_group, (g + 1) * c_per_group)  # ... reads only these input channels
            for i in range(h_out):
                for j in range(w_out):
                    # the (dilated) window under the kernel when its corner sits at (i*s_h, j*s_w)
                    window = x_pad[n, channels,
                                   i * s_h: i * s_h + d_h * (k_h - 1) + 1: d_h,
                                   j * s_w: j * s_w + d_w * (k_w - 1) + 1: d_w]
                    out[n, f, i, j] = (window * w[f]).sum()
            if b is not None:
                out[n, f] += b[f]
    return out


# ============================================================================ the fast kernels
def channels_first(a, groups):
    """(N, C, H, W) -> (groups, C/groups, N*H*W): the layout of the matmuls (one contiguous copy)."""
    xp = get_array_module(a)
    n, c, h, w = a.shape
    return xp.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(groups, c // groups, n * h * w)


def conv2d_columns(x_pad, kernel_size, stride, dilation, groups, out_size):
    """im2col(x_pad) as (groups, C_in/groups * kH * kW, N * H_out * W_out): each group's rows together."""
    cols = im2col(x_pad, kernel_size, stride, dilation, out_size)          # (C_in*kH*kW, N*H_out*W_out)
    return cols.reshape(groups, -1, cols.shape[-1])


def conv2d_forward_kernel(x_pad, weight, stride, dilation, groups, out_size, out=None):
    """out = W_mat @ im2col(x_pad), one matrix per group, for all the images of ``x_pad`` at once.

    Returns ``out`` (N, C_out, H_out, W_out) and the columns
    (groups, C_in/groups * kH * kW, N * H_out * W_out). With ``out`` given
    (an (N, C_out, H_out, W_out) array, e.g. a slice of a larger output) the
    result is written into it. :func:`conv2d_forward_chunked` calls this on
    a few images at a time.
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


def flip_weight(weight, groups):
    """rot180(W)^T: the kernel rotated by 180 degrees with C_in and C_out swapped (within each group).

    (C_out, C_in/groups, kH, kW) -> (C_in, C_out/groups, kH, kW)
    """
    xp = get_array_module(weight)
    c_out, c_per_group, k_h, k_w = weight.shape
    w = weight.reshape(groups, c_out // groups, c_per_group, k_h, k_w).transpose(0, 2, 1, 3, 4)
    w = w[:, :, :, ::-1, ::-1]
    return xp.ascontiguousarray(w).reshape(groups * c_per_group, c_out // groups, k_h, k_w)


def conv2d_input_grad(grad, weight, input_size, stride, padding, dilation, groups, method=None,
                      grad_mat=None):
    """dL/dx (N, C_in, H, W) of a conv2d, given grad = dL/d(out) (N, C_out, H_out, W_out).

    Every input pixel x[n, c, y, z] was read by the output pixels (i, j) with
    i*s + u*d - p_top = y, so

        dL/dx[n, c, y, z] = sum over f, u, v of W[f, c, u, v] * grad[n, f, (y + p_top - u*d) / s, ...]

    (terms with a non-integer or out-of-range index are absent): a
    *transposed convolution* of grad. Two ways to compute it fast:

    * "full convolution": for stride 1 it is an ordinary convolution of
      grad, padded by d (k - 1) - p, with rot180(W)^T (:func:`flip_weight`);
      so im2col + one matmul again, with columns of C_out * kH * kW rows;
    * "col2im": columns = W_mat^T @ G (one matmul, C_in * kH * kW rows),
      then :func:`col2im` adds each column entry back onto the pixel it was
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
    xp = get_array_module(grad)
    n, c_out, h_out, w_out = grad.shape
    c_in = weight.shape[1] * groups
    k_h, k_w = weight.shape[2:]
    (height, width), (d_h, d_w) = input_size, dilation
    top, bottom, left, right = padding
    if method is None:
        method = "full" if tuple(stride) == (1, 1) and c_out <= c_in else "col2im"
    if method == "full":
        if tuple(stride) != (1, 1):
            raise ValueError(f"conv2d_input_grad: method='full' needs stride 1, got stride={stride}")
        # pad grad so that it has height + d_h (k_h - 1) rows, the first d_h (k_h - 1) - top of them zeros
        full_top, full_left = d_h * (k_h - 1) - top, d_w * (k_w - 1) - left
        grad_pad = pad2d(grad, (full_top, height + d_h * (k_h - 1) - h_out - full_top,
                                full_left, width + d_w * (k_w - 1) - w_out - full_left))
        grad_x, _ = conv2d_forward_kernel(grad_pad, flip_weight(weight, groups), (1, 1), dilation, groups,
                                          (height, width))
        return grad_x
    if method != "col2im":
        raise ValueError(f"conv2d_input_grad: method must be None, 'full' or 'col2im', got {method!r}")
    if grad_mat is None:
        grad_mat = channels_first(grad, groups)
    w_mat = weight.reshape(groups, c_out // groups, -1)
    grad_cols = w_mat.transpose(0, 2, 1) @ grad_mat       # (groups, C_in/groups*kH*kW, N*H_out*W_out)
    padded_shape = (n, c_in, height + top + bottom, width + left + right)
    grad_x_pad = col2im(grad_cols, padded_shape, (k_h, k_w), stride, dilation, (h_out, w_out))
    return xp.ascontiguousarray(crop2d(grad_x_pad, padding))


class Conv2d(Function):
    """2-D convolution with bias; forward and backward as im2col + matmuls (see the module docstring).

    ``padding`` here is (top, bottom, left, right); :func:`conv2d` builds it.
    The forward keeps the padded input, not the columns: the backward builds
    them again, a chunk of images at a time, for the weight gradient.
    """

    def forward(self, x, weight, bias, stride, padding, dilation, groups):
        x_pad = pad2d(x, padding)
        k_h, k_w = weight.shape[2:]
        out_size = (conv_output_size(x_pad.shape[2], k_h, stride[0], 0, dilation[0]),
                    conv_output_size(x_pad.shape[3], k_w, stride[1], 0, dilation[1]))
        out = conv2d_forward_chunked(x_pad, weight, stride, dilation, groups, out_size)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        self.x_pad, self.weight, self.input_size, self.out_size = x_pad, weight, x.shape[2:], out_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        return out

    def backward(self, grad):
        need_x, need_w, need_b = self.needs_input_grad
        grad_x = grad_w = grad_b = None
        grad_mat = channels_first(grad, self.groups)            # G: (groups, C_out/groups, N*H_out*W_out)
        if need_w:
            grad_w = conv2d_grad_weight(grad_mat, self.x_pad, self.weight.shape, self.stride, self.dilation,
                                        self.groups, self.out_size)
        if need_b:
            grad_b = grad_mat.sum(axis=2).reshape(-1)
        if need_x:
            grad_x = conv2d_input_grad(grad, self.weight, self.input_size, self.stride, self.padding,
                                       self.dilation, self.groups, grad_mat=grad_mat)
        return grad_x, grad_w, grad_b


# ============================================================================ user functions
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over (N, C_in, H, W), as ``torch.nn.functional.conv2d``.

    Args:
        input: (N, C_in, H, W).
        weight: (C_out, C_in / groups, kH, kW).
        bias: (C_out,) or None.
        stride, dilation: int or (s_h, s_w), positive.
        padding: int, (p_h, p_w), ``"valid"`` (no padding) or ``"same"`` (output size = input
            size; stride 1 only; an odd total padding puts the extra zero at the bottom/right).
        groups: split the channels into ``groups`` independent convolutions
            (``groups = C_in``: depthwise).
    Returns: (N, C_out, H_out, W_out).
    """
    opts = _conv2d_options("conv2d", input.shape, weight.shape, None if bias is None else bias.shape,
                           stride, padding, dilation, groups)
    return Conv2d.apply(input, weight, bias, **opts)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C_in, L), as ``torch.nn.functional.conv1d``.

    A 1-D signal is an image of height 1 and a (C_out, C_in/groups, k) kernel
    one of height 1, so this is :func:`conv2d` on reshaped views (the
    gradients flow back through the reshapes).

        out[n, f, i] = b[f] + sum_{c, u} W[f, c, u] * x_pad[n, g*C_g + c, i*s + u*d]
    """
    op = "conv1d"
    _check_shapes(op, input.shape, weight.shape, None if bias is None else bias.shape, groups, dims=1)
    kernel_size = tuple(weight.shape[2:])
    stride = _positive(stride, 1, "stride", op)
    dilation = _positive(dilation, 1, "dilation", op)
    pairs = _padding_pairs(padding, kernel_size, stride, dilation, 1, op)
    _check_kernel_fits(op, input.shape, pairs, kernel_size, dilation)
    x4 = input.unsqueeze(2)                                # (N, C_in, 1, L)
    w4 = weight.unsqueeze(2)                               # (C_out, C_in/groups, 1, k)
    out = Conv2d.apply(x4, w4, bias, stride=(1,) + stride, padding=(0, 0) + pairs[0],
                       dilation=(1,) + dilation, groups=groups)
    return out.squeeze(2)
