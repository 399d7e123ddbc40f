"""How long each course notebook takes to run, top to bottom, in a fresh kernel.

    python benchmarks/notebook_times.py                   # fast mode (MINICNN_FAST=1), every notebook
    python benchmarks/notebook_times.py --full            # full mode (what a student runs)
    python benchmarks/notebook_times.py 04 13             # only the notebooks whose name starts so
    python benchmarks/notebook_times.py --no-write        # print only

Each notebook runs as tests/test_notebooks.py runs it (nbclient, kernel "python3", this checkout
first on PYTHONPATH, MPLBACKEND=Agg, TQDM_DISABLE=1). The time is the wall-clock time of the whole
execution, kernel start included. The load average (1 minute) is read before and after each
notebook: the machine may be shared, and a busy machine makes every number larger.

The results go to benchmarks/NOTEBOOK_TIMES.md, in the section of the mode that was run (the other
section is kept). This is a measurement, not a test: no time limit fails anything here.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "NOTEBOOK_TIMES.md"
CELL_TIMEOUT = 3600


def run_notebook(path: Path, full: bool) -> tuple[float, str | None]:
    """Execute ``path``; return (seconds, first error or None)."""
    import nbformat
    from nbclient import NotebookClient

    env_backup = dict(os.environ)
    os.environ.update(MPLBACKEND="Agg", TQDM_DISABLE="1",
                      PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    if full:
        os.environ.pop("MINICNN_FAST", None)
        os.environ.pop("CI", None)
    else:
        os.environ["MINICNN_FAST"] = "1"
    try:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        error = None
        try:
            client.execute()
        except Exception as exc:  # a failing cell: report it, keep timing the others
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:120]}"
        return time.perf_counter() - start, error
    finally:
        os.environ.clear()
        os.environ.update(env_backup)


def section(mode: str, rows: list, total: float) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"<!-- {mode} -->", f"## {mode} mode", "",
             f"Measured {now} on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}; load average before/after each notebook (1 min).", "",
             "| notebook | seconds | load before | load after | error |", "|---|---:|---:|---:|---|"]
    for name, seconds, before, after, error in rows:
        lines.append(f"| {name} | {seconds:.1f} | {before:.2f} | {after:.2f} | {error or ''} |")
    lines += ["", f"Total: {total:.1f} s.", f"<!-- end {mode} -->", ""]
    return "\n".join(lines)


def previous_rows(mode: str) -> list:
    """The rows already recorded for ``mode`` (so that a partial run updates only its notebooks)."""
    if not RESULTS.exists():
        return []
    match = re.search(rf"<!-- {mode} -->(.*?)<!-- end {mode} -->", RESULTS.read_text(), re.S)
    rows = []
    for line in (match.group(1).splitlines() if match else []):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[\d.]+", cells[1]):
            rows.append((cells[0], float(cells[1]), float(cells[2]), float(cells[3]), cells[4] or None))
    return rows


def write_section(mode: str, text: str) -> None:
    old = RESULTS.read_text() if RESULTS.exists() else (
        "# Notebook run times\n\nWritten by `python benchmarks/notebook_times.py [--full]`; "
        "see that script's docstring for how it measures.\n\n")
    pattern = re.compile(rf"<!-- {mode} -->.*?<!-- end {mode} -->\n?", re.S)
    new = pattern.sub(lambda _: text, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prefixes", nargs="*", help="run only the notebooks whose file name starts so")
    parser.add_argument("--full", action="store_true", help="full mode (MINICNN_FAST unset)")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {RESULTS.name}")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.prefixes:
        paths = [p for p in paths if p.name.startswith(tuple(args.prefixes))]
    mode = "full" if args.full else "fast"
    rows = []
    for path in paths:
        before = os.getloadavg()[0]
        seconds, error = run_notebook(path, args.full)
        after = os.getloadavg()[0]
        rows.append((path.stem, seconds, before, after, error))
        print(f"{path.stem:<40} {seconds:7.1f} s   load {before:.2f} -> {after:.2f}"
              + (f"   {error}" if error else ""), flush=True)
    print(f"{'total':<40} {sum(row[1] for row in rows):7.1f} s ({mode} mode)")
    if not args.no_write and paths:
        merged = {row[0]: row for row in previous_rows(mode)}   # a partial run keeps the other rows
        merged.update({row[0]: row for row in rows})
        rows = [merged[name] for name in sorted(merged)]
        write_section(mode, section(mode, rows, sum(row[1] for row in rows)))
    return 1 if any(row[4] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
