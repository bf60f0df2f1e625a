"""The rules for field values: what Airtable (the emulator's cell rules) accepts, written once."""

from __future__ import annotations

from typing import Any

import pytest

from pyairtable_ui.airtable.field_types import new_options, value_kind, value_problem
from pyairtable_ui.airtable.schema import FieldSchema
from pyairtable_ui.emulator import cells
from pyairtable_ui.emulator.errors import ApiError


def field(kind: str, name: str = "F", **options: Any) -> FieldSchema:
    return FieldSchema(id="fldTest0000000001", name=name, type=kind, options=options)


STAGE = field("singleSelect", "Stage", choices=[{"name": "Won"}, {"name": "Lost"}])
TAGS = field("multipleSelects", "Tags", choices=[{"name": "a"}, {"name": "b"}])


def emulator_accepts(kind: str, value: Any, typecast: bool) -> bool:
    coerce = {
        "number": lambda: cells.coerce_number("F", "number", value, typecast),
        "currency": lambda: cells.coerce_number("F", "currency", value, typecast),
        "checkbox": lambda: cells.coerce_checkbox("F", value, typecast),
        "singleLineText": lambda: cells.coerce_text("F", value, typecast),
        "barcode": lambda: cells.coerce_barcode("F", value, typecast),
        "date": lambda: cells.coerce_date("F", value, typecast),
    }[kind]
    try:
        coerce()
    except ApiError:
        return False
    return True


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("number", 5),
        ("number", 2.5),
        ("number", float("nan")),
        ("number", float("inf")),
        ("number", True),
        ("number", "1,200"),
        ("number", "$5"),
        ("number", "a lot"),
        ("number", [1]),
        ("currency", "12.50"),
        ("currency", {"amount": 1}),
        ("checkbox", True),
        ("checkbox", 1),
        ("checkbox", "yes"),
        ("checkbox", "maybe"),
        ("checkbox", [True]),
        ("singleLineText", "hi"),
        ("singleLineText", 5),
        ("singleLineText", False),
        ("singleLineText", ["a", "b"]),
        ("singleLineText", {"a": 1}),
        ("singleLineText", [1]),
        ("barcode", {"text": "123"}),
        ("barcode", "123"),
        ("barcode", 123),
        ("barcode", [1]),
        ("date", "2024-05-01"),
        ("date", 20240501),
    ],
)
@pytest.mark.parametrize("typecast", [False, True])
def test_value_problem_refuses_exactly_what_the_emulator_refuses(kind, value, typecast):
    problem = value_problem(field(kind, "Cell"), value, typecast=typecast)
    assert (problem is None) == emulator_accepts(kind, value, typecast), problem
    if problem:
        assert problem.startswith("“Cell” ")  # names the field, for the model and the user


@pytest.mark.parametrize(
    ("value", "typecast", "accepted"),
    [
        (["recDeal0000000001"], False, True),
        # Not an id: "rec" and 14 letters or digits (the preview once took any "rec…").
        (["recDeal"], False, False),
        (["Acme Corp"], False, False),
        (["Acme Corp"], True, True),  # typecast links by the primary field's value
        ("recDeal0000000001", False, False),
        ([5], True, False),
    ],
)
def test_links_take_record_ids_or_with_typecast_names(value, typecast, accepted):
    problem = value_problem(field("multipleRecordLinks", "Company"), value, typecast=typecast)
    assert (problem is None) is accepted, problem


def test_attachments_come_by_url_or_as_files_the_cell_holds_by_id():
    files = field("multipleAttachments", "Files")
    assert value_problem(files, [{"url": "https://x/a.pdf"}], typecast=False) is None
    # Undo and updates keep files the record already has by their id (the tools once refused).
    assert value_problem(files, [{"id": "attAAAAAAAAAAAAAA"}], typecast=False) is None
    assert "takes a list of" in str(value_problem(files, [{"filename": "a"}], typecast=False))
    assert value_problem(files, "https://x/a.pdf", typecast=True) is not None


def test_collaborators_by_id_or_email():
    owner = field("singleCollaborator", "Owner")
    assert value_problem(owner, {"email": "a@b.c"}, typecast=False) is None
    assert value_problem(owner, {"name": "Ann"}, typecast=False) is not None


def test_dates_are_iso_unless_typecast_converts_them():
    due = field("date", "Due")
    assert "give YYYY-MM-DD" in str(value_problem(due, "tomorrow", typecast=False))
    assert value_problem(due, "05/01/2024", typecast=True) is None
    when = field("dateTime", "When")
    assert value_problem(when, "2024-05-01T09:30:00Z", typecast=False) is None
    assert "ISO 8601" in str(value_problem(when, "9:30", typecast=False))


def test_none_clears_any_cell():
    for kind in ("number", "checkbox", "multipleRecordLinks", "date", "multipleAttachments"):
        assert value_problem(field(kind), None, typecast=False) is None


@pytest.mark.parametrize(
    ("f", "value", "typecast", "options", "problem"),
    [
        (STAGE, "Won", False, [], False),
        (STAGE, "Closed", False, ["Closed"], False),
        (STAGE, "", False, [], False),  # clears the cell: no empty option
        (STAGE, 5, False, [], True),
        (STAGE, 5, True, ["5"], False),  # typecast names the option after the number
        (STAGE, ["Won"], True, [], True),
        (TAGS, ["a", "c", "c"], False, ["c"], False),
        (TAGS, "a", False, [], True),
        (TAGS, "a, c", True, ["c"], False),  # typecast splits text on commas
        (TAGS, [1], True, [], True),
    ],
)
def test_select_values_and_the_options_they_would_add(f, value, typecast, options, problem):
    assert new_options(f, value, typecast=typecast) == options
    assert (value_problem(f, value, typecast=typecast) is not None) is problem


def test_value_kind_compares_formulas_by_their_result():
    assert value_kind(field("count")) == "number"
    assert value_kind(field("createdTime")) == "date"
    assert value_kind(field("formula", result={"type": "number"})) == "number"
    assert value_kind(field("formula")) == "text"
    assert value_kind(field("multipleLookupValues")) == "list"
    assert value_kind(field("checkbox")) == "bool"
