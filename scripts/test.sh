#!/usr/bin/env bash
# Set up the venv (idempotent) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh assets,warp,torch,reference,dev
# Two workers (one per core); a test file stays on one worker so its module fixtures compile once.
exec .venv/bin/python -m pytest -m "not slow" -n 2 --dist loadfile --durations=15 "$@"
