"""The grader: run the graded tests of some exercises and print a score table.

    minicnn grade                    # every exercise, your code in exercises/
    minicnn grade 3.2 3.5            # some exercises (or a whole notebook: minicnn grade 3)
    minicnn grade 3.2 -v             # and the full report of each failed exercise
    minicnn grade --impl DIR         # the exercise files in DIR (a student release needs no solutions/)
    minicnn grade --solutions        # the instructor's solutions (must score full marks)
    minicnn grade --batch DIR        # every sub-folder of DIR is one student's exercises/: grades.csv
    minicnn grade --format gradescope --json results.json   # Gradescope's results.json

(``python -m minicnn.course.grade ...`` is the same command.)

An exercise passes when every test marked with it passes. The trust model
(docs/instructor.md, "How the grader isolates student code"):

* the graded tests run in a *judge* process (pytest, Hypothesis, torch and
  minicnn's references); the student's code runs only in a *worker* process
  per exercise (:mod:`minicnn.course.judge`), which the judge drives through a
  pipe carrying plain data; nothing the worker does reaches the judge's
  memory, files or results;
* each worker is contained: a fresh folder, a cleared environment, limits on
  time, memory, CPU and file size, no processes, no network, its whole process
  tree ended with its exercise; run as root, it also gets a user id of its own;
* minicnn's own version of what an exercise asks for (and PyTorch, and
  ``solutions/``) raise :class:`~minicnn.course.judge.shortcuts.ShortcutError`;
* the grading files are fingerprinted before and after each file's tests: a
  change fails the submission ("modified the grading files") and stops grading.

The exit status is 0 only when every selected exercise passes (2: a usage
error; 3: the grading files were modified).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import registry
from .judge.sandbox import Limits, become_subreaper, end_descendants

ROOT = Path(__file__).resolve().parents[2]
TESTS_DIR = ROOT / "tests" / "exercises"


class GradingFilesModified(RuntimeError):
    """A submission changed the package, the graded tests or the registry while it was graded."""


def fingerprint(root=ROOT) -> dict:
    """SHA-256 of every grading file (the package, the graded tests, pyproject.toml): path -> digest."""
    root = Path(root)
    files = sorted([*(root / "minicnn").rglob("*.py"), *(root / "tests" / "exercises").glob("*.py"),
                    root / "pyproject.toml", root / "tests" / "conftest.py"])
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def changed_files(before: dict, after: dict) -> list:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


# --------------------------------------------------------------------------- reading a run's results
@dataclass
class RunResults:
    """What one pytest run of graded tests reported (see tests/exercises/conftest.py)."""

    collected: dict = field(default_factory=dict)   # nodeid -> [markers]
    outcome: dict = field(default_factory=dict)     # nodeid -> "passed" | "failed" | "skipped"
    message: dict = field(default_factory=dict)     # nodeid -> first line of the failure
    details: dict = field(default_factory=dict)     # nodeid -> the failure's report (what, where, example)
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
                results.details[node] = event.get("details", "")
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
    report: str = ""          # the full report of the first failing test (shown by -v and after the table)

    @property
    def score(self) -> int:
        return self.exercise.points if self.passed else 0

    def full_report(self) -> str:
        """What a student reads about a failed exercise: the summary, the details, the hint."""
        lines = [f"Exercise {self.exercise.id}: {self.exercise.title} ({self.exercise.module}.py)",
                 f"  {self.message}"]
        if self.report and self.report.strip() != self.message.strip():
            lines += ["  " + line for line in self.report.splitlines()]
        lines.append(f"  Hint: {self.exercise.hint}")
        return "\n".join(lines)


def pytest_command(test_file, markers, timeout) -> list:
    """The pytest command line of the judge for the graded tests of ``markers`` in ``test_file``.
    Student code has its own limit per call (``timeout``, in the worker); pytest-timeout only guards
    against the judge itself hanging."""
    return [sys.executable, "-m", "pytest", str(test_file), "-q", "--no-header", "-p", "no:cacheprovider",
            "-m", " or ".join(markers), f"--timeout={max(300.0, 20 * timeout):g}", "--timeout-method=thread",
            "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(ROOT)]


def run_pytest(test_file, markers, implementation, timeout, results_path, wall_limit, threads=None,
               limits=None):
    """Run one judge (pytest) process; returns (exit status or None when killed, output text)."""
    limits = limits or Limits(timeout=timeout)
    env = dict(os.environ, MINICNN_IMPL=implementation, MINICNN_RESULTS=str(results_path),
               MINICNN_LIMITS=json.dumps(vars(limits)),
               MPLBACKEND="Agg", TQDM_DISABLE="1", PYTHONDONTWRITEBYTECODE="1")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
                   OPENBLAS_NUM_THREADS=str(threads))
    process = subprocess.Popen(pytest_command(test_file, markers, timeout), cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with _JUDGES_LOCK:
        _JUDGES.add(process.pid)
    try:
        output, _ = process.communicate(timeout=wall_limit)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        return None, output or ""
    finally:
        with _JUDGES_LOCK:
            _JUDGES.discard(process.pid)
            end_descendants(keep=set(_JUDGES))   # what a judge left behind (the grader is a subreaper too)


_JUDGES, _JUDGES_LOCK = set(), threading.Lock()


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def grade_file(module, exercises, implementation="exercises", timeout=30.0, threads=None, limits=None) -> dict:
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
                                        path, wall_limit, threads, limits)
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
                    result.report = run.details.get(failures[0], "")
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


def grade(exercises, implementation="exercises", timeout=30.0, jobs=2, limits=None) -> list:
    """Grade ``exercises`` (Exercise records), one judge process per file, ``jobs`` files at a time;
    returns one :class:`Result` per exercise, in order.

    Raises :class:`GradingFilesModified` (after marking the culprits' exercises) when the grading
    files changed while a file was graded."""
    become_subreaper()
    limits = limits or Limits(timeout=timeout)
    by_file = {}
    for exercise in exercises:
        by_file.setdefault(exercise.module, []).append(exercise)
    threads = 1 if jobs > 1 else None   # processes side by side: one BLAS thread each
    results = {}
    before = fingerprint()

    def one_file(module, group):
        graded = grade_file(module, group, implementation, limits.timeout, threads, limits)
        changed = changed_files(before, fingerprint())
        if changed:
            for exercise in group:
                graded[exercise.id] = Result(exercise, False, message="modified the grading files: "
                                             + ", ".join(changed[:5]))
        return graded, changed

    modified = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one_file, module, group) for module, group in by_file.items()]
        for future in futures:
            graded, changed = future.result()
            results.update(graded)
            modified += changed
    ordered = [results[e.id] for e in exercises]
    if modified:
        raise GradingFilesModified(sorted(set(modified)), ordered)
    return ordered


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
            summary = r.message.splitlines()[0]
            if len(line) + 2 + len(summary) <= width:
                line += f"  {summary}"
            else:                              # on its own line, whole (never cut mid-sentence)
                line += "\n" + textwrap.fill(summary, width=width, initial_indent="      ",
                                             subsequent_indent="      ")
        lines.append(line)
    total, possible = sum(r.score for r in results), sum(r.exercise.points for r in results)
    lines.append(rule)
    lines.append(f"{'total':<5} {'':<{title_width}} {total:>2}/{possible:<3}  "
                 f"{sum(r.passed for r in results)} of {len(results)} exercises passed")
    return "\n".join(lines)


def positive(kind, what):
    """An argparse type: a finite number > 0 (``grade --timeout 0`` is a usage error)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, not {text!r}") from None
        if not value > 0 or value != value or value in (float("inf"),):
            raise argparse.ArgumentTypeError(f"{what} must be a finite number > 0, not {text}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minicnn grade",
        description="Run the graded tests of the exercises and print a score table.")
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE",
                        help="exercise ids (3.2), markers (ex3_2) or notebook numbers (3); default: all")
    parser.add_argument("--solutions", action="store_true", help="grade solutions/ instead of exercises/")
    parser.add_argument("--impl", metavar="DIR", help="grade the exercise files in DIR instead of exercises/")
    parser.add_argument("--batch", metavar="SUBMISSIONS",
                        help="grade every sub-folder of SUBMISSIONS (one student's exercises/ each); "
                             "writes grades.csv (see --out)")
    parser.add_argument("--out", metavar="CSV", default="grades.csv", help="with --batch: the CSV file")
    parser.add_argument("--format", choices=("table", "gradescope"), default="table",
                        help="gradescope: write Gradescope's results.json to --json PATH")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print the full report of every failed exercise after the table")
    parser.add_argument("--timeout", type=positive(float, "--timeout"), default=30.0, metavar="S",
                        help="time limit of one call into the student's code, in seconds (default 30)")
    parser.add_argument("--memory", type=positive(float, "--memory"), default=Limits.memory_gb, metavar="GB",
                        help=f"memory limit of a worker (default {Limits.memory_gb:g} GB)")
    parser.add_argument("--cpu-time", type=positive(int, "--cpu-time"), default=Limits.cpu_seconds, metavar="S",
                        help=f"CPU time limit of a worker (default {Limits.cpu_seconds} s)")
    parser.add_argument("--file-size", type=positive(float, "--file-size"), default=Limits.file_mb, metavar="MB",
                        help=f"largest file a worker may write (default {Limits.file_mb:g} MB)")
    parser.add_argument("--same-user", action="store_true",
                        help="as root: run workers as root too (normally they get a user id of their own)")
    parser.add_argument("--jobs", "-j", type=positive(int, "--jobs"), default=min(2, os.cpu_count() or 1),
                        help="exercise files (or, with --batch, students) graded side by side (default 2)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--list", action="store_true", help="list the exercises and exit")
    return parser


def results_json(results) -> list:
    """Today's JSON fields (instructors' scripts read them), plus the full report."""
    return [{"id": r.exercise.id, "title": r.exercise.title, "points": r.score, "max_points": r.exercise.points,
             "passed": r.passed, "message": r.message, "report": r.report} for r in results]


def _check_writable(parser, path):
    if path is None:
        return
    folder = Path(path).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        parser.error(f"cannot write {path}: {folder} is not a writable folder")


def _batch(args, exercises, limits, parser) -> int:
    """``minicnn grade --batch SUBMISSIONS``: grades.csv (and --json {student: [results]})."""
    from . import batch
    folder = Path(args.batch)
    if not folder.is_dir() or not batch.students(folder):
        parser.error(f"--batch {folder}: expected a folder with one sub-folder per student")
    _check_writable(parser, args.out)
    start = time.perf_counter()
    try:
        graded = batch.grade_batch(folder, exercises, args.timeout, args.jobs, limits=limits,
                                   progress=lambda s, r: print(f"  {s}: {sum(x.score for x in r)} points",
                                                               flush=True))
    except GradingFilesModified as exc:
        print(f"GRADING STOPPED: a submission modified the grading files ({', '.join(exc.args[0][:5])}). "
              "Restore them before grading anything else.", file=sys.stderr)
        return 3
    print(batch.summary(graded, exercises))
    batch.write_csv(graded, exercises, args.out)
    print(f"grades written to {args.out}")
    if args.json:
        batch.write_results_json(graded, args.json)
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        registry.show_all()
        return 0
    try:
        exercises = registry.select(args.exercises)
    except KeyError as exc:
        parser.error(exc.args[0])
    limits = Limits(timeout=args.timeout, memory_gb=args.memory, cpu_seconds=args.cpu_time,
                    file_mb=args.file_size, same_user=args.same_user)
    _check_writable(parser, args.json)
    if args.format == "gradescope" and not args.json:
        parser.error("--format gradescope writes results.json: give its path with --json PATH")
    if args.batch:
        return _batch(args, exercises, limits, parser)
    if args.solutions:
        implementation = "solutions"
    elif args.impl:
        folder = Path(args.impl)
        if not folder.is_dir():
            parser.error(f"--impl {args.impl}: no such folder")
        implementation = str(folder.resolve())
    else:
        implementation = os.environ.get("MINICNN_IMPL", "exercises")
    print(f"Grading {len(exercises)} exercise(s) in {implementation} ...", flush=True)
    start = time.perf_counter()
    status = 0
    try:
        results = grade(exercises, implementation, args.timeout, args.jobs, limits)
    except GradingFilesModified as exc:
        changed, results = exc.args
        status = 3
    print(table(results))
    print(f"({time.perf_counter() - start:.0f} s)")
    failed = [r for r in results if not r.passed]
    if failed and args.verbose:
        print("\nReports of the failed exercises:\n")
        print("\n\n".join(r.full_report() for r in failed))
    elif failed:
        print(f"\nThe full report of a failed exercise: minicnn grade {failed[0].exercise.id} -v")
    if status == 3:
        print(f"\nGRADING STOPPED: the submission modified the grading files ({', '.join(changed[:5])}). "
              "Restore them (git checkout -- minicnn tests) before grading anything else.", file=sys.stderr)
    if args.json:
        if args.format == "gradescope":
            from .gradescope import write_gradescope
            write_gradescope(results, args.json)
        else:
            Path(args.json).write_text(json.dumps(results_json(results), indent=1))
    return status or (0 if all(r.passed for r in results) else 1)


if __name__ == "__main__":
    sys.exit(main())
