"""Depthwise convolution without im2col: a multiply-add over the kH * kW shifted views.

A depthwise convolution (Sifre 2014, "Rigid-Motion Scattering for Image
Classification", section 6.2; Chollet 2017, "Xception"; Howard et al. 2017,
"MobileNets") is a conv2d with ``groups = C_in``: each input channel c is
filtered alone, by ``m`` kernels of its own (the *channel multiplier*, m =
C_out / C_in, usually 1). With the weight (C_in * m, 1, kH, kW) and output
channel f = c * m + k reading input channel c = f // m:

    out[n, f, i, j] = b[f] + sum_{u, v} W[f, 0, u, v] * x_pad[n, f // m, i*s_h + u*d_h, j*s_w + v*d_w]

Why not im2col (``conv.py``)? im2col copies kH * kW values per output pixel
into a column matrix so that ONE matrix product does all the arithmetic. A
general convolution does C_in * kH * kW multiply-adds per output, so the copy
is cheap beside the product. Here each output needs only kH * kW multiply-
adds: the copy costs as much as the arithmetic, and the matrix product
degenerates into C_in tiny ones (one row each). The direct way is faster:
for each kernel offset (u, v) the pixels read,

    x_pad[n, c, i*s_h + u*d_h, j*s_w + v*d_w]  for every (n, c, i, j)

form one strided slice of ``x_pad`` (a *shifted view*, no copy), so

    forward          out           = b + sum over (u, v) of  W[:, u, v] * shifted_view(u, v)
    weight gradient  dL/dW[f, u, v] = sum over n, i, j of  G[n, f, i, j] * shifted_view(u, v)[n, f // m, i, j]
    input gradient   dL/dx_pad[shifted_view(u, v)] += sum over the m kernels k of  W[c m + k, u, v] * G[n, c m + k]
    bias gradient    dL/db[f]       = sum over n, i, j of G[n, f, i, j]

(G = dL/d(out)). The input gradient is the adjoint of the forward: each
offset's view receives back what it gave, and for one offset the strided
slice holds no pixel twice, so a plain ``+=`` on the slice is exact (as in
``im2col.col2im``); then the padding is cropped off. The loops run over the
kH * kW offsets only, never over pixels. This file holds the definition as
loops (:func:`depthwise_conv2d_naive`, :func:`depthwise_conv2d_backward_naive`)
beside the fast kernels, and the autograd Function.

The arrays are handled as 5-D (N, C_in, m, H, W): the input (N, C_in, 1, H, W)
broadcasts against the weight (C_in, m, kH, kW), so the multiplier needs no
loop of its own.
"""
from ..autograd import Function
from ..backend import get_array_module
from ..utils import conv_output_size
from .im2col import crop2d, pad2d

__all__ = []  # reached through conv2d (groups = C_in); the Function and kernels are for conv.py and tests


# ============================================================================ the definition, as loops
def depthwise_conv2d_naive(x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    """The forward, one output pixel at a time (raw arrays; padding = (top, bottom, left, right))."""
    xp = get_array_module(x)
    (s_h, s_w), (d_h, d_w) = stride, dilation
    x_pad = pad2d(x, padding)
    n_batch, c_in = x.shape[:2]
    c_out, _, k_h, k_w = weight.shape
    m = c_out // c_in                                               # the channel multiplier
    h_out = conv_output_size(x_pad.shape[2], k_h, s_h, 0, d_h)
    w_out = conv_output_size(x_pad.shape[3], k_w, s_w, 0, d_w)
    out = xp.zeros((n_batch, c_out, h_out, w_out), dtype=x.dtype)
    for n in range(n_batch):
        for f in range(c_out):
            c = f // m                                              # the only input channel f reads
            for i in range(h_out):
                for j in range(w_out):
                    window = x_pad[n, c, i * s_h: i * s_h + d_h * (k_h - 1) + 1: d_h,
                                   j * s_w: j * s_w + d_w * (k_w - 1) + 1: d_w]
                    out[n, f, i, j] = (window * weight[f, 0]).sum()
            if bias is not None:
                out[n, f] += bias[f]
    return out


def depthwise_conv2d_backward_naive(x, weight, grad, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    """(dL/dx, dL/dW, dL/db) one output pixel at a time: each pixel sends its gradient back to the
    window it read (input) and to the kernel that read it (weight)."""
    xp = get_array_module(x)
    (s_h, s_w), (d_h, d_w) = stride, dilation
    x_pad = pad2d(x, padding)
    grad_x_pad = xp.zeros(x_pad.shape, dtype=x.dtype)
    grad_w = xp.zeros(weight.shape, dtype=x.dtype)
    grad_b = xp.zeros(weight.shape[0], dtype=x.dtype)
    c_in, (c_out, _, k_h, k_w) = x.shape[1], weight.shape
    n_batch, _, h_out, w_out = grad.shape
    for n in range(n_batch):
        for f in range(c_out):
            c = f // (c_out // c_in)
            for i in range(h_out):
                for j in range(w_out):
                    rows = slice(i * s_h, i * s_h + d_h * (k_h - 1) + 1, d_h)
                    cols = slice(j * s_w, j * s_w + d_w * (k_w - 1) + 1, d_w)
                    g = grad[n, f, i, j]
                    grad_w[f, 0] += g * x_pad[n, c, rows, cols]
                    grad_x_pad[n, c, rows, cols] += g * weight[f, 0]
                    grad_b[f] += g
    return crop2d(grad_x_pad, padding), grad_w, grad_b


# ============================================================================ the fast kernels
def shifted_view(x_pad, u, v, stride, dilation, out_size):
    """x_pad[..., i*s_h + u*d_h, j*s_w + v*d_w] for every output pixel (i, j): a strided view, no copy."""
    (s_h, s_w), (d_h, d_w), (h_out, w_out) = stride, dilation, out_size
    return x_pad[..., u * d_h: u * d_h + s_h * (h_out - 1) + 1: s_h,
                 v * d_w: v * d_w + s_w * (w_out - 1) + 1: s_w]


def depthwise_forward_kernel(x_pad, weight, stride, dilation, out_size, out=None):
    """out = sum over the offsets (u, v) of W[:, u, v] * shifted_view(u, v), as (N, C_in * m, H_out, W_out).

    Each offset costs one multiply into a scratch array and one add into the
    output (NumPy has no fused multiply-add); the first writes the output
    directly, so it needs no zero-filling. ``out`` (optional): where to write.
    """
    xp = get_array_module(x_pad)
    n, c_in = x_pad.shape[:2]
    c_out, _, k_h, k_w = weight.shape
    m = c_out // c_in
    w5 = weight.reshape(c_in, m, k_h, k_w)
    x5 = x_pad[:, :, None]                                          # (N, C_in, 1, H_p, W_p)
    shape5 = (n, c_in, m) + tuple(out_size)
    out5 = (xp.empty(shape5, dtype=x_pad.dtype) if out is None else out.reshape(shape5))
    scratch = xp.empty(shape5, dtype=x_pad.dtype)
    for u in range(k_h):
        for v in range(k_w):
            view = shifted_view(x5, u, v, stride, dilation, out_size)
            tap = w5[:, :, u, v, None, None]                        # (C_in, m, 1, 1): one weight per f
            if u == 0 and v == 0:
                xp.multiply(view, tap, out=out5)
            else:
                xp.multiply(view, tap, out=scratch)
                out5 += scratch
    return out5.reshape((n, c_out) + tuple(out_size))


def depthwise_grad_weight_kernel(grad, x_pad, weight_shape, stride, dilation, out_size):
    """dL/dW[f, 0, u, v] = sum over n, i, j of G[n, f, i, j] * shifted_view(u, v)[n, f // m, i, j]."""
    xp = get_array_module(grad)
    n, c_in = x_pad.shape[:2]
    c_out, _, k_h, k_w = weight_shape
    m = c_out // c_in
    g5 = grad.reshape((n, c_in, m) + tuple(out_size))
    x5 = x_pad[:, :, None]
    grad_w = xp.empty((c_in, m, k_h, k_w), dtype=grad.dtype)
    scratch = xp.empty(g5.shape, dtype=grad.dtype)
    for u in range(k_h):
        for v in range(k_w):
            xp.multiply(g5, shifted_view(x5, u, v, stride, dilation, out_size), out=scratch)
            grad_w[:, :, u, v] = scratch.sum(axis=(0, 3, 4))
    return grad_w.reshape(weight_shape)


def depthwise_input_grad_kernel(grad, weight, padded_shape, stride, dilation, out_size):
    """dL/dx_pad: every offset's view gets back W[:, u, v] * G, summed over the m kernels of a channel."""
    xp = get_array_module(grad)
    n, c_in = padded_shape[:2]
    c_out, _, k_h, k_w = weight.shape
    m = c_out // c_in
    g5 = grad.reshape((n, c_in, m) + tuple(out_size))
    w5 = weight.reshape(c_in, m, k_h, k_w)
    grad_x_pad = xp.zeros(padded_shape, dtype=grad.dtype)
    scratch = xp.empty(g5.shape, dtype=grad.dtype)
    for u in range(k_h):
        for v in range(k_w):
            xp.multiply(g5, w5[:, :, u, v, None, None], out=scratch)
            contribution = scratch[:, :, 0] if m == 1 else scratch.sum(axis=2)
            shifted_view(grad_x_pad, u, v, stride, dilation, out_size)[...] += contribution
    return grad_x_pad


# ============================================================================ stride 1: one flat view per offset
# The fast path. For stride 1 the shifted views above are 4-D slices made of rows W_out long, and
# NumPy runs an elementwise operation on such a non-contiguous view about 2x slower than on a
# contiguous array (measured: benchmarks/RESULTS.md). Flattening the WHOLE padded batch into one
# vector of N * C * H_p * W_p values makes every offset's view ONE contiguous run:
#
#     x_pad[n, c, i + u*d_h, j + v*d_w] = flat[p + off(u, v)],   p = ((n C + c) H_p + i) W_p + j,
#     off(u, v) = u d_h W_p + v d_w.
#
# So the output is computed at every position p of the padded grid,
#     out_wide[p] = sum over (u, v) of W[c, u, v] * flat[p + off(u, v)],
# and only the positions with i < H_out and j < W_out are kept: the others read a neighbouring row
# or plane and are dropped (in the backward they get a zero gradient, so they add nothing).
# The work grows by H_p W_p / (H_out W_out) (1.13x for 32x32 with padding 1); the flat vector gets
# off(kH-1, kW-1) zeros at its end for the last positions to read.
def flat_padded(x, padding, tail):
    """The padded batch as one flat vector (N * C * H_p * W_p + ``tail``) and the padded (H_p, W_p)."""
    xp = get_array_module(x)
    n, c, height, width = x.shape
    top, bottom, left, right = padding
    h_pad, w_pad = height + top + bottom, width + left + right
    flat = xp.zeros(n * c * h_pad * w_pad + tail, dtype=x.dtype)
    grid = flat[:n * c * h_pad * w_pad].reshape(n, c, h_pad, w_pad)
    grid[:, :, top:top + height, left:left + width] = x
    return flat, (h_pad, w_pad)


def _offsets(kernel_size, dilation, w_pad):
    """off(u, v) = u d_h W_p + v d_w for every offset (u, v), in the order of the kernel's taps."""
    return [(u, v, u * dilation[0] * w_pad + v * dilation[1])
            for u in range(kernel_size[0]) for v in range(kernel_size[1])]


def depthwise_forward_flat(flat, shape, weight, dilation, out_size):
    """Stride-1 forward from the flat padded batch; ``shape`` = (N, C_in, H_p, W_p). -> (N, C_out, H_out, W_out).

    The channel multiplier m > 1 takes the shifted-view kernel (:func:`depthwise_forward_kernel`).
    """
    xp = get_array_module(flat)
    n, c_in, h_pad, w_pad = shape
    size = n * c_in * h_pad * w_pad
    wide = xp.empty((n, c_in, h_pad * w_pad), dtype=flat.dtype)
    scratch = xp.empty_like(wide)
    # a weight as large as one image, so that the multiply's operands are all contiguous (faster
    # than broadcasting a (C, 1) column along every row)
    taps = xp.ascontiguousarray(xp.broadcast_to(weight.reshape(c_in, -1).T[:, :, None],
                                                (weight.shape[2] * weight.shape[3], c_in, h_pad * w_pad)))
    for t, (u, v, off) in enumerate(_offsets(weight.shape[2:], dilation, w_pad)):
        view = flat[off:off + size].reshape(wide.shape)
        if t == 0:
            xp.multiply(view, taps[t], out=wide)
        else:
            xp.multiply(view, taps[t], out=scratch)
            wide += scratch
    h_out, w_out = out_size
    return xp.ascontiguousarray(wide.reshape(shape)[:, :, :h_out, :w_out]), taps


def depthwise_backward_flat(grad, flat, shape, taps, kernel_size, dilation, need_x, need_w):
    """Stride-1 (dL/dx_pad (N, C, H_p, W_p) or None, dL/dW as (C, kH * kW) or None).

    ``taps``: the forward's (kH * kW, C, H_p * W_p) weight. G is first laid on the padded grid
    with zeros at the dropped positions.
    """
    xp = get_array_module(grad)
    n, c_in, h_pad, w_pad = shape
    size = n * c_in * h_pad * w_pad
    g_wide = xp.zeros(shape, dtype=grad.dtype)
    g_wide[:, :, :grad.shape[2], :grad.shape[3]] = grad
    g_wide = g_wide.reshape(n, c_in, h_pad * w_pad)
    offsets = _offsets(kernel_size, dilation, w_pad)
    grad_w = xp.empty((c_in, len(offsets)), dtype=grad.dtype) if need_w else None
    grad_flat = xp.zeros(flat.shape, dtype=grad.dtype) if need_x else None
    scratch = xp.empty_like(g_wide)
    for t, (u, v, off) in enumerate(offsets):
        if need_w:   # sum over n and p of G * view: one dot product per (n, c), then the sum over n
            view = flat[off:off + size].reshape(n, c_in, -1, 1)
            grad_w[:, t] = (g_wide[:, :, None, :] @ view)[:, :, 0, 0].sum(axis=0)
        if need_x:   # the adjoint of the forward's multiply-add: the view gets W[c, u, v] * G back
            xp.multiply(g_wide, taps[t], out=scratch)
            grad_flat[off:off + size].reshape(scratch.shape)[...] += scratch
    grad_x_pad = None if grad_flat is None else grad_flat[:size].reshape(shape)
    return grad_x_pad, grad_w


class DepthwiseConv2d(Function):
    """conv2d with groups = C_in and a (C_in * m, 1, kH, kW) weight, by shifted views (module docstring).

    ``padding`` is (top, bottom, left, right), as :class:`~minicnn.ops.conv.Conv2d`
    takes it; ``conv.conv2d`` validates the arguments and dispatches here.
    """

    def forward(self, x, weight, bias, stride, padding, dilation):
        k_h, k_w = weight.shape[2:]
        self.flat = self.x_pad = None
        # the fast path (one flat view per offset) for stride 1 and one kernel per channel
        if tuple(stride) == (1, 1) and weight.shape[0] == x.shape[1]:
            top, bottom, left, right = padding
            padded_shape = (x.shape[0], x.shape[1], x.shape[2] + top + bottom, x.shape[3] + left + right)
            tail = dilation[0] * (k_h - 1) * padded_shape[3] + dilation[1] * (k_w - 1)
            self.flat, _ = flat_padded(x, padding, tail)
        else:
            self.x_pad = pad2d(x, padding)
            padded_shape = self.x_pad.shape
        out_size = (conv_output_size(padded_shape[2], k_h, stride[0], 0, dilation[0]),
                    conv_output_size(padded_shape[3], k_w, stride[1], 0, dilation[1]))
        if self.flat is not None:
            out, self.taps = depthwise_forward_flat(self.flat, padded_shape, weight, dilation, out_size)
        else:
            out = depthwise_forward_kernel(self.x_pad, weight, stride, dilation, out_size)
        if bias is not None:
            out += bias.reshape(1, -1, 1, 1)
        self.weight, self.out_size, self.padded_shape = weight, out_size, tuple(padded_shape)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        return out

    def backward(self, grad):
        xp = get_array_module(grad)
        need_x, need_w, need_b = self.needs_input_grad
        grad_x = grad_w = grad_b = None
        if self.flat is not None:
            grad_x_pad, grad_w = depthwise_backward_flat(grad, self.flat, self.padded_shape, self.taps,
                                                         self.weight.shape[2:], self.dilation, need_x, need_w)
            grad_w = None if grad_w is None else grad_w.reshape(self.weight.shape)
        else:
            grad = xp.ascontiguousarray(grad)      # e.g. the read-only broadcast view of sum's backward
            if need_w:
                grad_w = depthwise_grad_weight_kernel(grad, self.x_pad, self.weight.shape, self.stride,
                                                      self.dilation, self.out_size)
            if need_x:
                grad_x_pad = depthwise_input_grad_kernel(grad, self.weight, self.padded_shape, self.stride,
                                                         self.dilation, self.out_size)
        if need_x:
            grad_x = xp.ascontiguousarray(crop2d(grad_x_pad, self.padding))
        if need_b:
            grad_b = grad.sum(axis=(0, 2, 3))
        return grad_x, grad_w, grad_b


def depthwise_conv2d(input, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1)):
    """Depthwise conv2d of Tensors with conv2d's validated options (stride, 4-sided padding, dilation).

    Users call ``conv2d(..., groups=C_in)``; this is its kernel for that case.
    """
    c_in, (c_out, per_group) = input.shape[1], weight.shape[:2]
    if per_group != 1 or c_out % c_in:
        raise ValueError(f"depthwise_conv2d: expected a weight of shape (C_in * m, 1, kH, kW) for an input "
                         f"with C_in={c_in} channels, got weight shape {tuple(weight.shape)}")
    return DepthwiseConv2d.apply(input, weight, bias, stride=tuple(stride), padding=tuple(padding),
                                 dilation=tuple(dilation))
