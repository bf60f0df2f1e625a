"""Where a sign-in sends the visitor back: only to a path of this app."""

from __future__ import annotations

import pytest

from pyairtable_ui import routes


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "https://evil.example/chat",
        "//evil.example",
        "/\\evil.example",
        "chat",
        "javascript:alert(1)",
        "/\t/evil.example",  # browsers drop the tab: //evil.example
        "/\n/evil.example",
        "/chat\r\nSet-Cookie: x=1",
        "/auth/login?next=/chat",  # back into sign-in: a loop
        "/auth/logout",
        " /chat",
    ],
)
def test_a_next_path_off_this_app_falls_back_to_the_chat(raw: str | None) -> None:
    assert routes.safe_next_path(raw) == routes.CHAT
    assert routes.safe_next_path(raw, default=routes.SETTINGS) == routes.SETTINGS


@pytest.mark.parametrize("raw", ["/history?action=3", "/chat?c=12", "/chat", "/settings#token"])
def test_a_local_path_is_kept_with_its_query(raw: str) -> None:
    assert routes.safe_next_path(raw) == raw


def test_the_login_link_carries_the_path_and_its_query() -> None:
    assert routes.login_redirect("/history?action=3") == "/auth/login?next=%2Fhistory%3Faction%3D3"
    assert routes.return_path("/chat/", "c=12") == "/chat?c=12"
    assert routes.return_path("/chat/") == "/chat"
    assert routes.return_path("/") == "/"
    assert routes.safe_next_path(routes.return_path("/chat/", "c=12")) == "/chat?c=12"
