"""The Grafana provisioning and Prometheus files are what the spec and the runbook promise.

Why this module exists: a dashboard that loads but queries the wrong series, or an alert
rule that never fires, fails silently in production.  So the stage7/stage8 dashboards are
compared with a table transcribed from ``spec/dashboards.md``, every PromQL expression of
every panel is parsed by ``promtool`` (as one recording rule each), the Prometheus config
and alert rules are checked by ``promtool`` too, and ``promtool test rules`` runs the unit
tests in ``deploy/prometheus/rules/maintenance_test.yml`` that make each alert fire.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promstack import (
    DASHBOARD_DIR,
    GRAFANA_DIR,
    PROMETHEUS_DIR,
    PROMTOOL,
    iter_panels,
    load_dashboards,
    panel_queries,
    substitute,
    variable_defaults,
)

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RULES = PROMETHEUS_DIR / "rules" / "maintenance.yml"
RULE_TESTS = PROMETHEUS_DIR / "rules" / "maintenance_test.yml"

STAGE7 = "stage7_retraining_guardrails.json"
STAGE8 = "stage8_retraining_guardrail_impact.json"
MAINTENANCE = "report_maintenance.json"

UIDS = {
    STAGE7: "stage7-retraining",
    STAGE8: "stage8-retraining-impact",
    MAINTENANCE: "report-maintenance",
}
TITLES = {
    STAGE7: "Stage7 – Retraining vs Guardrail Correlation",
    STAGE8: "Stage8 – Retraining Guardrail Impact",
}

# spec/dashboards.md, transcribed: panel title (Polish, as the runbook names them) -> type and
# the query exactly as the spec writes it.
SPEC_PANELS: dict[str, dict[str, tuple[str, str]]] = {
    STAGE7: {
        "Zmiany modelu (15m)": (
            "timeseries",
            'increase(auto_trader_model_changes_total{model=~"$model"}[15m])',
        ),
        "Zmiany przy aktywnym guardrailu (15m)": (
            "timeseries",
            'increase(auto_trader_model_change_guardrail_blocks_total{model=~"$model"}[15m])',
        ),
        "Udział zmian z guardrailem": (
            "stat",
            'sum(increase(auto_trader_model_change_guardrail_blocks_total{model=~"$model"}[1h]))'
            ' / clamp_min(sum(increase(auto_trader_model_changes_total{model=~"$model"}[1h])), 1)',
        ),
        "Ostatnie zmiany modelu": (
            "table",
            'auto_trader_model_change_timestamp_seconds{model=~"$model"}',
        ),
    },
    STAGE8: {
        "Cykle retrainingu (30m)": (
            "timeseries",
            'increase(auto_trader_retraining_cycles_total{model=~"$model"}[30m])',
        ),
        "Retraining zablokowany przez guardrail (30m)": (
            "timeseries",
            "increase(auto_trader_retraining_guardrail_blocks_total"
            '{model=~"$model",state=~"$state"}[30m])',
        ),
        "Udział retrainingu z guardrail": (
            "stat",
            "sum(increase(auto_trader_retraining_guardrail_blocks_total"
            '{model=~"$model",state=~"$state"}[2h])) / clamp_min(sum(increase('
            'auto_trader_retraining_cycles_total{model=~"$model"}[2h])), 1)',
        ),
        "Blokady guardrail (15m)": (
            "timeseries",
            'increase(auto_trader_guardrail_blocks_total{environment=~"$environment"}[15m])',
        ),
        "Ostatnie cykle retrainingu": (
            "table",
            'auto_trader_retraining_timestamp_seconds{model=~"$model"}',
        ),
    },
}
# Variable -> (label_values query, default; None: "All", i.e. allValue .*).
SPEC_VARIABLES: dict[str, dict[str, tuple[str, str | None]]] = {
    STAGE7: {"model": ("label_values(auto_trader_model_changes_total, model)", "decision_engine")},
    STAGE8: {
        "model": ("label_values(auto_trader_retraining_cycles_total, model)", None),
        "state": (
            "label_values(auto_trader_retraining_guardrail_blocks_total, state)",
            "guardrail",
        ),
        "environment": ("label_values(auto_trader_guardrail_blocks_total, environment)", "paper"),
    },
}
# The share stats: a 0..1 ratio, so Grafana's "percentunit", with the spec's thresholds.
SPEC_SHARE_THRESHOLDS = {
    (STAGE7, "Udział zmian z guardrailem"): [("green", None), ("orange", 0.3), ("red", 0.6)],
    (STAGE8, "Udział retrainingu z guardrail"): [("green", None), ("orange", 0.2), ("red", 0.5)],
}

DASHBOARDS = load_dashboards()
QUERIES = [query for name, board in DASHBOARDS.items() for query in panel_queries(name, board)]


def _steps(thresholds: dict[str, Any]) -> list[tuple[str, float | None]]:
    assert thresholds["mode"] == "absolute"
    return [(step["color"], step["value"]) for step in thresholds["steps"]]


def _panel(file_name: str, title: str) -> dict[str, Any]:
    matches = [p for p in iter_panels(DASHBOARDS[file_name]) if p["title"] == title]
    assert len(matches) == 1, f"{file_name}: {len(matches)} panels titled {title!r}"
    return matches[0]


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL.exists(), f"{PROMTOOL} missing: install Debian's 'prometheus' package"
    return subprocess.run(
        [str(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


# --- provisioning ----------------------------------------------------------------------------


def test_exactly_the_three_dashboards_are_provisioned_with_their_uids() -> None:
    assert {name: board["uid"] for name, board in DASHBOARDS.items()} == UIDS
    for name, title in TITLES.items():
        assert DASHBOARDS[name]["title"] == title


def test_datasource_is_prometheus_uid_with_url_from_the_environment() -> None:
    """Grafana has no ${VAR:-default}; the default URL lives in grafana.env (loopback)."""
    document = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    [source] = document["datasources"]
    assert (source["uid"], source["type"], source["url"]) == (
        "prometheus",
        "prometheus",
        "${PROMETHEUS_URL}",
    )
    env = dict(
        line.split("=", 1)
        for line in (GRAFANA_DIR / "grafana.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert env["PROMETHEUS_URL"] == "http://127.0.0.1:9090"


def test_dashboard_provider_reads_the_dashboards_folder() -> None:
    document = yaml.safe_load((DASHBOARD_DIR / "dashboards.yaml").read_text())
    [provider] = document["providers"]
    assert provider["type"] == "file"
    assert Path(provider["options"]["path"]).name == DASHBOARD_DIR.name


# --- dashboard JSON ----------------------------------------------------------------------------


@pytest.mark.parametrize("file_name", sorted(DASHBOARDS))
def test_dashboard_settings(file_name: str) -> None:
    """Refresh 1m over the last 24 h (spec), a current schema, every variable on uid prometheus."""
    board = DASHBOARDS[file_name]
    assert board["schemaVersion"] == 39
    assert board["refresh"] == "1m"
    assert board["time"] == {"from": "now-24h", "to": "now"}
    for variable in board["templating"]["list"]:
        assert variable["type"] == "query"
        assert variable["datasource"] == DATASOURCE
        assert variable["definition"] == variable["query"]["query"]
        assert variable["allValue"] == ".*"


@pytest.mark.parametrize("file_name", sorted(DASHBOARDS))
def test_panels_are_laid_out_and_use_the_prometheus_datasource(file_name: str) -> None:
    panels = list(iter_panels(DASHBOARDS[file_name]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert "unit" in panel["fieldConfig"]["defaults"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
        if panel["type"] == "table":
            assert all(t["instant"] and t["format"] == "table" for t in panel["targets"])


@pytest.mark.parametrize("file_name", [STAGE7, STAGE8])
def test_spec_dashboard_panels_are_exactly_the_spec_table(file_name: str) -> None:
    panels = {
        panel["title"]: (panel["type"], [target["expr"] for target in panel["targets"]])
        for panel in iter_panels(DASHBOARDS[file_name])
    }
    expected = {title: (kind, [query]) for title, (kind, query) in SPEC_PANELS[file_name].items()}
    assert panels == expected


@pytest.mark.parametrize("file_name", [STAGE7, STAGE8])
def test_spec_dashboard_variables(file_name: str) -> None:
    variables = {
        variable["name"]: (
            variable["query"]["query"],
            None if variable["current"]["value"] == "$__all" else variable["current"]["value"],
        )
        for variable in DASHBOARDS[file_name]["templating"]["list"]
    }
    assert variables == SPEC_VARIABLES[file_name]


@pytest.mark.parametrize(("file_name", "title"), sorted(SPEC_SHARE_THRESHOLDS))
def test_share_stats_are_percent_with_the_spec_thresholds(file_name: str, title: str) -> None:
    defaults = _panel(file_name, title)["fieldConfig"]["defaults"]
    assert defaults["unit"] == "percentunit"
    assert _steps(defaults["thresholds"]) == SPEC_SHARE_THRESHOLDS[(file_name, title)]


@pytest.mark.parametrize(
    ("file_name", "title"),
    [(STAGE7, "Ostatnie zmiany modelu"), (STAGE8, "Ostatnie cykle retrainingu")],
)
def test_timestamp_tables_show_dates(file_name: str, title: str) -> None:
    """The gauges are Unix seconds and Grafana's date units want milliseconds; the query must
    stay the spec's, so a calculated field multiplies by 1000 and that column is a date."""
    panel = _panel(file_name, title)
    [calculated] = [t for t in panel["transformations"] if t["id"] == "calculateField"]
    options = calculated["options"]
    assert options["binary"] == {"left": "Value", "operator": "*", "right": "1000"}
    [override] = panel["fieldConfig"]["overrides"]
    assert override["matcher"] == {"id": "byName", "options": options["alias"]}
    assert override["properties"] == [{"id": "unit", "value": "dateTimeAsIso"}]


def test_maintenance_dashboard_thresholds_match_the_alerts() -> None:
    """Purge red after 8 days, approval wait red after 30 min, failover red at 1."""
    since = _panel(MAINTENANCE, "Time since last success")
    assert since["fieldConfig"]["defaults"]["unit"] == "s"
    [purge] = [
        override
        for override in since["fieldConfig"]["overrides"]
        if override["matcher"] == {"id": "byName", "options": "purge"}
    ]
    [thresholds] = [p["value"] for p in purge["properties"] if p["id"] == "thresholds"]
    assert _steps(thresholds) == [("green", None), ("orange", 7 * 86400), ("red", 8 * 86400)]
    assert "{{operation}}" in since["targets"][0]["legendFormat"]

    wait = _panel(MAINTENANCE, "Approval wait (last run)")["fieldConfig"]["defaults"]
    assert (wait["unit"], _steps(wait["thresholds"])[-1]) == ("s", ("red", 1800))
    state = _panel(MAINTENANCE, "Failover state")["fieldConfig"]["defaults"]
    assert _steps(state["thresholds"])[-1] == ("red", 1)


def test_maintenance_dashboard_covers_every_pushed_and_exchange_metric() -> None:
    exprs = " ".join(q.expr for q in QUERIES if q.dashboard == MAINTENANCE)
    for metric in (
        "bot_core_maintenance_runs_total",
        "bot_core_maintenance_targets_total",
        "bot_core_maintenance_bytes_total",
        "bot_core_maintenance_approval_wait_seconds",
        "bot_core_maintenance_last_run_timestamp_seconds",
        "bot_core_maintenance_last_success_timestamp_seconds",
        "exchange_failover_state",
        "exchange_failover_switch_total",
        "exchange_fill_ratio",
        "exchange_slippage_bps_bucket",
        "exchange_order_latency_seconds_bucket",
    ):
        assert metric in exprs, metric
    assert re.search(r"increase\(exchange_failover_switch_total\{[^}]*\}\[1h\]\)", exprs)


# --- PromQL and Prometheus files ---------------------------------------------------------------


def _rules_file(exprs: dict[str, str]) -> str:
    """A rules file with one recording rule per expression: promtool parses each of them."""
    return str(
        yaml.safe_dump(
            {
                "groups": [
                    {
                        "name": "dashboard_queries",
                        "rules": [{"record": name, "expr": expr} for name, expr in exprs.items()],
                    }
                ]
            },
            allow_unicode=True,
        )
    )


def _dashboard_exprs() -> dict[str, str]:
    """Every panel query with its variables set to .*, plus each variable's metric selector."""
    exprs: dict[str, str] = {}
    for name, board in DASHBOARDS.items():
        any_value = {variable: ".*" for variable in variable_defaults(board)}
        for query in panel_queries(name, board):
            exprs[f"query_{len(exprs)}"] = substitute(query.expr, any_value)
        for variable in board["templating"]["list"]:
            match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
            assert match, variable["query"]["query"]
            exprs[f"variable_{len(exprs)}"] = match.group(1)
    return exprs


def test_every_dashboard_query_parses(tmp_path: Path) -> None:
    exprs = _dashboard_exprs()
    assert len(exprs) == len(QUERIES) + sum(
        len(board["templating"]["list"]) for board in DASHBOARDS.values()
    )
    rules = tmp_path / "dashboard_queries.yml"
    rules.write_text(_rules_file(exprs), encoding="utf-8")
    result = _promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_the_parse_check_rejects_a_broken_query(tmp_path: Path) -> None:
    """The check above would catch a typo: promtool really parses each expression."""
    rules = tmp_path / "broken.yml"
    rules.write_text(_rules_file({"query_0": 'sum(increase(x{model=~".*"}[15m])'}))
    result = _promtool("check", "rules", str(rules))
    assert result.returncode != 0
    assert "parse error" in result.stdout + result.stderr


def test_prometheus_config_scrapes_pushgateway_and_exchange_metrics() -> None:
    result = _promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["pushgateway"]["honor_labels"] is True
    assert jobs["bot_core_exchanges"]["static_configs"] == [{"targets": ["127.0.0.1:9000"]}]
    assert [PROMETHEUS_DIR / f for f in config["rule_files"]] == [RULES]


def _alerts() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_alert_rules_parse_and_tell_the_operator_what_to_do() -> None:
    result = _promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    for rule in _alerts():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, rule["alert"]
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook", "dashboard"} <= set(annotations)
        assert annotations["dashboard"] in UIDS.values(), rule["alert"]


def test_guardrail_alerts_use_the_dashboard_thresholds() -> None:
    thresholds = {
        rule["alert"]: float(re.search(r">\s*([\d.]+)\s*$", rule["expr"].strip()).group(1))  # type: ignore[union-attr]
        for rule in _alerts()
        if "UnderGuardrail" in rule["alert"]
    }
    assert thresholds == {
        "ModelChangesUnderGuardrailHigh": 0.3,
        "ModelChangesUnderGuardrailCritical": 0.6,
        "RetrainingUnderGuardrailHigh": 0.2,
        "RetrainingUnderGuardrailCritical": 0.5,
    }


def test_every_alert_is_proven_to_fire_by_promtool_test_rules() -> None:
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    firing = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert firing == {rule["alert"] for rule in _alerts()}
    result = _promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
