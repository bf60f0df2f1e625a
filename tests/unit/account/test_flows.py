"""Onboarding and settings as the pages run them: real database, the Airtable emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.account import flows
from pyairtable_ui.airtable.connections import (
    BaseAccess,
    MissingScopesError,
    TokenCheck,
    save_connection,
)
from pyairtable_ui.airtable.models import AirtableConnection
from pyairtable_ui.auth import service, sessions
from pyairtable_ui.auth.errors import InvalidProfileError
from pyairtable_ui.auth.models import OnboardingStep, User
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator import AirtableEmulator
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, TOKEN_FULL, TOKEN_READ_ONLY

PASSWORD = "violet tractor morning"
MODELS = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"]
PAT = "patAbCdEfGhIjKlMn." + "0123456789abcdef" * 4


@pytest.fixture
def airtable(airtable_emulator: AirtableEmulator, monkeypatch: pytest.MonkeyPatch):
    """The app's settings point at the emulator and allow two models."""
    monkeypatch.setenv("AIRTABLE_API_URL", airtable_emulator.url)
    monkeypatch.setenv("LLM_MODEL", MODELS[0])
    monkeypatch.setenv("LLM_ALLOWED_MODELS", ",".join(MODELS))
    get_settings.cache_clear()
    return airtable_emulator


@pytest.fixture
def user_id(app_db: Engine) -> int:
    with Session(app_db) as db:
        user = service.register_user(session=db, email="ana@example.com", password=PASSWORD)
        db.commit()
        assert user.id is not None
        return user.id


def read_user(app_db: Engine, user_id: int) -> User:
    with Session(app_db) as db:
        user = db.get(User, user_id)
        assert user is not None
        return user


def connect_directly(app_db: Engine, user_id: int, *, email: str = "") -> None:
    check = TokenCheck(
        user_id="usrAnaAnaAnaAna01",
        email=email or None,
        scopes=(),
        bases=(BaseAccess(id=BASE_CRM_ID, name="CRM", permission_level="create"),),
    )
    with Session(app_db) as db:
        save_connection(session=db, user=read_user(app_db, user_id), token=PAT, check=check)
        db.commit()


# --- onboarding -----------------------------------------------------------------------


def test_a_new_account_starts_by_connecting_airtable(user_id: int):
    progress = flows.onboarding_progress(user_id=user_id)
    assert progress == flows.OnboardingProgress(
        step=OnboardingStep.CONNECT.value, connected_as="", token_hint=""
    )


@pytest.mark.usefixtures("airtable")
def test_onboarding_walks_from_the_token_to_the_chat(app_db: Engine, user_id: int):
    connected = flows.connect_during_onboarding(user_id=user_id, token=f" {TOKEN_FULL} ")
    assert connected.connected_as == "alice@example.com"
    assert connected.token_hint == TOKEN_FULL[-4:]
    assert [b["name"] for b in flows.base_choices(connected.check)] == [
        "Emulator CRM",
        "Emulator Projects",
    ]
    assert flows.onboarding_progress(user_id=user_id) == flows.OnboardingProgress(
        step=OnboardingStep.CHOOSE_BASE.value,
        connected_as="alice@example.com",
        token_hint=TOKEN_FULL[-4:],
    )

    flows.choose_base(user_id=user_id, base_id=BASE_CRM_ID)
    user = read_user(app_db, user_id)
    assert user.default_base_id == BASE_CRM_ID
    assert user.onboarding_step == OnboardingStep.TOUR

    flows.finish_onboarding(user_id=user_id)
    assert read_user(app_db, user_id).onboarding_step == OnboardingStep.DONE


@pytest.mark.usefixtures("airtable")
def test_a_refused_token_leaves_onboarding_where_it_was(app_db: Engine, user_id: int):
    with pytest.raises(MissingScopesError):
        flows.connect_during_onboarding(user_id=user_id, token=TOKEN_READ_ONLY)
    assert read_user(app_db, user_id).onboarding_step == OnboardingStep.CONNECT
    with Session(app_db) as db:
        assert db.exec(select(AirtableConnection)).first() is None


def test_onboarding_goes_back_to_connecting_when_the_token_was_removed(
    app_db: Engine, user_id: int
):
    with Session(app_db) as db:
        user = db.get(User, user_id)
        assert user is not None
        service.set_onboarding_step(session=db, user=user, step=OnboardingStep.TOUR)
        db.commit()
    assert flows.onboarding_progress(user_id=user_id).step == OnboardingStep.CONNECT


def test_finished_onboarding_stays_finished_without_a_connection(user_id: int):
    flows.finish_onboarding(user_id=user_id)
    assert flows.onboarding_progress(user_id=user_id).step == OnboardingStep.DONE


def test_choosing_something_that_is_not_a_base_id_is_refused(user_id: int):
    with pytest.raises(InvalidProfileError):
        flows.choose_base(user_id=user_id, base_id="not a base")


# --- settings -------------------------------------------------------------------------


@pytest.mark.usefixtures("airtable")
def test_settings_show_the_account_its_connection_and_its_browsers(app_db: Engine, user_id: int):
    with Session(app_db) as db:
        user = db.get(User, user_id)
        assert user is not None
        _raw, here = sessions.create_session(
            session=db,
            user=user,
            user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
            ip_address="203.0.113.7",
        )
        sessions.create_session(
            session=db,
            user=user,
            user_agent="Mozilla/5.0 (iPhone) Safari/604.1",
            now=utcnow() - timedelta(hours=1),
        )
        db.commit()
        assert here.id is not None
        here_id = here.id

    shown = flows.account_settings(user_id=user_id, session_id=here_id)
    assert shown.models == MODELS
    assert shown.default_model == MODELS[0]  # the instance's default until one is saved
    assert shown.default_base_id == ""
    assert (shown.connected_as, shown.token_hint) == ("", "")
    assert [(r["device"], r["current"]) for r in shown.session_rows] == [
        ("Firefox on Linux", True),
        ("Safari on iPhone", False),
    ]
    assert shown.session_rows[0]["address"] == "203.0.113.7"

    connect_directly(app_db, user_id)  # no email: the Airtable user id stands in
    shown = flows.account_settings(user_id=user_id, session_id=here_id)
    assert (shown.connected_as, shown.token_hint) == ("usrAnaAnaAnaAna01", PAT[-4:])


def test_browsers_are_named_briefly():
    assert flows.describe_agent("Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Edg/126.0") == (
        "Edge on Windows"
    )
    assert flows.describe_agent("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605") == (
        "Safari on macOS"
    )
    assert flows.describe_agent("curl/8.5.0") == "Browser"


@pytest.mark.usefixtures("airtable")
def test_profile_and_defaults_are_saved(app_db: Engine, user_id: int):
    assert flows.save_profile(user_id=user_id, display_name="  Ana   López ") == "Ana López"
    flows.save_defaults(user_id=user_id, base_id=BASE_CRM_ID, model=MODELS[1])
    user = read_user(app_db, user_id)
    assert (user.display_name, user.default_base_id, user.default_model) == (
        "Ana López",
        BASE_CRM_ID,
        MODELS[1],
    )
    with pytest.raises(InvalidProfileError):
        flows.save_defaults(user_id=user_id, base_id=None, model="openai/not-allowed")
    with pytest.raises(InvalidProfileError):
        flows.save_profile(user_id=user_id, display_name="   ")


def test_signing_out_other_browsers_keeps_this_one(app_db: Engine, user_id: int):
    with Session(app_db) as db:
        user = db.get(User, user_id)
        assert user is not None
        _raw, here = sessions.create_session(session=db, user=user, user_agent="Firefox")
        sessions.create_session(session=db, user=user, user_agent="Chrome")
        sessions.create_session(session=db, user=user, user_agent="Safari")
        db.commit()
        assert here.id is not None
        here_id = here.id

    assert flows.sign_out_other_browsers(user_id=user_id, session_id=here_id) == 2
    rows = flows.signed_in_browsers(user_id=user_id, session_id=here_id)
    assert [(r["id"], r["current"]) for r in rows] == [(here_id, True)]


@pytest.mark.usefixtures("airtable")
def test_connecting_airtable_after_the_sample_keeps_conversations_and_drops_its_base(
    app_db: Engine, user_id: int, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    from pyairtable_ui.chat import service as chat_service
    from pyairtable_ui.sample.manager import sample_servers

    monkeypatch.setenv("AIRTABLE_SAMPLE_DIR", str(tmp_path / "sample"))
    get_settings.cache_clear()
    try:
        sample_base = flows.start_with_sample(user_id=user_id).check.bases[0].id
        with Session(app_db) as db:
            chat_service.create_conversation(session=db, user_id=user_id, base_id=sample_base)
            db.commit()

        connected = flows.replace_connection(user_id=user_id, token=TOKEN_FULL)
    finally:
        sample_servers().stop()

    assert BASE_CRM_ID in {base.id for base in connected.check.bases}
    user = read_user(app_db, user_id)
    assert user.default_base_id is None, "the sample's base is not one Airtable has"
    with Session(app_db) as db:
        connection = db.exec(select(AirtableConnection)).one()
        assert connection.kind == "pat"
        [kept] = chat_service.list_conversations(session=db, user_id=user_id)
        assert kept.base_id == sample_base
