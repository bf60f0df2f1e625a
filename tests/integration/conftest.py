"""Browser fixtures for the integration tests (Debian's Chromium through Playwright).

The browser is package-scoped: Playwright's sync API keeps an event loop running in
the main thread while it is open, which must end before any async test runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

# The suite runs on shared 2-core machines beside other builds: an expectation waits as
# long as the real work can take there (a turn, a page build), not Playwright's 5 s.
EXPECT_TIMEOUT_MS = 20_000
ACTION_TIMEOUT_MS = 30_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright, shared by the session."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context (own cookies) and page at desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture
def llm(app_llm):
    """The shared app's scripted model, with no reply left over from another test."""
    app_llm.clear()
    yield app_llm
    app_llm.clear()


@pytest.fixture
def airtable(app_airtable):
    """The shared app's Airtable emulator, reset to its seed; injected failures cleared after."""
    app_airtable.reset()
    yield app_airtable
    app_airtable.clear_failures()
