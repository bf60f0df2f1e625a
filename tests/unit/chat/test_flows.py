"""What the chat page asks for, on the app's own database session, without Reflex."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pyairtable_ui.actions.plan import parse_plan
from pyairtable_ui.actions.service import propose_action
from pyairtable_ui.airtable.connections import (
    NotConnectedError,
    check_airtable_token,
    save_connection,
)
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.chat import flows, service
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, BASE_PROJECTS_ID, TOKEN_FULL
from pyairtable_ui.instance import service as instance_service
from tests.unit.chat.conftest import make_user


@pytest.fixture
def cleo(app_database: Engine) -> int:
    with Session(app_database) as session:
        return make_user(session, "cleo@example.com")


def add_turn(session: Session, conversation_id: int, user_id: int, n: int) -> None:
    service.add_message(
        session=session,
        conversation_id=conversation_id,
        user_id=user_id,
        role="user",
        content=f"q{n}",
    )
    service.add_message(
        session=session,
        conversation_id=conversation_id,
        user_id=user_id,
        role="assistant",
        content=f"a{n}",
        prompt_tokens=10 * n,
        completion_tokens=n,
        airtable_calls=n,
    )


def propose_in(session: Session, conversation_id: int, user_id: int, summary: str) -> int:
    """An action the model proposed in the conversation, as the write tools store it."""
    plan = {
        "kind": "records",
        "op": "update",
        "typecast": False,
        "operations": [{"op": "update", "record_id": "recA", "fields": {"Name": "B"}}],
    }
    action = propose_action(
        session=session,
        user_id=user_id,
        conversation_id=conversation_id,
        message_id=None,
        tool_name="update_records",
        base_id=BASE_CRM_ID,
        table_id="tblDeals",
        table_name="Deals",
        arguments={},
        plan=parse_plan(plan),
        summary=summary,
        record_count=1,
        needs_typed_confirmation=False,
    )
    session.commit()
    assert action.id is not None
    return action.id


def test_the_page_starts_with_the_users_defaults_and_the_allowed_models(
    app_database: Engine, cleo: int
) -> None:
    first = flows.start_chat(cleo, last=200)
    assert first.default_base_id == ""
    assert first.default_model == first.models[0]
    assert first.conversations == []

    with Session(app_database) as session:
        admin = User(email="admin@example.com", role=Role.ADMIN.value)
        instance_service.set_allowed_models(
            session=session, actor=admin, models=["openai/a", "openai/b"]
        )
        user = session.get(User, cleo)
        assert user is not None
        user.default_base_id = BASE_CRM_ID
        user.default_model = "openai/b"
        session.add(user)
        session.commit()
    older = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")
    newer = flows.start_conversation(cleo, "", "openai/b")

    start = flows.start_chat(cleo, last=200)
    assert (start.default_base_id, start.default_model) == (BASE_CRM_ID, "openai/b")
    assert start.models == ["openai/a", "openai/b"]
    assert [c.id for c in start.conversations] == [newer, older]
    assert start.conversations[0].base_id is None, "no base chosen is stored as none"


def test_a_conversation_opens_with_its_last_messages_and_its_last_turn(
    app_database: Engine, cleo: int
) -> None:
    conversation_id = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")
    with Session(app_database) as session:
        for n in (1, 2, 3):
            add_turn(session, conversation_id, cleo, n)
        session.commit()

    opened = flows.open_conversation(cleo, conversation_id, last=3)

    assert opened.conversation.id == conversation_id
    assert opened.conversation.base_id == BASE_CRM_ID
    assert [m.content for m in opened.messages] == ["a2", "q3", "a3"]
    assert opened.last_turn is not None
    assert (opened.last_turn.prompt_tokens, opened.last_turn.airtable_calls) == (30, 3)


def test_a_conversation_opens_with_its_own_actions_for_the_sidebar(
    app_database: Engine, cleo: int
) -> None:
    this = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")
    other = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")
    with Session(app_database) as session:
        mine = propose_in(session, this, cleo, "Rename deal A")
        propose_in(session, other, cleo, "Rename deal B")

    opened = flows.open_conversation(cleo, this, last=200)

    assert [(i["id"], i["summary"]) for i in opened.action_items] == [(mine, "Rename deal A")]


def test_the_page_opens_the_first_wanted_conversation_that_is_the_users(
    app_database: Engine, cleo: int
) -> None:
    with Session(app_database) as session:
        dan = make_user(session, "dan@example.com")
    theirs = flows.start_conversation(dan, BASE_CRM_ID, "openai/a")
    mine = flows.start_conversation(cleo, BASE_PROJECTS_ID, "openai/a")
    with Session(app_database) as session:
        add_turn(session, mine, cleo, 1)
        action_id = propose_in(session, mine, cleo, "Rename deal A")
        session.commit()

    # The address names someone else's conversation; the tab had `mine` open.
    start = flows.start_chat(cleo, wanted=(theirs, mine), last=200)

    assert start.opened is not None
    assert start.opened.conversation.id == mine
    assert [m.content for m in start.opened.messages] == ["q1", "a1"]
    assert [i["id"] for i in start.opened.action_items] == [action_id]
    assert flows.start_chat(cleo, wanted=(0, theirs), last=200).opened is None
    assert flows.start_chat(cleo, last=200).opened is None, "nothing wanted: an empty one"


def test_after_a_turn_the_list_and_the_conversations_actions_are_read_again(
    app_database: Engine, cleo: int
) -> None:
    older = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")
    answered = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")
    with Session(app_database) as session:
        action_id = propose_in(session, answered, cleo, "Rename deal A")

    after = flows.after_turn(cleo, answered)

    assert [c.id for c in after.conversations] == [answered, older]
    assert [i["id"] for i in after.action_items] == [action_id]


def test_a_new_conversation_opens_without_a_last_turn(cleo: int) -> None:
    conversation_id = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")

    opened = flows.open_conversation(cleo, conversation_id, last=200)

    assert opened.messages == [] and opened.last_turn is None


def test_nobody_opens_renames_deletes_or_redoes_another_users_conversation(
    app_database: Engine, cleo: int
) -> None:
    with Session(app_database) as session:
        dan = make_user(session, "dan@example.com")
    theirs = flows.start_conversation(dan, BASE_CRM_ID, "openai/a")

    with pytest.raises(service.ConversationNotFoundError):
        flows.open_conversation(cleo, theirs, last=200)
    with pytest.raises(service.ConversationNotFoundError):
        flows.rename_conversation(cleo, theirs, "Mine now")
    with pytest.raises(service.ConversationNotFoundError):
        flows.delete_conversation(cleo, theirs)
    with pytest.raises(service.ConversationNotFoundError):
        flows.drop_last_answer(cleo, theirs)
    assert [c.id for c in flows.list_conversations(dan)] == [theirs]
    with Session(app_database) as session:
        add_turn(session, theirs, dan, 7)
        session.commit()
    assert flows.list_conversations(cleo, search="q7") == []
    assert [c.id for c in flows.list_conversations(dan, search="q7")] == [theirs]


def test_a_conversation_exports_as_markdown_for_its_owner_only(
    app_database: Engine, cleo: int
) -> None:
    conversation_id = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")
    with Session(app_database) as session:
        add_turn(session, conversation_id, cleo, 1)
        add_turn(session, conversation_id, cleo, 2)
        session.commit()
        dan = make_user(session, "dan@example.com")
    flows.rename_conversation(cleo, conversation_id, "Deals")

    exported = flows.export_conversation(cleo, conversation_id)

    assert exported.filename == f"conversation-{conversation_id}-deals.md"
    text = exported.markdown
    assert text.startswith("# Deals\n")
    positions = [text.index(f"\n\n{part}\n") for part in ("q1", "a1", "q2", "a2")]
    assert positions == sorted(positions), "questions and answers, in order"
    with pytest.raises(service.ConversationNotFoundError):
        flows.export_conversation(dan, conversation_id)
    flows.delete_conversation(cleo, conversation_id)
    with pytest.raises(service.ConversationNotFoundError):
        flows.export_conversation(cleo, conversation_id)


def test_rename_delete_and_redo_the_last_answer(app_database: Engine, cleo: int) -> None:
    conversation_id = flows.start_conversation(cleo, BASE_CRM_ID, "openai/a")

    assert flows.rename_conversation(cleo, conversation_id, "  Open   deals ") == "Open deals"
    with pytest.raises(service.InvalidTitleError):
        flows.rename_conversation(cleo, conversation_id, "   ")
    assert flows.drop_last_answer(cleo, conversation_id) is False, "no question yet"
    with Session(app_database) as session:
        add_turn(session, conversation_id, cleo, 1)
        session.commit()
    assert flows.drop_last_answer(cleo, conversation_id) is True
    opened = flows.open_conversation(cleo, conversation_id, last=200)
    assert [m.content for m in opened.messages] == ["q1"]
    assert opened.conversation.title == "Open deals"

    flows.delete_conversation(cleo, conversation_id)

    assert flows.list_conversations(cleo) == []


def test_the_base_switcher_lists_what_the_stored_token_sees(
    airtable_emulator: AirtableEmulator,
    app_database: Engine,
    cleo: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRTABLE_API_URL", airtable_emulator.url)
    get_settings.cache_clear()
    with pytest.raises(NotConnectedError):
        flows.bases_for_user(cleo)

    check = check_airtable_token(TOKEN_FULL, api_url=airtable_emulator.url)
    with Session(app_database) as session:
        user = session.get(User, cleo)
        assert user is not None
        save_connection(session=session, user=user, token=TOKEN_FULL, check=check)
        session.commit()

    bases = flows.bases_for_user(cleo)

    assert {b.id for b in bases} == {BASE_CRM_ID, BASE_PROJECTS_ID}


def test_example_questions_come_from_the_users_base_and_none_without_access(
    airtable_emulator: AirtableEmulator,
    app_database: Engine,
    cleo: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRTABLE_API_URL", airtable_emulator.url)
    get_settings.cache_clear()
    # Not connected: no examples, and no error for the page to show.
    assert flows.example_prompts(cleo, BASE_PROJECTS_ID) == []

    check = check_airtable_token(TOKEN_FULL, api_url=airtable_emulator.url)
    with Session(app_database) as session:
        user = session.get(User, cleo)
        assert user is not None
        save_connection(session=session, user=user, token=TOKEN_FULL, check=check)
        session.commit()

    projects = flows.example_prompts(cleo, BASE_PROJECTS_ID)
    crm = flows.example_prompts(cleo, BASE_CRM_ID)

    assert projects and all("Projects" in p or "Tasks" in p for p in projects)
    assert "What is the total Amount of Deals by Stage?" in crm
    assert flows.example_prompts(cleo, "appNoSuchBase0000") == []
