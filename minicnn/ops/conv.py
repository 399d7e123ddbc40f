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

This op is spread over three files, to read in this order:

* here: :func:`conv2d_naive` and :func:`conv2d_backward_naive`, the
  definition as nested loops over output pixels (slow, to read first); the
  autograd Function :class:`Conv2d`; the user functions :func:`conv2d` and
  :func:`conv1d` (a conv2d over a height-1 image); the argument checks;
* ``conv_kernels.py``: the fast kernels, im2col + ONE matrix product for the
  forward and for each gradient (L the loss, G = dL/d(out) arranged as
  (C_out, N*H_out*W_out)):

      forward          out          = W_mat @ cols                       cols = im2col(x_pad)
      weight gradient  dL/dW_mat    = G @ cols^T                         (a matmul)
      input gradient   dL/dx        = a transposed convolution of G      (im2col + a matmul, or a matmul + col2im)
      bias gradient    dL/db[f]     = sum over n, i, j of G[f, (n, i, j)]

* ``conv_performance.py``: the forward and the weight gradient over chunks
  of a few images at a time (memory), and the choice between the two
  input-gradient algorithms (speed).

Because the input gradient is a transposed convolution,
``conv_transpose.py`` reuses these same kernels with their roles swapped.
"""
from ..autograd import Function
from ..backend import get_array_module
from ..utils import (check_not_bool, check_positive_ints, check_same_dtype, check_tensor, conv_output_size,
                     padding_pairs, positive_ntuple, unwrap)
from .conv_performance import conv2d_forward_chunked, conv2d_grad_weight, conv2d_input_grad
from .depthwise import DepthwiseConv2d
from .im2col import pad2d

__all__ = ["conv1d", "conv2d"]


# ============================================================================ the definition, as loops
def conv2d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d written straight from its definition: one loop per output pixel.

    Slow (four Python loops) but easy to check by hand; the tests compare the
    fast :func:`conv2d` with it. Takes and returns raw arrays (Tensors are
    unwrapped). Its backward is :func:`conv2d_backward_naive`.
    """
    x, w, b = unwrap(input), unwrap(weight), unwrap(bias)
    opts = conv2d_options("conv2d_naive", x.shape, w.shape, None if b is None else b.shape,
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


def conv2d_backward_naive(grad_output, input, weight, stride=1, padding=0, dilation=1, groups=1):
    """The gradients of :func:`conv2d_naive`, with the same loops: (dL/dx, dL/dW, dL/db).

    Output pixel (n, f, i, j) read the window x_pad[n, channels of group g,
    i*s_h + u*d_h, j*s_w + v*d_w] and multiplied it by W[f], so its upstream
    gradient G[n, f, i, j] flows back as

        dL/dW[f]      += G[n, f, i, j] * window          (the window it read)
        dL/dx_pad[window] += G[n, f, i, j] * W[f]        (the pixels it read; windows overlap: add)
        dL/db[f]      += G[n, f, i, j]

    and dL/dx is dL/dx_pad without its padding (CS231n's ``conv_backward_naive``
    does the same, for groups = 1). Raw arrays in and out.
    """
    x, w, g_out = unwrap(input), unwrap(weight), unwrap(grad_output)
    opts = conv2d_options("conv2d_backward_naive", x.shape, w.shape, None, stride, padding, dilation, groups)
    (s_h, s_w), (d_h, d_w) = opts["stride"], opts["dilation"]
    top, bottom, left, right = opts["padding"]
    xp = get_array_module(x)
    x_pad = pad2d(x, opts["padding"])
    c_out, c_per_group, k_h, k_w = w.shape
    f_per_group = c_out // groups
    grad_x_pad = xp.zeros(x_pad.shape, dtype=g_out.dtype)
    grad_w = xp.zeros(w.shape, dtype=g_out.dtype)
    grad_b = xp.zeros((c_out,), dtype=g_out.dtype)
    for n in range(g_out.shape[0]):
        for f in range(c_out):
            g = f // f_per_group
            channels = slice(g * c_per_group, (g + 1) * c_per_group)
            for i in range(g_out.shape[2]):
                for j in range(g_out.shape[3]):
                    rows = slice(i * s_h, i * s_h + d_h * (k_h - 1) + 1, d_h)
                    cols = slice(j * s_w, j * s_w + d_w * (k_w - 1) + 1, d_w)
                    upstream = g_out[n, f, i, j]
                    grad_w[f] += upstream * x_pad[n, channels, rows, cols]
                    grad_x_pad[n, channels, rows, cols] += upstream * w[f]
                    grad_b[f] += upstream
    height, width = x_pad.shape[2:]
    grad_x = grad_x_pad[:, :, top:height - bottom, left:width - right]
    return xp.ascontiguousarray(grad_x), grad_w, grad_b


# ============================================================================ the Function
class Conv2d(Function):
    """2-D convolution with bias; forward and backward as im2col + matmuls (``conv_kernels.py``).

    ``padding`` here is (top, bottom, left, right); :func:`conv2d` builds it.
    The forward keeps the padded input, and the columns only when the whole
    batch made one small chunk: otherwise the backward builds them again, a
    chunk of images at a time, for the weight gradient (``conv_performance.py``).
    """

    def forward(self, x, weight, bias, stride, padding, dilation, groups):
        x_pad = pad2d(x, padding)
        k_h, k_w = weight.shape[2:]
        out_size = (conv_output_size(x_pad.shape[2], k_h, stride[0], 0, dilation[0]),
                    conv_output_size(x_pad.shape[3], k_w, stride[1], 0, dilation[1]))
        out, self.cols = conv2d_forward_chunked(x_pad, weight, stride, dilation, groups, out_size,
                                                keep_columns=True)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        self.x_pad, self.weight, self.input_size, self.out_size = x_pad, weight, x.shape[2:], out_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        return out

    def backward(self, grad):
        xp = get_array_module(grad)
        need_x, need_w, need_b = self.needs_input_grad
        grad_x = grad_w = grad_b = None
        if need_w:
            grad_w = conv2d_grad_weight(grad, self.x_pad, self.weight.shape, self.stride, self.dilation,
                                        self.groups, self.out_size, cols=self.cols)
        if need_b:
            grad_b = xp.einsum("nchw->c", grad)                  # dL/db[f] = sum over n, i, j of G[n, f, i, j]
        if need_x:
            grad_x = conv2d_input_grad(grad, self.weight, self.input_size, self.stride, self.padding,
                                       self.dilation, self.groups)
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
    check_conv_dtypes("conv2d", input, weight, bias)
    opts = conv2d_options("conv2d", input.shape, weight.shape, None if bias is None else bias.shape,
                          stride, padding, dilation, groups)
    if groups > 1 and groups == input.shape[1] == weight.shape[0]:
        # depthwise, one kernel per channel: kH * kW multiply-adds per output, by shifted views instead of
        # im2col (ops/depthwise.py; with a channel multiplier > 1 im2col measured faster)
        return DepthwiseConv2d.apply(input, weight, bias, stride=opts["stride"], padding=opts["padding"],
                                     dilation=opts["dilation"])
    return Conv2d.apply(input, weight, bias, **opts)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C_in, L), as ``torch.nn.functional.conv1d``.

    A 1-D signal is an image of height 1 and a (C_out, C_in/groups, k) kernel
    one of height 1, so this is :func:`conv2d` on reshaped views (the
    gradients flow back through the reshapes).

        out[n, f, i] = b[f] + sum_{c, u} W[f, c, u] * x_pad[n, g*C_g + c, i*s + u*d]
    """
    op = "conv1d"
    check_conv_dtypes(op, input, weight, bias)
    check_conv_shapes(op, input.shape, weight.shape, None if bias is None else bias.shape, groups, dims=1)
    kernel_size = tuple(weight.shape[2:])
    stride = positive_ntuple(stride, 1, "stride", op)
    dilation = positive_ntuple(dilation, 1, "dilation", op)
    pairs = padding_pairs(padding, kernel_size, stride, dilation, 1, op)
    check_kernel_fits(op, input.shape, pairs, kernel_size, dilation)
    x4 = input.unsqueeze(2)                                # (N, C_in, 1, L)
    w4 = weight.unsqueeze(2)                               # (C_out, C_in/groups, 1, k)
    out = Conv2d.apply(x4, w4, bias, stride=(1,) + stride, padding=(0, 0) + pairs[0],
                       dilation=(1,) + dilation, groups=groups)
    return out.squeeze(2)


# ============================================================================ argument checks
def check_conv_shapes(op, input_shape, weight_shape, bias_shape, groups, dims, transposed=False):
    """Check ranks, channel counts and groups; raise ValueError naming ``op``, expected and received.

    Shared with ``conv_transpose.py`` (``transposed=True``: weight (C_in, C_out/groups, ...)).
    """
    axes = {1: "L", 2: "H, W"}[dims]
    kernel_axes = {1: "k", 2: "kH, kW"}[dims]
    if len(input_shape) != dims + 2:
        raise ValueError(f"{op}: expected a {dims + 2}-D input (N, C_in, {axes}), got a "
                         f"{len(input_shape)}-D input of shape {tuple(input_shape)}")
    layout = f"(C_in, C_out/groups, {kernel_axes})" if transposed else f"(C_out, C_in/groups, {kernel_axes})"
    if len(weight_shape) != dims + 2:
        raise ValueError(f"{op}: expected a {dims + 2}-D weight {layout}, got shape {tuple(weight_shape)}")
    check_positive_ints(op, groups=groups)
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


def check_kernel_fits(op, input_shape, pairs, kernel_size, dilation):
    """The dilated kernel must fit in the padded input (else there is no output pixel)."""
    padded = tuple(n + a + b for n, (a, b) in zip(input_shape[2:], pairs))
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation))
    if any(s > p for s, p in zip(spans, padded)):
        raise ValueError(f"{op}: the kernel {tuple(kernel_size)} with dilation {tuple(dilation)} spans "
                         f"{spans} but the padded input is only {padded} (input shape {tuple(input_shape)}, "
                         f"padding {pairs}); expected a padded input at least as large as the kernel")


def check_conv_dtypes(op, input, weight, bias):
    """One dtype for input, weight and bias (torch: "expected scalar type Float but found Double"); no bool."""
    check_tensor(op, input)
    check_tensor(op, weight, "weight")
    check_not_bool(op, input)
    check_same_dtype(op, input, weight)
    if bias is not None:
        check_same_dtype(op, input, bias, names=("input", "bias"))


def conv2d_options(op, input_shape, weight_shape, bias_shape, stride, padding, dilation, groups):
    """Validate the arguments of a 2-D convolution and put them in the form the Function takes:
    stride and dilation as pairs, padding as (top, bottom, left, right)."""
    check_conv_shapes(op, input_shape, weight_shape, bias_shape, groups, dims=2)
    kernel_size = tuple(weight_shape[2:])
    stride = positive_ntuple(stride, 2, "stride", op)
    dilation = positive_ntuple(dilation, 2, "dilation", op)
    pairs = padding_pairs(padding, kernel_size, stride, dilation, 2, op)
    check_kernel_fits(op, input_shape, pairs, kernel_size, dilation)
    return dict(stride=stride, padding=pairs[0] + pairs[1], dilation=dilation, groups=groups)
