"""The formulas record reads send: built with pyairtable's formula builder, read by Airtable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyairtable_ui.actions.records import (
    by_id_formula,
    created_since_formula,
    read_created_since,
)
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID


def test_created_since_reads_a_minute_earlier_to_the_second():
    since = datetime(2024, 5, 1, 9, 31, 0, 654321, tzinfo=UTC)

    assert created_since_formula(since) == (
        "IS_AFTER(CREATED_TIME(), DATETIME_PARSE('2024-05-01T09:30:00.000Z'))"
    )


def test_by_id_matches_each_id_quoted():
    assert by_id_formula(["recA"]) == "RECORD_ID()='recA'"
    assert by_id_formula(["recA", "rec'B"]) == "OR(RECORD_ID()='recA', RECORD_ID()='rec\\'B')"


def test_only_records_created_since_are_read(items_emulator, make_client):
    client = make_client(items_emulator)
    before = utcnow() - timedelta(minutes=5)
    created = client.request(
        "POST",
        BASE_PROJECTS_ID,
        TABLE_ITEMS_ID,
        json={"records": [{"fields": {"Name": "New"}}]},
    )["records"]

    found = read_created_since(client, BASE_PROJECTS_ID, TABLE_ITEMS_ID, utcnow())

    assert [r["id"] for r in found] == [created[0]["id"]]
    assert len(read_created_since(client, BASE_PROJECTS_ID, TABLE_ITEMS_ID, before)) == 1
