"""A create batch cut off by a crash: was it applied? Matched by values, not by creation time.

Issue 9 item 2: another create into the same table shortly before the crash made
every check "unknown" for good, so neither resume nor roll back could finish.
"""

from __future__ import annotations

from typing import Any

import pytest

from pyairtable_ui.actions.execution import (
    execute_action,
    resume_action,
    rollback_action,
)
from pyairtable_ui.actions.models import ActionStatus, StepStatus
from pyairtable_ui.actions.recovery import undecided_batch
from pyairtable_ui.actions.steps import match_created
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_ITEMS_ID, TOKEN_FULL
from tests.fakes.airtable_fixtures import emulator_api
from tests.unit.actions.helpers import (
    SimulatedCrash,
    load,
    records_plan,
    steps_of,
    table_records,
    writes,
)
from tests.unit.actions.test_recovery import approved, crash_at, restart

# --- the matching rule -----------------------------------------------------------------------


def sent(*names: str) -> list[dict[str, Any]]:
    return [{"fields": {"Name": n}} for n in names]


def created(record_id: str, name: str, when: str = "2026-12-01T10:00:00.000Z") -> dict[str, Any]:
    return {"id": record_id, "createdTime": when, "fields": {"Name": name}}


def test_nothing_created_since_means_not_applied() -> None:
    assert match_created(sent("A", "B"), []).status == "not_applied"


def test_every_record_found_by_its_values_means_applied() -> None:
    verdict = match_created(
        sent("A", "B"),
        [created("rec1", "Other"), created("rec2", "B"), created("rec3", "A")],
    )
    assert verdict.status == "applied"
    assert verdict.record_ids == ["rec3", "rec2"]


def test_records_of_someone_else_created_meanwhile_mean_not_applied() -> None:
    # Ten records of another action a few seconds earlier: none has the batch's values.
    others = [created(f"rec{n}", f"Other {n}") for n in range(10)]
    verdict = match_created(sent("A", "B", "C"), others)
    assert verdict.status == "not_applied"


def test_some_matching_records_leave_it_undecided_with_the_candidates() -> None:
    verdict = match_created(
        sent("A", "B", "C"), [created("rec1", "A"), created("rec2", "Other", "2026-12-01T11:00Z")]
    )
    assert verdict.status == "unknown"
    assert [(c["id"], c["likely"]) for c in verdict.candidates] == [
        ("rec1", True),
        ("rec2", False),
    ]
    assert "1 of its 3 records" in verdict.reason


def test_a_group_the_batch_size_created_together_may_be_the_batch_edited_since() -> None:
    group = [created(f"rec{n}", f"Edited {n}", "2026-12-01T10:00:05.000Z") for n in range(3)]
    verdict = match_created(sent("A", "B", "C"), [*group, created("rec9", "Other")])
    assert verdict.status == "unknown"
    assert [c["id"] for c in verdict.candidates if c["likely"]] == ["rec0", "rec1", "rec2"]


# --- the reported scenario: a 200-record create, another create just before the crash ----


def new_rows(prefix: str, count: int) -> dict[str, Any]:
    return records_plan(
        "create",
        [{"op": "create", "fields": {"Name": f"{prefix} {n}", "Index": n}} for n in range(count)],
    )


def names(emulator) -> list[str]:
    return [str(f.get("Name")) for f in table_records(emulator, TABLE_ITEMS_ID).values()]


@pytest.fixture
def crashed_bulk_create(items_emulator, make_client, migrated_engine, session_factory, user_id):
    """Another action creates 10 rows with the same values as batch 5 of ours; then our
    200-record create is killed as batch 5 is about to be sent; the server restarts."""
    client = make_client(items_emulator)
    other = approved(session_factory, user_id, client, new_rows("Bulk", 50))
    # The other action's rows are Bulk 0..49 as well: values alone cannot tell them apart.
    assert (
        execute_action(
            session_factory=session_factory, user_id=user_id, action_id=other, client=client
        ).status
        == ActionStatus.DONE
    )
    ours = approved(session_factory, user_id, client, new_rows("Bulk", 200))
    with pytest.raises(SimulatedCrash):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=ours,
            client=client,
            step_hook=crash_at("apply", 5, "before_request"),
        )
    factory, marked = restart(migrated_engine)
    assert marked == [ours]
    assert names(items_emulator).count("Bulk 40") == 1  # the other action's only
    return factory, ours, client


def test_resume_after_the_crash_ends_with_exactly_200_records(
    crashed_bulk_create, items_emulator, user_id
) -> None:
    factory, action_id, client = crashed_bulk_create
    posts_before = len(writes(items_emulator, "POST"))

    action = resume_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )

    assert action.status == ActionStatus.DONE, action.error
    rows = names(items_emulator)
    assert sum(1 for n in rows if n.startswith("Bulk ")) == 250  # 200 ours + 50 the other's
    assert all(rows.count(f"Bulk {n}") == 2 for n in range(50))
    assert len(writes(items_emulator, "POST")) - posts_before == 16  # batches 5-20, once each


def test_roll_back_after_the_crash_ends_with_none_of_its_records(
    crashed_bulk_create, items_emulator, user_id
) -> None:
    factory, action_id, client = crashed_bulk_create

    action = rollback_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )

    assert action.status == ActionStatus.ROLLED_BACK, action.error
    rows = names(items_emulator)
    assert sorted(n for n in rows if n.startswith("Bulk ")) == sorted(
        f"Bulk {n}" for n in range(50)
    )


def test_a_batch_applied_just_before_the_crash_is_found_and_not_sent_again(
    items_emulator, make_client, migrated_engine, session_factory, user_id
) -> None:
    client = make_client(items_emulator)
    other = approved(session_factory, user_id, client, new_rows("Bulk", 30))
    execute_action(session_factory=session_factory, user_id=user_id, action_id=other, client=client)
    ours = approved(session_factory, user_id, client, new_rows("Bulk", 60))
    with pytest.raises(SimulatedCrash):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=ours,
            client=client,
            step_hook=crash_at("apply", 3, "after_response"),
        )
    factory, _ = restart(migrated_engine)

    action = resume_action(session_factory=factory, user_id=user_id, action_id=ours, client=client)

    assert action.status == ActionStatus.DONE, action.error
    rows = names(items_emulator)
    assert sum(1 for n in rows if n.startswith("Bulk ")) == 90
    step = steps_of(factory, user_id, ours)[2]
    assert "Found applied" in (step.error or "")
    # Its own records, not the other action's rows with the same values.
    other_ids = {i for s in steps_of(factory, user_id, other) for i in s.record_ids}
    assert len(step.record_ids) == 10 and not other_ids & set(step.record_ids)


# --- truly undecided: the user sees the candidates and chooses -------------------------------


@pytest.fixture
def undecided(items_emulator, make_client, migrated_engine, session_factory, user_id):
    """Batch 2 of 20 was never sent, but 3 of its rows appeared meanwhile (typed by hand)."""
    client = make_client(items_emulator)
    action_id = approved(session_factory, user_id, client, new_rows("Hand", 20))
    with pytest.raises(SimulatedCrash):
        execute_action(
            session_factory=session_factory,
            user_id=user_id,
            action_id=action_id,
            client=client,
            step_hook=crash_at("apply", 2, "before_request"),
        )
    table = emulator_api(items_emulator, TOKEN_FULL).table(BASE_PROJECTS_ID, TABLE_ITEMS_ID)
    table.batch_create([{"Name": f"Hand {n}", "Index": n} for n in (10, 11, 12)])
    factory, _ = restart(migrated_engine)
    first = resume_action(
        session_factory=factory, user_id=user_id, action_id=action_id, client=client
    )
    assert first.status == ActionStatus.FAILED
    assert "Batch 2 of 2 may already have been applied" in (first.error or "")
    with factory() as session:
        question = undecided_batch(session=session, user_id=user_id, action_id=action_id)
    assert question is not None
    assert question.seq == 2 and len(question.sent) == 10
    assert [c["values"] for c in question.candidates if c["likely"]] == [
        "Name: Hand 10, Index: 10",
        "Name: Hand 11, Index: 11",
        "Name: Hand 12, Index: 12",
    ]
    return factory, action_id, client, question.step_id


def test_another_user_never_sees_the_question(undecided, other_user_id) -> None:
    from pyairtable_ui.actions.base import ActionNotFoundError

    factory, action_id, _, _ = undecided
    with factory() as session, pytest.raises(ActionNotFoundError):
        undecided_batch(session=session, user_id=other_user_id, action_id=action_id)


def test_send_it_again_finishes_the_action(undecided, items_emulator, user_id) -> None:
    factory, action_id, client, step_id = undecided

    action = resume_action(
        session_factory=factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        decisions={step_id: "not_applied"},
    )

    assert action.status == ActionStatus.DONE, action.error
    rows = names(items_emulator)
    assert sum(1 for n in rows if n.startswith("Hand ")) == 23  # 20 sent + 3 typed by hand
    with factory() as session:
        assert undecided_batch(session=session, user_id=user_id, action_id=action_id) is None


def test_it_was_applied_takes_the_matching_records_as_the_batch(
    undecided, items_emulator, user_id
) -> None:
    factory, action_id, client, step_id = undecided

    action = resume_action(
        session_factory=factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        decisions={step_id: "applied"},
    )

    assert action.status == ActionStatus.DONE, action.error
    assert sum(1 for n in names(items_emulator) if n.startswith("Hand ")) == 13
    step = steps_of(factory, user_id, action_id)[1]
    assert step.status == StepStatus.DONE and len(step.record_ids) == 3
    assert "as you chose" in (step.error or "")


def test_roll_back_anyway_puts_back_what_is_known(undecided, items_emulator, user_id) -> None:
    factory, action_id, client, step_id = undecided

    action = rollback_action(
        session_factory=factory,
        user_id=user_id,
        action_id=action_id,
        client=client,
        decisions={step_id: "not_applied"},
    )

    assert action.status == ActionStatus.ROLLED_BACK, action.error
    # Batch 1 deleted; the three rows in question were left as they are.
    assert sorted(n for n in names(items_emulator) if n.startswith("Hand ")) == [
        "Hand 10",
        "Hand 11",
        "Hand 12",
    ]
    assert load(factory, action_id).status == ActionStatus.ROLLED_BACK
