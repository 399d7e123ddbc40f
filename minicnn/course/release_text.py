"""The texts written by ``minicnn release``: the student README and the two Gradescope scripts.

Kept apart from :mod:`minicnn.course.release` so that its code reads without
pages of prose in between. ``README`` is a ``str.format`` template (``{table}``,
``{count}``, ``{total}``); the scripts have ``@EXERCISES@`` and ``@TIMEOUT@``
(shell-quoted when filled in).
"""

README = """\
# minicnn: attention in computer vision, from scratch

This is your copy of the course. **minicnn** is a small deep-learning framework written in NumPy:
tensors with reverse-mode automatic differentiation, convolutions, pooling, batch norm, the attention
modules of the literature (SE, ECA, CBAM, BAM, Gather-Excite, Selective Kernel, DANet, attention
gates), U-Nets and segmentation networks. Its names follow PyTorch (`minicnn.nn.Conv2d`,
`minicnn.functional.conv2d`, `minicnn.optim.Adam`), so what you learn transfers. In the exercises you
write the central pieces yourself, and the grader checks them against minicnn, PyTorch and numerical
gradients.

## Getting started

You need Python 3.10 or newer and git.

```bash
git clone <the address your instructor gave you> minicnn
cd minicnn
python3 run.py demo          # first run: creates .venv/ and installs minicnn; trains a small U-Net
python3 run.py grade --list  # installs the grading tools (pytest, Hypothesis, PyTorch) and lists the exercises
```

Or set it up by hand (then the commands are `minicnn ...` and `jupyter lab` inside the environment):

```bash
python3 -m venv .venv && source .venv/bin/activate     # Windows: .venv\\Scripts\\activate
pip install -e ".[test,notebooks]" --extra-index-url https://download.pytorch.org/whl/cpu
```

(`conda env create -f environment.yml && conda activate minicnn` works too.)

## The course

Work through the notebooks in order (`jupyter lab notebooks/`). Each teaches one topic with prose,
equations, minicnn code and figures, and ends with its exercises.

| # | topic | notebook | your file (exercises) |
|---|---|---|---|
{table}

{count} exercises, {total} points in all.

## Doing an exercise

Each exercise is a place in `exercises/chNN_*.py` that raises `NotImplementedError` with the
exercise's id, what to write and a hint:

```python
    # Exercise 3.2: your code here.
    raise NotImplementedError('Exercise 3.2: im2col: every window of the padded input as a column. Hint: ...')
```

Replace those two lines with your code. Keep the names and signatures of the functions and classes
(the grader calls them), read the docstrings (they state the task and the equations), and write
kernels for any backend: `xp = get_array_module(x)`, never bare `np.` on the data. The point is to
write it yourself: code that calls minicnn's own implementation of what the exercise asks for scores
zero for that exercise.

## Grading your work

```bash
minicnn grade 3.2            # one exercise (python3 run.py grade 3.2 works too)
minicnn grade 3              # all of notebook 3
minicnn grade                # everything
minicnn grade --list         # the exercises, their titles and points
```

The grader runs the graded tests of `tests/exercises/` against your files and prints one row per
exercise: points, passed or FAILED, and the first line of what went wrong. An exercise passes when
all its tests pass; they try your code on many inputs (drawn by Hypothesis), compare the results and
gradients with minicnn's and PyTorch's, and check every backward against finite differences. A bug in
one exercise costs only that exercise's points: later exercises are tested with minicnn's versions of
the earlier parts. `minicnn grade --impl DIR` grades the `chNN_*.py` files of another folder.

Do not edit `tests/` or `minicnn/`: your instructor grades your `exercises/` files with the original
ones.

## Handing in

Hand in your `exercises/` folder (the `chNN_*.py` files), the way your instructor asks: on Gradescope,
upload the files or the folder (or your repository); it grades them with the same tests as
`minicnn grade`.

## More

* `minicnn demo`, `minicnn train unet --dataset cells --attention gate`, `minicnn gradcheck`: the
  framework's own commands (`minicnn --help`).
* `docs/architecture.md`: how the package is organised.
* A GPU: `pip install -e .[cuda12]` (or `.[cuda13]`), then `minicnn.set_backend("cupy")`
  (notebook 12).
"""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder (written by
# `minicnn release --autograder`). It installs Python, the bundled minicnn and its grading tools
# (the "test" extra: pytest, Hypothesis, PyTorch's CPU build) into $AUTOGRADER_ROOT/venv.
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y python3 python3-pip python3-venv
fi
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --upgrade pip
"$ROOT/venv/bin/python" -m pip install --extra-index-url https://download.pytorch.org/whl/cpu \\
    -e "$SOURCE[test]"
"$ROOT/venv/bin/python" -c "import minicnn, pytest, hypothesis, torch; print('minicnn grader ready')"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission (written by `minicnn release --autograder`).
# It grades the chNN_*.py files found anywhere in $AUTOGRADER_ROOT/submission (default root:
# /autograder) with the bundled grader, and always leaves $AUTOGRADER_ROOT/results/results.json.
# AUTOGRADER_EXERCISES (ids separated by spaces; empty: all) and AUTOGRADER_TIMEOUT (seconds per
# test) override the defaults chosen when the bundle was written.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
DEFAULT_EXERCISES=@EXERCISES@
DEFAULT_TIMEOUT=@TIMEOUT@
export AUTOGRADER_EXERCISES="${AUTOGRADER_EXERCISES-$DEFAULT_EXERCISES}"
export AUTOGRADER_TIMEOUT="${AUTOGRADER_TIMEOUT:-$DEFAULT_TIMEOUT}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
status=0
cd "$SOURCE" && PYTHONPATH="$SOURCE" MPLBACKEND=Agg TQDM_DISABLE=1 \\
    "$PYTHON" -m minicnn.course.gradescope --root "$ROOT" || status=$?
if [ ! -s "$RESULTS" ]; then
    printf '{"score": 0.0, "output": "The autograder could not grade this submission (it stopped with status %s). Please tell your instructor.", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}\\n' "$status" > "$RESULTS"
fi
exit 0
"""
