"""Graded tests of notebook 5 (exercises/ch05_pooling_batchnorm.py).

Backward exercises are wrapped into autograd Functions whose forward is
minicnn's (or PyTorch's), then gradient-checked: a bug in a forward costs
only that forward's points.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, graded, host, t64
from minicnn import functional as F
from minicnn.autograd import Function
from minicnn.tensor import Tensor
from minicnn.backend import backend_of_array, get_array_module, to_backend
from minicnn.ops.pooling import avg_pool2d_naive, max_pool2d_naive
from minicnn.testing import gradcheck
from minicnn.testing.strategies import arrays, tie_free_arrays

MODULE = "ch05_pooling_batchnorm"


@pytest.fixture
def ch5(load):
    return load(MODULE)


@st.composite
def pool_cases(draw, extra=4):
    k = draw(st.integers(1, 3))
    s = draw(st.integers(1, 3))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(k, k + extra)),
             draw(st.integers(k, k + extra)))
    return shape, k, s


def _torch_max_pool(torch, x, k, s):
    return torch.nn.functional.max_pool2d(torch.tensor(x), k, stride=s, return_indices=True)


def assert_int64_indices(indices):
    """The indices are int64, as PyTorch's ``return_indices`` (int32 overflows beyond 2**31 pixels,
    and a float dtype cannot index)."""
    dtype = getattr(indices, "dtype", None)
    assert dtype == np.int64, f"indices dtype: {dtype}, expected int64 (PyTorch's return_indices convention)"


# --------------------------------------------------------------------------- 5.1 max pool forward
@pytest.mark.ex5_1
@graded(max_examples=12)
@given(data=st.data(), case=pool_cases())
def test_max_pool_forward_matches_torch_and_minicnn(ch5, torch, data, case):
    shape, k, s = case
    x = data.draw(tie_free_arrays(shape))
    out, indices = ch5.max_pool2d_forward(x, k, s)
    expected, expected_indices = _torch_max_pool(torch, x, k, s)
    assert_close(out, expected, what="max pooling output")
    assert_int64_indices(indices)
    assert_close(indices, expected_indices, rtol=0, atol=0, what="indices (flat h * W + w in the input plane)")
    assert_close(out, max_pool2d_naive(x, k, s)[0])


@pytest.mark.ex5_1
def test_max_pool_forward_default_stride_and_strict(ch5):
    x = np.random.default_rng(0).permutation(2 * 3 * 6 * 4).reshape(2, 3, 6, 4).astype(np.float64)
    out, indices = ch5.max_pool2d_forward(to_backend(x, "strict"), 2)
    assert backend_of_array(out) == "strict" and backend_of_array(indices) == "strict"
    assert_int64_indices(indices)
    y, i = max_pool2d_naive(x, 2)
    assert_close(out, y)
    assert_close(indices, i, rtol=0, atol=0)


# --------------------------------------------------------------------------- 5.2 max pool backward
def _max_pool_function(ch5, torch, k, s):
    class MaxPool(Function):
        def forward(self, x):
            self.shape = x.shape
            y, self.indices = F.max_pool2d(Tensor._from_op(x), k, s, return_indices=True)
            return y.data

        def backward(self, grad):
            return ch5.max_pool2d_backward(grad, self.indices.data, self.shape)
    return MaxPool.apply


@pytest.mark.ex5_2
@graded(max_examples=8)
@given(data=st.data(), case=pool_cases(extra=2))
def test_max_pool_backward_gradcheck(ch5, torch, data, case):
    shape, k, s = case
    x = data.draw(tie_free_arrays(shape))
    gradcheck(_max_pool_function(ch5, torch, k, s), t64(x))


@pytest.mark.ex5_2
def test_max_pool_backward_overlapping_windows_accumulate(ch5, torch):
    """3x3 windows at stride 1: the largest pixel is the maximum of up to 9 windows."""
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0
    x[0, 0] += np.linspace(0, 0.1, 25).reshape(5, 5)   # no ties
    _, indices = _torch_max_pool(torch, x, 3, 1)
    grad = ch5.max_pool2d_backward(np.ones((1, 1, 3, 3)), indices.numpy(), x.shape)
    assert grad[0, 0, 2, 2] == 9.0, ("the centre pixel wins all 9 windows and must receive 9; "
                                     "a[idx] += v keeps only one write (use scatter_add)")
    gradcheck(_max_pool_function(ch5, torch, 3, 1), t64(x, backend="strict"))


# --------------------------------------------------------------------------- 5.3 / 5.4 average pool
@pytest.mark.ex5_3
@graded(max_examples=12)
@given(data=st.data(), case=pool_cases())
def test_avg_pool_forward_matches_torch_and_minicnn(ch5, torch, data, case):
    shape, k, s = case
    x = data.draw(arrays(shape))
    out = ch5.avg_pool2d_forward(x, k, s)
    assert_close(out, torch.nn.functional.avg_pool2d(torch.tensor(x), k, stride=s), what="average pooling")
    assert_close(out, avg_pool2d_naive(x, k, s))


@pytest.mark.ex5_3
def test_avg_pool_forward_strict(ch5):
    x = np.random.default_rng(0).normal(size=(2, 2, 4, 6))
    out = ch5.avg_pool2d_forward(to_backend(x, "strict"), 2)
    assert backend_of_array(out) == "strict"
    assert_close(out, avg_pool2d_naive(x, 2))


def _avg_pool_function(ch5, torch, k, s):
    class AvgPool(Function):
        def forward(self, x):
            self.shape = x.shape
            return F.avg_pool2d(Tensor._from_op(x), k, s).data

        def backward(self, grad):
            return ch5.avg_pool2d_backward(grad, self.shape, k, s)
    return AvgPool.apply


@pytest.mark.ex5_4
@graded(max_examples=8)
@given(data=st.data(), case=pool_cases(extra=2))
def test_avg_pool_backward_gradcheck(ch5, torch, data, case):
    shape, k, s = case
    gradcheck(_avg_pool_function(ch5, torch, k, s), t64(data.draw(arrays(shape))))


@pytest.mark.ex5_4
def test_avg_pool_backward_overlap_and_strict(ch5, torch):
    grad = ch5.avg_pool2d_backward(np.ones((1, 1, 2, 2)), (1, 1, 3, 3), 2, 1)
    assert_close(grad, np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]])[None, None] / 4,
                 what="average pooling gradient with overlapping 2x2 windows at stride 1")
    x = np.random.default_rng(0).normal(size=(1, 2, 5, 4))
    gradcheck(_avg_pool_function(ch5, torch, 2, 2), t64(x, backend="strict"))


# --------------------------------------------------------------------------- 5.5 batch norm forward
def _bn_arrays(c, seed):
    r = np.random.default_rng(seed)
    return r.normal(1, 0.3, c), r.normal(0, 0.3, c), r.normal(0, 0.5, c), r.uniform(0.5, 2.0, c)


@pytest.mark.ex5_5
@graded(max_examples=10)
@given(data=st.data(), c=st.integers(1, 3), training=st.booleans(), seed=st.integers(0, 100))
def test_batch_norm_forward_matches_torch(ch5, torch, data, c, training, seed):
    x = data.draw(arrays((data.draw(st.integers(2, 3)), c, 2, data.draw(st.integers(1, 3))), low=-3, high=3))
    gamma, beta, mean, var = _bn_arrays(c, seed)
    tm, tv = torch.tensor(mean), torch.tensor(var)
    expected = torch.nn.functional.batch_norm(torch.tensor(x), tm, tv, torch.tensor(gamma), torch.tensor(beta),
                                              training=training, momentum=0.2, eps=1e-4)
    y, cache = ch5.batch_norm_forward(x, gamma, beta, mean, var, training=training, momentum=0.2, eps=1e-4)
    assert_close(y, expected, what="batch norm output")
    assert_close(mean, tm, what="running_mean after the step (update it in place)")
    assert_close(var, tv, what="running_var after the step (in place; the unbiased variance)")
    x_hat, cache_gamma, inv_std, cache_training = cache
    assert_close(gamma[None, :, None, None] * x_hat + beta[None, :, None, None], expected, what="cache: x_hat")
    assert cache_training == training and np.shape(inv_std) == (c,)


@pytest.mark.ex5_5
def test_batch_norm_forward_strict(ch5):
    x = np.random.default_rng(0).normal(size=(4, 2, 3, 3))
    arrays_ = [to_backend(a, "strict") for a in _bn_arrays(2, 1)]
    y, _ = ch5.batch_norm_forward(to_backend(x, "strict"), *arrays_, training=True)
    assert backend_of_array(y) == "strict"
    y = host(y)
    gamma, beta = _bn_arrays(2, 1)[:2]
    normalised = (y - beta[None, :, None, None]) / gamma[None, :, None, None]
    assert_close(normalised.mean(axis=(0, 2, 3)), np.zeros(2), atol=1e-10, what="mean of x_hat per channel")


# --------------------------------------------------------------------------- 5.6 batch norm backward
def _bn_function(ch5, training, eps=1e-5):
    class BatchNorm(Function):
        """Reference forward (float64 NumPy) building the exercise's cache; the student's backward."""

        def forward(self, x, gamma, beta):
            xp = get_array_module(x)
            mu = x.mean(axis=(0, 2, 3)) if training else xp.asarray(np.array([0.1, -0.2])[:x.shape[1]])
            var = x.var(axis=(0, 2, 3)) if training else xp.asarray(np.array([0.8, 1.5])[:x.shape[1]])
            inv_std = 1.0 / xp.sqrt(var + eps)
            x_hat = (x - mu.reshape(1, -1, 1, 1)) * inv_std.reshape(1, -1, 1, 1)
            self.cache = (x_hat, gamma, inv_std, training)
            return gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1)

        def backward(self, grad):
            return ch5.batch_norm_backward(grad, self.cache)
    return BatchNorm.apply


@pytest.mark.ex5_6
@graded(max_examples=8)
@given(data=st.data(), c=st.integers(1, 2), training=st.booleans())
def test_batch_norm_backward_gradcheck(ch5, data, c, training):
    x = data.draw(arrays((data.draw(st.integers(2, 3)), c, 2, 2), low=-3, high=3))
    gamma, beta = data.draw(arrays((c,), low=0.5, high=1.5)), data.draw(arrays((c,)))
    gradcheck(_bn_function(ch5, training), t64(x), t64(gamma), t64(beta))


@pytest.mark.ex5_6
@pytest.mark.parametrize("backend", ["numpy", "strict"])
def test_batch_norm_backward_matches_torch(ch5, torch, backend):
    r = np.random.default_rng(0)
    x, gamma, beta = r.normal(size=(3, 2, 2, 3)), r.normal(1, 0.2, 2), r.normal(size=2)
    g = r.normal(size=x.shape)
    tx, tg, tb = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    torch.nn.functional.batch_norm(tx, None, None, tg, tb, training=True).backward(torch.tensor(g))
    ours = [t64(a, backend=backend) for a in (x, gamma, beta)]
    _bn_function(ch5, True)(*ours).backward(to_backend(g, backend))
    for name, mine, theirs in zip(("dx", "dgamma", "dbeta"), ours, (tx, tg, tb)):
        assert_close(mine.grad, theirs.grad, what=name)
