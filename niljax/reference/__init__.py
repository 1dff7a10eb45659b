"""Stage 1: reference preparation (robot + prompt -> validated reference bundle + report).

Settings: `config.ReferenceConfig` (one flag each). Steps (each its own module; `pipeline.prepare_reference` runs
them in order, writing through `staging`, so a failed run leaves its output folder as it was):
  first frame (`first_frame`) -> candidates (`generate`: diffusers I2V / import / replay) -> best-of-N
  (`select`) -> trim + resample to the control rate (`resample`) -> aspect/resolution alignment (`align`) ->
  masks (`segment`: SAM2 or the background-colour fallback; `checks`: area, connectivity, first-frame
  agreement) -> TimeSformer embeddings + bundle (`pipeline`)
  -> contact sheet + summary (`report`). `compare.compare_references`: the first steps with several video models.

Host-side, offline work: numpy, Pillow, imageio; cv2, torch, diffusers and sam2 are imported lazily inside the
backends that need them, so `import niljax.reference` never imports torch. Errors are subclasses of
`ReferencePreparationError` (a ValueError) and name the problem with numbers.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ReferencePreparationError": "errors", "VideoReadError": "errors", "AspectMismatchError": "errors",
    "RobotMismatchError": "errors", "MissingDependencyError": "errors", "MaskCheckError": "errors",
    "check_masks": "checks", "largest_component_share": "checks",
    "read_video": "video_io", "write_video": "video_io",
    "resample_video": "resample", "resample_masks": "resample", "trim": "resample",
    "register_interpolator": "resample",
    "align_frames": "align", "align_masks": "align",
    "select_best": "select", "score_candidates": "select", "format_table": "select",
    "BackgroundColorSegmenter": "segment", "Sam2VideoSegmenter": "segment", "mask_iou": "segment",
    "VideoCandidate": "generate", "VideoGenerator": "generate", "DiffusersI2VGenerator": "generate",
    "ImportGenerator": "generate", "ReplayGenerator": "generate", "DEFAULT_PROMPT": "generate",
    "format_prompt": "generate",
    "FirstFrame": "first_frame", "render_first_frame": "first_frame",
    "ReferenceConfig": "config", "prepare_reference": "pipeline", "compare_references": "compare",
    "compare_generators": "compare", "format_comparison": "compare",
    "write_report": "report",
    "reference_main": "cli", "run_reference": "cli",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"niljax.reference.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'niljax.reference' has no attribute {name!r}")
