"""Set-up of the graded exercise tests (run by `minicnn grade` and tests/test_course.py).

* Which implementation is graded: ``exercises/`` by default; ``solutions/``
  with ``--solutions`` or ``MINICNN_IMPL=solutions``; any folder with
  ``MINICNN_IMPL=/path/to/folder``.
* Student code is imported inside the ``load`` fixture, never at module
  level, so a syntax error in one file fails only the tests that use it.
* One marker per exercise (``@pytest.mark.ex3_2``), registered here from
  :mod:`minicnn.course.registry` (pyproject sets --strict-markers).
* ``MINICNN_RESULTS=path.jsonl`` makes the run write, as it goes, every
  test's exercises, outcome and first line of failure (read by
  :func:`minicnn.course.grade.read_results`).
* These tests are collected only when asked for by path
  (``pytest tests/exercises ...``): a plain ``pytest`` must not run them
  against the unsolved stubs.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from minicnn.course import registry
from minicnn.course.judge.peer import WorkerFailure
from minicnn.course.judge.sandbox import Limits, Worker, become_subreaper, end_descendants
from minicnn.course.judge.shortcuts import static_check

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


# --------------------------------------------------------------------------- collect only when asked
def _asked_for(config) -> bool:
    """True when a command-line path points into tests/exercises (or MINICNN_IMPL is set)."""
    if os.environ.get("MINICNN_IMPL"):
        return True
    for arg in config.args:
        path = Path(str(arg).split("::")[0])
        path = (Path(config.invocation_params.dir) / path).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if collection_path.name.startswith("test_") and not _asked_for(config):
        return True
    return None


# --------------------------------------------------------------------------- options and markers
def pytest_addoption(parser):
    parser.addoption("--solutions", action="store_true", default=False,
                     help="grade solutions/ instead of exercises/ (same as MINICNN_IMPL=solutions)")


def pytest_configure(config):
    become_subreaper()      # whatever a worker leaves behind comes back to the judge, to be ended
    for exercise in registry.EXERCISES:
        config.addinivalue_line("markers", f"{exercise.marker}: exercise {exercise.id}, {exercise.title}")
    # A stub's @st.composite strategy raises before it draws; Hypothesis warns about that.
    config.addinivalue_line("filterwarnings", "ignore:There is no reason to use @st.composite")
    if os.environ.get("MINICNN_RESULTS"):
        config.pluginmanager.register(_ResultsRecorder(os.environ["MINICNN_RESULTS"]), "minicnn-results")


def pytest_collection_finish(session):
    """Import torch before the first test's time limit starts, if a selected test needs it (the
    import takes seconds on a busy machine and must not count against a student's test)."""
    if any("torch" in getattr(item, "fixturenames", ()) for item in session.items):
        try:
            import torch  # noqa: F401
        except ImportError:
            pass


def implementation_dir(config) -> Path:
    if config.getoption("--solutions", default=False):
        return ROOT / "solutions"
    choice = os.environ.get("MINICNN_IMPL", "exercises")
    if choice in ("exercises", "solutions"):
        return ROOT / choice
    return Path(choice).resolve()


# --------------------------------------------------------------------------- student code: in workers
class _Workers:
    """One worker process per exercise (see minicnn.course.judge): the test, its references and its
    Hypothesis run here, in the judge; the student's code runs only in the worker, reached through
    proxies. A worker lives while the tests of its exercise run, and is ended (with everything it
    started) when the next exercise begins and at the end of the session."""

    def __init__(self):
        self.current = None              # (exercise id, folder, Worker)
        self.modules = {}                # (exercise id, folder, file) -> module proxy
        self.file_failures = {}          # (folder, file) -> message: the file failed at import

    def module(self, exercise_id, directory: Path, name: str):
        key = (exercise_id, str(directory), name)
        if key in self.modules:
            worker = self.current[2]
            if worker.peer.failure is not None:
                pytest.fail(f"{worker.peer.failure}", pytrace=False)
            return self.modules[key]
        path = directory / f"{name}.py"
        where = f"{path.parent.name}/{path.name}"
        failed = self.file_failures.get((str(directory), name))
        if failed:
            pytest.fail(failed, pytrace=False)
        if not path.exists():
            pytest.fail(f"{where} does not exist", pytrace=False)
        shortcut = static_check(path.read_text(encoding="utf-8", errors="replace"), exercise_id, str(path))
        if shortcut:
            pytest.fail(f"ShortcutError: {shortcut}", pytrace=False)
        self.close()
        worker = Worker(exercise_id, directory, limits_from_environment())
        self.current = (exercise_id, str(directory), worker)
        try:
            module = worker.load(name)
        except WorkerFailure as exc:
            self.file_failures[(str(directory), name)] = f"{where} does not import: {exc}"
            pytest.fail(self.file_failures[(str(directory), name)], pytrace=False)
        except Exception as exc:  # SyntaxError, ImportError, NameError at import time, ...
            self.file_failures[(str(directory), name)] = \
                f"{where} does not import: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            pytest.fail(self.file_failures[(str(directory), name)], pytrace=False)
        self.modules[key] = module
        return module

    def close(self):
        if self.current is not None:
            self.current[2].close()
            self.current = None
            self.modules.clear()


_workers = _Workers()


def limits_from_environment() -> Limits:
    """The worker's limits, set by ``minicnn grade`` through MINICNN_LIMITS (JSON) in the judge's
    environment (the worker never sees it)."""
    return Limits(**json.loads(os.environ.get("MINICNN_LIMITS", "{}")))


def exercise_of(item) -> str:
    markers = [m.name for m in item.iter_markers() if m.name in _MARKERS]
    if len(markers) != 1:
        raise RuntimeError(f"{item.nodeid}: a graded test carries exactly one exercise marker, not {markers}")
    return _BY_MARKER[markers[0]]


@pytest.fixture(scope="session")
def impl_dir(request):
    """The folder whose code is graded."""
    return implementation_dir(request.config)


@pytest.fixture
def load(impl_dir, request):
    """``load("ch03_convolution")``: the graded module, as a proxy of the module in the worker of this
    test's exercise."""
    exercise_id = exercise_of(request.node)
    return lambda name: _workers.module(exercise_id, impl_dir, name)


def pytest_sessionfinish(session):
    _workers.close()
    end_descendants()


# --------------------------------------------------------------------------- results for the grader
_PREFIXES = ("Failed: ", "minicnn.course.judge.peer.WorkerFailure: ", "WorkerFailure: ",
             "minicnn.course.judge.shortcuts.ShortcutError: ", "AssertionError: ")


def _first_line(report) -> str:
    """The summary of a failure: the first line of its message, without exception-type clutter."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # skips: (file, line, reason)
        text = str(longrepr[2])
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(longrepr)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    first = lines[0].strip() if lines else ""
    for prefix in _PREFIXES:
        if first.startswith(prefix):
            first = first[len(prefix):]
    return first


def _details(report, limit=80) -> str:
    """The useful part of a failure for the student: the error lines (what is wrong, where, the
    falsifying example Hypothesis found), without the judge's own traceback."""
    text = getattr(report, "longreprtext", "") or ""
    lines = [line[1:].strip() if line.startswith("E") else None for line in text.splitlines()]
    kept = [line for line in lines if line is not None]
    if not kept:
        kept = [line for line in text.splitlines() if line.strip()][-limit:]
    if len(kept) > limit:
        kept = kept[:limit] + [f"... ({len(kept) - limit} more lines)"]
    return "\n".join(kept)


class _ResultsRecorder:
    """Appends one JSON line per event to a file, flushed at once, so that the grader still knows
    what happened when a test hangs and the process is killed (pytest-timeout's thread method):

        {"event": "collected", "tests": {nodeid: [markers]}}
        {"event": "start", "nodeid": ...}
        {"event": "report", "nodeid": ..., "when": "setup|call|teardown", "outcome": ..., "message": ...}
        {"event": "collect_error", "nodeid": ..., "message": ...}
        {"event": "finish"}
    """

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")

    def write(self, **event):
        self.file.write(json.dumps(event) + "\n")
        self.file.flush()

    def pytest_collection_finish(self, session):
        self.write(event="collected", tests={
            item.nodeid: sorted(m.name for m in item.iter_markers() if m.name in _MARKERS)
            for item in session.items})

    def pytest_collectreport(self, report):
        if report.failed:
            self.write(event="collect_error", nodeid=report.nodeid, message=_first_line(report))

    def pytest_runtest_logstart(self, nodeid, location):
        self.write(event="start", nodeid=nodeid)

    def pytest_runtest_logreport(self, report):
        failed = report.outcome != "passed"
        self.write(event="report", nodeid=report.nodeid, when=report.when, outcome=report.outcome,
                   message=_first_line(report) if failed else "",
                   details=_details(report) if report.outcome == "failed" else "")

    def pytest_sessionfinish(self, session):
        self.write(event="finish")
        self.file.close()


_MARKERS = {e.marker for e in registry.EXERCISES}
_BY_MARKER = {e.marker: e.id for e in registry.EXERCISES}
