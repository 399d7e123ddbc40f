"""Planted mistakes: typical bugs, each applied to one solution, that the graded tests must catch.

Data, not a test module (tests/test_planted_mistakes.py applies them). Each
:class:`Mistake` replaces ``old`` (which must occur exactly once in
``solutions/<module>.py``) by ``new``; the exercise must then fail, and the
grader's report of it (``Result.message + Result.report``) must match the
regular expression ``report``, which names the wrong quantity (the output, the
gradient of which input, the dtype of the indices, the running variance...):
feedback that tells the student *what* is wrong, not only that something is.

To add one: copy a line of the solution into ``old``, break it in ``new`` the
way a student would, run ``pytest tests/test_planted_mistakes.py`` and read
the report the grader gives.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mistake:
    exercise: str   # "3.2"
    name: str       # what the student got wrong, in a few words
    old: str        # the exact text of the solution that is replaced (occurs exactly once)
    new: str        # the mistake
    report: str     # a regular expression (case-insensitive) the failure report must match


M = Mistake

MISTAKES = [
    # 1. backends ------------------------------------------------------------------------------
    M("1.1", "softmax normalised over the wrong axis",
      "return e / e.sum(axis=axis, keepdims=True)", "return e / e.sum(axis=0, keepdims=True)",
      r"softmax along axis"),
    M("1.1", "no maximum subtracted (overflow)",
      "shifted = x - x.max(axis=axis, keepdims=True)", "shifted = x",
      r"output|softmax|overflow"),
    M("1.2", "one-hot in the wrong dtype",
      "return (labels[..., None] == xp.arange(num_classes)).astype(dtype)",
      "return (labels[..., None] == xp.arange(num_classes)).astype(\"int64\")",
      r"dtype"),
    M("1.2", "no range check on the labels",
      "    if labels.size and (bool((labels < 0).any()) or bool((labels >= num_classes).any())):\n"
      "        raise ValueError(",
      "    if False:\n        raise ValueError(",
      r"must raise ValueError"),
    # 2. autograd ------------------------------------------------------------------------------
    M("2.1", "size-1 axes summed without keepdims",
      "grad = grad.sum(axis=axes, keepdims=True)", "grad = grad.sum(axis=axes)",
      r"unbroadcast of .* has the wrong shape"),
    M("2.1", "new leading axes not summed",
      "    if extra > 0:                                   # new leading axes: sum them away\n"
      "        grad = grad.sum(axis=tuple(range(extra)))\n",
      "", r"unbroadcast of .* has the wrong shape"),
    M("2.2", "no unbroadcast",
      "grad_a = unbroadcast(grad * self.b, self.a.shape)", "grad_a = grad * self.b",
      r"gradient of input 0|for input 0\b"),
    M("2.2", "dL/db multiplied by b instead of a",
      "grad_b = unbroadcast(grad * self.a, self.b.shape)", "grad_b = unbroadcast(grad * self.b, self.b.shape)",
      r"gradient of input 1"),
    M("2.3", "sign error in dL/db",
      "grad_b = unbroadcast(-grad * self.a / (self.b * self.b), self.b.shape)",
      "grad_b = unbroadcast(grad * self.a / (self.b * self.b), self.b.shape)",
      r"gradient of input 1"),
    M("2.3", "dL/db divided by b instead of b squared",
      "grad_b = unbroadcast(-grad * self.a / (self.b * self.b), self.b.shape)",
      "grad_b = unbroadcast(-grad * self.a / self.b, self.b.shape)",
      r"gradient of input 1"),
    M("2.4", "upstream gradient not multiplied in (chain rule forgotten)",
      "        return grad * self.y\n", "        return self.y\n",
      r"gradient of input 0"),
    M("2.5", "summed axes not put back before broadcasting",
      "            grad = grad.reshape(kept_shape)\n", "            pass\n",
      r"gradient of input 0|broadcast"),
    M("2.6", "batch axes of dL/dB not unbroadcast",
      "grad_b = unbroadcast(self.a.swapaxes(-1, -2) @ grad, self.b.shape)",
      "grad_b = self.a.swapaxes(-1, -2) @ grad",
      r"gradient of input 1|for input 1\b"),
    M("2.6", "dL/dA without the transpose of B on square matrices",
      "grad_a = unbroadcast(grad @ self.b.swapaxes(-1, -2), self.a.shape)",
      "grad_a = unbroadcast(grad @ self.b if self.b.shape[-1] == self.b.shape[-2] "
      "else grad @ self.b.swapaxes(-1, -2), self.a.shape)",
      r"gradient of input 0"),
    M("2.7", "relative to |a| only",
      "scale = np.maximum(np.abs(a), np.abs(b))", "scale = np.abs(a)",
      r"relative error"),
    M("2.8", "x not restored after the perturbation",
      "        flat[k] = old\n        grad.reshape(-1)[k]", "        grad.reshape(-1)[k]",
      r"x after the numerical gradient"),
    M("2.8", "one-sided step size in the denominator",
      "grad.reshape(-1)[k] = (values[0] - values[1]) / (2 * eps)",
      "grad.reshape(-1)[k] = (values[0] - values[1]) / eps",
      r"numerical gradient"),
    # 3. convolution ---------------------------------------------------------------------------
    M("3.1", "off by one: the + 1 forgotten",
      "out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1",
      "out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride",
      r"output size"),
    M("3.1", "padding counted once instead of twice",
      "out = (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1",
      "out = (size + padding - dilation * (kernel_size - 1) - 1) // stride + 1",
      r"output size"),
    M("3.2", "wrong stride in im2col (windows taken at stride 1)",
      "window = x_pad[:, :, u:u + s * h_out:s, v:v + s * w_out:s]",
      "window = x_pad[:, :, u:u + h_out, v:v + w_out]",
      r"im2col"),
    M("3.2", "off-by-one padding",
      "x_pad = pad(x, padding)\n    cols = xp.empty", "x_pad = pad(x, padding + 1)\n    cols = xp.empty",
      r"im2col"),
    M("3.3", "bias forgotten",
      "        out = out + bias.reshape(1, c_out, 1, 1)\n    return xp.ascontiguousarray(out), cols",
      "        out = out\n    return xp.ascontiguousarray(out), cols",
      r"output"),
    M("3.3", "(C_out, N) axes not transposed: reshaped straight to (N, C_out, ...)",
      ".reshape(c_out, n, h_out, w_out).transpose(1, 0, 2, 3)", ".reshape(n, c_out, h_out, w_out)",
      r"output"),
    M("3.4", "columns assigned instead of added (overlaps lost)",
      "x_pad[:, :, u:u + s * h_out:s, v:v + s * w_out:s] += blocks",
      "x_pad[:, :, u:u + s * h_out:s, v:v + s * w_out:s] = blocks",
      r"col2im"),
    M("3.4", "padding not cropped",
      "return x_pad[:, :, padding:padding + h, padding:padding + w]", "return x_pad",
      r"col2im has the wrong shape"),
    M("3.5", "bias gradient forgotten (zero)",
      "grad_bias = g.sum(axis=1)", "grad_bias = 0 * g.sum(axis=1)",
      r"gradient of input 2 = bias"),
    M("3.5", "sign error in the weight gradient",
      "grad_weight = (g @ self.cols.T).reshape(self.weight.shape)",
      "grad_weight = -(g @ self.cols.T).reshape(self.weight.shape)",
      r"gradient of input 1 = weight"),
    # 4. conv variants -------------------------------------------------------------------------
    M("4.1", "jump updated before the field",
      "        field += (k - 1) * d * jump\n        jump *= s\n",
      "        jump *= s\n        field += (k - 1) * d * jump\n",
      r"receptive field"),
    M("4.2", "dilated span off by one",
      "span = dilation * (k - 1) + 1", "span = dilation * k",
      r"dilated kernel"),
    M("4.3", "padding not cropped",
      "out = full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]", "out = full",
      r"conv_transpose2d (output )?has the wrong shape"),
    M("4.3", "kernel flipped (a convolution of the adjoint written as a correlation)",
      "                xp.einsum(\"nchw,co->nohw\", x, weight[:, :, u, v])",
      "                xp.einsum(\"nchw,co->nohw\", x, weight[:, :, k - 1 - u, k - 1 - v])",
      r"output"),
    M("4.4", "pointwise cost forgotten",
      "return kernel_size ** 2 * in_channels * pixels + in_channels * out_channels * pixels",
      "return kernel_size ** 2 * in_channels * pixels",
      r"multiplications"),
    M("4.5", "coordinate channels swapped",
      "channels = [x, minicnn.Tensor(i), minicnn.Tensor(j)]", "channels = [x, minicnn.Tensor(j), minicnn.Tensor(i)]",
      r"output"),
    # 5. pooling and batch norm ----------------------------------------------------------------
    M("5.1", "int32 indices where int64 is specified",
      "return out, (rows * width + cols).astype(xp.int64)", "return out, (rows * width + cols).astype(xp.int32)",
      r"indices.*dtype|dtype.*indices"),
    M("5.1", "flat index with rows and columns swapped",
      "return out, (rows * width + cols).astype(xp.int64)", "return out, (cols * width + rows).astype(xp.int64)",
      r"indices"),
    M("5.2", "a[idx] += v instead of scatter_add (overlapping windows lose gradient)",
      "scatter_add(grad, (planes, indices.reshape(n * c, -1)), grad_output.reshape(n * c, -1))",
      "grad[planes, indices.reshape(n * c, -1)] += grad_output.reshape(n * c, -1)",
      r"gradient of input 0"),
    M("5.3", "max instead of mean",
      "return _windows(x, kernel_size, stride).mean(axis=(-2, -1))",
      "return _windows(x, kernel_size, stride).max(axis=(-2, -1))",
      r"average pooling output"),
    M("5.4", "gradient divided by k instead of k * k",
      "share = grad_output / (k * k)", "share = grad_output / k",
      r"gradient of input 0"),
    M("5.5", "N instead of N - 1 in the running variance",
      "momentum * var * (m / (m - 1))", "momentum * var",
      r"running_var"),
    M("5.5", "gamma not applied",
      "y = gamma.reshape(1, -1, 1, 1) * x_hat + beta.reshape(1, -1, 1, 1)", "y = x_hat + beta.reshape(1, -1, 1, 1)",
      r"batch norm output"),
    M("5.6", "the x_hat term of dx dropped",
      " - x_hat * dgamma.reshape(1, -1, 1, 1))", ")",
      r"gradient of input 0"),
    M("5.6", "dgamma without x_hat",
      "dgamma = (grad_output * x_hat).sum(axis=axes)", "dgamma = grad_output.sum(axis=axes)",
      r"gradient of input 1 = gamma"),
    # 6. property-based testing ----------------------------------------------------------------
    M("6.1", "padding larger than half the window",
      "padding = draw(st.integers(0, min(max_padding, span // 2)))",
      "padding = draw(st.integers(0, max_padding))",
      r"padding"),
    M("6.1", "heights too small for the window",
      "smallest = max(1, span - 2 * padding)", "smallest = 1",
      r"does not fit"),
    M("6.2", "ties: integers drawn with replacement instead of a permutation",
      "values = rng.permutation(size) + rng.uniform(0.3, 0.7, size)",
      "values = rng.integers(0, size, size) + rng.uniform(0.3, 0.7, size)",
      r"apart"),
    # 7. channel attention ---------------------------------------------------------------------
    M("7.1", "max pooling instead of mean in the squeeze",
      "z = x.mean(dim=(2, 3))                              # (N, C)", "z = x.amax(dim=(2, 3))",
      r"output"),
    M("7.1", "sigmoid forgotten",
      "s = F.sigmoid(hidden @ w2.transpose(0, 1) + b2)", "s = (hidden @ w2.transpose(0, 1) + b2)",
      r"output"),
    M("7.2", "an even kernel size not made odd",
      "return t if t % 2 == 1 else t + 1", "return t",
      r"expected k = "),
    M("7.3", "weights reversed (a convolution instead of a correlation)",
      "a = sum(weight[j] * z_pad[:, j:j + c] for j in range(k))",
      "a = sum(weight[k - 1 - j] * z_pad[:, j:j + c] for j in range(k))",
      r"output"),
    # 8. CBAM and BAM --------------------------------------------------------------------------
    M("8.1", "the max-pooled branch forgotten (avg twice)",
      "mlp(avg, w0, b0, w1, b1) + mlp(peak, w0, b0, w1, b1)", "mlp(avg, w0, b0, w1, b1) + mlp(avg, w0, b0, w1, b1)",
      r"output"),
    M("8.2", "[max, mean] stacked in the wrong order",
      "pooled = minicnn.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)",
      "pooled = minicnn.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)",
      r"output"),
    M("8.3", "the residual (1 +) forgotten",
      "return (attention + 1) * x", "return attention * x",
      r"output"),
    M("8.3", "the sigmoid of the sum replaced by a sum of sigmoids",
      "attention = F.sigmoid(channel + spatial)", "attention = F.sigmoid(channel) + F.sigmoid(spatial)",
      r"output"),
    # 9. Gather-Excite and Selective Kernel ----------------------------------------------------
    M("9.1", "padding counted in the average",
      " " * 31 + "count_include_pad=False)", " " * 31 + "count_include_pad=True)",
      r"output"),
    M("9.2", "softmax over the channel axis instead of the branch axis",
      "alpha = F.softmax(a, dim=1)", "alpha = F.softmax(a, dim=2)",
      r"output"),
    # 10. self-attention -----------------------------------------------------------------------
    M("10.1", "softmax over the wrong axis",
      "attention = F.softmax(query.transpose(1, 2) @ key, dim=-1)",
      "attention = F.softmax(query.transpose(1, 2) @ key, dim=1)",
      r"output"),
    M("10.1", "the residual forgotten",
      "return gamma * out.reshape(n, c, height, width) + x", "return gamma * out.reshape(n, c, height, width)",
      r"output"),
    M("10.2", "sign error in the official variant",
      "energy = energy.amax(dim=-1, keepdim=True) - energy", "energy = energy - energy.amax(dim=-1, keepdim=True)",
      r"output"),
    M("10.2", "attention transposed",
      "return gamma * (attention @ features)", "return gamma * (attention.transpose(1, 2) @ features)",
      r"output"),
    # 11. U-Net --------------------------------------------------------------------------------
    M("11.1", "the gate not applied to x",
      "return alpha * x, alpha", "return x, alpha",
      r"output"),
    M("11.2", "2 sigma^2 written sigma^2",
      "/ (2 * sigma ** 2)", "/ (sigma ** 2)",
      r"weight map"),
    M("11.3", "shape check removed",
      "    if pred.shape != target.shape:\n        raise ValueError(", "    if False:\n        raise ValueError(",
      r"must raise ValueError"),
    M("11.3", "rows and columns swapped (pred as rows)",
      "index = target.reshape(-1).astype(xp.int64) * num_classes + pred.reshape(-1).astype(xp.int64)",
      "index = pred.reshape(-1).astype(xp.int64) * num_classes + target.reshape(-1).astype(xp.int64)",
      r"confusion matrix"),
    M("11.4", "intersection not subtracted from the union",
      "union = n.sum(axis=1) + n.sum(axis=0) - intersection", "union = n.sum(axis=1) + n.sum(axis=0)",
      r"mean IU"),
    # 12. GPU ----------------------------------------------------------------------------------
    M("12.1", "a[idx] += v instead of scatter_add (repeated indices lost)",
      "backend.scatter_add(out, indices.reshape(-1), grad.reshape(-1, dim))",
      "out[indices.reshape(-1)] += grad.reshape(-1, dim)",
      r"dL/dweight"),
    M("12.1", "bare numpy on the data",
      "out = xp.zeros((num_embeddings, dim), dtype=grad.dtype)",
      "import numpy as np\n    out = np.zeros((num_embeddings, dim), dtype=grad.dtype)",
      r"StrictArray|strict"),
    # 13. segmentation networks ----------------------------------------------------------------
    M("13.1", "ReLU of the image-pooling branch forgotten",
      "pooled = F.relu(F.conv2d(x.mean(dim=(2, 3), keepdim=True), w_pool))",
      "pooled = F.conv2d(x.mean(dim=(2, 3), keepdim=True), w_pool)",
      r"output"),
    M("13.2", "bin end rounded down instead of up",
      "return [((i * size) // b, -((-(i + 1) * size) // b)) for i in range(b)]",
      "return [((i * size) // b, ((i + 1) * size) // b) for i in range(b)]",
      r"output"),
    M("13.2", "align_corners=False in the pyramid's upsampling",
      "mode=\"bilinear\", align_corners=True)", "mode=\"bilinear\", align_corners=False)",
      r"output"),
    M("13.3", "H and W transposed before the gather",
      "planes = grad_output.reshape(n * c, -1)", "planes = grad_output.transpose(0, 1, 3, 2).reshape(n * c, -1)",
      r"dL/dx"),
    M("13.4", "the modules' modes not restored",
      "        for m, mode in modes:\n            m.training = mode\n", "        pass\n",
      r"training flag"),
    M("13.4", "mutual information with the wrong sign",
      "return mean, variance, h_mean, h_mean - entropy(p, 2).mean(axis=0)",
      "return mean, variance, h_mean, entropy(p, 2).mean(axis=0) - h_mean",
      r"mutual information"),
]


def rounds(mistakes=MISTAKES) -> list:
    """The mistakes in grading rounds: at most one mistake per exercise in each round."""
    out = []
    for mistake in mistakes:
        for group in out:
            if all(m.exercise != mistake.exercise for m in group):
                group.append(mistake)
                break
        else:
            out.append([mistake])
    return out
