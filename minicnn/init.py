"""Weight initialisation with torch's conventions (``torch.nn.init``).

fan_in and fan_out of a weight of shape (out, in, *kernel) are
``in * prod(kernel)`` and ``out * prod(kernel)`` (torch's
``_calculate_fan_in_and_fan_out``). Gains follow ``calculate_gain``.

* Xavier/Glorot (Glorot & Bengio 2010): std = gain * sqrt(2 / (fan_in + fan_out)).
* Kaiming/He (He et al. 2015): std = gain / sqrt(fan), gain = sqrt(2 / (1 + a^2)) for leaky ReLU.
* A uniform distribution U(-b, b) has std b / sqrt(3), hence the sqrt(3) below.

Every function fills ``tensor.data`` in place (no graph) and returns the tensor.
"""
import math

from .backend import to_backend
from .random import generator

__all__ = ["calculate_gain", "uniform_", "normal_", "zeros_", "ones_", "constant_", "xavier_uniform_",
           "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"]


def calculate_gain(nonlinearity, param=None):
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv_transpose2d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions "
                         f"(got shape {tensor.shape})")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor, values):
    """Put host random values (drawn from the seeded CPU generator) into the tensor's backend."""
    tensor.data = to_backend(values.astype(tensor.dtype), tensor.backend)
    return tensor


def uniform_(tensor, a=0.0, b=1.0):
    return _fill(tensor, generator().uniform(a, b, size=tensor.shape))


def normal_(tensor, mean=0.0, std=1.0):
    return _fill(tensor, generator().normal(mean, std, size=tensor.shape))


def constant_(tensor, val):
    tensor.data = tensor.xp.full(tensor.shape, val, dtype=tensor.dtype)
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def _zero_element(tensor):
    """torch's rule: initialising a tensor without elements (e.g. ``Conv2d(0, 8, 3)``'s weight) is a
    no-op with a warning, not a division by a fan of zero."""
    if math.prod(tensor.shape) == 0:
        import warnings
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning, stacklevel=3)
        return True
    return False


def xavier_uniform_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(tensor, a, mode, nonlinearity):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    if _zero_element(tensor):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    if _zero_element(tensor):
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))
