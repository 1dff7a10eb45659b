"""`niljax plan`: what a training config needs in device memory and FLOPs, before anything is compiled.

`plan_run(config) -> Plan` sizes every component of the compiled iteration (`niljax.train.loop`) from shapes
alone (`jax.eval_shape`, nothing allocated) and, with `flops=True`, counts FLOPs per iteration by stage with
XLA's cost analysis of the *lowered* (not compiled) programs:

| component | bytes |
|---|---|
| physics | the batched env `State` (mjx.Data, first_data for auto-reset, obs, physics quantities) x 2: the state the
  scan carries and the stepped copy live at once |
| frame history | V x N x clip_len x H x W x 4 (rgb uint8 + mask) |
| render buffers | V x N x H x W x 16 (rgb, mask, depth and geom-id planes of one render) |
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
config whose planned total exceeds `headroom` (90 %) of the device memory.

FLOPs (per training iteration): encoder = N / video_every_k x one clip (layers unrolled, so XLA counts each),
learner = updates per iteration x one BRO update, physics = N x one env step, a lower bound (XLA counts a loop
body once, and MJX's substeps and solver iterations are loops). Rendering is not counted (warp is a custom
call; the pure-JAX renderer loops over env chunks).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

from niljax.train.config import TrainConfig

GIB = 2**30
HEADROOM = 0.9  # fraction of the device memory a plan may use: XLA needs the rest for its own buffers


@dataclasses.dataclass(frozen=True)
class PlanItem:
    """One component of the plan: its name, bytes, and how the figure was obtained."""

    name: str
    bytes: int
    how: str


@dataclasses.dataclass
class Plan:
    """Memory per component, FLOPs per iteration by stage, and whether it fits the device."""

    summary: dict[str, Any]
    items: list[PlanItem]
    flops: dict[str, float | None]
    device: str
    device_memory: int | None
    headroom: float = HEADROOM

    @property
    def total_bytes(self) -> int:
        return sum(item.bytes for item in self.items)

    @property
    def fits(self) -> bool:
        return self.device_memory is None or self.total_bytes <= self.headroom * self.device_memory

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
            per_clip = act.bytes / max(self.summary["clips_per_encoder_call"], 1)
            room = budget - (self.total_bytes - act.bytes)
            chunk = int(room // per_clip) if room > 0 else 0
            if chunk >= 1:
                lines.append(f"--reward.encoder-chunk {min(chunk, n)} (clips per encoder call; now "
                             f"{self.summary['clips_per_encoder_call']})")
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
            lines.append(f"  {'device memory':<22}{self.device_memory / GIB:>10.3f}  {self.device} "
                         f"(a plan may use {self.headroom:.0%})")
        if self.flops:
            lines += ["", "  FLOPs per iteration (XLA cost analysis of the lowered programs):"]
            for name, value in self.flops.items():
                lines.append(f"  {name:<22}{format_flops(value):>16}")
        verdict = "fits" if self.fits else "DOES NOT FIT"
        lines += ["", f"  verdict: {verdict}"]
        for line in self.advice():
            lines.append(f"    change: {line}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, "device": self.device, "device_memory_bytes": self.device_memory,
                "headroom": self.headroom, "total_bytes": self.total_bytes, "fits": self.fits,
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


def detect_device_memory() -> tuple[str, int | None]:
    """(device description, usable bytes): the accelerator's `bytes_limit`, or the host's RAM on CPU."""
    import jax

    dev = jax.devices()[0]
    stats = None
    try:
        stats = dev.memory_stats()
    except Exception:  # noqa: BLE001 - some backends do not implement it
        stats = None
    if stats and stats.get("bytes_limit"):
        return f"{dev.device_kind} ({dev.platform})", int(stats["bytes_limit"])
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    return f"{dev.platform} host RAM", ram


def _tree_bytes(tree: Any) -> int:
    import jax
    import numpy as np

    return int(sum(np.prod(x.shape, dtype=np.int64) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree)))


def timesformer_config_for(encoder: Any) -> Any | None:
    """The TimesformerConfig an EncoderConfig builds, without loading weights (None for the toy encoder)."""
    from pathlib import Path

    from niljax.encoders.factory import _preset
    from niljax.encoders.timesformer import TimesformerConfig

    if encoder.kind == "toy":
        return None
    if encoder.kind == "timesformer-random":
        return _preset(encoder.preset, encoder.clip_len)
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


def plan_run(config: TrainConfig, *, device_memory: int | None = None, device: str | None = None,
             flops: bool = True, reference_frames: int | None = None, scene: Any = None, env: Any = None) -> Plan:
    """Plan a run (see the module docstring). `device_memory=None` detects the current device's; `scene`/`env`
    reuse already-built ones (else the robot is loaded and a NilEnv built: no compile)."""
    import jax
    import jax.numpy as jnp

    from niljax.learner import bro
    from niljax.reward import resolve_encoder_dtype

    n = config.num_envs
    if env is None:
        from niljax.robots import load_robot
        from niljax.sim import EnvConfig, NilEnv

        if scene is None:
            scene = load_robot(config.robot or "h1", mjcf_path=config.mjcf)
        env = NilEnv(scene, EnvConfig(horizon=10, obs_time_index=config.observe_time))
    keys = jax.ShapeDtypeStruct((n, 2), jnp.uint32)
    env_state = jax.eval_shape(jax.vmap(env.reset), keys)
    t_ref, h, w = _reference_shape(config, reference_frames)
    clip = config.reward.clip_len
    dtype_name = resolve_encoder_dtype(config.reward.encoder_dtype)
    dtype_bytes = 2 if dtype_name == "bfloat16" else 4
    tsf = timesformer_config_for(config.encoder) if config.reward.use_video else None
    views = len(config.render.view_specs())  # V camera views: V renders, histories, references, clips per env
    # the views are vmapped around the encoder's chunked map: each map step embeds V x chunk clips
    clips_per_call = views * min(config.reward.encoder_chunk or n, n) if config.reward.use_video else 0
    emb_dim = tsf.hidden_size if tsf is not None else 32
    items = [
        PlanItem("physics", 2 * _tree_bytes(env_state), "batched env State (mjx.Data, reset copy, obs) x 2"),
        PlanItem("frame history", views * n * clip * h * w * 4, "V x N x clip_len x H x W x (3 + 1)"),
        PlanItem("render buffers", views * n * h * w * 16, "V x N x H x W x 16 (rgb, mask, depth, geom id)"),
        PlanItem("reference", views * (t_ref * h * w * 4 + t_ref * emb_dim * 4),
                 f"V={views} x T={t_ref} frames + masks + embeddings"),
    ]
    params = None  # the encoder's abstract parameters (shapes only), reused by the FLOP count
    if tsf is not None:
        from niljax.encoders.timesformer import Timesformer

        pixels = jax.ShapeDtypeStruct((1, clip, tsf.image_size, tsf.image_size, 3), jnp.float32)
        params = jax.eval_shape(lambda x: Timesformer(tsf).init(jax.random.PRNGKey(0), x), pixels)
        per_clip = encoder_activation_bytes_per_clip(tsf, clip, dtype_bytes)
        items.append(PlanItem("encoder params", _tree_bytes(params), f"TimeSformer D={tsf.hidden_size}, "
                              f"{tsf.num_hidden_layers} layers, float32"))
        items.append(PlanItem("encoder activations", clips_per_call * per_clip,
                              f"{clips_per_call} clips per call x {per_clip / 2**20:.1f} MiB ({dtype_name})"))
    elif config.reward.use_video:  # toy encoder: pooled frames only
        items.append(PlanItem("encoder activations", clips_per_call * clip * h * w * 3 * 4, "toy encoder"))
    obs_dim, act_dim = int(env.obs_dim), int(env.nu)
    lcfg = config.learner
    items.append(PlanItem("replay", lcfg.replay_capacity * (2 * obs_dim + act_dim + 3) * 4,
                          f"{lcfg.replay_capacity:,} x (2 x {obs_dim} obs + {act_dim} act + 3) x 4"))
    learner = jax.eval_shape(lambda k: bro.init_learner(k, obs_dim, act_dim, lcfg), jax.ShapeDtypeStruct((2,), jnp.uint32))
    widths = lcfg.critic_width * lcfg.n_critics * (lcfg.critic_depth + 1) + lcfg.actor_width * (lcfg.actor_depth + 1)
    items.append(PlanItem("learner", _tree_bytes(learner) + lcfg.batch_size * widths * 4 * 6,
                          "LearnerState + update activations"))
    updates = lcfg.num_updates_per_iteration(n)
    flop_counts: dict[str, float | None] = {}
    if flops:
        flop_counts = _flops(config, env, tsf, params, learner, clip, dtype_name, obs_dim, act_dim, updates)
    if device_memory is None:
        detected, device_memory = detect_device_memory()
        device = device or detected
    summary = {"robot": config.robot, "num_envs": n, "views": views, "height": h, "width": w, "clip_len": clip,
               "encoder": f"{config.encoder.kind}" + (f"/{config.encoder.preset}" if config.encoder.kind ==
                                                       "timesformer-random" else ""),
               "encoder_dtype": dtype_name, "clips_per_encoder_call": clips_per_call,
               "replay_capacity": lcfg.replay_capacity, "batch_size": lcfg.batch_size,
               "updates_per_iteration": updates, "video_every_k": config.reward.video_every_k}
    return Plan(summary=summary, items=items, flops=flop_counts, device=device or "given",
                device_memory=device_memory)


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
    state = jax.eval_shape(env.reset, jax.ShapeDtypeStruct((2,), jnp.uint32))
    step = _cost(env.step, state, jax.ShapeDtypeStruct((env.nu,), f32))
    out["physics (lower bound)"] = None if step is None else step * n
    out["render"] = None
    return out


def check_fits(plan: Plan) -> None:
    """Raise `PlanRefused` (its message: the plan's table and the fields to change) when the plan does not fit."""
    if not plan.fits:
        raise PlanRefused(
            f"this config needs {plan.total_bytes / GIB:.1f} GiB, more than {plan.headroom:.0%} of the "
            f"{plan.device_memory / GIB:.1f} GiB of {plan.device}; nothing was compiled or written. The plan:\n"
            f"{plan.table()}\n(--no-memory-check skips this check; --device-memory SIZE plans for another device)")
