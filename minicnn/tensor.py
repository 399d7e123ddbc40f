"""The Tensor: an array of the active backend plus what autograd needs.

A :class:`Tensor` holds

* ``data``: a raw array (``numpy.ndarray``, ``cupy.ndarray``, or the strict
  stand-in), which every kernel reads;
* ``requires_grad``: whether gradients should flow to it;
* ``grad``: the accumulated gradient (a Tensor) of a leaf after ``backward``;
* ``grad_fn``: the :class:`~minicnn.autograd.Function` node that produced it
  (``None`` for leaves).

Dtype rules (as ``torch.tensor``): Python floats become float32, arrays keep
their dtype (so float64 stays float64: gradient checks run in float64),
Python ints become int64 (labels, indices), bools stay bool. Only
floating-point tensors can require gradients.

The operators and torch-named methods (``x + y``, ``x @ w``, ``x[i]``,
``x.exp()``, ``x.sum(1)``, ``x.to("cpu")``...) call the ops, which are built on
this class; they are written in ``tensor_methods.py`` and attached to it when
``minicnn`` is imported, so that this file does not import the ops.
"""
from __future__ import annotations

import weakref

import numpy as np

from . import autograd, backend

DEFAULT_DTYPE = np.float32


def to_raw_array(data, dtype=None, backend_name=None):
    """Turn ``data`` (list, scalar, NumPy/CuPy/strict array, Tensor, torch tensor) into a raw array."""
    if isinstance(data, Tensor):
        data = data.data
    if type(data).__module__.startswith("torch"):
        data = data.detach().cpu().numpy()
    if isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, like an array
        data = np.asarray(data)
    is_array = hasattr(data, "shape") and hasattr(data, "dtype")
    source = backend.backend_of_array(data) if is_array else "numpy"
    # Host data goes to the active backend; device arrays stay where they are.
    target = backend_name or (source if source != "numpy" else backend.get_backend())
    if is_array:
        array = backend.to_backend(data, target)
    else:
        array = np.asarray(data)
        if dtype is None and array.dtype.kind == "f":
            array = array.astype(DEFAULT_DTYPE)
        elif dtype is None and array.dtype.kind in "iu":
            array = array.astype(np.int64)
        array = backend.to_backend(array, target)
    if dtype is not None and array.dtype != np.dtype(dtype):
        array = array.astype(dtype)
    return array


class Tensor:
    """A multi-dimensional array that records the operations applied to it."""

    _is_minicnn_tensor = True
    __array_priority__ = 1000  # numpy_array * tensor -> Tensor.__rmul__

    def __init__(self, data, requires_grad=False, dtype=None):
        self.data = to_raw_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._retains_grad = False
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, array, grad_fn=None):
        """Wrap the raw result of a Function (no conversion, no copy).

        NumPy returns 0-d results as scalars (``np.float32``); they become 0-d
        arrays, as on CuPy, so that ``.data`` is always an array.
        """
        out = cls.__new__(cls)
        out.data = np.asarray(array) if isinstance(array, np.generic) else array
        out.grad = None
        out.grad_fn = grad_fn
        out._retains_grad = False
        out._requires_grad = grad_fn is not None
        return out

    # ------------------------------------------------------------------ autograd
    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor (set it on leaves; results inherit it)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        requires_grad = bool(requires_grad)
        if requires_grad and self.dtype.kind not in "fc":
            raise RuntimeError(f"only floating-point tensors can require gradients (got {self.dtype})")
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("requires_grad can only be changed on leaf tensors; use .detach()")
        self._requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def retain_grad(self):
        """Keep ``.grad`` on a non-leaf tensor too (useful to look at intermediate gradients).

        The node that produced this tensor hands it its gradient during backward; it holds
        only a weak reference, so retaining does not keep the tensor alive.
        """
        self._retains_grad = True
        if self.grad_fn is not None:
            self.grad_fn._retained_output = weakref.ref(self)
        return self

    def backward(self, grad=None, retain_graph=False):
        """Compute the gradient of this tensor with respect to the graph's leaves.

        ``grad`` is dL/d(self); it may be omitted only for a single-element tensor
        (then it is 1).
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn "
                               "(did you forget requires_grad=True, or run it under no_grad?)")
        xp = self.xp
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs "
                                   f"(this tensor has shape {self.shape}); pass grad=")
            grad = xp.ones_like(self.data)
        else:
            grad = to_raw_array(grad, dtype=self.dtype, backend_name=self.backend)
            if grad.shape != self.shape:
                raise RuntimeError(f"backward: grad has shape {grad.shape}, expected {self.shape}")
        autograd.run_backward(self, grad, retain_graph=retain_graph)

    def _accumulate_grad(self, g):
        """``grad += g`` (a leaf sums the gradients of every backward call, as in torch)."""
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        if self.grad is None:
            self.grad = Tensor._from_op(g.copy())  # a copy: g may be a view shared with the graph
        else:
            self.grad = Tensor._from_op(self.grad.data + g)

    def detach(self):
        """The same data, cut from the graph (shares memory, as in torch)."""
        return Tensor._from_op(self.data)

    def zero_grad(self):
        self.grad = None

    # ------------------------------------------------------------------ array facts
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        return self.data.ndim

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.data.size)

    @property
    def backend(self) -> str:
        return backend.backend_of_array(self.data)

    @property
    def device(self) -> str:
        return backend.DEVICE_OF_BACKEND[self.backend]

    @property
    def xp(self):
        """The array module of this tensor's data (numpy, cupy or the strict stand-in)."""
        return backend.get_array_module(self.data)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(self.numpy(), precision=4, separator=", ", prefix="tensor(")
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ------------------------------------------------------------------ conversions
    def numpy(self) -> np.ndarray:
        """The data as a host NumPy array: shares memory on the CPU, a copy from the GPU.

        (torch refuses ``.numpy()`` on tensors that require grad; we simply hand out the array.)
        """
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted (shape {self.shape})")
        return self.data.reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.type(np.float32)

    def double(self):
        return self.type(np.float64)

    def long(self):
        return self.type(np.int64)

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)`` for CPU tensors. A GPU (or strict) tensor refuses, as torch's CUDA
        tensors do: a silent device-to-host copy would hide a bare ``np.`` call in a kernel."""
        if self.backend != "numpy":
            raise TypeError(f"can't convert a {self.device} tensor to a NumPy array implicitly; "
                            "use .numpy() or .cpu() to copy it to the host")
        array = self.data
        return array if dtype is None else array.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        return bool(self.item())

    __hash__ = object.__hash__  # (the operators, comparisons included, are in tensor_methods.py)


def tensor(data, requires_grad=False, dtype=None) -> Tensor:
    """Create a tensor holding a copy of ``data``, as ``torch.tensor``.

    Python floats become float32; arrays keep their dtype (so float64 stays
    float64); Python ints become int64. The result never shares memory with
    ``data`` (use ``Tensor(array)`` to wrap a NumPy array without copying).
    """
    t = Tensor(data, dtype=dtype)
    t.data = t.data.copy()
    return t.requires_grad_(requires_grad)


# kept until minicnn/optim imports the public name
_to_raw_array = to_raw_array
