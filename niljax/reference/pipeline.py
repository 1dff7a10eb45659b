"""`prepare_reference(config)`: robot + prompt (or videos, or a trajectory) -> validated bundle + report.

Steps: load the robot scene (plain background) -> render the first frame at the generator's resolution and save
it with its camera metadata -> N candidates from the backend -> validate each (fps, size; robot named in a
sidecar `<video>.json` must match) -> align candidates to the first frame's size (aspect check) -> best-of-N
(`select`) -> robot-mismatch check (the chosen video's frame 0 vs our first frame, MSE threshold) -> trim ->
resample to `control_rate_hz` -> align to the training camera (height x width) -> masks (SAM2 or the
background-colour fallback, prompted with our first-frame mask) -> embeddings with the Flax TimeSformer (or the
toy encoder) -> `save_bundle` (atomic: a crash leaves no bundle) -> reload with `load_bundle` (checks) -> report.

Output folder layout (`config.out`):
    bundle/                  the reference bundle (niljax.reward format)
    first_frame.png/.json    our first frame + exact camera metadata (and first_frame_mask.png)
    candidates/cand_<i>.mp4  every candidate as generated (diffusers/replay) for inspection
    report/contact_sheet.png, report/summary.json
"""

from __future__ import annotations

import dataclasses
import glob
import json
import math
import os
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tyro

from niljax.encoders.factory import EncoderConfig
from niljax.encoders.factory import build_encoder as build_encoder_from_config
from niljax.reference.errors import MaskCheckError, ReferencePreparationError, RobotMismatchError

Backend = Literal["import", "replay", "diffusers"]
PipelineKind = Literal["svd", "wan", "ltx", "cogvideox"]


@dataclass
class ReferenceConfig:
    """Stage 1 settings (CLI flags map 1:1 via tyro). Defaults follow the paper where it says something."""

    out: str = "reference_out"
    """Output folder (bundle/, report/, first frame, candidates)."""
    robot: str = "h1"
    """Registered robot name (`niljax robots list`)."""
    mjcf_path: Annotated[str | None, tyro.conf.arg(aliases=("--mjcf",))] = None
    """Explicit MJCF file for the robot (else the registry's sources); `--mjcf` works too, as in `niljax train`."""
    skill: str = "walking"
    """A registered skill (`niljax skills`, skills/<name>.toml): its scene (objects, start pose) gives the first
    frame, its prompt the generator's prompt, and its scripted keyframes the replay backend's trajectory when
    no --trajectory is given. Any other text is only put in the prompt template."""
    prompt_template: str = "The {robot} agent is {skill}, camera follows the agent."
    """Used for a skill that is not registered, or when changed from this default."""
    prompt: str | None = None
    """Full prompt (overrides the template and the skill's prompt)."""
    background: Literal["auto", "plain", "scene"] = "auto"
    """First frame and replay rendering: "plain" (robot only), "scene" (a skill's objects drawn too, floor
    hidden), "auto" = "scene" for a registered skill with objects, else "plain". Recorded in the bundle, and
    `niljax train` renders the same way by default."""
    robot_label: str | None = None
    """How the prompt names the robot (default: the robot's description or name)."""
    backend: Backend = "import"
    videos: tuple[str, ...] = ()
    """import: video files generated elsewhere (each a candidate)."""
    video_fps: float | None = None
    """import: frame-rate override (required when a file has none)."""
    trajectory: str | None = None
    """replay: joint trajectory (.npz with q_<joint> arrays or qpos[T,nq]); also sets the start pose."""
    trajectory_fps: float | None = None
    """replay: trajectory rate (default: the file's `frequency`, else 100 Hz)."""
    replay_fps: float | None = None
    """replay: subsample the rendered replay to this rate first (None = render at the trajectory rate)."""
    duration: float | None = None
    """Loop the motion cycle to this many seconds. replay: the trajectory's cycle (root carried forward cycle by
    cycle, seams blended), for a short periodic clip such as a 1 s mocap walk. import / diffusers (opt-in, for a
    periodic follow-camera video): the best cycle of frames and masks repeated, cut at the best-matching frame
    pair. None = the clip as it is."""
    period: float | None = None
    """replay with --duration: the cycle length in seconds (None = detect the best loop in the clip)."""
    start_from_trajectory: bool = True
    """Use the trajectory's first pose (when a trajectory is given) for the first frame instead of home."""
    model: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """diffusers: weights folder or hub id. Repeat (`--model A --model B`) to compare video models instead of
    building a bundle: each generates from the same first frame + prompt, best-of-N runs on each, and
    comparison/contact_sheet.png (rows = models) and comparison/table.md are written (see niljax.reference.compare)."""
    pipeline_kind: Annotated[tuple[PipelineKind, ...], tyro.conf.UseAppendAction] = ()
    """diffusers: the pipeline class of --model (default wan); once for all models or once per --model, in order."""
    num_candidates: int = 3
    num_frames: int = 49
    num_inference_steps: int = 30
    guidance_scale: float | None = None
    negative_prompt: str | None = None
    generation_fps: float | None = None
    seed: int = 0
    device: str | None = None
    gen_height: int | None = None
    """Generator resolution (first frame rendered at this size); default: the training camera's."""
    gen_width: int | None = None
    camera: str = "follow"
    """The scene camera that films the robot (the robot's follow camera by default)."""
    camera_azimuth: float = 0.0
    """Orbit the camera about the robot by this many degrees (train with the same --render.camera-azimuth)."""
    static_camera: bool = False
    """The camera stays at its first-frame pose instead of following the agent (replay renders so; the prompt
    says "static camera"); train with --render.camera-anchor static."""
    views: tuple[str, ...] = ()
    """Multi-view: one reference per view ("CAMERA[@AZIMUTH]", e.g. follow follow@90), each with its own first
    frame, candidates and checks under views/view<k>/, and bundle/ a multi-view reference folder; train with
    the same --render.views."""
    height: Annotated[int, tyro.conf.arg(aliases=("--render.height",))] = 224
    """Training-camera (bundle) resolution: must equal the env renderer's."""
    width: Annotated[int, tyro.conf.arg(aliases=("--render.width",))] = 224
    aspect_tol: float = 0.02
    allow_crop: bool = False
    select: int | None = None
    """Override the best-of-N choice with this candidate index."""
    mse_weight: float = 1.0
    max_start_mse: float = 0.08
    """Robot-mismatch threshold: MSE (in [0,1] pixel units) between the chosen video's frame 0 and ours."""
    trim_start_s: float = 0.0
    trim_end_s: float | None = None
    control_rate_hz: float = 100.0
    interpolation: str = "linear"
    """nearest | linear | flow (OpenCV Farneback) | a registered learned interpolator (e.g. rife)."""
    segmenter: Literal["auto", "sam2", "background"] = "auto"
    """auto = SAM2 when a checkpoint is given, else the background-colour fallback."""
    sam2_checkpoint: str | None = None
    sam2_config: str = "configs/sam2.1/sam2.1_hiera_l.yaml"
    sam2_device: str | None = None
    encoder: EncoderConfig = dataclasses.field(default_factory=EncoderConfig)
    """The clip encoder for the bundle's embeddings; `niljax train` must use the same one (checked on load)."""
    clip_len: int = 8
    embed_batch_size: int = 8
    allow_partial_video: bool = False
    """import: accept a video that decodes only partly (fewer frames than its container declares)."""
    min_first_frame_iou: float = 0.6
    """Mask check (import, diffusers): IoU of the segmented frame 0 with the rendered first-frame mask, at least."""
    mask_area_range: tuple[float, float] = (0.33, 3.0)
    """Mask check: a frame's mask area / the rendered first-frame mask's area should lie in this range."""
    min_mask_connectivity: float = 0.7
    """Mask check: a frame's largest connected part's share of its mask / the first frame's share, at least."""
    max_bad_mask_frames: float = 0.1
    """Mask check: the share of frames allowed outside the area range or below the connectivity ratio."""
    force: bool = False
    """Write the bundle even when the mask checks fail (their numbers are in report/summary.json either way)."""
    overwrite: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        # the Python API may name one model / kind as a plain string
        if isinstance(self.model, str):
            self.model = (self.model,)
        if isinstance(self.pipeline_kind, str):
            self.pipeline_kind = (self.pipeline_kind,)
        self.model, self.pipeline_kind = tuple(self.model or ()), tuple(self.pipeline_kind or ())

    @property
    def is_comparison(self) -> bool:
        """Several --model: compare the video models (no bundle)."""
        return self.backend == "diffusers" and len(self.model) > 1

    def model_kinds(self) -> list[tuple[str, str]]:
        """(model, pipeline kind) for every --model."""
        kinds = self.pipeline_kind or ("wan",)
        if len(kinds) == 1:
            kinds = kinds * len(self.model)
        return list(zip(self.model, kinds))

    def validate(self) -> None:
        """Raise ReferencePreparationError on inconsistent settings (before any heavy work)."""
        if self.backend == "import" and not self.videos:
            raise ReferencePreparationError("backend 'import' needs --videos FILE [FILE ...]")
        if self.backend == "replay" and not self.trajectory and not _skill_has_keyframes(self.skill):
            raise ReferencePreparationError("backend 'replay' needs --trajectory FILE (or --skill NAME of a registered "
                                            "skill with scripted keyframes)")
        if self.backend == "diffusers" and not self.model:
            raise ReferencePreparationError("backend 'diffusers' needs --model (weights folder or hub id)")
        if self.backend != "diffusers" and self.model:
            raise ReferencePreparationError(f"--model is for --backend diffusers (this run uses {self.backend!r})")
        if len(self.pipeline_kind) not in (0, 1, len(self.model)):
            raise ReferencePreparationError(
                f"--pipeline-kind was given {len(self.pipeline_kind)} times for {len(self.model)} --model: give it "
                "once (for every model) or once per --model, in the same order")
        if len(set(self.model)) != len(self.model):
            raise ReferencePreparationError(f"--model lists a model twice: {list(self.model)}")
        if self.num_candidates < 1:
            raise ReferencePreparationError(f"num_candidates must be >= 1, got {self.num_candidates}")
        if self.height < 16 or self.width < 16:
            raise ReferencePreparationError(f"training camera {self.width}x{self.height} is too small")
        if self.duration is not None and self.duration <= 0:
            raise ReferencePreparationError(f"--duration {self.duration} must be a positive number of seconds")
        if self.period is not None and (self.duration is None or self.period <= 0):
            raise ReferencePreparationError("--period needs --duration and a positive number of seconds")
        if self.control_rate_hz <= 0:
            raise ReferencePreparationError(f"control_rate_hz must be positive, got {self.control_rate_hz}")
        for flag, value in (("--trajectory-fps", self.trajectory_fps), ("--video-fps", self.video_fps),
                            ("--replay-fps", self.replay_fps), ("--generation-fps", self.generation_fps)):
            # 0 would otherwise fall back silently to the file's / default rate (`fps or ...`)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ReferencePreparationError(f"{flag} must be a positive rate in frames per second, got {value} "
                                                "(leave it out to use the file's own rate)")
        lo, hi = self.mask_area_range
        if not (0 <= self.min_first_frame_iou <= 1 and 0 <= lo <= 1 <= hi and 0 <= self.min_mask_connectivity <= 1
                and 0 <= self.max_bad_mask_frames <= 1):
            raise ReferencePreparationError(
                f"mask check thresholds out of range: --min-first-frame-iou {self.min_first_frame_iou} and "
                f"--min-mask-connectivity {self.min_mask_connectivity} and --max-bad-mask-frames "
                f"{self.max_bad_mask_frames} must lie in [0, 1], --mask-area-range {lo} {hi} must have lo <= 1 <= hi")
        if self.views:
            from niljax.render.config import RenderConfig

            try:  # the same parsing and checks as training's
                RenderConfig(views=tuple(self.views))
            except ValueError as e:
                raise ReferencePreparationError(f"--views: {e}") from e
            if self.camera != "follow" or self.camera_azimuth:
                raise ReferencePreparationError("give the camera either as --camera/--camera-azimuth or as --views")
        if self.segmenter == "sam2" and not self.sam2_checkpoint:
            raise ReferencePreparationError("segmenter 'sam2' needs --sam2-checkpoint (or use 'background')")


def _registered_skill(name: str) -> Any:
    """The registered `SkillSpec` called `name`, or None (free text such as "walking fast")."""
    from niljax.robots.skills import get_skill, list_skills

    return get_skill(name) if name in list_skills() else None


def _skill_has_keyframes(name: str) -> bool:
    skill = _registered_skill(name)
    return bool(skill is not None and skill.keyframes)


def build_encoder(config: ReferenceConfig):
    """The clip encoder whose embeddings go in the bundle (the same factory `niljax train` uses)."""
    encoder_config = dataclasses.replace(config.encoder, clip_len=config.clip_len)
    return build_encoder_from_config(encoder_config)


def _diffusers_generator(config: ReferenceConfig, model: str, kind: str, gen_h: int, gen_w: int):
    from niljax.reference import generate

    return generate.DiffusersI2VGenerator.from_pretrained(
        model, kind=kind, device=config.device, num_frames=config.num_frames,
        num_inference_steps=config.num_inference_steps, guidance_scale=config.guidance_scale,
        negative_prompt=config.negative_prompt, height=gen_h, width=gen_w, fps=config.generation_fps, seed=config.seed)


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


# What one Stage-1 run writes into `out`; with --overwrite every one of them is replaced (or removed when this
# run does not make it), so the folder never mixes parts of two runs.
OUTPUT_PARTS = ("bundle", "first_frame.png", "first_frame_mask.png", "first_frame.json", "candidates", "report",
                "comparison", "views")


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
    _staged(config, lambda stage: prepare(config, stage, bundle_path, encoder=encoder, generator=generator,
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


def compare_references(config: ReferenceConfig, *, generators: dict[str, Any] | None = None,
                       segmenter: Any = None) -> Path:
    """Stage 1's first steps with several video models (`--model A --model B ...`); returns `<out>/comparison`.

    `generators` ({label: VideoGenerator}) overrides the ones `config.model` would load (Python API / tests).
    Written through the same staging as a bundle run (and it replaces that run's parts in `out`).
    """
    config.validate()
    if generators is None and not config.is_comparison:
        raise ReferencePreparationError("a comparison needs --backend diffusers and at least two --model")
    _staged(config, lambda stage: _compare_into(config, stage, generators=generators, segmenter=segmenter))
    return Path(config.out) / "comparison"


def _staged(config: ReferenceConfig, work: Any) -> None:
    """Run `work(stage)` in a hidden staging folder next to `out`, then move its parts into `out` (see
    `prepare_reference`)."""
    out = Path(config.out)
    if (out / "bundle").exists() and not config.overwrite:
        raise FileExistsError(f"{out / 'bundle'} exists (pass --overwrite to replace it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_staging(out)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.stage-{socket.gethostname()}-{os.getpid()}-",
                                  dir=out.parent))
    try:
        work(stage)
        _publish(stage, out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _build_segmenter(config: ReferenceConfig) -> Any:
    from niljax.reference import segment

    if config.segmenter == "sam2" or (config.segmenter == "auto" and config.sam2_checkpoint):
        return segment.Sam2VideoSegmenter(config=config.sam2_config, checkpoint=config.sam2_checkpoint,
                                          device=config.sam2_device or "cpu")
    return segment.BackgroundColorSegmenter()


def _compare_into(config: ReferenceConfig, out: Path, *, generators: dict[str, Any] | None, segmenter: Any) -> None:
    from niljax.reference import align, compare, generate
    from niljax.reference.first_frame import render_first_frame
    from niljax.robots import load_robot

    scene = load_robot(config.robot, mjcf_path=config.mjcf_path, plain_background=True)
    gen_h, gen_w = config.gen_height or config.height, config.gen_width or config.width
    start_q = None
    if config.trajectory and config.start_from_trajectory:
        from niljax.reference.first_frame import load_trajectory

        start_q = load_trajectory(config.trajectory, scene, fps=config.trajectory_fps)[0][0]
    first = render_first_frame(scene, gen_h, gen_w, qpos=start_q)
    first.save(out)
    robot_label = config.robot_label or scene.name.upper()
    prompt = config.prompt or generate.format_prompt(config.prompt_template, robot=robot_label, skill=config.skill)
    kinds: dict[str, str] = {}
    if generators is None:
        generators = {}
        for model, kind in config.model_kinds():
            generators[model] = _diffusers_generator(config, model, kind, gen_h, gen_w)
            kinds[model] = kind
    first_mask = align.align_masks(first.mask[None], gen_h, gen_w)[0]
    rows, details = compare.compare_generators(
        generators, first.image, first_mask, prompt, config.num_candidates, segmenter or _build_segmenter(config),
        kinds=kinds, mse_weight=config.mse_weight, aspect_tol=config.aspect_tol, allow_crop=config.allow_crop)
    settings = dict(robot=scene.name, prompt=prompt, num_candidates=config.num_candidates, num_frames=config.num_frames,
                    num_inference_steps=config.num_inference_steps, seed=config.seed, size=[gen_h, gen_w],
                    models=dict(config.model_kinds()) if not kinds else kinds)
    compare.write_comparison(out / "comparison", rows, details, first.image, settings,
                             title=f"{scene.name} | {prompt} | {len(rows)} models x {config.num_candidates} candidates")


def _remove_stale_staging(out: Path) -> None:
    """Remove staging folders of earlier runs for `out` on this host whose process is gone (killed runs)."""
    prefix = f".{out.name}.stage-{socket.gethostname()}-"
    for path in out.parent.glob(f"{glob.escape(prefix)}*"):
        try:
            pid = int(path.name[len(prefix):].split("-", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue


def _publish(stage: Path, out: Path) -> None:
    """Move a completed run's parts from `stage` into `out`, replacing (or removing) every earlier part."""
    if not out.exists():
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(stage, 0o777 & ~umask)  # mkdtemp made it private; `out` gets a plain mkdir's mode
        os.rename(stage, out)
        stage.mkdir()  # the caller removes it
        return
    replaced = stage / ".replaced"
    replaced.mkdir()
    for name in OUTPUT_PARTS:
        if (out / name).exists() or (out / name).is_symlink():
            os.rename(out / name, replaced / name)
    for leftover in [*out.glob(".bundle.tmp-*"), *out.glob(".bundle.old-*")]:  # interrupted bundle saves
        shutil.rmtree(leftover, ignore_errors=True)
    for item in stage.iterdir():
        if item.name != replaced.name:
            os.rename(item, out / item.name)


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
    skill = _registered_skill(config.skill)
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
            generator = _diffusers_generator(config, *config.model_kinds()[0], gen_h, gen_w)
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
        segmenter = _build_segmenter(config)
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
        from niljax.reference.checks import check_masks

        mask_checks = check_masks(masks, first_mask, min_first_frame_iou=config.min_first_frame_iou,
                                  area_ratio_range=tuple(config.mask_area_range),
                                  min_connectivity=config.min_mask_connectivity,
                                  max_bad_frame_share=config.max_bad_mask_frames)
        if not mask_checks.ok and not config.force:
            raise MaskCheckError(
                f"{chosen.source}: the {seg_name} masks look wrong: {mask_checks.message()}. Check the video (a "
                "plain background like our first frame's, the same robot), use SAM2 (--sam2-checkpoint), adjust "
                "the thresholds (--min-first-frame-iou, --mask-area-range, --min-mask-connectivity, "
                "--max-bad-mask-frames), or pass --force to write the bundle anyway and inspect "
                "report/contact_sheet.png.")
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
