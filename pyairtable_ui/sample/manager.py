"""Start the sample server on demand, once per data folder, and talk to it.

Why one subprocess for the whole app rather than an emulator in each worker: the app may
run several Reflex backend workers (WEB_WORKERS), and a user's requests land on any of
them. Two in-memory copies of one sample would drift apart (a write through one worker
invisible to the other, saved files overwriting each other). So the first worker that needs
the sample server starts it as a child process, under an exclusive lock on
``<folder>/server.lock`` (fcntl), and the server records its address in
``<folder>/server.json``; every other worker (and this one after a restart) reads that
record and reuses the running server while its process is alive and answers. The server
binds a free port on 127.0.0.1 (never another interface), stops when the app does, and
keeps its data in the folder, so a new server picks up where the last one stopped.

The control key in the record (a file only this account may read) is what the control
endpoints require: another local user cannot mint or reset samples.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import PROJECT_ROOT, get_settings

logger = logging.getLogger(__name__)

CONTROL_KEY_VARIABLE = "SAMPLE_CONTROL_KEY"
RECORD_NAME = "server.json"
START_TIMEOUT_SECONDS = 30.0
CONTROL_TIMEOUT_SECONDS = 10.0


class SampleUnavailableError(UserFacingError):
    """The sample server could not be started or did not answer."""

    default_message = (
        "The sample base could not be started. Try again in a moment; if it keeps failing, "
        "the server's log says why."
    )


@dataclass(frozen=True)
class SampleServer:
    """A running sample server, as its record in the data folder describes it.

    Attributes:
        url: Its Airtable Web API address, e.g. ``http://127.0.0.1:41234``.
        pid: Its process id.
        key: The secret its control endpoints require.
    """

    url: str
    pid: int
    key: str


def write_server_record(folder: Path, *, url: str, pid: int, key: str) -> None:
    """Record a started server's address for the app's workers (called by the server).

    Args:
        folder: The data folder.
        url: The server's address.
        pid: The server's process id.
        key: Its control key.
    """
    temporary = folder / (RECORD_NAME + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"url": url, "pid": pid, "key": key}, handle)
    os.replace(temporary, folder / RECORD_NAME)


def _read_record(folder: Path) -> SampleServer | None:
    try:
        data = json.loads((folder / RECORD_NAME).read_text(encoding="utf-8"))
        return SampleServer(url=str(data["url"]), pid=int(data["pid"]), key=str(data["key"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another account's process took the pid: not ours
        return False
    return True


def _answers(server: SampleServer) -> bool:
    try:
        with urllib.request.urlopen(  # noqa: S310 (our own http://127.0.0.1 address)
            server.url + "/_emulator/health", timeout=2
        ) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


class SampleServers:
    """The sample server of one data folder, started when first needed (see the module)."""

    def __init__(self, folder: Path) -> None:
        """Nothing starts until `ensure` is called.

        Args:
            folder: The data folder (created when the server first starts).
        """
        self.folder = folder
        self._known: SampleServer | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _usable(self, server: SampleServer | None) -> bool:
        if server is None:
            return False
        if self._child is not None and self._child.pid == server.pid:
            # Our own child: poll() reaps it when it died (a zombie still answers kill 0).
            if self._child.poll() is not None:
                return False
        return _process_alive(server.pid)

    def ensure(self) -> SampleServer:
        """The running server, started now when there is none.

        Blocking (it may wait for the server to start): call it through a thread.

        Returns:
            The server's address, pid and key.

        Raises:
            SampleUnavailableError: It did not start within START_TIMEOUT_SECONDS.
        """
        with self._lock:
            if self._usable(self._known):
                assert self._known is not None
                return self._known
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._folder_lock():
                recorded = _read_record(self.folder)
                if self._usable(recorded) and recorded is not None and _answers(recorded):
                    self._known = recorded
                    return recorded
                self._known = self._start()
                return self._known

    @contextlib.contextmanager
    def _folder_lock(self) -> Iterator[None]:
        # Between processes (the workers), so one of them starts the server, once.
        with open(self.folder / "server.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _start(self) -> SampleServer:
        (self.folder / RECORD_NAME).unlink(missing_ok=True)
        key = secrets.token_urlsafe(32)
        env = {**os.environ, CONTROL_KEY_VARIABLE: key}
        log = open(self.folder / "server.log", "ab")
        try:
            self._child = subprocess.Popen(  # noqa: S603 (this Python, our own module)
                [sys.executable, "-m", "pyairtable_ui.sample", str(self.folder)],
                env=env,
                cwd=PROJECT_ROOT,  # where `pyairtable_ui` imports from, whatever the app's cwd
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._child.poll() is not None:
                break
            recorded = _read_record(self.folder)
            if recorded is not None and recorded.pid == self._child.pid and _answers(recorded):
                logger.info("sample server started url=%s pid=%s", recorded.url, recorded.pid)
                return recorded
            time.sleep(0.05)
        logger.error(
            "sample server did not start exit=%s log=%s",
            self._child.poll(),
            self.folder / "server.log",
        )
        if self._child.poll() is None:
            self._child.terminate()
        raise SampleUnavailableError()

    def _control(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        server = self.ensure()
        request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 address)
            f"{server.url}/_emulator/{action}",
            data=json.dumps({**body, "key": server.key}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 (as above)
                request, timeout=CONTROL_TIMEOUT_SECONDS
            ) as response:
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            logger.warning("sample server refused action=%s status=%s", action, exc.code)
            raise SampleUnavailableError() from exc
        except (OSError, ValueError) as exc:
            logger.warning("sample server unreachable action=%s error=%s", action, exc)
            raise SampleUnavailableError() from exc

    def create_sample(self) -> str:
        """A new private sample (the demo CRM and roadmap); its token.

        Blocking: call it through a thread.

        Returns:
            A token that sees this sample only.

        Raises:
            SampleUnavailableError: The server could not be started or refused.
        """
        return str(self._control("samples", {})["token"])

    def reset_sample(self, token: str) -> None:
        """Put the token's sample back as the demo seed: every change made to it is gone.

        Blocking: call it through a thread.

        Args:
            token: The sample's token.

        Raises:
            SampleUnavailableError: The server could not be started, or does not know it.
        """
        self._control("samples/reset", {"token": token})

    def stop(self) -> None:
        """Stop the server this process started (tests; the app's end stops it anyway)."""
        with self._lock:
            child, self._child, self._known = self._child, None, None
            if child is not None and child.poll() is None:
                child.terminate()
                child.wait(timeout=10)


_servers: dict[Path, SampleServers] = {}
_servers_lock = threading.Lock()


def sample_servers() -> SampleServers:
    """The sample server of the configured data folder (AIRTABLE_SAMPLE_DIR), one per process."""
    folder = Path(get_settings().airtable_sample_dir).resolve()
    with _servers_lock:
        if folder not in _servers:
            _servers[folder] = SampleServers(folder)
        return _servers[folder]
