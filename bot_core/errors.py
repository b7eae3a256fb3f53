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
    │   ├── ChampionMismatchError
    │   │                        compare-and-swap: the champion is not the expected version
    │   ├── AuditConfigError     an audit store URL or audit setting is invalid
    │   ├── BackupNotFoundError  no backup (manifest) with the given id exists in the store
    │   ├── ExchangeConfigError  an exchange setting is invalid (endpoint, thresholds, port)
    │   └── MetricsConfigError   a metrics setting or option (Pushgateway/Prometheus URL) is invalid
    ├── OperationError           an operation we had to perform failed (disk, storage, exchange)
    │   ├── RegistryRecoveryError
    │   │                        an interrupted registry commit cannot be completed safely
    │   ├── AuditStoreError      the audit store (local directory or S3) failed an operation
    │   │   ├── StoreUnavailableError
    │   │   │                    S3 cannot be reached (connection refused, timeout, 5xx)
    │   │   ├── RecordExistsError
    │   │   │                    write-once: an audit object with that key already exists
    │   │   └── RecordNotFoundError
    │   │                        no audit object with that key exists
    │   ├── BackupError          a backup could not be written (unreadable or changing source)
    │   ├── MetricsUnavailableError
    │   │                        the Pushgateway or Prometheus failed a request
    │   └── ExchangeBackendError an exchange backend (native REST or CCXT) failed a call
    │       ├── ExchangeUnavailableError
    │       │                    connection refused or reset, a timeout, a 5xx answer
    │       ├── ExchangeRateLimitError
    │       │                    the exchange answered 429/418: too many requests
    │       └── ExchangeResponseError
    │                            a malformed payload, or the exchange rejected the request
    └── BackupNotVerifiedError   a backup failed verification, so it may not permit execution

Each class carries the exit status the contract gives it (``exit_code``), and its message is
written to be shown to an operator as is: one line, no traceback.  Errors from the standard
library (``OSError``, ``json`` and pydantic errors) are translated where they are raised, with
``raise ... from exc``, so the CLI has a single place that turns an error into an exit status.
"""

from __future__ import annotations

__all__ = [
    "AuditConfigError",
    "AuditStoreError",
    "BackupError",
    "BackupNotFoundError",
    "BackupNotVerifiedError",
    "BotCoreError",
    "ChampionMismatchError",
    "CorruptRegistryError",
    "ExchangeBackendError",
    "ExchangeConfigError",
    "ExchangeRateLimitError",
    "ExchangeResponseError",
    "ExchangeUnavailableError",
    "InvalidDestinationError",
    "InvalidFilterError",
    "InvalidInputError",
    "InvalidNameError",
    "MetricsConfigError",
    "MetricsUnavailableError",
    "OperationError",
    "RecordExistsError",
    "RecordNotFoundError",
    "RegistryNotFoundError",
    "RegistryRecoveryError",
    "StoreUnavailableError",
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
    """Raised when an operation the command cannot do without fails: the filesystem refused it,
    a storage service or an exchange did not answer, or answered with an error."""


class RegistryRecoveryError(OperationError):
    """Raised when an interrupted registry commit cannot be completed safely.

    The commit journal names files whose content no longer matches it; an operator must
    look at the model directory before anything else is written there.
    """


class AuditConfigError(InvalidInputError):
    """Raised when an audit setting is invalid: a malformed store URL, Object Lock days < 1."""


class BackupNotFoundError(InvalidInputError):
    """Raised when no backup with the given id (no ``manifest.json``) exists in the store."""


class AuditStoreError(OperationError):
    """Raised when the audit store (a local directory or S3) fails or refuses an operation."""


class StoreUnavailableError(AuditStoreError):
    """Raised when S3 cannot be reached: connection refused or reset, a timeout, a 5xx answer.

    Audit records are spooled to a local directory on this error instead of being lost.
    """


class RecordExistsError(AuditStoreError):
    """Raised when a write-once object (an audit record, a manifest) already exists."""


class RecordNotFoundError(AuditStoreError):
    """Raised when the audit store holds no object under the requested key."""


class BackupError(OperationError):
    """Raised when a backup cannot be written: a source is unreadable or changed while read."""


class BackupNotVerifiedError(BotCoreError):
    """Raised when a backup failed verification, so it cannot permit a destructive step.

    The message names the first problems found (a hash mismatch, an edited manifest, an
    entry that would escape the restore target).
    """


class ExchangeConfigError(InvalidInputError):
    """Raised when an exchange setting is invalid: a malformed endpoint URL, a release level
    not below the degradation threshold, a negative cooldown, a port out of range."""


class ExchangeBackendError(OperationError):
    """Raised when an exchange backend (our native REST client or CCXT) fails a call.

    The manager counts these per backend; enough consecutive native ones engage failover.
    """


class ExchangeUnavailableError(ExchangeBackendError):
    """Raised when the exchange cannot be reached: refused or reset, a timeout, a 5xx answer."""


class ExchangeRateLimitError(ExchangeBackendError):
    """Raised when the exchange answers 429 or 418: the request weight limit is exceeded."""


class ExchangeResponseError(ExchangeBackendError):
    """Raised when an answer is malformed (not the JSON we expect) or rejects the request."""


class MetricsConfigError(InvalidInputError):
    """Raised when a metrics setting (``BOT_CORE_PUSHGATEWAY_URL``...) or a command-line value
    is invalid.  The flows treat every metrics failure as a warning; the command line still
    tells a typing mistake (2) from a server failure (1)."""


class MetricsUnavailableError(OperationError):
    """Raised when the Pushgateway or Prometheus cannot be reached (refused, timeout, HTTP
    error) or answers something unreadable."""
