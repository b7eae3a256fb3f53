"""The JSON Schemas section of ``docs/reporting.md``, generated from the pydantic models.

``python -m bot_core.reporting._docs`` rewrites it; a test fails when it is stale.
"""

from __future__ import annotations

import sys

from bot_core._schema_docs import SchemaSection
from bot_core.demo._generator import DemoTree
from bot_core.reporting._models import (
    ArchivePlan,
    ArchiveResult,
    DeletePlan,
    DeleteResult,
    Overview,
    PurgePlan,
    PurgeResult,
)

__all__ = ["SECTION"]

SECTION = SchemaSection(
    module="bot_core.reporting._docs",
    title="bot_core report catalog documents",
    documents=(
        ("stdout of `overview`", Overview),
        ("stdout of `delete`", DeleteResult),
        ("stdout of `purge`", PurgeResult),
        ("stdout of `archive`", ArchiveResult),
        ("`plan_purge()` (library; what a purge flow approves)", PurgePlan),
        ("`plan_archive()` (library; what an archive flow approves)", ArchivePlan),
        ("`plan_delete()` (library)", DeletePlan),
        ("stdout of `python -m bot_core.demo generate`", DemoTree),
    ),
    path="docs/reporting.md",
)

if __name__ == "__main__":
    sys.exit(SECTION.main())
