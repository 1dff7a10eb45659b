"""Accelerator checks of a training run, made before (or without) a GPU / TPU: which renderer runs on which
platform, no silent CPU fallback, and exporting the compiled programs for CUDA and TPU from any host.

- `check_renderer_platform(backend, platform)`: ValueError before anything compiles when the renderer cannot run
  on the platform (MuJoCo Warp runs on CUDA and CPU only; a TPU trains with the pure-JAX hull renderer), naming the
  flag to use instead.
- `require_accelerator(what, allow_cpu)`: ValueError when JAX's default backend is the CPU although a GPU/TPU
  setting was asked for (the CUDA or TPU plugin failed to load, or is not installed; JAX then only warns), naming
  `niljax doctor` and the override.
- `export_program(fn, args, platform)`: `jax.export` of a jitted program for `platform` ("cuda", "tpu", "cpu") from
  this host, whatever its own backend: every operation must lower for that platform and every custom call must be
  one with a compatibility guarantee, except third-party FFI calls (`jax.ffi.ffi_call`, which MuJoCo Warp's kernels
  are), which are listed in the result (see `ExportResult.ffi_targets` for what that means).
- `export_trainer(trainer, platform)`: the training chunk and the evaluation program of a `NilTrainer`.

What an export proves and what it does not: it runs JAX's lowering for the target platform (every primitive has a
lowering there; shapes, dtypes, shardings and custom-call targets are fixed), so a program that exports for "cuda"
or "tpu" here will not fail there for a missing lowering rule or a CPU-only custom call (LAPACK, ducc FFT, ...).
It does not compile with XLA's GPU/TPU compiler (that needs the device's plugin), run anything, or measure memory.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from typing import Any

import jax

PLATFORMS = ("cuda", "tpu")  # the accelerator platforms niljax documents (docs/install.md)
# Renderers per platform. "warp" is MuJoCo Warp: its kernels are Warp FFI calls with CPU and CUDA handlers only.
RENDERERS = {"cpu": ("warp", "hull", "jax"), "cuda": ("warp", "hull", "jax"), "gpu": ("warp", "hull", "jax"),
             "tpu": ("hull", "jax")}
ALLOW_CPU_ENV = "NILJAX_ALLOW_CPU"  # "1": run a GPU/TPU setting on the CPU anyway (a rehearsal)


def check_renderer_platform(backend: str, platform: str) -> None:
    """ValueError when the render `backend` ("warp" | "hull" | "jax") cannot run on `platform` ("cpu", "cuda" or
    "gpu", "tpu"), naming the backend to use; nothing compiled or allocated before it."""
    platform = platform.lower()
    allowed = RENDERERS.get(platform)
    if allowed is None:
        raise ValueError(f"unknown platform {platform!r} (known: {sorted(RENDERERS)})")
    if backend not in allowed:
        raise ValueError(
            f"the {backend!r} renderer cannot run on {platform.upper()}: MuJoCo Warp's kernels (rendering and "
            "physics) have CPU and CUDA implementations only. Use the pure-JAX mesh renderer instead: "
            "--render.backend hull (exact primitives, meshes as unions of convex pieces; the TPU path, "
            "docs/rendering.md), or --render.backend jax (meshes as ellipsoids)")


def require_accelerator(what: str, *, allow_cpu: bool = False) -> str:
    """The default backend's platform ("gpu", "tpu"); ValueError when it is "cpu" unless `allow_cpu` (or
    $NILJAX_ALLOW_CPU=1). `what` names the setting in the message, e.g. "--tier gpu"."""
    platform = jax.default_backend()
    if platform != "cpu" or allow_cpu or os.environ.get(ALLOW_CPU_ENV, "") not in ("", "0"):
        return platform
    raise ValueError(
        f"{what} is a GPU/TPU setting, but JAX runs on the CPU here (jax.default_backend() == 'cpu': the CUDA or "
        "TPU plugin is not installed, or failed to load, and JAX only warned). `niljax doctor` says which, and the "
        "fix (docs/install.md). To run it on the CPU anyway (a dress rehearsal at reduced size), pass --allow-cpu "
        f"or set {ALLOW_CPU_ENV}=1")


@dataclasses.dataclass(frozen=True)
class ExportResult:
    """What `export_program` produced for one platform.

    `ffi_targets`: FFI calls the program makes (MuJoCo Warp's kernels). They lower for every platform (an FFI call
    is a `stablehlo.custom_call` to a named handler), but their handler is registered by the Python process that
    traced them, under a generated name, and reads per-call state kept in that process (warp's `call_id`): the
    serialized artifact is not portable to another process, and runs only where a handler exists for the platform
    (warp registers CPU and CUDA ones). `custom_calls`: every custom-call target in the lowered module."""

    platform: str
    name: str
    exported: Any  # jax.export.Exported
    custom_calls: tuple[str, ...]
    ffi_targets: tuple[str, ...]

    @property
    def text_bytes(self) -> int:
        return len(self.exported.mlir_module())

    def summary(self) -> dict[str, Any]:
        return {"platform": self.platform, "program": self.name, "stablehlo_chars": self.text_bytes,
                "custom_calls": list(self.custom_calls), "ffi_targets": list(self.ffi_targets)}


def _sub_jaxprs(value: Any) -> Iterator[Any]:
    """Jaxprs held in an equation parameter (scan/cond/while/pjit/custom_vmap bodies), at any nesting."""
    if hasattr(value, "eqns"):  # a Jaxpr
        yield value
    elif hasattr(value, "jaxpr") and hasattr(value.jaxpr, "eqns"):  # a ClosedJaxpr
        yield value.jaxpr
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _sub_jaxprs(item)


def iter_equations(jaxpr: Any) -> Iterator[Any]:
    """Every equation of a (closed) jaxpr and of the jaxprs nested in its equations (loop and branch bodies,
    inner jits, custom rules), depth first."""
    stack = [jaxpr.jaxpr if hasattr(jaxpr, "jaxpr") else jaxpr]
    while stack:
        current = stack.pop()
        for eqn in current.eqns:
            yield eqn
            for param in eqn.params.values():
                stack.extend(_sub_jaxprs(param))


def ffi_call_targets(jaxpr: Any) -> list[str]:
    """Target names of every `ffi_call` in a (closed) jaxpr and the jaxprs nested in it, distinct."""
    calls = (eqn for eqn in iter_equations(jaxpr) if eqn.primitive.name == "ffi_call")
    return list(dict.fromkeys(str(eqn.params["target_name"]) for eqn in calls))


_CUSTOM_CALL = re.compile(r"stablehlo\.custom_call @([\w.$-]+)")


def export_program(fn: Any, args: tuple, platform: str, *, name: str = "program") -> ExportResult:
    """`jax.export` of `fn` (jitted or not) at `args` (arrays or `jax.ShapeDtypeStruct`s) for one platform.

    Raises whatever JAX raises when a part cannot be lowered for `platform` (a primitive without a lowering rule
    there, a custom call without a compatibility guarantee other than an FFI call): the message names the
    operation and where it was traced. FFI calls are allowed and listed (`ExportResult.ffi_targets`)."""
    from jax import export

    jitted = fn if hasattr(fn, "trace") else jax.jit(fn)
    targets = ffi_call_targets(jitted.trace(*args).jaxpr)
    checks = [export.DisabledSafetyCheck.custom_call(t) for t in targets]
    exported = export.export(jitted, platforms=[platform], disabled_checks=checks)(*args)
    calls = tuple(dict.fromkeys(_CUSTOM_CALL.findall(exported.mlir_module())))
    return ExportResult(platform=platform, name=name, exported=exported, custom_calls=calls,
                        ffi_targets=tuple(targets))


def export_trainer(trainer: Any, platform: str, *, evaluation: bool = True) -> list[ExportResult]:
    """Export a `niljax.train.loop.NilTrainer`'s compiled programs for `platform`: the training chunk (the whole
    iteration: physics, rendering, frame history, reward, replay, learner updates, `iterations_per_call` times)
    and, with `evaluation`, the evaluation rollout (recording frames, as the final evaluation does).

    The renderer is checked first (`check_renderer_platform`): a warp renderer refused for "tpu" before tracing."""
    check_renderer_platform(trainer.renderer.backend, platform)
    key = jax.random.PRNGKey(0)
    abstract = jax.eval_shape(trainer.init, key)
    consts = trainer.program_constants
    results = [export_program(trainer.train_chunk_program, (abstract, consts), platform, name="train_chunk")]
    if evaluation:
        learner = abstract.learner
        results.append(export_program(trainer.evaluate_program(record=True), (learner.actor_params, key, consts),
                                      platform, name="evaluate"))
    return results
