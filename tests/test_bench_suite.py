"""`benchmarks/bench_suite.py`: the accounting (same per-env work on both sides), and `--preset smoke` end to end.

No timing asserts (speed belongs to the benchmark's JSON, not to a test). The end-to-end run is a subprocess:
the smoke preset checks the plumbing (baseline, niljax ladder, stage split, roofline, plot). Its cost is
compiling: the whole NIL iteration four times (N = 1, 2 x video every 1, 8), two inits, each stage alone. The
preset keeps those programs small (toy arm at 16 px, depth-0 networks) and compiles them in two worker threads
(`Preset.compile_ahead`); the subprocess runs XLA with flags that make compiling cheap (see `smoke`). About
64 s on the idle 2-core dev machine (57-60 s of it the suite, 77 CPU-s), up to twice that when it is shared.
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


@pytest.fixture(scope="module")
def suite():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import bench_suite
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return bench_suite


@pytest.mark.parametrize("preset", ["smoke", "cpu", "gpu"])
def test_niljax_replays_as_many_samples_per_env_step_as_the_baseline(suite, preset: str) -> None:
    p = suite.PRESETS[preset]
    for n in (*p.ladder, 3, 100):
        cfg = suite.learner_for(p, n)
        k = cfg.num_updates_per_iteration(n)
        # the baseline replays replay_ratio batches of 128 per env step; niljax K batches of B per N env steps:
        # exactly the same on the preset's ladder, within K's rounding (half a batch) elsewhere
        target = p.replay_ratio * n * suite.REFERENCE_BATCH
        if k == 1 and target < cfg.batch_size / 2:  # a tier's large batch at tiny N: one update is the least
            assert cfg.batch_size > target
            continue
        assert k * cfg.batch_size == target if n in p.ladder else abs(k * cfg.batch_size - target) <= cfg.batch_size / 2
        assert cfg.random_steps == 0 and cfg.reset_steps == ()
    assert suite.learner_for(p, 1).batch_size == suite.REFERENCE_BATCH
    assert set(p.split_ns) <= set(p.ladder)


def test_run_order_puts_the_ends_of_the_ladder_first(suite) -> None:
    order = suite.run_order((1, 8, 32, 128))
    assert order[:4] == [(128, 1), (1, 1), (128, 8), (1, 8)]
    assert sorted(order) == sorted((n, k) for n in (1, 8, 32, 128) for k in (1, 8))
    assert suite.run_order((4,)) == [(4, 1), (4, 8)]


def test_plot_draws_a_partial_result(suite, tmp_path: Path) -> None:
    stages = dict.fromkeys(STAGES, 1.0)
    result = {"setting": {"robot": "x", "size": 8, "encoder_preset": "tiny", "replay_ratio": 1.0}, "device": "t",
              "baseline": {"1": {"env_steps_per_s": 10.0, "stage_ms_per_step": stages}},
              "niljax": [{"num_envs": 1, "video_every_k": 1, "env_steps_per_s": 12.0}], "stage_split": []}
    suite.plot(result, tmp_path / "a.png")
    result["niljax"] = []  # baseline only: no log axis without data
    suite.plot(result, tmp_path / "b.png")
    assert all((tmp_path / f).read_bytes()[:4] == b"\x89PNG" for f in ("a.png", "b.png"))


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("suite")
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    # compile fast, run slow (the smoke run executes little): no LLVM optimisation, no fusion emitters, no
    # hoisting out of while loops. Smoke's fused iteration compiled in 17 CPU-s with the fusion emitters off
    # alone, 6-9 with backend optimisation off too, 5.5-7 with the while-loop passes off too (idle 2-core box).
    from niljax.train.rehearse import fast_compile_flags  # the fusion-emitter flag only where jaxlib has it

    flags = fast_compile_flags()
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flags}".strip()
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
        assert row["chunk_traces"] == 1  # traced once: the timed calls reuse the program compiled ahead
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
