"""`niljax rehearse --tier gpu`: a dress rehearsal, on this machine, of every step a GPU user runs.

The GPU tier's own config (`niljax.train.tiers`), changed only in size (`Tier.rehearsal`: N, render size,
network widths, replay, budget), goes through the documented commands, each as its own process the way a
user types it, in order; every step is timed and recorded in `OUT/rehearsal.json`, and the first failure
stops the rehearsal with the step, its command and the end of its output:

 1. install    `niljax doctor --json` (what works here), and the tier's CPU guard: `walking.py --tier gpu` on a
               CPU backend must refuse, naming `niljax doctor` (the rehearsal itself runs with the override)
 2. weights    a small TimeSformer in the two formats the hub serves: `pytorch_model.bin` (written here without
               torch, in torch's zip + pickle layout) and `model.safetensors`; niljax must read both to the same
               parameters; `niljax weights FOLDER` checks the .bin folder and converts it once
 3. train      `python experiments/walking.py --robot R --tier gpu --rehearse --encoder-weights FOLDER
               --env-steps HALF`: the reference bundle (the robot's mocap walk looped, rendered with the tier's
               renderer - MuJoCo Warp - and embedded with the weights above), the memory plan, training with the
               warp renderer inside the compiled iteration, checkpoints, the protocol evaluation, rollout.mp4
 4. plan       `niljax plan --config RUN/config.json` (this host's memory)
 5. resume     the same command with the whole budget: it must resume from the last checkpoint
 6. evaluate   `niljax evaluate RUN --episodes 2 --reset-noise 0.05`
 7. table      `niljax table OUT/gpu-rehearsal --out OUT/table`
 8. precision  one physics rollout of the robot under the tier's physics precision and under JAX's default,
               each against float32 HIGHEST (max |qpos| difference; on a CPU every precision is float32, so
               the differences are 0 there: what runs is the check itself, which states TF32's drift on a GPU)
 9. bench      `python benchmarks/bench_suite.py --preset gpu --rehearse`: the suite's GPU preset at rehearsal
               size (original-style baseline, niljax ladder, per-stage split, roofline)

Needs a source checkout (experiments/ and benchmarks/ beside the package; the steps that use them are named
when they are missing). `--skip bench,precision` leaves steps out. A rehearsal on a GPU node runs the same
steps on the GPU (use it before the first full run: minutes instead of hours to find a broken step).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

STEPS = ("install", "weights", "train", "plan", "resume", "evaluate", "table", "precision", "bench")
REPO = Path(__file__).resolve().parents[2]  # the checkout: experiments/ and benchmarks/ live here


def fast_compile_flags() -> str:
    """XLA flags of a rehearsal on a CPU backend (RehearsalConfig.fast_compile; tests/test_bench_suite.py's too):
    compile fast, run slow. No LLVM optimisation, no hoisting out of while loops, and no fusion emitters where
    the installed jaxlib still has that flag: it is gone from 0.11.2 on (the 3.12/3.13 locks' 0.12.0.1), and XLA
    ends the process on an unknown flag in XLA_FLAGS. Read from jaxlib's metadata: jax is not imported here."""
    from importlib.metadata import version

    release = tuple(int("".join(c for c in p if c.isdigit()) or 0) for p in version("jaxlib").split(".")[:3])
    emitters = "--xla_cpu_use_fusion_emitters=false " if release < (0, 11, 2) else ""
    return (f"--xla_backend_optimization_level=0 {emitters}"
            "--xla_disable_hlo_passes=while-loop-invariant-code-motion,while-loop-constant-sinking")


def _cpu_backend() -> bool:
    import jax

    return jax.default_backend() == "cpu"


class RehearsalError(RuntimeError):
    """A rehearsal step failed: `step`, the command (if any) and the end of its output are in the message."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"rehearsal step {step!r} failed: {message}")
        self.step = step


@dataclasses.dataclass(frozen=True)
class RehearsalConfig:
    """What `niljax rehearse` runs (see the module docstring)."""

    tier: str = "gpu"
    robot: str = "h1"  # a robot of experiments/walking.py (h1, g1, talos, a1)
    out: str = "runs/rehearsal"
    size: int = 32  # render height = width
    num_envs: int = 4
    skip: tuple[str, ...] = ()  # steps to leave out (STEPS)
    timeout_s: float = 1800.0  # per step
    python: str = ""  # interpreter for the steps ("" = this one)
    # On a CPU backend: compile without LLVM optimisation, fusion emitters or while-loop hoisting (XLA flags given
    # to every step's process). A CPU rehearsal measures nothing, and its cost is compiling (about 3x less CPU
    # time per program, measured on the benchmark suite's smoke preset). Off: the programs a CPU run compiles.
    fast_compile: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.skip) - set(STEPS))
        if unknown:
            raise ValueError(f"--skip {','.join(unknown)}: unknown step(s); the steps are {', '.join(STEPS)}")
        if self.size < 8 or self.num_envs < 2:
            raise ValueError(f"--size must be >= 8 and --num-envs >= 2, got {self.size} and {self.num_envs}")


# ------------------------------------------------------------------------------------------------ weights
def _pickle_str(text: str) -> bytes:
    raw = text.encode()
    return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw


def _pickle_int(value: int) -> bytes:
    if 0 <= value < 256:
        return pickle.BININT1 + bytes([value])
    if -(2**31) <= value < 2**31:
        return pickle.BININT + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    return pickle.LONG1 + bytes([len(raw)]) + raw


def _pickle_ints(values: tuple[int, ...]) -> bytes:
    return pickle.MARK + b"".join(_pickle_int(v) for v in values) + pickle.TUPLE


_STORAGE = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
            np.dtype(np.float16): "HalfStorage", np.dtype(np.int64): "LongStorage", np.dtype(np.int32): "IntStorage",
            np.dtype(np.uint8): "ByteStorage", np.dtype(np.bool_): "BoolStorage"}


def write_pytorch_bin(path: str | Path, tensors: dict[str, np.ndarray]) -> Path:
    """Write `tensors` as `torch.save(state_dict)` does (torch >= 1.6 zip format: `archive/data.pkl` with one
    `torch._utils._rebuild_tensor_v2` per tensor over a typed storage `archive/data/<i>`), without torch.

    What the Hugging Face hub serves as `pytorch_model.bin`; `torch.load(path, weights_only=True)` reads it
    (tests/test_rehearsal.py checks that where torch is installed). Arrays are written C-contiguous, little-endian;
    dtypes: float32/64/16, int32/64, uint8, bool."""
    path = Path(path)
    body = [pickle.PROTO + bytes([2]), pickle.GLOBAL + b"collections\nOrderedDict\n", pickle.EMPTY_TUPLE,
            pickle.REDUCE, pickle.MARK]
    records: list[tuple[str, bytes]] = []
    for i, (name, value) in enumerate(tensors.items()):
        arr = np.asarray(value, order="C")  # (np.ascontiguousarray would make a scalar 1-d)
        storage = _STORAGE.get(arr.dtype)
        if storage is None:
            raise ValueError(f"write_pytorch_bin: tensor {name!r} has dtype {arr.dtype}, not one of "
                             f"{sorted(str(d) for d in _STORAGE)}")
        strides = tuple(s // arr.itemsize for s in arr.strides) if arr.ndim else ()
        pid = (pickle.MARK + _pickle_str("storage") + pickle.GLOBAL + f"torch\n{storage}\n".encode()
               + _pickle_str(str(i)) + _pickle_str("cpu") + _pickle_int(arr.size) + pickle.TUPLE + pickle.BINPERSID)
        body += [_pickle_str(name), pickle.GLOBAL + b"torch._utils\n_rebuild_tensor_v2\n", pickle.MARK, pid,
                 _pickle_int(0), _pickle_ints(arr.shape), _pickle_ints(strides), pickle.NEWFALSE,
                 pickle.GLOBAL + b"collections\nOrderedDict\n", pickle.EMPTY_TUPLE, pickle.REDUCE, pickle.TUPLE,
                 pickle.REDUCE]
        records.append((f"archive/data/{i}", arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()))
    body += [pickle.SETITEMS, pickle.STOP]
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", b"".join(body))
        archive.writestr("archive/byteorder", b"little")
        for record, raw in records:
            archive.writestr(record, raw)
        archive.writestr("archive/version", b"3\n")
    return path


def rehearsal_encoder_config(size: int, clip_len: int) -> Any:
    """The tier's TimeSformer changed only in size: `size` px input, 8 px patches, 2 layers 32 wide."""
    from niljax.encoders.timesformer import TimesformerConfig

    return TimesformerConfig.tiny(image_size=size, patch_size=8, num_frames=clip_len)


def write_hub_folders(out: Path, config: Any, seed: int = 0) -> tuple[Path, Path]:
    """Two folders laid out as the hub serves a TimeSformer (config.json + weights): `out/bin` with
    `pytorch_model.bin` (as `facebook/timesformer-base-finetuned-k400`'s main revision), `out/safetensors` with
    `model.safetensors`; random-init weights of `config`, keys of `TimesformerForVideoClassification` minus its
    head. Returns (bin folder, safetensors folder)."""
    from safetensors.numpy import save_file

    from niljax.encoders.params import to_hf_state_dict
    from niljax.encoders.timesformer import init_params

    state = {f"timesformer.{k}": v for k, v in to_hf_state_dict(init_params(config, seed), config).items()}
    hf_config = {"model_type": "timesformer", "architectures": ["TimesformerForVideoClassification"],
                 "image_size": config.image_size, "patch_size": config.patch_size, "num_channels": 3,
                 "num_frames": config.num_frames, "hidden_size": config.hidden_size,
                 "num_hidden_layers": config.num_hidden_layers, "num_attention_heads": config.num_attention_heads,
                 "intermediate_size": config.intermediate_size, "hidden_act": "gelu",
                 "layer_norm_eps": config.layer_norm_eps, "qkv_bias": True, "attention_type": config.attention_type}
    folders = (out / "bin", out / "safetensors")
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n")
    write_pytorch_bin(folders[0] / "pytorch_model.bin", state)
    save_file(state, str(folders[1] / "model.safetensors"))
    return folders


def check_same_params(a: Path, b: Path) -> float:
    """Load both folders with `niljax.encoders.params.load_timesformer`; the largest absolute parameter difference
    (RehearsalError-free: the caller decides). Raises what the loader raises for an unreadable folder."""
    import jax

    from niljax.encoders.params import load_timesformer

    _, pa = load_timesformer(a)
    _, pb = load_timesformer(b)
    diffs = jax.tree.map(lambda x, y: float(np.max(np.abs(np.asarray(x) - np.asarray(y)))), pa, pb)
    return max(jax.tree.leaves(diffs))


# ------------------------------------------------------------------------------------------------ precision
def physics_drift(robot: str, *, mjcf: str | None = None, steps: int = 200, num_envs: int = 4,
                  precisions: tuple[str, ...] = ("highest", "default"), seed: int = 0) -> dict[str, Any]:
    """One physics rollout of `robot` (N envs from the home pose, the same uniform random actions) under each of
    `precisions`, against the same rollout at float32 HIGHEST: max |qpos - qpos_highest| over envs and steps, and
    at the last step. States the platform: on a CPU every precision computes in float32 (differences 0)."""
    import jax
    import jax.numpy as jnp

    from niljax.robots import load_robot
    from niljax.sim import EnvConfig, NilEnv

    scene = load_robot(robot, mjcf_path=mjcf, plain_background=True)
    env = NilEnv(scene, EnvConfig(horizon=steps + 1))
    keys = jax.random.split(jax.random.PRNGKey(seed), num_envs)
    actions = jax.random.uniform(jax.random.PRNGKey(seed + 1), (steps, num_envs, env.nu), jnp.float32, -1.0, 1.0)

    def rollout(precision: str) -> jax.Array:
        @jax.jit
        def run(keys: jax.Array, actions: jax.Array) -> jax.Array:
            with jax.default_matmul_precision(precision):
                state = jax.vmap(env.reset)(keys)

                def body(s: Any, a: jax.Array) -> tuple[Any, jax.Array]:
                    s = jax.vmap(env.step)(s, a)
                    return s, s.data.qpos

                return jax.lax.scan(body, state, actions)[1]

        return np.asarray(run(keys, actions))

    reference = rollout("highest")
    out: dict[str, Any] = {"platform": jax.default_backend(), "device": str(jax.devices()[0].device_kind),
                           "robot": robot, "steps": steps, "num_envs": num_envs, "reference": "highest",
                           "finite": bool(np.isfinite(reference).all()), "max_abs_qpos_diff": {},
                           "last_step_max_abs_qpos_diff": {}}
    for precision in precisions:
        q = reference if precision == "highest" else rollout(precision)
        diff = np.abs(q - reference)
        out["max_abs_qpos_diff"][precision] = float(np.nanmax(diff))
        out["last_step_max_abs_qpos_diff"][precision] = float(np.nanmax(diff[-1]))
    return out


# ------------------------------------------------------------------------------------------------ steps
def _program_name(cache_entry: str) -> str:
    """"jit__train_chunk_impl-<hash>-cache" -> "jit__train_chunk_impl"."""
    return cache_entry.rsplit("-", 2)[0]


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Rehearsal:
    """Runs the steps (module docstring) and records them in `out/rehearsal.json`."""

    def __init__(self, config: RehearsalConfig) -> None:
        from niljax.train.tiers import get_tier

        self.config = config
        self.tier = get_tier(config.tier)
        self.rehearsal_tier = self.tier.rehearsal(size=config.size, num_envs=config.num_envs)
        self.out = Path(config.out).absolute()
        self.python = config.python or sys.executable
        self.record: dict[str, Any] = {"tier": config.tier, "robot": config.robot, "config": dataclasses.asdict(config),
                                       "steps": {}, "complete": False}
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        if config.fast_compile and _cpu_backend():
            self.env["XLA_FLAGS"] = f"{self.env.get('XLA_FLAGS', '')} {fast_compile_flags()}".strip()
        self.record["xla_flags"] = self.env.get("XLA_FLAGS", "")
        # a compile cache of its own: each step records the programs it compiled (`new_programs`), so that a resume
        # that recompiles instead of loading shows
        self.cache = self.out / "jax_cache"
        self.env.update(JAX_COMPILATION_CACHE_DIR=str(self.cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="1")
        self.run_dir: Path | None = None

    # -- helpers
    def _cache_entries(self) -> set[str]:
        return {p.name for p in self.cache.glob("*-cache")} if self.cache.is_dir() else set()

    def _save(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "rehearsal.json").write_text(json.dumps(self.record, indent=2, default=str) + "\n")

    def _command(self, step: str, args: list[str], *, expect: int = 0, log: str | None = None) -> str:
        """Run `args` (list; "niljax" -> `python -m niljax.cli`), check its exit code, return its output."""
        if args[0] == "niljax":
            args = [self.python, "-m", "niljax.cli", *args[1:]]
        elif args[0].endswith(".py"):
            script = REPO / args[0]
            if not script.is_file():
                raise RehearsalError(step, f"{script} is missing: the rehearsal runs the checkout's "
                                           f"{args[0]} (clone the repository)")
            args = [self.python, str(script), *args[1:]]
        shown = " ".join(args)
        try:
            proc = subprocess.run(args, cwd=REPO, env=self.env, capture_output=True, text=True,
                                  timeout=self.config.timeout_s, check=False)
        except subprocess.TimeoutExpired as err:
            partial = "".join(x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                              for x in (err.stdout, err.stderr))
            (self.out / "logs").mkdir(parents=True, exist_ok=True)
            (self.out / "logs" / f"{log or step}.log").write_text(f"$ {shown}\n(killed after "
                                                                  f"{self.config.timeout_s:.0f} s)\n{partial}")
            raise RehearsalError(step, f"`{shown}` ran past {self.config.timeout_s:.0f} s:\n{_tail(partial)}") from err
        output = proc.stdout + proc.stderr
        (self.out / "logs").mkdir(parents=True, exist_ok=True)
        (self.out / "logs" / f"{log or step}.log").write_text(f"$ {shown}\n(exit {proc.returncode})\n{output}")
        self.record["steps"].setdefault(step, {}).setdefault("commands", []).append(shown)
        if proc.returncode != expect:
            raise RehearsalError(step, f"`{shown}` exited {proc.returncode} (expected {expect}):\n{_tail(output)}")
        return output

    def _walking(self, env_steps: int | None) -> list[str]:
        args = ["experiments/walking.py", "--robot", self.config.robot, "--tier", self.config.tier, "--rehearse",
                "--out", str(self.out / "runs"), "--no-progress", "--encoder-weights", str(self.weights_bin)]
        if env_steps is not None:
            args += ["--env-steps", str(env_steps)]
        if (self.config.size, self.config.num_envs) != (32, 4):  # walking.py's --rehearse sizes are the defaults
            args += ["--set", f"render.height={self.config.size}", "--set", f"render.width={self.config.size}",
                     "--set", f"num_envs={self.config.num_envs}"]
        return args

    # -- steps
    def step_install(self) -> dict[str, Any]:
        report: dict[str, Any] = {"doctor": self._doctor()}
        # the CPU guard: a GPU tier refuses a CPU backend, naming niljax doctor (only checkable on a CPU backend)
        import jax

        report["backend"] = jax.default_backend()
        if self.tier.accelerator and jax.default_backend() == "cpu":
            text = self._command("install", ["experiments/walking.py", "--robot", self.config.robot, "--tier",
                                             self.config.tier, "--out", str(self.out / "refused")], expect=1,
                                 log="install_guard")
            if "niljax doctor" not in text or "--allow-cpu" not in text:
                raise RehearsalError("install", "walking.py --tier gpu on a CPU backend did not name `niljax doctor` "
                                                f"and --allow-cpu:\n{_tail(text)}")
            report["cpu_guard"] = _tail(text, 3)
        return report

    def _doctor(self) -> dict[str, Any]:
        args = [self.python, "-m", "niljax.cli", "doctor", "--json"]
        proc = subprocess.run(args, cwd=REPO, env=self.env, capture_output=True, text=True,
                              timeout=self.config.timeout_s, check=False)
        (self.out / "logs").mkdir(parents=True, exist_ok=True)
        (self.out / "logs" / "install.log").write_text(f"$ {' '.join(args)}\n(exit {proc.returncode})\n"
                                                        f"{proc.stdout}{proc.stderr}")
        self.record["steps"].setdefault("install", {}).setdefault("commands", []).append(" ".join(args))
        try:
            report = json.loads(proc.stdout)
        except json.JSONDecodeError as err:
            raise RehearsalError("install", f"`niljax doctor --json` printed no JSON (exit {proc.returncode}):\n"
                                            f"{_tail(proc.stdout + proc.stderr)}") from err
        # a problem in what the tier needs (warp for its renderer) fails the step; others are reported
        problems = [p for p in report.get("problems", []) if isinstance(p, dict)]
        return {"ok": report.get("ok"), "exit": proc.returncode,
                "problems": [f"{p.get('what', p.get('check', ''))}: {p.get('fix', '')}".strip(": ") for p in problems]}

    def step_weights(self) -> dict[str, Any]:
        clip = self.rehearsal_tier.encoder.clip_len
        bin_dir, st_dir = write_hub_folders(self.out / "weights", rehearsal_encoder_config(self.config.size, clip))
        diff = check_same_params(bin_dir, st_dir)
        if diff != 0.0:
            raise RehearsalError("weights", f"pytorch_model.bin and model.safetensors of the same weights load to "
                                            f"different parameters (max |diff| {diff})")
        text = self._command("weights", ["niljax", "weights", str(bin_dir), "--cache-dir",
                                         str(self.out / "weights" / "cache")])
        self.weights_bin = bin_dir
        return {"bin": str(bin_dir), "safetensors": str(st_dir), "max_abs_param_diff": diff,
                "niljax_weights": _tail(text, 3)}

    def _run_dir(self) -> Path:
        return self.out / "runs" / f"{self.config.tier}-rehearsal" / self.config.robot / "full" / "seed0"

    def step_train(self) -> dict[str, Any]:
        half = self.rehearsal_tier.total_env_steps // 2
        # the reference in a process of its own, as docs/training.md says for warp: then the training process
        # numbers warp's FFI targets as its resume does, and the resume loads the compiled chunk (`new_programs`)
        self._command("train", [*self._walking(None), "--reference-only"], log="reference")
        text = self._command("train", self._walking(half))
        run = self._run_dir()
        summary = json.loads((run / "summary.json").read_text())
        config = json.loads((run / "config.json").read_text())
        if config["render"]["backend"] != self.tier.render.backend:
            raise RehearsalError("train", f"the run rendered with {config['render']['backend']!r}, the tier with "
                                          f"{self.tier.render.backend!r}")
        missing = [f for f in ("rollout.mp4", "metrics.jsonl", "policy/policy.json") if not (run / f).exists()]
        if missing or summary.get("env_steps") != half or summary.get("trace_count") != 1:
            raise RehearsalError("train", f"run folder {run}: missing {missing}, env_steps {summary.get('env_steps')} "
                                          f"(expected {half}), chunk traces {summary.get('trace_count')} (expected 1)")
        self.run_dir = run
        return {"run_dir": str(run), "env_steps": half, "renderer": config["render"]["backend"],
                "after": summary.get("after"), "log_tail": _tail(text, 4)}

    def step_plan(self) -> dict[str, Any]:
        text = self._command("plan", ["niljax", "plan", "--config", str(self._run_dir() / "config.json"),
                                      "--no-flops"])
        return {"table": text.strip().splitlines()[-12:]}

    def step_resume(self) -> dict[str, Any]:
        total = self.rehearsal_tier.total_env_steps
        text = self._command("resume", self._walking(None))
        match = re.search(r"resumed \S+ from env step (\d+)", text)
        summary = json.loads((self._run_dir() / "summary.json").read_text())
        if match is None or int(match.group(1)) != total // 2 or summary.get("env_steps") != total:
            raise RehearsalError("resume", f"expected a resume from env step {total // 2} to {total}; got "
                                           f"{match.group(0) if match else 'no resume line'}, summary env_steps "
                                           f"{summary.get('env_steps')}:\n{_tail(text)}")
        return {"resumed_from": int(match.group(1)), "env_steps": total, "after": summary.get("after")}

    def step_evaluate(self) -> dict[str, Any]:
        self._command("evaluate", ["niljax", "evaluate", str(self._run_dir()), "--episodes", "2",
                                   "--reset-noise", "0.05"])
        result = json.loads((self._run_dir() / "eval.json").read_text())
        if not (self._run_dir() / "eval_rollout.mp4").is_file() or result.get("episodes") != 2:
            raise RehearsalError("evaluate", "eval.json / eval_rollout.mp4 not written as expected")
        return {"walk_loco_sum": result.get("eval/walk_loco_sum"), "episodes": result.get("episodes")}

    def step_table(self) -> dict[str, Any]:
        table = self.out / "table"
        self._command("table", ["niljax", "table", str(self.out / "runs" / f"{self.config.tier}-rehearsal"),
                                "--out", str(table)])
        data = json.loads((table / "table.json").read_text())
        if not (table / "table.md").is_file() or not data.get("rows"):
            raise RehearsalError("table", f"{table}: no table.md or no rows")
        return {"rows": len(data["rows"]), "table": str(table / "table.md")}

    def step_precision(self) -> dict[str, Any]:
        config = json.loads((self._run_dir() / "config.json").read_text())
        chosen = config["precision"]["physics"]
        code = ("import json, sys\nfrom niljax.train.rehearse import physics_drift\n"
                "r = physics_drift(sys.argv[1], mjcf=sys.argv[2] or None, precisions=tuple(sys.argv[3:]))\n"
                "print('PRECISION ' + json.dumps(r))")
        text = self._command("precision", [self.python, "-c", code, self.config.robot, config.get("mjcf") or "",
                                           *dict.fromkeys((chosen, "default"))])
        line = next((ln for ln in text.splitlines() if ln.startswith("PRECISION ")), None)
        if line is None:
            raise RehearsalError("precision", f"no result printed:\n{_tail(text)}")
        result = json.loads(line[len("PRECISION "):])
        if not result["finite"]:
            raise RehearsalError("precision", "the float32 HIGHEST rollout is not finite")
        result["chosen"] = chosen
        return result

    def step_bench(self) -> dict[str, Any]:
        out = self.out / "bench"
        self._command("bench", ["benchmarks/bench_suite.py", "--preset", self.config.tier, "--rehearse",
                                "--robot", self.config.robot, "--out-dir", str(out), "--device-name", "rehearsal"])
        files = sorted(out.glob("suite_*.json"))
        if not files:
            raise RehearsalError("bench", f"no suite JSON in {out}")
        result = json.loads(files[-1].read_text())
        if not result.get("complete") or not result.get("niljax"):
            raise RehearsalError("bench", f"{files[-1]}: incomplete suite (complete={result.get('complete')})")
        return {"json": str(files[-1]), "niljax_runs": len(result["niljax"]),
                "baseline_errors": result.get("baseline_errors"),
                "setting": {k: result["setting"].get(k) for k in ("size", "backend", "batch", "ladder")}}

    # -- all
    def run(self) -> dict[str, Any]:
        self.out.mkdir(parents=True, exist_ok=True)
        t_all = time.perf_counter()
        self.weights_bin = self.out / "weights" / "bin"
        for step in STEPS:
            if step in self.config.skip:
                self.record["steps"][step] = {"skipped": True}
                continue
            print(f"[rehearse] {step} ...", flush=True)
            t0 = time.perf_counter()
            cached = self._cache_entries()
            try:
                details = getattr(self, f"step_{step}")()
            except RehearsalError:
                self.record["steps"].setdefault(step, {})["failed"] = True
                self.record["wall_s"] = round(time.perf_counter() - t_all, 1)
                self._save()
                raise
            entry = self.record["steps"].setdefault(step, {})
            entry.update(details or {})
            entry["wall_s"] = round(time.perf_counter() - t0, 1)
            entry["new_programs"] = sorted(_program_name(p) for p in self._cache_entries() - cached)
            print(f"[rehearse] {step}: ok ({entry['wall_s']:.0f} s)", flush=True)
            self._save()
        self.record["complete"] = True
        self.record["wall_s"] = round(time.perf_counter() - t_all, 1)
        self._save()
        return self.record


def rehearse(config: RehearsalConfig) -> dict[str, Any]:
    """Run the rehearsal (module docstring); returns what `OUT/rehearsal.json` holds. RehearsalError on a failed
    step (the JSON then records how far it got)."""
    return Rehearsal(config).run()


def rehearse_main(argv: list[str]) -> int:
    """`niljax rehearse [--tier gpu] [--robot h1] [--out DIR] [--size 32] [--num-envs 4] [--skip a,b]`."""
    import argparse

    p = argparse.ArgumentParser(prog="niljax rehearse", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tier", default="gpu")
    p.add_argument("--robot", default="h1")
    p.add_argument("--out", default="runs/rehearsal")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--skip", default="", help=f"comma-separated steps to leave out ({', '.join(STEPS)})")
    p.add_argument("--timeout-s", type=float, default=1800.0)
    p.add_argument("--optimize", action="store_true",
                   help="on a CPU, compile with XLA's full optimisation (default: fast compiles, see fast_compile)")
    args = p.parse_args(argv)
    config = RehearsalConfig(tier=args.tier, robot=args.robot, out=args.out, size=args.size, num_envs=args.num_envs,
                             skip=tuple(s for s in args.skip.split(",") if s), timeout_s=args.timeout_s,
                             fast_compile=not args.optimize)
    try:
        record = rehearse(config)
    except RehearsalError as err:
        print(f"niljax rehearse: {err}\n(record: {Path(config.out) / 'rehearsal.json'}, logs in "
              f"{Path(config.out) / 'logs'})", file=sys.stderr)
        return 1
    steps = {k: v.get("wall_s", "skipped") for k, v in record["steps"].items()}
    print(json.dumps({"complete": record["complete"], "wall_s": record["wall_s"], "steps_wall_s": steps}, indent=2))
    print(f"[rehearse] record: {Path(config.out) / 'rehearsal.json'}")
    return 0

