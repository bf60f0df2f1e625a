"""The plan of an action: what a write tool asks for, typed, as `Action.plan` stores it.

A write tool builds a `Plan` and `service.propose_action` stores it as JSON
(`plan_json`); everything that reads it back goes through `plan_of` (the plan as
proposed) or `approved_plan_of` (the ticked rows the user approved, each update,
upsert and delete with the old values the user saw in `reviewed`). Three kinds,
told apart by ``kind``::

    {"kind": "records", "op": "create" | "update" | "upsert" | "delete",
     "typecast": bool, "fields_to_merge_on": [...],        # upsert only
     "operations": [{"op": "update", "record_id": "rec…", "fields": {...},
                     "reviewed": {...}}, ...],               # reviewed: once approved
     "new_select_options": {"Status": ["Blocked"]}}          # what typecast would add
    {"kind": "schema", "op": "create_table" | "create_field" | "rename_table"
     | "rename_field", "operations": [{"op": ..., ...request fields...}]}
    {"kind": "comment", "op": "add_comment",
     "operations": [{"op": "add_comment", "record_id": "rec…", "text": "..."}]}

Keys left out of the JSON are the ones without a value (`plan_json` drops
``None``), as the app has always stored them; the hash that proves a plan was
approved is taken over that JSON (`base.plan_hash`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

if TYPE_CHECKING:
    from pyairtable_ui.actions.models import Action

RecordOp = Literal["create", "update", "upsert", "delete"]
SchemaOp = Literal["create_table", "create_field", "rename_table", "rename_field"]


class _Part(BaseModel):
    # A plan is what the user approved: read it, never change it in place.
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReviewedRow(_Part):
    """The preview row an approved operation came from, with the values the user saw.

    Execution compares them with the record read just before the write and leaves
    the row out when they differ (`approval.changed_since_review`).

    Attributes:
        row_id: The preview row (`preview.row_id_for`).
        kind: update, upsert_update, upsert_create or delete.
        label: What the user calls the record.
        record_id: The record (None for an upsert that would create one).
        fields: Field name -> value the user saw (nothing for upsert_create).
    """

    row_id: str
    kind: str
    label: str
    record_id: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class RecordOperation(_Part):
    """One record to create, update, upsert or delete.

    Attributes:
        op: The plan's op.
        record_id: The record an update or delete touches.
        fields: Field name (as the schema spells it) -> value; none for a delete.
        reviewed: Set on approval (see `ReviewedRow`).
    """

    op: RecordOp
    record_id: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict, exclude_if=lambda fields: not fields)
    reviewed: ReviewedRow | None = None

    @model_validator(mode="after")
    def _has_what_its_op_needs(self) -> RecordOperation:
        if self.op in ("update", "delete") and not self.record_id:
            raise ValueError(f"an {self.op} needs the record_id of its record")
        return self

    @property
    def existing_id(self) -> str:
        """The id of the record an update or delete touches (checked when read)."""
        if self.record_id is None:
            raise ValueError(f"a {self.op} operation has no record id")
        return self.record_id


class RecordsPlan(_Part):
    """Records to write, all with the same op, sent in batches of 10."""

    kind: Literal["records"]
    op: RecordOp
    typecast: bool = False
    fields_to_merge_on: list[str] | None = None  # upsert only
    operations: list[RecordOperation]
    # Select options typecast would add, by field: shown to the user before approval.
    new_select_options: dict[str, list[str]] | None = None

    @property
    def merge_fields(self) -> list[str]:
        """The fields an upsert matches records on (empty for other ops)."""
        return list(self.fields_to_merge_on or [])


class CreateTableOperation(_Part):
    """A new table; its first field is the primary field (Airtable's request body)."""

    op: Literal["create_table"]
    name: str
    fields: list[dict[str, Any]]
    description: str | None = None


class CreateFieldOperation(_Part):
    """A new field in the action's table (Airtable's request body)."""

    op: Literal["create_field"]
    name: str
    type: str
    options: dict[str, Any] | None = None
    description: str | None = None


class RenameTableOperation(_Part):
    """The action's table gets a new name (`old_name`: its name when proposed)."""

    op: Literal["rename_table"]
    name: str
    old_name: str | None = None


class RenameFieldOperation(_Part):
    """A field of the action's table gets a new name (`old_name`: its name when proposed)."""

    op: Literal["rename_field"]
    field_id: str
    name: str
    old_name: str | None = None


SchemaOperation = Annotated[
    CreateTableOperation | CreateFieldOperation | RenameTableOperation | RenameFieldOperation,
    Field(discriminator="op"),
]


class SchemaPlan(_Part):
    """One change to the base's tables or fields."""

    kind: Literal["schema"]
    op: SchemaOp
    operations: list[SchemaOperation] = Field(min_length=1)


class CommentOperation(_Part):
    """A comment to add to a record."""

    op: Literal["add_comment"]
    record_id: str
    text: str


class CommentPlan(_Part):
    """One comment on one record."""

    kind: Literal["comment"]
    op: Literal["add_comment"]
    operations: list[CommentOperation] = Field(min_length=1)


Plan = Annotated[RecordsPlan | SchemaPlan | CommentPlan, Field(discriminator="kind")]
"""Any plan; `kind` says which."""

Operation = (
    RecordOperation
    | CreateTableOperation
    | CreateFieldOperation
    | RenameTableOperation
    | RenameFieldOperation
    | CommentOperation
)
"""One operation of any plan (one preview row)."""

_PLAN: TypeAdapter[Plan] = TypeAdapter(Plan)


def parse_plan(data: dict[str, Any]) -> Plan:
    """The plan stored as `data` (JSON as `plan_json` wrote it).

    Raises:
        pydantic.ValidationError: `data` is not a plan.
    """
    return _PLAN.validate_python(data)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as `Action.plan` stores it and approval hashes it (keys without values left out)."""
    return plan.model_dump(mode="json", exclude_none=True)


def plan_of(action: Action) -> Plan:
    """The plan of an action, as the write tool proposed it."""
    return parse_plan(action.plan)


def approved_plan_of(action: Action) -> Plan | None:
    """The plan the user approved (the ticked rows), or None before approval.

    Execution checks its hash first (`execution`); this only reads it.
    """
    return parse_plan(action.approved_plan) if action.approved_plan is not None else None
