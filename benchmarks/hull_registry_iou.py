"""Hull renderer vs `mujoco.Renderer` segmentation on every registered robot, with the poses and settings of
issue 26 item 8's target (home pose + 3 random joint poses, 64 and 224 px, default settings), plus where the
wrong pixels are -> experiments/results/hull_registry/<label>.json.

    nice -n 19 .venv/bin/python benchmarks/hull_registry_iou.py --label after [--robots op3,h1] [--sizes 64,224]

Per robot and size: IoU per pose and mean; extra pixels (hull mask, not OpenGL's) by the geom the hull renderer
drew there, with that mesh's piece count and estimated outside distance; missing pixels (OpenGL's, not the hull
mask), also with every piece traced per tile (`tile_pieces` = all) to tell the tile budget's holes from the
decomposition's; pieces, the most pieces meeting one tile, decomposition (build) time, and the median of 3 timed
jitted renders of the 4 poses at 64 px (after a warm-up call). Robots without a model here are listed as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from niljax import _runtime

_runtime.configure()

import jax
import numpy as np
from bench_render_hull import random_joint_poses  # this folder: the poses both benchmarks use

from niljax.render import BatchRenderer, RenderConfig, mask_iou, render_opengl
from niljax.render.kinematics import kinematic_data
from niljax.robots import list_robots, load_robot

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = {"talos": "models/talos/talos.xml", "a1": "models/unitree_a1/unitree_a1_torque.xml"}  # as the test


def scene_for(name: str, locomujoco: Path):
    try:
        return load_robot(name)
    except FileNotFoundError as err:
        fx = locomujoco / FIXTURES[name] if name in FIXTURES else None
        if fx is None or not fx.is_file():
            raise FileNotFoundError(f"{name}: {str(err).splitlines()[0]}") from err
        return load_robot(name, mjcf_path=fx)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--label", required=True)
    p.add_argument("--robots", default=",".join(list_robots()))
    p.add_argument("--sizes", default="64,224")
    p.add_argument("--locomujoco", default=str(ROOT.parent / "shared" / "locomujoco"))
    p.add_argument("--no-full-tiles", action="store_true", help="skip the render with every piece per tile")
    p.add_argument("--time", action="store_true", help="time the jitted 64 px render")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="a RenderConfig field for the hull renderer, e.g. hull_tol=0.001 (repeatable)")
    args = p.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in RenderConfig.__dataclass_fields__ or not value:
            raise SystemExit(f"--set {item!r}: expected FIELD=VALUE with FIELD a RenderConfig field")
        overrides[key] = type(getattr(RenderConfig(), key))(value)
    out_dir = ROOT / "experiments" / "results" / "hull_registry"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{args.label}.json"
    result = {"command": " ".join(["nice -n 19 .venv/bin/python", *sys.argv]), "settings": overrides, "robots": {},
              "load_start": os.getloadavg()}
    for name in args.robots.split(","):
        try:
            scene = scene_for(name, Path(args.locomujoco))
        except FileNotFoundError as e:
            result["robots"][name] = {"skipped": str(e)}
            print("skip", e, flush=True)
            continue
        m = scene.mj_model
        qs = random_joint_poses(scene, 4)
        data = jax.block_until_ready(kinematic_data(m, qs))
        row: dict = {}
        for size in [int(s) for s in args.sizes.split(",")]:
            gl = [render_opengl(m, q, scene.robot_geom_mask, height=size, width=size)[1] for q in qs]
            t0 = time.perf_counter()
            r = BatchRenderer.from_scene(scene, RenderConfig(backend="hull", height=size, width=size, **overrides),
                                       len(qs))
            build_s = time.perf_counter() - t0
            h, cam = r.engine, r.cam_id
            args_h = (data.geom_xpos, data.geom_xmat, data.cam_xpos[:, cam], data.cam_xmat[:, cam])
            _, mask = jax.jit(r.render)(data)
            mask = np.asarray(mask)
            ious = [mask_iou(mask[i], gl[i]) for i in range(len(qs))]
            rec = {"ious": ious, "mean": float(np.mean(ious)), "build_s": build_s,
                   "robot_pixels": int(sum(g.sum() for g in gl))}
            if h.num_pieces:
                _, _, gid = jax.jit(h.render)(*args_h)
                gid = np.asarray(gid)
                extra = np.stack([mask[i] & ~gl[i] for i in range(len(qs))])
                rec["extra_pixels"] = int(extra.sum())
                rec["missing_pixels"] = int(sum((~mask[i] & gl[i]).sum() for i in range(len(qs))))
                ids, counts = np.unique(gid[extra], return_counts=True)
                pieces_of = {int(g): int((h.piece_geom == g).sum()) for g in set(h.piece_geom.tolist())}
                rec["extra_by_geom"] = [
                    {"geom": m.geom(int(g)).name or f"geom{g}", "pixels": int(c), "pieces": pieces_of.get(int(g), 0),
                     "est_outside_mm": round(1e3 * h.mesh_error.get(m.geom(int(g)).name or f"geom{g}", 0.0), 2)}
                    for c, g in sorted(zip(counts.tolist(), ids.tolist()), reverse=True)[:8]]
                load = np.asarray(h.tile_load(*args_h))
                rec.update(pieces=h.num_pieces, planes=h.num_planes, tile_pieces=h.tile_pieces,
                           max_pieces_meeting_a_tile=int(load.max()), tiles=h.num_tiles,
                           most_tiles_over_budget=int(np.asarray(h.tiles_over_budget(*args_h)).max()),
                           crowded_tiles=h.crowded_tiles, crowded_pieces=h.crowded_pieces,
                           plane_flops_per_frame=h.flops_per_frame()["plane_flops"],
                           worst_est_outside_mm=round(1e3 * max(h.mesh_error.values()), 2))
                if not args.no_full_tiles and h.tile_pieces < h.num_pieces:
                    cfg = RenderConfig(backend="hull", height=size, width=size,
                                       **{**overrides, "hull_tile_pieces": h.num_pieces})
                    full = np.asarray(jax.jit(BatchRenderer.from_scene(scene, cfg, len(qs)).render)(data)[1])
                    fi = [mask_iou(full[i], gl[i]) for i in range(len(qs))]
                    rec["all_pieces_per_tile"] = {
                        "mean": float(np.mean(fi)),
                        "missing_pixels": int(sum((~full[i] & gl[i]).sum() for i in range(len(qs))))}
                if args.time and size == 64:
                    f = jax.jit(r.render).lower(data).compile()
                    jax.block_until_ready(f(data))
                    ts = []
                    for _ in range(3):
                        t0 = time.perf_counter()
                        jax.block_until_ready(f(data))
                        ts.append(time.perf_counter() - t0)
                    rec["render_ms_4_frames_median"] = 1e3 * float(np.median(ts))
            row[str(size)] = rec
            print(name, size, "IoU", np.round(ious, 4), "mean", round(rec["mean"], 4),
                  {k: rec.get(k) for k in ("pieces", "extra_pixels", "missing_pixels", "max_pieces_meeting_a_tile",
                                           "most_tiles_over_budget", "crowded_tiles", "build_s",
                                           "render_ms_4_frames_median")},
                  rec.get("all_pieces_per_tile"), flush=True)
            if "extra_by_geom" in rec:
                print("   extra by geom:", [(e["geom"], e["pixels"], e["pieces"], e["est_outside_mm"])
                                            for e in rec["extra_by_geom"]], flush=True)
        result["robots"][name] = row
        result["load_end"] = os.getloadavg()
        path.write_text(json.dumps(result, indent=1))
    print("->", path)


if __name__ == "__main__":
    main()
