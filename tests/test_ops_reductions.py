"""Reductions: sum mean var max min amax amin argmax, with ``dim`` (None, int, negative, tuple)
and ``keepdim``.

Table-driven as in test_ops_elementwise: a float64 gradient check on every backend and torch
parity in float64 and float32 for every case. max/min/amax/amin draw tie-free inputs (their
gradient jumps where two entries tie); the tie conventions are pinned separately.
"""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minicnn
from minicnn.ops.reductions import Sum
from minicnn.testing import assert_parity
from minicnn.testing.cases import Case, case_tests
from minicnn.testing.strategies import arrays, shapes, tie_free_arrays



def dims(ndim, allow_tuple=True):
    """A ``dim`` argument: None, one axis (maybe negative) or a tuple of distinct axes."""
    one = st.integers(-ndim, ndim - 1)
    options = [st.none(), one]
    if allow_tuple:
        options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
                       .map(tuple))
    return st.one_of(*options)


def reduction(tie_free=False, min_side=1, allow_tuple=True, one_dim=False):
    def draw(data):
        shape = data.draw(shapes(max_dims=3, max_side=4, min_side=min_side), label="shape")
        x = data.draw(tie_free_arrays(shape) if tie_free else arrays(shape), label="x")
        dim = data.draw(st.integers(-len(shape), len(shape) - 1) if one_dim
                        else dims(len(shape), allow_tuple), label="dim")
        return [x], {"dim": dim, "keepdim": data.draw(st.booleans(), label="keepdim")}
    return draw


def variance(data):
    [x], options = reduction(min_side=2)(data)
    options["correction"] = data.draw(st.sampled_from([0, 1]), label="correction")
    return [x], options


def torch_var(x, dim, keepdim, correction):
    return x.var(dim=dim, correction=correction, keepdim=keepdim)


CASES = [
    Case("sum", reduction(), lambda x, dim, keepdim: x.sum(dim, keepdim),
         lambda x, dim, keepdim: x.sum(dim=dim, keepdim=keepdim)),
    Case("F.sum", reduction(), lambda x, dim, keepdim: minicnn.sum(x, dim=dim, keepdim=keepdim),
         lambda x, dim, keepdim: torch.sum(x, dim=dim, keepdim=keepdim)),
    Case("mean", reduction(), lambda x, dim, keepdim: x.mean(dim, keepdim),
         lambda x, dim, keepdim: x.mean(dim=dim, keepdim=keepdim)),
    Case("var", variance, lambda x, dim, keepdim, correction: x.var(dim, keepdim=keepdim,
                                                                    correction=correction),
         torch_var),
    Case("var(unbiased)", reduction(min_side=2),
         lambda x, dim, keepdim: x.var(dim, unbiased=True, keepdim=keepdim),
         lambda x, dim, keepdim: x.var(dim=dim, unbiased=True, keepdim=keepdim)),
    Case("max(dim) values", reduction(tie_free=True, one_dim=True),
         lambda x, dim, keepdim: x.max(dim, keepdim).values,
         lambda x, dim, keepdim: x.max(dim=dim, keepdim=keepdim).values),
    Case("min(dim) values", reduction(tie_free=True, one_dim=True),
         lambda x, dim, keepdim: minicnn.min(x, dim, keepdim)[0],
         lambda x, dim, keepdim: torch.min(x, dim=dim, keepdim=keepdim)[0]),
    Case("max()", reduction(tie_free=True), lambda x, dim, keepdim: x.max(), lambda x, dim, keepdim: x.max()),
    Case("min()", reduction(tie_free=True), lambda x, dim, keepdim: x.min(), lambda x, dim, keepdim: x.min()),
    Case("amax", reduction(tie_free=True), lambda x, dim, keepdim: x.amax(dim, keepdim),
         lambda x, dim, keepdim: x.amax(dim=() if dim is None else dim, keepdim=keepdim)),
    Case("amin", reduction(tie_free=True), lambda x, dim, keepdim: x.amin(dim, keepdim),
         lambda x, dim, keepdim: x.amin(dim=() if dim is None else dim, keepdim=keepdim)),
]


test_gradient, test_torch_parity = case_tests(CASES)


@given(data=st.data())
def test_argmax_and_indices_match_torch(backend, data):
    shape = data.draw(shapes(max_dims=3, max_side=4))
    x = data.draw(tie_free_arrays(shape))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keepdim = data.draw(st.booleans())
    ours, theirs = minicnn.tensor(x), torch.tensor(x)
    got = ours.argmax(dim, keepdim)
    assert got.dtype == np.int64 and got.requires_grad is False
    np.testing.assert_array_equal(got.numpy(), torch.argmax(theirs, dim=dim, keepdim=keepdim).numpy())
    if dim is not None:
        for ours_pair, theirs_pair in ((ours.max(dim, keepdim), theirs.max(dim, keepdim)),
                                       (ours.min(dim, keepdim), theirs.min(dim, keepdim))):
            np.testing.assert_array_equal(ours_pair.indices.numpy(), theirs_pair.indices.numpy())
            np.testing.assert_array_equal(ours_pair.values.numpy(), theirs_pair.values.numpy())


def test_tie_conventions_follow_torch(backend):
    """amax / max() share the gradient among tied entries; max(dim) routes it to the index it returns."""
    tied = [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])]
    assert_parity(lambda x: x.max(), lambda x: x.max(), tied)
    assert_parity(lambda x: x.amax(1), lambda x: x.amax(1), tied)
    assert_parity(lambda x: x.amin(0), lambda x: x.amin(0), tied)
    assert_parity(lambda x: x.max(1).values, lambda x: x.max(1).values, tied)


def test_zero_dim_tensor_reductions(backend):
    x = minicnn.tensor(np.array(2.0), requires_grad=True)
    for y in (x.sum(), x.sum(0), x.mean(-1), x.amax(0), x.max()):
        assert y.shape == ()
    x.sum(0).backward()
    assert x.grad.item() == 1.0


def test_var_of_one_entry_is_nan_like_torch(backend):
    x = minicnn.tensor(np.array([[1.5], [2.0]]), requires_grad=True)
    with np.errstate(all="ignore"):
        y = x.var(dim=1)
        assert np.isnan(y.numpy()).all()
        y.sum().backward()  # no ZeroDivisionError
    assert np.isnan(x.grad.numpy()).all()


def test_bad_dims_raise():
    x = minicnn.tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match="out of range"):
        x.sum(2)
    with pytest.raises(ValueError, match="more than once"):
        x.sum((1, -1))


def test_max_of_two_tensors_is_maximum():
    a, b = minicnn.tensor([1.0, 5.0]), minicnn.tensor([3.0, 2.0])
    np.testing.assert_array_equal(minicnn.max(a, b).numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(minicnn.min(a, b).numpy(), [1.0, 2.0])


def test_sum_backward_allocates_nothing(backend):
    """The gradient of a sum is dL/dy copied everywhere: a broadcast view, not a new array."""
    xp = minicnn.backend.module_of_backend(backend)
    fn = Sum()
    fn.forward(xp.ones((1000, 100)), axes=(0, 1), keepdim=False)
    g = fn.backward(xp.asarray(np.array(2.0)))
    assert g.shape == (1000, 100)
    assert g.strides == (0, 0)  # every entry reads the same 8 bytes
    x = minicnn.tensor(np.ones((1000, 100)), requires_grad=True)
    x.sum().backward()
    assert x.grad.data.strides != (0, 0)  # a leaf's .grad is its own, writable array
    x.grad.data[0, 0] = 5.0
