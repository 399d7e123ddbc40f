"""Bottleneck Attention Module (BAM).

Park, Woo, Lee, Kweon, "BAM: Bottleneck Attention Module", BMVC 2018.

BAM computes a channel branch and a spatial branch *in parallel* from the
same input x (N, C, H, W), combines them into one attention tensor
M(x) (N, C, H, W), and refines x residually:

    channel  Mc = W1 relu(BN(W0 GAP(x) + b0)) + b1                       (N, C, 1, 1)
    spatial  Ms = conv1x1( [relu(BN(conv3x3_d(.)))] x 2 ( relu(BN(conv1x1(x))) ) )   (N, 1, H, W)
             first 1x1: C -> C/r; two 3x3 convs dilated by d = 4 (padding d); last 1x1: C/r -> 1
    combine  M  = sigmoid(Mc + Ms)      ("sum": the paper [Park et al., 2018])
             M  = sigmoid(Mc * Ms)      ("product": the official code and the article's snippet)
    output   y  = x + x * M = (1 + M) * x

Mc and Ms are broadcast to (N, C, H, W) before they are combined. Why the
paper chose the sum: dM/dMc does not depend on
Ms, so each branch's gradient does not depend on the other branch's value.
``combine="sum"`` is the default; ``combine="product"`` gives the article's
module.

Layers, batch-norm positions (after the hidden layers, not at the branch
outputs as the paper's equations put them) and attribute names follow the
article "Attention in Vision" [BobMcDear, 2022] (docs/bibliography.md), so its
state_dicts load; the article's two dilated
convolutions are two *distinct* layers here (``layers.0`` and ``layers.3``).

``last_attention`` (detached, last forward): ``BAM``: M (N, C, H, W) after the
sigmoid; ``BAMChannelAttention``: Mc (N, C, 1, 1) and ``BAMSpatialAttention``:
Ms (N, 1, H, W), both before any sigmoid.

Batch norm on the pooled (N, C/r, 1, 1) tensor needs N >= 2 in training mode.
"""
from ...utils import check_positive_ints
from ..containers import Sequential
from ..conv import Conv2d
from ..layers import ReLU, Sigmoid
from ..normalization import BatchNorm2d
from ..pooling import AdaptiveAvgPool2d
from ._common import check_input, reduced_dim
from .base import AttentionModule

__all__ = ["BAMChannelAttention", "BAMSpatialAttention", "BAM"]


class BAMChannelAttention(AttentionModule):
    """BAM's channel branch: Mc = W1 relu(BN(W0 GAP(x) + b0)) + b1 (no sigmoid), shape (N, C, 1, 1).

    Args:
        in_dim: number of input channels C.
        reduction_factor: r; the hidden layer has C // r channels (default 16).
    """

    def __init__(self, in_dim, reduction_factor=16):
        super().__init__()
        bottleneck_dim = reduced_dim(f"BAMChannelAttention(in_dim={in_dim})", in_dim, reduction_factor)
        self.in_dim, self.reduction_factor = in_dim, reduction_factor
        self.avg_pool = AdaptiveAvgPool2d(output_size=1)
        self.mlp = Sequential(
            Conv2d(in_dim, bottleneck_dim, kernel_size=1),
            BatchNorm2d(bottleneck_dim),
            ReLU(),
            Conv2d(bottleneck_dim, in_dim, kernel_size=1),
        )

    def forward(self, x):
        check_input(self, x, self.in_dim)
        attention = self.mlp(self.avg_pool(x))
        self.keep_attention(attention)
        return attention

    def extra_repr(self):
        return f"in_dim={self.in_dim}, reduction_factor={self.reduction_factor}"


class BAMSpatialAttention(AttentionModule):
    """BAM's spatial branch (no sigmoid), shape (N, 1, H, W).

    1x1 conv C -> C/r, BN, ReLU; twice [3x3 conv dilated by ``dilation``, BN, ReLU];
    1x1 conv C/r -> 1. Padding equal to the dilation keeps H and W.

    Args:
        in_dim: number of input channels C.
        reduction_factor: r (default 16).
        dilation: dilation of the two 3x3 convolutions (default 4).
    """

    def __init__(self, in_dim, reduction_factor=16, dilation=4):
        super().__init__()
        name = f"BAMSpatialAttention(in_dim={in_dim})"
        bottleneck_dim = reduced_dim(name, in_dim, reduction_factor)
        check_positive_ints(name, dilation=dilation)
        self.in_dim, self.reduction_factor, self.dilation = in_dim, reduction_factor, dilation
        self.reduce_1 = Sequential(
            Conv2d(in_dim, bottleneck_dim, kernel_size=1),
            BatchNorm2d(bottleneck_dim),
            ReLU(),
        )
        self.layers = Sequential(
            Conv2d(bottleneck_dim, bottleneck_dim, kernel_size=3, padding=dilation, dilation=dilation),
            BatchNorm2d(bottleneck_dim),
            ReLU(),
            Conv2d(bottleneck_dim, bottleneck_dim, kernel_size=3, padding=dilation, dilation=dilation),
            BatchNorm2d(bottleneck_dim),
            ReLU(),
        )
        self.reduce_2 = Conv2d(bottleneck_dim, 1, kernel_size=1)

    def forward(self, x):
        check_input(self, x, self.in_dim)
        attention = self.reduce_2(self.layers(self.reduce_1(x)))
        self.keep_attention(attention)
        return attention

    def extra_repr(self):
        return f"in_dim={self.in_dim}, reduction_factor={self.reduction_factor}, dilation={self.dilation}"


class BAM(AttentionModule):
    """Bottleneck attention module: y = (1 + sigmoid(Mc (+ or *) Ms)) * x.

    Args:
        in_dim: number of input channels C.
        reduction_factor: r of both branches (default 16).
        dilation: dilation of the spatial branch's 3x3 convolutions (default 4).
        combine: ``"sum"`` (the paper and notes, default) or ``"product"`` (the official
            code and the article) to merge the broadcast branch outputs before the sigmoid.
    """

    COMBINES = ("sum", "product")

    def __init__(self, in_dim, reduction_factor=16, dilation=4, combine="sum"):
        super().__init__()
        if combine not in self.COMBINES:
            raise ValueError(f"BAM: combine must be one of {self.COMBINES}, got {combine!r}")
        self.in_dim, self.combine = in_dim, combine
        self.channel_attention = BAMChannelAttention(in_dim, reduction_factor)
        self.spatial_attention = BAMSpatialAttention(in_dim, reduction_factor, dilation)
        self.sigmoid = Sigmoid()

    def forward(self, x):
        check_input(self, x, self.in_dim)
        channel_attention = self.channel_attention(x)     # Mc: (N, C, 1, 1)
        spatial_attention = self.spatial_attention(x)     # Ms: (N, 1, H, W)
        if self.combine == "sum":
            attention = channel_attention + spatial_attention   # broadcast to (N, C, H, W)
        else:
            attention = channel_attention * spatial_attention
        attention = self.sigmoid(attention)
        self.keep_attention(attention)
        return (attention + 1) * x

    def extra_repr(self):
        return f"in_dim={self.in_dim}, combine={self.combine!r}"
