"""Picture of the camera variants (docs/rendering.md, "Cameras"): one walk, rendered by the training renderer.

Rows: follow camera, follow@45 (azimuth offset), follow@90, static camera (stays at frame 0's pose), field of
view x0.85 and x1.15 (the extremes of a 15 % jitter). Columns: frames evenly spaced over the clip. Every image
comes from `BatchRenderer.render_views` inside `jax.jit`, as in training; the static camera uses the same
shift the training loop applies (`niljax.render.camera.static_anchor_shift`).

    python experiments/camera_views.py --robot h1 --out experiments/results/camera_views/h1.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from walking import FIXTURES, fixture_file  # noqa: E402 - ../shared's LocoMuJoCo files, else shipped / fetched


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="h1", choices=sorted(FIXTURES))
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--backend", default="hull", choices=("hull", "jax", "warp"))
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--seconds", type=float, default=0.8)
    p.add_argument("--out", default="experiments/results/camera_views/h1.png")
    args = p.parse_args()

    import jax
    import jax.numpy as jnp

    from niljax.reference.first_frame import load_trajectory
    from niljax.reference.video_io import write_png
    from niljax.render import BatchRenderer, RenderConfig
    from niljax.render.camera import static_anchor_shift
    from niljax.render.kinematics import kinematic_data
    from niljax.robots import load_robot
    from niljax.sim.looping import resample_qpos

    mjcf, traj, fps = FIXTURES[args.robot]
    scene = load_robot(args.robot, mjcf_path=fixture_file(mjcf), plain_background=True)
    qpos, rate = load_trajectory(fixture_file(traj), scene, fps=fps)
    q = resample_qpos(qpos, rate, 100.0, scene.mj_model)
    idx = np.linspace(0, min(len(q) - 1, int(args.seconds * 100)), args.frames).round().astype(int)
    data = kinematic_data(scene.mj_model, q[idx])
    base = RenderConfig(height=args.size, width=args.size, backend=args.backend,
                        views=("follow", "follow@45", "follow@90"), fovy_jitter=0.15)
    renderer = BatchRenderer(scene.mj_model, scene.robot_geom_mask, base, args.frames)
    root = data.xpos[:, scene.root_body_id]
    static = static_anchor_shift(None, jnp.zeros(args.frames, jnp.int32), root, jnp.broadcast_to(root[0], root.shape))
    render = jax.jit(lambda d, shift, f: renderer.render_views(d, shift=shift, fovy_factor=f))
    ones = jnp.ones(args.frames, jnp.float32)
    rows, labels = [], []
    views, _ = render(data, None, ones)
    for v, name in enumerate(base.views):
        rows.append(np.asarray(views[v]))
        labels.append(name)
    still, _ = render(data, static, ones)
    rows.append(np.asarray(still[0]))
    labels.append("static")
    for factor in (0.85, 1.15):
        zoomed, _ = render(data, None, ones * factor)
        rows.append(np.asarray(zoomed[0]))
        labels.append(f"fovy x{factor}")
    gap = 2
    h = w = args.size
    sheet = np.full((len(rows) * (h + gap), args.frames * (w + gap), 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c in range(args.frames):
            sheet[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = row[c]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(out, sheet)
    meta = {"robot": args.robot, "rows": labels, "frame_times_s": (idx / 100.0).tolist(), "size": args.size,
            "backend": args.backend, "render": dataclasses.asdict(base),
            "command": f"python experiments/camera_views.py --robot {args.robot} --size {args.size} "
                       f"--backend {args.backend} --out {args.out}"}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({len(rows)} rows: {', '.join(labels)})")


if __name__ == "__main__":
    main()
