"""Attention modules (issue 4)."""
__all__ = []
