"""Batch normalisation: F.batch_norm (one fused Function with a hand-written backward) and the
BatchNorm1d / BatchNorm2d modules.

Checked: float64 gradient checks of x, gamma and beta in training and evaluation on every
backend (inputs whose per-channel variance is kept away from 0, where 1/sigma blows up); torch
parity of the output and every gradient in float64 and float32; the running statistics (momentum
and cumulative averages, unbiased variance) after several training steps against a torch module
loaded with the same state_dict; the naive loops against the fast kernel; and the errors.
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
from minicnn.ops import normalization as BN
from minicnn.testing import assert_module_parity, assert_parity, gradcheck, load_torch_weights
from minicnn.testing.strategies import arrays

TF = torch.nn.functional


@st.composite
def bn_inputs(draw):
    """x of shape (N, C), (N, C, L) or (N, C, H, W) with every channel's std >= 0.3, and C params."""
    rank = draw(st.sampled_from([2, 3, 4]), label="rank")
    N = draw(st.integers(2, 4), label="N")
    C = draw(st.integers(1, 3), label="C")
    spatial = tuple(draw(st.integers(1, 3), label="side") for _ in range(rank - 2))
    shape = (N, C) + spatial
    x = draw(arrays(shape, -2.0, 2.0), label="x")
    axes = (0,) + tuple(range(2, rank))
    assume(np.all(x.std(axis=axes) > 0.3))
    gamma = draw(arrays((C,), 0.5, 2.0), label="gamma")
    beta = draw(arrays((C,), -1.0, 1.0), label="beta")
    mean = draw(arrays((C,), -1.0, 1.0), label="running_mean")
    var = draw(arrays((C,), 0.5, 2.0), label="running_var")
    return x, gamma, beta, mean, var


def _t(a, requires_grad=True):
    return minicnn.tensor(a, requires_grad=requires_grad)


# --------------------------------------------------------------------------- gradient checks
@settings(max_examples=12)
@given(bn_inputs(), st.booleans())
def test_batch_norm_gradcheck(backend, inputs, training):
    x, gamma, beta, mean, var = inputs

    def f(t, w, b):
        # fresh running statistics each call: training updates them in place
        return F.batch_norm(t, _t(mean, False), _t(var, False), w, b, training=training, momentum=0.2, eps=1e-3)

    gradcheck(f, _t(x), _t(gamma), _t(beta))


@settings(max_examples=6)
@given(bn_inputs())
def test_batch_norm_without_affine_gradcheck(backend, inputs):
    x, *_ = inputs
    gradcheck(lambda t: F.batch_norm(t, None, None, training=True), _t(x))


# --------------------------------------------------------------------------- torch parity
@settings(max_examples=10)
@given(bn_inputs(), st.booleans(), st.sampled_from([np.float64, np.float32]))
def test_batch_norm_matches_torch(inputs, training, dtype):
    x, gamma, beta, mean, var = inputs
    ours_stats = [_t(mean.astype(dtype), False), _t(var.astype(dtype), False)]
    torch_stats = [torch.tensor(mean.astype(dtype)), torch.tensor(var.astype(dtype))]
    assert_parity(lambda t, w, b: F.batch_norm(t, *ours_stats, w, b, training, 0.3, 1e-4),
                  lambda t, w, b: TF.batch_norm(t, *torch_stats, w, b, training, 0.3, 1e-4),
                  [x, gamma, beta], dtype=dtype)
    for ours, theirs in zip(ours_stats, torch_stats):      # updated in place (training) or untouched
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("module, shape", [
    ("BatchNorm2d", (4, 3, 5, 6)), ("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 7)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_modules_match_torch(backend, module, shape, dtype, train):
    rng = np.random.default_rng(0)
    theirs = getattr(torch.nn, module)(3)
    with torch.no_grad():           # non-trivial parameters and statistics
        theirs.weight.uniform_(0.5, 2.0), theirs.bias.uniform_(-1, 1)
        theirs.running_mean.uniform_(-1, 1), theirs.running_var.uniform_(0.5, 2.0)
    ours = getattr(nn, module)(3).to(backend if backend != "numpy" else "cpu")
    x = rng.standard_normal(shape) * 2 + 1
    assert_module_parity(ours, theirs, x, dtype=dtype, train=train)


def test_running_statistics_after_three_steps_match_torch(backend):
    """Load a torch BatchNorm2d's state_dict, take three training steps in both, compare the state."""
    rng = np.random.default_rng(0)
    for momentum in (0.1, 0.5, None):
        theirs = torch.nn.BatchNorm2d(4, momentum=momentum).double()
        with torch.no_grad():
            theirs.running_mean.uniform_(-1, 1), theirs.running_var.uniform_(0.5, 2.0)
            theirs.weight.uniform_(0.5, 2.0), theirs.bias.uniform_(-1, 1)
            theirs.num_batches_tracked.fill_(2)
        ours = nn.BatchNorm2d(4, momentum=momentum).double()   # load_state_dict keeps our dtype
        load_torch_weights(ours, theirs, np.float64)
        ours.to(backend if backend != "numpy" else "cpu")
        for step in range(3):
            x = rng.standard_normal((3, 4, 5, 2)) * (step + 1) + step
            ours(_t(x, False))
            theirs(torch.tensor(x))
        for key, value in theirs.state_dict().items():
            np.testing.assert_allclose(to_numpy(ours.state_dict()[key]), value.numpy(), rtol=1e-12,
                                       err_msg=f"{key} (momentum={momentum})")
        assert to_numpy(ours.num_batches_tracked.data) == 5
        assert ours.num_batches_tracked.dtype == np.int64
        ours.eval(), theirs.eval()
        x = rng.standard_normal((2, 4, 3, 3))
        assert_parity(ours, theirs, [x])


@pytest.mark.parametrize("affine, track", [(False, True), (True, False), (False, False)])
def test_batch_norm_options_match_torch(affine, track):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3, 4, 4))
    for train in (True, False):        # without running statistics, evaluation uses the batch's
        theirs = torch.nn.BatchNorm2d(3, affine=affine, track_running_stats=track)
        ours = nn.BatchNorm2d(3, affine=affine, track_running_stats=track)
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert_module_parity(ours, theirs, x, train=train)
    ours_no_bias = nn.BatchNorm2d(3, bias=False)
    assert ours_no_bias.bias is None and repr(ours_no_bias) == repr(torch.nn.BatchNorm2d(3, bias=False))


def test_module_state_and_repr_match_torch():
    ours, theirs = nn.BatchNorm2d(5, eps=1e-3, momentum=None), torch.nn.BatchNorm2d(5, eps=1e-3, momentum=None)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    for key, value in theirs.state_dict().items():
        np.testing.assert_array_equal(to_numpy(ours.state_dict()[key]), value.numpy())
        assert to_numpy(ours.state_dict()[key]).dtype == value.numpy().dtype
    assert [n for n, _ in ours.named_parameters()] == ["weight", "bias"]
    ours.running_mean.data[...] = 3.0
    ours.num_batches_tracked.data[...] = 7
    ours.reset_running_stats()
    assert ours.running_mean.numpy().sum() == 0 and int(ours.num_batches_tracked.numpy()) == 0


def test_batch_norm_float32_larger_batch_matches_torch():
    x = np.random.default_rng(0).standard_normal((8, 16, 12, 12)) * 3 + 2
    assert_module_parity(nn.BatchNorm2d(16), torch.nn.BatchNorm2d(16), x, dtype=np.float32, train=True)


# --------------------------------------------------------------------------- naive loops == fast kernel
@settings(max_examples=10)
@given(bn_inputs(), st.booleans())
def test_batch_norm_naive_equals_fast(inputs, training):
    x, gamma, beta, mean, var = inputs
    naive_mean, naive_var = mean.copy(), var.copy()
    y_naive, cache = BN.batch_norm_naive(x, naive_mean, naive_var, gamma, beta, training, 0.2, 1e-3)
    g = np.random.default_rng(0).standard_normal(x.shape)
    dx, dgamma, dbeta = BN.batch_norm_backward_naive(g, cache)

    t, w, b = _t(x), _t(gamma), _t(beta)
    rm, rv = _t(mean, False), _t(var, False)
    y = F.batch_norm(t, rm, rv, w, b, training, 0.2, 1e-3)
    y.backward(g)
    for ours, expected in [(y, y_naive), (t.grad, dx), (w.grad, dgamma), (b.grad, dbeta), (rm, naive_mean),
                           (rv, naive_var)]:
        np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- errors
def test_one_value_per_channel_in_training_raises_torchs_error():
    for shape in [(1, 3), (1, 3, 1), (1, 3, 1, 1)]:
        bn = nn.BatchNorm1d(3) if len(shape) < 4 else nn.BatchNorm2d(3)
        with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input "
                                             r"size \(1, 3"):
            bn(_t(np.ones(shape), False))
        bn.eval()
        assert bn(_t(np.ones(shape), False)).shape == shape   # fine in evaluation


@pytest.mark.parametrize("module, x, message", [
    (lambda: nn.BatchNorm2d(3), np.zeros((2, 3, 4)), r"BatchNorm2d: expected 4D input \(got 3D input"),
    (lambda: nn.BatchNorm1d(3), np.zeros((2, 3, 4, 4)), r"BatchNorm1d: expected 2D or 3D input \(got 4D input"),
    (lambda: nn.BatchNorm1d(3), np.zeros(3), r"BatchNorm1d: expected 2D or 3D input \(got 1D input"),
    (lambda: nn.BatchNorm2d(4), np.zeros((2, 3, 4, 4)), r"BatchNorm2d\(4\): expected input with 4 channels"),
    (lambda: nn.BatchNorm1d(2), np.zeros((5, 3)), r"BatchNorm1d\(2\): expected input with 2 channels"),
])
def test_module_input_errors(module, x, message):
    with pytest.raises(ValueError, match=message):
        module()(_t(x, False))


def test_functional_errors():
    x = _t(np.random.default_rng(0).standard_normal((4, 3, 2)), False)
    with pytest.raises(ValueError, match="batch_norm: running_mean should contain 3 elements"):
        F.batch_norm(x, _t(np.zeros(4), False), _t(np.ones(4), False), training=True)
    with pytest.raises(ValueError, match="batch_norm: weight should contain 3 elements"):
        F.batch_norm(x, None, None, _t(np.ones(2), False), training=True)
    with pytest.raises(ValueError, match="running_mean and running_var must be given in evaluation mode"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(TypeError, match="batch_norm: momentum must be a float"):
        F.batch_norm(x, None, None, training=True, momentum=None)
    with pytest.raises(ValueError, match="BatchNorm2d: num_features must be a positive int"):
        nn.BatchNorm2d(0)
