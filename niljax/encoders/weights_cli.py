"""`niljax weights`: get the TimeSformer weights once, check them, and cache them as safetensors (no torch).

    niljax weights                                   # facebook/timesformer-base-finetuned-k400 from the hub
    niljax weights /models/timesformer-k400          # check a local folder (config.json + weights)
    niljax weights facebook/timesformer-base-finetuned-k400 --offline   # the HF cache only

A hub id is fetched with `huggingface_hub` (only config.json and the weights) when online, or found in the HF
cache when offline (`--offline` or HF_HUB_OFFLINE=1); a local folder or file is read where it is. The weights
(`model.safetensors`, sharded safetensors, or `pytorch_model.bin` read by a restricted unpickler, without torch)
are checked against `TimesformerModel(config.json)` (every key, shape, finite values) and written once to
`<cache>/<name>/model.safetensors` with its `config.json` (cache: `--cache-dir`, else $NILJAX_WEIGHTS_DIR, else
~/.cache/niljax/weights). `load_timesformer(hub id)` uses that converted copy when it exists, so training never
reads the pickle again. Prints the folder to pass as `--encoder.weights`. Exit 2 with one paragraph on error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

from niljax.encoders.weights_cache import converted_folder, weights_cache_dir

__all__ = ["converted_folder", "fetch_and_convert", "weights_cache_dir", "weights_main"]

DEFAULT_SOURCE = "facebook/timesformer-base-finetuned-k400"
CONVERTED_NAME = "model.safetensors"
STAMP_NAME = "niljax_weights.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_and_convert(source: str = DEFAULT_SOURCE, *, cache_dir: str | Path | None = None,
                      offline: bool | None = None, force: bool = False) -> Path:
    """Resolve `source` (hub id or local folder/file), check its weights, write the converted folder once; return
    it. WeightsNotFoundError when nothing is found, CheckpointError when the weights do not fit."""
    import numpy as np
    from safetensors.numpy import save_file

    from niljax.encoders import params as P
    from niljax.encoders.timesformer import TimesformerConfig

    out = converted_folder(source, cache_dir)
    if not force and (out / CONVERTED_NAME).is_file() and (out / "config.json").is_file():
        config = TimesformerConfig.from_hf_config(out / "config.json")
        P.convert_state_dict(P.read_safetensors(out / CONVERTED_NAME), config, source=str(out))  # still valid
        return out
    path = Path(source).expanduser()
    if path.is_dir():
        folder, weights = path, P._weights_in_folder(path)  # noqa: SLF001 - same package
    elif path.is_file():
        folder, weights = path.parent, path
    else:
        local_only = P._offline() if offline is None else offline  # noqa: SLF001
        folder = P._hub_folder(source, revision=None, cache_dir=None, local_only=local_only)  # noqa: SLF001
        weights = P._weights_in_folder(folder)  # noqa: SLF001
    if not (folder / "config.json").is_file():
        raise P.WeightsNotFoundError(f"weights not found: {folder} has no config.json next to {weights.name}")
    config = TimesformerConfig.from_hf_config(folder / "config.json")
    state = P.read_weights_file(weights)
    P.convert_state_dict(state, config, source=str(weights))  # every key and shape, finite values
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (CONVERTED_NAME + ".tmp")
    save_file({k: np.ascontiguousarray(v) for k, v in state.items()}, str(tmp))
    tmp.replace(out / CONVERTED_NAME)  # atomic: a crash never leaves a half-written cache entry
    shutil.copy2(folder / "config.json", out / "config.json")
    (out / STAMP_NAME).write_text(json.dumps({
        "source": str(source), "read_from": str(weights), "source_sha256": _sha256(weights),
        "tensors": len(state), "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2) + "\n")
    return out


def weights_main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="niljax weights", description=__doc__.splitlines()[0])
    p.add_argument("source", nargs="?", default=DEFAULT_SOURCE, help="hub id or local folder / weights file")
    p.add_argument("--cache-dir", default=None, help="where the converted copy goes (default: $NILJAX_WEIGHTS_DIR "
                                                     "or ~/.cache/niljax/weights)")
    p.add_argument("--offline", action="store_true", help="never touch the network (the HF cache only)")
    p.add_argument("--force", action="store_true", help="convert again even when a converted copy exists")
    args = p.parse_args(argv)
    from niljax.encoders.params import CheckpointError, WeightsNotFoundError

    try:
        out = fetch_and_convert(args.source, cache_dir=args.cache_dir, offline=True if args.offline else None,
                                force=args.force)
    except (WeightsNotFoundError, CheckpointError) as err:
        print(f"niljax weights: {err}", file=sys.stderr)
        return 2
    print(f"weights ok: {out / CONVERTED_NAME}\nuse: --encoder.kind timesformer --encoder.weights {out}")
    return 0
