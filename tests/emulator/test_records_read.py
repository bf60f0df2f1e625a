"""Reading records: list, get, pagination, fields, sort, views, cell formats, POST listRecords."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import requests
from pyairtable import Api

from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    FIELD_IDS,
    TABLE_CONTACTS_ID,
    TOKEN_FULL,
    company_id,
    contact_id,
    deal_id,
)
from tests.emulator.conftest import RawClient, error_of

CONTACT_NAMES = [
    "Alice Anders",
    "Bob Brown",
    "Carol Chen",
    "Dan Diaz",
    "Eve Evans",
    "Frank Fox",
    "Grace Green",
    "Heidi Hill",
]
CONTACTS = f"/v0/{BASE_CRM_ID}/Contacts"
LIST_ENDPOINT = "GET /v0/{baseId}/{tableIdOrName}"


def names(records: list[dict]) -> list[str]:
    return [r["fields"]["Name"] for r in records]


def test_list_returns_every_record_in_creation_order(airtable_api: Api):
    records = airtable_api.table(BASE_CRM_ID, "Contacts").all()
    assert names(records) == CONTACT_NAMES
    assert [r["id"] for r in records] == [contact_id(i) for i in range(1, 9)]


def test_record_has_airtable_shape_with_computed_fields(airtable_api: Api):
    record = airtable_api.table(BASE_CRM_ID, "Contacts").get(contact_id(1))
    assert record["id"] == "recContact0000001"
    assert record["createdTime"] == "2024-01-03T09:01:00.000Z"
    fields = record["fields"]
    assert fields["Company"] == [company_id(1)]
    assert fields["Tags"] == ["VIP", "Newsletter"]
    assert fields["Last Contacted"] == "2024-03-01T10:00:00.000Z"
    assert fields["Company Industry"] == ["Software"]  # lookup through the link
    assert fields["Label"] == "Alice Anders (Engineer)"  # formula
    assert fields["Created"] == record["createdTime"]  # createdTime field
    assert fields["Contact No"] == 1  # autoNumber


def test_empty_values_are_left_out_of_responses(airtable_api: Api):
    contacts = airtable_api.table(BASE_CRM_ID, "Contacts")
    dan = contacts.get(contact_id(4))["fields"]
    assert "Tags" not in dan and "Last Contacted" not in dan and "Phone" not in dan
    heidi = contacts.get(contact_id(8))["fields"]
    assert "Company" not in heidi and "Company Industry" not in heidi
    initech = airtable_api.table(BASE_CRM_ID, "Companies").get(company_id(3))["fields"]
    assert "Active" not in initech  # an unchecked checkbox is omitted
    assert initech["Contact Count"] == 1


def test_rollup_and_count_fields(airtable_api: Api):
    companies = {
        r["fields"]["Name"]: r["fields"] for r in airtable_api.table(BASE_CRM_ID, "Companies").all()
    }
    assert companies["Acme Corp"]["Pipeline Value"] == 42000
    assert companies["Acme Corp"]["Contact Count"] == 2
    assert companies["Stark Retail"]["Pipeline Value"] == 15000


def test_page_size_pages_and_offset_is_omitted_on_last_page(raw: RawClient):
    first = raw.get(CONTACTS, params={"pageSize": 3}).json()
    assert len(first["records"]) == 3
    assert re.fullmatch(r"itr[A-Za-z0-9]{14}/rec[A-Za-z0-9]{14}", first["offset"])
    second = raw.get(CONTACTS, params={"pageSize": 3, "offset": first["offset"]}).json()
    third = raw.get(CONTACTS, params={"pageSize": 3, "offset": second["offset"]}).json()
    assert "offset" not in third
    assert names(first["records"] + second["records"] + third["records"]) == CONTACT_NAMES


def test_iterate_uses_offsets_through_pyairtable(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    pages = list(airtable_api.table(BASE_CRM_ID, "Contacts").iterate(page_size=3))
    assert [len(page) for page in pages] == [3, 3, 2]
    requests_made = airtable_emulator.stats()["requests"]
    assert ["offset=" in r["query"] for r in requests_made] == [False, True, True]


def test_max_records_limits_the_total_across_pages(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    records = airtable_api.table(BASE_CRM_ID, "Contacts").all(max_records=5, page_size=2)
    assert names(records) == CONTACT_NAMES[:5]
    assert airtable_emulator.stats()["by_endpoint"][LIST_ENDPOINT] == 3


@pytest.mark.parametrize("page_size", [0, 101, -1])
def test_page_size_outside_1_to_100_is_rejected(raw: RawClient, page_size: int):
    assert error_of(raw.get(CONTACTS, params={"pageSize": page_size})) == (
        422,
        "INVALID_REQUEST_UNKNOWN",
    )


def test_offset_is_a_snapshot_of_the_listing(raw: RawClient, airtable_emulator: AirtableEmulator):
    first = raw.get(CONTACTS, params={"pageSize": 4}).json()
    airtable_emulator.state.delete_record(BASE_CRM_ID, "Contacts", contact_id(6))
    airtable_emulator.state.create_record(BASE_CRM_ID, "Contacts", {"Name": "Zed Late"})
    rest = raw.get(CONTACTS, params={"pageSize": 4, "offset": first["offset"]}).json()
    # The deleted record is skipped, the new one is not part of this listing.
    assert names(rest["records"]) == ["Eve Evans", "Grace Green", "Heidi Hill"]


def test_bad_and_unknown_offsets(raw: RawClient):
    assert error_of(raw.get(CONTACTS, params={"offset": "garbage"})) == (
        422,
        "INVALID_OFFSET_VALUE",
    )
    unknown = "itrAAAAAAAAAAAAAA/recContact0000001"
    assert error_of(raw.get(CONTACTS, params={"offset": unknown})) == (
        422,
        "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
    )


def test_fields_parameter_restricts_output_by_name_or_id(airtable_api: Api):
    contacts = airtable_api.table(BASE_CRM_ID, "Contacts")
    records = contacts.all(fields=["Name", "Score"])
    assert all(set(r["fields"]) <= {"Name", "Score"} for r in records)
    assert records[0]["fields"] == {"Name": "Alice Anders", "Score": 8.5}
    by_id = contacts.all(fields=[FIELD_IDS["Contacts"]["Email"]], max_records=1)
    assert by_id[0]["fields"] == {"Email": "alice@example.com"}


def test_sort_ascending_puts_blanks_first_and_descending_last(airtable_api: Api):
    contacts = airtable_api.table(BASE_CRM_ID, "Contacts")
    ascending = names(contacts.all(sort=["Score"]))
    assert ascending == [
        "Grace Green",
        "Heidi Hill",
        "Dan Diaz",
        "Frank Fox",
        "Bob Brown",
        "Eve Evans",
        "Alice Anders",
        "Carol Chen",
    ]
    assert names(contacts.all(sort=["-Score"])) == [*ascending[1:][::-1], "Grace Green"]


def test_multi_key_sort_orders_selects_by_option_order(airtable_api: Api):
    records = airtable_api.table(BASE_CRM_ID, "Contacts").all(sort=["Role", "-Score"])
    assert names(records) == [
        "Alice Anders",  # Engineer 8.5
        "Dan Diaz",  # Engineer 4
        "Grace Green",  # Engineer, no score
        "Bob Brown",  # Manager 6
        "Frank Fox",  # Manager 5
        "Carol Chen",  # Executive
        "Eve Evans",  # Sales 7.5
        "Heidi Hill",  # Sales 3
    ]


def test_sort_by_linked_record_uses_primary_values(airtable_api: Api):
    records = airtable_api.table(BASE_CRM_ID, "Deals").all(sort=["Company"])
    assert [r["id"] for r in records] == [deal_id(n) for n in (1, 2, 3, 4, 6, 5)]


def test_text_sort_ignores_case(airtable_api: Api, airtable_emulator: AirtableEmulator):
    airtable_emulator.state.create_record(BASE_CRM_ID, "Contacts", {"Name": "aaron adams"})
    assert names(airtable_api.table(BASE_CRM_ID, "Contacts").all(sort=["Name"]))[:2] == [
        "aaron adams",
        "Alice Anders",
    ]


def test_sort_via_raw_params_and_bad_direction(raw: RawClient):
    params = {"sort[0][field]": "Score", "sort[0][direction]": "desc", "maxRecords": 2}
    assert names(raw.get(CONTACTS, params=params).json()["records"]) == [
        "Carol Chen",
        "Alice Anders",
    ]
    params["sort[0][direction]"] = "sideways"
    assert error_of(raw.get(CONTACTS, params=params)) == (422, "INVALID_REQUEST_UNKNOWN")


def test_view_filters_and_sorts_records(airtable_api: Api):
    contacts = airtable_api.table(BASE_CRM_ID, "Contacts")
    assert names(contacts.all(view="VIPs")) == ["Carol Chen", "Alice Anders"]
    assert names(contacts.all(view="viwEmuContacts002")) == ["Carol Chen", "Alice Anders"]
    # An explicit sort overrides the view's sort.
    assert names(contacts.all(view="VIPs", sort=["Name"])) == ["Alice Anders", "Carol Chen"]
    # A filter combines with the view's filter.
    assert names(contacts.all(view="VIPs", formula="{Role} = 'Engineer'")) == ["Alice Anders"]
    deals = airtable_api.table(BASE_CRM_ID, "Deals").all(view="Open deals")
    assert [r["id"] for r in deals] == [deal_id(n) for n in (5, 2, 3)]


def test_unknown_view_is_rejected(raw: RawClient):
    assert error_of(raw.get(CONTACTS, params={"view": "Nope"})) == (422, "VIEW_NAME_NOT_FOUND")


@pytest.mark.parametrize("flag", ["1", "true"])
def test_return_fields_by_field_id_true(raw: RawClient, flag: str):
    record = raw.get(CONTACTS, params={"returnFieldsByFieldId": flag, "maxRecords": 1}).json()
    fields = record["records"][0]["fields"]
    assert fields[FIELD_IDS["Contacts"]["Name"]] == "Alice Anders"
    assert "Name" not in fields


@pytest.mark.parametrize("flag", ["0", "false"])
def test_return_fields_by_field_id_false(raw: RawClient, flag: str):
    record = raw.get(CONTACTS, params={"returnFieldsByFieldId": flag, "maxRecords": 1}).json()
    assert record["records"][0]["fields"]["Name"] == "Alice Anders"


def test_use_field_ids_through_pyairtable(airtable_emulator: AirtableEmulator):
    api = Api(TOKEN_FULL, endpoint_url=airtable_emulator.url, use_field_ids=True)
    contacts = api.table(BASE_CRM_ID, "Contacts")
    name_id = FIELD_IDS["Contacts"]["Name"]
    assert contacts.get(contact_id(2))["fields"][name_id] == "Bob Brown"
    assert contacts.all()[0]["fields"][name_id] == "Alice Anders"
    created = contacts.create({"Name": "Ida"})
    assert created["fields"][name_id] == "Ida"


def test_cell_format_string_needs_time_zone_and_locale(raw: RawClient):
    assert error_of(raw.get(CONTACTS, params={"cellFormat": "string"})) == (
        422,
        "INVALID_REQUEST_UNKNOWN",
    )
    assert error_of(raw.get(CONTACTS, params={"cellFormat": "xml"})) == (
        422,
        "INVALID_REQUEST_UNKNOWN",
    )


def test_cell_format_string_renders_text(airtable_api: Api):
    record = airtable_api.table(BASE_CRM_ID, "Contacts").first(
        cell_format="string", time_zone="America/New_York", user_locale="en-us"
    )
    assert record is not None
    fields = record["fields"]
    assert fields["Company"] == "Acme Corp"
    assert fields["Tags"] == "VIP, Newsletter"
    assert fields["Score"] == "8.5"
    assert fields["Last Contacted"] == "2024-03-01 05:00"  # UTC 10:00 in New York (EST)
    assert fields["Company Industry"] == "Software"


def test_cell_format_json_is_the_default(raw: RawClient):
    record = raw.get(CONTACTS, params={"cellFormat": "json", "maxRecords": 1}).json()
    assert record["records"][0]["fields"]["Company"] == [company_id(1)]


def test_post_list_records_matches_get(raw: RawClient):
    body = {
        "filterByFormula": "{Score} > 5",
        "sort": [{"field": "Score", "direction": "desc"}],
        "fields": ["Name"],
        "pageSize": 2,
        "returnFieldsByFieldId": False,
    }
    first = raw.post(CONTACTS + "/listRecords", json=body).json()
    assert names(first["records"]) == ["Carol Chen", "Alice Anders"]
    second = raw.post(CONTACTS + "/listRecords", json={**body, "offset": first["offset"]}).json()
    assert names(second["records"]) == ["Eve Evans", "Bob Brown"]
    assert "offset" not in second
    params = {
        "filterByFormula": "{Score} > 5",
        "sort[0][field]": "Score",
        "sort[0][direction]": "desc",
        "fields[]": "Name",
    }
    via_get = raw.get(CONTACTS, params=params).json()
    assert names(via_get["records"]) == names(first["records"] + second["records"])


def test_pyairtable_falls_back_to_post_for_long_urls(
    airtable_api: Api, airtable_emulator: AirtableEmulator, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(Api, "MAX_URL_LENGTH", 10)
    records = airtable_api.table(BASE_CRM_ID, "Contacts").all(
        formula="{Role} = 'Engineer'", page_size=2, fields=["Name"]
    )
    assert names(records) == ["Alice Anders", "Dan Diaz", "Grace Green"]
    by_endpoint = airtable_emulator.stats()["by_endpoint"]
    assert by_endpoint == {"POST /v0/{baseId}/{tableIdOrName}/listRecords": 2}


def test_table_by_id_and_by_name_with_special_characters(
    airtable_api: Api, airtable_emulator: AirtableEmulator
):
    assert names(airtable_api.table(BASE_CRM_ID, TABLE_CONTACTS_ID).all()) == CONTACT_NAMES
    base = airtable_api.base(BASE_CRM_ID)
    base.create_table("Q&A / Notes?", [{"name": "Question", "type": "singleLineText"}])
    table = airtable_api.table(BASE_CRM_ID, "Q&A / Notes?")
    table.create({"Question": "Does a slash work?"})
    assert [r["fields"]["Question"] for r in table.all()] == ["Does a slash work?"]


def test_get_one_record_and_comment_count(airtable_api: Api):
    contacts = airtable_api.table(BASE_CRM_ID, "Contacts")
    contacts.add_comment(contact_id(2), "Call back on Monday")
    records = contacts.all(count_comments=True, max_records=2)
    assert [r["commentCount"] for r in records] == [0, 1]
    assert "commentCount" not in contacts.all(max_records=1)[0]


def test_record_of_another_table_is_not_found(airtable_api: Api):
    with pytest.raises(requests.HTTPError) as caught:
        airtable_api.table(BASE_CRM_ID, "Companies").get(contact_id(1))
    assert caught.value.response.status_code == 404


def test_first_asks_for_a_single_record(airtable_api: Api, airtable_emulator: AirtableEmulator):
    record = airtable_api.table(BASE_CRM_ID, "Contacts").first(formula="{Role} = 'Sales'")
    assert record is not None and record["fields"]["Name"] == "Eve Evans"
    assert "maxRecords=1" in airtable_emulator.stats()["requests"][-1]["query"]


def test_created_time_of_new_records_is_iso_utc_with_milliseconds(airtable_api: Api):
    before = datetime.now(UTC).replace(microsecond=0)
    record = airtable_api.table(BASE_CRM_ID, "Contacts").create({"Name": "Jo"})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["createdTime"])
    created = datetime.fromisoformat(record["createdTime"].replace("Z", "+00:00"))
    assert before <= created <= datetime.now(UTC)
    assert re.fullmatch(r"rec[A-Za-z0-9]{14}", record["id"])


@pytest.mark.parametrize(
    "formula, expected",
    [
        # Answered from the ids: table order, unknown ids left out, spacing as typed.
        ("OR(RECORD_ID()='recContact0000003', RECORD_ID() = 'recContact0000001', "
         "RECORD_ID()='recNoSuchRecord01')", [1, 3]),
        ("RECORD_ID()='recContact0000002'", [2]),
        # Anything else in the formula: evaluated record by record as before.
        ("OR(RECORD_ID()='recContact0000003', {Name}='Bob Brown')", [2, 3]),
        ("AND(RECORD_ID()='recContact0000003', {Name}='Bob Brown')", []),
    ],
)  # fmt: skip
def test_a_formula_of_record_ids_selects_those_records(
    airtable_api: Api, formula: str, expected: list[int]
):
    records = airtable_api.table(BASE_CRM_ID, "Contacts").all(formula=formula)
    assert [r["id"] for r in records] == [contact_id(i) for i in expected]
