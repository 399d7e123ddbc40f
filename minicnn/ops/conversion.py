"""Operations that change where or how data is stored: device moves, casts, copies, comparisons."""
from ..autograd import Function
from ..backend import get_array_module, to_backend
from ..tensor import Tensor
from ..utils import unwrap
from .arithmetic import as_operand


class ToBackend(Function):
    """y = x on another backend (CPU <-> GPU).   dL/dx = dL/dy moved back."""

    def forward(self, x, name):
        from ..backend import backend_of_array
        self.source = backend_of_array(x)
        return to_backend(x, name)

    def backward(self, grad):
        return to_backend(grad, self.source)


class Cast(Function):
    """y = x as another dtype.   dL/dx = dL/dy cast back."""

    def forward(self, x, dtype):
        self.source = x.dtype
        return x.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.source)


class Clone(Function):
    """y = a copy of x.   dL/dx = dL/dy."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


def compare(a, b, name):
    """Elementwise comparison (``less``, ``equal``...): a boolean tensor, no gradient."""
    a, b = as_operand(a), as_operand(b)
    raw_a, raw_b = unwrap(a), unwrap(b)
    xp = get_array_module(raw_a, raw_b)
    return Tensor._from_op(getattr(xp, name)(raw_a, raw_b))
