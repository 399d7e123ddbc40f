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

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from minicnn.course import registry

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


# --------------------------------------------------------------------------- loading student code
_loaded = {}


def load_module(directory: Path, name: str):
    """Import ``directory/name.py`` once (a fresh module object per folder); fail the test if it
    does not import."""
    path = directory / f"{name}.py"
    key = str(path)
    if key not in _loaded:
        module_name = f"_graded_{directory.name}_{name}"
        try:
            if not path.exists():
                raise FileNotFoundError(f"{path} does not exist")
            spec = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            _loaded[key] = module
        except Exception as exc:  # SyntaxError, ImportError, NameError at import time, ...
            sys.modules.pop(module_name, None)
            _loaded[key] = exc
    value = _loaded[key]
    if isinstance(value, Exception):
        pytest.fail(f"{path.parent.name}/{path.name} does not import: {type(value).__name__}: {value}",
                    pytrace=False)
    return value


@pytest.fixture(scope="session")
def impl_dir(request):
    """The folder whose code is graded."""
    return implementation_dir(request.config)


@pytest.fixture
def load(impl_dir):
    """``load("ch03_convolution")``: the graded module (exercises/ or solutions/)."""
    return lambda name: load_module(impl_dir, name)


# --------------------------------------------------------------------------- results for the grader
def _first_line(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # skips: (file, line, reason)
        text = str(longrepr[2])
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(longrepr)
    lines = [line for line in text.strip().splitlines() if line.strip()]
    first = lines[0].strip() if lines else ""
    return first[len("Failed: "):] if first.startswith("Failed: ") else first


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
        self.write(event="report", nodeid=report.nodeid, when=report.when, outcome=report.outcome,
                   message=_first_line(report) if report.outcome != "passed" else "")

    def pytest_sessionfinish(self, session):
        self.write(event="finish")
        self.file.close()


_MARKERS = {e.marker for e in registry.EXERCISES}
