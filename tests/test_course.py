"""Meta-tests of the course machinery (minicnn.course): honest grading, up-to-date stubs.

* The committed stubs in exercises/ are exactly what `minicnn make-exercises`
  generates from solutions/.
* Every graded test passes on solutions/ and fails, with the stub's
  NotImplementedError, on the untouched exercises/: no test that cannot
  fail, no test that fails for another reason.
* Every exercise of the registry has a solution region and graded tests.
* `minicnn grade` isolates exercises: a syntax error in one file and an
  endless loop in one exercise do not stop the others from being graded.

The graded tests run in two pytest processes (solutions and stubs, side by
side), each writing its results as JSON lines (tests/exercises/conftest.py).
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from minicnn.course import grade, make_exercises, registry

ROOT = Path(__file__).resolve().parents[1]
GRADED_TESTS = ROOT / "tests" / "exercises"


# --------------------------------------------------------------------------- the registry and the files
def test_registry_is_well_formed():
    ids = [e.id for e in registry.EXERCISES]
    assert len(ids) == len(set(ids)), "duplicate exercise ids"
    assert len(ids) >= 25
    for e in registry.EXERCISES:
        assert re.fullmatch(r"\d+\.\d+", e.id), e.id
        assert e.chapter in registry.CHAPTERS and e.chapter in registry.MODULES, e.id
        assert e.points > 0 and e.title and e.hint, e.id
    assert registry.select(["3"]) == registry.of_chapter(3)
    assert registry.select(["ex3_2", "1.1"]) == [registry.get("1.1"), registry.get("3.2")]
    with pytest.raises(KeyError):
        registry.select(["99.1"])


def test_every_exercise_has_a_solution_region_and_graded_tests():
    in_solutions = set()
    for path in (ROOT / "solutions").glob("*.py"):
        in_solutions |= set(make_exercises.strip_solutions(path.read_text(), path.name)[1])
    in_tests = set()
    for path in GRADED_TESTS.glob("test_*.py"):
        in_tests |= set(re.findall(r"@pytest\.mark\.(ex\d+_\d+)\b", path.read_text()))
    for e in registry.EXERCISES:
        assert e.id in in_solutions, f"exercise {e.id} has no '# BEGIN SOLUTION {e.id}' in solutions/{e.module}.py"
        assert e.marker in in_tests, f"exercise {e.id} has no test marked @pytest.mark.{e.marker}"
        assert (GRADED_TESTS / f"test_{e.module}.py").exists()
    assert in_solutions <= set(registry.BY_ID)
    assert in_tests <= {e.marker for e in registry.EXERCISES}


def test_committed_stubs_are_up_to_date():
    problems = make_exercises.differences()
    assert not problems, ("exercises/ is out of date; run `minicnn make-exercises` and commit it: "
                          + "; ".join(f"{name}: {why}" for name, why in problems))


# --------------------------------------------------------------------------- the stub generator
SOURCE = '''def f(x):
    """Doc."""
    y = 1
    # BEGIN SOLUTION 2.1
    y = x + 1
    return y
    # END SOLUTION


class A:
    def g(self):
        if True:
            # BEGIN SOLUTION 2.2 hint: multiply
            return 2
            # END SOLUTION
'''


def test_strip_solutions_keeps_indentation_and_hints():
    stub, ids = make_exercises.strip_solutions(SOURCE)
    assert ids == ["2.1", "2.2"]
    assert "x + 1" not in stub and "return 2" not in stub
    first = registry.get("2.1")
    assert re.search(r"^    raise NotImplementedError\(.Exercise 2\.1: ", stub, re.M)
    assert f"Exercise 2.1: {first.title}. Hint: {first.hint}" in stub
    assert re.search(r"^            raise NotImplementedError\(.Exercise 2\.2: .*Hint: multiply.\)$", stub, re.M)
    assert '    """Doc."""\n    y = 1\n' in stub
    namespace = {}
    exec(compile(stub, "<stub>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="Exercise 2.1"):
        namespace["f"](1)


@pytest.mark.parametrize("text, problem", [
    ("# BEGIN SOLUTION 2.1\nx = 1\n", "never closed"),
    ("x = 1\n# END SOLUTION\n", "without a BEGIN"),
    ("# BEGIN SOLUTION 2.1\n# BEGIN SOLUTION 2.2\n# END SOLUTION\n", "cannot nest"),
    ("# BEGIN SOLUTION 99.9\n# END SOLUTION\n", "not in"),
    ("# BEGIN SOLUTION two\n# END SOLUTION\n", "malformed"),
])
def test_strip_solutions_rejects_bad_markers(text, problem):
    with pytest.raises(make_exercises.MarkerError, match=problem):
        make_exercises.strip_solutions(text, "bad.py")


def test_make_exercises_check_and_write(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    (solutions / "ch02_autograd.py").write_text(SOURCE)
    args = ["--solutions-dir", str(solutions), "--exercises-dir", str(exercises)]
    assert make_exercises.main(args + ["--check"]) == 1, "missing stubs must fail the check"
    assert make_exercises.main(args) == 0
    assert make_exercises.main(args + ["--check"]) == 0
    (exercises / "ch02_autograd.py").write_text("edited by hand\n")
    assert make_exercises.main(args + ["--check"]) == 1
    assert "differs" in capsys.readouterr().out


# --------------------------------------------------------------------------- honest grading
def _start_pytest(implementation, results, log):
    env = dict(os.environ, MINICNN_IMPL=implementation, MINICNN_RESULTS=str(results), MPLBACKEND="Agg",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, "-m", "pytest", str(GRADED_TESTS), "-q", "--tb=no", "-p", "no:cacheprovider",
               "--timeout=120", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def graded_runs(tmp_path_factory):
    """Every graded test, run on solutions/ and on exercises/ (two processes side by side)."""
    tmp = tmp_path_factory.mktemp("graded")
    runs, processes = {}, {}
    for name in ("solutions", "exercises"):
        log = open(tmp / f"{name}.log", "w")
        processes[name] = (_start_pytest(name, tmp / f"{name}.jsonl", log), log)
    for name, (process, log) in processes.items():
        process.wait(timeout=900)
        log.close()
        runs[name] = (grade.read_results(tmp / f"{name}.jsonl"), (tmp / f"{name}.log").read_text())
    return runs


def test_every_graded_test_passes_on_the_solutions(graded_runs):
    run, output = graded_runs["solutions"]
    assert run.finished and not run.collect_errors, output[-3000:]
    failed = {n: run.message.get(n, "did not run") for n in run.collected if run.outcome.get(n) != "passed"}
    assert not failed, f"graded tests that fail on solutions/: {failed}"
    markers = {m for ms in run.collected.values() for m in ms}
    missing = [e.id for e in registry.EXERCISES if e.marker not in markers]
    assert not missing, f"exercises without a collected graded test: {missing}"
    unmarked = [n for n, ms in run.collected.items() if len(ms) != 1]
    assert not unmarked, f"graded tests need exactly one exercise marker: {unmarked}"


def test_every_graded_test_fails_on_the_untouched_stubs(graded_runs):
    run, output = graded_runs["exercises"]
    assert run.finished and not run.collect_errors, output[-3000:]
    assert set(run.collected) == set(graded_runs["solutions"][0].collected)
    wrong = {n: run.outcome.get(n, "did not run") + ": " + run.message.get(n, "")
             for n in run.collected
             if run.outcome.get(n) != "failed" or "NotImplementedError" not in run.message.get(n, "")}
    assert not wrong, ("graded tests that do not fail with the stub's NotImplementedError "
                       f"(a test that cannot fail, or that fails for another reason): {wrong}")


# --------------------------------------------------------------------------- the grader
def test_grader_isolates_a_syntax_error_and_an_endless_loop(tmp_path):
    """End to end: a broken copy of the solutions, graded in real processes."""
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions", impl)
    with open(impl / "ch01_backend.py", "a") as f:
        f.write("\ndef broken(:\n")
    path = impl / "ch11_unet_segmentation.py"
    marker = "    # BEGIN SOLUTION 11.4\n"
    path.write_text(path.read_text().replace(marker, marker + "    while True:\n        pass\n", 1))
    env = dict(os.environ, MPLBACKEND="Agg")
    process = subprocess.run([sys.executable, "-m", "minicnn.course.grade", "1.2", "11.3", "11.4", "--impl", str(impl),
                              "--timeout", "6", "--json", str(tmp_path / "scores.json")],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert process.returncode == 1, process.stdout + process.stderr
    scores = {s["id"]: s for s in json.loads((tmp_path / "scores.json").read_text())}
    assert "does not import: SyntaxError" in scores["1.2"]["message"], scores["1.2"]
    assert scores["11.3"]["passed"] and scores["11.3"]["points"] == 1, scores["11.3"]
    assert "timed out" in scores["11.4"]["message"], scores["11.4"]
    assert "total" in process.stdout and "1/4" in process.stdout, process.stdout


def test_grader_reruns_the_exercises_cut_short_by_a_hanging_test(monkeypatch):
    """When a test hangs, its exercise is marked and the file's other exercises run again."""
    calls = []
    collected = {"t.py::a": ["ex11_3"], "t.py::b": ["ex11_4"]}

    def fake_run(test_file, markers, implementation, timeout, results_path, wall_limit, threads=None,
                 limits=None):
        calls.append(list(markers))
        events = [{"event": "collected", "tests": {n: m for n, m in collected.items() if m[0] in markers}}]
        if len(calls) == 1:   # the test of 11.3 starts and never ends; 11.4's never starts
            events.append({"event": "start", "nodeid": "t.py::a"})
        else:
            events += [{"event": "start", "nodeid": "t.py::b"},
                       {"event": "report", "nodeid": "t.py::b", "when": "call", "outcome": "passed", "message": ""},
                       {"event": "report", "nodeid": "t.py::b", "when": "teardown", "outcome": "passed",
                        "message": ""},
                       {"event": "finish"}]
        results_path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
        return (1, "Timeout") if len(calls) == 1 else (0, "1 passed")

    monkeypatch.setattr(grade, "run_pytest", fake_run)
    results = grade.grade_file("ch11_unet_segmentation", registry.select(["11.3", "11.4"]), timeout=5)
    assert calls == [["ex11_3", "ex11_4"], ["ex11_4"]]
    assert not results["11.3"].passed and "timed out" in results["11.3"].message
    assert results["11.4"].passed
