"""``champion_diff``: compare the champions of two registry roots (contract 7, runbook 9.1).

Read-only on both roots: an interrupted commit is shown as it will be completed and marked
``pending_repair``; a missing root, model or champion, or a corrupt file, is reported on its
side (``exists: false`` and ``error``) rather than failing the comparison.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot_core._fs import display_path
from bot_core._types import as_utc
from bot_core.errors import BotCoreError
from bot_core.registry._config import DEFAULT_DIFF_DIR
from bot_core.registry._listing import model_names
from bot_core.registry._models import (
    ChampionDiffReport,
    ChampionDiffResult,
    DecisionMetadata,
    DiffComparison,
    DiffDifferences,
    DiffSide,
    ValueChange,
)
from bot_core.registry._names import validate_name
from bot_core.registry._promote import audit_timestamp
from bot_core.registry._rules import flatten, metric_deltas, value_changes
from bot_core.registry._store import (
    CHAMPION_FILE,
    create_new_file,
    dump_document,
    load_registry,
)

__all__ = ["compare_registries", "diff_side", "write_champion_diff"]


def _absent(error: str) -> DiffSide:
    return DiffSide(
        exists=False,
        metadata=None,
        status=None,
        metrics={},
        parameters={},
        version=None,
        error=error,
    )


def diff_side(root: Path, model: str) -> DiffSide:
    """What one root says about ``model``'s champion (never raises for a bad registry)."""
    if not root.is_dir():
        return _absent(f"registry directory not found: {display_path(str(root))}")
    if not (root / model).is_dir():
        return _absent(f"model {model!r} not found in {display_path(str(root))}")
    try:
        state = load_registry(root, model, repair=False)
    except BotCoreError as exc:
        side = _absent(str(exc))
        return side.model_copy(update={"exists": (root / model / CHAMPION_FILE).exists()})
    champion = state.champion
    if champion is None:
        return _absent(f"{CHAMPION_FILE} not found for model {model!r}")
    return DiffSide(
        exists=True,
        metadata=DecisionMetadata(decided_at=champion.decided_at, reason=champion.reason),
        status=champion.report.status,
        metrics=flatten(champion.report.metrics),
        parameters=flatten(champion.report.parameters),
        version=champion.report.version,
        pending_repair=True if state.pending_repair else None,
    )


def _change(before: str | None, after: str | None) -> ValueChange | None:
    return None if before == after else ValueChange(from_=before, to=after)


def compare_registries(
    lhs: str | os.PathLike[str],
    rhs: str | os.PathLike[str],
    *,
    model: Sequence[str] | None = None,
    generated_at: datetime,
    tag: str | None = None,
) -> ChampionDiffReport:
    """Compare each model's champion between two registry roots; nothing is written.

    ``model`` limits the comparison (``--model``, repeatable); by default every model
    directory found in either root is compared, sorted by name.
    """
    lhs_root, rhs_root = Path(os.path.abspath(lhs)), Path(os.path.abspath(rhs))
    named = sorted({validate_name(name, kind="model name") for name in model or ()})
    if named:
        models = named
    else:
        found: set[str] = set()
        for root in (lhs_root, rhs_root):
            if root.is_dir():
                found.update(model_names(root))
        models = sorted(found)
    comparisons = []
    for name in models:
        left, right = diff_side(lhs_root, name), diff_side(rhs_root, name)
        comparisons.append(
            DiffComparison(
                model=name,
                lhs=left,
                rhs=right,
                differences=DiffDifferences(
                    metadata_changed=left.metadata != right.metadata,
                    status_change=_change(left.status, right.status),
                    metrics_delta=metric_deltas(left.metrics, right.metrics),
                    parameter_changes=value_changes(left.parameters, right.parameters),
                    version_change=_change(left.version, right.version),
                ),
            )
        )
    return ChampionDiffReport(
        generated_at=as_utc(generated_at),
        lhs_root=display_path(str(lhs_root)),
        rhs_root=display_path(str(rhs_root)),
        models=models,
        comparisons=comparisons,
        lhs_exists=lhs_root.is_dir(),
        rhs_exists=rhs_root.is_dir(),
        tag=tag,
    )


def write_champion_diff(
    lhs: str | os.PathLike[str],
    rhs: str | os.PathLike[str],
    *,
    model: Sequence[str] | None = None,
    output_dir: str | os.PathLike[str] = DEFAULT_DIFF_DIR,
    tag: str | None = None,
    now: datetime | None = None,
) -> ChampionDiffResult:
    """Compare, then write ``champion_diff_<YYYYMMDDTHHMMSS>[_<tag>].json`` under ``output_dir``.

    The file is created, never replaced: a report of the same second and tag is an
    :class:`OperationError`.  Returns the report and its path.
    """
    if tag is not None:
        validate_name(tag, kind="tag")
    moment = as_utc(now) if now is not None else datetime.now(UTC)
    report = compare_registries(lhs, rhs, model=model, generated_at=moment, tag=tag)
    suffix = f"_{tag}" if tag is not None else ""
    path = (
        Path(os.path.abspath(output_dir)) / f"champion_diff_{audit_timestamp(moment)}{suffix}.json"
    )
    create_new_file(path, dump_document(report))
    return ChampionDiffResult(
        **report.model_dump(), status="ok", output_path=display_path(str(path))
    )
