"""Checking every record chain in a store, and listing runs.

Why a separate, read-only module: ``verify`` must say precisely which record was edited,
removed or inserted, so that an auditor can trust the rest.  It reads every record, checks
its own digest and its position, then walks each run's chain by sequence number and link.

What each issue means (``ChainIssue.kind``):

* ``edited`` - a record's content no longer matches its ``content_sha256``, or its bytes no
  longer match the ``previous_sha256`` that the next record holds, or it is not valid JSON;
* ``removed`` - sequence numbers are missing (the next record links to bytes that no record
  in the run has);
* ``inserted`` - a record that no link leads to: a second record with the same sequence
  number, a record after the run's ``final`` record, a record whose envelope names another
  key, or a key in the record area that is not shaped like a record key.

A run without a ``final`` record is ``open`` (still running, or its tail was cut off; on S3
with Object Lock the tail cannot be removed).  Records still waiting in the spool are
counted and listed per run.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from bot_core._types import Document, UtcDateTime
from bot_core.audit._keys import BACKUPS_PREFIX, RecordKey, parse_record_key
from bot_core.audit._records import AuditRecord, content_digest
from bot_core.audit._spool import SpoolingAuditStore
from bot_core.audit._store import AuditStore, load_json
from bot_core.errors import AuditStoreError

__all__ = [
    "AuditVerification",
    "ChainIssue",
    "RunSummary",
    "RunVerification",
    "list_runs",
    "verify_records",
]

IssueKind = Literal["edited", "removed", "inserted"]


class ChainIssue(Document):
    """One thing wrong with a chain: which record, and why."""

    kind: IssueKind
    key: str | None
    sequence: int | None
    detail: str


class RunVerification(Document):
    """The verdict on one run's chain."""

    operation: str
    date: str
    run_id: str
    prefix: str
    status: Literal["ok", "open", "failed"]
    final: bool
    record_count: int
    spooled_count: int
    head_sha256: str | None
    steps: list[str]
    spooled_keys: list[str] = Field(default_factory=list)
    issues: list[ChainIssue] = Field(default_factory=list)


class AuditVerification(Document):
    """What ``python -m bot_core.audit verify`` reports about the records."""

    store: str
    spool_directory: str | None
    prefix: str | None
    status: Literal["ok", "failed"]
    run_count: int
    record_count: int
    spooled_count: int
    open_run_count: int
    failed_run_count: int
    runs: list[RunVerification]
    stray_keys: list[ChainIssue] = Field(default_factory=list)


class RunSummary(Document):
    """One run in ``python -m bot_core.audit list``."""

    operation: str
    date: str
    run_id: str
    prefix: str
    record_count: int
    spooled_count: int
    steps: list[str]
    final: bool
    first_recorded_at: UtcDateTime | None
    last_recorded_at: UtcDateTime | None


@dataclass
class _Entry:
    parsed: RecordKey
    sha256: str
    record: AuditRecord | None
    digest_ok: bool


def _record_keys(
    store: AuditStore, prefix: str
) -> tuple[dict[str, list[RecordKey]], list[str], set[str]]:
    keys = store.list_keys(prefix)
    spooled = set(store.spooled_keys()) if isinstance(store, SpoolingAuditStore) else set()
    runs: dict[str, list[RecordKey]] = defaultdict(list)
    unparsed: list[str] = []
    groups: set[str] = set()
    for key in keys:
        if key.split("/", 1)[0] == BACKUPS_PREFIX:
            continue
        parsed = parse_record_key(key)
        if parsed is None:
            unparsed.append(key)
        else:
            runs[parsed.run_prefix].append(parsed)
            groups.add(key.split("/", 1)[0])
    # Only a key inside a record group (``maintenance/...``) can be an insertion into the
    # audit; other folders under the same root (the runbook keeps audit/champion_diffs,
    # audit/champion_promotions, audit/daily_archives there) belong to other tools.
    stray = [key for key in unparsed if key.split("/", 1)[0] in groups]
    return runs, stray, spooled


def _load(store: AuditStore, parsed: RecordKey, issues: list[ChainIssue]) -> _Entry:
    data = store.get_bytes(parsed.key)
    sha = hashlib.sha256(data).hexdigest()
    where = store.describe(parsed.key)
    try:
        raw = load_json(data, where)
        record = AuditRecord.from_bytes(data, where)
    except AuditStoreError as exc:
        issues.append(
            ChainIssue(
                kind="edited",
                key=parsed.key,
                sequence=parsed.sequence,
                detail=f"not a valid audit record: {exc}",
            )
        )
        return _Entry(parsed, sha, None, False)
    digest_ok = content_digest(raw) == record.content_sha256
    if not digest_ok:
        issues.append(
            ChainIssue(
                kind="edited",
                key=parsed.key,
                sequence=parsed.sequence,
                detail="its content does not match its content_sha256",
            )
        )
    expected = (parsed.key, parsed.operation, parsed.run_id, parsed.sequence, parsed.step)
    actual = (record.key, record.operation, record.run_id, record.sequence, record.step)
    if expected != actual:
        issues.append(
            ChainIssue(
                kind="inserted",
                key=parsed.key,
                sequence=parsed.sequence,
                detail=f"the record says it belongs at {record.key}",
            )
        )
    return _Entry(parsed, sha, record, digest_ok)


def _pick(candidates: list[_Entry], previous: _Entry | None, linked: set[str]) -> _Entry:
    """Of several records with one sequence number, the one the chain leads through."""

    def rank(entry: _Entry) -> tuple[int, int, str]:
        link_ok = entry.record is not None and entry.record.previous_sha256 == (
            previous.sha256 if previous else None
        )
        return (0 if entry.sha256 in linked else 1, 0 if link_ok else 1, entry.parsed.key)

    return min(candidates, key=rank)


def _walk(entries: list[_Entry], issues: list[ChainIssue]) -> _Entry | None:
    by_sequence: dict[int, list[_Entry]] = defaultdict(list)
    for entry in entries:
        by_sequence[entry.parsed.sequence].append(entry)
    linked = {e.record.previous_sha256 for e in entries if e.record and e.record.previous_sha256}
    chain: list[_Entry] = []
    previous: _Entry | None = None
    expected = 1
    for sequence in sorted(by_sequence):
        candidates = by_sequence[sequence]
        entry = _pick(candidates, previous, linked)
        for other in candidates:
            if other is not entry:
                issues.append(
                    ChainIssue(
                        kind="inserted",
                        key=other.parsed.key,
                        sequence=sequence,
                        detail=f"a second record numbered {sequence:02d}; "
                        "no record of the chain links to it",
                    )
                )
        gap = sequence > expected
        if gap:
            missing = ", ".join(f"{n:02d}" for n in range(expected, sequence))
            issues.append(
                ChainIssue(
                    kind="removed",
                    key=None,
                    sequence=expected,
                    detail=f"record(s) {missing} missing before {entry.parsed.key}",
                )
            )
        if previous is not None and previous.record is not None and previous.record.final:
            issues.append(
                ChainIssue(
                    kind="inserted",
                    key=entry.parsed.key,
                    sequence=sequence,
                    detail="recorded after the run's final record",
                )
            )
        link = entry.record.previous_sha256 if entry.record else None
        wanted = previous.sha256 if previous else None
        if entry.record is not None and link != wanted and not gap:
            earlier = [e for e in chain[:-1] if e.sha256 == link]
            if previous is not None and not previous.digest_ok:
                pass  # the edit of ``previous`` is already reported
            elif earlier:
                start = chain.index(earlier[-1]) + 1
                for between in chain[start:]:
                    issues.append(
                        ChainIssue(
                            kind="inserted",
                            key=between.parsed.key,
                            sequence=between.parsed.sequence,
                            detail=f"{entry.parsed.key} links past it to {earlier[-1].parsed.key}",
                        )
                    )
            elif previous is None:
                issues.append(
                    ChainIssue(
                        kind="edited",
                        key=entry.parsed.key,
                        sequence=sequence,
                        detail="the first record links to a previous record",
                    )
                )
            else:
                issues.append(
                    ChainIssue(
                        kind="edited",
                        key=previous.parsed.key,
                        sequence=previous.parsed.sequence,
                        detail="its bytes no longer match the previous_sha256 "
                        f"stored in {entry.parsed.key}",
                    )
                )
        chain.append(entry)
        previous = entry
        expected = sequence + 1
    return previous


def verify_records(store: AuditStore, *, prefix: str = "") -> AuditVerification:
    """Check every run's chain below ``prefix`` (all runs for ``""``)."""
    runs, stray, spooled = _record_keys(store, prefix)
    results: list[RunVerification] = []
    for run_key in sorted(runs):
        parsed_keys = sorted(runs[run_key], key=lambda p: (p.sequence, p.key))
        issues: list[ChainIssue] = []
        entries = [_load(store, parsed, issues) for parsed in parsed_keys]
        head = _walk(entries, issues)
        final = bool(head and head.record and head.record.final)
        first = parsed_keys[0]
        run_spooled = [p.key for p in parsed_keys if p.key in spooled]
        issues.sort(key=lambda i: (i.sequence or 0, i.key or "", i.kind))
        results.append(
            RunVerification(
                operation=first.operation,
                date=first.date,
                run_id=first.run_id,
                prefix=run_key,
                status="failed" if issues else ("ok" if final else "open"),
                final=final,
                record_count=len(entries),
                spooled_count=len(run_spooled),
                head_sha256=head.sha256 if head else None,
                steps=[p.step for p in parsed_keys],
                spooled_keys=run_spooled,
                issues=issues,
            )
        )
    stray_issues = [
        ChainIssue(
            kind="inserted",
            key=key,
            sequence=None,
            detail="not shaped like a record key "
            "(<group>/<operation>/YYYY/MM/DD/<run-id>/NN-<step>.json)",
        )
        for key in stray
    ]
    failed = sum(run.status == "failed" for run in results)
    return AuditVerification(
        store=store.location,
        spool_directory=store.spool.location if isinstance(store, SpoolingAuditStore) else None,
        prefix=prefix or None,
        status="failed" if failed or stray_issues else "ok",
        run_count=len(results),
        record_count=sum(run.record_count for run in results),
        spooled_count=sum(run.spooled_count for run in results),
        open_run_count=sum(run.status == "open" for run in results),
        failed_run_count=failed,
        runs=results,
        stray_keys=stray_issues,
    )


def list_runs(store: AuditStore, *, prefix: str = "") -> list[RunSummary]:
    """Every run below ``prefix`` with its steps, newest date first (reads two records each)."""
    runs, _stray, spooled = _record_keys(store, prefix)
    summaries: list[RunSummary] = []
    for run_key, parsed in runs.items():
        parsed.sort(key=lambda p: (p.sequence, p.key))
        first_at = last_at = None
        final = False
        try:
            first = AuditRecord.from_bytes(store.get_bytes(parsed[0].key), parsed[0].key)
            last = AuditRecord.from_bytes(store.get_bytes(parsed[-1].key), parsed[-1].key)
            first_at, last_at, final = first.recorded_at, last.recorded_at, last.final
        except AuditStoreError:
            pass  # unreadable records are verify's business; list what the keys say
        summaries.append(
            RunSummary(
                operation=parsed[0].operation,
                date=parsed[0].date,
                run_id=parsed[0].run_id,
                prefix=run_key,
                record_count=len(parsed),
                spooled_count=sum(p.key in spooled for p in parsed),
                steps=[p.step for p in parsed],
                final=final,
                first_recorded_at=first_at,
                last_recorded_at=last_at,
            )
        )
    summaries.sort(key=lambda s: (s.date, s.prefix), reverse=True)
    return summaries
