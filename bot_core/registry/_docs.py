"""The JSON Schemas section of ``docs/registry.md``, generated from the pydantic models.

``python -m bot_core.registry._docs`` rewrites the section between the markers in place; a
test fails when the committed section differs from what this module generates (as ``cog
--check`` does for sqlite-utils' CLI reference).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

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

__all__ = ["BEGIN_MARKER", "DOCUMENTS", "END_MARKER", "render_schemas", "update_document"]

BEGIN_MARKER = "<!-- BEGIN GENERATED SCHEMAS: python -m bot_core.registry._docs -->"
END_MARKER = "<!-- END GENERATED SCHEMAS -->"

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


def render_schemas() -> str:
    """The generated Markdown: a table of documents, then one JSON Schema with all of them."""
    _, schema = models_json_schema(
        [(model, "validation") for _, model in DOCUMENTS],
        title="bot_core registry documents",
    )
    lines = [
        BEGIN_MARKER,
        "",
        "| Document | Schema (`$defs`) |",
        "| --- | --- |",
        *(f"| {where} | `{model.__name__}` |" for where, model in DOCUMENTS),
        "",
        "```json",
        json.dumps(schema, indent=2, sort_keys=True),
        "```",
        "",
        END_MARKER,
    ]
    return "\n".join(lines)


def update_document(text: str) -> str:
    """``text`` with the section between the markers replaced by :func:`render_schemas`."""
    start = text.index(BEGIN_MARKER)
    end = text.index(END_MARKER) + len(END_MARKER)
    return text[:start] + render_schemas() + text[end:]


def main() -> int:
    """Rewrite the generated section of ``docs/registry.md`` (run from the repository root)."""
    path = Path("docs/registry.md")
    path.write_text(update_document(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
