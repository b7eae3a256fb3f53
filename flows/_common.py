"""What every maintenance flow shares: its audit run, its report, the operations log, and
the Prometheus metrics pushed at the end of every run.

Kept apart from the flows so each flow body reads as the chain and nothing more.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Literal

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext

from bot_core._types import Document, UtcDateTime
from bot_core.audit import AuditRun, AuditStore, load_settings, open_backup_store, open_store
from bot_core.errors import BotCoreError
from bot_core.metrics import (
    DEFAULT_WINDOW,
    ActedOn,
    GuardrailShare,
    MaintenanceOperation,
    MaintenanceRun,
    PushReceipt,
    guardrail_share,
    load_metrics_settings,
    record_maintenance_run,
)

__all__ = [
    "DEFAULT_CONCURRENCY_LIMIT",
    "DEFAULT_OPERATIONS_LOG",
    "ActedOn",
    "FlowOutcome",
    "RunContext",
    "announce_outcome",
    "append_operations_log",
    "best_effort_push",
    "current_run",
    "destructive_section",
    "ensure_concurrency_limit",
    "promotion_guardrail_share",
    "publish_report",
    "push_outcome_metrics",
]

DEFAULT_OPERATIONS_LOG = "docs/audit/paper_trading_log.md"
"""The runbook's operations log (relative to the working directory)."""

DEFAULT_CONCURRENCY_LIMIT = "bot-core-maintenance"
"""The Prefect global concurrency limit held around backup and execution (create it with
limit 1; ``strict`` makes a run fail rather than proceed when it does not exist)."""

FlowOutcome = Literal[
    "empty", "completed", "partial_failure", "error", "rejected", "refused", "timed_out"
]
"""How a run ended: ``empty`` (nothing to do), the execution's status, or why nothing ran."""


class RunContext:
    """The Prefect flow run's id and start, and the audit stores this run writes to."""

    def __init__(self, operation: str, audit_url: str | None) -> None:
        context = FlowRunContext.get()
        if context is None or context.flow_run is None:
            raise RuntimeError("a maintenance flow must run inside a Prefect flow run")
        self.flow_run_id = str(context.flow_run.id)
        started = context.flow_run.start_time or datetime.now(UTC)
        settings = load_settings(url=audit_url)
        self.store: AuditStore = open_store(settings)
        self.backup_store: AuditStore = open_backup_store(settings)
        self.store_name = settings.url
        self.audit = AuditRun(
            store=self.store, operation=operation, run_id=self.flow_run_id, started_at=started
        )


def current_run(operation: str, audit_url: str | None) -> RunContext:
    """The audit context of the flow run being executed."""
    return RunContext(operation, audit_url)


@contextlib.contextmanager
def destructive_section(limit_name: str | None, *, timeout_seconds: float) -> Iterator[None]:
    """Hold the global concurrency limit (strict) around backup and execution.

    ``None`` disables it (a one-off local run without a server-side limit).  The executors
    also take an exclusive file lock on the base directory, so two purges of one tree never
    delete at once even across Prefect servers.
    """
    if limit_name is None:
        yield
        return
    with concurrency(limit_name, occupy=1, strict=True, timeout_seconds=timeout_seconds):
        yield


def append_operations_log(path: str, line: str) -> None:
    """Append one line to the operations log, creating the file and its directory."""
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line.rstrip("\n") + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def publish_report(key: str, markdown: str, description: str) -> None:
    """The run's report as a Prefect markdown artifact (``key``: lower case and dashes)."""
    create_markdown_artifact(markdown=markdown, key=key, description=description)


class OperationsLine(Document):
    """The facts of one operations-log line (written as text, kept here for typing)."""

    at: UtcDateTime
    operation: str
    flow_run_id: str
    outcome: FlowOutcome
    approver: str | None
    plan_sha256: str | None
    detail: str

    def render(self) -> str:
        approver = self.approver or "-"
        plan = (self.plan_sha256 or "-")[:16]
        return (
            f"- {self.at.isoformat()} {self.operation} run={self.flow_run_id} "
            f"outcome={self.outcome} approver={approver!r} plan={plan} {self.detail}"
        )


def announce_outcome(
    operation: MaintenanceOperation,
    flow_run_id: str,
    outcome: FlowOutcome,
    message: str,
    *,
    approver: str | None,
    plan_sha256: str | None,
    markdown: str,
    operations_log: str,
    acted: Sequence[ActedOn] = (),
    approval_wait_seconds: float | None = None,
) -> None:
    """The report step's side effects shared by every flow: the markdown artifact
    ``maintenance-<operation>-report``, one line in the operations log, and the run's
    metrics on the Pushgateway (``acted``: what the run did to its targets)."""
    publish_report(f"maintenance-{operation}-report", markdown, f"{operation} {outcome}")
    append_operations_log(
        operations_log,
        OperationsLine(
            at=datetime.now(UTC),
            operation=operation,
            flow_run_id=flow_run_id,
            outcome=outcome,
            approver=approver,
            plan_sha256=plan_sha256,
            detail=message,
        ).render(),
    )
    push_outcome_metrics(
        operation, outcome, acted=acted, approval_wait_seconds=approval_wait_seconds
    )


def best_effort_push(what: str, push: Callable[[], PushReceipt | None]) -> PushReceipt | None:
    """Run ``push``; a failure (Pushgateway down, timeout, bad setting) is a warning.

    Why: metrics describe a run, they are not part of it; the run already happened, and its
    outcome and audit records must not depend on a monitoring server.
    """
    try:
        return push()
    except BotCoreError as exc:
        get_run_logger().warning("%s metrics not pushed: %s", what, exc)
        return None


def push_outcome_metrics(
    operation: MaintenanceOperation,
    outcome: FlowOutcome,
    *,
    acted: Sequence[ActedOn] = (),
    approval_wait_seconds: float | None = None,
) -> PushReceipt | None:
    """Push ``bot_core_maintenance_*`` for one finished run (best effort; ``None`` when no
    Pushgateway is configured or the push failed)."""
    run = MaintenanceRun(
        operation=operation,
        outcome=outcome,
        acted=list(acted),
        approval_wait_seconds=approval_wait_seconds,
        finished_at=datetime.now(UTC),
    )
    return best_effort_push(operation, lambda: record_maintenance_run(run))


def promotion_guardrail_share(model: str, prometheus_url: str | None) -> GuardrailShare:
    """The stage7 share for the promotion approval; a bad URL becomes "unavailable"."""
    try:
        settings = load_metrics_settings(prometheus_url=prometheus_url)
    except BotCoreError as exc:
        return GuardrailShare(
            status="unavailable",
            model=model,
            window=DEFAULT_WINDOW,
            reason=str(exc),
            measured_at=datetime.now(UTC),
        )
    return guardrail_share(settings, model=model)


def ensure_concurrency_limit(name: str) -> None:
    """Create the global concurrency limit ``name`` (limit 1) unless it exists.

    The flows hold it with ``strict=True``; the command line creates it on first use so an
    ad-hoc run against a fresh server does not fail for want of it.
    """
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
