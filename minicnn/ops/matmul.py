"""Matrix product with NumPy's broadcasting rules (``a @ b``)."""
from ..autograd import Function, unbroadcast
from ..utils import broadcast_shape, check_not_bool, check_same_dtype


class MatMul(Function):
    """C = A B.   dL/dA = dL/dC B^T,  dL/dB = A^T dL/dC  (batch axes broadcast and are summed back).

    1-D operands are treated as NumPy does: a vector on the left is a row, on
    the right a column, and the added axis is removed from the result.
    """

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        a, b = self.a, self.b
        # Give 1-D operands (and the gradient) their implicit axes back.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad[..., None] if b.ndim == 1 else grad
        g = g[..., None, :] if a.ndim == 1 else g
        need_a, need_b = self.needs_input_grad
        grad_a = unbroadcast(g @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape) if need_a else None
        grad_b = unbroadcast(a2.swapaxes(-1, -2) @ g, b2.shape).reshape(b.shape) if need_b else None
        return grad_a, grad_b


def check_matmul(op, a, b):
    """torch's checks: both at least 1-D, inner sizes equal, batch shapes broadcastable, one dtype."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"{op}: both arguments need at least 1 dimension, got shapes {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ValueError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied: the "
                         f"first has {a.shape[-1]} columns, the second {inner_b} rows")
    broadcast_shape(f"{op} (batch dimensions of {tuple(a.shape)} and {tuple(b.shape)})",
                    a.shape[:-2], b.shape[:-2])
    for x, name in ((a, "first operand"), (b, "second operand")):
        check_not_bool(op, x, name)
    check_same_dtype(op, a, b, names=("the first operand", "the second"))


def matmul(a, b):
    check_matmul("matmul", a, b)
    return MatMul.apply(a, b)
