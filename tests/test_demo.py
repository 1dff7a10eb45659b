"""`niljax demo`: the A1 walking demo (default) and the toy-arm smoke test.

Fast: the A1 reference (shipped walk, looped, rendered at 16 px with the toy encoder), its expert score
against the standing bar, the strip picture, the table, the argument checks. Slow (`-m slow`, about 5 CPU-min:
four compiled programs of the A1 model): the whole A1 demo at a tiny size (16 px, toy encoder, 2 envs, 400 env
steps: the plumbing, not the learning; the learning is measured by `bash scripts/demo.sh`, README).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from niljax.train.demo import DemoArgs, demo_config, encoder_description, standing_bar, walk_table


def test_standing_bar_is_the_protocol_score_of_standing_still():
    assert standing_bar(300, 0.5) == pytest.approx(233.64, abs=0.01)  # A1's bar, experiments/results/README.md
    assert standing_bar(400, 1.25) == pytest.approx(400 * math.exp(-1.5625))


def test_walk_table_row_compares_trained_untrained_bar_and_reference():
    summary = {"env_steps": 27000, "wall_time_s": 458.0,
               "before": {"eval/walk_loco_sum": 45.9, "eval/distance": 0.1, "eval/fell": 1.0, "eval/iou_mean": 0.58},
               "after": {"eval/walk_loco_sum": 268.0, "eval/distance": 0.548, "eval/fell": 0.0, "eval/iou_mean": 0.55},
               "expert": {"eval/walk_loco_sum": 281.1, "eval/distance": 0.735, "eval/fell": 0.0}}
    md, row = walk_table(summary, "a1", 300, 0.5)
    assert row["env_reward"] == 268.0 and row["untrained"] == 45.9 and row["expert"] == 281.1
    assert row["standing_bar"] == pytest.approx(233.64, abs=0.01)
    lines = md.strip().splitlines()
    assert len(lines) == 3  # header, rule, one row
    assert "| a1 | 27,000 | 7.6 min | **268.0** | 45.9 | 233.6 | 281.1 | 0.55 m | 0.73 m | no | 0.55 |" == lines[2]


@pytest.mark.parametrize("kwargs, message", [
    (dict(robot="h1"), "--robot must be one of a1, toy_arm"),
    (dict(encoder="resnet"), "--encoder must be one of"),
    (dict(env_steps=0), "--env-steps must be at least 1"),
])
def test_bad_demo_arguments_name_the_valid_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DemoArgs(**kwargs)


def test_demo_configs_a1_walks_toy_arm_waves(tmp_path):
    a1 = demo_config(DemoArgs(out=str(tmp_path)), tmp_path / "reference")
    assert (a1.robot, a1.num_envs, a1.total_env_steps, a1.eval_horizon) == ("a1", 8, 27_000, 300)
    assert (a1.render.height, a1.render.camera_anchor, a1.reference_start, a1.random_start) == (48, "both", True, True)
    assert "random init" in encoder_description(a1)
    toy = demo_config(DemoArgs(robot="toy_arm", out=str(tmp_path)), tmp_path / "reference")
    assert (toy.robot, toy.num_envs, toy.total_env_steps, toy.render.height) == ("toy_arm", 16, 40_000, 64)


def test_a1_reference_walks_forward_and_the_strip_shows_it(tmp_path):
    from PIL import Image

    from niljax.encoders.factory import EncoderConfig
    from niljax.render import RenderConfig
    from niljax.reward import load_bundle
    from niljax.sim.metrics import kinematic_walk_return
    from niljax.train.demo import make_walk_reference, write_strip

    render = RenderConfig(height=16, width=16, backend="jax")
    path = make_walk_reference(tmp_path / "ref", "a1", render, EncoderConfig(kind="toy", clip_len=8), 8,
                               trajectory="a1-walk", seconds=3.1)
    bundle = load_bundle(path)
    assert bundle.frames.shape == (311, 16, 16, 3) and bundle.qpos.shape[0] == 311
    hz = bundle.metadata.control_rate_hz
    assert hz == 100.0 and "a1-walk" in bundle.metadata.source
    expert = kinematic_walk_return(bundle.root_pos, hz, 0.5, 300)
    distance = bundle.root_pos[300, 0] - bundle.root_pos[0, 0]
    assert expert > standing_bar(300, 0.5) and 0.6 < distance < 0.9  # the loop walks on at ~0.245 m/s
    q = np.asarray(bundle.qpos, np.float64)
    agent = q.copy()
    agent[:, 0] = q[0, 0]  # an agent that marches on the spot
    out = write_strip(tmp_path / "strip.png", "a1", agent, q, hz, alive_steps=120)
    strip = np.asarray(Image.open(out))
    assert strip.shape == (2 * 160 + 3, 5 * 240 + 4 * 3, 3)
    top, bottom = strip[:160], strip[163:]
    assert top.std() > 10 and bottom.std() > 10  # rendered scenes, not blank tiles
    # same first frame; the reference has moved across the fixed camera by the last tile, the agent has not
    np.testing.assert_allclose(top[20:, :240].astype(float), bottom[20:, :240].astype(float), atol=2)
    assert np.abs(top[20:, -240:].astype(float) - bottom[20:, -240:].astype(float)).mean() > 2


@pytest.fixture(scope="module")
def tiny_a1_demo(tmp_path_factory):
    from niljax.train.demo import run_demo

    out = tmp_path_factory.mktemp("demo")
    args = DemoArgs(out=str(out), env_steps=400, num_envs=2, random_steps=200, size=16, encoder="toy",
                    eval_every=100_000, progress=False, strip=str(out / "copy" / "strip.png"))
    return out, run_demo(args)


@pytest.mark.slow
def test_tiny_a1_demo_writes_every_output(tiny_a1_demo, capsys):
    out, summary = tiny_a1_demo
    run = out / "run"
    for name in ("rollout.mp4", "curves.png", "summary.json", "table.md", "table.json", "strip.png", "config.json"):
        assert (run / name).is_file(), name
    assert (out / "copy" / "strip.png").read_bytes() == (run / "strip.png").read_bytes()
    row = json.loads((run / "table.json").read_text())
    assert row["robot"] == "a1" and row["env_steps"] == summary["env_steps"] >= 400
    assert row["standing_bar"] == pytest.approx(233.64, abs=0.01)
    assert row["untrained"] == summary["before"]["eval/walk_loco_sum"]
    # the reference (A1's shipped walk, looped) walks forward: its kinematic score beats the standing bar
    assert row["expert"] > row["standing_bar"] and 0.5 < row["expert_distance_m"] < 1.0
    assert summary["video_encoder"].startswith("toy")
    assert json.loads((run / "config.json").read_text())["robot"] == "a1"


@pytest.mark.slow
def test_tiny_a1_demo_strip_and_printout(tiny_a1_demo):
    from PIL import Image

    out, summary = tiny_a1_demo
    strip = np.asarray(Image.open(out / "run" / "strip.png"))
    assert strip.shape == (2 * 160 + 3, 5 * 240 + 4 * 3, 3)
    table = (out / "run" / "table.md").read_text()
    assert f"| a1 | {summary['env_steps']:,} |" in table
