"""The command line: tiny training runs write their metrics; bad names fail with the valid ones listed."""
import json
import os
import subprocess
import sys

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

from minicnn.cli import main  # noqa: E402

SEGMENTATION_KEYS = {"pixel_accuracy", "mean_accuracy", "mean_iu", "fw_iu", "iou", "dice"}
TINY_CELLS = ["--image-size", "16", "--n-train", "4", "--n-val", "2", "--width", "4", "--no-progress"]


def test_train_unet_on_cells_writes_the_segmentation_metrics(tmp_path, capsys):
    out = tmp_path / "metrics" / "unet.json"
    code = main(["train", "unet", "--dataset", "cells", "--epochs", "1", "--attention", "gate",
                 "--metrics-out", str(out), "--plot", str(tmp_path / "unet.png"), *TINY_CELLS])
    assert code == 0
    metrics = json.loads(out.read_text())
    assert set(metrics) == SEGMENTATION_KEYS
    assert all(0 <= metrics[k] <= 1 for k in ("pixel_accuracy", "mean_accuracy", "mean_iu", "fw_iu"))
    assert len(metrics["iou"]) == len(metrics["dice"]) == 2
    assert (tmp_path / "unet.png").stat().st_size > 0
    assert "mean IU" in capsys.readouterr().out


def test_train_resnet18_with_attention_on_digits_writes_top1(tmp_path):
    out = tmp_path / "digits.json"
    code = main(["train", "resnet18", "--dataset", "digits", "--epochs", "1", "--attention", "se",
                 "--n-train", "32", "--n-val", "16", "--width", "4", "--metrics-out", str(out), "--no-progress"])
    assert code == 0
    metrics = json.loads(out.read_text())
    assert set(metrics) == {"top1"} and 0 <= metrics["top1"] <= 1


def test_checkpoint_and_resume_from_the_command_line(tmp_path):
    first = ["train", "unet", "--dataset", "cells", "--checkpoint-dir", str(tmp_path), *TINY_CELLS]
    assert main([*first, "--epochs", "1"]) == 0
    assert (tmp_path / "last.npz").exists()
    assert main([*first, "--epochs", "2", "--resume", str(tmp_path / "last.npz"),
                 "--metrics-out", str(tmp_path / "m.json")]) == 0
    assert set(json.loads((tmp_path / "m.json").read_text())) == SEGMENTATION_KEYS


@pytest.mark.parametrize("argv, expected", [
    (["train", "vgg99", "--dataset", "cells"], ["unknown model 'vgg99'", "unet", "resnet18"]),
    (["train", "unet", "--dataset", "mnist"], ["unknown dataset 'mnist'", "cells, digits"]),
    (["train", "resnet18", "--dataset", "digits", "--attention", "transformer"],
     ["unknown attention 'transformer'", "se, eca, cbam, bam, ge, sk"]),
    (["train", "unet", "--dataset", "cells", "--attention", "se"], ["unknown attention 'se'", "none, gate"]),
    (["train", "resnet18", "--dataset", "cells"], ["does not fit", "unet"]),
    (["train", "unet", "--dataset", "cells", "--image-size", "20"], ["--image-size 20", "16 or 24"]),
])
def test_bad_names_exit_2_and_list_the_valid_ones(argv, expected, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    for text in expected:
        assert text in err
    assert "Traceback" not in err


def test_gpu_without_cupy_prints_the_install_hint_and_exits_1(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "cupy", None)          # as on a machine without CuPy
    assert main(["train", "unet", "--dataset", "cells", "--device", "gpu", *TINY_CELLS]) == 1
    err = capsys.readouterr().err
    assert "cupy" in err.lower() and "pip install" in err and "Traceback" not in err


def test_gradcheck_runs_the_catalogue(capsys):
    assert main(["gradcheck", "add", "mul"]) == 0
    out = capsys.readouterr().out
    assert "add" in out and "mul" in out and "2 passed" in out
    assert main(["gradcheck", "no_such_op"]) == 2
    assert "no_such_op" in capsys.readouterr().err


def test_gradcheck_without_the_catalogue_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "minicnn.testing.catalog", None)
    assert main(["gradcheck"]) == 1
    assert "catalogue" in capsys.readouterr().err


def test_demo_runs_end_to_end_for_one_epoch(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "--epochs", "1", "--out", str(out), "--no-progress",
                 "--image-size", "16", "--n-train", "8", "--n-val", "4"]) == 0
    text = capsys.readouterr().out
    assert "mean IU" in text and out.stat().st_size > 0


def test_python_dash_m_minicnn():
    env = dict(os.environ, MPLBACKEND="Agg")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, "-m", "minicnn", "--help"], capture_output=True, text=True,
                            cwd=root, env=env, timeout=120)
    assert result.returncode == 0 and "demo" in result.stdout and "gradcheck" in result.stdout
    result = subprocess.run([sys.executable, "-m", "minicnn", "train", "nope", "--dataset", "cells"],
                            capture_output=True, text=True, cwd=root, env=env, timeout=120)
    assert result.returncode == 2 and "valid models" in result.stderr


# --------------------------------------------------------------------------- arguments checked before any work
@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a run gets as far as building its data or training."""
    import minicnn.cli
    import minicnn.train

    def refuse(*args, **kwargs):
        raise AssertionError("the bad argument was noticed only after work had started")
    monkeypatch.setattr(minicnn.train.Trainer, "fit", refuse)
    monkeypatch.setattr(minicnn.cli, "make_cells_loaders", refuse)
    monkeypatch.setattr(minicnn.cli, "make_digits_loaders", refuse)


@pytest.mark.parametrize("extra, expected", [
    (["--metrics-out", "{tmp}/file.txt/m.json"], "--metrics-out {tmp}/file.txt/m.json: {tmp}/file.txt is a file"),
    (["--metrics-out", "{tmp}"], "--metrics-out {tmp}: is a folder; give a file name"),
    (["--plot", "{tmp}/curves.xyz"], "unknown figure format 'xyz'; supported: "),
    (["--plot", "{tmp}/file.txt/p.png"], "is a file, not a folder"),
    (["--checkpoint-dir", "{tmp}/file.txt"], "--checkpoint-dir {tmp}/file.txt: {tmp}/file.txt is a file"),
    (["--metrics-out", "/proc/minicnn/m.json"], "--metrics-out /proc/minicnn/m.json: cannot write in /proc"),
    (["--resume", "{tmp}/missing.npz"], "--resume {tmp}/missing.npz: no such file"),
    (["--resume", "{tmp}"], "is a folder; give the checkpoint file"),
    (["--resume", "{tmp}/file.txt"], "--resume {tmp}/file.txt: minicnn.load: .* is not a minicnn checkpoint"),
    (["--resume", "{tmp}/plain.npz"], "not a checkpoint written by minicnn train .* lacks epoch, model"),
])
def test_bad_paths_exit_2_before_any_work(tmp_path, capsys, no_training, extra, expected):
    import re

    import numpy as np
    (tmp_path / "file.txt").write_text("not a folder")
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    argv = ["train", "unet", "--dataset", "cells", *TINY_CELLS, *[a.format(tmp=tmp_path) for a in extra]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: minicnn train") and "Traceback" not in err
    assert re.search(expected.format(tmp=re.escape(str(tmp_path))) if "{tmp}" in expected else expected, err), err


def test_resume_refuses_a_finished_run_and_a_checkpoint_of_another_model(tmp_path, capsys):
    first = ["train", "unet", "--dataset", "cells", "--checkpoint-dir", str(tmp_path), *TINY_CELLS]
    assert main([*first, "--epochs", "1"]) == 0
    checkpoint = str(tmp_path / "last.npz")
    capsys.readouterr()
    assert main([*first, "--epochs", "1", "--resume", checkpoint]) == 2
    assert "already trained 1 epochs and --epochs (1) is the total" in capsys.readouterr().err
    wider = [a if a != "4" else "8" for a in first]                  # --width 8: other shapes
    assert main([*wider, "--epochs", "2", "--resume", checkpoint]) == 2
    err = capsys.readouterr().err
    assert "does not fit this run (unet, width 8)" in err and "size mismatch" in err and len(err) < 2000


def test_demo_checks_its_figure_path_first(tmp_path, capsys, monkeypatch):
    import minicnn.models
    monkeypatch.setattr(minicnn.models, "UNet", None)                # building the model would fail
    assert main(["demo", "--out", str(tmp_path / "x.unknown")]) == 2
    assert "--out" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--timeout", "0"], "--timeout: expected a finite number > 0"),
    (["--timeout", "nan"], "--timeout: expected a finite number > 0"),
    (["--solutions", "--timeout", "-10"], "--timeout: expected a finite number > 0"),
    (["--jobs", "0"], "--jobs/-j: expected a positive integer"),
    (["--memory", "-1"], "--memory: expected a finite number > 0"),
    (["--solutions", "--impl", "x"], "not allowed with argument --solutions"),
    (["--impl", "/no/such/folder"], "--impl /no/such/folder: no such folder"),
    (["--format", "gradescope"], "--format gradescope writes results.json"),
    (["--batch", "/no/such/folder"], "expected a folder with one sub-folder per student"),
    (["9.9"], "9.9"),
])
def test_grade_refuses_bad_arguments_before_any_work(capsys, args, message):
    from minicnn.course import grade
    with pytest.raises(SystemExit) as info:
        grade.main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
