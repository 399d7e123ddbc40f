"""All differentiable operations, one concept per file.

Each file pairs ``Function`` classes (forward and backward side by side) with
the plain functions users call (``exp(x)`` calls ``Exp.apply(x)``).
``minicnn.functional`` (imported as ``F``) re-exports them.
"""
from .activations import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .arithmetic import add, div, mul, neg, pow, sub
from .conversion import Cast, Clone, ToBackend, compare
from .elementwise import abs, clamp, exp, log, maximum, minimum, sqrt, where
from .matmul import matmul
from .reductions import amax, amin, argmax, argmin, max, mean, min, sum, var
from .shape import cat, expand, flatten, getitem, permute, reshape, squeeze, stack, transpose, unsqueeze, view

import types as _types

__all__ = [_name for _name, _value in dict(globals()).items()
           if not _name.startswith("_") and _name[0].islower() and _name != "compare"
           and not isinstance(_value, _types.ModuleType)]
