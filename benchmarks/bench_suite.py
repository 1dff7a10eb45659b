"""End-to-end suite: niljax against an original-style NIL loop, the same minutes, stage by stage, one JSON + PNG.

    python benchmarks/bench_suite.py --preset cpu          # H1 (LocoMuJoCo MJCF) at the paper table's CPU tier
    python benchmarks/bench_suite.py --preset gpu          # H1 at the GPU tier (224 px, TimeSformer-base size)
    python benchmarks/bench_suite.py --preset smoke        # toy arm, tiny everything (the test runs this)
    python benchmarks/bench_suite.py --preset cpu --robot g1 --mjcf ../shared/locomujoco/models/unitree_g1/g1.xml

What runs, in this order, in one process:
 1. a reference bundle: a static home-pose clip of `--robot` from the scene loaded from `--mjcf` (speed does
    not depend on what the reference shows), rendered with the training renderer, embedded by the encoder;
 2. the original-style baseline (`original_style_nil.py`: one env, C MuJoCo, `mujoco.Renderer`, PyTorch HF
    TimeSformer, numpy IoU/penalties/replay, official-style JAX BRO updates on host-sampled batches), video
    term every step (k = 1) and every 8 steps (k = 8);
 3. niljax `NilTrainer.train_chunk` for each N of the ladder, k = 1 and k = 8, timed after compilation over
    at least the preset's `chunks` and `min_seconds`; in priority order (largest N and N = 1 first, see
    `run_order`), and with `--budget-s` no run starts past the budget (the JSON lists what was skipped);
    the (N, k = 8) run starts from the (N, k = 1) trainer's compiled init (same state, one compile per N); the
    smoke preset compiles all runs' programs ahead in worker threads (`Preset.compile_ahead`);
 4. the per-stage split of the niljax iteration at the split Ns: each stage's jitted function timed on the
    same state (policy, physics, render (+ frame history push), encoder (clip assembly + TimeSformer +
    cosine), IoU + penalties, replay insert + sample, BRO updates), against the fused iteration's time;
 5. roofline: the encoder's FLOPs per iteration (XLA cost analysis of the TimeSformer forward,
    `bench_timesformer.flops_per_clip`) and its achieved fraction of a large matmul measured in this run
    (bf16 on an accelerator, f32 on CPU);
 6. the baseline again (k = 1 and k = 8): the machine is shared, so the baseline brackets the niljax runs in
    time and its figure is the mean of the two measurements (both are recorded).

Same per-env work on both sides: the same scene, render size and camera views (`camera_anchor="both"`
renders two views per step on both sides), encoder architecture and clip length, network sizes, and the
replay ratio in niljax's meaning (replayed samples per collected transition = `replay_ratio` x 128). The
baseline does `replay_ratio` updates of batch 128 per env step (official BRO); niljax at N = 1 does the same;
at N >= 2 it uses the preset's batch B with K = replay_ratio * N * 128 / B updates per iteration (so K * B
samples = the same samples per env step, in fewer sequential steps: see docs/learner.md). `random_steps` = 0
and no resets: every timed step includes its updates.

Output: `benchmarks/results/suite_<preset>_<device>.json` and `.png` (or `--out-dir`), rewritten after every
run (`complete` is true once all ran); every baseline and niljax run records the 1-minute load average. The PNG: env-steps/s
vs N (niljax k = 1 and 8, the baseline's two figures as horizontal lines) and stacked bars of each stage's
share of an env step (the baseline, niljax at the split Ns; ms per env step written on the segments, the
stage sum and the fused iteration's ms per env step under each bar).
"""

from __future__ import annotations

from niljax import _runtime

_runtime.configure(offline_hub=True)

import argparse
import dataclasses
import functools
import importlib.metadata as md
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling benchmark modules
from bench_timesformer import flops_per_clip, machine_name, time_calls
from bench_train import time_niljax
from original_style_nil import STAGES, OriginalStyleNIL

from niljax.encoders.factory import EncoderConfig
from niljax.learner import bro
from niljax.learner.bro import BROConfig
from niljax.learner.replay import Transition, replay_insert, replay_sample
from niljax.render import RenderConfig
from niljax.render.camera import anchor_camera, reference_anchor_shift
from niljax.reward import RewardConfig, nil_reward, push
from niljax.reward.history import clip
from niljax.reward.terms import pad_clip_with_reference, take_rows, video_similarity
from niljax.train.config import TrainConfig
from niljax.train.demo import make_replay_bundle
from niljax.train.plan import PlanRefused
from niljax.train.accel import require_accelerator
from niljax.train.run import build_pipeline
from niljax.train.tiers import get_tier

RESULTS = Path(__file__).resolve().parent / "results"
LOCOMUJOCO = Path(os.environ.get("NILJAX_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "locomujoco"


def locomujoco_h1() -> str:
    """LocoMuJoCo's H1 (the presets' model): $NILJAX_SHARED / ../shared, else the `python -m niljax.data.fetch`
    cache; where neither has it, the path under LOCOMUJOCO (missing: run_suite then uses the registry's H1)."""
    from niljax.data import locomujoco_file

    try:
        return str(locomujoco_file("models/unitree_h1/h1.xml", search=[LOCOMUJOCO]))
    except FileNotFoundError:
        return str(LOCOMUJOCO / "models/unitree_h1/h1.xml")

REFERENCE_BATCH = 128  # BRO's official batch: the replay ratio is counted at it (BROConfig.reference_batch_size)

# Network sizes per preset: the CPU tier of experiments/walking.py; the GPU tier uses BRO's official defaults.
CPU_NETS = {"critic_width": 256, "critic_depth": 1, "actor_width": 128, "actor_depth": 1, "n_quantiles": 25}
# Smoke: the plumbing only. Depth 0 (no residual blocks) halves the learner's share of each compile.
SMOKE_NETS = {"critic_width": 32, "critic_depth": 0, "actor_width": 32, "actor_depth": 0, "n_quantiles": 5}


@dataclasses.dataclass(frozen=True)
class Preset:
    """Everything that sizes one suite run (both sides are built from it)."""

    robot: str
    mjcf: str | None
    size: int
    backend: str  # niljax renderer: "jax" | "warp"
    camera_anchor: str  # "agent" | "reference" | "both" (two views per step)
    encoder_preset: str  # random-init TimeSformer preset: tiny | small | base
    encoder_dtype: str  # "float32" | "bfloat16"
    nets: dict  # BROConfig network fields
    batch: int  # BRO batch for N >= 2 (N = 1 uses the official 128, as the baseline does)
    replay_ratio: float  # updates per env step at batch 128
    ladder: tuple[int, ...]  # niljax N values
    split_ns: tuple[int, ...]  # N values whose per-stage split is measured
    iterations: int  # iterations per compiled chunk
    chunks: int  # timed chunks per (N, k)
    baseline_steps: int  # timed baseline env steps per (k, bracket)
    reference_frames: int
    stage_reps: int
    matmul_n: int
    clip_len: int = 8
    replay_capacity: int = 100_000
    min_seconds: float = 0.0  # each niljax (N, k) is timed over at least this long (and `chunks` chunks)
    stage_min_seconds: float = 0.0  # each stage of the split: at least `stage_reps` calls and this long
    # the learner for N >= 2 when the preset is a tier's (the GPU tier's large_batch BROConfig: its K, batch and
    # per-update rates; warm-up, resets and capacity are the suite's); None: official mode with K * B = the ratio
    learner: BROConfig | None = None
    encoder_chunk: int = 0  # RewardConfig.encoder_chunk (clips per encoder call; 0 = all N)
    # Worker threads that build every niljax run's trainer and compile its programs from the start, overlapping
    # the compiles with the baseline, the runs and each other (XLA compiles without the GIL). Then the runs share
    # the CPU with compiles: for the smoke preset only, whose figures are not measurements. 0: each run's
    # programs are compiled just before it, on an otherwise quiet process.
    compile_ahead: int = 0
    # the run's memory plan (TrainConfig.memory_check) before building each N's trainer: it traces the env's
    # reset and the learner's init once more (about 3 CPU-s each for the toy arm); the smoke preset skips it
    memory_check: bool = True


def gpu_tier_preset(tier_name: str = "gpu") -> Preset:
    """The suite's preset of an accelerator tier: every size that the tier sets is the tier's own."""
    tier = get_tier(tier_name)
    nets = {k: getattr(tier.learner, k) for k in ("critic_width", "critic_depth", "actor_width", "actor_depth",
                                                  "n_quantiles")}
    chunk = tier.encoder_chunk if isinstance(tier.encoder_chunk, int) else 0
    return Preset(robot="h1", mjcf=locomujoco_h1(), size=tier.render.height, backend=tier.render.backend,
                  camera_anchor=tier.render.camera_anchor, encoder_preset="base", encoder_dtype=tier.encoder_dtype,
                  nets=nets, batch=tier.learner.batch_size, replay_ratio=tier.learner.updates_per_env_step,
                  ladder=(1, 64, 256, 1024), split_ns=(1024,), iterations=2, chunks=2, baseline_steps=24,
                  reference_frames=100, stage_reps=5, matmul_n=8192, replay_capacity=1_000_000, min_seconds=2.0,
                  stage_min_seconds=0.5, learner=tier.learner, encoder_chunk=chunk)


def rehearsal_preset(preset: Preset) -> Preset:
    """`preset` changed only in size, for a CPU rehearsal (`niljax rehearse`, `--rehearse`): 32 px, N in (1, 4),
    a tiny TimeSformer, BRO nets 64 wide (16 quantiles) with a 256 batch, 1 chunk of 2 iterations, 16 reference
    frames, a 256 matmul; the renderer, anchors, dtype, replay ratio and learner mode stay the preset's."""
    small = {"critic_width": 64, "critic_depth": 1, "actor_width": 64, "actor_depth": 1, "n_quantiles": 16}
    learner = None if preset.learner is None else dataclasses.replace(preset.learner, batch_size=256, **small)
    return dataclasses.replace(
        preset, size=32, encoder_preset="tiny", nets=small, batch=256, ladder=(1, 4), split_ns=(4,), iterations=2,
        chunks=1, baseline_steps=4, reference_frames=16, stage_reps=1, matmul_n=256, replay_capacity=20_000,
        min_seconds=0.0, stage_min_seconds=0.0, learner=learner,
        encoder_chunk=min(preset.encoder_chunk, 2) if preset.encoder_chunk else 0)


ACCELERATOR_PRESETS = ("gpu",)  # refused on a CPU backend unless --allow-cpu / --rehearse
PRESETS = {
    "smoke": Preset(robot="toy_arm", mjcf=None, size=16, backend="jax", camera_anchor="agent", encoder_preset="tiny",
                    encoder_dtype="float32", nets=SMOKE_NETS, batch=64, replay_ratio=1.0, ladder=(1, 2),
                    split_ns=(2,), iterations=2, chunks=1, baseline_steps=8, reference_frames=16, stage_reps=1,
                    matmul_n=256, replay_capacity=10_000, compile_ahead=2, memory_check=False),
    # experiments/walking.py --tier cpu: 48 px, jax renderer, both anchors, tiny random TimeSformer (8 frames),
    # BRO 256x1 / 128x1, 25 quantiles, batch 256, K = 4 at N = 8 (= replay ratio 1 at batch 128).
    "cpu": Preset(robot="h1", mjcf=locomujoco_h1(), size=48, backend="jax",
                  camera_anchor="both", encoder_preset="tiny", encoder_dtype="float32", nets=CPU_NETS, batch=256,
                  replay_ratio=1.0, ladder=(1, 8, 32), split_ns=(1, 8), iterations=5, chunks=2,
                  baseline_steps=30, reference_frames=100, stage_reps=5, matmul_n=1024, min_seconds=4.0,
                  stage_min_seconds=1.0),
    # The GPU tier (niljax.train.tiers, as experiments/walking.py --tier gpu trains): its render size, renderer
    # and anchors, TimeSformer-base size (random weights: the same FLOPs as K400) in its dtype with its encoder
    # chunk, and its learner (BRO official networks in large_batch mode, batch 4096, BRO-fast's 2 updates per env
    # step: K = 64 at N = 1024); N = 1 runs BRO-fast's official 2 updates of 128 per step, as the baseline does.
    "gpu": gpu_tier_preset(),
}


def learner_for(preset: Preset, num_envs: int) -> BROConfig:
    """BRO config for N envs at the preset's replay ratio (batch 128 at N = 1, the preset's batch above); a tier's
    learner (`Preset.learner`) for N >= 2, with no warm-up or resets (every timed step updates)."""
    if preset.learner is not None and num_envs > 1:
        return dataclasses.replace(preset.learner, random_steps=0, reset_steps=(),
                                   replay_capacity=max(preset.replay_capacity, preset.learner.batch_size))
    batch = REFERENCE_BATCH if num_envs == 1 else preset.batch
    # K set explicitly so that K * B = replay_ratio * N * 128 for any batch (large_batch mode needs B >= 128)
    updates = max(1, round(preset.replay_ratio * num_envs * REFERENCE_BATCH / batch))
    return BROConfig(**preset.nets, batch_size=batch, updates_per_env_step=preset.replay_ratio,
                     updates_per_iteration=updates, random_steps=0, reset_steps=(),
                     replay_capacity=max(preset.replay_capacity, batch))


def versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("jax", "jaxlib", "mujoco", "mujoco-mjx", "flax", "optax", "torch", "transformers", "warp-lang"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    try:
        out["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                           cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return out


def matmul_peak_tflops(n: int, dtype: Any, reps: int = 5) -> float:
    """Measured n x n x n matmul TFLOP/s in `dtype` (the device's practical peak for the roofline)."""
    a = jax.random.normal(jax.random.key(0), (n, n), dtype)
    b = jax.random.normal(jax.random.key(1), (n, n), dtype)
    med, _ = time_calls(jax.jit(lambda x, y: x @ y), (a, b), reps)
    return 2 * n**3 / med / 1e12


# ------------------------------------------------------------------------------------------------ niljax
def train_config(preset: Preset, bundle: Path, run_dir: Path, num_envs: int, k: int, render: RenderConfig,
                 encoder: EncoderConfig, memory_check: bool = True) -> TrainConfig:
    return TrainConfig(memory_check=memory_check,
        reference=str(bundle), robot=preset.robot, mjcf=preset.mjcf, run_dir=str(run_dir), num_envs=num_envs,
        iterations_per_call=preset.iterations, eval_envs=1, progress=False, write_video=False, render=render,
        encoder=encoder, reward=RewardConfig(clip_len=preset.clip_len, video_every_k=k,
                                             encoder_dtype=preset.encoder_dtype,
                                             encoder_chunk=min(preset.encoder_chunk, num_envs)),
        learner=learner_for(preset, num_envs))


def median_call_s(fn: Any, args: tuple, reps: int, min_seconds: float) -> float:
    """Median seconds of `fn(*args)` after one warm-up call, over at least `reps` calls and `min_seconds`."""
    jax.block_until_ready(fn(*args))
    times: list[float] = []
    while len(times) < reps or sum(times) < min_seconds:
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


class StageSplit:
    """Each stage of one niljax iteration as its own jitted function: median ms per call on a given state.

    The jitted functions are built once per trainer and close over the trainer only, so `warm_up(state)` (one call
    of every stage: compiles them) and `measure(state, ...)` on another state of the same shapes share programs;
    the smoke preset warms up in its compile pool, on the init state, and measures the trained state."""

    def __init__(self, trainer: Any) -> None:
        env, renderer, cfg = trainer.env, trainer.renderer, trainer.learner_config
        reference = trainer.reference
        rcfg = trainer.reward_config
        self.trainer = trainer
        anchor = renderer.config.camera_anchor
        root = env.scene.root_body_id
        k_updates = trainer.num_updates
        dtype = jnp.bfloat16 if rcfg.encoder_dtype == "bfloat16" else jnp.float32

        def under(stage: str, fn: Any) -> Any:  # traced at the fused iteration's matmul precision for that stage
            def traced(*args: Any) -> Any:
                with trainer.precision_context(stage):
                    return fn(*args)

            return traced

        self.act = jax.jit(under("learner", bro.act_explore))
        self.physics = jax.jit(under("physics", jax.vmap(env.step)))

        @jax.jit
        @functools.partial(under, "camera")
        def render(stepped: Any, history: Any, fresh: jax.Array) -> Any:  # the loop's _render_reward, render part
            data, info = stepped.data, stepped.info
            pose_mask = renderer.render(data)[1] if anchor == "both" else None
            if anchor in ("reference", "both"):
                shift = reference_anchor_shift(reference.root_pos, info["time_index"],
                                               info["time_index"] - info["step_count"], data.xpos[:, root],
                                               info["start_root"])
                data = anchor_camera(data, renderer.cam_id, shift)
            rgb, mask = renderer.render(data)
            return push(history, rgb, mask, reset=fresh), pose_mask

        @jax.jit
        def encode(encoder: Any, history: Any, reference: Any, t: jax.Array) -> jax.Array:  # nil_reward's video term
            frames, masks = clip(history)
            frames, masks = pad_clip_with_reference(frames, masks, history.count, reference, t)
            return video_similarity(encoder, frames, masks, take_rows(reference.embeddings, t),
                                    similarity=rcfg.similarity, dtype=dtype, chunk_size=rcfg.chunk_size())

        no_video = dataclasses.replace(rcfg, use_video=False)
        self.render, self.encode = render, encode
        self.reward = jax.jit(lambda reference, history, phys, ti, pm: nil_reward(
            no_video, reference, None, history, phys, ti, extra_view_mask=pm)[0])

        def replay_impl(replay: Any, transition: Any, key: jax.Array) -> Any:
            replay = replay_insert(replay, transition)
            keys = jax.random.split(key, k_updates)
            return replay, jax.vmap(lambda kk: replay_sample(replay, kk, cfg.batch_size))(keys)

        # The buffer is donated and threaded from call to call, so the insert is in place as in the fused loop
        # (without donation every call would copy the whole buffer: 48 ms per call for H1 at capacity 100k).
        self.replay = jax.jit(replay_impl, donate_argnums=0)

        @jax.jit
        @functools.partial(under, "learner")
        def updates(learner: Any, batches: Any) -> Any:
            return jax.lax.scan(lambda lr, b: bro.update(lr, b), learner, batches)[0]

        self.updates = updates

    def _calls(self, state: Any) -> tuple[dict[str, tuple[Any, tuple]], Any]:
        """Every stage's (function, arguments) on `state`, each argument made by running the stage before it once
        (which compiles every stage), and a fresh copy of the replay buffer with one insert done."""
        trainer = self.trainer
        reference, encoder = trainer.reference, trainer.encoder
        key = jax.random.PRNGKey(1)
        obs = state.env_state.obs
        action = self.act(state.learner, obs, key)
        stepped = self.physics(state.env_state, action)
        history, pose_mask = self.render(stepped, state.history, state.fresh)
        t = jnp.clip(stepped.info["time_index"], 0, reference.num_frames - 1)
        reward = self.reward(reference, history, stepped.physics, stepped.info["time_index"], pose_mask)
        n = trainer.num_envs
        transition = Transition(obs=obs, action=action, reward=reward, next_obs=stepped.obs,
                                terminated=jnp.zeros((n,)), truncated=jnp.zeros((n,)))
        own_replay = jax.tree.map(jnp.copy, state.replay)  # the trainer's state keeps its own buffer
        own_replay, batches = self.replay(own_replay, transition, key)
        calls = {
            "policy": (self.act, (state.learner, obs, key)),
            "physics": (self.physics, (state.env_state, action)),
            "render": (self.render, (stepped, state.history, state.fresh)),
            "encoder": (self.encode, (encoder, history, reference, t)),
            "reward": (self.reward, (reference, history, stepped.physics, stepped.info["time_index"], pose_mask)),
            "replay": (self.replay, (own_replay, transition, key)),
            "updates": (self.updates, (state.learner, batches)),
        }
        if encoder is None:
            del calls["encoder"]
        return calls, own_replay

    def warm_up(self, state: Any) -> None:
        """Compile every stage: one call each on `state` (the chain of `_calls`, then the encoder and updates)."""
        calls, _ = self._calls(state)
        for name in ("encoder", "updates"):
            if name in calls:
                fn, args = calls[name]
                jax.block_until_ready(fn(*args))

    def measure(self, state: Any, reps: int, min_seconds: float = 0.0) -> dict[str, Any]:
        """Median ms per call of each stage on `state` (at least `reps` calls and `min_seconds` each)."""
        trainer = self.trainer
        n, k_updates, cfg = trainer.num_envs, trainer.num_updates, trainer.learner_config
        calls, own_replay = self._calls(state)
        replay_fn, (_, transition, key) = calls.pop("replay")
        jax.block_until_ready(own_replay)
        replay_times: list[float] = []
        while len(replay_times) < reps or sum(replay_times) < min_seconds:
            t0 = time.perf_counter()
            own_replay, out = replay_fn(own_replay, transition, key)
            jax.block_until_ready((own_replay, out))
            replay_times.append(time.perf_counter() - t0)
        del own_replay, out
        ms = {name: 1e3 * median_call_s(fn, args, reps, min_seconds) for name, (fn, args) in calls.items()}
        ms.setdefault("encoder", 0.0)
        ms["replay"] = 1e3 * float(np.median(replay_times))
        ms = {name: ms[name] for name in STAGES}
        return {"num_envs": n, "updates_per_iteration": k_updates, "batch_size": cfg.batch_size,
                "stage_ms_per_iteration": ms, "stage_ms_per_env_step": {k: v / n for k, v in ms.items()},
                "sum_ms_per_iteration": sum(ms.values()), "encoder_flops_per_iteration": None}


# ------------------------------------------------------------------------------------------------ main
def preload_baseline_imports() -> None:
    """Import the baseline's torch and transformers now, in this thread (see the call in `run_suite`). An
    install without them is fine: the baseline then records its ImportError."""
    try:
        import torch  # noqa: F401
        from transformers import TimesformerModel  # noqa: F401 - resolves transformers' lazy modules (torch._dynamo,
        # triton with the CUDA build): the import that was running when the process crashed
    except ImportError:
        pass


def run_order(ladder: tuple[int, ...]) -> list[tuple[int, int]]:
    """(N, k) in priority order, so that a time budget drops the least informative runs: the largest N and
    N = 1 with k = 1, then both with k = 8, then the N in between (k = 1, then 8)."""
    ends = [n for n in (max(ladder), 1) if n in ladder]
    ends = sorted(set(ends), key=ends.index)
    middle = [n for n in ladder if n not in ends]
    return [(n, k) for k in (1, 8) for n in ends] + [(n, k) for k in (1, 8) for n in middle]


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    preset = PRESETS[args.preset]
    rehearse = getattr(args, "rehearse", False)
    if rehearse:
        preset = rehearsal_preset(preset)
    elif args.preset in ACCELERATOR_PRESETS and not getattr(args, "allow_cpu", False):
        try:  # a CUDA/TPU plugin that did not load: JAX only warns and the "GPU" numbers would be the CPU's
            require_accelerator(f"bench_suite.py --preset {args.preset}")
        except ValueError as err:
            raise SystemExit(f"bench_suite: {err}") from err
    overrides = {k: v for k, v in (("robot", args.robot), ("mjcf", args.mjcf)) if v is not None}
    if args.robot and args.robot != preset.robot and args.mjcf is None:
        overrides["mjcf"] = None  # another robot: its registry model unless --mjcf names one
    if args.ladder:
        overrides["ladder"] = tuple(int(x) for x in args.ladder.split(","))
    if args.split:
        overrides["split_ns"] = tuple(int(x) for x in args.split.split(","))
    if "mjcf" not in overrides and preset.mjcf and not Path(preset.mjcf).is_file():
        print(f"bench_suite: the preset's MJCF {preset.mjcf} is missing (set NILJAX_SHARED to the folder holding "
              f"locomujoco/, or run `python -m niljax.data.fetch`): using the registry's {preset.robot}", flush=True)
        overrides["mjcf"] = None
    preset = dataclasses.replace(preset, **overrides)
    if preset.mjcf and not Path(preset.mjcf).is_file():
        raise SystemExit(f"--mjcf {preset.mjcf}: no such file")
    missing = [n for n in preset.split_ns if n not in preset.ladder]
    if missing:
        raise SystemExit(f"split Ns {missing} are not in the ladder {preset.ladder}")

    from niljax.encoders.factory import _preset as tsf_preset  # the architecture build_encoder uses
    from niljax.reward import load_bundle
    from niljax.robots import load_robot

    t_start = time.perf_counter()
    load_start = list(os.getloadavg())
    device = args.device_name or machine_name()
    on_accel = jax.devices()[0].platform != "cpu"
    render = RenderConfig(height=preset.size, width=preset.size, backend=preset.backend,
                          camera_anchor=preset.camera_anchor)
    encoder = EncoderConfig(kind="timesformer-random", preset=preset.encoder_preset, clip_len=preset.clip_len, seed=0)
    tsf = tsf_preset(preset.encoder_preset, preset.clip_len)
    log = (lambda *a: print(*a, flush=True)) if not args.quiet else (lambda *a: None)

    # 1. The bench bundle, rendered from the scene the runs load (the same MJCF: qpos lengths agree).
    scene = load_robot(preset.robot, mjcf_path=preset.mjcf, plain_background=render.background == "plain")
    tmp = Path(tempfile.mkdtemp(prefix="niljax-suite-"))
    qpos = np.repeat(scene.home_qpos[None], preset.reference_frames, axis=0)
    t0 = time.perf_counter()
    bundle_dir = make_replay_bundle(tmp / "bundle", preset.robot, qpos, render, encoder, preset.clip_len,
                                    source="bench:home-pose", scene=scene)
    bundle = load_bundle(bundle_dir)
    log(f"bundle: {preset.robot} {preset.size}px x {preset.reference_frames} frames ({time.perf_counter() - t0:.0f} s)")

    # 2. Baseline, first bracket.
    views = 2 if preset.camera_anchor == "both" else 1
    baseline_runs: dict[int, list[dict]] = {1: [], 8: []}
    baseline_errors: list[str] = []

    def run_baseline() -> None:
        for k in (1, 8):
            try:
                base = OriginalStyleNIL(scene, np.asarray(bundle.frames), np.asarray(bundle.masks), tsf,
                                        RewardConfig(clip_len=preset.clip_len, video_every_k=k),
                                        learner_for(preset, 1), updates_per_step=preset.replay_ratio, views=views,
                                        camera=render.camera, replay_capacity=preset.replay_capacity,
                                        fovy=render.fovy, torch_threads=args.torch_threads)
                r = base.run(preset.baseline_steps)
                r["load_average_1m"] = os.getloadavg()[0]  # a shared machine: each run records its load
            except Exception as e:  # noqa: BLE001 - e.g. no OpenGL on a new machine: record it, run niljax anyway
                baseline_errors.append(f"{type(e).__name__}: {e}"[:500])
                log(f"baseline k={k} failed: {baseline_errors[-1]}")
                continue
            del base
            baseline_runs[k].append(r)
            log(f"baseline k={k}: {r['env_steps_per_s']:.1f} env-steps/s  "
                + " ".join(f"{s}={v:.2f}" for s, v in r["stage_ms_per_step"].items()) + " ms/step")

    def prepare(n: int, k: int) -> tuple[TrainConfig, Any, Any]:
        """The (N, k) run's config and trainer; with `compile_ahead` also its compiled chunk and, for k = 1, its
        fresh state (for k = 8 None: the run starts from the k = 1 trainer's init, see below)."""
        # the memory check is the same for both k (run_order puts k = 1 first): done for k = 1
        config = train_config(preset, bundle_dir, tmp / f"run-{n}-{k}", n, k, render, encoder,
                              memory_check=preset.memory_check and k == 1)
        trainer = build_pipeline(config).trainer
        state = None
        if preset.compile_ahead:
            key = jax.random.PRNGKey(0)
            state = trainer.init(key) if k == 1 else None
            trainer.lower_chunk(state if k == 1 else jax.eval_shape(trainer.init, key)).compile()
        return config, trainer, state

    def warm_split(prepared: Future) -> StageSplit:
        trainer = prepared.result()[1]
        splitter = StageSplit(trainer)
        splitter.warm_up(trainer.init(jax.random.PRNGKey(1)))
        return splitter

    ahead: dict[tuple[int, int], Future] = {}
    splitters: dict[int, Future] = {}
    if preset.compile_ahead:  # started before the baseline's first bracket, to overlap it too
        # the baseline's torch and transformers are imported here, before any compile thread starts: imported by
        # the baseline while XLA compiled in a pool thread, PyPI's CUDA build of torch crashed the process
        # (SIGSEGV inside XLA's backend_compile_and_load; CI, Python 3.11.2, torch 2.13.0+cu130)
        preload_baseline_imports()
        pool = ThreadPoolExecutor(preset.compile_ahead, thread_name_prefix="suite-compile")
        order = run_order(preset.ladder)
        ahead = {(n, k): pool.submit(prepare, n, k) for n, k in order[:2]}
        # each split's stage programs are compiled once its N's trainer exists (queued third: by then a thread
        # frees up), on an init state of its own (the run's state is donated to the chunk meanwhile)
        splitters = {n: pool.submit(warm_split, ahead[(n, 1)]) for n in preset.split_ns if (n, 1) in ahead}
        ahead.update({(n, k): pool.submit(prepare, n, k) for n, k in order[2:]})
        # split Ns inside the ladder (split_ns is checked to be a subset): their warm-ups queue last
        splitters.update({n: pool.submit(warm_split, ahead[(n, 1)]) for n in preset.split_ns if n not in splitters})
        pool.shutdown(wait=False)  # its threads end once the queue is done

    rows: list[dict] = []
    splits: list[dict] = []
    skipped: list[dict] = []
    roofline: dict[str, Any] = {}
    out_dir = Path(args.out_dir) if args.out_dir else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"suite_{args.preset}{'-rehearsal' if rehearse else ''}_{device}"

    def save(final: bool = False) -> dict[str, Any]:
        """Write the JSON (and the PNG) with what has been measured so far: a run killed by a timeout still
        leaves its results (`complete` false)."""
        baseline = {}
        for k, runs in baseline_runs.items():
            if not runs:
                continue
            rates = [r["env_steps_per_s"] for r in runs]
            stages = {s: float(np.mean([r["stage_ms_per_step"][s] for r in runs])) for s in STAGES}
            baseline[str(k)] = {"env_steps_per_s": float(np.mean(rates)), "brackets_env_steps_per_s": rates,
                                "stage_ms_per_step": stages, "runs": runs}
        speedups = {}
        for k in (1, 8):
            mine = {r["num_envs"]: r["env_steps_per_s"] for r in rows if r["video_every_k"] == k}
            if str(k) not in baseline or not mine:
                continue
            base_rate = baseline[str(k)]["env_steps_per_s"]
            best_n = max(mine, key=mine.get)
            speedups[str(k)] = {"best_num_envs": best_n, "best_over_baseline": mine[best_n] / base_rate,
                                "n1_over_baseline": mine[1] / base_rate if 1 in mine else None}
        result = {
            "benchmark": "bench_suite", "preset": args.preset, "device": device, "complete": final,
            "jax_devices": [str(d) for d in jax.devices()], "device_kind": jax.devices()[0].device_kind,
            "cpu_count": os.cpu_count(), "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
            "load_average_start": load_start, "load_average_end": list(os.getloadavg()),
            "versions": versions(), "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "setting": {**dataclasses.asdict(preset), "rehearsal": rehearse, "render": dataclasses.asdict(render),
                        "encoder": dataclasses.asdict(encoder), "timesformer": dataclasses.asdict(tsf),
                        "baseline_views": views, "baseline_updates_per_step": preset.replay_ratio,
                        "baseline_batch": REFERENCE_BATCH},
            "baseline": baseline, "baseline_errors": baseline_errors,
            "niljax": sorted(rows, key=lambda r: (r["video_every_k"], r["num_envs"])), "skipped": skipped,
            "stage_split": sorted(splits, key=lambda sp: sp["num_envs"]), "roofline": roofline,
            "speedup": speedups,
            "notes": ("same per-env work: scene, render size and views, encoder architecture, networks and replay "
                      "ratio (samples per env step) match; baseline = mean of two brackets around the niljax runs; "
                      "stage ms are medians of each stage's jitted function on one state, 'fused' is the whole "
                      "compiled iteration; the machine may be shared (see load averages)"),
            "wall_s": time.perf_counter() - t_start,
            "paths": [str(out_dir / f"{stem}.json"), str(out_dir / f"{stem}.png")],
        }
        (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
        if final or rows:
            plot(result, out_dir / f"{stem}.png")
        return result

    run_baseline()
    save()

    # 3-4. niljax ladder (k = 1, 8) and the per-stage split.
    # k changes the iteration, not the state: the (N, k = 8) run starts from a state made by the (N, k = 1)
    # trainer's compiled init (the same program, so it is compiled once per N).
    init_for: dict[int, Any] = {}
    refused: dict[int, str] = {}  # N -> why its memory plan refused it
    for n, k in run_order(preset.ladder):
        if args.budget_s and time.perf_counter() - t_start > args.budget_s:
            skipped.append({"num_envs": n, "video_every_k": k, "why": f"past --budget-s {args.budget_s}"})
            log(f"niljax N={n} k={k}: skipped ({skipped[-1]['why']})")
            if (n, k) in ahead:
                ahead.pop((n, k)).cancel()
            continue
        if n in refused:  # k = 1's memory plan refused this N (k = 8 is not planned again)
            skipped.append({"num_envs": n, "video_every_k": k, "why": refused[n]})
            continue
        try:
            config, trainer, state = ahead.pop((n, k)).result() if (n, k) in ahead else prepare(n, k)
        except PlanRefused as e:  # this N does not fit the device: record why and measure the others
            refused[n] = "memory plan: " + str(e).split("; nothing was compiled")[0]
            skipped.append({"num_envs": n, "video_every_k": k, "why": refused[n]})
            log(f"niljax N={n} k={k}: skipped ({refused[n]})")
            continue
        init = init_for.pop(n, trainer.init)
        if k == 1:
            init_for[n] = init
        if state is None:
            state = init(jax.random.PRNGKey(0))
        state, r = time_niljax(trainer, preset.chunks, preset.min_seconds, state=state)
        row = {"num_envs": n, "video_every_k": k, "load_average_1m": os.getloadavg()[0],
               "updates_per_iteration": trainer.num_updates, "chunk_traces": trainer.trace_count,
               "batch_size": config.learner.batch_size,
               "effective_replay_ratio": config.learner.samples_per_transition(n) / REFERENCE_BATCH, **r}
        rows.append(row)
        log(f"niljax N={n} k={k}: {r['env_steps_per_s']:.1f} env-steps/s (first call {r['first_call_s']:.0f} s, "
            f"K={trainer.num_updates} B={config.learner.batch_size})")
        if k == 1 and n in preset.split_ns:
            splitter = splitters.pop(n).result() if n in splitters else StageSplit(trainer)
            split = splitter.measure(state, preset.stage_reps, preset.stage_min_seconds)
            del splitter
            split["fused_ms_per_env_step"] = 1e3 / r["env_steps_per_s"]
            splits.append(split)
            log(f"  split N={n}: " + " ".join(f"{s}={v:.2f}" for s, v in split["stage_ms_per_env_step"].items())
                + f" ms/env-step (fused {split['fused_ms_per_env_step']:.2f})")
        del trainer, state
        save()

    # 5. Roofline: encoder FLOPs (XLA cost analysis) against a matmul measured now.
    flops = flops_per_clip(tsf)
    peak_dtype = jnp.bfloat16 if on_accel else jnp.float32
    peak = matmul_peak_tflops(preset.matmul_n, peak_dtype)
    roofline.update({**flops, "matmul_n": preset.matmul_n, "matmul_dtype": jnp.dtype(peak_dtype).name,
                     "matmul_peak_tflops": peak})
    for split in splits:
        per_iter = flops["flops_per_clip"] * split["num_envs"]
        enc_s = split["stage_ms_per_iteration"]["encoder"] / 1e3
        split["encoder_flops_per_iteration"] = per_iter
        split["encoder_tflops_per_s"] = per_iter / enc_s / 1e12 if enc_s > 0 else None
        split["encoder_fraction_of_matmul_peak"] = (split["encoder_tflops_per_s"] / peak
                                                    if split["encoder_tflops_per_s"] else None)

    # 6. Baseline, second bracket.
    run_baseline()
    result = save(final=True)
    log(f"wrote {result['paths'][0]} and .png ({result['wall_s']:.0f} s)")
    return result


STAGE_COLOURS = {"policy": "#9e9e9e", "physics": "#1f77b4", "render": "#ff7f0e", "encoder": "#d62728",
                 "reward": "#2ca02c", "replay": "#8c564b", "updates": "#9467bd"}
STAGE_LABELS = {"policy": "policy (act)", "physics": "physics", "render": "render", "encoder": "encoder",
                "reward": "IoU + penalties", "replay": "replay insert/sample", "updates": "BRO updates"}


def plot(result: dict[str, Any], path: Path) -> None:
    """Left: env-steps/s vs N with the baseline as lines; right: each stage's share of an env step (stacked)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(14, 5.5))
    for k, colour in (("1", "tab:blue"), ("8", "tab:orange")):
        pts = sorted((r["num_envs"], r["env_steps_per_s"]) for r in result["niljax"] if str(r["video_every_k"]) == k)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=colour, label=f"niljax, video every {k}")
        if k in result["baseline"]:
            ax.axhline(result["baseline"][k]["env_steps_per_s"], color=colour, ls="--",
                       label=f"original-style baseline (1 env), video every {k}")
    if result["niljax"]:  # (a partial save may hold the baseline only)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
    ax.set_xlabel("N (parallel envs)")
    ax.set_ylabel("env-steps/s")
    s = result["setting"]
    ax.set_title(f"{s['robot']} {s['size']}px, {s['encoder_preset']} TimeSformer, RR {s['replay_ratio']:g} "
                 f"- {result['device']}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)

    bars = []
    if "1" in result["baseline"]:
        base = result["baseline"]["1"]
        bars.append((f"baseline (1 env)\n{1e3 / base['env_steps_per_s']:.2f} ms/step", base["stage_ms_per_step"]))
    for split in result["stage_split"]:
        label = (f"niljax N={split['num_envs']}\nsum {sum(split['stage_ms_per_env_step'].values()):.2f}, fused "
                 f"{split['fused_ms_per_env_step']:.2f} ms")
        bars.append((label, split["stage_ms_per_env_step"]))
    x = np.arange(len(bars))
    totals = np.array([sum(b[1].values()) for b in bars])
    bottom = np.zeros(len(bars))
    for stage in STAGES:
        vals = np.array([b[1].get(stage, 0.0) for b in bars])
        share = 100 * vals / np.maximum(totals, 1e-12)
        bx.bar(x, share, bottom=bottom, color=STAGE_COLOURS[stage], label=STAGE_LABELS[stage], width=0.6)
        for i in np.nonzero(share >= 6)[0]:
            bx.text(x[i], bottom[i] + share[i] / 2, f"{vals[i]:.2f}", ha="center", va="center", fontsize=7)
        bottom += share
    bx.set_xticks(x, [b[0] for b in bars], fontsize=8)
    bx.set_ylim(0, 100)
    bx.set_ylabel("% of the env step's time (labels: ms per env step)")
    bx.set_title("per-stage split, video every step (each stage's jitted function timed alone)", fontsize=10)
    bx.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--robot", default=None, help="robot name (default: the preset's)")
    p.add_argument("--mjcf", default=None, help="explicit MJCF of the robot (the bundle is rendered from it too)")
    p.add_argument("--ladder", default=None, help="comma-separated N values (default: the preset's)")
    p.add_argument("--split", default=None, help="comma-separated N values for the per-stage split")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="baseline's torch CPU threads (0: torch's default); see original_style_nil.py")
    p.add_argument("--budget-s", type=float, default=None,
                   help="start no niljax run after this many seconds (skipped runs are listed in the JSON)")
    p.add_argument("--device-name", default=None, help="name in the output files (default e.g. cpu-2core)")
    p.add_argument("--out-dir", default=None, help="folder for the JSON and PNG (default benchmarks/results)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--rehearse", action="store_true",
                   help="the preset changed only in size (rehearsal_preset), on any backend: `niljax rehearse`")
    p.add_argument("--allow-cpu", action="store_true",
                   help="run an accelerator preset (gpu) although JAX runs on the CPU (otherwise refused)")
    args = p.parse_args(argv)
    return run_suite(args)


if __name__ == "__main__":
    main()
