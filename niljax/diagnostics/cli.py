"""`niljax score VIDEO_OR_RUN --reference BUNDLE` and `niljax landscape BUNDLE` (flags via tyro; light imports)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Literal

import tyro

from niljax.reference import checks
from niljax.render.config import RenderConfig


@dataclasses.dataclass(frozen=True)
class ScoreArgs:
    """Per-step reward terms of a video (any format ffmpeg reads) or of a run's evaluation rollout against a
    reference bundle; writes OUT/score.json and OUT/score.png (the curves)."""

    source: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="VIDEO_OR_RUN")]
    """A video file, or a run folder (`niljax train`'s, with config.json and a checkpoint)."""
    reference: str | None = None
    """The reference bundle (required for a video; for a run: default the run's own bundle)."""
    out: str | None = None
    """Output folder (default: <video>.score/ next to the video, or <run>/score/)."""
    fps: float | None = None
    """Video: frame-rate override (when the file has none)."""
    interpolation: str = "linear"
    """Video: how it is resampled to the bundle's control rate (nearest | linear | flow | a registered one)."""
    segmenter: Literal["background", "sam2"] = "background"
    """Video: robot masks from the background-colour fallback or SAM2 (prompted with the bundle's first mask)."""
    sam2_checkpoint: str | None = None
    sam2_device: str = "cpu"
    allow_crop: bool = False
    """Video: centre-crop a video whose aspect differs from the bundle's (else that is an error)."""
    min_first_frame_iou: float = checks.MIN_FIRST_FRAME_IOU
    """Video: the mask checks of `niljax reference` (the same flags and defaults): IoU of the segmented frame 0
    with the bundle's first mask, at least."""
    mask_area_range: tuple[float, float] = checks.MASK_AREA_RANGE
    """Video: a frame's mask area / the bundle's first mask's area should lie in this range."""
    min_mask_connectivity: float = checks.MIN_CONNECTIVITY
    """Video: a frame's largest connected part's share of its mask / the first mask's share, at least."""
    max_bad_mask_frames: float = checks.MAX_BAD_FRAME_SHARE
    """Video: the share of frames allowed outside the area range or below the connectivity ratio."""
    force: bool = False
    """Video: score masks that fail those checks anyway (their numbers are in score.json either way)."""


@dataclasses.dataclass(frozen=True)
class LandscapeArgs:
    """The reward of a replayed reference's own motion against time shifts, slowed / sped-up replays, a standing
    robot and random motions; writes OUT/landscape.json and OUT/landscape.png."""

    bundle: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="BUNDLE")]
    """A reference bundle made by the replay backend (it records the joint trajectory)."""
    out: str | None = None
    """Output folder (default: <bundle>/../landscape/)."""
    mjcf: str | None = None
    """The robot model, when the one the bundle records is not on this machine."""
    render: RenderConfig = dataclasses.field(default_factory=lambda: RenderConfig(backend="auto"))
    """Renderer (its size, and field of view unless given, are the bundle's)."""
    anchor: Literal["agent", "reference"] = "agent"
    """Camera: the agent's track camera (training default) or moved onto the reference's root path."""
    steps: int | None = None
    """Score the first STEPS frames only (default: all of the bundle's)."""
    shifts: tuple[float, ...] = (0.1, 0.25, 0.5)
    """Time shifts in seconds (positive: behind the reference)."""
    speeds: tuple[float, ...] = (0.5, 0.75, 1.5)
    """Replay speed factors."""
    num_random: int = 2
    seed: int = 0
    batch: int = 32
    """Frames rendered per call."""
    video_centring: bool = False
    """Score the video term on embeddings minus the reference's mean embedding (`RewardConfig.video_centring`)."""


def score_main(argv: list[str]) -> int:
    args = tyro.cli(ScoreArgs, args=argv, prog="niljax score")
    source = Path(args.source)
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such video file or run folder")
    from niljax.diagnostics import score
    from niljax.reward import load_bundle

    if source.is_dir():
        scored = score.score_run(str(source), args.reference)
        bundle = scored["bundle"]
        bundle_path = args.reference or "(the run's)"
        out = Path(args.out) if args.out else source / "score"
        meta = {"kind": "run", "env_steps": scored["env_steps"], "fell": scored["fell"],
                    "note": "evaluation of the latest checkpoint, env 0; step k is reference index k+1"}
    else:
        if args.reference is None:
            raise ValueError("scoring a video needs --reference BUNDLE (the bundle to compare it with)")
        thresholds = dict(min_first_frame_iou=args.min_first_frame_iou, area_ratio_range=tuple(args.mask_area_range),
                          min_connectivity=args.min_mask_connectivity, max_bad_frame_share=args.max_bad_mask_frames)
        problem = checks.threshold_problem(**thresholds)
        if problem:
            raise ValueError(problem)
        bundle = load_bundle(args.reference)
        bundle_path = args.reference
        scored = score.score_video(str(source), bundle, fps=args.fps, interpolation=args.interpolation,
                                   segmenter=args.segmenter, sam2_checkpoint=args.sam2_checkpoint,
                                   sam2_device=args.sam2_device, allow_crop=args.allow_crop, force=args.force,
                                   mask_thresholds=thresholds)
        out = Path(args.out) if args.out else source.with_name(source.name + ".score")
        meta = {"kind": "video", "segmenter": scored["segmenter"], "source_fps": scored["source_fps"],
                    "past_reference": scored["past_reference"], "mask_checks": scored["mask_checks"],
                    "note": "video and IoU terms only (a video has no physics for the penalties); step k is reference "
                         "index k"}
    summary = score.write_score(out, str(source), str(bundle_path), scored, bundle.metadata.control_rate_hz, **meta)
    print(json.dumps({"out": str(out), "steps": summary["steps"], **summary["means"]}, indent=2))
    return 0


def landscape_main(argv: list[str]) -> int:
    args = tyro.cli(LandscapeArgs, args=argv, prog="niljax landscape")
    from niljax.diagnostics.common import bundle_encoder, bundle_scene, default_reward_config
    from niljax.diagnostics.landscape import compute_landscape, landscape_json, plot_landscape
    from niljax.reward import load_bundle

    bundle = load_bundle(args.bundle)
    meta = bundle.metadata
    if bundle.qpos is None:
        raise ValueError(f"{args.bundle} records no joint trajectory (only replayed references do: `niljax reference "
                         "--backend replay`); score videos against it with `niljax score VIDEO --reference BUNDLE`")
    render = dataclasses.replace(args.render, height=meta.height, width=meta.width)
    if render.fovy is None and isinstance(meta.camera.get("fovy"), (int, float)):
        render = dataclasses.replace(render, fovy=float(meta.camera["fovy"]))  # the bundle's field of view
    if render.resolved_backend() == "warp":
        from niljax import _runtime

        _runtime.quiet_warp()
    scene = bundle_scene(bundle, mjcf=args.mjcf, plain_background=render.background == "plain")
    from niljax.render.camera import camera_mismatches, camera_record

    wrong = camera_mismatches(meta.camera, camera_record(scene.mj_model, render))
    if wrong:
        raise ValueError(f"the renderer's camera differs from the bundle's: {'; '.join(wrong)}")
    encoder = bundle_encoder(bundle)
    reward = default_reward_config(bundle, video_centring=args.video_centring)
    result = compute_landscape(bundle, scene, encoder, reward, render, anchor=args.anchor,
                               steps=args.steps, batch=args.batch, shifts_s=args.shifts, speeds=args.speeds,
                               num_random=args.num_random, seed=args.seed)
    out = Path(args.out) if args.out else Path(args.bundle).resolve().parent / "landscape"
    out.mkdir(parents=True, exist_ok=True)
    data = dict(bundle=str(args.bundle), robot=meta.robot, encoder=meta.encoder.id, render=dataclasses.asdict(render),
                video_centring=args.video_centring, **landscape_json(result))
    (out / "landscape.json").write_text(json.dumps(data, indent=2) + "\n")
    plot_landscape(out / "landscape.png", result,
                   title=f"{meta.robot}: reward landscape of {Path(args.bundle).name} ({meta.encoder.id}"
                         f"{', centred video term' if args.video_centring else ''}, "
                         f"{render.resolved_backend()} renderer, {args.anchor}-anchored camera)")
    print(f"landscape: {out / 'landscape.png'}\n" + "\n".join(
        f"  {name:<14} total {result['variants'][name]['total_mean']:+.3f}  video "
        f"{result['variants'][name]['video_mean']:+.3f}  iou {result['variants'][name]['iou_mean']:.3f}"
        for name in result["ranking"]) + "\n  margin of the re-rendered reference over the best other motion: " + ", ".join(
        f"{term} {m['margin']:+.4f} (vs {m['best_other']})" for term, m in result["margins"].items()))
    return 0
