"""Networks (minicnn.models): parameter counts, output shapes, attention placement, error messages.

Torch parity of the ResNet blocks / small ResNets / small U-Nets and a gradient check of a tiny
U-Net are in test_models_parity.py. Parameter counts need no forward pass (only construction).
"""
import numpy as np
import pytest

import minicnn
import reference_models as R
from minicnn import models
from minicnn.nn.attention import (BAM, CBAM, ECA, SE, SK, AttentionGate, GENoParams, GEParamsPlus,
                                  ResidualAttentionModule)


def count(module):
    return sum(p.numel() for p in module.parameters())


def randn(*shape, seed=0):
    return minicnn.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


# ----------------------------------------------------------------------------- parameter counts
# torchvision's published parameter counts (torchvision is not a dependency; the torch twins in
# reference_models.py reproduce these numbers too, see test_torch_twins_reproduce_torchvision_counts).
TORCHVISION_COUNTS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
                      "resnet101": 44_549_160, "resnext50_32x4d": 25_028_904}


@pytest.mark.parametrize("name", list(TORCHVISION_COUNTS))
def test_resnet_parameter_counts_match_torchvision(name):
    assert count(getattr(models, name)()) == TORCHVISION_COUNTS[name]


def test_torch_twins_reproduce_torchvision_counts():
    for name in ("resnet18", "resnet50"):
        assert R.count_parameters(R.torch_resnet(name)) == TORCHVISION_COUNTS[name]


@pytest.mark.parametrize("build, twin", [
    (lambda: models.wide_resnet50_2(10, base_channels=8),
     lambda: R.torch_resnet("resnet50", num_classes=10, base_channels=8, width_per_group=128)),
    (lambda: models.resnext50_32x4d(10, base_channels=16),
     lambda: R.torch_resnet("resnet50", num_classes=10, base_channels=16, groups=32, width_per_group=4)),
    (lambda: models.resnet34(7, base_channels=8, small_input=True, in_channels=1),
     lambda: R.torch_resnet("resnet34", num_classes=7, base_channels=8, small_input=True, in_channels=1)),
])
def test_resnet_variants_count_like_their_torch_twins(build, twin):
    assert count(build()) == R.count_parameters(twin())


@pytest.mark.parametrize("build, expected, paper", [
    (lambda: models.resnet50(attention="se"), 28_088_024, 28.09e6),          # SE paper; = timm seresnet50
    (lambda: models.resnet50(attention="cbam"), 28_089_608, 28.09e6),        # CBAM paper
    (lambda: models.resnext50_32x4d(attention="sk", attention_kwargs={"min_reduced_dim": 32}),
     27_479_784, 27.5e6),                                                    # SKNet-50, SK paper
])
def test_attention_resnet50_counts_match_the_papers(build, expected, paper):
    """Placement check by counting: one module per block at the right width gives the papers' totals."""
    n = count(build())
    assert n == expected and abs(n / paper - 1) < 1e-3


def test_resnet_state_dict_keys_are_torchvisions():
    ours = models.resnet18(num_classes=10, base_channels=8).state_dict()
    theirs = R.torch_resnet("resnet18", num_classes=10, base_channels=8).state_dict()
    assert list(ours) == list(theirs)
    for key in ("conv1.weight", "bn1.num_batches_tracked", "layer1.0.conv1.weight",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "fc.bias"):
        assert key in ours


def test_unet_parameter_count_of_the_paper():
    """The paper's U-Net (base 64, depth 4, 1 input channel, 2 classes, up-convs, no BN)."""
    model = models.UNet(in_channels=1, num_classes=2, base_channels=64, depth=4, padding="valid",
                        batch_norm=False, upsampling="transpose")
    assert count(model) == 31_030_658 == R.count_parameters(R.TorchUNet())


@pytest.mark.parametrize("options", [dict(batch_norm=True), dict(upsampling="bilinear"),
                                     dict(attention_gates=True), dict(depth=3, padding="same", in_channels=3)])
def test_unet_variant_counts_match_the_torch_twin(options):
    assert count(models.UNet(base_channels=8, **options)) == \
        R.count_parameters(R.TorchUNet(base_channels=8, **options))


def test_residual_attention_network_parameter_counts():
    """Paper: Attention-56 31.9M, Attention-92 51.3M.

    Measured with the official Caffe graph's modules (p=1, t=2, r=1): 31,810,728 (-0.3%) and
    52,466,344 (+2.3%): the paper's 92 - 56 difference (19.4M) is smaller than the three extra
    modules (one of stage 2: 3.05M, two of stage 3: 8.80M each = 20.66M). Tolerances: 1% and 3%.
    """
    a56, a92 = count(models.attention56()), count(models.attention92())
    assert a56 == 31_810_728 and a92 == 52_466_344
    assert abs(a56 / models.PAPER_PARAMETERS["attention56"] - 1) < 0.01
    assert abs(a92 / models.PAPER_PARAMETERS["attention92"] - 1) < 0.03


# ----------------------------------------------------------------------------- U-Net shapes and sizes
def test_unet_valid_padding_maps_572_to_388():
    model = models.UNet(in_channels=1, num_classes=2, base_channels=2)   # the paper's layout, narrow
    model.eval()
    with minicnn.no_grad():
        out = model(randn(1, 1, 572, 572))
    assert out.shape == (1, 2, 388, 388)
    assert model.output_size(572) == 388


def test_unet_valid_size_rule():
    model = models.UNet(base_channels=1)
    # input 16 b + 124 -> output 16 b - 60 (b >= 4), e.g. the skip crops of the paper.
    for b in range(4, 40):
        assert model.output_size(16 * b + 124) == 16 * b - 60
    assert model.valid_input_size(570) == 572
    assert model.valid_input_size(560, "down") == 556
    assert model.valid_input_size(10, "down") is None and model.valid_input_size(10, "up") == 188


def test_unet_same_padding_keeps_the_size_and_returns_gate_maps():
    model = models.UNet(in_channels=3, num_classes=4, base_channels=4, depth=3, padding="same",
                        batch_norm=True, attention_gates=True)
    x = randn(2, 3, 24, 16)
    out = model(x)
    assert out.shape == (2, 4, 24, 16)
    maps = model.attention_maps()
    assert [m.shape for m in maps] == [(2, 1, 24, 16), (2, 1, 12, 8), (2, 1, 6, 4)]
    assert all(float(m.numpy().min()) > 0 and float(m.numpy().max()) < 1 for m in maps)
    assert models.UNet(base_channels=2).attention_maps() == []


def test_unet_valid_attention_gates_see_the_cropped_skips():
    model = models.UNet(base_channels=2, depth=2, upsampling="bilinear", attention_gates=True)
    out = model(randn(1, 1, 60, 44))
    assert out.shape == (1, 2, 20, 4)
    # skip crops: level 1 (H/2 - 4) -> 2 * bottom; level 0 -> the decoder's up-sampled size
    assert [m.shape[2:] for m in model.attention_maps()] == [(24, 8), (16, 8)]


@pytest.mark.parametrize("padding, size, words", [
    ("valid", 570, ["570", "556 or 572", "16 b + 124"]),
    ("same", 30, ["30", "divisible by 2**depth = 16", "16 or 32"]),
])
def test_unet_rejects_incompatible_input_sizes_naming_the_nearest_valid_ones(padding, size, words):
    model = models.UNet(base_channels=1, padding=padding)
    with pytest.raises(ValueError) as info:
        model(randn(1, 1, size, size))
    for word in words:
        assert word in str(info.value)


def test_unet_argument_errors():
    with pytest.raises(ValueError, match="padding must be one of"):
        models.UNet(padding="full")
    with pytest.raises(ValueError, match="upsampling must be one of"):
        models.UNet(upsampling="nearest")
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 1, H, W\)"):
        models.UNet(base_channels=1, padding="same")(randn(1, 3, 32, 32))


def test_center_crop_takes_the_middle():
    x = minicnn.tensor(np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6))
    np.testing.assert_array_equal(models.center_crop(x, (2, 4)).numpy()[0, 0], x.numpy()[0, 0, 2:4, 1:5])


# ----------------------------------------------------------------------------- ResNet
@pytest.mark.parametrize("attention", [None, "se", "eca", "cbam", "bam", "ge", "sk"])
def test_every_attention_option_of_resnet18_runs_forward_and_backward(attention):
    model = models.resnet18(num_classes=10, attention=attention)
    x = randn(2, 3, 32, 32)
    x.requires_grad_(True)
    out = model(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    if attention is not None:
        assert len(model.attention_maps()) == {"bam": 3}.get(attention, 8)


def test_attention_placement_follows_the_papers():
    se = models.resnet50(attention="se", base_channels=16, num_classes=3)
    assert isinstance(se.layer1[0].attention, SE) and se.layer1[0].attention.in_dim == 64   # after bn3
    assert se.bam1 is None
    eca = models.resnet18(attention="eca")
    assert isinstance(eca.layer4[1].attention, ECA) and eca.layer4[1].attention.kernel_size == 5
    assert isinstance(models.resnet18(attention="cbam", base_channels=16).layer2[0].attention, CBAM)
    ge = models.resnet18(attention="ge", base_channels=16)
    assert isinstance(ge.layer1[0].attention, GEParamsPlus) and ge.layer1[0].attention.extent == 8
    ge0 = models.resnet18(attention="ge", attention_kwargs={"variant": "theta-minus", "extent": 0})
    assert isinstance(ge0.layer3[1].attention, GENoParams)
    bam = models.resnet50(attention="bam", base_channels=16)
    assert [type(m) for m in (bam.bam1, bam.bam2, bam.bam3)] == [BAM] * 3
    assert [m.in_dim for m in (bam.bam1, bam.bam2, bam.bam3)] == [64, 128, 256]   # stages 1-3 outputs
    assert all(block.attention is None for block in bam.layer1)
    sk = models.resnext50_32x4d(attention="sk", base_channels=16)
    block = sk.layer2[0]
    assert isinstance(block.conv2, SK) and not hasattr(block, "bn2")
    assert block.conv2.split.branches[0].conv.groups == 32          # keeps ResNeXt's groups
    basic = models.resnet18(attention="sk", base_channels=16).layer2[0]
    assert isinstance(basic.conv2, SK) and basic.conv1.stride == (2, 2)


def test_unknown_attention_lists_the_valid_names():
    with pytest.raises(ValueError) as info:
        models.resnet18(attention="nonlocal")
    for name in ("'se'", "'eca'", "'cbam'", "'bam'", "'ge'", "'sk'", "None"):
        assert name in str(info.value)
    with pytest.raises(ValueError, match="Gather-Excite variant"):
        models.resnet18(attention="ge", attention_kwargs={"variant": "theta-max"})


def test_resnet_errors():
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        models.resnet18(groups=32, width_per_group=4)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\)"):
        models.resnet18(base_channels=4)(randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="'sk' cannot be combined with dilated stages"):
        models.resnet18(base_channels=16, attention="sk", replace_stride_with_dilation=[False, False, True])


def test_small_input_resnet_for_digits():
    """A 3x3 stride-1 stem, no max pooling: 8x8 digits reach layer4 at 1x1 instead of vanishing."""
    model = models.resnet18(num_classes=10, in_channels=1, base_channels=8, small_input=True)
    x = randn(4, 1, 8, 8)
    assert model.forward_features(x).shape == (4, 64, 1, 1)
    assert model(x).shape == (4, 10)
    assert models.resnet18(base_channels=8, small_input=False).forward_features(randn(2, 3, 32, 32)).shape \
        == (2, 64, 1, 1)


def test_dilated_resnet_keeps_output_stride_8():
    backbone = models.resnet18(num_classes=None, base_channels=8,
                               replace_stride_with_dilation=[False, True, True])
    assert backbone(randn(1, 3, 64, 64)).shape == (1, 64, 8, 8)
    assert backbone.layer4[1].conv1.dilation == (4, 4)


# ----------------------------------------------------------------------------- Residual Attention Network
def test_residual_attention_networks_stage_layout():
    a92 = models.attention92(num_classes=10, base_channels=4, small_input=True)
    modules = [[m for m in layer if isinstance(m, ResidualAttentionModule)]
               for layer in (a92.layer1, a92.layer2, a92.layer3, a92.layer4)]
    assert [len(m) for m in modules] == [1, 2, 3, 0]
    assert [m.depth for stage in modules for m in stage] == [3, 2, 2, 1, 1, 1]
    x = randn(2, 3, 16, 16)
    x.requires_grad_(True)
    out = a92(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert x.grad is not None
    assert [m.shape for m in a92.attention_maps()[:2]] == [(2, 16, 16, 16), (2, 32, 8, 8)]


def test_attention56_paper_sizes():
    """At 224x224 the stages see 56, 28, 14, 7 (the mask bottoms are 7x7); checked at base width 4."""
    model = models.attention56(num_classes=5, base_channels=4)
    model.eval()
    with minicnn.no_grad():
        assert model(randn(1, 3, 224, 224)).shape == (1, 5)
    assert [m.shape[2:] for m in model.attention_maps()] == [(56, 56), (28, 28), (14, 14)]


# ----------------------------------------------------------------------------- attention-gated classifier
@pytest.mark.parametrize("aggregation", ["concat", "mean"])
def test_attention_gated_classifier(aggregation):
    model = models.AttentionGatedClassifier(in_channels=1, num_classes=10, aggregation=aggregation)
    assert [len(model.conv1), len(model.conv4)] == [9, 6]          # 3 and 2 x (conv, BN, ReLU)
    assert isinstance(model.gate1, AttentionGate) and model.gate1.inter_channels == 64
    x = randn(4, 1, 32, 32)
    x.requires_grad_(True)
    out = model(x)
    assert out.shape == (4, 10)
    out.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in model.parameters())
    assert [m.shape for m in model.attention_maps()] == [(4, 1, 8, 8), (4, 1, 4, 4)]


def test_attention_gated_classifier_errors():
    with pytest.raises(ValueError, match="H, W >= 16"):
        models.AttentionGatedClassifier()(randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="aggregation must be one of"):
        models.AttentionGatedClassifier(aggregation="max")


# ----------------------------------------------------------------------------- DANet
def test_danet_output_is_full_resolution_and_features_at_stride_8():
    model = models.DANet(num_classes=5, backbone="resnet18", base_channels=16)
    x = randn(2, 3, 32, 32)
    x.requires_grad_(True)
    out = model(x)
    assert out.shape == (2, 5, 32, 32)
    assert model.backbone(x).shape == (2, 128, 4, 4)
    position, channel = model.attention_maps()
    assert position.shape == (2, 16, 16) and channel.shape == (2, 32, 32)
    out.sum().backward()
    assert x.grad is not None


def test_danet_aux_outputs_and_errors():
    model = models.DANet(num_classes=3, backbone="resnet50", base_channels=8, small_input=True, aux=True,
                         cam_variant="official")
    outs = model(randn(2, 3, 16, 16))
    assert len(outs) == 3 and all(o.shape == (2, 3, 16, 16) for o in outs)
    assert model.backbone.out_channels == 256 and model.head.sa.in_dim == 64
    with pytest.raises(ValueError, match="unknown backbone"):
        models.DANet(3, backbone="vgg16")
    with pytest.raises(ValueError, match="output_stride must be 8, 16 or 32"):
        models.DANet(3, output_stride=4)


# ----------------------------------------------------------------------------- strict backend
def test_models_run_on_the_strict_backend():
    """Forward and backward on the strict CuPy stand-in: no stray NumPy call in the networks."""
    with minicnn.backend.use_backend("strict"):
        nets = [(models.UNet(base_channels=2, depth=2, attention_gates=True), (1, 1, 44, 44)),
                (models.UNet(base_channels=2, depth=2, padding="same", upsampling="bilinear"), (1, 1, 8, 8)),
                (models.resnet18(10, base_channels=8, attention="se", attention_kwargs={"reduction_factor": 4}),
                 (2, 3, 32, 32)),
                (models.AttentionGatedClassifier(num_classes=3), (2, 1, 16, 16)),
                (models.DANet(2, backbone="resnet18", base_channels=16, small_input=True), (2, 3, 8, 8))]
        for model, shape in nets:
            x = minicnn.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32),
                               requires_grad=True)
            out = model(x)
            assert out.backend == "strict"
            out.sum().backward()
            assert x.grad is not None and x.grad.backend == "strict", type(model).__name__
