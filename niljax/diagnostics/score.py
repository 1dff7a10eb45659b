"""Per-step reward terms of a video, or of a training run's evaluation rollout, against a reference bundle.

Video: read (any ffmpeg format) -> resampled to the bundle's control rate (`niljax.reference.resample`, linear
by default) -> fitted to the bundle's frame size (`niljax.reference.align`, same aspect check as Stage 1) ->
masks from the background-colour fallback or SAM2, prompted with the bundle's first-frame mask, checked as
Stage 1 checks an imported video's masks (refused when they look wrong, unless --force) -> the reward
(`niljax.reward.score_videos`: video and IoU terms; a video carries no physics, so no penalties). Video frame k
is compared with reference index k.

Run: the run's latest checkpoint, evaluated as `niljax evaluate` does (deterministic actor, env 0), with the
per-step terms the training reward gave (video, IoU, penalty, total; the step's reference index is k+1, the
episode's reset frame being index 0), cut at a fall.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np

Segmenter = Literal["background", "sam2"]


def video_masks(frames: np.ndarray, first_mask: np.ndarray, *, segmenter: Segmenter = "background",
                sam2_checkpoint: str | None = None, sam2_config: str = "configs/sam2.1/sam2.1_hiera_l.yaml",
                sam2_device: str = "cpu") -> tuple[np.ndarray, str]:
    """Robot masks bool[T,H,W] of frames uint8[T,H,W,3] and the segmenter's name, prompted with `first_mask`."""
    from niljax.reference import segment

    if segmenter == "sam2":
        if not sam2_checkpoint:
            raise ValueError("--segmenter sam2 needs --sam2-checkpoint (or use the background fallback)")
        seg = segment.Sam2VideoSegmenter(config=sam2_config, checkpoint=sam2_checkpoint, device=sam2_device)
    elif segmenter == "background":
        seg = segment.BackgroundColorSegmenter()
    else:
        raise ValueError(f"segmenter must be 'background' or 'sam2', got {segmenter!r}")
    return seg.segment(frames, first_mask), seg.name


def prepare_video(path: str, bundle: Any, *, fps: float | None = None, interpolation: str = "linear",
                  allow_crop: bool = False) -> tuple[np.ndarray, float]:
    """Frames uint8[T,H,W,3] of the video at `path` at the bundle's control rate and size, and the file's fps."""
    from niljax.reference import align, resample
    from niljax.reference.video_io import read_video

    frames, src_fps = read_video(path, fps=fps)
    hz = bundle.metadata.control_rate_hz
    if abs(src_fps - hz) > 1e-6:
        frames = resample.resample_video(frames, src_fps, hz, method=interpolation, progress=False)
    frames = align.align_frames(frames, bundle.metadata.height, bundle.metadata.width, allow_crop=allow_crop)
    return frames, src_fps


def score_video(path: str, bundle: Any, *, encoder: Any = None, reward_config: Any = None, fps: float | None = None,
                interpolation: str = "linear", segmenter: Segmenter = "background", sam2_checkpoint: str | None = None,
                sam2_device: str = "cpu", allow_crop: bool = False, force: bool = False,
                mask_thresholds: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score the video at `path` against `bundle` (see the module docstring).

    The segmented masks go through the check `niljax reference` makes of an imported video's masks
    (`niljax.reference.checks.refuse_implausible_masks`, `mask_thresholds` its thresholds): MaskCheckError when
    they look wrong (a textured floor segmented as robot), unless `force`.

    Returns {"terms": {term: f32[T]}, "frames", "masks", "segmenter", "source_fps", "steps", "past_reference",
    "mask_checks"} (`past_reference`: steps beyond the reference's last frame, which compare with that last frame;
    `mask_checks`: the checks' numbers, and whether they were forced).
    """
    from niljax.diagnostics.common import bundle_encoder, default_reward_config
    from niljax.reference.checks import refuse_implausible_masks
    from niljax.reward.score import score_videos

    frames, src_fps = prepare_video(path, bundle, fps=fps, interpolation=interpolation, allow_crop=allow_crop)
    masks, seg_name = video_masks(frames, bundle.masks[0], segmenter=segmenter, sam2_checkpoint=sam2_checkpoint,
                                  sam2_device=sam2_device)
    checked = refuse_implausible_masks(masks, bundle.masks[0], source=str(path), segmenter=seg_name, force=force,
                                       instead="score them anyway", **(mask_thresholds or {}))
    reward_config = reward_config or default_reward_config(bundle)
    encoder = encoder if encoder is not None or not reward_config.use_video else bundle_encoder(bundle)
    terms = score_videos(reward_config, bundle.to_device(), encoder, frames, masks)
    return {"terms": terms, "frames": frames, "masks": masks, "segmenter": seg_name, "source_fps": src_fps,
            "steps": len(frames), "past_reference": int(max(0, len(frames) - bundle.num_frames)),
            "mask_checks": dict(checked.to_summary(), forced=bool(force and not checked.ok))}


def score_run(run_dir: str, reference: str | None = None) -> dict[str, Any]:
    """Evaluate the run's latest checkpoint as `niljax evaluate` does (its eval envs, start noise and horizon) and
    return env 0's per-step reward terms.

    Returns {"terms": {term: f32[T]} (T = steps until a fall or the horizon), "frames", "masks", "fell",
    "env_steps", "reward_config", "bundle"}.
    """
    import jax

    from niljax.train.run import build_pipeline, restore_checkpoint
    from niljax.train.run_folder import checkpoint_manager, load_run

    run = Path(run_dir)
    config = load_run(run, reference, command="niljax score")
    if config.render.resolved_backend() == "warp":
        from niljax import _runtime

        _runtime.quiet_warp()
    pipeline = build_pipeline(config)
    manager = checkpoint_manager(run, config.keep_checkpoints)
    state = restore_checkpoint(manager, jax.eval_shape(pipeline.trainer.init, jax.random.PRNGKey(config.seed)))
    result = jax.device_get(pipeline.trainer.evaluate(state.learner, jax.random.PRNGKey(config.seed + 1),
                                                      record=True))
    length = int(result["length"][0])
    terms = {k: np.asarray(v, np.float32)[:length] for k, v in result["step_terms"].items()}
    return {"terms": terms, "frames": np.asarray(result["frames"])[:length], "masks": np.asarray(result["masks"])[:length],
                "fell": bool(result["fell"][0] > 0), "env_steps": int(state.env_steps), "reward_config": config.reward,
                "bundle": pipeline.bundle, "steps": length}


def write_score(out: Path, source: str, bundle_path: str, scored: dict[str, Any], hz: float, **meta: Any) -> dict:
    """Write `out`/score.json (per-step terms and their means) and `out`/score.png (the curves); returns the JSON."""
    from niljax.diagnostics.common import plot_curves, summarize_terms

    out.mkdir(parents=True, exist_ok=True)
    terms = scored["terms"]
    summary = dict(source=str(source), reference=str(bundle_path), control_rate_hz=hz, steps=int(scored["steps"]),
                   means=summarize_terms(terms), **meta,
                   terms={k: [round(float(x), 5) for x in v] for k, v in terms.items()})
    (out / "score.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_curves(out / "score.png", {Path(source).name or str(source): terms}, hz=hz,
                title=f"{source} vs {bundle_path}",
                terms=tuple(k for k in ("reward/video", "reward/iou", "reward/penalty", "reward/total") if k in terms))
    return summary
