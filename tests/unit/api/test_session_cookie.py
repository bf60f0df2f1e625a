"""`POST /_auth/logout` signs the browser out even when the database cannot record it."""

from __future__ import annotations

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from pyairtable_ui.api.app import build_api
from pyairtable_ui.api.session_cookie import SESSION_COOKIE
from pyairtable_ui.auth import service, sessions
from pyairtable_ui.core import db as db_module
from tests.support.locks import write_lock_held


@pytest.fixture
def signed_in_token(migrated_engine, monkeypatch) -> str:
    monkeypatch.setattr(db_module, "get_engine", lambda: migrated_engine)
    with Session(migrated_engine) as db:
        user = service.register_user(
            session=db, email="someone@example.com", password="correct horse battery staple"
        )
        raw, _row = sessions.create_session(session=db, user=user)
        db.commit()
    return raw


def _logout(token: str):
    client = TestClient(build_api(), base_url="http://app.test")
    return client.post("/_auth/logout", headers={"cookie": f"{SESSION_COOKIE}={token}"})


def test_sign_out_revokes_the_session_and_clears_the_cookie(migrated_engine, signed_in_token):
    response = _logout(signed_in_token)
    assert response.status_code == 204
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    with Session(migrated_engine) as db:
        assert sessions.get_session_by_token(session=db, token=signed_in_token) is None


def test_sign_out_clears_the_cookie_while_the_database_is_locked(migrated_engine, signed_in_token):
    if migrated_engine.dialect.name != "sqlite":
        pytest.skip("the held lock blocks every SQLite write; on PostgreSQL only one table")
    with write_lock_held(migrated_engine.url.render_as_string(hide_password=False)):
        response = _logout(signed_in_token)
    assert response.status_code == 503
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"]
    assert "max-age=0" in response.headers["set-cookie"].lower()
