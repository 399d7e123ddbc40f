"""The autograd engine: graph recording, the backward pass, grad modes and graph memory."""
import gc
import time
import weakref

import numpy as np
import pytest
import torch

import minicnn
from minicnn.autograd import Function, topological_order, unbroadcast
from minicnn.backend import get_array_module


def leaf(values, dtype=np.float64):
    return minicnn.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ the backward pass
def test_chain_of_100000_ops_has_no_recursion_limit():
    x = leaf([1.0, 2.0])
    y = x
    start = time.perf_counter()
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    elapsed = time.perf_counter() - start
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    del y
    gc.collect()  # freeing the 100,000-node chain must not recurse either
    assert elapsed < 30, f"100,000 ops forward + backward took {elapsed:.1f} s"


def test_gradients_accumulate_across_backward_calls_as_torch():
    x, tx = leaf([1.0, -2.0, 3.0]), torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    for fn in (lambda t: (t * t).sum(), lambda t: (t.exp() * 3).sum()):
        fn(x).backward()
        fn(tx).backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    x.zero_grad()
    assert x.grad is None


def test_second_backward_on_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)


def test_diamond_graph_sums_the_gradients_of_every_use():
    """x feeds two branches that meet again: dL/dx = sum over both paths."""
    x, tx = leaf([0.5, 1.5]), torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True)
    for t in (x, tx):
        a = t * 3.0
        b = t.exp()
        ((a * b) + a + t * t).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    y = leaf([2.0])
    (y * y * y).backward()  # the same tensor twice in one op, then again
    np.testing.assert_allclose(y.grad.numpy(), [12.0])


def test_non_scalar_backward_needs_a_gradient():
    x = leaf(np.ones((2, 3)))
    y = x * 2
    with pytest.raises(RuntimeError, match="only for scalar outputs.*shape \\(2, 3\\)"):
        y.backward()
    with pytest.raises(RuntimeError, match="grad has shape"):
        y.backward(np.ones(3))
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(x.grad.numpy(), 1.0)


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        minicnn.tensor([1.0]).sum().backward()


def test_leaf_backward_on_itself():
    x = leaf(3.0)
    x.backward()
    assert x.grad.item() == 1.0


# ------------------------------------------------------------------ grad modes
def test_no_grad_builds_no_graph():
    x = leaf([1.0, 2.0])
    with minicnn.no_grad():
        assert not minicnn.is_grad_enabled()
        y = x * 2 + x.exp()
        with minicnn.enable_grad():
            z = x * 2
    assert minicnn.is_grad_enabled()
    assert y.requires_grad is False and y.grad_fn is None
    assert z.requires_grad is True and z.grad_fn is not None


def test_no_grad_as_decorator_with_and_without_parentheses():
    x = leaf([1.0])

    @minicnn.no_grad()
    def f(t):
        return t * 2

    @minicnn.no_grad
    def g(t):
        return t * 2

    for fn in (f, g):
        y = fn(x)
        assert y.requires_grad is False and y.grad_fn is None
    assert f.__name__ == "f" and g.__name__ == "g"
    assert minicnn.is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with minicnn.no_grad():
            1 / 0
    assert minicnn.is_grad_enabled()


def test_detach_shares_data_and_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert d.requires_grad is False and d.grad_fn is None and d.is_leaf
    assert d.data is y.data
    (d * x).sum().backward()  # the gradient does not flow through d
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_retain_grad_keeps_intermediate_gradients():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    y = x * 3  # not retained
    (h * h + y).sum().backward()
    np.testing.assert_array_equal(h.grad.numpy(), 2 * h.numpy())
    assert y.grad is None
    assert h.is_leaf is False


def test_only_floating_tensors_can_require_grad():
    with pytest.raises(RuntimeError, match="floating-point"):
        minicnn.tensor([1, 2, 3], requires_grad=True)
    t = minicnn.tensor([1, 2])
    with pytest.raises(RuntimeError, match="floating-point"):
        t.requires_grad = True
    with pytest.raises(RuntimeError, match="leaf"):
        (leaf([1.0]) * 2).requires_grad_(False)


def test_integer_results_carry_no_gradient():
    x = leaf([1.5, -2.5])
    for y in (x.argmax(), x > 0, x.long(), x.max(0).indices):
        assert y.requires_grad is False and y.grad_fn is None


def test_graph_records_next_functions():
    x = leaf([1.0])
    y = x.exp()
    z = y * x
    assert z.grad_fn.next_functions == (y.grad_fn, x)
    assert z.grad_fn.needs_input_grad == (True, True)
    assert (minicnn.tensor([1.0]) * x).grad_fn.next_functions[0] is None
    order = topological_order(z.grad_fn)
    assert order.index(x) < order.index(y.grad_fn) < order.index(z.grad_fn)


# ------------------------------------------------------------------ Functions
class Square(Function):
    """y = x^2, dy/dx = 2x (a user-written Function)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, grad):
        return grad * 2 * self.x


class WrongShape(Function):
    def forward(self, x):
        return x.sum()

    def backward(self, grad):
        return grad  # should be broadcast back to x's shape


class MaxWithIndices(Function):
    """y = max over the last axis; the argmax indices come back as an extra output."""

    def forward(self, x):
        self.shape = x.shape
        self.indices = x.argmax(axis=-1)[..., None]
        return x.max(axis=-1), self.indices

    def backward(self, grad):
        xp = get_array_module(grad)
        out = xp.zeros(self.shape, dtype=grad.dtype)
        xp.put_along_axis(out, self.indices, grad[..., None], axis=-1)
        return out


def test_user_function_and_saved_state_is_released():
    x = leaf([3.0])
    y = Square.apply(x)
    fn = y.grad_fn
    y.backward()
    assert x.grad.item() == 6.0
    assert not hasattr(fn, "x")  # what forward saved is freed after backward


def test_engine_checks_gradient_shapes():
    with pytest.raises(RuntimeError, match="WrongShapeBackward returned a gradient of shape"):
        WrongShape.apply(leaf(np.ones((2, 3)))).backward()


def test_extra_outputs_come_back_without_gradient():
    x = leaf([[1.0, 3.0, 2.0]])
    values, indices = MaxWithIndices.apply(x)
    assert values.requires_grad and not indices.requires_grad
    assert indices.numpy().tolist() == [[1]]
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0, 0.0]])


def test_unbroadcast_sums_copies():
    g = np.ones((2, 3, 4))
    assert unbroadcast(g, (3, 4)).shape == (3, 4) and unbroadcast(g, (3, 4))[0, 0] == 2
    assert unbroadcast(g, (3, 1)).shape == (3, 1) and unbroadcast(g, (3, 1))[0, 0] == 8
    assert unbroadcast(g, (1, 1, 1))[0, 0, 0] == 24
    assert unbroadcast(g, (2, 3, 4)) is g


# ------------------------------------------------------------------ memory
def test_graph_keeps_only_what_backward_needs():
    """An intermediate that no backward saved is freed when the user drops it (as in torch)."""
    x = leaf(np.ones(1000))
    h = x * 2.0            # consumed by an addition, whose backward needs no data
    h_data = weakref.ref(h.data)
    out = (h + 1.0).sum()
    del h
    gc.collect()
    assert h_data() is None
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2.0)


def test_saved_arrays_are_freed_after_backward():
    x = leaf(np.ones(1000))
    h = x.exp()
    y = (h * h).sum()              # Mul saves h's data for its backward
    saved = weakref.ref(h.data)
    del h
    gc.collect()
    assert saved() is not None     # still needed
    y.backward()
    gc.collect()
    assert saved() is None         # released by backward


def test_backward_does_not_keep_the_graph_alive():
    x = leaf(np.ones(10))
    y = (x.exp() * 2).sum()
    node = weakref.ref(y.grad_fn)
    y.backward()
    del y
    gc.collect()
    assert node() is None
    assert x.grad is not None
