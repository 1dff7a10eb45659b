"""`niljax table`: the paper-style results table of finished run folders, next to the paper's numbers.

    niljax table runs/ --out results/ [--paper walking|ablation|none] [--metric eval/walk_loco_sum]

Contract:

- Inputs are run folders (a folder holding `config.json`) or parents searched recursively for them (sorted,
  deterministic; the search does not descend into a run folder).
- A run's identity comes from `config.json`: "robot" (falling back to summary.json "robot", policy/nil.json
  "robot", then the first metrics.jsonl record's "robot"), "seed" (default 0) and the reward variant: "variant"
  if present, else derived from "reward" (see `reward_variant`).
- A run's final numbers come from `summary.json`: "after" (and "before", "expert" when present) are dicts of
  `eval/<name>` floats, "env_steps" an int. The learning curve comes from `metrics.jsonl`: the records holding
  the chosen metric key, plotted against their "step" (env steps).
- A folder that cannot be read (missing, no or invalid summary.json, no "after" or no metric in it) is listed in
  `skipped` with the reason (stderr and table.json) and left out; it never stops the table. When no usable run
  remains the command prints why, exits with code 2 and writes nothing.
- Runs are grouped by (robot, variant): mean ± std over seeds (ddof=0) with n, per-seed values in table.json.
- Outputs, each written atomically (temp file + os.replace) into OUT_DIR: table.md, table.json, table.png (bars
  of mean ± std per row, paper value as a marker) and curves.png (the metric vs env steps, one line per seed).

Pure host code: json, numpy and matplotlib (imported when plotting); never jax.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ENV_REWARD_METRIC = "eval/walk_loco_sum"
# Reported next to the main metric (per row, in table.json "extra") when the runs' summaries have them.
EXTRA_METRICS = ("eval/walk_hb_sum", "eval/distance", "eval/fell", "eval/iou_mean", "eval/length",
                 "eval/nil_return", "eval/task_success", "eval/task_reward_norm")

# Numbers from the NIL paper (Albaba et al., "NIL: No-data Imitation Learning", arXiv 2503.10626): the
# environment reward (LocoMuJoCo walk reward summed over the evaluation horizon) of NIL on each robot, of the
# expert per robot, and of the H1 reward ablations.
PAPER_NUMBERS: dict[str, dict[str, float]] = {
    "walking": {"h1": 396.1, "talos": 352.8, "g1": 356.9, "a1": 290.3},
    "expert": {"h1": 400.0, "g1": 400.0, "talos": 400.0, "a1": 300.0},
    "h1_ablation": {"full": 396.1, "no_regularisation": 382.4, "no_iou": 381.4, "no_video": 387.3,
                    "only_regularisation": 363.6, "iou_only": 328.4, "video_only": 369.6},
}

# Which reward terms are on -> variant name (video, iou, penalties); all off is the zero-reward control.
_VARIANTS: dict[tuple[bool, bool, bool], str] = {
    (True, True, True): "full",
    (True, True, False): "no_regularisation",
    (True, False, True): "no_iou",
    (False, True, True): "no_video",
    (True, False, False): "video_only",
    (False, True, False): "iou_only",
    (False, False, True): "only_regularisation",
    (False, False, False): "zero_reward",
}
_ROBOT_ORDER = ("h1", "talos", "g1", "a1")
_VARIANT_ORDER = ("full", "no_regularisation", "no_iou", "no_video", "only_regularisation", "iou_only",
                  "video_only", "zero_reward")


@dataclasses.dataclass
class RunResult:
    """One usable run folder: identity, final evaluation numbers and the learning curve of the metric."""

    path: str
    robot: str
    variant: str
    seed: int
    env_steps: int | None
    after: dict[str, float]
    before: dict[str, float]
    expert: dict[str, float]
    curve: list[tuple[int, float]]


class SkippedRun(Exception):
    """A run folder that cannot enter the table; the message says why."""


def reward_variant(reward: dict[str, Any]) -> str:
    """The variant name of a config.json "reward" dict (RewardConfig fields; absent fields at their defaults).

    A term counts as on when its switch is on and its weight is non-zero (video: use_video/zeta, IoU:
    use_iou/beta, regularisers: use_penalties/eta), so all switches off or zeta == beta == eta == 0 is
    "zero_reward".
    """
    def on(switch: str, weight: str) -> bool:
        return bool(reward.get(switch, True)) and float(reward.get(weight, 1.0)) != 0.0

    return _VARIANTS[(on("use_video", "zeta"), on("use_iou", "beta"), on("use_penalties", "eta"))]


def find_run_folders(inputs: Sequence[str | os.PathLike[str]]) -> tuple[list[Path], list[dict[str, str]]]:
    """Run folders under `inputs` (each a run folder or a parent), sorted per input, without duplicates.

    Returns (folders, skipped) where skipped lists inputs that do not exist.
    """
    folders: list[Path] = []
    skipped: list[dict[str, str]] = []
    seen: set[Path] = set()
    for item in inputs:
        root = Path(item)
        if not root.is_dir():
            skipped.append({"run": str(root), "reason": "no such folder"})
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if "config.json" in filenames:
                dirnames.clear()  # a run folder's subfolders (checkpoints, policy, tb) are not runs
                resolved = Path(dirpath).resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    folders.append(Path(dirpath))
    return folders, skipped


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SkippedRun(f"no {path.name}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SkippedRun(f"unreadable {path.name} ({err.__class__.__name__}: {err})") from None
    if not isinstance(data, dict):
        raise SkippedRun(f"{path.name} is not a JSON object")
    return data


def _float_dict(value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        return {}
    return {k: float(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _read_records(path: Path) -> list[dict[str, Any]]:
    """Complete JSON lines of metrics.jsonl (a torn or invalid line is skipped); [] if absent."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _robot_name(config: dict[str, Any], summary: dict[str, Any], run_dir: Path,
                records: list[dict[str, Any]]) -> str:
    candidates = [config.get("robot"), summary.get("robot")]
    nil_json = run_dir / "policy" / "nil.json"
    if nil_json.exists():
        try:
            candidates.append(json.loads(nil_json.read_text()).get("robot"))
        except (OSError, ValueError, AttributeError):
            pass
    if records:
        candidates.append(records[0].get("robot"))
    return next((str(c) for c in candidates if isinstance(c, str) and c), "unknown")


def load_run(run_dir: Path, metric: str = ENV_REWARD_METRIC) -> RunResult:
    """Read one run folder; raises `SkippedRun` when it cannot enter the table."""
    try:
        return _load_run(run_dir, metric)
    except (TypeError, ValueError, KeyError) as err:  # a value of the wrong type somewhere in the files
        raise SkippedRun(f"malformed run files ({err.__class__.__name__}: {err})") from None


def _load_run(run_dir: Path, metric: str) -> RunResult:
    config = _read_json(run_dir / "config.json")
    summary = _read_json(run_dir / "summary.json")
    after = _float_dict(summary.get("after"))
    if not after:
        raise SkippedRun('summary.json has no "after" evaluation (run not finished?)')
    if metric not in after:
        raise SkippedRun(f'summary.json "after" has no {metric}')
    records = _read_records(run_dir / "metrics.jsonl")
    curve = [(int(r["step"]), float(r[metric])) for r in records
             if "step" in r and isinstance(r.get(metric), (int, float))]
    if isinstance(config.get("variant"), str) and config["variant"]:
        variant = config["variant"]
    else:
        reward = config.get("reward")
        variant = reward_variant(reward if isinstance(reward, dict) else {})
        if config.get("reward_kind") == "task":  # the skill's task-reward RL upper bound, not a NIL variant
            variant = "task_reward"
    if isinstance(config.get("skill"), str) and config["skill"]:  # skills: one row per (robot, skill, reward)
        variant = f"{config['skill']}/{variant}"
    env_steps = summary.get("env_steps")
    return RunResult(
        path=str(run_dir), robot=_robot_name(config, summary, run_dir, records), variant=variant,
        seed=int(config.get("seed", 0)), env_steps=int(env_steps) if isinstance(env_steps, (int, float)) else None,
        after=after, before=_float_dict(summary.get("before")), expert=_float_dict(summary.get("expert")),
        curve=sorted(curve),
    )


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _stats(runs: list[RunResult], source: str, key: str) -> dict[str, Any] | None:
    """mean, std (ddof=0), n and per-seed values of `key` in each run's `source` dict; None if no run has it."""
    per_seed = [{"seed": r.seed, "run": r.path, "value": getattr(r, source)[key]}
                for r in runs if key in getattr(r, source)]
    if not per_seed:
        return None
    values = np.array([p["value"] for p in per_seed], dtype=np.float64)
    return {"mean": _finite_or_none(float(np.mean(values))), "std": _finite_or_none(float(np.std(values))),
            "n": len(values), "per_seed": [{**p, "value": _finite_or_none(p["value"])} for p in per_seed]}


def paper_numbers(robot: str, variant: str, paper: str) -> tuple[float | None, float | None]:
    """(paper NIL, paper expert) for a row: walking compares the full reward per robot, ablation H1's
    variants; none compares nothing."""
    robot = robot.lower()
    if paper == "none":
        return None, None
    expert = PAPER_NUMBERS["expert"].get(robot)
    if paper == "walking":
        nil = PAPER_NUMBERS["walking"].get(robot) if variant == "full" else None
    else:
        nil = PAPER_NUMBERS["h1_ablation"].get(variant) if robot == "h1" else None
    return nil, expert


def _order(index: tuple[str, ...], name: str) -> tuple[int, str]:
    return (index.index(name) if name in index else len(index), name)


def build_table(runs: list[RunResult], metric: str, paper: str) -> list[dict[str, Any]]:
    """One row per (robot, variant), in paper order (robots H1, Talos, G1, A1; variants as in the ablation)."""
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for run in runs:
        groups.setdefault((run.robot, run.variant), []).append(run)
    rows = []
    for (robot, variant), members in sorted(groups.items(), key=lambda kv: (
            _order(_ROBOT_ORDER, kv[0][0].lower()), _order(_VARIANT_ORDER, kv[0][1]))):
        members = sorted(members, key=lambda r: (r.seed, r.path))
        paper_nil, paper_expert = paper_numbers(robot, variant, paper)
        rows.append({
            "robot": robot, "variant": variant, "seeds": [r.seed for r in members], "n": len(members),
            "runs": [r.path for r in members],
            "env_steps": [r.env_steps for r in members],
            "metric": metric,
            "after": _stats(members, "after", metric),
            "before": _stats(members, "before", metric),
            "expert": _stats(members, "expert", metric),
            "extra": {key: s for key in EXTRA_METRICS if key != metric
                      and (s := _stats(members, "after", key)) is not None},
            "paper_nil": paper_nil, "paper_expert": paper_expert,
        })
    return rows


def _mean_std(stats: dict[str, Any] | None, digits: int = 1) -> str:
    if stats is None or stats["mean"] is None:
        return "—"
    if stats["n"] == 1 or stats["std"] is None:
        return f"{stats['mean']:.{digits}f}"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_markdown(rows: list[dict[str, Any]], metric: str, skipped: list[dict[str, str]]) -> str:
    """The markdown table (one row per (robot, variant)), followed by the skipped folders if any."""
    title = "env reward" if metric == ENV_REWARD_METRIC else metric
    header = ["robot", "variant", "seeds", f"{title} (mean ± std)", "untrained", "expert (ours, kinematic)",
              "paper NIL", "paper expert", "distance", "falls", "IoU"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        seeds = f"{row['n']} ({', '.join(str(s) for s in row['seeds'])})"
        extra = row["extra"]
        cells = [row["robot"], row["variant"], seeds, _mean_std(row["after"]), _mean_std(row["before"]),
                 _mean_std(row["expert"]), _number(row["paper_nil"]), _number(row["paper_expert"]),
                 _mean_std(extra.get("eval/distance"), 2), _mean_std(extra.get("eval/fell"), 2),
                 _mean_std(extra.get("eval/iou_mean"), 3)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Metric: `{metric}` after training, mean ± std over seeds (ddof=0). Untrained: the same metric "
                 "before training. Expert (ours): the reference trajectory scored kinematically. Paper: arXiv "
                 "2503.10626. Falls: fraction of evaluation episodes that fell.")
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- `{s['run']}`: {s['reason']}" for s in skipped]
    return "\n".join(lines) + "\n"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _save_figure(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    os.replace(tmp, path)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_bars(rows: list[dict[str, Any]], metric: str, path: Path) -> None:
    """Bar per row: mean ± std of the metric; the paper's NIL value as a marker where there is one."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.1 * len(rows) + 1.5), 4))
    xs = np.arange(len(rows))
    means = [r["after"]["mean"] if r["after"]["mean"] is not None else np.nan for r in rows]
    stds = [r["after"]["std"] or 0.0 for r in rows]
    ax.bar(xs, means, yerr=stds, capsize=4, color="tab:blue", alpha=0.8, label="ours (mean ± std)")
    paper = [(x, r["paper_nil"]) for x, r in zip(xs, rows) if r["paper_nil"] is not None]
    if paper:
        px, py = zip(*paper)
        ax.scatter(px, py, marker="D", color="tab:red", zorder=3, label="paper NIL")
    ax.set_xticks(xs, [f"{r['robot']}\n{r['variant']}" for r in rows], fontsize=8)
    ax.set_ylabel(metric)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save_figure(fig, path)


def plot_learning_curves(rows: list[dict[str, Any]], runs: list[RunResult], metric: str, path: Path) -> None:
    """One panel per (robot, variant): the metric vs env steps, one line per seed (paper value dashed)."""
    plt = _pyplot()
    by_path = {r.path: r for r in runs}
    columns = min(len(rows), 4)
    nrows = math.ceil(len(rows) / columns)
    fig, axes = plt.subplots(nrows, columns, figsize=(4 * columns, 3 * nrows), squeeze=False)
    for ax in axes.flat[len(rows):]:
        ax.set_visible(False)
    for ax, row in zip(axes.flat, rows):
        for run_path, seed in zip(row["runs"], row["seeds"]):
            curve = by_path[run_path].curve
            if curve:
                steps, values = zip(*curve)
                ax.plot(steps, values, marker="o", markersize=3, label=f"seed {seed}")
        if row["paper_nil"] is not None:
            ax.axhline(row["paper_nil"], color="tab:red", linestyle="--", linewidth=1, label="paper NIL")
        ax.set_title(f"{row['robot']} / {row['variant']}", fontsize=9)
        ax.set_xlabel("env steps")
        ax.set_ylabel(metric, fontsize=8)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    _save_figure(fig, path)


def make_table(inputs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *,
               paper: str = "walking", metric: str = ENV_REWARD_METRIC,
               command: Sequence[str] | None = None) -> dict[str, Any] | None:
    """Collect the runs under `inputs` and write table.md / table.json / table.png / curves.png into `out_dir`.

    Returns the table.json content, or None (and writes nothing) when no usable run was found. Skipped folders
    are printed to stderr.
    """
    folders, skipped = find_run_folders(inputs)
    runs: list[RunResult] = []
    for folder in folders:
        try:
            runs.append(load_run(folder, metric))
        except SkippedRun as err:
            skipped.append({"run": str(folder), "reason": str(err)})
    for s in skipped:
        print(f"niljax table: skipped {s['run']}: {s['reason']}", file=sys.stderr)
    if not runs:
        return None
    rows = build_table(runs, metric, paper)
    table = {"metric": metric, "paper": paper, "command": list(command) if command is not None else None,
             "inputs": [str(i) for i in inputs], "rows": rows, "skipped": skipped,
             "paper_numbers": PAPER_NUMBERS if paper != "none" else None}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write_bytes(out / "table.md", render_markdown(rows, metric, skipped).encode())
    _atomic_write_bytes(out / "table.json", (json.dumps(table, indent=2, allow_nan=False) + "\n").encode())
    plot_bars(rows, metric, out / "table.png")
    plot_learning_curves(rows, runs, metric, out / "curves.png")
    return table


def table_main(argv: list[str]) -> int:
    """`niljax table`: 0 when the table was written, 2 when no usable run was found (nothing written)."""
    parser = argparse.ArgumentParser(
        prog="niljax table",
        description="Results table of finished runs (mean ± std over seeds per robot and reward variant) next "
                    "to the NIL paper's numbers; writes table.md, table.json, table.png and curves.png.")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR_OR_PARENT",
                        help="run folders (holding config.json) or folders searched recursively for them")
    parser.add_argument("--out", required=True, metavar="OUT_DIR", help="folder for the table and plots")
    parser.add_argument("--paper", choices=("walking", "ablation", "none"), default="walking",
                        help="paper numbers to compare with: walking (NIL per robot), ablation (H1 reward "
                             "ablations) or none (default: walking)")
    parser.add_argument("--metric", default=ENV_REWARD_METRIC,
                        help=f"summary key of the main metric (default: {ENV_REWARD_METRIC}, the paper's "
                             "environment reward)")
    args = parser.parse_args(argv)
    paper = args.paper
    if args.metric != ENV_REWARD_METRIC and paper != "none":
        print(f"niljax table: the paper's numbers are {ENV_REWARD_METRIC}; not shown for {args.metric}",
              file=sys.stderr)
        paper = "none"
    table = make_table(args.runs, args.out, paper=paper, metric=args.metric, command=["niljax", "table", *argv])
    if table is None:
        print(f"niljax table: error: no usable run folder (config.json + summary.json with an \"after\" "
              f"{args.metric}) under {' '.join(args.runs)}; nothing written", file=sys.stderr)
        return 2
    print(f"niljax table: {len(table['rows'])} rows from "
          f"{sum(r['n'] for r in table['rows'])} runs ({len(table['skipped'])} skipped) -> {args.out}")
    return 0
