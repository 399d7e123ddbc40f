"""The student release: the course repository without its solutions, and the Gradescope bundle.

    minicnn release OUT                      # write the student repository into the new folder OUT
    minicnn release --autograder AG.zip      # Gradescope's autograder bundle (release + 2 scripts)
    minicnn release --autograder AG.zip --exercises 3   # ... grading only notebook 3's exercises

(``python -m minicnn.course.release ...`` is the same command; it runs in the
instructor's repository, the one with ``solutions/``.)

What a release holds (:data:`INCLUDED`): the package ``minicnn/`` (with the
grader), ``notebooks/`` (outputs cleared), the stubs ``exercises/``, the
graded tests ``tests/exercises/`` with ``tests/conftest.py``,
``pyproject.toml``, ``run.py``, ``environment.yml``, ``docs/`` and a README
written for students. Never (:data:`EXCLUDED`): ``solutions/``, the
instructor's guide, the tools that need the solutions (this module, its
texts and ``make_exercises``), version control and caches.

Two checks refuse to write a release that would give answers away:

* the stubs must be exactly what ``minicnn make-exercises`` generates from
  the solutions (an instructor's solved copy in ``exercises/`` is caught);
* no *secret line* may appear in any file of the release. The secret lines
  are the lines inside the ``# BEGIN SOLUTION`` ... ``# END SOLUTION``
  regions of ``solutions/*.py``, stripped, at least :data:`MIN_LINE`
  characters long, less those that also appear (as a line or inside one)
  in the package's own code, the stubs or the graded tests. Those are public by design: minicnn
  implements what many exercises ask (the graded tests compare with it,
  and the grader forbids calling it), and a short line such as
  ``xp = get_array_module(grad)`` is everywhere.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from . import make_exercises, registry
from .release_text import README, RUN_AUTOGRADER, SETUP_SH

ROOT = Path(__file__).resolve().parents[2]

#: What a release copies from the course repository (a folder whole, less EXCLUDED and JUNK).
INCLUDED = ("minicnn", "notebooks", "exercises", "tests/conftest.py", "tests/exercises", "docs",
            "pyproject.toml", "run.py", "environment.yml", ".gitignore", "LICENSE")
#: Copied even if missing would break grading: a release without them is refused.
REQUIRED = ("minicnn", "exercises", "tests/exercises", "pyproject.toml")
#: Never in a release.
EXCLUDED = ("solutions", "docs/instructor.md", "minicnn/course/make_exercises.py", "minicnn/course/release.py",
            "minicnn/course/release_text.py")
#: Names never copied at any depth: caches, build products, version control.
JUNK_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis", ".git", ".venv", ".DS_Store"}
JUNK_SUFFIXES = (".pyc", ".pyo", ".egg-info")
#: The shortest line of a solution region that counts as solution code.
MIN_LINE = 25


class ReleaseError(Exception):
    """A release that cannot be written: a missing file, stale stubs, a leak."""


# --------------------------------------------------------------------------- which files
def _junk(path: Path) -> bool:
    return any(part in JUNK_NAMES or part.endswith(JUNK_SUFFIXES) for part in path.parts)


def _excluded(relative: Path) -> bool:
    return any(relative == Path(e) or Path(e) in relative.parents for e in EXCLUDED)


def release_files(root=ROOT) -> list:
    """The paths (relative to ``root``) that a release copies, sorted."""
    root = Path(root)
    for required in REQUIRED:
        if not (root / required).exists():
            raise ReleaseError(f"{root} has no {required}: is it the course repository?")
    files = []
    for entry in INCLUDED:
        path = root / entry
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in candidates:
            relative = file.relative_to(root)
            if file.exists() and not _junk(relative) and not _excluded(relative) and not file.is_symlink():
                files.append(relative)
    return sorted(files)


# --------------------------------------------------------------------------- what must not leak
def solution_lines(solutions_dir) -> dict:
    """``{stripped line: "solutions/FILE:LINE"}`` for every line of at least :data:`MIN_LINE`
    characters inside a solution region of ``solutions_dir/*.py``."""
    lines = {}
    for path in sorted(Path(solutions_dir).glob("*.py")):
        inside = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if make_exercises.BEGIN.match(line):
                inside = True
            elif make_exercises.END.match(line):
                inside = False
            elif inside and len(line.strip()) >= MIN_LINE:
                lines.setdefault(line.strip(), f"solutions/{path.name}:{number}")
    return lines


def public_text(root=ROOT) -> str:
    """The released package code, stubs and graded tests, one text (public by design)."""
    return "\n".join((Path(root) / relative).read_text(encoding="utf-8") for relative in release_files(root)
                     if relative.suffix == ".py" and relative.parts[0] in ("minicnn", "exercises", "tests"))


def secret_lines(root=ROOT) -> dict:
    """The solution lines that must appear nowhere in a release (see the module's docstring)."""
    public = public_text(root)
    return {line: where for line, where in solution_lines(Path(root) / "solutions").items() if line not in public}


def searchable_text(path: Path) -> str:
    """A file's text as a reader sees it: a notebook's cell sources and outputs decoded from JSON."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    if path.suffix == ".ipynb":
        try:
            cells = json.loads(text).get("cells", [])
        except (json.JSONDecodeError, AttributeError):
            return text
        parts = ["".join(c.get("source", "")) for c in cells]
        for cell in cells:
            for output in cell.get("outputs", []):
                parts.append("".join(output.get("text", "")))
                parts.extend("".join(v) if isinstance(v, list) else str(v)
                             for v in output.get("data", {}).values())
        text = text + "\n" + "\n".join(parts)
    return text


def find_leaks(folder, secrets: dict) -> list:
    """``[(file relative to folder, secret line, where it comes from)]`` for every secret found."""
    folder = Path(folder)
    leaks = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        text = searchable_text(path)
        leaks.extend((path.relative_to(folder), line, where) for line, where in secrets.items() if line in text)
    return leaks


# --------------------------------------------------------------------------- writing
def clear_outputs(text: str) -> str:
    """A notebook without outputs or execution counts (a solved run's outputs would give answers away)."""
    notebook = json.loads(text)
    changed = False
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            cell["outputs"], cell["execution_count"], changed = [], None, True
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n" if changed else text


def student_readme(root=ROOT) -> str:
    """The release's README.md, written for students."""
    rows = []
    for chapter, title in registry.CHAPTERS.items():
        notebooks = sorted((Path(root) / "notebooks").glob(f"{chapter:02d}_*.ipynb"))
        notebook = f"`notebooks/{notebooks[0].name}`" if notebooks else "-"
        ids = ", ".join(e.id for e in registry.of_chapter(chapter))
        rows.append(f"| {chapter} | {title} | {notebook} | `exercises/{registry.MODULES[chapter]}.py` ({ids}) |")
    total = sum(e.points for e in registry.EXERCISES)
    return README.format(table="\n".join(rows), count=len(registry.EXERCISES), total=total)


def _write_tree(root: Path, out: Path) -> None:
    for relative in release_files(root):
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if relative.suffix == ".ipynb":
            target.write_text(clear_outputs((root / relative).read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copy2(root / relative, target)
    (out / "README.md").write_text(student_readme(root), encoding="utf-8")


def _looks_like_release(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "minicnn").is_dir() \
        and not (folder / "solutions").exists()


def write_release(out, root=ROOT, force=False) -> list:
    """Write the student repository into the folder ``out``; returns the paths written (relative).

    ``out`` must not exist, or be empty, or (with ``force``) hold an earlier release, which is
    replaced. Raises :class:`ReleaseError` for stale stubs or a leak (then nothing is written).
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    if out == root or root in out.parents or out in root.parents:
        raise ReleaseError(f"the release folder {out} must lie outside the course repository {root}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not force:
            raise ReleaseError(f"{out} exists and is not empty (--force replaces an earlier release)")
        if not _looks_like_release(out):
            raise ReleaseError(f"refusing to replace {out}: it does not look like a minicnn release")
    stale = make_exercises.differences(root / "solutions", root / "exercises")
    if stale:
        raise ReleaseError("the stubs in exercises/ are not what the solutions generate ("
                           + "; ".join(f"{name}: {reason}" for name, reason in stale)
                           + "): run `minicnn make-exercises` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _write_tree(root, staging)
        leaks = find_leaks(staging, secret_lines(root))
        if leaks:
            shown = "\n".join(f"  {file}: {line!r} (from {where})" for file, line, where in leaks[:10])
            raise ReleaseError(f"{len(leaks)} solution line(s) would be in the release:\n{shown}")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- the Gradescope bundle
def autograder_scripts(exercises=None, timeout=30.0) -> dict:
    """``{"setup.sh": text, "run_autograder": text}`` with the default exercises and time limit."""
    ids = " ".join(e.id for e in registry.select(exercises)) if exercises else ""
    return {"setup.sh": SETUP_SH,
            "run_autograder": RUN_AUTOGRADER.replace("@EXERCISES@", shlex.quote(ids))
                                            .replace("@TIMEOUT@", shlex.quote(f"{timeout:g}"))}


def write_autograder(zip_path, root=ROOT, exercises=None, timeout=30.0) -> list:
    """Write Gradescope's autograder zip: the release's files and the two scripts at its root.
    Returns the names in the zip."""
    if not timeout > 0:
        raise ReleaseError(f"the time limit must be positive; got {timeout:g}")
    scripts = autograder_scripts(exercises, timeout)
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="minicnn-autograder-") as tmp:
        release = Path(tmp) / "source"
        files = write_release(release, root)
        entries = [(str(f.as_posix()), (release / f).read_bytes(), 0o644) for f in files]
        entries += [(name, text.encode(), 0o755) for name, text in scripts.items()]
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as bundle:
            for name, data, mode in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))   # the same bytes every time
                info.external_attr = (0o100000 | mode) << 16                   # a regular file; run_autograder +x
                info.compress_type = zipfile.ZIP_DEFLATED
                bundle.writestr(info, data)
    return sorted(name for name, _, _ in entries)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="minicnn release", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", metavar="OUT", help="the folder to write the student repository into")
    parser.add_argument("--autograder", metavar="ZIP", help="write Gradescope's autograder bundle to ZIP")
    parser.add_argument("--exercises", nargs="+", default=[], metavar="EXERCISE",
                        help="--autograder: the exercises it grades (ids or notebook numbers; default all)")
    parser.add_argument("--timeout", type=float, default=30.0, metavar="S",
                        help="--autograder: time limit of one test, in seconds (default 30)")
    parser.add_argument("--force", action="store_true", help="replace an earlier release in OUT")
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
        if not args.out and not args.autograder:
            parser.error("name a folder OUT for the release, or --autograder ZIP (or both)")
        if args.exercises and not args.autograder:
            parser.error("exercises are chosen only for --autograder (a release holds them all)")
        if not args.timeout > 0:
            parser.error(f"--timeout must be a positive number of seconds; got {args.timeout:g}")
        try:
            registry.select(args.exercises)
        except KeyError as exc:
            parser.error(exc.args[0])
    except SystemExit as exc:
        return exc.code
    try:
        if args.out:
            files = write_release(args.out, force=args.force)
            print(f"student release written to {args.out} ({len(files)} files; no solutions/)")
        if args.autograder:
            names = write_autograder(args.autograder, exercises=args.exercises or None, timeout=args.timeout)
            print(f"Gradescope autograder written to {args.autograder} ({len(names)} files; "
                  f"grades {' '.join(args.exercises) or 'every exercise'})")
    except ReleaseError as exc:
        print(f"minicnn release: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
