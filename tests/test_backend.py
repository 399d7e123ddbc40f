"""The backend seam: CuPy's absence, moving tensors, mixing backends, and the strict stand-in.

The strict backend is how CI (no GPU) proves that kernels would run on CuPy: its arrays refuse
NumPy the way CuPy arrays do. The tests below plant a bare ``np.`` call and check that strict
catches it while NumPy lets it through, which shows the stand-in works.
"""
import importlib

import numpy as np
import pytest

import minicnn
from minicnn import backend
from minicnn.autograd import Function
from minicnn.backend import BackendError, get_array_module
from minicnn.strict_backend import StrictArray
from minicnn.strict_backend import xp as strict


# ------------------------------------------------------------------ CuPy missing
def test_set_backend_cupy_without_cupy_gives_one_clear_error(monkeypatch):
    real_import = importlib.import_module

    def no_cupy(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", no_cupy)
    with pytest.raises(BackendError) as info:
        minicnn.set_backend("cupy")
    message = str(info.value)
    assert "cupy" in message and "pip install" in message and "cupy-cuda12x" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # one error, not a chain
    assert minicnn.get_backend() == "numpy"  # unchanged
    assert backend.cupy_available() is False
    with pytest.raises(BackendError, match="pip install"):
        minicnn.tensor([1.0]).to("gpu")


def test_unknown_backend_and_device_names():
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        minicnn.set_backend("tpu")
    with pytest.raises(BackendError, match="unknown device 'tpu'"):
        minicnn.tensor([1.0]).to("tpu")


def test_use_backend_restores_the_previous_one():
    with backend.use_backend("strict") as xp:
        assert xp is strict
        assert minicnn.tensor([1.0]).device == "strict"
    assert minicnn.get_backend() == "numpy"
    assert minicnn.tensor([1.0]).device == "cpu"


# ------------------------------------------------------------------ moving tensors
def test_to_strict_and_back_round_trip_with_gradient():
    x = minicnn.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    s = x.to("strict")
    assert s.device == "strict" and s.backend == "strict" and isinstance(s.data, StrictArray)
    assert s.requires_grad and s.grad_fn is not None
    y = (s * s).sum()                     # computed on the strict backend
    back = y.to("cpu")
    assert back.device == "cpu" and back.item() == 14.0
    back.backward()
    assert x.grad.device == "cpu"         # the gradient flowed back across both moves
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0, 6.0])
    assert x.to("cpu") is x               # already there: no copy, no node


def test_device_names():
    x = minicnn.tensor([1.0])
    assert x.device == "cpu" and x.backend == "numpy" and x.xp is np
    assert x.cpu() is x
    assert backend.backend_of_device("cuda:0") == "cupy"
    assert backend.backend_of_device("gpu") == "cupy"


def test_mixing_backends_in_one_op_names_both():
    a = minicnn.tensor(np.ones((2, 3)))
    b = minicnn.tensor(np.ones(3)).to("strict")
    with pytest.raises(BackendError) as info:
        a + b
    message = str(info.value)
    assert "cpu tensor of shape (2, 3)" in message and "strict tensor of shape (3,)" in message
    with pytest.raises(BackendError, match="cpu.*strict"):
        minicnn.cat([minicnn.tensor(np.ones(3)), b])
    with pytest.raises(BackendError, match="cpu.*strict|strict.*cpu"):
        b * np.ones(3)  # a raw host array beside a device tensor


def test_to_numpy_and_to_backend():
    a = np.arange(3.0)
    s = backend.to_backend(a, "strict")
    assert isinstance(s, StrictArray)
    back = backend.to_numpy(s)
    np.testing.assert_array_equal(back, a)
    assert back is not a
    assert isinstance(backend.to_backend([1.0, 2.0], "numpy"), np.ndarray)
    assert backend.to_backend(a, "numpy") is a


def test_get_array_module():
    s = minicnn.tensor([1.0]).to("strict")
    assert get_array_module(np.ones(2)) is np
    assert get_array_module(1.0, np.float32(2.0)) is np
    assert get_array_module(s).__class__ is strict.__class__
    assert get_array_module(np.ones(2), s.data).__class__ is strict.__class__  # the first non-NumPy decides


# ------------------------------------------------------------------ the strict stand-in catches np.
class PlantedNumpyExp(Function):
    """y = e^x written WRONG for a GPU: a bare ``np.exp`` on the raw array."""

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, grad):
        return grad * self.y


class SeamExp(Function):
    """The same op through the seam: ``xp`` of the input."""

    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, grad):
        return grad * self.y


class PlantedHostConstant(Function):
    """y = x + c with ``c`` built by NumPy on the host: mixing, which CuPy refuses."""

    def forward(self, x):
        return x + np.ones(x.shape)

    def backward(self, grad):
        return grad


class PlantedNumpyReduction(Function):
    """y = sum(x) through ``np.sum`` (array function protocol), which CuPy does not serve."""

    def forward(self, x):
        self.shape = x.shape
        return np.sum(x)

    def backward(self, grad):
        return get_array_module(grad).broadcast_to(grad, self.shape)


@pytest.mark.parametrize("planted", [PlantedNumpyExp, PlantedHostConstant, PlantedNumpyReduction])
def test_strict_catches_a_planted_numpy_call(planted, backend):
    x = minicnn.tensor(np.array([0.5, 1.0]), requires_grad=True)
    if backend == "numpy":  # NumPy lets the bug through: this is why the strict backend exists
        planted.apply(x).sum().backward()
        assert x.grad is not None
    else:
        with pytest.raises(TypeError):
            planted.apply(x)


def test_the_seam_version_runs_everywhere(backend):
    x = minicnn.tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = SeamExp.apply(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.0]))
    assert y.device == minicnn.backend.DEVICE_OF_BACKEND[backend]


# ------------------------------------------------------------------ strict arrays behave like CuPy's
def test_strict_arrays_refuse_numpy():
    a = strict.asarray(np.arange(3.0))
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError):
        np.exp(a)
    with pytest.raises(TypeError, match="numpy.sum was called on a strict"):
        np.sum(a)
    with pytest.raises(TypeError, match="mixed with strict"):
        a + np.ones(3)
    with pytest.raises(TypeError):
        np.ones(3) + a
    with pytest.raises(TypeError, match="mixed with strict"):
        strict.maximum(a, np.zeros(3))
    with pytest.raises(TypeError, match="mixed with strict"):
        a[0:2] = np.zeros(2)


def test_strict_arrays_do_what_cupy_arrays_do():
    a = strict.asarray(np.arange(6.0).reshape(2, 3))
    total = a.sum()
    assert isinstance(total, StrictArray) and total.shape == ()   # reductions give 0-d arrays
    assert float(total) == 15.0 and total.item() == 15.0          # explicit sync is allowed
    assert isinstance(strict.exp(a), StrictArray)
    assert isinstance(a * 2.0 + np.float64(1.0), StrictArray)     # scalars mix fine
    assert isinstance(a.T, StrictArray) and a.T.shape == (3, 2)
    b = strict.zeros((2, 3))
    strict.add.at(b, (strict.asarray(np.array([0, 0])), strict.asarray(np.array([1, 1]))), 1.0)
    assert b.get()[0, 1] == 2.0                                   # scatter-add accumulates
    assert isinstance(a.get(), np.ndarray)                        # the explicit way out
    host = np.zeros(2)
    moved = strict.asarray(host)
    host[0] = 1.0
    assert moved.get()[0] == 0.0                                  # asarray copies host data
    windows = backend.sliding_windows(a, 2, axis=1)
    assert isinstance(windows, StrictArray) and windows.shape == (2, 2, 2)


def test_strict_arrays_pickle_and_copy():
    import copy
    import pickle
    a = strict.asarray(np.arange(3.0))
    for b in (pickle.loads(pickle.dumps(a)), copy.deepcopy(a)):
        np.testing.assert_array_equal(b.get(), a.get())


def test_indexing_a_strict_tensor_with_host_indices():
    """NumPy integer arrays and lists index a device tensor (moved over, as CuPy requires for
    the scatter-add of the backward)."""
    with backend.use_backend("strict"):
        x = minicnn.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    x[np.array([0, 0, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2], [0, 0], [1, 1]])
    x.zero_grad()
    x[[1, 1], [0, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0], [2, 0], [0, 0]])
