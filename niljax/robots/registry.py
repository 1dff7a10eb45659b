"""`TomlRegistry`: a name -> spec registry backed by one TOML file per entry plus in-process registrations.

Robots (`robots/<name>.toml`) and skills (`skills/<name>.toml`) are both registered this way: a folder of spec
files (overridable with an environment variable, read at every lookup), a `from_dict` that validates one file's
contents, and `register` for specs made in Python, which shadow a file of the same name.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

Spec = TypeVar("Spec")


class TomlRegistry(Generic[Spec]):
    """Specs of one kind ("robot", "skill"): files `<folder>/<name>.toml` + `register`ed ones.

    `from_dict(raw, origin=...)` builds and validates a spec; `not_found` / `invalid` are the exception types
    raised for an unknown name and for a bad file (both get a message naming the file or the known names).
    """

    def __init__(self, kind: str, env_var: str, default_folder: Path, spec_type: type,
                 from_dict: Callable[..., Spec], not_found: type[Exception], invalid: type[Exception],
                 register_hint: str) -> None:
        self.kind, self.env_var, self.default_folder = kind, env_var, default_folder
        self.spec_type, self.from_dict = spec_type, from_dict
        self.not_found, self.invalid, self.register_hint = not_found, invalid, register_hint
        self._registered: dict[str, Spec] = {}

    def folder(self) -> Path:
        """The folder holding the spec files: $<env_var>, else the default folder."""
        env = os.environ.get(self.env_var)
        return Path(env).expanduser().resolve() if env else self.default_folder

    def register(self, spec: Spec | Mapping[str, Any]) -> Spec:
        """Register a spec (or a dict shaped like the TOML); it shadows a file of that name."""
        if not isinstance(spec, self.spec_type):
            spec = self.from_dict(spec, origin=f"<register_{self.kind}>")
        self._registered[spec.name] = spec
        return spec

    def _files(self) -> dict[str, Path]:
        d = self.folder()
        return {p.stem: p for p in sorted(d.glob("*.toml"))} if d.is_dir() else {}

    def names(self) -> list[str]:
        """Every registered name (spec files + `register`), sorted."""
        return sorted(set(self._files()) | set(self._registered))

    def get(self, name: str) -> Spec:
        """The spec called `name`; `not_found` listing the known names otherwise, `invalid` for a bad file."""
        if name in self._registered:
            return self._registered[name]
        files = self._files()
        if name not in files:
            raise self.not_found(
                f"unknown {self.kind} {name!r}; registered {self.kind}s: {', '.join(self.names()) or '(none)'} "
                f"(spec folder {self.folder()}; set {self.env_var} or call {self.register_hint})")
        with open(files[name], "rb") as f:
            try:
                raw = tomllib.load(f)
            except tomllib.TOMLDecodeError as e:
                raise self.invalid(f"{files[name]}: invalid TOML: {e}") from e
        spec = self.from_dict(raw, origin=str(files[name]))
        if spec.name != name:
            raise self.invalid(f"{files[name]}: `name = {spec.name!r}` must match the file name {name!r}")
        return spec
