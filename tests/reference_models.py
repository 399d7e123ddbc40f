"""PyTorch twins of the networks in ``minicnn.models`` (test-only references).

Each twin is written with plain ``torch.nn`` modules and uses the *same
attribute names* as its minicnn counterpart, so that
``mc_model.load_state_dict(torch_model.state_dict())`` works with
``strict=True`` and ``minicnn.testing.assert_module_parity`` can compare the
outputs and every gradient.

* ``TorchResNet`` follows torchvision's ``resnet.py`` layout and key names
  (``conv1``, ``bn1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``);
  its parameter counts are checked against torchvision's published numbers in
  ``tests/test_models.py`` (torchvision itself is not a dependency).
* ``TorchUNet`` follows ``minicnn.models.unet`` (valid or same padding,
  transposed-conv or bilinear up-sampling, optional attention gates).
* ``TorchAttentionGate`` mirrors ``minicnn.nn.AttentionGate`` (additive
  attention gate of Oktay et al. 2018) for the attention U-Net parity test.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- ResNet
def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class TorchBasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, dilation=dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class TorchBottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64, dilation=1):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + identity)


class TorchResNet(nn.Module):
    """torchvision's ResNet plus ``base_channels`` and ``small_input`` (as in minicnn.models.ResNet)."""

    def __init__(self, block, layers, num_classes=1000, groups=1, width_per_group=64, in_channels=3,
                 base_channels=64, small_input=False, replace_stride_with_dilation=None):
        super().__init__()
        self.inplanes, self.dilation = base_channels, 1
        self.groups, self.base_width = groups, width_per_group
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, base_channels, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, base_channels, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_channels)
        self.small_input = small_input
        self.layer1 = self._make_layer(block, base_channels, layers[0])
        self.layer2 = self._make_layer(block, base_channels * 2, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, base_channels * 4, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, base_channels * 8, layers[3], 2, replace_stride_with_dilation[2])
        self.fc = nn.Linear(base_channels * 8 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        downsample, previous_dilation = None, self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if not self.small_input:
            x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


RESNET_LAYERS = {"resnet18": (TorchBasicBlock, [2, 2, 2, 2]), "resnet34": (TorchBasicBlock, [3, 4, 6, 3]),
                 "resnet50": (TorchBottleneck, [3, 4, 6, 3]), "resnet101": (TorchBottleneck, [3, 4, 23, 3])}


def torch_resnet(name, **kwargs):
    block, layers = RESNET_LAYERS[name]
    return TorchResNet(block, layers, **kwargs)


# ----------------------------------------------------------------------------- attention gate
class TorchAttentionGate(nn.Module):
    """Additive attention gate (Oktay et al. 2018), mirroring minicnn.nn.AttentionGate."""

    def __init__(self, in_channels, gating_channels, inter_channels=None, sub_sample_factor=2):
        super().__init__()
        self.inter_channels = inter_channels or max(1, in_channels // 2)
        s = sub_sample_factor
        self.theta = nn.Conv2d(in_channels, self.inter_channels, kernel_size=s, stride=s, bias=False)
        self.phi = nn.Conv2d(gating_channels, self.inter_channels, kernel_size=1, bias=True)
        self.psi = nn.Conv2d(self.inter_channels, 1, kernel_size=1, bias=True)

    def forward(self, x, g):
        theta_x = self.theta(x)
        phi_g = F.interpolate(self.phi(g), size=theta_x.shape[2:], mode="bilinear", align_corners=False)
        alpha = torch.sigmoid(self.psi(F.relu(theta_x + phi_g)))
        alpha = F.interpolate(alpha, size=x.shape[2:], mode="bilinear", align_corners=False)
        return alpha * x, alpha


# ----------------------------------------------------------------------------- U-Net
class TorchDoubleConv(nn.Module):
    def __init__(self, in_channels, out_channels, padding, batch_norm):
        super().__init__()
        pad = 0 if padding == "valid" else 1
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=pad)
        self.bn1 = nn.BatchNorm2d(out_channels) if batch_norm else None
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=pad)
        self.bn2 = nn.BatchNorm2d(out_channels) if batch_norm else None

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(self.bn1(x) if self.bn1 is not None else x)
        x = self.conv2(x)
        return F.relu(self.bn2(x) if self.bn2 is not None else x)


class TorchUpBlock(nn.Module):
    def __init__(self, in_channels, out_channels, padding, batch_norm, upsampling):
        super().__init__()
        if upsampling == "transpose":
            self.up = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=2, stride=2)
        else:
            self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                    nn.Conv2d(in_channels, out_channels, kernel_size=1))
        self.conv = TorchDoubleConv(2 * out_channels, out_channels, padding, batch_norm)


def center_crop(x, size):
    h, w = size
    top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
    return x[:, :, top:top + h, left:left + w]


class TorchUNet(nn.Module):
    def __init__(self, in_channels=1, num_classes=2, base_channels=64, depth=4, padding="valid",
                 batch_norm=False, upsampling="transpose", attention_gates=False):
        super().__init__()
        channels = [base_channels * 2 ** i for i in range(depth + 1)]
        self.encoder = nn.ModuleList(
            [TorchDoubleConv(in_channels if i == 0 else channels[i - 1], channels[i], padding, batch_norm)
             for i in range(depth + 1)])
        self.decoder = nn.ModuleList(
            [TorchUpBlock(channels[i + 1], channels[i], padding, batch_norm, upsampling) for i in range(depth)])
        self.gates = nn.ModuleList([TorchAttentionGate(channels[i], channels[i + 1]) for i in range(depth)]) \
            if attention_gates else None
        self.head = nn.Conv2d(base_channels, num_classes, kernel_size=1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for i in reversed(range(len(self.decoder))):
            up = self.decoder[i].up(x)
            skip = center_crop(skips[i], up.shape[2:])
            if self.gates is not None:
                skip, _ = self.gates[i](skip, x)
            x = self.decoder[i].conv(torch.cat([skip, up], dim=1))
        return self.head(x)


def count_parameters(module):
    return sum(p.numel() for p in module.parameters())
