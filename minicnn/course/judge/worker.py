"""The worker: the only process in which a student's code runs.

Started by :class:`.sandbox.Worker` (never by hand) as
``python -I -c BOOT CONFIG_JSON``. Before the submission is imported, the
worker, still trusted:

1. sets its own resource limits (address space, CPU time, file size, open
   files; hard limits equal to soft ones, so they cannot be raised again);
2. imports numpy and minicnn (and Hypothesis when the exercise needs it);
3. replaces minicnn's own version of what the exercise asks for by guards
   (:func:`.shortcuts.install_guards`);
4. installs an audit hook (:pep:`578`) that refuses, from then on: starting
   processes, sending signals to other processes, loading C libraries with
   ctypes, sockets, walking the garbage collector's objects, writing outside
   the working folder, reading the instructor's solutions or the graded tests,
   looking at other processes in ``/proc``, raising resource limits, and
   importing forbidden modules (PyTorch, ``solutions``...).

Then it serves the judge's requests (:class:`.peer.Peer`) until the judge hangs
up. ``sys.exit`` in student code ends the process with that status, which the
judge reports.
"""
from __future__ import annotations

import json
import os
import sys

BOOT = "import sys; sys.path.insert(0, sys.argv[2]); from minicnn.course.judge.worker import main; main()"


class Loader:
    """Reference 0 of the worker: what the judge asks for first."""

    def __init__(self, workdir):
        self.workdir = workdir

    def load(self, module_name):
        """Import ``<workdir>/<module_name>.py`` (the submission) and return the module."""
        import importlib.util
        path = os.path.join(self.workdir, f"{module_name}.py")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{module_name}.py is not in the submission")
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
        return module

    def draw_example(self, strategy, seed):
        from .strategy import draw_example
        return draw_example(strategy, seed)


def set_limits(config):
    import resource
    for name, value in (("RLIMIT_AS", config["memory_bytes"]), ("RLIMIT_CPU", config["cpu_seconds"]),
                        ("RLIMIT_FSIZE", config["file_bytes"]), ("RLIMIT_NOFILE", 256),
                        ("RLIMIT_CORE", 0)):
        if value:
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))
    if os.getuid() != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (64, 64))
    import signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)     # an oversized write raises OSError instead


def make_audit_hook(workdir, denied_roots, forbidden_modules, exercise_id):
    """The hook that refuses what a submission never needs (see the module docstring)."""
    from .shortcuts import ShortcutError, message
    own_pid = str(os.getpid())
    workdir = os.path.realpath(workdir)
    denied_roots = [os.path.realpath(p) for p in denied_roots]
    refused_events = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                      "os.forkpty", "pty.spawn", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
                      "ctypes.call_function", "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                      "resource.setrlimit", "resource.prlimit", "sys.remote_exec")
    path_events = ("os.remove", "os.rename", "os.rmdir", "os.chmod", "os.chown", "os.truncate", "os.link",
                   "os.symlink", "os.mkdir", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move")
    busy = []

    def inside(path, root):
        return path == root or path.startswith(root + os.sep)

    def real(path):
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        return os.path.realpath(path) if isinstance(path, str) else None

    def hook(event, args):
        if busy:
            return
        busy.append(1)
        try:
            if event == "import":
                name = args[0] or ""
                if any(name == m or name.startswith(m + ".") for m in forbidden_modules):
                    raise ShortcutError(message(exercise_id, f"importing {name}"))
                if name in ("_posixsubprocess", "_ctypes"):          # a fresh copy of the unpatched one
                    raise PermissionError(f"the grader does not allow importing {name}")
            elif event.startswith(refused_events) or event.startswith("socket."):
                raise PermissionError(f"the grader does not allow {event} in exercise code")
            elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
                if str(args[0]) not in (own_pid, "0"):
                    raise PermissionError(f"the grader does not allow {event} in exercise code")
            elif event == "open":
                path, mode, flags = (list(args) + [None, None])[:3]
                path = real(path) if not isinstance(path, int) else None
                if path is None:
                    return
                writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                          (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND |
                                                               os.O_TRUNC))
                if writing and not inside(path, workdir) and path != os.devnull:
                    raise PermissionError(f"exercise code may write only in its working folder, not {path}")
                for root in denied_roots:
                    if inside(path, root):
                        raise ShortcutError(message(exercise_id, f"reading {path}"))
                parts = path.split(os.sep)
                if len(parts) > 2 and parts[1] == "proc" and parts[2] not in (own_pid, "self", "thread-self") \
                        and parts[2].isdigit():
                    raise PermissionError("exercise code may not look at other processes")
            elif event.startswith(path_events):
                for path in args[:2]:
                    path = real(path) if isinstance(path, (str, bytes)) else None
                    if path is not None and not inside(path, workdir):
                        raise PermissionError(f"exercise code may change files only in its working folder, "
                                              f"not {path}")
        finally:
            busy.pop()

    return hook


def main():
    config = json.loads(sys.argv[1])
    set_limits(config)
    workdir = config["workdir"]
    os.chdir(workdir)
    sys.path.insert(0, workdir)
    sys.dont_write_bytecode = True
    import numpy  # noqa: F401
    import minicnn  # noqa: F401
    from minicnn import functional, nn, optim  # noqa: F401
    from minicnn.testing import gradcheck  # noqa: F401
    if config.get("hypothesis"):
        import hypothesis  # noqa: F401
        from hypothesis.internal.conjecture import data  # noqa: F401
    from .peer import Peer
    from .shortcuts import FORBIDDEN_MODULES, install_guards
    import _posixsubprocess                   # libraries import subprocess; it may not start anything
    import subprocess  # noqa: F401

    def fork_exec(*args, **kwargs):
        raise PermissionError("the grader does not allow starting processes in exercise code")
    _posixsubprocess.fork_exec = fork_exec
    install_guards(config["exercise"])
    sys.addaudithook(make_audit_hook(workdir, config["denied_roots"], FORBIDDEN_MODULES, config["exercise"]))
    peer = Peer("worker", config["read_fd"], config["write_fd"], root=Loader(workdir))
    try:
        peer.serve_forever()
    except SystemExit as exc:                 # sys.exit in exercise code: end with its status
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        os._exit(code)
    os._exit(0)
