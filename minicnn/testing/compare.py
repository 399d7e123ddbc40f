"""Comparing two arrays with a message that says what is wrong, where, and by how much.

Used by the torch-parity helpers, the gradient check and the graded tests, so
that a failure reads, on its first line::

    gradient of input 1 (3, 4) is wrong: 5 of 12 entries differ, largest error 0.41 at [2, 1]
      (expected 1.25, got 0.84)

followed by the first mismatching positions with both values.
"""
from __future__ import annotations

import numpy as np

SHOWN = 5


def mismatch(name, ours, expected, rtol, atol) -> str | None:
    """None when ``ours`` matches ``expected`` (host float arrays) within ``atol + rtol |expected|``;
    else the message."""
    ours, expected = np.asarray(ours, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if ours.shape != expected.shape:
        return f"{name} has the wrong shape: {ours.shape}, expected {expected.shape}"
    error = np.abs(ours - expected)
    bad = ~(error <= atol + rtol * np.abs(expected))            # NaN on either side counts as bad
    bad &= ~(np.isnan(ours) & np.isnan(expected))
    bad |= np.isnan(ours) != np.isnan(expected)
    if not bad.any():
        return None
    count, total = int(bad.sum()), bad.size
    worst = np.unravel_index(int(np.nanargmax(np.where(bad, np.nan_to_num(error, nan=np.inf), -1.0))),
                             bad.shape) if bad.ndim else ()
    where = _index(worst)
    lines = [f"{name} is wrong: {count} of {total} entries differ (shape {ours.shape}), largest error "
             f"{_value(error[worst])} at {where} (expected {_value(expected[worst])}, got {_value(ours[worst])})"]
    positions = list(zip(*np.nonzero(bad)))[:SHOWN] if bad.ndim else [()]
    lines.append("  first differences: " + "; ".join(
        f"at {_index(p)} expected {_value(expected[p])}, got {_value(ours[p])}" for p in positions))
    lines.append(f"  (tolerance: |got - expected| <= {atol:g} + {rtol:g} |expected|)")
    return "\n".join(lines)


def assert_matches(name, ours, expected, rtol=1e-7, atol=1e-9):
    """Raise ``AssertionError`` with :func:`mismatch`'s message when the arrays differ."""
    message = mismatch(name, ours, expected, rtol, atol)
    if message:
        raise AssertionError(message)


def _index(position):
    return "[" + ", ".join(str(int(i)) for i in position) + "]"


def _value(x):
    return f"{float(x):.6g}"
