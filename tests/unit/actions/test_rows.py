"""What the pages show of actions, built without a browser or a database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pyairtable_ui.actions import rows
from pyairtable_ui.actions.models import Action, ActionStatus, UndoStatus
from pyairtable_ui.actions.preview import ActionPreview, PreviewCell, PreviewCounts, PreviewRow
from pyairtable_ui.actions.recovery import UndecidedBatch
from pyairtable_ui.actions.undo import RenameSuggestion, UndoCell, UndoPlan, UndoRow
from pyairtable_ui.core.db import utcnow


def action(**values: Any) -> Action:
    defaults: dict[str, Any] = {
        "id": 7,
        "user_id": 1,
        "tool_name": "update_records",
        "base_id": "appX",
        "summary": "Update 2 records in Items (Name)",
        "status": ActionStatus.DONE.value,
        "undo_status": UndoStatus.AVAILABLE.value,
    }
    return Action(**{**defaults, **values})


def test_the_sidebar_marks_what_waits_for_the_user():
    assert rows.action_item(action(status="proposed", summary="", message_id=40)) == {
        "id": 7,
        "summary": "update_records",
        "tool": "update_records",
        "status": "proposed",
        "record_count": 0,
        "pending": True,
        "error": "",
        "word": "Waiting for your review",
        "state": "Waiting for your review",
        "message_id": 40,
        "step_action": 7,
    }
    assert rows.action_item(action())["pending"] is False
    # Proposed outside a step (a rename offered by undo): no card in the conversation.
    assert rows.action_item(action())["step_action"] == 0


def test_every_status_has_one_word_and_proposed_and_previewed_share_it():
    assert set(rows.STATE_WORDS) == {s.value for s in ActionStatus}
    assert rows.state_word("proposed") == rows.state_word("previewed")
    assert rows.state_word("proposed") == "Waiting for your review"
    words = {rows.state_word(s) for s in ActionStatus if s.value not in ("proposed", "previewed")}
    assert len(words) == len(ActionStatus) - 2, "two states must not read the same"
    assert rows.state_word("done") == "Applied"
    assert rows.state_word("undone") == "Undone"
    assert rows.state_word("something new") == "something new"


def test_the_dialog_and_the_cards_use_the_same_words():
    previewed = action(status="previewed")
    assert rows.action_view(previewed).word == rows.action_item(previewed)["word"]
    assert rows.action_view(previewed).word == "Waiting for your review"


def plan(count: int) -> dict[str, Any]:
    operations = [{"op": "update", "record_id": f"rec{i}", "fields": {}} for i in range(count)]
    return {"kind": "records", "op": "update", "operations": operations}


def test_the_state_line_says_how_much_was_applied_and_why_it_stopped():
    assert rows.state_text(action(plan=plan(25), record_count=25)) == "Applied"
    # Four rows unticked in the review: 21 written of the 25 proposed.
    assert rows.state_text(action(plan=plan(25), record_count=21)) == "Applied 21 of 25"
    # Approved 23, of which 2 changed in Airtable since the review and were left out.
    changed = {"rows": [{"row_id": "r1", "cells": []}, {"row_id": "r2", "cells": []}]}
    left_out = action(plan=plan(25), record_count=23, changed_since_review=changed)
    assert rows.state_text(left_out) == "Applied 21 of 25"
    schema = {"kind": "schema", "op": "create_table", "operations": [{"op": "create_table"}]}
    assert rows.state_text(action(plan=schema, record_count=0)) == "Applied"
    failed = action(status="failed", error="Batch 2 of 3 failed: 422")
    assert rows.state_text(failed) == "Failed: Batch 2 of 3 failed: 422"
    assert rows.state_text(action(status="failed", error="x" * 300)).endswith("x…")
    assert rows.state_text(action(status="failed")) == "Failed"
    assert rows.state_text(action(status="interrupted", error="restart")) == "Interrupted"
    assert rows.state_text(action(status="rejected")) == "Rejected"
    assert rows.state_text(action(status="undone")) == "Undone"


def test_a_run_under_way_counts_batches_on_its_card_only():
    assert rows.progress_state("running", 2, 3) == "Applying 2 of 3 batches"
    assert rows.progress_state("undoing", 0, 1) == "Undoing 0 of 1 batch"
    items = rows.action_items([action(id=1, message_id=5), action(id=2, message_id=6)])
    moved = rows.with_progress(items, 2, "Applying 1 of 2 batches")
    assert [i["state"] for i in moved] == ["Applied", "Applying 1 of 2 batches"]
    assert items[1]["state"] == "Applied", "a new list; the old one is unchanged"


def test_proposals_made_again_from_a_step_belong_to_its_first_action():
    items = rows.action_items(
        [
            action(id=9, message_id=40, status="proposed"),  # "Review them again" of 4
            action(id=4, message_id=40),
            action(id=5, message_id=41, status="previewed"),
            action(id=6, message_id=None, status="proposed"),  # a rename offered by undo
        ]
    )
    assert [(i["id"], i["step_action"]) for i in items] == [(9, 4), (4, 4), (5, 5), (6, 0)]
    assert rows.waiting_count(items) == 3


def test_values_are_one_short_line():
    assert rows.value_text(None) == rows.value_text("") == rows.value_text([]) == "(empty)"
    assert rows.value_text(["a", 1]) == '["a", 1]'
    assert rows.value_text("x" * 100) == "x" * 77 + "…"


def test_the_view_shows_the_error_only_of_a_stopped_run_and_the_question():
    question = UndecidedBatch(
        step_id=31,
        seq=2,
        kind="apply",
        sent=["Name: Hand 1"],
        candidates=[
            {"id": "rec1", "created": "2026-01-01", "values": "Name: Hand 1", "likely": True}
        ],
    )

    stopped = rows.action_view(action(status="failed", error="Batch 2 of 2 failed"), question)
    done = rows.action_view(action(error="old news"))

    assert stopped.error == "Batch 2 of 2 failed" and done.error == ""
    assert stopped.title == "#7 Update 2 records in Items (Name)"
    assert (stopped.question_step, stopped.question_kind) == (31, "apply")
    assert stopped.question_rows == [
        {"record_id": "rec1", "created": "2026-01-01", "values": "Name: Hand 1", "likely": True}
    ]
    assert done.question_step == 0 and done.elsewhere == ""


def test_a_run_held_by_another_process_says_so():
    held = action(
        status="running",
        lease_owner="other-host/1/abc",
        lease_expires_at=utcnow() + timedelta(minutes=1),
    )
    expired = action(
        status="running",
        lease_owner="other-host/1/abc",
        lease_expires_at=utcnow() - timedelta(minutes=1),
    )

    assert "is still running in another process" in rows.action_view(held).elsewhere
    assert rows.action_view(expired).elsewhere == ""


def test_rows_changed_since_the_review_say_then_and_now():
    changed = action(
        changed_since_review={
            "rows": [
                {
                    "row_id": "rec2",
                    "kind": "update",
                    "label": "Item 2",
                    "record_id": "rec2",
                    "cells": [{"field": "Name", "reviewed": "Item 0002", "current": "Ana"}],
                    "note": "Changed in Airtable since you reviewed it.",
                }
            ],
            "proposed_again": None,
        }
    )

    assert rows.changed_items(changed) == [
        {
            "row_id": "rec2",
            "label": "Item 2",
            "record_id": "rec2",
            "cells": ["Name: Item 0002 when you reviewed → Ana now"],
            "note": "Changed in Airtable since you reviewed it.",
        }
    ]
    assert rows.finished_notice(changed, rows.changed_items(changed)) == (
        "Applied to the other records."
    )


def preview_row(row_id: str, kind: str, cells: list[PreviewCell], **values: Any) -> PreviewRow:
    row = PreviewRow(
        row_id=row_id,
        kind=kind,
        record_id=row_id if row_id.startswith("rec") else None,
        label=row_id,
        cells=cells,
        unchanged=False,
        blocked=False,
        warnings=[],
        attachments=[],
    )
    return PreviewRow(**{**row, **values})  # type: ignore[typeddict-item]


def test_the_review_panel_lists_changes_and_counts():
    preview = ActionPreview(
        version=1,
        action_id=7,
        kind="records",
        op="update",
        table_id="tbl",
        table_name="Items",
        built_at=utcnow().isoformat(),
        rows=[
            preview_row(
                "rec1", "update", [PreviewCell(field="Name", old="A", new="B", changed=True)]
            ),
            preview_row(
                "rec2",
                "update",
                [PreviewCell(field="Name", old="C", new="C", changed=False)],
                unchanged=True,
            ),
            preview_row(
                "rec3",
                "update",
                [PreviewCell(field="Gone", old=None, new="x", changed=True)],
                blocked=True,
                warnings=["The field “Gone” no longer exists in Items."],
            ),
        ],
        counts=PreviewCounts(rows=3, create=0, update=3, delete=0, unchanged=1, blocked=1),
        new_select_options={"Status": ["Blocked", "Late"]},
        warnings=[],
        typed_always=False,
        threshold=20,
        notes=[],
    )

    panel = rows.review_panel(preview)

    assert [(r["row_id"], r["changes"], r["ticked"]) for r in panel.rows] == [
        ("rec1", ["Name: A → B"], True),
        ("rec2", ["no change"], True),
        ("rec3", ["Gone: (empty) → x"], False),
    ]
    assert panel.rows[2]["warnings"] == "The field “Gone” no longer exists in Items."
    # Only the kinds it has: no "0 to delete".
    assert panel.counts == "3 to update · 1 unchanged · 1 blocked"
    assert (
        rows.counts_text(
            PreviewCounts(**{**preview["counts"], "update": 0, "unchanged": 0, "blocked": 0})
        )
        == "Nothing to change"
    )
    assert panel.notes == ["Typecast will add the options Blocked, Late to Status."]


def test_what_the_dialog_says_when_a_run_ends():
    # What happened, not "Done.".
    assert rows.finished_notice(action(), []) == "Applied: Update 2 records in Items (Name)."
    written = action(
        plan={"kind": "records", "op": "update", "operations": []},
        record_count=3,
        table_name="Items",
    )
    assert rows.finished_notice(written, []) == "Applied: 3 records changed in Items."
    unticked = action(
        plan={"kind": "records", "op": "delete", "operations": [{}, {}, {}]},
        approved_plan={"kind": "records", "op": "delete", "operations": [{}]},
        record_count=3,
        table_name="Items",
    )
    assert rows.finished_notice(unticked, []) == "Applied: 1 record deleted in Items."
    assert rows.finished_notice(action(status="undone", undo_note="Undone."), []) == "Undone."
    assert rows.finished_notice(action(status="undone", undo_note="1 skipped."), []) == (
        "Undone. 1 skipped."
    )
    # Every row changed since the review: nothing was written, and the note says so.
    nothing = action(undo_status="not_possible", undo_note="Nothing was written.")
    left_out = [
        rows.ChangedItem(row_id="rec2", label="Item 2", record_id="rec2", cells=[], note="")
    ]
    assert rows.finished_notice(nothing, left_out) == "Nothing was written."
    assert rows.stopped_error(action(status="interrupted")) == "The action stopped midway."
    assert rows.stopped_error(action()) == ""


def undo_plan(**values: Any) -> UndoPlan:
    plan = UndoPlan(
        action_id=7,
        possible=True,
        message="Undo restores the former values of 1 record.",
        rows=[
            UndoRow(
                row_id="rec1",
                record_id="rec1",
                label="Item 1",
                effect="restore",
                cells=[
                    UndoCell(field="Name", written="B", current="Z", restore="A", conflict=True)
                ],
                conflict=True,
                missing=False,
                note="",
            )
        ],
        conflicts=1,
        notes=[],
        rename_suggestion=None,
    )
    return UndoPlan(**{**plan, **values})  # type: ignore[typeddict-item]


def test_undo_rows_default_conflicts_to_leaving_them_alone():
    view = rows.undo_view(undo_plan())

    assert view.possible and view.rename == ""
    assert view.rows[0]["cells"] == ["Name: now Z → A (changed since)"]
    assert view.rows[0]["choice"] == "skip"


def test_a_created_table_offers_its_rename_instead_of_an_undo():
    suggestion = RenameSuggestion(
        kind="table",
        table_id="tblNew",
        field_id=None,
        current_name="Visits",
        suggested_name="Visits (unused)",
    )

    view = rows.undo_view(undo_plan(possible=False, rows=[], rename_suggestion=suggestion))

    assert view.possible is False
    assert view.rename == "Rename the table “Visits” to “Visits (unused)”"
    assert rows.can_offer_undo("done", "not_possible", "create_table")
    assert not rows.can_offer_undo("rolled_back", "not_possible", "create_table")
    assert not rows.can_offer_undo("done", "done", "update_records")


def test_history_rows_and_details():
    row: Any = {
        "id": 7,
        "user_email": "ana@example.com",
        "tool_name": "update_records",
        "source": "schedule",
        "base_id": "appX",
        "table_id": "tblItems",
        "table_name": None,
        "summary": "Update 2 records",
        "status": "done",
        "undo_status": "available",
        "record_count": 2,
        "changed_since_review": [{"row_id": "rec2"}],
        "created_at": "2026-01-02T03:04:05.678+00:00",
    }
    step: Any = {
        "kind": "apply",
        "seq": 1,
        "status": "done",
        "method": "PATCH",
        "path": "/v0/appX/tblItems",
        "record_ids": ["rec1", "rec2"],
        "duration_ms": 12.4,
        "error": None,
        "before": [{"id": "rec1"}],
        "after": [{"id": "rec1"}],
    }

    item = rows.history_item(row)
    details = rows.details_view(
        {"action": row, "arguments": {"table": "Items"}, "steps": [step]}  # type: ignore[typeddict-item]
    )

    assert (item["table"], item["changed"], item["created"]) == ("tblItems", 1, "2026-01-02 03:04")
    assert item["sample"] is False
    assert rows.history_item({**row, "base_id": "appSampleAbCd1234"})["sample"] is True
    assert item["scheduled"], "a scheduled run's proposal is marked in the history"
    assert details.title == "#7 update_records · Update 2 records"
    assert details.steps == [
        {
            "kind": "apply",
            "seq": 1,
            "status": "done",
            "request": "PATCH /v0/appX/tblItems",
            "records": 2,
            "duration": "12 ms",
            "error": "",
        }
    ]
    assert '"before"' in details.snapshots and '"table": "Items"' in details.arguments
    # Statuses in words, not enums.
    assert (item["word"], item["undo_word"]) == ("Applied", "Can be undone")
    assert ("previewed", "Waiting for your review (opened)") in rows.status_filter_options()


def test_history_details_link_the_records_by_the_names_the_review_gave_them():
    base, table = "appEmulatorBase02", "tblEmuItems000001"
    action: Any = {"id": 7, "tool_name": "update_records", "summary": "", "base_id": base}
    step: Any = {"record_ids": ["recItem0000000001", "recItem0000000009", "rec-bad"]}
    preview = {"rows": [{"record_id": "recItem0000000001", "label": "Item 1"}]}

    records = rows.detail_records(
        {"action": {**action, "table_id": table}, "preview": preview, "steps": [step]}  # type: ignore[typeddict-item]
    )

    assert records == [
        {"label": "Item 1", "url": f"https://airtable.com/{base}/{table}/recItem0000000001"},
        {
            "label": "recItem0000000009",
            "url": f"https://airtable.com/{base}/{table}/recItem0000000009",
        },
    ]
    no_table = {"action": {**action, "table_id": None}, "preview": preview, "steps": [step]}
    assert rows.detail_records(no_table) == []  # type: ignore[arg-type]
    assert rows.pretty_json({"a": "x" * 50}, limit=10).endswith("export JSON for all of it)")


def test_review_cells_draw_selects_as_chips_dates_for_the_browser_and_link_records():
    preview = ActionPreview(
        version=1,
        action_id=7,
        kind="records",
        op="update",
        table_id="tblEmuItems000001",
        table_name="Items",
        built_at=utcnow().isoformat(),
        rows=[
            preview_row(
                "recItem0000000001",
                "update",
                [
                    PreviewCell(field="Status", old="Todo", new="Done", changed=True),
                    PreviewCell(field="Tags", old=["a"], new=["a", "b"], changed=True),
                    PreviewCell(field="Due", old=None, new="2024-06-01", changed=True),
                    PreviewCell(field="At", old="2024-06-01T09:30:00.000Z", new=None, changed=True),
                    PreviewCell(field="Name", old="x", new="x", changed=False),
                ],
            ),
            preview_row(
                "row-2", "create", [PreviewCell(field="Name", old=None, new="New", changed=True)]
            ),
        ],
        counts=PreviewCounts(rows=2, create=1, update=1, delete=0, unchanged=0, blocked=0),
        new_select_options={"Status": ["Done"]},
        warnings=[
            {
                "level": "info",
                "row_id": None,
                "field": "Status",
                "message": "Typecast will add “Done”.",
            },
            {"level": "warning", "row_id": "row-2", "field": "Name", "message": "Row note."},
            {"level": "error", "row_id": None, "field": None, "message": "Base-wide."},
            {"level": "error", "row_id": None, "field": None, "message": "Base-wide."},
        ],
        typed_always=False,
        threshold=20,
        notes=[],
        field_types={
            "Status": "singleSelect",
            "Tags": "multipleSelects",
            "Due": "date",
            "At": "dateTime",
            "Name": "singleLineText",
        },
    )

    panel = rows.review_panel(preview, "appEmulatorBase02")

    update, create = panel.rows
    assert update["url"] == (
        "https://airtable.com/appEmulatorBase02/tblEmuItems000001/recItem0000000001"
    )
    assert create["url"] == "", "a new record has no page yet"
    by_field = {c["field"]: c for c in update["cells"]}
    assert set(by_field) == {"Status", "Tags", "Due", "At"}, "unchanged fields are left out"
    assert (by_field["Status"]["view"], by_field["Status"]["shows"]) == ("chips", "change")
    assert (by_field["Status"]["old_chips"], by_field["Status"]["new_chips"]) == (
        ["Todo"],
        ["Done"],
    )
    assert by_field["Tags"]["new_chips"] == ["a", "b"]
    # Dates go to the browser as ISO text (it writes them in the reader's locale and zone).
    assert (by_field["Due"]["view"], by_field["Due"]["old"], by_field["Due"]["new"]) == (
        "date",
        "(empty)",
        "2024-06-01",
    )
    assert (by_field["At"]["view"], by_field["At"]["old"]) == (
        "datetime",
        "2024-06-01T09:30:00.000Z",
    )
    assert create["cells"][0]["shows"] == "new" and create["cells"][0]["new"] == "New"
    # The typecast option is said once (in the notes); a row's warning is under its row.
    assert panel.warnings == ["Base-wide."]
    assert panel.notes == ["Typecast will add the option Done to Status."]
    assert panel.counts == "1 to create · 1 to update"


def test_undo_in_words_not_its_enum():
    assert rows.undo_word("not_yet") == ""
    assert rows.undo_word("available") == "Can be undone"
    assert rows.undo_word("not_possible") == "Cannot be undone"
    assert rows.action_view(action(undo_status="partial")).undo_word == "Partly undone"
