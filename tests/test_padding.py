"""Padding: F.pad in modes constant (with negative pads that crop), reflect, replicate and circular,
and the ZeroPad2d / ConstantPad2d / ReflectionPad2d / ReplicationPad2d / CircularPad2d modules.

The backward of the gathering modes accumulates the gradient of every copied border entry
into its source; float64 gradient checks on every backend, torch parity in float64 and float32,
the fast kernels against the pixel loops, and torch's errors.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn import nn
from minicnn.ops import padding as PAD
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

TF = torch.nn.functional


@st.composite
def pad_cases(draw):
    """(x, pad, mode): 2-D to 4-D inputs, the pads torch accepts for the mode."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]), label="mode")
    if mode == "constant":
        ndim = draw(st.integers(2, 4), label="ndim")
        shape = (draw(st.integers(2, 3)),) + tuple(draw(st.integers(1, 4)) for _ in range(ndim - 1))
        k = draw(st.integers(1, ndim), label="padded dims")
        pad = []
        for d in range(k):
            n = shape[ndim - 1 - d]
            before = draw(st.integers(-min(n, 2) + 1 if n > 1 else 0, 3))
            after = draw(st.integers(-(n + min(before, 0)) + 1 if n + min(before, 0) > 1 else 0, 3))
            pad += [before, after]
        return draw(arrays(shape), label="x"), tuple(pad), mode
    k = draw(st.integers(1, 2), label="padded dims")
    ndim = k + draw(st.integers(1, 2))
    shape = (draw(st.integers(2, 3)),) + tuple(draw(st.integers(2, 4)) for _ in range(ndim - 1))
    pad = []
    for d in range(k):
        n = shape[ndim - 1 - d]
        limit = n - 1 if mode == "reflect" else (n if mode == "circular" else 4)
        pad += [draw(st.integers(0, limit)), draw(st.integers(0, limit))]
    return draw(arrays(shape), label="x"), tuple(pad), mode


def _t(x, requires_grad=True):
    return minicnn.tensor(x, requires_grad=requires_grad)


@settings(max_examples=20)
@given(pad_cases())
def test_pad_gradcheck(backend, case):
    x, pad, mode = case
    gradcheck(lambda t: F.pad(t, pad, mode=mode), _t(x))


@settings(max_examples=25)
@given(pad_cases())
def test_pad_matches_torch(backend, case):
    x, pad, mode = case
    for dtype in (np.float64, np.float32):
        assert_parity(lambda t: F.pad(t, pad, mode=mode), lambda t: TF.pad(t, pad, mode=mode), [x], dtype=dtype)


@pytest.mark.parametrize("mode, shape, pad", [
    ("constant", (2, 3, 4, 5), (-1, 2, 1, -2)),
    ("constant", (2, 3, 4, 5), (1, 1, 2, 0, 1, 1, 0, 2)),
    ("reflect", (2, 3, 4, 5), (-1, 2, 1, -2)),
    ("replicate", (2, 3, 4, 5), (-1, 3, 5, -2)),
    ("circular", (2, 3, 4, 5), (-1, 2, 1, -2)),
    ("circular", (2, 5), (2, -1)),
    ("reflect", (2, 3, 4, 5), (4, 4, 3, 3)),
    ("replicate", (2, 2, 3, 4, 5), (1, 2, 0, 1, 2, 1)),
    ("reflect", (3, 4, 5, 6), (1, 2, 0, 1, 2, 1)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pad_edge_cases_match_torch(mode, shape, pad, dtype):
    x = np.random.default_rng(0).standard_normal(shape)
    assert_parity(lambda t: F.pad(t, pad, mode=mode), lambda t: TF.pad(t, pad, mode=mode), [x], dtype=dtype)


def test_constant_value_matches_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    assert_parity(lambda t: F.pad(t, (1, 2), value=-1.5), lambda t: TF.pad(t, (1, 2), value=-1.5), [x])
    assert_parity(lambda t: F.pad(t, (1, 2, 0, 1, 1, 0), "constant", 2.0),
                  lambda t: TF.pad(t, (1, 2, 0, 1, 1, 0), "constant", 2.0), [x])


def test_replicate_border_gradient_accumulates_into_the_edge():
    """Replicate copies the edge entry ``after`` times: its gradient is 1 + after (for ones upstream)."""
    t = _t(np.arange(4.0).reshape(1, 1, 4))
    F.pad(t, (2, 3), mode="replicate").sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[[3, 1, 1, 4]]])
    t = _t(np.arange(4.0).reshape(1, 1, 4))
    F.pad(t, (2, 3), mode="reflect").sum().backward()             # 2 1 | 0 1 2 3 | 2 1 0
    np.testing.assert_array_equal(t.grad.numpy(), [[[2, 3, 3, 1]]])


# --------------------------------------------------------------------------- naive loops == fast kernel
@settings(max_examples=15)
@given(st.sampled_from(["constant", "reflect", "replicate", "circular"]), st.data())
def test_pad_naive_equals_fast(mode, data):
    shape = (2, 2, data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5)))
    x = data.draw(arrays(shape))
    limit = {"constant": 3, "replicate": 3, "reflect": min(shape[2:]) - 1, "circular": min(shape[2:])}[mode]
    padding = tuple(data.draw(st.integers(0, limit)) for _ in range(4))
    t = _t(x)
    y = F.pad(t, padding, mode=mode)
    np.testing.assert_array_equal(y.numpy(), PAD.pad2d_naive(x, padding, mode))
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(t.grad.numpy(), PAD.pad2d_backward_naive(g, shape, padding, mode), atol=1e-12)


# --------------------------------------------------------------------------- modules
def test_padding_modules_match_torch(backend):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    pairs = [
        (nn.ZeroPad2d(1), torch.nn.ZeroPad2d(1)),
        (nn.ZeroPad2d((1, 0, 2, -1)), torch.nn.ZeroPad2d((1, 0, 2, -1))),
        (nn.ConstantPad2d((0, 2, 1, 1), 3.5), torch.nn.ConstantPad2d((0, 2, 1, 1), 3.5)),
        (nn.ReflectionPad2d(2), torch.nn.ReflectionPad2d(2)),
        (nn.ReflectionPad2d((1, 3, 3, 0)), torch.nn.ReflectionPad2d((1, 3, 3, 0))),
        (nn.ReplicationPad2d((2, 0, 1, 4)), torch.nn.ReplicationPad2d((2, 0, 1, 4))),
        (nn.CircularPad2d(1), torch.nn.CircularPad2d(1)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        for dtype in (np.float64, np.float32):
            assert_parity(ours, theirs, [x], dtype=dtype)
            assert_parity(ours, theirs, [x[0]], dtype=dtype)        # unbatched (C, H, W)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("shape, pad, mode, kwargs, error, message", [
    ((2, 3, 4, 5), (1, 2, 3), "constant", {}, ValueError, "padding length must be divisible by 2"),
    ((2, 3), (1,) * 6, "constant", {}, ValueError, "padding length 6 and input of dimension 2"),
    ((2, 3, 4, 5), (1.0, 1), "constant", {}, TypeError, "pad must be a tuple of ints"),
    ((2, 3, 4, 5), (-3, -3), "constant", {}, ValueError, "negative output size at dimension 3"),
    ((2, 3, 4, 5), (5, 1, 1, 1), "reflect", {}, ValueError,
     r"less than the corresponding input dimension.*\(5, 1\)"),
    ((2, 3, 4, 5), (6, 5, 1, 1), "circular", {}, ValueError, "wrap around more than once"),
    ((4, 5), (1, 1, 1, 1), "reflect", {}, ValueError, "padding size 4 is not supported for 2-D input"),
    ((2, 3, 4, 5), (1, 1), "replicate", {}, ValueError, "padding size 2 is not supported for 4-D input"),
    ((2, 3, 4, 5), (1, 1, 1, 1), "reflect", {"value": 1.0}, ValueError, "doesn't take in value argument"),
    ((2, 3, 4, 5), (1, 1, 1, 1), "edge", {}, ValueError, "unrecognised padding mode 'edge'"),
])
def test_bad_arguments_raise_clear_errors(shape, pad, mode, kwargs, error, message):
    with pytest.raises(error, match=message) as info:
        F.pad(_t(np.zeros(shape), False), pad, mode=mode, **kwargs)
    assert str(info.value).startswith("pad: ")


def test_padding_modules_refuse_other_ranks():
    with pytest.raises(ValueError, match=r"ReflectionPad2d: expected a 3-D \(C, H, W\) or 4-D"):
        nn.ReflectionPad2d(1)(_t(np.zeros((1, 2, 3, 4, 5)), False))
    with pytest.raises(ValueError, match="ZeroPad2d: padding must be an int or a 4-tuple"):
        nn.ZeroPad2d((1, 2))
