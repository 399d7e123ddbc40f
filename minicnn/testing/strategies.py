"""Hypothesis strategies for gradient checks, and the settings profiles.

* :func:`arrays`: bounded float64 arrays, optionally kept ``min_distance`` away
  from kinks (ReLU and abs at 0, clamp's bounds);
* :func:`tie_free_arrays`: all entries distinct with a guaranteed gap (a
  shuffled ``linspace``), for max and pooling, whose gradient jumps at ties;
* :func:`positive_arrays`: entries in [0.5, 2] (log, sqrt, a divisor);
* :func:`shapes`: small shapes with batch >= 2;
* :func:`broadcastable_to`, :func:`broadcast_shapes`: shapes that broadcast
  to a given shape, for the backward of broadcasting (binary ops).

Profiles (``settings.load_profile(name)``):

* ``"ci"``: derandomised, no deadline, few examples: the same examples every run;
* ``"grading"``: derandomised, no deadline: every student gets the same examples;
* ``"dev"``: random, more examples, for local bug hunting.
"""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from .sampling import tie_free, uniform_away_from

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
    """A float array in [low, high] whose entries are at least ``min_distance`` from every kink.

    Entries come from a seed Hypothesis draws, so the array is reproducible
    and shrinkable without drawing every float separately; the sampling is
    :func:`~minicnn.testing.sampling.uniform_away_from`.
    """
    if 2 * min_distance * len(away_from) >= 0.5 * (high - low):
        raise ValueError(f"arrays: kinks {away_from} with min_distance {min_distance} leave too "
                         f"little of [{low}, {high}] to draw from")
    seed = draw(st.integers(0, 2**32 - 1))
    return uniform_away_from(np.random.default_rng(seed), shape, low, high, away_from, min_distance, dtype)


@st.composite
def tie_free_arrays(draw, shape, low=-2.0, high=2.0, dtype=np.float64):
    """Distinct entries at least (high - low) / (2 size) apart (:func:`~minicnn.testing.sampling.tie_free`)."""
    seed = draw(st.integers(0, 2**32 - 1))
    return tie_free(np.random.default_rng(seed), shape, low, high, dtype)


@st.composite
def positive_arrays(draw, shape, low=0.5, high=2.0, dtype=np.float64):
    """Entries in [low, high] (for log, sqrt, division)."""
    return draw(arrays(shape, low, high, dtype=dtype))


@st.composite
def broadcastable_to(draw, shape):
    """A shape that broadcasts to ``shape``: some leading axes dropped, some sizes set to 1.

    E.g. for (2, 3, 4): (2, 3, 4), (3, 4), (1, 4), (2, 1, 1), (4,), ...
    """
    shape = tuple(shape)
    dropped = draw(st.integers(0, len(shape)))
    kept = shape[dropped:]
    ones = draw(st.lists(st.booleans(), min_size=len(kept), max_size=len(kept)))
    return tuple(1 if one else n for n, one in zip(kept, ones))


@st.composite
def broadcast_shapes(draw, count=2, **shape_options):
    """A list of ``count`` shapes that broadcast together (for binary ops).

    One shape is drawn from :func:`shapes` (``shape_options`` go there: batch
    >= 2); each operand is that shape or a :func:`broadcastable_to` variant of
    it, e.g. [(2, 3, 4), (3, 1)] or [(2, 1, 4), (1, 3, 1)].
    """
    full = draw(shapes(**shape_options))
    return [draw(st.one_of(st.just(full), broadcastable_to(full))) for _ in range(count)]
