"""What every attention module shares: the attention of its last forward pass, kept for plotting.

Every module keeps the attention it computed in its last forward pass on
``self.last_attention``: a detached tensor (no graph kept alive), ``None``
before the first call, so that a notebook can plot it without hooks. What
that tensor is (channel weights, a spatial map, an affinity matrix, a soft
mask) is written in each module's docstring.
"""
from ..module import Module

__all__ = ["AttentionModule"]


class AttentionModule(Module):
    """A :class:`~minicnn.nn.Module` that remembers its last attention (``last_attention``)."""

    #: the attention of the last forward pass, detached; None before the first one
    last_attention = None

    def keep_attention(self, attention):
        """Store ``attention`` detached on ``self.last_attention``; return ``attention`` itself (for the forward)."""
        self.last_attention = attention.detach()
        return attention
