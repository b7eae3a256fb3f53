"""Prefect tasks: thin, typed adapters over ``bot_core``, one library call each.

The flows in ``flows/`` chain them (overview, plan, backup, execution, records).  Tasks hold
no logic of their own; retries sit only on reads and backups, never on a deletion or a
promotion.  Every task uses ``NO_CACHE``: a cached result of a destructive or audit step
would be a lie about what this run did.
"""

from tasks._audit import create_backup, record_step, restore_backup, verify_backup, verify_backup_id
from tasks._registry import list_champions, plan_promotion, promote
from tasks._reporting import build_overview, execute_purge, plan_purge, scan_reports

__all__ = [
    "build_overview",
    "create_backup",
    "execute_purge",
    "list_champions",
    "plan_promotion",
    "plan_purge",
    "promote",
    "record_step",
    "restore_backup",
    "scan_reports",
    "verify_backup",
    "verify_backup_id",
]
