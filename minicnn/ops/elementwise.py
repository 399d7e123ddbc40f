"""Elementwise functions: exp log sqrt abs clamp maximum minimum where.

Each is y = f(x) applied entry by entry, so its backward multiplies the
upstream gradient by the derivative f'(x) entry by entry (chain rule).
"""
from ..autograd import Function, unbroadcast
from ..backend import get_array_module
from ..utils import broadcast_shape, promote_to_float
from .arithmetic import as_operand


class Exp(Function):
    """y = e^x.   dy/dx = e^x = y."""

    def forward(self, x):
        self.y = get_array_module(x).exp(x)
        return self.y

    def backward(self, grad):
        return grad * self.y


class Log(Function):
    """y = ln x.   dy/dx = 1 / x."""

    def forward(self, x):
        self.x = x
        return get_array_module(x).log(x)

    def backward(self, grad):
        return grad / self.x


class Sqrt(Function):
    """y = sqrt(x).   dy/dx = 1 / (2 sqrt(x))."""

    def forward(self, x):
        self.y = get_array_module(x).sqrt(x)
        return self.y

    def backward(self, grad):
        return grad / (2 * self.y)


class Abs(Function):
    """y = |x|.   dy/dx = sign(x)  (0 at x = 0, as torch)."""

    def forward(self, x):
        self.x = x
        return get_array_module(x).abs(x)

    def backward(self, grad):
        return grad * get_array_module(grad).sign(self.x)


class Clamp(Function):
    """y = min(max(x, lo), hi).   dy/dx = 1 where lo <= x <= hi, else 0 (torch's convention)."""

    def forward(self, x, lo=None, hi=None):
        xp = get_array_module(x)
        self.inside = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            self.inside &= x >= lo
        if hi is not None:
            self.inside &= x <= hi
        return xp.clip(x, lo, hi)

    def backward(self, grad):
        return grad * self.inside


class Maximum(Function):
    """z = max(a, b) elementwise.   The gradient goes to the larger input; ties split it in half (torch)."""

    def forward(self, a, b):
        xp = get_array_module(a, b)
        self.a_shape, self.b_shape = a.shape, b.shape
        self.a_wins = (a > b).astype(a.dtype) + 0.5 * (a == b).astype(a.dtype)
        return xp.maximum(a, b)

    def backward(self, grad):
        return (unbroadcast(grad * self.a_wins, self.a_shape),
                unbroadcast(grad * (1 - self.a_wins), self.b_shape))


class Minimum(Function):
    """z = min(a, b) elementwise.   The gradient goes to the smaller input; ties split it in half."""

    def forward(self, a, b):
        xp = get_array_module(a, b)
        self.a_shape, self.b_shape = a.shape, b.shape
        self.a_wins = (a < b).astype(a.dtype) + 0.5 * (a == b).astype(a.dtype)
        return xp.minimum(a, b)

    def backward(self, grad):
        return (unbroadcast(grad * self.a_wins, self.a_shape),
                unbroadcast(grad * (1 - self.a_wins), self.b_shape))


class Where(Function):
    """z = a where condition else b.   dL/da = dL/dz on the condition, dL/db = dL/dz elsewhere."""

    def forward(self, condition, a, b):
        xp = get_array_module(condition, a, b)
        self.condition = condition
        self.a_shape, self.b_shape = getattr(a, "shape", None), getattr(b, "shape", None)
        return xp.where(condition, a, b)

    def backward(self, grad):
        zero = grad.dtype.type(0)
        xp = get_array_module(grad)
        grad_a = None if self.a_shape is None else unbroadcast(xp.where(self.condition, grad, zero),
                                                               self.a_shape)
        grad_b = None if self.b_shape is None else unbroadcast(xp.where(self.condition, zero, grad),
                                                               self.b_shape)
        return None, grad_a, grad_b


def exp(x):
    return Exp.apply(promote_to_float(x))   # integers and bools: float32, as torch


def log(x):
    return Log.apply(promote_to_float(x))


def sqrt(x):
    return Sqrt.apply(promote_to_float(x))


def abs(x):
    return Abs.apply(x)


def clamp(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    return Clamp.apply(x, lo=min, hi=max)


def _tensors(a, b):
    """maximum/minimum need two tensors: a number becomes a tensor on the other's backend."""
    from ..tensor import Tensor
    a, b = as_operand(a), as_operand(b)
    if not isinstance(a, Tensor):
        a = Tensor(b.xp.asarray(a, dtype=b.dtype))
    if not isinstance(b, Tensor):
        b = Tensor(a.xp.asarray(b, dtype=a.dtype))
    return a, b


def maximum(a, b):
    return Maximum.apply(*_tensors(a, b))


def minimum(a, b):
    return Minimum.apply(*_tensors(a, b))


def where(condition, a, b):
    """``torch.where(condition, a, b)``: a or b may be Python numbers."""
    condition, a, b = as_operand(condition), as_operand(a), as_operand(b)
    if getattr(condition, "dtype", None) is None or condition.dtype.kind != "b":
        raise TypeError(f"where: expected condition to be a bool tensor, but got a "
                        f"{getattr(condition, 'dtype', type(condition).__name__)} one; compare first "
                        "(x > 0) or convert with .bool()")
    broadcast_shape("where", *[x.shape for x in (condition, a, b) if hasattr(x, "shape")])
    return Where.apply(condition, a, b)
