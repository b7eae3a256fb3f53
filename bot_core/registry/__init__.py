"""Champion/challenger model registry: inspect, promote, compare, snapshot.

A registry lives under ``var/models/quality/<model>/`` (``champion.json``,
``challengers.json``, ``history.jsonl``).  The command-line shells are
``bot_core.reporting.ui_bridge`` (``champion``, ``promote``), ``bot_core.runtime.ui_bridge``
(``snapshot``) and ``scripts.audit.champion_diff``; ``docs/registry.md`` describes them.
"""

from bot_core.registry._config import (
    DEFAULT_AUDIT_DIR,
    DEFAULT_DIFF_DIR,
    DEFAULT_LOG_PATH,
    DEFAULT_QUALITY_DIR,
    UPDATE_RULE_ACTOR,
)
from bot_core.registry._diff import compare_registries, write_champion_diff
from bot_core.registry._listing import list_champions
from bot_core.registry._models import (
    MAX_CHALLENGERS,
    AuditEntry,
    ChallengerEntry,
    ChallengersFile,
    ChallengerView,
    ChampionDiffReport,
    ChampionDiffResult,
    ChampionFile,
    ChampionListing,
    CommitJournal,
    DecisionMetadata,
    DecisionSummary,
    DiffComparison,
    DiffDifferences,
    DiffSide,
    GuardrailSummary,
    HistoryEntry,
    MetricDelta,
    ModelView,
    PromoteResult,
    PromotionPlan,
    PromotionSummary,
    QualityReport,
    Recommendation,
    RecommendationSnapshot,
    RegistryUpdate,
    ValueChange,
)
from bot_core.registry._names import validate_name
from bot_core.registry._promote import plan_promotion, promote
from bot_core.registry._rules import (
    KEY_METRICS,
    apply_quality_report,
    metric_value,
    rank_reports,
    report_score,
)
from bot_core.registry._snapshot import build_snapshot, take_snapshot
from bot_core.registry._store import RegistryState, load_registry, read_history
from bot_core.registry._update import build_registry_from_reports, record_quality_report

__all__ = [
    "DEFAULT_AUDIT_DIR",
    "DEFAULT_DIFF_DIR",
    "DEFAULT_LOG_PATH",
    "DEFAULT_QUALITY_DIR",
    "KEY_METRICS",
    "MAX_CHALLENGERS",
    "UPDATE_RULE_ACTOR",
    "AuditEntry",
    "ChallengerEntry",
    "ChallengerView",
    "ChallengersFile",
    "ChampionDiffReport",
    "ChampionDiffResult",
    "ChampionFile",
    "ChampionListing",
    "CommitJournal",
    "DecisionMetadata",
    "DecisionSummary",
    "DiffComparison",
    "DiffDifferences",
    "DiffSide",
    "GuardrailSummary",
    "HistoryEntry",
    "MetricDelta",
    "ModelView",
    "PromoteResult",
    "PromotionPlan",
    "PromotionSummary",
    "QualityReport",
    "Recommendation",
    "RecommendationSnapshot",
    "RegistryState",
    "RegistryUpdate",
    "ValueChange",
    "apply_quality_report",
    "build_registry_from_reports",
    "build_snapshot",
    "compare_registries",
    "list_champions",
    "load_registry",
    "metric_value",
    "plan_promotion",
    "promote",
    "rank_reports",
    "read_history",
    "record_quality_report",
    "report_score",
    "take_snapshot",
    "validate_name",
    "write_champion_diff",
]
