"""Default locations of the registry, its audit records and its log.

All are relative to the working directory, as the contract (section 7) and the runbook give
them; library functions accept any path and make it absolute once.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DEFAULT_AUDIT_DIR",
    "DEFAULT_DIFF_DIR",
    "DEFAULT_LOG_PATH",
    "DEFAULT_QUALITY_DIR",
    "UPDATE_RULE_ACTOR",
]

DEFAULT_QUALITY_DIR = Path("var/models/quality")
"""The registry: ``<model>/champion.json``, ``challengers.json``, ``history.jsonl``."""

DEFAULT_AUDIT_DIR = Path("audit/champion_promotions")
"""Audit entries of promotions (``<model>/<timestamp>_<version>/``) and snapshots."""

DEFAULT_DIFF_DIR = Path("audit/champion_diffs")
"""Where ``champion_diff`` writes its reports."""

DEFAULT_LOG_PATH = Path("logs/report_center.log")
"""The Report Center's log; each promotion appends one line with its reason."""

UPDATE_RULE_ACTOR = "quality-evaluator"
"""``decided_by`` in the history when the update rule (not an operator) changed the champion."""
