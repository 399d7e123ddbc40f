# GENERATED from solutions/ch01_backend.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 1.1 1.2`.
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
    # Exercise 1.1: your code here.
    raise NotImplementedError('Exercise 1.1: a numerically stable softmax kernel that runs on any backend. Hint: xp = get_array_module(x); subtract the maximum along the axis before xp.exp')


def one_hot(labels, num_classes, dtype="float32"):
    """One-hot rows of integer ``labels`` (any shape S): an array of shape S + (num_classes,).

        out[..., k] = 1 if labels[...] == k else 0

    on the backend of ``labels``. Raises ``ValueError`` when a label is
    outside ``[0, num_classes)``.
    """
    # Exercise 1.2: your code here.
    raise NotImplementedError('Exercise 1.2: one-hot encoding on any backend. Hint: compare labels[..., None] with xp.arange(num_classes) and cast the result')
