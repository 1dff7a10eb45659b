"""Which I3D embedding makes a usable video term on robot renders? (issue 28, item 2: the choice, before training)

Renders the looped mocap walk of a robot and `niljax landscape`'s variants of it (time-shifted, re-timed,
standing, random joint motion) with the training renderer (48x48 by default, the CPU tier), embeds the 8-frame
clips ending at every `--stride`-th step with Kinetics-400 I3D at each `--sizes` (frames resized up from the
render), and reports for each embedding form the video term's mean per variant and the margin of the
reference over the best other variant:
  logits_raw       cosine of global-pool logits (the paper's form: cosine of raw embeddings)
  logits_centred   cosine after subtracting the mean logits of the reference clips
  features_raw     cosine of the pooled Mixed_5c features (post-ReLU)
  features_centred the same, centred on the reference clips' mean feature
and the mask IoU of each variant (the other imitation term) for scale. Not the training-time landscape:
`niljax landscape BUNDLE` scores a bundle's full reward; this compares embeddings at once.

    python experiments/landscape_i3d.py --robot a1 --frames 0 500 --out experiments/results/landscape_i3d/choice_a1.json

`--make-bundle DIR` instead writes the looped walk (`--seconds`) as a replay bundle embedded with I3D at
`--sizes[0]` px (what `niljax landscape DIR` scores), with the renderer of the CPU tier.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from niljax import _runtime

_runtime.configure()

import numpy as np  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "locomujoco"
FIXTURES = {"a1": ("models/unitree_a1/unitree_a1_torque.xml", "datasets/walk_straight_UnitreeA1.npz", 500.0),
            "h1": ("models/unitree_h1/h1.xml", "datasets/02-constspeed_UnitreeH1.npz", 500.0)}


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-8)


def plot_choice(path: Path) -> Path:
    """PNG beside the JSON: mean video term per motion for each embedding form, and the mask IoU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(path.read_text())
    forms = data["forms"]
    names = list(data["iou_mean"])
    panels = [(k, forms[k]["mean"]) for k in forms] + [("mask IoU", data["iou_mean"])]
    cols = 3
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.2 * rows), squeeze=False)
    for ax, (title, means) in zip(axes.flat, panels):
        vals = [means[n] for n in names]
        ax.barh(range(len(names)), vals, color=["tab:green" if n == "reference" else "tab:gray" for n in names])
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.invert_yaxis()
        lo = min(vals)
        ax.set_xlim(min(lo - 0.05 * (1 - lo + 1e-3), 0) if lo < 0 else lo - 0.2 * (1 - lo + 1e-3), 1.0 + 0.02)
        margin = forms[title]["margin"] if title in forms else None
        ax.set_title(title + (f"  margin {margin:+.3f}" if margin is not None else ""), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(alpha=0.3, axis="x")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{data['robot']}: video term per motion, I3D forms (render {data['render_size']} px, "
                 f"{data['scored_steps']} clips per motion)", fontsize=10)
    fig.tight_layout()
    out = path.with_suffix(".png")
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def make_i3d_bundle(args: argparse.Namespace) -> None:
    from walk_landscape import looped_reference

    from niljax.encoders.factory import EncoderConfig
    from niljax.render import RenderConfig
    from niljax.robots import load_robot
    from niljax.train.demo import make_replay_bundle

    mjcf, traj, fps = FIXTURES[args.robot]
    scene = load_robot(args.robot, mjcf_path=str(SHARED / mjcf), plain_background=True)
    ref = looped_reference(scene, str(SHARED / traj), fps, args.seconds, tuple(args.frames) if args.frames else None)
    render = RenderConfig(height=args.render_size, width=args.render_size, backend="jax", camera_anchor="both")
    t0 = time.time()
    path = make_replay_bundle(Path(args.make_bundle), args.robot, np.asarray(ref), render,
                              EncoderConfig(kind="i3d", size=args.sizes[0], output="logits", clip_len=8), 8,
                              source=f"replay:{traj} looped to {args.seconds:g} s", skill="walking", scene=scene)
    print(f"bundle {path}: {len(ref)} frames in {time.time() - t0:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--robot", default="a1", choices=sorted(FIXTURES))
    p.add_argument("--frames", type=int, nargs=2, default=None)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--render-size", type=int, default=48)
    p.add_argument("--sizes", type=int, nargs="+", default=[48, 112])
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--out", default=None)
    p.add_argument("--make-bundle", default=None, metavar="DIR")
    p.add_argument("--replot", default=None, metavar="JSON", help="only redraw the PNG of a written JSON")
    args = p.parse_args()
    if args.replot:
        plot_choice(Path(args.replot))
        return
    if args.make_bundle:
        make_i3d_bundle(args)
        return
    if not args.out:
        p.error("--out is required (or --make-bundle DIR)")

    import jax
    import jax.numpy as jnp

    from walk_landscape import looped_reference
    from niljax.diagnostics.landscape import landscape_variants, render_poses
    from niljax.encoders.i3d import I3D, load_k400_variables
    from niljax.encoders.preprocess import clips_ending_at, preprocess_clip
    from niljax.reference.segment import mask_iou
    from niljax.render import RenderConfig
    from niljax.robots import load_robot

    mjcf, traj, fps = FIXTURES[args.robot]
    scene = load_robot(args.robot, mjcf_path=str(SHARED / mjcf), plain_background=True)
    hz = 1.0 / scene.control_dt
    ref = looped_reference(scene, str(SHARED / traj), fps, args.seconds, tuple(args.frames) if args.frames else None)
    t = len(ref)
    variants = landscape_variants(scene, ref, hz, shifts_s=(0.02, 0.05, 0.1, 0.25), speeds=(0.5, 1.5), num_random=2)
    names = list(variants)
    cfg = RenderConfig(height=args.render_size, width=args.render_size, backend="jax", camera_anchor="both")
    t0 = time.time()
    rgb, mask = render_poses(scene, np.concatenate([variants[n] for n in names]), cfg, batch=32)
    rgb = rgb.reshape(len(names), t, *rgb.shape[1:])
    mask = mask.reshape(len(names), t, *mask.shape[1:])
    print(f"rendered {len(names)} x {t} frames in {time.time() - t0:.0f} s", flush=True)
    ends = np.arange(7, t, args.stride)
    iou = {n: float(mask_iou(mask[i], mask[0]).mean()) for i, n in enumerate(names)}
    params = jax.tree.map(jnp.asarray, load_k400_variables())

    results: dict = {"robot": args.robot, "steps": t, "scored_steps": len(ends), "render_size": args.render_size,
                     "iou_mean": iou, "forms": {}}
    for size in args.sizes:
        @jax.jit
        def embed(frames: jax.Array, masks: jax.Array, size: int = size) -> dict:
            x = preprocess_clip(frames, masks, size=size, mean=(0.5,) * 3, std=(0.5,) * 3)
            return I3D().apply({"params": params}, x)

        t0 = time.time()
        outs = {"logits": [], "features": []}
        for i in range(len(names)):
            clips = clips_ending_at(jnp.asarray(rgb[i]), jnp.asarray(ends), 8)
            cmask = clips_ending_at(jnp.asarray(mask[i]), jnp.asarray(ends), 8)
            o = embed(clips, cmask)
            for k in outs:
                outs[k].append(np.asarray(o[k]))
        print(f"size {size}: embedded {len(names) * len(ends)} clips in {time.time() - t0:.0f} s", flush=True)
        for head in ("logits", "features"):
            e = np.stack(outs[head])  # [V, S, D]
            mu = e[0].mean(0)
            for form, x in (("raw", e), ("centred", e - mu)):
                per = {n: cosine(x[i], x[0]) for i, n in enumerate(names)}
                means = {n: float(v.mean()) for n, v in per.items()}
                others = {n: v for n, v in means.items() if n != "reference"}
                best = max(others, key=others.get)
                key = f"{head}_{form}@{size}"
                results["forms"][key] = {"mean": means, "best_other": best,
                                         "margin": means["reference"] - others[best],
                                         "range": means["reference"] - min(others.values()),
                                         "ref_above_all": bool(means["reference"] > others[best])}
                print(f"{key:24s} margin {means['reference'] - others[best]:+.4f} (vs {best}) range "
                      f"{means['reference'] - min(others.values()):.4f} | "
                      + " ".join(f"{n}={v:.3f}" for n, v in means.items()), flush=True)
    print("IoU: " + " ".join(f"{n}={v:.3f}" for n, v in iou.items()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), **results}, indent=2) + "\n")
    plot_choice(Path(args.out))


if __name__ == "__main__":
    main()
