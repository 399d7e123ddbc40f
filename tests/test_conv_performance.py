"""The convolution's performance machinery (minicnn/ops/conv_performance.py) against the readable
whole-batch kernels (minicnn/ops/conv_kernels.py): the same sums, for every chunk size.

* forward, weight gradient and both input-gradient algorithms, in chunks of images
  (1 image per chunk, a few, the whole batch), on geometries drawn by Hypothesis;
* the forward's columns kept for the backward when the batch is one chunk;
* the same on the strict (CuPy stand-in) backend;
* conv2d's dispatch of depthwise convolutions to ops/depthwise.py, against the im2col path.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn.backend import to_backend, to_numpy
from minicnn.ops import conv_kernels, conv_performance
from minicnn.ops.conv import Conv2d
from minicnn.ops.depthwise import DepthwiseConv2d
from minicnn.ops.im2col import conv_output_size, pad2d
from minicnn.testing import assert_parity


@st.composite
def geometries(draw):
    groups = draw(st.sampled_from([1, 2]))
    c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(4))
    size = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - padding[2 * a] - padding[2 * a + 1]), 7))
                 for a, (k, d) in enumerate(zip(kernel, dilation)))
    return dict(n=draw(st.integers(1, 4)), c_in=c_in, c_out=c_out, size=size, kernel=kernel, stride=stride,
                dilation=dilation, padding=padding, groups=groups, chunk_bytes=draw(st.sampled_from([1, 600, None])),
                seed=draw(st.integers(0, 2 ** 16)))


def arrays(g):
    rng = np.random.default_rng(g["seed"])
    x = rng.standard_normal((g["n"], g["c_in"]) + g["size"])
    w = rng.standard_normal((g["c_out"], g["c_in"] // g["groups"]) + g["kernel"])
    x_pad = pad2d(x, g["padding"])
    out_size = tuple(conv_output_size(x_pad.shape[2 + a], g["kernel"][a], g["stride"][a], 0, g["dilation"][a])
                     for a in range(2))
    grad = rng.standard_normal((g["n"], g["c_out"]) + out_size)
    return x, w, x_pad, out_size, grad


@settings(max_examples=30)
@given(g=geometries())
def test_chunked_image_major_kernels_equal_the_whole_batch_kernels(g):
    x, w, x_pad, out_size, grad = arrays(g)
    common = (g["stride"], g["dilation"], g["groups"], out_size)
    expected, _ = conv_kernels.conv2d_forward_kernel(x_pad, w, *common)
    out, kept = conv_performance.conv2d_forward_chunked(x_pad, w, *common, chunk_bytes=g["chunk_bytes"],
                                                        keep_columns=True)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    grad_mat = conv_kernels.channels_first(grad, g["groups"])
    cols = conv_kernels.conv2d_columns(x_pad, g["kernel"], g["stride"], g["dilation"], g["groups"], out_size)
    expected_w = conv_kernels.conv2d_grad_weight_kernel(grad_mat, cols, w.shape)
    for columns in (None, kept):
        grad_w = conv_performance.conv2d_grad_weight(grad, x_pad, w.shape, g["stride"], g["dilation"],
                                                     g["groups"], out_size, chunk_bytes=g["chunk_bytes"],
                                                     cols=columns)
        np.testing.assert_allclose(grad_w, expected_w, rtol=1e-12, atol=1e-12)
    expected_x = conv_kernels.conv2d_input_grad_col2im(grad, w, x.shape[2:], g["stride"], g["padding"],
                                                       g["dilation"], g["groups"])
    monkey = conv_performance.CHUNK_BYTES
    try:
        if g["chunk_bytes"] is not None:
            conv_performance.CHUNK_BYTES = g["chunk_bytes"]
        methods = ["col2im"] + (["full"] if g["stride"] == (1, 1) else [])
        for method in methods:
            grad_x = conv_performance.conv2d_input_grad(grad, w, x.shape[2:], g["stride"], g["padding"],
                                                        g["dilation"], g["groups"], method=method)
            np.testing.assert_allclose(grad_x, expected_x, rtol=1e-12, atol=1e-12)
    finally:
        conv_performance.CHUNK_BYTES = monkey


def test_columns_are_kept_only_when_the_batch_is_one_chunk():
    x_pad = np.zeros((4, 2, 6, 6))
    w = np.zeros((3, 2, 3, 3))
    _, kept = conv_performance.conv2d_forward_chunked(x_pad, w, (1, 1), (1, 1), 1, (4, 4), keep_columns=True)
    assert kept.shape == (1, 18, 4 * 16)                   # (groups, C_in * kH * kW, N * H_out * W_out)
    _, kept = conv_performance.conv2d_forward_chunked(x_pad, w, (1, 1), (1, 1), 1, (4, 4), chunk_bytes=1,
                                                      keep_columns=True)
    assert kept is None


def test_chunked_kernels_on_the_strict_backend():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 4, 6, 5)), rng.standard_normal((4, 2, 3, 2))
    grad = rng.standard_normal((3, 4, 6, 5))
    xs, ws, gs = (to_backend(a, "strict") for a in (x, w, grad))
    for chunk_bytes in (1, None):
        out = conv_performance.conv2d_forward_chunked(pad2d(xs, (1, 1, 0, 1)), ws, (1, 1), (1, 1), 2, (6, 5),
                                                      chunk_bytes=chunk_bytes)
        expected, _ = conv_kernels.conv2d_forward_kernel(pad2d(x, (1, 1, 0, 1)), w, (1, 1), (1, 1), 2, (6, 5))
        np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-12)
        for method in ("full", "col2im"):
            grad_x = conv_performance.conv2d_input_grad(gs, ws, (6, 5), (1, 1), (1, 1, 0, 1), (1, 1), 2,
                                                        method=method)
            expected_x = conv_kernels.conv2d_input_grad_col2im(grad, w, (6, 5), (1, 1), (1, 1, 0, 1), (1, 1), 2)
            np.testing.assert_allclose(to_numpy(grad_x), expected_x, rtol=1e-12)


# ------------------------------------------------------------------------------ depthwise dispatch
def _function_of(y):
    return type(y.grad_fn)


@pytest.mark.parametrize("c_in, c_out, groups, dispatched", [(4, 4, 4, True), (4, 8, 4, False),
                                                             (4, 4, 2, False), (1, 3, 1, False)])
def test_conv2d_sends_depthwise_convolutions_to_their_kernel(c_in, c_out, groups, dispatched):
    rng = np.random.default_rng(0)
    x = minicnn.tensor(rng.standard_normal((2, c_in, 6, 6)), requires_grad=True)
    w = minicnn.tensor(rng.standard_normal((c_out, c_in // groups, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, None, padding=1, groups=groups)
    assert _function_of(y) is (DepthwiseConv2d if dispatched else Conv2d)


@pytest.mark.parametrize("kwargs", [dict(padding=1), dict(padding="same", dilation=2), dict(stride=2, padding=(1, 0)),
                                    dict(padding="valid")])
@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_through_conv2d_matches_torch(kwargs, multiplier):
    rng = np.random.default_rng(1)
    arrays_ = [rng.standard_normal((2, 3, 7, 8)), rng.standard_normal((3 * multiplier, 1, 3, 3)),
               rng.standard_normal(3 * multiplier)]
    assert_parity(lambda *t: F.conv2d(*t, groups=3, **kwargs),
                  lambda *t: torch.nn.functional.conv2d(*t, groups=3, **kwargs), arrays_)


@pytest.mark.parametrize("backend_name", ["numpy", "strict"])
@pytest.mark.parametrize("chunk_bytes", [1, None])
def test_col2im_of_tiling_windows_is_a_rearrangement(backend_name, chunk_bytes, monkeypatch):
    """stride = kernel (U-Net's 2x2 up-conv): the fast path writes each pixel once, into an empty array."""
    if chunk_bytes is not None:
        monkeypatch.setattr("minicnn.ops.conv_performance.CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(4)
    grad, w = rng.standard_normal((3, 4, 3, 5)), rng.standard_normal((4, 3, 2, 3))
    expected = conv_kernels.conv2d_input_grad_col2im(grad, w, (6, 15), (2, 3), (0, 0, 0, 0), (1, 1), 1)
    ours = conv_performance.conv2d_input_grad(to_backend(grad, backend_name), to_backend(w, backend_name),
                                              (6, 15), (2, 3), (0, 0, 0, 0), (1, 1), 1)
    np.testing.assert_allclose(to_numpy(ours), expected, rtol=1e-12, atol=1e-12)
