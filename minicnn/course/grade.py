"""The grader: run the graded tests of some exercises and print a score table.

    minicnn grade                    # every exercise, your code in exercises/
    minicnn grade 3.2 3.5            # some exercises (or a whole notebook: minicnn grade 3)
    minicnn grade --solutions        # the instructor's solutions (must score full marks)

(``python -m minicnn.course.grade ...`` is the same command.)

An exercise passes when every test marked with it passes. How one broken
exercise is kept from spoiling the others:

* the tests of each exercise file run in their own pytest process, so a
  syntax error in one file only fails that file's exercises (the tests
  import your file inside a fixture, so even there each test fails on its
  own);
* every test has a time limit (``--timeout``, pytest-timeout's "thread"
  method: an endless loop, even inside a NumPy call, ends the process);
  the process writes each result as soon as it has it, so the grader knows
  which test was running, marks that exercise "timed out", and runs the
  file's remaining exercises again in a fresh process.

The exit status is 0 only when every selected exercise passes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import registry

ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = ROOT / "tests" / "exercises"


# --------------------------------------------------------------------------- reading a run's results
@dataclass
class RunResults:
    """What one pytest run of graded tests reported (see tests/exercises/conftest.py)."""

    collected: dict = field(default_factory=dict)   # nodeid -> [markers]
    outcome: dict = field(default_factory=dict)     # nodeid -> "passed" | "failed" | "skipped"
    message: dict = field(default_factory=dict)     # nodeid -> first line of the failure
    started: list = field(default_factory=list)     # nodeids, in the order they started
    done: set = field(default_factory=set)          # nodeids whose teardown was reported
    collect_errors: list = field(default_factory=list)
    finished: bool = False

    @property
    def unfinished(self) -> list:
        """Tests that started and never reported their end (the one running when the process died)."""
        return [n for n in self.started if n not in self.done]


def read_results(path) -> RunResults:
    """Parse the JSON lines written by the results recorder of tests/exercises/conftest.py."""
    results = RunResults()
    path = Path(path)
    if not path.exists():
        return results
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # a line cut short when the process was killed
            continue
        kind = event.get("event")
        if kind == "collected":
            results.collected.update(event["tests"])
        elif kind == "start":
            results.started.append(event["nodeid"])
        elif kind == "report":
            node = event["nodeid"]
            if event["outcome"] == "failed" and results.outcome.get(node) != "failed":
                results.outcome[node], results.message[node] = "failed", event["message"]
            elif event["outcome"] == "skipped" and node not in results.outcome:
                results.outcome[node], results.message[node] = "skipped", event["message"]
            elif event["outcome"] == "passed" and event["when"] == "call" and node not in results.outcome:
                results.outcome[node] = "passed"
            if event["when"] == "teardown":
                results.done.add(node)
        elif kind == "collect_error":
            results.collect_errors.append(event["message"] or event["nodeid"])
        elif kind == "finish":
            results.finished = True
    return results


# --------------------------------------------------------------------------- running and scoring
@dataclass
class Result:
    exercise: registry.Exercise
    passed: bool
    tests: int = 0
    failed: int = 0
    message: str = ""

    @property
    def score(self) -> int:
        return self.exercise.points if self.passed else 0


def pytest_command(test_file, markers, timeout) -> list:
    """The pytest command line that runs the graded tests of ``markers`` in ``test_file``."""
    return [sys.executable, "-m", "pytest", str(test_file), "-q", "--no-header", "-p", "no:cacheprovider",
            "-m", " or ".join(markers), f"--timeout={timeout:g}", "--timeout-method=thread",
            "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]


def run_pytest(test_file, markers, implementation, timeout, results_path, wall_limit, threads=None):
    """Run one pytest process; returns (exit status or None when killed, output text)."""
    env = dict(os.environ, MINICNN_IMPL=implementation, MINICNN_RESULTS=str(results_path),
               MPLBACKEND="Agg", TQDM_DISABLE="1", PYTHONDONTWRITEBYTECODE="1")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   OPENBLAS_NUM_THREADS=str(threads))
    try:
        process = subprocess.run(pytest_command(test_file, markers, timeout), cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=wall_limit)
        return process.returncode, process.stdout + process.stderr
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return None, output


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def grade_file(module, exercises, implementation="exercises", timeout=30.0, threads=None) -> dict:
    """Grade the exercises of one file; ``{id: Result}``.

    Runs the file's tests in one process; if that process dies (a test timed
    out, or crashed), the exercise of the test that was running is marked and
    the exercises not yet graded run again in a new process.
    """
    test_file = TESTS_DIR / f"test_{module}.py"
    if not test_file.exists():
        return {e.id: Result(e, False, message=f"no graded tests: {test_file} is missing") for e in exercises}
    results, remaining = {}, list(exercises)
    with tempfile.TemporaryDirectory(prefix="minicnn-grade-") as tmp:
        for attempt in range(len(exercises) + 1):
            if not remaining:
                break
            path = Path(tmp) / f"run{attempt}.jsonl"
            wall_limit = 120 + 20 * timeout * len(remaining)
            status, output = run_pytest(test_file, [e.marker for e in remaining], implementation, timeout,
                                        path, wall_limit, threads)
            run = read_results(path)
            hung = run.unfinished
            culprits = {m for node in hung for m in run.collected.get(node, [])}
            next_round = []
            for exercise in remaining:
                tests = [n for n, markers in run.collected.items() if exercise.marker in markers]
                failures = [n for n in tests if run.outcome.get(n) == "failed"]
                complete = all(n in run.done for n in tests)
                result = Result(exercise, passed=False, tests=len(tests), failed=len(failures))
                if exercise.marker in culprits:
                    result.message = (f"timed out: a test ran longer than {timeout:g} s (an endless loop?)"
                                      if status is not None else
                                      f"killed: the tests did not finish within {wall_limit:g} s")
                elif failures:
                    result.message = run.message[failures[0]]
                elif tests and complete:
                    result.passed = True
                elif run.collect_errors:
                    result.message = run.collect_errors[0]
                elif not run.collected:
                    result.message = "no test ran" + (f": {_last_line(output)}" if output.strip() else "")
                elif not tests:
                    result.message = f"no graded test carries the marker {exercise.marker}"
                elif hung or status is None or not run.finished:
                    next_round.append(exercise)      # cut short by another exercise's test: run again
                    continue
                else:
                    result.message = "the tests did not all run"
                results[exercise.id] = result
            if next_round and not culprits:          # no progress possible: give up on them
                for exercise in next_round:
                    results[exercise.id] = Result(exercise, False, message="the test process died: "
                                                  + (_last_line(output) or "no output"))
                next_round = []
            remaining = next_round
    return results


def grade(exercises, implementation="exercises", timeout=30.0, jobs=2) -> list:
    """Grade ``exercises`` (Exercise records), one process per file, ``jobs`` files at a time;
    returns one :class:`Result` per exercise, in order."""
    by_file = {}
    for exercise in exercises:
        by_file.setdefault(exercise.module, []).append(exercise)
    threads = 1 if jobs > 1 else None   # processes side by side: one BLAS thread each
    results = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_file, module, group, implementation, timeout, threads)
                   for module, group in by_file.items()]
        for future in futures:
            results.update(future.result())
    return [results[e.id] for e in exercises]


def table(results, width: int = 120) -> str:
    """The score table: exercise, title, points, result and the first line of the first failure."""
    title_width = min(44, max(len(r.exercise.title) for r in results))
    rule = f"{'-' * 5} {'-' * title_width} {'-' * 6}  {'-' * 6}"
    lines = [f"{'id':<5} {'exercise':<{title_width}} {'points':>6}  result", rule]
    for r in results:
        title = r.exercise.title if len(r.exercise.title) <= title_width \
            else r.exercise.title[:title_width - 3] + "..."
        line = f"{r.exercise.id:<5} {title:<{title_width}} {r.score:>2}/{r.exercise.points:<3}  " \
               f"{'passed' if r.passed else 'FAILED'}"
        if not r.passed and r.message:
            room = max(30, width - len(line) - 2)
            message = r.message if len(r.message) <= room else r.message[:room - 3] + "..."
            line += f"  {message}"
        lines.append(line)
    total, possible = sum(r.score for r in results), sum(r.exercise.points for r in results)
    lines.append(rule)
    lines.append(f"{'total':<5} {'':<{title_width}} {total:>2}/{possible:<3}  "
                 f"{sum(r.passed for r in results)} of {len(results)} exercises passed")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="minicnn grade",
        description="Run the graded tests of the exercises and print a score table.")
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE",
                        help="exercise ids (3.2), markers (ex3_2) or notebook numbers (3); default: all")
    parser.add_argument("--solutions", action="store_true", help="grade solutions/ instead of exercises/")
    parser.add_argument("--impl", metavar="DIR", help="grade the exercise files in DIR instead of exercises/")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="time limit of one test, in seconds (default 30)")
    parser.add_argument("--jobs", "-j", type=int, default=min(2, os.cpu_count() or 1),
                        help="exercise files graded side by side (default 2)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--list", action="store_true", help="list the exercises and exit")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        registry.show_all()
        return 0
    try:
        exercises = registry.select(args.exercises)
    except KeyError as exc:
        parser.error(exc.args[0])
    if args.solutions:
        implementation = "solutions"
    elif args.impl:
        implementation = str(Path(args.impl).resolve())
    else:
        implementation = os.environ.get("MINICNN_IMPL", "exercises")
    print(f"Grading {len(exercises)} exercise(s) in {implementation} ...", flush=True)
    start = time.perf_counter()
    results = grade(exercises, implementation, args.timeout, args.jobs)
    print(table(results))
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            [{"id": r.exercise.id, "title": r.exercise.title, "points": r.score, "max_points": r.exercise.points,
              "passed": r.passed, "message": r.message} for r in results], indent=1))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
