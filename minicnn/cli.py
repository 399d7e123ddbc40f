"""The ``minicnn`` command line (also ``python -m minicnn``).

    minicnn demo                       train a small attention U-Net on generated cells (its time: README)
    minicnn train MODEL --dataset NAME --epochs N [--attention KIND] [--device gpu] [--metrics-out FILE]
    minicnn gradcheck [NAME ...]       compare every backward with numerical derivatives

Examples::

    minicnn train unet --dataset cells --epochs 10 --attention gate --plot outputs/unet.png
    minicnn train resnet18 --dataset digits --epochs 3 --attention se --metrics-out se.json

Models are the names in ``minicnn.models``: ``unet`` and ``danet`` segment the
generated ``cells``; the ResNets (with ``--attention`` se, eca, cbam, bam, ge
or sk) and the Residual Attention Networks classify the ``digits``. Unknown
names are errors that list the valid ones (exit code 2).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

# The demo's settings, measured on a 2-core CPU to finish well under 3 minutes with mean IU >= 0.80.
DEMO = dict(image_size=48, n_train=64, n_val=32, base_channels=8, depth=3, epochs=10, batch_size=8,
            lr=0.01, seed=0)

DATASETS = {"cells": "segmentation", "digits": "classification"}
NUM_CLASSES = {"cells": 2, "digits": 10}

# The segmentation lecture's networks (notes 003) take (num_classes, in_channels, base_channels).
LECTURE_SEGMENTATION_MODELS = {"fcn8s": "FCN", "segnet": "SegNet", "deeplabv3": "DeepLabV3",
                               "deeplabv3plus": "DeepLabV3Plus", "refinenet": "RefineNet"}
SEGMENTATION_MODELS = ("unet", "danet") + tuple(LECTURE_SEGMENTATION_MODELS)
RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnext50_32x4d", "resnext101_32x8d",
           "wide_resnet50_2", "wide_resnet101_2")
CLASSIFICATION_MODELS = RESNETS + ("attention56", "attention92")
MODELS = SEGMENTATION_MODELS + CLASSIFICATION_MODELS


class UsageError(Exception):
    """A wrong name or option: printed with the usage line, exit code 2."""


# --------------------------------------------------------------------------- building blocks
def attention_kinds(model_name):
    """The ``--attention`` values a model accepts ("none" always works where attention is optional)."""
    if model_name == "unet":
        return ("none", "gate")
    if model_name in RESNETS:
        from .models.resnet import ATTENTIONS
        return ("none",) + tuple(a for a in ATTENTIONS if a is not None)
    return ("none",)    # danet (PAM + CAM) and the Residual Attention Networks have their attention built in


def build_model(name, num_classes, in_channels=1, width=8, depth=3, attention="none", reduction=None):
    """Construct ``minicnn.models.<name>`` for a data set with ``num_classes`` classes.

    ``width`` is the number of channels of the first stage (``base_channels``):
    the papers' 64 is far too slow for NumPy on a CPU. ``reduction`` is the
    attention modules' channel reduction r (default ``min(16, width)``, so that
    narrow networks keep at least one channel in the bottleneck).
    """
    from . import models

    if name not in MODELS:
        raise UsageError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    kinds = attention_kinds(name)
    if attention not in kinds:
        raise UsageError(f"unknown attention {attention!r} for model {name!r}; valid kinds: {', '.join(kinds)}")
    try:
        if name == "unet":
            return models.UNet(in_channels=in_channels, num_classes=num_classes, base_channels=width,
                               depth=depth, padding="same", batch_norm=True, attention_gates=attention == "gate")
        if name == "danet":
            return models.DANet(num_classes=num_classes, backbone="resnet18", in_channels=in_channels,
                                base_channels=width, small_input=True)
        if name in LECTURE_SEGMENTATION_MODELS:
            network = getattr(models, LECTURE_SEGMENTATION_MODELS[name])
            return network(num_classes=num_classes, in_channels=in_channels, base_channels=width)
        kwargs = dict(num_classes=num_classes, in_channels=in_channels, base_channels=width, small_input=True)
        if name in RESNETS and attention != "none":
            kwargs["attention"] = attention
            if attention != "eca":                     # ECA has no reduction (its kernel size follows C)
                kwargs["attention_kwargs"] = {"reduction_factor": reduction or min(16, width)}
        return getattr(models, name)(**kwargs)
    except ValueError as exc:                          # e.g. a width the architecture cannot take
        raise UsageError(f"cannot build {name}: {exc}") from None


def make_cells_loaders(image_size, n_train, n_val, batch_size, seed, augment=True):
    """Training and validation loaders of generated cells (different seeds: different images)."""
    from .data import CellsDataset, DataLoader, transforms as T

    augmentation = T.Compose([T.RandomRotation90(), T.RandomHorizontalFlip()]) if augment else None
    scale = image_size / 64                                   # cell sizes follow the image size
    cells = dict(size=image_size, radius=(max(6.0 * scale, 2.0), max(11.0 * scale, 3.0)))
    train = CellsDataset(n_train, seed=seed, transform=augmentation, **cells)
    val = CellsDataset(n_val, seed=seed + 10_000, **cells)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed),
            DataLoader(val, batch_size=max(batch_size, 16)), train.num_classes)


def make_digits_loaders(n_train, n_val, batch_size, seed):
    from .data import DataLoader, DigitsDataset

    train = DigitsDataset(train=True, seed=seed, limit=n_train)
    val = DigitsDataset(train=False, seed=seed, limit=n_val)
    return (DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed),
            DataLoader(val, batch_size=max(batch_size, 64)), DigitsDataset.num_classes)


def weighted_cross_entropy(logits, mask, weight):
    """U-Net's loss: cross-entropy with the weight map w(x) per pixel (Ronneberger et al. 2015, Eq. 1)."""
    from . import functional as F
    return F.cross_entropy(logits, mask, pixel_weight=weight)


def plain_cross_entropy(logits, target, *extra):
    from . import functional as F
    return F.cross_entropy(logits, target)


def use_device(device):
    """Select the backend for ``device``; a missing CuPy/GPU raises BackendError with the install hint."""
    from .backend import set_backend
    set_backend("cupy" if device == "gpu" else "numpy")


def final_metrics(history, task):
    """The last epoch's validation metrics, as JSON-ready values (NaN -> null)."""
    last = history[-1]
    keys = ("pixel_accuracy", "mean_accuracy", "mean_iu", "fw_iu", "iou", "dice") if task == "segmentation" \
        else ("top1",)

    def clean(v):
        if isinstance(v, list):
            return [clean(x) for x in v]
        return None if isinstance(v, float) and math.isnan(v) else v
    return {k: clean(last["val_" + k]) for k in keys}


def print_metrics(metrics, task, out=print):
    if task == "classification":
        out(f"  top-1 accuracy        {metrics['top1']:.4f}")
        return
    names = [("pixel_accuracy", "pixel accuracy"), ("mean_accuracy", "mean accuracy"),
             ("mean_iu", "mean IU"), ("fw_iu", "frequency-weighted IU")]
    for key, label in names:
        out(f"  {label:<22}{metrics[key]:.4f}")
    per_class = "  ".join("n/a" if v is None else f"{v:.4f}" for v in metrics["iou"])
    out(f"  {'IU per class':<22}{per_class}   (0 background, 1 cell)")


# --------------------------------------------------------------------------- commands
def cmd_demo(args):
    """Train a small attention U-Net on generated cells; print the metrics; save a figure."""
    from . import manual_seed, plots
    from .models import UNet
    from .optim import Adam
    from .optim.lr_scheduler import CosineAnnealingLR
    from .train import Trainer

    start = time.time()
    manual_seed(args.seed)
    size, epochs = args.image_size, args.epochs
    model = UNet(in_channels=1, num_classes=NUM_CLASSES["cells"], base_channels=DEMO["base_channels"],
                 depth=DEMO["depth"], padding="same", batch_norm=True, attention_gates=True)
    use_device(args.device)        # a missing CuPy/GPU stops here, with the install hint
    train, val, num_classes = make_cells_loaders(size, args.n_train, args.n_val, DEMO["batch_size"], args.seed)
    optimizer = Adam(model.parameters(), lr=DEMO["lr"])
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"minicnn demo: attention U-Net ({n_params:,} parameters, base {DEMO['base_channels']} channels, "
          f"depth {DEMO['depth']}) on {args.n_train} generated {size}x{size} cell images, "
          f"{epochs} epochs, Adam lr {DEMO['lr']} (cosine), U-Net weight-map loss", flush=True)
    trainer = Trainer(model, optimizer, weighted_cross_entropy, train, val, scheduler=scheduler,
                      metrics="segmentation", num_classes=num_classes, device=args.device,
                      progress=not args.no_progress)
    history = trainer.fit(epochs)
    metrics = final_metrics(history, "segmentation")
    print(f"validation metrics ({args.n_val} images):")
    print_metrics(metrics, "segmentation")
    images, masks, _ = next(iter(val))
    fig = plots.plot_demo(model, images, masks, n=3, history=history)
    plots.save_figure(fig, args.out)
    print(f"figure with predictions, attention-gate maps and curves: {args.out}")
    print(f"done in {time.time() - start:.1f} s")
    return 0


def cmd_train(args):
    from . import manual_seed, plots
    from .optim import Adam
    from .train import Trainer

    if args.dataset not in DATASETS:
        raise UsageError(f"unknown dataset {args.dataset!r}; valid datasets: {', '.join(DATASETS)}")
    task = DATASETS[args.dataset]
    fits = SEGMENTATION_MODELS if task == "segmentation" else CLASSIFICATION_MODELS
    if args.model in MODELS and args.model not in fits:
        raise UsageError(f"model {args.model!r} does not fit dataset {args.dataset!r} ({task}); "
                         f"models for {args.dataset}: {', '.join(fits)}")
    manual_seed(args.seed)
    width = args.width or (8 if task == "segmentation" else 16)
    model = build_model(args.model, NUM_CLASSES[args.dataset], in_channels=1, width=width, depth=args.depth,
                        attention=args.attention, reduction=args.reduction)   # checks model and attention
    if args.image_size is None:     # the lecture's networks pool five times: 64 = 2 * 32
        args.image_size = 64 if args.model in LECTURE_SEGMENTATION_MODELS else 48
    if task == "segmentation":      # one dry forward pass checks that the image size fits the network
        try:
            from . import no_grad, zeros
            with no_grad():
                model.eval()(zeros(1, 1, args.image_size, args.image_size))
            model.train()
        except ValueError as exc:
            raise UsageError(f"--image-size {args.image_size}: {exc}") from None
    use_device(args.device)        # a missing CuPy/GPU stops here, with the install hint
    if task == "segmentation":
        train, val, num_classes = make_cells_loaders(args.image_size, args.n_train or 64, args.n_val or 32,
                                                     args.batch_size or 8, args.seed)
        loss_fn = plain_cross_entropy if args.no_weight_map else weighted_cross_entropy
    else:
        train, val, num_classes = make_digits_loaders(args.n_train, args.n_val, args.batch_size or 32, args.seed)
        loss_fn = plain_cross_entropy
    lr = args.lr if args.lr is not None else (1e-2 if task == "segmentation" else 3e-3)
    trainer = Trainer(model, Adam(model.parameters(), lr=lr), loss_fn, train, val, metrics=task,
                      num_classes=num_classes, device=args.device, checkpoint_dir=args.checkpoint_dir,
                      progress=not args.no_progress)
    if args.resume:
        trainer.load_checkpoint(args.resume)
    history = trainer.fit(args.epochs)
    metrics = final_metrics(history, task)
    print(f"{args.model} on {args.dataset}, {trainer.epoch} epochs; validation metrics:")
    print_metrics(metrics, task)
    if args.metrics_out:
        folder = os.path.dirname(args.metrics_out)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(args.metrics_out, "w") as f:
            json.dump(metrics, f, indent=2)
        print(f"metrics written to {args.metrics_out}")
    if args.plot:
        if task == "segmentation":
            images, masks, _ = next(iter(val))
            fig = plots.plot_demo(model, images, masks, n=3, history=history)
        else:
            fig = plots.plot_history(history)
        plots.save_figure(fig, args.plot)
        print(f"figure written to {args.plot}")
    return 0


def cmd_gradcheck(args):
    try:
        from .testing.catalog import run_catalog
    except ImportError as exc:
        print(f"minicnn gradcheck: the gradient-check catalogue (minicnn.testing.catalog) is not available "
              f"in this installation ({exc})", file=sys.stderr)
        return 1
    try:
        rows = run_catalog(args.names or None, planted_bug=args.planted_bug, seed=args.seed)
    except KeyError as exc:
        raise UsageError(exc.args[0] if exc.args else str(exc)) from None
    # the planted bug (group "demo") is meant to fail; any other failure is an error
    failed = [name for name, group, _, ok in rows if not ok and group != "demo"]
    return 1 if failed else 0


# --------------------------------------------------------------------------- the parser
def build_parser():
    parser = argparse.ArgumentParser(prog="minicnn", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,train,gradcheck,grade,make-exercises,release}")

    demo = sub.add_parser("demo", help="train a small attention U-Net on generated cells (a short run; "
                                       "its measured time is in the README)")
    demo.add_argument("--out", default=os.path.join("outputs", "demo.png"),
                      help="where to write the figure (default outputs/demo.png)")
    demo.add_argument("--epochs", type=int, default=DEMO["epochs"])
    demo.add_argument("--seed", type=int, default=DEMO["seed"])
    demo.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")
    for flag, key in (("--image-size", "image_size"), ("--n-train", "n_train"), ("--n-val", "n_val")):
        demo.add_argument(flag, type=int, default=DEMO[key], help=argparse.SUPPRESS)   # for quick tests
    demo.set_defaults(run=cmd_demo)

    train = sub.add_parser("train", help="train a model from minicnn.models on cells or digits",
                           description="Train MODEL (a minicnn.models name) on a data set and report "
                                       "validation metrics.")
    train.add_argument("model", help=f"one of: {', '.join(MODELS)}")
    train.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    train.add_argument("--epochs", type=int, default=5)
    train.add_argument("--attention", default="none",
                       help="unet: gate; ResNets: se, eca, cbam, bam, ge, sk (default none)")
    train.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    train.add_argument("--metrics-out", help="write the final validation metrics to this JSON file")
    train.add_argument("--batch-size", type=int, help="default 8 (cells), 32 (digits)")
    train.add_argument("--lr", type=float, help="Adam learning rate (default 0.01 cells, 0.003 digits)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--width", type=int, help="channels of the first stage (default 8 cells, 16 digits)")
    train.add_argument("--reduction", type=int, help="channel reduction r of SE/CBAM/BAM/GE/SK "
                                                     "(default min(16, width))")
    train.add_argument("--depth", type=int, default=3, help="U-Net depth (default 3)")
    train.add_argument("--image-size", type=int, default=None,
                       help="cells: image side in pixels (default 48; 64 for the lecture's networks)")
    train.add_argument("--n-train", type=int, default=None, help="training images (cells default 64; "
                                                                 "digits default all 1438)")
    train.add_argument("--n-val", type=int, default=None, help="validation images (cells default 32)")
    train.add_argument("--no-weight-map", action="store_true", help="cells: plain instead of U-Net weighted loss")
    train.add_argument("--checkpoint-dir", help="write DIR/last.npz after every epoch")
    train.add_argument("--resume", help="continue from a checkpoint (then --epochs is the total)")
    train.add_argument("--plot", help="write a figure (predictions and attention, or curves) to this file")
    train.add_argument("--no-progress", action="store_true", help="no progress bars")
    train.set_defaults(run=cmd_train)

    gradcheck = sub.add_parser("gradcheck", help="check every op's backward against finite differences")
    gradcheck.add_argument("names", nargs="*", help="entries to check (default: all)")
    gradcheck.add_argument("--planted-bug", action="store_true", help="add an op with a wrong backward")
    gradcheck.add_argument("--seed", type=int, default=0)
    gradcheck.set_defaults(run=cmd_gradcheck)

    # The course's commands keep their own parsers (minicnn/course); their arguments pass through.
    grade = sub.add_parser("grade", add_help=False,
                           help="grade exercises: minicnn grade [EXERCISE...] [--solutions] (see --help)")
    grade.add_argument("args", nargs=argparse.REMAINDER)
    grade.set_defaults(run=lambda args: _course("grade").main(args.args))
    make = sub.add_parser("make-exercises", add_help=False,
                          help="regenerate exercises/ from solutions/ (--check: only compare; edited files are "
                               "replaced only with --force, which keeps a .bak)")
    make.add_argument("args", nargs=argparse.REMAINDER)
    make.set_defaults(run=lambda args: _course("make_exercises").main(args.args))
    release = sub.add_parser("release", add_help=False,
                             help="write the student repository (no solutions) or the Gradescope bundle")
    release.add_argument("args", nargs=argparse.REMAINDER)
    release.set_defaults(run=lambda args: _course("release").main(args.args))
    return parser


PASS_THROUGH = {"grade": "grade", "make-exercises": "make_exercises", "release": "release"}


def _course(name):
    """The course module ``name``; the instructor's tools are not in a student release: say so."""
    import importlib
    try:
        return importlib.import_module(f"minicnn.course.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"minicnn.course.{name}":
            raise
        print(f"minicnn {name.replace('_', '-')}: an instructor's command, not part of this student "
              "release (it needs the course repository with solutions/)", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv=None):
    """Run the command line; returns the exit code (0 ok, 1 failure, 2 usage error)."""
    from .backend import BackendError

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PASS_THROUGH:   # the course's commands parse their own arguments
        return _course(PASS_THROUGH[argv[0]]).main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:        # --help, or argparse's own usage errors (already printed)
        return exc.code
    try:
        return args.run(args)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"minicnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"minicnn {args.command}: error: {exc}", file=sys.stderr)
        return 1
