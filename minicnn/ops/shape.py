"""Shape operations: reshape/view, transpose/permute, flatten, squeeze/unsqueeze,
expand, cat, stack and indexing.

None of them computes anything: they move entries around. So each backward
moves the gradient back the same way (reshape back, permute back, slice back).
"""
from ..autograd import Function, unbroadcast
from ..backend import backend_of_array, get_array_module, scatter_add, to_backend
from ..tensor import Tensor
from ..utils import normalize_dim, shape_args


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


def raw_index(index, xp, backend_name):
    """An index as raw pieces on the indexed tensor's backend.

    Tensors become raw arrays; lists and arrays of another backend (a NumPy
    index for a GPU tensor) become arrays of ``xp``, so that the backward's
    ``scatter_add`` sees only arrays of one backend, as CuPy requires.
    """
    if isinstance(index, tuple):
        return tuple(raw_index(i, xp, backend_name) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    if hasattr(index, "dtype") and index.dtype.kind not in "iub":
        raise IndexError(f"index: tensors used as indices must be integer (int64...) or bool tensors, got "
                         f"dtype {index.dtype} (shape {tuple(index.shape)}); convert with .long()")
    if isinstance(index, list):
        return xp.asarray(index)
    if hasattr(index, "shape") and hasattr(index, "dtype"):  # an array (0-d ones too)
        return to_backend(index, backend_name) if backend_of_array(index) != backend_name else index
    return index


def _target_shape(op, x, shape):
    """``shape`` with its one -1 inferred, checked against the number of elements (torch's words)."""
    for i, n in enumerate(shape):
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError(f"{op}: shape must contain ints, got {shape!r}")
        if n < -1:
            raise ValueError(f"{op}: invalid shape dimension {n} at index {i} of shape {list(shape)}")
    if list(shape).count(-1) > 1:
        raise ValueError(f"{op}: only one dimension can be inferred (-1), got shape {list(shape)}")
    known = 1
    for n in shape:
        known *= n if n != -1 else 1
    size = x.data.size
    if (-1 in shape and (known == 0 or size % known)) or (-1 not in shape and known != size):
        raise ValueError(f"{op}: shape {list(shape)} is invalid for input of size {size} "
                         f"(input shape {tuple(x.shape)})")
    return tuple(int(n) if n != -1 else size // known for n in shape)


def reshape(x, *shape):
    return Reshape.apply(x, shape=_target_shape("reshape", x, shape_args(shape)))


def view(x, *shape):
    """``reshape`` without a copy, as torch's ``view``: refused when the memory layout (a transposed
    tensor, say) would need one; ``reshape`` copies in that case."""
    shape = _target_shape("view", x, shape_args(shape))
    data = x.data
    if data.size > 1 and not _reshapes_in_place(data, shape):
        raise RuntimeError(f"view: view size is not compatible with input tensor's size and stride (input "
                           f"shape {tuple(x.shape)}, strides {data.strides}, requested {shape}): at least one "
                           "dimension spans across two contiguous subspaces. Use .reshape(...) instead.")
    return Reshape.apply(x, shape=shape)


def _reshapes_in_place(data, shape):
    """Whether ``shape`` can view ``data`` without a copy: torch's ``computeStride``.

    Walk the old axes from the last; axes whose strides chain (stride[d-1] =
    size[d] * stride[d]) form one contiguous chunk. The new shape must split
    into the same chunks, none spanning two of them.
    """
    old_shape, strides = tuple(data.shape), tuple(data.strides)
    view_d = len(shape) - 1
    chunk_stride, tensor_numel, view_numel = strides[-1], 1, 1
    for d in range(len(old_shape) - 1, -1, -1):
        tensor_numel *= old_shape[d]
        if d == 0 or (old_shape[d - 1] != 1 and strides[d - 1] != tensor_numel * chunk_stride):
            while view_d >= 0 and (view_numel < tensor_numel or shape[view_d] == 1):
                view_numel *= shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return False
            if d > 0:
                chunk_stride, tensor_numel, view_numel = strides[d - 1], 1, 1
    return view_d == -1


def permute(x, *dims):
    dims = shape_args(dims)
    if len(dims) != x.ndim:
        raise ValueError(f"permute: {tuple(dims)} is not a permutation of the {x.ndim} dimensions: "
                         f"expected {x.ndim} dims, got {len(dims)}")
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dimensions (duplicate dims)")
    return Permute.apply(x, dims=dims)


def transpose(x, dim0, dim1):
    dim0, dim1 = (normalize_dim(d, x.ndim, "transpose") for d in (dim0, dim1))
    dims = list(range(x.ndim))
    if dims:
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
    return Permute.apply(x, dims=tuple(dims))


def flatten(x, start_dim=0, end_dim=-1):
    start, end = (normalize_dim(d, x.ndim, "flatten") for d in (start_dim, end_dim))
    if start > end:
        raise ValueError(f"flatten: start_dim cannot come after end_dim, got start_dim={start_dim} and "
                         f"end_dim={end_dim} for a tensor of shape {tuple(x.shape)}")
    if x.ndim == 0:
        return reshape(x, 1)
    shape = x.shape[:start] + (-1,) + x.shape[end + 1:]
    return reshape(x, shape)


def squeeze(x, dim=None):
    if dim is None:
        shape = tuple(n for n in x.shape if n != 1)
    else:
        dims = {normalize_dim(d, x.ndim, "squeeze") for d in ((dim,) if not isinstance(dim, (tuple, list))
                                                              else dim)}
        shape = tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1))
    return reshape(x, shape)


def unsqueeze(x, dim):
    dim = normalize_dim(dim, x.ndim, "unsqueeze", inserting=True)
    return reshape(x, x.shape[:dim] + (1,) + x.shape[dim:])


def expand(x, *sizes):
    sizes = shape_args(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                         f"the number of dimensions in the tensor ({x.ndim}); got sizes {tuple(sizes)} for "
                         f"shape {tuple(x.shape)}")
    shape = tuple(x.shape[i - lead] if (n == -1 and i >= lead) else n for i, n in enumerate(sizes))
    for i in range(x.ndim):
        if x.shape[i] != 1 and x.shape[i] != shape[i + lead]:
            raise ValueError(f"expand: the expanded size of the tensor ({shape[i + lead]}) must match the "
                             f"existing size ({x.shape[i]}) at non-singleton dimension {i + lead}; target "
                             f"sizes {tuple(sizes)}, tensor shape {tuple(x.shape)}")
    return Expand.apply(x, shape=shape)


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    if tensors[0].ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    dim = normalize_dim(dim, tensors[0].ndim, "cat")
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
    dim = normalize_dim(dim, tensors[0].ndim, "stack", inserting=True)
    return cat([unsqueeze(t, dim) for t in tensors], dim=dim)


def getitem(x, index):
    """``x[index]`` with torch/NumPy indexing; repeated integer indices accumulate their gradients."""
    return GetItem.apply(x, index=raw_index(index, x.xp, x.backend))
