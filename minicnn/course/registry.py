"""The course's exercises: one record per exercise (id, title, points, hint, file).

The id ``"3.2"`` reads "notebook 3, exercise 2". Everything else is derived
from this list:

* ``solutions/<module>.py`` marks the solution with ``# BEGIN SOLUTION 3.2``
  ... ``# END SOLUTION`` (:mod:`minicnn.course.make_exercises` turns the
  region into a ``raise NotImplementedError("Exercise 3.2: <title>. Hint:
  <hint>")`` in ``exercises/<module>.py``);
* ``tests/exercises/test_<module>.py`` marks each graded test with
  ``@pytest.mark.ex3_2`` (the marker is registered from this list);
* ``minicnn grade 3.2`` (:mod:`minicnn.course.grade`) runs those tests and
  counts ``points``;
* each notebook ends with :func:`show` for its chapter.

To add an exercise: add a record here, a marked region in the solution
file, and tests carrying the marker (see docs/instructor.md).
"""
from __future__ import annotations

from dataclasses import dataclass

CHAPTERS = {
    1: "A tour of minicnn, on the CPU and on the GPU",
    2: "Tensors and reverse-mode automatic differentiation",
    3: "Convolution: loops, im2col, stride and padding",
    4: "Dilated, transposed, separable and coordinate convolutions",
    5: "Pooling and batch normalisation, forward and backward",
    6: "Property-based testing: letting Hypothesis find the bugs",
    7: "Channel attention: SE, its three variants, and ECA",
    8: "Spatial and hybrid attention: CBAM and BAM",
    9: "Gather-Excite and Selective Kernel",
    10: "Self-attention for segmentation: DANet's position and channel attention",
    11: "U-Net for segmentation: architecture, weight map, metrics, attention gates",
    12: "Running on a GPU with CuPy",
    13: "The segmentation networks: FCN, SegNet, dilated context, DeepLab, PSPNet, RefineNet, CRFs, uncertainty",
}

#: The file (in solutions/ and exercises/, without .py) of each chapter's exercises.
MODULES = {
    1: "ch01_backend",
    2: "ch02_autograd",
    3: "ch03_convolution",
    4: "ch04_conv_variants",
    5: "ch05_pooling_batchnorm",
    6: "ch06_property_testing",
    7: "ch07_channel_attention",
    8: "ch08_cbam_bam",
    9: "ch09_gather_excite_selective_kernel",
    10: "ch10_self_attention",
    11: "ch11_unet_segmentation",
    12: "ch12_gpu_with_cupy",
    13: "ch13_segmentation_networks",
}


@dataclass(frozen=True)
class Exercise:
    """One graded exercise."""

    id: str        # "3.2": notebook 3, exercise 2
    title: str     # what to implement, as the stub's error message says it
    points: int
    hint: str

    @property
    def chapter(self) -> int:
        return int(self.id.split(".")[0])

    @property
    def marker(self) -> str:
        """The pytest marker of its tests: ``ex3_2``."""
        return "ex" + self.id.replace(".", "_")

    @property
    def module(self) -> str:
        """The file name (without ``.py``) in solutions/ and exercises/."""
        return MODULES[self.chapter]


def _ex(id, title, points, hint):
    return Exercise(id, title, points, hint)


EXERCISES = [
    # 1. backends
    _ex("1.1", "a numerically stable softmax kernel that runs on any backend", 2,
        "xp = get_array_module(x); subtract the maximum along the axis before xp.exp"),
    _ex("1.2", "one-hot encoding on any backend", 1,
        "compare labels[..., None] with xp.arange(num_classes) and cast the result"),
    # 2. autograd
    _ex("2.1", "unbroadcast: sum a gradient back to an input's shape", 2,
        "first sum the extra leading axes, then (keepdims) the axes where shape has size 1"),
    _ex("2.2", "the backward rule of multiplication", 1,
        "dL/da = grad * b and dL/db = grad * a, each passed through unbroadcast"),
    _ex("2.3", "the backward rule of division", 1,
        "dL/da = grad / b and dL/db = -grad * a / b**2, each passed through unbroadcast"),
    _ex("2.4", "the exponential: forward and backward", 1,
        "save y = xp.exp(x) in forward; dy/dx = y"),
    _ex("2.5", "the backward rule of sum over axes", 2,
        "put the summed axes back as size-1 axes, then xp.broadcast_to the input shape"),
    _ex("2.6", "the backward rule of (batched) matrix multiplication", 3,
        "dL/dA = G @ B^T and dL/dB = A^T @ G (swapaxes(-1, -2)); unbroadcast the batch axes"),
    _ex("2.7", "the relative error of two gradients", 1,
        "|a - b| / max(|a|, |b|), and 0 where both are 0"),
    _ex("2.8", "the numerical gradient by central differences", 2,
        "for each entry: (f(x + eps) - f(x - eps)) / (2 eps), weighted by the upstream gradient"),
    # 3. convolution
    _ex("3.1", "the output size of a convolution", 1,
        "floor((size + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1"),
    _ex("3.2", "im2col: every window of the padded input as a column", 3,
        "pad first; loop over the kernel offsets (u, v) and take the strided slice x[:, :, u::s, v::s]"),
    _ex("3.3", "conv2d forward as one matrix product", 2,
        "weight.reshape(C_out, -1) @ cols, then reshape to (N, C_out, H_out, W_out) and add the bias"),
    _ex("3.4", "col2im: the adjoint of im2col", 3,
        "loop over the kernel offsets as in im2col but ADD the columns into the padded image, then crop"),
    _ex("3.5", "conv2d backward: the gradients of input, weight and bias", 3,
        "grad_w = sum over images of G @ cols^T; grad_x = col2im(W^T @ G); grad_b = G summed over N, H, W"),
    # 4. conv variants
    _ex("4.1", "the receptive field of a stack of convolutions", 2,
        "r_l = r_{l-1} + (k_l - 1) d_l j_{l-1}, with the jump j_l = j_{l-1} s_l"),
    _ex("4.2", "a dilated kernel: the filter with holes", 2,
        "the dilated kernel has size d (k - 1) + 1; write w into every d-th entry"),
    _ex("4.3", "the transposed convolution (the up-conv), forward", 3,
        "for each kernel offset (u, v): out[:, :, u::s, v::s] += the channel mix of x by weight[:, :, u, v]"),
    _ex("4.4", "a depthwise separable convolution and its cost", 2,
        "depthwise: F.conv2d with groups = C_in; pointwise: a 1x1 F.conv2d"),
    _ex("4.5", "CoordConv's coordinate channels", 2,
        "i varies along H, j along W, both linearly from -1 to 1; concatenate [x, i, j] on axis 1"),
    # 5. pooling and batch norm
    _ex("5.1", "max pooling forward, with the argmax indices", 2,
        "sliding windows (N, C, H_out, W_out, k, k); the flat index is row * W + column of the input"),
    _ex("5.2", "max pooling backward", 2,
        "scatter_add the gradient at the saved flat indices (windows overlap: never use a[idx] += v)"),
    _ex("5.3", "average pooling forward", 1,
        "the mean over the last two axes of the sliding windows"),
    _ex("5.4", "average pooling backward", 2,
        "every input pixel of a window receives grad / (k * k); loop over the kernel offsets"),
    _ex("5.5", "batch normalisation forward, train and eval", 2,
        "mean and biased variance over (N, H, W); update the running variance with the unbiased one"),
    _ex("5.6", "batch normalisation backward", 3,
        "three paths lead to each x (through x_hat, mu and var): find dL/dvar and dL/dmu, use "
        "sum(x - mu) = 0, rewrite x - mu as x_hat / inv_std; per channel dx sums to 0 and is "
        "orthogonal to x_hat"),
    # 6. property-based testing
    _ex("6.1", "a Hypothesis strategy for valid convolution geometries", 2,
        "draw kernel, dilation, padding first; then draw H and W at least the dilated span minus 2 padding"),
    _ex("6.2", "a Hypothesis strategy for tie-free arrays", 2,
        "a permutation of range(size) plus a jitter in [0.3, 0.7], scaled to [low, high]"),
    # 7. channel attention
    _ex("7.1", "squeeze-and-excitation (SE)", 2,
        "z = x.mean((2, 3)); s = sigmoid(relu(z @ w1.T + b1) @ w2.T + b2); y = x * s[:, :, None, None]"),
    _ex("7.2", "ECA's adaptive kernel size", 1,
        "t = int(abs((log2(C) + b) / gamma)); k = t if t is odd else t + 1"),
    _ex("7.3", "efficient channel attention (ECA)", 2,
        "zero-pad the pooled channels by (k - 1) // 2 on both ends; a[c] = sum_j w[j] z_pad[c + j]"),
    # 8. CBAM and BAM
    _ex("8.1", "CBAM's channel attention", 2,
        "one shared MLP on the average- and the max-pooled vector; add before the sigmoid"),
    _ex("8.2", "CBAM's spatial attention", 2,
        "stack [mean over channels, max over channels] into (N, 2, H, W); 7x7 conv with padding 3; sigmoid"),
    _ex("8.3", "the bottleneck attention module (BAM)", 3,
        "y = (1 + sigmoid(M_c + M_s)) * x; the spatial branch uses 3x3 convs with dilation 4 and padding 4"),
    # 9. Gather-Excite and Selective Kernel
    _ex("9.1", "parameter-free Gather-Excite (GE-theta-minus)", 2,
        "gather with F.avg_pool2d(kernel 2e-1, stride e, padding e-1, count_include_pad=False), "
        "excite with nearest upsampling and a sigmoid"),
    _ex("9.2", "Selective Kernel: fuse and select", 3,
        "U = sum of branches; z = relu(GAP(U) @ W_fc.T); softmax over the branch axis of z @ W_sel.T"),
    # 10. self-attention
    _ex("10.1", "DANet's position attention module (PAM)", 3,
        "E = Q^T K over the n = H W positions; S = softmax(E, -1); out = V @ S^T; y = gamma out + x"),
    _ex("10.2", "DANet's channel attention module (CAM)", 2,
        "E = X X^T (C x C); S = softmax(E) ('paper') or softmax(rowmax(E) - E) ('official') along the "
        "last axis; y = gamma (S @ X) + x"),
    # 11. U-Net: attention gates, weight map, metrics
    _ex("11.1", "the additive attention gate", 2,
        "flatten H, W; alpha = sigmoid(psi @ relu(W_x @ x + W_g @ g + b_g) + b_psi); return x * alpha, alpha"),
    _ex("11.2", "the U-Net weight map", 2,
        "w = w_c + w0 exp(-(d1 + d2)^2 / (2 sigma^2)) outside the cells; d1, d2 from distance transforms"),
    _ex("11.3", "the confusion matrix of a segmentation", 1,
        "bincount of target * num_classes + pred, with minlength num_classes**2, reshaped"),
    _ex("11.4", "pixel accuracy and mean IU", 2,
        "IU_i = n_ii / (t_i + sum_j n_ji - n_ii); average over the classes whose IU is defined"),
    # 12. GPU with CuPy
    _ex("12.1", "a NumPy-only kernel made backend-agnostic: the embedding backward", 2,
        "xp = get_array_module(grad); out = xp.zeros(...); backend.scatter_add(out, indices, grad) "
        "(repeated indices must accumulate; no np. on the data)"),
    # 13. segmentation networks
    _ex("13.1", "atrous spatial pyramid pooling (ASPP)", 2,
        "1x1 branch, one 3x3 conv per rate with padding = dilation = rate, global mean + 1x1 conv expanded "
        "to H x W; ReLU after each; concat on channels, 1x1 projection, ReLU"),
    _ex("13.2", "adaptive average pooling and PSPNet's pyramid pooling module", 2,
        "bin i spans floor(i H / b) to ceil((i + 1) H / b); per bin size: pool, 1x1 conv, ReLU, bilinear "
        "upsampling with align_corners=True; concat [x, levels...]"),
    _ex("13.3", "the backward pass of max-unpooling", 1,
        "a gather: reshape to (N C, H W) planes and xp.take_along_axis(grad, indices, axis=1)"),
    _ex("13.4", "Monte Carlo dropout prediction", 2,
        "model.eval(), then training=True on the Dropout modules only; T softmax passes under no_grad; "
        "restore every module's mode; entropy -sum p log p over the class axis"),
]

BY_ID = {e.id: e for e in EXERCISES}


def get(exercise_id: str) -> Exercise:
    """The exercise of an id (``"3.2"``, or its marker ``"ex3_2"``)."""
    key = str(exercise_id).strip()
    if key.startswith("ex"):
        key = key[2:].replace("_", ".")
    if key not in BY_ID:
        raise KeyError(f"no exercise {exercise_id!r}; known: {', '.join(BY_ID)}")
    return BY_ID[key]


def select(names=None) -> list:
    """Exercises named by ids (``"3.2"``), markers (``"ex3_2"``) or whole chapters (``"3"``).

    No names means every exercise. Raises ``KeyError`` for an unknown name.
    """
    if not names:
        return list(EXERCISES)
    chosen = []
    for name in names:
        name = str(name).strip()
        if name.isdigit():
            found = [e for e in EXERCISES if e.chapter == int(name)]
            if not found:
                raise KeyError(f"no exercises in chapter {name}; chapters: "
                               f"{', '.join(str(c) for c in CHAPTERS)}")
        else:
            found = [get(name)]
        chosen.extend(e for e in found if e not in chosen)
    return sorted(chosen, key=EXERCISES.index)


def of_chapter(chapter: int) -> list:
    return [e for e in EXERCISES if e.chapter == chapter]


def show(chapter: int) -> None:
    """Print a chapter's exercises and the command that grades them (the last cell of each notebook)."""
    exercises = of_chapter(chapter)
    print(f"Exercises of notebook {chapter}: {CHAPTERS[chapter]}")
    print(f"Edit exercises/{MODULES[chapter]}.py (each stub raises NotImplementedError until you fill it in).\n")
    width = max(len(e.title) for e in exercises)
    for e in exercises:
        print(f"  {e.id:<5} {e.title:<{width}}  {e.points} point{'s' if e.points > 1 else ''}")
    print(f"\nGrade them with:\n  minicnn grade {' '.join(e.id for e in exercises)}")



def show_all() -> None:
    """Every chapter's exercises (``minicnn grade --list``)."""
    for chapter in CHAPTERS:
        if of_chapter(chapter):
            show(chapter)
            print()
    print(f"{len(EXERCISES)} exercises, {sum(e.points for e in EXERCISES)} points")
