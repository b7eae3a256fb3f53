"""Promotion of a challenger to champion: a pure plan, then one locked, journaled commit.

``plan_promotion`` decides everything from one reading of the registry (what ``--dry-run``
prints).  ``promote`` reads the registry again under the exclusive lock, re-plans (so the
compare-and-swap of ``expect_champion`` holds up to the commit), and commits
``champion.json``, ``challengers.json``, the history line, the audit entry and the log line
as one transaction (see :mod:`bot_core.registry._store`).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from bot_core._fs import display_path
from bot_core._types import as_utc
from bot_core.errors import (
    ChampionMismatchError,
    InvalidInputError,
    OperationError,
    UnknownVersionError,
)
from bot_core.registry._config import DEFAULT_AUDIT_DIR, DEFAULT_LOG_PATH, DEFAULT_QUALITY_DIR
from bot_core.registry._models import (
    MAX_CHALLENGERS,
    AuditEntry,
    ChallengerEntry,
    ChallengersFile,
    ChampionFile,
    HistoryEntry,
    JournalAudit,
    JournalLog,
    PromoteResult,
    PromotionPlan,
    PromotionSummary,
)
from bot_core.registry._names import validate_name
from bot_core.registry._rules import metric_deltas
from bot_core.registry._store import (
    CHALLENGERS_FILE,
    CHAMPION_FILE,
    HISTORY_FILE,
    RegistryState,
    commit_registry,
    load_registry,
    model_directory,
    read_history,
    read_state,
    registry_lock,
    repair_locked,
    transaction_id,
)

__all__ = ["audit_timestamp", "plan_promotion", "promote"]


def audit_timestamp(moment: datetime) -> str:
    """``YYYYMMDDTHHMMSS`` in UTC, as audit entry and snapshot names use it."""
    return as_utc(moment).strftime("%Y%m%dT%H%M%S")


def _clean_text(value: str | None, *, what: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise InvalidInputError(f"{what} must not be blank")
    return text


def plan_promotion(
    state: RegistryState,
    *,
    version: str,
    reason: str | None,
    approver: str,
    decided_at: datetime,
    expect_champion: str | None = None,
) -> PromotionPlan:
    """Decide a promotion: the challenger ``version`` becomes champion.

    The old champion becomes the first challenger, with a reason naming its successor.
    Raises :class:`ChampionMismatchError` when ``expect_champion`` is given and the champion is
    another version (or there is none), :class:`UnknownVersionError` when no challenger has
    ``version``, and :class:`InvalidInputError` when ``version`` is already the champion.
    """
    model = state.model_name
    champion = state.champion
    current = champion.report.version if champion is not None else None
    if expect_champion is not None and current != expect_champion:
        found = f"is {current!r}" if current is not None else "does not exist"
        raise ChampionMismatchError(
            f"the champion of {model!r} {found}, not {expect_champion!r} as expected; "
            "nothing was changed"
        )
    if current == version:
        raise InvalidInputError(f"{version!r} is already the champion of {model!r}")
    entries = list(state.challengers.entries) if state.challengers is not None else []
    chosen = next((entry for entry in entries if entry.report.version == version), None)
    if chosen is None:
        known = ", ".join(entry.report.version for entry in entries) or "none"
        raise UnknownVersionError(
            f"no challenger of {model!r} has version {version!r} (challengers: {known})"
        )
    decided_at = as_utc(decided_at)
    text = reason or ""
    remaining = [entry for entry in entries if entry is not chosen]
    if champion is not None:
        demoted_reason = f"replaced as champion by {version}"
        demoted = ChallengerEntry(
            decided_at=decided_at,
            reason=f"{demoted_reason}: {text}" if text else demoted_reason,
            report=champion.report,
        )
        remaining.insert(0, demoted)
    return PromotionPlan(
        model_name=model,
        version=version,
        previous_version=current,
        decided_at=decided_at,
        decided_by=approver,
        reason=reason,
        previous_champion=champion.report if champion is not None else None,
        candidate=chosen.report,
        champion=ChampionFile(
            model_name=model, decided_at=decided_at, reason=text, report=chosen.report
        ),
        challengers=ChallengersFile(
            model_name=model, updated_at=decided_at, entries=remaining[:MAX_CHALLENGERS]
        ),
        metrics_delta=metric_deltas(
            champion.report.metrics if champion is not None else {}, chosen.report.metrics
        ),
    )


def _summary(plan: PromotionPlan, txid: str) -> PromotionSummary:
    return PromotionSummary(
        status="promoted",
        model_name=plan.model_name,
        version=plan.version,
        decided_at=plan.decided_at,
        reason=plan.reason or "",
        previous_champion=plan.previous_champion,
        candidate=plan.candidate,
        challengers=plan.challengers.entries,
        previous_version=plan.previous_version,
        decided_by=plan.decided_by,
        metrics_delta=plan.metrics_delta,
        transaction_id=txid,
    )


def _log_line(plan: PromotionPlan) -> str:
    reason = json.dumps(plan.reason or "", ensure_ascii=False)
    return (
        f"{plan.decided_at.isoformat()} champion_promoted model={plan.model_name} "
        f"from={plan.previous_version or '-'} to={plan.version} "
        f"by={json.dumps(plan.decided_by, ensure_ascii=False)} reason={reason}"
    )


def promote(
    quality_dir: str | os.PathLike[str] = DEFAULT_QUALITY_DIR,
    *,
    model: str,
    version: str,
    reason: str | None,
    approver: str,
    audit_dir: str | os.PathLike[str] = DEFAULT_AUDIT_DIR,
    log_path: str | os.PathLike[str] = DEFAULT_LOG_PATH,
    expect_champion: str | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PromoteResult:
    """Make the challenger ``version`` of ``model`` its champion (contract 7, ``promote``).

    **Parameters:**

    * ``reason`` - why; required (not blank) unless ``dry_run``.  Recorded in
      ``champion.json``, the history, the audit entry and the log line.
    * ``approver`` - who decided; recorded in the history and the audit entry.
    * ``expect_champion`` - compare-and-swap: refuse unless the current champion is this
      version (checked again under the lock, just before the commit).
    * ``dry_run`` - plan only: the result shows what would change, and nothing is written
      (an interrupted earlier commit is reported as ``pending_repair``, not completed).
    * ``now`` - the decision time; the current time when ``None``.

    Every refusal happens before anything is written.
    """
    validate_name(model, kind="model name")
    validate_name(version, kind="version")
    if expect_champion is not None:
        validate_name(expect_champion, kind="version")
    reason = _clean_text(reason, what="--reason")
    if reason is None and not dry_run:
        raise InvalidInputError(
            "a reason is required to promote (--reason); it is recorded in champion.json, "
            "the history and the audit entry"
        )
    approver_name = _clean_text(approver, what="the approver") or ""
    decided_at = as_utc(now) if now is not None else datetime.now(UTC)
    audit_root = Path(os.path.abspath(audit_dir))
    log_file = Path(os.path.abspath(log_path))

    if dry_run:
        state = load_registry(quality_dir, model, repair=False)
        plan = plan_promotion(
            state,
            version=version,
            reason=reason,
            approver=approver_name,
            decided_at=decided_at,
            expect_champion=expect_champion,
        )
        txid = transaction_id(plan.champion, plan.challengers)
        return _result(
            plan, state, audit_root, log_file, txid, dry_run=True, expect=expect_champion
        )

    directory = model_directory(quality_dir, model)
    with registry_lock(directory, exclusive=True):
        repaired = repair_locked(directory)
        state = read_state(directory, model)
        read_history(directory)  # a corrupt history is refused before anything is written
        plan = plan_promotion(
            state,
            version=version,
            reason=reason,
            approver=approver_name,
            decided_at=decided_at,
            expect_champion=expect_champion,
        )
        txid = transaction_id(plan.champion, plan.challengers)
        entry_dir = _entry_directory(audit_root, plan)
        if entry_dir.exists() or entry_dir.is_symlink():
            raise OperationError(
                f"audit entry {display_path(str(entry_dir))} already exists; "
                "promote again in a second"
            )
        history = HistoryEntry(
            model_name=model,
            decided_at=plan.decided_at,
            action="promote",
            decided_by=plan.decided_by,
            reason=reason or "",
            from_version=plan.previous_version,
            to_version=plan.version,
            from_metrics=plan.previous_champion.metrics if plan.previous_champion else None,
            to_metrics=plan.candidate.metrics,
            audit_directory=str(entry_dir),
            transaction_id=txid,
        )
        commit_registry(
            directory,
            champion=plan.champion,
            challengers=plan.challengers,
            started_at=decided_at,
            history=history,
            audit=JournalAudit(directory=str(entry_dir), summary=_summary(plan, txid)),
            log=JournalLog(path=str(log_file), line=_log_line(plan)),
        )
    state = RegistryState(
        model_name=model,
        directory=directory,
        champion=plan.champion,
        challengers=plan.challengers,
        repaired=repaired,
    )
    return _result(plan, state, audit_root, log_file, txid, dry_run=False, expect=expect_champion)


def _entry_directory(audit_root: Path, plan: PromotionPlan) -> Path:
    return audit_root / plan.model_name / f"{audit_timestamp(plan.decided_at)}_{plan.version}"


def _result(
    plan: PromotionPlan,
    state: RegistryState,
    audit_root: Path,
    log_file: Path,
    txid: str,
    *,
    dry_run: bool,
    expect: str | None,
) -> PromoteResult:
    entry_dir = _entry_directory(audit_root, plan)
    return PromoteResult(
        status="preview" if dry_run else "ok",
        model=plan.model_name,
        version=plan.version,
        reason=plan.reason,
        champion_path=display_path(str(state.directory / CHAMPION_FILE)),
        challengers_path=display_path(str(state.directory / CHALLENGERS_FILE)),
        audit_directory=display_path(str(entry_dir)),
        audit_entry=AuditEntry(
            relative_path=f"{plan.model_name}/{entry_dir.name}",
            category=plan.model_name,
            display_name=f"{plan.model_name}/{entry_dir.name}",
            summary_path=display_path(str(entry_dir / "summary.json")),
            summary=_summary(plan, txid),
            absolute_path=display_path(str(entry_dir / "summary.json")),
            updated_at=plan.decided_at,
            created_at=plan.decided_at,
        ),
        previous_version=plan.previous_version,
        expect_champion=expect,
        metrics_delta=plan.metrics_delta,
        history_path=display_path(str(state.directory / HISTORY_FILE)),
        log_path=display_path(str(log_file)),
        dry_run=True if dry_run else None,
        repaired=True if state.repaired else None,
        pending_repair=True if state.pending_repair else None,
    )
