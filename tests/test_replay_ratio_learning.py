"""Learning test (slow): BRO's official replay ratio at small N vs large_batch mode at large N, same env steps.

Runs the settings of `experiments/replay_ratio.py` (pendulum swing-up, small nets, BRO-fast's 2 updates per
env step = 256 replayed samples per transition, 6,144 env steps per seed, 2 vmapped seeds):
- official mode, 8 envs: 16 sequential updates of batch 128 per iteration (2 per env step);
- large_batch mode, 64 envs: batch 2048 (16 BRO batches), 8 sequential updates per iteration (0.125 per env
  step, 16x fewer), tau / learning rates / duals scaled per update as docs/learner.md states.
Committed run (experiments/results/replay_ratio/pendulum.json; random policy about -1200, solved about -150):
official N=8 ends at -171 / -179 (both seeds solved), large_batch N=64 at -553 / -199 (learning, one seed
slower: 16x fewer sequential updates cost sample efficiency at equal env steps), and the same N=64, batch and K
with BRO's per-update rates (the old accounting, `large_batch_n64_unscaled`) at -1413 / -1384: no learning.
Claims asserted (with margin for a chaotic RL trajectory): official both seeds > -400; large_batch mean over
the seeds > -800. About 5 min of CPU.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "replay_ratio.py"


def _experiment():
    spec = importlib.util.spec_from_file_location("replay_ratio_experiment", EXPERIMENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_official_ratio_small_n_vs_large_batch_large_n() -> None:
    exp = _experiment()
    settings = exp.settings()
    results = {name: exp.run_setting(*settings[name], evals=1) for name in ("official_n8", "large_batch_n64")}
    official, large = results["official_n8"], results["large_batch_n64"]
    print({name: np.round(r["final_return_per_seed"], 1).tolist() for name, r in results.items()})
    for r in results.values():
        assert r["env_steps"] == exp.ENV_STEPS and r["trace_count"] == 1
        assert r["ratio"]["samples_per_transition"] == 256  # both replay BRO-fast's samples per transition
    assert official["ratio"]["sequential_updates_per_env_step"] == 2
    assert large["ratio"]["sequential_updates_per_env_step"] == 0.125
    assert official["sequential_updates"] == 16 * large["sequential_updates"]
    assert min(official["final_return_per_seed"]) > -400, official["final_return_per_seed"]
    assert large["final_return_mean"] > -800, large["final_return_per_seed"]
