"""`make run` talks to the newcomer (issue 12): a taken port is said before anything else
happens, and the address is printed once the page is really served."""

from __future__ import annotations

import os
import socket
import subprocess
import time

from tests.support.app_server import ROOT


def test_a_taken_port_is_named_with_the_way_out_before_any_work(tmp_path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {
            **os.environ,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
            "SECRET_KEY": "run-script-test-" + "k" * 40,
        }
        env.pop("REDIS_URL", None)
        done = subprocess.run(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,  # the check retries for a few seconds; a busy machine is slower
        )
    assert done.returncode == 1
    assert f"Port {port} is taken" in done.stderr
    assert f"PORT={port + 1} make run" in done.stderr
    # Nothing was done before the check: no migration, no database file.
    assert "migrations" not in done.stdout
    assert not (tmp_path / "never.db").exists()


def test_the_running_app_printed_its_address_once_served(app_server) -> None:
    # The shared app is started by scripts/run.sh and answers by now: its watcher has
    # seen /health answer (within about a second of it) and said where to go.
    def said_ready() -> bool:
        return "PyAirtable UI is ready: open" in app_server.log_path.read_text(errors="replace")

    deadline = time.monotonic() + 30
    while not said_ready() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert said_ready()
