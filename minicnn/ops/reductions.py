"""Reductions along ``dim`` (with ``keepdim``): sum mean var max min amax amin argmax.

The backward of a reduction *broadcasts* the upstream gradient back over the
reduced axes: first restore them as size-1 axes (``keepdim``), then let
broadcasting spread the gradient.
"""
import builtins
import math
from collections import namedtuple

from ..autograd import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ..utils import unwrap


def normalize_dims(dim, ndim):
    """``dim`` (None, an int or a tuple, negatives allowed) as a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    size = builtins.max(ndim, 1)  # torch accepts dim 0 / -1 on a 0-d tensor
    for d in dims:
        if not -size <= d < size:
            raise IndexError(f"dimension {d} is out of range for a tensor with {ndim} dimensions")
    if ndim == 0:
        return ()  # a 0-d tensor has no axis to reduce
    axes = tuple(sorted(d % size for d in dims))
    if len(set(axes)) != len(axes):
        raise ValueError(f"dim {dim} names the same dimension more than once")
    return axes


def _restore(grad, in_shape, axes, keepdim):
    """Put the reduced axes back (size 1) so that ``grad`` broadcasts against the input."""
    if not keepdim:
        shape = list(in_shape)
        for a in axes:
            shape[a] = 1
        grad = grad.reshape(shape)
    return grad


class Sum(Function):
    """y = sum_i x_i over the axes.   dy/dx_i = 1: the gradient is copied to every summed entry.

    The "copy" is a broadcast *view* (no memory): ``loss.sum()`` over a big
    tensor costs nothing in backward. It is read-only, as every ``grad_output``
    should be treated.
    """

    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        return x.sum(axis=axes, keepdims=keepdim)

    def backward(self, grad):
        xp = get_array_module(grad)
        return xp.broadcast_to(_restore(grad, self.in_shape, self.axes, self.keepdim), self.in_shape)


class Mean(Function):
    """y = (1/n) sum_i x_i.   dy/dx_i = 1/n  (a broadcast view, as for ``Sum``)."""

    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.n = math.prod(x.shape[a] for a in axes)
        return x.mean(axis=axes, keepdims=keepdim)

    def backward(self, grad):
        xp = get_array_module(grad)
        g = _restore(grad, self.in_shape, self.axes, self.keepdim) / self.n
        return xp.broadcast_to(g, self.in_shape)


class Var(Function):
    """y = sum_i (x_i - mean)^2 / (n - correction).   dy/dx_i = 2 (x_i - mean) / (n - correction).

    (The mean's own dependence on x_i cancels, since the deviations sum to 0.)
    """

    def forward(self, x, axes, keepdim, correction):
        self.axes, self.keepdim, self.in_shape = axes, keepdim, x.shape
        n = math.prod(x.shape[a] for a in axes)
        self.centered = x - x.mean(axis=axes, keepdims=True)
        self.denominator = builtins.max(n - correction, 0)
        return (self.centered ** 2).sum(axis=axes, keepdims=keepdim) / self.denominator

    def backward(self, grad):
        g = _restore(grad, self.in_shape, self.axes, self.keepdim)
        # n - correction <= 0: the variance is undefined (nan), and so is its gradient (as torch).
        scale = 2 / self.denominator if self.denominator > 0 else math.nan
        return (scale * g) * self.centered


class Extreme(Function):
    """y = max (or min) over the axes (``amax``/``amin``).

    The gradient goes to the entries equal to the extreme; ties share it evenly, as torch's
    ``amax`` does.
    """

    def forward(self, x, axes, keepdim, largest):
        xp = get_array_module(x)
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        y = x.max(axis=axes, keepdims=True) if largest else x.min(axis=axes, keepdims=True)
        hits = (x == y).astype(x.dtype)
        self.share = hits / hits.sum(axis=axes, keepdims=True)
        return y if keepdim else xp.squeeze(y, axis=axes)

    def backward(self, grad):
        return _restore(grad, self.in_shape, self.axes, self.keepdim) * self.share


class SelectAlongDim(Function):
    """y = x at ``indices`` along one axis (``max(dim)``'s values); the gradient is scattered back."""

    def forward(self, x, indices, dim, keepdim):
        xp = get_array_module(x)
        self.in_shape, self.dim, self.keepdim = x.shape, dim, keepdim
        self.indices = xp.expand_dims(indices, dim)
        y = xp.take_along_axis(x, self.indices, axis=dim)
        return y if keepdim else xp.squeeze(y, axis=dim)

    def backward(self, grad):
        xp = get_array_module(grad)
        g = grad if self.keepdim else xp.expand_dims(grad, self.dim)
        out = xp.zeros(self.in_shape, dtype=grad.dtype)
        xp.put_along_axis(out, self.indices, g, axis=self.dim)
        return out


def _dims(x, dim):
    return normalize_dims(dim, x.ndim)


def sum(x, dim=None, keepdim=False):
    return Sum.apply(x, axes=_dims(x, dim), keepdim=keepdim)


def mean(x, dim=None, keepdim=False):
    return Mean.apply(x, axes=_dims(x, dim), keepdim=keepdim)


def var(x, dim=None, unbiased=True, keepdim=False, correction=None):
    """Variance; ``unbiased=True`` (torch's default) divides by n - 1."""
    if correction is None:
        correction = 1 if unbiased else 0
    return Var.apply(x, axes=_dims(x, dim), keepdim=keepdim, correction=correction)


def amax(x, dim=None, keepdim=False):
    return Extreme.apply(x, axes=_dims(x, dim), keepdim=keepdim, largest=True)


def amin(x, dim=None, keepdim=False):
    return Extreme.apply(x, axes=_dims(x, dim), keepdim=keepdim, largest=False)


def argmax(x, dim=None, keepdim=False):
    """Index of the largest entry (of the flattened tensor when ``dim`` is None); no gradient."""
    return _arg_extreme(x, dim, keepdim, "argmax")


def argmin(x, dim=None, keepdim=False):
    """Index of the smallest entry (of the flattened tensor when ``dim`` is None); no gradient."""
    return _arg_extreme(x, dim, keepdim, "argmin")


def _arg_extreme(x, dim, keepdim, name):
    """``data.argmax``/``argmin`` with torch's ``dim=None`` (flattened) and ``keepdim`` rules."""
    data = unwrap(x)
    if dim is None:
        out = getattr(data.reshape(-1), name)()
        return Tensor._from_op(out.reshape((1,) * data.ndim) if keepdim else out)
    return Tensor._from_op(getattr(data, name)(axis=dim, keepdims=keepdim))


#: What ``max(x, dim)`` / ``min(x, dim)`` return, as torch's ``torch.return_types.max``:
#: a tuple ``(values, indices)`` whose fields also have names.
MaxMin = namedtuple("MaxMin", ["values", "indices"])


def _max_or_min(x, dim, keepdim, largest):
    """torch.max / torch.min: without ``dim`` the value; with ``dim`` the pair (values, indices)."""
    if dim is None:
        return amax(x) if largest else amin(x)
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        from .elementwise import maximum, minimum
        return maximum(x, dim) if largest else minimum(x, dim)
    if not isinstance(dim, int):
        raise TypeError(f"{'max' if largest else 'min'}: dim must be an int (got {dim!r}); "
                        "use amax/amin to reduce several dimensions")
    if x.ndim == 0:
        return MaxMin(x * 1, Tensor._from_op(x.xp.zeros((), dtype=x.xp.int64)))
    dim = _dims(x, dim)[0]
    indices = (argmax if largest else argmin)(x, dim).data
    values = SelectAlongDim.apply(x, indices=indices, dim=dim, keepdim=keepdim)
    return MaxMin(values, Tensor._from_op(get_array_module(indices).expand_dims(indices, dim)
                                          if keepdim else indices))


def max(x, dim=None, keepdim=False):
    """Largest entry (ties share the gradient); with ``dim``: ``(values, indices)`` along it."""
    return _max_or_min(x, dim, keepdim, largest=True)


def min(x, dim=None, keepdim=False):
    """Smallest entry (ties share the gradient); with ``dim``: ``(values, indices)`` along it."""
    return _max_or_min(x, dim, keepdim, largest=False)
