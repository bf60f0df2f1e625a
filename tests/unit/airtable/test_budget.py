"""The monthly Airtable request budget: refused at the client once used up, per month."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from pyairtable_ui.airtable import budget, usage
from pyairtable_ui.airtable.budget import AirtableBudgetError
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.limiter import InProcessRequestPacer
from pyairtable_ui.auth.models import Role, User
from pyairtable_ui.core.instance_settings import AIRTABLE_BUDGET_KEY, write_setting
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, TOKEN_FULL
from tests.unit.airtable.conftest import FAST_RETRIES


@pytest.fixture
def fresh_budget(app_database: Engine) -> Iterator[Engine]:
    usage.flush()
    budget.forget()
    yield app_database
    budget.forget()


def _admin(engine: Engine) -> int:
    with Session(engine) as db:
        user = User(email="admin@example.com", password_hash="x", role=Role.ADMIN.value)
        db.add(user)
        db.commit()
        assert user.id is not None
        return user.id


def _set_budget(engine: Engine, requests: int | None) -> None:
    with Session(engine) as db:
        write_setting(db, AIRTABLE_BUDGET_KEY, {"plan": "custom", "requests": requests}, by=None)
        db.commit()
    budget.forget()


def _client(url: str, user_id: int | None) -> AirtableClient:
    return AirtableClient(
        TOKEN_FULL,
        api_url=url,
        limiter=InProcessRequestPacer(1000),
        retry_policy=FAST_RETRIES,
        user_id=user_id,
    )


def test_requests_stop_at_the_budget_with_a_clear_message(
    fresh_budget: Engine, airtable_emulator_factory
):
    user_id = _admin(fresh_budget)
    _set_budget(fresh_budget, 3)
    emulator = airtable_emulator_factory()
    client = _client(emulator.url, user_id)
    for _ in range(3):
        client.request("GET", BASE_CRM_ID, "Deals", params={"pageSize": 1})

    with pytest.raises(AirtableBudgetError) as refused:
        client.request("GET", BASE_CRM_ID, "Deals", params={"pageSize": 1})
    assert "used its Airtable budget" in refused.value.message
    assert "3 of 3 requests" in refused.value.message
    assert "admin raises the budget" in refused.value.message
    assert emulator.stats()["total"] == 3  # the fourth never left

    # The token check while connecting (no user yet) still works, so an admin can act.
    _client(emulator.url, None).request("GET", "meta", "whoami")

    _set_budget(fresh_budget, 100)  # an admin raises it
    client.request("GET", BASE_CRM_ID, "Deals", params={"pageSize": 1})


def test_no_budget_refuses_nothing_and_a_new_month_starts_from_zero(
    fresh_budget: Engine, airtable_emulator_factory
):
    user_id = _admin(fresh_budget)
    emulator = airtable_emulator_factory()
    client = _client(emulator.url, user_id)
    for _ in range(3):
        client.request("GET", BASE_CRM_ID, "Deals", params={"pageSize": 1})
    usage.flush()
    _set_budget(fresh_budget, 3)
    assert budget.read_status().exhausted
    next_month = datetime.now(UTC).replace(day=28).toordinal() + 5
    assert not budget.read_status(datetime.fromordinal(next_month).replace(tzinfo=UTC)).exhausted


def test_admins_are_emailed_once_a_month_at_eighty_percent(
    fresh_budget: Engine, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    get_settings.cache_clear()
    sent: list[tuple[list[str], str]] = []
    monkeypatch.setattr(
        budget, "_send_all", lambda admins, text: sent.append((admins, text.subject))
    )
    user_id = _admin(fresh_budget)
    _set_budget(fresh_budget, 10)
    for _ in range(7):
        usage.count(user_id, BASE_CRM_ID, 200)
    assert not budget.current_status().warning and sent == []

    usage.count(user_id, BASE_CRM_ID, 200)
    budget.forget()
    assert budget.current_status().warning
    budget.forget()
    budget.current_status()  # read again: still 80%, but this month's email went already
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sent == [(["admin@example.com"], sent[0][1])] and "80%" in sent[0][1]
    get_settings.cache_clear()
