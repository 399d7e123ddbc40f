"""Matrix product with NumPy's broadcasting rules (``a @ b``)."""
from ..autograd import Function, unbroadcast


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


def matmul(a, b):
    return MatMul.apply(a, b)
