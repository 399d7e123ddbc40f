"""What the other process's objects look like here: proxies, and the errors of the channel.

A :class:`Proxy` stands for an object that lives in the other process (a
student's function, class or module, seen from the judge; a model the test
passed in, seen from the worker). Every use of it (an attribute read, a call,
indexing, iteration, ``repr``) is a request to the other side
(:meth:`.peer.Peer.request`).
"""
from __future__ import annotations


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
