"""A tool step in plain words: what the assistant did, and what came of it.

The chat shows "Searched Tasks where Status is Review and Due is before 1 Jun 2024"
with "3 records" next to it, not `search_records {"table": …}`. The sentence is built
from the call's arguments, validated with the tool's own pydantic model (arguments
that do not validate get a sentence that says only which tool it was), and the result
from the JSON the model got back. The raw arguments stay available behind a toggle.

Names in the sentence are the model's (a table or field as it wrote them); the page
shows them as text, never as markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from pyairtable_ui.tools import arguments as a
from pyairtable_ui.tools import get_registry
from pyairtable_ui.tools.filters import condition_text, value_text

MAX_SENTENCE_CHARS = 300
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LISTED = re.compile(r"^(\d+) (tables|bases)\b")


@dataclass(frozen=True)
class StepWords:
    """A step as the chat writes it.

    Attributes:
        sentence: What was done ("Searched Tasks where Done is unchecked").
        result: What came of it ("3 records"); "" when there is nothing to add
            (a proposal has its card; a running step has no result yet).
    """

    sentence: str
    result: str


# The tools' names in words, for a call whose arguments could not be read.
TOOL_WORDS: dict[str, str] = {
    "list_bases": "List the bases",
    "list_tables": "List the tables",
    "describe_table": "Describe a table",
    "search_records": "Search records",
    "get_record": "Open a record",
    "aggregate": "Compute a total",
    "create_records": "Create records",
    "update_records": "Change records",
    "upsert_records": "Create or update records",
    "delete_records": "Delete records",
    "update_matching_records": "Change matching records",
    "delete_matching_records": "Delete matching records",
    "create_table": "Create a table",
    "create_field": "Add a field",
    "rename_table": "Rename a table",
    "rename_field": "Rename a field",
    "add_comment": "Comment on a record",
}


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _value_words(value: Any) -> str:
    """A filter value as a sentence says it: ISO dates as "1 Jun 2024"."""
    if isinstance(value, str) and _ISO_DATE.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value_text(value)
        return f"{day.day} {day.strftime('%b %Y')}"
    if isinstance(value, list):
        return ", ".join(_value_words(v) for v in value)
    return value_text(value)


def _looks_like_date(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(v, str) and _ISO_DATE.match(v[:10]) for v in items)


def filters_words(filters: Sequence[a.Filter], match: str) -> str:
    """The conditions as a sentence says them ("Status is Review and Due is before 1 Jun 2024").

    Without the schema, a field is taken to hold dates when the value is an ISO date.
    """
    parts = [
        condition_text(
            f.field, f.op, f.value, is_date=_looks_like_date(f.value), words=_value_words
        )
        for f in filters
    ]
    return (" or " if match == "any" else " and ").join(parts)


def _where(filters: Sequence[a.Filter], match: str) -> str:
    return f" where {filters_words(filters, match)}" if filters else ""


def _names(names: Sequence[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" +{len(names) - limit} more" if len(names) > limit else "")


def _changed_fields(records: Sequence[a.NewRecord | a.ChangedRecord]) -> str:
    return _names(list(dict.fromkeys(name for r in records for name in r.fields)))


# --- one sentence per tool ----------------------------------------------------------------


def _list_bases(_: a.NoArguments) -> str:
    return "Listed your bases"


def _list_tables(args: a.ListTablesArguments) -> str:
    text = "Listed the tables"
    if args.name_contains.strip():
        text += f" whose name contains {args.name_contains.strip()}"
    return text + (" with their fields" if args.detail == "fields" else "")


def _describe_table(args: a.TableArguments) -> str:
    return f"Read the fields of {args.table}"


def _search(args: a.SearchRecordsArguments) -> str:
    text = f"Searched {args.table}{_where(args.filters, args.match)}"
    if args.view:
        text += f" in the view {args.view}"
    if args.sort:
        keys = [s.field + (" (descending)" if s.direction == "desc" else "") for s in args.sort]
        text += f", sorted by {_names(keys)}"
    if args.offset:
        text += " (next page)"
    return text


def _get_record(args: a.GetRecordArguments) -> str:
    return f"Opened the record {args.record_id} in {args.table}"


_AGGREGATE_VERBS = {
    "sum": "Added up {field}",
    "avg": "Averaged {field}",
    "min": "Found the lowest {field}",
    "max": "Found the highest {field}",
}


def _aggregate(args: a.AggregateArguments) -> str:
    if args.op == "count":
        text = (
            f"Counted {args.field} values in {args.table}"
            if args.field
            else (f"Counted the records in {args.table}")
        )
    else:
        text = _AGGREGATE_VERBS[args.op].format(field=args.field or "values") + f" in {args.table}"
    text += _where(args.filters, args.match)
    if args.view:
        text += f" in the view {args.view}"
    return text + (f", by {args.group_by}" if args.group_by else "")


def _create_records(args: a.CreateRecordsArguments) -> str:
    return f"Proposed creating {_plural(len(args.records), 'record')} in {args.table}"


def _update_records(args: a.UpdateRecordsArguments) -> str:
    return (
        f"Proposed changing {_changed_fields(args.records)} on "
        f"{_plural(len(args.records), 'record')} in {args.table}"
    )


def _upsert_records(args: a.UpsertRecordsArguments) -> str:
    return (
        f"Proposed creating or updating {_plural(len(args.records), 'record')} in "
        f"{args.table}, matched on {_names(args.fields_to_merge_on)}"
    )


def _delete_records(args: a.DeleteRecordsArguments) -> str:
    return f"Proposed deleting {_plural(len(args.record_ids), 'record')} from {args.table}"


def _update_matching(args: a.UpdateMatchingArguments) -> str:
    fields = _names(list(args.fields))
    where = _where(args.filters, args.match)
    return f"Proposed changing {fields} on the records in {args.table}{where}"


def _delete_matching(args: a.DeleteMatchingArguments) -> str:
    return f"Proposed deleting the records in {args.table}{_where(args.filters, args.match)}"


def _create_table(args: a.CreateTableArguments) -> str:
    return f"Proposed a new table {args.name} with {_plural(len(args.fields), 'field')}"


def _create_field(args: a.CreateFieldArguments) -> str:
    return f"Proposed a new field {args.name} in {args.table}"


def _rename_table(args: a.RenameTableArguments) -> str:
    return f"Proposed renaming the table {args.table} to {args.new_name}"


def _rename_field(args: a.RenameFieldArguments) -> str:
    return f"Proposed renaming the field {args.field} in {args.table} to {args.new_name}"


def _add_comment(args: a.AddCommentArguments) -> str:
    return f"Proposed a comment on the record {args.record_id} in {args.table}"


# Validated with the tool's own arguments model (the registry's), then worded here.
_SENTENCES: dict[str, Callable[[Any], str]] = {
    "list_bases": _list_bases,
    "list_tables": _list_tables,
    "describe_table": _describe_table,
    "search_records": _search,
    "get_record": _get_record,
    "aggregate": _aggregate,
    "create_records": _create_records,
    "update_records": _update_records,
    "upsert_records": _upsert_records,
    "delete_records": _delete_records,
    "update_matching_records": _update_matching,
    "delete_matching_records": _delete_matching,
    "create_table": _create_table,
    "create_field": _create_field,
    "rename_table": _rename_table,
    "rename_field": _rename_field,
    "add_comment": _add_comment,
}


def _parsed(arguments: dict[str, Any] | str | None) -> Any:
    if isinstance(arguments, str):
        try:
            return json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return None
    return arguments if arguments is not None else {}


def step_sentence(tool_name: str, arguments: dict[str, Any] | str | None) -> str:
    """What a tool call does, in one sentence.

    Args:
        tool_name: The tool the model called.
        arguments: Its arguments, as a dict or as the JSON text the model sent.

    Returns:
        The sentence; for an unknown tool or arguments its model refuses, the
        tool in words and "(arguments it could not use)".
    """
    sentence = _SENTENCES.get(tool_name)
    tool = get_registry().get(tool_name)
    fallback = TOOL_WORDS.get(tool_name, f"Use the tool {tool_name}")
    if sentence is None or tool is None:
        return fallback
    raw = _parsed(arguments)
    try:
        validated = tool.arguments.model_validate(raw)
    except ValidationError:
        return f"{fallback} (arguments it could not use)"
    text = sentence(validated)
    return text if len(text) <= MAX_SENTENCE_CHARS else text[: MAX_SENTENCE_CHARS - 1] + "…"


# --- what came of it ----------------------------------------------------------------------


def _records_result(result: dict[str, Any]) -> str:
    returned = result.get("returned")
    if not isinstance(returned, int):
        return ""
    total = result.get("total")
    at_least = result.get("total_at_least")
    if returned == 0:
        return "no records"
    if isinstance(total, int) and total > returned:
        return f"{returned:,} of {_plural(total, 'record')}"
    if isinstance(total, int):
        return _plural(total, "record")
    if isinstance(at_least, int) and at_least > returned:
        return f"{returned:,} of at least {_plural(at_least, 'record')}"
    more = " (more available)" if result.get("more_available") else ""
    return _plural(returned, "record") + more


def _number_words(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value_text(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def _aggregate_result(result: dict[str, Any]) -> str:
    groups = result.get("groups")
    if isinstance(groups, list):
        total = result.get("groups_total")
        count = total if isinstance(total, int) else len(groups)
        return _plural(count, "group")
    value = result.get("value")
    if result.get("op") == "count" and isinstance(value, int):
        return _plural(value, "record" if not result.get("field") else "value")
    if value is None:
        return "no values"
    return _number_words(value)


def step_result(tool_name: str, content: str | None, *, status: str) -> str:
    """What a finished step found, in a few words ("3 records", "36", "5 groups").

    Args:
        tool_name: The tool.
        content: What the model got back (JSON for the record tools, text for others).
        status: The step's status: a running step has no result; a stopped one says so;
            a failed one says it could not (the model hears why and may try again).

    Returns:
        The words, or "" when there is nothing to add (proposals have their card).
    """
    if status == "running":
        return ""
    if status == "stopped":
        return "stopped"
    if status == "failed":
        return "did not work; the assistant was told why"
    text = content or ""
    if tool_name in ("search_records", "get_record", "aggregate"):
        try:
            result = json.loads(text)
        except ValueError:
            return ""
        if not isinstance(result, dict):
            return ""
        if tool_name == "search_records":
            return _records_result(result)
        if tool_name == "get_record":
            return "found" if result.get("id") else ""
        return _aggregate_result(result)
    listed = _LISTED.match(text)
    if listed:
        return _plural(int(listed.group(1)), listed.group(2)[:-1])
    return ""


def step_words(
    tool_name: str, arguments: dict[str, Any] | str | None, content: str | None, *, status: str
) -> StepWords:
    """The sentence and the result of one step (see `step_sentence`, `step_result`)."""
    return StepWords(
        sentence=step_sentence(tool_name, arguments),
        result=step_result(tool_name, content, status=status),
    )
