"""In-place methods and version counters: a backward never uses memory changed since its forward."""
import numpy as np
import pytest

import minicnn
from minicnn import nn, no_grad, optim


def _param(values, dtype=np.float32):
    return nn.Parameter(minicnn.tensor(np.array(values, dtype=dtype)))


def test_an_optimizer_step_between_forward_and_backward_raises_as_in_torch(backend, torch):
    w = _param([1.0, 2.0, 3.0])
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: \[float32 tensor of shape "
                                           r"\(3,\)\], which is input 0 of MulBackward, is at version 1; "
                                           r"expected version 0"):
        loss.backward()
    tw = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.1)
    tloss = (tw * tw).sum()
    tloss.backward(retain_graph=True)
    topt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()


def test_changes_backward_does_not_need_stay_allowed(backend, torch):
    w = _param([1.0, 2.0, 3.0])
    loss = (w + 1).sum() * 3          # add keeps nothing of w; the product keeps only a number
    with no_grad():
        w.add_(10)
    loss.backward()
    tw = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    tloss = (tw + 1).sum() * 3
    with torch.no_grad():
        tw.add_(10)
    tloss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())
    np.testing.assert_array_equal(w.numpy(), tw.detach().numpy())


def test_a_changed_output_that_backward_needs_raises_naming_the_op(backend):
    x = minicnn.tensor(np.ones(3, np.float32), requires_grad=True)
    y = x.exp()                                         # exp's backward uses its output
    total = y.sum()
    with no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="output 0 of ExpBackward, is at version 1"):
        total.backward()


@pytest.mark.parametrize("change", [
    lambda t: t.add_(1), lambda t: t.sub_(1, alpha=2), lambda t: t.mul_(2), lambda t: t.div_(2),
    lambda t: t.clamp_(max=0.5), lambda t: t.fill_(3), lambda t: t.zero_(),
    lambda t: t.copy_(minicnn.tensor(np.zeros(3, np.float32))), lambda t: t.__setitem__(0, 5.0),
    lambda t: setattr(t, "data", t.data.__isub__(1)),          # what ``p.data -= 1`` does
])
def test_every_public_in_place_change_is_seen(backend, change):
    w = _param([1.0, 2.0, 3.0])
    loss = (w * w).sum()
    before = w._version
    with no_grad():
        change(w)
    assert w._version == before + 1
    with pytest.raises(RuntimeError, match="MulBackward"):
        loss.backward()


def test_views_and_detached_tensors_share_the_counter(backend):
    x = minicnn.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = (x * 1.0).exp()
    total = y.sum()
    with no_grad():
        y.detach()[0, 0] = 0.0                            # the same memory as y
    with pytest.raises(RuntimeError, match="output 0 of ExpBackward"):
        total.backward()
    x2 = minicnn.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y2 = (x2 * 1.0).exp()
    total2 = y2.sum()
    with no_grad():
        y2.detach().reshape(6)[0:2].fill_(0.0)            # a view of a view
    with pytest.raises(RuntimeError, match="ExpBackward"):
        total2.backward()


def test_rebinding_data_is_not_an_in_place_change_as_torch_data(backend):
    w = _param([1.0, 2.0])
    loss = (w * w).sum()
    w.data = w.data * 0          # a new array: the graph still holds the old one, unchanged
    loss.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])


def test_in_place_on_a_leaf_that_requires_grad_outside_no_grad_raises(torch):
    w = _param([1.0])
    with pytest.raises(RuntimeError, match="add_: a leaf Variable that requires grad .* in-place operation"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        torch.ones(1, requires_grad=True).add_(1)
    y = w * 2
    with pytest.raises(RuntimeError, match=r"__setitem__: in-place operations on a tensor that is part of a "
                                           r"graph \(produced by MulBackward"):
        y[0] = 1.0


@pytest.mark.parametrize("name, args", [
    ("add_", (2.5,)), ("sub_", (1.5,)), ("mul_", (-2.0,)), ("div_", (4.0,)), ("clamp_", (0.0, 1.5)),
    ("fill_", (7.0,)), ("zero_", ()),
])
def test_in_place_results_equal_torch(name, args, torch):
    values = np.array([[0.5, -1.0, 2.0], [3.0, -4.0, 1.25]], np.float32)
    ours, theirs = minicnn.tensor(values.copy()), torch.tensor(values.copy())
    assert getattr(ours, name)(*args) is ours
    getattr(theirs, name)(*args)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    row = np.array([1.0, 2.0, 3.0], np.float32)
    getattr(ours, "add_")(minicnn.tensor(row), alpha=2)
    theirs.add_(torch.tensor(row), alpha=2)
    ours[1, 0:2] = 9.0
    theirs[1, 0:2] = 9.0
    ours[minicnn.tensor(np.array([0]))] = minicnn.tensor(np.zeros(3, np.float32))
    theirs[torch.tensor([0])] = torch.zeros(3)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_in_place_keeps_shape_and_dtype_as_torch(torch):
    x = minicnn.tensor(np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"add_: output with shape \(3,\) doesn't match the broadcast shape "
                                         r"\(2, 3\)"):
        x.add_(minicnn.ones(2, 3))
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        torch.ones(3).add_(torch.ones(2, 3))
    i = minicnn.tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match="add_: result type Float can't be cast to the desired output type int64"):
        i.add_(0.5)
    with pytest.raises(RuntimeError, match="result type Float can't be cast"):
        torch.tensor([1, 2]).add_(0.5)
    with pytest.raises(TypeError, match="div_: result type Float"):
        i.div_(2)
