"""`niljax plan`: memory per component and FLOPs before compiling; `niljax train` refuses what cannot fit.

- the encoder-activation formula is an upper bound of XLA's own memory analysis of the compiled encoder,
  within 3x (a plan that refuses feasible configs would be as useless as one that misses OOMs);
- `niljax plan` prints the table with FLOPs per stage and exits 0 when it fits, 1 when it does not;
- `train` refuses a config that does not fit the given device memory, names the fields to change, and writes
  nothing (no run folder).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import pytest
from train_helpers import make_static_bundle, small_config

from niljax.train.plan import PlanRefused, encoder_activation_bytes_per_clip, parse_bytes


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory) -> Path:
    return make_static_bundle(tmp_path_factory.mktemp("plan") / "bundle")


def test_parse_bytes():
    assert parse_bytes("80GB") == 80 * 2**30
    assert parse_bytes("141 GiB") == 141 * 2**30
    assert parse_bytes("512m") == 512 * 2**20
    assert parse_bytes("1000") == 1000
    with pytest.raises(ValueError, match="cannot read a memory size"):
        parse_bytes("lots")


def test_activation_estimate_bounds_xla_memory_analysis():
    from niljax.encoders.factory import _preset
    from niljax.encoders.timesformer import Timesformer

    tsf = _preset("small", 8)
    batch = 4
    x = jax.ShapeDtypeStruct((batch, 8, tsf.image_size, tsf.image_size, 3), jnp.float32)
    params = jax.eval_shape(lambda x: Timesformer(tsf).init(jax.random.PRNGKey(0), x), x)
    model = Timesformer(tsf)
    compiled = jax.jit(lambda p, x: model.apply(p, x).cls_embedding).lower(params, x).compile()
    measured = compiled.memory_analysis().temp_size_in_bytes
    estimate = batch * encoder_activation_bytes_per_clip(tsf, 8, 4)
    assert measured <= estimate <= 3 * measured, (estimate, measured)


def test_plan_cli_fits_and_does_not(bundle_dir, tmp_path, capsys):
    from niljax.train.cli import plan_main

    args = ["--reference", str(bundle_dir), "--robot", "toy_arm", "--num-envs", "8", "--encoder.kind",
            "timesformer-random", "--learner.replay-capacity", "10000"]
    assert plan_main(args + ["--json", str(tmp_path / "plan.json")]) == 0
    out = capsys.readouterr().out
    for part in ("physics", "frame history", "encoder activations", "replay", "learner", "verdict: fits", "GFLOP"):
        assert part in out, part
    import json

    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["fits"] and plan["flops_per_iteration"]["encoder"] > 0 and plan["flops_per_iteration"]["learner"] > 0
    assert plan["summary"]["num_envs"] == 8 and plan["summary"]["clips_per_encoder_call"] == 8
    assert plan_main(args + ["--device-memory", "1MB", "--no-flops"]) == 1
    assert "DOES NOT FIT" in capsys.readouterr().out
    # two camera views: twice the history, references, clips per encoder call and encoder FLOPs
    assert plan_main(args + ["--render.views", "follow", "follow@90", "--json", str(tmp_path / "views.json")]) == 0
    views = json.loads((tmp_path / "views.json").read_text())
    sizes = {row["name"]: row["bytes"] for row in plan["items"]}
    sizes2 = {row["name"]: row["bytes"] for row in views["items"]}
    assert views["summary"]["views"] == 2 and views["summary"]["clips_per_encoder_call"] == 16
    for item in ("frame history", "reference", "encoder activations"):
        assert sizes2[item] == 2 * sizes[item], item
    assert views["flops_per_iteration"]["encoder"] == pytest.approx(2 * plan["flops_per_iteration"]["encoder"])


def test_train_refuses_a_config_that_cannot_fit_and_writes_nothing(bundle_dir, tmp_path):
    from niljax.learner.config import BROConfig
    from niljax.train.run import train

    run_dir = tmp_path / "run"
    config = small_config(bundle_dir, run_dir, device_memory="64MB")
    config = dataclasses.replace(config, learner=dataclasses.replace(config.learner, replay_capacity=2_000_000))
    assert isinstance(config.learner, BROConfig)
    with pytest.raises(PlanRefused, match=r"--learner.replay-capacity \d+") as err:
        train(config)
    assert "replay" in str(err.value) and "DOES NOT FIT" in str(err.value)
    assert not run_dir.exists()
