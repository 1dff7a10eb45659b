"""Robot registry and scene builder.

- `RobotSpec` / `list_robots()` / `get_spec(name)` / `register_robot(spec)`: declarative specs from
  `robots/<name>.toml` (or `$NILJAX_ROBOTS_DIR`).
- `resolve_asset(spec, mjcf_path=None)`: explicit path -> offline PyPI asset packages -> mujoco-menagerie.
- `load_robot(name | spec, *, mjcf_path=None, collisions="feet", plain_background=False) -> RobotScene`:
  MjSpec scene with floor, lights, a `follow` camera (track mode) and MJX-friendly collisions.
- Skills (`skills/<name>.toml` or `$NILJAX_SKILLS_DIR`): `list_skills()` / `get_skill(name)` / `register_skill`;
  `load_skill_scene(robot, skill, **load_robot_kwargs) -> SkillScene` adds the skill's objects, start pose,
  grasp and `static` camera (docs/skills.md).
Errors: `RobotNotFoundError` (unknown name; lists the known ones), `AssetNotFoundError` (lists sources tried).
"""

from niljax.robots.assets import AssetNotFoundError, resolve_asset
from niljax.robots.scene import COLLISION_MODES, FOLLOW_CAMERA, RobotScene, camera_index, describe, load_robot
from niljax.robots.skill_scene import STATIC_CAMERA, SkillScene, keyframe_qpos, load_skill_scene
from niljax.robots.skills import (
    SkillNotFoundError,
    SkillSpec,
    SkillSpecError,
    get_skill,
    list_skills,
    register_skill,
    skill_from_dict,
    skills_dir,
)
from niljax.robots.spec import (
    AssetSource,
    RobotNotFoundError,
    RobotSpec,
    RobotSpecError,
    get_spec,
    list_robots,
    register_robot,
    robots_dir,
    spec_from_dict,
)

__all__ = [
    "COLLISION_MODES",
    "FOLLOW_CAMERA",
    # skills (scene objects, start pose, task, prompt; `skills/<name>.toml`)
    "STATIC_CAMERA",
    "AssetNotFoundError",
    "AssetSource",
    "RobotNotFoundError",
    "RobotScene",
    "RobotSpec",
    "RobotSpecError",
    "SkillNotFoundError",
    "SkillScene",
    "SkillSpec",
    "SkillSpecError",
    "camera_index",
    "describe",
    "get_skill",
    "get_spec",
    "keyframe_qpos",
    "list_robots",
    "list_skills",
    "load_robot",
    "load_skill_scene",
    "register_robot",
    "register_skill",
    "resolve_asset",
    "robots_dir",
    "skill_from_dict",
    "skills_dir",
    "spec_from_dict",
]
