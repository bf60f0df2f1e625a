"""The review dialog's flows against the emulator, without a browser: what each button does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pyairtable_ui.actions import flows, rows
from pyairtable_ui.actions.models import Action, ActionStatus, UndoStatus
from pyairtable_ui.airtable import connections
from pyairtable_ui.chat.models import Conversation
from pyairtable_ui.core import tracing
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.emulator.seeds import (
    BASE_CRM_ID,
    TABLE_DEALS_ID,
    TABLE_ITEMS_ID,
)
from tests.unit.actions.helpers import (
    item_id,
    load,
    propose,
    rename_items_plan,
    table_records,
    writes,
)
from tests.unit.actions.test_inflight_check import names, new_rows, undecided
from tests.unit.actions.test_recovery import approved

__all__ = ["undecided"]  # the fixture of a batch Airtable cannot settle

DEALS = {"base_id": BASE_CRM_ID, "table_id": TABLE_DEALS_ID, "table_name": "Deals"}


@pytest.fixture
def client_for(items_emulator, make_client):
    client = make_client(items_emulator)
    return lambda _user_id: client


@pytest.fixture
def conversation_id(session_factory, user_id) -> int:
    with session_factory() as session:
        conversation = Conversation(user_id=user_id)
        session.add(conversation)
        session.flush()
        assert conversation.id is not None
        return conversation.id


def run_all(user_id: int, action_id: int, **airtable: Any) -> flows.Outcome:
    """Approve every row that can run (no typed count) and write them."""
    return flows.approve_and_run(
        user_id, action_id, approved_row_ids=None, typed_count=None, **airtable
    )


def item_names(emulator) -> dict[str, str]:
    return {rid: str(f.get("Name")) for rid, f in table_records(emulator, TABLE_ITEMS_ID).items()}


def test_review_then_confirm_writes_only_the_ticked_rows(
    items_emulator, client_for, session_factory, user_id, conversation_id
):
    action_id = propose(
        session_factory, user_id, rename_items_plan([1, 2, 3]), conversation_id=conversation_id
    )

    opened = flows.review(user_id, action_id, sessions=session_factory, client_for=client_for)

    assert opened.error == "" and opened.action is not None
    assert opened.action.status == ActionStatus.PREVIEWED
    assert opened.preview is not None
    assert [r["row_id"] for r in opened.preview["rows"]] == [item_id(1), item_id(2), item_id(3)]
    assert writes(items_emulator) == []

    progress: list[tuple[int, int, int]] = []
    ran = flows.approve_and_run(
        user_id,
        action_id,
        approved_row_ids=[item_id(1), item_id(3)],
        typed_count=None,
        on_progress=lambda *p: progress.append(p),
        conversation_id=conversation_id,
        sessions=session_factory,
        client_for=client_for,
    )

    assert ran.error == "" and ran.action is not None
    assert ran.action.status == ActionStatus.DONE
    after = item_names(items_emulator)
    assert [after[item_id(n)] for n in (1, 2, 3)] == ["Renamed 1", "Item 0002", "Renamed 3"]
    assert progress[-1] == (1, 1, 2)
    assert ran.items is not None
    assert [(i["id"], i["status"]) for i in ran.items] == [(action_id, "done")]
    # What happened, with the rows the user kept: not "Done.".
    assert rows.finished_notice(ran.action, []) == "Applied: 2 records changed in Items."


def test_a_stale_preview_is_refused_with_the_action_as_it_stands(
    items_emulator, client_for, session_factory, user_id
):
    action_id = propose(session_factory, user_id, rename_items_plan([1]))
    flows.review(user_id, action_id, sessions=session_factory, client_for=client_for)
    with session_factory() as session:
        action = session.get(Action, action_id)
        assert action is not None and action.preview is not None
        built = (utcnow() - timedelta(minutes=30)).isoformat()
        action.preview = {**action.preview, "built_at": built}
        session.add(action)

    ran = run_all(user_id, action_id, sessions=session_factory, client_for=client_for)

    assert ran.stale is True and "Refresh the preview" in ran.error
    assert ran.action is not None and ran.action.status == ActionStatus.PREVIEWED
    assert writes(items_emulator) == []


def test_reject_writes_nothing(items_emulator, client_for, session_factory, user_id):
    action_id = propose(session_factory, user_id, rename_items_plan([1]))

    rejected = flows.reject(user_id, action_id, sessions=session_factory)

    assert rejected.action is not None and rejected.action.status == ActionStatus.REJECTED
    again = flows.reject(user_id, action_id, sessions=session_factory)
    assert again.action is None and "cannot be rejected" in again.error
    assert writes(items_emulator) == []


def test_another_users_action_is_not_found_by_any_flow(
    items_emulator, client_for, session_factory, user_id, other_user_id
):
    action_id = propose(session_factory, user_id, rename_items_plan([1]))
    flows.review(user_id, action_id, sessions=session_factory, client_for=client_for)
    options = {"sessions": session_factory}
    airtable = {**options, "client_for": client_for}

    outcomes = [
        flows.open_action(other_user_id, action_id, **options),
        flows.review(other_user_id, action_id, **airtable),
        flows.reject(other_user_id, action_id, **options),
        run_all(other_user_id, action_id, **airtable),
        flows.plan_undo(other_user_id, action_id, **airtable),
        flows.resume(other_user_id, action_id, **airtable),
        flows.roll_back(other_user_id, action_id, **airtable),
        flows.undo_action(other_user_id, action_id, resolutions={}, **airtable),
        flows.rename_instead(other_user_id, action_id, **airtable),
    ]

    assert all(
        o.action is None and o.error == f"Action #{action_id} was not found." for o in outcomes
    )
    assert load(session_factory, action_id).status == ActionStatus.PREVIEWED
    assert writes(items_emulator) == []


def test_a_missing_airtable_connection_is_said_not_raised(session_factory, user_id):
    action_id = propose(session_factory, user_id, rename_items_plan([1]))

    def not_connected(_user_id: int):
        raise connections.NotConnectedError()

    opened = flows.review(user_id, action_id, sessions=session_factory, client_for=not_connected)

    assert opened.action is None
    assert opened.error == connections.NotConnectedError.default_message


def test_undo_shows_what_it_does_then_puts_the_values_back(
    items_emulator, client_for, session_factory, user_id
):
    action_id = propose(session_factory, user_id, rename_items_plan([1, 2]))
    flows.review(user_id, action_id, sessions=session_factory, client_for=client_for)
    run_all(user_id, action_id, sessions=session_factory, client_for=client_for)

    planned = flows.plan_undo(user_id, action_id, sessions=session_factory, client_for=client_for)

    assert planned.undo_plan is not None
    view = rows.undo_view(planned.undo_plan)
    assert view.possible and view.rename == ""
    assert view.message.startswith("Undo restores the former values of 2 records")
    undone = flows.undo_action(
        user_id, action_id, resolutions={}, sessions=session_factory, client_for=client_for
    )
    assert undone.action is not None and undone.action.status == ActionStatus.UNDONE
    after = item_names(items_emulator)
    assert [after[item_id(n)] for n in (1, 2)] == ["Item 0001", "Item 0002"]


def test_answering_send_it_again_finishes_the_undecided_batch(undecided, items_emulator, user_id):
    factory, action_id, client, step_id = undecided

    answered = flows.answer_question(
        user_id,
        action_id,
        choice="send_again",
        step_id=step_id,
        sessions=factory,
        client_for=lambda _user_id: client,
    )

    assert answered.action is not None
    assert answered.action.status == ActionStatus.DONE, answered.action.error
    assert answered.question is None
    assert sum(1 for n in names(items_emulator) if n.startswith("Hand ")) == 23


def test_a_failed_batch_is_shown_and_rolled_back(
    items_emulator, client_for, session_factory, user_id
):
    action_id = propose(session_factory, user_id, new_rows("New", 11))
    flows.review(user_id, action_id, sessions=session_factory, client_for=client_for)
    items_emulator.inject_failure(method="POST", path_contains=TABLE_ITEMS_ID, after=1, status=422)

    ran = run_all(user_id, action_id, sessions=session_factory, client_for=client_for)

    assert ran.error == "" and ran.action is not None
    assert ran.action.status == ActionStatus.FAILED
    assert rows.stopped_error(ran.action).startswith("Batch 2 of 2 failed")
    assert sum(1 for n in names(items_emulator) if n.startswith("New ")) == 10

    rolled = flows.roll_back(user_id, action_id, sessions=session_factory, client_for=client_for)

    assert rolled.action is not None and rolled.action.status == ActionStatus.ROLLED_BACK
    assert rows.finished_notice(rolled.action, []).startswith("Rolled back")
    assert not any(n.startswith("New ") for n in names(items_emulator))


def test_a_created_field_cannot_be_undone_and_the_rename_is_proposed_instead(
    airtable_emulator, make_client, session_factory, user_id
):
    client = make_client(airtable_emulator)
    airtable = {"sessions": session_factory, "client_for": lambda _user_id: client}
    plan = {
        "kind": "schema",
        "op": "create_field",
        "operations": [{"op": "create_field", "name": "Region", "type": "singleLineText"}],
    }
    created = propose(session_factory, user_id, plan, tool_name="create_field", **DEALS)
    flows.review(user_id, created, **airtable)
    done = run_all(user_id, created, **airtable)
    assert done.action is not None and done.action.undo_status == UndoStatus.NOT_POSSIBLE
    assert rows.can_offer_undo(done.action.status, done.action.undo_status, "create_field")
    assert not rows.can_offer_undo(done.action.status, done.action.undo_status, "update_records")

    planned = flows.plan_undo(user_id, created, **airtable)

    assert planned.undo_plan is not None
    view = rows.undo_view(planned.undo_plan)
    assert view.possible is False and "Region (unused)" in view.message
    assert view.rename == "Rename the field “Region” to “Region (unused)”"

    proposed = flows.rename_instead(user_id, created, **airtable)

    assert proposed.action is not None and proposed.action.status == ActionStatus.PROPOSED
    assert proposed.action.tool_name == "rename_field"
    rename = proposed.action.id
    assert rename is not None
    flows.review(user_id, rename, **airtable)
    renamed = run_all(user_id, rename, **airtable)
    assert renamed.action is not None and renamed.action.status == ActionStatus.DONE
    tables = client.request("GET", "meta", "bases", BASE_CRM_ID, "tables")["tables"]
    deals = next(t for t in tables if t["id"] == TABLE_DEALS_ID)
    assert "Region (unused)" in [f["name"] for f in deals["fields"]]


def test_recovery_marks_a_run_whose_process_went_silent(
    items_emulator, client_for, session_factory, user_id
):
    action_id = approved(session_factory, user_id, client_for(user_id), new_rows("Quiet", 3))
    with session_factory() as session:
        action = session.get(Action, action_id)
        assert action is not None
        action.status = ActionStatus.RUNNING.value
        action.updated_at = utcnow() - timedelta(hours=1)
        session.add(action)

    flows.recover_stale_actions(sessions=session_factory)

    assert load(session_factory, action_id).status == ActionStatus.INTERRUPTED


def test_an_approved_write_is_one_trace_span_with_the_action_id_over_its_requests(
    items_emulator, client_for, session_factory, user_id
):
    action_id = propose(session_factory, user_id, rename_items_plan([1, 2]))
    flows.review(user_id, action_id, sessions=session_factory, client_for=client_for)
    exporter = InMemorySpanExporter()
    tracing.configure_tracing(None, exporter=exporter, batch=False)
    try:
        ran = run_all(user_id, action_id, sessions=session_factory, client_for=client_for)
    finally:
        tracing.configure_tracing(None)

    assert ran.action is not None and ran.action.status == ActionStatus.DONE
    finished = exporter.get_finished_spans()
    [run] = [s for s in finished if s.name == "action.run"]
    assert run.attributes == {"pyairtable_ui.action_id": action_id, "pyairtable_ui.run": "write"}
    requests = [s for s in finished if s.name == "airtable.request"]
    assert "PATCH" in {s.attributes["http.request.method"] for s in requests}
    assert all(s.parent and s.parent.span_id == run.context.span_id for s in requests)
