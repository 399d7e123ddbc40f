#!/usr/bin/env python3
"""The newcomer's entry point: sets up a virtual environment on first use, then runs the job.

    python3 run.py demo      # train the demo network and print its metrics
    python3 run.py test      # run the whole test suite (installs the test extras, torch CPU included)
    python3 run.py lab       # open the course notebooks in JupyterLab (installs it on first use)
    python3 run.py grade [EXERCISE...] [-v]   # grade your exercises (installs pytest, Hypothesis, torch CPU)
    python3 run.py <any minicnn command...>   e.g. python3 run.py gradcheck conv2d

Only Python 3.10+ is needed. The environment lives in .venv/ and is
re-installed when pyproject.toml changes.
"""
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")


# Extras that include everything another extra installs: a .venv set up for "test" can grade.
COVERS = {"grade": ("test",)}


def _stamp(extras: str) -> tuple:
    """(stamp file, the text it holds once ``extras`` is installed for this pyproject.toml)."""
    text = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    return VENV / f".installed-{extras or 'base'}", text


def _installed(extras: str) -> bool:
    stamp, text = _stamp(extras)
    return stamp.exists() and stamp.read_text() == text


def ensure_environment(extras: str) -> None:
    """Create .venv and install the package (editable) with ``extras``, once per pyproject version."""
    if sys.version_info < (3, 10):
        sys.exit(f"minicnn needs Python 3.10 or newer (this is {sys.version.split()[0]})")
    if any(_installed(e) for e in (extras, *COVERS.get(extras, ()))):
        return
    stamp, stamp_text = _stamp(extras)
    if not PYTHON.exists():
        print("Creating the virtual environment in .venv ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    target = f".[{extras}]" if extras else "."
    print(f"Installing minicnn{f'[{extras}]' if extras else ''} into .venv (first run only) ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", target], cwd=ROOT, check=True)
    stamp.write_text(stamp_text)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "test":
        ensure_environment("test")
        env = dict(os.environ, MPLBACKEND="Agg", TQDM_DISABLE="1")
        return subprocess.run([str(PYTHON), "-m", "pytest", *argv[1:]], cwd=ROOT, env=env).returncode
    if argv[0] == "lab":
        ensure_environment("notebooks")
        # The repository is the root of JupyterLab's file browser, so that exercises/ and docs/ (the
        # bibliography the notebooks link to) are there too; it opens on the first notebook.
        options = argv[1:] or [f"--ServerApp.root_dir={ROOT}",
                               "--LabApp.default_url=/lab/tree/notebooks/01_tour.ipynb"]
        return subprocess.run([str(PYTHON), "-m", "jupyterlab", *options], cwd=ROOT).returncode
    ensure_environment("grade" if argv[0] == "grade" else "")   # the grader runs pytest, Hypothesis, torch
    env = dict(os.environ, MPLBACKEND=os.environ.get("MPLBACKEND", "Agg"))
    return subprocess.run([str(PYTHON), "-m", "minicnn", *argv], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
