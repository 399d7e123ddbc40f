"""Residual Attention Network: Attention-56 and Attention-92 (Wang et al., CVPR 2017).

Wang, Jiang, Qian, Yang, Li, Zhang, Wang, Tang, "Residual Attention Network
for Image Classification", CVPR 2017.

A ResNet-like trunk of pre-activation bottleneck residual units
(:class:`~minicnn.nn.ResidualUnit`) into which *attention modules*
(:class:`~minicnn.nn.ResidualAttentionModule`) are stacked. Each module
multiplies its trunk features by (1 + M(x)), M a soft mask in (0, 1) from an
hourglass branch whose number of max-pooling steps shrinks with the stage so
that the smallest mask map is 7x7 at 224x224 (3, 2, 1 steps on 56x56, 28x28,
14x14 maps). The stages (the paper's ImageNet architecture, 224x224 inputs)::

    conv1     7x7, 64, stride 2 - BN - ReLU; max pool 3x3, stride 2       112 -> 56
    layer1    residual unit 64 -> 256;              n1 attention modules (3 poolings)   56x56
    layer2    residual unit 256 -> 512, stride 2;   n2 attention modules (2 poolings)   28x28
    layer3    residual unit 512 -> 1024, stride 2;  n3 attention modules (1 pooling)    14x14
    layer4    residual unit 1024 -> 2048, stride 2; 2 more residual units             7x7
    BN - ReLU (the units are pre-activation), global average pooling (7x7), fc (1000)

Attention-56 has (n1, n2, n3) = (1, 1, 1) modules, Attention-92 (1, 2, 3).
The residual units are bottlenecks: 1x1 (C_out/4) - 3x3 (C_out/4) - 1x1 (C_out).

Parameter counts (1000 classes), measured here against the paper's figures:

    Attention-56:  31,810,728   (paper 31.9M: -0.3%)
    Attention-92:  52,466,344   (paper 51.3M: +2.3%)

Every module follows the official Caffe graph (p = 1, t = 2, r = 1, two 1x1
convolutions in the mask head). Attention-92 has three modules more than
Attention-56, one in stage 2 (3,046,912 parameters) and two in stage 3
(8,804,352 each), 20.66M together, while the paper's two totals differ by
19.4M; the 1.2M gap is the paper's (rounding or a slightly slimmer module
in its count), not a missing or extra layer here. ``tests/test_models.py``
pins the measured counts and checks them against the paper within 1% and 3%.

``small_input=True`` swaps the stem for a 3x3 stride-1 convolution without max
pooling (for 32x32 images); ``base_channels`` (default 64) scales every width
(stage widths 4, 8, 16, 32 x base_channels). ``model.attention_maps()``
returns the masks M of all attention modules after a forward pass.
"""
from .. import functional as F
from ..nn.attention.residual_attention import ResidualAttentionModule, ResidualUnit
from ..nn.containers import Sequential
from ..nn.layers import Linear
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d
from ..nn.pooling import AdaptiveAvgPool2d
from .resnet import resnet_stem

__all__ = ["ResidualAttentionNet", "attention56", "attention92", "PAPER_PARAMETERS"]

# Parameter counts reported in the paper, for 1000 classes.
PAPER_PARAMETERS = {"attention56": 31.9e6, "attention92": 51.3e6}
# Max-pooling steps of the attention modules' mask branches in stages 1, 2, 3.
MASK_DEPTHS = (3, 2, 1)


class ResidualAttentionNet(Module):
    """A Residual Attention Network with ``modules_per_stage`` attention modules in stages 1-3.

    Args:
        modules_per_stage: attention modules in stages 1, 2, 3 ((1, 1, 1): Attention-56;
            (1, 2, 3): Attention-92).
        num_classes: outputs of ``fc`` (default 1000).
        in_channels: image channels (default 3).
        base_channels: stem width (default 64); stage k has 4 * 2**(k-1) * base_channels channels.
        small_input: 3x3 stride-1 stem, no max pooling (for 32x32 images).
        mask_depths: max-pooling steps of the mask branches in stages 1-3 (default (3, 2, 1)).
    """

    def __init__(self, modules_per_stage=(1, 1, 1), num_classes=1000, in_channels=3, base_channels=64,
                 small_input=False, mask_depths=MASK_DEPTHS):
        super().__init__()
        if len(modules_per_stage) != 3 or len(mask_depths) != 3:
            raise ValueError(f"ResidualAttentionNet: modules_per_stage and mask_depths need 3 entries "
                             f"(stages 1-3), got {modules_per_stage!r} and {mask_depths!r}")
        self.in_channels, self.num_classes = in_channels, num_classes
        widths = [4 * base_channels * 2 ** k for k in range(4)]          # 256, 512, 1024, 2048

        self.conv1, self.bn1, self.maxpool = resnet_stem(in_channels, base_channels, small_input)

        in_width = base_channels
        for stage in range(3):
            units = [ResidualUnit(in_width, widths[stage], stride=1 if stage == 0 else 2)]
            units += [ResidualAttentionModule(widths[stage], depth=mask_depths[stage])
                      for _ in range(modules_per_stage[stage])]
            setattr(self, f"layer{stage + 1}", Sequential(*units))
            in_width = widths[stage]
        self.layer4 = Sequential(ResidualUnit(widths[2], widths[3], stride=2),
                                 ResidualUnit(widths[3]), ResidualUnit(widths[3]))
        self.bn = BatchNorm2d(widths[3])          # the final pre-activation BN - ReLU
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(widths[3], num_classes)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResidualAttentionNet: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = F.relu(self.bn(x))
        return self.fc(self.avgpool(x).flatten(1))

    def attention_maps(self):
        """The soft masks M (N, C, H, W) of every attention module, in forward order."""
        return [m.last_attention for m in self.modules() if isinstance(m, ResidualAttentionModule)]


def attention56(num_classes=1000, **kwargs):
    """Attention-56: one attention module in each of stages 1, 2, 3 (paper: 31.9M parameters)."""
    return ResidualAttentionNet((1, 1, 1), num_classes=num_classes, **kwargs)


def attention92(num_classes=1000, **kwargs):
    """Attention-92: 1, 2, 3 attention modules in stages 1, 2, 3 (paper: 51.3M parameters)."""
    return ResidualAttentionNet((1, 2, 3), num_classes=num_classes, **kwargs)
