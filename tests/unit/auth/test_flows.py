"""Account flows as the pages run them: sign-in limits, registration, emailed links,
password changes. Real database (SQLite and PostgreSQL), no SMTP (links are held for
admins, as in production without a mail server), emails captured as they are sent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import pytest
from sqlmodel import Session, select

from pyairtable_ui.auth import flows, limits, service
from pyairtable_ui.auth.errors import (
    InvalidCredentialsError,
    PermissionDeniedError,
    TokenUsedError,
    WeakPasswordError,
)
from pyairtable_ui.auth.limits import make_login_limiter, make_mail_limiter
from pyairtable_ui.auth.models import AuthToken, User
from pyairtable_ui.auth.sessions import (
    create_session,
    issue_login_ticket,
    revoke_session_token,
)
from pyairtable_ui.core import mail
from pyairtable_ui.core.db import utcnow
from pyairtable_ui.core.settings import get_settings

PASSWORD = "violet tractor morning"
NEW_PASSWORD = "amber kettle harbour"
OFFICE = "198.51.100.20"  # everyone behind one proxy or NAT


@dataclass
class Sent:
    to: str
    subject: str
    text: str


@pytest.fixture(autouse=True)
def fresh_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process limiters of this test only, with the production policies."""
    login = make_login_limiter(redis_url=None)
    mails = make_mail_limiter(redis_url=None)
    password_change = limits.make_attempt_limiter(limits.PASSWORD_CHANGE_POLICY)
    monkeypatch.setattr(flows, "get_login_limiter", lambda: login)
    monkeypatch.setattr(flows, "get_mail_limiter", lambda: mails)
    monkeypatch.setattr(flows, "get_password_change_limiter", lambda: password_change)


@pytest.fixture
def outbox(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    """A mail server is set (SMTP_HOST); every email the app sends is kept here."""
    sent: list[Sent] = []
    monkeypatch.setenv("SMTP_HOST", "smtp.invalid")
    get_settings.cache_clear()

    def record(*, to: str, subject: str, text: str, settings: object = None) -> None:
        sent.append(Sent(to, subject, text))

    monkeypatch.setattr(mail, "send_email", record)
    return sent


def make_user(db: Session, email: str, *, verified: bool = True, admin: bool = False) -> User:
    user = service.register_user(session=db, email=email, password=PASSWORD)
    if verified:
        user.email_verified_at = utcnow()
    user.role = "admin" if admin else "member"
    db.add(user)
    db.commit()
    return user


# --- who is signed in, emailed links ---------------------------------------------------


async def test_the_session_cookie_names_the_signed_in_user(app_db, db: Session):
    user = make_user(db, "ana@example.com", admin=True)
    raw, row = create_session(session=db, user=user)
    db.commit()

    signed_in = await flows.signed_in_user(raw)
    assert signed_in == flows.SignedInUser(
        id=user.id or 0,
        session_id=row.id or 0,
        email="ana@example.com",
        display_name="ana",  # from the email, until the user names themselves
        is_admin=True,
        onboarding_step="connect",
        default_base_id=None,
    )
    assert await flows.signed_in_user(None) is None
    assert await flows.signed_in_user(raw[:-1]) is None
    revoke_session_token(session=db, token=raw)
    db.commit()
    assert await flows.signed_in_user(raw) is None


async def test_a_login_ticket_opens_one_session_which_sign_out_ends(app_db, db: Session):
    user = make_user(db, "ana@example.com")
    ticket = issue_login_ticket(session=db, user=user)
    db.commit()

    raw = await flows.open_session_with_ticket(ticket=ticket, user_agent="Firefox", address=OFFICE)
    assert raw is not None
    signed_in = await flows.signed_in_user(raw)
    assert signed_in is not None and signed_in.id == user.id
    assert await flows.open_session_with_ticket(ticket=ticket, user_agent="", address="") is None

    await flows.sign_out(token=raw)
    assert await flows.signed_in_user(raw) is None


async def test_a_verification_link_works_once(app_db, db: Session):
    user = make_user(db, "ana@example.com", verified=False)
    token = service.start_email_verification(session=db, user=user)
    db.commit()

    await flows.verify_email(token=token)
    db.expire_all()
    assert db.get(User, user.id).email_verified_at is not None  # type: ignore[union-attr]
    with pytest.raises(TokenUsedError):
        await flows.verify_email(token=token)


async def test_a_refused_new_password_leaves_the_reset_link_usable(app_db, db: Session):
    make_user(db, "ana@example.com")
    token = service.request_password_reset(session=db, email="ana@example.com")
    db.commit()
    assert token is not None

    with pytest.raises(WeakPasswordError):
        await flows.reset_password(token=token, new_password="password1")
    await flows.reset_password(token=token, new_password=NEW_PASSWORD)
    with pytest.raises(TokenUsedError):
        await flows.reset_password(token=token, new_password=NEW_PASSWORD)
    db.expire_all()
    assert service.authenticate(session=db, email="ana@example.com", password=NEW_PASSWORD)
    with pytest.raises(InvalidCredentialsError):
        service.authenticate(session=db, email="ana@example.com", password=PASSWORD)


# --- item 3: one address cannot lock sign-in for everyone ------------------------------


async def test_forty_parallel_wrong_guesses_do_not_keep_a_colleague_out(app_db, db: Session):
    make_user(db, "colleague@example.com")
    held: list[float] = []
    all_held = asyncio.Event()
    release = asyncio.Event()

    async def hold_answer(seconds: float) -> None:
        held.append(seconds)
        if len(held) == 31:  # every guess from the 10th on is being answered late
            all_held.set()
        await release.wait()

    guesses = [
        asyncio.create_task(
            flows.sign_in(
                email=f"guess{i}@example.com",
                password="Winter2024!",
                address=OFFICE,
                sleep=hold_answer,
            )
        )
        for i in range(40)
    ]
    async with asyncio.timeout(30):
        await all_held.wait()

    # While those answers are still held back, a colleague behind the same
    # address signs in with the right password, at once.
    started = time.perf_counter()
    result = await flows.sign_in(
        email="colleague@example.com", password=PASSWORD, address=OFFICE, sleep=hold_answer
    )
    assert time.perf_counter() - started < 2
    assert result.ticket is not None and result.error == ""

    release.set()
    answers = await asyncio.gather(*guesses)
    assert {answer.error for answer in answers} == {"Email or password is incorrect."}
    # The guesser was slowed progressively (1 s, 2 s, 4 s, then 5 s per wrong guess).
    assert sorted(held)[:3] == [1, 2, 4]
    assert max(held) == 5 and len(held) == 31


async def test_the_per_account_lock_still_refuses_the_right_password(app_db, db: Session):
    make_user(db, "ana@example.com")
    for _ in range(5):
        wrong = await flows.sign_in(
            email="ana@example.com", password="not it at all", address=OFFICE
        )
        assert wrong.error == "Email or password is incorrect." or "Too many" in wrong.error
    locked = await flows.sign_in(email="ana@example.com", password=PASSWORD, address="192.0.2.1")
    assert locked.ticket is None
    assert locked.error == "Too many attempts. Try again in 30 seconds."


# --- item 8a: emails and registrations are throttled --------------------------------------


async def test_twenty_reset_requests_send_three_emails(app_db, db: Session, outbox: list[Sent]):
    make_user(db, "ana@example.com")
    for _ in range(20):
        await flows.request_password_reset(email="Ana@Example.com ", address=OFFICE)
    resets = [m for m in outbox if "Reset your" in m.subject]
    assert len(resets) == 3
    assert {m.to for m in resets} == {"ana@example.com"}


async def test_verification_links_are_throttled_per_address_mailed(app_db, outbox: list[Sent]):
    registered = await flows.register(
        email="new@example.com", password=PASSWORD, name="New", address=OFFICE
    )
    assert registered.done_message
    for _ in range(10):
        await flows.resend_verification(email="new@example.com", address=OFFICE)
    assert sum("Confirm your email" in m.subject for m in outbox) == 3


def test_one_client_address_is_limited_across_many_addresses_mailed():
    limiter = make_mail_limiter(redis_url=None)
    budget = limits.MAIL_PER_ADDRESS_POLICY.allowed
    allowed = [
        limiter.allow_mail(email=f"user{i}@example.com", address=OFFICE) for i in range(budget + 10)
    ]
    assert allowed == [True] * budget + [False] * 10
    # Another client address is not affected.
    assert limiter.allow_mail(email="user0@example.com", address="192.0.2.1")


async def test_registrations_from_one_address_are_limited(app_db, outbox: list[Sent]):
    limiter = make_mail_limiter(redis_url=None)
    for _ in range(limits.REGISTER_PER_ADDRESS_POLICY.allowed):
        assert limiter.allow_registration(address=OFFICE) is None
    refused = await flows.register(
        email="late@example.com", password=PASSWORD, name="", address=OFFICE, limiter=limiter
    )
    assert refused.done_message == ""
    assert refused.error == (
        "Too many accounts were created from your network. Try again in 60 minutes."
    )
    assert outbox == []


# --- item 8b: registration does not reveal existing accounts ------------------------------


async def test_registering_a_taken_email_answers_as_for_a_new_one_and_tells_the_owner(
    app_db, db: Session, outbox: list[Sent]
):
    make_user(db, "ana@example.com")
    taken = await flows.register(
        email="ana@example.com", password="some other passphrase 9", name="", address=OFFICE
    )
    new = await flows.register(
        email="ben@example.com", password="some other passphrase 9", name="", address=OFFICE
    )
    assert taken.email_error == "" and taken.error == ""
    assert taken.done_message == new.done_message.replace("ben@", "ana@")
    assert taken.done_message.startswith("Check your email")

    [notice] = [m for m in outbox if m.to == "ana@example.com"]
    assert notice.subject == "Someone tried to register with your PyAirtable UI address"
    assert "/auth/login" in notice.text and "/auth/reset" in notice.text
    [verification] = [m for m in outbox if m.to == "ben@example.com"]
    assert "Confirm your email" in verification.subject


# --- item 8c: guessable passwords are refused everywhere ---------------------------------


async def test_password1_is_refused_with_feedback_at_registration(app_db, outbox: list[Sent]):
    result = await flows.register(
        email="ana@example.com", password="Password1!", name="Ana", address=OFFICE
    )
    assert result.done_message == ""
    assert "This password is too easy to guess." in result.password_error
    assert "similar to a commonly used password" in result.password_error
    assert outbox == []


async def test_a_guessable_new_password_is_refused_when_changing_it(app_db, db: Session):
    user = make_user(db, "ana@example.com")
    _raw, row = create_session(session=db, user=user)
    db.commit()
    result = await flows.change_password(
        user_id=user.id or 0,
        session_id=row.id or 0,
        current_password=PASSWORD,
        new_password="Password1!",
    )
    assert not result.changed
    assert "too easy to guess" in result.new_error


# --- item 8d: wrong current passwords are limited per user --------------------------------


async def test_wrong_current_passwords_pause_password_changes(app_db, db: Session):
    user = make_user(db, "ana@example.com")
    _raw, row = create_session(session=db, user=user)
    db.commit()

    async def change(current: str) -> flows.PasswordChangeResult:
        return await flows.change_password(
            user_id=user.id or 0,
            session_id=row.id or 0,
            current_password=current,
            new_password=NEW_PASSWORD,
        )

    for attempt in range(4):
        wrong = await change(f"guess number {attempt}")
        assert wrong.current_error == "Your current password is not correct."
    fifth = await change("guess number 5")
    assert fifth.current_error.startswith("Too many wrong current passwords.")
    # Even the right password is refused for a while, and nothing changed.
    paused = await change(PASSWORD)
    assert not paused.changed
    assert "paused for 15 minutes" in paused.current_error
    db.expire_all()
    assert service.authenticate(session=db, email="ana@example.com", password=PASSWORD)


# --- item 8f: live links stay out of the log and wait for admins -------------------------


async def test_without_smtp_links_wait_for_admins_and_stay_out_of_the_log(
    app_db, db: Session, caplog: pytest.LogCaptureFixture
):
    admin = make_user(db, "admin@example.com", admin=True)
    member = make_user(db, "member@example.com")
    with caplog.at_level(logging.DEBUG):
        await flows.request_password_reset(email="member@example.com", address=OFFICE)
        await flows.register(email="new@example.com", password=PASSWORD, name="", address=OFFICE)

    db.expire_all()
    pending = service.list_pending_links(session=db, actor=admin)
    assert [(p.email, p.purpose) for p in pending] == [
        ("new@example.com", "verify_email"),
        ("member@example.com", "reset_password"),
    ]
    for link in pending:
        token = link.link.partition("token=")[2]
        assert len(token) > 20
        assert token not in caplog.text
    assert "waits for an admin on /admin" in caplog.text
    with pytest.raises(PermissionDeniedError):
        service.list_pending_links(session=db, actor=member)

    # A used link leaves the list.
    service.reset_password(
        session=db, token=pending[1].link.partition("token=")[2], new_password=NEW_PASSWORD
    )
    db.commit()
    assert [p.email for p in service.list_pending_links(session=db, actor=admin)] == [
        "new@example.com"
    ]


# --- issue 12: a first run without a mail server --------------------------------------


async def test_without_smtp_the_first_account_is_verified_at_once_and_later_ones_wait(
    app_db, db: Session, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.DEBUG):
        first = await flows.register(
            email="owner@example.com", password=PASSWORD, name="", address=OFFICE
        )
        second = await flows.register(
            email="ana@example.com", password=PASSWORD, name="", address=OFFICE
        )

    assert first.done_message == flows.FIRST_ACCOUNT_MESSAGE
    assert "sign in now" in first.done_message
    db.expire_all()
    owner = service.get_user_by_email(session=db, email="owner@example.com")
    ana = service.get_user_by_email(session=db, email="ana@example.com")
    assert owner is not None and owner.is_admin and owner.email_verified_at is not None
    assert ana is not None and not ana.is_admin and ana.email_verified_at is None
    # Nobody may claim an email went out; the admin passes the link on.
    assert "sent" not in second.done_message.lower()
    assert "your admin will pass the verification link on" in second.done_message
    [pending] = service.list_pending_links(session=db, actor=owner)
    assert pending.email == "ana@example.com"  # and no link for the owner
    token = pending.link.partition("token=")[2]
    assert token not in caplog.text
    assert "Confirm your email" in caplog.text  # the log says a link was issued, for whom

    # Signing in before the link is opened says who has it.
    refused = await flows.sign_in(email="ana@example.com", password=PASSWORD, address=OFFICE)
    assert refused.unverified
    assert refused.error == flows.UNVERIFIED_NO_MAIL_MESSAGE

    # Opening the link verifies the account and takes it off the admin's list, for good.
    await flows.verify_email(token=token)
    db.expire_all()
    assert service.list_pending_links(session=db, actor=owner) == []
    row = db.exec(select(AuthToken).where(AuthToken.user_id == ana.id)).one()
    assert row.used_at is not None and row.encrypted_link is None


async def test_with_smtp_the_first_account_verifies_by_email_like_everyone(
    app_db, db: Session, outbox: list[Sent]
):
    result = await flows.register(
        email="owner@example.com", password=PASSWORD, name="", address=OFFICE
    )

    assert result.done_message.startswith("Check your email")
    db.expire_all()
    owner = service.get_user_by_email(session=db, email="owner@example.com")
    assert owner is not None and owner.is_admin and owner.email_verified_at is None
    [verification] = outbox
    assert "Confirm your email" in verification.subject
    assert service.list_pending_links(session=db, actor=owner) == []


def test_the_pages_messages_never_claim_an_email_without_a_mail_server(monkeypatch):
    without = [
        flows.registered_message("ana@example.com"),
        flows.reset_requested_message(),
        flows.resent_message(),
        flows.unverified_message(),
    ]
    monkeypatch.setenv("SMTP_HOST", "smtp.invalid")
    get_settings.cache_clear()
    with_mail = [
        flows.registered_message("ana@example.com"),
        flows.reset_requested_message(),
        flows.resent_message(),
        flows.unverified_message(),
    ]

    assert all("sent" not in text and "on its way" not in text for text in without)
    assert all("admin" in text for text in without)
    assert all("sent" in text or "on its way" in text for text in with_mail)


async def test_a_development_instance_keeps_links_out_of_the_log_too(
    app_db, db: Session, caplog: pytest.LogCaptureFixture, monkeypatch
):
    monkeypatch.setenv("APP_ENV", "development")
    get_settings.cache_clear()
    admin = make_user(db, "admin@example.com", admin=True)
    make_user(db, "member@example.com")
    with caplog.at_level(logging.DEBUG):
        await flows.request_password_reset(email="member@example.com", address=OFFICE)

    db.expire_all()
    [pending] = service.list_pending_links(session=db, actor=admin)
    assert pending.link not in caplog.text
    assert pending.link.partition("token=")[2] not in caplog.text
    assert "EMAIL not sent (SMTP not configured) to=member@example.com" in caplog.text
