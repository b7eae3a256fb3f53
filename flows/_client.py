"""The second operator's side of the approval: list paused runs, approve or reject one.

Used by ``python -m flows pending|approve|reject`` and by the tests, through the Prefect API
only (``PREFECT_API_URL``): the flow run may be running anywhere.
"""

from __future__ import annotations

import time
from typing import Literal
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound
from prefect.flow_runs import resume_flow_run
from prefect.input import read_flow_run_input
from prefect.input.run_input import keyset_from_paused_state
from prefect.settings import PREFECT_API_URL

from bot_core._types import Document
from bot_core.errors import InvalidInputError, OperationError
from flows._approval import PLAN_INPUT_KEY, Approval, CapName, PlanSummary

__all__ = [
    "PendingRun",
    "PendingRuns",
    "ResumeResult",
    "decide",
    "pending_runs",
    "plan_of",
    "require_reachable_api",
]


class PendingRun(Document):
    """One paused run waiting for a decision, with its plan summary."""

    flow_run_id: str
    name: str
    paused_since: str | None
    plan: PlanSummary


class PendingRuns(Document):
    """The output of ``python -m flows pending``."""

    runs: list[PendingRun]


class ResumeResult(Document):
    """The output of ``approve``/``reject``: what was sent to which run."""

    flow_run_id: str
    decision: Literal["approve", "reject"]
    approver: str
    reason: str
    plan_sha256: str
    overrides: list[CapName]


def require_reachable_api() -> None:
    """Refuse to start when ``PREFECT_API_URL`` names a server that does not answer.

    Why: otherwise the first API call deep inside Prefect fails with a connection traceback;
    an operator should read one line saying which server is down, before anything ran.
    Without ``PREFECT_API_URL`` Prefect starts a temporary local server, nothing to check.
    """
    url = PREFECT_API_URL.value()
    if not url:
        return
    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        reason = str(problem) or type(problem).__name__
        raise OperationError(f"the Prefect API at {url} does not answer: {reason}")


def pending_runs() -> PendingRuns:
    """Every paused run that published a plan summary, oldest first."""
    found: list[PendingRun] = []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
            )
        )
        for run in runs:
            value = read_flow_run_input(PLAN_INPUT_KEY, flow_run_id=run.id)
            if value is None:
                continue
            found.append(
                PendingRun(
                    flow_run_id=str(run.id),
                    name=run.name,
                    paused_since=run.state.timestamp.isoformat() if run.state else None,
                    plan=PlanSummary.model_validate(value),
                )
            )
    found.sort(key=lambda item: item.paused_since or "")
    return PendingRuns(runs=found)


def _run_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidInputError(f"not a flow run id: {text!r}") from None


def plan_of(flow_run_id: str, *, wait_seconds: float = 10) -> PlanSummary:
    """The plan summary of a paused run whose approval form is ready.

    Waits briefly: the run publishes its form just after entering the Paused state.
    """
    run_id = _run_id(flow_run_id)
    deadline = time.monotonic() + wait_seconds
    with get_client(sync_client=True) as client:
        while True:
            try:
                run = client.read_flow_run(run_id)
            except ObjectNotFound:
                raise InvalidInputError(f"no flow run {flow_run_id}") from None
            if run.state is not None and run.state.is_paused():
                schema = read_flow_run_input(
                    keyset_from_paused_state(run.state)["schema"], flow_run_id=run_id
                )
                value = read_flow_run_input(PLAN_INPUT_KEY, flow_run_id=run_id)
                if schema is not None and value is not None:
                    return PlanSummary.model_validate(value)
            if time.monotonic() >= deadline:
                state = run.state.name if run.state else "unknown"
                raise InvalidInputError(
                    f"flow run {flow_run_id} is not waiting for an approval (state {state})"
                )
            time.sleep(0.25)


def decide(
    flow_run_id: str,
    *,
    decision: Literal["approve", "reject"],
    approver: str,
    reason: str,
    overrides: list[CapName] | None = None,
    plan_sha256: str | None = None,
) -> ResumeResult:
    """Resume a paused run with an :class:`Approval` bound to its published plan sha256.

    ``plan_sha256`` defaults to the one the run published; passing another one is how an
    operator approves only the plan they reviewed (the flow refuses a mismatch).
    """
    summary = plan_of(flow_run_id)
    chosen = set(overrides or [])
    answer = Approval(
        decision=decision,
        approver=approver,
        reason=reason,
        plan_sha256=plan_sha256 or summary.plan_sha256,
        override_max_targets="max_targets" in chosen,
        override_max_bytes="max_bytes" in chosen,
        override_keep_newest_per_category="keep_newest_per_category" in chosen,
    )
    resume_flow_run(_run_id(flow_run_id), run_input=answer.model_dump(mode="json"))
    return ResumeResult(
        flow_run_id=flow_run_id,
        decision=decision,
        approver=approver,
        reason=reason,
        plan_sha256=answer.plan_sha256,
        overrides=sorted(chosen),
    )
