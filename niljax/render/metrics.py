"""Mask comparison used by the parity tests and the notes (works on numpy or jax arrays)."""

from __future__ import annotations

from typing import Any

import numpy as np


def mask_iou(a: Any, b: Any) -> float:
    """Intersection over union of two boolean masks of the same shape (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)
