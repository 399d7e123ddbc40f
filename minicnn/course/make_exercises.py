"""Generate the exercise stubs (``exercises/``) from the solutions (``solutions/``).

``solutions/`` is the single source of truth. A solution region is marked

    # BEGIN SOLUTION 3.2
    ...the solution...
    # END SOLUTION

(optionally ``# BEGIN SOLUTION 3.2 hint: <text>`` to override the
registry's hint for that region). Each region, markers included, becomes

    # Exercise 3.2: your code here.
    raise NotImplementedError("Exercise 3.2: <title>. Hint: <hint>")

at the indentation of its BEGIN line; everything else is copied verbatim,
below a header saying where the file comes from.

    python -m minicnn.course.make_exercises           # write the missing stubs; refuse to replace edited ones
    python -m minicnn.course.make_exercises --force   # replace them too, keeping a backup of each
    python -m minicnn.course.make_exercises --check   # exit 1 if exercises/ is out of date

(``minicnn make-exercises [--check | --force]`` is the same command.)

An exercise file that differs from its generated stub may hold a student's
work, so it is never replaced silently: without ``--force`` the command
names it and exits 1; with ``--force`` it first copies it to
``exercises/<name>.bak`` (or ``<name>.<time>.bak`` when that exists).
"""
from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
import time
from pathlib import Path

from . import registry

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = ROOT / "solutions"
EXERCISES_DIR = ROOT / "exercises"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION (?P<id>\d+\.\d+)(?:\s+hint:\s*(?P<hint>.*?))?\s*$")
END = re.compile(r"^[ \t]*# END SOLUTION\s*$")
HEADER = ("# GENERATED from solutions/{name} by `minicnn make-exercises`: do not edit in the course\n"
          "# repository (edit the solution and regenerate). Students: fill in every place that raises\n"
          "# NotImplementedError, then run `minicnn grade {ids}`.\n")


class MarkerError(ValueError):
    """A malformed solution file: unbalanced, nested or unknown markers."""


def stub_line(exercise_id: str, indent: str, hint: str | None = None) -> str:
    """The two lines that replace a solution region."""
    exercise = registry.get(exercise_id)
    message = f"Exercise {exercise.id}: {exercise.title}. Hint: {hint or exercise.hint}"
    return (f"{indent}# Exercise {exercise.id}: your code here.\n"
            f"{indent}raise NotImplementedError({message!r})\n")


def strip_solutions(text: str, name: str = "<solution>") -> tuple[str, list[str]]:
    """Replace every marked region of ``text``; return the stub text and the exercise ids found."""
    out, ids = [], []
    region = None  # (id, line number) while inside a region
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        begin, end = BEGIN.match(line.rstrip("\n")), END.match(line.rstrip("\n"))
        if "BEGIN SOLUTION" in line and not begin:
            raise MarkerError(f"{name}:{number}: malformed marker {line.strip()!r}; "
                              "write '# BEGIN SOLUTION <chapter>.<number>'")
        if begin:
            if region:
                raise MarkerError(f"{name}:{number}: BEGIN SOLUTION {begin['id']} inside the region "
                                  f"{region[0]} opened on line {region[1]} (regions cannot nest)")
            try:
                registry.get(begin["id"])
            except KeyError:
                raise MarkerError(f"{name}:{number}: exercise {begin['id']} is not in "
                                  "minicnn/course/registry.py") from None
            region = (begin["id"], number)
            ids.append(begin["id"])
            out.append(stub_line(begin["id"], begin["indent"], begin["hint"]))
        elif end:
            if not region:
                raise MarkerError(f"{name}:{number}: END SOLUTION without a BEGIN SOLUTION")
            region = None
        elif not region:
            out.append(line)
    if region:
        raise MarkerError(f"{name}:{region[1]}: BEGIN SOLUTION {region[0]} is never closed")
    stub = "".join(out)
    try:
        ast.parse(stub, filename=name)
    except SyntaxError as exc:  # e.g. a region that was the only statement of an if-branch... and more
        raise MarkerError(f"{name}: the generated stub is not valid Python: {exc}") from None
    return stub, ids


def generate(solutions_dir: Path = SOLUTIONS_DIR) -> dict:
    """``{file name: stub text}`` for every ``solutions/*.py`` that holds solution regions."""
    stubs = {}
    for path in sorted(Path(solutions_dir).glob("*.py")):
        stub, ids = strip_solutions(path.read_text(), f"solutions/{path.name}")
        if ids:
            unique = list(dict.fromkeys(ids))
            stubs[path.name] = HEADER.format(name=path.name, ids=" ".join(unique)) + stub
    return stubs


def differences(solutions_dir: Path = SOLUTIONS_DIR, exercises_dir: Path = EXERCISES_DIR) -> list:
    """What is out of date in ``exercises_dir``: a list of ``(file name, reason)``."""
    expected = generate(solutions_dir)
    found = {p.name for p in Path(exercises_dir).glob("*.py")} if Path(exercises_dir).is_dir() else set()
    problems = []
    for name, text in expected.items():
        path = Path(exercises_dir) / name
        if name not in found:
            problems.append((name, "missing"))
        elif path.read_text() != text:
            problems.append((name, "differs from what the solutions generate"))
    for name in sorted(found - set(expected)):
        problems.append((name, "has no solution file (stale?)"))
    return problems


def backup_path(path: Path) -> Path:
    """Where a file about to be replaced is copied: ``<name>.bak``, or ``<name>.<time>.bak`` if taken."""
    path = Path(path)
    candidate = path.with_name(path.name + ".bak")
    if candidate.exists():
        candidate = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        number = 1
        while candidate.exists():
            candidate = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}-{number}.bak")
            number += 1
    return candidate


def write(solutions_dir: Path = SOLUTIONS_DIR, exercises_dir: Path = EXERCISES_DIR, force: bool = False) -> dict:
    """Write the stubs. A missing file is written; a file that differs from its stub is replaced only
    with ``force``, after a backup copy. Returns ``{"written": [names], "refused": [names],
    "backups": {name: backup path}}``."""
    exercises_dir = Path(exercises_dir)
    exercises_dir.mkdir(parents=True, exist_ok=True)
    report = {"written": [], "refused": [], "backups": {}}
    for name, text in generate(solutions_dir).items():
        path = exercises_dir / name
        if path.exists() and path.read_text() == text:
            continue
        if path.exists():
            if not force:
                report["refused"].append(name)
                continue
            backup = backup_path(path)
            shutil.copy2(path, backup)
            report["backups"][name] = backup
        path.write_text(text)
        report["written"].append(name)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="minicnn make-exercises",
        description="Regenerate the exercise stubs in exercises/ from the marked regions in solutions/.")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if exercises/ differs from what would be generated")
    mode.add_argument("--force", action="store_true",
                      help="also replace exercise files that differ from their stub (edited by hand: "
                           "a student's work?), after copying each to <name>.bak")
    parser.add_argument("--solutions-dir", type=Path, default=SOLUTIONS_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--exercises-dir", type=Path, default=EXERCISES_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.check:
            problems = differences(args.solutions_dir, args.exercises_dir)
            for name, reason in problems:
                print(f"exercises/{name}: {reason}")
            if problems:
                print("The exercise stubs are out of date: run `minicnn make-exercises` and commit exercises/.")
                return 1
            print(f"exercises/ is up to date ({len(generate(args.solutions_dir))} files).")
            return 0
        report = write(args.solutions_dir, args.exercises_dir, force=args.force)
    except MarkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    written = report["written"]
    print(f"wrote {len(written)} file(s) in exercises/" + (": " + ", ".join(written) if written else ""))
    for name, backup in report["backups"].items():
        print(f"exercises/{name}: the previous version is kept in {backup}")
    if report["refused"]:
        for name in report["refused"]:
            print(f"exercises/{name}: differs from its generated stub (edited by hand?); NOT overwritten")
        print("Nothing was lost. To replace these files with fresh stubs (a backup copy of each is kept), "
              "run `minicnn make-exercises --force`.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
