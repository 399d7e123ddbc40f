"""The attention module of the Residual Attention Network, and its residual unit.

Wang, Jiang, Qian, Yang, Li, Zhang, Wang, Tang, "Residual Attention Network
for Image Classification", CVPR 2017 ([Wang et al., 2017] in docs/bibliography.md).

The module has two branches on the same input:

* the **trunk** T(x): t residual units, ordinary feature processing;
* the **soft mask** M(x) in (0, 1): a bottom-up, top-down hourglass. Max
  pooling (3x3, stride 2) shrinks the map ``depth`` times, with r residual
  units after each pooling (2r at the bottom); bilinear up-sampling
  (``align_corners=True``) grows it back, adding at each scale a skip
  connection (one residual unit on the down-path feature of that scale)
  followed by r residual units. A head BN-ReLU-1x1 conv-BN-ReLU-1x1 conv-
  sigmoid turns it into the mask.

They are merged by *attention residual learning*:

    H(x) = (1 + M(x)) * T(x)

so a mask near 0 leaves the trunk's features as they are instead of
deleting them (stacking plain ``M * T`` modules would shrink the features at
every module). p residual units come before the split and p after the merge.
The paper uses p = 1, t = 2, r = 1, and ``depth`` = 3, 2, 1 pooling steps in
stages 1, 2, 3 (56x56, 28x28, 14x14 inputs), so that the smallest mask map is
7x7.

Schematically, for depth = 2 (x is the output of the p pre-units)::

    m1 = down[0](maxpool(x));  s1 = skips[0](m1)
    m2 = down[1](maxpool(m1))                       # the bottom: 2r units
    u1 = up[0](upsample(m2, size of m1) + s1)
    M  = mask_head(upsample(u1, size of T))

``ResidualUnit`` is the pre-activation bottleneck unit used throughout
(He et al., "Identity Mappings in Deep Residual Networks", 2016):
BN-ReLU-1x1 conv (C_out/4) - BN-ReLU-3x3 conv (stride s) - BN-ReLU-1x1 conv
(C_out), added to the input; when the shape changes the shortcut is a 1x1
convolution (stride s) of the *pre-activated* input. No convolution has a
bias (batch norm follows each one).

``ResidualAttentionModule.last_attention`` holds the mask M of the last
forward pass, detached, (N, C, H, W).
"""
from ... import functional as F
from ...utils import check_positive_ints
from ..containers import ModuleList, Sequential
from ..conv import Conv2d
from ..layers import ReLU, Sigmoid
from ..module import Module
from ..normalization import BatchNorm2d
from ..pooling import MaxPool2d
from ._common import check_input
from .base import AttentionModule

__all__ = ["ResidualUnit", "ResidualAttentionModule"]


class ResidualUnit(Module):
    """Pre-activation bottleneck residual unit: y = F(x) + shortcut(x).

    Args:
        in_channels: input channels.
        out_channels: output channels (default ``in_channels``); the bottleneck has
            ``out_channels // 4`` channels, so at least 4 are needed.
        stride: stride of the 3x3 convolution and of the projection shortcut (default 1).
    """

    def __init__(self, in_channels, out_channels=None, stride=1):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        name = f"ResidualUnit(in_channels={in_channels}, out_channels={out_channels})"
        check_positive_ints(name, in_channels=in_channels, out_channels=out_channels, stride=stride)
        if out_channels < 4:
            raise ValueError(f"{name}: the bottleneck has out_channels // 4 channels, so out_channels "
                             f"must be at least 4, got {out_channels}")
        mid = out_channels // 4
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.bn1 = BatchNorm2d(in_channels)
        self.conv1 = Conv2d(in_channels, mid, kernel_size=1, bias=False)
        self.bn2 = BatchNorm2d(mid)
        self.conv2 = Conv2d(mid, mid, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn3 = BatchNorm2d(mid)
        self.conv3 = Conv2d(mid, out_channels, kernel_size=1, bias=False)
        self.relu = ReLU()
        if in_channels != out_channels or stride != 1:
            self.shortcut = Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
        else:
            self.shortcut = None

    def forward(self, x):
        check_input(self, x, self.in_channels)
        pre = self.relu(self.bn1(x))                          # pre-activation, shared with the shortcut
        out = self.conv1(pre)
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        residual = x if self.shortcut is None else self.shortcut(pre)
        return out + residual

    def extra_repr(self):
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}, stride={self.stride}"


def _units(channels, count):
    return Sequential(*[ResidualUnit(channels) for _ in range(count)])


class ResidualAttentionModule(AttentionModule):
    """Attention module: y = post((1 + M(x')) * trunk(x')), x' = pre(x); channels unchanged.

    Args:
        in_channels: C (at least 4: the residual units' bottleneck is C // 4).
        depth: number of max-pooling steps in the mask branch (3, 2, 1 in stages 1-3 of
            Attention-56/92; default 3).
        p: residual units before the split and after the merge (default 1).
        t: residual units in the trunk (default 2).
        r: residual units between adjacent poolings in the mask branch (default 1).

    Submodules: ``pre``, ``trunk``, ``down`` (one Sequential per pooling step), ``skips``
    (depth - 1 units), ``up`` (depth - 1 Sequentials), ``mask_head``, ``post``.
    """

    def __init__(self, in_channels, depth=3, p=1, t=2, r=1):
        super().__init__()
        name = f"ResidualAttentionModule(in_channels={in_channels})"
        check_positive_ints(name, in_channels=in_channels, depth=depth, t=t, r=r)
        if not isinstance(p, int) or p < 0:
            raise ValueError(f"{name}: p must be a non-negative integer, got {p!r}")
        self.in_channels, self.depth = in_channels, depth
        self.pre = _units(in_channels, p)
        self.trunk = _units(in_channels, t)
        self.pool = MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.down = ModuleList([_units(in_channels, 2 * r if level == depth - 1 else r)
                                for level in range(depth)])
        self.skips = ModuleList([ResidualUnit(in_channels) for _ in range(depth - 1)])
        self.up = ModuleList([_units(in_channels, r) for _ in range(depth - 1)])
        self.mask_head = Sequential(
            BatchNorm2d(in_channels),
            ReLU(),
            Conv2d(in_channels, in_channels, kernel_size=1, bias=False),
            BatchNorm2d(in_channels),
            ReLU(),
            Conv2d(in_channels, in_channels, kernel_size=1, bias=False),
            Sigmoid(),
        )
        self.post = _units(in_channels, p)

    @staticmethod
    def _upsample(t, size):
        return F.interpolate(t, size=tuple(size), mode="bilinear", align_corners=True)

    def forward(self, x):
        check_input(self, x, self.in_channels)
        x = self.pre(x)
        trunk = self.trunk(x)

        # Bottom-up: pool, then residual units; keep a skip branch at every scale but the last.
        features, skips = x, []
        for level in range(self.depth):
            features = self.down[level](self.pool(features))
            if level < self.depth - 1:
                skips.append(self.skips[level](features))

        # Top-down: up-sample to the next finer scale, add its skip, residual units.
        for level in reversed(range(self.depth - 1)):
            features = self._upsample(features, skips[level].shape[2:]) + skips[level]
            features = self.up[level](features)

        mask = self.mask_head(self._upsample(features, trunk.shape[2:]))   # M in (0, 1)
        self.keep_attention(mask)
        return self.post((1 + mask) * trunk)

    def extra_repr(self):
        return f"in_channels={self.in_channels}, depth={self.depth}"
