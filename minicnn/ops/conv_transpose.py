"""Transposed convolution (the "up-conv" of U-Net, also miscalled "deconvolution"): conv_transpose2d.

A convolution maps x to y = A x for a (huge, sparse) matrix A. Its
*transpose* maps y back to A^T y: the same connectivity, read backwards
(Dumoulin & Visin, "A guide to convolution arithmetic for deep learning",
2016, section 4; Zeiler et al. 2010 for "deconvolutional" networks). Read as
a picture, every input pixel paints a copy of the kernel, scaled by its
value, onto the output, shifted by ``stride`` per pixel; overlapping copies
add up:

    out_full[n, g*C_og + f, i*s_h + u*d_h, j*s_w + v*d_w] += x[n, c, i, j] * W[c, f, u, v]
    out = out_full cropped by ``padding`` on each side (+ ``output_padding`` extra rows/columns at the
          bottom/right) + b

for every input channel c of group g, with the weight laid out as torch's:
(C_in, C_out / groups, kH, kW) (note: C_in first, the reverse of conv2d).
Output size per axis:

    H_out = (H - 1) s_h - 2 p_h + d_h (kH - 1) + output_padding_h + 1

Because A^T is the *input gradient* of the convolution A, the kernels are
those of ``conv.py`` with their roles swapped:

    forward           out       = conv2d_input_grad(x)       (x plays the part of conv2d's output gradient)
    input gradient    dL/dx     = W_mat @ im2col(G_pad)      (= conv2d's forward kernel applied to G)
    weight gradient   dL/dW_mat = X @ im2col(G_pad)^T        (= conv2d's weight-gradient kernel)

with X = x as (groups, C_in/groups, N*H*W), G_pad = dL/d(out) padded back to
the uncropped size, and W_mat = W.reshape(groups, C_in/groups, C_out/groups * kH * kW).
For stride > 1 (the U-Net up-conv) the forward is W_mat^T @ X then col2im:
each input pixel's column of C_out * kH * kW values is added onto its
footprint, exactly the picture above.
:func:`conv_transpose2d_naive` is that picture as loops.
"""
from ..autograd import Function
from ..backend import get_array_module
from ..utils import conv_transpose_output_size, ntuple, positive_ntuple, unwrap
from .conv import check_conv_dtypes, check_conv_shapes
from .conv_performance import conv2d_forward_chunked, conv2d_grad_weight, conv2d_input_grad
from .im2col import pad2d

__all__ = ["conv_transpose2d"]


# ============================================================================ the definition, as loops
def conv_transpose2d_naive(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                           dilation=1):
    """conv_transpose2d from its definition: every input pixel paints a scaled copy of the kernel.

    Slow (four Python loops over input pixels), raw arrays in and out; the
    tests compare the fast :func:`conv_transpose2d` with it. Its backward is
    :func:`conv_transpose2d_backward_naive`.
    """
    x, w, b = unwrap(input), unwrap(weight), unwrap(bias)
    opts = conv_transpose2d_options("conv_transpose2d_naive", x.shape, w.shape,
                                     None if b is None else b.shape, stride, padding, output_padding,
                                     groups, dilation)
    (s_h, s_w), (d_h, d_w), (h_out, w_out) = opts["stride"], opts["dilation"], opts["out_size"]
    p_h, p_w = opts["padding"][0], opts["padding"][2]
    xp = get_array_module(x)
    n_batch, c_in, height, width = x.shape
    _, c_out_per_group, k_h, k_w = w.shape
    c_in_per_group = c_in // groups
    # the full result before cropping, with room for the output_padding rows/columns
    out_full = xp.zeros((n_batch, c_out_per_group * groups, h_out + 2 * p_h, w_out + 2 * p_w), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(c_in):
            g = c // c_in_per_group                                            # the group of input channel c
            outs = slice(g * c_out_per_group, (g + 1) * c_out_per_group)       # ... writes only these outputs
            for i in range(height):
                for j in range(width):
                    # the (dilated) footprint of the kernel when input pixel (i, j) paints it
                    out_full[n, outs,
                             i * s_h: i * s_h + d_h * (k_h - 1) + 1: d_h,
                             j * s_w: j * s_w + d_w * (k_w - 1) + 1: d_w] += x[n, c, i, j] * w[c]
    out = out_full[:, :, p_h:p_h + h_out, p_w:p_w + w_out]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return xp.ascontiguousarray(out)


def conv_transpose2d_backward_naive(grad_output, input, weight, stride=1, padding=0, output_padding=0,
                                    groups=1, dilation=1):
    """The gradients of :func:`conv_transpose2d_naive`, with the same loops: (dL/dx, dL/dW, dL/db).

    Input pixel (n, c, i, j) painted x[n, c, i, j] * W[c] onto the footprint
    out_full[n, outputs of group g, i*s_h + u*d_h, j*s_w + v*d_w], so with G_full
    = dL/d(out) put back into the uncropped result (zeros where it was cropped):

        dL/dx[n, c, i, j] = sum of G_full[footprint] * W[c]
        dL/dW[c]         += x[n, c, i, j] * G_full[footprint]
        dL/db[f]          = sum over n, h, w of G[n, f, h, w]

    Raw arrays in and out; the tests compare the fast backward with it.
    """
    x, w, g_out = unwrap(input), unwrap(weight), unwrap(grad_output)
    opts = conv_transpose2d_options("conv_transpose2d_backward_naive", x.shape, w.shape, None, stride, padding,
                                    output_padding, groups, dilation)
    (s_h, s_w), (d_h, d_w), (h_out, w_out) = opts["stride"], opts["dilation"], opts["out_size"]
    p_h, p_w = opts["padding"][0], opts["padding"][2]
    xp = get_array_module(x)
    n_batch, c_in, height, width = x.shape
    _, c_out_per_group, k_h, k_w = w.shape
    c_in_per_group = c_in // groups
    grad_full = xp.zeros((n_batch, c_out_per_group * groups, h_out + 2 * p_h, w_out + 2 * p_w), dtype=g_out.dtype)
    grad_full[:, :, p_h:p_h + h_out, p_w:p_w + w_out] = g_out
    grad_x = xp.zeros(x.shape, dtype=g_out.dtype)
    grad_w = xp.zeros(w.shape, dtype=g_out.dtype)
    for n in range(n_batch):
        for c in range(c_in):
            g = c // c_in_per_group
            outs = slice(g * c_out_per_group, (g + 1) * c_out_per_group)
            for i in range(height):
                for j in range(width):
                    footprint = grad_full[n, outs,
                                          i * s_h: i * s_h + d_h * (k_h - 1) + 1: d_h,
                                          j * s_w: j * s_w + d_w * (k_w - 1) + 1: d_w]
                    grad_x[n, c, i, j] = (footprint * w[c]).sum()
                    grad_w[c] += x[n, c, i, j] * footprint
    grad_b = g_out.sum(axis=(0, 2, 3))
    return grad_x, grad_w, grad_b


# ============================================================================ the fast version
class ConvTranspose2d(Function):
    """Transposed 2-D convolution; forward and backward reuse conv2d's kernels (module docstring).

    ``padding`` here is (top, bottom, left, right) and ``out_size`` the output's (H_out, W_out);
    :func:`conv_transpose2d` builds them.
    """

    def forward(self, x, weight, bias, stride, padding, dilation, groups, out_size):
        # x plays the part of a conv2d's output gradient; the result, that of its input gradient
        out = conv2d_input_grad(x, weight, out_size, stride, padding, dilation, groups)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        self.x, self.weight, self.in_size = x, weight, x.shape[2:]
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        return out

    def backward(self, grad):
        xp = get_array_module(grad)
        need_x, need_w, need_b = self.needs_input_grad
        grad_x = grad_w = grad_b = None
        cols = None
        if need_x or need_w:
            grad_pad = pad2d(grad, self.padding)     # the full result's shape again (cropped rows: zeros)
        if need_x:   # a conv2d of grad: the conv2d whose input gradient the forward computed
            grad_x, cols = conv2d_forward_chunked(grad_pad, self.weight, self.stride, self.dilation, self.groups,
                                                  self.in_size, keep_columns=True)
        if need_w:   # that conv2d's weight gradient, with x as its output gradient
            grad_w = conv2d_grad_weight(self.x, grad_pad, self.weight.shape, self.stride, self.dilation,
                                        self.groups, self.in_size, cols=cols)
        if need_b:
            grad_b = xp.einsum("nchw->c", grad)
        return grad_x, grad_w, grad_b


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution, as ``torch.nn.functional.conv_transpose2d``.

    Args:
        input: (N, C_in, H, W).
        weight: (C_in, C_out / groups, kH, kW) (torch's layout, C_in first).
        bias: (C_out,) or None.
        stride, dilation: int or pair, positive.
        padding: int or pair: rows/columns cropped from each side of the full result.
        output_padding: int or pair, smaller than stride or dilation: extra rows/columns added at
            the bottom/right, to pick among the input sizes a strided conv maps to the same size.
        groups: independent groups of channels.
    Returns: (N, C_out, H_out, W_out), H_out = (H - 1) s - 2 p + d (kH - 1) + output_padding + 1.
    """
    check_conv_dtypes("conv_transpose2d", input, weight, bias)
    opts = conv_transpose2d_options("conv_transpose2d", input.shape, weight.shape,
                                     None if bias is None else bias.shape, stride, padding, output_padding,
                                     groups, dilation)
    return ConvTranspose2d.apply(input, weight, bias, **opts)


# ============================================================================ argument checks
def conv_transpose2d_options(op, input_shape, weight_shape, bias_shape, stride, padding, output_padding,
                              groups, dilation):
    """Validate the arguments; return the sizes the Function needs."""
    check_conv_shapes(op, input_shape, weight_shape, bias_shape, groups, dims=2, transposed=True)
    stride = positive_ntuple(stride, 2, "stride", op)
    dilation = positive_ntuple(dilation, 2, "dilation", op)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of 2 ints (no 'same'/'valid' for "
                         f"transposed convolutions), got {padding!r}")
    padding = ntuple(padding, 2, "padding", op)
    output_padding = ntuple(output_padding, 2, "output_padding", op)
    if any(p < 0 for p in padding + output_padding):
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got padding={padding}, "
                         f"output_padding={output_padding}")
    for extra, s, d in zip(output_padding, stride, dilation):
        if extra >= max(s, d):
            raise ValueError(f"{op}: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    kernel_size = tuple(weight_shape[2:])
    out_size = tuple(conv_transpose_output_size(*args) for args in
                     zip(input_shape[2:], kernel_size, stride, padding, dilation, output_padding))
    if any(o <= 0 for o in out_size):
        raise ValueError(f"{op}: the output would have size {out_size} (input shape {tuple(input_shape)}, "
                         f"kernel {kernel_size}, stride {stride}, padding {padding}, dilation {dilation}); "
                         "expected a positive size, use less padding")
    return dict(stride=stride, padding=(padding[0], padding[0], padding[1], padding[1]), dilation=dilation,
                groups=groups, out_size=out_size)
