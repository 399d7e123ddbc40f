"""Seeding: ``minicnn.manual_seed(seed)`` makes every random draw repeatable.

One NumPy ``Generator`` feeds weight initialisation, dropout and data
shuffling on the CPU. On the GPU, ``generator(xp)`` hands out a CuPy
generator seeded from the same seed (CuPy's streams differ from NumPy's, so
GPU numbers are repeatable but not equal to CPU numbers).

**What is guaranteed.** The same seed, the same code, the same NumPy and BLAS
library, the same *number of BLAS threads* and the same machine give
bit-identical random numbers, weights and losses, in one process or in
several. The random numbers alone depend only on the seed; the arithmetic does
not: a BLAS library splits a product between its threads and adds the partial
sums in another order when the thread count changes. With NumPy's OpenBLAS,
``v @ A`` for a float32 ``v`` of 2000 elements and ``A`` of 2000 x 2000 already
differs in the last bits between ``OPENBLAS_NUM_THREADS=1`` and ``=2``, and a
training run amplifies such differences. So set the thread count
(``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS``, before
Python starts) when runs must be compared bit for bit. :func:`blas_threads`
reports it; the trainer stores it in its checkpoints and warns when a run
resumes with another count. Another CPU (other vector instructions) or another
BLAS may change results too.
"""
import ctypes
import glob
import os

import numpy as np

__all__ = ["manual_seed", "initial_seed", "generator", "blas_threads"]

_seed = 0
_generators = {}


def manual_seed(seed: int) -> None:
    """Seed every generator.

    The same seed gives bit-identical results on the CPU only with the same
    number of BLAS threads on the same machine (see this module's docstring
    and :func:`blas_threads`): the thread count changes the order in which
    BLAS adds, hence the last bits of every product.
    """
    global _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: expected an int seed, got {seed!r} of type {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: expected a seed >= 0 (NumPy's generators refuse negative seeds), "
                         f"got {seed}")
    _seed = int(seed)
    _generators.clear()


def initial_seed() -> int:
    return _seed


def generator(xp=np):
    """The generator of an array module (numpy, cupy or the strict stand-in), seeded by manual_seed."""
    key = getattr(xp, "__name__", repr(xp))
    if key not in _generators:
        _generators[key] = xp.random.default_rng(_seed)
    return _generators[key]


def blas_threads():
    """The number of threads NumPy's BLAS uses now, or None where it cannot be asked.

    Asks threadpoolctl when it is installed (it comes with scikit-learn), else
    OpenBLAS itself (the library NumPy's wheels ship), else the environment
    variables that set it.
    """
    try:
        from threadpoolctl import threadpool_info
        counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
        if counts:
            return int(counts[0])
    except Exception:       # not installed, or an unknown library layout: try the next way
        pass
    for library in glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "*openblas*")):
        try:
            blas = ctypes.CDLL(library)
        except OSError:
            continue
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(blas, name):
                return int(getattr(blas, name)())
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(variable, "").isdigit():
            return int(os.environ[variable])
    return None
