"""Gradient checks (central differences, float64) of every attention module, with respect to its
input and its parameters, on inputs and weights that Hypothesis draws.

Modules run in training mode (batch norm uses the batch statistics, the harder backward). Where
batch norm sees a pooled (N, C, 1, 1) map the batch is 3 (with 2 samples every normalised value
is +-1 and the gradient vanishes). DANet's gamma starts at 0, which would leave every parameter
before it without gradient, so it is set to 0.7 here. The residual-attention module has ~300
parameters; there the check covers the input and one weight of every part (pre, trunk, each
mask level, skip, up, head, post), and the parity tests compare all of them with PyTorch.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn import init, nn
from minicnn.testing import gradcheck
from minicnn.testing.strategies import arrays


def _all_parameters(module):
    return [p for _, p in module.named_parameters()]


def _named(module, *names):
    params = dict(module.named_parameters())
    return [params[n] for n in names]


def _set_gamma(module):
    init.constant_(module.gamma, 0.7)
    return module


# name: (builder, input shape, parameters to check (None: all), input range)
GRADCHECKS = {
    "SE": (lambda: nn.SE(8, reduction_factor=4), (2, 8, 4, 4), None, 2.0),
    "SEVar1": (lambda: nn.SEVar1(), (2, 8, 3, 4), None, 2.0),
    "SEVar2": (lambda: nn.SEVar2(8), (2, 8, 3, 4), None, 2.0),
    "SEVar3": (lambda: nn.SEVar3(8), (2, 8, 3, 4), None, 2.0),
    "ECA": (lambda: nn.ECA(3), (2, 8, 4, 3), None, 2.0),
    "CBAM": (lambda: nn.CBAM(8, reduction_factor=4, kernel_size=3), (2, 8, 4, 4), None, 2.0),
    "BAM-sum": (lambda: nn.BAM(8, reduction_factor=4, dilation=1), (3, 8, 3, 3), None, 2.0),
    "BAM-product": (lambda: nn.BAM(8, reduction_factor=4, dilation=1, combine="product"), (3, 8, 3, 3), None,
                    2.0),
    "GENoParams-global": (lambda: nn.GENoParams(0), (2, 4, 4, 4), None, 2.0),
    "GENoParams-e2": (lambda: nn.GENoParams(2), (2, 4, 5, 4), None, 2.0),
    "GEParams-e4": (lambda: nn.GEParams(4, 4), (2, 4, 5, 5), None, 2.0),
    "GEParams-global": (lambda: nn.GEParams(4, 0, spatial_dim=3), (3, 4, 3, 3), None, 2.0),
    "GEParamsPlus-global": (lambda: nn.GEParamsPlus(8, 0, spatial_dim=3, reduction_factor=4), (3, 8, 3, 3),
                            None, 2.0),
    "GEParamsPlus-e2": (lambda: nn.GEParamsPlus(8, 2, reduction_factor=4), (2, 8, 4, 4), None, 2.0),
    "SK": (lambda: nn.SK(8, groups=4, reduction_factor=4), (3, 8, 3, 3), None, 2.0),
    "SK-stride2": (lambda: nn.SK(4, n_branches=3, stride=2, groups=4, reduction_factor=2), (3, 4, 4, 4), None,
                   2.0),
    "PAM": (lambda: _set_gamma(nn.PAM(16)), (2, 16, 3, 2), None, 1.0),
    "CAM-paper": (lambda: _set_gamma(nn.CAM()), (2, 6, 3, 3), None, 0.5),
    "CAM-official": (lambda: _set_gamma(nn.CAM("official")), (2, 6, 3, 3), None, 0.5),
    "ResidualUnit": (lambda: nn.ResidualUnit(8), (2, 8, 3, 3), None, 2.0),
    "ResidualUnit-projection": (lambda: nn.ResidualUnit(4, 8, stride=2), (2, 4, 4, 4), None, 2.0),
    "ResidualAttentionModule": (
        lambda: nn.ResidualAttentionModule(4, depth=2, p=1, t=1, r=1), (2, 4, 4, 4),
        ["pre.0.conv2.weight", "trunk.0.conv3.weight", "trunk.0.bn1.weight", "down.0.0.conv1.weight",
         "down.1.1.conv2.weight", "skips.0.conv3.weight", "up.0.0.conv1.weight", "mask_head.0.bias",
         "mask_head.2.weight", "mask_head.5.weight", "post.0.conv2.weight"], 1.0),
}


@pytest.mark.parametrize("name", list(GRADCHECKS))
@settings(max_examples=3)
@given(data=st.data())
def test_module_gradcheck(name, data):
    build, shape, names, bound = GRADCHECKS[name]
    minicnn.manual_seed(data.draw(st.integers(0, 2**16), label="weight seed"))
    module = build().double().train()
    x = minicnn.tensor(data.draw(arrays(shape, -bound, bound), label="x"), requires_grad=True)
    params = _all_parameters(module) if names is None else _named(module, *names)
    labels = ["x"] + [n for n, p in module.named_parameters() if any(p is q for q in params)]
    gradcheck(lambda x, *_: module(x), x, *params, names=labels)


@pytest.mark.parametrize("sub_sample_factor", [1, 2])
@settings(max_examples=3)
@given(data=st.data())
def test_attention_gate_gradcheck(sub_sample_factor, data):
    minicnn.manual_seed(data.draw(st.integers(0, 2**16), label="weight seed"))
    gate = nn.AttentionGate(4, 6, inter_channels=3, sub_sample_factor=sub_sample_factor).double()
    x = minicnn.tensor(data.draw(arrays((2, 4, 5, 5)), label="x"), requires_grad=True)
    g = minicnn.tensor(data.draw(arrays((2, 6, 3, 3)), label="g"), requires_grad=True)
    params = _all_parameters(gate)
    gradcheck(lambda x, g, *_: gate(x, g), x, g, *params,
              names=["x", "g"] + [n for n, _ in gate.named_parameters()])


def test_danet_zero_gamma_blocks_upstream_gradients():
    """With gamma = 0 (the initialisation) only gamma gets a gradient: why gradchecks set it."""
    pam = nn.PAM(16).double()
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((2, 16, 3, 3)), requires_grad=True)
    (pam(x) ** 2).sum().backward()
    assert np.any(pam.gamma.grad.numpy() != 0)
    for name in ("query_conv.weight", "key_conv.weight", "value_conv.weight"):
        np.testing.assert_array_equal(dict(pam.named_parameters())[name].grad.numpy(), 0.0)
