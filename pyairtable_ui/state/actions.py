"""Safe writes in the browser: review a proposed action, run it, roll back, resume, undo.

One state serves the chat's action sidebar and `/history`. Every handler checks
the user on the server; every Airtable call runs in a worker thread through the
user's own paced client; progress is read from the worker while it runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypedDict

import reflex as rx

from pyairtable_ui.actions import approval, execution, steps, undo
from pyairtable_ui.actions import service as actions_service
from pyairtable_ui.actions.models import Action, ActionStatus, UndoStatus
from pyairtable_ui.actions.preview import ActionPreview, build_preview
from pyairtable_ui.airtable import connections
from pyairtable_ui.airtable import oauth as airtable_oauth
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import AirtableError
from pyairtable_ui.auth.models import User
from pyairtable_ui.crypto import SecretDecryptionError
from pyairtable_ui.db import session_scope
from pyairtable_ui.settings import get_settings
from pyairtable_ui.state.auth import signed_in_user_id

logger = logging.getLogger(__name__)

PENDING = {ActionStatus.PROPOSED.value, ActionStatus.PREVIEWED.value}
RECOVERABLE = {ActionStatus.FAILED.value, ActionStatus.INTERRUPTED.value}
WORKING = {s.value for s in execution.WORKING}
# What the user may choose for a batch whose outcome is unknown -> (run, decision).
QUESTION_CHOICES = {
    "applied": ("resume", "applied"),
    "send_again": ("resume", "not_applied"),
    "rollback_anyway": ("rollback", "not_applied"),
}
# What the user may read as an error from any of these layers.
USER_ERRORS = (
    actions_service.ActionError,
    AirtableError,
    connections.AirtableTokenError,
    SecretDecryptionError,
)


class ActionItem(TypedDict):
    """A proposed or finished write in the sidebar."""

    id: int
    summary: str
    tool: str
    status: str
    record_count: int
    pending: bool
    error: str


class ReviewRow(TypedDict):
    """One record of the preview: what changes, and whether the user keeps it ticked."""

    row_id: str
    kind: str
    label: str
    record_id: str
    changes: list[str]
    blocked: bool
    warnings: str
    ticked: bool


class ChangedItem(TypedDict):
    """A row left unwritten because someone changed its record after the review."""

    row_id: str
    label: str
    record_id: str
    cells: list[str]
    note: str


class CandidateRow(TypedDict):
    """A record that may have been created by a batch whose outcome is unknown."""

    record_id: str
    created: str
    values: str
    likely: bool


class UndoItem(TypedDict):
    """One record of the undo plan, with the user's choice when it conflicts."""

    row_id: str
    label: str
    effect: str
    cells: list[str]
    conflict: bool
    missing: bool
    note: str
    choice: str


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "(empty)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"


def error_text(exc: BaseException) -> str:
    """The user-facing message of any error the action layers raise."""
    return str(getattr(exc, "message", None) or getattr(exc, "message_for_user", None) or exc)


def action_item(action: Action) -> ActionItem:
    """An action as the sidebar lists it."""
    return ActionItem(
        id=action.id or 0,
        summary=action.summary or action.tool_name,
        tool=action.tool_name,
        status=action.status,
        record_count=action.record_count,
        pending=action.status in PENDING,
        error=action.error or "",
    )


def conversation_action_items(user_id: int, conversation_id: int) -> list[ActionItem]:
    """The actions of one of the user's conversations (blocking)."""
    with session_scope() as db:
        return [
            action_item(a)
            for a in actions_service.list_actions(
                session=db, user_id=user_id, conversation_id=conversation_id
            )
        ]


def recover_stale_actions() -> None:
    """Mark actions whose process stopped (no step for a while) as interrupted (blocking).

    Start-up does this too; checking when actions are looked at also covers a replica
    that died while the others kept running.
    """
    older_than = timedelta(seconds=get_settings().action_heartbeat_seconds)
    with session_scope() as db:
        execution.mark_interrupted(session=db, older_than=older_than)


def read_question(user_id: int, action_id: int) -> execution.UndecidedBatch | None:
    """The batch of the user's action that awaits their decision, if any (blocking)."""
    with session_scope() as db:
        return execution.undecided_batch(session=db, user_id=user_id, action_id=action_id)


def running_elsewhere(action: Action) -> bool:
    """Whether another process is running the action right now (it holds its lease)."""
    return action.status in WORKING and steps.held_elsewhere(action)


def _client_for(user_id: int) -> AirtableClient:
    with session_scope() as db:
        user = db.get(User, user_id)
        if user is None:
            raise connections.NotConnectedError()
        token = airtable_oauth.get_valid_token(session=db, user=user)
    return AirtableClient(token, api_url=get_settings().airtable_api_url)


def changed_items(action: Action) -> list[ChangedItem]:
    """The rows an action left out because they changed since the review, as shown."""
    rows = (action.changed_since_review or {}).get("rows") or []
    return [
        ChangedItem(
            row_id=str(r.get("row_id")),
            label=str(r.get("label") or r.get("record_id") or ""),
            record_id=str(r.get("record_id") or ""),
            cells=[
                f"{c['field']}: {_value(c['reviewed'])} when you reviewed → "
                f"{_value(c['current'])} now"
                for c in r.get("cells") or []
            ],
            note=str(r.get("note") or ""),
        )
        for r in rows
        if isinstance(r, dict)
    ]


def propose_again(user_id: int, action_id: int) -> int:
    """Propose the rows an action left out as a new action to review (blocking); its id."""
    with session_scope() as db:
        proposal = approval.propose_changed_again(session=db, user_id=user_id, action_id=action_id)
        assert proposal.id is not None
        return proposal.id


def _review_rows(preview: ActionPreview) -> list[ReviewRow]:
    rows = []
    for row in preview["rows"]:
        if row["kind"] == "delete":
            changes = [f"{c['field']}: {_value(c['old'])}" for c in row["cells"]]
        elif row["kind"] in ("create", "upsert_create"):
            changes = [f"{c['field']}: {_value(c['new'])}" for c in row["cells"]]
        else:
            changes = [
                f"{c['field']}: {_value(c['old'])} → {_value(c['new'])}"
                for c in row["cells"]
                if c["changed"]
            ] or ["no change"]
        rows.append(
            ReviewRow(
                row_id=row["row_id"],
                kind=row["kind"],
                label=row["label"],
                record_id=row["record_id"] or "",
                changes=changes,
                blocked=row["blocked"],
                warnings=" ".join(row["warnings"]),
                ticked=not row["blocked"],
            )
        )
    return rows


class ActionsState(rx.State):
    """The actions of the open conversation, and the one action under review."""

    conversation_id: int = 0
    items: list[ActionItem] = []

    open: bool = False
    action_id: int = 0
    title: str = ""
    status: str = ""
    undo_status: str = ""
    tool: str = ""
    error: str = ""
    notice: str = ""
    working: bool = False
    progress: str = ""
    # Approval was refused because the preview is too old: offer to read it again.
    stale: bool = False
    changed_rows: list[ChangedItem] = []

    rows: list[ReviewRow] = []
    warnings: list[str] = []
    notes: list[str] = []
    counts: str = ""
    typed_always: bool = False
    threshold: int = 20

    # A batch Airtable cannot settle: its candidate records and the user's choices.
    question_step: int = 0
    question_kind: str = ""
    question_sent: list[str] = []
    question_rows: list[CandidateRow] = []

    undo_mode: bool = False
    undo_possible: bool = True
    undo_message: str = ""
    undo_rows: list[UndoItem] = []
    undo_notes: list[str] = []

    @rx.var
    def ticked_count(self) -> int:
        """How many rows will run."""
        return sum(1 for row in self.rows if row["ticked"])

    @rx.var
    def needs_typed(self) -> bool:
        """Whether the count must be typed (deletes, or more rows than the threshold)."""
        return self.typed_always or self.ticked_count > self.threshold

    @rx.var
    def changed_summary(self) -> str:
        """What happened to the rows left out because they changed after the review."""
        count = len(self.changed_rows)
        if count == 1:
            return (
                "1 record was changed in Airtable since you reviewed it, so it was left "
                "untouched. Review it again to decide with its current values."
            )
        return (
            f"{count} records were changed in Airtable since you reviewed them, so they were "
            "left untouched. Review them again to decide with their current values."
        )

    @rx.var
    def pending(self) -> bool:
        """The action waits for the user's decision."""
        return self.status in PENDING

    @rx.var
    def recoverable(self) -> bool:
        """A failure or a restart stopped it midway: roll back or resume."""
        return self.status in RECOVERABLE

    @rx.var
    def undoable(self) -> bool:
        """Done, and undo has not run yet."""
        return self.status == ActionStatus.DONE.value and self.undo_status in (
            UndoStatus.AVAILABLE.value,
            UndoStatus.NOT_YET.value,
        )

    # --- the sidebar list ----------------------------------------------------------

    def show_conversation(self, conversation_id: int, items: list[ActionItem]) -> None:
        """Show these actions (read by the caller) for the conversation now open."""
        self.conversation_id = conversation_id
        self.items = items

    async def _refresh_items(self, user_id: int) -> None:
        if self.conversation_id:
            cid = self.conversation_id
            items = await asyncio.to_thread(conversation_action_items, user_id, cid)
            if self.conversation_id == cid:
                self.items = items

    # --- opening an action -----------------------------------------------------------

    async def load_one(self, action_id: int) -> None:
        """Load an action's status for its controls (history details); no Airtable call."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return

        def _read() -> tuple[Action, execution.UndecidedBatch | None]:
            with session_scope() as db:
                action = actions_service.get_action(
                    session=db, user_id=user_id, action_id=action_id
                )
            return action, read_question(user_id, action_id)

        try:
            action, question = await asyncio.to_thread(_read)
        except actions_service.ActionError as exc:
            self.error = exc.message
            return
        self._show(action, question)

    def _show(self, action: Action, question: execution.UndecidedBatch | None = None) -> None:
        self.action_id = action.id or 0
        self.title = f"#{action.id} {action.summary or action.tool_name}"
        self.status = action.status
        self.undo_status = action.undo_status
        self.tool = action.tool_name
        self.error = action.error or "" if action.status in RECOVERABLE else ""
        self.undo_mode = False
        self.progress = ""
        self.stale = False
        self.changed_rows = changed_items(action)
        if running_elsewhere(action):
            self.notice = (
                f"Action #{action.id} {steps.STILL_RUNNING}: resume and roll back wait "
                "until it stops. Reload to see where it stands."
            )
        self.question_step = question.step_id if question else 0
        self.question_kind = question.kind if question else ""
        self.question_sent = question.sent if question else []
        self.question_rows = [
            CandidateRow(
                record_id=c["id"], created=c["created"], values=c["values"], likely=c["likely"]
            )
            for c in (question.candidates if question else [])
        ]

    @rx.event(background=True)
    async def review(self, action_id: int):
        """Open an action: pending ones get a fresh preview read from Airtable."""
        await self._review(action_id)

    async def _review(self, action_id: int) -> None:
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None:
                return
            self.open = True
            self.working = True
            self.error = self.notice = ""
            self.stale = False
            self.rows, self.warnings, self.notes, self.counts = [], [], [], ""

        def _read() -> tuple[Action, ActionPreview | None, execution.UndecidedBatch | None]:
            recover_stale_actions()
            with session_scope() as db:
                action = actions_service.get_action(
                    session=db, user_id=user_id, action_id=action_id
                )
            if action.status not in PENDING:
                return action, None, read_question(user_id, action_id)
            preview = build_preview(
                session_factory=session_scope,
                user_id=user_id,
                action_id=action_id,
                client=_client_for(user_id),
            )
            with session_scope() as db:
                action = actions_service.get_action(
                    session=db, user_id=user_id, action_id=action_id
                )
            return action, preview, None

        try:
            action, preview, question = await asyncio.to_thread(_read)
        except USER_ERRORS as exc:
            async with self:
                self.error = error_text(exc)
                self.working = False
            return
        async with self:
            self._show(action, question)
            if preview is not None:
                self.rows = _review_rows(preview)
                self.warnings = [w["message"] for w in preview["warnings"]]
                self.notes = preview["notes"] + [
                    f"Typecast will add the option{'s' if len(o) > 1 else ''} "
                    f"{', '.join(o)} to {f}."
                    for f, o in preview["new_select_options"].items()
                ]
                c = preview["counts"]
                self.counts = (
                    f"{c['create']} to create · {c['update']} to update · "
                    f"{c['delete']} to delete · {c['unchanged']} unchanged · "
                    f"{c['blocked']} blocked"
                )
                self.typed_always = preview["typed_always"]
                self.threshold = preview["threshold"]
            self.working = False

    @rx.event
    def set_open(self, value: bool):
        """Close the review dialog (nothing is decided by closing it)."""
        if not self.working:
            self.open = value

    @rx.event
    def toggle_row(self, row_id: str):
        """Untick a row to leave it out, tick it to keep it."""
        self.rows = [
            ReviewRow(**{**r, "ticked": not r["ticked"]})
            if r["row_id"] == row_id and not r["blocked"]
            else r
            for r in self.rows
        ]

    @rx.event
    def set_all(self, ticked: bool):
        """Tick or untick every row that may run."""
        self.rows = [ReviewRow(**{**r, "ticked": ticked and not r["blocked"]}) for r in self.rows]

    # --- deciding and running ----------------------------------------------------------

    async def _run(self, user_id: int, work: Callable[..., Action], verb: str) -> None:
        """Run `work(on_progress)` in a thread, showing its progress, then show the result."""
        progress = {"done": 0, "total": 0, "records": 0}

        def on_progress(done: int, total: int, records: int) -> None:
            progress.update(done=done, total=total, records=records)

        task = asyncio.ensure_future(asyncio.to_thread(work, on_progress))
        while not task.done():
            await asyncio.wait({task}, timeout=0.3)
            if progress["total"]:
                async with self:
                    self.progress = (
                        f"{verb}: batch {progress['done']} of {progress['total']} · "
                        f"{progress['records']} records"
                    )
        try:
            action = task.result()
        except USER_ERRORS as exc:
            async with self:
                self.error = error_text(exc)
                self.working = False
                await self._reload_after_error(user_id)
                self.stale = isinstance(exc, approval.StalePreviewError)
            return
        question = await asyncio.to_thread(read_question, user_id, action.id or 0)
        async with self:
            self._show(action, question)
            self.notice = {
                ActionStatus.DONE.value: "Done.",
                ActionStatus.ROLLED_BACK.value: "Rolled back: the base is as it was before.",
                ActionStatus.UNDONE.value: "Undone.",
            }.get(action.status, "")
            if action.status == ActionStatus.DONE.value and self.changed_rows:
                written = action.undo_status != UndoStatus.NOT_POSSIBLE.value
                self.notice = "Done: the other rows were written." if written else ""
            if action.status in RECOVERABLE:
                self.error = action.error or "The action stopped midway."
            if action.undo_note:
                self.notice = f"{self.notice} {action.undo_note}".strip()
            self.working = False
            await self._refresh_items(user_id)

    async def _reload_after_error(self, user_id: int) -> None:
        action_id = self.action_id

        def _read() -> tuple[Action, execution.UndecidedBatch | None]:
            with session_scope() as db:
                action = actions_service.get_action(
                    session=db, user_id=user_id, action_id=action_id
                )
            return action, read_question(user_id, action_id)

        try:
            action, question = await asyncio.to_thread(_read)
        except actions_service.ActionError:
            return
        error = self.error
        self._show(action, question)
        self.error = error
        await self._refresh_items(user_id)

    @rx.event(background=True)
    async def approve(self, form_data: dict[str, Any]):
        """Approve the ticked rows (with the typed count when needed) and run them."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or self.status not in PENDING:
                return
            action_id = self.action_id
            ticked = [r["row_id"] for r in self.rows if r["ticked"]]
            typed = str(form_data.get("typed_count", "")).strip() or None
            self.working = True
            self.error = self.notice = ""

        def work(on_progress: Callable[[int, int, int], None]) -> Action:
            with session_scope() as db:
                approval.approve_action(
                    session=db,
                    user_id=user_id,
                    action_id=action_id,
                    approved_row_ids=ticked,
                    typed_count=typed,
                )
            return execution.execute_action(
                session_factory=session_scope,
                user_id=user_id,
                action_id=action_id,
                client=_client_for(user_id),
                on_progress=on_progress,
            )

        await self._run(user_id, work, "Writing")

    @rx.event(background=True)
    async def review_again(self):
        """Propose the rows left out (changed since the review) again, and open their review."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or not self.changed_rows:
                return
            action_id = self.action_id
        try:
            proposal_id = await asyncio.to_thread(propose_again, user_id, action_id)
        except actions_service.ActionError as exc:
            async with self:
                self.error = exc.message
            return
        async with self:
            await self._refresh_items(user_id)
        await self._review(proposal_id)

    @rx.event
    async def reject(self):
        """Reject the proposal: nothing is sent to Airtable."""
        user_id = await signed_in_user_id(self)
        if user_id is None or self.status not in PENDING:
            return

        def _reject() -> Action:
            with session_scope() as db:
                return actions_service.reject_action(
                    session=db, user_id=user_id, action_id=self.action_id
                )

        try:
            action = await asyncio.to_thread(_reject)
        except actions_service.ActionError as exc:
            self.error = exc.message
            return
        self._show(action)
        self.notice = "Rejected. Nothing was written."
        await self._refresh_items(user_id)

    async def _recover(
        self, recover: Callable[..., Action], verb: str, choice: str | None = None
    ) -> None:
        """Roll back or resume a failed or interrupted action, showing progress.

        `choice` is the user's answer about the batch in question (`QUESTION_CHOICES`);
        it applies to the step shown to this user, read from the server-side state.
        """
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or self.status not in RECOVERABLE:
                return
            action_id = self.action_id
            decisions = (
                {self.question_step: QUESTION_CHOICES[choice][1]}
                if choice is not None and self.question_step
                else None
            )
            self.working = True
            self.error = self.notice = ""

        def work(on_progress: Callable[[int, int, int], None]) -> Action:
            return recover(
                session_factory=session_scope,
                user_id=user_id,
                action_id=action_id,
                client=_client_for(user_id),
                on_progress=on_progress,
                decisions=decisions,
            )

        await self._run(user_id, work, verb)

    @rx.event(background=True)
    async def rollback(self):
        """Undo the batches a failed or interrupted action already applied."""
        await self._recover(execution.rollback_action, "Rolling back")

    @rx.event(background=True)
    async def resume(self):
        """Run the batches a failed or interrupted action has not applied yet."""
        await self._recover(execution.resume_action, "Resuming")

    @rx.event(background=True)
    async def answer_question(self, choice: str):
        """The user's answer about a batch Airtable cannot settle; resume or roll back with it."""
        if not isinstance(choice, str) or choice not in QUESTION_CHOICES:
            return  # any client can send anything here
        run = QUESTION_CHOICES[choice][0]
        if run == "rollback":
            await self._recover(execution.rollback_action, "Rolling back", choice)
        else:
            await self._recover(execution.resume_action, "Resuming", choice)

    # --- undo ------------------------------------------------------------------------

    @rx.event(background=True)
    async def plan_undo(self):
        """Show what undo would do, record by record, with conflicts to decide."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working:
                return
            action_id = self.action_id
            self.working = True
            self.error = self.notice = ""

        try:
            plan = await asyncio.to_thread(
                lambda: undo.plan_undo(
                    session_factory=session_scope,
                    user_id=user_id,
                    action_id=action_id,
                    client=_client_for(user_id),
                )
            )
        except USER_ERRORS as exc:
            async with self:
                self.error = error_text(exc)
                self.working = False
            return
        async with self:
            self.undo_mode = True
            self.undo_possible = plan["possible"]
            self.undo_message = plan["message"]
            self.undo_notes = plan["notes"]
            self.undo_rows = [
                UndoItem(
                    row_id=r["row_id"],
                    label=r["label"],
                    effect=r["effect"],
                    cells=[
                        f"{c['field']}: now {_value(c['current'])} → {_value(c['restore'])}"
                        + (" (changed since)" if c["conflict"] else "")
                        for c in r["cells"]
                    ],
                    conflict=r["conflict"],
                    missing=r["missing"],
                    note=r["note"],
                    choice="skip" if r["conflict"] else "overwrite",
                )
                for r in plan["rows"]
            ]
            self.working = False

    @rx.event
    def set_choice(self, row_id: str, choice: str):
        """For a record changed since the action: overwrite the newer values or skip it."""
        if choice not in ("overwrite", "skip"):
            return
        self.undo_rows = [
            UndoItem(**{**r, "choice": choice}) if r["row_id"] == row_id else r
            for r in self.undo_rows
        ]

    @rx.event(background=True)
    async def confirm_undo(self):
        """Undo the action with the choices made for conflicting records."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or not self.undo_possible:
                return
            action_id = self.action_id
            resolutions = {r["row_id"]: r["choice"] for r in self.undo_rows if r["conflict"]}
            self.working = True
            self.error = self.notice = ""

        def work(on_progress: Callable[[int, int, int], None]) -> Action:
            return undo.undo_action(
                session_factory=session_scope,
                user_id=user_id,
                action_id=action_id,
                client=_client_for(user_id),
                resolutions=resolutions,
                on_progress=on_progress,
            )

        await self._run(user_id, work, "Undoing")
