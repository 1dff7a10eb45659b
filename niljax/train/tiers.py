"""The training tiers: one definition of "the CPU setting" and "the GPU setting", used by every script.

`experiments/walking.py --tier T`, the per-robot scripts (`experiments/_common.py`: h1_walk.py, ...), the
benchmark suite's presets (`benchmarks/bench_suite.py --preset cpu|gpu`) and the dress rehearsal
(`niljax rehearse --tier gpu`) take their sizes from `TIERS` here, so they cannot drift apart.

A `Tier` holds what sizes a run (envs, render size and renderer, encoder and its dtype/chunk, BRO networks and
replay ratio, budget) and the matmul precision of its stages. `tier.train_config(...)` builds the
`TrainConfig`; every field stays overridable afterwards (`dataclasses.replace`, or walking.py's `--set`).
`tier.rehearsal()` is the same tier changed only in size (N, render size, network widths, replay, budget), for a
run of every step on a CPU (`niljax.train.rehearse`).

The GPU tier's learner (large_batch mode, lr 3e-4 unscaled, pessimism 1, initial temperature 0.1, no resets,
10 iterations of random warm-up) and the reasons for each choice: docs/learner.md, "The GPU tier's learner".
Its matmul precision (physics, camera and learner at float32 HIGHEST; the encoder in bfloat16): docs/training.md,
"Matmul precision". Importable without jax.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from niljax.encoders.factory import EncoderConfig
from niljax.learner.config import BROConfig
from niljax.render.config import RenderConfig
from niljax.train.config import MatmulPrecision, TrainConfig

#: The paper's encoder (hub id); `Tier.train_config(encoder_weights=...)` replaces it with a local folder.
PAPER_ENCODER = "facebook/timesformer-base-finetuned-k400"


@dataclasses.dataclass(frozen=True)
class Tier:
    """Sizes and settings of one tier (see the module docstring). `accelerator`: the tier is meant for a GPU/TPU
    and refuses to start on a CPU backend unless allowed (`TrainConfig.allow_cpu`, `--allow-cpu`)."""

    name: str
    description: str
    accelerator: bool
    num_envs: int
    iterations_per_call: int
    eval_envs: int
    total_env_steps: int
    render: RenderConfig
    encoder: EncoderConfig
    encoder_dtype: str  # RewardConfig.encoder_dtype
    encoder_chunk: int | str  # RewardConfig.encoder_chunk: clips per encoder call, 0 = all N, "auto" = planned
    learner: BROConfig
    precision: MatmulPrecision = dataclasses.field(default_factory=MatmulPrecision)

    def train_config(self, *, encoder_weights: str | None = None, **fields: Any) -> TrainConfig:
        """A `TrainConfig` with this tier's sizes; `fields` are the other TrainConfig fields (reference, robot,
        run_dir, reward, ...). The reward's `encoder_dtype`/`encoder_chunk` are set to the tier's on the given
        `reward` (or the default RewardConfig). `encoder_weights` replaces the TimeSformer weights (a local
        folder or hub id; only for a tier whose encoder kind is "timesformer")."""
        from niljax.reward import RewardConfig

        encoder = self.encoder
        if encoder_weights is not None:
            if encoder.kind != "timesformer":
                raise ValueError(f"tier {self.name!r} uses the {encoder.kind!r} encoder, which takes no weights")
            encoder = dataclasses.replace(encoder, weights=encoder_weights)
        reward = fields.pop("reward", None) or RewardConfig()
        reward = dataclasses.replace(reward, encoder_dtype=self.encoder_dtype, encoder_chunk=self.encoder_chunk,
                                     clip_len=encoder.clip_len)
        sizes = dict(num_envs=self.num_envs, iterations_per_call=self.iterations_per_call, eval_envs=self.eval_envs,
                     total_env_steps=self.total_env_steps, render=self.render, encoder=encoder, learner=self.learner,
                     precision=self.precision, tier=self.name)
        for key in ("render", "learner"):  # nested overrides merge into the tier's, e.g. render=dict(camera=...)
            if isinstance(fields.get(key), dict):
                fields[key] = dataclasses.replace(sizes[key], **fields[key])
        sizes.update(fields)
        return TrainConfig(reward=reward, **sizes)

    def rehearsal(self, *, size: int = 32, num_envs: int = 4) -> Tier:
        """This tier changed only in size, for a CPU rehearsal of every step: `num_envs` envs, `size`x`size`
        renders, 2 iterations per chunk, 2 eval envs, BRO nets 64 wide with 16 quantiles, a 256 batch (large_batch
        mode stays large_batch: 2 BRO batches per update), a 20k replay, 2 iterations of warm-up and a budget
        of 6 chunks; the encoder chunk becomes N/2 (so that chunking runs), the renderer, camera, replay
        ratio, encoder kind and dtype, precision and everything else stay the tier's. The encoder's widths
        shrink where its weights come from (the rehearsal writes a small TimeSformer folder)."""
        per_call = num_envs * 2
        learner = dataclasses.replace(
            self.learner, critic_width=64, critic_depth=1, actor_width=64, actor_depth=1, n_quantiles=16,
            batch_size=max(256, self.learner.reference_batch_size) if self.learner.replay_mode == "large_batch"
            else self.learner.batch_size, replay_capacity=20_000, random_steps=2 * num_envs, reset_steps=())
        chunk = self.encoder_chunk if self.encoder_chunk in (0, "auto") else max(1, num_envs // 2)
        return dataclasses.replace(
            self, name=self.name, num_envs=num_envs, iterations_per_call=2, eval_envs=2,
            total_env_steps=6 * per_call, render=dataclasses.replace(self.render, height=size, width=size),
            encoder_chunk=chunk, learner=learner)


def _tiers() -> dict[str, Tier]:
    cpu = Tier(
        name="cpu", description="2 CPU cores, no GPU: 48 px pure-JAX renders, tiny random-init TimeSformer, small BRO",
        accelerator=False, num_envs=8, iterations_per_call=25, eval_envs=1, total_env_steps=90_000,
        render=RenderConfig(height=48, width=48, backend="jax", camera_anchor="both"),
        encoder=EncoderConfig(kind="timesformer-random", preset="tiny", clip_len=8, seed=0),
        encoder_dtype="float32", encoder_chunk=0,
        learner=BROConfig(critic_width=256, critic_depth=1, actor_width=128, actor_depth=1, n_quantiles=25,
                          batch_size=256, updates_per_iteration=4, random_steps=5_000, reset_steps=(),
                          replay_capacity=300_000, init_temperature=0.1))
    gpu = Tier(
        name="gpu", description="one H100/H200: the paper's 224 px renders (MuJoCo Warp) and TimeSformer-base K400 in "
                                "bfloat16, 1,024 envs, BRO official networks in large_batch mode",
        accelerator=True, num_envs=1024, iterations_per_call=10, eval_envs=4, total_env_steps=2_000_000,
        render=RenderConfig(height=224, width=224, backend="warp", camera_anchor="both"),
        encoder=EncoderConfig(kind="timesformer", weights=PAPER_ENCODER, clip_len=8),
        # 128 clips per encoder call: 7 GiB of activations instead of 57 GiB for all 1,024 (docs/training.md,
        # "Memory plan"); the same FLOPs
        encoder_dtype="bfloat16", encoder_chunk=128,
        # docs/learner.md, "The GPU tier's learner": BRO-fast's 256 replayed samples per transition as 64 updates
        # of 4,096 per iteration of 1,024 env steps; actor/critic lr 3e-4 (no batch scaling), tau 0.005 per
        # 128 samples (0.148 per update), pessimism 1 and initial temperature 0.1 (the H1 run that stayed up),
        # no resets, 10 iterations of random warm-up
        learner=BROConfig(replay_mode="large_batch", updates_per_env_step=2, batch_size=4096,
                          large_batch_lr_scaling="none", pessimism=1.0, init_temperature=0.1, reset_steps=(),
                          random_steps=10 * 1024, replay_capacity=2_000_000))
    return {t.name: t for t in (cpu, gpu)}


TIERS: dict[str, Tier] = _tiers()


def get_tier(name: str) -> Tier:
    """The tier called `name`; ValueError naming the tiers."""
    try:
        return TIERS[name]
    except KeyError:
        raise ValueError(f"unknown tier {name!r} (tiers: {', '.join(TIERS)})") from None


def check_tier_backend(config: TrainConfig) -> str | None:
    """For a config made from an accelerator tier (`config.tier`): the JAX platform it will run on, or ValueError
    when that is the CPU and `config.allow_cpu` is off (niljax.train.accel.require_accelerator). None for a config
    of a CPU tier or of no tier."""
    tier = TIERS.get(config.tier)
    if tier is None or not tier.accelerator:
        return None
    from niljax.train.accel import check_renderer_platform, require_accelerator

    platform = require_accelerator(f"--tier {tier.name}", allow_cpu=config.allow_cpu)
    check_renderer_platform(config.render.resolved_backend(), platform)
    return platform
