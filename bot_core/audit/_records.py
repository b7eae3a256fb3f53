"""Audit records: the JSON envelope, its hash chain, and :class:`AuditRun` that writes them.

Why a chain: an auditor must be able to tell that the records of a run are the ones that
were written, all of them, in order.  Each record stores ``previous_sha256``, the sha256 of
the exact bytes of the run's previous record (``null`` for the first), and
``content_sha256``, a digest of its own fields.  Editing a record breaks its own digest and
the next record's link; removing one leaves a gap in the sequence numbers and a link to
nothing; inserting one adds a record that no link leads to.  ``verify`` (``_verify.py``)
walks every chain.  The last record of a finished run says ``final: true``, so a run whose
tail was cut off shows as still open.

On S3 with Object Lock, the records themselves cannot be deleted or replaced until their
retention ends, which also protects the tail of a chain.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot_core._types import Document, UtcDateTime, as_utc
from bot_core.audit._keys import parse_record_key, record_key, run_prefix, validate_name
from bot_core.audit._store import AuditStore, StoredObject, load_json
from bot_core.errors import AuditStoreError, InvalidInputError, StoreUnavailableError

__all__ = [
    "RECORD_SCHEMA",
    "AuditRecord",
    "AuditRun",
    "content_digest",
]

RECORD_SCHEMA: Literal["bot_core.audit.record/1"] = "bot_core.audit.record/1"


def content_digest(envelope: Mapping[str, Any]) -> str:
    """sha256 of the envelope's fields except ``content_sha256`` (compact, sorted JSON)."""
    fields = {name: value for name, value in envelope.items() if name != "content_sha256"}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


class AuditRecord(Document):
    """The envelope of one audit record, as stored (JSON schema in ``docs/audit.md``).

    ``document`` is the step's own JSON document (an overview, a plan, an approval...).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_: Literal["bot_core.audit.record/1"] = Field(default=RECORD_SCHEMA, alias="schema")
    key: str
    operation: str
    run_id: str
    sequence: int
    step: str
    recorded_at: UtcDateTime
    final: bool = False
    previous_sha256: str | None
    document: dict[str, Any]
    content_sha256: str

    def envelope(self) -> dict[str, Any]:
        """The JSON object as stored (``schema`` is the field's name on disk)."""
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> AuditRecord:
        """Parse stored bytes; :class:`AuditStoreError` says why they are not a record."""
        raw = load_json(data, where)
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            reason = " ".join(str(exc).split())
            raise AuditStoreError(f"{where} is not an audit record: {reason}") from exc


def _as_document(document: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(document, BaseModel):
        return document.model_dump(mode="json")
    body: dict[str, Any] = json.loads(json.dumps(dict(document), allow_nan=False, default=str))
    return body


class AuditRun:
    """The audit records of one run of an operation, written as a hash chain.

    **Parameters:**

    * ``store`` - an :class:`AuditStore` (local, S3 with spooling, in-memory).
    * ``operation`` - ``<operation-group>/<operation>``, e.g. ``"maintenance/purge"``.
    * ``run_id`` - the run's id (a Prefect flow run id): letters, digits, ``_.-``.
    * ``started_at`` - when the run started; it fixes the date in the keys, so pass the flow
      run's start time to continue the same chain after a retry in another process.
    * ``clock`` - returns "now" for ``recorded_at`` (tests pass a fixed clock).

    Example::

        run = AuditRun(store, "maintenance/purge", flow_run_id, started_at=start)
        run.record("overview", overview)             # 01-overview.json
        run.record("dry-run", plan)                  # 02-dry-run.json
        run.record("report", result, final=True)     # the run's last record
    """

    def __init__(
        self,
        store: AuditStore,
        operation: str,
        run_id: str,
        *,
        started_at: datetime | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self.store = store
        self.operation = operation
        self.run_id = validate_name(run_id, "run id")
        self.started_at = as_utc(started_at) if started_at is not None else self._clock()
        self.prefix = run_prefix(operation, self.started_at, run_id)
        self._lock = threading.Lock()
        self._loaded = False
        self._sequence = 0
        self._previous_sha256: str | None = None
        self._final = False
        self.records: list[StoredObject] = []

    @property
    def sequence(self) -> int:
        """The sequence number of the last record written (0 before the first)."""
        return self._sequence

    @property
    def head_sha256(self) -> str | None:
        """The sha256 of the last record's bytes: what the next record will link to."""
        return self._previous_sha256

    def _resume(self) -> None:
        """Continue an existing chain (a retried flow): find the run's last record."""
        self._loaded = True
        try:
            keys = self.store.list_keys(self.prefix)
        except StoreUnavailableError:
            # S3 is down: the spool (if any) holds whatever this run wrote meanwhile.
            spool = getattr(self.store, "spool", None)
            keys = spool.list_keys(self.prefix) if isinstance(spool, AuditStore) else []
        parsed = sorted(
            (p for p in map(parse_record_key, keys) if p is not None),
            key=lambda p: (p.sequence, p.key),
        )
        if not parsed:
            return
        last = parsed[-1]
        data = self.store.get_bytes(last.key)
        record = AuditRecord.from_bytes(data, self.store.describe(last.key))
        self._sequence = last.sequence
        self._previous_sha256 = hashlib.sha256(data).hexdigest()
        self._final = record.final

    def record(
        self,
        step: str,
        document: BaseModel | Mapping[str, Any],
        *,
        final: bool = False,
    ) -> StoredObject:
        """Write the next record of the chain (write-once) and return where it went.

        ``final`` marks the run's last record; nothing may be recorded after it.
        """
        validate_name(step, "step")
        body = _as_document(document)
        with self._lock:
            if not self._loaded:
                self._resume()
            if self._final:
                raise InvalidInputError(
                    f"audit run {self.prefix} is closed: its final record is written"
                )
            sequence = self._sequence + 1
            key = record_key(self.prefix, sequence, step)
            fields: dict[str, Any] = {
                "schema": RECORD_SCHEMA,
                "key": key,
                "operation": self.operation,
                "run_id": self.run_id,
                "sequence": sequence,
                "step": step,
                "recorded_at": as_utc(self._clock()).isoformat(),
                "final": final,
                "previous_sha256": self._previous_sha256,
                "document": body,
            }
            fields["content_sha256"] = content_digest(fields)
            stored = self.store.put_json(key, fields)
            self._sequence = sequence
            self._previous_sha256 = stored.sha256
            self._final = final
            self.records.append(stored)
            return stored
