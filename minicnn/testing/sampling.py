"""Inputs for gradient checks, kept away from kinks and ties: written once, for the Hypothesis
strategies (``strategies.py``) and for the fixed-seed ``minicnn gradcheck`` table (``catalog.py``).

Central differences measure (f(x + eps) - f(x - eps)) / 2 eps; across a kink (ReLU and abs at 0,
clamp's bounds) or a tie (max, pooling: which entry wins) that quotient is not the derivative the
backward computes, so the inputs of a check stay clear of them. Plain NumPy generators in, NumPy
arrays out; no Hypothesis (it is a test dependency; ``minicnn gradcheck`` must run without it).
"""
import numpy as np

__all__ = ["uniform_away_from", "tie_free"]


def _near_a_kink(x, away_from, min_distance):
    """Where ``x`` is closer than ``min_distance`` to any kink."""
    near = np.zeros(x.shape, dtype=bool)
    for kink in away_from:
        near |= np.abs(x - kink) < min_distance
    return near


def uniform_away_from(rng, shape, low=-2.0, high=2.0, away_from=(), min_distance=1e-3, dtype=np.float64):
    """Uniform entries in [low, high], each at least ``min_distance`` from every kink in ``away_from``.

    Entries near a kink are redrawn (rejection sampling) until none is left, so the result stays in
    [low, high] and is away from *all* kinks at once (clamp's two bounds may be close together).
    """
    x = rng.uniform(low, high, size=shape).astype(dtype)
    near = _near_a_kink(x, away_from, min_distance)
    while near.any():
        x[near] = rng.uniform(low, high, size=int(near.sum()))
        near = _near_a_kink(x, away_from, min_distance)
    return x


def tie_free(rng, shape, low=-2.0, high=2.0, dtype=np.float64):
    """Distinct entries at least (high - low) / (2 size) apart: a shuffled, jittered linspace.

    (Chainer's trick for pooling tests: a permutation plus U(0.3, 0.7).)
    """
    size = int(np.prod(shape))
    values = rng.permutation(size) + rng.uniform(0.3, 0.7, size)
    x = low + (high - low) * values / size
    return x.reshape(shape).astype(dtype)
