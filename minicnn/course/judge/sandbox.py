"""Starting, watching and ending a worker process (the judge's side).

A worker gets:

* a fresh temporary working folder holding only the submission's ``.py`` files;
* an environment cleared to what Python and NumPy need (no variable of the
  judge's, the grader's or the instructor's shell);
* a new session (no controlling terminal: nothing reaches the instructor's
  terminal), stdin from ``/dev/null``, stdout and stderr into a pipe that the
  judge drains, keeping the first :data:`OUTPUT_KEEP` bytes;
* resource limits (:class:`Limits`: memory, CPU time, file size), set by the
  worker itself before any student code runs;
* when the grader runs as root: a user id of its own with no rights on any
  file of the grader (the strongest isolation this module offers without a
  container; see docs/instructor.md).

:meth:`Worker.close` kills the worker's process group and every process it
left behind (the judge is a *child subreaper*, so even a double-forked
daemon comes back to it), then removes the folder.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from . import peer as peer_module
from .worker import BOOT

ROOT = Path(__file__).resolve().parents[3]
OUTPUT_KEEP = 64 * 1024
ENV_KEEP = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "SYSTEMROOT")


@dataclass(frozen=True)
class Limits:
    """What one exercise's worker may use (each has a ``minicnn grade`` flag)."""

    timeout: float = 30.0              # seconds of wall time for one call into student code
    memory_gb: float = 3.0             # address space
    cpu_seconds: int = 600             # CPU time of the whole worker
    file_mb: float = 64.0              # the largest file it may write
    same_user: bool = False            # root only: keep root's user id (tests of the fingerprints)

    def describe(self) -> str:
        return (f"{self.timeout:g} s a call, {self.memory_gb:g} GB of memory, {self.cpu_seconds} s of CPU, "
                f"files up to {self.file_mb:g} MB")


def become_subreaper() -> bool:
    """Let orphaned descendants come back to this process (Linux), so that they can be ended."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0          # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def children(pid=None) -> list:
    """The process ids whose parent is ``pid`` (default: this process), from /proc."""
    pid = os.getpid() if pid is None else pid
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry))
    return found


def end_descendants(keep=()) -> int:
    """Kill and reap every child of this process except ``keep`` (repeatedly: orphans of the killed
    ones come back to a subreaper). Returns how many were ended."""
    ended = 0
    for _ in range(20):
        strays = [p for p in children() if p not in keep]
        if not strays:
            break
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            ended += 1
    return ended


def readable_by_others(root) -> bool:
    """Whether a user without rights of its own can import the package under ``root`` (every folder
    above it searchable, the package's files readable)."""
    root = Path(root).resolve()
    for folder in [root, *root.parents]:
        if not os.stat(folder).st_mode & 0o001:
            return False
    return all(os.stat(p).st_mode & 0o004 for p in [root / "minicnn" / "__init__.py", Path(sys.executable)])


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Worker:
    """One exercise's worker process and the judge's end of its pipe."""

    def __init__(self, exercise_id, submission_dir, limits=Limits(), hypothesis=False):
        self.exercise_id, self.limits = exercise_id, limits
        self.workdir = tempfile.mkdtemp(prefix="minicnn-worker-")
        for path in Path(submission_dir).glob("*.py"):
            if path.is_file() and not path.is_symlink():
                shutil.copyfile(path, Path(self.workdir) / path.name)
        uid = self._user_id()
        if uid is not None:
            for path in [self.workdir, *(str(p) for p in Path(self.workdir).iterdir())]:
                os.chown(path, uid, uid)
        to_worker_r, to_worker_w = os.pipe()
        to_judge_r, to_judge_w = os.pipe()
        output_r, output_w = os.pipe()
        config = {"read_fd": to_worker_r, "write_fd": to_judge_w, "workdir": self.workdir,
                  "exercise": exercise_id, "hypothesis": hypothesis,
                  "memory_bytes": int(limits.memory_gb * 2 ** 30), "cpu_seconds": int(limits.cpu_seconds),
                  "file_bytes": int(limits.file_mb * 2 ** 20),
                  "denied_roots": [str(ROOT / "solutions"), str(ROOT / "tests"), str(Path(submission_dir).resolve()),
                                   tempfile.gettempdir() + os.sep + "minicnn-grade-"]}
        env = {k: os.environ[k] for k in ENV_KEEP if k in os.environ}
        env.update(HOME=self.workdir, TMPDIR=self.workdir, MPLCONFIGDIR=self.workdir, MPLBACKEND="Agg",
                   OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0",
                   PYTHONDONTWRITEBYTECODE="1", TQDM_DISABLE="1")
        extra = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT, json.dumps(config), str(ROOT)],
            pass_fds=(to_worker_r, to_judge_w), stdin=subprocess.DEVNULL, stdout=output_w, stderr=output_w,
            cwd=self.workdir, env=env, start_new_session=True, close_fds=True, **extra)
        for fd in (to_worker_r, to_judge_w, output_w):
            os.close(fd)
        self.output, self.output_bytes = bytearray(), 0
        self._drain = threading.Thread(target=self._read_output, args=(output_r,), daemon=True)
        self._drain.start()
        self.peer = peer_module.Peer("judge", to_judge_r, to_worker_w, timeout=limits.timeout,
                                     on_timeout=self.kill)
        self.peer._gone = self._gone
        self.peer.memory_gb = limits.memory_gb
        self._fds = (to_judge_r,)
        self.closed = False

    def _user_id(self):
        """A user id of the worker's own when the judge runs as root (else None: same user). Only when
        the package is readable by other users: else the worker could not import minicnn, and runs
        as the same user (the audit hook and the fingerprints still hold)."""
        if os.name != "posix" or os.geteuid() != 0 or self.limits.same_user or not readable_by_others(ROOT):
            return None
        return 50000 + os.getpid() % 10000

    def _read_output(self, fd):
        with os.fdopen(fd, "rb", buffering=0) as stream:
            while True:
                chunk = stream.read(65536)
                if not chunk:
                    return
                self.output_bytes += len(chunk)
                room = OUTPUT_KEEP - len(self.output)
                if room > 0:
                    self.output += chunk[:room]

    def printed(self) -> str:
        """What the worker printed (cut after OUTPUT_KEEP bytes, with a note saying so)."""
        text = self.output.decode(errors="replace")
        if self.output_bytes > len(self.output):
            text += f"\n[... output cut: {self.output_bytes:,} bytes printed, the first {len(self.output):,} kept]"
        return text

    def load(self, module_name):
        """The submission's module, as a proxy."""
        return peer_module.Proxy(self.peer, 0).load(module_name)

    def _gone(self, exc):
        """Why the worker stopped answering, in a student's words."""
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            return peer_module.WorkerFailure(f"the worker broke the protocol ({exc})")
        time.sleep(0.05)                       # let the output thread take the last words
        printed = [line for line in self.output.decode(errors="replace").splitlines() if line.strip()]
        said = f"; its last output: {printed[-1][:300]}" if printed else ""
        if code >= 0:
            return peer_module.WorkerFailure(
                f"exited with status {code} (sys.exit or os._exit in your code?){said}")
        number = -code
        if number == signal.SIGXCPU:
            return peer_module.WorkerFailure(f"used more than {self.limits.cpu_seconds} s of CPU time")
        if number == signal.SIGKILL:
            return peer_module.WorkerFailure("killed (signal 9: out of memory, or ended from outside)")
        return peer_module.WorkerFailure(f"crashed: signal {number} ({_signal_name(number)})")

    def kill(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self):
        """End the worker and everything it started; remove its folder."""
        if self.closed:
            return
        self.closed = True
        self.kill()
        end_descendants()
        try:
            self.peer.write.close()
        except OSError:
            pass
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)
