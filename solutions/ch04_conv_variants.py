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
    # BEGIN SOLUTION 4.1
    n = len(kernel_sizes)
    dilations = [1] * n if dilations is None else list(dilations)
    strides = [1] * n if strides is None else list(strides)
    if not len(dilations) == len(strides) == n:
        raise ValueError(f"receptive_fields: {n} kernel sizes, {len(dilations)} dilations and "
                         f"{len(strides)} strides; give one of each per layer")
    field, jump, fields = 1, 1, []
    for k, d, s in zip(kernel_sizes, dilations, strides):
        field += (k - 1) * d * jump
        jump *= s
        fields.append(field)
    return fields
    # END SOLUTION


def dilate_kernel(weight, dilation):
    """The kernel of a dilated convolution, written out as an ordinary (larger, holey) kernel.

    ``weight`` (C_out, C_in, k, k) becomes (C_out, C_in, K, K) with
    K = dilation (k - 1) + 1: the taps sit ``dilation`` apart, zeros between:

        out[:, :, u * dilation, v * dilation] = weight[:, :, u, v]

    so that conv2d(x, dilate_kernel(w, d)) == conv2d(x, w, dilation=d): a
    dilated ("a trous") convolution sees a wider window with the same
    number of weights. Raw arrays, any backend.
    """
    # BEGIN SOLUTION 4.2
    xp = get_array_module(weight)
    c_out, c_in, k, _ = weight.shape
    span = dilation * (k - 1) + 1
    out = xp.zeros((c_out, c_in, span, span), dtype=weight.dtype)
    out[:, :, ::dilation, ::dilation] = weight
    return out
    # END SOLUTION


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
    # BEGIN SOLUTION 4.3
    xp = get_array_module(x)
    n, _, h, w = x.shape
    _, c_out, k, _ = weight.shape
    s = stride
    full = xp.zeros((n, c_out, (h - 1) * s + k, (w - 1) * s + k), dtype=x.dtype)
    for u in range(k):
        for v in range(k):
            full[:, :, u:u + s * (h - 1) + 1:s, v:v + s * (w - 1) + 1:s] += \
                xp.einsum("nchw,co->nohw", x, weight[:, :, u, v])
    out = full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1, 1)
    return xp.ascontiguousarray(out)
    # END SOLUTION


def separable_conv2d(x, depthwise_weight, pointwise_weight, padding=0):
    """A depthwise separable convolution, on Tensors (autograd does the backward):

        depthwise: one k x k filter per input channel     F.conv2d(..., groups=C_in), weight (C_in, 1, k, k)
        pointwise: a 1 x 1 convolution mixing channels    weight (C_out, C_in, 1, 1)

    No biases. ``padding`` applies to the depthwise step.
    """
    # BEGIN SOLUTION 4.4
    c_in = x.shape[1]
    depthwise = F.conv2d(x, depthwise_weight, padding=padding, groups=c_in)
    return F.conv2d(depthwise, pointwise_weight)
    # END SOLUTION


def conv_multiplications(kernel_size, in_channels, out_channels, out_height, out_width, separable=False):
    """Multiplications (multiply-accumulates) of one conv layer for one image, bias not counted.

        standard:   k^2 C_in C_out H_out W_out        every output value is a k x k x C_in dot product
        separable:  k^2 C_in H_out W_out  +  C_in C_out H_out W_out      depthwise + pointwise

    (The notes' example: k = 5, C_in = 1, C_out = 256, an 8 x 8 output: 409,600 vs 17,984.)
    """
    # BEGIN SOLUTION 4.4
    pixels = out_height * out_width
    if separable:
        return kernel_size ** 2 * in_channels * pixels + in_channels * out_channels * pixels
    return kernel_size ** 2 * in_channels * out_channels * pixels
    # END SOLUTION


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
    # BEGIN SOLUTION 4.5
    xp = x.xp
    n, _, height, width = x.shape
    rows = xp.linspace(-1.0, 1.0, height) if height > 1 else xp.zeros(1)
    cols = xp.linspace(-1.0, 1.0, width) if width > 1 else xp.zeros(1)
    i = xp.broadcast_to(rows.reshape(1, 1, height, 1), (n, 1, height, width)).astype(x.dtype)
    j = xp.broadcast_to(cols.reshape(1, 1, 1, width), (n, 1, height, width)).astype(x.dtype)
    channels = [x, minicnn.Tensor(i), minicnn.Tensor(j)]
    if with_r:
        channels.append(minicnn.Tensor(xp.sqrt(i ** 2 + j ** 2)))
    return minicnn.cat(channels, dim=1)
    # END SOLUTION
