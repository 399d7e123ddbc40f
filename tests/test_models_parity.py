"""Networks against their PyTorch twins (tests/reference_models.py), and a gradient check of a U-Net.

The twin's weights load into the minicnn network through ``load_state_dict`` (strict), then the
output, the input gradient and every parameter gradient are compared in float64
(``minicnn.testing.assert_module_parity``), in training mode (batch statistics) unless stated.
Sizes are tiny: the point is the wiring (crops, concatenations, strides, dilations, shortcuts).
"""
import numpy as np
import pytest
import torch

import minicnn
import reference_models as R
from minicnn import models
from minicnn.nn import Sequential
from minicnn.nn import BatchNorm2d, Conv2d
from minicnn.testing import assert_module_parity, gradcheck


def normal(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def randomize_batch_norms(mc_model, torch_model, seed=0):
    """Give the twins' batch norms the same non-trivial affine parameters and running statistics
    (the defaults 1, 0 would hide a swapped weight and bias; eval mode reads the running stats)."""
    rng = np.random.default_rng(seed)
    for module in torch_model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            with torch.no_grad():
                module.weight.copy_(torch.tensor(rng.uniform(0.5, 1.5, c)))
                module.bias.copy_(torch.tensor(rng.uniform(-0.5, 0.5, c)))
                module.running_mean.copy_(torch.tensor(rng.uniform(-0.5, 0.5, c)))
                module.running_var.copy_(torch.tensor(rng.uniform(0.5, 1.5, c)))


# ----------------------------------------------------------------------------- ResNet blocks
def _downsample_pair(inplanes, outplanes, stride):
    mc = Sequential(Conv2d(inplanes, outplanes, 1, stride=stride, bias=False), BatchNorm2d(outplanes))
    th = torch.nn.Sequential(torch.nn.Conv2d(inplanes, outplanes, 1, stride=stride, bias=False),
                             torch.nn.BatchNorm2d(outplanes))
    return mc, th


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("stride, dilation, project", [(1, 1, False), (2, 1, True), (1, 2, True)])
def test_basic_block_parity(train, stride, dilation, project):
    inplanes, planes = (4, 6) if project else (6, 6)
    mc_down, th_down = _downsample_pair(inplanes, planes, stride) if project else (None, None)
    mc = models.BasicBlock(inplanes, planes, stride, mc_down, dilation=dilation)
    th = R.TorchBasicBlock(inplanes, planes, stride, th_down, dilation=dilation)
    randomize_batch_norms(mc, th)
    assert_module_parity(mc, th, normal(3, inplanes, 7, 7), train=train)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("stride, groups, base_width, dilation", [(1, 1, 64, 1), (2, 2, 32, 1), (1, 2, 64, 2)])
def test_bottleneck_parity(train, stride, groups, base_width, dilation):
    inplanes, planes = 8, 4
    mc_down, th_down = _downsample_pair(inplanes, planes * 4, stride)
    mc = models.Bottleneck(inplanes, planes, stride, mc_down, groups, base_width, dilation)
    th = R.TorchBottleneck(inplanes, planes, stride, th_down, groups, base_width, dilation)
    randomize_batch_norms(mc, th)
    assert_module_parity(mc, th, normal(3, inplanes, 6, 6), train=train)


@pytest.mark.parametrize("name, options, shape", [
    ("resnet18", dict(base_channels=4), (2, 3, 64, 64)),
    ("resnet18", dict(base_channels=4, small_input=True, in_channels=1,
                      replace_stride_with_dilation=[False, True, True]), (2, 1, 8, 8)),
    ("resnet50", dict(base_channels=4, small_input=True, groups=2, width_per_group=32), (2, 3, 16, 16)),
])
def test_small_resnet_parity(name, options, shape):
    # layer4 keeps >= 8 values per channel: batch norm over 2 values is degenerate (outputs +-1)
    # and amplifies rounding differences.
    mc = getattr(models, name)(num_classes=5, **options)
    th = R.torch_resnet(name, num_classes=5, **options)
    assert_module_parity(mc, th, normal(*shape))


# ----------------------------------------------------------------------------- U-Net
UNET_CASES = [
    # padding, upsampling, attention_gates, batch_norm, input shape (depth 2)
    ("valid", "transpose", False, False, (2, 1, 44, 44)),
    ("valid", "bilinear", False, True, (2, 1, 44, 48)),
    ("valid", "transpose", True, False, (2, 1, 48, 44)),
    ("valid", "bilinear", True, True, (1, 1, 44, 44)),
    ("same", "transpose", False, True, (2, 1, 8, 12)),
    ("same", "bilinear", False, False, (2, 1, 8, 8)),
    ("same", "transpose", True, True, (2, 1, 12, 8)),
    ("same", "bilinear", True, False, (2, 1, 8, 8)),
]


@pytest.mark.parametrize("padding, upsampling, gates, batch_norm, shape", UNET_CASES)
def test_small_unet_parity(padding, upsampling, gates, batch_norm, shape):
    options = dict(in_channels=1, num_classes=3, base_channels=2, depth=2, padding=padding,
                   upsampling=upsampling, attention_gates=gates, batch_norm=batch_norm)
    mc, th = models.UNet(**options), R.TorchUNet(**options)
    assert_module_parity(mc, th, normal(*shape))


def test_unet_gradcheck_on_a_few_parameters():
    """Central differences through crops, concatenations, gates, up-sampling (float64)."""
    model = models.UNet(in_channels=1, num_classes=2, base_channels=2, depth=2, padding="valid",
                        upsampling="bilinear", attention_gates=True).to("float64")
    x = minicnn.tensor(normal(1, 1, 44, 44))
    params = [model.head.weight, model.decoder[0].up[1].bias, model.gates[1].psi.weight,
              model.gates[0].phi.bias, model.encoder[2].conv2.bias, model.decoder[1].conv.conv1.bias]
    gradcheck(lambda *_: model(x), *params)


def test_unet_gradcheck_on_the_input():
    model = models.UNet(in_channels=1, num_classes=2, base_channels=2, depth=2, padding="same",
                        upsampling="transpose", attention_gates=True).to("float64")
    x = minicnn.tensor(normal(1, 1, 8, 8), requires_grad=True)
    gradcheck(model, x)
