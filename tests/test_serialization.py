"""minicnn.save / minicnn.load: round trips, atomic writes, and no pickle."""
import io
import math
import os
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
