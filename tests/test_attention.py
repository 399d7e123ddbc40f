"""Attention modules (minicnn.nn.attention): parity with PyTorch references, state_dict keys of
the article's modules, stored attention maps, and error messages.

The references (tests/reference_attention.py) are written from the papers and notes; their
weights load into the minicnn modules through ``load_state_dict`` (strict), then output, input
gradient and every parameter gradient are compared, in train and eval mode, on Hypothesis inputs.
Gradient checks are in test_attention_gradcheck.py.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import reference_attention as R
from minicnn import nn
from minicnn.nn import attention
from minicnn.nn.attention import selective_kernel
from minicnn.testing import assert_module_parity, assert_parity, load_torch_weights
from minicnn.testing.strategies import arrays


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """These tensors are tiny: torch's thread pool costs more than it saves (about 10x slower
    with 2 threads on this 2-core machine when it is busy), so use one thread here."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@dataclass
class Case:
    """One module configuration: how to build both twins and which inputs it takes."""

    build: Callable          # () -> (minicnn module, torch reference module)
    channels: int
    spatial: Optional[tuple] = None      # fixed (H, W), else drawn from 5..8
    low: float = -2.0                    # input range
    high: float = 2.0
    min_batch: int = 2
    extra: dict = field(default_factory=dict)


def _pair(mc_cls, torch_cls, *args, **kwargs):
    return lambda: (mc_cls(*args, **kwargs), torch_cls(*args, **kwargs))


CASES = {
    "SE": Case(_pair(nn.SE, R.SE, 16, reduction_factor=4), 16),
    "SE-default": Case(_pair(nn.SE, R.SE, 32), 32),
    "SEVar1": Case(_pair(nn.SEVar1, R.SEVar1), 8),
    "SEVar2": Case(_pair(nn.SEVar2, R.SEVar2, 8), 8),
    "SEVar2-nobias": Case(_pair(nn.SEVar2, R.SEVar2, 8, bias=False), 8),
    "SEVar3": Case(_pair(nn.SEVar3, R.SEVar3, 8), 8),
    "ECA": Case(_pair(nn.ECA, R.ECA), 16),
    "ECA-k5": Case(lambda: (nn.ECA.from_channels(128), R.ECA(5)), 128, spatial=(3, 3)),
    "CBAMChannel": Case(_pair(nn.CBAMChannelAttention, R.CBAMChannelAttention, 16, 4), 16),
    "CBAMSpatial": Case(_pair(nn.CBAMSpatialAttention, R.CBAMSpatialAttention, 3), 8),
    "CBAM": Case(_pair(nn.CBAM, R.CBAM, 16, reduction_factor=4, kernel_size=5), 16),
    "BAM-sum": Case(_pair(nn.BAM, R.BAM, 16, reduction_factor=4, dilation=2), 16),
    "BAM-product": Case(_pair(nn.BAM, R.BAM, 16, reduction_factor=4, dilation=2, combine="product"), 16),
    "BAM-default": Case(_pair(nn.BAM, R.BAM, 32), 32, spatial=(9, 9)),
    "GENoParams-global": Case(_pair(nn.GENoParams, R.GENoParams, 0), 8),
    "GENoParams-e2": Case(_pair(nn.GENoParams, R.GENoParams, 2), 8),
    "GENoParams-e3": Case(_pair(nn.GENoParams, R.GENoParams, 3), 8),
    "GEParams-global": Case(_pair(nn.GEParams, R.GEParams, 8, 0, spatial_dim=(6, 5)), 8, spatial=(6, 5)),
    "GEParams-e4": Case(_pair(nn.GEParams, R.GEParams, 8, 4), 8),
    "GEParamsPlus-global": Case(_pair(nn.GEParamsPlus, R.GEParamsPlus, 16, 0, spatial_dim=6), 16,
                                spatial=(6, 6)),
    "GEParamsPlus-e8": Case(_pair(nn.GEParamsPlus, R.GEParamsPlus, 16, 8, reduction_factor=4), 16),
    "SK": Case(_pair(nn.SK, R.SK, 16, groups=4, reduction_factor=4), 16),
    "SK-3branches-stride2": Case(_pair(nn.SK, R.SK, 16, n_branches=3, stride=2, groups=8,
                                       reduction_factor=8), 16),
    "SK-default-L32": Case(_pair(nn.SK, R.SK, 32, min_reduced_dim=32), 32),
    "PAM": Case(_pair(nn.PAM, R.PAM, 16), 16, low=-1.0, high=1.0),
    "CAM-paper": Case(_pair(nn.CAM, R.CAM), 8, low=-0.5, high=0.5),
    "CAM-official": Case(_pair(nn.CAM, R.CAM, "official"), 8, low=-0.5, high=0.5),
    "ResidualUnit": Case(_pair(nn.ResidualUnit, R.ResidualUnit, 8), 8),
    "ResidualUnit-projection": Case(_pair(nn.ResidualUnit, R.ResidualUnit, 8, 16, stride=2), 8),
    "ResidualAttention-depth1": Case(_pair(nn.ResidualAttentionModule, R.ResidualAttentionModule, 8, depth=1),
                                     8),
    "ResidualAttention-depth3": Case(_pair(nn.ResidualAttentionModule, R.ResidualAttentionModule, 8, depth=3),
                                     8, spatial=(9, 8)),
}


@st.composite
def case_input(draw, case):
    batch = draw(st.integers(case.min_batch, 3))
    height, width = case.spatial or (draw(st.integers(5, 8)), draw(st.integers(5, 8)))
    x = draw(arrays((batch, case.channels, height, width), case.low, case.high))
    return x, draw(st.integers(0, 2**16))


def _compare_state(mc_module, torch_module):
    """After a forward pass, the batch-norm running statistics must agree too."""
    ours = mc_module.state_dict()
    for key, value in torch_module.state_dict().items():
        np.testing.assert_allclose(np.asarray(minicnn.Tensor(ours[key]).numpy(), dtype=np.float64),
                                   value.detach().numpy().astype(np.float64), rtol=1e-7, atol=1e-9,
                                   err_msg=f"state {key} differs after the forward pass")


@pytest.mark.torch
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=4)
@given(data=st.data())
def test_module_parity(name, train, data):
    case = CASES[name]
    x, seed = data.draw(case_input(case))
    mc_module, torch_module = case.build()
    R.randomize_(torch_module, seed=seed)
    assert_module_parity(mc_module, torch_module, x, dtype=np.float64, train=train)
    _compare_state(mc_module, torch_module)


@pytest.mark.torch
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("sub_sample_factor,mode", [(1, "bilinear"), (2, "bilinear"), (2, "nearest")])
@settings(max_examples=4)
@given(data=st.data())
def test_attention_gate_parity(sub_sample_factor, mode, train, data):
    batch = data.draw(st.integers(2, 3))
    height, width = data.draw(st.integers(5, 9)), data.draw(st.integers(5, 9))
    x = data.draw(arrays((batch, 6, height, width)))
    g = data.draw(arrays((batch, 8, (height + 1) // 2, (width + 1) // 2)))
    mc_gate = nn.AttentionGate(6, 8, sub_sample_factor=sub_sample_factor, mode=mode)
    torch_gate = R.AttentionGate(6, 8, sub_sample_factor=sub_sample_factor, mode=mode)
    torch_gate = torch_gate.double().train(train)
    load_torch_weights(mc_gate, torch_gate)
    mc_gate.train(train)
    assert_parity(mc_gate, torch_gate, [x, g], mc_params=dict(mc_gate.named_parameters()),
                  torch_params=dict(torch_gate.named_parameters()))
    assert mc_gate.attention_map.shape == (batch, 1, height, width)


# ----------------------------------------------------------------------------- the article's keys
@pytest.mark.parametrize("name", list(R.ARTICLE_KEYS))
def test_state_dict_keys_match_the_article(name):
    kwargs, keys = R.ARTICLE_KEYS[name]
    ours = getattr(nn, name)(**kwargs)
    assert sorted(ours.state_dict()) == sorted(keys)
    reference = getattr(R, name)(**kwargs)
    shapes = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == shapes


@pytest.mark.parametrize("name", [n for n in R.ARTICLE_KEYS if n not in ("SEVar1", "GENoParams")])
def test_article_weights_load_strictly(name):
    kwargs, _ = R.ARTICLE_KEYS[name]
    reference = R.randomize_(getattr(R, name)(**kwargs))
    ours = getattr(nn, name)(**kwargs)
    ours.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()}, strict=True)
    for key, value in reference.state_dict().items():
        np.testing.assert_array_equal(minicnn.Tensor(ours.state_dict()[key]).numpy(), value.numpy())


def test_parameter_counts_of_the_article_modules():
    # Fixtures from the reference notes: SE(64) 580; GE-theta-plus(64, global, 7x7) 3844.
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(nn.SE(64)) == 580
    assert count(nn.GEParamsPlus(64, extent=0, spatial_dim=7)) == 3844
    # BAM(64): 1173 as the official code, whose two dilated convolutions are distinct (the
    # article's list multiplication shares them and has 1017).
    assert count(nn.BAM(64)) == 1173


REFERENCE_CROSS_CHECKS = {
    "SE": (lambda: R.SE(32, 4), 32), "SEVar2": (lambda: R.SEVar2(16), 16), "SEVar3": (lambda: R.SEVar3(16), 16),
    "ECA": (lambda: R.ECA(5), 32), "CBAMChannel": (lambda: R.CBAMChannelAttention(32, 4), 32),
    "CBAMSpatial": (lambda: R.CBAMSpatialAttention(5), 8), "BAM-sum": (lambda: R.BAM(32, 4, 2), 32),
    "BAM-product": (lambda: R.BAM(32, 4, 2, "product"), 32), "GEParams-e4": (lambda: R.GEParams(16, 4), 16),
    "GEParams-global": (lambda: R.GEParams(16, 0, 7), 16), "GEParamsPlus": (lambda: R.GEParamsPlus(32, 2), 32),
    "SK": (lambda: R.SK(32, 3, 1, 8, 4), 32), "PAM": (lambda: R.PAM(16), 16), "CAM-paper": (lambda: R.CAM(), 16),
    "CAM-official": (lambda: R.CAM("official"), 16),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(REFERENCE_CROSS_CHECKS))
def test_references_agree_with_the_article_composition(name):
    """The equation-based references equal the article's (bug-fixed) forward compositions
    (the official DANet code's for PAM/CAM), so the references are not one person's misreading."""
    build, channels = REFERENCE_CROSS_CHECKS[name]
    torch.manual_seed(0)
    module = R.randomize_(build()).double()
    x = torch.randn(3, channels, 7, 7, dtype=torch.float64)
    for train in (True, False):
        module.train(train)
        with torch.no_grad():
            torch.testing.assert_close(module(x), R.ARTICLE_FORWARD[type(module)](module, x))


# ----------------------------------------------------------------------------- behaviour
def _x(shape, seed=0):
    return minicnn.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def test_eca_kernel_size_rule():
    assert [attention.eca_kernel_size(c) for c in (16, 24, 64, 128, 256, 512, 1024, 2048)] == \
        [3, 3, 3, 5, 5, 5, 5, 7]
    assert attention.eca_kernel_size(64, gamma=1, b=1) == 7
    eca = nn.ECA.from_channels(256)
    assert eca.kernel_size == 5 and eca.conv.weight.shape == (1, 1, 5) and eca.in_dim == 256
    assert [R.eca_kernel_size(c) for c in (64, 2048)] == [3, 7]


def test_ge_downsampling_steps_have_distinct_layers():
    ge = nn.GEParams(8, extent=8)
    convs = [m for m in ge.gather if isinstance(m, nn.Conv2d)]
    bns = [m for m in ge.gather if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 3 and len({id(m) for m in convs}) == 3 and len({id(m) for m in bns}) == 3
    assert len(list(ge.parameters())) == 9                      # 3 x (conv weight, BN weight, BN bias)
    assert type(ge.gather[-1]).__name__ == "BatchNorm2d"        # no ReLU after the last step
    out = ge(_x((2, 8, 16, 16)))
    assert out.shape == (2, 8, 16, 16)


def test_bam_dilated_convolutions_are_distinct():
    bam = nn.BAM(32)
    assert bam.spatial_attention.layers[0] is not bam.spatial_attention.layers[3]
    assert bam.spatial_attention.layers[0].weight is not bam.spatial_attention.layers[3].weight


def test_danet_gamma_starts_at_zero_so_the_modules_start_as_identity():
    x = _x((2, 16, 4, 5))
    for module in (nn.PAM(16), nn.CAM(), nn.CAM("official")):
        assert module.gamma.shape == (1,) and float(module.gamma.numpy()[0]) == 0.0
        np.testing.assert_array_equal(module(x).numpy(), x.numpy())


def test_cam_official_variant_is_softmax_of_minus_energy():
    """softmax(max - E) = softmax(-E): the official CAM favours dissimilar channels."""
    x = _x((2, 6, 3, 3))
    cam = nn.CAM("official")
    cam(x)
    flat = x.numpy().reshape(2, 6, 9).astype(np.float64)
    energy = flat @ flat.transpose(0, 2, 1)
    expected = np.exp(-energy - (-energy).max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(cam.last_attention.numpy(), expected, rtol=1e-4, atol=1e-6)


def test_last_attention_is_stored_detached():
    x = _x((2, 16, 6, 7))
    x.requires_grad_(True)
    expect = {
        nn.SE(16, 4): (2, 16, 1, 1), nn.SEVar1(): (2, 16, 1, 1), nn.SEVar2(16): (2, 16, 1, 1),
        nn.SEVar3(16): (2, 16, 1, 1), nn.ECA(): (2, 16, 1, 1),
        nn.CBAMChannelAttention(16, 4): (2, 16, 1, 1), nn.CBAMSpatialAttention(): (2, 1, 6, 7),
        nn.CBAM(16, 4): (2, 1, 6, 7), nn.BAMChannelAttention(16, 4): (2, 16, 1, 1),
        nn.BAMSpatialAttention(16, 4): (2, 1, 6, 7), nn.BAM(16, 4): (2, 16, 6, 7),
        nn.GENoParams(2): (2, 16, 6, 7), nn.GEParams(16, 2): (2, 16, 6, 7),
        nn.GEParamsPlus(16, 0, spatial_dim=(6, 7)): (2, 16, 6, 7), nn.SK(16, groups=4): (2, 2, 16, 1, 1),
        nn.PAM(16): (2, 42, 42), nn.CAM(): (2, 16, 16), nn.ResidualAttentionModule(16, depth=2): (2, 16, 6, 7),
    }
    for module, shape in expect.items():
        assert module.last_attention is None
        out = module(x)
        a = module.last_attention
        assert isinstance(a, minicnn.Tensor) and a.shape == shape and not a.requires_grad, type(module)
        assert a.grad_fn is None
        values = a.numpy()
        if not isinstance(module, (nn.BAMChannelAttention, nn.BAMSpatialAttention)):
            assert values.min() >= 0 and values.max() <= 1, type(module)   # gates and softmax rows
        if isinstance(module, (nn.SE, nn.ECA, nn.CBAMSpatialAttention, nn.GEParams)):
            np.testing.assert_allclose(out.detach().numpy(), (a * x.detach()).numpy(), rtol=1e-6)
    sk = nn.SK(16, groups=4)
    sk(x)
    np.testing.assert_allclose(sk.last_attention.numpy().sum(axis=1), 1.0, rtol=1e-6)
    pam = nn.PAM(16)
    pam(x)
    np.testing.assert_allclose(pam.last_attention.numpy().sum(axis=-1), 1.0, rtol=1e-5)
    bam = nn.BAM(16, 4, combine="product")
    out = bam(x)
    np.testing.assert_allclose(out.detach().numpy(), ((1 + bam.last_attention) * x.detach()).numpy(),
                               rtol=1e-6)
    gate = nn.AttentionGate(16, 8)
    gate(x, _x((2, 8, 3, 4)))
    assert gate.attention_map.shape == (2, 1, 6, 7) and gate.last_attention is gate.attention_map


def test_residual_unit_shapes_and_projection():
    unit = nn.ResidualUnit(8, 16, stride=2)
    assert unit.shortcut is not None and unit.conv1.weight.shape == (4, 8, 1, 1)
    assert unit(_x((2, 8, 7, 7))).shape == (2, 16, 4, 4)
    assert nn.ResidualUnit(8).shortcut is None
    assert all(conv.bias is None for conv in (unit.conv1, unit.conv2, unit.conv3, unit.shortcut))


@pytest.mark.parametrize("depth,size", [(1, 14), (2, 28), (3, 56)])
def test_residual_attention_mask_is_7x7_at_the_bottom_for_the_paper_stages(depth, size):
    """Attention-56/92: 3, 2, 1 poolings for 56x56, 28x28, 14x14 inputs give a 7x7 smallest mask map."""
    module = nn.ResidualAttentionModule(4, depth=depth, p=0, t=1, r=1)
    x = _x((1, 4, size, size))
    module.eval()
    features = x
    for _ in range(depth):
        features = module.pool(features)
    assert features.shape[2:] == (7, 7)
    assert module(x).shape == x.shape and module.last_attention.shape == x.shape


def test_modules_run_on_the_strict_backend():
    """Forward and backward of every module on the strict CuPy stand-in (no stray NumPy calls)."""
    with minicnn.backend.use_backend("strict"):
        x = minicnn.tensor(np.random.default_rng(0).standard_normal((2, 16, 6, 6)).astype(np.float32),
                           requires_grad=True)
        modules = [nn.SE(16, 4), nn.SEVar1(), nn.SEVar2(16), nn.SEVar3(16), nn.ECA.from_channels(16),
                   nn.CBAM(16, 4), nn.BAM(16, 4), nn.BAM(16, 4, combine="product"), nn.GENoParams(0),
                   nn.GENoParams(2), nn.GEParams(16, 2), nn.GEParamsPlus(16, 0, spatial_dim=6),
                   nn.SK(16, groups=4), nn.PAM(16), nn.CAM(), nn.CAM("official"),
                   nn.ResidualAttentionModule(16, depth=2)]
        for module in modules:
            x.grad = None
            out = module(x)
            assert out.backend == "strict" and module.last_attention.backend == "strict"
            (out * out).sum().backward()
            assert x.grad is not None and x.grad.backend == "strict", type(module)
        gate = nn.AttentionGate(16, 8)
        gate(x, minicnn.tensor(np.ones((2, 8, 3, 3), dtype=np.float32))).sum().backward()


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("build,words", [
    (lambda: nn.SE(8), ["SE", "8 // 16 = 0", "reduction_factor"]),
    (lambda: nn.CBAM(8), ["CBAMChannelAttention", "8 // 16 = 0"]),
    (lambda: nn.BAM(12), ["BAMChannelAttention", "12 // 16 = 0"]),
    (lambda: nn.BAMSpatialAttention(12, 16), ["BAMSpatialAttention", "12 // 16 = 0"]),
    (lambda: nn.GEParamsPlus(8, 2), ["GEParamsPlus", "8 // 16 = 0"]),
    (lambda: nn.SK(8, groups=4), ["Fuse", "8 // 16 = 0"]),
    (lambda: nn.PAM(4), ["PAM", "4 // 8 = 0"]),
])
def test_too_few_channels_for_the_reduction_factor(build, words):
    with pytest.raises(ValueError) as info:
        build()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("build,words", [
    (lambda: nn.SK(48), ["SK", "divisible by groups", "in_dim=48", "groups=32"]),
    (lambda: nn.SK(16, groups=3, reduction_factor=4), ["SK", "divisible by groups", "groups=3"]),
    (lambda: selective_kernel.Branch(10, groups=4), ["Branch", "divisible by groups"]),
])
def test_channels_not_divisible_by_groups(build, words):
    with pytest.raises(ValueError) as info:
        build()
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("cls", [nn.GEParams, nn.GEParamsPlus])
def test_global_gather_with_parameters_needs_its_spatial_size(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}.*extent=0.*spatial_dim.*got spatial_dim=None"):
        cls(16, 0)


@pytest.mark.parametrize("cls", [nn.GEParams, nn.GEParamsPlus])
def test_spatial_size_must_be_the_one_it_was_built_for(cls):
    module = cls(16, 0, spatial_dim=7)
    assert module(_x((2, 16, 7, 7))).shape == (2, 16, 7, 7)
    with pytest.raises(ValueError, match=r"built for inputs of spatial size \(7, 7\).*got \(6, 7\)"):
        module(_x((2, 16, 6, 7)))


@pytest.mark.parametrize("module", [
    nn.SE(16, 4), nn.SEVar2(16), nn.SEVar3(16), nn.ECA.from_channels(16), nn.CBAM(16, 4), nn.BAM(16, 4),
    nn.BAMChannelAttention(16, 4), nn.BAMSpatialAttention(16, 4), nn.GEParams(16, 2),
    nn.GEParamsPlus(16, 4), nn.SK(16, groups=4), nn.PAM(16), nn.ResidualUnit(16),
    nn.ResidualAttentionModule(16, depth=1), nn.AttentionGate(16, 8)],
    ids=lambda m: type(m).__name__)
def test_wrong_number_of_input_channels(module):
    x = _x((2, 8, 6, 6))
    with pytest.raises(ValueError, match=rf"{type(module).__name__}\(.*expected 16 input channels.*got 8"):
        module(x) if not isinstance(module, nn.AttentionGate) else module(x, _x((2, 8, 3, 3)))


def test_other_bad_arguments():
    with pytest.raises(ValueError, match=r"SEVar1\(\): expected a 4-D input .*got shape \(2, 16\)"):
        nn.SEVar1()(_x((2, 16)))
    with pytest.raises(ValueError, match="BAM: combine must be one of"):
        nn.BAM(32, combine="max")
    with pytest.raises(ValueError, match="CAM: variant must be one of"):
        nn.CAM("negated")
    with pytest.raises(ValueError, match="ECA: kernel_size must be a positive odd integer"):
        nn.ECA(4)
    with pytest.raises(ValueError, match="CBAMSpatialAttention: kernel_size must be a positive odd"):
        nn.CBAMSpatialAttention(6)
    with pytest.raises(ValueError, match="GEParams.*extent must be 0 \\(global\\) or a power of two"):
        nn.GEParams(16, 3)
    with pytest.raises(ValueError, match="GENoParams: extent must be"):
        nn.GENoParams(-1)
    with pytest.raises(ValueError, match="AttentionGate: expected a gating signal of shape \\(2, 8, H_g, W_g\\)"):
        nn.AttentionGate(16, 8)(_x((2, 16, 6, 6)), _x((2, 4, 3, 3)))
    with pytest.raises(ValueError, match="ResidualUnit.*at least 4"):
        nn.ResidualUnit(2)
    with pytest.raises(ValueError, match="eca_kernel_size: channels must be a positive integer"):
        attention.eca_kernel_size(0)
