"""`ReferenceConfig`: Stage 1's settings (one flag each, via tyro) and their checks, and the parts a config builds
(the clip encoder, the segmenter, a diffusers video generator) for `prepare_reference` and `compare_references`.

Light: importing this module imports neither jax nor torch (the builders import what they need when called).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import tyro

from niljax.encoders.factory import EncoderConfig
from niljax.encoders.factory import build_encoder as build_encoder_from_config
from niljax.reference import checks
from niljax.reference.checks import threshold_problem
from niljax.reference.errors import ReferencePreparationError

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
    """replay: joint trajectory (.npz with q_<joint> arrays or qpos[T,nq]), or a walk shipped with niljax by
    name (a1-walk, h1-walk, g1-walk, talos-walk: LocoMuJoCo, 500 Hz); also sets the start pose."""
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
    min_first_frame_iou: float = checks.MIN_FIRST_FRAME_IOU
    """Mask check (import, diffusers): IoU of the segmented frame 0 with the rendered first-frame mask, at least."""
    mask_area_range: tuple[float, float] = checks.MASK_AREA_RANGE
    """Mask check: a frame's mask area / the rendered first-frame mask's area should lie in this range."""
    min_mask_connectivity: float = checks.MIN_CONNECTIVITY
    """Mask check: a frame's largest connected part's share of its mask / the first frame's share, at least."""
    max_bad_mask_frames: float = checks.MAX_BAD_FRAME_SHARE
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
        if self.backend == "replay" and not self.trajectory and not skill_has_keyframes(self.skill):
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
        problem = threshold_problem(self.min_first_frame_iou, tuple(self.mask_area_range), self.min_mask_connectivity,
                                    self.max_bad_mask_frames)
        if problem:
            raise ReferencePreparationError(problem)
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


def registered_skill(name: str) -> Any:
    """The registered `SkillSpec` called `name`, or None (free text such as "walking fast")."""
    from niljax.robots.skills import get_skill, list_skills

    return get_skill(name) if name in list_skills() else None


def skill_has_keyframes(name: str) -> bool:
    skill = registered_skill(name)
    return bool(skill is not None and skill.keyframes)


def build_encoder(config: ReferenceConfig):
    """The clip encoder whose embeddings go in the bundle (the same factory `niljax train` uses)."""
    encoder_config = dataclasses.replace(config.encoder, clip_len=config.clip_len)
    return build_encoder_from_config(encoder_config)


def diffusers_generator(config: ReferenceConfig, model: str, kind: str, gen_h: int, gen_w: int) -> Any:
    """The diffusers image-to-video generator for `model` (pipeline `kind`) at the generation size."""
    from niljax.reference import generate

    return generate.DiffusersI2VGenerator.from_pretrained(
        model, kind=kind, device=config.device, num_frames=config.num_frames,
        num_inference_steps=config.num_inference_steps, guidance_scale=config.guidance_scale,
        negative_prompt=config.negative_prompt, height=gen_h, width=gen_w, fps=config.generation_fps, seed=config.seed)


def build_segmenter(config: ReferenceConfig) -> Any:
    """SAM2 when asked for (or `auto` with a checkpoint), else the background-colour fallback."""
    from niljax.reference import segment

    if config.segmenter == "sam2" or (config.segmenter == "auto" and config.sam2_checkpoint):
        return segment.Sam2VideoSegmenter(config=config.sam2_config, checkpoint=config.sam2_checkpoint,
                                          device=config.sam2_device or "cpu")
    return segment.BackgroundColorSegmenter()
