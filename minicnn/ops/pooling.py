"""Pooling over the spatial plane of (N, C, H, W) tensors: max, average, adaptive, and max-unpooling.

A pooling layer slides a kH x kW window over each channel plane (stride s,
zero or -inf padding p, dilation d) and summarises each window by one number.
With the torch conventions used throughout:

    max pooling      y[n,c,i,j] = max  over a<kH, b<kW of  x_pad[n, c, i*sH + a*dH, j*sW + b*dW]
    average pooling  y[n,c,i,j] = (1 / divisor) * sum over a<kH, b<kW of x_pad[n, c, i*sH + a, j*sW + b]

    output size      H_out = floor((H + 2p - d (k - 1) - 1) / s) + 1        (ceil instead of floor
                     with ceil_mode=True, dropping a last window that would start in the right padding)

Backward:

* max pooling routes each upstream gradient to the one input that won its
  window (the *argmax*); windows overlap when s < k, so one input can win
  several windows and its gradients add up (a scatter-add);
* average pooling spreads each upstream gradient evenly, 1/divisor to every
  entry of its window.

Max-unpooling (Noh et al. 2015, "Learning deconvolution network for semantic
segmentation", and SegNet, Badrinarayanan et al. 2017; the "pooling /
unpooling" pair of the segmentation lecture, seed 003) puts every value back
at the position its max pooling took it from, zeros elsewhere: it consumes the
indices that ``max_pool2d(..., return_indices=True)`` returns (flat indices
h * W + w into each H x W plane, as in torch).

Adaptive pooling (torch's ``AdaptiveAvgPool2d``; the "image pooling" branch of
DeepLab's ASPP, seed 003) fixes the *output* size instead: output row i pools
input rows start = floor(i H / H_out) to end = ceil((i + 1) H / H_out)
(exclusive), so bins may overlap and differ in size by one.

Every fast kernel loops over the kH * kW kernel offsets (never over output
pixels): each offset is one strided view of the padded input, so the loop body
is a whole-array operation on the array module ``xp`` of the input. Beside each
one, a ``*_naive`` function spells out the same computation with explicit
loops over every output entry, on NumPy arrays: read those first.
"""
import math

import numpy as np

from ..autograd import Function
from ..backend import get_array_module, scatter_add

__all__ = ["max_pool2d", "max_unpool2d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d"]


# =========================================================================== argument checking
def _pair(value, name, op):
    """An int or a sequence of one or two ints, as a pair (height, width)."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            value = (value[0], value[0])
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be a single int or a pair of ints, got {value!r}")
    else:
        value = (value, value)
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{op}: {name} must contain ints, got {value!r} "
                            f"(an element of type {type(v).__name__})")
    return int(value[0]), int(value[1])


def _check_4d(op, x):
    """Pooling works on batches of images: (N, C, H, W)."""
    if x.ndim != 4:
        hint = " (for a single (C, H, W) image add the batch axis: x.unsqueeze(0))" if x.ndim == 3 else ""
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got a {x.ndim}-D input of shape "
                         f"{tuple(x.shape)}{hint}")


def pool_output_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """Number of window positions along one axis (torch's ``pooling_output_shape``).

    floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1, or ceil with
    ``ceil_mode``; in ceil mode a last window that would start inside the right
    padding is dropped, so every window overlaps the input or its left padding.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool_geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate the window arguments as torch does and return them with the output size."""
    _check_4d(op, x)
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _pair(stride, "stride", op)
    padding = _pair(padding, "padding", op)
    dilation = _pair(dilation, "dilation", op)
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
    out = (pool_output_size(H, kernel[0], stride[0], padding[0], dilation[0], ceil_mode),
           pool_output_size(W, kernel[1], stride[1], padding[1], dilation[1], ceil_mode))
    if min(out) < 1:
        span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        raise ValueError(f"{op}: the kernel (spanning {span[0]}x{span[1]} with dilation {dilation}) is "
                         f"larger than the padded input ({H + 2 * padding[0]}x{W + 2 * padding[1]} for input "
                         f"of shape {tuple(x.shape)} and padding {padding}); the output size would be "
                         f"{out[0]}x{out[1]}")
    return kernel, stride, padding, dilation, out


def _pad_for_windows(x, padding, needed, fill):
    """Pad the plane by ``padding`` on the top/left and enough on the bottom/right for ``needed`` rows
    and columns (ceil mode can ask for more than ``padding``), with the value ``fill``."""
    xp = get_array_module(x)
    N, C, H, W = x.shape
    (pH, pW), (nH, nW) = padding, needed
    Hp, Wp = max(nH, H + pH), max(nW, W + pW)
    if (pH, pW) == (0, 0) and (Hp, Wp) == (H, W):
        return x
    out = xp.full((N, C, Hp, Wp), fill, dtype=x.dtype)
    out[:, :, pH:pH + H, pW:pW + W] = x
    return out


def _window(x_pad, a, b, stride, dilation, out):
    """The strided view of the entries that kernel offset (a, b) sees, one per output position."""
    (sH, sW), (dH, dW), (oH, oW) = stride, dilation, out
    return x_pad[:, :, a * dH: a * dH + (oH - 1) * sH + 1: sH, b * dW: b * dW + (oW - 1) * sW + 1: sW]


def _plane_offsets(xp, N, C, plane_size):
    """Start of every (n, c) plane in the flattened tensor, shaped (N, C, 1, 1) to add to flat indices."""
    return (xp.arange(N * C, dtype=xp.int64) * plane_size).reshape(N, C, 1, 1)


def _scatter_to_planes(grad, indices, input_shape):
    """dL/dx for y = x[indices]: add every upstream gradient at the input position it came from.

    ``indices`` are flat h * W + w positions inside each plane; repeats (an input
    that won several overlapping windows) accumulate.
    """
    xp = get_array_module(grad)
    N, C, H, W = input_shape
    grad_input = xp.zeros(N * C * H * W, dtype=grad.dtype)
    flat = (indices + _plane_offsets(xp, N, C, H * W)).reshape(-1)
    scatter_add(grad_input, flat, grad.reshape(-1))
    return grad_input.reshape(input_shape)


# =========================================================================== max pooling
class MaxPool2d(Function):
    """y[n,c,i,j] = max over the window of (i, j);  dL/dx[n,c,argmax] += dL/dy[n,c,i,j].

    Ties: the first maximum in row-major window order wins, as in torch.
    Fast kernel: a running maximum over the kH*kW offsets. ``better`` marks the
    positions where offset k is strictly above everything seen so far, so the
    *last* offset that was better is the first maximum: arg = max(arg, k * better).
    """

    def forward(self, x, kernel, stride, padding, dilation, out):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        (kH, kW), (dH, dW), (sH, sW), (oH, oW) = kernel, dilation, stride, out
        needed = ((oH - 1) * sH + dH * (kH - 1) + 1, (oW - 1) * sW + dW * (kW - 1) + 1)
        x_pad = _pad_for_windows(x, padding, needed, fill=-xp.inf)

        arg_dtype = xp.int16 if kH * kW < 2 ** 15 else xp.int64
        best = _window(x_pad, 0, 0, stride, dilation, out).copy()
        arg = xp.zeros(best.shape, dtype=arg_dtype)
        better = xp.empty(best.shape, dtype=bool)
        scratch = xp.empty(best.shape, dtype=arg_dtype)
        for k in range(1, kH * kW):
            window = _window(x_pad, k // kW, k % kW, stride, dilation, out)
            xp.greater(window, best, out=better)
            xp.maximum(best, window, out=best)
            xp.multiply(better, k, out=scratch)
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
        return _scatter_to_planes(grad, self.indices, self.input_shape)


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
                            if 0 <= h < H and 0 <= w < W and x[n, c, h, w] > best:
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


# =========================================================================== max unpooling
class MaxUnpool2d(Function):
    """y = zeros with y[n, c, indices[n,c,i,j]] = x[n,c,i,j].   dL/dx[n,c,i,j] = dL/dy[n, c, indices[n,c,i,j]]."""

    def forward(self, x, indices, out_size):
        xp = get_array_module(x)
        N, C = x.shape[:2]
        oH, oW = out_size
        self.flat = (indices + _plane_offsets(xp, N, C, oH * oW)).reshape(-1)
        self.input_shape = x.shape
        y = xp.zeros(N * C * oH * oW, dtype=x.dtype)
        y[self.flat] = x.reshape(-1)
        return y.reshape(N, C, oH, oW)

    def backward(self, grad):
        return grad.reshape(-1)[self.flat].reshape(self.input_shape), None


def _unpool_output_size(x, kernel, stride, padding, output_size):
    """(H_in - 1) * stride - 2 padding + kernel, or ``output_size`` if within one stride of it (torch)."""
    default = [(x.shape[2 + d] - 1) * stride[d] + kernel[d] - 2 * padding[d] for d in range(2)]
    if output_size is None:
        return tuple(default)
    output_size = tuple(int(s) for s in output_size)
    if len(output_size) == 4:
        output_size = output_size[2:]
    if len(output_size) != 2:
        raise ValueError("max_unpool2d: output_size should be a sequence containing 2 or 4 elements, but "
                         f"it has a length of {len(output_size)} ({output_size})")
    for d in range(2):
        low, high = default[d] - stride[d], default[d] + stride[d]
        if not low < output_size[d] < high:
            raise ValueError(f"max_unpool2d: invalid output_size {output_size} (dim {d} must be between "
                             f"{low} and {high}, exclusive)")
    return output_size


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max pooling: scatter ``input`` to the positions ``indices`` (zeros elsewhere).

    As ``torch.nn.functional.max_unpool2d``; ``indices`` come from
    ``max_pool2d(..., return_indices=True)``. ``output_size`` resolves the
    ambiguity when the pooled input size was not a multiple of the stride.
    """
    op = "max_unpool2d"
    _check_4d(op, input)
    kernel = _pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else _pair(stride, "stride", op)
    padding = _pair(padding, "padding", op)
    if min(stride) <= 0:
        raise ValueError(f"{op}: stride should be greater than zero, but got stride={stride}")
    idx = getattr(indices, "data", indices)
    if tuple(idx.shape) != tuple(input.shape):
        raise ValueError(f"{op}: expected indices of the same shape as the input {tuple(input.shape)}, "
                         f"got indices of shape {tuple(idx.shape)}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers (from max_pool2d(..., return_indices=True)), "
                        f"got dtype {idx.dtype}")
    oH, oW = _unpool_output_size(input, kernel, stride, padding, output_size)
    xp = get_array_module(idx)
    invalid = (idx < 0) | (idx >= oH * oW)
    if idx.size and bool(invalid.any()):
        raise ValueError(f"{op}: found an invalid max index {int(idx[invalid].reshape(-1)[0])} (output "
                         f"planes are of size {oH}x{oW}, so indices must lie in [0, {oH * oW}))")
    return MaxUnpool2d.apply(input, xp.asarray(idx, dtype=xp.int64), out_size=(oH, oW))


def max_unpool2d_naive(x, indices, output_size):
    """Max unpooling with loops: y[n, c, h, w] = x[n, c, i, j] where indices[n, c, i, j] = h * W + w."""
    N, C = x.shape[:2]
    H, W = output_size
    y = np.zeros((N, C, H, W), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(x.shape[2]):
                for j in range(x.shape[3]):
                    h, w = divmod(int(indices[n, c, i, j]), W)
                    y[n, c, h, w] = x[n, c, i, j]
    return y


# =========================================================================== average pooling
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


class AvgPool2d(Function):
    """y[n,c,i,j] = (1/D[i,j]) sum over the window;   dL/dx += dL/dy[n,c,i,j] / D[i,j] over the window."""

    def forward(self, x, kernel, stride, padding, out, divisor):
        xp = get_array_module(x)
        (kH, kW), (sH, sW), (oH, oW) = kernel, stride, out
        needed = ((oH - 1) * sH + kH, (oW - 1) * sW + kW)
        x_pad = _pad_for_windows(x, padding, needed, fill=0)
        total = _window(x_pad, 0, 0, stride, (1, 1), out).copy()
        for k in range(1, kH * kW):
            total += _window(x_pad, k // kW, k % kW, stride, (1, 1), out)
        self.divisor = xp.asarray(divisor, dtype=x.dtype)
        self.geometry = (x.shape, x_pad.shape, kernel, stride, padding, out)
        return total / self.divisor

    def backward(self, grad):
        xp = get_array_module(grad)
        input_shape, padded_shape, (kH, kW), stride, (pH, pW), out = self.geometry
        spread = grad / self.divisor
        grad_pad = xp.zeros(padded_shape, dtype=grad.dtype)
        for k in range(kH * kW):
            window = _window(grad_pad, k // kW, k % kW, stride, (1, 1), out)
            window += spread  # a view of grad_pad: one offset's windows never overlap each other
        H, W = input_shape[2:]
        return grad_pad[:, :, pH:pH + H, pW:pW + W]


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


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-D average pooling of an (N, C, H, W) tensor, as ``torch.nn.functional.avg_pool2d``.

    Zero padding; ``count_include_pad`` decides whether padded zeros count in
    the divisor; ``divisor_override`` replaces the divisor by a constant.
    """
    op = "avg_pool2d"
    kernel, stride, padding, _, out = _pool_geometry(op, input, kernel_size, stride, padding, 1, ceil_mode)
    divisor = _avg_pool_divisor(op, input, kernel, stride, padding, out, count_include_pad, divisor_override)
    return AvgPool2d.apply(input, kernel=kernel, stride=stride, padding=padding, out=out, divisor=divisor)


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


# =========================================================================== adaptive pooling
def adaptive_bins(in_size, out_size):
    """(start, end) of every adaptive bin: start = floor(i * in / out), end = ceil((i + 1) * in / out)."""
    i = np.arange(out_size)
    start = (i * in_size) // out_size
    end = -((-(i + 1) * in_size) // out_size)
    return start, end


def _adaptive_output_size(op, x, output_size):
    _check_4d(op, x)
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != 2:
            raise ValueError(f"{op}: output_size must be an int or a pair (H_out, W_out), got {output_size!r}")
        sizes = tuple(x.shape[2 + d] if s is None else s for d, s in enumerate(output_size))
    else:
        sizes = (output_size, output_size)
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"{op}: output_size must contain ints (or None), got {output_size!r}")
    if min(sizes) < 0:
        raise ValueError(f"{op}: output_size must be non-negative, got {output_size!r}")
    if min(x.shape[2:]) < 1 and max(sizes) > 0:
        raise ValueError(f"{op}: expected non-empty spatial dimensions, got input of shape {tuple(x.shape)}")
    return int(sizes[0]), int(sizes[1])


def adaptive_avg_matrix(in_size, out_size, dtype=np.float64):
    """P (out_size, in_size) with P[i, start_i:end_i] = 1 / (end_i - start_i): one bin's mean per row."""
    start, end = adaptive_bins(in_size, out_size)
    position = np.arange(in_size)[None, :]
    in_bin = (start[:, None] <= position) & (position < end[:, None])
    return (in_bin / (end - start)[:, None]).astype(dtype)


class AdaptiveAvgPool2d(Function):
    """y = P_h x P_w^T per plane (P: bin averaging matrices).   dL/dx = P_h^T (dL/dy) P_w.

    Averaging over rectangles is separable: average the rows of each row bin,
    then the columns of each column bin; each is a product with a fixed matrix.
    """

    def forward(self, x, out):
        xp = get_array_module(x)
        H, W = x.shape[2:]
        self.P_h = xp.asarray(adaptive_avg_matrix(H, out[0]), dtype=x.dtype)
        self.P_w = xp.asarray(adaptive_avg_matrix(W, out[1]), dtype=x.dtype)
        return self.P_h @ (x @ self.P_w.T)

    def backward(self, grad):
        return self.P_h.T @ (grad @ self.P_w)


def adaptive_avg_pool2d(input, output_size):
    """Average over adaptive bins so that the output is ``output_size`` (an int, or a pair with None
    keeping that input size), as ``torch.nn.functional.adaptive_avg_pool2d``. (1, 1) is global
    average pooling."""
    out = _adaptive_output_size("adaptive_avg_pool2d", input, output_size)
    return AdaptiveAvgPool2d.apply(input, out=out)


def _bin_members(in_size, out_size):
    """(out_size, longest bin) matrix of the input positions of each bin; shorter bins repeat their last
    position, which changes neither a maximum nor (argmax takes the first) its position."""
    start, end = adaptive_bins(in_size, out_size)
    longest = int((end - start).max()) if out_size else 1
    return np.minimum(start[:, None] + np.arange(longest)[None, :], end[:, None] - 1)


class AdaptiveMaxPool2d(Function):
    """y[n,c,i,j] = max over bin (i, j);  dL/dx[argmax] += dL/dy[n,c,i,j].

    A maximum over a rectangle is a maximum over its rows of the maxima over its
    columns, so the kernel reduces the columns of every column bin first, then
    the rows: two gathers and two argmaxes, no loop over pixels. argmax takes the
    first maximum, so ties go to the first entry in row-major order, as in torch.
    """

    def forward(self, x, out):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        oH, oW = out
        cols = xp.asarray(_bin_members(W, oW))                      # (oW, kW)
        rows = xp.asarray(_bin_members(H, oH))                      # (oH, kH)
        # 1) the maximum of every row over the columns of each column bin: (N, C, H, oW)
        x_cols = x[:, :, :, cols]                                   # (N, C, H, oW, kW)
        best_b = x_cols.argmax(axis=4)
        row_max = xp.take_along_axis(x_cols, best_b[..., None], axis=4)[..., 0]
        col_of_row_max = xp.take(cols.reshape(-1), xp.arange(oW) * cols.shape[1] + best_b)
        # 2) the maximum over the rows of each row bin: (N, C, oH, oW)
        x_rows = row_max[:, :, rows, :]                             # (N, C, oH, kH, oW)
        best_a = x_rows.argmax(axis=3)
        y = xp.take_along_axis(x_rows, best_a[:, :, :, None, :], axis=3)[:, :, :, 0, :]
        h = xp.take(rows.reshape(-1), (xp.arange(oH) * rows.shape[1])[:, None] + best_a)
        w = xp.take_along_axis(col_of_row_max, h, axis=2)
        self.indices = h * W + w
        self.input_shape = x.shape
        return y, self.indices

    def backward(self, grad):
        return _scatter_to_planes(grad, self.indices, self.input_shape)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over adaptive bins, as ``torch.nn.functional.adaptive_max_pool2d`` (indices as in
    ``max_pool2d``)."""
    out = _adaptive_output_size("adaptive_max_pool2d", input, output_size)
    y, indices = AdaptiveMaxPool2d.apply(input, out=out)
    return (y, indices) if return_indices else y


def adaptive_avg_pool2d_naive(x, output_size):
    """Adaptive average pooling with loops over every output entry (NumPy arrays)."""
    N, C, H, W = x.shape
    oH, oW = _adaptive_output_size("adaptive_avg_pool2d_naive", x, output_size)
    h0, h1 = adaptive_bins(H, oH)
    w0, w1 = adaptive_bins(W, oW)
    y = np.zeros((N, C, oH, oW), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    y[n, c, i, j] = x[n, c, h0[i]:h1[i], w0[j]:w1[j]].mean()
    return y


def adaptive_avg_pool2d_backward_naive(grad_output, input_shape):
    """dL/dx of adaptive average pooling with loops: each bin's gradient, / bin size, to its entries."""
    N, C, H, W = input_shape
    oH, oW = grad_output.shape[2:]
    h0, h1 = adaptive_bins(H, oH)
    w0, w1 = adaptive_bins(W, oW)
    grad_input = np.zeros(input_shape, dtype=grad_output.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    size = (h1[i] - h0[i]) * (w1[j] - w0[j])
                    grad_input[n, c, h0[i]:h1[i], w0[j]:w1[j]] += grad_output[n, c, i, j] / size
    return grad_input


def adaptive_max_pool2d_naive(x, output_size):
    """Adaptive max pooling with loops; returns ``(y, indices)``. Its backward is
    ``max_pool2d_backward_naive`` (the gradient goes to the argmax)."""
    N, C, H, W = x.shape
    oH, oW = _adaptive_output_size("adaptive_max_pool2d_naive", x, output_size)
    h0, h1 = adaptive_bins(H, oH)
    w0, w1 = adaptive_bins(W, oW)
    y = np.zeros((N, C, oH, oW), dtype=x.dtype)
    indices = np.zeros((N, C, oH, oW), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(oH):
                for j in range(oW):
                    best, best_index = -math.inf, -1
                    for h in range(h0[i], h1[i]):
                        for w in range(w0[j], w1[j]):
                            if x[n, c, h, w] > best:
                                best, best_index = x[n, c, h, w], h * W + w
                    y[n, c, i, j], indices[n, c, i, j] = best, best_index
    return y, indices
