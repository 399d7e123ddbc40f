"""Graded tests of notebook 10 (exercises/ch10_self_attention.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_same_as, constants, graded, prepared, rng, t64
from minicnn import nn
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

MODULE = "ch10_self_attention"


@pytest.fixture
def ch10(load):
    return load(MODULE)


def _pam_weights(c, cq, seed):
    r = rng(seed)
    return [r.normal(0, 0.5, s) for s in ((cq, c), (cq,), (cq, c), (cq,), (c, c), (c,))]


def _torch_pam(torch):
    def pam(x, wq, bq, wk, bk, wv, bv, gamma):
        n, c, h, w = x.shape
        f = x.reshape(n, c, h * w)
        q, k, v = wq @ f + bq[:, None], wk @ f + bk[:, None], wv @ f + bv[:, None]
        s = torch.softmax(q.transpose(1, 2) @ k, dim=-1)
        return gamma * (v @ s.transpose(1, 2)).reshape(n, c, h, w) + x
    return pam


@pytest.mark.ex10_1
@graded(max_examples=5)
@given(data=st.data(), c=st.integers(1, 4), cq=st.integers(1, 2), seed=st.integers(0, 100))
def test_pam_matches_torch_and_gradcheck(ch10, torch, data, c, cq, seed):
    x = data.draw(arrays((2, c, data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))))
    weights = _pam_weights(c, cq, seed)
    gamma = np.array([0.7])
    assert_parity(ch10.pam, _torch_pam(torch), [x, *weights, gamma])
    gradcheck(ch10.pam, *(t64(a) for a in [x, *weights, gamma]))


@pytest.mark.ex10_1
def test_pam_matches_minicnn_module(ch10):
    c = 16
    x = rng(1).normal(size=(2, c, 3, 4))
    wq, bq, wk, bk, wv, bv = _pam_weights(c, c // 8, 2)
    gamma = np.array([0.5])
    module = prepared(nn.PAM(c), {
        "query_conv.weight": wq[:, :, None, None], "query_conv.bias": bq,
        "key_conv.weight": wk[:, :, None, None], "key_conv.bias": bk,
        "value_conv.weight": wv[:, :, None, None], "value_conv.bias": bv, "gamma": gamma})
    weights = constants(wq, bq, wk, bk, wv, bv, gamma)
    assert_same_as(lambda t: ch10.pam(t, *weights), module, [x])


def _torch_cam(torch, variant):
    def cam(x, gamma):
        n, c, h, w = x.shape
        f = x.reshape(n, c, h * w)
        e = f @ f.transpose(1, 2)
        s = torch.softmax(e if variant == "paper" else -e, dim=-1)
        return gamma * (s @ f).reshape(n, c, h, w) + x
    return cam


@pytest.mark.ex10_2
@graded(max_examples=5)
@given(data=st.data(), variant=st.sampled_from(["paper", "official"]))
def test_cam_matches_torch_and_gradcheck(ch10, torch, data, variant):
    x = data.draw(arrays((2, data.draw(st.integers(1, 4)), 2, data.draw(st.integers(1, 3)))))
    gamma = np.array([0.6])

    def ours(t, g):
        return ch10.cam(t, g, variant=variant)

    assert_parity(ours, _torch_cam(torch, variant), [x, gamma])
    gradcheck(ours, t64(x), t64(gamma))


@pytest.mark.ex10_2
@pytest.mark.parametrize("variant", ["paper", "official"])
def test_cam_matches_minicnn_module_and_is_stable(ch10, variant):
    x = rng(3).normal(size=(2, 5, 3, 3))
    module = prepared(nn.CAM(variant=variant), {"gamma": np.array([0.5])})
    assert_same_as(lambda t: ch10.cam(t, *constants(np.array([0.5])), variant=variant), module, [x])
    big = 30 * rng(4).normal(size=(1, 3, 4, 4))   # energies in the thousands: exp overflows without the max
    y = ch10.cam(t64(big), *constants(np.array([1.0])), variant=variant).numpy()
    assert np.all(np.isfinite(y)), "use a softmax that subtracts the row maximum (F.softmax)"
