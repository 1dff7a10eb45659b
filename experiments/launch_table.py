"""Launch a whole table of runs, one after another, then write it with `niljax table`.

    python experiments/launch_table.py walking --tier cpu --seeds 0 1      # H1, Talos, G1, A1 (full reward)
    python experiments/launch_table.py ablation --tier cpu --seeds 0 1     # H1 reward ablations
    python experiments/launch_table.py walking --tier gpu --seeds 0 1 2 --encoder-weights PATH

Each run is `experiments/walking.py` (see it for the reference, tiers and protocol); `--with-control` adds the
zero-reward control per robot. Runs that already finished (summary.json with "after") are skipped, so the
command can be re-issued after an interruption; an interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLES = {
    "walking": [(robot, "full") for robot in ("h1", "talos", "g1", "a1")],
    "ablation": [("h1", v) for v in ("full", "no_regularisation", "no_iou", "no_video", "only_regularisation",
                                     "iou_only", "video_only")],
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("table", choices=sorted(TABLES))
    p.add_argument("--tier", default="cpu", choices=("cpu", "gpu"))  # niljax.train.tiers.TIERS
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--env-steps", type=int, default=None)
    p.add_argument("--out", default=None, help="runs folder (default runs/<table>-<tier>)")
    p.add_argument("--with-control", action="store_true", help="also the zero-reward control per robot")
    p.add_argument("--encoder-weights", default=None)
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = p.parse_args()
    out = Path(args.out or f"runs/{args.table}-{args.tier}")
    plan = list(TABLES[args.table])
    if args.with_control:
        plan += [(robot, "zero_reward") for robot in dict.fromkeys(r for r, _ in plan)]
    for robot, variant in plan:
        for seed in args.seeds:
            summary = out / args.tier / robot / variant / f"seed{seed}" / "summary.json"  # walking.py's run_root
            if summary.exists() and "after" in json.loads(summary.read_text() or "{}"):
                print(f"[table] done already: {summary.parent}")
                continue
            cmd = [sys.executable, str(HERE / "walking.py"), "--robot", robot, "--variant", variant, "--tier",
                   args.tier, "--seed", str(seed), "--out", str(out), "--no-progress"]
            if args.env_steps:
                cmd += ["--env-steps", str(args.env_steps)]
            if args.encoder_weights:
                cmd += ["--encoder-weights", args.encoder_weights]
            print("[table]", " ".join(cmd), flush=True)
            if not args.dry_run and subprocess.call(cmd) != 0:
                print(f"[table] run failed: {robot} {variant} seed {seed} (continuing)", file=sys.stderr)
    table_cmd = [sys.executable, "-m", "niljax.cli", "table", str(out / args.tier), "--out", str(out / "table"),
                 "--paper", "ablation" if args.table == "ablation" else "walking"]
    print("[table]", " ".join(table_cmd))
    return 0 if args.dry_run else subprocess.call(table_cmd)


if __name__ == "__main__":
    raise SystemExit(main())
