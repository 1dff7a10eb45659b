"""Issue 26, items 1 and 7: the dress rehearsal of the GPU tier on this CPU, the hub's weight formats written
without torch, and one definition of the GPU setting.

`test_rehearsal_of_the_gpu_tier` runs `niljax rehearse --tier gpu --robot a1 --skip bench`: every step a GPU user
runs (doctor and the CPU guard, weights in the hub's .bin and safetensors formats, `walking.py --tier gpu
--rehearse` making the reference with MuJoCo Warp and training with warp inside the compiled iteration,
checkpoint, `niljax plan`, resume, `niljax evaluate`, `niljax table`, the physics precision check), each as its own
process. A1 because its model and walk ship with niljax (no ../shared needed). The bench step (the suite's gpu
preset at rehearsal size: 4 fused iterations and 7 stage programs more to compile) is the slow test at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from niljax.train.rehearse import STEPS, RehearsalConfig, fast_compile_flags, rehearse, write_pytorch_bin

REPO = Path(__file__).resolve().parents[1]


def test_pytorch_bin_written_without_torch_reads_back(tmp_path: Path) -> None:
    from niljax.encoders.torch_pickle import read_torch_zip

    rng = np.random.default_rng(0)
    tensors = {
        "timesformer.w": rng.standard_normal((3, 5)).astype(np.float32),
        "timesformer.transposed": np.asfortranarray(rng.standard_normal((4, 2))).astype(np.float32),
        "scalar": np.array(2.5, np.float32),
        "f16": np.linspace(-1, 1, 7).astype(np.float16),
        "f64": rng.standard_normal(3),
        "i64": np.arange(-3, 300, dtype=np.int64),
        "u8": np.arange(6, dtype=np.uint8).reshape(2, 3),
        "mask": np.array([True, False, True]),
        "empty": np.zeros((2, 0), np.float32),
    }
    path = write_pytorch_bin(tmp_path / "pytorch_model.bin", tensors)
    ours = read_torch_zip(path)
    assert list(ours) == list(tensors)
    for name, want in tensors.items():
        assert ours[name].dtype == want.dtype and ours[name].shape == want.shape, name
        np.testing.assert_array_equal(ours[name], want)
    try:
        import torch
    except ImportError:
        return
    theirs = torch.load(path, map_location="cpu", weights_only=True)  # torch's own reader accepts the file
    assert list(theirs) == list(tensors)
    for name, want in tensors.items():
        np.testing.assert_array_equal(theirs[name].numpy(), want)
    with pytest.raises(ValueError, match="dtype"):
        write_pytorch_bin(tmp_path / "bad.bin", {"c": np.zeros(2, np.complex64)})


def _experiments():  # noqa: ANN202 - the walking and _common modules of experiments/
    sys.path.insert(0, str(REPO / "experiments"))
    try:
        import _common
        import walking
    finally:
        sys.path.remove(str(REPO / "experiments"))
    return walking, _common


def test_one_gpu_setting_for_walking_the_per_robot_scripts_and_the_bench_preset() -> None:
    from niljax.train.tiers import TIERS

    walking, common = _experiments()
    tier = TIERS["gpu"]
    args = argparse.Namespace(tier="gpu", rehearse=False, env_steps=None, variant="full", robot="h1", mjcf=None,
                              seed=0, out="runs/walking", eval_every=None, set=None, no_progress=True,
                              home_start=False, allow_cpu=False, encoder_weights="weights/k400")
    walk = walking.build_config(args, reference="bundle")
    robot_args = argparse.Namespace(tier="gpu", quick=False, rehearse=False, env_steps=None, mjcf=None, seed=0,
                                    out="runs/h1-walking", encoder_weights="weights/k400", allow_cpu=False)
    script = common.train_config("h1", robot_args, reference="bundle")
    for config in (walk, script):
        assert config.tier == "gpu" and not config.allow_cpu
        assert (config.num_envs, config.iterations_per_call, config.total_env_steps) == (
            tier.num_envs, tier.iterations_per_call, tier.total_env_steps)
        assert config.render == tier.render and config.learner == tier.learner and config.precision == tier.precision
        assert config.encoder == dataclasses.replace(tier.encoder, weights="weights/k400")
        assert (config.reward.encoder_dtype, config.reward.encoder_chunk) == (tier.encoder_dtype, tier.encoder_chunk)
        assert "/gpu/" in config.run_dir + "/"  # the tier names the run folder (and the bundle beside it)
    assert walk.reward.penalty_scales == script.reward.penalty_scales
    cpu = walking.build_config(argparse.Namespace(**{**vars(args), "tier": "cpu"}), reference="bundle")
    assert cpu.tier == "cpu" and Path(cpu.run_dir).parts[:3] == ("runs", "walking", "cpu")
    rehearsal = walking.build_config(argparse.Namespace(**{**vars(args), "rehearse": True}), reference="bundle")
    small = tier.rehearsal()
    assert rehearsal.allow_cpu and "gpu-rehearsal" in rehearsal.run_dir
    assert (rehearsal.num_envs, rehearsal.render.height, rehearsal.render.backend) == (small.num_envs, 32, "warp")
    assert rehearsal.learner.replay_mode == "large_batch" and rehearsal.precision == tier.precision


def test_fast_compile_flags_are_accepted_by_the_installed_jaxlib() -> None:
    """XLA ends the process on an unknown XLA_FLAGS entry: the rehearsal's flags must all exist in this jaxlib
    (on 3.13's jaxlib 0.12.0.1 the fusion-emitter flag did not, and the rehearsal died at its first step)."""
    import os
    import subprocess

    env = dict(os.environ, XLA_FLAGS=fast_compile_flags(), JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", "import jax.numpy as jnp; print(float((jnp.ones(3) * 2).sum()))"],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "6.0", proc.stderr[-2000:]


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("rehearsal")
    return rehearse(RehearsalConfig(tier="gpu", robot="a1", out=str(out), skip=("bench",)))


def test_rehearsal_of_the_gpu_tier(rehearsal: dict) -> None:
    steps = rehearsal["steps"]
    assert rehearsal["complete"] and set(steps) == set(STEPS)
    assert steps["bench"] == {"skipped": True}
    assert "niljax doctor" in steps["install"]["cpu_guard"]  # walking.py --tier gpu refused this CPU backend
    assert steps["weights"]["max_abs_param_diff"] == 0.0  # .bin (written without torch) == safetensors
    train = steps["train"]
    assert train["renderer"] == "warp"  # the tier's renderer ran inside the compiled iteration
    assert all(np.isfinite(v) for v in train["after"].values())
    run = Path(train["run_dir"])
    config = json.loads((run / "config.json").read_text())
    assert config["tier"] == "gpu" and config["allow_cpu"] and config["learner"]["replay_mode"] == "large_batch"
    assert config["reward"]["encoder_chunk"] == 2 and config["num_envs"] == 4
    assert Path(config["encoder"]["weights"]).name == "bin"  # the .bin folder, as the hub serves the paper's model
    assert steps["resume"]["resumed_from"] == train["env_steps"] and steps["resume"]["env_steps"] == 2 * train[
        "env_steps"]
    # the resume loaded the training chunk the first start compiled (the evaluation is traced first, as then)
    assert "jit__train_chunk_impl" in steps["train"]["new_programs"]
    assert "jit__train_chunk_impl" not in steps["resume"]["new_programs"], steps["resume"]["new_programs"]
    assert steps["evaluate"]["episodes"] == 2 and np.isfinite(steps["evaluate"]["walk_loco_sum"])
    assert steps["table"]["rows"] >= 1
    precision = steps["precision"]
    assert precision["finite"] and precision["chosen"] == "highest"
    # on a CPU every precision computes in float32: the rollouts agree exactly (on a GPU "default" is TF32)
    assert precision["platform"] == "cpu" and set(precision["max_abs_qpos_diff"].values()) == {0.0}
    assert rehearsal["wall_s"] > 0 and all(steps[s]["wall_s"] > 0 for s in STEPS if s != "bench")


@pytest.mark.slow
def test_rehearsal_bench_step_runs_the_gpu_preset(tmp_path: Path) -> None:
    record = rehearse(RehearsalConfig(tier="gpu", robot="a1", out=str(tmp_path),
                                      skip=tuple(s for s in STEPS if s != "bench")))
    bench = record["steps"]["bench"]
    assert record["complete"] and bench["niljax_runs"] == 4  # N in (1, 4) x video every 1 and 8 steps
    assert bench["setting"] == {"size": 32, "backend": "warp", "batch": 256, "ladder": [1, 4]}
    result = json.loads(Path(bench["json"]).read_text())
    assert result["setting"]["rehearsal"] and result["setting"]["learner"]["replay_mode"] == "large_batch"
