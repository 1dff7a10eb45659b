"""Reward landscape of a replayed reference: how the NIL reward ranks the reference motion against near misses.

Variants of the bundle's joint trajectory qpos[T,nq] (`landscape_variants`), each T frames at the control rate:
  reference           the bundle's motion, re-rendered with the training renderer (vs `bundle`: the bundle's
                      own frames, the exact upper bound; the gap between the two is the renderer gap)
  shift_<+s>s         the motion delayed by s seconds (first pose held), negative s: ahead (last pose held)
  speed_x<f>          replayed f times as fast (frame k shows the pose at k·f, interpolated; held at the end)
  standing            the first pose held still
  random_<i>          root as the reference (so the camera follows the same path), actuated joints a random
                      walk from the first pose (std `random_rad_per_sqrt_s`·sqrt(dt) per step, within limits)
`render_poses` renders them with `BatchRenderer` (kinematics only; one compile for any number of frames) and
`compute_landscape` scores every variant with `niljax.reward.score_videos` (video + IoU; penalties need physics,
see there). With camera anchor "reference" the camera is moved onto the reference's root path, as in training.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _time_warp(qpos: np.ndarray, positions: np.ndarray, model: Any = None) -> np.ndarray:
    """qpos sampled at fractional frame `positions` (clamped to [0, T-1]), linear, free-joint quaternions renormalised."""
    from niljax.sim.looping import interpolate_qpos

    return interpolate_qpos(qpos, positions, model)


def landscape_variants(scene: Any, ref_qpos: np.ndarray, control_hz: float, *,
                       shifts_s: tuple[float, ...] = (0.1, 0.25, 0.5), speeds: tuple[float, ...] = (0.5, 0.75, 1.5),
                       num_random: int = 2, random_rad_per_sqrt_s: float = 0.7,
                       seed: int | None = 0) -> dict[str, np.ndarray]:
    """{name: qpos f64[T,nq]} (see the module docstring); `seed=None` draws fresh random motions."""
    ref = np.asarray(ref_qpos, np.float64)
    if ref.ndim != 2 or ref.shape[1] != scene.mj_model.nq or len(ref) < 2:
        raise ValueError(f"reference qpos must be [T>=2, nq={scene.mj_model.nq}], got {list(ref.shape)}")
    t = len(ref)
    k = np.arange(t, dtype=np.float64)
    model = scene.mj_model
    out = {"reference": ref}
    for s in shifts_s:
        lag = round(s * control_hz)
        if lag == 0:
            raise ValueError(f"time shift {s} s is less than one control step (1/{control_hz:g} s)")
        out[f"shift_{s:+g}s"] = ref[np.clip(np.arange(t) - lag, 0, t - 1)]
    for f in speeds:
        if f <= 0 or f == 1:
            raise ValueError(f"replay speed {f} must be positive and not 1")
        out[f"speed_x{f:g}"] = _time_warp(ref, k * f, model)
    out["standing"] = np.repeat(ref[:1], t, axis=0)
    rng = np.random.default_rng(seed)
    adr = np.asarray(scene.joint_qpos_adr)
    lo, hi = np.asarray(scene.joint_range, np.float64).T
    step = random_rad_per_sqrt_s / np.sqrt(control_hz)
    for i in range(num_random):
        q = ref.copy()
        q[:, adr] = np.clip(ref[:1, adr] + np.cumsum(rng.normal(0.0, step, (t, len(adr))), axis=0), lo, hi)
        out[f"random_{i}"] = q
    return out


def root_positions(scene: Any, qpos: np.ndarray) -> np.ndarray:
    """f32[T,3] world position of the root body per frame (host kinematics)."""
    from niljax.sim.replay import kinematic_poses

    return kinematic_poses(scene, qpos)["xpos"][:, scene.root_body_id].astype(np.float32)


def render_poses(scene: Any, qpos: np.ndarray, render_config: Any, *, camera_shift: np.ndarray | None = None,
                 batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Render qpos[M,nq] (kinematics only) in chunks of `batch`: rgb uint8[M,H,W,3], mask bool[M,H,W].

    camera_shift f32[M,3] moves the render camera per frame (world metres; `BatchRenderer.render(shift=)`).
    One renderer of `batch` envs and one compile whatever M is (the last chunk is padded).
    """
    import jax
    import jax.numpy as jnp

    from niljax.render import BatchRenderer
    from niljax.render.kinematics import kinematic_data

    qpos = np.asarray(qpos, np.float64)
    m = len(qpos)
    batch = max(1, min(batch, m))
    shift = np.zeros((m, 3), np.float32) if camera_shift is None else np.asarray(camera_shift, np.float32)
    if shift.shape != (m, 3):
        raise ValueError(f"camera_shift must be f32[{m},3], got {list(shift.shape)}")
    renderer = BatchRenderer(scene.mj_model, scene.robot_geom_mask, render_config, batch)

    @jax.jit
    def render(data: Any, shift: jax.Array) -> tuple[jax.Array, jax.Array]:
        return renderer.render(data, shift=shift)

    pad = (-m) % batch
    qpos = np.concatenate([qpos, np.repeat(qpos[-1:], pad, axis=0)])
    shift = np.concatenate([shift, np.repeat(shift[-1:], pad, axis=0)])
    rgbs, masks = [], []
    for i in range(0, len(qpos), batch):
        rgb, mask = render(kinematic_data(scene.mj_model, qpos[i:i + batch]), jnp.asarray(shift[i:i + batch]))
        rgbs.append(np.asarray(rgb))
        masks.append(np.asarray(mask))
    return np.concatenate(rgbs)[:m], np.concatenate(masks)[:m]


def compute_landscape(bundle: Any, scene: Any, encoder: Any, reward_config: Any, render_config: Any, *,
                      variants: dict[str, np.ndarray] | None = None, anchor: str = "agent", steps: int | None = None,
                      batch: int = 32, **variant_kw: Any) -> dict[str, Any]:
    """Score every variant of the bundle's motion; returns {"variants": {name: {"terms": {term: f32[T]},
    <term>_mean...}}, "ranking": names by mean total, "margins": {term: {"margin": the re-rendered reference minus
    the best other motion, "best_other", "range": reference minus the worst}}, "steps", "anchor", "control_rate_hz"}.

    `bundle` must record `qpos` (a replayed reference: `niljax reference --backend replay`). `variants` defaults to
    `landscape_variants(scene, bundle.qpos[:steps], ..., **variant_kw)`; "bundle" (its own frames and masks) is
    always added. anchor: "agent" (the track camera, the training default) or "reference" (the camera on the
    reference's root path; needs nothing beyond qpos).
    """
    from niljax.diagnostics.common import summarize_terms
    from niljax.reward.score import score_videos

    if bundle.qpos is None:
        raise ValueError("the landscape needs the reference's joint trajectory, and this bundle records none (only "
                         "replayed references do: `niljax reference --backend replay --trajectory FILE`); score a "
                         "video against it with `niljax score VIDEO --reference BUNDLE` instead")
    if anchor not in ("agent", "reference"):
        raise ValueError(f"anchor must be 'agent' or 'reference', got {anchor!r}")
    t = bundle.num_frames if steps is None else int(steps)
    if not 2 <= t <= bundle.num_frames:
        raise ValueError(f"steps must lie in [2, {bundle.num_frames}] (the bundle's frames), got {steps}")
    hz = bundle.metadata.control_rate_hz
    ref = np.asarray(bundle.qpos[:t], np.float64)
    if variants is None:
        variants = landscape_variants(scene, ref, hz, **variant_kw)
    names = list(variants)
    qpos = np.concatenate([np.asarray(variants[n], np.float64) for n in names])
    if qpos.shape[0] != t * len(names):
        raise ValueError(f"every variant must have {t} frames, got {[len(variants[n]) for n in names]}")
    shift = None
    if anchor == "reference":  # the reference's displacement since the start replaces each pose's own
        ref_root = root_positions(scene, ref)
        ref_path = ref_root - ref_root[:1]
        roots = root_positions(scene, qpos).reshape(len(names), t, 3)
        shift = (ref_path[None] - (roots - roots[:, :1])).reshape(-1, 3)
    rgb, mask = render_poses(scene, qpos, render_config, camera_shift=shift, batch=batch)
    h, w = rgb.shape[1:3]
    frames = np.concatenate([bundle.frames[None, :t], rgb.reshape(len(names), t, h, w, 3)])
    masks = np.concatenate([bundle.masks[None, :t], mask.reshape(len(names), t, h, w)])
    terms = score_videos(reward_config, bundle.to_device(), encoder, frames, masks)
    result: dict[str, Any] = {}
    for i, name in enumerate(["bundle", *names]):
        per = {k: v[i] for k, v in terms.items()}
        result[name] = dict(summarize_terms(per), mask_area=float(masks[i].mean()), terms=per)
    ranking = sorted(result, key=lambda n: -result[n]["total_mean"])
    # margin per term: the re-rendered reference minus the best other motion (the bundle's own frames excluded)
    others = [n for n in result if n not in ("bundle", "reference")]
    margins = {}
    for term in ("video", "iou", "total"):
        best = max(others, key=lambda n: result[n][f"{term}_mean"])
        margins[term] = {"margin": result["reference"][f"{term}_mean"] - result[best][f"{term}_mean"],
                         "best_other": best,
                         "range": result["reference"][f"{term}_mean"] - min(result[n][f"{term}_mean"] for n in others)}
    return {"variants": result, "ranking": ranking, "margins": margins, "steps": t, "anchor": anchor,
            "control_rate_hz": hz}


def landscape_json(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able part of `compute_landscape`'s result (per-step terms as lists, no images)."""
    out = {k: v for k, v in result.items() if k != "variants"}
    out["variants"] = {name: {k: ({t: [round(float(x), 5) for x in y] for t, y in v.items()} if k == "terms" else v)
                              for k, v in entry.items()} for name, entry in result["variants"].items()}
    return out


def plot_landscape(path: Any, result: dict[str, Any], *, title: str) -> Any:
    """PNG: mean video / IoU / total per variant (bars, best first) above their per-step curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = result["ranking"]
    entries = result["variants"]
    hz = result["control_rate_hz"]
    terms = ("video", "iou", "total")
    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    cmap = plt.get_cmap("tab20")
    colors = {n: cmap(i % 20) for i, n in enumerate(entries)}
    for ax, term in zip(axes[0], terms):
        values = [entries[n][f"{term}_mean"] for n in names]
        ax.barh(range(len(names)), values, color=[colors[n] for n in names])
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"mean {term} over {result['steps']} steps", fontsize=9)
        lo, hi = min(values), max(values)
        span = max(hi - lo, 1e-3)  # zoom on the spread (a random encoder's video term varies in the 2nd digit)
        ax.set_xlim(lo - 0.6 * span, hi + 0.35 * span)
        ax.ticklabel_format(axis="x", useOffset=False)
        ax.tick_params(axis="x", labelsize=7)
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.3f}", va="center", fontsize=7)
    for ax, term in zip(axes[1], terms):
        for n in entries:
            y = entries[n]["terms"][f"reward/{term}"]
            ax.plot(np.arange(len(y)) / hz, y, color=colors[n], lw=1.2, label=n)
        ax.set_xlabel("time (s)")
        ax.ticklabel_format(axis="y", useOffset=False)
        ax.set_title(f"{term} per step", fontsize=9)
        ax.grid(alpha=0.3)
    axes[1][2].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
