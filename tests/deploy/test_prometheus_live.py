"""Every dashboard query returns data from a real Prometheus fed by the real producers.

Why live: a query can parse and still never match what the code exports (a label spelled
differently, a counter pushed under another job, a histogram without ``_sum``).  So this
module runs ``prometheus`` and ``prometheus-pushgateway`` on 127.0.0.1 free ports with the
config from ``deploy/prometheus`` (1 s intervals), produces the data the way production does
- a purge and a promotion as Prefect flows and the ``bot_core.metrics`` commands, all
pushing to the Pushgateway, and an ``ExchangeManager`` that fails over to CCXT while its
``/metrics`` endpoint is scraped - and then asks Prometheus for every query of every
panel, with the template variables at their defaults ("All" as ``.*``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot_core.errors import ExchangeBackendError
from bot_core.exchanges import (
    ConnectionSettings,
    ExchangeManager,
    FailoverSettings,
    FakeBinanceServer,
    FakeMarket,
    FaultSpec,
    MetricsServer,
    MetricsSettings,
    OrderRequest,
)
from tests.deploy.promstack import (
    PROMETHEUS_DIR,
    PanelQuery,
    PromStack,
    load_dashboards,
    panel_queries,
    substitute,
    variable_defaults,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EXCHANGE = "binance"
MODEL = "decision_engine"
QUERY_DEADLINE = 30.0  # seconds each query may take to return data
SUBPROCESS_TIMEOUT = 180.0
ORDER = OrderRequest(
    symbol="BTC/USDT", side="buy", order_type="market", quantity=0.01, reference_price=30000
)

DASHBOARDS = load_dashboards()
QUERIES: list[tuple[PanelQuery, str]] = [
    (query, substitute(query.expr, variable_defaults(board)))
    for name, board in DASHBOARDS.items()
    for query in panel_queries(name, board)
]


class Trader:
    """Places a market order every 0.2 s, so the execution histograms keep moving.

    Why continuously: ``rate()`` over the histograms is only a number when the counts grew
    between two scrapes; orders placed before Prometheus started would show as NaN.
    """

    def __init__(self, manager: ExchangeManager) -> None:
        self.manager = manager
        self.orders = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trader", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            # The injected native faults raise: they are what engages the failover.
            with contextlib.suppress(ExchangeBackendError):
                self.manager.place_order(ORDER)
            self.orders += 1

    def __enter__(self) -> Trader:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass
class Exchange:
    fake: FakeBinanceServer
    manager: ExchangeManager
    metrics: MetricsServer


@pytest.fixture(scope="module")
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    """A fake Binance, a manager trading on it and its /metrics on a free loopback port."""
    workdir = tmp_path_factory.mktemp("exchange")
    with FakeBinanceServer() as fake:
        fake.set_market(FakeMarket(slippage_bps=8, fill_fraction=0.9))
        connection = ConnectionSettings(
            endpoint=fake.endpoint,
            api_key="test-key",
            api_secret="test-secret",
            timeout=2.0,
            ccxt_rate_limit=False,
        )
        manager = ExchangeManager.create(
            connection,
            report_dir=workdir / "signal_quality",
            log_path=workdir / "exchange_manager.log",
            # Stay on CCXT for the whole test once engaged: the state gauge must read 1.
            failover=FailoverSettings(error_threshold=2, cooldown_seconds=3600),
        )
        settings = MetricsSettings(host="127.0.0.1", port=0)
        with manager, MetricsServer(manager.metrics, settings) as metrics, Trader(manager):
            yield Exchange(fake=fake, manager=manager, metrics=metrics)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, exchange: Exchange) -> Iterator[PromStack]:
    target = f"{exchange.metrics.host}:{exchange.metrics.port}"
    with PromStack(tmp_path_factory.mktemp("prometheus"), exchange_target=target) as stack:
        yield stack


def _env(workdir: Path, stack: PromStack, prefect_home: str) -> dict[str, str]:
    """The subprocesses' environment: our Pushgateway and Prometheus, a private Prefect."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("BOT_CORE_", "AWS_", "PREFECT_"))
    }
    env.update(
        BOT_CORE_PUSHGATEWAY_URL=stack.pushgateway_url,
        BOT_CORE_PROMETHEUS_URL=stack.prometheus_url,
        BOT_CORE_ENVIRONMENT="paper",
        # No PREFECT_API_URL: the flows CLI starts a temporary local server (as the demo does).
        PREFECT_HOME=str(workdir / prefect_home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        # Two temporary servers start side by side on shared cores: 20 s is not always enough.
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    return env


def _start(args: list[str], workdir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str]) -> dict[str, object]:
    """Wait for a command; it must exit 0 and print one JSON document."""
    try:
        stdout, stderr = process.communicate(timeout=SUBPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, f"{process.args!r} exited {process.returncode}:\n{stderr}"
    document: dict[str, object] = json.loads(stdout)
    return document


def _run_all(
    commands: list[tuple[list[str], dict[str, str]]], workdir: Path
) -> list[dict[str, object]]:
    """Run commands side by side and return their JSON documents; all are reaped."""
    processes = [_start(args, workdir, env) for args, env in commands]
    try:
        return [_finish(process) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.communicate()  # reaps it and closes its pipes


def _engage_failover(exchange: Exchange, stack: PromStack) -> None:
    """Fail native orders until the manager is on CCXT, after Prometheus saw the zeros."""
    deadline = time.monotonic() + QUERY_DEADLINE
    assert stack.wait_for(
        f'exchange_failover_switch_total{{exchange="{EXCHANGE}",backend="ccxt"}} == 0',
        deadline=deadline,
    ), stack.logs()
    exchange.fake.set_fault(FaultSpec(mode="http_500", target="native", count=2))
    while exchange.manager.active_backend != "ccxt":
        assert time.monotonic() < deadline, "the manager never failed over to CCXT"
        time.sleep(0.1)


def _produce_maintenance(workdir: Path, stack: PromStack) -> list[dict[str, object]]:
    """A purge and a promotion as flows (in parallel, each with its own temporary Prefect
    server), then the bot's metrics commands twice, so counters have two values to compare."""
    env = _env(workdir, stack, "prefect")
    generate = ["bot_core.demo", "generate", "--reports", "50", "--base-dir", "var/reports"]
    _run_all([(generate, env)], workdir)
    challengers = json.loads(
        (workdir / "var/models/quality" / MODEL / "challengers.json").read_text()
    )
    version = challengers["entries"][0]["report"]["version"]
    until = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    approval = ["--approve-as", "ops-approver", "--requester", "ops-requester"]
    purge = ["flows", "run", "purge", "--category", "smoke", "--until", until]
    purge += ["--base-dir", "var/reports", "--audit-url", "audit/purge", *approval]
    promote = ["flows", "run", "promote", "--model", MODEL, "--version", version]
    promote += ["--reason", "dashboard live test", "--audit-url", "audit/promote", *approval]
    reports = _run_all(
        [
            (purge, _env(workdir, stack, "prefect-purge")),
            (promote, _env(workdir, stack, "prefect-promote")),
        ],
        workdir,
    )
    change = ["record-model-change", "--model", MODEL, "--source", "auto"]
    retraining = ["record-retraining", "--model", MODEL, "--source", "scheduler"]
    block = ["record-guardrail-block", "--guardrail", "daily_loss_limit"]
    for _ in range(2):
        _run_all(
            [
                (["bot_core.metrics", *change, "--guardrail-state", "active"], env),
                (["bot_core.metrics", *retraining, "--guardrail-state", "guardrail"], env),
                (["bot_core.metrics", *block], env),
            ],
            workdir,
        )
        time.sleep(1.5)  # at least one scrape between the two pushes
    return reports


@pytest.fixture(scope="module")
def produced(
    tmp_path_factory: pytest.TempPathFactory, exchange: Exchange, stack: PromStack
) -> list[dict[str, object]]:
    """The failover engaged and scraped, then the maintenance runs and metric pushes done."""
    _engage_failover(exchange, stack)
    return _produce_maintenance(tmp_path_factory.mktemp("work"), stack)


def _values(result: list[dict[str, object]]) -> list[float]:
    return [float(sample["value"][1]) for sample in result]  # type: ignore[index]


def test_prometheus_loaded_every_alert_rule(stack: PromStack) -> None:
    """The deploy rule file loads and every rule evaluates without error on live data."""
    expected = {
        rule["alert"]
        for group in yaml.safe_load((PROMETHEUS_DIR / "rules/maintenance.yml").read_text())[
            "groups"
        ]
        for rule in group["rules"]
    }
    deadline = time.monotonic() + QUERY_DEADLINE
    while True:
        rules = [r for g in stack.api("rules")["groups"] for r in g["rules"]]
        if all(rule["health"] == "ok" for rule in rules) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert {rule["name"]: rule["health"] for rule in rules} == dict.fromkeys(expected, "ok")


def test_flows_pushed_their_outcomes(produced: list[dict[str, object]], stack: PromStack) -> None:
    """Each flow run arrives once, under the job and operation labels the panels select."""
    assert [report["outcome"] for report in produced] == ["completed", "completed"]
    deadline = time.monotonic() + QUERY_DEADLINE
    for operation in ("purge", "promote"):
        runs = stack.wait_for(
            f'bot_core_maintenance_runs_total{{job="bot_core_maintenance",'
            f'operation="{operation}",outcome="completed"}}',
            deadline=deadline,
        )
        assert _values(runs) == [1.0], (operation, runs)
    promoted = stack.wait_for(
        'bot_core_maintenance_targets_total{operation="promote",action="promoted"}',
        deadline=deadline,
    )
    assert _values(promoted) == [1.0]


def test_model_counters_add_up_across_pushes(
    produced: list[dict[str, object]], stack: PromStack
) -> None:
    """The promotion plus two record-model-change runs are 3 changes, 2 under a guardrail;
    two record-retraining and two record-guardrail-block runs count 2 each.

    Why it matters for the dashboards: the Pushgateway stores the last push, so the share
    panels are right only if each push carries the running total, not this run's 1.
    """
    expected = {
        f'sum(auto_trader_model_changes_total{{model="{MODEL}"}})': 3.0,
        f'sum(auto_trader_model_change_guardrail_blocks_total{{model="{MODEL}"}})': 2.0,
        f'sum(auto_trader_retraining_cycles_total{{model="{MODEL}"}})': 2.0,
        'sum(auto_trader_retraining_guardrail_blocks_total{state="guardrail"})': 2.0,
        'sum(auto_trader_guardrail_blocks_total{environment="paper"})': 2.0,
    }
    deadline = time.monotonic() + QUERY_DEADLINE
    actual = {expr: _values(stack.wait_for(expr, deadline=deadline)) for expr in expected}
    series = stack.query('{__name__=~"auto_trader_.*_total"}')
    assert actual == {expr: [value] for expr, value in expected.items()}, series


def test_failover_is_scraped_while_engaged(
    produced: list[dict[str, object]], exchange: Exchange, stack: PromStack
) -> None:
    """State 1, one switch to CCXT in the last hour, and the 15-minute alert pending."""
    assert exchange.manager.active_backend == "ccxt"
    deadline = time.monotonic() + QUERY_DEADLINE
    state = stack.wait_for(f'exchange_failover_state{{exchange="{EXCHANGE}"}}', deadline=deadline)
    assert _values(state) == [1.0]
    switches = stack.wait_for(
        f'increase(exchange_failover_switch_total{{exchange="{EXCHANGE}",backend="ccxt"}}[1h]) > 0',
        deadline=deadline,
    )
    assert switches, stack.logs()
    pending = stack.wait_for(
        'ALERTS{alertname="ExchangeFailoverEngaged",alertstate="pending",exchange="binance"}',
        deadline=deadline,
    )
    assert pending


@pytest.mark.parametrize(("query", "expr"), QUERIES, ids=[q.name for q, _ in QUERIES])
def test_dashboard_query_returns_data(
    produced: list[dict[str, object]], stack: PromStack, query: PanelQuery, expr: str
) -> None:
    result = stack.wait_for(expr, deadline=time.monotonic() + QUERY_DEADLINE)
    assert result, f"{query.name}: no data for {expr}\n{stack.logs()}"
    assert any(math.isfinite(value) for value in _values(result)), (expr, result)
