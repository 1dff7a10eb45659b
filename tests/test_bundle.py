"""Reference bundle I/O: round trip, checksum, validation, encoder identity, atomic writes, embeddings."""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import niljax.reward as nr
from niljax.reward import bundle as bundle_mod

T, H, W = 12, 16, 16


@pytest.fixture(scope="module")
def encoder() -> nr.VideoEncoder:
    return nr.toy_encoder(jax.random.PRNGKey(0), clip_len=8, dim=16)


@pytest.fixture(scope="module")
def bundle(encoder) -> nr.ReferenceBundle:
    rng = np.random.default_rng()
    frames = rng.integers(0, 256, (T, H, W, 3), dtype=np.uint8)
    masks = rng.random((T, H, W)) > 0.5
    return nr.make_bundle(
        frames, masks, encoder, robot="h1", prompt="The H1 agent is walking, camera follows the agent.",
        source="test/random", original_fps=30.0, control_rate_hz=100.0, resampling="none",
        camera={"distance": 3.0, "elevation": -10.0, "azimuth": 90.0}, clip_len=8, batch_size=5,
    )


def test_round_trip(tmp_path, bundle, encoder):
    path = nr.save_bundle(bundle, tmp_path / "ref")
    assert sorted(os.listdir(path)) == ["arrays.npz", "metadata.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["ref"]  # no temp folder left behind
    loaded = nr.load_bundle(path, expected_encoder=encoder, expected_clip_len=8)
    np.testing.assert_array_equal(loaded.frames, bundle.frames)
    np.testing.assert_array_equal(loaded.masks, bundle.masks)
    np.testing.assert_array_equal(loaded.embeddings, bundle.embeddings)
    m = loaded.metadata
    assert (m.robot, m.num_frames, m.height, m.width, m.clip_len) == ("h1", T, H, W, 8)
    assert m.format_version == nr.FORMAT_VERSION and len(m.arrays_sha256) == 64 and m.created_at
    assert m.encoder == encoder.info and m.camera["distance"] == 3.0
    dev = loaded.to_device()
    assert isinstance(dev.frames, jax.Array) and dev.frames.dtype == jnp.uint8
    assert dev.embeddings.shape == (T, 16) and dev.masks.dtype == jnp.bool_


def test_reference_embeddings_match_direct_clips(bundle, encoder):
    """Row t = embedding of frames max(t-7..t, 0): check every row against a direct, unbatched embedding."""
    idx = nr.clip_indices(T, 8)
    assert idx[0].tolist() == [0] * 8 and idx[3].tolist() == [0, 0, 0, 0, 0, 1, 2, 3]
    assert idx[T - 1].tolist() == list(range(T - 8, T))
    direct = encoder.embed(jnp.asarray(bundle.frames[idx]), jnp.asarray(bundle.masks[idx]))
    np.testing.assert_allclose(bundle.embeddings, np.asarray(direct), rtol=1e-5, atol=1e-5)


def test_corrupted_arrays_rejected(tmp_path, bundle):
    path = nr.save_bundle(bundle, tmp_path / "ref")
    data = bytearray((path / "arrays.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte in the middle of the arrays
    (path / "arrays.npz").write_bytes(bytes(data))
    with pytest.raises(nr.BundleError, match="checksum mismatch"):
        nr.load_bundle(path)


def test_truncated_arrays_rejected(tmp_path, bundle):
    path = nr.save_bundle(bundle, tmp_path / "ref")
    data = (path / "arrays.npz").read_bytes()
    (path / "arrays.npz").write_bytes(data[: len(data) // 3])
    with pytest.raises(nr.BundleError, match="checksum mismatch"):
        nr.load_bundle(path)


def _rewrite(path, frames=None, masks=None, embeddings=None, **meta_changes):
    """Replace arrays and/or metadata fields, recomputing the checksum (a well-formed but wrong bundle)."""
    with np.load(path / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in (("frames", frames), ("masks", masks), ("embeddings", embeddings)):
        if v is not None:
            arrays[k] = v
    np.savez(path / "arrays.npz", **arrays)
    meta = json.loads((path / "metadata.json").read_text())
    meta.update(meta_changes)
    meta["arrays_sha256"] = bundle_mod._sha256(path / "arrays.npz")
    (path / "metadata.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(masks=np.zeros((T - 1, H, W), bool)), "frame and mask counts differ"),
        (dict(masks=np.zeros((T, H, W + 1), bool)), "mask size"),
        (dict(masks=np.zeros((T, H, W), np.uint8)), "masks must be bool"),
        (dict(frames=np.zeros((T, H, W), np.uint8)), "frames must be uint8"),
        (dict(frames=np.zeros((T, H, W, 3), np.float32)), "frames must be uint8"),
        (dict(embeddings=np.zeros((T - 2, 16), np.float32)), "embedding count"),
        (dict(embeddings=np.full((T, 16), np.nan, np.float32)), "NaN"),
        (dict(format_version=99), "unknown bundle format_version 99"),
        (dict(num_frames=T + 5), "metadata says"),
        (dict(height=H * 2), "metadata says"),
        (dict(bogus_field=1), "unknown fields"),
    ],
)
def test_malformed_bundle_rejected(tmp_path, bundle, change, message):
    path = nr.save_bundle(bundle, tmp_path / "ref")
    _rewrite(path, **change)
    with pytest.raises(nr.BundleError, match=message):
        nr.load_bundle(path)


def test_missing_pieces_rejected(tmp_path, bundle):
    with pytest.raises(nr.BundleError, match="no bundle folder"):
        nr.load_bundle(tmp_path / "nope")
    path = nr.save_bundle(bundle, tmp_path / "ref")
    meta = json.loads((path / "metadata.json").read_text())
    del meta["robot"]
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(nr.BundleError, match=r"missing fields \['robot'\]"):
        nr.load_bundle(path)
    (path / "metadata.json").write_text("{not json")
    with pytest.raises(nr.BundleError, match="not valid JSON"):
        nr.load_bundle(path)
    (path / "metadata.json").unlink()
    with pytest.raises(nr.BundleError, match="missing metadata.json"):
        nr.load_bundle(path)


def test_other_encoder_rejected(tmp_path, bundle, encoder):
    path = nr.save_bundle(bundle, tmp_path / "ref")
    other_weights = nr.toy_encoder(jax.random.PRNGKey(1), clip_len=8, dim=16)
    with pytest.raises(nr.BundleError, match="different encoder.*id:"):
        nr.load_bundle(path, expected_encoder=other_weights)
    other_arch = nr.toy_encoder(jax.random.PRNGKey(0), clip_len=8, dim=24)
    with pytest.raises(nr.BundleError, match="config_hash"):
        nr.load_bundle(path, expected_encoder=other_arch)
    with pytest.raises(nr.BundleError, match="clip_len 8 differs from the configured 4"):
        nr.load_bundle(path, expected_clip_len=4)
    nr.load_bundle(path, expected_encoder=encoder.info)  # same identity passes


def test_atomic_write(tmp_path, bundle, monkeypatch):
    """A crash during save leaves neither a bundle nor a temp folder; an existing bundle survives intact."""
    target = tmp_path / "ref"
    nr.save_bundle(bundle, target)
    before = (target / "arrays.npz").read_bytes()
    with pytest.raises(FileExistsError):
        nr.save_bundle(bundle, target)

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(bundle_mod.json, "dump", crash)  # arrays written, metadata fails
    with pytest.raises(OSError, match="simulated"):
        nr.save_bundle(bundle, target, overwrite=True)
    with pytest.raises(OSError, match="simulated"):
        nr.save_bundle(bundle, tmp_path / "fresh")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref"]
    assert (target / "arrays.npz").read_bytes() == before
    nr.load_bundle(target)
    nr.save_bundle(bundle, target, overwrite=True)  # overwrite works and leaves no sibling behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ref"]
    nr.load_bundle(target)


def test_constructor_validates(bundle):
    with pytest.raises(nr.BundleError, match="frame and mask counts differ"):
        nr.ReferenceBundle(bundle.frames, bundle.masks[:-1], bundle.embeddings, bundle.metadata)
