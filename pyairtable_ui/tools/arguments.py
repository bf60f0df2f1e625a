"""The tools' arguments as pydantic models: what the model is shown and what it must send.

Each tool names a `ToolArguments` subclass. Its `tool_parameters()` is the JSON
schema the model sees in ``tools=[...]``, trimmed to stay small on every turn
(no titles, nested models inlined, empty defaults left out). The registry
validates a call with the model — strictly, as JSON Schema would: no "5" for
5, no unknown keys — and hands the tool the typed arguments. When a call is
wrong, `argument_problems` words each problem as "- path: problem", the way
JSON Schema validators do, so the model sees where and what to fix.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from pyairtable_ui.airtable.field_types import RECORD_ID_PATTERN

MAX_RECORDS_PER_CALL = 1000
# A problem's text is cut here: a long value must not flood the model's context.
MAX_PROBLEM_CHARS = 300


class ToolArguments(BaseModel):
    """The base of every tool's arguments: JSON types exactly, unknown keys refused."""

    model_config = ConfigDict(strict=True, extra="forbid")

    @classmethod
    def tool_parameters(cls) -> dict[str, Any]:
        """The JSON schema of these arguments, as sent to the model."""
        return _tool_parameters(cls)

    def as_sent(self) -> dict[str, Any]:
        """The arguments as the model sent them (defaults it left out stay out)."""
        return self.model_dump(mode="json", exclude_unset=True)


@functools.cache
def _tool_parameters(model: type[ToolArguments]) -> dict[str, Any]:
    raw = model.model_json_schema()
    defs = raw.pop("$defs", {})
    raw.pop("description", None)  # the model's docstring: the tool has its own description
    schema = _compact(raw, defs)
    assert isinstance(schema, dict)
    return schema


def _compact(node: Any, defs: dict[str, Any]) -> Any:
    """A schema with `$ref`s inlined and what the model does not need left out."""
    if isinstance(node, list):
        return [_compact(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = dict(defs[node["$ref"].rsplit("/", 1)[-1]])
        target.pop("description", None)  # a nested model's docstring, not a field's
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key == "default" and (value is None or value is False or value in ("", [], {})):
            continue  # an empty default says nothing the schema does not
        if key == "additionalProperties" and value is True:
            continue  # JSON Schema's default
        if key == "items" and value == {}:
            continue  # any items
        if key == "type" and "enum" in node:
            continue  # the enum says it
        if key == "properties":
            out[key] = {name: _compact(sub, defs) for name, sub in value.items()}
        else:
            out[key] = _compact(value, defs)
    return out


# --- types with JSON Schema's meaning -----------------------------------------------------


def _integral_float(value: Any) -> Any:
    # JSON Schema counts 20.0 as an integer; strict pydantic would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_integral_float)]

_FILTER_VALUE_TYPES = ("string", "number", "boolean", "array", "null")


def _not_an_object(value: Any) -> Any:
    if isinstance(value, dict):
        types = ", ".join(f"'{t}'" for t in _FILTER_VALUE_TYPES)
        raise PydanticCustomError("value_type", f"{value!r} is not of type {types}")
    return value


# A filter's value: text, a number, true/false, a list (for op in) or null.
FilterValue = Annotated[
    Any,
    AfterValidator(_not_an_object),
    WithJsonSchema({"type": list(_FILTER_VALUE_TYPES)}),
]
RecordId = Annotated[str, Field(pattern=RECORD_ID_PATTERN)]
NonEmptyText = Annotated[str, Field(min_length=1)]
Operator = Literal[
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "not_contains",
    "starts_with",
    "is_empty",
    "is_not_empty",
    "in",
]
OPERATORS: tuple[str, ...] = get_args(Operator)
Match = Literal["all", "any"]


# --- shared parts -------------------------------------------------------------------------

FILTERS_DESCRIPTION = (
    "Conditions {field, op, value}. eq/neq exact (case-sensitive text; for multi-value "
    "fields eq = has that item); contains/not_contains/starts_with ignore case; gt/gte/lt/lte "
    "for numbers and dates (YYYY-MM-DD); in takes a list; is_empty/is_not_empty take no value."
)


class Filter(ToolArguments):
    """One condition of search_records and aggregate."""

    field: str
    op: Operator
    value: FilterValue = None


class Sort(ToolArguments):
    """One sort key of search_records."""

    field: str
    direction: Literal["asc", "desc"] = "asc"


class TableArguments(ToolArguments):
    """Arguments that name a table."""

    table: str


Fields = Annotated[dict[str, Any], Field(min_length=1, description="Field name -> value.")]
Typecast = Annotated[
    bool,
    Field(description="Let Airtable convert values and add missing select options."),
]


class NewRecord(ToolArguments):
    """One record of create_records or upsert_records."""

    fields: Fields


class ChangedRecord(ToolArguments):
    """One record of update_records."""

    id: RecordId
    fields: Fields


class FieldSpec(ToolArguments):
    """A field to create (create_table's fields, create_field)."""

    name: NonEmptyText
    type: str = Field(description="Airtable type, e.g. singleLineText.")
    choices: list[str] = []
    linked_table: str = ""
    options: dict[str, Any] = {}
    description: str = ""


# --- each tool's arguments ----------------------------------------------------------------


class NoArguments(ToolArguments):
    """A tool without arguments."""


class ListTablesArguments(ToolArguments):
    """list_tables."""

    detail: Literal["names", "fields"] = "names"
    name_contains: str = ""


class SearchRecordsArguments(ToolArguments):
    """search_records."""

    table: str = Field(description="Table name or id.")
    filters: list[Filter] = Field(default=[], description=FILTERS_DESCRIPTION)
    match: Match = Field(default="all", description="Combine filters (default all).")
    sort: list[Sort] = []
    fields: list[str] = Field(default=[], description="Fields to return (default all).")
    view: str = ""
    limit: Integer = Field(default=20, ge=1, le=100)
    offset: str = Field(default="", description="next_offset of the previous page.")
    count_total: bool = Field(default=False, description="Count all matches (slower).")


class GetRecordArguments(TableArguments):
    """get_record."""

    record_id: RecordId


class AggregateArguments(TableArguments):
    """aggregate."""

    op: Literal["count", "sum", "min", "max", "avg"]
    field: str = ""
    group_by: str = ""
    filters: list[Filter] = []
    match: Match = "all"
    view: str = ""


class CreateRecordsArguments(TableArguments):
    """create_records."""

    records: list[NewRecord] = Field(min_length=1, max_length=MAX_RECORDS_PER_CALL)
    typecast: Typecast = False


class UpdateRecordsArguments(TableArguments):
    """update_records."""

    records: list[ChangedRecord] = Field(min_length=1, max_length=MAX_RECORDS_PER_CALL)
    typecast: Typecast = False


class UpsertRecordsArguments(TableArguments):
    """upsert_records."""

    fields_to_merge_on: list[str] = Field(min_length=1, max_length=3)
    records: list[NewRecord] = Field(min_length=1, max_length=MAX_RECORDS_PER_CALL)
    typecast: Typecast = False


class DeleteRecordsArguments(TableArguments):
    """delete_records."""

    record_ids: list[RecordId] = Field(min_length=1, max_length=MAX_RECORDS_PER_CALL)


# The set-based writes take search_records' filters, validated as strictly, but their
# schema only points there: every request carries search_records' full filter schema, and
# repeating it twice would cost about 140 tokens on every model call.
MatchingFilters = Annotated[
    list[Filter],
    Field(min_length=1),
    WithJsonSchema(
        {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object"},
            "description": "Conditions as in search_records' filters.",
        }
    ),
]


class MatchingArguments(TableArguments):
    """The records a set-based write changes: every one matching the filters."""

    filters: MatchingFilters
    match: Match = "all"


class UpdateMatchingArguments(MatchingArguments):
    """update_matching_records."""

    fields: Fields
    typecast: Typecast = False


class DeleteMatchingArguments(MatchingArguments):
    """delete_matching_records."""


class CreateTableArguments(ToolArguments):
    """create_table."""

    name: NonEmptyText
    description: str = ""
    fields: list[FieldSpec] = Field(min_length=1)


class CreateFieldArguments(FieldSpec, TableArguments):
    """create_field: the table, then the field (its fields come first in the schema)."""


class RenameTableArguments(TableArguments):
    """rename_table."""

    new_name: NonEmptyText


class RenameFieldArguments(TableArguments):
    """rename_field."""

    field: str
    new_name: NonEmptyText


class AddCommentArguments(TableArguments):
    """add_comment."""

    record_id: RecordId
    text: NonEmptyText


# --- problems, worded for the model ---------------------------------------------------------

_JSON_TYPES = {
    "string_type": "string",
    "int_type": "integer",
    "int_from_float": "integer",
    "float_type": "number",
    "bool_type": "boolean",
    "list_type": "array",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
}


def _path_text(path: tuple[int | str, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(arguments)"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _enum_at(schema: dict[str, Any], path: tuple[int | str, ...]) -> list[Any] | None:
    node: Any = schema
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
    return node.get("enum") if isinstance(node, dict) else None


def _message(error: Any, schema: dict[str, Any]) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind in _JSON_TYPES:
        return f"{value!r} is not of type '{_JSON_TYPES[kind]}'"
    if kind == "literal_error":
        allowed = _enum_at(schema, tuple(error["loc"]))
        return f"{value!r} is not one of {allowed if allowed else ctx.get('expected')}"
    if kind in ("too_short", "string_too_short"):
        if ctx.get("min_length") == 1:
            return f"{value!r} should be non-empty"
        return f"{_short(value)} is too short (at least {ctx.get('min_length')})"
    if kind in ("too_long", "string_too_long"):
        return f"{_short(value)} is too long (at most {ctx.get('max_length')})"
    if kind == "string_pattern_mismatch":
        return f"{value!r} does not match {ctx.get('pattern')!r}"
    if kind == "less_than_equal":
        return f"{value!r} is greater than the maximum of {ctx.get('le')}"
    if kind == "greater_than_equal":
        return f"{value!r} is less than the minimum of {ctx.get('ge')}"
    return str(error["msg"])


def argument_problems(error: ValidationError, model: type[ToolArguments]) -> list[str]:
    """Each way a call broke `model`, as "- path: problem" lines sorted by path.

    Worded as JSON Schema validators word them ("'table' is a required property",
    "'equals' is not one of [...]"), which models know how to act on.

    Args:
        error: What pydantic found.
        model: The tool's arguments.

    Returns:
        One line per problem; unknown keys of one object share a line.
    """
    schema = model.tool_parameters()
    found: list[tuple[tuple[int | str, ...], str]] = []
    unexpected: dict[tuple[int | str, ...], list[str]] = {}
    for item in error.errors():
        loc = tuple(item["loc"])
        if item["type"] == "missing":
            found.append((loc[:-1], f"{str(loc[-1])!r} is a required property"))
        elif item["type"] == "extra_forbidden":
            parent = loc[:-1]
            if parent not in unexpected:
                unexpected[parent] = []
                found.append((parent, ""))  # worded below, once all extras are known
            unexpected[parent].append(str(loc[-1]))
        else:
            found.append((loc, _message(item, schema)))
    lines = []
    for path, message in sorted(found, key=lambda p: list(map(str, p[0]))):
        if not message:
            names = unexpected[path]
            verb = "was" if len(names) == 1 else "were"
            listed = ", ".join(repr(n) for n in names)
            message = f"Additional properties are not allowed ({listed} {verb} unexpected)"
        if len(message) > MAX_PROBLEM_CHARS:
            message = message[: MAX_PROBLEM_CHARS - 1] + "…"
        lines.append(f"- {_path_text(path)}: {message}")
    return lines
