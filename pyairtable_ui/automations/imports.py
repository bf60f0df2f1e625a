"""A file imported into a table: mapping, checked rows, and the one action that writes them.

The file is read on the server (`files.read_table_file`) from where the upload was
stored; what the browser holds is the upload's name and the mapping. `build_import`
turns the rows into the operations of an ordinary records plan (create, or upsert
on up to three key fields), converting each cell for its field (`guess.convert`),
resolving links by the linked table's primary field, and checking every value with
`airtable.field_types.value_problem`, so the pipeline's preview, typed count,
batches of 10, rollback, resume and undo run an import like any other write.

New fields and a new table are schema changes: Airtable cannot create them in the
same request as records, and its API cannot delete them afterwards. They are
proposed first as their own actions (`create_field`, `create_table`), reviewed and
approved like any other; the import is proposed once they exist.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyairtable_ui.actions.plan import (
    CreateFieldOperation,
    CreateTableOperation,
    RecordOp,
    RecordOperation,
    RecordsPlan,
    SchemaPlan,
)
from pyairtable_ui.actions.service import propose_action
from pyairtable_ui.airtable import field_types
from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.access import check_user_access, client_for_user
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.field_types import CREATABLE_TYPES
from pyairtable_ui.airtable.schema import BaseSchema, FieldSchema, TableSchema
from pyairtable_ui.auth.models import User
from pyairtable_ui.automations.files import (
    CSV_SUFFIXES,
    XLSX_SUFFIXES,
    ImportFileError,
    Sheet,
    megabytes,
    read_table_file,
)
from pyairtable_ui.automations.guess import (
    IMPORT_TYPES,
    ColumnGuess,
    DateOrder,
    convert,
    date_order_of,
    guess_column,
    select_options,
)
from pyairtable_ui.core.db import SessionFactory, session_scope
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

SKIP = "skip"
EXISTING = "field"
NEW = "new"
MAX_MERGE_FIELDS = 3
PREVIEW_ROWS = 10
MAX_PROBLEMS_SHOWN = 50
TOOL_NAME = "import_file"
# Types Airtable allows as a table's primary field.
PRIMARY_TYPES = frozenset(
    {
        "singleLineText",
        "multilineText",
        "email",
        "url",
        "phoneNumber",
        "number",
        "currency",
        "percent",
        "date",
        "dateTime",
    }
)
# Types an upsert can match records on.
MERGEABLE_TYPES = frozenset(PRIMARY_TYPES | {"singleSelect"})

ClientFor = Callable[[int], AirtableClient]


class ImportError_(UserFacingError):
    """The import cannot be checked or proposed as set up; the message says what to change."""


@dataclass(frozen=True)
class ColumnMapping:
    """Where one column of the file goes.

    Attributes:
        column: The column's header.
        target: ``skip``, ``field`` (an existing field) or ``new`` (a field to create).
        field: The field's name (existing, or the new field's).
        type: The new field's type (one of `guess.IMPORT_TYPES`).
        linked_table: The table a new link field links to (id or name).
    """

    column: str
    target: str
    field: str = ""
    type: str = "singleLineText"
    linked_table: str = ""


@dataclass(frozen=True)
class ImportRequest:
    """What the user set up on the mapping screen.

    Attributes:
        base_id: The selected base.
        table: The existing table (id or name), or "" for a new table.
        new_table_name: The new table's name (when `table` is "").
        mapping: One entry per column of the file.
        merge_on: Field names to match existing records on (upsert; up to 3).
        skip_problem_rows: Leave out rows with problems instead of refusing.
    """

    base_id: str
    table: str
    mapping: list[ColumnMapping]
    new_table_name: str = ""
    merge_on: list[str] = field(default_factory=list)
    skip_problem_rows: bool = False


@dataclass(frozen=True)
class RowProblem:
    """Why one row cannot be written as mapped (row numbers as the spreadsheet shows them)."""

    row: int
    column: str
    message: str


@dataclass
class ImportDraft:
    """The rows as they will be written, and what stops some of them.

    Attributes:
        operations: One create or upsert per row that can be written.
        row_numbers: The file's row number of each operation.
        problems: Every problem found (all rows).
        problem_rows: The rows with at least one problem.
        fields: The fields written, in column order.
        merge_on: The fields an upsert matches records on (none: a create).
    """

    operations: list[RecordOperation]
    row_numbers: list[int]
    problems: list[RowProblem]
    problem_rows: int
    fields: list[str]
    merge_on: list[str]


# --- guessing and the default mapping -----------------------------------------------


def guess_sheet(sheet: Sheet, schema: BaseSchema | None = None) -> list[ColumnGuess]:
    """A type guess for each column of the sheet."""
    names = [t.name for t in schema.tables] if schema else []
    return [
        guess_column([r[i] for r in sheet.rows], header=h, table_names=names)
        for i, h in enumerate(sheet.headers)
    ]


def writable_fields(table: TableSchema) -> list[FieldSchema]:
    """The fields an import may write: not computed, of a type it can convert to."""
    return [f for f in table.fields if not f.computed and f.type in IMPORT_TYPES]


def default_mapping(
    sheet: Sheet, guesses: list[ColumnGuess], table: TableSchema | None, schema: BaseSchema | None
) -> list[ColumnMapping]:
    """Each column to the writable field of the same name, else to a new field of its guess."""
    mapping = []
    for header, guess in zip(sheet.headers, guesses, strict=True):
        existing = table.find_field(header) if table else None
        if existing is not None and existing in writable_fields(table):  # type: ignore[arg-type]
            mapping.append(ColumnMapping(header, EXISTING, existing.name, existing.type))
            continue
        linked = ""
        if guess.type == "multipleRecordLinks" and schema is not None:
            found = _table_like(schema, header)
            linked = found.id if found else ""
        mapping.append(ColumnMapping(header, NEW, header, guess.type, linked))
    return mapping


def _table_like(schema: BaseSchema, header: str) -> TableSchema | None:
    wanted = header.strip().casefold()
    for t in schema.tables:
        if wanted in (t.name.casefold(), t.name.casefold().rstrip("s")):
            return t
    return None


# --- building the rows ---------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    index: int
    header: str
    field: FieldSchema
    date_order: DateOrder


LinkIndex = dict[str, list[str]]
"""A linked table's records by primary field display value (casefolded) -> ids."""


def new_field_spec(mapping: ColumnMapping, values: list[str], schema: BaseSchema) -> dict[str, Any]:
    """The create-field request for a new field: its options filled from the column."""
    kind = mapping.type
    if kind not in CREATABLE_TYPES:
        raise ImportError_(f'Column "{mapping.column}": "{kind}" is not a type a field can have.')
    spec: dict[str, Any] = {"name": mapping.field.strip(), "type": kind}
    options = CREATABLE_TYPES[kind]
    if options is not None:
        options = dict(options)
        if kind in ("singleSelect", "multipleSelects"):
            options["choices"] = [{"name": n} for n in select_options(values, kind)]
        if kind == "multipleRecordLinks":
            linked = schema.find_table(mapping.linked_table) if mapping.linked_table else None
            if linked is None:
                raise ImportError_(
                    f'Column "{mapping.column}": choose the table a new link field links to.'
                )
            options = {"linkedTableId": linked.id}
        if kind == "currency":
            symbols = {v.strip()[0] for v in values if v.strip() and not v.strip()[0].isdigit()}
            if len(symbols) == 1 and (symbol := symbols.pop()) in "$€£¥₹":
                options["symbol"] = symbol
        spec["options"] = options
    return spec


def _columns(
    sheet: Sheet, request: ImportRequest, table: TableSchema, schema: BaseSchema
) -> list[_Column]:
    """The mapped columns with the field each writes, refusing a mapping that cannot run."""
    headers = {h: i for i, h in enumerate(sheet.headers)}
    columns: list[_Column] = []
    seen: dict[str, str] = {}
    for m in request.mapping:
        if m.column not in headers:
            raise ImportError_(f'The file has no column "{m.column}"; upload it again.')
        if m.target == SKIP:
            continue
        index = headers[m.column]
        name = m.field.strip()
        if not name:
            raise ImportError_(f'Column "{m.column}": give the field a name, or skip it.')
        found = table.find_field(name)
        if m.target == EXISTING:
            if found is None:
                raise ImportError_(
                    f'Column "{m.column}": table "{table.name}" has no field "{name}" (any more). '
                    "Choose another field, or a new one."
                )
            if found.computed or found.type not in IMPORT_TYPES:
                raise ImportError_(
                    f'Column "{m.column}": "{found.name}" is a {found.type} field, which an '
                    "import cannot write. Choose another field, or skip the column."
                )
            target = found
        elif m.target == NEW:
            if found is not None:
                raise ImportError_(
                    f'Column "{m.column}": table "{table.name}" already has a field '
                    f'"{found.name}"; map the column to it, or give the new field another name.'
                )
            spec = new_field_spec(m, [r[index] for r in sheet.rows], schema)
            target = FieldSchema(
                id="", name=spec["name"], type=spec["type"], options=spec.get("options") or {}
            )
        else:
            raise ImportError_(f'Column "{m.column}": choose a field, a new field, or skip.')
        if target.name.casefold() in seen:
            raise ImportError_(
                f'Columns "{seen[target.name.casefold()]}" and "{m.column}" both go to '
                f'"{target.name}"; map each field once.'
            )
        seen[target.name.casefold()] = m.column
        order = (
            date_order_of([r[index] for r in sheet.rows])
            if target.type in ("date", "dateTime")
            else "iso"
        )
        columns.append(_Column(index, m.column, target, order))
    if not columns:
        raise ImportError_("Every column is skipped: map at least one column to a field.")
    return columns


def _merge_fields(request: ImportRequest, columns: list[_Column]) -> list[str]:
    if len(request.merge_on) > MAX_MERGE_FIELDS:
        raise ImportError_(f"Match existing records on at most {MAX_MERGE_FIELDS} fields.")
    by_name = {c.field.name.casefold(): c.field for c in columns}
    merge: list[str] = []
    for name in request.merge_on:
        f = by_name.get(name.casefold())
        if f is None:
            raise ImportError_(
                f'"{name}" is not a field this import writes, so records cannot be matched on it.'
            )
        if f.type not in MERGEABLE_TYPES:
            raise ImportError_(
                f'Records cannot be matched on "{f.name}" ({f.type}); choose a text, number, '
                "date or single select field."
            )
        merge.append(f.name)
    return merge


def link_values(text: str, index: LinkIndex) -> tuple[list[str], str | None]:
    """The record ids a link cell names (comma-separated display values), or why not."""
    text = text.strip()
    if not text:
        return [], None
    whole = index.get(text.casefold())
    names = [text] if whole else [p.strip() for p in text.split(",") if p.strip()]
    ids: list[str] = []
    for name in names:
        found = index.get(name.casefold(), [])
        if not found:
            return [], f'"{name}" matches no record'
        if len(found) > 1:
            return [], f'"{name}" matches {len(found)} records; rename them apart or link by hand'
        ids.append(found[0])
    return list(dict.fromkeys(ids)), None


def build_import(
    sheet: Sheet,
    request: ImportRequest,
    *,
    table: TableSchema,
    schema: BaseSchema,
    link_index: Callable[[str], LinkIndex],
) -> ImportDraft:
    """Every row as the fields it will write, with every problem found.

    Args:
        sheet: The file.
        request: The mapping.
        table: The table written (for a new table: as it will be).
        schema: The base's schema (linked tables).
        link_index: A linked table's records by display value, by table id.

    Returns:
        The draft; rows with problems are left out of its operations.

    Raises:
        ImportError_: The mapping cannot run (unknown fields, a field mapped twice...).
    """
    columns = _columns(sheet, request, table, schema)
    merge = _merge_fields(request, columns)
    indexes: dict[str, LinkIndex] = {}
    for c in columns:
        linked = c.field.linked_table_id
        if linked and linked not in indexes:
            indexes[linked] = link_index(linked)
    op: RecordOp = "upsert" if merge else "create"
    operations: list[RecordOperation] = []
    numbers: list[int] = []
    problems: list[RowProblem] = []
    problem_rows = 0
    for offset, row in enumerate(sheet.rows):
        number = offset + 2
        fields: dict[str, Any] = {}
        found: list[RowProblem] = []
        for c in columns:
            text = row[c.index]
            f = c.field
            if f.linked_table_id:
                ids, problem = link_values(text, indexes[f.linked_table_id])
                value: Any = ids or None
            else:
                value, problem = convert(text, f.type, choices=f.choices, date_order=c.date_order)
            if problem is None:
                problem = field_types.value_problem(f, value, typecast=False)
            if problem:
                found.append(RowProblem(number, c.header, f"{f.name}: {problem}"))
                continue
            if value is not None:
                fields[f.name] = value
        missing = [name for name in merge if fields.get(name) in (None, "")]
        if missing:
            found.append(
                RowProblem(
                    number, "", f"needs a value for {', '.join(missing)} to match records on"
                )
            )
        if not fields and not found:
            continue  # every mapped cell empty: nothing to write
        if found:
            problems.extend(found)
            problem_rows += 1
            continue
        operations.append(RecordOperation(op=op, fields=fields))
        numbers.append(number)
    names = [c.field.name for c in columns]
    return ImportDraft(operations, numbers, problems, problem_rows, names, merge)


def preview_rows(draft: ImportDraft, limit: int = PREVIEW_ROWS) -> list[dict[str, str]]:
    """The first rows as they will be written, as text (links as record ids)."""
    shown = []
    for number, operation in zip(draft.row_numbers[:limit], draft.operations[:limit], strict=True):
        row = {"row": str(number)}
        for name in draft.fields:
            value = operation.fields.get(name)
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            row[name] = "" if value is None else str(value)
        shown.append(row)
    return shown


# --- uploads ------------------------------------------------------------------------------


def _user_dir(user_id: int) -> Path:
    return get_settings().files_dir / "imports" / str(int(user_id))


def save_upload(user_id: int, filename: str, chunks: Iterable[bytes]) -> str:
    """Store an upload in the data folder, refusing it once it passes IMPORT_MAX_BYTES.

    Args:
        user_id: The signed-in user (each user's uploads live apart).
        filename: The user's file name (its extension is kept).
        chunks: The upload's bytes, in pieces.

    Returns:
        The stored upload's name, for `open_upload`.

    Raises:
        ImportFileError: Not CSV or XLSX by its name, or too big.
    """
    suffix = Path(filename).suffix.lower()
    if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
        raise ImportFileError(
            f'{filename} is not a CSV or XLSX file ("{suffix or "no extension"}"). Export your '
            "data as .csv or .xlsx and import that."
        )
    limit = get_settings().import_max_bytes
    folder = _user_dir(user_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_urlsafe(16) + suffix
    path = folder / name
    size = 0
    with path.open("wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise ImportFileError(
                    f"{filename} is larger than {megabytes(limit)}, the most one import takes "
                    "(IMPORT_MAX_BYTES). Split it, or import only the columns you need."
                )
            out.write(chunk)
    return name


def upload_path(user_id: int, upload: str) -> Path:
    """Where the user's stored upload is (a name of another folder is refused)."""
    if not upload or "/" in upload or "\\" in upload or upload.startswith("."):
        raise ImportFileError("Upload the file again: the stored copy is gone.")
    path = _user_dir(user_id) / upload
    if not path.is_file():
        raise ImportFileError("Upload the file again: the stored copy is gone.")
    return path


def open_upload(user_id: int, upload: str, *, filename: str, sheet: str | None = None) -> Sheet:
    """The user's stored upload, read (see `files.read_table_file`)."""
    settings = get_settings()
    return read_table_file(
        upload_path(user_id, upload),
        filename=filename,
        max_rows=settings.import_max_rows,
        max_bytes=settings.import_max_bytes,
        sheet=sheet or None,
    )


def discard_upload(user_id: int, upload: str) -> None:
    """Delete the stored upload (after its import is proposed, or when replaced)."""
    try:
        upload_path(user_id, upload).unlink(missing_ok=True)
    except ImportFileError:
        return


# --- flows, for the page's handlers ---------------------------------------------------


def base_ids(client: AirtableClient) -> set[str]:
    """The ids of every base the client's token sees (paced schema reads)."""
    ids: set[str] = set()
    params: dict[str, Any] = {}
    while True:
        page = client.request("GET", "meta", "bases", params=params) or {}
        ids |= {str(b.get("id")) for b in page.get("bases") or [] if isinstance(b, dict)}
        if not page.get("offset"):
            return ids
        params = {"offset": page["offset"]}


def check_base(client: AirtableClient, base_id: str) -> None:
    """Refuse a base the user's Airtable connection does not see (blocking)."""
    if base_id not in base_ids(client):
        raise ImportError_("Choose one of your bases: this one is not shared with your connection.")


@dataclass(frozen=True)
class ImportSetup:
    """What the mapping screen starts from.

    Attributes:
        sheet: The file as read.
        guesses: A type per column.
        mapping: The default mapping.
        tables: The base's tables (id, name).
        fields: The chosen table's writable fields (name, type).
    """

    sheet: Sheet
    guesses: list[ColumnGuess]
    mapping: list[ColumnMapping]
    tables: list[tuple[str, str]]
    fields: list[tuple[str, str]]


def inspect_upload(
    user_id: int,
    *,
    base_id: str,
    upload: str,
    filename: str,
    sheet: str | None,
    table: str,
    client_for: ClientFor = client_for_user,
) -> ImportSetup:
    """Read the upload and guess a mapping into `table` ("" for a new table) (blocking).

    Raises:
        UserFacingError: The base is not the user's, the file cannot be imported, Airtable.
    """
    client = client_for(user_id)
    check_base(client, base_id)
    parsed = open_upload(user_id, upload, filename=filename, sheet=sheet)
    schema = schema_module.get_base_schema(client, base_id)
    target = schema.table(table) if table else None
    guesses = guess_sheet(parsed, schema)
    return ImportSetup(
        sheet=parsed,
        guesses=guesses,
        mapping=default_mapping(parsed, guesses, target, schema),
        tables=[(t.id, t.name) for t in schema.tables],
        fields=[(f.name, f.type) for f in writable_fields(target)] if target else [],
    )


def read_link_index(
    client: AirtableClient, base_id: str, schema: BaseSchema, table_id: str
) -> LinkIndex:
    """Every record of a table by its primary field's display value (paced reads)."""
    linked = schema.table(table_id)
    primary = linked.primary_field.name
    index: LinkIndex = {}
    for page in client.iterate_records(base_id, linked.id, fields=[primary]):
        for record in page:
            value = (record.get("fields") or {}).get(primary)
            if value is None:
                continue
            index.setdefault(str(value).strip().casefold(), []).append(str(record["id"]))
    return index


def _planned_table(request: ImportRequest, schema: BaseSchema) -> TableSchema:
    if request.table:
        return schema.table(request.table)
    name = request.new_table_name.strip()
    if not name:
        raise ImportError_("Name the new table.")
    if schema.find_table(name) is not None:
        raise ImportError_(
            f'A table "{name}" exists already: import into it, or choose another name.'
        )
    return TableSchema(id="", name=name, primary_field_id="", fields=())


@dataclass(frozen=True)
class ImportCheck:
    """The rows as they would be written, for the mapping screen.

    Attributes:
        draft: Every row checked.
        preview: The first rows as they will be written.
        problems: The first problems, for the screen.
        new_fields: The fields the import needs created first.
    """

    draft: ImportDraft
    preview: list[dict[str, str]]
    problems: list[RowProblem]
    new_fields: list[str]


def check_import(
    user_id: int,
    request: ImportRequest,
    *,
    upload: str,
    filename: str,
    sheet: str | None,
    client_for: ClientFor = client_for_user,
) -> ImportCheck:
    """Convert and check every row as mapped; nothing is written (blocking).

    Raises:
        UserFacingError: The base, the file or the mapping cannot be used; Airtable.
    """
    client = client_for(user_id)
    check_base(client, request.base_id)
    parsed = open_upload(user_id, upload, filename=filename, sheet=sheet)
    schema = schema_module.get_base_schema(client, request.base_id, force=True)
    table = _planned_table(request, schema)
    draft = build_import(
        parsed,
        request,
        table=table,
        schema=schema,
        link_index=lambda tid: read_link_index(client, request.base_id, schema, tid),
    )
    new = [m.field.strip() for m in request.mapping if m.target == NEW]
    return ImportCheck(draft, preview_rows(draft), draft.problems[:MAX_PROBLEMS_SHOWN], new)


@dataclass(frozen=True)
class ImportProposal:
    """What proposing the import did.

    Attributes:
        action_ids: The actions proposed (the schema changes first, or the import).
        schema_first: The actions create the table or fields; propose the import again
            once they are done.
        message: What to tell the user.
    """

    action_ids: list[int]
    schema_first: bool
    message: str


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def propose_import(
    user_id: int,
    request: ImportRequest,
    *,
    upload: str,
    filename: str,
    sheet: str | None,
    sessions: SessionFactory = session_scope,
    client_for: ClientFor = client_for_user,
) -> ImportProposal:
    """Propose the import as one action (after the new table or fields, when it needs them).

    A new table or new fields are proposed first, as their own actions; once they are
    done, proposing again finds them and proposes the records: one records plan
    (create, or upsert on `merge_on`), reviewed, approved and undone as a whole.

    Raises:
        UserFacingError: The base, file or mapping cannot be used; rows have problems
            and the user did not choose to skip them; Airtable.
    """
    client = client_for(user_id)
    check_base(client, request.base_id)
    parsed = open_upload(user_id, upload, filename=filename, sheet=sheet)
    schema = schema_module.get_base_schema(client, request.base_id, force=True)
    table = _planned_table(request, schema)
    new = [m for m in request.mapping if m.target == NEW]
    if not table.id or new:
        return _propose_schema(user_id, request, parsed, table, schema, sessions)
    draft = build_import(
        parsed,
        request,
        table=table,
        schema=schema,
        link_index=lambda tid: read_link_index(client, request.base_id, schema, tid),
    )
    if draft.problems and not request.skip_problem_rows:
        raise ImportError_(
            f"{_plural(draft.problem_rows, 'row')} cannot be written as mapped. Fix the mapping, "
            "or choose to skip those rows."
        )
    if not draft.operations:
        raise ImportError_("No row is left to import.")
    merge = draft.merge_on
    op: RecordOp = "upsert" if merge else "create"
    plan = RecordsPlan(
        kind="records",
        op=op,
        typecast=False,
        fields_to_merge_on=merge or None,
        operations=draft.operations,
    )
    count = len(draft.operations)
    skipped = (
        f", {_plural(draft.problem_rows, 'row')} with problems skipped"
        if draft.problem_rows
        else ""
    )
    verb = (
        f"Create or update {_plural(count, 'record')} matched on {', '.join(merge)}"
        if merge
        else f"Create {_plural(count, 'record')}"
    )
    summary = f"Import {filename}: {verb} in {table.name} ({', '.join(draft.fields[:5])}){skipped}"
    arguments = {
        "file": filename,
        "sheet": parsed.sheet or None,
        "rows": len(parsed.rows),
        "mapping": {m.column: m.field for m in request.mapping if m.target != SKIP},
        "merge_on": merge,
        "skipped_rows": draft.problem_rows,
    }
    with sessions() as db:
        action = propose_action(
            session=db,
            user_id=user_id,
            conversation_id=None,
            message_id=None,
            tool_name=TOOL_NAME,
            base_id=request.base_id,
            table_id=table.id,
            table_name=table.name,
            arguments=arguments,
            plan=plan,
            summary=summary,
            record_count=count,
            needs_typed_confirmation=count > get_settings().confirm_threshold,
        )
        action_id = action.id
    assert action_id is not None
    logger.info("import proposed id=%s user_id=%s rows=%d", action_id, user_id, count)
    return ImportProposal([action_id], False, f"Proposed: {summary}. Review it to write it.")


def _propose_schema(
    user_id: int,
    request: ImportRequest,
    parsed: Sheet,
    table: TableSchema,
    schema: BaseSchema,
    sessions: SessionFactory,
) -> ImportProposal:
    """Propose the new table, or each new field, as its own action."""
    headers = {h: i for i, h in enumerate(parsed.headers)}
    specs = [
        new_field_spec(m, [r[headers[m.column]] for r in parsed.rows], schema)
        for m in request.mapping
        if m.target == NEW
    ]
    # Checks the whole mapping (names, doubles) before anything is proposed.
    _columns(parsed, request, table, schema)
    ids: list[int] = []
    with sessions() as db:
        if not table.id:
            if not specs:
                raise ImportError_("Map at least one column to a new field of the new table.")
            first = specs[0]
            if first["type"] not in PRIMARY_TYPES:
                # Airtable's primary field cannot be a link, select or checkbox.
                raise ImportError_(
                    f'The first mapped column becomes the primary field of "{table.name}", '
                    f"and a {first['type']} field cannot be one. Give it a text, number or "
                    "date type, or reorder the columns in the file."
                )
            table_operation = CreateTableOperation(op="create_table", name=table.name, fields=specs)
            action = propose_action(
                session=db,
                user_id=user_id,
                conversation_id=None,
                message_id=None,
                tool_name="create_table",
                base_id=request.base_id,
                table_id=None,
                table_name=None,
                arguments={"name": table.name, "fields": specs, "for_import": True},
                plan=SchemaPlan(kind="schema", op="create_table", operations=[table_operation]),
                summary=f"Create table {table.name} with {_plural(len(specs), 'field')} "
                "(for an import)",
                record_count=0,
                needs_typed_confirmation=False,
            )
            assert action.id is not None
            ids.append(action.id)
        else:
            for spec in specs:
                operation = CreateFieldOperation(op="create_field", **spec)
                action = propose_action(
                    session=db,
                    user_id=user_id,
                    conversation_id=None,
                    message_id=None,
                    tool_name="create_field",
                    base_id=request.base_id,
                    table_id=table.id,
                    table_name=table.name,
                    arguments={**spec, "table": table.name, "for_import": True},
                    plan=SchemaPlan(kind="schema", op="create_field", operations=[operation]),
                    summary=f"Add field {spec['name']} ({spec['type']}) to {table.name} "
                    "(for an import)",
                    record_count=0,
                    needs_typed_confirmation=False,
                )
                assert action.id is not None
                ids.append(action.id)
    what = f'table "{table.name}"' if not table.id else _plural(len(ids), "new field")
    message = (
        f"First the {what}: review and approve the proposed change (Airtable's API cannot "
        "remove tables or fields later, so undoing the import keeps them). Then map the "
        "columns to the new fields and propose the import again."
    )
    return ImportProposal(ids, True, message)


def your_bases(user_id: int) -> tuple[list[tuple[str, str]], str]:
    """The bases the user's connection sees, (id, name) by name, and their default (blocking)."""
    bases = check_user_access(user_id=user_id).bases
    with session_scope() as db:
        user = db.get(User, user_id)
        default = (user.default_base_id if user else None) or ""
    return sorted(((b.id, b.name) for b in bases), key=lambda b: b[1].casefold()), default


def table_choices(
    user_id: int, base_id: str, *, client_for: ClientFor = client_for_user
) -> list[dict[str, Any]]:
    """The base's tables with their writable fields and views, for the page (blocking)."""
    client = client_for(user_id)
    check_base(client, base_id)
    schema = schema_module.get_base_schema(client, base_id)
    return [
        {
            "id": t.id,
            "name": t.name,
            "fields": [f.name for f in writable_fields(t)],
            "all_fields": [f.name for f in t.fields],
            "views": [str(v.get("name")) for v in t.views if v.get("name")],
        }
        for t in schema.tables
    ]
