"""The affine map of a fully connected layer."""
from ..utils import check_not_bool, check_same_dtype, check_tensor
from .matmul import matmul

__all__ = ["linear"]


def linear(input, weight, bias=None):
    """y = x W^T + b, with W of shape (out_features, in_features) as in torch.

    Composed from matmul and add, so autograd derives its backward:
    dL/dx = dL/dy W,  dL/dW = (dL/dy)^T x,  dL/db = sum over the batch of dL/dy.
    """
    check_tensor("linear", input)
    check_tensor("linear", weight, "weight")
    if weight.ndim != 2:
        raise ValueError(f"linear: expected a 2-D weight (out_features, in_features), got shape "
                         f"{tuple(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {input.shape[-1] if input.ndim else 0} features (shape "
                         f"{tuple(input.shape)}) but the weight expects {weight.shape[1]} (weight shape "
                         f"{tuple(weight.shape)})")
    check_not_bool("linear", input)
    check_same_dtype("linear", input, weight)
    if bias is not None:
        if tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f"linear: expected a bias of shape ({weight.shape[0]},) (one per output feature), "
                             f"got shape {tuple(bias.shape)}")
        check_same_dtype("linear", input, bias, names=("input", "bias"))
    out = matmul(input, weight.T)
    return out if bias is None else out + bias
