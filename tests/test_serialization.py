"""minicnn.save / minicnn.load: round trips, atomic writes, and no pickle."""
import io
import math
import os
import socket
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import minicnn
from minicnn import nn, optim
from minicnn import serialization


def _tree():
    return {
        "model": OrderedDict([("fc.weight", np.arange(6, dtype=np.float32).reshape(2, 3)),
                              ("fc.bias", np.array([0.5, -1.5], dtype=np.float64)),
                              ("bn.num_batches_tracked", np.array(7, dtype=np.int64))]),
        "optimizer": {"state": {0: {"step": 3, "momentum_buffer": np.ones((2, 3))}},
                      "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "nesterov": False,
                                        "params": [0, 1]}]},
        "epoch": 3, "best": float("inf"), "nan": float("nan"), "note": "résumé run", "none": None,
        "flags": np.array([True, False]), "empty": np.zeros((0, 3)), "ints": np.int32(5),
        "history": [0.5, 0.25, {"mixed": np.array([1, 2], dtype=np.uint8)}],
    }


def _assert_tree_equal(a, b, where="root"):
    assert type(a) is type(b) or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)), \
        f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_tree_equal(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_tree_equal(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, where


def test_round_trip_keeps_structure_types_and_values(tmp_path):
    tree = _tree()
    minicnn.save(tree, tmp_path / "ckpt.npz")
    loaded = minicnn.load(tmp_path / "ckpt.npz")
    expected = dict(tree, ints=5)  # a NumPy scalar comes back as the Python number
    _assert_tree_equal(expected, loaded)
    assert isinstance(loaded["model"], OrderedDict) and type(loaded["optimizer"]) is dict
    assert list(loaded["optimizer"]["state"]) == [0]  # int keys stay ints
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)


def test_the_file_is_a_plain_npz_with_flattened_keys(tmp_path):
    minicnn.save(_tree(), tmp_path / "ckpt.npz")
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as archive:
        assert "model/fc.weight" in archive.files
        assert "optimizer/state/0/momentum_buffer" in archive.files
        assert "history/2/mixed" in archive.files
        np.testing.assert_array_equal(archive["model/fc.bias"], [0.5, -1.5])


def test_tensors_and_device_arrays_are_stored_as_host_arrays(tmp_path, backend):
    weight = nn.Parameter(minicnn.tensor(np.ones((2, 2), dtype=np.float32)))
    obj = {"param": weight, "tensor": minicnn.tensor(np.arange(3)), "raw": weight.data * 2,
           "torch": torch.arange(4, dtype=torch.float64)}
    assert weight.backend == backend
    minicnn.save(obj, tmp_path / "t.npz")
    loaded = minicnn.load(tmp_path / "t.npz")
    assert all(type(v) is np.ndarray for v in loaded.values())
    np.testing.assert_array_equal(loaded["raw"], np.full((2, 2), 2, dtype=np.float32))
    assert loaded["param"].dtype == np.float32 and loaded["tensor"].dtype == np.int64
    np.testing.assert_array_equal(loaded["torch"], [0.0, 1.0, 2.0, 3.0])


def test_a_model_state_dict_loads_into_a_fresh_model(tmp_path):
    minicnn.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.ModuleList([nn.Linear(3, 2)]))
    minicnn.save(model.state_dict(), tmp_path / "model.npz")
    minicnn.manual_seed(2)
    fresh = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.ModuleList([nn.Linear(3, 2)]))
    assert not np.array_equal(fresh[0].weight.numpy(), model[0].weight.numpy())
    state = minicnn.load(tmp_path / "model.npz")
    assert list(state) == list(model.state_dict())
    fresh.load_state_dict(state)
    for (name, a), b in zip(model.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
        assert a.dtype == b.dtype
    x = minicnn.randn(5, 4)
    np.testing.assert_array_equal(fresh[2][0](fresh[1](fresh[0](x))).numpy(),
                                  model[2][0](model[1](model[0](x))).numpy())


def test_a_full_training_checkpoint(tmp_path):
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2)
    model(minicnn.randn(4, 3)).sum().backward()
    opt.step()
    sched.step()
    minicnn.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                  "scheduler": sched.state_dict(), "epoch": 1}, tmp_path / "run.ckpt")
    assert os.listdir(tmp_path) == ["run.ckpt"]  # the name is kept exactly, no temporary left
    checkpoint = minicnn.load(tmp_path / "run.ckpt")
    assert checkpoint["epoch"] == 1 and checkpoint["scheduler"]["last_epoch"] == 1
    np.testing.assert_array_equal(checkpoint["optimizer"]["state"][0]["momentum_buffer"],
                                  opt.state[model.weight]["momentum_buffer"])


def test_file_objects_work():
    buffer = io.BytesIO()
    minicnn.save({"a": np.arange(3), "b": [1, 2]}, buffer)
    buffer.seek(0)
    loaded = minicnn.load(buffer)
    np.testing.assert_array_equal(loaded["a"], np.arange(3))
    assert loaded["b"] == [1, 2]


# --------------------------------------------------------------------------- atomic writes
def _simulate_crash_in(monkeypatch, target, name):
    def crash(*args, **kwargs):
        if name == "savez":  # write some bytes first, as a real crash half-way would
            args[0].write(b"PK\x03\x04 partial")
        raise OSError("simulated crash (disk full)")
    monkeypatch.setattr(target, name, crash)


@pytest.mark.parametrize("where", ["savez", "replace"])
def test_a_failed_save_leaves_the_old_file_intact_and_no_temporary(tmp_path, monkeypatch, where):
    path = tmp_path / "ckpt.npz"
    minicnn.save({"epoch": 1, "w": np.ones(3)}, path)
    before = path.read_bytes()
    _simulate_crash_in(monkeypatch, serialization.np if where == "savez" else serialization.os, where)
    with pytest.raises(OSError, match="simulated crash"):
        minicnn.save({"epoch": 2, "w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert path.read_bytes() == before
    assert minicnn.load(path)["epoch"] == 1


def test_a_failed_first_save_leaves_nothing(tmp_path, monkeypatch):
    _simulate_crash_in(monkeypatch, serialization.np, "savez")
    with pytest.raises(OSError):
        minicnn.save({"w": np.ones(3)}, tmp_path / "new.npz")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_the_file_is_synced_before_the_rename(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append("fsync")
        real_fsync(fd)

    def replace(a, b):
        calls.append("replace")
        real_replace(a, b)

    monkeypatch.setattr(serialization.os, "fsync", fsync)
    monkeypatch.setattr(serialization.os, "replace", replace)
    minicnn.save({"w": np.ones(2)}, tmp_path / "c.npz")
    assert calls[:2] == ["fsync", "replace"]


# --------------------------------------------------------------------------- no pickle, clear errors
def test_files_that_need_pickle_are_refused(tmp_path):
    np.savez(tmp_path / "objects.npz", a=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="needs pickle"):
        minicnn.load(tmp_path / "objects.npz")
    with open(tmp_path / "plain.pkl", "wb") as f:
        pickle.dump({"a": 1}, f)
    with pytest.raises(ValueError, match="pickle"):
        minicnn.load(tmp_path / "plain.pkl")
    torch.save({"w": torch.ones(2)}, tmp_path / "torch.pt")
    with pytest.raises(ValueError, match="torch.save"):
        minicnn.load(tmp_path / "torch.pt")


def test_a_plain_npz_loads_as_a_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(2), b=np.zeros(1))
    loaded = minicnn.load(tmp_path / "plain.npz")
    assert set(loaded) == {"w", "b"}


@pytest.mark.parametrize("bad,message", [
    ({"s": {1, 2}}, r"cannot store the object\['s'\] of type set"),
    ({"f": lambda x: x}, "of type function"),
    ({"o": np.array([None, 1], dtype=object)}, "object array"),
    ({(1, 2): np.ones(2)}, "key .* of type tuple"),
    ([{"deep": [object()]}], r"the object\[0\]\['deep'\]\[0\] of type object"),
])
def test_unsupported_objects_raise_clear_errors_and_write_nothing(tmp_path, bad, message):
    with pytest.raises(TypeError, match=message):
        minicnn.save(bad, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- unreadable, foreign and crafted files
def _npz_with_meta(path, meta_text, **arrays):
    """An npz holding ``arrays`` and a hand-written ``__minicnn__`` entry."""
    np.savez(path, __minicnn__=np.array(meta_text), **arrays)


def _meta(tree):
    import json
    return json.dumps({"format": "minicnn-npz", "version": 1, "tree": tree})


def _npy_entry_bytes(shape, dtype="<f8", data=b""):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + data


def _zip(path, entries, compression=None):
    import zipfile
    with zipfile.ZipFile(path, "w", compression=compression or zipfile.ZIP_STORED) as z:
        for name, payload in entries.items():
            z.writestr(name, payload)


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_bytes(_npy_entry_bytes((3,), data=bytes(24))), r"single \.npy array .*numpy\.load"),
    (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), "is not a minicnn checkpoint.*starts with"),
    (lambda p: p.write_bytes(b"hello, world\n"), "starts with b'hello, w'"),
    (lambda p: p.write_bytes(pickle.dumps([1, 2], protocol=2)), "is a pickle file"),
    (lambda p: torch.save({"w": torch.ones(2)}, p, _use_new_zipfile_serialization=False), "is a pickle file"),
    (lambda p: torch.save({"w": torch.ones(2)}, p), "torch.save file"),
    (lambda p: _zip(p, {"readme.txt": b"hi"}), "entry 'readme.txt' is not a .npy"),
])
def test_foreign_files_are_named_for_what_they_are(tmp_path, make, message):
    path = tmp_path / "file.bin"
    make(path)
    with pytest.raises(ValueError, match=message) as info:
        minicnn.load(path)
    assert "minicnn.load" in str(info.value) and "file.bin" in str(info.value)
    assert "needs pickle" not in str(info.value) or "pickle file" in message


@pytest.mark.parametrize("keep", [10, 100, 0.5, 0.9, 0.99])
def test_a_truncated_checkpoint_is_reported_as_damaged(tmp_path, keep):
    path = tmp_path / "ckpt.npz"
    minicnn.save(_tree(), path)
    data = path.read_bytes()
    path.write_bytes(data[:keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(ValueError, match="minicnn.load: .*ckpt.npz.* (damaged|truncated)"):
        minicnn.load(path)


def test_a_flipped_byte_inside_an_array_is_reported(tmp_path):
    path = tmp_path / "c.npz"
    np.savez_compressed(path, w=np.arange(1000.0))
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="minicnn.load: .*damaged"):
        minicnn.load(path)


@pytest.mark.parametrize("meta, message", [
    ("{not json", "not valid JSON.*JSONDecodeError"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON.*RecursionError"),
    ('"just a string"', r"not a minicnn checkpoint \(format 'str'\)"),
    ('{"format": "other", "tree": {}}', r"format 'other'"),
    ('{"format": "minicnn-npz", "version": 99, "tree": {"value": 1}}', "newer minicnn.*version 99"),
    ('{"format": "minicnn-npz", "version": "1", "tree": {"value": 1}}', "format version '1', not an int"),
    (_meta({"array": "missing"}), "names an array 'missing' that the file does not hold"),
    (_meta({"dict": [["a", {"array": "w"}], ["b", {"array": "nope"}]]}), "array 'nope'"),
    (_meta({"dict": [["a"]]}), r"dict item is \['a'\]"),
    (_meta({"dict": [[["list", "key"], {"value": 1}]]}), "not a \\[str or int key, value\\] pair"),
    (_meta({"dict": "abc"}), "not a list of \\[key, value\\] pairs"),
    (_meta({"value": [1, 2]}), r"a plain value is \[1, 2\]"),
    (_meta({"list_values": [1, {"x": 2}]}), "a list of plain values"),
    (_meta({"tuple": 5}), "a tuple entry is 5"),
    (_meta({"set": [1]}), "unknown entry"),
    (_meta({}), "not a JSON object"),
    (_meta(7), "an entry of its structure is 7"),
    (_meta(None), "an entry of its structure is None"),
])
def test_crafted_structures_raise_value_errors_not_raw_exceptions(tmp_path, meta, message):
    path = tmp_path / "crafted.npz"
    _npz_with_meta(path, meta, w=np.ones(2))
    with pytest.raises(ValueError, match=message) as info:
        minicnn.load(path)
    assert str(info.value).startswith("minicnn.load: ") and "crafted.npz" in str(info.value)


def test_a_structure_nested_deeper_than_the_limit_is_refused(tmp_path):
    tree = {"value": 1}
    for _ in range(serialization.MAX_DEPTH + 5):
        tree = {"list": [tree]}
    _npz_with_meta(tmp_path / "deep.npz", _meta(tree))
    with pytest.raises(ValueError, match=f"nests deeper than {serialization.MAX_DEPTH} levels"):
        minicnn.load(tmp_path / "deep.npz")


def test_a_meta_entry_that_is_not_a_string_is_refused(tmp_path):
    np.savez(tmp_path / "m.npz", __minicnn__=np.ones(3))
    with pytest.raises(ValueError, match="__minicnn__ entry of dtype float64 and shape \\(3,\\)"):
        minicnn.load(tmp_path / "m.npz")


def test_a_header_claiming_8_terabytes_is_refused_before_any_allocation(tmp_path):
    path = tmp_path / "huge.npz"
    _zip(path, {"w.npy": _npy_entry_bytes((1 << 40,), data=bytes(16))})   # 2**40 float64 = 8 TiB
    with pytest.raises(ValueError, match=r"array 'w' of shape \(1099511627776,\) and dtype float64: "
                                         r"8\.0 TiB, more than max_array_bytes"):
        minicnn.load(path)
    with pytest.raises(ValueError, match=r"declares shape \(1099511627776,\).*but its entry holds 16"):
        minicnn.load(path, max_array_bytes=None, max_bytes=None)   # no caps: the entry's size still disagrees


def test_a_header_that_disagrees_with_its_data_is_refused(tmp_path):
    path = tmp_path / "short.npz"
    _zip(path, {"w.npy": _npy_entry_bytes((10,), data=bytes(40))})
    with pytest.raises(ValueError, match=r"array 'w' declares shape \(10,\).*80 bytes of data.*holds 40"):
        minicnn.load(path)
    _zip(path, {"w.npy": _npy_entry_bytes((2,), dtype="|O", data=bytes(16))})
    with pytest.raises(ValueError, match="needs pickle"):
        minicnn.load(path)


def test_a_zip_bomb_is_refused_without_inflating_it(tmp_path):
    import tracemalloc
    import zipfile
    path = tmp_path / "bomb.npz"
    n = (64 << 20) // 8                                              # 64 MiB of float64 zeros ...
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("w.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (n,)})
            for _ in range(8):
                f.write(bytes(8 << 20))
    assert path.stat().st_size < 200_000                             # ... in a file of under 200 kB
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"more than max_bytes=33554432 \(32\.0 MiB\).*larger max_bytes"):
        minicnn.load(path, max_bytes=32 << 20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 << 20
    with pytest.raises(ValueError, match="more than max_array_bytes=1048576 \\(1\\.0 MiB\\)"):
        minicnn.load(path, max_array_bytes=1 << 20)
    assert minicnn.load(path, max_bytes=None)["w"].shape == (n,)     # a file one trusts still loads


def test_the_caps_themselves_are_checked():
    for bad in (-1, 1.5, "1GB", True):
        with pytest.raises(ValueError, match="max_bytes must be a non-negative int or None"):
            minicnn.load(io.BytesIO(), max_bytes=bad)


def test_file_objects_in_text_mode_are_refused(tmp_path):
    with pytest.raises(ValueError, match="text file object"):
        minicnn.load(io.StringIO("abc"))


# --------------------------------------------------------------------------- permissions, links, killed saves
def test_saving_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "c.npz"
    minicnn.save({"a": 1}, path)
    os.chmod(path, 0o644)
    minicnn.save({"a": 2}, path)
    assert (os.stat(path).st_mode & 0o777) == 0o644
    os.chmod(path, 0o600)
    minicnn.save({"a": 3}, path)
    assert (os.stat(path).st_mode & 0o777) == 0o600 and minicnn.load(path)["a"] == 3


def test_a_new_file_gets_the_permissions_numpy_save_gives(tmp_path):
    np.save(tmp_path / "reference.npy", np.ones(1))
    minicnn.save({"a": 1}, tmp_path / "new.npz")
    assert os.stat(tmp_path / "new.npz").st_mode == os.stat(tmp_path / "reference.npy").st_mode


def test_saving_through_a_symbolic_link_replaces_its_target(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "epoch3.npz"
    minicnn.save({"epoch": 3}, target)
    link = tmp_path / "latest.npz"
    link.symlink_to(target)
    minicnn.save({"epoch": 4}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert minicnn.load(target)["epoch"] == 4
    assert sorted(os.listdir(tmp_path / "runs")) == ["epoch3.npz"]


def test_save_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder .*no_such_dir.* does not exist"):
        minicnn.save({"a": 1}, tmp_path / "no_such_dir" / "c.npz")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        minicnn.save({"a": 1}, tmp_path)


_KILLED_SAVE = """
import os, signal, sys
import numpy as np
import minicnn
from minicnn import serialization

def killed_half_way(f, **arrays):
    f.write(b"PK\\x03\\x04" + bytes(1 << 20))
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

serialization.np.savez = killed_half_way
minicnn.save({"w": np.ones(3)}, sys.argv[1])
"""


def test_temporary_files_of_killed_saves_are_removed_by_the_next_save(tmp_path):
    import signal
    import subprocess
    import sys
    path = tmp_path / "ckpt.npz"
    minicnn.save({"epoch": 1}, path)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", _KILLED_SAVE, str(path)], cwd=root,
                                env=dict(os.environ, PYTHONPATH=root), timeout=120)
        assert result.returncode == -signal.SIGKILL
    left = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert len(left) == 1 and os.path.getsize(tmp_path / left[0]) > 1 << 20   # the 2nd removed the 1st's
    assert minicnn.load(path)["epoch"] == 1                          # the old checkpoint is intact
    mine = tmp_path / f".ckpt.npz.{socket.gethostname()}.{os.getpid()}.live.tmp"
    mine.write_bytes(b"a save in progress")                          # a running process's file stays
    minicnn.save({"epoch": 2}, path)
    assert sorted(os.listdir(tmp_path)) == sorted(["ckpt.npz", mine.name])
