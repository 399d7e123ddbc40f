"""ResNet (He et al. 2016), ResNeXt, wide ResNets, and ResNets with attention in every block.

He, Zhang, Ren, Sun, "Deep Residual Learning for Image Recognition", CVPR 2016;
Xie et al., "Aggregated Residual Transformations for Deep Neural Networks"
(ResNeXt), CVPR 2017; Zagoruyko & Komodakis, "Wide Residual Networks", 2016.

A residual block learns a *correction* F(x) to its input instead of a whole
new mapping:

    y = relu(F(x) + shortcut(x))

where the shortcut is the identity, or a 1x1 convolution + batch norm
(``downsample``) when the block changes the width or the resolution.

* ``BasicBlock`` (ResNet-18/34): F = conv3x3 - BN - ReLU - conv3x3 - BN.
* ``Bottleneck`` (ResNet-50/101): F = conv1x1 (reduce to ``width``) - BN - ReLU -
  conv3x3 (stride, groups) - BN - ReLU - conv1x1 (expand to 4 x planes) - BN.
  ``width = int(planes * width_per_group / 64) * groups``: ``groups=32,
  width_per_group=4`` is ResNeXt-50 (32x4d); ``width_per_group=128`` is the
  wide ResNet-50-2.

The layout, the defaults and the state_dict keys are torchvision's
(``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``), so
its weights load, and the parameter counts are torchvision's: 11,689,512
(ResNet-18), 21,797,672 (-34), 25,557,032 (-50), 44,549,160 (-101).
Initialisation is torchvision's too: convolutions kaiming-normal with
``mode="fan_out"``, batch norms weight 1 and bias 0, the classifier PyTorch's
default.

Attention (``attention=``: SE, ECA, CBAM, Gather-Excite, BAM or SK) goes where
each paper puts it; ``resnet_attention.py`` says where, and builds the modules.

``attention_kwargs`` (a dict) is passed to each attention module (e.g.
``{"reduction_factor": 4}`` for narrow networks: SE, CBAM and BAM need
``channels >= reduction_factor``). Attention modules keep their own
initialisation; torchvision's initialisation is applied to the ResNet's layers.

Options beyond torchvision's, for small images and segmentation backbones:

* ``base_channels`` (default 64): planes of layer1; the stages use 1x, 2x, 4x, 8x.
* ``small_input=True``: a 3x3 stride-1 stem without max pooling (CIFAR-style),
  so 8x8 or 32x32 images are not shrunk 4x before the first block.
* ``replace_stride_with_dilation`` (torchvision's option): a stage keeps its
  input resolution and dilates its 3x3 convolutions instead; supported by basic
  blocks too (torchvision refuses), for DANet's dilated backbones.
* ``num_classes=None``: no pooling and classifier; ``forward`` returns the
  feature map of layer4.
"""
from .. import functional as F
from .. import init
from ..nn.attention.bam import BAM
from ..nn.attention.selective_kernel import SK
from ..nn.containers import Sequential
from ..nn.conv import Conv2d
from ..nn.layers import Identity, Linear
from ..nn.module import Module
from ..nn.normalization import BatchNorm2d
from ..nn.pooling import AdaptiveAvgPool2d, MaxPool2d
from .resnet_attention import ATTENTIONS, block_attention, check_attention, check_sk_dilation

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "ATTENTIONS", "resnet18", "resnet34", "resnet50",
           "resnet101", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"]

def resnet_stem(in_channels, base_channels, small_input=False):
    """ResNet's stem as (conv1, bn1, maxpool): a 7x7/2 conv and a 3x3/2 max pool (224 -> 56), or, for
    small images, a 3x3/1 conv and no pooling (the stem of the residual attention networks too)."""
    if small_input:
        conv1 = Conv2d(in_channels, base_channels, kernel_size=3, stride=1, padding=1, bias=False)
    else:
        conv1 = Conv2d(in_channels, base_channels, kernel_size=7, stride=2, padding=3, bias=False)
    maxpool = Identity() if small_input else MaxPool2d(kernel_size=3, stride=2, padding=1)
    return conv1, BatchNorm2d(base_channels), maxpool


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution without bias; padding = dilation keeps the size at stride 1."""
    return Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                  bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution without bias (a per-position linear map over channels)."""
    return Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(Module):
    """y = relu(A(bn2(conv2(relu(bn1(conv1(x)))))) + shortcut(x)), A the optional attention.

    With ``attention="sk"`` conv2 is an SK convolution (with BN and ReLU inside) and bn2 is gone.
    """

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 attention=None, attention_kwargs=None):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock only supports groups=1 and base_width=64 (as torchvision); got "
                             f"groups={groups}, base_width={base_width}; use a Bottleneck network "
                             "(resnet50, resnext50_32x4d, wide_resnet50_2) for grouped or wider blocks")
        self.conv1 = conv3x3(inplanes, planes, stride, dilation=dilation)
        self.bn1 = BatchNorm2d(planes)
        self.uses_sk = attention == "sk"
        check_sk_dilation(attention, dilation)
        if self.uses_sk:
            self.conv2 = SK(planes, stride=1, groups=groups, **(attention_kwargs or {}))
        else:
            self.conv2 = conv3x3(planes, planes, dilation=dilation)
            self.bn2 = BatchNorm2d(planes)
        self.attention = block_attention(attention, planes, attention_kwargs)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out) if self.uses_sk else self.bn2(self.conv2(out))
        if self.attention is not None:
            out = self.attention(out)          # on the residual branch, before the addition
        return F.relu(out + identity)


class Bottleneck(Module):
    """y = relu(A(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))) + shortcut(x)).

    The stride sits on the 3x3 convolution (torchvision's "ResNet v1.5"). With
    ``attention="sk"`` conv2 is an SK convolution (with BN and ReLU inside) and bn2 is gone.
    """

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1,
                 attention=None, attention_kwargs=None):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = BatchNorm2d(width)
        self.uses_sk = attention == "sk"
        check_sk_dilation(attention, dilation)
        if self.uses_sk:
            self.conv2 = SK(width, stride=stride, groups=groups, **(attention_kwargs or {}))
        else:
            self.conv2 = conv3x3(width, width, stride, groups, dilation)
            self.bn2 = BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = BatchNorm2d(planes * self.expansion)
        self.attention = block_attention(attention, planes * self.expansion, attention_kwargs)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.conv2(out) if self.uses_sk else F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.attention is not None:
            out = self.attention(out)          # on the residual branch, before the addition
        return F.relu(out + identity)


class ResNet(Module):
    """ResNet with torchvision's layout and keys; see the module docstring for the options.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: number of blocks in each of the four stages, e.g. ``[2, 2, 2, 2]``.
        num_classes: outputs of ``fc`` (default 1000); ``None`` for a feature extractor.
        attention: one of ``None, "se", "eca", "cbam", "bam", "ge", "sk"``.
        attention_kwargs: keyword arguments for every attention module.
        groups, width_per_group: ResNeXt / wide-ResNet bottleneck width (torchvision's).
        in_channels: image channels (default 3).
        base_channels: planes of layer1 (default 64).
        small_input: 3x3 stride-1 stem and no max pooling (for 8x8 .. 32x32 images).
        replace_stride_with_dilation: three booleans for layer2..layer4 (torchvision's).
        zero_init_residual: start the last BN of every block at 0, so blocks start as identities.
    """

    def __init__(self, block, layers, num_classes=1000, attention=None, attention_kwargs=None, groups=1,
                 width_per_group=64, in_channels=3, base_channels=64, small_input=False,
                 replace_stride_with_dilation=None, zero_init_residual=False):
        super().__init__()
        check_attention(attention)
        if block not in (BasicBlock, Bottleneck):
            raise ValueError(f"ResNet: block must be BasicBlock or Bottleneck, got {block!r}")
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must give the number of blocks of the 4 stages, got {layers!r}")
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("ResNet: replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation!r}")
        self.attention, self.attention_kwargs = attention, attention_kwargs
        self.inplanes, self.dilation = base_channels, 1
        self.groups, self.base_width = groups, width_per_group
        self.in_channels, self.small_input = in_channels, small_input

        self.conv1, self.bn1, self.maxpool = resnet_stem(in_channels, base_channels, small_input)

        self.layer1 = self._make_layer(block, base_channels, layers[0])
        self.layer2 = self._make_layer(block, base_channels * 2, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, base_channels * 4, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, base_channels * 8, layers[3], 2, replace_stride_with_dilation[2])
        self.out_channels = base_channels * 8 * block.expansion
        if attention == "bam":
            # BAM sits at the "bottlenecks" of the network: after stages 1-3, before the next downsampling.
            kwargs = attention_kwargs or {}
            self.bam1 = BAM(base_channels * block.expansion, **kwargs)
            self.bam2 = BAM(base_channels * 2 * block.expansion, **kwargs)
            self.bam3 = BAM(base_channels * 4 * block.expansion, **kwargs)
        else:
            self.bam1 = self.bam2 = self.bam3 = None

        if num_classes is None:
            self.avgpool, self.fc = None, None
        else:
            self.avgpool = AdaptiveAvgPool2d((1, 1))
            self.fc = Linear(self.out_channels, num_classes)
        self.num_classes = num_classes
        self._init_weights(zero_init_residual)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        """One stage: ``blocks`` blocks, the first one changing the width and (stride) the resolution."""
        downsample, previous_dilation = None, self.dilation
        if dilate:                     # keep the resolution: dilate the 3x3 convolutions instead
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                    BatchNorm2d(planes * block.expansion))
        options = dict(groups=self.groups, base_width=self.base_width, attention=self.attention,
                       attention_kwargs=self.attention_kwargs)
        layers = [block(self.inplanes, planes, stride, downsample, dilation=previous_dilation, **options)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, dilation=self.dilation, **options))
        return Sequential(*layers)

    def _attention_modules(self):
        """The attention modules of the network, in forward order (block attention, BAM, SK)."""
        return [m for name, m in self.named_modules()
                if name.rsplit(".", 1)[-1] in ("attention", "bam1", "bam2", "bam3") or isinstance(m, SK)]

    def _init_weights(self, zero_init_residual):
        """torchvision's initialisation for the ResNet's own layers (attention modules keep theirs)."""
        attention_parts = {id(sub) for m in self._attention_modules() for sub in m.modules()}
        for m in self.modules():
            if id(m) in attention_parts:
                continue
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock) and not m.uses_sk:
                    init.zeros_(m.bn2.weight)

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__}: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")

    def forward_features(self, x):
        """The feature map of layer4, (N, out_channels, H/32, W/32) (less reduction with the options)."""
        self._check_input(x)
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(x)
        x = self.layer1(x)
        if self.bam1 is not None:
            x = self.bam1(x)
        x = self.layer2(x)
        if self.bam2 is not None:
            x = self.bam2(x)
        x = self.layer3(x)
        if self.bam3 is not None:
            x = self.bam3(x)
        return self.layer4(x)

    def forward(self, x):
        x = self.forward_features(x)
        if self.fc is None:
            return x
        x = self.avgpool(x).flatten(1)          # global average pooling: (N, out_channels)
        return self.fc(x)

    def attention_maps(self):
        """The ``last_attention`` of every attention module, in forward order, after a forward pass."""
        return [m.last_attention for m in self._attention_modules() if m.last_attention is not None]

    def extra_repr(self):
        return f"attention={self.attention!r}" if self.attention else ""


def _resnet(block, layers, **kwargs):
    return ResNet(block, layers, **kwargs)


def resnet18(num_classes=1000, **kwargs):
    """ResNet-18: basic blocks [2, 2, 2, 2]; 11,689,512 parameters (1000 classes)."""
    return _resnet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **kwargs)


def resnet34(num_classes=1000, **kwargs):
    """ResNet-34: basic blocks [3, 4, 6, 3]; 21,797,672 parameters."""
    return _resnet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


def resnet50(num_classes=1000, **kwargs):
    """ResNet-50: bottlenecks [3, 4, 6, 3]; 25,557,032 parameters."""
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


def resnet101(num_classes=1000, **kwargs):
    """ResNet-101: bottlenecks [3, 4, 23, 3]; 44,549,160 parameters."""
    return _resnet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs)


def resnext50_32x4d(num_classes=1000, **kwargs):
    """ResNeXt-50 (32x4d): 32 groups of width 4 in the first stage; 25,028,904 parameters."""
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, groups=32, width_per_group=4, **kwargs)


def resnext101_32x8d(num_classes=1000, **kwargs):
    """ResNeXt-101 (32x8d); 88,791,336 parameters."""
    return _resnet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, groups=32, width_per_group=8,
                   **kwargs)


def wide_resnet50_2(num_classes=1000, **kwargs):
    """Wide ResNet-50-2: bottlenecks twice as wide inside; 68,883,240 parameters."""
    return _resnet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, width_per_group=128, **kwargs)


def wide_resnet101_2(num_classes=1000, **kwargs):
    """Wide ResNet-101-2; 126,886,696 parameters."""
    return _resnet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, width_per_group=128, **kwargs)
