"""Set-up of the graded exercise tests (run by `minicnn grade` and tests/test_course.py).

* Which implementation is graded: ``exercises/`` by default; ``solutions/``
  with ``--solutions`` or ``MINICNN_IMPL=solutions``; any folder with
  ``MINICNN_IMPL=/path/to/folder``.
* Student code is imported inside the ``load`` fixture, never at module
  level, so a syntax error in one file fails only the tests that use it.
* One marker per exercise (``@pytest.mark.ex3_2``), registered here from
  :mod:`minicnn.course.registry` (pyproject sets --strict-markers).
* ``MINICNN_RESULTS=path.json`` makes the run write every test's outcome,
  its exercises and the first line of its failure (the grader reads it).
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
    if os.environ.get("MINICNN_RESULTS"):
        config.pluginmanager.register(_ResultsRecorder(os.environ["MINICNN_RESULTS"]), "minicnn-results")


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
    crash = getattr(longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(longrepr)
    if isinstance(longrepr, tuple):  # skips: (file, line, reason)
        text = str(longrepr[2])
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


class _ResultsRecorder:
    """Writes {"tests": [{nodeid, exercises, outcome, message}], "errors": [...]} at the end."""

    def __init__(self, path):
        self.path = path
        self.tests = {}
        self.errors = []

    def pytest_runtest_logreport(self, report):
        exercises = sorted(k for k in report.keywords if k in _MARKERS)
        entry = self.tests.setdefault(report.nodeid, {"nodeid": report.nodeid, "exercises": exercises,
                                                       "outcome": "passed", "message": ""})
        if report.failed and entry["outcome"] != "failed":
            entry["outcome"], entry["message"] = "failed", _first_line(report)
        elif report.skipped and entry["outcome"] == "passed":
            entry["outcome"], entry["message"] = "skipped", _first_line(report)

    def pytest_collectreport(self, report):
        if report.failed:
            self.errors.append({"nodeid": report.nodeid, "message": _first_line(report)})

    def pytest_sessionfinish(self, session):
        Path(self.path).write_text(json.dumps({"tests": list(self.tests.values()), "errors": self.errors},
                                              indent=1))


_MARKERS = {e.marker for e in registry.EXERCISES}
