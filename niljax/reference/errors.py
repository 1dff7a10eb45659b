"""Errors raised by Stage 1 (reference preparation). All subclass `ReferencePreparationError` (a ValueError)."""

from __future__ import annotations


class ReferencePreparationError(ValueError):
    """Base class: bad input to Stage 1 (the message names the problem and the numbers involved)."""


class VideoReadError(ReferencePreparationError):
    """A video file is missing, unreadable, corrupt, empty, or has no usable frame rate."""


class AspectMismatchError(ReferencePreparationError):
    """The video's aspect ratio differs from the training camera's beyond the tolerance (see `allow_crop`)."""


class RobotMismatchError(ReferencePreparationError):
    """The video (or its metadata) shows a different robot than requested, or drifts away from the first frame."""


class MaskCheckError(ReferencePreparationError):
    """The segmented masks look wrong (first-frame agreement, area or connectivity; see `niljax.reference.checks`)."""


class MissingDependencyError(ImportError):
    """An optional package (cv2, torch, diffusers, sam2) needed by the chosen backend is not installed."""


def require(module: str, extra: str = "reference"):
    """Import an optional module by name, raising `MissingDependencyError` with an install hint if absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"'{module}' is required for this step but could not be imported ({err}); "
            f"install the optional dependencies: pip install 'niljax[{extra}]'"
        ) from err
