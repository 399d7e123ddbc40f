"""conv2d / conv1d and the Conv1d, Conv2d, SeparableConv2d, CoordConv2d layers.

* gradient checks (float64 central differences) on random geometries drawn by Hypothesis, on
  every backend, plus fixed examples that pin the awkward cases;
* parity with torch (forward and every gradient, float64 and float32);
* the fast kernels against the naive loops, and the two input-gradient algorithms against
  each other;
* the error messages;
* the layers: state_dict keys, torch weights, initialisation, repr.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn import nn
from minicnn.ops import im2col as I2C
from minicnn.ops.conv import conv2d_backward_naive, conv2d_input_grad, conv2d_naive, conv2d_options
from minicnn.testing import assert_module_parity, assert_parity, gradcheck
from minicnn.testing.cases import check_against_naive, pinned


# ------------------------------------------------------------------------------ geometry strategies
@st.composite
def conv2d_configs(draw):
    """A valid conv2d geometry: kernel, stride, dilation, padding (int, tuple, 'same', 'valid'),
    groups, bias, and input sizes derived so that the dilated kernel fits in the padded input."""
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding_kind = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    stride = (1, 1) if padding_kind == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if padding_kind == "int":
        padding = draw(st.integers(0, 2))
    elif padding_kind == "tuple":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    else:
        padding = padding_kind
    sizes = []
    for axis in range(2):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        pad = {"same": span - 1, "valid": 0}.get(padding_kind, None)
        if pad is None:
            pad = 2 * (padding if padding_kind == "int" else padding[axis])
        sizes.append(draw(st.integers(max(1, span - pad), max(1, span - pad) + 4)))
    return dict(n=draw(st.integers(2, 3)), c_in=c_in, c_out=c_out, size=tuple(sizes), kernel=kernel,
                stride=stride, padding=padding, dilation=dilation, groups=groups, bias=draw(st.booleans()),
                seed=draw(st.integers(0, 2**16)))


def conv2d_arrays(cfg, dtype=np.float64):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.uniform(-2, 2, (cfg["n"], cfg["c_in"]) + cfg["size"]).astype(dtype)
    w = rng.uniform(-1, 1, (cfg["c_out"], cfg["c_in"] // cfg["groups"]) + cfg["kernel"]).astype(dtype)
    b = rng.uniform(-1, 1, cfg["c_out"]).astype(dtype) if cfg["bias"] else None
    return x, w, b


def conv2d_kwargs(cfg):
    return dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])


# The awkward cases, always run (Hypothesis draws the rest): odd and even sizes, a stride that does
# not divide the input, dilation, groups, asymmetric padding, "same" with an even kernel
# (asymmetric zeros), a kernel as large as the padded input, padding larger than the kernel.
PINNED = [
    dict(n=2, c_in=4, c_out=2, size=(7, 6), kernel=(3, 2), stride=(2, 3), padding=(1, 2), dilation=(2, 1),
         groups=2, bias=True, seed=1),
    dict(n=2, c_in=2, c_out=3, size=(5, 4), kernel=(2, 3), stride=(1, 1), padding="same", dilation=(1, 2),
         groups=1, bias=False, seed=2),
    dict(n=3, c_in=2, c_out=2, size=(3, 4), kernel=(3, 3), stride=(1, 1), padding="valid", dilation=(1, 1),
         groups=2, bias=True, seed=3),
    dict(n=2, c_in=3, c_out=2, size=(4, 5), kernel=(1, 2), stride=(1, 2), padding=(2, 1), dilation=(1, 1),
         groups=1, bias=True, seed=4),
]


_with_examples = pinned(PINNED)


# ------------------------------------------------------------------------------ gradient checks
@settings(max_examples=8)
@_with_examples
@given(cfg=conv2d_configs())
def test_conv2d_gradcheck(backend, cfg):
    x, w, b = conv2d_arrays(cfg)
    inputs = [minicnn.tensor(x, requires_grad=True), minicnn.tensor(w, requires_grad=True)]
    if b is not None:
        inputs.append(minicnn.tensor(b, requires_grad=True))
    gradcheck(lambda *t: F.conv2d(*t, **conv2d_kwargs(cfg)), *inputs)


@st.composite
def conv1d_configs(draw):
    groups = draw(st.sampled_from([1, 2]))
    kernel, dilation = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    padding = draw(st.sampled_from([0, 1, 2, (1,), "same", "valid"]))
    stride = 1 if padding == "same" else draw(st.integers(1, 3))
    span = dilation * (kernel - 1) + 1
    pad = {"same": span - 1, "valid": 0}.get(padding) if isinstance(padding, str) else \
        2 * (padding[0] if isinstance(padding, tuple) else padding)
    return dict(n=draw(st.integers(2, 3)), c_in=groups * draw(st.integers(1, 2)),
                c_out=groups * draw(st.integers(1, 2)), length=draw(st.integers(max(1, span - pad), span + 5)),
                kernel=kernel, stride=stride, padding=padding, dilation=dilation, groups=groups,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@settings(max_examples=8)
@example(cfg=dict(n=2, c_in=4, c_out=2, length=8, kernel=3, stride=3, padding=1, dilation=2, groups=2,
                  bias=True, seed=0))
@given(cfg=conv1d_configs())
def test_conv1d_gradcheck(backend, cfg):
    rng = np.random.default_rng(cfg["seed"])
    x = minicnn.tensor(rng.uniform(-2, 2, (cfg["n"], cfg["c_in"], cfg["length"])), requires_grad=True)
    w = minicnn.tensor(rng.uniform(-1, 1, (cfg["c_out"], cfg["c_in"] // cfg["groups"], cfg["kernel"])),
                       requires_grad=True)
    inputs = [x, w] + ([minicnn.tensor(rng.uniform(-1, 1, cfg["c_out"]), requires_grad=True)]
                       if cfg["bias"] else [])
    gradcheck(lambda *t: F.conv1d(*t, stride=cfg["stride"], padding=cfg["padding"],
                                  dilation=cfg["dilation"], groups=cfg["groups"]), *inputs)


# ------------------------------------------------------------------------------ parity with torch
PARITY = [  # (input shape, weight shape, bias, kwargs)
    ((2, 3, 8, 8), (4, 3, 3, 3), True, dict(padding=1)),
    ((2, 3, 7, 6), (4, 3, 3, 3), True, dict(padding="same")),
    ((2, 3, 7, 6), (4, 3, 2, 4), True, dict(padding="same", dilation=(2, 1))),   # even kernel: asymmetric
    ((2, 4, 9, 7), (4, 2, 3, 3), False, dict(stride=2, padding=(1, 0), groups=2)),
    ((2, 4, 8, 8), (4, 1, 3, 3), True, dict(padding=1, groups=4)),                # depthwise
    ((2, 4, 8, 8), (8, 1, 3, 3), True, dict(padding=1, groups=4)),                # depthwise, multiplier 2
    ((3, 2, 10, 9), (3, 2, 3, 2), True, dict(stride=(3, 2), dilation=(2, 3), padding=(2, 1))),
    ((2, 5, 6, 6), (3, 5, 1, 1), True, dict()),                                   # pointwise
    ((2, 3, 5, 5), (2, 3, 5, 5), True, dict(padding="valid")),                    # kernel = input
    ((2, 2, 4, 4), (6, 2, 3, 3), True, dict(padding=1)),                          # C_out > C_in: col2im
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, w_shape, bias, kwargs", PARITY)
def test_conv2d_matches_torch(x_shape, w_shape, bias, kwargs, dtype):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)]
    if bias:
        arrays.append(rng.standard_normal(w_shape[0]))
    assert_parity(lambda *t: F.conv2d(*t, **kwargs), lambda *t: torch.nn.functional.conv2d(*t, **kwargs),
                  arrays, dtype=dtype)


def test_conv2d_matches_torch_on_strict_backend():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)]
    kwargs = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    ours, _ = assert_parity(lambda *t: F.conv2d(*t, **kwargs),
                            lambda *t: torch.nn.functional.conv2d(*t, **kwargs), arrays, backend="strict")
    assert ours.backend == "strict"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", [dict(padding="same"), dict(stride=2, padding=1, dilation=2, groups=2),
                                    dict(padding=(2,), dilation=3)])
def test_conv1d_matches_torch(kwargs, dtype):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 4, 11)), rng.standard_normal((6, 4 // kwargs.get("groups", 1), 3)),
              rng.standard_normal(6)]
    assert_parity(lambda *t: F.conv1d(*t, **kwargs), lambda *t: torch.nn.functional.conv1d(*t, **kwargs),
                  arrays, dtype=dtype)


def test_conv1d_orientation_is_cross_correlation():
    """ECA's check (reference notes section 2.1): w = [1, 10, 100], z = [1, 0, 0, 0] -> [10, 1, 0, 0]."""
    z = minicnn.tensor(np.array([[[1.0, 0, 0, 0]]]))
    w = minicnn.tensor(np.array([[[1.0, 10, 100]]]))
    np.testing.assert_allclose(F.conv1d(z, w, padding=1).numpy().ravel(), [10, 1, 0, 0])


def test_conv2d_backward_through_sum_and_float32_dtype():
    """The upstream gradient of .sum() is a read-only broadcast view: backward must not write into it."""
    rng = np.random.default_rng(0)
    x = minicnn.tensor(rng.standard_normal((2, 3, 5, 5)).astype(np.float32), requires_grad=True)
    w = minicnn.tensor(rng.standard_normal((3, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.dtype == np.float32
    y.sum().backward()
    tx = torch.tensor(x.numpy().copy(), requires_grad=True)
    tw = torch.tensor(w.numpy().copy(), requires_grad=True)
    torch.nn.functional.conv2d(tx, tw, padding=1).sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_only_the_needed_gradients_are_computed():
    rng = np.random.default_rng(0)
    x = minicnn.tensor(rng.standard_normal((2, 2, 5, 5)))                      # no grad
    w = minicnn.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (3, 2, 3, 3)


# ------------------------------------------------------------------------------ fast == naive
@settings(max_examples=10)
@_with_examples
@given(cfg=conv2d_configs())
def test_fast_conv2d_equals_naive_loops(cfg):
    kwargs = conv2d_kwargs(cfg)
    check_against_naive(lambda *t: F.conv2d(*t, **kwargs), lambda x, w, b: conv2d_naive(x, w, b, **kwargs),
                        conv2d_arrays(cfg))


@settings(max_examples=10)
@_with_examples
@given(cfg=conv2d_configs())
def test_fast_conv2d_backward_equals_naive_loops(cfg):
    """Every gradient of the fast Conv2d (im2col + matmuls, in chunks) == the loops of conv2d_backward_naive."""
    kwargs = conv2d_kwargs(cfg)
    check_against_naive(lambda *t: F.conv2d(*t, **kwargs), lambda x, w, b: conv2d_naive(x, w, b, **kwargs),
                        conv2d_arrays(cfg), lambda g, x, w, b: conv2d_backward_naive(g, x, w, **kwargs),
                        seed=cfg["seed"])


@settings(max_examples=10)
@_with_examples
@given(cfg=conv2d_configs())
def test_im2col_and_col2im_equal_naive_loops(cfg):
    """The strided-view im2col and the offset-loop col2im == one loop per entry."""
    x, w, _ = conv2d_arrays(cfg)
    opts = conv2d_options("test", x.shape, w.shape, None, **conv2d_kwargs(cfg))
    x_pad = I2C.pad2d(x, opts["padding"])
    out_size = tuple(I2C.conv_output_size(n, k, s, 0, d) for n, k, s, d in
                     zip(x_pad.shape[2:], w.shape[2:], opts["stride"], opts["dilation"]))
    geometry = (w.shape[2:], opts["stride"], opts["dilation"], out_size)
    cols = I2C.im2col(x_pad, *geometry)
    np.testing.assert_array_equal(cols, I2C.im2col_naive(x_pad, *geometry))
    upstream = np.random.default_rng(cfg["seed"]).standard_normal(cols.shape)
    np.testing.assert_allclose(I2C.col2im(upstream, x_pad.shape, *geometry),
                               I2C.col2im_naive(upstream, x_pad.shape, *geometry), rtol=1e-12, atol=1e-12)


@settings(max_examples=10)
@_with_examples
@given(cfg=conv2d_configs())
def test_both_input_gradient_algorithms_agree(cfg):
    """The full convolution with the flipped kernel (stride 1) == matmul + col2im."""
    cfg = dict(cfg, stride=(1, 1))
    x, w, _ = conv2d_arrays(cfg)
    y = F.conv2d(minicnn.tensor(x), minicnn.tensor(w), **conv2d_kwargs(cfg))
    grad = np.random.default_rng(0).standard_normal(y.shape)
    opts = conv2d_options("test", x.shape, w.shape, None, **conv2d_kwargs(cfg))  # padding as 4 numbers
    full = conv2d_input_grad(grad, w, x.shape[2:], method="full", **opts)
    col2im = conv2d_input_grad(grad, w, x.shape[2:], method="col2im", **opts)
    np.testing.assert_allclose(full, col2im, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------ error messages
def _conv(x_shape, w_shape, b_shape=None, **kwargs):
    x = minicnn.tensor(np.zeros(x_shape))
    w = minicnn.tensor(np.zeros(w_shape))
    b = None if b_shape is None else minicnn.tensor(np.zeros(b_shape))
    return F.conv2d(x, w, b, **kwargs)


@pytest.mark.parametrize("x_shape, w_shape, kwargs, message", [
    ((3, 8, 8), (4, 3, 3, 3), {}, r"conv2d: expected a 4-D input \(N, C_in, H, W\), got a 3-D input of "
                                  r"shape \(3, 8, 8\)"),
    ((2, 3, 8, 8), (4, 3, 3), {}, r"conv2d: expected a 4-D weight \(C_out, C_in/groups, kH, kW\), got shape "
                                  r"\(4, 3, 3\)"),
    ((2, 5, 8, 8), (4, 3, 3, 3), {}, r"conv2d: weight of shape \(4, 3, 3, 3\) .* expects 3 \* 1 = 3 input "
                                     r"channels, got an input of shape \(2, 5, 8, 8\) with 5"),
    ((2, 5, 8, 8), (4, 2, 3, 3), dict(groups=2), r"conv2d: the input's 5 channels \(input shape "
                                                 r"\(2, 5, 8, 8\)\) are not divisible by groups=2"),
    ((2, 4, 8, 8), (5, 2, 3, 3), dict(groups=2), r"conv2d: the weight's 5 output channels .* not divisible "
                                                 r"by groups=2"),
    ((2, 3, 2, 2), (4, 3, 5, 5), dict(padding=1), r"conv2d: the kernel \(5, 5\) with dilation \(1, 1\) spans "
                                                  r"\(5, 5\) but the padded input is only \(4, 4\)"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(dilation=4), r"conv2d: the kernel \(3, 3\) with dilation \(4, 4\) "
                                                   r"spans \(9, 9\) but the padded input is only \(8, 8\)"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(stride=0), r"conv2d: stride must be positive, got stride=0"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(stride=(1, -2)), r"conv2d: stride must be positive"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(dilation=0), r"conv2d: dilation must be positive"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=-1), r"conv2d: padding must be non-negative"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding="full"), r"conv2d: padding must be .* 'same' or 'valid'"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding=(1, 2, 3)), r"conv2d: padding must be an int or a tuple of 2"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(padding="same", stride=2), r"conv2d: padding='same' is not supported "
                                                                 r"for strided convolutions"),
    ((2, 3, 8, 8), (4, 3, 3, 3), dict(groups=0), r"conv2d: groups must be a positive int"),
])
def test_conv2d_bad_input_errors(x_shape, w_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _conv(x_shape, w_shape, **kwargs)


def test_conv2d_bad_bias_error():
    with pytest.raises(ValueError, match=r"conv2d: expected a bias of shape \(4,\) .* got shape \(3,\)"):
        _conv((2, 3, 8, 8), (4, 3, 3, 3), (3,))


def test_conv1d_errors_name_conv1d():
    x = minicnn.tensor(np.zeros((2, 3, 8, 8)))
    w = minicnn.tensor(np.zeros((4, 3, 3)))
    with pytest.raises(ValueError, match=r"conv1d: expected a 3-D input \(N, C_in, L\), got a 4-D input"):
        F.conv1d(x, w)
    with pytest.raises(ValueError, match=r"conv1d: the kernel \(3,\) .* spans \(3,\) but the padded input is "
                                         r"only \(2,\)"):
        F.conv1d(minicnn.tensor(np.zeros((2, 3, 2))), w)


def test_layer_constructor_errors():
    with pytest.raises(ValueError, match=r"Conv2d: in_channels=5 must be divisible by groups=2"):
        nn.Conv2d(5, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: out_channels=5 must be divisible by groups=2"):
        nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2d: padding='same' is not supported for strided"):
        nn.Conv2d(4, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"Conv2d: padding_mode must be one of"):
        nn.Conv2d(4, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match=r"Conv2d: kernel_size, stride and dilation must be positive"):
        nn.Conv2d(4, 4, 3, stride=0)


# ------------------------------------------------------------------------------ layers
class TorchSeparableConv2d(torch.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__()
        self.depthwise = torch.nn.Conv2d(in_channels, in_channels, kernel_size, stride, padding, dilation,
                                         groups=in_channels, bias=bias)
        self.pointwise = torch.nn.Conv2d(in_channels, out_channels, 1, bias=bias)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class TorchCoordConv2d(torch.nn.Module):
    """CoordConv with the convention of the reference notes: [x, I (along H), J (along W), (R)]."""

    def __init__(self, in_channels, out_channels, kernel_size, with_r=False, **kwargs):
        super().__init__()
        self.with_r = with_r
        self.conv = torch.nn.Conv2d(in_channels + 2 + int(with_r), out_channels, kernel_size, **kwargs)

    def forward(self, x):
        n, _, h, w = x.shape
        i = torch.linspace(-1, 1, h, dtype=x.dtype).view(1, 1, h, 1).expand(n, 1, h, w)
        j = torch.linspace(-1, 1, w, dtype=x.dtype).view(1, 1, 1, w).expand(n, 1, h, w)
        channels = [x, i, j] + ([torch.sqrt(i ** 2 + j ** 2)] if self.with_r else [])
        return self.conv(torch.cat(channels, dim=1))


LAYERS = [  # (minicnn layer, torch twin, input shape)
    (lambda: nn.Conv2d(3, 4, 3), lambda: torch.nn.Conv2d(3, 4, 3), (2, 3, 6, 5)),
    (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, bias=False),
     lambda: torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2, bias=False),
     (2, 4, 7, 8)),
    (lambda: nn.Conv2d(3, 5, 4, padding="same"), lambda: torch.nn.Conv2d(3, 5, 4, padding="same"), (2, 3, 6, 7)),
    (lambda: nn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2),
     lambda: torch.nn.Conv1d(4, 6, 3, padding="same", dilation=2, groups=2), (2, 4, 9)),
    (lambda: nn.SeparableConv2d(3, 5, 3, padding=1), lambda: TorchSeparableConv2d(3, 5, 3, padding=1),
     (2, 3, 6, 6)),
    (lambda: nn.SeparableConv2d(4, 2, 3, stride=2, dilation=2, bias=False),
     lambda: TorchSeparableConv2d(4, 2, 3, stride=2, dilation=2, bias=False), (2, 4, 9, 8)),
    (lambda: nn.CoordConv2d(3, 4, 3, padding=1), lambda: TorchCoordConv2d(3, 4, 3, padding=1), (2, 3, 5, 7)),
    (lambda: nn.CoordConv2d(2, 3, 1, with_r=True), lambda: TorchCoordConv2d(2, 3, 1, with_r=True), (2, 2, 4, 3)),
    (lambda: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"),
     lambda: torch.nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"), (2, 2, 5, 6)),
    (lambda: nn.Conv2d(2, 3, 4, padding="same", padding_mode="replicate"),
     lambda: torch.nn.Conv2d(2, 3, 4, padding="same", padding_mode="replicate"), (2, 2, 5, 6)),
    (lambda: nn.Conv1d(2, 3, 3, stride=2, padding=2, padding_mode="circular"),
     lambda: torch.nn.Conv1d(2, 3, 3, stride=2, padding=2, padding_mode="circular"), (2, 2, 7)),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make, make_torch, shape", LAYERS)
def test_layers_match_torch(make, make_torch, shape, dtype):
    layer, twin = make(), make_torch()
    assert list(layer.state_dict()) == list(twin.state_dict())
    for (key, ours), theirs in zip(layer.state_dict().items(), twin.state_dict().values()):
        assert ours.shape == tuple(theirs.shape), key
    x = np.random.default_rng(0).standard_normal(shape)
    assert_module_parity(layer, twin, x, dtype=dtype)


@pytest.mark.parametrize("make, make_torch", [
    (lambda: nn.Conv2d(3, 16, 3), lambda: torch.nn.Conv2d(3, 16, 3)),
    (lambda: nn.Conv2d(4, 8, (3, 1), stride=2, padding=(1, 2), dilation=2, groups=2, bias=False),
     lambda: torch.nn.Conv2d(4, 8, (3, 1), stride=2, padding=(1, 2), dilation=2, groups=2, bias=False)),
    (lambda: nn.Conv2d(3, 3, 3, padding="same", padding_mode="zeros"),
     lambda: torch.nn.Conv2d(3, 3, 3, padding="same", padding_mode="zeros")),
    (lambda: nn.Conv1d(2, 4, 5, padding="valid"), lambda: torch.nn.Conv1d(2, 4, 5, padding="valid")),
])
def test_repr_matches_torch(make, make_torch):
    assert repr(make()) == repr(make_torch())


def test_initialisation_follows_torch():
    """kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias."""
    layer = nn.Conv2d(32, 64, 3)
    bound = 1 / math.sqrt(32 * 9)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound / math.sqrt(3)   # 18,432 uniform draws
    assert abs(b.mean()) < 0.3 * bound
    depthwise = nn.Conv2d(8, 8, 5, groups=8)     # fan_in = 1 * 5 * 5
    assert np.abs(depthwise.weight.numpy()).max() <= 1 / 5


def test_separable_conv_structure():
    layer = nn.SeparableConv2d(8, 16, 3, padding=1)
    assert layer.depthwise.groups == 8 and layer.depthwise.weight.shape == (8, 1, 3, 3)
    assert layer.pointwise.weight.shape == (16, 8, 1, 1)
    assert sum(p.numel() for p in layer.parameters()) == 8 * 9 + 8 + 8 * 16 + 16


def test_coordinate_channels():
    x = minicnn.tensor(np.zeros((2, 1, 3, 5)))
    out = nn.AddCoords(with_r=True)(x).numpy()
    assert out.shape == (2, 4, 3, 5)
    np.testing.assert_allclose(out[1, 1], np.repeat([[-1.0], [0.0], [1.0]], 5, axis=1))      # I: along H
    np.testing.assert_allclose(out[1, 2], np.repeat([[-1.0, -0.5, 0.0, 0.5, 1.0]], 3, axis=0))  # J: along W
    np.testing.assert_allclose(out[0, 3], np.sqrt(out[0, 1] ** 2 + out[0, 2] ** 2))
    assert out[:, 1:3].min() == -1.0 and out[:, 1:3].max() == 1.0
    one_row = nn.AddCoords()(minicnn.tensor(np.zeros((1, 1, 1, 4)))).numpy()
    np.testing.assert_array_equal(one_row[0, 1], 0.0)      # a length-1 axis sits at its centre, no 0/0


def test_coordconv_gradcheck(backend):
    layer = nn.CoordConv2d(2, 3, 3, padding=1, with_r=True).double().to(minicnn.backend.DEVICE_OF_BACKEND[backend])
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((2, 2, 4, 5)), requires_grad=True)
    gradcheck(lambda x, w, b: F.conv2d(nn.AddCoords(True)(x), w, b, padding=1),
              x, layer.conv.weight, layer.conv.bias)
    y = layer(x)
    assert y.shape == (2, 3, 4, 5) and y.backend == backend


def test_coordconv_rejects_3d_input():
    with pytest.raises(ValueError, match=r"AddCoords: expected a 4-D input \(N, C, H, W\), got shape \(3, 4, 5\)"):
        nn.CoordConv2d(3, 4, 3)(minicnn.tensor(np.zeros((3, 4, 5), dtype=np.float32)))


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(stride=(2, 1), dilation=2, groups=2)])
def test_chunked_columns_give_the_same_result_as_one_chunk(monkeypatch, backend, kwargs):
    """With a tiny chunk budget every image is its own chunk: forward and gradients still match torch."""
    monkeypatch.setattr("minicnn.ops.conv_performance.CHUNK_BYTES", 1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4, 7, 6))
    w = rng.standard_normal((6, 4 // kwargs.get("groups", 1), 3, 3))
    b = rng.standard_normal(6)
    assert_parity(lambda x, w, b: F.conv2d(x, w, b, **kwargs),
                  lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kwargs), [x, w, b])
