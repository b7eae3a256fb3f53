"""Settings from BOT_CORE_AUDIT_* variables, and the store each URL opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot_core.audit import (
    LocalAuditStore,
    S3AuditStore,
    SpoolingAuditStore,
    load_settings,
    open_backup_store,
    open_store,
    parse_store_url,
)
from bot_core.errors import AuditConfigError


def test_default_is_audit_under_the_working_directory(chdir_tmp: Path) -> None:
    settings = load_settings()
    assert settings.url == "audit"
    store = open_store(settings)
    assert isinstance(store, LocalAuditStore)
    assert store.root == str(chdir_tmp / "audit")


def test_s3_url_opens_a_spooling_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_CORE_AUDIT_URL", "s3://ops-audit/bot/core/")
    monkeypatch.setenv("BOT_CORE_AUDIT_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("BOT_CORE_AUDIT_REGION", "eu-central-1")
    monkeypatch.setenv("BOT_CORE_AUDIT_OBJECT_LOCK_MODE", "Compliance")
    monkeypatch.setenv("BOT_CORE_AUDIT_OBJECT_LOCK_DAYS", "365")
    monkeypatch.setenv("BOT_CORE_AUDIT_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("BOT_CORE_AUDIT_BACKUP_URL", str(tmp_path / "backups"))
    settings = load_settings()
    store = open_store(settings)
    assert isinstance(store, SpoolingAuditStore)
    assert isinstance(store.primary, S3AuditStore)
    assert (store.primary.bucket, store.primary.prefix) == ("ops-audit", "bot/core")
    assert (store.primary.object_lock_mode, store.primary.object_lock_days) == ("compliance", 365)
    assert store.primary.client.meta.region_name == "eu-central-1"
    assert store.spool.root == str(tmp_path / "spool")
    assert store.location == "s3://ops-audit/bot/core"
    backups = open_backup_store(settings)
    assert isinstance(backups, LocalAuditStore)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BOT_CORE_AUDIT_OBJECT_LOCK_MODE", "forever"),
        ("BOT_CORE_AUDIT_OBJECT_LOCK_DAYS", "30"),  # days without a mode
        ("BOT_CORE_AUDIT_MAX_CONCURRENCY", "0"),
    ],
)
def test_invalid_settings_are_config_errors(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(AuditConfigError, match="BOT_CORE_AUDIT_"):
        load_settings()


def test_store_urls() -> None:
    assert parse_store_url("audit") == ("local", "audit", "")
    assert parse_store_url("/srv/audit") == ("local", "/srv/audit", "")
    assert parse_store_url("file:///srv/audit") == ("local", "/srv/audit", "")
    assert parse_store_url("s3://b") == ("s3", "b", "")
    for bad in ("", "s3:///prefix", "gs://bucket"):
        with pytest.raises(AuditConfigError):
            parse_store_url(bad)
