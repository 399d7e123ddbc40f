"""How long each course notebook takes to run, top to bottom, in a fresh kernel.

    python benchmarks/notebook_times.py                   # fast mode (MINICNN_FAST=1), every notebook
    python benchmarks/notebook_times.py --full            # full mode (what a student runs)
    python benchmarks/notebook_times.py 04 13             # only the notebooks whose name starts so
    python benchmarks/notebook_times.py --no-write        # print only
    python benchmarks/notebook_times.py --demo            # time `minicnn demo` instead (the README's number)
    python benchmarks/notebook_times.py --threads 1       # one BLAS thread (OpenBLAS, OpenMP, MKL)

Each notebook runs as tests/test_notebooks.py runs it (nbclient, kernel "python3", this checkout
first on PYTHONPATH, MPLBACKEND=Agg, TQDM_DISABLE=1). The time is the wall-clock time of the whole
execution, kernel start included; the kernel's CPU time (user + system, its own and its children's)
is read inside the kernel after the last cell. The load average (1 minute) is read before and after
each notebook: on a shared machine the wall-clock time grows with the load, the CPU time much less
(BLAS may use two threads, so on a quiet machine the CPU time can exceed the wall time). On a
crowded machine a multi-threaded BLAS also burns CPU time waiting for its other thread:
``--threads 1`` removes that, and its CPU time is then close to the wall-clock time on a quiet
machine.

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

from _threads import set_threads_before_numpy_loads

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "NOTEBOOK_TIMES.md"
CELL_TIMEOUT = 3600


CPU_PROBE = ("import resource as _r\n"
             "_u = _r.getrusage(_r.RUSAGE_SELF), _r.getrusage(_r.RUSAGE_CHILDREN)\n"
             "print('CPU_SECONDS', sum(u.ru_utime + u.ru_stime for u in _u))")


def run_notebook(path: Path, full: bool) -> tuple[float, float | None, str | None]:
    """Execute ``path``; return (wall seconds, kernel CPU seconds, first error or None).

    The kernel's CPU time (user + system, read inside the kernel after the last cell) depends much
    less on what else runs on the machine than the wall-clock time does."""
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
        error, cpu = None, None
        start = time.perf_counter()
        with client.setup_kernel():
            try:
                for index, cell in enumerate(nb.cells):
                    client.execute_cell(cell, index)
            except Exception as exc:  # a failing cell: report it
                error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:120]}"
            wall = time.perf_counter() - start
            probe = nbformat.v4.new_code_cell(CPU_PROBE)
            nb.cells.append(probe)
            client.execute_cell(probe, len(nb.cells) - 1)
            text = "".join(output.get("text", "") for output in probe.outputs)
            match = re.search(r"CPU_SECONDS ([\d.]+)", text)
            cpu = float(match.group(1)) if match else None
        return wall, cpu, error
    finally:
        os.environ.clear()
        os.environ.update(env_backup)


def run_demo() -> tuple[float, float, str | None]:
    """Run ``python -m minicnn demo`` in a subprocess; return (wall seconds, CPU seconds, error or None)."""
    import resource
    import subprocess
    import tempfile

    env = dict(os.environ, MPLBACKEND="Agg", TQDM_DISABLE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "minicnn", "demo", "--no-progress",
                               "--out", os.path.join(tmp, "demo.png")], cwd=ROOT, env=env,
                              capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    error = None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["exit code"])[-1][:120]
    return wall, cpu, error


def section(mode: str, rows: list, total: float | None) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "BLAS's default number of")
    title = "`minicnn demo`" if mode == "demo" else f"{mode} mode"
    lines = [f"<!-- {mode} -->", f"## {title}", "",
             f"Measured {now} on {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"{threads} BLAS thread(s), Python {platform.python_version()}; load average before/after each "
             "notebook (1 min).", "",
             f"| {'run' if mode == 'demo' else 'notebook'} | wall s | {'' if mode == 'demo' else 'kernel '}CPU s "
             "| load before | load after | error |", "|---|---:|---:|---:|---:|---|"]
    for name, seconds, cpu, before, after, error in rows:
        cpu_text = "" if cpu is None else f"{cpu:.1f}"
        lines.append(f"| {name} | {seconds:.1f} | {cpu_text} | {before:.2f} | {after:.2f} | {error or ''} |")
    cpu_total = sum(row[2] or 0.0 for row in rows)
    if total is not None:
        lines += ["", f"Total: {total:.1f} s wall, {cpu_total:.1f} s kernel CPU."]
    lines += [f"<!-- end {mode} -->", ""]
    return "\n".join(lines)


def previous_rows(mode: str) -> list:
    """The rows already recorded for ``mode`` (so that a partial run updates only its notebooks)."""
    if not RESULTS.exists():
        return []
    match = re.search(rf"<!-- {mode} -->(.*?)<!-- end {mode} -->", RESULTS.read_text(), re.S)
    rows = []
    for line in (match.group(1).splitlines() if match else []):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"[\d.]+", cells[1]):
            cpu = float(cells[2]) if cells[2] else None
            rows.append((cells[0], float(cells[1]), cpu, float(cells[3]), float(cells[4]), cells[5] or None))
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
    parser.add_argument("--demo", action="store_true", help="time `minicnn demo` (section 'demo')")
    parser.add_argument("--threads", type=int, help="BLAS threads of the kernels (default: BLAS's own)")
    args = parser.parse_args(argv)
    set_threads_before_numpy_loads(["--threads", str(args.threads)] if args.threads else [])
    if args.demo:
        before = os.getloadavg()[0]
        wall, cpu, error = run_demo()
        after = os.getloadavg()[0]
        print(f"minicnn demo  {wall:7.1f} s wall   {cpu:7.1f} s CPU   load {before:.2f} -> {after:.2f}"
              + (f"   {error}" if error else ""))
        if not args.no_write:
            rows = {row[0]: row for row in previous_rows("demo")}
            name = datetime.datetime.now(datetime.timezone.utc).strftime("minicnn demo, %H:%M UTC")
            rows[name] = (name, wall, cpu, before, after, error)
            write_section("demo", section("demo", list(rows.values()), None))
        return 1 if error else 0
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    if args.prefixes:
        paths = [p for p in paths if p.name.startswith(tuple(args.prefixes))]
    mode = "full" if args.full else "fast"
    rows = []
    for path in paths:
        before = os.getloadavg()[0]
        seconds, cpu, error = run_notebook(path, args.full)
        after = os.getloadavg()[0]
        rows.append((path.stem, seconds, cpu, before, after, error))
        print(f"{path.stem:<40} {seconds:7.1f} s wall   {cpu or float('nan'):7.1f} s CPU   load {before:.2f} -> {after:.2f}"
              + (f"   {error}" if error else ""), flush=True)
    print(f"{'total':<40} {sum(row[1] for row in rows):7.1f} s ({mode} mode)")
    if not args.no_write and paths:
        merged = {row[0]: row for row in previous_rows(mode)}   # a partial run keeps the other rows
        merged.update({row[0]: row for row in rows})
        rows = [merged[name] for name in sorted(merged)]
        write_section(mode, section(mode, rows, sum(row[1] for row in rows)))
    return 1 if any(row[5] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
