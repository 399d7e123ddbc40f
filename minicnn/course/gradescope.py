"""Gradescope: the ``results.json`` of one graded submission, and the autograder's run.

Gradescope's autograder specification
(https://gradescope-autograders.readthedocs.io/en/latest/specs/): the zip
written by ``minicnn release --autograder`` is unpacked into
``/autograder/source``; for every submission Gradescope puts the student's
files in ``/autograder/submission``, runs ``run_autograder``, and reads
``/autograder/results/results.json``:

    {"score": 3.0,                       total points (Gradescope uses it over the tests' sum)
     "execution_time": 9,                seconds
     "output": "Graded 2 exercises ...", shown to the student above the tests
     "visibility": "visible",            of the whole result
     "stdout_visibility": "hidden",      run_autograder's printout: for the instructor only
     "tests": [{"name": "1.1 a numerically stable softmax ...", "number": "1.1",
                "score": 2.0, "max_score": 2.0, "status": "passed",
                "output": "...", "visibility": "visible"}, ...]}

One test entry per exercise; its ``output`` is the grader's one-line
message, followed by the full report when the grader has one. Anything a
student should see must be in ``output``: Gradescope shows the captured
stdout only to the instructor (``stdout_visibility``).

    python -m minicnn.course.gradescope [EXERCISE...] [--root /autograder] [--timeout S]

grades ``ROOT/submission`` and writes ``ROOT/results/results.json``; this
is what the bundle's ``run_autograder`` calls. ``ROOT`` defaults to
``$AUTOGRADER_ROOT`` or ``/autograder``, the exercises to
``$AUTOGRADER_EXERCISES`` (ids separated by spaces; default all), the time
limit of one test to ``$AUTOGRADER_TIMEOUT`` (default 30 s). It writes a
results.json even when the grading itself fails (score 0 and the reason),
so the student never sees Gradescope's bare "the autograder failed".
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from . import grade, registry, submission

#: Gradescope's visibility settings, from most to least hidden.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
#: The longest ``output`` of one test (a Hypothesis report can be long; Gradescope's page is not).
OUTPUT_LIMIT = 10_000


def _clip(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return text[:limit - 40].rstrip() + f"\n... ({len(text) - limit + 40} characters cut)"


def test_output(result) -> str:
    """The text a student sees under one exercise: "passed", or the failure and its report."""
    if result.passed:
        return "passed"
    message = result.message or "failed"
    report = (getattr(result, "report", "") or "").strip()   # the full text, where the grader has it
    if report and report != message.strip():
        message = f"{message}\n\n{report}"
    return _clip(message)


def _check_visibility(name: str, value: str) -> None:
    if value not in VISIBILITIES:
        raise ValueError(f"gradescope_results: {name} must be one of {', '.join(VISIBILITIES)}; got {value!r}")


def gradescope_results(results, visibility="visible", stdout_visibility="hidden", output=None,
                       execution_time=None) -> dict:
    """Gradescope's results.json (a dict) for the graded ``results`` of one submission
    (:class:`minicnn.course.grade.Result` records): one test per exercise."""
    _check_visibility("visibility", visibility)
    _check_visibility("stdout_visibility", stdout_visibility)
    results = list(results)
    tests = [{"name": f"{r.exercise.id} {r.exercise.title}",
              "number": r.exercise.id,
              "score": float(r.score),
              "max_score": float(r.exercise.points),
              "status": "passed" if r.passed else "failed",
              "output": test_output(r),
              "visibility": visibility}
             for r in results]
    score = sum(t["score"] for t in tests)
    possible = sum(t["max_score"] for t in tests)
    summary = (f"Graded {len(tests)} exercise(s): {score:g} of {possible:g} points, "
               f"{sum(r.passed for r in results)} passed.")
    data = {"score": score,
            "output": summary + (f"\n\n{output.strip()}" if output and output.strip() else ""),
            "visibility": visibility,
            "stdout_visibility": stdout_visibility,
            "tests": tests}
    if execution_time is not None:
        data["execution_time"] = int(round(execution_time))
    return data


def failure_results(reason: str) -> dict:
    """The results.json of a submission the autograder could not grade: score 0 and the reason."""
    return {"score": 0.0, "output": _clip(f"The autograder could not grade this submission: {reason}"),
            "visibility": "visible", "stdout_visibility": "hidden", "tests": []}


def write_json(data: dict, path) -> None:
    """Write ``data`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def write_gradescope(results, path, **options) -> dict:
    """Write Gradescope's results.json for ``results`` to ``path``; returns the dict written.
    ``options`` go to :func:`gradescope_results`."""
    data = gradescope_results(results, **options)
    write_json(data, path)
    return data


def autograde(root, names=None, timeout=30.0, jobs=None) -> dict:
    """Grade ``root/submission`` (Gradescope's layout) and write ``root/results/results.json``.

    Never raises: when the grading fails, the file holds score 0 and the reason. Returns what it wrote.
    """
    root = Path(root)
    start = time.perf_counter()
    try:
        exercises = registry.select(names)
        with tempfile.TemporaryDirectory(prefix="minicnn-autograder-") as tmp:
            folder = Path(tmp) / "submission"
            copied, notes = submission.collect(root / "submission", folder)
            relevant = {f"{e.module}.py" for e in exercises}
            notes = [n for n in notes if n.split(":")[0] in relevant]     # about the graded files only
            print(f"Grading {len(exercises)} exercise(s); files found: {', '.join(copied) or 'none'}", flush=True)
            for note in notes:
                print(f"  {note}", flush=True)
            results = grade.grade(exercises, str(folder), timeout=timeout, jobs=jobs or os.cpu_count() or 1)
        print(grade.table(results), flush=True)
        data = gradescope_results(results, output="\n".join(notes), execution_time=time.perf_counter() - start)
    except Exception as exc:   # noqa: BLE001: whatever went wrong, the student gets a results.json
        print(f"the grading failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        data = failure_results(f"{type(exc).__name__}: {exc}. Please tell your instructor.")
    write_json(data, root / "results" / "results.json")
    return data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m minicnn.course.gradescope",
        description="Grade a Gradescope submission (ROOT/submission) and write ROOT/results/results.json.")
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE",
                        help="exercise ids or notebook numbers (default: $AUTOGRADER_EXERCISES, else all)")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"),
                        help="the autograder folder (default: $AUTOGRADER_ROOT, else /autograder)")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("AUTOGRADER_TIMEOUT", 30)),
                        metavar="S", help="time limit of one test in seconds (default: $AUTOGRADER_TIMEOUT, else 30)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    names = args.exercises or os.environ.get("AUTOGRADER_EXERCISES", "").split()
    if args.timeout <= 0:
        parser.error(f"--timeout must be positive; got {args.timeout:g}")
    data = autograde(args.root, names or None, timeout=args.timeout)
    return 0 if data["tests"] else 1


if __name__ == "__main__":
    sys.exit(main())
