"""Time and measure ONE training step of an attention U-Net: minicnn against PyTorch on the CPU.

    python benchmarks/bench_unet_step.py             # the full run (3-5 minutes on 2 quiet cores)
    python benchmarks/bench_unet_step.py --quick     # a smoke run: batch 2, 64x64, 3 steps
    python benchmarks/bench_unet_step.py --only time,profile --steps 9
    python benchmarks/bench_unet_step.py --threads 1 --clock cpu   # robust on a busy machine

The network is the demo's kind of attention U-Net (``minicnn demo``), larger:
``UNet(in_channels=1, num_classes=2, base_channels=16, depth=4, padding="same",
batch_norm=True, upsampling="transpose", attention_gates=True)`` (2.0 M
parameters), a batch of 8 grey 128x128 images with a random 2-class mask,
cross-entropy loss and an Adam step (lr 1e-3). One step is

    optimizer.zero_grad(); loss = cross_entropy(model(x), target); loss.backward(); optimizer.step()

The PyTorch twin is ``tests/reference_models.TorchUNet`` (the same modules in
the same order, so the same ``state_dict`` keys); it is loaded with minicnn's
initial weights, and the first step's losses are printed side by side (they
agree to float32 rounding).

Sections (``--only`` picks some):

* ``time``: both frameworks in this process, with the same number of threads
  (torch.set_num_threads(n), n = the threads of NumPy's OpenBLAS, or ``--threads``);
  steps are interleaved (minicnn, torch, then torch, minicnn, ...) so that a
  change of load on a shared machine hits both, with a 0.3 s pause before each
  (the other library's idle threads stop spinning); after ``--warmup`` steps
  the median, minimum and quartiles of ``--steps`` steps are reported, with the
  process's CPU time split into user and system time (system time is mostly
  the kernel providing fresh pages for new large arrays).
  ``--clock cpu`` (with ``--threads 1``) times the CPU time of the one thread
  that does all the work, which the load of other programs does not inflate.
* ``memory``: every framework in a fresh subprocess, two ways:
  1. resident memory (both frameworks, the same method): the baseline is VmRSS
     after the model, optimiser and data are built; the peak is VmHWM (the
     high-water mark, reset through /proc/self/clear_refs) over ``--memory-steps``
     steps, so it includes the gradients, Adam's moments, the allocators' caches
     and, for torch, the code and kernel caches its first step loads;
  2. allocator level, one step after the warm-up steps, gradients already set
     to None: minicnn's peak of ``tracemalloc`` (NumPy reports every array buffer
     to it) above the start; torch's largest "Total Allocated" of the profiler's
     memory events (``profile_memory=True``): the bytes allocated during the
     step and not yet freed. Both count only the step's own memory.
  Then what minicnn's graph keeps for the backward, per Function and attribute.
* ``profile``: where minicnn's step spends its time: a timer around every
  ``Function.forward`` / ``backward`` by class name (exclusive: time spent in a
  nested timed call is not counted twice), around the helpers of the convolution
  kernels (im2col, col2im, pad2d, channels_first, ...), the optimiser and the
  rest (module calls, autograd bookkeeping); then the top of ``cProfile``.
* ``layers``: every distinct convolution of the network (shapes recorded from
  one forward), forward + backward alone in minicnn and torch (best of
  ``--layer-repeats``), beside the time of the GEMMs an im2col convolution
  cannot avoid (the same matrix products on ready-made matrices): what is
  above the GEMMs is copying and layout work.

The results are recorded in benchmarks/RESULTS_unet_step.md.
"""
import argparse
import cProfile
import ctypes
import gc
import glob
import json
import math
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict


from _threads import set_threads_before_numpy_loads  # noqa: E402  (no numpy import inside)

if __name__ == "__main__":
    set_threads_before_numpy_loads(sys.argv[1:])

import numpy as np  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import minicnn  # noqa: E402
import minicnn.functional as F  # noqa: E402
from minicnn.autograd import Function  # noqa: E402
from minicnn.models import UNet  # noqa: E402
from minicnn.optim import Adam  # noqa: E402

LR = 1e-3
SETTLE_S = 0.3   # pause before each timed step, so that the other library's idle threads stop spinning
CLOCK = time.perf_counter   # --clock cpu: time.thread_time (CPU time of this thread; needs --threads 1)


# ----------------------------------------------------------------------------------- setup
def numpy_threads():
    """Threads of NumPy's OpenBLAS (asked from the library itself), else the environment or CPU count."""
    for lib in glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*openblas*")):
        try:
            so = ctypes.CDLL(lib)
        except OSError:
            continue
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(so, name):
                return int(getattr(so, name)())
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return int(os.environ[var])
    return os.cpu_count() or 1


def unet_options(args):
    return dict(in_channels=1, num_classes=2, base_channels=args.base, depth=args.depth, padding="same",
                batch_norm=True, upsampling="transpose", attention_gates=True)


def make_data(args):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, 1, args.size, args.size)).astype(np.float32)
    target = rng.integers(0, 2, size=(args.batch, args.size, args.size)).astype(np.int64)
    return x, target


def build_minicnn(args):
    """The model (seeded), its Adam optimiser and a ``step()`` returning the loss as a float."""
    minicnn.manual_seed(0)
    model = UNet(**unet_options(args))
    model.train()
    optimizer = Adam(model.parameters(), lr=LR)
    x, target = make_data(args)
    x, target = minicnn.tensor(x), minicnn.tensor(target)

    def step():
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return model, optimizer, step


def build_torch(args, state_dict):
    """The torch twin with minicnn's weights (``state_dict`` of raw arrays), Adam and ``step()``."""
    import torch
    import reference_models as R

    model = R.TorchUNet(**unet_options(args))
    own = model.state_dict()
    if set(own) != set(state_dict):
        raise RuntimeError(f"state_dict keys differ: minicnn only {sorted(set(state_dict) - set(own))}, "
                           f"torch only {sorted(set(own) - set(state_dict))}")
    model.load_state_dict({k: torch.tensor(np.array(v)).to(own[k].dtype) for k, v in state_dict.items()},
                          strict=True)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    x, target = make_data(args)
    x, target = torch.from_numpy(x), torch.from_numpy(target)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), target)
        loss.backward()
        optimizer.step()
        return float(loss.item())

    return model, optimizer, step


def load_average():
    try:
        return tuple(round(v, 2) for v in os.getloadavg())
    except OSError:
        return None


# ----------------------------------------------------------------------------------- time
def summary(values):
    values = sorted(values)
    q1, q3 = np.percentile(values, [25, 75]) if len(values) > 1 else (values[0], values[0])
    return dict(median=statistics.median(values), min=values[0], max=values[-1], q1=float(q1), q3=float(q3),
                n=len(values))


def time_steps(args):
    mc_model, _, mc_step = build_minicnn(args)
    _, _, th_step = build_torch(args, mc_model.state_dict())
    runs = {"minicnn": mc_step, "torch": th_step}
    wall, cpu, losses = defaultdict(list), defaultdict(list), defaultdict(list)
    user, system = defaultdict(list), defaultdict(list)
    load_before = load_average()
    for i in range(args.warmup + args.steps):
        order = ("minicnn", "torch") if i % 2 == 0 else ("torch", "minicnn")
        for name in order:
            gc.collect()
            time.sleep(SETTLE_S)
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            w0 = CLOCK()
            loss = runs[name]()
            w1 = CLOCK()
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            losses[name].append(loss)
            if i >= args.warmup:
                wall[name].append(w1 - w0)
                user[name].append(r1.ru_utime - r0.ru_utime)
                system[name].append(r1.ru_stime - r0.ru_stime)
                cpu[name].append(user[name][-1] + system[name][-1])
        print(f"  step {i + 1:2d}{' (warm-up)' if i < args.warmup else '          '}  "
              f"minicnn {wall['minicnn'][-1] if i >= args.warmup else float('nan'):7.3f} s   "
              f"torch {wall['torch'][-1] if i >= args.warmup else float('nan'):7.3f} s   "
              f"losses {losses['minicnn'][-1]:.6f} / {losses['torch'][-1]:.6f}", flush=True)
    first = losses["minicnn"][0], losses["torch"][0]
    return dict(wall={k: summary(v) for k, v in wall.items()}, cpu={k: summary(v) for k, v in cpu.items()},
                user={k: summary(v) for k, v in user.items()}, system={k: summary(v) for k, v in system.items()},
                first_losses=first, load_before=load_before, load_after=load_average())


def report_time(result):
    w, c = result["wall"], result["cpu"]
    m, t = w["minicnn"], w["torch"]
    lm, lt = result["first_losses"]
    print(f"\nfirst-step loss: minicnn {lm:.7f}, torch {lt:.7f} (relative difference "
          f"{abs(lm - lt) / abs(lt):.1e})")
    print(f"load average before {result['load_before']}, after {result['load_after']}")
    clock = "CPU time of the main thread" if CLOCK is time.thread_time else "wall"
    u, k = result["user"], result["system"]
    print(f"\n| framework | median s/step ({clock}) | min | IQR | process CPU s/step, median (user, sys) |")
    print("|---|---|---|---|---|")
    for name in ("minicnn", "torch"):
        s = w[name]
        print(f"| {name} | {s['median']:.3f} | {s['min']:.3f} | {s['q1']:.3f}-{s['q3']:.3f} | "
              f"{c[name]['median']:.3f} ({u[name]['median']:.3f}, {k[name]['median']:.3f}) |")
    cpu_ratio = c["minicnn"]["median"] / c["torch"]["median"]
    user_ratio = u["minicnn"]["median"] / u["torch"]["median"]
    print(f"| **ratio minicnn/torch** | **{m['median'] / t['median']:.2f}** | {m['min'] / t['min']:.2f} | | "
          f"{cpu_ratio:.2f} (user {user_ratio:.2f}) |")


# ----------------------------------------------------------------------------------- memory
def _proc_status_kib(*keys):
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                out[key] = int(value.split()[0])
    return out


def _reset_peak_rss():
    """Reset VmHWM to the current VmRSS (Linux >= 4.0); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def memory_child(args, name):
    """Run in a fresh process: the resident and allocator-level peaks of ``name``'s step (JSON on stdout)."""
    if name == "torch":
        import torch
        torch.set_num_threads(args.threads)
        mc_model, _, _ = build_minicnn(args)
        state = {k: np.array(v) for k, v in mc_model.state_dict().items()}
        del mc_model
        model, optimizer, step = build_torch(args, state)
        del state
    else:
        model, optimizer, step = build_minicnn(args)
    gc.collect()
    reset = _reset_peak_rss()
    base = _proc_status_kib("VmRSS")["VmRSS"]
    for _ in range(args.memory_steps):
        step()
    status = _proc_status_kib("VmRSS", "VmHWM")
    rss_peak = (status["VmHWM"] - base) * 1024 if reset else None

    # allocator level: one more step, the gradients dropped first
    optimizer.zero_grad()
    gc.collect()
    if name == "torch":
        from torch.profiler import ProfilerActivity, profile
        with tempfile.TemporaryDirectory() as tmp:
            with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
                step()
            path = os.path.join(tmp, "trace.json")
            prof.export_chrome_trace(path)
            with open(path) as f:
                trace = json.load(f)
        events = trace["traceEvents"] if isinstance(trace, dict) else trace
        totals = [e["args"]["Total Allocated"] for e in events
                  if e.get("name") == "[memory]" and e.get("args", {}).get("Device Type", 0) == 0]
        alloc_peak = max(totals) if totals else None
    else:
        tracemalloc.start()
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        step()
        alloc_peak = tracemalloc.get_traced_memory()[1] - start
        tracemalloc.stop()
    params = sum(int(np.prod(p.shape)) for p in model.parameters()) * 4
    print(json.dumps(dict(rss_peak=rss_peak, alloc_peak=alloc_peak, rss_base=base * 1024, params=params)))


def run_memory(args):
    results = {}
    for name in ("minicnn", "torch"):
        runs = []
        for _ in range(args.memory_repeats):
            cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", name, "--threads", str(args.threads),
                   "--batch", str(args.batch), "--size", str(args.size), "--base", str(args.base),
                   "--depth", str(args.depth), "--memory-steps", str(args.memory_steps)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        results[name] = dict(
            rss_peak=statistics.median([r["rss_peak"] for r in runs]) if runs[0]["rss_peak"] is not None else None,
            rss_runs=[r["rss_peak"] for r in runs],
            alloc_peak=statistics.median([r["alloc_peak"] for r in runs]),
            alloc_runs=[r["alloc_peak"] for r in runs],
            rss_base=statistics.median([r["rss_base"] for r in runs]), params=runs[0]["params"])
        print(f"  {name}: resident peak {[round(v / 2 ** 20) for v in results[name]['rss_runs']]} MiB, "
              f"allocator peak {[round(v / 2 ** 20) for v in results[name]['alloc_runs']]} MiB", flush=True)
    return results


def report_memory(result):
    mib = 2 ** 20
    m, t = result["minicnn"], result["torch"]
    print(f"\nparameters: {m['params'] / mib:.1f} MiB (float32)")
    print("\n| framework | resident peak above baseline (MiB) | allocator peak of one step (MiB) |")
    print("|---|---|---|")
    for name, r in (("minicnn", m), ("torch", t)):
        print(f"| {name} | {r['rss_peak'] / mib:.0f} | {r['alloc_peak'] / mib:.0f} |")
    print(f"| **ratio minicnn/torch** | **{m['rss_peak'] / t['rss_peak']:.2f}** | "
          f"**{m['alloc_peak'] / t['alloc_peak']:.2f}** |")


def saved_for_backward(args):
    """What minicnn's graph keeps for the backward after one forward: MiB per Function class and attribute
    (arrays that share memory are counted once, at their base array)."""
    from minicnn.autograd import topological_order

    model, _, _ = build_minicnn(args)
    x, target = make_data(args)
    loss = F.cross_entropy(model(minicnn.tensor(x)), minicnn.tensor(target))
    seen, sizes, counts = set(), defaultdict(int), defaultdict(int)
    for node in topological_order(loss.grad_fn):
        if not isinstance(node, Function):
            continue
        for attr, value in vars(node).items():
            if isinstance(value, np.ndarray):
                base = value
                while isinstance(base.base, np.ndarray):
                    base = base.base
                if id(base) in seen:
                    continue
                seen.add(id(base))
                sizes[f"{type(node).__name__}.{attr}"] += base.nbytes
                counts[f"{type(node).__name__}.{attr}"] += 1
    total = sum(sizes.values())
    print(f"\nminicnn: arrays kept for the backward after the forward: {total / 2 ** 20:.0f} MiB")
    print("\n| saved by (Function.attribute) | arrays | MiB |")
    print("|---|---|---|")
    for key, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        if size >= 2 ** 19:
            print(f"| {key} | {counts[key]} | {size / 2 ** 20:.1f} |")


# ----------------------------------------------------------------------------------- profile
class ExclusiveTimer:
    """Accumulates time per label; time spent in a nested timed call is charged to the inner label only."""

    def __init__(self):
        self.total = defaultdict(float)
        self.calls = defaultdict(int)
        self._stack = []

    def wrap(self, label_of, fn):
        timer = self

        def timed(*args, **kwargs):
            label = label_of(args)
            timer._stack.append(0.0)
            start = CLOCK()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = CLOCK() - start
                nested = timer._stack.pop()
                timer.total[label] += elapsed - nested
                timer.calls[label] += 1
                if timer._stack:
                    timer._stack[-1] += elapsed
        timed.__wrapped__ = fn
        return timed


def _all_functions(cls=Function):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_functions(sub)


def instrument(timer):
    """Wrap every Function's forward/backward and the convolution helpers; returns an undo function."""
    import minicnn.ops.conv as conv_mod
    import minicnn.ops.conv_kernels as kernels_mod
    import minicnn.ops.conv_performance as performance_mod
    import minicnn.ops.conv_transpose as convt_mod
    import minicnn.ops.im2col as im2col_mod

    undo = []
    for cls in set(_all_functions()):
        for phase in ("forward", "backward"):
            if phase in cls.__dict__:
                original = cls.__dict__[phase]
                wrapped = timer.wrap(lambda a, p=phase: f"{type(a[0]).__name__}.{p}", original)
                setattr(cls, phase, wrapped)
                undo.append((cls, phase, original))
    helpers = ("im2col", "image_columns", "col2im", "pad2d", "crop2d", "channels_first", "flip_weight",
               "conv2d_forward_kernel", "conv2d_grad_weight_kernel", "conv2d_input_grad")
    for module in (conv_mod, kernels_mod, performance_mod, convt_mod, im2col_mod):
        for name in helpers:
            if hasattr(module, name) and callable(getattr(module, name)):
                original = getattr(module, name)
                setattr(module, name, timer.wrap(lambda a, n=name: f"  conv helper: {n}", original))
                undo.append((module, name, original))

    def restore():
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)
    return restore


def profile_step(args):
    model, optimizer, step = build_minicnn(args)
    for _ in range(args.warmup):
        step()
    x, target = make_data(args)
    x, target = minicnn.tensor(x), minicnn.tensor(target)
    timer = ExclusiveTimer()
    phases = defaultdict(float)
    restore = instrument(timer)
    try:
        for _ in range(args.profile_steps):
            gc.collect()
            t0 = CLOCK()
            optimizer.zero_grad()
            t1 = CLOCK()
            loss = F.cross_entropy(model(x), target)
            t2 = CLOCK()
            loss.backward()
            t3 = CLOCK()
            optimizer.step()
            t4 = CLOCK()
            for key, a, b in (("zero_grad", t0, t1), ("forward", t1, t2), ("backward", t2, t3),
                              ("optimizer.step", t3, t4)):
                phases[key] += b - a
    finally:
        restore()
    n = args.profile_steps
    total = sum(phases.values()) / n
    print(f"\nminicnn step, mean of {n} instrumented steps: {total:.3f} s "
          f"(zero_grad {phases['zero_grad'] / n:.3f}, forward {phases['forward'] / n:.3f}, "
          f"backward {phases['backward'] / n:.3f}, optimizer.step {phases['optimizer.step'] / n:.3f})")
    print("\n| op (exclusive time) | calls/step | s/step | % of step |")
    print("|---|---|---|---|")
    rows = sorted(timer.total.items(), key=lambda kv: -kv[1])
    timed = sum(timer.total.values()) / n
    for label, seconds in rows:
        s = seconds / n
        if s < 0.002 * total:
            continue
        print(f"| {label.strip()} | {timer.calls[label] // n} | {s:.3f} | {100 * s / total:.1f} |")
    rest = total - timed - phases["optimizer.step"] / n - phases["zero_grad"] / n
    print(f"| optimizer.step (Adam) | 1 | {phases['optimizer.step'] / n:.3f} | "
          f"{100 * phases['optimizer.step'] / n / total:.1f} |")
    print(f"| rest (modules, autograd engine, argument checks) | | {rest:.3f} | {100 * rest / total:.1f} |")
    conv = sum(v for k, v in timer.total.items() if "Conv" in k or "conv helper" in k) / n
    print(f"\nconvolutions (Conv2d, ConvTranspose2d and their helpers): {conv:.3f} s/step = "
          f"{100 * conv / total:.0f}% of the step")

    # cProfile: the same step, function by function
    profiler = cProfile.Profile()
    gc.collect()
    profiler.enable()
    step()
    profiler.disable()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime")
    print("\ncProfile of one step, top 15 by own time (operators such as `@` are charged to the caller):")
    print("\n| own s | calls | function |")
    print("|---|---|---|")
    entries = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:15]
    for (filename, line, func), (cc, nc, tt, ct, callers) in entries:
        where = func if filename == "~" else f"{os.path.relpath(filename, ROOT)}:{line}({func})"
        print(f"| {tt:.3f} | {nc} | `{where}` |")


# ----------------------------------------------------------------------------------- layers
def record_convolutions(args):
    """The distinct convolutions of one forward: {(kind, x shape, w shape, stride, padding): count}."""
    import minicnn.ops.conv as conv_mod
    import minicnn.ops.conv_transpose as convt_mod

    seen = defaultdict(int)
    originals = (conv_mod.Conv2d.forward, convt_mod.ConvTranspose2d.forward)

    def spy_conv(self, x, weight, bias, stride, padding, dilation, groups):
        seen[("conv2d", x.shape, weight.shape, tuple(stride), tuple(padding)[::2])] += 1
        return originals[0](self, x, weight, bias, stride, padding, dilation, groups)

    def spy_convt(self, x, weight, bias, stride, padding, dilation, groups, out_size):
        seen[("conv_transpose2d", x.shape, weight.shape, tuple(stride), tuple(padding)[::2])] += 1
        return originals[1](self, x, weight, bias, stride, padding, dilation, groups, out_size)

    conv_mod.Conv2d.forward, convt_mod.ConvTranspose2d.forward = spy_conv, spy_convt
    try:
        model = UNet(**unet_options(args))
        x, _ = make_data(args)
        with minicnn.no_grad():
            model(minicnn.tensor(x))
    finally:
        conv_mod.Conv2d.forward, convt_mod.ConvTranspose2d.forward = originals
    return seen


def gemm_time(shapes, repeats):
    """Best time of the matrix products ``(m, k) @ (k, n)`` listed in ``shapes`` (fresh float32 matrices)."""
    rng = np.random.default_rng(1)
    mats = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32))
            for m, k, n in shapes]
    best = math.inf
    time.sleep(SETTLE_S)
    for _ in range(repeats):
        start = CLOCK()
        for a, b in mats:
            a @ b
        best = min(best, CLOCK() - start)
    return best


def layer_table(args, torch):
    convs = record_convolutions(args)
    rng = np.random.default_rng(2)
    rows = []
    for (kind, xs, ws, stride, padding), count in sorted(convs.items(), key=lambda kv: -np.prod(kv[0][1])):
        x = rng.standard_normal(xs).astype(np.float32)
        w = (rng.standard_normal(ws) * 0.1).astype(np.float32)
        b = rng.standard_normal(ws[1] if kind == "conv_transpose2d" else ws[0]).astype(np.float32)
        if kind == "conv2d":
            mc_fn = lambda x, w, b: F.conv2d(x, w, b, stride, padding)  # noqa: E731
            th_fn = lambda x, w, b: torch.nn.functional.conv2d(x, w, b, stride, padding)  # noqa: E731
            n, c, h, wd = xs
            f, _, kh, kw = ws
            ho, wo = (h + 2 * padding[0] - kh) // stride[0] + 1, (wd + 2 * padding[1] - kw) // stride[1] + 1
            p = n * ho * wo
            # forward W (f, c k k) @ cols (c k k, p); weight grad G (f, p) @ cols^T (p, c k k);
            # input grad (full convolution, stride 1 and f <= c) W' (c, f k k) @ cols' (f k k, n h w),
            # or (col2im) W^T (c k k, f) @ G (f, p)
            gemms = [(f, c * kh * kw, p), (f, p, c * kh * kw)]
            gemms.append((c, f * kh * kw, n * h * wd) if stride == (1, 1) and f <= c else (c * kh * kw, f, p))
            label = f"conv {kh}x{kw} s{stride[0]} {c}->{f}, {h}x{wd}"
        else:
            mc_fn = lambda x, w, b: F.conv_transpose2d(x, w, b, stride)  # noqa: E731
            th_fn = lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, stride)  # noqa: E731
            n, c, h, wd = xs
            _, f, kh, kw = ws
            p = n * h * wd
            # forward W^T (f k k, c) @ X (c, p); input grad W (c, f k k) @ cols(G) (f k k, p);
            # weight grad X (c, p) @ cols(G)^T (p, f k k)
            gemms = [(f * kh * kw, c, p), (c, f * kh * kw, p), (c, p, f * kh * kw)]
            label = f"up-conv {kh}x{kw} s{stride[0]} {c}->{f}, {h}x{wd}"
        y_shape = tuple(mc_fn(minicnn.tensor(x), minicnn.tensor(w), minicnn.tensor(b)).shape)
        g = rng.standard_normal(y_shape).astype(np.float32)
        mc = [minicnn.tensor(a, requires_grad=True) for a in (x, w, b)]
        th = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        gm, gt = minicnn.tensor(g), torch.from_numpy(g)

        def run_mc():
            for t in mc:
                t.grad = None
            mc_fn(*mc).backward(gm)

        def run_th():
            for t in th:
                t.grad = None
            th_fn(*th).backward(gt)

        best = {"mc": math.inf, "th": math.inf}
        run_mc(), run_th()
        for _ in range(args.layer_repeats):
            for key, run in (("mc", run_mc), ("th", run_th)):
                time.sleep(SETTLE_S / 3)
                start = CLOCK()
                run()
                best[key] = min(best[key], CLOCK() - start)
        gemm = gemm_time(gemms, args.layer_repeats)
        rows.append((label, count, best["mc"], best["th"], gemm))
        print(f"  {label}: x{count}  minicnn {1e3 * best['mc']:.1f} ms  torch {1e3 * best['th']:.1f} ms  "
              f"GEMMs {1e3 * gemm:.1f} ms", flush=True)
    print("\n| convolution (N = %d) | count | minicnn ms | torch ms | ratio | GEMMs alone ms | "
          "minicnn - GEMMs ms |" % args.batch)
    print("|---|---|---|---|---|---|---|")
    tot = np.zeros(3)
    for label, count, mc, th, gemm in rows:
        print(f"| {label} | {count} | {1e3 * mc:.1f} | {1e3 * th:.1f} | {mc / th:.2f} | {1e3 * gemm:.1f} | "
              f"{1e3 * (mc - gemm):.1f} |")
        tot += count * np.array([mc, th, gemm])
    print(f"| **all convolutions of one step** | | **{1e3 * tot[0]:.0f}** | **{1e3 * tot[1]:.0f}** | "
          f"**{tot[0] / tot[1]:.2f}** | {1e3 * tot[2]:.0f} | {1e3 * (tot[0] - tot[2]):.0f} |")


# ----------------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="batch 2, 64x64, 3 steps (a smoke run)")
    parser.add_argument("--only", default="time,memory,profile,layers",
                        help="comma-separated sections: time, memory, profile, layers")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--base", type=int, default=16, help="base width (channels of level 0)")
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--steps", type=int, default=7, help="timed steps per framework")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and torch (default: NumPy's own count)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall: elapsed time (default); cpu: CPU time of this thread (needs --threads 1), "
                             "which the load of other programs does not inflate")
    parser.add_argument("--memory-steps", type=int, default=3)
    parser.add_argument("--memory-repeats", type=int, default=2, help="fresh processes per framework")
    parser.add_argument("--profile-steps", type=int, default=2)
    parser.add_argument("--layer-repeats", type=int, default=5)
    parser.add_argument("--memory-child", choices=("minicnn", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.size, args.steps, args.warmup = 2, 64, 3, 1
        args.memory_repeats, args.layer_repeats, args.profile_steps = 1, 2, 1
    if args.threads is None:
        args.threads = numpy_threads()
    if args.clock == "cpu":
        if args.threads != 1:
            parser.error("--clock cpu needs --threads 1 (the CPU time of one thread)")
        global CLOCK
        CLOCK = time.thread_time
    if args.memory_child:
        memory_child(args, args.memory_child)
        return 0

    import torch
    torch.set_num_threads(args.threads)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    mc_model = UNet(**unet_options(args))
    n_params = sum(int(np.prod(p.shape)) for p in mc_model.parameters())
    del mc_model
    print(f"attention U-Net {unet_options(args)}: {n_params:,} parameters")
    print(f"batch {args.batch} x 1 x {args.size} x {args.size}, cross-entropy, Adam; threads: NumPy BLAS "
          f"{numpy_threads()}, torch {torch.get_num_threads()}; torch {torch.__version__}, "
          f"NumPy {np.__version__}; clock {args.clock}; load average {load_average()}")
    if "time" in sections:
        print(f"\n== time: {args.warmup} warm-up + {args.steps} timed steps each, interleaved", flush=True)
        report_time(time_steps(args))
    if "memory" in sections:
        print(f"\n== memory: fresh process per framework, {args.memory_repeats} each", flush=True)
        report_memory(run_memory(args))
        saved_for_backward(args)
    if "profile" in sections:
        print("\n== profile of minicnn's step", flush=True)
        profile_step(args)
    if "layers" in sections:
        print(f"\n== convolutions one by one (forward + backward, best of {args.layer_repeats})", flush=True)
        layer_table(args, torch)
    print(f"\nload average at the end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
