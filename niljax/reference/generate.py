"""Generation backends: first frame + prompt -> N candidate videos.

Contract (`VideoGenerator` protocol): `generate(image uint8[H,W,3], prompt str, n int) -> list[VideoCandidate]`,
each candidate holding frames uint8[T,H',W',3], its fps (> 0), and a `source` string. Backends:

- `DiffusersI2VGenerator`: a `diffusers` image-to-video pipeline (Stable Video Diffusion, Wan 2.x I2V,
  LTX-Video, CogVideoX-I2V), from a local folder or a hub id (`from_pretrained`) or an already-built pipeline
  object (tests build tiny random ones). Candidate i uses seed `seed + i`. torch/diffusers imported lazily.
- `ImportGenerator(paths)`: videos generated elsewhere (Kling, Pika, Runway, Sora...): read from files; `n` is
  ignored (all files are candidates).
- `ReplayGenerator(render_fn, qpos, fps)`: a kinematic replay of a joint trajectory rendered by our renderer:
  an expert reference with known ground-truth masks (kept in `VideoCandidate.masks`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from niljax.reference.errors import ReferencePreparationError, require
from niljax.reference.video_io import as_rgb_frames, read_video

DEFAULT_PROMPT = "The {robot} agent is {skill}, camera follows the agent."


def format_prompt(template: str, *, robot: str, skill: str) -> str:
    """Fill the prompt template (`{robot}`, `{skill}` placeholders; the paper's template by default)."""
    try:
        return template.format(robot=robot, skill=skill)
    except (KeyError, IndexError) as err:
        raise ReferencePreparationError(
            f"prompt template {template!r} has an unknown placeholder {err}; use {{robot}} and {{skill}}"
        ) from err


@dataclass
class VideoCandidate:
    """One candidate reference video."""

    frames: np.ndarray  # uint8[T,H,W,3]
    fps: float
    source: str
    masks: np.ndarray | None = None  # bool[T,H,W] ground truth when known (replay)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.frames = as_rgb_frames(self.frames, what=self.source)
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ReferencePreparationError(f"{self.source}: fps must be positive, got {self.fps!r}")
        if self.masks is not None and np.asarray(self.masks).shape != self.frames.shape[:3]:
            raise ReferencePreparationError(
                f"{self.source}: masks {np.asarray(self.masks).shape} do not match frames {self.frames.shape[:3]}"
            )


class VideoGenerator(Protocol):
    """image uint8[H,W,3] + prompt -> n candidate videos."""

    name: str

    def generate(self, image: np.ndarray, prompt: str, n: int) -> list[VideoCandidate]: ...


# --------------------------------------------------------------------------------------------- diffusers
# Per pipeline kind: the diffusers class name, whether it takes a prompt, the kwarg carrying the frame rate
# (if any) and the rate its videos are meant to be played at (the model cards' defaults).
PIPELINE_KINDS: dict[str, dict[str, Any]] = {
    "svd": dict(cls="StableVideoDiffusionPipeline", prompt=False, fps_kwarg="fps", fps=7.0),
    "wan": dict(cls="WanImageToVideoPipeline", prompt=True, fps_kwarg=None, fps=16.0),
    "ltx": dict(cls="LTXImageToVideoPipeline", prompt=True, fps_kwarg="frame_rate", fps=24.0),
    "cogvideox": dict(cls="CogVideoXImageToVideoPipeline", prompt=True, fps_kwarg=None, fps=8.0),
}


def pipeline_kind(pipe: Any) -> str:
    """The kind key of PIPELINE_KINDS for a built diffusers pipeline object."""
    name = type(pipe).__name__
    for kind, info in PIPELINE_KINDS.items():
        if info["cls"] == name:
            return kind
    raise ReferencePreparationError(
        f"unsupported diffusers pipeline {name}; supported: {[v['cls'] for v in PIPELINE_KINDS.values()]}"
    )


@dataclass
class DiffusersI2VGenerator:
    """Image-to-video with a diffusers pipeline (see `PIPELINE_KINDS`).

    Build with `DiffusersI2VGenerator.from_pretrained(path_or_id, kind=...)` or pass `pipeline=` directly.
    `height`/`width`: generation size (None = the first frame's size; most models need multiples of 8-32).
    `fps`: playback rate of the output (None = the kind's default). `extra_kwargs` go to the pipeline call.
    """

    pipeline: Any
    num_frames: int = 25
    num_inference_steps: int = 30
    guidance_scale: float | None = None
    negative_prompt: str | None = None
    height: int | None = None
    width: int | None = None
    fps: float | None = None
    seed: int = 0
    extra_kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = "diffusers"

    def __post_init__(self) -> None:
        self.kind = pipeline_kind(self.pipeline)

    @classmethod
    def from_pretrained(cls, source: str, *, kind: str, device: str | None = None, dtype: str = "bfloat16",
                        **kwargs: Any) -> "DiffusersI2VGenerator":
        """Load a pipeline from a local folder or hub id (offline unless the hub is reachable)."""
        if kind not in PIPELINE_KINDS:
            raise ReferencePreparationError(f"unknown pipeline kind {kind!r}; choose from {sorted(PIPELINE_KINDS)}")
        torch = require("torch", "torch")
        diffusers = require("diffusers")
        pipe_cls = getattr(diffusers, PIPELINE_KINDS[kind]["cls"])
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        torch_dtype = getattr(torch, dtype) if device != "cpu" else torch.float32
        try:
            pipe = pipe_cls.from_pretrained(source, torch_dtype=torch_dtype)
        except Exception as err:
            raise ReferencePreparationError(
                f"cannot load {PIPELINE_KINDS[kind]['cls']} weights from {source!r}: {err} "
                "(give a local folder with the weights, or run online)"
            ) from err
        pipe.to(device)
        return cls(pipeline=pipe, **kwargs)

    def _call_kwargs(self, image: np.ndarray, prompt: str, seed: int) -> dict[str, Any]:
        import torch
        from PIL import Image

        info = PIPELINE_KINDS[self.kind]
        height = self.height or image.shape[0]
        width = self.width or image.shape[1]
        device = getattr(self.pipeline, "device", "cpu")
        gen_device = "cpu" if str(device).startswith("mps") else device
        kw: dict[str, Any] = dict(
            image=Image.fromarray(image).resize((width, height)),
            height=height, width=width, num_frames=self.num_frames,
            num_inference_steps=self.num_inference_steps,
            generator=torch.Generator(device=gen_device).manual_seed(seed),
            output_type="np",
        )
        if info["prompt"]:
            kw["prompt"] = prompt
            if self.negative_prompt is not None:
                kw["negative_prompt"] = self.negative_prompt
            if self.guidance_scale is not None:
                kw["guidance_scale"] = self.guidance_scale
        elif self.guidance_scale is not None:  # SVD: a linear ramp between min and max guidance
            kw["max_guidance_scale"] = self.guidance_scale
            kw["min_guidance_scale"] = min(1.0, self.guidance_scale)
        if info["fps_kwarg"] is not None:
            kw[info["fps_kwarg"]] = int(round(self.output_fps)) if self.kind == "svd" else self.output_fps
        kw.update(self.extra_kwargs)
        return kw

    @property
    def output_fps(self) -> float:
        """Playback rate of the generated frames."""
        return float(self.fps or PIPELINE_KINDS[self.kind]["fps"])

    def generate(self, image: np.ndarray, prompt: str, n: int) -> list[VideoCandidate]:
        """Run the pipeline n times (seeds seed..seed+n-1); frames come back as uint8[T,H,W,3]."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise ReferencePreparationError(f"first frame must be uint8[H,W,3], got {image.dtype}{image.shape}")
        if n < 1:
            raise ReferencePreparationError(f"number of candidates must be >= 1, got {n}")
        out = []
        for i in tqdm(range(n), desc=f"generating ({self.kind})", leave=False):
            result = self.pipeline(**self._call_kwargs(image, prompt, self.seed + i))
            video = np.asarray(result.frames[0] if hasattr(result, "frames") else result[0][0])
            if video.ndim == 4 and video.shape[1] in (1, 3, 4) and video.shape[-1] not in (1, 3, 4):
                video = np.moveaxis(video, 1, -1)  # [T,C,H,W] -> [T,H,W,C]
            out.append(VideoCandidate(video, self.output_fps, f"{self.kind}:seed{self.seed + i}",
                                      metadata=dict(backend="diffusers", kind=self.kind, seed=self.seed + i,
                                                    prompt=prompt, pipeline=type(self.pipeline).__name__)))
        return out


# --------------------------------------------------------------------------------------------- import
@dataclass
class ImportGenerator:
    """Videos generated elsewhere. `fps` overrides the files' frame rate (required when a file has none)."""

    paths: Sequence[str | os.PathLike]
    fps: float | None = None
    name: str = "import"
    allow_partial: bool = False  # accept files that decode to fewer frames than their container declares

    def generate(self, image: np.ndarray, prompt: str, n: int) -> list[VideoCandidate]:
        """Read every file (n and prompt are ignored: the videos already exist)."""
        if not self.paths:
            raise ReferencePreparationError("import backend needs at least one video file")
        out = []
        for p in self.paths:
            frames, fps = read_video(p, fps=self.fps, allow_partial=self.allow_partial)
            out.append(VideoCandidate(frames, fps, f"import:{Path(p).name}",
                                      metadata=dict(backend="import", path=str(Path(p).resolve()))))
        return out


# --------------------------------------------------------------------------------------------- replay
@dataclass
class ReplayGenerator:
    """Kinematic replay of a joint trajectory, rendered by our renderer (ground truth for validation).

    `render_fn(qpos f64[T,nq]) -> (rgb uint8[T,H,W,3], mask bool[T,H,W])`; `qpos` the trajectory at `fps`.
    """

    render_fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    qpos: np.ndarray
    fps: float
    name: str = "replay"

    def generate(self, image: np.ndarray, prompt: str, n: int) -> list[VideoCandidate]:
        """One candidate: the rendered trajectory with its true masks (n and prompt are ignored)."""
        qpos = np.asarray(self.qpos)
        if qpos.ndim != 2 or len(qpos) < 2:
            raise ReferencePreparationError(f"replay trajectory must be qpos[T>=2, nq], got shape {qpos.shape}")
        rgb, mask = self.render_fn(qpos)
        return [VideoCandidate(np.asarray(rgb), self.fps, "replay", masks=np.asarray(mask, bool),
                               metadata=dict(backend="replay", num_steps=int(len(qpos))))]
