"""Graded tests of notebook 1 (exercises/ch01_backend.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, graded
from minicnn.backend import backend_of_array, to_backend
from minicnn.testing.strategies import arrays, shapes

MODULE = "ch01_backend"


@pytest.fixture
def ch1(load):
    return load(MODULE)


# --------------------------------------------------------------------------- 1.1 softmax
@pytest.mark.ex1_1
@graded()
@given(data=st.data(), shape=shapes(min_dims=1, max_dims=3, max_side=4))
def test_softmax_matches_torch(ch1, torch, data, shape):
    x = data.draw(arrays(shape, low=-5, high=5))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    expected = torch.softmax(torch.tensor(x), dim=axis)
    assert_close(ch1.softmax_kernel(x, axis=axis), expected, what=f"softmax along axis {axis}")


@pytest.mark.ex1_1
def test_softmax_runs_on_the_strict_backend(ch1, torch):
    x = np.random.default_rng(1).normal(size=(2, 3, 4))
    out = ch1.softmax_kernel(to_backend(x, "strict"), axis=1)
    assert backend_of_array(out) == "strict", "the result must stay on the input's backend"
    assert_close(out, torch.softmax(torch.tensor(x), dim=1))


@pytest.mark.ex1_1
def test_softmax_does_not_overflow_and_keeps_the_dtype(ch1):
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]], dtype=np.float32)
    out = ch1.softmax_kernel(x, axis=-1)
    assert out.dtype == np.float32, f"float32 in, {out.dtype} out"
    assert np.all(np.isfinite(out)), "exp overflowed: subtract the maximum first"
    e = np.exp(np.array([-2.0, -1.0, 0.0]))
    assert_close(out[0], e / e.sum(), rtol=1e-5, atol=1e-7)
    assert_close(out[1], [0.0, 0.0, 1.0], rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- 1.2 one-hot
@pytest.mark.ex1_2
def test_one_hot_matches_torch(ch1, torch):
    labels = np.array([[0, 2, 1], [3, 3, 0]])
    out = ch1.one_hot(labels, 4)
    assert out.dtype == np.float32, f"one-hot dtype: expected float32 (the default dtype), got {out.dtype}"
    assert_close(out, torch.nn.functional.one_hot(torch.tensor(labels), 4))


@pytest.mark.ex1_2
def test_one_hot_runs_on_the_strict_backend(ch1):
    labels = to_backend(np.array([1, 0, 2]), "strict")
    out = ch1.one_hot(labels, 3, dtype="float64")
    assert backend_of_array(out) == "strict", "the result must stay on the labels' backend"
    assert_close(out, np.eye(3)[[1, 0, 2]])


@pytest.mark.ex1_2
def test_one_hot_rejects_labels_out_of_range(ch1):
    for labels in (np.array([0, 3]), np.array([-1, 0])):
        try:
            ch1.one_hot(labels, 3)
        except ValueError:
            continue
        raise AssertionError(f"one_hot of the labels {labels.tolist()} with 3 classes must raise ValueError "
                             "(a label outside [0, 3)), got a result")
