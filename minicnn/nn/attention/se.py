"""Squeeze-and-Excitation (SE) and the three SE variants of the ECA paper.

SE (Hu, Shen, Albanie, Sun, Wu, "Squeeze-and-Excitation Networks", CVPR 2018)
reweights the channels of a feature map ``x`` of shape (N, C, H, W):

    squeeze     z_c = 1/(HW) sum_{h,w} x_{c,h,w}             global average pooling, z: (N, C)
    excitation  a   = sigmoid(W2 relu(W1 z + b1) + b2)        W1: (C/r, C), W2: (C, C/r)
    scale       y_{c,h,w} = a_c x_{c,h,w}

The bottleneck (reduction factor r = 16) keeps the MLP cheap. The weights are
1x1 convolutions (the same as Linear layers on a 1x1 map), with biases, as in
the article "Attention in Vision" [BobMcDear, 2022] (docs/bibliography.md), so its
modules' state_dicts load
directly: ``excitation.0.weight`` is W1 with shape (C/r, C, 1, 1).

The ECA paper (Wang et al., CVPR 2020, Table 2) ablates the bottleneck with
three variants that differ only in the excitation:

    SE-Var1   a = sigmoid(z)                 no parameters
    SE-Var2   a = sigmoid(w * z + b)         one weight per channel (a depthwise 1x1 conv)
    SE-Var3   a = sigmoid(W z + b)           a full C x C layer, no reduction

The paper writes the variants without a bias; the article's code (our
default) keeps PyTorch's default ``bias=True``; pass ``bias=False`` for the
paper's form.

Every module here stores its channel weights ``a`` of the last forward pass,
detached, with shape (N, C, 1, 1), on ``self.last_attention``.

The backward pass comes from autograd. Note that x reaches the output twice,
directly (``a * x``) and through the pooled ``z``, so
dL/dx = a * g + (1/HW) * (the gradient that flows back through a and z).
"""
from ..containers import Sequential
from ..conv import Conv2d
from ..layers import ReLU, Sigmoid
from ..pooling import AdaptiveAvgPool2d
from ._common import check_input, reduced_dim
from .base import AttentionModule

__all__ = ["SE", "SEVar1", "SEVar2", "SEVar3"]


class _ChannelGate(AttentionModule):
    """Shared forward of SE and its variants: y = excitation(squeeze(x)) * x."""

    in_dim = None

    def forward(self, x):
        check_input(self, x, self.in_dim)
        squeezed = self.squeeze(x)                 # z: (N, C, 1, 1)
        attention = self.excitation(squeezed)      # a: (N, C, 1, 1), in (0, 1)
        self.keep_attention(attention)
        return attention * x                       # broadcast over H and W

    def extra_repr(self):
        return "" if self.in_dim is None else f"in_dim={self.in_dim}"


class SE(_ChannelGate):
    """Squeeze-and-excitation: y = sigmoid(W2 relu(W1 GAP(x) + b1) + b2) * x.

    Args:
        in_dim: number of input channels C.
        reduction_factor: r; the hidden layer has C // r channels (default 16).
    """

    def __init__(self, in_dim, reduction_factor=16):
        super().__init__()
        bottleneck_dim = reduced_dim(f"SE(in_dim={in_dim})", in_dim, reduction_factor)
        self.in_dim, self.reduction_factor = in_dim, reduction_factor
        self.squeeze = AdaptiveAvgPool2d(output_size=1)
        self.excitation = Sequential(
            Conv2d(in_dim, bottleneck_dim, kernel_size=1),   # W1, b1
            ReLU(),
            Conv2d(bottleneck_dim, in_dim, kernel_size=1),   # W2, b2
            Sigmoid(),
        )

    def extra_repr(self):
        return f"in_dim={self.in_dim}, reduction_factor={self.reduction_factor}"


class SEVar1(_ChannelGate):
    """SE-Var1 (ECA paper): y = sigmoid(GAP(x)) * x. No parameters, so any number of channels."""

    def __init__(self):
        super().__init__()
        self.squeeze = AdaptiveAvgPool2d(output_size=1)
        self.excitation = Sigmoid()


class SEVar2(_ChannelGate):
    """SE-Var2 (ECA paper): y = sigmoid(w * GAP(x) + b) * x, one weight per channel.

    The per-channel product is a depthwise 1x1 convolution (``groups=in_dim``),
    whose weight has shape (C, 1, 1, 1).
    """

    def __init__(self, in_dim, bias=True):
        super().__init__()
        self.in_dim = in_dim
        self.squeeze = AdaptiveAvgPool2d(output_size=1)
        self.excitation = Sequential(
            Conv2d(in_dim, in_dim, kernel_size=1, groups=in_dim, bias=bias),
            Sigmoid(),
        )


class SEVar3(_ChannelGate):
    """SE-Var3 (ECA paper): y = sigmoid(W GAP(x) + b) * x with a full C x C weight (no bottleneck)."""

    def __init__(self, in_dim, bias=True):
        super().__init__()
        self.in_dim = in_dim
        self.squeeze = AdaptiveAvgPool2d(output_size=1)
        self.excitation = Sequential(
            Conv2d(in_dim, in_dim, kernel_size=1, bias=bias),
            Sigmoid(),
        )
