"""minicnn on CuPy against torch on CUDA, on the same GPU, in the same process (issue 7).

    python benchmarks/bench_gpu.py            # needs CuPy, a CUDA build of torch and an NVIDIA GPU
    python benchmarks/bench_gpu.py --repeats 50

Runs the convolution suite of ``bench_layers.py`` (forward + backward, float32)
with minicnn's tensors on CuPy (``minicnn.set_backend("cupy")``) and torch's on
``cuda``. GPU calls are asynchronous, so every timed call ends with a device
synchronisation of its own library (``cupy.cuda.Device().synchronize()``,
``torch.cuda.synchronize()``); both sides get warm-up runs (CuPy compiles its
kernels on first use) and the median of the repeats is reported, with the ratio
minicnn / torch and the geometric mean. Goal: at most 3x torch.

On a machine without a GPU it says so and exits 0, so it can sit in any checkout.
"""
import argparse
import math
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import minicnn  # noqa: E402
from minicnn.backend import cupy_available  # noqa: E402


def median_time(run, sync, repeats, warmup=3):
    for _ in range(warmup):
        run()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("torch is not installed; nothing to compare with.")
        return 0
    if not (cupy_available() and torch.cuda.is_available()):
        print("No GPU here (CuPy and torch.cuda are both needed): nothing to measure.")
        return 0
    import cupy
    from bench_layers import CASES

    minicnn.set_backend("cupy")
    rng = np.random.default_rng(0)
    print(f"device: {torch.cuda.get_device_name()}  cupy {cupy.__version__}  torch {torch.__version__}  "
          f"numpy {np.__version__}")
    print(f"{'case':<10} {'torch ms':>9} {'minicnn ms':>11} {'ratio':>7}")
    ratios = []
    for group, name, _, build in CASES:
        if group != "convolutions":
            continue
        arrays, mc_fn, torch_fn = build(rng, 1, torch)
        mc_inputs = [minicnn.tensor(a, requires_grad=True) for a in arrays]
        th_inputs = [torch.tensor(a, device="cuda", requires_grad=True) for a in arrays]
        mc_grad = cupy.asarray(rng.standard_normal(mc_fn(*mc_inputs).shape).astype(np.float32))
        th_grad = torch.as_tensor(cupy.asnumpy(mc_grad), device="cuda")

        def run_mc():
            for t in mc_inputs:
                t.grad = None
            mc_fn(*mc_inputs).backward(mc_grad)

        def run_torch():
            for t in th_inputs:
                t.grad = None
            torch_fn(*th_inputs).backward(th_grad)

        t_mc = median_time(run_mc, cupy.cuda.Device().synchronize, args.repeats)
        t_th = median_time(run_torch, torch.cuda.synchronize, args.repeats)
        ratios.append(t_mc / t_th)
        print(f"{name:<10} {t_th * 1e3:>9.2f} {t_mc * 1e3:>11.2f} {t_mc / t_th:>7.2f}")
    print(f"geometric mean minicnn/torch: {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
