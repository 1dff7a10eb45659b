"""Contact sheet: a PNG grid of a batch of rendered frames and their robot masks (what the encoder sees).

`contact_sheet(rgb uint8[N,H,W,3], mask bool[N,H,W], extra_rows=(), cols=8) -> uint8[rows*H, cols*W, 3]`:
for each chunk of `cols` envs, one row of frames, one row of masks (robot white on black), then any extra rows
(e.g. OpenGL reference frames) for the same envs.

Command (documented in docs/rendering.md):
    python -m niljax.render.contact_sheet --robot h1 --mjcf ../shared/locomujoco/models/unitree_h1/h1.xml \
        --out sheet.png [--backend warp|hull|jax|auto] [--num-envs 8] [--size 224] [--opengl] [--seed 0]
renders the home pose and random joint poses (uniform +-`--spread` rad, clipped to the joint ranges) through
`BatchRenderer` inside `jax.jit`, and with `--opengl` adds `render_opengl`'s frames below for comparison.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def contact_sheet(
    rgb: np.ndarray, mask: np.ndarray, extra_rows: Sequence[np.ndarray] = (), cols: int = 8, gap: int = 2
) -> np.ndarray:
    """Grid image uint8[rows*(H+gap), cols*(W+gap), 3] of frames, masks and extra uint8[N,H,W,3] rows."""
    rgb, mask = np.asarray(rgb), np.asarray(mask)
    if rgb.ndim != 4 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be uint8[N,H,W,3], got {rgb.dtype}{list(rgb.shape)}")
    if mask.shape != rgb.shape[:3]:
        raise ValueError(f"mask must be bool{list(rgb.shape[:3])}, got {list(mask.shape)}")
    for e in extra_rows:
        if np.shape(e) != rgb.shape:
            raise ValueError(f"extra rows must match rgb's shape {rgb.shape}, got {np.shape(e)}")
    n, h, w, _ = rgb.shape
    cols = max(1, min(cols, n))
    mask_rgb = np.repeat((mask.astype(np.uint8) * 255)[..., None], 3, axis=-1)
    kinds = [rgb, mask_rgb, *[np.asarray(e, np.uint8) for e in extra_rows]]
    n_chunks = -(-n // cols)
    rows = n_chunks * len(kinds)
    sheet = np.full((rows * (h + gap), cols * (w + gap), 3), 64, np.uint8)
    for c in range(n_chunks):
        for k, imgs in enumerate(kinds):
            r = c * len(kinds) + k
            for j in range(cols):
                i = c * cols + j
                if i >= n:
                    break
                sheet[r * (h + gap) : r * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = imgs[i]
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    """Render a batch for one robot and write the contact sheet PNG (path printed); returns exit code 0."""
    p = argparse.ArgumentParser(prog="python -m niljax.render.contact_sheet", description=__doc__.split("\n")[0])
    p.add_argument("--robot", required=True, help="robot spec name (niljax.robots), e.g. h1, a1, toy_arm")
    p.add_argument("--mjcf", default=None, help="explicit MJCF path (else the spec's asset sources)")
    p.add_argument("--out", required=True, help="output PNG path")
    p.add_argument("--backend", default="auto", choices=["warp", "hull", "jax", "auto"])
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--size", type=int, default=224, help="square resolution")
    p.add_argument("--background", default="plain", choices=["plain", "scene"])
    p.add_argument("--spread", type=float, default=0.6, help="random joint offsets, rad")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--opengl", action="store_true", help="add a row of OpenGL frames of the same poses")
    args = p.parse_args(argv)

    from niljax import _runtime

    _runtime.configure()
    import imageio.v3 as iio
    import jax
    import mujoco

    from niljax.render.kinematics import kinematic_data
    from niljax.render.opengl import render_opengl
    from niljax.render.renderer import BatchRenderer, RenderConfig
    from niljax.robots import load_robot

    scene = load_robot(args.robot, mjcf_path=args.mjcf)
    m = scene.mj_model
    rng = np.random.default_rng(args.seed)
    lo, hi = scene.joint_range[:, 0], scene.joint_range[:, 1]
    datas = []
    for i in range(args.num_envs):
        d = mujoco.MjData(m)
        d.qpos[:] = scene.home_qpos
        if i > 0:
            d.qpos[scene.joint_qpos_adr] = np.clip(
                scene.home_qpos[scene.joint_qpos_adr] + rng.uniform(-args.spread, args.spread, len(lo)), lo, hi
            )
        mujoco.mj_forward(m, d)
        datas.append(d)

    data = kinematic_data(m, np.stack([d.qpos for d in datas]))
    cfg = RenderConfig(backend=args.backend, height=args.size, width=args.size, background=args.background)
    renderer = BatchRenderer.from_scene(scene, cfg, args.num_envs)
    rgb, mask = jax.jit(renderer.render)(data)
    extra = []
    if args.opengl:
        gl = [render_opengl(m, d, scene.robot_geom_mask, height=args.size, width=args.size,
                            background=args.background) for d in datas]
        extra.append(np.stack([g[0] for g in gl]))
    sheet = contact_sheet(np.asarray(rgb), np.asarray(mask), extra)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(out, sheet)
    print(f"wrote {out} ({sheet.shape[1]}x{sheet.shape[0]}, backend {renderer.backend}, {args.num_envs} envs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
