"""``python -m pyairtable_ui.emulator`` runs the emulator until stopped."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pyairtable_ui.emulator.seeds import BASE_CRM_ID, TOKEN_FULL, USER_FULL_ID, build_seed

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(build_seed()))
    return path


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pyairtable_ui.emulator", *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_cli_serves_the_seed_on_the_given_port_until_terminated(
    seed_file: Path, processes: list[subprocess.Popen[str]]
):
    port = free_port()
    process = start("--port", str(port), "--seed", str(seed_file), "--host", "127.0.0.1")
    processes.append(process)
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line == f"Airtable emulator listening on http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {TOKEN_FULL}"}
    whoami = requests.get(f"http://127.0.0.1:{port}/v0/meta/whoami", headers=headers, timeout=5)
    assert whoami.json()["id"] == USER_FULL_ID
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_cli_rate_limit_options(seed_file: Path, processes: list[subprocess.Popen[str]]):
    process = start("--port", "0", "--seed", str(seed_file), "--rate-limit", "2",
                    "--penalty-seconds", "0.5")  # fmt: skip
    processes.append(process)
    assert process.stdout is not None
    url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
    headers = {"Authorization": f"Bearer {TOKEN_FULL}"}
    codes = [
        requests.get(f"{url}/v0/{BASE_CRM_ID}/Contacts", headers=headers, timeout=5).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    settings = requests.get(f"{url}/_emulator/rate-limit", timeout=5).json()
    assert settings == {"rate_limit": 2, "penalty_seconds": 0.5}
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=10) == 0
