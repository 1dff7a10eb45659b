"""Unit tests for niljax.learner: losses against hand values, replay semantics, duals, resets, sharding,
checkpoint round trip, policy export. Everything runs inside jit with a batch, as the training loop calls it."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

from niljax.learner import bro, losses, testing_tasks
from niljax.learner.bro import BROConfig
from niljax.learner.replay import Transition, replay_init, replay_insert, replay_sample

TINY = BROConfig(critic_width=32, critic_depth=1, actor_width=32, actor_depth=1, n_quantiles=8, batch_size=16,
                 random_steps=0, reset_steps=(), replay_capacity=64)


# one compiled init shared by the tests (eager flax init runs op by op and is slow on a busy CPU)
_init = jax.jit(bro.init_learner, static_argnums=(1, 2, 3))
_init_many = jax.jit(bro.init_learners, static_argnums=(1, 2, 3))


def _batch(rng: jax.Array, b: int, obs_dim: int = 3, act_dim: int = 2) -> Transition:
    k = jax.random.split(rng, 4)
    return Transition(
        obs=jax.random.normal(k[0], (b, obs_dim)), action=jax.random.uniform(k[1], (b, act_dim), minval=-1, maxval=1),
        reward=jax.random.normal(k[2], (b,)), next_obs=jax.random.normal(k[3], (b, obs_dim)),
        terminated=jnp.zeros((b,)), truncated=jnp.zeros((b,)),
    )


# ---------------------------------------------------------------- losses
def test_quantile_huber_loss_hand_values() -> None:
    taus = losses.quantile_midpoints(2)
    np.testing.assert_allclose(taus, [0.25, 0.75])
    pred = jnp.array([[0.0, 1.0]])
    target = jnp.array([[0.5, 3.0]])
    # td[i, j] = target_j - pred_i: [[0.5, 3.0], [-0.5, 2.0]]
    # huber: [[0.125, 2.5], [0.125, 1.5]]; weights |tau_i - 1{td<0}|: [[.25, .25], [.25, .75]]
    # sum over i: j=0: .25*.125 + .25*.125 = .0625 ; j=1: .25*2.5 + .75*1.5 = 1.75 ; mean over j = 0.90625
    got = jax.jit(losses.quantile_huber_loss)(pred, target, taus)
    np.testing.assert_allclose(got, 0.90625, rtol=1e-6)
    # kappa = 2: huber(3)=2*(3-1)=4, /kappa; huber(.5)=.125/2, huber(2)=2/2
    got2 = losses.quantile_huber_loss(pred, target, taus, kappa=2.0)
    want2 = np.mean([(0.25 * 0.125 + 0.25 * 0.125) / 2, (0.25 * 4.0 + 0.75 * 2.0) / 2])
    np.testing.assert_allclose(got2, want2, rtol=1e-6)


def test_quantile_loss_gradient_moves_quantiles_to_target_quantiles() -> None:
    taus = losses.quantile_midpoints(4)
    target = jnp.tile(jnp.arange(100, dtype=jnp.float32)[None], (1, 1))  # uniform on 0..99
    pred = jnp.zeros((1, 4))
    step = jax.jit(lambda p: p - 2.0 * jax.grad(lambda q: losses.quantile_huber_loss(q, target, taus))(p))
    for _ in range(400):
        pred = step(pred)
    np.testing.assert_allclose(pred[0], [12.5, 37.5, 62.5, 87.5], atol=1.5)


def test_critic_target_hand_values_terminal_vs_truncation() -> None:
    reward = jnp.array([1.0, 1.0, 1.0])
    terminated = jnp.array([0.0, 1.0, 0.0])  # third is a truncation: it must bootstrap like the first
    next_q = jnp.stack([jnp.full((3, 2), 2.0), jnp.full((3, 2), 4.0)])  # mean 3
    next_q = next_q.at[:, :, 1].add(1.0)  # quantile 1: mean 4
    logp = jnp.array([0.5, 0.5, -1.0])
    t = jax.jit(lambda *a: losses.critic_target(*a, alpha=0.2, discount=0.9))(reward, terminated, next_q, logp)
    np.testing.assert_allclose(t[0], [1 + 0.9 * (3 - 0.1), 1 + 0.9 * (4 - 0.1)], rtol=1e-6)
    np.testing.assert_allclose(t[1], [1.0, 1.0])  # terminal: reward only
    np.testing.assert_allclose(t[2], [1 + 0.9 * (3 + 0.2), 1 + 0.9 * (4 + 0.2)], rtol=1e-6)
    # pessimism: mean - beta*|q1-q2|/2 = 3 - 1 = 2
    tp = losses.critic_target(reward, terminated, next_q, jnp.zeros(3), alpha=0.0, discount=1.0, pessimism=1.0)
    np.testing.assert_allclose(tp[0], [3.0, 4.0])


def test_truncation_bootstraps_in_update() -> None:
    """Same batch, flags flipped: terminated changes the critic target, truncated does not."""
    cfg = TINY
    st = _init(jax.random.PRNGKey(0), 3, 2, cfg)
    b = _batch(jax.random.PRNGKey(1), 16)
    f = jax.jit(bro.update)
    _, m0 = f(st, b)
    _, m_trunc = f(st, b.replace(truncated=jnp.ones(16)))
    _, m_term = f(st, b.replace(terminated=jnp.ones(16)))
    assert float(m_trunc["target_mean"]) == float(m0["target_mean"])
    np.testing.assert_allclose(m_term["target_mean"], jnp.mean(b.reward), rtol=1e-6)
    assert abs(float(m_term["target_mean"]) - float(m0["target_mean"])) > 1e-3


def test_tanh_gaussian_log_prob_matches_change_of_variables() -> None:
    mean, std = jnp.array([[0.3, -1.0]]), jnp.array([[0.5, 2.0]])
    a, logp = bro.tanh_gaussian_sample(jax.random.PRNGKey(3), mean, std)
    u = jnp.arctanh(a)
    want = jnp.sum(jax.scipy.stats.norm.logpdf(u, mean, std) - jnp.log(1 - a**2), -1)
    np.testing.assert_allclose(logp, want, rtol=1e-4)


# ---------------------------------------------------------------- duals
def test_dual_updates_move_in_the_right_direction() -> None:
    """KL above target: optimism falls and KL weight rises; below target the reverse. Temperature falls when
    entropy is above target."""
    cfg = BROConfig()
    p_opt = bro._dual_param(cfg.init_optimism, cfg.dual_log_min, cfg.dual_log_max)
    p_klw = bro._dual_param(cfg.init_kl_weight, cfg.dual_log_min, cfg.dual_log_max)
    np.testing.assert_allclose(bro.dual_value(jnp.float32(p_opt), cfg.dual_log_min, cfg.dual_log_max), 1.0, rtol=1e-5)
    np.testing.assert_allclose(bro.dual_value(jnp.float32(p_klw), cfg.dual_log_min, cfg.dual_log_max), 0.25, rtol=1e-5)

    def grads(kl: float) -> tuple[float, float]:
        v = lambda p: bro.dual_value(p, cfg.dual_log_min, cfg.dual_log_max)
        go = jax.grad(lambda p: losses.optimism_loss(v(p), jnp.float32(kl), cfg.kl_target))(jnp.float32(p_opt))
        gk = jax.grad(lambda p: losses.kl_weight_loss(v(p), jnp.float32(kl), cfg.kl_target))(jnp.float32(p_klw))
        return float(go), float(gk)

    go, gk = grads(0.5)  # KL far above target: descent must lower optimism (g > 0) and raise KL weight (g < 0)
    assert go > 0 and gk < 0
    go, gk = grads(0.0)
    assert go < 0 and gk > 0
    gt = jax.grad(lambda lt: losses.temperature_loss(jnp.exp(lt), jnp.float32(2.0), -0.5))(jnp.float32(0.0))
    assert gt > 0


def test_update_duals_follow_kl_in_jit() -> None:
    """Inside the real update: make the optimistic actor drift (KL >> target) and check beta down, lambda up."""
    cfg = dataclasses_replace(TINY, dual_lr=1e-2)
    st = _init(jax.random.PRNGKey(0), 3, 2, cfg)
    # push the optimistic shift layer far away from the conservative mean
    big = jax.tree.map(lambda x: x * 0 + 5.0 if x.ndim == 2 and x.shape[-1] == 2 else x, st.actor_o_params)
    st = st.replace(actor_o_params=big)
    b = _batch(jax.random.PRNGKey(1), 16)
    st2, m = jax.jit(bro.update)(st, b)
    assert float(m["kl_per_dim"]) > cfg.kl_target
    beta0, lam0 = float(m["optimism"]), float(m["kl_weight"])
    _, m2 = jax.jit(bro.update)(st2, b)
    assert float(m2["optimism"]) < beta0 and float(m2["kl_weight"]) > lam0


def dataclasses_replace(cfg: BROConfig, **kw: object) -> BROConfig:
    import dataclasses

    return dataclasses.replace(cfg, **kw)


# ---------------------------------------------------------------- config
def test_config_defaults_are_official_and_validated() -> None:
    c = BROConfig()
    assert (c.critic_width, c.critic_depth, c.actor_width, c.actor_depth, c.n_quantiles) == (512, 2, 256, 1, 100)
    assert (c.actor_lr, c.weight_decay, c.discount, c.tau, c.batch_size) == (3e-4, 1e-4, .99, .005, 128)
    assert (c.updates_per_env_step, c.replay_mode) == (10, "official")
    assert (c.init_optimism, c.init_kl_weight, c.dual_lr, c.kl_target, c.std_multiplier) == (1.0, .25, 3e-5, .05, .75)
    assert c.random_steps == 2500 and c.reset_steps[:6] == (15_000, 50_000, 250_000, 500_000, 750_000, 1_000_000)
    assert c.resolved_target_entropy(6) == -3.0
    assert c.num_updates_per_iteration(1) == 10
    assert BROConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="tau"):
        BROConfig(tau=0.0)
    with pytest.raises(ValueError, match="reset_steps"):
        BROConfig(reset_steps=(50, 10))
    with pytest.raises(ValueError, match="large_batch_lr_scaling"):
        BROConfig(large_batch_lr_scaling="cubic")
    with pytest.raises(ValueError, match="replay_mode"):
        BROConfig(replay_mode="fast")
    with pytest.raises(ValueError, match="batch_size >= reference_batch_size"):
        BROConfig(replay_mode="large_batch", batch_size=64)
    with pytest.raises(ValueError, match="updates_per_env_step"):
        BROConfig(updates_per_env_step=0)
    # a config recorded before the rename names the replacement instead of a bare "unknown field"
    old = {k: v for k, v in c.to_dict().items() if k != "updates_per_env_step"} | {"replay_ratio": 10.0}
    with pytest.raises(ValueError, match="replay_ratio -> updates_per_env_step"):
        BROConfig.from_dict(old)


def test_official_ratio_at_n_envs_is_bro_per_env_step() -> None:
    """Official mode: K = updates_per_env_step * N updates of the configured batch, every rate BRO's."""
    fast = BROConfig(updates_per_env_step=2)  # BRO-fast
    assert [fast.num_updates_per_iteration(n) for n in (1, 8, 16)] == [2, 16, 32]
    assert fast.samples_per_transition(16) == 256 == fast.official_samples_per_transition()
    assert fast.per_update_tau() == fast.tau and fast.update_multiple() == 1.0
    assert fast.per_update_learning_rates() == {"actor": 3e-4, "critic": 3e-4, "temp": 3e-4, "dual": 3e-5}
    assert fast.resolved_reset_steps(16) == fast.reset_steps
    with pytest.raises(ValueError, match="num_envs"):
        fast.num_updates_per_iteration(0)


def test_large_batch_mode_scales_rates_and_resets() -> None:
    """large_batch: batch 4096 = 32 BRO batches; K keeps BRO's samples per transition; tau, learning rates and
    duals are stated per update; an explicit small K moves the resets out by the lost samples."""
    c = BROConfig(replay_mode="large_batch", batch_size=4096)
    assert c.update_multiple() == 32
    assert c.num_updates_per_iteration(1024) == 320  # 10 * 1024 / 32
    assert c.samples_per_transition(1024) == pytest.approx(1280) == c.official_samples_per_transition()
    assert c.per_update_tau() == pytest.approx(1 - 0.995**32)
    lr = c.per_update_learning_rates()
    assert lr["actor"] == pytest.approx(3e-4 * math.sqrt(32)) and lr["critic"] == lr["actor"]
    assert lr["temp"] == pytest.approx(3e-4 * 32) and lr["dual"] == pytest.approx(3e-5 * 32)
    assert BROConfig(replay_mode="large_batch", batch_size=4096, large_batch_lr_scaling="linear"
                     ).per_update_learning_rates()["critic"] == pytest.approx(3e-4 * 32)
    assert c.resolved_reset_steps(1024) == c.reset_steps  # same samples per transition: same resets
    fast = BROConfig(replay_mode="large_batch", batch_size=4096, updates_per_iteration=2, reset_steps=(15_000, 50_000))
    assert fast.samples_per_transition(1024) == pytest.approx(8)  # 2 * 4096 / 1024
    assert fast.resolved_reset_steps(1024) == (2_400_000, 8_000_000)  # 1280 / 8 = 160x later
    far = BROConfig(replay_mode="large_batch", batch_size=4096, updates_per_iteration=1, reset_steps=(15_000, 10**9))
    assert far.resolved_reset_steps(4096) == (19_200_000,)  # 10^9 * 1280 past int32: never fires, dropped


def test_replay_ratio_report_and_format() -> None:
    from niljax.learner.config import format_replay_ratio, replay_ratio_report

    c = BROConfig(replay_mode="large_batch", batch_size=2048, updates_per_env_step=2, updates_per_iteration=8)
    r = replay_ratio_report(c, 64)
    assert r["updates_per_iteration"] == 8 and r["sequential_updates_per_env_step"] == 0.125
    assert r["samples_per_transition"] == 256 == r["bro_samples_per_transition"]
    assert r["update_multiple"] == 16 and r["tau_per_update"] == pytest.approx(1 - 0.995**16)
    text = format_replay_ratio(c, 64)
    assert "8 sequential updates of batch 2048 per iteration of 64 env steps" in text
    assert "0.125 updates per env step (BRO: 2)" in text and "256 replayed samples per transition (BRO: 256)" in text
    assert "each update = 16 BRO updates of 128" in text
    assert "per env step (BRO: 10), 1280 replayed samples" in format_replay_ratio(BROConfig(), 1)


# ---------------------------------------------------------------- resets
def test_reset_schedule_fires_at_configured_steps() -> None:
    cfg = BROConfig(reset_steps=(100, 250))
    fires = jax.jit(lambda a, b: bro.reset_fires(cfg, a, b, num_envs=16))
    n = 16  # env steps per iteration
    fired_at = [int(s) for s in range(0, 400, n) if bool(fires(jnp.int32(s), jnp.int32(s + n)))]
    assert fired_at == [96, 240]  # the iterations whose collection crosses 100 and 250
    # one env (official): resets exactly when the 1-based step counter reaches 15001
    off = BROConfig()
    assert [s + 1 for s in range(14_990, 15_010) if bool(bro.reset_fires(off, jnp.int32(s), jnp.int32(s + 1), num_envs=1))] == [15_001]


def test_reset_learner_reinitialises_everything() -> None:
    st = _init(jax.random.PRNGKey(0), 3, 2, TINY)
    st1, _ = jax.jit(bro.update)(st, _batch(jax.random.PRNGKey(1), 16))
    r = jax.jit(bro.reset_learner)(st1)
    assert int(r.step) == 0 and int(r.num_resets) == 1
    assert float(r.log_temp) == 0.0 and int(r.critic_opt[0].count) == 0
    leaf = lambda s: jax.tree.leaves(s.critic_params)[1]
    assert not np.allclose(leaf(r), leaf(st1))
    np.testing.assert_array_equal(jax.tree.leaves(r.target_critic_params)[1], leaf(r))


# ---------------------------------------------------------------- replay
def test_replay_ring_insert_wraps_and_samples_only_filled() -> None:
    buf = replay_init(5, 1, 1)
    ins = jax.jit(replay_insert)

    def tr(vals: list[float]) -> Transition:
        v = jnp.asarray(vals, jnp.float32)
        return Transition(v[:, None], v[:, None], v, v[:, None], jnp.zeros_like(v), jnp.zeros_like(v))

    buf = ins(buf, tr([1, 2, 3]))
    assert int(buf.size) == 3 and int(buf.insert_pos) == 3
    s = jax.jit(replay_sample, static_argnums=2)(buf, jax.random.PRNGKey(0), 200)
    assert set(np.asarray(s.reward).tolist()) == {1.0, 2.0, 3.0}
    buf = ins(buf, tr([4, 5, 6]))  # wraps: slot 0 overwritten by 6
    assert int(buf.size) == 5 and int(buf.insert_pos) == 1
    np.testing.assert_array_equal(buf.data.reward, [6, 2, 3, 4, 5])
    np.testing.assert_array_equal(buf.data.obs[:, 0], [6, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="capacity"):
        replay_insert(buf, tr([1, 2, 3, 4, 5, 6]))
    with pytest.raises(ValueError, match="obs"):
        replay_insert(buf, tr([1.0]).replace(obs=jnp.zeros((1, 2))))


def test_replay_insert_counted_drops_and_counts_non_finite_rows() -> None:
    """One finiteness check serves the insert and the rejected count (the training iteration's metric)."""
    from niljax.learner.replay import replay_insert_counted

    v = jnp.asarray([1.0, jnp.nan, 3.0, jnp.inf], jnp.float32)
    batch = Transition(v[:, None], v[:, None] * 0, v * 0, v[:, None] * 0, jnp.zeros(4), jnp.zeros(4))
    buf, rejected = jax.jit(replay_insert_counted)(replay_init(8, 1, 1), batch)
    assert int(rejected) == 2 and int(buf.size) == 2
    np.testing.assert_array_equal(buf.data.obs[:2, 0], [1.0, 3.0])
    plain = replay_insert(replay_init(8, 1, 1), batch)
    np.testing.assert_array_equal(plain.data.obs, buf.data.obs)
    assert int(plain.size) == int(buf.size)


def test_replay_vmapped_over_seeds() -> None:
    bufs = jax.vmap(lambda _: replay_init(8, 3, 2))(jnp.arange(2))
    batch = jax.vmap(lambda k: _batch(k, 4))(jax.random.split(jax.random.PRNGKey(0), 2))
    bufs = jax.jit(jax.vmap(replay_insert))(bufs, batch)
    np.testing.assert_array_equal(bufs.size, [4, 4])
    np.testing.assert_array_equal(bufs.data.reward[:, :4], batch.reward)


# ---------------------------------------------------------------- data parallel
def test_data_parallel_updates_match_one_device() -> None:
    """`sample_updates` with the batch split over 2 devices (vmapped over 2 seeds, as BROLoop runs it) gives the
    one-device learner after 2 updates: params, duals and metrics within rtol 1e-4, Adam moments within rtol 1e-3
    (atol 1e-5; float32, the per-device partial sums change the reduction order). The compiled program really splits the batch: every matmul sees
    24 of the 48 sampled rows and the gradients are all-reduced."""
    import re

    from niljax.learner.loop import batch_sharding, sample_updates

    devices = jax.devices()
    if len(devices) < 2:
        pytest.skip("needs 2 devices (tests/conftest.py forces 2 host devices)")
    mesh = Mesh(np.array(devices[:2]), ("data",))
    cfg = dataclasses_replace(TINY, batch_size=48)  # 24 rows per device: a size no other axis has
    with pytest.raises(ValueError, match="divide evenly over the 2 devices"):
        batch_sharding(mesh, 47)
    seeds = jax.random.split(jax.random.PRNGKey(0), 2)
    learners = _init_many(seeds, 3, 2, cfg)
    replays = jax.vmap(lambda k: replay_insert(replay_init(64, 3, 2), _batch(k, 64)))(seeds)
    keys = jax.random.split(jax.random.PRNGKey(2), 2)

    def run(sharding):
        return jax.jit(jax.vmap(lambda lr, rp, k: sample_updates(lr, rp, k, 2, sharding=sharding)))

    one_dev = run(None)
    ref_state, ref_m = one_dev(learners, replays, keys)
    parallel = run(batch_sharding(mesh, cfg.batch_size))
    compiled = parallel.lower(learners, replays, keys).compile()  # compiled once: inspected, then run
    hlo = compiled.as_text()
    dot_shapes = re.findall(r"= f32\[([0-9,]*)\][^ ]* dot\(", hlo)
    assert "all-reduce(" in hlo
    assert any("24" in d.split(",") for d in dot_shapes) and not any("48" in d.split(",") for d in dot_shapes)
    dp_state, dp_m = compiled(learners, replays, keys)
    for k in ref_m:
        np.testing.assert_allclose(dp_m[k], ref_m[k], rtol=1e-4, atol=1e-5, err_msg=k)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(ref_state), jax.tree.leaves(dp_state)):
        name = jax.tree_util.keystr(path)
        rtol = 1e-3 if name.endswith("_opt") or "_opt[" in name else 1e-4  # Adam moments: rtol 1e-3
        np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-5, err_msg=name)
    assert int(dp_state.step[0]) == 2


# ---------------------------------------------------------------- env + export
def test_pendulum_random_policy_return() -> None:
    def episode(k: jax.Array) -> jax.Array:
        s, _ = testing_tasks.pendulum_reset(k)

        def body(s: testing_tasks.PendulumState, k: jax.Array):
            a = jax.random.uniform(k, (1,), minval=-1, maxval=1)
            s, tr = testing_tasks.pendulum_step(s, a, k)
            return s, (tr.reward, tr.truncated)

        _, (r, trunc) = jax.lax.scan(body, s, jax.random.split(k, testing_tasks.EPISODE_LENGTH))
        return jnp.sum(r), trunc

    rets, trunc = jax.jit(jax.vmap(episode))(jax.random.split(jax.random.PRNGKey(0), 32))
    assert -1600 < float(rets.mean()) < -900
    assert float(trunc[:, -1].min()) == 1.0 and float(trunc[:, :-1].max()) == 0.0


def test_export_and_load_policy(tmp_path) -> None:
    from niljax.learner.checkpoint import export_policy, load_policy

    sts = _init_many(jax.random.split(jax.random.PRNGKey(0), 2), 3, 2, TINY)
    export_policy(tmp_path / "pol", sts, seed_index=1)
    pol = load_policy(tmp_path / "pol")
    obs = jax.random.normal(jax.random.PRNGKey(1), (5, 3))
    seed1 = jax.tree.map(lambda x: x[1], sts)
    np.testing.assert_allclose(pol(obs), bro.act_eval(seed1.actor_params, obs, TINY, 2), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="last dim 3"):
        pol(jnp.zeros((2, 4)))


# ---------------------------------------------------------------- init
@pytest.mark.parametrize("shape", [(7, 3), (3, 7), (24, 24), (2, 5, 4)])
def test_orthogonal_init_equals_jax_initializer(shape: tuple[int, ...]) -> None:
    """The Householder init (no batched LAPACK: see `networks.orthogonal`) gives jax's values for the same key,
    also batched under vmap the way nn.vmap/nn.scan call it."""
    from niljax.learner.networks import orthogonal

    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    ours = jax.jit(jax.vmap(lambda k: orthogonal(0.7)(k, shape)))(keys)
    reference = jnp.stack([jax.nn.initializers.orthogonal(0.7)(k, shape) for k in keys])
    np.testing.assert_allclose(ours, reference, atol=5e-6)
    flat = ours[0].reshape(-1, shape[-1]) / 0.7
    small = min(flat.shape)
    gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-5)
    with pytest.raises(ValueError, match="rank >= 2"):
        orthogonal()(keys[0], (4,))
