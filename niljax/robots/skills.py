"""Declarative skill specs: `SkillSpec` (frozen dataclass) read from `skills/<name>.toml`, and the registry.

A skill is what a robot is asked to do, beside the robot registry and added the same way (one TOML file):
scene objects (a chair, a bar, a balance board), the start pose, the task (success predicate + hand-designed
task reward, both picked by `task.kind`), the Stage-1 prompt template, scripted keyframes (the offline
replay reference), and optional overrides of the robot's action scale and fall condition. Walking is the entry
with no objects.

Contract:
- Specs are found in `$NILJAX_SKILLS_DIR` if set, else `<repo>/skills`; `register_skill(spec | dict)` adds one
  at run time (it shadows a file of the same name). Unknown names raise `SkillNotFoundError` listing the
  registered ones; malformed files raise `SkillSpecError` naming the file and the field.
- Lengths in a skill file (object sizes and offsets, collider sizes, start `root_offset`) are for a robot whose
  home root height is `reference_root_height` (H1's, 0.98 m) and are scaled by the robot's own home root height
  (`niljax.robots.skill_scene`); object *positions* are offsets from anchor points computed from the robot's
  start / final keyframe poses, so the same file fits H1 and G1.
- Joint-keyed tables (`start.joints`, `keyframes[].joints`, `actuation.action_scale`) use the robot spec's
  fnmatch pattern rules (`match_joint_value`): first matching pattern in file order wins.
- `task.kind` names a predicate/reward family of `niljax.sim.skills` (checked when the env is built, the sim
  stage owns them): "walking" | "seated" | "hanging" | "balanced".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from niljax.data import spec_folder
from niljax.robots.registry import TomlRegistry

__all__ = [
    "ANCHORS",
    "OBJECT_TYPES",
    "ROOT_MODES",
    "SkillNotFoundError",
    "SkillSpec",
    "SkillSpecError",
    "get_skill",
    "list_skills",
    "register_skill",
    "skill_from_dict",
    "skills_dir",
]

ANCHORS = ("world", "root_start", "root_end", "feet_start", "hands_start", "colliders_end")
OBJECT_TYPES = ("box", "capsule", "sphere", "cylinder")
ROOT_MODES = ("fixed", "feet")
_ROLES = ("seat", "bar", "board", "")


class SkillNotFoundError(KeyError):
    """Unknown skill name; the message lists the registered names."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class SkillSpecError(ValueError):
    """A skill spec file is malformed (the message names the file and the field)."""


@dataclasses.dataclass(frozen=True)
class SkillSpec:
    """One skill (see docs/skills.md for every field). Tables stay plain dicts, mirroring the TOML."""

    name: str
    description: str
    prompt: str  # Stage-1 prompt template; `{robot}` is replaced by the robot's label
    task: Mapping[str, Any]  # kind, min_duration_s, and the kind's parameters
    objects: tuple[Mapping[str, Any], ...] = ()
    colliders: tuple[Mapping[str, Any], ...] = ()  # invisible robot-attached contact proxies
    start: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # joints, root_offset
    keyframes: tuple[Mapping[str, Any], ...] = ()  # t (s), joints
    root_mode: str = "feet"  # how the keyframe reference moves the root: "feet" planted | "fixed"
    grasp: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # kind = "connect", object = <name>
    actuation: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # action_scale pattern table
    fall: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # overrides of the robot's [fall]
    camera: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # static camera: anchor, pos, look_at
    reference_root_height: float = 0.98
    origin: str = "<code>"

    @property
    def duration_s(self) -> float:
        """Length of the scripted keyframe motion (its last keyframe's time), 0 without keyframes."""
        return float(self.keyframes[-1]["t"]) if self.keyframes else 0.0

    def format_prompt(self, robot: str) -> str:
        """The Stage-1 prompt for `robot` (e.g. "The H1 agent is sitting on a chair, camera follows the agent.")."""
        return self.prompt.replace("{robot}", robot)


def _vec(raw: Mapping[str, Any], key: str, n: int | tuple[int, ...], origin: str, where: str,
         default: Any = None) -> list[float]:
    val = raw.get(key, default)
    ns = (n,) if isinstance(n, int) else n
    if not isinstance(val, (list, tuple)) or len(val) not in ns or not all(isinstance(x, (int, float)) for x in val):
        raise SkillSpecError(f"{origin}: {where}.{key} must be a list of {' or '.join(map(str, ns))} numbers, "
                             f"got {val!r}")
    return [float(x) for x in val]


def skill_from_dict(raw: Mapping[str, Any], origin: str = "<dict>") -> SkillSpec:
    """Validate a parsed TOML table and build a `SkillSpec`; raises SkillSpecError naming the bad field."""
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise SkillSpecError(f"{origin}: missing required string field `name`")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or "{robot}" not in prompt:
        raise SkillSpecError(f"{origin}: `prompt` must be a string containing {{robot}}, got {prompt!r}")
    task = dict(raw.get("task", {}))
    if not isinstance(task.get("kind"), str):
        raise SkillSpecError(f"{origin}: [task] needs `kind` (walking | seated | hanging | balanced)")
    if not float(task.setdefault("min_duration_s", 1.0)) > 0:
        raise SkillSpecError(f"{origin}: task.min_duration_s must be positive, got {task['min_duration_s']}")
    names = set()
    objects = []
    for i, obj in enumerate(raw.get("objects", [])):
        where = f"objects[{i}]"
        obj = dict(obj)
        if not isinstance(obj.get("name"), str) or obj["name"] in names:
            raise SkillSpecError(f"{origin}: {where}.name must be a unique string, got {obj.get('name')!r}")
        names.add(obj["name"])
        if obj.get("type") not in OBJECT_TYPES:
            raise SkillSpecError(f"{origin}: {where}.type must be one of {OBJECT_TYPES}, got {obj.get('type')!r}")
        if obj.setdefault("anchor", "world") not in ANCHORS:
            raise SkillSpecError(f"{origin}: {where}.anchor must be one of {ANCHORS}, got {obj['anchor']!r}")
        if obj.setdefault("role", "") not in _ROLES:
            raise SkillSpecError(f"{origin}: {where}.role must be one of {_ROLES[:-1]} or absent, got {obj['role']!r}")
        obj["size"] = _vec(obj, "size", (1, 2, 3), origin, where)
        obj["pos"] = _vec(obj, "pos", 3, origin, where, [0.0, 0.0, 0.0])
        obj["euler"] = _vec(obj, "euler", 3, origin, where, [0.0, 0.0, 0.0])
        if "rgba" in obj:
            obj["rgba"] = _vec(obj, "rgba", 4, origin, where)
        joint = obj.get("joint")
        if joint is not None:
            if joint.get("type") != "hinge":
                raise SkillSpecError(f"{origin}: {where}.joint.type must be 'hinge', got {joint.get('type')!r}")
            joint = dict(joint, axis=_vec(joint, "axis", 3, origin, where + ".joint"),
                         pos=_vec(joint, "pos", 3, origin, where + ".joint", [0.0, 0.0, 0.0]))
            if "range" in joint:
                joint["range"] = _vec(joint, "range", 2, origin, where + ".joint")
            obj["joint"] = joint
        objects.append(obj)
    colliders = []
    for i, col in enumerate(raw.get("colliders", [])):
        where = f"colliders[{i}]"
        col = dict(col)
        if col.get("type") not in ("sphere", "capsule", "box"):
            raise SkillSpecError(f"{origin}: {where}.type must be sphere | capsule | box, got {col.get('type')!r}")
        if not isinstance(col.get("body"), str):
            raise SkillSpecError(f"{origin}: {where}.body must be 'root', 'torso' or a body name")
        col["size"] = _vec(col, "size", (1, 2, 3), origin, where)
        col["pos"] = _vec(col, "pos", 3, origin, where, [0.0, 0.0, 0.0])
        colliders.append(col)
    start = dict(raw.get("start", {}))
    start["root_offset"] = _vec(start, "root_offset", 3, origin, "start", [0.0, 0.0, 0.0])
    keyframes = []
    last_t = -1.0
    for i, kf in enumerate(raw.get("keyframes", [])):
        t = kf.get("t")
        if not isinstance(t, (int, float)) or t <= last_t or (i == 0 and t != 0):
            raise SkillSpecError(f"{origin}: keyframes[{i}].t must increase from 0, got {t!r}")
        last_t = float(t)
        keyframes.append(dict(kf, t=float(t), joints=dict(kf.get("joints", {}))))
    if len(keyframes) == 1:
        raise SkillSpecError(f"{origin}: a keyframe motion needs at least 2 keyframes")
    root_mode = raw.get("root_mode", "feet")
    if root_mode not in ROOT_MODES:
        raise SkillSpecError(f"{origin}: root_mode must be one of {ROOT_MODES}, got {root_mode!r}")
    grasp = dict(raw.get("grasp", {}))
    if grasp:
        if grasp.get("kind") != "connect":
            raise SkillSpecError(f"{origin}: grasp.kind must be 'connect', got {grasp.get('kind')!r}")
        if grasp.get("object") not in names:
            raise SkillSpecError(f"{origin}: grasp.object must name one of the objects {sorted(names)}")
    camera = dict(raw.get("camera", {}))
    if camera:
        if camera.setdefault("anchor", "root_start") not in ANCHORS:
            raise SkillSpecError(f"{origin}: camera.anchor must be one of {ANCHORS}, got {camera['anchor']!r}")
        camera["pos"] = _vec(camera, "pos", 3, origin, "camera")
        camera["look_at"] = _vec(camera, "look_at", 3, origin, "camera", [0.0, 0.0, 0.0])
    return SkillSpec(
        name=name, description=str(raw.get("description", "")), prompt=prompt, task=task,
        objects=tuple(objects), colliders=tuple(colliders), start=start, keyframes=tuple(keyframes),
        root_mode=root_mode, grasp=grasp, actuation=dict(raw.get("actuation", {})), fall=dict(raw.get("fall", {})),
        camera=camera, reference_root_height=float(raw.get("reference_root_height", 0.98)), origin=origin)


_REGISTRY: TomlRegistry[SkillSpec] = TomlRegistry(
    "skill", "NILJAX_SKILLS_DIR", spec_folder("skills"), SkillSpec, skill_from_dict,
    SkillNotFoundError, SkillSpecError, "niljax.robots.register_skill")


def skills_dir() -> Path:
    """The folder holding `<name>.toml` skill specs: $NILJAX_SKILLS_DIR, else the shipped ones (`<repo>/skills`)."""
    return _REGISTRY.folder()


def register_skill(spec: SkillSpec | Mapping[str, Any]) -> SkillSpec:
    """Register a user skill (a `SkillSpec` or a dict shaped like the TOML); it shadows a file of that name."""
    return _REGISTRY.register(spec)


def list_skills() -> list[str]:
    """Names of every registered skill (spec files + `register_skill`), sorted."""
    return _REGISTRY.names()


def get_skill(name: str) -> SkillSpec:
    """The skill called `name`; SkillNotFoundError listing the known names otherwise."""
    return _REGISTRY.get(name)
