"""What a grading run reports, and how it is shown: the judges' events, one result per exercise, the table.

A judge (pytest in tests/exercises, see its conftest) writes one JSON line per
event as it goes (collected, start, report, finish), so that the grader still
knows what happened when a judge is killed; :func:`read_results` reads them
back. :class:`Result` is one exercise's outcome; :func:`table` and
:meth:`Result.full_report` are what the student reads.
"""
from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from . import registry


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
        details = self.report.strip().splitlines()
        if details and self.message.strip() in (details[0].strip(), details[0].split(": ", 1)[-1].strip()):
            details = details[1:]              # "AssertionError: <the summary>": said on the line above
        lines += [f"  {line}".rstrip() for line in details]
        lines.append(f"  Hint: {self.exercise.hint}")
        return "\n".join(lines)



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


def results_json(results) -> list:
    """Today's JSON fields (instructors' scripts read them), plus the full report."""
    return [{"id": r.exercise.id, "title": r.exercise.title, "points": r.score, "max_points": r.exercise.points,
             "passed": r.passed, "message": r.message, "report": r.report} for r in results]
