"""Spooling: records wait in a local directory while S3 is unreachable, then are flushed.

Why: a maintenance step must leave its record even when the network is down, and the
record must reach S3 later without a gap or a change of order in its run's chain.

How: :class:`SpoolingAuditStore` wraps the S3 store.  ``put_json`` goes to S3 unless S3 is
unreachable (:class:`~bot_core.errors.StoreUnavailableError`); then the exact bytes go to
the spool directory under the same key.  While anything is spooled, every new record first
tries :meth:`SpoolingAuditStore.flush`; if the spool cannot be emptied, the new record is
spooled behind the older ones, so S3 never receives record N+1 of a run before record N.
``flush`` uploads spooled records in key order (runs, then sequence numbers), write-once, and
removes each from the spool only after S3 has it; a record S3 already holds with identical
bytes (a flush interrupted after the upload) counts as flushed.  Reads and listings see the
union of both places, and ``verify`` reports which records are still spooled.

Backups are never spooled: a backup that is not on its store is not a verified backup.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from bot_core._progress import NullProgress, ProgressCallback
from bot_core._types import Document
from bot_core.audit._keys import parse_record_key
from bot_core.audit._store import AuditStore, LocalAuditStore, StoredObject, dump_json
from bot_core.errors import RecordExistsError, RecordNotFoundError, StoreUnavailableError

__all__ = ["FlushResult", "FlushedRecord", "SpoolingAuditStore"]

FlushStatus = Literal["flushed", "already_present", "conflict", "pending"]


class FlushedRecord(Document):
    """One spooled record and what :meth:`SpoolingAuditStore.flush` did with it."""

    key: str
    status: FlushStatus
    detail: str | None = None


class FlushResult(Document):
    """The outcome of a flush: ``completed`` when the spool is empty afterwards."""

    store: str
    spool_directory: str
    status: Literal["empty", "completed", "unavailable", "conflict"]
    flushed_count: int
    remaining_count: int
    records: list[FlushedRecord] = Field(default_factory=list)


def _flush_order(key: str) -> tuple[str, int, str]:
    parsed = parse_record_key(key)
    if parsed is None:
        return (key, 0, key)
    return (parsed.run_prefix, parsed.sequence, key)


class SpoolingAuditStore(AuditStore):
    """An S3 store whose records fall back to a local spool directory while S3 is down.

    **Parameters:**

    * ``primary`` - the remote store (normally :class:`~bot_core.audit.S3AuditStore`).
    * ``spool`` - a :class:`LocalAuditStore` on the spool directory.
    """

    def __init__(self, primary: AuditStore, spool: LocalAuditStore) -> None:
        self.primary = primary
        self.spool = spool
        self.location = primary.location

    # -- records ----------------------------------------------------------------------------

    def put_json(self, key: str, document: Mapping[str, Any]) -> StoredObject:
        return self.put_bytes(key, dump_json(document), write_once=True)

    def put_bytes(self, key: str, data: bytes, *, write_once: bool = True) -> StoredObject:
        if parse_record_key(key) is None:
            # Only audit records are spooled; a manifest must reach its store or fail.
            return self.primary.put_bytes(key, data, write_once=write_once)
        if self.spooled_keys():
            with contextlib.suppress(StoreUnavailableError):
                self.flush()
            if self.spooled_keys():
                return self._spool_put(key, data)
        try:
            return self.primary.put_bytes(key, data, write_once=write_once)
        except StoreUnavailableError:
            return self._spool_put(key, data)

    def _spool_put(self, key: str, data: bytes) -> StoredObject:
        stored = self.spool.put_bytes(key, data, write_once=True)
        return StoredObject(stored.key, stored.sha256, stored.size, spooled=True)

    def spooled_keys(self) -> list[str]:
        """Keys waiting in the spool, in the order ``flush`` will upload them."""
        return sorted(self.spool.list_keys(), key=_flush_order)

    def flush(self, *, progress: ProgressCallback | None = None) -> FlushResult:
        """Upload every spooled record to S3, oldest first; stop at the first failure."""
        report = progress or NullProgress()
        pending = self.spooled_keys()
        results: list[FlushedRecord] = []
        status: Literal["empty", "completed", "unavailable", "conflict"] = (
            "completed" if pending else "empty"
        )
        blocked_runs: set[str] = set()
        for index, key in enumerate(pending):
            run = _flush_order(key)[0]
            if status == "unavailable" or run in blocked_runs:
                results.append(FlushedRecord(key=key, status="pending"))
                continue
            data = self.spool.get_bytes(key)
            try:
                self.primary.put_bytes(key, data, write_once=True)
                outcome: FlushedRecord = FlushedRecord(key=key, status="flushed")
            except StoreUnavailableError as exc:
                status = "unavailable"
                results.append(FlushedRecord(key=key, status="pending", detail=str(exc)))
                continue
            except RecordExistsError:
                remote = self.primary.get_bytes(key)
                if hashlib.sha256(remote).digest() != hashlib.sha256(data).digest():
                    # Someone else wrote this key: keep ours spooled, hold the rest of the run.
                    status = "conflict"
                    blocked_runs.add(run)
                    results.append(
                        FlushedRecord(
                            key=key,
                            status="conflict",
                            detail="S3 holds different bytes under this key",
                        )
                    )
                    continue
                outcome = FlushedRecord(key=key, status="already_present")
            self.spool.discard(key)
            results.append(outcome)
            report("flush", index + 1, len(pending))
        remaining = len(self.spooled_keys())
        return FlushResult(
            store=self.primary.location,
            spool_directory=self.spool.location,
            status=status,
            flushed_count=sum(r.status in ("flushed", "already_present") for r in results),
            remaining_count=remaining,
            records=results,
        )

    # -- reads and files --------------------------------------------------------------------

    def get_bytes(self, key: str) -> bytes:
        try:
            return self.spool.get_bytes(key)
        except RecordNotFoundError:
            return self.primary.get_bytes(key)

    def exists(self, key: str) -> bool:
        return self.spool.exists(key) or self.primary.exists(key)

    def list_keys(self, prefix: str = "") -> list[str]:
        return sorted(set(self.primary.list_keys(prefix)) | set(self.spool.list_keys(prefix)))

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        move: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StoredObject:
        return self.primary.put_file(key, path, sha256=sha256, move=move, progress=progress)

    def fetch_file(self, key: str) -> contextlib.AbstractContextManager[Path]:
        return self.primary.fetch_file(key)

    def staging_directory(self) -> contextlib.AbstractContextManager[Path]:
        return self.primary.staging_directory()

    def describe(self, key: str) -> str:
        return self.primary.describe(key)

    def close(self) -> None:
        self.primary.close()
