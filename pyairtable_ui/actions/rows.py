"""Actions as the pages show them: the sidebar, the review dialog, undo, `/history`.

Plain functions from the services' shapes (`Action`, `ActionPreview`, `UndoPlan`,
`HistoryRow`...) to the small JSON-ready rows the Reflex state holds, so what the
user reads is built (and tested) without a browser. Nothing here reads the
database or Airtable.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypedDict

from pyairtable_ui.actions.base import IRREVERSIBLE_OPS
from pyairtable_ui.actions.execution import WORKING
from pyairtable_ui.actions.history import ActionDetails, HistoryRow, StepDetail
from pyairtable_ui.actions.models import Action, ActionStatus, UndoStatus
from pyairtable_ui.actions.preview import ActionPreview
from pyairtable_ui.actions.recovery import UndecidedBatch
from pyairtable_ui.actions.steps import STILL_RUNNING, held_elsewhere
from pyairtable_ui.actions.undo import UndoPlan
from pyairtable_ui.airtable.links import record_url
from pyairtable_ui.sample.tour import is_sample_base_id

PENDING = {ActionStatus.PROPOSED.value, ActionStatus.PREVIEWED.value}
RECOVERABLE = {ActionStatus.FAILED.value, ActionStatus.INTERRUPTED.value}
RUNNING = {s.value for s in WORKING}


class ActionItem(TypedDict):
    """A proposed or finished write, as its cards show it (sidebar and conversation).

    `step_action` is the action whose tool step proposed this one: itself, or for a
    proposal made again from the same step ("Review them again"), the first one, so
    its card sits under that step in the conversation. 0: proposed outside a step.
    """

    id: int
    summary: str
    tool: str
    status: str
    record_count: int
    pending: bool
    error: str
    word: str
    state: str
    message_id: int
    step_action: int


class ReviewCell(TypedDict):
    """One field of a review row, drawn as the value was: text, chips or a date.

    `view` is `text`, `chips` (select options and other lists, one chip each),
    `date` or `datetime` (ISO text, shown in the browser's locale and time zone).
    `shows` is `change` (old struck through, new highlighted), `new` (a created
    record's value) or `old` (a deleted record's value).
    """

    field: str
    view: str
    shows: str
    old: str
    new: str
    old_chips: list[str]
    new_chips: list[str]


class ReviewRow(TypedDict):
    """One record of the preview: what changes, and whether the user keeps it ticked.

    `changes` says it in one line per field; `cells` is the same for the dialog to
    draw; `url` opens the record in Airtable ("" for a new record or a foreign id).
    """

    row_id: str
    kind: str
    label: str
    record_id: str
    url: str
    changes: list[str]
    cells: list[ReviewCell]
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


# --- the state words ----------------------------------------------------------------------

# What each status is called wherever the user reads it (the cards in the conversation and
# the sidebar, the review dialog): one word per state, so "proposed" and "previewed" are
# not two names for the one thing the user has to do, which is review it.
STATE_WORDS: dict[str, str] = {
    ActionStatus.PROPOSED.value: "Waiting for your review",
    ActionStatus.PREVIEWED.value: "Waiting for your review",
    ActionStatus.CONFIRMED.value: "Approved",
    ActionStatus.REJECTED.value: "Rejected",
    ActionStatus.RUNNING.value: "Applying",
    ActionStatus.DONE.value: "Applied",
    ActionStatus.FAILED.value: "Failed",
    ActionStatus.INTERRUPTED.value: "Interrupted",
    ActionStatus.ROLLING_BACK.value: "Rolling back",
    ActionStatus.ROLLED_BACK.value: "Rolled back",
    ActionStatus.UNDOING.value: "Undoing",
    ActionStatus.UNDONE.value: "Undone",
}

MAX_STATE_ERROR_CHARS = 160
# An action the admin's rule approved, in place of "Applied" (still undoable as any other).
AUTO_APPLIED_WORD = "Applied automatically by the instance rule"


def state_word(status: str) -> str:
    """The word the user reads for a status (the status itself if it has none)."""
    return STATE_WORDS.get(status, status)


def state_text(action: Action) -> str:
    """Where an action stands, in one line: "Applied 21 of 25", "Failed: …", "Undone".

    "of" appears only when fewer records were written than the model proposed (rows
    unticked in the review, or left out because they changed since it).
    """
    word = state_word(action.status)
    if action.auto_approved and action.status == ActionStatus.DONE.value:
        word = AUTO_APPLIED_WORD
    if action.status == ActionStatus.DONE.value:
        proposed = _proposed_records(action)
        applied = max(action.record_count - len(changed_items(action)), 0)
        if proposed and applied < proposed:
            return f"{word} {applied} of {proposed}"
    if action.status == ActionStatus.FAILED.value and action.error:
        error = action.error
        if len(error) > MAX_STATE_ERROR_CHARS:
            error = error[: MAX_STATE_ERROR_CHARS - 1] + "…"
        return f"{word}: {error}"
    return word


def progress_state(status: str, done: int, total: int) -> str:
    """A run under way, as the cards say it: "Applying 2 of 3 batches"."""
    return f"{state_word(status)} {done} of {total} batch{'es' if total != 1 else ''}"


def with_progress(items: list[ActionItem], action_id: int, state: str) -> list[ActionItem]:
    """The cards with the running action's state replaced (a new list; others unchanged)."""
    return [
        ActionItem(**{**item, "state": state}) if item["id"] == action_id else item
        for item in items
    ]


def _proposed_records(action: Action) -> int:
    """How many records the model proposed to write (0 for a change to the schema)."""
    plan = action.plan or {}
    if plan.get("kind") != "records":
        return 0
    return len(plan.get("operations") or [])


def value_text(value: Any) -> str:
    """A cell value in one short line ("(empty)" for nothing)."""
    if value is None or value == "" or value == []:
        return "(empty)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "…"


# --- the sidebar and the review dialog -------------------------------------------------


def action_item(action: Action, step_action: int | None = None) -> ActionItem:
    """An action as its cards show it.

    Args:
        action: The action.
        step_action: The action whose step proposed it (see `ActionItem`); by
            default itself when a step proposed it, else 0.
    """
    if step_action is None:
        step_action = (action.id or 0) if action.message_id is not None else 0
    return ActionItem(
        id=action.id or 0,
        summary=action.summary or action.tool_name,
        tool=action.tool_name,
        status=action.status,
        record_count=action.record_count,
        pending=action.status in PENDING,
        error=action.error or "",
        word=state_word(action.status),
        state=state_text(action),
        message_id=action.message_id or 0,
        step_action=step_action,
    )


def action_items(actions: Iterable[Action]) -> list[ActionItem]:
    """A conversation's actions as their cards show them, each tied to its step.

    Actions proposed from one tool step (the model's, then "Review them again" of rows
    that changed) share its message: all of them are tied to the first, the one the
    step reported, which is how the conversation knows where to show their cards.
    """
    actions = list(actions)
    first: dict[int, int] = {}
    for a in actions:
        if a.message_id is not None and a.id is not None:
            first[a.message_id] = min(first.get(a.message_id, a.id), a.id)
    return [
        action_item(a, first.get(a.message_id, 0) if a.message_id is not None else 0)
        for a in actions
    ]


def waiting_count(items: Iterable[ActionItem]) -> int:
    """How many actions wait for the user's review."""
    return sum(1 for item in items if item["pending"])


def running_elsewhere(action: Action) -> bool:
    """Whether another process is running the action right now (it holds its lease)."""
    return action.status in RUNNING and held_elsewhere(action)


def changed_items(action: Action) -> list[ChangedItem]:
    """The rows an action left out because they changed since the review, as shown."""
    rows = (action.changed_since_review or {}).get("rows") or []
    return [
        ChangedItem(
            row_id=str(r.get("row_id")),
            label=str(r.get("label") or r.get("record_id") or ""),
            record_id=str(r.get("record_id") or ""),
            cells=[
                f"{c['field']}: {value_text(c['reviewed'])} when you reviewed → "
                f"{value_text(c['current'])} now"
                for c in r.get("cells") or []
            ],
            note=str(r.get("note") or ""),
        )
        for r in rows
        if isinstance(r, dict)
    ]


@dataclass(frozen=True)
class ActionView:
    """What the review dialog shows of one action, whatever it is doing.

    Attributes:
        action_id: The action.
        title: "#12 Update 3 records in Items (Name)".
        status: Its status.
        word: Its status as the user reads it (`STATE_WORDS`).
        undo_status: Its undo status.
        undo_word: Whether it can be undone, in words (`UNDO_WORDS`).
        tool: The tool that proposed it.
        error: Why it stopped (failed or interrupted ones only).
        changed_rows: Rows left out because they changed since the review.
        elsewhere: A notice when another process runs it ("" when none does).
        question_step: The step of a batch Airtable cannot settle (0: none).
        question_kind: ``apply`` or ``compensate``.
        question_sent: What that batch asked for, one line per record.
        question_rows: Records created since that may be the batch's.
    """

    action_id: int
    title: str
    status: str
    word: str
    undo_status: str
    undo_word: str
    tool: str
    error: str
    changed_rows: list[ChangedItem]
    elsewhere: str
    question_step: int = 0
    question_kind: str = ""
    question_sent: list[str] = field(default_factory=list)
    question_rows: list[CandidateRow] = field(default_factory=list)


def action_view(action: Action, question: UndecidedBatch | None = None) -> ActionView:
    """The review dialog's view of an action (and of its batch in question, if any)."""
    elsewhere = ""
    if running_elsewhere(action):
        elsewhere = (
            f"Action #{action.id} {STILL_RUNNING}: resume and roll back wait "
            "until it stops. Reload to see where it stands."
        )
    return ActionView(
        action_id=action.id or 0,
        title=f"#{action.id} {action.summary or action.tool_name}",
        status=action.status,
        word=state_word(action.status),
        undo_status=action.undo_status,
        undo_word=undo_word(action.undo_status),
        tool=action.tool_name,
        error=action.error or "" if action.status in RECOVERABLE else "",
        changed_rows=changed_items(action),
        elsewhere=elsewhere,
        question_step=question.step_id if question else 0,
        question_kind=question.kind if question else "",
        question_sent=question.sent if question else [],
        question_rows=[
            CandidateRow(
                record_id=c["id"], created=c["created"], values=c["values"], likely=c["likely"]
            )
            for c in (question.candidates if question else [])
        ],
    )


def can_offer_undo(status: str, undo_status: str, tool: str) -> bool:
    """Whether "Undo…" is offered: a done action not undone yet, or a created table or
    field, which cannot be undone but can be renamed instead (its undo plan says so)."""
    if status != ActionStatus.DONE.value:
        return False
    if undo_status in (UndoStatus.AVAILABLE.value, UndoStatus.NOT_YET.value):
        return True
    return undo_status == UndoStatus.NOT_POSSIBLE.value and tool in IRREVERSIBLE_OPS


# Field types whose values are drawn as chips, and those that hold a date or a moment.
CHIP_TYPES = {"singleSelect", "multipleSelects"}
DATE_TYPES = {"date": "date", "dateTime": "datetime", "createdTime": "datetime"}
DATE_TYPES["lastModifiedTime"] = "datetime"
_EMPTY = "(empty)"


def _chips(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    return [value_text(item) for item in items if item not in (None, "")]


def cell_view(field_type: str, old: Any, new: Any) -> str:
    """How a cell is drawn: `chips`, `date`, `datetime` or `text` (see `ReviewCell`)."""
    values = [v for v in (old, new) if v not in (None, "", [])]
    if field_type in CHIP_TYPES:
        return "chips"
    if field_type in DATE_TYPES and all(isinstance(v, str) for v in values):
        return DATE_TYPES[field_type]
    if values and all(
        isinstance(v, list) and v and all(isinstance(i, str) for i in v) for v in values
    ):
        return "chips"  # a list of names (a multiple select the schema no longer knows)
    return "text"


def review_cell(field: str, field_type: str, old: Any, new: Any, shows: str) -> ReviewCell:
    """One field of a review row (see `ReviewCell`)."""
    view = cell_view(field_type, old, new)
    chips = view == "chips"
    return ReviewCell(
        field=field,
        view=view,
        shows=shows,
        old=value_text(old) if view == "text" or old in (None, "") else str(old),
        new=value_text(new) if view == "text" or new in (None, "") else str(new),
        old_chips=_chips(old) if chips else [],
        new_chips=_chips(new) if chips else [],
    )


def review_rows(preview: ActionPreview, base_id: str = "") -> list[ReviewRow]:
    """The preview's rows as the user ticks them (blocked ones unticked).

    Args:
        preview: The fresh preview.
        base_id: The action's base, so each existing record links to Airtable.
    """
    types: dict[str, str] = dict(preview.get("field_types") or {})
    table_id = preview["table_id"] or ""
    rows = []
    for row in preview["rows"]:
        kind = row["kind"]
        if kind == "delete":
            cells = [
                review_cell(c["field"], types.get(c["field"], ""), c["old"], None, "old")
                for c in row["cells"]
            ]
        elif kind in ("create", "upsert_create"):
            cells = [
                review_cell(c["field"], types.get(c["field"], ""), None, c["new"], "new")
                for c in row["cells"]
            ]
        else:
            cells = [
                review_cell(c["field"], types.get(c["field"], ""), c["old"], c["new"], "change")
                for c in row["cells"]
                if c["changed"]
            ]
        if row["kind"] == "delete":
            changes = [f"{c['field']}: {value_text(c['old'])}" for c in row["cells"]]
        elif row["kind"] in ("create", "upsert_create"):
            changes = [f"{c['field']}: {value_text(c['new'])}" for c in row["cells"]]
        else:
            changes = [
                f"{c['field']}: {value_text(c['old'])} → {value_text(c['new'])}"
                for c in row["cells"]
                if c["changed"]
            ] or ["no change"]
        record_id = row["record_id"] or ""
        rows.append(
            ReviewRow(
                row_id=row["row_id"],
                kind=row["kind"],
                label=row["label"],
                record_id=record_id,
                url=record_url(base_id, table_id, record_id) if record_id else "",
                changes=changes,
                cells=cells,
                blocked=row["blocked"],
                warnings=" ".join(row["warnings"]),
                ticked=not row["blocked"],
            )
        )
    return rows


@dataclass(frozen=True)
class ReviewPanel:
    """What the review dialog shows of a fresh preview."""

    rows: list[ReviewRow]
    warnings: list[str]
    notes: list[str]
    counts: str
    typed_always: bool
    threshold: int


def counts_text(counts: Mapping[str, Any]) -> str:
    """What the preview holds, without the kinds it has none of ("3 to update · 1 blocked")."""
    parts = [
        f"{counts[key]} {words}"
        for key, words in (
            ("create", "to create"),
            ("update", "to update"),
            ("delete", "to delete"),
            ("unchanged", "unchanged"),
            ("blocked", "blocked"),
        )
        if counts.get(key)
    ]
    return " · ".join(parts) or "Nothing to change"


def panel_warnings(preview: ActionPreview) -> list[str]:
    """The warnings above the rows, each said once.

    A row's own warnings are under that row; the options typecast will add are in
    the notes (one line per field): neither is repeated here.
    """
    options = preview["new_select_options"]
    seen: list[str] = []
    for w in preview["warnings"]:
        if w["row_id"] is not None or (w["level"] == "info" and w["field"] in options):
            continue
        if w["message"] not in seen:
            seen.append(w["message"])
    return seen


def review_panel(preview: ActionPreview, base_id: str = "") -> ReviewPanel:
    """The preview as the review dialog shows it: rows, warnings, notes, counts."""
    return ReviewPanel(
        rows=review_rows(preview, base_id),
        warnings=panel_warnings(preview),
        notes=preview["notes"]
        + [
            f"Typecast will add the option{'s' if len(o) > 1 else ''} {', '.join(o)} to {f}."
            for f, o in preview["new_select_options"].items()
        ],
        counts=counts_text(preview["counts"]),
        typed_always=preview["typed_always"],
        threshold=preview["threshold"],
    )


_DONE_VERBS = {
    "create": "created",
    "update": "changed",
    "upsert": "created or updated",
    "delete": "deleted",
}


def applied_text(action: Action, changed_rows: list[ChangedItem]) -> str:
    """What a finished write did, in a sentence ("Applied: 3 records changed in Items.")."""
    plan = action.plan or {}
    verb = _DONE_VERBS.get(str(plan.get("op") or ""))
    if plan.get("kind") == "records" and verb:
        # The rows the user kept ticked (the approved plan), less those left out since.
        operations = (action.approved_plan or {}).get("operations")
        approved = len(operations) if isinstance(operations, list) else action.record_count
        written = max(approved - len(changed_rows), 0)
        where = f" in {action.table_name}" if action.table_name else ""
        return f"Applied: {written} record{'' if written == 1 else 's'} {verb}{where}."
    if changed_rows:
        return "Applied to the other records."
    summary = action.summary or action.tool_name
    return f"Applied: {summary}." if summary else "Applied."


UNDO_WORDS: dict[str, str] = {
    UndoStatus.NOT_YET.value: "",  # nothing written yet: nothing to say
    UndoStatus.AVAILABLE.value: "Can be undone",
    UndoStatus.NOT_POSSIBLE.value: "Cannot be undone",
    UndoStatus.DONE.value: "",  # the state word says Undone
    UndoStatus.PARTIAL.value: "Partly undone",
}


def undo_word(undo_status: str) -> str:
    """Whether it can be undone, as the dialog says it ("" when that says nothing)."""
    return UNDO_WORDS.get(undo_status, "")


def finished_notice(action: Action, changed_rows: list[ChangedItem]) -> str:
    """What the dialog says when a run (write, roll back, resume, undo) has ended."""
    notice = {
        ActionStatus.DONE.value: applied_text(action, changed_rows),
        ActionStatus.ROLLED_BACK.value: "Rolled back: the base is as it was before.",
        ActionStatus.UNDONE.value: "Undone.",
    }.get(action.status, "")
    if action.status == ActionStatus.DONE.value and changed_rows:
        written = action.undo_status != UndoStatus.NOT_POSSIBLE.value
        notice = applied_text(action, changed_rows) if written else ""
    if action.undo_note and action.undo_note != notice:
        # Said once: an undo with nothing to add notes just "Undone." too.
        notice = f"{notice} {action.undo_note}".strip()
    return notice


def stopped_error(action: Action) -> str:
    """Why a run stopped midway ("" when it did not)."""
    if action.status in RECOVERABLE:
        return action.error or "The action stopped midway."
    return ""


# --- undo --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UndoView:
    """What the undo part of the dialog shows.

    Attributes:
        possible: Undo can run ("Undo this action" is offered).
        message: What undo does, or why it cannot.
        notes: What it will leave alone, and why.
        rows: Record by record, with a choice for those changed since.
        rename: For a created table or field, which cannot be undone: the rename
            offered instead, as the button says it ("" when none is).
    """

    possible: bool
    message: str
    notes: list[str]
    rows: list[UndoItem]
    rename: str


def undo_view(plan: UndoPlan) -> UndoView:
    """The undo plan as the dialog shows it (conflicting records default to "skip")."""
    suggestion = plan["rename_suggestion"]
    rename = ""
    if suggestion is not None:
        rename = (
            f"Rename the {suggestion['kind']} “{suggestion['current_name']}” "
            f"to “{suggestion['suggested_name']}”"
        )
    return UndoView(
        possible=plan["possible"],
        message=plan["message"],
        notes=plan["notes"],
        rows=[
            UndoItem(
                row_id=r["row_id"],
                label=r["label"],
                effect=r["effect"],
                cells=[
                    f"{c['field']}: now {value_text(c['current'])} → {value_text(c['restore'])}"
                    + (" (changed since)" if c["conflict"] else "")
                    for c in r["cells"]
                ],
                conflict=r["conflict"],
                missing=r["missing"],
                note=r["note"],
                choice="skip" if r["conflict"] else "overwrite",
            )
            for r in plan["rows"]
        ],
        rename=rename,
    )


# --- /history ----------------------------------------------------------------------------


class HistoryItem(TypedDict):
    """One action as the history table shows it."""

    id: int
    who: str
    tool: str
    base_id: str
    table: str
    summary: str
    status: str
    word: str
    undo_status: str
    undo_word: str
    records: int
    changed: int
    created: str
    sample: bool
    scheduled: bool


class StepItem(TypedDict):
    """One Airtable request of the action whose details are open."""

    kind: str
    seq: int
    status: str
    request: str
    records: int
    duration: str
    error: str


def history_item(row: HistoryRow) -> HistoryItem:
    """An action as a row of the history table."""
    return HistoryItem(
        id=row["id"],
        who=row["user_email"],
        tool=row["tool_name"],
        base_id=row["base_id"],
        table=row["table_name"] or row["table_id"] or "",
        summary=row["summary"],
        status=row["status"],
        word=state_word(row["status"]),
        undo_status=row["undo_status"],
        undo_word=undo_word(row["undo_status"]),
        records=row["record_count"],
        changed=len(row["changed_since_review"]),
        created=(row["created_at"] or "")[:16].replace("T", " "),
        sample=is_sample_base_id(row["base_id"]),
        scheduled=row["source"] == "schedule",
    )


def step_item(step: StepDetail) -> StepItem:
    """One Airtable request as a row of the details dialog."""
    return StepItem(
        kind=step["kind"],
        seq=step["seq"],
        status=step["status"],
        request=f"{step['method']} {step['path']}",
        records=len(step["record_ids"]),
        duration="" if step["duration_ms"] is None else f"{step['duration_ms']:.0f} ms",
        error=step["error"] or "",
    )


def pretty_json(value: Any, limit: int = 6000) -> str:
    """JSON for a code block, cut after `limit` characters (the export has all of it)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "\n… (cut; export JSON for all of it)"


def status_filter_options() -> list[tuple[str, str]]:
    """The history's status filter: (status, its words), the two waiting ones told apart."""
    apart = {
        ActionStatus.PROPOSED.value: "Waiting for your review (not opened yet)",
        ActionStatus.PREVIEWED.value: "Waiting for your review (opened)",
    }
    return [(s.value, apart.get(s.value, state_word(s.value))) for s in ActionStatus]


class RecordLinkItem(TypedDict):
    """A record an action touched, by name, with its page in Airtable."""

    label: str
    url: str


MAX_DETAIL_RECORDS = 50


def detail_records(details: ActionDetails) -> list[RecordLinkItem]:
    """The records an action touched, each linking to Airtable (the first 50).

    Named as the review named them (its preview's rows); records known only from
    the requests (created ones) by their id. Ids that are not Airtable's get no row.
    """
    action = details["action"]
    names: dict[str, str] = {}
    for row in (details.get("preview") or {}).get("rows") or []:
        if isinstance(row, dict) and row.get("record_id"):
            names.setdefault(str(row["record_id"]), str(row.get("label") or row["record_id"]))
    for step in details["steps"]:
        for record_id in step["record_ids"]:
            names.setdefault(record_id, record_id)
    items = []
    for record_id, label in names.items():
        url = record_url(action["base_id"], action["table_id"], record_id)
        if url:
            items.append(RecordLinkItem(label=label, url=url))
        if len(items) == MAX_DETAIL_RECORDS:
            break
    return items


@dataclass(frozen=True)
class DetailsView:
    """The details dialog of one action: title, records, the model's arguments, requests."""

    title: str
    arguments: str
    snapshots: str
    steps: list[StepItem]
    records: list[RecordLinkItem] = field(default_factory=list)


def details_view(details: ActionDetails) -> DetailsView:
    """An action's details as the history page's dialog shows them."""
    action = details["action"]
    return DetailsView(
        title=f"#{action['id']} {action['tool_name']} · {action['summary']}",
        arguments=pretty_json(details["arguments"]),
        snapshots=pretty_json(
            [
                {"seq": s["seq"], "kind": s["kind"], "before": s["before"], "after": s["after"]}
                for s in details["steps"]
            ]
        ),
        steps=[step_item(s) for s in details["steps"]],
        records=detail_records(details),
    )
