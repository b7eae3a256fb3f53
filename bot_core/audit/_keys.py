"""Building and parsing audit store keys: the one place where a key is made safe.

Why: a key becomes a file path in :class:`LocalAuditStore` and an object name on S3.  Every
key, whatever it names (a record, a backup archive, a manifest), is built by
:func:`build_key`, which refuses ``..``, ``.``, empty components, absolute paths, backslashes
and control characters (borg's ``make_path_safe``), so no key can leave the store's root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from bot_core._fs import display_path
from bot_core._types import as_utc
from bot_core.errors import UnsafePathError

__all__ = [
    "BACKUPS_PREFIX",
    "RecordKey",
    "build_key",
    "parse_record_key",
    "record_key",
    "run_prefix",
    "validate_name",
]

BACKUPS_PREFIX = "backups"
"""Top-level key component reserved for backups; no operation group may use it."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_RECORD_NAME = re.compile(r"^(\d{2,})-([A-Za-z0-9][A-Za-z0-9_.-]*)\.json$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def build_key(*parts: str) -> str:
    """Join ``parts`` (each may hold ``/``) into a key; refuse anything that could escape.

    >>> build_key("maintenance/purge", "2024", "03-approval.json")
    'maintenance/purge/2024/03-approval.json'
    """
    components: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise UnsafePathError(f"audit key component must be text, got {type(part).__name__}")
        if part.startswith("/"):
            raise UnsafePathError(f"absolute path in an audit key: {display_path(part)}")
        if "\\" in part or _CONTROL.search(part):
            raise UnsafePathError(f"backslash or control character in an audit key: {part!r}")
        for component in part.split("/"):
            if component in ("", ".", ".."):
                raise UnsafePathError(
                    f"audit key component {component!r} is not allowed: {display_path(part)}"
                )
            components.append(component)
    if not components:
        raise UnsafePathError("an audit key must not be blank")
    try:
        "/".join(components).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UnsafePathError(f"audit key is not valid UTF-8: {display_path(part)}") from exc
    return "/".join(components)


def validate_name(value: str, what: str) -> str:
    """Check one name used in a key (run id, step, operation part): letters, digits, ``_.-``."""
    if not _NAME.match(value) or value in (".", ".."):
        raise UnsafePathError(
            f"{what} {value!r} is not allowed: use letters, digits, '_', '.', '-' "
            "(at most 128, not starting with a punctuation mark)"
        )
    return value


def _split_operation(operation: str) -> tuple[str, str]:
    parts = operation.split("/")
    if len(parts) != 2:
        raise UnsafePathError(
            f"operation {operation!r} must be '<operation-group>/<operation>', "
            "e.g. 'maintenance/purge'"
        )
    group, name = (validate_name(part, "operation") for part in parts)
    if group == BACKUPS_PREFIX:
        raise UnsafePathError(f"operation group {BACKUPS_PREFIX!r} is reserved for backups")
    return group, name


def run_prefix(operation: str, started_at: datetime, run_id: str) -> str:
    """``<group>/<operation>/<YYYY>/<MM>/<DD>/<run-id>``: the directory of one run's records."""
    group, name = _split_operation(operation)
    day = as_utc(started_at)
    return build_key(
        group,
        name,
        f"{day.year:04d}",
        f"{day.month:02d}",
        f"{day.day:02d}",
        validate_name(run_id, "run id"),
    )


def record_key(prefix: str, sequence: int, step: str) -> str:
    """``<run prefix>/<NN>-<step>.json`` with ``NN`` the 1-based sequence, two digits or more."""
    if sequence < 1:
        raise ValueError("record sequence numbers start at 1")
    return build_key(prefix, f"{sequence:02d}-{validate_name(step, 'step')}.json")


@dataclass(frozen=True, slots=True)
class RecordKey:
    """The parts of a record key (see :func:`parse_record_key`)."""

    key: str
    operation: str
    date: str
    run_id: str
    run_prefix: str
    sequence: int
    step: str


def parse_record_key(key: str) -> RecordKey | None:
    """Split a record key into its parts; ``None`` when ``key`` is not shaped like one."""
    parts = key.split("/")
    if len(parts) != 7 or parts[0] == BACKUPS_PREFIX:
        return None
    group, name, year, month, day, run_id, leaf = parts
    match = _RECORD_NAME.match(leaf)
    if match is None or not (year.isdigit() and month.isdigit() and day.isdigit()):
        return None
    if len(year) != 4 or len(month) != 2 or len(day) != 2:
        return None
    return RecordKey(
        key=key,
        operation=f"{group}/{name}",
        date=f"{year}-{month}-{day}",
        run_id=run_id,
        run_prefix="/".join(parts[:6]),
        sequence=int(match.group(1)),
        step=match.group(2),
    )
