"""niljax.reward: terms against hand-computed values, the frame-history ring, and nil_reward under
jit (trace count), vmap and sharding over 2 forced host CPU devices."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import niljax.reward as nr

T, H, W, L, D = 24, 16, 16, 8, 32


def _square_video(num_frames: int, *, speed: int = 1, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A coloured 6x6 square moving right (wrapping) on black: frames uint8[T,H,W,3], masks bool[T,H,W]."""
    frames = np.zeros((num_frames, H, W, 3), np.uint8)
    masks = np.zeros((num_frames, H, W), bool)
    for t in range(num_frames):
        x = (offset + speed * t) % (W - 6)
        y = 5 + (t % 3)
        masks[t, y:y + 6, x:x + 6] = True
        frames[t, y:y + 6, x:x + 6] = (40 + 8 * t % 200, 200, 255 - 5 * t % 250)
    return frames, masks


@pytest.fixture(scope="module")
def encoder() -> nr.VideoEncoder:
    return nr.toy_encoder(jax.random.PRNGKey(3), clip_len=L, dim=D)


@pytest.fixture(scope="module")
def bundle(encoder) -> nr.ReferenceBundle:
    frames, masks = _square_video(T)
    return nr.make_bundle(frames, masks, encoder, robot="toy", prompt="a square", source="synthetic",
                          original_fps=100.0, control_rate_hz=100.0, resampling="none", camera={},
                          clip_len=L, batch_size=8)


def _physics(n: int, rng: np.random.Generator) -> dict[str, jax.Array]:
    return {
        "joint_torques": jnp.asarray(rng.normal(0, 50, (n, 5)), jnp.float32),
        "action": jnp.asarray(rng.uniform(-1, 1, (n, 5)), jnp.float32),
        "prev_action": jnp.asarray(rng.uniform(-1, 1, (n, 5)), jnp.float32),
        "root_angvel": jnp.asarray(rng.normal(0, 1, (n, 3)), jnp.float32),
        "feet_contact": jnp.asarray(rng.random((n, 2)) > 0.5),
        "feet_vel": jnp.asarray(rng.normal(0, 0.3, (n, 2, 3)), jnp.float32),
        "torso_tilt": jnp.asarray(rng.uniform(0, 0.5, (n,)), jnp.float32),
    }


# ------------------------------------------------------------------------------------------- hand-computed terms


def test_penalties_hand_computed():
    s = nr.PenaltyScales()
    tau = jnp.array([[10.0, -20.0, 30.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(nr.penalty_torque(tau), [-1e-5 * 1400.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(nr.penalty_torque(tau, scale=2.0), [-2800.0, 0.0], rtol=1e-6)
    a, a_prev = jnp.array([[0.5, -1.0]]), jnp.array([[0.0, 1.0]])
    np.testing.assert_allclose(nr.penalty_action_rate(a, a_prev), [-0.01 * (0.25 + 4.0)], rtol=1e-6)
    w = jnp.array([[1.0, -2.0, 3.0]])
    np.testing.assert_allclose(nr.penalty_angular_velocity(w), [-0.05 * 14.0], rtol=1e-6)
    contact = jnp.array([[True, False]])
    vel = jnp.array([[[0.3, 0.4, 9.0], [5.0, 5.0, 5.0]]])  # only the foot in contact counts, only x,y
    np.testing.assert_allclose(nr.penalty_foot_slip(contact, vel), [-0.1 * 0.25], rtol=1e-6)
    np.testing.assert_allclose(nr.penalty_torso_tilt(jnp.array([0.0, 0.5])), [0.0, -0.25], rtol=1e-6)
    assert (s.torque, s.action_rate, s.angular_velocity, s.foot_slip, s.torso_tilt) == (1e-5, 0.01, 0.05, 0.1, 1.0)


def test_penalties_non_positive_and_dict():
    rng = np.random.default_rng()
    phys = _physics(16, rng)
    out = nr.penalties(phys, nr.PenaltyScales(), 16)
    assert list(out) == list(nr.PENALTY_NAMES)
    for v in out.values():
        assert v.shape == (16,) and bool(jnp.all(v <= 0))
    off = nr.penalties({"torso_tilt": phys["torso_tilt"]}, nr.PenaltyScales(0, 0, 0, 0, 1.0), 16)
    assert all(float(jnp.abs(off[k]).max()) == 0 for k in nr.PENALTY_NAMES[:4])
    with pytest.raises(ValueError, match="lack 'feet_vel'.*foot_slip"):
        nr.penalties({k: v for k, v in phys.items() if k != "feet_vel"}, nr.PenaltyScales(), 16)
    with pytest.raises(ValueError, match="torso_tilt penalty has shape"):
        nr.penalties({**phys, "torso_tilt": phys["torso_tilt"][:, None]}, nr.PenaltyScales(), 16)


def test_mask_iou_hand_computed():
    a = np.zeros((4, 4, 4), bool)
    b = np.zeros((4, 4, 4), bool)
    a[0, :2, :2] = True  # 4 px
    b[0, :2, :3] = True  # 6 px, overlap 4 -> 4/6
    a[1, 0, 0] = True  # disjoint -> 0
    b[1, 3, 3] = True
    # env 2: both empty -> 1 by definition; env 3: one empty -> 0
    b[3, 1, 1] = True
    np.testing.assert_allclose(nr.mask_iou(jnp.asarray(a), jnp.asarray(b)), [4 / 6, 0.0, 1.0, 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match="shapes differ"):
        nr.mask_iou(jnp.asarray(a), jnp.asarray(b[:, :3]))


def test_embedding_similarity_hand_computed():
    a = jnp.array([[1.0, 0.0], [3.0, 4.0], [1.0, 1.0]])
    b = jnp.array([[0.0, 2.0], [6.0, 8.0], [-1.0, -1.0]])
    np.testing.assert_allclose(nr.embedding_similarity(a, b, "cosine"), [0.0, 1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(nr.embedding_similarity(a, b, "l2"), [-np.sqrt(5), -5.0, -np.sqrt(8)], rtol=1e-6)
    g = jax.grad(lambda x: nr.embedding_similarity(x, x, "l2").sum())(a)
    assert bool(jnp.all(jnp.isfinite(g)))
    with pytest.raises(ValueError, match="kind must be"):
        nr.embedding_similarity(a, b, "dot")


def test_config_validation():
    with pytest.raises(ValueError, match="similarity must be"):
        nr.RewardConfig(similarity="cos")
    with pytest.raises(ValueError, match="video_every_k"):
        nr.RewardConfig(video_every_k=0)
    with pytest.raises(ValueError, match="encoder_dtype"):
        nr.RewardConfig(encoder_dtype="float16")
    with pytest.raises(ValueError, match="PenaltyScales.torque"):
        nr.PenaltyScales(torque=-1.0)
    with pytest.raises(ValueError, match="zeta"):
        nr.RewardConfig(zeta=float("nan"))
    c = nr.RewardConfig()
    assert (c.zeta, c.beta, c.eta, c.similarity, c.clip_len, c.video_every_k) == (1, 1, 1, "cosine", 8, 1)
    hash(c)  # static argument to jit


# ------------------------------------------------------------------------------------------- history ring


def test_history_matches_naive_deque():
    """Random pushes with random resets inside jit vs a list-based model of 'last L frames since reset'."""
    n, length, steps = 3, 4, 11
    rng = np.random.default_rng()
    rgb = rng.integers(0, 256, (steps, n, 2, 2, 3), dtype=np.uint8)
    mask = rng.random((steps, n, 2, 2)) > 0.5
    reset = rng.random((steps, n)) < 0.25
    reset[0] = True

    @jax.jit
    def run(rgb, mask, reset):
        def body(h, x):
            h = nr.push(h, *x)
            return h, nr.clip(h)

        return jax.lax.scan(body, nr.init_history(n, length, 2, 2), (rgb, mask, reset))[1]

    clips_f, clips_m = run(rgb, mask, reset)
    episodes = [[] for _ in range(n)]
    for t in range(steps):
        for e in range(n):
            if reset[t, e]:
                episodes[e] = []
            episodes[e].append(t)
            last = episodes[e][-length:]
            expect = [last[0]] * (length - len(last)) + last
            np.testing.assert_array_equal(clips_f[t, e], rgb[expect, e])
            np.testing.assert_array_equal(clips_m[t, e], mask[expect, e])


def test_history_errors_and_latest():
    h = nr.init_history(2, 3, 4, 4)
    with pytest.raises(ValueError, match="rgb must be"):
        nr.push(h, jnp.zeros((2, 4, 5, 3), jnp.uint8), jnp.zeros((2, 4, 4), bool))
    with pytest.raises(ValueError, match="clip_len must be >= 1"):
        nr.init_history(2, 0, 4, 4)
    for i in range(5):
        h = nr.push(h, jnp.full((2, 4, 4, 3), i, jnp.uint8), jnp.full((2, 4, 4), i % 2 == 1), jnp.array([i == 0] * 2))
    f, m = nr.latest(h)
    assert int(f[0, 0, 0, 0]) == 4 and not bool(m[0, 0, 0])
    assert h.count.tolist() == [3, 3]


# ------------------------------------------------------------------------------------------- nil_reward


def _rollout(config, reference, encoder, agent_frames, agent_masks, start, phys, *, steps):
    """Reset every env at reference index `start[n]`, then push agent frames and score `steps` steps in a scan.

    agent_frames uint8[N, T, H, W, 3] indexed by reference time: env n shows agent_frames[n, start+k] at step k.
    """
    n = agent_frames.shape[0]

    def body(carry, k):
        h, last = carry
        t = start + k
        rgb = agent_frames[jnp.arange(n), t]
        mask = agent_masks[jnp.arange(n), t]
        h = nr.push(h, rgb, mask, jnp.full((n,), k == 0))
        r, terms = nr.nil_reward(config, reference, encoder, h, phys, t, step=k, last_video=last)
        return (h, terms["reward/video"]), (r, terms)

    h0 = nr.init_history(n, config.clip_len, H, W)
    return jax.lax.scan(body, (h0, jnp.zeros((n,), jnp.float32)), jnp.arange(steps))[1]


@pytest.mark.parametrize("start", [0, 5])
def test_identical_agent_scores_one_for_any_start(bundle, encoder, start):
    """Agent == reference: IoU = 1 and cosine = 1 on every step, also during the padded first steps."""
    ref = bundle.to_device()
    n, steps = 2, 12
    frames = jnp.broadcast_to(ref.frames, (n,) + ref.frames.shape)
    masks = jnp.broadcast_to(ref.masks, (n,) + ref.masks.shape)
    phys = _physics(n, np.random.default_rng())
    cfg = nr.RewardConfig(clip_len=L)
    run = jax.jit(_rollout, static_argnames=("config", "steps"))
    r, terms = run(cfg, ref, encoder, frames, masks, jnp.full((n,), start), phys, steps=steps)
    np.testing.assert_allclose(terms["reward/iou"], 1.0)
    np.testing.assert_allclose(terms["reward/video"], 1.0, atol=1e-5)
    np.testing.assert_allclose(r, 2.0 + terms["reward/penalty"], atol=1e-5)
    if start > 0:
        # The literal "repeat the reset frame" padding differs from the precomputed reference rows at s > 0.
        cfg2 = dataclasses.replace(cfg, start_padding="reset_frame")
        _, terms2 = run(cfg2, ref, encoder, frames, masks, jnp.full((n,), start), phys, steps=steps)
        v = np.asarray(terms2["reward/video"])
        assert v[: L - 1].min() < 1 - 1e-4  # first L-1 steps: agent clip != reference clip
        np.testing.assert_allclose(v[L - 1:], 1.0, atol=1e-5)  # full clips: identical again


def test_reward_weights_and_switches(bundle, encoder):
    ref = bundle.to_device()
    rng = np.random.default_rng()
    n = 4
    frames, masks = _square_video(T, speed=2, offset=3)  # a different motion
    agent_f = jnp.broadcast_to(jnp.asarray(frames), (n,) + frames.shape)
    agent_m = jnp.broadcast_to(jnp.asarray(masks), (n,) + masks.shape)
    phys = _physics(n, rng)
    start = jnp.asarray(rng.integers(0, 10, n))
    base = jax.jit(_rollout, static_argnames=("config", "steps"))
    _, t0 = base(nr.RewardConfig(), ref, encoder, agent_f, agent_m, start, phys, steps=10)
    v, i, p = t0["reward/video"], t0["reward/iou"], t0["reward/penalty"]
    assert float(v.mean()) < 1 - 1e-3 and float(i.mean()) < 0.9  # a real difference is measured
    np.testing.assert_allclose(t0["reward/total"], v + i + p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p, sum(t0[f"reward/penalty/{k}"] for k in nr.PENALTY_NAMES), rtol=1e-5)
    cfg = nr.RewardConfig(zeta=0.5, beta=2.0, eta=3.0)
    _, t1 = base(cfg, ref, encoder, agent_f, agent_m, start, phys, steps=10)
    np.testing.assert_allclose(t1["reward/total"], 0.5 * v + 2 * i + 3 * p, rtol=1e-5, atol=1e-5)
    cfg = nr.RewardConfig(use_video=False, use_penalties=False)
    _, t2 = base(cfg, ref, None, agent_f, agent_m, start, phys, steps=10)
    np.testing.assert_allclose(t2["reward/total"], i, rtol=1e-6)
    assert float(jnp.abs(t2["reward/video"]).max()) == 0.0
    np.testing.assert_allclose(t2["reward/penalty"], p, rtol=1e-6)  # still reported for logging
    assert "reward/alive" not in t2
    cfg = nr.RewardConfig(use_video=False, use_penalties=False, alive_bonus=0.75)
    _, t4 = base(cfg, ref, None, agent_f, agent_m, start, phys, steps=10)
    np.testing.assert_allclose(t4["reward/total"], i + 0.75, rtol=1e-6)
    np.testing.assert_array_equal(t4["reward/alive"], np.full(i.shape, 0.75, np.float32))
    with pytest.raises(ValueError, match="alive_bonus"):
        nr.RewardConfig(alive_bonus=float("nan"))
    cfg = nr.RewardConfig(similarity="l2")
    _, t3 = base(cfg, ref, encoder, agent_f, agent_m, start, phys, steps=10)
    assert float(t3["reward/video"].max()) <= 0 and float(t3["reward/video"].min()) < -1e-3


def test_video_every_k_and_bf16(bundle, encoder):
    ref = bundle.to_device()
    rng = np.random.default_rng()
    n, k = 3, 3
    frames, masks = _square_video(T, speed=2, offset=1)
    agent_f = jnp.broadcast_to(jnp.asarray(frames), (n,) + frames.shape)
    agent_m = jnp.broadcast_to(jnp.asarray(masks), (n,) + masks.shape)
    phys, start = _physics(n, rng), jnp.zeros((n,), jnp.int32)
    run = jax.jit(_rollout, static_argnames=("config", "steps"))
    _, every = run(nr.RewardConfig(), ref, encoder, agent_f, agent_m, start, phys, steps=12)
    _, sparse = run(nr.RewardConfig(video_every_k=k), ref, encoder, agent_f, agent_m, start, phys, steps=12)
    ve, vs = np.asarray(every["reward/video"]), np.asarray(sparse["reward/video"])
    for s in range(12):
        np.testing.assert_allclose(vs[s], ve[s - s % k], rtol=1e-6)  # held from the last scored step
    assert np.abs(ve[1:] - ve[:-1]).max() > 1e-4  # the video term does change between steps
    _, bf = run(nr.RewardConfig(encoder_dtype="bfloat16"), ref, encoder, agent_f, agent_m, start, phys, steps=12)
    np.testing.assert_allclose(bf["reward/video"], ve, atol=3e-2)
    with pytest.raises(ValueError, match="needs the scalar `step`"):
        h = nr.push(nr.init_history(n, L, H, W), agent_f[:, 0], agent_m[:, 0])
        nr.nil_reward(nr.RewardConfig(video_every_k=2), ref, encoder, h, phys, start)


def test_nil_reward_shape_errors(bundle, encoder):
    ref = bundle.to_device()
    phys = _physics(2, np.random.default_rng())
    h = nr.init_history(2, L, H + 1, W)
    with pytest.raises(ValueError, match="agent renders are 17x16 but the reference frames are 16x16"):
        nr.nil_reward(nr.RewardConfig(), ref, encoder, h, phys, jnp.zeros(2, jnp.int32))
    h = nr.init_history(2, 4, H, W)
    with pytest.raises(ValueError, match="clip length 4 != RewardConfig.clip_len 8"):
        nr.nil_reward(nr.RewardConfig(), ref, encoder, h, phys, jnp.zeros(2, jnp.int32))
    h = nr.init_history(2, L, H, W)
    with pytest.raises(ValueError, match="time_index must be int\\[2\\]"):
        nr.nil_reward(nr.RewardConfig(), ref, encoder, h, phys, jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="needs an encoder"):
        nr.nil_reward(nr.RewardConfig(), ref, None, h, phys, jnp.zeros(2, jnp.int32))


# ------------------------------------------------------------------------------------------- jit / vmap / shard


def _one_step_inputs(n: int, seed: int, ref: nr.ReferenceArrays):
    rng = np.random.default_rng(seed)
    frames, masks = _square_video(T, speed=2, offset=int(rng.integers(0, 5)))
    h = nr.init_history(n, L, H, W)
    start = jnp.asarray(rng.integers(0, T - 10, n), jnp.int32)
    steps = np.asarray(rng.integers(1, 10, n))
    for k in range(10):  # envs reset at different times: some clips padded, some full
        t = jnp.minimum(start + k, T - 1)
        h = nr.push(h, jnp.asarray(frames)[t], jnp.asarray(masks)[t], jnp.asarray(k == 10 - steps))
    return h, _physics(n, rng), jnp.minimum(start + 9, T - 1)


def test_jits_once_for_a_batch_and_fixed_bundle(bundle, encoder):
    ref = bundle.to_device()
    traces = []

    def counting_embed(params, spec, frames, masks, dtype):
        traces.append(frames.shape)
        return encoder.embed_fn(params, spec, frames, masks, dtype)

    enc = nr.VideoEncoder(params=encoder.params, embed_fn=counting_embed, spec=encoder.spec, info=encoder.info)
    fn = jax.jit(nr.nil_reward, static_argnums=0)
    cfg = nr.RewardConfig()
    outs = []
    for seed in range(3):
        h, phys, t = _one_step_inputs(4, seed, ref)
        new_params = jax.tree.map(lambda p: p * (1.0 + 0.01 * seed), enc.params)  # updated weights: no retrace
        outs.append(fn(cfg, ref, enc.replace(params=new_params), h, phys, t)[0])
    assert len(traces) == 1, f"nil_reward traced {len(traces)} times"
    assert not np.allclose(outs[0], outs[1])
    h, phys, t = _one_step_inputs(6, 0, ref)  # a new batch size is a new shape: exactly one more trace
    fn(cfg, ref, enc, h, phys, t)
    assert len(traces) == 2


def test_vmap_over_envs_matches_batch(bundle, encoder):
    ref = bundle.to_device()
    n = 4
    h, phys, t = _one_step_inputs(n, 7, ref)
    cfg = nr.RewardConfig()
    r, terms = jax.jit(nr.nil_reward, static_argnums=0)(cfg, ref, encoder, h, phys, t)

    # vmap over envs: each mapped call sees one env as a batch of 1.
    def per_env(h1, p1, t1):
        add = lambda x: x[None]
        r1, terms1 = nr.nil_reward(cfg, ref, encoder, jax.tree.map(add, h1), jax.tree.map(add, p1), t1[None])
        return r1[0], jax.tree.map(lambda x: x[0], terms1)

    rv, terms_v = jax.jit(jax.vmap(per_env))(h, phys, t)
    np.testing.assert_allclose(rv, r, rtol=1e-5, atol=1e-6)
    for key in terms:
        np.testing.assert_allclose(terms_v[key], terms[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("axis_type", ["explicit", "auto"])
def test_sharded_over_two_devices_same_values(bundle, encoder, axis_type):
    devices = jax.devices()
    if len(devices) < 2:
        pytest.skip(f"needs 2 devices (conftest forces 2 host devices), have {len(devices)}")
    kind = {"explicit": jax.sharding.AxisType.Explicit, "auto": jax.sharding.AxisType.Auto}[axis_type]
    mesh = jax.make_mesh((2,), ("envs",), axis_types=(kind,), devices=devices[:2])
    env_sharding, replicated = NamedSharding(mesh, P("envs")), NamedSharding(mesh, P())
    n = 8
    ref = bundle.to_device()
    h, phys, t = _one_step_inputs(n, 11, ref)
    cfg = nr.RewardConfig()
    fn = jax.jit(nr.nil_reward, static_argnums=0)
    r, terms = fn(cfg, ref, encoder, h, phys, t)

    shard = lambda x: jax.device_put(x, env_sharding)
    ref_s = bundle.to_device(replicated)
    enc_s = jax.device_put(encoder, replicated)
    h_s, phys_s, t_s = jax.tree.map(shard, (h, phys, t))
    assert len(h_s.frames.sharding.device_set) == 2
    r_s, terms_s = fn(cfg, ref_s, enc_s, h_s, phys_s, t_s)
    assert r_s.sharding.is_equivalent_to(env_sharding, 1), r_s.sharding
    np.testing.assert_allclose(np.asarray(r_s), np.asarray(r), rtol=1e-5, atol=1e-6)
    for key in terms:
        np.testing.assert_allclose(np.asarray(terms_s[key]), np.asarray(terms[key]), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------- Flax TimeSformer


def test_timesformer_encoder_in_the_reward():
    """The real encoder path: niljax.encoders' Flax TimeSformer (tiny, random init) behind `timesformer_encoder`."""
    enc_mod = pytest.importorskip("niljax.encoders")
    cfg_t = enc_mod.TimesformerConfig.tiny(num_frames=L)
    enc = nr.timesformer_encoder(cfg_t, enc_mod.init_params(cfg_t, 0), weights_id="random-init/tiny/seed=0")
    assert "timesformer" in enc.info.preprocessing and enc.info.config_hash == nr.config_hash(cfg_t)
    frames, masks = _square_video(T)
    b = nr.make_bundle(frames, masks, enc, robot="toy", prompt="", source="synthetic", original_fps=100.0,
                       control_rate_hz=100.0, resampling="none", camera={}, clip_len=L, batch_size=8)
    assert b.embeddings.shape == (T, cfg_t.hidden_size)
    ref = b.to_device()
    n = 2
    af = jnp.broadcast_to(ref.frames, (n,) + ref.frames.shape)
    am = jnp.broadcast_to(ref.masks, (n,) + ref.masks.shape)
    other_f, other_m = _square_video(T, speed=2, offset=4)
    af = af.at[1].set(jnp.asarray(other_f))
    am = am.at[1].set(jnp.asarray(other_m))
    run = jax.jit(_rollout, static_argnames=("config", "steps"))
    _, terms = run(nr.RewardConfig(), ref, enc, af, am, jnp.array([3, 3]), _physics(n, np.random.default_rng()),
                   steps=10)
    np.testing.assert_allclose(terms["reward/video"][:, 0], 1.0, atol=1e-5)  # env 0 = the reference
    # env 1 moves differently; a random-init TimeSformer's normed CLS barely depends on the input, so the
    # difference is small (see docs/reward.md), but it is well above float32 noise at the exact match (~1e-7).
    assert float((1 - terms["reward/video"][:, 1]).max()) > 1e-5


def test_encoder_chunks_inside_jit_match_one_batch_and_trace_once():
    """`VideoEncoder.embed(chunk_size=)` (what `RewardConfig.encoder_chunk` sets) on the real TimeSformer path:
    5 clips in chunks of 2 (the last one padded) equal one batch of 5, in float32 to 1e-5 and in bfloat16 to
    2e-2 (bfloat16's 8-bit mantissa: chunking changes which clips share a matmul, so rounding differs)."""
    enc_mod = pytest.importorskip("niljax.encoders")
    cfg_t = enc_mod.TimesformerConfig.tiny(num_frames=4)
    enc = nr.timesformer_encoder(cfg_t, enc_mod.init_params(cfg_t, 1), weights_id="random-init/tiny/seed=1")
    rng = np.random.default_rng(0)
    frames = jnp.asarray(rng.integers(0, 255, (5, 4, 16, 16, 3)), jnp.uint8)
    masks = jnp.asarray(rng.random((5, 4, 16, 16)) > 0.3)
    traces = []

    @jax.jit
    def both(e, f, m):
        traces.append(1)
        return (e.embed(f, m), e.embed(f, m, chunk_size=2),
                e.embed(f, m, jnp.bfloat16), e.embed(f, m, jnp.bfloat16, chunk_size=2))

    full, chunked, full_bf, chunked_bf = both(enc, frames, masks)
    both(enc.replace(params=jax.tree.map(lambda p: p * 1.01, enc.params)), frames, masks)  # new weights: no retrace
    assert len(traces) == 1 and chunked.shape == (5, cfg_t.hidden_size) and chunked.dtype == jnp.float32
    np.testing.assert_allclose(chunked, full, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(chunked_bf, full_bf, atol=2e-2)
    assert float(jnp.abs(full_bf - full).max()) > 0  # bfloat16 really ran
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        enc.embed(frames, masks, chunk_size=0)
    with pytest.raises(ValueError, match="encoder_chunk must be an int >= 0"):
        nr.RewardConfig(encoder_chunk=-1)


def test_encoder_dtype_auto_is_bf16_on_accelerators_only():
    assert nr.resolve_encoder_dtype("auto", "cpu") == "float32"
    assert nr.resolve_encoder_dtype("auto", "gpu") == "bfloat16"
    assert nr.resolve_encoder_dtype("auto", "tpu") == "bfloat16"
    assert nr.resolve_encoder_dtype("float32", "tpu") == "float32"
    assert nr.resolve_encoder_dtype("auto") == ("float32" if jax.default_backend() == "cpu" else "bfloat16")


def test_invalid_envs_get_the_diverged_reward_and_leave_others_untouched(bundle, encoder):
    ref = bundle.to_device()
    h, phys, t = _one_step_inputs(4, 1, ref)
    cfg = nr.RewardConfig(diverged_reward=-1.0)
    fn = jax.jit(nr.nil_reward, static_argnums=0)
    base, _ = fn(cfg, ref, encoder, h, phys, t, valid=jnp.ones(4, bool))
    phys_nan = dict(phys, joint_torques=phys["joint_torques"].at[2].set(jnp.nan))
    valid = jnp.array([True, True, False, True])
    out, terms = fn(cfg, ref, encoder, h, phys_nan, t, valid=valid)
    assert float(out[2]) == -1.0 and all(float(v[2]) == 0.0 for k, v in terms.items() if k != "reward/total")
    keep = np.array([0, 1, 3])
    np.testing.assert_array_equal(np.asarray(out)[keep], np.asarray(base)[keep])
    assert all(np.isfinite(np.asarray(v)).all() for v in terms.values())
