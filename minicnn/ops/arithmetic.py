"""Elementwise arithmetic: + - * / neg pow, with broadcasting.

Each backward first computes the gradient at the broadcast (output) shape and
then sums it back to each input's shape with
:func:`~minicnn.autograd.unbroadcast`. A Python number may stand on either
side of an operator; it gets no gradient.
"""
import numpy as np

from ..autograd import Function, unbroadcast
from ..backend import get_array_module
from ..tensor import Tensor
from ..utils import broadcast_shape, check_not_bool


def _shape(x):
    """The shape of an array input, or None for a Python number."""
    return getattr(x, "shape", None)


def _reduce(grad, shape):
    """Sum a broadcast gradient back to an input's shape (None for a number)."""
    return None if shape is None else unbroadcast(grad, shape)


class Add(Function):
    """z = a + b.   dL/da = dL/dz,  dL/db = dL/dz  (each summed over its broadcast axes)."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = _shape(a), _shape(b)
        return a + b

    def backward(self, grad):
        return _reduce(grad, self.a_shape), _reduce(grad, self.b_shape)


class Sub(Function):
    """z = a - b.   dL/da = dL/dz,  dL/db = -dL/dz."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = _shape(a), _shape(b)
        return a - b

    def backward(self, grad):
        return _reduce(grad, self.a_shape), _reduce(-grad, self.b_shape)


class Mul(Function):
    """z = a * b.   dL/da = dL/dz * b,  dL/db = dL/dz * a."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        grad_a = _reduce(grad * self.b, _shape(self.a)) if need_a else None
        grad_b = _reduce(grad * self.a, _shape(self.b)) if need_b else None
        return grad_a, grad_b


class Div(Function):
    """z = a / b.   dL/da = dL/dz / b,  dL/db = -dL/dz * a / b^2."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        grad_a = _reduce(grad / self.b, _shape(self.a)) if need_a else None
        grad_b = _reduce(-grad * self.a / (self.b * self.b), _shape(self.b)) if need_b else None
        return grad_a, grad_b


class Neg(Function):
    """z = -a.   dL/da = -dL/dz."""

    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Pow(Function):
    """z = a ** b.   dL/da = dL/dz * b * a^(b-1),  dL/db = dL/dz * z * log(a).

    At a = 0 the term z log(a) is 0 * (-inf); its limit (b > 0) is 0, which torch returns too.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        self.z = a ** b
        return self.z

    def backward(self, grad):
        need_a, need_b = self.needs_input_grad
        grad_a = _reduce(grad * self.b * self.a ** (self.b - 1), _shape(self.a)) if need_a else None
        grad_b = None
        if need_b:
            xp = get_array_module(self.z)
            log_a = xp.log(xp.where(self.a == 0, 1, self.a))  # log(a), with 0 where a = 0
            grad_b = _reduce(grad * self.z * log_a, _shape(self.b))
        return grad_a, grad_b


def as_operand(x):
    """A raw array beside a Tensor becomes a constant Tensor on *its own* backend (so that mixing
    a NumPy array with a GPU tensor is caught); numbers stay numbers.

    A NumPy scalar (``np.float64(2.0)``) counts as a number, as in torch: ``float32_tensor *
    np.float64(2.0)`` stays float32.
    """
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Tensor) or not hasattr(x, "shape"):
        return x
    return Tensor._from_op(x)


def operands(op, a, b):
    """Both operands of a binary op, checked: numbers or arrays, shapes that broadcast (else an error
    naming the op and both shapes, instead of NumPy's "operands could not be broadcast")."""
    a, b = as_operand(a), as_operand(b)
    for x in (a, b):
        if not hasattr(x, "shape") and (x is None or not isinstance(x, (bool, int, float, complex))):
            raise TypeError(f"{op}: unsupported operand of type {type(x).__name__} ({x!r}); expected a "
                            "Tensor or a number")
    shapes = [x.shape for x in (a, b) if hasattr(x, "shape")]
    if len(shapes) == 2:
        broadcast_shape(op, *shapes)
    return a, b


def add(a, b):
    return Add.apply(*operands("add", a, b))


def sub(a, b):
    a, b = operands("sub", a, b)
    if all(getattr(x, "dtype", None) == np.bool_ or isinstance(x, bool) for x in (a, b)):
        raise TypeError("sub: subtraction, the `-` operator, with two bool tensors is not supported; use the "
                        "`^` or logical_xor operator instead")
    return Sub.apply(a, b)


def mul(a, b):
    return Mul.apply(*operands("mul", a, b))


def div(a, b):
    return Div.apply(*operands("div", a, b))


def neg(a):
    check_not_bool("neg", a)
    return Neg.apply(a)


def pow(a, b):
    return Pow.apply(*operands("pow", a, b))
