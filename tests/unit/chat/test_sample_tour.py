"""The sample base end to end without a browser: connect, ask the tour's questions, reset.

A user is connected to their own sample (a real sample server in a temporary data folder)
and `make demo`'s model (the scripted server with the tour responder) answers the chat's
example questions through the app's real tools: the answers must come from tools that
worked on the sample, and the update must become a reviewable proposal.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pyairtable_ui.account import flows as account
from pyairtable_ui.actions import service as actions
from pyairtable_ui.airtable import access, connections
from pyairtable_ui.airtable.models import ConnectionKind
from pyairtable_ui.chat import agent, service, turns
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.sample.manager import sample_servers
from pyairtable_ui.sample.tour import SAMPLE_QUESTIONS
from tests.fakes.llm import ScriptedLLM
from tests.fakes.llm.tour import DEAL_TO_WIN, UNKNOWN, tour_reply
from tests.unit.chat.conftest import API_KEY, EventLog, make_user

MODEL = "openai/demo-scripted"


@pytest.fixture
def tour_llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(responder=tour_reply) as llm:
        yield llm


@pytest.fixture
def sample_settings(
    tmp_path: Path, tour_llm: ScriptedLLM, app_database: Engine, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Real Airtable unreachable; samples in a temporary folder; the demo model."""
    monkeypatch.setenv("AIRTABLE_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AIRTABLE_SAMPLE_DIR", str(tmp_path / "sample"))
    monkeypatch.setenv("LLM_API_BASE", tour_llm.api_base)
    monkeypatch.setenv("LLM_API_KEY", API_KEY)
    monkeypatch.setenv("LLM_TIMEOUT_SECONDS", "10")
    get_settings.cache_clear()
    yield
    sample_servers().stop()
    get_settings.cache_clear()


def new_user(app_database: Engine, email: str) -> int:
    with Session(app_database, expire_on_commit=False) as session:
        return make_user(session, email)


async def ask(user_id: int, base_id: str, question: str, events: EventLog) -> None:
    with Session(get_engine_for_test(), expire_on_commit=False) as session:
        conversation = service.create_conversation(session=session, user_id=user_id)
        session.commit()
    assert conversation.id is not None
    request = turns.TurnRequest(
        user_id=user_id,
        conversation_id=conversation.id,
        base_id=base_id,
        base_name="Acme Sales CRM (Sample)",
        model=MODEL,
        question=question,
    )
    assert await turns.answer(request, events, turn_key=f"tab-{user_id}") == turns.TurnOutcome()


def get_engine_for_test() -> Engine:
    from pyairtable_ui.core.db import get_engine

    return get_engine()


def deal_stage(user_id: int, base_id: str) -> str:
    client = access.client_for_user(user_id)
    [deal] = client.api.table(base_id, "Deals").all(formula=f"{{Name}} = '{DEAL_TO_WIN}'")
    return str(deal["fields"]["Stage"])


@pytest.mark.usefixtures("sample_settings")
async def test_the_tour_questions_are_answered_by_tools_on_the_users_own_sample(
    app_database: Engine, events: EventLog
):
    ana = new_user(app_database, "ana@example.com")
    connected = account.start_with_sample(user_id=ana)
    crm = connected.check.bases[0]
    assert [b.name for b in connected.check.bases] == [
        "Acme Sales CRM (Sample)",
        "Product Roadmap (Sample)",
    ]
    with Session(app_database) as session:
        user = session.get(account.User, ana)
        connection = connections.get_connection(session=session, user=user)  # type: ignore[arg-type]
        assert connection is not None and connection.kind == ConnectionKind.SAMPLE.value
        assert user is not None and user.default_base_id == crm.id

    negotiation, per_stage, mark_won = SAMPLE_QUESTIONS
    await ask(ana, crm.id, negotiation, events)
    await ask(ana, crm.id, per_stage, events)
    await ask(ana, crm.id, mark_won, events)

    finished = events.of(agent.ToolFinished)
    assert [f.name for f in finished] == [
        "search_records",
        "aggregate",
        "update_matching_records",
    ]
    assert not any(f.is_error for f in finished), [f.content for f in finished]
    assert '"total":34' in finished[0].content, finished[1].content
    proposal = finished[2].action_id
    assert proposal is not None
    with Session(app_database) as session:
        action = actions.get_action(session=session, user_id=ana, action_id=proposal)
        assert action.status == "proposed"
    assert deal_stage(ana, crm.id) == "Negotiation", "nothing changes before approval"
    answers = [m.content for m in events.of(agent.AssistantMessage) if m.content]
    assert answers[0].startswith("34 deals are in the Negotiation stage")
    assert "Closed Won: 67" in answers[1] and "Negotiation: 34" in answers[1]
    assert "review the change" in answers[2] and UNKNOWN not in answers


@pytest.mark.usefixtures("sample_settings")
def test_samples_are_per_user_and_reset_restores_the_seed(app_database: Engine):
    ana, ben = new_user(app_database, "ana@example.com"), new_user(app_database, "ben@example.com")
    ana_crm = account.start_with_sample(user_id=ana).check.bases[0].id
    ben_crm = account.start_with_sample(user_id=ben).check.bases[0].id
    assert ana_crm != ben_crm
    assert account.start_with_sample(user_id=ana).check.bases[0].id == ana_crm, "kept"

    client = access.client_for_user(ana)
    deals = client.api.table(ana_crm, "Deals")
    [deal] = deals.all(formula=f"{{Name}} = '{DEAL_TO_WIN}'")
    deals.update(deal["id"], {"Stage": "Closed Lost"})
    assert deal_stage(ana, ana_crm) == "Closed Lost"
    assert deal_stage(ben, ben_crm) == "Negotiation"

    assert ana_crm in connections.reset_sample(user_id=ana)
    assert deal_stage(ana, ana_crm) == "Negotiation"

    connections.disconnect(user_id=ben)
    with pytest.raises(connections.NotSampleError):
        connections.reset_sample(user_id=ben)
