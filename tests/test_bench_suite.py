"""`benchmarks/bench_suite.py --preset smoke` end to end: the JSON has every part, with finite values, and a PNG.

No timing asserts (speed belongs to the benchmark's JSON, not to a test). The run is a subprocess with XLA's
backend optimisation off: the smoke preset checks the plumbing (baseline, niljax ladder, stage split,
roofline, plot), and its compiles dominate its time.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = ("policy", "physics", "render", "encoder", "reward", "replay", "updates")


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("suite")
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()
    env.pop("JAX_PLATFORMS", None)
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_suite.py"), "--preset", "smoke",
                           "--out-dir", str(out), "--device-name", "test", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "suite_smoke_test.json").read_text()), out / "suite_smoke_test.png"


def test_suite_json_has_every_part_with_finite_values(smoke: tuple[dict, Path]) -> None:
    result, _ = smoke
    assert result["preset"] == "smoke" and result["device"] == "test" and result["complete"]
    assert result["skipped"] == []
    assert len(result["load_average_start"]) == 3 and all(_finite(v) for v in result["load_average_end"])
    assert {"jax", "mujoco", "torch", "transformers"} <= set(result["versions"])
    setting = result["setting"]
    ladder, rr = setting["ladder"], setting["replay_ratio"]
    assert result["baseline_errors"] == []
    for k in ("1", "8"):
        base = result["baseline"][k]
        assert base["env_steps_per_s"] > 0 and len(base["brackets_env_steps_per_s"]) == 2
        assert set(base["stage_ms_per_step"]) == set(STAGES)
        assert all(_finite(v) and v >= 0 for v in base["stage_ms_per_step"].values())
        assert base["stage_ms_per_step"]["encoder"] > 0 and base["stage_ms_per_step"]["updates"] > 0
        assert all(_finite(r["last_reward"]) for r in base["runs"])
    rows = {(r["num_envs"], r["video_every_k"]): r for r in result["niljax"]}
    assert set(rows) == {(n, k) for n in ladder for k in (1, 8)}
    for (n, _), row in rows.items():
        assert _finite(row["env_steps_per_s"]) and row["env_steps_per_s"] > 0
        assert row["metrics_finite"] and _finite(row["reward_total"])
        # same per-env work as the baseline: replayed samples per env step = replay_ratio * 128
        assert row["updates_per_iteration"] * row["batch_size"] == pytest.approx(rr * n * 128)
        assert row["effective_replay_ratio"] == pytest.approx(rr)
    assert [s["num_envs"] for s in result["stage_split"]] == setting["split_ns"]
    for split in result["stage_split"]:
        assert set(split["stage_ms_per_env_step"]) == set(STAGES)
        assert all(_finite(v) and v > 0 for v in split["stage_ms_per_env_step"].values())
        assert split["encoder_flops_per_iteration"] == pytest.approx(
            result["roofline"]["flops_per_clip"] * split["num_envs"])
        assert 0 < split["encoder_fraction_of_matmul_peak"]
    assert result["roofline"]["flops_per_clip"] > 0 and result["roofline"]["matmul_peak_tflops"] > 0
    for k in ("1", "8"):
        sp = result["speedup"][k]
        assert sp["best_num_envs"] in ladder and sp["best_over_baseline"] > 0 and sp["n1_over_baseline"] > 0


def test_suite_writes_a_png(smoke: tuple[dict, Path]) -> None:
    _, png = smoke
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
