"""The Trainer: a short run lowers the loss; resuming from a checkpoint equals an uninterrupted run."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest

import minicnn
from minicnn import functional as F
from minicnn import nn
from minicnn.data import CellsDataset, DataLoader, Dataset, TensorDataset
from minicnn.optim import SGD, Adam
from minicnn.optim.lr_scheduler import StepLR
from minicnn.train import Trainer


class TinyFCN(nn.Module):
    """conv3x3 (1 -> 6) -> ReLU -> conv1x1 (6 -> 2): a per-pixel classifier."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.w1 = nn.Parameter(minicnn.tensor(rng.normal(0, 0.5, (6, 1, 3, 3)).astype(np.float32)))
        self.b1 = nn.Parameter(minicnn.tensor(np.zeros(6, np.float32)))
        self.w2 = nn.Parameter(minicnn.tensor(rng.normal(0, 0.5, (2, 6, 1, 1)).astype(np.float32)))
        self.b2 = nn.Parameter(minicnn.tensor(np.zeros(2, np.float32)))

    def forward(self, x):
        return F.conv2d(F.relu(F.conv2d(x, self.w1, self.b1, padding=1)), self.w2, self.b2)


def weighted_cross_entropy(logits, mask, weight):
    return F.cross_entropy(logits, mask, pixel_weight=weight)


def plain_cross_entropy(logits, mask, weight):
    """The weight map is passed but not used: a 3x3 model this small cannot resolve the gaps it stresses."""
    return F.cross_entropy(logits, mask)


def test_a_short_segmentation_run_lowers_the_loss_and_reports_the_fcn_metrics():
    cells = dict(size=24, radius=(4, 7))
    train = DataLoader(CellsDataset(8, seed=0, **cells), batch_size=4, shuffle=True, seed=0)
    val = DataLoader(CellsDataset(4, seed=1, **cells), batch_size=4)
    model = TinyFCN()
    trainer = Trainer(model, Adam(model.parameters(), lr=0.05), plain_cross_entropy, train, val,
                      metrics="segmentation", num_classes=2, progress=False)
    before = trainer.evaluate()
    history = trainer.fit(6)
    assert len(history) == 6 and [h["epoch"] for h in history] == list(range(1, 7))
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < before["loss"]
    for key in ("val_pixel_accuracy", "val_mean_accuracy", "val_mean_iu", "val_fw_iu", "val_iou", "val_dice"):
        assert key in history[-1]
    assert len(history[-1]["val_iou"]) == 2
    assert history[-1]["val_mean_iu"] > before["mean_iu"] + 0.2
    assert model.training                                        # evaluate() restores the mode


class NoisyDigits(Dataset):
    """Samples with an 'augmentation' drawn from minicnn's global generator (as the transforms do)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        noise = minicnn.random.generator(np).normal(0, 0.1, self.x[i].shape).astype(np.float32)
        return self.x[i] + noise, self.y[i]


def _classification_trainer(tmp_path=None, init_seed=0):
    minicnn.manual_seed(init_seed)
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (40, 1, 2, 3)).astype(np.float32)
    y = (x.reshape(40, -1).sum(axis=1) > 0).astype(np.int64)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
    optimizer = SGD(model.parameters(), lr=0.2, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    train = DataLoader(NoisyDigits(x[:32], y[:32]), batch_size=5, shuffle=True, seed=3)
    val = DataLoader(TensorDataset(x[32:], y[32:]), batch_size=8)
    return Trainer(model, optimizer, F.cross_entropy, train, val, scheduler=scheduler,
                   metrics="classification", checkpoint_dir=tmp_path, progress=False)


def test_resuming_from_a_checkpoint_gives_exactly_the_uninterrupted_run(tmp_path):
    straight = _classification_trainer()
    straight.fit(5)

    first = _classification_trainer(tmp_path)
    first.fit(2)
    assert (tmp_path / "last.npz").exists()
    # something else uses the global generator in between, as a real restart would
    minicnn.random.generator(np).normal(size=17)

    resumed = _classification_trainer(init_seed=123)      # other initial weights: all must come from the file
    resumed.load_checkpoint(tmp_path / "last.npz")
    assert resumed.epoch == 2 and resumed.learning_rate() == first.learning_rate()
    resumed.fit(5)

    assert resumed.history == straight.history
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        assert a.tobytes() == b.tobytes(), name
    assert [h["lr"] for h in straight.history] == [0.2, 0.2, 0.1, 0.1, 0.05]
    assert "val_top1" in straight.history[-1]


def test_trainer_errors():
    model = TinyFCN()
    with pytest.raises(ValueError, match="metrics must be one of"):
        Trainer(model, Adam(model.parameters()), weighted_cross_entropy, [], metrics="dice")
    with pytest.raises(minicnn.backend.BackendError, match="unknown device"):
        Trainer(model, Adam(model.parameters()), weighted_cross_entropy, [], device="tpu")


# --------------------------------------------------------------------------- plots
class FakeAttention(nn.Module):
    """Stores a random map of a chosen shape on last_attention, as the attention modules do."""

    def __init__(self, shape_of):
        super().__init__()
        self.shape_of = shape_of
        self.last_attention = None

    def forward(self, x):
        self.last_attention = minicnn.tensor(np.random.default_rng(0).random(self.shape_of(x.shape)))
        return x


class PositionAttentionModule(FakeAttention):
    """Named like DANet's PAM, whose (N, P, P) affinities are drawn for the centre pixel."""


class AttentiveFCN(TinyFCN):
    def __init__(self):
        super().__init__()
        self.channel = FakeAttention(lambda s: (s[0], 6, 1, 1))
        self.spatial = FakeAttention(lambda s: (s[0], 1, s[2] // 2, s[3] // 2))
        self.full = FakeAttention(lambda s: (s[0], 4, s[2], s[3]))
        self.pam = PositionAttentionModule(lambda s: (s[0], 16, 16))
        self.sk = FakeAttention(lambda s: (s[0], 2, 6, 1, 1))

    def forward(self, x):
        for m in (self.channel, self.spatial, self.full, self.pam, self.sk):
            m(x)
        return super().forward(x)


def test_plots_return_figures_and_save_files(tmp_path, monkeypatch):
    import matplotlib
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    def forbidden(*args, **kwargs):
        raise AssertionError("library code must not call matplotlib.use or plt.show")
    monkeypatch.setattr(matplotlib, "use", forbidden)
    monkeypatch.setattr(plt, "show", forbidden)
    open_figures = plt.get_fignums()

    from minicnn import plots
    from minicnn.data import make_cells

    cells = make_cells(3, size=16, seed=0)
    model = AttentiveFCN()
    history = [{"epoch": 1, "train_loss": 0.9, "val_loss": 1.0, "val_mean_iu": 0.4, "val_iou": [0.3, 0.5]},
               {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6, "val_mean_iu": 0.7, "val_iou": [0.6, 0.8]}]
    maps = plots.attention_maps(model, cells.images[0])
    assert [name for name, _, _ in maps] == ["channel", "spatial", "full", "pam", "sk"]
    assert [kind for _, kind, _ in maps][3] == "position"
    predictions = plots.predict(model, cells.images)
    assert predictions.shape == (3, 16, 16)
    figures = {
        "history": plots.plot_history(history),
        "predictions": plots.plot_predictions(cells.images, cells.masks, predictions, n=2),
        "attention": plots.plot_attention(model, cells.images[0]),
        "demo": plots.plot_demo(model, cells.images, cells.masks, n=2, history=history),
        "no_attention": plots.plot_attention(TinyFCN(), cells.images[0]),
    }
    for name, fig in figures.items():
        assert isinstance(fig, Figure)
        path = plots.save_figure(fig, tmp_path / "figures" / f"{name}.png")
        assert path.stat().st_size > 1000
    assert len(figures["attention"].axes) >= 6
    assert plt.get_fignums() == open_figures              # no pyplot figures left open
    with pytest.raises(ValueError, match="empty"):
        plots.plot_history([])
