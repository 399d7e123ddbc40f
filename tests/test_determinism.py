"""Determinism, as minicnn.random states it: same seed + same BLAS thread count + same machine = same bits."""
import hashlib
import os
import subprocess
import sys
import warnings

import pytest

import minicnn
from minicnn import functional as F
from minicnn import random as mc_random
from minicnn.data import CellsDataset, DataLoader
from minicnn.models import UNet
from minicnn.optim import Adam
from minicnn.train import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A few Adam steps of a small U-Net with dropout-free batch norm on seeded data; prints a digest of the weights.
_RUN = """
import hashlib, numpy as np, minicnn
from minicnn import functional as F
from minicnn.models import UNet
from minicnn.optim import Adam
minicnn.manual_seed(int(__import__("sys").argv[1]))
model = UNet(in_channels=1, num_classes=2, base_channels=4, depth=2, padding="same", batch_norm=True,
             attention_gates=True)
optimizer = Adam(model.parameters(), lr=0.01)
x = minicnn.randn(2, 1, 16, 16)
y = minicnn.tensor(minicnn.random.generator().integers(0, 2, (2, 16, 16)))
for _ in range(3):
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
print(hashlib.sha256(b"".join(p.numpy().tobytes() for p in model.parameters())).hexdigest(),
      minicnn.random.blas_threads())
"""


def _run(seed, threads):
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    result = subprocess.run([sys.executable, "-c", _RUN, str(seed)], capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    digest, threads_seen = result.stdout.split()
    return digest, threads_seen


def test_same_seed_same_threads_gives_the_same_bits_in_separate_processes():
    first, threads = _run(seed=3, threads=1)
    assert threads == "1"                                           # blas_threads() sees the setting
    assert _run(seed=3, threads=1) == (first, "1")
    assert _run(seed=4, threads=1)[0] != first                       # the seed matters


def _weights_after_steps(seed):
    minicnn.manual_seed(seed)
    model = UNet(in_channels=1, num_classes=2, base_channels=4, depth=2, padding="same", batch_norm=True)
    optimizer = Adam(model.parameters(), lr=0.01)
    x = minicnn.randn(2, 1, 16, 16)
    y = minicnn.tensor(mc_random.generator().integers(0, 2, (2, 16, 16)))
    for _ in range(2):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return hashlib.sha256(b"".join(p.numpy().tobytes() for p in model.parameters())).hexdigest()


def test_same_seed_gives_the_same_bits_in_one_process():
    assert _weights_after_steps(7) == _weights_after_steps(7) != _weights_after_steps(8)


def _trainer(tmp_path):
    minicnn.manual_seed(0)
    model = UNet(in_channels=1, num_classes=2, base_channels=4, depth=2, padding="same", batch_norm=True)
    data = CellsDataset(4, size=16, radius=(2.0, 3.0), seed=0)
    return Trainer(model, Adam(model.parameters(), lr=0.01), lambda out, y, *w: F.cross_entropy(out, y),
                   DataLoader(data, batch_size=2, shuffle=True, seed=0), metrics="segmentation", num_classes=2,
                   checkpoint_dir=str(tmp_path), progress=False)


def test_checkpoints_record_the_blas_thread_count_and_a_different_count_warns(tmp_path, monkeypatch):
    trainer = _trainer(tmp_path)
    trainer.fit(1)
    checkpoint = minicnn.load(tmp_path / "last.npz")
    assert checkpoint["rng"]["blas_threads"] == mc_random.blas_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                               # the same count: no warning
        _trainer(tmp_path).load_checkpoint(tmp_path / "last.npz")
    monkeypatch.setattr(mc_random, "blas_threads", lambda: 97)
    with pytest.warns(RuntimeWarning, match=r"written with \d+ BLAS threads, this process uses 97.*"
                                            r"not bit-identically"):
        _trainer(tmp_path).load_checkpoint(tmp_path / "last.npz")


def test_blas_threads_falls_back_to_the_environment(monkeypatch):
    import builtins
    import glob as glob_module
    real_import = builtins.__import__

    def no_threadpoolctl(name, *args, **kwargs):
        if name == "threadpoolctl":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_threadpoolctl)
    monkeypatch.setattr(glob_module, "glob", lambda pattern: [])      # no OpenBLAS to ask either
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert mc_random.blas_threads() == 3
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    assert mc_random.blas_threads() is None
