"""Lint of the course notebooks: what a student opens must render, resolve and point only at what they have.

* outputs stripped (outputs of a solved run leak answers and make every diff noisy);
* no indented markdown heading (four leading spaces turn "## Exercises" into a code block);
* every exercise a notebook names ("exercise 3.2", "**3.2**") exists in minicnn.course.registry;
* no reference to material a student does not have (course-internal documents, issue numbers,
  lecture notes);
* every citation "[Hu et al., 2018a]" resolves to an entry of docs/bibliography.md, and every link
  into the bibliography names an anchor that exists there, with the entry's own label;
* the first cell states the notebook's running time.
"""
import re
from pathlib import Path

import nbformat
import pytest

from minicnn.course import registry

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BIBLIOGRAPHY = ROOT / "docs" / "bibliography.md"

# A bibliography entry: - <a id="hu-2018a"></a>**[Hu et al., 2018a]** Authors. *Title*. Venue, year. <link>
ENTRY = re.compile(r'^- <a id="(?P<anchor>[a-z0-9-]+)"></a>\*\*\[(?P<label>[^\]]+)\]\*\* (?P<rest>.+)$', re.M)
# A linked citation in a notebook: [[Hu et al., 2018a]](../docs/bibliography.md#hu-2018a)
LINKED = re.compile(r"\[\[(?P<label>[^\[\]]+)\]\]\((?P<target>[^)]*bibliography\.md[^)]*)\)")
# Any bracketed "Name ..., 2018" that looks like a citation, linked or not.
CITATION = re.compile(r"\[(?P<label>[A-Z][^\[\]\n]*?,\s*(?:19|20)\d\d[a-z]?)\]")

FORBIDDEN = [
    (re.compile(r"\bseeds?\s*0*\d{1,3}\b", re.I), "a course-internal document ('seed 00N')"),
    (re.compile(r"\bseeds? of (this|the) course\b", re.I), "the course's internal documents"),
    (re.compile(r"\bissue\s+#?\d+\b", re.I), "an issue of the course's own tracker"),
    (re.compile(r"\blecture notes?\b|\bthe notes\b|\bthe notes'|\bthe lecture\b|\bthe lecture's\b", re.I),
     "lecture notes the student does not have (cite the paper instead)"),
    (re.compile(r"\bnotes\s+0*\d{1,3}\b", re.I), "numbered notes the student does not have"),
    (re.compile(r"\bsolutions/|docs/instructor\.md"), "instructor's material, not in a student release"),
]

EXERCISE_MENTIONS = [
    re.compile(r"\b[Ee]xercises?\s+(\d{1,2}\.\d{1,2})\b"),
    re.compile(r"\bgrade\s+(\d{1,2}\.\d{1,2})\b"),
]
LISTED = re.compile(r"\*\*(\d{1,2}\.\d{1,2})\b")   # "**3.2** ..." in a cell with the "## Exercises" heading


def _ids(paths):
    return [p.stem for p in paths]


def _markdown_lines(cell):
    """(line number, line) of a markdown cell, outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(cell.source.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def bibliography():
    """{anchor: label} of docs/bibliography.md."""
    text = BIBLIOGRAPHY.read_text()
    return {m["anchor"]: m["label"] for m in ENTRY.finditer(text)}


def test_bibliography_entries_are_complete_and_unique():
    text = BIBLIOGRAPHY.read_text()
    entries = list(ENTRY.finditer(text))
    assert len(entries) >= 30
    anchors = [m["anchor"] for m in entries]
    labels = [m["label"] for m in entries]
    assert len(set(anchors)) == len(anchors), "duplicate anchors in docs/bibliography.md"
    assert len(set(labels)) == len(labels), "duplicate labels in docs/bibliography.md"
    for m in entries:
        rest = m["rest"]
        assert re.search(r"\*[^*]+\*", rest), f"{m['label']}: no *title*"
        assert re.search(r"(19|20)\d\d", rest), f"{m['label']}: no year"
        assert re.search(r"<https?://[^>]+>$", rest), f"{m['label']}: no link at the end"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_outputs_are_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} have outputs or execution counts; clear them "
                       "(jupyter nbconvert --clear-output --inplace) before committing")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_no_indented_markdown_headings(path):
    nb = nbformat.read(path, as_version=4)
    bad = [(i, n, line) for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown"
           for n, line in _markdown_lines(cell) if re.match(r"^(\t| {4,})#{1,6}\s", line)]
    assert not bad, (f"{path.name}: indented headings render as code: "
                     + "; ".join(f"cell {i} line {n}: {line.strip()!r}" for i, n, line in bad))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_named_exercises_exist(path):
    nb = nbformat.read(path, as_version=4)
    known = {e.id for e in registry.EXERCISES}
    unknown = set()
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        patterns = EXERCISE_MENTIONS + ([LISTED] if re.search(r"^## Exercises", cell.source, re.M) else [])
        for pattern in patterns:
            unknown |= {m for m in pattern.findall(cell.source) if m not in known}
    assert not unknown, f"{path.name} names exercises that minicnn.course.registry lacks: {sorted(unknown)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_no_reference_to_material_students_lack(path):
    nb = nbformat.read(path, as_version=4)
    found = []
    for i, cell in enumerate(nb.cells):
        for pattern, what in FORBIDDEN:
            for m in pattern.finditer(cell.source):
                found.append(f"cell {i}: {m.group(0)!r} ({what})")
    assert not found, f"{path.name}: " + "; ".join(found)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_citations_resolve_in_the_bibliography(path):
    entries = bibliography()
    labels = set(entries.values())
    nb = nbformat.read(path, as_version=4)
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for m in LINKED.finditer(cell.source):
            target = m["target"]
            anchor = target.split("#", 1)[1] if "#" in target else ""
            if target.split("#")[0] != "../docs/bibliography.md":
                problems.append(f"cell {i}: link {target!r} (from notebooks/ it is ../docs/bibliography.md#anchor)")
            elif anchor not in entries:
                problems.append(f"cell {i}: anchor #{anchor} is not in docs/bibliography.md")
            elif entries[anchor] != m["label"]:
                problems.append(f"cell {i}: [{m['label']}] links to #{anchor}, whose label is [{entries[anchor]}]")
        for m in CITATION.finditer(cell.source):
            if m["label"] not in labels:
                problems.append(f"cell {i}: citation [{m['label']}] has no entry in docs/bibliography.md")
    assert not problems, f"{path.name}: " + "; ".join(problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_cell_states_the_running_time(path):
    first = nbformat.read(path, as_version=4).cells[0]
    stated = first.cell_type == "markdown" and re.search(r"\*\*Running time", first.source) is not None
    assert stated, (
        f"{path.name}: the first cell should state the running time (a line '**Running time** ...', "
        "measured with benchmarks/notebook_times.py)")
