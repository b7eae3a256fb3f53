"""``python -m bot_core.exchanges``: the drill and serve-fake, JSON on stdout, clean errors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from bot_core.exchanges import DrillReport, FakeBinanceServer, read_event_log
from bot_core.exchanges._cli import ServeReport, main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def drill_args(fake: FakeBinanceServer, tmp_path: Path, *extra: str) -> list[str]:
    return [
        "drill",
        "--exchange",
        "binance",
        "--endpoint",
        fake.endpoint,
        "--report-dir",
        str(tmp_path / "sq"),
        "--log-file",
        str(tmp_path / "logs/exchange_manager.log"),
        *extra,
    ]


def test_drill_passes_and_reports_the_switch_counter_before_and_after(
    capsys: pytest.CaptureFixture[str], fake: FakeBinanceServer, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, *drill_args(fake, tmp_path, "--metrics-port", "0"))
    assert code == 0
    report = DrillReport.model_validate_json(out)
    assert report.status == "passed"
    assert [(s.name, s.ok, s.backend) for s in report.steps] == [
        ("baseline", True, "native"),
        ("degrade", True, "ccxt"),
        ("verify_ccxt", True, "ccxt"),
        ("recover", True, "native"),
        ("verify_native", True, "native"),
    ]
    data = json.loads(out)
    assert data["exchange_failover_switch_total"] == {
        "before": {"native": 0.0, "ccxt": 0.0},
        "after": {"native": 1.0, "ccxt": 1.0},
    }
    assert report.metrics_url is not None and report.metrics_url.startswith("http://127.0.0.1:")
    assert report.metrics_after.exchange_failover_state == 0.0
    assert [e.name for e in report.events] == [
        "exchange.signal_quality.degraded",
        "exchange.failover.engaged",
        "exchange.signal_quality.recovered",
        "exchange.failover.recovered",
    ]
    # both backends really talked to the endpoint
    assert fake.request_count("native", "GET", "/api/v3/time") >= 2
    assert fake.request_count("ccxt", "GET", "/api/v3/exchangeInfo") == 1
    logged = read_event_log(tmp_path / "logs/exchange_manager.log")
    assert ("exchange.failover.engaged", "native") in [
        (e.event, e.previous_backend) for e in logged
    ]
    assert (tmp_path / "sq/binance.json").is_file()


def test_drill_against_a_dead_endpoint_fails_with_a_report(
    capsys: pytest.CaptureFixture[str], fake: FakeBinanceServer, tmp_path: Path
) -> None:
    args = drill_args(fake, tmp_path, "--timeout", "0.2")
    fake.stop()
    code, out, _ = run(capsys, *args)
    assert code == 1
    report = DrillReport.model_validate_json(out)
    assert report.status == "failed"
    assert [(s.name, s.ok) for s in report.steps] == [("baseline", False)]
    assert report.exchange_failover_switch_total["after"] == {"native": 0.0, "ccxt": 0.0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["drill"], "--endpoint"),
        (["drill", "--endpoint", "ftp://x"], "endpoint must be an http(s) URL"),
        (["drill", "--endpoint", "http://h/api"], "scheme://host[:port] only"),
        (["drill", "--endpoint", "http://h", "--exchange", "kraken"], "invalid choice"),
        (["drill", "--endpoint", "http://h", "--metrics-port", "70000"], "0..65535"),
        (["drill", "--endpoint", "http://h", "--cooldown", "-1"], "0 or more"),
        (["drill", "--endpoint", "http://h", "--timeout", "0"], "timeout"),
        (["serve-fake", "--port", "x"], "not a port"),
        (["nope"], "invalid choice"),
        ([], "a command is required"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_stdout(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert "Traceback" not in err


def test_metrics_port_in_use_is_a_clean_error(
    capsys: pytest.CaptureFixture[str], fake: FakeBinanceServer, tmp_path: Path
) -> None:
    port = fake.endpoint.rsplit(":", 1)[1]
    code, out, err = run(capsys, *drill_args(fake, tmp_path, "--metrics-port", port))
    assert code == 1 and out == "" and err.startswith("error: ") and err.count("\n") == 1


def test_serve_fake_serves_then_reports_what_it_was_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "serve-fake", "--duration", "0.05")
    assert code == 0 and "listening on http://127.0.0.1:" in err
    report = ServeReport.model_validate_json(out)
    assert report.stopped_by == "duration" and report.state.requests == {}


def test_serve_fake_control_endpoint_switches_faults(fake: FakeBinanceServer) -> None:
    body = json.dumps({"mode": "http_500", "target": "native", "count": 1}).encode()
    request = urllib.request.Request(f"{fake.endpoint}/__fake__/faults", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["faults"][0]["mode"] == "http_500"
    bad = urllib.request.Request(
        f"{fake.endpoint}/__fake__/faults", data=b'{"mode": "explode"}', method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(bad, timeout=5)
    assert caught.value.code == 400
    caught.value.close()


def test_python_dash_m_runs_the_drill(fake: FakeBinanceServer, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot_core.exchanges", "drill", "--endpoint", fake.endpoint],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = DrillReport.model_validate_json(done.stdout)
    assert report.status == "passed"
    assert (tmp_path / "logs/exchange_manager.log").is_file()
    assert (tmp_path / "reports/exchanges/signal_quality/binance.json").is_file()


def test_serve_fake_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot_core.exchanges", "serve-fake"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline().decode()
        assert "listening on http://127.0.0.1:" in line
        endpoint = line.split("listening on ", 1)[1].split()[0]
        with urllib.request.urlopen(f"{endpoint}/api/v3/time", timeout=5) as response:
            assert "serverTime" in json.loads(response.read())
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    report = ServeReport.model_validate_json(out)
    assert report.stopped_by == "signal"
    assert report.state.requests == {"unknown GET /api/v3/time": 1}
