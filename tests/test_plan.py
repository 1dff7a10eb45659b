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


# ---------------------------------------------------------------------------------- the GPU tier and the limit
@pytest.fixture(scope="module")
def gpu_tier_file(tmp_path_factory) -> Path:
    """The GPU tier's TrainConfig on H1 (the registry's model) as a --config file."""
    import json

    from niljax.robots import load_robot
    from niljax.train.tiers import get_tier

    try:
        load_robot("h1")
    except (FileNotFoundError, ValueError) as err:  # the registry's H1 comes from an optional assets package
        pytest.skip(f"the registry's H1 model is not installed here: {err}")
    path = tmp_path_factory.mktemp("tier") / "gpu.json"
    path.write_text(json.dumps(get_tier("gpu").train_config(robot="h1").to_dict()))
    return path


def _plan_json(plan_main, args: list[str], out: Path) -> tuple[int, dict]:
    import json

    code = plan_main(args + ["--no-flops", "--json", str(out)])
    return code, json.loads(out.read_text())


def test_gpu_tier_plan_is_accepted_with_its_chunk_on_h100_and_h200_limits(gpu_tier_file, tmp_path, capsys,
                                                                          monkeypatch):
    """`niljax plan` of the GPU tier for an 80 GB and a 141 GB device: compared with 75 % of the memory (XLA's
    default allocator share, the bytes_limit such a device reports), stated in the table, and accepted with the
    tier's own encoder chunk."""
    from niljax.train.cli import plan_main
    from niljax.train.plan import GIB, HEADROOM
    from niljax.train.tiers import get_tier

    monkeypatch.delenv("XLA_PYTHON_CLIENT_MEM_FRACTION", raising=False)
    chunk = get_tier("gpu").encoder_chunk
    assert isinstance(chunk, int) and 0 < chunk < get_tier("gpu").num_envs, "the GPU tier sets a chunk"
    for size, limit_gib in (("80GB", 60.0), ("141GB", 105.75)):
        code, plan = _plan_json(plan_main, ["--config", str(gpu_tier_file), "--device-memory", size],
                                tmp_path / f"{size}.json")
        text = capsys.readouterr().out
        assert code == 0 and plan["fits"], text
        assert plan["device_limit"]["limit"] == int(limit_gib * GIB) == plan["device_memory_bytes"]
        assert plan["budget_bytes"] == pytest.approx(HEADROOM * limit_gib * GIB)
        assert plan["summary"]["encoder_chunk"] == chunk and plan["summary"]["num_envs"] == 1024
        assert plan["total_bytes"] <= plan["budget_bytes"]
        assert f"{size.removesuffix('GB')}.0 GiB x 0.75 (XLA's default" in text and f"{limit_gib:.3f}" in text
        assert "verdict: fits" in text


def test_unchunked_encoder_at_4096_envs_is_refused_naming_the_limit_and_the_chunk(gpu_tier_file, tmp_path, capsys,
                                                                                  monkeypatch):
    """`--reward.encoder-chunk 0` at N = 4096 on an 80 GB device: `niljax plan` exits 1 and `niljax train`'s check
    refuses with the limit it used and the largest chunk that fits (which "auto" also picks, and which fits while
    one encoder call fewer does not)."""
    import re

    from niljax.train.cli import parse_train_config, plan_main
    from niljax.train.plan import PlanRefused, check_fits, plan_run

    monkeypatch.delenv("XLA_PYTHON_CLIENT_MEM_FRACTION", raising=False)
    args = ["--config", str(gpu_tier_file), "--num-envs", "4096", "--device-memory", "80GB"]
    code, plan = _plan_json(plan_main, args + ["--reward.encoder-chunk", "0"], tmp_path / "refused.json")
    text = capsys.readouterr().out
    assert code == 1 and not plan["fits"] and "DOES NOT FIT" in text
    advised = int(re.search(r"--reward\.encoder-chunk (\d+) or auto", text).group(1))
    with pytest.raises(PlanRefused) as err:
        check_fits(plan_run(parse_train_config(args + ["--reward.encoder-chunk", "0"]), flops=False))
    message = str(err.value)
    print(message.splitlines()[0])
    assert re.match(r"this config needs \d+\.\d GiB, more than 90% of the 60\.0 GiB limit of the 80GB device "
                    r"\(planned\) \(80\.0 GiB x 0\.75 \(XLA's default", message), message
    assert f"--reward.encoder-chunk {advised} or auto" in message and "nothing was compiled or written" in message
    auto = plan_run(parse_train_config(args + ["--reward.encoder-chunk", "auto"]), flops=False)
    assert auto.fits and auto.encoder_chunk == advised
    assert auto.resolve(parse_train_config(args + ["--reward.encoder-chunk", "auto"])).reward.encoder_chunk == advised
    calls = -(-4096 // advised)
    fewer_calls = parse_train_config(args + ["--reward.encoder-chunk", str(-(-4096 // (calls - 1)))])
    assert not plan_run(fewer_calls, flops=False).fits, "auto did not pick the largest chunk that fits"


def test_without_an_accelerator_a_gpu_tier_is_not_planned_against_host_ram(gpu_tier_file, monkeypatch):
    """On this CPU: the GPU tier is planned for an 80 GB GPU x 0.75 (saying so), any other config against the host's
    RAM with a verdict that names it."""
    import jax

    from niljax.train.cli import parse_train_config
    from niljax.train.plan import GIB, device_limit, plan_run

    if jax.default_backend() != "cpu":
        pytest.skip("checks the CPU fallback; this host has an accelerator")
    monkeypatch.delenv("XLA_PYTHON_CLIENT_MEM_FRACTION", raising=False)
    tier = parse_train_config(["--config", str(gpu_tier_file)])
    limit = device_limit(tier)
    assert limit.accelerator and limit.limit == 60 * GIB and "no accelerator here" in limit.name
    plain = dataclasses.replace(tier, tier="")
    host = device_limit(plain)
    assert not host.accelerator and host.name == "cpu host RAM"
    table = plan_run(dataclasses.replace(plain, num_envs=4), flops=False).table()
    assert "fits the host's RAM" in table or "DOES NOT FIT" in table


def test_auto_chunk_is_resolved_when_the_pipeline_is_built(bundle_dir, tmp_path):
    """reward.encoder_chunk = "auto" with a limit that holds about half of the N clips at once: the trainer gets the
    plan's chunk (N/2), the config the run records keeps "auto"."""
    from niljax.train.plan import plan_run
    from niljax.train.run import build_pipeline

    config = small_config(bundle_dir, tmp_path / "run")
    config = dataclasses.replace(config, reward=dataclasses.replace(config.reward, encoder_chunk="auto"))
    whole = plan_run(dataclasses.replace(config, device_memory="1TB@1"), flops=False)
    act = next(i.bytes for i in whole.items if i.name == "encoder activations")
    assert whole.encoder_chunk == 0  # everything fits: all N at once
    room = (whole.total_bytes - act + 0.6 * act) / 0.9  # room for 60 % of the clips
    config = dataclasses.replace(config, device_memory=f"{int(room)}@1")
    pipeline = build_pipeline(config)
    assert pipeline.trainer.reward_config.encoder_chunk == config.num_envs // 2
    assert config.reward.encoder_chunk == "auto"


def test_docs_memory_table_is_the_plan_of_the_gpu_tier(gpu_tier_file, monkeypatch):
    """docs/training.md shows benchmarks/results/plan_gpu_tier.json as `plan_gpu_tier.markdown` renders it, and the
    JSON's N = 1024 rows (tier's chunk, both devices) are what plan_run gives now."""
    import json
    import sys

    root = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    sys.modules.pop("plan_gpu_tier", None)
    import plan_gpu_tier as g

    from niljax.train.plan import GIB, plan_run

    result = json.loads(g.OUT.read_text())
    assert g.docs_block() == g.markdown(result), "docs/training.md is stale: run benchmarks/plan_gpu_tier.py"
    for row in result["rows"]:
        if row["num_envs"] == 1024 and row["encoder_chunk_setting"] == result["tier_encoder_chunk"]:
            plan = plan_run(g.tier_config(1024, row["encoder_chunk_setting"], result["devices"][row["device"]]),
                            flops=False, reference_frames=result["reference_frames"])
            assert plan.total_bytes / GIB == pytest.approx(row["total_gib"]) and plan.fits == row["fits"]
