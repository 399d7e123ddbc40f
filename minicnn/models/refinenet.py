"""RefineNet: multi-path refinement of a ResNet's four feature levels.

Lin, Milan, Shen & Reid, "RefineNet: Multi-Path Refinement Networks for
High-Resolution Semantic Segmentation", CVPR 2017 ([Lin et al., 2017] in docs/bibliography.md).

Deep features suffer from downscaling (stride 32); dilating the backbone
(DeepLab) keeps the resolution but is expensive in memory and computation.
RefineNet keeps the plain ResNet and instead *refines* coarse, semantic
features with finer, low-level ones, level by level, from stride 32 back to
stride 4 (the "4-cascaded" network):

    refinenet4 = RefineNetBlock(layer4)                       stride 32
    refinenet3 = RefineNetBlock(layer3, refinenet4)           stride 16
    refinenet2 = RefineNetBlock(layer2, refinenet3)           stride 8
    refinenet1 = RefineNetBlock(layer1, refinenet2)           stride 4
    scores     = 1x1 conv(RCU(RCU(refinenet1))), upsampled 4x

A RefineNet block has three parts (Fig. 2 of the paper), every convolution 3x3:

* **Residual convolution units** (:class:`ResidualConvUnit`), two per input
  path, fine-tune the backbone features for segmentation; the residual unit
  of ResNet without batch norm:  y = x + conv(relu(conv(relu(x)))).
* **Multi-resolution fusion** (:class:`MultiResolutionFusion`): a conv on each
  path (to the same channels, rescaling the paths' values), bilinear
  upsampling of every path to the largest resolution, and a sum.
* **Chained residual pooling** (:class:`ChainedResidualPooling`) gathers
  context from large regions: a chain of pooling blocks, each a 5x5 max
  pooling with stride 1 then a conv, every block's output added to the sum:

      x = relu(x);  path = x;  for each block: path = conv(max_pool5x5(path)); x = x + path

  Each block reuses the previous block's result, so the pooled region grows
  (5, 9, 13, ... pixels) and the residual sums let the network learn how
  much of each scale to keep. The paper's figure shows two blocks
  (``n_pools=2``, the default); many later implementations use four.

An output RCU ends the block. The backbone's features are first mapped to the
paths' width by a 3x3 conv (``layer1_rn`` ... ``layer4_rn``): 512 channels for
refinenet4 and 256 for the others in the paper. The convolutions have no batch
norm (the paper removes it from the RCUs). Defaults are small (basic blocks
(1, 1, 1, 1), ``base_channels=8``, ``features=16``); ``RefineNet.paper()``
is RefineNet-ResNet-101 with 256 features: 109,759,829 parameters for 21
classes (118,017,365 with ``n_pools=4``).
"""
from .. import functional as F
from ..nn.containers import ModuleList, Sequential
from ..nn.conv import Conv2d
from ..nn.layers import Dropout
from ..nn.module import Module
from .deeplab import BACKBONES, resnet_stages
from .resnet import ResNet

__all__ = ["ResidualConvUnit", "MultiResolutionFusion", "ChainedResidualPooling", "RefineNetBlock",
           "RefineNet"]

PAPER = dict(backbone="resnet101", layers=None, base_channels=64, features=256)


def _conv3x3(in_channels, out_channels, bias=True):
    return Conv2d(in_channels, out_channels, 3, padding=1, bias=bias)


class ResidualConvUnit(Module):
    """RCU: y = x + conv2(relu(conv1(relu(x)))) with 3x3 convolutions, channels kept, no batch norm."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.conv2 = _conv3x3(channels, channels)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(F.relu(x))))


class MultiResolutionFusion(Module):
    """sum_i upsample(conv_i(x_i)) to the largest input resolution; conv_i: 3x3, in_channels[i] ->
    out_channels. ``forward(*xs)`` takes the paths in the order of ``in_channels``."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.convs = ModuleList([_conv3x3(c, out_channels) for c in in_channels])

    def forward(self, *xs):
        if len(xs) != len(self.convs):
            raise ValueError(f"MultiResolutionFusion: expected {len(self.convs)} inputs, got {len(xs)}")
        size = max((tuple(x.shape[2:]) for x in xs), key=lambda s: s[0] * s[1])
        out = None
        for conv, x in zip(self.convs, xs):
            y = conv(x)
            if tuple(y.shape[2:]) != size:
                y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
            out = y if out is None else out + y
        return out


class ChainedResidualPooling(Module):
    """x = relu(x); path = x; repeated ``n_pools`` times: path = conv(max_pool2d(path, 5, 1, 2)); x = x + path."""

    def __init__(self, channels, n_pools=2):
        super().__init__()
        self.convs = ModuleList([_conv3x3(channels, channels, bias=False) for _ in range(n_pools)])

    def forward(self, x):
        x = F.relu(x)
        path = x
        for conv in self.convs:
            path = conv(F.max_pool2d(path, kernel_size=5, stride=1, padding=2))
            x = x + path
        return x


class RefineNetBlock(Module):
    """Two RCUs per path, multi-resolution fusion (several paths), chained residual pooling, output RCU.

    Args:
        in_channels: channels of each input path (finest path first or in any order).
        out_channels: channels of the fused output (the smallest of ``in_channels`` in the paper).
        n_pools: pooling blocks of the chained residual pooling.
    """

    def __init__(self, in_channels, out_channels, n_pools=2):
        super().__init__()
        self.adaptive = ModuleList([Sequential(ResidualConvUnit(c), ResidualConvUnit(c)) for c in in_channels])
        self.fusion = MultiResolutionFusion(in_channels, out_channels) if len(in_channels) > 1 else None
        if self.fusion is None and in_channels[0] != out_channels:
            raise ValueError(f"RefineNetBlock: a single path keeps its channels ({in_channels[0]}), got "
                             f"out_channels={out_channels}")
        self.crp = ChainedResidualPooling(out_channels, n_pools)
        self.output_conv = ResidualConvUnit(out_channels)

    def forward(self, *xs):
        paths = [rcus(x) for rcus, x in zip(self.adaptive, xs)]
        x = paths[0] if self.fusion is None else self.fusion(*paths)
        return self.output_conv(self.crp(x))


class RefineNet(Module):
    """4-cascaded RefineNet on a ResNet: (N, in_channels, H, W) -> (N, num_classes, H, W).

    Args:
        num_classes: number of classes.
        in_channels: image channels.
        backbone: ``"resnet18"``, ``"resnet34"``, ``"resnet50"`` or ``"resnet101"`` (paper).
        layers: blocks per stage (default (1, 1, 1, 1), small).
        base_channels: planes of layer1 (ResNet: 64).
        features: width of refinenet1..3; refinenet4 has twice as many (paper: 256 and 512).
        n_pools: pooling blocks of every chained residual pooling.
        dropout: before the classifier (0 = none).
    """

    def __init__(self, num_classes, in_channels=3, backbone="resnet18", layers=(1, 1, 1, 1), base_channels=8,
                 features=16, n_pools=2, dropout=0.0):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"RefineNet: unknown backbone {backbone!r}; expected one of {tuple(BACKBONES)}")
        block, default_layers = BACKBONES[backbone]
        self.num_classes = num_classes
        self.backbone = ResNet(block, list(layers or default_layers), num_classes=None, in_channels=in_channels,
                               base_channels=base_channels)
        widths = [base_channels * m * block.expansion for m in (1, 2, 4, 8)]
        self.layer1_rn = _conv3x3(widths[0], features, bias=False)
        self.layer2_rn = _conv3x3(widths[1], features, bias=False)
        self.layer3_rn = _conv3x3(widths[2], features, bias=False)
        self.layer4_rn = _conv3x3(widths[3], 2 * features, bias=False)
        self.refinenet4 = RefineNetBlock([2 * features], 2 * features, n_pools)
        self.refinenet3 = RefineNetBlock([features, 2 * features], features, n_pools)
        self.refinenet2 = RefineNetBlock([features, features], features, n_pools)
        self.refinenet1 = RefineNetBlock([features, features], features, n_pools)
        self.output_conv = Sequential(ResidualConvUnit(features), ResidualConvUnit(features),
                                      *([Dropout(dropout)] if dropout > 0 else []),
                                      Conv2d(features, num_classes, 1))

    @classmethod
    def paper(cls, num_classes=21, in_channels=3, **overrides):
        """RefineNet on ResNet-101 with 256 features (512 for refinenet4)."""
        return cls(num_classes, in_channels, **{**PAPER, **overrides})

    def forward(self, x):
        size = tuple(x.shape[2:])
        layer1, layer2, layer3, layer4 = resnet_stages(self.backbone, x)        # strides 4, 8, 16, 32
        path4 = self.refinenet4(self.layer4_rn(layer4))
        path3 = self.refinenet3(self.layer3_rn(layer3), path4)
        path2 = self.refinenet2(self.layer2_rn(layer2), path3)
        path1 = self.refinenet1(self.layer1_rn(layer1), path2)
        scores = self.output_conv(path1)                                         # stride 4
        return F.interpolate(scores, size=size, mode="bilinear", align_corners=False)

