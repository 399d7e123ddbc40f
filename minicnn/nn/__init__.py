"""``minicnn.nn``: layers and networks, named as in ``torch.nn``."""
from .module import Module, Parameter  # noqa: F401
from .containers import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .resampling import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .loss import *  # noqa
from .. import init  # noqa: F401  (torch.nn.init)
