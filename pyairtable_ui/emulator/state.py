"""The emulator's data model and every operation on it, guarded by one lock.

:class:`EmulatorState` holds tokens, bases, tables, fields, views, records, comments and webhooks
and implements what the Airtable Web API does with them: listing with views, formulas, sorting and
offset pagination; atomic batch writes with typecasting, select options and inverse links;
upserts; metadata; comments; webhook payloads. The HTTP layer (``server.py``) only parses requests
and calls these methods, so tests can also use them in-process, e.g. to play "another person
edited this record" between two API calls::

    emulator.state.update_record("appEmulatorBase01", "Contacts", record_id, {"Score": 9})

Everything returned is a fresh copy in Airtable's JSON shape; state objects are never shared with
callers. Stored cell values are replaced, never mutated in place, so a response that is being
serialised outside the lock cannot change underneath the serialiser.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import hmac
import ipaddress
import json
import mimetypes
import os
import re
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import cells, dates, errors
from .errors import ApiError
from .formula import (
    CompiledFormula,
    FormulaError,
    FormulaRuntimeError,
    compile_formula,
    format_number,
    infer_result,
    is_blank,
    to_text,
)
from .ids import is_id, new_id, stable_id

# --- scopes and permissions --------------------------------------------------------------------

SCOPE_RECORDS_READ = "data.records:read"
SCOPE_RECORDS_WRITE = "data.records:write"
SCOPE_COMMENTS_READ = "data.recordComments:read"
SCOPE_COMMENTS_WRITE = "data.recordComments:write"
SCOPE_SCHEMA_READ = "schema.bases:read"
SCOPE_SCHEMA_WRITE = "schema.bases:write"
SCOPE_WEBHOOKS = "webhook:manage"
SCOPE_EMAIL = "user.email:read"
ALL_SCOPES = (
    SCOPE_RECORDS_READ,
    SCOPE_RECORDS_WRITE,
    SCOPE_COMMENTS_READ,
    SCOPE_COMMENTS_WRITE,
    SCOPE_SCHEMA_READ,
    SCOPE_SCHEMA_WRITE,
    SCOPE_WEBHOOKS,
    SCOPE_EMAIL,
)
PERMISSION_RANK = {"none": 0, "read": 1, "comment": 2, "edit": 3, "create": 4, "owner": 5}

SYSTEM_USER_ID = "usrEmulatorSystem"
DEFAULT_CREATED_TIME = datetime(2024, 1, 1, tzinfo=UTC)
MAX_RECORDS_PER_REQUEST = 10
MAX_PAGE_SIZE = 100
ITERATOR_TTL = timedelta(minutes=10)
MAX_ITERATORS = 2000
WEBHOOK_LIFETIME = timedelta(days=7)
MAX_WEBHOOK_PAYLOADS_PER_PAGE = 50
MENTION_RE = re.compile(r"@\[(usr[A-Za-z0-9]{14})\]")


class SeedError(ValueError):
    """The seed is inconsistent (unknown linked table, unresolvable link value, bad formula...)."""


# --- seed normalisation -------------------------------------------------------------------------


def load_seed(source: dict[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Read and normalise a seed, filling in everything that may be left out.

    Missing ids are derived deterministically from names (so a seed without ids loads with the
    same ids every time), missing ``createdTime`` values count up from 2024-01-01, a table without
    views gets a "Grid view", tokens default to all scopes, and field options get the defaults
    pyairtable's schema models require. References between tables (``linkedTableId``,
    ``recordLinkFieldId`` ...) may use names; the state resolves them when it loads.

    Args:
        source: A seed dict, or the path of a JSON seed file.

    Returns:
        A new, normalised seed dict (the input is not modified).
    """
    if isinstance(source, dict):
        data = copy.deepcopy(source)
    else:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    users = [_normalize_user(user) for user in data.get("users", [])]
    tokens = [_normalize_token(token) for token in data.get("tokens", [])]
    bases = [_normalize_base(base) for base in data.get("bases", [])]
    return {"tokens": tokens, "users": users, "bases": bases}


def _normalize_user(user: dict[str, Any]) -> dict[str, Any]:
    user_id = user.get("id") or stable_id("usr", user.get("email", ""))
    email = user.get("email") or f"{user_id.lower()}@example.com"
    return {"id": user_id, "email": email, "name": user.get("name") or email.split("@")[0]}


def _normalize_token(token: dict[str, Any]) -> dict[str, Any]:
    if not token.get("token"):
        raise SeedError("every token needs a 'token' string")
    user_id = token.get("user_id") or stable_id("usr", token["token"])
    email = token.get("email") or f"{user_id.lower()}@example.com"
    return {
        "token": token["token"],
        "user_id": user_id,
        "email": email,
        "name": token.get("name") or email.split("@")[0],
        "bases": list(token.get("bases", [])),
        "scopes": list(token.get("scopes", ALL_SCOPES)),
    }


def _normalize_base(base: dict[str, Any]) -> dict[str, Any]:
    base_id = base.get("id") or stable_id("app", base["name"])
    tables = []
    for table in base.get("tables", []):
        table_id = table.get("id") or stable_id("tbl", base_id, table["name"])
        fields = []
        for spec in table.get("fields", []):
            field_id = spec.get("id") or stable_id("fld", table_id, spec["name"])
            field_type = spec.get("type", "singleLineText")
            entry = {"id": field_id, "name": spec["name"], "type": field_type}
            if spec.get("description"):
                entry["description"] = spec["description"]
            options = cells.default_options(field_type, field_id, spec.get("options"))
            if options is not None:
                entry["options"] = options
            fields.append(entry)
        if not fields:
            raise SeedError(f"table {table['name']!r} has no fields")
        views = []
        for view in table.get("views") or [{"name": "Grid view", "type": "grid"}]:
            entry = dict(view)
            entry["id"] = view.get("id") or stable_id("viw", table_id, view["name"])
            entry.setdefault("type", "grid")
            views.append(entry)
        records = []
        for index, record in enumerate(table.get("records", [])):
            created = record.get("createdTime") or dates.format_iso(
                DEFAULT_CREATED_TIME + timedelta(minutes=index)
            )
            records.append(
                {
                    "id": record.get("id") or stable_id("rec", table_id, index),
                    "createdTime": created,
                    "fields": dict(record.get("fields", {})),
                }
            )
        entry = {"id": table_id, "name": table["name"], "fields": fields, "views": views}
        if table.get("description"):
            entry["description"] = table["description"]
        entry["records"] = records
        tables.append(entry)
    return {
        "id": base_id,
        "name": base["name"],
        "permission_level": base.get("permission_level", "create"),
        "tables": tables,
    }


# --- data model ---------------------------------------------------------------------------------


@dataclass(eq=False)
class User:
    """An Airtable user (token owner or collaborator)."""

    id: str
    email: str
    name: str

    def as_dict(self) -> dict[str, str]:
        """Collaborator shape used in cells, comments and webhook metadata."""
        return {"id": self.id, "email": self.email, "name": self.name}


@dataclass(eq=False)
class Token:
    """A personal access token: its user, the bases it may see and its scopes."""

    token: str
    user: User
    bases: list[str]
    scopes: frozenset[str]


@dataclass(eq=False)
class Field:
    """A field (column); the first field of a table is its primary field."""

    id: str
    name: str
    type: str
    description: str | None = None
    options: dict[str, Any] | None = None

    @property
    def computed(self) -> bool:
        """Whether the API refuses writes to this field."""
        return self.type in cells.COMPUTED_TYPES

    @property
    def opts(self) -> dict[str, Any]:
        """Options, or an empty dict."""
        return self.options or {}


@dataclass(eq=False)
class View:
    """A view; seeds may give it ``filterByFormula`` and ``sort`` so ``view=`` means something."""

    id: str
    name: str
    type: str = "grid"
    filter_formula: str | None = None
    sort: list[dict[str, str]] = field(default_factory=list)
    visible_field_refs: list[str] | None = None


@dataclass(eq=False)
class Comment:
    """A comment on a record."""

    id: str
    author: User
    text: str
    created_time: str
    last_updated_time: str | None = None
    parent_comment_id: str | None = None


@dataclass(eq=False)
class Record:
    """A record; ``cells`` maps field id to the stored (JSON-shaped, non-empty) value."""

    id: str
    created_time: str
    created_dt: datetime
    cells: dict[str, Any] = field(default_factory=dict)
    cell_modified: dict[str, datetime] = field(default_factory=dict)
    last_modified: datetime | None = None
    created_by: dict[str, str] | None = None
    last_modified_by: dict[str, str] | None = None
    auto_number: int = 0
    comments: list[Comment] = field(default_factory=list)


@dataclass(eq=False)
class Table:
    """A table with its fields, views and records (records keep insertion order)."""

    id: str
    name: str
    description: str | None
    fields: list[Field]
    views: list[View]
    records: dict[str, Record] = field(default_factory=dict)
    next_auto_number: int = 1

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the field lookups after the field list changed."""
        self.fields_by_id = {f.id: f for f in self.fields}
        self.fields_by_name = {f.name: f for f in self.fields}

    def field(self, ref: str) -> Field | None:
        """Find a field by id or exact name."""
        return self.fields_by_id.get(ref) or self.fields_by_name.get(ref)

    @property
    def primary(self) -> Field:
        """The primary field."""
        return self.fields[0]

    def view(self, ref: str) -> View | None:
        """Find a view by id or exact name."""
        return next((v for v in self.views if ref in (v.id, v.name)), None)


@dataclass(eq=False)
class Webhook:
    """A webhook and the payloads recorded for it."""

    id: str
    notification_url: str | None
    specification: dict[str, Any]
    secret: bytes
    expiration: datetime
    notifications_enabled: bool = True
    hook_enabled: bool = True
    payloads: list[dict[str, Any]] = field(default_factory=list)
    last_notification_result: dict[str, Any] | None = None
    last_success: str | None = None


@dataclass(eq=False)
class Base:
    """A base: tables, webhooks, and an index from record id to its table."""

    id: str
    name: str
    permission_level: str
    tables: list[Table]
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    record_tables: dict[str, Table] = field(default_factory=dict)
    transaction_number: int = 0

    def table(self, ref: str) -> Table | None:
        """Find a table by id or exact name."""
        return next((t for t in self.tables if ref in (t.id, t.name)), None)


@dataclass
class ListQuery:
    """Parameters of a list-records request (GET query or POST ``listRecords`` body)."""

    view: str | None = None
    fields: list[str] | None = None
    formula: str | None = None
    sort: list[tuple[str, str]] = field(default_factory=list)
    page_size: int | None = None
    max_records: int | None = None
    offset: str | None = None
    cell_format: str = "json"
    time_zone: str | None = None
    user_locale: str | None = None
    by_field_id: bool = False
    comment_count: bool = False


@dataclass
class _Iterator:
    id: str
    table_id: str
    ids: list[str]
    positions: dict[str, int]
    created: datetime


# --- evaluation -----------------------------------------------------------------------------------


class _RecordCtx:
    """Binds a compiled formula to one record (implements ``formula.FormulaContext``)."""

    __slots__ = ("_ev", "_rec", "_table", "values")

    def __init__(
        self, ev: _Evaluator, table: Table, rec: Record, values: list[Any] | None = None
    ) -> None:
        self._ev = ev
        self._table = table
        self._rec = rec
        self.values = values if values is not None else []

    @property
    def record_id(self) -> str:
        return self._rec.id

    @property
    def created_time(self) -> datetime:
        return self._rec.created_dt

    @property
    def now(self) -> datetime:
        return self._ev.now

    def field(self, field_id: str) -> Any:
        fld = self._table.fields_by_id.get(field_id)
        return None if fld is None else self._ev.value(self._table, self._rec, fld)

    def last_modified(self, field_ids: Sequence[str]) -> datetime | None:
        return self._ev.last_modified(self._rec, field_ids)


def _json_value(value: Any) -> Any:
    """Formula value to its API JSON form (booleans as 1/0, dates as ISO strings)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, datetime):
        return dates.format_iso(value)
    if isinstance(value, str):
        return value or None
    if isinstance(value, list):
        items = [_json_value(item) for item in value if not is_blank(item)]
        return [item for item in items if item is not None] or None
    return value


class _Evaluator:
    """Request-scoped computation of field values (formula values and API output)."""

    def __init__(self, state: EmulatorState, base: Base, now: datetime) -> None:
        self.state = state
        self.base = base
        self.now = now
        self.cache: dict[tuple[str, str], Any] = {}
        self.active: set[tuple[str, str]] = set()

    def linked(self, table: Table, rec: Record, link_field_id: str | None) -> tuple[Table, list]:
        link = table.fields_by_id.get(link_field_id or "")
        if link is None or link.type != "multipleRecordLinks":
            return table, []
        linked_table = self.state.table_by_id(self.base, link.opts.get("linkedTableId", ""))
        if linked_table is None:
            return table, []
        records = [
            linked_table.records[rid]
            for rid in rec.cells.get(link.id, ())
            if rid in linked_table.records
        ]
        return linked_table, records

    def value(self, table: Table, rec: Record, fld: Field) -> Any:
        """The value a formula sees for ``fld`` of ``rec``."""
        field_type = fld.type
        if field_type in cells.RAW_FORMULA_TYPES:
            return rec.cells.get(fld.id)
        if field_type == "checkbox":
            return rec.cells.get(fld.id, False)
        if field_type in ("date", "dateTime"):
            raw = rec.cells.get(fld.id)
            return dates.parse_iso(raw) if raw else None
        key = (rec.id, fld.id)
        if key in self.cache:
            cached = self.cache[key]
            if isinstance(cached, FormulaRuntimeError):
                raise FormulaRuntimeError(str(cached))
            return cached
        if key in self.active:
            raise FormulaRuntimeError("Circular reference")
        self.active.add(key)
        try:
            result = self._compute(table, rec, fld)
        except FormulaRuntimeError as exc:
            self.cache[key] = exc
            raise
        finally:
            self.active.discard(key)
        self.cache[key] = result
        return result

    def _lookup_values(self, table: Table, rec: Record, fld: Field) -> list[Any]:
        linked_table, records = self.linked(table, rec, fld.opts.get("recordLinkFieldId"))
        target = linked_table.fields_by_id.get(fld.opts.get("fieldIdInLinkedTable", ""))
        values: list[Any] = []
        if target is None:
            return values
        for linked_rec in records:
            try:
                item = self.value(linked_table, linked_rec, target)
            except FormulaRuntimeError:
                continue
            if isinstance(item, list):
                values.extend(v for v in item if not is_blank(v))
            elif not is_blank(item):
                values.append(item)
        return values

    def _compute(self, table: Table, rec: Record, fld: Field) -> Any:
        field_type = fld.type
        if field_type == "multipleRecordLinks":
            linked_table, records = self.linked(table, rec, fld.id)
            primary_values = []
            for linked_rec in records:
                try:
                    primary = self.value(linked_table, linked_rec, linked_table.primary)
                except FormulaRuntimeError:
                    primary = "#ERROR!"
                primary_values.append(to_text(primary) if isinstance(primary, list) else primary)
            return primary_values or None
        if field_type == "multipleLookupValues":
            return self._lookup_values(table, rec, fld) or None
        if field_type == "rollup":
            values = self._lookup_values(table, rec, fld)
            compiled = self.state.compiled_rollup(table, fld)
            return compiled.evaluate(_RecordCtx(self, table, rec, values))
        if field_type == "count":
            return len(self.linked(table, rec, fld.opts.get("recordLinkFieldId"))[1])
        if field_type == "formula":
            compiled = self.state.compiled(table, fld.opts.get("formula", ""))
            return compiled.evaluate(_RecordCtx(self, table, rec))
        if field_type == "autoNumber":
            return rec.auto_number
        if field_type == "createdTime":
            return rec.created_dt
        if field_type == "lastModifiedTime":
            return self.last_modified(rec, fld.opts.get("referencedFieldIds") or [])
        if field_type == "createdBy":
            return rec.created_by
        if field_type == "lastModifiedBy":
            return rec.last_modified_by or rec.created_by
        if field_type == "button":
            return fld.opts.get("label")
        return rec.cells.get(fld.id)

    def last_modified(self, rec: Record, field_ids: Sequence[str]) -> datetime:
        """Latest change to the given fields (any field when empty), else the creation time."""
        if field_ids:
            times = [rec.cell_modified[f] for f in field_ids if f in rec.cell_modified]
        else:
            times = list(rec.cell_modified.values())
        if rec.last_modified and not field_ids:
            times.append(rec.last_modified)
        return max(times) if times else rec.created_dt

    def output(self, table: Table, rec: Record, fld: Field) -> Any:
        """The cell value as the API returns it with ``cellFormat=json`` (``None`` = omitted)."""
        field_type = fld.type
        if field_type not in cells.COMPUTED_TYPES:
            return rec.cells.get(fld.id)
        if field_type == "multipleLookupValues":
            linked_table, records = self.linked(table, rec, fld.opts.get("recordLinkFieldId"))
            target = linked_table.fields_by_id.get(fld.opts.get("fieldIdInLinkedTable", ""))
            if target is None:
                return None
            items: list[Any] = []
            for linked_rec in records:
                item = self.output(linked_table, linked_rec, target)
                if isinstance(item, list):
                    items.extend(item)
                elif item is not None:
                    items.append(item)
            return items or None
        if field_type == "count":
            return len(self.linked(table, rec, fld.opts.get("recordLinkFieldId"))[1])
        if field_type == "autoNumber":
            return rec.auto_number
        if field_type == "createdTime":
            return rec.created_time
        if field_type == "lastModifiedTime":
            return dates.format_iso(self.value(table, rec, fld))
        if field_type in ("createdBy", "lastModifiedBy"):
            return self.value(table, rec, fld)
        if field_type == "button":
            return {"label": fld.opts.get("label", "Open"), "url": fld.opts.get("url")}
        try:
            return _json_value(self.value(table, rec, fld))
        except FormulaRuntimeError:
            return {"error": "#ERROR!"}

    def string_output(self, table: Table, rec: Record, fld: Field, time_zone: str) -> str | None:
        """The cell rendered as text, for ``cellFormat=string``."""
        try:
            value = self.value(table, rec, fld)
        except FormulaRuntimeError:
            return "#ERROR!"
        if is_blank(value) or value is False:
            return None
        options = fld.opts
        if fld.type in ("createdTime", "lastModifiedTime") or (
            fld.type in ("formula", "rollup") and isinstance(value, datetime)
        ):
            options = (options.get("result") or {}).get("options") or {}
        if isinstance(value, datetime):
            date_format = (options.get("dateFormat") or {}).get("format", "YYYY-MM-DD")
            if fld.type == "date":
                return dates.format_moment(value, date_format)
            time_format = (options.get("timeFormat") or {}).get("format", "HH:mm")
            return dates.format_moment(
                dates.to_zone(value, time_zone), f"{date_format} {time_format}"
            )
        if fld.type == "checkbox":
            return "checked"
        if fld.type in ("number", "currency", "percent") and isinstance(value, (int, float)):
            precision = options.get("precision", 0)
            if fld.type == "percent":
                return f"{value * 100:.{precision}f}%"
            text = f"{value:,.{precision}f}" if fld.type == "currency" else f"{value:.{precision}f}"
            return f"{options.get('symbol', '$')}{text}" if fld.type == "currency" else text
        if isinstance(value, bool):
            return "1" if value else "0"
        return to_text(value)


def _copy(value: Any) -> Any:
    """Deep-copy containers only; scalars are immutable (this runs for every output cell)."""
    if isinstance(value, (str, int, float, bool)):
        return value
    return copy.deepcopy(value)


def _user_dict(user: User | None) -> dict[str, str] | None:
    return user.as_dict() if user else None


# --- change tracking (webhook payloads) -----------------------------------------------------------


class _Changes:
    """What one API call changed, for building webhook payloads."""

    def __init__(self) -> None:
        self.created: list[tuple[Table, Record]] = []
        self.updated: dict[tuple[str, str], tuple[Table, Record, dict[str, tuple[Any, Any]]]] = {}
        self.destroyed: list[tuple[Table, str]] = []
        self.fields_created: list[tuple[Table, Field]] = []
        self.fields_changed: list[tuple[Table, Field, dict[str, Any]]] = []
        self.tables_created: list[Table] = []
        self.tables_changed: list[tuple[Table, dict[str, Any]]] = []

    def update(self, table: Table, rec: Record, diffs: dict[str, tuple[Any, Any]]) -> None:
        key = (table.id, rec.id)
        if key in self.updated:
            existing = self.updated[key][2]
            for field_id, (old, new) in diffs.items():
                existing[field_id] = (existing[field_id][0] if field_id in existing else old, new)
        else:
            self.updated[key] = (table, rec, dict(diffs))

    def __bool__(self) -> bool:
        return any(
            (
                self.created,
                self.updated,
                self.destroyed,
                self.fields_created,
                self.fields_changed,
                self.tables_created,
                self.tables_changed,
            )
        )


# --- writes -----------------------------------------------------------------------------------


class _WriteSession:
    """Validates and coerces the cells of one write request before anything is applied.

    Side effects that typecasting implies (new select options, new linked records created from
    names) are collected and only applied by :meth:`commit`, so a request that fails on its last
    record changes nothing, as on Airtable.
    """

    def __init__(
        self, state: EmulatorState, base: Base, typecast: bool, *, seed_mode: bool = False
    ) -> None:
        self.state = state
        self.base = base
        self.typecast = typecast
        self.seed_mode = seed_mode
        self.new_choices: dict[str, tuple[Field, list[dict[str, Any]]]] = {}
        self.new_records: list[tuple[Table, str, dict[str, Any]]] = []
        self.pending_ids: set[str] = set()
        self.primary_index: dict[str, dict[str, str]] = {}

    def coerce(self, table: Table, fields: Any) -> dict[str, Any]:
        """Validate a ``fields`` object; returns field id -> stored value (``None`` clears)."""
        if not isinstance(fields, dict):
            raise errors.invalid_request('Invalid request: "fields" must be an object')
        result: dict[str, Any] = {}
        for key, value in fields.items():
            fld = table.field(key)
            if fld is None:
                raise errors.unknown_field(key)
            if fld.computed:
                raise errors.computed_field(fld.name)
            result[fld.id] = self.coerce_value(table, fld, value)
        return result

    def coerce_value(self, table: Table, fld: Field, value: Any) -> Any:
        """Coerce one cell value according to the field type and ``typecast``."""
        if value is None:
            return None
        field_type, name, typecast = fld.type, fld.name, self.typecast
        if field_type in cells.TEXT_TYPES:
            return cells.coerce_text(name, value, typecast)
        if field_type in cells.NUMBER_TYPES:
            return cells.coerce_number(name, field_type, value, typecast)
        if field_type == "rating":
            return cells.coerce_rating(name, value, typecast, int(fld.opts.get("max", 5)))
        if field_type == "checkbox":
            return cells.coerce_checkbox(name, value, typecast)
        if field_type == "date":
            return cells.coerce_date(name, value, typecast)
        if field_type == "dateTime":
            return cells.coerce_datetime(name, value, typecast)
        if field_type == "singleSelect":
            if typecast and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = format_number(value)
            if not isinstance(value, str):
                raise errors.invalid_value(name, "expected the name of a select option")
            return self.choice(fld, value) if value else None
        if field_type == "multipleSelects":
            if typecast and isinstance(value, str):
                value = cells.split_list(value)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise errors.invalid_value(name, "expected an array of select option names")
            chosen: list[str] = []
            for item in value:
                if item and self.choice(fld, item) not in chosen:
                    chosen.append(item)
            return chosen or None
        if field_type == "multipleRecordLinks":
            return self.links(fld, value)
        if field_type == "singleCollaborator":
            return self.collaborator(fld, value)
        if field_type == "multipleCollaborators":
            if typecast and isinstance(value, str):
                value = cells.split_list(value)
            if not isinstance(value, list):
                raise errors.invalid_value(name, "expected an array of collaborators")
            people = [self.collaborator(fld, item) for item in value]
            return [p for i, p in enumerate(people) if p and p not in people[:i]] or None
        if field_type == "multipleAttachments":
            return self.attachments(table, fld, value)
        if field_type == "barcode":
            return cells.coerce_barcode(name, value, typecast)
        return value

    def choice(self, fld: Field, name: str) -> str:
        """Validate a select option, adding it (pending) when ``typecast`` allows."""
        existing = fld.opts.get("choices", [])
        pending = self.new_choices.get(fld.id, (fld, []))[1]
        if any(c["name"] == name for c in existing) or any(c["name"] == name for c in pending):
            return name
        if not (self.typecast or self.seed_mode):
            raise errors.invalid_choice(name)
        index = len(existing) + len(pending)
        choice_id = stable_id("sel", fld.id, name) if self.seed_mode else new_id("sel")
        pending.append(
            {
                "id": choice_id,
                "name": name,
                "color": cells.CHOICE_COLORS[index % len(cells.CHOICE_COLORS)],
            }
        )
        self.new_choices[fld.id] = (fld, pending)
        return name

    def _primary_index(self, linked: Table) -> dict[str, str]:
        index = self.primary_index.get(linked.id)
        if index is None:
            index = {}
            ev = _Evaluator(self.state, self.base, dates.utcnow())
            for rec in linked.records.values():
                try:
                    key = to_text(ev.value(linked, rec, linked.primary))
                except FormulaRuntimeError:
                    continue
                index.setdefault(key, rec.id)
            self.primary_index[linked.id] = index
        return index

    def links(self, fld: Field, value: Any) -> list[str] | None:
        """Validate linked record ids; with typecast, names find or create linked records."""
        linked = self.state.table_by_id(self.base, fld.opts.get("linkedTableId", ""))
        if linked is None:
            raise errors.invalid_value(fld.name, "the linked table no longer exists")
        lenient = self.typecast or self.seed_mode
        if isinstance(value, str) and lenient:
            value = [value] if is_id(value, "rec") else cells.split_list(value)
        if not isinstance(value, list):
            raise errors.invalid_value(fld.name, "Value is not an array of record IDs.")
        result: list[str] = []
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                item = item["id"]
            if not isinstance(item, str):
                raise errors.invalid_value(fld.name, "Value is not an array of record IDs.")
            if item in linked.records or item in self.pending_ids:
                record_id = item
            elif is_id(item, "rec"):
                raise ApiError(422, "ROW_DOES_NOT_EXIST", f"Record ID {item} does not exist")
            elif lenient:
                index = self._primary_index(linked)
                found = index.get(item)
                if found is None and self.seed_mode:
                    raise SeedError(f"no record named {item!r} in table {linked.name!r}")
                record_id = found or self._pending_record(linked, item, index)
            else:
                raise errors.invalid_value(fld.name, "Value is not an array of record IDs.")
            if record_id not in result:
                result.append(record_id)
        return result or None

    def _pending_record(self, linked: Table, name: str, index: dict[str, str]) -> str:
        primary = linked.primary
        if primary.computed:
            raise errors.invalid_value(primary.name, "cannot create a record from a name")
        record_id = new_id("rec")
        self.new_records.append(
            (linked, record_id, {primary.id: self.coerce_value(linked, primary, name)})
        )
        self.pending_ids.add(record_id)
        index[name] = record_id
        return record_id

    def collaborator(self, fld: Field, value: Any) -> dict[str, str] | None:
        """Resolve ``{"id": ...}`` / ``{"email": ...}`` (or, with typecast, an email string)."""
        if isinstance(value, str) and (self.typecast or self.seed_mode):
            value = {"email": value} if "@" in value else {"id": value}
        if not isinstance(value, dict):
            raise errors.invalid_value(fld.name, "expected a collaborator object")
        user = self.state.find_user(value.get("id"), value.get("email"))
        if user is None:
            raise errors.invalid_value(fld.name, "unknown collaborator")
        return user.as_dict()

    def attachments(self, table: Table, fld: Field, value: Any) -> list[dict[str, Any]] | None:
        """New attachments need a ``url``; existing ones may be referenced by ``id``."""
        if not isinstance(value, list):
            raise errors.invalid_value(fld.name, "expected an array of attachment objects")
        result = []
        for item in value:
            if not isinstance(item, dict):
                raise errors.invalid_value(fld.name, "expected an attachment object")
            if item.get("url"):
                filename = item.get("filename") or urlsplit(item["url"]).path.rsplit("/", 1)[-1]
                result.append(
                    {
                        "id": item.get("id") if is_id(item.get("id"), "att") else new_id("att"),
                        "url": item["url"],
                        "filename": filename or "file",
                        "size": int(item.get("size", 0)),
                        "type": mimetypes.guess_type(filename)[0] or "application/octet-stream",
                    }
                )
            elif item.get("id"):
                known = next(
                    (
                        att
                        for rec in table.records.values()
                        for att in rec.cells.get(fld.id, ())
                        if att.get("id") == item["id"]
                    ),
                    None,
                )
                if known is None:
                    raise errors.invalid_value(fld.name, f"unknown attachment {item['id']}")
                result.append(dict(known))
            else:
                raise errors.invalid_value(fld.name, "attachments need a url or an id")
        return result or None

    def commit(self, now: datetime, user: User | None, changes: _Changes) -> None:
        """Apply pending select options and linked records created by typecast."""
        for fld, pending in self.new_choices.values():
            options = dict(fld.opts)
            options["choices"] = [*options.get("choices", []), *pending]
            fld.options = options
        for linked, record_id, new_cells in self.new_records:
            rec = self.state.new_record(self.base, linked, now, user, record_id=record_id)
            self.state.apply_cells(
                self.base,
                linked,
                rec,
                new_cells,
                replace=False,
                now=now,
                user=user,
                changes=changes,
                created=True,
            )
            changes.created.append((linked, rec))


# --- the state ------------------------------------------------------------------------------------


class EmulatorState:
    """All data of the emulator plus the operations of the Airtable Web API.

    Every public method takes the single re-entrant lock, so the HTTP server's threads and test
    code can use the state concurrently.
    """

    def __init__(self, seed: dict[str, Any] | str | os.PathLike[str]) -> None:
        """Load the state from a seed (dict or JSON file path; normalised with ``load_seed``)."""
        self.lock = threading.RLock()
        self._seed = load_seed(seed)
        self._formula_cache: dict[tuple[str, str, int, tuple[str, ...]], CompiledFormula] = {}
        self._schema_version = 0
        self.load()

    # --- loading and export -------------------------------------------------------------------

    def load(self, seed: dict[str, Any] | str | os.PathLike[str] | None = None) -> None:
        """(Re)build everything from the seed; a new ``seed`` replaces the stored one."""
        with self.lock:
            if seed is not None:
                self._seed = load_seed(seed)
            seed_data = self._seed
            self.users: dict[str, User] = {}
            self.tokens: dict[str, Token] = {}
            for spec in seed_data["users"]:
                self.users[spec["id"]] = User(spec["id"], spec["email"], spec["name"])
            for spec in seed_data["tokens"]:
                user = self.users.get(spec["user_id"]) or User(
                    spec["user_id"], spec["email"], spec["name"]
                )
                self.users.setdefault(user.id, user)
                self.tokens[spec["token"]] = Token(
                    spec["token"], user, list(spec["bases"]), frozenset(spec["scopes"])
                )
            self.users.setdefault(
                SYSTEM_USER_ID, User(SYSTEM_USER_ID, "emulator@example.com", "Emulator")
            )
            self.bases: dict[str, Base] = {}
            self._iterators: OrderedDict[str, _Iterator] = OrderedDict()
            self._formula_cache.clear()
            self._schema_version += 1
            for base_spec in seed_data["bases"]:
                self.bases[base_spec["id"]] = self._build_base(base_spec)

    def _build_base(self, spec: dict[str, Any]) -> Base:
        tables = []
        for table_spec in spec["tables"]:
            fields = [
                Field(
                    f["id"],
                    f["name"],
                    f["type"],
                    f.get("description"),
                    copy.deepcopy(f.get("options")),
                )
                for f in table_spec["fields"]
            ]
            views = [
                View(
                    v["id"],
                    v["name"],
                    v.get("type", "grid"),
                    v.get("filterByFormula"),
                    list(v.get("sort", [])),
                    v.get("visibleFieldIds"),
                )
                for v in table_spec["views"]
            ]
            tables.append(
                Table(
                    table_spec["id"],
                    table_spec["name"],
                    table_spec.get("description"),
                    fields,
                    views,
                )
            )
        base = Base(spec["id"], spec["name"], spec["permission_level"], tables)
        try:
            for table in tables:
                for fld in table.fields:
                    self._resolve_options(base, table, fld, pair_links=True)
            for table in tables:
                for fld in table.fields:
                    self._validate_computed(table, fld)
        except ApiError as exc:
            raise SeedError(f"base {base.name!r}: {exc.message}") from exc
        # Records first (so links can point anywhere), then their cells.
        session = _WriteSession(self, base, typecast=True, seed_mode=True)
        pending: list[tuple[Table, Record, dict[str, Any]]] = []
        for table, table_spec in zip(tables, spec["tables"], strict=True):
            for rec_spec in table_spec["records"]:
                created_dt = dates.parse_iso(rec_spec["createdTime"]) or DEFAULT_CREATED_TIME
                rec = Record(rec_spec["id"], dates.format_iso(created_dt), created_dt)
                rec.auto_number = table.next_auto_number
                table.next_auto_number += 1
                table.records[rec.id] = rec
                base.record_tables[rec.id] = table
                pending.append((table, rec, rec_spec["fields"]))
        changes = _Changes()
        # Plain cells first, links second: links may name records by their primary value, which
        # must already be filled in whatever order the tables come.
        for links_pass in (False, True):
            for table, rec, cell_values in pending:
                writable = {}
                for key, value in cell_values.items():
                    target = table.field(key)
                    if target is None:
                        raise SeedError(f"table {table.name!r} has no field {key!r}")
                    is_link = target.type == "multipleRecordLinks"
                    if not target.computed and is_link == links_pass:
                        writable[key] = value
                try:
                    coerced = session.coerce(table, writable)
                except ApiError as exc:
                    raise SeedError(f"record {rec.id} in {table.name!r}: {exc.message}") from exc
                rec.cells = {**rec.cells, **{k: v for k, v in coerced.items() if v is not None}}
                rec.cell_modified = dict.fromkeys(rec.cells, rec.created_dt)
        session.commit(DEFAULT_CREATED_TIME, None, changes)
        for table, rec, _ in pending:
            self._sync_inverse(base, table, rec, {}, rec.cells, None, changes, touch=False)
        return base

    def to_seed(self) -> dict[str, Any]:
        """Export the current data as a seed (fields keyed by name; computed values left out)."""
        with self.lock:
            bases = []
            for base in self.bases.values():
                tables = []
                for table in base.tables:
                    fields = []
                    for fld in table.fields:
                        entry: dict[str, Any] = {"id": fld.id, "name": fld.name, "type": fld.type}
                        if fld.description:
                            entry["description"] = fld.description
                        if fld.options is not None:
                            entry["options"] = copy.deepcopy(fld.options)
                        fields.append(entry)
                    views = []
                    for view in table.views:
                        view_entry: dict[str, Any] = {
                            "id": view.id,
                            "name": view.name,
                            "type": view.type,
                        }
                        if view.filter_formula:
                            view_entry["filterByFormula"] = view.filter_formula
                        if view.sort:
                            view_entry["sort"] = copy.deepcopy(view.sort)
                        views.append(view_entry)
                    records = [
                        {
                            "id": rec.id,
                            "createdTime": rec.created_time,
                            "fields": {
                                table.fields_by_id[fid].name: copy.deepcopy(value)
                                for fid, value in rec.cells.items()
                                if fid in table.fields_by_id
                            },
                        }
                        for rec in table.records.values()
                    ]
                    table_entry: dict[str, Any] = {
                        "id": table.id,
                        "name": table.name,
                        "fields": fields,
                        "views": views,
                        "records": records,
                    }
                    if table.description:
                        table_entry["description"] = table.description
                    tables.append(table_entry)
                bases.append(
                    {
                        "id": base.id,
                        "name": base.name,
                        "permission_level": base.permission_level,
                        "tables": tables,
                    }
                )
            return {
                "tokens": copy.deepcopy(self._seed["tokens"]),
                "users": copy.deepcopy(self._seed["users"]),
                "bases": bases,
            }

    # --- lookups and auth -------------------------------------------------------------------------

    def find_user(self, user_id: str | None = None, email: str | None = None) -> User | None:
        """Find a known user by id or (case-insensitive) email."""
        with self.lock:
            if user_id and user_id in self.users:
                return self.users[user_id]
            if email:
                return next(
                    (u for u in self.users.values() if u.email.lower() == email.lower()), None
                )
            return None

    def table_by_id(self, base: Base, table_id: str) -> Table | None:
        """Find a table of ``base`` by id."""
        return next((t for t in base.tables if t.id == table_id), None)

    def authenticate(self, token: str | None) -> Token:
        """Return the token's record, or raise 401."""
        with self.lock:
            found = self.tokens.get(token or "")
            if found is None:
                raise errors.authentication_required()
            return found

    def authorize(
        self,
        token: Token,
        base_id: str | None = None,
        scope: str | None = None,
        permission: str | None = None,
    ) -> Base | None:
        """Check the token may use ``scope`` on ``base_id`` with ``permission``; raise 403."""
        with self.lock:
            if scope is not None and scope not in token.scopes:
                raise errors.forbidden()
            if base_id is None:
                return None
            base = self.bases.get(base_id)
            if base is None or base_id not in token.bases:
                raise errors.forbidden()
            if (
                permission
                and PERMISSION_RANK.get(base.permission_level, 0) < PERMISSION_RANK[permission]
            ):
                raise errors.forbidden()
            return base

    def _base(self, base_id: str) -> Base:
        base = self.bases.get(base_id)
        if base is None:
            raise errors.forbidden()
        return base

    def _table(self, base_id: str, table_ref: str) -> tuple[Base, Table]:
        base = self._base(base_id)
        table = base.table(table_ref)
        if table is None:
            raise errors.forbidden()
        return base, table

    def compiled(self, table: Table, text: str, variables: tuple[str, ...] = ()) -> CompiledFormula:
        """Compile (cached per schema version) a formula against ``table``'s fields."""
        key = (table.id, text, self._schema_version, variables)
        compiled = self._formula_cache.get(key)
        if compiled is None:
            if len(self._formula_cache) > 1024:
                self._formula_cache.clear()

            def resolve(ref: str) -> str | None:
                fld = table.field(ref)
                return fld.id if fld else None

            compiled = compile_formula(text, resolve, variables=variables)
            self._formula_cache[key] = compiled
        return compiled

    # --- records: reading -------------------------------------------------------------------------

    def list_records(self, base_id: str, table_ref: str, query: ListQuery) -> dict[str, Any]:
        """List records: view, filterByFormula, sort, fields, maxRecords and offset pagination.

        Args:
            base_id: Base id.
            table_ref: Table id or name.
            query: Parsed parameters.

        Returns:
            ``{"records": [...], "offset": "..."}`` (``offset`` only when more pages exist).
        """
        with self.lock:
            base, table = self._table(base_id, table_ref)
            page_size = MAX_PAGE_SIZE if query.page_size is None else query.page_size
            if not 1 <= page_size <= MAX_PAGE_SIZE:
                raise errors.invalid_request(
                    f"Invalid request: pageSize must be between 1 and {MAX_PAGE_SIZE}"
                )
            if query.max_records is not None and query.max_records < 1:
                raise errors.invalid_request("Invalid request: maxRecords must be positive")
            self._check_cell_format(query)
            output_fields = self._output_fields(table, query.fields)
            ev = _Evaluator(self, base, dates.utcnow())
            if query.offset:
                iterator, start = self._iterator(table, query.offset)
                ids = iterator.ids
            else:
                ids = [rec.id for rec in self._select(ev, table, query)]
                iterator, start = None, 0
            page = [
                table.records[rid] for rid in ids[start : start + page_size] if rid in table.records
            ]
            result: dict[str, Any] = {
                "records": [self._serialize(ev, table, rec, output_fields, query) for rec in page]
            }
            next_start = start + page_size
            if next_start < len(ids):
                if iterator is None:
                    iterator = self._new_iterator(table, ids)
                result["offset"] = f"{iterator.id}/{ids[next_start]}"
            return result

    def get_record(
        self, base_id: str, table_ref: str, record_id: str, query: ListQuery | None = None
    ) -> dict[str, Any]:
        """Get one record (404 when it is not in this table)."""
        query = query or ListQuery()
        with self.lock:
            base, table = self._table(base_id, table_ref)
            self._check_cell_format(query)
            rec = table.records.get(record_id)
            if rec is None:
                raise errors.record_not_found()
            ev = _Evaluator(self, base, dates.utcnow())
            return self._serialize(ev, table, rec, None, query)

    def _check_cell_format(self, query: ListQuery) -> None:
        if query.cell_format not in ("json", "string"):
            raise errors.invalid_request(
                f"Invalid request: cellFormat must be 'json' or 'string', got {query.cell_format!r}"
            )
        if query.cell_format == "string" and not (query.time_zone and query.user_locale):
            raise errors.invalid_request(
                "Invalid request: timeZone and userLocale are required when cellFormat is 'string'"
            )

    def _output_fields(self, table: Table, refs: list[str] | None) -> list[Field] | None:
        if refs is None:
            return None
        selected: list[Field] = []
        for ref in refs:
            fld = table.field(ref)
            if fld is None:
                raise errors.unknown_field(ref)
            if fld not in selected:
                selected.append(fld)
        return selected

    def _select(self, ev: _Evaluator, table: Table, query: ListQuery) -> list[Record]:
        records = list(table.records.values())
        view = None
        if query.view:
            view = table.view(query.view)
            if view is None:
                raise ApiError(422, "VIEW_NAME_NOT_FOUND", f'Could not find view "{query.view}"')
            if view.filter_formula:
                compiled = self.compiled(table, view.filter_formula)
                records = [r for r in records if compiled.matches(_RecordCtx(ev, table, r))]
        by_id = _record_id_list(query.formula) if query.formula else None
        if by_id is not None:
            # Answered from the ids, as Airtable's own index would: evaluating 100
            # comparisons per record would hold the one lock (and every other request)
            # for most of a second on a table of thousands.
            records = [r for r in records if r.id in by_id]
        elif query.formula and query.formula.strip():
            try:
                compiled = self.compiled(table, query.formula)
            except FormulaError as exc:
                raise errors.invalid_formula(str(exc)) from exc
            records = [r for r in records if compiled.matches(_RecordCtx(ev, table, r))]
        sort = list(query.sort)
        if not sort and view is not None:
            sort = [(s["field"], s.get("direction", "asc")) for s in view.sort]
        keys: list[tuple[Field, bool]] = []
        for ref, direction in sort:
            fld = table.field(ref)
            if fld is None:
                raise errors.unknown_field(ref)
            if direction not in ("asc", "desc"):
                raise errors.invalid_request(
                    f"Invalid request: sort direction must be 'asc' or 'desc', got {direction!r}"
                )
            keys.append((fld, direction == "desc"))
        # Stable sorts from the last key to the first give a multi-key sort.
        for fld, descending in reversed(keys):
            sort_key = functools.partial(self._sort_key, ev, table, fld=fld)
            records.sort(key=sort_key, reverse=descending)
        if query.max_records is not None:
            records = records[: query.max_records]
        return records

    def _sort_key(
        self, ev: _Evaluator, table: Table, rec: Record, *, fld: Field
    ) -> tuple[Any, ...]:
        # Blank sorts first ascending (last descending); selects sort by option order.
        if fld.type in ("singleSelect", "multipleSelects"):
            raw = rec.cells.get(fld.id)
            if raw is None:
                return (0,)
            order = {c["name"]: i for i, c in enumerate(fld.opts.get("choices", []))}
            names = raw if isinstance(raw, list) else [raw]
            return (1, tuple(order.get(n, len(order)) for n in names))
        try:
            value = ev.value(table, rec, fld)
        except FormulaRuntimeError:
            return (0,)
        if is_blank(value):
            return (0,)
        if isinstance(value, (bool, int, float)):
            return (1, 0, float(value))
        if isinstance(value, datetime):
            return (1, 1, value.timestamp())
        return (1, 2, to_text(value).casefold())

    def _serialize(
        self,
        ev: _Evaluator,
        table: Table,
        rec: Record,
        output_fields: list[Field] | None,
        query: ListQuery,
    ) -> dict[str, Any]:
        fields_out: dict[str, Any] = {}
        for fld in output_fields if output_fields is not None else table.fields:
            if query.cell_format == "string":
                value = ev.string_output(table, rec, fld, query.time_zone or "utc")
            else:
                value = ev.output(table, rec, fld)
            if value is None or value == "" or value == [] or value is False:
                continue
            fields_out[fld.id if query.by_field_id else fld.name] = _copy(value)
        result: dict[str, Any] = {
            "id": rec.id,
            "createdTime": rec.created_time,
            "fields": fields_out,
        }
        if query.comment_count:
            result["commentCount"] = len(rec.comments)
        return result

    def _new_iterator(self, table: Table, ids: list[str]) -> _Iterator:
        now = dates.utcnow()
        while self._iterators:
            oldest_id, oldest = next(iter(self._iterators.items()))
            if len(self._iterators) < MAX_ITERATORS and now - oldest.created < ITERATOR_TTL:
                break
            del self._iterators[oldest_id]
        iterator = _Iterator(new_id("itr"), table.id, ids, {r: i for i, r in enumerate(ids)}, now)
        self._iterators[iterator.id] = iterator
        return iterator

    def _iterator(self, table: Table, offset: str) -> tuple[_Iterator, int]:
        iterator_id, _, record_id = offset.partition("/")
        if not (is_id(iterator_id, "itr") and is_id(record_id, "rec")):
            raise ApiError(422, "INVALID_OFFSET_VALUE", f"The value of offset {offset} is invalid")
        iterator = self._iterators.get(iterator_id)
        if iterator is None or dates.utcnow() - iterator.created > ITERATOR_TTL:
            raise ApiError(
                422,
                "LIST_RECORDS_ITERATOR_NOT_AVAILABLE",
                "This iterator is not available. It may have timed out; restart the listing.",
            )
        if iterator.table_id != table.id or record_id not in iterator.positions:
            raise ApiError(422, "INVALID_OFFSET_VALUE", f"The value of offset {offset} is invalid")
        return iterator, iterator.positions[record_id]

    # --- records: writing -------------------------------------------------------------------------

    def new_record(
        self,
        base: Base,
        table: Table,
        now: datetime,
        user: User | None,
        record_id: str | None = None,
    ) -> Record:
        """Insert an empty record (internal; writes go through the create/update methods)."""
        while record_id is None or record_id in base.record_tables:
            record_id = new_id("rec")
        rec = Record(record_id, dates.format_iso(now), now, created_by=_user_dict(user))
        rec.auto_number = table.next_auto_number
        table.next_auto_number += 1
        table.records[rec.id] = rec
        base.record_tables[rec.id] = table
        return rec

    def apply_cells(
        self,
        base: Base,
        table: Table,
        rec: Record,
        updates: dict[str, Any],
        *,
        replace: bool,
        now: datetime,
        user: User | None,
        changes: _Changes,
        created: bool = False,
    ) -> None:
        """Write coerced cells (``None`` clears); ``replace`` clears every field not given."""
        old_cells = rec.cells
        new_cells = {} if replace else dict(old_cells)
        for field_id, value in updates.items():
            if value is None:
                new_cells.pop(field_id, None)
            else:
                new_cells[field_id] = value
        changed = [
            fid
            for fid in dict.fromkeys([*old_cells, *new_cells])
            if old_cells.get(fid) != new_cells.get(fid)
        ]
        rec.cells = new_cells
        if not changed:
            return
        for field_id in changed:
            rec.cell_modified[field_id] = now
        if not created:
            rec.last_modified = now
            rec.last_modified_by = _user_dict(user)
            changes.update(
                table, rec, {fid: (old_cells.get(fid), new_cells.get(fid)) for fid in changed}
            )
        self._sync_inverse(base, table, rec, old_cells, new_cells, now, changes)

    def _sync_inverse(
        self,
        base: Base,
        table: Table,
        rec: Record,
        old_cells: dict[str, Any],
        new_cells: dict[str, Any],
        now: datetime | None,
        changes: _Changes,
        *,
        touch: bool = True,
    ) -> None:
        """Keep the inverse link field of every linked record consistent with ``rec``."""
        for fld in table.fields:
            if fld.type != "multipleRecordLinks" or not fld.opts.get("inverseLinkFieldId"):
                continue
            linked = self.table_by_id(base, fld.opts.get("linkedTableId", ""))
            inverse_id = fld.opts["inverseLinkFieldId"]
            if linked is None or inverse_id not in linked.fields_by_id:
                continue
            old = old_cells.get(fld.id) or []
            new = new_cells.get(fld.id) or []
            for rid in new:
                other = linked.records.get(rid)
                current = other.cells.get(inverse_id, []) if other else []
                if other is not None and rec.id not in current:
                    self._set_link_cell(
                        linked, other, inverse_id, [*current, rec.id], now, changes, touch
                    )
            for rid in old:
                other = linked.records.get(rid)
                if rid in new or other is None:
                    continue
                current = other.cells.get(inverse_id, [])
                if rec.id in current:
                    remaining = [x for x in current if x != rec.id]
                    self._set_link_cell(linked, other, inverse_id, remaining, now, changes, touch)

    def _set_link_cell(
        self,
        table: Table,
        rec: Record,
        field_id: str,
        value: list[str],
        now: datetime | None,
        changes: _Changes,
        touch: bool,
    ) -> None:
        old = rec.cells.get(field_id)
        new_cells = dict(rec.cells)
        if value:
            new_cells[field_id] = value
        else:
            new_cells.pop(field_id, None)
        rec.cells = new_cells
        if touch and now is not None:
            rec.cell_modified[field_id] = now
            changes.update(table, rec, {field_id: (old, value or None)})

    def create_records(
        self,
        base_id: str,
        table_ref: str,
        records: Sequence[Any],
        *,
        typecast: bool = False,
        user: User | None = None,
        source: str = "publicApi",
        by_field_id: bool = False,
    ) -> list[dict[str, Any]]:
        """Create records atomically (all or nothing).

        Args:
            base_id: Base id.
            table_ref: Table id or name.
            records: ``fields`` objects, one per record.
            typecast: Convert strings, add select options, create linked records by name.
            user: Who creates them (``createdBy``, webhook metadata).
            source: Webhook ``actionMetadata.source``.
            by_field_id: Key the returned fields by field id.

        Returns:
            The created records.
        """
        with self.lock:
            base, table = self._table(base_id, table_ref)
            session = _WriteSession(self, base, typecast)
            coerced = [session.coerce(table, fields) for fields in records]
            now = dates.utcnow()
            changes = _Changes()
            session.commit(now, user, changes)
            created = []
            for new_cells in coerced:
                rec = self.new_record(base, table, now, user)
                self.apply_cells(
                    base,
                    table,
                    rec,
                    new_cells,
                    replace=False,
                    now=now,
                    user=user,
                    changes=changes,
                    created=True,
                )
                created.append(rec)
                changes.created.append((table, rec))
            self._emit(base, changes, user, source, now)
            ev = _Evaluator(self, base, now)
            query = ListQuery(by_field_id=by_field_id)
            return [self._serialize(ev, table, rec, None, query) for rec in created]

    def update_records(
        self,
        base_id: str,
        table_ref: str,
        records: Sequence[Any],
        *,
        replace: bool = False,
        typecast: bool = False,
        merge_on: Sequence[str] | None = None,
        user: User | None = None,
        source: str = "publicApi",
        by_field_id: bool = False,
    ) -> dict[str, Any]:
        """Update (PATCH merge, PUT replace) or upsert records atomically.

        Args:
            base_id: Base id.
            table_ref: Table id or name.
            records: ``{"id": ..., "fields": {...}}`` objects; with ``merge_on`` ``id`` is optional.
            replace: PUT semantics: fields not given are cleared.
            typecast: See :meth:`create_records`.
            merge_on: ``performUpsert.fieldsToMergeOn``: match records on these fields, update
                the single match or create a record when none matches.
            user: Who edits.
            source: Webhook ``actionMetadata.source``.
            by_field_id: Key the returned fields by field id.

        Returns:
            ``{"records": [...]}``, plus ``createdRecords``/``updatedRecords`` for upserts.
        """
        with self.lock:
            base, table = self._table(base_id, table_ref)
            session = _WriteSession(self, base, typecast)
            merge_fields: list[Field] = []
            if merge_on is not None:
                if not isinstance(merge_on, list) or not 1 <= len(merge_on) <= 3:
                    raise errors.invalid_request(
                        "Invalid request: fieldsToMergeOn must list between 1 and 3 fields"
                    )
                for ref in merge_on:
                    fld = table.field(ref) if isinstance(ref, str) else None
                    if fld is None:
                        raise errors.unknown_field(str(ref))
                    if fld.computed:
                        raise errors.invalid_request(
                            f'Invalid request: cannot merge on computed field "{fld.name}"'
                        )
                    merge_fields.append(fld)
            plan: list[tuple[Record | None, dict[str, Any]]] = []
            new_keys: set[str] = set()
            for item in records:
                if not isinstance(item, dict):
                    raise ApiError(422, "INVALID_RECORDS", "Each record must be an object")
                coerced = session.coerce(table, item.get("fields"))
                record_id = item.get("id")
                if record_id is not None:
                    rec = table.records.get(record_id) if isinstance(record_id, str) else None
                    if rec is None:
                        raise errors.record_not_found()
                    plan.append((rec, coerced))
                    continue
                if not merge_fields:
                    raise ApiError(422, "INVALID_RECORDS", 'Each record needs an "id"')
                missing = [f.name for f in merge_fields if f.id not in coerced]
                if missing:
                    raise errors.invalid_request(
                        "Invalid request: every record must contain the fieldsToMergeOn fields; "
                        f"missing {', '.join(missing)}"
                    )
                key_values = [coerced[f.id] for f in merge_fields]
                matches = [
                    rec
                    for rec in table.records.values()
                    if [rec.cells.get(f.id) for f in merge_fields] == key_values
                ]
                if len(matches) > 1:
                    raise errors.invalid_request(
                        "Invalid request: more than one record matches the fieldsToMergeOn "
                        f"values {json.dumps(key_values)}"
                    )
                if not matches:
                    key = json.dumps(key_values, sort_keys=True)
                    if key in new_keys:
                        raise errors.invalid_request(
                            "Invalid request: two records to create share the fieldsToMergeOn "
                            f"values {key}"
                        )
                    new_keys.add(key)
                plan.append((matches[0] if matches else None, coerced))
            now = dates.utcnow()
            changes = _Changes()
            session.commit(now, user, changes)
            touched: list[Record] = []
            created_ids: list[str] = []
            updated_ids: list[str] = []
            for rec, coerced in plan:
                if rec is None:
                    rec = self.new_record(base, table, now, user)
                    self.apply_cells(
                        base,
                        table,
                        rec,
                        coerced,
                        replace=False,
                        now=now,
                        user=user,
                        changes=changes,
                        created=True,
                    )
                    changes.created.append((table, rec))
                    created_ids.append(rec.id)
                else:
                    self.apply_cells(
                        base,
                        table,
                        rec,
                        coerced,
                        replace=replace,
                        now=now,
                        user=user,
                        changes=changes,
                    )
                    if rec.id not in updated_ids:
                        updated_ids.append(rec.id)
                touched.append(rec)
            self._emit(base, changes, user, source, now)
            ev = _Evaluator(self, base, now)
            query = ListQuery(by_field_id=by_field_id)
            result: dict[str, Any] = {
                "records": [self._serialize(ev, table, rec, None, query) for rec in touched]
            }
            if merge_on is not None:
                result["createdRecords"] = created_ids
                result["updatedRecords"] = updated_ids
            return result

    def delete_records(
        self,
        base_id: str,
        table_ref: str,
        record_ids: Sequence[str],
        *,
        user: User | None = None,
        source: str = "publicApi",
    ) -> list[dict[str, Any]]:
        """Delete records atomically; links pointing at them are removed everywhere."""
        with self.lock:
            base, table = self._table(base_id, table_ref)
            for record_id in record_ids:
                if record_id not in table.records:
                    raise errors.record_not_found()
            doomed = set(record_ids)
            changes = _Changes()
            now = dates.utcnow()
            for record_id in dict.fromkeys(record_ids):
                del table.records[record_id]
                base.record_tables.pop(record_id, None)
                changes.destroyed.append((table, record_id))
            for other_table in base.tables:
                links = [
                    f
                    for f in other_table.fields
                    if f.type == "multipleRecordLinks" and f.opts.get("linkedTableId") == table.id
                ]
                for fld in links:
                    for rec in other_table.records.values():
                        current = rec.cells.get(fld.id)
                        if current and doomed.intersection(current):
                            remaining = [x for x in current if x not in doomed]
                            self._set_link_cell(
                                other_table, rec, fld.id, remaining, now, changes, True
                            )
            self._emit(base, changes, user, source, now)
            return [{"id": record_id, "deleted": True} for record_id in dict.fromkeys(record_ids)]

    # --- comments ---------------------------------------------------------------------------------

    def _record(self, base_id: str, table_ref: str, record_id: str) -> tuple[Base, Table, Record]:
        base, table = self._table(base_id, table_ref)
        rec = table.records.get(record_id)
        if rec is None:
            raise errors.record_not_found()
        return base, table, rec

    def _comment_json(self, comment: Comment) -> dict[str, Any]:
        mentioned = {}
        for user_id in dict.fromkeys(MENTION_RE.findall(comment.text)):
            user = self.users.get(user_id)
            if user is not None:
                mentioned[user_id] = {
                    "type": "user",
                    "id": user.id,
                    "displayName": user.name,
                    "email": user.email,
                }
        result: dict[str, Any] = {
            "id": comment.id,
            "author": comment.author.as_dict(),
            "text": comment.text,
            "createdTime": comment.created_time,
            "lastUpdatedTime": comment.last_updated_time,
        }
        if mentioned:
            result["mentioned"] = mentioned
        if comment.parent_comment_id:
            result["parentCommentId"] = comment.parent_comment_id
        return result

    def list_comments(
        self,
        base_id: str,
        table_ref: str,
        record_id: str,
        page_size: int | None = None,
        offset: str | None = None,
    ) -> dict[str, Any]:
        """Comments of a record, newest first, paginated with ``offset``."""
        with self.lock:
            _, _, rec = self._record(base_id, table_ref, record_id)
            size = page_size or 100
            if not 1 <= size <= 100:
                raise errors.invalid_request("Invalid request: pageSize must be between 1 and 100")
            ordered = list(reversed(rec.comments))
            start = 0
            if offset:
                positions = {c.id: i for i, c in enumerate(ordered)}
                if offset not in positions:
                    raise ApiError(
                        422, "INVALID_OFFSET_VALUE", f"The value of offset {offset} is invalid"
                    )
                start = positions[offset]
            page = ordered[start : start + size]
            more = start + size < len(ordered)
            return {
                "comments": [self._comment_json(c) for c in page],
                "offset": ordered[start + size].id if more else None,
            }

    def create_comment(
        self,
        base_id: str,
        table_ref: str,
        record_id: str,
        text: Any,
        parent_comment_id: Any = None,
        user: User | None = None,
    ) -> dict[str, Any]:
        """Add a comment (``@[usr...]`` mentions of known users are reported in ``mentioned``)."""
        with self.lock:
            _, _, rec = self._record(base_id, table_ref, record_id)
            if not isinstance(text, str) or not text.strip():
                raise errors.invalid_request('Invalid request: "text" must be a non-empty string')
            if parent_comment_id is not None and not any(
                c.id == parent_comment_id for c in rec.comments
            ):
                raise errors.invalid_request("Invalid request: unknown parentCommentId")
            comment = Comment(
                new_id("com"),
                user or self.users[SYSTEM_USER_ID],
                text,
                dates.format_iso(dates.utcnow()),
                parent_comment_id=parent_comment_id,
            )
            rec.comments.append(comment)
            return self._comment_json(comment)

    def _comment(self, rec: Record, comment_id: str, user: User | None) -> Comment:
        comment = next((c for c in rec.comments if c.id == comment_id), None)
        if comment is None:
            raise errors.not_found()
        if user is not None and comment.author.id != user.id:
            raise errors.forbidden()
        return comment

    def update_comment(
        self,
        base_id: str,
        table_ref: str,
        record_id: str,
        comment_id: str,
        text: Any,
        user: User | None = None,
    ) -> dict[str, Any]:
        """Edit a comment's text (only its author may)."""
        with self.lock:
            _, _, rec = self._record(base_id, table_ref, record_id)
            comment = self._comment(rec, comment_id, user)
            if not isinstance(text, str) or not text.strip():
                raise errors.invalid_request('Invalid request: "text" must be a non-empty string')
            comment.text = text
            comment.last_updated_time = dates.format_iso(dates.utcnow())
            return self._comment_json(comment)

    def delete_comment(
        self,
        base_id: str,
        table_ref: str,
        record_id: str,
        comment_id: str,
        user: User | None = None,
    ) -> dict[str, Any]:
        """Delete a comment (only its author may)."""
        with self.lock:
            _, _, rec = self._record(base_id, table_ref, record_id)
            comment = self._comment(rec, comment_id, user)
            rec.comments.remove(comment)
            return {"id": comment_id, "deleted": True}

    # --- metadata ---------------------------------------------------------------------------------

    def list_bases(self, token: Token) -> dict[str, Any]:
        """The bases the token may see, with the permission level."""
        with self.lock:
            return {
                "bases": [
                    {
                        "id": base.id,
                        "name": base.name,
                        "permissionLevel": base.permission_level,
                    }
                    for base_id in token.bases
                    if (base := self.bases.get(base_id)) is not None
                ]
            }

    def base_schema(self, base_id: str, include_visible_field_ids: bool = False) -> dict[str, Any]:
        """``GET /v0/meta/bases/{baseId}/tables``."""
        with self.lock:
            base = self._base(base_id)
            return {
                "tables": [
                    self._table_schema(base, table, include_visible_field_ids)
                    for table in base.tables
                ]
            }

    def _table_schema(self, base: Base, table: Table, include_visible: bool) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": table.id,
            "name": table.name,
            "primaryFieldId": table.primary.id,
        }
        if table.description:
            result["description"] = table.description
        result["fields"] = [self._field_schema(base, table, fld) for fld in table.fields]
        views = []
        for view in table.views:
            entry: dict[str, Any] = {"id": view.id, "name": view.name, "type": view.type}
            if include_visible and view.type == "grid":
                refs = view.visible_field_refs or [f.id for f in table.fields]
                entry["visibleFieldIds"] = [
                    fld.id for ref in refs if (fld := table.field(ref)) is not None
                ]
            views.append(entry)
        result["views"] = views
        return result

    def _field_config(self, base: Base, table: Table, fld: Field) -> dict[str, Any]:
        """``{"type", "options"}`` of a field, as used in formula/lookup ``result``."""
        schema = self._field_schema(base, table, fld)
        config = {"type": schema["type"]}
        if "options" in schema:
            config["options"] = schema["options"]
        return config

    def _field_schema(self, base: Base, table: Table, fld: Field) -> dict[str, Any]:
        result: dict[str, Any] = {"id": fld.id, "name": fld.name, "type": fld.type}
        if fld.description:
            result["description"] = fld.description
        options = copy.deepcopy(fld.options) if fld.options is not None else None
        if fld.type == "formula":
            options = {"formula": fld.opts.get("formula", ""), "isValid": True}
            try:
                compiled = self.compiled(table, options["formula"])
            except FormulaError:
                options.update(isValid=False, referencedFieldIds=[], result=None)
            else:
                options["referencedFieldIds"] = sorted(compiled.field_ids)
                options["result"] = fld.opts.get("result") or infer_result(
                    compiled.ast,
                    lambda fid: (
                        self._field_config(base, table, table.fields_by_id[fid])
                        if fid in table.fields_by_id and table.fields_by_id[fid] is not fld
                        else None
                    ),
                )
        elif fld.type in ("multipleLookupValues", "rollup", "count"):
            options = {k: v for k, v in fld.opts.items() if k != "formula"}
            link = table.fields_by_id.get(options.get("recordLinkFieldId", ""))
            linked = self.table_by_id(base, link.opts.get("linkedTableId", "")) if link else None
            target = (
                linked.fields_by_id.get(options.get("fieldIdInLinkedTable", "")) if linked else None
            )
            options["isValid"] = link is not None and (fld.type == "count" or target is not None)
            if fld.type == "multipleLookupValues":
                options["result"] = (
                    self._field_config(base, linked, target) if linked and target else None
                )
            elif fld.type == "rollup":
                options["referencedFieldIds"] = [target.id] if target else []
                options["result"] = fld.opts.get("result") or self._rollup_result(
                    base, linked, target, fld.opts.get("formula", "")
                )
        if options is not None:
            result["options"] = options
        return result

    def _rollup_result(
        self, base: Base, linked: Table | None, target: Field | None, formula_text: str
    ) -> dict[str, Any]:
        name = formula_text.strip().split("(", 1)[0].upper()
        if name in ("ARRAYJOIN", "CONCATENATE", ""):
            return {"type": "singleLineText"}
        if name in ("ARRAYUNIQUE", "ARRAYCOMPACT", "ARRAYFLATTEN", "ARRAYSLICE"):
            return (
                self._field_config(base, linked, target)
                if linked and target
                else {"type": "singleLineText"}
            )
        precision = target.opts.get("precision", 0) if target else 0
        if name == "AVERAGE":
            precision = max(precision, 2)
        return {"type": "number", "options": {"precision": precision}}

    def _resolve_options(self, base: Base, table: Table, fld: Field, *, pair_links: bool) -> None:
        """Turn name references in link/lookup/rollup/count options into ids."""
        opts = dict(fld.opts)
        if fld.type == "multipleRecordLinks":
            linked = base.table(str(opts.get("linkedTableId", "")))
            if linked is None:
                raise errors.invalid_request(
                    f'Invalid request: field "{fld.name}" links to unknown table '
                    f"{opts.get('linkedTableId')!r}"
                )
            opts["linkedTableId"] = linked.id
            inverse_ref = opts.get("inverseLinkFieldId")
            if inverse_ref:
                inverse = linked.field(inverse_ref)
                if inverse is None or inverse.type != "multipleRecordLinks":
                    raise errors.invalid_request(
                        f'Invalid request: field "{fld.name}" has an unknown inverse field '
                        f"{inverse_ref!r}"
                    )
                opts["inverseLinkFieldId"] = inverse.id
            elif pair_links and linked is not table:
                # Pair with the single link field of the other table that points back here.
                backs = [
                    f
                    for f in linked.fields
                    if f.type == "multipleRecordLinks"
                    and str(f.opts.get("linkedTableId")) in (table.id, table.name)
                    and f.opts.get("inverseLinkFieldId") in (None, fld.id, fld.name)
                ]
                if len(backs) == 1:
                    opts["inverseLinkFieldId"] = backs[0].id
            fld.options = opts
        elif fld.type in ("multipleLookupValues", "rollup", "count"):
            link = table.field(str(opts.get("recordLinkFieldId", "")))
            if link is None or link.type != "multipleRecordLinks":
                raise errors.invalid_request(
                    f'Invalid request: field "{fld.name}" needs recordLinkFieldId naming a link '
                    "field of the same table"
                )
            opts["recordLinkFieldId"] = link.id
            if fld.type != "count":
                linked = base.table(str(link.opts.get("linkedTableId", "")))
                target = linked.field(str(opts.get("fieldIdInLinkedTable", ""))) if linked else None
                if target is None:
                    raise errors.invalid_request(
                        f'Invalid request: field "{fld.name}" needs fieldIdInLinkedTable naming a '
                        "field of the linked table"
                    )
                opts["fieldIdInLinkedTable"] = target.id
            if fld.type == "rollup" and not opts.get("formula"):
                linked = base.table(str(link.opts.get("linkedTableId", "")))
                target = linked.fields_by_id.get(opts["fieldIdInLinkedTable"]) if linked else None
                numeric = target is not None and target.type in (
                    *cells.NUMBER_TYPES,
                    "rating",
                    "autoNumber",
                    "count",
                )
                opts["formula"] = "SUM(values)" if numeric else "ARRAYJOIN(values)"
            opts.setdefault("isValid", True)
            fld.options = opts
        elif fld.type == "lastModifiedTime":
            refs = opts.get("referencedFieldIds") or []
            resolved = []
            for ref in refs:
                target = table.field(ref)
                if target is None:
                    raise errors.invalid_request(
                        f'Invalid request: field "{fld.name}" references unknown field {ref!r}'
                    )
                resolved.append(target.id)
            opts["referencedFieldIds"] = resolved
            opts.setdefault("isValid", True)
            fld.options = opts
        if fld.type == "multipleRecordLinks":
            # Both halves of a pair must point at each other.
            linked = base.table(opts["linkedTableId"])
            inverse = (
                linked.fields_by_id.get(opts.get("inverseLinkFieldId", "")) if linked else None
            )
            if inverse is not None and not inverse.opts.get("inverseLinkFieldId"):
                inverse.options = {**inverse.opts, "inverseLinkFieldId": fld.id}

    def _validate_computed(self, table: Table, fld: Field) -> None:
        try:
            if fld.type == "formula":
                self.compiled(table, str(fld.opts.get("formula", "")))
            elif fld.type == "rollup":
                self.compiled(table, str(fld.opts.get("formula")), ("values",))
        except FormulaError as exc:
            raise errors.invalid_request(
                f'Invalid request: formula of field "{fld.name}" is invalid: {exc}'
            ) from exc

    def compiled_rollup(self, table: Table, fld: Field) -> CompiledFormula:
        """The compiled aggregation formula of a rollup field."""
        return self.compiled(table, str(fld.opts.get("formula", "ARRAYJOIN(values)")), ("values",))

    def _new_field(self, base: Base, table: Table, body: Any, existing: Iterable[str]) -> Field:
        if not isinstance(body, dict):
            raise errors.invalid_request("Invalid request: a field must be an object")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(422, "DUPLICATE_OR_EMPTY_FIELD_NAME", "Field names must not be empty")
        if name.lower() in {n.lower() for n in existing}:
            raise ApiError(
                422, "DUPLICATE_OR_EMPTY_FIELD_NAME", f'A field named "{name}" already exists'
            )
        field_type = body.get("type")
        if field_type not in cells.KNOWN_TYPES:
            raise errors.invalid_request(f"Invalid request: unsupported field type {field_type!r}")
        options = body.get("options")
        if options is not None and not isinstance(options, dict):
            raise errors.invalid_request('Invalid request: "options" must be an object')
        if field_type in ("singleSelect", "multipleSelects"):
            choices = (options or {}).get("choices", [])
            if not isinstance(choices, list) or not all(
                isinstance(c, dict) and isinstance(c.get("name"), str) for c in choices
            ):
                raise errors.invalid_request(
                    'Invalid request: select options need "choices": [{"name": ...}]'
                )
            options = {
                **(options or {}),
                "choices": [{**c, "id": c.get("id") or new_id("sel")} for c in choices],
            }
        if field_type == "formula" and not isinstance((options or {}).get("formula"), str):
            raise errors.invalid_request("Invalid request: formula fields need options.formula")
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise errors.invalid_request('Invalid request: "description" must be a string')
        field_id = new_id("fld")
        return Field(
            field_id,
            name,
            field_type,
            description or None,
            cells.default_options(field_type, field_id, options),
        )

    def _add_inverse_link(self, base: Base, table: Table, fld: Field, changes: _Changes) -> None:
        """Airtable creates the other half of a new link field in the linked table."""
        linked = self.table_by_id(base, fld.opts["linkedTableId"])
        if linked is None or linked is table or fld.opts.get("inverseLinkFieldId"):
            return
        names = {f.name.lower() for f in linked.fields}
        name, counter = table.name, 2
        while name.lower() in names:
            name, counter = f"{table.name} {counter}", counter + 1
        inverse = Field(
            new_id("fld"),
            name,
            "multipleRecordLinks",
            None,
            {
                "linkedTableId": table.id,
                "inverseLinkFieldId": fld.id,
                "isReversed": False,
                "prefersSingleRecordLink": False,
            },
        )
        linked.fields.append(inverse)
        linked.reindex()
        fld.options = {**fld.opts, "inverseLinkFieldId": inverse.id}
        changes.fields_created.append((linked, inverse))

    def create_table(self, base_id: str, body: Any, user: User | None = None) -> dict[str, Any]:
        """``POST /v0/meta/bases/{baseId}/tables``."""
        with self.lock:
            base = self._base(base_id)
            if not isinstance(body, dict):
                raise errors.invalid_request()
            name = body.get("name")
            if not isinstance(name, str) or not name.strip():
                raise errors.invalid_request("Invalid request: a table needs a name")
            if name.lower() in {t.name.lower() for t in base.tables}:
                raise ApiError(
                    422, "DUPLICATE_TABLE_NAME", f'A table named "{name}" already exists'
                )
            field_specs = body.get("fields")
            if not isinstance(field_specs, list) or not field_specs:
                raise errors.invalid_request("Invalid request: a table needs at least one field")
            description = body.get("description")
            if description is not None and not isinstance(description, str):
                raise errors.invalid_request('Invalid request: "description" must be a string')
            table = Table(new_id("tbl"), name, description or None, [], [])
            for spec in field_specs:
                table.fields.append(
                    self._new_field(base, table, spec, [f.name for f in table.fields])
                )
            table.reindex()
            if table.primary.type not in cells.PRIMARY_TYPES:
                raise errors.invalid_request(
                    f"Invalid request: {table.primary.type} cannot be the primary field type"
                )
            table.views.append(View(new_id("viw"), "Grid view"))
            base.tables.append(table)
            changes = _Changes()
            try:
                for fld in table.fields:
                    self._resolve_options(base, table, fld, pair_links=False)
                self._schema_version += 1
                for fld in table.fields:
                    self._validate_computed(table, fld)
            except ApiError:
                base.tables.remove(table)
                self._schema_version += 1
                raise
            for fld in table.fields:
                if fld.type == "multipleRecordLinks":
                    self._add_inverse_link(base, table, fld, changes)
            self._schema_version += 1
            changes.tables_created.append(table)
            self._emit(base, changes, user, "publicApi", dates.utcnow())
            return self._table_schema(base, table, False)

    def update_table(
        self, base_id: str, table_ref: str, body: Any, user: User | None = None
    ) -> dict[str, Any]:
        """``PATCH /v0/meta/bases/{baseId}/tables/{tableIdOrName}``: name and description."""
        with self.lock:
            base, table = self._table(base_id, table_ref)
            if not isinstance(body, dict) or not body or set(body) - {"name", "description"}:
                raise errors.invalid_request(
                    "Invalid request: only name and description can be updated"
                )
            previous = {"name": table.name, "description": table.description}
            if "name" in body:
                name = body["name"]
                if not isinstance(name, str) or not name.strip():
                    raise errors.invalid_request("Invalid request: a table needs a name")
                if any(t is not table and t.name.lower() == name.lower() for t in base.tables):
                    raise ApiError(
                        422, "DUPLICATE_TABLE_NAME", f'A table named "{name}" already exists'
                    )
                table.name = name
            if "description" in body:
                if body["description"] is not None and not isinstance(body["description"], str):
                    raise errors.invalid_request('Invalid request: "description" must be a string')
                table.description = body["description"] or None
            self._schema_version += 1
            changes = _Changes()
            changes.tables_changed.append((table, previous))
            self._emit(base, changes, user, "publicApi", dates.utcnow())
            return self._table_schema(base, table, False)

    def create_field(
        self, base_id: str, table_ref: str, body: Any, user: User | None = None
    ) -> dict[str, Any]:
        """``POST /v0/meta/bases/{baseId}/tables/{tableIdOrName}/fields``."""
        with self.lock:
            base, table = self._table(base_id, table_ref)
            fld = self._new_field(base, table, body, [f.name for f in table.fields])
            table.fields.append(fld)
            table.reindex()
            try:
                self._resolve_options(base, table, fld, pair_links=False)
                self._schema_version += 1
                self._validate_computed(table, fld)
            except ApiError:
                table.fields.remove(fld)
                table.reindex()
                self._schema_version += 1
                raise
            changes = _Changes()
            changes.fields_created.append((table, fld))
            if fld.type == "multipleRecordLinks":
                self._add_inverse_link(base, table, fld, changes)
            self._schema_version += 1
            self._emit(base, changes, user, "publicApi", dates.utcnow())
            return self._field_schema(base, table, fld)

    def update_field(
        self, base_id: str, table_ref: str, field_ref: str, body: Any, user: User | None = None
    ) -> dict[str, Any]:
        """``PATCH .../fields/{fieldIdOrName}``: name and description."""
        with self.lock:
            base, table = self._table(base_id, table_ref)
            fld = table.field(field_ref)
            if fld is None:
                raise errors.forbidden()
            if not isinstance(body, dict) or not body or set(body) - {"name", "description"}:
                raise errors.invalid_request(
                    "Invalid request: only name and description can be updated"
                )
            previous = {"name": fld.name, "type": fld.type}
            if "name" in body:
                name = body["name"]
                if not isinstance(name, str) or not name.strip():
                    raise ApiError(
                        422, "DUPLICATE_OR_EMPTY_FIELD_NAME", "Field names must not be empty"
                    )
                if any(f is not fld and f.name.lower() == name.lower() for f in table.fields):
                    raise ApiError(
                        422,
                        "DUPLICATE_OR_EMPTY_FIELD_NAME",
                        f'A field named "{name}" already exists',
                    )
                fld.name = name
            if "description" in body:
                if body["description"] is not None and not isinstance(body["description"], str):
                    raise errors.invalid_request('Invalid request: "description" must be a string')
                fld.description = body["description"] or None
            table.reindex()
            self._schema_version += 1
            changes = _Changes()
            changes.fields_changed.append((table, fld, previous))
            self._emit(base, changes, user, "publicApi", dates.utcnow())
            return self._field_schema(base, table, fld)

    # --- webhooks ---------------------------------------------------------------------------------

    def _webhook_json(self, hook: Webhook) -> dict[str, Any]:
        return {
            "id": hook.id,
            "areNotificationsEnabled": hook.notifications_enabled,
            "cursorForNextPayload": len(hook.payloads) + 1,
            "isHookEnabled": hook.hook_enabled,
            "lastSuccessfulNotificationTime": hook.last_success,
            "notificationUrl": hook.notification_url,
            "lastNotificationResult": copy.deepcopy(hook.last_notification_result),
            "expirationTime": dates.format_iso(hook.expiration),
            "specification": copy.deepcopy(hook.specification),
        }

    def create_webhook(self, base_id: str, body: Any) -> dict[str, Any]:
        """``POST /v0/bases/{baseId}/webhooks``."""
        with self.lock:
            base = self._base(base_id)
            if not isinstance(body, dict):
                raise errors.invalid_request()
            spec = body.get("specification")
            if not isinstance(spec, dict):
                spec = {}
            filters = (spec.get("options") or {}).get("filters")
            if not isinstance(filters, dict) or not isinstance(filters.get("dataTypes"), list):
                raise errors.invalid_request(
                    "Invalid request: specification.options.filters.dataTypes is required"
                )
            url = body.get("notificationUrl")
            if url is not None and not isinstance(url, str):
                raise errors.invalid_request('Invalid request: "notificationUrl" must be a string')
            secret = os.urandom(32)
            hook = Webhook(
                new_id("ach"), url, copy.deepcopy(spec), secret, dates.utcnow() + WEBHOOK_LIFETIME
            )
            base.webhooks[hook.id] = hook
            return {
                "id": hook.id,
                "macSecretBase64": base64.b64encode(secret).decode("ascii"),
                "expirationTime": dates.format_iso(hook.expiration),
            }

    def list_webhooks(self, base_id: str) -> dict[str, Any]:
        """``GET /v0/bases/{baseId}/webhooks``."""
        with self.lock:
            base = self._base(base_id)
            return {"webhooks": [self._webhook_json(h) for h in base.webhooks.values()]}

    def _webhook(self, base_id: str, webhook_id: str) -> Webhook:
        hook = self._base(base_id).webhooks.get(webhook_id)
        if hook is None:
            raise errors.not_found()
        return hook

    def delete_webhook(self, base_id: str, webhook_id: str) -> None:
        """``DELETE /v0/bases/{baseId}/webhooks/{webhookId}``."""
        with self.lock:
            self._webhook(base_id, webhook_id)
            del self.bases[base_id].webhooks[webhook_id]

    def enable_webhook_notifications(self, base_id: str, webhook_id: str, body: Any) -> None:
        """``POST .../enableNotifications`` with ``{"enable": bool}``."""
        with self.lock:
            hook = self._webhook(base_id, webhook_id)
            if not isinstance(body, dict) or not isinstance(body.get("enable"), bool):
                raise errors.invalid_request('Invalid request: "enable" must be a boolean')
            hook.notifications_enabled = body["enable"]

    def refresh_webhook(self, base_id: str, webhook_id: str) -> dict[str, Any]:
        """``POST .../refresh``: extend the expiration by 7 days from now."""
        with self.lock:
            hook = self._webhook(base_id, webhook_id)
            hook.expiration = dates.utcnow() + WEBHOOK_LIFETIME
            return {"expirationTime": dates.format_iso(hook.expiration)}

    def webhook_payloads(
        self, base_id: str, webhook_id: str, cursor: int | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """``GET .../payloads``: payloads from ``cursor`` (1-based), at most ``limit``."""
        with self.lock:
            hook = self._webhook(base_id, webhook_id)
            start = cursor if cursor is not None else 1
            size = limit if limit is not None else MAX_WEBHOOK_PAYLOADS_PER_PAGE
            if start < 1 or not 1 <= size <= MAX_WEBHOOK_PAYLOADS_PER_PAGE:
                raise errors.invalid_request("Invalid request: bad cursor or limit")
            page = hook.payloads[start - 1 : start - 1 + size]
            return {
                "cursor": start + len(page),
                "mightHaveMore": start - 1 + len(page) < len(hook.payloads),
                "payloads": copy.deepcopy(page),
            }

    def _emit(
        self, base: Base, changes: _Changes, user: User | None, source: str, now: datetime
    ) -> None:
        """Record one transaction and append matching payloads to the base's webhooks."""
        if not changes:
            return
        base.transaction_number += 1
        for hook in base.webhooks.values():
            if not hook.hook_enabled:
                continue
            payload = self._payload(base, hook, changes, user, source, now)
            if payload is None:
                continue
            hook.payloads.append(payload)
            if hook.notifications_enabled and hook.notification_url:
                self._notify(base, hook, now)

    def _payload(
        self,
        base: Base,
        hook: Webhook,
        changes: _Changes,
        user: User | None,
        source: str,
        now: datetime,
    ) -> dict[str, Any] | None:
        options = hook.specification.get("options", {})
        filters = options.get("filters", {})
        includes = options.get("includes") or {}
        data_types = set(filters.get("dataTypes", []))
        scope = filters.get("recordChangeScope")
        change_types = set(filters.get("changeTypes") or ["add", "remove", "update"])
        sources = filters.get("fromSources")
        if sources and source not in sources:
            return None
        watched = set(filters.get("watchDataInFieldIds") or [])
        include_previous = bool(includes.get("includePreviousCellValues"))
        include_ids = includes.get("includeCellValuesInFieldIds")
        tables: dict[str, dict[str, Any]] = {}

        def entry(table: Table) -> dict[str, Any]:
            return tables.setdefault(table.id, {})

        def in_scope(table: Table) -> bool:
            return not scope or scope == table.id

        if "tableData" in data_types:
            if "add" in change_types:
                for table, rec in changes.created:
                    if in_scope(table) and rec.id in table.records:
                        entry(table).setdefault("createdRecordsById", {})[rec.id] = {
                            "createdTime": rec.created_time,
                            "cellValuesByFieldId": copy.deepcopy(rec.cells),
                        }
            if "update" in change_types:
                for table, rec, diffs in changes.updated.values():
                    relevant = {f: d for f, d in diffs.items() if not watched or f in watched}
                    if not in_scope(table) or not relevant or rec.id not in table.records:
                        continue
                    change: dict[str, Any] = {
                        "current": {
                            "cellValuesByFieldId": {
                                f: copy.deepcopy(n) for f, (_, n) in relevant.items()
                            }
                        }
                    }
                    if include_previous:
                        change["previous"] = {
                            "cellValuesByFieldId": {
                                f: copy.deepcopy(o) for f, (o, _) in relevant.items()
                            }
                        }
                    if include_ids:
                        wanted = (
                            rec.cells
                            if include_ids == "all"
                            else {f: rec.cells.get(f) for f in include_ids}
                        )
                        change["unchanged"] = {
                            "cellValuesByFieldId": {
                                f: copy.deepcopy(v) for f, v in wanted.items() if f not in relevant
                            }
                        }
                    entry(table).setdefault("changedRecordsById", {})[rec.id] = change
            if "remove" in change_types:
                for table, record_id in changes.destroyed:
                    if in_scope(table):
                        entry(table).setdefault("destroyedRecordIds", []).append(record_id)
        created_tables: dict[str, Any] = {}
        if "tableFields" in data_types:
            for table, fld in changes.fields_created:
                if in_scope(table) and table not in changes.tables_created:
                    entry(table).setdefault("createdFieldsById", {})[fld.id] = {
                        "name": fld.name,
                        "type": fld.type,
                    }
            for table, fld, previous in changes.fields_changed:
                if in_scope(table):
                    entry(table).setdefault("changedFieldsById", {})[fld.id] = {
                        "current": {"name": fld.name, "type": fld.type},
                        "previous": previous,
                    }
        if "tableMetadata" in data_types:
            for table, previous in changes.tables_changed:
                if in_scope(table):
                    entry(table)["changedMetadata"] = {
                        "current": {"name": table.name, "description": table.description},
                        "previous": previous,
                    }
            for table in changes.tables_created:
                created_tables[table.id] = {
                    "metadata": {"name": table.name, "description": table.description},
                    "fieldsById": {f.id: {"name": f.name, "type": f.type} for f in table.fields},
                }
        if not tables and not created_tables:
            return None
        acting = user or self.users[SYSTEM_USER_ID]
        payload: dict[str, Any] = {
            "timestamp": dates.format_iso(now),
            "baseTransactionNumber": base.transaction_number,
            "payloadFormat": "v0",
            "actionMetadata": {
                "source": source,
                "sourceMetadata": {
                    "user": {**acting.as_dict(), "permissionLevel": base.permission_level}
                },
            },
            "changedTablesById": tables,
        }
        if created_tables:
            payload["createdTablesById"] = created_tables
        return payload

    def _notify(self, base: Base, hook: Webhook, now: datetime) -> None:
        """POST a notification to the webhook URL, but only to loopback addresses.

        Tests must never reach the internet, so URLs such as ``https://example.com`` simply get
        no delivery; a local receiver (``http://127.0.0.1:PORT/...``) gets Airtable's body and
        ``X-Airtable-Content-MAC`` header.
        """
        url = hook.notification_url or ""
        host = urlsplit(url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return
        body = json.dumps(
            {
                "base": {"id": base.id},
                "webhook": {"id": hook.id},
                "timestamp": dates.format_iso(now),
            }
        )
        mac = hmac.new(hook.secret, body.encode("ascii"), hashlib.sha256).hexdigest()

        def deliver() -> None:
            started = dates.utcnow()
            try:
                request = urllib.request.Request(
                    url,
                    data=body.encode("ascii"),
                    headers={
                        "Content-Type": "application/json",
                        "X-Airtable-Content-MAC": f"hmac-sha256={mac}",
                    },
                    method="POST",
                )
                with urllib.request.urlopen(request, timeout=5) as response:
                    success = 200 <= response.status < 300
                error = None
            except OSError as exc:
                success, error = False, str(exc)
            finished = dates.utcnow()
            with self.lock:
                hook.last_notification_result = {
                    "success": success,
                    "completionTimestamp": dates.format_iso(finished),
                    "durationMs": (finished - started).total_seconds() * 1000,
                    "retryNumber": 0,
                }
                if error:
                    hook.last_notification_result["error"] = {"message": error}
                if success:
                    hook.last_success = dates.format_iso(finished)

        threading.Thread(target=deliver, name="airtable-emulator-webhook", daemon=True).start()

    # --- in-process helpers for tests ----------------------------------------------------------

    def table(self, base_id: str, table_ref: str) -> Table:
        """The live :class:`Table` object (hold ``state.lock`` while touching it)."""
        with self.lock:
            return self._table(base_id, table_ref)[1]

    def records(
        self, base_id: str, table_ref: str, *, formula: str | None = None
    ) -> list[dict[str, Any]]:
        """All records (optionally filtered by a formula) in API shape, fields keyed by name."""
        with self.lock:
            base, table = self._table(base_id, table_ref)
            ev = _Evaluator(self, base, dates.utcnow())
            query = ListQuery(formula=formula)
            try:
                selected = self._select(ev, table, query)
            except ApiError as exc:
                raise ValueError(exc.message) from exc
            return [self._serialize(ev, table, rec, None, query) for rec in selected]

    def record(self, base_id: str, table_ref: str, record_id: str) -> dict[str, Any]:
        """One record in API shape (``KeyError`` when missing)."""
        try:
            return self.get_record(base_id, table_ref, record_id)
        except ApiError as exc:
            raise KeyError(record_id) from exc

    def _system_user(self, user_id: str | None) -> User:
        return self.users.get(user_id or SYSTEM_USER_ID) or self.users[SYSTEM_USER_ID]

    def create_record(
        self,
        base_id: str,
        table_ref: str,
        fields: dict[str, Any],
        *,
        typecast: bool = True,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Create a record as a person in the Airtable UI would (webhook source ``client``)."""
        return self.create_records(
            base_id,
            table_ref,
            [fields],
            typecast=typecast,
            user=self._system_user(user_id),
            source="client",
        )[0]

    def update_record(
        self,
        base_id: str,
        table_ref: str,
        record_id: str,
        fields: dict[str, Any],
        *,
        replace: bool = False,
        typecast: bool = True,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Edit a record as someone else would (bumps last-modified, emits webhook payloads)."""
        return self.update_records(
            base_id,
            table_ref,
            [{"id": record_id, "fields": fields}],
            replace=replace,
            typecast=typecast,
            user=self._system_user(user_id),
            source="client",
        )["records"][0]

    def delete_record(self, base_id: str, table_ref: str, record_id: str) -> None:
        """Delete a record as someone else would."""
        self.delete_records(
            base_id, table_ref, [record_id], user=self._system_user(None), source="client"
        )


_ID_TERM = r"RECORD_ID\(\)\s*=\s*'(rec[A-Za-z0-9]+)'"
_ID_LIST = re.compile(rf"\s*(?:OR\(\s*{_ID_TERM}(?:\s*,\s*{_ID_TERM})*\s*\)|{_ID_TERM})\s*")


def _record_id_list(formula: str) -> set[str] | None:
    """The ids of a formula that is only ``RECORD_ID()='rec…'`` terms under one OR, else None."""
    if _ID_LIST.fullmatch(formula) is None:
        return None
    return set(re.findall(_ID_TERM, formula))
