"""Gradescope: the results.json format (minicnn.course.gradescope) and the autograder bundle written by
`minicnn release --autograder`, run against a scratch folder laid out as Gradescope lays it out."""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass

import pytest

from minicnn.course import gradescope, registry, release

ROOT = release.ROOT


@dataclass
class FakeResult:
    """What the grader returns, as far as the Gradescope format reads it."""
    exercise: registry.Exercise
    passed: bool
    message: str = ""
    report: str = ""

    @property
    def score(self):
        return self.exercise.points if self.passed else 0


def _results():
    return [FakeResult(registry.get("1.1"), True),
            FakeResult(registry.get("3.2"), False, "AssertionError: im2col is wrong",
                       "Falsifying example: x.shape=(1, 1, 3, 3)\nAssertionError: im2col is wrong\n"),
            FakeResult(registry.get("2.1"), False, "NotImplementedError: Exercise 2.1: ...")]


# --------------------------------------------------------------------------- the format
def test_results_follow_gradescopes_format():
    data = gradescope.gradescope_results(_results(), execution_time=12.4)
    assert set(data) == {"score", "output", "visibility", "stdout_visibility", "tests", "execution_time"}
    assert data["score"] == 2.0 and data["execution_time"] == 12
    assert data["visibility"] == "visible" and data["stdout_visibility"] == "hidden"
    assert data["output"].startswith("Graded 3 exercise(s): 2 of 7 points, 1 passed.")
    names = [t["name"] for t in data["tests"]]
    assert names == [f"{e.id} {e.title}" for e in map(registry.get, ("1.1", "3.2", "2.1"))]
    for test, exercise_id in zip(data["tests"], ("1.1", "3.2", "2.1")):
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert test["number"] == exercise_id and test["max_score"] == float(registry.get(exercise_id).points)
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
    passed, failed, stub = data["tests"]
    assert (passed["score"], passed["status"], passed["output"]) == (2.0, "passed", "passed")
    assert (failed["score"], failed["status"]) == (0.0, "failed")
    assert failed["output"].startswith("AssertionError: im2col is wrong\n\nFalsifying example")   # message, report
    assert stub["output"] == "NotImplementedError: Exercise 2.1: ..."
    json.dumps(data)                                                                         # plain JSON


def test_visibility_and_extra_output():
    data = gradescope.gradescope_results(_results(), visibility="after_due_date", stdout_visibility="visible",
                                         output="ch03_convolution.py: not found in the submission")
    assert data["visibility"] == "after_due_date" and data["stdout_visibility"] == "visible"
    assert all(t["visibility"] == "after_due_date" for t in data["tests"])
    assert data["output"].endswith("\n\nch03_convolution.py: not found in the submission")
    assert "execution_time" not in data
    with pytest.raises(ValueError, match="visibility must be one of hidden, after_due_date"):
        gradescope.gradescope_results(_results(), visibility="public")


def test_long_reports_are_cut():
    result = FakeResult(registry.get("1.1"), False, "AssertionError", "x" * 50_000)
    output = gradescope.test_output(result)
    assert len(output) <= gradescope.OUTPUT_LIMIT and output.endswith("characters cut)")


def test_write_gradescope_writes_the_json(tmp_path):
    path = tmp_path / "results" / "results.json"
    written = gradescope.write_gradescope(_results(), path)
    assert json.loads(path.read_text()) == written
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]          # no temporary file left


def test_autograde_writes_results_even_when_grading_fails(tmp_path):
    data = gradescope.autograde(tmp_path)                  # no submission/ folder at all
    written = json.loads((tmp_path / "results" / "results.json").read_text())
    assert written == data and data["score"] == 0.0 and data["tests"] == []
    assert "could not grade" in data["output"] and "is not a folder" in data["output"]
    (tmp_path / "submission").mkdir()
    data = gradescope.autograde(tmp_path, names=["99.9"])
    assert data["score"] == 0.0 and "no exercise '99.9'" in data["output"]


# --------------------------------------------------------------------------- the bundle
@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    folder = tmp_path_factory.mktemp("autograder")
    zip_path = folder / "autograder.zip"
    names = release.write_autograder(zip_path, exercises=["1.1", "1.2"], timeout=20)
    return zip_path, names


def test_bundle_holds_the_scripts_and_the_release_without_solutions(bundle):
    zip_path, names = bundle
    with zipfile.ZipFile(zip_path) as z:
        infos = {i.filename: i for i in z.infolist()}
    assert set(infos) == set(names)
    for script in ("setup.sh", "run_autograder"):            # at the root of the zip, executable
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    for needed in ("pyproject.toml", "minicnn/course/grade.py", "minicnn/course/gradescope.py",
                   "tests/exercises/conftest.py", "tests/conftest.py"):
        assert needed in infos
    assert not any(n.split("/")[0] in ("solutions", ".git") or n == "docs/instructor.md" or "__pycache__" in n
                   for n in names)


def test_bundle_scripts_are_valid_bash(bundle, tmp_path):
    zip_path, _ = bundle
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(tmp_path)
    for script in ("setup.sh", "run_autograder"):
        subprocess.run(["bash", "-n", str(tmp_path / script)], check=True)
    setup = (tmp_path / "setup.sh").read_text()
    assert '-e "$SOURCE[test]"' in setup and "download.pytorch.org/whl/cpu" in setup
    assert "DEFAULT_EXERCISES='1.1 1.2'" in (tmp_path / "run_autograder").read_text()


def test_bundle_is_reproducible(bundle, tmp_path):
    zip_path, _ = bundle
    again = tmp_path / "again.zip"
    release.write_autograder(again, exercises=["1.1", "1.2"], timeout=20)
    assert again.read_bytes() == zip_path.read_bytes()


def _gradescope_layout(tmp_path, zip_path):
    """/autograder as Gradescope lays it out: source/ (the bundle), submission/, results/."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(zip_path) as z:
        z.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)      # Gradescope copies it executable
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def _run_autograder(root, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MINICNN_", "AUTOGRADER_", "PYTHONPATH"))}
    full.update({"AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable, **env})
    process = subprocess.run([str(root / "source" / "run_autograder")], cwd=root, env=full,
                             capture_output=True, text=True, timeout=300)
    assert process.returncode == 0, process.stdout + process.stderr
    return json.loads((root / "results" / "results.json").read_text()), process.stdout


def test_run_autograder_on_untouched_stubs_scores_zero(bundle, tmp_path):
    zip_path, _ = bundle
    root = _gradescope_layout(tmp_path, zip_path)
    shutil.copyfile(ROOT / "exercises" / "ch01_backend.py", root / "submission" / "ch01_backend.py")
    data, stdout = _run_autograder(root)
    assert data["score"] == 0.0
    assert [(t["number"], t["score"], t["max_score"], t["status"]) for t in data["tests"]] == \
        [("1.1", 0.0, 2.0, "failed"), ("1.2", 0.0, 1.0, "failed")]
    for test in data["tests"]:
        assert test["output"].startswith(f"NotImplementedError: Exercise {test['number']}:"), test["output"]
    assert "files found: ch01_backend.py" in stdout


def test_run_autograder_gives_the_solutions_full_marks(bundle, tmp_path):
    """A repository-shaped submission (the files in exercises/ one level down) is found."""
    zip_path, _ = bundle
    root = _gradescope_layout(tmp_path, zip_path)
    (root / "submission" / "my-repo" / "exercises").mkdir(parents=True)
    shutil.copyfile(ROOT / "solutions" / "ch01_backend.py",
                    root / "submission" / "my-repo" / "exercises" / "ch01_backend.py")
    data, _ = _run_autograder(root)
    assert data["score"] == 3.0 and [t["status"] for t in data["tests"]] == ["passed", "passed"]
    assert data["output"].startswith("Graded 2 exercise(s): 3 of 3 points, 2 passed.")


def test_run_autograder_writes_results_when_python_fails(bundle, tmp_path):
    zip_path, _ = bundle
    root = _gradescope_layout(tmp_path, zip_path)
    data, _ = _run_autograder(root, AUTOGRADER_PYTHON="/bin/false")
    assert data["score"] == 0.0 and data["tests"] == []
    assert "could not grade this submission (it stopped with status 1)" in data["output"]
