"""The public surface: a sorted ``__all__`` and a documented command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import bot_core.audit
from bot_core.audit import AuditRecord, BackupManifest, ManifestEntry
from bot_core.audit._cli import build_parser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def test_all_is_sorted_and_importable() -> None:
    names = bot_core.audit.__all__
    assert names == sorted(names, key=lambda name: (not name.isupper(), name))
    for name in names:
        assert hasattr(bot_core.audit, name), name


def test_every_command_has_help_and_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    [commands] = [
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    ]
    assert set(commands.choices) == {"verify", "list", "restore", "backup", "flush"}
    for name, parser in commands.choices.items():
        assert parser.description, name
        assert f"python -m bot_core.audit {name}" in text, name
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert option in text, f"{option} of {name} is not in docs/audit.md"
                    assert action.help, f"{option} of {name} has no help"
    for variable in (
        "BOT_CORE_AUDIT_URL",
        "BOT_CORE_AUDIT_BACKUP_URL",
        "BOT_CORE_AUDIT_ENDPOINT_URL",
        "BOT_CORE_AUDIT_REGION",
        "BOT_CORE_AUDIT_OBJECT_LOCK_MODE",
        "BOT_CORE_AUDIT_OBJECT_LOCK_DAYS",
        "BOT_CORE_AUDIT_SPOOL_DIR",
    ):
        assert variable in text, variable


def _documented_schema(title: str) -> dict[str, object]:
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f'  "title": "{title}"') - 2
    end = text.index("\n```", start)
    schema: dict[str, object] = json.loads(text[start:end])
    return schema


def test_documented_schemas_match_the_models() -> None:
    for model, title in ((AuditRecord, "AuditRecord"), (BackupManifest, "BackupManifest")):
        documented = _documented_schema(title)
        actual = model.model_json_schema(by_alias=True)
        assert set(documented["properties"]) == set(actual["properties"]), title  # type: ignore[call-overload]
    entry = _documented_schema("BackupManifest")["properties"]["entries"]["items"]  # type: ignore[index]
    assert set(entry["properties"]) == set(ManifestEntry.model_fields)
