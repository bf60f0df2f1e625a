"""Metadata API: whoami, bases, base schema, create/update tables and fields."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from pyairtable import Api
from pyairtable.models import schema as S

from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    BASE_PROJECTS_ID,
    FIELD_IDS,
    TABLE_COMPANIES_ID,
    TABLE_CONTACTS_ID,
    TABLE_DEALS_ID,
    TOKEN_CRM_ONLY,
    TOKEN_FULL,
    TOKEN_NO_BASES,
    TOKEN_NO_SCHEMA,
    TOKEN_READ_ONLY,
    USER_FULL_ID,
    USER_READ_ONLY_ID,
)
from tests.emulator.conftest import RawClient, error_of
from tests.fakes.airtable_fixtures import emulator_api

META_TABLES = f"/v0/meta/bases/{BASE_CRM_ID}/tables"


def status_of(call: Any, *args: Any, **kwargs: Any) -> tuple[int, str | None]:
    with pytest.raises(requests.HTTPError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    error = response.json()["error"]
    return response.status_code, error["type"] if isinstance(error, dict) else error


def test_whoami_reports_user_scopes_and_email(airtable_emulator: AirtableEmulator):
    me = emulator_api(airtable_emulator, TOKEN_FULL).whoami()
    assert me["id"] == USER_FULL_ID
    assert me["email"] == "alice@example.com"
    assert "data.records:write" in me["scopes"]
    reader = emulator_api(airtable_emulator, TOKEN_READ_ONLY).whoami()
    assert reader["id"] == USER_READ_ONLY_ID
    assert "email" not in reader  # no user.email:read scope
    assert "data.records:write" not in reader["scopes"]


def test_list_bases_shows_only_the_tokens_bases(airtable_emulator: AirtableEmulator):
    bases = emulator_api(airtable_emulator, TOKEN_FULL).bases()
    assert [(b.id, b.name, b.permission_level) for b in bases] == [
        (BASE_CRM_ID, "Emulator CRM", "create"),
        (BASE_PROJECTS_ID, "Emulator Projects", "create"),
    ]
    assert [b.id for b in emulator_api(airtable_emulator, TOKEN_CRM_ONLY).bases()] == [BASE_CRM_ID]
    assert emulator_api(airtable_emulator, TOKEN_NO_BASES).bases() == []


def test_base_schema_parses_into_pyairtable_models(airtable_api: Api):
    schema = airtable_api.base(BASE_CRM_ID).schema()
    assert [t.id for t in schema.tables] == [TABLE_COMPANIES_ID, TABLE_CONTACTS_ID, TABLE_DEALS_ID]
    contacts = schema.table("Contacts")
    assert contacts.primary_field_id == FIELD_IDS["Contacts"]["Name"]
    kinds = {f.name: type(f) for f in contacts.fields}
    assert kinds == {
        "Name": S.SingleLineTextFieldSchema,
        "Email": S.EmailFieldSchema,
        "Company": S.MultipleRecordLinksFieldSchema,
        "Role": S.SingleSelectFieldSchema,
        "Tags": S.MultipleSelectsFieldSchema,
        "Score": S.NumberFieldSchema,
        "Last Contacted": S.DateTimeFieldSchema,
        "Company Industry": S.MultipleLookupValuesFieldSchema,
        "Label": S.FormulaFieldSchema,
        "Created": S.CreatedTimeFieldSchema,
        "Contact No": S.AutoNumberFieldSchema,
        "Phone": S.PhoneNumberFieldSchema,
    }
    companies = schema.table(TABLE_COMPANIES_ID)
    assert {type(f) for f in companies.fields} >= {
        S.CheckboxFieldSchema,
        S.DateFieldSchema,
        S.CountFieldSchema,
        S.RollupFieldSchema,
        S.UrlFieldSchema,
        S.MultilineTextFieldSchema,
    }
    deals = schema.table("Deals")
    assert {type(f) for f in deals.fields} >= {
        S.CurrencyFieldSchema,
        S.PercentFieldSchema,
        S.SingleCollaboratorFieldSchema,
    }


def test_field_options_are_fully_populated(airtable_api: Api):
    schema = airtable_api.base(BASE_CRM_ID).schema()
    contacts, companies = schema.table("Contacts"), schema.table("Companies")
    role = contacts.field("Role")
    assert [c.name for c in role.options.choices] == ["Engineer", "Manager", "Executive", "Sales"]
    assert all(re.fullmatch(r"sel[A-Za-z0-9]{14}", c.id) for c in role.options.choices)
    assert contacts.field("Score").options.precision == 1
    assert contacts.field("Last Contacted").options.time_zone == "utc"
    link = contacts.field("Company")
    assert link.options.linked_table_id == TABLE_COMPANIES_ID
    assert link.options.inverse_link_field_id == FIELD_IDS["Companies"]["Contacts"]
    assert link.options.prefers_single_record_link is True
    assert companies.field("Contacts").options.inverse_link_field_id == link.id
    lookup = contacts.field("Company Industry")
    assert lookup.options.record_link_field_id == link.id
    assert lookup.options.field_id_in_linked_table == FIELD_IDS["Companies"]["Industry"]
    assert lookup.options.result.type == "singleSelect"
    formula = contacts.field("Label")
    assert formula.options.formula == "{Name} & ' (' & {Role} & ')'"
    assert formula.options.is_valid is True
    assert set(formula.options.referenced_field_ids) == {
        FIELD_IDS["Contacts"]["Name"],
        FIELD_IDS["Contacts"]["Role"],
    }
    assert formula.options.result.type == "singleLineText"
    rollup = companies.field("Pipeline Value")
    assert rollup.options.referenced_field_ids == [FIELD_IDS["Deals"]["Amount"]]
    assert rollup.options.result.type == "number"
    count = companies.field("Contact Count")
    assert count.options.record_link_field_id == FIELD_IDS["Companies"]["Contacts"]
    assert companies.field("Active").options.icon == "check"
    assert companies.field("Founded").options.date_format.name == "iso"
    assert companies.field("Notes").description == "Free-form notes"
    assert companies.description == "Customer companies"


def test_views_and_visible_field_ids(airtable_api: Api, raw: RawClient):
    contacts = airtable_api.base(BASE_CRM_ID).schema().table("Contacts")
    assert [(v.id, v.name, v.type) for v in contacts.views] == [
        ("viwEmuContacts001", "Grid view", "grid"),
        ("viwEmuContacts002", "VIPs", "grid"),
    ]
    assert contacts.view("VIPs").visible_field_ids == [f.id for f in contacts.fields]
    plain = raw.get(META_TABLES).json()["tables"][1]["views"][0]
    assert "visibleFieldIds" not in plain  # only with include=visibleFieldIds


def test_table_schema_by_name_and_id(airtable_api: Api):
    by_name = airtable_api.table(BASE_CRM_ID, "Deals")
    assert by_name.id == TABLE_DEALS_ID  # resolved through the schema endpoint
    assert by_name.schema().field(FIELD_IDS["Deals"]["Stage"]).name == "Stage"
    assert airtable_api.table(BASE_CRM_ID, TABLE_DEALS_ID).schema().name == "Deals"


def test_create_table(airtable_api: Api):
    base = airtable_api.base(BASE_CRM_ID)
    table = base.create_table(
        "Vendors",
        [
            {"name": "Name", "type": "singleLineText"},
            {"name": "Rating", "type": "rating", "options": {"max": 3}},
            {"name": "Tier", "type": "singleSelect", "options": {"choices": [{"name": "Gold"}]}},
        ],
        description="Suppliers",
    )
    schema = table.schema()
    assert re.fullmatch(r"tbl[A-Za-z0-9]{14}", schema.id)
    assert schema.description == "Suppliers"
    assert [f.name for f in schema.fields] == ["Name", "Rating", "Tier"]
    assert schema.field("Rating").options.max == 3
    assert [v.name for v in schema.views] == ["Grid view"]
    record = table.create({"Name": "Paper Co", "Rating": 2, "Tier": "Gold"})
    assert record["fields"] == {"Name": "Paper Co", "Rating": 2, "Tier": "Gold"}
    assert status_of(table.create, {"Rating": 4}) == (422, "INVALID_VALUE_FOR_COLUMN")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "contacts", "fields": [{"name": "Name", "type": "singleLineText"}]},
         (422, "DUPLICATE_TABLE_NAME")),
        ({"name": "Empty", "fields": []}, (422, "INVALID_REQUEST_UNKNOWN")),
        ({"name": "Bad primary", "fields": [{"name": "Done", "type": "checkbox"}]},
         (422, "INVALID_REQUEST_UNKNOWN")),
        ({"name": "Bad type", "fields": [{"name": "X", "type": "hologram"}]},
         (422, "INVALID_REQUEST_UNKNOWN")),
        ({"name": "Dupes", "fields": [{"name": "A", "type": "singleLineText"},
                                     {"name": "a", "type": "number"}]},
         (422, "DUPLICATE_OR_EMPTY_FIELD_NAME")),
        ({"name": "Bad link", "fields": [{"name": "A", "type": "singleLineText"},
                                        {"name": "L", "type": "multipleRecordLinks",
                                         "options": {"linkedTableId": "tblNopeNopeNope01"}}]},
         (422, "INVALID_REQUEST_UNKNOWN")),
    ],
)  # fmt: skip
def test_create_table_validation(
    raw: RawClient, airtable_emulator: AirtableEmulator, body: dict, expected: tuple
):
    assert error_of(raw.post(META_TABLES, json=body)) == expected
    assert len(airtable_emulator.state.base_schema(BASE_CRM_ID)["tables"]) == 3


def test_create_fields_of_several_types(airtable_api: Api):
    table = airtable_api.table(BASE_CRM_ID, "Contacts")
    priority = table.create_field(
        "Priority", "singleSelect", options={"choices": [{"name": "High"}, {"name": "Low"}]}
    )
    assert isinstance(priority, S.SingleSelectFieldSchema)
    assert re.fullmatch(r"fld[A-Za-z0-9]{14}", priority.id)
    assert [c.name for c in priority.options.choices] == ["High", "Low"]
    shout = table.create_field(
        "Shout", "formula", description="Upper name", options={"formula": "UPPER({Name})"}
    )
    assert shout.options.result.type == "singleLineText"
    deals = table.create_field(
        "Deals", "multipleRecordLinks", options={"linkedTableId": TABLE_DEALS_ID}
    )
    updated = table.update(
        "recContact0000001", {"Priority": "High", "Deals": ["recDeal0000000002"]}
    )
    assert updated["fields"]["Shout"] == "ALICE ANDERS"
    assert status_of(table.update, "recContact0000001", {"Priority": "Medium"}) == (
        422,
        "INVALID_MULTIPLE_CHOICE_OPTIONS",
    )
    # Airtable adds the other half of a new link field to the linked table.
    inverse = airtable_api.base(BASE_CRM_ID).schema(force=True).table("Deals").field("Contacts")
    assert inverse.options.inverse_link_field_id == deals.id
    deal = airtable_api.table(BASE_CRM_ID, "Deals").get("recDeal0000000002")
    assert deal["fields"]["Contacts"] == ["recContact0000001"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "score", "type": "number"}, (422, "DUPLICATE_OR_EMPTY_FIELD_NAME")),
        ({"name": "", "type": "number"}, (422, "DUPLICATE_OR_EMPTY_FIELD_NAME")),
        ({"name": "X", "type": "hologram"}, (422, "INVALID_REQUEST_UNKNOWN")),
        ({"name": "X", "type": "formula", "options": {"formula": "{Nope}"}},
         (422, "INVALID_REQUEST_UNKNOWN")),
        ({"name": "X", "type": "singleSelect", "options": {"choices": "A,B"}},
         (422, "INVALID_REQUEST_UNKNOWN")),
    ],
)  # fmt: skip
def test_create_field_validation(raw: RawClient, body: dict, expected: tuple):
    assert error_of(raw.post(META_TABLES + "/Contacts/fields", json=body)) == expected


def test_update_table_name_and_description(airtable_api: Api):
    schema = airtable_api.table(BASE_CRM_ID, "Contacts").schema()
    schema.name = "People"
    schema.description = "Everyone we know"
    schema.save()
    people = airtable_api.table(BASE_CRM_ID, "People")
    assert len(people.all()) == 8
    assert people.schema().description == "Everyone we know"
    assert status_of(airtable_api.table(BASE_CRM_ID, "Contacts").all) == (
        403,
        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
    )


def test_update_field_by_id_or_name(airtable_api: Api, raw: RawClient):
    field = airtable_api.table(BASE_CRM_ID, "Contacts").schema().field("Score")
    field.name = "Rating"
    field.description = "0 to 10"
    field.save()
    record = airtable_api.table(BASE_CRM_ID, "Contacts").get("recContact0000001")
    assert record["fields"]["Rating"] == 8.5 and "Score" not in record["fields"]
    response = raw.patch(META_TABLES + "/Contacts/fields/Rating", json={"name": "Score"})
    assert response.status_code == 200
    assert response.json() == {
        "id": FIELD_IDS["Contacts"]["Score"],
        "name": "Score",
        "type": "number",
        "description": "0 to 10",
        "options": {"precision": 1},
    }
    assert error_of(
        raw.patch(META_TABLES + "/Contacts/fields/Score", json={"type": "singleLineText"})
    ) == (422, "INVALID_REQUEST_UNKNOWN")
    assert error_of(raw.patch(META_TABLES + "/Contacts/fields/Score", json={"name": "email"})) == (
        422,
        "DUPLICATE_OR_EMPTY_FIELD_NAME",
    )


def test_schema_scopes_and_permissions(airtable_emulator: AirtableEmulator):
    no_schema = emulator_api(airtable_emulator, TOKEN_NO_SCHEMA)
    assert status_of(no_schema.bases) == (403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND")
    assert status_of(no_schema.base(BASE_CRM_ID).schema) == (
        403,
        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
    )
    assert len(no_schema.table(BASE_CRM_ID, "Contacts").all()) == 8
    reader = emulator_api(airtable_emulator, TOKEN_READ_ONLY)
    assert reader.base(BASE_CRM_ID).schema().table("Deals").id == TABLE_DEALS_ID
    assert status_of(
        reader.table(BASE_CRM_ID, TABLE_DEALS_ID).create_field, "Extra", "singleLineText"
    ) == (403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND")
