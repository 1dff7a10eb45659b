"""Issue 26, items 2, 5, 6: the GPU tier's compiled programs export for CUDA and TPU from this CPU, warp is
refused for TPU before anything is traced, a GPU tier refuses a CPU backend, and each stage's matmul precision
reaches the traced iteration.

`jax.export` lowers a program for a platform without its device: every primitive needs a lowering rule there and
every custom call a compatibility guarantee (MuJoCo Warp's FFI calls are the listed exception, see
`niljax.train.accel.ExportResult`). The robot is A1 (its model ships with niljax, so this runs without
../shared), at the GPU tier's rehearsal size (`Tier.rehearsal`); tracing and lowering A1's physics dominate
(about 2 minutes on the idle 2-core machine, 6 under a load of 16). H1, the tier's robot in walking.py, is in the
slow test below (it needs LocoMuJoCo's H1 model).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
import pytest

from niljax.train.accel import (
    PLATFORMS,
    check_renderer_platform,
    export_trainer,
    ffi_call_targets,
    iter_equations,
    require_accelerator,
)
from niljax.train.config import MatmulPrecision
from niljax.train.tiers import TIERS, check_tier_backend, get_tier


def _tier_config(robot: str, out: Path, **overrides):  # noqa: ANN202 - a TrainConfig
    """The GPU tier at rehearsal size on a 12-frame home-pose bundle of `robot` (rendered with the tier's warp
    renderer, embedded by a test-made TimeSformer folder in the hub's .bin format)."""
    from niljax.robots import load_robot
    from niljax.train.demo import make_replay_bundle
    from niljax.train.rehearse import rehearsal_encoder_config, write_hub_folders

    tier = get_tier("gpu").rehearsal()
    bin_dir, _ = write_hub_folders(out / "weights", rehearsal_encoder_config(32, tier.encoder.clip_len))
    config = tier.train_config(encoder_weights=str(bin_dir), reference=str(out / "bundle"), robot=robot,
                               run_dir=str(out / "run"), allow_cpu=True, memory_check=False, **overrides)
    scene = load_robot(robot, mjcf_path=config.mjcf, plain_background=True)
    make_replay_bundle(out / "bundle", robot, np.repeat(scene.home_qpos[None], 12, axis=0), config.render,
                       config.encoder, config.reward.clip_len, source="test:home-pose", scene=scene)
    return config


def _trainer(config, backend: str, **render):  # noqa: ANN001, ANN202
    from niljax.train.run import build_pipeline

    return build_pipeline(dataclasses.replace(
        config, render=dataclasses.replace(config.render, backend=backend, **render))).trainer


@pytest.fixture(scope="module")
def a1_config(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    return _tier_config("a1", tmp_path_factory.mktemp("export_a1"))


@pytest.fixture(scope="module")
def warp_trainer(a1_config):  # noqa: ANN001, ANN201
    return _trainer(a1_config, "warp")


def test_gpu_tier_exports_for_cuda_with_the_warp_renderer(warp_trainer) -> None:  # noqa: ANN001
    results = export_trainer(warp_trainer, "cuda")
    assert [r.name for r in results] == ["train_chunk", "evaluate"]
    for r in results:
        assert r.exported.platforms == ("cuda",)
        # the renderer's BVH refit and render kernels are FFI calls of this process; everything else lowered
        # to stable StableHLO / CUDA custom calls (export refuses any other custom call)
        assert len(r.ffi_targets) >= 2 and set(r.ffi_targets) <= set(r.custom_calls)
        assert not [c for c in r.custom_calls if c.startswith(("lapack_", "ducc_"))], r.custom_calls  # no CPU-only
        assert r.text_bytes > 100_000


def test_warp_is_refused_for_tpu_before_anything_is_traced(warp_trainer) -> None:  # noqa: ANN001
    traces = warp_trainer.trace_count
    with pytest.raises(ValueError, match=r"--render\.backend hull") as err:
        export_trainer(warp_trainer, "tpu")
    assert "TPU" in str(err.value) and "CUDA" in str(err.value)
    assert warp_trainer.trace_count == traces


def test_gpu_tier_exports_for_tpu_with_the_hull_renderer(a1_config) -> None:  # noqa: ANN001
    # Smaller mesh decompositions than the defaults (16 pieces per mesh, 16 per tile: a size change, like the
    # rehearsal's N): the same program with its crowded pass, without the ~40 s decomposition of A1's meshes.
    trainer = _trainer(a1_config, "hull", hull_pieces=16, hull_tile_pieces=16)
    hull = trainer.renderer.engine
    assert hull.num_pieces > hull.tile_pieces and hull.crowded_tiles > 0 and hull.crowded_pieces > 0
    results = export_trainer(trainer, "tpu")
    assert [r.name for r in results] == ["train_chunk", "evaluate"]
    for r in results:
        assert r.exported.platforms == ("tpu",)
        assert r.ffi_targets == ()  # pure JAX: nothing process-local, the artifact is portable
        assert r.text_bytes > 100_000


def test_renderers_per_platform_and_auto_on_a_tpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from niljax.render import RenderConfig
    from niljax.render.warp_backend import WarpRenderer, warp_available
    from niljax.robots import load_robot

    assert set(PLATFORMS) == {"cuda", "tpu"}
    for platform in ("cpu", "cuda", "gpu", "tpu"):
        check_renderer_platform("hull", platform)
    check_renderer_platform("warp", "gpu")
    with pytest.raises(ValueError, match="unknown platform"):
        check_renderer_platform("hull", "rocm-ish")
    monkeypatch.setattr(jax, "default_backend", lambda: "tpu")
    assert RenderConfig(backend="auto").resolved_backend() == "hull"  # warp installed, but not on a TPU
    if warp_available():
        scene = load_robot("toy_arm")
        with pytest.raises(ValueError, match="hull"):
            WarpRenderer(scene.mj_model, num_envs=2, height=16, width=16, cam_id=0, render_rgb=False)


def test_gpu_tier_refuses_a_cpu_backend_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NILJAX_ALLOW_CPU", raising=False)
    gpu = TIERS["gpu"].train_config(reference="unused", robot="h1")
    assert jax.default_backend() == "cpu"
    with pytest.raises(ValueError, match="niljax doctor") as err:
        check_tier_backend(gpu)
    assert "--allow-cpu" in str(err.value) and "--tier gpu" in str(err.value)
    assert check_tier_backend(dataclasses.replace(gpu, allow_cpu=True)) == "cpu"
    assert check_tier_backend(TIERS["cpu"].train_config(reference="unused")) is None
    assert check_tier_backend(dataclasses.replace(gpu, tier="")) is None  # a config of no tier: the user's call
    monkeypatch.setenv("NILJAX_ALLOW_CPU", "1")
    assert require_accelerator("x") == "cpu"


def test_bench_gpu_preset_refuses_a_cpu_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse
    import sys

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.delenv("NILJAX_ALLOW_CPU", raising=False)
    monkeypatch.syspath_prepend(str(repo / "benchmarks"))
    if "bench_suite" in sys.modules:
        bench_suite = sys.modules["bench_suite"]
    else:
        import bench_suite
    args = argparse.Namespace(preset="gpu", robot=None, mjcf=None, ladder=None, split=None, rehearse=False,
                              allow_cpu=False)
    with pytest.raises(SystemExit, match="niljax doctor"):
        bench_suite.run_suite(args)
    # the preset is the tier's: the same learner (K, batch, per-update rates) as walking.py --tier gpu trains
    preset = bench_suite.PRESETS["gpu"]
    tier = TIERS["gpu"]
    learner = bench_suite.learner_for(preset, 1024)
    assert learner.num_updates_per_iteration(1024) == tier.learner.num_updates_per_iteration(1024) == 64
    assert (learner.batch_size, learner.per_update_learning_rates(), learner.per_update_tau()) == (
        tier.learner.batch_size, tier.learner.per_update_learning_rates(), tier.learner.per_update_tau())
    assert (preset.size, preset.backend, preset.encoder_chunk) == (224, "warp", tier.encoder_chunk)


def _dot_precisions(jaxpr) -> list:  # noqa: ANN001
    """The precision parameter of every dot_general in a jaxpr and its sub-jaxprs."""
    return [eqn.params.get("precision") for eqn in iter_equations(jaxpr) if eqn.primitive.name == "dot_general"]


def test_stage_precision_reaches_the_traced_iteration(tmp_path: Path) -> None:
    """Every float32 matmul of the toy-arm iteration is traced at the configured precision: HIGHEST everywhere
    by default (the toy encoder's projection included: it runs inside no stage context, so it names none and
    keeps JAX's default); with the learner at "default" the learner's matmuls drop to DEFAULT."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from train_helpers import make_static_bundle, small_config

    from niljax.train.run import build_pipeline

    bundle = make_static_bundle(tmp_path / "bundle")

    def precisions(precision: MatmulPrecision):  # noqa: ANN202
        trainer = build_pipeline(small_config(bundle, tmp_path / "run", precision=precision,
                                              memory_check=False)).trainer
        abstract = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))
        jaxpr = trainer.train_chunk_program.trace(abstract, trainer.program_constants).jaxpr
        return [str(p) for p in _dot_precisions(jaxpr)]

    highest = precisions(MatmulPrecision())
    mixed = precisions(MatmulPrecision(learner="default"))
    n_highest = sum("HIGHEST" in p for p in highest)
    assert n_highest > 0 and len(highest) == len(mixed)
    assert sum("HIGHEST" in p for p in mixed) < n_highest  # the learner's matmuls left HIGHEST
    assert sum("DEFAULT" in p for p in mixed) > sum("DEFAULT" in p for p in highest)
    with pytest.raises(ValueError, match="MatmulPrecision.physics"):
        MatmulPrecision(physics="fast")


def test_ffi_call_targets_finds_nested_calls() -> None:
    import jax.numpy as jnp

    def body(c, _):  # noqa: ANN001, ANN202
        return c, jax.ffi.ffi_call("niljax_test_target", jax.ShapeDtypeStruct((2,), jnp.float32))(c)

    def f(x):  # noqa: ANN001, ANN202
        return jax.lax.scan(body, x, None, length=2)[1]

    assert ffi_call_targets(jax.make_jaxpr(f)(jnp.zeros((2,), jnp.float32))) == ["niljax_test_target"]


@pytest.mark.slow
def test_h1_gpu_tier_exports_for_cuda_and_tpu(tmp_path: Path, locomujoco_dir: Path) -> None:
    """The walking tier's robot (LocoMuJoCo H1: mesh-foot collisions) through both exports (~10 min here)."""
    config = _tier_config("h1", tmp_path, mjcf=str(locomujoco_dir / "models/unitree_h1/h1.xml"))
    for backend, platform in (("warp", "cuda"), ("hull", "tpu")):
        results = export_trainer(_trainer(config, backend), platform)
        assert [r.exported.platforms for r in results] == [(platform,), (platform,)]
        assert bool(results[0].ffi_targets) == (backend == "warp")
