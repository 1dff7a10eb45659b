"""Data shipped inside the package: LocoMuJoCo motion-capture walks and a trimmed Unitree A1 model (MIT).

A leaf package (imports nothing of niljax), read by name:

- `mocap_path("a1-walk")` -> the `.npz` of a walk (`q_<joint>` / `dq_<joint>` arrays, `frequency` = 500 Hz);
  `mocap_names()` lists them. `resolve_trajectory(name_or_path)` takes either a file path or a shipped name
  (what `niljax reference --backend replay --trajectory a1-walk` does).
- `asset_path()` -> this folder: the robot registry's `kind = "package"` source reads
  `models/unitree_a1/unitree_a1_torque.xml` from it (robots/a1.toml), so `load_robot("a1")` works offline.
- `locomujoco_file("models/unitree_h1/h1.xml")` -> a file in LocoMuJoCo's layout from the first place that has it:
  the folders a caller names, `$NILJAX_LOCOMUJOCO`, the download cache `~/.cache/niljax/locomujoco` (filled by
  `python -m niljax.data.fetch`), then the shipped files (the four walks under their LocoMuJoCo file names, and
  A1's model). A file in none of them: FileNotFoundError naming the places tried and the command that brings it.
- `spec_folder("robots" | "skills")` -> where the registry's TOML specs live: the copy a wheel carries
  (`specs/<kind>` here, put there by setup.py's build step from the top-level `robots/` and `skills/`), else
  the source checkout's top-level folder (editable installs, running from the repository).

Provenance, licence and what was cut: NOTICE.md beside this file; the files are rebuilt from a LocoMuJoCo copy
by scripts/make_shipped_data.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

__all__ = ["FETCH_COMMAND", "MOCAP", "MocapClip", "asset_path", "locomujoco_dirs", "locomujoco_file", "mocap_names",
           "mocap_path", "resolve_trajectory", "spec_folder"]

FETCH_COMMAND = "python -m niljax.data.fetch"  # brings LocoMuJoCo's H1 / G1 / Talos models (niljax/data/fetch.py)


@dataclass(frozen=True)
class MocapClip:
    """One shipped walk: its file under `mocap/`, the robot (registry name) it was retargeted to, its frame
    rate, and the LocoMuJoCo model its joint names match (`models/<...>` in LocoMuJoCo's layout)."""

    file: str
    source: str  # the LocoMuJoCo file it was cut from (datasets/<name>.npz)
    robot: str
    fps: float
    locomujoco_model: str
    description: str


MOCAP: dict[str, MocapClip] = {
    "a1-walk": MocapClip("a1-walk.npz", "datasets/walk_straight_UnitreeA1.npz", "a1", 500.0, "models/unitree_a1/unitree_a1_torque.xml",
                         "Unitree A1 walking straight, 1 s (first take of LocoMuJoCo's walk_straight_UnitreeA1)"),
    "h1-walk": MocapClip("h1-walk.npz", "datasets/02-constspeed_UnitreeH1.npz", "h1", 500.0, "models/unitree_h1/h1.xml",
                         "Unitree H1 walking at constant speed, 1 s (LocoMuJoCo 02-constspeed_UnitreeH1)"),
    "g1-walk": MocapClip("g1-walk.npz", "datasets/02-constspeed_UnitreeG1.npz", "g1", 500.0, "models/unitree_g1/g1.xml",
                         "Unitree G1 walking at constant speed, 1 s (LocoMuJoCo 02-constspeed_UnitreeG1)"),
    "talos-walk": MocapClip("talos-walk.npz", "datasets/02-constspeed_TALOS.npz", "talos", 500.0, "models/talos/talos.xml",
                            "Talos walking at constant speed, 1 s (LocoMuJoCo 02-constspeed_TALOS)"),
}


def asset_path() -> Path:
    """The folder of the shipped data (the registry's `package` sources are relative to it)."""
    return Path(__file__).resolve().parent


def spec_folder(kind: str) -> Path:
    """The folder of the `kind` ("robots" | "skills") TOML specs shipped with this install: the wheel's copy
    under `specs/`, else the source checkout's `<repo>/<kind>` (which a wheel does not have)."""
    if kind not in ("robots", "skills"):
        raise ValueError(f"spec folder kind must be 'robots' or 'skills', got {kind!r}")
    installed = asset_path() / "specs" / kind
    return installed if installed.is_dir() else asset_path().parents[1] / kind


def mocap_names() -> list[str]:
    """Names of the shipped walks, sorted."""
    return sorted(MOCAP)


def mocap_path(name: str) -> Path:
    """The `.npz` of the shipped walk `name`; ValueError naming the valid names for an unknown one,
    FileNotFoundError if the package was installed without its data (the message says how to reinstall)."""
    if name not in MOCAP:
        raise ValueError(f"unknown shipped trajectory {name!r}; shipped walks: {', '.join(mocap_names())}")
    path = asset_path() / "mocap" / MOCAP[name].file
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the shipped walk {name!r} is missing from this niljax install; "
                                "reinstall the package (`pip install --force-reinstall niljax` or "
                                "`bash scripts/setup.sh`)")
    return path


def resolve_trajectory(trajectory: str | Path) -> Path:
    """A trajectory argument as a file: an existing path is returned as is, a shipped walk's name (`a1-walk`)
    gives its file. Neither: FileNotFoundError naming both the path tried and the shipped names."""
    path = Path(trajectory).expanduser()
    if path.is_file():
        return path
    if str(trajectory) in MOCAP:
        return mocap_path(str(trajectory))
    raise FileNotFoundError(f"trajectory {str(trajectory)!r} is neither a file nor a shipped walk "
                            f"({', '.join(mocap_names())})")


def locomujoco_dirs() -> list[Path]:
    """Where LocoMuJoCo files are looked up after any folder a caller names: $NILJAX_LOCOMUJOCO if set, and
    the download cache `~/.cache/niljax/locomujoco` (where `python -m niljax.data.fetch` unpacks the models)."""
    env = os.environ.get("NILJAX_LOCOMUJOCO")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "niljax" / "locomujoco"
    return [Path(env).expanduser(), cache] if env else [cache]


def locomujoco_file(relative: str, *, search: Sequence[str | Path] = ()) -> Path:
    """The LocoMuJoCo file `relative` (its layout: `models/unitree_h1/h1.xml`, `datasets/<walk>.npz`) from the
    first of: the folders in `search`, `locomujoco_dirs()`, then what the package ships (A1's model under the
    same path; the walks under their source names, e.g. `datasets/walk_straight_UnitreeA1.npz` -> `a1-walk`,
    whose A1 file keeps the first take only). FileNotFoundError naming every place tried and the command that
    brings the file otherwise."""
    roots = [Path(p).expanduser() for p in search] + locomujoco_dirs()
    for root in roots:
        if (root / relative).is_file():
            return root / relative
    shipped = {clip.source: name for name, clip in MOCAP.items()}
    if relative in shipped:
        return mocap_path(shipped[relative])
    if (asset_path() / relative).is_file() and relative.startswith("models/"):
        return asset_path() / relative
    tried = ", ".join(str(r) for r in roots)
    bring = (f"`{FETCH_COMMAND}` downloads LocoMuJoCo's models (H1, G1, Talos) into {locomujoco_dirs()[-1]}"
             if relative.startswith("models/") else
             f"the shipped walks are {', '.join(mocap_names())} (`--trajectory NAME`)")
    raise FileNotFoundError(f"LocoMuJoCo file {relative} not found (looked in {tried} and the files niljax ships); "
                            f"{bring}, or pass the file's path explicitly (`--mjcf` / `--trajectory`).")
