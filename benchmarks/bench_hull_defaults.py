"""Hull renderer: the session-13 defaults against the earlier ones, side by side in one run (same process, same
poses): jitted render time per batch, mask IoU against `mujoco.Renderer` segmentation, pieces and analytic plane
FLOPs -> benchmarks/results/hull_defaults_<device>.json.

    nice -n 19 .venv/bin/python benchmarks/bench_hull_defaults.py --robots a1,op3 --sizes 64,224

"before": median cuts, 128 pieces per mesh, no crowded pass (the defaults of sessions 11-12, decomposed with
today's error estimate); "defaults": RenderConfig() as it stands. Poses: home + 3 random joint poses (seed 1),
as benchmarks/hull_registry_iou.py. Times: median of `--repeats` calls after a warm-up call.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from niljax import _runtime

_runtime.configure()

import jax
import numpy as np
from bench_render_hull import random_joint_poses  # this folder
from hull_registry_iou import scene_for  # this folder

from niljax.render import BatchRenderer, RenderConfig, mask_iou, render_opengl
from niljax.render.kinematics import kinematic_data

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "before": {"hull_split": "median", "hull_pieces": 128, "hull_crowded_tiles": 0.0},
    "defaults": {},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--robots", default="a1,op3")
    p.add_argument("--sizes", default="64,224")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--locomujoco", default=str(ROOT.parent / "shared" / "locomujoco"))
    p.add_argument("--out", default=None)
    args = p.parse_args()
    device = jax.devices()[0]
    tag = f"{device.platform}-{os.cpu_count()}core" if device.platform == "cpu" else device.device_kind
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"hull_defaults_{tag.replace(' ', '_')}.json")
    result = {"device": tag, "load_start": os.getloadavg(), "settings": SETTINGS, "robots": {}}
    for name in args.robots.split(","):
        scene = scene_for(name, Path(args.locomujoco))
        m = scene.mj_model
        qs = random_joint_poses(scene, 4)
        data = jax.block_until_ready(kinematic_data(m, qs))
        row = result["robots"][name] = {}
        for size in [int(s) for s in args.sizes.split(",")]:
            gl = [render_opengl(m, q, scene.robot_geom_mask, height=size, width=size)[1] for q in qs]
            for label, overrides in SETTINGS.items():
                r = BatchRenderer.from_scene(scene, RenderConfig(backend="hull", height=size, width=size,
                                                                 **overrides), len(qs))
                t0 = time.perf_counter()
                f = jax.jit(r.render).lower(data).compile()
                compile_s = time.perf_counter() - t0
                mask = np.asarray(jax.block_until_ready(f(data))[1])
                ts = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    jax.block_until_ready(f(data))
                    ts.append(time.perf_counter() - t0)
                ious = [mask_iou(mask[i], gl[i]) for i in range(len(qs))]
                flops = r.engine.flops_per_frame()
                row[f"{label}_{size}"] = {"iou_mean": float(np.mean(ious)), "ious": ious,
                                          "render_ms_per_frame": 1e3 * float(np.median(ts)) / len(qs),
                                          "compile_s": compile_s, "pieces": r.engine.num_pieces,
                                          "plane_flops_per_frame": flops["plane_flops"],
                                          "total_flops_per_frame": flops["total_flops"]}
                print(name, size, label, {k: (round(v, 4) if isinstance(v, float) else v)
                                          for k, v in row[f"{label}_{size}"].items() if k != "ious"}, flush=True)
            b, d = row[f"before_{size}"], row[f"defaults_{size}"]
            row[f"ratio_{size}"] = {"time": d["render_ms_per_frame"] / b["render_ms_per_frame"],
                                    "plane_flops": d["plane_flops_per_frame"] / b["plane_flops_per_frame"]}
            print(name, size, "defaults / before:", {k: round(v, 3) for k, v in row[f"ratio_{size}"].items()},
                  flush=True)
        result["load_end"] = os.getloadavg()
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
    print("->", out)


if __name__ == "__main__":
    main()
