"""Robot registry and scene builder.

- `RobotSpec` / `list_robots()` / `get_spec(name)` / `register_robot(spec)`: declarative specs from
  `robots/<name>.toml` (or `$NILJAX_ROBOTS_DIR`).
- `resolve_asset(spec, mjcf_path=None)`: explicit path -> offline PyPI asset packages -> mujoco-menagerie.
- `load_robot(name | spec, *, mjcf_path=None, collisions="feet", plain_background=False) -> RobotScene`:
  MjSpec scene with floor, lights, a `follow` camera (track mode) and MJX-friendly collisions.
Errors: `RobotNotFoundError` (unknown name; lists the known ones), `AssetNotFoundError` (lists sources tried).
"""

from niljax.robots.assets import AssetNotFoundError, resolve_asset
from niljax.robots.scene import COLLISION_MODES, FOLLOW_CAMERA, RobotScene, describe, load_robot
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
    "AssetNotFoundError", "AssetSource", "COLLISION_MODES", "FOLLOW_CAMERA", "RobotNotFoundError", "RobotScene",
    "RobotSpec", "RobotSpecError", "describe", "get_spec", "list_robots", "load_robot", "register_robot",
    "resolve_asset", "robots_dir", "spec_from_dict",
]
