"""Fixtures and guards for the scripted-LLM tests.

The environment variable is set before litellm is imported anywhere in these
tests: without it litellm fetches its model cost map from the internet at
import time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.fakes.llm.fixtures import scripted_llm, scripted_llm_server

__all__ = ["scripted_llm", "scripted_llm_server"]

_LOOPBACK = {"127.0.0.1", "::1", "localhost", "0.0.0.0", "::"}
_outside: list[tuple[str, str]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Note any attempt to resolve or reach a host that is not loopback."""
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event == "socket.connect":
        address = args[1]
        if not isinstance(address, tuple):
            return  # a Unix socket path
        host = address[0]
    else:
        return
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if isinstance(host, str) and host not in _LOOPBACK:
        _outside.append((event, host))


# Audit hooks cannot be removed, so install it once per process; it only records.
if not getattr(sys, "_scripted_llm_audit_installed", False):
    sys.addaudithook(_audit)
    sys._scripted_llm_audit_installed = True  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def no_network_beyond_loopback() -> Iterator[None]:
    """Fail a test whose code (litellm included) tried to reach another host."""
    before = len(_outside)
    yield
    assert _outside[before:] == [], "something tried to reach the network"
