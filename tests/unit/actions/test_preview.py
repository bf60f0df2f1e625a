"""Previews: a fresh read of the affected records, old -> new per cell, problems caught early."""

from __future__ import annotations

import pytest

from pyairtable_ui.actions.base import ActionNotFoundError, ActionStateError
from pyairtable_ui.actions.models import ActionStatus
from pyairtable_ui.actions.preview import build_preview
from pyairtable_ui.actions.service import reject_action
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    TABLE_DEALS_ID,
    company_id,
    deal_id,
)
from tests.unit.actions.helpers import (
    item_id,
    load,
    propose,
    records_plan,
    writes,
)


def deals_plan(op: str, operations: list[dict], **kwargs) -> dict:
    return records_plan(op, operations, **kwargs)


def propose_deals(session_factory, user_id, plan, **kwargs) -> int:
    return propose(
        session_factory,
        user_id,
        plan,
        base_id=BASE_CRM_ID,
        table_id=TABLE_DEALS_ID,
        table_name="Deals",
        **kwargs,
    )


def test_update_preview_shows_old_and_new_values_read_fresh(
    items_emulator, make_client, session_factory, user_id
):
    plan = records_plan(
        "update",
        [
            {
                "op": "update",
                "record_id": item_id(1),
                "fields": {"Name": "Renamed 1", "Group": "A"},
            },
            {"op": "update", "record_id": item_id(2), "fields": {"Name": "Item 0002"}},
            {"op": "update", "record_id": "recItem0000000099", "fields": {"Name": "Ghost"}},
        ],
    )
    action_id = propose(session_factory, user_id, plan)
    # Someone edits item 1 after the proposal: the preview must show today's value.
    items_emulator.state.update_record(
        "appEmulatorBase02", "Items", item_id(1), {"Name": "Edited meanwhile"}
    )

    preview = build_preview(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=make_client(items_emulator),
    )

    first, second, ghost = preview["rows"]
    assert first["row_id"] == item_id(1) and first["label"] == "Edited meanwhile"
    assert first["cells"] == [
        {"field": "Name", "old": "Edited meanwhile", "new": "Renamed 1", "changed": True},
        {"field": "Group", "old": "B", "new": "A", "changed": True},
    ]
    assert second["unchanged"] is True and second["cells"][0]["changed"] is False
    assert ghost["blocked"] is True and "no longer exists" in ghost["warnings"][0]
    assert preview["counts"] == {
        "rows": 3,
        "create": 0,
        "update": 3,
        "delete": 0,
        "unchanged": 1,
        "blocked": 1,
    }
    assert [w["row_id"] for w in preview["warnings"] if w["level"] == "error"] == [
        "recItem0000000099"
    ]
    stored = load(session_factory, action_id)
    assert stored.status == ActionStatus.PREVIEWED
    assert stored.preview == preview
    assert writes(items_emulator) == []  # a preview never writes
    # One schema read and one read of the three records by id.
    assert items_emulator.stats()["total"] == 2


def test_preview_catches_computed_unknown_and_mistyped_fields(
    airtable_emulator, make_client, session_factory, user_id
):
    plan = deals_plan(
        "update",
        [
            {"op": "update", "record_id": deal_id(1), "fields": {"Won": True}},
            {"op": "update", "record_id": deal_id(2), "fields": {"Forecast": 3}},
            {"op": "update", "record_id": deal_id(3), "fields": {"Amount": "lots"}},
            {"op": "update", "record_id": deal_id(4), "fields": {"Stage": "Blocked"}},
            {"op": "update", "record_id": deal_id(5), "fields": {"Amount": 1}},
        ],
    )
    action_id = propose_deals(session_factory, user_id, plan)
    preview = build_preview(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=make_client(airtable_emulator),
    )
    rows = {r["row_id"]: r for r in preview["rows"]}
    assert "computed by Airtable" in rows[deal_id(1)]["warnings"][0]
    assert "no longer exists" in rows[deal_id(2)]["warnings"][0]
    assert "is not a number" in rows[deal_id(3)]["warnings"][0]
    assert "typecast is off" in rows[deal_id(4)]["warnings"][0]
    assert [r["blocked"] for r in preview["rows"]] == [True, True, True, True, False]
    assert preview["new_select_options"] == {}


def test_preview_lists_select_options_typecast_would_add(
    airtable_emulator, make_client, session_factory, user_id
):
    plan = deals_plan(
        "update",
        [
            {"op": "update", "record_id": deal_id(1), "fields": {"Stage": "Blocked"}},
            {"op": "update", "record_id": deal_id(2), "fields": {"Stage": "Blocked"}},
            {"op": "update", "record_id": deal_id(3), "fields": {"Stage": "Won"}},
        ],
        typecast=True,
    )
    action_id = propose_deals(session_factory, user_id, plan)
    preview = build_preview(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=make_client(airtable_emulator),
    )
    assert preview["new_select_options"] == {"Stage": ["Blocked"]}
    assert not any(r["blocked"] for r in preview["rows"])
    assert any(w["level"] == "info" and "Blocked" in w["message"] for w in preview["warnings"])


def test_preview_blocks_what_even_typecast_cannot_convert(
    airtable_emulator, make_client, session_factory, user_id
):
    plan = deals_plan(
        "update",
        [
            {"op": "update", "record_id": deal_id(1), "fields": {"Amount": "1,200"}},
            {"op": "update", "record_id": deal_id(2), "fields": {"Amount": "lots"}},
            {"op": "update", "record_id": deal_id(3), "fields": {"Company": ["Acme Corp"]}},
        ],
        typecast=True,
    )
    action_id = propose_deals(session_factory, user_id, plan)
    preview = build_preview(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=make_client(airtable_emulator),
    )
    rows = {r["row_id"]: r for r in preview["rows"]}
    # Airtable reads "1,200" as a number and links by name; "lots" it refuses.
    assert "Typecast will convert '1,200'" in rows[deal_id(1)]["warnings"][0]
    assert "is not a number" in rows[deal_id(2)]["warnings"][0]
    assert [r["blocked"] for r in preview["rows"]] == [False, True, False]


def test_preview_takes_only_real_record_ids_without_typecast(
    airtable_emulator, make_client, session_factory, user_id
):
    plan = deals_plan(
        "update",
        [
            {"op": "update", "record_id": deal_id(1), "fields": {"Company": ["recCompany"]}},
            {"op": "update", "record_id": deal_id(2), "fields": {"Company": [company_id(1)]}},
        ],
    )
    action_id = propose_deals(session_factory, user_id, plan)
    preview = build_preview(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=make_client(airtable_emulator),
    )
    first, second = preview["rows"]
    assert first["blocked"] and "takes record ids like" in first["warnings"][0]
    assert not second["blocked"]


def test_delete_preview_shows_records_in_full_with_a_copy_of_their_files(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    client.request(
        "POST",
        "meta",
        "bases",
        BASE_CRM_ID,
        "tables",
        TABLE_DEALS_ID,
        "fields",
        json={"name": "Files", "type": "multipleAttachments"},
    )
    airtable_emulator.state.update_record(
        BASE_CRM_ID,
        "Deals",
        deal_id(1),
        {"Files": [{"url": "https://files.example/contract.pdf", "filename": "contract.pdf"}]},
    )
    plan = deals_plan("delete", [{"op": "delete", "record_id": deal_id(1)}])
    action_id = propose_deals(session_factory, user_id, plan, typed=True)

    preview = build_preview(
        session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
    )

    (row,) = preview["rows"]
    cells = {c["field"]: c["old"] for c in row["cells"]}
    assert row["kind"] == "delete" and row["label"] == "Acme renewal"
    assert cells["Amount"] == 12000 and cells["Stage"] == "Won"
    assert cells["Company"] == [company_id(1)]
    assert all(c["new"] is None for c in row["cells"])
    assert [(a["field"], a["filename"]) for a in row["attachments"]] == [("Files", "contract.pdf")]
    assert row["attachments"][0]["url"].startswith("https://files.example/")
    assert preview["typed_always"] is True
    assert any("expire" in n for n in preview["notes"])
    assert any("new ids" in n for n in preview["notes"])


def test_upsert_rows_are_classified_as_create_or_update(
    items_emulator, make_client, session_factory, user_id
):
    plan = records_plan(
        "upsert",
        [
            {"op": "upsert", "fields": {"Name": "Item 0003", "Index": 1003}},
            {"op": "upsert", "fields": {"Name": "Brand new", "Index": 5000}},
        ],
        fields_to_merge_on=["Name"],
    )
    action_id = propose(session_factory, user_id, plan)
    preview = build_preview(
        session_factory=session_factory,
        user_id=user_id,
        action_id=action_id,
        client=make_client(items_emulator),
    )
    update, create = preview["rows"]
    assert (update["kind"], update["record_id"], update["row_id"]) == (
        "upsert_update",
        item_id(3),
        "row-1",
    )
    assert {"field": "Index", "old": 3, "new": 1003, "changed": True} in update["cells"]
    assert (create["kind"], create["record_id"], create["label"]) == (
        "upsert_create",
        None,
        "Brand new",
    )
    assert preview["counts"]["create"] == 1 and preview["counts"]["update"] == 1


def test_schema_and_comment_previews(airtable_emulator, make_client, session_factory, user_id):
    client = make_client(airtable_emulator)
    rename = {
        "kind": "schema",
        "op": "rename_field",
        "operations": [{"op": "rename_field", "field_id": "fldDeals000000004", "name": "Phase"}],
    }
    create = {
        "kind": "schema",
        "op": "create_field",
        "operations": [{"op": "create_field", "name": "Stage", "type": "singleLineText"}],
    }
    comment = {
        "kind": "comment",
        "op": "add_comment",
        "operations": [{"op": "add_comment", "record_id": deal_id(2), "text": "Call back"}],
    }
    previews = [
        build_preview(
            session_factory=session_factory,
            user_id=user_id,
            action_id=propose_deals(session_factory, user_id, plan, tool_name=plan["op"]),
            client=client,
        )
        for plan in (rename, create, comment)
    ]
    (renamed,), (created,), (commented,) = (p["rows"] for p in previews)
    assert renamed["cells"] == [{"field": "name", "old": "Stage", "new": "Phase", "changed": True}]
    assert created["blocked"] and "already has a field" in created["warnings"][0]
    assert any("cannot delete fields" in n for n in previews[1]["notes"])
    assert (commented["label"], commented["cells"][0]["new"]) == ("Acme expansion", "Call back")


def test_only_the_owner_previews_and_only_while_waiting(
    items_emulator, make_client, session_factory, user_id, other_user_id
):
    action_id = propose(session_factory, user_id, records_plan("delete", []))
    client = make_client(items_emulator)
    with pytest.raises(ActionNotFoundError):
        build_preview(
            session_factory=session_factory,
            user_id=other_user_id,
            action_id=action_id,
            client=client,
        )
    with session_factory() as session:
        reject_action(session=session, user_id=user_id, action_id=action_id)
    with pytest.raises(ActionStateError, match="waiting for confirmation"):
        build_preview(
            session_factory=session_factory, user_id=user_id, action_id=action_id, client=client
        )
    assert items_emulator.stats()["total"] == 0
