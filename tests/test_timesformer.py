"""niljax.encoders: parity of the Flax TimeSformer with `transformers.TimesformerModel`, loading, preprocessing.

Reference models are random-initialised (no download); every parameter, including the ones HF initialises to
constants (time embeddings, layer norms, biases), is perturbed so that each weight matters. Inputs are fresh
random draws on every run. Relative error is ||ours - ref|| / ||ref|| over the whole array.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import niljax.encoders as enc
from niljax.encoders import CheckpointError, TimesformerConfig, WeightsNotFoundError
from niljax.encoders.cpu_bf16 import cpu_bf16_problem

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

F32_TOL = 1e-4
BF16_TOL = 2e-2
COS_MIN = 0.9999


def rel_err(ours: np.ndarray, ref: np.ndarray) -> float:
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    return float(np.linalg.norm(ours - ref) / np.linalg.norm(ref))


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return float(cos.min())


def hf_model(config: TimesformerConfig, *, seed: int = 0, head: bool = False):
    """A random `TimesformerModel` (or `...ForVideoClassification`) with every parameter perturbed."""
    torch.manual_seed(seed)
    hf_cfg = transformers.TimesformerConfig(**config.to_hf_dict(), num_labels=5)
    cls = transformers.TimesformerForVideoClassification if head else transformers.TimesformerModel
    model = cls(hf_cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    return model


def hf_forward(model, pixel_values: np.ndarray):
    """Run HF on channels-last input (it wants [B, T, C, H, W])."""
    with torch.no_grad():
        return model(torch.from_numpy(pixel_values).permute(0, 1, 4, 2, 3), output_hidden_states=True)


def random_clips(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng().standard_normal(shape, dtype=np.float32)


def skip_if_bf16_cannot_compile() -> None:
    """jaxlib 0.12.1's XLA:CPU aborts the process on `tiny-interp` in bfloat16 on CPUs without AVX-512 (issue 32;
    niljax/encoders/cpu_bf16.py): skip the bfloat16 half with the guard's message instead of losing the worker."""
    problem = cpu_bf16_problem()
    if problem is not None:
        pytest.skip(problem)


def flax_forward(config: TimesformerConfig, params, x: np.ndarray, dtype=jnp.float32):
    fn = jax.jit(
        lambda p, v: enc.Timesformer(config, dtype=dtype).apply({"params": p}, v, output_hidden_states=True)
    )
    return fn(params, x)


TINY = {
    # 32 px, patch 8, 4 frames, 2 layers: input at the configured size.
    "tiny": (TimesformerConfig.tiny(), (2, 4, 32, 32, 3)),
    # 3 heads x 16, 3 layers, quick_gelu, no qkv bias, 6 frames; 48 px input on a 32 px config: the position
    # embeddings are resized (4x4 -> 6x6 patches, nearest) exactly as HF does.
    "tiny-interp": (
        TimesformerConfig.tiny(
            hidden_size=48,
            num_attention_heads=3,
            num_hidden_layers=3,
            num_frames=6,
            intermediate_size=96,
            hidden_act="quick_gelu",
            qkv_bias=False,
            layer_norm_eps=1e-5,
        ),
        (2, 6, 48, 48, 3),
    ),
    "tiny-space-only": (TimesformerConfig.tiny(attention_type="space_only"), (2, 4, 32, 32, 3)),
    "tiny-joint": (
        TimesformerConfig.tiny(attention_type="joint_space_time", patch_size=16),
        (2, 4, 32, 32, 3),
    ),
}


@pytest.mark.parametrize("name", list(TINY))
def test_parity_tiny(name: str) -> None:
    config, shape = TINY[name]
    model = hf_model(config)
    x = random_clips(shape)
    ref = hf_forward(model, x)
    _, params = enc.load_timesformer(model.state_dict(), config=config)
    out = flax_forward(config, params, x)
    ref_last = ref.last_hidden_state.numpy()
    assert out.last_hidden_state.shape == ref_last.shape
    assert rel_err(out.last_hidden_state, ref_last) <= F32_TOL
    # Layer by layer (embedding output first), so a mismatch points at its layer.
    assert out.hidden_states.shape[0] == len(ref.hidden_states) == config.num_hidden_layers + 1
    for i, h in enumerate(ref.hidden_states):
        assert rel_err(out.hidden_states[i], h.numpy()) <= F32_TOL, f"hidden state {i}"
    ref_cls = ref_last[:, 0]
    if config.attention_type == "space_only":  # per-frame CLS tokens, averaged over frames by niljax
        ref_cls = ref_cls.reshape(shape[0], shape[1], -1).mean(1)
    assert out.cls_embedding.shape == (shape[0], config.hidden_size)
    assert rel_err(out.cls_embedding, ref_cls) <= F32_TOL
    assert min_cosine(out.cls_embedding, ref_cls) >= COS_MIN
    skip_if_bf16_cannot_compile()
    out16 = flax_forward(config, params, x, jnp.bfloat16)
    assert out16.cls_embedding.dtype == jnp.float32
    assert rel_err(out16.cls_embedding, ref_cls) <= BF16_TOL


def test_parity_base_config() -> None:
    """The full k400 base config (224, patch 16, 8 frames, 768 wide, 12 layers), one clip, f32 and bf16."""
    config = TimesformerConfig.base_k400()
    assert (config.image_size, config.patch_size, config.num_frames) == (224, 16, 8)
    assert (config.hidden_size, config.num_hidden_layers) == (768, 12)
    model = hf_model(config)
    x = random_clips((1, 8, 224, 224, 3))
    with torch.no_grad():
        ref = model(torch.from_numpy(x).permute(0, 1, 4, 2, 3)).last_hidden_state.numpy()
    _, params = enc.load_timesformer(model.state_dict(), config=config)
    del model
    run = jax.jit(lambda p, v: enc.Timesformer(config).apply({"params": p}, v))
    out = run(params, x)
    assert out.last_hidden_state.shape == ref.shape == (1, 1 + 196 * 8, 768)
    assert rel_err(out.last_hidden_state, ref) <= F32_TOL
    assert rel_err(out.cls_embedding, ref[:, 0]) <= F32_TOL
    assert min_cosine(out.cls_embedding, ref[:, 0]) >= COS_MIN
    skip_if_bf16_cannot_compile()
    emb16 = jax.jit(enc.embed_clips, static_argnames=("config", "dtype"))(
        params, x, config, dtype=jnp.bfloat16
    )
    assert rel_err(emb16, ref[:, 0]) <= BF16_TOL


def test_time_embedding_interpolation_matches_hf_embeddings() -> None:
    """Clip length != config.num_frames: the embedding output (time embeddings resized, nearest) matches HF.

    (HF's layers then reshape with config.num_frames, mixing tokens; niljax's use the real clip length.)
    """
    config = TimesformerConfig.tiny(num_frames=4)
    model = hf_model(config)
    for frames in (2, 6):
        x = random_clips((2, frames, 32, 32, 3))
        with torch.no_grad():
            ref = model.embeddings(torch.from_numpy(x).permute(0, 1, 4, 2, 3)).numpy()
        _, params = enc.load_timesformer(model.state_dict(), config=config)
        out = flax_forward(config, params, x)
        assert out.hidden_states[0].shape == ref.shape
        assert rel_err(out.hidden_states[0], ref) <= F32_TOL


def _assert_same_params(a, b) -> None:
    la, lb = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
    assert [p for p, _ in la] == [p for p, _ in lb]
    for (path, x), (_, y) in zip(la, lb):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=jax.tree_util.keystr(path))


def _save_bin(model, folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    (folder / "config.json").write_text(json.dumps(model.config.to_dict()))


def test_load_from_folders_equals_state_dict(tmp_path) -> None:
    config = TimesformerConfig.tiny()
    model = hf_model(config, head=True)  # classification checkpoint: prefix `timesformer.` + head to ignore
    model.save_pretrained(tmp_path / "st")
    _save_bin(model, tmp_path / "bin")
    assert (tmp_path / "st" / "model.safetensors").is_file()
    _, from_sd = enc.load_timesformer(model.state_dict(), config=config)
    _, from_base_sd = enc.load_timesformer(model.timesformer.state_dict(), config=config)
    cfg_st, from_st = enc.load_timesformer(tmp_path / "st")
    cfg_bin, from_bin = enc.load_timesformer(str(tmp_path / "bin"))
    _, from_file = enc.load_timesformer(tmp_path / "st" / "model.safetensors")
    assert cfg_st == cfg_bin == config
    for other in (from_base_sd, from_st, from_bin, from_file):
        _assert_same_params(from_sd, other)
    x = random_clips((2, 4, 32, 32, 3))
    ref = hf_forward(model.timesformer, x).last_hidden_state.numpy()
    emb = jax.jit(enc.embed_clips, static_argnames=("config", "dtype"))
    for params in (from_st, from_bin):
        assert rel_err(emb(params, x, config), ref[:, 0]) <= F32_TOL
    # Round trip back to a HF state dict.
    back = enc.to_hf_state_dict(from_st, config)
    sd = model.timesformer.state_dict()
    assert set(back) == set(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(back[k], v.numpy(), err_msg=k)


def test_load_from_hf_cache_by_hub_id_offline(tmp_path, monkeypatch) -> None:
    config = TimesformerConfig.tiny()
    model = hf_model(config)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snap = tmp_path / "cache" / "models--someone--tiny-timesformer" / "snapshots" / ("0" * 40)
    model.save_pretrained(snap)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text("0" * 40)
    cfg, params = enc.load_timesformer("someone/tiny-timesformer", cache_dir=tmp_path / "cache")
    assert cfg == config
    _assert_same_params(params, enc.load_timesformer(model.state_dict(), config=config)[1])
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError, match="weights not found: looked in"):
        enc.load_timesformer("facebook/timesformer-base-finetuned-k400", cache_dir=tmp_path / "cache")
    assert time.perf_counter() - t0 < 10.0  # offline: no network wait
    with pytest.raises(WeightsNotFoundError, match="weights not found: looked in"):
        enc.load_timesformer(tmp_path / "does-not-exist")
    (tmp_path / "empty").mkdir()
    with pytest.raises(WeightsNotFoundError, match="model.safetensors"):
        enc.load_timesformer(tmp_path / "empty")


def test_bad_checkpoints_fail_clearly(tmp_path) -> None:
    config = TimesformerConfig.tiny()
    model = hf_model(config)
    sd = {k: v.clone() for k, v in model.state_dict().items()}

    missing = dict(sd)
    del missing["encoder.layer.1.temporal_dense.weight"]
    with pytest.raises(
        CheckpointError, match=r"missing keys \(1\): encoder\.layer\.1\.temporal_dense\.weight"
    ):
        enc.load_timesformer(missing, config=config)

    extra = dict(
        sd,
        **{
            "encoder.layer.2.layernorm_after.bias": sd["layernorm.bias"],
            "pooler.weight": sd["layernorm.bias"],
        },
    )
    with pytest.raises(
        CheckpointError, match=r"unexpected keys \(2\).*encoder\.layer\.2\.layernorm_after\.bias"
    ):
        enc.load_timesformer(extra, config=config)

    bad_shape = dict(sd, **{"encoder.layer.0.attention.attention.qkv.weight": torch.zeros(96, 31)})
    with pytest.raises(
        CheckpointError,
        match=r"encoder\.layer\.0\.attention\.attention\.qkv\.weight has shape \(96, 31\), expected \(96, 32\)",
    ):
        enc.load_timesformer(bad_shape, config=config)

    nan = dict(sd, **{"layernorm.weight": torch.full((32,), float("nan"))})
    with pytest.raises(CheckpointError, match=r"layernorm\.weight contains NaN"):
        enc.load_timesformer(nan, config=config)

    # A checkpoint for another config: every mismatch is named.
    wider = TimesformerConfig.tiny(hidden_size=48, num_attention_heads=4)
    with pytest.raises(
        CheckpointError,
        match=r"shape mismatches.*embeddings\.cls_token has shape \(1, 1, 32\), expected \(1, 1, 48\)",
    ):
        enc.load_timesformer(sd, config=wider)
    with pytest.raises(ValueError, match="config is required"):
        enc.load_timesformer(sd)

    model.save_pretrained(tmp_path / "st")
    weights = tmp_path / "st" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])  # truncated download
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        enc.load_timesformer(tmp_path / "st")
    weights.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(CheckpointError, match="unreadable JSON header"):
        enc.load_timesformer(tmp_path / "st")

    _save_bin(model, tmp_path / "bin")
    (tmp_path / "bin" / "pytorch_model.bin").write_bytes(b"garbage" * 100)
    with pytest.raises(CheckpointError, match="could not be read as a PyTorch state dict"):
        enc.load_timesformer(tmp_path / "bin")

    (tmp_path / "bin" / "config.json").write_text(json.dumps({"model_type": "videomae"}))
    with pytest.raises(ValueError, match="model_type='videomae'"):
        enc.load_timesformer(tmp_path / "bin")


def test_embed_clips_jit_batch_and_trace_count() -> None:
    config = TimesformerConfig.tiny()
    params = enc.init_params(config, 1)
    traces = []

    @jax.jit
    def step(p, clips):
        traces.append(1)
        full = enc.embed_clips(p, clips, config)
        chunked = enc.embed_clips(p, clips, config, chunk_size=2)  # 5 clips -> 3 chunks, one padded
        return full, chunked

    clips = jnp.asarray(random_clips((5, 4, 32, 32, 3)))
    full, chunked = step(params, clips)
    full2, _ = step(params, clips + 0.5)
    assert len(traces) == 1  # same shapes: no retrace
    assert full.shape == (5, 32) and full.dtype == jnp.float32
    np.testing.assert_allclose(chunked, full, rtol=1e-5, atol=1e-5)
    assert not np.allclose(full, full2)
    # Batch independence: each clip alone gives its row of the batched result.
    single = jax.jit(enc.embed_clips, static_argnames=("config",))(params, clips[3:4], config)
    np.testing.assert_allclose(single[0], full[3], rtol=1e-5, atol=1e-5)
    # CLS embedding is layer-normed: zero mean over features before the affine part; finite.
    assert np.all(np.isfinite(full))


def test_model_rejects_bad_input() -> None:
    config = TimesformerConfig.tiny()
    params = enc.init_params(config)
    with pytest.raises(ValueError, match=r"pixel_values \[B, T, H, W, 3\]"):
        enc.embed_clips(params, jnp.zeros((1, 4, 3, 32, 32)), config)
    with pytest.raises(ValueError, match="smaller than patch_size"):
        enc.embed_clips(params, jnp.zeros((1, 4, 4, 4, 3)), config)
    with pytest.raises(ValueError, match="attention_type"):
        TimesformerConfig(attention_type="divided")
    with pytest.raises(ValueError, match="not a multiple"):
        TimesformerConfig.tiny(num_attention_heads=5)


def test_config_round_trip_with_hf() -> None:
    hf_cfg = transformers.TimesformerConfig(num_frames=16, image_size=[448, 448])
    cfg = TimesformerConfig.from_hf_config(hf_cfg.to_dict())
    assert cfg.num_frames == 16 and cfg.image_size == 448 and cfg.hidden_size == 768
    assert transformers.TimesformerConfig(**cfg.to_hf_dict()).to_dict()["num_frames"] == 16
    assert TimesformerConfig.base_k400() == TimesformerConfig.from_hf_config(
        transformers.TimesformerConfig().to_dict()
    )


def test_preprocess_matches_hf_processor_within_one_grey_level() -> None:
    from transformers.models.videomae.image_processing_pil_videomae import VideoMAEImageProcessorPil

    proc = VideoMAEImageProcessorPil(image_mean=list(enc.K400_MEAN), image_std=list(enc.K400_STD))
    rng = np.random.default_rng()
    one_level = 1.0 / 255 / 0.225
    run = jax.jit(enc.preprocess_clip)
    for h, w in ((240, 320), (300, 200), (224, 224)):
        frames = rng.integers(0, 256, (3, h, w, 3), dtype=np.uint8)
        ref = proc(list(frames), return_tensors="np")["pixel_values"][0].transpose(0, 2, 3, 1)
        out = np.asarray(run(jnp.asarray(frames)))
        assert out.shape == ref.shape == (3, 224, 224, 3)
        assert np.abs(out - ref).max() <= 1.01 * one_level
        assert np.abs(out - ref).mean() <= 0.5 * one_level
        if (h, w) == (224, 224):  # no resize: exact
            np.testing.assert_allclose(out, ref, atol=1e-5)


def test_preprocess_masks_batches_and_errors() -> None:
    rng = np.random.default_rng()
    frames = jnp.asarray(rng.integers(0, 256, (2, 3, 4, 64, 64, 3), dtype=np.uint8))
    masks = jnp.asarray(rng.random((2, 3, 4, 64, 64)) < 0.5)
    out = jax.jit(lambda f, m: enc.preprocess_clip(f, m, size=64, background=255))(frames, masks)
    assert out.shape == (2, 3, 4, 64, 64, 3) and out.dtype == jnp.float32
    white = (1.0 - 0.45) / 0.225
    np.testing.assert_allclose(np.asarray(out)[~np.asarray(masks)], white, atol=1e-5)
    kept = (np.asarray(frames, np.float32) / 255 - 0.45) / 0.225
    np.testing.assert_allclose(np.asarray(out)[np.asarray(masks)], kept[np.asarray(masks)], atol=1e-5)
    resized = enc.preprocess_clip(frames[0, 0], masks[0, 0], size=32)
    assert resized.shape == (4, 32, 32, 3)
    with pytest.raises(ValueError, match="masks shape"):
        enc.preprocess_clip(frames, masks[..., :32])
    with pytest.raises(ValueError, match=r"frames must be \[..., T, H, W, 3\]"):
        enc.preprocess_clip(frames[..., :2])


def test_clips_ending_at() -> None:
    frames = jnp.arange(10)[:, None] * jnp.ones((10, 2))
    clips = jax.jit(lambda f, e: enc.clips_ending_at(f, e, 4, stride=2))(frames, jnp.array([0, 3, 9]))
    np.testing.assert_array_equal(clips[:, :, 0], [[0, 0, 0, 0], [0, 0, 1, 3], [3, 5, 7, 9]])
    with pytest.raises(ValueError, match="past the last frame"):
        enc.clips_ending_at(frames, jnp.array([10]), 4)


def test_import_does_not_pull_torch() -> None:
    code = (
        "import sys, niljax.encoders; "
        "bad = [m for m in ('torch', 'transformers', 'huggingface_hub') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
