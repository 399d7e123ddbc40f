"""The graded tests catch typical mistakes, and their reports name what is wrong.

Each mistake of tests/planted_mistakes.py is planted in a copy of solutions/
and graded with the real grader (judge and workers, as ``minicnn grade``
does). The exercise must fail, and its report (the summary line and the full
report a student reads) must name the wrong quantity.

To keep the time down, the mistakes are graded in rounds: one mistake per
exercise in each round, every file of a round graded by one ``grade()`` call
(two rounds, each about one grading of every exercise: marked slow).
The graded tests of an exercise use minicnn's own versions of the earlier
functions of its file, so a mistake in one exercise does not fail another
(:func:`test_a_round_fails_only_its_own_exercises` checks it).
"""
from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from minicnn.course import registry
from minicnn.course.grade import grade

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from planted_mistakes import MISTAKES, rounds  # noqa: E402

SOLUTIONS = HERE.parent / "solutions"
ROUNDS = rounds()
ROUND_OF = {id(m): i for i, group in enumerate(ROUNDS) for m in group}

#: Mistakes the graded tests let through (reported as xfail, not as a failure); empty today. A mistake
#: listed here and caught fails its test, so the set cannot go stale silently.
OPEN_HOLES = set()


def _solution(mistake) -> Path:
    return SOLUTIONS / f"{registry.get(mistake.exercise).module}.py"


def plant(mistakes, folder: Path) -> None:
    """A copy of solutions/ in ``folder`` with ``mistakes`` applied (each ``old`` must occur once)."""
    shutil.copytree(SOLUTIONS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for m in mistakes:
        path = folder / _solution(m).name
        text = path.read_text(encoding="utf-8")
        count = text.count(m.old)
        if count != 1:
            raise AssertionError(f"planted mistake {m.exercise} {m.name!r}: the text to replace occurs {count} "
                                 f"times in solutions/{path.name} (expected once): {m.old!r}")
        path.write_text(text.replace(m.old, m.new), encoding="utf-8")


def _label(m) -> str:
    return f"{m.exercise} {m.name}"


# --------------------------------------------------------------------------- the list itself
def test_enough_mistakes_across_the_chapters():
    assert len(MISTAKES) >= 40, f"only {len(MISTAKES)} planted mistakes"
    chapters = {registry.get(m.exercise).chapter for m in MISTAKES}
    assert chapters == set(registry.CHAPTERS), f"chapters without a planted mistake: " \
                                               f"{sorted(set(registry.CHAPTERS) - chapters)}"
    names = [(m.exercise, m.name) for m in MISTAKES]
    assert len(set(names)) == len(names), "two planted mistakes share an exercise and a name"
    for m in MISTAKES:
        re.compile(m.report)


@pytest.mark.parametrize("mistake", MISTAKES, ids=_label)
def test_the_mistake_applies_to_the_solution(mistake):
    """A stale mistake (its text no longer in the solution) fails loudly instead of passing silently."""
    text = _solution(mistake).read_text(encoding="utf-8")
    assert text.count(mistake.old) == 1, \
        f"{mistake.exercise} {mistake.name!r}: {mistake.old!r} occurs {text.count(mistake.old)} times " \
        f"in solutions/{_solution(mistake).name}"
    assert mistake.new != mistake.old


# --------------------------------------------------------------------------- grading the rounds
class _Rounds:
    """Grades each round once, when a test first asks for it."""

    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.results = {}

    def result(self, index):
        if index not in self.results:
            group = ROUNDS[index]
            folder = self.tmp.mktemp(f"planted-round{index}") / "impl"
            plant(group, folder)
            modules = {registry.get(m.exercise).module for m in group}
            exercises = [e for e in registry.EXERCISES if e.module in modules]
            graded = grade(exercises, implementation=str(folder), timeout=60.0, jobs=2)
            self.results[index] = {r.exercise.id: r for r in graded}
        return self.results[index]


@pytest.fixture(scope="module")
def graded_rounds(tmp_path_factory):
    return _Rounds(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("mistake", MISTAKES, ids=_label)
def test_the_mistake_is_caught_and_named(mistake, graded_rounds):
    result = graded_rounds.result(ROUND_OF[id(mistake)])[mistake.exercise]
    report = f"{result.message}\n{result.report}"
    if (mistake.exercise, mistake.name) in OPEN_HOLES:
        assert result.passed, f"{mistake.exercise} {mistake.name!r} is caught now: remove it from OPEN_HOLES"
        pytest.xfail(f"{mistake.exercise} passes with the planted mistake {mistake.name!r} until branch nb is merged")
    assert not result.passed, f"exercise {mistake.exercise} passed with the planted mistake {mistake.name!r}"
    assert re.search(mistake.report, report, re.IGNORECASE), \
        f"the report of {mistake.exercise} with the planted mistake {mistake.name!r} does not match " \
        f"{mistake.report!r}:\n{result.full_report()}"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(ROUNDS)), ids=lambda i: f"round{i}")
def test_a_round_fails_only_its_own_exercises(index, graded_rounds):
    """Every exercise of the round's files without a mistake of its own passes: a mistake in one
    exercise does not fail another (so the report above is the mistake's own)."""
    planted = {m.exercise for m in ROUNDS[index]}
    failed = [f"{r.exercise.id}: {r.message}" for r in graded_rounds.result(index).values()
              if r.exercise.id not in planted and not r.passed]
    assert not failed, f"round {index}: exercises without a planted mistake fail: " + "; ".join(failed)


# --------------------------------------------------------------------------- how the report reads
def test_the_full_report_says_the_summary_once_and_ends_with_the_hint():
    for summary in ("output (compared with torch) is wrong: 1 of 4 entries differ (shape (4,))",
                    "RuntimeError: MulBackward returned a gradient of shape (1,) for input 0, of shape ()"):
        _check_full_report(summary)


def _check_full_report(summary):
    from minicnn.course.grade import Result
    first = summary if summary.startswith("RuntimeError") else f"AssertionError: {summary}"
    result = Result(registry.get("7.1"), passed=False, tests=3, failed=1, message=summary,
                    report=f"{first}\n  first differences: at [2] expected 1, got 0.5\n"
                           "Failing test case: test_se(\ncase=((2, 4, 3, 3), 2),\n)")
    text = result.full_report()
    assert text.count(summary) == 1, text
    assert "first differences: at [2] expected 1, got 0.5" in text and "case=((2, 4, 3, 3), 2)," in text
    assert text.splitlines()[-1] == f"  Hint: {registry.get('7.1').hint}"


def test_the_details_leave_out_minicnn_frames_and_module_arguments():
    import importlib.util
    spec = importlib.util.spec_from_file_location("graded_conftest", HERE / "exercises" / "conftest.py")
    graded_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(graded_conftest)
    _without_clutter = graded_conftest._without_clutter
    lines = ["RuntimeError: MulBackward returned a gradient of shape (1,) for input 0, of shape ()",
             "raised in the worker:", "Traceback (most recent call last):",
             f'File "{HERE.parent}/minicnn/course/judge/peer.py", line 488, in _serve',
             "value = self._perform(action, args)", "^^^^^^^^^^^^",
             'File "/tmp/minicnn-worker-1/ch02_autograd.py", line 57, in backward',
             "grad_a = grad * self.b",
             f'File "{HERE.parent}/minicnn/autograd.py", line 266, in run_backward',
             'raise RuntimeError(f"{fn.name} returned a gradient")',
             "RuntimeError: MulBackward returned a gradient of shape (1,) for input 0, of shape ()", "",
             "Failing test case: test_mul_backward(",
             "ch2_ref=<module 'ch02_autograd' from '/tmp/minicnn-worker-1/ch02_autograd.py'>,",
             "data=data(...),", "pair=BroadcastableShapes(input_shapes=((), (1,)), result_shape=(1,)),", ")"]
    kept = _without_clutter(lines)
    assert not any("minicnn/" in line or "<module" in line or "_perform" in line for line in kept), kept
    assert 'File "/tmp/minicnn-worker-1/ch02_autograd.py", line 57, in backward' in kept
    assert "grad_a = grad * self.b" in kept and kept[-2].startswith("pair=") and kept[-1] == ")"
    assert kept.count(lines[0]) == 2   # the summary, and the exception at the end of the traceback
    internal = [line for line in lines if "worker-1/ch02" not in line and "grad_a" not in line]
    kept = _without_clutter(internal)   # nothing of the student's in the traceback: no traceback at all
    assert kept.count(lines[0]) == 1 and "raised in the worker:" not in kept and "Traceback" not in str(kept), kept
