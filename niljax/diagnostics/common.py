"""Shared pieces of the diagnostics: the bundle's robot, encoder and reward config, and the curve plots."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np


def bundle_encoder(bundle: Any) -> Any:
    """The `VideoEncoder` that made `bundle`'s embeddings, rebuilt from the id it records (the way `niljax train`
    does); BundleError when the rebuilt encoder is not that one (e.g. other weights at the recorded path)."""
    from niljax.encoders.factory import EncoderConfig, build_encoder, config_for_encoder_id

    meta = bundle.metadata
    config = config_for_encoder_id(EncoderConfig(clip_len=meta.clip_len), meta.encoder.id)
    encoder = build_encoder(config)
    bundle.check_encoder(encoder)
    return encoder


def bundle_scene(bundle: Any, *, mjcf: str | None = None, plain_background: bool = True) -> Any:
    """The robot scene the bundle was made for (its recorded MJCF when that file is still there, else `mjcf` or
    the registry's); ValueError when the loaded model's fingerprint differs from the recorded one."""
    from niljax.robots import load_robot

    meta = bundle.metadata
    recorded = meta.extra.get("model") or {}
    if mjcf is None and recorded.get("mjcf") and Path(recorded["mjcf"]).is_file():
        mjcf = recorded["mjcf"]
    scene = load_robot(meta.robot, mjcf_path=mjcf, plain_background=plain_background)
    if recorded.get("fingerprint") and recorded["fingerprint"] != scene.model_fingerprint():
        raise ValueError(f"the bundle was made for another model of {meta.robot!r} "
                         f"({recorded.get('mjcf') or recorded.get('source')}) than the one loaded ({scene.asset_path}): "
                         "pass --mjcf PATH_OF_THAT_MODEL")
    return scene


def default_reward_config(bundle: Any, **overrides: Any) -> Any:
    """`RewardConfig` with the bundle's clip length (and `overrides`)."""
    from niljax.reward import RewardConfig

    return dataclasses.replace(RewardConfig(clip_len=bundle.metadata.clip_len), **overrides)


def summarize_terms(terms: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean of each per-step term f32[T] as `<name>_mean` (the `reward/` prefix dropped)."""
    return {f"{k.removeprefix('reward/')}_mean": float(np.mean(v)) for k, v in terms.items()}


def plot_curves(path: Path, series: dict[str, dict[str, np.ndarray]], *, hz: float, title: str,
                terms: tuple[str, ...] = ("reward/video", "reward/iou", "reward/total")) -> Path:
    """One panel per term, one line per series ({label: {term: f32[T]}}), x in seconds; writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    terms = tuple(t for t in terms if any(t in s for s in series.values()))
    fig, axes = plt.subplots(1, len(terms), figsize=(4.2 * len(terms), 3.4), squeeze=False)
    cmap = plt.get_cmap("tab20" if len(series) > 10 else "tab10")
    for ax, term in zip(axes[0], terms):
        for i, (label, values) in enumerate(series.items()):
            if term in values:
                y = np.asarray(values[term])
                ax.plot(np.arange(len(y)) / hz, y, label=label, color=cmap(i % cmap.N), lw=1.3)
        ax.set_title(term.removeprefix("reward/"))
        ax.set_xlabel("time (s)")
        ax.grid(alpha=0.3)
    if len(series) > 1:
        axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
