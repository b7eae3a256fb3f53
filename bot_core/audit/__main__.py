"""``python -m bot_core.audit``: see :mod:`bot_core.audit._cli`."""

from bot_core.audit._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
