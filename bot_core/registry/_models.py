"""Every JSON document of the champion/challenger registry (contract section 7).

Field names and status words are the contract's, in the contract's order; fields we add for
explainability come after them.  Documents we write are frozen and reject unknown fields.

One exception, on purpose: a :class:`QualityReport` keeps fields it does not know.  Reports are
produced by the model-evaluation pipeline, which may add keys (``dataset``, ``notes``...); a
promotion moves a report from ``challengers.json`` to ``champion.json`` and must not silently
drop any of it.  The fields the registry relies on are still validated.

A few output fields are optional in the contract ("+ missing_models") or only make sense in
some runs (``dry_run``); they are left out of the JSON while ``None`` (:class:`SparseDocument`)
rather than written as ``null``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
)

from bot_core._types import Document, SparseDocument, UtcDateTime
from bot_core.registry._names import ModelName, Version
from bot_core.reporting._models import ExportFile

__all__ = [
    "MAX_CHALLENGERS",
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
    "HistoryAction",
    "HistoryEntry",
    "JournalAudit",
    "JournalFile",
    "JournalLog",
    "MetricDelta",
    "ModelView",
    "PromoteResult",
    "PromotionPlan",
    "PromotionSummary",
    "QualityReport",
    "Recommendation",
    "RecommendationSnapshot",
    "RegistryUpdate",
    "SparseDocument",
    "UpdateOutcome",
    "ValueChange",
]

MAX_CHALLENGERS = 10
"""``challengers.json`` keeps at most this many entries, newest first (contract 7)."""


def _none_as_empty(value: Any) -> Any:
    return {} if value is None else value


JsonObject = Annotated[dict[str, JsonValue], BeforeValidator(_none_as_empty)]
"""A JSON object; ``null`` is read as ``{}`` (first evaluations often have no ``delta``)."""


# --- registry files (var/models/quality/<model>/) --------------------------------------------


class QualityReport(BaseModel):
    """One evaluation of one model version: what the registry ranks and promotes.

    ``metrics`` holds ``directional_accuracy``, ``mae``, ``expected_pnl`` and any others,
    either flat or under ``summary``.  ``status`` is the evaluator's verdict
    (``improved``, ``ok``, ``degraded``...).  Unknown fields are kept, see the module docstring.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    model_name: ModelName
    version: Version
    evaluated_at: UtcDateTime
    metrics: JsonObject
    status: Annotated[str, Field(min_length=1)]
    delta: JsonObject = Field(default_factory=dict)
    parameters: JsonObject = Field(default_factory=dict)


class ChampionFile(Document):
    """``champion.json``: the model version in production, and why it was chosen."""

    model_name: ModelName
    decided_at: UtcDateTime
    reason: str
    report: QualityReport


class ChallengerEntry(Document):
    """One entry of ``challengers.json``: a candidate version, and why it is there."""

    decided_at: UtcDateTime
    reason: str
    report: QualityReport


class ChallengersFile(Document):
    """``challengers.json``: candidate versions, newest first, at most ten."""

    model_name: ModelName
    updated_at: UtcDateTime
    entries: Annotated[list[ChallengerEntry], Field(max_length=MAX_CHALLENGERS)]


HistoryAction = Literal["promote", "update_rule"]
"""What changed the champion: an operator's ``promote``, or the update rule for a new report."""


class HistoryEntry(Document):
    """One line of ``history.jsonl``: one change of champion, appended and never rewritten.

    Who (``decided_by``), when (``decided_at``), why (``reason``), from which version to which,
    with both versions' metrics at that moment.  ``transaction_id`` ties the line to the
    registry commit that made the change, so a repaired commit never appends it twice.
    """

    model_name: ModelName
    decided_at: UtcDateTime
    action: HistoryAction
    decided_by: str
    reason: str
    from_version: str | None
    to_version: str
    from_metrics: dict[str, JsonValue] | None
    to_metrics: dict[str, JsonValue]
    audit_directory: str | None
    transaction_id: str


class JournalFile(Document):
    """A registry file a commit replaces: the staged file's name and its content's SHA-256."""

    name: Literal["champion.json", "challengers.json"]
    staged_name: Annotated[
        str, Field(pattern=r"^\.(champion|challengers)\.json\.[0-9a-f]{16}\.pending$")
    ]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class JournalAudit(Document):
    """The audit entry a promotion writes once its registry files are in place."""

    directory: str
    summary: PromotionSummary


class JournalLog(Document):
    """The line a promotion appends to ``logs/report_center.log``."""

    path: str
    line: str


class CommitJournal(Document):
    """``.commit.json`` in a model directory: a registry commit that has been decided.

    Written atomically after both new files are staged and before the first rename; removed
    once everything it names is in place.  Its presence means the commit must be completed.
    """

    transaction_id: str
    model_name: ModelName
    started_at: UtcDateTime
    files: list[JournalFile]
    history: HistoryEntry | None
    audit: JournalAudit | None
    log: JournalLog | None


# --- changes: deltas, plans, update-rule decisions -------------------------------------------


class MetricDelta(SparseDocument):
    """How one metric moved: ``{from, to, delta}``, or ``{from, to}`` when a side lacks it."""

    model_config = ConfigDict(serialize_by_alias=True)
    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"delta"})

    from_: JsonValue = Field(
        validation_alias=AliasChoices("from", "from_"), serialization_alias="from"
    )
    to: JsonValue
    delta: float | None = None


class ValueChange(Document):
    """How one parameter (or status) changed: ``{from, to}``; a missing side is ``null``."""

    model_config = ConfigDict(serialize_by_alias=True)

    from_: JsonValue = Field(
        validation_alias=AliasChoices("from", "from_"), serialization_alias="from"
    )
    to: JsonValue


class PromotionPlan(Document):
    """Everything a promotion will write, decided from one reading of the registry."""

    model_name: str
    version: str
    previous_version: str | None
    decided_at: UtcDateTime
    decided_by: str
    reason: str | None
    previous_champion: QualityReport | None
    candidate: QualityReport
    champion: ChampionFile
    challengers: ChallengersFile
    metrics_delta: dict[str, MetricDelta]


UpdateOutcome = Literal["champion", "challenger", "champion_refreshed"]
"""Where the update rule put a new report: it became champion, it became the newest challenger,
or it was a re-evaluation of the current champion, whose report was refreshed in place."""


class RegistryUpdate(Document):
    """The update rule's decision for one new quality report, and the registry it produces."""

    model_name: str
    version: str
    outcome: UpdateOutcome
    rule: str
    previous_version: str | None
    dropped_versions: list[str]
    champion: ChampionFile | None
    challengers: ChallengersFile


# --- champion (contract 7) -------------------------------------------------------------------


class DecisionMetadata(Document):
    """When and why a report took its place in the registry."""

    decided_at: UtcDateTime
    reason: str


class ChallengerView(Document):
    """A challenger as ``champion`` lists it."""

    report: QualityReport
    metadata: DecisionMetadata


class ModelView(SparseDocument):
    """One model in the output of ``champion``; ``history`` only with ``--history``."""

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"history"})

    model_name: str
    champion: QualityReport
    champion_metadata: DecisionMetadata
    challengers: list[ChallengerView]
    updated_at: UtcDateTime
    history: list[HistoryEntry] | None = None


class ChampionListing(SparseDocument):
    """The output of ``champion``.

    ``missing_models`` appears when named models have no champion; ``repaired`` lists models
    whose interrupted commit this run completed.
    """

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"missing_models", "repaired"})

    status: Literal["ok"]
    base_directory: str
    models: list[ModelView]
    missing_models: list[str] | None = None
    repaired: list[str] | None = None


# --- promote (contract 7) --------------------------------------------------------------------


class PromotionSummary(Document):
    """``summary.json`` of an audit entry ``<audit-dir>/<model>/<timestamp>_<version>/``."""

    status: Literal["promoted"]
    model_name: str
    version: str
    decided_at: UtcDateTime
    reason: str
    previous_champion: QualityReport | None
    candidate: QualityReport
    challengers: list[ChallengerEntry]
    previous_version: str | None
    decided_by: str
    metrics_delta: dict[str, MetricDelta]
    transaction_id: str


class AuditEntry(Document):
    """The audit entry as an overview report object: the fields of an ``overview`` report.

    The entry is a report directory holding only its ``summary.json`` (so no exports); its
    timestamps are the decision's, the moment the summary is written.
    """

    relative_path: str
    category: str
    display_name: str
    summary_path: str
    summary: PromotionSummary
    summary_error: None = None
    summary_status: Literal["valid"] = "valid"
    absolute_path: str
    exports: list[ExportFile] = Field(default_factory=list)
    export_count: int = 0
    total_size: int = 0
    updated_at: UtcDateTime
    created_at: UtcDateTime
    has_summary: Literal[True] = True
    has_exports: Literal[False] = False


class PromoteResult(SparseDocument):
    """The output of ``promote``; ``status`` is ``preview`` and ``dry_run`` true in a dry run.

    In a dry run the paths and ``audit_entry`` are those that a real run would write.
    ``repaired`` is true when this run first completed an interrupted commit; ``pending_repair``
    is true when a dry run found one (the state shown is the completed one).
    """

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"dry_run", "repaired", "pending_repair"})

    status: Literal["ok", "preview"]
    model: str
    version: str
    reason: str | None
    champion_path: str
    challengers_path: str
    audit_directory: str
    audit_entry: AuditEntry
    previous_version: str | None
    expect_champion: str | None
    metrics_delta: dict[str, MetricDelta]
    history_path: str
    log_path: str
    dry_run: bool | None = None
    repaired: bool | None = None
    pending_repair: bool | None = None


# --- champion_diff (contract 7) --------------------------------------------------------------


class DiffSide(SparseDocument):
    """One side of a comparison: the model's champion in one registry root.

    ``error`` says why the champion is absent or unreadable (missing root, missing model,
    corrupt file); ``pending_repair`` marks a registry with an interrupted commit.
    """

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"error", "pending_repair"})

    exists: bool
    metadata: DecisionMetadata | None
    status: str | None
    metrics: dict[str, JsonValue]
    parameters: dict[str, JsonValue]
    version: str | None
    error: str | None = None
    pending_repair: bool | None = None


class DiffDifferences(Document):
    """What differs between the two sides; only differing keys appear in the dictionaries."""

    metadata_changed: bool
    status_change: ValueChange | None
    metrics_delta: dict[str, MetricDelta]
    parameter_changes: dict[str, ValueChange]
    version_change: ValueChange | None


class DiffComparison(Document):
    """The comparison of one model's champion between the two roots."""

    model: str
    lhs: DiffSide
    rhs: DiffSide
    differences: DiffDifferences


class ChampionDiffReport(Document):
    """``champion_diff_<YYYYMMDDTHHMMSS>[_<tag>].json``."""

    generated_at: UtcDateTime
    lhs_root: str
    rhs_root: str
    models: list[str]
    comparisons: list[DiffComparison]
    lhs_exists: bool
    rhs_exists: bool
    tag: str | None


class ChampionDiffResult(ChampionDiffReport):
    """What ``champion_diff`` prints: the report it wrote, and where."""

    status: Literal["ok"]
    output_path: str


# --- snapshot (contract 7) -------------------------------------------------------------------


class DecisionSummary(Document):
    """Where the model stands: its champion and how many challengers wait."""

    model_name: str
    champion_version: str
    champion_status: str
    decided_at: UtcDateTime
    reason: str
    key_metrics: dict[str, float | None]
    challenger_count: int
    best_challenger_version: str | None


class GuardrailSummary(Document):
    """Quality guardrails read from the registry: is anything degraded?

    ``status`` is ``attention`` when the champion's report is ``degraded`` or a challenger
    ranks above it, else ``ok``.
    """

    status: Literal["ok", "attention"]
    champion_degraded: bool
    degraded_challengers: list[str]
    findings: list[str]


class Recommendation(Document):
    """One suggested action with its rationale; ``promote`` names the version to promote."""

    action: Literal["keep_champion", "promote", "review"]
    version: str
    rationale: str
    metrics_delta: dict[str, MetricDelta]


class RecommendationSnapshot(SparseDocument):
    """The output of ``snapshot``, also saved as ``preview_<YYYYMMDDTHHMMSS>.json``.

    ``controller_history`` is the model's champion history (``history.jsonl``), newest first.
    ``snapshot_path`` is where it was saved, ``null`` in a dry run.
    """

    _omit_when_none: ClassVar[frozenset[str]] = frozenset({"dry_run", "pending_repair"})

    decision_summary: DecisionSummary
    guardrail_summary: GuardrailSummary
    controller_history: list[HistoryEntry]
    recommendations: list[Recommendation]
    champion: QualityReport
    challengers: list[ChallengerView]
    status: Literal["ok", "preview"]
    model_name: str
    generated_at: UtcDateTime
    quality_directory: str
    snapshot_path: str | None
    dry_run: bool | None = None
    pending_repair: bool | None = None


JournalAudit.model_rebuild()
CommitJournal.model_rebuild()
