"""Dropout (Srivastava et al. 2014), "inverted": kept units are scaled by 1/(1-p) during training."""
from ..autograd import Function
from ..backend import get_array_module
from ..random import generator
from ..utils import check_floating

__all__ = ["dropout", "dropout2d"]


class Dropout(Function):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p).   dL/dx = dL/dy * m / (1 - p)."""

    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, grad):
        return grad * self.mask


def _mask(x, p, shape):
    xp = get_array_module(x.data)
    keep = generator(xp).random(shape) >= p
    return (keep / (1.0 - p)).astype(x.dtype)


def _check_p(op, input, p):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability has to be between 0 and 1, but got {p!r}")
    check_floating(op, input)      # torch: "result type Float can't be cast to ... Long"


def dropout(input, p=0.5, training=True, inplace=False):
    _check_p("dropout", input, p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, mask=_mask(input, p, input.shape))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Drop whole channels of an (N, C, H, W) input (Tompson et al. 2015)."""
    _check_p("dropout2d", input, p)
    if not training or p == 0.0:
        return input
    n, c = input.shape[:2]
    return Dropout.apply(input, mask=_mask(input, p, (n, c) + (1,) * (input.ndim - 2)))
