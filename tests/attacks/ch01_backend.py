"""Attacks on the grader (tests/test_grader_attacks.py): each exercise's function tries one trick."""
import importlib
import os


def softmax_kernel(x, axis=-1):
    """1.1: forge "passed" events in the results file named in the environment, then os._exit(0)."""
    path = os.environ.get("MINICNN_RESULTS", "results.jsonl")
    with open(path, "a") as f:
        f.write('{"event": "report", "nodeid": "x", "when": "call", "outcome": "passed", "message": ""}\n')
    os._exit(0)


def one_hot(labels, num_classes, dtype="float32"):
    """1.2: call minicnn's own one-hot, reached by a name the static check cannot see."""
    losses = importlib.import_module("minicnn.ops." + "losses")
    return getattr(losses, "_one" + "_hot")(labels, num_classes, dtype)
