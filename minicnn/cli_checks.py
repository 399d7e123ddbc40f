"""The command line's argument checks: everything a user can get wrong is refused before any work.

A training run that fails after ten minutes because ``--plot`` names a
folder that cannot be written, or that silently turns ``--batch-size 0``
into a default, wastes the user's time or misleads them. So:

* numbers are parsed by the ``type=`` functions below, which argparse calls
  while parsing; a bad value ends with argparse's usage line, the option,
  the value and exit code 2 (``minicnn train: error: argument --epochs:
  expected a positive integer, got 0``);
* output paths are checked by creating (and removing) a probe file in the
  folder that will receive them, before the model is even built;
* a ``--resume`` checkpoint is opened and checked before training starts.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile

__all__ = ["positive_int", "non_negative_int", "positive_float", "check_output_file", "check_output_folder",
           "check_figure_path", "read_resume_checkpoint", "UsageError"]


class UsageError(Exception):
    """A user's mistake found before any work; the CLI prints it with the usage line (exit code 2)."""


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text):
    """An argparse ``type``: an integer >= 1 (counts: epochs, images, channels, batch size...)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def non_negative_int(text):
    """An argparse ``type``: an integer >= 0 (seeds: NumPy's generators refuse negative seeds)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive_float(text):
    """An argparse ``type``: a finite number > 0 (learning rates, time limits)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _nearest_existing(folder):
    while folder and not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def check_output_folder(folder, flag, given=None):
    """``folder`` exists and is writable, or can be created (its nearest existing parent is writable).

    ``given`` is what the user typed (default ``folder``), repeated in the message.
    """
    given = folder if given is None else given
    existing = _nearest_existing(os.path.abspath(folder))
    if not os.path.isdir(existing):
        raise UsageError(f"{flag} {given}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {given}: cannot write in {existing} ({exc.strerror or exc})") from None


def check_output_file(path, flag):
    """``path`` can be written: not a folder, in a writable (or creatable) folder, and writable if it exists."""
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: is a folder; give a file name")
    check_output_folder(os.path.dirname(os.path.abspath(path)), flag, given=path)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{flag} {path}: the file exists and cannot be overwritten (permission denied)")


def check_figure_path(path, flag):
    """A writable path whose extension matplotlib can write (none: PNG)."""
    from matplotlib.backend_bases import FigureCanvasBase

    extension = os.path.splitext(path)[1][1:].lower()
    formats = FigureCanvasBase.get_supported_filetypes()
    if extension and extension not in formats:
        raise UsageError(f"{flag} {path}: unknown figure format {extension!r}; "
                         f"supported: {', '.join(sorted(formats))}")
    check_output_file(path, flag)


def read_resume_checkpoint(path, epochs):
    """The checkpoint of ``--resume``, checked before any work: it exists, is a Trainer checkpoint,
    and has trained fewer epochs than ``--epochs`` (the total)."""
    from .serialization import load

    if os.path.isdir(path):
        raise UsageError(f"--resume {path}: is a folder; give the checkpoint file ({os.path.join(path, 'last.npz')}?)")
    if not os.path.isfile(path):
        raise UsageError(f"--resume {path}: no such file")
    try:
        checkpoint = load(path)
    except (ValueError, OSError) as exc:
        raise UsageError(f"--resume {path}: {exc}") from None
    missing = [k for k in ("epoch", "model", "optimizer", "history", "rng")
               if not isinstance(checkpoint, dict) or k not in checkpoint]
    if missing:
        raise UsageError(f"--resume {path}: not a checkpoint written by minicnn train "
                         f"(--checkpoint-dir): it lacks {', '.join(missing)}")
    done = checkpoint["epoch"]
    if not isinstance(done, int) or isinstance(done, bool) or done < 0:
        raise UsageError(f"--resume {path}: its epoch {done!r} is not a count of epochs")
    if done >= epochs:
        raise UsageError(f"--resume {path}: the checkpoint has already trained {done} epochs and --epochs "
                         f"({epochs}) is the total; give --epochs larger than {done}")
    return checkpoint
