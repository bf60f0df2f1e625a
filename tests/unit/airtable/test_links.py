"""Links to a record in Airtable: only from ids of Airtable's shape."""

from __future__ import annotations

import pytest

from pyairtable_ui.airtable.links import is_table_id, record_url
from pyairtable_ui.core.settings import get_settings

BASE, TABLE, RECORD = "appEmulatorBase02", "tblEmuTasks000001", "recTask0000000001"


def test_a_record_opens_at_its_base_table_and_record() -> None:
    assert record_url(BASE, TABLE, RECORD) == f"https://airtable.com/{BASE}/{TABLE}/{RECORD}"
    assert (
        record_url(BASE, TABLE, RECORD, web="https://airtable.example/")
        == f"https://airtable.example/{BASE}/{TABLE}/{RECORD}"
    )


@pytest.mark.parametrize(
    ("base", "table", "record"),
    [
        ("javascript:alert(1)//", TABLE, RECORD),
        (BASE, "Tasks", RECORD),  # a table's name is not its id
        (BASE, TABLE, "recTask0000000001/../../x"),
        (BASE, TABLE, "https://evil.example/"),
        (BASE, TABLE, None),
        (BASE + "\n", TABLE, RECORD),
    ],
)
def test_anything_but_airtables_ids_gets_no_link(
    base: object, table: object, record: object
) -> None:
    assert record_url(base, table, record) == ""


def test_the_web_address_is_a_setting_and_must_be_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRTABLE_WEB_URL", "https://airtable.internal/")
    get_settings.cache_clear()
    try:
        assert record_url(BASE, TABLE, RECORD).startswith("https://airtable.internal/app")
        monkeypatch.setenv("AIRTABLE_WEB_URL", "javascript:alert(1)")
        get_settings.cache_clear()
        assert record_url(BASE, TABLE, RECORD) == ""
    finally:
        get_settings.cache_clear()
    assert is_table_id(TABLE) and not is_table_id("Tasks")
