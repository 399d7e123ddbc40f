"""Efficient Channel Attention (ECA).

Wang, Wu, Zhu, Li, Zuo, Hu, "ECA-Net: Efficient Channel Attention for Deep
Convolutional Neural Networks", CVPR 2020.

SE's bottleneck MLP only links channels to their weights indirectly. ECA
keeps one weight per channel but lets each channel look at its k neighbours,
with a single 1-D convolution (shared weights, no bias) over the pooled
channel descriptor:

    z   = GAP(x)                                   (N, C), read as a 1-D signal (N, 1, C)
    a_c = sum_{j=0}^{k-1} w_j z_{c + j - (k-1)/2}   zero padding (k-1)/2 at both ends
    y   = sigmoid(a)_c * x_c

The only parameter is ``conv.weight`` of shape (1, 1, k) (as in the article
"Attention in Vision" [BobMcDear, 2022], docs/bibliography.md). The paper
[Wang et al., 2020] picks k from the number of channels C:

    k = psi(C) = | log2(C) / gamma + b / gamma |_odd,   gamma = 2, b = 1

where |t|_odd is an odd number next to t. The official code (and so this
one) truncates t to an integer and adds 1 when it is even: C = 64 gives 3,
C = 128 ... 1024 give 5, C = 2048 gives 7. See :func:`eca_kernel_size` and
:meth:`ECA.from_channels`.

``self.last_attention`` holds the channel weights sigmoid(a) of the last
forward pass, detached, shape (N, C, 1, 1).
"""
import math

from ...utils import check_positive_ints
from ..conv import Conv1d
from ..layers import Sigmoid
from ..pooling import AdaptiveAvgPool2d
from ._common import check_input
from .base import AttentionModule

__all__ = ["ECA", "eca_kernel_size"]


def eca_kernel_size(channels, gamma=2, b=1):
    """The ECA paper's adaptive kernel size k = |log2(C)/gamma + b/gamma|_odd (official rounding).

    >>> [eca_kernel_size(c) for c in (64, 128, 256, 512, 1024, 2048)]
    [3, 5, 5, 5, 5, 7]
    """
    check_positive_ints("eca_kernel_size", channels=channels)
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 == 1 else t + 1


class ECA(AttentionModule):
    """Efficient channel attention: y = sigmoid(conv1d_k(GAP(x))) * x.

    Args:
        kernel_size: k, odd (default 3, the article's and the official module's default).
        in_dim: optional number of input channels; when given, inputs are checked against it.
            ``ECA.from_channels(in_dim)`` sets it and picks k with the paper's formula.
    """

    def __init__(self, kernel_size=3, in_dim=None):
        super().__init__()
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"ECA: kernel_size must be a positive odd integer (so that zero padding "
                             f"k // 2 keeps the C channels), got {kernel_size!r}")
        self.kernel_size, self.in_dim = kernel_size, in_dim
        self.avg_pool = AdaptiveAvgPool2d(output_size=1)
        self.conv = Conv1d(1, 1, kernel_size=kernel_size, padding=kernel_size // 2, bias=False)
        self.sigmoid = Sigmoid()

    @classmethod
    def from_channels(cls, in_dim, gamma=2, b=1):
        """ECA for ``in_dim`` channels with the paper's adaptive kernel size (see eca_kernel_size)."""
        return cls(kernel_size=eca_kernel_size(in_dim, gamma, b), in_dim=in_dim)

    def forward(self, x):
        check_input(self, x, self.in_dim)
        n, c = x.shape[:2]
        pooled = self.avg_pool(x).reshape(n, 1, c)       # z as a 1-channel signal of length C
        attention = self.sigmoid(self.conv(pooled))      # (N, 1, C)
        attention = attention.reshape(n, c, 1, 1)
        self.keep_attention(attention)
        return attention * x

    def extra_repr(self):
        extra = f"kernel_size={self.kernel_size}"
        return extra if self.in_dim is None else f"in_dim={self.in_dim}, " + extra
