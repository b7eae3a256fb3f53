"""The one place where a command line becomes JSON on stdout and an exit status.

Every bot_core command-line shell (``bot_core.reporting.ui_bridge``,
``bot_core.runtime.ui_bridge``, ``bot_core.audit``, ``scripts.audit.*``) builds an
``argparse`` parser from :class:`OneLineArgumentParser`, gives each sub-command a ``handler``
that makes one library call and returns a :class:`CliOutput`, and calls :func:`run_cli`.

Why: the desktop Report Center parses stdout, so stdout carries exactly one JSON document or
nothing; everything meant for people goes to stderr as a single line, without a usage dump
or a traceback, and the exit status comes from the error class (``errors.py``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import BinaryIO, NoReturn

from pydantic import BaseModel, ValidationError

from bot_core._fs import display_path
from bot_core.errors import BotCoreError, InvalidInputError

__all__ = ["CliOutput", "Handler", "OneLineArgumentParser", "run_cli", "validation_summary"]


@dataclass(frozen=True, slots=True)
class CliOutput:
    """What a sub-command hands back: the document to print and the exit status.

    A very large document may instead give ``stream``, a function that writes the same JSON
    to a binary stream piece by piece (the overview of 100k reports does).
    """

    document: BaseModel | None
    exit_code: int = 0
    stream: Callable[[BinaryIO], None] | None = None


Handler = Callable[[argparse.Namespace], CliOutput]


class OneLineArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise InvalidInputError(f"{self.prog}: {message}")


def validation_summary(exc: ValidationError) -> str:
    """``field: message`` for each problem, in one line."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
        for error in exc.errors()
    )


def _write_error(message: str) -> None:
    line = " ".join(message.split()) or "unknown error"
    sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the chosen handler, print its document; return the exit status."""
    try:
        args = parser.parse_args(argv)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.error("a command is required (see --help)")
        output = handler(args)
    except BotCoreError as exc:
        _write_error(str(exc))
        return exc.exit_code
    except ValidationError as exc:
        # Options become pydantic models (policies, caps, settings); one that does not
        # validate is bad input, said in one line, like every other bad input.
        _write_error(f"invalid {exc.title}: {validation_summary(exc)}")
        return InvalidInputError.exit_code
    except KeyboardInterrupt:
        _write_error("interrupted")
        return 130
    except OSError as exc:
        where = f": {display_path(str(exc.filename))}" if exc.filename else ""
        _write_error(f"{exc.strerror or exc}{where}")
        return 1
    try:
        if output.stream is not None:
            output.stream(sys.stdout.buffer)
        elif output.document is not None:
            sys.stdout.buffer.write(output.document.model_dump_json().encode("utf-8"))
        sys.stdout.buffer.write(b"\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``); nothing more to say, and no traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return output.exit_code
