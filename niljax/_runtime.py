"""Process-level settings that must be in place before jax is first imported.

`configure()` is idempotent and only *adds* to what the user already set:
- XLA_FLAGS gets `--xla_cpu_enable_concurrency_optimized_scheduler=false`: without it MJX can hang on CPU
  at batch >= 64 (XLA workers idle forever; measured on jax 0.10.2).
- MUJOCO_GL defaults to `egl` so `mujoco.Renderer` works headless.
Entry points (CLI, benchmarks, tests/conftest.py) call it before importing jax; `import niljax` calls it too,
which is early enough whenever niljax is imported before jax.

`enable_compile_cache(path)` (called by `niljax train` / `evaluate` / `demo` and the experiments before their
first compile) turns on JAX's persistent compilation cache, so the second start of the same run loads its
programs instead of compiling them again (minutes for a humanoid on CPU).

`quiet_warp()` (called by `niljax train` / `evaluate` when the warp renderer is used) turns off MuJoCo Warp's
noise on every run: its init banner, one "Module ... load on device" line per kernel module, and on a machine
without a GPU its "Could not find or load the NVIDIA CUDA driver" warning.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

_CPU_SCHEDULER_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"


def configure(*, offline_hub: bool = False, host_device_count: int | None = None) -> None:
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_enable_concurrency_optimized_scheduler" not in flags:
        flags = f"{flags} {_CPU_SCHEDULER_FLAG}".strip()
    if host_device_count is not None and "xla_force_host_platform_device_count" not in flags:
        flags = f"{flags} --xla_force_host_platform_device_count={host_device_count}"
    os.environ["XLA_FLAGS"] = flags
    os.environ.setdefault("MUJOCO_GL", "egl")
    if offline_hub:
        os.environ["HF_HUB_OFFLINE"] = "1"


def default_compile_cache_dir() -> Path:
    """`$NILJAX_COMPILE_CACHE`, else `$XDG_CACHE_HOME/niljax/jax` (default `~/.cache/niljax/jax`)."""
    explicit = os.environ.get("NILJAX_COMPILE_CACHE", "")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "niljax" / "jax"


def compile_cache_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder `enable_compile_cache(path)` uses: JAX's own setting when there is one (`JAX_COMPILATION_CACHE_DIR`
    or `jax.config`), else `path`, else `default_compile_cache_dir()`. `niljax doctor` reports this folder, so
    what it says is what `niljax train` / `evaluate` / `demo` do (they pass the run's `--compile-cache-dir`)."""
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    return Path(path).expanduser() if path else default_compile_cache_dir()


def enable_compile_cache(path: str | os.PathLike | None = None, *, min_compile_secs: float = 1.0) -> Path | None:
    """Turn on JAX's persistent compilation cache (idempotent); returns the folder in use, or None if it cannot.

    `path=None` uses `default_compile_cache_dir()`. A cache folder the user already chose through
    `JAX_COMPILATION_CACHE_DIR` (or `jax.config`) is kept as it is. Programs that compiled in under
    `min_compile_secs` are not stored (they are cheaper to compile than to read). Entries are keyed by the
    program, the jax/jaxlib versions, the backend and the compile options, so a cache shared by several
    machines or versions is safe; delete the folder to reclaim its space. Call before the first compile.
    """
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    folder = compile_cache_dir(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # read-only home, full disk: run without the cache rather than fail
        print(f"[niljax] compile cache disabled: cannot create {folder} ({err})", file=sys.stderr)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_secs))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


# What warp's native init prints with fprintf(stderr) on a machine without an NVIDIA driver (CPU runs)
_WARP_NOISE = ("Warp CUDA warning: Could not find or load the NVIDIA CUDA driver",)


def quiet_warp() -> None:
    """Initialise warp quietly (idempotent; nothing without warp-lang; NILJAX_VERBOSE_WARP=1 keeps the output).

    warp's log level (`quiet` in older versions) silences the banner and the kernel-load lines; warnings and
    errors still show. The native CUDA-driver warning is
    printed by C code, so fd 2 is captured around `warp.init()` and everything else it wrote is passed on.
    """
    import importlib.util

    if os.environ.get("NILJAX_VERBOSE_WARP", "") not in ("", "0") or importlib.util.find_spec("warp") is None:
        return
    import warp

    if hasattr(warp, "LOG_WARNING"):  # warp >= 1.1x: a log level (INFO prints the banner and module loads)
        warp.config.log_level = max(warp.config.log_level, warp.LOG_WARNING)
    else:
        warp.config.quiet = True
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            warp.init()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
    kept = [line for line in text.splitlines(keepends=True) if not line.startswith(_WARP_NOISE)]
    if kept:
        sys.stderr.write("".join(kept))
