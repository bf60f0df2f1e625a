"""The rows the chat page shows, built from database rows and agent events.

Plain functions without Reflex, so what a message, a tool step or the usage line
says is unit-tested without a browser. `state.py` holds the lists they build.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, TypedDict

from pyairtable_ui.actions.rows import ActionItem
from pyairtable_ui.airtable.connections import BaseAccess
from pyairtable_ui.airtable.links import is_table_id, record_url
from pyairtable_ui.chat.models import Conversation, Message, MessageRole, MessageStatus
from pyairtable_ui.chat.service import TurnUsage
from pyairtable_ui.chat.step_words import step_words

# A step's raw arguments (behind its details toggle) are cut here; the rest is stored.
MAX_ARGUMENTS_CHARS = 2000
MAX_SUMMARY_CHARS = 160
# A search that found this many records or fewer shows them as cards under its step.
MAX_RECORD_CARDS = 10
MAX_CARD_FIELDS = 4
MAX_CARD_VALUE_CHARS = 80
# A grouped aggregate is drawn as bars up to this many groups (the largest, as the
# tool lists them); labels longer than this are cut so the axis stays readable.
MAX_CHART_GROUPS = 30
MAX_CHART_LABEL_CHARS = 40


class ChartRow(TypedDict):
    """One bar of a grouped aggregate: the group's name (plain text) and its number."""

    label: str
    value: float


class CardField(TypedDict):
    """One field of a record card: its name and its value as plain text."""

    name: str
    value: str


class RecordCard(TypedDict):
    """A record a search found: its primary value, a few fields, its page in Airtable.

    `url` is "" when the ids do not have Airtable's shape (no link is drawn).
    """

    record_id: str
    title: str
    url: str
    fields: list[CardField]


class ChatItem(TypedDict):
    """One row of the conversation as the page shows it.

    `action_id` is, on a tool step, the write it proposed (0: none): the step then
    says "proposed", and the action's card is shown under it. `sentence` and
    `result` are the step in words (`chat.step_words`); `arguments` is the raw call,
    behind a toggle. `meta` is an answer's use (tokens, cost, Airtable calls) over
    its whole turn, behind the answer's own toggle.
    """

    id: int
    role: str  # user | assistant | tool | error
    content: str
    status: str
    call_id: str
    tool_name: str
    arguments: str
    duration: str
    summary: str
    meta: str
    action_id: int
    chart: list[ChartRow]
    chart_title: str
    sentence: str
    result: str
    cards: list[RecordCard]


class ConversationItem(TypedDict):
    """A conversation in the list; `group` is shown above the first of each group."""

    id: int
    title: str
    updated: str
    group: str
    first_in_group: bool


DATE_GROUPS = ("Today", "Yesterday", "Previous 7 days", "Older")


class BaseItem(TypedDict):
    """A base in the switcher."""

    id: str
    name: str


def duration_text(ms: int | None) -> str:
    """How long a step took: `850 ms`, `2.4 s`, or "" when unknown."""
    if ms is None:
        return ""
    return f"{ms} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def usage_text(prompt: int, completion: int, cost: float | None, calls: int | None = None) -> str:
    """Tokens, cost (when the price is known) and Airtable calls (when counted), in one line.

    Args:
        prompt: Prompt tokens.
        completion: Completion tokens.
        cost: The cost in USD, or None when the model's price is unknown.
        calls: Airtable requests, or None to leave them out.

    Returns:
        E.g. `1,234 tokens · $0.0012 · 3 Airtable calls`.
    """
    parts = [f"{prompt + completion:,} tokens"]
    if cost is not None:
        parts.append(f"${cost:.4f}")
    if calls is not None:
        parts.append(f"{calls} Airtable call{'s' if calls != 1 else ''}")
    return " · ".join(parts)


class Tally(TypedDict):
    """What a turn has used so far: tokens, cost (None once any price is unknown), calls."""

    prompt: int
    completion: int
    cost: float | None
    calls: int


def empty_tally() -> Tally:
    """A turn that has used nothing yet."""
    return Tally(prompt=0, completion=0, cost=0.0, calls=0)


def tally_add(
    tally: Tally, prompt: int = 0, completion: int = 0, cost: float | None = 0.0, calls: int = 0
) -> Tally:
    """The tally with one more message's use added (a new dict)."""
    total_cost = None if tally["cost"] is None or cost is None else tally["cost"] + cost
    return Tally(
        prompt=tally["prompt"] + prompt,
        completion=tally["completion"] + completion,
        cost=total_cost,
        calls=tally["calls"] + calls,
    )


def tally_text(tally: Tally) -> str:
    """The tally as an answer's details say it ("" when the turn used nothing at all)."""
    if not (tally["prompt"] or tally["completion"] or tally["calls"]):
        return ""
    return usage_text(tally["prompt"], tally["completion"], tally["cost"], tally["calls"])


def short_arguments(arguments: dict[str, Any] | str | None) -> str:
    """A tool call's arguments as indented JSON (raw text when it is not JSON), cut.

    Shown behind the step's details toggle, in a preformatted block (text, not markup).
    """
    if not arguments:
        return ""
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    text = (
        arguments
        if isinstance(arguments, str)
        else json.dumps(arguments, ensure_ascii=False, indent=2)
    )
    if len(text) <= MAX_ARGUMENTS_CHARS:
        return text
    return text[: MAX_ARGUMENTS_CHARS - 3] + "…"


def _chart_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def aggregate_chart(tool_name: str, content: str | None) -> tuple[list[ChartRow], str]:
    """The bars of a grouped `aggregate` result, and what they show.

    Args:
        tool_name: The step's tool (only `aggregate` is charted).
        content: The result the model got (JSON with `groups` of {group, value}).

    Returns:
        Up to MAX_CHART_GROUPS rows and a title such as `sum of Estimate by Project`;
        ([], "") for anything else: no groups, a value that is not a number (a min of
        text, an average of nothing), or content that is not the tool's JSON. A chart
        that drew some groups and dropped others would mislead, so it is all or none.
    """
    if tool_name != "aggregate" or not content:
        return [], ""
    try:
        result = json.loads(content)
    except ValueError:
        return [], ""
    groups = result.get("groups") if isinstance(result, dict) else None
    if not isinstance(groups, list) or not groups:
        return [], ""
    rows: list[ChartRow] = []
    for group in groups[:MAX_CHART_GROUPS]:
        if not isinstance(group, dict) or not isinstance(group.get("group"), str):
            return [], ""
        value = _chart_number(group.get("value"))
        if value is None:
            return [], ""
        label = group["group"]
        if len(label) > MAX_CHART_LABEL_CHARS:
            label = label[: MAX_CHART_LABEL_CHARS - 1] + "…"
        rows.append(ChartRow(label=label, value=value))
    op, field, by = (str(result.get(k) or "") for k in ("op", "field", "group_by"))
    title = f"{op} of {field} by {by}" if field else f"{op} by {by}"
    total = result.get("groups_total")
    if isinstance(total, int) and total > len(rows):
        title += f" (top {len(rows)} of {total})"
    return rows, title


def _card_text(value: Any) -> str:
    if isinstance(value, list):
        text = ", ".join(_card_text(v) for v in value)
    elif isinstance(value, bool):
        text = "✓" if value else "—"
    elif value is None:
        text = ""
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CARD_VALUE_CHARS else text[: MAX_CARD_VALUE_CHARS - 1] + "…"


def record_cards(tool_name: str, content: str | None, base_id: str) -> list[RecordCard]:
    """The records a search (or get_record) returned, as cards, when there are a few.

    Args:
        tool_name: The step's tool: search_records and get_record have cards.
        content: The result the model got (JSON with `records`, `table_id`,
            `primary_field`).
        base_id: The conversation's base, for the link to each record.

    Returns:
        One card per record (primary value as title, then up to four fields that
        have a value), or [] for none, more than `MAX_RECORD_CARDS`, or content that
        is not the tool's JSON. Values are plain text: the page shows them as text.
    """
    if tool_name not in ("search_records", "get_record") or not content:
        return []
    try:
        result = json.loads(content)
    except ValueError:
        return []
    if not isinstance(result, dict):
        return []
    records = result.get("records") if tool_name == "search_records" else [result]
    if not isinstance(records, list) or not 0 < len(records) <= MAX_RECORD_CARDS:
        return []
    table_id = result.get("table_id")
    table_id = table_id if is_table_id(table_id) else ""
    primary = str(result.get("primary_field") or "")
    cards: list[RecordCard] = []
    for record in records:
        if not isinstance(record, dict) or not isinstance(record.get("fields"), dict):
            return []
        record_id = str(record.get("id") or "")
        fields = record["fields"]
        title = _card_text(fields.get(primary)) if primary else ""
        shown = [
            CardField(name=str(name), value=_card_text(value))
            for name, value in fields.items()
            if name != primary and _card_text(value)
        ][:MAX_CARD_FIELDS]
        cards.append(
            RecordCard(
                record_id=record_id,
                title=title or record_id,
                url=record_url(base_id, table_id, record_id),
                fields=shown,
            )
        )
    return cards


def item_from_row(row: Message, base_id: str = "", meta: str | None = None) -> ChatItem:
    """A stored message as the conversation shows it (a failed answer becomes an error).

    Args:
        row: The message.
        base_id: The conversation's base (record cards link into it).
        meta: The answer's use over its turn (see `items_from_rows`); by default
            this message's own tokens and cost.
    """
    role = row.role
    if row.role == MessageRole.ASSISTANT and row.status == MessageStatus.FAILED:
        role = "error"
    content = row.error or row.content if role == "error" else row.content
    if meta is None:
        meta = ""
        if row.role == MessageRole.ASSISTANT and (row.prompt_tokens or row.completion_tokens):
            meta = usage_text(row.prompt_tokens, row.completion_tokens, row.cost_usd)
    is_tool = row.role == MessageRole.TOOL
    complete = row.status == MessageStatus.COMPLETE
    chart, chart_title = (
        aggregate_chart(row.tool_name or "", row.content) if is_tool and complete else ([], "")
    )
    words = (
        step_words(row.tool_name or "", row.tool_arguments, row.content, status=row.status)
        if is_tool
        else None
    )
    return ChatItem(
        id=row.id or 0,
        role=role,
        content=content or "",
        status=row.status,
        call_id=row.tool_call_id or "",
        tool_name=row.tool_name or "",
        arguments=short_arguments(row.tool_arguments),
        duration=duration_text(row.duration_ms),
        summary=(row.content or "")[:MAX_SUMMARY_CHARS] if is_tool else "",
        meta=meta,
        action_id=0,
        chart=chart,
        chart_title=chart_title,
        sentence=words.sentence if words else "",
        result=words.result if words else "",
        cards=record_cards(row.tool_name or "", row.content, base_id)
        if is_tool and complete
        else [],
    )


def items_from_rows(rows: Iterable[Message], base_id: str = "") -> list[ChatItem]:
    """A conversation's stored messages as the page shows them.

    The model's messages that only called tools (no text) are not shown: their
    tokens, and the Airtable calls of the turn's steps, are added to the answer
    that ends the turn, in its details, instead of a line of tokens on its own.
    """
    items: list[ChatItem] = []
    tally = empty_tally()
    for row in rows:
        if row.role == MessageRole.USER:
            tally = empty_tally()
            items.append(item_from_row(row, base_id))
            continue
        if row.role == MessageRole.TOOL:
            tally = tally_add(tally, calls=row.airtable_calls)
            items.append(item_from_row(row, base_id))
            continue
        tally = tally_add(
            tally, row.prompt_tokens, row.completion_tokens, row.cost_usd, row.airtable_calls
        )
        if not row.content and row.status == MessageStatus.COMPLETE and not row.error:
            continue  # tool calls only: counted in the answer that follows
        items.append(item_from_row(row, base_id, meta=tally_text(tally)))
        tally = empty_tally()
    return items


def with_last_turn(items: list[ChatItem], usage: TurnUsage | None) -> list[ChatItem]:
    """The rows with the last answer's details set from its stored turn (a new list).

    The page opens on the latest messages only, which may begin inside that turn:
    the turn's own totals are exact where a sum of the rows on screen might not be.
    """
    index = last_answer_index(items)
    if usage is None or index < 0:
        return items
    meta = usage_text(
        usage.prompt_tokens, usage.completion_tokens, usage.cost_usd, usage.airtable_calls
    )
    return [
        ChatItem(**{**item, "meta": meta}) if i == index else item for i, item in enumerate(items)
    ]


def with_actions(items: list[ChatItem], actions: Iterable[ActionItem]) -> list[ChatItem]:
    """The rows with each stored tool step tied to the write it proposed (a new list).

    A stored step is the message an action names as its own (`step_action`, the
    first action proposed from that step). Steps of the running turn (id 0) keep
    the action their event reported.
    """
    by_message = {
        a["message_id"]: a["id"] for a in actions if a["message_id"] and a["step_action"] == a["id"]
    }
    return [
        ChatItem(**{**item, "action_id": by_message[item["id"]]})
        if item["role"] == "tool" and item["id"] in by_message
        else item
        for item in items
    ]


def date_group(updated: datetime, today: date) -> str:
    """Which of `DATE_GROUPS` a conversation last active at `updated` falls in.

    Args:
        updated: When it was last active (UTC, as stored).
        today: Today's date in UTC.

    Returns:
        Today, Yesterday, Previous 7 days or Older.
    """
    age = (today - updated.astimezone(UTC).date()).days
    today_, yesterday, week, older = DATE_GROUPS
    if age <= 0:
        return today_  # (a clock a little ahead of ours is still today)
    if age == 1:
        return yesterday
    return week if age <= 7 else older


def conversation_items(
    conversations: Iterable[Conversation], now: datetime | None = None
) -> list[ConversationItem]:
    """The conversation list: title, when it was last active and its date group.

    Args:
        conversations: Most recently active first, so each group is one run of rows.
        now: The time to group by (UTC); by default now.

    Returns:
        The rows, the first of each group marked to carry its heading.
    """
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    items: list[ConversationItem] = []
    for c in conversations:
        group = date_group(c.updated_at, today)
        items.append(
            ConversationItem(
                id=c.id or 0,
                title=c.title,
                updated=c.updated_at.strftime("%b %d, %H:%M"),
                group=group,
                first_in_group=not items or items[-1]["group"] != group,
            )
        )
    return items


def address_conversation_id(value: str | None) -> int:
    """The conversation the address asks for, from its `c` parameter.

    Args:
        value: The parameter as typed in the address, or None when absent.

    Returns:
        Its id; 0 without one; -1 for anything that is no id (so nothing opens).
    """
    if value is None:
        return 0
    if value.isascii() and value.isdigit() and 0 < len(value) <= 18:
        return int(value)
    return -1


def base_items(bases: Iterable[BaseAccess]) -> list[BaseItem]:
    """The base switcher's entries from the bases the token sees."""
    return [BaseItem(id=b.id, name=b.name) for b in bases]


def user_item(question: str) -> ChatItem:
    """The question just sent, shown before it is stored."""
    return _item(role="user", content=question, status="complete")


def assistant_item(content: str, status: str, meta: str = "") -> ChatItem:
    """An answer (complete, stopped or failed) from the running turn."""
    return _item(role="assistant", content=content, status=status, meta=meta)


def error_item(message: str) -> ChatItem:
    """What went wrong, shown in the conversation."""
    return _item(role="error", content=message, status="failed")


def running_step_item(call_id: str, tool_name: str, arguments_text: str) -> ChatItem:
    """A tool call that has just started (its sentence already; its result to come)."""
    item = _item(
        role="tool",
        status="running",
        call_id=call_id,
        tool_name=tool_name,
        arguments=short_arguments(arguments_text),
    )
    words = step_words(tool_name, arguments_text, None, status="running")
    return ChatItem(**{**item, "sentence": words.sentence, "result": words.result})


def step_status(*, stopped: bool, is_error: bool) -> str:
    """A finished tool step's status: stopped, failed or complete."""
    if stopped:
        return "stopped"
    return "failed" if is_error else "complete"


def with_step_finished(
    items: list[ChatItem],
    *,
    call_id: str,
    status: str,
    duration_ms: int,
    summary: str,
    action_id: int | None = None,
    content: str = "",
    base_id: str = "",
) -> list[ChatItem]:
    """The rows with the step of `call_id` marked finished (a new list; others unchanged).

    `action_id` is the write the step proposed, if it did: its card goes under it.
    `content` is the result the model got: a grouped aggregate's is drawn as bars, a
    few records found are shown as cards linking into `base_id`, and the step's
    result is said in words.
    """

    def finished(item: ChatItem) -> ChatItem:
        complete = status == "complete"
        chart, chart_title = aggregate_chart(item["tool_name"], content) if complete else ([], "")
        words = step_words(item["tool_name"], None, content, status=status)
        return ChatItem(
            **{
                **item,
                "status": status,
                "duration": duration_text(duration_ms),
                "summary": summary[:MAX_SUMMARY_CHARS],
                "action_id": action_id or 0,
                "chart": chart,
                "chart_title": chart_title,
                "result": words.result,
                "cards": record_cards(item["tool_name"], content, base_id) if complete else [],
            }
        )

    return [
        finished(item) if item["role"] == "tool" and item["call_id"] == call_id else item
        for item in items
    ]


def through_last_question(items: list[ChatItem]) -> list[ChatItem]:
    """The rows up to and including the last question (its answer is being redone)."""
    last_user = max((i for i, item in enumerate(items) if item["role"] == "user"), default=-1)
    return items[: last_user + 1]


def last_question_index(items: list[ChatItem]) -> int:
    """Where the last question is (-1: none): the one question that can be edited."""
    return max((i for i, item in enumerate(items) if item["role"] == "user"), default=-1)


def last_answer_index(items: list[ChatItem]) -> int:
    """Where the answer to the last question is, or -1 when it has none (yet).

    Regenerate and Retry act on that answer only. Rows added while the page is open
    all have id 0, so the position, not the id, tells which answer is the last one.
    Of an answer that is a failed text followed by its error, the error is the row.

    Args:
        items: The conversation's rows, oldest first.

    Returns:
        The index of the last assistant or error row after the last question.
    """
    for index in range(len(items) - 1, -1, -1):
        role = items[index]["role"]
        if role == "user":
            return -1
        if role in ("assistant", "error"):
            return index
    return -1


def _item(
    *,
    role: str,
    content: str = "",
    status: str,
    call_id: str = "",
    tool_name: str = "",
    arguments: str = "",
    meta: str = "",
) -> ChatItem:
    return ChatItem(
        id=0,
        role=role,
        content=content,
        status=status,
        call_id=call_id,
        tool_name=tool_name,
        arguments=arguments,
        duration="",
        summary="",
        meta=meta,
        action_id=0,
        chart=[],
        chart_title="",
        sentence="",
        result="",
        cards=[],
    )
