"""Previews: what an action would change, read fresh from Airtable before the user confirms.

`build_preview` re-reads the records the plan touches (100 ids per request) and
the base schema, and stores an `ActionPreview` as `Action.preview` (status
PREVIEWED). Every shape here is a small JSON-ready TypedDict the UI renders as
it is:

- one `PreviewRow` per plan operation, with a stable `row_id` (the record id for
  updates, deletes and comments, ``row-N`` for new rows) that the user ticks;
  rows are a list because PostgreSQL's JSONB does not keep the order of keys;
- updates: `cells` old -> new per written field, unchanged cells flagged;
- deletes: every current cell in full, and a copy of the attachments' URLs and
  file names (Airtable's URLs expire after a few hours, so re-attaching them on
  undo is best-effort);
- creates: the new values; upserts: classified as create or update by the merge
  fields (updates with their old values);
- warnings caught before any write: fields that no longer exist or are computed,
  values of the wrong type, select options typecast would add (or that would be
  refused), records that no longer exist. A row with an error is `blocked`: it
  cannot be approved.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Literal, NotRequired, TypedDict

from pyairtable_ui.actions.base import ActionStateError
from pyairtable_ui.actions.models import Action, ActionStatus
from pyairtable_ui.actions.plan import (
    CommentOperation,
    CreateFieldOperation,
    CreateTableOperation,
    Operation,
    RecordOperation,
    RecordsPlan,
    RenameTableOperation,
    SchemaOperation,
    SchemaPlan,
    plan_of,
)
from pyairtable_ui.actions.records import (
    primary_label,
    read_records_by_id,
    same_value,
)
from pyairtable_ui.actions.service import get_action
from pyairtable_ui.airtable import field_types
from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.formulas import F, chunked
from pyairtable_ui.airtable.schema import BaseSchema, TableSchema
from pyairtable_ui.core.db import SessionFactory, utcnow
from pyairtable_ui.core.settings import get_settings

logger = logging.getLogger(__name__)

PREVIEW_VERSION = 1

WarningLevel = Literal["error", "warning", "info"]


class PreviewCell(TypedDict):
    """One cell of a row: the value now and the value the action writes."""

    field: str
    old: Any
    new: Any
    changed: bool


class PreviewWarning(TypedDict):
    """Something the user should know before confirming; errors block their row."""

    level: WarningLevel
    row_id: str | None
    field: str | None
    message: str


class AttachmentCopy(TypedDict):
    """An attachment of a record to be deleted, as Airtable listed it at preview time."""

    field: str
    filename: str
    url: str
    type: str | None
    size: int | None


class PreviewRow(TypedDict):
    """One operation of the plan, as the user sees and ticks it.

    `kind` is create, update, delete, upsert_create, upsert_update, add_comment,
    create_table, create_field, rename_table or rename_field.
    """

    row_id: str
    kind: str
    record_id: str | None
    label: str
    cells: list[PreviewCell]
    unchanged: bool
    blocked: bool
    warnings: list[str]
    attachments: list[AttachmentCopy]


class PreviewCounts(TypedDict):
    """How many rows of each kind (blocked rows included in their kind)."""

    rows: int
    create: int
    update: int
    delete: int
    unchanged: int
    blocked: int


class ActionPreview(TypedDict):
    """The whole preview, stored as `Action.preview`.

    `typed_always`: the count must be typed whatever it is (deletes); otherwise
    it must be typed when more than `threshold` rows are ticked.
    """

    version: int
    action_id: int
    kind: str
    op: str
    table_id: str | None
    table_name: str | None
    built_at: str
    rows: list[PreviewRow]
    counts: PreviewCounts
    new_select_options: dict[str, list[str]]
    warnings: list[PreviewWarning]
    typed_always: bool
    threshold: int
    notes: list[str]
    # Field name -> Airtable type, so the review draws selects as chips and dates in
    # the reader's locale (absent from previews stored before it was added).
    field_types: NotRequired[dict[str, str]]


def row_id_for(operation: Operation, index: int) -> str:
    """The row id of a plan operation: its record id, else ``row-<n>`` (1-based)."""
    record_id = (
        operation.record_id if isinstance(operation, RecordOperation | CommentOperation) else None
    )
    return record_id or f"row-{index + 1}"


def build_preview(
    *,
    session_factory: SessionFactory,
    user_id: int,
    action_id: int,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None = None,
    threshold: int | None = None,
) -> ActionPreview:
    """Read the affected records fresh and store what the action would change.

    Blocking (Airtable reads at 5 requests/s): run it in a worker thread. Building
    it again refreshes it.

    Args:
        session_factory: Opens sessions that commit on success.
        user_id: The user (another user's action is not found).
        action_id: The action, PROPOSED or PREVIEWED.
        client: The Airtable client.
        schema_cache: Schema cache (refreshed: the preview uses the schema as it is).
        threshold: CONFIRM_THRESHOLD (from the settings by default).

    Returns:
        The preview, also stored as `Action.preview`; the action is PREVIEWED.

    Raises:
        ActionNotFoundError: No such action for this user.
        ActionStateError: It is no longer waiting for confirmation.
        AirtableError: Airtable refused or did not answer the reads.
        ToolCancelled: Stop was pressed.
    """
    waiting = (ActionStatus.PROPOSED, ActionStatus.PREVIEWED)
    with session_factory() as session:
        action = get_action(session=session, user_id=user_id, action_id=action_id)
        if action.status not in waiting:
            raise ActionStateError(
                f"Action #{action_id} is {action.status}; only actions waiting for "
                "confirmation have a preview."
            )
        session.expunge(action)
    schema = schema_module.get_base_schema(client, action.base_id, force=True, cache=schema_cache)
    limit = threshold if threshold is not None else get_settings().confirm_threshold
    preview = _PreviewBuilder(action, schema, client, limit).build()
    with session_factory() as session:
        stored = get_action(session=session, user_id=user_id, action_id=action_id)
        if stored.status not in waiting:
            raise ActionStateError(
                f"Action #{action_id} was {stored.status} while its preview was read."
            )
        stored.preview = dict(preview)
        stored.status = ActionStatus.PREVIEWED.value
        stored.updated_at = utcnow()
        session.add(stored)
    logger.info(
        "action previewed id=%s rows=%d blocked=%d",
        action_id,
        preview["counts"]["rows"],
        preview["counts"]["blocked"],
    )
    return preview


class _PreviewBuilder:
    def __init__(
        self, action: Action, schema: BaseSchema, client: AirtableClient, threshold: int
    ) -> None:
        self.action = action
        self.plan = plan_of(action)
        self.schema = schema
        self.client = client
        self.threshold = threshold
        self.table: TableSchema | None = (
            schema.table_by_id(action.table_id) if action.table_id else None
        )
        self.typecast = isinstance(self.plan, RecordsPlan) and self.plan.typecast
        self.warnings: list[PreviewWarning] = []
        self.new_options: dict[str, list[str]] = {}
        self.notes: list[str] = []

    def build(self) -> ActionPreview:
        plan = self.plan
        kind, op = plan.kind, plan.op
        rows: list[PreviewRow]
        if isinstance(plan, RecordsPlan) and self.table is None:
            self._warn("error", None, None, "The table no longer exists in this base.")
            rows = [
                self._row(row_id_for(o, i), op, o.record_id, row_id_for(o, i), [])
                for i, o in enumerate(plan.operations)
            ]
            for row in rows:
                self._block(row, "The table no longer exists.")
        elif isinstance(plan, RecordsPlan):
            rows = self._record_rows(plan)
        elif isinstance(plan, SchemaPlan):
            rows = [self._schema_row(o, i) for i, o in enumerate(plan.operations)]
        else:
            rows = [self._comment_row(o, i) for i, o in enumerate(plan.operations)]
        counts = PreviewCounts(
            rows=len(rows),
            create=sum(1 for r in rows if r["kind"] in ("create", "upsert_create")),
            update=sum(1 for r in rows if r["kind"] in ("update", "upsert_update")),
            delete=sum(1 for r in rows if r["kind"] == "delete"),
            unchanged=sum(1 for r in rows if r["unchanged"]),
            blocked=sum(1 for r in rows if r["blocked"]),
        )
        assert self.action.id is not None
        return ActionPreview(
            version=PREVIEW_VERSION,
            action_id=self.action.id,
            kind=kind,
            op=op,
            table_id=self.action.table_id,
            table_name=self.table.name if self.table else self.action.table_name,
            built_at=utcnow().isoformat(),
            rows=rows,
            counts=counts,
            new_select_options=self.new_options,
            warnings=self.warnings,
            typed_always=op == "delete",
            threshold=self.threshold,
            notes=self.notes,
            field_types={f.name: f.type for f in self.table.fields} if self.table else {},
        )

    # -- helpers

    def _warn(
        self, level: WarningLevel, row_id: str | None, field: str | None, message: str
    ) -> None:
        self.warnings.append(
            PreviewWarning(level=level, row_id=row_id, field=field, message=message)
        )

    def _row(
        self,
        row_id: str,
        kind: str,
        record_id: Any,
        label: str,
        cells: list[PreviewCell],
    ) -> PreviewRow:
        return PreviewRow(
            row_id=row_id,
            kind=kind,
            record_id=str(record_id) if record_id else None,
            label=label,
            cells=cells,
            unchanged=False,
            blocked=False,
            warnings=[],
            attachments=[],
        )

    def _block(self, row: PreviewRow, message: str, field: str | None = None) -> None:
        row["blocked"] = True
        row["warnings"].append(message)
        self._warn("error", row["row_id"], field, message)

    def _note_row(self, row: PreviewRow, message: str, field: str | None = None) -> None:
        row["warnings"].append(message)
        self._warn("warning", row["row_id"], field, message)

    # -- records

    def _record_rows(self, plan: RecordsPlan) -> list[PreviewRow]:
        assert self.table is not None
        op, operations = plan.op, plan.operations
        current: dict[str, dict[str, Any]] = {}
        if op in ("update", "delete"):
            ids = [o.existing_id for o in operations]
            current = read_records_by_id(self.client, self.action.base_id, self.table.id, ids)
        matches: dict[str, list[dict[str, Any]]] = {}
        if op == "upsert":
            matches = self._upsert_matches(plan)
        rows: list[PreviewRow] = []
        for index, operation in enumerate(operations):
            row_id = row_id_for(operation, index)
            fields = dict(operation.fields)
            if op == "delete":
                rows.append(self._delete_row(row_id, current.get(row_id)))
                continue
            if op == "update":
                record = current.get(row_id)
                row = self._diff_row(row_id, "update", row_id, fields, record)
                if record is None:
                    self._block(row, "This record no longer exists (deleted since the proposal).")
            elif op == "upsert":
                key = self._merge_key(plan, fields)
                found = matches.get(key, []) if key is not None else []
                if len(found) > 1:
                    row = self._diff_row(row_id, "upsert_update", None, fields, None)
                    self._block(
                        row,
                        f"{len(found)} records match on "
                        f"{', '.join(plan.merge_fields)}; Airtable "
                        "refuses an upsert that matches more than one.",
                    )
                elif found:
                    row = self._diff_row(row_id, "upsert_update", found[0]["id"], fields, found[0])
                else:
                    row = self._diff_row(row_id, "upsert_create", None, fields, None)
                    if key is None:
                        self._note_row(
                            row,
                            "Whether this row creates or updates a record is decided by "
                            "Airtable (its merge values cannot be looked up here).",
                        )
            else:
                row = self._diff_row(row_id, "create", None, fields, None)
            self._check_fields(row, fields)
            rows.append(row)
        return rows

    def _diff_row(
        self,
        row_id: str,
        kind: str,
        record_id: str | None,
        fields: dict[str, Any],
        record: dict[str, Any] | None,
    ) -> PreviewRow:
        old_fields = (record or {}).get("fields") or {}
        cells = [
            PreviewCell(
                field=name,
                old=old_fields.get(name),
                new=value,
                changed=record is None or not same_value(value, old_fields.get(name)),
            )
            for name, value in fields.items()
        ]
        label = primary_label(
            self.table,
            {**old_fields, **fields} if record is None else old_fields,
            record_id or row_id,
        )
        row = self._row(row_id, kind, record_id, label, cells)
        row["unchanged"] = (
            record is not None and bool(cells) and not any(c["changed"] for c in cells)
        )
        return row

    def _delete_row(self, row_id: str, record: dict[str, Any] | None) -> PreviewRow:
        fields = (record or {}).get("fields") or {}
        cells = [PreviewCell(field=n, old=v, new=None, changed=True) for n, v in fields.items()]
        row = self._row(row_id, "delete", row_id, primary_label(self.table, fields, row_id), cells)
        if record is None:
            self._block(row, "This record no longer exists (deleted since the proposal).")
            return row
        types = {f.name: f.type for f in self.table.fields} if self.table else {}
        for name, value in fields.items():
            if types.get(name) != "multipleAttachments" or not isinstance(value, list):
                continue
            for item in value:
                if isinstance(item, dict) and item.get("url"):
                    row["attachments"].append(
                        AttachmentCopy(
                            field=name,
                            filename=str(item.get("filename") or "file"),
                            url=str(item["url"]),
                            type=item.get("type"),
                            size=item.get("size"),
                        )
                    )
        if row["attachments"] and not any("expire" in n for n in self.notes):
            self.notes.append(
                "Some records have files attached. If you undo the delete, the files are "
                "re-attached from Airtable's links, which expire after a few hours: after "
                "that they cannot be restored."
            )
        if not any("new ids" in n for n in self.notes):
            self.notes.append(
                "Deleted records can be restored with Undo, but Airtable gives restored "
                "records new ids."
            )
        return row

    def _merge_key(self, plan: RecordsPlan, fields: dict[str, Any]) -> str | None:
        keys = plan.merge_fields
        values = [fields.get(k) for k in keys]
        if not keys or not all(isinstance(v, str | int | float) and v != "" for v in values):
            return None
        return json.dumps([_plain(v) for v in values])

    def _upsert_matches(self, plan: RecordsPlan) -> dict[str, list[dict[str, Any]]]:
        assert self.table is not None
        keys = plan.merge_fields
        conditions: list[F.Formula] = []
        for operation in plan.operations:
            fields = operation.fields
            if self._merge_key(plan, fields) is not None:
                conditions.append(F.match({k: fields[k] for k in keys}))
        found: dict[str, list[dict[str, Any]]] = {}
        # 50 conditions per read keep the formula short enough for one request.
        for chunk in chunked(conditions, 50):
            formula = str(F.OR(*chunk) if len(chunk) > 1 else chunk[0])
            for page in self.client.iterate_records(
                self.action.base_id, self.table.id, formula=formula
            ):
                for record in page:
                    values = [(record.get("fields") or {}).get(k) for k in keys]
                    key = json.dumps([_plain(v) for v in values])
                    if all(r["id"] != record["id"] for r in found.get(key, [])):
                        found.setdefault(key, []).append(record)
        return found

    def _check_fields(self, row: PreviewRow, fields: dict[str, Any]) -> None:
        assert self.table is not None
        for name, value in fields.items():
            found = self.table.find_field(name)
            if found is None:
                self._block(row, f"The field “{name}” no longer exists in {self.table.name}.", name)
                continue
            if found.computed:
                self._block(
                    row,
                    f"“{name}” is computed by Airtable ({found.type}); it cannot be written.",
                    name,
                )
                continue
            problem = field_types.value_problem(found, value, typecast=self.typecast)
            if problem:
                self._block(row, problem, name)
            elif self.typecast and field_types.value_problem(found, value, typecast=False):
                self._note_row(
                    row, f"Typecast will convert {value!r} to fit “{name}” ({found.type}).", name
                )
            for option in field_types.new_options(found, value, typecast=self.typecast):
                if not self.typecast:
                    self._block(
                        row,
                        f"“{option}” is not an option of “{name}”, and typecast is off: "
                        "Airtable would refuse it.",
                        name,
                    )
                elif option not in self.new_options.setdefault(name, []):
                    self.new_options[name].append(option)
                    self._warn(
                        "info", None, name, f"Typecast will add the option “{option}” to “{name}”."
                    )

    # -- schema changes and comments

    def _schema_row(self, operation: SchemaOperation, index: int) -> PreviewRow:
        row_id = row_id_for(operation, index)
        op, name = operation.op, operation.name
        if isinstance(operation, CreateTableOperation):
            cells = [
                PreviewCell(field=str(f.get("name")), old=None, new=f.get("type"), changed=True)
                for f in operation.fields
            ]
            row = self._row(row_id, op, None, name, cells)
            if self.schema.find_table(name) is not None:
                self._block(row, f"A table “{name}” exists already.")
            self.notes.append(
                "Airtable's API cannot delete tables: this cannot be undone from the app "
                "(you could rename or delete the table in Airtable)."
            )
            return row
        table = self.table
        if table is None:
            row = self._row(row_id, op, None, name, [])
            self._block(row, "The table no longer exists in this base.")
            return row
        if isinstance(operation, CreateFieldOperation):
            cell = PreviewCell(field=name, old=None, new=operation.type, changed=True)
            row = self._row(row_id, op, None, f"{table.name}: {name}", [cell])
            if table.find_field(name) is not None:
                self._block(row, f"{table.name} already has a field “{name}”.")
            self.notes.append(
                "Airtable's API cannot delete fields: this cannot be undone from the app "
                "(you could rename or delete the field in Airtable)."
            )
            return row
        if isinstance(operation, RenameTableOperation):
            cell = PreviewCell(field="name", old=table.name, new=name, changed=table.name != name)
            row = self._row(row_id, op, None, table.name, [cell])
            other = self.schema.find_table(name)
            if other is not None and other.id != table.id:
                self._block(row, f"A table “{other.name}” exists already.")
            return row
        field = next((f for f in table.fields if f.id == operation.field_id), None)
        if field is None:
            row = self._row(row_id, op, None, operation.old_name or "", [])
            self._block(row, "The field no longer exists.")
            return row
        cell = PreviewCell(field="name", old=field.name, new=name, changed=field.name != name)
        row = self._row(row_id, op, None, f"{table.name}: {field.name}", [cell])
        other_field = table.find_field(name)
        if other_field is not None and other_field.id != field.id:
            self._block(row, f"{table.name} already has a field “{other_field.name}”.")
        return row

    def _comment_row(self, operation: CommentOperation, index: int) -> PreviewRow:
        row_id = row_id_for(operation, index)
        record_id = operation.record_id
        cell = PreviewCell(field="comment", old=None, new=operation.text, changed=True)
        if self.table is None:
            row = self._row(row_id, "add_comment", record_id, record_id, [cell])
            self._block(row, "The table no longer exists in this base.")
            return row
        found = read_records_by_id(
            self.client,
            self.action.base_id,
            self.table.id,
            [record_id],
            fields=[self.table.primary_field.name],
        ).get(record_id)
        label = primary_label(self.table, (found or {}).get("fields") or {}, record_id)
        row = self._row(row_id, "add_comment", record_id, label, [cell])
        if found is None:
            self._block(row, "This record no longer exists.")
        return row


def _plain(value: Any) -> Any:
    """Merge values compared as Airtable would: 5 and 5.0 are the same number."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def preview_rows(action: Action) -> list[PreviewRow]:
    """The rows of an action's stored preview (empty when it has none)."""
    rows = (action.preview or {}).get("rows") or []
    return [r for r in rows if isinstance(r, dict)]  # type: ignore[misc]
