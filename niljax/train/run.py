"""Host side of a training run: build the pipeline, resume, train in compiled chunks, evaluate, save.

`train(config) -> Path` runs (or resumes) one run in `config.run_dir`:

    run_dir/config.json        resolved TrainConfig (a resumed run must match it, budget aside)
    run_dir/metrics.jsonl      one record per chunk / evaluation (valid after a SIGKILL; cut back on resume)
    run_dir/tb/                TensorBoard events
    run_dir/curves.png         learning curves
    run_dir/checkpoints/<step> orbax checkpoints of the whole NilTrainState (resume is bit-for-bit)
    run_dir/policy/            exported deterministic policy (actor params + JSON), loadable without this code
    run_dir/rollout.mp4        final evaluation: agent | reference side by side, robot mask overlaid
    run_dir/summary.json       evaluation before training and at the end

Several processes (`jax.distributed`, see `init_distributed`): every process runs this same function on the
same run folder (a shared filesystem); all of them take part in the compiled chunks, evaluations and orbax
checkpoints, and only process 0 writes the config, logs, plots, summary, policy and video.

Resume: if `run_dir/checkpoints` holds a checkpoint, the state is restored from the latest one and
`metrics.jsonl` is cut back to that step; everything after it is recomputed identically (the RNG is part
of the state). What can recompile: nothing after the first chunk (one trace of the chunk, one of evaluation).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from niljax.train.config import TrainConfig
from niljax.train.run_folder import checkpoint_manager
from niljax.train.run_logging import RunLogger


class RunConfigMismatch(ValueError):
    """The run folder was started with a different config than the one given."""


@dataclasses.dataclass
class Pipeline:
    """Everything a run builds from its config (host objects + the compiled trainer)."""

    config: TrainConfig
    scene: Any
    bundle: Any  # the first view's bundle
    encoder: Any
    trainer: Any
    view_bundles: dict[str, Any] = dataclasses.field(default_factory=dict)  # {view spec: bundle}, every view


def build_pipeline(config: TrainConfig) -> Pipeline:
    """Load the bundle, the robot, the env, renderers and encoder; validate that they fit together."""
    from niljax.encoders.factory import build_encoder
    from niljax.render import BatchRenderer
    from niljax.reward import load_view_bundles, stack_views
    from niljax.robots import load_robot
    from niljax.sim import EnvConfig, NilEnv
    from niljax.train.loop import NilTrainer

    if not config.reference:
        raise ValueError("TrainConfig.reference is empty: pass --reference PATH_TO_BUNDLE")
    if not Path(config.reference).is_dir():
        raise FileNotFoundError(f"reference bundle not found: {config.reference} (make one with `niljax reference`)")
    encoder = build_encoder(config.encoder) if config.reward.use_video else None
    view_bundles = load_view_bundles(config.reference, expected_encoder=encoder.info if encoder is not None else None)
    bundle = next(iter(view_bundles.values()))
    meta = bundle.metadata
    robot = config.robot or meta.robot
    if config.robot and meta.robot and config.robot != meta.robot:
        raise ValueError(f"robot mismatch: the run asks for {config.robot!r} but the bundle was made for "
                         f"{meta.robot!r} ({config.reference})")
    height, width = bundle.frames.shape[1:3]
    if (config.render.height, config.render.width) != (height, width):
        raise ValueError(f"render size {config.render.height}x{config.render.width} differs from the bundle's "
                         f"frames {height}x{width}; set --height/--width to match")
    recorded = meta.extra.get("model") or {}
    mjcf = config.mjcf
    if mjcf is None and recorded.get("mjcf") and Path(recorded["mjcf"]).is_file():
        mjcf = recorded["mjcf"]  # the model the bundle was made with
    skill = config.skill or meta.extra.get("skill") or ""
    if config.skill and meta.extra.get("skill") and config.skill != meta.extra["skill"]:
        raise ValueError(f"skill mismatch: the run asks for {config.skill!r} but the bundle {config.reference} was made "
                         f"for {meta.extra['skill']!r}")
    if config.reward_kind == "task" and not skill:
        raise ValueError("--reward task trains on a skill's task reward: pass --skill NAME (registered skills: "
                         "`niljax skills`) or a bundle made for a skill")
    if skill:  # the skill's scene: its objects, start pose, action scale and fall condition; task metrics
        from niljax.robots import load_skill_scene

        scene = load_skill_scene(robot, skill, mjcf_path=mjcf, plain_background=config.render.background == "plain")
    else:
        scene = load_robot(robot, mjcf_path=mjcf, plain_background=config.render.background == "plain")
    if recorded.get("fingerprint") and recorded["fingerprint"] != scene.model_fingerprint():
        raise ValueError(
            f"the bundle {config.reference} was made for another model of {robot!r} ({recorded.get('mjcf') or recorded.get('source')}, "
            f"fingerprint {recorded['fingerprint']}) than the one loaded ({scene.asset_path}, fingerprint "
            f"{scene.model_fingerprint()}): pass --mjcf {recorded.get('mjcf') or 'PATH_OF_THAT_MODEL'}, or remake the bundle")
    from niljax.render.camera import camera_mismatches, camera_record
    from niljax.robots.scene import camera_index

    for view in config.render.view_specs():  # an unknown camera is refused naming the scene's cameras, before
        camera_index(scene.mj_model, view.camera)  # any comparison with the bundle's views
    run_views = [v.name for v in config.render.view_specs()]
    if len(view_bundles) != len(run_views) or (len(run_views) > 1 and list(view_bundles) != run_views):
        raise ValueError(f"camera views differ: the run renders {run_views} (RenderConfig.views / camera) but the "
                         f"reference {config.reference} holds {list(view_bundles)}; use the reference's views, or "
                         "remake it with these")
    for (name, view_bundle), view in zip(view_bundles.items(), config.render.view_specs()):
        wrong = camera_mismatches(view_bundle.metadata.camera, camera_record(scene.mj_model, config.render, view))
        if wrong:
            where = config.reference if len(view_bundles) == 1 else f"{config.reference} (view {name})"
            raise ValueError(f"the run's camera differs from the one the bundle {where} was rendered with: "
                             f"{'; '.join(wrong)}. Use the bundle's camera (e.g. --render.fovy, "
                             "--render.camera-azimuth, --render.camera-anchor), or remake the bundle")
    num_frames = bundle.frames.shape[0]
    env_config = EnvConfig(horizon=num_frames - 1, random_start=config.random_start,
                           max_start=max(num_frames - 2, 1), obs_time_index=config.observe_time,
                           time_scale=num_frames - 1, phase_period=_phase_period(config, bundle),
                           reset_noise=config.reset_noise)
    start_states = reference_states(scene, bundle) if config.reference_start else None
    env = NilEnv(scene, env_config, start_states=start_states)
    # Evaluation is deterministic: reference index 0, the exact home pose (or reference state 0; plus
    # eval_reset_noise when asked for a spread over episodes), and it runs its own horizon.
    eval_steps = config.eval_horizon or num_frames - 1
    eval_config = dataclasses.replace(env_config, random_start=False, reset_noise=config.eval_reset_noise,
                                      horizon=eval_steps)
    eval_env = env if eval_config == env_config else NilEnv(scene, eval_config, start_states=start_states)
    if config.memory_check or config.reward.encoder_chunk == "auto":
        # refuse what cannot fit before any buffer is allocated or program compiled; size an "auto" encoder chunk
        from niljax.train.plan import check_fits, plan_run

        plan = plan_run(config, scene=scene, env=env, flops=False)
        if config.memory_check:
            check_fits(plan)
        config = plan.resolve(config)
    from niljax.train.accel import check_renderer_platform

    check_renderer_platform(config.render.resolved_backend(), jax.default_backend())  # warp on a TPU: refused
    renderer = BatchRenderer(scene.mj_model, scene.robot_geom_mask, config.render, config.num_envs)
    eval_renderer = BatchRenderer(scene.mj_model, scene.robot_geom_mask, config.render, config.eval_envs)
    mesh = None
    if (config.shard or jax.process_count() > 1) and jax.device_count() > 1:  # several processes always shard
        mesh = jax.sharding.Mesh(np.array(jax.devices()), ("data",))
    references = [reference_for_run(b, encoder, config) for b in view_bundles.values()]
    trainer = NilTrainer(
        mesh=mesh, env=env, eval_env=eval_env, renderer=renderer, eval_renderer=eval_renderer,
        reference=references[0] if len(references) == 1 else stack_views(references), encoder=encoder,
        reward_config=config.reward, learner_config=config.learner, num_envs=config.num_envs,
        iterations_per_call=config.iterations_per_call, eval_envs=config.eval_envs, eval_horizon=eval_steps,
        reward_kind=config.reward_kind, precision=config.precision,
    )
    return Pipeline(config=config, scene=scene, bundle=bundle, encoder=encoder, trainer=trainer,
                    view_bundles=view_bundles)


def reference_for_run(bundle: Any, encoder: Any, config: TrainConfig) -> Any:
    """The bundle's arrays on the device, with its clip embeddings recomputed in the run's encoder dtype when that
    is not float32 (Stage 1 embeds in float32): agent and reference clips then go through the same bfloat16
    arithmetic, and the cosine has no systematic offset from the dtype alone. Costs one pass over the
    reference's T clips at the start of the run."""
    from niljax.reward import compute_reference_embeddings, resolve_encoder_dtype

    reference = bundle.to_device()
    dtype = resolve_encoder_dtype(config.reward.encoder_dtype)
    if encoder is None or dtype == "float32":
        return reference
    embeddings = compute_reference_embeddings(bundle.frames, bundle.masks, encoder, clip_len=config.reward.clip_len,
                                              batch_size=config.reward.encoder_chunk or 32, dtype=jax.numpy.bfloat16)
    return reference.replace(embeddings=jax.device_put(embeddings))


def _phase_period(config: TrainConfig, bundle: Any) -> int | None:
    if config.phase_period is not None:
        return config.phase_period or None
    period = bundle.metadata.extra.get("loop_period_frames")
    return int(period) if period else None


def reference_states(scene: Any, bundle: Any) -> tuple[np.ndarray, np.ndarray]:
    """(qpos f[T, nq], qvel f[T, nv]) of a replayed reference: its recorded poses and their velocities by
    central differences at the control rate (one-sided at the ends). ValueError without `qpos` in the bundle."""
    import mujoco

    m = scene.mj_model
    if bundle.qpos is None or bundle.qpos.shape[1] != m.nq:
        got = "no qpos" if bundle.qpos is None else f"qpos with {bundle.qpos.shape[1]} entries, the model has {m.nq}"
        raise ValueError(f"reference_start needs the reference's joint states, and the bundle has {got} (make it "
                         "with the replay backend, or turn reference_start off)")
    qpos = bundle.qpos.astype(np.float64)
    hz = float(bundle.metadata.control_rate_hz)
    qvel = np.zeros((len(qpos), m.nv))
    for t in range(len(qpos)):
        a, b = max(t - 1, 0), min(t + 1, len(qpos) - 1)
        if b > a:
            mujoco.mj_differentiatePos(m, qvel[t], (b - a) / hz, qpos[a], qpos[b])
    return qpos, qvel


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    """A config dict as JSON sees it (tuples -> lists), without the fields a resumed run may change."""
    d = json.loads(json.dumps(d, default=list))
    for key in ("total_env_steps", "progress", "write_video", "eval_every", "checkpoint_every", "compile_cache",
                "compile_cache_dir", "memory_check", "device_memory", "allow_cpu"):
        d.pop(key, None)
    return d


def init_distributed() -> None:
    """`jax.distributed.initialize()` for a multi-process run; call before any other JAX work.

    Cluster environments JAX knows (SLURM, Open MPI, Cloud TPU, ...) are detected. Elsewhere set
    `JAX_COORDINATOR_ADDRESS=host:port`, `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID` on every process. CPU
    processes talk through gloo (set here; it does not affect GPU/TPU collectives).
    """
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    num_processes = os.environ.get("JAX_NUM_PROCESSES")
    process_id = os.environ.get("JAX_PROCESS_ID")
    jax.distributed.initialize(num_processes=int(num_processes) if num_processes else None,
                               process_id=int(process_id) if process_id else None)


def _prepare_run_dir(config: TrainConfig, *, write: bool = True) -> TrainConfig:
    """Resolve the run folder; process 0 checks an existing config.json against this one and, with `write`,
    writes it. `train` checks first (write=False) and writes only once the pipeline is built, so a start that
    fails (bad bundle, robot, weights) leaves nothing behind that would refuse the corrected command."""
    if not config.run_dir and jax.process_count() > 1:
        raise ValueError("a run over several processes needs an explicit --run-dir (a folder they all share)")
    run_dir = config.run_dir or os.path.join("runs", f"{config.robot or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}")
    # Absolute reference path: `niljax evaluate RUN_DIR` and resumes work from any working directory.
    reference = str(Path(config.reference).resolve()) if config.reference else config.reference
    config = dataclasses.replace(config, run_dir=run_dir, reference=reference)
    path = Path(run_dir)
    saved = path / "config.json"
    if jax.process_index() != 0:
        return config
    if saved.exists():
        # Round-trip through TrainConfig so fields added since that run was started compare at their defaults.
        previous = TrainConfig.from_dict(json.loads(saved.read_text())).to_dict()
        if _comparable(previous) != _comparable(config.to_dict()):
            raise RunConfigMismatch(
                f"{saved} was written by a run with a different config; use a new --run-dir, or the same "
                "settings (only total_env_steps, eval/checkpoint cadence, progress, video and the compile cache may change)")
    if not write:
        return config
    path.mkdir(parents=True, exist_ok=True)
    config.save(saved)
    return config


def check_budget(config: TrainConfig) -> None:
    """ValueError when the run would never update the learner: every env step of the budget (rounded up to
    whole chunks) falls in BRO's random warm-up, so the exported "policy" would be the untrained network."""
    per_call = config.env_steps_per_call
    total = int(math.ceil(config.total_env_steps / per_call) * per_call)
    warmup = config.learner.random_steps
    if total < warmup:
        rounded = "" if total == config.total_env_steps else (
            f" ({total} once rounded up to whole chunks of num_envs x iterations_per_call = {per_call} env steps)")
        raise ValueError(
            f"this run would train nothing: total_env_steps = {config.total_env_steps}{rounded} is below "
            f"learner.random_steps = {warmup}, the random warm-up before the first learner update, so the policy "
            f"would stay untrained. Raise --total-env-steps to at least {warmup}, or lower --learner.random-steps "
            f"to at most {total}")


def check_against_bundle(config: TrainConfig) -> None:
    """Cheap checks of the config against the bundle's metadata.json, before anything is built or written:
    the reward's clip length and the render size must be the bundle's (ValueError naming both values).
    A missing or unreadable bundle is left to `build_pipeline` / `load_bundle`, which explain it."""
    meta_path = Path(config.reference) / "metadata.json" if config.reference else None
    if meta_path is not None and not meta_path.is_file() and (Path(config.reference) / "view0" / "metadata.json").is_file():
        meta_path = Path(config.reference) / "view0" / "metadata.json"  # a multi-view reference: views agree
    if meta_path is None or not meta_path.is_file():
        return
    try:
        meta = json.loads(meta_path.read_text())
        clip_len, height, width = int(meta["clip_len"]), int(meta["height"]), int(meta["width"])
    except (ValueError, KeyError, TypeError):
        return
    where = f"the bundle ({config.reference})"
    if config.reward.use_video and config.reward.clip_len != clip_len:
        raise ValueError(
            f"clip length mismatch: the reward compares clips of reward.clip_len = {config.reward.clip_len} frames, "
            f"but {where} holds embeddings of {clip_len}-frame clips; pass --clip-len {clip_len} "
            f"(or remake the bundle with --clip-len {config.reward.clip_len})")
    if (config.render.height, config.render.width) != (height, width):
        raise ValueError(
            f"render size mismatch: the run renders {config.render.height}x{config.render.width} (render.height x "
            f"render.width) but {where} has {height}x{width} frames; pass --height {height} "
            f"--width {width}")


def use_compile_cache(config: TrainConfig) -> Path | None:
    """Turn on the persistent compilation cache the config asks for (`compile_cache`, `compile_cache_dir`)."""
    if not config.compile_cache:
        return None
    from niljax import _runtime

    return _runtime.enable_compile_cache(config.compile_cache_dir or None)


def _nonempty_leaves(tree: Any) -> dict[str, Any]:
    # orbax refuses zero-size arrays (mjx.Data has some, e.g. `act` for robots without activations):
    # save the non-empty leaves by flat index and rebuild the rest from the abstract state on restore.
    leaves = jax.tree_util.tree_leaves(tree)
    return {f"{i:05d}": leaf for i, leaf in enumerate(leaves) if np.prod(leaf.shape) > 0}


def save_checkpoint(manager: Any, state: Any) -> int:
    """Synchronous orbax save of the whole train state at its env-step count (the state is donated next)."""
    import orbax.checkpoint as ocp

    step = int(state.env_steps)
    manager.save(step, args=ocp.args.StandardSave(_nonempty_leaves(state)))
    manager.wait_until_finished()
    return step


def restore_checkpoint(manager: Any, abstract_state: Any, step: int | None = None, shardings: Any = None) -> Any:
    """Restore into the structure of `abstract_state` (`jax.eval_shape` of the trainer's init)."""
    import jax.numpy as jnp
    import orbax.checkpoint as ocp

    step = manager.latest_step() if step is None else step
    if shardings is not None:  # restore each leaf straight into its sharding
        abstract_state = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                                      abstract_state, shardings)
    restored = manager.restore(step, args=ocp.args.StandardRestore(_nonempty_leaves(abstract_state)))
    abstract_leaves, treedef = jax.tree_util.tree_flatten(abstract_state)
    leaves = [restored.get(f"{i:05d}", None) for i in range(len(abstract_leaves))]
    leaves = [jnp.zeros(a.shape, a.dtype, device=getattr(a, "sharding", None)) if x is None else x
              for x, a in zip(leaves, abstract_leaves)]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def commit_state(state: Any, shardings: Any = None) -> Any:
    """The train state with every leaf committed to its device (`shardings`, or the default device).

    A fresh `init` returns uncommitted arrays, orbax restores committed ones (and the zero-size leaves rebuilt
    beside them are uncommitted): the training chunk and the evaluation would lower differently for each
    (`sdy.sharding` on their arguments), so a resumed run missed the persistent compile cache and compiled its
    chunk twice (measured in `niljax rehearse`: the resume's `new_programs`). Committed on both paths, a fresh start,
    its later chunks and a resume all lower to one program."""
    if shardings is None:
        shardings = jax.local_devices()[0] if jax.process_count() == 1 else None
    return state if shardings is None else jax.device_put(state, shardings)


def export_policy(path: Path, pipeline: Pipeline, learner: Any) -> Path:
    """The learner's policy export (actor params + policy.json, rebuilt by `niljax.learner.checkpoint.load_policy`
    without training code) plus `nil.json`: which robot and observation layout the policy expects.
    Every process of a multi-process run calls it; process 0 writes the JSON files."""
    from niljax.learner.checkpoint import export_policy as export_actor

    export_actor(path, learner)  # collective over processes
    if jax.process_index() != 0:
        return path
    info = {
        "robot": pipeline.scene.name,
        "obs_dim": pipeline.trainer.obs_dim,
        "act_dim": pipeline.trainer.act_dim,
        "observe_time": pipeline.config.observe_time,
        "reference_frames": pipeline.trainer.num_frames,
    }
    (path / "nil.json").write_text(json.dumps(info, indent=2) + "\n")
    return path


def write_side_by_side_video(path: Path, agent: np.ndarray, agent_masks: np.ndarray, reference: np.ndarray,
                             reference_masks: np.ndarray, control_hz: float, *, alive_steps: int | None = None,
                             scale: int | None = None, max_fps: float = 50.0) -> Path:
    """mp4 in real time: [agent | reference], robot masks tinted, frames aligned by reference index, labelled.

    agent uint8[T,H,W,3] / agent_masks bool[T,H,W] (an evaluation's frames of env 0), reference the bundle's
    frames from index 1 on (the first evaluation step renders index 1). Frames are subsampled to at most
    `max_fps` so the video plays at the control rate's real time; after `alive_steps` (the episode ended by
    a fall) the agent's panel is dimmed and marked "fell".
    """
    import imageio.v2 as imageio
    from PIL import Image, ImageDraw

    def overlay(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
        out = frames.astype(np.float32)
        tint = np.array([255.0, 60.0, 60.0])
        out = np.where(masks[..., None], 0.6 * out + 0.4 * tint, out)
        return out.astype(np.uint8)

    n = min(len(agent), len(reference))
    left = overlay(agent[:n], agent_masks[:n])
    if alive_steps is not None and alive_steps < n:
        left[alive_steps:] = (0.35 * left[alive_steps:] + 0.65 * 128).astype(np.uint8)
    right = overlay(reference[:n], reference_masks[:n])
    gap = np.full((n, left.shape[1], 4, 3), 255, np.uint8)
    frames = np.concatenate([left, gap, right], axis=2)
    stride = max(1, int(math.ceil(control_hz / max_fps)))
    steps = np.arange(0, n, stride)
    frames = frames[steps]
    scale = max(1, 256 // left.shape[1]) if scale is None else scale  # small renders are upscaled to view
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    panel = left.shape[2] * scale
    labelled = []
    for frame, step in zip(frames, steps):
        image = Image.fromarray(frame)
        draw = ImageDraw.Draw(image)
        t = (step + 1) / control_hz
        fell = alive_steps is not None and step >= alive_steps
        draw.text((4, 2), f"agent {t:5.2f} s" + ("  fell" if fell else ""), fill=(0, 0, 0))
        draw.text((panel + 4 * scale + 4, 2), "reference", fill=(0, 0, 0))
        labelled.append(np.asarray(image))
    frames = np.stack(labelled)
    # libx264 wants even sizes
    h, w = frames.shape[1] // 2 * 2, frames.shape[2] // 2 * 2
    frames = frames[:, :h, :w]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.mp4")
    with warnings.catch_warnings():
        # imageio-ffmpeg starts ffmpeg with subprocess (fork+exec): Python warns about forking a process with JAX
        # threads, which does not apply to an immediate exec.
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        imageio.mimwrite(tmp, list(frames), fps=control_hz / stride, macro_block_size=1)
    os.replace(tmp, path)
    return path


def evaluate_and_log(pipeline: Pipeline, state: Any, logger: RunLogger, *, record: bool = False):
    from niljax.train.loop import summarize_eval

    rng = jax.random.fold_in(jax.random.PRNGKey(pipeline.config.seed + 1), int(state.env_steps))
    result = pipeline.trainer.evaluate(state.learner, rng, record=record)
    result = jax.device_get(result)
    summary = summarize_eval(result)
    logger.log(int(state.env_steps), summary)
    return summary, result


def restart_bar_clock(bar: Any, n: int) -> None:
    """Set a tqdm bar to count `n` and restart its clock and rate estimates there (rate = steps since now / time
    since now), e.g. after a first chunk whose time was mostly compilation."""
    bar.reset(total=bar.total)  # tqdm's public way to restart start_t, last_print_t and the smoothed rate; n -> 0
    bar.initial = bar.n = bar.last_print_n = n
    bar.refresh()


def train(config: TrainConfig) -> Path:
    """Run (or resume) training; returns the run folder. See the module docstring for what it writes."""
    from tqdm.auto import tqdm

    from niljax.learner.config import format_replay_ratio
    from niljax.train.loop import Throughput, chunk_summary

    check_budget(config)
    check_against_bundle(config)
    from niljax.train.tiers import check_tier_backend

    check_tier_backend(config)  # a GPU tier on a CPU backend (a plugin that did not load): refused, naming the fix
    use_compile_cache(config)
    config = _prepare_run_dir(config, write=False)
    run_dir = Path(config.run_dir)
    primary = jax.process_index() == 0
    pipeline = build_pipeline(config)
    _prepare_run_dir(config)  # the run starts: now config.json is written (process 0)
    trainer = pipeline.trainer
    if primary:  # the realised replay ratio (issue 13): sequential updates per env step, samples per transition
        print("[niljax] " + format_replay_ratio(config.learner, config.num_envs).replace("\n", "\n[niljax] "))
    logger = RunLogger(run_dir, enabled=primary)
    manager = checkpoint_manager(run_dir, config.keep_checkpoints)
    summary_path = run_dir / "summary.json"
    summary: dict[str, Any] = json.loads(summary_path.read_text()) if summary_path.exists() else {}

    def write_summary() -> None:
        if primary:
            summary_path.write_text(json.dumps(summary, indent=2) + "\n")

    rng = jax.random.PRNGKey(config.seed)
    if manager.latest_step() is not None:
        abstract = jax.eval_shape(trainer.init, rng)
        state = restore_checkpoint(manager, abstract, shardings=trainer.state_shardings)
        logger.repair(int(state.env_steps))
        if primary:
            print(f"[niljax] resumed {run_dir} from env step {int(state.env_steps)}")
        state = commit_state(state, trainer.state_shardings)
        # trace the evaluation first, as a fresh start does: warp numbers its FFI targets per process in the order
        # they are traced, so the chunk then lowers to the program the first start compiled (docs/training.md)
        trainer.trace_evaluation(state.learner, jax.random.fold_in(jax.random.PRNGKey(config.seed + 1), 0))
    else:
        logger.repair(-1)  # a run without a checkpoint starts its log afresh
        state = commit_state(trainer.init(rng), trainer.state_shardings)
        before, _ = evaluate_and_log(pipeline, state, logger)
        summary["before"] = before
        write_summary()
        save_checkpoint(manager, state)

    per_call = config.env_steps_per_call
    total = int(math.ceil(config.total_env_steps / per_call) * per_call)
    bar = tqdm(total=total, initial=int(state.env_steps), unit="env-step", disable=not (config.progress and primary),
               dynamic_ncols=True, desc=f"train {pipeline.scene.name}")
    clock = Throughput()
    next_eval = _next_multiple(int(state.env_steps), config.eval_every)
    next_ckpt = _next_multiple(int(state.env_steps), config.checkpoint_every)
    first_chunk = True
    while int(state.env_steps) < total:
        state, metrics = trainer.train_chunk(state)
        steps = int(state.env_steps)
        record = chunk_summary(metrics)
        record["perf/env_steps_per_s"] = clock.tick(per_call)
        logger.log(steps, record)
        if first_chunk:  # it included compilation: the bar's rate and ETA count from its end
            restart_bar_clock(bar, steps)
            first_chunk = False
        else:
            bar.update(per_call)
        bar.set_postfix({k.split("/")[-1]: f"{record[k]:.3g}" for k in ("reward/total", "reward/iou")
                         if k in record})
        if config.eval_every and steps >= next_eval and steps < total:
            evaluate_and_log(pipeline, state, logger)
            logger.plot(CURVE_KEYS)
            next_eval = _next_multiple(steps, config.eval_every)
        if config.checkpoint_every and steps >= next_ckpt and steps < total:
            save_checkpoint(manager, state)
            next_ckpt = _next_multiple(steps, config.checkpoint_every)
        clock.tick(0)  # exclude host-side work from the next chunk's rate
    bar.close()

    save_checkpoint(manager, state)
    after, result = evaluate_and_log(pipeline, state, logger, record=config.write_video)
    summary["after"] = after
    summary["env_steps"] = int(state.env_steps)
    summary["trace_count"] = trainer.trace_count
    summary["processes"] = jax.process_count()
    summary["devices"] = jax.device_count()
    write_summary()
    logger.plot(CURVE_KEYS)
    export_policy(run_dir / "policy", pipeline, state.learner)  # every process: orbax saves collectively
    if config.write_video and primary:
        write_side_by_side_video(
            run_dir / "rollout.mp4", result["frames"], result["masks"], pipeline.bundle.frames[1:],
            pipeline.bundle.masks[1:], pipeline.bundle.metadata.control_rate_hz,
            alive_steps=int(result["length"][0]) if result["fell"][0] > 0 else None)
    logger.close()
    return run_dir


CURVE_KEYS = ("eval/walk_loco_sum", "eval/nil_return", "eval/iou_mean", "eval/video_mean", "train/episode_return",
              "reward/total")  # walk_loco_sum: the paper protocol's env reward (skipped when absent)


def _next_multiple(value: int, every: int) -> int:
    if every <= 0:
        return 2**62
    return (value // every + 1) * every
