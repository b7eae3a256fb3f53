"""The outcome metrics of one maintenance flow run (purge, archive, promote, restore).

Why a document and a pure builder: the flows hand over plain facts (:class:`MaintenanceRun`)
and :func:`maintenance_updates` turns them into the families to push, so the rules (which
series exist, which gauge moves when) are tested without a Pushgateway.  Series the flow did
not act on are pushed as "+0", so every outcome and action exists from the first run and
``increase()`` sees the first real increment.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from bot_core._types import Document, UtcDateTime
from bot_core.metrics._names import (
    MAINTENANCE_APPROVAL_WAIT,
    MAINTENANCE_BYTES,
    MAINTENANCE_JOB,
    MAINTENANCE_LAST_RUN,
    MAINTENANCE_LAST_SUCCESS,
    MAINTENANCE_RUNS,
    MAINTENANCE_TARGETS,
    OUTCOMES,
    SUCCESS_OUTCOMES,
    MaintenanceAction,
    MaintenanceOperation,
    MaintenanceOutcome,
)
from bot_core.metrics._pushgateway import FamilyUpdate, PushReceipt, Series, push_updates
from bot_core.metrics._settings import MetricsSettings, load_metrics_settings

__all__ = [
    "ACTIONS",
    "ActedOn",
    "MaintenanceRun",
    "maintenance_updates",
    "record_maintenance_run",
]

ACTIONS: dict[MaintenanceOperation, tuple[MaintenanceAction, ...]] = {
    "purge": ("removed",),
    "archive": ("archived", "removed"),
    "restore": ("restored",),
    "promote": ("promoted",),
}
"""The actions each operation counts (archive removes sources with ``delete_after``)."""

_WITHOUT_BYTES: frozenset[MaintenanceAction] = frozenset({"promoted"})
"""A promotion moves a pointer, not bytes: it has no ``bytes_total`` series."""


class ActedOn(Document):
    """What a run did to its targets for one action: how many, and how many bytes."""

    action: MaintenanceAction
    targets: int = Field(ge=0)
    bytes: int = Field(default=0, ge=0)


class MaintenanceRun(Document):
    """The facts of one finished run that its metrics are built from.

    ``approval_wait_seconds`` is ``None`` when the run never reached the approval (an empty
    plan): the gauge then keeps the previous run's value.
    """

    operation: MaintenanceOperation
    outcome: MaintenanceOutcome
    acted: list[ActedOn] = Field(default_factory=list)
    approval_wait_seconds: float | None = Field(default=None, ge=0)
    finished_at: UtcDateTime


def maintenance_updates(run: MaintenanceRun) -> list[FamilyUpdate]:
    """The families one run pushes to group ``{operation}`` of job ``bot_core_maintenance``.

    ``last_success`` is only sent for ``completed``/``empty``, so after a failed run the
    Pushgateway (``pushadd``) keeps the last success; ``approval_wait`` only when the run
    reached the approval.
    """
    op = run.operation
    stamp = run.finished_at.timestamp()
    acted = {item.action: item for item in run.acted}
    actions = ACTIONS[op]
    updates = [
        FamilyUpdate(
            name=MAINTENANCE_RUNS,
            type="counter",
            help="Maintenance flow runs by outcome.",
            series=[
                Series(
                    labels={"operation": op, "outcome": outcome},
                    value=1.0 if outcome == run.outcome else 0.0,
                )
                for outcome in OUTCOMES
            ],
        ),
        FamilyUpdate(
            name=MAINTENANCE_TARGETS,
            type="counter",
            help="Targets a maintenance flow acted on (removed, archived, restored, promoted).",
            series=[
                Series(
                    labels={"operation": op, "action": action},
                    value=float(acted[action].targets if action in acted else 0),
                )
                for action in actions
            ],
        ),
    ]
    with_bytes = [action for action in actions if action not in _WITHOUT_BYTES]
    if with_bytes:
        updates.append(
            FamilyUpdate(
                name=MAINTENANCE_BYTES,
                type="counter",
                help="Bytes a maintenance flow removed, archived or restored.",
                series=[
                    Series(
                        labels={"operation": op, "action": action},
                        value=float(acted[action].bytes if action in acted else 0),
                    )
                    for action in with_bytes
                ],
            )
        )
    if run.approval_wait_seconds is not None:
        updates.append(
            _gauge(
                MAINTENANCE_APPROVAL_WAIT,
                "Seconds the last run waited for its approval decision (0: approved by policy).",
                op,
                run.approval_wait_seconds,
            )
        )
    updates.append(
        _gauge(MAINTENANCE_LAST_RUN, "Unix time the last run of the flow ended.", op, stamp)
    )
    if run.outcome in SUCCESS_OUTCOMES:
        updates.append(
            _gauge(
                MAINTENANCE_LAST_SUCCESS,
                "Unix time the last run of the flow ended completed or empty.",
                op,
                stamp,
            )
        )
    return updates


def _gauge(name: str, help: str, operation: str, value: float) -> FamilyUpdate:
    return FamilyUpdate(
        name=name,
        type="gauge",
        help=help,
        series=[Series(labels={"operation": operation}, value=value)],
    )


def record_maintenance_run(
    run: MaintenanceRun, *, settings: MetricsSettings | None = None
) -> PushReceipt | None:
    """Push the run's metrics; ``None`` when no Pushgateway is configured.

    Raises :class:`MetricsUnavailableError` when the Pushgateway fails and
    :class:`MetricsConfigError` for a malformed setting; callers in flows log and go on.
    """
    settings = settings or load_metrics_settings()
    if settings.pushgateway_url is None:
        return None
    return push_updates(
        settings.pushgateway_url,
        MAINTENANCE_JOB,
        {"operation": run.operation},
        maintenance_updates(run),
        timeout=settings.metrics_timeout_seconds,
        now=datetime.now(UTC),
    )
