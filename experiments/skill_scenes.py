"""Contact sheet of every skill scene: start, middle and end of the scripted keyframe reference, seen from the
`follow` camera and the skill's `static` camera (OpenGL, "scene" background: objects drawn, floor hidden).

    python experiments/skill_scenes.py --robot h1 --out experiments/results/skill_scenes/h1.png

Rows: one per skill (walking has no objects and no keyframes: its start pose only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="h1")
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--out", default="experiments/results/skill_scenes/h1.png")
    args = p.parse_args()
    from PIL import Image

    from niljax.render import render_opengl
    from niljax.robots import list_skills, load_skill_scene

    size, rows = args.size, []
    for name in list_skills():
        scene = load_skill_scene(args.robot, name, plain_background=True)
        ref = scene.reference_qpos
        poses = [scene.home_qpos] if ref is None else [ref[0], ref[len(ref) // 2], ref[-1]]
        cams = ["follow"] + (["static"] if scene.static_camera_id >= 0 else [])
        tiles = [np.asarray(render_opengl(scene.mj_model, q, scene.robot_geom_mask, camera=cam, height=size,
                                          width=size, background="scene")[0]) for q in poses for cam in cams]
        row = np.concatenate(tiles, axis=1)
        rows.append(np.pad(row, ((0, 0), (0, 6 * size - row.shape[1]), (0, 0))))
        print(f"{name}: {len(poses)} poses x {cams}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, axis=0)).save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
