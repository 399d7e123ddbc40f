"""The course machinery: the exercise registry, the stub generator and the grader.

* :mod:`minicnn.course.registry`: every exercise (id, title, points, hint, file);
* :mod:`minicnn.course.make_exercises`: ``exercises/`` generated from the marked regions of
  ``solutions/`` (``minicnn make-exercises [--check]``);
* :mod:`minicnn.course.grade`: runs the graded tests of ``tests/exercises/`` against your
  ``exercises/`` and prints a score table (``minicnn grade [EXERCISE...] [--solutions]``).

See docs/instructor.md.
"""
from . import registry  # noqa: F401
from .registry import show  # noqa: F401
