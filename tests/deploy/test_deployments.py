"""``deploy/prefect.yaml`` and ``python -m flows serve``: valid, runnable, never drifting.

Why these tests: a deployment file is only read when someone runs ``prefect deploy``, and a
parameter the flow does not accept, a misspelt timezone or an entrypoint that moved fails
then, on the server, at 02:15.  Here the file is loaded the way Prefect loads it, each
entrypoint is resolved to its flow, each parameter set is validated against the flow's
signature and its parameter schema, and each schedule is parsed.  ``flows.serve`` builds
its deployments from the same file; a test checks the two agree, and another serves them for
real and runs one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from prefect import Flow, get_client
from prefect.cli.deploy._models import PrefectYamlModel
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments import run_deployment
from prefect.flows import load_flow_from_entrypoint
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import validate

from flows._cli import build_parser
from flows.serve import flow_of, load_prefect_file, runner_deployments
from tests.deploy.pgserver import api_healthy, descendants, free_port, prefect_env, wait_until

REPO = Path(__file__).resolve().parents[2]
PREFECT_FILE = REPO / "deploy" / "prefect.yaml"

EXPECTED = {
    # name: (flow name, function name, [(cron, timezone)])
    "signal-quality-nightly": ("purge", "purge", [("15 2 * * *", "UTC")]),
    "smoke-weekly": ("purge", "purge", [("30 7 * * 1", "Europe/Warsaw")]),
    "daily-archive-zip": ("archive", "archive", [("45 2 * * *", "UTC")]),
    "promote-on-demand": ("promote", "promote_champion", []),
    "restore-on-demand": ("restore", "restore", []),
}
"""The schedules table of docs/deployment.md."""

RUN_TIME = {
    # What an operator gives when starting an on-demand deployment.
    "promote-on-demand": {"model": "decision_engine", "version": "v2", "reason": "ticket OPS-1"},
    "restore-on-demand": {"backup_id": "20240601T000000Z-0123456789ab"},
}


def _raw() -> dict[str, Any]:
    with PREFECT_FILE.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def _deployments() -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in _raw()["deployments"]}


def test_prefect_accepts_the_file_as_prefect_deploy_reads_it() -> None:
    # PrefectYamlModel is what `prefect deploy` validates the file with (Prefect 3.9); a
    # deployment it cannot read would be skipped with a warning, not refused.
    model = PrefectYamlModel.model_validate(_raw())
    assert [d.name for d in model.deployments] == list(EXPECTED)
    assert model.prefect_version is not None
    assert model.build is None and model.push is None
    assert model.pull == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $BOT_CORE_HOME }}"}}
    ]
    for deployment in model.deployments:
        assert deployment.work_pool is not None
        assert deployment.work_pool.name == "maintenance"
        assert deployment.description and deployment.tags
        assert deployment.enforce_parameter_schema is True


@pytest.mark.parametrize("name", list(EXPECTED))
def test_entrypoint_resolves_to_the_flow(name: str) -> None:
    flow_name, function, _ = EXPECTED[name]
    entrypoint = _deployments()[name]["entrypoint"]
    path, _, attribute = entrypoint.partition(":")
    assert attribute == function
    # As a worker loads it: the file, relative to the checkout (the pull step's directory).
    loaded: Flow[..., Any] = load_flow_from_entrypoint(
        f"{REPO / path}:{attribute}", use_placeholder_flow=False
    )
    assert isinstance(loaded, Flow)
    assert loaded.name == flow_name
    # As `python -m flows serve` loads it: the very module object the package uses.
    assert flow_of(entrypoint).name == flow_name
    assert flow_of(entrypoint).fn.__name__ == function


@pytest.mark.parametrize("name", list(EXPECTED))
def test_parameters_validate_against_the_flow(name: str) -> None:
    entry = _deployments()[name]
    flow = flow_of(entry["entrypoint"])
    parameters = {**entry.get("parameters", {}), **RUN_TIME.get(name, {})}
    assert set(parameters) <= set(flow.parameters.properties), "unknown parameter"
    # What the server enforces (enforce_parameter_schema) ...
    errors = validate(parameters, parameter_schema(flow.fn).model_dump(), raise_on_error=False)
    assert errors == []
    # ... and what the flow itself does with them (pydantic models, Literal choices).
    flow.validate_parameters(parameters)


def test_on_demand_deployments_require_their_arguments_at_run_time() -> None:
    for name, arguments in RUN_TIME.items():
        entry = _deployments()[name]
        assert entry["schedules"] == []
        flow = flow_of(entry["entrypoint"])
        required = set(flow.parameters.required or [])
        assert required == set(arguments), name
        assert not required & set(entry["parameters"]), "no default for a run-time argument"
        with pytest.raises(Exception, match="required"):
            flow.validate_parameters(entry["parameters"])


@pytest.mark.parametrize("name", list(EXPECTED))
def test_schedules_parse_in_a_valid_timezone(name: str) -> None:
    entry = _deployments()[name]
    found = []
    for schedule in entry["schedules"]:
        ZoneInfo(schedule["timezone"])  # an IANA name this machine knows
        parsed = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
        assert schedule.get("active", True) is True
        found.append((parsed.cron, parsed.timezone))
    assert found == EXPECTED[name][2]


def test_policies_and_caps_say_who_approves() -> None:
    deployments = _deployments()
    nightly = deployments["signal-quality-nightly"]["parameters"]
    assert nightly["include_reports"] is False
    assert nightly["signal_quality_retention_days"] == 30
    assert nightly["policy"] == {"requester": "scheduler", "auto_approve": True,
                                 "timeout_seconds": 3600}  # fmt: skip
    # Auto-approval holds only within every cap: a report target would stop for a person.
    assert nightly["caps"]["max_targets"] == 0 and nightly["caps"]["max_bytes"] > 0

    smoke = deployments["smoke-weekly"]["parameters"]
    assert smoke["filters"]["categories"] == ["smoke"]
    assert smoke["policy"]["auto_approve"] is False
    assert smoke["policy"]["requester"] == "scheduler"
    assert smoke["policy"]["timeout_seconds"] == 8 * 3600
    assert set(smoke["caps"]) == {"max_targets", "max_bytes", "keep_newest_per_category"}

    archive = deployments["daily-archive-zip"]["parameters"]
    assert archive["filters"]["categories"] == ["daily"]
    assert (archive["format"], archive["destination"]) == ("zip", "audit/daily_archives")
    assert archive["delete_after"] is False and archive["overwrite"] is False
    assert archive["policy"]["auto_approve"] is True and archive["caps"]


def test_serve_builds_exactly_the_deployments_of_the_file() -> None:
    """The drift guard: every field ``flows.serve`` takes from the file arrives unchanged."""
    raw = _deployments()
    built = runner_deployments(load_prefect_file(PREFECT_FILE).deployments)
    assert [d.name for d in built] == list(raw)
    for deployment in built:
        entry = raw[deployment.name]
        assert deployment.flow_name == EXPECTED[deployment.name][0]
        assert deployment.entrypoint == entry["entrypoint"]
        assert deployment.parameters == entry["parameters"]
        assert deployment.tags == entry["tags"]
        assert deployment.description == entry["description"]
        assert deployment.enforce_parameter_schema is True
        schedules = [{**_cron(s.schedule), "active": s.active} for s in deployment.schedules or []]
        assert schedules == entry["schedules"]
        limit = entry.get("concurrency_limit")
        if limit is None:
            assert deployment.concurrency_limit is None
        else:
            assert deployment.concurrency_limit == limit["limit"]
            assert deployment.concurrency_options is not None
            strategy = deployment.concurrency_options.collision_strategy
            assert strategy.value == limit["collision_strategy"]


def test_serve_subcommand_is_documented() -> None:
    parser = build_parser()
    help_text = parser.format_help()
    assert "serve" in help_text
    docs = (REPO / "docs" / "deployment.md").read_text(encoding="utf-8")
    assert "python -m flows serve" in docs


def test_serve_refuses_an_unknown_deployment_name(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flows", "serve", "--deployment", "no-such-thing"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=prefect_env(tmp_path / "prefect-home"),
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "no deployment named no-such-thing" in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_python_m_flows_serve_on_embedded_defaults(tmp_path: Path) -> None:
    """No PREFECT_API_URL: ``serve`` starts its own local server (SQLite in PREFECT_HOME),
    registers the five deployments with their schedules, runs one, and stops cleanly."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    work = tmp_path / "work"
    quality = work / "reports" / "exchanges" / "signal_quality"
    quality.mkdir(parents=True)
    (work / "var" / "reports").mkdir(parents=True)
    now = datetime.now(UTC)
    for name, age in (("old.json", 45), ("fresh.json", 3)):
        path = quality / name
        path.write_text('{"records": []}', encoding="utf-8")
        stamp = (now - timedelta(days=age)).timestamp()
        os.utime(path, (stamp, stamp))

    env = prefect_env(tmp_path / "prefect-home")
    log = (tmp_path / "serve.log").open("wb")
    # Run from a data directory, not the checkout: the relative defaults (var/reports,
    # reports/exchanges/signal_quality, audit, docs/audit/...) resolve here.
    process = subprocess.Popen(
        [sys.executable, "-m", "flows", "serve", "--port", str(port), "--limit", "2"],
        cwd=work,
        env={**env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_until(lambda: api_healthy(api_url), timeout=150, what="the local Prefect server")
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            deployments = wait_until(
                lambda: _served(len(EXPECTED)), timeout=90, what="five served deployments"
            )
            assert sorted(deployments) == sorted(
                f"{flow}/{name}" for name, (flow, _, _) in EXPECTED.items()
            )
            nightly = deployments["purge/signal-quality-nightly"]
            schedules = [
                (s.schedule.cron, s.schedule.timezone, s.active) for s in nightly.schedules
            ]
            assert schedules == [("15 2 * * *", "UTC", True)]
            run = run_deployment(
                "purge/signal-quality-nightly",
                parameters={"operations_log": "ops.md"},
                timeout=120,
                poll_interval=1,
            )
            assert isinstance(run, FlowRun)
            assert run.state is not None and run.state.is_completed(), run.state
        assert not (quality / "old.json").exists(), "outside the 30-day retention"
        assert (quality / "fresh.json").exists()
        assert "outcome=completed approver='policy'" in (work / "ops.md").read_text()
        assert list((work / "audit" / "maintenance" / "purge").rglob("*-report.json"))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            stdout, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            for pid in [process.pid, *descendants(process.pid)]:
                os.kill(pid, signal.SIGKILL)
            stdout, _ = process.communicate()
        log.close()
    served_log = (tmp_path / "serve.log").read_text(errors="replace")
    assert process.returncode == 0, served_log[-3000:]
    result = json.loads(stdout)
    assert result["started_local_server"] is True
    assert result["api_url"] == api_url
    assert len(result["deployments"]) == len(EXPECTED)
    # The local server went with it.
    time.sleep(0.5)
    assert not api_healthy(api_url)


def _cron(schedule: object) -> dict[str, Any]:
    """A cron schedule as the deployment file spells it."""
    assert isinstance(schedule, CronSchedule), schedule
    return {"cron": schedule.cron, "timezone": schedule.timezone}


def _served(count: int) -> dict[str, Any] | None:
    with get_client(sync_client=True) as client:
        found = client.read_deployments()
        names = {}
        for deployment in found:
            flow = client.read_flow(deployment.flow_id)
            names[f"{flow.name}/{deployment.name}"] = deployment
    return names if len(names) >= count else None
