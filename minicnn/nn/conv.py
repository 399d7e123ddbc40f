"""Convolution layers, named and initialised as in ``torch.nn``.

* :class:`Conv1d`, :class:`Conv2d`: weight (C_out, C_in / groups, *kernel), bias (C_out,).
* :class:`ConvTranspose2d`: weight (C_in, C_out / groups, kH, kW) (torch's layout), the "up-conv".
* :class:`SeparableConv2d`: a depthwise conv then a pointwise (1x1) conv (Chollet, "Xception", 2017).
* :class:`AddCoords` and :class:`CoordConv2d`: coordinate channels then a conv (Liu et al.,
  "An intriguing failing of convolutional neural networks and the CoordConv solution", 2018).

Initialisation (torch's ``_ConvNd.reset_parameters``): ``kaiming_uniform_(W, a=sqrt(5))``, i.e.
W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with
fan_in = weight.shape[1] * kH * kW. (For a transposed conv torch computes it from the same axis,
which there is C_out / groups: we do the same, so that the distributions match.)

The layers compose the functions of :mod:`minicnn.functional`; only those
have hand-written backward passes.
"""
import math

from .. import functional as F
from .. import init
from ..backend import get_array_module
from ..utils import check_positive_ints, conv_transpose_output_size, ntuple, padding_pairs
from ..tensor import Tensor
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose2d", "SeparableConv2d", "AddCoords", "CoordConv2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _empty(*shape):
    import numpy as np
    return Tensor(np.zeros(shape, dtype=np.float32))


class _ConvNd(Module):
    """What Conv1d, Conv2d and ConvTranspose2d share: arguments, parameters, initialisation, repr."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                 padding_mode, transposed, output_padding, dims):
        super().__init__()
        name = type(self).__name__
        # The checks torch's _ConvNd makes at construction (the weight's shape needs them); the rest
        # of the validation is the functional op's, at the first forward.
        check_positive_ints(name, groups=groups)
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} must be divisible by groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels={out_channels} must be divisible by groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, dims, "kernel_size", name)
        self.stride = ntuple(stride, dims, "stride", name)
        self.dilation = ntuple(dilation, dims, "dilation", name)
        if any(v <= 0 for v in self.kernel_size + self.stride + self.dilation):
            raise ValueError(f"{name}: kernel_size, stride and dilation must be positive, got "
                             f"kernel_size={kernel_size}, stride={stride}, dilation={dilation}")
        if isinstance(padding, str):  # 'same'/'valid', and 'same' needs stride 1: the functional op's rule
            padding_pairs(padding, self.kernel_size, self.stride, self.dilation, dims, name)
        self.padding = padding if isinstance(padding, str) else ntuple(padding, dims, "padding", name)
        self.output_padding = ntuple(output_padding, dims, "output_padding", name)
        self.groups, self.padding_mode, self.transposed = groups, padding_mode, transposed
        if transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(_empty(*shape))
        self.bias = Parameter(_empty(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _padding_for_pad(self):
        """torch's ``_reversed_padding_repeated_twice``: F.pad's order (last axis first, both sides)."""
        pairs = padding_pairs(self.padding, self.kernel_size, self.stride, self.dilation, len(self.kernel_size),
                              type(self).__name__)
        return tuple(p for pair in reversed(pairs) for p in pair)

    def _pad_input(self, x):
        """For padding_mode other than 'zeros': pad with F.pad first, then convolve with padding 0."""
        return F.pad(x, self._padding_for_pad(), mode=self.padding_mode)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L): out[n, f, i] = b[f] + sum_{c,u} W[f, c, u] x_pad[n, c, i*s + u*d]."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, transposed=False, output_padding=0, dims=1)

    def forward(self, input):
        if self.padding_mode != "zeros":
            return F.conv1d(self._pad_input(input), self.weight, self.bias, self.stride, 0, self.dilation,
                            self.groups)
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C_in, H, W) (see :func:`minicnn.functional.conv2d` for the equation)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, transposed=False, output_padding=0, dims=2)

    def forward(self, input):
        if self.padding_mode != "zeros":
            return F.conv2d(self._pad_input(input), self.weight, self.bias, self.stride, 0, self.dilation,
                            self.groups)
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed 2-D convolution (see :func:`minicnn.functional.conv_transpose2d`), e.g. U-Net's
    2x2 up-conv ``ConvTranspose2d(C, C // 2, kernel_size=2, stride=2)`` that doubles H and W.

    ``forward(input, output_size=None)``: as in torch, ``output_size`` ((H, W), or a full shape)
    chooses the output_padding that gives exactly that size.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros"):
        if padding_mode != "zeros":
            raise ValueError(f'ConvTranspose2d: only "zeros" padding_mode is supported, got {padding_mode!r}')
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, transposed=True, output_padding=output_padding, dims=2)

    def _output_padding(self, input, output_size):
        """The output_padding that turns the smallest output size into ``output_size`` (torch's rule)."""
        if output_size is None:
            return self.output_padding
        output_size = tuple(output_size)[-2:]
        pads = []
        for d in range(2):
            smallest = conv_transpose_output_size(input.shape[d + 2], self.kernel_size[d], self.stride[d],
                                                  self.padding[d], self.dilation[d])
            largest = smallest + self.stride[d] - 1
            if not smallest <= output_size[d] <= largest:
                raise ValueError(f"ConvTranspose2d: requested an output size of {output_size}, but valid "
                                 f"sizes for an input of shape {tuple(input.shape)} range from "
                                 f"{smallest} to {largest} along axis {d + 2}")
            pads.append(output_size[d] - smallest)
        return tuple(pads)

    def forward(self, input, output_size=None):
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  self._output_padding(input, output_size), self.groups, self.dilation)


class SeparableConv2d(Module):
    """A depthwise-separable convolution: a k x k conv per channel, then a 1x1 conv mixing channels.

        depthwise:  Conv2d(C_in, C_in, k, stride, padding, dilation, groups=C_in)   C_in * k * k weights
        pointwise:  Conv2d(C_in, C_out, 1)                                         C_in * C_out weights

    instead of C_in * C_out * k * k weights for a full conv; multiply-accumulates per output
    pixel drop from C_in * C_out * k^2 to C_in * k^2 + C_in * C_out (e.g. 409,600 vs 17,984
    for a 5x5 conv from 1 to 256 channels on an 8x8 output; see ``minicnn.summary``; the count
    is that of MobileNets, [Howard et al., 2017] in docs/bibliography.md).
    ``bias`` applies to both convolutions, as in the common PyTorch implementations of Xception
    (the depthwise bias is mathematically redundant: the pointwise conv could absorb it).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__()
        self.depthwise = Conv2d(in_channels, in_channels, kernel_size, stride=stride, padding=padding,
                                dilation=dilation, groups=in_channels, bias=bias)
        self.pointwise = Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


def coordinate_channels(xp, n, height, width, dtype, with_r=False):
    """The constant CoordConv channels (N, 2 or 3, H, W), order [I, J, (R)]:

        I[h, w] = 2 h / (H - 1) - 1     (varies along H, from -1 at the top to +1 at the bottom)
        J[h, w] = 2 w / (W - 1) - 1     (varies along W, from -1 at the left to +1 at the right)
        R[h, w] = sqrt(I^2 + J^2)       (distance from the centre, in [0, sqrt 2])

    An axis of length 1 gets the coordinate 0 (its centre) instead of dividing by zero.
    """
    rows = xp.linspace(-1.0, 1.0, height) if height > 1 else xp.zeros(1)
    cols = xp.linspace(-1.0, 1.0, width) if width > 1 else xp.zeros(1)
    i_channel = xp.broadcast_to(rows.reshape(1, 1, height, 1), (n, 1, height, width))
    j_channel = xp.broadcast_to(cols.reshape(1, 1, 1, width), (n, 1, height, width))
    channels = [i_channel, j_channel]
    if with_r:
        channels.append(xp.sqrt(i_channel ** 2 + j_channel ** 2))
    return xp.concatenate(channels, axis=1).astype(dtype)


class AddCoords(Module):
    """Concatenate coordinate channels to the input: (N, C, H, W) -> (N, C + 2 (+1), H, W), order
    [x, I, J, (R)] (see :func:`coordinate_channels`). No parameters; the gradient of x is the first
    C channels of the incoming gradient (the coordinates are constants).

    Differences from public codes: the official TensorFlow ``AddCoords`` scales each coordinate
    by the length of the *other* axis (wrong ranges for non-square inputs) and a popular PyTorch
    port handles square inputs only and offsets R by 0.5; here each axis is scaled by its own
    length, so every coordinate channel spans exactly [-1, 1].
    """

    def __init__(self, with_r=False):
        super().__init__()
        self.with_r = with_r

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"AddCoords: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
        n, _, height, width = x.shape
        xp = get_array_module(x)
        coords = coordinate_channels(xp, n, height, width, x.dtype, self.with_r)
        return F.cat([x, Tensor._from_op(coords)], dim=1)

    def extra_repr(self):
        return f"with_r={self.with_r}"


class CoordConv2d(Module):
    """CoordConv: :class:`AddCoords` then ``Conv2d(in_channels + 2 (+1 with_r), out_channels, ...)``.

    With the weights on the coordinate channels at zero it is an ordinary
    (translation-invariant) conv; learning them lets the layer know *where*
    it is. Used as the first layer(s) of a network in the paper.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", with_r=False):
        super().__init__()
        self.add_coords = AddCoords(with_r)
        self.conv = Conv2d(in_channels + 2 + int(with_r), out_channels, kernel_size, stride=stride,
                           padding=padding, dilation=dilation, groups=groups, bias=bias,
                           padding_mode=padding_mode)

    def forward(self, x):
        return self.conv(self.add_coords(x))
