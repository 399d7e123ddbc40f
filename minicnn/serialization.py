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
checkpoint, never a mixture. On an error the temporary file is removed.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict

import numpy as np

from .backend import to_numpy

__all__ = ["save", "load"]

META_KEY = "__minicnn__"
FORMAT = "minicnn-npz"
VERSION = 1


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


def _decode(node, arrays):
    if "value" in node:
        return node["value"]
    if "array" in node:
        return arrays[node["array"]]
    if "dict" in node:
        pairs = [(key, _decode(item, arrays)) for key, item in node["dict"]]
        return OrderedDict(pairs) if node.get("ordered") else dict(pairs)
    if "list_values" in node:
        return list(node["list_values"])
    if "tuple_values" in node:
        return tuple(node["tuple_values"])
    if "list" in node:
        return [_decode(item, arrays) for item in node["list"]]
    if "tuple" in node:
        return tuple(_decode(item, arrays) for item in node["tuple"])
    raise ValueError(f"minicnn.load: unknown entry {node!r} in the file's structure")


# --------------------------------------------------------------------------- save / load
def save(obj, path):
    """Write ``obj`` (a tree of dicts/lists of arrays and plain values) to ``path`` as an npz, atomically.

    ``path`` is used exactly as given (no ``.npz`` is appended). A writable
    binary file object is also accepted (then nothing is atomic).
    """
    arrays = {}
    tree = _encode(obj, "", arrays, "the object")
    meta = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    arrays[META_KEY] = np.array(meta)
    if hasattr(path, "write"):
        np.savez(path, **arrays)
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); harmless to skip where directories can't be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path):
    """Read a file written by :func:`save`: the same tree, with NumPy arrays as leaves.

    Uses ``np.load(allow_pickle=False)``: files that would need pickle are
    refused with a ValueError. A plain ``.npz`` written by ``np.savez`` loads
    as a dict from its names to arrays.
    """
    source = path if hasattr(path, "read") else os.fspath(path)
    try:
        with np.load(source, allow_pickle=False) as archive:
            if not hasattr(archive, "files"):
                raise ValueError(f"minicnn.load: {path!r} holds a single .npy array, not a checkpoint")
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "pickle" in str(exc).lower():
            raise ValueError(f"minicnn.load: {path!r} contains data that needs pickle (object arrays), "
                             "which minicnn refuses to load because unpickling can run arbitrary code") \
                from exc
        raise
    if META_KEY not in arrays:
        if not all(isinstance(a, np.ndarray) for a in arrays.values()):
            raise ValueError(f"minicnn.load: {path!r} is a zip archive but not an npz of arrays "
                             "(a torch.save file? those need pickle; load them with torch)")
        return dict(arrays)
    meta = json.loads(str(arrays.pop(META_KEY)))
    if meta.get("format") != FORMAT:
        raise ValueError(f"minicnn.load: {path!r} is not a minicnn checkpoint "
                         f"(format {meta.get('format')!r})")
    if meta.get("version", 0) > VERSION:
        raise ValueError(f"minicnn.load: {path!r} was written by a newer minicnn (format version "
                         f"{meta['version']}, this one reads {VERSION})")
    return _decode(meta["tree"], arrays)

