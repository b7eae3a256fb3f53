"""The JSON Schemas section of ``docs/registry.md``, generated from the pydantic models.

``python -m bot_core.registry._docs`` rewrites the section between the markers in place; a
test fails when the committed section differs from what this module generates (as ``cog
--check`` does for sqlite-utils' CLI reference).
"""

from __future__ import annotations

import sys

from pydantic import BaseModel

from bot_core._schema_docs import SchemaSection
from bot_core.registry._models import (
    ChallengersFile,
    ChampionDiffReport,
    ChampionDiffResult,
    ChampionFile,
    ChampionListing,
    CommitJournal,
    HistoryEntry,
    PromoteResult,
    PromotionPlan,
    PromotionSummary,
    RecommendationSnapshot,
    RegistryUpdate,
)

__all__ = [
    "BEGIN_MARKER",
    "DOCUMENTS",
    "END_MARKER",
    "SECTION",
    "render_schemas",
    "update_document",
]

DOCUMENTS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("`<model>/champion.json`", ChampionFile),
    ("`<model>/challengers.json`", ChallengersFile),
    ("one line of `<model>/history.jsonl`", HistoryEntry),
    ("`<model>/.commit.json` (only while a commit is in flight)", CommitJournal),
    ("`<audit-dir>/<model>/<timestamp>_<version>/summary.json`", PromotionSummary),
    ("stdout of `champion`", ChampionListing),
    ("stdout of `promote`", PromoteResult),
    ("`champion_diff_<timestamp>[_<tag>].json`", ChampionDiffReport),
    ("stdout of `champion_diff`", ChampionDiffResult),
    ("stdout of `snapshot`, and `preview_<timestamp>.json`", RecommendationSnapshot),
    ("`plan_promotion()` (library)", PromotionPlan),
    ("`apply_quality_report()` / `record_quality_report()` (library)", RegistryUpdate),
)

SECTION = SchemaSection(
    module="bot_core.registry._docs",
    title="bot_core registry documents",
    documents=DOCUMENTS,
    path="docs/registry.md",
)
BEGIN_MARKER = SECTION.begin_marker
END_MARKER = SECTION.end_marker
render_schemas = SECTION.render
update_document = SECTION.update

if __name__ == "__main__":
    sys.exit(SECTION.main())
