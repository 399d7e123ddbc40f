"""Graded tests of notebook 7 (exercises/ch07_channel_attention.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, assert_same_as, constants, graded, prepared, rng, t64
from minicnn import nn
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

MODULE = "ch07_channel_attention"


@pytest.fixture
def ch7(load):
    return load(MODULE)


@st.composite
def feature_maps(draw, max_channels=6, max_side=4):
    shape = (2, draw(st.integers(2, max_channels)), draw(st.integers(1, max_side)),
             draw(st.integers(1, max_side)))
    return draw(arrays(shape, low=-2, high=2))


# --------------------------------------------------------------------------- 7.1 SE
def _se_weights(c, cr, seed):
    r = rng(seed)
    return [r.normal(0, 0.7, s) for s in ((cr, c), (cr,), (c, cr), (c,))]


def _torch_se(torch):
    def se(x, w1, b1, w2, b2):
        z = x.mean(dim=(2, 3))
        s = torch.sigmoid(torch.relu(z @ w1.T + b1) @ w2.T + b2)
        return s[:, :, None, None] * x
    return se


@pytest.mark.ex7_1
@graded(max_examples=6)
@given(x=feature_maps(), hidden=st.integers(1, 3), seed=st.integers(0, 100))
def test_se_matches_torch_and_gradcheck(ch7, torch, x, hidden, seed):
    weights = _se_weights(x.shape[1], hidden, seed)
    assert_parity(ch7.se, _torch_se(torch), [x, *weights])
    gradcheck(ch7.se, *(t64(a) for a in [x, *weights]))


@pytest.mark.ex7_1
def test_se_matches_minicnn_module(ch7):
    x = rng(1).normal(size=(2, 8, 3, 3))
    w1, b1, w2, b2 = _se_weights(8, 2, 2)
    module = prepared(nn.SE(8, reduction_factor=4), {
        "excitation.0.weight": w1[:, :, None, None], "excitation.0.bias": b1,
        "excitation.2.weight": w2[:, :, None, None], "excitation.2.bias": b2})
    weights = constants(w1, b1, w2, b2)
    assert_same_as(lambda t: ch7.se(t, *weights), module, [x])


# --------------------------------------------------------------------------- 7.2 ECA kernel size
@pytest.mark.ex7_2
def test_eca_kernel_size_table(ch7):
    table = {64: 3, 128: 5, 256: 5, 512: 5, 1024: 5, 2048: 7, 16: 3, 2: 1, 1: 1}
    for channels, k in table.items():
        assert ch7.eca_kernel_size(channels) == k, f"C = {channels}: expected k = {k}"
    assert ch7.eca_kernel_size(256, gamma=1, b=1) == 9, "C = 256, gamma = 1, b = 1: expected k = 9"
    with pytest.raises(ValueError):
        ch7.eca_kernel_size(0)


@pytest.mark.ex7_2
@graded(max_examples=30)
@given(channels=st.integers(1, 5000), gamma=st.sampled_from([1, 2, 3]), b=st.sampled_from([0, 1, 2]))
def test_eca_kernel_size_matches_minicnn(ch7, channels, gamma, b):
    k = ch7.eca_kernel_size(channels, gamma=gamma, b=b)
    expected = nn.eca_kernel_size(channels, gamma=gamma, b=b)
    assert k == expected, f"C = {channels}, gamma = {gamma}, b = {b}: kernel size {k}, expected {expected}"
    assert k % 2 == 1, f"C = {channels}, gamma = {gamma}, b = {b}: kernel size {k} is even"


# --------------------------------------------------------------------------- 7.3 ECA
def _torch_eca(torch):
    def eca(x, w):
        n, c = x.shape[:2]
        z = x.mean(dim=(2, 3)).reshape(n, 1, c)
        a = torch.nn.functional.conv1d(z, w.reshape(1, 1, -1), padding=(w.shape[0] - 1) // 2)
        return torch.sigmoid(a).reshape(n, c, 1, 1) * x
    return eca


@pytest.mark.ex7_3
def test_eca_orientation(ch7):
    """Cross-correlation, zero padding: w = [1, 10, 100] on z = [1, 0, 0, 0] gives a = [10, 1, 0, 0]."""
    x = np.zeros((1, 4, 1, 1))
    x[0, 0] = 1.0
    y = ch7.eca(t64(x), t64(np.array([1.0, 10.0, 100.0]))).numpy()
    a = 1 / (1 + np.exp(-np.array([10.0, 1.0, 0.0, 0.0])))
    assert_close(y[:, :, 0, 0], (a * x[:, :, 0, 0]), what="output y for x = [1, 0, 0, 0]")
    x[0, :, 0, 0] = [1.0, 2.0, 3.0, 4.0]
    y = ch7.eca(t64(x), t64(np.array([1.0, 10.0, 100.0]))).numpy()
    a = 1 / (1 + np.exp(-np.array([210.0, 321.0, 432.0, 43.0])))
    assert_close(y[0, :, 0, 0], a * x[0, :, 0, 0], what="output y for x = [1, 2, 3, 4]")


@pytest.mark.ex7_3
@graded(max_examples=6)
@given(x=feature_maps(max_channels=7), k=st.sampled_from([1, 3, 5]), seed=st.integers(0, 100))
def test_eca_matches_torch_module_and_gradcheck(ch7, torch, x, k, seed):
    w = rng(seed).normal(0, 1, size=k)
    assert_parity(ch7.eca, _torch_eca(torch), [x, w])
    gradcheck(ch7.eca, t64(x), t64(w))
    module = prepared(nn.ECA(kernel_size=k), {"conv.weight": w.reshape(1, 1, k)})
    assert_same_as(lambda t: ch7.eca(t, *constants(w)), module, [x])
