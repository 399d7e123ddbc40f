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

__all__ = [name for name in dir() if not name.startswith("_") and name[0].islower()
           and name not in ("activations", "arithmetic", "conversion", "elementwise", "matmul",
                            "reductions", "shape", "compare")]
