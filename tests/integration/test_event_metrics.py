"""/metrics counts and times the Reflex events a page sends (pyairtable_ui_events_total)."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect


def _sample(app_server, pattern: str) -> float:
    """The sum of the /metrics samples whose name and labels match `pattern`."""
    text = httpx.get(f"{app_server.url}/metrics", timeout=10).text
    return sum(float(value) for value in re.findall(rf"^{pattern} (\S+)$", text, re.M))


def test_opening_a_page_counts_and_times_its_load_event(app_server, page) -> None:
    load_ok = r'pyairtable_ui_events_total\{handler="LoginState\.on_load",outcome="ok"\}'
    load_timed = r'pyairtable_ui_event_seconds_count\{handler="LoginState\.on_load"\}'
    before, before_timed = _sample(app_server, load_ok), _sample(app_server, load_timed)

    page.goto(f"{app_server.url}/auth/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()

    # The count is recorded when the event's task ends, a moment after the page updates.
    deadline = time.monotonic() + 10
    while _sample(app_server, load_ok) <= before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _sample(app_server, load_ok) >= before + 1
    assert _sample(app_server, load_timed) >= before_timed + 1
    # The page's hydrate (Reflex's own root state) is counted under its handler too.
    assert (
        _sample(
            app_server, r'pyairtable_ui_events_total\{handler="State\.hydrate\w*",outcome="ok"\}'
        )
        >= 1
    )
