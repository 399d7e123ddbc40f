"""The context module of Yu & Koltun: stacked dilated convolutions with exponentially growing dilation.

Yu & Koltun, "Multi-Scale Context Aggregation by Dilated Convolutions",
ICLR 2016 ([Yu & Koltun, 2016] in docs/bibliography.md).

The l-dilated convolution of a map F with a (2r+1) x (2r+1) filter k reads
every l-th pixel:

    (F *_l k)(p) = sum over t in [-r, r]^2 of F(p - l t) k(t)

(l = 1 is the ordinary convolution; the "algorithme à trous" of wavelet
decompositions). Stacking 3x3 convolutions with dilations 1, 2, 4, ...,
F_{i+1} = F_i *_{2^i} k_i, gives each element of F_{i+1} a receptive field
of (2^{i+2} - 1) x (2^{i+2} - 1): exponential growth, with the number of
parameters growing only linearly, and without losing resolution or coverage
(no holes: every input pixel of the square is reached).

The context module is such a stack on top of a segmentation network's C
class-score maps, same size in and out, so it can be plugged in anywhere:

    layer            1    2    3    4    5    6    7    8
    convolution     3x3  3x3  3x3  3x3  3x3  3x3  3x3  1x1
    dilation         1    1    2    4    8   16    1    1
    ReLU            yes  yes  yes  yes  yes  yes  yes  no
    receptive field  3    5    9   17   33   65   67   67
    channels, basic  C    C    C    C    C    C    C    C
    channels, large 2C   2C   4C   8C  16C  32C  32C    C

:func:`receptive_field` computes the last row from the kernel sizes and
dilations: r_l = r_{l-1} + (k_l - 1) d_l (all strides 1).

**Identity initialisation.** Random initialisation did not train well; the
paper initialises every layer to pass its input through unchanged:

* basic:  k^b(t, a) = 1[t = 0] 1[a = b]   (the centre tap of filter b reads input channel a = b);
* large:  k^b(t, a) = C / c_{i+1}  if t = 0 and floor(a C / c_i) = floor(b C / c_{i+1}),
                      eps ~ N(0, sigma^2) otherwise, sigma << C / c_{i+1},

  c_i, c_{i+1} the channels of consecutive layers. Widening C -> 2C copies each
  channel twice at half the value; the last 1x1 layer sums the copies back, so
  the module starts as the identity on non-negative inputs (the ReLUs pass
  those). Biases start at 0.

Padding: each 3x3 layer pads by its dilation, so the size is kept (zero
padding by default; ``padding_mode="reflect"`` pads by reflection, as the paper's
front end pads its input images, and needs maps larger than 16 pixels).
"""
import numpy as np

from .. import functional as F
from .. import init
from ..backend import to_backend
from ..nn.containers import ModuleList
from ..nn.conv import Conv2d
from ..nn.module import Module

__all__ = ["ContextModule", "receptive_field", "context_channels", "identity_init_", "CONTEXT_DILATIONS",
           "CONTEXT_KERNELS"]

CONTEXT_DILATIONS = (1, 1, 2, 4, 8, 16, 1, 1)
CONTEXT_KERNELS = (3, 3, 3, 3, 3, 3, 3, 1)


def receptive_field(kernel_sizes, dilations=None, strides=None):
    """Receptive-field sizes after each layer of a stack of convolutions (one axis).

        r_0 = 1,   r_l = r_{l-1} + (k_l - 1) d_l j_{l-1},   j_l = j_{l-1} s_l,   j_0 = 1

    (a k-tap filter with dilation d spans d (k - 1) + 1 positions of its input,
    whose neighbouring positions are j_{l-1} input pixels apart). Returns a list,
    one size per layer; for the context module: [3, 5, 9, 17, 33, 65, 67, 67].
    """
    n = len(kernel_sizes)
    dilations = [1] * n if dilations is None else list(dilations)
    strides = [1] * n if strides is None else list(strides)
    if len(dilations) != n or len(strides) != n:
        raise ValueError(f"receptive_field: expected {n} dilations and strides (one per kernel), got "
                         f"{len(dilations)} and {len(strides)}")
    sizes, r, jump = [], 1, 1
    for k, d, s in zip(kernel_sizes, dilations, strides):
        r += (k - 1) * d * jump
        jump *= s
        sizes.append(r)
    return sizes


def context_channels(channels, variant="basic"):
    """Output channels of the 8 layers: all C (basic) or 2C, 2C, 4C, 8C, 16C, 32C, 32C, C (large)."""
    if variant == "basic":
        return [channels] * 8
    if variant == "large":
        return [m * channels for m in (2, 2, 4, 8, 16, 32, 32, 1)]
    raise ValueError(f"ContextModule: variant must be 'basic' or 'large', got {variant!r}")


def identity_init_(conv, base_channels, std=0.0):
    """The paper's identity initialisation of one layer (see the module docstring).

    ``weight[b, a, centre] = C / c_out`` where floor(a C / c_in) == floor(b C / c_out), and
    N(0, std^2) noise everywhere else (``std=0``: exact zeros, the basic module's rule); bias 0.
    """
    c_out, c_in, kh, kw = conv.weight.shape
    C = base_channels
    weight = np.zeros((c_out, c_in, kh, kw))
    if std > 0:
        init.normal_(conv.weight, 0.0, std)
        weight = np.array(conv.weight.numpy(), dtype=np.float64)
    a = np.arange(c_in)
    b = np.arange(c_out)
    same_group = (a[None, :] * C) // c_in == (b[:, None] * C) // c_out          # (c_out, c_in)
    centre = weight[:, :, kh // 2, kw // 2]
    weight[:, :, kh // 2, kw // 2] = np.where(same_group, C / c_out, centre)
    conv.weight.data = to_backend(weight.astype(conv.weight.dtype), conv.weight.backend)
    if conv.bias is not None:
        init.zeros_(conv.bias)
    return conv


class ContextModule(Module):
    """Yu & Koltun's context module: C maps in, C maps out, receptive field 67x67.

    Args:
        channels: C, the number of input (and output) maps (the paper: 21 class scores).
        variant: ``"basic"`` (C channels throughout) or ``"large"`` (up to 32 C channels).
        identity_init: the paper's identity initialisation (else PyTorch's default of Conv2d).
        init_std: sigma of the noise of the large module's identity initialisation (paper: sigma << C / c).
        dilations: dilations of the eight layers (default 1, 1, 2, 4, 8, 16, 1, 1).
        padding_mode: of the 3x3 convolutions (``"zeros"`` or ``"reflect"``).
    """

    def __init__(self, channels, variant="basic", identity_init=True, init_std=1e-3,
                 dilations=CONTEXT_DILATIONS, padding_mode="zeros"):
        super().__init__()
        if len(dilations) != 8:
            raise ValueError(f"ContextModule: expected 8 dilations (one per layer), got {dilations!r}")
        self.channels, self.variant, self.dilations = channels, variant, tuple(dilations)
        widths = context_channels(channels, variant)
        layers, c_in = [], channels
        for k, d, c_out in zip(CONTEXT_KERNELS, self.dilations, widths):
            conv = Conv2d(c_in, c_out, k, padding=d * (k // 2), dilation=d, padding_mode=padding_mode)
            if identity_init:
                identity_init_(conv, channels, std=0.0 if variant == "basic" else init_std)
            layers.append(conv)
            c_in = c_out
        self.layers = ModuleList(layers)

    def receptive_fields(self):
        """The receptive field after each layer: [3, 5, 9, 17, 33, 65, 67, 67] by default."""
        return receptive_field(CONTEXT_KERNELS, self.dilations)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"ContextModule: expected input of shape (N, {self.channels}, H, W), got "
                             f"{tuple(x.shape)}")
        for conv in self.layers[:-1]:
            x = F.relu(conv(x))
        return self.layers[-1](x)                 # layer 8: 1x1, no ReLU

    def extra_repr(self):
        return f"channels={self.channels}, variant={self.variant!r}"
