"""`niljax plan`: what a training config needs in device memory and FLOPs, before anything is compiled.

`plan_run(config) -> Plan` sizes every component of the compiled iteration (`niljax.train.loop`) from shapes
alone (`jax.eval_shape`, nothing allocated) and, with `flops=True`, counts FLOPs per iteration by stage with
XLA's cost analysis of the *lowered* (not compiled) programs:

| component | bytes |
|---|---|
| physics | the batched env `State` (mjx.Data, first_data for auto-reset, obs, physics quantities) x 2: the state the
  scan carries and the stepped copy live at once |
| frame history | V x N x clip_len x H x W x 4 (rgb uint8 + mask) |
| render buffers | (V, + 1 with camera_anchor "both") x N x H x W x 16 (rgb, mask, depth and geom-id planes) |
| encoder input | V x N x clip_len x H x W x 4: the clips read out of the ring-buffer history in time order |
| reference | V x (T x H x W x 4 + T x D x 4) (frames, masks, clip embeddings) |
| encoder params | the TimeSformer's parameters (float32) |
| encoder activations | clips per call (reward.encoder_chunk, or N) x the per-clip peak of one layer: pixels
  T x S^2 x 3 x 4, token states S_tok x (3D + I) x b + S_tok x D x 12, spatial attention T x h x (P+1)^2 x (4 + b),
  temporal attention P x h x T^2 x (4 + b); S_tok = 1 + P T, b = 2 (bfloat16) or 4 |
| replay | capacity x (2 obs + act + 3) x 4 |
| learner | the `LearnerState` (params, targets, optimiser moments) + update activations (batch x widths x depth) |

The activation formula is checked against XLA's own memory analysis of the compiled encoder in
tests/test_plan.py. What the plan cannot see: XLA's fusion buffers beyond these, the renderer's private
workspace (warp's BVH, ~1 KB per geom and env), allocator fragmentation; `niljax train` therefore refuses a
config whose planned total exceeds `headroom` (90 %) of the device's limit.

The limit (`DeviceLimit`, printed with every plan) is what XLA's allocator may hand out, not the memory on the
box: on a GPU, XLA takes `XLA_PYTHON_CLIENT_MEM_FRACTION` of the memory (0.75 when unset; with or without
preallocation), which is the `bytes_limit` the device reports. So:
- on an accelerator, the limit is its `bytes_limit` (an H100 80 GB: about 60 GiB);
- `--device-memory 80GB` plans for a device with 80 GiB of memory under the same fraction (60 GiB), and
  `--device-memory 16GB@1.0` states the fraction (a TPU's limit is all its memory);
- without an accelerator (JAX's backend is the CPU), a config made from an accelerator tier (`targets_accelerator`)
  is planned for an 80 GB GPU under that fraction, never against the host's RAM; any other config is planned
  against the host's RAM, and the plan says so.

`reward.encoder_chunk = "auto"` is resolved here: the largest chunk whose activations fit what the other
components leave of the limit (as few encoder calls as that allows, spread evenly over N so that the last
chunk's zero-padding is smallest); `Plan.resolve(config)` puts it into the config a run is built with.

FLOPs (per training iteration): encoder = N / video_every_k x one clip (layers unrolled, so XLA counts each),
learner = updates per iteration x one BRO update, physics = N x one env step, a lower bound (XLA counts a loop
body once, and MJX's substeps and solver iterations are loops). Rendering is not counted (warp is a custom
call; the pure-JAX renderer loops over env chunks).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
from typing import Any

from niljax.train.config import TrainConfig

GIB = 2**30
HEADROOM = 0.9  # fraction of the device's limit a plan may use: XLA needs the rest for its own buffers
XLA_DEFAULT_MEM_FRACTION = 0.75  # XLA's GPU allocator takes this share of the memory unless told otherwise
DEFAULT_ACCELERATOR = "80GB"  # what a GPU/TPU config is planned for on a host without an accelerator (an H100)


@dataclasses.dataclass(frozen=True)
class PlanItem:
    """One component of the plan: its name, bytes, and how the figure was obtained."""

    name: str
    bytes: int
    how: str


@dataclasses.dataclass(frozen=True)
class DeviceLimit:
    """The memory a plan is compared with: `limit` bytes that XLA's allocator may hand out on device `name` (None:
    unknown, no verdict), `source`: how that figure was obtained (printed with the plan), `accelerator`: False
    when it is the host's RAM."""

    name: str
    limit: int | None
    source: str
    accelerator: bool = True


def xla_mem_fraction() -> float:
    """The share of a GPU's memory XLA's allocator takes: $XLA_PYTHON_CLIENT_MEM_FRACTION, else 0.75."""
    raw = os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION", "")
    try:
        value = float(raw) if raw else XLA_DEFAULT_MEM_FRACTION
    except ValueError:
        raise ValueError(f"XLA_PYTHON_CLIENT_MEM_FRACTION={raw!r} is not a number (e.g. .75)") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"XLA_PYTHON_CLIENT_MEM_FRACTION={raw!r} must lie in (0, 1]")
    return value


def planned_device(spec: str) -> DeviceLimit:
    """`--device-memory` -> DeviceLimit: "80GB" = a device with 80 GiB whose XLA allocator takes
    `xla_mem_fraction()` of it (60 GiB by default); "80GB@0.9" states the fraction; "16GB@1" a device whose limit
    is all its memory (a TPU)."""
    size, _, frac = str(spec).partition("@")
    memory = parse_bytes(size)
    if frac:
        try:
            fraction = float(frac)
        except ValueError:
            fraction = -1.0
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"--device-memory {spec!r}: the fraction after '@' must lie in (0, 1] (e.g. 80GB@0.75)")
        how = f"{memory / GIB:.1f} GiB x {fraction:g} (the fraction given)"
    else:
        fraction = xla_mem_fraction()
        env = os.environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION")
        why = f"XLA_PYTHON_CLIENT_MEM_FRACTION={env}" if env else "XLA's default, XLA_PYTHON_CLIENT_MEM_FRACTION unset"
        how = f"{memory / GIB:.1f} GiB x {fraction:g} ({why})"
    return DeviceLimit(name=f"{size.strip()} device (planned)", limit=int(memory * fraction), source=how)


def targets_accelerator(config: TrainConfig) -> bool:
    """Whether a config is meant for a GPU/TPU: it was made from an accelerator tier (`config.tier`,
    niljax.train.tiers)."""
    name = getattr(config, "tier", "")
    if not name:
        return False
    from niljax.train.tiers import TIERS

    tier = TIERS.get(name)
    return bool(tier is not None and tier.accelerator)


def device_limit(config: TrainConfig) -> DeviceLimit:
    """The limit a plan of `config` is compared with (see the module docstring): `config.device_memory` when
    set, else this device's `bytes_limit`; without an accelerator, the host's RAM, or for a config that targets
    one (`targets_accelerator`) an 80 GB GPU."""
    if config.device_memory:
        return planned_device(config.device_memory)
    found = detect_device_limit()
    if found.accelerator or not targets_accelerator(config):
        return found
    planned = planned_device(DEFAULT_ACCELERATOR)
    return dataclasses.replace(
        planned, name=f"{DEFAULT_ACCELERATOR} GPU (planned: no accelerator here, JAX's backend is the CPU)",
        source=f"{planned.source}; this config targets a GPU/TPU, so it is not planned against the host's RAM "
               "(--device-memory SIZE plans for another device)")


@dataclasses.dataclass
class Plan:
    """Memory per component, FLOPs per iteration by stage, the limit it is compared with, and whether it fits."""

    summary: dict[str, Any]
    items: list[PlanItem]
    flops: dict[str, float | None]
    limit: DeviceLimit
    headroom: float = HEADROOM

    @property
    def device(self) -> str:
        return self.limit.name

    @property
    def device_memory(self) -> int | None:
        """The limit in bytes (None: unknown)."""
        return self.limit.limit

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    @property
    def budget_bytes(self) -> float | None:
        """What the plan may use: `headroom` x the limit."""
        return None if self.device_memory is None else self.headroom * self.device_memory

    @property
    def fits(self) -> bool:
        return self.device_memory is None or self.total_bytes <= self.headroom * self.device_memory

    @property
    def encoder_chunk(self) -> int:
        """Clips per encoder call per view that the plan assumed (0 = all N): the config's, or "auto" resolved."""
        return int(self.summary["encoder_chunk"])

    def resolve(self, config: TrainConfig) -> TrainConfig:
        """`config` with reward.encoder_chunk = "auto" replaced by the plan's chunk (unchanged otherwise)."""
        if config.reward.encoder_chunk != "auto":
            return config
        return dataclasses.replace(config, reward=dataclasses.replace(config.reward, encoder_chunk=self.encoder_chunk))

    def advice(self) -> list[str]:
        """The fields to change, largest component first (empty when the plan fits)."""
        if self.fits:
            return []
        budget = self.headroom * self.device_memory
        over = self.total_bytes - budget
        lines = []
        by_name = {item.name: item for item in self.items}
        act = by_name.get("encoder activations")
        n = self.summary["num_envs"]
        if act is not None and act.bytes > 0:
            chunk = _largest_chunk(budget - (self.total_bytes - act.bytes),
                                   act.bytes / max(self.summary["clips_per_encoder_call"], 1),
                                   self.summary["views"], n)
            if chunk >= 1 and chunk != self.encoder_chunk:
                lines.append(f"--reward.encoder-chunk {chunk} or auto (clips per encoder call and view; now "
                             f"{self.encoder_chunk or 'all ' + str(n)})")
        replay = by_name.get("replay")
        if replay is not None and replay.bytes > over:
            per = replay.bytes / self.summary["replay_capacity"]
            lines.append(f"--learner.replay-capacity {int((replay.bytes - over) // per)} (now "
                         f"{self.summary['replay_capacity']})")
        per_env = sum(by_name[k].bytes for k in ("physics", "frame history", "render buffers") if k in by_name) / n
        if per_env > 0:
            fixed = self.total_bytes - per_env * n
            fewer = int((budget - fixed) // per_env) if budget > fixed else 0
            if 0 < fewer < n:
                lines.append(f"--num-envs {fewer} (now {n})")
        lines.append("or a smaller render size (--height/--width, a new bundle) or clip length (--clip-len)")
        return lines

    def table(self) -> str:
        """Human-readable table: components, totals, FLOPs, the verdict and what to change."""
        s = self.summary
        lines = [f"plan: {s['robot'] or 'robot from the bundle'}, N={s['num_envs']}, {s['height']}x{s['width']}, "
                 f"clip {s['clip_len']}, encoder {s['encoder']} ({s['encoder_dtype']}, "
                 f"{s['clips_per_encoder_call']} clips per call), replay {s['replay_capacity']:,}, "
                 f"batch {s['batch_size']}",
                 "", f"  {'component':<22}{'GiB':>10}  how"]
        for item in self.items:
            lines.append(f"  {item.name:<22}{item.bytes / GIB:>10.3f}  {item.how}")
        lines.append(f"  {'total':<22}{self.total_bytes / GIB:>10.3f}")
        if self.device_memory is not None:
            lines.append(f"  {'device limit':<22}{self.device_memory / GIB:>10.3f}  {self.device}: {self.limit.source}")
            lines.append(f"  {'plan may use':<22}{self.budget_bytes / GIB:>10.3f}  {self.headroom:.0%} of the limit "
                         "(XLA's own buffers need the rest)")
        else:
            lines.append(f"  {'device limit':<22}{'unknown':>10}  {self.device}: {self.limit.source}")
        if self.flops:
            lines += ["", "  FLOPs per iteration (XLA cost analysis of the lowered programs):"]
            for name, value in self.flops.items():
                lines.append(f"  {name:<22}{format_flops(value):>16}")
        if self.device_memory is None:
            verdict = "unknown (no device limit)"
        elif self.fits:
            verdict = "fits" if self.limit.accelerator else "fits the host's RAM (no accelerator: JAX's backend is the CPU)"
        else:
            verdict = "DOES NOT FIT"
        lines += ["", f"  verdict: {verdict}"]
        for line in self.advice():
            lines.append(f"    change: {line}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "device": self.device, "device_memory_bytes": self.device_memory,
                "device_limit": dataclasses.asdict(self.limit), "headroom": self.headroom,
                "budget_bytes": self.budget_bytes, "total_bytes": self.total_bytes, "fits": self.fits,
                "items": [dataclasses.asdict(i) for i in self.items], "flops_per_iteration": self.flops,
                "advice": self.advice()}


def format_flops(value: float | None) -> str:
    """1.2e15 -> "1.20 PFLOP"; None -> "n/a"."""
    if value is None:
        return "n/a"
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if value >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:.0f} FLOP"


class PlanRefused(ValueError):
    """The config's planned memory exceeds the device's; the message is the plan's table."""


_SIZE = re.compile(r"^\s*([0-9.]+)\s*([KMGT]?)(i?)B?\s*$", re.IGNORECASE)


def parse_bytes(text: str) -> int:
    """"80GB" / "141 GiB" / "24g" / "1.5T" / "1000000" -> bytes (GB and GiB both read as 2^30: device specs
    say GB for binary sizes)."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"cannot read a memory size from {text!r} (examples: 80GB, 141GiB, 24G)")
    scale = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}[m.group(2).upper()]
    return int(float(m.group(1)) * scale)


def detect_device_limit() -> DeviceLimit:
    """This process's device: the accelerator's `bytes_limit` (XLA's allocator limit), or the host's RAM when
    JAX's backend is the CPU."""
    import jax

    dev = jax.devices()[0]
    stats = None
    try:
        stats = dev.memory_stats()
    except Exception:  # noqa: BLE001 - some backends do not implement it
        stats = None
    if dev.platform != "cpu" and stats and stats.get("bytes_limit"):
        limit = int(stats["bytes_limit"])
        return DeviceLimit(name=f"{dev.device_kind} ({dev.platform})", limit=limit,
                           source=f"bytes_limit reported by the device: {limit / GIB:.1f} GiB (on a GPU, "
                                  f"XLA_PYTHON_CLIENT_MEM_FRACTION of its memory, {xla_mem_fraction():g} here)")
    if dev.platform != "cpu":
        return DeviceLimit(name=f"{dev.device_kind} ({dev.platform})", limit=None,
                           source="the device reports no bytes_limit (--device-memory SIZE sets one)")
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    return DeviceLimit(name="cpu host RAM", limit=ram, accelerator=False,
                       source="no accelerator (JAX's backend is the CPU): the host's physical memory")


def _largest_chunk(room: float, per_clip: float, views: int, n: int) -> int:
    """The encoder chunk (clips per call and view; 0 = all N) whose activations, V x chunk x per_clip, fit
    `room` bytes: as few calls as that allows, the N clips spread evenly over them (least padding); 1 when not
    even one clip fits (the plan then refuses)."""
    if per_clip <= 0 or views * n * per_clip <= room:
        return 0
    most = int(room // (views * per_clip))
    if most < 1:
        return 1
    calls = -(-n // most)
    return -(-n // calls)


# Shapes traced once per process: tracing an MJX reset or TimeSformer-base's init takes seconds, and a plan is
# made for several sizes of the same robot and encoder (benchmarks/plan_gpu_tier.py, the tests).
_ENVS: dict[tuple, tuple[Any, Any]] = {}  # (robot, mjcf, observe_time) -> (scene, NilEnv)
_ENV_STATES: dict[int, tuple[Any, Any]] = {}  # id(env) -> (env, kept alive so that the id stays its own; State)


def _one_env_state(env: Any) -> Any:
    """The abstract State of one env after reset (shapes only)."""
    import jax
    import jax.numpy as jnp

    hit = _ENV_STATES.get(id(env))
    if hit is None or hit[0] is not env:
        hit = _ENV_STATES[id(env)] = (env, jax.eval_shape(env.reset, jax.ShapeDtypeStruct((2,), jnp.uint32)))
    return hit[1]


@functools.lru_cache(maxsize=8)
def _timesformer_params(tsf: Any, clip: int) -> Any:
    """The TimeSformer's abstract parameters (shapes only) for clips of `clip` frames."""
    import jax
    import jax.numpy as jnp

    from niljax.encoders.timesformer import Timesformer

    pixels = jax.ShapeDtypeStruct((1, clip, tsf.image_size, tsf.image_size, 3), jnp.float32)
    return jax.eval_shape(lambda x: Timesformer(tsf).init(jax.random.PRNGKey(0), x), pixels)


def _tree_bytes(tree: Any) -> int:
    import jax
    import numpy as np

    return int(sum(np.prod(x.shape, dtype=np.int64) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree)))


def timesformer_config_for(encoder: Any) -> Any | None:
    """The TimesformerConfig an EncoderConfig builds, without loading weights (None for the toy encoder)."""
    from pathlib import Path

    from niljax.encoders.kinds.timesformer_random import timesformer_preset
    from niljax.encoders.timesformer import TimesformerConfig

    if encoder.kind not in ("timesformer", "timesformer-random"):  # toy, i3d: not planned here (yet)
        return None
    if encoder.kind == "timesformer-random":
        return timesformer_preset(encoder.preset, encoder.clip_len)
    local = Path(encoder.weights) / "config.json"
    return TimesformerConfig.from_hf_config(local) if local.is_file() else TimesformerConfig.base_k400()


def encoder_activation_bytes_per_clip(tsf: Any, clip_len: int, dtype_bytes: int) -> int:
    """Peak activation bytes of one clip through one TimeSformer layer (inference keeps one layer live); see the
    module docstring for the terms."""
    size, patch = tsf.image_size, tsf.patch_size
    p = (size // patch) ** 2
    t, d, i, h = clip_len, tsf.hidden_size, tsf.intermediate_size, tsf.num_attention_heads
    tokens = 1 + p * t
    pixels = t * size * size * 3 * 4
    states = tokens * (3 * d + i) * dtype_bytes + tokens * d * 12
    spatial = t * h * (p + 1) ** 2 * (4 + dtype_bytes)
    temporal = p * h * t * t * (4 + dtype_bytes)
    return int(pixels + states + spatial + temporal)


def _reference_shape(config: TrainConfig, reference_frames: int | None) -> tuple[int, int, int]:
    """(T, H, W) of the reference: from the bundle's metadata when there is one, else the config and
    `reference_frames` (default 500)."""
    from pathlib import Path

    meta = Path(config.reference) / "metadata.json" if config.reference else None
    if meta is not None and meta.is_file():
        raw = json.loads(meta.read_text())
        frames = raw.get("num_frames") or raw.get("frames")
        if frames:
            return int(frames), int(raw["height"]), int(raw["width"])
    return int(reference_frames or 500), config.render.height, config.render.width


def check_views_exist(config: TrainConfig, scene: Any) -> None:
    """ValueError naming the scene's cameras when a camera view of `config.render` is not one of them: the check
    `niljax train` makes (`niljax.robots.camera_index`), here against the robot's scene, or the skill's (it adds
    the `static` camera) when the config names a skill."""
    from niljax.robots.scene import camera_index

    model = scene.mj_model
    if config.skill:
        from niljax.robots import load_skill_scene

        model = load_skill_scene(config.robot or "h1", config.skill, mjcf_path=config.mjcf).mj_model
    for view in config.render.view_specs():
        camera_index(model, view.camera)


def plan_run(config: TrainConfig, *, limit: DeviceLimit | None = None, device_memory: int | None = None,
             device: str | None = None, flops: bool = True, reference_frames: int | None = None, scene: Any = None,
             env: Any = None) -> Plan:
    """Plan a run (see the module docstring) against `limit` (None: `device_limit(config)`; `device_memory`
    bytes, named `device`, is a limit taken as is); `scene`/`env` reuse already-built ones (else the robot is
    loaded and a NilEnv built: no compile). reward.encoder_chunk = "auto" is resolved against that limit."""
    import jax
    import jax.numpy as jnp

    from niljax.learner import bro
    from niljax.reward import resolve_encoder_dtype

    n = config.num_envs
    if env is None:
        from niljax.robots import load_robot
        from niljax.sim import EnvConfig, NilEnv

        key = (config.robot, config.mjcf, config.observe_time)
        if scene is None and key in _ENVS:  # the same robot planned again (other sizes): loaded and traced once
            scene, env = _ENVS[key]
        else:
            if scene is None:
                scene = load_robot(config.robot or "h1", mjcf_path=config.mjcf)
                _ENVS[key] = (scene, env := NilEnv(scene, EnvConfig(horizon=10, obs_time_index=config.observe_time)))
            else:
                env = NilEnv(scene, EnvConfig(horizon=10, obs_time_index=config.observe_time))
        check_views_exist(config, scene)
    # one env's State x N: what the vmapped reset holds (every leaf gets the env axis), traced once per env
    one_state = _one_env_state(env)
    env_state_bytes = n * _tree_bytes(one_state)
    t_ref, h, w = _reference_shape(config, reference_frames)
    clip = config.reward.clip_len
    dtype_name = resolve_encoder_dtype(config.reward.encoder_dtype)
    dtype_bytes = 2 if dtype_name == "bfloat16" else 4
    tsf = timesformer_config_for(config.encoder) if config.reward.use_video else None
    views = len(config.render.view_specs())  # V camera views: V renders, histories, references, clips per env
    if limit is None:
        limit = (device_limit(config) if device_memory is None else
                 DeviceLimit(name=device or "given", limit=int(device_memory), source="given as is"))
    auto = config.reward.encoder_chunk == "auto"
    chunk = n if auto else min(config.reward.encoder_chunk or n, n)  # "auto": sized below, once the rest is known
    # the views are vmapped around the encoder's chunked map: each map step embeds V x chunk clips
    clips_per_call = views * chunk if config.reward.use_video else 0
    emb_dim = tsf.hidden_size if tsf is not None else 32
    renders = views + (config.render.camera_anchor == "both")  # "both": one more (agent-anchored) render, its mask
    items = [
        PlanItem("physics", 2 * env_state_bytes, "batched env State (mjx.Data, reset copy, obs) x 2"),
        PlanItem("frame history", views * n * clip * h * w * 4, "V x N x clip_len x H x W x (3 + 1)"),
        PlanItem("render buffers", renders * n * h * w * 16,
                 f"{renders} renders x N x H x W x 16 (rgb, mask, depth, geom id)"),
        # the encoder's input: the clips read out of the ring-buffer history in time order (one copy of it)
        PlanItem("encoder input", views * n * clip * h * w * 4 if config.reward.use_video else 0,
                 "V x N x clip_len x H x W x (3 + 1): clips in time order"),
        PlanItem("reference", views * (t_ref * h * w * 4 + t_ref * emb_dim * 4),
                 f"V={views} x T={t_ref} frames + masks + embeddings"),
    ]
    params = None  # the encoder's abstract parameters (shapes only), reused by the FLOP count
    per_clip = 0
    if tsf is not None:
        params = _timesformer_params(tsf, clip)
        per_clip = encoder_activation_bytes_per_clip(tsf, clip, dtype_bytes)
        items.append(PlanItem("encoder params", _tree_bytes(params), f"TimeSformer D={tsf.hidden_size}, "
                              f"{tsf.num_hidden_layers} layers, float32"))
        act_how = f"{per_clip / 2**20:.1f} MiB ({dtype_name})"
    elif config.reward.use_video:  # toy encoder: pooled frames only
        per_clip = clip * h * w * 3 * 4
        act_how = "toy encoder"
    obs_dim, act_dim = int(env.obs_dim), int(env.nu)
    lcfg = config.learner
    items.append(PlanItem("replay", lcfg.replay_capacity * (2 * obs_dim + act_dim + 3) * 4,
                          f"{lcfg.replay_capacity:,} x (2 x {obs_dim} obs + {act_dim} act + 3) x 4"))
    learner = jax.eval_shape(lambda k: bro.init_learner(k, obs_dim, act_dim, lcfg), jax.ShapeDtypeStruct((2,), jnp.uint32))
    widths = lcfg.critic_width * lcfg.n_critics * (lcfg.critic_depth + 1) + lcfg.actor_width * (lcfg.actor_depth + 1)
    items.append(PlanItem("learner", _tree_bytes(learner) + lcfg.batch_size * widths * 4 * 6,
                          "LearnerState + update activations"))
    if config.reward.use_video:
        if auto and limit.limit is not None:  # the largest chunk the rest of the plan leaves room for
            chunk = _largest_chunk(HEADROOM * limit.limit - sum(i.bytes for i in items), per_clip, views, n) or n
            clips_per_call = views * chunk
        auto_note = f" ('auto' for this limit: {chunk} per view)" if auto else ""
        items.insert(next((i for i, it in enumerate(items) if it.name == "replay"), len(items)),
                     PlanItem("encoder activations", clips_per_call * per_clip,
                              f"{clips_per_call} clips per call x {act_how}{auto_note}"))
    updates = lcfg.num_updates_per_iteration(n)
    flop_counts: dict[str, float | None] = {}
    if flops:
        flop_counts = _flops(config, env, tsf, params, learner, clip, dtype_name, obs_dim, act_dim, updates)
    summary = {"robot": config.robot, "num_envs": n, "views": views, "height": h, "width": w, "clip_len": clip,
               "encoder": f"{config.encoder.kind}" + (f"/{config.encoder.preset}" if config.encoder.kind ==
                                                       "timesformer-random" else ""),
               "encoder_dtype": dtype_name, "clips_per_encoder_call": clips_per_call,
               "encoder_chunk": 0 if chunk >= n else chunk, "encoder_chunk_setting": config.reward.encoder_chunk,
               "replay_capacity": lcfg.replay_capacity, "batch_size": lcfg.batch_size,
               "updates_per_iteration": updates, "video_every_k": config.reward.video_every_k}
    return Plan(summary=summary, items=items, flops=flop_counts, limit=limit)


def _cost(fn: Any, *args: Any) -> float | None:
    import jax

    try:
        cost = jax.jit(fn).lower(*args).cost_analysis()
    except Exception:  # noqa: BLE001 - a backend without cost analysis: the figure is unknown, not an error
        return None
    if isinstance(cost, list):
        cost = cost[0] if cost else None
    return float(cost["flops"]) if cost and "flops" in cost else None


def _flops(config: TrainConfig, env: Any, tsf: Any, params: Any, learner: Any, clip: int, dtype_name: str,
           obs_dim: int, act_dim: int, updates: int) -> dict[str, float | None]:
    """FLOPs per iteration by stage; `params` / `learner` are the abstract encoder parameters and LearnerState."""
    import jax
    import jax.numpy as jnp

    from niljax.learner import bro
    from niljax.learner.replay import Transition

    n = config.num_envs
    out: dict[str, float | None] = {}
    if tsf is not None:
        from niljax.encoders.timesformer import Timesformer

        dtype = jnp.bfloat16 if dtype_name == "bfloat16" else jnp.float32
        model = Timesformer(tsf, dtype=dtype, unroll_layers=True)
        pixels = jax.ShapeDtypeStruct((1, clip, tsf.image_size, tsf.image_size, 3), jnp.float32)
        one = _cost(lambda p, x: model.apply(p, x).cls_embedding, params, pixels)
        views = len(config.render.view_specs())  # every view's clip is embedded
        out["encoder"] = None if one is None else one * n * views / config.reward.video_every_k
    b = config.learner.batch_size
    f32 = jnp.float32
    batch = Transition(obs=jax.ShapeDtypeStruct((b, obs_dim), f32), action=jax.ShapeDtypeStruct((b, act_dim), f32),
                       reward=jax.ShapeDtypeStruct((b,), f32), next_obs=jax.ShapeDtypeStruct((b, obs_dim), f32),
                       terminated=jax.ShapeDtypeStruct((b,), f32), truncated=jax.ShapeDtypeStruct((b,), f32))
    one_update = _cost(bro.update, learner, batch)
    out["learner"] = None if one_update is None else one_update * updates
    state = _one_env_state(env)
    step = _cost(env.step, state, jax.ShapeDtypeStruct((env.nu,), f32))
    out["physics (lower bound)"] = None if step is None else step * n
    out["render"] = None
    return out


def check_fits(plan: Plan) -> None:
    """Raise `PlanRefused` (its message: the plan's table and the fields to change) when the plan does not fit."""
    if not plan.fits:
        raise PlanRefused(
            f"this config needs {plan.total_bytes / GIB:.1f} GiB, more than {plan.headroom:.0%} of the "
            f"{plan.device_memory / GIB:.1f} GiB limit of the {plan.device} ({plan.limit.source}); nothing was "
            f"compiled or written. The plan:\n{plan.table()}\n(--no-memory-check skips this check; "
            "--device-memory SIZE plans for another device, e.g. 80GB or 141GB)")
