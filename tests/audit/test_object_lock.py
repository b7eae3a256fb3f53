"""Object Lock: S3 keeps each record version for N days and refuses to delete it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from bot_core.audit import ObjectLockMode, S3AuditStore, verify_records
from bot_core.errors import AuditConfigError
from tests.audit.helpers import write_run
from tests.s3server import SeaweedServer


@pytest.mark.parametrize("mode", ["compliance", "governance"])
def test_object_lock_refuses_deleting_a_record(
    s3_server: SeaweedServer, mode: ObjectLockMode
) -> None:
    bucket = s3_server.create_bucket(f"lock-{mode}", object_lock=True)
    client = s3_server.client()
    store = S3AuditStore(client, bucket, "audit", object_lock_mode=mode, object_lock_days=2)
    run = write_run(store)
    key = f"audit/{run.records[0].key}"

    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == mode.upper()
    until = head["ObjectLockRetainUntilDate"]
    expected = datetime.now(UTC) + timedelta(days=2)
    assert abs((until - expected).total_seconds()) < 300

    with pytest.raises(ClientError) as refused:
        client.delete_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    # The locked version is still there and the chain still verifies.
    assert client.get_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])["Body"].read()
    assert verify_records(store).status == "ok"


def test_object_lock_needs_mode_and_days(s3_server: SeaweedServer) -> None:
    with pytest.raises(AuditConfigError):
        S3AuditStore(s3_server.client(), "bucket", object_lock_mode="compliance")
    with pytest.raises(AuditConfigError):
        S3AuditStore(s3_server.client(), "bucket", object_lock_days=3)
