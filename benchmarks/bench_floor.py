"""How close minicnn's layers come to the floor of NumPy: their own matrix products.

    python benchmarks/bench_floor.py                 # every case, median of 15 interleaved repeats
    python benchmarks/bench_floor.py --cases conv,dw --repeats 30
    python benchmarks/bench_floor.py --threads 1 --clock cpu   # robust on a busy machine
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_floor.py   # OpenBLAS's own choice

For every case, forward + backward in float32, three things are timed in the
same process, interleaved (minicnn, torch, floor, minicnn, ...), and the
MEDIAN of each is kept:

* minicnn: ``y = op(x, ...); y.backward(g)``;
* torch: the same with ``torch.nn.functional`` (torch threads = NumPy's BLAS threads);
* the floor: what a NumPy implementation cannot avoid doing.
  - for an im2col convolution, its three matrix products alone, on ready-made
    float32 matrices of the shapes minicnn multiplies (whole batch, results
    written into preallocated arrays): forward ``W_mat @ cols``, weight
    gradient ``cols @ G^T``, input gradient ``W_flip @ cols(G)`` (full
    convolution, stride 1 and C_out <= C_in) or ``W_mat^T @ G`` (col2im);
    the transposed convolution's three products likewise;
  - for a depthwise convolution (no matrix product), its 3 kH kW multiply-adds
    over output-sized arrays (forward, input gradient, weight gradient), in
    place into preallocated arrays;
  - pooling and batch norm have none (the torch ratio is the measure).

Reported: milliseconds, minicnn / torch and minicnn / floor. On a shared
machine compare ratios from one run, not times across runs; the load average
(``os.getloadavg``) is printed before and after. The OpenBLAS kernel in use
(threadpoolctl's "architecture") and ``OPENBLAS_CORETYPE`` are printed too:
some environments pin OpenBLAS to older kernels.

Results: benchmarks/RESULTS.md.
"""
import argparse
import math
import os
import statistics
import sys
import time

from _threads import set_threads_before_numpy_loads  # noqa: E402  (no numpy import inside)

if __name__ == "__main__":
    set_threads_before_numpy_loads(sys.argv[1:])

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minicnn  # noqa: E402
import minicnn.functional as F  # noqa: E402
from bench_layers import cpu_model, geometric_mean, make_runner, numpy_threads  # noqa: E402


def blas_kernel():
    """OpenBLAS's kernel family (threadpoolctl), or 'unknown'."""
    try:
        from threadpoolctl import threadpool_info
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                return f"{info.get('internal_api')} {info.get('version')} {info.get('architecture')}"
    except ImportError:
        pass
    return "unknown (threadpoolctl not installed)"


# ----------------------------------------------------------------------------------- the floors
def products_floor(shapes, rng):
    """A runner doing the products (m, k) @ (k, n) of ``shapes`` into preallocated outputs.

    ``shapes`` entries are (m, k, n, transposed_b): with transposed_b the right
    factor is the transpose of a contiguous (n, k) array, as minicnn's
    ``cols @ G^T``.
    """
    mats = []
    for m, k, n, transposed_b in shapes:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((n, k), dtype=np.float32).T if transposed_b else \
            rng.standard_normal((k, n), dtype=np.float32)
        mats.append((a, b, np.empty((m, n), dtype=np.float32)))

    def run():
        for a, b, out in mats:
            np.matmul(a, b, out=out)
    return run


def conv_products(n, c, f, size, k, stride, padding, dilation):
    """The shapes of the three products of minicnn's im2col conv2d (see minicnn/ops/conv.py)."""
    out = (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    p = n * out * out
    shapes = [(f, c * k * k, p, False),          # forward       W_mat (F, C k k) @ cols (C k k, P)
              (c * k * k, p, f, True)]           # weight grad   cols (C k k, P) @ G^T (P, F)
    if stride == 1 and f <= c:                   # input grad    W_flip (C, F k k) @ cols(G) (F k k, N H W)
        shapes.append((c, f * k * k, n * size * size, False))
    else:                                        #               W_mat^T (C k k, F) @ G (F, P), then col2im
        shapes.append((c * k * k, f, p, False))
    return shapes


def conv_transpose_products(n, c, f, size, k):
    """The three products of conv_transpose2d (conv2d's input gradient and forward, roles swapped)."""
    p = n * size * size
    return [(f * k * k, c, p, False),             # forward       W^T (F k k, C) @ X (C, P), then col2im
            (c, f * k * k, p, False),             # input grad    W (C, F k k) @ cols(G) (F k k, P)
            (f * k * k, p, c, True)]              # weight grad   cols(G) (F k k, P) @ X^T (P, C)


def multiply_add_floor(shape, taps, rng):
    """A runner doing 3 * ``taps`` in-place multiply-adds ``acc += a * w`` on arrays of ``shape``.

    ``w`` is one weight per channel, laid out as a contiguous (C, H, W) plane (NumPy's fastest
    form: every operand contiguous); NumPy has no fused multiply-add, so each is two passes.
    """
    acc, a, tmp = (rng.standard_normal(shape, dtype=np.float32) for _ in range(3))
    w = np.ascontiguousarray(np.broadcast_to(rng.standard_normal((shape[1], 1, 1), dtype=np.float32),
                                             shape[1:]))

    def run():
        for _ in range(3 * taps):
            np.multiply(a, w, out=tmp)
            acc.__iadd__(tmp)
    return run


# ----------------------------------------------------------------------------------- the cases
def conv_case(n, c, f, size, k, stride=1, padding=0, dilation=1, groups=1):
    def build(rng, torch):
        x = rng.standard_normal((n, c, size, size)).astype(np.float32)
        w = (rng.standard_normal((f, c // groups, k, k)) / math.sqrt(c // groups * k * k)).astype(np.float32)
        b = rng.standard_normal(f).astype(np.float32)
        if groups == 1:
            floor = products_floor(conv_products(n, c, f, size, k, stride, padding, dilation), rng)
        else:
            assert groups == c == f, "the floor is written for depthwise only"
            out = (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1
            floor = multiply_add_floor((n, c, out, out), k * k, rng)
        return ([x, w, b],
                lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups),
                lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups),
                floor)
    return build


def conv_transpose_case(n, c, f, size, k, stride):
    def build(rng, torch):
        x = rng.standard_normal((n, c, size, size)).astype(np.float32)
        w = (rng.standard_normal((c, f, k, k)) / math.sqrt(c)).astype(np.float32)
        b = rng.standard_normal(f).astype(np.float32)
        return ([x, w, b],
                lambda x, w, b: F.conv_transpose2d(x, w, b, stride),
                lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, stride),
                products_floor(conv_transpose_products(n, c, f, size, k), rng))
    return build


def max_pool_case(n, c, size, k, stride, padding):
    def build(rng, torch):
        x = rng.permutation(n * c * size * size).reshape(n, c, size, size).astype(np.float32)
        return ([x], lambda x: F.max_pool2d(x, k, stride, padding),
                lambda x: torch.nn.functional.max_pool2d(x, k, stride, padding), None)
    return build


def batch_norm_case(n, c, size):
    def build(rng, torch):
        x = rng.standard_normal((n, c, size, size)).astype(np.float32)
        gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
        beta = rng.standard_normal(c).astype(np.float32)
        mc_stats, torch_stats = [minicnn.zeros(c), minicnn.ones(c)], [torch.zeros(c), torch.ones(c)]
        return ([x, gamma, beta],
                lambda x, g, b: F.batch_norm(x, mc_stats[0], mc_stats[1], g, b, training=True),
                lambda x, g, b: torch.nn.functional.batch_norm(x, torch_stats[0], torch_stats[1], g, b,
                                                               training=True),
                None)
    return build


CASES = [  # (group, name, description, builder)
    ("conv", "conv", "conv 3x3, N32 C64 F64 32x32", conv_case(32, 64, 64, 32, 3, padding=1)),
    ("conv", "conv64", "conv 3x3, N16 C32 F32 64x64", conv_case(16, 32, 32, 64, 3, padding=1)),
    ("conv", "conv128", "conv 3x3, N4 C128 F128 16x16", conv_case(4, 128, 128, 16, 3, padding=1)),
    ("conv", "conv_rgb", "conv 3x3, N8 C3 F64 128x128", conv_case(8, 3, 64, 128, 3, padding=1)),
    ("conv", "dilated", "conv 3x3 dilation 2, N32 C64 F64 32x32",
     conv_case(32, 64, 64, 32, 3, padding=2, dilation=2)),
    ("conv", "up", "conv_transpose 2x2 s2, N32 C64 F32 16x16", conv_transpose_case(32, 64, 32, 16, 2, 2)),
    ("depthwise", "dw", "depthwise 3x3, N16 C64 32x32", conv_case(16, 64, 64, 32, 3, padding=1, groups=64)),
    ("pool+bn", "maxpool", "max_pool2d 3x3 s2 p1, N32 C64 32x32", max_pool_case(32, 64, 32, 3, 2, 1)),
    ("pool+bn", "bn", "batch_norm (training), N32 C64 32x32", batch_norm_case(32, 64, 32)),
]


def median_times(runners, repeats, warmup=2, settle=0.0, clock=time.perf_counter):
    """Interleave the runners ``repeats`` times; the median time (s) of each.

    ``settle`` seconds of sleep before each run let the other library's idle
    threads (OpenBLAS's, torch's OpenMP) stop spinning on the 2 cores.
    """
    for run in runners:
        for _ in range(warmup):
            run()
    times = [[] for _ in runners]
    for _ in range(repeats):
        for i, run in enumerate(runners):
            time.sleep(settle)
            start = clock()
            run()
            times[i].append(clock() - start)
    return [statistics.median(t) for t in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed repeats per case (median)")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and torch (default: NumPy's own count)")
    parser.add_argument("--settle", type=float, default=0.05,
                        help="seconds of sleep before each timed run (idle threads stop spinning)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: elapsed time; cpu: CPU time of this thread (needs --threads 1), which the "
                             "load of other programs does not inflate")
    args = parser.parse_args(argv)
    import torch

    threads = numpy_threads()
    if args.clock == "cpu" and threads != 1:
        raise SystemExit("--clock cpu measures one thread's CPU time: use it with --threads 1")
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(threads)
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()}
    print("minicnn vs torch vs the floor (NumPy's own products), forward + backward, float32, CPU")
    print(f"cpu {cpu_model()}  cores {os.cpu_count()}  threads numpy={threads} torch={torch.get_num_threads()}")
    print(f"numpy {np.__version__}  torch {torch.__version__}  BLAS {blas_kernel()}  "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}  "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")
    print(f"load average before: {os.getloadavg()}  repeats {args.repeats} (median), clock {args.clock}\n")
    print("| case | minicnn | torch | floor (NumPy) | minicnn / torch | minicnn / floor |")
    print("|---|---:|---:|---:|---:|---:|")
    ratios = {}
    rng = np.random.default_rng(0)
    for group, name, description, build in CASES:
        if wanted and name not in wanted:
            continue
        arrays, mc_fn, torch_fn, floor = build(rng, torch)
        mc_tensors = [minicnn.tensor(a, requires_grad=True) for a in arrays]
        torch_tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        with minicnn.no_grad():
            out_shape = mc_fn(*mc_tensors).shape
        upstream = rng.standard_normal(out_shape).astype(np.float32)
        runners = [make_runner(mc_fn, mc_tensors, upstream),
                   make_runner(torch_fn, torch_tensors, torch.tensor(upstream))]
        if floor is not None:
            runners.append(floor)
        times = median_times(runners, args.repeats, settle=args.settle, clock=clock)
        t_mc, t_torch = times[0], times[1]
        t_floor = times[2] if floor is not None else None
        ratios.setdefault(group, []).append((t_mc / t_torch, t_mc / t_floor if t_floor else None))
        floor_text = f"{1e3 * t_floor:.1f} ms" if t_floor else "-"
        floor_ratio = f"{t_mc / t_floor:.2f}" if t_floor else "-"
        print(f"| {description} | {1e3 * t_mc:.1f} ms | {1e3 * t_torch:.1f} ms | {floor_text} | "
              f"{t_mc / t_torch:.2f} | {floor_ratio} |", flush=True)
    print()
    for group, values in ratios.items():
        floors = [f for _, f in values if f]
        print(f"geometric mean, {group:<9}: minicnn/torch {geometric_mean([t for t, _ in values]):.2f}"
              + (f", minicnn/floor {geometric_mean(floors):.2f}" if floors else "") + f"  ({len(values)} cases)")
    print(f"load average after: {os.getloadavg()}")
    return ratios


if __name__ == "__main__":
    main()
