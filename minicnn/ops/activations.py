"""Activation functions: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax."""
from ..autograd import Function
from ..backend import get_array_module
from ..utils import check_floating, check_not_bool, normalize_dim, promote_to_float


class ReLU(Function):
    """y = max(x, 0).   dy/dx = 1 for x > 0, else 0 (the subgradient 0 at x = 0, as torch).

    (``x * (x > 0)`` would give nan at x = -inf, since -inf * 0 = nan.)
    """

    def forward(self, x):
        self.positive = x > 0
        return get_array_module(x).maximum(x, 0)

    def backward(self, grad):
        return grad * self.positive


class LeakyReLU(Function):
    """y = x for x > 0, slope * x otherwise.   dy/dx = 1 or slope."""

    def forward(self, x, negative_slope=0.01):
        xp = get_array_module(x)
        self.scale = xp.where(x > 0, x.dtype.type(1), x.dtype.type(negative_slope))
        return x * self.scale

    def backward(self, grad):
        return grad * self.scale


class Sigmoid(Function):
    """y = 1 / (1 + e^-x).   dy/dx = y (1 - y).

    Computed as e^x / (1 + e^x) for negative x so that e^-x never overflows.
    """

    def forward(self, x):
        xp = get_array_module(x)
        e = xp.exp(-xp.abs(x))  # in (0, 1]: no overflow
        self.y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.y

    def backward(self, grad):
        return grad * self.y * (1 - self.y)


class Tanh(Function):
    """y = tanh(x).   dy/dx = 1 - y^2."""

    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, grad):
        return grad * (1 - self.y * self.y)


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m), m = max_j x_j (subtracting m avoids overflow).

    dL/dx_i = y_i (g_i - sum_j g_j y_j)   (the Jacobian diag(y) - y y^T applied to g).
    """

    def forward(self, x, dim):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=dim, keepdims=True))
        self.y = e / e.sum(axis=dim, keepdims=True)
        self.dim = dim
        return self.y

    def backward(self, grad):
        return self.y * (grad - (grad * self.y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i - m - log sum_j e^(x_j - m)   (log-sum-exp trick: stable at |x| = 1e4).

    dL/dx_i = g_i - softmax(x)_i sum_j g_j.
    """

    def forward(self, x, dim):
        xp = get_array_module(x)
        shifted = x - x.max(axis=dim, keepdims=True)
        self.y = shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))
        self.dim = dim
        return self.y

    def backward(self, grad):
        xp = get_array_module(grad)
        return grad - xp.exp(self.y) * grad.sum(axis=self.dim, keepdims=True)


def relu(x, inplace=False):
    check_not_bool("relu", x)               # torch: "Boolean inputs not supported for relu"
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01, inplace=False):
    check_floating("leaky_relu", x)         # torch: not implemented for integers
    return LeakyReLU.apply(x, negative_slope=negative_slope)


def sigmoid(x):
    return Sigmoid.apply(promote_to_float(x))   # integers and bools: float32, as torch


def tanh(x):
    return Tanh.apply(promote_to_float(x))


def softmax(x, dim):
    check_floating("softmax", x)
    return Softmax.apply(x, dim=normalize_dim(dim, x.ndim, "softmax"))


def log_softmax(x, dim):
    check_floating("log_softmax", x)
    return LogSoftmax.apply(x, dim=normalize_dim(dim, x.ndim, "log_softmax"))
