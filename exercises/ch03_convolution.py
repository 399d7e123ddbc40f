# GENERATED from solutions/ch03_convolution.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 3.1 3.2 3.3 3.4 3.5`.
"""Exercises of notebook 3: convolution as one matrix product (im2col), and its backward.

A convolution layer (a cross-correlation, as in every deep-learning library)
with weight W (C_out, C_in, k, k), bias b, stride s and zero padding p:

    out[n, f, i, j] = b[f] + sum_{c, u, v} W[f, c, u, v] x_pad[n, c, i s + u, j s + v]

im2col copies every window of the padded input into one column of a matrix,

    cols[(c, u, v), (n, i, j)] = x_pad[n, c, i s + u, j s + v]     (C_in k k, N H_out W_out)

so that the whole layer is ONE matrix product, W.reshape(C_out, -1) @ cols,
which BLAS computes far faster than loops (Chellapilla et al. 2006; Caffe).
Rows are ordered (c, u, v), like ``W[f].reshape(-1)``; columns (n, i, j).
This is the layout of ``minicnn.ops.im2col``.

Everything works on raw arrays of any backend (``xp = get_array_module(x)``).
Square kernels, one stride and one padding for both axes, no dilation.

Exercises 3.3 and 3.5 use your earlier functions; they are graded with
minicnn's versions of those, so each exercise is graded on its own.

Grade with ``minicnn grade 3``.
"""
from minicnn.autograd import Function
from minicnn.backend import get_array_module


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length along one axis:

        out = floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1

    ``dilation (kernel_size - 1) + 1`` is the span of the (dilated) kernel.
    Raise ``ValueError`` (saying which sizes) when the kernel does not fit,
    i.e. when ``out < 1``.
    """
    # Exercise 3.1: your code here.
    raise NotImplementedError('Exercise 3.1: the output size of a convolution. Hint: floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1')


def pad(x, padding):
    """Zero-pad the last two axes of ``x`` (N, C, H, W) by ``padding`` on every side."""
    if padding == 0:
        return x
    xp = get_array_module(x)
    n, c, h, w = x.shape
    out = xp.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=x.dtype)
    out[:, :, padding:padding + h, padding:padding + w] = x
    return out


def im2col(x, kernel_size, stride=1, padding=0):
    """The column matrix (C k k, N H_out W_out) of ``x`` (N, C, H, W) (see the module docstring).

    Pad first (:func:`pad`). Loop over the k * k kernel offsets (u, v), never
    over pixels: for a fixed offset, the entries read by all output pixels
    form the strided slice ``x_pad[:, :, u : u + s H_out : s, v : v + s W_out : s]``
    (N, C, H_out, W_out). Put it in the rows (c, u, v) for every c, and the
    columns in the order (n, i, j).
    """
    # Exercise 3.2: your code here.
    raise NotImplementedError('Exercise 3.2: im2col: every window of the padded input as a column. Hint: pad first; loop over the kernel offsets (u, v) and take the strided slice x[:, :, u::s, v::s]')


def conv2d_forward(x, weight, bias=None, stride=1, padding=0):
    """The convolution as one matrix product. Returns ``(out, cols)``:

        cols = im2col(x, k, stride, padding)                    (C_in k k, N H_out W_out)
        out  = W.reshape(C_out, -1) @ cols                      (C_out, N H_out W_out)
             -> reshaped to (C_out, N, H_out, W_out), axes swapped to (N, C_out, H_out, W_out)
             + bias[f] on channel f
    """
    # Exercise 3.3: your code here.
    raise NotImplementedError('Exercise 3.3: conv2d forward as one matrix product. Hint: weight.reshape(C_out, -1) @ cols, then reshape to (N, C_out, H_out, W_out) and add the bias')


def col2im(cols, input_shape, kernel_size, stride=1, padding=0):
    """The adjoint (transpose) of :func:`im2col`: (C k k, N H_out W_out) -> (N, C, H, W).

    Every entry of ``cols`` goes back to the input pixel it was copied from
    and is ADDED there: windows overlap when the kernel is larger than the
    stride, so a pixel collects several entries. Loop over the kernel offsets
    (u, v) as in im2col, adding into the strided slice of a zero padded
    image (for a fixed offset the slice holds no pixel twice, so ``+=`` on it
    is exact); finally crop the padding away.
    """
    # Exercise 3.4: your code here.
    raise NotImplementedError('Exercise 3.4: col2im: the adjoint of im2col. Hint: loop over the kernel offsets as in im2col but ADD the columns into the padded image, then crop')


class Conv2d(Function):
    """A conv2d node for autograd: ``Conv2d.apply(x, weight, bias, stride=1, padding=0)``.

    Backward, with G = dL/d(out) rearranged as (C_out, N H_out W_out) (the
    layout of the forward's matrix product) and W_mat = W.reshape(C_out, -1):

        dL/dW = (G @ cols^T).reshape(W.shape)            the sum over images and pixels is in the matmul
        dL/db = G summed over (n, i, j)
        dL/dx = col2im(W_mat^T @ G, x.shape, k, stride, padding)
    """

    def forward(self, x, weight, bias=None, stride=1, padding=0):
        self.x_shape, self.weight, self.stride, self.padding = x.shape, weight, stride, padding
        out, self.cols = conv2d_forward(x, weight, bias, stride, padding)
        return out

    def backward(self, grad):
        # Exercise 3.5: your code here.
        raise NotImplementedError('Exercise 3.5: conv2d backward: the gradients of input, weight and bias. Hint: grad_w = sum over images of G @ cols^T; grad_x = col2im(W^T @ G); grad_b = G summed over N, H, W')
