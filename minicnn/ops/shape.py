"""Shape operations: reshape/view, transpose/permute, flatten, squeeze/unsqueeze,
expand, cat, stack and indexing.

None of them computes anything: they move entries around. So each backward
moves the gradient back the same way (reshape back, permute back, slice back).
"""
from ..autograd import Function, unbroadcast
from ..backend import backend_of_array, get_array_module, scatter_add, to_backend
from ..tensor import Tensor
from ..utils import shape_args


class Reshape(Function):
    """y = x with a new shape.   dL/dx = dL/dy reshaped back."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.in_shape)


class Permute(Function):
    """y = x with its axes reordered.   dL/dx = dL/dy with the inverse order."""

    def forward(self, x, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, grad):
        inverse = [0] * len(self.dims)
        for i, d in enumerate(self.dims):
            inverse[d] = i
        return grad.transpose(inverse)


class Expand(Function):
    """y = x broadcast to a larger shape.   dL/dx = dL/dy summed over the broadcast axes."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, grad):
        return unbroadcast(grad, self.in_shape)


class Cat(Function):
    """y = [x_1, x_2, ...] joined along ``dim``.   dL/dx_k = the slice of dL/dy that x_k filled."""

    def forward(self, *xs, dim):
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        return get_array_module(*xs).concatenate(xs, axis=dim)

    def backward(self, grad):
        grads, start = [], 0
        for size in self.sizes:
            index = [slice(None)] * grad.ndim
            index[self.dim] = slice(start, start + size)
            grads.append(grad[tuple(index)])
            start += size
        return tuple(grads)


class GetItem(Function):
    """y = x[index] (ints, slices, None, Ellipsis, integer or boolean arrays).

    dL/dx is zero except where y was read from; entries read twice (an integer
    array with repeats) *accumulate*, hence ``scatter_add`` rather than ``=``.
    """

    def forward(self, x, index):
        self.in_shape, self.dtype, self.index = x.shape, x.dtype, index
        return x[index]

    def backward(self, grad):
        xp = get_array_module(grad)
        out = xp.zeros(self.in_shape, dtype=grad.dtype)
        if _is_basic(self.index):
            out[self.index] = grad  # slices and ints never repeat an entry
        else:
            scatter_add(out, self.index, grad)
        return out


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice)) for p in parts)


def _raw_index(index, xp, backend_name):
    """An index as raw pieces on the indexed tensor's backend.

    Tensors become raw arrays; lists and arrays of another backend (a NumPy
    index for a GPU tensor) become arrays of ``xp``, so that the backward's
    ``scatter_add`` sees only arrays of one backend, as CuPy requires.
    """
    if isinstance(index, tuple):
        return tuple(_raw_index(i, xp, backend_name) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    if isinstance(index, list):
        return xp.asarray(index)
    if hasattr(index, "shape") and hasattr(index, "dtype"):  # an array (0-d ones too)
        return to_backend(index, backend_name) if backend_of_array(index) != backend_name else index
    return index


def reshape(x, *shape):
    return Reshape.apply(x, shape=shape_args(shape))


view = reshape


def permute(x, *dims):
    dims = tuple(d % x.ndim for d in shape_args(dims))
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dimensions")
    return Permute.apply(x, dims=dims)


def transpose(x, dim0, dim1):
    for d in (dim0, dim1):
        if not -x.ndim <= d < x.ndim:
            raise IndexError(f"transpose: dimension {d} is out of range for a tensor with "
                             f"{x.ndim} dimensions")
    dims = list(range(x.ndim))
    dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return Permute.apply(x, dims=tuple(dims))


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = start_dim % x.ndim, end_dim % x.ndim
    shape = x.shape[:start] + (-1,) + x.shape[end + 1:]
    return reshape(x, shape)


def squeeze(x, dim=None):
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dims = {d % x.ndim for d in ((dim,) if isinstance(dim, int) else dim)}
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x, dim):
    dim = dim % (x.ndim + 1)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def expand(x, *sizes):
    sizes = shape_args(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if (n == -1 and i >= lead) else n for i, n in enumerate(sizes))
    return Expand.apply(x, shape=shape)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    if tensors[0].ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    dim = dim % tensors[0].ndim
    for t in tensors[1:]:
        if t.ndim != tensors[0].ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, tensors[0].shape))
                                            if i != dim):
            raise ValueError(f"cat: sizes must match except in dimension {dim}; got "
                             f"{[tuple(u.shape) for u in tensors]}")
    return Cat.apply(*tensors, dim=dim)


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: expects each tensor to be equal size, got {[t.shape for t in tensors]}")
    dim = dim % (tensors[0].ndim + 1)
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)


def getitem(x, index):
    """``x[index]`` with torch/NumPy indexing; repeated integer indices accumulate their gradients."""
    return GetItem.apply(x, index=_raw_index(index, x.xp, x.backend))
