"""Audit configuration (pydantic-settings, ``BOT_CORE_AUDIT_*``) and the store factory.

Why apart from the stores: the stores take plain arguments and a boto3 client, so tests and
the flows can build them directly; this module is the one place that reads the environment
and turns a URL into a store.  Credentials are not settings: boto3 finds them the usual ways
(``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, instance roles).

Example::

    BOT_CORE_AUDIT_URL=s3://ops-audit/bot-core \\
    BOT_CORE_AUDIT_ENDPOINT_URL=https://s3.eu-central-1.amazonaws.com \\
    BOT_CORE_AUDIT_OBJECT_LOCK_MODE=compliance BOT_CORE_AUDIT_OBJECT_LOCK_DAYS=365 \\
    python -m bot_core.audit verify
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot_core.audit._s3 import S3AuditStore, default_transfer_config
from bot_core.audit._spool import SpoolingAuditStore
from bot_core.audit._store import AuditStore, LocalAuditStore
from bot_core.errors import AuditConfigError

__all__ = [
    "AuditSettings",
    "load_settings",
    "make_s3_client",
    "open_backup_store",
    "open_store",
    "parse_store_url",
]


class AuditSettings(BaseSettings):
    """Where audit records and backups go, read from ``BOT_CORE_AUDIT_<FIELD>`` variables.

    **Parameters** (environment variable = ``BOT_CORE_AUDIT_`` + upper-case name):

    * ``url`` - ``audit`` (a directory, relative to the working directory), an absolute path,
      ``file:///path``, or ``s3://bucket/prefix``.
    * ``backup_url`` - where backups go, when not beside the records (same forms as ``url``).
    * ``endpoint_url``, ``region``, ``addressing_style`` - S3 endpoint (SeaweedFS, MinIO,
      an AWS region endpoint), region name, and ``auto|path|virtual`` bucket addressing.
    * ``object_lock_mode`` (``compliance|governance``) and ``object_lock_days`` - retention
      set on every object written to S3.
    * ``spool_dir`` - where records wait while S3 is unreachable (default
      ``audit/.spool``).
    * ``max_attempts``, ``connect_timeout``, ``read_timeout`` - boto3 retry/timeouts.
    * ``multipart_threshold_mb``, ``multipart_chunksize_mb``, ``max_concurrency`` - managed
      transfer of backups.
    """

    model_config = SettingsConfigDict(env_prefix="BOT_CORE_AUDIT_", extra="ignore", frozen=True)

    url: str = "audit"
    backup_url: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    object_lock_mode: Literal["compliance", "governance"] | None = None
    object_lock_days: int = Field(default=0, ge=0)
    spool_dir: Path = Path("audit/.spool")
    max_attempts: int = Field(default=3, ge=1)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    multipart_threshold_mb: int = Field(default=16, ge=5)
    multipart_chunksize_mb: int = Field(default=16, ge=5)
    max_concurrency: int = Field(default=4, ge=1, le=64)

    @field_validator("backup_url", "endpoint_url", "region", "object_lock_mode", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("object_lock_mode", mode="before")
    @classmethod
    def _mode_lower_case(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _lock_is_complete(self) -> AuditSettings:
        if (self.object_lock_mode is None) != (self.object_lock_days == 0):
            raise ValueError(
                "object_lock_mode and object_lock_days must be set together "
                "(mode compliance|governance, days >= 1)"
            )
        return self


def load_settings(**overrides: Any) -> AuditSettings:
    """Read the settings from the environment; ``overrides`` (not ``None``) win.

    A malformed value is an :class:`AuditConfigError` (exit status 2) naming the variable.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return AuditSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first.get("loc", ())) or "settings"
        raise AuditConfigError(
            f"invalid audit setting BOT_CORE_AUDIT_{field.upper()}: {first.get('msg')}"
        ) from exc


def parse_store_url(url: str) -> tuple[Literal["local", "s3"], str, str]:
    """``("s3", bucket, prefix)`` or ``("local", directory, "")`` for a store URL."""
    text = url.strip()
    if not text:
        raise AuditConfigError("the audit store URL is blank")
    parts = urlsplit(text)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise AuditConfigError(f"S3 URL without a bucket: {url!r} (use s3://bucket/prefix)")
        return "s3", parts.netloc, parts.path.strip("/")
    if parts.scheme == "file":
        return "local", parts.path, ""
    if parts.scheme and len(parts.scheme) > 1:
        raise AuditConfigError(f"unsupported audit store URL {url!r}: use a path or s3://")
    return "local", text, ""


def make_s3_client(settings: AuditSettings) -> Any:
    """A boto3 S3 client from the settings (credentials the usual boto3 ways)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        config=Config(
            s3={"addressing_style": settings.addressing_style},
            retries={"max_attempts": settings.max_attempts, "mode": "standard"},
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        ),
    )


def _open(url: str, settings: AuditSettings, s3_client: Any, *, spool: bool) -> AuditStore:
    kind, where, prefix = parse_store_url(url)
    if kind == "local":
        return LocalAuditStore(where)
    store = S3AuditStore(
        s3_client if s3_client is not None else make_s3_client(settings),
        where,
        prefix,
        object_lock_mode=settings.object_lock_mode,
        object_lock_days=settings.object_lock_days,
        transfer_config=default_transfer_config(
            threshold_mb=settings.multipart_threshold_mb,
            chunk_mb=settings.multipart_chunksize_mb,
            max_concurrency=settings.max_concurrency,
        ),
    )
    if not spool:
        return store
    return SpoolingAuditStore(store, LocalAuditStore(os.fspath(settings.spool_dir)))


def open_store(settings: AuditSettings | None = None, *, s3_client: Any = None) -> AuditStore:
    """The record store the settings name; on S3 it spools to ``spool_dir`` when unreachable."""
    settings = settings or load_settings()
    return _open(settings.url, settings, s3_client, spool=True)


def open_backup_store(
    settings: AuditSettings | None = None, *, s3_client: Any = None
) -> AuditStore:
    """The store for backups: ``backup_url`` if set, else the record store (never spooled)."""
    settings = settings or load_settings()
    return _open(settings.backup_url or settings.url, settings, s3_client, spool=False)
