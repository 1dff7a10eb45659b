"""NIL the way it was written: one env, C MuJoCo, OpenGL render, PyTorch TimeSformer, host replay (baseline).

This is the comparison point of `bench_suite.py`, not part of the package. One env step, stage by stage,
each stage timed on the host with `time.perf_counter` (every stage finishes before the next starts):

  policy   BRO's optimistic actor on the one observation (jitted JAX, as the official BRO code does; the
           action is copied back to the host)
  physics  PD targets (or torques) from the action, `mujoco.mj_step` x n_substeps on the C model, then the
           observation, fall test and penalty inputs from `MjData` in numpy
  render   `mujoco.Renderer`: a segmentation pass and an rgb pass per view (two views when the niljax run
           it is compared with renders two camera placements, `camera_anchor="both"`), plain background
  encoder  the last `clip_len` frames (padded with reference frames after a reset) -> background masked,
           resized and normalised in torch -> `transformers.TimesformerModel` (CLS token) -> cosine
           similarity with the reference clip's embedding, which was precomputed once with the same model
           (as NIL does). Only on steps where `step % video_every_k == 0`; other steps reuse the last value.
  reward   mask IoU against the reference mask (mean over the views) and the five regularisers, numpy
  replay   insert into numpy arrays; sample the minibatches for this step's updates with numpy
  updates  BRO updates: each sampled minibatch copied to the device, one jitted `niljax.learner.bro.update`
           per minibatch (official BRO: JAX networks, host replay). `updates_per_step` may be fractional
           (0.5 = one update every second step); its running sum decides how many run each step.

Same robot scene, render size, encoder architecture, networks and replay ratio as the niljax run it is
compared with: the caller passes them (`bench_suite.py` builds both from one preset). The TimeSformer is the
HF implementation with random weights (`TimesformerConfig.to_hf_dict()` of the niljax encoder's config):
speed does not depend on the weights. The TimeSformer runs on CUDA when torch has it (NIL's setting), else on
the CPU with `torch_threads` threads (default 1: on a shared, oversubscribed CPU, OpenMP's spinning barriers make
this small model tens of times slower with 2 threads than with 1; measured on the 2-core dev machine at load
~10, 1 thread 1.7 ms vs 2 threads 100-760 ms per clip. One thread is the baseline's best case here).
"""

from __future__ import annotations

import collections
import time
from typing import Any

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from niljax.learner import bro
from niljax.learner.bro import BROConfig
from niljax.learner.replay import Transition
from niljax.reward import RewardConfig

STAGES = ("policy", "physics", "render", "encoder", "reward", "replay", "updates")

# The learner's init, compiled once per process (obs/act dims and config static): run eagerly, every instance
# would dispatch its hundreds of ops one by one and compile each Householder loop anew (~4 s per instance on
# the 2-core CPU); the suite builds four instances (k = 1 and 8, two brackets). Not part of any timed stage.
_init_learner = jax.jit(bro.init_learner, static_argnums=(1, 2, 3))


class OriginalStyleNIL:
    """One NIL env in the original style (see module docstring); `run(steps)` returns throughput and stages.

    Args:
      scene: a `niljax.robots.RobotScene` (its C `mj_model` is stepped and rendered).
      reference_frames uint8[T,H,W,3], reference_masks bool[T,H,W]: the reference video (from a bundle).
      tsf_config: `niljax.encoders.TimesformerConfig` of the niljax encoder (same architecture here).
      reward: `RewardConfig` (clip_len, video_every_k, similarity, penalty scales, switches).
      learner: `BROConfig` (networks, batch size); `updates_per_step` = gradient updates per env step.
      views: render passes per step (1, or 2 to match `camera_anchor="both"`).
      camera, fovy: camera name in the model and its field of view (None: the model's), as `RenderConfig`.
    """

    def __init__(self, scene: Any, reference_frames: np.ndarray, reference_masks: np.ndarray, tsf_config: Any,
                 reward: RewardConfig, learner: BROConfig, *, updates_per_step: float, views: int = 1,
                 camera: str = "follow", fovy: float | None = None, replay_capacity: int = 100_000,
                 seed: int = 0, torch_threads: int | None = 1) -> None:
        import torch
        import transformers

        if reference_frames.ndim != 4 or reference_masks.shape != reference_frames.shape[:3]:
            raise ValueError(f"reference frames [T,H,W,3] and masks [T,H,W] expected, got {reference_frames.shape} "
                             f"and {reference_masks.shape}")
        if updates_per_step <= 0:
            raise ValueError(f"updates_per_step must be > 0, got {updates_per_step}")
        if views not in (1, 2):
            raise ValueError(f"views must be 1 or 2, got {views}")
        self.torch = torch
        self.scene, self.reward, self.learner_cfg = scene, reward, learner
        from niljax.render.renderer import camera_id, with_fovy

        self.cam = camera_id(scene.mj_model, camera)
        self.m = with_fovy(scene.mj_model, self.cam, fovy)
        self.d = mujoco.MjData(self.m)
        self.ref_frames, self.ref_masks = reference_frames, reference_masks.astype(bool)
        self.num_frames, self.h, self.w = reference_frames.shape[:3]
        self.horizon = self.num_frames - 1
        self.views, self.updates_per_step = views, float(updates_per_step)
        self.rng = np.random.default_rng(seed)
        m = self.m
        m.vis.global_.offwidth = max(m.vis.global_.offwidth, self.w)
        m.vis.global_.offheight = max(m.vis.global_.offheight, self.h)
        self.renderer = mujoco.Renderer(m, height=self.h, width=self.w)
        self.robot_geom = np.asarray(scene.robot_geom_mask, bool)

        # Robot constants (the same definitions as niljax.sim.NilEnv, computed once on the host).
        spec = scene.spec
        self.pd = spec.actuation["mode"] == "pd"
        lo, hi = scene.ctrl_range[:, 0], scene.ctrl_range[:, 1]
        self.ctrl_lo, self.ctrl_hi = np.where(np.isfinite(lo), lo, -1e9), np.where(np.isfinite(hi), hi, 1e9)
        fall = spec.fall
        self.fall_enabled = bool(fall.get("enabled", True) and scene.root_kind != "fixed")
        self.min_root_height = float(fall.get("min_root_height", -np.inf))
        self.max_tilt = float(np.deg2rad(fall.get("max_tilt_deg", 180.0)))
        self.foot_geoms = np.nonzero(scene.geom_foot_index >= 0)[0]
        self.foot_of_geom = scene.geom_foot_index[self.foot_geoms]
        self.nu = scene.nu
        self.obs_dim = 10 + 3 * self.nu + 1  # + time index (niljax's observe_time default)
        self.scales = reward.penalty_scales

        # PyTorch TimeSformer (HF), random init, inference mode.
        torch.manual_seed(seed)
        self.torch_device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if self.torch_device.type == "cpu" and torch_threads:
            torch.set_num_threads(torch_threads)
        self.torch_threads = torch.get_num_threads()
        self.tsf = tsf_config
        self.model = transformers.TimesformerModel(transformers.TimesformerConfig(**tsf_config.to_hf_dict()))
        self.model = self.model.eval().to(self.torch_device)
        self.mean = torch.tensor([0.45, 0.45, 0.45], device=self.torch_device).view(1, 1, 3, 1, 1)
        self.std = torch.tensor([0.225, 0.225, 0.225], device=self.torch_device).view(1, 1, 3, 1, 1)
        t0 = time.perf_counter()
        self.ref_embeddings = self._reference_embeddings()
        self.reference_embedding_s = time.perf_counter() - t0

        # BRO learner (JAX, one seed) and a numpy replay.
        self.learner = _init_learner(jax.random.PRNGKey(seed), self.obs_dim, self.nu, learner)
        self._act = jax.jit(bro.act_explore)
        self._update = jax.jit(bro.update)
        self.key = jax.random.PRNGKey(seed + 1)
        cap = replay_capacity
        self.cap = cap
        self.buf = {"obs": np.zeros((cap, self.obs_dim), np.float32), "action": np.zeros((cap, self.nu), np.float32),
                    "reward": np.zeros((cap,), np.float32), "next_obs": np.zeros((cap, self.obs_dim), np.float32),
                    "terminated": np.zeros((cap,), np.float32), "truncated": np.zeros((cap,), np.float32)}
        self.pos = self.size = 0
        self.update_debt = 0.0
        self.step_count = 0
        self.reset()

    # ------------------------------------------------------------------------------------------ helpers
    def _embed(self, frames: np.ndarray, masks: np.ndarray) -> Any:
        """frames uint8[B,T,H,W,3], masks bool[B,T,H,W] -> torch f32[B,D] (NIL's preprocessing in torch)."""
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(frames).to(self.torch_device).float()
            x = x * torch.from_numpy(masks).to(self.torch_device)[..., None]  # background -> 0
            b, t = x.shape[:2]
            x = x.permute(0, 1, 4, 2, 3).reshape(b * t, 3, self.h, self.w)
            size = self.tsf.image_size
            if (self.h, self.w) != (size, size):
                x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                                                    align_corners=False)
            x = (x.reshape(b, t, 3, size, size) / 255.0 - self.mean) / self.std
            return self.model(pixel_values=x).last_hidden_state[:, 0]

    def _clip_indices(self, t: int) -> np.ndarray:
        return np.clip(t - np.arange(self.reward.clip_len)[::-1], 0, self.num_frames - 1)

    def _reference_embeddings(self) -> Any:
        rows = []
        for start in range(0, self.num_frames, 32):
            idx = np.stack([self._clip_indices(t) for t in range(start, min(start + 32, self.num_frames))])
            rows.append(self._embed(self.ref_frames[idx], self.ref_masks[idx]))
        return self.torch.cat(rows)

    def _point_vel(self, body: Any, point: np.ndarray) -> np.ndarray:
        d = self.d
        cvel = d.cvel[body]
        return cvel[..., 3:] + np.cross(cvel[..., :3], point - d.subtree_com[self.m.body_rootid[body]])

    def _physics(self) -> dict[str, Any]:
        """Observation inputs, fall test and penalty inputs from MjData (numpy)."""
        d, sc = self.d, self.scene
        rb, tb = sc.root_body_id, sc.torso_body_id
        root_pos = d.xpos[rb].copy()
        upright = float(np.clip(d.xmat[tb][8], -1.0, 1.0))
        out = {"root_pos": root_pos, "root_linvel": self._point_vel(rb, root_pos), "root_angvel": d.cvel[rb, :3].copy(),
               "torso_tilt": float(np.arccos(upright)), "joint_torques": d.actuator_force.copy()}
        if sc.n_feet:
            feet = sc.feet_body_ids
            out["feet_vel"] = self._point_vel(feet, d.xpos[feet])
            g = self.foot_geoms
            rot_z = d.geom_xmat[g].reshape(-1, 3, 3)[:, 2, :]
            aabb = self.m.geom_aabb[g]
            low = d.geom_xpos[g][:, 2] + np.sum(rot_z * aabb[:, :3], -1) - np.sum(np.abs(rot_z) * aabb[:, 3:], -1)
            lowest = np.full(sc.n_feet, np.inf)
            np.minimum.at(lowest, self.foot_of_geom, low)
            out["feet_contact"] = lowest < 0.01
        return out

    def _obs(self, phys: dict[str, Any]) -> np.ndarray:
        d, sc = self.d, self.scene
        rot = d.xmat[sc.root_body_id].reshape(3, 3)
        return np.concatenate([
            rot.T @ np.array([0.0, 0.0, -1.0]), rot.T @ phys["root_linvel"], rot.T @ phys["root_angvel"],
            phys["root_pos"][2:3], d.qpos[sc.joint_qpos_adr] - sc.home_qpos[sc.joint_qpos_adr],
            0.1 * d.qvel[sc.joint_qvel_adr], self.prev_action, [self.t / self.horizon],
        ]).astype(np.float32)

    def _render(self) -> tuple[np.ndarray, np.ndarray]:
        r = self.renderer
        r.update_scene(self.d, camera=self.cam)
        r.enable_segmentation_rendering()
        seg = r.render()
        r.disable_segmentation_rendering()
        rgb = r.render()
        obj_id, obj_type = seg[..., 0], seg[..., 1]
        mask = (obj_type == int(mujoco.mjtObj.mjOBJ_GEOM)) & (obj_id >= 0)
        mask &= self.robot_geom[np.clip(obj_id, 0, self.m.ngeom - 1)]
        return np.where(mask[..., None], rgb, np.uint8(255)), mask

    @staticmethod
    def _iou(a: np.ndarray, b: np.ndarray) -> float:
        union = np.count_nonzero(a | b)
        return float(np.count_nonzero(a & b) / union) if union else 1.0

    def reset(self) -> None:
        mujoco.mj_resetData(self.m, self.d)
        self.d.qpos[:] = self.scene.home_qpos
        self.d.ctrl[:] = self.scene.home_ctrl
        mujoco.mj_forward(self.m, self.d)
        self.t = 0
        self.prev_action = np.zeros(self.nu, np.float32)
        self.obs = self._obs(self._physics())
        # Start padding "reference": the frames before the episode start are the reference's own.
        idx = self._clip_indices(0)
        self.history = collections.deque(zip(self.ref_frames[idx], self.ref_masks[idx]), maxlen=self.reward.clip_len)
        self.last_video = 0.0

    # ------------------------------------------------------------------------------------------ one step
    def step(self, timers: dict[str, float]) -> float:
        """One env step (+ its share of updates); adds seconds per stage to `timers`; returns the reward."""
        torch, clock = self.torch, time.perf_counter
        cfg = self.reward
        t0 = clock()
        self.key, k_act = jax.random.split(self.key)
        action = np.asarray(self._act(self.learner, jnp.asarray(self.obs[None]), k_act))[0]
        t1 = clock()
        timers["policy"] += t1 - t0

        a = np.clip(np.nan_to_num(action), -1.0, 1.0)
        sc = self.scene
        self.d.ctrl[:] = (np.clip(sc.home_ctrl + a * sc.action_scale, self.ctrl_lo, self.ctrl_hi) if self.pd
                          else a * sc.torque_limit)
        mujoco.mj_step(self.m, self.d, nstep=sc.n_substeps)
        self.t += 1
        phys = self._physics()
        tilt = phys["torso_tilt"]
        diverged = not (np.all(np.isfinite(self.d.qpos)) and np.all(np.isfinite(self.d.qvel)))
        fell = self.fall_enabled and (phys["root_pos"][2] < self.min_root_height or tilt > self.max_tilt)
        terminated = bool(fell or diverged)
        truncated = (self.t >= self.horizon) and not terminated
        prev = self.prev_action
        self.prev_action = a.astype(np.float32)
        next_obs = self._obs(phys)
        t2 = clock()
        timers["physics"] += t2 - t1

        views = [self._render() for _ in range(self.views)]  # the second view: same cost as a shifted camera
        rgb, mask = views[-1]
        self.history.append((rgb, mask))
        t3 = clock()
        timers["render"] += t3 - t2

        ti = min(self.t, self.num_frames - 1)
        if cfg.use_video and self.step_count % cfg.video_every_k == 0:
            frames = np.stack([f for f, _ in self.history])[None]
            masks = np.stack([mk for _, mk in self.history])[None]
            emb = self._embed(frames, masks)
            # float() copies to the host: the step waits for the GPU, as NIL's reward does
            self.last_video = float(torch.nn.functional.cosine_similarity(emb, self.ref_embeddings[ti:ti + 1])[0])
        t4 = clock()
        timers["encoder"] += t4 - t3

        ref_mask = self.ref_masks[ti]
        iou = float(np.mean([self._iou(mk, ref_mask) for _, mk in views]))
        s = self.scales
        penalty = -s.torque * np.sum(phys["joint_torques"] ** 2) - s.action_rate * np.sum((a - prev) ** 2)
        penalty -= s.angular_velocity * np.sum(phys["root_angvel"] ** 2) + s.torso_tilt * tilt ** 2
        if "feet_vel" in phys:
            penalty -= s.foot_slip * np.sum(phys["feet_contact"] * np.sum(phys["feet_vel"][:, :2] ** 2, -1))
        reward = (cfg.zeta * self.last_video * cfg.use_video + cfg.beta * iou * cfg.use_iou
                  + cfg.eta * penalty * cfg.use_penalties)
        t5 = clock()
        timers["reward"] += t5 - t4

        i = self.pos
        for k, v in (("obs", self.obs), ("action", a), ("reward", reward), ("next_obs", next_obs),
                     ("terminated", float(terminated)), ("truncated", float(truncated))):
            self.buf[k][i] = v
        self.pos, self.size = (i + 1) % self.cap, min(self.size + 1, self.cap)
        self.update_debt += self.updates_per_step
        n_updates = int(self.update_debt)
        self.update_debt -= n_updates
        batches = []
        for _ in range(n_updates):
            ind = self.rng.integers(0, self.size, self.learner_cfg.batch_size)
            batches.append({k: v[ind] for k, v in self.buf.items()})
        t6 = clock()
        timers["replay"] += t6 - t5

        for b in batches:
            self.learner, _ = self._update(self.learner, Transition(**{k: jnp.asarray(v) for k, v in b.items()}))
        jax.block_until_ready(self.learner)
        timers["updates"] += clock() - t6

        self.step_count += 1
        if terminated or truncated:
            self.reset()  # counted in no stage: a reset every ~40-100 steps costs one mj_forward
        else:
            self.obs = next_obs
        return float(reward)

    def run(self, steps: int, warmup: int | None = None) -> dict[str, Any]:
        """`warmup` untimed steps (jit compiles, GL and torch warm-up; default k + 2: two encoder calls), then
        `steps` timed steps.

        Returns env_steps_per_s, seconds, stage_ms_per_step {stage: ms per env step}, updates_per_step, and
        the last reward (finite check)."""
        timers = dict.fromkeys(STAGES, 0.0)
        for _ in range(self.reward.video_every_k + 2 if warmup is None else warmup):
            self.step(timers)
        timers = dict.fromkeys(STAGES, 0.0)
        t0 = time.perf_counter()
        reward = 0.0
        for _ in range(steps):
            reward = self.step(timers)
        dt = time.perf_counter() - t0
        return {"env_steps_per_s": steps / dt, "seconds": dt, "steps": steps,
                "stage_ms_per_step": {k: 1e3 * v / steps for k, v in timers.items()},
                "updates_per_step": self.updates_per_step, "video_every_k": self.reward.video_every_k,
                "last_reward": reward, "reference_embedding_s": self.reference_embedding_s,
                "torch_device": str(self.torch_device), "torch_threads": self.torch_threads}
