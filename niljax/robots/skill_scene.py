"""Skill scenes: a registered robot plus a skill's objects, start pose, contact proxies, grasp and cameras.

Contract:
- `load_skill_scene(robot, skill, **load_robot_kwargs) -> SkillScene` builds the robot with `load_robot`, then
  edits its `mujoco.MjSpec` (host, once): invisible contact proxies on robot bodies (`colliders`), the skill's
  objects, the grasp, a static world camera named `static`, and compiles again. A `SkillScene` is a
  `RobotScene` (every index array refers to the new model) plus `skill`, `task_info` (host arrays the sim
  stage's predicates and task reward read) and `reference_qpos` (the scripted keyframe motion, f64[T, nq] at
  the control rate, None without keyframes).
- Geometry: lengths in the skill file are scaled by (robot home root height / `reference_root_height`); an
  object's position is its anchor point plus its scaled `pos` offset. Anchors: `world` (origin), `root_start`
  / `root_end` (the root body in the start / final keyframe pose), `feet_start` (the feet bodies' mean x, y
  in the start pose, z = 0), `hands_start` (mean hand point in the start pose; the robot spec's
  `bodies.hands` + `bodies.hand_offset`), `colliders_end` (the lowest point of the skill's colliders in the
  final keyframe pose, at that collider's x, y): so a chair is placed where the scripted sit puts the pelvis
  and a bar where the start pose puts the hands, for any robot.
- Collisions stay inside what MJX impl "jax" accepts: objects are primitives (box, capsule, sphere,
  cylinder) with `contype=1, conaffinity=0` like the floor, so they touch the robot's floor-colliding geoms
  (feet, and the skill's proxies: `contype=0, conaffinity=1`) and never each other.
- Grasp (`grasp.kind = "connect"`): one `connect` equality per hand between the hand point and the grasped
  object, satisfied in the start pose (the compiled anchors are set from the start pose, not qpos0) and active
  for the whole episode: a ball joint at each hand. The grip is modelled, not learned; what the policy learns
  is to lift its feet and hang still.
- Object joints (`joint.type = "hinge"`, e.g. the balance board's tilt) get qpos entries after the robot's, at
  0 in the start pose; the robot's qpos addresses are unchanged.
- The start pose: the robot's home pose with `start.joints` patterns over it, lowered/raised so its lowest
  floor-colliding geom touches the floor, plus the scaled `start.root_offset`. It becomes `home_qpos` and the
  PD targets at zero action (`home_ctrl`); `actuation.action_scale` and `[fall]` in the skill override the
  robot's. Skills with objects or keyframes need a free-joint root.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import mujoco
import numpy as np

from niljax.robots.scene import FOLLOW_CAMERA, RobotScene, _look_at_quat, _subtree, load_robot
from niljax.robots.skills import SkillSpec, get_skill
from niljax.robots.spec import RobotSpec, match_joint_value

__all__ = ["STATIC_CAMERA", "SkillScene", "keyframe_qpos", "load_skill_scene"]

STATIC_CAMERA = "static"
_FREE = int(mujoco.mjtJoint.mjJNT_FREE)
_GEOM_TYPES = {"box": mujoco.mjtGeom.mjGEOM_BOX, "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
               "sphere": mujoco.mjtGeom.mjGEOM_SPHERE, "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER}


@dataclasses.dataclass(frozen=True, eq=False)
class SkillScene(RobotScene):
    """A `RobotScene` of a skill's scene (see the module docstring)."""

    skill: SkillSpec
    task_info: dict[str, Any]  # host numpy arrays / numbers for niljax.sim.skills
    reference_qpos: np.ndarray | None  # f64[T, nq] scripted keyframe motion at the control rate
    static_camera_id: int  # -1 when the skill defines no static camera
    scale: float  # skill lengths x this = metres for this robot


def _free_adr(model: mujoco.MjModel, root_id: int) -> int:
    jf = [j for j in range(model.njnt) if model.jnt_bodyid[j] == root_id and model.jnt_type[j] == _FREE]
    return int(model.jnt_qposadr[jf[0]])


def _lowest_foot_point(scene: RobotScene, data: mujoco.MjData) -> float:
    m = scene.mj_model
    lows = []
    for gid in np.nonzero(scene.geom_foot_index >= 0)[0]:
        c, h = m.geom_aabb[gid, :3], m.geom_aabb[gid, 3:]
        rot = data.geom_xmat[gid].reshape(3, 3)
        lows.append(data.geom_xpos[gid, 2] + rot[2] @ c - np.abs(rot[2]) @ h)
    return float(min(lows)) if lows else 0.0


def _joint_targets(scene: RobotScene, table: dict, base: np.ndarray) -> np.ndarray:
    """`base` qpos with the actuated joints matching `table`'s patterns set (clipped to their ranges)."""
    q = base.copy()
    for j, name in enumerate(scene.joint_names):
        v = match_joint_value(table, name, None)
        if v is not None:
            lo, hi = scene.joint_range[j]
            q[scene.joint_qpos_adr[j]] = float(np.clip(float(v), lo, hi))
    return q


def _hands(spec: RobotSpec, model: mujoco.MjModel, skill: SkillSpec) -> tuple[list[int], np.ndarray]:
    names = spec.bodies.get("hands")
    if not names:
        raise ValueError(f"skill {skill.name!r} needs the robot's hands: robot {spec.name!r} has no `hands` in "
                         f"[bodies] of {spec.origin} (add hands = [left, right] body names and hand_offset)")
    ids = []
    for n in names:
        bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, n)
        if bid < 0:
            raise ValueError(f"robot {spec.name!r}: hand body {n!r} is not in the model")
        ids.append(bid)
    off = np.asarray(spec.bodies.get("hand_offset", [0.0, 0.0, 0.0]), np.float64)
    offsets = np.tile(off, (len(ids), 1)) if off.ndim == 1 else off
    return ids, offsets


def keyframe_qpos(scene: RobotScene, skill: SkillSpec, start_qpos: np.ndarray, hz: float) -> np.ndarray | None:
    """The skill's scripted motion f64[T, nq] at `hz` on `scene`'s model (T = duration * hz + 1): joints
    eased (cosine) between keyframes, joints a keyframe does not name at their start values; the root fixed
    (`root_mode = "fixed"`) or translated so the feet bodies' mean position stays where it starts ("feet")."""
    if not skill.keyframes:
        return None
    m = scene.mj_model
    keys = [_joint_targets(scene, kf["joints"], start_qpos) for kf in skill.keyframes]
    times = np.array([kf["t"] for kf in skill.keyframes])
    t_all = np.arange(round(skill.duration_s * hz) + 1) / hz
    out = np.empty((len(t_all), m.nq))
    for i, t in enumerate(t_all):
        k = min(int(np.searchsorted(times, t, side="right")) - 1, len(times) - 2)
        u = float(np.clip((t - times[k]) / (times[k + 1] - times[k]), 0.0, 1.0))
        w = 0.5 - 0.5 * np.cos(np.pi * u)
        out[i] = (1 - w) * keys[k] + w * keys[k + 1]
    if skill.root_mode == "feet" and scene.n_feet:
        adr = _free_adr(m, scene.root_body_id)
        d = mujoco.MjData(m)
        d.qpos[:] = start_qpos
        mujoco.mj_kinematics(m, d)
        feet0 = d.xpos[scene.feet_body_ids].mean(0).copy()
        for i in range(len(out)):
            d.qpos[:] = out[i]
            mujoco.mj_kinematics(m, d)
            out[i, adr:adr + 3] += feet0 - d.xpos[scene.feet_body_ids].mean(0)
    return out


def load_skill_scene(robot: str | RobotSpec, skill: str | SkillSpec, **load_robot_kwargs: Any) -> SkillScene:
    """The robot's scene with the skill's objects (see the module docstring); kwargs go to `load_robot`."""
    skill = get_skill(skill) if isinstance(skill, str) else skill
    base = load_robot(robot, **load_robot_kwargs)
    spec, m0, ms = base.spec, base.mj_model, base.mjspec
    needs_free = bool(skill.objects or skill.keyframes or skill.colliders or skill.grasp)
    if needs_free and base.root_kind != "free":
        raise ValueError(f"skill {skill.name!r} needs a free-joint root; robot {spec.name!r} from "
                         f"{base.asset_source} has a {base.root_kind!r} root (use the robot's default model)")
    d = mujoco.MjData(m0)
    d.qpos[:] = base.home_qpos
    mujoco.mj_kinematics(m0, d)
    scale = float(d.xpos[base.root_body_id, 2]) / skill.reference_root_height

    # --- start pose: home + start.joints, re-grounded, + root_offset ---
    start = _joint_targets(base, dict(skill.start.get("joints", {})), base.home_qpos)
    if needs_free:
        adr = _free_adr(m0, base.root_body_id)
        d.qpos[:] = start
        mujoco.mj_kinematics(m0, d)
        start[adr + 2] += 0.001 - _lowest_foot_point(base, d)
        start[adr:adr + 3] += scale * np.asarray(skill.start["root_offset"])
    ref = keyframe_qpos(base, skill, start, 1.0 / base.control_dt)
    end = ref[-1] if ref is not None else start

    # --- anchors (start / final pose, on the robot-only model) ---
    def pose(q: np.ndarray) -> mujoco.MjData:
        dd = mujoco.MjData(m0)
        dd.qpos[:] = q
        mujoco.mj_kinematics(m0, dd)
        return dd

    d_start, d_end = pose(start), pose(end)
    anchors = {"world": np.zeros(3), "root_start": d_start.xpos[base.root_body_id].copy(),
               "root_end": d_end.xpos[base.root_body_id].copy()}
    feet_xy = d_start.xpos[base.feet_body_ids].mean(0) if base.n_feet else anchors["root_start"]
    anchors["feet_start"] = np.array([feet_xy[0], feet_xy[1], 0.0])
    hand_ids: list[int] = []
    hand_off = np.zeros((0, 3))
    uses_hands = skill.grasp or any(o["anchor"] == "hands_start" for o in skill.objects) \
        or skill.task.get("kind") == "hanging"
    if uses_hands:
        hand_ids, hand_off = _hands(spec, m0, skill)
        pts = [d_start.xpos[b] + d_start.xmat[b].reshape(3, 3) @ o for b, o in zip(hand_ids, hand_off)]
        anchors["hands_start"] = np.mean(pts, axis=0)

    def body_of(name: str) -> str:  # "root" / "torso" name the spec's bodies, anything else a model body
        return spec.bodies.get(name, spec.bodies["root"]) if name in ("root", "torso") else name

    lows = []
    for col in skill.colliders:
        b = mujoco.mj_name2id(m0, mujoco.mjtObj.mjOBJ_BODY, body_of(col["body"]))
        if b < 0:
            raise ValueError(f"skill {skill.name!r}: collider body {col['body']!r} is not in robot {spec.name!r}")
        centre = d_end.xpos[b] + d_end.xmat[b].reshape(3, 3) @ (scale * np.asarray(col["pos"]))
        lows.append(np.array([centre[0], centre[1], centre[2] - scale * col["size"][0]]))
    if lows:
        anchors["colliders_end"] = min(lows, key=lambda p: p[2])

    # --- edit the MjSpec ---
    old_geoms = list(ms.geoms)
    old_ids = np.array([g.id for g in old_geoms])
    proxies = []
    for i, col in enumerate(skill.colliders):
        g = ms.body(body_of(col["body"])).add_geom()
        g.name = f"skill_collider_{i}"
        g.type = _GEOM_TYPES[col["type"]]
        g.size = (scale * np.resize(np.asarray(col["size"]), 3)).tolist()
        g.pos = (scale * np.asarray(col["pos"])).tolist()
        g.contype, g.conaffinity, g.condim = 0, 1, 3
        g.density = 0.0
        g.rgba = [0.0, 0.0, 0.0, 0.0]
        g.group = 3
        proxies.append(g)
    obj_geoms: dict[str, Any] = {}
    obj_bodies: dict[str, Any] = {}
    obj_joints: dict[str, Any] = {}
    for obj in skill.objects:
        missing = obj["anchor"] not in anchors
        if missing:
            raise ValueError(f"skill {skill.name!r}: object {obj['name']!r} is anchored at {obj['anchor']!r}, which "
                             "this skill does not define (colliders_end needs colliders; hands_start the hands)")
        pos = anchors[obj["anchor"]] + scale * np.asarray(obj["pos"])
        size = scale * np.resize(np.asarray(obj["size"]), 3)
        if obj.get("to_floor"):  # a support reaching down to the floor: `pos` is its top centre
            size[2] = max(pos[2], 1e-3) / 2.0
            pos = np.array([pos[0], pos[1], size[2]])
        quat = np.zeros(4)
        mujoco.mju_euler2Quat(quat, np.deg2rad(obj["euler"]), "xyz")
        parent = ms.worldbody
        if obj.get("joint"):
            body = ms.worldbody.add_body()
            body.name = obj["name"]
            body.pos = pos.tolist()
            jnt = body.add_joint()
            jnt.name = f"{obj['name']}_hinge"
            jnt.type = mujoco.mjtJoint.mjJNT_HINGE
            jnt.axis = obj["joint"]["axis"]
            jnt.pos = (scale * np.asarray(obj["joint"]["pos"])).tolist()
            if "range" in obj["joint"]:
                jnt.range = obj["joint"]["range"]
                jnt.limited = mujoco.mjtLimited.mjLIMITED_TRUE
            jnt.damping = [float(obj["joint"].get("damping", 0.0)), 0.0, 0.0]  # MuJoCo 4: polynomial coefficients
            jnt.armature = float(obj["joint"].get("armature", 0.01))
            parent, pos = body, np.zeros(3)
            obj_bodies[obj["name"]] = body
            obj_joints[obj["name"]] = jnt
        g = parent.add_geom()
        g.name = obj["name"]
        g.type = _GEOM_TYPES[obj["type"]]
        g.size = size.tolist()
        g.pos = pos.tolist()
        g.quat = quat.tolist()
        g.rgba = obj.get("rgba", [0.55, 0.4, 0.3, 1.0])
        collide = bool(obj.get("collide", True))
        g.contype, g.conaffinity, g.condim = (1 if collide else 0), 0, 3
        g.friction = [float(obj.get("friction", 1.0)), 0.005, 0.0001]
        if "mass" in obj:
            g.mass = float(obj["mass"])
        obj_geoms[obj["name"]] = g
    connects = []
    if skill.grasp:
        target = skill.grasp["object"]
        for hid, off in zip(hand_ids, hand_off):
            eq = ms.add_equality()
            eq.type = mujoco.mjtEq.mjEQ_CONNECT
            eq.objtype = mujoco.mjtObj.mjOBJ_BODY
            eq.name1 = m0.body(hid).name
            eq.name2 = target if target in obj_bodies else "world"
            data = np.zeros(len(eq.data))
            data[0:3] = off  # the hand point in the hand body's frame; data[3:6] is set after compiling
            eq.data = data
            connects.append((eq, hid, off))
    if skill.camera:
        cam = ms.worldbody.add_camera()
        cam.name = STATIC_CAMERA
        cpos = anchors[skill.camera["anchor"]] + scale * np.asarray(skill.camera["pos"])
        target_pt = anchors[skill.camera["anchor"]] + scale * np.asarray(skill.camera["look_at"])
        cam.pos = cpos.tolist()
        cam.quat = _look_at_quat(cpos, target_pt).tolist()
        cam.fovy = float(skill.camera.get("fovy", 45.0))
    model = ms.compile()

    # --- the grasp anchors: satisfied in the start pose (MuJoCo would take them from qpos0) ---
    nq_robot = m0.nq
    home = np.zeros(model.nq)
    home[:nq_robot] = start
    for eq, hid, off in connects:
        dd = mujoco.MjData(model)
        dd.qpos[:] = home
        mujoco.mj_kinematics(model, dd)
        world_pt = dd.xpos[hid] + dd.xmat[hid].reshape(3, 3) @ off
        b2 = model.eq_obj2id[eq.id]
        model.eq_data[eq.id, 3:6] = dd.xmat[b2].reshape(3, 3).T @ (world_pt - dd.xpos[b2])

    # --- indices on the new model ---
    for name, adr in zip(base.joint_names, base.joint_qpos_adr):
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        assert model.jnt_qposadr[jid] == adr, "skill objects must not move the robot's qpos addresses"
    id_map = np.full(m0.ngeom, -1, np.int64)
    id_map[old_ids] = [g.id for g in old_geoms]
    geom_foot = np.full(model.ngeom, -1, np.int32)
    geom_foot[id_map] = base.geom_foot_index
    floor_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
    robot_mask = _subtree(model, base.root_body_id)[model.geom_bodyid]
    robot_mask[floor_id] = False
    robot_mask[[g.id for g in proxies]] = False
    ctrl_range = base.ctrl_range
    home_ctrl = base.home_ctrl
    if spec.actuation["mode"] == "pd":
        home_ctrl = np.clip(start[base.joint_qpos_adr], ctrl_range[:, 0], ctrl_range[:, 1]).astype(np.float32)
    scale_t = skill.actuation.get("action_scale")
    action_scale = base.action_scale
    if scale_t is not None and spec.actuation["mode"] == "pd":
        scale_t = scale_t if isinstance(scale_t, dict) else {"default": scale_t}
        action_scale = np.array([float(match_joint_value(scale_t, n, a)) for n, a in
                                 zip(base.joint_names, base.action_scale)], np.float32)
    if skill.fall:
        spec = dataclasses.replace(spec, fall=dict(spec.fall, **skill.fall))
    ref_full = None
    if ref is not None:
        ref_full = np.tile(home, (len(ref), 1))
        ref_full[:, :nq_robot] = ref

    # --- what the task predicates / reward read (niljax.sim.skills) ---
    info: dict[str, Any] = {"kind": str(skill.task["kind"]),
                                "min_steps": max(round(float(skill.task["min_duration_s"]) / base.control_dt), 1),
                                "params": {k: v for k, v in skill.task.items() if k not in ("kind", "min_duration_s")},
                                "root_start": anchors["root_start"].astype(np.float32),
                                "root_end": anchors["root_end"].astype(np.float32),
                                "feet_start_z": d_start.xpos[base.feet_body_ids, 2].astype(np.float32),
                                "scale": scale}
    if hand_ids:
        info["hand_body_ids"] = np.asarray(hand_ids, np.int32)
        info["hand_offsets"] = np.asarray(hand_off, np.float32)
    for obj in skill.objects:
        g = obj_geoms[obj["name"]]
        if obj["role"] == "seat":
            gid = g.id
            dd = mujoco.MjData(model)
            dd.qpos[:] = home
            mujoco.mj_kinematics(model, dd)
            half = model.geom_size[gid]
            info["seat_center"] = dd.geom_xpos[gid].astype(np.float32)
            info["seat_half"] = half[:2].astype(np.float32)
            info["seat_top"] = float(dd.geom_xpos[gid, 2] + half[2])
        elif obj["role"] == "bar":
            dd = mujoco.MjData(model)
            dd.qpos[:] = home
            mujoco.mj_kinematics(model, dd)
            info["bar_pos"] = dd.geom_xpos[g.id].astype(np.float32)
            info["bar_axis"] = dd.geom_xmat[g.id].reshape(3, 3)[:, 2].astype(np.float32)
        elif obj["role"] == "board":
            jnt = obj_joints.get(obj["name"])
            if jnt is None:
                raise ValueError(f"skill {skill.name!r}: the board {obj['name']!r} needs a hinge joint")
            info["board_qpos_adr"] = int(model.jnt_qposadr[jnt.id])
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(RobotScene)}
    fields.update(spec=spec, mj_model=model, geom_foot_index=geom_foot, floor_geom_id=int(floor_id),
                  camera_id=int(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, FOLLOW_CAMERA)),
                  robot_geom_mask=robot_mask, home_qpos=home, home_ctrl=home_ctrl, action_scale=action_scale)
    return SkillScene(**fields, skill=skill, task_info=info, reference_qpos=ref_full,
                      static_camera_id=int(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, STATIC_CAMERA)),
                      scale=scale)
