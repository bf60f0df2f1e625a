"""Where a sign-in sends the visitor back: only to a path of this app."""

from __future__ import annotations

import pytest

from pyairtable_ui import routes


@pytest.mark.parametrize(
    "raw", [None, "", "https://evil.example/chat", "//evil.example", "/\\evil.example", "chat"]
)
def test_a_next_path_off_this_app_falls_back_to_the_chat(raw: str | None) -> None:
    assert routes.safe_next_path(raw) == routes.CHAT
    assert routes.safe_next_path(raw, default=routes.SETTINGS) == routes.SETTINGS


def test_a_local_path_is_kept_and_the_login_link_carries_it() -> None:
    assert routes.safe_next_path("/history?action=3") == "/history?action=3"
    assert routes.login_redirect("/history?action=3") == "/auth/login?next=%2Fhistory%3Faction%3D3"
