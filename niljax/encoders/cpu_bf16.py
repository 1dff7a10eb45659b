"""Can XLA:CPU compile bfloat16 programs here? A guard for the one known failure, which kills the process (issue 32).

jaxlib 0.12.1's XLA:CPU aborts the whole process (SIGABRT from `LLVM ERROR: Cannot select: ... v8bf16 =
X86ISD::VBROADCAST`, no Python exception to catch) when it compiles a bfloat16 slice + transpose loop fusion on an
x86-64 processor without AVX-512 (seen on AMD EPYC Zen 3: AVX2, F16C, no AVX-512). TimeSformer's temporal
attention with 3 heads of 16 hits it; `REPRODUCER` is the smallest program found that does. jaxlib 0.10.2,
0.11.0, 0.11.2, 0.12.0 and 0.12.0.1 compile it on the same machine; pyproject.toml excludes 0.12.1 and the locks
pin 0.10.2 (Python 3.11) / 0.12.0.1 (3.12, 3.13), so this guard matters only where someone installs 0.12.1 (or a
later release with the same fault) by hand.

- `cpu_bf16_problem(backend=None) -> str | None`: None when bfloat16 compiles here; else a one-paragraph message
  naming the cause and the fixes. No cost off CPU, off x86-64, or with a jaxlib release older than 0.12.1 (all
  checked); otherwise it compiles `REPRODUCER` once in a child process (2-4 s, cached for the process), because
  only a separate process survives the abort.
- `require_cpu_bf16(what)`: raises `Bfloat16UnsupportedError` (a ValueError, so the CLI prints it as a user error)
  with that message. Call it before compiling anything in bfloat16 on the default backend.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import subprocess
import sys

#: The smallest program that aborted jaxlib 0.12.1's XLA:CPU here: a strided slice, then a transpose, in bf16.
REPRODUCER = (
    "import jax, jax.numpy as jnp\n"
    "f = jax.jit(lambda x: x[:, 1].T)\n"
    "print(f(jnp.ones((6, 2, 8), jnp.bfloat16)).astype(jnp.float32).sum())\n"
)
#: The first jaxlib release seen to abort (older ones compile `REPRODUCER` on the same processor).
FIRST_BAD_JAXLIB = (0, 12, 1)


class Bfloat16UnsupportedError(ValueError):
    """bfloat16 was asked for on a CPU backend whose XLA cannot compile it (the message says what to do)."""


def _release(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _cpu_name_and_avx512() -> tuple[str, list[str]]:
    """Model name and AVX-512 flags from /proc/cpuinfo ("unknown", [] where it cannot be read)."""
    name, flags = platform.processor() or "unknown", []
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and name in ("unknown", "x86_64", ""):
                    name = value.strip()
                elif key.strip() == "flags":
                    flags = sorted(f for f in value.split() if f.startswith("avx512"))
                    break
    except OSError:
        pass
    return name, flags


def probe_cpu_bf16(timeout: float = 300.0) -> str | None:
    """Compile `REPRODUCER` in a child process on the CPU backend; None if it ran, else what it died with."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    try:
        result = subprocess.run([sys.executable, "-c", REPRODUCER], capture_output=True, text=True, env=env,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return f"the bfloat16 probe did not finish in {timeout:.0f} s"
    if result.returncode == 0:
        return None
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    llvm = [line for line in lines if "LLVM ERROR" in line]
    detail = re.sub(r"0x[0-9a-f]+:? ?", "", (llvm or lines or [f"exit code {result.returncode}"])[0]).strip()
    return detail if len(detail) <= 200 else detail[:200] + " ..."


@functools.cache
def _problem(jaxlib_version: str) -> str | None:
    failure = probe_cpu_bf16()
    if failure is None:
        return None
    cpu, avx512 = _cpu_name_and_avx512()
    features = ", ".join(avx512) if avx512 else "no AVX-512"
    return (
        f"bfloat16 cannot be compiled by XLA:CPU on this machine: jaxlib {jaxlib_version} dies compiling a bfloat16 "
        f"program on this processor ({cpu}; {features}) with `{failure}`, which ends the process. On CPU compute "
        "in float32 (encoder dtype 'float32', or 'auto', which is float32 on CPU), or install a jaxlib that "
        "compiles it: `pip install 'jax==0.12.0.1' 'jaxlib==0.12.0.1'` (Python 3.12/3.13; Python 3.11: 0.10.2), "
        "which is what scripts/setup.sh installs from requirements/."
    )


def cpu_bf16_problem(backend: str | None = None) -> str | None:
    """None when bfloat16 programs compile on `backend` (default: jax's default backend); else the message."""
    if backend is None:
        import jax

        backend = jax.default_backend()
    if backend != "cpu" or platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    import jaxlib

    version = getattr(jaxlib, "__version__", "0")
    if _release(version) < FIRST_BAD_JAXLIB:
        return None
    return _problem(version)


def require_cpu_bf16(what: str = "this computation", backend: str | None = None) -> None:
    """Raise `Bfloat16UnsupportedError` when bfloat16 cannot be compiled on `backend` (see `cpu_bf16_problem`)."""
    problem = cpu_bf16_problem(backend)
    if problem is not None:
        raise Bfloat16UnsupportedError(f"{what} asked for bfloat16: {problem}")
