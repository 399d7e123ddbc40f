"""Checkpoints: ``minicnn.save(obj, path)`` and ``minicnn.load(path)``, without pickle.

``obj`` is a tree of dicts (str or int keys), lists and tuples whose leaves are

* arrays: NumPy, CuPy, strict arrays, minicnn Tensors/Parameters or torch
  tensors, always copied to the host first;
* plain values: int, float, bool, str, None.

A typical checkpoint::

    minicnn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "scheduler": scheduler.state_dict(), "epoch": 3}, "checkpoint.npz")
    checkpoint = minicnn.load("checkpoint.npz")
    model.load_state_dict(checkpoint["model"])

**The file** is an ordinary ``.npz`` (NumPy's zip of ``.npy`` arrays): each
array is stored under its flattened path, e.g. ``model/layer1.0.weight`` or
``optimizer/state/0/exp_avg``, so ``np.load(path)["model/fc.weight"]`` works
too. One extra entry, ``__minicnn__``, is a JSON string that records the tree:
its containers (dict, OrderedDict, list, tuple), key types, plain values, and
which array sits where. ``load`` rebuilds the same structure with NumPy arrays
as leaves.

**Why not pickle.** ``torch.save`` pickles, and unpickling a file can run any
code in it. Here every value is an array or JSON, and ``load`` reads with
``np.load(allow_pickle=False)``: a file that needs pickle (object arrays) is
refused.

**Why atomic.** A checkpoint written while the job is killed (time limit,
Ctrl-C, full disk) must not replace the previous good one with half a file.
``save`` writes to a temporary file in the same directory, flushes it to disk
(``os.fsync``), and only then renames it over ``path`` with ``os.replace``,
which is atomic on POSIX and Windows: ``path`` holds either the old or the new
checkpoint, never a mixture. On any error Python sees (including Ctrl-C) the
temporary file is removed; a process killed outright (SIGKILL, power loss)
cannot clean up, so the next ``save`` next to it removes the temporary files
of processes of this machine that no longer run. The temporary file is named
``.NAME.HOST.PID.RANDOM.tmp`` for that. ``path`` keeps its permissions (a new
file gets those ``numpy.save`` would give it: 0666 minus the umask), and a
symbolic link is written through: its target is replaced, the link stays.

**Why careful reading.** A file may be truncated, damaged, foreign (a
``.npy``, a ``torch.save`` or pickle file) or crafted: a header can claim an
array of terabytes, a small zip can inflate to gigabytes, the JSON structure
can point at arrays that are not there or nest ten thousand levels deep.
``load`` checks each array's declared size against the zip entry and against
caps (``max_array_bytes`` per array, ``max_bytes`` in total; 1 GiB each by
default, ``None`` for no cap) *before* reading it, and reports every problem
as a ``ValueError`` that names the file and what is wrong.
"""
from __future__ import annotations

import json
import math
import os
import stat
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from .atomic_file import create_temporary, fsync_directory, remove_stale_temporaries
from .backend import to_numpy

__all__ = ["save", "load"]

META_KEY = "__minicnn__"
FORMAT = "minicnn-npz"
VERSION = 1
MAX_BYTES = 1 << 30          # load's default caps: 1 GiB in total ...
MAX_ARRAY_BYTES = 1 << 30    # ... and per array
MAX_DEPTH = 200              # nesting of dicts and lists in a checkpoint's structure


# --------------------------------------------------------------------------- object tree -> (JSON, arrays)
def _host_array(value):
    """A host NumPy array for an array-like leaf, or None if ``value`` is not one."""
    if getattr(value, "_is_minicnn_tensor", False):
        return to_numpy(value.data)
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) or (hasattr(value, "shape") and hasattr(value, "dtype")
                                         and not isinstance(value, np.generic)):
        return to_numpy(value)
    return None


def _encode(value, path, arrays, where):
    """The JSON description of ``value``; its arrays are put in ``arrays`` under flattened names."""
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        value = value.item()  # a NumPy scalar becomes the Python number it equals
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    array = _host_array(value)
    if array is not None:
        if array.dtype.kind == "O":
            raise TypeError(f"minicnn.save: {where} is an object array, which only pickle can store")
        name = path or "array"
        if name in arrays or name == META_KEY:
            k = 1
            while f"{name}#{k}" in arrays:
                k += 1
            name = f"{name}#{k}"
        arrays[name] = array
        return {"array": name}
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"minicnn.save: {where} has a key {key!r} of type {type(key).__name__}; "
                                "only str and int keys can be stored")
            child = f"{path}/{key}" if path else str(key)
            items.append([key, _encode(item, child, arrays, f"{where}[{key!r}]")])
        return {"dict": items, "ordered": isinstance(value, OrderedDict)}
    if isinstance(value, (list, tuple)):
        kind = "tuple" if isinstance(value, tuple) else "list"
        if all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
            return {kind + "_values": list(value)}  # a list of plain values is JSON as it is
        return {kind: [_encode(item, f"{path}/{i}" if path else str(i), arrays, f"{where}[{i}]")
                       for i, item in enumerate(value)]}
    raise TypeError(f"minicnn.save: cannot store {where} of type {type(value).__name__}; supported are "
                    "dicts, lists, tuples, arrays/Tensors, int, float, bool, str and None")


def _decode(node, arrays, depth=0):
    """Rebuild the tree; anything that :func:`_encode` cannot have written raises _Damaged."""
    if depth > MAX_DEPTH:
        raise _Damaged(f"its structure nests deeper than {MAX_DEPTH} levels")
    if not isinstance(node, dict) or len(node) == 0:
        raise _Damaged(f"an entry of its structure is {_short(node)}, not a JSON object")
    if "value" in node:
        if not _is_plain(node["value"]):
            raise _Damaged(f"a plain value is {_short(node['value'])}")
        return node["value"]
    if "array" in node:
        if not isinstance(node["array"], str) or node["array"] not in arrays:
            raise _Damaged(f"its structure names an array {_short(node['array'])} that the file does not hold")
        return arrays[node["array"]]
    if "dict" in node:
        if not isinstance(node["dict"], list):
            raise _Damaged(f"a dict entry is {_short(node['dict'])}, not a list of [key, value] pairs")
        pairs = []
        for pair in node["dict"]:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))
                    and not isinstance(pair[0], bool)):
                raise _Damaged(f"a dict item is {_short(pair)}, not a [str or int key, value] pair")
            pairs.append((pair[0], _decode(pair[1], arrays, depth + 1)))
        return OrderedDict(pairs) if node.get("ordered") else dict(pairs)
    for kind, build in (("list", list), ("tuple", tuple)):
        if kind + "_values" in node:
            values = node[kind + "_values"]
            if not isinstance(values, list) or not all(_is_plain(v) for v in values):
                raise _Damaged(f"a {kind} of plain values is {_short(values)}")
            return build(values)
        if kind in node:
            if not isinstance(node[kind], list):
                raise _Damaged(f"a {kind} entry is {_short(node[kind])}, not a list")
            return build(_decode(item, arrays, depth + 1) for item in node[kind])
    raise _Damaged(f"its structure has an unknown entry {_short(node)}")


def _is_plain(value):
    return value is None or isinstance(value, (bool, int, float, str))


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class _Damaged(Exception):
    """Raised inside load's helpers; load turns it into a ValueError naming the file."""


# --------------------------------------------------------------------------- save
def save(obj, path):
    """Write ``obj`` (a tree of dicts/lists of arrays and plain values) to ``path`` as an npz, atomically.

    ``path`` is used exactly as given (no ``.npz`` is appended); a symbolic link
    is followed and its target replaced. A writable binary file object is also
    accepted (then nothing is atomic).
    """
    arrays = {}
    tree = _encode(obj, "", arrays, "the object")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    arrays[META_KEY] = np.array(meta)
    if hasattr(path, "write"):
        np.savez(path, **arrays)
        return
    target = os.path.realpath(os.fspath(path))     # through symbolic links, to the file itself
    directory = os.path.dirname(target)
    if os.path.isdir(target):
        raise IsADirectoryError(f"minicnn.save: {os.fspath(path)!r} is a folder; give a file name")
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"minicnn.save: the folder {directory!r} of {os.fspath(path)!r} does not exist")
    remove_stale_temporaries(directory, os.path.basename(target))
    tmp, fd = create_temporary(directory, os.path.basename(target), os.fspath(path))
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(target):                  # keep the old file's permissions
            os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    fsync_directory(directory)


# --------------------------------------------------------------------------- load
def load(path, *, max_bytes=MAX_BYTES, max_array_bytes=MAX_ARRAY_BYTES):
    """Read a file written by :func:`save`: the same tree, with NumPy arrays as leaves.

    Never unpickles: files that would need pickle are refused. A plain ``.npz``
    written by ``np.savez`` loads as a dict from its names to arrays. Arrays are
    read only after their declared sizes are checked: at most ``max_array_bytes``
    each and ``max_bytes`` together (``None``: no cap). Every unreadable,
    foreign or crafted file raises a ValueError naming the file and the problem.
    """
    label = repr(getattr(path, "name", "<file object>") if hasattr(path, "read") else os.fspath(path))
    for cap, cap_name in ((max_bytes, "max_bytes"), (max_array_bytes, "max_array_bytes")):
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0):
            raise ValueError(f"minicnn.load: {cap_name} must be a non-negative int or None, got {cap!r}")
    try:
        if hasattr(path, "read"):
            arrays = _read_npz(path, max_bytes, max_array_bytes)
        else:
            with open(os.fspath(path), "rb") as f:
                arrays = _read_npz(f, max_bytes, max_array_bytes)
        if META_KEY not in arrays:
            return arrays
        return _decode_meta(arrays)
    except _Damaged as exc:
        raise ValueError(f"minicnn.load: {label} {exc}") from None


def _read_npz(f, max_bytes, max_array_bytes):
    """The arrays of an npz file object, each checked before it is read."""
    if not f.seekable():
        raise _Damaged("is not seekable; give a path or a seekable binary file object")
    start = f.tell()
    head = f.read(8)
    f.seek(start)
    if not isinstance(head, bytes):
        raise _Damaged("is a text file object; open it in binary mode ('rb')")
    _refuse_foreign(head)
    try:
        archive = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise _Damaged(f"is a damaged or truncated zip archive ({exc}), not a readable checkpoint") from None
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            raise _Damaged("is a torch.save file: those need pickle, which can run arbitrary code; "
                           "load it with torch.load if you trust it")
        if len(set(names)) != len(names):
            raise _Damaged("is a crafted zip archive: it names the same entry twice")
        arrays, total = {}, 0
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise _Damaged(f"is a zip archive but not an npz of arrays: entry {info.filename!r} "
                               "is not a .npy")
            total += info.file_size
            if max_bytes is not None and total > max_bytes:
                raise _Damaged(f"holds more than max_bytes={max_bytes} ({_human(max_bytes)}) of arrays "
                               f"(at least {_human(total)}); pass a larger max_bytes to minicnn.load "
                               "if you trust the file")
            arrays[info.filename[:-4]] = _read_member(archive, info, max_array_bytes)
    return arrays


def _refuse_foreign(head):
    if head == b"":
        raise _Damaged("is empty (0 bytes), not a checkpoint")
    if head.startswith(b"\x93NUMPY"):
        raise _Damaged("holds a single .npy array (numpy.save), not a checkpoint; read it with numpy.load")
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise _Damaged("is a pickle file (pickle.dump, or torch.save's legacy format): minicnn refuses "
                       "pickle because unpickling can run arbitrary code")
    if not head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise _Damaged(f"is not a minicnn checkpoint: a checkpoint is an npz (zip) file starting with "
                       f"b'PK\\x03\\x04', this one starts with {head!r}")


def _read_member(archive, info, max_array_bytes):
    """One .npy entry: header read and checked against the entry's size and the cap, then the data."""
    name = info.filename[:-4]
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise _Damaged(f"holds array {name!r} in .npy format version {version}, which minicnn "
                               "does not read")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                else np.lib.format.read_array_header_2_0
            shape, fortran_order, dtype = read_header(member)
            header_size = member.tell()
        if dtype.hasobject:
            raise _Damaged(f"contains data that needs pickle (object array {name!r}), which minicnn refuses "
                           "to load because unpickling can run arbitrary code")
        if any(n < 0 for n in shape):
            raise _Damaged(f"is crafted: array {name!r} declares a negative shape {shape}")
        nbytes = math.prod(shape) * dtype.itemsize
        if max_array_bytes is not None and nbytes > max_array_bytes:
            raise _Damaged(f"declares array {name!r} of shape {shape} and dtype {dtype}: {_human(nbytes)}, "
                           f"more than max_array_bytes={max_array_bytes} ({_human(max_array_bytes)}); pass a "
                           "larger max_array_bytes to minicnn.load if you trust the file")
        if info.file_size != header_size + nbytes:
            raise _Damaged(f"is damaged or crafted: array {name!r} declares shape {shape} and dtype {dtype} "
                           f"({nbytes} bytes of data) but its entry holds {info.file_size - header_size}")
        with archive.open(info) as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, OSError) as exc:
        raise _Damaged(f"is damaged: array {name!r} cannot be read ({exc})") from None


def _decode_meta(arrays):
    """The tree of a minicnn checkpoint from its ``__minicnn__`` entry."""
    raw = arrays.pop(META_KEY)
    if raw.dtype.kind != "U" or raw.ndim != 0:
        raise _Damaged(f"has a {META_KEY} entry of dtype {raw.dtype} and shape {raw.shape}, "
                       "not the JSON string minicnn writes")
    try:
        meta = json.loads(str(raw))
    except (ValueError, RecursionError) as exc:
        raise _Damaged(f"has a damaged structure: its {META_KEY} entry is not valid JSON "
                       f"({type(exc).__name__}: {str(exc)[:80]})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "tree" not in meta:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise _Damaged(f"is not a minicnn checkpoint (format {found!r})")
    version = meta.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise _Damaged(f"has a format version {_short(version)}, not an int")
    if version > VERSION:
        raise _Damaged(f"was written by a newer minicnn (format version {version}, this one reads {VERSION})")
    return _decode(meta["tree"], arrays)


def _human(nbytes):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
