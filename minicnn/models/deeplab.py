"""DeepLabv3 and DeepLabv3+: atrous convolution, ASPP, multi-grid, and an encoder-decoder.

* Chen, Papandreou, Schroff & Adam, "Rethinking Atrous Convolution for
  Semantic Image Segmentation", 2017 (DeepLabv3);
* Chen, Zhu, Papandreou, Schroff & Adam, "Encoder-Decoder with Atrous
  Separable Convolution for Semantic Image Segmentation", ECCV 2018 (DeepLabv3+);
* Chen et al., "DeepLab: ... Atrous Convolution, and Fully Connected CRFs",
  TPAMI 2018 (DeepLabv2: atrous spatial pyramid pooling; the CRF is in :mod:`minicnn.crf`).

Seed 003 names three challenges for segmentation with classification networks:
reduced feature resolution, objects at multiple scales, and poor localisation.

**Atrous convolution** answers the first. With rate r a filter reads every
r-th input, y[i] = sum_k x[i + r k] w[k], so it sees (k - 1) r + 1 pixels with
the same k weights and the same cost. Remove the stride of the last stage(s)
of a ResNet and dilate the following convolutions instead: the receptive
field stays as it was, but the features keep a higher resolution. The
*output stride* (input size / feature size) drops from 32 to 16 (dilate
layer4 by 2) or 8 (layer3 by 2, layer4 by 4): :func:`dilated_resnet`.

**Multi-grid** (DeepLabv3): the three units of layer4 get the rates
rate * (1, 2, 4) (at output stride 16: 2, 4, 8) instead of one rate.

**ASPP** (atrous spatial pyramid pooling) answers the second: parallel
branches look at the same features at several scales and are concatenated
(DeepLabv3's version, :class:`ASPP`):

    1x1 conv | 3x3 conv rate 6 | 3x3 conv rate 12 | 3x3 conv rate 18 | image pooling
    (each + BN + ReLU; rates at output stride 16, doubled at output stride 8)
    -> concat (5 x 256 channels) -> 1x1 conv (256) + BN + ReLU -> dropout

At a large rate most taps of a 3x3 filter fall into the zero padding, and
the filter degenerates into a 1x1 filter (:func:`valid_weight_counts`, the
paper's Fig. 4); the *image pooling* branch (global average pooling, 1x1 conv,
upsampling back) supplies the global context instead.

**DeepLabv3+** adds a decoder for sharper boundaries: the encoder output
(stride 16) is upsampled 4x bilinearly and concatenated with low-level
features of layer1 (stride 4) reduced to 48 channels by a 1x1 conv (so they
do not outweigh the encoder's 256), refined by two 3x3 convolutions (256) and
classified; the scores are upsampled 4x. Its ASPP and decoder use **atrous
separable convolutions**: a depthwise 3x3 (dilated) convolution, BN, ReLU, a
pointwise 1x1 convolution, BN, ReLU (the official code's arrangement; it is
:class:`minicnn.nn.SeparableConv2d` with a BN + ReLU between its two halves),
which cut the cost of a 3x3 convolution from 9 C_in C_out to 9 C_in + C_in C_out
multiply-adds per pixel.

Backbones: ResNets of :mod:`minicnn.models.resnet` (torchvision's layout).
The paper's DeepLabv3 uses ResNet-101 (``deeplabv3(paper=True)``); DeepLabv3+
uses an aligned Xception in the paper, ResNet-101 here. Parameter counts with
21 classes: DeepLabv3 ResNet-50 39,048,533, ResNet-101 58,040,661 (torchvision's
``deeplabv3_resnet50/101`` report 42,004,074 and 60,996,202: they add a 3x3
conv + BN after ASPP, 590,336 parameters, and an auxiliary FCN head on
layer3, 2,365,205 parameters, to the same network); DeepLabv3+ ResNet-101
45,688,261 (separable ASPP and decoder).

The defaults are small for the course's 64x64 cells: a ResNet with basic
blocks, one block in each of the first three stages and the three units in
layer4 that multi-grid needs (``layers=(1, 1, 1, 3)``), ``base_channels=8``,
ASPP with 32 channels. At output stride 16 a 64x64 image gives 4x4 features:
pass smaller ``atrous_rates`` (e.g. (1, 2, 3)) for such maps, the paper's
rates are meant for 33x33 features (513x513 crops).
"""
import numpy as np

from .. import functional as F
from ..nn.containers import ModuleList, Sequential
from ..nn.conv import Conv2d
from ..nn.layers import Dropout, ReLU
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d
from ..nn.pooling import AdaptiveAvgPool2d
from ..ops import cat
from .resnet import BasicBlock, Bottleneck, ResNet

__all__ = ["ASPP", "ASPPConv", "ASPPPooling", "DeepLabV3", "DeepLabV3Plus", "deeplabv3", "deeplabv3plus",
           "dilated_resnet", "resnet_stages", "atrous_rates_for", "atrous_separable_conv",
           "valid_weight_counts"]

#: name -> (block, blocks per stage), as torchvision.
BACKBONES = {"resnet18": (BasicBlock, (2, 2, 2, 2)), "resnet34": (BasicBlock, (3, 4, 6, 3)),
             "resnet50": (Bottleneck, (3, 4, 6, 3)), "resnet101": (Bottleneck, (3, 4, 23, 3))}
#: output stride -> torchvision's replace_stride_with_dilation for layer2, layer3, layer4.
DILATE = {8: (False, True, True), 16: (False, False, True)}

PAPER_V3 = dict(backbone="resnet101", layers=None, base_channels=64, aspp_channels=256)
PAPER_V3PLUS = dict(backbone="resnet101", layers=None, base_channels=64, aspp_channels=256,
                    low_level_channels=48, decoder_channels=256)


# =========================================================================== the dilated backbone
def atrous_rates_for(output_stride):
    """ASPP's rates: (6, 12, 18) at output stride 16, doubled to (12, 24, 36) at output stride 8."""
    if output_stride not in DILATE:
        raise ValueError(f"DeepLab: output_stride must be 8 or 16, got {output_stride!r}")
    return (6, 12, 18) if output_stride == 16 else (12, 24, 36)


def set_dilation_(module, rate):
    """Give every 3x3 convolution inside ``module`` dilation ``rate`` and padding ``rate`` (size kept)."""
    for m in module.modules():
        if isinstance(m, Conv2d) and m.kernel_size == (3, 3):
            m.dilation, m.padding = (rate, rate), (rate, rate)
    return module


def dilated_resnet(backbone="resnet50", layers=None, in_channels=3, base_channels=64, output_stride=16,
                   multi_grid=(1, 2, 4)):
    """A ResNet feature extractor (no classifier) with output stride 8 or 16 and multi-grid in layer4.

    The last stage(s) keep their resolution and dilate their 3x3 convolutions
    (torchvision's ``replace_stride_with_dilation``): layer4 by 2 at output
    stride 16; layer3 by 2 and layer4 by 4 at output stride 8. With
    ``multi_grid`` (one factor per unit of layer4; None to skip), unit i of
    layer4 uses rate * multi_grid[i] in all its 3x3 convolutions.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"DeepLab: unknown backbone {backbone!r}; expected one of {tuple(BACKBONES)}")
    if output_stride not in DILATE:
        raise ValueError(f"DeepLab: output_stride must be 8 or 16, got {output_stride!r}")
    block, default_layers = BACKBONES[backbone]
    net = ResNet(block, list(layers or default_layers), num_classes=None, in_channels=in_channels,
                 base_channels=base_channels, replace_stride_with_dilation=list(DILATE[output_stride]))
    if multi_grid is not None:
        if len(multi_grid) != len(net.layer4):
            raise ValueError(f"DeepLab: multi_grid needs one factor per unit of layer4 ({len(net.layer4)} units), "
                             f"got {tuple(multi_grid)}")
        rate = 32 // output_stride                      # layer4's dilation: 2 at OS 16, 4 at OS 8
        for unit, factor in zip(net.layer4, multi_grid):
            set_dilation_(unit, rate * factor)
    net.output_stride = output_stride
    return net


def resnet_stages(net, x):
    """The outputs of layer1 (stride 4), layer2, layer3 and layer4 of a ResNet for input ``x``."""
    net._check_input(x)
    x = net.maxpool(F.relu(net.bn1(net.conv1(x))))
    outputs = []
    for stage in (net.layer1, net.layer2, net.layer3, net.layer4):
        x = stage(x)
        outputs.append(x)
    return outputs


def valid_weight_counts(size, rate, kernel_size=3):
    """For a ``size`` x ``size`` map and a k x k filter with dilation ``rate`` (padding keeps the size):
    how many of the k^2 taps land *inside* the map, at every output position ((size, size) ints).

    As the rate approaches the size, the count drops to 1 (only the centre tap
    sees the map): the atrous filter has degenerated into a 1x1 filter.
    """
    offsets = (np.arange(kernel_size) - kernel_size // 2) * rate
    position = np.arange(size)
    inside = ((position[:, None] + offsets[None, :]) >= 0) & ((position[:, None] + offsets[None, :]) < size)
    per_axis = inside.sum(axis=1)                               # valid taps along one axis, per position
    return per_axis[:, None] * per_axis[None, :]


# =========================================================================== ASPP
def atrous_separable_conv(in_channels, out_channels, rate=1):
    """Depthwise 3x3 conv (dilation ``rate``), BN, ReLU, pointwise 1x1 conv, BN, ReLU (DeepLabv3+)."""
    return Sequential(Conv2d(in_channels, in_channels, 3, padding=rate, dilation=rate, groups=in_channels,
                             bias=False),
                      BatchNorm2d(in_channels), ReLU(),
                      Conv2d(in_channels, out_channels, 1, bias=False), BatchNorm2d(out_channels), ReLU())


class ASPPConv(Sequential):
    """One atrous branch: 3x3 conv with dilation ``rate`` (padding ``rate``), BN, ReLU; or its separable
    version."""

    def __init__(self, in_channels, out_channels, rate, separable=False):
        if separable:
            super().__init__(*atrous_separable_conv(in_channels, out_channels, rate))
        else:
            super().__init__(Conv2d(in_channels, out_channels, 3, padding=rate, dilation=rate, bias=False),
                             BatchNorm2d(out_channels), ReLU())


class ASPPPooling(Module):
    """Image pooling: global average pooling, 1x1 conv, BN, ReLU, bilinear upsampling back to H x W."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.pool = AdaptiveAvgPool2d(1)
        self.conv = Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = BatchNorm2d(out_channels)

    def forward(self, x):
        size = tuple(x.shape[2:])
        y = F.relu(self.bn(self.conv(self.pool(x))))                       # (N, C_out, 1, 1)
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


class ASPP(Module):
    """Atrous spatial pyramid pooling (DeepLabv3): five parallel branches, concatenated, projected.

    Args:
        in_channels: channels of the backbone features.
        atrous_rates: the rates of the three 3x3 branches (paper: 6, 12, 18 at output stride 16).
        out_channels: channels of every branch and of the output (paper: 256).
        separable: atrous separable convolutions in the 3x3 branches (DeepLabv3+).
        dropout: after the projection (official code: 0.1).

    ``convs`` holds the branches in the order 1x1, rate 1, rate 2, rate 3, pooling (torchvision's
    layout and names); :meth:`branch_outputs` returns their outputs.
    """

    def __init__(self, in_channels, atrous_rates=(6, 12, 18), out_channels=256, separable=False, dropout=0.1):
        super().__init__()
        if len(atrous_rates) < 1:
            raise ValueError("ASPP: give at least one atrous rate")
        self.atrous_rates = tuple(atrous_rates)
        branches = [Sequential(Conv2d(in_channels, out_channels, 1, bias=False), BatchNorm2d(out_channels),
                               ReLU())]
        branches += [ASPPConv(in_channels, out_channels, r, separable) for r in self.atrous_rates]
        branches.append(ASPPPooling(in_channels, out_channels))
        self.convs = ModuleList(branches)
        self.project = Sequential(Conv2d(len(branches) * out_channels, out_channels, 1, bias=False),
                                  BatchNorm2d(out_channels), ReLU(), Dropout(dropout))

    def branch_outputs(self, x):
        """The five (N, out_channels, H, W) branch outputs, before the concatenation."""
        if x.ndim != 4:
            raise ValueError(f"ASPP: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
        return [branch(x) for branch in self.convs]

    def forward(self, x):
        return self.project(cat(self.branch_outputs(x), dim=1))

    def extra_repr(self):
        return f"atrous_rates={self.atrous_rates}"


# =========================================================================== the networks
class DeepLabV3(Module):
    """DeepLabv3: dilated ResNet (multi-grid) + ASPP + 1x1 classifier, upsampled bilinearly to H x W.

    Args:
        num_classes: number of classes.
        in_channels: image channels.
        backbone: ``"resnet18"``, ``"resnet34"``, ``"resnet50"`` or ``"resnet101"`` (paper).
        layers: blocks per stage, overriding the backbone's (default (1, 1, 1, 3), small).
        base_channels: planes of layer1 (ResNet: 64).
        output_stride: 16 (default) or 8.
        multi_grid: factors of layer4's unit rates (paper: (1, 2, 4)); None for one rate.
        atrous_rates: ASPP rates; default :func:`atrous_rates_for` the output stride.
        aspp_channels: width of ASPP (paper: 256).
        aspp_dropout: dropout after ASPP's projection.
        separable: atrous separable convolutions in ASPP.
    """

    def __init__(self, num_classes, in_channels=3, backbone="resnet18", layers=(1, 1, 1, 3), base_channels=8,
                 output_stride=16, multi_grid=(1, 2, 4), atrous_rates=None, aspp_channels=32, aspp_dropout=0.1,
                 separable=False):
        super().__init__()
        self.num_classes, self.output_stride = num_classes, output_stride
        self.backbone = dilated_resnet(backbone, layers, in_channels, base_channels, output_stride, multi_grid)
        rates = atrous_rates_for(output_stride) if atrous_rates is None else tuple(atrous_rates)
        self.aspp = ASPP(self.backbone.out_channels, rates, aspp_channels, separable, aspp_dropout)
        self.classifier = Conv2d(aspp_channels, num_classes, 1)

    @classmethod
    def paper(cls, num_classes=21, in_channels=3, **overrides):
        """The paper's DeepLabv3: ResNet-101, output stride 16, multi-grid (1, 2, 4), ASPP 256."""
        return cls(num_classes, in_channels, **{**PAPER_V3, **overrides})

    def forward(self, x):
        features = resnet_stages(self.backbone, x)[-1]              # (N, C, H / os, W / os)
        scores = self.classifier(self.aspp(features))
        return F.interpolate(scores, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)


class DeepLabV3Plus(Module):
    """DeepLabv3+: the DeepLabv3 encoder and a decoder fed with layer1's low-level features.

    Args (besides those of :class:`DeepLabV3`):
        low_level_channels: layer1's features are reduced to this many channels (paper: 48).
        decoder_channels: width of the decoder's two 3x3 convolutions (paper: 256).
        separable: atrous separable convolutions in ASPP and the decoder (paper: True).
    """

    def __init__(self, num_classes, in_channels=3, backbone="resnet18", layers=(1, 1, 1, 3), base_channels=8,
                 output_stride=16, multi_grid=(1, 2, 4), atrous_rates=None, aspp_channels=32, aspp_dropout=0.1,
                 low_level_channels=12, decoder_channels=32, separable=True):
        super().__init__()
        self.num_classes, self.output_stride = num_classes, output_stride
        self.backbone = dilated_resnet(backbone, layers, in_channels, base_channels, output_stride, multi_grid)
        rates = atrous_rates_for(output_stride) if atrous_rates is None else tuple(atrous_rates)
        self.aspp = ASPP(self.backbone.out_channels, rates, aspp_channels, separable, aspp_dropout)
        layer1_channels = base_channels * BACKBONES[backbone][0].expansion
        self.low_level = Sequential(Conv2d(layer1_channels, low_level_channels, 1, bias=False),
                                    BatchNorm2d(low_level_channels), ReLU())
        fuse_in = aspp_channels + low_level_channels
        if separable:
            self.decoder = Sequential(*atrous_separable_conv(fuse_in, decoder_channels),
                                      *atrous_separable_conv(decoder_channels, decoder_channels))
        else:
            self.decoder = Sequential(Conv2d(fuse_in, decoder_channels, 3, padding=1, bias=False),
                                      BatchNorm2d(decoder_channels), ReLU(),
                                      Conv2d(decoder_channels, decoder_channels, 3, padding=1, bias=False),
                                      BatchNorm2d(decoder_channels), ReLU())
        self.classifier = Conv2d(decoder_channels, num_classes, 1)

    @classmethod
    def paper(cls, num_classes=21, in_channels=3, **overrides):
        """DeepLabv3+ on ResNet-101: ASPP 256, low-level 48, decoder 256, atrous separable convolutions."""
        return cls(num_classes, in_channels, **{**PAPER_V3PLUS, **overrides})

    def forward(self, x):
        stages = resnet_stages(self.backbone, x)
        low, high = stages[0], stages[-1]                           # stride 4 and stride 8 or 16
        encoded = self.aspp(high)
        encoded = F.interpolate(encoded, size=tuple(low.shape[2:]), mode="bilinear", align_corners=False)
        fused = self.decoder(cat([encoded, self.low_level(low)], dim=1))
        scores = self.classifier(fused)                             # stride 4
        return F.interpolate(scores, size=tuple(x.shape[2:]), mode="bilinear", align_corners=False)


def deeplabv3(num_classes=21, in_channels=3, paper=False, **kwargs):
    """DeepLabv3; ``paper=True``: ResNet-101, output stride 16, multi-grid (1, 2, 4), ASPP 256
    (58,040,661 parameters for 21 classes)."""
    return (DeepLabV3.paper if paper else DeepLabV3)(num_classes, in_channels, **kwargs)


def deeplabv3plus(num_classes=21, in_channels=3, paper=False, **kwargs):
    """DeepLabv3+; ``paper=True``: ResNet-101 encoder, ASPP 256, decoder 48 / 256, separable
    (45,688,261 parameters for 21 classes)."""
    return (DeepLabV3Plus.paper if paper else DeepLabV3Plus)(num_classes, in_channels, **kwargs)
