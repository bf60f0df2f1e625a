"""What was approved is what gets written: rows changed since the review, and stale previews."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pyairtable_ui.actions import approval, execution
from pyairtable_ui.actions.approval import (
    StalePreviewError,
    approve_action,
    propose_changed_again,
)
from pyairtable_ui.actions.execution import execute_action
from pyairtable_ui.actions.models import ActionStatus, UndoStatus
from pyairtable_ui.actions.preview import build_preview
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.emulator import build_seed
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, BASE_PROJECTS_ID, TABLE_ITEMS_ID, deal_id
from tests.unit.actions.helpers import (
    item_id,
    load,
    propose,
    records_plan,
    rename_items_plan,
    steps_of,
    table_records,
    writes,
)

DEALS = "tblEmuDeals000001"


def preview(session_factory, user_id, client, action_id):
    return build_preview(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )


def approve(session_factory, user_id, action_id, typed=None):
    with session_factory() as session:
        return approve_action(
            session=session,
            user_id=user_id,
            action_id=action_id,
            approved_row_ids=None,
            typed_count=typed,
            threshold=20,
        )


def run(session_factory, user_id, client, action_id):
    return execute_action(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )


def test_a_record_edited_after_the_review_is_left_untouched_and_reported(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = propose(session_factory, user_id, rename_items_plan([1, 2, 3, 4]))
    preview(session_factory, user_id, client, action_id)
    approve(session_factory, user_id, action_id)
    # While the user reads the review, a colleague renames item 2, touches item 3
    # without changing a value, and edits a field of item 4 the action does not write.
    state = items_emulator.state
    state.update_record(BASE_PROJECTS_ID, "Items", item_id(2), {"Name": "Edited by Ana"})
    state.update_record(BASE_PROJECTS_ID, "Items", item_id(3), {"Name": "Item 0003"})
    state.update_record(BASE_PROJECTS_ID, "Items", item_id(4), {"Group": "D"})

    action = run(session_factory, user_id, client, action_id)

    names = {rid: f.get("Name") for rid, f in table_records(items_emulator, "Items").items()}
    assert [names[item_id(n)] for n in (1, 2, 3, 4)] == [
        "Renamed 1",
        "Edited by Ana",  # the newer value is kept
        "Renamed 3",
        "Renamed 4",
    ]
    assert action.status == ActionStatus.DONE and action.undo_status == UndoStatus.AVAILABLE
    report = action.changed_since_review
    assert report is not None and report["proposed_again"] is None
    assert report["rows"] == [
        {
            "row_id": item_id(2),
            "kind": "update",
            "label": "Item 0002",
            "record_id": item_id(2),
            "cells": [{"field": "Name", "reviewed": "Item 0002", "current": "Edited by Ana"}],
            "note": "Changed in Airtable since you reviewed it.",
        }
    ]
    assert len(writes(items_emulator, "PATCH")) == 1
    (step,) = steps_of(session_factory, user_id, action_id)
    assert step.record_ids == [item_id(1), item_id(3), item_id(4)]
    assert [r["id"] for r in step.before] == step.record_ids  # the undo record matches


def test_rows_changed_since_the_review_are_proposed_again_for_a_fresh_review(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    action_id = propose(session_factory, user_id, rename_items_plan([1, 2]))
    preview(session_factory, user_id, client, action_id)
    approve(session_factory, user_id, action_id)
    items_emulator.state.update_record(
        BASE_PROJECTS_ID, "Items", item_id(2), {"Name": "Edited by Ana"}
    )
    run(session_factory, user_id, client, action_id)

    with session_factory() as session:
        again = propose_changed_again(session=session, user_id=user_id, action_id=action_id)
    with session_factory() as session:
        same = propose_changed_again(session=session, user_id=user_id, action_id=action_id)
    assert again.id == same.id and again.id != action_id
    assert again.status == ActionStatus.PROPOSED  # nothing runs without a new approval
    assert [o["record_id"] for o in again.plan["operations"]] == [item_id(2)]
    assert load(session_factory, action_id).changed_since_review["proposed_again"] == again.id

    # The fresh preview shows the colleague's value as the one to be replaced.
    fresh = preview(session_factory, user_id, client, again.id)
    assert fresh["rows"][0]["cells"][0] == {
        "field": "Name",
        "old": "Edited by Ana",
        "new": "Renamed 2",
        "changed": True,
    }
    approve(session_factory, user_id, again.id)
    done = run(session_factory, user_id, client, again.id)
    assert done.status == ActionStatus.DONE and not done.changed_since_review
    assert table_records(items_emulator, "Items")[item_id(2)]["Name"] == "Renamed 2"


def test_a_record_edited_or_deleted_after_the_review_of_a_delete_is_not_deleted(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    plan = records_plan("delete", [{"op": "delete", "record_id": deal_id(n)} for n in (4, 5, 6)])
    action_id = propose(
        session_factory, user_id, plan, base_id=BASE_CRM_ID, table_id=DEALS, typed=True
    )
    preview(session_factory, user_id, client, action_id)
    approve(session_factory, user_id, action_id, typed="3")
    # Stage drives the formula field "Won": only the field a person edited is reported.
    airtable_emulator.state.update_record(BASE_CRM_ID, "Deals", deal_id(5), {"Stage": "Won"})
    airtable_emulator.state.delete_record(BASE_CRM_ID, "Deals", deal_id(6))

    action = run(session_factory, user_id, client, action_id)

    left = table_records(airtable_emulator, DEALS, base_id=BASE_CRM_ID)
    assert deal_id(4) not in left and deal_id(5) in left
    rows = action.changed_since_review["rows"]
    assert [(r["record_id"], r["note"]) for r in rows] == [
        (deal_id(5), "Changed in Airtable since you reviewed it."),
        (deal_id(6), "The record was deleted since you reviewed it."),
    ]
    assert [c["field"] for c in rows[0]["cells"]] == ["Stage"]
    assert len(writes(airtable_emulator, "DELETE")) == 1
    (step,) = steps_of(session_factory, user_id, action_id)
    assert step.record_ids == [deal_id(4)]


def test_an_upsert_left_out_when_its_match_changed_or_appeared_since_the_review(
    items_emulator, make_client, session_factory, user_id
):
    client = make_client(items_emulator)
    plan = records_plan(
        "upsert",
        [
            {"op": "upsert", "fields": {"Name": "Item 0003", "Index": 1003}},
            {"op": "upsert", "fields": {"Name": "Item 0004", "Index": 1004}},
            {"op": "upsert", "fields": {"Name": "Brand new", "Index": 5000}},
        ],
        fields_to_merge_on=["Name"],
    )
    action_id = propose(session_factory, user_id, plan)
    preview(session_factory, user_id, client, action_id)
    approve(session_factory, user_id, action_id)
    state = items_emulator.state
    state.update_record(BASE_PROJECTS_ID, "Items", item_id(4), {"Index": 44})
    state.create_record(BASE_PROJECTS_ID, "Items", {"Name": "Brand new", "Index": 7})

    action = run(session_factory, user_id, client, action_id)

    rows = action.changed_since_review["rows"]
    assert [(r["row_id"], r["note"]) for r in rows] == [
        ("row-2", "Changed in Airtable since you reviewed it."),
        ("row-3", "A matching record was created since you reviewed it."),
    ]
    assert rows[0]["cells"] == [{"field": "Index", "reviewed": 4, "current": 44}]
    by_name = {f["Name"]: f.get("Index") for f in table_records(items_emulator, "Items").values()}
    assert (by_name["Item 0003"], by_name["Item 0004"], by_name["Brand new"]) == (1003, 44, 7)


def test_a_preview_older_than_the_limit_cannot_be_approved_until_refreshed(
    items_emulator, make_client, session_factory, user_id, monkeypatch
):
    client = make_client(items_emulator)
    action_id = propose(session_factory, user_id, rename_items_plan([1]))
    preview(session_factory, user_id, client, action_id)
    later = utcnow() + timedelta(minutes=16)  # PREVIEW_MAX_AGE_MINUTES is 15 by default
    monkeypatch.setattr(approval, "utcnow", lambda: later)

    with pytest.raises(StalePreviewError, match="Refresh the preview"):
        approve(session_factory, user_id, action_id)
    assert load(session_factory, action_id).status == ActionStatus.PREVIEWED

    monkeypatch.setattr(approval, "utcnow", utcnow)
    preview(session_factory, user_id, client, action_id)  # "Refresh the preview"
    assert approve(session_factory, user_id, action_id).status == ActionStatus.CONFIRMED
    assert writes(items_emulator) == []


# --- snapshots read ahead of the write loop ---------------------------------------------


@pytest.fixture
def many_items(airtable_emulator_factory):
    """An Items table of 250 records: three groups of snapshot reads (100, 100, 50)."""
    return airtable_emulator_factory(build_seed(big_table_records=250))


def snapshot_reads(emulator) -> list[dict]:
    """The record listings of the Items table (the run's snapshot reads)."""
    return [
        r
        for r in emulator.stats()["requests"]
        if r["method"] in ("GET", "POST")
        and r["path"].rstrip("/").split("/")[-1] in (TABLE_ITEMS_ID, "listRecords")
    ]


def approved_rename_of_all(session_factory, user_id, client, count=250):
    action_id = propose(session_factory, user_id, rename_items_plan(range(1, count + 1)))
    preview(session_factory, user_id, client, action_id)
    approve(session_factory, user_id, action_id, typed=str(count))
    return action_id


def test_rows_changed_in_groups_read_ahead_are_left_out_and_each_group_is_read_once(
    many_items, make_client, session_factory, user_id
):
    client = make_client(many_items)
    action_id = approved_rename_of_all(session_factory, user_id, client)
    # Items 150 and 230 are in the second and third groups, read while earlier batches go.
    many_items.state.update_record(BASE_PROJECTS_ID, "Items", item_id(150), {"Name": "Ana's"})
    many_items.state.update_record(BASE_PROJECTS_ID, "Items", item_id(230), {"Name": "Bo's"})
    many_items.reset_stats()

    action = run(session_factory, user_id, client, action_id)
    reads = snapshot_reads(many_items)

    assert len(reads) == 3  # one per group of ten batches, none twice
    assert action.status == ActionStatus.DONE
    assert [r["row_id"] for r in action.changed_since_review["rows"]] == [
        item_id(150),
        item_id(230),
    ]
    names = table_records(many_items, "Items")
    assert names[item_id(150)]["Name"] == "Ana's" and names[item_id(230)]["Name"] == "Bo's"
    assert names[item_id(149)]["Name"] == "Renamed 149"
    assert len(writes(many_items, "PATCH")) == 25
    steps = steps_of(session_factory, user_id, action_id)
    for step in steps:  # each undo record holds exactly the records its batch wrote
        assert [r["id"] for r in step.before] == step.record_ids
    assert item_id(150) not in {rid for s in steps for rid in s.record_ids}


def test_a_snapshot_read_ahead_too_long_ago_is_read_again_before_its_group(
    many_items, make_client, session_factory, user_id, monkeypatch
):
    client = make_client(many_items)
    action_id = approved_rename_of_all(session_factory, user_id, client, count=200)
    monkeypatch.setattr(execution, "PREFETCH_MAX_AGE", -1.0)  # every read-ahead is too old

    def edit_after_the_first_group(kind, seq, moment):
        # The second group's snapshot was read ahead during the first group's batches.
        if seq == 10 and moment == "after_response":
            many_items.state.update_record(
                BASE_PROJECTS_ID, "Items", item_id(150), {"Name": "Ana's"}
            )

    many_items.reset_stats()
    action = execute_action(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        step_hook=edit_after_the_first_group,
    )
    reads = snapshot_reads(many_items)

    # First group; the second's read ahead, dropped as too old and read again.
    assert len(reads) == 3
    assert action.status == ActionStatus.DONE
    assert [r["row_id"] for r in action.changed_since_review["rows"]] == [item_id(150)]
    assert table_records(many_items, "Items")[item_id(150)]["Name"] == "Ana's"
