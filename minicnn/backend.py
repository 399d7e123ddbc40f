"""The backend seam: which array library holds a tensor's data.

Every kernel in minicnn is written against ``xp``, the *array module* of its
inputs, never against bare ``numpy``::

    xp = get_array_module(x)          # numpy, cupy, or the strict stand-in
    y = xp.maximum(x, 0)

so the same code runs on the CPU (NumPy) and on an NVIDIA GPU (CuPy). This is
the idiom of CuPy's user guide ("How to write CPU/GPU agnostic code") and of
Chainer.

Three backends exist:

* ``"numpy"`` (device ``"cpu"``): the default.
* ``"cupy"`` (device ``"gpu"``): imported lazily, on first use only.
* ``"strict"`` (device ``"strict"``): a *test-only* stand-in for CuPy that
  runs on the CPU. Its arrays behave towards NumPy as CuPy's do: they refuse
  silent conversion (``np.asarray(a)`` raises) and refuse to be mixed with
  NumPy arrays. The test suite runs the engine on it, so a stray ``np.`` call
  on tensor data fails in CI, where there is no GPU. See
  :mod:`minicnn.strict_backend`.

Where NumPy and CuPy differ, this module hides the difference once
(:func:`scatter_add`, :func:`as_strided`, :func:`to_numpy`) rather than in
every op.
"""
from __future__ import annotations

import importlib

import numpy as np

from .utils import unwrap

CUPY_INSTALL_HINT = (
    "CuPy is needed for the GPU backend. Install the wheel matching your CUDA major version, "
    "e.g. `pip install -e .[cuda12]` (cupy-cuda12x) or `pip install -e .[cuda13]` (cupy-cuda13x), "
    "on a machine with an NVIDIA GPU."
)

DEVICE_OF_BACKEND = {"numpy": "cpu", "cupy": "gpu", "strict": "strict"}
BACKEND_OF_DEVICE = {device: name for name, device in DEVICE_OF_BACKEND.items()}
# torch spells the GPU "cuda"; accept it too.
BACKEND_OF_DEVICE["cuda"] = "cupy"

_active_backend = "numpy"


class BackendError(RuntimeError):
    """Raised when a backend is unavailable or when tensors of two backends meet."""


# --------------------------------------------------------------------------- modules
def _cupy():
    """Import CuPy on first use and check that a GPU is present."""
    try:
        cupy = importlib.import_module("cupy")
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise BackendError(f"backend 'cupy' is not available: {exc}. {CUPY_INSTALL_HINT}") from None
    try:
        available = cupy.is_available()
    except Exception:  # pragma: no cover
        available = False
    if not available:  # pragma: no cover
        raise BackendError("backend 'cupy': CuPy is installed but no usable CUDA GPU was found. "
                           + CUPY_INSTALL_HINT)
    return cupy


def cupy_available() -> bool:
    """True when CuPy imports and sees a GPU (never raises)."""
    try:
        _cupy()
    except BackendError:
        return False
    return True


def module_of_backend(name: str):
    """The array module (``numpy``, ``cupy`` or the strict stand-in) of a backend name."""
    if name == "numpy":
        return np
    if name == "cupy":
        return _cupy()
    if name == "strict":
        from . import strict_backend
        return strict_backend.xp
    raise BackendError(f"unknown backend {name!r}; expected one of 'numpy', 'cupy', 'strict'")


def backend_of_array(array) -> str:
    """The backend name of a raw array: 'numpy', 'cupy' or 'strict'."""
    module = type(array).__module__
    if module.startswith("cupy"):
        return "cupy"
    if module.startswith("minicnn.strict_backend"):
        return "strict"
    return "numpy"


def get_array_module(*arrays):
    """The array module of arrays or tensors (NumPy for Python scalars).

    Like ``cupy.get_array_module``: the first non-NumPy array decides.
    """
    for a in arrays:
        data = unwrap(a)
        name = backend_of_array(data)
        if name != "numpy" and not isinstance(data, (int, float, bool, np.generic)):
            return module_of_backend(name)
    return np


# --------------------------------------------------------------------------- the active backend
def set_backend(name: str) -> None:
    """Choose where new tensors live: ``"numpy"`` (CPU), ``"cupy"`` (GPU) or ``"strict"`` (tests).

    Asking for CuPy where it is missing or has no GPU raises one clear
    :class:`BackendError` with the install hint.
    """
    global _active_backend
    module_of_backend(name)  # raises the clear error early
    _active_backend = name


def get_backend() -> str:
    """The name of the active backend."""
    return _active_backend


class use_backend:
    """Context manager: ``with use_backend("strict"): ...`` restores the previous backend on exit."""

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.previous = get_backend()
        set_backend(self.name)
        return module_of_backend(self.name)

    def __exit__(self, *exc):
        set_backend(self.previous)


def backend_of_device(device: str) -> str:
    """Translate a device name ('cpu', 'gpu', 'cuda', 'strict') to a backend name."""
    device = str(device).split(":")[0]
    if device not in BACKEND_OF_DEVICE:
        raise BackendError(f"unknown device {device!r}; expected one of 'cpu', 'gpu', 'cuda', 'strict'")
    return BACKEND_OF_DEVICE[device]


# --------------------------------------------------------------------------- moving data
def to_numpy(array) -> np.ndarray:
    """Copy (or view) an array of any backend into a host NumPy array."""
    name = backend_of_array(array)
    if name == "numpy":
        return np.asarray(array)
    return array.get()  # CuPy and the strict stand-in both spell it .get()


def to_backend(array, name: str):
    """Move a raw array (NumPy, CuPy, strict, or anything array-like) to backend ``name``.

    An array already there is returned as is; a move copies.
    """
    source = backend_of_array(array)
    if source == name:
        return np.asarray(array) if name == "numpy" else array
    host = to_numpy(array) if source != "numpy" else np.asarray(array)
    if name == "numpy":
        return host
    return module_of_backend(name).asarray(host)


# --------------------------------------------------------------------------- where NumPy and CuPy differ
def scatter_add(target, indices, values) -> None:
    """``target[indices] += values`` that accumulates repeated indices (in place).

    Plain ``a[idx] += v`` keeps only one of the repeated writes, on NumPy and
    on CuPy alike; ``ufunc.at`` accumulates on both.
    """
    xp = get_array_module(target)
    xp.add.at(target, indices, values)


def as_strided(x, shape, strides):
    """A strided *read-only by convention* view of ``x`` (never write into it)."""
    xp = get_array_module(x)
    return xp.lib.stride_tricks.as_strided(x, shape=shape, strides=strides)


def sliding_windows(x, window_shape, axis):
    """``sliding_window_view`` of ``x`` on its backend (a view; never write into it)."""
    xp = get_array_module(x)
    return xp.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)
