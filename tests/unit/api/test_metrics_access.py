"""/metrics: a bearer token when METRICS_TOKEN is set, else loopback only in production."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from pyairtable_ui.api.app import build_api
from pyairtable_ui.core.settings import get_settings

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    monkeypatch.delenv("TRUSTED_PROXY_HOPS", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def get_metrics(client_ip: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=build_api(), client=(client_ip, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        return await client.get("/metrics", headers=headers or {})


async def test_without_a_token_only_loopback_clients_read_metrics():
    assert (await get_metrics("127.0.0.1")).status_code == 200
    assert (await get_metrics("::1")).status_code == 200
    refused = await get_metrics("203.0.113.7")
    assert refused.status_code == 401
    assert "pyairtable" not in refused.text


async def test_a_local_proxy_forwarding_an_outside_request_is_refused(
    monkeypatch: pytest.MonkeyPatch,
):
    # The proxy connects from loopback; the header says who it forwards for.
    forwarded = {"x-forwarded-for": "203.0.113.7"}
    assert (await get_metrics("127.0.0.1", forwarded)).status_code == 401
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "1")
    get_settings.cache_clear()
    assert (await get_metrics("127.0.0.1", forwarded)).status_code == 401
    assert (await get_metrics("127.0.0.1", {"x-forwarded-for": "127.0.0.1"})).status_code == 200


async def test_with_a_token_every_client_needs_the_bearer_token(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    get_settings.cache_clear()
    assert (await get_metrics("127.0.0.1")).status_code == 401
    assert (await get_metrics("203.0.113.7", {"authorization": "Bearer wrong"})).status_code == 401
    basic = await get_metrics("203.0.113.7", {"authorization": f"Basic {TOKEN}"})
    assert basic.status_code == 401
    allowed = await get_metrics("203.0.113.7", {"authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200
    assert "# TYPE" in allowed.text
