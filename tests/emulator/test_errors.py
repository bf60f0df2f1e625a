"""Error statuses and bodies, as real Airtable sends them."""

from __future__ import annotations

import pytest
import requests
from pyairtable import Api

from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.errors import FORBIDDEN_MESSAGE
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    BASE_PROJECTS_ID,
    TOKEN_CRM_ONLY,
    TOKEN_FULL,
    TOKEN_NO_BASES,
    TOKEN_NO_SCHEMA,
    TOKEN_READ_ONLY,
    contact_id,
)
from tests.emulator.conftest import RawClient, error_of
from tests.fakes.airtable_fixtures import EmulatorFactory, emulator_api

CONTACTS = f"/v0/{BASE_CRM_ID}/Contacts"
AUTH_BODY = {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}
FORBIDDEN_BODY = {
    "error": {"type": "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "message": FORBIDDEN_MESSAGE}
}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer patUnknownToken00.0000"},
        {"Authorization": f"Basic {TOKEN_FULL}"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_unknown_token_is_401(raw: RawClient, headers: dict):
    for path in (CONTACTS, "/v0/meta/whoami", "/v0/meta/bases"):
        response = raw.get(path, token=None, headers=headers)
        assert response.status_code == 401
        assert response.json() == AUTH_BODY


def test_401_through_pyairtable(airtable_emulator: AirtableEmulator):
    api = emulator_api(airtable_emulator, "patWrongWrongWron.0000")
    with pytest.raises(requests.HTTPError) as caught:
        api.table(BASE_CRM_ID, "Contacts").all()
    assert caught.value.response.status_code == 401
    assert "AUTHENTICATION_REQUIRED" in str(caught.value)


@pytest.mark.parametrize(
    ("token", "method", "path"),
    [
        (TOKEN_CRM_ONLY, "GET", f"/v0/{BASE_PROJECTS_ID}/Projects"),  # base not granted
        (TOKEN_NO_BASES, "GET", CONTACTS),
        (TOKEN_FULL, "GET", "/v0/appDoesNotExist0/Contacts"),  # unknown base
        (TOKEN_FULL, "GET", f"/v0/{BASE_CRM_ID}/NoSuchTable"),  # unknown table
        (TOKEN_FULL, "GET", f"/v0/{BASE_CRM_ID}/tblNoSuchTable001/{contact_id(1)}"),
        (TOKEN_READ_ONLY, "POST", CONTACTS),  # missing data.records:write
        (TOKEN_READ_ONLY, "DELETE", f"{CONTACTS}/{contact_id(1)}"),
        (TOKEN_NO_SCHEMA, "GET", f"/v0/meta/bases/{BASE_CRM_ID}/tables"),  # missing schema scope
        (TOKEN_CRM_ONLY, "GET", f"/v0/meta/bases/{BASE_PROJECTS_ID}/tables"),
        (TOKEN_FULL, "PATCH", f"/v0/meta/bases/{BASE_CRM_ID}/tables/Nope/fields/Name"),
    ],
)
def test_forbidden_is_403_with_airtables_body(raw: RawClient, token: str, method: str, path: str):
    response = raw.request(method, path, token=token, json={"fields": {"Name": "x"}})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN_BODY


def test_read_only_token_can_read(raw: RawClient):
    assert raw.get(CONTACTS, token=TOKEN_READ_ONLY).status_code == 200


def test_read_permission_level_blocks_writes(airtable_emulator_factory: EmulatorFactory):
    seed = {
        "tokens": [{"token": TOKEN_FULL, "bases": ["appArchiveArchive1"]}],
        "bases": [
            {
                "id": "appArchiveArchive1",
                "name": "Archive",
                "permission_level": "read",
                "tables": [{"name": "Old", "fields": [{"name": "Name"}], "records": []}],
            }
        ],
    }
    emulator = airtable_emulator_factory(seed)
    table = emulator_api(emulator, TOKEN_FULL).table("appArchiveArchive1", "Old")
    assert table.all() == []
    with pytest.raises(requests.HTTPError) as caught:
        table.create({"Name": "x"})
    assert caught.value.response.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v0"),
        ("GET", "/v0/nothing"),
        ("GET", "/v1/meta/bases"),
        ("GET", "/"),
        ("PUT", "/v0/meta/bases"),
        ("GET", f"{CONTACTS}/{contact_id(1)}/nested/too/deep"),
        ("GET", f"{CONTACTS}/not-a-record-id"),
    ],
)
def test_unknown_paths_are_404_not_found(raw: RawClient, method: str, path: str):
    response = raw.request(method, path)
    assert response.status_code == 404
    assert response.json() == {"error": "NOT_FOUND"}


def test_unknown_record_is_404_model_id_not_found(raw: RawClient):
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        response = raw.request(method, f"{CONTACTS}/recDoesNotExist01", json={"fields": {}})
        assert response.status_code == 404
        assert response.json() == {
            "error": {"type": "MODEL_ID_NOT_FOUND", "message": "Record not found"}
        }


@pytest.mark.parametrize(
    ("params", "error_type"),
    [
        ({"pageSize": "abc"}, "INVALID_REQUEST_UNKNOWN"),
        ({"maxRecords": 0}, "INVALID_REQUEST_UNKNOWN"),
        ({"returnFieldsByFieldId": "maybe"}, "INVALID_REQUEST_UNKNOWN"),
        ({"fields[]": "Nope"}, "UNKNOWN_FIELD_NAME"),
        ({"sort[0][field]": "Nope"}, "UNKNOWN_FIELD_NAME"),
        ({"sort[0][direction]": "asc"}, "INVALID_REQUEST_UNKNOWN"),
        ({"filterByFormula": "{Nope}"}, "INVALID_FILTER_BY_FORMULA"),
        ({"view": "Nope"}, "VIEW_NAME_NOT_FOUND"),
    ],
)
def test_bad_list_parameters_are_422(raw: RawClient, params: dict, error_type: str):
    response = raw.get(CONTACTS, params=params)
    assert error_of(response) == (422, error_type)
    assert isinstance(response.json()["error"]["message"], str)


@pytest.mark.parametrize(
    ("body", "error_type"),
    [
        ({"fields": {"Nope": 1}}, "UNKNOWN_FIELD_NAME"),
        ({"fields": {"Score": "ten"}}, "INVALID_VALUE_FOR_COLUMN"),
        ({"fields": {"Role": "Astronaut"}}, "INVALID_MULTIPLE_CHOICE_OPTIONS"),
        ({"fields": {"Label": "computed"}}, "INVALID_VALUE_FOR_COLUMN"),
        ({"fields": "Name"}, "INVALID_REQUEST_UNKNOWN"),
        ({"records": []}, "INVALID_RECORDS"),
        ({"records": [{"fields": {}}] * 11}, "INVALID_RECORDS"),
        ({"records": ["not an object"]}, "INVALID_RECORDS"),
        ({"fields": {}, "typecast": "sometimes"}, "INVALID_REQUEST_UNKNOWN"),
    ],
)
def test_bad_write_bodies_are_422(raw: RawClient, body: dict, error_type: str):
    assert error_of(raw.post(CONTACTS, json=body)) == (422, error_type)


def test_pyairtable_surfaces_the_error_body(airtable_api: Api):
    with pytest.raises(requests.HTTPError) as caught:
        airtable_api.table(BASE_CRM_ID, "Contacts").create({"Score": "ten"})
    assert caught.value.response.status_code == 422
    assert caught.value.args[-1] == repr(
        {
            "type": "INVALID_VALUE_FOR_COLUMN",
            "message": 'Field "Score" cannot accept the provided value: expected a number',
        }
    )
