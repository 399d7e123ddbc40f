# GENERATED from solutions/ch04_conv_variants.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 4.1 4.2 4.3 4.4 4.5`.
"""Exercises of notebook 4: receptive fields, dilated, transposed, separable and coordinate convs.

Grade with ``minicnn grade 4``.
"""
import minicnn
from minicnn import functional as F
from minicnn.backend import get_array_module


def receptive_fields(kernel_sizes, dilations=None, strides=None):
    """The receptive field (in input pixels, along one axis) after each layer of a stack of convs.

    The receptive field of an output element is the set of input elements
    that can change it. Layer l (kernel k_l, dilation d_l, stride s_l) widens
    it by (k_l - 1) d_l steps of the previous layers' accumulated stride (the
    "jump" j, the distance in input pixels between two neighbouring entries):

        r_0 = 1,  j_0 = 1
        r_l = r_{l-1} + (k_l - 1) d_l j_{l-1}
        j_l = j_{l-1} s_l

    ``dilations`` and ``strides`` default to all ones. Returns ``[r_1, ..., r_L]``.
    Yu & Koltun's context module (kernels 3 x 7 then 1, dilations 1, 1, 2, 4, 8,
    16, 1, 1) gives 3, 5, 9, 17, 33, 65, 67, 67: exponential growth of the
    receptive field with a linear number of parameters.
    """
    # Exercise 4.1: your code here.
    raise NotImplementedError('Exercise 4.1: the receptive field of a stack of convolutions. Hint: r_l = r_{l-1} + (k_l - 1) d_l j_{l-1}, with the jump j_l = j_{l-1} s_l')


def dilate_kernel(weight, dilation):
    """The kernel of a dilated convolution, written out as an ordinary (larger, holey) kernel.

    ``weight`` (C_out, C_in, k, k) becomes (C_out, C_in, K, K) with
    K = dilation (k - 1) + 1: the taps sit ``dilation`` apart, zeros between:

        out[:, :, u * dilation, v * dilation] = weight[:, :, u, v]

    so that conv2d(x, dilate_kernel(w, d)) == conv2d(x, w, dilation=d): a
    dilated ("a trous") convolution sees a wider window with the same
    number of weights. Raw arrays, any backend.
    """
    # Exercise 4.2: your code here.
    raise NotImplementedError('Exercise 4.2: a dilated kernel: the filter with holes. Hint: the dilated kernel has size d (k - 1) + 1; write w into every d-th entry')


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0):
    """The transposed convolution (the "up-conv" of U-Net), forward, on raw arrays.

    ``x``: (N, C_in, H, W); ``weight``: (C_in, C_out, k, k) (torch's layout for
    ConvTranspose2d: input channels first); ``bias``: (C_out,) or None.

    Every input pixel *paints* a k x k block of the output, scaled by its value
    and mixed over channels, at stride ``stride``; overlapping blocks add up:

        full[n, o, i s + u, j s + v] += sum_c x[n, c, i, j] W[c, o, u, v]
        full has size (H - 1) s + k; out = full with ``padding`` cropped on every side

    so out has size (H - 1) s - 2 padding + k. It is the adjoint of conv2d
    (the gradient of a conv2d with respect to its input), which is why it
    undoes a strided conv's downsampling. Loop over the kernel offsets (u, v);
    for a fixed offset, the channel mix of all pixels is one
    ``xp.einsum("nchw,co->nohw", x, weight[:, :, u, v])`` (or a tensordot).
    """
    # Exercise 4.3: your code here.
    raise NotImplementedError('Exercise 4.3: the transposed convolution (the up-conv), forward. Hint: for each kernel offset (u, v): out[:, :, u::s, v::s] += the channel mix of x by weight[:, :, u, v]')


def separable_conv2d(x, depthwise_weight, pointwise_weight, padding=0):
    """A depthwise separable convolution, on Tensors (autograd does the backward):

        depthwise: one k x k filter per input channel     F.conv2d(..., groups=C_in), weight (C_in, 1, k, k)
        pointwise: a 1 x 1 convolution mixing channels    weight (C_out, C_in, 1, 1)

    No biases. ``padding`` applies to the depthwise step.
    """
    # Exercise 4.4: your code here.
    raise NotImplementedError('Exercise 4.4: a depthwise separable convolution and its cost. Hint: depthwise: F.conv2d with groups = C_in; pointwise: a 1x1 F.conv2d')


def conv_multiplications(kernel_size, in_channels, out_channels, out_height, out_width, separable=False):
    """Multiplications (multiply-accumulates) of one conv layer for one image, bias not counted.

        standard:   k^2 C_in C_out H_out W_out        every output value is a k x k x C_in dot product
        separable:  k^2 C_in H_out W_out  +  C_in C_out H_out W_out      depthwise + pointwise

    (The notes' example: k = 5, C_in = 1, C_out = 256, an 8 x 8 output: 409,600 vs 17,984.)
    """
    # Exercise 4.4: your code here.
    raise NotImplementedError('Exercise 4.4: a depthwise separable convolution and its cost. Hint: depthwise: F.conv2d with groups = C_in; pointwise: a 1x1 F.conv2d')


def add_coords(x, with_r=False):
    """CoordConv's input (Liu et al., NeurIPS 2018): ``x`` (N, C, H, W) with coordinate channels appended,

        I[h, w] = 2 h / (H - 1) - 1          varies along H, from -1 (top) to 1 (bottom)
        J[h, w] = 2 w / (W - 1) - 1          varies along W, from -1 (left) to 1 (right)
        R = sqrt(I^2 + J^2)                  only when ``with_r``

    concatenated in the order [x, I, J, (R)] on axis 1. An axis of length 1
    gets the coordinate 0. The coordinates are constants (no gradient); x's
    gradient is the first C channels of the incoming one, which
    ``minicnn.cat`` does for you. The coordinates have x's dtype and backend.
    """
    # Exercise 4.5: your code here.
    raise NotImplementedError("Exercise 4.5: CoordConv's coordinate channels. Hint: i varies along H, j along W, both linearly from -1 to 1; concatenate [x, i, j] on axis 1")
