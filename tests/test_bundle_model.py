"""Bundles record the robot model they were made for; training loads it and refuses another one."""

from __future__ import annotations

import json

import pytest
from train_helpers import make_static_bundle, small_config


def test_fingerprint_is_stable_and_tells_models_apart(locomujoco_dir):
    from niljax.robots import load_robot

    a = load_robot("toy_arm").model_fingerprint()
    assert a == load_robot("toy_arm", plain_background=True).model_fingerprint()
    h1_loco = load_robot("h1", mjcf_path=str(locomujoco_dir / "models/unitree_h1/h1.xml")).model_fingerprint()
    assert a != h1_loco and len(a) == 16


def test_training_on_another_model_than_the_bundles_is_refused(tmp_path):
    from niljax.train.run import build_pipeline

    bundle = make_static_bundle(tmp_path / "bundle")
    meta_path = bundle / "metadata.json"
    meta = json.loads(meta_path.read_text())
    assert meta["extra"]["model"]["fingerprint"]  # recorded by the replay bundle maker
    meta["extra"]["model"]["fingerprint"] = "0123456789abcdef"  # as if made from another toy-arm MJCF
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="another model"):
        build_pipeline(small_config(bundle, tmp_path / "run"))
