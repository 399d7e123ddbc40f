"""Shared test set-up: Hypothesis profiles, backends, and the torch requirement under CI."""
import os

import numpy as np
import pytest
from hypothesis import settings

import minicnn
from minicnn.backend import cupy_available
from minicnn.testing import strategies  # noqa: F401  (registers the profiles)

# The graded exercise tests run only through the grader (minicnn grade) and tests/test_course.py.
collect_ignore = ["exercises"]

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Parity tests run torch on tiny tensors, where one thread is ~10x faster than two.
try:
    import torch as _torch_module
    _torch_module.set_num_threads(1)
except ImportError:  # the `torch` fixture below turns this into an error under CI
    pass

# Backends every engine test runs on: NumPy, the strict CuPy stand-in (CI), and real CuPy (GPU only).
BACKENDS = [
    "numpy",
    "strict",
    pytest.param("cupy", marks=[pytest.mark.gpu,
                                pytest.mark.skipif(not cupy_available(), reason="no CuPy/GPU here")]),
]


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Run the test with new tensors created on each backend in turn."""
    previous = minicnn.get_backend()
    minicnn.set_backend(request.param)
    yield request.param
    minicnn.set_backend(previous)


@pytest.fixture(autouse=True)
def _seed():
    minicnn.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture(scope="session")
def torch():
    """The torch module. Under CI its absence is an error, never a silent skip."""
    try:
        import torch as _torch
    except ImportError:
        if os.environ.get("CI"):
            raise RuntimeError("torch is required in CI for the parity tests: pip install -e .[test]")
        pytest.skip("torch is not installed (pip install -e .[test])")
    return _torch
