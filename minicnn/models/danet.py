"""DANet: Dual Attention Network for scene segmentation (Fu et al., CVPR 2019).

A dilated ResNet keeps the resolution of the last two stages (output stride
8: a 512x512 image gives 64x64 features), and a head with two parallel
self-attention branches adds long-range context to the local features
(layout and names of the official code, junfu1115/DANet ``DANetHead``):

    position branch:  conv5a (3x3, C -> C/4) - BN - ReLU - PAM (sa) - conv51 (3x3) - BN - ReLU
    channel branch:   conv5c (3x3, C -> C/4) - BN - ReLU - CAM (sc) - conv52 (3x3) - BN - ReLU
    fusion:           sum of the two branches - Dropout2d(0.1) - 1x1 conv to the classes (conv8)
    output:           bilinear up-sampling (align_corners=True) to the input's H x W

PAM lets every position attend to every other position (an (HW x HW)
affinity); CAM lets every channel attend to every other channel (C x C). Both
start as identities (their gamma is 0) and learn how much context to mix in.
With ``aux=True`` the head also predicts from each branch alone (conv6, conv7:
Dropout2d + 1x1 conv), and ``forward`` returns ``(fused, position, channel)``
scores, each up-sampled, for the auxiliary losses of the official training.

Backbone: ``minicnn.models.resnet`` without its classifier (``num_classes=None``)
and with ``replace_stride_with_dilation`` chosen from ``output_stride``:
8 -> (False, True, True), 16 -> (False, False, True), 32 -> no dilation. The
paper uses ResNet-50/101 with output stride 8; for the course's small images
use e.g. ``DANet(num_classes, backbone="resnet18", base_channels=16,
small_input=True)``.

``model.attention_maps()`` returns ``[S, X]`` of the last forward pass: PAM's
position affinity S (N, HW, HW) and CAM's channel affinity X (N, C/4, C/4).
"""
from .. import functional as F
from ..nn.attention.danet import CAM, PAM
from ..nn.containers import Sequential
from ..nn.conv import Conv2d
from ..nn.layers import Dropout2d, ReLU
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d
from . import resnet as resnets

__all__ = ["DANet", "DANetHead"]

BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")
DILATIONS = {8: [False, True, True], 16: [False, False, True], 32: [False, False, False]}


def _conv_bn_relu(in_channels, out_channels):
    """3x3 conv (no bias) - BN - ReLU, keeping the size."""
    return Sequential(Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                      BatchNorm2d(out_channels), ReLU())


class DANetHead(Module):
    """The dual attention head: position (PAM) and channel (CAM) branches, summed, then 1x1 conv.

    Args:
        in_channels: channels of the backbone features.
        num_classes: output score maps.
        inter_channels: width of the branches (default in_channels // 4, as the official code).
        dropout: Dropout2d rate before the classifiers (default 0.1).
        aux: also return the predictions of each branch alone.
        cam_variant: CAM's ``variant`` (``"paper"``, the default of ``minicnn.nn.CAM``, or ``"official"``).
    """

    def __init__(self, in_channels, num_classes, inter_channels=None, dropout=0.1, aux=False,
                 cam_variant="paper"):
        super().__init__()
        inter_channels = inter_channels or in_channels // 4
        if inter_channels < 8:
            raise ValueError(f"DANetHead: the branches need at least 8 channels (PAM's query and key have "
                             f"C // 8), got inter_channels={inter_channels} (in_channels={in_channels})")
        self.aux = aux
        self.conv5a = _conv_bn_relu(in_channels, inter_channels)
        self.conv5c = _conv_bn_relu(in_channels, inter_channels)
        self.sa = PAM(inter_channels)
        self.sc = CAM(variant=cam_variant)
        self.conv51 = _conv_bn_relu(inter_channels, inter_channels)
        self.conv52 = _conv_bn_relu(inter_channels, inter_channels)
        if aux:
            self.conv6 = Sequential(Dropout2d(dropout), Conv2d(inter_channels, num_classes, kernel_size=1))
            self.conv7 = Sequential(Dropout2d(dropout), Conv2d(inter_channels, num_classes, kernel_size=1))
        self.conv8 = Sequential(Dropout2d(dropout), Conv2d(inter_channels, num_classes, kernel_size=1))

    def forward(self, x):
        position = self.conv51(self.sa(self.conv5a(x)))     # position attention branch
        channel = self.conv52(self.sc(self.conv5c(x)))      # channel attention branch
        fused = self.conv8(position + channel)              # sum fusion, then the classifier
        if self.aux:
            return fused, self.conv6(position), self.conv7(channel)
        return fused


class DANet(Module):
    """Dilated ResNet + dual attention head: (N, in_channels, H, W) -> (N, num_classes, H, W).

    Args:
        num_classes: number of classes (score maps).
        backbone: ``"resnet18"``, ``"resnet34"``, ``"resnet50"`` (default, the paper) or ``"resnet101"``.
        in_channels: image channels (default 3).
        base_channels: planes of the backbone's first stage (default 64).
        output_stride: 8 (default, the paper), 16 or 32: input size / feature size.
        small_input: 3x3 stride-1 stem without max pooling (for small images; the output stride
            is then ``output_stride / 4``).
        aux: return the two auxiliary branch predictions too (see :class:`DANetHead`).
        dropout, cam_variant, inter_channels: passed to the head.
    """

    def __init__(self, num_classes, backbone="resnet50", in_channels=3, base_channels=64, output_stride=8,
                 small_input=False, aux=False, dropout=0.1, cam_variant="paper", inter_channels=None):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"DANet: unknown backbone {backbone!r}; expected one of {BACKBONES}")
        if output_stride not in DILATIONS:
            raise ValueError(f"DANet: output_stride must be 8, 16 or 32, got {output_stride!r}")
        self.num_classes, self.aux = num_classes, aux
        self.backbone = getattr(resnets, backbone)(
            num_classes=None, in_channels=in_channels, base_channels=base_channels, small_input=small_input,
            replace_stride_with_dilation=DILATIONS[output_stride])
        self.head = DANetHead(self.backbone.out_channels, num_classes, inter_channels, dropout, aux,
                              cam_variant)

    def forward(self, x):
        size = tuple(x.shape[2:])
        features = self.backbone(x)                         # (N, C, H/os, W/os)
        out = self.head(features)
        if self.aux:
            return tuple(F.interpolate(o, size=size, mode="bilinear", align_corners=True) for o in out)
        return F.interpolate(out, size=size, mode="bilinear", align_corners=True)

    def attention_maps(self):
        """[PAM's S (N, HW, HW), CAM's X (N, C', C')] of the last forward pass."""
        return [self.head.sa.last_attention, self.head.sc.last_attention]
