"""The compiled NIL training iteration: env -> render -> frame history -> reward -> replay -> BRO updates.

This is the one place where every stage meets. `NilTrainer` is built once per run from a robot scene, a
reference bundle (on device), a renderer, an encoder and the configs; its jitted `train_chunk` runs
`iterations_per_call` iterations in one `lax.scan` and returns the new `NilTrainState` with metrics averaged
over the chunk. Host code only logs, evaluates and saves.

One iteration, for N envs (all shapes static; N, render size, clip length, K recompile when changed):

  1. actions f32[N, A]: uniform in [-1, 1] while `env_steps < learner.random_steps`, else BRO's optimistic
     actor (a `lax.cond` on the scalar counter);
  2. `env.step` (vmapped, no auto-reset) -> physics state at reference index t (per env);
  3. `renderer.render(data)` -> rgb uint8[N, H, W, 3], mask bool[N, H, W];
  4. `push` into the `FrameHistory` ring (envs reset before this step start a new clip);
  5. `nil_reward` against the reference at each env's own t -> reward f32[N] and named terms;
  6. insert `Transition(obs, action, reward, next_obs, terminated, truncated)` into the device replay
     (termination = fall; truncation = end of reference: BRO bootstraps through truncation only);
  7. reset finished envs (`NilEnv.reset_done`: the home pose, redrawn `reset_noise` if any, a fresh start index);
  8. `env_steps += N`; a BRO full reset when a reset step is crossed; K = `learner.num_updates_per_iteration(N)`
     updates in a `lax.scan` once the warm-up is over.

Cameras (`RenderConfig`): with V > 1 views the renderer draws V images per env, the history and the reference
carry a leading view axis [V, ...] and the reward is `nil_reward_views` (per view, averaged; per-view terms in
the metrics). With `fovy_jitter` each env's field-of-view factor (`NilTrainState.fovy_factor`) is redrawn when
its episode ends. Neither adds a trace: V and the jitter are static, the factors traced.

`NilTrainState` holds everything needed to continue bit-for-bit (env states, history, replay, learner, RNG,
counters, episode accumulators); it is what checkpoints save.

Sharding: with `mesh` (axis "data"), the env axis of every per-env leaf is split over the devices (physics,
rendering and the reward run data-parallel); learner, replay and counters are replicated, and each sampled
batch is split over the devices (`niljax.learner.loop.sample_updates`: every device trains on B/D rows, XLA
all-reduces the gradients). Across processes (after `jax.distributed.initialize()`, mesh
over the global `jax.devices()`) the same holds; tested with 2 CPU processes of 1 device each.

Evaluation (`evaluate`): a jitted `lax.scan` over one reference length with the deterministic conservative
actor from reference index 0, returning per-episode sums of the NIL reward and its parts, mean IoU, the two
walking metrics, distance travelled and falls; optionally the frames of env 0 for a side-by-side video.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from niljax.learner import bro
from niljax.learner.loop import batch_sharding, sample_updates
from niljax.learner.replay import ReplayBuffer, Transition, replay_init, replay_insert_counted
from niljax.render.camera import reference_anchor_shift, static_anchor_shift
from niljax.sim.metrics import episode_walk_return
from niljax.sim.skills import episode_success
from niljax.reward import (FrameHistory, ReferenceArrays, RewardConfig, VideoEncoder, init_history, nil_reward,
                           nil_reward_views, push)

# Metrics averaged over a chunk; episode sums are accumulated separately.
_EPISODE_KEYS = ("return", "iou", "video", "length", "fell")


@struct.dataclass
class NilTrainState:
    env_state: Any  # sim State, batch axis N
    history: FrameHistory
    fresh: jax.Array  # bool[N]: env was reset before the coming step (its next render starts a new clip)
    last_video: jax.Array  # f32[N] (f32[V,N] with V > 1 views), carried for video_every_k > 1
    learner: bro.LearnerState
    replay: ReplayBuffer
    rng: jax.Array
    env_steps: jax.Array  # int32[] env steps taken (summed over envs)
    iteration: jax.Array  # int32[]
    episode_acc: dict  # running per-env sums, f32[N] each (_EPISODE_KEYS)
    fovy_factor: jax.Array  # f32[N]: each env's field-of-view factor this episode (1 without fovy_jitter)


@dataclasses.dataclass
class NilTrainer:
    """Builds the compiled NIL iteration for one run (see module docstring)."""

    env: Any  # niljax.sim.NilEnv (training: may start at random reference indices)
    eval_env: Any  # niljax.sim.NilEnv starting at reference index 0
    renderer: Any  # niljax.render.BatchRenderer for num_envs
    eval_renderer: Any  # BatchRenderer for eval_envs
    reference: ReferenceArrays  # with V > 1 views: `stack_views` of the V views' arrays (leading axis V)
    encoder: VideoEncoder | None
    reward_config: RewardConfig
    learner_config: bro.BROConfig
    num_envs: int
    iterations_per_call: int
    eval_envs: int
    mesh: Mesh | None = None  # shard the env axis over mesh axis "data" (all local devices, or all hosts')
    eval_horizon: int | None = None  # evaluation episode length in control steps (None: the reference length)
    reward_kind: str = "nil"  # "task": learn from the env's `task_reward` metric (a skill scene), no rendering
    # matmul precision per stage (niljax.train.config.MatmulPrecision: physics, camera, learner); None = JAX's default
    precision: Any = None
    trace_count: int = dataclasses.field(default=0, init=False)

    def __post_init__(self) -> None:
        self.view_names = tuple(v.name for v in self.renderer.views)
        self.num_views = len(self.view_names)
        expected_ndim = 4 if self.num_views == 1 else 5
        if self.reference.frames.ndim != expected_ndim or (self.num_views > 1
                                                           and self.reference.frames.shape[0] != self.num_views):
            raise ValueError(f"the renderer has {self.num_views} view(s) {list(self.view_names)} but the reference "
                             f"frames have shape {tuple(self.reference.frames.shape)} (one view: [T,H,W,3]; V views: "
                             "[V,T,H,W,3], `niljax.reward.stack_views`)")
        self.num_frames = int(self.reference.frames.shape[-4])
        self.eval_steps = int(self.eval_horizon or self.num_frames - 1)
        anchor = self.renderer.config.camera_anchor
        needs_root = anchor in ("reference", "both") or (anchor == "static" and self.env.config.random_start)
        if needs_root and self.reference.root_pos is None:
            raise ValueError(f"RenderConfig.camera_anchor={anchor!r} needs the reference's root path"
                             f"{' (episodes start at random reference indices)' if anchor == 'static' else ''}, and "
                             "this bundle has no root_pos (make it with the replay backend, or use camera_anchor='agent')")
        if self.reward_kind not in ("nil", "task"):
            raise ValueError(f"reward_kind must be 'nil' or 'task', got {self.reward_kind!r}")
        if self.reward_kind == "task" and getattr(self.env, "task", None) is None:
            raise ValueError("reward_kind='task' needs an env over a skill scene (niljax.robots.load_skill_scene)")
        self.obs_dim = int(self.env.obs_dim)
        self.act_dim = int(self.env.nu)
        self.num_updates = self.learner_config.num_updates_per_iteration(self.num_envs)
        self._shardings = None
        self._batch_sharding = None if self.mesh is None else batch_sharding(self.mesh, self.learner_config.batch_size)
        if self.mesh is not None:
            devices = self.mesh.devices.size
            if self.num_envs % devices:
                raise ValueError(f"num_envs={self.num_envs} must be a multiple of the {devices} devices it is "
                                 "sharded over")
            self._shardings = self._state_shardings(jax.eval_shape(self._init_impl, jax.random.PRNGKey(0)))
            replicated = NamedSharding(self.mesh, P())
            # Reference and encoder params become global replicated arrays (over several processes a
            # process-local array cannot enter a program that spans every process's devices).
            def replicate(x: jax.Array) -> jax.Array:
                host = np.asarray(x)
                return jax.make_array_from_callback(host.shape, replicated, lambda idx: host[idx])

            self.reference, self.encoder = jax.tree.map(replicate, (self.reference, self.encoder))
            self._train_chunk = jax.jit(self._train_chunk_impl, donate_argnums=0,
                                        in_shardings=(self._shardings, replicated),
                                        out_shardings=(self._shardings, replicated))
            self._init = jax.jit(self._init_impl, out_shardings=self._shardings)
        else:
            self._train_chunk = jax.jit(self._train_chunk_impl, donate_argnums=0)
            self._init = jax.jit(self._init_impl)
        self._evaluate = jax.jit(self._evaluate_impl, static_argnames="record")

    def _state_shardings(self, abstract: NilTrainState) -> NilTrainState:
        """Env-batched leaves split over "data" on their leading axis; learner, replay, counters replicated."""
        split = NamedSharding(self.mesh, P("data"))
        replicated = NamedSharding(self.mesh, P())
        per_env = {"env_state", "history", "fresh", "last_video", "episode_acc", "fovy_factor"}
        # with V > 1 views the history and last_video lead with the view axis: the env axis is the second
        per_view = {"history", "last_video"} if self.num_views > 1 else set()
        split_second = NamedSharding(self.mesh, P(None, "data"))

        def sharding(name: str) -> NamedSharding:
            if name in per_view:
                return split_second
            return split if name in per_env else replicated

        return NilTrainState(**{
            f.name: jax.tree.map(lambda _, s=sharding(f.name): s, getattr(abstract, f.name))
            for f in dataclasses.fields(abstract)
        })

    @property
    def state_shardings(self) -> NilTrainState | None:
        """The `NilTrainState` of shardings when a mesh is set (checkpoint restore targets), else None."""
        return self._shardings

    # ------------------------------------------------------------------------------------------------ helpers
    def precision_context(self, stage: str) -> Any:
        """A context that traces `stage`'s ("physics", "camera", "learner") matmuls at its configured precision."""
        value = None if self.precision is None else getattr(self.precision, stage)
        return jax.default_matmul_precision(value) if value else contextlib.nullcontext()

    def _init_learner(self, rng: jax.Array) -> bro.LearnerState:
        with self.precision_context("learner"):
            return bro.init_learner(rng, self.obs_dim, self.act_dim, self.learner_config)

    @staticmethod
    def _obs(env_state: Any) -> jax.Array:
        return env_state.obs

    def _reset(self, rng: jax.Array, n: int, env: Any = None) -> Any:
        with self.precision_context("physics"):
            return jax.vmap((env or self.env).reset)(jax.random.split(rng, n))

    @property
    def _consts(self) -> tuple[ReferenceArrays, VideoEncoder | None]:
        # Reference arrays and encoder params enter the compiled programs as arguments, never as baked-in
        # constants (a 224x224 reference and TimeSformer-base would make huge, slow-to-compile programs).
        return self.reference, self.encoder

    def _camera_shift(self, reference: ReferenceArrays, stepped: Any) -> jax.Array | None:
        """The camera anchor's shift f32[N,3] this step (None for the agent-anchored follow camera)."""
        anchor = self.renderer.config.camera_anchor
        if anchor == "agent":
            return None
        root_path = reference.root_pos
        if root_path is not None and self.num_views > 1:
            root_path = root_path[0]  # every view's reference comes from the same motion
        info, data = stepped.info, stepped.data
        agent_root = data.xpos[:, self.env.scene.root_body_id]
        start_index = info["time_index"] - info["step_count"]
        if anchor == "static":
            return static_anchor_shift(root_path, start_index, agent_root, info["start_root"])
        return reference_anchor_shift(root_path, info["time_index"], start_index, agent_root, info["start_root"])

    def _render_reward(self, consts: Any, renderer: Any, stepped: Any, history: FrameHistory, fresh: jax.Array,
                       step: jax.Array, last_video: jax.Array, fovy_factor: jax.Array | None = None):
        """Render every view, push it into the history, score it: (reward f32[N], terms, history, rgb and mask of
        the first view [N,...])."""
        reference, encoder = consts
        data = stepped.data
        shift = self._camera_shift(reference, stepped)
        multi = self.num_views > 1
        render = renderer.render_views if multi else renderer.render
        pose_mask = None
        with self.precision_context("camera"):
            if renderer.config.camera_anchor == "both":
                _, pose_mask = render(data, fovy_factor=fovy_factor)  # the agent-anchored view: pose only
            rgb, mask = render(data, shift=shift, fovy_factor=fovy_factor)
        valid = stepped.metrics["diverged"] == 0  # a diverged env gets reward.diverged_reward, no NaN
        if multi:
            history = jax.vmap(push, in_axes=(0, 0, 0, None))(history, rgb, mask, fresh)
            reward, terms, view_video = nil_reward_views(
                self.reward_config, reference, encoder, history, stepped.physics, stepped.info["time_index"],
                view_names=self.view_names, step=step, last_video=last_video, extra_view_mask=pose_mask,
                valid=valid)
            return reward, terms, history, rgb[0], mask[0], view_video
        history = push(history, rgb, mask, reset=fresh)
        reward, terms = nil_reward(
            self.reward_config, reference, encoder, history, stepped.physics,
            stepped.info["time_index"], step=step, last_video=last_video, extra_view_mask=pose_mask, valid=valid,
        )
        return reward, terms, history, rgb, mask, terms["reward/video"]

    def _init_history(self, n: int, renderer: Any) -> tuple[FrameHistory, jax.Array]:
        """An empty frame history and zero carried video scores for n envs (with a leading view axis if V > 1)."""
        h, w = renderer.config.height, renderer.config.width
        history = init_history(n, self.reward_config.clip_len, h, w)
        video = jnp.zeros((n,), jnp.float32)
        if self.num_views > 1:
            history = jax.tree.map(lambda x: jnp.broadcast_to(x, (self.num_views,) + x.shape), history)
            video = jnp.zeros((self.num_views, n), jnp.float32)
        return history, video

    def _draw_fovy_factor(self, rng: jax.Array, n: int) -> jax.Array:
        """f32[n]: 1 + U(-j, j) per env (`RenderConfig.fovy_jitter` = j), ones without jitter."""
        j = self.renderer.config.fovy_jitter
        if j == 0:
            return jnp.ones((n,), jnp.float32)
        return 1.0 + jax.random.uniform(rng, (n,), jnp.float32, -j, j)

    # ------------------------------------------------------------------------------------------------ init
    def init(self, rng: jax.Array) -> NilTrainState:
        """Fresh state: envs reset, empty history and replay, a new learner (sharded when a mesh is set)."""
        return self._init(rng)

    def _init_impl(self, rng: jax.Array) -> NilTrainState:
        rng, k_env, k_learner = jax.random.split(rng, 3)
        k_fovy = jax.random.fold_in(k_env, 1)  # a side stream: runs without jitter keep their random streams
        env_state = self._reset(k_env, self.num_envs)
        zeros = jnp.zeros((self.num_envs,), jnp.float32)
        history, last_video = self._init_history(self.num_envs, self.renderer)
        return NilTrainState(
            env_state=env_state,
            history=history,
            fresh=jnp.ones((self.num_envs,), bool),
            last_video=last_video,
            learner=self._init_learner(k_learner),
            replay=replay_init(self.learner_config.replay_capacity, self.obs_dim, self.act_dim),
            rng=rng,
            env_steps=jnp.zeros((), jnp.int32),
            iteration=jnp.zeros((), jnp.int32),
            episode_acc={k: zeros for k in _EPISODE_KEYS},
            fovy_factor=self._draw_fovy_factor(k_fovy, self.num_envs),
        )

    # ------------------------------------------------------------------------------------------------ train
    def train_chunk(self, state: NilTrainState) -> tuple[NilTrainState, dict[str, jax.Array]]:
        """`iterations_per_call` iterations in one compiled call (the state is donated)."""
        return self._train_chunk(state, self._consts)

    def lower_chunk(self, state: Any) -> jax.stages.Lowered:
        """`train_chunk` traced and lowered for states shaped like `state` (a `NilTrainState`, or its
        `jax.eval_shape`); `.compile()` on the result compiles ahead of the first call, which then reuses that
        program (jit's cache). `benchmarks/bench_suite.py --preset smoke` calls it from worker threads, to compile
        several trainers' chunks at once."""
        return self._train_chunk.lower(state, self._consts)

    @property
    def program_constants(self) -> tuple[ReferenceArrays, VideoEncoder | None]:
        """The arrays every compiled program takes as its last argument (reference, encoder params)."""
        return self._consts

    @property
    def train_chunk_program(self) -> Any:
        """The jitted `(state, program_constants) -> (state, metrics)` behind `train_chunk` (for `jax.export`,
        `niljax.train.accel.export_trainer`; the state is donated)."""
        return self._train_chunk

    def evaluate_program(self, record: bool = False) -> Any:
        """A jitted `(actor_params, rng, program_constants) -> result` of `evaluate` (for `jax.export`)."""
        return jax.jit(functools.partial(self._evaluate_impl, record=record))

    def _train_chunk_impl(self, state: NilTrainState, consts: Any) -> tuple[NilTrainState, dict[str, jax.Array]]:
        self.trace_count += 1
        state, metrics = jax.lax.scan(lambda s, _: self._iteration(s, consts), state, None,
                                      length=self.iterations_per_call)
        # Per-iteration scalars are averaged; episode totals and event counts are summed over the chunk.
        summed = ("episodes/", "counts/")
        out = {k: jnp.mean(v) for k, v in metrics.items() if not k.startswith(summed)}
        out.update({k: jnp.sum(v) for k, v in metrics.items() if k.startswith(summed)})
        return state, out

    def _iteration(self, s: NilTrainState, consts: Any) -> tuple[NilTrainState, dict[str, jax.Array]]:
        cfg = self.learner_config
        n = self.num_envs
        rng, k_act, k_upd = jax.random.split(s.rng, 3)
        k_fovy = jax.random.fold_in(k_act, 1)  # a side stream (see _init_impl)
        obs = self._obs(s.env_state)

        def random_actions(_: Any) -> jax.Array:
            return jax.random.uniform(k_act, (n, self.act_dim), jnp.float32, -1.0, 1.0)

        def policy_actions(_: Any) -> jax.Array:
            with self.precision_context("learner"):
                return bro.act_explore(s.learner, obs, k_act)

        action = jax.lax.cond(s.env_steps < cfg.random_steps, random_actions, policy_actions, None)
        with self.precision_context("physics"):
            stepped = jax.vmap(self.env.step)(s.env_state, action)
        if self.reward_kind == "task":  # the RL upper bound: the skill's task reward, nothing rendered
            reward, history = stepped.metrics["task_reward"], s.history
            zero = jnp.zeros_like(reward)
            terms = {"reward/video": zero, "reward/iou": zero, "reward/task": reward, "reward/total": reward}
            video_carry = s.last_video
        else:
            jitter = s.fovy_factor if self.renderer.config.fovy_jitter > 0 else None
            reward, terms, history, _, _, video_carry = self._render_reward(
                consts, self.renderer, stepped, s.history, s.fresh, s.iteration, s.last_video, jitter)

        done = stepped.done > 0
        truncated = stepped.info["truncation"].astype(jnp.float32) * done
        terminated = done.astype(jnp.float32) * (1.0 - truncated)
        transition = Transition(obs=obs, action=action, reward=reward, next_obs=self._obs(stepped),
                                terminated=terminated, truncated=truncated)
        # drops non-finite transitions (none expected: see below) and counts them, from one check
        replay, rejected = replay_insert_counted(s.replay, transition)

        # Where done, the env restores its stored reset physics (no forward pass), or with reset_noise a fresh
        # noisy pose (one forward pass); see NilEnv.reset_done.
        with self.precision_context("physics"):
            env_state = jax.vmap(self.env.reset_done)(stepped)

        # Episode accumulators: add this step, emit finished episodes, zero them.
        step_vals = {"return": reward, "iou": terms["reward/iou"], "video": terms["reward/video"],
                     "length": jnp.ones_like(reward), "fell": terminated}
        acc = {k: s.episode_acc[k] + step_vals[k] for k in _EPISODE_KEYS}
        # `where`, not a multiply by 0/1: a NaN or inf in one env can never spread into the sums.
        episode_metrics = {f"episodes/{k}_sum": jnp.sum(jnp.where(done, acc[k], 0.0)) for k in _EPISODE_KEYS}
        episode_metrics["episodes/count"] = jnp.sum(done.astype(jnp.float32))
        episode_metrics["counts/diverged"] = jnp.sum(stepped.metrics["diverged"])
        episode_metrics["counts/replay_rejected"] = rejected.astype(jnp.float32)
        acc = {k: jnp.where(done, 0.0, v) for k, v in acc.items()}

        env_steps_before = s.env_steps
        env_steps = s.env_steps + n
        with self.precision_context("learner"):
            learner = jax.lax.cond(bro.reset_fires(cfg, env_steps_before, env_steps, num_envs=n), bro.reset_learner,
                                   lambda x: x, s.learner)

        def do_updates(learner: bro.LearnerState) -> tuple[bro.LearnerState, dict[str, jax.Array]]:
            with self.precision_context("learner"):
                return sample_updates(learner, replay, k_upd, self.num_updates, sharding=self._batch_sharding)

        def skip_updates(learner: bro.LearnerState) -> tuple[bro.LearnerState, dict[str, jax.Array]]:
            m = jax.eval_shape(lambda lr: do_updates(lr)[1], learner)
            return learner, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), m)

        learner, update_metrics = jax.lax.cond(env_steps >= cfg.random_steps, do_updates, skip_updates, learner)

        metrics = {f"reward/{k.split('/', 1)[1]}" if k.startswith("reward/") else k: jnp.mean(v)
                   for k, v in terms.items()}
        metrics.update({f"learner/{k}": v for k, v in update_metrics.items()})
        metrics.update(episode_metrics)
        new_state = NilTrainState(
            # a new episode starts without a video score: with video_every_k > 1 it must not inherit the last
            # episode's until its own first scoring step
            env_state=env_state, history=history, fresh=done, last_video=jnp.where(done, 0.0, video_carry),
            learner=learner, replay=replay, rng=rng, env_steps=env_steps, iteration=s.iteration + 1,
            episode_acc=acc,
            # a new episode gets a new field of view (a no-op without jitter: the factors stay 1)
            fovy_factor=jnp.where(done, self._draw_fovy_factor(k_fovy, n), s.fovy_factor),
        )
        return new_state, metrics

    # ------------------------------------------------------------------------------------------------ eval
    def evaluate(self, learner: bro.LearnerState, rng: jax.Array, *, record: bool = False) -> dict[str, Any]:
        """Deterministic episodes from reference index 0 for `eval_steps` control steps (`eval_envs` envs).

        `eval_steps` is the evaluation protocol's horizon (`eval_horizon`, e.g. 400 steps at 100 Hz for the
        humanoids) or, when unset, the reference length; past the reference's last frame the reward compares
        with that last frame (loop the reference to cover the horizon). The eval env must not truncate
        earlier: its `EnvConfig.horizon` is at least `eval_steps`. A fall ends the episode: every per-step sum
        stops there (`walk_loco_sum` is the paper's "environment reward").

        Returns per-env arrays: `nil_return`, `iou_mean`, `video_mean`, `penalty_sum`, `walk_loco_sum`,
        `walk_hb_sum`, `distance`, `fell`, `length`; over a skill scene also `task_success` (0/1: the skill's
        predicate held for its `min_duration_s`) and `task_reward_norm` (mean task reward per step, in [0, 1]);
        with `record=True` also `frames` uint8[T,H,W,3] and `masks` bool[T,H,W] of env 0 (for the side-by-side
        video) and `step_terms` {"reward/video", "reward/iou", "reward/penalty", "reward/total"} f32[T] of env 0
        (zero after a fall).
        """
        return self._evaluate(learner.actor_params, rng, self._consts, record=record)

    def trace_evaluation(self, learner: bro.LearnerState, rng: jax.Array) -> None:
        """Trace (neither compile nor run) `evaluate(learner, rng, record=False)`; its later call reuses the trace.

        A resumed run calls it before its first training chunk so that its programs are traced in the order of a
        fresh start (evaluation first). With the warp renderer that order fixes the names and numbers MuJoCo Warp
        gives its FFI targets (one per call structure, numbered by a per-process counter), hence the lowered
        programs, hence their persistent-cache keys: the resume then loads the training chunk compiled by the
        first start instead of compiling it again, provided the first start rendered no reference bundle with
        warp in its own process (`walking.py --reference-only` does that in a process of its own)."""
        self._evaluate.trace(learner.actor_params, rng, self._consts, record=False)

    def _evaluate_impl(self, actor_params: Any, rng: jax.Array, consts: Any, record: bool) -> dict[str, Any]:
        n = self.eval_envs
        cfg = self.learner_config
        renderer = self.eval_renderer
        env_state = self._reset(rng, n, self.eval_env)
        history, last_video = self._init_history(n, renderer)
        start_x = env_state.physics.root_pos[:, 0]
        carry0 = (env_state, history, jnp.ones((n,), bool), last_video,
                  jnp.ones((n,), bool), jnp.zeros((), jnp.int32))

        def body(carry, _):
            env_state, history, fresh, last_video, alive, step = carry
            with self.precision_context("learner"):
                action = bro.act_eval(actor_params, self._obs(env_state), cfg, self.act_dim)
            with self.precision_context("physics"):
                stepped = jax.vmap(self.eval_env.step)(env_state, action)
            reward, terms, history, rgb, mask, video_carry = self._render_reward(
                consts, renderer, stepped, history, fresh, step, last_video)

            def live(x: jax.Array) -> jax.Array:  # finished envs keep stepping but count 0 (where: NaN-proof)
                return jnp.where(alive, x, 0.0)

            out = {
                "nil_return": live(reward),
                "iou": live(terms["reward/iou"]),
                "video": live(terms["reward/video"]),
                "penalty": live(terms["reward/penalty"]),
                "root_vel_x": stepped.metrics["root_vel_x"],
                "walk_hb": live(stepped.metrics["walk_humanoidbench"]),
                "length": alive.astype(jnp.float32),
                "root_x": stepped.physics.root_pos[:, 0],
                "fell": (stepped.done > 0) & ~(stepped.info["truncation"] > 0) & alive,
            }
            if "task_ok" in stepped.metrics:  # a skill scene: its predicate and task reward
                out["task_ok"] = live(stepped.metrics["task_ok"])
                out["task_reward"] = live(stepped.metrics["task_reward"])
            if record:
                out["frames"] = rgb[0]
                out["masks"] = mask[0]
            still = alive & ~(stepped.done > 0)
            # Finished envs keep stepping (static shapes) but stop counting.
            return (stepped, history, jnp.zeros_like(fresh), video_carry, still, step + 1), out

        _, traj = jax.lax.scan(body, carry0, None, length=self.eval_steps)
        length = jnp.sum(traj["length"], axis=0)
        last_idx = jnp.clip(length.astype(jnp.int32) - 1, 0, self.eval_steps - 1)
        end_x = jnp.take_along_axis(traj["root_x"], last_idx[None, :], axis=0)[0]
        result = {
            "nil_return": jnp.sum(traj["nil_return"], axis=0),
            "iou_mean": jnp.sum(traj["iou"], axis=0) / jnp.maximum(length, 1.0),
            "video_mean": jnp.sum(traj["video"], axis=0) / jnp.maximum(length, 1.0),
            "penalty_sum": jnp.sum(traj["penalty"], axis=0),
            # the paper's "environment reward": the shared protocol function (a fall ends the sum)
            "walk_loco_sum": episode_walk_return(traj["root_vel_x"], traj["fell"], self.eval_env.walk_target),
            "walk_hb_sum": jnp.sum(traj["walk_hb"], axis=0),
            "distance": end_x - start_x,
            "fell": jnp.any(traj["fell"], axis=0).astype(jnp.float32),
            "length": length,
        }
        if "task_ok" in traj:
            # success: the predicate held for the skill's min duration while alive; the normalised task reward
            # is the mean per-step task reward over the horizon (0 after a fall), in [0, 1]
            result["task_success"] = episode_success(traj["task_ok"], traj["length"], self.eval_env.task.min_steps)
            result["task_reward_norm"] = jnp.sum(traj["task_reward"], axis=0) / self.eval_steps
        if record:
            result["frames"] = traj["frames"]
            result["masks"] = traj["masks"]
            # env 0's per-step reward terms (what `niljax score RUN` plots); zero after a fall
            result["step_terms"] = {f"reward/{k}": traj[src][:, 0] for k, src in
                                    (("video", "video"), ("iou", "iou"), ("penalty", "penalty"), ("total", "nil_return"))}
        return result


#: What `evaluate(record=True)` adds for env 0 (not per-env metrics): frames, masks and per-step reward terms.
RECORDED: tuple[str, ...] = ("frames", "masks", "step_terms")


def summarize_eval(result: dict[str, Any]) -> dict[str, float]:
    """Means over eval envs as `eval/<name>` floats (frames are dropped)."""
    return {f"eval/{k}": float(jnp.mean(v)) for k, v in result.items() if k not in RECORDED}


def chunk_summary(metrics: dict[str, jax.Array]) -> dict[str, float]:
    """Host-side metrics for one chunk: reward terms, learner metrics and mean finished-episode stats."""
    host = {k: float(v) for k, v in jax.device_get(metrics).items()}
    count = host.pop("episodes/count", 0.0)
    out = {k: v for k, v in host.items() if not k.startswith("episodes/")}
    out["train/episodes"] = count
    if count > 0:
        length = host["episodes/length_sum"] / count
        out["train/episode_return"] = host["episodes/return_sum"] / count
        out["train/episode_length"] = length
        out["train/episode_iou"] = host["episodes/iou_sum"] / max(host["episodes/length_sum"], 1.0)
        out["train/fall_rate"] = host["episodes/fell_sum"] / count
    return out


class Throughput:
    """Env-steps/s over the last chunk (wall clock, after compilation)."""

    def __init__(self) -> None:
        self._t = time.perf_counter()

    def tick(self, env_steps: int) -> float:
        now = time.perf_counter()
        rate = env_steps / max(now - self._t, 1e-9)
        self._t = now
        return rate
