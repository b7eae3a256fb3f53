# Sourced by scripts/demo.sh and scripts/test.sh: create the virtual environment on first use
# and install the project (editable) with its development tools.  Idempotent.
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -e '.[dev]'
    touch "$VENV/.installed"
fi
PY="$VENV/bin/python"
