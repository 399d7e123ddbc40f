"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as ``torch.optim.Adam/AdamW``.

For each parameter p with gradient g at step t = 1, 2, ... (torch's documented algorithm):

    g <- -g                                   if maximize
    g <- g + lambda p                         Adam: L2 weight decay, folded into the gradient
    p <- p (1 - lr lambda)                    AdamW: *decoupled* weight decay, applied to p directly
    m <- beta1 m + (1 - beta1) g              first moment (moving average of g)
    v <- beta2 v + (1 - beta2) g^2            second moment (moving average of g^2)
    m_hat = m / (1 - beta1^t)                 bias corrections: m and v start at 0,
    v_hat = v / (1 - beta2^t)                 so early averages are too small
    v_max <- max(v_max, v); v_hat = v_max / (1 - beta2^t)        if amsgrad (Reddi et al. 2018)
    p <- p - lr m_hat / (sqrt(v_hat) + eps)

The last line is computed as torch does, p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps),
which is the same number up to rounding.

Why AdamW: in Adam the L2 term lambda p is divided by sqrt(v_hat) like the rest of
the gradient, so weights with large gradients are barely decayed. AdamW shrinks
every weight by the same factor (1 - lr lambda), which is what weight decay means.
"""
import math

from .optimizer import Optimizer, check_hyperparameter


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, maximize=False)."""

    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, maximize=False):
        self._check_group(dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group):
        """torch's checks and messages: 0 <= lr, 0 <= eps, 0 <= beta_i < 1, 0 <= weight_decay."""
        name = type(self).__name__
        check_hyperparameter(name, group["lr"], "learning rate")
        check_hyperparameter(name, group["eps"], "epsilon value")
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: Invalid betas: expected a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            check_hyperparameter(name, beta, f"beta parameter at index {i}", below_one=True)
        check_hyperparameter(name, group["weight_decay"], "weight_decay value")

    def _update(self, p, grad, state, group):
        xp = p.xp
        lr, (beta1, beta2), eps, weight_decay = group["lr"], group["betas"], group["eps"], \
            group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p.data)
            state["exp_avg_sq"] = xp.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]

        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if self.decoupled_weight_decay:
                p.data *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p.data

        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * (grad * grad)

        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            v_max[...] = xp.maximum(v_max, v)
            v = v_max
        denominator = xp.sqrt(v) / math.sqrt(bias_correction2) + eps
        p.data -= (lr / bias_correction1) * (m / denominator)


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False):
    Adam with decoupled weight decay p <- p (1 - lr weight_decay)."""

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, maximize=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)
