"""The grader: run the graded tests of some exercises and print a score table.

    minicnn grade                    # every exercise, your code in exercises/
    minicnn grade 3.2 3.5            # some exercises (or a whole notebook: minicnn grade 3)
    minicnn grade --solutions        # the instructor's solutions (must score full marks)

(``python -m minicnn.course.grade ...`` is the same command.)

An exercise passes when every test marked with it passes. The tests of one
exercise file run in their own pytest process, with a time limit per test
(pytest-timeout) and one for the whole process, so an exception, a syntax
error or an endless loop in one file never stops the others from being
graded. The exit status is 0 only when every selected exercise passes.
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
from dataclasses import dataclass
from pathlib import Path

from . import registry

ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = ROOT / "tests" / "exercises"


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


def _implementation(args) -> str:
    if args.solutions:
        return "solutions"
    return str(Path(args.impl).resolve()) if args.impl else os.environ.get("MINICNN_IMPL", "exercises")


def _text(stream) -> str:
    if isinstance(stream, bytes):
        return stream.decode(errors="replace")
    return stream or ""


def run_file(module: str, exercises: list, implementation: str, timeout: float, jobs: int) -> dict:
    """Run the tests of ``exercises`` (all of one file) in one pytest process; ``{id: Result}``."""
    test_file = TESTS_DIR / f"test_{module}.py"
    results = {}
    if not test_file.exists():
        return {e.id: Result(e, False, message=f"no graded tests: {test_file} is missing") for e in exercises}
    with tempfile.TemporaryDirectory(prefix="minicnn-grade-") as tmp:
        results_path = Path(tmp) / "results.json"
        env = dict(os.environ, MINICNN_IMPL=implementation, MINICNN_RESULTS=str(results_path),
                   MPLBACKEND="Agg", TQDM_DISABLE="1", PYTHONDONTWRITEBYTECODE="1")
        if jobs > 1:  # several pytest processes side by side: one BLAS thread each
            env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        command = [sys.executable, "-m", "pytest", str(test_file), "-q", "--no-header", "-p", "no:cacheprovider",
                   "-m", " or ".join(e.marker for e in exercises), f"--timeout={timeout:g}",
                   "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]
        wall_limit = 60 + 6 * timeout * len(exercises)
        try:
            process = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                                     timeout=wall_limit)
            output, timed_out = process.stdout + process.stderr, False
        except subprocess.TimeoutExpired as exc:
            output, timed_out = _text(exc.stdout) + _text(exc.stderr), True
        report = json.loads(results_path.read_text()) if results_path.exists() else None

    for exercise in exercises:
        tests = [t for t in (report or {}).get("tests", []) if exercise.marker in t["exercises"]]
        failures = [t for t in tests if t["outcome"] == "failed"]
        result = Result(exercise, passed=bool(tests) and not failures, tests=len(tests), failed=len(failures))
        if failures:
            result.message = failures[0]["message"]
        elif timed_out:
            result.passed, result.message = False, f"timed out: the tests did not finish in {wall_limit:g} s"
        elif report is None or not tests:
            errors = (report or {}).get("errors") or []
            lines = [line for line in output.strip().splitlines() if line.strip()]
            result.message = (errors[0]["message"] if errors else
                              "no test ran" + (f": {lines[-1].strip()}" if lines else ""))
        results[exercise.id] = result
    return results


def grade(exercises: list, implementation: str = "exercises", timeout: float = 60.0, jobs: int = 2) -> list:
    """Grade ``exercises`` (Exercise records); returns one :class:`Result` per exercise, in order."""
    by_file = {}
    for exercise in exercises:
        by_file.setdefault(exercise.module, []).append(exercise)
    results = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(run_file, module, group, implementation, timeout, jobs)
                   for module, group in by_file.items()]
        for future in futures:
            results.update(future.result())
    return [results[e.id] for e in exercises]


def table(results: list, width: int = 110) -> str:
    """The score table: exercise, title, points, result and the first line of the first failure."""
    title_width = min(48, max(len(r.exercise.title) for r in results))
    lines = [f"{'id':<5} {'exercise':<{title_width}} {'points':>6}  result",
             f"{'-' * 5} {'-' * title_width} {'-' * 6}  {'-' * 6}"]
    for r in results:
        title = r.exercise.title if len(r.exercise.title) <= title_width \
            else r.exercise.title[:title_width - 3] + "..."
        line = f"{r.exercise.id:<5} {title:<{title_width}} {r.score:>2}/{r.exercise.points:<3}  " \
               f"{'passed' if r.passed else 'FAILED'}"
        if not r.passed and r.message:
            room = max(20, width - len(line) - 2)
            message = r.message if len(r.message) <= room else r.message[:room - 3] + "..."
            line += f"  {message}"
        lines.append(line)
    total, possible = sum(r.score for r in results), sum(r.exercise.points for r in results)
    passed = sum(r.passed for r in results)
    lines.append(f"{'-' * 5} {'-' * title_width} {'-' * 6}  {'-' * 6}")
    lines.append(f"{'total':<5} {'':<{title_width}} {total:>2}/{possible:<3}  "
                 f"{passed} of {len(results)} exercises passed")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="minicnn grade",
        description="Run the graded tests of the exercises and print a score table.")
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE",
                        help="exercise ids (3.2), markers (ex3_2) or notebook numbers (3); default: all")
    parser.add_argument("--solutions", action="store_true", help="grade solutions/ instead of exercises/")
    parser.add_argument("--impl", metavar="DIR", help="grade the exercise files in DIR instead of exercises/")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="time limit of one test in seconds (default 60)")
    parser.add_argument("--jobs", "-j", type=int, default=min(2, os.cpu_count() or 1),
                        help="exercise files graded side by side (default: 2)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        exercises = registry.select(args.exercises)
    except KeyError as exc:
        parser.error(exc.args[0])
    implementation = _implementation(args)
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
