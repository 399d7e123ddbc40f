"""Writing a file so that a crash never leaves it half-written: a temporary file beside it, renamed over it.

:func:`minicnn.save` writes its checkpoint into a temporary file in the same
folder (:func:`create_temporary`), flushes it to disk, then renames it over the
target in one step (``os.replace``) and makes the rename durable
(:func:`fsync_directory`). A save killed half-way leaves only its temporary
file, named after the host and the process; the next save beside it removes
those whose process is gone (:func:`remove_stale_temporaries`).
"""
from __future__ import annotations

import os
import secrets
import socket


def _temporary_prefix(name):
    return f".{name}.{socket.gethostname()}."


def create_temporary(directory, name, shown):
    """A new temporary file beside the target, created as ``open(..., "wb")`` would (0666 minus the umask)."""
    tmp = os.path.join(directory, f"{_temporary_prefix(name)}{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except PermissionError:
        raise PermissionError(f"minicnn.save: cannot write {shown!r}: no permission to create files in "
                              f"{directory!r}") from None


def remove_stale_temporaries(directory, name):
    """Remove temporary files left by killed saves of ``name`` (same machine, process gone)."""
    prefix = _temporary_prefix(name)
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(".tmp")):
            continue
        pid = entry[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            try:
                os.remove(os.path.join(directory, entry))
            except OSError:
                pass


def _process_exists(pid):
    try:
        os.kill(pid, 0)      # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        pass                 # it exists (another user's), or we cannot tell: keep its file
    return True


def fsync_directory(directory):
    """Make the rename itself durable (POSIX); harmless to skip where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
