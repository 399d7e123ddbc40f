"""Graded tests of notebook 12 (exercises/ch12_gpu_with_cupy.py)."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grading_helpers import assert_close, graded, rng
from minicnn.backend import backend_of_array, to_backend

MODULE = "ch12_gpu_with_cupy"


@pytest.fixture
def ch12(load):
    return load(MODULE)


def _loop_reference(grad, indices, num_embeddings):
    """One position at a time (slow but obvious)."""
    out = np.zeros((num_embeddings, grad.shape[-1]), dtype=grad.dtype)
    for p in np.ndindex(indices.shape):
        out[indices[p]] += grad[p]
    return out


# --------------------------------------------------------------------------- 12.1 embedding backward
@pytest.mark.ex12_1
def test_embedding_backward_by_hand_with_repeated_indices(ch12):
    indices = np.array([0, 2, 0, 3, 0])
    grad = np.arange(10.0).reshape(5, 2)
    out = ch12.embedding_backward(grad, indices, 5)
    expected = [[0 + 4 + 8, 1 + 5 + 9], [0, 0], [2, 3], [6, 7], [0, 0]]
    assert_close(out, expected, what="dL/dweight: rows named several times must sum their gradients (scatter_add)")


@pytest.mark.ex12_1
@graded(max_examples=10)
@given(data=st.data(), num_embeddings=st.integers(1, 6), dim=st.integers(1, 4),
       index_shape=st.sampled_from([(5,), (2, 3), (1, 4, 2)]))
def test_embedding_backward_matches_torch(ch12, torch, data, num_embeddings, dim, index_shape):
    r = rng(data.draw(st.integers(0, 1000)))
    indices = r.integers(0, num_embeddings, size=index_shape)
    grad = r.normal(size=index_shape + (dim,))
    weight = torch.zeros((num_embeddings, dim), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(indices), weight).backward(torch.tensor(grad))
    out = ch12.embedding_backward(grad, indices, num_embeddings)
    assert out.shape == (num_embeddings, dim), f"shape {out.shape}, expected {(num_embeddings, dim)}"
    assert_close(out, weight.grad.numpy(), what="dL/dweight (compared with torch's embedding)")
    assert_close(out, _loop_reference(grad, indices, num_embeddings), what="dL/dweight (compared with a loop)")


@pytest.mark.ex12_1
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_backward_on_the_strict_backend(ch12, dtype):
    indices = np.array([[1, 1], [3, 0]])
    grad = rng(4).normal(size=(2, 2, 3)).astype(dtype)
    out = ch12.embedding_backward(to_backend(grad, "strict"), to_backend(indices, "strict"), 4)
    assert backend_of_array(out) == "strict", \
        "the result must live on the inputs' backend: allocate with xp = get_array_module(...)"
    assert out.dtype == dtype, f"dtype {out.dtype}, expected the gradient's {np.dtype(dtype)}"
    assert_close(out, _loop_reference(grad, indices, 4), rtol=1e-5, atol=1e-6,
                 what="dL/dweight on the strict backend")
