"""A student's Hypothesis strategy, drawn from in the worker, used by the judge's Hypothesis.

The judge cannot run the student's strategy (student code never runs in the
judge), so a :class:`RemoteStrategy` draws one integer seed in the judge and
asks the worker for the example that seed gives: the worker runs the strategy
on a fresh ``ConjectureData`` seeded with it and sends the value back as plain
data. The judge's Hypothesis therefore still draws, replays and shrinks, but it
shrinks the *seed*, not the student's example: a failing example is reported
as the worker produced it.
"""
from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies._internal.strategies import SearchStrategy

SEEDS = st.integers(0, 2 ** 63 - 1)


class RemoteStrategy(SearchStrategy):
    """A strategy object of the worker (``ch6.conv_geometries()``), seen from the judge."""

    def __init__(self, peer, number):
        super().__init__()
        self.remote_peer, self.number = peer, number

    def do_draw(self, data):
        seed = data.draw(SEEDS)
        from .peer import Proxy
        return Proxy(self.remote_peer, 0).draw_example(self, seed)

    def calc_is_empty(self, recur):
        return False

    def calc_has_reusable_values(self, recur):
        return False

    def __repr__(self):
        return f"<the student's strategy {self.number}>"


def draw_example(strategy, seed):
    """In the worker: the example ``strategy`` draws from a ConjectureData seeded with ``seed``."""
    import random

    from hypothesis.errors import StopTest
    from hypothesis.internal.conjecture.data import ConjectureData

    for attempt in range(20):              # a draw may be rejected (filter, assume): try other seeds
        data = ConjectureData(random=random.Random(seed + attempt), max_choices=10_000)
        try:
            return data.draw(strategy)
        except StopTest:
            continue
    raise ValueError("the strategy rejected 20 draws in a row (a filter or assume that rarely holds?)")
