# GENERATED from solutions/ch12_gpu_with_cupy.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 12.1`.
"""Exercise of notebook 12: make a NumPy-only kernel run on any backend.

The kernel below is the backward pass of an embedding lookup,
``out = weight[indices]`` (``torch.nn.functional.embedding``): row
``indices[...]`` of ``weight`` is copied to every position that names it, so
its gradient is the *sum* of the upstream gradients of those positions,

    dL/dweight[k] = sum over positions p with indices[p] = k of grad[p]        (zero for unused rows)

Someone wrote it for NumPy only:

    def embedding_backward(grad, indices, num_embeddings):
        out = np.zeros((num_embeddings, grad.shape[-1]), dtype=grad.dtype)
        np.add.at(out, indices.reshape(-1), grad.reshape(-1, grad.shape[-1]))
        return out

On CuPy (and on minicnn's strict stand-in) ``np.zeros`` puts the result on
the host and ``np.add.at`` refuses the device arrays. Port it to the backend
seam of notebook 12: ask ``xp = get_array_module(grad)`` for the array module,
allocate with ``xp``, and accumulate with ``backend.scatter_add`` (never
``out[idx] += v``: a repeated index would be counted once). The tests run
it on NumPy and on the strict backend, where any ``np.`` call on the data fails.

Grade with ``minicnn grade 12``.
"""
from minicnn import backend
from minicnn.backend import get_array_module


def embedding_backward(grad, indices, num_embeddings):
    """dL/dweight of ``weight[indices]``, on the backend of ``grad`` and ``indices``.

    ``grad``: (*S, D), the upstream gradient; ``indices``: (*S) integers in
    ``[0, num_embeddings)``; returns (num_embeddings, D) with ``grad``'s dtype.
    """
    # Exercise 12.1: your code here.
    raise NotImplementedError('Exercise 12.1: a NumPy-only kernel made backend-agnostic: the embedding backward. Hint: xp = get_array_module(grad); out = xp.zeros(...); backend.scatter_add(out, indices, grad) (repeated indices must accumulate; no np. on the data)')
