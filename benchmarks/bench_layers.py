"""Time minicnn's layers against PyTorch on the CPU: forward + backward, float32.

    python benchmarks/bench_layers.py            # the full run (about a minute on 2 cores)
    python benchmarks/bench_layers.py --quick    # a smoke run: smaller batches, fewer repeats
    python benchmarks/bench_layers.py --cases conv,dw --repeats 20
    python benchmarks/bench_layers.py --threads 1 --clock cpu   # robust on a busy machine

Both libraries run in this process, on the same NumPy data and the same
upstream gradient, with the same number of threads (torch.set_num_threads(n),
n = the number of threads of NumPy's BLAS, or ``--threads n`` for both). Each
measurement is ``y = op(x, ...); y.backward(g)``; the repeats of minicnn and
torch are interleaved and the best (minimum) time of each is kept, the
estimate least disturbed by other programs. The report gives the ratio
minicnn / torch per case and the geometric mean of the ratios per group
(convolutions; pooling and batch norm).

Clocks: ``--clock wall`` (default) is elapsed time. On a machine that other
programs keep busy, elapsed time also counts the time the process waits for
a core, and torch's OpenMP threads, which wait for each other, suffer most
from that. ``--clock cpu`` with ``--threads 1`` measures the CPU time of the
one thread that does all the work (``time.thread_time``), which waiting does
not inflate.

Peak memory is measured for the minicnn side only, with ``tracemalloc``
(NumPy reports its array allocations to it) around one extra forward +
backward: the largest amount of Python/NumPy memory alive at once,
inputs excluded. torch's allocations are invisible to tracemalloc; the
process's peak resident set size (``resource`` maxrss, both libraries
together) is printed at the end.

The numbers are recorded in benchmarks/RESULTS.md.
"""
import argparse
import datetime
import math
import os
import platform
import resource
import sys
import time
import tracemalloc


from _threads import set_threads_before_numpy_loads  # noqa: E402  (no numpy import inside)

if __name__ == "__main__":
    set_threads_before_numpy_loads(sys.argv[1:])

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minicnn  # noqa: E402
import minicnn.functional as F  # noqa: E402


def numpy_threads():
    """Threads of NumPy's BLAS (threadpoolctl when available, else the environment or the CPU count)."""
    try:
        from threadpoolctl import threadpool_info
        counts = [info["num_threads"] for info in threadpool_info() if info.get("user_api") == "blas"]
        if counts:
            return max(counts)
    except ImportError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return int(os.environ[var])
    return os.cpu_count() or 1


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ----------------------------------------------------------------------------------- the cases
# Each case: (group, name, description, builder). A builder gets (rng, batch_scale) and returns
# (arrays, minicnn_fn, torch_fn): the float32 arrays that get gradients, and two functions of
# the tensors built from them.
def conv_case(n, c, f, size, k, stride=1, padding=0, dilation=1, groups=1):
    def build(rng, scale, torch):
        nn_ = max(1, n // scale)
        x = rng.standard_normal((nn_, c, size, size)).astype(np.float32)
        w = (rng.standard_normal((f, c // groups, k, k)) / math.sqrt(c // groups * k * k)).astype(np.float32)
        b = rng.standard_normal(f).astype(np.float32)
        return ([x, w, b],
                lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups),
                lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride, padding, dilation, groups))
    return build


def conv_transpose_case(n, c, f, size, k, stride):
    def build(rng, scale, torch):
        nn_ = max(1, n // scale)
        x = rng.standard_normal((nn_, c, size, size)).astype(np.float32)
        w = (rng.standard_normal((c, f, k, k)) / math.sqrt(c)).astype(np.float32)
        b = rng.standard_normal(f).astype(np.float32)
        return ([x, w, b],
                lambda x, w, b: F.conv_transpose2d(x, w, b, stride),
                lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, stride))
    return build


def max_pool_case(n, c, size, k, stride, padding):
    def build(rng, scale, torch):
        if not hasattr(F, "max_pool2d"):
            return None
        nn_ = max(1, n // scale)
        x = rng.permutation(nn_ * c * size * size).reshape(nn_, c, size, size).astype(np.float32)
        return ([x],
                lambda x: F.max_pool2d(x, k, stride, padding),
                lambda x: torch.nn.functional.max_pool2d(x, k, stride, padding))
    return build


def batch_norm_case(n, c, size):
    def build(rng, scale, torch):
        if not hasattr(F, "batch_norm"):
            return None
        nn_ = max(1, n // scale)
        x = rng.standard_normal((nn_, c, size, size)).astype(np.float32)
        gamma = rng.uniform(0.5, 1.5, c).astype(np.float32)
        beta = rng.standard_normal(c).astype(np.float32)
        mc_stats = [minicnn.zeros(c), minicnn.ones(c)]
        torch_stats = [torch.zeros(c), torch.ones(c)]
        return ([x, gamma, beta],
                lambda x, g, b: F.batch_norm(x, mc_stats[0], mc_stats[1], g, b, training=True),
                lambda x, g, b: torch.nn.functional.batch_norm(x, torch_stats[0], torch_stats[1], g, b,
                                                               training=True))
    return build


CASES = [
    ("convolutions", "conv", "conv2d 3x3 pad 1, N={n} C=64 F=64 32x32", conv_case(32, 64, 64, 32, 3, padding=1)),
    ("convolutions", "conv64", "conv2d 3x3 pad 1, N={n} C=32 F=32 64x64", conv_case(16, 32, 32, 64, 3, padding=1)),
    ("convolutions", "conv_rgb", "conv2d 3x3 pad 1, N={n} C=3 F=64 128x128", conv_case(8, 3, 64, 128, 3, padding=1)),
    ("convolutions", "dilated", "conv2d 3x3 dilation 2 pad 2, N={n} C=64 F=64 32x32",
     conv_case(32, 64, 64, 32, 3, padding=2, dilation=2)),
    ("convolutions", "dw", "depthwise conv2d 3x3 pad 1 groups=64, N={n} C=64 32x32",
     conv_case(32, 64, 64, 32, 3, padding=1, groups=64)),
    ("convolutions", "up", "conv_transpose2d 2x2 stride 2, N={n} C=64 F=32 16x16 -> 32x32",
     conv_transpose_case(32, 64, 32, 16, 2, 2)),
    ("pooling+BN", "maxpool", "max_pool2d 3x3 stride 2 pad 1, N={n} C=64 32x32",
     max_pool_case(32, 64, 32, 3, 2, 1)),
    ("pooling+BN", "bn", "batch_norm (training), N={n} C=64 32x32", batch_norm_case(32, 64, 32)),
]


# ----------------------------------------------------------------------------------- timing
def make_runner(fn, tensors, upstream):
    def run():
        for t in tensors:
            t.grad = None
        y = fn(*tensors)
        y.backward(upstream)
        return y
    return run


def best_times(runners, repeats, warmup=1, clock=time.perf_counter):
    """Interleave the runners ``repeats`` times; the best time (s) of each."""
    for run in runners:
        for _ in range(warmup):
            run()
    best = [math.inf] * len(runners)
    for _ in range(repeats):
        for i, run in enumerate(runners):
            start = clock()
            run()
            best[i] = min(best[i], clock() - start)
    return best


def peak_memory(run):
    """Peak traced (Python + NumPy) memory during one call, in bytes."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def geometric_mean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch / 4, 3 repeats (a smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 10)")
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and torch (default: NumPy's own count)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: elapsed time; cpu: CPU time of this thread (needs --threads 1)")
    args = parser.parse_args(argv)

    import torch

    threads = numpy_threads()
    if args.threads is not None and threads != args.threads:
        raise SystemExit(f"NumPy's BLAS has {threads} threads, not --threads {args.threads}: run this file as "
                         "a script (the thread count must be set before NumPy loads)")
    if args.clock == "cpu" and threads != 1:
        raise SystemExit("--clock cpu measures one thread's CPU time: use it with --threads 1")
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(threads)
    repeats = args.repeats or (3 if args.quick else 10)
    scale = 4 if args.quick else 1
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()}

    print("minicnn vs torch, forward + backward, float32, CPU")
    print(f"date {datetime.date.today()}  cpu {cpu_model()}  cores {os.cpu_count()}  "
          f"threads numpy={threads} torch={torch.get_num_threads()}")
    print(f"python {platform.python_version()}  numpy {np.__version__}  torch {torch.__version__}  "
          f"repeats {repeats} (best of), clock {args.clock}{'  QUICK: batch / 4' if args.quick else ''}")
    print()
    header = f"{'case':<10} {'description':<62} {'torch ms':>9} {'minicnn ms':>11} {'ratio':>6} {'peak MB':>8}"
    print(header)
    print("-" * len(header))

    ratios = {}
    rng = np.random.default_rng(0)
    for group, name, description, build in CASES:
        if wanted and name not in wanted:
            continue
        built = build(rng, scale, torch)
        if built is None:
            print(f"{name:<10} {description:<62} {'(not available in minicnn yet)':>37}")
            continue
        arrays, mc_fn, torch_fn = built
        description = description.format(n=arrays[0].shape[0])
        mc_tensors = [minicnn.tensor(a, requires_grad=True) for a in arrays]
        torch_tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        with minicnn.no_grad():
            out_shape = mc_fn(*mc_tensors).shape
        upstream = rng.standard_normal(out_shape).astype(np.float32)
        mc_run = make_runner(mc_fn, mc_tensors, upstream)
        torch_run = make_runner(torch_fn, torch_tensors, torch.tensor(upstream))
        t_torch, t_mc = best_times([torch_run, mc_run], repeats, clock=clock)
        peak = peak_memory(mc_run)
        ratio = t_mc / t_torch
        ratios.setdefault(group, []).append(ratio)
        print(f"{name:<10} {description:<62} {t_torch * 1e3:9.2f} {t_mc * 1e3:11.2f} {ratio:6.2f} "
              f"{peak / 2**20:8.1f}")

    print()
    for group, values in ratios.items():
        print(f"geometric mean of minicnn/torch, {group:<13}: {geometric_mean(values):.2f}  "
              f"({len(values)} cases)")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"process peak RSS (both libraries): {maxrss:.0f} MB")
    return ratios


if __name__ == "__main__":
    main()
