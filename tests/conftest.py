"""Shared fixtures: databases for each test pass, the running app, the browser.

The suite runs twice (see scripts/test.sh): once on the embedded defaults
(SQLite, Reflex state in memory) and once with TEST_DATABASE_URL (PostgreSQL)
and REDIS_URL set. Fixtures here read those variables, so tests need not care.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports litellm: otherwise it fetches its cost map from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.support.databases import fresh_database_url

FAKE_ONLY_DIRS = ("emulator", "llm_fake")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the test doubles' own suites (the PostgreSQL + Redis pass skips them) and run
    the browser tests last: fast failures first, and Playwright's event loop, which lives
    as long as the browser, cannot disturb the async tests."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if any(part in FAKE_ONLY_DIRS for part in parts):
            item.add_marker(pytest.mark.fake_only)
        if "integration" in parts:
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: "integration" in Path(str(item.fspath)).parts)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which backends this pass uses, so a log shows what was tested."""
    database = "PostgreSQL" if os.environ.get("TEST_DATABASE_URL") else "SQLite"
    state = "Redis" if os.environ.get("REDIS_URL") else "in-memory"
    return [f"pyairtable-ui test pass: database={database}, Reflex state={state}"]


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    """REDIS_URL of this pass, or None on the embedded pass."""
    return os.environ.get("REDIS_URL") or None


@pytest.fixture(scope="session")
def app_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database for the app under test (SQLite file or PostgreSQL)."""
    with fresh_database_url(tmp_path_factory.mktemp("db") / "app.db") as url:
        yield url


@pytest.fixture(scope="session")
def mailbox() -> Iterator[object]:
    """A real SMTP server the app sends its emails to."""
    from tests.support.mailbox import Mailbox

    box = Mailbox().start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def app_airtable() -> Iterator[object]:
    """The Airtable emulator the app under test talks to (rate limit as real Airtable)."""
    from pyairtable_ui.emulator import AirtableEmulator
    from pyairtable_ui.emulator.seeds import build_seed

    # 60 extra Items records give the bulk-write tests more than the 20-record threshold.
    with AirtableEmulator(
        build_seed(big_table_records=60), rate_limit=5, penalty_seconds=1.0
    ) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def app_llm() -> Iterator[object]:
    """The scripted LLM the app under test talks to."""
    from tests.fakes.llm import ScriptedLLM

    with ScriptedLLM() as llm:
        yield llm


@pytest.fixture(scope="session")
def app_oauth_provider() -> Iterator[object]:
    """The OIDC issuer and Airtable OAuth server of the app under test (one local provider).

    Its Airtable role issues the emulator's TOKEN_FULL, so "Connect with Airtable" ends
    with a token the app's emulator accepts.
    """
    from pyairtable_ui.emulator.seeds import TOKEN_FULL
    from tests.fakes.oauth import OAuthProvider

    with OAuthProvider(consent="form", airtable_access_token=TOKEN_FULL) as provider:
        yield provider


@pytest.fixture(scope="session")
def app_server(
    tmp_path_factory: pytest.TempPathFactory,
    app_database_url: str,
    redis_url: str | None,
    mailbox: object,
    app_airtable: object,
    app_llm: object,
    app_oauth_provider: object,
) -> Iterator[object]:
    """The production build of the app on a free port, wired to the local fakes."""
    from tests.support.app_server import RunningApp

    run_dir = tmp_path_factory.mktemp("app")
    metrics_dir = run_dir / "prometheus"
    metrics_dir.mkdir()
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": app_database_url,
        "AIRTABLE_API_URL": app_airtable.url,  # type: ignore[attr-defined]
        # A sample base chosen in a test lives with this run, not in the checkout's .run/.
        "AIRTABLE_SAMPLE_DIR": str(run_dir / "sample"),
        "LLM_MODEL": "openai/scripted",
        "LLM_API_BASE": app_llm.api_base,  # type: ignore[attr-defined]
        "LLM_API_KEY": "sk-test-key",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(mailbox.port),  # type: ignore[attr-defined]
        "SMTP_STARTTLS": "false",
        # The browser tests register many accounts; the invite test sets invite-only itself.
        "REGISTRATION": "open",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        # Uploaded imports and written exports.
        "FILES_DIR": str(run_dir / "files"),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # The restart test waits this long for a killed action to count as interrupted.
        "ACTION_HEARTBEAT_SECONDS": "5",
        # Housekeeping (purge ended sessions, close abandoned answers) every 2 s.
        "HOUSEKEEPING_INTERVAL_SECONDS": "2",
        # A schedule's timer takes effect within a second, and may tick in seconds.
        "SCHEDULE_POLL_SECONDS": "1",
        "SCHEDULE_SECONDS_ALLOWED": "true",
        # Single sign-on and "Connect with Airtable", both through the local provider.
        "OIDC_ISSUER": app_oauth_provider.issuer,  # type: ignore[attr-defined]
        "OIDC_CLIENT_ID": app_oauth_provider.client_id,  # type: ignore[attr-defined]
        "OIDC_CLIENT_SECRET": app_oauth_provider.client_secret,  # type: ignore[attr-defined]
        "OIDC_NAME": "Test SSO",
        "AIRTABLE_OAUTH_CLIENT_ID": app_oauth_provider.client_id,  # type: ignore[attr-defined]
        "AIRTABLE_OAUTH_CLIENT_SECRET": app_oauth_provider.client_secret,  # type: ignore[attr-defined]
        "AIRTABLE_OAUTH_URL": app_oauth_provider.url,  # type: ignore[attr-defined]
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
        _forget_rate_limits(redis_url)
    app = RunningApp(env, run_dir / "app.log").start()
    yield app
    app.stop()


def _forget_rate_limits(redis_url: str) -> None:
    # Every browser test comes from 127.0.0.1: counts left in Redis by an earlier
    # run would slow its sign-ins and use up its registration and email budgets.
    import redis

    from pyairtable_ui.auth.limits import KEY_PREFIX

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{KEY_PREFIX}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def unique_email() -> str:
    """An address no other test (or earlier run against the same Redis) has used."""
    return f"user-{secrets.token_hex(4)}@example.com"
