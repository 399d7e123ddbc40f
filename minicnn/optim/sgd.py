"""Stochastic gradient descent with momentum (``torch.optim.SGD``).

The algorithm of torch's documentation, for each parameter p with gradient g
at step t (mu = momentum, tau = dampening, lambda = weight_decay):

    g <- -g                              if maximize
    g <- g + lambda p                    (L2 weight decay)
    if mu != 0:
        b <- g                           at the first step (no dampening then)
        b <- mu b + (1 - tau) g          afterwards
        g <- g + mu b   if nesterov      (Sutskever et al. 2013's look-ahead form)
        g <- b          otherwise
    p <- p - lr g

This is the "heavy ball" form of momentum (Polyak 1964): the learning rate
multiplies the buffer, so changing lr mid-run rescales the whole step.
"""
import math
import numbers

from .optimizer import Optimizer, check_hyperparameter


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 *, maximize=False):
        self._check_group(dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                               nesterov=nesterov))
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        """torch's checks and messages: 0 <= lr, 0 <= momentum, 0 <= weight_decay; Nesterov needs momentum."""
        check_hyperparameter("SGD", group["lr"], "learning rate")
        check_hyperparameter("SGD", group["momentum"], "momentum value")
        check_hyperparameter("SGD", group["weight_decay"], "weight_decay value")
        if not isinstance(group["dampening"], numbers.Real) or not math.isfinite(group["dampening"]):
            raise ValueError(f"SGD: Invalid dampening value: {group['dampening']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p, grad, state, group):
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            grad = grad + weight_decay * p.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= group["lr"] * grad
