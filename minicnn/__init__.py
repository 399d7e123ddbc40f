"""minicnn: a NumPy-from-scratch deep-learning framework for learning attention in computer vision.

Layers of the package (see docs/architecture.md):

    utils  ->  backend  ->  tensor + autograd  ->  ops (functional)  ->  tensor_methods  ->  nn  ->  models
           ->  train / data / metrics
"""
from . import backend
from .autograd import enable_grad, is_grad_enabled, no_grad
from .backend import get_array_module, get_backend, set_backend
from .random import manual_seed
from .tensor import Tensor, tensor
from .ops import *  # noqa: F401,F403  (torch-style tensor functions: minicnn.exp, minicnn.cat, ...)
from . import tensor_methods  # noqa: F401  (attaches x + y, x.exp(), ... to Tensor; see its docstring)
from . import functional, init, nn, optim
from . import models, metrics, data, testing
from .serialization import load, save
from .summary import summary
from .utils import shape_args as _shape_args

__version__ = "0.1.0"

float32 = "float32"
float64 = "float64"
int64 = "int64"


def zeros(*shape, dtype=None, requires_grad=False):
    import numpy as np
    shape = _shape_args(shape)
    return tensor(np.zeros(shape, dtype=dtype or np.float32), requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad=False):
    import numpy as np
    shape = _shape_args(shape)
    return tensor(np.ones(shape, dtype=dtype or np.float32), requires_grad=requires_grad)


def randn(*shape, dtype=None, requires_grad=False):
    """Standard normal samples from the seeded generator (see manual_seed)."""
    import numpy as np
    from .random import generator
    shape = _shape_args(shape)
    return tensor(generator().standard_normal(shape).astype(dtype or np.float32),
                  requires_grad=requires_grad)
