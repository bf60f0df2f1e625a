"""Exports against the emulator: 1,000 records match it, links by name, formulas neutralised."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from pyairtable_ui.automations import exports
from pyairtable_ui.automations.exports import ExportRequest, neutralise
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.emulator import build_seed
from pyairtable_ui.emulator.seeds import (
    BASE_PROJECTS_ID,
    TABLE_ITEMS_ID,
    TABLE_TASKS_ID,
    TOKEN_FULL,
)
from pyairtable_ui.tools.arguments import Filter
from tests.fakes.airtable_fixtures import emulator_api
from tests.unit.actions.helpers import table_records, writes


@pytest.fixture
def emulator(airtable_emulator_factory):
    return airtable_emulator_factory(build_seed(big_table_records=1000))


@pytest.fixture
def client_for(emulator, make_client):
    client = make_client(emulator)
    return lambda _user_id: client


def exported_rows(user_id: int, request: ExportRequest, client_for) -> list[dict[str, str]]:
    result = exports.export_table(user_id, request, client_for=client_for)
    path = exports.export_path(user_id, result.name)
    assert path is not None
    if request.format == "xlsx":
        sheet = load_workbook(path, read_only=True).active
        values = [
            ["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)
        ]
        return [dict(zip(values[0], row, strict=True)) for row in values[1:]]
    text = path.read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_export_of_1000_records_matches_the_emulator(user_id, client_for, emulator):
    progress: list[int] = []
    result = exports.export_table(
        user_id,
        ExportRequest(BASE_PROJECTS_ID, TABLE_ITEMS_ID),
        client_for=client_for,
        on_progress=progress.append,
    )
    assert result.records == 1000
    assert result.download_name == "Items.csv"
    assert progress[-1] == 1000
    path = exports.export_path(user_id, result.name)
    assert path is not None
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    expected = table_records(emulator, TABLE_ITEMS_ID)
    assert len(rows) == len(expected) == 1000
    by_name = {r["Name"]: r for r in rows}
    for fields in expected.values():
        row = by_name[fields["Name"]]
        assert row["Index"] == str(fields["Index"])
        assert row["Group"] == fields["Group"]
        assert row["Even"] == ("checked" if fields.get("Even") else "")
    assert writes(emulator) == []


def test_xlsx_export_holds_the_same_records(user_id, client_for, emulator):
    rows = exported_rows(
        user_id, ExportRequest(BASE_PROJECTS_ID, TABLE_ITEMS_ID, format="xlsx"), client_for
    )
    assert len(rows) == 1000
    assert rows[0]["Name"] == "Item 0001" and rows[0]["Index"] == 1


def test_a_filtered_set_is_what_the_filters_match(user_id, client_for):
    request = ExportRequest(
        BASE_PROJECTS_ID,
        TABLE_ITEMS_ID,
        filters=(
            Filter(field="Group", op="eq", value="A"),
            Filter(field="Index", op="lte", value=40),
        ),
    )
    rows = exported_rows(user_id, request, client_for)
    assert sorted(int(r["Index"]) for r in rows) == list(range(4, 41, 4))


def test_links_are_written_by_display_value(user_id, client_for):
    rows = exported_rows(user_id, ExportRequest(BASE_PROJECTS_ID, TABLE_TASKS_ID), client_for)
    by_name = {r["Name"]: r for r in rows}
    assert by_name["Pack boxes"]["Project"] == "Office move"


def test_formula_looking_text_is_neutralised_in_csv_and_text_in_xlsx(
    user_id, client_for, emulator, make_client
):
    api = emulator_api(emulator, TOKEN_FULL)
    api.table(BASE_PROJECTS_ID, TABLE_ITEMS_ID).create(
        {"Name": '=HYPERLINK("http://evil","x")', "Index": -5}
    )
    csv_rows = exported_rows(user_id, ExportRequest(BASE_PROJECTS_ID, TABLE_ITEMS_ID), client_for)
    row = next(r for r in csv_rows if "HYPERLINK" in r["Name"])
    assert row["Name"] == '\'=HYPERLINK("http://evil","x")'
    assert row["Index"] == "-5"  # a number is never changed
    xlsx_rows = exported_rows(
        user_id, ExportRequest(BASE_PROJECTS_ID, TABLE_ITEMS_ID, format="xlsx"), client_for
    )
    row = next(r for r in xlsx_rows if "HYPERLINK" in str(r["Name"]))
    assert row["Name"] == '=HYPERLINK("http://evil","x")'  # a string cell, not a formula
    assert [neutralise(t) for t in ("+1", "-x", "@a", "ok")] == ["'+1", "'-x", "'@a", "ok"]


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            ExportRequest(BASE_PROJECTS_ID, TABLE_ITEMS_ID, view="Nope"),
            'Table "Items" has no view "Nope"',
        ),
        (ExportRequest("appNotYours000001", TABLE_ITEMS_ID), "Choose one of your bases"),
        (
            ExportRequest(
                BASE_PROJECTS_ID,
                TABLE_ITEMS_ID,
                filters=(Filter(field="Index", op="gt", value="many"),),
            ),
            "The filters cannot be used",
        ),
    ],
)
def test_exports_that_cannot_run_say_why(user_id, client_for, request_, message):
    with pytest.raises(UserFacingError) as caught:
        exports.export_table(user_id, request_, client_for=client_for)
    assert message in caught.value.message


def test_an_export_is_found_only_in_its_owners_folder(user_id, other_user_id, client_for):
    result = exports.export_table(
        user_id, ExportRequest(BASE_PROJECTS_ID, TABLE_TASKS_ID), client_for=client_for
    )
    assert exports.export_path(other_user_id, result.name) is None
    assert exports.export_path(user_id, "../" + result.name) is None
    assert exports.export_path(user_id, result.name) is not None
