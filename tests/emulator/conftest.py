"""Fixtures for the emulator's own conformance suite."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import TOKEN_FULL
from tests.fakes.airtable_fixtures import (
    airtable_api,
    airtable_emulator,
    airtable_emulator_factory,
    demo_airtable,
)

__all__ = ["airtable_api", "airtable_emulator", "airtable_emulator_factory", "demo_airtable"]


_OWN_TOKEN = object()  # "use the client's token" (None means no Authorization header)


class RawClient:
    """Plain ``requests`` access to the emulator, for what pyairtable hides on the wire."""

    def __init__(self, base_url: str, token: str | None = TOKEN_FULL) -> None:
        self.base_url = base_url
        self.token = token
        self.session = requests.Session()

    def request(
        self, method: str, path: str, *, token: str | object | None = _OWN_TOKEN, **kwargs: Any
    ) -> requests.Response:
        """Send ``method path``; ``token=None`` sends no Authorization header."""
        headers = dict(kwargs.pop("headers", {}))
        chosen = self.token if token is _OWN_TOKEN else token
        if chosen is not None:
            headers.setdefault("Authorization", f"Bearer {chosen}")
        return self.session.request(
            method, self.base_url + path, headers=headers, timeout=10, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """GET."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST."""
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        """PATCH."""
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        """PUT."""
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        """DELETE."""
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def raw(airtable_emulator: AirtableEmulator) -> RawClient:
    """Raw HTTP client for ``TOKEN_FULL`` against ``airtable_emulator``."""
    return RawClient(airtable_emulator.url)


def error_of(response: requests.Response) -> tuple[int, str | None]:
    """``(status, error.type)`` of an error response."""
    body = response.json()
    error = body.get("error")
    return response.status_code, error.get("type") if isinstance(error, dict) else error
