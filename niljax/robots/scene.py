"""Scene builder: robot MJCF -> `RobotScene` (floor, lights, `follow` camera, MJX-friendly collisions).

Contract:
- `load_robot(name | RobotSpec, *, mjcf_path=None, collisions="feet", plain_background=False, fovy=None)`
  resolves the asset (`niljax.robots.assets`), edits it with `mujoco.MjSpec` and compiles it once, on the host.
- What the builder strips from the source MJCF (robustly, whatever it carries): geoms attached directly to the
  world body (floors), every light and camera, sensors, keyframes, explicit contact pairs and every actuator.
  Actuators are rebuilt from the spec: one per actuated joint, a `position` actuator (kp/kd, force-limited)
  for `actuation.mode = "pd"` or a `motor` (ctrlrange = +-torque limit) for `"torque"`. Torque limits default
  to what the source model's actuators allowed (forcerange, or gear x ctrlrange).
- Collisions: `"feet"` (default) - only collision geoms in the feet bodies' subtrees touch the floor (falls back
  to `"floor"` when the feet have no collision geoms); `"floor"` - every robot collision geom vs the floor, no
  self-collision; `"full"` - the model's own contype/conaffinity plus the floor (MJX impl='jax' may refuse it;
  impl='warp' accepts more). In every mode the floor is geom `floor` and always collides.
- Camera `follow`: attached to the root body, `mjCAMLIGHT_TRACK` (fixed world offset and heading from the
  root): placed at `distance` from the root, at `azimuth` degrees counter-clockwise from world +x (so -90 is on
  the robot's right, looking along +y at a robot walking along +x), `height` metres above the root, looking at
  the root raised by `look_height`.
- Root kinds: "free" (free joint), "slides" (LocoMuJoCo-style named slide/hinge joints on the root body),
  "fixed" (no root joint). Root pose must be read from `xpos/xquat[root_body]`, never from `qpos[0:7]`.
- Home pose: `home.joints` patterns (others 0, clipped to joint ranges); `home.root_height = "auto"` lowers or
  raises the root so the lowest floor-colliding geom (its bounding box) touches the floor.
All arrays in `RobotScene` are numpy, host-side; the env turns what it needs into jax constants.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from pathlib import Path
from typing import Any

import mujoco
import numpy as np

from niljax.robots.assets import resolve_asset
from niljax.robots.spec import RobotSpec, get_spec, match_joint_value

__all__ = ["RobotScene", "load_robot", "COLLISION_MODES", "FOLLOW_CAMERA"]

COLLISION_MODES = ("feet", "floor", "full")
FOLLOW_CAMERA = "follow"
_FREE, _SLIDE, _HINGE = (int(mujoco.mjtJoint.mjJNT_FREE), int(mujoco.mjtJoint.mjJNT_SLIDE),
                        int(mujoco.mjtJoint.mjJNT_HINGE))


@dataclasses.dataclass(frozen=True, eq=False)
class RobotScene:
    """A compiled robot scene plus the index arrays the env / renderer / reward need (all host numpy).

    Shapes: nu = number of actuated joints (= mj_model.nu), n_feet = len(feet_body_ids), ngeom = mj_model.ngeom.
    """

    spec: RobotSpec  # the spec actually used (variant merged)
    mjspec: mujoco.MjSpec  # the edited MjSpec (recompile after further edits)
    mj_model: mujoco.MjModel
    asset_path: Path
    asset_source: str
    collisions: str  # the mode in effect ("feet" may fall back to "floor")
    root_kind: str  # "free" | "slides" | "fixed"
    root_body_id: int
    torso_body_id: int
    head_body_id: int
    head_offset: np.ndarray  # f64[3] point in the head body frame whose height is "head height"
    feet_body_ids: np.ndarray  # int32[n_feet]
    feet_names: tuple[str, ...]
    geom_foot_index: np.ndarray  # int32[ngeom]: foot index of floor-colliding foot geoms, -1 otherwise
    floor_geom_id: int
    camera_id: int
    robot_geom_mask: np.ndarray  # bool[ngeom]: geoms in the root body's subtree (not the floor)
    joint_names: tuple[str, ...]  # actuated joints, actuator order
    joint_qpos_adr: np.ndarray  # int32[nu]
    joint_qvel_adr: np.ndarray  # int32[nu]
    joint_range: np.ndarray  # f32[nu,2] (-inf, inf when unlimited)
    home_qpos: np.ndarray  # f64[nq]
    home_ctrl: np.ndarray  # f32[nu] PD targets at home (zeros for torque mode)
    action_scale: np.ndarray  # f32[nu] rad (pd) or fraction of torque limit (torque, then 1.0)
    torque_limit: np.ndarray  # f32[nu]
    ctrl_range: np.ndarray  # f32[nu,2]
    control_dt: float
    n_substeps: int

    @property
    def name(self) -> str:
        """Robot name."""
        return self.spec.name

    @property
    def nu(self) -> int:
        """Action dimension."""
        return int(self.mj_model.nu)

    @property
    def n_feet(self) -> int:
        """Number of feet bodies."""
        return int(len(self.feet_body_ids))

    def model_fingerprint(self) -> str:
        """sha256 (16 hex digits) of what the robot looks like and how it moves: its bodies' tree and poses,
        joints, and the type, size and pose of every robot geom. The same MJCF gives the same fingerprint on
        any machine; another model of "the same" robot (e.g. menagerie's H1 vs LocoMuJoCo's) does not. Reference
        bundles record it so that training on a different model is caught."""
        import hashlib

        m = self.mj_model
        robot = np.nonzero(self.robot_geom_mask)[0]
        h = hashlib.sha256()
        for arr in (m.body_parentid, m.body_pos, m.body_quat, m.jnt_type, m.jnt_axis, m.jnt_bodyid,
                    m.geom_type[robot], m.geom_size[robot], m.geom_pos[robot], m.geom_quat[robot],
                    m.geom_bodyid[robot]):
            h.update(np.ascontiguousarray(np.round(np.asarray(arr, np.float64), 6)).tobytes())
        h.update(" ".join(m.body(i).name for i in range(m.nbody)).encode())
        return h.hexdigest()[:16]

    def to_xml(self) -> str:
        """The edited scene as MJCF text (for debugging; mesh paths stay relative to the source folder)."""
        return self.mjspec.to_xml()


def camera_index(model: mujoco.MjModel, name: str) -> int:
    """Index of the camera called `name` in `model`; ValueError naming the model's cameras otherwise.

    The one check of a camera name, shared by every command that takes one (a view's CAMERA in `niljax train` /
    `plan` / `landscape` `--render.camera` / `--render.views`, `niljax reference --camera` / `--views`), so an
    unknown camera is refused the same way everywhere, with the names that would work."""
    cid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, str(name))
    if cid < 0:
        names = [model.camera(i).name for i in range(model.ncam) if model.camera(i).name]
        raise ValueError(f"unknown camera {name!r}: this scene's cameras are {', '.join(names) or '(none)'} (a view "
                         f"is CAMERA or CAMERA@AZIMUTH_DEGREES, e.g. {FOLLOW_CAMERA} or {FOLLOW_CAMERA}@90)")
    return int(cid)


def _subtree(model: mujoco.MjModel, root: int) -> np.ndarray:
    """bool[nbody]: bodies in the subtree of `root` (including it)."""
    inside = np.zeros(model.nbody, bool)
    inside[root] = True
    for b in range(root + 1, model.nbody):  # parents precede children in MuJoCo's body order
        inside[b] = inside[model.body_parentid[b]]
    return inside


def _body_id(model: mujoco.MjModel, name: str, what: str, spec: RobotSpec) -> int:
    bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    if bid < 0:
        names = [model.body(i).name for i in range(model.nbody)]
        raise ValueError(f"robot {spec.name!r}: {what} body {name!r} not in the model; bodies: {names}")
    return bid


def _look_at_quat(offset: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World quaternion of a camera at `offset` looking at `target` (camera looks along -z, y up)."""
    f = target - offset
    f = f / np.linalg.norm(f)
    x = np.cross(f, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-6:  # looking straight down/up
        x = np.array([1.0, 0.0, 0.0])
    x = x / np.linalg.norm(x)
    y = np.cross(x, f)
    mat = np.stack([x, y, -f], axis=1)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat.reshape(-1))
    return quat


def load_robot(
    robot: str | RobotSpec,
    *,
    mjcf_path: str | Path | None = None,
    collisions: str = "feet",
    plain_background: bool = False,
    fovy: float | None = None,
) -> RobotScene:
    """Resolve, edit and compile a robot scene. See the module docstring for what is built.

    Args:
      robot: registered name (see `list_robots()`) or a `RobotSpec`.
      mjcf_path: explicit MJCF file; skips the spec's sources.
      collisions: "feet" | "floor" | "full".
      plain_background: floor invisible (rgba alpha 0, group 3) but still colliding; no skybox.
      fovy: follow-camera vertical field of view in degrees (default: the spec's, else 45).
    Raises:
      RobotNotFoundError, AssetNotFoundError, ValueError (bad collisions mode, names missing from the model).
    """
    if collisions not in COLLISION_MODES:
        raise ValueError(f"collisions must be one of {COLLISION_MODES}, got {collisions!r}")
    spec = get_spec(robot) if isinstance(robot, str) else robot
    path, source = resolve_asset(spec, mjcf_path)
    try:
        ms = mujoco.MjSpec.from_file(str(path))
    except ValueError as err:  # MuJoCo's parse/compile errors never name the file that was read
        detail = " ".join(str(err).split())
        raise ValueError(f"robot {spec.name!r}: cannot load the MJCF file {path} ({source}): {detail}") from err
    spec = spec.with_variant({j.name for j in ms.joints})

    # --- strip what we never keep (sensors/pairs/keys may reference the source's own floor) ---
    for coll in (ms.sensors, ms.keys, ms.pairs):
        for el in list(coll):
            ms.delete(el)
    # --- what the source model's actuators allowed (compiled values resolve defaults) ---
    try:
        m_src = ms.compile()
    except ValueError as err:
        detail = " ".join(str(err).split())
        raise ValueError(f"robot {spec.name!r}: the MJCF file {path} ({source}) does not compile: {detail}") from err
    src_limits: dict[str, float | None] = {}
    for a in range(m_src.nu):
        if int(m_src.actuator_trntype[a]) != int(mujoco.mjtTrn.mjTRN_JOINT):
            continue
        jname = m_src.joint(m_src.actuator_trnid[a, 0]).name
        jid = m_src.actuator_trnid[a, 0]
        is_motor = int(m_src.actuator_biastype[a]) == int(mujoco.mjtBias.mjBIAS_NONE)
        if m_src.actuator_forcelimited[a]:
            lim = float(np.max(np.abs(m_src.actuator_forcerange[a])))
        elif m_src.jnt_actfrclimited[jid]:
            lim = float(np.max(np.abs(m_src.jnt_actfrcrange[jid])))
        elif is_motor:  # a motor's ctrlrange x gear bounds its torque; a servo's ctrlrange is a position
            gear = abs(float(m_src.actuator_gear[a, 0]))
            crange = np.abs(m_src.actuator_ctrlrange[a]).max() if m_src.actuator_ctrllimited[a] else 1.0
            lim = gear * float(crange)
        else:
            lim = None  # unknown: the spec's torque_limit table must provide it (else 100 N m)
        src_limits[jname] = lim
    src_actuated = list(src_limits)

    # --- strip what we rebuild ---
    for g in [g for g in ms.geoms if g.parent.name == "world" or g.parent == ms.worldbody]:
        ms.delete(g)
    for coll in (ms.lights, ms.cameras, ms.actuators):
        for el in list(coll):
            ms.delete(el)
    ms.option.timestep = spec.sim_dt
    ms.option.iterations = spec.solver_iterations
    ms.option.ls_iterations = spec.ls_iterations
    ms.option.cone = mujoco.mjtCone.mjCONE_PYRAMIDAL
    # implicitfast treats the PD servos' damping implicitly: stiff gains on light links stay stable at sim_dt.
    ms.option.integrator = {"euler": mujoco.mjtIntegrator.mjINT_EULER,
                            "implicitfast": mujoco.mjtIntegrator.mjINT_IMPLICITFAST}[spec.integrator]
    m0 = ms.compile()

    root_name = spec.bodies["root"]
    root_id = _body_id(m0, root_name, "root", spec)
    in_robot = _subtree(m0, root_id)
    root_jnts = [j for j in range(m0.njnt) if m0.jnt_bodyid[j] == root_id]
    if spec.fixed_base:
        root_kind = "fixed"
    elif any(m0.jnt_type[j] == _FREE for j in root_jnts):
        root_kind = "free"
    elif root_jnts:
        root_kind = "slides"
    else:
        raise ValueError(f"robot {spec.name!r}: root body {root_name!r} has no joint; set bodies.fixed_base = true "
                         "for a fixed-base robot")
    root_jnt_set = set(root_jnts) if root_kind != "fixed" else set()

    # --- actuated joints ---
    pats = spec.actuation.get("joints")
    cand = [m0.joint(j).name for j in range(m0.njnt)
            if j not in root_jnt_set and m0.jnt_type[j] in (_SLIDE, _HINGE) and in_robot[m0.jnt_bodyid[j]]]
    if pats:
        joints = [n for n in cand if any(fnmatch.fnmatchcase(n, p) for p in pats)]
    elif src_actuated:
        joints = [n for n in src_actuated if n in cand]
    else:
        joints = cand
    if not joints:
        raise ValueError(f"robot {spec.name!r}: no actuated joints found (model joints: {cand})")

    # --- collisions ---
    feet_names = tuple(spec.bodies.get("feet", ()))
    feet_ids = [_body_id(m0, f, "foot", spec) for f in feet_names]
    foot_of_body = np.full(m0.nbody, -1, np.int32)
    for i, fid in enumerate(feet_ids):
        foot_of_body[_subtree(m0, fid)] = i
    feet_geom_pats = spec.bodies.get("feet_geoms")
    is_coll = (m0.geom_contype | m0.geom_conaffinity) != 0
    # feet geoms: names matching `bodies.feet_geoms` (inside a foot subtree); when those match nothing (another
    # model of the same robot), the collision geoms in the feet subtrees.
    in_foot = foot_of_body[m0.geom_bodyid] >= 0
    geom_is_foot = np.array([in_foot[g] and any(fnmatch.fnmatchcase(m0.geom(g).name, p) for p in feet_geom_pats)
                             for g in range(m0.ngeom)], bool) if feet_geom_pats else np.zeros(m0.ngeom, bool)
    if not geom_is_foot.any():
        geom_is_foot = is_coll & in_foot
    mode = collisions
    if mode == "feet" and not geom_is_foot.any():
        mode = "floor"
    floor_colliders = []  # MjSpec geom elements that touch the floor (ids change once the floor is added)
    for g in ms.geoms:
        gid = g.id
        if mode == "full":
            on = bool(is_coll[gid])
        else:
            on = bool(geom_is_foot[gid] if mode == "feet" else is_coll[gid])
            g.contype, g.conaffinity = 0, (1 if on else 0)
        if on:
            floor_colliders.append(g)

    # --- floor, lights, sky ---
    floor = ms.worldbody.add_geom()
    floor.name = "floor"
    floor.type = mujoco.mjtGeom.mjGEOM_PLANE
    floor.size = [0.0, 0.0, 0.05]
    floor.contype, floor.conaffinity = 1, (1 if mode == "full" else 0)
    floor.condim = 3
    floor.friction = [1.0, 0.005, 0.0001]
    if plain_background:
        floor.rgba = [0.0, 0.0, 0.0, 0.0]
        floor.group = 3
    else:
        tex = ms.add_texture(name="niljax_grid", type=mujoco.mjtTexture.mjTEXTURE_2D,
                             builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                             rgb1=[0.82, 0.84, 0.86], rgb2=[0.62, 0.64, 0.68])
        mat = ms.add_material(name="niljax_floor", texrepeat=[8, 8], texuniform=True)
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = tex.name
        floor.material = mat.name
    sun = ms.worldbody.add_light()
    sun.name = "sun"
    sun.type = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
    sun.dir = [0.3, 0.2, -1.0]
    sun.pos = [0.0, 0.0, 5.0]
    sun.diffuse = [0.7, 0.7, 0.7]
    sun.castshadow = False

    # --- actuators ---
    mode_act = spec.actuation["mode"]
    kp_t, kd_t = spec.actuation.get("kp", {"default": 100.0}), spec.actuation.get("kd", {"default": 2.0})
    lim_t = spec.actuation.get("torque_limit", {})
    for jn in joints:
        lim = match_joint_value(lim_t, jn, None)
        if lim is None:
            lim = src_limits.get(jn)
        lim = float(lim if lim is not None else 100.0)
        a = ms.add_actuator()
        a.name = f"act_{jn}"
        a.target = jn
        a.trntype = mujoco.mjtTrn.mjTRN_JOINT
        if mode_act == "pd":
            kp = float(match_joint_value(kp_t, jn))
            if "dampratio" in spec.actuation:
                a.set_to_position(kp=kp, dampratio=float(match_joint_value(spec.actuation["dampratio"], jn, 1.0)))
            else:
                a.set_to_position(kp=kp, kv=float(match_joint_value(kd_t, jn)))
            a.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
            a.forcerange = [-lim, lim]
            jid0 = mujoco.mj_name2id(m0, mujoco.mjtObj.mjOBJ_JOINT, jn)
            if m0.jnt_limited[jid0]:
                a.inheritrange = 1.0  # ctrlrange = joint range
        else:
            a.set_to_motor()
            a.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
            a.ctrlrange = [-lim, lim]

    # --- follow camera (offset computed in world, expressed in the root frame at qpos0) ---
    cam_cfg = spec.camera
    dist, height = float(cam_cfg.get("distance", 3.0)), float(cam_cfg.get("height", 0.3))
    az = np.deg2rad(float(cam_cfg.get("azimuth", -90.0)))
    look = np.array([0.0, 0.0, float(cam_cfg.get("look_height", 0.0))])
    off_w = np.array([dist * np.cos(az), dist * np.sin(az), height])
    q_w = _look_at_quat(off_w, look)
    d0 = mujoco.MjData(m0)
    mujoco.mj_kinematics(m0, d0)
    r0 = d0.xmat[root_id].reshape(3, 3)
    q_root = d0.xquat[root_id].copy()
    q_inv = np.zeros(4)
    mujoco.mju_negQuat(q_inv, q_root)
    q_loc = np.zeros(4)
    mujoco.mju_mulQuat(q_loc, q_inv, q_w)
    root_spec_body = ms.body(root_name)
    cam = root_spec_body.add_camera()
    cam.name = FOLLOW_CAMERA
    cam.mode = mujoco.mjtCamLight.mjCAMLIGHT_TRACK
    cam.pos = r0.T @ off_w
    cam.quat = q_loc
    cam.fovy = float(fovy if fovy is not None else cam_cfg.get("fovy", 45.0))
    ms.visual.headlight.ambient = [0.35, 0.35, 0.35]
    ms.visual.headlight.diffuse = [0.5, 0.5, 0.5]

    model = ms.compile()

    # --- indices on the final model ---
    root_id = _body_id(model, root_name, "root", spec)
    torso_id = _body_id(model, spec.bodies.get("torso", root_name), "torso", spec)
    head_id = _body_id(model, spec.bodies.get("head", spec.bodies.get("torso", root_name)), "head", spec)
    feet_ids = np.array([_body_id(model, f, "foot", spec) for f in feet_names], np.int32)
    jids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in joints]
    qadr = np.array([model.jnt_qposadr[j] for j in jids], np.int32)
    vadr = np.array([model.jnt_dofadr[j] for j in jids], np.int32)
    jrange = np.array([model.jnt_range[j] if model.jnt_limited[j] else (-np.inf, np.inf) for j in jids],
                      np.float32)
    floor_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    robot_mask = _subtree(model, root_id)[model.geom_bodyid]
    robot_mask[floor_id] = False
    fc_final = np.zeros(model.ngeom, bool)
    fc_final[[g.id for g in floor_colliders]] = True
    foot_body_final = np.full(model.nbody, -1, np.int32)
    for i, fid in enumerate(feet_ids):
        foot_body_final[_subtree(model, fid)] = i
    geom_foot = np.where(fc_final, foot_body_final[model.geom_bodyid], -1).astype(np.int32)

    # --- home pose ---
    qpos = model.qpos0.copy()
    home_j = spec.home.get("joints", {})
    for n, j in zip(joints, jids):
        v = float(match_joint_value(home_j, n, 0.0))
        if model.jnt_limited[j]:
            v = float(np.clip(v, *model.jnt_range[j]))
        qpos[model.jnt_qposadr[j]] = v
    d = mujoco.MjData(model)
    d.qpos[:] = qpos
    mujoco.mj_kinematics(model, d)
    rh = spec.home.get("root_height", "auto")
    if root_kind != "fixed":
        if rh == "auto":
            lows = []
            for gid in np.nonzero(fc_final)[0]:
                c, h = model.geom_aabb[gid, :3], model.geom_aabb[gid, 3:]
                rot = d.geom_xmat[gid].reshape(3, 3)
                lows.append(d.geom_xpos[gid, 2] + rot[2] @ c - np.abs(rot[2]) @ h)
            dz = -min(lows) + float(spec.home.get("clearance", 0.001)) if lows else 0.0
        else:
            dz = float(rh) - d.xpos[root_id, 2]
        if root_kind == "free":
            jf = [j for j in range(model.njnt) if model.jnt_bodyid[j] == root_id and model.jnt_type[j] == _FREE][0]
            qpos[model.jnt_qposadr[jf] + 2] += dz
        else:
            vert = [j for j in range(model.njnt) if model.jnt_bodyid[j] == root_id and model.jnt_type[j] == _SLIDE
                    and abs(abs((r0 @ model.jnt_axis[j])[2]) - 1.0) < 1e-6]
            if not vert:
                raise ValueError(f"robot {spec.name!r}: root has no vertical slide joint to set the home height")
            sign = np.sign((r0 @ model.jnt_axis[vert[0]])[2])
            qpos[model.jnt_qposadr[vert[0]]] += sign * dz

    ctrl_range = model.actuator_ctrlrange.astype(np.float32).copy()
    unl = model.actuator_ctrllimited == 0
    ctrl_range[unl] = (-np.inf, np.inf)
    torque_limit = np.where(mode_act == "pd", np.abs(model.actuator_forcerange).max(1),
                            np.abs(model.actuator_ctrlrange).max(1)).astype(np.float32)
    if mode_act == "pd":
        home_ctrl = np.clip(qpos[qadr], ctrl_range[:, 0], ctrl_range[:, 1]).astype(np.float32)
        scale_t = spec.actuation.get("action_scale", {"default": 0.5})
        if not isinstance(scale_t, dict):
            scale_t = {"default": scale_t}
        action_scale = np.array([float(match_joint_value(scale_t, n)) for n in joints], np.float32)
    else:
        home_ctrl = np.zeros(len(joints), np.float32)
        action_scale = np.ones(len(joints), np.float32)

    return RobotScene(
        spec=spec, mjspec=ms, mj_model=model, asset_path=path, asset_source=source, collisions=mode,
        root_kind=root_kind, root_body_id=int(root_id), torso_body_id=int(torso_id), head_body_id=int(head_id),
        head_offset=np.asarray(spec.bodies.get("head_offset", [0.0, 0.0, 0.0]), np.float64),
        feet_body_ids=feet_ids, feet_names=feet_names, geom_foot_index=geom_foot, floor_geom_id=int(floor_id),
        camera_id=int(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, FOLLOW_CAMERA)),
        robot_geom_mask=robot_mask, joint_names=tuple(joints), joint_qpos_adr=qadr, joint_qvel_adr=vadr,
        joint_range=jrange, home_qpos=qpos, home_ctrl=home_ctrl, action_scale=action_scale,
        torque_limit=torque_limit, ctrl_range=ctrl_range, control_dt=1.0 / spec.control_hz,
        n_substeps=spec.n_substeps,
    )


def describe(scene: RobotScene) -> dict[str, Any]:
    """Small JSON-able summary (for `niljax robots` and logs)."""
    m = scene.mj_model
    return {"name": scene.name, "source": scene.asset_source, "root": scene.root_kind, "nq": int(m.nq),
            "nv": int(m.nv), "nu": int(m.nu), "ngeom": int(m.ngeom), "feet": list(scene.feet_names),
            "collisions": scene.collisions, "control_dt": scene.control_dt, "n_substeps": scene.n_substeps}
