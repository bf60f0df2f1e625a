"""The write-ahead machinery every run shares: claim, write a step, send it, record it, finish.

A run (executing, resuming, rolling back or undoing an action) sends each
Airtable request as an `ActionStep`:

1. the step row is committed PENDING, with the records as they were (`before`),
   and the action's `updated_at` is bumped (a heartbeat other replicas can read);
2. the request is sent through the paced client;
3. the step is committed DONE with Airtable's answer (`after`), or FAILED with
   the error, or SKIPPED when Stop was pressed before it left.

A crash between 1 and 3 leaves the step PENDING: `check_step` later asks
Airtable whether it was applied, so nothing is ever sent twice.

`LIVE_ACTIONS` holds the ids this process is running, so restart recovery in a
process that is still working never marks its own runs as interrupted.

Across processes (several workers, replicas) a run holds a **lease** on its action:
`claim` takes it (`Action.lease_owner`, `lease_expires_at`), a thread renews it
every third of `ACTION_HEARTBEAT_SECONDS` while the run lives (an Airtable request
may take longer than the heartbeat), and `finish` gives it back. Recovery, resume
and roll back leave an action alone while another process's lease is live; a run
whose lease was taken over (it expired: the process stalled) stops before sending
its next batch (`LeaseLostError`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import col, select

from pyairtable_ui.actions.base import ActionStateError
from pyairtable_ui.actions.models import Action, ActionStatus, ActionStep, StepKind, StepStatus
from pyairtable_ui.actions.records import (
    CLOCK_SLACK,
    fields_match,
    read_created_since,
    read_records_by_id,
)
from pyairtable_ui.airtable import aggregate_cache
from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import AirtableError, AirtableNotFoundError, ToolCancelled
from pyairtable_ui.core.db import SessionFactory, utcnow
from pyairtable_ui.core.observability import ACTIONS
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, int], None]
"""`on_progress(done_batches, total_batches, records_written)`, called after every batch."""

StepHook = Callable[[str, int, str], None]
"""`step_hook(kind, seq, moment)` with moment "before_request" or "after_response".

For tests that simulate a crash: raising a `BaseException` there leaves the database
exactly as a killed process would.
"""

# Starts the error of a FAILED step whose request got no answer: it may have been
# applied, so it is checked in Airtable before anything is sent again.
UNKNOWN_OUTCOME = "Outcome unknown: "

_live_lock = threading.Lock()
LIVE_ACTIONS: set[int] = set()

WORKING_STATUSES = (ActionStatus.RUNNING, ActionStatus.ROLLING_BACK, ActionStatus.UNDOING)
STILL_RUNNING = "is still running in another process"


class LeaseLostError(ActionStateError):
    """Another process took this run over (its lease had expired); it stopped cleanly."""


_owner_lock = threading.Lock()
_owner: tuple[int, str] | None = None


def lease_owner_id() -> str:
    """Who this process is, as written in `Action.lease_owner` (one per process, even forked)."""
    global _owner
    with _owner_lock:
        pid = os.getpid()
        if _owner is None or _owner[0] != pid:
            _owner = (pid, f"{socket.gethostname()[:60]}/{pid}/{uuid.uuid4().hex[:12]}")
        return _owner[1]


def lease_duration() -> timedelta:
    """How long a lease lasts without renewal: the heartbeat (ACTION_HEARTBEAT_SECONDS)."""
    return timedelta(seconds=get_settings().action_heartbeat_seconds)


def lease_is_free(*, now: datetime, owner: str) -> sa.ColumnElement[bool]:
    """SQL: nobody else holds a live lease on the action (none, expired, or `owner`'s)."""
    return sa.or_(
        col(Action.lease_owner).is_(None),
        col(Action.lease_owner) == owner,
        col(Action.lease_expires_at).is_(None),
        col(Action.lease_expires_at) < now,
    )


def held_elsewhere(action: Action, *, now: datetime | None = None) -> bool:
    """Whether another process holds a live lease on `action` (it is running there)."""
    expires = action.lease_expires_at
    return (
        action.lease_owner is not None
        and action.lease_owner != lease_owner_id()
        and expires is not None
        and expires >= (now or utcnow())
    )


def renew_lease(session_factory: SessionFactory, action_id: int) -> bool:
    """Push this process's lease on a running action forward; False when it is not ours now."""
    now = utcnow()
    with session_factory() as session:
        result = session.exec(  # type: ignore[call-overload]
            sa.update(Action)
            .where(
                col(Action.id) == action_id,
                col(Action.lease_owner) == lease_owner_id(),
                col(Action.status).in_([s.value for s in WORKING_STATUSES]),
            )
            .values(lease_expires_at=now + lease_duration())
        )
        return bool(result.rowcount == 1)


def _keep_lease(session_factory: SessionFactory, action_id: int, stop: threading.Event) -> None:
    # A third of the lease: two renewals may fail (a busy database) before it lapses.
    interval = max(0.1, lease_duration().total_seconds() / 3)
    while not stop.wait(interval):
        try:
            if not renew_lease(session_factory, action_id):
                logger.warning("action lease not renewed id=%s (finished or taken over)", action_id)
                return
        except Exception:
            logger.exception("action lease renewal failed id=%s; trying again", action_id)


@contextmanager
def live(action_id: int, session_factory: SessionFactory | None = None) -> Iterator[None]:
    """Mark `action_id` as being run by this process for the duration of the block.

    With `session_factory`, the action's lease (taken by `claim`) is also renewed
    by a background thread until the block ends, so a request in flight longer
    than the heartbeat does not let another process take the action over.
    """
    with _live_lock:
        LIVE_ACTIONS.add(action_id)
    stop = threading.Event()
    keeper = None
    if session_factory is not None:
        keeper = threading.Thread(
            target=_keep_lease,
            args=(session_factory, action_id, stop),
            name=f"action-lease-{action_id}",
            daemon=True,
        )
        keeper.start()
    try:
        yield
    finally:
        stop.set()
        if keeper is not None:
            keeper.join(timeout=5)
        with _live_lock:
            LIVE_ACTIONS.discard(action_id)


def is_live(action_id: int) -> bool:
    """Whether this process is running `action_id` right now."""
    with _live_lock:
        return action_id in LIVE_ACTIONS


# --- claiming and finishing ---------------------------------------------------------------


def claim(
    session_factory: SessionFactory,
    *,
    user_id: int,
    action_id: int,
    from_statuses: tuple[ActionStatus, ...],
    to_status: ActionStatus,
) -> None:
    """Move the action to `to_status` if it is in one of `from_statuses`, atomically.

    Of two clicks (or two replicas), exactly one wins; the other gets an error.
    The winner takes the action's lease (see the module docstring); an action
    whose lease another process still holds is never taken.

    Raises:
        ActionStateError: It was not in one of `from_statuses` (any more), or
            another process is running it.
    """
    now = utcnow()
    owner = lease_owner_id()
    with session_factory() as session:
        result = session.exec(  # type: ignore[call-overload]
            sa.update(Action)
            .where(
                col(Action.id) == action_id,
                col(Action.user_id) == user_id,
                col(Action.status).in_([s.value for s in from_statuses]),
                lease_is_free(now=now, owner=owner),
            )
            .values(
                status=to_status.value,
                updated_at=now,
                lease_owner=owner,
                lease_expires_at=now + lease_duration(),
            )
        )
        if result.rowcount == 1:
            return
        current = session.get(Action, action_id)
    if current is not None and held_elsewhere(current, now=now):
        raise ActionStateError(
            f"Action #{action_id} {STILL_RUNNING}; wait for it to finish, then reload."
        )
    raise ActionStateError(
        f"Action #{action_id} is already being worked on or has finished; "
        "reload to see where it stands."
    )


def finish(
    session_factory: SessionFactory,
    action_id: int,
    status: ActionStatus,
    *,
    error: str | None = None,
    undo_status: str | None = None,
    undo_note: str | None = None,
    undone: bool = False,
) -> Action:
    """Record how a run ended, give the lease back and return the action as stored.

    Raises:
        LeaseLostError: Another process took the action over; nothing was recorded.
    """
    with session_factory() as session:
        action = session.get(Action, action_id)
        assert action is not None
        if action.lease_owner not in (None, lease_owner_id()):
            raise LeaseLostError(_taken_over(action_id))
        now = utcnow()
        action.lease_owner = None
        action.lease_expires_at = None
        action.status = status.value
        action.error = error
        action.finished_at = now
        action.updated_at = now
        if undo_status is not None:
            action.undo_status = undo_status
        if undo_note is not None:
            action.undo_note = undo_note
        if undone:
            action.undone_at = now
        session.add(action)
        session.flush()
    ACTIONS.labels(tool=action.tool_name, status=status.value).inc()
    logger.info("action finished id=%s status=%s", action_id, status.value)
    return action


def _taken_over(action_id: int) -> str:
    return (
        f"Action #{action_id} was taken over by another process while this one was "
        "stalled; this run stopped before sending anything more. Reload to see where it stands."
    )


def load_steps(session_factory: SessionFactory, action_id: int) -> list[ActionStep]:
    """Every step of an action (detached), ordered by kind then seq."""
    with session_factory() as session:
        steps = list(
            session.exec(
                select(ActionStep)
                .where(ActionStep.action_id == action_id)
                .order_by(col(ActionStep.kind), col(ActionStep.seq))
            ).all()
        )
        for step in steps:
            session.expunge(step)
        return steps


Phase = Literal["apply", "rollback", "undo"]


def phase_of(steps: list[ActionStep]) -> Phase:
    """What an unfinished action was doing, judged by the steps it wrote."""
    kinds = {s.kind for s in steps}
    if StepKind.UNDO in kinds:
        return "undo"
    if StepKind.COMPENSATE in kinds:
        return "rollback"
    return "apply"


def batches_phrase(done: list[int], total: int) -> str:
    """ "Batches 1-2 were applied." in words the user reads."""
    if not done:
        return "No batch was applied."
    done = sorted(done)
    if len(done) == 1:
        return f"Batch {done[0]} was applied."
    if done == list(range(done[0], done[-1] + 1)):
        return f"Batches {done[0]}-{done[-1]} were applied."
    return f"{len(done)} of {total} batches were applied ({', '.join(map(str, done))})."


# --- progress -----------------------------------------------------------------------------


class Progress:
    """Counts batches and records and tells the UI after each batch."""

    def __init__(
        self, callback: ProgressCallback | None, total: int, done: int, written: int
    ) -> None:
        self.callback = callback
        self.total = total
        self.done = done
        self.written = written

    def report(self) -> None:
        """Tell the callback where the run stands."""
        if self.callback is None:
            return
        try:
            self.callback(self.done, self.total, self.written)
        except Exception:
            # The UI went away (a closed tab): the writes must go on, so the
            # callback is dropped rather than left to abort a half-done run.
            logger.exception("progress callback failed; the run goes on without it")
            self.callback = None

    def batch_done(self, records: int) -> None:
        """One more batch finished."""
        self.done += 1
        self.written += records
        self.report()


# --- requests and steps -------------------------------------------------------------------


@dataclass
class StepRequest:
    """One Airtable request of a step.

    Attributes:
        method: HTTP method.
        components: Path components after ``/v0``.
        body: The JSON body (for record deletes, ``{"records": ids}``, sent as a query).
        record_ids: The records it touches (unknown for creates until answered).
        before: The records as they were, for undo and rollback.
    """

    method: str
    components: list[str]
    body: dict[str, Any] | None
    record_ids: list[str] = field(default_factory=list)
    before: list[dict[str, Any]] | None = None

    @property
    def path(self) -> str:
        """``/v0/...``."""
        return "/v0/" + "/".join(self.components)


@dataclass
class StepOutcome:
    """How a sent step ended: written, or stopped by Stop (`cancelled`) or by `error`."""

    step_id: int
    after: list[dict[str, Any]] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    error: AirtableError | None = None
    cancelled: bool = False


AfterReader = Callable[[Any], tuple[list[dict[str, Any]], list[str]]]


def after_records(response: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """Airtable's answer as the step's `after`, and the record ids it names."""
    if isinstance(response, dict) and isinstance(response.get("records"), list):
        records = [r for r in response["records"] if isinstance(r, dict)]
        return records, [str(r["id"]) for r in records if r.get("id")]
    if isinstance(response, dict):
        return [response], []
    return [], []


def upsert_after(response: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """An upsert's answer, each record marked ``_created`` when Airtable created it.

    Undo deletes the created ones and restores the updated ones, so which is which
    is kept from Airtable's own answer rather than guessed later.
    """
    records, ids = after_records(response)
    created = set(response.get("createdRecords") or []) if isinstance(response, dict) else set()
    return [{**r, "_created": r.get("id") in created} for r in records], ids


class StepWriter:
    """Writes, sends and records the steps of one run."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        action_id: int,
        client: AirtableClient,
        kind: StepKind,
        step_hook: StepHook | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.action_id = action_id
        self.client = client
        self.kind = kind
        self.step_hook = step_hook
        self._next_seq: int | None = None

    def next_seq(self) -> int:
        """The next free seq for this kind (after every step written so far)."""
        if self._next_seq is None:
            with self.session_factory() as session:
                highest = session.exec(
                    select(sa.func.max(ActionStep.seq)).where(
                        ActionStep.action_id == self.action_id, ActionStep.kind == self.kind.value
                    )
                ).one()
            self._next_seq = int(highest or 0) + 1
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def send(
        self,
        request: StepRequest,
        *,
        seq: int | None = None,
        step_id: int | None = None,
        read_after: AfterReader = after_records,
    ) -> StepOutcome:
        """Write the step PENDING, send its request, record the outcome.

        Args:
            request: What to send.
            seq: The step's number (default: the next free one).
            step_id: Reuse this step row (a batch sent again after an interruption).
            read_after: Turns Airtable's answer into (`after`, record ids).

        Returns:
            The outcome; errors and Stop are reported in it, not raised.
        """
        step_id, seq = self._write_pending(request, seq=seq, step_id=step_id)
        self._hook(seq, "before_request")
        calls_before = self.client.calls
        try:
            response = self._request(request)
        except ToolCancelled:
            sent = self.client.calls != calls_before
            self.update(
                step_id,
                StepStatus.FAILED if sent else StepStatus.SKIPPED,
                error=f"{UNKNOWN_OUTCOME}stopped by the user while Airtable was retrying."
                if sent
                else "Stopped by the user before it was sent.",
            )
            return StepOutcome(step_id=step_id, cancelled=True)
        except AirtableError as exc:
            # Airtable's answer (4xx, even 5xx) says the batch was refused; no answer at
            # all (a timeout) leaves it open whether it was applied.
            prefix = UNKNOWN_OUTCOME if exc.status is None else ""
            self.update(step_id, StepStatus.FAILED, error=prefix + exc.message)
            return StepOutcome(step_id=step_id, error=exc)
        self._hook(seq, "after_response")
        after, ids = read_after(response)
        ids = ids or request.record_ids
        self.update(step_id, StepStatus.DONE, after=after, record_ids=ids)
        return StepOutcome(step_id=step_id, after=after, record_ids=ids)

    def _hook(self, seq: int, moment: str) -> None:
        if self.step_hook is not None:
            self.step_hook(self.kind.value, seq, moment)

    def _request(self, request: StepRequest) -> Any:
        try:
            return self._send_request(request)
        finally:
            # Even when refused or unanswered: the write may have been applied.
            written_base = written_base_id(request.components)
            if written_base:
                aggregate_cache.invalidate(written_base)

    def _send_request(self, request: StepRequest) -> Any:
        body = request.body or {}
        if request.method == "DELETE" and "records" in body:
            return self.client.request(
                "DELETE", *request.components, params={"records[]": list(body["records"])}
            )
        if request.method == "DELETE":
            return self.client.request("DELETE", *request.components)
        return self.client.request(request.method, *request.components, json=request.body)

    def _write_pending(
        self, request: StepRequest, *, seq: int | None, step_id: int | None
    ) -> tuple[int, int]:
        now = utcnow()
        with self.session_factory() as session:
            if step_id is not None:
                step = session.get(ActionStep, step_id)
                assert step is not None
                # A batch sent again keeps its first `before`: the values before the action.
                previous = f"Earlier attempt: {step.error}" if step.error else None
                step.status = StepStatus.PENDING.value
                step.error = previous
                step.method = request.method
                step.path = request.path[:500]
                step.request_body = request.body
                step.record_ids = request.record_ids
                step.started_at = now
                step.finished_at = None
                step.candidates = None
            else:
                step = ActionStep(
                    action_id=self.action_id,
                    kind=self.kind.value,
                    seq=seq if seq is not None else self.next_seq(),
                    status=StepStatus.PENDING.value,
                    method=request.method,
                    path=request.path[:500],
                    request_body=request.body,
                    before=request.before,
                    record_ids=request.record_ids,
                    started_at=now,
                )
            # The heartbeat, and proof the run still holds its lease: a run another
            # process took over stops here, before its next batch is sent.
            held = session.exec(  # type: ignore[call-overload]
                sa.update(Action)
                .where(
                    col(Action.id) == self.action_id,
                    sa.or_(
                        col(Action.lease_owner).is_(None),
                        col(Action.lease_owner) == lease_owner_id(),
                    ),
                )
                .values(updated_at=now)
            )
            if held.rowcount != 1:
                raise LeaseLostError(_taken_over(self.action_id))
            session.add(step)
            session.flush()
            assert step.id is not None
            return step.id, step.seq

    def remember_candidates(self, step_id: int, candidates: list[dict[str, Any]]) -> None:
        """Keep the records an undecided step may have created, for the user to look at."""
        if not candidates:
            return
        with self.session_factory() as session:
            step = session.get(ActionStep, step_id)
            assert step is not None
            step.candidates = candidates
            session.add(step)

    def update(
        self,
        step_id: int,
        status: StepStatus,
        *,
        error: str | None = None,
        after: list[dict[str, Any]] | None = None,
        record_ids: list[str] | None = None,
    ) -> None:
        """Record a step's outcome in its own transaction."""
        with self.session_factory() as session:
            step = session.get(ActionStep, step_id)
            assert step is not None
            step.status = status.value
            if error is not None:
                step.error = error
            step.finished_at = utcnow()
            if after is not None:
                step.after = after
            if record_ids is not None:
                step.record_ids = record_ids
            session.add(step)


# --- was an unanswered step applied? -----------------------------------------------------


@dataclass
class Verdict:
    """Whether a step whose outcome was not recorded reached Airtable.

    Attributes:
        status: ``applied`` (do not send again), ``not_applied`` (safe to send) or
            ``unknown`` (the user must decide).
        after: The records as Airtable has them now, when applied.
        record_ids: Their ids.
        remaining: For deletes: the ids still present (only those are sent again).
        reason: Why the outcome is unknown, for the user.
        candidates: When unknown: the records that may be the step's (matching ones
            first), for the user to look at before deciding.
    """

    status: Literal["applied", "not_applied", "unknown"]
    after: list[dict[str, Any]] = field(default_factory=list)
    record_ids: list[str] = field(default_factory=list)
    remaining: list[str] | None = None
    reason: str = ""
    candidates: list[dict[str, Any]] = field(default_factory=list)


def written_base_id(components: list[str]) -> str | None:
    """The base a write changes: ``[base, table, ...]`` or ``["meta", "bases", base, ...]``."""
    if components[:2] == ["meta", "bases"]:
        return components[2] if len(components) > 2 else None
    return components[0] if components and components[0] != "meta" else None


def api_parts(path: str) -> list[str]:
    """A step's path split after ``/v0``: ``["appX", "tblY"]``, ``["meta", "bases", ...]``."""
    parts = [p for p in path.split("/") if p]
    return parts[1:] if parts and parts[0] == "v0" else parts


def outcome_unknown(step: ActionStep) -> bool:
    """Whether a step may have been applied without its outcome being recorded."""
    return step.status == StepStatus.PENDING or (
        step.status == StepStatus.FAILED and (step.error or "").startswith(UNKNOWN_OUTCOME)
    )


def known_record_ids(steps: list[ActionStep]) -> set[str]:
    """Ids of records the action's DONE steps created or touched (not someone else's)."""
    known: set[str] = set()
    for step in steps:
        if step.status == StepStatus.DONE:
            known.update(step.record_ids or [])
            known.update(str(r.get("id")) for r in step.after or [] if isinstance(r, dict))
    return known


def taken_record_ids(session_factory: SessionFactory, step: ActionStep) -> set[str]:
    """Records already accounted for around `step`: created or touched by any action's
    recorded steps in the same table (this action's other batches, another action's
    create a minute earlier), so a create check never takes them for this step's.

    Args:
        session_factory: Opens sessions.
        step: The step being checked.

    Returns:
        Record ids.
    """
    since = (step.started_at or utcnow()) - timedelta(hours=1)
    with session_factory() as session:
        rows = session.exec(
            select(ActionStep).where(
                ActionStep.path == step.path,
                ActionStep.status == StepStatus.DONE.value,
                col(ActionStep.started_at) >= since,
                col(ActionStep.id) != step.id,
            )
        ).all()
        return known_record_ids(list(rows))


def check_step(
    step: ActionStep,
    *,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None = None,
    known_ids: set[str] | None = None,
) -> Verdict:
    """Ask Airtable whether a step left PENDING (or FAILED without an answer) was applied.

    Compares what the step asked for with what Airtable holds now: updated
    values, created records (created since the step started, with the same
    values), deleted ids, names of renamed tables and fields, comments.

    Args:
        step: The step (its request body and `started_at` are used).
        client: The Airtable client.
        schema_cache: Schema cache for schema steps.
        known_ids: Records the action's other steps created: never taken for this one's.

    Returns:
        The verdict.

    Raises:
        AirtableError: The check itself failed.
        ToolCancelled: Stop was pressed.
    """
    parts = api_parts(step.path)
    body = step.request_body or {}
    started = step.started_at or utcnow()
    if parts[:1] == ["meta"]:
        return _check_schema_step(step, parts, body, client, schema_cache)
    base_id, table_id = parts[0], parts[1]
    if len(parts) >= 4 and parts[3] == "comments":
        return _check_comment_step(step, parts, body, client, started)
    records = [r for r in body.get("records") or [] if isinstance(r, dict)]
    if step.method == "POST":
        table = _table_schema(client, base_id, table_id, schema_cache)
        return _check_create(client, base_id, table_id, records, started, table, known_ids)
    if step.method == "PATCH" and "performUpsert" in body:
        # Upserts match on their merge fields: sending one again cannot duplicate.
        return Verdict("not_applied")
    if step.method == "PATCH":
        table = _table_schema(client, base_id, table_id, schema_cache)
        ids = [str(r["id"]) for r in records]
        current = read_records_by_id(client, base_id, table_id, ids)
        if all(
            r["id"] in current
            and fields_match(r.get("fields") or {}, current[r["id"]]["fields"], table)
            for r in records
        ):
            return Verdict("applied", after=[current[i] for i in ids], record_ids=ids)
        return Verdict("not_applied")
    if step.method == "DELETE":
        ids = [str(i) for i in body.get("records") or step.record_ids]
        current = read_records_by_id(client, base_id, table_id, ids)
        if not current:
            return Verdict(
                "applied", after=[{"id": i, "deleted": True} for i in ids], record_ids=ids
            )
        return Verdict("not_applied", remaining=[i for i in ids if i in current])
    return Verdict("unknown", reason=f"{step.method} {step.path} cannot be checked.")


def _table_schema(
    client: AirtableClient,
    base_id: str,
    table_id: str,
    schema_cache: schema_module.SchemaCache | None,
) -> schema_module.TableSchema | None:
    schema = schema_module.get_base_schema(client, base_id, cache=schema_cache)
    return schema.table_by_id(table_id)


MAX_CANDIDATES = 50


def _check_create(
    client: AirtableClient,
    base_id: str,
    table_id: str,
    records: list[dict[str, Any]],
    started: datetime,
    table: schema_module.TableSchema | None,
    known_ids: set[str] | None,
) -> Verdict:
    known = known_ids or set()
    created = [
        r for r in read_created_since(client, base_id, table_id, started) if r["id"] not in known
    ]
    return match_created(records, created, table)


def match_created(
    sent: list[dict[str, Any]],
    created: list[dict[str, Any]],
    table: schema_module.TableSchema | None = None,
) -> Verdict:
    """Whether a create request was applied, judged by the records created since it was sent.

    Airtable applies a batch whole or not at all, so the batch's records are
    looked for by their field values among `created` (records no other step
    accounts for):

    - every record of the batch has its own match: applied;
    - none has, and no group of records created together (one request, one
      ``createdTime``) has the batch's size: not applied (those are someone else's);
    - otherwise (some match; or a group that could be the batch edited since):
      unknown, with the candidates for the user to look at.

    Args:
        sent: The records of the request (``{"fields": ...}``).
        created: Records created in the table since shortly before it was sent.
        table: The table's schema (what can be compared).

    Returns:
        The verdict.
    """
    if not created:
        return Verdict("not_applied")
    unused = list(created)
    matched: list[dict[str, Any]] = []
    for record in sent:
        found = next(
            (c for c in unused if fields_match(record.get("fields") or {}, c["fields"], table)),
            None,
        )
        if found is not None:
            unused.remove(found)
            matched.append(found)
    if len(matched) == len(sent):
        return Verdict("applied", after=matched, record_ids=[str(r["id"]) for r in matched])
    together: dict[str, int] = {}
    for record in created:
        moment = str(record.get("createdTime", ""))
        together[moment] = together.get(moment, 0) + 1
    if not matched and len(sent) not in together.values():
        return Verdict("not_applied")
    size_n = {m for m, n in together.items() if n == len(sent)}
    candidates = [{**r, "likely": True} for r in matched] + [
        {**r, "likely": not matched and str(r.get("createdTime", "")) in size_n} for r in unused
    ]
    candidates = candidates[:MAX_CANDIDATES]
    if matched:
        reason = (
            f"{len(matched)} of its {len(sent)} records match records created in the table "
            "since it was sent, but not all of them do."
        )
    else:
        reason = (
            f"{len(sent)} records were created together in the table since it was sent; "
            "their values differ from it, but they may be its records edited since."
        )
    return Verdict("unknown", reason=reason, candidates=candidates)


def _check_schema_step(
    step: ActionStep,
    parts: list[str],
    body: dict[str, Any],
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None,
) -> Verdict:
    base_id = parts[2]
    fresh = schema_module.get_base_schema(client, base_id, force=True, cache=schema_cache)
    raw_tables = [t for t in fresh.raw.get("tables") or [] if isinstance(t, dict)]
    name = str(body.get("name") or "")
    if len(parts) == 4:  # POST .../tables: create_table
        table = next((t for t in raw_tables if t.get("name") == name), None)
        return Verdict("applied", after=[table]) if table else Verdict("not_applied")
    raw_table = next((t for t in raw_tables if t.get("id") == parts[4]), None)
    if raw_table is None:
        return Verdict("unknown", reason="The table is gone from the base.")
    if len(parts) == 5:  # PATCH .../tables/{id}: rename_table
        applied = raw_table.get("name") == name
        return Verdict("applied", after=[raw_table]) if applied else Verdict("not_applied")
    fields = [f for f in raw_table.get("fields") or [] if isinstance(f, dict)]
    if len(parts) == 6:  # POST .../fields: create_field
        found = next((f for f in fields if f.get("name") == name), None)
        return Verdict("applied", after=[found]) if found else Verdict("not_applied")
    found = next((f for f in fields if f.get("id") == parts[6]), None)
    if found is None:
        return Verdict("unknown", reason="The field is gone from the table.")
    return (
        Verdict("applied", after=[found]) if found.get("name") == name else Verdict("not_applied")
    )


def _check_comment_step(
    step: ActionStep,
    parts: list[str],
    body: dict[str, Any],
    client: AirtableClient,
    started: datetime,
) -> Verdict:
    base_id, table_id, record_id = parts[0], parts[1], parts[2]
    try:
        comments = _all_comments(client, base_id, table_id, record_id)
    except AirtableNotFoundError:
        if step.method == "DELETE":
            return Verdict("applied")
        return Verdict("unknown", reason="The record is gone.")
    if step.method == "DELETE":
        present = any(c.get("id") == parts[4] for c in comments)
        return Verdict("not_applied") if present else Verdict("applied")
    since = (started - CLOCK_SLACK).isoformat().replace("+00:00", "Z")
    text = body.get("text")
    found = next(
        (c for c in comments if c.get("text") == text and str(c.get("createdTime", "")) >= since),
        None,
    )
    return Verdict("applied", after=[found]) if found else Verdict("not_applied")


def _all_comments(
    client: AirtableClient, base_id: str, table_id: str, record_id: str
) -> list[dict[str, Any]]:
    comments: list[dict[str, Any]] = []
    params: dict[str, Any] = {"pageSize": 100}
    while True:
        page = client.request("GET", base_id, table_id, record_id, "comments", params=params)
        comments.extend(c for c in (page or {}).get("comments") or [] if isinstance(c, dict))
        offset = (page or {}).get("offset")
        if not offset:
            return comments
        params = {"pageSize": 100, "offset": offset}


def decide(
    verdict: Verdict,
    step: ActionStep,
    *,
    decisions: dict[int, str] | None,
    resend_unknown: bool = False,
) -> Verdict:
    """An unknown verdict settled by what the user chose for that step, if they chose.

    Airtable is always asked first: a decision only counts while the outcome is
    still unknown. "applied" takes the likely candidates as the step's records
    (so undo and roll back find them); "not_applied" lets the batch be sent again
    (resume) or left out (roll back).

    Args:
        verdict: What Airtable's records say.
        step: The step.
        decisions: Step id -> "applied" | "not_applied", from the user.
        resend_unknown: Treat every unknown step as not applied.

    Returns:
        The verdict to act on.
    """
    if verdict.status != "unknown":
        return verdict
    choice = (decisions or {}).get(step.id or 0) or ("not_applied" if resend_unknown else None)
    if choice == "applied":
        likely = [
            {k: v for k, v in c.items() if k != "likely"}
            for c in verdict.candidates
            if c.get("likely")
        ]
        return Verdict(
            "applied", after=likely, record_ids=[str(r.get("id")) for r in likely], reason="user"
        )
    if choice == "not_applied":
        return Verdict("not_applied", reason="user")
    return verdict


def dumps_key(values: list[Any]) -> str:
    """A dict key for a list of field values (upsert merge keys)."""
    return json.dumps(values, default=str)
