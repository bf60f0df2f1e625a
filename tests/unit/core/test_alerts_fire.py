"""Prometheus, run as deploy/ runs it, scrapes the app's /metrics and fires an alert.

The rules and the scrape job come from deploy/prometheus (alerts.yml, prometheus.yml);
only the timings are shortened (1 s scrapes and evaluations, every `for:` 1 s) so an
alert fires within seconds. The app is its HTTP routes (`build_api`) served by uvicorn;
stopping it is the replica going down. Needs the Debian `prometheus` package (.ci/run
installs it); skipped, saying so, without it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml

from pyairtable_ui.api.app import build_api
from pyairtable_ui.core.settings import get_settings
from tests.support.app_server import free_port

DEPLOY = Path(__file__).resolve().parents[3] / "deploy" / "prometheus"
PROMETHEUS = shutil.which("prometheus")
METRICS_TOKEN = "alerts-test-metrics-token"

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="the `prometheus` binary is not installed (apt-get install prometheus): "
    "deploy/prometheus/alerts.yml not run against the app",
)


class _App:
    """The app's HTTP routes on a loopback port, until `stop`."""

    def __init__(self) -> None:
        self.port = free_port()
        config = uvicorn.Config(build_api(), host="127.0.0.1", port=self.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline, "the app's routes did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> Iterator[_App]:
    monkeypatch.setenv("METRICS_TOKEN", METRICS_TOKEN)
    get_settings.cache_clear()
    running = _App()
    yield running
    running.stop()


def _config(tmp_path: Path, target: str) -> Path:
    """deploy/prometheus/prometheus.yml with the app as target and every timing shortened."""
    rules = (DEPLOY / "alerts.yml").read_text()
    rules, shortened = re.subn(r"(?m)^(\s+for:\s*)\S+", r"\g<1>1s", rules)
    assert shortened, "the rules have no `for:` to shorten"
    (tmp_path / "alerts.yml").write_text(rules)
    (tmp_path / "metrics_token").write_text(METRICS_TOKEN)
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    [job] = config["scrape_configs"]
    job["static_configs"] = [{"targets": [target]}]
    job["authorization"]["credentials_file"] = str(tmp_path / "metrics_token")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def prometheus(tmp_path: Path, app: _App) -> Iterator[str]:
    """Prometheus on a loopback port, scraping `app`; its base URL."""
    assert PROMETHEUS is not None
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={_config(tmp_path, f'127.0.0.1:{app.port}')}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: _ready(url), 60, "Prometheus did not start", tmp_path)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _query(url: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5).json()
    return list(answer["data"]["result"])


def _firing(url: str) -> dict[str, dict[str, str]]:
    alerts = httpx.get(f"{url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return {a["labels"]["alertname"]: a["labels"] for a in alerts if a["state"] == "firing"}


def _wait(condition: Any, seconds: float, what: str, tmp_path: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            log = (tmp_path / "prometheus.log").read_text()[-3000:] if tmp_path else ""
            raise AssertionError(f"{what} within {seconds} s\n{log}")
        time.sleep(0.25)


def test_prometheus_scrapes_the_app_and_fires_replica_down_once_it_stops(
    app: _App, prometheus: str
) -> None:
    target = f"127.0.0.1:{app.port}"
    # Scraped with the bearer token as deploy/ sends it: the app's own counters arrive.
    _wait(
        lambda: [r["value"][1] for r in _query(prometheus, 'up{job="pyairtable_ui"}')] == ["1"],
        20,
        "Prometheus did not scrape the app",
    )
    # A scrape is counted after its answer: the second scrape carries the first one.
    served = 'pyairtable_ui_http_requests_total{route="metrics", status="200"}'
    _wait(lambda: bool(_query(prometheus, served)), 10, "the app's own counters did not arrive")
    # Only this alert is under test: the pytest process's own counters (earlier tests'
    # requests and errors) may trip the others' thresholds while it serves the routes.
    assert "PyAirtableUIReplicaDown" not in _firing(prometheus), "a healthy app is not down"

    app.stop()
    _wait(lambda: "PyAirtableUIReplicaDown" in _firing(prometheus), 30, "no alert fired")

    firing = _firing(prometheus)
    assert firing["PyAirtableUIReplicaDown"]["instance"] == target
    assert firing["PyAirtableUIReplicaDown"]["severity"] == "critical"
