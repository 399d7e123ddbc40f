"""Hypothesis strategies for gradient checks, and the settings profiles.

* :func:`arrays`: bounded float64 arrays, optionally kept ``min_distance`` away
  from kinks (ReLU and abs at 0, clamp's bounds);
* :func:`tie_free_arrays`: all entries distinct with a guaranteed gap (a
  shuffled ``linspace``), for max and pooling, whose gradient jumps at ties;
* :func:`shapes`: small shapes with batch >= 2.

Profiles (``settings.load_profile(name)``):

* ``"ci"``: derandomised, no deadline, few examples: the same examples every run;
* ``"grading"``: derandomised, no deadline: every student gets the same examples;
* ``"dev"``: random, more examples, for local bug hunting.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# The backend fixture only switches a global, so function-scoped fixtures are safe with @given.
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture,
              HealthCheck.filter_too_much]
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=15, print_blob=True,
                          suppress_health_check=SUPPRESSED)
settings.register_profile("grading", derandomize=True, deadline=None, max_examples=10,
                          suppress_health_check=SUPPRESSED)
settings.register_profile("dev", deadline=None, max_examples=100,
                          suppress_health_check=SUPPRESSED)


def shapes(min_dims=1, max_dims=4, min_side=1, max_side=5, min_batch=2):
    """Shapes whose first axis (the batch) is at least ``min_batch``."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(
        lambda s: (max(s[0], min_batch), *s[1:]))


@st.composite
def arrays(draw, shape, low=-2.0, high=2.0, away_from=(), min_distance=1e-3, dtype=np.float64):
    """A float array in [low, high] whose entries are at least ``min_distance`` from each kink.

    Entries come from a seed Hypothesis draws, so the array is reproducible
    and shrinkable without drawing every float separately.
    """
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=shape)
    for kink in away_from:
        near = np.abs(x - kink) < min_distance
        x[near] = kink + np.where(x[near] >= kink, 1, -1) * (min_distance + rng.uniform(0, 0.5, near.sum()))
    return x.astype(dtype)


@st.composite
def tie_free_arrays(draw, shape, low=-2.0, high=2.0, dtype=np.float64):
    """Distinct entries at least (high - low) / (2 size) apart: a shuffled, jittered linspace.

    (Chainer's trick for pooling tests: a permutation plus U(0.3, 0.7).)
    """
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape))
    values = rng.permutation(size) + rng.uniform(0.3, 0.7, size)
    x = low + (high - low) * values / size
    return x.reshape(shape).astype(dtype)


@st.composite
def positive_arrays(draw, shape, low=0.5, high=2.0, dtype=np.float64):
    """Entries in [low, high] (for log, sqrt, division)."""
    return draw(arrays(shape, low, high, dtype=dtype))
