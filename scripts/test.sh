#!/usr/bin/env bash
# Set up (or refresh) the virtual environment and run every check CI runs:
# ruff, mypy and the whole pytest suite.  Safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
# tests/flows/test_ui.py drives Debian's chromium through Playwright (never `playwright
# install`, no browser download): install it when missing and we are root.
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium
fi
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
exec "$PY" -m pytest "$@"
