"""Reading an uploaded CSV or XLSX file into a header and rows of text, or saying why not.

Every problem a file can have is found here, before anything is planned: the
message names the file's trouble in the user's words and what to do, and nothing
is written. Cells come out as text ("" for an empty cell), whatever the format,
so type guessing and conversion (`guess`) read CSV and XLSX alike; XLSX numbers,
dates and booleans are written the way a CSV export of them would read.

Cells that look like formulas (``=HYPERLINK(…)``, ``+1``, ``@SUM``) are kept as the
text they are: nothing here evaluates them, and Airtable stores text as text.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from pyairtable_ui.core.errors import UserFacingError

# Airtable's limit for one long text cell.
MAX_CELL_CHARS = 100_000
CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_SNIFF_CHARS = 64 * 1024
_FORMULA_STARTS = ("=", "+", "@")
_MAX_LISTED = 5


class ImportFileError(UserFacingError):
    """The file cannot be imported as it is; the message says why and what to do."""


@dataclass(frozen=True)
class Sheet:
    """A file read as a header and rows of text.

    Attributes:
        headers: The column names, as the first row spells them (stripped).
        rows: Each row's cells, as many as there are headers.
        notes: What the user should know about how it was read (encoding, formulas).
        sheet_names: The workbook's sheets (XLSX), else empty.
        sheet: The sheet read (XLSX), else "".
    """

    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    sheet_names: list[str] = field(default_factory=list)
    sheet: str = ""


def _listed(numbers: list[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:_MAX_LISTED])
    more = len(numbers) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def megabytes(size: int) -> str:
    """A file size as the user reads it (KB under a megabyte)."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def read_table_file(
    path: Path,
    *,
    filename: str,
    max_rows: int,
    max_bytes: int,
    sheet: str | None = None,
) -> Sheet:
    """Read an uploaded file into a header and rows, refusing what cannot be imported.

    Args:
        path: Where the upload was stored.
        filename: The name the user's file had (its extension says CSV or XLSX).
        max_rows: The most data rows allowed (IMPORT_MAX_ROWS).
        max_bytes: The largest file allowed (IMPORT_MAX_BYTES).
        sheet: The workbook sheet to read (XLSX; the first one when None).

    Returns:
        The sheet.

    Raises:
        ImportFileError: Empty, too big, not CSV or XLSX, unreadable, headers missing
            or repeated, ragged rows, a cell over Airtable's limit, too many rows.
    """
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(f"{filename} is empty: there is nothing to import.")
    if size > max_bytes:
        raise ImportFileError(
            f"{filename} is {megabytes(size)}; files up to {megabytes(max_bytes)} can be "
            "imported (IMPORT_MAX_BYTES). Split it, or import only the columns you need."
        )
    suffix = Path(filename).suffix.lower()
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(
            f"{filename} is an old Excel .xls file (or a password-protected workbook); "
            "save it as .xlsx or CSV without a password and import that."
        )
    is_zip = head.startswith(b"PK\x03\x04")
    if suffix in XLSX_SUFFIXES:
        if not is_zip:
            raise ImportFileError(
                f"{filename} is named like an Excel workbook but is not one (a CSV renamed "
                "to .xlsx?). Give it the extension that matches its content."
            )
        headers, rows, names, chosen, notes = _read_xlsx(path, filename, sheet, max_rows)
        return _checked(filename, headers, rows, max_rows, notes, names, chosen)
    if suffix in CSV_SUFFIXES:
        if is_zip:
            raise ImportFileError(
                f"{filename} is named like a CSV file but is a compressed file (an Excel "
                "workbook renamed?). Save it as .xlsx or export it as CSV."
            )
        text, notes = _decode(path.read_bytes(), filename)
        headers, rows = _read_csv(text, filename, max_rows)
        return _checked(filename, headers, rows, max_rows, notes, [], "")
    raise ImportFileError(
        f'{filename} is not a CSV or XLSX file ("{suffix or "no extension"}"). Export your '
        "data as .csv or .xlsx and import that."
    )


# --- CSV -----------------------------------------------------------------------------


def _decode(data: bytes, filename: str) -> tuple[str, list[str]]:
    """The file's text, with a note when it was not UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), ["Read as UTF-16 text."]
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"{filename} starts like UTF-16 text but is not valid UTF-16; save it again "
                "as CSV (UTF-8)."
            ) from exc
    if b"\x00" in data[:_SNIFF_CHARS]:
        raise ImportFileError(
            f"{filename} holds binary data, not text: it is not a CSV file. Export your "
            "data as .csv or .xlsx and import that."
        )
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    controls = sum(1 for ch in text[:_SNIFF_CHARS] if ord(ch) < 32 and ch not in "\r\n\t")
    if controls > 0:
        raise ImportFileError(
            f"{filename} holds binary data, not text: it is not a CSV file. Export your "
            "data as .csv or .xlsx and import that."
        )
    note = (
        f"{filename} is not UTF-8: it was read as Latin-1 (Western European). Check accented "
        "letters in the preview; if they look wrong, save the file as CSV UTF-8 and import "
        "it again."
    )
    return text, [note]


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return csv.excel  # one column, or too little to tell: commas


def _read_csv(text: str, filename: str, max_rows: int) -> tuple[list[str], list[list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(text[:_SNIFF_CHARS]))
    rows: list[list[str]] = []
    try:
        for line in reader:
            rows.append(line)
            # The header, the rows allowed and one more to know there are too many.
            if len(rows) > max_rows + 1 and any(c.strip() for c in line):
                break
    except csv.Error as exc:
        where = f"line {reader.line_num}"
        if "field larger than field limit" in str(exc):
            raise ImportFileError(
                f"{filename}, {where}: a cell holds more than {MAX_CELL_CHARS:,} characters, "
                "more than Airtable keeps in one cell. Shorten it or leave the column out."
            ) from exc
        raise ImportFileError(
            f"{filename} cannot be read as CSV at {where} ({exc}). Check its quotes, or "
            "save it again as CSV."
        ) from exc
    if not text.strip():
        raise ImportFileError(f"{filename} is empty: there is nothing to import.")
    header = rows[0] if rows else []
    return header, rows[1:]


# --- XLSX ----------------------------------------------------------------------------


def _cell_text(value: object) -> str:
    """A workbook cell as a CSV export of it would read."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(
    path: Path, filename: str, sheet: str | None, max_rows: int
) -> tuple[list[str], list[list[str]], list[str], str, list[str]]:
    # Imported here: openpyxl is large and only XLSX imports need it.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        # data_only: a formula cell reads as the value Excel last computed for it.
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(
            f"{filename} is not a readable Excel workbook (it may be damaged or another "
            "kind of file). Open it in Excel and save it as .xlsx again, or export CSV."
        ) from exc
    try:
        names = list(book.sheetnames)
        if not names:
            raise ImportFileError(f"{filename} has no sheets: there is nothing to import.")
        chosen = sheet or names[0]
        if chosen not in names:
            raise ImportFileError(
                f'{filename} has no sheet "{chosen}". Its sheets: '
                + ", ".join(f'"{n}"' for n in names)
                + "."
            )
        rows: list[list[str]] = []
        for values in book[chosen].iter_rows(values_only=True):
            row = [_cell_text(v) for v in values]
            rows.append(row)
            if len(rows) > max_rows + 1 and any(c.strip() for c in row):
                break
        notes = [f'Read sheet "{chosen}" of {len(names)}.'] if len(names) > 1 else []
    finally:
        book.close()
    header = rows[0] if rows else []
    return header, rows[1:], names, chosen, notes


# --- checks common to both -----------------------------------------------------------


def _checked(
    filename: str,
    header: list[str],
    body: list[list[str]],
    max_rows: int,
    notes: list[str],
    sheet_names: list[str],
    sheet: str,
) -> Sheet:
    headers = [h.strip() for h in header]
    # Trailing columns with no header and no value anywhere are padding, not data.
    width = len(headers)
    while (
        width
        and not headers[width - 1]
        and not any(len(r) >= width and r[width - 1].strip() for r in body)
    ):
        width -= 1
    headers = headers[:width]
    # Row numbers as a spreadsheet shows them (the header is row 1); blank rows are skipped.
    rows = [(n, r) for n, r in enumerate(body, start=2) if any(c.strip() for c in r)]
    if not headers:
        raise ImportFileError(f"{filename} has no header row: its first row must name the columns.")
    if not rows:
        raise ImportFileError(
            f"{filename} has a header row but no rows under it: there is nothing to import."
        )
    blank = [i + 1 for i, h in enumerate(headers) if not h]
    if blank:
        raise ImportFileError(
            f"{filename}: column {_listed(blank)} has no header. Name every column in the "
            "first row (or delete the empty columns)."
        )
    seen: dict[str, int] = {}
    for i, h in enumerate(headers, start=1):
        key = h.casefold()
        if key in seen:
            raise ImportFileError(
                f'{filename}: columns {seen[key]} and {i} are both named "{h}". Give each '
                "column its own name in the first row."
            )
        seen[key] = i
    if len(rows) > max_rows:
        raise ImportFileError(
            f"{filename} has more than {max_rows:,} rows; one import takes at most "
            f"{max_rows:,} (IMPORT_MAX_ROWS). Split the file and import the parts one by one."
        )
    ragged: list[int] = []
    formulas = 0
    clean: list[list[str]] = []
    for number, row in rows:
        cells = list(row[:width]) + [""] * (width - len(row))
        if len(row) > width and any(c.strip() for c in row[width:]):
            ragged.append(number)
        for column, cell in enumerate(cells, start=1):
            if len(cell) > MAX_CELL_CHARS:
                raise ImportFileError(
                    f'{filename}, row {number}, column "{headers[column - 1]}": the cell holds '
                    f"{len(cell):,} characters; Airtable keeps at most {MAX_CELL_CHARS:,} in "
                    "one cell. Shorten it or leave the column out."
                )
            if cell.startswith(_FORMULA_STARTS) and len(cell) > 1:
                formulas += 1
        clean.append(cells)
    if ragged:
        raise ImportFileError(
            f"{filename}: row {_listed(ragged)} has more values than the header has columns "
            f"({width}). A separator inside an unquoted value? Quote such values, or name the "
            "extra columns."
        )
    if formulas:
        notes = [
            *notes,
            f"{formulas} cells start with =, + or @ (like =HYPERLINK(…)); they are imported "
            "as the text they are, never run as formulas.",
        ]
    return Sheet(headers, clean, notes, sheet_names, sheet)
