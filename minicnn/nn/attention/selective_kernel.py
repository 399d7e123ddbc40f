"""Selective Kernel (SK) convolution.

Li, Wang, Hu, Yang, "Selective Kernel Networks", CVPR 2019.

SK replaces a 3x3 convolution with M branches of different receptive fields
and lets an attention over the *branches* choose, per channel, how much of
each to use (attention over which branch, not over where or what):

    split   U_m = relu(BN_m(conv_m(x))),  m = 1..M         conv_m: 3x3 with dilation m (a "(2m+1)x(2m+1)"
                                                          receptive field), padding m, groups G, stride s
    fuse    s = GAP(sum_m U_m)                              (N, C)
            z = relu(BN(W s))                               W: (d, C), no bias, d = C // r
    select  a_m = W_m z                                     W_m: (C, d), stacked as one (M*C, d) layer
            alpha_{m,c} = exp(a_{m,c}) / sum_k exp(a_{k,c})  softmax over the M branches, per channel
            V = sum_m alpha_m * U_m                         (N, C, H/s, W/s)

The module structure (``Branch``, ``Split``, ``Fuse``, ``Select``, ``SK``) and
attribute names follow the article "Attention in Vision" [BobMcDear, 2022]
(docs/bibliography.md) so its state_dicts load:
``split.branches.0.conv.weight``, ``fuse.fc.0.weight``, ``select.fc.weight``
(row ``m*C + c`` of the select weight belongs to branch m, channel c). The
article's ``Split`` passes an ``out_dim`` keyword that its ``Branch`` does not
accept; here a branch keeps C channels and takes no such argument.

The paper sets d = max(C / r, L) with L = 32; the article uses d = C // r.
``min_reduced_dim`` is L (default 0: the article's rule; 32: the paper's).

``SK.last_attention`` holds the branch weights alpha of the last forward
pass, detached, shape (N, M, C, 1, 1) (summing to 1 over axis 1).

Batch norm on the pooled (N, d, 1, 1) tensor needs N >= 2 in training mode.
"""
from ... import functional as F
from ...utils import check_positive_ints
from ..containers import ModuleList, Sequential
from ..conv import Conv2d
from ..layers import ReLU, Softmax
from ..module import Module
from ..normalization import BatchNorm2d
from ..pooling import AdaptiveAvgPool2d
from ._common import check_input, reduced_dim
from .base import AttentionModule

# Branch and Split are SK's internals: importable from this module, not in minicnn.nn. Fuse and Select
# stay exported while the chapter 9 exercise builds them as nn.Fuse and nn.Select.
__all__ = ["Fuse", "Select", "SK"]


def _check_groups(name, in_dim, groups):
    check_positive_ints(name, in_dim=in_dim, groups=groups)
    if in_dim % groups != 0:
        raise ValueError(f"{name}: in_dim must be divisible by groups for a grouped convolution; "
                         f"got in_dim={in_dim}, groups={groups} ({in_dim} % {groups} = {in_dim % groups})")


class Branch(Module):
    """One SK branch: relu(BN(conv(x))), a grouped convolution without bias.

    Padding ``kernel_size // 2 + dilation - 1`` keeps the size for stride 1.
    """

    def __init__(self, in_dim, kernel_size=3, stride=1, groups=32, dilation=1):
        super().__init__()
        name = f"Branch(in_dim={in_dim})"
        _check_groups(name, in_dim, groups)
        check_positive_ints(name, kernel_size=kernel_size, stride=stride, dilation=dilation)
        padding = kernel_size // 2 + (dilation - 1)
        self.conv = Conv2d(in_dim, in_dim, kernel_size=kernel_size, stride=stride, padding=padding,
                           dilation=dilation, groups=groups, bias=False)
        self.bn = BatchNorm2d(in_dim)
        self.relu = ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class Split(Module):
    """SK's split: M branches with dilations 1..M; output stacked to (N, M, C, H', W')."""

    def __init__(self, in_dim, n_branches=2, stride=1, groups=32):
        super().__init__()
        check_positive_ints(f"Split(in_dim={in_dim})", n_branches=n_branches)
        self.branches = ModuleList([
            Branch(in_dim, kernel_size=3, stride=stride, groups=groups, dilation=dilation)
            for dilation in range(1, n_branches + 1)
        ])

    def forward(self, x):
        return F.stack([branch(x) for branch in self.branches], dim=1)


class Fuse(Module):
    """SK's fuse: z = relu(BN(W GAP(sum_m U_m))), shape (N, d, 1, 1)."""

    def __init__(self, in_dim, reduction_factor=16, min_reduced_dim=0):
        super().__init__()
        reduced = reduced_dim(f"Fuse(in_dim={in_dim})", in_dim, reduction_factor, min_reduced_dim)
        self.avg_pool = AdaptiveAvgPool2d(output_size=1)
        self.fc = Sequential(
            Conv2d(in_dim, reduced, kernel_size=1, bias=False),
            BatchNorm2d(reduced),
            ReLU(),
        )

    def forward(self, branches):
        summed = branches.sum(dim=1)                  # U = sum_m U_m: (N, C, H, W)
        return self.fc(self.avg_pool(summed))


class Select(AttentionModule):
    """SK's select: softmax over the branches of W_m z, then the weighted sum of the branches."""

    def __init__(self, in_dim, n_branches=2, reduction_factor=16, min_reduced_dim=0):
        super().__init__()
        reduced = reduced_dim(f"Select(in_dim={in_dim})", in_dim, reduction_factor, min_reduced_dim)
        self.fc = Conv2d(reduced, n_branches * in_dim, kernel_size=1, bias=False)
        self.softmax = Softmax(dim=1)

    def forward(self, branches, z):
        n, n_branches, channels = branches.shape[:3]
        attention = self.fc(z).reshape(n, n_branches, channels, 1, 1)   # a_m, one row block per branch
        attention = self.softmax(attention)                             # alpha: softmax over m
        self.keep_attention(attention)
        return (attention * branches).sum(dim=1)


class SK(AttentionModule):
    """Selective kernel convolution (C -> C channels).

    Args:
        in_dim: number of input (and output) channels C, divisible by ``groups``.
        n_branches: M, branches with dilations 1..M (default 2).
        stride: stride of every branch (default 1).
        groups: groups of every branch's convolution (default 32).
        reduction_factor: r; the fuse layer has d = C // r channels (default 16).
        min_reduced_dim: the paper's L, a lower bound on d (default 0, the article; the paper uses 32).
    """

    def __init__(self, in_dim, n_branches=2, stride=1, groups=32, reduction_factor=16, min_reduced_dim=0):
        super().__init__()
        _check_groups(f"SK(in_dim={in_dim})", in_dim, groups)
        self.in_dim, self.n_branches = in_dim, n_branches
        self.split = Split(in_dim, n_branches, stride, groups)
        self.fuse = Fuse(in_dim, reduction_factor, min_reduced_dim)
        self.select = Select(in_dim, n_branches, reduction_factor, min_reduced_dim)

    def forward(self, x):
        check_input(self, x, self.in_dim)
        branches = self.split(x)            # (N, M, C, H', W')
        z = self.fuse(branches)             # (N, d, 1, 1)
        out = self.select(branches, z)      # (N, C, H', W')
        self.last_attention = self.select.last_attention
        return out

    def extra_repr(self):
        return f"in_dim={self.in_dim}, n_branches={self.n_branches}"
