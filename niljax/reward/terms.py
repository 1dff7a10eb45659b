"""The NIL reward terms and their weighted sum, as pure jittable functions.

R_t = ζ·S_video + β·S_iou + η·P   (defaults ζ = β = η = 1; see `RewardConfig` and docs/reward.md)

Batch convention: the first axis is the env axis N. The per-term functions (`mask_iou`, `embedding_similarity`,
`penalty_*`) reduce over trailing axes only, so they also work per env under `jax.vmap`. `nil_reward` takes
batched inputs (N >= 1) and can itself be vmapped over an outer axis (e.g. seeds, or envs as batches of 1).

Static (recompiles when changed): the `RewardConfig`, the encoder's function/spec/identity, all shapes
(N, clip length, H, W, T, D) and which optional arguments are None. Traced: everything else (params, reference
arrays, frames, physics values, time indices, `step`, `last_video`).

Physics quantities are duck-typed: any object with the attributes (or a dict with the keys) `joint_torques`
[N,nu], `action` [N,nu], `prev_action` [N,nu], `root_angvel` [N,3], `feet_contact` [N,F], `feet_vel`
[N,F,3], `torso_tilt` [N] works, e.g. `niljax.sim.PhysicsQuantities`. A penalty whose scale is 0 does not
read its fields.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from niljax.reward.bundle import ReferenceArrays
from niljax.reward.config import PENALTY_NAMES, PenaltyScales, RewardConfig, resolve_encoder_dtype
from niljax.reward.encoder import VideoEncoder
from niljax.reward.history import FrameHistory, clip, latest


def take_rows(table: jax.Array, idx: jax.Array) -> jax.Array:
    """`table[idx]` for a (replicated) table and per-env indices, also under an explicit-axes mesh.

    With `jax.sharding.AxisType.Explicit` meshes a gather from a replicated table by env-sharded indices
    needs its output sharding spelled out; it is taken from the indices (batch axes keep their sharding).
    """
    sharding = jax.typeof(idx).sharding
    mesh = sharding.mesh
    if mesh.axis_names and any(t == jax.sharding.AxisType.Explicit for t in mesh.axis_types):
        spec = tuple(sharding.spec) + (None,) * (idx.ndim - len(sharding.spec)) + (None,) * (table.ndim - 1)
        return table.at[idx].get(out_sharding=jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(*spec)))
    return table[idx]


# ---------------------------------------------------------------------------------------------------- IoU


def mask_iou(a: jax.Array, b: jax.Array) -> jax.Array:
    """IoU |a∩b| / |a∪b| over the last two axes: bool[..., H, W] x2 -> f32[...], in [0, 1].

    Two empty masks have IoU 1 (they agree: IoU(A, A) = 1 for every A); one empty, one not: 0.
    """
    if a.shape != b.shape:
        raise ValueError(f"mask_iou: mask shapes differ: {a.shape} vs {b.shape}")
    a, b = a.astype(bool), b.astype(bool)
    inter = jnp.sum(a & b, axis=(-2, -1)).astype(jnp.float32)
    union = jnp.sum(a | b, axis=(-2, -1)).astype(jnp.float32)
    return jnp.where(union > 0, inter / jnp.maximum(union, 1.0), 1.0)


# ---------------------------------------------------------------------------------------------------- video


def embedding_similarity(a: jax.Array, b: jax.Array, kind: str = "cosine") -> jax.Array:
    """Similarity of embeddings f32[..., D] x2 -> f32[...]: "cosine" in [-1, 1] or "l2" = -||a - b||_2 <= 0."""
    if a.shape != b.shape:
        raise ValueError(f"embedding_similarity: shapes differ: {a.shape} vs {b.shape}")
    a, b = a.astype(jnp.float32), b.astype(jnp.float32)
    if kind == "cosine":
        num = jnp.sum(a * b, axis=-1)
        den = jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(b, axis=-1)
        return num / jnp.maximum(den, 1e-8)
    if kind == "l2":
        # sqrt of a sum of squares, with a floor so the gradient at a == b stays finite.
        return -jnp.sqrt(jnp.maximum(jnp.sum(jnp.square(a - b), axis=-1), 1e-12))
    raise ValueError(f"embedding_similarity: kind must be 'cosine' or 'l2', got {kind!r}")


def pad_clip_with_reference(
    frames: jax.Array,
    masks: jax.Array,
    count: jax.Array,
    reference: ReferenceArrays,
    time_index: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    """Replace clip positions older than the episode start by the reference's frames at those indices.

    frames uint8[N,L,H,W,3], masks bool[N,L,H,W] (oldest -> newest, newest = reference index t), count int32[N]
    (agent frames since reset), time_index int32[N]. Position j has age a = L-1-j and reference index
    max(t - a, 0); it is replaced when a >= count. The reference clip ending at t is padded the same way, so
    the padded positions of agent and reference clips are identical and the precomputed embedding row t is
    exact for any start index.
    """
    length = frames.shape[1]
    age = (length - 1) - jnp.arange(length)  # [L]
    ref_idx = jnp.clip(time_index[:, None] - age[None, :], 0, reference.num_frames - 1)  # [N,L]
    use_ref = age[None, :] >= count[:, None]  # [N,L]
    ref_frames = take_rows(reference.frames, ref_idx)
    ref_masks = take_rows(reference.masks, ref_idx)
    frames = jnp.where(use_ref[:, :, None, None, None], ref_frames, frames)
    masks = jnp.where(use_ref[:, :, None, None], ref_masks, masks)
    return frames, masks


def video_similarity(
    encoder: VideoEncoder,
    agent_frames: jax.Array,
    agent_masks: jax.Array,
    reference_embeddings: jax.Array,
    *,
    similarity: str = "cosine",
    dtype: Any = jnp.float32,
    chunk_size: int | None = None,
    centre: jax.Array | None = None,
) -> jax.Array:
    """S_video: embed the agent clips and compare with the reference clip embeddings.

    agent_frames uint8[N,L,H,W,3], agent_masks bool[N,L,H,W] (background masked by the encoder's
    preprocessing), reference_embeddings f32[N,D] (the rows for each env's time index) -> f32[N].
    `chunk_size` (static): clips per encoder call, see `VideoEncoder.embed`. `centre` f32[D] (optional): subtracted
    from both embeddings before comparing (`RewardConfig.video_centring`: the reference's mean embedding).
    """
    agent = encoder.embed(agent_frames, agent_masks, dtype, chunk_size)
    if agent.shape != reference_embeddings.shape:
        raise ValueError(
            f"video_similarity: encoder gives embeddings {agent.shape}, reference rows are "
            f"{reference_embeddings.shape} (was the bundle made with this encoder?)"
        )
    if centre is not None:
        agent, reference_embeddings = agent - centre, reference_embeddings - centre
    return embedding_similarity(agent, reference_embeddings, similarity)


# ---------------------------------------------------------------------------------------------------- penalties


def penalty_torque(joint_torques: jax.Array, scale: float = PenaltyScales.torque) -> jax.Array:
    """-scale * sum_j tau_j^2: joint_torques f32[..., nu] (N·m) -> f32[...] <= 0."""
    return -scale * jnp.sum(jnp.square(joint_torques.astype(jnp.float32)), axis=-1)


def penalty_action_rate(
    action: jax.Array, prev_action: jax.Array, scale: float = PenaltyScales.action_rate
) -> jax.Array:
    """-scale * sum_j (a_j - a_prev_j)^2: actions f32[..., nu] in [-1, 1] -> f32[...] <= 0."""
    return -scale * jnp.sum(jnp.square(action.astype(jnp.float32) - prev_action.astype(jnp.float32)), axis=-1)


def penalty_angular_velocity(root_angvel: jax.Array, scale: float = PenaltyScales.angular_velocity) -> jax.Array:
    """-scale * sum_k omega_k^2 over the 3 root angular-velocity components (rad/s) -> f32[...] <= 0."""
    return -scale * jnp.sum(jnp.square(root_angvel.astype(jnp.float32)), axis=-1)


def penalty_foot_slip(
    feet_contact: jax.Array, feet_vel: jax.Array, scale: float = PenaltyScales.foot_slip
) -> jax.Array:
    """-scale * sum_f contact_f * (v_f,x^2 + v_f,y^2): feet moving horizontally while touching the ground.

    feet_contact bool/f32[..., F], feet_vel f32[..., F, 3] (m/s, world frame) -> f32[...] <= 0.
    """
    planar = jnp.sum(jnp.square(feet_vel[..., :2].astype(jnp.float32)), axis=-1)
    return -scale * jnp.sum(feet_contact.astype(jnp.float32) * planar, axis=-1)


def penalty_torso_tilt(torso_tilt: jax.Array, scale: float = PenaltyScales.torso_tilt) -> jax.Array:
    """-scale * tilt^2: torso_tilt f32[...] = angle (rad) between the torso's up axis and world up -> <= 0."""
    return -scale * jnp.square(torso_tilt.astype(jnp.float32))


_PENALTY_FIELDS: dict[str, tuple[str, ...]] = {
    "torque": ("joint_torques",),
    "action_rate": ("action", "prev_action"),
    "angular_velocity": ("root_angvel",),
    "foot_slip": ("feet_contact", "feet_vel"),
    "torso_tilt": ("torso_tilt",),
}
_PENALTY_FNS = {
    "torque": penalty_torque,
    "action_rate": penalty_action_rate,
    "angular_velocity": penalty_angular_velocity,
    "foot_slip": penalty_foot_slip,
    "torso_tilt": penalty_torso_tilt,
}


def _field(physics: Any, name: str, term: str) -> jax.Array:
    if isinstance(physics, dict):
        value = physics.get(name)
    else:
        value = getattr(physics, name, None)
    if value is None:
        raise ValueError(
            f"physics quantities lack '{name}', needed by the {term} penalty "
            f"(provide it, or set PenaltyScales.{term} = 0 to switch the term off)"
        )
    return jnp.asarray(value)


def penalties(physics: Any, scales: PenaltyScales, num_envs: int) -> dict[str, jax.Array]:
    """All regularisers as {name: f32[N] <= 0}; a term with scale 0 is zeros and reads nothing."""
    out = {}
    for name in PENALTY_NAMES:
        scale = getattr(scales, name)
        if scale == 0:
            out[name] = jnp.zeros((num_envs,), jnp.float32)
            continue
        args = [_field(physics, f, name) for f in _PENALTY_FIELDS[name]]
        value = _PENALTY_FNS[name](*args, scale=scale)
        if value.shape != (num_envs,):
            raise ValueError(
                f"{name} penalty has shape {value.shape}, expected ({num_envs},): check the shapes of "
                f"{_PENALTY_FIELDS[name]} (batch axis first)"
            )
        out[name] = value
    return out


# ---------------------------------------------------------------------------------------------------- total


def nil_reward(
    config: RewardConfig,
    reference: ReferenceArrays,
    encoder: VideoEncoder | None,
    history: FrameHistory,
    physics: Any,
    time_index: jax.Array,
    *,
    step: jax.Array | int | None = None,
    last_video: jax.Array | None = None,
    extra_view_mask: jax.Array | None = None,
    valid: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The NIL reward for N envs at their reference time indices.

    Args:
      config: `RewardConfig` (static).
      reference: `ReferenceBundle.to_device()` arrays.
      encoder: the `VideoEncoder` the bundle's embeddings were computed with (None only if `use_video=False`).
      history: `FrameHistory` after pushing this step's render; its newest frame/mask is the agent's current
        render (reference index `time_index`).
      physics: penalty inputs (see module docstring), batch axis first.
      time_index: int32[N], reference frame index of this step (clamped to [0, T-1]).
      step: scalar step counter, required when `config.video_every_k > 1`: the video term is computed when
        `step % k == 0` (for the whole batch, via `lax.cond`) and otherwise taken from `last_video`.
      last_video: f32[N], the previous `terms["reward/video"]` (carry it); zeros when None.
      extra_view_mask: bool[N,H,W] or None: the agent's mask seen from a second camera placement of the same
        reference view (e.g. agent- vs reference-anchored, `niljax.render.camera`); S_iou is then the mean of
        the two IoUs against the reference mask.
      valid: bool[N] or None: False for an env whose physics diverged this step. Its reward is
        `config.diverged_reward` and its terms are 0, whatever its render or physics hold, so a NaN never
        leaves this function through that env (the other envs' values are untouched).

    Returns:
      reward f32[N] and terms {"reward/video", "reward/iou", "reward/penalty/<name>", "reward/penalty",
      "reward/total"} each f32[N], plus "reward/alive" when `config.alive_bonus` is not 0 (static: the key set
      is fixed per config). Video and IoU are unweighted; penalties are scaled (<= 0), not η-weighted.
      A disabled term is 0 in `reward/total`; a disabled video term is reported as 0 (not computed).
    """
    n, length, h, w, _ = history.frames.shape
    t_ref, rh, rw = reference.frames.shape[:3]
    if (rh, rw) != (h, w):
        raise ValueError(f"nil_reward: agent renders are {h}x{w} but the reference frames are {rh}x{rw}")
    if length != config.clip_len:
        raise ValueError(f"nil_reward: history clip length {length} != RewardConfig.clip_len {config.clip_len}")
    time_index = jnp.asarray(time_index)
    if time_index.shape != (n,):
        raise ValueError(f"nil_reward: time_index must be int[{n}], got shape {time_index.shape}")
    t = jnp.clip(time_index.astype(jnp.int32), 0, t_ref - 1)

    _, agent_mask = latest(history)
    ref_mask = take_rows(reference.masks, t)
    iou = mask_iou(agent_mask, ref_mask)
    if extra_view_mask is not None:
        if extra_view_mask.shape != agent_mask.shape:
            raise ValueError(f"nil_reward: extra_view_mask has shape {extra_view_mask.shape}, expected "
                             f"{agent_mask.shape}")
        iou = 0.5 * (iou + mask_iou(extra_view_mask, ref_mask))

    if config.use_video:
        if encoder is None:
            raise ValueError("nil_reward: use_video=True needs an encoder")
        dtype = jnp.bfloat16 if resolve_encoder_dtype(config.encoder_dtype) == "bfloat16" else jnp.float32

        def compute_video() -> jax.Array:
            frames, masks = clip(history)
            if config.start_padding == "reference":
                frames, masks = pad_clip_with_reference(frames, masks, history.count, reference, t)
            return video_similarity(
                encoder, frames, masks, take_rows(reference.embeddings, t), similarity=config.similarity, dtype=dtype,
                chunk_size=config.chunk_size(),
                centre=jnp.mean(reference.embeddings, axis=0) if config.video_centring else None,
            )

        previous = jnp.zeros((n,), jnp.float32) if last_video is None else jnp.asarray(last_video, jnp.float32)
        if previous.shape != (n,):
            raise ValueError(f"nil_reward: last_video must be f32[{n}], got shape {previous.shape}")
        if config.video_every_k == 1:
            video = compute_video()
        else:
            if step is None:
                raise ValueError("nil_reward: video_every_k > 1 needs the scalar `step` counter")
            step = jnp.asarray(step)
            if step.ndim != 0:
                raise ValueError(f"nil_reward: step must be a scalar, got shape {step.shape}")
            video = jax.lax.cond(step % config.video_every_k == 0, compute_video, lambda: previous)
    else:
        video = jnp.zeros((n,), jnp.float32)

    pens = penalties(physics, config.penalty_scales, n)
    penalty = sum(pens.values(), jnp.zeros((n,), jnp.float32))

    total = jnp.zeros((n,), jnp.float32)
    if config.use_video:
        total = total + config.zeta * video
    if config.use_iou:
        total = total + config.beta * iou
    if config.use_penalties:
        total = total + config.eta * penalty
    alive = jnp.full((n,), config.alive_bonus, jnp.float32)
    total = total + alive

    terms = {"reward/video": video, "reward/iou": iou}
    if config.alive_bonus:
        terms["reward/alive"] = alive
    terms.update({f"reward/penalty/{k}": v for k, v in pens.items()})
    terms["reward/penalty"] = penalty
    terms["reward/total"] = total
    if valid is not None:
        valid = jnp.asarray(valid, bool)
        if valid.shape != (n,):
            raise ValueError(f"nil_reward: valid must be bool[{n}], got shape {valid.shape}")
        terms = {k: jnp.where(valid, v, 0.0) for k, v in terms.items()}
        total = jnp.where(valid, total, jnp.float32(config.diverged_reward))
        terms["reward/total"] = total
    return total, terms


# ---------------------------------------------------------------------------------------------------- views


def stack_views(items: list[Any]) -> Any:
    """Stack V pytrees of equal structure and shapes (per-view `ReferenceArrays` or `FrameHistory`) on a new
    leading view axis. ValueError naming the first leaf whose shapes differ."""
    if not items:
        raise ValueError("stack_views: no views given")
    shapes = [jax.tree.map(jnp.shape, x) for x in items]
    for i, s in enumerate(shapes[1:], 1):
        if s != shapes[0]:
            raise ValueError(f"stack_views: view {i} has shapes {s}, view 0 {shapes[0]} (every view's reference must "
                             "have the same length, size and encoder)")
    return jax.tree.map(lambda *xs: jnp.stack(xs), *items)


def nil_reward_views(
    config: RewardConfig,
    reference: ReferenceArrays,
    encoder: VideoEncoder | None,
    history: FrameHistory,
    physics: Any,
    time_index: jax.Array,
    *,
    view_names: tuple[str, ...],
    step: jax.Array | int | None = None,
    last_video: jax.Array | None = None,
    extra_view_mask: jax.Array | None = None,
    valid: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array], jax.Array]:
    """The NIL reward seen from V cameras: `nil_reward` per view against that view's reference, averaged.

    reference / history: `stack_views` of V per-view `ReferenceArrays` / `FrameHistory` (leading axis V, then
    as in `nil_reward`); last_video f32[V,N] or None; extra_view_mask bool[V,N,H,W] or None; physics,
    time_index, step and valid as in `nil_reward` (shared by the views). view_names (static): V names.

    Returns reward f32[N] (the mean over views of each view's total: the penalties, the same in every view,
    count once), terms as `nil_reward`'s (video and IoU the means over views) plus "reward/views/<name>/video"
    and "reward/views/<name>/iou" f32[N] per view, and the per-view video scores f32[V,N] (carry them as
    `last_video` when `config.video_every_k > 1`). The views run as one vmapped program: the encoder embeds
    V*N clips per call. Static: everything `nil_reward` lists, plus V.
    """
    v = len(view_names)
    if reference.frames.ndim != 5 or reference.frames.shape[0] != v:
        raise ValueError(f"nil_reward_views: reference frames must be [V={v},T,H,W,3], got {reference.frames.shape}")
    if history.frames.ndim != 6 or history.frames.shape[0] != v:
        raise ValueError(f"nil_reward_views: history frames must be [V={v},N,L,H,W,3], got {history.frames.shape}")
    n = history.frames.shape[1]
    previous = jnp.zeros((v, n), jnp.float32) if last_video is None else jnp.asarray(last_video, jnp.float32)
    if previous.shape != (v, n):
        raise ValueError(f"nil_reward_views: last_video must be f32[{v},{n}], got shape {previous.shape}")

    def one_view(ref: ReferenceArrays, hist: FrameHistory, last: jax.Array, extra: jax.Array | None):
        return nil_reward(config, ref, encoder, hist, physics, time_index, step=step, last_video=last,
                          extra_view_mask=extra, valid=valid)

    _, per_view = jax.vmap(one_view, in_axes=(0, 0, 0, None if extra_view_mask is None else 0))(
        reference, history, previous, extra_view_mask)
    terms = {k: jnp.mean(x, axis=0) for k, x in per_view.items()}
    for i, name in enumerate(view_names):
        terms[f"reward/views/{name}/video"] = per_view["reward/video"][i]
        terms[f"reward/views/{name}/iou"] = per_view["reward/iou"][i]
    return terms["reward/total"], terms, per_view["reward/video"]
