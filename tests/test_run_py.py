"""run.py, the newcomer's entry point: each command sets up the extra it needs before running.

No environment is created or installed here: ensure_environment's installer and the commands it
would start are replaced by recorders.
"""
import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_py(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location("run_under_test", ROOT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "VENV", tmp_path / ".venv")
    (tmp_path / ".venv").mkdir()
    calls = {"extras": [], "commands": []}
    monkeypatch.setattr(module, "ensure_environment", lambda extras: calls["extras"].append(extras))

    def fake_run(command, **kwargs):
        calls["commands"].append([str(c) for c in command])
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(module.subprocess, "run", fake_run)
    module.calls = calls
    return module


@pytest.mark.parametrize("argv, extras", [
    (["grade", "2.1"], "grade"),
    (["grade", "3.2", "-v"], "grade"),
    (["test", "-q"], "test"),
    (["lab"], "notebooks"),
    (["demo"], ""),
    (["gradcheck", "conv2d"], ""),
])
def test_each_command_installs_what_it_needs(run_py, argv, extras):
    assert run_py.main(argv) == 0
    assert run_py.calls["extras"] == [extras]


def test_grade_runs_the_minicnn_grader_with_its_arguments(run_py):
    run_py.main(["grade", "3.2", "-v"])
    command = run_py.calls["commands"][-1]
    assert command[1:] == ["-m", "minicnn", "grade", "3.2", "-v"]


def test_lab_starts_jupyterlab_from_the_venv_at_the_repository_root(run_py):
    run_py.main(["lab"])
    command = run_py.calls["commands"][-1]
    assert command[0] == str(run_py.PYTHON) and command[1:3] == ["-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={run_py.ROOT}" in command


def test_the_grade_extra_is_covered_by_the_test_extra(run_py, monkeypatch):
    """A .venv set up by `run.py test` already has the grading tools: no second install."""
    stamp, text = run_py._stamp("test")
    stamp.write_text(text)
    assert run_py._installed("test") and not run_py._installed("grade")
    installs = []
    spec = importlib.util.spec_from_file_location("run_real", ROOT / "run.py")   # the real ensure_environment
    real = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real)
    monkeypatch.setattr(real, "VENV", run_py.VENV)
    monkeypatch.setattr(real.subprocess, "run", lambda *a, **k: installs.append(a))
    real.ensure_environment("grade")
    assert installs == [], "grade must not reinstall when the test extra is installed"


def test_grade_extra_lists_the_grading_tools():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    names = {spec.split("=")[0].split(">")[0].split("<")[0].strip() for spec in extras["grade"]}
    assert {"pytest", "pytest-timeout", "hypothesis", "torch", "scikit-learn"} <= names
    assert "torch==2.13.0" in extras["grade"]
    assert any(spec.startswith("jupyterlab") for spec in extras["notebooks"])
