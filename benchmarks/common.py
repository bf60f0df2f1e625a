"""Plumbing shared by the benchmarks: environment, statistics, output and the running app.

Nothing here reaches beyond loopback: Airtable, the LLM and the OIDC provider are the
local fakes from ``tests/fakes``. Settings are read once per process (``get_settings``
is cached), so every helper that sets environment variables must run before the first
``pyairtable_ui`` import that reads them; the benchmark modules therefore import the app
lazily, inside functions.
"""

from __future__ import annotations

import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
]


# --- environment -----------------------------------------------------------------------


def offline_defaults() -> None:
    """What ``scripts/env.sh`` exports, for a benchmark started without it.

    Keeps Reflex and litellm from reaching the internet (telemetry, version checks,
    the model cost map) and points Reflex at the project's own bun.
    """
    defaults = {
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
        "REFLEX_HTTP_CLIENT_BIND_ADDRESS": "0.0.0.0",  # noqa: S104 (what env.sh sets; no server binds it)
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    bun = ROOT / ".tools" / "bin" / "bun"
    if bun.exists():
        defaults["REFLEX_BUN_PATH"] = str(bun)
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    tools_bin = str(ROOT / ".tools" / "bin")
    venv_bin = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    for entry in (tools_bin, venv_bin):
        if entry not in path.split(os.pathsep):
            path = entry + os.pathsep + path
    os.environ["PATH"] = path


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so context managers stop what the benchmark started.

    Without this, a terminated benchmark would leave the app's process group (started
    in its own session) and temporary folders behind.
    """

    def _exit(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)


def app_settings_env(*, database_url: str, airtable_url: str, **extra: str) -> dict[str, str]:
    """Environment of the app's settings for a benchmark, and apply it to this process.

    This process gets the same SECRET_KEY and DATABASE_URL as the app under test, so it
    can create users, sessions and encrypted tokens the app accepts. REDIS_URL is
    removed: the benchmarks measure the embedded configuration, and a schema cached in
    a shared Redis by an earlier run would hide the fetch the schema benchmark counts.

    Args:
        database_url: The benchmark's own (temporary) database.
        airtable_url: The Airtable emulator.
        **extra: More settings, e.g. ``LLM_API_BASE="http://..."``.

    Returns:
        The variables set (to hand to the app's process as well).
    """
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "AIRTABLE_API_URL": airtable_url,
        "LLM_MODEL": "openai/scripted",
        "LLM_API_KEY": "sk-benchmark",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    return env


def migrate(database_url: str) -> None:
    """Bring a (new) database to the newest migration."""
    from pyairtable_ui.core.db import make_engine
    from pyairtable_ui.core.migrations import upgrade_to_head

    engine = make_engine(database_url)
    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()


# --- statistics ------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def max_in_window(timestamps: Iterable[float], window: float = 1.0) -> int:
    """The most timestamps that fall in any half-open interval ``[t, t + window)``."""
    ordered = sorted(timestamps)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


# --- output ----------------------------------------------------------------------------


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a compact aligned table (numbers right-aligned)."""
    text_rows = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    # A column is numeric when every cell in it is (the first column is always a label).
    numeric = [
        i > 0 and bool(text_rows) and all(_looks_numeric(row[i]) for row in text_rows)
        for i in range(len(headers))
    ]
    print(f"\n{title}")
    print(
        "  "
        + "  ".join(
            h.rjust(w) if num else h.ljust(w)
            for h, w, num in zip(headers, widths, numeric, strict=True)
        ).rstrip()
    )
    print("  " + "  ".join("-" * w for w in widths))
    for row in text_rows:
        cells = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        print("  " + "  ".join(cells).rstrip())


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _looks_numeric(text: str) -> bool:
    stripped = text.replace(",", "").removesuffix("%").removesuffix("/s")
    if stripped == "-":
        return True
    try:
        float(stripped)
    except ValueError:
        return False
    return True


def verdict(met: bool, text: str) -> bool:
    """Print the one-line verdict of a benchmark and return ``met``."""
    print(f"\nVERDICT: {'MET' if met else 'MISSED'} - {text}")
    return met


# --- the running app -------------------------------------------------------------------


def isolated_checkout(parent: Path) -> Path:
    """A throwaway clone of the repository's last commit, ready to build offline.

    The production build writes into ``.web/`` of the folder it runs in; running from a
    clone keeps the benchmark from clashing with tests or other runs using the main
    checkout. ``git clone`` only reads the main repository. ``.web/`` is copied (without
    the old build) so the clone reuses the installed frontend packages instead of
    downloading them.

    Args:
        parent: A temporary folder to put the clone in.

    Returns:
        The clone's root folder.
    """
    clone = parent / "repo"
    subprocess.run(
        ["git", "clone", "--quiet", str(ROOT), str(clone)],
        check=True,
        capture_output=True,
    )
    web = ROOT / ".web"
    if web.is_dir():
        # rsync/cp keep symlinks and are several times faster than shutil for ~200 MB.
        if shutil.which("rsync"):
            subprocess.run(
                ["rsync", "-a", "--exclude", "/build/", f"{web}/", f"{clone / '.web'}/"],
                check=True,
            )
        else:
            subprocess.run(["cp", "-a", str(web), str(clone / ".web")], check=True)
            shutil.rmtree(clone / ".web" / "build", ignore_errors=True)
    return clone


@dataclass
class AppUnderTest:
    """The production app on loopback, wired to the fakes, with a temporary database.

    Use as a context manager; everything it starts (fakes, the app's process group, a
    clone) is stopped and removed on exit, also after an error or Ctrl-C.

    Attributes:
        isolated: Build and run from a temporary clone instead of the main checkout.
        airtable_rate_limit: The emulator's per-base limit (0: none).
        app_requests_per_second: AIRTABLE_REQUESTS_PER_SECOND of the app.
        llm_responder: What the scripted LLM answers when nothing is queued (the demo
            tour's ``tests.fakes.llm.tour.tour_reply``).
        extra_env: More settings of the app (they win over the defaults).
        url: The app's address once started.
    """

    isolated: bool = False
    airtable_rate_limit: int = 5
    app_requests_per_second: float = 5.0
    llm_responder: Any = None
    extra_env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    _tmp: Path | None = field(default=None, repr=False)
    _stack: list[Any] = field(default_factory=list, repr=False)
    _app: Any = field(default=None, repr=False)
    _token_check: Any = field(default=None, repr=False)
    _saved_root: Path | None = field(default=None, repr=False)
    emulator: Any = field(default=None, repr=False)

    def __enter__(self) -> Self:
        offline_defaults()
        exit_cleanly_on_sigterm()
        self._tmp = Path(tempfile.mkdtemp(prefix="pyairtable-ui-bench-"))
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        from pyairtable_ui.emulator import AirtableEmulator
        from pyairtable_ui.emulator.seeds import build_seed
        from tests.fakes.llm import ScriptedLLM
        from tests.fakes.oauth import OAuthProvider
        from tests.support import app_server

        assert self._tmp is not None
        started = time.monotonic()
        self.emulator = AirtableEmulator(
            build_seed(), rate_limit=self.airtable_rate_limit, penalty_seconds=1.0
        ).start()
        self._stack.append(self.emulator)
        llm = ScriptedLLM(responder=self.llm_responder).start()
        self._stack.append(llm)
        # OIDC makes the login page show "Sign in with ..." only once its state has
        # loaded over the websocket: the page-load benchmark waits for that link.
        provider = OAuthProvider().start()
        self._stack.append(provider)

        metrics_dir = self._tmp / "prometheus"
        metrics_dir.mkdir()
        env = app_settings_env(
            database_url=f"sqlite:///{self._tmp / 'app.db'}",
            airtable_url=self.emulator.url,
            LLM_API_BASE=llm.api_base,
            AIRTABLE_REQUESTS_PER_SECOND=str(self.app_requests_per_second),
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            OIDC_ISSUER=provider.issuer,
            OIDC_CLIENT_ID=provider.client_id,
            OIDC_CLIENT_SECRET=str(provider.client_secret),
            OIDC_NAME="Benchmark SSO",
            # Reflex binds 0.0.0.0 by default; a benchmark has no business beyond loopback.
            REFLEX_BACKEND_HOST="127.0.0.1",
            **self.extra_env,
        )
        root = ROOT
        if self.isolated:
            print("preparing a temporary clone of the last commit (--isolated)...", flush=True)
            root = isolated_checkout(self._tmp)
        print(f"building and starting the production app from {root} ...", flush=True)
        # RunningApp builds and runs in its module's ROOT; point it at the chosen
        # checkout for this start only (restored in __exit__).
        self._saved_root = app_server.ROOT
        app_server.ROOT = root
        self._app = app_server.RunningApp(env, self._tmp / "app.log", startup_timeout=420)
        self._app.start()
        self.url = self._app.url
        print(f"app ready at {self.url} after {time.monotonic() - started:.0f} s", flush=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Each step runs even if an earlier one fails: nothing may be left running.
        try:
            if self._app is not None:
                if isinstance(exc, Exception):  # not for Ctrl-C or SIGTERM
                    print(f"--- app log (tail) ---\n{self._app.log_tail()}", file=sys.stderr)
                app, self._app = self._app, None
                app.stop()
        finally:
            if self._saved_root is not None:
                from tests.support import app_server

                app_server.ROOT = self._saved_root
                self._saved_root = None
            try:
                while self._stack:
                    self._stack.pop().stop()
            finally:
                if self._tmp is not None:
                    shutil.rmtree(self._tmp, ignore_errors=True)
                    self._tmp = None

    def create_signed_in_users(self, count: int) -> list[str]:
        """Onboarded users (Airtable connected, base chosen), each with a browser session.

        Written straight to the app's database, as the sign-up, verification and
        onboarding pages would leave it; the UI flows are the integration tests' job.

        Args:
            count: How many users.

        Returns:
            One raw session token (the value of the session cookie) per user.
        """
        from pyairtable_ui.airtable.connections import check_airtable_token, save_connection
        from pyairtable_ui.auth.models import OnboardingStep, User
        from pyairtable_ui.auth.sessions import create_session
        from pyairtable_ui.core.db import session_scope, utcnow
        from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TOKEN_FULL

        if self._token_check is None:
            self._token_check = check_airtable_token(TOKEN_FULL, api_url=self.emulator.url)
        tokens = []
        with session_scope() as db:
            for _ in range(count):
                user = User(
                    email=f"bench-{secrets.token_hex(5)}@example.com",
                    display_name="Benchmark User",
                    email_verified_at=utcnow(),
                    onboarding_step=OnboardingStep.DONE.value,
                    default_base_id=BASE_PROJECTS_ID,
                )
                db.add(user)
                db.flush()
                save_connection(session=db, user=user, token=TOKEN_FULL, check=self._token_check)
                raw, _row = create_session(session=db, user=user, user_agent="benchmark")
                tokens.append(raw)
        return tokens
