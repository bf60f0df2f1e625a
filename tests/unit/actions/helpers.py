"""Small helpers shared by the safe-writes tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import select

from pyairtable_ui.actions.models import Action, ActionStep
from pyairtable_ui.actions.plan import parse_plan
from pyairtable_ui.actions.service import list_steps, propose_action
from pyairtable_ui.core.db import SessionFactory, make_engine
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID, TOKEN_FULL
from tests.fakes.airtable_fixtures import emulator_api

WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}


class SimulatedCrash(BaseException):
    """Raised from a step hook: like a killed process, it skips every `except Exception`."""


def item_id(n: int) -> str:
    return f"recItem{n:010d}"


def records_plan(
    op: str, operations: list[dict[str, Any]], *, typecast: bool = False, **extra: Any
) -> dict[str, Any]:
    return {"kind": "records", "op": op, "typecast": typecast, "operations": operations, **extra}


def rename_items_plan(numbers: range | list[int], prefix: str = "Renamed") -> dict[str, Any]:
    return records_plan(
        "update",
        [
            {"op": "update", "record_id": item_id(n), "fields": {"Name": f"{prefix} {n}"}}
            for n in numbers
        ],
    )


def propose(
    session_factory: SessionFactory,
    user_id: int,
    plan: dict[str, Any],
    *,
    base_id: str = BASE_PROJECTS_ID,
    table_id: str | None = TABLE_ITEMS_ID,
    table_name: str = "Items",
    tool_name: str | None = None,
    typed: bool = False,
    conversation_id: int | None = None,
) -> int:
    """Store a proposed action the way the write tools do."""
    operations = plan.get("operations") or []
    with session_factory() as session:
        action = propose_action(
            session=session,
            user_id=user_id,
            conversation_id=conversation_id,
            message_id=None,
            tool_name=tool_name or f"{plan['op']}_records",
            base_id=base_id,
            table_id=table_id,
            table_name=table_name,
            arguments={"plan": plan["op"]},
            plan=parse_plan(plan),
            summary=f"{plan['op']} {len(operations)}",
            record_count=len(operations),
            needs_typed_confirmation=typed,
        )
        assert action.id is not None
        return action.id


def load(session_factory: SessionFactory, action_id: int) -> Action:
    with session_factory() as session:
        action = session.exec(select(Action).where(Action.id == action_id)).one()
        session.expunge(action)
        return action


def steps_of(session_factory: SessionFactory, user_id: int, action_id: int) -> list[ActionStep]:
    with session_factory() as session:
        steps = list_steps(session=session, user_id=user_id, action_id=action_id)
        for step in steps:
            session.expunge(step)
        return steps


def table_records(
    emulator: AirtableEmulator, table_id: str, base_id: str = BASE_PROJECTS_ID
) -> dict[str, dict[str, Any]]:
    """Every record of a table, id -> fields, read over HTTP like any client would."""
    table = emulator_api(emulator, TOKEN_FULL).table(base_id, table_id)
    return {r["id"]: r["fields"] for r in table.all()}


def writes(emulator: AirtableEmulator, method: str | None = None) -> list[dict[str, Any]]:
    """The write requests the emulator answered."""
    return [
        r
        for r in emulator.stats()["requests"]
        if r["method"] in WRITE_METHODS and (method is None or r["method"] == method)
    ]


def fresh_engine(engine: Engine) -> Engine:
    """A new engine on the same database: what a restarted server would open."""
    return make_engine(engine.url.render_as_string(hide_password=False))
