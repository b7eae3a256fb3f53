"""``python -m bot_core.exchanges``: see :mod:`bot_core.exchanges._cli`."""

from bot_core.exchanges._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
