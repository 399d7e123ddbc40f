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
* :func:`check_4d`: a batch of images (N, C, H, W).

Every error message starts with the name of the op or layer, then says what
was expected and what was received.
"""
import operator

__all__ = ["unwrap", "shape_args", "ntuple", "pair", "check_positive_ints", "positive_ntuple", "padding_pairs", "conv_output_size",
           "conv_transpose_output_size", "check_4d"]


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
def check_4d(op, x):
    """Spatial ops work on batches of images, (N, C, H, W): raise a clear error otherwise."""
    if x.ndim != 4:
        hint = " (for a single (C, H, W) image add the batch axis: x.unsqueeze(0))" if x.ndim == 3 else ""
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got a {x.ndim}-D input of shape "
                         f"{tuple(x.shape)}{hint}")
