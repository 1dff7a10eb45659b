"""Declarative robot specs: `RobotSpec` (frozen dataclass) read from `robots/<name>.toml`, and the registry.

Contract:
- A spec names *what* a robot is (asset sources, bodies, actuation, home pose, fall condition, follow camera,
  control rate, walking-metric targets); `niljax.robots.scene.load_robot` turns it into a compiled scene.
- Specs are found in `$NILJAX_ROBOTS_DIR` if set, else `<repo>/robots` next to the package's source checkout.
  `register_robot(spec)` adds user specs at run time (they shadow files of the same name).
- Per-model variants: a `[variants.<name>]` table with `detect_joint = "<joint name>"` is merged over the base
  spec when the resolved MJCF has that joint (e.g. the LocoMuJoCo models name their joints differently from
  menagerie's). Only the tables `bodies`, `actuation`, `home`, `fall`, `camera`, `metrics` can be overridden.
- Joint-keyed tables (`home.joints`, `actuation.kp`, `actuation.kd`, `actuation.torque_limit`,
  `actuation.action_scale`) map fnmatch patterns to numbers; the first matching pattern in file order wins,
  `"default"` matches anything that matched nothing else.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
from pathlib import Path
from typing import Any, Mapping

from niljax.data import spec_folder
from niljax.robots.registry import TomlRegistry

__all__ = [
    "AssetSource",
    "RobotNotFoundError",
    "RobotSpec",
    "RobotSpecError",
    "list_robots",
    "get_spec",
    "register_robot",
    "robots_dir",
    "spec_from_dict",
    "match_joint_value",
]

_OVERRIDABLE = ("bodies", "actuation", "home", "fall", "camera", "metrics")


class RobotNotFoundError(KeyError):
    """Unknown robot name; the message lists the registered names."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class RobotSpecError(ValueError):
    """A robot spec file is malformed (the message names the file and the field)."""


@dataclasses.dataclass(frozen=True)
class AssetSource:
    """One place to look for the robot's MJCF.

    kind: "package" (an importable asset package with `asset_path()`; `package` + relative `path`),
    "menagerie" (the `mujoco_menagerie` downloader; `name` + optional `entry`), or "path" (a file path,
    absolute or relative to the robots directory, e.g. our own `assets/toy_arm.xml`).
    """

    kind: str
    path: str = ""
    package: str = ""
    name: str = ""
    entry: str = ""

    def describe(self) -> str:
        """Human-readable one-liner used in error messages."""
        if self.kind == "package" and self.package.split(".")[0] == "niljax":
            return f"shipped with niljax (`{self.package}`) -> {self.path}"
        if self.kind == "package":
            return f"PyPI asset package `{self.package}` -> {self.path}"
        if self.kind == "menagerie":
            return f"mujoco-menagerie `{self.name}`" + (f" (entry {self.entry})" if self.entry else "")
        return f"file {self.path}"


@dataclasses.dataclass(frozen=True)
class RobotSpec:
    """Everything niljax needs to know about one robot (see docs/robots.md for every field).

    Tables are kept as plain (read-only by convention) dicts so specs stay a faithful mirror of the TOML.
    """

    name: str
    description: str
    morphology: str  # "humanoid" | "quadruped" | "arm" | ...
    sources: tuple[AssetSource, ...]
    control_hz: float = 100.0
    sim_dt: float = 0.005
    solver_iterations: int = 4
    ls_iterations: int = 8
    integrator: str = "implicitfast"  # "implicitfast" | "euler"
    bodies: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # root, torso, head, feet, head_offset
    actuation: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # mode, kp, kd, torque_limit, ...
    home: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # root_height ("auto"|float), joints
    fall: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # enabled, min_root_height, max_tilt_deg
    camera: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # distance, height, azimuth, ...
    metrics: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # walk_target_speed, stand_height
    variants: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    origin: str = "<code>"  # file the spec came from

    @property
    def fixed_base(self) -> bool:
        """True for robots bolted to the world (no root joint, no fall termination)."""
        return bool(self.bodies.get("fixed_base", False))

    def with_variant(self, joint_names: set[str]) -> "RobotSpec":
        """The spec with every variant whose `detect_joint` is among `joint_names` merged in."""
        spec = self
        for vname, var in self.variants.items():
            if var.get("detect_joint") in joint_names:
                updates = {}
                for key in _OVERRIDABLE:
                    if key in var:
                        merged = dict(getattr(spec, key))
                        merged.update(copy.deepcopy(var[key]))
                        updates[key] = merged
                spec = dataclasses.replace(spec, **updates)
        return spec

    @property
    def n_substeps(self) -> int:
        """Physics steps per control step (control_dt / sim_dt, must be an integer)."""
        return int(round(1.0 / (self.control_hz * self.sim_dt)))


def match_joint_value(table: Mapping[str, Any], joint: str, default: Any = None) -> Any:
    """Value for `joint` from a pattern table: first fnmatch hit in insertion order, else "default", else
    `default`."""
    for pat, val in table.items():
        if pat != "default" and fnmatch.fnmatchcase(joint, pat):
            return val
    return table.get("default", default)


def spec_from_dict(raw: Mapping[str, Any], origin: str = "<dict>") -> RobotSpec:
    """Validate a parsed TOML table and build a `RobotSpec`; raises RobotSpecError naming the bad field."""

    def need(key: str, typ: type | tuple[type, ...]) -> Any:
        if key not in raw:
            raise RobotSpecError(f"{origin}: missing required field `{key}`")
        if not isinstance(raw[key], typ):
            raise RobotSpecError(f"{origin}: field `{key}` must be {typ}, got {type(raw[key]).__name__}")
        return raw[key]

    name = need("name", str)
    srcs = []
    for i, s in enumerate(need("sources", list)):
        kind = s.get("kind")
        if kind not in ("package", "menagerie", "path"):
            raise RobotSpecError(f"{origin}: sources[{i}].kind must be package|menagerie|path, got {kind!r}")
        srcs.append(AssetSource(kind=kind, path=s.get("path", ""), package=s.get("package", ""),
                                name=s.get("name", ""), entry=s.get("entry", "")))
    bodies = dict(raw.get("bodies", {}))
    if "root" not in bodies:
        raise RobotSpecError(f"{origin}: [bodies] needs `root`")
    act = dict(raw.get("actuation", {}))
    mode = act.setdefault("mode", "pd")
    if mode not in ("pd", "torque"):
        raise RobotSpecError(f"{origin}: actuation.mode must be 'pd' or 'torque', got {mode!r}")
    spec = RobotSpec(
        name=name,
        description=raw.get("description", ""),
        morphology=raw.get("morphology", "unknown"),
        sources=tuple(srcs),
        control_hz=float(raw.get("control_hz", 100.0)),
        sim_dt=float(raw.get("sim_dt", 0.005)),
        solver_iterations=int(raw.get("solver_iterations", 4)),
        ls_iterations=int(raw.get("ls_iterations", 8)),
        integrator=str(raw.get("integrator", "implicitfast")),
        bodies=bodies,
        actuation=act,
        home=dict(raw.get("home", {})),
        fall=dict(raw.get("fall", {})),
        camera=dict(raw.get("camera", {})),
        metrics=dict(raw.get("metrics", {})),
        variants=dict(raw.get("variants", {})),
        origin=origin,
    )
    if spec.integrator not in ("implicitfast", "euler"):
        raise RobotSpecError(f"{origin}: integrator must be 'implicitfast' or 'euler', got {spec.integrator!r}")
    ratio = 1.0 / (spec.control_hz * spec.sim_dt)
    if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
        raise RobotSpecError(f"{origin}: 1/(control_hz*sim_dt) = {ratio:.4f} must be a positive integer")
    return spec


_REGISTRY: TomlRegistry[RobotSpec] = TomlRegistry(
    "robot", "NILJAX_ROBOTS_DIR", spec_folder("robots"), RobotSpec, spec_from_dict,
    RobotNotFoundError, RobotSpecError, "niljax.robots.register_robot")


def robots_dir() -> Path:
    """The folder holding `<name>.toml` specs: $NILJAX_ROBOTS_DIR, else the shipped ones (`<repo>/robots`)."""
    return _REGISTRY.folder()


def register_robot(spec: RobotSpec | Mapping[str, Any]) -> RobotSpec:
    """Register a user spec (a `RobotSpec` or a dict shaped like the TOML); it shadows a file of that name."""
    return _REGISTRY.register(spec)


def list_robots() -> list[str]:
    """Names of every registered robot (spec files + `register_robot`), sorted."""
    return _REGISTRY.names()


def get_spec(name: str) -> RobotSpec:
    """The spec called `name`; RobotNotFoundError listing the known names otherwise."""
    return _REGISTRY.get(name)


def robots_fitting_joints(joint_names: list[str]) -> list[tuple[str, str | None]]:
    """Registered robots (and joint namings: None = the base model's, else a `[variants.<name>]`) whose
    signature fits `joint_names`: every home-pose joint pattern matches some name and the variant's
    `detect_joint` is among them. Only the best-fitting (most patterns) are returned. Reads the robot specs
    only, no model files, so it also names robots whose model is not on this machine.
    """
    names = set(joint_names)
    scored = []
    for robot in list_robots():
        spec = get_spec(robot)
        namings = [(None, dict(spec.home.get("joints", {})), None)]
        namings += [(vname, dict(var.get("home", {}).get("joints", {})), var.get("detect_joint"))
                    for vname, var in spec.variants.items()]
        for naming, patterns, detect in namings:
            patterns = [pat for pat in patterns if pat != "default"]
            signals = len(patterns) + (detect is not None)
            if signals == 0 or (detect is not None and detect not in names):
                continue
            if all(fnmatch.filter(names, pat) for pat in patterns):
                scored.append((signals, robot, naming))
    best = max((score for score, _, _ in scored), default=0)
    return [(robot, naming) for score, robot, naming in scored if score == best]
