"""The grader against submissions that try to cheat or break it (issue: a judge student code cannot fool).

Every attack runs against a *scratch copy* of the grading files (package, graded tests, pyproject), so
that an attack that worked could not damage this checkout. Each test shows: 0 points for the attacker,
the real cause named, unchanged grading files, no process left behind, and unchanged scores for an
honest student graded beside the attacker.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from minicnn.course import grade as grader
from minicnn.course.judge.peer import WorkerFailure
from minicnn.course.judge.sandbox import Limits, Worker, end_descendants

ROOT = Path(__file__).resolve().parents[1]
ATTACKS = Path(__file__).resolve().parent / "attacks"
TIMEOUT = 6


@pytest.fixture(scope="module")
def scratch():
    """A copy of the grading files in a fresh folder (the attacks aim at it), readable by the workers'
    own user id when the tests run as root."""
    top = Path(tempfile.mkdtemp(prefix="minicnn-scratch-"))
    os.chmod(top, 0o755)
    repo = top / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "minicnn", repo / "minicnn", ignore=ignore)
    shutil.copytree(ROOT / "tests" / "exercises", repo / "tests" / "exercises", ignore=ignore)
    shutil.copy(ROOT / "tests" / "conftest.py", repo / "tests" / "conftest.py")
    shutil.copy(ROOT / "pyproject.toml", repo / "pyproject.toml")
    shutil.copytree(ROOT / "solutions", repo / "solutions", ignore=ignore)
    shutil.copytree(ROOT / "exercises", repo / "exercises", ignore=ignore)
    yield repo
    shutil.rmtree(top, ignore_errors=True)


def run_grader(repo, *args, timeout=600):
    out = repo.parent / f"result-{time.monotonic_ns()}.json"
    env = dict(os.environ, PYTHONPATH=str(repo))
    env.pop("MINICNN_IMPL", None)
    process = subprocess.run([sys.executable, "-m", "minicnn", "grade", *args, "--json", str(out),
                              "--timeout", str(TIMEOUT), "--memory", "2"],
                             cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
    results = {r["id"]: r for r in json.loads(out.read_text())} if out.exists() else {}
    return process, results


def leftover_processes():
    """Processes still running a worker or the attacks' sleep (anywhere on the machine)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "minicnn.course.judge.worker" in cmdline or "sleep 600" in cmdline:
                found.append((int(entry), cmdline[:80]))
    return found


@pytest.fixture(scope="module")
def attacked(scratch):
    """Grade the attack files of chapters 1-5 once; the tests below read the outcome."""
    before = grader.fingerprint(scratch)
    start = time.monotonic()
    process, results = run_grader(scratch, "1", "2", "3", "4", "5", "--impl", str(ATTACKS))
    return {"process": process, "results": results, "seconds": time.monotonic() - start,
            "changed": grader.changed_files(before, grader.fingerprint(scratch)),
            "leftovers": leftover_processes()}


def _message(attacked, exercise_id):
    result = attacked["results"][exercise_id]
    assert result["points"] == 0 and not result["passed"], f"{exercise_id} scored {result['points']}"
    return result["message"]


def test_the_attacker_scores_zero_everywhere_and_the_grading_files_are_unchanged(attacked):
    results = attacked["results"]
    assert len(results) == 2 + 8 + 5 + 5 + 6, attacked["process"].stdout[-2000:]
    assert sum(r["points"] for r in results.values()) == 0
    assert attacked["changed"] == []
    assert attacked["leftovers"] == []


@pytest.mark.parametrize("exercise_id, expected", [
    ("1.1", "exited with status 0"),                      # forged results + os._exit(0)
    ("1.2", "is not allowed here"),                       # minicnn's own one-hot, found at run time
    ("2.2", "is not allowed here"),                       # exec of the solutions
    ("2.3", "may write only in its working folder"),      # appending a hook to the graded conftest
    ("2.4", "does not allow"),                            # os.system / fork
    ("2.5", f"timed out after {TIMEOUT} s"),              # os._exit overridden, signals ignored, endless loop
    ("2.6", "crashed: signal 11 (SIGSEGV)"),              # segmentation fault
    ("2.7", "used more than 2 GB of memory"),             # 20 GB allocation
    ("3.1", "the environment holds only"),                # the judge's environment never reaches the worker
    ("3.2", "minicnn's minicnn.ops.im2col.im2col is not allowed here"),   # static check
    ("3.3", "RecursionError"),
    ("3.4", "File too large"),                            # filling the disk
    ("3.5", "does not allow os.kill"),                    # killing the judge and everyone else
    ("4.1", "exited with status 3"),                      # sys.exit at import
    ("5.1", f"timed out after {TIMEOUT} s"),              # endless loop at import
])
def test_each_attack_fails_with_its_real_cause(attacked, exercise_id, expected):
    assert expected in _message(attacked, exercise_id)


def test_a_broken_file_costs_its_time_once(attacked):
    """An endless loop at import in ch05 fails its 6 exercises after one time limit, not six."""
    messages = {_message(attacked, f"5.{i}") for i in range(1, 7)}
    assert len(messages) == 1 and "does not import" in messages.pop()
    assert {_message(attacked, f"4.{i}") for i in range(1, 6)} == {_message(attacked, "4.1")}
    assert attacked["seconds"] < 60 + 4 * TIMEOUT * 3


def test_forged_lines_never_reach_the_instructors_terminal(attacked):
    out = attacked["process"].stdout + attacked["process"].stderr
    assert "2/2    passed" not in out
    assert "x" * 1000 not in out


def test_an_honest_student_graded_beside_an_attacker_keeps_full_marks(scratch, tmp_path):
    submissions = tmp_path / "class"
    (submissions / "attacker").mkdir(parents=True)
    (submissions / "honest").mkdir()
    shutil.copy(ATTACKS / "ch01_backend.py", submissions / "attacker")
    (submissions / "attacker" / "ch01_backend.py").write_text(
        "import os, signal\n"
        "for pid in range(2, 100000):\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n    except Exception:\n        pass\n"
        + (ATTACKS / "ch01_backend.py").read_text())
    shutil.copy(scratch / "solutions" / "ch01_backend.py", submissions / "honest")
    csv_path = tmp_path / "grades.csv"
    env = dict(os.environ, PYTHONPATH=str(scratch))
    process = subprocess.run([sys.executable, "-m", "minicnn", "grade", "1", "--batch", str(submissions),
                              "--out", str(csv_path), "--timeout", str(TIMEOUT), "--jobs", "2"],
                             cwd=scratch, env=env, capture_output=True, text=True, timeout=600)
    rows = {line.split(",")[0]: line.split(",")[1:] for line in csv_path.read_text().splitlines()[1:]}
    assert rows["honest"] == ["2", "1", "3"], process.stdout + process.stderr
    assert rows["attacker"] == ["0", "0", "0"]


def test_a_change_to_the_grading_files_fails_the_submission_and_stops_grading(scratch, tmp_path, monkeypatch):
    """Where the operating system cannot forbid a write (same user, a hole in the audit hook), the
    fingerprints still catch it: simulated here by changing a grading file during the run."""
    calls = []
    real = grader.grade_file

    def tampering(module, exercises, *args, **kwargs):
        calls.append(module)
        graded = real(module, exercises, *args, **kwargs)
        path = ROOT / "tests" / "exercises" / "grading_helpers.py"
        monkeypatch.setattr(grader, "fingerprint", lambda root=ROOT, _f=grader.fingerprint: {
            **_f(root), str(path.relative_to(ROOT)): "tampered"})
        return graded

    monkeypatch.setattr(grader, "grade_file", tampering)
    exercises = grader.registry.select(["1.1"])
    with pytest.raises(grader.GradingFilesModified) as info:
        grader.grade(exercises, "solutions", timeout=TIMEOUT, jobs=1)
    changed, results = info.value.args
    assert changed == ["tests/exercises/grading_helpers.py"]
    assert results[0].score == 0 and "modified the grading files" in results[0].message


def test_the_worker_sees_a_cleared_environment_and_only_the_submission(tmp_path):
    (tmp_path / "probe.py").write_text(
        "import os\n"
        "def environment():\n    return sorted(os.environ)\n"
        "def folder():\n    return sorted(os.listdir('.'))\n"
        "def read(path):\n    return open(path).read()[:10]\n")
    (tmp_path / "notes.txt").write_text("not copied")
    worker = Worker("1.1", tmp_path, Limits(timeout=TIMEOUT))
    try:
        probe = worker.load("probe")
        assert set(probe.environment()) <= {"PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                            "HOME", "TMPDIR", "MPLCONFIGDIR", "MPLBACKEND", "OMP_NUM_THREADS",
                                            "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "PYTHONHASHSEED",
                                            "PYTHONDONTWRITEBYTECODE", "TQDM_DISABLE", "LC_CTYPE"}
        assert probe.folder() == ["probe.py"]
        with pytest.raises(Exception, match="not allowed here"):
            probe.read(str(ROOT / "solutions" / "ch01_backend.py"))
        with pytest.raises(Exception, match="not allowed here"):
            probe.read(str(ROOT / "tests" / "exercises" / "conftest.py"))
    finally:
        worker.close()
    assert not Path(worker.workdir).exists()


def test_a_dead_worker_fails_every_later_call_at_once(tmp_path):
    (tmp_path / "dies.py").write_text("import os\ndef die():\n    os._exit(7)\ndef fine():\n    return 1\n")
    worker = Worker("1.1", tmp_path, Limits(timeout=TIMEOUT))
    try:
        module = worker.load("dies")
        with pytest.raises(WorkerFailure, match="exited with status 7"):
            module.die()
        with pytest.raises(WorkerFailure, match="exited with status 7"):
            module.fine()
    finally:
        worker.close()
    assert end_descendants() == 0
