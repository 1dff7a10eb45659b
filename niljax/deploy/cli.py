"""`niljax export`, `niljax play` and `niljax sim2sim` (docs/deploy.md).

    niljax export RUN [--format npz onnx] [--out DIR]   standalone policy + policy.json (RUN/export)
    niljax play RUN [--out play.mp4] [--viewer]          the export in C MuJoCo: mp4 + protocol score
    niljax sim2sim RUN [--robustness] [--friction 0.8]   MJX vs C MuJoCo: divergence, scores, robustness table

`play` and `sim2sim` take a run folder (its `export/`, made with the npz format first when missing) or an export
folder. Arguments are typed (tyro): `niljax COMMAND --help` lists them.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

import tyro

__all__ = ["export_main", "play_main", "sim2sim_main"]


@dataclasses.dataclass(frozen=True)
class ExportArgs:
    """Export a finished run's deterministic policy: policy.npz (+ policy.onnx) and policy.json, checked against
    the JAX actor on random observations."""

    run_dir: tyro.conf.Positional[str]
    format: tuple[Literal["npz", "onnx"], ...] = ("npz",)
    """npz (always written: the numpy reference) and/or onnx (needs the `export` extra)."""
    out: str | None = None
    """Export folder (default RUN/export)."""
    reference: str | None = None
    """The run's reference bundle, when it is no longer where config.json says."""


@dataclasses.dataclass(frozen=True)
class PlayArgs:
    """Run the exported policy in C MuJoCo from the protocol's start state; write an mp4 and the protocol score."""

    path: tyro.conf.Positional[str]
    """A run folder (its export/, made first when missing) or an export folder."""
    out: str | None = None
    """The mp4 (default EXPORT/play.mp4; play.json beside it)."""
    steps: int | None = None
    """Control steps (default: the protocol's horizon)."""
    viewer: bool = False
    """Open MuJoCo's interactive viewer (needs a display) and play in real time."""
    video: bool = True
    width: int = 480
    height: int = 360
    friction: float = 1.0
    """Scale of every geom's sliding friction."""
    mass: float = 1.0
    """Scale of every robot body's mass and inertia."""
    action_delay: int = 0
    """Control steps between the policy's output and the actuators."""
    obs_noise: float = 0.0
    """Std of gaussian noise on the proprioceptive observation entries."""
    seed: int = 0
    """Seed of the observation noise."""
    mjcf: str | None = None
    """The robot's model file, when it is no longer where the export says."""


@dataclasses.dataclass(frozen=True)
class Sim2SimArgs:
    """The policy in MJX and in C MuJoCo from the same state: joint and root divergence, both protocol scores,
    and the C MuJoCo score under perturbations (JSON, PNG, markdown table)."""

    path: tyro.conf.Positional[str]
    """A run folder (its export/, made first when missing) or an export folder."""
    out: str | None = None
    """Output folder (default EXPORT/sim2sim)."""
    robustness: bool = False
    """Add the standard perturbations: friction x0.8/x1.2, mass x0.9/x1.1, one-step delay, obs noise 0.01/0.05."""
    friction: tuple[float, ...] = ()
    """Extra rows: friction scales."""
    mass: tuple[float, ...] = ()
    """Extra rows: mass scales."""
    action_delay: tuple[int, ...] = ()
    """Extra rows: action delays (control steps)."""
    obs_noise: tuple[float, ...] = ()
    """Extra rows: observation noise stds."""
    noise_episodes: int = 8
    """Episodes (seeds) per observation-noise row."""
    steps: int | None = None
    impl: Literal["jax", "warp"] | None = None
    """MJX backend (default: the run's)."""
    mjx_control: bool = True
    """Also run the MJX episode as another XLA program (vmapped x2): the divergence of float32 rounding alone."""
    mjcf: str | None = None


def _export_of(path: str) -> Path:
    """An export folder for `path`: itself, RUN/export, or a fresh npz export of the run."""
    p = Path(path)
    if (p / "policy.json").is_file() and not (p / "config.json").is_file():
        return p
    if (p / "export" / "policy.json").is_file():
        return p / "export"
    from niljax.deploy.export import export_run

    print(f"[niljax] {p} has no export yet: exporting the policy (npz) to {p / 'export'}")
    return export_run(p)


def export_main(argv: list[str]) -> int:
    args = tyro.cli(ExportArgs, args=argv, prog="niljax export")
    from niljax.deploy.export import export_run

    out = export_run(args.run_dir, args.out, tuple(dict.fromkeys(("npz",) + tuple(args.format))), args.reference)
    info = json.loads((out / "policy.json").read_text())
    files = [f for f in (info["policy"]["npz"], info["policy"]["onnx"]) if f]
    print(f"[niljax] exported {info['robot']} policy ({info['policy']['obs_dim']} obs -> {info['policy']['act_dim']} "
          f"actions) to {out}: {', '.join(files)}, policy.json")
    print(f"[niljax] agreement with the JAX actor (max |action diff| on {info['checks']['samples']} random "
          f"observations): " + ", ".join(f"{k} {v:.2e}" for k, v in info["checks"].items() if "_vs_" in k))
    return 0


def play_main(argv: list[str]) -> int:
    args = tyro.cli(PlayArgs, args=argv, prog="niljax play")
    from niljax.deploy.play import Perturbation, play

    perturbation = Perturbation(args.friction, args.mass, args.action_delay, args.obs_noise, args.seed)
    result = play(_export_of(args.path), args.out, steps=args.steps, viewer=args.viewer, video=args.video,
                  perturbation=perturbation, mjcf=args.mjcf, width=args.width, height=args.height)
    print(json.dumps(result, indent=2))
    return 0


def sim2sim_main(argv: list[str]) -> int:
    args = tyro.cli(Sim2SimArgs, args=argv, prog="niljax sim2sim")
    from niljax.deploy.play import Perturbation
    from niljax.deploy.sim2sim import sim2sim, standard_perturbations

    perturbations = standard_perturbations() if args.robustness else []
    perturbations += [Perturbation(friction=x) for x in args.friction] + [Perturbation(mass=x) for x in args.mass]
    perturbations += [Perturbation(action_delay=k) for k in args.action_delay]
    perturbations += [Perturbation(obs_noise=s) for s in args.obs_noise]
    result = sim2sim(_export_of(args.path), args.out, perturbations=perturbations, noise_episodes=args.noise_episodes,
                     steps=args.steps, impl=args.impl, mjcf=args.mjcf, mjx_control=args.mjx_control)
    d = result["divergence"]
    print(f"[niljax] {result['robot']}: protocol score MJX {result['scores']['mjx']['walk_loco_sum']:.1f}, "
          f"C MuJoCo {result['scores']['c_mujoco']['walk_loco_sum']:.1f}; roots 5 cm apart after "
          f"{d['first_root_divergence_s']} s; final joint divergence {d['joint_divergence_final_max_rad']:.3g} rad")
    if "mjx_control" in result:
        dc = result["mjx_control"]["divergence_vs_mjx"]
        print(f"[niljax] control, MJX vs MJX as another XLA program: roots 5 cm apart after "
              f"{dc['first_root_divergence_s']} s; final joint divergence {dc['joint_divergence_final_max_rad']:.3g} rad")
    for row in result["robustness"]:
        print(f"  {row['simulator']:<22} {row['label']:<26} score {row['scores']['walk_loco_sum']:7.1f}  "
              f"fell {row['scores']['fell']:.2f}")
    out = Path(args.out) if args.out else Path(result["export"]) / "sim2sim"
    print(f"[niljax] wrote {out / 'sim2sim.json'}, {out / 'sim2sim.png'}, {out / 'robustness.md'}")
    return 0
