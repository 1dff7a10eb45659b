"""Process-level settings that must be in place before jax is first imported.

`configure()` is idempotent and only *adds* to what the user already set:
- XLA_FLAGS gets `--xla_cpu_enable_concurrency_optimized_scheduler=false`: without it MJX can hang on CPU
  at batch >= 64 (XLA workers idle forever; measured on jax 0.10.2).
- MUJOCO_GL defaults to `egl` so `mujoco.Renderer` works headless.
Entry points (CLI, benchmarks, tests/conftest.py) call it before importing jax; `import niljax` calls it too,
which is early enough whenever niljax is imported before jax.
"""

from __future__ import annotations

import os

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
