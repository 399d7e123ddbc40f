"""Batch grading (minicnn.course.batch) and finding the exercise files in a submission
(minicnn.course.submission)."""
import csv
import json
import os

import pytest

from minicnn.course import batch, grade, registry, submission

ROOT = grade.ROOT
STUB, SOLUTION = (ROOT / "exercises" / "ch01_backend.py").read_text(), (ROOT / "solutions" / "ch01_backend.py").read_text()


# --------------------------------------------------------------------------- finding the files
def _write(path, text="# a file\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_files_in_an_exercises_folder_win_then_the_shallowest(tmp_path):
    _write(tmp_path / "ch01_backend.py", "top")
    _write(tmp_path / "repo" / "exercises" / "ch01_backend.py", "in exercises")
    _write(tmp_path / "a" / "b" / "ch02_autograd.py", "deep")
    _write(tmp_path / "c" / "ch02_autograd.py", "shallow")
    _write(tmp_path / "notes.py")
    chosen, notes = submission.find_exercise_files(tmp_path)
    assert {name: path.read_text() for name, path in chosen.items()} == \
        {"ch01_backend.py": "in exercises", "ch02_autograd.py": "shallow"}
    assert "ch01_backend.py: graded repo/exercises/ch01_backend.py (also found: ch01_backend.py)" in notes
    assert "ch02_autograd.py: graded c/ch02_autograd.py (also found: a/b/ch02_autograd.py)" in notes
    assert "ch03_convolution.py: not found in the submission" in notes
    assert len(notes) == len(submission.expected_names()) - 2 + 2


def test_hidden_folders_caches_and_links_are_skipped(tmp_path):
    _write(tmp_path / ".git" / "ch01_backend.py")
    _write(tmp_path / "__pycache__" / "ch02_autograd.py")
    _write(tmp_path / ".venv" / "lib" / "ch03_convolution.py")
    _write(tmp_path / "elsewhere.py", "a secret")
    (tmp_path / "ch04_conv_variants.py").symlink_to(tmp_path / "elsewhere.py")
    chosen, _ = submission.find_exercise_files(tmp_path)
    assert chosen == {}


def test_collect_copies_the_files_flat(tmp_path):
    _write(tmp_path / "in" / "deep" / "exercises" / "ch01_backend.py", STUB)
    copied, notes = submission.collect(tmp_path / "in", tmp_path / "out")
    assert copied == ["ch01_backend.py"] and (tmp_path / "out" / "ch01_backend.py").read_text() == STUB
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["ch01_backend.py"]
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        submission.collect(tmp_path / "missing", tmp_path / "out2")


def test_expected_names_follow_the_registry():
    assert submission.expected_names() == [f"{m}.py" for m in registry.MODULES.values()]


# --------------------------------------------------------------------------- outputs
def _graded():
    e11, e12 = registry.get("1.1"), registry.get("1.2")
    return {"ada": [grade.Result(exercise=e11, passed=True), grade.Result(exercise=e12, passed=True)],
            "bob, jr.": [grade.Result(exercise=e11, passed=False, message="NotImplementedError: Exercise 1.1"),
                         grade.Result(exercise=e12, passed=True)]}


def test_csv_has_one_row_per_student_and_one_column_per_exercise(tmp_path):
    path = tmp_path / "out" / "grades.csv"
    batch.write_csv(_graded(), registry.select(["1.1", "1.2"]), path)
    rows = list(csv.reader(path.open()))
    assert rows == [["student", "1.1", "1.2", "total"], ["ada", "2", "1", "3"], ["bob, jr.", "0", "1", "1"]]


def test_json_has_the_fields_of_grade_json(tmp_path):
    path = tmp_path / "results.json"
    batch.write_results_json(_graded(), path)
    data = json.loads(path.read_text())
    assert list(data) == ["ada", "bob, jr."]
    today = {"id": "1.1", "title": registry.get("1.1").title, "points": 0, "max_points": 2,
             "passed": False, "message": "NotImplementedError: Exercise 1.1"}
    assert {k: data["bob, jr."][0][k] for k in today} == today     # today's fields; "report" comes beside them


def test_summary_lists_points_and_passes():
    text = batch.summary(_graded(), registry.select(["1.1", "1.2"]))
    assert text.splitlines()[1:] == ["ada         3/3     2/2", "bob, jr.    1/3     1/2"]


# --------------------------------------------------------------------------- arguments
@pytest.mark.parametrize("make, args, message", [
    (None, [], "does not exist"),
    ("file", [], "is not a folder"),
    ("empty", [], "has no sub-folders"),
    ("class", ["--timeout", "0"], "--timeout must be a positive number"),
    ("class", ["--timeout", "-3"], "--timeout must be a positive number"),
    ("class", ["--jobs", "0"], "--jobs must be at least 1"),
    ("class", ["99.9"], "no exercise '99.9'"),
])
def test_bad_arguments_are_usage_errors(make, args, message, tmp_path, capsys):
    folder = tmp_path / "submissions"
    if make == "file":
        folder.write_text("not a folder")
    elif make == "empty":
        folder.mkdir()
        (folder / ".git").mkdir()                     # hidden folders are not students
        (folder / "readme.txt").write_text("files are not students")
    elif make == "class":
        (folder / "ada").mkdir(parents=True)
    out = tmp_path / "grades.csv"
    assert batch.batch_main([str(folder), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "usage: minicnn grade --batch" in err
    assert not out.exists()


def test_one_failing_student_does_not_stop_the_class(tmp_path, monkeypatch):
    for name in ("ada", "bob"):
        _write(tmp_path / name / "ch01_backend.py")

    def fake_grade(exercises, implementation, timeout, jobs, limits=None):
        if implementation.endswith("bob"):
            raise RuntimeError("the disk is full")
        return [grade.Result(exercise=e, passed=True) for e in exercises]
    monkeypatch.setattr(grade, "grade", fake_grade)
    graded = batch.grade_batch(tmp_path, registry.select(["1.1"]), timeout=5, jobs=2)
    assert list(graded) == ["ada", "bob"]
    assert graded["ada"][0].passed
    assert not graded["bob"][0].passed and "RuntimeError: the disk is full" in graded["bob"][0].message


def test_blas_threads_are_restored_after_a_batch(tmp_path, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    seen = []
    _write(tmp_path / "ada" / "ch01_backend.py")
    monkeypatch.setattr(grade, "grade", lambda exercises, *a, **k: seen.append(os.environ.get("OMP_NUM_THREADS"))
                        or [grade.Result(exercise=e, passed=True) for e in exercises])
    batch.grade_batch(tmp_path, registry.select(["1.1"]), jobs=2)
    assert seen == ["1"] and "OMP_NUM_THREADS" not in os.environ


# --------------------------------------------------------------------------- a real class
def test_batch_grades_a_class(tmp_path, capsys):
    """Two students graded for real, side by side: a solved copy, and untouched stubs in a whole
    repository."""
    submissions = tmp_path / "submissions"
    _write(submissions / "ada" / "ch01_backend.py", SOLUTION)
    _write(submissions / "bob" / "minicnn-course" / "exercises" / "ch01_backend.py", STUB)
    out, results = tmp_path / "grades.csv", tmp_path / "results.json"
    code = batch.batch_main([str(submissions), "1.1", "1.2", "--out", str(out), "--json", str(results),
                             "--timeout", "20", "--jobs", "2"])
    assert code == 0
    rows = list(csv.reader(out.open()))
    assert rows == [["student", "1.1", "1.2", "total"], ["ada", "2", "1", "3"], ["bob", "0", "0", "0"]]
    data = json.loads(results.read_text())
    assert [r["passed"] for r in data["ada"]] == [True, True]
    assert data["bob"][0]["message"].startswith("NotImplementedError: Exercise 1.1:")
    assert all(set(r) >= {"id", "title", "points", "max_points", "passed", "message"}
               for records in data.values() for r in records)
    printed = capsys.readouterr().out
    assert "for 2 student(s)" in printed and f"grades written to {out}" in printed
