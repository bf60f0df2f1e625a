"""TRUSTED_PROXY_HOPS: which address counts as the client's, here and in Reflex."""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

import pytest

from pyairtable_ui.api.client_address import resolve_client_address
from pyairtable_ui.core.settings import get_settings

PROXY = "10.0.0.2"


@pytest.mark.parametrize(
    ("forwarded_for", "hops", "expected"),
    [
        # No proxy trusted: a forged header changes nothing.
        ("203.0.113.7", 0, PROXY),
        # One proxy (it appended the client's address): the last entry.
        ("203.0.113.7", 1, "203.0.113.7"),
        # The client's own X-Forwarded-For is left of what the proxy appended.
        ("6.6.6.6, 203.0.113.7", 1, "203.0.113.7"),
        # Two proxies: CDN appended the client, the local proxy appended the CDN.
        ("6.6.6.6, 203.0.113.7, 198.51.100.1", 2, "203.0.113.7"),
        (" 203.0.113.7 ,198.51.100.1 ", 2, "203.0.113.7"),
        # Fewer entries than trusted hops: not through the chain, the peer counts.
        ("203.0.113.7", 2, PROXY),
        ("", 1, PROXY),
    ],
)
def test_the_client_is_the_entry_hops_from_the_right(forwarded_for, hops, expected):
    assert resolve_client_address(PROXY, forwarded_for, hops) == expected


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
@pytest.mark.parametrize("forwarded_for", ["", "203.0.113.7", "6.6.6.6, 203.0.113.7, 198.51.100.1"])
def test_the_websocket_address_from_reflex_follows_the_same_rule(
    monkeypatch: pytest.MonkeyPatch, hops: int, forwarded_for: str
):
    import reflex.app

    monkeypatch.setattr(reflex.app, "get_config", lambda: SimpleNamespace(trusted_proxy_hops=hops))
    headers = [(b"x-forwarded-for", forwarded_for.encode())] if forwarded_for else []
    environ = {"asgi.scope": {"client": (PROXY, 5555), "headers": headers}}
    data = reflex.app.EventNamespace._build_static_router_data(None, "sid", environ)  # type: ignore[arg-type]
    assert data["ip"] == resolve_client_address(PROXY, forwarded_for, hops)


def test_the_setting_reaches_the_reflex_config(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TRUSTED_PROXY_HOPS", "2")
    get_settings.cache_clear()
    try:
        sys.modules.pop("rxconfig", None)
        rxconfig = importlib.import_module("rxconfig")
        assert rxconfig.config.trusted_proxy_hops == 2
    finally:
        sys.modules.pop("rxconfig", None)
        get_settings.cache_clear()
