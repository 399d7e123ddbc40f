"""One end of the pipe between the judge and a worker: proxies, mirrored tensors, callbacks.

Both processes run a :class:`Peer`. A request names an *action* on an object
of the other side (read an attribute, call, index, iterate, run a backward
pass) and waits for the reply; while it waits, the other side may send
requests of its own (a student's function calling back a function the test
passed in), which are served in turn. Only one side runs at a time.

* **Plain data** (numbers, strings, arrays, lists, dicts, ...) travels by value
  (:mod:`.wire`).
* **Tensors are mirrored.** Each side keeps its own :class:`~minicnn.tensor.Tensor`
  for a tensor the other side has seen, under a common key. Whenever control
  crosses the pipe, the sender includes the data, gradient and
  ``requires_grad`` of every mirrored tensor that changed since the last
  crossing, so that both copies agree whenever either side runs. A tensor
  whose graph lives on the other side gets a :class:`RemoteNode` as its
  ``grad_fn``: a backward pass that reaches it continues over there.
* **Everything else travels by reference** and appears as a :class:`Proxy`.

The judge gives the worker much less than the worker gives the judge: the
worker may only call the callables the judge handed it, read the public
attributes of modules (``nn.Module``), iterate and run backward passes
(:meth:`Peer._judge_allows`). It can never reach the judge's modules,
globals or files.
"""
from __future__ import annotations

import builtins
import hashlib
import itertools
import os
import select
import struct
import time
import traceback
import weakref

import numpy as np

from . import wire

_MISSING = object()


class RemoteError(Exception):
    """An exception of the other side whose type is not a built-in one (its name and message)."""


class WorkerFailure(Exception):
    """The worker is gone: it exited, crashed, ran out of time or broke the protocol."""


# --------------------------------------------------------------------------- proxies
class Proxy:
    """An object of the other process. Attribute reads, calls, indexing, iteration and ``repr``
    are requests to the other side."""

    __slots__ = ("_peer", "_ref", "_cls", "__weakref__")

    def __init__(self, peer, ref, cls=None):
        object.__setattr__(self, "_peer", peer)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_cls", cls)

    @property
    def __class__(self):
        """In the worker, a proxy of one of the judge's minicnn objects (a model passed to the student's
        function) passes ``isinstance`` checks against its minicnn class (``isinstance(m, Dropout)``)."""
        return self._cls or Proxy

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._peer.request("getattr", self, name)

    def __setattr__(self, name, value):
        self._peer.request("setattr", self, name, value)

    def __delattr__(self, name):
        self._peer.request("delattr", self, name)

    def __call__(self, *args, **kwargs):
        return self._peer.request("call", self, args, kwargs)

    def __getitem__(self, key):
        return self._peer.request("getitem", self, key)

    def __setitem__(self, key, value):
        self._peer.request("setitem", self, key, value)

    def __len__(self):
        return _checked(self._peer.request("len", self), int, "len()")

    def __bool__(self):
        return _checked(self._peer.request("bool", self), bool, "bool()")

    def __contains__(self, item):
        return _checked(self._peer.request("contains", self, item), bool, "in")

    def __iter__(self):
        return self._peer.request("iter", self)

    def __next__(self):
        return self._peer.request("next", self)

    def __repr__(self):
        try:
            return _checked(self._peer.request("repr", self), str, "repr()")[:500]
        except Exception:
            return "<an object of the other process>"


def _checked(value, kind, what):
    if type(value) is not kind:
        raise TypeError(f"{what} of a remote object returned {type(value).__name__}, expected {kind.__name__}")
    return value


# --------------------------------------------------------------------------- a graph continued remotely
def _remote_node_class():
    from minicnn.autograd import Function

    class RemoteNode(Function):
        """``grad_fn`` of a tensor whose graph lives in the other process: its backward runs there."""

        def __init__(self, peer, key):
            self.peer, self.key = peer, key
            self.needs_input_grad, self.next_functions, self.input_meta = (), (), ()

        def backward(self, grad_output):
            self.peer.request("backward", self.key, grad_output)
            return ()

        def release(self):      # keep peer and key; mark freed (a second backward raises, as in torch)
            setattr(self, self._FREED, True)

        @property
        def name(self):
            return "RemoteBackward"

    return RemoteNode


def _digest(array):
    if array is None:
        return None
    from minicnn.backend import backend_of_array, to_numpy
    host = np.asarray(to_numpy(array), order="C")
    return (backend_of_array(array), host.shape, host.dtype.str,
            hashlib.blake2b(host.tobytes(), digest_size=16).digest())


# --------------------------------------------------------------------------- the peer
class Peer:
    """One end of the channel. ``side`` is "judge" or "worker"; ``root`` is the object the other
    side reaches as reference 0 (the worker's loader)."""

    def __init__(self, side, read_fd, write_fd, root=None, timeout=None, on_timeout=None):
        self.side = side
        self.tag = "j" if side == "judge" else "w"
        self.read_fd, self.write = read_fd, os.fdopen(write_fd, "wb", buffering=0)
        self.timeout, self.on_timeout = timeout, on_timeout
        self.exported = {0: root} if root is not None else {}   # number -> local object
        self._export_numbers = {id(root): 0} if root is not None else {}
        self._numbers = itertools.count(1)
        self.proxies = weakref.WeakValueDictionary()           # remote number -> Proxy
        self.tensors = {}          # key -> local Tensor (judge: weak references; worker: strong)
        self._tensor_keys = {}     # id(local tensor) -> key
        self._known = {}           # key -> digest of (data, grad, requires_grad) at the last crossing
        self._pending_state = {}   # key -> state received before the tensor itself was decoded
        self._released = []        # keys whose judge-side tensor died (sent with the next request)
        self._keys = itertools.count(1)
        self._request_numbers = itertools.count(1)
        self.failure = None        # set when the other side is gone; later requests raise it
        self._deadline = None
        self._callback_errors = []
        self._RemoteNode = _remote_node_class()

    # ------------------------------------------------------------------ reading with a deadline
    def _read_exactly(self, n):
        data = bytearray()
        while len(data) < n:
            if self._deadline is not None:
                remaining = self._deadline - time.monotonic()
                ready = remaining > 0 and select.select([self.read_fd], [], [], remaining)[0]
                if not ready:
                    raise TimeoutError
            chunk = os.read(self.read_fd, min(n - len(data), 1 << 20))
            if not chunk:
                raise wire.ProtocolError("the other side hung up")
            data += chunk
        return bytes(data)

    def _read(self):
        class _Stream:
            read = staticmethod(self._read_exactly)
        return wire.read_message(_Stream)

    def _send(self, document, blobs):
        try:
            wire.write_message(self.write, document, blobs)
        except (BrokenPipeError, OSError) as exc:
            raise wire.ProtocolError(f"the other side hung up ({exc})") from None

    # ------------------------------------------------------------------ encoding
    def _encode_other(self, value, forced):
        from minicnn.tensor import Tensor
        if isinstance(value, Tensor):
            key = self._track(value)
            forced.add(key)
            return {"$tensor": key, "cls": "Parameter" if _is_parameter(value) else "Tensor",
                    "graph": value.grad_fn is not None}
        if isinstance(value, Proxy) and value._peer is self:
            return {"$ref": ["them", value._ref]}
        if getattr(value, "remote_peer", None) is self:          # a RemoteStrategy going back
            return {"$ref": ["them", value.number]}
        if self.side == "worker" and _is_strategy(value):
            return {"$ref": ["you", self._export(value)], "strategy": True}
        kind = type(value)
        return {"$ref": ["you", self._export(value)], "cls": f"{kind.__module__}:{kind.__qualname__}"}

    def _export(self, value):
        number = self._export_numbers.get(id(value))
        if number is None or self.exported.get(number) is not value:
            number = next(self._numbers)
            self.exported[number] = value
            self._export_numbers[id(value)] = number
        return number

    def _track(self, tensor):
        key = self._tensor_keys.get(id(tensor))
        if key is not None and self._get_tensor(key) is tensor:
            return key
        key = f"{self.tag}{next(self._keys)}"
        self._register(key, tensor)
        return key

    def _register(self, key, tensor):
        if self.side == "judge":
            self.tensors[key] = weakref.ref(tensor)
            # a graph that continues in the worker must stay there while any judge node points to it
            anchor = tensor.grad_fn if isinstance(tensor.grad_fn, self._RemoteNode) else tensor
            weakref.finalize(anchor, self._released.append, key)
        else:
            self.tensors[key] = tensor
        self._tensor_keys[id(tensor)] = key

    def _get_tensor(self, key):
        entry = self.tensors.get(key)
        if entry is None:
            return None
        return entry() if self.side == "judge" else entry

    def encode(self, value, sources=None):
        blobs, forced = [], set()
        node = wire.encode(value, blobs, lambda v: self._encode_other(v, forced), sources)
        return node, blobs, forced

    def _decode_other(self, node):
        if "$tensor" in node:
            return self._tensor_from(node)
        if "$ref" in node:
            whose, number = node["$ref"]
            if not isinstance(number, int):
                raise wire.ProtocolError("a malformed reference")
            if whose == "them":                      # one of ours, coming back
                if number not in self.exported:
                    raise wire.ProtocolError(f"no object number {number} here")
                return self.exported[number]
            proxy = self.proxies.get(number)
            if proxy is None:
                if node.get("strategy") and self.side == "judge":
                    from .strategy import RemoteStrategy
                    proxy = RemoteStrategy(self, number)
                else:
                    proxy = Proxy(self, number, self._local_class(node.get("cls")))
                self.proxies[number] = proxy
            return proxy
        raise wire.ProtocolError(f"an unknown value {sorted(node)[:3]}")

    def _local_class(self, name):
        """The class a judge object claims, when it is one of minicnn's (only the worker asks)."""
        if self.side != "worker" or not isinstance(name, str) or ":" not in name:
            return None
        module, qualname = name.split(":", 1)
        if not module.startswith("minicnn.") or module.startswith("minicnn.course") or "." in qualname:
            return None
        import importlib
        try:
            cls = getattr(importlib.import_module(module), qualname)
        except (ImportError, AttributeError):
            return None
        return cls if isinstance(cls, type) else None

    def _tensor_from(self, node):
        key = node["$tensor"]
        if not isinstance(key, str):
            raise wire.ProtocolError("a malformed tensor key")
        tensor = self._get_tensor(key)
        if tensor is not None:
            return tensor
        state = self._pending_state.pop(key, None)
        if state is None:
            raise wire.ProtocolError(f"tensor {key} arrived without its data")
        from minicnn.tensor import Tensor
        cls = Tensor
        if node.get("cls") == "Parameter":
            from minicnn.nn.module import Parameter
            cls = Parameter
        data, grad, requires_grad = state
        if not hasattr(data, "dtype"):
            raise wire.ProtocolError(f"tensor {key} without an array")
        tensor = cls._from_op(data, grad_fn=self._RemoteNode(self, key) if node.get("graph") else None)
        if not node.get("graph"):
            tensor._requires_grad = bool(requires_grad) and data.dtype.kind in "fc"
        tensor.grad = None if grad is None else Tensor._from_op(grad)
        self._register(key, tensor)
        self._known[key] = self._state_digest(tensor)
        return tensor

    # ------------------------------------------------------------------ keeping mirrors in step
    @staticmethod
    def _state_digest(tensor):
        grad = tensor.grad.data if tensor.grad is not None else None
        return (_digest(tensor.data), _digest(grad), tensor.requires_grad)

    def _outgoing_state(self, forced, blobs):
        """Data, grad and requires_grad of every mirrored tensor changed since the last crossing."""
        from minicnn.tensor import Tensor
        state = {}
        for key in list(self.tensors):
            tensor = self._get_tensor(key)
            if tensor is None:
                continue
            digest = self._state_digest(tensor)
            if key in forced or digest != self._known.get(key):
                self._known[key] = digest
                grad = tensor.grad.data if isinstance(tensor.grad, Tensor) else None
                state[key] = [wire.encode(tensor.data, blobs, _no_objects),
                              None if grad is None else wire.encode(grad, blobs, _no_objects),
                              tensor.requires_grad]
        return state

    def _apply_state(self, state, blobs):
        from minicnn.tensor import Tensor
        if not isinstance(state, dict):
            raise wire.ProtocolError("malformed tensor state")
        for key, (data_node, grad_node, requires_grad) in state.items():
            data = wire.decode(data_node, blobs, _no_objects)
            grad = None if grad_node is None else wire.decode(grad_node, blobs, _no_objects)
            tensor = self._get_tensor(key)
            if tensor is None:
                self._pending_state[key] = (data, grad, requires_grad)
                continue
            _assign(tensor, data)
            tensor.grad = None if grad is None else Tensor._from_op(grad)
            if tensor.grad_fn is None and data.dtype.kind in "fc":
                tensor._requires_grad = bool(requires_grad)
            self._known[key] = self._state_digest(tensor)

    # ------------------------------------------------------------------ requests
    def request(self, action, *args):
        if self.failure is not None:
            raise self.failure
        sources = []                      # the arrays sent, to copy back what the other side changed in place
        node, blobs, forced = self.encode(list(args), sources)
        number = next(self._request_numbers)
        document = {"kind": "request", "n": number, "action": action, "args": node,
                    "release": self._take_released()}
        document["state"] = self._outgoing_state(forced, blobs)
        top = self._deadline is None and self.timeout is not None
        if top:
            self._deadline = time.monotonic() + self.timeout
            self._callback_errors = []
        try:
            self._send(document, blobs)
            while True:
                message, blobs = self._read()
                if message.get("kind") == "request":
                    self._serve(message, blobs)
                    continue
                if message.get("kind") != "reply" or message.get("n") != number:
                    raise wire.ProtocolError("an unexpected message")
                self._apply_state(message.get("state", {}), blobs)
                self._copy_back(message.get("changed", []), blobs, sources)
                if message.get("ok"):
                    value = self._decode(message.get("value"), blobs)
                    break
                error = self._rebuild_error(message.get("error") or {})
                break
        except TimeoutError:
            self._fail(WorkerFailure(f"timed out after {self.timeout:g} s (an endless loop, or very slow code?)"),
                       kill=True)
        except (wire.ProtocolError, struct.error, ValueError, TypeError, KeyError) as exc:
            self._fail(self._gone(exc), kill=True)
        finally:
            if top:
                self._deadline = None
        if top and self._callback_errors:      # the judge's own control flow (pytest.fail, Hypothesis)
            raise self._callback_errors[0]
        if not message.get("ok"):
            raise error
        return value

    def _fail(self, failure, kill):
        self.failure = failure
        if kill and self.on_timeout is not None:
            self.on_timeout()
        raise failure

    def _gone(self, exc):
        """The failure to report when the other side stopped answering (overridden by the sandbox)."""
        return WorkerFailure(f"the worker stopped answering: {exc}")

    @staticmethod
    def _copy_back(changed, blobs, sources):
        """Arrays passed by value and changed in place by the other side (a running mean updated
        by a student's batch norm): copy the new values into the caller's arrays."""
        by_number = dict(sources)
        for number, blob in changed:
            original = by_number.get(number)
            new = wire.decode(blob, blobs, _no_objects)
            if original is not None and getattr(original, "shape", None) == getattr(new, "shape", None):
                try:
                    original[...] = new
                except (ValueError, TypeError):
                    pass

    def _take_released(self):
        released, self._released = self._released, []
        for key in released:
            self.tensors.pop(key, None)
            self._known.pop(key, None)
        return released

    def _decode(self, node, blobs):
        return wire.decode(node, blobs, self._decode_other)

    def _rebuild_error(self, error):
        kind, message = str(error.get("type", "Exception")), str(error.get("message", ""))[:4000]
        builtin = getattr(builtins, kind, None)
        if kind == "MemoryError" and getattr(self, "memory_gb", None):
            message = f"used more than {self.memory_gb:g} GB of memory (the grader's limit): {message}"
        if error.get("module") == "builtins" and isinstance(builtin, type) and issubclass(builtin, Exception):
            try:
                exc = builtin(message)
            except Exception:
                exc = RemoteError(f"{kind}: {message}")
        elif kind == "ShortcutError":
            from .shortcuts import ShortcutError
            exc = ShortcutError(message)
        else:
            exc = RemoteError(f"{kind}: {message}")
        where = str(error.get("where", ""))[-1500:]
        if where:
            exc.add_note(f"raised in the {'worker' if self.side == 'judge' else 'judge'}:\n{where}")
        return exc

    # ------------------------------------------------------------------ serving the other side
    def serve_forever(self):
        """The worker's loop: serve requests until the judge hangs up."""
        while True:
            try:
                message, blobs = self._read()
            except wire.ProtocolError:
                return
            if message.get("kind") != "request":
                return
            self._serve(message, blobs)

    def _serve(self, message, blobs):
        number = message.get("n")
        try:
            self._apply_state(message.get("state", {}), blobs)
            for key in message.get("release", []) if self.side == "worker" else ():
                tensor = self.tensors.pop(key, None)
                self._known.pop(key, None)
                if tensor is not None:
                    self._tensor_keys.pop(id(tensor), None)
            action = message.get("action")
            received = []
            args = wire.decode(message.get("args"), blobs, self._decode_other, received)
            before = [(n, _digest(a)) for n, a in received]
            if not isinstance(args, list):
                raise wire.ProtocolError("malformed arguments")
            if self.side == "judge":
                self._judge_allows(action, args)
            value = self._perform(action, args)
            reply = {"kind": "reply", "n": number, "ok": True}
            node, out_blobs, forced = self.encode(value)
            reply["value"] = node
            arrays = dict(received)
            reply["changed"] = [[n, wire.encode(arrays[n], out_blobs, _no_objects)]
                                for n, digest in before if _digest(arrays[n]) != digest]
        except BaseException as exc:     # noqa: BLE001 - every failure goes back to the caller
            if self.side == "judge" and not isinstance(exc, Exception):
                self._callback_errors.append(exc)
            if self.side == "worker" and isinstance(exc, (SystemExit, KeyboardInterrupt)):
                raise
            reply = {"kind": "reply", "n": number, "ok": False, "error": _describe(exc, self.side)}
            out_blobs, forced = [], set()
        reply["state"] = self._outgoing_state(forced, out_blobs)
        self._send(reply, out_blobs)

    def _perform(self, action, args):
        if action == "backward":
            key, grad = args
            tensor = self._get_tensor(key)
            if tensor is None:
                raise RuntimeError("backward: that tensor is gone")
            tensor.backward(grad, retain_graph=True)
            return None
        target, rest = args[0], args[1:]
        if action == "getattr":
            return getattr(target, rest[0])
        if action == "setattr":
            return setattr(target, rest[0], rest[1])
        if action == "delattr":
            return delattr(target, rest[0])
        if action == "call":
            positional, keywords = rest
            return target(*positional, **keywords)
        if action == "getitem":
            return target[rest[0]]
        if action == "setitem":
            target[rest[0]] = rest[1]
            return None
        if action == "len":
            return len(target)
        if action == "bool":
            return bool(target)
        if action == "contains":
            return rest[0] in target
        if action == "iter":
            return iter(target)
        if action == "next":
            return next(target)
        if action == "repr":
            return repr(target)
        raise wire.ProtocolError(f"an unknown action {action!r}")

    def _judge_allows(self, action, args):
        """What a worker may ask of the judge: call what it was given, read a module's public
        attributes, iterate, index containers, run a backward pass. Nothing else."""
        from minicnn.nn.module import Module
        if action == "backward":
            return
        target = args[0] if args else None
        if isinstance(target, Proxy) or not any(target is v for v in self.exported.values()):
            raise PermissionError(f"the judge does not allow {action!r} on that object")
        if action == "call" and callable(target) and not isinstance(target, type) \
                and type(target).__name__ != "module":
            return
        if action == "getattr" and isinstance(target, Module) and isinstance(args[1], str) \
                and not args[1].startswith("_"):
            return
        if action == "setattr" and isinstance(target, Module) and isinstance(args[1], str) \
                and not args[1].startswith("_") and type(args[2]) in (bool, int, float, str):
            return
        if action in ("iter", "next", "len", "bool", "repr"):
            return
        if action == "getitem" and isinstance(target, (list, tuple, dict, Module)):
            return
        raise PermissionError(f"the judge does not allow {action!r} on {type(target).__name__}")


def _no_objects(value):
    raise wire.ProtocolError(f"a {type(value).__name__} where an array was expected")


def _is_parameter(tensor):
    return any(c.__name__ == "Parameter" for c in type(tensor).__mro__)


def _is_strategy(value):
    return any(c.__name__ == "SearchStrategy" and c.__module__.startswith("hypothesis")
               for c in type(value).__mro__)


def _assign(tensor, data):
    """Make ``tensor.data`` equal ``data``: in place when shape, dtype and backend agree (so that
    views held elsewhere see the change), else by rebinding."""
    current = tensor.data
    if type(current) is type(data) and current.shape == data.shape and current.dtype == data.dtype:
        try:
            if getattr(current, "flags", None) is None or current.flags.writeable:
                current[...] = data
                return
        except Exception:
            pass
    tensor.data = data


def _describe(exc, side):
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
    where = "".join(frames[-6:]) if side == "worker" else ""
    return {"type": type(exc).__name__, "module": type(exc).__module__, "message": str(exc)[:4000],
            "where": where[-3000:]}
