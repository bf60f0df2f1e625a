"""Side endpoints under /_emulator/: stats, reset, failure injection; in-process state access."""

from __future__ import annotations

import time

import pytest
import requests
from pyairtable import Api

from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    BASE_PROJECTS_ID,
    TOKEN_FULL,
    build_seed,
    contact_id,
)
from tests.emulator.conftest import RawClient
from tests.fakes.airtable_fixtures import EmulatorFactory, emulator_api

LIST = "GET /v0/{baseId}/{tableIdOrName}"


def control(emulator: AirtableEmulator, method: str, action: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{emulator.url}/_emulator/{action}", timeout=5, **kwargs)


def test_stats_count_requests_by_base_and_endpoint(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    airtable_api.table(BASE_CRM_ID, "Contacts").all()
    airtable_api.table(BASE_CRM_ID, "Contacts").get(contact_id(1))
    airtable_api.table(BASE_PROJECTS_ID, "Tasks").create({"Name": "New"})
    airtable_api.whoami()
    stats = airtable_emulator.stats()
    assert stats["total"] == 4
    assert stats["by_base"] == {BASE_CRM_ID: 2, BASE_PROJECTS_ID: 1}
    assert stats["by_endpoint"] == {
        LIST: 1,
        "GET /v0/{baseId}/{tableIdOrName}/{recordId}": 1,
        "POST /v0/{baseId}/{tableIdOrName}": 1,
        "GET /v0/meta/whoami": 1,
    }
    first = stats["requests"][0]
    assert first["method"] == "GET"
    assert first["path"] == f"/v0/{BASE_CRM_ID}/Contacts"
    assert first["base"] == BASE_CRM_ID
    assert first["status"] == 200
    assert time.time() - 60 < first["t"] <= time.time()
    assert stats["requests"][-1]["base"] is None


def test_stats_over_http_and_control_calls_are_not_counted(
    raw: RawClient, airtable_emulator: AirtableEmulator
):
    raw.get(f"/v0/{BASE_CRM_ID}/Contacts")
    raw.get("/v0/unknown/route/here")
    over_http = control(airtable_emulator, "GET", "stats").json()
    assert over_http["total"] == 2
    assert over_http["by_endpoint"] == {LIST: 1, "GET <unknown>": 1}
    assert over_http["by_status"] == {"200": 1, "404": 1}
    assert control(airtable_emulator, "GET", "health").json()["ok"] is True
    assert airtable_emulator.stats()["total"] == 2
    assert control(airtable_emulator, "POST", "stats/reset").status_code == 200
    assert airtable_emulator.stats() == {
        "total": 0,
        "by_base": {},
        "by_endpoint": {},
        "by_status": {},
        "requests": [],
    }
    raw.get(f"/v0/{BASE_CRM_ID}/Contacts")
    airtable_emulator.reset_stats()
    assert airtable_emulator.stats()["total"] == 0


def test_injected_failure_hits_the_third_batch(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    table = airtable_api.table(BASE_PROJECTS_ID, "Tasks")
    created = table.batch_create([{"Name": f"Task {i}"} for i in range(40)])
    airtable_emulator.reset_stats()
    injection = airtable_emulator.inject_failure(
        method="PATCH", path_contains=f"/v0/{BASE_PROJECTS_ID}", after=2, count=1, status=500
    )
    assert injection["after"] == 2 and injection["status"] == 500
    with pytest.raises(requests.HTTPError) as caught:
        table.batch_update([{"id": r["id"], "fields": {"Done": True}} for r in created])
    assert caught.value.response.status_code == 500
    assert caught.value.response.json()["error"]["type"] == "SERVER_ERROR"
    done = [
        r["fields"].get("Done", False) for r in table.all() if r["id"] in {c["id"] for c in created}
    ]
    assert done == [True] * 20 + [False] * 20  # batches 1-2 applied, 3-4 never ran
    assert airtable_emulator.stats()["by_status"] == {"200": 3, "500": 1}
    # The injection is used up: the same call now succeeds.
    table.batch_update([{"id": r["id"], "fields": {"Done": True}} for r in created[20:]])


def test_injection_over_http_with_custom_body_and_filters(
    raw: RawClient, airtable_emulator: AirtableEmulator
):
    body = {"error": {"type": "CUSTOM", "message": "nope"}}
    response = control(
        airtable_emulator,
        "POST",
        "fail",
        json={"method": "GET", "path_contains": "Deals", "status": 503, "body": body, "count": 2},
    )
    assert response.status_code == 200
    assert raw.get(f"/v0/{BASE_CRM_ID}/Contacts").status_code == 200  # path does not match
    assert raw.post(f"/v0/{BASE_CRM_ID}/Deals", json={"fields": {}}).status_code == 200
    for _ in range(2):
        failed = raw.get(f"/v0/{BASE_CRM_ID}/Deals")
        assert (failed.status_code, failed.json()) == (503, body)
    assert raw.get(f"/v0/{BASE_CRM_ID}/Deals").status_code == 200
    listed = control(airtable_emulator, "GET", "fail").json()["failures"]
    assert listed[0]["fired"] == 2 and listed[0]["seen"] == 3
    assert control(airtable_emulator, "DELETE", "fail").status_code == 200
    assert control(airtable_emulator, "GET", "fail").json() == {"failures": []}


def test_unlimited_injection_and_clear(raw: RawClient, airtable_emulator: AirtableEmulator):
    airtable_emulator.inject_failure(path_contains="Contacts", status=422, count=None)
    for _ in range(3):
        assert raw.get(f"/v0/{BASE_CRM_ID}/Contacts").json()["error"]["type"] == (
            "INVALID_REQUEST_UNKNOWN"
        )
    airtable_emulator.clear_failures()
    assert raw.get(f"/v0/{BASE_CRM_ID}/Contacts").status_code == 200


def test_injected_429_is_retried_by_pyairtable(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    airtable_emulator.inject_failure(method="GET", status=429, count=2)
    assert len(airtable_api.table(BASE_CRM_ID, "Contacts").all()) == 8
    assert [r["status"] for r in airtable_emulator.stats()["requests"]] == [429, 429, 200]


def test_injection_can_add_headers(raw: RawClient, airtable_emulator: AirtableEmulator):
    airtable_emulator.inject_failure(status=429, headers={"Retry-After": "2"})
    limited = raw.get(f"/v0/{BASE_CRM_ID}/Contacts")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "2")
    assert "Retry-After" not in raw.get(f"/v0/{BASE_CRM_ID}/Contacts").headers


def test_delay_only_injection(raw: RawClient, airtable_emulator: AirtableEmulator):
    airtable_emulator.inject_failure(path_contains="Contacts", status=None, delay=0.3)
    started = time.monotonic()
    assert raw.get(f"/v0/{BASE_CRM_ID}/Contacts").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_bad_injection_requests_are_400(airtable_emulator: AirtableEmulator):
    bodies = ({"status": 42}, {"count": 0}, {"colour": "red"}, ["list"], {"headers": {"a": 1}})
    for body in bodies:
        assert control(airtable_emulator, "POST", "fail", json=body).status_code == 400
    assert control(airtable_emulator, "GET", "nothing-here").status_code == 404


def test_reset_restores_the_seed(airtable_api: Api, airtable_emulator: AirtableEmulator):
    table = airtable_api.table(BASE_CRM_ID, "Contacts")
    table.delete(contact_id(1))
    table.create({"Name": "Temp"})
    airtable_emulator.inject_failure(status=500, count=None, path_contains="Deals")
    airtable_emulator.reset()
    assert [r["id"] for r in table.all()] == [contact_id(i) for i in range(1, 9)]
    assert airtable_emulator.stats()["total"] == 1  # reset zeroed the counters
    assert len(airtable_api.table(BASE_CRM_ID, "Deals").all()) == 6  # failures cleared
    table.delete(contact_id(2))
    assert control(airtable_emulator, "POST", "reset").status_code == 200
    assert len(table.all()) == 8


def test_reset_with_another_seed(airtable_api: Api, airtable_emulator: AirtableEmulator):
    airtable_emulator.reset(build_seed(big_table_records=30))
    assert len(airtable_api.table(BASE_PROJECTS_ID, "Items").all()) == 30
    seed = build_seed()
    seed["bases"][0]["tables"][1]["records"] = seed["bases"][0]["tables"][1]["records"][:2]
    assert control(airtable_emulator, "POST", "reset", json={"seed": seed}).status_code == 200
    assert len(airtable_api.table(BASE_CRM_ID, "Contacts").all()) == 2


def test_exported_seed_round_trips(
    airtable_api: Api,
    airtable_emulator: AirtableEmulator,
    airtable_emulator_factory: EmulatorFactory,
):
    airtable_api.table(BASE_CRM_ID, "Contacts").create({"Name": "Exported", "Score": 1})
    exported = control(airtable_emulator, "GET", "seed").json()
    copy = airtable_emulator_factory(exported)
    original = airtable_api.table(BASE_CRM_ID, "Contacts").all()
    assert emulator_api(copy, TOKEN_FULL).table(BASE_CRM_ID, "Contacts").all() == original


def test_state_edits_by_another_person_are_visible(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    table = airtable_api.table(BASE_CRM_ID, "Contacts")
    before = table.get(contact_id(1))
    edited = airtable_emulator.state.update_record(
        BASE_CRM_ID, "Contacts", contact_id(1), {"Score": 1.5, "Tags": "Partner"}
    )
    assert edited["fields"]["Tags"] == ["Partner"]  # in-process edits typecast by default
    after = table.get(contact_id(1))
    assert (before["fields"]["Score"], after["fields"]["Score"]) == (8.5, 1.5)
    assert airtable_emulator.stats()["total"] == 2  # in-process edits are not API requests
    found = airtable_emulator.state.records(
        BASE_CRM_ID, "Contacts", formula="AND({Score}, {Score} < 2)"
    )
    assert [r["id"] for r in found] == [contact_id(1)]
    with pytest.raises(KeyError):
        airtable_emulator.state.record(BASE_CRM_ID, "Contacts", "recMissingMissing1")
    live = airtable_emulator.state.table(BASE_CRM_ID, "Contacts")
    assert live.primary.name == "Name" and len(live.records) == 8
