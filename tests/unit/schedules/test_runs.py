"""A scheduled run: the chat's turn, headless, for the owner; what it proposes waits.

The model is the scripted LLM over HTTP; Airtable is the emulator, reached with the
owner's stored token through the real tools.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.actions.models import Action, ActionStatus
from pyairtable_ui.chat import service as chat_service
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TOKEN_FULL
from pyairtable_ui.schedules import runs, service
from pyairtable_ui.schedules.models import RunStatus, Schedule, ScheduleRun, ScheduleStatus
from pyairtable_ui.schedules.service import RunResult
from tests.fakes.airtable_fixtures import emulator_api
from tests.fakes.llm import Reply, ScriptedLLM, ToolCall
from tests.unit.schedules.conftest import fields

TICK = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def open_run(engine: Engine, schedule_id: int, workflow_id: str, *, manual: bool = False) -> int:
    with Session(engine, expire_on_commit=False) as session:
        run = service.open_run(
            session=session,
            schedule_id=schedule_id,
            workflow_id=workflow_id,
            scheduled_for=TICK,
            manual=manual,
        )
        session.commit()
        assert run is not None and run.id is not None
        return run.id


async def run_once(engine: Engine, schedule_id: int, workflow_id: str) -> tuple[int, RunResult]:
    """What the engine's workflow does, step by step."""
    run_id = open_run(engine, schedule_id, workflow_id)
    result = await runs.answer_run(run_id)
    with Session(engine, expire_on_commit=False) as session:
        service.finish_run(session=session, run_id=run_id, result=result)
        session.commit()
    return run_id, result


def task_names(airtable: AirtableEmulator) -> list[str]:
    table = emulator_api(airtable, TOKEN_FULL).table(BASE_PROJECTS_ID, "Tasks")
    return sorted(str(r["fields"].get("Name", "")) for r in table.all())


async def test_a_run_answers_in_a_scheduled_conversation_of_the_owner(
    app_database: Engine, connected: int, schedule_id: int, scripted_llm: ScriptedLLM
) -> None:
    scripted_llm.queue(ToolCall("list_tables", {}), "The base has three tables.")

    run_id, result = await run_once(app_database, schedule_id, "sched-a")

    assert result.answered and result.answer == "The base has three tables."
    assert result.error is None
    first = scripted_llm.requests[0]
    assert first["messages"][-1] == {"role": "user", "content": "Which tasks are not done?"}
    assert "Emulator Projects" in first["messages"][0]["content"]
    with Session(app_database) as session:
        run = session.get(ScheduleRun, run_id)
        assert run is not None and run.conversation_id == result.conversation_id
        assert (run.status, run.answer) == (RunStatus.ANSWERED.value, result.answer)
        conversation = chat_service.get_conversation(
            session=session, conversation_id=run.conversation_id, user_id=connected
        )
        assert conversation.title == "Scheduled: Which tasks are not done?"
        assert conversation.base_id == BASE_PROJECTS_ID


async def test_a_write_the_run_proposes_stays_pending_and_nothing_is_written(
    app_database: Engine,
    connected: int,
    schedule_id: int,
    scripted_llm: ScriptedLLM,
    airtable_emulator: AirtableEmulator,
) -> None:
    before = task_names(airtable_emulator)
    scripted_llm.queue(
        ToolCall(
            "create_records",
            {"table": "Tasks", "records": [{"fields": {"Name": "Chase the late invoices"}}]},
        ),
        "I proposed a task for you to review.",
    )

    _, result = await run_once(app_database, schedule_id, "sched-b")

    assert result.answered and result.proposed_actions == 1
    with Session(app_database) as session:
        [action] = session.exec(
            select(Action).where(Action.conversation_id == result.conversation_id)
        ).all()
        assert action.status == ActionStatus.PROPOSED.value
        assert action.source == runs.ACTION_SOURCE
        assert action.user_id == connected
    assert task_names(airtable_emulator) == before
    assert "Chase the late invoices" not in before


async def test_a_revoked_token_a_gone_base_and_a_model_error_are_each_recorded(
    app_database: Engine,
    connected: int,
    schedule_id: int,
    scripted_llm: ScriptedLLM,
    airtable_emulator: AirtableEmulator,
) -> None:
    scripted_llm.queue(Reply(error=(400, "The model is not available for this key")))
    _, model_failed = await run_once(app_database, schedule_id, "sched-model")

    airtable_emulator.inject_failure(count=None, status=401)
    _, token_failed = await run_once(app_database, schedule_id, "sched-token")
    airtable_emulator.clear_failures()

    with Session(app_database) as session:
        schedule = session.get(Schedule, schedule_id)
        assert schedule is not None
        schedule.base_id = "appGoneBase000001"
        session.add(schedule)
        session.commit()
    _, base_failed = await run_once(app_database, schedule_id, "sched-base")

    for result in (model_failed, token_failed, base_failed):
        assert not result.answered and result.error
    assert str(model_failed.error).startswith("The LLM provider refused the request")
    assert str(token_failed.error).startswith("Airtable did not accept this token")
    assert "no longer sees the base “Emulator Projects”" in str(base_failed.error)
    assert token_failed.conversation_id is None, "nothing was asked: no empty conversation"
    with Session(app_database) as session:
        stored = session.exec(
            select(ScheduleRun).where(ScheduleRun.schedule_id == schedule_id)
        ).all()
        assert [r.status for r in stored] == [RunStatus.FAILED.value] * 3
        assert [r.error for r in stored] == [
            model_failed.error,
            token_failed.error,
            base_failed.error,
        ]
        schedule = session.get(Schedule, schedule_id)
        assert schedule is not None
        # Three in a row: it paused itself and says why.
        assert schedule.status == ScheduleStatus.PAUSED.value
        assert schedule.paused_reason is not None
        assert "3 failed runs in a row" in schedule.paused_reason
        assert str(base_failed.error) in schedule.paused_reason


def finish(engine: Engine, schedule_id: int, workflow_id: str, *, ok: bool) -> Schedule | None:
    run_id = open_run(engine, schedule_id, workflow_id, manual=True)
    with Session(engine, expire_on_commit=False) as session:
        paused = service.finish_run(
            session=session,
            run_id=run_id,
            result=RunResult(answered=ok, answer="ok" if ok else "", error=None if ok else "x"),
        )
        session.commit()
        return paused


def test_a_success_resets_the_count_and_only_the_third_failure_in_a_row_pauses(
    app_database: Engine, schedule_id: int, connected: int
) -> None:
    assert finish(app_database, schedule_id, "w1", ok=False) is None
    assert finish(app_database, schedule_id, "w2", ok=False) is None
    assert finish(app_database, schedule_id, "w3", ok=True) is None
    assert finish(app_database, schedule_id, "w4", ok=False) is None
    assert finish(app_database, schedule_id, "w5", ok=False) is None
    paused = finish(app_database, schedule_id, "w6", ok=False)

    assert paused is not None and paused.engine_name == f"prompt-{schedule_id}"
    with Session(app_database, expire_on_commit=False) as session:
        resumed = service.set_paused(
            session=session, user_id=connected, schedule_id=schedule_id, paused=False
        )
        session.commit()
        assert (resumed.status, resumed.consecutive_failures, resumed.paused_reason) == (
            ScheduleStatus.ACTIVE.value,
            0,
            None,
        )


def test_a_tick_opens_one_run_and_a_paused_schedule_only_runs_when_asked(
    app_database: Engine, schedule_id: int, connected: int
) -> None:
    first = open_run(app_database, schedule_id, "sched-x")
    assert open_run(app_database, schedule_id, "sched-x") == first, "a resumed tick, same run"
    with Session(app_database, expire_on_commit=False) as session:
        service.set_paused(session=session, user_id=connected, schedule_id=schedule_id, paused=True)
        session.commit()
        late_tick = service.open_run(
            session=session,
            schedule_id=schedule_id,
            workflow_id="sched-y",
            scheduled_for=TICK,
            manual=False,
        )
        assert late_tick is None
    assert open_run(app_database, schedule_id, "sched-trigger-z", manual=True) != first


def test_another_users_schedule_is_not_found_by_any_owner_function(
    app_database: Engine, schedule_id: int
) -> None:
    with Session(app_database) as session:
        from tests.unit.chat.conftest import make_user

        other = make_user(session, "eve@example.com")
        for call in (
            lambda: service.get_schedule(session=session, user_id=other, schedule_id=schedule_id),
            lambda: service.set_paused(
                session=session, user_id=other, schedule_id=schedule_id, paused=True
            ),
            lambda: service.update_schedule(
                session=session, user_id=other, schedule_id=schedule_id, fields=fields()
            ),
            lambda: service.delete_schedule(
                session=session, user_id=other, schedule_id=schedule_id
            ),
        ):
            with pytest.raises(service.ScheduleNotFoundError):
                call()
        assert service.list_schedules(session=session, user_id=other) == []


async def test_the_owner_is_emailed_the_answer_with_its_link_and_what_waits(
    app_database: Engine,
    connected: int,
    schedule_id: int,
    scripted_llm: ScriptedLLM,
    mailbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pyairtable_ui.core.settings import get_settings

    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.setenv("PUBLIC_URL", "https://airtable-ui.example.com")
    get_settings.cache_clear()
    scripted_llm.queue(
        ToolCall("create_records", {"table": "Tasks", "records": [{"fields": {"Name": "X"}}]}),
        "One task proposed.",
    )
    run_id, result = await run_once(app_database, schedule_id, "sched-mail")
    assert not runs.email_answer(run_id), "not asked for: nothing sent"

    with Session(app_database) as session:
        schedule = session.get(Schedule, schedule_id)
        assert schedule is not None
        schedule.email_answer = True
        session.add(schedule)
        session.commit()
    assert runs.email_answer(run_id)

    message = mailbox.wait_for("sam@example.com", "Scheduled answer")
    assert "One task proposed." in message.text
    assert "proposed 1 change(s); nothing was written" in message.text
    link = message.link("/chat?c=")
    assert link == f"https://airtable-ui.example.com/chat?c={result.conversation_id}"
