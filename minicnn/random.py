"""Seeding: ``minicnn.manual_seed(seed)`` makes every random draw repeatable.

One NumPy ``Generator`` feeds weight initialisation, dropout and data
shuffling on the CPU. On the GPU, ``generator(xp)`` hands out a CuPy
generator seeded from the same seed (CuPy's streams differ from NumPy's, so
GPU numbers are repeatable but not equal to CPU numbers).
"""
import numpy as np

_seed = 0
_generators = {}


def manual_seed(seed: int) -> None:
    """Seed every generator; the same seed gives bit-identical results on the CPU."""
    global _seed
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
