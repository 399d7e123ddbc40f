"""Finding a student's exercise files in whatever they handed in.

A submission is a folder. Students hand in their copy of ``exercises/``,
but also the whole repository, a zip's folder one level down, or files
renamed by an upload page. The grader needs one flat folder of
``chNN_*.py`` files with the names of the course's exercise files
(:data:`minicnn.course.registry.MODULES`), so both batch grading
(:mod:`minicnn.course.batch`) and the Gradescope autograder
(:mod:`minicnn.course.gradescope`) first call :func:`collect`, which copies
the files it finds into a fresh folder and says what it chose.

The rule, for each expected file name: among the files of that name
anywhere under the submission (hidden folders, ``__pycache__`` and virtual
environments and symbolic links skipped), take one whose folder is named ``exercises``; else
the shallowest one; a tie is broken by the path's alphabetical order and
noted. A missing file is noted too; the grader then fails that file's
exercises with "does not exist".
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from . import registry

#: Folders never searched: version control, caches, virtual environments.
SKIPPED_FOLDERS = {"__pycache__", "node_modules", "site-packages", ".venv", "venv", "env"}


def expected_names() -> list:
    """The exercise file names, ``ch01_backend.py`` ...: one per chapter that has exercises."""
    return [f"{registry.MODULES[c]}.py" for c in registry.CHAPTERS if registry.of_chapter(c)]


def _candidates(folder: Path, names: set) -> dict:
    """``{file name: [paths]}`` for every expected name under ``folder``."""
    found = {}
    for current, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        for name in files:
            if name in names and not (Path(current) / name).is_symlink():   # a link could point anywhere
                found.setdefault(name, []).append(Path(current) / name)
    return found


def find_exercise_files(folder) -> tuple[dict, list]:
    """``({file name: path}, notes)``: the exercise files chosen in ``folder`` by the rule above, and
    one line for every file that was missing or ambiguous."""
    folder = Path(folder)
    names = expected_names()
    found = _candidates(folder, set(names))
    chosen, notes = {}, []
    for name in names:
        paths = found.get(name, [])
        if not paths:
            notes.append(f"{name}: not found in the submission")
            continue
        ranked = sorted(paths, key=lambda p: (p.parent.name != "exercises",
                                              len(p.relative_to(folder).parts), str(p)))
        chosen[name] = ranked[0]
        if len(paths) > 1:
            others = ", ".join(str(p.relative_to(folder)) for p in ranked[1:])
            notes.append(f"{name}: graded {ranked[0].relative_to(folder)} (also found: {others})")
    return chosen, notes


def collect(submission, destination) -> tuple[list, list]:
    """Copy the exercise files of ``submission`` into the new folder ``destination`` (flat);
    returns ``(file names copied, notes)``. Raises ``FileNotFoundError`` if ``submission`` is not
    a folder."""
    submission = Path(submission)
    if not submission.is_dir():
        raise FileNotFoundError(f"the submission {submission} is not a folder")
    chosen, notes = find_exercise_files(submission)
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=False)
    for name, path in chosen.items():
        shutil.copyfile(path, destination / name)
    return sorted(chosen), notes
