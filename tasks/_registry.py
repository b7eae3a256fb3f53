"""Prefect tasks over ``bot_core.registry``: read the registry, plan and commit a promotion.

Reads retry; the promotion never does: it is a compare-and-swap on the expected champion,
and a second attempt after an unclear failure must be a new, re-approved run.
"""

from __future__ import annotations

from datetime import datetime

from bot_core import registry
from bot_core.audit import VerifiedBackup
from bot_core.registry import ChampionListing, PromoteResult, PromotionPlan
from tasks._task import maintenance_task

__all__ = ["list_champions", "plan_promotion", "promote"]


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def list_champions(quality_dir: str, model: str) -> ChampionListing:
    """The model's champion and challengers, as ``champion --model M`` shows them."""
    return registry.list_champions(quality_dir, model=[model])


@maintenance_task(retries=2, retry_delay_seconds=[1, 5])
def plan_promotion(
    quality_dir: str,
    *,
    model: str,
    version: str,
    reason: str | None,
    approver: str,
    decided_at: datetime,
) -> PromotionPlan:
    """Decide the promotion from one reading of the registry (nothing is written)."""
    state = registry.load_registry(quality_dir, model)
    return registry.plan_promotion(
        state, version=version, reason=reason, approver=approver, decided_at=decided_at
    )


@maintenance_task()
def promote(
    quality_dir: str,
    plan: PromotionPlan,
    backup: VerifiedBackup,
    *,
    reason: str,
    approver: str,
    audit_dir: str,
    log_path: str,
) -> PromoteResult:
    """Commit exactly the planned promotion, compare-and-swap on the planned champion.

    ``backup`` (of the registry files) is the permission to write; no retries.
    """
    del backup  # required by the signature: no verified backup, no promotion
    return registry.promote(
        quality_dir,
        model=plan.model_name,
        version=plan.version,
        reason=reason,
        approver=approver,
        audit_dir=audit_dir,
        log_path=log_path,
        expect_champion=plan.previous_version,
    )
