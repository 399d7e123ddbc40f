# GENERATED from solutions/ch02_autograd.py by `minicnn make-exercises`: do not edit in the course
# repository (edit the solution and regenerate). Students: fill in every place that raises
# NotImplementedError, then run `minicnn grade 2.1 2.2 2.3 2.4 2.5 2.6 2.7 2.8`.
"""Exercises of notebook 2: backward rules, and checking them numerically.

Every differentiable operation is a :class:`minicnn.autograd.Function` with
``forward`` (raw arrays in, raw array out; save what backward needs on
``self``) and ``backward`` (receives G = dL/d(output), returns dL/d(input)
for each positional input). Call one with ``Mul.apply(a, b)`` on Tensors.

The chain rule in one line: if y = f(x) and L depends on y, then
dL/dx = (dy/dx)^T dL/dy, so ``backward`` multiplies the upstream gradient by
the local derivative, never builds a full Jacobian.

The tests compare your rules with central differences
(:func:`minicnn.testing.gradcheck`) and with PyTorch. Exercises 2.2, 2.3 and
2.6 call :func:`unbroadcast`; they are graded with minicnn's own version of
it, so a bug in 2.1 costs the points of 2.1 only.

Grade with ``minicnn grade 2``.
"""
import numpy as np

from minicnn.autograd import Function, no_grad
from minicnn.backend import get_array_module, to_numpy
from minicnn.tensor import Tensor


def unbroadcast(grad, shape):
    """Sum ``grad`` (the gradient at the broadcast shape) down to ``shape``.

    Broadcasting copies an input along new leading axes and along its axes of
    size 1; each copy receives a share of the gradient, so the gradient of
    the original is the *sum* over the copies:

        a: (3, 1)  +  b: (2, 1, 4)  ->  (2, 3, 4)
        dL/da = G.sum(axis=0).sum(axis=2, keepdims=True)      shape (3, 1)

    ``shape`` may be ``()`` (a scalar tensor).
    """
    # Exercise 2.1: your code here.
    raise NotImplementedError("Exercise 2.1: unbroadcast: sum a gradient back to an input's shape. Hint: first sum the extra leading axes, then (keepdims) the axes where shape has size 1")


class Mul(Function):
    """z = a * b (broadcasting).   dL/da = G * b,   dL/db = G * a   (then unbroadcast)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, grad):
        # Exercise 2.2: your code here.
        raise NotImplementedError('Exercise 2.2: the backward rule of multiplication. Hint: dL/da = grad * b and dL/db = grad * a, each passed through unbroadcast')


class Div(Function):
    """z = a / b (broadcasting).   dL/da = G / b,   dL/db = -G a / b^2   (then unbroadcast)."""

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, grad):
        # Exercise 2.3: your code here.
        raise NotImplementedError('Exercise 2.3: the backward rule of division. Hint: dL/da = grad / b and dL/db = -grad * a / b**2, each passed through unbroadcast')


class Exp(Function):
    """y = e^x elementwise.   dy/dx = e^x = y, so backward reuses the saved output."""

    def forward(self, x):
        # Exercise 2.4: your code here.
        raise NotImplementedError('Exercise 2.4: the exponential: forward and backward. Hint: save y = xp.exp(x) in forward; dy/dx = y')

    def backward(self, grad):
        # Exercise 2.4: your code here.
        raise NotImplementedError('Exercise 2.4: the exponential: forward and backward. Hint: save y = xp.exp(x) in forward; dy/dx = y')


class Sum(Function):
    """y = sum of x over ``axes`` (a tuple of non-negative axes), with ``keepdim`` as in torch.

    dy/dx_i = 1 for every summed entry: backward *copies* the upstream gradient
    to every entry that was summed. If ``keepdim`` is false the summed axes
    are gone from G; put them back as size-1 axes before broadcasting.
    """

    def forward(self, x, axes, keepdim=False):
        self.in_shape, self.axes, self.keepdim = x.shape, tuple(axes), keepdim
        return x.sum(axis=self.axes, keepdims=keepdim)

    def backward(self, grad):
        # Exercise 2.5: your code here.
        raise NotImplementedError('Exercise 2.5: the backward rule of sum over axes. Hint: put the summed axes back as size-1 axes, then xp.broadcast_to the input shape')


class MatMul(Function):
    """C = A @ B for A (..., n, k) and B (..., k, m), batch axes broadcast (both at least 2-D).

        dL/dA = G @ B^T        dL/dB = A^T @ G

    where ^T swaps the last two axes; batch axes that were broadcast are
    summed back with :func:`unbroadcast`.
    """

    def forward(self, a, b):
        if a.ndim < 2 or b.ndim < 2:
            raise ValueError(f"MatMul: both operands must be at least 2-D, got {a.shape} and {b.shape}")
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad):
        # Exercise 2.6: your code here.
        raise NotImplementedError('Exercise 2.6: the backward rule of (batched) matrix multiplication. Hint: dL/dA = G @ B^T and dL/dB = A^T @ G (swapaxes(-1, -2)); unbroadcast the batch axes')


def relative_error(a, b):
    """Elementwise relative error of two host arrays (CS231n's measure):

        rel(a, b) = |a - b| / max(|a|, |b|),   defined as 0 where a = b = 0.

    Returns a float64 array of the broadcast shape. Rules of thumb in float64:
    below 1e-7 the gradient is right; above 1e-2 it is almost surely wrong.
    """
    # Exercise 2.7: your code here.
    raise NotImplementedError('Exercise 2.7: the relative error of two gradients. Hint: |a - b| / max(|a|, |b|), and 0 where both are 0')


def numerical_gradient(f, x, upstream, eps=1e-6):
    """Central-difference estimate of d<upstream, f(x)>/dx for a Tensor ``x`` (float64).

        dL/dx_k ~ (L(x + eps e_k) - L(x - eps e_k)) / (2 eps),   L(x) = sum(upstream * f(x))

    ``f()`` takes no argument, reads ``x`` and returns a Tensor: change
    ``x.data`` entry by entry (put each entry back afterwards) and evaluate
    ``f()`` under ``no_grad()``.
    ``upstream`` is a host NumPy array of f's output shape; weighting by a
    random upstream gradient (rather than summing the output) catches
    gradients that land in the wrong positions. The error of the central
    formula is O(eps^2); the one-sided one is only O(eps).

    Returns a host float64 array of ``x``'s shape.
    """
    # Exercise 2.8: your code here.
    raise NotImplementedError('Exercise 2.8: the numerical gradient by central differences. Hint: for each entry: (f(x + eps) - f(x - eps)) / (2 eps), weighted by the upstream gradient')
