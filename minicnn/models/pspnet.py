"""PSPNet: the pyramid pooling module and deep supervision with an auxiliary loss.

Zhao, Shi, Qi, Wang & Jia, "Pyramid Scene Parsing Network", CVPR 2017 ([Zhao et al., 2017] in
docs/bibliography.md).

Many mistakes of FCN on scene parsing (ADE20K) are about *global context*: a
boat labelled "car" on water, a skyscraper split into "building" and
"skyscraper", a small pillow lost on a bed with the same pattern. The
receptive field of a ResNet is large on paper, but the *empirical*
receptive field is much smaller. PSPNet adds a global prior with the
**pyramid pooling module** (:class:`PyramidPoolingModule`):

    for every bin size b in (1, 2, 3, 6):
        average-pool the features into a b x b grid     (AdaptiveAvgPool2d(b))
        1x1 conv to C / 4 channels, BN, ReLU             (so the four levels together add C channels)
        upsample bilinearly back to H x W
    concatenate [features, the four levels]              (2C channels)

Level 1 is a global average, levels 2, 3, 6 summarise sub-regions: the
paper's ablation (ResNet50, ADE20K val) finds average pooling with bins
1, 2, 3, 6 and the dimension reduction best ("B1236+AVE+DR", 41.68 mean IoU).
A 3x3 conv (512) + BN + ReLU + dropout 0.1 + 1x1 conv then scores the classes.

**Deep supervision.** The backbone is a ResNet with dilated layer3 and layer4
(output stride 8, :func:`minicnn.models.deeplab.dilated_resnet`). An
*auxiliary* head on layer3 (3x3 conv 256, BN, ReLU, dropout, 1x1 conv) gets
its own cross-entropy during training only, weighted by alpha
(:func:`pspnet_loss`):

    loss = CE(main scores, target) + alpha * CE(auxiliary scores, target),    alpha = 0.4

(the paper's ablation: 0.4 is best, ResNet50 37.23 mean IoU vs 35.82 without
the auxiliary loss). In training mode (``model.train()``) with ``aux=True``
:meth:`PSPNet.forward` returns ``(main, aux)``; in eval mode only ``main``, as in
the authors' code (so :class:`minicnn.train.Trainer` evaluates it unchanged).

Names and details follow the authors' PyTorch code (hszhao/semseg: ``ppm``,
``cls``, ``aux``; bilinear upsampling with ``align_corners=True``; the
convolutions before a BN have no bias), with torchvision's ResNet stem
instead of their three-convolution stem. Defaults are small for the 64x64
cells: basic blocks (1, 1, 1, 1), ``base_channels=8``, head width 32;
``PSPNet.paper()``: ResNet-50 (the paper's ablation backbone), head 512,
auxiliary 256: 49,057,132 parameters for ADE20K's 150 classes (67,949,930 with
``backbone="resnet101"`` and 21 classes).
"""
from .. import functional as F
from ..nn.containers import ModuleList, Sequential
from ..nn.conv import Conv2d
from ..nn.layers import Dropout2d, ReLU
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d
from ..nn.pooling import AdaptiveAvgPool2d
from ..ops import cat
from .deeplab import BACKBONES, dilated_resnet, resnet_stages

__all__ = ["PyramidPoolingModule", "PSPNet", "pspnet_loss"]

PAPER = dict(backbone="resnet50", layers=None, base_channels=64, head_channels=512, aux_channels=256)


class PyramidPoolingModule(Module):
    """Concatenate the input with its pooled-and-upsampled summaries over ``bins`` x ``bins`` grids.

    Args:
        in_channels: C, the channels of the features.
        bins: grid sizes of the levels (paper: 1, 2, 3, 6).
        reduction_channels: channels of each level after its 1x1 conv (default C / len(bins)).

    Output: (N, C + len(bins) * reduction_channels, H, W); ``stages`` holds the levels.
    """

    def __init__(self, in_channels, bins=(1, 2, 3, 6), reduction_channels=None):
        super().__init__()
        if len(bins) < 1:
            raise ValueError("PyramidPoolingModule: give at least one bin size")
        reduction_channels = reduction_channels or max(1, in_channels // len(bins))
        self.bins, self.in_channels = tuple(bins), in_channels
        self.out_channels = in_channels + len(bins) * reduction_channels
        self.stages = ModuleList([
            Sequential(AdaptiveAvgPool2d(b), Conv2d(in_channels, reduction_channels, 1, bias=False),
                       BatchNorm2d(reduction_channels), ReLU())
            for b in self.bins])

    def branch_outputs(self, x):
        """The pooled levels, each upsampled to (N, reduction_channels, H, W)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"PyramidPoolingModule: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        size = tuple(x.shape[2:])
        return [F.interpolate(stage(x), size=size, mode="bilinear", align_corners=True) for stage in self.stages]

    def forward(self, x):
        return cat([x] + self.branch_outputs(x), dim=1)

    def extra_repr(self):
        return f"bins={self.bins}"


def _head(in_channels, width, num_classes, dropout):
    """3x3 conv (no bias), BN, ReLU, Dropout2d, 1x1 conv to the classes."""
    return Sequential(Conv2d(in_channels, width, 3, padding=1, bias=False), BatchNorm2d(width), ReLU(),
                      Dropout2d(dropout), Conv2d(width, num_classes, 1))


class PSPNet(Module):
    """PSPNet: dilated ResNet (output stride 8), pyramid pooling, classifier; auxiliary head on layer3.

    Args:
        num_classes: number of classes.
        in_channels: image channels.
        backbone: ``"resnet18"``, ``"resnet34"``, ``"resnet50"`` or ``"resnet101"``.
        layers: blocks per stage (default (1, 1, 1, 1), small).
        base_channels: planes of layer1 (ResNet: 64).
        output_stride: 8 (paper) or 16.
        bins: the pyramid's grid sizes (paper: 1, 2, 3, 6).
        head_channels: width of the 3x3 conv after the pyramid (paper: 512).
        aux: add the auxiliary head (training mode then returns ``(main, aux)``).
        aux_channels: width of the auxiliary head (paper: 256).
        dropout: Dropout2d rate in both heads (0.1).
    """

    def __init__(self, num_classes, in_channels=3, backbone="resnet18", layers=(1, 1, 1, 1), base_channels=8,
                 output_stride=8, bins=(1, 2, 3, 6), head_channels=32, aux=True, aux_channels=16, dropout=0.1):
        super().__init__()
        self.num_classes, self.aux_enabled = num_classes, aux
        self.backbone = dilated_resnet(backbone, layers, in_channels, base_channels, output_stride,
                                       multi_grid=None)
        features = self.backbone.out_channels
        self.ppm = PyramidPoolingModule(features, bins)
        self.cls = _head(self.ppm.out_channels, head_channels, num_classes, dropout)
        if aux:
            layer3_channels = base_channels * 4 * BACKBONES[backbone][0].expansion
            self.aux = _head(layer3_channels, aux_channels, num_classes, dropout)

    @classmethod
    def paper(cls, num_classes=150, in_channels=3, **overrides):
        """The paper's ablation network: ResNet-50, output stride 8, head 512, auxiliary head 256 (ADE20K: 150
        classes); ``backbone="resnet101"`` for the benchmark networks."""
        return cls(num_classes, in_channels, **{**PAPER, **overrides})

    def forward(self, x):
        size = tuple(x.shape[2:])
        _, _, layer3, layer4 = resnet_stages(self.backbone, x)
        main = self.cls(self.ppm(layer4))
        main = F.interpolate(main, size=size, mode="bilinear", align_corners=True)
        if self.aux_enabled and self.training:
            aux = F.interpolate(self.aux(layer3), size=size, mode="bilinear", align_corners=True)
            return main, aux
        return main


def pspnet_loss(main, aux, target, alpha=0.4, **kwargs):
    """PSPNet's deeply supervised loss: CE(main, target) + alpha * CE(aux, target) (paper: alpha = 0.4).

    ``kwargs`` go to both :func:`minicnn.functional.cross_entropy` calls (``weight``,
    ``ignore_index``, ``pixel_weight`` ...). ``aux=None`` gives the main loss alone.
    """
    loss = F.cross_entropy(main, target, **kwargs)
    if aux is None or alpha == 0:
        return loss
    return loss + alpha * F.cross_entropy(aux, target, **kwargs)

