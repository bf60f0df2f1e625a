"""Write tools: each checks its arguments against the schema and PROPOSES an action.

Nothing here sends a write to Airtable. A write tool resolves table and field
names, refuses what Airtable would refuse (unknown or computed fields, values of
the wrong type, select options that only typecast could add), and stores a plan
(`actions.plan.Plan`) with `actions.service.propose_action`. The model is told plainly that nothing
was written: the user confirms or rejects the action in the app.

The set-based tools (update_matching_records, delete_matching_records) take
search_records' filters instead of ids, so the model need not page through every
match and write each id back; they resolve the matching ids when they propose and
store the same plan update_records / delete_records would for those ids.
"""

from __future__ import annotations

from typing import Any

from pyairtable_ui.actions.approval import auto_approval_applies, policy_kind
from pyairtable_ui.actions.flows import apply_by_rule
from pyairtable_ui.actions.models import ActionStatus
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
    SchemaOperation,
    SchemaPlan,
)
from pyairtable_ui.actions.service import propose_action
from pyairtable_ui.airtable import field_types
from pyairtable_ui.airtable.field_types import CREATABLE_TYPES
from pyairtable_ui.airtable.schema import FieldSchema, TableSchema, UnknownFieldError
from pyairtable_ui.instance.service import get_auto_approve_policy
from pyairtable_ui.tools.arguments import (
    AddCommentArguments,
    CreateFieldArguments,
    CreateRecordsArguments,
    CreateTableArguments,
    DeleteMatchingArguments,
    DeleteRecordsArguments,
    FieldSpec,
    MatchingArguments,
    RenameFieldArguments,
    RenameTableArguments,
    ToolArguments,
    UpdateMatchingArguments,
    UpdateRecordsArguments,
    UpsertRecordsArguments,
)
from pyairtable_ui.tools.filters import build_formula, describe_filters, value_text
from pyairtable_ui.tools.registry import (
    Tool,
    ToolContext,
    ToolFunction,
    ToolInputError,
    ToolResult,
)

MAX_PROBLEMS = 10
# The most records one set-based write may change: its preview reads and shows each of
# them, and executing 5,000 takes about 100 s at Airtable's 5 requests/s (10 per batch).
MAX_MATCHING_RECORDS = 5000


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
        policy = get_auto_approve_policy(session=session)
        by_rule = action_id is not None and auto_approval_applies(
            policy=policy,
            kind=policy_kind(action),
            record_count=record_count,
            table_id=action.table_id,
            table_name=action.table_name,
            turn_read_record_text=ctx.read_record_text,
            threshold=ctx.confirm_threshold,
        )
    if by_rule and action_id is not None:
        applied = _apply_by_rule(ctx, action_id, summary=summary, record_count=record_count)
        if applied is not None:
            return applied
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


def _apply_by_rule(
    ctx: ToolContext, action_id: int, *, summary: str, record_count: int
) -> ToolResult | None:
    """Run a small write the admin's rule approves; None when it must wait for the user."""
    outcome = apply_by_rule(ctx.user_id, action_id, client=ctx.client, sessions=ctx.session_factory)
    action = outcome.action
    if action is None or action.status == ActionStatus.PREVIEWED.value:
        # Left for the user's review (a row cannot be written as proposed).
        return None
    if action.status == ActionStatus.DONE.value:
        text = (
            f"Action #{action_id}: {summary} was applied automatically by the instance rule "
            "(an admin lets small writes to this table run without a click). It is recorded, "
            "and the user can undo it from its card. Tell the user what was changed."
        )
    else:
        text = (
            f"Action #{action_id}: {summary} was approved by the instance rule but did not "
            f"finish ({action.status}): {outcome.error or action.error or ''}. Tell the user "
            "to open the action's card."
        )
    display = {
        "kind": "proposed_action",
        "action_id": action_id,
        "summary": summary,
        "record_count": record_count,
        "needs_typed_confirmation": False,
        "applied_by_rule": True,
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


class _RecordChecks:
    """What the record tools check their records with, and what the checks found.

    One table and one typecast setting per call; the problems and the select
    options typecast would add are collected across all records, so that the
    model hears every problem at once and the preview shows every new option.
    """

    def __init__(self, ctx: ToolContext, table: TableSchema, *, typecast: bool) -> None:
        self.ctx = ctx
        self.table = table
        self.typecast = typecast
        self.problems = _Problems()
        self.new_options: dict[str, list[str]] = {}

    def fields(self, index: int, fields: dict[str, Any]) -> dict[str, Any]:
        """The fields of `records[index]` by their exact names (see `check_fields`)."""
        return check_fields(
            self.ctx,
            self.table,
            fields,
            typecast=self.typecast,
            where=f"records[{index}].fields",
            problems=self.problems,
            new_options=self.new_options,
        )


def _propose_records(
    checks: _RecordChecks,
    args: ToolArguments,
    *,
    op: RecordOp,
    operations: list[RecordOperation],
    summary: str,
    merge_on: list[str] | None = None,
    tool_name: str | None = None,
) -> ToolResult:
    """Refuse on any problem found, else propose the records plan of tool `{op}_records`.

    A delete always needs a typed confirmation; other writes need one above the
    instance's threshold of records. The set-based tools name themselves (`tool_name`)
    but build the very same plan, so preview, approval, undo and history treat them alike.
    """
    tool_name = tool_name or f"{op}_records"
    checks.problems.raise_if_any(tool_name)
    ctx = checks.ctx
    count = len(operations)
    plan = RecordsPlan(
        kind="records",
        op=op,
        typecast=checks.typecast,
        fields_to_merge_on=merge_on,
        operations=operations,
        new_select_options=checks.new_options or None,
    )
    return _propose(
        ctx,
        tool_name=tool_name,
        table=checks.table,
        arguments=args,
        plan=plan,
        summary=summary,
        record_count=count,
        typed=op == "delete" or count > ctx.confirm_threshold,
    )


def create_records(ctx: ToolContext, args: CreateRecordsArguments) -> ToolResult:
    """Propose creating records."""
    table = ctx.resolve_table(args.table)
    checks = _RecordChecks(ctx, table, typecast=args.typecast)
    operations = [
        RecordOperation(op="create", fields=checks.fields(i, r.fields))
        for i, r in enumerate(args.records)
    ]
    summary = f"Create {_plural(len(operations))} in {table.name}{_fields_summary(operations)}"
    return _propose_records(checks, args, op="create", operations=operations, summary=summary)


def update_records(ctx: ToolContext, args: UpdateRecordsArguments) -> ToolResult:
    """Propose updating records (only the fields given change)."""
    table = ctx.resolve_table(args.table)
    checks = _RecordChecks(ctx, table, typecast=args.typecast)
    seen: set[str] = set()
    operations: list[RecordOperation] = []
    for i, r in enumerate(args.records):
        if r.id in seen:
            checks.problems.add(f"records[{i}].id: {r.id} appears twice; merge its fields.")
        seen.add(r.id)
        fields = checks.fields(i, r.fields)
        operations.append(RecordOperation(op="update", record_id=r.id, fields=fields))
    summary = f"Update {_plural(len(operations))} in {table.name}{_fields_summary(operations)}"
    return _propose_records(checks, args, op="update", operations=operations, summary=summary)


def upsert_records(ctx: ToolContext, args: UpsertRecordsArguments) -> ToolResult:
    """Propose creating or updating records matched on `fields_to_merge_on`."""
    table = ctx.resolve_table(args.table)
    checks = _RecordChecks(ctx, table, typecast=args.typecast)
    problems = checks.problems
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
        fields = checks.fields(i, r.fields)
        missing = [name for name in merge_on if fields.get(name) in (None, "")]
        if missing:
            problems.add(
                f"records[{i}].fields: needs a value for {', '.join(missing)} to match on."
            )
        operations.append(RecordOperation(op="upsert", fields=fields))
    return _propose_records(
        checks,
        args,
        op="upsert",
        operations=operations,
        summary=(
            f"Create or update {_plural(len(operations))} in {table.name} matched on "
            f"{', '.join(merge_on)}{_fields_summary(operations)}"
        ),
        merge_on=merge_on,
    )


def delete_records(ctx: ToolContext, args: DeleteRecordsArguments) -> ToolResult:
    """Propose deleting records (always needs a typed confirmation)."""
    table = ctx.resolve_table(args.table)
    ids = list(dict.fromkeys(args.record_ids))
    return _propose_records(
        _RecordChecks(ctx, table, typecast=False),
        args,
        op="delete",
        operations=[RecordOperation(op="delete", record_id=rid) for rid in ids],
        summary=f"Delete {_plural(len(ids))} from {table.name}",
    )


# --- set-based record tools --------------------------------------------------------


def _matching_ids(ctx: ToolContext, table: TableSchema, args: MatchingArguments) -> list[str]:
    """The ids of every record matching `args.filters`, in Airtable's order.

    Resolved now, at proposal time: the plan lists these ids, so the user reviews
    (and the plan hash pins) exactly this set, and a record that starts matching later
    is not written. Reads only the primary field, 100 records per paced request.

    Raises:
        ToolInputError: More than `MAX_MATCHING_RECORDS` match.
    """
    formula = build_formula(
        table,
        args.filters,
        match=args.match,
        resolve_field=lambda ref: ctx.resolve_field(table, ref),
    )
    if formula is None:  # the arguments require a filter: never the whole table by accident
        raise ToolInputError("filters: give at least one condition.")
    ids: list[str] = []
    for page in ctx.client.iterate_records(
        ctx.require_base(),
        table.id,
        formula=str(formula),
        fields=[table.primary_field.name],
    ):
        ids.extend(str(r["id"]) for r in page)
        if len(ids) > MAX_MATCHING_RECORDS:
            raise ToolInputError(
                f"More than {MAX_MATCHING_RECORDS:,} records in {table.name} match; one action "
                f"changes at most {MAX_MATCHING_RECORDS:,}. Nothing was proposed. Narrow the "
                "filters (for example split by a date range or a select value) and call again."
            )
    return ids


def _condition(ctx: ToolContext, table: TableSchema, args: MatchingArguments) -> str:
    return describe_filters(
        table,
        args.filters,
        match=args.match,
        resolve_field=lambda ref: ctx.resolve_field(table, ref),
    )


def _no_match(table: TableSchema, condition: str) -> ToolResult:
    return ToolResult(
        f"No records in {table.name} match (where {condition}). Nothing was proposed; "
        "tell the user, or check the filters with search_records."
    )


def update_matching_records(ctx: ToolContext, args: UpdateMatchingArguments) -> ToolResult:
    """Propose setting the same fields on every record matching the filters.

    The values are checked before any record is read; the plan is update_records'
    plan for the matching ids, so the review lists every row with its before/after.
    """
    tool_name = "update_matching_records"
    table = ctx.resolve_table(args.table)
    checks = _RecordChecks(ctx, table, typecast=args.typecast)
    fields = check_fields(
        ctx,
        table,
        args.fields,
        typecast=args.typecast,
        where="fields",
        problems=checks.problems,
        new_options=checks.new_options,
    )
    checks.problems.raise_if_any(tool_name)
    condition = _condition(ctx, table, args)
    ids = _matching_ids(ctx, table, args)
    if not ids:
        return _no_match(table, condition)
    operations = [RecordOperation(op="update", record_id=rid, fields=dict(fields)) for rid in ids]
    changes = ", ".join(f"{name} to {value_text(value)}" for name, value in fields.items())
    summary = f"Set {changes} on {_plural(len(ids))} in {table.name} where {condition}"
    return _propose_records(
        checks, args, op="update", operations=operations, summary=summary, tool_name=tool_name
    )


def delete_matching_records(ctx: ToolContext, args: DeleteMatchingArguments) -> ToolResult:
    """Propose deleting every record matching the filters (a typed confirmation, as always)."""
    table = ctx.resolve_table(args.table)
    condition = _condition(ctx, table, args)
    ids = _matching_ids(ctx, table, args)
    if not ids:
        return _no_match(table, condition)
    return _propose_records(
        _RecordChecks(ctx, table, typecast=False),
        args,
        op="delete",
        operations=[RecordOperation(op="delete", record_id=rid) for rid in ids],
        summary=f"Delete {_plural(len(ids))} from {table.name} where {condition}",
        tool_name="delete_matching_records",
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


def _propose_schema(
    ctx: ToolContext,
    args: ToolArguments,
    *,
    table: TableSchema | None,
    operation: SchemaOperation,
    summary: str,
) -> ToolResult:
    """Propose a one-operation schema plan; the operation's op names its tool."""
    plan = SchemaPlan(kind="schema", op=operation.op, operations=[operation])
    return _propose(
        ctx,
        tool_name=operation.op,
        table=table,
        arguments=args,
        plan=plan,
        summary=summary,
        record_count=0,
        typed=False,
    )


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
    return _propose_schema(
        ctx,
        args,
        table=None,
        operation=operation,
        summary=f"Create table {name} with {_plural(len(fields), 'field')}",
    )


def create_field(ctx: ToolContext, args: CreateFieldArguments) -> ToolResult:
    """Propose a new field in a table."""
    table = ctx.resolve_table(args.table)
    problems = _Problems()
    spec = field_spec(ctx, args, where="field", problems=problems)
    if table.find_field(spec["name"]) is not None:
        problems.add(f'name: table "{table.name}" already has a field "{spec["name"]}".')
    problems.raise_if_any("create_field")
    return _propose_schema(
        ctx,
        args,
        table=table,
        operation=CreateFieldOperation(op="create_field", **spec),
        summary=f"Add field {spec['name']} ({spec['type']}) to {table.name}",
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
    return _propose_schema(
        ctx,
        args,
        table=table,
        operation=operation,
        summary=f"Rename table {table.name} to {new_name}",
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
    return _propose_schema(
        ctx,
        args,
        table=table,
        operation=operation,
        summary=f"Rename field {f.name} in {table.name} to {new_name}",
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


def _write_tool(
    name: str, description: str, arguments: type[ToolArguments], function: ToolFunction
) -> Tool:
    """A tool that proposes an action: the registry and the model both learn that it writes."""
    return Tool(
        name=name,
        description=description + _PROPOSES,
        arguments=arguments,
        function=function,
        writes=True,
    )


WRITE_TOOLS = [
    _write_tool("create_records", "Create records.", CreateRecordsArguments, create_records),
    _write_tool(
        "update_records",
        "Change fields of records by id (other fields stay).",
        UpdateRecordsArguments,
        update_records,
    ),
    _write_tool(
        "upsert_records",
        "Update records whose fields_to_merge_on values match, create the rest.",
        UpsertRecordsArguments,
        upsert_records,
    ),
    _write_tool("delete_records", "Delete records by id.", DeleteRecordsArguments, delete_records),
    _write_tool(
        "update_matching_records",
        "Set the same fields on every record matching filters (instead of paging for ids).",
        UpdateMatchingArguments,
        update_matching_records,
    ),
    _write_tool(
        "delete_matching_records",
        "Delete every record matching filters (instead of paging for ids).",
        DeleteMatchingArguments,
        delete_matching_records,
    ),
    _write_tool(
        "create_table",
        "Create a table; the first field is the primary field.",
        CreateTableArguments,
        create_table,
    ),
    _write_tool(
        "create_field",
        "Add a field to a table (choices for selects, linked_table for links).",
        CreateFieldArguments,
        create_field,
    ),
    _write_tool("rename_table", "Rename a table.", RenameTableArguments, rename_table),
    _write_tool("rename_field", "Rename a field.", RenameFieldArguments, rename_field),
    _write_tool("add_comment", "Comment on a record.", AddCommentArguments, add_comment),
]

# The tools whose calls become actions, in the order the model sees them (the history
# page filters by these).
WRITE_TOOL_NAMES: tuple[str, ...] = tuple(tool.name for tool in WRITE_TOOLS)
