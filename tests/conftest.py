"""Fixtures shared by the whole suite.

``prefect_api`` is one temporary Prefect server for the whole session (``prefect_test_harness``
takes ~6 s to start), with the global concurrency limit the flows hold (strict) created on it;
the flows tests use it automatically, other suites ask for it by name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

_OUR_PREFIXES = ("AWS_", "BOT_CORE_")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Remove variables that change behaviour (AWS credentials, our own settings)."""
    for name in list(os.environ):
        if name.startswith(_OUR_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """A temporary Prefect server and database, shared by every test that needs one."""
    from prefect import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.testing.utilities import prefect_test_harness

    from flows._common import DEFAULT_CONCURRENCY_LIMIT

    with prefect_test_harness(server_startup_timeout=60):
        with get_client(sync_client=True) as client:
            client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=DEFAULT_CONCURRENCY_LIMIT, limit=1)
            )
        yield
