"""Graded tests of notebook 2 (exercises/ch02_autograd.py).

Each backward rule is checked three ways: against central differences
(minicnn.testing.gradcheck), against PyTorch (assert_parity: output and every
gradient), and on the strict backend (no stray NumPy calls).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import minicnn
from grading_helpers import assert_close, assert_same_as, graded, t64
from minicnn.autograd import unbroadcast as reference_unbroadcast
from minicnn.backend import to_backend
from minicnn.testing import assert_parity, gradcheck
from minicnn.testing.gradcheck import numerical_gradient as reference_numerical_gradient
from minicnn.testing.gradcheck import relative_error as reference_relative_error
from minicnn.testing.strategies import arrays, positive_arrays, shapes

MODULE = "ch02_autograd"
BROADCAST_PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@pytest.fixture
def ch2(load):
    return load(MODULE)


@pytest.fixture
def ch2_ref(ch2, monkeypatch):
    """The module with minicnn's own unbroadcast (so 2.2, 2.3, 2.6 do not depend on 2.1)."""
    monkeypatch.setattr(ch2, "unbroadcast", reference_unbroadcast)
    return ch2


# --------------------------------------------------------------------------- 2.1 unbroadcast
@pytest.mark.ex2_1
@graded()
@given(data=st.data(), pair=BROADCAST_PAIRS)
def test_unbroadcast_matches_torch_sum_to_size(ch2, torch, data, pair):
    shape = pair.input_shapes[0]
    grad = data.draw(arrays(pair.result_shape))
    out = ch2.unbroadcast(grad, shape)
    expected = torch.tensor(grad).sum_to_size(shape) if shape else torch.tensor(grad).sum()
    assert_close(out, expected, what=f"unbroadcast of a {pair.result_shape} gradient to {shape}")
    assert_close(out, reference_unbroadcast(grad, shape))


@pytest.mark.ex2_1
def test_unbroadcast_examples_and_strict_backend(ch2):
    g = np.arange(24.0).reshape(2, 3, 4)
    assert_close(ch2.unbroadcast(g, (3, 1)), g.sum(axis=0).sum(axis=1, keepdims=True))
    assert_close(ch2.unbroadcast(g, (2, 3, 4)), g)
    assert_close(ch2.unbroadcast(g, (1, 1, 4)), g.sum(axis=(0, 1), keepdims=True))
    out = ch2.unbroadcast(to_backend(g, "strict"), (1, 4))
    assert_close(out, g.sum(axis=(0, 1)).reshape(1, 4))


# --------------------------------------------------------------------------- 2.2 / 2.3 mul, div
def _binary_case(data, pair, positive_b=False):
    a = data.draw(arrays(pair.input_shapes[0]))
    b = data.draw(positive_arrays(pair.input_shapes[1]) if positive_b else arrays(pair.input_shapes[1]))
    return a, b


@pytest.mark.ex2_2
@graded()
@given(data=st.data(), pair=BROADCAST_PAIRS)
def test_mul_backward(ch2_ref, torch, data, pair):
    a, b = _binary_case(data, pair)
    gradcheck(ch2_ref.Mul.apply, t64(a), t64(b))
    assert_parity(ch2_ref.Mul.apply, torch.mul, [a, b])
    assert_same_as(ch2_ref.Mul.apply, minicnn.mul, [a, b])


@pytest.mark.ex2_2
def test_mul_backward_strict_and_one_input_without_grad(ch2_ref):
    a = np.random.default_rng(0).normal(size=(2, 3))
    b = np.random.default_rng(1).normal(size=(3,))
    gradcheck(ch2_ref.Mul.apply, t64(a, backend="strict"), t64(b, backend="strict"))
    x, w = t64(a), t64(b, requires_grad=False)
    ch2_ref.Mul.apply(x, w).sum().backward()
    assert_close(x.grad, np.broadcast_to(b, (2, 3)))


@pytest.mark.ex2_3
@graded()
@given(data=st.data(), pair=BROADCAST_PAIRS)
def test_div_backward(ch2_ref, torch, data, pair):
    a, b = _binary_case(data, pair, positive_b=True)
    gradcheck(ch2_ref.Div.apply, t64(a), t64(b))
    assert_parity(ch2_ref.Div.apply, torch.div, [a, b])


@pytest.mark.ex2_3
def test_div_backward_strict(ch2_ref):
    a = np.random.default_rng(0).normal(size=(2, 1, 3))
    b = np.random.default_rng(1).uniform(0.5, 2.0, size=(4, 1))
    gradcheck(ch2_ref.Div.apply, t64(a, backend="strict"), t64(b, backend="strict"))


# --------------------------------------------------------------------------- 2.4 exp
@pytest.mark.ex2_4
@graded()
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=4))
def test_exp_forward_and_backward(ch2, torch, data, shape):
    x = data.draw(arrays(shape))
    gradcheck(ch2.Exp.apply, t64(x))
    assert_parity(ch2.Exp.apply, torch.exp, [x])


@pytest.mark.ex2_4
def test_exp_strict_backend(ch2):
    x = np.random.default_rng(0).normal(size=(3, 2))
    gradcheck(ch2.Exp.apply, t64(x, backend="strict"))


# --------------------------------------------------------------------------- 2.5 sum
@pytest.mark.ex2_5
@graded()
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=4, max_side=3), keepdim=st.booleans())
def test_sum_backward(ch2, torch, data, shape, keepdim):
    x = data.draw(arrays(shape))
    axes = tuple(sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))

    def ours(t):
        return ch2.Sum.apply(t, axes=axes, keepdim=keepdim)

    gradcheck(ours, t64(x))
    assert_parity(ours, lambda t: torch.sum(t, dim=axes, keepdim=keepdim), [x])


@pytest.mark.ex2_5
def test_sum_backward_strict(ch2):
    x = np.random.default_rng(0).normal(size=(2, 3, 2))
    gradcheck(lambda t: ch2.Sum.apply(t, axes=(0, 2)), t64(x, backend="strict"))


# --------------------------------------------------------------------------- 2.6 matmul
@st.composite
def matmul_shapes(draw):
    batch = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3))
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    return (*batch.input_shapes[0], n, k), (*batch.input_shapes[1], k, m)


@pytest.mark.ex2_6
@graded()
@given(data=st.data(), pair=matmul_shapes())
def test_matmul_backward(ch2_ref, torch, data, pair):
    a, b = data.draw(arrays(pair[0])), data.draw(arrays(pair[1]))
    gradcheck(ch2_ref.MatMul.apply, t64(a), t64(b))
    assert_parity(ch2_ref.MatMul.apply, torch.matmul, [a, b])


@pytest.mark.ex2_6
def test_matmul_backward_strict(ch2_ref):
    a = np.random.default_rng(0).normal(size=(2, 3, 4))
    b = np.random.default_rng(1).normal(size=(4, 2))
    gradcheck(ch2_ref.MatMul.apply, t64(a, backend="strict"), t64(b, backend="strict"))


# --------------------------------------------------------------------------- 2.7 relative error
@pytest.mark.ex2_7
def test_relative_error_values(ch2):
    a = np.array([1.0, 0.0, -2.0, 1e-12, 3.0])
    b = np.array([1.1, 0.0, 2.0, 0.0, 3.0])
    expected = np.array([0.1 / 1.1, 0.0, 2.0, 1.0, 0.0])
    assert_close(ch2.relative_error(a, b), expected, rtol=1e-12, atol=0, what="relative error")
    assert_close(ch2.relative_error(b, a), expected, rtol=1e-12, atol=0, what="relative error (symmetric)")


@pytest.mark.ex2_7
@graded()
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3))
def test_relative_error_matches_minicnn(ch2, data, shape):
    a, b = data.draw(arrays(shape)), data.draw(arrays(shape))
    b.reshape(-1)[0] = a.reshape(-1)[0] = 0.0  # both zero somewhere
    assert_close(ch2.relative_error(a, b), reference_relative_error(a, b), rtol=1e-12, atol=0,
                 what="relative error")


# --------------------------------------------------------------------------- 2.8 numerical gradient
@pytest.mark.ex2_8
@graded(max_examples=5)
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=3))
def test_numerical_gradient_matches_minicnn(ch2, data, shape):
    x = t64(data.draw(arrays(shape)))
    before = x.numpy().copy()
    upstream = np.random.default_rng(0).uniform(-1, 1, size=shape)

    def f():
        return minicnn.exp(x) * x

    ours = ch2.numerical_gradient(f, x, upstream)
    assert_close(x.numpy(), before, rtol=0, atol=0, what="x after the numerical gradient (restore it)")
    assert_close(ours, reference_numerical_gradient(f, x, upstream), rtol=1e-6, atol=1e-8,
                 what="numerical gradient of x e^x (compared with minicnn's)")
    assert_close(ours, upstream * np.exp(before) * (1 + before), rtol=1e-6, atol=1e-8,
                 what="numerical gradient of x e^x")


@pytest.mark.ex2_8
def test_numerical_gradient_is_central(ch2):
    """With eps = 1e-3, a one-sided difference of x^3 is off by ~3 x eps; the central one by ~eps^2."""
    x = t64(np.array([[1.0, -2.0], [0.5, 3.0]]))
    upstream = np.ones((2, 2))
    ours = ch2.numerical_gradient(lambda: x * x * x, x, upstream, eps=1e-3)
    assert_close(ours, 3 * x.numpy() ** 2, rtol=1e-5, atol=1e-6,
                 what="numerical gradient of x^3 (use the central formula)")
