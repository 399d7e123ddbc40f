"""Shortcut rules: what an exercise's code must not call, checked statically and at run time.

An exercise asks the student to *write* something minicnn already has
(im2col, the SE module, the confusion matrix...). Calling minicnn's own
version, PyTorch, or the instructor's ``solutions/`` would pass the tests
without doing the exercise, so:

* :data:`FORBIDDEN` names, per exercise, minicnn's objects of the same
  concept (by their ``__name__``: found wherever the package defines or
  re-exports them, so moving code between files does not open a hole);
* :func:`install_guards` (in the worker, before the submission is imported)
  replaces every reference to those objects in minicnn's modules by a function
  that raises :class:`ShortcutError`; the judge computes its references in its
  own process, so the guards never touch them;
* :func:`static_check` reads the submission's source (never runs it) and
  reports imports of forbidden names, attribute chains such as
  ``F.conv2d`` or ``minicnn.ops.im2col.im2col`` on a name bound to a minicnn
  import, imports of ``solutions`` and of other frameworks.

What this does not stop is listed in docs/instructor.md ("What the grader
stops, and what it does not").
"""
from __future__ import annotations

import ast
import sys
import types


class ShortcutError(Exception):
    """The submission called something the exercise asks it to write."""


#: Modules no exercise may import (whole frameworks, or the instructor's solutions).
FORBIDDEN_MODULES = ("torch", "tensorflow", "jax", "keras", "cupyx.scipy", "solutions", "sklearn")

_SOFTMAX = {"softmax", "log_softmax", "Softmax", "LogSoftmax"}
_CONV = {"conv2d", "Conv2d", "conv2d_naive", "conv2d_forward_kernel", "conv2d_forward_chunked",
         "conv2d_columns", "conv2d_input_grad", "conv2d_grad_weight", "conv2d_grad_weight_kernel"}
_MAXPOOL = {"max_pool2d", "MaxPool2d", "max_pool2d_naive", "max_pool2d_backward_naive"}
_AVGPOOL = {"avg_pool2d", "AvgPool2d", "avg_pool2d_naive", "avg_pool2d_backward_naive"}
_BATCHNORM = {"batch_norm", "BatchNorm", "BatchNorm1d", "BatchNorm2d", "batch_norm_naive",
              "batch_norm_backward_naive"}
_SE = {"SE", "SEVar1", "SEVar2", "SEVar3", "_ChannelGate"}
_CBAM = {"CBAM", "CBAMChannelAttention", "CBAMSpatialAttention", "ChannelAvgPool", "ChannelMaxPool"}
_METRICS = {"confusion_matrix", "scores_from_confusion_matrix", "segmentation_scores"}

#: exercise id -> names of minicnn objects its code must not use.
FORBIDDEN = {
    "1.1": _SOFTMAX, "1.2": {"one_hot", "_one_hot"},
    "2.1": {"unbroadcast"}, "2.2": {"Mul", "mul"}, "2.3": {"Div", "div"}, "2.4": {"Exp", "exp"},
    "2.5": {"Sum", "sum"}, "2.6": {"MatMul", "matmul", "bmm"}, "2.7": {"relative_error"},
    "2.8": {"numerical_gradient", "gradcheck"},
    "3.1": {"conv_output_size", "pool_output_size"}, "3.2": {"im2col"} | _CONV,
    "3.3": _CONV, "3.4": {"col2im"} | _CONV, "3.5": _CONV | {"col2im", "conv_transpose2d", "ConvTranspose2d"},
    "4.1": {"receptive_field", "receptive_fields"}, "4.2": {"dilate_kernel"},
    "4.3": {"conv_transpose2d", "ConvTranspose2d", "conv_transpose2d_naive"},
    "4.4": {"SeparableConv2d", "separable_conv2d"}, "4.5": {"AddCoords", "add_coords", "CoordConv2d"},
    "5.1": _MAXPOOL, "5.2": _MAXPOOL, "5.3": _AVGPOOL, "5.4": _AVGPOOL, "5.5": _BATCHNORM, "5.6": _BATCHNORM,
    "6.1": {"conv_geometries"}, "6.2": {"tie_free_arrays"},
    "7.1": _SE, "7.2": {"eca_kernel_size"}, "7.3": {"ECA", "eca_kernel_size"},
    "8.1": _CBAM, "8.2": _CBAM, "8.3": {"BAM", "BAMChannelAttention", "BAMSpatialAttention"},
    "9.1": {"GENoParams", "GEParams", "GEParamsPlus", "_GatherExcite"},
    "9.2": {"SK", "Fuse", "Select", "Split", "Branch"},
    "10.1": {"PAM", "DANet"}, "10.2": {"CAM", "DANet"},
    "11.1": {"AttentionGate"}, "11.2": {"unet_weight_map"}, "11.3": _METRICS, "11.4": _METRICS,
    "12.1": {"embedding_backward", "Embedding"},
    "13.1": {"ASPP", "DeepLabV3", "DeepLabV3Plus"},
    "13.2": {"adaptive_avg_pool2d", "AdaptiveAvgPool2d", "adaptive_avg_pool2d_naive", "PyramidPoolingModule",
             "PSPNet"},
    "13.3": {"max_unpool2d", "MaxUnpool2d", "max_unpool2d_naive"},
    "13.4": {"mc_dropout_predict", "mc_dropout_regression"},
}


def message(exercise_id: str, what: str) -> str:
    from minicnn.course import registry
    exercise = registry.get(exercise_id)
    return f"Exercise {exercise_id} asks you to write {exercise.title}; {what} is not allowed here"


# --------------------------------------------------------------------------- at run time (worker)
def _minicnn_modules():
    return [m for name, m in list(sys.modules.items())
            if isinstance(m, types.ModuleType) and (name == "minicnn" or name.startswith("minicnn."))
            and not name.startswith("minicnn.course")]


def _is_forbidden(value, names) -> bool:
    module = getattr(value, "__module__", None) or ""
    return (getattr(value, "__name__", None) in names and module.startswith("minicnn")
            and not module.startswith("minicnn.course") and callable(value))


def install_guards(exercise_id: str) -> int:
    """Replace every module-level reference to a forbidden minicnn object by a guard; returns how
    many references were replaced."""
    names = FORBIDDEN.get(exercise_id, set())
    replaced = 0
    for module in _minicnn_modules():
        namespace = vars(module)
        for attr, value in list(namespace.items()):
            if _is_forbidden(value, names):
                namespace[attr] = _guard(exercise_id, f"{module.__name__}.{attr}")
                replaced += 1
            elif type(value) is dict:                # registries of functions (name -> function)
                for key, item in list(value.items()):
                    if _is_forbidden(item, names):
                        value[key] = _guard(exercise_id, f"{module.__name__}.{attr}[{key!r}]")
                        replaced += 1
    return replaced


def _guard(exercise_id, where):
    text = message(exercise_id, f"minicnn's {where}")

    def guard(*args, **kwargs):
        raise ShortcutError(text)

    guard.__name__ = guard.__qualname__ = where.rsplit(".", 1)[-1]
    return guard


# --------------------------------------------------------------------------- before it runs (judge)
def static_check(source: str, exercise_id: str, filename: str = "<submission>") -> str | None:
    """The first shortcut the source of a submission shows for ``exercise_id``, or None.

    Reads the source only: names imported from minicnn, attribute chains on names bound to a
    minicnn import, imports of forbidden modules (a syntax error is left to the import itself).
    """
    try:
        tree = ast.parse(source, filename)
    except (SyntaxError, ValueError):
        return None
    names = FORBIDDEN.get(exercise_id, set())
    minicnn_names = set()               # local names bound to minicnn modules or objects
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _forbidden_module(alias.name):
                    return message(exercise_id, f"importing {alias.name}")
                if alias.name.split(".")[0] == "minicnn":
                    minicnn_names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if _forbidden_module(module) or (node.level and module.split(".")[0] == "solutions"):
                return message(exercise_id, f"importing from {module}")
            if module.split(".")[0] == "minicnn":
                for alias in node.names:
                    if alias.name in names:
                        return message(exercise_id, f"minicnn's {module}.{alias.name}")
                    minicnn_names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "solutions" in node.value \
                and ("/" in node.value or "." in node.value or node.value == "solutions"):
            return message(exercise_id, f"the instructor's solutions ({node.value!r})")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names and _root(node) in minicnn_names:
            return message(exercise_id, f"minicnn's {ast.unparse(node)}")
    return None


def _root(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _forbidden_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in FORBIDDEN_MODULES)
