"""Errors of `niljax export / play / sim2sim` that a user causes (the CLI prints them as one paragraph)."""

from __future__ import annotations

__all__ = ["MissingDependencyError", "NoDisplayError"]


class MissingDependencyError(ImportError):
    """An optional package (the `export` extra: onnx, onnxruntime) is not installed; the message says how."""


class NoDisplayError(ValueError):
    """`niljax play --viewer` without a display to open MuJoCo's viewer on."""
