"""The S3 back-end of the audit store (boto3), with Object Lock retention.

Why this shape: the boto3 client is passed in (never created at import time), so tests point
it at a SeaweedFS server on loopback and production takes endpoint, region and credentials
the usual boto3 ways (:func:`bot_core.audit.open_store` builds it from settings).  Every
botocore error is translated in :func:`_s3_errors`, the single boundary: an unreachable
endpoint becomes :class:`StoreUnavailableError` (which makes the spooling store spool), a
failed ``If-None-Match`` becomes :class:`RecordExistsError`.

Records are written with ``If-None-Match: *`` so S3 itself refuses a second write under the
same key.  With Object Lock configured, each object carries a retention (compliance or
governance mode, N days from the write): on a bucket created with Object Lock, S3 refuses to
delete that object version or shorten its retention until the date passes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bot_core._progress import ProgressCallback
from bot_core.audit._keys import build_key
from bot_core.audit._store import AuditStore, StoredObject, _temporary_directory
from bot_core.errors import (
    AuditConfigError,
    AuditStoreError,
    RecordExistsError,
    RecordNotFoundError,
    StoreUnavailableError,
)

__all__ = ["ObjectLockMode", "S3AuditStore", "default_transfer_config"]

ObjectLockMode = Literal["compliance", "governance"]

_MIB = 1024 * 1024
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_EXISTS = {"PreconditionFailed", "ConditionalRequestConflict", "412"}


def default_transfer_config(
    *, threshold_mb: int = 16, chunk_mb: int = 16, max_concurrency: int = 4
) -> Any:
    """boto3's managed-transfer settings for backups.

    Files above ``threshold_mb`` go up (and down) as multipart transfers of ``chunk_mb``
    parts, ``max_concurrency`` threads at once: large archives move in parallel while a
    shared two-core runner is not flooded with threads.
    """
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=threshold_mb * _MIB,
        multipart_chunksize=chunk_mb * _MIB,
        max_concurrency=max_concurrency,
        use_threads=max_concurrency > 1,
    )


def _classify(exc: BaseException, action: str, where: str) -> AuditStoreError | None:
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        HTTPClientError,
    )

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or code
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _EXISTS or status == 412:
            return RecordExistsError(f"audit object already exists: {where}")
        if code in _NOT_FOUND:
            return RecordNotFoundError(f"no audit object {where}")
        if status >= 500 or code in {"SlowDown", "ServiceUnavailable", "InternalError"}:
            return StoreUnavailableError(f"S3 is unavailable ({code}) to {action} {where}")
        return AuditStoreError(f"S3 refused to {action} {where}: {code}: {message}")
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return StoreUnavailableError(f"S3 cannot be reached to {action} {where}: {exc}")
    if isinstance(exc, BotoCoreError):
        return AuditStoreError(f"cannot {action} {where}: {exc}")
    return None


@contextlib.contextmanager
def _s3_errors(action: str, where: str) -> Iterator[None]:
    """The one boundary where botocore/s3transfer errors become bot_core errors."""
    try:
        yield
    except AuditStoreError:
        raise
    except Exception as exc:
        # s3transfer wraps the botocore error (S3UploadFailedError); look down the chain.
        cause: BaseException | None = exc
        while cause is not None:
            translated = _classify(cause, action, where)
            if translated is not None:
                raise translated from exc
            cause = cause.__cause__ or cause.__context__
        from boto3.exceptions import Boto3Error
        from s3transfer.exceptions import S3TransferFailedError

        if isinstance(exc, (Boto3Error, S3TransferFailedError)):
            raise AuditStoreError(f"cannot {action} {where}: {exc}") from exc
        raise


class S3AuditStore(AuditStore):
    """An audit store in an S3 bucket, below an optional key prefix.

    **Parameters:**

    * ``client`` - a boto3 S3 client (the store does not create or close it).
    * ``bucket``, ``prefix`` - where objects go: ``s3://<bucket>/<prefix>/<key>``.
    * ``object_lock_mode``, ``object_lock_days`` - Object Lock retention for every object
      written (the bucket must have been created with Object Lock enabled).
    * ``transfer_config`` - boto3 ``TransferConfig`` for files (default
      :func:`default_transfer_config`).
    * ``clock`` - returns "now" for retention dates (tests pass a fixed clock).
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        *,
        object_lock_mode: ObjectLockMode | None = None,
        object_lock_days: int = 0,
        transfer_config: Any = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise AuditConfigError(f"invalid S3 bucket name: {bucket!r}")
        if (object_lock_mode is None) != (object_lock_days <= 0):
            raise AuditConfigError(
                "Object Lock needs both a mode (compliance|governance) and days >= 1"
            )
        self.client = client
        self.bucket = bucket
        self.prefix = build_key(prefix) if prefix.strip("/") else ""
        self.object_lock_mode = object_lock_mode
        self.object_lock_days = object_lock_days
        self.transfer_config = transfer_config or default_transfer_config()
        self._clock = clock or (lambda: datetime.now(UTC))
        self.location = f"s3://{bucket}/{self.prefix}".rstrip("/")

    def _object_key(self, key: str) -> str:
        key = build_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _lock_args(self) -> dict[str, Any]:
        if self.object_lock_mode is None:
            return {}
        until = self._clock() + timedelta(days=self.object_lock_days)
        return {
            "ObjectLockMode": self.object_lock_mode.upper(),
            "ObjectLockRetainUntilDate": until,
        }

    def put_bytes(self, key: str, data: bytes, *, write_once: bool = True) -> StoredObject:
        object_key = self._object_key(key)
        digest = hashlib.sha256(data).hexdigest()
        extra: dict[str, Any] = self._lock_args()
        if write_once:
            extra["IfNoneMatch"] = "*"
        with _s3_errors("write", self.describe(key)):
            self.client.put_object(
                Bucket=self.bucket,
                Key=object_key,
                Body=data,
                ContentType="application/json" if key.endswith(".json") else "text/plain",
                Metadata={"sha256": digest},
                **extra,
            )
        return StoredObject(build_key(key), digest, len(data))

    def get_bytes(self, key: str) -> bytes:
        with _s3_errors("read", self.describe(key)):
            response = self.client.get_object(Bucket=self.bucket, Key=self._object_key(key))
            body = response["Body"]
            try:
                data: bytes = body.read()
            finally:
                body.close()
        return data

    def exists(self, key: str) -> bool:
        try:
            with _s3_errors("check", self.describe(key)):
                self.client.head_object(Bucket=self.bucket, Key=self._object_key(key))
        except RecordNotFoundError:
            return False
        return True

    def list_keys(self, prefix: str = "") -> list[str]:
        below = build_key(prefix) + "/" if prefix.strip("/") else ""
        start = f"{self.prefix}/" if self.prefix else ""
        keys: list[str] = []
        with _s3_errors("list", self.describe(below.rstrip("/")) if below else self.location):
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=start + below):
                for item in page.get("Contents", []):
                    name = str(item["Key"])
                    if name.startswith(start) and not name.endswith("/"):
                        keys.append(name[len(start) :])
        return sorted(keys)

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        move: bool = False,
        progress: ProgressCallback | None = None,
    ) -> StoredObject:
        from bot_core.audit._store import sha256_file

        digest, size = (sha256, os.stat(path).st_size) if sha256 else sha256_file(path)
        sent = 0

        def callback(count: int) -> None:
            nonlocal sent
            sent += count
            if progress is not None:
                progress("upload", sent, size)

        extra: dict[str, Any] = {"Metadata": {"sha256": digest}, **self._lock_args()}
        with _s3_errors("upload", self.describe(key)):
            self.client.upload_file(
                os.fspath(path),
                self.bucket,
                self._object_key(key),
                ExtraArgs=extra,
                Config=self.transfer_config,
                Callback=callback,
            )
        return StoredObject(build_key(key), digest, size)

    @contextlib.contextmanager
    def fetch_file(self, key: str) -> Iterator[Path]:
        with _temporary_directory(None) as directory:
            target = directory / "object"
            with _s3_errors("download", self.describe(key)):
                self.client.download_file(
                    self.bucket, self._object_key(key), str(target), Config=self.transfer_config
                )
            yield target
