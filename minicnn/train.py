"""A plain training loop: :class:`Trainer`.

One epoch is the loop every framework writes::

    model.train()
    for input, target, *extra in train_loader:          # extra: e.g. the U-Net weight map
        optimizer.zero_grad()
        loss = loss_fn(model(input), target, *extra)     # forward
        loss.backward()                                  # backward: fills p.grad
        optimizer.step()                                 # p <- p - lr * (update from p.grad)

followed by an evaluation pass (``model.eval()``, no gradients) over the
validation loader, one step of the learning-rate schedule, a line of
``history`` and, if asked, a checkpoint. :class:`Trainer` is exactly that,
with a progress bar, metrics and resuming.

Metrics: ``"segmentation"`` accumulates one confusion matrix over the whole
validation set and reports the FCN scores of :mod:`minicnn.metrics` (pixel
accuracy, mean accuracy, mean IU, frequency-weighted IU); ``"classification"``
reports the top-1 accuracy.

Checkpoints (``minicnn.save``) hold the model, optimizer and scheduler state
dicts, the epoch, the history and the state of the random generators
(minicnn's global generator, which drives dropout and augmentation, and the
training loader's own generator, which draws the shuffles). So a run that is
stopped after epoch k and resumed with :meth:`Trainer.load_checkpoint` gives
bit-for-bit the same weights as a run that never stopped (on the CPU, with the
same number of BLAS threads; CuPy's generators are not saved). The thread
count is stored too, and resuming with another one warns that the results
will differ in the last bits (see :mod:`minicnn.random`).
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from . import metrics as mc_metrics
from . import random as mc_random
from .autograd import no_grad
from .backend import backend_of_device
from .tensor import Tensor
from .viz.gradflow import parameter_grad_norms

__all__ = ["Trainer"]

METRICS = ("segmentation", "classification")


def _rng_state():
    """The state of minicnn's global NumPy generator (see minicnn.random)."""
    return {"seed": mc_random.initial_seed(), "numpy": mc_random.generator(np).bit_generator.state,
            "blas_threads": mc_random.blas_threads()}


def _set_rng_state(state):
    mc_random.manual_seed(state["seed"])
    mc_random.generator(np).bit_generator.state = state["numpy"]
    saved, now = state.get("blas_threads"), mc_random.blas_threads()
    if saved is not None and now is not None and saved != now:
        warnings.warn(f"Trainer.load_checkpoint: the checkpoint was written with {saved} BLAS threads, this "
                      f"process uses {now}: training continues, but not bit-identically to a run that never "
                      f"stopped (set OPENBLAS_NUM_THREADS={saved} for that)", RuntimeWarning, stacklevel=3)


class Trainer:
    """Train ``model`` with ``optimizer`` on ``train_loader``; evaluate on ``val_loader`` every epoch.

    Args:
        model: a ``minicnn.nn.Module`` returning scores: (N, K) or (N, K, H, W).
        optimizer: a ``minicnn.optim`` optimizer over ``model.parameters()``.
        loss_fn: ``loss_fn(output, target, *extra) -> scalar Tensor``, called with the
            fields of each batch after the input: ``(input, target, *extra)``. For the
            cells, ``extra`` is the weight map, e.g.
            ``lambda out, mask, w: F.cross_entropy(out, mask, pixel_weight=w)``.
        train_loader, val_loader: iterables of batches of NumPy arrays (``DataLoader``).
        scheduler: optional ``minicnn.optim.lr_scheduler`` schedule, stepped once per
            epoch (``ReduceLROnPlateau`` gets the validation loss).
        metrics: ``"segmentation"`` or ``"classification"``.
        num_classes: number of classes (needed for segmentation; inferred from the
            model's output when omitted).
        device: ``"cpu"`` or ``"gpu"``: the model is moved there, and each batch too.
        checkpoint_dir: if given, ``<checkpoint_dir>/last.npz`` is written after every epoch.
        ignore_index: target value left out of the segmentation metrics.
        progress: show a tqdm progress bar (``TQDM_DISABLE=1`` also turns it off).
        record_grad_norms: after every ``backward``, record each parameter's gradient norm
            (``minicnn.viz.gradflow.parameter_grad_norms``); each history line then holds
            ``"grad_norms": {parameter name: [one norm per step of that epoch]}``, which
            ``minicnn.viz.plot_grad_flow(trainer)`` draws.
    """

    def __init__(self, model, optimizer, loss_fn, train_loader, val_loader=None, scheduler=None,
                 metrics="segmentation", num_classes=None, device="cpu", checkpoint_dir=None,
                 ignore_index=None, progress=True, record_grad_norms=False):
        if metrics not in METRICS:
            raise ValueError(f"Trainer: metrics must be one of {METRICS}, got {metrics!r}")
        self.backend = backend_of_device(device)   # raises a clear error for an unknown device
        self.device = device
        self.model = model.to(device)
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.scheduler = scheduler
        self.metrics = metrics
        self.num_classes = num_classes
        self.checkpoint_dir = checkpoint_dir
        self.ignore_index = ignore_index
        self.progress = progress
        self.record_grad_norms = record_grad_norms
        self.epoch_grad_norms = None   # {name: [norms]} of the last epoch, when recording
        self.epoch = 0          # epochs completed
        self.history = []       # one dict per epoch

    # ------------------------------------------------------------------ helpers
    def _to_device(self, array):
        """A NumPy batch array as a Tensor on the trainer's device (no gradient)."""
        return Tensor(array).to(self.device)

    def _split(self, batch):
        """``(input, target, *extra)`` -> Tensors on the device."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise ValueError("Trainer: each batch must be a tuple (input, target, *extra), got "
                             f"{type(batch).__name__}")
        return [self._to_device(a) for a in batch]

    def learning_rate(self):
        """The current learning rate of the first parameter group."""
        groups = getattr(self.optimizer, "param_groups", None)
        return float(groups[0]["lr"]) if groups else float(getattr(self.optimizer, "lr", float("nan")))

    def _bar(self, iterable, total, description):
        from tqdm.auto import tqdm
        return tqdm(iterable, total=total, desc=description, leave=False, disable=not self.progress,
                    dynamic_ncols=True)

    # ------------------------------------------------------------------ one epoch
    def train_one_epoch(self):
        """One pass over the training data; returns the mean training loss."""
        self.model.train()
        total, count = 0.0, 0
        norms = {} if self.record_grad_norms else None
        bar = self._bar(self.train_loader, len(self.train_loader), f"epoch {self.epoch + 1} train")
        for batch in bar:
            input, target, *extra = self._split(batch)
            self.optimizer.zero_grad()
            output = self.model(input)
            loss = self.loss_fn(output, target, *extra)
            loss.backward()
            if norms is not None:
                for name, value in parameter_grad_norms(self.model).items():
                    norms.setdefault(name, []).append(value)
            self.optimizer.step()
            n = len(input)
            total += loss.item() * n
            count += n
            bar.set_postfix(loss=f"{total / count:.4f}")
        bar.close()
        self.epoch_grad_norms = norms
        return total / max(count, 1)

    def evaluate(self, loader=None):
        """Loss and metrics on ``loader`` (default: the validation loader), in eval mode, without gradients.

        Returns ``{"loss": ..., <metrics>}``: for segmentation the keys of
        :func:`minicnn.metrics.segmentation_scores`, for classification ``top1``.
        """
        loader = self.val_loader if loader is None else loader
        if loader is None:
            raise ValueError("Trainer.evaluate: no loader given and no val_loader set")
        was_training = self.model.training
        self.model.eval()
        total_loss, count, correct = 0.0, 0, 0
        confusion = None
        with no_grad():
            for batch in self._bar(loader, len(loader), "evaluate"):
                input, target, *extra = self._split(batch)
                output = self.model(input)
                n = len(input)
                total_loss += self.loss_fn(output, target, *extra).item() * n
                count += n
                if self.metrics == "classification":
                    correct += int((output.data.argmax(axis=1) == target.data).sum())
                else:
                    k = self.num_classes or output.shape[1]
                    cm = mc_metrics.confusion_matrix(output, target, k, self.ignore_index)
                    confusion = cm if confusion is None else confusion + cm
        self.model.train(was_training)
        result = {"loss": total_loss / max(count, 1)}
        if self.metrics == "classification":
            result["top1"] = correct / max(count, 1)
        else:
            result.update(mc_metrics.scores_from_confusion_matrix(confusion))
        return result

    # ------------------------------------------------------------------ the loop
    def fit(self, epochs):
        """Train until ``epochs`` epochs are done *in total*; returns the history.

        After resuming from a checkpoint of epoch 2, ``fit(5)`` runs epochs 3, 4 and 5.
        Each history entry holds ``epoch``, ``lr`` (used in that epoch),
        ``train_loss`` and, with a validation loader, ``val_loss`` and
        ``val_<metric>`` for every metric (per-class arrays become lists); with
        ``record_grad_norms``, also ``grad_norms``.
        """
        from tqdm.auto import tqdm

        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"Trainer.fit: epochs (the total number of epochs) must be a positive int, "
                             f"got {epochs!r}")
        epochs_bar = tqdm(range(self.epoch, epochs), initial=self.epoch, total=epochs, desc="fit",
                          disable=not self.progress, dynamic_ncols=True)
        for _ in epochs_bar:
            record = {"epoch": self.epoch + 1, "lr": self.learning_rate()}
            record["train_loss"] = self.train_one_epoch()
            if self.record_grad_norms:
                record["grad_norms"] = self.epoch_grad_norms
            if self.val_loader is not None:
                for key, value in self.evaluate().items():
                    record["val_" + key] = value.tolist() if isinstance(value, np.ndarray) else value
            self._step_scheduler(record)
            self.epoch += 1
            self.history.append(record)
            epochs_bar.set_postfix(self._summary(record))
            if self.checkpoint_dir is not None:
                self.save_checkpoint(os.path.join(self.checkpoint_dir, "last.npz"))
        epochs_bar.close()
        return self.history

    def _step_scheduler(self, record):
        if self.scheduler is None:
            return
        if type(self.scheduler).__name__ == "ReduceLROnPlateau":
            self.scheduler.step(record.get("val_loss", record["train_loss"]))
        else:
            self.scheduler.step()

    @staticmethod
    def _summary(record):
        keys = ["train_loss", "val_loss", "val_mean_iu", "val_top1"]
        return {k.replace("val_", "val "): f"{record[k]:.4f}" for k in keys if k in record}

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self):
        """Everything needed to continue training exactly where it stopped."""
        loader_state = getattr(self.train_loader, "state_dict", None)
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": self.history,
            "rng": _rng_state(),
            "train_loader": loader_state() if loader_state else {},
        }

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.model.to(self.device)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        _set_rng_state(state["rng"])
        if state.get("train_loader") and hasattr(self.train_loader, "load_state_dict"):
            self.train_loader.load_state_dict(state["train_loader"])

    def save_checkpoint(self, path):
        """Write :meth:`state_dict` to ``path`` with ``minicnn.save`` (folders are created)."""
        from .serialization import save

        folder = os.path.dirname(os.fspath(path))
        if folder:
            os.makedirs(folder, exist_ok=True)
        save(self.state_dict(), path)

    def load_checkpoint(self, path):
        """Restore a checkpoint written by :meth:`save_checkpoint`; then ``fit`` continues from it."""
        from .serialization import load

        self.load_state_dict(load(path))
