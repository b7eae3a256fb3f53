"""Every error bot_core raises on purpose, in one place.

The hierarchy::

    BotCoreError                 base class; exit status 1
    ├── InvalidInputError        the caller asked for something impossible; exit status 2
    │   ├── InvalidFilterError   a filter value (date, limit, sort key...) is malformed
    │   ├── UnsafePathError      a path escapes the base directory, is the base itself,
    │   │                        passes through a symlink, or is blank
    │   ├── InvalidDestinationError
    │   │                        an archive destination equal to or inside the base
    │   ├── InvalidNameError     a model name, version or tag cannot be a path component
    │   ├── RegistryNotFoundError
    │   │                        the model registry directory or a model's directory is missing
    │   ├── UnknownVersionError  no challenger of the model has the requested version
    │   ├── CorruptRegistryError champion.json, challengers.json or history.jsonl is invalid
    │   └── ChampionMismatchError
    │                            compare-and-swap: the champion is not the expected version
    └── OperationError           the filesystem refused an operation we had to perform
        └── RegistryRecoveryError
                                 an interrupted registry commit cannot be completed safely

Each class carries the exit status the contract gives it (``exit_code``), and its message is
written to be shown to an operator as is: one line, no traceback.  Errors from the standard
library (``OSError``, ``json`` and pydantic errors) are translated where they are raised, with
``raise ... from exc``, so the CLI has a single place that turns an error into an exit status.
"""

from __future__ import annotations

__all__ = [
    "BotCoreError",
    "ChampionMismatchError",
    "CorruptRegistryError",
    "InvalidDestinationError",
    "InvalidFilterError",
    "InvalidInputError",
    "InvalidNameError",
    "OperationError",
    "RegistryNotFoundError",
    "RegistryRecoveryError",
    "UnknownVersionError",
    "UnsafePathError",
]


class BotCoreError(Exception):
    """Base class of every deliberate bot_core error."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInputError(BotCoreError):
    """Raised when an argument or input document is invalid; nothing has been changed."""

    exit_code = 2


class InvalidFilterError(InvalidInputError):
    """Raised when a report filter is malformed: a bad date, ``since > until``, a limit of 0."""


class UnsafePathError(InvalidInputError):
    """Raised when a path would take an operation outside the base directory, or onto it."""


class InvalidDestinationError(InvalidInputError):
    """Raised when an archive destination is the base directory or lies inside it."""


class InvalidNameError(InvalidInputError):
    """Raised when a model name, version or tag would be unsafe as a path component.

    Blank names, ``/``, ``\\``, NUL and other control characters, ``..`` and a leading dot are
    refused, so a name can never take a registry or audit path outside its directory.
    """


class RegistryNotFoundError(InvalidInputError):
    """Raised when the model registry directory, or the named model's directory, is missing."""


class UnknownVersionError(InvalidInputError):
    """Raised when no challenger of the model carries the requested ``report.version``."""


class CorruptRegistryError(InvalidInputError):
    """Raised when a registry file is unreadable, not valid JSON, or breaks the contract."""


class ChampionMismatchError(InvalidInputError):
    """Raised by ``promote --expect-champion`` when the current champion is another version."""


class OperationError(BotCoreError):
    """Raised when the filesystem refuses an operation the command cannot do without."""


class RegistryRecoveryError(OperationError):
    """Raised when an interrupted registry commit cannot be completed safely.

    The commit journal names files whose content no longer matches it; an operator must
    look at the model directory before anything else is written there.
    """
