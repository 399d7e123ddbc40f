"""The Tensor: creation and dtype rules, copies, array facts, conversions, operators."""
import numpy as np
import pytest
import torch

import minicnn
from minicnn import Tensor


# ------------------------------------------------------------------ dtype rules (as torch.tensor)
@pytest.mark.parametrize("data, dtype", [
    (1.5, np.float32),                              # Python float -> float32
    ([1.0, 2.0], np.float32),
    ([[1, 2], [3, 4]], np.int64),                   # Python int -> int64
    (3, np.int64),
    ([True, False], np.bool_),
    (np.zeros(3), np.float64),                      # float64 arrays stay float64
    (np.zeros(3, dtype=np.float32), np.float32),
    (np.zeros(3, dtype=np.int32), np.int32),        # arrays keep their dtype
    (np.float64(2.0), np.float64),                  # so do NumPy scalars
    (np.int64(2), np.int64),
])
def test_dtype_rules(data, dtype, backend):
    t = minicnn.tensor(data)
    assert t.dtype == dtype
    assert t.dtype == torch.tensor(data).numpy().dtype  # the same rule as torch
    assert t.device == minicnn.backend.DEVICE_OF_BACKEND[backend]


def test_explicit_dtype(backend):
    assert minicnn.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert minicnn.tensor(np.ones(2), dtype="float32").dtype == np.float32
    assert Tensor([1.0], dtype=minicnn.float64).dtype == np.float64


def test_tensor_copies_but_Tensor_wraps():
    a = np.zeros(3)
    t = minicnn.tensor(a)
    a[0] = 5.0
    assert t.numpy()[0] == 0.0                     # minicnn.tensor copies (torch.tensor)
    w = Tensor(a)
    a[1] = 7.0
    assert w.numpy()[1] == 7.0                     # Tensor(array) wraps without copying
    source = minicnn.tensor([1.0, 2.0])
    assert minicnn.tensor(source).data is not source.data
    tt = torch.tensor([1.0, 2.0])
    from_torch = minicnn.tensor(tt)
    from_torch.data[0] = 9.0
    assert tt[0].item() == 1.0                     # no memory shared with a torch tensor


def test_strict_tensor_never_shares_host_memory():
    a = np.zeros(3)
    with minicnn.backend.use_backend("strict"):
        t = Tensor(a)                              # a move to the "device" copies, as on CuPy
    a[0] = 1.0
    assert t.device == "strict" and t.numpy()[0] == 0.0


# ------------------------------------------------------------------ array facts and conversions
def test_shape_ndim_dtype_item_numpy(backend):
    t = minicnn.tensor(np.arange(6.0).reshape(2, 3))
    assert t.shape == (2, 3) and isinstance(t.shape, tuple)
    assert t.ndim == 2 and t.dim() == 2 and len(t) == 2
    assert t.size() == (2, 3) and t.size(1) == 3 and t.numel() == 6
    assert t.dtype == np.float64
    host = t.numpy()
    assert isinstance(host, np.ndarray)
    np.testing.assert_array_equal(host, np.arange(6.0).reshape(2, 3))
    s = t.sum()
    assert s.item() == 15.0 and isinstance(s.item(), float)
    assert float(s) == 15.0 and int(minicnn.tensor(4)) == 4
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    with pytest.raises(ValueError, match="only one-element"):
        t.item()
    with pytest.raises(TypeError, match="0-d"):
        len(s)


def test_results_are_arrays_not_numpy_scalars(backend):
    """NumPy returns 0-d results as np.float64; tensors always hold arrays (as CuPy does)."""
    x = minicnn.tensor(np.ones((2, 3)), requires_grad=True)
    for t in (x.sum(), x.mean(), x.max(), x.argmax(), x[0, 0], x.sum().exp()):
        assert t.shape == ()
        assert not isinstance(t.data, np.generic)
    loss = x.sum() * x.sum()
    loss.backward()
    assert not isinstance(loss.data, np.generic)


def test_numpy_shares_memory_on_cpu():
    t = minicnn.tensor(np.zeros(3), requires_grad=True)
    t.numpy()[0] = 1.0  # as torch's .numpy() (after .detach())
    assert t.data[0] == 1.0


def test_implicit_numpy_conversion_only_on_cpu():
    t = minicnn.tensor(np.ones(3))
    np.testing.assert_array_equal(np.asarray(t), [1.0, 1.0, 1.0])
    s = t.to("strict")
    with pytest.raises(TypeError, match="can't convert a strict tensor"):
        np.asarray(s)
    np.testing.assert_array_equal(s.numpy(), [1.0, 1.0, 1.0])  # explicit copies are fine


def test_casts(backend):
    x = minicnn.tensor(np.array([1.5, -2.5]), requires_grad=True)
    y = x.float()
    assert y.dtype == np.float32 and y.requires_grad
    y.sum().backward()
    assert x.grad.dtype == np.float64                   # the gradient is cast back
    assert x.to("float32").dtype == np.float32 and x.to(np.float32).dtype == np.float32
    assert x.double() is x
    n = x.long()
    assert n.dtype == np.int64 and not n.requires_grad  # ints carry no gradient
    np.testing.assert_array_equal(n.numpy(), [1, -2])


def test_clone_is_a_differentiable_copy(backend):
    x = minicnn.tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = x.clone()
    c.data[0] = 5.0
    assert x.numpy()[0] == 1.0
    (c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_comparisons_give_boolean_tensors(backend):
    x = minicnn.tensor(np.array([1.0, 2.0, 3.0]))
    assert (x > 1.5).dtype == np.bool_
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True, True])
    np.testing.assert_array_equal((x <= 2.0).numpy(), [True, True, False])
    np.testing.assert_array_equal(x.eq(2.0).numpy(), [False, True, False])
    np.testing.assert_array_equal(x.ne(x).numpy(), [False, False, False])


def test_repr():
    assert repr(minicnn.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "requires_grad=True" in repr(minicnn.tensor([1.0], requires_grad=True))
    assert "grad_fn=<MulBackward>" in repr(minicnn.tensor([1.0], requires_grad=True) * 2)
    assert "dtype=float64" in repr(minicnn.tensor(np.ones(1)))
    assert "device='strict'" in repr(minicnn.tensor([1.0]).to("strict"))


def test_numpy_array_on_the_left_gives_a_tensor(backend):
    x = minicnn.tensor(np.array([1.0, 2.0]))
    if backend == "numpy":
        y = np.array([2.0, 3.0]) * x
        assert isinstance(y, Tensor)
        np.testing.assert_array_equal(y.numpy(), [2.0, 6.0])
    else:  # a host array beside a device tensor: refused, as with CuPy
        with pytest.raises((minicnn.backend.BackendError, TypeError)):
            np.array([2.0, 3.0]) * x


def test_factory_functions():
    assert minicnn.zeros(2, 3).shape == (2, 3) and minicnn.zeros(2, 3).dtype == np.float32
    assert minicnn.ones((2,), requires_grad=True).requires_grad
    minicnn.manual_seed(0)
    a = minicnn.randn(3, 2).numpy()
    minicnn.manual_seed(0)
    np.testing.assert_array_equal(a, minicnn.randn(3, 2).numpy())
