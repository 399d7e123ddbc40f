"""``summary(model, input_shape)``: a table of a network's layers, output shapes, parameters and MACs.

It runs ONE forward pass on a dummy input (random normal values, under
``no_grad``, in eval mode) and records, for every leaf layer that is called
(and every module that holds parameters directly), its output shape, its
number of parameters and its number of multiply-accumulate operations
(MACs: one multiplication plus one addition), counted for the whole input,
batch included (use a batch of 1 for "per image" numbers):

    Conv1d, Conv2d     out_elements * (C_in / groups) * prod(kernel_size)
                       (every output value is a dot product over C_in/groups * kH * kW inputs)
    ConvTranspose2d    in_elements * (C_out / groups) * prod(kernel_size)
                       (every input value paints a C_out/groups x kH x kW block)
    Linear             out_elements * in_features
    all other layers   0  (activations, pooling, normalisation, element-wise gates, and
                       products written inline in a forward, such as attention maps, are not
                       counted)

Biases are not counted as MACs (a bias is an addition only).

Example (the cost count of a depthwise-separable convolution, as in MobileNets [Howard et al., 2017]):
a 12 x 12 single-channel image, a 5 x 5 kernel without padding (8 x 8 output),
256 output channels::

    summary(nn.Conv2d(1, 256, 5), (1, 1, 12, 12))           # 8*8*256 * 1 * 5*5 = 409,600 MACs
    summary(nn.SeparableConv2d(1, 256, 5), (1, 1, 12, 12))  # 8*8*1 * 1 * 5*5 + 8*8*256 * 1 * 1*1
                                                            #   = 1,600 + 16,384 = 17,984 MACs

Module has no forward hooks, so ``summary`` wraps each recorded module's
``forward`` for the duration of the pass (an instance attribute shadowing
the class method) and removes the wrappers afterwards, even on error.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .autograd import no_grad
from .backend import to_backend
from .tensor import Tensor

__all__ = ["summary", "ModelSummary", "LayerSummary", "count_macs"]


@dataclass
class LayerSummary:
    """One row of the table: one call of one layer."""

    name: str
    type: str
    output_shape: tuple
    params: int
    macs: int


@dataclass
class ModelSummary:
    """What :func:`summary` returns; ``str()`` gives the table."""

    model_name: str
    input_shape: tuple
    layers: list = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    @property
    def total_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def table(self) -> str:
        def shape_text(shape):
            return ", ".join(str(tuple(s)) for s in shape) if shape and isinstance(shape[0], tuple) \
                else str(tuple(shape))

        names = [f"{layer.name} ({layer.type})" for layer in self.layers]
        shapes = [shape_text(layer.output_shape) for layer in self.layers]
        w_name = max([len("Layer (type)")] + [len(n) for n in names])
        w_shape = max([len("Output shape")] + [len(s) for s in shapes])
        header = f"{'Layer (type)':<{w_name}}  {'Output shape':<{w_shape}}  {'Param #':>12}  {'MACs':>16}"
        rule = "=" * len(header)
        lines = [f"{self.model_name} summary", rule, header, rule]
        for name, shape, layer in zip(names, shapes, self.layers):
            lines.append(f"{name:<{w_name}}  {shape:<{w_shape}}  {layer.params:>12,}  {layer.macs:>16,}")
        lines += [rule,
                  f"Input shape: {shape_text(self.input_shape)}",
                  f"Total params: {self.total_params:,}",
                  f"Trainable params: {self.trainable_params:,}",
                  f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                  f"Total MACs: {self.total_macs:,}"]
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def count_macs(module, inputs, output) -> int:
    """Multiply-accumulates of one call of ``module`` (see the module docstring for the rules)."""
    from .nn.conv import Conv1d, Conv2d, ConvTranspose2d
    from .nn.layers import Linear

    if isinstance(module, ConvTranspose2d):
        x = inputs[0]
        return int(math.prod(x.shape)) * (module.out_channels // module.groups) * math.prod(module.kernel_size)
    if isinstance(module, (Conv1d, Conv2d)):
        return (int(math.prod(output.shape)) * (module.in_channels // module.groups)
                * math.prod(module.kernel_size))
    if isinstance(module, Linear):
        return int(math.prod(output.shape)) * module.in_features
    return 0


def _output_shape(output):
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, (tuple, list)):
        return tuple(_output_shape(o) for o in output if isinstance(o, (Tensor, tuple, list)))
    return ()


def _dummy_input(shape, dtype, backend_name, rng):
    return Tensor(to_backend(rng.standard_normal(shape).astype(dtype), backend_name))


def summary(model, input_shape, dtype=np.float32, verbose=True, seed=0) -> ModelSummary:
    """Run ``model`` once on a dummy input of ``input_shape`` and tabulate its layers.

    Args:
        model: a :class:`minicnn.nn.Module`.
        input_shape: the input's shape, batch included, e.g. ``(1, 3, 32, 32)``; or a list of
            shapes for a model whose forward takes several tensors.
        dtype: the dummy input's dtype (float32).
        verbose: print the table (as well as returning it).
        seed: seed of the dummy input's (private) random generator; the global seed is untouched.
    Returns: a :class:`ModelSummary` (``.layers``, ``.total_params``, ``.total_macs``; ``str()`` = table).
    """
    shapes = [tuple(s) for s in input_shape] if input_shape and isinstance(input_shape[0], (tuple, list)) \
        else [tuple(input_shape)]
    params = list(model.parameters())
    backend_name = params[0].backend if params else "numpy"
    rng = np.random.default_rng(seed)
    inputs = [_dummy_input(s, dtype, backend_name, rng) for s in shapes]

    result = ModelSummary(model_name=type(model).__name__,
                          input_shape=shapes[0] if len(shapes) == 1 else tuple(shapes))
    result.total_params = sum(p.numel() for p in params)
    result.trainable_params = sum(p.numel() for p in params if p.requires_grad)

    def wrap(name, module):
        original = module.forward

        def recording_forward(*args, **kwargs):
            output = original(*args, **kwargs)
            own = sum(p.numel() for p in module._parameters.values() if p is not None)
            result.layers.append(LayerSummary(name or type(module).__name__, type(module).__name__,
                                              _output_shape(output), own, count_macs(module, args, output)))
            return output
        return recording_forward

    wrapped = []   # (module, the instance attribute "forward" it had before, if any)
    training = [(m, m.training) for m in model.modules()]
    try:
        for name, module in model.named_modules():
            is_leaf = not any(True for _ in module.children())
            holds_params = any(p is not None for p in module._parameters.values())
            if is_leaf or holds_params:
                wrapped.append((module, module.__dict__.get("forward")))
                object.__setattr__(module, "forward", wrap(name, module))
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for module, previous in wrapped:
            if previous is None:
                del module.__dict__["forward"]
            else:
                module.__dict__["forward"] = previous
        for module, mode in training:
            object.__setattr__(module, "training", mode)
    if verbose:
        print(result.table())
    return result
