"""Runs the real production app (`scripts/run.sh`, as operators do) as a child process for tests.

run.sh applies the migrations, builds the page when no build of this source and these
settings is there (scripts/build.sh), and serves that build without building it again.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def separate_web_dir(target: Path) -> Path:
    """A copy of the built frontend's workspace for a second app to build in.

    The shared app serves the page built in `.web` for its own address (PUBLIC_URL);
    a build for another address there would replace the assets its open pages load.
    Pass the copy as REFLEX_WEB_WORKDIR (node_modules is hard-linked: the build only
    reads it).

    Args:
        target: A folder that does not exist yet.

    Returns:
        `target`, filled.
    """
    source = ROOT / ".web"
    target.mkdir()
    for entry in source.iterdir():
        if entry.name == "build":
            continue
        if entry.name == "node_modules":
            shutil.copytree(entry, target / entry.name, symlinks=True, copy_function=os.link)
        elif entry.is_dir():
            shutil.copytree(entry, target / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, target / entry.name)
    return target


class RunningApp:
    """The app built for production and served on one port, with its own settings."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        startup_timeout: float = 300,
        host: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        self.log_path = log_path
        self.startup_timeout = startup_timeout
        self.env = {
            # Metrics files of its own, beside its log, unless the caller shares a folder.
            "PROMETHEUS_MULTIPROC_DIR": str(log_path.parent / "prometheus"),
            **os.environ,
            **env,
            "PORT": str(self.port),
            "HOST": host,
            "PUBLIC_URL": env.get("PUBLIC_URL", self.url),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RunningApp:
        """Start the app with scripts/run.sh; wait until `/health` answers 200.

        Starting again after `kill` or `stop` reuses the same port and settings, so it
        serves the page built the first time, without building it again.
        """
        venv_bin = str(Path(sys.executable).parent)
        env = {**self.env, "PATH": f"{venv_bin}:{ROOT / '.tools' / 'bin'}:{self.env['PATH']}"}
        env["REFLEX_LOGLEVEL"] = "info"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the app exited during start-up:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    # /health is served by the backend; wait for the built page as well.
                    login = httpx.get(f"{self.url}/auth/login", timeout=5, follow_redirects=True)
                    if login.status_code == 200:
                        return self
            except httpx.HTTPError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"the app did not become healthy in time:\n{self.log_tail()}")

    def replica(self, host: str, log_path: Path) -> RunningApp:
        """A second app on the same database, Redis and port, listening on another loopback
        address: its page is built for its own address (PUBLIC_URL), so it talks to the
        backend it was loaded from."""
        env = {k: v for k, v in self.env.items() if k not in ("PORT", "PUBLIC_URL", "HOST")}
        # Its own build folder: building in .web would break the first app's open pages.
        env["REFLEX_WEB_WORKDIR"] = str(separate_web_dir(log_path.parent / "web"))
        return RunningApp(
            env, log_path, startup_timeout=self.startup_timeout, host=host, port=self.port
        )

    def log_tail(self, lines: int = 60) -> str:
        """The end of the app's output, for failure messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_text(self) -> str:
        """Everything the app printed so far."""
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """Kill the app and its workers at once (SIGKILL), as a crash or power cut would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop the app and every process it started."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
