"""The admin's auto-approve rule: small creates and updates in chosen tables run without a
click, recorded and undoable; in every forbidden case the action waits for the user.

Through the real write tools against the emulator, with the rule saved in the database.
"""

from __future__ import annotations

import pytest

from pyairtable_ui.actions import flows
from pyairtable_ui.actions.history import list_history
from pyairtable_ui.actions.models import ActionStatus, UndoStatus
from pyairtable_ui.actions.rows import AUTO_APPLIED_WORD, action_item
from pyairtable_ui.core.db import SessionFactory
from pyairtable_ui.core.instance_settings import AUTO_APPROVE_KEY, write_setting
from pyairtable_ui.emulator.seeds import company_id, deal_id
from pyairtable_ui.tools.read_tools import history_read_record_text
from tests.unit.actions.helpers import load, writes


def save_rule(
    session_factory: SessionFactory, *, enabled=True, max_records=2, tables=("Companies",)
):
    with session_factory() as session:
        write_setting(
            session,
            AUTO_APPROVE_KEY,
            {"enabled": enabled, "max_records": max_records, "tables": list(tables)},
            by=None,
        )


def update(n: int = 1) -> dict:
    records = [{"id": company_id(i), "fields": {"Active": False}} for i in range(1, n + 1)]
    return {"table": "Companies", "records": records}


@pytest.fixture
def ctx(airtable_emulator, make_client, make_ctx, session_factory, user_id):
    return make_ctx(
        make_client(airtable_emulator), session_factory=session_factory, user_id=user_id
    )


async def test_a_small_update_in_a_chosen_table_is_applied_by_the_rule_and_undoable(
    airtable_emulator, ctx, registry, session_factory, user_id
):
    save_rule(session_factory)
    result = await registry.call("update_records", update(1), ctx)

    action = load(session_factory, result.action_id)
    assert action.status == ActionStatus.DONE and action.auto_approved
    assert action.approved_plan_hash and action.undo_status == UndoStatus.AVAILABLE
    assert "applied automatically by the instance rule" in result.content
    assert action_item(action)["state"] == AUTO_APPLIED_WORD
    assert len(writes(airtable_emulator, "PATCH")) == 1
    with session_factory() as session:
        rows, _ = list_history(session=session, actor_id=user_id, is_admin=False)
    assert [r["approved_by"] for r in rows] == ["instance rule"]  # recorded as such

    planned = flows.plan_undo(
        user_id, action.id or 0, sessions=session_factory, client_for=lambda _: ctx.client
    )
    assert planned.error == "" and planned.undo_plan is not None


@pytest.mark.parametrize(
    ("case", "tool", "arguments"),
    [
        ("switch off", "update_records", update(1)),
        ("more than N records", "update_records", update(3)),
        (
            "table not chosen",
            "update_records",
            {"table": "Deals", "records": [{"id": deal_id(1), "fields": {"Name": "Renamed deal"}}]},
        ),
        ("a delete", "delete_records", {"table": "Companies", "record_ids": [company_id(1)]}),
        (
            "a schema change",
            "create_field",
            {"table": "Companies", "name": "Tier", "type": "singleLineText"},
        ),
        (
            "an upsert",
            "upsert_records",
            {
                "table": "Companies",
                "fields_to_merge_on": ["Name"],
                "records": [{"fields": {"Name": "Brand new"}}],
            },
        ),
    ],
)
async def test_the_rule_never_applies_in_a_forbidden_case(
    airtable_emulator, ctx, registry, session_factory, case, tool, arguments
):
    save_rule(session_factory, enabled=case != "switch off")
    result = await registry.call(tool, arguments, ctx)

    assert not result.is_error, result.content
    action = load(session_factory, result.action_id)
    assert action.status == ActionStatus.PROPOSED and not action.auto_approved
    assert writes(airtable_emulator) == []


async def test_the_rule_never_applies_after_the_turn_read_record_text(
    airtable_emulator, ctx, registry, session_factory
):
    save_rule(session_factory)
    await registry.call("get_record", {"table": "Companies", "record_id": company_id(2)}, ctx)
    assert ctx.read_record_text

    result = await registry.call("update_records", update(1), ctx)
    assert load(session_factory, result.action_id).status == ActionStatus.PROPOSED
    assert writes(airtable_emulator) == []


def test_record_text_read_in_earlier_turns_counts_for_the_new_turn():
    def called(name: str) -> dict:
        return {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "function": {"name": name, "arguments": "{}"}}],
        }

    assert history_read_record_text([{"role": "user", "content": "hi"}, called("search_records")])
    assert history_read_record_text([called("aggregate")])
    assert not history_read_record_text([called("list_tables"), called("update_records")])
