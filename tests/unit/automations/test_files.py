"""Reading uploads: encodings, delimiters, sheets, and every bad file named plainly."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook

from pyairtable_ui.automations.files import ImportFileError, read_table_file


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read(tmp_path: Path, name: str, data: bytes, **options) -> object:
    path = write(tmp_path, name, data)
    return read_table_file(
        path,
        filename=name,
        max_rows=options.pop("max_rows", 1000),
        max_bytes=options.pop("max_bytes", 20 * 1024 * 1024),
        **options,
    )


def workbook(*sheets: tuple[str, list[list[object]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_utf8_with_and_without_bom_read_the_same(tmp_path):
    plain = read(tmp_path, "a.csv", "Name,City\nZoë,Köln\n".encode())
    bom = read(tmp_path, "b.csv", "Name,City\nZoë,Köln\n".encode("utf-8-sig"))
    assert plain.headers == bom.headers == ["Name", "City"]
    assert plain.rows == bom.rows == [["Zoë", "Köln"]]
    assert plain.notes == bom.notes == []


def test_utf16_is_read_and_said(tmp_path):
    sheet = read(tmp_path, "a.csv", "Name\tCity\nZoë\tKöln\n".encode("utf-16"))
    assert sheet.rows == [["Zoë", "Köln"]]
    assert sheet.notes == ["Read as UTF-16 text."]


def test_latin1_is_read_with_a_note(tmp_path):
    sheet = read(tmp_path, "old.csv", "Name;City\nZoë;Köln\n".encode("latin-1"))
    assert sheet.rows == [["Zoë", "Köln"]]
    assert "old.csv is not UTF-8: it was read as Latin-1" in sheet.notes[0]


def test_delimiter_is_sniffed(tmp_path):
    sheet = read(tmp_path, "a.csv", b"Name;Amount\nA;1,5\nB;2,5\n")
    assert sheet.headers == ["Name", "Amount"]
    assert sheet.rows == [["A", "1,5"], ["B", "2,5"]]


def test_short_rows_are_padded_and_blank_rows_skipped(tmp_path):
    sheet = read(tmp_path, "a.csv", b"a,b,c\n1,2\n\n,,\n4,5,6\n")
    assert sheet.rows == [["1", "2", ""], ["4", "5", "6"]]


def test_formula_looking_cells_stay_text_with_a_note(tmp_path):
    sheet = read(tmp_path, "a.csv", b'Name,Link\nA,"=HYPERLINK(""http://x"",""x"")"\nB,@SUM(1)\n')
    assert sheet.rows[0][1] == '=HYPERLINK("http://x","x")'
    assert sheet.rows[1][1] == "@SUM(1)"
    assert "2 cells start with =, + or @" in sheet.notes[-1]
    assert "never run as formulas" in sheet.notes[-1]


def test_xlsx_first_sheet_or_a_chosen_one_with_typed_cells(tmp_path):
    from datetime import datetime

    data = workbook(
        ("People", [["Name", "Born", "Score", "Active"], ["Ann", datetime(1990, 5, 1), 3.0, True]]),
        ("Other", [["X"], ["y"]]),
    )
    first = read(tmp_path, "a.xlsx", data)
    assert first.headers == ["Name", "Born", "Score", "Active"]
    assert first.rows == [["Ann", "1990-05-01", "3", "true"]]
    assert first.sheet_names == ["People", "Other"]
    assert first.sheet == "People"
    chosen = read(tmp_path, "b.xlsx", data, sheet="Other")
    assert chosen.rows == [["y"]]


def test_xlsx_formula_cells_read_as_their_saved_values(tmp_path):
    data = workbook(("S", [["a", "b"], [1, "=1+2"]]))
    # Give the formula the value Excel would have saved with it.
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"<f>1+2</f><v />", b"<f>1+2</f><v>3</v>")
            target.writestr(item, body)
    sheet = read(tmp_path, "f.xlsx", out.getvalue())
    assert sheet.rows == [["1", "3"]]


def _zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("a.txt", "hello")
    return out.getvalue()


BIG_CELL = "x" * 10 * 1024 * 1024

# (file name, content, options, the message's telling part)
BAD_FILES = [
    ("empty.csv", b"", {}, "empty.csv is empty: there is nothing to import."),
    ("blank.csv", b"\n\n   \n", {}, "blank.csv is empty: there is nothing to import."),
    ("head.csv", b"Name,Age\n", {}, "head.csv has a header row but no rows under it"),
    ("head2.csv", b"Name,Age\n,\n\n", {}, "head2.csv has a header row but no rows under it"),
    ("dup.csv", b"Name,Age,name\na,1,b\n", {}, 'columns 1 and 3 are both named "name"'),
    ("blankhead.csv", b"Name,,Age\na,b,1\n", {}, "column 2 has no header"),
    (
        "ragged.csv",
        b"a,b\n1,2\n1,2,3\n4,5\n",
        {},
        "row 3 has more values than the header has columns (2)",
    ),
    ("bin.csv", b"Name\x00\x01\x02\x00", {}, "bin.csv holds binary data, not text"),
    ("pic.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {}, "pic.csv holds binary data, not text"),
    ("ctl.csv", b"\xff\xfa\x01\x02\x03abc", {}, "ctl.csv holds binary data, not text"),
    ("zip.csv", _zip_bytes(), {}, "zip.csv is named like a CSV file but is a compressed file"),
    (
        "text.xlsx",
        b"Name,Age\na,1\n",
        {},
        "text.xlsx is named like an Excel workbook but is not one",
    ),
    (
        "old.xlsx",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
        {},
        "old.xlsx is an old Excel .xls",
    ),
    (
        "old.csv",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
        {},
        "old.csv is an old Excel .xls",
    ),
    (
        "broken.xlsx",
        b"PK\x03\x04" + b"garbage" * 20,
        {},
        "broken.xlsx is not a readable Excel workbook",
    ),
    ("data.json", b'{"a": 1}', {}, 'data.json is not a CSV or XLSX file (".json")'),
    ("README", b"Name\nA\n", {}, 'README is not a CSV or XLSX file ("no extension")'),
    (
        "many.csv",
        b"n\n" + b"x\n" * 51,
        {"max_rows": 50},
        "many.csv has more than 50 rows; one import takes at most 50",
    ),
    (
        "big.csv",
        b"n\n" + b"x\n" * 600,
        {"max_bytes": 1000},
        "big.csv is 1 KB; files up to 1 KB can be imported (IMPORT_MAX_BYTES)",
    ),
    (
        "huge.csv",
        b"n\n" + BIG_CELL.encode() + b"\n",
        {},
        "a cell holds more than 100,000 characters",
    ),
    (
        "long.csv",
        b"n\n" + b"y" * 120_000 + b"\n",
        {},
        'row 2, column "n": the cell holds 120,000 characters',
    ),
    (
        "bad16.csv",
        b"\xff\xfeN\x00a\x00\x00\xd8",
        {},
        "bad16.csv starts like UTF-16 text but is not valid UTF-16",
    ),
    (
        "nosheet.xlsx",
        workbook(("A", [["x"], ["1"]])),
        {"sheet": "Nope"},
        'nosheet.xlsx has no sheet "Nope". Its sheets: "A".',
    ),
    ("emptysheet.xlsx", workbook(("A", [])), {}, "emptysheet.xlsx has no header row"),
    (
        "headxl.xlsx",
        workbook(("A", [["Name", "Age"]])),
        {},
        "headxl.xlsx has a header row but no rows",
    ),
    (
        "dupxl.xlsx",
        workbook(("A", [["Name", " Name "], ["a", "b"]])),
        {},
        'columns 1 and 2 are both named "Name"',
    ),
]


@pytest.mark.parametrize(
    ("name", "data", "options", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_files_are_refused_with_a_clear_message(tmp_path, name, data, options, message):
    with pytest.raises(ImportFileError) as caught:
        read(tmp_path, name, data, **options)
    assert message in caught.value.message
