"""Argument helpers, written once and imported everywhere (ops, nn, models, tests).

DeZero keeps the same small toolbox in its ``utils.py`` (``pair``,
``get_conv_outsize``); torch spreads it over ``torch.nn.modules.utils``
(``_pair``, ``_ntuple``) and the shape functions of its convolution and
pooling kernels. Here it is one module, below every other one: it imports
nothing from minicnn, so any module may use it without an import cycle.

* :func:`unwrap`: a Tensor's raw array (anything else unchanged);
* :func:`shape_args`: ``reshape(2, 3)`` and ``reshape((2, 3))`` alike;
* :func:`ntuple`, :func:`pair`, :func:`positive_ntuple`: an int or a
  sequence of ints as a tuple of ``n`` ints, with an error naming the op;
  :func:`check_positive_ints` for counts (channels, groups);
* :func:`padding_pairs`: conv padding (int, tuple, "same", "valid") as
  (before, after) per axis;
* :func:`conv_output_size` and :func:`conv_transpose_output_size`: the
  output length of a sliding window along one axis (Dumoulin & Visin, "A
  guide to convolution arithmetic for deep learning", 2016), the one formula
  of convolution and pooling alike;
* :func:`check_4d`: a batch of images (N, C, H, W);
* :func:`normalize_dim`: one ``dim`` (negatives count from the end),
  range-checked as torch does, never wrapped modulo ``ndim``;
* :func:`broadcast_shape`: the shape two operands broadcast to, or an error
  naming the op and both shapes;
* :func:`check_floating`, :func:`check_same_dtype`, :func:`check_not_bool`
  and :func:`promote_to_float`: torch's dtype rules (which ops need
  floats, which refuse mixed precisions, which turn integers into float32).

Every error message starts with the name of the op or layer, then says what
was expected and what was received.
"""
import operator

import numpy as np

__all__ = ["unwrap", "shape_args", "size_args", "ntuple", "pair", "check_positive_ints", "positive_ntuple",
           "padding_pairs", "conv_output_size", "conv_transpose_output_size", "check_4d", "normalize_dim",
           "broadcast_shape", "check_floating", "check_same_dtype", "check_not_bool", "promote_to_float",
           "check_count", "check_tensor"]


# ============================================================================ tensors and arrays
def unwrap(a):
    """The raw array of a minicnn Tensor; anything else (array, scalar, None) unchanged.

    Duck-typed on the Tensor's ``_is_minicnn_tensor`` marker rather than
    ``isinstance(a, Tensor)``, so that this module imports nothing (the
    backend, below the Tensor, uses it too).
    """
    return a.data if getattr(a, "_is_minicnn_tensor", False) else a


def shape_args(shape):
    """The ``*shape`` of ``reshape(2, 3)`` or ``reshape((2, 3))`` as one tuple (torch accepts both)."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def size_args(op, shape):
    """The size of a new tensor (``zeros(2, 3)``, ``zeros((2, 3))``), checked: non-negative ints."""
    shape = shape_args(shape)
    for n in shape:
        if isinstance(n, bool) or not hasattr(n, "__index__"):
            raise TypeError(f"{op}: size must be a tuple of ints, got {shape!r} (an entry of type "
                            f"{type(n).__name__})")
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: Trying to create tensor with negative dimension: {list(shape)}")
    return tuple(operator.index(n) for n in shape)


# ============================================================================ ints and tuples of ints
def ntuple(value, n, name, op, expected=None):
    """An int, or a sequence of 1 or ``n`` ints, as a tuple of ``n`` Python ints (torch's ``_ntuple``).

    ``ntuple(3, 2, ...) == (3, 3)``, ``ntuple((1, 2), 2, ...) == (1, 2)``.
    Raises ValueError for a sequence of another length (``expected`` words
    what is accepted) and TypeError for an entry that is not an int (a bool
    or a float), as torch does.
    """
    expected = expected or f"an int or a tuple of {n} ints"
    if isinstance(value, (list, tuple)):
        values = tuple(value) * n if len(value) == 1 else tuple(value)
        if len(values) != n:
            raise ValueError(f"{op}: {name} must be {expected}, got {value!r}")
    else:
        values = (value,) * n
    for v in values:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(f"{op}: {name} must contain ints, got {value!r} (an entry of type "
                            f"{type(v).__name__})")
    return tuple(operator.index(v) for v in values)


def pair(value, name, op):
    """:func:`ntuple` for the two spatial axes (height, width) of an image."""
    return ntuple(value, 2, name, op, expected="a single int or a pair of ints")


def check_positive_ints(op, **values):
    """Raise ValueError naming ``op`` for any keyword value that is not a positive int (bools refused).

    ``check_positive_ints("Conv2d", groups=groups)``.
    """
    for name, value in values.items():
        if isinstance(value, bool) or not hasattr(value, "__index__") or value < 1:
            raise ValueError(f"{op}: {name} must be a positive integer, got {value!r}")


def positive_ntuple(value, n, name, op):
    """:func:`ntuple` whose entries must all be positive (kernel sizes, strides, dilations)."""
    values = ntuple(value, n, name, op)
    if any(v <= 0 for v in values):
        raise ValueError(f"{op}: {name} must be positive, got {name}={value!r}")
    return values


def padding_pairs(padding, kernel_size, stride, dilation, dims, op):
    """Convolution ``padding`` (int, tuple, "same" or "valid") -> ((before, after) per spatial axis).

    "same" keeps the size for stride 1: the total padding d (k - 1) is split
    with the extra pixel (when it is odd) at the end, as torch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                                 f"(got stride={tuple(stride)}); use an explicit padding")
            pairs = []
            for k, d in zip(kernel_size, dilation):
                total = d * (k - 1)
                pairs.append((total // 2, total - total // 2))
            return tuple(pairs)
        raise ValueError(f"{op}: padding must be an int, a tuple of {dims} ints, 'same' or 'valid'; "
                         f"got {padding!r}")
    values = ntuple(padding, dims, "padding", op)
    if any(p < 0 for p in values):
        raise ValueError(f"{op}: padding must be non-negative, got padding={padding!r}")
    return tuple((p, p) for p in values)


# ============================================================================ output sizes
def conv_output_size(size, kernel_size, stride=1, padding_total=0, dilation=1, ceil_mode=False):
    """How many positions a (dilated) window takes along one axis: the output length of a convolution
    or a pooling (torch's formula).

        out = floor((size + padding_total - dilation * (kernel_size - 1) - 1) / stride) + 1

    ``dilation * (kernel_size - 1) + 1`` is the *span* of the dilated kernel
    and ``padding_total`` the padding on both sides together. With
    ``ceil_mode`` (pooling) ceil replaces floor, and a last window that would
    start inside the right padding is dropped (torch's
    ``pooling_output_shape``, for a symmetric padding of ``padding_total / 2``).
    """
    room = size + padding_total - dilation * (kernel_size - 1) - 1
    out = (room + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding_total // 2:
        out -= 1
    return out


def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, dilation=1, output_padding=0):
    """Output length of a transposed convolution along one axis (the inverse of :func:`conv_output_size`).

        out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1


# ============================================================================ shapes
def check_count(op, name, value):
    """A number of features or channels: an int >= 0 (torch builds 0-sized layers, never negative ones)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{op}: {name} must be an int, got {value!r} of type {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{op}: {name} must be non-negative, got {name}={value}")
    return operator.index(value)


def check_tensor(op, x, name="input"):
    """A Tensor or array where one is needed (torch: "argument 'input' must be Tensor, not str")."""
    if not (hasattr(x, "shape") and hasattr(x, "dtype") and hasattr(x, "ndim")):
        raise TypeError(f"{op}: argument {name!r} must be a Tensor, not {type(x).__name__}")


def check_4d(op, x):
    """Spatial ops work on batches of images, (N, C, H, W): raise a clear error otherwise."""
    check_tensor(op, x)
    if x.ndim != 4:
        hint = " (for a single (C, H, W) image add the batch axis: x.unsqueeze(0))" if x.ndim == 3 else ""
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got a {x.ndim}-D input of shape "
                         f"{tuple(x.shape)}{hint}")


# ============================================================================ dims
def normalize_dim(dim, ndim, op, *, inserting=False):
    """``dim`` (an int; -1 is the last axis) as an axis in ``[0, ndim)``, as torch's ``maybe_wrap_dim``.

    ``inserting=True`` for ops that add an axis (``unsqueeze``, ``stack``): the
    valid range is then ``[-(ndim + 1), ndim]``. A 0-d tensor accepts 0 and -1.
    Anything else is an IndexError in torch's words, never wrapped modulo ndim
    (``unsqueeze(x, 3)`` of a 2-D ``x`` is a mistake, not ``unsqueeze(x, 0)``).
    """
    if isinstance(dim, bool) or not hasattr(dim, "__index__"):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} of type {type(dim).__name__}")
    dim = operator.index(dim)
    size = max(ndim + (1 if inserting else 0), 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-size}, {size - 1}], "
                         f"but got {dim})")
    return dim % size


# ============================================================================ broadcasting and dtypes
def broadcast_shape(op, *shapes):
    """The shape that ``shapes`` broadcast to (NumPy's and torch's rule), or a ValueError naming
    the op, both shapes and the first dimension where they disagree."""
    result = []
    for position in range(1, max(len(s) for s in shapes) + 1):
        sizes = {s[-position] for s in shapes if len(s) >= position} - {1}
        if len(sizes) > 1:
            dim = max(len(s) for s in shapes) - position
            described = " and ".join(str(tuple(s)) for s in shapes)
            raise ValueError(f"{op}: shapes {described} cannot be broadcast together: sizes "
                             f"{' and '.join(str(n) for n in sorted(sizes))} differ at dimension {dim} "
                             "(sizes must match or be 1)")
        result.append(sizes.pop() if sizes else 1)
    return tuple(reversed(result))


def check_floating(op, x, name="input"):
    """Ops that only make sense on real numbers (softmax, batch norm, averages...) refuse integer and bool
    tensors, as torch does ("not implemented for 'Long'"), with the way out."""
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point {name}, got dtype {x.dtype} (shape "
                        f"{tuple(x.shape)}); convert it with .float()")


def check_same_dtype(op, a, b, names=("input", "weight")):
    """conv, matmul and linear do not mix dtypes (torch: "expected scalar type Float but found Double"):
    a float32 input with a float64 weight would silently compute in float64."""
    if a.dtype != b.dtype:
        raise TypeError(f"{op}: expected {names[0]} and {names[1]} to have the same dtype, got {a.dtype} "
                        f"(shape {tuple(a.shape)}) and {b.dtype} (shape {tuple(b.shape)}); convert one "
                        "with .float() or .double()")


def check_not_bool(op, x, name="input"):
    """Arithmetic that torch refuses on bool tensors (negation, subtraction, relu, products)."""
    if x.dtype.kind == "b":
        raise TypeError(f"{op}: {name} of dtype bool is not supported (shape {tuple(x.shape)}); convert it "
                        "with .float(), or use logical operations (~, &, |, ^) on bool tensors")


def promote_to_float(x):
    """The input of ``exp``, ``sigmoid``...: floats unchanged; integer and bool tensors (or arrays) cast to
    float32, torch's default dtype (NumPy would compute in float64, or float16 for uint8)."""
    if x.dtype.kind == "f":
        return x
    return x.type(np.float32) if getattr(x, "_is_minicnn_tensor", False) else x.astype(np.float32)
