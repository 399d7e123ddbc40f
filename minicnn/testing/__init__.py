"""``minicnn.testing``: gradient checks, torch parity and Hypothesis strategies (for students and tests)."""
from .gradcheck import GradcheckResult, gradcheck, numerical_gradient, relative_error  # noqa: F401
from .parity import assert_module_parity, assert_parity, import_torch, load_torch_weights  # noqa: F401
