"""Outgoing email: through a real local SMTP server (aiosmtpd), and into the log."""

from __future__ import annotations

import email
import logging
import socket
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pyairtable_ui.core.mail import (
    EmailDeliveryError,
    reset_email,
    send_email,
    verification_email,
)
from pyairtable_ui.core.settings import Settings

LINK = "http://localhost:8000/auth/verify?token=abc123-XYZ_789"
SMTP_PASSWORD = "smtp-pass-do-not-log"


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        # handled=False: aiosmtpd itself answers "535 Authentication failed".
        return AuthResult(success=auth_data.password == SMTP_PASSWORD.encode(), handled=False)


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_require_tls=False,  # loopback test server without a certificate
    )
    controller.start()
    yield inbox, port
    controller.stop()


def smtp_settings(port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "smtp_from": "PyAirtable UI <no-reply@pyairtable.test>",
    }
    values.update(overrides)
    return Settings(**values)


def test_verification_link_arrives_over_smtp(smtp_server: tuple[Inbox, int]):
    inbox, port = smtp_server
    subject, text = verification_email(LINK)
    send_email(to="ana@example.com", subject=subject, text=text, settings=smtp_settings(port))

    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "ana@example.com"
    assert message["From"] == "PyAirtable UI <no-reply@pyairtable.test>"
    assert message["Subject"] == "Confirm your email address for PyAirtable UI"
    assert message["Message-ID"].endswith("@pyairtable.test>")
    assert LINK in body_of(message)
    assert inbox.envelopes[0].rcpt_tos == ["ana@example.com"]


def test_smtp_login_is_used_when_a_username_is_set(
    smtp_server: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
):
    inbox, port = smtp_server
    settings = smtp_settings(port, smtp_username="mailer", smtp_password=SMTP_PASSWORD)
    subject, text = reset_email("http://localhost:8000/auth/reset?token=r3set")
    with caplog.at_level(logging.DEBUG, logger="pyairtable_ui.core.mail"):
        send_email(to="ana@example.com", subject=subject, text=text, settings=settings)
    assert inbox.logins == [(b"mailer", SMTP_PASSWORD.encode())]
    assert "auth/reset?token=r3set" in body_of(inbox.messages[0])
    assert SMTP_PASSWORD not in caplog.text


def test_refused_login_is_a_readable_error_without_the_password(
    smtp_server: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
):
    inbox, port = smtp_server
    settings = smtp_settings(port, smtp_username="mailer", smtp_password="wrong-smtp-password")
    with (
        caplog.at_level(logging.ERROR, logger="pyairtable_ui.core.mail"),
        pytest.raises(EmailDeliveryError) as caught,
    ):
        send_email(to="ana@example.com", subject="Hi", text="Hello", settings=settings)
    assert "could not send the email" in caught.value.message
    assert inbox.messages == []
    assert "SMTPAuthenticationError" in caplog.text
    assert "wrong-smtp-password" not in caplog.text


def test_starttls_required_but_not_offered_fails_clearly(smtp_server: tuple[Inbox, int]):
    _inbox, port = smtp_server
    with pytest.raises(EmailDeliveryError):
        send_email(
            to="ana@example.com",
            subject="Hi",
            text="Hello",
            settings=smtp_settings(port, smtp_starttls=True),
        )


def test_unreachable_server_fails_clearly():
    with pytest.raises(EmailDeliveryError):
        send_email(
            to="ana@example.com", subject="Hi", text="Hello", settings=smtp_settings(free_port())
        )


@pytest.mark.parametrize("app_env", ["development", "production"])
def test_without_smtp_the_log_says_who_a_link_was_for_never_the_link(
    caplog: pytest.LogCaptureFixture, app_env: str
):
    # Development no longer prints the email either: links wait on /admin in every mode.
    subject, text = reset_email(LINK)
    settings = Settings(app_env=app_env, secret_key="p" * 48)
    with caplog.at_level(logging.DEBUG):
        send_email(to="ana@example.com", subject=subject, text=text, settings=settings)
    assert "abc123-XYZ_789" not in caplog.text
    assert LINK not in caplog.text
    assert (
        "EMAIL not sent (SMTP not configured) to=ana@example.com "
        "subject=Reset your PyAirtable UI password"
    ) in caplog.text
    assert "waits for an admin on /admin" in caplog.text
