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
neither torch nor transformers nor huggingface_hub is imported); the XLA compile cache folder that `niljax
train` / `evaluate` / `demo` use (on by default; resolved by the same function they call).
Never touches the network (HF_HUB_OFFLINE=1 is set for this process). Heavy imports happen inside the checks.

Modules: `checks` (the checks as a list, `CHECKS`, and the runner `run`), `probes` (facts read from the
machine: versions, hardware, OpenGL, weights on disk, install commands), `report` (`Report`, `Problem`, the
text form), `cli` (`doctor_main`).
"""

from __future__ import annotations

from niljax.doctor.checks import CHECKS, Check, Request, run
from niljax.doctor.cli import doctor_main
from niljax.doctor.probes import (
    DEFAULT_ENCODER,
    find_encoder_weights,
    hardware,
    hf_hub_cache,
    install_fix,
    opengl_probe,
)
from niljax.doctor.report import Problem, Report, format_text

__all__ = [
    "CHECKS",
    "DEFAULT_ENCODER",
    "Check",
    "Problem",
    "Report",
    "Request",
    "doctor_main",
    "find_encoder_weights",
    "format_text",
    "hardware",
    "hf_hub_cache",
    "install_fix",
    "opengl_probe",
    "run",
]
