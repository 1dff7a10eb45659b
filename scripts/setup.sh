#!/usr/bin/env bash
# Create (or reuse) the project venv in .venv and install niljax with the given extras.
# Usage: scripts/setup.sh [extras]   e.g. scripts/setup.sh assets,warp,torch,reference,dev
# Idempotent: a stamp file records what was installed; re-running with the same pyproject and extras is instant.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-assets,warp}"
py="${PYTHON:-python3.11}"
command -v "$py" >/dev/null 2>&1 || py=python3
"$py" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"niljax needs Python 3.11, found {sys.version.split()[0]}"'
[ -x .venv/bin/python ] || "$py" -m venv .venv
stamp=".venv/.niljax-installed"
want="$(sha256sum pyproject.toml | cut -c1-16) $extras"
if [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
  exit 0
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install -U pip >/dev/null
# torch first, pinned to the CPU wheel: an unpinned request would pull CUDA torch and GBs of nvidia packages.
constraint=".venv/constraints.txt"
echo "torch==2.13.0" > "$constraint"
if [[ ",$extras," == *",torch,"* ]]; then
  "${pip[@]}" install "torch==2.13.0"
fi
"${pip[@]}" install -c "$constraint" -e ".[${extras}]"
# sam2 pins torchvision (no CPU build here); its video predictor works without it, so skip its deps.
if [[ ",$extras," == *",reference,"* ]] && [[ ",$extras," == *",torch,"* ]]; then
  SAM2_BUILD_CUDA=0 "${pip[@]}" install -c "$constraint" --no-deps --no-build-isolation "sam2==1.1.0"
fi
grep -vF " $extras" "$stamp" 2>/dev/null > "$stamp.tmp" || true
echo "$want" >> "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
