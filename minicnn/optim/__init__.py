"""Optimisers and learning-rate schedules, as ``torch.optim``.

    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = minicnn.optim.lr_scheduler.StepLR(optimizer, step_size=10)
    for epoch in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        scheduler.step()
"""
from . import lr_scheduler  # noqa: F401
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
