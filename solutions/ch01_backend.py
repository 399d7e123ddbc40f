"""Exercises of notebook 1: kernels that run on any backend (NumPy, CuPy, the strict stand-in).

A *kernel* is a function on raw arrays. minicnn's kernels never call bare
``numpy`` on array data; they ask the data for its array module,

    xp = get_array_module(x)        # numpy for NumPy arrays, cupy for CuPy arrays

and call ``xp.exp``, ``xp.arange``... so the same code runs on the CPU and
on the GPU. The tests run your kernels on the "strict" backend, a CPU
stand-in for CuPy that raises as soon as NumPy touches its arrays.

Grade with ``minicnn grade 1.1 1.2``.
"""
from minicnn.backend import get_array_module


def softmax_kernel(x, axis=-1):
    """The softmax of a raw array along ``axis``, on the array's own backend.

        softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m),   m = max_j x_j

    Subtracting the maximum ``m`` changes nothing mathematically (it cancels
    between numerator and denominator) but keeps ``exp`` from overflowing:
    ``exp(1000.0)`` is ``inf`` in float64. The result has the dtype and the
    backend of ``x``.

    A NumPy-only version would read ``np.exp(x - x.max(axis, keepdims=True))``:
    replace ``np`` by ``xp``.
    """
    # BEGIN SOLUTION 1.1
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    e = xp.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)
    # END SOLUTION


def one_hot(labels, num_classes, dtype="float32"):
    """One-hot rows of integer ``labels`` (any shape S): an array of shape S + (num_classes,).

        out[..., k] = 1 if labels[...] == k else 0

    on the backend of ``labels``. Raises ``ValueError`` when a label is
    outside ``[0, num_classes)``.
    """
    # BEGIN SOLUTION 1.2
    xp = get_array_module(labels)
    if labels.size and (bool((labels < 0).any()) or bool((labels >= num_classes).any())):
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}), got values from "
                         f"{int(labels.min())} to {int(labels.max())}")
    return (labels[..., None] == xp.arange(num_classes)).astype(dtype)
    # END SOLUTION
