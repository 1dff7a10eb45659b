"""Hull render backend: mask IoU vs `mujoco.Renderer` segmentation per robot, and frames/s side by side with warp and
the ellipsoid ray caster -> benchmarks/results/render_hull_<device>.json.

    nice -n 19 .venv/bin/python benchmarks/bench_render_hull.py --locomujoco ../shared/locomujoco \
        [--robots h1,g1,talos,a1,go1] [--sizes 64,224] [--poses 20] [--fps-robot h1] [--batches 1,8,32]

IoU: `--poses` frames evenly spaced over each robot's LocoMuJoCo mocap walk (H1, G1, Talos: 02-constspeed; A1:
walk_straight); Go1 has no mocap fixture, so it replays A1's walk through its identically named leg joints (root
at home); OP3 (the registry's) has none either: its home pose and random joint poses. Each backend renders all
poses in one jitted call (plain background, follow camera) and every mask is
compared with `render_opengl`'s segmentation mask of the same pose. Per robot: mean/min IoU per backend and size,
the hull decomposition's size and the geoms that cause most of the hull backend's wrong pixels.
Speed: the jitted `BatchRenderer.render` (rgb + mask) of `--fps-robot` on fixed poses, `--repeats` calls after a
warm-up call (compile time separate), frames/s per backend, size and batch, plus XLA's cost analysis (flops,
bytes accessed) and memory analysis (temp bytes) of the compiled program, and the hull backend's analytic flops.
The machine is shared: the load average is recorded at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from niljax import _runtime

_runtime.configure()

import jax
import numpy as np

from niljax.render import BatchRenderer, RenderConfig, mask_iou, render_opengl, warp_available
from niljax.render.kinematics import kinematic_data
from niljax.robots import load_robot
from niljax.sim import replay

ROBOTS = {  # name -> (LocoMuJoCo model or None for the registry's asset, mocap walk)
    "h1": ("models/unitree_h1/h1.xml", "datasets/02-constspeed_UnitreeH1.npz"),
    "g1": ("models/unitree_g1/g1.xml", "datasets/02-constspeed_UnitreeG1.npz"),
    "talos": ("models/talos/talos.xml", "datasets/02-constspeed_TALOS.npz"),
    "a1": ("models/unitree_a1/unitree_a1_torque.xml", "datasets/walk_straight_UnitreeA1.npz"),
    "go1": (None, "datasets/walk_straight_UnitreeA1.npz"),
    "op3": (None, None),  # the registry's OP3 (MuJoCo Playground); no mocap walk: home + random joint poses
}


def random_joint_poses(scene, n: int, seed: int = 1) -> np.ndarray:
    """Home pose, then n-1 random joint poses (uniform +-0.6 rad, clipped to the joint ranges), root at home (as
    tests/test_render.py::_robot_poses builds them); benchmarks/hull_registry_iou.py scores every robot on these."""
    rng = np.random.default_rng(seed)
    poses = [scene.home_qpos.copy()]
    for _ in range(n - 1):
        q = scene.home_qpos.copy()
        lo, hi = scene.joint_range[:, 0], scene.joint_range[:, 1]
        q[scene.joint_qpos_adr] = np.clip(rng.uniform(-0.6, 0.6, len(lo)), lo, hi)
        poses.append(q)
    return np.stack(poses)


def _device_name() -> str:
    dev = jax.devices()[0]
    if dev.platform == "cpu":
        return f"cpu-{os.cpu_count()}core"
    return dev.device_kind.lower().replace(" ", "-")


def robot_poses(name: str, locomujoco: Path, n: int):
    """The scene and `n` poses evenly spaced over the robot's mocap walk (see the module docstring)."""
    model, walk = ROBOTS[name]
    scene = load_robot(name, mjcf_path=locomujoco / model if model else None)
    if walk is None:
        return scene, random_joint_poses(scene, n)
    qpos = replay.trajectory_qpos(scene, replay.load_trajectory(locomujoco / walk))
    return scene, qpos[np.linspace(0, len(qpos) - 1, n).round().astype(int)]


def _cost(compiled) -> dict:
    out = {}
    try:
        ca = compiled.cost_analysis()
        ca = ca[0] if isinstance(ca, list) else ca
        out["xla_flops"] = float(ca.get("flops", float("nan")))
        out["xla_bytes_accessed"] = float(ca.get("bytes accessed", float("nan")))
    except Exception as e:  # noqa: BLE001 - cost analysis is best effort per backend (warp: custom calls)
        out["xla_cost_error"] = repr(e)[:200]
    try:
        ma = compiled.memory_analysis()
        out["xla_temp_bytes"] = int(ma.temp_size_in_bytes)
        out["xla_output_bytes"] = int(ma.output_size_in_bytes)
    except Exception as e:  # noqa: BLE001
        out["xla_memory_error"] = repr(e)[:200]
    return out


def iou_part(args: argparse.Namespace, backends: list[str]) -> dict:
    out = {}
    for name in args.robots.split(","):
        scene, qs = robot_poses(name, Path(args.locomujoco), args.poses)
        m = scene.mj_model
        data = jax.block_until_ready(kinematic_data(m, qs))
        row: dict = {"poses": len(qs), "ngeom": int(m.ngeom)}
        for size in [int(s) for s in args.sizes.split(",")]:
            gl = [render_opengl(m, q, scene.robot_geom_mask, height=size, width=size)[1] for q in qs]
            for backend in backends:
                cfg = RenderConfig(backend=backend, height=size, width=size, hull_tile_pieces=args.hull_tile_pieces)
                t0 = time.perf_counter()
                r = BatchRenderer.from_scene(scene, cfg, len(qs))
                build_s = time.perf_counter() - t0
                _, mask = jax.jit(r.render)(data)
                mask = np.asarray(mask)
                ious = [mask_iou(mask[i], gl[i]) for i in range(len(qs))]
                rec = {"mean": float(np.mean(ious)), "min": float(np.min(ious)), "max": float(np.max(ious)),
                       "robot_pixels_mean": float(np.mean([g.sum() for g in gl])), "build_s": build_s}
                if backend == "hull":
                    h = r.engine
                    cam = r.cam_id
                    _, _, gid = jax.jit(h.render)(data.geom_xpos, data.geom_xmat, data.cam_xpos[:, cam],
                                                  data.cam_xmat[:, cam])
                    gid = np.asarray(gid)
                    wrong = np.stack([mask[i] & ~gl[i] for i in range(len(qs))])
                    ids, counts = np.unique(gid[wrong], return_counts=True)
                    top = sorted(zip(counts.tolist(), ids.tolist()), reverse=True)[:5]
                    total_fp = int(wrong.sum())
                    rec["false_pos_pixels"] = total_fp
                    rec["false_neg_pixels"] = int(sum((~mask[i] & gl[i]).sum() for i in range(len(qs))))
                    rec["false_pos_by_geom"] = [
                        {"geom": int(g), "name": m.geom(int(g)).name or m.body(int(m.geom_bodyid[g])).name,
                         "pixels": c, "share": c / max(1, total_fp),
                         "est_outside_mm": 1e3 * h.mesh_error.get(m.geom(int(g)).name or f"geom{g}", 0.0)}
                        for c, g in top]
                    load = np.asarray(h.tile_load(data.geom_xpos, data.geom_xmat, data.cam_xpos[:, cam],
                                                  data.cam_xmat[:, cam]))
                    rec.update(pieces=h.num_pieces, planes_per_piece=h.num_planes, tile_pieces=h.tile_pieces,
                               max_pieces_meeting_a_tile=int(load.max()), flops_per_frame=h.flops_per_frame())
                row[f"{backend}_{size}"] = rec
                print(name, backend, size, {k: (round(v, 4) if isinstance(v, float) else v)
                                            for k, v in rec.items() if k in ("mean", "min", "pieces", "build_s")},
                      flush=True)
        out[name] = row
    return out


def fps_part(args: argparse.Namespace, backends: list[str]) -> list[dict]:
    scene, qs_all = robot_poses(args.fps_robot, Path(args.locomujoco), max(int(b) for b in args.batches.split(",")))
    m = scene.mj_model
    results = []
    for backend in backends:
        for size in [int(s) for s in args.sizes.split(",")]:
            for batch in [int(b) for b in args.batches.split(",")]:
                data = jax.block_until_ready(kinematic_data(m, qs_all[:batch]))
                r = BatchRenderer.from_scene(scene, RenderConfig(backend=backend, height=size, width=size), batch)
                t0 = time.perf_counter()
                compiled = jax.jit(r.render).lower(data).compile()
                compile_s = time.perf_counter() - t0
                jax.block_until_ready(compiled(data))
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < args.min_seconds or n < args.repeats:
                    jax.block_until_ready(compiled(data))
                    n += 1
                dt = (time.perf_counter() - t0) / n
                row = {"backend": backend, "size": size, "batch": batch, "frames_per_s": batch / dt,
                       "ms_per_call": 1e3 * dt, "compile_s": compile_s, "calls": n, **_cost(compiled)}
                if backend == "hull":
                    row["analytic_flops_per_frame"] = r.engine.flops_per_frame()["total_flops"]
                print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
                results.append(row)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--locomujoco", default=str(Path(__file__).resolve().parents[2] / "shared" / "locomujoco"))
    p.add_argument("--robots", default="h1,g1,talos,a1,go1,op3")
    p.add_argument("--sizes", default="64,224")
    p.add_argument("--poses", type=int, default=20)
    p.add_argument("--iou-backends", default="hull,jax,warp")
    p.add_argument("--fps-robot", default="h1")
    p.add_argument("--fps-backends", default="hull,warp,jax")
    p.add_argument("--batches", default="1,8,32")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=1.0)
    p.add_argument("--hull-tile-pieces", type=int, default=RenderConfig().hull_tile_pieces,
                   help="pieces traced per tile (IoU part); the fps part uses the default")
    p.add_argument("--skip-iou", action="store_true")
    p.add_argument("--skip-fps", action="store_true")
    p.add_argument("--device-name", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args()

    def usable(names: str) -> list[str]:
        return [b for b in names.split(",") if b != "warp" or warp_available()]

    device = args.device_name or _device_name()
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    iou = {} if args.skip_iou else iou_part(args, usable(args.iou_backends))
    fps = [] if args.skip_fps else fps_part(args, usable(args.fps_backends))
    out = Path(args.out or Path(__file__).resolve().parent / "results" / f"render_hull_{device}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    defaults = RenderConfig()
    payload = {
        "benchmark": "render_hull",
        "device": device,
        "jax_device": str(jax.devices()[0]),
        "platform": platform.platform(),
        "what": "mask IoU vs mujoco.Renderer segmentation (mocap poses) per robot/backend/size; frames/s of the "
                "jitted BatchRenderer.render (rgb+mask, plain background) per backend/size/batch with XLA cost "
                "analysis",
        "hull_config": {"pieces": defaults.hull_pieces, "planes": defaults.hull_planes, "tol_m": defaults.hull_tol,
                        "tile_pieces": defaults.hull_tile_pieces, "tile_pieces_iou": args.hull_tile_pieces},
        "args": vars(args),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "wall_s": time.perf_counter() - t0,
        "load_average_at_start": load_start,
        "load_average_at_end": os.getloadavg(),
        "iou": iou,
        "fps_robot": args.fps_robot,
        "fps": fps,
    }
    out.write_text(json.dumps(payload, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
