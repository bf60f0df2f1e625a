"""Checking personal access tokens against the Airtable emulator (real HTTP over loopback)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.airtable.connections import (
    REQUIRED_SCOPES,
    AirtableUnreachableError,
    BaseAccess,
    Connected,
    MissingScopesError,
    NoBasesError,
    TokenCheck,
    TokenRejectedError,
    check_airtable_token,
    connect,
    disconnect,
    get_connection,
    save_connection,
)
from pyairtable_ui.airtable.models import AirtableConnection
from pyairtable_ui.airtable.oauth import get_valid_token
from pyairtable_ui.auth import service
from pyairtable_ui.auth.models import User
from pyairtable_ui.core.observability import AIRTABLE_REQUESTS
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator import AirtableEmulator
from tests.fakes.airtable_fixtures import emulator_api

# The accounts fixtures (known settings, a database per backend, a fast hasher): a
# connection belongs to an account, and these tests make accounts.
from tests.unit.auth.conftest import (  # noqa: F401  (pytest fixtures, found by name)
    app_db,
    auth_engine,
    clean_engine,
    db,
    fast_hasher,
    test_settings,
)


def pat(letter: str) -> str:
    """A token shaped like a real personal access token."""
    return "pat" + letter * 14 + "." + "0123456789abcdef" * 4


FULL = pat("F")
NO_WRITE = pat("W")
NO_SCHEMA = pat("S")
NO_BASES = pat("N")
NO_EMAIL = pat("E")
UNKNOWN = pat("U")
CRM_ID = "appCrmCrmCrmCrm01"
OPS_ID = "appOpsOpsOpsOps01"
EMAIL_SCOPE = "user.email:read"

SEED = {
    "users": [{"id": "usrAnaAnaAnaAna01", "email": "ana@airtable.example", "name": "Ana"}],
    "tokens": [
        {
            "token": FULL,
            "user_id": "usrAnaAnaAnaAna01",
            "bases": [OPS_ID, CRM_ID],
            "scopes": [*REQUIRED_SCOPES, EMAIL_SCOPE],
        },
        {
            "token": NO_WRITE,
            "user_id": "usrAnaAnaAnaAna01",
            "bases": [CRM_ID],
            "scopes": ["data.records:read", "schema.bases:read"],
        },
        {
            "token": NO_SCHEMA,
            "user_id": "usrAnaAnaAnaAna01",
            "bases": [CRM_ID],
            "scopes": ["data.records:read"],
        },
        {
            "token": NO_BASES,
            "user_id": "usrAnaAnaAnaAna01",
            "bases": [],
            "scopes": list(REQUIRED_SCOPES),
        },
        {
            "token": NO_EMAIL,
            "user_id": "usrAnaAnaAnaAna01",
            "bases": [CRM_ID],
            "scopes": list(REQUIRED_SCOPES),
        },
    ],
    "bases": [
        {
            "id": CRM_ID,
            "name": "CRM",
            "permission_level": "create",
            "tables": [{"name": "Contacts", "fields": [{"name": "Name"}]}],
        },
        {
            "id": OPS_ID,
            "name": "Operations",
            "permission_level": "read",
            "tables": [{"name": "Tasks", "fields": [{"name": "Title"}]}],
        },
    ],
}


@pytest.fixture(scope="module")
def emulator() -> Iterator[AirtableEmulator]:
    with AirtableEmulator(SEED, rate_limit=0) as running:
        yield running


@pytest.fixture(autouse=True)
def no_injected_failures(emulator: AirtableEmulator) -> Iterator[None]:
    yield
    emulator.clear_failures()


def test_good_token_reports_account_scopes_and_bases(
    emulator: AirtableEmulator, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.DEBUG):
        check = check_airtable_token(f" {FULL}\n", api_url=emulator.url)
    assert check.user_id == "usrAnaAnaAnaAna01"
    assert check.email == "ana@airtable.example"
    assert set(REQUIRED_SCOPES) <= set(check.scopes)
    assert check.bases == (
        BaseAccess(id=CRM_ID, name="CRM", permission_level="create"),
        BaseAccess(id=OPS_ID, name="Operations", permission_level="read"),
    )
    assert FULL not in caplog.text


def test_email_is_absent_without_the_email_scope(emulator: AirtableEmulator):
    check = check_airtable_token(NO_EMAIL, api_url=emulator.url)
    assert check.email is None
    assert [base.id for base in check.bases] == [CRM_ID]


def test_unknown_token_is_rejected_with_copy_advice(emulator: AirtableEmulator):
    with pytest.raises(TokenRejectedError) as caught:
        check_airtable_token(UNKNOWN, api_url=emulator.url)
    assert caught.value.message == (
        "Airtable did not accept this token. Check that you copied the whole token."
    )


def test_missing_scopes_are_named(emulator: AirtableEmulator):
    with pytest.raises(MissingScopesError) as caught:
        check_airtable_token(NO_WRITE, api_url=emulator.url)
    assert caught.value.missing == ["data.records:write"]
    assert "missing the scope data.records:write" in caught.value.message

    with pytest.raises(MissingScopesError) as caught:
        check_airtable_token(NO_SCHEMA, api_url=emulator.url)
    assert caught.value.missing == ["data.records:write", "schema.bases:read"]
    assert "scopes data.records:write, schema.bases:read" in caught.value.message


def test_token_without_bases_says_how_to_add_them(emulator: AirtableEmulator):
    with pytest.raises(NoBasesError) as caught:
        check_airtable_token(NO_BASES, api_url=emulator.url)
    assert caught.value.message == (
        "This token has no access to any base. In Airtable, edit the token and add "
        "the bases you want to use."
    )


def test_forbidden_bases_list_means_the_schema_scope_is_missing(emulator: AirtableEmulator):
    # Airtable does not always report scopes; then the 403 on the bases list tells.
    emulator.inject_failure(method="GET", path_contains="/v0/meta/bases", status=403)
    with pytest.raises(MissingScopesError) as caught:
        check_airtable_token(FULL, api_url=emulator.url)
    assert caught.value.missing == ["schema.bases:read"]


def test_airtable_server_error_asks_to_retry(emulator: AirtableEmulator):
    emulator.inject_failure(method="GET", path_contains="/v0/meta/whoami", status=503)
    with pytest.raises(AirtableUnreachableError) as caught:
        check_airtable_token(FULL, api_url=emulator.url)
    assert "HTTP 503" in caught.value.message
    assert "Try again in a minute." in caught.value.message


def test_persistent_rate_limit_asks_to_retry(emulator: AirtableEmulator):
    emulator.inject_failure(method="GET", path_contains="/v0/meta/bases", status=429, count=None)
    with pytest.raises(AirtableUnreachableError) as caught:
        check_airtable_token(FULL, api_url=emulator.url)
    assert "limiting requests" in caught.value.message


def test_saved_token_works_against_airtable(emulator: AirtableEmulator, db: Session):
    user = service.register_user(
        session=db, email="ana@example.com", password="violet tractor morning"
    )
    check = check_airtable_token(FULL, api_url=emulator.url)
    save_connection(session=db, user=user, token=FULL, check=check)
    db.commit()

    token = get_valid_token(session=db, user=user)
    assert [base.name for base in emulator_api(emulator, token).bases()] == ["Operations", "CRM"]


def _requests_counted(status: str) -> float:
    return float(AIRTABLE_REQUESTS.labels(method="GET", status=status)._value.get())


def test_the_check_is_counted_like_every_airtable_request(emulator: AirtableEmulator):
    before = _requests_counted("200")
    check_airtable_token(FULL, api_url=emulator.url)
    assert _requests_counted("200") - before == 2  # whoami, then the bases


def test_a_person_waiting_is_told_of_an_airtable_failure_at_once(emulator: AirtableEmulator):
    emulator.reset_stats()
    emulator.inject_failure(method="GET", path_contains="/v0/meta/whoami", status=500, count=1)
    with pytest.raises(AirtableUnreachableError):
        check_airtable_token(FULL, api_url=emulator.url)
    assert emulator.stats()["total"] == 1


@pytest.fixture
def app_airtable(emulator: AirtableEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's settings point at the emulator."""
    monkeypatch.setenv("AIRTABLE_API_URL", emulator.url)
    get_settings.cache_clear()


@pytest.mark.usefixtures("app_airtable")
def test_connect_checks_then_stores_the_token(app_db: Engine, emulator: AirtableEmulator):
    with Session(app_db) as db:
        user = service.register_user(
            session=db, email="ana@example.com", password="violet tractor morning"
        )
        db.commit()
        assert user.id is not None
        user_id = user.id

    connected = connect(user_id=user_id, token=f" {FULL}\n")

    assert connected.token_hint == FULL[-4:]
    assert connected.connected_as == "ana@airtable.example"
    assert [base.id for base in connected.check.bases] == [CRM_ID, OPS_ID]
    with Session(app_db) as db:
        user = db.get(User, user_id)
        assert user is not None
        assert get_valid_token(session=db, user=user) == FULL

    assert disconnect(user_id=user_id)
    assert not disconnect(user_id=user_id)
    with Session(app_db) as db:
        user = db.get(User, user_id)
        assert user is not None and get_connection(session=db, user=user) is None


@pytest.mark.usefixtures("app_airtable")
def test_connect_stores_nothing_when_airtable_refuses(app_db: Engine):
    with Session(app_db) as db:
        user = service.register_user(
            session=db, email="ana@example.com", password="violet tractor morning"
        )
        db.commit()
        user_id = user.id
    assert user_id is not None

    with pytest.raises(MissingScopesError):
        connect(user_id=user_id, token=NO_WRITE)
    with Session(app_db) as db:
        assert db.exec(select(AirtableConnection)).first() is None


def test_connected_as_falls_back_to_the_airtable_user_id():
    check = TokenCheck(user_id="usrAnaAnaAnaAna01", email=None, scopes=(), bases=())
    assert Connected(check=check, token_hint="cdef").connected_as == "usrAnaAnaAnaAna01"
