"""Where `niljax weights` keeps converted TimeSformer weights, for the command (`weights_cli`) and the loader
(`params.load_timesformer`, which prefers a converted copy) alike: both import this module, neither the other.
Light: os and pathlib only."""

from __future__ import annotations

import os
from pathlib import Path


def weights_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Where converted weights live: `cache_dir`, else $NILJAX_WEIGHTS_DIR, else ~/.cache/niljax/weights."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get("NILJAX_WEIGHTS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "niljax" / "weights"


def converted_folder(source: str, cache_dir: str | Path | None = None) -> Path:
    """The converted copy's folder for a hub id or path (the id with "/" as "--", as the HF cache names it)."""
    name = str(source).strip("/").replace("/", "--") or "weights"
    return weights_cache_dir(cache_dir) / name
