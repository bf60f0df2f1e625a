"""Signing out leaves nothing of the user in the tab: every websocket frame the page
receives afterwards (and on pages opened again) is free of their data."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, WebSocket, expect
from sqlmodel import Session

import pyairtable_ui.models  # noqa: F401  (every table, so foreign keys resolve)
from pyairtable_ui.chat import service as chat_service
from pyairtable_ui.chat.models import MessageRole
from pyairtable_ui.core.db import make_engine
from tests.integration.accounts import new_account, onboard, register
from tests.support.seeds import app_tokens

READY = 30_000


@dataclass
class FrameLog:
    """Every websocket frame a page receives while `recording` is on."""

    frames: list[str] = field(default_factory=list)
    recording: bool = False

    def attach(self, page: Page) -> FrameLog:
        def on_socket(socket: WebSocket) -> None:
            socket.on("framereceived", self._received)

        page.on("websocket", on_socket)
        return self

    def _received(self, payload: str | bytes) -> None:
        if self.recording:
            self.frames.append(
                payload if isinstance(payload, str) else payload.decode(errors="replace")
            )

    def start(self) -> None:
        self.frames.clear()
        self.recording = True

    def leaks(self, *secrets_: str) -> list[str]:
        """The frames that contain any of `secrets_` (shortened, for the failure message)."""
        return [frame[:300] for frame in self.frames if any(s in frame for s in secrets_)]


@pytest.fixture
def engine(app_database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(app_database_url)
    yield engine
    engine.dispose()


def _user_id(engine: sa.Engine, email: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT id FROM users WHERE email = :email"), {"email": email}
            ).scalar_one()
        )


def _add_conversation(engine: sa.Engine, email: str, title: str, text: str) -> int:
    with Session(engine) as db:
        user_id = _user_id(engine, email)
        conversation = chat_service.create_conversation(session=db, user_id=user_id, title=title)
        assert conversation.id is not None
        for role, content in (
            (MessageRole.USER, f"What is {text}?"),
            (MessageRole.ASSISTANT, text),
        ):
            chat_service.add_message(
                session=db,
                conversation_id=conversation.id,
                user_id=user_id,
                role=role,
                content=content,
            )
        db.commit()
        return conversation.id


def _token(page: Page) -> str:
    return str(page.evaluate("window.sessionStorage.getItem('token')"))


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url("**/auth/login**")
    expect(page.get_by_label("Email")).to_be_visible(timeout=READY)


def _visit_signed_out(page: Page, base_url: str, path: str) -> None:
    page.goto(f"{base_url}{path}")
    page.wait_for_url("**/auth/login**", timeout=READY)
    expect(page.get_by_label("Email")).to_be_visible(timeout=READY)


def test_a_signed_out_tab_receives_none_of_the_users_conversations(
    app_server, mailbox, page, app_airtable, engine, unique_email
) -> None:
    tokens = app_tokens(app_airtable)
    log = FrameLog().attach(page)
    new_account(page, app_server.url, mailbox, unique_email)
    onboard(page, tokens.full, tokens.base_name)
    marker = secrets.token_hex(4)
    title = f"Salary review {marker}"
    answer = f"the launch code is {marker}-7731"
    conversation_id = _add_conversation(engine, unique_email, title, answer)

    page.goto(f"{app_server.url}/chat?c={conversation_id}")
    expect(page.get_by_text(answer, exact=True)).to_be_visible(timeout=READY)
    # A second tab of the same browser: its own client token, the same cookie.
    other_tab = page.context.new_page()
    other_log = FrameLog().attach(other_tab)
    other_tab.goto(f"{app_server.url}/chat?c={conversation_id}")
    expect(other_tab.get_by_text(answer, exact=True)).to_be_visible(timeout=READY)
    token_before = _token(page)

    log.start()
    _sign_out(page)
    _visit_signed_out(page, app_server.url, f"/chat?c={conversation_id}")
    _visit_signed_out(page, app_server.url, "/history")
    # The other tab still held the conversation; its next page load must not resend it.
    other_log.start()
    other_tab.reload()
    other_tab.wait_for_url("**/auth/login**", timeout=READY)
    expect(other_tab.get_by_label("Email")).to_be_visible(timeout=READY)

    assert any("auth_state" in frame for frame in log.frames), "no state frames were captured"
    assert any("auth_state" in frame for frame in other_log.frames)
    private = (unique_email, title, answer, marker)
    assert log.leaks(*private) == []
    assert other_log.leaks(*private) == []
    assert _token(page) != token_before, "the tab kept its Reflex client token"


def test_a_signed_out_admin_tab_receives_no_users(
    app_server, mailbox, page, browser, engine, unique_email
) -> None:
    admin_email = "admin-" + unique_email
    member_email = "member-" + unique_email
    log = FrameLog().attach(page)
    new_account(page, app_server.url, mailbox, admin_email)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE users SET role = 'admin' WHERE email = :email"), {"email": admin_email}
        )
    member = browser.new_context()
    register(member.new_page(), app_server.url, member_email)
    member.close()

    page.goto(f"{app_server.url}/admin")
    expect(page.get_by_role("cell", name=member_email)).to_be_visible(timeout=READY)

    log.start()
    _sign_out(page)
    _visit_signed_out(page, app_server.url, "/admin")
    _visit_signed_out(page, app_server.url, "/chat")

    assert any("auth_state" in frame for frame in log.frames), "no state frames were captured"
    assert log.leaks(admin_email, member_email) == []
