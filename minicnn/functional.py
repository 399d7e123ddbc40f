"""``minicnn.functional`` (import it as ``F``): every operation as a plain function.

Mirrors ``torch.nn.functional`` (plus the tensor functions of ``torch``), so
``F.conv2d(x, w, stride=2)`` reads the same in both.
"""
from .ops import *  # noqa: F401,F403  (elementwise, reductions, shapes, activations)
from .ops.losses import *  # noqa: F401,F403
from .ops.linear import *  # noqa: F401,F403
from .ops.dropout import *  # noqa: F401,F403
from .ops.padding import *  # noqa: F401,F403
from .ops.conv import *  # noqa: F401,F403
from .ops.conv_transpose import *  # noqa: F401,F403
from .ops.pooling import *  # noqa: F401,F403
from .ops.adaptive_pooling import *  # noqa: F401,F403
from .ops.unpooling import *  # noqa: F401,F403
from .ops.normalization import *  # noqa: F401,F403
from .ops.interpolate import *  # noqa: F401,F403
