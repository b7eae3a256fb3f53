"""``python -m bot_core.metrics``: see :mod:`bot_core.metrics._cli`."""

from bot_core.metrics._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
