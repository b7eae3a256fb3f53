"""``python -m bot_core.metrics`` and the metrics of ``ui_bridge promote``, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot_core.metrics import PushReceipt
from bot_core.metrics._cli import main
from bot_core.registry import build_registry_from_reports, list_champions
from tests.promstack import Pushgateway, closed_port_url

SAMPLES = Path(__file__).parents[1] / "registry" / "sample_reports.json"
BASE = {"environment": "paper", "portfolio": "default", "risk_profile": "balanced"}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def python_m(
    module: str, *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m module`` with only our variables from ``env`` (and ``cwd``: the promote
    command writes ``logs/report_center.log`` under it)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BOT_CORE_")}
    repo = str(Path(__file__).parents[2])
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [repo, clean.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_record_model_change_counts_and_blocks(
    pushgateway: Pushgateway, capsys: pytest.CaptureFixture[str]
) -> None:
    for state in ("none", "active"):
        code, out, err = cli(
            capsys, "record-model-change", "--model", "decision_engine", "--source", "auto",
            "--guardrail-state", state,
        )  # fmt: skip
        assert (code, err) == (0, "")
    receipt = PushReceipt.model_validate_json(out)
    assert receipt.job == "auto_trader_model_changes"
    assert receipt.grouping_key == {"model": "decision_engine"}
    job = "auto_trader_model_changes"
    changes = pushgateway.value(
        job, "auto_trader_model_changes_total", **BASE, model="decision_engine", source="auto",
        fallback="0",
    )  # fmt: skip
    assert changes == 2
    blocks = "auto_trader_model_change_guardrail_blocks_total"
    assert pushgateway.value(job, blocks, model="decision_engine", state="active") == 1
    assert pushgateway.value(job, blocks, model="decision_engine", state="kill_switch") == 0
    stamp = pushgateway.value(job, "auto_trader_model_change_timestamp_seconds", **BASE)
    assert stamp is not None and stamp > 1.7e9

    code, out, err = cli(
        capsys, "record-model-change", "--model", "decision_engine", "--source", "manual",
        "--fallback",
    )  # fmt: skip
    assert code == 0
    assert (
        pushgateway.value(job, "auto_trader_model_changes_total", source="manual", fallback="1")
        == 1
    )


def test_record_retraining_and_guardrail_block(
    pushgateway: Pushgateway, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(
        capsys, "record-retraining", "--model", "risk_model", "--source", "scheduler",
        "--guardrail-state", "guardrail",
    )  # fmt: skip
    assert (code, err) == (0, "")
    job = "auto_trader_retraining"
    assert pushgateway.value(job, "auto_trader_retraining_cycles_total", source="scheduler") == 1
    blocked = "auto_trader_retraining_guardrail_blocks_total"
    assert pushgateway.value(job, blocked, model="risk_model", state="guardrail") == 1
    assert pushgateway.value(job, "auto_trader_retraining_timestamp_seconds", **BASE) is not None

    for _ in range(2):
        code, out, _ = cli(capsys, "record-guardrail-block", "--guardrail", "max_drawdown")
        assert code == 0
    assert json.loads(out)["job"] == "auto_trader_guardrails"
    value = pushgateway.value(
        "auto_trader_guardrails", "auto_trader_guardrail_blocks_total", **BASE,
        guardrail="max_drawdown",
    )  # fmt: skip
    assert value == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["record-model-change", "--model", "m", "--source", "robot"], "invalid choice"),
        (["record-model-change", "--source", "auto"], "--model"),
        (["record-retraining", "--model", "m", "--source", "s", "--guardrail-state", "active"],
         "invalid choice"),
        (["record-guardrail-block", "--guardrail", " "], "must not be blank"),
        (["record-guardrail-block", "--guardrail", "g"], "no Pushgateway configured"),
        (["record-guardrail-block", "--guardrail", "g", "--pushgateway", "ftp://x"],
         "BOT_CORE_PUSHGATEWAY_URL: must be an http"),
        (["guardrail-share", "--window", "an hour"], "invalid window"),
        (["guardrail-share"], "no Prometheus configured"),
        ([], "a command is required"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err


def test_a_gateway_that_is_down_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        capsys, "record-guardrail-block", "--guardrail", "g", "--pushgateway", closed_port_url()
    )
    assert (code, out) == (1, "")
    assert err.startswith("error: cannot read http://127.0.0.1:") and err.count("\n") == 1


def test_python_m_bad_input_has_no_traceback() -> None:
    result = python_m("bot_core.metrics", "record-model-change", "--model", "m", env={})
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_ui_bridge_promote_pushes_a_model_change(pushgateway: Pushgateway, tmp_path: Path) -> None:
    quality = tmp_path / "quality"
    build_registry_from_reports(str(quality), json.loads(SAMPLES.read_text()))
    challenger = list_champions(str(quality), model=["risk_model"]).models[0].challengers[0]
    common = [
        "promote", "--model", "risk_model", "--version", challenger.report.version,
        "--reason", "metrics test", "--quality-dir", str(quality),
        "--audit-dir", str(tmp_path / "promotions"),
    ]  # fmt: skip
    env = {"BOT_CORE_PUSHGATEWAY_URL": pushgateway.url, "BOT_CORE_ENVIRONMENT": "live"}
    dry = python_m("bot_core.reporting.ui_bridge", *common, "--dry-run", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert pushgateway.groups() == [], "a dry run is not a model change"

    done = python_m(
        "bot_core.reporting.ui_bridge", *common, "--guardrail-state", "kill_switch", env=env,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    job = "auto_trader_model_changes"
    changes = pushgateway.value(
        job, "auto_trader_model_changes_total", environment="live", model="risk_model",
        source="manual", fallback="0",
    )  # fmt: skip
    assert changes == 1
    blocks = "auto_trader_model_change_guardrail_blocks_total"
    assert pushgateway.value(job, blocks, model="risk_model", state="kill_switch") == 1


def test_ui_bridge_promote_survives_a_gateway_that_is_down(tmp_path: Path) -> None:
    quality = tmp_path / "quality"
    build_registry_from_reports(str(quality), json.loads(SAMPLES.read_text()))
    challenger = list_champions(str(quality), model=["risk_model"]).models[0].challengers[0]
    done = python_m(
        "bot_core.reporting.ui_bridge", "promote", "--model", "risk_model",
        "--version", challenger.report.version, "--quality-dir", str(quality),
        "--audit-dir", str(tmp_path / "promotions"),
        env={"BOT_CORE_PUSHGATEWAY_URL": closed_port_url()}, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0
    assert json.loads(done.stdout)["status"] == "ok"
    assert done.stderr.startswith("warning: model change metrics not pushed: cannot read")


def test_the_bridge_spells_the_guardrail_states_like_the_metrics() -> None:
    from typing import get_args

    from bot_core.metrics import ModelChangeGuardrailState
    from bot_core.registry._cli import GUARDRAIL_STATES

    assert get_args(ModelChangeGuardrailState) == GUARDRAIL_STATES
