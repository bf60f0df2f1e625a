"""Base schemas: fetched once per base per cache period, looked up by name, told compactly.

`get_base_schema` returns a `BaseSchema` from the cache (Redis when configured,
else this process) or from Airtable's metadata API. Entries expire after
SCHEMA_CACHE_SECONDS and are dropped by `invalidate` (after a schema change, or
when Airtable says a field or table is unknown). The cache holds schema only,
never record data.

The cache is keyed by base id so that every turn, worker and replica shares it.
Tokens of different users may see the same base, but a user must not learn a
schema their own token cannot read: each entry remembers fingerprints of the
tokens that fetched it, and a token not among them fetches (and so proves
access) once before using the entry.

Rendering for the model comes in detail levels, so a 300-table base does not
flood the context: `names` (tables and primary fields), `fields` (plus field
names, types and select options) and `render_table` (one table in full).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import redis

from pyairtable_ui.airtable.field_types import COMPUTED_TYPES
from pyairtable_ui.airtable.limiter import RedisBreaker
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.redis import redis_client
from pyairtable_ui.core.settings import get_settings

if TYPE_CHECKING:
    from pyairtable_ui.airtable.client import AirtableClient

logger = logging.getLogger(__name__)

KEY_PREFIX = "pyairtable_ui:airtable:schema:"

# Short names for the model: fewer tokens, same meaning.
_TYPE_WORDS = {
    "singleLineText": "text",
    "multilineText": "long text",
    "richText": "rich text",
    "email": "email",
    "url": "url",
    "phoneNumber": "phone",
    "number": "number",
    "currency": "currency",
    "percent": "percent",
    "duration": "duration",
    "rating": "rating",
    "checkbox": "checkbox",
    "date": "date",
    "dateTime": "datetime",
    "singleSelect": "select",
    "multipleSelects": "multi-select",
    "multipleRecordLinks": "link",
    "multipleAttachments": "attachments",
    "singleCollaborator": "user",
    "multipleCollaborators": "users",
    "barcode": "barcode",
    "formula": "formula",
    "rollup": "rollup",
    "multipleLookupValues": "lookup",
    "count": "count",
    "autoNumber": "autonumber",
    "createdTime": "created time",
    "lastModifiedTime": "modified time",
    "createdBy": "created by",
    "lastModifiedBy": "modified by",
    "button": "button",
    "aiText": "ai text",
}

Detail = Literal["names", "fields"]


# --- the schema ---------------------------------------------------------------------


class UnknownNameError(UserFacingError, LookupError):
    """A table or field name the schema does not know; `message` suggests the right one.

    Attributes:
        message: What the model reads (and the user, when an approved action meets a
            renamed field): the name given, close matches, what exists.
        name: The name asked for.
    """

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class UnknownTableError(UnknownNameError):
    """No table with that name or id in the base."""


class UnknownFieldError(UnknownNameError):
    """No field with that name or id in the table."""


def _normal(name: str) -> str:
    # Case- and spacing-insensitive: "due  date" finds "Due Date".
    return " ".join(name.split()).casefold()


class _Named(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


_NamedT = TypeVar("_NamedT", bound=_Named)


def _find_named(items: Iterable[_NamedT], ref: str) -> _NamedT | None:
    # An exact id or name wins over a looser match anywhere in the list.
    items = list(items)
    for item in items:
        if ref in (item.id, item.name):
            return item
    wanted = _normal(ref)
    return next((item for item in items if _normal(item.name) == wanted), None)


def suggest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Candidates that look like `name` (close spelling or containing it), best first.

    Args:
        name: What was asked for.
        candidates: Existing names.
        limit: How many to return at most.

    Returns:
        Up to `limit` names.
    """
    by_normal: dict[str, str] = {}
    for candidate in candidates:
        by_normal.setdefault(_normal(candidate), candidate)
    wanted = _normal(name)
    close = difflib.get_close_matches(wanted, list(by_normal), n=limit, cutoff=0.6)
    contained = [n for n in by_normal if wanted and (wanted in n or n in wanted)]
    ordered = list(dict.fromkeys([*close, *contained]))
    return [by_normal[n] for n in ordered[:limit]]


def _require_named(
    items: Sequence[_NamedT],
    ref: str,
    *,
    error: type[UnknownNameError],
    kind: str,
    where: str,
    hint: str,
) -> _NamedT:
    """The item with this id or name; else `error`, naming close matches.

    Args:
        items: The tables or fields to look in.
        ref: A name (any case) or id.
        error: What to raise when none matches.
        kind: "table" or "field", for the message.
        where: Where it was looked for ("this base", 'table "Tasks"').
        hint: What to call to see them all, when there are too many to list.
    """
    found = _find_named(items, ref)
    if found is not None:
        return found
    names = [item.name for item in items]
    message = f'There is no {kind} "{ref}" in {where}.'
    close = suggest(ref, names)
    if close:
        message += " Did you mean " + " or ".join(f'"{c}"' for c in close) + "?"
    if len(names) <= 40:
        message += f" {kind.capitalize()}s: " + ", ".join(f'"{n}"' for n in names) + "."
    else:
        message += f" {hint}"
    raise error(message, ref)


@dataclass(frozen=True)
class FieldSchema:
    """One field of a table.

    Attributes:
        id: ``fld...``.
        name: The field's name.
        type: Airtable's type, e.g. ``singleSelect``.
        options: Airtable's type options (choices, linked table, result type...).
        description: The field's description, if any.
    """

    id: str
    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)
    description: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> FieldSchema:
        """Build from Airtable's field model."""
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            type=str(data.get("type", "")),
            options=dict(data.get("options") or {}),
            description=data.get("description") or None,
        )

    @property
    def computed(self) -> bool:
        """Whether Airtable computes this field (it cannot be written)."""
        return self.type in COMPUTED_TYPES

    @property
    def choices(self) -> list[str]:
        """Option names of a single or multiple select (empty otherwise)."""
        return [str(c.get("name")) for c in self.options.get("choices") or [] if c.get("name")]

    @property
    def linked_table_id(self) -> str | None:
        """For a link field, the id of the table it links to."""
        if self.type != "multipleRecordLinks":
            return None
        value = self.options.get("linkedTableId")
        return str(value) if value else None

    @property
    def result_type(self) -> str | None:
        """For formulas, rollups and lookups, the type of the value they produce."""
        result = self.options.get("result")
        if isinstance(result, dict) and result.get("type"):
            return str(result["type"])
        return None


@dataclass(frozen=True)
class TableSchema:
    """One table: its fields, primary field and views."""

    id: str
    name: str
    primary_field_id: str
    fields: tuple[FieldSchema, ...]
    views: tuple[dict[str, Any], ...] = ()
    description: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> TableSchema:
        """Build from Airtable's table model."""
        fields = tuple(FieldSchema.from_api(f) for f in data.get("fields") or [])
        primary = str(data.get("primaryFieldId") or (fields[0].id if fields else ""))
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            primary_field_id=primary,
            fields=fields,
            views=tuple(dict(v) for v in data.get("views") or []),
            description=data.get("description") or None,
        )

    @property
    def primary_field(self) -> FieldSchema:
        """The primary field (what a record is called)."""
        for f in self.fields:
            if f.id == self.primary_field_id:
                return f
        return self.fields[0]

    def find_field(self, ref: str) -> FieldSchema | None:
        """The field with this id or name (case- and spacing-insensitive), or None."""
        return _find_named(self.fields, ref)

    def field(self, ref: str) -> FieldSchema:
        """The field with this id or name.

        Args:
            ref: A field name (any case) or id.

        Returns:
            The field.

        Raises:
            UnknownFieldError: With close matches in its message.
        """
        return _require_named(
            self.fields,
            ref,
            error=UnknownFieldError,
            kind="field",
            where=f'table "{self.name}"',
            hint=f'Call describe_table for "{self.name}" to see its fields.',
        )

    def find_view(self, ref: str) -> dict[str, Any] | None:
        """The view with this id or name (case-insensitive), or None."""
        wanted = _normal(ref)
        for view in self.views:
            if view.get("id") == ref or _normal(str(view.get("name", ""))) == wanted:
                return view
        return None


@dataclass(frozen=True)
class BaseSchema:
    """Every table of a base, as Airtable's metadata API described it.

    Attributes:
        base_id: ``app...``.
        tables: The tables in Airtable's order.
        fetched_at: When Airtable was asked (seconds since the epoch).
        raw: Airtable's answer as received, for the cache.
    """

    base_id: str
    tables: tuple[TableSchema, ...]
    fetched_at: float
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, base_id: str, data: dict[str, Any], fetched_at: float) -> BaseSchema:
        """Build from the answer of ``GET /v0/meta/bases/{base_id}/tables``."""
        return cls(
            base_id=base_id,
            tables=tuple(TableSchema.from_api(t) for t in data.get("tables") or []),
            fetched_at=fetched_at,
            raw=data,
        )

    def table_by_id(self, table_id: str) -> TableSchema | None:
        """The table with this id, or None."""
        for t in self.tables:
            if t.id == table_id:
                return t
        return None

    def find_table(self, ref: str) -> TableSchema | None:
        """The table with this id or name (case- and spacing-insensitive), or None."""
        return _find_named(self.tables, ref)

    def table(self, ref: str) -> TableSchema:
        """The table with this id or name.

        Args:
            ref: A table name (any case) or id.

        Returns:
            The table.

        Raises:
            UnknownTableError: With close matches in its message.
        """
        return _require_named(
            self.tables,
            ref,
            error=UnknownTableError,
            kind="table",
            where="this base",
            hint="Call list_tables to see them.",
        )

    def table_name(self, table_id: str) -> str:
        """The name of a table id, or the id itself when unknown."""
        found = self.table_by_id(table_id)
        return found.name if found else table_id


# --- the cache ----------------------------------------------------------------------


class SchemaCache(Protocol):
    """Where fetched schemas are kept between turns."""

    def get(self, base_id: str) -> dict[str, Any] | None:
        """The cached entry for `base_id` ({"schema", "fetched_at", "seen_by"}) or None."""
        ...

    def put(self, base_id: str, entry: dict[str, Any], ttl: float) -> None:
        """Store an entry for `ttl` seconds."""
        ...

    def delete(self, base_id: str) -> None:
        """Forget `base_id`."""
        ...


class InProcessSchemaCache:
    """Schemas in this process's memory, each with an expiry time."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        """Create an empty cache.

        Args:
            clock: Monotonic seconds (tests pass a fake one to expire entries).
        """
        self._clock = clock
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def get(self, base_id: str) -> dict[str, Any] | None:
        """The cached entry or None; see `SchemaCache.get`."""
        with self._lock:
            item = self._entries.get(base_id)
            if item is None:
                return None
            expires, entry = item
            if expires <= self._clock():
                del self._entries[base_id]
                return None
            return entry

    def put(self, base_id: str, entry: dict[str, Any], ttl: float) -> None:
        """Store an entry; see `SchemaCache.put`."""
        with self._lock:
            if ttl > 0:
                self._entries[base_id] = (self._clock() + ttl, entry)

    def delete(self, base_id: str) -> None:
        """Forget `base_id`."""
        with self._lock:
            self._entries.pop(base_id, None)


class RedisSchemaCache:
    """Schemas in Redis as JSON, shared by every process and replica; Redis expires them."""

    def __init__(self, client: redis.Redis, *, prefix: str = KEY_PREFIX) -> None:
        """Create a cache over an existing Redis client.

        Args:
            client: The Redis client.
            prefix: Key prefix (tests use their own so runs cannot see each other).
        """
        self._client = client
        self._prefix = prefix
        self.breaker = RedisBreaker("schema cache")

    def get(self, base_id: str) -> dict[str, Any] | None:
        """The cached entry or None (also None, logged, when Redis fails)."""
        if self.breaker.open:
            return None
        try:
            raw: Any = self._client.get(self._prefix + base_id)
        except redis.RedisError as exc:
            self.breaker.trip(exc)
            return None
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
        except ValueError:
            logger.warning("schema cache entry unreadable base=%s; refetching", base_id)
            return None
        return entry if isinstance(entry, dict) else None

    def put(self, base_id: str, entry: dict[str, Any], ttl: float) -> None:
        """Store an entry (a failure is logged: the schema was fetched, the turn goes on)."""
        if ttl <= 0 or self.breaker.open:
            return
        try:
            self._client.set(
                self._prefix + base_id, json.dumps(entry, separators=(",", ":")), px=int(ttl * 1000)
            )
        except redis.RedisError as exc:
            self.breaker.trip(exc)

    def delete(self, base_id: str) -> None:
        """Forget `base_id`."""
        try:
            self._client.delete(self._prefix + base_id)
        except redis.RedisError as exc:
            # Not skipped when the breaker is open: a stale schema must not outlive a change.
            logger.warning("schema cache delete failed base=%s error=%s", base_id, exc)
            self.breaker.trip(exc)


@functools.cache
def get_schema_cache() -> SchemaCache:
    """The process's schema cache: Redis when REDIS_URL is set, else in memory."""
    url = get_settings().redis_url
    if url:
        return RedisSchemaCache(redis_client(url))
    return InProcessSchemaCache()


def get_base_schema(
    client: AirtableClient,
    base_id: str,
    *,
    force: bool = False,
    cache: SchemaCache | None = None,
    ttl: float | None = None,
) -> BaseSchema:
    """The schema of a base, from the cache when fresh, else from Airtable.

    Blocking: call from a worker thread (tools run in one).

    Args:
        client: The turn's Airtable client.
        base_id: ``app...``.
        force: Fetch from Airtable even when cached (after a schema error).
        cache: The cache to use; the process's by default.
        ttl: Seconds to keep it; SCHEMA_CACHE_SECONDS by default (0: never cache).

    Returns:
        The schema.

    Raises:
        AirtableError: Airtable refused or did not answer.
    """
    cache = cache if cache is not None else get_schema_cache()
    ttl = float(get_settings().schema_cache_seconds if ttl is None else ttl)
    fingerprint = client.token_fingerprint
    if not force and ttl > 0:
        entry = cache.get(base_id)
        if entry is not None and fingerprint in entry.get("seen_by", []):
            return BaseSchema.from_api(base_id, entry["schema"], float(entry["fetched_at"]))
    data = client.request("GET", "meta", "bases", base_id, "tables")
    fetched_at = time.time()
    schema = BaseSchema.from_api(base_id, data or {}, fetched_at)
    if ttl > 0:
        previous = None if force else cache.get(base_id)
        seen_by = list((previous or {}).get("seen_by", []))
        if fingerprint not in seen_by:
            seen_by.append(fingerprint)
        cache.put(
            base_id,
            {"schema": data or {}, "fetched_at": fetched_at, "seen_by": seen_by[-50:]},
            ttl,
        )
    logger.info("schema fetched base=%s tables=%d", base_id, len(schema.tables))
    return schema


def invalidate(base_id: str, *, cache: SchemaCache | None = None) -> None:
    """Forget a base's cached schema (after a schema change or a schema error).

    Args:
        base_id: ``app...``.
        cache: The cache to use; the process's by default.
    """
    (cache if cache is not None else get_schema_cache()).delete(base_id)
    logger.info("schema cache invalidated base=%s", base_id)


# --- compact rendering for the model ------------------------------------------------


def estimate_tokens(text: str) -> int:
    """Tokens a text costs the model, estimated at about 4 characters per token."""
    return math.ceil(len(text) / 4)


def _options_text(names: Sequence[str], max_options: int) -> str:
    shown = list(names[:max_options])
    rest = len(names) - len(shown)
    text = "|".join(shown)
    return f"{text}|+{rest} more" if rest > 0 else text


def field_type_text(f: FieldSchema, schema: BaseSchema, *, max_options: int = 8) -> str:
    """The compact type of a field, e.g. ``select[Todo|Done]`` or ``link→Companies``.

    Args:
        f: The field.
        schema: Its base (to name linked tables).
        max_options: Select options shown before "+N more".

    Returns:
        A short description of the type.
    """
    word = _TYPE_WORDS.get(f.type, f.type)
    if f.type in ("singleSelect", "multipleSelects"):
        return f"{word}[{_options_text(f.choices, max_options)}]"
    if f.type == "multipleRecordLinks" and f.linked_table_id:
        return f"{word}→{schema.table_name(f.linked_table_id)}"
    if f.computed:
        result = f.result_type
        result_word = _TYPE_WORDS.get(result, result) if result else None
        return f"{word}→{result_word} (read-only)" if result_word else f"{word} (read-only)"
    return word


def render_schema(
    schema: BaseSchema,
    *,
    detail: Detail = "names",
    tables: Sequence[TableSchema] | None = None,
    max_options: int = 8,
) -> str:
    """The base's tables for the model, at a detail level.

    Args:
        schema: The base schema.
        detail: ``names`` (table names and primary fields) or ``fields`` (plus
            every field's name and compact type with select options).
        tables: Only these tables (default: all).
        max_options: Select options shown per field before "+N more".

    Returns:
        Plain text, one line per table.
    """
    chosen = list(schema.tables if tables is None else tables)
    if detail == "names":
        lines = [f"{len(chosen)} tables (primary field in brackets):"]
        lines += [f"- {t.name} [{t.primary_field.name}]" for t in chosen]
        return "\n".join(lines)
    lines = [f"{len(chosen)} tables; each line: Table (primary field): field: type; ..."]
    for t in chosen:
        parts = [
            f"{f.name}: {field_type_text(f, schema, max_options=max_options)}" for f in t.fields
        ]
        lines.append(f"- {t.name} ({t.primary_field.name}): " + "; ".join(parts))
    return "\n".join(lines)


def render_table(schema: BaseSchema, table: TableSchema) -> str:
    """One table in full for describe_table: ids, every option, descriptions, views.

    Args:
        schema: The base schema.
        table: The table.

    Returns:
        Plain text.
    """
    lines = [f"Table {table.name} (id {table.id})"]
    if table.description:
        lines.append(f"Description: {table.description}")
    lines.append(f"Primary field: {table.primary_field.name}")
    lines.append("Fields:")
    for f in table.fields:
        text = f"- {f.name} (id {f.id}): {field_type_text(f, schema, max_options=1000)}"
        if f.type == "multipleRecordLinks" and f.options.get("prefersSingleRecordLink"):
            text += ", one record"
        if f.type in ("currency",) and f.options.get("symbol"):
            text += f", symbol {f.options['symbol']}"
        if f.type in ("number", "currency", "percent") and "precision" in f.options:
            text += f", precision {f.options['precision']}"
        if f.description:
            text += f" — {f.description}"
        lines.append(text)
    if table.views:
        names = [f"{v.get('name')} ({v.get('type', 'grid')})" for v in table.views]
        lines.append("Views: " + ", ".join(names))
    return "\n".join(lines)


def schema_for_prompt(schema: BaseSchema, *, budget_tokens: int = 2500) -> str:
    """The base schema for the system prompt, as detailed as the budget allows.

    Field-level detail when it fits, else table names only, else the first tables
    with a pointer to list_tables (a 300-table base must not flood the context).

    Args:
        schema: The base schema.
        budget_tokens: The most tokens to spend.

    Returns:
        Plain text.
    """
    for detail in ("fields", "names"):
        text = render_schema(schema, detail=detail)  # type: ignore[arg-type]
        if estimate_tokens(text) <= budget_tokens:
            return text
    lines: list[str] = []
    used = 0
    for t in schema.tables:
        line = f"- {t.name} [{t.primary_field.name}]"
        used += estimate_tokens(line) + 1
        if used > budget_tokens - 30:
            break
        lines.append(line)
    rest = len(schema.tables) - len(lines)
    header = f"{len(schema.tables)} tables; the first {len(lines)} (primary field in brackets):"
    return "\n".join(
        [header, *lines, f"+{rest} more tables: call list_tables (filter by name) to see them."]
    )
