"""Depthwise convolution by shifted views (minicnn/ops/depthwise.py).

* the fast kernels (flat views for stride 1, shifted views otherwise) against the naive loops,
  forward and every gradient, on geometries drawn by Hypothesis;
* gradient checks in float64 (central differences, random upstream gradient) on every backend;
* parity with torch's conv2d(groups=C_in): forward and every gradient, float64 and float32,
  and on the strict (CuPy stand-in) backend;
* the error message for a weight that is not depthwise.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
from minicnn.ops.depthwise import (depthwise_conv2d, depthwise_conv2d_backward_naive,
                                   depthwise_conv2d_naive, depthwise_forward_kernel,
                                   depthwise_grad_weight_kernel, depthwise_input_grad_kernel)
from minicnn.ops.im2col import conv_output_size, crop2d, pad2d
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.cases import check_against_naive, pinned


@st.composite
def depthwise_configs(draw):
    """A depthwise geometry: channels, multiplier, kernel, stride, dilation, 4-sided padding, sizes
    such that the dilated kernel fits in the padded input."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([(1, 1), (1, 1), (2, 1), (1, 2), (2, 3)]))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(4))
    size = []
    for axis in range(2):
        span = dilation[axis] * (kernel[axis] - 1) + 1
        pads = padding[2 * axis] + padding[2 * axis + 1]
        size.append(draw(st.integers(max(1, span - pads), max(1, span - pads) + 4)))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 3)), m=draw(st.sampled_from([1, 1, 2])),
                size=tuple(size), kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2 ** 16)))


def arrays_of(cfg, dtype=np.float64):
    rng = np.random.default_rng(cfg["seed"])
    x = rng.uniform(-2, 2, (cfg["n"], cfg["c"]) + cfg["size"]).astype(dtype)
    w = rng.uniform(-1, 1, (cfg["c"] * cfg["m"], 1) + cfg["kernel"]).astype(dtype)
    b = rng.uniform(-1, 1, cfg["c"] * cfg["m"]).astype(dtype) if cfg["bias"] else None
    return x, w, b


def options(cfg):
    return dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])


PINNED = [  # the flat fast path (stride 1, m = 1) with padding and dilation; asymmetric everything
    dict(n=2, c=3, m=1, size=(6, 5), kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1),
         bias=True, seed=1),
    dict(n=2, c=2, m=1, size=(7, 4), kernel=(3, 2), stride=(1, 1), padding=(0, 2, 1, 0), dilation=(2, 3),
         bias=False, seed=2),
    dict(n=1, c=2, m=2, size=(5, 6), kernel=(2, 3), stride=(2, 3), padding=(2, 0, 1, 2), dilation=(1, 2),
         bias=True, seed=3),
    dict(n=2, c=1, m=1, size=(3, 3), kernel=(3, 3), stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
         bias=True, seed=4),                                          # kernel = input: one output pixel
]


# ------------------------------------------------------------------------------ fast vs naive loops
@settings(max_examples=25)
@pinned(PINNED)
@given(cfg=depthwise_configs())
def test_fast_kernels_match_the_naive_loops(cfg):
    x, w, b = arrays_of(cfg)
    opts = options(cfg)
    check_against_naive(lambda x, w, b: depthwise_conv2d(x, w, b, **opts),
                        lambda x, w, b: depthwise_conv2d_naive(x, w, b, **opts), [x, w, b],
                        lambda grad, x, w, b: depthwise_conv2d_backward_naive(x, w, grad, **opts),
                        seed=cfg["seed"] + 1)


@settings(max_examples=15)
@pinned(PINNED)
@given(cfg=depthwise_configs())
def test_shifted_view_kernels_match_the_naive_loops_at_every_stride(cfg):
    """The readable kernels (the fast path skips them for stride 1) against the loops."""
    x, w, _ = arrays_of(cfg)
    opts = options(cfg)
    x_pad = pad2d(x, cfg["padding"])
    out_size = tuple(conv_output_size(x_pad.shape[2 + a], cfg["kernel"][a], cfg["stride"][a], 0,
                                      cfg["dilation"][a]) for a in range(2))
    out = depthwise_forward_kernel(x_pad, w, cfg["stride"], cfg["dilation"], out_size)
    np.testing.assert_allclose(out, depthwise_conv2d_naive(x, w, None, **opts), rtol=1e-12, atol=1e-12)
    upstream = np.random.default_rng(cfg["seed"]).standard_normal(out.shape)
    grad_x, grad_w, _ = depthwise_conv2d_backward_naive(x, w, upstream, **opts)
    ours_w = depthwise_grad_weight_kernel(upstream, x_pad, w.shape, cfg["stride"], cfg["dilation"], out_size)
    ours_x = depthwise_input_grad_kernel(upstream, w, x_pad.shape, cfg["stride"], cfg["dilation"], out_size)
    np.testing.assert_allclose(ours_w, grad_w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(crop2d(ours_x, cfg["padding"]), grad_x, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------ gradient checks
@settings(max_examples=6)
@pinned(PINNED)
@given(cfg=depthwise_configs())
def test_depthwise_gradcheck(backend, cfg):
    x, w, b = arrays_of(cfg)
    inputs = [minicnn.tensor(x, requires_grad=True), minicnn.tensor(w, requires_grad=True)]
    inputs.append(minicnn.tensor(b, requires_grad=True) if b is not None else None)
    gradcheck(lambda x, w, b: depthwise_conv2d(x, w, b, **options(cfg)), *inputs)


# ------------------------------------------------------------------------------ parity with torch
def torch_depthwise(cfg):
    """torch's conv2d with groups = C_in; asymmetric padding through F.pad first."""
    top, bottom, left, right = cfg["padding"]

    def fn(x, w, b=None):
        x = torch.nn.functional.pad(x, (left, right, top, bottom))
        return torch.nn.functional.conv2d(x, w, b, cfg["stride"], 0, cfg["dilation"], groups=cfg["c"])
    return fn


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", PINNED + [
    dict(n=3, c=8, m=1, size=(16, 16), kernel=(3, 3), stride=(1, 1), padding=(1, 1, 1, 1), dilation=(1, 1),
         bias=True, seed=5),
    dict(n=2, c=4, m=3, size=(9, 11), kernel=(5, 3), stride=(1, 1), padding=(2, 2, 1, 1), dilation=(1, 1),
         bias=True, seed=6),
    dict(n=2, c=4, m=1, size=(10, 9), kernel=(3, 3), stride=(2, 2), padding=(1, 1, 1, 1), dilation=(1, 1),
         bias=False, seed=7),
])
def test_depthwise_matches_torch(cfg, dtype):
    x, w, b = arrays_of(cfg)
    arrays = [x, w] + ([b] if b is not None else [])
    assert_parity(lambda *t: depthwise_conv2d(*t, **options(cfg)), torch_depthwise(cfg), arrays, dtype=dtype)


@pytest.mark.parametrize("cfg", [PINNED[0], PINNED[2]])            # the flat path and the shifted views
def test_depthwise_matches_torch_on_strict_backend(cfg):
    x, w, b = arrays_of(cfg)
    ours, _ = assert_parity(lambda *t: depthwise_conv2d(*t, **options(cfg)), torch_depthwise(cfg),
                            [x, w, b], backend="strict")
    assert ours.backend == "strict"


def test_backward_through_sum_and_float32():
    """sum's backward sends a read-only broadcast view: the kernels must not write into it."""
    rng = np.random.default_rng(0)
    for stride in ((1, 1), (2, 2)):
        x = minicnn.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
        w = minicnn.tensor(rng.standard_normal((3, 1, 3, 3)).astype(np.float32), requires_grad=True)
        y = depthwise_conv2d(x, w, None, stride, (1, 1, 1, 1))
        assert y.dtype == np.float32
        y.sum().backward()
        tx, tw = (torch.tensor(t.numpy().copy(), requires_grad=True) for t in (x, w))
        torch.nn.functional.conv2d(tx, tw, None, stride, 1, groups=3).sum().backward()
        assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_only_the_needed_gradients_are_computed():
    x = minicnn.tensor(np.ones((1, 2, 4, 4)))
    w = minicnn.tensor(np.ones((2, 1, 3, 3)), requires_grad=True)
    depthwise_conv2d(x, w, None, padding=(1, 1, 1, 1)).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy()[0, 0], [[9, 12, 9], [12, 16, 12], [9, 12, 9]])


def test_a_weight_that_is_not_depthwise_is_refused():
    x = minicnn.tensor(np.ones((1, 4, 5, 5)))
    with pytest.raises(ValueError, match=r"depthwise_conv2d: expected a weight of shape \(C_in \* m, 1"):
        depthwise_conv2d(x, minicnn.tensor(np.ones((4, 2, 3, 3))))
    with pytest.raises(ValueError, match="C_in=4"):
        depthwise_conv2d(x, minicnn.tensor(np.ones((6, 1, 3, 3))))
