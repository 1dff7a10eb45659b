"""Registry of video-encoder kinds: `EncoderConfig.kind` names one, `build_encoder` builds it.

A kind is one module in `niljax/encoders/kinds/` (file `my_model.py` is kind "my-model"), found by listing the
folder, so adding a model is adding one file; a module elsewhere is added with `register_encoder_kind`. Listing
kinds imports nothing (configs stay light); building one imports its module, which must define:

- `KIND: str` (its name) and `DESCRIPTION: str` (one line for `--help` and errors);
- `build(config: EncoderConfig) -> VideoEncoder`: the encoder, weights loaded (`WeightsNotFoundError` if absent);
- `config_from_id(base: EncoderConfig, encoder_id: str) -> EncoderConfig | None`: the config that rebuilds an
  encoder whose `info.id` a bundle recorded, or None when the id is not of this kind. The "timesformer" kind
  (a weights path or hub id) is asked last and takes any id no other kind claims.
- `validate(config: EncoderConfig) -> None` (optional): raise ValueError for fields this kind cannot honour.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

_KINDS_PACKAGE = "niljax.encoders.kinds"
_FALLBACK_KIND = "timesformer"
_EXTRA: dict[str, str] = {}  # kind -> module, from register_encoder_kind


def _builtin() -> dict[str, str]:
    folder = Path(__file__).with_name("kinds")
    return {m.name.replace("_", "-"): f"{_KINDS_PACKAGE}.{m.name}"
            for m in pkgutil.iter_modules([str(folder)]) if not m.name.startswith("_")}


def available_kinds() -> tuple[str, ...]:
    """Names of every registered kind, sorted (imports no kind module)."""
    return tuple(sorted({**_builtin(), **_EXTRA}))


def register_encoder_kind(kind: str, module: str) -> None:
    """Register kind `kind` implemented by importable module `module` (see the module docstring)."""
    if not kind or not isinstance(kind, str):
        raise ValueError(f"encoder kind must be a non-empty string, got {kind!r}")
    _EXTRA[kind] = module


def kind_module(kind: str) -> ModuleType:
    """The module implementing `kind`; ValueError naming the registered kinds when unknown."""
    modules = {**_builtin(), **_EXTRA}
    if kind not in modules:
        raise ValueError(f"unknown encoder kind {kind!r}; registered kinds: {', '.join(available_kinds())}")
    module = importlib.import_module(modules[kind])
    if getattr(module, "KIND", None) != kind:
        raise ValueError(f"encoder module {modules[kind]} declares KIND={getattr(module, 'KIND', None)!r}, "
                         f"registered as {kind!r}")
    return module


def config_from_id(base: Any, encoder_id: str) -> Any:
    """Ask each kind (the fallback kind last) for the config that rebuilds `encoder_id`."""
    order = [k for k in available_kinds() if k != _FALLBACK_KIND] + [_FALLBACK_KIND]
    for kind in order:
        found = kind_module(kind).config_from_id(base, encoder_id)
        if found is not None:
            return found
    raise ValueError(f"no encoder kind recognises the id {encoder_id!r}")
