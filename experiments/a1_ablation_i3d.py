"""The paper's reward ablations on A1 with a pretrained video term (Kinetics-400 I3D), one run at a time (issue 28).

    python experiments/a1_ablation_i3d.py --queue video_only:0:centred full:0:centred no_video:1 ...
    python experiments/a1_ablation_i3d.py --table          # niljax table of every finished run
    python experiments/a1_ablation_i3d.py --summary        # summary.md + curves.png from the copied results

A queue item is VARIANT:SEED[:centred]; "centred" trains with `reward.video_centring=true` (the video term as
cos(E - mu, E_ref - mu), mu the reference's mean embedding) instead of the paper's raw cosine.

Each run is `experiments/walking.py --robot a1 --tier cpu` (the A1 setup of experiments/results/README.md:
first take of the LocoMuJoCo walk, looped to 8 s, 48x48 renders, BRO small, 8 envs) with
- evaluations during training every `--eval-every` env steps with `--train-eval-envs` episodes and 0.05 rad start
  noise (`eval_reset_noise=0.05`), and after the run `niljax evaluate RUN --episodes 16 --reset-noise 0.05`
  (eval16.json: the number the table reports);
- for the variants with a video term: `encoder.kind="i3d"` at `--i3d-size` px, `--i3d-output`, and the video term
  every `--video-every-k` steps (k = clip length: each frame enters exactly one scored clip).
Variants without a video term never build the encoder (their reward is the same whatever encoder made the
bundle), so they use walking.py's CPU tier unchanged. Runs wait for each other through a file lock (2 cores:
two at once halve both; `--lock` gives a second queue its own lock, which only pays on a machine already
oversubscribed by other jobs, where one more process barely slows the others). Learning does not depend on the budget (no schedule), so a run finished at B env steps
and resumed to B' > B is the run of budget B' (walking.py resumes from the last checkpoint).

Per run the exact command, its summary.json / metrics.jsonl / config.json land in
experiments/results/a1_ablation_i3d/runs/<variant>/seed<s>/; `--table` writes `niljax table` output there.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "a1_ablation_i3d"
VIDEO_VARIANTS = ("full", "video_only", "no_iou", "no_regularisation")
LOCK = Path("/tmp/niljax_a1_ablation_i3d.lock")


def group(variant: str, centred: bool) -> str:
    """Run-folder group: variants without a video term share one group whatever the form."""
    if variant not in VIDEO_VARIANTS:
        return "no_encoder"
    return "i3d_centred" if centred else "i3d"


def command(args: argparse.Namespace, variant: str, seed: int, centred: bool) -> list[str]:
    video = variant in VIDEO_VARIANTS
    out = Path(args.runs) / group(variant, centred)
    cmd = [sys.executable, "experiments/walking.py", "--robot", "a1", "--tier", "cpu", "--variant", variant,
           "--seed", str(seed), "--env-steps", str(args.env_steps), "--eval-every", str(args.eval_every),
           "--out", str(out), "--no-progress", "--set", f"eval_envs={args.train_eval_envs}",
           "--set", "eval_reset_noise=0.05"]
    if video:
        cmd += ["--set", 'encoder.kind="i3d"', "--set", f"encoder.size={args.i3d_size}",
                "--set", f'encoder.output="{args.i3d_output}"', "--set", f"reward.video_every_k={args.video_every_k}"]
        if centred:
            cmd += ["--set", "reward.video_centring=true"]
    cmd += [item for extra in args.set or () for item in ("--set", extra)]
    return cmd


def run_dir(args: argparse.Namespace, variant: str, seed: int, centred: bool) -> Path:
    # walking.py writes to --out/<tier>/<robot>/... (earlier versions: --out/<robot>/..., kept for old runs)
    base = Path(args.runs) / group(variant, centred)
    old = base / "a1" / variant / f"seed{seed}"
    return old if (old / "summary.json").is_file() else base / "cpu" / "a1" / variant / f"seed{seed}"


def finished(path: Path, env_steps: int) -> bool:
    summary = path / "summary.json"
    if not summary.is_file():
        return False
    return int(json.loads(summary.read_text()).get("env_steps", 0)) >= env_steps


def copy_results(src: Path, name: str, seed: int, cmd: list[str] | None, wall: float | None) -> None:
    dst = RESULTS / "runs" / name / f"seed{seed}"
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("summary.json", "metrics.jsonl", "config.json", "curves.png", "eval16.json"):
        if (src / f).is_file():
            shutil.copy2(src / f, dst / f)
    if cmd is not None:
        (dst / "command.txt").write_text(" ".join(shlex.quote(c) for c in cmd).replace(sys.executable, "python")
                                         + f"\n# wall clock {wall:.0f} s (this machine, shared)\n")


def evaluate16(path: Path) -> int:
    """`niljax evaluate RUN --episodes 16 --reset-noise 0.05` -> RUN/eval16.json (once)."""
    if (path / "eval16.json").is_file():
        return 0
    done = path / "eval.json"
    if done.is_file():  # an earlier `niljax evaluate` with this protocol (e.g. by a queue that was stopped)
        prev = json.loads(done.read_text())
        if prev.get("episodes") == 16 and prev.get("reset_noise") == 0.05:
            shutil.copy2(done, path / "eval16.json")
            return 0
    cmd = [str(Path(sys.executable).with_name("niljax")), "evaluate", str(path), "--episodes", "16",
           "--reset-noise", "0.05"]
    rc = subprocess.call(cmd, cwd=ROOT)
    if rc == 0 and (path / "eval.json").is_file():
        shutil.copy2(path / "eval.json", path / "eval16.json")
    return rc


STANDING = 233.6  # A1 standing still for the 300-step protocol: 300 * exp(-0.25)
ORDER = ("full", "full_centred", "full_centred_alive1", "no_video", "video_only", "video_only_centred",
         "video_only_centred_alive1", "iou_only", "zero_reward", "zero_reward_alive1")


def summarize() -> None:
    """RESULTS/summary.md (16-episode evaluation per run, mean over seeds, every in-training evaluation) and
    RESULTS/curves.png (evaluation env reward vs env steps, one line per run, the standing bar dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs: dict[str, dict[int, dict]] = {}
    for d in sorted((RESULTS / "runs").glob("*/seed*")):
        if not (d / "eval16.json").is_file():
            continue
        evals = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines() if line.strip()]
        evals = [e for e in evals if "eval/walk_loco_sum" in e]
        summary = json.loads((d / "summary.json").read_text())
        runs.setdefault(d.parent.name, {})[int(d.name[4:])] = {
            "eval16": json.loads((d / "eval16.json").read_text()), "curve": evals,
            "wall_s": summary.get("wall_time_s")}
    names = [n for n in ORDER if n in runs] + sorted(n for n in runs if n not in ORDER)
    lines = ["| variant | seeds | env reward, 16 episodes (mean ± std over seeds) | per seed | distance (m) | falls | "
             "IoU | video term | wall (min) per run |", "|---|---|---|---|---|---|---|---|---|"]
    for n in names:
        seeds = sorted(runs[n])
        e = [runs[n][s]["eval16"] for s in seeds]
        score = np.array([x["eval/walk_loco_sum"] for x in e])

        def m(key: str, e: list = e) -> str:
            v = np.array([x[key] for x in e])
            return f"{v.mean():.3f}" if len(v) == 1 else f"{v.mean():.3f} ± {v.std():.3f}"

        walls = ", ".join(f"{runs[n][s]['wall_s'] / 60:.0f}" for s in seeds if runs[n][s]["wall_s"])
        lines.append(f"| {n} | {len(seeds)} ({', '.join(map(str, seeds))}) | **{score.mean():.1f}**"
                     + (f" ± {score.std():.1f}" if len(score) > 1 else "") + " | "
                     + ", ".join(f"{x['eval/walk_loco_sum']:.1f} ± {x['std']['eval/walk_loco_sum']:.1f}" for x in e)
                     + f" | {m('eval/distance')} | {m('eval/fell')} | {m('eval/iou_mean')} | {m('eval/video_mean')} | "
                     f"{walls} |")
    lines += ["", f"Standing still scores {STANDING} (300 · exp(−0.25)); the reference walk (expert, kinematic) 281.1.",
              "", "In-training evaluations (env reward; seed 0 of no_video used 16 episodes, every other run 4):", "",
              "| run | " + " | ".join(f"{k // 1000}k" for k in (0, 9000, 18000)) + " |", "|---|---|---|---|"]
    for n in names:
        for s in sorted(runs[n]):
            by_step = {e["step"]: e["eval/walk_loco_sum"] for e in runs[n][s]["curve"]}
            lines.append(f"| {n} seed {s} | " + " | ".join(f"{by_step[k]:.1f}" if k in by_step else "—"
                                                          for k in (0, 9000, 18000)) + " |")
    (RESULTS / "summary.md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    cmap = plt.get_cmap("tab10")
    for i, n in enumerate(names):
        for s in sorted(runs[n]):
            c = runs[n][s]["curve"]
            ax.plot([e["step"] for e in c], [e["eval/walk_loco_sum"] for e in c], marker="o", color=cmap(i % 10),
                    ls="-" if s == 0 else "--", label=f"{n} s{s}")
    ax.axhline(STANDING, color="k", ls=":", lw=1, label="standing (233.6)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation env reward (300 steps)")
    ax.set_title("A1 reward ablations, I3D video term (48 px, every 8 steps)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    fig.savefig(RESULTS / "curves.png", dpi=100)
    plt.close(fig)
    print((RESULTS / "summary.md").read_text())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--queue", nargs="*", default=[], help="VARIANT:SEED[:centred] items, run in this order")
    p.add_argument("--env-steps", type=int, default=18_000)
    p.add_argument("--eval-every", type=int, default=9_000)
    p.add_argument("--train-eval-envs", type=int, default=4)
    p.add_argument("--i3d-size", type=int, default=48)
    p.add_argument("--i3d-output", default="logits", choices=("logits", "features"))
    p.add_argument("--video-every-k", type=int, default=8)
    p.add_argument("--runs", default=str(ROOT.parent / "runs" / "a1_ablation_i3d"))
    p.add_argument("--set", action="append", help="extra walking.py --set override for every run")
    p.add_argument("--tag", default="", help="suffix of the result names of this queue's runs (use with --set and "
                   "its own --runs, e.g. --tag alive1 --set reward.alive_bonus=1.0)")
    p.add_argument("--wait-pid", type=int, default=None, help="start after this process has exited")
    p.add_argument("--lock", default=str(LOCK), help="runs holding the same lock file never overlap")
    p.add_argument("--table", action="store_true", help="write the niljax table of every finished run")
    p.add_argument("--summary", action="store_true", help="write summary.md and curves.png of the copied results")
    args = p.parse_args()
    if args.summary:
        summarize()
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / "commands.log"
    while args.wait_pid and Path(f"/proc/{args.wait_pid}").exists():
        time.sleep(10)
    for item in args.queue:
        variant, seed_s, *form = item.split(":")
        seed, centred = int(seed_s), form == ["centred"]
        name = f"{variant}_centred" if centred and variant in VIDEO_VARIANTS else variant
        name += f"_{args.tag}" if args.tag else ""
        path = run_dir(args, variant, seed, centred)
        cmd: list[str] | None = None
        wall: float | None = None
        with open(args.lock, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one run at a time on this machine
            t0 = time.time()
            if finished(path, args.env_steps):
                print(f"[ablation] {name} seed {seed}: finished already ({path})", flush=True)
            else:
                cmd = command(args, variant, seed, centred)
                with open(log, "a") as f:
                    f.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} start\n"
                            + " ".join(shlex.quote(c) for c in cmd).replace(sys.executable, "python") + "\n")
                print(f"[ablation] {name} seed {seed}: {' '.join(cmd)}", flush=True)
                rc = subprocess.call(cmd, cwd=ROOT)
                wall = time.time() - t0
                with open(log, "a") as f:
                    f.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} exit {rc} after {wall:.0f} s\n")
                print(f"[ablation] {name} seed {seed}: exit {rc} in {wall:.0f} s", flush=True)
                if rc != 0:
                    continue
            t1 = time.time()
            rc = evaluate16(path)
            with open(log, "a") as f:
                f.write(f"# {name} seed {seed}: niljax evaluate {path} --episodes 16 --reset-noise 0.05 -> exit {rc} "
                        f"after {time.time() - t1:.0f} s\n")
        copy_results(path, name, seed, cmd, wall)
    if args.table:
        niljax = str(Path(sys.executable).with_name("niljax"))
        for form, out in (("i3d", RESULTS / "table_raw"), ("i3d_centred", RESULTS / "table_centred")):
            dirs = [str(d) for d in (Path(args.runs) / form, Path(args.runs) / "no_encoder") if d.is_dir()]
            subprocess.call([niljax, "table", *dirs, "--out", str(out)], cwd=ROOT)


if __name__ == "__main__":
    main()
