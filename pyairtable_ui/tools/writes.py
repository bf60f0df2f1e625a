"""Write tools: each checks its arguments against the schema and PROPOSES an action.

Nothing here sends a write to Airtable. A write tool resolves table and field
names, refuses what Airtable would refuse (unknown or computed fields, values of
the wrong type, select options that only typecast could add), and stores a plan
(`actions.plan.Plan`) with `actions.service.propose_action`. The model is told plainly that nothing
was written: the user confirms or rejects the action in the app.
"""

from __future__ import annotations

from typing import Any

from pyairtable_ui.actions.plan import (
    CommentOperation,
    CommentPlan,
    CreateFieldOperation,
    CreateTableOperation,
    Plan,
    RecordOp,
    RecordOperation,
    RecordsPlan,
    RenameFieldOperation,
    RenameTableOperation,
    SchemaPlan,
)
from pyairtable_ui.actions.service import propose_action
from pyairtable_ui.airtable import field_types
from pyairtable_ui.airtable.field_types import CREATABLE_TYPES
from pyairtable_ui.airtable.schema import FieldSchema, TableSchema, UnknownFieldError
from pyairtable_ui.tools.arguments import (
    AddCommentArguments,
    CreateFieldArguments,
    CreateRecordsArguments,
    CreateTableArguments,
    DeleteRecordsArguments,
    FieldSpec,
    RenameFieldArguments,
    RenameTableArguments,
    ToolArguments,
    UpdateRecordsArguments,
    UpsertRecordsArguments,
)
from pyairtable_ui.tools.registry import Tool, ToolContext, ToolInputError, ToolResult

MAX_PROBLEMS = 10


class _Problems:
    """Collects what is wrong with the arguments, to report them all at once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def raise_if_any(self, tool: str) -> None:
        if not self.items:
            return
        shown = self.items[:MAX_PROBLEMS]
        more = len(self.items) - len(shown)
        text = f"Nothing was proposed; fix these and call {tool} again:\n" + "\n".join(
            f"- {p}" for p in shown
        )
        if more:
            text += f"\n(+{more} more problems)"
        raise ToolInputError(text)


def _check_value(
    f: FieldSchema,
    value: Any,
    *,
    typecast: bool,
    where: str,
    problems: _Problems,
    new_options: dict[str, list[str]],
) -> None:
    """Add a problem when Airtable would refuse `value` for `f` (or note new options)."""
    problem = field_types.value_problem(f, value, typecast=typecast)
    if problem:
        if f.type == "multipleRecordLinks" and not typecast:
            problem += (
                " Find the ids with search_records on the linked table, or set typecast=true "
                "to link by name."
            )
        problems.add(f"{where}: {problem}")
        return
    choices = f.choices
    for item in field_types.new_options(f, value, typecast=typecast):
        if typecast:
            # Airtable will add it: the preview must show it to the user.
            if item not in new_options.setdefault(f.name, []):
                new_options[f.name].append(item)
            continue
        same = [c for c in choices if c.casefold() == item.casefold()]
        hint = f' Did you mean "{same[0]}"?' if same else ""
        shown = ", ".join(f'"{c}"' for c in choices[:30]) or "none yet"
        problems.add(
            f'{where}: "{item}" is not an option of "{f.name}".{hint} Options: {shown}. '
            "Use an existing option, or set typecast=true to let Airtable add it "
            "(the user sees the new option before confirming)."
        )


def check_fields(
    ctx: ToolContext,
    table: TableSchema,
    fields: dict[str, Any],
    *,
    typecast: bool,
    where: str,
    problems: _Problems,
    new_options: dict[str, list[str]],
) -> dict[str, Any]:
    """The fields keyed by their exact names, with every problem recorded.

    Args:
        ctx: The turn's context (schema refresh on unknown names).
        table: The table written to.
        fields: Field name (any case) or id -> value, as the model sent them.
        typecast: Whether Airtable may convert values and add options.
        where: Position in the arguments, for messages ("records[2].fields").
        problems: Where problems go.
        new_options: Select options typecast would add, by field name.

    Returns:
        Exact field name -> value (fields with problems left out).
    """
    clean: dict[str, Any] = {}
    if not fields:
        problems.add(f"{where}: no fields given.")
    for ref, value in fields.items():
        try:
            f = ctx.resolve_field(table, ref)
        except UnknownFieldError as exc:
            problems.add(f"{where}: {exc.message}")
            continue
        if f.computed:
            problems.add(
                f'{where}: "{f.name}" is a {f.type} field, computed by Airtable; leave it out.'
            )
            continue
        if f.name in clean:
            problems.add(f'{where}: "{f.name}" is given twice.')
            continue
        _check_value(
            f,
            value,
            typecast=typecast,
            where=f"{where}.{f.name}",
            problems=problems,
            new_options=new_options,
        )
        clean[f.name] = value
    return clean


def _propose(
    ctx: ToolContext,
    *,
    tool_name: str,
    table: TableSchema | None,
    arguments: ToolArguments,
    plan: Plan,
    summary: str,
    record_count: int,
    typed: bool,
) -> ToolResult:
    """Store the proposed action and tell the model that nothing was written."""
    base_id = ctx.require_base()
    with ctx.session_factory() as session:
        action = propose_action(
            session=session,
            user_id=ctx.user_id,
            conversation_id=ctx.conversation_id,
            message_id=ctx.message_id,
            tool_name=tool_name,
            base_id=base_id,
            table_id=table.id if table else None,
            table_name=table.name if table else None,
            arguments=arguments.as_sent(),
            plan=plan,
            summary=summary,
            record_count=record_count,
            needs_typed_confirmation=typed,
        )
        action_id = action.id
    text = (
        f"Proposed action #{action_id}: {summary}. Nothing has been written yet: it will run "
        "only after the user confirms it in the app"
    )
    text += " (they must type a confirmation)." if typed else "."
    if isinstance(plan, RecordsPlan) and plan.new_select_options:
        added = "; ".join(
            f"{name}: {', '.join(values)}" for name, values in plan.new_select_options.items()
        )
        text += f" Typecast will add new select options ({added})."
    text += " Tell the user what you proposed and that it waits for their confirmation."
    display = {
        "kind": "proposed_action",
        "action_id": action_id,
        "summary": summary,
        "record_count": record_count,
        "needs_typed_confirmation": typed,
    }
    return ToolResult(text, display=display, action_id=action_id)


def _fields_summary(operations: list[RecordOperation]) -> str:
    names = list(dict.fromkeys(n for o in operations for n in o.fields))
    if not names:
        return ""
    shown = ", ".join(names[:5]) + (f" +{len(names) - 5} more" if len(names) > 5 else "")
    return f" ({shown})"


def _plural(count: int, word: str = "record") -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


# --- record tools -----------------------------------------------------------------


def create_records(ctx: ToolContext, args: CreateRecordsArguments) -> ToolResult:
    """Propose creating records."""
    table = ctx.resolve_table(args.table)
    typecast = args.typecast
    problems = _Problems()
    new_options: dict[str, list[str]] = {}
    operations = [
        RecordOperation(
            op="create",
            fields=check_fields(
                ctx,
                table,
                r.fields,
                typecast=typecast,
                where=f"records[{i}].fields",
                problems=problems,
                new_options=new_options,
            ),
        )
        for i, r in enumerate(args.records)
    ]
    problems.raise_if_any("create_records")
    count = len(operations)
    plan = _record_plan("create", operations, typecast, new_options)
    return _propose(
        ctx,
        tool_name="create_records",
        table=table,
        arguments=args,
        plan=plan,
        summary=f"Create {_plural(count)} in {table.name}{_fields_summary(operations)}",
        record_count=count,
        typed=count > ctx.confirm_threshold,
    )


def update_records(ctx: ToolContext, args: UpdateRecordsArguments) -> ToolResult:
    """Propose updating records (only the fields given change)."""
    table = ctx.resolve_table(args.table)
    typecast = args.typecast
    problems = _Problems()
    new_options: dict[str, list[str]] = {}
    seen: set[str] = set()
    operations: list[RecordOperation] = []
    for i, r in enumerate(args.records):
        if r.id in seen:
            problems.add(f"records[{i}].id: {r.id} appears twice; merge its fields.")
        seen.add(r.id)
        fields = check_fields(
            ctx,
            table,
            r.fields,
            typecast=typecast,
            where=f"records[{i}].fields",
            problems=problems,
            new_options=new_options,
        )
        operations.append(RecordOperation(op="update", record_id=r.id, fields=fields))
    problems.raise_if_any("update_records")
    count = len(operations)
    plan = _record_plan("update", operations, typecast, new_options)
    return _propose(
        ctx,
        tool_name="update_records",
        table=table,
        arguments=args,
        plan=plan,
        summary=f"Update {_plural(count)} in {table.name}{_fields_summary(operations)}",
        record_count=count,
        typed=count > ctx.confirm_threshold,
    )


def upsert_records(ctx: ToolContext, args: UpsertRecordsArguments) -> ToolResult:
    """Propose creating or updating records matched on `fields_to_merge_on`."""
    table = ctx.resolve_table(args.table)
    typecast = args.typecast
    problems = _Problems()
    new_options: dict[str, list[str]] = {}
    merge_on: list[str] = []
    for ref in args.fields_to_merge_on:
        try:
            f = ctx.resolve_field(table, ref)
        except UnknownFieldError as exc:
            problems.add(f"fields_to_merge_on: {exc.message}")
            continue
        if f.computed:
            problems.add(f'fields_to_merge_on: "{f.name}" is computed; merge on a field you write.')
        merge_on.append(f.name)
    operations: list[RecordOperation] = []
    for i, r in enumerate(args.records):
        fields = check_fields(
            ctx,
            table,
            r.fields,
            typecast=typecast,
            where=f"records[{i}].fields",
            problems=problems,
            new_options=new_options,
        )
        missing = [name for name in merge_on if fields.get(name) in (None, "")]
        if missing:
            problems.add(
                f"records[{i}].fields: needs a value for {', '.join(missing)} to match on."
            )
        operations.append(RecordOperation(op="upsert", fields=fields))
    problems.raise_if_any("upsert_records")
    count = len(operations)
    plan = _record_plan("upsert", operations, typecast, new_options, merge_on=merge_on)
    return _propose(
        ctx,
        tool_name="upsert_records",
        table=table,
        arguments=args,
        plan=plan,
        summary=(
            f"Create or update {_plural(count)} in {table.name} matched on "
            f"{', '.join(merge_on)}{_fields_summary(operations)}"
        ),
        record_count=count,
        typed=count > ctx.confirm_threshold,
    )


def delete_records(ctx: ToolContext, args: DeleteRecordsArguments) -> ToolResult:
    """Propose deleting records (always needs a typed confirmation)."""
    table = ctx.resolve_table(args.table)
    ids = list(dict.fromkeys(args.record_ids))
    operations = [RecordOperation(op="delete", record_id=rid) for rid in ids]
    plan = _record_plan("delete", operations, False, {})
    return _propose(
        ctx,
        tool_name="delete_records",
        table=table,
        arguments=args,
        plan=plan,
        summary=f"Delete {_plural(len(ids))} from {table.name}",
        record_count=len(ids),
        typed=True,
    )


def _record_plan(
    op: RecordOp,
    operations: list[RecordOperation],
    typecast: bool,
    new_options: dict[str, list[str]],
    *,
    merge_on: list[str] | None = None,
) -> RecordsPlan:
    return RecordsPlan(
        kind="records",
        op=op,
        typecast=typecast,
        fields_to_merge_on=merge_on,
        operations=operations,
        new_select_options=new_options or None,
    )


# --- schema tools -----------------------------------------------------------------


def field_spec(
    ctx: ToolContext, spec: FieldSpec, *, where: str, problems: _Problems
) -> dict[str, Any]:
    """A field definition as Airtable's create-field API wants it.

    Accepts the model's shorthand (`choices` as names, `linked_table` by name)
    and fills the options Airtable requires for each type.
    """
    name = spec.name.strip()
    kind = spec.type
    if not name:
        problems.add(f"{where}.name: give the field a name.")
    if kind not in CREATABLE_TYPES:
        problems.add(
            f'{where}.type: "{kind}" cannot be created here. Types: {", ".join(CREATABLE_TYPES)}.'
        )
        return {"name": name, "type": kind}
    options = dict(CREATABLE_TYPES[kind] or {})
    options.update(spec.options)
    if kind in ("singleSelect", "multipleSelects"):
        choices = spec.choices or options.get("choices") or []
        options["choices"] = [c if isinstance(c, dict) else {"name": str(c)} for c in choices]
    if kind == "multipleRecordLinks":
        linked = spec.linked_table or options.get("linkedTableId")
        if not linked:
            problems.add(f"{where}.linked_table: a link field needs the table it links to.")
        else:
            try:
                options = {"linkedTableId": ctx.resolve_table(str(linked)).id}
            except LookupError as exc:
                problems.add(f"{where}.linked_table: {exc}")
    result: dict[str, Any] = {"name": name, "type": kind}
    if CREATABLE_TYPES[kind] is not None:
        result["options"] = options
    if spec.description:
        result["description"] = spec.description
    return result


def create_table(ctx: ToolContext, args: CreateTableArguments) -> ToolResult:
    """Propose a new table (the first field is its primary field)."""
    schema = ctx.schema()
    problems = _Problems()
    name = args.name.strip()
    if schema.find_table(name) is not None:
        problems.add(f'name: a table "{name}" exists already.')
    fields = [
        field_spec(ctx, spec, where=f"fields[{i}]", problems=problems)
        for i, spec in enumerate(args.fields)
    ]
    seen: set[str] = set()
    for i, f in enumerate(fields):
        key = f["name"].casefold()
        if key in seen:
            problems.add(f'fields[{i}].name: "{f["name"]}" appears twice.')
        seen.add(key)
    problems.raise_if_any("create_table")
    operation = CreateTableOperation(
        op="create_table",
        name=name,
        fields=fields,
        description=args.description or None,
    )
    plan = SchemaPlan(kind="schema", op="create_table", operations=[operation])
    return _propose(
        ctx,
        tool_name="create_table",
        table=None,
        arguments=args,
        plan=plan,
        summary=f"Create table {name} with {_plural(len(fields), 'field')}",
        record_count=0,
        typed=False,
    )


def create_field(ctx: ToolContext, args: CreateFieldArguments) -> ToolResult:
    """Propose a new field in a table."""
    table = ctx.resolve_table(args.table)
    problems = _Problems()
    spec = field_spec(ctx, args, where="field", problems=problems)
    if table.find_field(spec["name"]) is not None:
        problems.add(f'name: table "{table.name}" already has a field "{spec["name"]}".')
    problems.raise_if_any("create_field")
    plan = SchemaPlan(
        kind="schema",
        op="create_field",
        operations=[CreateFieldOperation(op="create_field", **spec)],
    )
    return _propose(
        ctx,
        tool_name="create_field",
        table=table,
        arguments=args,
        plan=plan,
        summary=f"Add field {spec['name']} ({spec['type']}) to {table.name}",
        record_count=0,
        typed=False,
    )


def rename_table(ctx: ToolContext, args: RenameTableArguments) -> ToolResult:
    """Propose renaming a table."""
    schema = ctx.schema()
    table = ctx.resolve_table(args.table)
    new_name = args.new_name.strip()
    other = schema.find_table(new_name)
    if other is not None and other.id != table.id:
        raise ToolInputError(f'A table "{other.name}" exists already; choose another name.')
    operation = RenameTableOperation(op="rename_table", name=new_name, old_name=table.name)
    plan = SchemaPlan(kind="schema", op="rename_table", operations=[operation])
    return _propose(
        ctx,
        tool_name="rename_table",
        table=table,
        arguments=args,
        plan=plan,
        summary=f"Rename table {table.name} to {new_name}",
        record_count=0,
        typed=False,
    )


def rename_field(ctx: ToolContext, args: RenameFieldArguments) -> ToolResult:
    """Propose renaming a field."""
    table = ctx.resolve_table(args.table)
    f = ctx.resolve_field(table, args.field)
    new_name = args.new_name.strip()
    other = table.find_field(new_name)
    if other is not None and other.id != f.id:
        raise ToolInputError(f'Table "{table.name}" already has a field "{other.name}".')
    operation = RenameFieldOperation(
        op="rename_field", field_id=f.id, name=new_name, old_name=f.name
    )
    plan = SchemaPlan(kind="schema", op="rename_field", operations=[operation])
    return _propose(
        ctx,
        tool_name="rename_field",
        table=table,
        arguments=args,
        plan=plan,
        summary=f"Rename field {f.name} in {table.name} to {new_name}",
        record_count=0,
        typed=False,
    )


def add_comment(ctx: ToolContext, args: AddCommentArguments) -> ToolResult:
    """Propose a comment on a record."""
    table = ctx.resolve_table(args.table)
    text = args.text.strip()
    if not text:
        raise ToolInputError("text: the comment is empty.")
    operation = CommentOperation(op="add_comment", record_id=args.record_id, text=text)
    plan = CommentPlan(kind="comment", op="add_comment", operations=[operation])
    preview = text if len(text) <= 60 else text[:59] + "…"
    return _propose(
        ctx,
        tool_name="add_comment",
        table=table,
        arguments=args,
        plan=plan,
        summary=f'Comment on {args.record_id} in {table.name}: "{preview}"',
        record_count=1,
        typed=False,
    )


# --- tool definitions -------------------------------------------------------------

_PROPOSES = " Proposes an action the user must confirm; nothing is written at once."

WRITE_TOOLS = [
    Tool(
        name="create_records",
        description="Create records." + _PROPOSES,
        arguments=CreateRecordsArguments,
        function=create_records,
        writes=True,
    ),
    Tool(
        name="update_records",
        description="Change fields of records by id (other fields stay)." + _PROPOSES,
        arguments=UpdateRecordsArguments,
        function=update_records,
        writes=True,
    ),
    Tool(
        name="upsert_records",
        description=(
            "Update records whose fields_to_merge_on values match, create the rest." + _PROPOSES
        ),
        arguments=UpsertRecordsArguments,
        function=upsert_records,
        writes=True,
    ),
    Tool(
        name="delete_records",
        description="Delete records by id." + _PROPOSES,
        arguments=DeleteRecordsArguments,
        function=delete_records,
        writes=True,
    ),
    Tool(
        name="create_table",
        description="Create a table; the first field is the primary field." + _PROPOSES,
        arguments=CreateTableArguments,
        function=create_table,
        writes=True,
    ),
    Tool(
        name="create_field",
        description=(
            "Add a field to a table (choices for selects, linked_table for links)." + _PROPOSES
        ),
        arguments=CreateFieldArguments,
        function=create_field,
        writes=True,
    ),
    Tool(
        name="rename_table",
        description="Rename a table." + _PROPOSES,
        arguments=RenameTableArguments,
        function=rename_table,
        writes=True,
    ),
    Tool(
        name="rename_field",
        description="Rename a field." + _PROPOSES,
        arguments=RenameFieldArguments,
        function=rename_field,
        writes=True,
    ),
    Tool(
        name="add_comment",
        description="Comment on a record." + _PROPOSES,
        arguments=AddCommentArguments,
        function=add_comment,
        writes=True,
    ),
]

# The tools whose calls become actions, in the order the model sees them (the history
# page filters by these).
WRITE_TOOL_NAMES: tuple[str, ...] = tuple(tool.name for tool in WRITE_TOOLS)
