"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d, max_unpool2d and
their modules.

Hypothesis draws the window geometry (kernel, strides that need not divide the input, padding up
to kernel // 2, dilation up to 2, ceil_mode) and the input (batch >= 2, odd and even sizes).
Max-pooling inputs are tie-free, since the gradient of a maximum jumps where two entries tie;
the tie convention (first maximum in row-major window order, as torch) is pinned separately.
Each op is checked four ways: float64 gradient check on every backend, torch parity of the
output and the gradient in float64 and float32 (and of the indices), the fast kernel against
the naive loops, and clear errors for bad arguments.
"""
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.functional as F
from minicnn import nn
from minicnn.backend import to_numpy
from minicnn.ops import adaptive_pooling as AP
from minicnn.ops import pooling as P
from minicnn.ops import unpooling as UP
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import tie_free_arrays
from minicnn.utils import conv_output_size

TF = torch.nn.functional


# --------------------------------------------------------------------------- strategies
@st.composite
def windows(draw, dilation=True, max_side=7):
    """(shape, kernel, stride, padding, dilation, ceil_mode) with at least one output position."""
    kernel = (draw(st.integers(1, 3), label="kH"), draw(st.integers(1, 3), label="kW"))
    stride = (draw(st.integers(1, 3), label="sH"), draw(st.integers(1, 3), label="sW"))
    padding = tuple(draw(st.integers(0, k // 2), label="p") for k in kernel)
    dil = tuple(draw(st.integers(1, 2), label="d") for _ in kernel) if dilation else (1, 1)
    ceil_mode = draw(st.booleans(), label="ceil_mode")
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dil)]
    H, W = (draw(st.integers(max(span - 2 * p, 1), max_side), label="size") for span, p in zip(spans, padding))
    shape = (draw(st.integers(2, 3), label="N"), draw(st.integers(1, 2), label="C"), H, W)
    return shape, kernel, stride, padding, dil, ceil_mode


@st.composite
def max_pool_cases(draw):
    shape, kernel, stride, padding, dil, ceil_mode = draw(windows())
    x = draw(tie_free_arrays(shape), label="x")
    options = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dil, ceil_mode=ceil_mode)
    # A dilated window can miss the input entirely (its taps all in the padding): its maximum is -inf
    # (as in torch) and central differences give nan there; such windows have no gradient to check.
    assume(np.isfinite(P.max_pool2d_naive(x, **options)[0]).all())
    return x, options


@st.composite
def avg_pool_cases(draw):
    shape, kernel, stride, padding, _, ceil_mode = draw(windows(dilation=False))
    x = draw(tie_free_arrays(shape), label="x")
    options = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                   count_include_pad=draw(st.booleans(), label="count_include_pad"),
                   divisor_override=draw(st.sampled_from([None, None, 3]), label="divisor_override"))
    return x, options


@st.composite
def adaptive_cases(draw):
    shape = (draw(st.integers(2, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    out = draw(st.one_of(st.integers(1, 8),
                         st.tuples(st.one_of(st.none(), st.integers(1, 8)), st.integers(1, 8))),
               label="output_size")
    return draw(tie_free_arrays(shape), label="x"), out


def _tensor(x, requires_grad=True):
    return minicnn.tensor(x, requires_grad=requires_grad)


# --------------------------------------------------------------------------- gradient checks
@given(max_pool_cases())
def test_max_pool2d_gradcheck(backend, case):
    x, options = case
    gradcheck(lambda t: F.max_pool2d(t, **options), _tensor(x))


@given(avg_pool_cases())
def test_avg_pool2d_gradcheck(backend, case):
    x, options = case
    gradcheck(lambda t: F.avg_pool2d(t, **options), _tensor(x))


@settings(max_examples=10)
@given(adaptive_cases())
def test_adaptive_pools_gradcheck(backend, case):
    x, out = case
    gradcheck(lambda t: F.adaptive_avg_pool2d(t, out), _tensor(x))
    gradcheck(lambda t: F.adaptive_max_pool2d(t, out), _tensor(x))


@settings(max_examples=10)
@given(max_pool_cases())
def test_max_unpool2d_gradcheck(backend, case):
    x, options = case
    # stride >= kernel: windows do not overlap, so no maximum wins twice. (If one did, unpooling would
    # write it once and both copies would get its gradient, as in torch: not a function to gradcheck.)
    stride = tuple(max(s, k) for s, k in zip(options["stride"], options["kernel_size"]))
    options = dict(options, stride=stride, dilation=1, ceil_mode=False)
    if min(conv_output_size(n, k, s, 2 * p) for n, k, s, p in
           zip(x.shape[2:], options["kernel_size"], options["stride"], options["padding"])) < 1:
        return
    y, indices = F.max_pool2d(_tensor(x, False), **options, return_indices=True)
    size = x.shape[2:]
    unpool = dict(kernel_size=options["kernel_size"], stride=options["stride"], padding=options["padding"])
    gradcheck(lambda t: F.max_unpool2d(t, indices, **unpool, output_size=size), _tensor(to_numpy(y.data)))


# --------------------------------------------------------------------------- torch parity
@settings(max_examples=10)
@given(max_pool_cases())
def test_max_pool2d_matches_torch(backend, case):
    x, options = case
    for dtype in (np.float64, np.float32):
        assert_parity(lambda t: F.max_pool2d(t, **options), lambda t: TF.max_pool2d(t, **options), [x],
                      dtype=dtype)
    _, ours = F.max_pool2d(_tensor(x), **options, return_indices=True)
    _, theirs = TF.max_pool2d(torch.tensor(x), **options, return_indices=True)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(to_numpy(ours.data), theirs.numpy())


@settings(max_examples=10)
@given(avg_pool_cases())
def test_avg_pool2d_matches_torch(backend, case):
    x, options = case
    for dtype in (np.float64, np.float32):
        assert_parity(lambda t: F.avg_pool2d(t, **options), lambda t: TF.avg_pool2d(t, **options), [x],
                      dtype=dtype)


@settings(max_examples=10)
@given(adaptive_cases())
def test_adaptive_pools_match_torch(backend, case):
    x, out = case
    for dtype in (np.float64, np.float32):
        assert_parity(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out), [x],
                      dtype=dtype)
        assert_parity(lambda t: F.adaptive_max_pool2d(t, out), lambda t: TF.adaptive_max_pool2d(t, out), [x],
                      dtype=dtype)
    _, ours = F.adaptive_max_pool2d(_tensor(x), out, return_indices=True)
    _, theirs = TF.adaptive_max_pool2d(torch.tensor(x), out, return_indices=True)
    np.testing.assert_array_equal(to_numpy(ours.data), theirs.numpy())


@pytest.mark.parametrize("kernel, stride, padding, size, output_size", [
    (2, 2, 0, (6, 6), None), (2, 2, 0, (7, 5), (7, 5)), (3, 2, 1, (7, 8), (7, 8)), (3, 3, 1, (5, 5), (5, 5)),
    ((3, 2), (2, 1), (1, 0), (6, 5), (2, 3, 6, 5)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_unpool2d_matches_torch(backend, kernel, stride, padding, size, output_size, dtype):
    x = np.random.default_rng(1).permutation(2 * 3 * size[0] * size[1]).reshape(2, 3, *size) / 10.0
    _, indices = TF.max_pool2d(torch.tensor(x), kernel, stride, padding, return_indices=True)
    pooled = TF.max_pool2d(torch.tensor(x), kernel, stride, padding).numpy()
    mc_indices = minicnn.tensor(indices.numpy())
    assert_parity(lambda t: F.max_unpool2d(t, mc_indices, kernel, stride, padding, output_size),
                  lambda t: TF.max_unpool2d(t, indices, kernel, stride, padding, output_size),
                  [pooled], dtype=dtype)


def test_pooling_float32_sizes_match_torch():
    """A larger float32 case, like the benchmark (N=4 C=8 32x32, 3x3 stride 2 padding 1)."""
    x = np.random.default_rng(0).standard_normal((4, 8, 32, 32))
    assert_parity(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: TF.max_pool2d(t, 3, 2, 1), [x], dtype=np.float32)
    assert_parity(lambda t: F.avg_pool2d(t, 3, 2, 1), lambda t: TF.avg_pool2d(t, 3, 2, 1), [x], dtype=np.float32)
    assert_parity(lambda t: F.adaptive_avg_pool2d(t, 7), lambda t: TF.adaptive_avg_pool2d(t, 7), [x],
                  dtype=np.float32)


def test_max_pool2d_ties_go_to_the_first_maximum_as_torch(backend):
    x = np.zeros((2, 1, 4, 4))
    x[1] = np.array([[1, 1, 0, 2], [1, 0, 2, 2], [3, 3, 3, 3], [3, 3, 3, 3]])
    for options in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2, stride=1)):
        assert_parity(lambda t: F.max_pool2d(t, **options), lambda t: TF.max_pool2d(t, **options), [x])
        _, ours = F.max_pool2d(_tensor(x), **options, return_indices=True)
        _, theirs = TF.max_pool2d(torch.tensor(x), **options, return_indices=True)
        np.testing.assert_array_equal(to_numpy(ours.data), theirs.numpy())
    assert_parity(lambda t: F.adaptive_max_pool2d(t, (3, 2)), lambda t: TF.adaptive_max_pool2d(t, (3, 2)), [x])


# --------------------------------------------------------------------------- naive loops == fast kernels
@settings(max_examples=10)
@given(max_pool_cases())
def test_max_pool2d_naive_equals_fast(case):
    x, options = case
    t = _tensor(x)
    y, indices = F.max_pool2d(t, **options, return_indices=True)
    y_naive, indices_naive = P.max_pool2d_naive(x, **options)
    np.testing.assert_array_equal(y.numpy(), y_naive)
    np.testing.assert_array_equal(indices.numpy(), indices_naive)
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(t.grad.numpy(), P.max_pool2d_backward_naive(g, indices_naive, x.shape), atol=1e-12)


@settings(max_examples=10)
@given(avg_pool_cases())
def test_avg_pool2d_naive_equals_fast(case):
    x, options = case
    t = _tensor(x)
    y = F.avg_pool2d(t, **options)
    np.testing.assert_allclose(y.numpy(), P.avg_pool2d_naive(x, **options), rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(t.grad.numpy(), P.avg_pool2d_backward_naive(g, x.shape, **options), atol=1e-12)


@settings(max_examples=10)
@given(adaptive_cases())
def test_adaptive_pools_naive_equal_fast(case):
    x, out = case
    t = _tensor(x)
    y = F.adaptive_avg_pool2d(t, out)
    np.testing.assert_allclose(y.numpy(), AP.adaptive_avg_pool2d_naive(x, out), atol=1e-12)
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(t.grad.numpy(), AP.adaptive_avg_pool2d_backward_naive(g, x.shape), atol=1e-12)

    t = _tensor(x)
    y, indices = F.adaptive_max_pool2d(t, out, return_indices=True)
    y_naive, indices_naive = AP.adaptive_max_pool2d_naive(x, out)
    np.testing.assert_array_equal(y.numpy(), y_naive)
    np.testing.assert_array_equal(indices.numpy(), indices_naive)
    y.backward(g)
    np.testing.assert_allclose(t.grad.numpy(), P.max_pool2d_backward_naive(g, indices_naive, x.shape), atol=1e-12)


def test_max_unpool2d_naive_equals_fast():
    x = np.random.default_rng(0).permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6).astype(np.float64)
    pooled, indices = F.max_pool2d(_tensor(x, False), 3, 2, 1, return_indices=True)
    y = F.max_unpool2d(pooled, indices, 3, 2, 1, output_size=(7, 6))
    np.testing.assert_array_equal(y.numpy(), UP.max_unpool2d_naive(pooled.numpy(), indices.numpy(), (7, 6)))


def test_global_pooling():
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 4))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(_tensor(x), 1).numpy(), x.mean(axis=(2, 3), keepdims=True))
    np.testing.assert_array_equal(F.adaptive_max_pool2d(_tensor(x), (1, 1)).numpy(),
                                  x.max(axis=(2, 3), keepdims=True))


# --------------------------------------------------------------------------- modules
def test_pooling_modules_match_torch(backend):
    x = np.random.default_rng(0).permutation(2 * 3 * 9 * 8).reshape(2, 3, 9, 8) / 50.0
    pairs = [
        (nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
        (nn.MaxPool2d((2, 3), dilation=2, ceil_mode=True), torch.nn.MaxPool2d((2, 3), dilation=2, ceil_mode=True)),
        (nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
         torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
        (nn.AdaptiveAvgPool2d((None, 3)), torch.nn.AdaptiveAvgPool2d((None, 3))),
        (nn.AdaptiveMaxPool2d(4), torch.nn.AdaptiveMaxPool2d(4)),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert_parity(ours, theirs, [x])
        assert ours.state_dict() == {} and list(ours.parameters()) == []


def test_max_unpool2d_module_inverts_max_pool2d_module(backend):
    x = np.random.default_rng(0).permutation(2 * 3 * 8 * 8).reshape(2, 3, 8, 8).astype(np.float64)
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    assert repr(unpool) == repr(torch.nn.MaxUnpool2d(2))
    y, indices = pool(_tensor(x))
    restored = unpool(y, indices).numpy()
    keep = restored != 0
    np.testing.assert_array_equal(restored[keep], x[keep])                 # the maxima are back in place
    assert keep.sum() == x.size // 4
    np.testing.assert_array_equal(restored.reshape(2, 3, 4, 2, 4, 2).max(axis=(3, 5)), y.numpy())
    y, indices = nn.AdaptiveMaxPool2d(2, return_indices=True)(_tensor(x))
    assert indices.shape == (2, 3, 2, 2)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, message", [
    (lambda x: F.max_pool2d(x[0], 2), "expected a 4-D input"),
    (lambda x: F.avg_pool2d(x[0, 0], 2), "expected a 4-D input"),
    (lambda x: F.adaptive_avg_pool2d(x[0], 2), "expected a 4-D input"),
    (lambda x: F.max_pool2d(x, 7), "larger than the padded input"),
    (lambda x: F.max_pool2d(x, 3, dilation=3), "larger than the padded input"),
    (lambda x: F.avg_pool2d(x, (2, 6)), "larger than the padded input"),
    (lambda x: F.max_pool2d(x, 3, padding=2), "padding should be at most half of the kernel size"),
    (lambda x: F.avg_pool2d(x, 2, padding=(0, 2)), "padding should be at most half of the kernel size"),
    (lambda x: F.max_pool2d(x, 2, stride=0), "stride should be greater than zero"),
    (lambda x: F.avg_pool2d(x, 2, stride=(1, -1)), "stride should be greater than zero"),
    (lambda x: F.max_pool2d(x, 0), "kernel_size should be greater than zero"),
    (lambda x: F.max_pool2d(x, 2, dilation=0), "dilation should be greater than zero"),
    (lambda x: F.max_pool2d(x, 2, padding=-1), "padding should be non-negative"),
    (lambda x: F.max_pool2d(x, (2, 2, 2)), "kernel_size must be a single int or a pair"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), "divisor_override must not be zero"),
    (lambda x: F.adaptive_max_pool2d(x, (2, 2, 2)), "output_size must be an int or a pair"),
    (lambda x: F.adaptive_avg_pool2d(x, -1), "output_size must be non-negative"),
])
def test_bad_arguments_raise_clear_errors(call, message):
    x = minicnn.tensor(np.zeros((2, 3, 5, 5)))
    with pytest.raises(ValueError, match=message) as info:
        call(x)
    assert str(info.value).split(":")[0] in ("max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
                                            "adaptive_max_pool2d")


def test_non_integer_arguments_raise_type_errors():
    x = minicnn.tensor(np.zeros((2, 3, 5, 5)))
    with pytest.raises(TypeError, match="max_pool2d: kernel_size must contain ints"):
        F.max_pool2d(x, 2.0)
    with pytest.raises(TypeError, match="adaptive_avg_pool2d: output_size must contain ints"):
        F.adaptive_avg_pool2d(x, 2.5)


def test_max_unpool2d_errors():
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((2, 3, 7, 7)))
    y, indices = F.max_pool2d(x, 2, return_indices=True)                      # 3x3 from a 7x7 input
    with pytest.raises(ValueError, match=r"max_unpool2d: invalid output_size \(8, 8\).*between 4 and 8"):
        F.max_unpool2d(y, indices, 2, output_size=(8, 8))
    with pytest.raises(ValueError, match=r"max_unpool2d: found an invalid max index \d+ \(output planes are of "
                                         r"size 6x6"):
        F.max_unpool2d(y, indices, 2)                                        # default 6x6 is too small
    with pytest.raises(ValueError, match="2 or 4 elements"):
        F.max_unpool2d(y, indices, 2, output_size=(3, 7, 7))
    with pytest.raises(ValueError, match="same shape as the input"):
        F.max_unpool2d(y, indices[:1], 2, output_size=(7, 7))
    with pytest.raises(TypeError, match="indices must be integers"):
        F.max_unpool2d(y, y, 2, output_size=(7, 7))
    assert F.max_unpool2d(y, indices, 2, output_size=(7, 7)).shape == (2, 3, 7, 7)


def test_output_size_formula_matches_torch():
    for size in range(1, 10):
        for k in range(1, 4):
            for s in range(1, 4):
                for p in range(0, k // 2 + 1):
                    for d in (1, 2):
                        for ceil in (False, True):
                            ours = conv_output_size(size, k, s, 2 * p, d, ceil)
                            if ours < 1:
                                continue
                            theirs = TF.max_pool2d(torch.zeros(1, 1, size, size), k, s, p, d, ceil).shape[-1]
                            assert ours == theirs, (size, k, s, p, d, ceil)
