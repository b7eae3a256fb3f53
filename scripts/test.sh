#!/usr/bin/env bash
# Set up (or refresh) the virtual environment and run every check CI runs:
# ruff, mypy and the whole pytest suite.  Safe to run on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bootstrap.sh
# Some tests run real servers from Debian's packages (never a browser or server download):
# chromium (tests/flows/test_ui.py, through Playwright), PostgreSQL (the scale-out test),
# Prometheus with promtool and the Pushgateway (dashboards and metrics).  Install whichever
# is missing when we are root.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/promtool ] || missing+=(prometheus)
[ -x /usr/bin/prometheus-pushgateway ] || missing+=(prometheus-pushgateway)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
fi
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
"$VENV/bin/mypy"
# Two workers, one test file per worker at a time (module fixtures and the reliability
# suite's figures stay in one process): most tests wait on subprocesses and servers.
exec "$PY" -m pytest -n 2 --dist loadfile "$@"
