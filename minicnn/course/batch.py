"""Batch grading: a whole class's submissions, one table.

    minicnn grade --batch SUBMISSIONS [EXERCISE...] [--out grades.csv] [--json PATH]
                  [--timeout S] [--jobs N]

(``python -m minicnn.course.batch ...`` is the same command.) Every
sub-folder of SUBMISSIONS is one student's copy of ``exercises/``, named
after the student::

    SUBMISSIONS/
        ada/ch01_backend.py, ch02_autograd.py, ...
        alan/exercises/ch01_backend.py, ...      (a whole repository works too)

Each student's exercise files are first copied into a scratch folder
(:func:`minicnn.course.submission.collect`), then graded by
:func:`minicnn.course.grade.grade` with the same isolation as a single
``minicnn grade``; ``--jobs`` students are graded side by side (default:
one per core), each with one file at a time.

Outputs:

* ``grades.csv`` (``--out``): one row per student, the points of every
  exercise (columns named by exercise id) and the total;
* ``--json PATH``: ``{student: [results]}`` with the fields of
  ``minicnn grade --json`` (``id``, ``title``, ``points``, ``max_points``,
  ``passed``, ``message``).

Bad arguments (a missing folder, no sub-folders, a time limit <= 0) are
usage errors: a message naming the argument, exit code 2.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from . import grade, registry, submission

#: BLAS/OpenMP thread variables pinned to 1 while students are graded side by side.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def students(submissions_dir) -> list:
    """The student folders of ``submissions_dir``, sorted by name (hidden folders skipped)."""
    folder = Path(submissions_dir)
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and p.name != "__pycache__"), key=lambda p: p.name)


def result_record(result) -> dict:
    """One result in the JSON fields of ``minicnn grade --json`` (instructors' scripts read them)."""
    return grade.results_json([result])[0]


def _failed(exercises, message) -> list:
    return [grade.Result(exercise=e, passed=False, message=message) for e in exercises]


def grade_student(folder, exercises, timeout=30.0, limits=None) -> list:
    """Grade one student's folder; never raises (a grader failure fails every exercise, with its reason),
    except when the submission modified the grading files: then grading stops."""
    with tempfile.TemporaryDirectory(prefix="minicnn-batch-") as tmp:
        scratch = Path(tmp) / Path(folder).name         # messages then name the student's folder
        try:
            submission.collect(folder, scratch)
            return grade.grade(exercises, str(scratch), timeout=timeout, jobs=1, limits=limits)
        except grade.GradingFilesModified:
            raise
        except Exception as exc:   # noqa: BLE001: one student's failure must not stop the class
            return _failed(exercises, f"the grader failed on this submission: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _one_blas_thread(active: bool):
    """Pin the BLAS threads of the grading processes to one while several run side by side."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    if active:
        for name in THREAD_VARIABLES:
            os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def grade_batch(submissions_dir, exercises, timeout=30.0, jobs=None, progress=None, limits=None) -> dict:
    """``{student: [Result]}`` for every sub-folder of ``submissions_dir``, ``jobs`` students at a time.

    ``progress(student, results)`` is called as each student finishes (in any order).
    """
    exercises = list(exercises)
    folders = students(submissions_dir)
    jobs = max(1, jobs or os.cpu_count() or 1)
    graded = {}
    with _one_blas_thread(jobs > 1), ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(grade_student, folder, exercises, timeout, limits): folder.name
                   for folder in folders}
        for future in as_completed(futures):
            name = futures[future]
            graded[name] = future.result()
            if progress:
                progress(name, graded[name])
    return {name: graded[name] for name in sorted(graded)}


def write_csv(graded: dict, exercises, path) -> None:
    """``grades.csv``: student, the points of each exercise (columns named by id), total."""
    exercises = list(exercises)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student"] + [e.id for e in exercises] + ["total"])
        for student, results in graded.items():
            points = {r.exercise.id: r.score for r in results}
            writer.writerow([student] + [points.get(e.id, 0) for e in exercises]
                            + [sum(points.values())])


def write_results_json(graded: dict, path) -> None:
    """``{student: [results]}`` in the fields of ``minicnn grade --json``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({s: [result_record(r) for r in results] for s, results in graded.items()},
                               indent=1), encoding="utf-8")


def summary(graded: dict, exercises) -> str:
    """One line per student: points out of the possible, and exercises passed."""
    possible = sum(e.points for e in exercises)
    width = max([len("student")] + [len(s) for s in graded])
    lines = [f"{'student':<{width}}  points  passed"]
    for student, results in graded.items():
        lines.append(f"{student:<{width}}  {sum(r.score for r in results):>3}/{possible:<3} "
                     f"{sum(r.passed for r in results):>3}/{len(results)}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minicnn grade --batch",
        description="Grade every student's folder in SUBMISSIONS; write grades.csv (and JSON).")
    parser.add_argument("submissions", metavar="SUBMISSIONS",
                        help="a folder with one sub-folder per student (their copy of exercises/)")
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE",
                        help="exercise ids (3.2), markers (ex3_2) or notebook numbers (3); default: all")
    parser.add_argument("--out", default="grades.csv", metavar="CSV",
                        help="the table of points to write (default grades.csv)")
    parser.add_argument("--json", metavar="PATH", help="also write {student: [results]} as JSON to PATH")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="time limit of one test, in seconds (default 30)")
    parser.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                        help="students graded side by side (default: the number of cores)")
    return parser


def batch_main(argv=None) -> int:
    """``minicnn grade --batch ...``: returns the exit code (0 graded, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
        folder = Path(args.submissions)
        if not folder.is_dir():
            parser.error(f"SUBMISSIONS {folder} is not a folder" if folder.exists()
                         else f"SUBMISSIONS {folder} does not exist")
        if not students(folder):
            parser.error(f"SUBMISSIONS {folder} has no sub-folders: put each student's copy of exercises/ "
                         "in a folder named after the student")
        if not args.timeout > 0:
            parser.error(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
        if args.jobs < 1:
            parser.error(f"--jobs must be at least 1; got {args.jobs}")
        try:
            exercises = registry.select(args.exercises)
        except KeyError as exc:
            parser.error(exc.args[0])
    except SystemExit as exc:      # argparse has printed the usage and the message
        return exc.code
    names = [p.name for p in students(folder)]
    print(f"Grading {len(exercises)} exercise(s) for {len(names)} student(s) in {folder}, "
          f"{min(args.jobs, len(names))} at a time ...", flush=True)
    start = time.perf_counter()
    graded = grade_batch(folder, exercises, args.timeout, args.jobs,
                         progress=lambda s, r: print(f"  {s}: {sum(x.score for x in r)} points", flush=True))
    print(summary(graded, exercises))
    write_csv(graded, exercises, args.out)
    print(f"grades written to {args.out}")
    if args.json:
        write_results_json(graded, args.json)
        print(f"results written to {args.json}")
    print(f"({time.perf_counter() - start:.0f} s)")
    return 0


main = batch_main

if __name__ == "__main__":
    sys.exit(batch_main())
