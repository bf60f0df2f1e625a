"""`/automations`: import a CSV or XLSX file into a table, export a table to a file.

The upload is stored in the data folder and read on the server at each step; the
state holds its stored name, the mapping and the few rows on screen. Proposing the
import stores one action; its review, approval, progress and undo are the review
dialog's (`state.actions.ActionsState`), as for any other write.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar

import reflex as rx

from pyairtable_ui import routes
from pyairtable_ui.automations import exports, imports
from pyairtable_ui.automations.guess import IMPORT_TYPES
from pyairtable_ui.automations.imports import ColumnMapping, ImportRequest
from pyairtable_ui.components.action_review import review_dialog
from pyairtable_ui.components.forms import form_error
from pyairtable_ui.components.shell import page_column, private_page
from pyairtable_ui.core.errors import UserFacingError
from pyairtable_ui.routes import login_redirect
from pyairtable_ui.state.actions import ActionsState
from pyairtable_ui.state.auth import AuthState, signed_in_user_id
from pyairtable_ui.tools.arguments import OPERATORS, Filter

_T = TypeVar("_T")

NEW_TABLE = "__new__"
_CHUNK = 1024 * 1024
MAX_FILTERS = 3


class BaseItem(TypedDict):
    id: str
    name: str


class TableItem(TypedDict):
    id: str
    name: str
    fields: list[str]
    all_fields: list[str]
    views: list[str]


class ColumnItem(TypedDict):
    """One column of the file on the mapping screen."""

    column: str
    # "skip", "new" or "field:<name>"
    choice: str
    field: str
    type: str
    linked_table: str
    why: str
    sample: str
    merge: bool


class ChoiceItem(TypedDict):
    value: str
    label: str


class FilterItem(TypedDict):
    field: str
    op: str
    value: str


class ProposedItem(TypedDict):
    id: int
    summary: str


def _choice_to_mapping(item: ColumnItem) -> ColumnMapping:
    choice = item["choice"]
    if choice.startswith("field:"):
        name = choice.removeprefix("field:")
        return ColumnMapping(item["column"], imports.EXISTING, name)
    if choice == imports.NEW:
        return ColumnMapping(
            item["column"], imports.NEW, item["field"], item["type"], item["linked_table"]
        )
    return ColumnMapping(item["column"], imports.SKIP)


class AutomationsState(rx.State):
    """The chosen base, the import being set up, and the export form."""

    bases: list[BaseItem] = []
    base_id: str = ""
    tables: list[TableItem] = []
    error: str = ""
    notice: str = ""
    working: bool = False

    # import
    upload: str = ""
    filename: str = ""
    sheet: str = ""
    sheet_names: list[str] = []
    target: str = NEW_TABLE
    new_table_name: str = ""
    columns: list[ColumnItem] = []
    notes: list[str] = []
    skip_problem_rows: bool = False
    preview_fields: list[str] = []
    preview: list[list[str]] = []
    problems: list[str] = []
    counts: str = ""
    proposed: list[ProposedItem] = []

    # export
    export_table: str = ""
    export_view: str = ""
    export_format: str = "csv"
    export_match: str = "all"
    filters: list[FilterItem] = []
    export_progress: str = ""

    @rx.var
    def target_fields(self) -> list[str]:
        """The writable fields of the table imported into."""
        return next((t["fields"] for t in self.tables if t["id"] == self.target), [])

    @rx.var
    def export_fields(self) -> list[str]:
        """The fields of the table exported."""
        return next((t["all_fields"] for t in self.tables if t["id"] == self.export_table), [])

    @rx.var
    def export_views(self) -> list[str]:
        """ "all" (the whole table) and the views of the table exported."""
        views = next((t["views"] for t in self.tables if t["id"] == self.export_table), [])
        return ["all", *views]

    @rx.var
    def column_choices(self) -> list[ChoiceItem]:
        """What a column may go to: skip, a new field, or each writable field."""
        return [
            ChoiceItem(value="skip", label="Skip"),
            ChoiceItem(value="new", label="New field"),
            *(ChoiceItem(value=f"field:{name}", label=name) for name in self.target_fields),
        ]

    @rx.event
    async def on_load(self):
        """Show the user's bases (the default one chosen)."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return rx.redirect(login_redirect(routes.AUTOMATIONS), replace=True)
        actions = await self.get_state(ActionsState)
        actions.open = False
        self.error = ""
        try:
            bases, default = await asyncio.to_thread(imports.your_bases, user_id)
        except UserFacingError as exc:
            self.error = exc.message
            return
        self.bases = [BaseItem(id=i, name=n) for i, n in bases]
        ids = {b["id"] for b in self.bases}
        if self.base_id not in ids:
            self.base_id = default if default in ids else (self.bases[0]["id"] if bases else "")
        return AutomationsState.load_tables

    @rx.event
    async def load_tables(self):
        """Read the chosen base's tables."""
        user_id = await signed_in_user_id(self)
        if user_id is None or not self.base_id:
            return
        try:
            tables = await asyncio.to_thread(imports.table_choices, user_id, self.base_id)
        except UserFacingError as exc:
            self.error = exc.message
            return
        self.tables = [TableItem(**t) for t in tables]  # type: ignore[typeddict-item]
        ids = {t["id"] for t in self.tables}
        if self.target not in ids:
            self.target = NEW_TABLE
        if self.export_table not in ids:
            self.export_table = self.tables[0]["id"] if self.tables else ""

    @rx.event
    def choose_base(self, base_id: str):
        """Switch base: the import starts over on its tables."""
        if base_id in {b["id"] for b in self.bases}:
            self.base_id = base_id
            self.columns, self.preview, self.problems, self.counts = [], [], [], ""
            return AutomationsState.load_tables

    # --- import -------------------------------------------------------------------------

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        """Store the uploaded file in the data folder and read it for the mapping."""
        user_id = await signed_in_user_id(self)
        if user_id is None:
            return
        self.error = self.notice = ""
        if not files:
            self.error = "Choose a CSV or XLSX file first."
            return
        file = files[0]
        filename = (file.name or "upload").rsplit("/", 1)[-1][:200]
        previous = self.upload
        # Copied to the data folder in pieces: the file is never held whole in memory.
        chunks = iter(lambda: file.file.read(_CHUNK), b"")
        try:
            upload = await asyncio.to_thread(imports.save_upload, user_id, filename, chunks)
        except UserFacingError as exc:
            self.error = exc.message
            return
        if previous:
            await asyncio.to_thread(imports.discard_upload, user_id, previous)
        self.upload, self.filename, self.sheet = upload, filename, ""
        self.proposed = []
        return AutomationsState.inspect

    @rx.event
    async def inspect(self):
        """Read the stored upload, guess each column's type, map to the target table."""
        user_id = await signed_in_user_id(self)
        if user_id is None or not self.upload:
            return
        self.preview, self.problems, self.counts = [], [], ""
        table = "" if self.target == NEW_TABLE else self.target
        base_id, upload, filename, sheet = self.base_id, self.upload, self.filename, self.sheet
        try:
            setup = await asyncio.to_thread(
                lambda: imports.inspect_upload(
                    user_id,
                    base_id=base_id,
                    upload=upload,
                    filename=filename,
                    sheet=sheet or None,
                    table=table,
                )
            )
        except UserFacingError as exc:
            self.error = exc.message
            self.columns = []
            return
        self.error = ""
        parsed = setup.sheet
        self.notes = [f"{len(parsed.rows):,} rows, {len(parsed.headers)} columns.", *parsed.notes]
        self.sheet_names, self.sheet = parsed.sheet_names, parsed.sheet
        if not self.new_table_name:
            self.new_table_name = self.filename.rsplit(".", 1)[0][:100]
        items = []
        for i, (m, guess) in enumerate(zip(setup.mapping, setup.guesses, strict=True)):
            sample = next((r[i] for r in parsed.rows if r[i].strip()), "")
            choice = f"field:{m.field}" if m.target == imports.EXISTING else m.target
            items.append(
                ColumnItem(
                    column=m.column,
                    choice=choice,
                    field=m.field,
                    type=m.type,
                    linked_table=m.linked_table,
                    why=guess.type + (f" ({guess.why})" if guess.why else ""),
                    sample=sample[:60],
                    merge=False,
                )
            )
        self.columns = items

    @rx.event
    def set_target(self, value: str):
        """Import into another table (or a new one): the mapping is guessed again."""
        if value == NEW_TABLE or value in {t["id"] for t in self.tables}:
            self.target = value
            return AutomationsState.inspect

    @rx.event
    def set_sheet(self, value: str):
        """Read another sheet of the workbook."""
        if value in self.sheet_names:
            self.sheet = value
            return AutomationsState.inspect

    @rx.event
    def set_new_table_name(self, value: str):
        """Name the new table."""
        self.new_table_name = value.strip()[:100]

    def _set_column(self, index: int, **changes: Any) -> None:
        self.columns = [
            ColumnItem(**{**c, **changes}) if i == index else c  # type: ignore[typeddict-item]
            for i, c in enumerate(self.columns)
        ]
        self.preview, self.problems, self.counts = [], [], ""

    @rx.event
    def set_column_choice(self, index: int, value: str):
        """Send a column to a field, a new field, or nowhere."""
        if value in {c["value"] for c in self.column_choices}:
            self._set_column(index, choice=value)

    @rx.event
    def set_column_type(self, index: int, value: str):
        """Change a new field's type."""
        if value in IMPORT_TYPES:
            self._set_column(index, type=value)

    @rx.event
    def set_column_name(self, index: int, value: str):
        """Name a new field."""
        self._set_column(index, field=value.strip()[:200])

    @rx.event
    def set_column_link(self, index: int, value: str):
        """Choose the table a new link field links to."""
        if value in {t["id"] for t in self.tables}:
            self._set_column(index, linked_table=value)

    @rx.event
    def toggle_merge(self, index: int):
        """Match existing records on this column's field (up to three)."""
        ticked = sum(1 for c in self.columns if c["merge"])
        current = self.columns[index]["merge"] if 0 <= index < len(self.columns) else False
        if not current and ticked >= imports.MAX_MERGE_FIELDS:
            self.error = f"Match on at most {imports.MAX_MERGE_FIELDS} fields."
            return
        self._set_column(index, merge=not current)

    @rx.event
    def set_skip_problem_rows(self, value: bool):
        """Leave rows with problems out instead of refusing the import."""
        self.skip_problem_rows = bool(value)

    def _request(self) -> ImportRequest:
        mapping = [_choice_to_mapping(c) for c in self.columns]
        merge = [
            m.field for m, c in zip(mapping, self.columns, strict=True) if c["merge"] and m.field
        ]
        return ImportRequest(
            base_id=self.base_id,
            table="" if self.target == NEW_TABLE else self.target,
            new_table_name=self.new_table_name,
            mapping=mapping,
            merge_on=merge,
            skip_problem_rows=self.skip_problem_rows,
        )

    async def _on_upload(self, flow: Callable[..., _T]) -> tuple[ImportRequest, _T] | None:
        """Run an import flow (check or propose) on the upload as the form maps it.

        Returns:
            The request and the flow's result; None when nobody is signed in, a flow
            already runs, there is no upload, or the flow refused (its message shown).
        """
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or not self.upload:
                return None
            request, upload, filename, sheet = (
                self._request(),
                self.upload,
                self.filename,
                self.sheet,
            )
            self.working, self.error, self.notice = True, "", ""
        try:
            result = await asyncio.to_thread(
                lambda: flow(
                    user_id, request, upload=upload, filename=filename, sheet=sheet or None
                )
            )
        except UserFacingError as exc:
            async with self:
                self.working, self.error = False, exc.message
            return None
        return request, result

    @rx.event(background=True)
    async def check(self):
        """Convert every row as mapped: the first ones as they will be written, the problems."""
        ran = await self._on_upload(imports.check_import)
        if ran is None:
            return
        _, result = ran
        async with self:
            self.working = False
            draft = result.draft
            self.preview_fields = ["row", *draft.fields]
            self.preview = [[r.get(f, "") for f in self.preview_fields] for r in result.preview]
            self.problems = [
                f"Row {p.row}" + (f", {p.column}" if p.column else "") + f": {p.message}"
                for p in result.problems
            ]
            counts = f"{len(draft.operations):,} rows ready to write"
            if draft.problem_rows:
                counts += f"; {draft.problem_rows:,} rows with problems"
            if result.new_fields:
                counts += f"; new fields to create first: {', '.join(result.new_fields)}"
            self.counts = counts + "."

    @rx.event(background=True)
    async def propose(self):
        """Propose the import (or first the new table or fields) and open its review."""
        ran = await self._on_upload(imports.propose_import)
        if ran is None:
            return
        request, proposal = ran
        async with self:
            self.working = False
            self.notice = proposal.message
            self.proposed = [
                ProposedItem(id=i, summary=f"Action #{i}") for i in proposal.action_ids
            ]
            if proposal.schema_first:
                self.target = request.table or self.target
        return ActionsState.review(proposal.action_ids[0])

    @rx.event
    def after_schema(self):
        """Once the new table or fields exist, read the tables and map again."""
        self.proposed = []
        return [AutomationsState.load_tables, AutomationsState.inspect]

    # --- export -------------------------------------------------------------------------

    @rx.event
    def set_export_table(self, value: str):
        """Export another table."""
        if value in {t["id"] for t in self.tables}:
            self.export_table, self.export_view, self.filters = value, "", []

    @rx.event
    def set_export_view(self, value: str):
        """Export one view ("all" for the whole table)."""
        self.export_view = "" if value == "all" else value

    @rx.event
    def set_export_format(self, value: str):
        """CSV or XLSX."""
        if value in exports.FORMATS:
            self.export_format = value

    @rx.event
    def set_export_match(self, value: str):
        """All or any of the conditions."""
        if value in ("all", "any"):
            self.export_match = value

    @rx.event
    def add_filter(self):
        """Add a condition."""
        if len(self.filters) < MAX_FILTERS and self.export_fields:
            self.filters = [
                *self.filters,
                FilterItem(field=self.export_fields[0], op="eq", value=""),
            ]

    @rx.event
    def remove_filter(self, index: int):
        """Drop a condition."""
        self.filters = [f for i, f in enumerate(self.filters) if i != index]

    @rx.event
    def set_filter(self, index: int, key: str, value: str):
        """Change a condition's field, operator or value."""
        if key not in ("field", "op", "value"):
            return
        if key == "op" and value not in OPERATORS:
            return
        self.filters = [
            FilterItem(**{**f, key: value[:500]}) if i == index else f  # type: ignore[typeddict-item]
            for i, f in enumerate(self.filters)
        ]

    @rx.event(background=True)
    async def export(self):
        """Write the export on the server, then let the browser download it."""
        async with self:
            user_id = await signed_in_user_id(self)
            if user_id is None or self.working or not self.export_table:
                return
            try:
                conditions = tuple(
                    Filter(field=f["field"], op=f["op"], value=f["value"] or None)  # type: ignore[arg-type]
                    for f in self.filters
                )
            except ValueError:
                self.error = "A condition cannot be read; check its field and value."
                return
            request = exports.ExportRequest(
                base_id=self.base_id,
                table=self.export_table,
                view=self.export_view,
                filters=conditions,
                match="any" if self.export_match == "any" else "all",
                format="xlsx" if self.export_format == "xlsx" else "csv",
            )
            self.working, self.error, self.notice = True, "", ""
            self.export_progress = "Reading records…"
        progress = {"records": 0}
        task = asyncio.ensure_future(
            asyncio.to_thread(
                lambda: exports.export_table(
                    user_id, request, on_progress=lambda n: progress.update(records=n)
                )
            )
        )
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if progress["records"]:
                async with self:
                    self.export_progress = f"{progress['records']:,} records written…"
        try:
            exported = task.result()
        except UserFacingError as exc:
            async with self:
                self.working, self.error, self.export_progress = False, exc.message, ""
            return
        async with self:
            self.working = False
            self.export_progress = (
                f"Exported {exported.records:,} records to {exported.download_name}."
            )
        return rx.download(url=f"{routes.EXPORT_ROUTE}/{exported.name}")


# --- the page ------------------------------------------------------------------------


def _column_row(column: ColumnItem, index: rx.Var[int]) -> rx.Component:
    is_new = column["choice"] == "new"
    return rx.table.row(
        rx.table.cell(
            rx.text(column["column"], weight="medium"),
            rx.text(column["sample"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.text(column["why"], size="1")),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(aria_label="Map column " + column["column"]),
                rx.select.content(
                    rx.foreach(
                        AutomationsState.column_choices,
                        lambda c: rx.select.item(c["label"], value=c["value"]),
                    )
                ),
                value=column["choice"],
                on_change=lambda v: AutomationsState.set_column_choice(index, v),
                size="1",
            )
        ),
        rx.table.cell(
            rx.cond(
                is_new,
                rx.hstack(
                    rx.input(
                        default_value=column["field"],
                        on_blur=lambda v: AutomationsState.set_column_name(index, v),
                        aria_label="New field name for " + column["column"],
                        size="1",
                    ),
                    rx.select(
                        list(IMPORT_TYPES),
                        value=column["type"],
                        on_change=lambda v: AutomationsState.set_column_type(index, v),
                        aria_label="New field type for " + column["column"],
                        size="1",
                    ),
                    rx.cond(
                        column["type"] == "multipleRecordLinks",
                        rx.select.root(
                            rx.select.trigger(placeholder="Links to…"),
                            rx.select.content(
                                rx.foreach(
                                    AutomationsState.tables,
                                    lambda t: rx.select.item(t["name"], value=t["id"]),
                                )
                            ),
                            value=column["linked_table"],
                            on_change=lambda v: AutomationsState.set_column_link(index, v),
                            size="1",
                        ),
                    ),
                    spacing="1",
                    wrap="wrap",
                ),
            )
        ),
        rx.table.cell(
            rx.checkbox(
                checked=column["merge"],
                on_change=lambda _v: AutomationsState.toggle_merge(index),
                aria_label="Match records on " + column["column"],
            )
        ),
    )


def _import_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Import a file", size="4"),
            rx.text(
                "CSV or XLSX. Each column goes to a field you choose; the rows are written "
                "only after you review and approve them, and the whole import can be undone.",
                size="2",
                color_scheme="gray",
            ),
            rx.upload(
                rx.vstack(
                    rx.text("Drop a CSV or XLSX file here, or click to choose one.", size="2"),
                    rx.text(rx.selected_files("import_file"), size="1", color_scheme="gray"),
                    align="center",
                ),
                id="import_file",
                max_files=1,
                multiple=False,
                border=f"1px dashed {rx.color('gray', 7)}",
                padding="16px",
                width="100%",
            ),
            rx.hstack(
                rx.button(
                    "Upload and read",
                    on_click=AutomationsState.handle_upload(
                        rx.upload_files(upload_id="import_file")
                    ),
                    loading=AutomationsState.working,
                ),
                rx.text(AutomationsState.filename, size="2"),
                align="center",
            ),
            rx.cond(
                AutomationsState.columns.length() > 0,
                rx.vstack(
                    rx.foreach(AutomationsState.notes, lambda n: rx.text(n, size="2")),
                    rx.hstack(
                        rx.cond(
                            AutomationsState.sheet_names.length() > 1,
                            rx.select(
                                AutomationsState.sheet_names,
                                value=AutomationsState.sheet,
                                on_change=AutomationsState.set_sheet,
                                aria_label="Sheet",
                            ),
                        ),
                        rx.text("Into", size="2"),
                        rx.select.root(
                            rx.select.trigger(aria_label="Import into table"),
                            rx.select.content(
                                rx.select.item("A new table", value=NEW_TABLE),
                                rx.foreach(
                                    AutomationsState.tables,
                                    lambda t: rx.select.item(t["name"], value=t["id"]),
                                ),
                            ),
                            value=AutomationsState.target,
                            on_change=AutomationsState.set_target,
                        ),
                        rx.cond(
                            AutomationsState.target == NEW_TABLE,
                            rx.input(
                                default_value=AutomationsState.new_table_name,
                                on_blur=AutomationsState.set_new_table_name,
                                aria_label="New table name",
                            ),
                        ),
                        align="center",
                        wrap="wrap",
                    ),
                    rx.box(
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    rx.table.column_header_cell("Column"),
                                    rx.table.column_header_cell("Looks like"),
                                    rx.table.column_header_cell("Goes to"),
                                    rx.table.column_header_cell("New field"),
                                    rx.table.column_header_cell("Match on"),
                                )
                            ),
                            rx.table.body(rx.foreach(AutomationsState.columns, _column_row)),
                            size="1",
                            width="100%",
                        ),
                        overflow_x="auto",
                        width="100%",
                    ),
                    rx.checkbox(
                        "Skip rows with problems (instead of fixing the mapping)",
                        checked=AutomationsState.skip_problem_rows,
                        on_change=AutomationsState.set_skip_problem_rows,
                    ),
                    rx.hstack(
                        rx.button(
                            "Check rows",
                            variant="soft",
                            on_click=AutomationsState.check,
                            loading=AutomationsState.working,
                        ),
                        rx.button(
                            "Propose import",
                            on_click=AutomationsState.propose,
                            loading=AutomationsState.working,
                        ),
                        rx.cond(
                            AutomationsState.proposed.length() > 0,
                            rx.button(
                                "New fields done: map again",
                                variant="outline",
                                on_click=AutomationsState.after_schema,
                            ),
                        ),
                    ),
                    rx.cond(
                        AutomationsState.counts != "",
                        rx.text(AutomationsState.counts, size="2", id="import-counts"),
                    ),
                    rx.cond(
                        AutomationsState.preview.length() > 0,
                        rx.box(
                            rx.table.root(
                                rx.table.header(
                                    rx.table.row(
                                        rx.foreach(
                                            AutomationsState.preview_fields,
                                            rx.table.column_header_cell,
                                        )
                                    )
                                ),
                                rx.table.body(
                                    rx.foreach(
                                        AutomationsState.preview,
                                        lambda row: rx.table.row(
                                            rx.foreach(row, rx.table.cell),
                                            class_name="import-preview-row",
                                        ),
                                    )
                                ),
                                size="1",
                            ),
                            overflow_x="auto",
                            width="100%",
                        ),
                    ),
                    rx.cond(
                        AutomationsState.problems.length() > 0,
                        rx.vstack(
                            rx.text("Problems", weight="bold", size="2"),
                            rx.foreach(
                                AutomationsState.problems,
                                lambda p: rx.text(p, size="1", class_name="import-problem"),
                            ),
                            spacing="1",
                        ),
                    ),
                    width="100%",
                ),
            ),
            width="100%",
        ),
        width="100%",
    )


def _filter_row(item: FilterItem, index: rx.Var[int]) -> rx.Component:
    return rx.hstack(
        rx.select(
            AutomationsState.export_fields,
            value=item["field"],
            on_change=lambda v: AutomationsState.set_filter(index, "field", v),
            aria_label="Condition field",
            size="1",
        ),
        rx.select(
            list(OPERATORS),
            value=item["op"],
            on_change=lambda v: AutomationsState.set_filter(index, "op", v),
            aria_label="Condition operator",
            size="1",
        ),
        rx.input(
            default_value=item["value"],
            on_blur=lambda v: AutomationsState.set_filter(index, "value", v),
            aria_label="Condition value",
            size="1",
        ),
        rx.button(
            "Remove", size="1", variant="ghost", on_click=AutomationsState.remove_filter(index)
        ),
        align="center",
    )


def _export_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Export a table", size="4"),
            rx.hstack(
                rx.select.root(
                    rx.select.trigger(aria_label="Export table"),
                    rx.select.content(
                        rx.foreach(
                            AutomationsState.tables,
                            lambda t: rx.select.item(t["name"], value=t["id"]),
                        )
                    ),
                    value=AutomationsState.export_table,
                    on_change=AutomationsState.set_export_table,
                ),
                rx.select(
                    AutomationsState.export_views,
                    value=rx.cond(
                        AutomationsState.export_view == "", "all", AutomationsState.export_view
                    ),
                    on_change=AutomationsState.set_export_view,
                    aria_label="Export view",
                ),
                rx.select(
                    list(exports.FORMATS),
                    value=AutomationsState.export_format,
                    on_change=AutomationsState.set_export_format,
                    aria_label="Export format",
                ),
                wrap="wrap",
            ),
            rx.foreach(AutomationsState.filters, _filter_row),
            rx.hstack(
                rx.button(
                    "Add a condition",
                    size="1",
                    variant="soft",
                    on_click=AutomationsState.add_filter,
                ),
                rx.select(
                    ["all", "any"],
                    value=AutomationsState.export_match,
                    on_change=AutomationsState.set_export_match,
                    aria_label="Match",
                    size="1",
                ),
            ),
            rx.button("Export", on_click=AutomationsState.export, loading=AutomationsState.working),
            rx.text(AutomationsState.export_progress, size="2", id="export-progress"),
            width="100%",
        ),
        width="100%",
    )


def automations_page() -> rx.Component:
    """Import and export, on the chosen base."""
    return private_page(
        page_column(
            rx.heading("Automations", size="6"),
            rx.hstack(
                rx.text("Base", size="2"),
                rx.select.root(
                    rx.select.trigger(aria_label="Base"),
                    rx.select.content(
                        rx.foreach(
                            AutomationsState.bases,
                            lambda b: rx.select.item(b["name"], value=b["id"]),
                        )
                    ),
                    value=AutomationsState.base_id,
                    on_change=AutomationsState.choose_base,
                ),
                align="center",
            ),
            form_error(AutomationsState.error),
            rx.cond(
                AutomationsState.notice != "",
                rx.callout(AutomationsState.notice, icon="info", role="status"),
            ),
            _import_section(),
            _export_section(),
            review_dialog(),
            max_width="1100px",
        )
    )


def register_automations(app: rx.App) -> None:
    """Add the automations page to the app."""
    app.add_page(
        automations_page,
        route=routes.AUTOMATIONS,
        title="Automations · PyAirtable UI",
        on_load=[AuthState.guard_private_page, AutomationsState.on_load],
    )
