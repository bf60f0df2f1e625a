"""Imports against the emulator: mapping, problems, one action through the pipeline, undo.

The import is proposed as one records plan and then reviewed, approved, run and undone
by the very flows the review dialog calls; the emulator's records are checked after each.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlmodel import select

from pyairtable_ui.actions import flows
from pyairtable_ui.actions.models import Action, ActionStatus
from pyairtable_ui.actions.plan import plan_of
from pyairtable_ui.automations import imports
from pyairtable_ui.automations.files import ImportFileError
from pyairtable_ui.automations.imports import ColumnMapping, ImportRequest
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.emulator.seeds import BASE_PROJECTS_ID, TABLE_PROJECTS_ID, TABLE_TASKS_ID
from tests.unit.actions.helpers import table_records, writes
from tests.unit.automations.test_files import BAD_FILES

TASKS = ["Design mockups", "Build landing page", "Write copy", "Pick framework"]
STATUSES = ["Planned", "Active", "Done"]


@pytest.fixture
def emulator(airtable_emulator):
    return airtable_emulator


@pytest.fixture
def client_for(emulator, make_client):
    client = make_client(emulator)
    return lambda _user_id: client


def projects_csv(count: int, *, extra: list[list[str]] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Name", "Status", "Due", "Tasks", "Budget"])
    for i in range(1, count + 1):
        writer.writerow(
            [
                f"Imported {i:04d}",
                STATUSES[i % 3].lower(),
                f"{(i % 12) + 1:02d}/{(i % 28) + 1:02d}/2025",
                TASKS[i % 4],
                f"${i * 10:,}",
            ]
        )
    for row in extra or []:
        writer.writerow(row)
    return out.getvalue().encode()


def upload(user_id: int, name: str, data: bytes) -> str:
    return imports.save_upload(user_id, name, [data])


def mapping(**changes: ColumnMapping) -> list[ColumnMapping]:
    base = {
        "Name": ColumnMapping("Name", imports.EXISTING, "Name"),
        "Status": ColumnMapping("Status", imports.EXISTING, "Status"),
        "Due": ColumnMapping("Due", imports.EXISTING, "Due"),
        "Tasks": ColumnMapping("Tasks", imports.EXISTING, "Tasks"),
        "Budget": ColumnMapping("Budget", imports.EXISTING, "Budget"),
    }
    base.update(changes)
    return list(base.values())


def request(**options) -> ImportRequest:
    return ImportRequest(
        base_id=BASE_PROJECTS_ID, table=TABLE_PROJECTS_ID, mapping=mapping(), **options
    )


def project_names(emulator) -> set[str]:
    return {str(f.get("Name")) for f in table_records(emulator, TABLE_PROJECTS_ID).values()}


def actions(session_factory) -> list[Action]:
    with session_factory() as db:
        return list(db.exec(select(Action)).all())


def test_default_mapping_finds_fields_and_guesses_the_rest(user_id, client_for):
    data = projects_csv(6).replace(b"Budget", b"Cost")
    name = upload(user_id, "p.csv", data)
    setup = imports.inspect_upload(
        user_id,
        base_id=BASE_PROJECTS_ID,
        upload=name,
        filename="p.csv",
        sheet=None,
        table=TABLE_PROJECTS_ID,
        client_for=client_for,
    )
    by_column = {m.column: m for m in setup.mapping}
    assert by_column["Status"] == ColumnMapping("Status", "field", "Status", "singleSelect")
    assert by_column["Due"].target == "field"
    assert by_column["Tasks"].type == "multipleRecordLinks"
    assert by_column["Cost"] == ColumnMapping("Cost", "new", "Cost", "currency")
    assert [g.type for g in setup.guesses][:3] == ["singleLineText", "singleSelect", "date"]


def test_check_shows_rows_as_written_and_every_problem(user_id, client_for, emulator):
    bad = [
        ["Bad date", "active", "31/31/2025", "Write copy", "$1"],
        ["Bad option", "blocked", "01/02/2025", "Write copy", "$1"],
        ["No link", "done", "01/02/2025", "Nothing like it", "$1"],
    ]
    name = upload(user_id, "p.csv", projects_csv(3, extra=bad))
    result = imports.check_import(
        user_id, request(), upload=name, filename="p.csv", sheet=None, client_for=client_for
    )
    first = result.preview[0]
    assert first["Name"] == "Imported 0001"
    assert first["Status"] == "Active"  # matched whatever its case
    assert first["Due"] == "2025-02-02"
    assert first["Tasks"].startswith("rec")
    assert first["Budget"] == "10"
    messages = [(p.row, p.message) for p in result.problems]
    assert messages == [
        (5, 'Due: "31/31/2025" is not a date this column can read'),
        (6, 'Status: "blocked" is not an option of the field'),
        (7, 'Tasks: "Nothing like it" matches no record'),
    ]
    assert result.draft.problem_rows == 3
    assert len(result.draft.operations) == 3
    assert writes(emulator) == []


def test_a_link_matching_several_records_is_a_problem(user_id, client_for, emulator):
    index = {"same": ["recA", "recB"], "one": ["recC"]}
    assert imports.link_values("one", index) == (["recC"], None)
    assert (
        imports.link_values("same", index)[1]
        == '"same" matches 2 records; rename them apart or link by hand'
    )
    assert imports.link_values("one, same", index)[1] is not None


def test_problem_rows_refuse_the_import_unless_skipped(user_id, client_for, session_factory):
    bad = [["Bad", "active", "never", "Write copy", "$1"]]
    name = upload(user_id, "p.csv", projects_csv(2, extra=bad))
    with pytest.raises(UserFacingError) as caught:
        imports.propose_import(
            user_id,
            request(),
            upload=name,
            filename="p.csv",
            sheet=None,
            sessions=session_factory,
            client_for=client_for,
        )
    assert caught.value.message == (
        "1 row cannot be written as mapped. Fix the mapping, or choose to skip those rows."
    )
    assert actions(session_factory) == []
    proposal = imports.propose_import(
        user_id,
        request(skip_problem_rows=True),
        upload=name,
        filename="p.csv",
        sheet=None,
        sessions=session_factory,
        client_for=client_for,
    )
    [action] = actions(session_factory)
    assert proposal.action_ids == [action.id]
    assert action.record_count == 2
    assert "1 row with problems skipped" in action.summary


def test_import_is_one_action_run_by_the_pipeline_and_undone_whole(
    user_id, client_for, session_factory, emulator
):
    before = project_names(emulator)
    name = upload(user_id, "projects.csv", projects_csv(45))
    proposal = imports.propose_import(
        user_id,
        request(),
        upload=name,
        filename="projects.csv",
        sheet=None,
        sessions=session_factory,
        client_for=client_for,
    )
    [action_id] = proposal.action_ids
    with session_factory() as db:
        action = db.get(Action, action_id)
        assert action is not None
        plan = plan_of(action)
        assert action.tool_name == "import_file"
        assert action.needs_typed_confirmation  # 45 > the threshold of 20
    assert plan.kind == "records" and plan.op == "create" and len(plan.operations) == 45
    assert writes(emulator) == [], "nothing is written before the approval"

    airtable = {"sessions": session_factory, "client_for": client_for}
    opened = flows.review(user_id, action_id, **airtable)
    assert opened.preview is not None and len(opened.preview["rows"]) == 45
    ran = flows.approve_and_run(
        user_id, action_id, approved_row_ids=None, typed_count="45", **airtable
    )
    assert ran.action is not None and ran.action.status == ActionStatus.DONE.value, ran.error
    batches = writes(emulator, "POST")
    assert len(batches) == 5  # batches of 10
    records = table_records(emulator, TABLE_PROJECTS_ID)
    imported = {f["Name"]: f for f in records.values() if str(f["Name"]).startswith("Imported")}
    assert len(imported) == 45
    task_ids = {f["Name"]: rid for rid, f in table_records(emulator, TABLE_TASKS_ID).items()}
    first = imported["Imported 0001"]
    assert first["Tasks"] == [task_ids["Build landing page"]]
    assert (first["Status"], first["Due"], first["Budget"]) == ("Active", "2025-02-02", 10)

    undone = flows.undo_action(user_id, action_id, resolutions={}, **airtable)
    assert undone.action is not None and undone.action.undo_status == "done", undone.error
    assert project_names(emulator) == before


def test_upsert_on_a_key_updates_matches_and_creates_the_rest(
    user_id, client_for, session_factory, emulator
):
    data = b"Name,Budget\nWebsite relaunch,99\nBrand new,5\n"
    name = upload(user_id, "u.csv", data)
    req = ImportRequest(
        base_id=BASE_PROJECTS_ID,
        table=TABLE_PROJECTS_ID,
        mapping=[
            ColumnMapping("Name", imports.EXISTING, "Name"),
            ColumnMapping("Budget", imports.EXISTING, "Budget"),
        ],
        merge_on=["Name"],
    )
    proposal = imports.propose_import(
        user_id,
        req,
        upload=name,
        filename="u.csv",
        sheet=None,
        sessions=session_factory,
        client_for=client_for,
    )
    airtable = {"sessions": session_factory, "client_for": client_for}
    flows.review(user_id, proposal.action_ids[0], **airtable)
    ran = flows.approve_and_run(
        user_id, proposal.action_ids[0], approved_row_ids=None, typed_count=None, **airtable
    )
    assert ran.action is not None and ran.action.status == "done", ran.error
    budgets = {
        f["Name"]: f.get("Budget") for f in table_records(emulator, TABLE_PROJECTS_ID).values()
    }
    assert budgets["Website relaunch"] == 99
    assert budgets["Brand new"] == 5
    assert len(budgets) == 4


def test_new_fields_are_proposed_first_as_their_own_actions(
    user_id, client_for, session_factory, emulator
):
    name = upload(user_id, "p.csv", b"Name,Owner email\nA,a@example.com\nB,b@example.com\n")
    req = ImportRequest(
        base_id=BASE_PROJECTS_ID,
        table=TABLE_PROJECTS_ID,
        mapping=[
            ColumnMapping("Name", imports.EXISTING, "Name"),
            ColumnMapping("Owner email", imports.NEW, "Owner email", "email"),
        ],
    )
    proposal = imports.propose_import(
        user_id,
        req,
        upload=name,
        filename="p.csv",
        sheet=None,
        sessions=session_factory,
        client_for=client_for,
    )
    assert proposal.schema_first
    [action] = actions(session_factory)
    assert action.tool_name == "create_field"
    assert "cannot remove tables or fields later" in proposal.message
    assert writes(emulator) == []


def test_a_new_table_is_proposed_with_the_columns_as_fields(user_id, client_for, session_factory):
    name = upload(user_id, "n.csv", b"Title,Score,Open\nA,1,yes\nB,2,no\n")
    req = ImportRequest(
        base_id=BASE_PROJECTS_ID,
        table="",
        new_table_name="Scores",
        mapping=[
            ColumnMapping("Title", imports.NEW, "Title", "singleLineText"),
            ColumnMapping("Score", imports.NEW, "Score", "number"),
            ColumnMapping("Open", imports.NEW, "Open", "checkbox"),
        ],
    )
    imports.propose_import(
        user_id,
        req,
        upload=name,
        filename="n.csv",
        sheet=None,
        sessions=session_factory,
        client_for=client_for,
    )
    [action] = actions(session_factory)
    operation = plan_of(action).operations[0]
    assert action.tool_name == "create_table"
    assert [f["name"] for f in operation.fields] == ["Title", "Score", "Open"]


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (
            ImportRequest(BASE_PROJECTS_ID, TABLE_PROJECTS_ID, [ColumnMapping("Name", "skip")]),
            "Every column is skipped: map at least one column to a field.",
        ),
        (
            ImportRequest(
                BASE_PROJECTS_ID,
                TABLE_PROJECTS_ID,
                [ColumnMapping("Name", "field", "Name"), ColumnMapping("Status", "field", "name")],
            ),
            'Columns "Name" and "Status" both go to "Name"; map each field once.',
        ),
        (
            ImportRequest(
                BASE_PROJECTS_ID, TABLE_PROJECTS_ID, [ColumnMapping("Name", "field", "Nope")]
            ),
            'Column "Name": table "Projects" has no field "Nope"',
        ),
        (
            ImportRequest(
                BASE_PROJECTS_ID,
                TABLE_PROJECTS_ID,
                [ColumnMapping("Name", "field", "Name")],
                merge_on=["Name", "Status", "Due", "Budget"],
            ),
            "Match existing records on at most 3 fields.",
        ),
        (
            ImportRequest(
                BASE_PROJECTS_ID,
                TABLE_PROJECTS_ID,
                [ColumnMapping("Tasks", "field", "Tasks")],
                merge_on=["Tasks"],
            ),
            'Records cannot be matched on "Tasks" (multipleRecordLinks)',
        ),
        (
            ImportRequest(
                "appSomeoneElses01", TABLE_PROJECTS_ID, [ColumnMapping("Name", "field", "Name")]
            ),
            "Choose one of your bases: this one is not shared with your connection.",
        ),
    ],
)
def test_mappings_that_cannot_run_are_refused(
    user_id, client_for, session_factory, emulator, req, message
):
    name = upload(user_id, "p.csv", projects_csv(2))
    with pytest.raises(UserFacingError) as caught:
        imports.check_import(
            user_id, req, upload=name, filename="p.csv", sheet=None, client_for=client_for
        )
    assert message in caught.value.message
    assert writes(emulator) == []


@pytest.mark.parametrize(
    ("filename", "data", "options", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES]
)
def test_bad_files_propose_nothing_and_write_nothing(
    user_id, client_for, session_factory, emulator, monkeypatch, filename, data, options, message
):
    from pyairtable_ui.core.settings import get_settings

    if "max_rows" in options:
        monkeypatch.setenv("IMPORT_MAX_ROWS", str(options["max_rows"]))
    if "max_bytes" in options:
        monkeypatch.setenv("IMPORT_MAX_BYTES", str(options["max_bytes"]))
    get_settings.cache_clear()
    with pytest.raises(ImportFileError) as caught:
        name = upload(user_id, filename, data)
        imports.propose_import(
            user_id,
            request(),
            upload=name,
            filename=filename,
            sheet=options.get("sheet"),
            sessions=session_factory,
            client_for=client_for,
        )
    if filename == "big.csv":  # refused while it is stored, before it is read
        message = "big.csv is larger than 1 KB, the most one import takes (IMPORT_MAX_BYTES)."
    assert message in caught.value.message
    assert actions(session_factory) == []
    assert writes(emulator) == []


def test_uploads_of_another_user_or_folder_are_not_opened(user_id, other_user_id):
    name = upload(user_id, "p.csv", projects_csv(1))
    with pytest.raises(ImportFileError, match="Upload the file again"):
        imports.open_upload(other_user_id, name, filename="p.csv")
    with pytest.raises(ImportFileError, match="Upload the file again"):
        imports.open_upload(user_id, "../" + name, filename="p.csv")
    assert Path(imports.upload_path(user_id, name)).is_file()
