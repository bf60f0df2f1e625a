"""Putting applied steps back: what rollback (COMPENSATE steps) and undo (UNDO steps) send.

Both work from the APPLY steps that are DONE, newest first, one `ReverseItem`
per record (or per renamed table/field, per comment):

- updated records: the written fields get their `before` values back;
- created records: deleted;
- deleted records: re-created from their `before` snapshot (computed fields left
  out). Airtable gives them **new ids**. Links are re-pointed in two ways:

  * links with an inverse field (every ordinary link between two tables): the
    deleted record's own snapshot holds the ids of the records linking to it, in
    the inverse field; writing that field on the re-created record re-links both
    sides, as Airtable keeps the pair in sync;
  * links without an inverse (a table linking to itself, synced tables): found
    at execution time by scanning the linking table (`linked_from` on each
    `before` record, see `execution.inbound_links`), and patched after the
    re-creation to add the new id.

  Links among the re-created records themselves are mapped old id -> new id the
  same way. Link targets that no longer exist are left out (and said so).
  Attachments are re-attached from the URLs in the snapshot while Airtable's
  links are still fresh (`ATTACHMENT_LINK_LIFETIME`); after that the files
  cannot be fetched and the user is told which ones are lost;
- renamed tables and fields: renamed back; added comments: deleted;
- created tables and fields: Airtable's API cannot delete them (said so).

A run that stops midway is continued by running again: items already covered
by DONE steps of the same kind are left out, and link re-pointing only adds ids
that are missing, so nothing is applied twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pyairtable_ui.actions.base import BATCH_SIZE
from pyairtable_ui.actions.models import Action, ActionStep, StepKind, StepStatus
from pyairtable_ui.actions.records import (
    changed_fields,
    is_empty,
    primary_label,
    read_records_by_id,
)
from pyairtable_ui.actions.steps import (
    Progress,
    ProgressCallback,
    StepRequest,
    StepWriter,
    Verdict,
    api_parts,
    check_step,
    decide,
    known_record_ids,
    load_steps,
    outcome_unknown,
    taken_record_ids,
)
from pyairtable_ui.airtable import schema as schema_module
from pyairtable_ui.airtable.client import AirtableClient
from pyairtable_ui.airtable.errors import AirtableNotFoundError
from pyairtable_ui.airtable.formulas import chunked
from pyairtable_ui.airtable.schema import BaseSchema, TableSchema
from pyairtable_ui.core.db import utcnow

logger = logging.getLogger(__name__)

# Airtable's attachment URLs stop working a few hours after they were read.
ATTACHMENT_LINK_LIFETIME = timedelta(hours=2)
MAX_IDS_IN_NOTE = 10

Effect = Literal["restore", "delete", "recreate", "rename", "delete_comment", "none"]


@dataclass
class ReverseItem:
    """One thing to put back.

    Attributes:
        key: What the user ticks and `resolutions` name: the record id the action
            touched (the old id of a deleted record), the table or field id of a
            rename, the comment id.
        effect: What putting it back means.
        label: What the user calls it (primary field value, table name...).
        table_id: The table it lives in.
        restore: Restore: field -> value to write back. Recreate: the snapshot's
            fields. Rename: ``{"name": old name}``.
        written: What the action wrote, as Airtable answered.
        snapshot: Recreate: the record as it was (with `linked_from`).
        current: The record (or table/field) as it is now; None when gone.
        conflicts: Fields changed since the action (current differs from written).
        missing: It no longer exists.
        target: Rename: kind/table_id/field_id; comment: record_id/comment_id.
        note: Why nothing can be done (created tables and fields).
        applied_at: When the action's step was applied (attachments' age).
    """

    key: str
    effect: Effect
    label: str
    table_id: str | None
    restore: dict[str, Any] = field(default_factory=dict)
    written: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    conflicts: list[str] = field(default_factory=list)
    missing: bool = False
    target: dict[str, str] = field(default_factory=dict)
    note: str = ""
    applied_at: datetime | None = None


# --- collecting ----------------------------------------------------------------------------


def _writable(table: TableSchema | None, name: str) -> bool:
    if table is None:
        return True
    found = table.find_field(name)
    return found is not None and not found.computed


def collect_items(
    action: Action, steps: list[ActionStep], table: TableSchema | None
) -> list[ReverseItem]:
    """What putting back every DONE APPLY step of `action` means, newest step first.

    Args:
        action: The action.
        steps: All its steps.
        table: Its table's schema now (computed fields are never compared or written).

    Returns:
        The items, one per record (or schema change, or comment).
    """
    applied = sorted(
        (s for s in steps if s.kind == StepKind.APPLY and s.status == StepStatus.DONE),
        key=lambda s: s.seq,
        reverse=True,
    )
    items: list[ReverseItem] = []
    for step in applied:
        parts = api_parts(step.path)
        body = step.request_body or {}
        before = {str(r.get("id")): r for r in step.before or [] if isinstance(r, dict)}
        after_list = [r for r in step.after or [] if isinstance(r, dict)]
        after = {str(r.get("id")): r for r in after_list}
        sent = [r for r in body.get("records") or [] if isinstance(r, dict)]
        when = step.finished_at
        if parts[:1] == ["meta"]:
            items.append(_schema_item(action, step, parts, body))
        elif len(parts) >= 4 and parts[3] == "comments":
            comment = after_list[0] if after_list else {}
            items.append(
                ReverseItem(
                    key=str(comment.get("id") or f"comment-{step.seq}"),
                    effect="delete_comment",
                    label=f"Comment on {parts[2]}",
                    table_id=parts[1],
                    written={"text": comment.get("text", body.get("text"))},
                    target={"record_id": parts[2], "comment_id": str(comment.get("id") or "")},
                    applied_at=when,
                )
            )
        elif step.method == "POST":
            for record in after_list:
                items.append(_created_item(record, table, when))
        elif step.method == "PATCH":
            upsert = "performUpsert" in body
            for position, record in enumerate(after_list if upsert else sent):
                record_id = str(record.get("id"))
                if upsert and record.get("_created"):
                    items.append(_created_item(record, table, when))
                    continue
                fields_sent = (sent[position] if upsert else record).get("fields") or {}
                old = before.get(record_id, {}).get("fields") or {}
                new = after.get(record_id, {}).get("fields") or {}
                names = [n for n in fields_sent if _writable(table, n)]
                items.append(
                    ReverseItem(
                        key=record_id,
                        effect="restore",
                        label=primary_label(table, {**old, **new}, record_id),
                        table_id=action.table_id,
                        restore={n: old.get(n) for n in names},
                        written={n: new.get(n) for n in names},
                        applied_at=when,
                    )
                )
        elif step.method == "DELETE":
            for record_id in step.record_ids:
                snapshot = before.get(record_id)
                if snapshot is None:
                    continue  # it was already gone when the action ran
                items.append(
                    ReverseItem(
                        key=record_id,
                        effect="recreate",
                        label=primary_label(table, snapshot.get("fields") or {}, record_id),
                        table_id=action.table_id,
                        restore=dict(snapshot.get("fields") or {}),
                        snapshot=snapshot,
                        applied_at=when,
                    )
                )
    return items


def _created_item(
    record: dict[str, Any], table: TableSchema | None, when: datetime | None
) -> ReverseItem:
    fields = {k: v for k, v in (record.get("fields") or {}).items() if _writable(table, k)}
    record_id = str(record.get("id"))
    return ReverseItem(
        key=record_id,
        effect="delete",
        label=primary_label(table, fields, record_id),
        table_id=table.id if table else None,
        written=fields,
        applied_at=when,
    )


def _schema_item(
    action: Action, step: ActionStep, parts: list[str], body: dict[str, Any]
) -> ReverseItem:
    after = (step.after or [{}])[0]
    name = str(body.get("name") or "")
    if step.method == "POST":
        kind = "table" if len(parts) == 4 else "field"
        table_id = str(after.get("id")) if kind == "table" else parts[4]
        field_id = str(after.get("id")) if kind == "field" else ""
        what = "tables" if kind == "table" else "fields"
        return ReverseItem(
            key=str(after.get("id") or name),
            effect="none",
            label=name,
            table_id=table_id,
            target={"kind": kind, "table_id": table_id, "field_id": field_id, "name": name},
            note=f"Airtable's API cannot delete {what}: remove the {kind} “{name}” in "
            "Airtable itself if it is not wanted, or rename it.",
        )
    old = str((step.before or [{}])[0].get("name") or "")
    kind = "table" if len(parts) == 5 else "field"
    return ReverseItem(
        key=parts[-1],
        effect="rename",
        label=old,
        table_id=parts[4],
        restore={"name": old},
        written={"name": name},
        target={
            "kind": kind,
            "table_id": parts[4],
            "field_id": parts[6] if kind == "field" else "",
        },
    )


def covered_keys(steps: list[ActionStep], kind: StepKind) -> set[str]:
    """Keys already put back by DONE steps of `kind` (a continued run leaves them out)."""
    covered: set[str] = set()
    for step in steps:
        if step.kind != kind or step.status != StepStatus.DONE:
            continue
        parts = api_parts(step.path)
        if parts[:1] == ["meta"]:
            covered.add(parts[-1])
        elif len(parts) >= 5 and parts[3] == "comments":
            covered.add(parts[4])
        elif step.method == "POST":
            covered.update(str(r.get("id")) for r in step.before or [])
        else:
            covered.update(step.record_ids)
    return covered


# --- comparing with Airtable now -------------------------------------------------------------


def refresh_items(
    items: list[ReverseItem],
    *,
    client: AirtableClient,
    base_id: str,
    schema: BaseSchema,
) -> None:
    """Read what the items look like now: conflicts, and things that are gone.

    Records are read in batches of 100 ids; renames are compared with the fresh schema.
    """
    by_table: dict[str, list[ReverseItem]] = {}
    for item in items:
        if item.effect in ("restore", "delete") and item.table_id:
            by_table.setdefault(item.table_id, []).append(item)
    for table_id, group in by_table.items():
        table = schema.table_by_id(table_id)
        current = read_records_by_id(client, base_id, table_id, [i.key for i in group])
        for item in group:
            record = current.get(item.key)
            item.current = record
            item.missing = record is None
            if record is None:
                continue
            now = record.get("fields") or {}
            expected = dict(item.written)
            if item.effect == "delete":
                # A created record someone filled in since: deleting it loses their values.
                for name in now:
                    if name not in expected and _writable(table, name):
                        expected[name] = None
            item.conflicts = changed_fields(expected, now, table)
    for item in items:
        if item.effect != "rename":
            continue
        table = schema.table_by_id(item.target["table_id"])
        found: Any = table
        if table is not None and item.target["kind"] == "field":
            found = next((f for f in table.fields if f.id == item.target["field_id"]), None)
        if found is None:
            item.missing = True
            continue
        item.current = {"id": found.id, "name": found.name}
        if found.name != item.written.get("name"):
            item.conflicts = ["name"]


@dataclass
class Choice:
    """Which items run, which are skipped (and why), which await the user's choice."""

    run: list[ReverseItem] = field(default_factory=list)
    skipped: list[tuple[ReverseItem, str]] = field(default_factory=list)
    unresolved: list[ReverseItem] = field(default_factory=list)


def choose(
    items: list[ReverseItem], resolutions: dict[str, str] | None, *, ask_conflicts: bool
) -> Choice:
    """Split the items by what will happen to them.

    Args:
        items: Refreshed items.
        resolutions: key -> "overwrite" or "skip", for items with conflicts.
        ask_conflicts: Undo asks about conflicts; rollback (right after a failure) does not.

    Returns:
        The choice.
    """
    choice = Choice()
    resolutions = resolutions or {}
    for item in items:
        if item.effect == "none":
            choice.skipped.append((item, item.note))
        elif item.missing and item.effect == "delete":
            choice.skipped.append((item, f"“{item.label}” was already deleted."))
        elif item.missing:
            choice.skipped.append((item, f"“{item.label}” no longer exists, so it was left alone."))
        elif item.conflicts and ask_conflicts:
            wanted = resolutions.get(item.key)
            if wanted == "overwrite":
                choice.run.append(item)
            elif wanted == "skip":
                changed = ", ".join(item.conflicts)
                choice.skipped.append(
                    (item, f"“{item.label}” kept its newer value ({changed}), as you chose.")
                )
            else:
                choice.unresolved.append(item)
        else:
            choice.run.append(item)
    return choice


# --- writing values back ----------------------------------------------------------------------


def _attachment_ids(value: Any) -> set[str]:
    return {str(a.get("id")) for a in value or [] if isinstance(a, dict) and a.get("id")}


def writable_value(field_type: str | None, value: Any, current: Any = None) -> Any:
    """A remembered cell value in the form Airtable accepts on write.

    Args:
        field_type: The field's type (None when unknown).
        value: The value as Airtable returned it.
        current: The cell now (attachments still present are kept by id).

    Returns:
        The value to send (None clears the cell).
    """
    if is_empty(value):
        return None
    if field_type == "multipleAttachments" and isinstance(value, list):
        present = _attachment_ids(current)
        return [
            {"id": a["id"]}
            if a.get("id") in present
            else {k: a[k] for k in ("url", "filename") if a.get(k)}
            for a in value
            if isinstance(a, dict)
        ]
    if field_type == "singleCollaborator" and isinstance(value, dict):
        return {"id": value["id"]} if value.get("id") else {"email": value.get("email")}
    if field_type == "multipleCollaborators" and isinstance(value, list):
        return [
            {"id": v["id"]} if v.get("id") else {"email": v.get("email")}
            for v in value
            if isinstance(v, dict)
        ]
    return value


@dataclass
class ReversalResult:
    """How a rollback or undo run ended."""

    status: Literal["done", "failed", "cancelled", "unknown"]
    message: str = ""
    notes: list[str] = field(default_factory=list)
    new_ids: dict[str, str] = field(default_factory=dict)


class ReversalRun:
    """Sends the reverse of the chosen items as steps of one kind (COMPENSATE or UNDO)."""

    def __init__(
        self,
        *,
        action: Action,
        writer: StepWriter,
        client: AirtableClient,
        schema: BaseSchema,
        on_progress: ProgressCallback | None,
        verb: str,
    ) -> None:
        assert action.id is not None
        self.action = action
        self.action_id: int = action.id
        self.writer = writer
        self.client = client
        self.schema = schema
        self.base_id = action.base_id
        self.progress = Progress(on_progress, 0, 0, 0)
        self.verb = verb  # "Roll back" / "Undo", for messages
        self.notes: list[str] = []

    # -- orchestration

    def run(self, items: list[ReverseItem]) -> ReversalResult:
        """Send everything; stop at the first failure or Stop."""
        requests = self._requests(items)
        self.progress.total = len(requests)
        self.progress.report()
        for request in requests:
            result = self._send(request)
            if result is not None:
                return result
        repoints = self._repoint_requests()
        self.progress.total += len(repoints)
        for request in repoints:
            result = self._send(request)
            if result is not None:
                return result
        return ReversalResult("done", notes=self.notes, new_ids=self._id_map())

    def _send(self, request: StepRequest) -> ReversalResult | None:
        outcome = self.writer.send(request)
        if outcome.cancelled:
            return ReversalResult(
                "cancelled",
                f"{self.verb} stopped by the user after {self.progress.done} of "
                f"{self.progress.total} batches.",
                notes=self.notes,
            )
        if outcome.error is not None:
            if (
                isinstance(outcome.error, AirtableNotFoundError)
                and "comments" in request.components
            ):
                # Someone deleted the comment already: nothing is left to put back.
                self.writer.update(
                    outcome.step_id, StepStatus.SKIPPED, error="The comment was already deleted."
                )
                self.notes.append("The comment had already been deleted.")
                self.progress.batch_done(0)
                return None
            return ReversalResult(
                "failed",
                f"{self.verb} stopped at batch {self.progress.done + 1} of "
                f"{self.progress.total}: {outcome.error.message} "
                f"{self.progress.done} batches were put back; {self.verb.lower()} again "
                "to finish.",
                notes=self.notes,
            )
        self.progress.batch_done(len(outcome.record_ids))
        return None

    # -- building requests

    def _requests(self, items: list[ReverseItem]) -> list[StepRequest]:
        requests: list[StepRequest] = []
        table_id = self.action.table_id
        table = self.schema.table_by_id(table_id) if table_id else None
        restores = [i for i in items if i.effect == "restore"]
        deletes = [i for i in items if i.effect == "delete"]
        recreates = [i for i in items if i.effect == "recreate"]
        assert table_id is not None or not (restores or deletes or recreates)
        for chunk in chunked(restores, BATCH_SIZE):
            records = [{"id": i.key, "fields": self._restore_fields(i, table)} for i in chunk]
            requests.append(
                StepRequest(
                    "PATCH",
                    [self.base_id, str(table_id)],
                    {"records": records, "typecast": False},
                    [i.key for i in chunk],
                    [i.current for i in chunk if i.current is not None],
                )
            )
        for chunk in chunked(deletes, BATCH_SIZE):
            ids = [i.key for i in chunk]
            requests.append(
                StepRequest(
                    "DELETE",
                    [self.base_id, str(table_id)],
                    {"records": ids},
                    ids,
                    [i.current for i in chunk if i.current is not None],
                )
            )
        if recreates:
            payloads = self._recreate_payloads(recreates, table)
            pairs = list(zip(recreates, payloads, strict=True))
            for group in chunked(pairs, BATCH_SIZE):
                requests.append(
                    StepRequest(
                        "POST",
                        [self.base_id, str(table_id)],
                        {"records": [{"fields": p} for _, p in group], "typecast": False},
                        [],
                        [i.snapshot or {"id": i.key} for i, _ in group],
                    )
                )
        meta = ["meta", "bases", self.base_id, "tables"]
        for item in items:
            if item.effect == "rename":
                components = [*meta, item.target["table_id"]]
                if item.target["kind"] == "field":
                    components += ["fields", item.target["field_id"]]
                requests.append(
                    StepRequest(
                        "PATCH",
                        components,
                        {"name": item.restore["name"]},
                        [],
                        [item.current] if item.current else None,
                    )
                )
            elif item.effect == "delete_comment":
                record_id, comment_id = item.target["record_id"], item.target["comment_id"]
                requests.append(
                    StepRequest(
                        "DELETE",
                        [self.base_id, str(item.table_id), record_id, "comments", comment_id],
                        None,
                        [record_id],
                        [{"id": comment_id, **item.written}],
                    )
                )
        return requests

    def _restore_fields(self, item: ReverseItem, table: TableSchema | None) -> dict[str, Any]:
        current = (item.current or {}).get("fields") or {}
        result: dict[str, Any] = {}
        for name, value in item.restore.items():
            found = table.find_field(name) if table else None
            result[name] = writable_value(found.type if found else None, value, current.get(name))
        return result

    def _recreate_payloads(
        self, items: list[ReverseItem], table: TableSchema | None
    ) -> list[dict[str, Any]]:
        """The fields each deleted record is re-created with (links checked, files decided)."""
        existing = self._existing_link_targets(items, table)
        recreated = {i.key for i in items}
        gone_fields: set[str] = set()
        dropped_links = 0
        lost_files: list[str] = []
        reattached = False
        now = utcnow()
        payloads: list[dict[str, Any]] = []
        for item in items:
            payload: dict[str, Any] = {}
            for name, value in item.restore.items():
                found = table.find_field(name) if table else None
                if table is not None and found is None:
                    gone_fields.add(name)
                    continue
                kind = found.type if found else None
                if found is not None and found.computed:
                    continue
                if kind == "multipleRecordLinks" and isinstance(value, list):
                    # Links among re-created records are added once they have new ids.
                    kept = [v for v in value if v in existing and v not in recreated]
                    dropped_links += sum(
                        1 for v in value if v not in existing and v not in recreated
                    )
                    if kept:
                        payload[name] = kept
                    continue
                if kind == "multipleAttachments":
                    fresh = item.applied_at is not None and now - item.applied_at <= (
                        ATTACHMENT_LINK_LIFETIME
                    )
                    if fresh:
                        payload[name] = writable_value(kind, value)
                        reattached = True
                    else:
                        names = [str(a.get("filename") or "file") for a in value or []]
                        lost_files.append(f"{item.label}: {', '.join(names)}")
                    continue
                written = writable_value(kind, value)
                if written is not None:
                    payload[name] = written
            payloads.append(payload)
        if gone_fields:
            self.notes.append(
                "These fields no longer exist, so their values could not be restored: "
                + ", ".join(sorted(gone_fields))
                + "."
            )
        if dropped_links:
            self.notes.append(
                f"{dropped_links} links pointed at records that no longer exist and were left out."
            )
        if reattached:
            self.notes.append(
                "Files were re-attached from the links Airtable gave when the records were "
                "read; those links expire after a few hours, so check that the files open."
            )
        if lost_files:
            self.notes.append(
                "These files could not be restored (Airtable's links to them have expired): "
                + "; ".join(lost_files)
                + "."
            )
        return payloads

    def _existing_link_targets(
        self, items: list[ReverseItem], table: TableSchema | None
    ) -> set[str]:
        """The linked record ids in the snapshots that still exist (one read per 100 ids)."""
        if table is None:
            return set()
        wanted: dict[str, set[str]] = {}
        for f in table.fields:
            linked = f.linked_table_id
            if linked is None:
                continue
            for item in items:
                value = item.restore.get(f.name)
                if isinstance(value, list):
                    wanted.setdefault(linked, set()).update(str(v) for v in value)
        existing: set[str] = set()
        for linked_table, ids in wanted.items():
            linked_schema = self.schema.table_by_id(linked_table)
            fields = [linked_schema.primary_field.name] if linked_schema else None
            existing.update(
                read_records_by_id(self.client, self.base_id, linked_table, ids, fields=fields)
            )
        return existing

    # -- re-pointing links at re-created records

    def _recreate_steps(self) -> list[ActionStep]:
        return [
            s
            for s in load_steps(self.writer.session_factory, self.action_id)
            if s.kind == self.writer.kind
            and s.status == StepStatus.DONE
            and s.method == "POST"
            and api_parts(s.path)[:1] != ["meta"]
        ]

    def _id_map(self) -> dict[str, str]:
        mapping: dict[str, str] = {}
        for step in self._recreate_steps():
            for old, new in zip(step.before or [], step.after or [], strict=False):
                mapping[str(old.get("id"))] = str(new.get("id"))
        return mapping

    def _repoint_requests(self) -> list[StepRequest]:
        """PATCHes adding the new ids where links pointed at the deleted records."""
        steps = self._recreate_steps()
        if not steps:
            return []
        mapping = self._id_map()
        table_id = str(self.action.table_id)
        table = self.schema.table_by_id(table_id)
        link_names = {f.name for f in table.fields if f.linked_table_id} if table else set()
        # (table id, record id) -> field name -> ids to add
        wanted: dict[tuple[str, str], dict[str, list[str]]] = {}
        for step in steps:
            for snapshot in step.before or []:
                new_id = mapping.get(str(snapshot.get("id")))
                if new_id is None:
                    continue
                for name, value in (snapshot.get("fields") or {}).items():
                    if name in link_names and isinstance(value, list):
                        mapped = [mapping[v] for v in value if v in mapping]
                        if mapped:
                            wanted.setdefault((table_id, new_id), {}).setdefault(name, []).extend(
                                mapped
                            )
                for ref in snapshot.get("linked_from") or []:
                    if ref.get("record_id") in mapping:
                        continue  # itself re-created: its own snapshot carries the link
                    linking = self.schema.table_by_id(str(ref.get("table_id")))
                    found = (
                        next((f for f in linking.fields if f.id == ref.get("field_id")), None)
                        if linking
                        else None
                    )
                    if linking is None or found is None:
                        continue
                    key = (linking.id, str(ref["record_id"]))
                    wanted.setdefault(key, {}).setdefault(found.name, []).append(new_id)
        requests: list[StepRequest] = []
        by_table: dict[str, list[str]] = {}
        for linking_table, record_id in wanted:
            by_table.setdefault(linking_table, []).append(record_id)
        repointed = 0
        for linking_table, record_ids in by_table.items():
            current = read_records_by_id(self.client, self.base_id, linking_table, record_ids)
            updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
            for record_id in record_ids:
                record = current.get(record_id)
                if record is None:
                    continue
                fields: dict[str, Any] = {}
                for name, add in wanted[(linking_table, record_id)].items():
                    present = [str(v) for v in (record.get("fields") or {}).get(name) or []]
                    missing = [a for a in dict.fromkeys(add) if a not in present]
                    if missing:
                        fields[name] = present + missing
                if fields:
                    updates.append((record, {"id": record_id, "fields": fields}))
            repointed += len(updates)
            for chunk in chunked(updates, BATCH_SIZE):
                requests.append(
                    StepRequest(
                        "PATCH",
                        [self.base_id, linking_table],
                        {"records": [u for _, u in chunk], "typecast": False},
                        [u["id"] for _, u in chunk],
                        [r for r, _ in chunk],
                    )
                )
        if repointed:
            self.notes.append(f"Links in {repointed} records were pointed at the new ids.")
        return requests


def resolve_unfinished(
    writer: StepWriter,
    steps: list[ActionStep],
    kind: StepKind,
    *,
    client: AirtableClient,
    schema_cache: schema_module.SchemaCache | None,
    resend_unknown: bool,
    decisions: dict[int, str] | None = None,
) -> Verdict | None:
    """Settle steps of `kind` whose outcome was never recorded, by asking Airtable.

    PENDING steps (a crash between sending and recording) and FAILED ones that got
    no answer are checked: applied ones become DONE, others SKIPPED (PENDING) or
    stay FAILED, and are planned again. A step Airtable cannot settle is settled
    by the user's decision for it (`steps.decide`), if there is one.

    Returns:
        The first verdict that stays unknown (the run must stop; its candidates
        are kept on the step for the user), else None.
    """
    for step in steps:
        if step.kind != kind:
            continue
        if not outcome_unknown(step):
            continue
        known = known_record_ids(steps) | taken_record_ids(writer.session_factory, step)
        verdict = check_step(step, client=client, schema_cache=schema_cache, known_ids=known)
        verdict = decide(verdict, step, decisions=decisions, resend_unknown=resend_unknown)
        assert step.id is not None
        if verdict.status == "unknown":
            writer.remember_candidates(step.id, verdict.candidates)
            return verdict
        by_user = verdict.reason == "user"
        if verdict.status == "applied":
            writer.update(
                step.id,
                StepStatus.DONE,
                error="Marked applied as you chose after an interruption; not sent again."
                if by_user
                else "Found applied in Airtable after an interruption; not sent again.",
                after=verdict.after or None,
                record_ids=verdict.record_ids or step.record_ids,
            )
        elif step.status == StepStatus.PENDING or by_user:
            writer.update(
                step.id,
                StepStatus.SKIPPED,
                error="Left out as you chose: it may have been applied; its records were "
                "left as they are."
                if by_user
                else "Not applied (checked in Airtable after an interruption); planned again.",
            )
    return None


def describe_new_ids(new_ids: dict[str, str]) -> str:
    """ "Airtable gave them new ids: recA → recX, …" for the undo note."""
    pairs = [f"{old} → {new}" for old, new in list(new_ids.items())[:MAX_IDS_IN_NOTE]]
    more = len(new_ids) - len(pairs)
    text = ", ".join(pairs) + (f" and {more} more" if more > 0 else "")
    count = len(new_ids)
    return (
        f"Re-created {count} deleted record{'s' if count != 1 else ''}. Airtable gives "
        f"restored records new ids, so links or bookmarks outside this base that used the "
        f"old ids will not find them: {text}."
    )
