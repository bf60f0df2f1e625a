"""Writing records: create, update, replace, delete, batches, typecast, links, upsert."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from pyairtable import Api

from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    TABLE_COMPANIES_ID,
    TOKEN_FULL,
    USER_CRM_ONLY_ID,
    company_id,
    contact_id,
)
from tests.emulator.conftest import RawClient, error_of
from tests.fakes.airtable_fixtures import emulator_api

CONTACTS = f"/v0/{BASE_CRM_ID}/Contacts"


def contacts(api: Api) -> Any:
    return api.table(BASE_CRM_ID, "Contacts")


def http_error(call: Any, *args: Any, **kwargs: Any) -> tuple[int, str | None, str]:
    """Run a pyairtable call that must fail; return (status, error type, message)."""
    with pytest.raises(requests.HTTPError) as caught:
        call(*args, **kwargs)
    error = caught.value.response.json()["error"]
    if isinstance(error, str):
        return caught.value.response.status_code, error, ""
    return caught.value.response.status_code, error["type"], error.get("message", "")


def count(emulator: AirtableEmulator, table: str = "Contacts") -> int:
    return len(emulator.state.records(BASE_CRM_ID, table))


def test_create_one_returns_the_full_record(airtable_api: Api):
    record = contacts(airtable_api).create({"Name": "Ivy Iles", "Role": "Sales", "Score": 5})
    assert record["fields"]["Name"] == "Ivy Iles"
    assert record["fields"]["Label"] == "Ivy Iles (Sales)"
    assert record["fields"]["Contact No"] == 9  # autoNumber continues after the seed
    assert contacts(airtable_api).get(record["id"])["fields"]["Score"] == 5


def test_batch_create_sends_chunks_of_ten(airtable_api: Api, airtable_emulator: AirtableEmulator):
    created = contacts(airtable_api).batch_create([{"Name": f"Bulk {i}"} for i in range(25)])
    assert len({r["id"] for r in created}) == 25
    assert [r["fields"]["Name"] for r in created] == [f"Bulk {i}" for i in range(25)]
    assert airtable_emulator.stats()["by_endpoint"] == {"POST /v0/{baseId}/{tableIdOrName}": 3}
    assert count(airtable_emulator) == 33


@pytest.mark.parametrize(
    ("method", "records"),
    [
        ("POST", [{"fields": {"Name": f"N{i}"}} for i in range(11)]),
        ("PATCH", [{"id": contact_id(1), "fields": {}} for _ in range(11)]),
        ("PUT", [{"id": contact_id(1), "fields": {"Name": "x"}} for _ in range(11)]),
    ],
)
def test_more_than_ten_records_is_422_and_changes_nothing(
    raw: RawClient, airtable_emulator: AirtableEmulator, method: str, records: list
):
    response = raw.request(method, CONTACTS, json={"records": records})
    assert error_of(response) == (422, "INVALID_RECORDS")
    assert count(airtable_emulator) == 8
    assert airtable_emulator.state.record(BASE_CRM_ID, "Contacts", contact_id(1))["fields"][
        "Name"
    ] == ("Alice Anders")


def test_deleting_more_than_ten_is_422(raw: RawClient, airtable_emulator: AirtableEmulator):
    ids = [contact_id(i) for i in range(1, 9)] * 2
    response = raw.delete(CONTACTS, params={"records[]": ids[:11]})
    assert error_of(response) == (422, "INVALID_RECORDS")
    assert count(airtable_emulator) == 8


def test_a_failing_record_fails_the_whole_batch(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    status, error_type, _ = http_error(
        contacts(airtable_api).batch_create, [{"Name": "Fine"}, {"Nope": "unknown field"}]
    )
    assert (status, error_type) == (422, "UNKNOWN_FIELD_NAME")
    assert count(airtable_emulator) == 8


def test_patch_merges_and_put_replaces(airtable_api: Api):
    table = contacts(airtable_api)
    patched = table.update(contact_id(1), {"Score": 1})
    assert patched["fields"]["Score"] == 1
    assert patched["fields"]["Email"] == "alice@example.com"
    replaced = table.update(contact_id(1), {"Name": "Alice A.", "Score": 2}, replace=True)
    assert set(replaced["fields"]) == {
        "Name",
        "Score",
        "Label",
        "Created",
        "Contact No",
    }  # writable fields not given are cleared; computed ones remain
    assert replaced["fields"]["Label"] == "Alice A. ()"


def test_batch_update_and_replace(airtable_api: Api, airtable_emulator: AirtableEmulator):
    table = contacts(airtable_api)
    updated = table.batch_update(
        [{"id": contact_id(i), "fields": {"Score": i * 10}} for i in range(1, 9)]
    )
    assert [r["fields"]["Score"] for r in updated] == [10, 20, 30, 40, 50, 60, 70, 80]
    assert updated[0]["fields"]["Email"] == "alice@example.com"
    replaced = table.batch_update([{"id": contact_id(2), "fields": {"Name": "B"}}], replace=True)
    assert "Email" not in replaced[0]["fields"]
    assert airtable_emulator.stats()["by_endpoint"] == {
        "PATCH /v0/{baseId}/{tableIdOrName}": 1,
        "PUT /v0/{baseId}/{tableIdOrName}": 1,
    }


def test_delete_one_and_many(airtable_api: Api, airtable_emulator: AirtableEmulator):
    table = contacts(airtable_api)
    assert table.delete(contact_id(8)) == {"id": contact_id(8), "deleted": True}
    deleted = table.batch_delete([contact_id(i) for i in range(1, 4)])
    assert deleted == [{"id": contact_id(i), "deleted": True} for i in range(1, 4)]
    assert count(airtable_emulator) == 4
    assert http_error(table.get, contact_id(8))[:2] == (404, "MODEL_ID_NOT_FOUND")
    assert http_error(table.delete, contact_id(8))[:2] == (404, "MODEL_ID_NOT_FOUND")


def test_deleting_a_record_removes_links_to_it(airtable_api: Api):
    contacts(airtable_api).delete(contact_id(1))
    acme = airtable_api.table(BASE_CRM_ID, "Companies").get(company_id(1))["fields"]
    assert acme["Contacts"] == [contact_id(2)]
    assert acme["Contact Count"] == 1


def test_empty_values_clear_cells(airtable_api: Api):
    record = contacts(airtable_api).update(
        contact_id(1), {"Phone": "", "Tags": [], "Score": None, "Company": []}
    )
    fields = record["fields"]
    for name in ("Phone", "Tags", "Score", "Company", "Company Industry"):
        assert name not in fields
    company = airtable_api.table(BASE_CRM_ID, "Companies").update(company_id(1), {"Active": False})
    assert "Active" not in company["fields"]


@pytest.mark.parametrize(
    ("table", "field", "value"),
    [
        ("Contacts", "Label", "x"),
        ("Contacts", "Contact No", 5),
        ("Contacts", "Created", "2024-01-01T00:00:00.000Z"),
        ("Contacts", "Company Industry", ["Retail"]),
        ("Companies", "Contact Count", 3),
        ("Companies", "Pipeline Value", 1),
        ("Deals", "Won", 1),
    ],
)
def test_computed_fields_cannot_be_written(airtable_api: Api, table: str, field: str, value: Any):
    status, error_type, message = http_error(
        airtable_api.table(BASE_CRM_ID, table).create, {"Name": "x", field: value}
    )
    assert (status, error_type) == (422, "INVALID_VALUE_FOR_COLUMN")
    assert message == f'Field "{field}" cannot accept a value because the field is computed'


def test_unknown_field_name(airtable_api: Api):
    status, error_type, message = http_error(contacts(airtable_api).create, {"Nickname": "Al"})
    assert (status, error_type, message) == (
        422,
        "UNKNOWN_FIELD_NAME",
        'Unknown field name: "Nickname"',
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Score", "high"),
        ("Name", 5),
        ("Tags", "VIP"),
        ("Last Contacted", "yesterday"),
        ("Company", "Acme Corp"),
        ("Company", [123]),
    ],
)
def test_wrong_value_types_without_typecast(airtable_api: Api, field: str, value: Any):
    status, error_type, _ = http_error(contacts(airtable_api).create, {field: value})
    assert (status, error_type) == (422, "INVALID_VALUE_FOR_COLUMN")


def test_typecast_coerces_strings(airtable_api: Api):
    record = contacts(airtable_api).create(
        {
            "Name": 42,
            "Score": "7.5",
            "Last Contacted": "2024-03-05 10:00",
            "Tags": "VIP, Partner",
            "Company": "Globex",
        },
        typecast=True,
    )
    fields = record["fields"]
    assert fields["Name"] == "42"
    assert fields["Score"] == 7.5
    assert fields["Last Contacted"] == "2024-03-05T10:00:00.000Z"
    assert fields["Tags"] == ["VIP", "Partner"]
    assert fields["Company"] == [company_id(2)]
    company = airtable_api.table(BASE_CRM_ID, "Companies").update(
        company_id(3),
        {"Active": "yes", "Founded": "March 5, 2024", "Employees": "1,200"},
        typecast=True,
    )
    assert company["fields"]["Active"] is True
    assert company["fields"]["Founded"] == "2024-03-05"
    assert company["fields"]["Employees"] == 1200


def test_unknown_select_option_needs_typecast(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    table = contacts(airtable_api)
    status, error_type, message = http_error(table.create, {"Role": "Intern"})
    assert (status, error_type) == (422, "INVALID_MULTIPLE_CHOICE_OPTIONS")
    assert message == 'Insufficient permissions to create new select option ""Intern""'
    status, error_type, _ = http_error(table.create, {"Tags": ["VIP", "Alumni"]})
    assert (status, error_type) == (422, "INVALID_MULTIPLE_CHOICE_OPTIONS")

    record = table.create({"Role": "Intern", "Tags": ["Alumni"]}, typecast=True)
    assert record["fields"]["Role"] == "Intern"
    schema = airtable_api.base(BASE_CRM_ID).schema(force=True).table("Contacts")
    roles = [c.name for c in schema.field("Role").options.choices]
    assert roles == ["Engineer", "Manager", "Executive", "Sales", "Intern"]
    new_choice = schema.field("Tags").options.choices[-1]
    assert new_choice.name == "Alumni" and new_choice.id.startswith("sel")
    # Now that the option exists, no typecast is needed.
    assert table.create({"Role": "Intern"})["fields"]["Role"] == "Intern"


def test_links_update_the_inverse_field(airtable_api: Api):
    companies = airtable_api.table(BASE_CRM_ID, "Companies")
    new = contacts(airtable_api).create({"Name": "Nia", "Company": [company_id(2)]})
    assert companies.get(company_id(2))["fields"]["Contacts"] == [
        contact_id(3),
        contact_id(7),
        new["id"],
    ]
    contacts(airtable_api).update(contact_id(1), {"Company": [company_id(2)]})
    assert companies.get(company_id(1))["fields"]["Contacts"] == [contact_id(2)]
    assert contact_id(1) in companies.get(company_id(2))["fields"]["Contacts"]
    # And from the other side.
    companies.update(company_id(5), {"Contacts": [contact_id(8)]})
    assert contacts(airtable_api).get(contact_id(8))["fields"]["Company"] == [company_id(5)]
    assert "Company" not in contacts(airtable_api).get(contact_id(6))["fields"]


def test_link_to_missing_record_is_rejected(airtable_api: Api):
    status, error_type, _ = http_error(
        contacts(airtable_api).create, {"Company": ["recDoesNotExist01"]}
    )
    assert (status, error_type) == (422, "ROW_DOES_NOT_EXIST")


def test_typecast_link_by_name_creates_missing_records(airtable_api: Api):
    record = contacts(airtable_api).create({"Company": "Wayne Enterprises"}, typecast=True)
    [new_company] = record["fields"]["Company"]
    company = airtable_api.table(BASE_CRM_ID, "Companies").get(new_company)
    assert company["fields"]["Name"] == "Wayne Enterprises"
    assert company["fields"]["Contacts"] == [record["id"]]


def test_collaborator_by_email_and_unknown_collaborator(airtable_api: Api):
    deals = airtable_api.table(BASE_CRM_ID, "Deals")
    deal = deals.create({"Name": "New", "Owner": {"email": "dave@example.com"}})
    assert deal["fields"]["Owner"] == {
        "id": USER_CRM_ONLY_ID,
        "email": "dave@example.com",
        "name": "Dave Sales",
    }
    assert http_error(deals.create, {"Owner": {"email": "nobody@example.com"}})[:2] == (
        422,
        "INVALID_VALUE_FOR_COLUMN",
    )


def test_datetime_accepts_epoch_milliseconds(airtable_api: Api):
    record = contacts(airtable_api).create({"Last Contacted": 1640520000000})
    assert record["fields"]["Last Contacted"] == "2021-12-26T12:00:00.000Z"


def test_upsert_updates_matches_and_creates_the_rest(airtable_api: Api):
    table = contacts(airtable_api)
    result = table.batch_upsert(
        [
            {"fields": {"Name": "Alice Anders", "Score": 1}},
            {"fields": {"Name": "Newton New", "Score": 2}},
        ],
        key_fields=["Name"],
    )
    assert result["updatedRecords"] == [contact_id(1)]
    [created_id] = result["createdRecords"]
    assert [r["id"] for r in result["records"]] == [contact_id(1), created_id]
    assert table.get(contact_id(1))["fields"]["Email"] == "alice@example.com"  # merged
    replaced = table.batch_upsert(
        [{"fields": {"Name": "Alice Anders", "Score": 3}}], key_fields=["Name"], replace=True
    )
    assert replaced["updatedRecords"] == [contact_id(1)]
    assert "Email" not in table.get(contact_id(1))["fields"]


def test_upsert_with_several_matches_is_rejected(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    table = contacts(airtable_api)
    table.create({"Name": "Bob Brown"})
    status, error_type, _ = http_error(
        table.batch_upsert, [{"fields": {"Name": "Bob Brown", "Score": 1}}], ["Name"]
    )
    assert (status, error_type) == (422, "INVALID_REQUEST_UNKNOWN")
    assert count(airtable_emulator) == 9


def test_upsert_validation_on_the_wire(raw: RawClient):
    body = {"records": [{"fields": {"Score": 1}}], "performUpsert": {"fieldsToMergeOn": ["Name"]}}
    assert error_of(raw.patch(CONTACTS, json=body)) == (422, "INVALID_REQUEST_UNKNOWN")
    body = {
        "records": [{"fields": {"Name": "x"}}],
        "performUpsert": {"fieldsToMergeOn": ["Nope"]},
    }
    assert error_of(raw.patch(CONTACTS, json=body)) == (422, "UNKNOWN_FIELD_NAME")
    body = {"records": [{"fields": {"Name": "x"}}]}  # no id and no performUpsert
    assert error_of(raw.patch(CONTACTS, json=body)) == (422, "INVALID_RECORDS")


def test_write_bodies_are_validated(raw: RawClient):
    assert error_of(raw.post(CONTACTS, json={"fields": {"Name": "x"}, "bogus": 1})) == (
        422,
        "INVALID_REQUEST_UNKNOWN",
    )
    assert error_of(raw.post(CONTACTS, json={"typecast": True})) == (
        422,
        "INVALID_REQUEST_UNKNOWN",
    )
    assert error_of(raw.post(CONTACTS, data="{not json")) == (422, "INVALID_REQUEST_UNKNOWN")
    single = raw.post(CONTACTS, json={"fields": {"Name": "Solo"}, "typecast": False})
    assert single.status_code == 200 and single.json()["fields"]["Name"] == "Solo"


def test_attachments(airtable_api: Api):
    table = airtable_api.table(BASE_CRM_ID, "Companies")
    table.create_field("Logo", "multipleAttachments")
    record = table.update(
        company_id(1), {"Logo": [{"url": "https://cdn.example/logo.png", "filename": "logo.png"}]}
    )
    [attachment] = record["fields"]["Logo"]
    assert attachment["id"].startswith("att") and attachment["type"] == "image/png"
    kept = table.update(company_id(2), {"Logo": [{"id": attachment["id"]}]})
    assert kept["fields"]["Logo"][0]["url"] == "https://cdn.example/logo.png"


def test_concurrent_writers_are_serialised(airtable_emulator: AirtableEmulator):
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            table = emulator_api(airtable_emulator, TOKEN_FULL).table(BASE_CRM_ID, "Contacts")
            for i in range(10):
                table.create({"Name": f"w{worker}-{i}"})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    records = airtable_emulator.state.records(BASE_CRM_ID, "Contacts")
    assert len(records) == 88
    numbers = [r["fields"]["Contact No"] for r in records]
    assert sorted(numbers) == list(range(1, 89))


def test_table_created_with_link_field_gets_an_inverse(airtable_api: Api):
    base = airtable_api.base(BASE_CRM_ID)
    vendors = base.create_table(
        "Vendors",
        [
            {"name": "Name", "type": "singleLineText"},
            {
                "name": "Customers",
                "type": "multipleRecordLinks",
                "options": {"linkedTableId": TABLE_COMPANIES_ID},
            },
        ],
    )
    vendor = vendors.create({"Name": "Paper Co", "Customers": [company_id(1)]})
    acme = airtable_api.table(BASE_CRM_ID, "Companies").get(company_id(1))
    assert acme["fields"]["Vendors"] == [vendor["id"]]
