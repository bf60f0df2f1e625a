"""Daily Airtable request counts per user and base: counted in memory, saved in batches."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from pyairtable_ui.airtable import usage
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.limiter import InProcessRequestPacer
from pyairtable_ui.airtable.models import AirtableUsage
from pyairtable_ui.auth.models import User
from pyairtable_ui.emulator.seeds import BASE_CRM_ID, TOKEN_FULL
from tests.unit.airtable.conftest import FAST_RETRIES


def _user(engine: Engine) -> int:
    with Session(engine) as db:
        user = User(email="ana@example.com", password_hash="x")
        db.add(user)
        db.commit()
        assert user.id is not None
        return user.id


def _saved(engine: Engine) -> list[tuple[str, int, str, int, int]]:
    with Session(engine) as db:
        rows = db.exec(select(AirtableUsage).order_by(sa.text("day, base_id"))).all()
        return [(r.day, r.user_id, r.base_id, r.requests, r.rate_limited) for r in rows]


def test_counts_wait_in_memory_and_are_added_to_the_day_row(app_database: Engine):
    user_id = _user(app_database)
    usage.flush()  # nothing left from another test
    day = datetime(2026, 12, 4, 23, 59, tzinfo=UTC)
    for status in (200, 429, 200):
        usage.count(user_id, "appA", status, now=day)
    usage.count(user_id, "meta", 200, now=day.replace(hour=1))

    assert _saved(app_database) == []  # not a write per request
    assert usage.flush() == 2
    assert _saved(app_database) == [
        ("2026-12-04", user_id, "appA", 3, 1),
        ("2026-12-04", user_id, "meta", 1, 0),
    ]

    usage.count(user_id, "appA", 200, now=day)
    usage.count(user_id, "appA", 200, now=datetime(2026, 12, 5, 0, 1, tzinfo=UTC))
    assert usage.flush() == 2
    assert ("2026-12-04", user_id, "appA", 4, 1) in _saved(app_database)
    assert ("2026-12-05", user_id, "appA", 1, 0) in _saved(app_database)
    assert usage.flush() == 0


def test_a_failed_save_drops_the_batch_and_breaks_nothing(app_database: Engine):
    usage.flush()
    usage.count(987654, "appA", 200)  # no such user: the foreign key refuses the row
    assert usage.flush() == 0
    assert _saved(app_database) == []


def test_the_client_counts_each_request_of_its_user(
    app_database: Engine, airtable_emulator_factory
):
    user_id = _user(app_database)
    usage.flush()
    emulator = airtable_emulator_factory(rate_limit=5, penalty_seconds=0.1)
    client = AirtableClient(
        TOKEN_FULL,
        api_url=emulator.url,
        limiter=InProcessRequestPacer(1000),  # above Airtable's limit: some 429s
        retry_policy=FAST_RETRIES,
        user_id=user_id,
    )
    for _ in range(12):
        client.request("GET", BASE_CRM_ID, "Deals", params={"pageSize": 1})
    usage.flush()

    statuses = emulator.stats()["by_status"]
    [(_, saved_user, base, requests, rate_limited)] = _saved(app_database)
    assert (saved_user, base) == (user_id, BASE_CRM_ID)
    assert requests == client.calls == 12 + statuses["429"]
    assert rate_limited == statuses["429"] >= 1
