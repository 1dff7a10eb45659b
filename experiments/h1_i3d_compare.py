"""H1 with the I3D video term against the random-encoder H1 run, block by block (issue 28, item 5).

    python experiments/h1_i3d_compare.py RUN_DIR [--block 20000] [--out experiments/results/h1_i3d_cpu]

RUN_DIR is the I3D run's folder (`experiments/walking.py --robot h1 ... --out DIR` -> DIR/cpu/h1/full/seed0);
the baseline is experiments/results/h1_long_cpu (random-init TimeSformer, same CPU tier, `learner.pessimism=1`,
seed 0). For every block of `--block` env steps that both runs completed: mean training episode length, fall
rate, per-step mask IoU, per-step video term and reward total, and env-steps/s; plus both runs' evaluations
(protocol episode) at the steps they share. Copies the run's config.json and metrics.jsonl to --out and writes
comparison.md / comparison.json there. Works on a run still in progress (the blocks finished so far).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "results" / "h1_long_cpu"
KEYS = {"episode length": "train/episode_length", "fall rate": "train/fall_rate", "mask IoU per step": "reward/iou",
        "video term per step": "reward/video", "reward per step": "reward/total", "env-steps/s": "perf/env_steps_per_s"}


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def blocks(metrics: list[dict], block: int, last: int) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {}
    for name, key in KEYS.items():
        vals = []
        for lo in range(0, last, block):
            v = [r[key] for r in metrics if key in r and lo < r["step"] <= lo + block and np.isfinite(r[key])]
            vals.append(float(np.mean(v)) if v else None)
        out[name] = vals
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run_dir", type=Path)
    p.add_argument("--block", type=int, default=20_000)
    p.add_argument("--out", type=Path, default=ROOT / "experiments" / "results" / "h1_i3d_cpu")
    args = p.parse_args()
    if not (args.run_dir / "metrics.jsonl").is_file():
        raise SystemExit(f"{args.run_dir}: no metrics.jsonl (give the run folder, e.g. RUNS/cpu/h1/full/seed0)")
    i3d, base = rows(args.run_dir / "metrics.jsonl"), rows(BASELINE / "metrics.jsonl")
    reached = max(r["step"] for r in i3d)
    last = (reached // args.block) * args.block
    if last == 0:
        raise SystemExit(f"{args.run_dir}: {reached} env steps so far, less than one block of {args.block}")
    table = {"i3d": blocks(i3d, args.block, last), "random": blocks(base, args.block, last)}
    ev = {name: {r["step"]: r for r in m if "eval/walk_loco_sum" in r} for name, m in (("i3d", i3d), ("random", base))}
    shared = sorted(set(ev["i3d"]) & set(ev["random"]))
    heads = [f"{lo // 1000}–{(lo + args.block) // 1000}k" for lo in range(0, last, args.block)]
    fmt = lambda v: "—" if v is None else f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    lines = [f"Training, mean over each {args.block // 1000}k-env-step block (I3D run at {reached} env steps):", "",
             "| metric | encoder | " + " | ".join(heads) + " |", "|---|---|" + "---|" * len(heads)]
    for name in KEYS:
        for enc, label in (("random", "random TimeSformer"), ("i3d", "I3D K400 (raw cosine)")):
            lines.append(f"| {name} | {label} | " + " | ".join(fmt(v) for v in table[enc][name]) + " |")
    lines += ["", "Evaluations (the protocol episode, env reward / distance m / fell / eval IoU / video term):", "",
              "| env steps | random TimeSformer | I3D K400 |", "|---|---|---|"]
    for s in shared:
        cell = lambda r: (f"{r['eval/walk_loco_sum']:.1f} / {r['eval/distance']:.2f} / {r['eval/fell']:.0f} / "
                          f"{r['eval/iou_mean']:.3f} / {r['eval/video_mean']:.3f}")
        lines.append(f"| {s // 1000}k | {cell(ev['random'][s])} | {cell(ev['i3d'][s])} |")
    args.out.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "metrics.jsonl", "summary.json"):
        if (args.run_dir / f).is_file():
            shutil.copy2(args.run_dir / f, args.out / f)
    (args.out / "comparison.md").write_text("\n".join(lines) + "\n")
    (args.out / "comparison.json").write_text(json.dumps({"env_steps_reached": reached, "block": args.block,
                                                          "blocks": table, "shared_evals": shared}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
