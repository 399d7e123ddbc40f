"""Shape ops and indexing: reshape/view, transpose/permute, flatten, squeeze/unsqueeze, expand,
cat, stack and ``__getitem__`` (ints, slices, integer arrays with repeats, boolean masks,
None/Ellipsis, mixtures). (pad lives with the padding ops.)

Table-driven as in test_ops_elementwise: a float64 gradient check on every backend and torch
parity in float64 and float32 for every case.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

import minicnn
from minicnn.testing import gradcheck
from minicnn.testing.cases import Case, case_tests
from minicnn.testing.strategies import arrays, shapes


SMALL = dict(max_dims=3, max_side=4)


def one_array(options_of_shape):
    """Draw a shape, an array of it, and options that depend on the shape."""
    def draw(data):
        shape = data.draw(shapes(**SMALL), label="shape")
        return [data.draw(arrays(shape), label="x")], options_of_shape(data, shape)
    return draw


def reshape_target(data, shape):
    size = math.prod(shape)
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    d = data.draw(st.sampled_from(divisors), label="rows")
    return {"target": data.draw(st.sampled_from([(d, size // d), (d, -1), (-1,), (size // d, 1, d)]),
                                label="target")}


def two_dims(data, shape):
    n = len(shape)
    return {"dim0": data.draw(st.integers(-n, n - 1)), "dim1": data.draw(st.integers(-n, n - 1))}


def permutation(data, shape):
    return {"dims": tuple(data.draw(st.permutations(range(len(shape))), label="dims"))}


def flatten_range(data, shape):
    n = len(shape)
    start = data.draw(st.integers(0, n - 1), label="start")
    end = data.draw(st.integers(start, n - 1), label="end")
    return {"start": start - n * data.draw(st.booleans()), "end": end - n * data.draw(st.booleans())}


def with_ones(data):
    """A shape with size-1 axes inserted, and a squeeze dim (None, an axis of size 1, or any axis)."""
    shape = list(data.draw(shapes(max_dims=2, max_side=4), label="shape"))
    for _ in range(data.draw(st.integers(1, 2), label="ones")):
        shape.insert(data.draw(st.integers(0, len(shape)), label="where"), 1)
    n = len(shape)
    dim = data.draw(st.one_of(st.none(), st.integers(-n, n - 1)), label="dim")
    return [data.draw(arrays(tuple(shape)), label="x")], {"dim": dim}


def unsqueeze_dim(data, shape):
    return {"dim": data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")}


def expand_inputs(data):
    """x with some axes of size 1, expanded to a bigger shape (-1 keeps a size; maybe a new axis)."""
    full = data.draw(shapes(**SMALL), label="full")
    small = tuple(1 if data.draw(st.booleans()) else n for n in full)
    sizes = [n if s == 1 or not data.draw(st.booleans()) else -1 for n, s in zip(full, small)]
    if data.draw(st.booleans(), label="new axis"):
        sizes = [2] + sizes
    return [data.draw(arrays(small), label="x")], {"sizes": tuple(sizes)}


def cat_inputs(data):
    shape = data.draw(shapes(**SMALL), label="shape")
    n = len(shape)
    dim = data.draw(st.integers(-n, n - 1), label="dim")
    count = data.draw(st.integers(1, 3), label="count")
    xs = []
    for _ in range(count):
        s = list(shape)
        s[dim] = data.draw(st.integers(1, 3), label="size along dim")
        xs.append(data.draw(arrays(tuple(s)), label="x"))
    return xs, {"dim": dim}


def stack_inputs(data):
    shape = data.draw(shapes(**SMALL), label="shape")
    count = data.draw(st.integers(1, 3), label="count")
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)), label="dim")
    return [data.draw(arrays(shape), label="x") for _ in range(count)], {"dim": dim}


# ------------------------------------------------------------------ indexing
def index_inputs(kind):
    """x of shape (B, C, W) and one index of the given kind, drawn to fit it."""
    def draw(data):
        shape = data.draw(shapes(min_dims=3, max_dims=3, max_side=4), label="shape")
        b, c, _ = shape
        if kind == "int":
            index = data.draw(st.integers(-b, b - 1))
        elif kind == "slices":
            start = data.draw(st.integers(-b, b - 1))
            step = data.draw(st.integers(1, 2))
            index = (slice(start, None), slice(None, None, step), slice(None, -1))
        elif kind == "int array with repeats":
            picks = data.draw(st.lists(st.integers(-b, b - 1), min_size=1, max_size=6))
            index = np.array(picks + picks[:1])  # the first row at least twice
        elif kind == "list, two axes":
            rows = data.draw(st.lists(st.integers(0, b - 1), min_size=2, max_size=5))
            cols = data.draw(st.lists(st.integers(0, c - 1), min_size=len(rows), max_size=len(rows)))
            index = (rows, cols)
        elif kind == "slice + int array":
            cols = data.draw(st.lists(st.integers(0, c - 1), min_size=1, max_size=5))
            index = (slice(None), np.array(cols + cols), slice(1, None))
        elif kind == "boolean mask":
            index = data.draw(arrays(shape), label="mask") > 0
        elif kind == "boolean mask on rows":
            index = data.draw(arrays((b,)), label="mask") > -0.5
        elif kind == "None and Ellipsis":
            index = (None, Ellipsis, data.draw(st.integers(0, shape[2] - 1)), None)
        elif kind == "integer array, 2-D":
            index = np.array(data.draw(st.lists(st.integers(0, b - 1), min_size=4, max_size=4))).reshape(2, 2)
        return [data.draw(arrays(shape), label="x")], {"index": index}
    return draw


def torch_index(index):
    """The same index for torch (NumPy integer/boolean arrays as torch tensors)."""
    if isinstance(index, tuple):
        return tuple(torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.as_tensor(index)
    return index


INDEX_KINDS = ["int", "slices", "int array with repeats", "list, two axes", "slice + int array",
               "boolean mask", "boolean mask on rows", "None and Ellipsis", "integer array, 2-D"]

CASES = [
    Case("reshape", one_array(reshape_target), lambda x, target: x.reshape(*target),
         lambda x, target: x.reshape(target)),
    Case("view", one_array(reshape_target), lambda x, target: x.view(target),
         lambda x, target: x.view(target)),
    Case("transpose", one_array(two_dims), lambda x, dim0, dim1: x.transpose(dim0, dim1)),
    Case("permute", one_array(permutation), lambda x, dims: x.permute(*dims)),
    Case("T", one_array(lambda data, shape: {}), lambda x: x.T,
         lambda x: x.permute(*reversed(range(x.ndim)))),
    Case("flatten", one_array(flatten_range), lambda x, start, end: x.flatten(start, end)),
    Case("squeeze", with_ones, lambda x, dim: x.squeeze(dim),
         lambda x, dim: x.squeeze() if dim is None else x.squeeze(dim)),
    Case("unsqueeze", one_array(unsqueeze_dim), lambda x, dim: x.unsqueeze(dim)),
    Case("expand", expand_inputs, lambda x, sizes: x.expand(*sizes)),
    Case("cat", cat_inputs, lambda *xs, dim: minicnn.cat(xs, dim=dim),
         lambda *xs, dim: torch.cat(xs, dim=dim)),
    Case("stack", stack_inputs, lambda *xs, dim: minicnn.stack(xs, dim=dim),
         lambda *xs, dim: torch.stack(xs, dim=dim)),
] + [
    Case(f"getitem[{kind}]", index_inputs(kind), lambda x, index: x[index],
         lambda x, index: x[torch_index(index)])
    for kind in INDEX_KINDS
]


test_gradient, test_torch_parity = case_tests(CASES)


# ------------------------------------------------------------------ fixed examples
def test_repeated_indices_accumulate(backend):
    """x[[0, 0, 0, 2]]: row 0 is read three times, so it receives three gradients."""
    x = minicnn.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    x[np.array([0, 0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3, 3], [0, 0], [1, 1]])


def test_index_with_tensors_and_lists(backend):
    x = minicnn.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    rows = minicnn.tensor(np.array([2, 0, 2]))  # on the active backend
    y = x[rows, [1, 1, 3]]
    np.testing.assert_array_equal(y.numpy(), [9.0, 1.0, 11.0])
    mask = x > 5.0  # a boolean tensor
    z = x[mask]
    assert z.shape == (6,)
    (y.sum() + z.sum()).backward()
    expected = np.zeros((3, 4))
    expected[[2, 0, 2], [1, 1, 3]] += 1
    expected[np.arange(12.0).reshape(3, 4) > 5] += 1
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_shape_errors_are_clear():
    x = minicnn.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="cat: sizes must match"):
        minicnn.cat([x, minicnn.tensor(np.ones((3, 2)))], dim=0)
    with pytest.raises(ValueError, match="stack"):
        minicnn.stack([x, minicnn.tensor(np.ones((3, 2)))])
    with pytest.raises(ValueError, match="non-empty"):
        minicnn.cat([])
    with pytest.raises(ValueError, match="zero-dimensional"):
        minicnn.cat([minicnn.tensor(1.0)])
    with pytest.raises(IndexError, match="transpose"):
        x.transpose(0, 2)


def test_overlapping_slices_add_up(backend):
    """Gradients of two slices that overlap add up."""
    x = minicnn.tensor(np.ones(5), requires_grad=True)
    y = x[1:4].sum() * 2 + x[:3].sum() * 3
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 5, 5, 2, 0])


@pytest.mark.parametrize("shape", [(2, 3, 4), (3, 3, 3)], ids=["distinct sizes", "cube"])
def test_permute_by_a_cycle_is_undone_by_the_inverse(shape, backend):
    """A 3-cycle is not its own inverse (a swap is): on a cube a wrong backward keeps the shape."""
    x = minicnn.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    gradcheck(lambda t: t.permute(1, 2, 0), x)
    gradcheck(lambda t: t.permute(2, 0, 1), x)
