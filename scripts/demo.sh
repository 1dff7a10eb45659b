#!/usr/bin/env bash
# Set up the venv (idempotent) and run the embedded CPU demo. Extra arguments go to `niljax demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh assets,warp
exec .venv/bin/niljax demo "$@"
