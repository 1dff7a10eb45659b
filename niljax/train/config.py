"""Typed, validated configuration of a Stage-2 training run (`niljax train`).

`TrainConfig` nests the per-stage configs (env, render, reward, learner) and adds what only the training
loop decides (batch of envs, budget, evaluation/checkpoint cadence, encoder choice, run folder). Every run
writes its resolved config to `run_dir/config.json`; `TrainConfig.from_dict` rebuilds it (resume, evaluate).
Defaults are the paper's / official BRO's where they exist; CPU-sized presets live in `niljax.train.demo`
and `experiments/`.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from niljax.encoders.factory import EncoderConfig
from niljax.learner.config import BROConfig
from niljax.render import RenderConfig
from niljax.reward import RewardConfig

#: Values of `MatmulPrecision` fields: JAX's `jax.default_matmul_precision` names for float32 matmuls.
MATMUL_PRECISIONS = ("default", "high", "highest", "float32", "tensorfloat32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class MatmulPrecision:
    """The precision of the float32 matrix products of each stage inside the compiled programs (applied with
    `jax.default_matmul_precision` while the stage is traced; an operation that names its own precision keeps it).

    On a CPU every value computes in float32. On an NVIDIA GPU (Ampere and later) "default" means TensorFloat-32
    (10-bit mantissa), on a TPU one bfloat16 pass; "highest" is float32 on both. The defaults keep float32 where
    the numbers are not a neural network's: physics (MuJoCo Playground asks for "highest": TF32 matmuls made its
    RL training unstable on Ampere GPUs), the camera math (poses, rays) and the learner (all of niljax's tuning was
    float32; 1.5 % of the FLOPs). The encoder's precision follows `reward.encoder_dtype` (bfloat16 inputs with
    float32 accumulation on the GPU tier; float32 at HIGHEST otherwise). docs/training.md, "Matmul precision".
    """

    physics: str = "highest"  # MJX step / reset / forward
    camera: str = "highest"  # renderer: camera orbit and anchor, the pure-JAX ray casters
    learner: str = "highest"  # BRO actor / critic forward and updates

    def __post_init__(self) -> None:
        for name in ("physics", "camera", "learner"):
            if getattr(self, name) not in MATMUL_PRECISIONS:
                raise ValueError(f"MatmulPrecision.{name} must be one of {'|'.join(MATMUL_PRECISIONS)}, got "
                                 f"{getattr(self, name)!r}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A whole training run. Fields that change array shapes (num_envs, render size, clip length) recompile."""

    reference: str = ""  # path of the reference bundle folder (Stage 1 output)
    robot: str = ""  # registered robot name; "" = the bundle's robot
    mjcf: str | None = None  # explicit MJCF path for the robot (overrides the asset sources)
    run_dir: str = ""  # "" = runs/<robot>-<time>
    seed: int = 0
    num_envs: int = 16
    total_env_steps: int = 100_000
    iterations_per_call: int = 25  # iterations fused in one jitted lax.scan between host syncs
    eval_every: int = 10_000  # env steps between evaluations (0 = only at start and end)
    eval_envs: int = 4
    # Evaluation episode length in control steps; None = the reference length. The paper's walking protocol
    # (see docs/training.md) is each robot's `[metrics] eval_horizon` (400 at 100 Hz for the humanoids, 300 for
    # A1), independent of the reference: loop a short reference to cover it.
    eval_horizon: int | None = None
    checkpoint_every: int = 10_000  # env steps between checkpoints (0 = only at the end)
    keep_checkpoints: int = 3
    random_start: bool = False  # episodes start at a random reference index (else 0)
    # Reference state initialisation: an episode starting at index s starts from the reference's own state s
    # (pose and velocity; needs `qpos` in the bundle, i.e. a replayed reference) instead of the home pose at
    # rest, and evaluation starts from state 0. For a reference that starts mid-motion (a mocap walk), where
    # the agent at rest cannot match frame 0 (see experiments/results/README.md).
    reference_start: bool = False
    # Observe the phase of a periodic reference as a clock (sin, cos of 2 pi t / phase_period), in frames; None
    # = the bundle's recorded loop period (`metadata.extra["loop_period_frames"]`, looped replays) or no clock.
    # 0 = no clock even when the bundle has a period.
    phase_period: int | None = None
    reset_noise: float = 0.0  # uniform joint-position noise (rad) at every training reset; evaluation uses none
    # ... unless this is set: uniform joint-position noise (rad) at the start of each evaluation episode, so that
    # eval_envs episodes differ and give a spread (`niljax evaluate RUN --episodes 16 --reset-noise 0.05`).
    eval_reset_noise: float = 0.0
    observe_time: bool = True  # the policy sees the reference phase t / T
    write_video: bool = True
    progress: bool = True
    # JAX's persistent compilation cache: the second start of the same run loads its compiled programs instead of
    # compiling again (`--no-compile-cache` turns it off; "" = $NILJAX_COMPILE_CACHE or ~/.cache/niljax/jax).
    compile_cache: bool = True
    compile_cache_dir: str = ""
    # Before compiling, plan the run's memory (`niljax plan`) and refuse a config that cannot fit the device,
    # naming the fields to change. device_memory: the size to plan for ("80GB"; "" = this device's).
    memory_check: bool = True
    device_memory: str = ""
    shard: bool = False  # split the envs over all devices (num_envs must be a multiple of their count)
    distributed: bool = False  # several processes: jax.distributed.initialize() first (see run.init_distributed)
    # A registered skill (`skills/<name>.toml`, docs/skills.md): the env is the skill's scene (objects, start pose,
    # action scale, fall condition) and every evaluation reports its success rate and normalised task reward.
    # "" = the skill the bundle records (`metadata.extra["skill"]`), else none (the plain robot scene).
    skill: str = ""
    # What the learner maximises: "nil" (the NIL reward from the renderings) or "task" (the skill's hand-designed
    # task reward, the RL upper bound of the paper's skill table; no rendering while training). `--reward task`.
    reward_kind: Annotated[Literal["nil", "task"], tyro.conf.arg(aliases=("--reward",))] = "nil"
    # The tier the config was made from (niljax.train.tiers: "cpu", "gpu"; "" = none). A GPU tier refuses to start
    # when JAX runs on the CPU (a CUDA/TPU plugin that failed to load) unless allow_cpu (a rehearsal).
    tier: str = ""
    allow_cpu: bool = False
    precision: MatmulPrecision = dataclasses.field(default_factory=MatmulPrecision)
    render: RenderConfig = dataclasses.field(default_factory=RenderConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=EncoderConfig)
    reward: RewardConfig = dataclasses.field(default_factory=RewardConfig)
    learner: BROConfig = dataclasses.field(default_factory=BROConfig)

    def __post_init__(self) -> None:
        if self.encoder.clip_len != self.reward.clip_len:  # the encoder's clip length follows the reward's
            object.__setattr__(self, "encoder", dataclasses.replace(self.encoder, clip_len=self.reward.clip_len))
        for name in ("num_envs", "total_env_steps", "iterations_per_call", "eval_envs", "keep_checkpoints"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive int, got {value!r}")
        for name in ("eval_every", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"TrainConfig.{name} must be a non-negative int, got {value!r}")
        if self.eval_horizon is not None and (not isinstance(self.eval_horizon, int) or self.eval_horizon < 1):
            raise ValueError(f"TrainConfig.eval_horizon must be None or a positive int, got {self.eval_horizon!r}")
        for name in ("reset_noise", "eval_reset_noise"):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.reward_kind not in ("nil", "task"):
            raise ValueError(f"TrainConfig.reward_kind must be 'nil' or 'task', got {self.reward_kind!r}")
        if self.skill:  # the one check of a skill name (train, plan, evaluate): the registered names if unknown
            from niljax.robots.skills import SkillNotFoundError, get_skill

            try:
                get_skill(self.skill)
            except SkillNotFoundError as err:
                raise ValueError(f"--skill: {err}") from None
        if self.learner.batch_size > self.learner.replay_capacity:
            raise ValueError("TrainConfig.learner.batch_size exceeds learner.replay_capacity")

    @property
    def env_steps_per_call(self) -> int:
        return self.num_envs * self.iterations_per_call

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["learner"] = self.learner.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        raw = dict(raw)
        unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        nested = {"render": RenderConfig, "encoder": EncoderConfig, "reward": RewardConfig,
                  "precision": MatmulPrecision}
        for key, typ in nested.items():
            if key in raw and isinstance(raw[key], dict):
                raw[key] = _dataclass_from_dict(typ, raw[key])
        if "learner" in raw and isinstance(raw["learner"], dict):
            raw["learner"] = BROConfig.from_dict(raw["learner"])
        return cls(**raw)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, default=_json_default) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, tuple):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _dataclass_from_dict(typ: type, raw: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(typ)}
    unknown = set(raw) - set(fields)
    if unknown:
        raise ValueError(f"unknown {typ.__name__} fields: {sorted(unknown)}")
    kwargs = {}
    for key, value in raw.items():
        default = getattr(typ, key, None) if not callable(getattr(typ, key, None)) else None
        sub = fields[key].default_factory if fields[key].default_factory is not dataclasses.MISSING else None
        if isinstance(value, dict) and sub is not None and dataclasses.is_dataclass(sub):
            value = _dataclass_from_dict(sub, value)
        elif isinstance(value, list) and isinstance(default, tuple):
            value = tuple(value)
        kwargs[key] = value
    return typ(**kwargs)
