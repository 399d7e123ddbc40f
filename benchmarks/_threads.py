"""Thread count for the benchmarks, set before NumPy is imported.

BLAS libraries read their thread count once, when they are loaded, so
``--threads n`` must reach the environment before ``import numpy``.
"""
import os


def set_threads_before_numpy_loads(argv):
    """Apply ``--threads n`` (or ``--threads=n``) from ``argv`` to OpenBLAS, OpenMP and MKL."""
    for i, arg in enumerate(argv):
        value = arg.split("=", 1)[1] if arg.startswith("--threads=") else \
            (argv[i + 1] if arg == "--threads" and i + 1 < len(argv) else None)
        if value is not None:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = value
