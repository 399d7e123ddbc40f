"""The student release (minicnn.course.release): what it holds, that no solution leaks into it, and
that the grader works from it alone."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minicnn.course import registry, release

ROOT = release.ROOT


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "minicnn-course"
    files = release.write_release(out)
    return out, files


def _release_env(folder):
    """The environment of a command run from a release: its own package first, nothing of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINICNN_")}
    env.update(PYTHONPATH=str(folder), MPLBACKEND="Agg", TQDM_DISABLE="1", PYTHONDONTWRITEBYTECODE="1")
    return env


# --------------------------------------------------------------------------- what is in it
def test_release_holds_the_course_and_the_grader(released):
    out, files = released
    files = {f.as_posix() for f in files}
    expected = {"README.md", "pyproject.toml", "run.py", "tests/conftest.py", "tests/exercises/conftest.py",
                "tests/exercises/grading_helpers.py", "minicnn/cli.py", "minicnn/course/grade.py",
                "minicnn/course/registry.py", "minicnn/course/batch.py", "minicnn/course/gradescope.py",
                "minicnn/course/submission.py"}
    for chapter, module in registry.MODULES.items():
        expected |= {f"exercises/{module}.py", f"tests/exercises/test_{module}.py"}
        assert any(f.startswith(f"notebooks/{chapter:02d}_") and f.endswith(".ipynb") for f in files), chapter
    assert expected <= files, sorted(expected - files)
    # the exercise stubs are copied byte for byte
    for module in registry.MODULES.values():
        assert (out / "exercises" / f"{module}.py").read_bytes() == (ROOT / "exercises" / f"{module}.py").read_bytes()


def test_release_holds_no_solutions_instructor_guide_or_tooling(released):
    out, files = released
    names = {f.as_posix() for f in files}
    for forbidden in ("solutions", "docs/instructor.md", "minicnn/course/make_exercises.py",
                      "minicnn/course/release.py", "minicnn/course/release_text.py", "tests/test_course.py"):
        assert not (out / forbidden).exists(), forbidden
    assert not any(part in (".git", "__pycache__", ".hypothesis", ".pytest_cache") or part.endswith(".egg-info")
                   for f in files for part in f.parts)
    assert not any(f.endswith(".pyc") for f in names)
    assert (out / "docs" / "architecture.md").exists()


def test_released_notebooks_have_no_outputs(released):
    out, _ = released
    for path in (out / "notebooks").glob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


def test_student_readme(released):
    out, _ = released
    readme = (out / "README.md").read_text()
    for needed in ("git clone", "jupyter lab notebooks/", "minicnn grade 3.2", "minicnn grade --list",
                   "Handing in", "NotImplementedError"):
        assert needed in readme, needed
    for module in registry.MODULES.values():
        assert f"exercises/{module}.py" in readme
    assert "solution" not in readme.lower() and "instructor.md" not in readme
    assert f"{len(registry.EXERCISES)} exercises, {sum(e.points for e in registry.EXERCISES)} points" in readme


# --------------------------------------------------------------------------- no solution leaks
def test_no_solution_line_appears_anywhere_in_the_release(released):
    out, _ = released
    secrets = release.secret_lines()
    every_line = release.solution_lines(ROOT / "solutions")
    # most of the solution code is secret; the rest is minicnn's own code, the stubs' or the tests'
    assert len(every_line) > 200 and len(secrets) > 0.7 * len(every_line)
    assert release.find_leaks(out, secrets) == []


def test_the_leak_check_finds_every_secret_line_in_the_solutions():
    """The check can fail: run on solutions/ itself, it reports every secret line."""
    secrets = release.secret_lines()
    found = {line for _, line, _ in release.find_leaks(ROOT / "solutions", secrets)}
    assert found == set(secrets)


def test_solution_lines_are_the_region_lines_of_a_minimum_length(tmp_path):
    (tmp_path / "ch99.py").write_text(
        "def f(x):\n    outside_the_region_and_long_enough = 1\n"
        "    # BEGIN SOLUTION 1.1\n    short = 1\n    inside_the_region_and_long_enough = x + 1\n"
        "    # END SOLUTION\n")
    assert release.solution_lines(tmp_path) == {"inside_the_region_and_long_enough = x + 1": "solutions/ch99.py:5"}


@pytest.fixture
def course_copy(tmp_path):
    """A scratch copy of the course repository's released parts and its solutions."""
    root = tmp_path / "course"
    for entry in ("minicnn", "notebooks", "exercises", "solutions", "tests/exercises"):
        shutil.copytree(ROOT / entry, root / entry, ignore=shutil.ignore_patterns("__pycache__"))
    for entry in ("pyproject.toml", "run.py", "tests/conftest.py"):
        shutil.copyfile(ROOT / entry, root / entry)
    return root


def test_a_solution_pasted_into_a_notebook_is_refused(course_copy, tmp_path):
    secret, where = next(iter(release.secret_lines(course_copy).items()))
    path = course_copy / "notebooks" / "01_tour.ipynb"
    notebook = json.loads(path.read_text())
    notebook["cells"].append({"cell_type": "markdown", "id": "leak", "metadata": {},
                              "source": ["A hint:\n", f"    {secret}\n"]})
    path.write_text(json.dumps(notebook, indent=1))
    with pytest.raises(release.ReleaseError, match="01_tour.ipynb") as info:
        release.write_release(tmp_path / "out", root=course_copy)
    assert where in str(info.value)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out-")]   # no half-written folder


def test_a_solved_stub_is_refused(course_copy, tmp_path):
    shutil.copyfile(course_copy / "solutions" / "ch01_backend.py", course_copy / "exercises" / "ch01_backend.py")
    with pytest.raises(release.ReleaseError, match="ch01_backend.py.*make-exercises"):
        release.write_release(tmp_path / "out", root=course_copy)
    assert not (tmp_path / "out").exists()


def test_notebook_outputs_are_cleared(course_copy, tmp_path):
    path = course_copy / "notebooks" / "02_autodiff.ipynb"
    notebook = json.loads(path.read_text())
    cell = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["an output\n"]}]
    cell["execution_count"] = 7
    path.write_text(json.dumps(notebook, indent=1))
    release.write_release(tmp_path / "out", root=course_copy)
    written = json.loads((tmp_path / "out" / "notebooks" / "02_autodiff.ipynb").read_text())
    assert all(c.get("outputs", []) == [] and c.get("execution_count") is None for c in written["cells"])
    assert len(written["cells"]) == len(notebook["cells"])


# --------------------------------------------------------------------------- where it may be written
def test_release_folder_rules(released, tmp_path):
    out, _ = released
    with pytest.raises(release.ReleaseError, match="outside the course repository"):
        release.write_release(ROOT / "build" / "release")
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep me")
    with pytest.raises(release.ReleaseError, match="not empty"):
        release.write_release(other)
    with pytest.raises(release.ReleaseError, match="does not look like a minicnn release"):
        release.write_release(other, force=True)
    assert (other / "mine.txt").read_text() == "keep me"
    again = tmp_path / "again"
    shutil.copytree(out, again)
    (again / "stale.txt").write_text("from an earlier release")
    release.write_release(again, force=True)                  # an earlier release is replaced
    assert not (again / "stale.txt").exists() and (again / "README.md").exists()


@pytest.mark.parametrize("argv, message", [
    ([], "name a folder OUT"),
    (["out", "--exercises", "1.1"], "only for --autograder"),
    (["--autograder", "ag.zip", "--exercises", "99.9"], "no exercise"),
    (["--autograder", "ag.zip", "--timeout", "0"], "--timeout must be a positive"),
])
def test_release_command_usage_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert release.main(argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_writes_a_release(tmp_path, capsys):
    from minicnn import cli
    assert cli.main(["release", str(tmp_path / "out")]) == 0
    assert "student release written to" in capsys.readouterr().out
    assert (tmp_path / "out" / "README.md").exists() and not (tmp_path / "out" / "solutions").exists()
    assert cli.main(["release"]) == 2


# --------------------------------------------------------------------------- grading from the release
def test_grading_runs_from_the_release_alone(released, tmp_path):
    out, _ = released
    env = _release_env(out)
    where = subprocess.run([sys.executable, "-c", "import minicnn; print(minicnn.__file__)"], cwd=out, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).resolve().is_relative_to(out.resolve())          # the release's own package
    scores = tmp_path / "scores.json"
    process = subprocess.run([sys.executable, "-m", "minicnn", "grade", "1.1", "--impl", str(out / "exercises"),
                              "--timeout", "20", "--json", str(scores)],
                             cwd=out, env=env, capture_output=True, text=True, timeout=300)
    assert process.returncode == 1, process.stdout + process.stderr
    [result] = json.loads(scores.read_text())
    assert result["id"] == "1.1" and result["points"] == 0 and not result["passed"]
    assert result["message"].startswith("NotImplementedError: Exercise 1.1:"), result["message"]
    assert "NotImplementedError: Exercise 1.1" in process.stdout


def test_instructor_commands_say_they_are_not_in_the_release(released):
    out, _ = released
    for command in ("make-exercises", "release"):
        process = subprocess.run([sys.executable, "-m", "minicnn", command], cwd=out, env=_release_env(out),
                                 capture_output=True, text=True, timeout=120)
        assert process.returncode == 2
        assert "not part of this student release" in process.stderr and "Traceback" not in process.stderr
