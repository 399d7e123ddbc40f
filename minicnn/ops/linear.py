"""The affine map of a fully connected layer."""
from .matmul import matmul

__all__ = ["linear"]


def linear(input, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features) as in torch.

    Composed from matmul and add, so autograd derives its backward:
    dL/dx = dL/dy W,  dL/dW = (dL/dy)^T x,  dL/db = sum over the batch of dL/dy.
    """
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {input.shape[-1]} features (shape {input.shape}) but the "
                         f"weight expects {weight.shape[1]} (weight shape {weight.shape})")
    out = matmul(input, weight.T)
    return out if bias is None else out + bias
