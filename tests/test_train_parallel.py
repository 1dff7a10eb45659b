"""The compiled NIL iteration over several devices and several processes gives what one device gives.

- sharded over the 2 forced CPU devices of this process: same chunk metrics and actor parameters after 3 chunks;
- `niljax train --distributed` as 2 processes of 1 CPU device each (jax.distributed, gloo): both exit 0, the run
  folder is written once (by process 0), and its logged chunk metrics equal the one-device run's;
- (slow) both processes SIGKILLed after a checkpoint and relaunched: they resume from it and finish.
The one-device run is computed once for the module.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from train_helpers import make_static_bundle, small_config

from niljax.train.loop import chunk_summary
from niljax.train.run import build_pipeline

SEED = 3
CHUNKS = 3  # 8 envs x 4 iterations each: random warm-up (64 steps), then updates


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    return make_static_bundle(tmp_path_factory.mktemp("parallel") / "bundle")


def _run_chunks(trainer) -> tuple[list[dict], object, object]:
    state = trainer.init(jax.random.PRNGKey(SEED))
    metrics = []
    for _ in range(CHUNKS):
        state, m = trainer.train_chunk(state)
        metrics.append(jax.device_get(m))
    return metrics, jax.device_get(state.learner.actor_params), state


@pytest.fixture(scope="module")
def one_device(bundle_dir, tmp_path_factory):
    trainer = build_pipeline(small_config(bundle_dir, tmp_path_factory.mktemp("one"), shard=False)).trainer
    assert trainer.mesh is None
    metrics, actor, _ = _run_chunks(trainer)
    assert metrics[-1]["learner/critic_loss"] != 0.0  # the compared chunks include BRO updates
    return metrics, actor


def test_sharded_chunk_matches_one_device(bundle_dir, tmp_path, one_device):
    assert len(jax.devices()) == 2
    trainer = build_pipeline(small_config(bundle_dir, tmp_path, shard=True)).trainer
    assert trainer.mesh is not None
    metrics, actor, state = _run_chunks(trainer)
    shards = state.env_state.obs.addressable_shards  # the per-env leaves really are split over the devices
    assert len(shards) == 2 and all(sh.data.shape[0] == 4 for sh in shards)
    single_metrics, single_actor = one_device
    for single, sharded in zip(single_metrics, metrics):
        for key, value in single.items():
            np.testing.assert_allclose(sharded[key], value, rtol=2e-3, atol=1e-4, err_msg=key)
    for a, b in zip(jax.tree.leaves(single_actor), jax.tree.leaves(actor)):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _launch_two_processes(config_path: Path, log_prefix: Path) -> list[subprocess.Popen]:
    """`niljax train --config config_path` as 2 jax.distributed processes of 1 CPU device each."""
    port = _free_port()
    procs = []
    for process_id in range(2):
        env = dict(os.environ, JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
                   JAX_PROCESS_ID=str(process_id), PYTHONUNBUFFERED="1",
                   XLA_FLAGS="--xla_force_host_platform_device_count=1")  # 1 device per process, 2 in all
        with open(f"{log_prefix}{process_id}.log", "w") as log:  # the child keeps its own handle
            procs.append(subprocess.Popen([sys.executable, "-m", "niljax.cli", "train", "--config",
                                           str(config_path)], env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs


def _wait_all(procs: list[subprocess.Popen], log_prefix: Path, timeout: float = 540) -> list[str]:
    deadline = time.time() + timeout
    try:
        for proc in procs:
            proc.wait(timeout=max(deadline - time.time(), 1))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    logs = [Path(f"{log_prefix}{i}.log").read_text() for i in range(len(procs))]
    assert [p.returncode for p in procs] == [0] * len(procs), "\n\n".join(log[-3000:] for log in logs)
    return logs


def test_two_processes_with_jax_distributed_match_one_device(bundle_dir, tmp_path, one_device):
    run_dir = tmp_path / "run"
    steps = CHUNKS * 32
    config = small_config(bundle_dir, run_dir, seed=SEED, total_env_steps=steps, checkpoint_every=64,
                          shard=True, distributed=True)
    config.save(tmp_path / "config.json")
    _wait_all(_launch_two_processes(tmp_path / "config.json", tmp_path / "process"), tmp_path / "process")

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["devices"] == 2 and summary["env_steps"] == steps
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train_records = [r for r in records if "reward/total" in r]
    assert [r["step"] for r in train_records] == [32, 64, 96]  # one writer: no duplicated lines
    assert sorted(int(p.name) for p in (run_dir / "checkpoints").iterdir() if p.name.isdigit()) == [0, 64, 96]
    assert (run_dir / "policy" / "nil.json").exists()
    for single, logged in zip(one_device[0], train_records):
        for key, value in chunk_summary(single).items():
            np.testing.assert_allclose(logged[key], value, rtol=2e-3, atol=1e-4, err_msg=key)


@pytest.mark.slow
def test_two_processes_resume_after_sigkill(bundle_dir, tmp_path):
    """Both processes SIGKILLed after a checkpoint, relaunched: they resume from it and finish; the metrics
    file stays valid (each train step once, in order). About 3 min on 2 cores."""
    import signal

    run_dir = tmp_path / "run"
    config = small_config(bundle_dir, run_dir, seed=SEED, total_env_steps=3200, checkpoint_every=320,
                          shard=True, distributed=True)
    config.save(tmp_path / "config.json")
    procs = _launch_two_processes(tmp_path / "config.json", tmp_path / "first")
    checkpoints = run_dir / "checkpoints"
    deadline = time.time() + 400
    while time.time() < deadline and all(p.poll() is None for p in procs):
        steps = [int(p.name) for p in checkpoints.iterdir() if p.name.isdigit()] if checkpoints.exists() else []
        if any(s >= 960 for s in steps):
            break
        time.sleep(0.3)
    assert all(p.poll() is None for p in procs), "a process ended before the kill"
    for proc in procs:
        proc.send_signal(signal.SIGKILL)
    for proc in procs:
        proc.wait()
    saved = max(int(p.name) for p in checkpoints.iterdir() if p.name.isdigit())
    assert 960 <= saved < 3200

    logs = _wait_all(_launch_two_processes(tmp_path / "config.json", tmp_path / "second"), tmp_path / "second")
    assert f"resumed {run_dir} from env step {saved}" in logs[0]
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in records if "reward/total" in r]
    assert train_steps == list(range(32, 3201, 32))
    assert json.loads((run_dir / "summary.json").read_text())["env_steps"] == 3200
