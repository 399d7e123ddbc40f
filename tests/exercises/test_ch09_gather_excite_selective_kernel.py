"""Graded tests of notebook 9 (exercises/ch09_gather_excite_selective_kernel.py)."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_same_as, constants, graded, prepared, rng, t64
from minicnn import nn
from minicnn.nn.attention.selective_kernel import Fuse, Select
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.strategies import arrays

MODULE = "ch09_gather_excite_selective_kernel"


@pytest.fixture
def ch9(load):
    return load(MODULE)


# --------------------------------------------------------------------------- 9.1 GE-theta-minus
def _torch_ge(torch, extent):
    def ge(x):
        if extent == 0:
            z = x.mean(dim=(2, 3), keepdim=True)
        else:
            z = torch.nn.functional.avg_pool2d(x, 2 * extent - 1, stride=extent, padding=extent - 1,
                                               count_include_pad=False)
        return torch.sigmoid(torch.nn.functional.interpolate(z, size=x.shape[2:], mode="nearest")) * x
    return ge


@pytest.mark.ex9_1
@graded(max_examples=6)
@given(data=st.data(), extent=st.sampled_from([0, 2, 3, 4]))
def test_gather_excite_matches_torch_module_and_gradcheck(ch9, torch, data, extent):
    shape = (2, 2, data.draw(st.integers(1, 7)), data.draw(st.integers(1, 7)))
    x = data.draw(arrays(shape))

    def ours(t):
        return ch9.gather_excite(t, extent)

    assert_parity(ours, _torch_ge(torch, extent), [x])
    assert_same_as(ours, prepared(nn.GENoParams(extent), {}), [x])
    gradcheck(ours, t64(x))


# --------------------------------------------------------------------------- 9.2 SK fuse and select
def _torch_sk(torch):
    def sk(branches, w_fc, w_sel):
        n, m, c = branches.shape[:3]
        z = torch.relu(branches.sum(dim=1).mean(dim=(2, 3)) @ w_fc.T)
        alpha = torch.softmax((z @ w_sel.T).reshape(n, m, c, 1, 1), dim=1)
        return (alpha * branches).sum(dim=1)
    return sk


@pytest.mark.ex9_2
@graded(max_examples=6)
@given(data=st.data(), m=st.integers(2, 3), c=st.integers(1, 4), d=st.integers(1, 3),
       seed=st.integers(0, 100))
def test_sk_matches_torch_and_gradcheck(ch9, torch, data, m, c, d, seed):
    branches = data.draw(arrays((2, m, c, 2, 3)))
    w_fc, w_sel = rng(seed).normal(0, 0.8, (d, c)), rng(seed + 1).normal(0, 0.8, (m * c, d))
    assert_parity(ch9.sk_fuse_select, _torch_sk(torch), [branches, w_fc, w_sel])
    gradcheck(ch9.sk_fuse_select, t64(branches), t64(w_fc), t64(w_sel))


@pytest.mark.ex9_2
def test_sk_matches_minicnn_fuse_and_select(ch9):
    m, c, d = 2, 8, 2
    branches = rng(1).normal(size=(2, m, c, 3, 3))
    w_fc, w_sel = rng(2).normal(0, 0.8, (d, c)), rng(3).normal(0, 0.8, (m * c, d))
    fuse = Fuse(c, reduction_factor=4)
    fuse.fc._modules["1"] = nn.Identity()   # the exercise leaves out the batch norm
    prepared(fuse, {"fc.0.weight": w_fc[:, :, None, None]})
    select = prepared(Select(c, n_branches=m, reduction_factor=4), {"fc.weight": w_sel[:, :, None, None]})
    assert_same_as(lambda b: ch9.sk_fuse_select(b, *constants(w_fc, w_sel)),
                   lambda b: select(b, fuse(b)), [branches])
