"""`GET /_files/export/<name>`: only the signed-in owner downloads an export, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session
from starlette.testclient import TestClient

from pyairtable_ui.api.app import build_api
from pyairtable_ui.api.session_cookie import SESSION_COOKIE
from pyairtable_ui.auth import service, sessions
from pyairtable_ui.automations.exports import export_dir
from pyairtable_ui.core import db as db_module
from pyairtable_ui.core.settings import get_settings


@pytest.fixture
def owners(migrated_engine, monkeypatch, tmp_path) -> Iterator[list[tuple[int, str]]]:
    """Two signed-in users (id, session token); exports in the test's own folder."""
    monkeypatch.setattr(db_module, "get_engine", lambda: migrated_engine)
    monkeypatch.setenv("FILES_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("REGISTRATION", "open")  # two accounts, no invitations
    get_settings.cache_clear()
    found = []
    with Session(migrated_engine) as db:
        for email in ("owner@example.com", "other@example.com"):
            user = service.register_user(
                session=db, email=email, password="correct horse battery staple"
            )
            raw, _row = sessions.create_session(session=db, user=user)
            assert user.id is not None
            found.append((user.id, raw))
        db.commit()
    yield found
    get_settings.cache_clear()


def _get(name: str, token: str | None):
    client = TestClient(build_api(), base_url="http://app.test")
    headers = {"cookie": f"{SESSION_COOKIE}={token}"} if token else {}
    return client.get(f"/_files/export/{name}", headers=headers)


def test_the_owner_downloads_the_export_once(owners):
    (owner, token), (_other, other_token) = owners
    folder = export_dir(owner)
    folder.mkdir(parents=True)
    (folder / "abc--Items.csv").write_text("Name\nA\n", encoding="utf-8")

    assert _get("abc--Items.csv", None).status_code == 401
    assert _get("abc--Items.csv", other_token).status_code == 404
    response = _get("abc--Items.csv", token)
    assert response.status_code == 200
    assert response.text == "Name\nA\n"
    assert 'filename="Items.csv"' in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    assert not Path(folder / "abc--Items.csv").exists()
    assert "Export again" in _get("abc--Items.csv", token).text
