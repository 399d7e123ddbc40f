"""Max and average pooling over the spatial plane of (N, C, H, W) tensors.

A pooling layer slides a kH x kW window over each channel plane (stride s,
zero or -inf padding p, dilation d) and summarises each window by one number
(LeCun et al., "Gradient-based learning applied to document recognition",
1998, for average pooling; Ranzato et al. 2007 and Jarrett et al. 2009 for
max pooling). With the torch conventions used throughout:

    max pooling      y[n,c,i,j] = max  over a<kH, b<kW of  x_pad[n, c, i*sH + a*dH, j*sW + b*dW]
    average pooling  y[n,c,i,j] = (1 / divisor) * sum over a<kH, b<kW of x_pad[n, c, i*sH + a, j*sW + b]

    output size      H_out = floor((H + 2p - d (k - 1) - 1) / s) + 1        (ceil instead of floor
                     with ceil_mode=True, dropping a last window that would start in the right padding;
                     ``minicnn.utils.conv_output_size``, the same formula as a convolution's)

Backward:

* max pooling routes each upstream gradient to the one input that won its
  window (the *argmax*); windows overlap when s < k, so one input can win
  several windows and its gradients add up (a scatter-add);
* average pooling spreads each upstream gradient evenly, 1/divisor to every
  entry of its window.

The file reads in the order of every op file: the ``*_naive`` functions
(explicit loops over every output entry, on NumPy arrays: read those first),
the Functions with their fast kernels, the user functions, the argument
checks. Every fast kernel loops over the kH * kW kernel offsets (never over
output pixels): each offset is one strided view of the padded input, so the
loop body is a whole-array operation on the array module ``xp`` of the input.

Adaptive pooling is in ``adaptive_pooling.py``, max-unpooling in ``unpooling.py``.
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module, scatter_add
from ..utils import check_4d, check_floating, conv_output_size, pair
from .im2col import col2im, crop2d, pad2d, windows

__all__ = ["max_pool2d", "avg_pool2d"]


# =========================================================================== the definition, as loops
def max_pool2d_naive(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling with explicit loops over every output entry (NumPy arrays in and out).

    Returns ``(y, indices)`` with the flat index h * W + w of each maximum.
    """
    (kH, kW), (sH, sW), (pH, pW), (dH, dW), (oH, oW) = _pool_geometry(
        "max_pool2d_naive", x, kernel_size, stride, padding, dilation, ceil_mode)
    N, C, H, W = x.shape
    y = np.zeros((N, C, oH, oW), dtype=x.dtype)
    indices = np.zeros((N, C, oH, oW), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    best, best_index = -np.inf, -1
                    for a in range(kH):
                        for b in range(kW):
                            h, w = i * sH - pH + a * dH, j * sW - pW + b * dW
                            # NaN counts as the largest value, and a later NaN wins (torch's rule)
                            if 0 <= h < H and 0 <= w < W and (x[n, c, h, w] > best or np.isnan(x[n, c, h, w])):
                                best, best_index = x[n, c, h, w], h * W + w
                    y[n, c, i, j], indices[n, c, i, j] = best, best_index
    return y, indices


def max_pool2d_backward_naive(grad_output, indices, input_shape):
    """dL/dx of any max pooling: each upstream gradient goes to its window's argmax (loops)."""
    N, C, H, W = input_shape
    grad_input = np.zeros(input_shape, dtype=grad_output.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(grad_output.shape[2]):
                for j in range(grad_output.shape[3]):
                    h, w = divmod(int(indices[n, c, i, j]), W)
                    grad_input[n, c, h, w] += grad_output[n, c, i, j]
    return grad_input


def avg_pool2d_naive(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                     divisor_override=None):
    """Average pooling with explicit loops over every output entry (NumPy arrays)."""
    (kH, kW), (sH, sW), (pH, pW), _, (oH, oW) = _pool_geometry(
        "avg_pool2d_naive", x, kernel_size, stride, padding, 1, ceil_mode)
    N, C, H, W = x.shape
    y = np.zeros((N, C, oH, oW), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    h0, w0 = i * sH - pH, j * sW - pW                  # window start (may be in padding)
                    h1, w1 = min(h0 + kH, H + pH), min(w0 + kW, W + pW)  # end, clipped to the padded input
                    total, count = 0.0, 0
                    for h in range(max(h0, 0), min(h1, H)):
                        for w in range(max(w0, 0), min(w1, W)):
                            total += x[n, c, h, w]
                            count += 1
                    if divisor_override is not None:
                        divisor = divisor_override
                    elif count_include_pad:
                        divisor = (h1 - h0) * (w1 - w0)
                    else:
                        divisor = count
                    y[n, c, i, j] = total / divisor if divisor else 0.0
    return y


def avg_pool2d_backward_naive(grad_output, input_shape, kernel_size, stride=None, padding=0,
                              ceil_mode=False, count_include_pad=True, divisor_override=None):
    """dL/dx of average pooling with loops: each window's gradient, / divisor, to each of its entries."""
    N, C, H, W = input_shape
    (kH, kW), (sH, sW), (pH, pW), _, (oH, oW) = _pool_geometry(
        "avg_pool2d_naive", np.empty(input_shape), kernel_size, stride, padding, 1, ceil_mode)
    grad_input = np.zeros(input_shape, dtype=grad_output.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    h0, w0 = i * sH - pH, j * sW - pW
                    h1, w1 = min(h0 + kH, H + pH), min(w0 + kW, W + pW)
                    inside = [(h, w) for h in range(max(h0, 0), min(h1, H)) for w in range(max(w0, 0), min(w1, W))]
                    if divisor_override is not None:
                        divisor = divisor_override
                    elif count_include_pad:
                        divisor = (h1 - h0) * (w1 - w0)
                    else:
                        divisor = len(inside)
                    for h, w in inside:
                        grad_input[n, c, h, w] += grad_output[n, c, i, j] / divisor
    return grad_input


# =========================================================================== the fast kernels' tools
def _window_padding(input_shape, padding, needed):
    """(top, bottom, left, right) for :func:`pad2d`: ``padding`` on the top/left, and on the bottom/right
    what the last window needs (at most ``padding``; ceil mode can ask for rows past the input)."""
    (pH, pW), (nH, nW) = padding, needed
    H, W = input_shape[2:]
    return pH, max(nH - H - pH, 0), pW, max(nW - W - pW, 0)


def plane_offsets(xp, N, C, plane_size):
    """Start of every (n, c) plane in the flattened tensor, shaped (N, C, 1, 1) to add to flat indices."""
    return (xp.arange(N * C, dtype=xp.int64) * plane_size).reshape(N, C, 1, 1)


def scatter_to_planes(grad, indices, input_shape):
    """dL/dx for y = x[indices]: add every upstream gradient at the input position it came from.

    ``indices`` are flat h * W + w positions inside each plane; repeats (an input
    that won several overlapping windows) accumulate.
    """
    xp = get_array_module(grad)
    N, C, H, W = input_shape
    grad_input = xp.zeros(N * C * H * W, dtype=grad.dtype)
    flat = (indices + plane_offsets(xp, N, C, H * W)).reshape(-1)
    scatter_add(grad_input, flat, grad.reshape(-1))
    return grad_input.reshape(input_shape)


# =========================================================================== the Functions
class MaxPool2d(Function):
    """y[n,c,i,j] = max over the window of (i, j);  dL/dx[n,c,argmax] += dL/dy[n,c,i,j].

    Ties: the first maximum in row-major window order wins, as in torch.
    Fast kernel: a running maximum over the kH*kW offsets. ``better`` marks the
    positions where offset k is strictly above everything seen so far, so the
    *last* offset that was better is the first maximum: arg = max(arg, k * better).
    NaN: as in torch, a NaN is the maximum (the output is NaN) and the gradient
    goes to the window's last NaN; ``better`` is therefore also true where the
    offset holds a NaN (``window > best`` alone is false for NaN, which sent the
    gradient to the window's first element).
    """

    def forward(self, x, kernel, stride, padding, dilation, out):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        (kH, kW), (dH, dW), (sH, sW), (oH, oW) = kernel, dilation, stride, out
        needed = ((oH - 1) * sH + dH * (kH - 1) + 1, (oW - 1) * sW + dW * (kW - 1) + 1)
        x_pad = pad2d(x, _window_padding(x.shape, padding, needed), value=-xp.inf)
        view = windows(x_pad, kernel, stride, dilation, out)        # (N, C, oH, oW, kH, kW), no copy

        arg_dtype = xp.int16 if kH * kW < 2 ** 15 else xp.int64
        best = view[..., 0, 0].copy()
        arg = xp.zeros(best.shape, dtype=arg_dtype)
        better = xp.empty(best.shape, dtype=bool)
        scratch = xp.empty(best.shape, dtype=arg_dtype)
        for k in range(1, kH * kW):
            window = view[..., k // kW, k % kW]                      # offset k of every window
            xp.greater(window, best, out=better)
            xp.logical_or(better, xp.isnan(window), out=better)
            xp.maximum(best, window, out=best)          # maximum propagates NaN
            # k as a scalar of arg's own type: a plain int makes NumPy multiply in int64 and cast (8x slower)
            xp.multiply(better, arg.dtype.type(k), out=scratch)
            xp.maximum(arg, scratch, out=arg)

        # Offset k = a*kW + b of output (i, j) sits at input row i*sH - pH + a*dH, column j*sW - pW + b*dW.
        a, b = np.divmod(np.arange(kH * kW), kW)
        offset_of_k = xp.asarray(a * dH * W + b * dW)
        rows = np.arange(oH) * sH - padding[0]
        cols = np.arange(oW) * sW - padding[1]
        start = xp.asarray(rows[:, None] * W + cols[None, :])
        self.indices = start + xp.take(offset_of_k, arg)
        self.input_shape = x.shape
        return best, self.indices

    def backward(self, grad):
        return scatter_to_planes(grad, self.indices, self.input_shape)


class AvgPool2d(Function):
    """y[n,c,i,j] = (1/D[i,j]) sum over the window;   dL/dx += dL/dy[n,c,i,j] / D[i,j] over the window."""

    def forward(self, x, kernel, stride, padding, out, divisor):
        xp = get_array_module(x)
        (kH, kW), (sH, sW), (oH, oW) = kernel, stride, out
        needed = ((oH - 1) * sH + kH, (oW - 1) * sW + kW)
        pads = _window_padding(x.shape, padding, needed)
        x_pad = pad2d(x, pads)
        view = windows(x_pad, kernel, stride, (1, 1), out)          # (N, C, oH, oW, kH, kW), no copy
        total = view[..., 0, 0].copy()
        for k in range(1, kH * kW):
            total += view[..., k // kW, k % kW]
        self.divisor = xp.asarray(divisor, dtype=x.dtype)
        self.geometry = (x_pad.shape, pads, kernel, stride, out)
        return total / self.divisor

    def backward(self, grad):
        # The forward summed the windows (the columns of im2col), so the backward is col2im, its
        # adjoint: every window's share dL/dy / D goes back to each of its entries, overlaps adding up.
        xp = get_array_module(grad)
        padded_shape, pads, (kH, kW), stride, out = self.geometry
        N, C = grad.shape[:2]
        spread = (grad / self.divisor).transpose(1, 0, 2, 3)        # (C, N, oH, oW)
        cols = xp.broadcast_to(spread[:, None, None], (C, kH, kW, N) + tuple(out))
        grad_pad = col2im(cols, padded_shape, (kH, kW), stride, (1, 1), out)
        return crop2d(grad_pad, pads)


# =========================================================================== user functions
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-D max pooling of an (N, C, H, W) tensor, as ``torch.nn.functional.max_pool2d``.

    ``stride`` defaults to ``kernel_size``; padding (at most kernel_size // 2) is
    -inf. With ``return_indices=True`` also returns, for every output, the flat
    index h * W + w of its maximum in the input plane (for ``max_unpool2d``).
    """
    geometry = _pool_geometry("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode)
    kernel, stride, padding, dilation, out = geometry
    y, indices = MaxPool2d.apply(input, kernel=kernel, stride=stride, padding=padding,
                                 dilation=dilation, out=out)
    return (y, indices) if return_indices else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling of an (N, C, H, W) tensor, as ``torch.nn.functional.avg_pool2d``.

    Zero padding; ``count_include_pad`` decides whether padded zeros count in
    the divisor; ``divisor_override`` replaces the divisor by a constant.
    """
    op = "avg_pool2d"
    kernel, stride, padding, _, out = _pool_geometry(op, input, kernel_size, stride, padding, 1, ceil_mode)
    check_floating(op, input)     # torch truncates int64 averages and refuses other integer dtypes
    divisor = _avg_pool_divisor(op, input, kernel, stride, padding, out, count_include_pad, divisor_override)
    return AvgPool2d.apply(input, kernel=kernel, stride=stride, padding=padding, out=out, divisor=divisor)


# =========================================================================== argument checks
def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate the window arguments as torch does and return them with the output size."""
    check_4d(op, x)
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    dilation = pair(dilation, "dilation", op)
    if min(kernel) <= 0:
        raise ValueError(f"{op}: kernel_size should be greater than zero, but got kernel_size={kernel}")
    if min(stride) <= 0:
        raise ValueError(f"{op}: stride should be greater than zero, but got stride={stride}")
    if min(dilation) <= 0:
        raise ValueError(f"{op}: dilation should be greater than zero, but got dilation={dilation}")
    if min(padding) < 0:
        raise ValueError(f"{op}: padding should be non-negative, but got padding={padding}")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding should be at most half of the kernel size, but got "
                         f"padding={padding} and kernel_size={kernel} (each padding <= kernel_size // 2)")
    H, W = x.shape[2:]
    out = (conv_output_size(H, kernel[0], stride[0], 2 * padding[0], dilation[0], ceil_mode),
           conv_output_size(W, kernel[1], stride[1], 2 * padding[1], dilation[1], ceil_mode))
    if min(out) < 1:
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise ValueError(f"{op}: the kernel (spanning {span[0]}x{span[1]} with dilation {dilation}) is "
                         f"larger than the padded input ({H + 2 * padding[0]}x{W + 2 * padding[1]} for input "
                         f"of shape {tuple(x.shape)} and padding {padding}); the output size would be "
                         f"{out[0]}x{out[1]}")
    return kernel, stride, padding, dilation, out


def _avg_divisors(in_size, kernel, stride, padding, out, count_include_pad):
    """Per output position along one axis: how many entries its window counts (torch's rule).

    count_include_pad: the window clipped to the padded input [-p, size + p);
    otherwise: clipped to the input [0, size). The 2-D divisor is the outer
    product of the row and column counts.
    """
    start = np.arange(out) * stride - padding
    end = np.minimum(start + kernel, in_size + padding)
    if count_include_pad:
        return end - start
    return np.minimum(end, in_size) - np.maximum(start, 0)


def _avg_pool_divisor(op, x, kernel, stride, padding, out, count_include_pad, divisor_override):
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must not be zero")
        return np.full(out, divisor_override, dtype=np.float64)
    H, W = x.shape[2:]
    rows = _avg_divisors(H, kernel[0], stride[0], padding[0], out[0], count_include_pad)
    cols = _avg_divisors(W, kernel[1], stride[1], padding[1], out[1], count_include_pad)
    divisor = np.outer(rows, cols).astype(np.float64)
    return np.where(divisor > 0, divisor, 1.0)  # an empty window sums to 0; keep 0 rather than 0/0
