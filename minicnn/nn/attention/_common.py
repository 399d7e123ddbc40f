"""Checks shared by the attention modules (input shape, bottleneck width).

Every attention module validates its input the same way and says, in the
error, which module complained, what it expected and what it got.

What every module keeps of its last forward pass (``last_attention``) is the
base class's business: ``base.py``.
"""


def module_name(module) -> str:
    """``"SE(in_dim=32)"``-style name for error messages (the class name plus its ``extra_repr``)."""
    extra = module.extra_repr()
    return f"{type(module).__name__}({extra})"


def check_input(module, x, in_dim=None):
    """Raise ``ValueError`` unless ``x`` is (N, C, H, W) with ``C == in_dim`` (when ``in_dim`` is known)."""
    if x.ndim != 4:
        raise ValueError(f"{module_name(module)}: expected a 4-D input (N, C, H, W), "
                         f"got shape {tuple(x.shape)}")
    if in_dim is not None and x.shape[1] != in_dim:
        raise ValueError(f"{module_name(module)}: expected {in_dim} input channels (in_dim={in_dim}), "
                         f"got {x.shape[1]} (input shape {tuple(x.shape)})")


def reduced_dim(name, in_dim, reduction_factor, minimum=0):
    """``max(in_dim // reduction_factor, minimum)``; a zero-width bottleneck is an error.

    Floor division is what the SE, CBAM, BAM and SK code (and the article) use,
    so ``in_dim < reduction_factor`` would give a layer with 0 channels.
    """
    if reduction_factor < 1:
        raise ValueError(f"{name}: reduction_factor must be a positive integer, got {reduction_factor}")
    width = max(in_dim // reduction_factor, minimum)
    if width == 0:
        raise ValueError(f"{name}: the bottleneck would have in_dim // reduction_factor = "
                         f"{in_dim} // {reduction_factor} = 0 channels; expected in_dim >= reduction_factor "
                         f"(got in_dim={in_dim}, reduction_factor={reduction_factor}); "
                         "use more channels or a smaller reduction_factor")
    return width
