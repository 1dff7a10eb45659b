"""Reference bundle: the one artefact Stage 1 writes and Stage 2 reads.

On disk a bundle is a folder:

    <bundle>/arrays.npz      frames uint8[T,H,W,3], masks bool[T,H,W], embeddings float32[T,D] (no pickles)
    <bundle>/metadata.json   format_version, robot, prompt, source, original_fps, control_rate_hz, resampling,
                             camera, height, width, num_frames, clip_len, encoder {id, config_hash,
                             preprocessing}, created_at, arrays_sha256, extra

Frames are at the control rate: frame t is what the agent should look like at control step t. Embedding row
t is the encoder's embedding of the reference clip that ends at t: frames max(t-clip_len+1, 0) .. t, i.e. the
first frame repeated while t < clip_len-1 (`clip_indices`).

`save_bundle` writes into a temporary sibling folder and renames it into place, so a crash never leaves a
half-written bundle at the target path. `load_bundle` checks the checksum, the format version, every shape and
dtype, frame/mask/embedding counts against each other and against the metadata, and (optionally) that the
bundle's encoder is the one configured; any failure raises `BundleError` with the reason.

A multi-view reference (one motion filmed by V cameras, `RenderConfig.views`) is a folder of V bundles:

    <reference>/views.json   {"views": [view spec, ...], "folders": [sub-folder, ...]}
    <reference>/<folder>/    one bundle per view (its metadata's camera records the view)

written by `save_view_bundles`, read by `load_view_bundles` (which also reads a plain bundle as one view).

`ReferenceBundle` is host-side (numpy). `to_device()` returns `ReferenceArrays`, a pytree of device arrays
that jitted code takes as an ordinary argument (its shapes are static: a bundle of another length or size
recompiles; another bundle of the same shapes does not).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from niljax.reward.encoder import EncoderInfo, VideoEncoder

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
ARRAYS_FILE = "arrays.npz"
METADATA_FILE = "metadata.json"
VIEWS_FILE = "views.json"


class BundleError(ValueError):
    """A reference bundle is missing, corrupted, malformed, of an unknown version or for another encoder."""


@dataclasses.dataclass(frozen=True)
class BundleMetadata:
    """Host-side description of a reference bundle (stored as metadata.json).

    `num_frames`, `height`, `width` are checked against the arrays; `arrays_sha256` is filled by `save_bundle`.
    `camera` is a JSON-able dict (e.g. distance, elevation, azimuth, fovy); `extra` is free-form JSON.
    """

    robot: str
    prompt: str
    source: str
    original_fps: float
    control_rate_hz: float
    resampling: str
    camera: dict[str, Any]
    height: int
    width: int
    num_frames: int
    clip_len: int
    encoder: EncoderInfo
    format_version: int = FORMAT_VERSION
    created_at: str = ""
    arrays_sha256: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = dataclasses.asdict(self)
        d["encoder"] = self.encoder.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BundleMetadata:
        """Parse metadata.json content; raises BundleError naming a missing or unknown field."""
        if not isinstance(d, dict):
            raise BundleError(f"metadata must be a JSON object, got {type(d).__name__}")
        version = d.get("format_version")
        if version not in SUPPORTED_VERSIONS:
            raise BundleError(
                f"unknown bundle format_version {version!r} (this niljax reads {list(SUPPORTED_VERSIONS)})"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
        missing = sorted(required - d.keys())
        if missing:
            raise BundleError(f"metadata is missing fields {missing}")
        unknown = sorted(d.keys() - names)
        if unknown:
            raise BundleError(f"metadata has unknown fields {unknown}")
        kw = dict(d)
        try:
            kw["encoder"] = EncoderInfo.from_dict(d["encoder"])
            for k in ("height", "width", "num_frames", "clip_len", "format_version"):
                kw[k] = int(d[k])
            for k in ("original_fps", "control_rate_hz"):
                kw[k] = float(d[k])
        except (TypeError, ValueError) as e:
            raise BundleError(f"malformed metadata: {e}") from e
        return cls(**kw)


@struct.dataclass
class ReferenceArrays:
    """Device-resident reference arrays (a pytree): what the jitted reward reads.

    frames uint8[T,H,W,3], masks bool[T,H,W], embeddings float32[T,D] (row t: clip ending at t), root_pos
    float32[T,3] or None: the reference robot's root position per frame, in the frame of the reference's own
    start (known for replayed references; what a reference-anchored camera follows, see niljax.render.camera).
    """

    frames: jax.Array
    masks: jax.Array
    embeddings: jax.Array
    root_pos: jax.Array | None = None

    @property
    def num_frames(self) -> int:
        """T."""
        return self.frames.shape[0]


def clip_indices(num_frames: int, clip_len: int) -> np.ndarray:
    """int32[T, clip_len]: row t = frame indices of the clip ending at t, oldest first, clamped at 0."""
    t = np.arange(num_frames)[:, None]
    offsets = np.arange(clip_len)[None, :] - (clip_len - 1)
    return np.maximum(t + offsets, 0).astype(np.int32)


def _validate_arrays(frames: Any, masks: Any, embeddings: Any) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise BundleError(f"frames must be uint8[T,H,W,3], got {getattr(frames, 'dtype', type(frames))}"
                          f"{list(getattr(frames, 'shape', []))}")
    if frames.shape[0] < 1:
        raise BundleError("bundle has no frames")
    if not isinstance(masks, np.ndarray) or masks.dtype != np.bool_ or masks.ndim != 3:
        raise BundleError(f"masks must be bool[T,H,W], got {getattr(masks, 'dtype', type(masks))}"
                          f"{list(getattr(masks, 'shape', []))}")
    if masks.shape[0] != frames.shape[0]:
        raise BundleError(f"frame and mask counts differ: {frames.shape[0]} frames, {masks.shape[0]} masks")
    if masks.shape[1:] != frames.shape[1:3]:
        raise BundleError(f"mask size {masks.shape[1:]} differs from frame size {frames.shape[1:3]}")
    if (not isinstance(embeddings, np.ndarray) or embeddings.dtype != np.float32 or embeddings.ndim != 2):
        raise BundleError(f"embeddings must be float32[T,D], got {getattr(embeddings, 'dtype', type(embeddings))}"
                          f"{list(getattr(embeddings, 'shape', []))}")
    if embeddings.shape[0] != frames.shape[0]:
        raise BundleError(
            f"embedding count {embeddings.shape[0]} differs from frame count {frames.shape[0]} "
            "(one embedding per clip end index is required)"
        )
    if not np.all(np.isfinite(embeddings)):
        raise BundleError("embeddings contain NaN or inf")


@dataclasses.dataclass(frozen=True, eq=False)
class ReferenceBundle:
    """A validated reference: host numpy arrays + metadata. Construct directly or with `load_bundle`."""

    frames: np.ndarray
    masks: np.ndarray
    embeddings: np.ndarray
    metadata: BundleMetadata
    root_pos: np.ndarray | None = None  # float32[T,3], optional (see ReferenceArrays)
    qpos: np.ndarray | None = None  # float32[T,nq], optional: the replayed robot's state per frame (host only,
    # for reference state initialisation)

    def __post_init__(self) -> None:
        _validate_arrays(self.frames, self.masks, self.embeddings)
        if self.root_pos is not None:
            rp = self.root_pos
            if (not isinstance(rp, np.ndarray) or rp.dtype != np.float32 or rp.shape != (self.frames.shape[0], 3)
                    or not np.all(np.isfinite(rp))):
                raise BundleError(f"root_pos must be finite float32[T={self.frames.shape[0]},3], got "
                                  f"{getattr(rp, 'dtype', type(rp))}{list(getattr(rp, 'shape', []))}")
        if self.qpos is not None:
            q = self.qpos
            if (not isinstance(q, np.ndarray) or q.dtype != np.float32 or q.ndim != 2
                    or q.shape[0] != self.frames.shape[0] or not np.all(np.isfinite(q))):
                raise BundleError(f"qpos must be finite float32[T={self.frames.shape[0]},nq], got "
                                  f"{getattr(q, 'dtype', type(q))}{list(getattr(q, 'shape', []))}")
        m = self.metadata
        if not isinstance(m, BundleMetadata):
            raise BundleError(f"metadata must be a BundleMetadata, got {type(m).__name__}")
        t, h, w = self.frames.shape[:3]
        if (m.num_frames, m.height, m.width) != (t, h, w):
            raise BundleError(
                f"metadata says {m.num_frames} frames of {m.height}x{m.width}, arrays hold {t} frames of {h}x{w}"
            )
        if m.clip_len < 1:
            raise BundleError(f"clip_len must be >= 1, got {m.clip_len}")
        if m.format_version not in SUPPORTED_VERSIONS:
            raise BundleError(f"unknown bundle format_version {m.format_version!r}")

    @property
    def num_frames(self) -> int:
        """T."""
        return int(self.frames.shape[0])

    @property
    def embedding_dim(self) -> int:
        """D."""
        return int(self.embeddings.shape[1])

    def to_device(self, sharding: jax.sharding.Sharding | None = None) -> ReferenceArrays:
        """Copy the arrays to the device (replicated with `sharding`, if given) as a `ReferenceArrays` pytree."""
        arrays = ReferenceArrays(frames=self.frames, masks=self.masks, embeddings=self.embeddings,
                                 root_pos=self.root_pos)
        if sharding is None:
            return jax.device_put(arrays)
        return jax.device_put(arrays, sharding)

    def check_encoder(self, encoder: VideoEncoder | EncoderInfo) -> None:
        """Raise BundleError unless the bundle's embeddings were computed by `encoder` (same identity)."""
        info = encoder.info if isinstance(encoder, VideoEncoder) else encoder
        mine = self.metadata.encoder
        if info != mine:
            diffs = [f"{k}: bundle {getattr(mine, k)!r} vs configured {getattr(info, k)!r}"
                     for k in ("id", "config_hash", "preprocessing") if getattr(mine, k) != getattr(info, k)]
            raise BundleError("bundle was made with a different encoder than the one configured: " + "; ".join(diffs))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def _folder_written_atomically(path: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty temporary sibling of `path` to fill; when the block succeeds it is renamed to `path` (an
    existing `path` is moved aside first and deleted after the rename), when it fails it is removed.
    FileExistsError when `path` exists and not `overwrite`."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists (pass overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(path, old)
        os.rename(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_bundle(bundle: ReferenceBundle, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write `bundle` to the folder `path` atomically; returns the path.

    The arrays and metadata are written into a temporary sibling folder, flushed, and renamed into place.
    With `overwrite=True` an existing bundle is moved aside first and deleted after the rename; otherwise an
    existing path raises FileExistsError. The stored metadata gets `arrays_sha256` and `created_at` filled in.
    """
    with _folder_written_atomically(Path(path), overwrite) as tmp:
        arrays_path = tmp / ARRAYS_FILE
        with open(arrays_path, "wb") as f:
            optional = {k: v for k, v in (("root_pos", bundle.root_pos), ("qpos", bundle.qpos)) if v is not None}
            np.savez(f, frames=bundle.frames, masks=bundle.masks, embeddings=bundle.embeddings, **optional)
            f.flush()
            os.fsync(f.fileno())
        meta = dataclasses.replace(
            bundle.metadata,
            arrays_sha256=_sha256(arrays_path),
            created_at=bundle.metadata.created_at
            or datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        )
        with open(tmp / METADATA_FILE, "w") as f:
            json.dump(meta.to_dict(), f, indent=2, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
    return Path(path)


def load_bundle(
    path: str | os.PathLike,
    *,
    expected_encoder: VideoEncoder | EncoderInfo | None = None,
    expected_clip_len: int | None = None,
) -> ReferenceBundle:
    """Read and validate a bundle folder; raises BundleError with the reason on any problem.

    Checks: both files present, metadata JSON well-formed with a supported format_version, the sha256 of
    arrays.npz equals the one recorded, arrays shapes/dtypes/counts (see `ReferenceBundle`), and, when given,
    the encoder identity and clip length.
    """
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"no bundle folder at {path}")
    if (path / VIEWS_FILE).is_file() and not (path / METADATA_FILE).exists():
        raise BundleError(f"{path} is a multi-view reference ({', '.join(_read_views(path)[0])}): load it with "
                          "load_view_bundles (a run with RenderConfig.views), or pass one view's folder")
    meta_path, arrays_path = path / METADATA_FILE, path / ARRAYS_FILE
    for p in (meta_path, arrays_path):
        if not p.is_file():
            raise BundleError(f"bundle {path} is missing {p.name}")
    try:
        raw = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"bundle {path}: metadata.json is not valid JSON ({e})") from e
    metadata = BundleMetadata.from_dict(raw)
    digest = _sha256(arrays_path)
    if digest != metadata.arrays_sha256:
        raise BundleError(
            f"bundle {path}: checksum mismatch for {ARRAYS_FILE} (recorded {metadata.arrays_sha256[:12]}..., "
            f"found {digest[:12]}...): the file is corrupted or was modified"
        )
    try:
        with np.load(arrays_path, allow_pickle=False) as z:
            missing = sorted({"frames", "masks", "embeddings"} - set(z.files))
            if missing:
                raise BundleError(f"bundle {path}: {ARRAYS_FILE} lacks arrays {missing}")
            frames, masks, embeddings = z["frames"], z["masks"], z["embeddings"]
            root_pos = z["root_pos"] if "root_pos" in z.files else None
            qpos = z["qpos"] if "qpos" in z.files else None
    except BundleError:
        raise
    except Exception as e:  # zipfile / format errors
        raise BundleError(f"bundle {path}: cannot read {ARRAYS_FILE} ({e})") from e
    bundle = ReferenceBundle(frames=frames, masks=masks, embeddings=embeddings, metadata=metadata,
                             root_pos=root_pos, qpos=qpos)
    if expected_encoder is not None:
        bundle.check_encoder(expected_encoder)
    if expected_clip_len is not None and metadata.clip_len != expected_clip_len:
        raise BundleError(f"bundle clip_len {metadata.clip_len} differs from the configured {expected_clip_len}")
    return bundle


def compute_reference_embeddings(
    frames: np.ndarray | jax.Array,
    masks: np.ndarray | jax.Array,
    encoder: VideoEncoder,
    *,
    clip_len: int = 8,
    batch_size: int = 8,
    dtype: Any = jnp.float32,
) -> np.ndarray:
    """Embedding of every reference clip: float32[T, D], row t = clip ending at t (see `clip_indices`).

    Compiles the encoder once for `batch_size` clips (the last batch is padded) and runs T/batch_size calls.
    Stage 1 and the tests share this so that agent and reference clips are embedded the same way.
    """
    frames = jnp.asarray(frames)
    masks = jnp.asarray(masks)
    if frames.ndim != 4 or frames.dtype != jnp.uint8 or masks.shape != frames.shape[:3]:
        raise ValueError(f"expected frames uint8[T,H,W,3] and masks bool[T,H,W], got {frames.dtype}"
                         f"{frames.shape} and {masks.dtype}{masks.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    idx = clip_indices(frames.shape[0], clip_len)
    n = idx.shape[0]
    pad = (-n) % batch_size
    idx = np.concatenate([idx, np.zeros((pad, clip_len), np.int32)])

    @jax.jit
    def embed_batch(enc: VideoEncoder, fr: jax.Array, ms: jax.Array, ix: jax.Array) -> jax.Array:
        return enc.embed(fr[ix], ms[ix].astype(bool), dtype)

    out = [np.asarray(embed_batch(encoder, frames, masks, jnp.asarray(idx[i:i + batch_size])))
           for i in range(0, idx.shape[0], batch_size)]
    return np.concatenate(out)[:n].astype(np.float32)


def make_bundle(
    frames: np.ndarray,
    masks: np.ndarray,
    encoder: VideoEncoder,
    *,
    robot: str,
    prompt: str,
    source: str,
    original_fps: float,
    control_rate_hz: float,
    resampling: str,
    camera: dict[str, Any],
    clip_len: int = 8,
    batch_size: int = 8,
    extra: dict[str, Any] | None = None,
    root_pos: np.ndarray | None = None,
    qpos: np.ndarray | None = None,
) -> ReferenceBundle:
    """Build a `ReferenceBundle` from control-rate frames and masks, computing the embeddings with `encoder`.

    `root_pos` f[T,3] (optional): the reference root's position per frame (stored relative to frame 0);
    `qpos` f[T,nq] (optional): the robot's joint state per frame when it is known (replay)."""
    frames = np.asarray(frames)
    masks = np.asarray(masks).astype(bool)
    embeddings = compute_reference_embeddings(frames, masks, encoder, clip_len=clip_len, batch_size=batch_size)
    metadata = BundleMetadata(
        robot=robot, prompt=prompt, source=source, original_fps=float(original_fps),
        control_rate_hz=float(control_rate_hz), resampling=resampling, camera=dict(camera),
        height=int(frames.shape[1]), width=int(frames.shape[2]), num_frames=int(frames.shape[0]),
        clip_len=int(clip_len), encoder=encoder.info, extra=dict(extra or {}),
    )
    if root_pos is not None:
        root_pos = np.asarray(root_pos, np.float64)
        root_pos = (root_pos - root_pos[:1]).astype(np.float32)
    if qpos is not None:
        qpos = np.asarray(qpos, np.float32)
    return ReferenceBundle(frames=frames, masks=masks, embeddings=embeddings, metadata=metadata, root_pos=root_pos,
                           qpos=qpos)


def view_name(bundle: ReferenceBundle) -> str:
    """The camera view a bundle was rendered from ("follow", "follow@45"): its camera record's `view`, else the
    camera's name (bundles from before views)."""
    camera = bundle.metadata.camera or {}
    return str(camera.get("view") or camera.get("name") or "follow")


def _read_views(path: Path) -> tuple[list[str], list[str]]:
    try:
        raw = json.loads((path / VIEWS_FILE).read_text())
        views, folders = [str(v) for v in raw["views"]], [str(f) for f in raw["folders"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BundleError(f"{path / VIEWS_FILE} is malformed ({e}); expected {{\"views\": [...], \"folders\": [...]}}") from e
    if not views or len(views) != len(folders) or len(set(views)) != len(views):
        raise BundleError(f"{path / VIEWS_FILE}: views {views} and folders {folders} must be non-empty, equally long "
                          "and without repeats")
    return views, folders


def save_view_bundles(bundles: dict[str, ReferenceBundle], path: str | os.PathLike, *,
                      overwrite: bool = False) -> Path:
    """Write V bundles of one motion, keyed by view spec ("follow", "follow@90"; in order), as a multi-view
    reference folder. The views must agree in length, size and encoder (BundleError otherwise). Written into a
    temporary sibling and renamed into place, like `save_bundle`."""
    path = Path(path)
    if not bundles:
        raise BundleError("save_view_bundles: no views given")
    first = next(iter(bundles.values()))
    for name, b in bundles.items():
        if b.frames.shape != first.frames.shape or b.embeddings.shape != first.embeddings.shape:
            raise BundleError(f"view {name!r} has frames {b.frames.shape} / embeddings {b.embeddings.shape}, the first "
                              f"view {first.frames.shape} / {first.embeddings.shape}: every view needs the same length, "
                              "size and encoder")
        if b.metadata.encoder != first.metadata.encoder:
            raise BundleError(f"view {name!r} was embedded with another encoder than the first view")
    with _folder_written_atomically(path, overwrite) as tmp:
        folders = [f"view{i}" for i in range(len(bundles))]
        for folder, bundle in zip(folders, bundles.values()):
            save_bundle(bundle, tmp / folder)
        (tmp / VIEWS_FILE).write_text(json.dumps({"views": list(bundles), "folders": folders}, indent=2) + "\n")
    return path


def load_view_bundles(path: str | os.PathLike, **load_kwargs: Any) -> dict[str, ReferenceBundle]:
    """{view spec: bundle} in order: every view of a multi-view reference folder, or a plain bundle as its one
    view (`view_name`). `load_kwargs` go to `load_bundle` for each view. BundleError on any problem."""
    path = Path(path)
    if not (path / VIEWS_FILE).is_file() or (path / METADATA_FILE).exists():
        bundle = load_bundle(path, **load_kwargs)
        return {view_name(bundle): bundle}
    views, folders = _read_views(path)
    out = {}
    for name, folder in zip(views, folders):
        bundle = load_bundle(path / folder, **load_kwargs)
        if view_name(bundle) != name:
            raise BundleError(f"{path / folder} records camera view {view_name(bundle)!r}, {VIEWS_FILE} says {name!r}")
        out[name] = bundle
    return out
