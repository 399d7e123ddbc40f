"""The Tensor's operators and torch-named methods: ``x + y``, ``x @ w``, ``x[i]``, ``x.exp()``, ``x.sum(1)``...

Each one is a single line that calls the op of the same name in
:mod:`minicnn.ops`, where the forward and backward are. They are not written
in ``tensor.py`` because the ops are built on the Tensor (they import it):
``tensor.py`` would have to import ``ops`` and ``ops`` would import
``tensor``, a cycle. Instead this module, imported once by
``minicnn/__init__.py`` right after the ops, attaches the methods to the
class (DeZero does the same in its ``setup_variable``). So the layers import
downwards only: backend < autograd, tensor < ops < tensor_methods < nn.

``Tensor.__add__`` etc. behave exactly as if they had been written in the
class body: ``help(minicnn.Tensor)`` lists them.
"""
import numpy as np

from . import backend, ops
from .tensor import Tensor

__all__ = []


class TensorMethods:
    """The methods attached to :class:`~minicnn.tensor.Tensor` (read them as part of its class body)."""

    def to(self, target):
        """Move to a device (``"cpu"``, ``"gpu"``/``"cuda"``, ``"strict"``) or cast to a dtype.

        Moving is differentiable: the gradient flows back to the source device.
        """
        if isinstance(target, str) and not target.startswith(("float", "int", "bool")):
            name = backend.backend_of_device(target)
            return self if name == self.backend else ops.ToBackend.apply(self, name=name)
        return self.type(target)

    def type(self, dtype):
        """Cast to ``dtype``: differentiable between float types; a cast to int or bool has no grad."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind not in "fc":
            return Tensor._from_op(self.data.astype(dtype))
        return ops.Cast.apply(self, dtype=dtype)

    def clone(self):
        return ops.Clone.apply(self)

    # ------------------------------------------------------------------ operators (see minicnn.ops)
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pow__(self, exponent):
        return ops.pow(self, exponent)

    def __rpow__(self, base):
        return ops.pow(base, self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # Comparisons give boolean tensors without gradient.
    def __lt__(self, other):
        return ops.compare(self, other, "less")

    def __le__(self, other):
        return ops.compare(self, other, "less_equal")

    def __gt__(self, other):
        return ops.compare(self, other, "greater")

    def __ge__(self, other):
        return ops.compare(self, other, "greater_equal")

    def eq(self, other):
        return ops.compare(self, other, "equal")

    def ne(self, other):
        return ops.compare(self, other, "not_equal")

    # ------------------------------------------------------------------ methods (torch.Tensor names)
    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def clamp(self, min=None, max=None):
        return ops.clamp(self, min, max)

    def relu(self):
        return ops.relu(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def tanh(self):
        return ops.tanh(self)

    def softmax(self, dim):
        return ops.softmax(self, dim)

    def log_softmax(self, dim):
        return ops.log_softmax(self, dim)

    def matmul(self, other):
        return ops.matmul(self, other)

    def pow(self, exponent):
        return ops.pow(self, exponent)

    def sum(self, dim=None, keepdim=False):
        return ops.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return ops.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, correction=None):
        return ops.var(self, dim, unbiased=unbiased, keepdim=keepdim, correction=correction)

    def max(self, dim=None, keepdim=False):
        return ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return ops.min(self, dim, keepdim)

    def amax(self, dim=None, keepdim=False):
        return ops.amax(self, dim, keepdim)

    def amin(self, dim=None, keepdim=False):
        return ops.amin(self, dim, keepdim)

    def argmax(self, dim=None, keepdim=False):
        return ops.argmax(self, dim, keepdim)

    def reshape(self, *shape):
        return ops.reshape(self, *shape)

    def view(self, *shape):
        return ops.reshape(self, *shape)

    def transpose(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return ops.permute(self, *dims)

    @property
    def T(self):
        return ops.permute(self, *reversed(range(self.ndim)))

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ops.unsqueeze(self, dim)

    def expand(self, *sizes):
        return ops.expand(self, *sizes)


def attach(cls=Tensor):
    """Copy every method and property of :class:`TensorMethods` onto ``cls`` (done once, at import)."""
    for name, member in vars(TensorMethods).items():
        if name not in ("__module__", "__qualname__", "__doc__", "__dict__", "__weakref__"):
            setattr(cls, name, member)


attach()
