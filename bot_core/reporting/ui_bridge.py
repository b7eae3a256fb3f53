"""``python -m bot_core.reporting.ui_bridge``: the Report Center's JSON command line.

A thin shell over :mod:`bot_core.reporting` (overview, delete, purge, archive) and
:mod:`bot_core.registry` (champion, promote): each sub-command parses its options into the
library's keyword arguments, makes one library call and prints the resulting document.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot_core._cli import OneLineArgumentParser, run_cli
from bot_core.registry._cli import add_registry_commands
from bot_core.reporting._cli import add_report_commands

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The parser for every sub-command, shared by ``main`` and the documentation test."""
    parser = OneLineArgumentParser(
        prog="python -m bot_core.reporting.ui_bridge",
        description=(
            "Inspect and maintain operational reports and the model registry (JSON output)."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_report_commands(commands)
    add_registry_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; returns the exit status."""
    return run_cli(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
