"""A table, a view or a filtered set of records written to a CSV or XLSX file.

Records are read page by page under the pacer (100 a request) and written as they
come, so a large table never sits whole in memory. Linked records are written by
their display value (the linked table's primary field), lists as comma-separated
text, collaborators by name. In CSV, text that a spreadsheet would run as a
formula (starting with =, +, -, @, a tab or a carriage return) gets a leading
apostrophe; in XLSX such text is stored as a string cell, never as a formula.

The file is written in the data folder, per user; `api.files` sends it to the
browser that asks with the owner's session cookie, then it is deleted.
"""

from __future__ import annotations

import csv
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.access import client_for_user
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.schema import BaseSchema, FieldSchema, TableSchema
from pyairtable_ui.automations.imports import base_ids
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.core.settings import get_settings
from pyairtable_ui.tools.arguments import Filter, Match
from pyairtable_ui.tools.filters import build_formula
from pyairtable_ui.tools.registry import ToolInputError

logger = logging.getLogger(__name__)

ExportFormat = Literal["csv", "xlsx"]
FORMATS: tuple[str, ...] = ("csv", "xlsx")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9 _.-]+")

ClientFor = Callable[[int], AirtableClient]
ProgressCallback = Callable[[int], None]
"""Called with the number of records written so far."""


class ExportError(UserFacingError):
    """The export cannot run as asked; the message says what to change."""


def neutralise(text: str) -> str:
    """Text a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def cell_value(f: FieldSchema, value: Any, names: dict[str, str]) -> Any:
    """A record's value as one cell: numbers stay numbers, the rest becomes text.

    Args:
        f: The field.
        value: Airtable's value.
        names: Linked record id -> display value (link fields).
    """
    if value is None:
        return ""
    if f.type == "multipleRecordLinks" and isinstance(value, list):
        return ", ".join(names.get(str(v), str(v)) for v in value)
    if isinstance(value, bool):
        return "checked" if value else ""
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict):
        return str(
            value.get("name") or value.get("email") or value.get("url") or value.get("text") or ""
        )
    if isinstance(value, list):
        return ", ".join(str(cell_value(f, v, names)) for v in value)
    return str(value)


@dataclass(frozen=True)
class ExportRequest:
    """What to export.

    Attributes:
        base_id: The base.
        table: The table (id or name).
        view: A view of it (id or name), or "" for the whole table.
        filters: Conditions, as the tools take them.
        match: ``all`` or ``any`` of the conditions.
        format: ``csv`` or ``xlsx``.
    """

    base_id: str
    table: str
    view: str = ""
    filters: tuple[Filter, ...] = ()
    match: Match = "all"
    format: ExportFormat = "csv"


def _link_names(
    client: AirtableClient, base_id: str, schema: BaseSchema, table: TableSchema
) -> dict[str, str]:
    """Record id -> primary display value, for every table the table links to."""
    names: dict[str, str] = {}
    linked_ids = {f.linked_table_id for f in table.fields if f.linked_table_id}
    for table_id in sorted(i for i in linked_ids if i):
        linked = schema.table_by_id(table_id)
        if linked is None:
            continue
        primary = linked.primary_field.name
        for page in client.iterate_records(base_id, linked.id, fields=[primary]):
            for record in page:
                value = (record.get("fields") or {}).get(primary)
                names[str(record["id"])] = "" if value is None else str(value)
    return names


def export_rows(
    client: AirtableClient, request: ExportRequest, schema: BaseSchema
) -> tuple[list[str], Iterator[list[Any]]]:
    """The header and, lazily, each record's row (paced reads, 100 records a request).

    Raises:
        ExportError: Unknown view, or filters that do not suit their fields.
    """
    table = schema.table(request.table)
    options: dict[str, Any] = {}
    if request.view:
        view = table.find_view(request.view)
        if view is None:
            views = ", ".join(f'"{v.get("name")}"' for v in table.views) or "none"
            raise ExportError(f'Table "{table.name}" has no view "{request.view}". Views: {views}.')
        options["view"] = str(view.get("id") or view.get("name"))
    try:
        formula = build_formula(table, list(request.filters), match=request.match)
    except ToolInputError as exc:
        raise ExportError(f"The filters cannot be used: {exc}") from exc
    if formula is not None:
        options["formula"] = str(formula)
    fields = list(table.fields)
    names = _link_names(client, request.base_id, schema, table)

    def rows() -> Iterator[list[Any]]:
        for page in client.iterate_records(request.base_id, table.id, **options):
            for record in page:
                values = record.get("fields") or {}
                yield [cell_value(f, values.get(f.name), names) for f in fields]

    return [f.name for f in fields], rows()


def write_csv(
    path: Path, headers: list[str], rows: Iterator[list[Any]], progress: ProgressCallback | None
) -> int:
    """Write CSV (UTF-8 with a BOM, so Excel reads accents), formulas neutralised."""
    count = 0
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([neutralise(h) for h in headers])
        for row in rows:
            writer.writerow([neutralise(v) if isinstance(v, str) else v for v in row])
            count += 1
            if progress is not None and count % 100 == 0:
                progress(count)
    return count


def write_xlsx(
    path: Path, headers: list[str], rows: Iterator[list[Any]], progress: ProgressCallback | None
) -> int:
    """Write XLSX row by row (openpyxl write-only); text is always a string cell."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Export")

    def cells(values: list[Any]) -> list[Any]:
        out = []
        for v in values:
            cell = WriteOnlyCell(sheet, value=v)
            if isinstance(v, str):
                cell.data_type = "s"  # "=…" stays text: openpyxl would store a formula
            out.append(cell)
        return out

    sheet.append(cells(headers))
    count = 0
    for row in rows:
        sheet.append(cells(row))
        count += 1
        if progress is not None and count % 100 == 0:
            progress(count)
    book.save(path)
    return count


@dataclass(frozen=True)
class ExportedFile:
    """An export written for the user.

    Attributes:
        name: The stored file's name (for the download route).
        download_name: What the browser saves it as.
        records: Records written.
    """

    name: str
    download_name: str
    records: int


def export_dir(user_id: int) -> Path:
    """Where the user's exports wait for their download."""
    return get_settings().files_dir / "exports" / str(int(user_id))


def export_path(user_id: int, name: str) -> Path | None:
    """The user's export of this name, or None (names of other folders are refused)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = export_dir(user_id) / name
    return path if path.is_file() else None


def download_name(name: str) -> str:
    """The name the browser saves a stored export as (its random prefix left off)."""
    return name.split("--", 1)[-1]


def export_table(
    user_id: int,
    request: ExportRequest,
    *,
    on_progress: ProgressCallback | None = None,
    client_for: ClientFor = client_for_user,
) -> ExportedFile:
    """Write the export to the user's data folder (blocking).

    Raises:
        UserFacingError: The base is not the user's, unknown table or view, bad filters,
            Airtable.
    """
    if request.format not in FORMATS:
        raise ExportError("Export as CSV or XLSX.")
    client = client_for(user_id)
    if request.base_id not in base_ids(client):
        raise ExportError("Choose one of your bases: this one is not shared with your connection.")
    schema = schema_module.get_base_schema(client, request.base_id)
    table = schema.table(request.table)
    headers, rows = export_rows(client, request, schema)
    folder = export_dir(user_id)
    folder.mkdir(parents=True, exist_ok=True)
    label = _SAFE_NAME.sub("_", table.name).strip() or "export"
    if request.view:
        label += " - " + _SAFE_NAME.sub("_", request.view).strip()
    name = f"{secrets.token_urlsafe(12)}--{label}.{request.format}"
    path = folder / name
    write = write_csv if request.format == "csv" else write_xlsx
    try:
        count = write(path, headers, rows, on_progress)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    logger.info("export written user_id=%s table=%s records=%d", user_id, table.id, count)
    return ExportedFile(name, download_name(name), count)
