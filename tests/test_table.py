"""`niljax table`: run folders made by hand (no training, no jax), numbers checked against numpy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from niljax.cli import main as cli_main
from niljax.train.table import PAPER_NUMBERS, make_table, reward_variant

REPO_ROOT = Path(__file__).resolve().parents[1]

# (robot, seed) -> final eval/walk_loco_sum; the zero-reward control and the before/expert values are separate.
AFTER = {("h1", 0): 350.0, ("h1", 1): 370.0, ("a1", 0): 210.0, ("a1", 3): 240.0}
BEFORE = {("h1", 0): 20.0, ("h1", 1): 30.0, ("a1", 0): 10.0, ("a1", 3): 14.0}
EXPERT = {"h1": 398.0, "a1": 297.0}


def _write_run(run_dir: Path, *, robot: str, seed: int, after: float, before: float,
               reward: dict | None = None, expert: float | None = None, distance: float = 5.0) -> Path:
    run_dir.mkdir(parents=True)
    config = {"robot": robot, "seed": seed, "reward": reward or {"use_video": True, "use_iou": True,
                                                                 "use_penalties": True, "zeta": 1.0,
                                                                 "beta": 1.0, "eta": 1.0}}
    (run_dir / "config.json").write_text(json.dumps(config))
    summary = {"before": {"eval/walk_loco_sum": before, "eval/distance": 0.1, "eval/fell": 1.0},
               "after": {"eval/walk_loco_sum": after, "eval/walk_hb_sum": after / 2, "eval/distance": distance,
                         "eval/fell": 0.0, "eval/iou_mean": 0.7, "eval/length": 400.0,
                         "eval/nil_return": 300.0},
               "env_steps": 2000}
    if expert is not None:
        summary["expert"] = {"eval/walk_loco_sum": expert}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    lines = [{"step": 0, "time": 0.0, "eval/walk_loco_sum": before},
             {"step": 1000, "time": 1.0, "reward/total": 1.0},  # a chunk record: not part of the curve
             {"step": 1000, "time": 1.0, "eval/walk_loco_sum": (before + after) / 2},
             {"step": 2000, "time": 2.0, "eval/walk_loco_sum": after}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"step": 30')
    return run_dir


@pytest.fixture
def runs_root(tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    for (robot, seed), after in AFTER.items():
        _write_run(root / f"{robot}-s{seed}" / "run", robot=robot, seed=seed, after=after,
                   before=BEFORE[robot, seed], expert=EXPERT[robot], distance=4.0 + seed)
    zero = {"use_video": True, "use_iou": True, "use_penalties": True, "zeta": 0.0, "beta": 0.0, "eta": 0.0}
    _write_run(root / "h1-zero", robot="h1", seed=0, after=55.0, before=20.0, reward=zero)
    half = root / "h1-half"  # started, never evaluated: config.json only
    half.mkdir()
    (half / "config.json").write_text(json.dumps({"robot": "h1", "seed": 2}))
    torn = _write_run(root / "h1-torn", robot="h1", seed=5, after=1.0, before=1.0)
    (torn / "summary.json").write_text('{"before": {"eval/walk_loco_sum": 1.0}, "aft')
    return root


def _row(table: dict, robot: str, variant: str) -> dict:
    (row,) = [r for r in table["rows"] if (r["robot"], r["variant"]) == (robot, variant)]
    return row


def test_table_numbers_and_files(runs_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert make_table([runs_root], out, command=["niljax", "table"]) is not None
    table = json.loads((out / "table.json").read_text())
    assert [(r["robot"], r["variant"]) for r in table["rows"]] == [("h1", "full"), ("h1", "zero_reward"),
                                                                   ("a1", "full")]
    for robot in ("h1", "a1"):
        row = _row(table, robot, "full")
        seeds = sorted(s for r, s in AFTER if r == robot)
        after = np.array([AFTER[robot, s] for s in seeds])
        assert row["seeds"] == seeds and row["n"] == 2
        assert row["after"]["mean"] == pytest.approx(after.mean())
        assert row["after"]["std"] == pytest.approx(np.sqrt(np.mean((after - after.mean()) ** 2)))
        assert [p["value"] for p in row["after"]["per_seed"]] == list(after)
        assert [p["seed"] for p in row["after"]["per_seed"]] == seeds
        assert row["before"]["mean"] == pytest.approx(np.mean([BEFORE[robot, s] for s in seeds]))
        assert row["expert"]["mean"] == pytest.approx(EXPERT[robot]) and row["expert"]["std"] == 0.0
        assert row["extra"]["eval/distance"]["mean"] == pytest.approx(4.0 + np.mean(seeds))
        assert row["paper_nil"] == PAPER_NUMBERS["walking"][robot]
        assert row["paper_expert"] == PAPER_NUMBERS["expert"][robot]
    zero = _row(table, "h1", "zero_reward")
    assert zero["n"] == 1 and zero["after"]["mean"] == 55.0 and zero["after"]["std"] == 0.0
    assert zero["paper_nil"] is None and zero["expert"] is None
    skipped = {Path(s["run"]).name: s["reason"] for s in table["skipped"]}
    assert set(skipped) == {"h1-half", "h1-torn"}
    assert "no summary.json" in skipped["h1-half"] and "summary.json" in skipped["h1-torn"]
    assert table["command"] == ["niljax", "table"]

    md = (out / "table.md").read_text()
    assert "| h1 | full | 2 (0, 1) | 360.0 ± 10.0 | 25.0 ± 5.0 | 398.0 ± 0.0 | 396.1 | 400.0 |" in md
    assert "| a1 | full | 2 (0, 3) | 225.0 ± 15.0 |" in md and "290.3" in md and "300.0" in md
    assert "| h1 | zero_reward | 1 (0) | 55.0 |" in md
    assert "h1-half" in md and "h1-torn" in md
    for png in ("table.png", "curves.png"):
        assert (out / png).stat().st_size > 1000
    assert not list(out.glob(".*.tmp"))


def test_ablation_paper_numbers(tmp_path: Path) -> None:
    switches = {"use_video": True, "use_iou": False, "use_penalties": True}
    _write_run(tmp_path / "runs" / "no_iou", robot="h1", seed=0, after=300.0, before=1.0, reward=switches)
    table = make_table([tmp_path / "runs"], tmp_path / "out", paper="ablation")
    assert table is not None
    (row,) = table["rows"]
    assert row["variant"] == "no_iou" and row["paper_nil"] == 381.4 and row["paper_expert"] == 400.0
    assert make_table([tmp_path / "runs"], tmp_path / "out2", paper="none")["rows"][0]["paper_nil"] is None


@pytest.mark.parametrize(("switches", "variant"), [
    ((True, True, True), "full"), ((True, True, False), "no_regularisation"), ((True, False, True), "no_iou"),
    ((False, True, True), "no_video"), ((True, False, False), "video_only"), ((False, True, False), "iou_only"),
    ((False, False, True), "only_regularisation"), ((False, False, False), "zero_reward"),
])
def test_reward_variant(switches: tuple[bool, bool, bool], variant: str) -> None:
    video, iou, penalties = switches
    assert reward_variant({"use_video": video, "use_iou": iou, "use_penalties": penalties}) == variant


def test_variant_key_in_config_wins(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "r", robot="g1", seed=0, after=1.0, before=0.0)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "variant": "my_variant"}))
    table = make_table([run], tmp_path / "out", paper="none")
    assert table is not None and table["rows"][0]["variant"] == "my_variant"


def test_cli_table(runs_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli-out"
    assert cli_main(["table", str(runs_root), "--out", str(out), "--paper", "walking"]) == 0
    table = json.loads((out / "table.json").read_text())
    assert table["command"] == ["niljax", "table", str(runs_root), "--out", str(out), "--paper", "walking"]
    assert "h1-half" in capsys.readouterr().err


def test_all_bad_input_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    (bad / "half").mkdir(parents=True)
    (bad / "half" / "config.json").write_text("{}")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "niljax.cli", "table", str(bad), str(tmp_path / "missing"),
                           "--out", str(out)], check=False, capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "no usable run" in proc.stderr and "half" in proc.stderr and "missing" in proc.stderr
    assert not out.exists()
