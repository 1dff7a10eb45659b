#!/usr/bin/env bash
# Set up the venv (idempotent) and run the embedded CPU demo: the A1 quadruped learns to walk from its
# motion-capture walk (shipped with niljax), about 7 minutes on 2 cores with setup. Extra arguments go to `niljax demo`
# (`bash scripts/demo.sh --robot toy_arm`: the 3-minute smoke test; `--help`: every option).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/setup.sh assets,warp
echo "[demo.sh] environment ready in $(( $(date +%s) - start )) s (scripts/setup.sh assets,warp)"
exec .venv/bin/niljax demo "$@"
