"""Outages end in a message: a write-locked database and a Redis that stops answering.

Each user action must end within a few seconds in a message saying what is wrong,
and /health must report a database it cannot write to.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import redis
from playwright.sync_api import expect

from tests.integration.accounts import register, sign_in, verify
from tests.support.app_server import RunningApp, free_port, separate_web_dir
from tests.support.locks import write_lock_held

# The SQLite busy timeout (5 s) plus a sign-in's password check, with room for a busy machine.
MESSAGE_WITHIN_MS = 15_000


def test_a_write_locked_database_fails_health_and_sign_in_says_so(
    app_server, mailbox, page, app_database_url, unique_email
) -> None:
    register(page, app_server.url, unique_email)
    verify(page, mailbox, unique_email)

    with write_lock_held(app_database_url):
        started = time.monotonic()
        response = httpx.get(f"{app_server.url}/health", timeout=15)
        assert time.monotonic() - started < 5
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database_writes"] == {
            "ok": False,
            "error": "database is locked for writing by another process",
        }
        if not app_database_url.startswith("sqlite"):
            return  # PostgreSQL has no single write lock a sign-in waits for.

        sign_in(page, app_server.url, unique_email)
        expect(page.get_by_text("The database is busy")).to_be_visible(timeout=MESSAGE_WITHIN_MS)
        # The action is over: the button can be pressed again.
        expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
        assert "/auth/login" in page.url

    assert httpx.get(f"{app_server.url}/health", timeout=15).status_code == 200


@pytest.fixture
def own_redis() -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A private Redis server this test may stop (never the suite's shared one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.1)
    client.close()
    yield server, url
    if server.poll() is None:
        server.kill()
    server.wait(timeout=10)


@pytest.fixture
def app_on_own_redis(tmp_path, own_redis, app_server) -> Iterator[RunningApp]:
    """The production app on its own SQLite file, the private Redis and its own build.

    `app_server` is requested so that .web exists (it is copied) and stays untouched.
    """
    _server, url = own_redis
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "REDIS_URL": url,
        "LLM_MODEL": "openai/scripted",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "REFLEX_WEB_WORKDIR": str(separate_web_dir(tmp_path / "web")),
    }
    app = RunningApp(env, tmp_path / "app.log").start()
    yield app
    app.stop()


def test_redis_stopping_while_the_app_runs_is_named_at_sign_in(
    app_on_own_redis, own_redis, page
) -> None:
    server, _url = own_redis
    page.goto(f"{app_on_own_redis.url}/auth/login")
    page.get_by_label("Email").fill("someone@example.com")
    page.get_by_label("Password").fill("correct horse battery staple")

    server.terminate()
    server.wait(timeout=10)
    page.get_by_label("Password").press("Enter")

    expect(page.get_by_text("session store (Redis) is not answering")).to_be_visible(
        timeout=MESSAGE_WITHIN_MS
    )
    health = httpx.get(f"{app_on_own_redis.url}/health", timeout=15)
    assert health.status_code == 503
    assert health.json()["checks"]["redis"]["ok"] is False
