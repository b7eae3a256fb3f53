"""``python -m flows``: see :mod:`flows._cli`."""

import sys

from flows._cli import main

sys.exit(main())
