"""Convolutional Block Attention Module (CBAM).

Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018.

CBAM refines a feature map x (N, C, H, W) twice, in sequence: first *what*
to look at (channel attention), then *where* (spatial attention):

    channel   Mc = sigmoid(MLP(AvgPool(x)) + MLP(MaxPool(x)))       (N, C, 1, 1)
              MLP(v) = W1 relu(W0 v + b0) + b1,  W0: (C/r, C), W1: (C, C/r), one MLP for both
              x' = Mc * x
    spatial   P  = [mean over channels of x' ; max over channels of x']   (N, 2, H, W)
              Ms = sigmoid(conv_kxk(P))                             (N, 1, H, W), k = 7, padding k // 2
              y  = Ms * x'

Layout and names follow the article "Attention in Vision" [BobMcDear, 2022]
(docs/bibliography.md): 1x1 convolutions with biases
for the MLP (so b1 is added twice, once per pooled vector, as in the official
code), the pooled maps stacked as [mean, max], and a 7x7 convolution *with* a
bias and no batch norm, which is also the paper's equation. (The official
code instead stacks [max, mean] and uses a bias-free conv followed by
BatchNorm; to port its weights, swap the two input channels of the 7x7
kernel.)

``last_attention`` (detached, from the last forward pass):
``CBAMChannelAttention``: Mc, (N, C, 1, 1); ``CBAMSpatialAttention`` and
``CBAM``: Ms, (N, 1, H, W). ``CBAM.channel_attention.last_attention`` keeps Mc.

Backward: autograd. The shared MLP is used twice, so its weights receive the
sum of the two paths' gradients; the maxima route their gradient to the
winning entry (``amax`` splits it between exact ties, which random inputs do
not have).
"""
from ... import functional as F
from ..containers import Sequential
from ..conv import Conv2d
from ..layers import ReLU, Sigmoid
from ..module import Module
from ..pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d
from ._common import check_input, reduced_dim
from .base import AttentionModule

# ChannelAvgPool and ChannelMaxPool are CBAM's internals: importable from this module, not in minicnn.nn
__all__ = ["CBAMChannelAttention", "CBAMSpatialAttention", "CBAM"]


class ChannelAvgPool(Module):
    """Mean over the channel axis: (N, C, H, W) -> (N, 1, H, W)."""

    def forward(self, x):
        return x.mean(dim=1, keepdim=True)


class ChannelMaxPool(Module):
    """Maximum over the channel axis: (N, C, H, W) -> (N, 1, H, W)."""

    def forward(self, x):
        return x.amax(dim=1, keepdim=True)


class CBAMChannelAttention(AttentionModule):
    """CBAM's channel attention: y = sigmoid(MLP(AvgPool(x)) + MLP(MaxPool(x))) * x.

    Args:
        in_dim: number of input channels C.
        reduction_factor: r; the MLP's hidden layer has C // r channels (default 16).
    """

    def __init__(self, in_dim, reduction_factor=16):
        super().__init__()
        bottleneck_dim = reduced_dim(f"CBAMChannelAttention(in_dim={in_dim})", in_dim, reduction_factor)
        self.in_dim, self.reduction_factor = in_dim, reduction_factor
        self.avg_pool = AdaptiveAvgPool2d(output_size=1)
        self.max_pool = AdaptiveMaxPool2d(output_size=1)
        self.mlp = Sequential(
            Conv2d(in_dim, bottleneck_dim, kernel_size=1),   # W0, b0
            ReLU(),
            Conv2d(bottleneck_dim, in_dim, kernel_size=1),   # W1, b1
        )
        self.sigmoid = Sigmoid()

    def forward(self, x):
        check_input(self, x, self.in_dim)
        avg_attention = self.mlp(self.avg_pool(x))    # (N, C, 1, 1)
        max_attention = self.mlp(self.max_pool(x))    # the same MLP, a second time
        attention = self.sigmoid(avg_attention + max_attention)
        self.keep_attention(attention)
        return attention * x

    def extra_repr(self):
        return f"in_dim={self.in_dim}, reduction_factor={self.reduction_factor}"


class CBAMSpatialAttention(AttentionModule):
    """CBAM's spatial attention: y = sigmoid(conv([mean_c(x); max_c(x)])) * x.

    Args:
        kernel_size: odd size k of the 2 -> 1 convolution (default 7), padded by k // 2.
    """

    def __init__(self, kernel_size=7):
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"CBAMSpatialAttention: kernel_size must be a positive odd integer (padding "
                             f"k // 2 then keeps H and W), got {kernel_size!r}")
        self.kernel_size = kernel_size
        self.avg_pool = ChannelAvgPool()
        self.max_pool = ChannelMaxPool()
        self.conv = Conv2d(2, 1, kernel_size=kernel_size, padding=kernel_size // 2)
        self.sigmoid = Sigmoid()

    def forward(self, x):
        check_input(self, x)
        pooled = F.cat([self.avg_pool(x), self.max_pool(x)], dim=1)   # P: (N, 2, H, W), [mean, max]
        attention = self.sigmoid(self.conv(pooled))                   # Ms: (N, 1, H, W)
        self.keep_attention(attention)
        return attention * x                                          # broadcast over channels

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}"


class CBAM(AttentionModule):
    """Convolutional block attention module: channel attention, then spatial attention.

    Args:
        in_dim: number of input channels C.
        reduction_factor: r of the channel attention's MLP (default 16).
        kernel_size: k of the spatial attention's convolution (default 7).
    """

    def __init__(self, in_dim, reduction_factor=16, kernel_size=7):
        super().__init__()
        self.in_dim = in_dim
        self.channel_attention = CBAMChannelAttention(in_dim, reduction_factor)
        self.spatial_attention = CBAMSpatialAttention(kernel_size)

    def forward(self, x):
        check_input(self, x, self.in_dim)
        out = self.channel_attention(x)
        out = self.spatial_attention(out)
        self.last_attention = self.spatial_attention.last_attention
        return out

    def extra_repr(self):
        return f"in_dim={self.in_dim}"
