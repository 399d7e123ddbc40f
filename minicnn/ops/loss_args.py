"""What the losses share: the ``reduction`` argument, class-index targets and their weights.

Everything here is data handling, not differentiable code: a target, a class
weight or a pixel weight map gets no gradient (torch's rule). The losses that
use them are in ``cross_entropy.py``, ``binary_cross_entropy.py``, ``dice.py``
and ``losses.py``.
"""
import numpy as np

from ..backend import BackendError, backend_of_array, get_array_module, to_backend
from ..tensor import Tensor
from ..utils import unwrap

__all__ = []  # helpers of the loss functions, not user functions

#: the values of every loss's ``reduction`` argument
REDUCTIONS = ("none", "mean", "sum")


def check_reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def as_constant(op, name, value, like):
    """A raw array (no gradient) on the backend and float dtype of tensor ``like``.

    Weights are data, not parameters: a NumPy array or a list is moved to
    ``like``'s backend; a Tensor must already live there.
    """
    if isinstance(value, Tensor):
        if value.backend != like.backend:
            raise BackendError(f"{op}: {name} is a {value.device} tensor but the input is a "
                               f"{like.device} tensor; move it with .to('{like.device}') first")
        raw = value.data
    elif hasattr(value, "shape") and hasattr(value, "dtype"):
        raw = to_backend(value, like.backend)
    else:
        raw = to_backend(np.asarray(value, dtype=like.dtype), like.backend)
    return raw.astype(like.dtype)


def integer_target(op, target, like):
    """The raw integer array of a class-index target, on ``like``'s backend."""
    raw = unwrap(target)
    if not hasattr(raw, "dtype"):
        raw = np.asarray(raw)
    if raw.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected integer class indices as target (int64, as torch's Long), "
                        f"got dtype {raw.dtype}")
    if backend_of_array(raw) != like.backend:
        if isinstance(target, Tensor):
            raise BackendError(f"{op}: target is a {target.device} tensor but the input is a "
                               f"{like.device} tensor; move it with .to('{like.device}') first")
        raw = to_backend(raw, like.backend)
    return raw


def is_floating_target(target):
    raw = unwrap(target)
    return (raw.dtype if hasattr(raw, "dtype") else np.asarray(raw).dtype).kind == "f"


def check_class_target(op, input, target_raw):
    """The target must have the input's shape without the class dimension: (N, d1, ...)."""
    expected = input.shape[:1] + input.shape[2:]
    if tuple(target_raw.shape) != expected:
        raise ValueError(f"{op}: input of shape {input.shape} (N, C, d1, ...) needs a target of shape "
                         f"{expected} (N, d1, ...), got {tuple(target_raw.shape)}")


def to_one_hot(target, num_classes, dtype):
    """(N, d1, ...) class indices -> (N, C, d1, ...) one-hot floats (classes along dim 1)."""
    xp = get_array_module(target)
    classes = xp.arange(num_classes).reshape((1, num_classes) + (1,) * (target.ndim - 1))
    return (xp.expand_dims(target, 1) == classes).astype(dtype)


def class_view(weight, ndim):
    """A per-class vector (C,) reshaped to (1, C, 1, ..., 1) so it broadcasts against (N, C, d1, ...)."""
    return weight.reshape((1, weight.shape[0]) + (1,) * (ndim - 2))


def element_weights(op, input, target, weight=None, ignore_index=-100, pixel_weight=None):
    """Everything about a class-index target that is data, not a function of the scores.

    Returns ``(safe_target, element_weight, kept)``, raw arrays of the target's shape:

    * ``safe_target``: the target with ignored entries replaced by class 0, so
      that it can index an array (their weight is 0, so they contribute nothing);
    * ``element_weight``: w_i = [t_i != ignore_index] * weight[t_i] * pixel_weight_i,
      the factor of element i's loss; ``mean`` divides by sum_i w_i;
    * ``kept``: [t_i != ignore_index] * pixel_weight_i (w_i without the class weight).
    """
    num_classes = input.shape[1]
    t = integer_target(op, target, input)
    check_class_target(op, input, t)
    xp = input.xp
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= num_classes))
    if bool(bad.any()):  # one sync; CuPy would silently wrap an out-of-range index
        raise IndexError(f"{op}: target contains class indices outside [0, {num_classes - 1}] "
                         f"(for example {int(t[bad].reshape(-1)[0])}); ignore_index is {ignore_index}")
    safe_target = xp.where(valid, t, 0)
    kept = valid.astype(input.dtype)
    if pixel_weight is not None:
        pw = as_constant(op, "pixel_weight", pixel_weight, input)
        if tuple(pw.shape) != tuple(t.shape):
            raise ValueError(f"{op}: pixel_weight must have the target's shape {tuple(t.shape)}, "
                             f"got {tuple(pw.shape)}")
        kept = kept * pw
    w = kept
    if weight is not None:
        class_weight = as_constant(op, "weight", weight, input)
        if class_weight.shape != (num_classes,):
            raise ValueError(f"{op}: weight must have one entry per class, shape ({num_classes},), "
                             f"got {tuple(class_weight.shape)}")
        w = kept * class_weight[safe_target]
    return safe_target, w, kept


def batch_single_sample(op, input, target):
    """torch accepts one sample: input (C,) with a 0-d target. Add the batch axis."""
    if input.ndim == 1:
        return input.reshape(1, input.shape[0]), target, True
    if input.ndim < 1:
        raise ValueError(f"{op}: expected input of shape (C,), (N, C) or (N, C, d1, ...), got {input.shape}")
    return input, target, False


def add_batch_axis(value):
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.reshape(1, *value.shape)
    return get_array_module(value).expand_dims(value, 0) if hasattr(value, "shape") else [value]
