"""Max-unpooling: the inverse of max pooling, which puts every value back where it came from.

Max-unpooling (Zeiler & Fergus, "Visualizing and understanding convolutional
networks", 2014; Noh et al., "Learning deconvolution network for semantic
segmentation", 2015; SegNet, Badrinarayanan et al. 2017) puts every value
back at the position its max pooling took it from, zeros elsewhere: it
consumes the indices that ``max_pool2d(..., return_indices=True)`` returns
(flat indices h * W + w into each H x W plane, as in torch).

    y[n, c, indices[n, c, i, j]] = x[n, c, i, j]   (zeros elsewhere)
    dL/dx[n, c, i, j] = dL/dy[n, c, indices[n, c, i, j]]

Output size per axis (torch's): (H_in - 1) * stride - 2 padding + kernel, or
``output_size`` when it lies within one stride of that.
"""
import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from ..utils import check_4d, pair, unwrap
from .pooling import plane_offsets

__all__ = ["max_unpool2d"]


# =========================================================================== the definition, as loops
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


# =========================================================================== the Function
class MaxUnpool2d(Function):
    """y = zeros with y[n, c, indices[n,c,i,j]] = x[n,c,i,j].   dL/dx[n,c,i,j] = dL/dy[n, c, indices[n,c,i,j]]."""

    def forward(self, x, indices, out_size):
        xp = get_array_module(x)
        N, C = x.shape[:2]
        oH, oW = out_size
        self.flat = (indices + plane_offsets(xp, N, C, oH * oW)).reshape(-1)
        self.input_shape = x.shape
        y = xp.zeros(N * C * oH * oW, dtype=x.dtype)
        y[self.flat] = x.reshape(-1)
        return y.reshape(N, C, oH, oW)

    def backward(self, grad):
        return grad.reshape(-1)[self.flat].reshape(self.input_shape), None


# =========================================================================== user functions
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max pooling: scatter ``input`` to the positions ``indices`` (zeros elsewhere).

    As ``torch.nn.functional.max_unpool2d``; ``indices`` come from
    ``max_pool2d(..., return_indices=True)``. ``output_size`` resolves the
    ambiguity when the pooled input size was not a multiple of the stride.
    """
    op = "max_unpool2d"
    check_4d(op, input)
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    if min(stride) <= 0:
        raise ValueError(f"{op}: stride should be greater than zero, but got stride={stride}")
    idx = unwrap(indices)
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


# =========================================================================== argument checks
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
