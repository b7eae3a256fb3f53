#!/usr/bin/env bash
# Set up (or refresh) the virtual environment and run every check CI runs:
# ruff, mypy and the whole pytest suite.  Safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
exec "$PY" -m pytest "$@"
