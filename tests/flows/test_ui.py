"""Approve a paused purge through the real Prefect UI, in headless Chromium.

A ``prefect server start`` of its own (loopback, own PREFECT_HOME) serves both the API and the
UI; ``python -m flows run purge`` runs in a second process and pauses; Playwright opens the run
page, clicks "Resume", fills the approval form (the pause description rendered as markdown, the
:class:`~flows._approval.Approval` model as a form) and submits it.  The flow must then finish
the purge and the audit's ``approval`` record must name the approver typed in the browser.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and Playwright for Python; no browser is
ever downloaded.  The filled form is saved as ``approval-form.png`` in the test's tmp_path and,
when ``BOT_CORE_TEST_ARTIFACTS`` names a directory, copied there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot_core.audit import LocalAuditStore, verify_records
from flows._approval import PLAN_INPUT_KEY, PlanSummary
from flows.purge import PurgeReport

# Read at import: the suite's autouse ``clean_environ`` fixture removes every BOT_CORE_* variable.
ARTIFACTS = os.environ.get("BOT_CORE_TEST_ARTIFACTS")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
APPROVER = "carol-ui"
REASON = "approved in the Prefect UI"

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is missing (pip install playwright)"
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[Any], *, grace: float = 10) -> None:
    """SIGTERM the process group we started, then SIGKILL it after ``grace`` seconds."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace)
    except ProcessLookupError:
        pass


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_SERVER_ANALYTICS_ENABLED="false", **extra)
    return env


@dataclass
class Server:
    url: str
    api: str
    log: Path


@pytest.fixture
def prefect_server(tmp_path: Path) -> Iterator[Server]:
    """``prefect server start`` on 127.0.0.1:FREE_PORT with its own PREFECT_HOME."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    api = f"{url}/api"
    home = tmp_path / "prefect-home"
    home.mkdir()
    log = tmp_path / "prefect-server.log"
    env = _clean_env(PREFECT_HOME=str(home), PREFECT_API_URL=api, PREFECT_UI_API_URL=api)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"prefect server exited {process.returncode}:\n{log.read_text()}")
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"prefect server not healthy within 60 s:\n{log.read_text()}")
            time.sleep(0.3)
        yield Server(url=url, api=api, log=log)
    finally:
        _stop(process)


def _wait_for_paused_run(
    client: httpx.Client, flow: subprocess.Popen[str], err: Path
) -> tuple[str, PlanSummary, str]:
    """The paused run's id, its published plan summary and its pause description."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if flow.poll() is not None:
            pytest.fail(f"the flow exited {flow.returncode} before pausing:\n{err.read_text()}")
        runs = client.post(
            "/flow_runs/filter",
            json={"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}, "limit": 5},
        ).json()
        if runs:
            run_id = runs[0]["id"]
            inputs = {
                item["key"]: json.loads(item["value"])
                for item in client.post(
                    f"/flow_runs/{run_id}/input/filter", json={"prefix": "", "limit": 50}
                ).json()
            }
            description = next((v for k, v in inputs.items() if k.endswith("-description")), None)
            schema = next((v for k, v in inputs.items() if k.endswith("-schema")), None)
            if PLAN_INPUT_KEY in inputs and schema is not None and description is not None:
                return run_id, PlanSummary.model_validate(inputs[PLAN_INPUT_KEY]), description
        time.sleep(0.3)
    pytest.fail(f"no paused run with an approval form within 60 s:\n{err.read_text()}")


def test_approve_a_paused_purge_in_the_prefect_ui(prefect_server: Server, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bot_core.demo",
            "generate",
            "--reports",
            "30",
            "--now",
            "2026-01-01T00:00:00+00:00",
        ],
        cwd=work,
        check=True,
        capture_output=True,
        timeout=60,
    )
    base = work / "var" / "reports"
    before = {p.relative_to(base).as_posix() for p in base.rglob("*")}
    audit = work / "audit"
    err = tmp_path / "flow.stderr"
    with err.open("w") as err_sink:
        flow = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "flows",
                "run",
                "purge",
                "--category",
                "smoke",
                "--until",
                "2025-09-01",
                "--signal-quality-retention-days",
                "100000",
                "--requester",
                "alice",
                "--timeout",
                "300",
                "--poll-interval",
                "1",
                "--audit-url",
                str(audit),
                "--operations-log",
                str(work / "ops.md"),
            ],
            cwd=work,
            env=_clean_env(PREFECT_API_URL=prefect_server.api, PREFECT_LOGGING_LEVEL="INFO"),
            stdout=subprocess.PIPE,
            stderr=err_sink,
            text=True,
            start_new_session=True,
        )
    try:
        with httpx.Client(base_url=prefect_server.api, timeout=10) as client:
            run_id, summary, description = _wait_for_paused_run(client, flow, err)
            assert summary.flow_run_id == run_id
            assert summary.target_count == len(summary.top_targets) > 0
            assert summary.plan_sha256 in description
            targets = [t.relative_path for t in summary.top_targets]
            assert all(t.startswith("smoke/") for t in targets)
            assert before == {p.relative_to(base).as_posix() for p in base.rglob("*")}

            _approve_in_browser(prefect_server, run_id, summary, targets, tmp_path)

            stdout, _ = flow.communicate(timeout=60)
            assert flow.returncode == 0, err.read_text()
            state = client.get(f"/flow_runs/{run_id}").json()["state"]
            assert state["type"] == "COMPLETED", state
    finally:
        _stop(flow)

    report = PurgeReport.model_validate_json(stdout)
    assert report.outcome == "completed", report.message
    assert report.approval is not None
    assert (report.approval.method, report.approval.approver, report.approval.reason) == (
        "prefect_input",
        APPROVER,
        REASON,
    )
    after = {p.relative_to(base).as_posix() for p in base.rglob("*")}
    for target in targets:
        assert not (base / target).exists(), target
    assert after == {p for p in before if not any(p == t or p.startswith(f"{t}/") for t in targets)}
    assert any(p.startswith("daily/") for p in after)

    store = LocalAuditStore(str(audit))
    verification = verify_records(store, prefix="maintenance/purge")
    assert verification.status == "ok", verification
    (chain,) = verification.runs
    assert chain.run_id == run_id and chain.final
    assert chain.steps == ["overview", "dry-run", "approval", "backup", "execution", "report"]
    (approval_key,) = [k for k in store.list_keys(chain.prefix) if k.endswith("-approval.json")]
    approval = store.get_json(approval_key)["document"]
    assert approval["outcome"] == "approved"
    assert approval["approver"] == APPROVER
    assert approval["method"] == "prefect_input"
    assert approval["approved_plan_sha256"] == summary.plan_sha256


def _approve_in_browser(
    server: Server, run_id: str, summary: PlanSummary, targets: list[str], tmp_path: Path
) -> None:
    """Open the run page, click Resume, fill and submit the approval form."""
    expect = sync_api.expect
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)
            page.goto(f"{server.url}/runs/flow-run/{run_id}")
            page.get_by_role("button", name="Resume", exact=True).click()
            dialog = page.get_by_role("dialog")
            expect(dialog).to_contain_text("Resume Flow Run")

            # The pause description, rendered as markdown: heading, table of targets.
            markdown = dialog.locator("article.markdown-renderer").first
            expect(markdown.locator("h2")).to_contain_text(summary.plan_sha256)
            for target in targets:
                expect(markdown.locator("table")).to_contain_text(target)

            def field(title: str) -> Any:
                label = page.locator(
                    ".schema-form-property__label", has_text=re.compile(f"^{re.escape(title)}$")
                )
                return dialog.locator(".schema-form-property").filter(has=label)

            # The Literal renders as Prefect's select (a popover listbox, not a <select>):
            # focus it and open it with the keyboard (a mouse click does not reliably open it).
            decision = field("Decision").locator("button.p-select-button__control")
            decision.focus()
            decision.press("ArrowDown")
            page.get_by_role("option", name="approve", exact=True).click()
            expect(decision).to_have_text("approve")

            # Strings render as textareas.
            field("Approver").locator("textarea").fill(APPROVER)
            field("Reason").locator("textarea").fill(REASON)
            field("Plan sha256").locator("textarea").fill(summary.plan_sha256)
            expect(field("Plan sha256").locator("textarea")).to_have_value(summary.plan_sha256)

            shot = tmp_path / "approval-form.png"
            page.screenshot(path=str(shot))
            if ARTIFACTS:
                Path(ARTIFACTS).mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, Path(ARTIFACTS) / "approval-form.png")

            with page.expect_response(
                lambda r: r.url.endswith(f"/flow_runs/{run_id}/resume")
            ) as resumed:
                dialog.get_by_role("button", name="Submit", exact=True).click()
            response = resumed.value
            assert response.status in (200, 201), response.text()
            sent = json.loads(response.request.post_data or "{}")["run_input"]
            assert sent["decision"] == "approve"
            assert sent["approver"] == APPROVER
            assert sent["plan_sha256"] == summary.plan_sha256
            expect(dialog).to_be_hidden()
        finally:
            browser.close()
