"""Per-base rate limiting: 5 requests per sliding second, then a penalty of 429s."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from pyairtable_ui.emulator.seeds import BASE_CRM_ID, BASE_PROJECTS_ID, TOKEN_FULL
from tests.emulator.conftest import RawClient
from tests.fakes.airtable_fixtures import EmulatorFactory, emulator_api

CRM = f"/v0/{BASE_CRM_ID}/Contacts"
PROJECTS = f"/v0/{BASE_PROJECTS_ID}/Projects"
RATE_LIMIT_BODY = {
    "error": {
        "type": "RATE_LIMIT_REACHED",
        "message": "Rate limit exceeded. Please try again later",
    }
}


def statuses(client: RawClient, path: str, count: int) -> list[int]:
    return [client.get(path).status_code for _ in range(count)]


def test_burst_to_one_base_gets_429_while_another_base_is_unaffected(
    airtable_emulator_factory: EmulatorFactory,
):
    # The burst must fit inside one second for the counts below to hold; on a very busy
    # machine it may not, and then it is tried again on a fresh emulator.
    for _attempt in range(3):
        emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.5)
        client = RawClient(emulator.url)
        started = time.monotonic()
        burst = statuses(client, CRM, 20)
        if time.monotonic() - started < 1.0:
            break
    else:
        pytest.fail("20 requests over loopback never fitted inside one second")
    assert burst == [200] * 5 + [429] * 15
    assert statuses(client, PROJECTS, 5) == [200] * 5
    response = client.get(CRM)
    assert response.status_code == 429
    assert response.json() == RATE_LIMIT_BODY
    stats = emulator.stats()
    assert stats["by_status"] == {"200": 10, "429": 16}
    assert stats["by_base"] == {BASE_CRM_ID: 21, BASE_PROJECTS_ID: 5}


def test_parallel_burst_is_limited_too(airtable_emulator_factory: EmulatorFactory):
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.5)

    def fetch(_: int) -> int:
        return requests.get(
            emulator.url + CRM, headers={"Authorization": f"Bearer {TOKEN_FULL}"}, timeout=10
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(fetch, range(20)))
    assert results.count(200) == 5
    assert results.count(429) == 15


def test_penalty_ends_after_the_configured_float_seconds(
    airtable_emulator_factory: EmulatorFactory,
):
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.3)
    client = RawClient(emulator.url)
    assert statuses(client, CRM, 6) == [200] * 5 + [429]
    time.sleep(0.1)
    assert client.get(CRM).status_code == 429  # still inside the penalty
    time.sleep(0.3)
    assert statuses(client, CRM, 5) == [200] * 5  # a fresh budget after the penalty


def test_window_slides(airtable_emulator_factory: EmulatorFactory):
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=5)
    client = RawClient(emulator.url)
    assert statuses(client, CRM, 5) == [200] * 5
    time.sleep(1.05)
    assert statuses(client, CRM, 5) == [200] * 5


def test_rate_limit_zero_turns_limiting_off(airtable_emulator_factory: EmulatorFactory):
    emulator = airtable_emulator_factory(rate_limit=0)
    assert statuses(RawClient(emulator.url), CRM, 40) == [200] * 40


def test_metadata_of_a_base_counts_and_whoami_does_not(
    airtable_emulator_factory: EmulatorFactory,
):
    emulator = airtable_emulator_factory(rate_limit=2, penalty_seconds=5)
    client = RawClient(emulator.url)
    assert statuses(client, f"/v0/meta/bases/{BASE_CRM_ID}/tables", 2) == [200, 200]
    assert client.get(CRM).status_code == 429
    assert statuses(client, "/v0/meta/whoami", 5) == [200] * 5
    assert statuses(client, "/v0/meta/bases", 5) == [200] * 5


def test_pyairtable_retries_through_a_short_penalty(airtable_emulator_factory: EmulatorFactory):
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.2)
    table = emulator_api(emulator, TOKEN_FULL).table(BASE_CRM_ID, "Contacts")
    for _ in range(12):  # urllib3 retries 429s with backoff 0.1, 0.2, 0.4 ... seconds
        assert len(table.all()) == 8
    assert emulator.stats()["by_status"]["429"] > 0


def test_limits_can_change_at_runtime(airtable_emulator_factory: EmulatorFactory):
    emulator = airtable_emulator_factory(rate_limit=0)
    client = RawClient(emulator.url)
    control = requests.post(
        emulator.url + "/_emulator/rate-limit",
        json={"rate_limit": 1, "penalty_seconds": 0.25},
        timeout=5,
    )
    assert control.json() == {"rate_limit": 1, "penalty_seconds": 0.25}
    assert statuses(client, CRM, 2) == [200, 429]
    emulator.set_rate_limit(0)
    assert statuses(client, CRM, 3) == [200] * 3
