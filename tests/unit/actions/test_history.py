"""History: a user's own actions (admins: everyone's), filters, details, CSV and JSON export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from pyairtable_ui.actions.base import ActionNotFoundError, ActionPermissionError
from pyairtable_ui.actions.execution import execute_action
from pyairtable_ui.actions.history import (
    HistoryFilters,
    action_details,
    export_history_as,
    list_history,
)
from pyairtable_ui.actions.models import Action
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, TABLE_DEALS_ID, deal_id
from tests.unit.actions.helpers import propose, records_plan, rename_items_plan


@pytest.fixture
def history(items_emulator, make_client, session_factory, user_id, other_user_id):
    """Three actions of the user (one run, one on another base) and one of someone else."""
    client = make_client(items_emulator)
    ran = propose(session_factory, user_id, rename_items_plan([1, 2]), conversation_id=None)
    execute_action(session_factory=session_factory, user_id=user_id, action_id=ran, client=client)
    waiting = propose(
        session_factory,
        user_id,
        records_plan("delete", [{"op": "delete", "record_id": deal_id(1)}]),
        base_id=BASE_CRM_ID,
        table_id=TABLE_DEALS_ID,
        table_name="Deals",
        typed=True,
    )
    old = propose(session_factory, user_id, rename_items_plan([3]))
    with session_factory() as session:  # proposed last month
        action = session.exec(select(Action).where(Action.id == old)).one()
        action.created_at = datetime.now(UTC) - timedelta(days=30)
        action.summary = '=HYPERLINK("http://evil.example")'
        session.add(action)
    theirs = propose(session_factory, other_user_id, rename_items_plan([4]))
    return {"ran": ran, "waiting": waiting, "old": old, "theirs": theirs}


def ids(rows) -> list[int]:
    return [r["id"] for r in rows]


def test_users_see_their_own_actions_and_filter_them(session_factory, user_id, history):
    with session_factory() as session:
        rows, total = list_history(session=session, actor_id=user_id, is_admin=False)
        assert total == 3 and history["theirs"] not in ids(rows)
        assert ids(rows)[0] == history["waiting"]  # newest first
        assert rows[0]["user_email"].startswith("owner-")

        def only(**kwargs) -> list[int]:
            found, _ = list_history(
                session=session, actor_id=user_id, is_admin=False, filters=HistoryFilters(**kwargs)
            )
            return ids(found)

        assert only(base_id=BASE_CRM_ID) == [history["waiting"]]
        assert only(table="deals") == [history["waiting"]]  # by name, any case
        assert only(table=TABLE_DEALS_ID) == [history["waiting"]]
        assert only(tool="delete_records") == [history["waiting"]]
        assert only(status="done") == [history["ran"]]
        assert only(date_to=datetime.now(UTC).date() - timedelta(days=1)) == [history["old"]]
        assert history["old"] not in only(date_from=datetime.now(UTC).date())
        page, total = list_history(
            session=session, actor_id=user_id, is_admin=False, limit=1, offset=1
        )
        assert total == 3 and len(page) == 1


def test_admins_see_everyones_and_others_cannot_pretend(
    session_factory, user_id, other_user_id, admin_id, history
):
    with session_factory() as session:
        _, total = list_history(session=session, actor_id=admin_id, is_admin=True)
        assert total == 4
        mine, _ = list_history(
            session=session,
            actor_id=admin_id,
            is_admin=True,
            filters=HistoryFilters(user_id=other_user_id),
        )
        assert ids(mine) == [history["theirs"]]
        with pytest.raises(ActionPermissionError, match="Only administrators"):
            list_history(session=session, actor_id=user_id, is_admin=True)
        with pytest.raises(ActionPermissionError):
            list_history(
                session=session,
                actor_id=user_id,
                is_admin=False,
                filters=HistoryFilters(user_id=other_user_id),
            )
        with pytest.raises(ActionNotFoundError):
            action_details(
                session=session, actor_id=user_id, is_admin=False, action_id=history["theirs"]
            )
        assert (
            action_details(
                session=session, actor_id=admin_id, is_admin=True, action_id=history["theirs"]
            )["action"]["user_id"]
            == other_user_id
        )


def test_details_show_arguments_and_every_request_with_before_and_after(
    session_factory, user_id, history
):
    with session_factory() as session:
        details = action_details(
            session=session, actor_id=user_id, is_admin=False, action_id=history["ran"]
        )
    assert details["arguments"] == {"plan": "update"}
    assert details["airtable_requests"] == 1
    (step,) = details["steps"]
    assert (step["kind"], step["method"], step["status"]) == ("apply", "PATCH", "done")
    assert step["path"] == "/v0/appEmulatorBase02/tblEmuItems000001"
    assert step["request_body"]["records"][0]["fields"] == {"Name": "Renamed 1"}
    assert step["before"][0]["fields"]["Name"] == "Item 0001"
    assert step["after"][0]["fields"]["Name"] == "Renamed 1"
    assert step["duration_ms"] is not None and step["duration_ms"] >= 0


def test_exports_carry_the_same_rows_as_csv_and_json(session_factory, user_id, history):
    with session_factory() as session:
        text = export_history_as("csv", session=session, actor_id=user_id, is_admin=False)
        data = json.loads(
            export_history_as(
                "json",
                session=session,
                actor_id=user_id,
                is_admin=False,
                filters=HistoryFilters(status="done"),
            )
        )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["id"]) for r in rows] == [history["waiting"], history["ran"], history["old"]]
    ran = next(r for r in rows if int(r["id"]) == history["ran"])
    assert (ran["status"], ran["apply_steps_done"], ran["records_written"]) == ("done", "1", "2")
    # A summary that looks like a spreadsheet formula is exported as text.
    old = next(r for r in rows if int(r["id"]) == history["old"])
    assert old["summary"].startswith("'=HYPERLINK")
    (only,) = data
    assert only["action"]["id"] == history["ran"] and only["steps"][0]["method"] == "PATCH"
