"""Pytest fixtures that run the Airtable emulator in a background thread.

Enable them from a ``conftest.py``::

    pytest_plugins = ["tests.fakes.airtable_fixtures"]          # root conftest, or
    from tests.fakes.airtable_fixtures import airtable_emulator  # noqa: F401 (any conftest)

Fixtures:

* ``airtable_emulator`` (function scope): small deterministic seed from
  :func:`build_small_seed` (= :func:`pyairtable_ui.emulator.seeds.build_seed`), rate limit **off**;
  fresh data every test.
* ``airtable_api`` (function scope): ``pyairtable.Api(TOKEN_FULL, endpoint_url=emulator.url)``.
* ``airtable_emulator_factory`` (function scope): ``factory(seed=None, **kwargs)`` starts more
  emulators (custom seed, ``rate_limit=5, penalty_seconds=0.2`` ...); all stopped at teardown.
* ``demo_airtable`` (session scope): the demo seed (``seeds/demo.json``), rate limit **off**.
  It is shared: a test that writes should call ``demo_airtable.reset()`` first or last.

Tokens of the small seed (constants in :mod:`pyairtable_ui.emulator.seeds`; the part after the dot
is 64 hex digits: 63 zeros then the final digit shown):

* ``TOKEN_FULL`` ``patEmuFullAccess1.000...0001``: bases ``appEmulatorBase01`` (CRM: Companies,
  Contacts, Deals) and ``appEmulatorBase02`` (Projects, Tasks), every scope.
* ``TOKEN_NO_BASES`` ``patEmuNoBases0001.000...0002``: every scope, no bases.
* ``TOKEN_READ_ONLY`` ``patEmuReadOnly001.000...0003``: both bases, read scopes only (missing
  ``data.records:write``).
* ``TOKEN_CRM_ONLY`` ``patEmuCrmOnly0001.000...0004``: CRM base only, every scope.
* ``TOKEN_NO_SCHEMA`` ``patEmuNoSchema001.000...0005``: both bases, record scopes only.

Demo seed tokens (``seeds/demo.json``): ``DEMO_TOKEN`` ``patDemoFullAccess.000...000b`` (both demo
bases, every scope) and ``DEMO_READ_TOKEN`` ``patDemoReadOnly01.000...000c`` (read scopes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyairtable import Api

from pyairtable_ui.emulator.seeds import DEMO_SEED_PATH, TOKEN_FULL, build_seed
from pyairtable_ui.emulator.server import AirtableEmulator

DEMO_TOKEN = "patDemoFullAccess.000000000000000000000000000000000000000000000000000000000000000b"
DEMO_READ_TOKEN = (
    "patDemoReadOnly01.000000000000000000000000000000000000000000000000000000000000000c"
)

EmulatorFactory = Callable[..., AirtableEmulator]

#: The builder of the small seed used by ``airtable_emulator`` (alias of ``seeds.build_seed``).
build_small_seed = build_seed


@pytest.fixture
def airtable_emulator() -> Iterator[AirtableEmulator]:
    """A running emulator with the small test seed and no rate limit."""
    with AirtableEmulator(build_seed(), rate_limit=0) as emulator:
        yield emulator


@pytest.fixture
def airtable_api(airtable_emulator: AirtableEmulator) -> Api:
    """A pyairtable ``Api`` for ``TOKEN_FULL`` against ``airtable_emulator``."""
    return Api(TOKEN_FULL, endpoint_url=airtable_emulator.url)


@pytest.fixture
def airtable_emulator_factory() -> Iterator[EmulatorFactory]:
    """Start extra emulators: ``factory(seed=None, *, rate_limit=0, penalty_seconds=30.0, ...)``."""
    started: list[AirtableEmulator] = []

    def factory(seed: dict[str, Any] | str | Path | None = None, **kwargs: Any) -> AirtableEmulator:
        kwargs.setdefault("rate_limit", 0)
        emulator = AirtableEmulator(build_seed() if seed is None else seed, **kwargs).start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


@pytest.fixture(scope="session")
def demo_airtable() -> Iterator[AirtableEmulator]:
    """A session-wide emulator with the demo seed and no rate limit."""
    with AirtableEmulator(DEMO_SEED_PATH, rate_limit=0) as emulator:
        yield emulator


def emulator_api(emulator: AirtableEmulator, token: str, **kwargs: Any) -> Api:
    """A ``pyairtable.Api`` pointed at ``emulator`` (keyword arguments pass through).

    A test helper, not a method of the emulator: only ``pyairtable_ui.airtable`` may import
    pyairtable in the product, and the emulator is part of the product now.
    """
    return Api(token, endpoint_url=emulator.url, **kwargs)
