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
from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 *, maximize=False):
        if lr < 0.0:
            raise ValueError(f"SGD: invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"SGD: invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"SGD: invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

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
