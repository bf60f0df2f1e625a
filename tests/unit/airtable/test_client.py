"""The client: every request paced and counted, 429 and 5xx retried, errors in plain words."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
import requests

from pyairtable_ui.airtable.client import (
    AirtableClient,
    RetryPolicy,
    _retry_after_seconds,
    pacing_key,
    request_kind,
)
from pyairtable_ui.airtable.errors import (
    AirtableAuthError,
    AirtableError,
    AirtableInvalidRequestError,
    AirtableNotFoundError,
    AirtablePermissionError,
    AirtableServerError,
    AirtableUnavailableError,
    ToolCancelled,
)
from pyairtable_ui.airtable.limiter import InProcessRequestPacer
from pyairtable_ui.core.observability import AIRTABLE_REQUESTS
from pyairtable_ui.emulator import build_seed
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    BASE_PROJECTS_ID,
    TABLE_ITEMS_ID,
    TOKEN_FULL,
)

LIST_RECORDS = "GET /v0/{baseId}/{tableIdOrName}"


def counter_value(method: str, status: str) -> float:
    value = AIRTABLE_REQUESTS.labels(method=method, status=status)._value.get()
    return float(value)


def test_every_page_of_a_listing_is_a_counted_request(airtable_emulator_factory, make_client):
    emulator = airtable_emulator_factory(build_seed(big_table_records=250))
    client = make_client(emulator)
    before = counter_value("GET", "200")

    records = [r for page in client.iterate_records(BASE_PROJECTS_ID, TABLE_ITEMS_ID) for r in page]

    assert len(records) == 250
    assert client.calls == 3 == emulator.stats()["by_endpoint"][LIST_RECORDS]
    assert client.calls_by_kind == {"read": 3}
    assert counter_value("GET", "200") - before == 3
    assert [r.path for r in client.requests] == [f"/v0/{BASE_PROJECTS_ID}/{TABLE_ITEMS_ID}"] * 3


def test_pyairtable_calls_go_through_the_client_too(client, airtable_emulator):
    # Anything built on client.api (here pyairtable's Table.all) is paced and counted.
    deals = client.table(BASE_CRM_ID, "Deals").all(page_size=2)
    assert len(deals) == 6
    assert client.calls == 3 == airtable_emulator.stats()["total"]


def test_rate_limit_answers_are_retried_transparently(airtable_emulator_factory, make_client):
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.1)
    # Paced far above Airtable's limit so the emulator answers 429.
    client = make_client(emulator, limiter=InProcessRequestPacer(1000))

    for _ in range(12):
        client.request("GET", BASE_CRM_ID, "Deals", params={"pageSize": 1})

    statuses = emulator.stats()["by_status"]
    assert statuses["200"] == 12
    assert statuses.get("429", 0) >= 1
    assert client.calls == 12 + statuses["429"]


def test_server_errors_are_retried_with_backoff(client, airtable_emulator):
    airtable_emulator.inject_failure(method="GET", status=503, count=2)

    page = client.list_records_page(BASE_CRM_ID, "Deals")

    assert len(page["records"]) == 6
    assert airtable_emulator.stats()["by_status"] == {"503": 2, "200": 1}
    assert client.calls == 3


def test_server_errors_that_persist_give_up_after_four_tries(client, airtable_emulator):
    airtable_emulator.inject_failure(method="GET", status=500, count=None)
    with pytest.raises(AirtableServerError) as caught:
        client.list_records_page(BASE_CRM_ID, "Deals")
    assert airtable_emulator.stats()["total"] == 4
    assert "try again in a minute" in caught.value.message.lower()
    assert "not caused by your arguments" in caught.value.message_for_model


def test_client_errors_are_not_retried(client, airtable_emulator):
    with pytest.raises(AirtableInvalidRequestError) as caught:
        client.list_records_page(BASE_CRM_ID, "Deals", formula="{Nope} = 1")
    assert airtable_emulator.stats()["total"] == 1
    error = caught.value
    assert error.status == 422 and error.type == "INVALID_FILTER_BY_FORMULA"
    assert "Unknown field names: Nope" in error.message_for_model  # Airtable's own words


def test_unknown_base_says_it_may_be_gone_or_inaccessible(client):
    with pytest.raises(AirtablePermissionError) as caught:
        client.list_records_page("appGoneBase000000", "Deals")
    assert "may have been deleted" in caught.value.message
    assert caught.value.status == 403


def test_not_found_says_what_may_have_happened(client, airtable_emulator):
    airtable_emulator.inject_failure(status=404, count=1)
    with pytest.raises(AirtableNotFoundError) as caught:
        client.request("GET", BASE_CRM_ID, "Deals")
    assert "may have been deleted" in caught.value.message
    with pytest.raises(AirtableNotFoundError) as missing:
        client.request("GET", BASE_CRM_ID, "Deals", "recNope0000000000")
    assert missing.value.type == "MODEL_ID_NOT_FOUND"


def test_rejected_token_asks_to_reconnect_and_never_shows_the_token(
    airtable_emulator, make_client, caplog
):
    caplog.set_level(logging.DEBUG)
    bad_token = "patNotKnown000000." + "f" * 64
    client = make_client(airtable_emulator, token=bad_token)
    with pytest.raises(AirtableAuthError) as caught:
        client.request("GET", BASE_CRM_ID, "Deals")
    error = caught.value
    assert "Reconnect Airtable in Settings" in error.message
    for text in (error.message, error.message_for_model, str(error), repr(error)):
        assert bad_token not in text and "f" * 20 not in text
    assert bad_token not in caplog.text
    assert bad_token not in repr(client)


def test_unreachable_airtable_is_reported_after_retries(make_client, airtable_emulator_factory):
    emulator = airtable_emulator_factory()
    emulator.stop()  # nothing listens on that port any more
    client = make_client(emulator)
    with pytest.raises(AirtableUnavailableError) as caught:
        client.request("GET", BASE_CRM_ID, "Deals")
    assert caught.value.type == "CONNECTION_ERROR"
    assert client.calls == 4  # the first try and three retries


def test_post_is_not_resent_after_a_read_timeout(airtable_emulator, make_client):
    # The create may have been applied: resending could duplicate the records.
    client = make_client(airtable_emulator)
    client.api.timeout = (1, 0.3)
    airtable_emulator.inject_failure(method="POST", delay=0.6, status=None, count=1)
    with pytest.raises(AirtableUnavailableError):
        client.request("POST", BASE_CRM_ID, "Deals", json={"records": [{"fields": {"Name": "X"}}]})
    assert client.calls == 1


def test_a_policy_for_a_waiting_person_reports_lost_answers_and_5xx_at_once(
    airtable_emulator, make_client
):
    impatient = RetryPolicy(
        backoff=0.01, max_backoff=0.02, server_error_attempts=1, resend_unanswered=False
    )
    client = make_client(airtable_emulator, retry_policy=impatient)
    client.api.timeout = (1, 0.3)
    airtable_emulator.inject_failure(method="GET", delay=0.6, status=None, count=1)
    with pytest.raises(AirtableUnavailableError):
        client.request("GET", BASE_CRM_ID, "Deals")
    assert client.calls == 1

    airtable_emulator.inject_failure(method="GET", status=503, count=1)
    with pytest.raises(AirtableServerError):
        client.request("GET", BASE_CRM_ID, "Deals")
    assert client.calls == 2


def test_cancel_stops_a_listing_between_pages(airtable_emulator_factory, make_client):
    emulator = airtable_emulator_factory(build_seed(big_table_records=250))
    client = make_client(emulator)
    pages = client.iterate_records(BASE_PROJECTS_ID, TABLE_ITEMS_ID)
    next(pages)
    client.cancel()
    with pytest.raises(ToolCancelled):
        next(pages)
    assert emulator.stats()["total"] == 1


def test_stop_ends_a_paced_listing_long_before_its_next_slot(
    airtable_emulator_factory, make_client
):
    emulator = airtable_emulator_factory(build_seed(big_table_records=250))
    # One request every five seconds: the listing spends its time waiting for slots.
    client = make_client(emulator, limiter=InProcessRequestPacer(0.2))
    outcome: list[BaseException] = []

    def read_all() -> None:
        try:
            list(client.iterate_records(BASE_PROJECTS_ID, TABLE_ITEMS_ID))
        except ToolCancelled as exc:
            outcome.append(exc)

    worker = threading.Thread(target=read_all)
    worker.start()
    time.sleep(0.3)
    stopped_at = time.monotonic()
    client.cancel()
    worker.join(timeout=5)
    assert outcome and isinstance(outcome[0], ToolCancelled)
    # The next slot was seconds away; a busy machine may take a moment to wake the thread.
    assert time.monotonic() - stopped_at < 2.5
    assert emulator.stats()["total"] < 3


async def test_run_keeps_the_event_loop_free_and_cancels_the_client(client):
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    def slow() -> str:
        time.sleep(0.2)
        return "done"

    tick_task = asyncio.create_task(ticker())
    assert await client.run(slow) == "done"
    tick_task.cancel()
    assert ticks >= 5  # the loop kept running while pyairtable-like work blocked a thread

    task = asyncio.create_task(client.run(time.sleep, 0.2))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.cancelled  # the thread's next request will raise ToolCancelled


def test_retry_after_header_is_read_in_seconds_or_as_a_date():
    response = requests.Response()
    response.headers["Retry-After"] = "0.25"
    assert _retry_after_seconds(response) == 0.25
    response.headers["Retry-After"] = "soon"
    assert _retry_after_seconds(response) is None
    response.headers["Retry-After"] = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert _retry_after_seconds(response) == 0.0  # in the past: retry at once
    policy = RetryPolicy(backoff=0.01, max_backoff=0.02, jitter=0)
    assert policy.delay(1) == pytest.approx(0.01)
    assert policy.delay(10) == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("path", "key", "kind"),
    [
        ("/v0/appA/tblB", "appA", "read"),
        ("/v0/appA/tblB/recC/comments", "appA", "read"),
        ("/v0/meta/bases/appA/tables", "appA", "schema"),
        ("/v0/meta/bases", "meta", "meta"),
        ("/v0/meta/whoami", "meta", "meta"),
        ("/v0/bases/appA/webhooks", "appA", "read"),
        ("/proxy/v0/appA/tblB", "appA", "read"),
    ],
)
def test_requests_are_paced_by_base_and_counted_by_kind(path, key, kind):
    assert pacing_key(path) == key
    assert request_kind("GET", path) == kind


def test_writes_are_counted_as_writes(client, airtable_emulator):
    with pytest.raises(AirtableInvalidRequestError):
        client.request("PATCH", BASE_CRM_ID, "Deals", json={"records": []})
    assert client.calls_by_kind == {"write": 1}


def test_airtable_error_is_one_family():
    assert issubclass(AirtableAuthError, AirtableError)
    error = AirtableError("for you", status=500, type="X")
    assert error.message_for_model == "for you"
    assert "X" in repr(error) and TOKEN_FULL not in repr(error)


def test_token_sits_in_the_header_only(client: AirtableClient):
    assert client.api.session.headers["Authorization"] == f"Bearer {TOKEN_FULL}"
    assert TOKEN_FULL not in client.token_fingerprint


def test_a_refused_post_is_resent_since_it_never_left(make_client, airtable_emulator_factory):
    emulator = airtable_emulator_factory()
    emulator.stop()
    client = make_client(emulator)
    with pytest.raises(AirtableUnavailableError):
        client.request("POST", BASE_CRM_ID, "Deals", json={"records": [{"fields": {"Name": "X"}}]})
    assert client.calls == 4
