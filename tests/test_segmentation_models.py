"""The segmentation lecture's networks (issue 8): FCN, DeconvNet, SegNet, the context module, DeepLabv3(+),
PSPNet and RefineNet.

Shapes and a backward pass at tiny sizes; parameter counts of the paper sizes (construction only)
against an independent layer-by-layer count and the published totals; the bilinear up-conv; the
pooling indices of max-unpooling; the receptive-field table of the context module (by formula and
by gradients); ASPP and the pyramid pooling module (branch shapes, gradient checks in float64).
"""
import numpy as np
import pytest
from scipy import ndimage

import minicnn
from minicnn import functional as F
from minicnn import models
from minicnn.backend import DEVICE_OF_BACKEND
from minicnn.models import context, fcn, refinenet
from minicnn.testing import gradcheck


def count(module):
    return sum(p.numel() for p in module.parameters())


def randn(*shape, seed=0, dtype=np.float32):
    return minicnn.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


# ----------------------------------------------------------------------------- independent counts
def conv(k, c_in, c_out, bias=True):
    """Parameters of a k x k convolution (or transposed convolution)."""
    return k * k * c_in * c_out + (c_out if bias else 0)


def bn(c):
    return 2 * c


VGG16 = dict(widths=(64, 128, 256, 512, 512), blocks=(2, 2, 3, 3, 3))


def vgg_encoder(widths, blocks, c_in, batch_norm):
    total = 0
    for width, n in zip(widths, blocks):
        for _ in range(n):
            total += conv(3, c_in, width) + (bn(width) if batch_norm else 0)
            c_in = width
    return total


def fcn_count(variant, classes, widths, blocks, fc, fc_kernel, batch_norm, c_in=3):
    total = vgg_encoder(widths, blocks, c_in, batch_norm)
    total += conv(fc_kernel, widths[4], fc) + conv(1, fc, fc) + conv(1, fc, classes)     # fc6, fc7, score_fr
    up = lambda factor: conv(2 * factor, classes, classes, bias=False)                  # noqa: E731
    if variant == "32s":
        return total + up(32)
    total += conv(1, widths[3], classes) + up(2)                                        # score_pool4, upscore2
    if variant == "16s":
        return total + up(16)
    return total + conv(1, widths[2], classes) + up(2) + up(8)               # score_pool3, ..., upscore8


def mirrored_decoder(widths, blocks, last_out):
    """Convolutions + BN of the mirrored decoder, deepest first; the very last layer maps to last_out."""
    total = 0
    for s in reversed(range(5)):
        for i in range(blocks[s]):
            out = (widths[s - 1] if s > 0 else last_out) if i == blocks[s] - 1 else widths[s]
            total += conv(3, widths[s], out) + bn(out)
    return total


def deconvnet_count(classes, widths, blocks, fc, input_size, c_in=3):
    k = input_size // 32
    total = vgg_encoder(widths, blocks, c_in, batch_norm=True)
    total += conv(k, widths[4], fc) + bn(fc) + conv(1, fc, fc) + bn(fc)                  # fc6, fc7
    total += conv(k, fc, widths[4]) + bn(widths[4])                                      # deconv-fc6
    return total + mirrored_decoder(widths, blocks, widths[0]) + conv(1, widths[0], classes)


def segnet_count(classes, widths, blocks, c_in=3):
    decoder = mirrored_decoder(widths, blocks, widths[0]) - conv(3, widths[0], widths[0]) - bn(widths[0])
    return vgg_encoder(widths, blocks, c_in, batch_norm=True) + decoder + conv(3, widths[0], classes)


# ----------------------------------------------------------------------------- shapes and backward
SMALL = {
    "fcn32s": lambda: models.fcn32s(3, in_channels=1, base_channels=4, fc_channels=8),
    "fcn16s": lambda: models.fcn16s(3, in_channels=1, base_channels=4, fc_channels=8),
    "fcn8s": lambda: models.fcn8s(3, in_channels=1, base_channels=4, fc_channels=8),
    "deconvnet": lambda: models.DeconvNet(3, 1, base_channels=4, fc_channels=8, input_size=32),
    "segnet": lambda: models.SegNet(3, 1, base_channels=4),
    "bayesian_segnet": lambda: models.SegNet(3, 1, base_channels=4, dropout=0.5),
    "deeplabv3_os16": lambda: models.DeepLabV3(3, 1, base_channels=4, aspp_channels=8, atrous_rates=(1, 2, 3)),
    "deeplabv3_os8": lambda: models.DeepLabV3(3, 1, base_channels=4, aspp_channels=8, output_stride=8),
    "deeplabv3plus": lambda: models.DeepLabV3Plus(3, 1, base_channels=4, aspp_channels=8, low_level_channels=4,
                                                  decoder_channels=8),
    "pspnet": lambda: models.PSPNet(3, 1, base_channels=4, head_channels=8, aux_channels=8),
    "refinenet": lambda: models.RefineNet(3, 1, base_channels=4, features=8),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_output_shape_and_backward(name):
    model = SMALL[name]()
    x = randn(2, 1, 32, 32)
    target = minicnn.tensor(np.random.default_rng(1).integers(0, 3, (2, 32, 32)))
    out = model(x)
    if name == "pspnet":                              # training mode: (main, aux)
        assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 3, 32, 32)] * 2
        loss = models.pspnet_loss(*out, target)
    else:
        assert out.shape == (2, 3, 32, 32)
        loss = F.cross_entropy(out, target)
    loss.backward()
    assert np.isfinite(loss.item())
    for pname, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, f"{name}: no gradient for {pname}"
        assert np.isfinite(p.grad.numpy()).all(), f"{name}: non-finite gradient for {pname}"
    model.eval()
    assert model(x).shape == (2, 3, 32, 32)            # eval: PSPNet returns the main scores only


def test_input_checks():
    with pytest.raises(ValueError, match="multiples of 32"):
        SMALL["fcn8s"]()(randn(1, 1, 48, 40))
    with pytest.raises(ValueError, match="variant"):
        models.FCN(2, variant="4s")
    with pytest.raises(ValueError, match="built for 32x32"):
        SMALL["deconvnet"]()(randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match="output_stride"):
        models.DeepLabV3(2, output_stride=32)
    with pytest.raises(ValueError, match="multi_grid"):
        models.DeepLabV3(2, multi_grid=(1, 2))
    with pytest.raises(ValueError, match="expected input of shape"):
        models.SegNet(2, 3, base_channels=4)(randn(1, 1, 32, 32))


def test_segnet_takes_any_size_through_the_unpooling_output_size():
    out = models.SegNet(2, 1, base_channels=4)(randn(1, 1, 45, 37))
    assert out.shape == (1, 2, 45, 37)


# ----------------------------------------------------------------------------- parameter counts
def test_fcn8s_vgg16_count_matches_the_layers_and_the_paper():
    model = models.fcn8s(21, paper=True)           # construction only, no forward pass
    expected = fcn_count("8s", 21, fc=4096, fc_kernel=7, batch_norm=False, **VGG16)
    assert count(model) == expected == 134_489_759
    assert round(count(model) / 1e6) == 134        # the FCN paper, Table 1: FCN-VGG16 has 134M parameters


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_fcn_variants_count_their_layers(variant):
    model = models.FCN(5, variant, in_channels=2, base_channels=4, fc_channels=16, fc_kernel_size=7,
                       batch_norm=False)
    widths = (4, 8, 16, 32, 32)
    assert count(model) == fcn_count(variant, 5, widths, VGG16["blocks"], 16, 7, False, c_in=2)
    assert fcn_count("32s", 21, fc=4096, fc_kernel=7, batch_norm=False, **VGG16) == 136_152_917
    assert fcn_count("16s", 21, fc=4096, fc_kernel=7, batch_norm=False, **VGG16) == 134_815_994


def test_segnet_count_and_its_14_7m_encoder():
    model = models.SegNet.paper(11)
    assert count(model) == segnet_count(11, **VGG16) == 29_449_355     # x 4 bytes = the paper's 117 MB
    encoder = count(model.encoder)
    assert encoder == vgg_encoder(VGG16["widths"], VGG16["blocks"], 3, batch_norm=True)
    assert round(encoder / 1e5) == 147             # SegNet paper: the encoder has 14.7M parameters (FCN: 134M)


def test_deconvnet_count():
    # The full model takes seconds to initialise (two 7x7x512x4096 layers): check the wiring at the paper's
    # widths with a narrow fc6/fc7, and the formula at the paper's size.
    model = models.DeconvNet(21, 3, base_channels=64, fc_channels=16, input_size=224)
    assert count(model) == deconvnet_count(21, VGG16["widths"], VGG16["blocks"], 16, 224)
    assert deconvnet_count(21, VGG16["widths"], VGG16["blocks"], 4096, 224) == 251_805_653


def test_deeplabv3_resnet50_count_matches_torchvision():
    # torchvision's deeplabv3_resnet50 (21 classes, aux_loss) reports 42,004,074 parameters. Its head adds a
    # 3x3 conv 256 -> 256 + BN after ASPP (590,336) and an auxiliary FCNHead on layer3: 3x3 conv
    # 1024 -> 256 + BN + 1x1 conv to 21 classes (2,365,205); the rest is the same network.
    model = models.deeplabv3(21, paper=True, backbone="resnet50")
    extra_head = conv(3, 256, 256, bias=False) + bn(256)
    aux = conv(3, 1024, 256, bias=False) + bn(256) + conv(1, 256, 21)
    assert (extra_head, aux) == (590_336, 2_365_205)
    assert count(model) + extra_head + aux == 42_004_074


def test_aspp_count():
    aspp = models.ASPP(64, (6, 12, 18), out_channels=16)
    branches = conv(1, 64, 16, False) + 3 * conv(3, 64, 16, False) + conv(1, 64, 16, False) + 5 * bn(16)
    assert count(aspp) == branches + conv(1, 5 * 16, 16, False) + bn(16)
    separable = models.ASPP(64, (6, 12, 18), out_channels=16, separable=True)
    atrous = conv(3, 1, 64, False) + bn(64) + conv(1, 64, 16, False) + bn(16)     # depthwise + pointwise
    assert count(separable) - count(aspp) == 3 * (atrous - conv(3, 64, 16, False) - bn(16))


# ----------------------------------------------------------------------------- FCN: bilinear up-conv
@pytest.mark.parametrize("k", range(1, 17))
def test_bilinear_kernel_matches_the_closed_form(k):
    # A hat of half-width f = ceil(k / 2) centred on the kernel: w(x) = 1 - |x - (k - 1) / 2| / f.
    f = int(np.ceil(k / 2))
    w = 1 - np.abs(np.arange(k) - (k - 1) / 2) / f
    np.testing.assert_allclose(models.bilinear_kernel(k), np.outer(w, w), atol=1e-12)
    if k == 4:
        np.testing.assert_allclose(models.bilinear_kernel(4)[0] / 0.25, [0.25, 0.75, 0.75, 0.25])
    if k == 2 * f - f % 2:
        # Caffe's bilinear filler, meant for these sizes (k = 2f for even f, 2f - 1 for odd f):
        # c = (2f - 1 - f % 2) / (2f), w(x) = 1 - |x / f - c|.
        c = (2 * f - 1 - f % 2) / (2.0 * f)
        caffe = 1 - np.abs(np.arange(k) / f - c)
        np.testing.assert_allclose(models.bilinear_kernel(k), np.outer(caffe, caffe), atol=1e-12)


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_bilinear_up_conv_is_bilinear_interpolation(factor):
    """Kernel 2f, stride f, padding f/2, bilinear init = F.interpolate(bilinear, align_corners=False) away
    from the borders (the up-conv's zero padding differs from interpolate's edge clamping there)."""
    up = fcn._up_conv(3, factor).to("float64")
    x = randn(2, 3, 6, 5, dtype=np.float64)
    ours = up(x).numpy()
    expected = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False).numpy()
    assert ours.shape == expected.shape == (2, 3, 6 * factor, 5 * factor)
    inner = slice(factor, -factor)
    np.testing.assert_allclose(ours[:, :, inner, inner], expected[:, :, inner, inner], atol=1e-12)
    weight = up.weight.numpy()
    assert np.all(weight[0, 1] == 0) and np.all(weight[2, 0] == 0)          # channels are not mixed


def test_fcn_score_layers_start_at_zero_so_fcn8s_starts_as_fcn32s_scores():
    model = models.fcn8s(2, in_channels=1, base_channels=4, fc_channels=8)
    for layer in (model.score_fr, model.score_pool4, model.score_pool3):
        assert np.all(layer.weight.numpy() == 0) and np.all(layer.bias.numpy() == 0)


# ----------------------------------------------------------------------------- max-unpooling
def test_max_unpool_puts_values_back_at_the_pooling_indices_by_hand():
    x = minicnn.tensor(np.array([[[[1., 2., 0., 0.],
                                   [3., 0., 0., 5.],
                                   [0., 0., 1., 4.],
                                   [7., 0., 0., 2.]]]]))
    y, indices = F.max_pool2d(x, 2, 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[3., 5.], [7., 4.]])
    np.testing.assert_array_equal(indices.numpy()[0, 0], [[4, 7], [12, 11]])      # h * W + w
    decoded = minicnn.tensor(np.array([[[[10., 20.], [30., 40.]]]]), requires_grad=True)
    up = F.max_unpool2d(decoded, indices, 2, 2)
    expected = np.zeros((4, 4))
    expected[1, 0], expected[1, 3], expected[3, 0], expected[2, 3] = 10, 20, 30, 40
    np.testing.assert_array_equal(up.numpy()[0, 0], expected)
    # backward: each input reads the gradient at its index
    upstream = np.arange(16.0).reshape(1, 1, 4, 4)
    up.backward(upstream)
    np.testing.assert_array_equal(decoded.grad.numpy()[0, 0], [[4., 7.], [12., 11.]])


@pytest.mark.parametrize("name", ["segnet", "deconvnet"])
def test_unpooling_networks_reuse_their_encoders_indices(name):
    model = SMALL[name]()
    model.eval()
    x = randn(1, 1, 32, 32)
    model(x)
    first_stage = model.encoder[0](x)
    _, indices = F.max_pool2d(first_stage, 2, 2, return_indices=True)
    assert len(model.last_indices) == 5
    np.testing.assert_array_equal(model.last_indices[0].numpy(), indices.numpy())


# ----------------------------------------------------------------------------- context module
TABLE = [3, 5, 9, 17, 33, 65, 67, 67]


def test_receptive_field_table_of_the_notes():
    assert models.receptive_field(context.CONTEXT_KERNELS, context.CONTEXT_DILATIONS) == TABLE
    assert models.ContextModule(2).receptive_fields() == TABLE
    # (2^{i+2} - 1) for the pure doubling stack F_{i+1} = F_i *_{2^i} k_i
    assert models.receptive_field([3] * 5, [1, 2, 4, 8, 16]) == [2 ** (i + 2) - 1 for i in range(5)]
    # strides multiply the jump: two 3x3 convs after a stride-2 conv
    assert models.receptive_field([3, 3, 3], strides=[2, 1, 1]) == [3, 7, 11]


def test_receptive_field_by_gradients_is_the_full_square():
    """d out[centre] / d input is non-zero exactly on the 3x3, 5x5, ..., 67x67 square around the centre:
    dilations 1, 1, 2, 4, 8, 16 grow the field exponentially *without holes*."""
    module = models.ContextModule(1).to("float64")
    rng = np.random.default_rng(0)
    for conv in module.layers:               # positive weights and inputs: every ReLU passes
        conv.weight.data = rng.uniform(0.5, 1.5, conv.weight.shape)
    size, centre = 71, 35
    for depth, expected in enumerate(TABLE, start=1):
        x = minicnn.tensor(rng.uniform(0.5, 1.5, (1, 1, size, size)), requires_grad=True)
        h = x
        for i, conv in enumerate(module.layers[:depth]):
            h = conv(h)
            if i < 7:
                h = F.relu(h)
        h[0, 0, centre, centre].backward()
        support = x.grad.numpy()[0, 0] != 0
        rows, cols = np.nonzero(support)
        assert rows.max() - rows.min() + 1 == expected and cols.max() - cols.min() + 1 == expected
        assert support.sum() == expected ** 2, f"layer {depth}: holes in the receptive field"


def test_identity_initialisation():
    x = minicnn.tensor(np.random.default_rng(0).uniform(0, 1, (2, 3, 20, 20)))
    basic = models.ContextModule(3).to("float64")
    np.testing.assert_allclose(basic(x).numpy(), x.numpy(), atol=1e-12)
    large = models.ContextModule(3, "large", init_std=0.0).to("float64")
    np.testing.assert_allclose(large(x).numpy(), x.numpy(), atol=1e-12)
    assert [conv.out_channels for conv in large.layers] == [6, 6, 12, 24, 48, 96, 96, 3]
    # layer 3 (2C -> 4C): output b reads inputs a with floor(a C / 2C) = floor(b C / 4C), weight C / 4C
    w = models.ContextModule(3, "large").layers[2].weight.numpy()
    centre = w[:, :, 1, 1]
    assert centre[5, 2] == centre[4, 3] == np.float32(0.25) and abs(centre[5, 4]) < 0.01
    assert abs(w[:, :, 0, 0]).max() < 0.01 and abs(w[:, :, 0, 0]).max() > 0      # eps ~ N(0, sigma^2)


# ----------------------------------------------------------------------------- DeepLab
def test_atrous_rates_and_multi_grid_dilations():
    assert models.atrous_rates_for(16) == (6, 12, 18) and models.atrous_rates_for(8) == (12, 24, 36)
    for os, rate in ((16, 2), (8, 4)):
        net = models.dilated_resnet("resnet50", (1, 1, 1, 3), in_channels=1, base_channels=4, output_stride=os)
        assert [unit.conv2.dilation for unit in net.layer4] == [(rate * g, rate * g) for g in (1, 2, 4)]
        stages = models.resnet_stages(net, randn(1, 1, 64, 64))
        assert [s.shape[2] for s in stages] == [16, 8, 64 // os, 64 // os]      # strides 4, 8, os, os
    model = models.DeepLabV3(2, output_stride=8)
    assert model.aspp.atrous_rates == (12, 24, 36)


def test_aspp_branch_shapes_and_the_image_pooling_branch():
    aspp = models.ASPP(6, (1, 2, 3), out_channels=4)
    x = randn(2, 6, 7, 9)
    branches = aspp.branch_outputs(x)
    assert len(branches) == 5 and all(b.shape == (2, 4, 7, 9) for b in branches)
    pooled = branches[-1].numpy()
    assert np.allclose(pooled, pooled[:, :, :1, :1])            # global context: constant over the map
    assert aspp(x).shape == (2, 4, 7, 9)
    separable = models.ASPP(6, (2,), out_channels=4, separable=True)
    depthwise = separable.convs[1][0]
    assert depthwise.groups == 6 and depthwise.dilation == (2, 2) and depthwise.padding == (2, 2)


def test_valid_weights_of_a_large_rate_degenerate_to_the_centre():
    counts = models.valid_weight_counts(8, 6)
    assert counts[3:5, 3:5].tolist() == [[1, 1], [1, 1]] and counts[0, 0] == 4 and counts.max() == 4
    assert models.valid_weight_counts(33, 1)[1:-1, 1:-1].min() == 9
    assert (models.valid_weight_counts(33, 33) == 1).all()          # rate >= size: a 1x1 filter


def test_deeplabv3plus_decoder_widths():
    model = models.deeplabv3plus(2, in_channels=1, base_channels=4, aspp_channels=16, low_level_channels=48,
                                 decoder_channels=16)
    reduce = model.low_level[0]
    assert (reduce.in_channels, reduce.out_channels, reduce.kernel_size) == (4, 48, (1, 1))
    assert model.decoder[0].in_channels == 16 + 48 and model.decoder[0].groups == 16 + 48   # separable
    assert model(randn(2, 1, 64, 64)).shape == (2, 2, 64, 64)      # (image pooling + BN needs N > 1)


def test_aspp_gradcheck():
    aspp = models.ASPP(2, (1, 2), out_channels=2, dropout=0.0).to("float64")
    x = randn(2, 2, 5, 5, dtype=np.float64)
    x.requires_grad = True
    gradcheck(lambda t: aspp(t), x, atol=1e-6, rtol=1e-4)


# ----------------------------------------------------------------------------- PSPNet
def test_pyramid_pooling_branch_shapes():
    ppm = models.PyramidPoolingModule(8, bins=(1, 2, 3, 6))
    x = randn(2, 8, 12, 12)
    for stage, b in zip(ppm.stages, (1, 2, 3, 6)):
        assert stage(x).shape == (2, 2, b, b)                # pooled to b x b, reduced to C / 4
    branches = ppm.branch_outputs(x)
    assert all(o.shape == (2, 2, 12, 12) for o in branches)
    assert np.allclose(branches[0].numpy(), branches[0].numpy()[:, :, :1, :1])
    out = ppm(x)
    assert out.shape == (2, 16, 12, 12) and ppm.out_channels == 16
    np.testing.assert_array_equal(out.numpy()[:, :8], x.numpy())        # the input is kept, then the levels


def test_ppm_gradcheck():
    ppm = models.PyramidPoolingModule(4, bins=(1, 2, 3)).to("float64")
    x = randn(2, 4, 6, 6, dtype=np.float64)
    x.requires_grad = True
    gradcheck(lambda t: ppm(t), x, atol=1e-6, rtol=1e-4)


def test_pspnet_loss_weights_the_auxiliary_loss():
    rng = np.random.default_rng(0)
    main, aux = randn(2, 3, 4, 4, seed=1), randn(2, 3, 4, 4, seed=2)
    target = minicnn.tensor(rng.integers(0, 3, (2, 4, 4)))
    ce = lambda s: F.cross_entropy(s, target).item()             # noqa: E731
    assert np.isclose(models.pspnet_loss(main, aux, target).item(), ce(main) + 0.4 * ce(aux), rtol=1e-6)
    assert np.isclose(models.pspnet_loss(main, aux, target, alpha=0.9).item(), ce(main) + 0.9 * ce(aux),
                      rtol=1e-6)
    assert np.isclose(models.pspnet_loss(main, None, target).item(), ce(main), rtol=1e-6)


# ----------------------------------------------------------------------------- RefineNet
def test_chained_residual_pooling_with_identity_convs_sums_growing_max_filters():
    crp = refinenet.ChainedResidualPooling(1, n_pools=2).to("float64")
    for conv in crp.convs:
        w = np.zeros((1, 1, 3, 3))
        w[0, 0, 1, 1] = 1.0
        conv.weight.data = w
    x = np.random.default_rng(0).standard_normal((1, 1, 9, 9))
    relu = np.maximum(x[0, 0], 0)
    pool5 = ndimage.maximum_filter(relu, size=5, mode="nearest")
    pool9 = ndimage.maximum_filter(pool5, size=5, mode="nearest")          # = a 9x9 max filter
    np.testing.assert_allclose(pool9, ndimage.maximum_filter(relu, size=9, mode="nearest"))
    np.testing.assert_allclose(crp(minicnn.tensor(x)).numpy()[0, 0], relu + pool5 + pool9, atol=1e-12)


def test_rcu_and_multi_resolution_fusion():
    rcu = refinenet.ResidualConvUnit(3)
    x = randn(1, 3, 5, 5)
    for conv in (rcu.conv1, rcu.conv2):
        conv.weight.data = np.zeros(conv.weight.shape, np.float32)
        conv.bias.data = np.zeros(conv.bias.shape, np.float32)
    np.testing.assert_array_equal(rcu(x).numpy(), x.numpy())             # a residual unit starts from identity
    fusion = refinenet.MultiResolutionFusion([4, 8], 4)
    out = fusion(randn(2, 4, 8, 8), randn(2, 8, 4, 4))
    assert out.shape == (2, 4, 8, 8)                                     # the largest resolution wins


def test_backbone_features_on_the_strict_backend(backend):
    """The new heads follow the backend seam (no stray NumPy on array data)."""
    device = DEVICE_OF_BACKEND[backend]
    ppm = models.PyramidPoolingModule(4, bins=(1, 2)).to(device)
    aspp = models.ASPP(4, (1, 2), out_channels=2).to(device)
    crp = refinenet.ChainedResidualPooling(4).to(device)
    x = randn(2, 4, 6, 6)
    assert x.backend == backend
    for module in (ppm, aspp, crp):
        out = module(x)
        assert out.backend == backend
        out.sum().backward()
