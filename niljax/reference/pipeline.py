"""`prepare_reference(config)`: robot + prompt (or videos, or a trajectory) -> validated bundle + report.

Steps: load the robot scene (plain background) -> render the first frame at the generator's resolution and save
it with its camera metadata -> N candidates from the backend -> validate each (fps, size; robot named in a
sidecar `<video>.json` must match) -> align candidates to the first frame's size (aspect check) -> best-of-N
(`select`) -> robot-mismatch check (the chosen video's frame 0 vs our first frame, MSE threshold) -> trim ->
resample to `control_rate_hz` -> align to the training camera (height x width) -> masks (SAM2 or the
background-colour fallback, prompted with our first-frame mask) -> embeddings with the Flax TimeSformer (or the
toy encoder) -> `save_bundle` (atomic: a crash leaves no bundle) -> reload with `load_bundle` (checks) -> report.
The settings and what they build are in `config.py`; every part is written through `staging.py` (a failed run
leaves `out` as it was); several video models are compared by `compare.compare_references`.

Output folder layout (`config.out`):
    bundle/                  the reference bundle (niljax.reward format)
    first_frame.png/.json    our first frame + exact camera metadata (and first_frame_mask.png)
    candidates/cand_<i>.mp4  every candidate as generated (diffusers/replay) for inspection
    report/contact_sheet.png, report/summary.json
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from niljax.reference.config import (
    ReferenceConfig,
    build_encoder,
    build_segmenter,
    diffusers_generator,
    registered_skill,
)
from niljax.reference.errors import ReferencePreparationError, RobotMismatchError
from niljax.reference.staging import OUTPUT_PARTS, staged

__all__ = ["OUTPUT_PARTS", "ReferenceConfig", "build_encoder", "prepare_reference"]


def prepare_reference(config: ReferenceConfig, *, encoder: Any = None, generator: Any = None,
                      segmenter: Any = None) -> Path:
    """Run Stage 1 end to end; returns the bundle path (`<out>/bundle`).

    `encoder` (a `niljax.reward.VideoEncoder`), `generator` (a `VideoGenerator`) and `segmenter` override the
    ones the config would build (Python API / tests). Raises `ReferencePreparationError` subclasses on bad input.
    Everything is written into a hidden staging folder next to `out` and moved into `out` only once the run has
    completed: on any failure `out` is left exactly as it was (not even created) and the staging folder is
    removed (one left by a killed run is removed by the next run for the same `out`).
    """
    config.validate()
    if config.is_comparison:
        raise ReferencePreparationError(f"{len(config.model)} --model given: that is a comparison of video models, "
                                        "which builds no bundle (run it with compare_references / the CLI)")
    bundle_path = Path(config.out) / "bundle"
    prepare = _prepare_views_into if config.views else _prepare_into
    staged(config, lambda stage: prepare(config, stage, bundle_path, encoder=encoder, generator=generator,
                                          segmenter=segmenter))
    return bundle_path


def _prepare_views_into(config: ReferenceConfig, out: Path, final_bundle: Path, *, encoder: Any, generator: Any,
                        segmenter: Any) -> Path:
    """Multi-view Stage 1: the single-view steps once per view into views/view<k>/, then bundle/ as a multi-view
    reference folder of the views' bundles (`niljax.reward.save_view_bundles`)."""
    from niljax.render.config import CameraView
    from niljax.reward.bundle import load_bundle, save_view_bundles

    bundles = {}
    for k, spec in enumerate(config.views):
        view = CameraView.parse(spec)
        folder = out / "views" / f"view{k}"
        folder.mkdir(parents=True)
        single = dataclasses.replace(config, views=(), camera=view.camera, camera_azimuth=view.azimuth,
                                     out=str(Path(config.out) / "views" / f"view{k}"))
        _prepare_into(single, folder, final_bundle.parent / "views" / f"view{k}" / "bundle", encoder=encoder,
                      generator=generator, segmenter=segmenter)
        bundles[view.name] = load_bundle(folder / "bundle")
    save_view_bundles(bundles, out / "bundle")
    return out / "bundle"


def _check_sidecar(path: str, robot: str) -> None:
    side = Path(path).with_suffix(Path(path).suffix + ".json")
    if not side.is_file():
        side = Path(path).with_suffix(".json")
    if side.is_file():
        try:
            meta = json.loads(side.read_text())
        except json.JSONDecodeError as err:
            raise ReferencePreparationError(f"sidecar metadata {side} is not valid JSON: {err}") from err
        named = meta.get("robot") if isinstance(meta, dict) else None
        if named is not None and str(named).lower() != robot.lower():
            raise RobotMismatchError(f"{path}: its metadata ({side.name}) names robot {named!r}, requested {robot!r}")


def _subsample(frames: np.ndarray, masks: np.ndarray, src: float, dst: float) -> tuple[np.ndarray, np.ndarray]:
    n = int(np.floor((len(frames) - 1) * dst / src + 1e-9)) + 1
    idx = np.rint(np.arange(n) * src / dst).astype(int)
    return frames[idx], masks[idx]


def _prepare_into(config: ReferenceConfig, out: Path, final_bundle: Path, *, encoder: Any, generator: Any,
                  segmenter: Any) -> Path:
    """The Stage-1 steps, writing every part into the (staging) folder `out`."""
    from tqdm.auto import tqdm

    from niljax.reference import align, generate, resample, select
    from niljax.reference.first_frame import load_trajectory, render_first_frame, render_qpos
    from niljax.reference.report import write_report
    from niljax.reference.video_io import write_video
    from niljax.reward.bundle import load_bundle, make_bundle, save_bundle
    from niljax.robots import load_robot

    t_start = time.time()
    bundle_path = out / "bundle"
    timings: dict[str, float] = {}
    steps = tqdm(total=8, desc="reference", disable=not config.progress)

    def step(name: str, t0: float) -> float:
        timings[name] = round(time.time() - t0, 3)
        steps.set_postfix_str(name)
        steps.update(1)
        return time.time()

    t0 = time.time()
    # 1. robot + first frame
    skill = registered_skill(config.skill)
    if skill is not None:  # the skill's scene: its objects and start pose are in the first frame and the replay
        from niljax.robots import load_skill_scene

        scene = load_skill_scene(config.robot, skill, mjcf_path=config.mjcf_path, plain_background=True)
    else:
        scene = load_robot(config.robot, mjcf_path=config.mjcf_path, plain_background=True)
    background = config.background
    if background == "auto":
        background = "scene" if (skill is not None and skill.objects) else "plain"
    gen_h = config.gen_height or config.height
    gen_w = config.gen_width or config.width
    traj = traj_fps = None
    if config.trajectory:
        traj, traj_fps = load_trajectory(config.trajectory, scene, fps=config.trajectory_fps)
    elif skill is not None and config.backend == "replay" and getattr(scene, "reference_qpos", None) is not None:
        traj, traj_fps = scene.reference_qpos, 1.0 / scene.control_dt  # the skill's scripted keyframe motion
    trimmed = False
    if traj is not None and config.backend == "replay" and (config.trim_start_s > 0 or config.trim_end_s):
        # cut the trajectory before rendering (cheaper than rendering and trimming the video)
        t = np.arange(len(traj)) / traj_fps
        keep = (t >= config.trim_start_s - 1e-9) & ((t <= config.trim_end_s + 1e-9) if config.trim_end_s else True)
        if keep.sum() < 2:
            raise ReferencePreparationError(f"trim window leaves {keep.sum()} trajectory steps")
        traj, trimmed = traj[keep], True
    replayed = loop_period = None
    if traj is not None and config.backend == "replay":
        from niljax.sim.looping import find_cycle, loop_qpos, resample_qpos, root_planar_indices

        if config.replay_fps and config.replay_fps != traj_fps:
            # bring the trajectory itself to the replay rate: render only the frames that are kept
            traj, traj_fps = resample_qpos(traj, traj_fps, config.replay_fps, scene.mj_model), float(config.replay_fps)
        if config.duration:
            planar = root_planar_indices(scene)
            if config.period is None:
                cycle_start, cycle_end = find_cycle(traj, exclude=planar)
            else:
                cycle_start, cycle_end = 0, int(round(config.period * traj_fps))
            traj = loop_qpos(traj, int(round(config.duration * traj_fps)) + 1, planar, start=cycle_start,
                             period=cycle_end - cycle_start, model=scene.mj_model)
            loop_period = (cycle_end - cycle_start) * config.control_rate_hz / traj_fps  # in bundle frames
        replayed = traj  # the replayed joint states; the bundle records them at the control rate
    start_q = traj[0] if (traj is not None and config.start_from_trajectory) else None
    first = render_first_frame(scene, gen_h, gen_w, qpos=start_q, background=background, camera=config.camera,
                               azimuth=config.camera_azimuth, static=config.static_camera)
    first.save(out)
    t0 = step("first_frame", t0)

    # 2. candidates
    robot_label = config.robot_label or scene.name.upper()
    default_template = ReferenceConfig.prompt_template
    if config.prompt:
        prompt = config.prompt
    elif skill is not None and config.prompt_template == default_template:
        prompt = skill.format_prompt(robot_label)
    else:
        prompt = generate.format_prompt(config.prompt_template, robot=robot_label, skill=config.skill)
    if config.static_camera and not config.prompt:  # the video model is asked for the camera the run will use
        prompt = prompt.replace("camera follows the agent", "static camera")
    if generator is None:
        if config.backend == "import":
            for p in config.videos:
                _check_sidecar(p, scene.name)
            generator = generate.ImportGenerator(config.videos, fps=config.video_fps,
                                                 allow_partial=config.allow_partial_video)
        elif config.backend == "replay":
            generator = generate.ReplayGenerator(lambda q: render_qpos(scene, q, gen_h, gen_w, background=background,
                                                                       camera=config.camera,
                                                                       azimuth=config.camera_azimuth,
                                                                       static=config.static_camera),
                                                 traj, traj_fps)
        else:
            generator = diffusers_generator(config, *config.model_kinds()[0], gen_h, gen_w)
    candidates = generator.generate(first.image, prompt, config.num_candidates)
    if not candidates:
        raise ReferencePreparationError(f"backend {config.backend!r} produced no candidate video")
    if config.backend == "replay" and config.replay_fps and candidates[0].fps != config.replay_fps:
        c = candidates[0]
        fr, ms = _subsample(c.frames, c.masks, c.fps, config.replay_fps)
        candidates = [generate.VideoCandidate(fr, config.replay_fps, c.source, masks=ms, metadata=c.metadata)]
    if config.backend != "import":
        (out / "candidates").mkdir(exist_ok=True)
        for i, c in enumerate(candidates):
            write_video(out / "candidates" / f"cand_{i}.mp4", c.frames, c.fps)
    t0 = step("generate", t0)

    # 3. align every candidate to our first frame's size, then best-of-N
    aligned = [align.align_frames(c.frames, gen_h, gen_w, aspect_tol=config.aspect_tol, allow_crop=config.allow_crop)
               for c in candidates]
    too_short = [i for i, a in enumerate(aligned) if len(a) < 3]
    if too_short:
        raise ReferencePreparationError(f"candidates {too_short} have fewer than 3 frames")
    best, table = select.select_best(aligned, first.image, override=config.select, mse_weight=config.mse_weight)
    chosen = candidates[best]
    start_mse = table[best].start_mse
    if start_mse > config.max_start_mse:
        raise RobotMismatchError(
            f"candidate {best} ({chosen.source}) starts too far from our first frame of {scene.name}: MSE "
            f"{start_mse:.4f} > {config.max_start_mse} (pixel values in [0,1]); the video shows another robot, pose, "
            "camera or background. Regenerate, or raise --max-start-mse if this is intended."
        )
    t0 = step("select", t0)

    # 4. trim + resample to the control rate, 5. align to the training camera
    frames = aligned[best] if trimmed else resample.trim(aligned[best], chosen.fps, config.trim_start_s,
                                                         config.trim_end_s)
    frames = resample.resample_video(frames, chosen.fps, config.control_rate_hz, method=config.interpolation,
                                     progress=config.progress)
    frames = align.align_frames(frames, config.height, config.width, aspect_tol=config.aspect_tol,
                                allow_crop=config.allow_crop)
    if len(frames) < config.clip_len:
        raise ReferencePreparationError(
            f"reference has {len(frames)} frames at {config.control_rate_hz} Hz, fewer than clip_len={config.clip_len}"
        )
    t0 = step("resample", t0)

    # 6. masks
    first_mask = align.align_masks(first.mask[None], config.height, config.width, aspect_tol=config.aspect_tol,
                                   allow_crop=config.allow_crop)[0]
    truth = None
    if segmenter is None and chosen.masks is not None and config.segmenter == "auto":
        # replay: the renderer's exact masks, brought to the control rate and the training camera
        src = chosen.masks if trimmed else resample.trim(chosen.masks, chosen.fps, config.trim_start_s,
                                                         config.trim_end_s)
        src = align.align_masks(src, gen_h, gen_w, aspect_tol=config.aspect_tol, allow_crop=config.allow_crop)
        truth = align.align_masks(resample.resample_masks(src, chosen.fps, config.control_rate_hz), config.height,
                                  config.width, aspect_tol=config.aspect_tol, allow_crop=config.allow_crop)
    if truth is not None:
        masks, seg_name = truth, "ground-truth (renderer)"
    elif segmenter is None:
        segmenter = build_segmenter(config)
    if truth is None:
        masks, seg_name = segmenter.segment(frames, first_mask), getattr(segmenter, "name", "custom")
    empty = np.nonzero(masks.reshape(len(masks), -1).sum(1) == 0)[0]
    if len(empty) > 0.1 * len(masks):
        raise ReferencePreparationError(
            f"the segmenter found no robot in {len(empty)} of {len(masks)} frames (first at t={empty[0]}); "
            "check the contact sheet / use SAM2"
        )
    mask_checks = None
    if truth is None:  # segmented masks (import, diffusers): check them before anything is embedded
        from niljax.reference.checks import refuse_implausible_masks

        mask_checks = refuse_implausible_masks(
            masks, first_mask, source=chosen.source, segmenter=seg_name, force=config.force,
            min_first_frame_iou=config.min_first_frame_iou, area_ratio_range=tuple(config.mask_area_range),
            min_connectivity=config.min_mask_connectivity, max_bad_frame_share=config.max_bad_mask_frames)
    if config.duration and replayed is None:  # import / diffusers: repeat the video's best cycle (opt-in)
        target = int(round(config.duration * config.control_rate_hz)) + 1
        period = int(round(config.period * config.control_rate_hz)) if config.period else None
        frames, masks, _, loop_period = resample.loop_video(frames, masks, target, period=period)
    t0 = step("masks", t0)

    # 7. embeddings + bundle
    if encoder is None:
        encoder = build_encoder(config)
    replay_meta: dict[str, Any] = {}
    if loop_period is not None:
        replay_meta["loop_period_frames"] = int(round(loop_period))  # the phase clock's period (training)
    # the robot model the reference was made for: `niljax train` loads it by default and refuses another one
    if skill is not None:  # `niljax train` builds the skill's scene for this bundle and renders it the same way
        replay_meta["skill"] = skill.name
    replay_meta["background"] = background
    replay_meta["model"] = dict(mjcf=str(scene.asset_path.resolve()) if config.mjcf_path else None,
                                source=scene.asset_source, fingerprint=scene.model_fingerprint())
    extra = dict(**replay_meta, backend=config.backend, candidate_source=chosen.source, candidate_metadata=chosen.metadata,
                 selection=[dataclasses.asdict(r) for r in table], segmenter=seg_name,
                 trim=[config.trim_start_s, config.trim_end_s], first_frame_qpos=first.qpos.tolist(),
                 background_rgb=list(first.background_rgb), generation_size=[gen_h, gen_w])
    root_pos = ref_qpos = None
    if replayed is not None:
        # the replay's joint states at the control rate, the same frames as the video, and the root's path
        # from them (what a reference-anchored camera follows during training)
        from niljax.sim.looping import resample_qpos
        from niljax.sim.replay import kinematic_poses

        ref_qpos = resample_qpos(replayed, chosen.fps, config.control_rate_hz, scene.mj_model)[: len(frames)]
        if len(ref_qpos) == len(frames):
            root_pos = kinematic_poses(scene, ref_qpos)["xpos"][:, scene.root_body_id]
        else:
            ref_qpos = None
    bundle = make_bundle(frames, masks, encoder, robot=scene.name, root_pos=root_pos, qpos=ref_qpos, prompt=prompt, source=chosen.source,
                         original_fps=chosen.fps, control_rate_hz=config.control_rate_hz,
                         resampling=str(config.interpolation), camera=dict(first.camera, height=config.height,
                                                                            width=config.width),
                         clip_len=config.clip_len, batch_size=config.embed_batch_size, extra=extra)
    t0 = step("embeddings", t0)
    save_bundle(bundle, bundle_path, overwrite=config.overwrite)
    load_bundle(bundle_path, expected_encoder=encoder, expected_clip_len=config.clip_len)
    t0 = step("bundle", t0)

    # 8. report
    summary = dict(
        bundle=str(final_bundle), robot=scene.name, prompt=prompt, backend=config.backend,
        num_candidates=len(candidates), selected=best, selection=[dataclasses.asdict(r) for r in table],
        selection_table=select.format_table(table), source=chosen.source, original_fps=chosen.fps,
        control_rate_hz=config.control_rate_hz, interpolation=str(config.interpolation),
        num_frames=int(len(frames)), duration_s=float((len(frames) - 1) / config.control_rate_hz),
        size=[config.height, config.width], segmenter=seg_name,
        mask_area_mean=float(masks.mean()), empty_mask_frames=int(len(empty)),
        mask_checks=(None if mask_checks is None else dict(mask_checks.to_summary(), forced=bool(config.force))),
        encoder=encoder.info.to_dict(), timings_s=timings,
    )
    write_report(out / "report", frames, masks, summary, fps=config.control_rate_hz,
                 candidates=[a[0] for a in aligned], selected=best, first_frame=first.image,
                 candidate_labels=[f"{i}: score {r.score:.2f}" for i, r in enumerate(table)],
                 title=f"{scene.name} | {prompt} | {chosen.source} -> {len(frames)} frames @ {config.control_rate_hz:g} Hz")
    step("report", t0)
    steps.close()
    timings["total"] = round(time.time() - t_start, 3)
    return bundle_path
