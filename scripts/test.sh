#!/usr/bin/env bash
# Set up the venv (idempotent) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh assets,warp,torch,reference,dev
exec .venv/bin/python -m pytest -m "not slow" "$@"
