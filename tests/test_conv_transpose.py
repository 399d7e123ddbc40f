"""conv_transpose2d and the ConvTranspose2d layer (U-Net's up-conv).

Gradient checks on Hypothesis-drawn geometries (every backend), parity with torch, the fast
version against the naive loops, the adjoint identity <conv(x), y> = <x, conv_transpose(y)>,
the error messages and the layer (state_dict, torch weights, output_size, init, repr).
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn import nn
from minicnn.ops.conv_transpose import conv_transpose2d_backward_naive, conv_transpose2d_naive
from minicnn.testing import assert_module_parity, assert_parity, gradcheck
from minicnn.testing.cases import check_against_naive, pinned


@st.composite
def conv_transpose2d_configs(draw):
    groups = draw(st.sampled_from([1, 2]))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    output_padding = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = []
    for axis in range(2):   # keep the output non-empty: 2p < (n-1)s + d(k-1) + op + 1
        full = (size[axis] - 1) * stride[axis] + dilation[axis] * (kernel[axis] - 1) + output_padding[axis] + 1
        padding.append(draw(st.integers(0, min(2, (full - 1) // 2))))
    return dict(n=draw(st.integers(2, 3)), c_in=groups * draw(st.integers(1, 2)),
                c_out=groups * draw(st.integers(1, 2)), size=size, kernel=kernel, stride=stride,
                padding=tuple(padding), output_padding=output_padding, dilation=dilation, groups=groups,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


def arrays_for(cfg):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.uniform(-2, 2, (cfg["n"], cfg["c_in"]) + cfg["size"])
    w = rng.uniform(-1, 1, (cfg["c_in"], cfg["c_out"] // cfg["groups"]) + cfg["kernel"])
    b = rng.uniform(-1, 1, cfg["c_out"]) if cfg["bias"] else None
    return x, w, b


def kwargs_for(cfg):
    return dict(stride=cfg["stride"], padding=cfg["padding"], output_padding=cfg["output_padding"],
                groups=cfg["groups"], dilation=cfg["dilation"])


# Always run: the U-Net up-conv (2x2, stride 2), overlapping windows with a stride that leaves
# gaps (k=3, s=2), output_padding with padding, groups, dilation > stride with output_padding,
# odd and even sizes.
PINNED = [
    dict(n=2, c_in=4, c_out=2, size=(3, 4), kernel=(2, 2), stride=(2, 2), padding=(0, 0),
         output_padding=(0, 0), dilation=(1, 1), groups=1, bias=True, seed=1),
    dict(n=2, c_in=4, c_out=4, size=(3, 2), kernel=(3, 3), stride=(2, 3), padding=(1, 2),
         output_padding=(1, 2), dilation=(1, 1), groups=2, bias=True, seed=2),
    dict(n=3, c_in=2, c_out=3, size=(4, 3), kernel=(3, 2), stride=(1, 1), padding=(2, 0),
         output_padding=(1, 0), dilation=(2, 1), groups=1, bias=False, seed=3),
]


_with_examples = pinned(PINNED)


@settings(max_examples=8)
@_with_examples
@given(cfg=conv_transpose2d_configs())
def test_conv_transpose2d_gradcheck(backend, cfg):
    x, w, b = arrays_for(cfg)
    inputs = [minicnn.tensor(x, requires_grad=True), minicnn.tensor(w, requires_grad=True)]
    if b is not None:
        inputs.append(minicnn.tensor(b, requires_grad=True))
    gradcheck(lambda *t: F.conv_transpose2d(*t, **kwargs_for(cfg)), *inputs)


@settings(max_examples=10)
@_with_examples
@given(cfg=conv_transpose2d_configs())
def test_fast_conv_transpose2d_equals_naive_loops(cfg):
    kwargs = kwargs_for(cfg)
    check_against_naive(lambda *t: F.conv_transpose2d(*t, **kwargs),
                        lambda x, w, b: conv_transpose2d_naive(x, w, b, **kwargs), arrays_for(cfg))


@settings(max_examples=10)
@_with_examples
@given(cfg=conv_transpose2d_configs())
def test_fast_conv_transpose2d_backward_equals_naive_loops(cfg):
    """Every gradient of the fast ConvTranspose2d (conv2d's kernels, roles swapped) == the naive loops."""
    kwargs = kwargs_for(cfg)
    check_against_naive(lambda *t: F.conv_transpose2d(*t, **kwargs),
                        lambda x, w, b: conv_transpose2d_naive(x, w, b, **kwargs), arrays_for(cfg),
                        lambda g, x, w, b: conv_transpose2d_backward_naive(g, x, w, **kwargs), seed=cfg["seed"])


@settings(max_examples=10)
@_with_examples
@given(cfg=conv_transpose2d_configs())
def test_conv_transpose_is_the_adjoint_of_conv(cfg):
    """<conv2d(y, W), x> = <y, conv_transpose2d(x, W)> for y of the transposed conv's output size."""
    x, w, _ = arrays_for(cfg)
    kwargs = kwargs_for(cfg)
    out = F.conv_transpose2d(minicnn.tensor(x), minicnn.tensor(w), **kwargs).numpy()
    y = np.random.default_rng(1).standard_normal(out.shape)
    conv = F.conv2d(minicnn.tensor(y), minicnn.tensor(w), stride=kwargs["stride"], padding=kwargs["padding"],
                    dilation=kwargs["dilation"], groups=kwargs["groups"]).numpy()
    conv = conv[:, :, :x.shape[2], :x.shape[3]]   # output_padding >= stride adds rows x never saw
    np.testing.assert_allclose((conv * x).sum(), (y * out).sum(), rtol=1e-10)


PARITY = [  # (input shape, weight shape, bias, kwargs)
    ((2, 4, 5, 5), (4, 2, 2, 2), True, dict(stride=2)),                               # U-Net up-conv
    ((2, 3, 4, 5), (3, 4, 3, 3), True, dict(stride=2, padding=1, output_padding=1)),
    ((2, 4, 3, 4), (4, 3, 3, 2), False, dict(stride=(3, 2), padding=(2, 1), output_padding=(2, 0), groups=2)),
    ((2, 2, 5, 4), (2, 3, 3, 3), True, dict(dilation=2, padding=1)),
    ((2, 2, 4, 4), (2, 3, 3, 3), True, dict(stride=1, dilation=2, output_padding=1, padding=3)),
    ((3, 6, 4, 3), (6, 1, 3, 3), True, dict(stride=2, groups=6)),                     # depthwise
    ((2, 8, 4, 4), (8, 2, 1, 1), True, dict()),                                        # 1x1, C_out < C_in
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, w_shape, bias, kwargs", PARITY)
def test_conv_transpose2d_matches_torch(x_shape, w_shape, bias, kwargs, dtype):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[1] * kwargs.get("groups", 1)))
    assert_parity(lambda *t: F.conv_transpose2d(*t, **kwargs),
                  lambda *t: torch.nn.functional.conv_transpose2d(*t, **kwargs), arrays, dtype=dtype)


def test_conv_transpose2d_matches_torch_on_strict_backend():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((2, 4, 3, 4)), rng.standard_normal((4, 1, 3, 2)), rng.standard_normal(2)]
    kwargs = dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), groups=2)
    ours, _ = assert_parity(lambda *t: F.conv_transpose2d(*t, **kwargs),
                            lambda *t: torch.nn.functional.conv_transpose2d(*t, **kwargs), arrays,
                            backend="strict")
    assert ours.backend == "strict"


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("x_shape, w_shape, kwargs, message", [
    ((4, 5, 5), (4, 2, 2, 2), {}, r"conv_transpose2d: expected a 4-D input \(N, C_in, H, W\), got a 3-D "
                                  r"input of shape \(4, 5, 5\)"),
    ((2, 4, 5, 5), (4, 2, 2), {}, r"conv_transpose2d: expected a 4-D weight \(C_in, C_out/groups, kH, kW\), "
                                  r"got shape \(4, 2, 2\)"),
    ((2, 3, 5, 5), (4, 2, 2, 2), {}, r"conv_transpose2d: weight of shape \(4, 2, 2, 2\) .* expects 4 input "
                                     r"channels, got an input of shape \(2, 3, 5, 5\) with 3"),
    ((2, 3, 5, 5), (3, 2, 2, 2), dict(groups=2), r"conv_transpose2d: the input's 3 channels .* not divisible "
                                                 r"by groups=2"),
    ((2, 4, 5, 5), (4, 2, 2, 2), dict(stride=0), r"conv_transpose2d: stride must be positive"),
    ((2, 4, 5, 5), (4, 2, 3, 3), dict(stride=2, output_padding=2), r"conv_transpose2d: output_padding must "
                                                                   r"be smaller than either stride or dilation"),
    ((2, 4, 1, 1), (4, 2, 1, 1), dict(padding=1), r"conv_transpose2d: the output would have size \(-1, -1\)"),
    ((2, 4, 5, 5), (4, 2, 3, 3), dict(padding="same"), r"conv_transpose2d: padding must be an int or a tuple"),
])
def test_conv_transpose2d_bad_input_errors(x_shape, w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        F.conv_transpose2d(minicnn.tensor(np.zeros(x_shape)), minicnn.tensor(np.zeros(w_shape)), **kwargs)


def test_conv_transpose2d_bad_bias_error():
    with pytest.raises(ValueError, match=r"conv_transpose2d: expected a bias of shape \(4,\)"):
        F.conv_transpose2d(minicnn.tensor(np.zeros((2, 4, 5, 5))), minicnn.tensor(np.zeros((4, 2, 2, 2))),
                           minicnn.tensor(np.zeros(2)), groups=2)


# ------------------------------------------------------------------------------ the layer
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs, shape", [
    (dict(in_channels=8, out_channels=4, kernel_size=2, stride=2), (2, 8, 5, 6)),
    (dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2,
          bias=False), (2, 4, 4, 3)),
    (dict(in_channels=3, out_channels=2, kernel_size=(3, 2), dilation=2), (2, 3, 4, 4)),
])
def test_conv_transpose2d_layer_matches_torch(kwargs, shape, dtype):
    layer, twin = nn.ConvTranspose2d(**kwargs), torch.nn.ConvTranspose2d(**kwargs)
    assert list(layer.state_dict()) == list(twin.state_dict())
    assert layer.weight.shape == tuple(twin.weight.shape)
    assert repr(layer) == repr(twin)
    assert_module_parity(layer, twin, np.random.default_rng(0).standard_normal(shape), dtype=dtype)


def test_unet_up_conv_doubles_the_size():
    up = nn.ConvTranspose2d(16, 8, kernel_size=2, stride=2)
    assert up(minicnn.randn(2, 16, 7, 5)).shape == (2, 8, 14, 10)


def test_output_size_argument_matches_torch():
    layer, twin = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(3, 2, 3, stride=2,
                                                                                             padding=1)
    layer.load_state_dict({k: v.detach().numpy() for k, v in twin.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    for size in [(7, 7), (8, 8), (7, 8), (2, 3, 8, 7)]:
        ours = layer(minicnn.tensor(x), output_size=size)
        theirs = twin(torch.tensor(x), output_size=list(size))
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \(9, 9\), but valid "
                                         r"sizes .* range from 7 to 8"):
        layer(minicnn.tensor(x), output_size=(9, 9))


def test_conv_transpose2d_initialisation_follows_torch():
    """torch computes fan_in from weight.shape[1] * kH * kW, which is C_out / groups here."""
    layer = nn.ConvTranspose2d(64, 32, 3)
    bound = 1 / math.sqrt(32 * 9)
    w = layer.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound / math.sqrt(3)


def test_conv_transpose2d_layer_errors():
    with pytest.raises(ValueError, match=r'ConvTranspose2d: only "zeros" padding_mode is supported'):
        nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"ConvTranspose2d: in_channels=3 must be divisible by groups=2"):
        nn.ConvTranspose2d(3, 4, 3, groups=2)
