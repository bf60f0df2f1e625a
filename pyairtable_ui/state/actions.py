"""Safe writes in the browser: review a proposed action, run it, roll back, resume, undo.

One state serves the chat's action sidebar and `/history`. Every handler checks
the user on the server, then awaits one flow of `pyairtable_ui.actions.flows` in a
worker thread (the flows build the user's own paced client) and shows what it
returns through the row builders of `pyairtable_ui.actions.rows`; progress is read
from the worker while it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import reflex as rx

from pyairtable_ui.actions import flows, rows
from pyairtable_ui.actions.flows import Outcome
from pyairtable_ui.actions.models import ActionStatus
from pyairtable_ui.actions.rows import (
    PENDING,
    RECOVERABLE,
    ActionItem,
    CandidateRow,
    ChangedItem,
    ReviewRow,
    UndoItem,
)
from pyairtable_ui.actions.steps import ProgressCallback
from pyairtable_ui.state.auth import signed_in_user_id


class ActionsState(rx.State):
    """The actions of the open conversation, and the one action under review."""

    conversation_id: int = 0
    items: list[ActionItem] = []

    open: bool = False
    action_id: int = 0
    title: str = ""
    status: str = ""
    # The status as the user reads it (`rows.STATE_WORDS`).
    word: str = ""
    undo_status: str = ""
    # Whether it can be undone, in words ("" when there is nothing to say).
    undo_word: str = ""
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
    # A created table or field cannot be undone: the rename offered instead ("" if none).
    undo_rename: str = ""

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
    def waiting_count(self) -> int:
        """How many of the conversation's actions wait for the user's review."""
        return rows.waiting_count(self.items)

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
        """Done, and undo has not run yet (or a rename is offered instead)."""
        return rows.can_offer_undo(self.status, self.undo_status, self.tool)

    # --- the sidebar list ----------------------------------------------------------

    def show_conversation(self, conversation_id: int, items: list[ActionItem]) -> None:
        """Show these actions (read by the caller) for the conversation now open."""
        self.conversation_id = conversation_id
        self.items = items

    def _show_items(self, outcome: Outcome, conversation_id: int) -> None:
        """The sidebar's list a flow read again, unless another conversation is open now."""
        if outcome.items is not None and self.conversation_id == conversation_id:
            self.items = outcome.items

    # --- opening an action -----------------------------------------------------------

    async def load_one(self, action_id: int) -> None:
        """Load an action's status for its controls (history details); no Airtable call."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return
        outcome = await asyncio.to_thread(flows.open_action, user_id, action_id)
        if outcome.action is None:
            self.error = outcome.error
            return
        self._show(outcome)

    def _show(self, outcome: Outcome) -> None:
        assert outcome.action is not None
        view = rows.action_view(outcome.action, outcome.question)
        self.action_id = view.action_id
        self.title = view.title
        self.status = view.status
        self.word = view.word
        self.undo_status = view.undo_status
        self.undo_word = view.undo_word
        self.tool = view.tool
        self.error = view.error
        self.undo_mode = False
        self.undo_rename = ""
        self.progress = ""
        self.stale = False
        self.changed_rows = view.changed_rows
        if view.elsewhere:
            self.notice = view.elsewhere
        self.question_step = view.question_step
        self.question_kind = view.question_kind
        self.question_sent = view.question_sent
        self.question_rows = view.question_rows

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
        outcome = await asyncio.to_thread(flows.review, user_id, action_id)
        async with self:
            if outcome.action is None:
                self.error = outcome.error
                self.working = False
                return
            self._show(outcome)
            if outcome.preview is not None:
                panel = rows.review_panel(outcome.preview, outcome.action.base_id)
                self.rows = panel.rows
                self.warnings = panel.warnings
                self.notes = panel.notes
                self.counts = panel.counts
                self.typed_always = panel.typed_always
                self.threshold = panel.threshold
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

    async def _run(
        self, user_id: int, work: Callable[[ProgressCallback], Outcome], doing: ActionStatus
    ):
        """Run `work(on_progress)` in a thread, showing its progress, then show the result.

        `doing` is the status the action runs in (applying, rolling back, undoing): its
        word heads the dialog's progress line and the action's cards follow it.
        """
        progress = {"done": 0, "total": 0, "records": 0}

        def on_progress(done: int, total: int, records: int) -> None:
            progress.update(done=done, total=total, records=records)

        conversation_id = self.conversation_id
        action_id = self.action_id
        word = rows.state_word(doing)
        task = asyncio.ensure_future(asyncio.to_thread(work, on_progress))
        while not task.done():
            await asyncio.wait({task}, timeout=0.3)
            if progress["total"]:
                async with self:
                    self.progress = (
                        f"{word}: batch {progress['done']} of {progress['total']} · "
                        f"{progress['records']} records"
                    )
                    state = rows.progress_state(doing, progress["done"], progress["total"])
                    self.items = rows.with_progress(self.items, action_id, state)
        outcome = task.result()
        async with self:
            self.working = False
            if outcome.error:
                # The action as the error left it, with the error beside it.
                if outcome.action is not None:
                    self._show(outcome)
                    self._show_items(outcome, conversation_id)
                self.error = outcome.error
                self.stale = outcome.stale
                return
            assert outcome.action is not None
            self._show(outcome)
            self.notice = rows.finished_notice(outcome.action, self.changed_rows)
            self.error = rows.stopped_error(outcome.action) or self.error
            self._show_items(outcome, conversation_id)

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
            conversation_id = self.conversation_id
            self.working = True
            self.error = self.notice = ""

        await self._run(
            user_id,
            lambda on_progress: flows.approve_and_run(
                user_id,
                action_id,
                approved_row_ids=ticked,
                typed_count=typed,
                on_progress=on_progress,
                conversation_id=conversation_id,
            ),
            ActionStatus.RUNNING,
        )

    @rx.event(background=True)
    async def review_again(self):
        """Propose the rows left out (changed since the review) again, and open their review."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or not self.changed_rows:
                return
            action_id = self.action_id
            conversation_id = self.conversation_id
        outcome = await asyncio.to_thread(
            flows.propose_again, user_id, action_id, conversation_id=conversation_id
        )
        await self._review_proposal(outcome, conversation_id)

    async def _review_proposal(self, outcome: Outcome, conversation_id: int) -> None:
        """Open the review of an action a flow just proposed (or show why it could not)."""
        async with self:
            if outcome.action is None:
                self.error = outcome.error
                return
            self._show_items(outcome, conversation_id)
        await self._review(outcome.action.id or 0)

    @rx.event
    async def reject(self):
        """Reject the proposal: nothing is sent to Airtable."""
        user_id = await signed_in_user_id(self)
        if user_id is None or self.status not in PENDING:
            return
        conversation_id = self.conversation_id
        outcome = await asyncio.to_thread(
            flows.reject, user_id, self.action_id, conversation_id=conversation_id
        )
        if outcome.action is None:
            self.error = outcome.error
            return
        self._show(outcome)
        self.notice = "Rejected. Nothing was written."
        self._show_items(outcome, conversation_id)

    async def _recover(
        self, doing: ActionStatus, flow: Callable[..., Outcome], choice: str | None = None
    ) -> None:
        """Roll back or resume a failed or interrupted action with `flow`, showing progress.

        `choice` is the user's answer about the batch in question (`flows.answer_question`);
        it applies to the step shown to this user, read from the server-side state.
        """
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or self.status not in RECOVERABLE:
                return
            action_id = self.action_id
            step_id = self.question_step
            conversation_id = self.conversation_id
            self.working = True
            self.error = self.notice = ""

        answer = {"choice": choice, "step_id": step_id} if choice is not None else {}

        def work(on_progress: ProgressCallback) -> Outcome:
            return flow(
                user_id,
                action_id,
                on_progress=on_progress,
                conversation_id=conversation_id,
                **answer,
            )

        await self._run(user_id, work, doing)

    @rx.event(background=True)
    async def rollback(self):
        """Undo the batches a failed or interrupted action already applied."""
        await self._recover(ActionStatus.ROLLING_BACK, flows.roll_back)

    @rx.event(background=True)
    async def resume(self):
        """Run the batches a failed or interrupted action has not applied yet."""
        await self._recover(ActionStatus.RUNNING, flows.resume)

    @rx.event(background=True)
    async def answer_question(self, choice: str):
        """The user's answer about a batch Airtable cannot settle; resume or roll back with it."""
        if not isinstance(choice, str) or choice not in flows.QUESTION_CHOICES:
            return  # any client can send anything here
        rollback = flows.QUESTION_CHOICES[choice][0] == "rollback"
        doing = ActionStatus.ROLLING_BACK if rollback else ActionStatus.RUNNING
        await self._recover(doing, flows.answer_question, choice)

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
        outcome = await asyncio.to_thread(flows.plan_undo, user_id, action_id)
        async with self:
            self.working = False
            if outcome.undo_plan is None:
                self.error = outcome.error
                return
            view = rows.undo_view(outcome.undo_plan)
            self.undo_mode = True
            self.undo_possible = view.possible
            self.undo_message = view.message
            self.undo_notes = view.notes
            self.undo_rows = view.rows
            self.undo_rename = view.rename

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
            conversation_id = self.conversation_id
            self.working = True
            self.error = self.notice = ""

        await self._run(
            user_id,
            lambda on_progress: flows.undo_action(
                user_id,
                action_id,
                resolutions=resolutions,
                on_progress=on_progress,
                conversation_id=conversation_id,
            ),
            ActionStatus.UNDOING,
        )

    @rx.event(background=True)
    async def rename_instead(self):
        """A created table or field cannot be undone: propose the suggested rename, review it."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or not self.undo_rename:
                return
            action_id = self.action_id
            conversation_id = self.conversation_id
            # One click, one proposal: the button waits while the rename is proposed.
            self.working = True
            self.error = self.notice = ""
        outcome = await asyncio.to_thread(
            flows.rename_instead, user_id, action_id, conversation_id=conversation_id
        )
        if outcome.action is None:
            async with self:
                self.working = False
        await self._review_proposal(outcome, conversation_id)
